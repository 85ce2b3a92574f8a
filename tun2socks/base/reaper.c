/* reaper: see reaper.h. */
#include "tun2socks/base/reaper.h"

static void reaper_on_check(uv_check_t *h)
{
	reaper_flush(h->data);
}

int reaper_init(struct reaper *r, uv_loop_t *loop, reaper_free_fn *free_fn)
{
	int e = uv_check_init(loop, &r->check);

	r->head = NULL;
	r->free_fn = free_fn;
	if (e < 0)
		return e;
	r->check.data = r;
	return uv_check_start(&r->check, reaper_on_check);
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
