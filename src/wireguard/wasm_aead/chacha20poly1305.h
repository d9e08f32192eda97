/*
 * ChaCha20-Poly1305 (RFC 8439) for a little-endian freestanding target (wasm32). Pure functions:
 * no globals, no allocation, no libc, so the same source links into any module (the standalone
 * AEAD module here, or the netstack glue, to work in place in the memory lwIP reads).
 *
 * Keys are eight 32-bit words (the 32-byte key read little-endian); nonces are three words
 * (RFC 8439 §2.3: constant || IV; WireGuard's is 0, LE64(counter) low, high).
 */
#ifndef NEWT_CHACHA20POLY1305_H
#define NEWT_CHACHA20POLY1305_H

#include <stddef.h>
#include <stdint.h>

/* Length of the Poly1305 tag. */
#define AEAD_TAG_BYTES 16

/* RFC 8439 §2.3: one 64-byte keystream block. */
void chacha20_block(const uint32_t key[8], uint32_t counter, const uint32_t nonce[3],
                    uint8_t out[64]);

/* RFC 8439 §2.4: XORs the keystream starting at block `counter` into p[0..len) in place. */
void chacha20_xor(const uint32_t key[8], uint32_t counter, const uint32_t nonce[3], uint8_t *p,
                  size_t len);

/* RFC 8439 §2.5: the one-time authenticator of m[0..len) under a 32-byte key. */
void poly1305_mac(const uint8_t key[32], const uint8_t *m, size_t len, uint8_t tag[16]);

/* RFC 8439 §2.8: encrypts p[0..len) in place and writes the tag at p + len. */
void aead_seal(const uint32_t key[8], const uint32_t nonce[3], uint8_t *p, size_t len,
               const uint8_t *ad, size_t ad_len);

/*
 * RFC 8439 §2.8: checks the tag at p + len over ad and p[0..len) (constant-time compare); on
 * success decrypts p[0..len) in place and returns 1, else returns 0 and leaves p untouched.
 */
int aead_open(const uint32_t key[8], const uint32_t nonce[3], uint8_t *p, size_t len,
              const uint8_t *ad, size_t ad_len);

#endif
