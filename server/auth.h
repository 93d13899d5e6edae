/* Bearer tokens: the token file's admin, read and join tokens, and the
 * worker tokens that registration hands out (kept in the database). With no
 * token file every caller is admin (loopback only; main refuses otherwise). */
#ifndef SRV_AUTH_H
#define SRV_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qcore/error.h"

#define SRV_AUTH_TOKENS_MAX 256
#define SRV_TOKEN_MAX       128

enum srv_role { SRV_ROLE_NONE = 0, SRV_ROLE_READ, SRV_ROLE_JOIN, SRV_ROLE_WORKER, SRV_ROLE_ADMIN };

struct srv_auth {
    bool enabled;
    int ntokens;
    struct {
        enum srv_role role;
        char token[SRV_TOKEN_MAX + 1];
    } tokens[SRV_AUTH_TOKENS_MAX];
};

/* Loads `path` ("" = auth disabled). Lines: "ROLE TOKEN", roles admin, read,
 * join; blank lines and '#' comments ignored. Errors name path:line. */
int srv_auth_load(struct srv_auth *a, const char *path, struct qc_err *err);

/* The role of a token from the file (SRV_ROLE_NONE when unknown). Compares
 * in constant time per entry so timing does not reveal prefixes. */
enum srv_role srv_auth_lookup(const struct srv_auth *a, const char *token);

/* Equality that takes the same time whatever the first difference. */
bool srv_token_eq(const char *a, const char *b);

/* Writes a fresh random token of 2*bytes hex digits (from /dev/urandom). */
int srv_token_random(char *out, size_t len, int bytes);

#endif
