/* Training benchmarks of qlab-bench (group "train"). */
#ifndef QLAB_BENCH_TRAIN_H
#define QLAB_BENCH_TRAIN_H

void bench_train_epoch(void);

#endif
