/* reaper: see reaper.h. */
#include "tun2socks/base/reaper.h"

static void reaper_on_check(uv_check_t *h)
{
	reaper_flush(h->data);
}

int reaper_init(struct reaper *r, uv_loop_t *loop, reaper_free_fn *free_fn)
{
	int e;

	r->head = NULL;
	r->free_fn = free_fn;
	if (free_fn == NULL)
		return UV_EINVAL;
	e = uv_check_init(loop, &r->check);
	if (e < 0)
		return e; /* nothing registered with the loop: the caller may free r */
	r->check.data = r;
	/* Fails only for a NULL callback: once the handle is initialised the
	 * caller could not free r without closing it first, so nothing may
	 * fail after uv_check_init. */
	(void)uv_check_start(&r->check, reaper_on_check);
	return 0;
}

void reaper_defer(struct reaper *r, struct reaper_node *n)
{
	n->next = r->head;
	r->head = n;
}

void reaper_close(struct reaper *r)
{
	uv_close((uv_handle_t *)&r->check, NULL);
}

void reaper_flush(struct reaper *r)
{
	while (r->head != NULL) {
		struct reaper_node *n = r->head;

		r->head = n->next;
		r->free_fn(n);
	}
}
