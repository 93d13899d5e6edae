/* The synthetic dataset: seeded images of class-specific soft blobs plus
 * noise, so tests and demos can train on something learnable in seconds
 * without any file, and get the same bytes for the same seed everywhere. */
#include "qcore/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/round.h"

#define DOMAIN_SYNTH UINT64_C(0x73796e7468657469) /* "synthetic": this module's key */
#define BLOBS        4
#define BACKGROUND   0.1 /* pixel level under the blobs, in units of the pixel range */
/* Stream 0 draws the class prototypes; sample i of a split draws from
 * stream (split + 1) << 56 | i, index 0 its label, 1 its shift and
 * intensity, 2 + p the noise of pixel p. */
#define PROTO_STREAM      0
#define SAMPLE_TAG(split) ((uint64_t)((split) + 1) << 56)

struct blob {
    double cy, cx, inv_s2, amp, colour[QC_DATASET_MAX_CHANNELS];
};

void qc_synth_config_init(struct qc_synth_config *cfg)
{
    *cfg = (struct qc_synth_config){
        .c = 1,
        .h = 28,
        .w = 28,
        .classes = 10,
        .n_train = 6000,
        .n_test = 1000,
        .noise = 0.3,
        .shift = 3,
    };
}

static int validate(const struct qc_synth_config *cfg, struct qc_err *err)
{
    if (cfg->c < 1 || cfg->c > QC_DATASET_MAX_CHANNELS)
        return qc_err_set(err, QC_EINVAL, "/name", "synthetic: c=%d is outside 1..%d", cfg->c,
                          QC_DATASET_MAX_CHANNELS);
    if (cfg->h < 4 || cfg->h > QC_DATASET_MAX_SIDE || cfg->w < 4 || cfg->w > QC_DATASET_MAX_SIDE)
        return qc_err_set(err, QC_EINVAL, "/name", "synthetic: %dx%d images, expected sides 4..%d",
                          cfg->h, cfg->w, QC_DATASET_MAX_SIDE);
    if (cfg->classes < 2 || cfg->classes > QC_DATASET_MAX_CLASSES)
        return qc_err_set(err, QC_EINVAL, "/name", "synthetic: classes=%d is outside 2..%d",
                          cfg->classes, QC_DATASET_MAX_CLASSES);
    int64_t img = (int64_t)cfg->c * cfg->h * cfg->w;
    const int64_t sizes[2] = {cfg->n_train, cfg->n_test};
    for (int s = 0; s < 2; s++)
        if (sizes[s] < 1 || sizes[s] > QC_DATASET_MAX_N || sizes[s] * img > QC_DATASET_MAX_BYTES)
            return qc_err_set(err, QC_EINVAL, "/name",
                              "synthetic: %s=%lld is outside 1..%lld for %dx%dx%d images",
                              s ? "test" : "train", (long long)sizes[s],
                              (long long)(QC_DATASET_MAX_BYTES / img < QC_DATASET_MAX_N
                                              ? QC_DATASET_MAX_BYTES / img
                                              : QC_DATASET_MAX_N),
                              cfg->c, cfg->h, cfg->w);
    if (!(cfg->noise >= 0.0 && cfg->noise <= 1.0)) /* also refuses NaN */
        return qc_err_set(err, QC_EINVAL, "/name", "synthetic: noise=%g is outside 0..1",
                          cfg->noise);
    int side = cfg->h < cfg->w ? cfg->h : cfg->w;
    if (cfg->shift < 0 || cfg->shift > side / 4)
        return qc_err_set(err, QC_EINVAL, "/name", "synthetic: shift=%d is outside 0..%d",
                          cfg->shift, side / 4);
    return QC_OK;
}

static int parse_int(int64_t *out, const char *key, const char *v, size_t len, struct qc_err *err)
{
    char buf[32], *end;
    if (len == 0 || len >= sizeof buf)
        return qc_err_set(err, QC_EINVAL, "/name", "synthetic: %s needs an integer value", key);
    memcpy(buf, v, len);
    buf[len] = '\0';
    long long x = strtoll(buf, &end, 10);
    if (*end || buf[0] == ' ')
        return qc_err_set(err, QC_EINVAL, "/name", "synthetic: %s=%s is not an integer", key, buf);
    *out = x;
    return QC_OK;
}

int qc_synth_config_parse(struct qc_synth_config *cfg, const char *opts, struct qc_err *err)
{
    struct qc_synth_config c = *cfg;
    const char *p = opts ? opts : "";

    while (*p) {
        const char *end = strchr(p, ':'), *eq = memchr(p, '=', end ? (size_t)(end - p) : strlen(p));
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (!eq)
            return qc_err_set(err, QC_EINVAL, "/name",
                              "synthetic: option '%.*s' is not key=value (keys: c, h, w, "
                              "classes, train, test, noise, shift)",
                              (int)len, p);
        size_t klen = (size_t)(eq - p), vlen = len - klen - 1;
        const char *v = eq + 1;
        int64_t x = 0;
        int rc;
#define KEY(s) (klen == sizeof(s) - 1 && memcmp(p, s, klen) == 0)
        if (KEY("noise")) {
            char buf[32], *e;
            if (vlen == 0 || vlen >= sizeof buf)
                return qc_err_set(err, QC_EINVAL, "/name", "synthetic: noise needs a number");
            memcpy(buf, v, vlen);
            buf[vlen] = '\0';
            c.noise = strtod(buf, &e);
            if (*e)
                return qc_err_set(err, QC_EINVAL, "/name", "synthetic: noise=%s is not a number",
                                  buf);
        } else if (KEY("c") || KEY("h") || KEY("w") || KEY("classes") || KEY("shift")) {
            char key[8];
            snprintf(key, sizeof key, "%.*s", (int)klen, p);
            if ((rc = parse_int(&x, key, v, vlen, err)))
                return rc;
            /* Clamp before narrowing; validate() then reports the real range. */
            int xi = x < -1 ? -1 : x > INT32_MAX ? INT32_MAX : (int)x;
            if (KEY("c"))
                c.c = xi;
            else if (KEY("h"))
                c.h = xi;
            else if (KEY("w"))
                c.w = xi;
            else if (KEY("classes"))
                c.classes = xi;
            else
                c.shift = xi;
        } else if (KEY("train") || KEY("test")) {
            if ((rc = parse_int(&x, KEY("train") ? "train" : "test", v, vlen, err)))
                return rc;
            if (KEY("train"))
                c.n_train = x;
            else
                c.n_test = x;
        } else {
            return qc_err_set(err, QC_EINVAL, "/name",
                              "synthetic: unknown option '%.*s' (keys: c, h, w, classes, train, "
                              "test, noise, shift)",
                              (int)klen, p);
        }
#undef KEY
        p = end ? end + 1 : p + len;
    }
    int rc = validate(&c, err);
    if (rc == QC_OK)
        *cfg = c;
    return rc;
}

static double unit(uint64_t r)
{
    return (double)(r >> 11) * 0x1p-53;
}

/* Class k's blobs: centres in the middle 60% of the image, radii 8-20% of
 * the shorter side, strengths 0.5-1, colours 0.2-1 per channel. */
static void make_protos(struct blob *protos, const struct qc_synth_config *cfg, uint64_t key)
{
    double side = cfg->h < cfg->w ? cfg->h : cfg->w;
    for (int k = 0; k < cfg->classes; k++)
        for (int b = 0; b < BLOBS; b++) {
            struct blob *bl = &protos[k * BLOBS + b];
            uint64_t base = ((uint64_t)k * BLOBS + (uint64_t)b) * 8;
            double s = side * (0.08 + 0.12 * unit(qc_rng_u64(key, PROTO_STREAM, base + 2)));
            bl->cy = (cfg->h - 1) * (0.2 + 0.6 * unit(qc_rng_u64(key, PROTO_STREAM, base)));
            bl->cx = (cfg->w - 1) * (0.2 + 0.6 * unit(qc_rng_u64(key, PROTO_STREAM, base + 1)));
            bl->inv_s2 = 1.0 / (s * s);
            bl->amp = 0.5 + 0.5 * unit(qc_rng_u64(key, PROTO_STREAM, base + 3));
            for (int ch = 0; ch < QC_DATASET_MAX_CHANNELS; ch++)
                bl->colour[ch] =
                    cfg->c == 1
                        ? 1.0
                        : 0.2 + 0.8 * unit(qc_rng_u64(key, PROTO_STREAM, base + 4 + (uint64_t)ch));
        }
}

/* One sample. The blob profile 1/(1 + d^2/s^2)^2 is a soft bump built from
 * +, *, / alone, which IEEE 754 rounds the same everywhere; noise is a sum
 * of four 16-bit uniforms (Irwin-Hall, close to normal), scaled to unit
 * variance. */
static uint8_t make_sample(uint8_t *px, const struct blob *protos,
                           const struct qc_synth_config *cfg, uint64_t key, enum qc_split split,
                           int64_t i)
{
    const uint64_t stream = SAMPLE_TAG(split) | (uint64_t)i;
    const uint64_t rl = qc_rng_u64(key, stream, 0), rs = qc_rng_u64(key, stream, 1);
    const int label = (int)(((rl >> 32) * (uint64_t)cfg->classes) >> 32);
    const int span = 2 * cfg->shift + 1;
    const int dy = (int)((rs & 0xffff) % (uint64_t)span) - cfg->shift;
    const int dx = (int)(((rs >> 16) & 0xffff) % (uint64_t)span) - cfg->shift;
    const double strength = 0.7 + 0.3 * (double)(rs >> 32) * 0x1p-32; /* bits apart from dy, dx */
    const struct blob *bl = &protos[label * BLOBS];
    const double noise_scale = cfg->noise * 1.7320508075688772; /* sqrt(12 / 4) */
    uint64_t p = 0;

    for (int ch = 0; ch < cfg->c; ch++)
        for (int y = 0; y < cfg->h; y++)
            for (int x = 0; x < cfg->w; x++, p++) {
                double v = 0.0;
                for (int b = 0; b < BLOBS; b++) {
                    double ey = y - dy - bl[b].cy, ex = x - dx - bl[b].cx;
                    double q = 1.0 + (ey * ey + ex * ex) * bl[b].inv_s2;
                    v += bl[b].amp * bl[b].colour[ch] / (q * q);
                }
                if (v > 1.0)
                    v = 1.0;
                uint64_t r = qc_rng_u64(key, stream, 2 + p);
                double g = (double)(r & 0xffff) + (double)((r >> 16) & 0xffff) +
                           (double)((r >> 32) & 0xffff) + (double)(r >> 48);
                g = g * 0x1p-16 - 2.0;
                double level = BACKGROUND + (1.0 - BACKGROUND) * strength * v + noise_scale * g;
                double pix = level * 255.0 + 0.5;
                *px++ = pix <= 0.0 ? 0 : pix >= 255.0 ? 255 : (uint8_t)pix;
            }
    return (uint8_t)label;
}

int qc_dataset_synth(struct qc_dataset *out, const struct qc_synth_config *cfg, enum qc_split split,
                     int64_t limit, uint64_t seed, struct qc_err *err)
{
    struct blob *protos = NULL;
    uint8_t *pixels = NULL, *labels = NULL;
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = validate(cfg, err)))
        goto out;
    if (split != QC_SPLIT_TRAIN && split != QC_SPLIT_TEST) {
        rc = qc_err_set(err, QC_EINVAL, "/split", "split %d is neither train nor test", (int)split);
        goto out;
    }
    if (limit < 0) {
        rc = qc_err_set(err, QC_EINVAL, "/limit", "limit %lld is negative", (long long)limit);
        goto out;
    }
    int64_t total = split == QC_SPLIT_TRAIN ? cfg->n_train : cfg->n_test;
    int64_t n = limit > 0 && limit < total ? limit : total;
    int64_t img = (int64_t)cfg->c * cfg->h * cfg->w;
    protos = malloc((size_t)cfg->classes * BLOBS * sizeof *protos);
    pixels = malloc((size_t)(n * img));
    labels = malloc((size_t)n);
    if (!protos || !pixels || !labels) {
        rc = qc_err_set(err, QC_ENOMEM, "", "synthetic: out of memory for %lld images",
                        (long long)n);
        goto out;
    }
    /* A key of our own, so the user's seed reused for rounding or
     * shuffling draws unrelated bits. */
    uint64_t key = qc_rng_u64(seed, DOMAIN_SYNTH, 0);
    make_protos(protos, cfg, key);
    for (int64_t i = 0; i < n; i++)
        labels[i] = make_sample(pixels + i * img, protos, cfg, key, split, i);

    out->n = n;
    out->c = cfg->c;
    out->h = cfg->h;
    out->w = cfg->w;
    out->classes = cfg->classes;
    out->pixels = pixels;
    out->labels = labels;
    for (int ch = 0; ch < QC_DATASET_MAX_CHANNELS; ch++) {
        out->mean[ch] = 0.0f;
        out->std[ch] = 1.0f;
    }
    pixels = labels = NULL;
    rc = QC_OK;
out:
    free(protos);
    free(pixels);
    free(labels);
    return rc;
}
