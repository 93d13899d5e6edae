/* Training benchmarks of qlab-bench (group "train"). */
#ifndef QLAB_BENCH_TRAIN_H
#define QLAB_BENCH_TRAIN_H

/* LeNet-5, the MLP and ResNet-20 against PyTorch fp32, each run a child. */
void bench_train_models(void);

/* `qlab-bench --child train MODEL ARITH THREADS`: one training run,
 * printing its steady images/s as one JSON line. Returns the exit status. */
int bench_train_child(int argc, char **argv);

#endif
