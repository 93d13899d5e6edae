/* Bearer tokens: the token file's admin, read and join tokens, and the
 * worker tokens that registration hands out (kept in the database). Only
 * SHA-256 hashes are kept, in memory and in the database ("sha256:" and 64
 * hex digits, nettle's SHA-256): a presented token is hashed and the hashes
 * compared, so a copy of the database or of the server's memory does not
 * give anyone a token. The token file may hold either the token or its
 * hash. With no token file every caller is admin (loopback only; the
 * server refuses otherwise). */
#ifndef SRV_AUTH_H
#define SRV_AUTH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qcore/error.h"

#define SRV_AUTH_TOKENS_MAX 256
#define SRV_TOKEN_MAX       128
#define SRV_TOKEN_HASH_LEN  71 /* "sha256:" + 64 hex digits */
#define SRV_TOKEN_NAME_MAX  64

enum srv_role { SRV_ROLE_NONE = 0, SRV_ROLE_READ, SRV_ROLE_JOIN, SRV_ROLE_WORKER, SRV_ROLE_ADMIN };

struct srv_auth {
    bool enabled;
    int ntokens;
    struct {
        enum srv_role role;
        char hash[SRV_TOKEN_HASH_LEN + 1];
        double bucket, bucket_t;           /* registration token bucket (join tokens) */
        char name[SRV_TOKEN_NAME_MAX + 1]; /* who holds it; the role's name by default */
    } tokens[SRV_AUTH_TOKENS_MAX];
    pthread_mutex_t mu;    /* guards the buckets */
    double register_per_s; /* refill rate of a join token's bucket */
    double register_burst; /* its size */
};

/* Loads `path` ("" = auth disabled). Lines: "ROLE TOKEN [NAME]", roles
 * admin, read, join; NAME (1..64 letters, digits or _.@-) is recorded as
 * the submitter of what the token creates. Blank lines and '#' comments
 * ignored. Errors name path:line. */
int srv_auth_load(struct srv_auth *a, const char *path, struct qc_err *err);

/* The role of a token from the file (SRV_ROLE_NONE when unknown); the
 * presented token is hashed and compared with every entry in constant
 * time. srv_auth_find also gives the entry's index (-1 when unknown). */
enum srv_role srv_auth_lookup(const struct srv_auth *a, const char *token);
enum srv_role srv_auth_find(const struct srv_auth *a, const char *token, int *index);

/* Registration rate limit of token-file entry `index` (a token bucket of
 * register_burst, refilled at register_per_s): true to admit one more;
 * false with *retry_after the seconds until the next is admitted. */
bool srv_auth_admit(struct srv_auth *a, int index, double *retry_after);

/* "sha256:" and the 64 lowercase hex digits of SHA-256(token). */
void srv_token_hash(char out[SRV_TOKEN_HASH_LEN + 1], const char *token);
/* The token's name (borrowed from `a`), NULL when the token is unknown. */
const char *srv_auth_name(const struct srv_auth *a, const char *token);

/* Equality that takes the same time whatever the first difference. */
bool srv_token_eq(const char *a, const char *b);

/* Writes a fresh random token of 2*bytes hex digits (from /dev/urandom). */
int srv_token_random(char *out, size_t len, int bytes);

#endif
