/* libFuzzer target: the number-format language and the MAC configuration
 * strings (qc_format_parse, qc_mac_parse). A format that parses must parse
 * again from its canonical name to the same traits, and quantizing a few
 * values into it must not crash. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "qcore/format.h"
#include "qcore/mac.h"
#include "qcore/quantize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[512];
    struct qc_err err;
    if (size >= sizeof text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    struct qc_format f, g;
    if (qc_format_parse(&f, text, &err) == QC_OK) {
        if (qc_format_parse(&g, f.name, &err) != QC_OK || g.bits != f.bits ||
            g.max_finite != f.max_finite) {
            fprintf(stderr, "'%s' parsed to '%s', which does not parse back the same: %s\n", text,
                    f.name, err.msg);
            __builtin_trap();
        }
        static const double xs[] = {0.0,   -0.0,    1.0,   -1.5, 3.0e38,  1e-40,
                                    448.0, 65504.0, 1e300, 7e-5, -2.5e-8, 123.456};
        double out[12];
        struct qc_round rnd;
        qc_round_init(&rnd, QC_ROUND_RNE);
        /* Blocks in rows of 12, so block formats see a short last block. */
        (void)qc_quantize_f64(out, xs, 1, 12, &f, &rnd, QC_SCALE_FLOOR, 0, NULL, &err);
    }
    struct qc_mac m;
    char desc[512];
    if (qc_mac_parse(&m, text, &err) == QC_OK)
        qc_mac_describe(&m, desc, (int)sizeof desc);
    return 0;
}
