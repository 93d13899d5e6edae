/* The route table: every path the server answers, with its method, handler,
 * who may call it and what body it takes. schema/openapi.yaml lists the
 * same paths; tests/server/test_openapi.c keeps the two identical. */
#include "server/http.h"
#include "server/srv.h"

#define JSON SRV_BODY_JSON

const struct srv_route srv_routes[] = {
    {"GET", "/healthz", srv_route_healthz, SRV_AUTH_PUBLIC, NULL},
    {"GET", "/metrics", srv_route_prometheus, SRV_AUTH_READ, NULL},
    {"GET", "/api/v1/formats", srv_route_formats, SRV_AUTH_READ, NULL},
    {"POST", "/api/v1/formats/validate", srv_route_formats_validate, SRV_AUTH_READ | JSON, NULL},
    {"POST", "/api/v1/experiments", srv_route_experiment_create, SRV_AUTH_ADMIN | JSON,
     "priority,max_attempts"},
    {"POST", "/api/v1/experiments/validate", srv_route_experiment_validate, SRV_AUTH_READ | JSON,
     NULL},
    {"POST", "/api/v1/sweeps/validate", srv_route_sweep_validate, SRV_AUTH_READ | JSON, NULL},
    {"POST", "/api/v1/sweeps", srv_route_sweep_create, SRV_AUTH_ADMIN | JSON, NULL},
    {"GET", "/api/v1/sweeps", srv_route_sweep_list, SRV_AUTH_READ, "filter,order_by,limit,cursor"},
    {"GET", "/api/v1/sweeps/{id}", srv_route_sweep_get, SRV_AUTH_READ, NULL},
    {"PATCH", "/api/v1/sweeps/{id}", srv_route_sweep_patch, SRV_AUTH_ADMIN | JSON, NULL},
    {"DELETE", "/api/v1/sweeps/{id}", srv_route_sweep_delete, SRV_AUTH_ADMIN, NULL},
    {"GET", "/api/v1/sweeps/{id}/results", srv_route_sweep_results, SRV_AUTH_READ, "format"},
    {"POST", "/api/v1/sweeps/{id}/cancel", srv_route_sweep_cancel, SRV_AUTH_ADMIN, NULL},
    {"GET", "/api/v1/runs", srv_route_run_list, SRV_AUTH_READ | SRV_QUERY_FILTERS,
     "sweep,state,worker,spec,filter,order_by,limit,cursor"},
    {"POST", "/api/v1/runs/import", srv_route_run_import, SRV_AUTH_ADMIN | JSON | SRV_OFFLOAD,
     NULL},
    {"GET", "/api/v1/runs/{id}", srv_route_run_get, SRV_AUTH_READ, NULL},
    {"PATCH", "/api/v1/runs/{id}", srv_route_run_patch, SRV_AUTH_ADMIN | JSON, NULL},
    {"DELETE", "/api/v1/runs/{id}", srv_route_run_delete, SRV_AUTH_ADMIN, NULL},
    {"POST", "/api/v1/runs/{id}/cancel", srv_route_run_cancel, SRV_AUTH_ADMIN, NULL},
    {"POST", "/api/v1/runs/{id}/retry", srv_route_run_retry, SRV_AUTH_ADMIN, NULL},
    {"GET", "/api/v1/runs/{id}/metrics", srv_route_run_metrics_get, SRV_AUTH_READ,
     "names,since,max_points"},
    {"POST", "/api/v1/runs/{id}/metrics", srv_route_run_metrics_post,
     SRV_AUTH_LEASE | JSON | SRV_OFFLOAD, NULL},
    {"GET", "/api/v1/runs/{id}/events", srv_route_run_events, SRV_AUTH_READ, "since"},
    {"POST", "/api/v1/runs/{id}/start", srv_route_run_start, SRV_AUTH_LEASE, NULL},
    {"POST", "/api/v1/runs/{id}/complete", srv_route_run_complete, SRV_AUTH_LEASE | JSON, NULL},
    {"POST", "/api/v1/runs/{id}/release", srv_route_run_release, SRV_AUTH_LEASE, NULL},
    {"PUT", "/api/v1/runs/{id}/checkpoint", srv_route_checkpoint_put,
     SRV_AUTH_LEASE | SRV_BODY_FILE, NULL},
    {"GET", "/api/v1/runs/{id}/checkpoint", srv_route_checkpoint_get,
     SRV_AUTH_LEASE | SRV_READ_OR_LEASE, NULL},
    {"GET", "/api/v1/metrics", srv_route_metrics_long, SRV_AUTH_READ, "runs,sweep,names,format"},
    {"GET", "/api/v1/events", srv_route_events, SRV_AUTH_READ, "since"},
    {"POST", "/api/v1/workers/register", srv_route_worker_register, SRV_AUTH_JOIN | JSON, NULL},
    {"GET", "/api/v1/workers", srv_route_worker_list, SRV_AUTH_READ, NULL},
    {"POST", "/api/v1/workers/{id}/heartbeat", srv_route_worker_heartbeat, SRV_AUTH_WORKER | JSON,
     NULL},
    {"POST", "/api/v1/workers/{id}/lease", srv_route_worker_lease, SRV_AUTH_WORKER | JSON, NULL},
};
const int srv_nroutes = (int)(sizeof srv_routes / sizeof srv_routes[0]);

const struct srv_route srv_static_route = {"GET", "/*", srv_route_static,
                                           SRV_AUTH_PUBLIC | SRV_QUERY_ANY, NULL};
