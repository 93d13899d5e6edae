/* A format's traits as a JSON object (jansson), for the REST API. Kept out
 * of format.h so that the numerics do not depend on jansson. */
#ifndef QCORE_FORMAT_JSON_H
#define QCORE_FORMAT_JSON_H

#include <jansson.h>

#include "qcore/format.h"

/* New reference (caller decrefs); NULL when out of memory. Keys: name,
 * kind, elem_kind, bits, ebits, mbits, bias, emin, emax, ibits, fbits,
 * max_finite, min_normal, min_subnormal, has_inf, has_nan, flags, block,
 * elem_emax, doc; null where a key does not apply. */
json_t *qc_format_to_json(const struct qc_format *f);

#endif
