/* schema/openapi.yaml is the REST contract and server/routes.c the router:
 * these tests keep their (method, path) pairs identical in both directions,
 * so a route cannot ship undocumented and the contract cannot promise a
 * route the server does not answer. The reader is line-based (two-space
 * indented path keys, four-space indented method keys under `paths:`), which
 * is all the file's layout needs and keeps YAML out of the dependencies. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "server/srv.h"

#define OPENAPI "schema/openapi.yaml"
#define OPS_MAX 128

struct op {
    char method[8]; /* upper case, as in srv_routes */
    char path[160];
    bool has_id_param; /* the operation's block refers to the Id parameter */
    char query[512];   /* its query parameters, ",a,b," (components resolved) */
};

/* components/parameters: name -> the query parameter it declares ("" when
 * it is a path or header parameter). */
static struct {
    char key[64], name[64];
} comps[32];
static int ncomps;

static struct op ops[OPS_MAX];
static int nops;

static int indent_of(const char *line)
{
    int n = 0;
    while (line[n] == ' ')
        n++;
    return n;
}

/* The reusable parameters under components/parameters that are in: query. */
static void read_components(FILE *f)
{
    char line[512], key[64] = "", name[64] = "";
    bool in_comp = false, in_params = false;
    ncomps = 0;
    rewind(f);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        int ind = indent_of(line);
        const char *t = line + ind;
        if (!*t || *t == '#')
            continue;
        if (ind == 0)
            in_comp = strcmp(t, "components:") == 0;
        else if (in_comp && ind == 2)
            in_params = strcmp(t, "parameters:") == 0;
        else if (in_comp && in_params && ind == 4) {
            snprintf(key, sizeof key, "%.*s", (int)strcspn(t, ":"), t);
            name[0] = '\0';
        } else if (in_comp && in_params && ind == 6 && strncmp(t, "name: ", 6) == 0)
            snprintf(name, sizeof name, "%s", t + 6);
        else if (in_comp && in_params && ind == 6 && strcmp(t, "in: query") == 0 && name[0]) {
            cr_assert_lt(ncomps, 32);
            snprintf(comps[ncomps].key, sizeof comps[0].key, "%s", key);
            snprintf(comps[ncomps].name, sizeof comps[0].name, "%s", name);
            ncomps++;
        }
    }
    rewind(f);
}

static void add_query(struct op *o, const char *name)
{
    size_t n = strlen(o->query);
    snprintf(o->query + n, sizeof o->query - n, "%s%s,", n ? "" : ",", name);
}

static void read_openapi(void)
{
    static const char *const methods[] = {"get",   "put",  "post",    "delete",
                                          "patch", "head", "options", "trace"};
    char line[512], path[160] = "";
    bool in_paths = false, seen_paths = false;
    FILE *f = fopen(OPENAPI, "r");
    cr_assert_not_null(f, "cannot open %s (run from the repository root)", OPENAPI);
    read_components(f);
    nops = 0;
    char pending[64] = ""; /* "- name: x" seen, waiting for its "in:" */
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        int ind = indent_of(line);
        const char *t = line + ind;
        if (!*t || *t == '#')
            continue;
        if (ind == 0) {
            in_paths = strcmp(t, "paths:") == 0;
            seen_paths = seen_paths || in_paths;
            continue;
        }
        if (!in_paths)
            continue;
        size_t n = strlen(t);
        if (ind == 2) {
            cr_assert(t[0] == '/' && t[n - 1] == ':',
                      "%s: a path key must look like '  /x:', got "
                      "'%s'",
                      OPENAPI, line);
            snprintf(path, sizeof path, "%.*s", (int)(n - 1), t);
            continue;
        }
        if (ind == 4 && t[n - 1] == ':') {
            char key[32];
            snprintf(key, sizeof key, "%.*s", (int)(n - 1), t);
            bool is_method = false;
            for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
                is_method = is_method || strcmp(key, methods[i]) == 0;
            if (!is_method)
                continue; /* path-level parameters, summary... */
            cr_assert(path[0], "%s: method '%s' outside a path", OPENAPI, key);
            cr_assert_lt(nops, OPS_MAX);
            struct op *o = &ops[nops++];
            for (size_t i = 0; i <= strlen(key); i++)
                o->method[i] = (char)toupper((unsigned char)key[i]);
            snprintf(o->path, sizeof o->path, "%s", path);
            o->has_id_param = false;
            o->query[0] = '\0';
            pending[0] = '\0';
            continue;
        }
        if (ind >= 6 && nops > 0 && strstr(t, "#/components/parameters/Id\""))
            ops[nops - 1].has_id_param = true;
        if (ind >= 6 && nops > 0 && strncmp(t, "- name: ", 8) == 0)
            snprintf(pending, sizeof pending, "%s", t + 8);
        else if (ind >= 6 && nops > 0 && pending[0] && strncmp(t, "in: ", 4) == 0) {
            if (strcmp(t, "in: query") == 0)
                add_query(&ops[nops - 1], pending);
            pending[0] = '\0';
        }
        static const char refp[] = "- $ref: \"#/components/parameters/";
        const char *ref = strstr(t, refp);
        if (ind >= 6 && nops > 0 && ref) {
            char key[64];
            ref += sizeof refp - 1;
            snprintf(key, sizeof key, "%.*s", (int)strcspn(ref, "\""), ref);
            for (int i = 0; i < ncomps; i++)
                if (strcmp(comps[i].key, key) == 0)
                    add_query(&ops[nops - 1], comps[i].name);
        }
    }
    fclose(f);
    cr_assert(seen_paths, "%s has no top-level 'paths:' section", OPENAPI);
    cr_assert_gt(nops, 0, "%s lists no operations", OPENAPI);
}

static bool in_router(const struct op *o)
{
    for (int i = 0; i < srv_nroutes; i++)
        if (strcmp(srv_routes[i].method, o->method) == 0 &&
            strcmp(srv_routes[i].pattern, o->path) == 0)
            return true;
    return false;
}

static bool in_openapi(const struct srv_route *rt)
{
    for (int i = 0; i < nops; i++)
        if (strcmp(ops[i].method, rt->method) == 0 && strcmp(ops[i].path, rt->pattern) == 0)
            return true;
    return false;
}

Test(openapi, every_route_is_in_the_contract)
{
    read_openapi();
    for (int i = 0; i < srv_nroutes; i++)
        cr_expect(in_openapi(&srv_routes[i]), "%s %s is routed but missing from %s",
                  srv_routes[i].method, srv_routes[i].pattern, OPENAPI);
}

Test(openapi, every_contract_operation_is_routed)
{
    read_openapi();
    for (int i = 0; i < nops; i++)
        cr_expect(in_router(&ops[i]), "%s %s is in %s but not in server/routes.c", ops[i].method,
                  ops[i].path, OPENAPI);
}

Test(openapi, no_operation_is_listed_twice)
{
    read_openapi();
    for (int i = 0; i < nops; i++)
        for (int j = i + 1; j < nops; j++)
            cr_expect(strcmp(ops[i].method, ops[j].method) != 0 ||
                          strcmp(ops[i].path, ops[j].path) != 0,
                      "%s %s is listed twice in %s", ops[i].method, ops[i].path, OPENAPI);
    for (int i = 0; i < srv_nroutes; i++)
        for (int j = i + 1; j < srv_nroutes; j++)
            cr_expect(strcmp(srv_routes[i].method, srv_routes[j].method) != 0 ||
                          strcmp(srv_routes[i].pattern, srv_routes[j].pattern) != 0,
                      "%s %s is routed twice", srv_routes[i].method, srv_routes[i].pattern);
    cr_expect_eq(nops, srv_nroutes, "%d operations in %s, %d routes", nops, OPENAPI, srv_nroutes);
}

Test(openapi, paths_with_an_id_declare_the_id_parameter)
{
    read_openapi();
    for (int i = 0; i < nops; i++)
        if (strstr(ops[i].path, "{id}"))
            cr_expect(ops[i].has_id_param,
                      "%s %s takes {id} but does not declare "
                      "#/components/parameters/Id",
                      ops[i].method, ops[i].path);
}

/* The query parameters each route takes (srv_routes' `query`) are exactly
 * the ones its operation declares: the server refuses any other with 400
 * bad_param, so the contract must list every one it accepts. */
Test(openapi, query_parameters_match_the_routes)
{
    read_openapi();
    for (int i = 0; i < nops; i++) {
        const struct srv_route *rt = NULL;
        for (int j = 0; j < srv_nroutes; j++)
            if (strcmp(srv_routes[j].method, ops[i].method) == 0 &&
                strcmp(srv_routes[j].pattern, ops[i].path) == 0)
                rt = &srv_routes[j];
        if (!rt)
            continue; /* reported by every_contract_operation_is_routed */
        char routed[512] = "";
        const char *q = rt->query ? rt->query : "";
        for (const char *p = q; *p;) {
            size_t len = strcspn(p, ",");
            size_t n = strlen(routed);
            snprintf(routed + n, sizeof routed - n, "%s%.*s,", n ? "" : ",", (int)len, p);
            p += len + (p[len] == ',');
        }
        /* Same set: each side's names are in the other. */
        for (const char *p = routed; *p && p[1];) {
            size_t len = strcspn(p + 1, ",");
            char name[80];
            snprintf(name, sizeof name, ",%.*s,", (int)len, p + 1);
            cr_expect(strstr(ops[i].query, name), "%s %s takes ?%.*s but %s does not list it",
                      ops[i].method, ops[i].path, (int)len, p + 1, OPENAPI);
            p += len + 1;
        }
        for (const char *p = ops[i].query; *p && p[1];) {
            size_t len = strcspn(p + 1, ",");
            char name[80];
            snprintf(name, sizeof name, ",%.*s,", (int)len, p + 1);
            cr_expect(strstr(routed, name), "%s lists ?%.*s for %s %s, which refuses it", OPENAPI,
                      (int)len, p + 1, ops[i].method, ops[i].path);
            p += len + 1;
        }
    }
}
