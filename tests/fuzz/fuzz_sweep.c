/* libFuzzer target: the sweep parser and expander (qc_sweep_expand), with a
 * small run cap so a huge grid is refused rather than built. Every spec an
 * accepted sweep expands to must be a valid experiment. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "qcore/spec.h"
#include "qcore/sweep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct qc_spec s;
    struct qc_sweep_info info;
    struct qc_err err;
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return 0;
    json_t *specs = NULL;
    if (qc_sweep_expand(&specs, &info, doc, 64, &err) == QC_OK) {
        if ((int64_t)json_array_size(specs) != info.runs) {
            fprintf(stderr, "%zu specs for %lld runs\n", json_array_size(specs),
                    (long long)info.runs);
            __builtin_trap();
        }
        for (size_t i = 0; i < json_array_size(specs); i++)
            if (qc_spec_from_json(&s, json_array_get(specs, i), &err) != QC_OK) {
                fprintf(stderr, "expanded spec %zu is invalid: %s\n", i, err.msg);
                __builtin_trap();
            }
    }
    json_decref(specs);
    json_decref(doc);
    return 0;
}
