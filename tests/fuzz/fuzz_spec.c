/* libFuzzer target: the experiment spec parser (qc_spec_parse). A spec
 * that parses must survive the round trip through its canonical JSON: the
 * canonical form parses again and is itself canonical. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct qc_spec a, b; /* large: not on the stack */
    struct qc_err err;
    if (qc_spec_parse(&a, (const char *)data, size, &err) != QC_OK)
        return 0;
    json_t *j = qc_spec_to_json(&a);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (!text || qc_spec_parse(&b, text, strlen(text), &err) != QC_OK) {
        fprintf(stderr, "the canonical form does not parse: %s\n%s\n", err.msg,
                text ? text : "(null)");
        __builtin_trap();
    }
    json_t *k = qc_spec_to_json(&b);
    if (!json_equal(j, k)) {
        fprintf(stderr, "the canonical form is not canonical:\n%s\n", text);
        __builtin_trap();
    }
    json_decref(k);
    free(text);
    json_decref(j);
    return 0;
}
