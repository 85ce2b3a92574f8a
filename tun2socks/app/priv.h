/* priv: may this process create the TUN device?
 *
 * Asked first at startup, so that a user without the privilege is told
 * what is missing and how to get it, instead of meeting a vaguer error
 * later (an unreachable proxy, a failed netlink call). One header: CMake
 * adds priv_linux.c or priv_darwin.c (the question put to the OS); priv.c
 * holds the decision, which is pure and unit-tested.
 */
#ifndef T2S_PRIV_H
#define T2S_PRIV_H

#include <stdbool.h>
#include <stddef.h>

/* Whether the process may create and configure a TUN device: 1 yes, 0 no,
 * -errno when it cannot tell. Linux: CAP_NET_ADMIN in the effective set
 * (root has it unless it was dropped); macOS: effective uid 0, which utun
 * devices require. */
int priv_tun_admin(void);

/* What is missing and how to get it, for the message when
 * priv_tun_admin() is 0. Static storage. */
const char *priv_tun_hint(void);

struct priv_facts {
	int tun_admin;    /* priv_tun_admin() */
	int tun_fd;       /* --tun-fd N, or -1 */
	bool tun_fd_open; /* N is an open descriptor */
	const char *hint; /* priv_tun_hint() */
};

/* The startup decision. 0 when the daemon may go on: an open --tun-fd was
 * given (using one needs no privilege), the privilege is held, or it
 * cannot be told (tun_open() then says what failed). Else -EBADF (--tun-fd
 * names no open descriptor) or -EPERM, with one line in err (errlen > 0:
 * always terminated) saying what is missing and how to fix it. */
int priv_check(const struct priv_facts *f, char *err, size_t errlen);

#endif
