/* health: see health.h and docs/design.md §18.
 *
 * Lifetimes: a struct health_group (one timer) exists per checked group of
 * the current generation; switching generations closes the timers (each
 * freed in its close callback) and cancels every check, queued or running
 * (a cancelled http request never calls back). A struct health_check lives
 * from queueing until its report.
 */
#include "tun2socks/route/health.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tun2socks/base/list.h"
#include "tun2socks/base/log.h"
#include "tun2socks/route/group.h"
#include "tun2socks/route/router_gen.h"
#include "tun2socks/upstream/http_client.h"

struct health_group {
	struct health *h; /* NULL once detached (closing) */
	uv_timer_t timer;
	size_t gi;
	size_t pending; /* checks of this round not reported yet */
	size_t before;  /* the member picked when the round started */
	bool ran;       /* a round ran: lazy may skip the next ones */
	bool now;       /* health_check_now() waits for this round */
};

struct health_check {
	struct list_node link;
	struct health *h;
	struct health_group *hg;
	size_t mi;
	struct http_request *req; /* running, else NULL (queued) */
};

struct health {
	uv_loop_t *loop;
	struct http_client *http;
	struct router_gen *gen;
	struct health_group **groups;
	size_t n_groups;
	struct list_node queued, running; /* struct health_check.link */
	size_t n_running;
	/* health_check_now(): rounds left and who to tell. */
	size_t now_left;
	void (*now_done)(void *arg);
	void *now_arg;
};

static void health_pump(struct health *h);

static void health_now_step(struct health *h)
{
	void (*done)(void *) = h->now_done;

	if (h->now_left == 0 || --h->now_left > 0 || done == NULL)
		return;
	h->now_done = NULL;
	done(h->now_arg);
}

/* One line per round: every member's result, and what the group picks. */
static void health_round_done(struct health *h, struct health_group *hg)
{
	struct group_table *t = router_gen_groups(h->gen);
	struct group_info gi;
	struct group_member_info mi;
	char line[1024];
	size_t o = 0;

	if (group_table_info(t, hg->gi, &gi) < 0)
		return;
	for (size_t m = 0; m < gi.n_members && o < sizeof(line) - 1; m++) {
		if (group_table_member(t, hg->gi, m, &mi) < 0)
			break;
		if (!mi.checked)
			o += (size_t)snprintf(line + o, sizeof(line) - o, "%s%s unchecked",
					      m ? ", " : "", mi.name);
		else if (mi.alive)
			o += (size_t)snprintf(line + o, sizeof(line) - o, "%s%s %u ms",
					      m ? ", " : "", mi.name, mi.delay_ms);
		else
			o += (size_t)snprintf(line + o, sizeof(line) - o, "%s%s dead (%s)",
					      m ? ", " : "", mi.name, mi.error);
	}
	if (o >= sizeof(line))
		o = sizeof(line) - 1;
	line[o] = '\0';
	group_table_member(t, hg->gi, gi.now, &mi);
	log_debug("group %s (%s): %s; picks %s", gi.name, config_group_type_name(gi.type), line,
		  mi.name ? mi.name : "-");
	if (gi.type == CONFIG_GROUP_URL_TEST && gi.now != hg->before) {
		struct group_member_info was;

		group_table_member(t, hg->gi, hg->before, &was);
		log_info("group %s: now %s (was %s)", gi.name, mi.name, was.name);
	}
	if (hg->now) {
		hg->now = false;
		health_now_step(h);
	}
}

static void health_report(struct health_check *c, bool alive, unsigned ms, const char *err)
{
	struct health *h = c->h;
	struct health_group *hg = c->hg;

	group_table_report(router_gen_groups(h->gen), hg->gi, c->mi, alive, ms, err,
			   uv_now(h->loop));
	if (hg->pending > 0 && --hg->pending == 0)
		health_round_done(h, hg);
}

static void health_on_http(void *arg, int status, const struct http_response *resp)
{
	struct health_check *c = arg;
	struct health *h = c->h;
	uint64_t ms = resp->total_us / 1000;

	list_remove(&c->link);
	h->n_running--;
	c->req = NULL;
	if (status == 0 &&
	    !group_table_status_ok(router_gen_groups(h->gen), c->hg->gi, resp->code)) {
		char why[64];

		snprintf(why, sizeof(why), "HTTP status %ld is not expected", resp->code);
		health_report(c, false, 0, why);
	} else if (status == 0)
		health_report(c, true, ms ? (unsigned)ms : 1, NULL);
	else
		health_report(c, false, 0, resp->error);
	free(c);
	health_pump(h);
}

/* Starts c: finds how to reach the world through its member now. */
static void health_start(struct health *h, struct health_check *c)
{
	struct group_table *t = router_gen_groups(h->gen);
	struct group_member_info mi;
	struct group_info gi;
	struct router_check_via via;
	struct group_pick pk = { .peek = true };
	struct http_request_opts o = { 0 };
	int leaf, r;

	group_table_info(t, c->hg->gi, &gi);
	group_table_member(t, c->hg->gi, c->mi, &mi);
	leaf = group_table_pick(t, mi.target, &pk);
	if (leaf < 0 || router_gen_check_via(h->gen, leaf, &via) < 0) {
		r = -ENOENT;
		goto fail;
	}
	if (via.kind == ROUTER_VIA_REJECT) {
		health_report(c, false, 0, via.name);
		free(c);
		return;
	}
	if (via.kind == ROUTER_VIA_NONE) {
		/* Left as it was (alive until shown otherwise). */
		log_debug("group %s: %s cannot be checked (curl has no SOCKS5 over TLS)", gi.name,
			  via.name);
		if (c->hg->pending > 0 && --c->hg->pending == 0)
			health_round_done(h, c->hg);
		free(c);
		return;
	}
	o.url = gi.url;
	o.head_only = true;
	o.timeout_ms = gi.timeout_ms;
	o.max_redirects = -1;
	o.proxy = via.proxy;
	o.proxy_user = via.user;
	o.proxy_pass = via.pass;
	o.proxy_ca_file = via.ca_file;
	o.proxy_insecure = via.insecure;
	r = http_client_request(h->http, &o, health_on_http, c, &c->req);
	if (r < 0)
		goto fail;
	list_insert_before(&h->running, &c->link);
	h->n_running++;
	return;
fail:
	health_report(c, false, 0, strerror(-r));
	free(c);
}

static void health_pump(struct health *h)
{
	while (h->gen && h->n_running < HEALTH_MAX_CONCURRENT && !list_empty(&h->queued)) {
		struct health_check *c = list_entry(h->queued.next, struct health_check, link);

		list_remove(&c->link);
		health_start(h, c);
	}
}

/* Queues a check of every member, unless a round is running; true when
 * a round (new or running) will end in health_round_done(). */
static bool health_round(struct health *h, struct health_group *hg)
{
	struct group_table *t = router_gen_groups(h->gen);
	struct group_info gi;

	if (hg->pending > 0 || group_table_info(t, hg->gi, &gi) < 0)
		return hg->pending > 0;
	hg->before = gi.now;
	hg->ran = true;
	for (size_t m = 0; m < gi.n_members; m++) {
		struct health_check *c = calloc(1, sizeof(*c));

		if (c == NULL)
			break;
		c->h = h;
		c->hg = hg;
		c->mi = m;
		list_insert_before(&h->queued, &c->link);
		hg->pending++;
	}
	if (hg->pending == 0) {
		health_round_done(h, hg);
		return true;
	}
	health_pump(h);
	return true;
}

static void health_on_timer(uv_timer_t *timer)
{
	struct health_group *hg = timer->data;
	struct health *h = hg->h;
	struct group_info gi;

	if (h == NULL || group_table_info(router_gen_groups(h->gen), hg->gi, &gi) < 0)
		return;
	/* lazy: only a group that carried a flow since the last interval
	 * (mihomo checks once at start whatever). */
	if (hg->ran && gi.lazy &&
	    (gi.used_ms == 0 || uv_hrtime() / 1000000 - gi.used_ms > gi.interval_s * 1000ull)) {
		log_debug("group %s: unused, check skipped (lazy)", gi.name);
		return;
	}
	health_round(h, hg);
}

static void health_group_closed(uv_handle_t *handle)
{
	free(handle->data);
}

static void health_cancel_all(struct health *h)
{
	struct list_node *n, *tmp;

	list_for_each_safe(n, tmp, &h->queued) {
		list_remove(n);
		free(list_entry(n, struct health_check, link));
	}
	list_for_each_safe(n, tmp, &h->running) {
		struct health_check *c = list_entry(n, struct health_check, link);

		http_request_cancel(c->req);
		list_remove(n);
		free(c);
	}
	h->n_running = 0;
	for (size_t i = 0; i < h->n_groups; i++) {
		h->groups[i]->h = NULL;
		uv_timer_stop(&h->groups[i]->timer);
		uv_close((uv_handle_t *)&h->groups[i]->timer, health_group_closed);
	}
	free(h->groups);
	h->groups = NULL;
	h->n_groups = 0;
	if (h->now_done) {
		h->now_left = 1;
		health_now_step(h);
	}
	router_gen_unref(h->gen);
	h->gen = NULL;
}

int health_create(uv_loop_t *loop, struct http_client *http, struct health **out)
{
	struct health *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (h == NULL)
		return -ENOMEM;
	h->loop = loop;
	h->http = http;
	list_init(&h->queued);
	list_init(&h->running);
	*out = h;
	return 0;
}

void health_set_gen(struct health *h, struct router_gen *g)
{
	struct group_table *t;
	size_t n;

	health_cancel_all(h);
	if (g == NULL)
		return;
	h->gen = router_gen_ref(g);
	t = router_gen_groups(g);
	n = group_table_count(t);
	h->groups = n ? calloc(n, sizeof(*h->groups)) : NULL;
	for (size_t i = 0; h->groups && i < n; i++) {
		struct group_info gi;
		struct health_group *hg;

		if (group_table_info(t, i, &gi) < 0 || gi.interval_s == 0 || gi.n_members == 0)
			continue;
		hg = calloc(1, sizeof(*hg));
		if (hg == NULL || uv_timer_init(h->loop, &hg->timer) < 0) {
			free(hg);
			log_warn("group %s: no health checks (out of memory)", gi.name);
			continue;
		}
		hg->h = h;
		hg->gi = i;
		hg->timer.data = hg;
		/* The first round at once, then every interval. */
		uv_timer_start(&hg->timer, health_on_timer, 0, gi.interval_s * 1000ull);
		h->groups[h->n_groups++] = hg;
	}
}

int health_check_now(struct health *h, void (*done)(void *arg), void *arg)
{
	if (h->now_done)
		return -EBUSY;
	h->now_left = 1; /* held until every round is queued */
	h->now_done = done;
	h->now_arg = arg;
	for (size_t i = 0; h->gen && i < h->n_groups; i++) {
		struct health_group *hg = h->groups[i];

		/* Counted first: a round without members ends inside. */
		hg->now = true;
		h->now_left++;
		if (!health_round(h, hg) && hg->now) {
			hg->now = false;
			h->now_left--;
		}
	}
	health_now_step(h);
	return 0;
}

int health_check_soon(struct health *h, const char *name)
{
	int gi = h->gen ? group_table_find(router_gen_groups(h->gen), name) : -ENOENT;

	for (size_t i = 0; gi >= 0 && i < h->n_groups; i++)
		if (h->groups[i]->gi == (size_t)gi) {
			health_round(h, h->groups[i]);
			return 0;
		}
	return -ENOENT;
}

int health_check_group(struct health *h, const char *name, void (*done)(void *arg), void *arg)
{
	int gi = h->gen ? group_table_find(router_gen_groups(h->gen), name) : -ENOENT;
	struct health_group *hg = NULL;

	for (size_t i = 0; gi >= 0 && i < h->n_groups; i++)
		if (h->groups[i]->gi == (size_t)gi)
			hg = h->groups[i];
	if (hg == NULL)
		return -ENOENT;
	if (h->now_done)
		return -EBUSY;
	h->now_left = 2; /* the round, and this call until it queued it */
	h->now_done = done;
	h->now_arg = arg;
	hg->now = true;
	if (!health_round(h, hg) && hg->now) {
		hg->now = false;
		h->now_left--;
	}
	health_now_step(h);
	return 0;
}

void health_destroy(struct health *h)
{
	if (h == NULL)
		return;
	health_cancel_all(h);
	free(h);
}
