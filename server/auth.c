/* Token file loading, token hashing and comparison, and the registration
 * rate limit of join tokens. */
#include "server/auth.h"

#include <ctype.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void srv_token_hash(char out[SRV_TOKEN_HASH_LEN + 1], const char *token)
{
    struct sha256_ctx ctx;
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, strlen(token), (const uint8_t *)token);
    sha256_digest(&ctx, sizeof d, d);
    memcpy(out, "sha256:", 7);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", d[i]);
}

/* A token file entry that is already a hash: "sha256:" + 64 hex digits. */
static bool is_hash(const char *t)
{
    if (strncmp(t, "sha256:", 7) != 0 || strlen(t) != SRV_TOKEN_HASH_LEN)
        return false;
    for (const char *p = t + 7; *p; p++)
        if (!isxdigit((unsigned char)*p))
            return false;
    return true;
}

bool srv_token_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0 && lb > 0;
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SRV_TOKEN_NAME_MAX)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_.@-", *s))
            return false;
    return true;
}

int srv_auth_load(struct srv_auth *a, const char *path, struct qc_err *err)
{
    char line[512];
    int lineno = 0;

    memset(a, 0, sizeof *a);
    pthread_mutex_init(&a->mu, NULL);
    a->register_per_s = 10.0 / 60;
    a->register_burst = 10;
    if (!path[0])
        return QC_OK;
    FILE *f = fopen(path, "r");
    if (!f)
        return qc_err_set(err, QC_EIO, "--token-file", "cannot read token file '%s'", path);
    a->enabled = true;
    while (fgets(line, sizeof line, f)) {
        char role[32], token[sizeof line], name[sizeof line], extra[2];
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        int n = sscanf(line, "%31s %511s %511s %1s", role, token, name, extra);
        if (n <= 0)
            continue;
        enum srv_role r = strcmp(role, "admin") == 0  ? SRV_ROLE_ADMIN
                          : strcmp(role, "read") == 0 ? SRV_ROLE_READ
                          : strcmp(role, "join") == 0 ? SRV_ROLE_JOIN
                                                      : SRV_ROLE_NONE;
        const char *why = r == SRV_ROLE_NONE   ? "unknown role (admin, read, join)"
                          : n != 2 && n != 3   ? "expected 'ROLE TOKEN [NAME]'"
                          : strlen(token) < 16 ? "token shorter than 16 characters"
                          : strncmp(token, "sha256:", 7) == 0 && !is_hash(token)
                              ? "a hash is sha256: and 64 hex digits"
                          : strlen(token) > SRV_TOKEN_MAX     ? "token longer than 128 characters"
                          : n == 3 && !name_ok(name)          ? "a name is 1..64 letters, digits "
                                                                "or _.@-"
                          : a->ntokens == SRV_AUTH_TOKENS_MAX ? "too many tokens"
                                                              : NULL;
        if (why) {
            fclose(f);
            return qc_err_set(err, QC_EINVAL, "--token-file", "%s:%d: %s", path, lineno, why);
        }
        a->tokens[a->ntokens].role = r;
        if (is_hash(token)) { /* stored lower case, as srv_token_hash writes it */
            for (size_t i = 0; i <= SRV_TOKEN_HASH_LEN; i++)
                a->tokens[a->ntokens].hash[i] = (char)tolower((unsigned char)token[i]);
        } else {
            srv_token_hash(a->tokens[a->ntokens].hash, token);
        }
        a->tokens[a->ntokens].bucket = -1; /* full on first use */
        snprintf(a->tokens[a->ntokens].name, sizeof a->tokens[0].name, "%.64s",
                 n == 3 ? name : role);
        a->ntokens++;
    }
    fclose(f);
    if (a->ntokens == 0)
        return qc_err_set(err, QC_EINVAL, "--token-file", "%s: no tokens", path);
    return QC_OK;
}

enum srv_role srv_auth_find(const struct srv_auth *a, const char *token, int *index)
{
    enum srv_role found = SRV_ROLE_NONE;
    char h[SRV_TOKEN_HASH_LEN + 1];
    *index = -1;
    srv_token_hash(h, token);
    for (int i = 0; i < a->ntokens; i++)
        if (srv_token_eq(a->tokens[i].hash, h)) {
            found = a->tokens[i].role;
            *index = i;
        }
    return found;
}

enum srv_role srv_auth_lookup(const struct srv_auth *a, const char *token)
{
    int index;
    return srv_auth_find(a, token, &index);
}

bool srv_auth_admit(struct srv_auth *a, int index, double *retry_after)
{
    struct timespec ts;
    bool ok;
    if (index < 0 || index >= a->ntokens)
        return true;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    pthread_mutex_lock(&a->mu);
    double *b = &a->tokens[index].bucket, *t = &a->tokens[index].bucket_t;
    if (*b < 0)
        *b = a->register_burst;
    else
        *b += (now - *t) * a->register_per_s;
    if (*b > a->register_burst)
        *b = a->register_burst;
    *t = now;
    ok = *b >= 1;
    if (ok)
        *b -= 1;
    else
        *retry_after = (1 - *b) / a->register_per_s;
    pthread_mutex_unlock(&a->mu);
    return ok;
}

const char *srv_auth_name(const struct srv_auth *a, const char *token)
{
    int index;
    srv_auth_find(a, token, &index);
    return index >= 0 ? a->tokens[index].name : NULL;
}

int srv_token_random(char *out, size_t len, int bytes)
{
    unsigned char buf[64];
    if (bytes > (int)sizeof buf || len < (size_t)bytes * 2 + 1)
        return QC_EINVAL;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return QC_EIO;
    ssize_t got = read(fd, buf, (size_t)bytes);
    close(fd);
    if (got != bytes)
        return QC_EIO;
    for (int i = 0; i < bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", buf[i]);
    return QC_OK;
}
