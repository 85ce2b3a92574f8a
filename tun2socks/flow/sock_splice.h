/* sock_splice: every connection accepted on a listening socket joined to
 * a new TCP connection to one fixed address, bytes copied both ways on the
 * loop. `tun2socks run --allow-host-port N` uses it: the listener is made
 * on 127.0.0.1:N inside CMD's namespace, the daemon connects to the host's
 * 127.0.0.1:N (docs/design.md §14).
 *
 * Backpressure per direction: reading one side stops while more than
 * SOCK_SPLICE_QUEUE_MAX bytes wait to be written to the other. A side's
 * EOF becomes a shutdown of the other (half-close); an error or both EOFs
 * close the pair. Not through the rules: these bytes never enter the TUN.
 */
#ifndef T2S_SOCK_SPLICE_H
#define T2S_SOCK_SPLICE_H

#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#define SOCK_SPLICE_QUEUE_MAX (256u * 1024u)

struct sock_splice;

struct sock_splice_stats {
	uint64_t accepted, failed;    /* failed: the connect to the target */
	uint64_t bytes_in, bytes_out; /* accepted side -> target, and back */
};

/* Takes over listen_fd (a listening TCP socket; closed by stop). 0 or a
 * libuv error. */
int sock_splice_start(uv_loop_t *loop, int listen_fd, const struct sockaddr *to, socklen_t tolen,
		      struct sock_splice **out);

const struct sock_splice_stats *sock_splice_stats(const struct sock_splice *s);

/* Closes the listener and every pair; freed once the loop has run the
 * close callbacks. NULL is a no-op. */
void sock_splice_stop(struct sock_splice *s);

#endif
