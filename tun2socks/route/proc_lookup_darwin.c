/* proc_lookup on macOS (research.md s. 8): the kernel's PCB list.
 *
 * sysctl net.inet.tcp.pcblist_n (or udp) returns a struct xinpgen, then
 * per socket a run of sub-records, each starting with its own length and
 * kind (XSO_INPCB, XSO_SOCKET, XSO_RCVBUF, ...), each padded to 8 bytes,
 * and a closing xinpgen. Walking by those lengths keeps us independent of
 * the records' sizes, which change between releases. The inpcb record has
 * the local port and address; the socket record after it has the owner
 * uid and the last pid that used the socket, whose executable
 * proc_pidpath() gives.
 *
 * The sub-record layouts are xnu's (bsd/netinet/in_pcb.h and
 * bsd/sys/socketvar.h, under PRIVATE, so not in the public SDK): only the
 * leading fields we read are declared, in the kernel's 4-byte packing.
 * One sysctl copies every socket of the protocol: cost grows with the
 * number of sockets on the machine (a few hundred KB at worst).
 */
#include "tun2socks/route/proc_lookup_impl.h"

#include <errno.h>
#include <libproc.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <sys/sysctl.h>
#include <sys/types.h>

/* Sub-record kinds (sys/socketvar.h). */
#define PL_XSO_SOCKET 0x001
#define PL_XSO_INPCB 0x010

/* inp_vflag bits (netinet/in_pcb.h). */
#define PL_INP_IPV4 0x1
#define PL_INP_IPV6 0x2

#pragma pack(push, 4)
/* Leading fields of struct xinpcb_n. */
struct pl_xinpcb {
	uint32_t xi_len;
	uint32_t xi_kind;
	uint64_t xi_inpp;
	uint16_t inp_fport; /* network order */
	uint16_t inp_lport; /* network order */
	uint64_t inp_ppcb;
	uint64_t inp_gencnt;
	int32_t inp_flags;
	uint32_t inp_flow;
	uint8_t inp_vflag;
	uint8_t inp_ip_ttl;
	uint8_t inp_ip_p;
	/* 4-byte aligned like the kernel's in6_addr / in_addr_4in6 unions;
	 * IPv4 is in the last 4 bytes. */
	union {
		uint32_t w[4];
		uint8_t b[16];
	} faddr, laddr;
};

/* Leading fields of struct xsocket_n. */
struct pl_xsocket {
	uint32_t xso_len;
	uint32_t xso_kind;
	uint64_t xso_so;
	int16_t so_type;
	uint32_t so_options;
	int16_t so_linger;
	int16_t so_state;
	uint64_t so_pcb;
	int32_t xso_protocol;
	int32_t xso_family;
	int16_t so_qlen;
	int16_t so_incqlen;
	int16_t so_qlimit;
	int16_t so_timeo;
	uint16_t so_error;
	int32_t so_pgid;
	uint32_t so_oobmark;
	uint32_t so_uid;
	int32_t so_last_pid;
};
#pragma pack(pop)

_Static_assert(offsetof(struct pl_xinpcb, inp_lport) == 18, "xinpcb_n layout");
_Static_assert(offsetof(struct pl_xinpcb, inp_vflag) == 44, "xinpcb_n layout");
_Static_assert(offsetof(struct pl_xinpcb, laddr) == 64, "xinpcb_n layout");
_Static_assert(offsetof(struct pl_xsocket, so_uid) == 64, "xsocket_n layout");
_Static_assert(offsetof(struct pl_xsocket, so_last_pid) == 68, "xsocket_n layout");

/* The header before and after the records (struct xinpgen). */
#define PL_XINPGEN_LEN 24

struct proc_platform {
	int unused;
};

int proc_platform_create(struct proc_platform **out, int diag_fd)
{
	if (diag_fd >= 0)
		close(diag_fd); /* no sock_diag here */
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void proc_platform_destroy(struct proc_platform *p)
{
	free(p);
}

static bool is_zero(const uint8_t *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i])
			return false;
	return true;
}

/* 0 exact, 2 wildcard (UDP only), 9 no match. */
static int rank_of(const struct proc_key *k, const struct pl_xinpcb *inp)
{
	bool udp = k->proto == IPPROTO_UDP;

	if (ntohs(inp->inp_lport) != k->port)
		return 9;
	if (k->family == AF_INET) {
		/* Dual-stack IPv6 sockets talking IPv4 carry INP_IPV4 too. */
		if (!(inp->inp_vflag & PL_INP_IPV4))
			return 9;
		if (!memcmp(inp->laddr.b + 12, k->addr, 4))
			return 0;
		return udp && is_zero(inp->laddr.b + 12, 4) ? 2 : 9;
	}
	if (!(inp->inp_vflag & PL_INP_IPV6))
		return 9;
	if (!memcmp(inp->laddr.b, k->addr, 16))
		return 0;
	return udp && is_zero(inp->laddr.b, 16) ? 2 : 9;
}

/* The PCB list of k's protocol, malloc'ed into *buf. */
static int read_pcblist(const struct proc_key *k, uint8_t **buf, size_t *len)
{
	const char *name =
		k->proto == IPPROTO_TCP ? "net.inet.tcp.pcblist_n" : "net.inet.udp.pcblist_n";

	*buf = NULL;
	for (int tries = 0; tries < 4; tries++) {
		size_t n = 0;
		uint8_t *b;

		if (sysctlbyname(name, NULL, &n, NULL, 0) < 0)
			return -errno;
		n += n / 8 + 4096; /* sockets come and go between the calls */
		b = malloc(n);
		if (!b)
			return -ENOMEM;
		if (sysctlbyname(name, b, &n, NULL, 0) == 0) {
			*buf = b;
			*len = n;
			return 0;
		}
		free(b);
		if (errno != ENOMEM)
			return -errno;
	}
	return -EAGAIN;
}

int proc_platform_find(struct proc_platform *p, const struct proc_key *k, struct proc_info *out)
{
	const struct pl_xinpcb *inp = NULL;
	int best = 9, rank = 9;
	uint8_t *buf;
	size_t len, off;
	int r;

	(void)p;
	r = read_pcblist(k, &buf, &len);
	if (r < 0)
		return r;
	/* Sub-records from after the leading xinpgen up to the closing one. */
	for (off = PL_XINPGEN_LEN; off + 8 <= len && len - off > PL_XINPGEN_LEN;) {
		uint32_t rlen, kind;

		memcpy(&rlen, buf + off, 4);
		memcpy(&kind, buf + off + 4, 4);
		if (rlen < 8 || rlen > len - off)
			break;
		if (kind == PL_XSO_INPCB && rlen >= sizeof(struct pl_xinpcb)) {
			inp = (const struct pl_xinpcb *)(buf + off);
			rank = rank_of(k, inp);
		} else if (kind == PL_XSO_SOCKET && inp && rank < best &&
			   rlen >= sizeof(struct pl_xsocket)) {
			struct pl_xsocket so;

			memcpy(&so, buf + off, sizeof(so));
			best = rank;
			out->uid = so.so_uid;
			out->pid = so.so_last_pid;
			inp = NULL;
			if (best == 0)
				break;
		}
		off += (rlen + 7) & ~(size_t)7;
	}
	free(buf);
	if (best == 9)
		return -ENOENT;
	if (out->pid > 0 && proc_pidpath(out->pid, out->path, sizeof(out->path)) > 0) {
		proc_basename(out->path, out->name, sizeof(out->name));
	} else {
		out->path[0] = '\0';
		if (out->pid <= 0 || proc_name(out->pid, out->name, sizeof(out->name)) <= 0)
			out->name[0] = '\0';
	}
	if (out->pid < 0)
		out->pid = 0;
	return 0;
}
