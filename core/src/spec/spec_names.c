/* The names of the spec's enumerations, in enum order: the parser reads them
 * (spec.c), the writers print them (spec_json.c, spec_arith.c), and
 * qc_spec_*_name maps a value back to its name. */
#include "spec_impl.h"

const char *const qc__spec_arch[] = {"mlp", "lenet5", "resnet", "vgg", NULL};
const char *const qc__spec_dataset[] = {"fashion-mnist", "mnist", "cifar10", "synthetic", NULL};
const char *const qc__spec_optimizer[] = {"sgd", "adam", NULL};
const char *const qc__spec_schedule[] = {"constant", "step", "cosine", NULL};
const char *const qc__spec_loss[] = {"none", "static", "dynamic", NULL};
const char *const qc__spec_blocks[] = {"none", "max", "delayed", "delay_update", "wma", NULL};
const char *const qc__spec_device[] = {"any", "cpu", "gpu", "fpga", NULL};

static const char *name_at(const char *const *names, int n, int v)
{
    return v >= 0 && v < n ? names[v] : "?";
}
#define NAME_FN(fn, type, table)                                                                   \
    const char *fn(type v)                                                                         \
    {                                                                                              \
        return name_at(table, (int)(sizeof table / sizeof table[0]) - 1, (int)v);                  \
    }
NAME_FN(qc_spec_arch_name, enum qc_spec_arch, qc__spec_arch)
NAME_FN(qc_spec_dataset_name, enum qc_spec_data, qc__spec_dataset)
NAME_FN(qc_spec_optimizer_name, enum qc_optim_kind, qc__spec_optimizer)
NAME_FN(qc_spec_schedule_name, enum qc_sched_kind, qc__spec_schedule)
NAME_FN(qc_spec_loss_scaling_name, enum qc_loss_scale_kind, qc__spec_loss)
NAME_FN(qc_spec_block_scaling_name, enum qc_spec_block_scale, qc__spec_blocks)
NAME_FN(qc_spec_device_name, enum qc_spec_device_kind, qc__spec_device)
