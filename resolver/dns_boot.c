/* dns_boot: a server name through default-nameserver (dns_boot.h). */
#include "resolver/dns_boot.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

struct dns_boot {
	resolver_addr_cb cb;
	void *arg;
	bool canceled;
	bool started; /* resolver_lookup returned 0 */
	bool done;    /* the callback ran (possibly inside resolver_lookup) */
};

static void boot_done(void *arg, int status, const struct sockaddr_storage *addrs, size_t n)
{
	struct dns_boot *b = arg;
	bool free_now = b->started || b->canceled;

	b->done = true;
	if (!b->canceled)
		b->cb(b->arg, status, addrs, n);
	if (free_now)
		free(b);
}

int dns_boot_start(struct resolver *r, const char *host, resolver_addr_cb cb, void *arg,
		   struct dns_boot **out)
{
	struct dns_boot *b = calloc(1, sizeof(*b));
	int rc;

	*out = NULL;
	if (b == NULL)
		return -ENOMEM;
	b->cb = cb;
	b->arg = arg;
	*out = b;
	rc = resolver_lookup(r, host, boot_done, b);
	if (rc < 0 || b->done) { /* failed, or answered within the call */
		*out = NULL;
		free(b);
		return rc;
	}
	b->started = true;
	return 0;
}

void dns_boot_cancel(struct dns_boot *b)
{
	if (b != NULL)
		b->canceled = true;
}
