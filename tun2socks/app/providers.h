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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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
/* Geodata files (docs/design.md §16) ride the same machinery: with
 * geo-auto-update, providers_update follows the files the generation's
 * rules read (every geo-update-interval hours, DIRECT), and the download
 * is written beside, parsed (route/geo.h geo_file_check) and renamed over
 * the copy. providers_add_geo adds one missing file to fetch once (for
 * providers_fetch_now; a later providers_update drops it). */
int providers_add_geo(struct providers *p, int file, const char *url, const char *path);
/* cfg's geox-url for file GEO_F_*. */
const char *providers_geo_url(const struct config *cfg, int file);

/* Downloads every provider now, whatever its age (`check --fetch`);
 * done(arg, failed) once all are written or failed (at once when there
 * is none). 0 or -ENOMEM. */
int providers_fetch_now(struct providers *p, void (*done)(void *arg, size_t failed), void *arg);
/* The same for one provider (PUT /providers/{rules,proxies}/{name}): the
 * http rule-provider (proxies false) or proxy-provider called name.
 * Others' schedules are untouched; a download of it already running is
 * waited for rather than doubled. done may run before this returns (a
 * download that cannot start). 0, -ENOENT (no such http provider) or
 * -ENOMEM. */
int providers_fetch(struct providers *p, bool proxies, const char *name,
		    void (*done)(void *arg, size_t failed), void *arg);
/* When the http provider's copy was last found current: a download
 * written or found unchanged, or at start the copy's age; 0 when it has
 * none. -ENOENT: no such http provider. */
int providers_updated_at(const struct providers *p, bool proxies, const char *name,
			 int64_t *unix_secs);
/* Cancels everything; memory goes once the loop ran the handles closed
 * and any worker finished. */
void providers_destroy(struct providers *p);

#endif
