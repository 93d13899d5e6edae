/* Where the dashboard's files are: the --web directory when one is given
 * (it must exist), else the installed copy beside the binary
 * (PREFIX/bin/qlab-server serves PREFIX/share/qlab/web, as `make install`
 * lays it out), else ./web (the source tree, for `make demo`). */
#ifndef SRV_WEBDIR_H
#define SRV_WEBDIR_H

#include <stddef.h>

#include "qcore/error.h"
#include "server/config.h"

/* The installed web files, relative to the directory of the binary. */
#define SRV_WEBDIR_INSTALLED "../share/qlab/web"

/* The path of the running binary, into out: the target of `proc_link`
 * (/proc/self/exe), else argv0 when it names a path, else argv0 found on
 * PATH (a chroot without /proc). "" when none resolves. */
void srv_webdir_exe(char *out, size_t out_size, const char *proc_link, const char *argv0);

/* Settles c->web_dir. `exe` is the path of the running binary (NULL or ""
 * when unknown: only ./web is tried). A --web directory that does not
 * exist is QC_EINVAL naming "--web" (or QLAB_WEB). When no default is
 * found, web_dir becomes "" (the API only) and `warn` says where it
 * looked; otherwise warn is "". */
int srv_webdir_resolve(struct srv_config *c, const char *exe, char *warn, size_t warn_size,
                       struct qc_err *err);

#endif
