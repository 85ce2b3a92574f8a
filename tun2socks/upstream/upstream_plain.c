/* upstream_plain: the connector with no handshake (upstream.h): the
 * stream under it (TLS to a DNS-over-TLS server) is the tunnel at once. */
#include <stdint.h>

#include "tun2socks/upstream/upstream.h"

struct plain_state {
	uint8_t unused;
};

static void plain_init(void *state, const struct upstream_cfg *cfg,
		       const struct socks5_addr *target)
{
	(void)state;
	(void)cfg;
	(void)target;
}

static int plain_step(void *state, const struct stream *io)
{
	(void)state;
	(void)io;
	return STREAM_DONE;
}

static size_t plain_leftover(void *state, const uint8_t **data)
{
	(void)state;
	*data = NULL;
	return 0;
}

static const char *plain_error(const void *state)
{
	(void)state;
	return "";
}

const struct upstream_proto upstream_plain = {
	.name = "tls",
	.state_size = sizeof(struct plain_state),
	.init = plain_init,
	.step = plain_step,
	.leftover = plain_leftover,
	.error = plain_error,
};
