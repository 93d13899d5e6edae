/* Training checkpoints: model parameters, batchnorm statistics, optimizer
 * and loss-scaler state, the scale policies' amax histories and the data
 * position, in one versioned file with a CRC-32, so that a resumed run
 * continues bit for bit.
 *
 * Layout (little-endian): "QLABCKPT", u32 version, then sections of
 * (4-byte tag, u64 length, payload), then "QEND" and the CRC-32 of every
 * byte before it. Files are written to a temporary name, synced, and
 * renamed, so a crash never leaves a half-written checkpoint under `path`. */
#ifndef QCORE_CHECKPOINT_H
#define QCORE_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "qcore/nn.h"
#include "qcore/optim.h"

#define QC_CHECKPOINT_VERSION 2 /* 2: the scale policies' state (SCLS) */

struct qc_ckpt_progress {
    int64_t epoch;        /* epoch in progress (0-based) */
    int64_t step;         /* optimizer steps taken in total */
    int64_t pos;          /* samples of this epoch already consumed */
    uint64_t sr_stream;   /* the net's stochastic-rounding stream counter */
    uint64_t fingerprint; /* identifies the experiment (hash of its spec) */
};

/* `extra` (extra_len bytes, may be 0) is the caller's own state, stored
 * as a section and restored byte for byte (its length must match). */
int qc_checkpoint_save(const char *path, const struct qc_net *net, const struct qc_optim *o,
                       const struct qc_loss_scaler *s, const struct qc_ckpt_progress *p,
                       const void *extra, size_t extra_len, struct qc_err *err);
/* Restores into an already built net (its scale policy set) and
 * initialized optimizer of the same shapes. A truncated, corrupt, foreign
 * (other fingerprint) or mismatched file is refused with QC_ECORRUPT and a
 * message naming the file and what differs; nothing is modified then.
 * QC_ENOMEM while the scale state is being restored leaves it partial. */
int qc_checkpoint_load(const char *path, struct qc_net *net, struct qc_optim *o,
                       struct qc_loss_scaler *s, struct qc_ckpt_progress *p, void *extra,
                       size_t extra_len, struct qc_err *err);

/* FNV-1a 64 of a byte string: the fingerprint of a spec's canonical text. */
uint64_t qc_fingerprint(const void *data, size_t len);

#endif
