/* Portable half of tun: tun_open's config checks and cleanup, the
 * accessors, packet framing on read and write, and close. Making, finding
 * and configuring the device, and a platform's own per-packet header, are
 * behind the tun_platform_* hooks (tun_impl.h) of tun_linux.c or
 * tun_darwin.c. */
#include "tun2socks/tun/tun_impl.h"

#include "tun2socks/base/log.h"
#include "tun2socks/tun/tun_frame.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

void tun_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int check_config(const struct tun_config *cfg, char *err, size_t errlen)
{
	if (cfg->framing < -1 || cfg->framing > TUN_FRAMING_AF4) {
		tun_set_err(err, errlen, "unknown TUN framing %d", cfg->framing);
		return -EINVAL;
	}
	if (cfg->mtu < TUN_MTU_MIN || cfg->mtu > TUN_MTU_MAX) {
		tun_set_err(err, errlen, "MTU %u out of range %u..%u", cfg->mtu, TUN_MTU_MIN,
			    TUN_MTU_MAX);
		return -EINVAL;
	}
	if (cfg->fd >= 0)
		return 0;
	/* No system takes a longer interface name; which names it can
	 * create at all is the platform's to say. */
	if (cfg->name && strlen(cfg->name) >= IF_NAMESIZE) {
		tun_set_err(err, errlen, "TUN name \"%s\" longer than %d characters", cfg->name,
			    IF_NAMESIZE - 1);
		return -EINVAL;
	}
	if (cfg->has_addr4 && cfg->prefix4 > 32) {
		tun_set_err(err, errlen, "IPv4 prefix length %u > 32", cfg->prefix4);
		return -EINVAL;
	}
	if (cfg->has_addr6 && cfg->prefix6 > 128) {
		tun_set_err(err, errlen, "IPv6 prefix length %u > 128", cfg->prefix6);
		return -EINVAL;
	}
	if (cfg->has_addr6 && cfg->mtu < TUN_MTU_MIN_IPV6) {
		tun_set_err(err, errlen, "MTU %u too small for IPv6 (needs >= %u)", cfg->mtu,
			    TUN_MTU_MIN_IPV6);
		return -EINVAL;
	}
	return 0;
}

/* --tun-fd: the descriptor is used as it is, only checked and made
 * non-blocking; the platform tells what it is. */
static int adopt(struct tun *t, const struct tun_config *cfg, char *err, size_t errlen)
{
	int fl;
	int rc;

	fl = fcntl(cfg->fd, F_GETFL);
	if (fl < 0) {
		rc = -errno;
		tun_set_err(err, errlen, "--tun-fd %d: %s", cfg->fd, strerror(-rc));
		return rc;
	}
	rc = tun_platform_adopt(t, cfg, err, errlen);
	if (rc)
		return rc;
	if (!t->name[0])
		snprintf(t->name, sizeof(t->name), "fd%d", cfg->fd);
	if (!(fl & O_NONBLOCK) && fcntl(cfg->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		rc = -errno;
		tun_set_err(err, errlen, "--tun-fd %d: set O_NONBLOCK: %s", cfg->fd, strerror(-rc));
		return rc;
	}
	t->fd = cfg->fd;
	return 0;
}

int tun_open(const struct tun_config *cfg, struct tun **out, char *err, size_t errlen)
{
	struct tun *t = NULL;
	int rc;

	*out = NULL;
	tun_set_err(err, errlen, "%s", "");
	if (!cfg) {
		tun_set_err(err, errlen, "no TUN config");
		return -EINVAL;
	}
	rc = check_config(cfg, err, errlen);
	if (rc)
		return rc;
	t = calloc(1, sizeof(*t));
	if (!t) {
		tun_set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->fd = -1;
	t->framing = cfg->framing < 0 ? tun_platform_default_framing() : cfg->framing;
	t->mtu = cfg->mtu;
	rc = cfg->fd >= 0 ? adopt(t, cfg, err, errlen) : tun_platform_create(t, cfg, err, errlen);
	if (rc)
		goto out;
	*out = t;
	t = NULL;
out:
	if (t) {
		/* Closing a device we created destroys what was made of it;
		 * a handed-over fd goes back to the caller untouched. */
		if (t->fd >= 0 && cfg->fd < 0)
			close(t->fd);
		free(t);
	}
	return rc;
}

int tun_fd(const struct tun *t)
{
	return t->fd;
}

const char *tun_name(const struct tun *t)
{
	return t->name;
}

int tun_framing(const struct tun *t)
{
	return t->framing;
}

uint32_t tun_mtu(const struct tun *t)
{
	return t->mtu;
}

size_t tun_read_max(const struct tun *t)
{
	return t->gso ? TUN_MTU_MAX : t->mtu;
}

bool tun_csum_offload(const struct tun *t)
{
	return t->csum_offload;
}

ssize_t tun_read(struct tun *t, void *buf, size_t cap)
{
	/* The platform header or the AF4 framing, never both. */
	uint8_t hdr[TUN_HDR_MAX];
	uint8_t spare;
	struct iovec iov[3];
	size_t hlen = 0;
	int cnt = 0;
	ssize_t n;

	if (!buf || cap == 0)
		return -EINVAL;
	if (t->hdr_len)
		hlen = t->hdr_len;
	else if (t->framing == TUN_FRAMING_AF4)
		hlen = TUN_FRAME_AF4_LEN;
	if (hlen) {
		iov[cnt].iov_base = hdr;
		iov[cnt++].iov_len = hlen;
	}
	iov[cnt].iov_base = buf;
	iov[cnt++].iov_len = cap;
	/* One byte past cap: filling it means the packet did not fit (the
	 * kernel truncates silently otherwise). */
	iov[cnt].iov_base = &spare;
	iov[cnt++].iov_len = 1;
	do {
		n = readv(t->fd, iov, cnt);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	/* A TUN never reads 0; a handed-over socket does once its peer is
	 * gone, and returning 0 would make the loop spin. */
	if (n == 0)
		return -EPIPE;
	if ((size_t)n > hlen + cap)
		return -EMSGSIZE;
	if (hlen && (size_t)n <= hlen)
		return -EPROTO;
	if (t->hdr_len)
		return tun_platform_hdr_in(t, hdr, buf, (size_t)n - hlen);
	if (hlen) {
		uint8_t probe[TUN_FRAME_AF4_LEN + 1];

		memcpy(probe, hdr, hlen);
		probe[hlen] = *(const uint8_t *)buf;
		/* The host's own numbers: a utun uses them, and so does
		 * whoever hands us an AF4 fd on another system (Linux's
		 * AF_INET6 is not macOS's). */
		if (tun_frame_af4_decode(probe, sizeof(probe), AF_INET, AF_INET6))
			return -EPROTO;
	}
	return n - (ssize_t)hlen;
}

int tun_writev(struct tun *t, const struct iovec *iov, int iovcnt)
{
	struct iovec v[TUN_WRITEV_MAX_IOV + 2];
	const struct iovec *out = iov;
	uint8_t hdr[TUN_HDR_MAX];
	uint8_t scratch[TUN_HDR_SCRATCH];
	size_t total = 0;
	int outcnt = iovcnt;
	ssize_t n;
	int i;

	if (!iov || iovcnt <= 0 || iovcnt > TUN_WRITEV_MAX_IOV)
		return -EINVAL;
	for (i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (total == 0)
		return -EINVAL;
	if (t->hdr_len) {
		outcnt = tun_platform_hdr_out(t, iov, iovcnt, total, hdr, scratch, v);
		v[0].iov_base = hdr;
		v[0].iov_len = t->hdr_len;
		out = v;
		total += t->hdr_len;
	} else if (t->framing == TUN_FRAMING_AF4) {
		uint8_t first = 0;
		int rc;

		for (i = 0; i < iovcnt; i++) {
			if (iov[i].iov_len) {
				first = *(const uint8_t *)iov[i].iov_base;
				break;
			}
		}
		rc = tun_frame_af4_encode(hdr, first, AF_INET, AF_INET6);
		if (rc)
			return rc;
		v[0].iov_base = hdr;
		v[0].iov_len = TUN_FRAME_AF4_LEN;
		memcpy(&v[1], iov, (size_t)iovcnt * sizeof(*iov));
		out = v;
		outcnt = iovcnt + 1;
		total += TUN_FRAME_AF4_LEN;
	}
	do {
		n = writev(t->fd, out, outcnt);
	} while (n < 0 && errno == EINTR);
	/* A full utun input queue shows up as ENOBUFS: the same as EAGAIN
	 * to the caller, who drops the packet. */
	if (n < 0)
		return (errno == EWOULDBLOCK || errno == ENOBUFS) ? -EAGAIN : -errno;
	/* A TUN takes a packet whole or not at all. */
	if ((size_t)n != total)
		return -EIO;
	return 0;
}

bool tun_gso(const struct tun *t)
{
	return t->gso_out;
}

const struct tun_write_stats *tun_write_stats(const struct tun *t)
{
	return &t->wstats;
}

/* Most iovec entries of one super-packet: the platform header, the
 * patched headers and the segments' payloads (64 KiB in segments of at
 * least 536 bytes is under 128; pbuf chains longer than one piece per
 * segment end the run earlier). */
#define GSO_MAX_IOV 256

/* One packet of a batch: its pieces, length and leading bytes. */
struct batch_pkt {
	const struct iovec *iov;
	int cnt;
	size_t total;
	size_t have;                  /* leading bytes at hand (at most TUN_GSO_HDR_MAX) */
	bool in_iov0;                 /* they are in iov[0] (lwIP's usual one piece) */
	uint8_t hdr[TUN_GSO_HDR_MAX]; /* else gathered here */
};

static void batch_pkt_load(struct batch_pkt *p, const struct iovec *iov, int cnt)
{
	int i;

	p->iov = iov;
	p->cnt = cnt;
	p->total = 0;
	for (i = 0; i < cnt; i++)
		p->total += iov[i].iov_len;
	p->have = p->total < sizeof(p->hdr) ? p->total : sizeof(p->hdr);
	p->in_iov0 = cnt > 0 && iov[0].iov_len >= p->have;
	if (p->in_iov0)
		return;
	p->have = 0;
	for (i = 0; i < cnt && p->have < sizeof(p->hdr); i++) {
		size_t k = iov[i].iov_len;
		size_t c = k < sizeof(p->hdr) - p->have ? k : sizeof(p->hdr) - p->have;

		if (c)
			memcpy(p->hdr + p->have, iov[i].iov_base, c);
		p->have += c;
	}
}

static const uint8_t *batch_pkt_hdr(const struct batch_pkt *p)
{
	return p->in_iov0 ? p->iov[0].iov_base : p->hdr;
}

/* Appends the pieces of p after its first skip bytes to v (at *n, room
 * for cap). false when they do not fit. */
static bool payload_iov(const struct batch_pkt *p, size_t skip, struct iovec *v, int *n, int cap)
{
	int i, k = *n;

	for (i = 0; i < p->cnt; i++) {
		if (skip >= p->iov[i].iov_len) {
			skip -= p->iov[i].iov_len;
			continue;
		}
		if (k == cap)
			return false;
		v[k].iov_base = (uint8_t *)p->iov[i].iov_base + skip;
		v[k++].iov_len = p->iov[i].iov_len - skip;
		skip = 0;
	}
	*n = k;
	return true;
}

static int write_one(struct tun *t, const struct batch_pkt *p)
{
	int r = tun_writev(t, p->iov, p->cnt);

	t->wstats.writes++;
	if (r < 0) {
		t->wstats.dropped++;
		if (r != -EAGAIN && log_enabled(LOG_DEBUG))
			log_debug("tun %s: write failed: %s", t->name, strerror(-r));
	}
	return r;
}

/* Copies len bytes of p from its byte skip on into dst. */
static void batch_pkt_copy(const struct batch_pkt *p, size_t skip, uint8_t *dst, size_t len)
{
	for (int i = 0; i < p->cnt && len > 0; i++) {
		size_t k = p->iov[i].iov_len, c;

		if (skip >= k) {
			skip -= k;
			continue;
		}
		c = k - skip < len ? k - skip : len;
		memcpy(dst, (const uint8_t *)p->iov[i].iov_base + skip, c);
		dst += c;
		len -= c;
		skip = 0;
	}
}

/* Writes p, cutting it into MTU-sized packets first when it is a TCP
 * segment longer than the MTU: lwIP sends those (stack_set_tso) while the
 * TUN takes GSO writes, and some may still be queued, or be resent, after
 * the TUN refused one. Returns the packets that did not go. */
static size_t write_cut(struct tun *t, const struct batch_pkt *p)
{
	struct tun_gso_seg seg;
	uint32_t wire;
	size_t lost = 0;

	if (p->total <= t->mtu || tun_gso_parse(batch_pkt_hdr(p), p->have, p->total, &seg) != 0 ||
	    seg.hlen >= t->mtu)
		return write_one(t, p) < 0;
	if (t->cut_buf == NULL && (t->cut_buf = malloc(t->mtu)) == NULL) {
		t->wstats.dropped++;
		return 1;
	}
	wire = t->mtu - seg.hlen;
	for (uint32_t off = 0, k = 0; off < seg.payload; off += wire, k++) {
		uint32_t len = seg.payload - off < wire ? seg.payload - off : wire;
		struct iovec v = { .iov_base = t->cut_buf, .iov_len = seg.hlen + (size_t)len };

		batch_pkt_copy(p, seg.hlen + (size_t)off, t->cut_buf + seg.hlen, len);
		tun_gso_cut(batch_pkt_hdr(p), &seg, off, len, (uint16_t)k, t->cut_buf);
		t->wstats.writes++;
		if (tun_writev(t, &v, 1) < 0) {
			t->wstats.dropped++;
			lost++;
		}
	}
	return lost;
}

/* One writev of v[0..n) (v[0] the platform header): 0 or -errno. */
static int write_gso(struct tun *t, const struct iovec *v, int n, size_t total)
{
	ssize_t w;

	do {
		w = writev(t->fd, v, n);
	} while (w < 0 && errno == EINTR);
	t->wstats.writes++;
	if (w < 0)
		return (errno == EWOULDBLOCK || errno == ENOBUFS) ? -EAGAIN : -errno;
	return (size_t)w == total ? 0 : -EIO;
}

size_t tun_write_batch(struct tun *t, const struct iovec *iov, const int *iovcnt, size_t n)
{
	struct batch_pkt cur, next;
	struct tun_gso_run run;
	struct tun_gso_seg seg;
	size_t i = 0, dropped = 0, off = 0;

	t->wstats.packets += n;
	if (n == 0)
		return 0;
	batch_pkt_load(&cur, iov, iovcnt[0]);
	off = (size_t)iovcnt[0];
	while (i < n) {
		struct iovec v[GSO_MAX_IOV];
		uint8_t hdr[TUN_HDR_MAX], sh[TUN_GSO_HDR_MAX];
		struct tun_gso_meta meta;
		size_t j = i + 1, first_off = off - (size_t)cur.cnt;
		int nv = 2;
		bool have_next = false;
		int r;

		if (!t->gso_out) {
			dropped += write_cut(t, &cur);
			goto advance;
		}
		if (tun_gso_parse(batch_pkt_hdr(&cur), cur.have, cur.total, &seg) != 0 ||
		    !payload_iov(&cur, seg.hlen, v, &nv, GSO_MAX_IOV)) {
			if (write_one(t, &cur) < 0)
				dropped++;
			goto advance;
		}
		tun_gso_start(&run, batch_pkt_hdr(&cur), &seg,
			      t->mtu > seg.hlen ? t->mtu - seg.hlen : 0);
		/* Extend the run while the next packet may join it. */
		while (j < n) {
			struct tun_gso_seg s2;
			int nv2 = nv;

			batch_pkt_load(&next, iov + off, iovcnt[j]);
			off += (size_t)iovcnt[j];
			have_next = true;
			if (tun_gso_parse(batch_pkt_hdr(&next), next.have, next.total, &s2) != 0 ||
			    !payload_iov(&next, s2.hlen, v, &nv2, GSO_MAX_IOV) ||
			    !tun_gso_append(&run, batch_pkt_hdr(&next), &s2, TUN_GSO_MAX_TOTAL))
				break;
			nv = nv2;
			have_next = false;
			j++;
		}
		tun_gso_finish(&run, sh, &meta);
		if (meta.type == TUN_GSO_NONE) {
			if (write_one(t, &cur) < 0)
				dropped++;
		} else {
			tun_platform_gso_hdr(t, &meta, hdr);
			v[0].iov_base = hdr;
			v[0].iov_len = t->hdr_len;
			v[1].iov_base = sh;
			v[1].iov_len = meta.hdr_len;
			r = write_gso(t, v, nv, t->hdr_len + (size_t)run.total);
			if (r == 0) {
				t->wstats.gso_writes++;
				t->wstats.gso_segs += meta.segs;
			} else if (r == -EAGAIN) {
				t->wstats.dropped += run.segs;
				dropped += run.segs;
			} else {
				/* The kernel cannot take super-packets after all:
				 * every packet goes alone from now on. */
				size_t k, o = first_off;

				log_warn("tun %s: GSO write refused (%s): writing segments "
					 "one by one",
					 t->name, strerror(-r));
				t->gso_out = false;
				for (k = i; k < j; k++) {
					struct batch_pkt one;

					batch_pkt_load(&one, iov + o, iovcnt[k]);
					o += (size_t)iovcnt[k];
					dropped += write_cut(t, &one);
				}
			}
		}
		i = j;
		if (i < n) {
			if (have_next) {
				cur = next;
			} else {
				batch_pkt_load(&cur, iov + off, iovcnt[i]);
				off += (size_t)iovcnt[i];
			}
		}
		continue;
	advance:
		i++;
		if (i < n) {
			batch_pkt_load(&cur, iov + off, iovcnt[i]);
			off += (size_t)iovcnt[i];
		}
	}
	return dropped;
}

void tun_close(struct tun *t)
{
	if (!t)
		return;
	if (t->fd >= 0)
		close(t->fd);
	free(t->cut_buf);
	free(t);
}
