/* Token file loading and token comparison. */
#include "server/auth.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool srv_token_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0 && lb > 0;
}

int srv_auth_load(struct srv_auth *a, const char *path, struct qc_err *err)
{
    char line[512];
    int lineno = 0;

    memset(a, 0, sizeof *a);
    if (!path[0])
        return QC_OK;
    FILE *f = fopen(path, "r");
    if (!f)
        return qc_err_set(err, QC_EIO, "--token-file", "cannot read token file '%s'", path);
    a->enabled = true;
    while (fgets(line, sizeof line, f)) {
        char role[32], token[sizeof line], extra[2];
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        int n = sscanf(line, "%31s %511s %1s", role, token, extra);
        if (n <= 0)
            continue;
        enum srv_role r = strcmp(role, "admin") == 0  ? SRV_ROLE_ADMIN
                          : strcmp(role, "read") == 0 ? SRV_ROLE_READ
                          : strcmp(role, "join") == 0 ? SRV_ROLE_JOIN
                                                      : SRV_ROLE_NONE;
        const char *why = r == SRV_ROLE_NONE                  ? "unknown role (admin, read, join)"
                          : n != 2                            ? "expected 'ROLE TOKEN'"
                          : strlen(token) < 16                ? "token shorter than 16 characters"
                          : strlen(token) > SRV_TOKEN_MAX     ? "token longer than 128 characters"
                          : a->ntokens == SRV_AUTH_TOKENS_MAX ? "too many tokens"
                                                              : NULL;
        if (why) {
            fclose(f);
            return qc_err_set(err, QC_EINVAL, "--token-file", "%s:%d: %s", path, lineno, why);
        }
        a->tokens[a->ntokens].role = r;
        memcpy(a->tokens[a->ntokens].token, token, strlen(token) + 1); /* length checked above */
        a->ntokens++;
    }
    fclose(f);
    if (a->ntokens == 0)
        return qc_err_set(err, QC_EINVAL, "--token-file", "%s: no tokens", path);
    return QC_OK;
}

enum srv_role srv_auth_lookup(const struct srv_auth *a, const char *token)
{
    enum srv_role found = SRV_ROLE_NONE;
    for (int i = 0; i < a->ntokens; i++)
        if (srv_token_eq(a->tokens[i].token, token))
            found = a->tokens[i].role;
    return found;
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
