/* The experiment spec: the example of docs/design.md and the defaults parse to the
 * right values, the canonical JSON round-trips to an identical struct, every
 * class of error names the exact JSON pointer, the parser's keys and
 * schema/experiment.schema.json's can never drift apart, and per-layer
 * overrides merge key by key. Run from the repository root (make test). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/backend.h"
#include "qcore/spec.h"

#define SPECS  "tests/unit/specs/"
#define SCHEMA "schema/experiment.schema.json"

/* Large: keep them off the stack. */
static struct qc_spec s1, s2;

static void load_ok(struct qc_spec *s, const char *path)
{
    struct qc_err err;
    int rc = qc_spec_load(s, path, &err);
    cr_assert_eq(rc, QC_OK, "%s: %s: %s", path, err.field, err.msg);
}

static void parse_ok(struct qc_spec *s, const char *text)
{
    struct qc_err err;
    int rc = qc_spec_parse(s, text, strlen(text), &err);
    cr_assert_eq(rc, QC_OK, "%s: %s\n%s", err.field, err.msg, text);
}

/* ---- values -------------------------------------------------------------- */

Test(spec, design_example_parses_with_its_values)
{
    const struct qc_spec *s = &s1;
    const struct qc_spec_arith *a = &s->arith;

    load_ok(&s1, SPECS "design.json");
    cr_assert_str_eq(s->name, "lenet-e5m2-cfg5-e6m5");
    cr_assert_eq(s->model.arch, QC_ARCH_LENET5);
    cr_assert_eq(s->dataset.name, QC_DATA_FASHION_MNIST);
    cr_assert_eq(s->dataset.train_limit, 60000);
    cr_assert_eq(s->dataset.val_limit, 10000);
    cr_assert_eq(s->train.epochs, 10);
    cr_assert_eq(s->train.batch_size, 128);
    cr_assert_eq(s->train.seed, 1);
    cr_assert_eq(s->train.optimizer.type, QC_OPTIM_SGD);
    cr_assert_eq(s->train.optimizer.lr, 0.05);
    cr_assert_eq(s->train.optimizer.momentum, 0.9);
    cr_assert_eq(s->train.optimizer.weight_decay, 5e-4);
    cr_assert_eq(s->train.schedule.type, QC_SCHED_COSINE);

    cr_assert_str_eq(a->weights.name, "e5m2");
    cr_assert_str_eq(a->activations.name, "e5m2");
    cr_assert_str_eq(a->errors.name, "e5m2");
    const struct qc_mac *f = &a->base.mac[QC_GEMM_FWD];
    cr_assert_eq(f->cfg, 5);
    cr_assert_str_eq(f->acc.name, "e6m5");
    cr_assert_eq(f->acc_round.mode, QC_ROUND_RNE);
    cr_assert_eq(f->chunk, 32);
    cr_assert(f->prod_exact, "CFG-5 products are exact");
    cr_assert(f->a_read.flags & QC_FMTF_SAN, "CFG-5 reads inputs subnormal-as-normal");
    for (int g = QC_GEMM_BWD; g <= QC_GEMM_WGRAD; g++) {
        cr_assert_eq(a->base.mac[g].cfg, 5, "group %d", g);
        cr_assert_str_eq(a->base.mac[g].acc.name, "e6m5");
        cr_assert_eq(a->base.mac[g].chunk, 0, "the backward MAC gives no chunk");
    }
    cr_assert_str_eq(a->master_weights.name, "fp32");
    cr_assert(!a->has_weight_update && !a->has_momentum);
    cr_assert_eq(a->nlayers, 1);
    cr_assert_str_eq(a->layers[0].name, "fc3");
    cr_assert_eq(a->layers[0].set, QC_SPEC_LAYER_WEIGHTS);
    cr_assert_str_eq(a->layers[0].weights.name, "fp16");

    cr_assert_eq(s->scaling.loss.type, QC_LOSS_SCALE_DYNAMIC);
    cr_assert_eq(s->scaling.loss.init, 65536.0);
    cr_assert_eq(s->scaling.loss.growth_interval, 1000);
    cr_assert_eq(s->scaling.loss.growth_factor, 2.0, "default");
    cr_assert_eq(s->scaling.blocks.type, QC_BLOCK_SCALE_DELAY_UPDATE);
    cr_assert_eq(s->scaling.blocks.history, 16);
    cr_assert_eq(s->device.kind, QC_DEVICE_ANY);
    cr_assert_str_eq(s->device.board, "");
}

Test(spec, defaults_fill_everything_not_given)
{
    const struct qc_spec *s = &s1;
    const struct qc_spec_arith *a = &s->arith;

    load_ok(&s1, SPECS "minimal.json");
    cr_assert_eq(s->model.depth, 0);
    cr_assert_eq(s->model.width, 1);
    cr_assert_eq(s->model.nhidden, 0);
    cr_assert_str_eq(s->dataset.dir, "");
    cr_assert_eq(s->dataset.train_limit, 0);
    cr_assert_eq(s->dataset.val_limit, 0);
    cr_assert(!s->dataset.augment);
    cr_assert_eq(s->train.epochs, 10);
    cr_assert_eq(s->train.batch_size, 128);
    cr_assert_eq(s->train.seed, 1);
    cr_assert_eq(s->train.log_interval, 50);
    cr_assert_eq(s->train.optimizer.type, QC_OPTIM_SGD);
    cr_assert_eq(s->train.optimizer.lr, 0.05);
    cr_assert_eq(s->train.optimizer.momentum, 0.9);
    cr_assert(!s->train.optimizer.nesterov);
    cr_assert_eq(s->train.optimizer.weight_decay, 0.0);
    cr_assert_eq(s->train.schedule.type, QC_SCHED_CONSTANT);
    cr_assert_eq(s->train.schedule.warmup_epochs, 0);
    cr_assert_eq(s->train.schedule.warmup_steps, 0);
    for (int g = 0; g < QC_GEMM_GROUPS; g++) {
        const struct qc_mac *m = &a->base.mac[g];
        cr_assert_eq(m->cfg, 1);
        cr_assert_str_eq(m->a.name, "fp32");
        cr_assert_str_eq(m->b.name, "fp32");
        cr_assert_str_eq(m->acc.name, "fp32");
        cr_assert(!m->native && !m->fused && !m->prod_exact);
        cr_assert_str_eq(m->prod.name, "fp32", "auto: a's format under CFG-1");
        cr_assert_eq(m->acc_round.mode, QC_ROUND_RNE);
        cr_assert_eq(m->acc_round.seed, 0);
        cr_assert_eq(m->chunk, 0);
    }
    cr_assert_str_eq(a->forward_mac.product, "auto");
    cr_assert_eq(a->forward_mac.set, QC_SPEC_MAC_ALL);
    cr_assert_eq(a->scale_rule, QC_SCALE_FLOOR);
    cr_assert_eq(a->nlayers, 0);
    cr_assert_eq(s->scaling.loss.type, QC_LOSS_SCALE_NONE);
    cr_assert_eq(s->scaling.blocks.type, QC_BLOCK_SCALE_NONE);
    cr_assert_eq(s->device.kind, QC_DEVICE_ANY);

    /* Type-dependent defaults. */
    parse_ok(&s2,
             "{\"name\":\"a\",\"model\":{\"arch\":\"resnet\"},\"dataset\":{\"name\":\"cifar10\"},"
             "\"train\":{\"optimizer\":{\"type\":\"adam\"},\"schedule\":{\"type\":\"step\","
             "\"step_size\":3}}}");
    cr_assert_eq(s2.model.depth, 20);
    cr_assert_eq(s2.train.optimizer.lr, 1e-3);
    cr_assert_eq(s2.train.optimizer.beta1, 0.9);
    cr_assert_eq(s2.train.optimizer.beta2, 0.999);
    cr_assert_eq(s2.train.optimizer.eps, 1e-8);
    cr_assert_eq(s2.train.schedule.gamma, 0.1);
}

Test(spec, full_example_parses_with_its_values)
{
    load_ok(&s1, SPECS "full.json");
    cr_assert_eq(s1.model.arch, QC_ARCH_RESNET);
    cr_assert_eq(s1.model.depth, 20);
    cr_assert_eq(s1.model.width, 2);
    cr_assert_str_eq(s1.dataset.dir, "/data/cifar-10-batches-bin");
    cr_assert(s1.dataset.augment);
    cr_assert_eq(s1.train.optimizer.type, QC_OPTIM_ADAM);
    cr_assert_eq(s1.train.optimizer.beta1, 0.85);
    cr_assert_eq(s1.train.schedule.step_size, 10);
    cr_assert_eq(s1.train.schedule.warmup_epochs, 2);
    cr_assert_str_eq(s1.arith.weights.name, "mxfp8_e4m3@32");
    cr_assert_str_eq(s1.arith.activations.name, "mxfp8_e4m3@32", "canonical name");
    cr_assert(s1.arith.has_weight_update && s1.arith.has_momentum);
    cr_assert_str_eq(s1.arith.weight_update.name, "bf16");
    cr_assert_str_eq(s1.arith.momentum.name, "fp16");
    cr_assert_eq(s1.arith.scale_rule, QC_SCALE_ROUND);
    const struct qc_mac *bw = &s1.arith.base.mac[QC_GEMM_BWD];
    cr_assert_eq(bw->acc_round.mode, QC_ROUND_SR);
    cr_assert_eq(bw->acc_round.sr_bits, 12);
    cr_assert_eq(bw->acc_round.seed, 99);
    /* wgrad_mac: acc and chunk its own, everything else from backward.mac. */
    const struct qc_mac *wg = &s1.arith.base.mac[QC_GEMM_WGRAD];
    cr_assert_str_eq(wg->acc.name, "e8m10");
    cr_assert_eq(wg->chunk, 128);
    cr_assert_eq(wg->cfg, 4);
    cr_assert_eq(wg->acc_round.sr_bits, 12);
    cr_assert_eq(wg->acc_round.seed, 99);
    cr_assert_eq(s1.scaling.blocks.type, QC_BLOCK_SCALE_WMA);
    cr_assert_eq(s1.scaling.blocks.alpha, 0.75);
    cr_assert_eq(s1.scaling.loss.max, 1048576.0);
    cr_assert_eq(s1.device.kind, QC_DEVICE_FPGA);
    cr_assert_str_eq(s1.device.board, "u250");
}

Test(spec, integral_reals_count_as_integers)
{
    parse_ok(&s1,
             "{\"name\":\"a\",\"model\":{\"arch\":\"lenet5\"},\"dataset\":{\"name\":\"mnist\"},"
             "\"train\":{\"epochs\":3.0,\"batch_size\":6.4e1}}");
    cr_assert_eq(s1.train.epochs, 3);
    cr_assert_eq(s1.train.batch_size, 64);
}

Test(spec, null_means_absent_for_optional_values)
{
    parse_ok(&s1, "{\"name\":\"a\",\"model\":{\"arch\":\"lenet5\"},\"dataset\":{\"name\":\"mnist\","
                  "\"dir\":null},\"arith\":{\"update\":{\"weight_update\":null,\"momentum\":null}},"
                  "\"device\":{\"kind\":\"cpu\",\"board\":null}}");
    cr_assert_str_eq(s1.dataset.dir, "");
    cr_assert(!s1.arith.has_weight_update && !s1.arith.has_momentum);
    cr_assert_str_eq(s1.device.board, "");
}

/* ---- round trip ---------------------------------------------------------- */

struct file_case {
    char path[64];
};

static struct file_case example_files[] = {
    {SPECS "design.json"},
    {SPECS "minimal.json"},
    {SPECS "full.json"},
};

ParameterizedTestParameters(spec, canonical_json_round_trips_to_an_identical_struct)
{
    return cr_make_param_array(struct file_case, example_files,
                               sizeof example_files / sizeof example_files[0]);
}

ParameterizedTest(struct file_case *fc, spec, canonical_json_round_trips_to_an_identical_struct)
{
    load_ok(&s1, fc->path);
    json_t *j1 = qc_spec_to_json(&s1);
    cr_assert_not_null(j1);
    char *text = json_dumps(j1, JSON_COMPACT);
    cr_assert_not_null(text);
    parse_ok(&s2, text);
    cr_assert(memcmp(&s1, &s2, sizeof s1) == 0, "%s: the re-parsed struct differs:\n%s", fc->path,
              text);
    json_t *j2 = qc_spec_to_json(&s2);
    cr_assert(json_equal(j1, j2), "the canonical form is a fixed point");
    /* Every canonical key is in the schema, since it's in the parser's table. */
    cr_assert(json_is_null(json_object_get(json_object_get(j1, "device"), "board")) ||
              json_is_string(json_object_get(json_object_get(j1, "device"), "board")));
    free(text);
    json_decref(j1);
    json_decref(j2);
}

Test(spec, round_trip_keeps_layer_overrides_partial_and_in_order)
{
    parse_ok(&s1,
             "{\"name\":\"a\",\"model\":{\"arch\":\"mlp\",\"hidden\":[32,16]},"
             "\"dataset\":{\"name\":\"synthetic\"},\"arith\":{\"layers\":{"
             "\"fc3\":{\"backward\":{\"wgrad_mac\":{\"seed\":5}}},"
             "\"fc1\":{\"forward\":{\"mac\":{}}},"
             "\"fc2\":{\"forward\":{\"activations\":\"e4m3\",\"mac\":{\"acc\":\"native\"}}}}}}");
    json_t *j = qc_spec_to_json(&s1);
    json_t *layers = json_object_get(json_object_get(j, "arith"), "layers");
    const char *order[] = {"fc3", "fc1", "fc2"};
    int i = 0;
    const char *key;
    json_t *v;
    json_object_foreach(layers, key, v)
    {
        cr_assert_str_eq(key, order[i], "layer %d", i);
        i++;
    }
    cr_assert_eq(i, 3);
    cr_assert_eq(json_object_size(json_object_get(layers, "fc1")), 0,
                 "an empty override stays empty");
    json_t *fc2 = json_object_get(json_object_get(layers, "fc2"), "forward");
    cr_assert_eq(json_object_size(fc2), 2);
    cr_assert_eq(json_object_size(json_object_get(fc2, "mac")), 1);
    char *text = json_dumps(j, 0);
    parse_ok(&s2, text);
    cr_assert(memcmp(&s1, &s2, sizeof s1) == 0);
    free(text);
    json_decref(j);
}

/* ---- errors -------------------------------------------------------------- */

struct err_case {
    char json[640];
    char field[96]; /* the exact JSON pointer */
    char msg[112];  /* a part of the message */
};

#define NAME  "\"name\":\"t\""
#define LENET "\"model\":{\"arch\":\"lenet5\"}"
#define SYNTH "\"dataset\":{\"name\":\"synthetic\"}"
/* A valid spec plus more top-level members. */
#define SPEC(...)  "{" NAME "," LENET "," SYNTH "," __VA_ARGS__ "}"
#define MODEL(...) "{" NAME "," SYNTH ",\"model\":" __VA_ARGS__ "}"
#define DATA(...)  "{" NAME "," LENET ",\"dataset\":" __VA_ARGS__ "}"
#define QW         "\"arith\":{\"forward\":{\"weights\":\"e4m3\"}}"

static struct err_case err_cases[] = {
    /* unknown keys */
    {SPEC("\"foo\":1"), "/foo", "unknown key 'foo'"},
    {SPEC("\"arith\":{\"forward\":{\"foo\":1}}"), "/arith/forward/foo", "unknown key 'foo'"},
    {SPEC("\"arith\":{\"layers\":{\"fc1\":{\"forward\":{\"mac\":{\"acc_round\":\"rne\"}}}}}"),
     "/arith/layers/fc1/forward/mac/acc_round", "unknown key 'acc_round'"},
    {SPEC("\"arith\":{\"layers\":{\"fc1\":{\"update\":{}}}}"), "/arith/layers/fc1/update",
     "unknown key 'update'"},
    {SPEC("\"a/b~c\":1"), "/a~1b~0c", "unknown key 'a/b~c'"},
    {SPEC("\"train\":{\"optimizer\":{\"learning_rate\":0.1}}"), "/train/optimizer/learning_rate",
     "unknown key 'learning_rate'"},
    /* wrong types */
    {SPEC("\"train\":{\"epochs\":\"ten\"}"), "/train/epochs",
     "epochs must be an integer, not the string 'ten'"},
    {SPEC("\"train\":{\"epochs\":1.5}"), "/train/epochs", "must be an integer, not 1.5"},
    {SPEC("\"train\":{\"seed\":null}"), "/train/seed", "must be an integer, not null"},
    {MODEL("[]"), "/model", "model must be an object, not an array"},
    {DATA("{\"name\":\"mnist\",\"augment\":1}"), "/dataset/augment",
     "augment must be true or false, not 1"},
    {SPEC("\"train\":{\"optimizer\":{\"lr\":\"fast\"}}"), "/train/optimizer/lr",
     "lr must be a number"},
    {MODEL("{\"arch\":\"mlp\",\"hidden\":[64,\"x\"]}"), "/model/hidden/1",
     "units must be an integer"},
    {MODEL("{\"arch\":\"mlp\",\"hidden\":64}"), "/model/hidden", "hidden must be an array"},
    {SPEC("\"arith\":{\"forward\":{\"weights\":8}}"), "/arith/forward/weights",
     "weights must be a string, not 8"},
    {SPEC("\"arith\":{\"forward\":{\"mac\":{\"fused\":\"yes\"}}}"), "/arith/forward/mac/fused",
     "must be true or false"},
    {SPEC("\"arith\":{\"layers\":[]}"), "/arith/layers", "layers must be an object"},
    {SPEC("\"arith\":{\"layers\":{\"fc1\":3}}"), "/arith/layers/fc1", "must be an object, not 3"},
    {SPEC("\"device\":{\"kind\":\"gpu\",\"board\":7}"), "/device/board",
     "board must be a string or null, not 7"},
    {SPEC("\"arith\":{\"forward\":{\"weights\":null}}"), "/arith/forward/weights",
     "must be a string, not null"},
    /* required keys */
    {"{" LENET "," SYNTH "}", "/name", "required key 'name' is missing"},
    {"{" NAME "," SYNTH "}", "/model", "required key 'model' is missing"},
    {MODEL("{}"), "/model/arch", "required key 'arch' is missing"},
    {DATA("{\"augment\":true}"), "/dataset/name", "required key 'name' is missing"},
    /* out of range, the value named */
    {SPEC("\"train\":{\"epochs\":0}"), "/train/epochs", "epochs 0 is outside 1..10000"},
    {SPEC("\"train\":{\"batch_size\":65537}"), "/train/batch_size",
     "batch_size 65537 is outside 1..65536"},
    {SPEC("\"train\":{\"seed\":-1}"), "/train/seed", "seed -1 is outside"},
    {SPEC("\"train\":{\"optimizer\":{\"lr\":0}}"), "/train/optimizer/lr", "lr 0 must be > 0"},
    {SPEC("\"train\":{\"optimizer\":{\"lr\":-0.5}}"), "/train/optimizer/lr", "lr -0.5 must be > 0"},
    {SPEC("\"train\":{\"optimizer\":{\"momentum\":1}}"), "/train/optimizer/momentum",
     "momentum 1 is outside [0, 1)"},
    {SPEC("\"train\":{\"schedule\":{\"type\":\"step\",\"step_size\":2,\"gamma\":1.5}}"),
     "/train/schedule/gamma", "gamma 1.5 is outside (0, 1]"},
    {DATA("{\"name\":\"mnist\",\"train_limit\":-1}"), "/dataset/train_limit",
     "train_limit -1 is outside 0..2147483647"},
    {SPEC("\"arith\":{\"forward\":{\"mac\":{\"chunk\":-1}}}"), "/arith/forward/mac/chunk",
     "chunk -1 is outside 0..1099511627776"},
    {SPEC("\"arith\":{\"backward\":{\"mac\":{\"cfg\":7}}}"), "/arith/backward/mac/cfg",
     "cfg 7 is outside 1..6"},
    {SPEC("\"arith\":{\"layers\":{\"conv1\":{\"backward\":{\"wgrad_mac\":{\"cfg\":0}}}}}"),
     "/arith/layers/conv1/backward/wgrad_mac/cfg", "cfg 0 is outside 1..6"},
    {MODEL("{\"arch\":\"mlp\",\"hidden\":[65537]}"), "/model/hidden/0",
     "units 65537 is outside 1..65536"},
    {MODEL("{\"arch\":\"mlp\",\"hidden\":[]}"), "/model/hidden", "hidden has 0 layers"},
    {MODEL("{\"arch\":\"mlp\",\"hidden\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}"), "/model/hidden",
     "hidden has 17 layers; 1..16 are allowed"},
    {MODEL("{\"arch\":\"resnet\",\"width\":0}"), "/model/width", "width 0 is outside 1..64"},
    {SPEC("\"scaling\":{\"blocks\":{\"type\":\"wma\",\"alpha\":0}}," QW), "/scaling/blocks/alpha",
     "alpha 0 is outside (0, 1]"},
    /* format strings: the format parser's message, our pointer */
    {SPEC("\"arith\":{\"forward\":{\"mac\":{\"acc\":\"e6m55\"}}}"), "/arith/forward/mac/acc",
     "e6m55"},
    {SPEC("\"arith\":{\"forward\":{\"weights\":\"foo\"}}"), "/arith/forward/weights",
     "unknown format 'foo'"},
    {SPEC("\"arith\":{\"layers\":{\"fc3\":{\"backward\":{\"errors\":\"e9m60\"}}}}"),
     "/arith/layers/fc3/backward/errors", "e9m60"},
    {SPEC("\"arith\":{\"update\":{\"weight_update\":\"bogus\"}}"), "/arith/update/weight_update",
     "unknown format 'bogus'"},
    {SPEC("\"arith\":{\"backward\":{\"mac\":{\"product\":\"e5m2:sat:wrap\"}}}"),
     "/arith/backward/mac/product", "wrap"},
    {SPEC("\"arith\":{\"forward\":{\"mac\":{\"acc_rounding\":\"sr:99\"}}}"),
     "/arith/forward/mac/acc_rounding", "sr:99"},
    {SPEC("\"arith\":{\"forward\":{\"mac\":{\"acc_rounding\":\"nearest\"}}}"),
     "/arith/forward/mac/acc_rounding", "unknown rounding mode 'nearest'"},
    /* enumerations */
    {MODEL("{\"arch\":\"transformer\"}"), "/model/arch",
     "arch 'transformer' is not one of mlp, lenet5, resnet, vgg"},
    {DATA("{\"name\":\"imagenet\"}"), "/dataset/name", "name 'imagenet' is not one of"},
    {SPEC("\"arith\":{\"scale_rule\":\"nearest\"}"), "/arith/scale_rule",
     "scale_rule 'nearest' is not one of floor, ceil, round"},
    {SPEC("\"device\":{\"kind\":\"tpu\"}"), "/device/kind", "kind 'tpu' is not one of"},
    {SPEC("\"scaling\":{\"loss\":{\"type\":\"auto\"}}"), "/scaling/loss/type",
     "type 'auto' is not one of none, static, dynamic"},
    /* impossible combinations */
    {MODEL("{\"arch\":\"resnet\",\"depth\":21}"), "/model/depth", "resnet depth 21 is not 6n+2"},
    {MODEL("{\"arch\":\"mlp\"}"), "/model/hidden", "arch 'mlp' needs hidden"},
    {MODEL("{\"arch\":\"lenet5\",\"hidden\":[10]}"), "/model/hidden",
     "hidden applies to arch 'mlp' only, not 'lenet5'"},
    {MODEL("{\"arch\":\"vgg\",\"depth\":20}"), "/model/depth",
     "depth applies to arch 'resnet' only, not 'vgg'"},
    {MODEL("{\"arch\":\"mlp\",\"hidden\":[10],\"width\":2}"), "/model/width",
     "width applies to arch 'resnet' and 'vgg' only, not 'mlp'"},
    {SPEC("\"train\":{\"optimizer\":{\"beta1\":0.8}}"), "/train/optimizer/beta1",
     "beta1 applies to optimizer 'adam' only, not 'sgd'"},
    {SPEC("\"train\":{\"optimizer\":{\"type\":\"adam\",\"momentum\":0.9}}"),
     "/train/optimizer/momentum", "momentum applies to optimizer 'sgd' only, not 'adam'"},
    {SPEC("\"train\":{\"optimizer\":{\"momentum\":0,\"nesterov\":true}}"),
     "/train/optimizer/nesterov", "nesterov needs momentum > 0"},
    {SPEC("\"train\":{\"schedule\":{\"type\":\"step\"}}"), "/train/schedule/step_size",
     "schedule 'step' needs step_size"},
    {SPEC("\"train\":{\"schedule\":{\"type\":\"cosine\",\"gamma\":0.5}}"), "/train/schedule/gamma",
     "gamma applies to schedule 'step' only, not 'cosine'"},
    {SPEC("\"train\":{\"schedule\":{\"warmup_epochs\":1,\"warmup_steps\":100}}"),
     "/train/schedule/warmup_steps", "both set"},
    {SPEC("\"train\":{\"epochs\":5,\"schedule\":{\"warmup_epochs\":5}}"),
     "/train/schedule/warmup_epochs", "warmup_epochs 5 leaves no training"},
    {SPEC("\"scaling\":{\"loss\":{\"init\":1024}}"), "/scaling/loss/init",
     "init applies to loss scaling 'static' and 'dynamic' only, not 'none'"},
    {SPEC("\"scaling\":{\"loss\":{\"type\":\"static\",\"growth_interval\":10}}"),
     "/scaling/loss/growth_interval",
     "growth_interval applies to loss scaling 'dynamic' only, "
     "not 'static'"},
    {SPEC("\"scaling\":{\"loss\":{\"type\":\"dynamic\",\"init\":8,\"min\":8,\"max\":4}}"),
     "/scaling/loss/max", "max 4 is below min 8"},
    {SPEC("\"scaling\":{\"loss\":{\"type\":\"dynamic\",\"init\":1e12}}"), "/scaling/loss/init",
     "init 1e+12 is outside [min, max]"},
    {SPEC("\"scaling\":{\"blocks\":{\"type\":\"delayed\"}}"), "/scaling/blocks/type",
     "block scaling 'delayed' has nothing to scale"},
    {SPEC("\"scaling\":{\"blocks\":{\"type\":\"delayed\",\"alpha\":0.5}}," QW),
     "/scaling/blocks/alpha", "alpha applies to block scaling 'wma' only, not 'delayed'"},
    {SPEC("\"scaling\":{\"blocks\":{\"type\":\"max\",\"history\":4}}," QW),
     "/scaling/blocks/history", "history applies to block scaling"},
    {SPEC("\"scaling\":{\"blocks\":{\"type\":\"wma\",\"drift\":2}}," QW), "/scaling/blocks/drift",
     "drift applies to block scaling 'delay_update' only, not 'wma'"},
    {SPEC("\"device\":{\"kind\":\"cpu\",\"board\":\"u250\"}"), "/device/board",
     "board 'u250' applies to device kind 'gpu' and 'fpga' only, not 'cpu'"},
    {SPEC("\"device\":{\"kind\":\"fpga\"},\"arith\":{\"forward\":{\"mac\":{\"acc\":\"native\"}}}"),
     "/arith/forward/mac/acc",
     "acc 'native' (OpenBLAS fp32 sums) cannot run on device kind 'fpga'"},
    {SPEC("\"device\":{\"kind\":\"fpga\"},\"arith\":{\"layers\":{\"fc1\":{\"backward\":{"
          "\"wgrad_mac\":{\"acc\":\"native\"}}}}}"),
     "/arith/layers/fc1/backward/wgrad_mac/acc", "cannot run on device kind 'fpga'"},
    {SPEC("\"arith\":{\"forward\":{\"mac\":{\"cfg\":5,\"product\":\"e5m2\"}}}"),
     "/arith/forward/mac/product", "CFG-5 products are exact"},
    {SPEC("\"arith\":{\"forward\":{\"mac\":{\"cfg\":2,\"product\":\"e5m2:daz\"}}}"),
     "/arith/forward/mac/product", "daz"},
    {SPEC("\"arith\":{\"backward\":{\"mac\":{\"acc\":\"mxfp8_e4m3\"}}}"), "/arith/backward/mac/acc",
     "mxfp8_e4m3@32 is a block format"},
    {SPEC("\"arith\":{\"backward\":{\"mac\":{\"cfg\":4},\"wgrad_mac\":{\"product\":\"e5m2\"}}}"),
     "/arith/backward/wgrad_mac/product", "CFG-4 products are exact"},
    {SPEC("\"arith\":{\"forward\":{\"mac\":{\"product\":\"e5m2\"}},\"layers\":{\"fc1\":{"
          "\"forward\":{\"mac\":{\"cfg\":3}}}}}"),
     "/arith/layers/fc1/forward/mac/product", "CFG-3 products are exact"},
    /* names and sizes */
    {"{\"name\":\"a\\tb\"," LENET "," SYNTH "}", "/name",
     "has a character outside the allowed set"},
    {"{\"name\":\"\"," LENET "," SYNTH "}", "/name", "must be 1..128 bytes long, not 0"},
    {SPEC("\"arith\":{\"layers\":{\"fc 3\":{}}}"), "/arith/layers/fc 3", "layer name 'fc 3'"},
    {SPEC("\"arith\":{\"layers\":{\"\":{}}}"), "/arith/layers/", "layer name ''"},
    /* the document */
    {"[1,2]", "", "a spec must be a JSON object, not an array"},
    {"{", "", "line 1, column 1"},
    {"{\"name\":\"a\",\"name\":\"b\"," LENET "," SYNTH "}", "", "duplicate"},
    {SPEC("\"train\":{}") " x", "", "end of file expected"},
};

ParameterizedTestParameters(spec, every_error_names_its_json_pointer)
{
    return cr_make_param_array(struct err_case, err_cases, sizeof err_cases / sizeof err_cases[0]);
}

ParameterizedTest(struct err_case *ec, spec, every_error_names_its_json_pointer)
{
    struct qc_err err;

    qc_err_clear(&err);
    int rc = qc_spec_parse(&s1, ec->json, strlen(ec->json), &err);
    cr_assert_eq(rc, QC_EINVAL, "accepted: %s", ec->json);
    cr_assert_eq(err.code, QC_EINVAL);
    cr_assert_str_eq(err.field, ec->field, "%s\n  field '%s', expected '%s' (%s)", ec->json,
                     err.field, ec->field, err.msg);
    cr_assert_not_null(strstr(err.msg, ec->msg), "%s\n  message '%s' lacks '%s'", ec->json, err.msg,
                       ec->msg);
}

Test(spec, size_limits)
{
    char text[8192], name[200];
    struct qc_err err;
    int n;

    memset(name, 'x', 128);
    name[128] = '\0';
    snprintf(text, sizeof text, "{\"name\":\"%s\"," LENET "," SYNTH "}", name);
    parse_ok(&s1, text);
    cr_assert_str_eq(s1.name, name);
    name[128] = 'x';
    name[129] = '\0';
    snprintf(text, sizeof text, "{\"name\":\"%s\"," LENET "," SYNTH "}", name);
    cr_assert_eq(qc_spec_parse(&s1, text, strlen(text), &err), QC_EINVAL);
    cr_assert_str_eq(err.field, "/name");
    cr_assert_not_null(strstr(err.msg, "must be 1..128 bytes long, not 129"), "%s", err.msg);

    /* 64 layer overrides are fine, 65 are not. */
    for (int count = 64; count <= 65; count++) {
        n = snprintf(text, sizeof text, "{" NAME "," LENET "," SYNTH ",\"arith\":{\"layers\":{");
        for (int i = 0; i < count; i++)
            n += snprintf(text + n, sizeof text - (size_t)n, "%s\"l%d\":{}", i ? "," : "", i);
        snprintf(text + n, sizeof text - (size_t)n, "}}}");
        int rc = qc_spec_parse(&s1, text, strlen(text), &err);
        if (count == 64) {
            cr_assert_eq(rc, QC_OK, "%s", err.msg);
            cr_assert_eq(s1.arith.nlayers, 64);
        } else {
            cr_assert_eq(rc, QC_EINVAL);
            cr_assert_str_eq(err.field, "/arith/layers");
            cr_assert_not_null(strstr(err.msg, "65 entries; at most 64"), "%s", err.msg);
        }
    }

    /* A layer name of 128 bytes is fine, 129 is not. */
    memset(name, 'L', 129);
    name[129] = '\0';
    snprintf(text, sizeof text, SPEC("\"arith\":{\"layers\":{\"%s\":{}}}"), name);
    cr_assert_eq(qc_spec_parse(&s1, text, strlen(text), &err), QC_EINVAL);
    name[128] = '\0';
    snprintf(text, sizeof text, SPEC("\"arith\":{\"layers\":{\"%s\":{}}}"), name);
    parse_ok(&s1, text);

    /* The document itself. */
    const size_t big = QC_SPEC_TEXT_MAX + 1;
    char *huge = malloc(big);
    cr_assert_not_null(huge);
    memset(huge, ' ', big);
    cr_assert_eq(qc_spec_parse(&s1, huge, big, &err), QC_EINVAL);
    cr_assert_str_eq(err.field, "");
    cr_assert_not_null(strstr(err.msg, "the limit is 1048576"), "%s", err.msg);
    free(huge);
}

Test(spec, load_reports_file_line_and_column)
{
    struct qc_err err;

    cr_assert_eq(qc_spec_load(&s1, SPECS "syntax_error.json", &err), QC_EINVAL);
    cr_assert_str_eq(err.field, "");
    cr_assert_not_null(strstr(err.msg, SPECS "syntax_error.json:4:"), "%s", err.msg);
    cr_assert_eq(qc_spec_load(&s1, SPECS "no_such_file.json", &err), QC_EIO);
    cr_assert_not_null(strstr(err.msg, "no_such_file.json"), "%s", err.msg);

    /* A file over the limit is refused before parsing. */
    char path[] = "/tmp/qlab_spec_big_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i <= QC_SPEC_TEXT_MAX / 64; i++)
        fputs("                                                               \n", f);
    fclose(f);
    cr_assert_eq(qc_spec_load(&s1, path, &err), QC_EINVAL);
    cr_assert_not_null(strstr(err.msg, "larger than the 1048576-byte limit"), "%s", err.msg);
    remove(path);

    /* Validation errors from a file keep their pointer. */
    cr_assert_eq(qc_spec_from_json(&s1, NULL, &err), QC_EINVAL);
    cr_assert_str_eq(err.field, "");
}

/* ---- the schema and the parser agree --------------------------------------- */

#define MAXPATHS 256
static char schema_paths[MAXPATHS][QC_SPEC_PTR_MAX];
static int nschema;

static const json_t *deref(const json_t *root, const json_t *node)
{
    const char *ref = json_string_value(json_object_get(node, "$ref"));
    if (!ref)
        return node;
    cr_assert(strncmp(ref, "#/$defs/", 8) == 0, "only local $defs references: %s", ref);
    const json_t *def = json_object_get(json_object_get(root, "$defs"), ref + 8);
    cr_assert_not_null(def, "dangling $ref %s", ref);
    return def;
}

/* Collects every property path; checks descriptions and closed objects. */
static void walk_schema(const json_t *root, const json_t *node, const char *ptr)
{
    const json_t *n = deref(root, node);
    const json_t *props = json_object_get(n, "properties");
    const json_t *extra = json_object_get(n, "additionalProperties");
    const char *key;
    json_t *sub;

    if (props) {
        cr_assert(json_is_false(extra),
                  "%s: an object with properties must have "
                  "additionalProperties false",
                  ptr[0] ? ptr : "/");
        json_object_foreach((json_t *)props, key, sub)
        {
            cr_assert_lt(nschema, MAXPATHS);
            snprintf(schema_paths[nschema], QC_SPEC_PTR_MAX, "%s/%s", ptr, key);
            const char *path = schema_paths[nschema++];
            cr_assert(json_is_string(json_object_get(sub, "description")) ||
                          json_is_string(json_object_get(deref(root, sub), "description")),
                      "%s has no description", path);
            walk_schema(root, sub, path);
        }
    } else if (json_is_object(extra)) {
        cr_assert_lt(nschema, MAXPATHS);
        snprintf(schema_paths[nschema], QC_SPEC_PTR_MAX, "%s/*", ptr);
        const char *path = schema_paths[nschema++];
        walk_schema(root, extra, path);
    }
}

static bool in_schema(const char *path)
{
    for (int i = 0; i < nschema; i++)
        if (strcmp(schema_paths[i], path) == 0)
            return true;
    return false;
}

static bool in_parser(const char *path)
{
    char buf[QC_SPEC_PTR_MAX];
    for (int i = 0; qc_spec_known_path(buf, sizeof buf, i); i++)
        if (strcmp(buf, path) == 0)
            return true;
    return false;
}

Test(spec, schema_and_parser_accept_the_same_keys)
{
    json_error_t jerr;
    json_t *schema = json_load_file(SCHEMA, JSON_REJECT_DUPLICATES, &jerr);
    char buf[QC_SPEC_PTR_MAX];
    int nparser = 0;

    cr_assert_not_null(schema, "%s:%d: %s", SCHEMA, jerr.line, jerr.text);
    cr_assert_str_eq(json_string_value(json_object_get(schema, "$schema")),
                     "https://json-schema.org/draft/2020-12/schema");
    nschema = 0;
    walk_schema(schema, schema, "");
    for (; qc_spec_known_path(buf, sizeof buf, nparser); nparser++)
        cr_expect(in_schema(buf), "the parser accepts %s; the schema does not list it", buf);
    for (int i = 0; i < nschema; i++)
        cr_expect(in_parser(schema_paths[i]), "the schema lists %s; the parser refuses it",
                  schema_paths[i]);
    cr_assert_eq(nparser, nschema);
    cr_assert_gt(nparser, 100, "the walk found the whole tree");
    json_decref(schema);
}

/* Sets root[pointer] = v, creating objects on the way ("*" becomes "fc1"). */
static void set_at(json_t *root, const char *pointer, json_t *v)
{
    char buf[QC_SPEC_PTR_MAX];
    json_t *o = root;

    snprintf(buf, sizeof buf, "%s", pointer + 1);
    char *save = NULL;
    char *seg = strtok_r(buf, "/", &save);
    while (seg) {
        char *next = strtok_r(NULL, "/", &save);
        const char *key = strcmp(seg, "*") == 0 ? "fc1" : seg;
        if (!next) {
            json_object_set_new(o, key, v);
            return;
        }
        json_t *child = json_object_get(o, key);
        if (!json_is_object(child)) {
            child = json_object();
            json_object_set_new(o, key, child);
        }
        o = child;
        seg = next;
    }
}

Test(spec, every_listed_key_is_read_and_type_checked)
{
    static const char base[] = "{\"name\":\"t\",\"model\":{\"arch\":\"mlp\",\"hidden\":[8]},"
                               "\"dataset\":{\"name\":\"synthetic\"}}";
    char path[QC_SPEC_PTR_MAX], want[QC_SPEC_PTR_MAX];
    struct qc_err err;

    for (int i = 0; qc_spec_known_path(path, sizeof path, i); i++) {
        json_t *root = json_loads(base, 0, NULL);
        cr_assert_not_null(root);
        /* An empty array is the wrong type (or size) for every key. */
        set_at(root, path, json_array());
        const char *star = strstr(path, "/*");
        if (star)
            snprintf(want, sizeof want, "%.*s/fc1%s", (int)(star - path), path, star + 2);
        else
            snprintf(want, sizeof want, "%s", path);
        int rc = qc_spec_from_json(&s1, root, &err);
        cr_expect_eq(rc, QC_EINVAL, "%s = [] was accepted", want);
        cr_expect_str_eq(err.field, want, "%s = []: the error names '%s' (%s)", want, err.field,
                         err.msg);
        json_decref(root);
    }
}

/* Every key of the canonical output, layer names as "*", is a listed key. */
static void check_emitted(const json_t *o, const char *ptr)
{
    const char *key;
    json_t *v;
    char child[QC_SPEC_PTR_MAX];

    json_object_foreach((json_t *)o, key, v)
    {
        snprintf(child, sizeof child, "%s/%s", ptr, strcmp(ptr, "/arith/layers") == 0 ? "*" : key);
        cr_assert(in_parser(child), "to_json emits %s, which the parser does not list", child);
        if (json_is_object(v))
            check_emitted(v, child);
    }
}

Test(spec, canonical_output_uses_listed_keys_only)
{
    load_ok(&s1, SPECS "full.json");
    json_t *j = qc_spec_to_json(&s1);
    check_emitted(j, "");
    json_decref(j);
}

/* ---- layer overrides ------------------------------------------------------- */

Test(spec, layer_overrides_merge_key_by_key)
{
    struct qc_nn_arith la;
    struct qc_err err;

    load_ok(&s1, SPECS "full.json");

    /* fc: weights, errors and several MAC keys overridden. */
    cr_assert_eq(qc_spec_layer_arith(&la, &s1, "fc", &err), QC_OK, "%s", err.msg);
    cr_assert_str_eq(la.weights.name, "e4m3");
    cr_assert_str_eq(la.activations.name, "mxfp8_e4m3@32", "global");
    cr_assert_str_eq(la.errors.name, "e5m2");
    const struct qc_mac *f = &la.mac[QC_GEMM_FWD];
    cr_assert_eq(f->cfg, 2, "layer");
    cr_assert_str_eq(f->prod.name, "e5m2", "layer");
    cr_assert_str_eq(f->acc.name, "fp16", "global");
    cr_assert_eq(f->chunk, 64, "global");
    cr_assert_str_eq(f->a.name, "mxfp8_e4m3@32", "forward: a = activations");
    cr_assert_str_eq(f->b.name, "e4m3", "forward: b = weights");
    const struct qc_mac *gi = &la.mac[QC_GEMM_BWD];
    cr_assert_eq(gi->cfg, 4, "global");
    cr_assert_eq(gi->acc_round.mode, QC_ROUND_RNE, "layer");
    cr_assert_eq(gi->acc_round.seed, 99, "global");
    cr_assert_str_eq(gi->a.name, "e5m2", "grad-input: a = errors");
    cr_assert_str_eq(gi->b.name, "e4m3", "grad-input: b = weights");
    /* grad-weight: defaults < backward.mac < wgrad_mac < layer mac < layer wgrad_mac */
    const struct qc_mac *gw = &la.mac[QC_GEMM_WGRAD];
    cr_assert_eq(gw->cfg, 5, "layer wgrad_mac");
    cr_assert_eq(gw->acc_round.mode, QC_ROUND_RNE, "layer backward.mac beats the global wgrad");
    cr_assert_str_eq(gw->acc.name, "e8m10", "global wgrad_mac");
    cr_assert_eq(gw->chunk, 128, "global wgrad_mac");
    cr_assert(gw->a_read.flags & QC_FMTF_SAN, "CFG-5 reading of errors");
    cr_assert_str_eq(gw->a.name, "e5m2", "grad-weight: a = errors");
    cr_assert_str_eq(gw->b.name, "mxfp8_e4m3@32", "grad-weight: b = activations");

    /* conv1: formats and forward MAC keys overridden, the rest global. */
    cr_assert_eq(qc_spec_layer_arith(&la, &s1, "conv1", &err), QC_OK, "%s", err.msg);
    cr_assert_str_eq(la.weights.name, "fp32");
    cr_assert_str_eq(la.errors.name, "e5m2:sat", "global");
    cr_assert_eq(la.mac[QC_GEMM_FWD].chunk, 0);
    cr_assert(la.mac[QC_GEMM_FWD].prod_exact, "global product=exact");
    cr_assert_str_eq(la.mac[QC_GEMM_BWD].b.name, "fp32", "grad-input reads the layer's weights");

    /* A layer without override gets the base arithmetic. */
    cr_assert_eq(qc_spec_layer_arith(&la, &s1, "s1b1c1", &err), QC_OK);
    cr_assert(memcmp(&la, &s1.arith.base, sizeof la) == 0);
}

Test(spec, auto_product_follows_the_layers_operand)
{
    struct qc_nn_arith la;
    struct qc_err err;

    parse_ok(&s1, SPEC("\"arith\":{\"forward\":{\"activations\":\"e5m2\"},\"layers\":{"
                       "\"fc1\":{\"forward\":{\"activations\":\"e4m3\"}},"
                       "\"fc2\":{\"forward\":{\"mac\":{\"product\":\"bf16\"}}}}}"));
    cr_assert_str_eq(s1.arith.base.mac[QC_GEMM_FWD].prod.name, "e5m2");
    cr_assert_eq(qc_spec_layer_arith(&la, &s1, "fc1", &err), QC_OK);
    cr_assert_str_eq(la.mac[QC_GEMM_FWD].prod.name, "e4m3", "auto follows the layer's a");
    cr_assert_eq(qc_spec_layer_arith(&la, &s1, "fc2", &err), QC_OK);
    cr_assert_str_eq(la.mac[QC_GEMM_FWD].prod.name, "bf16");
    /* auto with a fixed-point operand a is an exact product. */
    parse_ok(&s1, SPEC("\"arith\":{\"forward\":{\"activations\":\"q8.8\",\"mac\":{\"cfg\":2}}}"));
    cr_assert(s1.arith.base.mac[QC_GEMM_FWD].prod_exact);
    /* The global wgrad_mac key beats backward.mac, a layer's mac key beats both. */
    parse_ok(&s1, SPEC("\"arith\":{\"backward\":{\"mac\":{\"acc\":\"e6m5\"},\"wgrad_mac\":{\"acc\":"
                       "\"e8m7\"}},\"layers\":{\"fc1\":{\"backward\":{\"mac\":{\"acc\":\"fp16\"}}},"
                       "\"fc2\":{\"backward\":{\"wgrad_mac\":{\"acc\":\"tf32\"}}}}}"));
    cr_assert_str_eq(s1.arith.base.mac[QC_GEMM_BWD].acc.name, "e6m5");
    cr_assert_str_eq(s1.arith.base.mac[QC_GEMM_WGRAD].acc.name, "e8m7");
    cr_assert_eq(qc_spec_layer_arith(&la, &s1, "fc1", &err), QC_OK);
    cr_assert_str_eq(la.mac[QC_GEMM_BWD].acc.name, "fp16");
    cr_assert_str_eq(la.mac[QC_GEMM_WGRAD].acc.name, "fp16");
    cr_assert_eq(qc_spec_layer_arith(&la, &s1, "fc2", &err), QC_OK);
    cr_assert_str_eq(la.mac[QC_GEMM_BWD].acc.name, "e6m5");
    cr_assert_str_eq(la.mac[QC_GEMM_WGRAD].acc.name, "tf32");
}

Test(spec, overrides_are_checked_against_the_built_model)
{
    struct qc_backend *be = NULL;
    struct qc_backend_opts opts = {.threads = 1};
    struct qc_model_desc md;
    struct qc_err err;
    struct qc_net *net = calloc(1, sizeof *net);

    cr_assert_not_null(net);
    parse_ok(&s1, SPEC("\"arith\":{\"layers\":{\"conv1\":{},\"fc3\":{}}}"));
    qc_spec_model_desc(&md, &s1);
    cr_assert_str_eq(md.arch, "lenet5");
    cr_assert_eq(md.width, 1);
    cr_assert_eq(qc_backend_create(&be, "cpu", &opts, &err), QC_OK, "%s", err.msg);
    cr_assert_eq(qc_model_build(net, &md, 1, 28, 28, 10, 2, be, &err), QC_OK, "%s", err.msg);
    cr_assert_eq(qc_spec_check_layers(&s1, net, &err), QC_OK, "%s", err.msg);

    parse_ok(&s2, SPEC("\"arith\":{\"layers\":{\"conv1\":{},\"fc9\":{}}}"));
    cr_assert_eq(qc_spec_check_layers(&s2, net, &err), QC_EINVAL);
    cr_assert_str_eq(err.field, "/arith/layers/fc9");
    cr_assert_not_null(strstr(err.msg, "lenet5 has no layer 'fc9'"), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "conv1, conv2, fc1, fc2, fc3"), "%s", err.msg);
    parse_ok(&s2, SPEC("\"arith\":{\"layers\":{\"relu1\":{}}}"));
    cr_assert_eq(qc_spec_check_layers(&s2, net, &err), QC_EINVAL);
    cr_assert_not_null(strstr(err.msg, "'relu1' has no GEMM"), "%s", err.msg);

    qc_net_free(net);
    free(net);
    qc_backend_destroy(be);
}

Test(spec, model_desc_carries_the_model_section)
{
    struct qc_model_desc md;

    parse_ok(&s1, MODEL("{\"arch\":\"mlp\",\"hidden\":[300,100]}"));
    qc_spec_model_desc(&md, &s1);
    cr_assert_str_eq(md.arch, "mlp");
    cr_assert_eq(md.nhidden, 2);
    cr_assert_eq(md.hidden[0], 300);
    cr_assert_eq(md.hidden[1], 100);
    parse_ok(&s1, MODEL("{\"arch\":\"resnet\",\"depth\":56,\"width\":4}"));
    qc_spec_model_desc(&md, &s1);
    cr_assert_str_eq(md.arch, "resnet");
    cr_assert_eq(md.depth, 56);
    cr_assert_eq(md.width, 4);
}

Test(spec, enum_names_match_the_json)
{
    cr_assert_str_eq(qc_spec_arch_name(QC_ARCH_VGG), "vgg");
    cr_assert_str_eq(qc_spec_dataset_name(QC_DATA_FASHION_MNIST), "fashion-mnist");
    cr_assert_str_eq(qc_spec_optimizer_name(QC_OPTIM_ADAM), "adam");
    cr_assert_str_eq(qc_spec_schedule_name(QC_SCHED_COSINE), "cosine");
    cr_assert_str_eq(qc_spec_loss_scaling_name(QC_LOSS_SCALE_DYNAMIC), "dynamic");
    cr_assert_str_eq(qc_spec_block_scaling_name(QC_BLOCK_SCALE_DELAY_UPDATE), "delay_update");
    cr_assert_str_eq(qc_spec_device_name(QC_DEVICE_FPGA), "fpga");
    cr_assert_str_eq(qc_spec_arch_name((enum qc_spec_arch)42), "?");
    /* scale_rule names are quantize.h's, in its enum order. */
    for (int r = QC_SCALE_FLOOR; r <= QC_SCALE_ROUND; r++) {
        char text[256];
        snprintf(text, sizeof text, SPEC("\"arith\":{\"scale_rule\":\"%s\"}"),
                 qc_scale_rule_name((enum qc_scale_rule)r));
        parse_ok(&s1, text);
        cr_assert_eq(s1.arith.scale_rule, (enum qc_scale_rule)r);
    }
}

/* The fields of an error list, joined by spaces. */
static void error_fields(char *buf, size_t len, const json_t *errors)
{
    size_t i, used = 0;
    const json_t *e;
    buf[0] = '\0';
    json_array_foreach(errors, i, e)
    {
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? " " : "",
                                 json_string_value(json_object_get(e, "field")));
        cr_assert_lt(used, len);
        cr_expect_str_eq(json_string_value(json_object_get(e, "code")), "EINVAL");
        cr_expect(strlen(json_string_value(json_object_get(e, "message"))) > 0);
    }
}

Test(spec, check_all_reports_every_error_at_once)
{
    json_error_t je;
    json_t *doc =
        json_loads("{\"name\": \"x\", \"model\": {\"arch\": \"lenet5\", \"color\": 3},"
                   " \"dataset\": {\"name\": \"fashion-mnist\", \"train_limit\": -5},"
                   " \"train\": {\"epochs\": 0, \"optimizer\": {\"type\": \"sgd\", \"lr\": -1}},"
                   " \"arith\": {\"forward\": {\"weights\": \"e9m99\", \"mac\": {\"cfg\": 9}},"
                   "             \"backward\": {\"errors\": \"zz\"}}}",
                   0, &je);
    cr_assert_not_null(doc, "%s", je.text);
    json_t *errors = NULL;
    struct qc_err first;
    char buf[1024];
    cr_expect_eq(qc_spec_check_all(&errors, doc, 64, &first), QC_EINVAL);
    cr_expect_str_eq(first.field, "/model/color", "the first error is the parser's own");
    error_fields(buf, sizeof buf, errors);
    cr_expect_str_eq(buf, "/model/color /dataset/train_limit /train/epochs /train/optimizer/lr "
                          "/arith/forward/weights /arith/forward/mac/cfg /arith/backward/errors");
    json_decref(errors);

    /* At most `max`. */
    cr_expect_eq(qc_spec_check_all(&errors, doc, 2, NULL), QC_EINVAL);
    cr_expect_eq(json_array_size(errors), 2);
    json_decref(errors);

    /* The document itself is untouched. */
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(doc, "model"), "color")), 3);
    json_decref(doc);

    /* A valid spec: an empty list and QC_OK. */
    doc = json_loads("{\"name\": \"x\", \"model\": {\"arch\": \"lenet5\"}, \"dataset\": {\"name\": "
                     "\"synthetic\"}}",
                     0, &je);
    cr_expect_eq(qc_spec_check_all(&errors, doc, 64, &first), QC_OK);
    cr_expect_eq(json_array_size(errors), 0);
    json_decref(errors);
    json_decref(doc);

    /* A bad value of a required key: one error, not a second one saying
     * the key (removed to look further) is missing. */
    doc = json_loads("{\"name\": \"x\", \"model\": {\"arch\": \"lenet5\"}, \"dataset\": {\"name\": "
                     "\"nope\"}}",
                     0, &je);
    cr_expect_eq(qc_spec_check_all(&errors, doc, 64, &first), QC_EINVAL);
    error_fields(buf, sizeof buf, errors);
    cr_expect_str_eq(buf, "/dataset/name");
    json_decref(errors);
    json_decref(doc);

    /* A missing required key cannot be removed: the list ends there. */
    doc = json_loads("{\"name\": \"x\", \"dataset\": {\"name\": \"mnist\", \"val_limit\": -1}}", 0,
                     &je);
    cr_expect_eq(qc_spec_check_all(&errors, doc, 64, &first), QC_EINVAL);
    error_fields(buf, sizeof buf, errors);
    cr_expect_str_eq(buf, "/model");
    json_decref(errors);
    json_decref(doc);
}
