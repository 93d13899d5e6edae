/* qlab-bench: runs the benchmark table (every entry, or those named on the
 * command line by entry or group name) and prints one JSON line per figure
 * on stdout. A new component adds its rows here. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bench_cuda.h"
#include "bench_fpga.h"
#include "bench_numerics.h"
#include "bench_server.h"
#include "bench_train.h"
#include "bench_util.h"

static const struct bench_entry entries[] = {
    {.name = "quantize", .group = "numerics", .run = bench_quantize},
    {.name = "gemm_emul", .group = "numerics", .run = bench_gemm_emul},
    {.name = "gemm_native", .group = "numerics", .run = bench_gemm_native},
    {.name = "gemm_memory", .group = "numerics", .run = bench_gemm_memory},
    {.name = "gemm_paths", .group = "numerics", .run = bench_gemm_paths},
    {.name = "gemm_layers", .group = "numerics", .run = bench_gemm_layers},
    {.name = "gemm_sr", .group = "numerics", .run = bench_gemm_sr},
    {.name = "train_models", .group = "train", .run = bench_train_models},
    {.name = "cuda_gemm", .group = "cuda", .run = bench_cuda_gemm},
    {.name = "cuda_train_epoch", .group = "cuda", .run = bench_cuda_train_epoch},
    {.name = "fpga_boards", .group = "fpga", .run = bench_fpga},
    {.name = "server_ingest", .group = "server", .run = bench_server_ingest},
    {.name = "server_runs_list", .group = "server", .run = bench_server_runs_list},
    {.name = "server_downsample", .group = "server", .run = bench_server_downsample},
};

#define N_ENTRIES ((int)(sizeof entries / sizeof entries[0]))

static bool matches(const struct bench_entry *e, const char *arg)
{
    return strcmp(arg, e->name) == 0 || strcmp(arg, e->group) == 0;
}

static void usage(FILE *to)
{
    fputs("usage: qlab-bench [--list] [NAME|GROUP...]\n"
          "Runs the named benchmarks (default: all) and prints one JSON line per figure.\n",
          to);
}

int main(int argc, char **argv)
{
    bool selected[N_ENTRIES];
    bool any = false;

    /* A baseline or a run in a process of its own (bench_util.h). */
    if (argc >= 3 && strcmp(argv[1], "--child") == 0) {
        if (strcmp(argv[2], "train") == 0)
            return bench_train_child(argc - 3, argv + 3);
        if (strcmp(argv[2], "sgemm") == 0)
            return bench_sgemm_child(argc - 3, argv + 3);
        fprintf(stderr, "qlab-bench: unknown child '%s'\n", argv[2]);
        return 2;
    }

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--list") == 0) {
            for (int e = 0; e < N_ENTRIES; e++)
                printf("%s\t%s\n", entries[e].name, entries[e].group);
            return 0;
        }
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
    }
    memset(selected, 0, sizeof selected);
    /* Every name must select something: a typo should not run nothing and
     * look like success. */
    for (int i = 1; i < argc; i++) {
        bool hit = false;
        for (int e = 0; e < N_ENTRIES; e++) {
            if (matches(&entries[e], argv[i])) {
                selected[e] = true;
                hit = any = true;
            }
        }
        if (!hit) {
            fprintf(stderr, "qlab-bench: no benchmark or group named '%s' (see --list)\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    /* Table order, each once, whatever the order of the arguments. */
    for (int e = 0; e < N_ENTRIES; e++)
        if (!any || selected[e])
            entries[e].run();
    return 0;
}
