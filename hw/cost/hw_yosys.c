/* Yosys runs: locating hw/, hashing the RTL, the flow scripts with their
 * fields filled in, fork/exec of yosys with a time limit, and the parsing of
 * its `stat -json` counts into figures. */
#include "hw_yosys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nettle/sha2.h>

#define SCRIPT_MAX (64 * 1024)

static const char *const flow_names[HW_FLOW_COUNT] = {"xilinx", "xilinx-nodsp", "gates"};

const char *hw_flow_name(enum hw_flow flow)
{
    return (unsigned)flow < HW_FLOW_COUNT ? flow_names[flow] : "?";
}

/* The digest as 64 lowercase hex digits and a NUL (SHA-256 from nettle). */
static void sha256_hex(struct sha256_ctx *sh, char hex[65])
{
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_digest(sh, sizeof d, d);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* hw/ above the running binary: build/bin/qlab -> ../../hw, one level more
 * for build/asan/bin, and PREFIX/share/qlab/hw for PREFIX/bin/qlab (make
 * install). */
static bool dir_beside_exe(char *out, size_t n)
{
    char exe[PATH_MAX], cand[PATH_MAX + 32], real[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
        return false;
    exe[len] = '\0';
    for (int up = 0; up < 4; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash || slash == exe)
            return false;
        *slash = '\0';
        for (int inst = 0; inst < 2; inst++) {
            snprintf(cand, sizeof cand, "%s%s/hw/rtl", exe, inst ? "/share/qlab" : "");
            if (is_dir(cand) && realpath(cand, real) && strlen(real) < n) {
                real[strlen(real) - 4] = '\0'; /* drop "/rtl" */
                snprintf(out, n, "%s", real);
                return true;
            }
        }
    }
    return false;
}

static char *read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    fclose(f);
    if (!buf || n > max) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Lists and hashes hw/rtl/: names and contents, in name order. */
static int load_rtl(struct hw_tool *t, struct qc_err *err)
{
    char path[PATH_MAX + 8];
    struct sha256_ctx sh;
    DIR *d;
    struct dirent *e;

    snprintf(path, sizeof path, "%s/rtl", t->dir);
    if (!(d = opendir(path)))
        return qc_err_set(err, QC_ENOTFOUND, "", "%s: %s", path, strerror(errno));
    t->nrtl = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 4 || strcmp(e->d_name + n - 3, ".sv"))
            continue;
        if (t->nrtl == HW_RTL_MAX) {
            closedir(d);
            return qc_err_set(err, QC_EINVAL, "", "%s: more than %d .sv files", path, HW_RTL_MAX);
        }
        snprintf(t->rtl[t->nrtl++], PATH_MAX, "%.*s", PATH_MAX - 1, e->d_name);
    }
    closedir(d);
    if (t->nrtl == 0)
        return qc_err_set(err, QC_ENOTFOUND, "", "%s: no .sv files", path);
    qsort(t->rtl, (size_t)t->nrtl, sizeof t->rtl[0], cmp_str);
    sha256_init(&sh);
    for (int i = 0; i < t->nrtl; i++) {
        char full[2 * PATH_MAX + 8], name[PATH_MAX];
        size_t len;
        snprintf(name, sizeof name, "%s", t->rtl[i]);
        snprintf(full, sizeof full, "%s/rtl/%s", t->dir, name);
        char *text = read_file(full, 4 << 20, &len);
        if (!text)
            return qc_err_set(err, QC_EIO, "", "%s: cannot read", full);
        sha256_update(&sh, strlen(name) + 1, (const uint8_t *)name);
        sha256_update(&sh, len + 1, (const uint8_t *)text);
        free(text);
        if (strpbrk(full, " \t\n\"'\\;"))
            return qc_err_set(err, QC_EINVAL, "", "%s: a path with blanks or quotes", full);
        snprintf(t->rtl[i], PATH_MAX, "%.*s", PATH_MAX - 1, full);
    }
    sha256_hex(&sh, t->rtl_hash);
    return QC_OK;
}

/* The binary named `name` on PATH, or "" (no fork needed to know). */
static void find_in_path(char *out, size_t n, const char *name)
{
    const char *path = getenv("PATH");
    out[0] = '\0';
    if (strchr(name, '/')) {
        if (access(name, X_OK) == 0)
            snprintf(out, n, "%s", name);
        return;
    }
    while (path && *path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        char cand[PATH_MAX];
        if (len > 0 && len + strlen(name) + 2 < sizeof cand) {
            snprintf(cand, sizeof cand, "%.*s/%s", (int)len, path, name);
            if (access(cand, X_OK) == 0) {
                snprintf(out, n, "%s", cand);
                return;
            }
        }
        path = end ? end + 1 : NULL;
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Runs argv in its own process group with stdout and stderr in `log`;
 * kills the group after `timeout_s`. Returns the wait status or -1. Only
 * async-signal-safe calls between fork and exec: a threaded server calls
 * this. */
static int spawn(char *const argv[], const char *log, int timeout_s, const atomic_bool *cancel,
                 bool *timed_out)
{
    int status = -1;
    sigset_t none;
    pid_t pid;

    sigemptyset(&none);
    *timed_out = false;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* A server blocks SIGTERM in every thread and ignores SIGPIPE: the
         * child starts from the defaults. */
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigaction(SIGPIPE, &dfl, NULL);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setpgid(0, 0);
        int in = open("/dev/null", O_RDONLY);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || fd < 0)
            _exit(126);
        dup2(in, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    setpgid(pid, pid); /* either side may win the race; both set the same group */
    const double deadline = now_s() + timeout_s;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            return -1;
        if (now_s() > deadline || (cancel && atomic_load(cancel))) {
            kill(-pid, SIGKILL);
            *timed_out = true;
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            return status;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* A temporary directory for one run; removed with its files by rm_tmp. */
static int make_tmp(char *dir, size_t n)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, n, "%s/qlab-syn-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static void rm_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[PATH_MAX + 300];
    if (!d)
        return;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    }
    closedir(d);
    rmdir(dir);
}

/* The last line of a log that says something, for error messages. */
static void log_tail(char *out, size_t n, const char *log)
{
    char *text = read_file(log, 1 << 20, NULL);
    out[0] = '\0';
    if (!text)
        return;
    char *err = strstr(text, "ERROR");
    char *s = err ? err : text;
    if (!err) {
        size_t len = strlen(text);
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
            text[--len] = '\0';
        char *nl = strrchr(text, '\n');
        s = nl ? nl + 1 : text;
    }
    snprintf(out, n, "%.*s", (int)strcspn(s, "\n"), s);
    free(text);
}

static int ask_version(struct hw_tool *t)
{
    char dir[PATH_MAX], log[PATH_MAX + 16];
    bool timed_out;

    if (make_tmp(dir, sizeof dir))
        return -1;
    snprintf(log, sizeof log, "%s/version", dir);
    char *argv[] = {t->yosys, "-V", NULL};
    int st = spawn(argv, log, 30, NULL, &timed_out);
    char *text = read_file(log, 4096, NULL);
    if (st == 0 && text && strncmp(text, "Yosys ", 6) == 0)
        snprintf(t->version, sizeof t->version, "%.*s", (int)strcspn(text, "\n"), text);
    free(text);
    rm_tmp(dir);
    return t->version[0] ? 0 : -1;
}

int hw_tool_init(struct hw_tool *t, const char *dir, struct qc_err *err)
{
    static const char *const scripts[2] = {"xilinx.ys", "gates.ys"};
    const char *env = getenv("QLAB_HW_DIR");
    int rc;

    memset(t, 0, sizeof *t);
    if (dir && *dir)
        snprintf(t->dir, sizeof t->dir, "%s", dir);
    else if (env && *env)
        snprintf(t->dir, sizeof t->dir, "%s", env);
    else if (!dir_beside_exe(t->dir, sizeof t->dir))
        snprintf(t->dir, sizeof t->dir, "hw");
    if (!is_dir(t->dir))
        return qc_err_set(err, QC_ENOTFOUND, "",
                          "hardware sources not found at %s (set QLAB_HW_DIR to the hw/ folder)",
                          t->dir);
    if ((rc = load_rtl(t, err)))
        return rc;
    for (int i = 0; i < 2; i++) {
        char p[PATH_MAX + 32];
        snprintf(p, sizeof p, "%s/syn/%s", t->dir, scripts[i]);
        if (!(t->script[i] = read_file(p, SCRIPT_MAX, NULL))) {
            hw_tool_free(t);
            return qc_err_set(err, QC_ENOTFOUND, "", "%s: cannot read the flow script", p);
        }
    }
    const char *yenv = getenv("QLAB_YOSYS");
    find_in_path(t->yosys, sizeof t->yosys, yenv && *yenv ? yenv : "yosys");
    if (t->yosys[0] && ask_version(t))
        t->yosys[0] = '\0'; /* there but not answering: treat as absent */
    return QC_OK;
}

void hw_tool_free(struct hw_tool *t)
{
    for (int i = 0; i < 2; i++) {
        free(t->script[i]);
        t->script[i] = NULL;
    }
}

static const char *flow_script(const struct hw_tool *t, enum hw_flow flow)
{
    return t->script[flow == HW_FLOW_GATES ? 1 : 0];
}

/* The @OPTS@ of a run: an array keeps its hierarchy through synthesis. */
static const char *flow_opts(enum hw_flow flow, const char *module)
{
    const bool array = strcmp(module, "qarray") == 0;
    switch (flow) {
    case HW_FLOW_XILINX:
        return array ? "" : "-flatten";
    case HW_FLOW_XILINX_NODSP:
        return array ? "-nodsp" : "-flatten -nodsp";
    default:
        return "";
    }
}

/* "-chparam EA 5 ..."; negative values in the form Yosys decodes. */
static void params_text(char *out, size_t n, const struct hw_kv *kv, int nkv)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < nkv && len < n; i++) {
        if (kv[i].value < 0)
            len += (size_t)snprintf(out + len, n - len, "%s-chparam %s 32'sh%08x", i ? " " : "",
                                    kv[i].name, (unsigned)kv[i].value);
        else
            len += (size_t)snprintf(out + len, n - len, "%s-chparam %s %d", i ? " " : "",
                                    kv[i].name, kv[i].value);
    }
}

void hw_synth_key(char key[65], const struct hw_tool *t, const char *version, enum hw_flow flow,
                  const char *module, const struct hw_kv *kv, int nkv)
{
    static const char tag[] = "qlab hw cost 1";
    char params[4096];
    struct sha256_ctx sh;
    const char *parts[6];

    params_text(params, sizeof params, kv, nkv);
    parts[0] = version;
    parts[1] = flow_script(t, flow);
    parts[2] = flow_opts(flow, module);
    parts[3] = t->rtl_hash;
    parts[4] = module;
    parts[5] = params;
    sha256_init(&sh);
    sha256_update(&sh, sizeof tag, (const uint8_t *)tag);
    for (int i = 0; i < 6; i++)
        sha256_update(&sh, strlen(parts[i]) + 1, (const uint8_t *)parts[i]);
    sha256_hex(&sh, key);
}

/* The script with every @FIELD@ replaced. */
static char *fill_script(const struct hw_tool *t, enum hw_flow flow, const char *module,
                         const char *params, const char *out_path)
{
    char rtl[HW_RTL_MAX * (PATH_MAX + 1)];
    size_t len = 0;
    for (int i = 0; i < t->nrtl; i++)
        len += (size_t)snprintf(rtl + len, sizeof rtl - len, "%s%s", i ? " " : "", t->rtl[i]);
    const char *fields[][2] = {{"@RTL@", rtl},
                               {"@TOP@", module},
                               {"@PARAMS@", params},
                               {"@OPTS@", flow_opts(flow, module)},
                               {"@OUT@", out_path}};
    const char *src = flow_script(t, flow);
    size_t cap = strlen(src) + sizeof rtl + strlen(params) + 4 * PATH_MAX, n = 0;
    char *dst = malloc(cap);
    if (!dst)
        return NULL;
    while (*src) {
        bool hit = false;
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
            size_t fl = strlen(fields[f][0]);
            if (strncmp(src, fields[f][0], fl) == 0) {
                size_t vl = strlen(fields[f][1]);
                if (n + vl + 1 >= cap) {
                    free(dst);
                    return NULL;
                }
                memcpy(dst + n, fields[f][1], vl);
                n += vl;
                src += fl;
                hit = true;
                break;
            }
        }
        if (!hit) {
            if (n + 2 >= cap) {
                free(dst);
                return NULL;
            }
            dst[n++] = *src++;
        }
    }
    dst[n] = '\0';
    return dst;
}

static json_int_t count_of(json_t *cells, const char *type)
{
    return json_integer_value(json_object_get(cells, type));
}

static json_t *load_cells(const char *path)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    json_t *cells = json_object_get(json_object_get(root, "design"), "num_cells_by_type");
    if (cells)
        json_incref(cells);
    json_decref(root);
    return cells;
}

static json_t *xilinx_figures(json_t *cells)
{
    json_int_t lut = 0, ff = 0, carry = 0, dsp = 0, muxf = 0, inv = 0, bram = 0, srl = 0;
    const char *type;
    json_t *v;

    json_object_foreach(cells, type, v)
    {
        json_int_t c = json_integer_value(v);
        if (strncmp(type, "LUT", 3) == 0)
            lut += c;
        else if (strncmp(type, "FD", 2) == 0)
            ff += c;
        else if (strncmp(type, "CARRY", 5) == 0)
            carry += c;
        else if (strncmp(type, "DSP", 3) == 0)
            dsp += c;
        else if (strncmp(type, "MUXF", 4) == 0)
            muxf += c;
        else if (strcmp(type, "INV") == 0)
            inv += c;
        else if (strncmp(type, "RAMB", 4) == 0 || strncmp(type, "URAM", 4) == 0)
            bram += c;
        else if (strncmp(type, "SRL", 3) == 0)
            srl += c;
    }
    return json_pack("{sI sI sI sI sI sI sI sI sO}", "lut", lut, "ff", ff, "carry", carry, "dsp",
                     dsp, "muxf", muxf, "inv", inv, "bram", bram, "srl", srl, "cells", cells);
}

static json_t *gate_figures(json_t *cells, json_t *fa_cells)
{
    const json_int_t fa = count_of(fa_cells, "$fa");
    const json_int_t ha = count_of(cells, "$fa") - fa;
    const json_int_t and2 = count_of(cells, "$_AND_"), or2 = count_of(cells, "$_OR_");
    const json_int_t xor2 = count_of(cells, "$_XOR_"), mux = count_of(cells, "$_MUX_");
    const json_int_t not1 = count_of(cells, "$_NOT_");
    json_int_t dff = 0;
    const char *type;
    json_t *v;

    json_object_foreach(cells, type, v)
    {
        if (strncmp(type, "$_", 2) == 0 && strstr(type, "FF"))
            dff += json_integer_value(v);
    }
    const json_int_t gates = HW_W_AND * and2 + HW_W_OR * or2 + HW_W_XOR * xor2 + HW_W_NOT * not1 +
                             HW_W_MUX * mux + HW_W_HA * ha + HW_W_FA * fa;
    return json_pack("{sI sI sI sI sI sI sI sI sI}", "gates", gates, "and", and2, "or", or2, "xor",
                     xor2, "mux", mux, "not", not1, "ha", ha, "fa", fa, "dff", dff);
}

int hw_synth_run(json_t **out, const struct hw_tool *t, enum hw_flow flow, const char *module,
                 const struct hw_kv *kv, int nkv, int timeout_s, const atomic_bool *cancel,
                 struct qc_err *err)
{
    char dir[PATH_MAX], script_p[PATH_MAX + 16], log_p[PATH_MAX + 16], out_p[PATH_MAX + 16];
    char fa_p[PATH_MAX + 24], params[4096], tail[256];
    char *script = NULL;
    json_t *cells = NULL, *fa_cells = NULL;
    bool timed_out = false;
    int rc = QC_EIO;

    *out = NULL;
    if (!t->yosys[0])
        return qc_err_set(err, QC_EUNAVAIL, "",
                          "yosys is not installed (make deps installs it); cannot synthesize %s",
                          module);
    if (make_tmp(dir, sizeof dir))
        return qc_err_set(err, QC_EIO, "", "cannot make a temporary directory: %s",
                          strerror(errno));
    snprintf(script_p, sizeof script_p, "%s/flow.ys", dir);
    snprintf(log_p, sizeof log_p, "%s/yosys.log", dir);
    snprintf(out_p, sizeof out_p, "%s/stat.json", dir);
    snprintf(fa_p, sizeof fa_p, "%s.fa", out_p);
    params_text(params, sizeof params, kv, nkv);
    script = fill_script(t, flow, module, params, out_p);
    FILE *f = script ? fopen(script_p, "w") : NULL;
    if (!f || fputs(script, f) < 0 || fclose(f)) {
        qc_err_set(err, QC_EIO, "", "%s: cannot write the flow script", script_p);
        goto out;
    }
    char *argv[] = {(char *)t->yosys, "-q", "-s", script_p, NULL};
    const double t0 = now_s();
    int st = spawn(argv, log_p, timeout_s, cancel, &timed_out);
    const double secs = now_s() - t0;
    if (timed_out && cancel && atomic_load(cancel)) {
        qc_err_set(err, QC_EUNAVAIL, "", "yosys (%s, %s) stopped: shutting down", module,
                   hw_flow_name(flow));
        rc = QC_EUNAVAIL;
        goto out;
    }
    if (timed_out) {
        qc_err_set(err, QC_EIO, "", "yosys (%s, %s) ran past %d s and was stopped", module,
                   hw_flow_name(flow), timeout_s);
        goto out;
    }
    if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        log_tail(tail, sizeof tail, log_p);
        qc_err_set(err, QC_EIO, "", "yosys (%s, %s) failed: %s", module, hw_flow_name(flow),
                   tail[0] ? tail : "no output");
        goto out;
    }
    if (!(cells = load_cells(out_p)) || (flow == HW_FLOW_GATES && !(fa_cells = load_cells(fa_p)))) {
        qc_err_set(err, QC_EIO, "", "yosys (%s, %s) wrote no readable statistics", module,
                   hw_flow_name(flow));
        goto out;
    }
    *out = flow == HW_FLOW_GATES ? gate_figures(cells, fa_cells) : xilinx_figures(cells);
    if (!*out) {
        rc = qc_err_set(err, QC_ENOMEM, "", "out of memory");
        goto out;
    }
    json_object_set_new(*out, "seconds", json_real((double)(long)(secs * 100) / 100));
    rc = QC_OK;
out:
    json_decref(cells);
    json_decref(fa_cells);
    free(script);
    rm_tmp(dir);
    return rc;
}
