/* pipelining: see pipelining.h and docs/design.md §15.
 *
 * Lifetimes: a struct pipe_probe exists per auto upstream of the current
 * generation and holds a reference to it (its upstream_cfg, and the TLS
 * context a connection to the proxy uses, live there). It owns a timer for
 * its whole life (the attempt's deadline, or the wait before the next
 * attempt) and, during an attempt, the upstream_conn and a poll handle on
 * its socket. An attempt ends by closing the poll handle; the conn is
 * closed in that close callback (upstream_conn.h: never while libuv
 * watches the fd), and only then is the attempt's slot given back or the
 * next wait started. Cancelling (a new generation, destroy) detaches the
 * probe (p = NULL) and closes its handles; the last close callback frees
 * it and drops the reference.
 */
#include "tun2socks/route/pipelining.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tun2socks/base/list.h"
#include "tun2socks/base/log.h"
#include "tun2socks/base/sock.h"
#include "tun2socks/route/router_gen.h"
#include "tun2socks/upstream/upstream_conn.h"

enum probe_state {
	PROBE_QUEUED,  /* waits for a slot */
	PROBE_RUNNING, /* an attempt is connected or connecting */
	PROBE_CLOSING, /* the attempt ended; its poll handle is closing */
	PROBE_WAITING, /* no connection: the timer runs to the next attempt */
	PROBE_DECIDED,
};

enum probe_outcome { OUTCOME_NONE, OUTCOME_ON, OUTCOME_OFF, OUTCOME_UNREACHABLE };

struct pipe_probe {
	struct list_node link;   /* p->probes */
	struct pipelining *p;    /* NULL once cancelled */
	struct router_gen *gen;  /* reference */
	struct upstream_cfg *up; /* gen's; `pipelining` is the verdict */
	const char *name;        /* the proxy's, in gen */
	char conn_name[160];     /* the conn's log lines */
	enum probe_state state;
	enum probe_outcome outcome; /* of the attempt that is closing */
	struct upstream_conn *conn; /* RUNNING and CLOSING */
	uv_poll_t poll;             /* open while RUNNING and CLOSING */
	uv_timer_t timer;
	unsigned handles; /* open: the timer, and the poll in an attempt */
	uint64_t wait_ms; /* before the next attempt after no connection */
};

struct pipelining {
	uv_loop_t *loop;
	struct pipelining_opts o;
	struct list_node probes; /* struct pipe_probe.link */
	size_t n_running;        /* RUNNING and CLOSING of this generation */
	size_t n_undecided;
};

static void probe_pump(struct pipelining *p);

static void probe_maybe_free(struct pipe_probe *pr)
{
	if (pr->handles > 0)
		return;
	router_gen_unref(pr->gen);
	free(pr);
}

static void probe_on_timer_closed(uv_handle_t *h)
{
	struct pipe_probe *pr = h->data;

	pr->handles--;
	probe_maybe_free(pr);
}

static void probe_on_wait(uv_timer_t *t)
{
	struct pipe_probe *pr = t->data;

	pr->state = PROBE_QUEUED;
	probe_pump(pr->p);
}

/* No connection: the next attempt after wait_ms, which doubles. */
static void probe_wait(struct pipe_probe *pr)
{
	pr->state = PROBE_WAITING;
	uv_timer_start(&pr->timer, probe_on_wait, pr->wait_ms, 0);
	pr->wait_ms = pr->wait_ms * 2 > PIPELINING_RETRY_MAX_MS ? PIPELINING_RETRY_MAX_MS
								: pr->wait_ms * 2;
}

/* The attempt's poll handle is closed: now the conn may go, the slot is
 * free, and an undecided probe waits for its next attempt. */
static void probe_on_poll_closed(uv_handle_t *h)
{
	struct pipe_probe *pr = h->data;
	struct pipelining *p = pr->p;

	upstream_conn_close(pr->conn, true);
	pr->conn = NULL;
	pr->handles--;
	if (p == NULL) {
		probe_maybe_free(pr);
		return;
	}
	p->n_running--;
	if (pr->outcome == OUTCOME_UNREACHABLE)
		probe_wait(pr);
	else
		pr->state = PROBE_DECIDED;
	probe_pump(p);
}

/* Ends the running attempt with its outcome; why says what happened. */
static void probe_finish(struct pipe_probe *pr, enum probe_outcome outcome, const char *why)
{
	struct pipelining *p = pr->p;

	switch (outcome) {
	case OUTCOME_ON:
		pr->up->pipelining = true;
		p->n_undecided--;
		log_info("proxy %s (%s): answers pipelined requests: pipelining on (auto)",
			 pr->name, pr->up->server_str);
		break;
	case OUTCOME_OFF:
		p->n_undecided--;
		log_info("proxy %s (%s): no answer to a pipelined request (%s): plain handshakes "
			 "(pipelining: auto)",
			 pr->name, pr->up->server_str, why);
		break;
	default:
		log_debug("proxy %s (%s): pipelining probe: %s; again in %u s", pr->name,
			  pr->up->server_str, why, (unsigned)(pr->wait_ms / 1000));
		break;
	}
	pr->outcome = outcome;
	pr->state = PROBE_CLOSING;
	uv_timer_stop(&pr->timer);
	uv_poll_stop(&pr->poll);
	uv_close((uv_handle_t *)&pr->poll, probe_on_poll_closed);
}

/* A failure in the proxy's handshake means the server is there and did
 * not take the pipelined messages; before it, nothing is known. */
static enum probe_outcome probe_failed_outcome(const struct pipe_probe *pr)
{
	return upstream_conn_failed_in(pr->conn) == UPSTREAM_CONN_PROXY ? OUTCOME_OFF
									: OUTCOME_UNREACHABLE;
}

static void probe_on_poll(uv_poll_t *h, int status, int events)
{
	struct pipe_probe *pr = h->data;
	char why[300] = "";
	int r;

	(void)events;
	r = upstream_conn_step(pr->conn, status, why, sizeof(why));
	if (r == STREAM_DONE) {
		probe_finish(pr, OUTCOME_ON, "");
		return;
	}
	if (r < 0) {
		probe_finish(pr, probe_failed_outcome(pr), why);
		return;
	}
	r = uv_poll_start(&pr->poll, sock_poll_events(r), probe_on_poll);
	if (r < 0) {
		snprintf(why, sizeof(why), "cannot poll: %s", uv_strerror(r));
		probe_finish(pr, OUTCOME_UNREACHABLE, why);
	}
}

static void probe_on_deadline(uv_timer_t *t)
{
	struct pipe_probe *pr = t->data;
	enum upstream_conn_state s = upstream_conn_state(pr->conn);
	uint64_t ms = pr->p->o.timeout_ms;
	char why[160];

	snprintf(why, sizeof(why), "%s after %u %s",
		 s == UPSTREAM_CONN_PROXY ? "no reply to the CONNECT" : "timed out connecting",
		 (unsigned)(ms % 1000 ? ms : ms / 1000), ms % 1000 ? "ms" : "s");
	probe_finish(pr, s == UPSTREAM_CONN_PROXY ? OUTCOME_OFF : OUTCOME_UNREACHABLE, why);
}

/* Starts an attempt of a QUEUED probe. A failure to start counts as no
 * connection (waits and tries again). */
static void probe_start(struct pipe_probe *pr)
{
	struct pipelining *p = pr->p;
	/* 0.0.0.0:0: refused at once by any server that reads it, and
	 * nowhere to connect to for one that tries. */
	static const struct socks5_addr nowhere = { .atyp = SOCKS5_ATYP_IPV4 };
	struct upstream_conn_spec spec = {
		.name = pr->conn_name,
		.sock = p->o.sock,
		.up = pr->up,
		.proto = &upstream_socks5_probe,
		.target = &nowhere,
	};
	char why[300] = "";
	int r = upstream_conn_open(&spec, &pr->conn, why, sizeof(why));

	if (r == 0) {
		r = uv_poll_init_socket(p->loop, &pr->poll, upstream_conn_fd(pr->conn));
		if (r < 0) {
			upstream_conn_close(pr->conn, true);
			pr->conn = NULL;
			snprintf(why, sizeof(why), "cannot poll: %s", uv_strerror(r));
		}
	}
	if (r < 0) {
		log_debug("proxy %s (%s): pipelining probe: %s; again in %u s", pr->name,
			  pr->up->server_str, why, (unsigned)(pr->wait_ms / 1000));
		probe_wait(pr);
		return;
	}
	pr->poll.data = pr;
	pr->handles++;
	pr->state = PROBE_RUNNING;
	pr->outcome = OUTCOME_NONE;
	p->n_running++;
	uv_timer_start(&pr->timer, probe_on_deadline, p->o.timeout_ms, 0);
	r = uv_poll_start(&pr->poll, UV_WRITABLE, probe_on_poll);
	if (r < 0) {
		snprintf(why, sizeof(why), "cannot poll: %s", uv_strerror(r));
		probe_finish(pr, OUTCOME_UNREACHABLE, why);
	}
}

/* Starts queued probes while slots are free, in list (config) order. */
static void probe_pump(struct pipelining *p)
{
	struct list_node *n, *tmp;

	list_for_each_safe(n, tmp, &p->probes) {
		struct pipe_probe *pr = list_entry(n, struct pipe_probe, link);

		if (p->n_running >= PIPELINING_MAX_CONCURRENT)
			break;
		if (pr->state == PROBE_QUEUED)
			probe_start(pr);
	}
}

/* Detaches every probe and closes its handles. */
static void pipelining_cancel(struct pipelining *p)
{
	struct list_node *n, *tmp;

	list_for_each_safe(n, tmp, &p->probes) {
		struct pipe_probe *pr = list_entry(n, struct pipe_probe, link);

		list_remove(&pr->link);
		pr->p = NULL;
		uv_timer_stop(&pr->timer);
		uv_close((uv_handle_t *)&pr->timer, probe_on_timer_closed);
		if (pr->state == PROBE_RUNNING) {
			uv_poll_stop(&pr->poll);
			uv_close((uv_handle_t *)&pr->poll, probe_on_poll_closed);
		}
		/* CLOSING: its close callback, already due, frees it. */
	}
	p->n_running = 0;
	p->n_undecided = 0;
}

int pipelining_create(uv_loop_t *loop, const struct pipelining_opts *o, struct pipelining **out)
{
	struct pipelining *p;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->loop = loop;
	p->o = *o;
	if (p->o.retry_ms == 0)
		p->o.retry_ms = PIPELINING_RETRY_MS;
	list_init(&p->probes);
	*out = p;
	return 0;
}

int pipelining_set_gen(struct pipelining *p, struct router_gen *g)
{
	struct upstream_cfg *up;
	const char *name;
	int r = 0;

	pipelining_cancel(p);
	for (size_t i = 0; g != NULL && (up = router_gen_auto_pipelining(g, i, &name)) != NULL;
	     i++) {
		struct pipe_probe *pr = calloc(1, sizeof(*pr));

		if (pr == NULL || uv_timer_init(p->loop, &pr->timer) < 0) {
			log_warn("proxy %s: no pipelining probe (out of memory): plain handshakes",
				 name);
			free(pr);
			r = -ENOMEM;
			continue;
		}
		pr->p = p;
		pr->gen = router_gen_ref(g);
		pr->up = up;
		pr->name = name;
		snprintf(pr->conn_name, sizeof(pr->conn_name), "pipelining probe of %s", name);
		pr->wait_ms = p->o.retry_ms;
		pr->state = PROBE_QUEUED;
		pr->timer.data = pr;
		pr->handles = 1;
		list_insert_before(&p->probes, &pr->link);
		p->n_undecided++;
	}
	probe_pump(p);
	return r;
}

size_t pipelining_undecided(const struct pipelining *p)
{
	return p->n_undecided;
}

void pipelining_destroy(struct pipelining *p)
{
	if (p == NULL)
		return;
	pipelining_cancel(p);
	free(p);
}
