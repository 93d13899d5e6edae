/* RTL parameters of a MAC configuration: which of the hw/rtl/ units a
 * struct qc_mac needs and with which Verilog parameters, or an error naming
 * the field the RTL cannot express (stochastic rounding, block formats, a
 * wrapping accumulator, ...). The same mapping drives synthesis
 * (hw_yosys.h) and the Verilator models that prove the RTL equal to the
 * core (tests/hw/), so what is measured is what was tested.
 *
 * Plain data and pure functions: thread-safe, nothing to free. */
#ifndef QHW_PARAMS_H
#define QHW_PARAMS_H

#include "qcore/mac.h"

/* Every Verilog parameter of qmac/qarray, in the order of the RTL
 * (hw/rtl/qmac.sv documents each). */
// clang-format off
#define HW_PARAMS(X)                                                       \
    X(KIND)                                         /* enum hw_kind */     \
    X(EA) X(MA) X(BA) X(TA) X(SA)                   /* input a, float */   \
    X(EB) X(MB) X(BB) X(TB) X(SB)                   /* input b, float */   \
    X(PMODE) X(FLUSHE)                              /* product step */     \
    X(EP) X(MP) X(BP) X(TP) X(PSAT) X(PNOSUB) X(PW) /* product format */   \
    X(QIA) X(QFA) X(QIB) X(QFB)                     /* fixed inputs */     \
    X(EC) X(MC) X(BC) X(CSAT) X(CNOSUB)             /* float acc */        \
    X(QI) X(QF) X(RM)                               /* fixed acc, mode */  \
    X(XW) X(SW) X(AW) X(BW) X(CW)                   /* widths */
// clang-format on

enum hw_param {
#define HW__P_ENUM(n) HW_P_##n,
    HW_PARAMS(HW__P_ENUM)
#undef HW__P_ENUM
        HW_P_COUNT
};

/* KIND: the datapath of the MAC. */
enum hw_kind {
    HW_KIND_FLOAT = 0, /* float x float -> float accumulator */
    HW_KIND_CONV = 1,  /* float x float -> float-to-fixed converter -> fixed accumulator */
    HW_KIND_FIXED = 2, /* fixed x fixed -> fixed accumulator */
};

/* The units that can be synthesized and simulated on their own. */
enum hw_unit {
    HW_UNIT_MUL = 0,   /* qf_mul or qx_mul */
    HW_UNIT_ACC = 1,   /* qf_acc or qx_acc: adder + register */
    HW_UNIT_CONV = 2,  /* qx_conv (KIND 1 only) */
    HW_UNIT_MAC = 3,   /* qmac: multiplier, accumulator, chunk register */
    HW_UNIT_ARRAY = 4, /* qarray: rows x cols qmac units */
    HW_UNIT_COUNT = 5,
};

struct hw_params {
    int p[HW_P_COUNT];
};

/* One Verilog parameter override. */
struct hw_kv {
    const char *name; /* static storage */
    int value;
};

#define HW_KV_MAX (HW_P_COUNT + 2)

/* Maps a resolved MAC configuration. QC_EINVAL with err->field the MAC key
 * ("acc", "acc_rounding", "a", "b", "product") when the RTL cannot express
 * it, and a message saying why. */
int hw_params_from_mac(struct hw_params *out, const struct qc_mac *m, struct qc_err *err);

/* The top module of a unit and its parameter overrides (rows/cols: the
 * array's shape, ignored for other units). Returns the number of
 * overrides written to kv (at most HW_KV_MAX), or 0 when the configuration
 * has no such unit (a converter without a fixed-point accumulator). */
int hw_unit_params(const struct hw_params *p, enum hw_unit unit, int rows, int cols,
                   const char **module, struct hw_kv *kv);

const char *hw_unit_name(enum hw_unit unit); /* "multiplier", "accumulator", ... */
const char *hw_param_name(enum hw_param p);  /* "EA" */

#endif
