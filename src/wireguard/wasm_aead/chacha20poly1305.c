/*
 * ChaCha20-Poly1305 as RFC 8439 specifies it, written for wasm32 (little-endian, i64 multiply).
 *
 * - ChaCha20 (§2.3, §2.4): with -msimd128, four blocks at once, one state word per v128 lane
 *   ("vertical" layout), transposed on output; without it, the plain one-block RFC code.
 * - Poly1305 (§2.5): 26-bit limbs with 32x32->64 products (poly1305-donna-32's arrangement),
 *   which wasm's i64.mul does natively.
 * - AEAD (§2.8): the Poly1305 key is block 0 of the same keystream, data starts at block 1;
 *   the SIMD path computes blocks 0..3 together and uses 1..3 for the first 192 data bytes.
 */
#include "chacha20poly1305.h"

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

#define INLINE static inline __attribute__((always_inline))

INLINE uint32_t load32(const uint8_t *p) {
  uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

INLINE void store32(uint8_t *p, uint32_t v) { __builtin_memcpy(p, &v, 4); }

INLINE uint32_t rotl32(uint32_t v, int n) { return (v << n) | (v >> (32 - n)); }

/* "expand 32-byte k" (§2.3) */
#define SIGMA0 0x61707865u
#define SIGMA1 0x3320646eu
#define SIGMA2 0x79622d32u
#define SIGMA3 0x6b206574u

/* ---------------------------------------------------------------- ChaCha20, one block (§2.3) */

#define QR(a, b, c, d)                                                                          \
  a += b; d = rotl32(d ^ a, 16);                                                                \
  c += d; b = rotl32(b ^ c, 12);                                                                \
  a += b; d = rotl32(d ^ a, 8);                                                                 \
  c += d; b = rotl32(b ^ c, 7);

void chacha20_block(const uint32_t key[8], uint32_t counter, const uint32_t nonce[3],
                    uint8_t out[64]) {
  uint32_t in[16] = {SIGMA0, SIGMA1, SIGMA2,   SIGMA3,   key[0],   key[1],   key[2], key[3],
                     key[4], key[5], key[6],   key[7],   counter,  nonce[0], nonce[1], nonce[2]};
  uint32_t x[16];
  for (int i = 0; i < 16; i++) x[i] = in[i];
  for (int i = 0; i < 10; i++) {
    QR(x[0], x[4], x[8], x[12]);
    QR(x[1], x[5], x[9], x[13]);
    QR(x[2], x[6], x[10], x[14]);
    QR(x[3], x[7], x[11], x[15]);
    QR(x[0], x[5], x[10], x[15]);
    QR(x[1], x[6], x[11], x[12]);
    QR(x[2], x[7], x[8], x[13]);
    QR(x[3], x[4], x[9], x[14]);
  }
  for (int i = 0; i < 16; i++) store32(out + 4 * i, x[i] + in[i]);
}

INLINE void xor_bytes(uint8_t *p, const uint8_t *ks, size_t len) {
  for (size_t i = 0; i < len; i++) p[i] ^= ks[i];
}

#ifdef __wasm_simd128__
/* ------------------------------------------------------- ChaCha20, four blocks in v128 lanes */

#define VADD wasm_i32x4_add
#define VXOR wasm_v128_xor
#define VROT(v, n) wasm_v128_or(wasm_i32x4_shl(v, n), wasm_u32x4_shr(v, 32 - n))
/*
 * Rotations by whole bytes are byte shuffles: Deno 2.9.6's V8 compiles them to one pshufb where
 * the shifts take three instructions (ChaCha20 over 1,420 bytes: 0.97 against 1.09 µs; an older
 * V8 rebuilt the shuffle mask each time and the shifts won).
 */
#define VROT16(v) wasm_i8x16_shuffle(v, v, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13)
#define VROT8(v) wasm_i8x16_shuffle(v, v, 3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14)

#define VQR(a, b, c, d)                                                                         \
  a = VADD(a, b); d = VROT16(VXOR(d, a));                                                       \
  c = VADD(c, d); b = VROT(VXOR(b, c), 12);                                                     \
  a = VADD(a, b); d = VROT8(VXOR(d, a));                                                        \
  c = VADD(c, d); b = VROT(VXOR(b, c), 7);

/* Blocks counter..counter+3: x[i] lane j = word i of block j, after the final addition. */
INLINE void chacha4(const uint32_t key[8], uint32_t counter, const uint32_t nonce[3],
                    v128_t x[16]) {
  v128_t in[16];
  in[0] = wasm_i32x4_splat((int32_t)SIGMA0);
  in[1] = wasm_i32x4_splat((int32_t)SIGMA1);
  in[2] = wasm_i32x4_splat((int32_t)SIGMA2);
  in[3] = wasm_i32x4_splat((int32_t)SIGMA3);
  for (int i = 0; i < 8; i++) in[4 + i] = wasm_i32x4_splat((int32_t)key[i]);
  in[12] = wasm_i32x4_add(wasm_i32x4_splat((int32_t)counter), wasm_i32x4_make(0, 1, 2, 3));
  in[13] = wasm_i32x4_splat((int32_t)nonce[0]);
  in[14] = wasm_i32x4_splat((int32_t)nonce[1]);
  in[15] = wasm_i32x4_splat((int32_t)nonce[2]);
  for (int i = 0; i < 16; i++) x[i] = in[i];
  for (int i = 0; i < 10; i++) {
    VQR(x[0], x[4], x[8], x[12]);
    VQR(x[1], x[5], x[9], x[13]);
    VQR(x[2], x[6], x[10], x[14]);
    VQR(x[3], x[7], x[11], x[15]);
    VQR(x[0], x[5], x[10], x[15]);
    VQR(x[1], x[6], x[11], x[12]);
    VQR(x[2], x[7], x[8], x[13]);
    VQR(x[3], x[4], x[9], x[14]);
  }
  for (int i = 0; i < 16; i++) x[i] = VADD(x[i], in[i]);
}

/*
 * Transposes words 4g..4g+3 of the four blocks and XORs them into the 16 bytes at offset 16g of
 * each block (or stores them when p is the keystream buffer and xor is 0).
 */
INLINE void out4(const v128_t x[16], int g, uint8_t *p, int xor) {
  v128_t a = x[4 * g], b = x[4 * g + 1], c = x[4 * g + 2], d = x[4 * g + 3];
  v128_t t0 = wasm_i32x4_shuffle(a, b, 0, 4, 1, 5);
  v128_t t1 = wasm_i32x4_shuffle(c, d, 0, 4, 1, 5);
  v128_t t2 = wasm_i32x4_shuffle(a, b, 2, 6, 3, 7);
  v128_t t3 = wasm_i32x4_shuffle(c, d, 2, 6, 3, 7);
  v128_t o[4] = {wasm_i64x2_shuffle(t0, t1, 0, 2), wasm_i64x2_shuffle(t0, t1, 1, 3),
                 wasm_i64x2_shuffle(t2, t3, 0, 2), wasm_i64x2_shuffle(t2, t3, 1, 3)};
  for (int j = 0; j < 4; j++) {
    uint8_t *q = p + 64 * j + 16 * g;
    wasm_v128_store(q, xor ? VXOR(wasm_v128_load(q), o[j]) : o[j]);
  }
}

INLINE void chacha4_xor(const uint32_t key[8], uint32_t counter, const uint32_t nonce[3],
                        uint8_t *p) {
  v128_t x[16];
  chacha4(key, counter, nonce, x);
  for (int g = 0; g < 4; g++) out4(x, g, p, 1);
}

INLINE void chacha4_keystream(const uint32_t key[8], uint32_t counter, const uint32_t nonce[3],
                              uint8_t ks[256]) {
  v128_t x[16];
  chacha4(key, counter, nonce, x);
  for (int g = 0; g < 4; g++) out4(x, g, ks, 0);
}

void chacha20_xor(const uint32_t key[8], uint32_t counter, const uint32_t nonce[3], uint8_t *p,
                  size_t len) {
  for (; len >= 256; len -= 256, p += 256, counter += 4) chacha4_xor(key, counter, nonce, p);
  if (len > 0) {
    uint8_t ks[256] __attribute__((aligned(16)));
    chacha4_keystream(key, counter, nonce, ks);
    size_t i = 0;
    for (; i + 16 <= len; i += 16)
      wasm_v128_store(p + i, VXOR(wasm_v128_load(p + i), wasm_v128_load(ks + i)));
    xor_bytes(p + i, ks + i, len - i);
  }
}

/* Block 0 (the Poly1305 key, first 32 bytes) and the keystream of blocks 1..3 (192 bytes). */
#define FIRST_DATA_BYTES 192
INLINE void first_blocks(const uint32_t key[8], const uint32_t nonce[3], uint8_t ks[256]) {
  chacha4_keystream(key, 0, nonce, ks);
}

INLINE void xor_first(uint8_t *p, const uint8_t *ks, size_t len) {
  size_t i = 0;
  for (; i + 16 <= len; i += 16)
    wasm_v128_store(p + i, VXOR(wasm_v128_load(p + i), wasm_v128_load(ks + i)));
  xor_bytes(p + i, ks + i, len - i);
}

#else
/* ----------------------------------------------------------------- ChaCha20, scalar (§2.4) */

void chacha20_xor(const uint32_t key[8], uint32_t counter, const uint32_t nonce[3], uint8_t *p,
                  size_t len) {
  uint8_t ks[64];
  while (len > 0) {
    size_t n = len < 64 ? len : 64;
    chacha20_block(key, counter++, nonce, ks);
    xor_bytes(p, ks, n);
    p += n;
    len -= n;
  }
}

#define FIRST_DATA_BYTES 0
INLINE void first_blocks(const uint32_t key[8], const uint32_t nonce[3], uint8_t ks[64]) {
  chacha20_block(key, 0, nonce, ks);
}

INLINE void xor_first(uint8_t *p, const uint8_t *ks, size_t len) {
  (void)p, (void)ks, (void)len;
}
#endif

/* ------------------------------------------------------------------------ Poly1305 (§2.5) */

typedef struct {
  uint32_t r[5]; /* r, clamped, in 26-bit limbs */
  uint32_t h[5]; /* accumulator, 26-bit limbs (partially reduced) */
  uint32_t pad[4]; /* s, the second half of the key */
} poly1305_state;

#define M26 0x3ffffffu

INLINE void poly_init(poly1305_state *st, const uint8_t key[32]) {
  /* r &= 0x0ffffffc0ffffffc0ffffffc0fffffff, split into 26-bit limbs */
  st->r[0] = load32(key + 0) & 0x3ffffff;
  st->r[1] = (load32(key + 3) >> 2) & 0x3ffff03;
  st->r[2] = (load32(key + 6) >> 4) & 0x3ffc0ff;
  st->r[3] = (load32(key + 9) >> 6) & 0x3f03fff;
  st->r[4] = (load32(key + 12) >> 8) & 0x00fffff;
  for (int i = 0; i < 5; i++) st->h[i] = 0;
  for (int i = 0; i < 4; i++) st->pad[i] = load32(key + 16 + 4 * i);
}

/* h = (h + m_i + hibit * 2^128) * r mod 2^130 - 5 for each 16-byte block m_i. */
static void poly_blocks(poly1305_state *st, const uint8_t *m, size_t blocks, uint32_t hibit) {
  const uint32_t r0 = st->r[0], r1 = st->r[1], r2 = st->r[2], r3 = st->r[3], r4 = st->r[4];
  const uint32_t s1 = r1 * 5, s2 = r2 * 5, s3 = r3 * 5, s4 = r4 * 5;
  uint32_t h0 = st->h[0], h1 = st->h[1], h2 = st->h[2], h3 = st->h[3], h4 = st->h[4];
  for (; blocks > 0; blocks--, m += 16) {
    h0 += load32(m + 0) & M26;
    h1 += (load32(m + 3) >> 2) & M26;
    h2 += (load32(m + 6) >> 4) & M26;
    h3 += (load32(m + 9) >> 6) & M26;
    h4 += (load32(m + 12) >> 8) | hibit;

    uint64_t d0 = (uint64_t)h0 * r0 + (uint64_t)h1 * s4 + (uint64_t)h2 * s3 +
                  (uint64_t)h3 * s2 + (uint64_t)h4 * s1;
    uint64_t d1 = (uint64_t)h0 * r1 + (uint64_t)h1 * r0 + (uint64_t)h2 * s4 +
                  (uint64_t)h3 * s3 + (uint64_t)h4 * s2;
    uint64_t d2 = (uint64_t)h0 * r2 + (uint64_t)h1 * r1 + (uint64_t)h2 * r0 +
                  (uint64_t)h3 * s4 + (uint64_t)h4 * s3;
    uint64_t d3 = (uint64_t)h0 * r3 + (uint64_t)h1 * r2 + (uint64_t)h2 * r1 +
                  (uint64_t)h3 * r0 + (uint64_t)h4 * s4;
    uint64_t d4 = (uint64_t)h0 * r4 + (uint64_t)h1 * r3 + (uint64_t)h2 * r2 +
                  (uint64_t)h3 * r1 + (uint64_t)h4 * r0;

    uint32_t c;
    c = (uint32_t)(d0 >> 26); h0 = (uint32_t)d0 & M26;
    d1 += c; c = (uint32_t)(d1 >> 26); h1 = (uint32_t)d1 & M26;
    d2 += c; c = (uint32_t)(d2 >> 26); h2 = (uint32_t)d2 & M26;
    d3 += c; c = (uint32_t)(d3 >> 26); h3 = (uint32_t)d3 & M26;
    d4 += c; c = (uint32_t)(d4 >> 26); h4 = (uint32_t)d4 & M26;
    h0 += c * 5; c = h0 >> 26; h0 &= M26;
    h1 += c;
  }
  st->h[0] = h0, st->h[1] = h1, st->h[2] = h2, st->h[3] = h3, st->h[4] = h4;
}

/* tag = ((h mod 2^130 - 5) + s) mod 2^128, with the final reduction in constant time. */
static void poly_finish(poly1305_state *st, uint8_t tag[16]) {
  uint32_t h0 = st->h[0], h1 = st->h[1], h2 = st->h[2], h3 = st->h[3], h4 = st->h[4], c;
  c = h1 >> 26; h1 &= M26;
  h2 += c; c = h2 >> 26; h2 &= M26;
  h3 += c; c = h3 >> 26; h3 &= M26;
  h4 += c; c = h4 >> 26; h4 &= M26;
  h0 += c * 5; c = h0 >> 26; h0 &= M26;
  h1 += c;

  /* g = h + 5 - 2^130; use g when it does not underflow (h >= p) */
  uint32_t g0 = h0 + 5; c = g0 >> 26; g0 &= M26;
  uint32_t g1 = h1 + c; c = g1 >> 26; g1 &= M26;
  uint32_t g2 = h2 + c; c = g2 >> 26; g2 &= M26;
  uint32_t g3 = h3 + c; c = g3 >> 26; g3 &= M26;
  uint32_t g4 = h4 + c - (1u << 26);
  uint32_t use_g = (g4 >> 31) - 1; /* all ones when g4 did not borrow */
  h0 = (h0 & ~use_g) | (g0 & use_g);
  h1 = (h1 & ~use_g) | (g1 & use_g);
  h2 = (h2 & ~use_g) | (g2 & use_g);
  h3 = (h3 & ~use_g) | (g3 & use_g);
  h4 = (h4 & ~use_g) | (g4 & use_g);

  /* to 32-bit words, then + s */
  uint32_t w0 = h0 | (h1 << 26);
  uint32_t w1 = (h1 >> 6) | (h2 << 20);
  uint32_t w2 = (h2 >> 12) | (h3 << 14);
  uint32_t w3 = (h3 >> 18) | (h4 << 8);
  uint64_t f;
  f = (uint64_t)w0 + st->pad[0]; store32(tag + 0, (uint32_t)f);
  f = (uint64_t)w1 + st->pad[1] + (f >> 32); store32(tag + 4, (uint32_t)f);
  f = (uint64_t)w2 + st->pad[2] + (f >> 32); store32(tag + 8, (uint32_t)f);
  f = (uint64_t)w3 + st->pad[3] + (f >> 32); store32(tag + 12, (uint32_t)f);
}

void poly1305_mac(const uint8_t key[32], const uint8_t *m, size_t len, uint8_t tag[16]) {
  poly1305_state st;
  poly_init(&st, key);
  poly_blocks(&st, m, len / 16, 1u << 24);
  size_t rest = len % 16;
  if (rest > 0) {
    /* last partial block: the bytes, then 0x01, then zeros; no 2^128 bit */
    uint8_t last[16] = {0};
    __builtin_memcpy(last, m + len - rest, rest);
    last[rest] = 1;
    poly_blocks(&st, last, 1, 0);
  }
  poly_finish(&st, tag);
}

/* ---------------------------------------------------------------------------- AEAD (§2.8) */

/* mac_data = AAD || pad16 || ciphertext || pad16 || LE64(len AAD) || LE64(len ciphertext) */
static void aead_tag(const uint8_t poly_key[32], const uint8_t *ad, size_t ad_len,
                     const uint8_t *ct, size_t ct_len, uint8_t tag[16]) {
  poly1305_state st;
  poly_init(&st, poly_key);
  uint8_t block[16];
  const uint8_t *parts[2] = {ad, ct};
  const size_t lens[2] = {ad_len, ct_len};
  for (int i = 0; i < 2; i++) {
    poly_blocks(&st, parts[i], lens[i] / 16, 1u << 24);
    size_t rest = lens[i] % 16;
    if (rest > 0) {
      __builtin_memset(block, 0, 16);
      __builtin_memcpy(block, parts[i] + lens[i] - rest, rest);
      poly_blocks(&st, block, 1, 1u << 24);
    }
  }
  uint64_t l0 = ad_len, l1 = ct_len;
  __builtin_memcpy(block, &l0, 8);
  __builtin_memcpy(block + 8, &l1, 8);
  poly_blocks(&st, block, 1, 1u << 24);
  poly_finish(&st, tag);
}

/* Runs the keystream over p[0..len): the first bytes from ks (blocks 1..3), the rest from 4. */
INLINE void aead_crypt(const uint32_t key[8], const uint32_t nonce[3], const uint8_t *ks,
                       uint8_t *p, size_t len) {
  size_t first = len < FIRST_DATA_BYTES ? len : FIRST_DATA_BYTES;
  xor_first(p, ks + 64, first);
  if (len > first) chacha20_xor(key, 1 + FIRST_DATA_BYTES / 64, nonce, p + first, len - first);
}

void aead_seal(const uint32_t key[8], const uint32_t nonce[3], uint8_t *p, size_t len,
               const uint8_t *ad, size_t ad_len) {
  uint8_t ks[256] __attribute__((aligned(16)));
  first_blocks(key, nonce, ks);
  aead_crypt(key, nonce, ks, p, len);
  aead_tag(ks, ad, ad_len, p, len, p + len);
}

int aead_open(const uint32_t key[8], const uint32_t nonce[3], uint8_t *p, size_t len,
              const uint8_t *ad, size_t ad_len) {
  uint8_t ks[256] __attribute__((aligned(16)));
  uint8_t tag[16];
  first_blocks(key, nonce, ks);
  aead_tag(ks, ad, ad_len, p, len, tag);
  uint32_t diff = 0;
  for (int i = 0; i < 16; i++) diff |= (uint32_t)(tag[i] ^ p[len + i]);
  /* branch only on the compare's result, never on where it differs */
  if (diff != 0) return 0;
  aead_crypt(key, nonce, ks, p, len);
  return 1;
}
