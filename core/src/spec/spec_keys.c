/* The table of every key the experiment spec accepts, by JSON pointer. The
 * readers (spec_read.c) refuse keys it does not list, qc_spec_known_path
 * walks it, and the schema test compares it with
 * schema/experiment.schema.json, so the three cannot disagree. */
#include "spec_impl.h"

#include <stdio.h>
#include <string.h>

#define KEYS(...) ((const char *const[]){__VA_ARGS__, NULL})
static const char *const *const MAC_KEYS =
    KEYS("cfg", "product", "acc", "acc_rounding", "chunk", "fused", "seed");
static const char *const *const FWD_KEYS = KEYS("weights", "activations", "mac");
static const char *const *const BWD_KEYS = KEYS("errors", "mac", "wgrad_mac");

/* Every object of the document, by JSON pointer ("*": any layer name), with
 * its keys in schema order. The parser refuses keys not listed here, and
 * qc_spec_known_path walks this table, so the two cannot disagree. */
static const struct {
    const char *ptr;
    const char *const *keys;
} objects[] = {
    {"", KEYS("name", "model", "dataset", "train", "arith", "scaling", "device")},
    {"/model", KEYS("arch", "hidden", "depth", "width")},
    {"/dataset", KEYS("name", "dir", "train_limit", "val_limit", "augment")},
    {"/train", KEYS("epochs", "batch_size", "seed", "log_interval", "optimizer", "schedule")},
    {"/train/optimizer",
     KEYS("type", "lr", "momentum", "nesterov", "weight_decay", "beta1", "beta2", "eps")},
    {"/train/schedule", KEYS("type", "warmup_epochs", "warmup_steps", "step_size", "gamma")},
    {"/arith", KEYS("forward", "backward", "update", "scale_rule", "layers")},
    {"/arith/forward", NULL},
    {"/arith/forward/mac", NULL},
    {"/arith/backward", NULL},
    {"/arith/backward/mac", NULL},
    {"/arith/backward/wgrad_mac", NULL},
    {"/arith/update", KEYS("master_weights", "weight_update", "momentum")},
    {"/arith/layers", KEYS("*")},
    {"/arith/layers/*", KEYS("forward", "backward")},
    {"/arith/layers/*/forward", NULL},
    {"/arith/layers/*/forward/mac", NULL},
    {"/arith/layers/*/backward", NULL},
    {"/arith/layers/*/backward/mac", NULL},
    {"/arith/layers/*/backward/wgrad_mac", NULL},
    {"/scaling", KEYS("loss", "blocks")},
    {"/scaling/loss",
     KEYS("type", "init", "growth_interval", "growth_factor", "backoff_factor", "min", "max")},
    {"/scaling/blocks", KEYS("type", "history", "drift", "alpha")},
    {"/device", KEYS("kind", "board")},
};
#define NOBJECTS ((int)(sizeof objects / sizeof objects[0]))

/* Keys of the row for template `t` (the three shared shapes by suffix). */
static const char *const *keys_of(const char *t)
{
    for (int i = 0; i < NOBJECTS; i++) {
        if (strcmp(objects[i].ptr, t) != 0)
            continue;
        if (objects[i].keys)
            return objects[i].keys;
        const size_t n = strlen(t);
        if (n >= 4 && strcmp(t + n - 4, "/mac") == 0)
            return MAC_KEYS;
        if (n >= 10 && strcmp(t + n - 10, "/wgrad_mac") == 0)
            return MAC_KEYS;
        if (n >= 8 && strcmp(t + n - 8, "/forward") == 0)
            return FWD_KEYS;
        return BWD_KEYS;
    }
    return NULL;
}

const char *const *qc__spec_keys(const char *ptr)
{
    static const char layers[] = "/arith/layers/";
    char t[QC_SPEC_PTR_MAX];

    if (strncmp(ptr, layers, sizeof layers - 1) != 0)
        return keys_of(ptr);
    const char *rest = strchr(ptr + sizeof layers - 1, '/');
    snprintf(t, sizeof t, "%s*%s", layers, rest ? rest : "");
    return keys_of(t);
}

/* Depth-first walk from `ptr`: finds the i-th path (counting down *i). */
static const char *walk(char *buf, size_t len, const char *ptr, int *i)
{
    const char *const *keys = keys_of(ptr);
    char child[QC_SPEC_PTR_MAX];

    for (int k = 0; keys && keys[k]; k++) {
        snprintf(child, sizeof child, "%s/%s", ptr, keys[k]);
        if ((*i)-- == 0) {
            snprintf(buf, len, "%s", child);
            return buf;
        }
        const char *r = walk(buf, len, child, i);
        if (r)
            return r;
    }
    return NULL;
}

const char *qc_spec_known_path(char *buf, size_t len, int i)
{
    return i < 0 ? NULL : walk(buf, len, "", &i);
}
