/*
 * sha256.h - SHA-256 (FIPS 180-4), incremental, for SPIRT.SHA256: a peer signs the hash of its averaged
 * gradient without reading the tensor out of Redis. No Redis calls, no allocation.
 *
 * On x86-64 CPUs with the SHA extensions the blocks are compressed with them (chosen once at run time);
 * elsewhere by the portable C code. Both give the same digest.
 */
#ifndef SPIRT_SHA256_H
#define SPIRT_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct spirt_sha256 {
  uint32_t state[8];
  uint64_t bytes;      /* total length so far */
  uint8_t block[64];   /* a partial block */
  size_t fill;         /* bytes in block */
} spirt_sha256;

void spirt_sha256_init(spirt_sha256 *c);
void spirt_sha256_update(spirt_sha256 *c, const void *data, size_t len);
void spirt_sha256_final(spirt_sha256 *c, uint8_t out[32]);
/* out: 64 lowercase hex digits and a NUL. */
void spirt_sha256_hex(const uint8_t digest[32], char out[65]);

/* 1 when the SHA extensions are used, 0 for the portable code. Tests force the portable code with
 * spirt_sha256_force_portable(1). */
int spirt_sha256_accelerated(void);
void spirt_sha256_force_portable(int on);

#endif
