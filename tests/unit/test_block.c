/* Packed storage: packing then unpacking gives exactly the quantized values,
 * codes are laid out bit by bit as documented, and unencodable values are
 * refused with the element named. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdlib.h>

#include "qcore/block.h"
#include "test_helpers.h"

/* Arrays, not pointers: Criterion runs each test in a fresh process, where
 * pointers copied from the parent's address space are not valid. */
struct pack_case {
    char fmt[24];
    char rounding[8];
    int rule;
    int rows, cols;
};

static struct pack_case pack_cases[] = {
    {"fp8_e4m3", "rne", QC_SCALE_FLOOR, 3, 41},    {"e5m2", "rtz", QC_SCALE_FLOOR, 1, 100},
    {"e3m2:finite", "rne", QC_SCALE_FLOOR, 2, 33}, {"q4.4", "rna", QC_SCALE_FLOOR, 2, 17},
    {"mxfp8_e4m3", "rne", QC_SCALE_FLOOR, 3, 70},  {"mxfp8_e5m2", "rne", QC_SCALE_CEIL, 2, 64},
    {"mxfp6_e3m2", "rne", QC_SCALE_ROUND, 4, 37},  {"mxfp6_e2m3@16", "rtz", QC_SCALE_FLOOR, 2, 50},
    {"mxfp4_e2m1", "rne", QC_SCALE_FLOOR, 5, 65},  {"mxfp4_e2m1@8", "sr:8", QC_SCALE_ROUND, 3, 29},
    {"mxint8", "rne", QC_SCALE_FLOOR, 2, 96},      {"bfp8@16", "rne", QC_SCALE_FLOOR, 3, 40},
    {"bfp5@7", "rup", QC_SCALE_CEIL, 2, 30},
};

ParameterizedTestParameters(block, pack_unpack_equals_quantize)
{
    return cr_make_param_array(struct pack_case, pack_cases,
                               sizeof pack_cases / sizeof pack_cases[0]);
}

ParameterizedTest(struct pack_case *pc, block, pack_unpack_equals_quantize)
{
    struct qc_format f = th_format(pc->fmt);
    struct qc_round r = th_round(pc->rounding, 99);
    struct qc_err err;
    const int64_t n = (int64_t)pc->rows * pc->cols;
    float *in = malloc((size_t)n * sizeof(float)), *q = malloc((size_t)n * sizeof(float)),
          *out = malloc((size_t)n * sizeof(float));
    uint64_t s = 42;

    for (int64_t i = 0; i < n; i++)
        in[i] = (float)th_spread(&s, -12, 6);
    in[3] = 0.0f;
    in[n - 1] = -0.0f;
    size_t cb = qc_pack_code_bytes(&f, pc->rows, pc->cols);
    size_t sb = qc_pack_scale_bytes(&f, pc->rows, pc->cols);
    cr_assert_eq(cb, (size_t)((n * f.bits + 7) / 8));
    if (qc_format_is_scalar(&f))
        cr_assert_eq(sb, 0);
    else
        cr_assert_eq(sb, (size_t)(pc->rows * ((pc->cols + f.block - 1) / f.block)));
    uint8_t *codes = calloc(cb + 1, 1), *scales = calloc(sb + 1, 1);
    cr_assert_eq(qc_pack_f32(codes, scales, in, pc->rows, pc->cols, &f, &r, pc->rule, &err), QC_OK,
                 "%s", err.msg);
    cr_assert_eq(qc_unpack_f32(out, codes, scales, pc->rows, pc->cols, &f, &err), QC_OK, "%s",
                 err.msg);
    cr_assert_eq(qc_quantize_f32(q, in, pc->rows, pc->cols, &f, &r, pc->rule, 0, NULL, &err), QC_OK,
                 "%s", err.msg);
    for (int64_t i = 0; i < n; i++)
        cr_assert(th_same_f(out[i], q[i]), "%s element %lld: unpacked %a, quantized %a", pc->fmt,
                  (long long)i, (double)out[i], (double)q[i]);
    free(in);
    free(q);
    free(out);
    free(codes);
    free(scales);
}

Test(block, fp4_codes_are_packed_little_endian)
{
    struct qc_format f = th_format("mxfp4_e2m1@4");
    struct qc_round r = th_round("rne", 0);
    struct qc_err err;
    /* amax 6 = 1.5 x 2^2: scale exponent floor(log2 6) - 2 = 0, elements as given. */
    const float in[4] = {0.5f, 1.0f, -6.0f, 3.0f};
    uint8_t codes[2] = {0}, scale = 0;

    cr_assert_eq(qc_pack_f32(codes, &scale, in, 1, 4, &f, &r, QC_SCALE_FLOOR, &err), QC_OK);
    /* e2m1 codes: 0.5 = 0001, 1.0 = 0010, -6 = 1111, 3 = 0101. */
    cr_assert_eq(codes[0], 0x21, "byte 0 = %#x", codes[0]);
    cr_assert_eq(codes[1], 0x5f, "byte 1 = %#x", codes[1]);
    cr_assert_eq(scale, 127, "E8M0 scale of 2^0 is 127, got %d", scale);
}

Test(block, nan_in_a_block_gives_the_nan_scale)
{
    struct qc_format f = th_format("mxfp8_e4m3@4");
    struct qc_round r = th_round("rne", 0);
    struct qc_err err;
    const float in[8] = {1, 2, NAN, 4, 1, 2, 3, INFINITY};
    uint8_t codes[8], scales[2];
    float out[8];

    cr_assert_eq(qc_pack_f32(codes, scales, in, 1, 8, &f, &r, QC_SCALE_FLOOR, &err), QC_OK);
    cr_assert_eq(scales[0], 0xff);
    cr_assert_eq(scales[1], 0xff);
    cr_assert_eq(qc_unpack_f32(out, codes, scales, 1, 8, &f, &err), QC_OK);
    for (int i = 0; i < 8; i++)
        cr_assert(isnan(out[i]), "element %d should read NaN", i);
}

Test(block, nan_without_a_code_is_refused_with_its_index)
{
    struct qc_format f = th_format("e3m2:finite");
    struct qc_round r = th_round("rne", 0);
    struct qc_err err;
    const float in[3] = {1.0f, 2.0f, NAN};
    uint8_t codes[4];

    cr_assert_eq(qc_pack_f32(codes, NULL, in, 1, 3, &f, &r, QC_SCALE_FLOOR, &err), QC_ERANGE);
    cr_assert(strstr(err.msg, "element 2"), "message names the element: %s", err.msg);
}

Test(block, unpack_refuses_formats_wider_than_f32)
{
    struct qc_format f = th_format("fp64");
    struct qc_err err;
    uint8_t codes[8] = {0};
    float out[1];

    cr_assert_eq(qc_unpack_f32(out, codes, NULL, 1, 1, &f, &err), QC_EINVAL);
    cr_assert(strstr(err.msg, "fp64"), "%s", err.msg);
}
