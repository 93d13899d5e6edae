/* qlab-server benchmarks of qlab-bench (group "server"): metric ingest
 * against a raw SQLite bulk insert, run-list latency under load, and a
 * downsampled read of a long series. Each starts a real qlab-server
 * ($QLAB_SERVER_BIN, else qlab-server beside qlab-bench) on loopback with a
 * temporary database. */
#ifndef QLAB_BENCH_SERVER_H
#define QLAB_BENCH_SERVER_H

void bench_server_ingest(void);
void bench_server_runs_list(void);
void bench_server_downsample(void);

#endif
