/* SHA-256 (FIPS 180-4), for the synthesis cache keys: a key names the
 * Yosys version, the flow script, the RTL sources and the parameters, and
 * must change when any of them does. Reentrant; no heap. */
#ifndef QHW_SHA256_H
#define QHW_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct hw_sha256 {
    uint32_t h[8];
    uint64_t len; /* bytes hashed so far */
    unsigned char buf[64];
    size_t fill;
};

void hw_sha256_init(struct hw_sha256 *s);
void hw_sha256_update(struct hw_sha256 *s, const void *data, size_t n);
/* The digest as 64 lowercase hex digits and a NUL. */
void hw_sha256_hex(struct hw_sha256 *s, char hex[65]);

#endif
