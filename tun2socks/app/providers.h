/* providers: downloads of rule-providers and proxy-providers of type http
 * (docs/design.md §19).
 *
 * Each provider is fetched at start unless its cached copy (its `path`)
 * is younger than `interval`, then every `interval` (0: only when there
 * is no copy yet), through the proxy or group it names (`proxy`) or
 * DIRECT, with the http client on the loop (redirects, gzip, size-limit,
 * TLS against the system's CAs). A download is validated (the rule list
 * parses; the proxy list parses and holds a proxy) and written next to
 * the copy, synced and renamed over it on a worker thread, so the loop
 * never waits for a parse or a disk; then `changed` runs on the loop and
 * the daemon reloads the config, which reads the new copy. A failed
 * download or validation keeps the old copy and logs why; with no copy
 * the provider stays empty until a download works.
 */
#ifndef T2S_PROVIDERS_H
#define T2S_PROVIDERS_H

#include <stddef.h>
#include <uv.h>

#include "tun2socks/base/must_check.h"

struct config;
struct http_client;
struct providers;
struct router_gen;

/* A copy on disk changed: reload (runs on the loop). */
typedef void (*providers_changed_fn)(void *arg);

/* http is borrowed and must outlive it. 0 or -errno. */
T2S_MUST_CHECK int providers_create(uv_loop_t *loop, struct http_client *http,
				    providers_changed_fn changed, void *arg,
				    struct providers **out);
/* Follows cfg's http providers (copied); g (referenced) says how to reach
 * their `proxy`. A provider with the same name, URL and path as before
 * keeps its schedule; new ones are looked at now. 0 or -ENOMEM. */
int providers_update(struct providers *p, const struct config *cfg, struct router_gen *g);
/* Downloads every provider now, whatever its age (`check --fetch`);
 * done(arg, failed) once all are written or failed. 0 or -EBUSY. */
int providers_fetch_now(struct providers *p, void (*done)(void *arg, size_t failed), void *arg);
/* Cancels everything; memory goes once the loop ran the handles closed
 * and any worker finished. */
void providers_destroy(struct providers *p);

#endif
