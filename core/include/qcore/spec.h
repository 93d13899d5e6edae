/* The experiment spec: the typed, validated form of the JSON document that
 * schema/experiment.schema.json describes (model, dataset, training, number
 * formats and MACs, scaling, device), shared by the server, the worker and
 * the CLI so that every component accepts and rejects exactly the same specs.
 *
 * A `struct qc_spec` is plain data: fixed-size arrays, no pointers, no heap.
 * Copy it with `=` or memcpy; there is nothing to free. It is large (about
 * 80 KB, mostly the per-layer override table), so prefer static or heap
 * storage to the stack of a small-stack thread. qc_spec_from_json zero-fills
 * `*out` first, so two specs parsed from equivalent JSON are byte-identical.
 *
 * Every field, its default and its range is documented in docs/spec.md.
 *
 * Errors: QC_EINVAL for anything wrong with the document (syntax, unknown
 * key, wrong type, value out of range, bad format string, impossible
 * combination), with err->field the JSON pointer of the offending value
 * ("/arith/forward/mac/acc"; "" for the document itself) and err->msg a
 * sentence naming the value ("unknown key 'foo'", "epochs 0 is outside
 * 1..10000"). qc_spec_load adds QC_EIO (unreadable file). On failure `*out`
 * holds no valid spec.
 *
 * Thread safety: every function is reentrant; a parsed spec is read-only. */
#ifndef QCORE_SPEC_H
#define QCORE_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qcore/error.h"
#include "qcore/format.h"
#include "qcore/mac.h"
#include "qcore/model.h"
#include "qcore/nn.h"
#include "qcore/optim.h"
#include "qcore/quantize.h"

/* Limits (also stated in the schema). */
#define QC_SPEC_NAME_MAX   128       /* bytes of a name, board or layer name */
#define QC_SPEC_PATH_MAX   1024      /* bytes of dataset.dir */
#define QC_SPEC_HIDDEN_MAX 16        /* mlp hidden layers */
#define QC_SPEC_UNITS_MAX  65536     /* units of one mlp hidden layer */
#define QC_SPEC_LAYERS_MAX 64        /* entries of arith.layers */
#define QC_SPEC_TEXT_MAX   (1 << 20) /* bytes of a spec document (parse, load) */
#define QC_SPEC_PTR_MAX    256       /* bytes of a JSON pointer this module builds */

/* Enumerations: JSON carries their names (qc_spec_*_name), never numbers. */
enum qc_spec_arch { QC_ARCH_MLP = 0, QC_ARCH_LENET5, QC_ARCH_RESNET, QC_ARCH_VGG };
enum qc_spec_data {
    QC_DATA_FASHION_MNIST = 0,
    QC_DATA_MNIST,
    QC_DATA_CIFAR10,
    QC_DATA_SYNTHETIC,
};
/* The optimizer, schedule and loss-scaling kinds are optim.h's enums. */
enum qc_spec_block_scale {
    QC_BLOCK_SCALE_NONE = 0,     /* block scales from the block's current amax; no tensor scale */
    QC_BLOCK_SCALE_MAX,          /* tensor scales too, from the current amax */
    QC_BLOCK_SCALE_DELAYED,      /* from the amax history window */
    QC_BLOCK_SCALE_DELAY_UPDATE, /* the previous scale, re-estimated when it drifts */
    QC_BLOCK_SCALE_WMA,          /* weighted moving average of the amax history */
};
enum qc_spec_device_kind { QC_DEVICE_ANY = 0, QC_DEVICE_CPU, QC_DEVICE_GPU, QC_DEVICE_FPGA };

/* Names as the JSON spells them; "?" for a value outside the enum. */
const char *qc_spec_arch_name(enum qc_spec_arch v);
const char *qc_spec_dataset_name(enum qc_spec_data v);
const char *qc_spec_optimizer_name(enum qc_optim_kind v);
const char *qc_spec_schedule_name(enum qc_sched_kind v);
const char *qc_spec_loss_scaling_name(enum qc_loss_scale_kind v);
const char *qc_spec_block_scaling_name(enum qc_spec_block_scale v);
const char *qc_spec_device_name(enum qc_spec_device_kind v);

/* The keys of a MAC object ("mac", "wgrad_mac"). */
enum {
    QC_SPEC_MAC_CFG = 1u << 0,
    QC_SPEC_MAC_PRODUCT = 1u << 1,
    QC_SPEC_MAC_ACC = 1u << 2,
    QC_SPEC_MAC_ACC_ROUNDING = 1u << 3,
    QC_SPEC_MAC_CHUNK = 1u << 4,
    QC_SPEC_MAC_FUSED = 1u << 5,
    QC_SPEC_MAC_SEED = 1u << 6,
    QC_SPEC_MAC_ALL = (1u << 7) - 1,
};

/* One MAC object as written. The operand formats are not part of it: they
 * come from the tensor formats of the GEMM it configures (see qc_nn_arith).
 * In the global arith every key is set (defaults filled in); in a layer
 * override only the keys given, which replace the global ones. */
struct qc_spec_mac {
    unsigned set;                     /* QC_SPEC_MAC_* keys present */
    int cfg;                          /* 1..6 */
    char product[QC_FORMAT_NAME_MAX]; /* "auto", "exact" or a canonical format name */
    char acc[QC_FORMAT_NAME_MAX];     /* canonical format name, or "native" */
    struct qc_round acc_rounding;     /* mode and sr_bits; seed and stream 0 */
    int64_t chunk;                    /* 0 = all of K in one chunk */
    bool fused;
    uint64_t seed; /* seed of stochastic accumulator rounding */
};

/* The tensor formats of a layer override. */
enum {
    QC_SPEC_LAYER_WEIGHTS = 1u << 0,
    QC_SPEC_LAYER_ACTIVATIONS = 1u << 1,
    QC_SPEC_LAYER_ERRORS = 1u << 2,
};

/* arith.layers["<name>"]: a partial arith (forward/backward only). */
struct qc_spec_layer {
    char name[QC_SPEC_NAME_MAX + 1];
    unsigned set; /* QC_SPEC_LAYER_* formats present */
    struct qc_format weights, activations, errors;
    struct qc_spec_mac forward_mac, backward_mac, wgrad_mac; /* partial */
};

struct qc_spec_arith {
    /* As configured, every default filled in. wgrad_mac is already merged
     * over backward_mac (it names the grad-weight MAC in full). */
    struct qc_format weights, activations, errors;
    struct qc_spec_mac forward_mac, backward_mac, wgrad_mac;
    /* The arithmetic of a layer without override: the formats above and
     * the resolved MAC of each GEMM group, operand formats set:
     *   mac[QC_GEMM_FWD]   a = activations, b = weights
     *   mac[QC_GEMM_BWD]   a = errors,      b = weights      (grad-input)
     *   mac[QC_GEMM_WGRAD] a = errors,      b = activations  (grad-weight) */
    struct qc_nn_arith base;
    struct qc_format master_weights;
    bool has_weight_update, has_momentum; /* false: that value is not quantized */
    struct qc_format weight_update, momentum;
    enum qc_scale_rule scale_rule;
    int nlayers;
    struct qc_spec_layer layers[QC_SPEC_LAYERS_MAX]; /* in document order */
};

struct qc_spec_model {
    enum qc_spec_arch arch;
    int nhidden;                    /* mlp: 1..16; else 0 */
    int hidden[QC_SPEC_HIDDEN_MAX]; /* mlp: units per hidden layer */
    int depth;                      /* resnet: 6n+2 (default 20); else 0 */
    int width;                      /* resnet, vgg: channel multiplier; else 1 */
};

struct qc_spec_dataset {
    enum qc_spec_data name;
    char dir[QC_SPEC_PATH_MAX];     /* "": the dataset's standard directory */
    int64_t train_limit, val_limit; /* 0: the whole split */
    bool augment;
};

struct qc_spec_optimizer {
    enum qc_optim_kind type;
    double lr, weight_decay;
    double momentum;          /* sgd */
    bool nesterov;            /* sgd */
    double beta1, beta2, eps; /* adam */
};

struct qc_spec_schedule {
    enum qc_sched_kind type;
    int64_t warmup_epochs, warmup_steps; /* at most one nonzero */
    int64_t step_size;                   /* step: epochs between decays; else 0 */
    double gamma;                        /* step: decay factor */
};

struct qc_spec_train {
    int64_t epochs, batch_size;
    uint64_t seed;
    int64_t log_interval; /* steps between metric records */
    struct qc_spec_optimizer optimizer;
    struct qc_spec_schedule schedule;
};

struct qc_spec_loss {
    enum qc_loss_scale_kind type;
    double init;                                    /* static, dynamic */
    int64_t growth_interval;                        /* dynamic */
    double growth_factor, backoff_factor, min, max; /* dynamic */
};

struct qc_spec_blocks {
    enum qc_spec_block_scale type;
    int history;  /* delayed, delay_update, wma */
    double drift; /* delay_update, in binades */
    double alpha; /* wma */
};

struct qc_spec_device {
    enum qc_spec_device_kind kind;
    char board[QC_SPEC_NAME_MAX + 1]; /* "": any */
};

/* Parameters a type does not use hold their defaults. */
struct qc_spec {
    char name[QC_SPEC_NAME_MAX + 1];
    struct qc_spec_model model;
    struct qc_spec_dataset dataset;
    struct qc_spec_train train;
    struct qc_spec_arith arith;
    struct {
        struct qc_spec_loss loss;
        struct qc_spec_blocks blocks;
    } scaling;
    struct qc_spec_device device;
};

/* Validates `root` (borrowed) and fills `out`. */
int qc_spec_from_json(struct qc_spec *out, const json_t *root, struct qc_err *err);
/* Parses `len` bytes of JSON text (no NUL needed; duplicate keys are
 * refused). Syntax errors give field "" and "line L, column C: ...". */
int qc_spec_parse(struct qc_spec *out, const char *text, size_t len, struct qc_err *err);
/* Reads and parses a file of at most QC_SPEC_TEXT_MAX bytes; syntax errors
 * read "path:L:C: ...". */
int qc_spec_load(struct qc_spec *out, const char *path, struct qc_err *err);

/* The canonical document: every default filled in, keys in schema order,
 * enums and formats by canonical name, null for absent optional values,
 * parameters only where the chosen type uses them, layer overrides partial
 * as written. qc_spec_from_json of it gives `s` back byte for byte.
 * New reference owned by the caller (json_decref); NULL only when out of
 * memory. */
json_t *qc_spec_to_json(const struct qc_spec *s);

/* The effective arithmetic of layer `layer_name`: the global formats and
 * MACs with the layer's override (if any) applied key by key, each MAC
 * resolved with its GEMM's operand formats (see struct qc_spec_arith).
 * Precedence, lowest first: defaults, global mac, global wgrad_mac
 * (grad-weight only), layer mac, layer wgrad_mac (grad-weight only).
 * A name without override gets s->arith.base. Errors (only for a spec
 * edited by hand after parsing) carry the override's JSON pointer. */
int qc_spec_layer_arith(struct qc_nn_arith *out, const struct qc_spec *s, const char *layer_name,
                        struct qc_err *err);

/* Checks that every arith.layers entry names a GEMM layer (conv or linear)
 * of `net`, so a misspelt override cannot silently do nothing. */
int qc_spec_check_layers(const struct qc_spec *s, const struct qc_net *net, struct qc_err *err);

/* The model section as qc_model_build wants it. */
void qc_spec_model_desc(struct qc_model_desc *out, const struct qc_spec *s);

/* The JSON pointers of every key the parser accepts, in schema order, with
 * the segment "*" standing for any layer name under /arith/layers. Writes
 * the i-th into buf and returns buf; NULL past the last. The same table
 * drives the unknown-key check, so this list is what the parser accepts. */
const char *qc_spec_known_path(char *buf, size_t len, int i);

/* Every error of the spec document `doc` (borrowed) at once, at most `max`:
 * *errors receives a new array (caller decrefs) of {"code", "field",
 * "message"}, empty when the spec is valid; `first` (may be NULL) the first
 * error, as qc_spec_from_json reports it. Later errors are found by removing
 * the member each error points at and parsing again, so a default stands in
 * for it; an error that points at nothing removable (a missing required key,
 * a rule across sections) ends the list. Returns the first error's code, or
 * QC_OK. */
int qc_spec_check_all(json_t **errors, const json_t *doc, int max, struct qc_err *first);

#endif
