/* The libmicrohttpd callbacks: the access handler that routes, limits,
 * authenticates and dispatches, and the completion callback that frees the
 * request (its state included) and records its latency. */
#ifndef SRV_HTTP_H
#define SRV_HTTP_H

#include <microhttpd.h>
#include <stdint.h>

struct srv_server;
struct srv_route;

enum MHD_Result srv_http_access(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_data_size, void **con_cls);
void srv_http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                        enum MHD_RequestTerminationCode toe);

/* The route that serves the dashboard for every GET outside the API. */
extern const struct srv_route srv_static_route;
/* Upper bounds of the latency histogram buckets, in seconds (request.c). */
extern const double srv_lat_bounds[];

#endif
