/* Helpers of the worker unit tests (tests/worker_unit/): temporary
 * directories, whole-file reads and writes, and a probe on the calls that
 * make the worker's files durable. The probe sees fsync, fdatasync and
 * rename as the worker library calls them (the test binary is linked with
 * -Wl,--wrap for those three), records each with what the file held at
 * that moment, and forwards every call to the real one. Every helper fails
 * the calling test loudly rather than returning an error. */
#ifndef QLAB_TESTS_WUT_H
#define QLAB_TESTS_WUT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define WUT_PATH 512

/* A temporary directory, removed with everything in it by wut_dir_remove. */
void wut_dir_make(char *out, size_t len);
void wut_dir_remove(const char *dir);

/* Writes `text` to `path`, replacing it; appends when `append`. */
void wut_write_file(const char *path, const char *text, bool append);
/* The whole file as a NUL-terminated string (malloc'ed; caller frees). */
char *wut_read_file(const char *path);

enum wut_call { WUT_FSYNC, WUT_FDATASYNC, WUT_RENAME };

/* One durable-storage call of the worker library, in call order. */
struct wut_event {
    enum wut_call call;
    bool dir;                          /* fsync/fdatasync: the descriptor is a directory */
    off_t size;                        /* fsync/fdatasync: the file's size at the call */
    int rc;                            /* what the real call returned */
    char from[WUT_PATH], to[WUT_PATH]; /* rename */
};

/* The calls seen since the last wut_probe_reset (at most 64 recorded). */
int wut_probe_count(void);
const struct wut_event *wut_probe_event(int i);
void wut_probe_reset(void);

/* The wrappers the linker routes the library's calls to (--wrap). */
int __wrap_fsync(int fd);
int __wrap_fdatasync(int fd);
int __wrap_rename(const char *from, const char *to);

#endif
