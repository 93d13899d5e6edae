/* Internal helpers of the experiment spec parser: the table of accepted keys
 * and typed readers that check one JSON value each and report failures with
 * its JSON pointer, so every section parser reads as a list of fields. */
#ifndef QCORE_SPEC_IMPL_H
#define QCORE_SPEC_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qcore/spec.h"

/* A JSON object being read: the value (NULL when the key was absent, so
 * every read of it finds nothing) and its JSON pointer. */
struct qc__jobj {
    const json_t *v;
    char ptr[QC_SPEC_PTR_MAX];
};

/* Character classes of strings. */
enum qc__spec_chars {
    QC__CHARS_TEXT,  /* printable ASCII, space included */
    QC__CHARS_IDENT, /* letters, digits, '_', '.', '-' */
    QC__CHARS_PATH,  /* anything but control characters */
};

/* strcpy that truncates to `cap` bytes, NUL included. */
void qc__spec_copy(char *dst, size_t cap, const char *src);

/* `ptr` + "/" + `key`, the key escaped as RFC 6901 asks (~0, ~1). */
void qc__spec_ptr(char *out, size_t len, const char *ptr, const char *key);

/* The keys accepted by the object at `ptr` (a layer name matches "*"),
 * NULL-terminated; NULL when `ptr` is no object of the document. */
const char *const *qc__spec_keys(const char *ptr);

/* The document root, which must be an object with known keys. */
int qc__spec_root(struct qc__jobj *out, const json_t *root, struct qc_err *err);

/* The readers. Each returns a negative QC_E* code (err set), 0 when `key`
 * is absent (or null, where `nullable`; *out untouched), 1 when a valid
 * value was stored. Objects must be objects whose keys the table knows. */
int qc__spec_object(struct qc__jobj *out, const struct qc__jobj *o, const char *key, bool required,
                    struct qc_err *err);
int qc__spec_int(int64_t *out, const struct qc__jobj *o, const char *key, int64_t lo, int64_t hi,
                 struct qc_err *err);
/* lo/hi bounds, each inclusive or open; +-INFINITY for none. */
int qc__spec_real(double *out, const struct qc__jobj *o, const char *key, double lo, bool lo_open,
                  double hi, bool hi_open, struct qc_err *err);
int qc__spec_bool(bool *out, const struct qc__jobj *o, const char *key, struct qc_err *err);
/* One of `names` (NULL-terminated); *out is its index. */
int qc__spec_enum(int *out, const struct qc__jobj *o, const char *key, const char *const *names,
                  bool required, struct qc_err *err);
/* A string of 1..cap-1 bytes of class `chars`. */
int qc__spec_string(char *out, size_t cap, const struct qc__jobj *o, const char *key,
                    enum qc__spec_chars chars, bool nullable, bool required, struct qc_err *err);
/* A format string, parsed. `also` (may be NULL) lists extra words accepted
 * as they are ("native", "auto", "exact"); for those *word is set to the
 * word and *out left alone, otherwise *word is NULL. */
int qc__spec_format(struct qc_format *out, const char **word, const struct qc__jobj *o,
                    const char *key, const char *const *also, bool nullable, struct qc_err *err);

/* An integer value `v` at `ptr`, called `name` in messages. */
int qc__spec_int_value(int64_t *out, const json_t *v, const char *ptr, const char *name, int64_t lo,
                       int64_t hi, struct qc_err *err);
/* A short text for a value in a message: "the string 'x'", "2.5", "an array". */
const char *qc__spec_describe(char *buf, size_t len, const json_t *v);

/* Whether `key` is present (and, with `nonnull`, not null) in `o`. */
bool qc__spec_has(const struct qc__jobj *o, const char *key, bool nonnull);

/* The arith section: spec_arith.c. */
int qc__spec_arith_parse(struct qc_spec_arith *out, const struct qc__jobj *root,
                         struct qc_err *err);
/* True if some weights/activations/errors format (global or override) is
 * anything but plain fp32/fp64, i.e. a tensor scale can matter. */
bool qc__spec_arith_quantized(const struct qc_spec_arith *a);
/* The pointer of the first MAC object with acc "native" (into buf), or NULL. */
const char *qc__spec_arith_native(const struct qc_spec_arith *a, char *buf, size_t len);

/* The enumerations' names, NULL-terminated, in enum order (spec_names.c). */
extern const char *const qc__spec_arch[];
extern const char *const qc__spec_dataset[];
extern const char *const qc__spec_optimizer[];
extern const char *const qc__spec_schedule[];
extern const char *const qc__spec_loss[];
extern const char *const qc__spec_blocks[];
extern const char *const qc__spec_device[];

#endif
