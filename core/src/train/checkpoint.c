/* Checkpoint files (format in checkpoint.h): built in memory, checksummed
 * with zlib's CRC-32, written atomically; parsed strictly on load, with the
 * whole file validated before any state is touched. */
#include "qcore/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define MAGIC    "QLABCKPT"
#define TRAILER  "QEND"
#define MAX_FILE (INT64_C(1) << 34)

struct buf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
};

static void put(struct buf *b, const void *src, size_t n)
{
    if (b->oom || n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_u64(struct buf *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    put(b, x, 8);
}

static void put_f64(struct buf *b, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    put_u64(b, v);
}

/* Floats as their little-endian bit patterns (this is an x86-64/arm64 tool:
 * both are little-endian, so the array is copied as is). */
static void section(struct buf *b, const char tag[4], const void *data, size_t n)
{
    put(b, tag, 4);
    put_u64(b, n);
    put(b, data, n);
}

uint64_t qc_fingerprint(const void *data, size_t len)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * UINT64_C(0x100000001b3);
    return h;
}

static int write_atomic(const char *path, const uint8_t *data, size_t len, struct qc_err *err)
{
    char tmp[4096];
    int fd;

    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return qc_err_set(err, QC_EINVAL, "checkpoint", "checkpoint path too long");
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return qc_err_set(err, QC_EIO, "checkpoint", "%s: %s", tmp, strerror(errno));
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return qc_err_set(err, QC_EIO, "checkpoint", "%s: %s", tmp, strerror(e));
        }
        off += (size_t)w;
    }
    if (fsync(fd) || close(fd) || rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
        return qc_err_set(err, QC_EIO, "checkpoint", "%s: %s", path, strerror(e));
    }
    return QC_OK;
}

/* The scale policies' state (scale.h): policy, history, slot count, then
 * per slot units, steps, head and its arrays (amax window, delay_update
 * references as fp32 bit patterns, ages as int32). */
static void put_scales(struct buf *b, const struct qc_net *net)
{
    const struct qc_scale_cfg *c = &net->scaling;
    const int64_t nslots = net->scale_slots ? (int64_t)net->n * QC_NN_SCALE_SLOTS : 0;

    put_u64(b, (uint64_t)c->policy);
    put_u64(b, (uint64_t)c->history);
    put_u64(b, (uint64_t)nslots);
    for (int64_t i = 0; i < nslots; i++) {
        const struct qc_scale_slot *s = &net->scale_slots[i];
        put_u64(b, (uint64_t)s->units);
        put_u64(b, (uint64_t)s->steps);
        put_u64(b, (uint64_t)s->head);
        if (s->hist)
            put(b, s->hist, (size_t)(s->units * c->history) * sizeof(float));
        if (s->ref)
            put(b, s->ref, (size_t)s->units * sizeof(float));
        if (s->age)
            put(b, s->age, (size_t)s->units * sizeof(int32_t));
    }
}

int qc_checkpoint_save(const char *path, const struct qc_net *net, const struct qc_optim *o,
                       const struct qc_loss_scaler *s, const struct qc_ckpt_progress *p,
                       const void *extra, size_t extra_len, struct qc_err *err)
{
    struct buf b = {0};
    uint32_t version = QC_CHECKPOINT_VERSION;

    put(&b, MAGIC, 8);
    put(&b, &version, 4);
    struct buf prog = {0};
    put_u64(&prog, p->fingerprint);
    put_u64(&prog, (uint64_t)p->epoch);
    put_u64(&prog, (uint64_t)p->step);
    put_u64(&prog, (uint64_t)p->pos);
    put_u64(&prog, p->sr_stream);
    section(&b, "PROG", prog.p, prog.len);
    free(prog.p);
    section(&b, "PARM", net->params, (size_t)net->nparams * sizeof(float));
    section(&b, "BNST", net->state, (size_t)net->nstate * sizeof(float));
    struct buf opt = {0};
    put_u64(&opt, (uint64_t)o->t);
    put(&opt, o->m, (size_t)o->n * sizeof(float));
    if (o->v)
        put(&opt, o->v, (size_t)o->n * sizeof(float));
    section(&b, "OPTM", opt.p, opt.len);
    free(opt.p);
    struct buf sc = {0};
    put_f64(&sc, s->scale);
    put_u64(&sc, (uint64_t)s->good_steps);
    put_u64(&sc, (uint64_t)s->skipped);
    section(&b, "SCAL", sc.p, sc.len);
    free(sc.p);
    struct buf sl = {0};
    put_scales(&sl, net);
    section(&b, "SCLS", sl.p, sl.len);
    free(sl.p);
    section(&b, "USER", extra, extra_len);
    put(&b, TRAILER, 4);
    uint32_t crc = b.oom ? 0 : (uint32_t)crc32(0L, b.p, (uInt)b.len);
    put(&b, &crc, 4);
    if (b.oom || opt.oom || sc.oom || prog.oom || sl.oom) {
        free(b.p);
        return qc_err_set(err, QC_ENOMEM, "checkpoint", "out of memory building %s", path);
    }
    int rc = write_atomic(path, b.p, b.len, err);
    free(b.p);
    return rc;
}

/* A parsed view of a file: every section located and size-checked. */
struct view {
    const uint8_t *prog, *parm, *bnst, *optm, *scal, *scls, *user;
    uint64_t prog_n, parm_n, bnst_n, optm_n, scal_n, scls_n, user_n;
};

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int parse(struct view *v, const uint8_t *d, size_t len, const char *path, struct qc_err *err)
{
    uint32_t version, crc;

    memset(v, 0, sizeof *v);
    if (len < 8 || memcmp(d, MAGIC, 8) != 0)
        return qc_err_set(err, QC_ECORRUPT, "checkpoint",
                          "%s: not a qlab checkpoint (magic \"%s\" missing at offset 0)", path,
                          MAGIC);
    if (len < 12 + 8)
        return qc_err_set(err, QC_ECORRUPT, "checkpoint", "%s: truncated at %zu bytes", path, len);
    memcpy(&version, d + 8, 4);
    if (version != QC_CHECKPOINT_VERSION)
        return qc_err_set(err, QC_ECORRUPT, "checkpoint",
                          "%s: checkpoint version %u, this build reads %d", path, version,
                          QC_CHECKPOINT_VERSION);
    if (memcmp(d + len - 8, TRAILER, 4) != 0)
        return qc_err_set(err, QC_ECORRUPT, "checkpoint",
                          "%s: truncated (no end marker at offset %zu)", path, len - 8);
    memcpy(&crc, d + len - 4, 4);
    if (crc != (uint32_t)crc32(0L, d, (uInt)(len - 4)))
        return qc_err_set(err, QC_ECORRUPT, "checkpoint", "%s: checksum mismatch", path);
    size_t off = 12;
    while (off < len - 8) {
        if (len - 8 - off < 12)
            return qc_err_set(err, QC_ECORRUPT, "checkpoint", "%s: bad section at offset %zu", path,
                              off);
        const uint8_t *tag = d + off;
        uint64_t n = get_u64(d + off + 4);
        if (n > len - 8 - off - 12)
            return qc_err_set(err, QC_ECORRUPT, "checkpoint",
                              "%s: section at offset %zu overruns the file", path, off);
        const uint8_t *body = d + off + 12;
        if (!memcmp(tag, "PROG", 4))
            v->prog = body, v->prog_n = n;
        else if (!memcmp(tag, "PARM", 4))
            v->parm = body, v->parm_n = n;
        else if (!memcmp(tag, "BNST", 4))
            v->bnst = body, v->bnst_n = n;
        else if (!memcmp(tag, "OPTM", 4))
            v->optm = body, v->optm_n = n;
        else if (!memcmp(tag, "SCAL", 4))
            v->scal = body, v->scal_n = n;
        else if (!memcmp(tag, "SCLS", 4))
            v->scls = body, v->scls_n = n;
        else if (!memcmp(tag, "USER", 4))
            v->user = body, v->user_n = n;
        off += 12 + n;
    }
    if (!v->prog || !v->parm || !v->bnst || !v->optm || !v->scal || !v->scls || !v->user ||
        v->prog_n != 40 || v->scal_n != 24)
        return qc_err_set(err, QC_ECORRUPT, "checkpoint", "%s: a section is missing or malformed",
                          path);
    return QC_OK;
}

static int read_all(uint8_t **out, size_t *len, const char *path, struct qc_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return qc_err_set(err, QC_EIO, "checkpoint", "%s: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return qc_err_set(err, QC_EIO, "checkpoint", "%s: cannot seek", path);
    }
    long n = ftell(f);
    if (n < 0 || n > MAX_FILE) {
        fclose(f);
        return qc_err_set(err, QC_ECORRUPT, "checkpoint", "%s: size %ld out of range", path, n);
    }
    rewind(f);
    *out = malloc((size_t)n + 1);
    if (!*out) {
        fclose(f);
        return qc_err_set(err, QC_ENOMEM, "checkpoint", "%s: out of memory", path);
    }
    *len = fread(*out, 1, (size_t)n, f);
    fclose(f);
    if (*len != (size_t)n) {
        free(*out);
        return qc_err_set(err, QC_EIO, "checkpoint", "%s: short read", path);
    }
    return QC_OK;
}

/* Walks the SCLS section against the net's scale configuration. With
 * `restore` false it only checks every size (nothing is touched); with
 * `restore` true it refills the slots (QC_ENOMEM possible). */
static int scales(struct qc_net *net, const uint8_t *d, uint64_t n, bool restore, const char *path,
                  struct qc_err *err)
{
    const struct qc_scale_cfg *c = &net->scaling;
    const uint64_t nslots = net->scale_slots ? (uint64_t)net->n * QC_NN_SCALE_SLOTS : 0;
    uint64_t off = 24;
    int rc;

    if (n < 24 || get_u64(d) != (uint64_t)c->policy || get_u64(d + 8) != (uint64_t)c->history ||
        get_u64(d + 16) != nslots)
        return qc_err_set(err, QC_ECORRUPT, "checkpoint",
                          "%s: its scale policy state does not match this run's '%s' policy", path,
                          qc_scale_policy_name(c->policy));
    for (uint64_t i = 0; i < nslots; i++) {
        if (n - off < 24)
            return qc_err_set(err, QC_ECORRUPT, "checkpoint", "%s: scale state truncated", path);
        const uint64_t units = get_u64(d + off), steps = get_u64(d + off + 8),
                       head = get_u64(d + off + 16);
        off += 24;
        if (units > (UINT64_C(1) << 40) || steps > INT64_MAX || head >= (uint64_t)c->history ||
            (units == 0 && steps != 0))
            return qc_err_set(err, QC_ECORRUPT, "checkpoint", "%s: scale slot %llu is malformed",
                              path, (unsigned long long)i);
        const uint64_t nf = units ? (uint64_t)qc_scale_slot_floats(c, (int64_t)units) : 0;
        const uint64_t ni = units ? (uint64_t)qc_scale_slot_ints(c, (int64_t)units) : 0;
        if ((n - off) / 4 < nf + ni)
            return qc_err_set(err, QC_ECORRUPT, "checkpoint", "%s: scale state truncated", path);
        if (restore) {
            struct qc_scale_slot *s = &net->scale_slots[i];
            qc_scale_slot_free(s);
            if (units && (rc = qc_scale_slot_alloc(s, c, (int64_t)units, err)))
                return rc;
            s->steps = (int64_t)steps;
            s->head = (int)head;
            if (s->hist)
                memcpy(s->hist, d + off, (size_t)nf * sizeof(float));
            if (s->ref) {
                memcpy(s->ref, d + off, (size_t)units * sizeof(float));
                memcpy(s->age, d + off + units * sizeof(float), (size_t)units * sizeof(int32_t));
            }
        }
        off += 4 * (nf + ni);
    }
    if (off != n)
        return qc_err_set(err, QC_ECORRUPT, "checkpoint", "%s: scale state has %llu stray bytes",
                          path, (unsigned long long)(n - off));
    return QC_OK;
}

int qc_checkpoint_load(const char *path, struct qc_net *net, struct qc_optim *o,
                       struct qc_loss_scaler *s, struct qc_ckpt_progress *p, void *extra,
                       size_t extra_len, struct qc_err *err)
{
    uint8_t *d = NULL;
    size_t len = 0;
    struct view v;
    int rc;

    if ((rc = read_all(&d, &len, path, err)))
        return rc;
    if ((rc = parse(&v, d, len, path, err)))
        goto out;
    const uint64_t want_opt = 8 + (uint64_t)o->n * sizeof(float) * (o->v ? 2 : 1);
    if (get_u64(v.prog) != p->fingerprint) {
        rc = qc_err_set(err, QC_ECORRUPT, "checkpoint",
                        "%s: belongs to another experiment (fingerprint %016llx, expected %016llx)",
                        path, (unsigned long long)get_u64(v.prog),
                        (unsigned long long)p->fingerprint);
        goto out;
    }
    if (v.parm_n != (uint64_t)net->nparams * sizeof(float) ||
        v.bnst_n != (uint64_t)net->nstate * sizeof(float) || v.optm_n != want_opt) {
        rc = qc_err_set(err, QC_ECORRUPT, "checkpoint",
                        "%s: holds %llu parameters, the model has %lld", path,
                        (unsigned long long)(v.parm_n / sizeof(float)), (long long)net->nparams);
        goto out;
    }
    if (v.user_n != extra_len) {
        rc = qc_err_set(err, QC_ECORRUPT, "checkpoint",
                        "%s: holds %llu bytes of metric state, this build keeps %zu (written by "
                        "another version of the training loop)",
                        path, (unsigned long long)v.user_n, extra_len);
        goto out;
    }
    if ((rc = scales(net, v.scls, v.scls_n, false, path, err)))
        goto out;
    /* Validated: now restore. */
    p->epoch = (int64_t)get_u64(v.prog + 8);
    p->step = (int64_t)get_u64(v.prog + 16);
    p->pos = (int64_t)get_u64(v.prog + 24);
    p->sr_stream = get_u64(v.prog + 32);
    memcpy(net->params, v.parm, v.parm_n);
    memcpy(net->state, v.bnst, v.bnst_n);
    o->t = (int64_t)get_u64(v.optm);
    memcpy(o->m, v.optm + 8, (size_t)o->n * sizeof(float));
    if (o->v)
        memcpy(o->v, v.optm + 8 + (size_t)o->n * sizeof(float), (size_t)o->n * sizeof(float));
    uint64_t sb = get_u64(v.scal);
    memcpy(&s->scale, &sb, 8);
    s->good_steps = (int64_t)get_u64(v.scal + 8);
    s->skipped = (int64_t)get_u64(v.scal + 16);
    if (extra_len)
        memcpy(extra, v.user, extra_len);
    rc = scales(net, v.scls, v.scls_n, true, path, err);
out:
    free(d);
    return rc;
}
