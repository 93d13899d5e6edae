/* The JSON description of a format, as GET /api/v1/formats serves it. */
#include <jansson.h>

#include "qcore/format.h"
#include "qcore/format_json.h"

static const char *kind_name(enum qc_format_kind k)
{
    static const char *const names[] = {"float", "fixed", "int", "mx", "bfp"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

json_t *qc_format_to_json(const struct qc_format *f)
{
    const bool fl = f->elem == QC_FMT_FLOAT;
    const bool block = f->kind == QC_FMT_MX || f->kind == QC_FMT_BFP;
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "name", json_string(f->name));
    json_object_set_new(o, "kind", json_string(kind_name(f->kind)));
    json_object_set_new(o, "elem_kind", json_string(kind_name(f->elem)));
    json_object_set_new(o, "bits", json_integer(f->bits));
    json_object_set_new(o, "ebits", fl ? json_integer(f->ebits) : json_null());
    json_object_set_new(o, "mbits", fl ? json_integer(f->mbits) : json_null());
    json_object_set_new(o, "bias", fl ? json_integer(f->bias) : json_null());
    json_object_set_new(o, "emin", fl ? json_integer(f->emin) : json_null());
    json_object_set_new(o, "emax", fl ? json_integer(f->emax) : json_null());
    json_object_set_new(o, "ibits", fl ? json_null() : json_integer(f->ibits));
    json_object_set_new(o, "fbits", fl ? json_null() : json_integer(f->fbits));
    json_object_set_new(o, "max_finite", json_real(f->max_finite));
    json_object_set_new(o, "min_normal", json_real(f->min_normal));
    json_object_set_new(o, "min_subnormal", json_real(f->min_subnormal));
    json_object_set_new(o, "has_inf", json_boolean(f->has_inf));
    json_object_set_new(o, "has_nan", json_boolean(f->has_nan));
    json_object_set_new(o, "flags", json_integer(f->flags));
    json_object_set_new(o, "block", block ? json_integer(f->block) : json_null());
    json_object_set_new(o, "elem_emax", block ? json_integer(f->elem_emax) : json_null());
    const char *doc = qc_format_alias_doc(f->name);
    json_object_set_new(o, "doc", doc ? json_string(doc) : json_null());
    return o;
}
