/* rtsock: a PF_ROUTE socket that sends rtmsg.h's requests and reads the
 * kernel's answers (macOS only: rtsock_darwin.c). The messages are built
 * and parsed by rtmsg.c; this is the I/O around them. Blocking, with a
 * timeout: the kernel handles a request inside write() and queues a GET's
 * answer before write() returns, so a read never waits on anything but
 * the socket buffer. Used at startup, at stop, by `tun2socks cleanup` and
 * `status`, and for the uplink monitor's look.
 */
#ifndef T2S_RTSOCK_H
#define T2S_RTSOCK_H

#include "tun2socks/system/rtmsg.h"

struct rtsock;

/* 0 or -errno. */
int rtsock_open(struct rtsock **out);
void rtsock_close(struct rtsock *rs);

/* Sends an ADD or DELETE (req->seq is set here). 0 or the kernel's
 * -errno: -EEXIST (already there), -ESRCH (no such route), -ENETUNREACH
 * (the gateway is not on a connected network), -EPERM (not root). */
int rtsock_change(struct rtsock *rs, struct rtmsg_req *req);

/* Sends a GET and reads its answer into out. 0, -ESRCH (no route),
 * -ETIMEDOUT, or -errno. */
int rtsock_get(struct rtsock *rs, struct rtmsg_req *req, struct rtmsg_info *out);

#endif
