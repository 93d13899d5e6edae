/* libFuzzer target: the CIFAR-10 binary reader (qc_dataset_read_cifar).
 * The input is one batch file; its first byte picks a sample limit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "qcore/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    struct qc_dataset ds;
    struct qc_err err;
    if (size < 1)
        return 0;
    int64_t limit = data[0] % 3;
    snprintf(path, sizeof path, "/tmp/qlab-fuzz-cifar-%d", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f || (size > 1 && fwrite(data + 1, 1, size - 1, f) != size - 1)) {
        perror(path);
        abort();
    }
    fclose(f);
    const char *paths[] = {path};
    if (qc_dataset_read_cifar(&ds, paths, 1, 10, limit, &err) == QC_OK) {
        for (int64_t i = 0; i < ds.n; i++)
            if (ds.labels[i] >= 10)
                __builtin_trap();
        qc_dataset_free(&ds);
    }
    unlink(path);
    return 0;
}
