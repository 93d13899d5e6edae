/* The arith section of the experiment spec: tensor formats, the MAC of each
 * GEMM group, update formats and per-layer overrides, merged key by key and
 * resolved through qc_mac_resolve, so a spec is refused at submission when
 * any layer's arithmetic could not run. */
#include "spec_impl.h"

#include <stdio.h>
#include <string.h>

static const char *const PRODUCT_WORDS[] = {"auto", "exact", NULL};
static const char *const ACC_WORDS[] = {"native", NULL};
/* In enum qc_scale_rule order; the names qc_scale_rule_parse accepts. */
static const char *const SCALE_RULES[] = {"floor", "ceil", "round", NULL};

static void mac_defaults(struct qc_spec_mac *m)
{
    memset(m, 0, sizeof *m);
    m->set = QC_SPEC_MAC_ALL;
    m->cfg = 1;
    snprintf(m->product, sizeof m->product, "auto");
    snprintf(m->acc, sizeof m->acc, "fp32");
    qc_round_parse(&m->acc_rounding, "rne", NULL);
}

/* Copies the keys `src` sets over `dst`. */
static void mac_apply(struct qc_spec_mac *dst, const struct qc_spec_mac *src)
{
    if (src->set & QC_SPEC_MAC_CFG)
        dst->cfg = src->cfg;
    if (src->set & QC_SPEC_MAC_PRODUCT)
        memcpy(dst->product, src->product, sizeof dst->product);
    if (src->set & QC_SPEC_MAC_ACC)
        memcpy(dst->acc, src->acc, sizeof dst->acc);
    if (src->set & QC_SPEC_MAC_ACC_ROUNDING)
        dst->acc_rounding = src->acc_rounding;
    if (src->set & QC_SPEC_MAC_CHUNK)
        dst->chunk = src->chunk;
    if (src->set & QC_SPEC_MAC_FUSED)
        dst->fused = src->fused;
    if (src->set & QC_SPEC_MAC_SEED)
        dst->seed = src->seed;
    dst->set |= src->set;
}

/* A MAC object at parent[key], keys given recorded in out->set (zeroed first). */
static int parse_mac(struct qc_spec_mac *out, const struct qc__jobj *parent, const char *key,
                     struct qc_err *err)
{
    struct qc__jobj o;
    struct qc_format f;
    const char *word;
    char rounding[32], ptr[QC_SPEC_PTR_MAX];
    int64_t x;
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = qc__spec_object(&o, parent, key, false, err)) <= 0)
        return rc;
    if ((rc = qc__spec_int(&x, &o, "cfg", 1, 6, err)) < 0)
        return rc;
    if (rc) {
        out->cfg = (int)x;
        out->set |= QC_SPEC_MAC_CFG;
    }
    if ((rc = qc__spec_format(&f, &word, &o, "product", PRODUCT_WORDS, false, err)) < 0)
        return rc;
    if (rc) {
        snprintf(out->product, sizeof out->product, "%s", word ? word : f.name);
        out->set |= QC_SPEC_MAC_PRODUCT;
    }
    if ((rc = qc__spec_format(&f, &word, &o, "acc", ACC_WORDS, false, err)) < 0)
        return rc;
    if (rc) {
        snprintf(out->acc, sizeof out->acc, "%s", word ? word : f.name);
        out->set |= QC_SPEC_MAC_ACC;
    }
    if ((rc = qc__spec_string(rounding, sizeof rounding, &o, "acc_rounding", QC__CHARS_TEXT, false,
                              false, err)) < 0)
        return rc;
    if (rc) {
        if ((rc = qc_round_parse(&out->acc_rounding, rounding, err))) {
            qc__spec_ptr(ptr, sizeof ptr, o.ptr, "acc_rounding");
            if (err)
                qc__spec_copy(err->field, sizeof err->field, ptr);
            return rc;
        }
        out->set |= QC_SPEC_MAC_ACC_ROUNDING;
    }
    if ((rc = qc__spec_int(&x, &o, "chunk", 0, INT64_C(1) << 40, err)) < 0)
        return rc;
    if (rc) {
        out->chunk = x;
        out->set |= QC_SPEC_MAC_CHUNK;
    }
    if ((rc = qc__spec_bool(&out->fused, &o, "fused", err)) < 0)
        return rc;
    if (rc)
        out->set |= QC_SPEC_MAC_FUSED;
    if ((rc = qc__spec_int(&x, &o, "seed", 0, INT64_MAX, err)) < 0)
        return rc;
    if (rc) {
        out->seed = (uint64_t)x;
        out->set |= QC_SPEC_MAC_SEED;
    }
    return QC_OK;
}

/* Where the errors of one GEMM's MAC belong. */
struct gemm_ptrs {
    const char *what;          /* "forward", "grad-input", "grad-weight" */
    char mac[QC_SPEC_PTR_MAX]; /* the MAC object */
    char a[QC_SPEC_PTR_MAX];   /* the tensor format that is operand a */
    char b[QC_SPEC_PTR_MAX];   /* ... operand b */
};

/* Moves an error qc_mac_resolve filed under a MAC key ("product", "a") to
 * the spec's JSON pointer, and drops the "key: " that starts its message. */
static int relocate(struct qc_err *err, int rc, const struct gemm_ptrs *p)
{
    char key[32], msg[sizeof err->msg];
    const char *body;

    if (!err)
        return rc;
    qc__spec_copy(key, sizeof key, err->field);
    const size_t n = strlen(key);
    body = err->msg;
    if (n && strncmp(body, key, n) == 0 && body[n] == ':' && body[n + 1] == ' ')
        body += n + 2;
    if (strcmp(key, "a") == 0 || strcmp(key, "b") == 0) {
        if (snprintf(msg, sizeof msg, "as operand %s of the %s MAC: %s", key, p->what, body) < 0)
            msg[0] = '\0';
        qc__spec_copy(err->field, sizeof err->field, key[0] == 'a' ? p->a : p->b);
    } else {
        qc__spec_copy(msg, sizeof msg, body);
        if (n)
            qc__spec_ptr(err->field, sizeof err->field, p->mac, key);
        else
            qc__spec_copy(err->field, sizeof err->field, p->mac);
    }
    memcpy(err->msg, msg, sizeof msg);
    return rc;
}

/* The resolved MAC of a configuration for operands a x b. */
static int mac_build(struct qc_mac *out, const struct qc_spec_mac *c, const struct qc_format *a,
                     const struct qc_format *b, const struct gemm_ptrs *p, struct qc_err *err)
{
    struct qc_mac m;
    int rc;

    qc_mac_init(&m);
    m.cfg = c->cfg;
    m.a = *a;
    m.b = *b;
    /* The names were parsed before (canonical names parse back), so these
     * fail only for a struct edited by hand; the parser's message stands. */
    if (strcmp(c->product, "exact") == 0) {
        m.prod_exact = true;
    } else if (strcmp(c->product, "auto") != 0 &&
               (rc = qc_format_parse(&m.prod, c->product, err))) {
        if (err)
            snprintf(err->field, sizeof err->field, "product");
        return relocate(err, rc, p);
    }
    if (strcmp(c->acc, "native") == 0) {
        m.native = true;
    } else if ((rc = qc_format_parse(&m.acc, c->acc, err))) {
        if (err)
            snprintf(err->field, sizeof err->field, "acc");
        return relocate(err, rc, p);
    }
    m.acc_round = c->acc_rounding;
    m.acc_round.seed = c->seed;
    m.chunk = c->chunk;
    m.fused = c->fused;
    if ((rc = qc_mac_resolve(&m, err)))
        return relocate(err, rc, p);
    *out = m;
    return QC_OK;
}

static void gemm_ptrs(struct gemm_ptrs *p, const char *prefix, int group)
{
    static const struct {
        const char *what, *mac, *a, *b;
    } rows[QC_GEMM_GROUPS] = {
        [QC_GEMM_FWD] = {"forward", "/forward/mac", "/forward/activations", "/forward/weights"},
        [QC_GEMM_BWD] = {"grad-input", "/backward/mac", "/backward/errors", "/forward/weights"},
        [QC_GEMM_WGRAD] = {"grad-weight", "/backward/wgrad_mac", "/backward/errors",
                           "/forward/activations"},
    };
    p->what = rows[group].what;
    snprintf(p->mac, sizeof p->mac, "%s%s", prefix, rows[group].mac);
    snprintf(p->a, sizeof p->a, "%s%s", prefix, rows[group].a);
    snprintf(p->b, sizeof p->b, "%s%s", prefix, rows[group].b);
}

/* The arithmetic of a layer with override `l` (NULL: none), from the
 * configured fields of `a`. Errors are filed under the override when there
 * is one: the global arith alone resolved. */
static int effective(struct qc_nn_arith *out, const struct qc_spec_arith *a,
                     const struct qc_spec_layer *l, struct qc_err *err)
{
    struct qc_spec_mac cfg[QC_GEMM_GROUPS] = {a->forward_mac, a->backward_mac, a->wgrad_mac};
    char prefix[QC_SPEC_PTR_MAX] = "/arith";
    struct gemm_ptrs p;
    int rc;

    out->weights = a->weights;
    out->activations = a->activations;
    out->errors = a->errors;
    if (l) {
        qc__spec_ptr(prefix, sizeof prefix, "/arith/layers", l->name);
        if (l->set & QC_SPEC_LAYER_WEIGHTS)
            out->weights = l->weights;
        if (l->set & QC_SPEC_LAYER_ACTIVATIONS)
            out->activations = l->activations;
        if (l->set & QC_SPEC_LAYER_ERRORS)
            out->errors = l->errors;
        mac_apply(&cfg[QC_GEMM_FWD], &l->forward_mac);
        mac_apply(&cfg[QC_GEMM_BWD], &l->backward_mac);
        mac_apply(&cfg[QC_GEMM_WGRAD], &l->backward_mac);
        mac_apply(&cfg[QC_GEMM_WGRAD], &l->wgrad_mac);
    }
    const struct qc_format *ops[QC_GEMM_GROUPS][2] = {
        [QC_GEMM_FWD] = {&out->activations, &out->weights},
        [QC_GEMM_BWD] = {&out->errors, &out->weights},
        [QC_GEMM_WGRAD] = {&out->errors, &out->activations},
    };
    for (int g = 0; g < QC_GEMM_GROUPS; g++) {
        gemm_ptrs(&p, prefix, g);
        if ((rc = mac_build(&out->mac[g], &cfg[g], ops[g][0], ops[g][1], &p, err)))
            return rc;
    }
    return QC_OK;
}

static int read_format(struct qc_format *f, const struct qc__jobj *o, const char *key,
                       unsigned *set, unsigned bit, struct qc_err *err)
{
    int rc = qc__spec_format(f, NULL, o, key, NULL, false, err);

    if (rc > 0 && set)
        *set |= bit;
    return rc;
}

static int parse_layer(struct qc_spec_layer *l, const struct qc__jobj *layers, const char *name,
                       struct qc_err *err)
{
    struct qc__jobj o, fwd, bwd;
    char ptr[QC_SPEC_PTR_MAX];
    const size_t n = strlen(name);
    int rc;

    qc__spec_ptr(ptr, sizeof ptr, layers->ptr, name);
    if (n == 0 || n > QC_SPEC_NAME_MAX ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
        return qc_err_set(err, QC_EINVAL, ptr,
                          "layer name '%.48s%s' must be 1..%d letters, digits, '_', '.' or '-'",
                          name, n > 48 ? "..." : "", QC_SPEC_NAME_MAX);
    memset(l, 0, sizeof *l);
    memcpy(l->name, name, n + 1);
    if ((rc = qc__spec_object(&o, layers, name, true, err)) < 0 ||
        (rc = qc__spec_object(&fwd, &o, "forward", false, err)) < 0 ||
        (rc = read_format(&l->weights, &fwd, "weights", &l->set, QC_SPEC_LAYER_WEIGHTS, err)) < 0 ||
        (rc = read_format(&l->activations, &fwd, "activations", &l->set, QC_SPEC_LAYER_ACTIVATIONS,
                          err)) < 0 ||
        (rc = parse_mac(&l->forward_mac, &fwd, "mac", err)) < 0 ||
        (rc = qc__spec_object(&bwd, &o, "backward", false, err)) < 0 ||
        (rc = read_format(&l->errors, &bwd, "errors", &l->set, QC_SPEC_LAYER_ERRORS, err)) < 0 ||
        (rc = parse_mac(&l->backward_mac, &bwd, "mac", err)) < 0 ||
        (rc = parse_mac(&l->wgrad_mac, &bwd, "wgrad_mac", err)) < 0)
        return rc;
    return QC_OK;
}

static int parse_layers(struct qc_spec_arith *a, const struct qc__jobj *arith, struct qc_err *err)
{
    struct qc__jobj o;
    const char *name;
    json_t *v;
    int rc;

    if ((rc = qc__spec_object(&o, arith, "layers", false, err)) <= 0)
        return rc;
    if (json_object_size(o.v) > QC_SPEC_LAYERS_MAX)
        return qc_err_set(err, QC_EINVAL, o.ptr, "layers has %zu entries; at most %d are allowed",
                          json_object_size(o.v), QC_SPEC_LAYERS_MAX);
    json_object_foreach((json_t *)o.v, name, v)
    {
        if ((rc = parse_layer(&a->layers[a->nlayers], &o, name, err)) < 0)
            return rc;
        a->nlayers++;
    }
    return QC_OK;
}

int qc__spec_arith_parse(struct qc_spec_arith *a, const struct qc__jobj *root, struct qc_err *err)
{
    struct qc__jobj o, fwd, bwd, upd;
    struct qc_spec_mac given;
    int rule = QC_SCALE_FLOOR, rc;

    qc_format_parse(&a->weights, "fp32", NULL);
    a->activations = a->errors = a->master_weights = a->weights;
    mac_defaults(&a->forward_mac);
    mac_defaults(&a->backward_mac);

    if ((rc = qc__spec_object(&o, root, "arith", false, err)) < 0 ||
        (rc = qc__spec_object(&fwd, &o, "forward", false, err)) < 0 ||
        (rc = read_format(&a->weights, &fwd, "weights", NULL, 0, err)) < 0 ||
        (rc = read_format(&a->activations, &fwd, "activations", NULL, 0, err)) < 0 ||
        (rc = parse_mac(&given, &fwd, "mac", err)) < 0)
        return rc;
    mac_apply(&a->forward_mac, &given);
    if ((rc = qc__spec_object(&bwd, &o, "backward", false, err)) < 0 ||
        (rc = read_format(&a->errors, &bwd, "errors", NULL, 0, err)) < 0 ||
        (rc = parse_mac(&given, &bwd, "mac", err)) < 0)
        return rc;
    mac_apply(&a->backward_mac, &given);
    a->wgrad_mac = a->backward_mac;
    if ((rc = parse_mac(&given, &bwd, "wgrad_mac", err)) < 0)
        return rc;
    mac_apply(&a->wgrad_mac, &given);
    if ((rc = qc__spec_object(&upd, &o, "update", false, err)) < 0 ||
        (rc = read_format(&a->master_weights, &upd, "master_weights", NULL, 0, err)) < 0 ||
        (rc = qc__spec_format(&a->weight_update, NULL, &upd, "weight_update", NULL, true, err)) < 0)
        return rc;
    a->has_weight_update = rc > 0;
    if ((rc = qc__spec_format(&a->momentum, NULL, &upd, "momentum", NULL, true, err)) < 0)
        return rc;
    a->has_momentum = rc > 0;
    if ((rc = qc__spec_enum(&rule, &o, "scale_rule", SCALE_RULES, false, err)) < 0)
        return rc;
    a->scale_rule = (enum qc_scale_rule)rule;
    if ((rc = parse_layers(a, &o, err)) < 0)
        return rc;

    /* Resolve everything now, so an impossible MAC is refused at submission. */
    if ((rc = effective(&a->base, a, NULL, err)))
        return rc;
    for (int i = 0; i < a->nlayers; i++) {
        struct qc_nn_arith tmp;
        if ((rc = effective(&tmp, a, &a->layers[i], err)))
            return rc;
    }
    return QC_OK;
}

int qc_spec_layer_arith(struct qc_nn_arith *out, const struct qc_spec *s, const char *layer_name,
                        struct qc_err *err)
{
    for (int i = 0; i < s->arith.nlayers; i++)
        if (strcmp(s->arith.layers[i].name, layer_name) == 0)
            return effective(out, &s->arith, &s->arith.layers[i], err);
    *out = s->arith.base;
    return QC_OK;
}

/* Plain fp32 or wider IEEE: quantizing to it changes no fp32 value. */
static bool plain_wide(const struct qc_format *f)
{
    return f->kind == QC_FMT_FLOAT && f->ebits >= 8 && f->mbits >= 23 && f->flags == 0;
}

bool qc__spec_arith_quantized(const struct qc_spec_arith *a)
{
    if (!plain_wide(&a->weights) || !plain_wide(&a->activations) || !plain_wide(&a->errors))
        return true;
    for (int i = 0; i < a->nlayers; i++) {
        const struct qc_spec_layer *l = &a->layers[i];
        if (((l->set & QC_SPEC_LAYER_WEIGHTS) && !plain_wide(&l->weights)) ||
            ((l->set & QC_SPEC_LAYER_ACTIVATIONS) && !plain_wide(&l->activations)) ||
            ((l->set & QC_SPEC_LAYER_ERRORS) && !plain_wide(&l->errors)))
            return true;
    }
    return false;
}

static bool is_native(const struct qc_spec_mac *m)
{
    return (m->set & QC_SPEC_MAC_ACC) && strcmp(m->acc, "native") == 0;
}

const char *qc__spec_arith_native(const struct qc_spec_arith *a, char *buf, size_t len)
{
    char prefix[QC_SPEC_PTR_MAX];
    const char *where = NULL;

    if (is_native(&a->forward_mac))
        where = "/arith/forward/mac/acc";
    else if (is_native(&a->backward_mac))
        where = "/arith/backward/mac/acc";
    else if (is_native(&a->wgrad_mac))
        where = "/arith/backward/wgrad_mac/acc";
    if (where) {
        snprintf(buf, len, "%s", where);
        return buf;
    }
    for (int i = 0; i < a->nlayers; i++) {
        const struct qc_spec_layer *l = &a->layers[i];
        where = is_native(&l->forward_mac)    ? "/forward/mac/acc"
                : is_native(&l->backward_mac) ? "/backward/mac/acc"
                : is_native(&l->wgrad_mac)    ? "/backward/wgrad_mac/acc"
                                              : NULL;
        if (where) {
            qc__spec_ptr(prefix, sizeof prefix, "/arith/layers", l->name);
            snprintf(buf, len, "%s%s", prefix, where);
            return buf;
        }
    }
    return NULL;
}

int qc_spec_check_layers(const struct qc_spec *s, const struct qc_net *net, struct qc_err *err)
{
    char ptr[QC_SPEC_PTR_MAX], list[200];

    for (int i = 0; i < s->arith.nlayers; i++) {
        const char *name = s->arith.layers[i].name;
        const int k = qc_net_find(net, name);
        if (k >= 0 &&
            (net->layers[k].kind == QC_LAYER_CONV || net->layers[k].kind == QC_LAYER_LINEAR))
            continue;
        size_t n = 0;
        list[0] = '\0';
        for (int j = 0; j < net->n && n < sizeof list; j++)
            if (net->layers[j].kind == QC_LAYER_CONV || net->layers[j].kind == QC_LAYER_LINEAR)
                n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "",
                                      net->layers[j].name);
        qc__spec_ptr(ptr, sizeof ptr, "/arith/layers", name);
        if (k < 0)
            return qc_err_set(err, QC_EINVAL, ptr,
                              "%s has no layer '%s'; its layers with arithmetic are: %s",
                              qc_spec_arch_name(s->model.arch), name, list);
        return qc_err_set(err, QC_EINVAL, ptr,
                          "layer '%s' has no GEMM (only conv and linear layers have "
                          "arithmetic): %s",
                          name, list);
    }
    return QC_OK;
}
