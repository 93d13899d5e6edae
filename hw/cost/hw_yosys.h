/* Synthesis of one unit of hw/rtl/ with Yosys: the flow scripts of hw/syn/,
 * the cache key of a run, and the run itself (fork and exec of yosys, no
 * shell, its own process group, a time limit), parsed into figures.
 *
 * A struct hw_tool describes the installation: where hw/ is, the hash of
 * its RTL sources, the flow scripts, and the Yosys binary and version.
 * Initialise it once and share it read-only between threads; runs are
 * independent processes in their own temporary directories. */
#ifndef QHW_YOSYS_H
#define QHW_YOSYS_H

#include <jansson.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "hw_params.h"

enum hw_flow {
    HW_FLOW_XILINX = 0,       /* synth_xilinx -family xcup */
    HW_FLOW_XILINX_NODSP = 1, /* the same without DSP blocks */
    HW_FLOW_GATES = 2,        /* generic gates, weighted (docs/cost.md) */
    HW_FLOW_COUNT = 3,
};

#define HW_RTL_MAX     32
#define HW_VERSION_MAX 128

struct hw_tool {
    char dir[PATH_MAX];           /* hw/ */
    char yosys[PATH_MAX];         /* the binary; "" when not installed */
    char version[HW_VERSION_MAX]; /* "Yosys 0.23 (git sha1 7ce5011c24b)"; "" when absent */
    char rtl_hash[65];            /* SHA-256 over hw/rtl/ (names and contents) */
    int nrtl;
    char rtl[HW_RTL_MAX][PATH_MAX]; /* the .sv files of hw/rtl/, sorted */
    char *script[2];                /* hw/syn/xilinx.ys, gates.ys (owned) */
};

/* Gate weights of the generic count: two-input AND, OR and XOR count 1,
 * an inverter 0, a 2:1 multiplexer 3, a half adder 2, a full adder 5. */
#define HW_W_AND 1
#define HW_W_OR  1
#define HW_W_XOR 1
#define HW_W_NOT 0
#define HW_W_MUX 3
#define HW_W_HA  2
#define HW_W_FA  5

/* Finds hw/ (`dir`, else $QLAB_HW_DIR, else ../../hw beside the running
 * binary, else ./hw), reads the RTL and the scripts, finds yosys
 * ($QLAB_YOSYS, else PATH) and asks its version. A missing yosys is not an
 * error (version ""); a missing hw/ is (QC_ENOTFOUND). */
int hw_tool_init(struct hw_tool *t, const char *dir, struct qc_err *err);
void hw_tool_free(struct hw_tool *t);

/* The flow's name ("xilinx", "xilinx-nodsp", "gates"). */
const char *hw_flow_name(enum hw_flow flow);

/* The cache key of one run: SHA-256 over `version` (a Yosys version
 * string, normally t->version), the flow script, its options, the RTL hash,
 * the module and its parameters. */
void hw_synth_key(char key[65], const struct hw_tool *t, const char *version, enum hw_flow flow,
                  const char *module, const struct hw_kv *kv, int nkv);

/* Runs the flow on the module; *out receives the figures (a new object:
 * lut, ff, carry, dsp, muxf, inv, cells for the Xilinx flows; gates and the
 * counts of each gate for the gate flow; seconds of wall time). QC_EUNAVAIL
 * when yosys is not installed, QC_EIO when it fails or runs past
 * `timeout_s` (its log's tail in the message), QC_EUNAVAIL too when
 * `*cancel` (may be NULL) becomes true: the run is killed. */
int hw_synth_run(json_t **out, const struct hw_tool *t, enum hw_flow flow, const char *module,
                 const struct hw_kv *kv, int nkv, int timeout_s, const atomic_bool *cancel,
                 struct qc_err *err);

#endif
