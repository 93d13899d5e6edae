/* libFuzzer target: the IDX reader (qc_dataset_read_idx), plain or gzip.
 * The input is split into a labels file and an images file: its first two
 * bytes give the labels file's length (little-endian), the rest after it is
 * the images file. The third byte, when present, picks a sample limit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "qcore/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put(const char *path, const uint8_t *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(d, 1, n, f) != n)) {
        perror(path);
        abort();
    }
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char images[64], labels[64];
    struct qc_dataset ds;
    struct qc_err err;
    if (size < 3)
        return 0;
    size_t nl = (size_t)data[0] | (size_t)data[1] << 8;
    int64_t limit = data[2] % 4; /* 0: all */
    data += 3;
    size -= 3;
    if (nl > size)
        nl = size;
    snprintf(images, sizeof images, "/tmp/qlab-fuzz-idx-%d-images", (int)getpid());
    snprintf(labels, sizeof labels, "/tmp/qlab-fuzz-idx-%d-labels", (int)getpid());
    put(labels, data, nl);
    put(images, data + nl, size - nl);
    if (qc_dataset_read_idx(&ds, images, labels, 10, limit, &err) == QC_OK) {
        for (int64_t i = 0; i < ds.n; i++)
            if (ds.labels[i] >= 10)
                __builtin_trap(); /* the reader promised labels below classes */
        qc_dataset_free(&ds);
    }
    unlink(images);
    unlink(labels);
    return 0;
}
