/* Building a net: layers appended with their shapes checked, then one
 * allocation pass for the flat parameters and the batch-sized buffers, and
 * the per-GEMM MAC of every layer resolved once. */
#include "nn_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/round.h"

int qc_net_init(struct qc_net *net, int64_t c, int64_t h, int64_t w, int64_t batch,
                struct qc_backend *be)
{
    memset(net, 0, sizeof *net);
    if (c < 1 || h < 1 || w < 1 || batch < 1 || c * h * w > (INT64_C(1) << 24) || batch > 65536)
        return QC_EINVAL;
    struct qc_layer *in = &net->layers[0];
    in->kind = QC_LAYER_INPUT;
    snprintf(in->name, sizeof in->name, "input");
    in->c = c;
    in->h = h;
    in->w = w;
    in->in[0] = in->in[1] = -1;
    net->n = 1;
    net->batch = batch;
    net->be = be;
    net->mem = qc_backend_mem(be);
    return QC_OK;
}

/* Appends a layer reading layer `from`; returns it or NULL (err set). */
static struct qc_layer *append(struct qc_net *net, enum qc_layer_kind kind, const char *name,
                               int from, struct qc_err *err)
{
    if (net->n >= QC_NN_MAX_LAYERS) {
        qc_err_set(err, QC_EINVAL, "model", "more than %d layers", QC_NN_MAX_LAYERS);
        return NULL;
    }
    if (from < 0 || from >= net->n) {
        qc_err_set(err, QC_EINVAL, "model", "layer '%s' reads missing layer %d", name, from);
        return NULL;
    }
    if (qc_net_find(net, name) >= 0) {
        qc_err_set(err, QC_EINVAL, "model", "duplicate layer name '%s'", name);
        return NULL;
    }
    struct qc_layer *l = &net->layers[net->n];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    snprintf(l->name, sizeof l->name, "%s", name);
    l->in[0] = from;
    l->in[1] = -1;
    l->dense = net->layers[from].dense;
    l->c = net->layers[from].c;
    l->h = net->layers[from].h;
    l->w = net->layers[from].w;
    return l;
}

static int commit(struct qc_net *net)
{
    return net->n++;
}

int qc_net_find(const struct qc_net *net, const char *name)
{
    for (int i = 0; i < net->n; i++)
        if (strcmp(net->layers[i].name, name) == 0)
            return i;
    return -1;
}

static int64_t out_extent(int64_t in, int64_t k, int64_t stride, int64_t pad)
{
    return in + 2 * pad < k ? 0 : (in + 2 * pad - k) / stride + 1;
}

int qc_net_add_conv(struct qc_net *net, const char *name, int from, int64_t out_c, int64_t k,
                    int64_t stride, int64_t pad, bool bias, struct qc_err *err)
{
    struct qc_layer *l = append(net, QC_LAYER_CONV, name, from, err);

    if (!l)
        return err->code;
    if (l->dense)
        return qc_err_set(err, QC_EINVAL, "model", "conv '%s' after a dense layer", name);
    if (out_c < 1 || k < 1 || stride < 1 || pad < 0 || out_c > 65536 || k > 64)
        return qc_err_set(err, QC_EINVAL, "model", "conv '%s': bad geometry", name);
    l->k = k;
    l->stride = stride;
    l->pad = pad;
    l->bias = bias;
    l->w_len = out_c * l->c * k * k;
    l->b_len = bias ? out_c : 0;
    l->c = out_c;
    l->h = out_extent(net->layers[from].h, k, stride, pad);
    l->w = out_extent(net->layers[from].w, k, stride, pad);
    if (l->h < 1 || l->w < 1)
        return qc_err_set(err, QC_EINVAL, "model", "conv '%s': kernel %lld larger than its input",
                          name, (long long)k);
    return commit(net);
}

int qc_net_add_linear(struct qc_net *net, const char *name, int from, int64_t out_features,
                      struct qc_err *err)
{
    struct qc_layer *l = append(net, QC_LAYER_LINEAR, name, from, err);

    if (!l)
        return err->code;
    if (!l->dense)
        return qc_err_set(err, QC_EINVAL, "model", "linear '%s' needs a flatten before it", name);
    if (out_features < 1 || out_features > 65536)
        return qc_err_set(err, QC_EINVAL, "model", "linear '%s': bad width", name);
    l->bias = true;
    l->w_len = out_features * l->c;
    l->b_len = out_features;
    l->c = out_features;
    return commit(net);
}

int qc_net_add_simple(struct qc_net *net, enum qc_layer_kind kind, const char *name, int from,
                      int64_t k, int64_t stride, struct qc_err *err)
{
    struct qc_layer *l = append(net, kind, name, from, err);

    if (!l)
        return err->code;
    switch (kind) {
    case QC_LAYER_RELU:
        break;
    case QC_LAYER_MAXPOOL:
    case QC_LAYER_AVGPOOL:
        if (l->dense)
            return qc_err_set(err, QC_EINVAL, "model", "pooling '%s' after a dense layer", name);
        if (k == 0 && kind == QC_LAYER_AVGPOOL) { /* global */
            k = l->h > l->w ? l->h : l->w;
            stride = 1;
            if (l->h != l->w)
                return qc_err_set(err, QC_EINVAL, "model", "global pool '%s' needs square input",
                                  name);
        }
        if (k < 1 || stride < 1 || k > l->h || k > l->w)
            return qc_err_set(err, QC_EINVAL, "model", "pool '%s': bad geometry", name);
        l->k = k;
        l->stride = stride;
        l->h = out_extent(l->h, k, stride, 0);
        l->w = out_extent(l->w, k, stride, 0);
        break;
    case QC_LAYER_BATCHNORM:
        if (l->dense)
            return qc_err_set(err, QC_EINVAL, "model", "batchnorm '%s' after a dense layer", name);
        l->w_len = l->b_len = l->c; /* gamma, beta */
        break;
    case QC_LAYER_FLATTEN:
        l->c = l->c * l->h * l->w;
        l->h = l->w = 1;
        l->dense = true;
        break;
    default:
        return qc_err_set(err, QC_EINVAL, "model", "'%s': not a simple layer kind", name);
    }
    return commit(net);
}

int qc_net_add_residual(struct qc_net *net, const char *name, int a, int b, struct qc_err *err)
{
    struct qc_layer *l = append(net, QC_LAYER_ADD, name, a, err);

    if (!l)
        return err->code;
    if (b < 0 || b >= net->n)
        return qc_err_set(err, QC_EINVAL, "model", "add '%s' reads missing layer %d", name, b);
    const struct qc_layer *lb = &net->layers[b];
    if (lb->c != l->c || lb->h != l->h || lb->w != l->w || lb->dense != l->dense)
        return qc_err_set(err, QC_EINVAL, "model", "add '%s': shapes of its inputs differ", name);
    l->in[1] = b;
    return commit(net);
}

static int64_t per_sample(const struct qc_layer *l)
{
    return l->c * l->h * l->w;
}

/* The gradients' buffers. In the backward pass (layers from last to
 * first) a layer's gradient is live from its first write -- the pass's
 * start for the logits (the loss writes them), else the backward of its
 * last reader (which zeroes a residual source's first) -- to its own
 * backward, which reads it. Layers whose live spans do not meet share a
 * buffer (first fit over the spans by start), which halves a deep net's
 * memory: at any time only the gradients around the layer in progress and
 * those of residual sources between their readers are live. */
static int share_grads(struct qc_net *net, const struct qc_backend_mem *mem)
{
    int start[QC_NN_MAX_LAYERS], owner[QC_NN_MAX_LAYERS], order[QC_NN_MAX_LAYERS];
    int free_at[QC_NN_MAX_LAYERS]; /* a buffer is free for spans starting below this */
    int64_t cap[QC_NN_MAX_LAYERS];
    const int n = net->n;
    int nbuf = 0;

    for (int i = 0; i < n; i++) {
        const struct qc_layer *l = &net->layers[i];
        start[i] = i == n - 1 ? n : l->last_reader > i ? l->last_reader : i;
        order[i] = i;
    }
    /* by start, latest first (insertion sort: at most QC_NN_MAX_LAYERS) */
    for (int a = 1; a < n; a++)
        for (int b = a; b > 0 && start[order[b]] > start[order[b - 1]]; b--) {
            const int t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    for (int a = 0; a < n; a++) {
        const int i = order[a];
        const int64_t len = net->batch * per_sample(&net->layers[i]);
        int pick = -1;
        for (int b = 0; b < nbuf && pick < 0; b++)
            if (free_at[b] > start[i])
                pick = b;
        if (pick < 0) {
            pick = nbuf++;
            cap[pick] = 0;
        }
        owner[i] = pick;
        free_at[pick] = i; /* the span ends at this layer's own backward */
        cap[pick] = len > cap[pick] ? len : cap[pick];
    }
    /* counted as they come, so that qc_net_free releases a partial set */
    for (net->ngrad_bufs = 0; net->ngrad_bufs < nbuf; net->ngrad_bufs++) {
        const int b = net->ngrad_bufs;
        if (!(net->grad_bufs[b] = mem->alloc(((size_t)cap[b] + 1) * sizeof(float))))
            return QC_ENOMEM;
    }
    for (int i = 0; i < n; i++)
        net->layers[i].grad = net->grad_bufs[owner[i]];
    return QC_OK;
}

int qc_net_finalize(struct qc_net *net, struct qc_err *err)
{
    int64_t np = 0, ns = 0, wt = 0, dx = 0;
    const int64_t B = net->batch;
    const struct qc_backend_mem *mem = net->mem ? net->mem : qc_backend_mem(NULL);

    for (int i = 1; i < net->n; i++) {
        struct qc_layer *l = &net->layers[i];
        l->w_off = np;
        np += l->w_len;
        l->b_off = np;
        np += l->b_len;
        if (l->kind == QC_LAYER_BATCHNORM)
            ns += 2 * l->c;
    }
    for (int i = 1; i < net->n; i++)
        for (int j = 0; j < 2; j++)
            if (net->layers[i].in[j] >= 0) {
                net->layers[net->layers[i].in[j]].nuse++;
                net->layers[net->layers[i].in[j]].last_reader = i;
            }
    /* Layers come in topological order: an output's gradient matters when
     * its layer or one feeding it has parameters. */
    for (int i = 1; i < net->n; i++) {
        struct qc_layer *l = &net->layers[i];
        l->grad_needed = l->w_len > 0 || l->b_len > 0;
        for (int j = 0; j < 2; j++)
            if (l->in[j] >= 0 && net->layers[l->in[j]].grad_needed)
                l->grad_needed = true;
    }
    net->nparams = np;
    net->nstate = ns;
    net->params = mem->alloc(((size_t)np + 1) * sizeof(float));
    net->grads = mem->alloc(((size_t)np + 1) * sizeof(float));
    net->state = mem->alloc(((size_t)ns + 1) * sizeof(float));
    if (!net->params || !net->grads || !net->state)
        goto oom;
    ns = 0;
    for (int i = 0; i < net->n; i++) {
        struct qc_layer *l = &net->layers[i];
        const size_t len = (size_t)(B * per_sample(l));
        l->out = mem->alloc((len + 1) * sizeof(float));
        if (!l->out)
            goto oom;
        const struct qc_layer *in = i > 0 ? &net->layers[l->in[0]] : NULL;
        switch (l->kind) {
        case QC_LAYER_CONV: {
            /* grad-input: the filters as in->c x (oc x k x k) */
            const int64_t g = in->c * l->c * l->k * l->k;
            wt = g > wt ? g : wt;
        }
            /* fall through */
        case QC_LAYER_LINEAR:
            /* a residual source adds this gradient to another */
            if (in->nuse > 1 && B * per_sample(in) > dx)
                dx = B * per_sample(in);
            break;
        case QC_LAYER_MAXPOOL:
            l->argmax = mem->alloc((len + 1) * sizeof(int32_t));
            if (!l->argmax)
                goto oom;
            break;
        case QC_LAYER_BATCHNORM:
            l->saved = mem->alloc((len + 1) * sizeof(float));
            l->bn_bmean = mem->alloc((size_t)l->c * sizeof(float));
            l->bn_binv = mem->alloc((size_t)l->c * sizeof(float));
            l->bn_sums = mem->alloc((size_t)l->c * 2 * sizeof(double));
            l->bn_mean = net->state + ns;
            l->bn_var = net->state + ns + l->c;
            ns += 2 * l->c;
            if (!l->saved || !l->bn_bmean || !l->bn_binv || !l->bn_sums)
                goto oom;
            break;
        default:
            break;
        }
    }
    if (share_grads(net, mem))
        goto oom;
    net->scratch_len = wt + dx;
    net->scratch = mem->alloc(((size_t)(wt + dx) + 1) * sizeof(float));
    net->flag = mem->alloc(sizeof *net->flag);
    if (!net->scratch || !net->flag)
        goto oom;
    return QC_OK;
oom:
    qc_net_free(net);
    return qc_err_set(err, QC_ENOMEM, "", "out of %s memory for the network's buffers", mem->what);
}

void qc_net_free(struct qc_net *net)
{
    const struct qc_backend_mem *mem = net->mem ? net->mem : qc_backend_mem(NULL);

    for (int i = 0; i < net->n; i++) {
        struct qc_layer *l = &net->layers[i];
        mem->free(l->out);
        mem->free(l->saved);
        mem->free(l->argmax);
        mem->free(l->bn_bmean);
        mem->free(l->bn_binv);
        mem->free(l->bn_sums);
        l->out = l->grad = l->saved = l->bn_bmean = l->bn_binv = NULL;
        l->argmax = NULL;
        l->bn_sums = NULL;
    }
    if (net->scale_slots)
        for (int i = 0; i < net->n * QC_NN_SCALE_SLOTS; i++)
            qc_scale_slot_free(&net->scale_slots[i]);
    free(net->scale_slots);
    net->scale_slots = NULL;
    mem->free(net->params);
    mem->free(net->grads);
    mem->free(net->state);
    mem->free(net->scratch);
    for (int b = 0; b < net->ngrad_bufs; b++) {
        mem->free(net->grad_bufs[b]);
        net->grad_bufs[b] = NULL;
    }
    net->ngrad_bufs = 0;
    mem->free(net->flag);
    net->flag = NULL;
    net->params = net->grads = net->state = net->scratch = NULL;
    for (int i = 0; i < 2; i++) {
        free(net->scale_buf[i]);
        net->scale_buf[i] = NULL;
        net->scale_len[i] = 0;
    }
    net->n = 0;
}

void qc__nn_operands(const struct qc_layer *l, enum qc_gemm_group g, const struct qc_format **a,
                     const struct qc_format **b)
{
    const struct qc_nn_arith *ar = &l->arith;
    const bool conv = l->kind == QC_LAYER_CONV;

    switch (g) {
    case QC_GEMM_FWD: /* conv: W x cols; linear: X x W^T */
        *a = conv ? &ar->weights : &ar->activations;
        *b = conv ? &ar->activations : &ar->weights;
        break;
    case QC_GEMM_BWD: /* conv: W' x gathered dY; linear: dY x W */
        *a = conv ? &ar->weights : &ar->errors;
        *b = conv ? &ar->errors : &ar->weights;
        break;
    default: /* both: dY x activations^T */
        *a = &ar->errors;
        *b = &ar->activations;
        break;
    }
}

static int resolve_layer(struct qc_layer *l, struct qc_err *err)
{
    if (l->kind != QC_LAYER_CONV && l->kind != QC_LAYER_LINEAR)
        return QC_OK;
    for (int g = 0; g < QC_GEMM_GROUPS; g++) {
        const struct qc_format *a, *b;
        struct qc_mac *m = &l->gm[g];
        qc__nn_operands(l, (enum qc_gemm_group)g, &a, &b);
        *m = l->arith.mac[g];
        m->a = *a;
        m->b = *b;
        int rc = qc_mac_resolve(m, err);
        if (rc) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg); /* not both source and target */
            return qc_err_set(err, rc, "arith", "layer '%s': %s", l->name, msg);
        }
    }
    return QC_OK;
}

int qc_net_set_arith(struct qc_net *net, const struct qc_nn_arith *a, struct qc_err *err)
{
    for (int i = 1; i < net->n; i++) {
        net->layers[i].arith = *a;
        int rc = resolve_layer(&net->layers[i], err);
        if (rc)
            return rc;
    }
    return QC_OK;
}

int qc_net_set_layer_arith(struct qc_net *net, const char *name, const struct qc_nn_arith *a,
                           struct qc_err *err)
{
    int i = qc_net_find(net, name);

    if (i <= 0)
        return qc_err_set(err, QC_EINVAL, "layers", "no layer named '%s'", name);
    net->layers[i].arith = *a;
    return resolve_layer(&net->layers[i], err);
}

void qc_net_init_params(struct qc_net *net, uint64_t seed)
{
    for (int i = 1; i < net->n; i++) {
        struct qc_layer *l = &net->layers[i];
        float *w = net->params + l->w_off, *b = net->params + l->b_off;
        if (l->kind == QC_LAYER_BATCHNORM) {
            for (int64_t j = 0; j < l->c; j++) {
                w[j] = 1.0f;
                b[j] = 0.0f;
                l->bn_mean[j] = 0.0f;
                l->bn_var[j] = 1.0f;
            }
            continue;
        }
        if (l->w_len == 0)
            continue;
        /* Kaiming normal (fan-in, gain sqrt 2) by Box-Muller on Philox bits
         * keyed by (seed, layer, element): reproducible and thread-free. */
        const int64_t fan_in = l->w_len / l->c;
        const double sd = sqrt(2.0 / (double)fan_in);
        for (int64_t j = 0; j < l->w_len; j++) {
            uint64_t r = qc_rng_u64(seed, (uint64_t)i, (uint64_t)j);
            double u1 = ((double)(r >> 40) + 0.5) * 0x1p-24, u2 = (double)(r & 0xffffff) * 0x1p-24;
            w[j] = (float)(sd * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
        }
        for (int64_t j = 0; j < l->b_len; j++)
            b[j] = 0.0f;
    }
}
