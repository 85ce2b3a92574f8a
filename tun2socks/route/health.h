/* health: health checks of proxy groups on the loop (docs/design.md §18).
 *
 * Every url-test, fallback and load-balance group of the current router
 * generation is checked at start and every `interval` (skipped while the
 * group is `lazy` and carried no flow for an interval): an HTTP HEAD of the
 * group's `url` through each member (the member's proxy as curl's proxy;
 * DIRECT and redirect members directly; nested groups through what they
 * pick), with the group's `timeout`. Any response is alive, its delay the
 * time to it; a failure is dead. Results go to the group table
 * (group_table_report), which re-picks; each round is logged at debug,
 * a change of url-test member at info. At most HEALTH_MAX_CONCURRENT
 * checks run at once; the rest wait their turn.
 */
#ifndef T2S_HEALTH_H
#define T2S_HEALTH_H

#include <uv.h>

#include "tun2socks/base/must_check.h"

#define HEALTH_MAX_CONCURRENT 10

struct health;
struct http_client;
struct router_gen;

/* http is borrowed and must outlive the checker. 0 or -errno. */
T2S_MUST_CHECK int health_create(uv_loop_t *loop, struct http_client *http, struct health **out);
/* Checks g's groups from now on (takes a reference); the previous
 * generation's checks are cancelled and its reference dropped. NULL
 * stops checking. */
void health_set_gen(struct health *h, struct router_gen *g);
/* Starts one round of every checked group now; done(arg) runs once all
 * of them finished (at once when there is none). `tun2socks match` and
 * tests. 0 or -errno. */
int health_check_now(struct health *h, void (*done)(void *arg), void *arg);
/* One round of the checked group called name now (the control API's
 * group delay test); done(arg) when it ended. 0, -ENOENT (no such
 * checked group), -EBUSY (a health_check_now() is waiting). */
int health_check_group(struct health *h, const char *name, void (*done)(void *arg), void *arg);
/* A round of the checked group called name now, unless one is running
 * (max-failed-times: the router saw its connections fail). 0 or -ENOENT. */
int health_check_soon(struct health *h, const char *name);
/* Cancels everything; memory goes once the loop ran the timers closed. */
void health_destroy(struct health *h);

#endif
