/* Internal to libqcore: the exact scalar engine, whose arithmetic lives in
 * QC_HD headers that the CUDA backend compiles too (xval_hd.h: exact values;
 * round_hd.h: rounding to a format and its events). */
#ifndef QCORE_XVAL_IMPL_H
#define QCORE_XVAL_IMPL_H

#include "round_hd.h"
#include "xval_hd.h"

#endif
