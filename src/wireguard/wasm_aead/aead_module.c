/*
 * The standalone AEAD module: a key-slot table, one scratch region for packets, a batch
 * descriptor table, and the exports mod.ts binds. Memory is fixed (build.sh sets initial ==
 * maximum), so JS views of it never detach.
 *
 * Every pointer an export takes must lie inside the scratch region (checked, -1 otherwise), so
 * no argument can reach the key table or the stack.
 */
#include "chacha20poly1305.h"

#define EXPORT(name) __attribute__((export_name(name), visibility("default")))

/* Two keys per keypair (send, receive), three keypairs per peer: room for ~1,300 peers. */
#define KEY_SLOTS 8192
/* Room for a batch of 64 KiB packets or several hundred MTU-sized ones. */
#define SCRATCH_BYTES (1024 * 1024)
/* Descriptor: slot, counter low, counter high, ptr, len, status (u32 each). */
#define BATCH_MAX 512
#define DESC_WORDS 6

static uint32_t keys[KEY_SLOTS * 8] __attribute__((aligned(16)));
static uint8_t scratch[SCRATCH_BYTES] __attribute__((aligned(16)));
static uint32_t batch[BATCH_MAX * DESC_WORDS] __attribute__((aligned(16)));

EXPORT("key_table") uint32_t key_table(void) { return (uint32_t)(uintptr_t)keys; }
EXPORT("key_slots") uint32_t key_slots(void) { return KEY_SLOTS; }
EXPORT("scratch_ptr") uint32_t scratch_ptr(void) { return (uint32_t)(uintptr_t)scratch; }
EXPORT("scratch_size") uint32_t scratch_size(void) { return SCRATCH_BYTES; }
EXPORT("batch_ptr") uint32_t batch_ptr(void) { return (uint32_t)(uintptr_t)batch; }
EXPORT("batch_max") uint32_t batch_max(void) { return BATCH_MAX; }

/* ptr..ptr+len inside scratch (64-bit sums: no wrap-around). */
static int in_scratch(uint32_t ptr, uint32_t len) {
  uint64_t start = (uint32_t)(uintptr_t)scratch;
  return ptr >= start && (uint64_t)ptr + len <= start + SCRATCH_BYTES;
}

static int args_ok(uint32_t slot, uint32_t ptr, uint32_t len, uint32_t ad, uint32_t ad_len) {
  return slot < KEY_SLOTS && in_scratch(ptr, len) && (ad_len == 0 || in_scratch(ad, ad_len));
}

static const uint8_t *ad_at(uint32_t ad, uint32_t ad_len) {
  return ad_len == 0 ? (const uint8_t *)0 : (const uint8_t *)(uintptr_t)ad;
}

/* Seals ptr[0..len) with a full RFC 8439 nonce; the tag goes to ptr + len. 0, or -1 on bad args. */
EXPORT("seal_nonce")
int32_t seal_nonce(uint32_t slot, uint32_t n0, uint32_t n1, uint32_t n2, uint32_t ptr,
                   uint32_t len, uint32_t ad, uint32_t ad_len) {
  if (len > SCRATCH_BYTES || !args_ok(slot, ptr, len + AEAD_TAG_BYTES, ad, ad_len)) return -1;
  const uint32_t nonce[3] = {n0, n1, n2};
  aead_seal(keys + 8 * slot, nonce, (uint8_t *)(uintptr_t)ptr, len, ad_at(ad, ad_len), ad_len);
  return 0;
}

/* Opens ptr[0..len) (len includes the tag). 1 when authentic (decrypted in place), 0 when the
 * tag fails (buffer untouched), -1 on bad args. */
EXPORT("open_nonce")
int32_t open_nonce(uint32_t slot, uint32_t n0, uint32_t n1, uint32_t n2, uint32_t ptr,
                   uint32_t len, uint32_t ad, uint32_t ad_len) {
  if (len < AEAD_TAG_BYTES || !args_ok(slot, ptr, len, ad, ad_len)) return -1;
  const uint32_t nonce[3] = {n0, n1, n2};
  return aead_open(keys + 8 * slot, nonce, (uint8_t *)(uintptr_t)ptr, len - AEAD_TAG_BYTES,
                   ad_at(ad, ad_len), ad_len);
}

/* WireGuard's nonce: 32 zero bits, then the 64-bit counter little-endian (whitepaper §5.4.6). */
EXPORT("seal")
int32_t seal(uint32_t slot, uint32_t lo, uint32_t hi, uint32_t ptr, uint32_t len, uint32_t ad,
             uint32_t ad_len) {
  return seal_nonce(slot, 0, lo, hi, ptr, len, ad, ad_len);
}

EXPORT("open")
int32_t open(uint32_t slot, uint32_t lo, uint32_t hi, uint32_t ptr, uint32_t len, uint32_t ad,
             uint32_t ad_len) {
  return open_nonce(slot, 0, lo, hi, ptr, len, ad, ad_len);
}

/* Seals descriptors 0..count-1 (WireGuard nonces, no AD); status 0 or -1 each. Returns the
 * number sealed. */
EXPORT("seal_many") uint32_t seal_many(uint32_t count) {
  if (count > BATCH_MAX) count = BATCH_MAX;
  uint32_t done = 0;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t *d = batch + DESC_WORDS * i;
    int32_t r = seal_nonce(d[0], 0, d[1], d[2], d[3], d[4], 0, 0);
    d[5] = (uint32_t)r;
    done += r == 0;
  }
  return done;
}

/* Opens descriptors 0..count-1 (len includes the tag); status 1, 0 or -1 each. Returns the
 * number that authenticated. */
EXPORT("open_many") uint32_t open_many(uint32_t count) {
  if (count > BATCH_MAX) count = BATCH_MAX;
  uint32_t done = 0;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t *d = batch + DESC_WORDS * i;
    int32_t r = open_nonce(d[0], 0, d[1], d[2], d[3], d[4], 0, 0);
    d[5] = (uint32_t)r;
    done += r == 1;
  }
  return done;
}

/* Known-answer hooks: one ChaCha20 block (§2.3.2) and a bare Poly1305 (§2.5.2). */
EXPORT("block")
int32_t block(uint32_t slot, uint32_t counter, uint32_t n0, uint32_t n1, uint32_t n2,
              uint32_t out) {
  if (slot >= KEY_SLOTS || !in_scratch(out, 64)) return -1;
  const uint32_t nonce[3] = {n0, n1, n2};
  chacha20_block(keys + 8 * slot, counter, nonce, (uint8_t *)(uintptr_t)out);
  return 0;
}

EXPORT("poly1305")
int32_t poly1305(uint32_t key, uint32_t m, uint32_t len, uint32_t tag) {
  if (!in_scratch(key, 32) || !in_scratch(m, len) || !in_scratch(tag, 16)) return -1;
  poly1305_mac((const uint8_t *)(uintptr_t)key, (const uint8_t *)(uintptr_t)m, len,
               (uint8_t *)(uintptr_t)tag);
  return 0;
}

/* Keystream XOR from block `counter` (§2.4.2 vector; also a SIMD-vs-scalar cross-check). */
EXPORT("xor")
int32_t xor_stream(uint32_t slot, uint32_t counter, uint32_t n0, uint32_t n1, uint32_t n2,
                   uint32_t ptr, uint32_t len) {
  if (slot >= KEY_SLOTS || !in_scratch(ptr, len)) return -1;
  const uint32_t nonce[3] = {n0, n1, n2};
  chacha20_xor(keys + 8 * slot, counter, nonce, (uint8_t *)(uintptr_t)ptr, len);
  return 0;
}
