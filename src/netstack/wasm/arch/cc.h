/*
 * lwIP port for @newt/proxy: wasm32, little-endian, no OS.
 * Types come from the freestanding <stdint.h>; diagnostics and assertions go to JS imports.
 */
#ifndef NEWT_ARCH_CC_H
#define NEWT_ARCH_CC_H

#include <stddef.h>
#include <stdint.h>

#define BYTE_ORDER LITTLE_ENDIAN

/* Byte swaps compile to a few wasm instructions instead of lwIP's generic C. */
#define lwip_htons(x) ((u16_t)__builtin_bswap16((u16_t)(x)))
#define lwip_htonl(x) ((u32_t)__builtin_bswap32((u32_t)(x)))

#define LWIP_NO_CTYPE_H 1
#define LWIP_NO_LIMITS_H 0
#define LWIP_NO_INTTYPES_H 1
#define X8_F "02x"
#define U16_F "u"
#define S16_F "d"
#define X16_F "x"
#define U32_F "u"
#define S32_F "d"
#define X32_F "x"
#define SZT_F "zu"

/* Diagnostics are compiled out (LWIP_DEBUG is off); an assertion ends the module via JS. */
void newt_assert_failed(const char *msg, int line);
#define LWIP_PLATFORM_DIAG(x) do { } while (0)
#define LWIP_PLATFORM_ASSERT(x) newt_assert_failed((x), __LINE__)

/* Random numbers for ports and IP ids: a keyed hash of a counter, seeded from JS. */
unsigned int newt_rand(void);
#define LWIP_RAND() ((u32_t)newt_rand())

#endif /* NEWT_ARCH_CC_H */
