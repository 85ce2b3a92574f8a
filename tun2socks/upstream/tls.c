#include "tun2socks/upstream/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <psa/crypto.h>

#include "tun2socks/base/log.h"

static const char *const system_ca_paths[] = {
	"/etc/ssl/certs/ca-certificates.crt", /* Debian, Ubuntu, Arch */
	"/etc/pki/tls/certs/ca-bundle.crt",   /* Red Hat, Fedora */
	"/etc/ssl/cert.pem",                  /* macOS, Alpine, BSDs */
};

struct tls_cfg {
	/* conf points at drbg and ca: the struct is heap-allocated and never
	 * moves. */
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	bool skip_verify;
	size_t ip_len; /* 4 or 16 when name is an IP literal, else 0 */
	uint8_t ip[16];
	char name[256]; /* server name; an IPv6 literal without brackets */
	char ca_path[1024];
};

enum tls_state { TLS_HANDSHAKE, TLS_OPEN, TLS_FAILED };

struct tls_conn {
	mbedtls_ssl_context ssl;
	struct tls_cfg *cfg;
	struct stream lower;
	enum tls_state state;
	int err_code;         /* what every call returns once TLS_FAILED */
	int lower_err;        /* -errno the lower stream failed with */
	const char *lower_op; /* "send to" / "receive from", for lower_err */
	bool lower_eof;
	/* STREAM_WANT_* each of these waits for since its last -EAGAIN. */
	int hs_want, rd_want, wr_want, close_want;
	/* Bytes of a write that returned -EAGAIN after mbedTLS sealed them in
	 * a record: the retry reports them written once the record is out. */
	size_t wr_sealed;
	/* A read left a record (an alert refusing TLS 1.2 renegotiation) in
	 * mbedTLS's output buffer that the socket did not take. It must be
	 * flushed before the next write: mbedtls_ssl_write() would flush it
	 * and report the caller's bytes as written without sending them. */
	bool alert_unsent;
	bool peer_closed;  /* close_notify received */
	bool closing;      /* tls_conn_close() was called: no more writes */
	bool close_sealed; /* our close_notify is in the output buffer */
	bool close_done;   /* ... and on the wire */
	char err[320];
};

const char *tls_system_ca_path(void)
{
	for (size_t i = 0; i < sizeof(system_ca_paths) / sizeof(system_ca_paths[0]); i++)
		if (access(system_ca_paths[i], R_OK) == 0)
			return system_ca_paths[i];
	return NULL;
}

static int set_err(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int set_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* Fills cfg->name and, for an IP literal, cfg->ip. Returns 0 or -EINVAL. */
static int name_parse(struct tls_cfg *cfg, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	bool bracketed = n >= 2 && s[0] == '[' && s[n - 1] == ']';

	if (bracketed) {
		s++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(cfg->name))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return -EINVAL;
	memcpy(cfg->name, s, n);
	cfg->name[n] = '\0';
	if (!bracketed && inet_pton(AF_INET, cfg->name, cfg->ip) == 1)
		cfg->ip_len = 4;
	else if (inet_pton(AF_INET6, cfg->name, cfg->ip) == 1)
		cfg->ip_len = 16;
	else if (bracketed)
		return -EINVAL;
	return 0;
}

int tls_cfg_create(const struct tls_opts *opts, struct tls_cfg **out, char *err, size_t errlen)
{
	static const char pers[] = "tun2socks tls client";
	struct tls_cfg *cfg;
	char why[128];
	const char *ca;
	int r, ret;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return set_err(err, errlen, -ENOMEM, "out of memory");
	/* Everything initialised first: tls_cfg_free() undoes any prefix. */
	mbedtls_ssl_config_init(&cfg->conf);
	mbedtls_x509_crt_init(&cfg->ca);
	mbedtls_entropy_init(&cfg->entropy);
	mbedtls_ctr_drbg_init(&cfg->drbg);
	cfg->skip_verify = opts->skip_verify;

	if (name_parse(cfg, opts->server_name) < 0) {
		r = set_err(err, errlen, -EINVAL,
			    "TLS server name must be a host name or IP literal of 1-255 "
			    "printable bytes");
		goto fail;
	}
	if (psa_crypto_init() != PSA_SUCCESS) {
		r = set_err(err, errlen, -EIO, "PSA crypto initialisation failed");
		goto fail;
	}
	ret = mbedtls_ctr_drbg_seed(&cfg->drbg, mbedtls_entropy_func, &cfg->entropy,
				    (const unsigned char *)pers, sizeof(pers) - 1);
	if (ret != 0) {
		mbedtls_strerror(ret, why, sizeof(why));
		r = set_err(err, errlen, -EIO, "cannot seed the TLS random generator: %s", why);
		goto fail;
	}
	if (!cfg->skip_verify) {
		ca = opts->ca_file && opts->ca_file[0] ? opts->ca_file : tls_system_ca_path();
		if (!ca) {
			r = set_err(err, errlen, -ENOENT,
				    "no system CA bundle (looked for %s, %s, %s): set a CA file "
				    "or skip certificate verification",
				    system_ca_paths[0], system_ca_paths[1], system_ca_paths[2]);
			goto fail;
		}
		if (strlen(ca) >= sizeof(cfg->ca_path)) {
			r = set_err(err, errlen, -EINVAL, "CA file name too long");
			goto fail;
		}
		strcpy(cfg->ca_path, ca);
		/* A bundle may hold certificates mbedTLS cannot parse (ret >
		 * 0 counts them); the others still count. */
		ret = mbedtls_x509_crt_parse_file(&cfg->ca, ca);
		if (ret < 0) {
			mbedtls_strerror(ret, why, sizeof(why));
			r = set_err(err, errlen, -EIO, "CA file %s: %s", ca, why);
			goto fail;
		}
	}
	ret = mbedtls_ssl_config_defaults(&cfg->conf, MBEDTLS_SSL_IS_CLIENT,
					  MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
	if (ret != 0) {
		mbedtls_strerror(ret, why, sizeof(why));
		r = set_err(err, errlen, -EIO, "TLS configuration failed: %s", why);
		goto fail;
	}
	mbedtls_ssl_conf_rng(&cfg->conf, mbedtls_ctr_drbg_random, &cfg->drbg);
	mbedtls_ssl_conf_min_tls_version(&cfg->conf, MBEDTLS_SSL_VERSION_TLS1_2);
	mbedtls_ssl_conf_max_tls_version(&cfg->conf, MBEDTLS_SSL_VERSION_TLS1_3);
	if (cfg->skip_verify) {
		mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_NONE);
	} else {
		mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
		mbedtls_ssl_conf_ca_chain(&cfg->conf, &cfg->ca, NULL);
	}
	*out = cfg;
	return 0;
fail:
	tls_cfg_free(cfg);
	return r;
}

void tls_cfg_free(struct tls_cfg *cfg)
{
	if (!cfg)
		return;
	mbedtls_ssl_config_free(&cfg->conf);
	mbedtls_x509_crt_free(&cfg->ca);
	mbedtls_ctr_drbg_free(&cfg->drbg);
	mbedtls_entropy_free(&cfg->entropy);
	free(cfg);
}

const char *tls_cfg_ca_path(const struct tls_cfg *cfg)
{
	return cfg->ca_path;
}

/* --- per connection ------------------------------------------------------ */

static const char *const state_name[] = {
	[TLS_HANDSHAKE] = "HANDSHAKE",
	[TLS_OPEN] = "OPEN",
	[TLS_FAILED] = "FAILED",
};

/* The one place the state changes. */
static void tls_set_state(struct tls_conn *c, enum tls_state next)
{
	if (next == TLS_OPEN)
		log_debug("tls %s: %s -> %s (%s, %s)", c->cfg->name, state_name[c->state],
			  state_name[next], mbedtls_ssl_get_version(&c->ssl),
			  mbedtls_ssl_get_ciphersuite(&c->ssl));
	else
		log_debug("tls %s: %s -> %s%s%s", c->cfg->name, state_name[c->state],
			  state_name[next], c->err[0] ? ": " : "", c->err);
	c->state = next;
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct tls_conn *c = ctx;
	ssize_t n = c->lower.write(c->lower.ctx, buf, len > INT_MAX ? INT_MAX : len);

	if (n == -EAGAIN)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	if (n <= 0) {
		c->lower_err = n < 0 ? (int)n : -EIO;
		c->lower_op = "send to";
		return MBEDTLS_ERR_NET_SEND_FAILED;
	}
	return (int)n;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct tls_conn *c = ctx;
	ssize_t n = c->lower.read(c->lower.ctx, buf, len > INT_MAX ? INT_MAX : len);

	if (n == -EAGAIN)
		return MBEDTLS_ERR_SSL_WANT_READ;
	if (n == 0) {
		c->lower_eof = true;
		return 0; /* mbedTLS turns it into MBEDTLS_ERR_SSL_CONN_EOF */
	}
	if (n < 0) {
		c->lower_err = (int)n;
		c->lower_op = "receive from";
		return MBEDTLS_ERR_NET_RECV_FAILED;
	}
	return (int)n;
}

/* "certificate verify failed: <reason>[; <reason>...]" from the verify
 * flags, one mbedTLS sentence per flag, the name we expected after a name
 * mismatch. */
static void verify_text(struct tls_conn *c, uint32_t flags)
{
	const char *sep = ": ";
	size_t off;
	int n;

	n = snprintf(c->err, sizeof(c->err), "certificate verify failed");
	off = (size_t)n;
	for (uint32_t bit = 1; bit && off < sizeof(c->err); bit <<= 1) {
		char line[128];
		size_t l;

		if (!(flags & bit))
			continue;
		n = mbedtls_x509_crt_verify_info(line, sizeof(line), "", bit);
		if (n <= 0)
			continue;
		l = strcspn(line, "\n");
		line[l] = '\0';
		n = snprintf(c->err + off, sizeof(c->err) - off, "%s%s", sep, line);
		off += n > 0 ? (size_t)n : 0;
		sep = "; ";
		if (bit == MBEDTLS_X509_BADCERT_CN_MISMATCH && off < sizeof(c->err)) {
			n = snprintf(c->err + off, sizeof(c->err) - off, " (expected \"%s\")",
				     c->cfg->name);
			off += n > 0 ? (size_t)n : 0;
		}
	}
}

/* Records why mbedTLS returned ret and fails the connection for good;
 * returns the errno every later call gets. */
static int tls_fail(struct tls_conn *c, int ret)
{
	bool hs = c->state == TLS_HANDSHAKE;
	uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);
	char why[128];

	if (c->lower_err) {
		c->err_code = c->lower_err;
		snprintf(c->err, sizeof(c->err), "%s%s proxy failed: %s",
			 hs ? "TLS handshake: " : "", c->lower_op, strerror(-c->lower_err));
	} else if ((ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED ||
		    ret == MBEDTLS_ERR_SSL_BAD_CERTIFICATE) &&
		   flags != 0 && flags != UINT32_MAX) {
		c->err_code = -EACCES;
		verify_text(c, flags);
	} else if (ret == MBEDTLS_ERR_SSL_CONN_EOF || c->lower_eof) {
		c->err_code = -ECONNRESET;
		snprintf(c->err, sizeof(c->err), "%s",
			 hs ? "proxy closed the connection during the TLS handshake"
			    : "proxy closed the connection without TLS close_notify");
	} else if (ret == MBEDTLS_ERR_SSL_ALLOC_FAILED) {
		c->err_code = -ENOMEM;
		snprintf(c->err, sizeof(c->err), "out of memory in TLS");
	} else {
		c->err_code = -EPROTO;
		mbedtls_strerror(ret, why, sizeof(why));
		snprintf(c->err, sizeof(c->err), "TLS %s failed: %s (-0x%04x)",
			 hs ? "handshake" : "connection", why, (unsigned)-ret);
	}
	tls_set_state(c, TLS_FAILED);
	return c->err_code;
}

/* The IP literal we connect to must be in the leaf certificate: in an
 * iPAddress SAN, or (as mbedTLS matches names) a dNSName SAN or, without
 * SANs, a CN that spells it. */
static bool crt_has_ip(const mbedtls_x509_crt *crt, const struct tls_cfg *cfg)
{
	size_t nlen = strlen(cfg->name);

	if (mbedtls_x509_crt_has_ext_type(crt, MBEDTLS_X509_EXT_SUBJECT_ALT_NAME)) {
		for (const mbedtls_x509_sequence *s = &crt->subject_alt_names; s; s = s->next) {
			int tag = s->buf.tag & MBEDTLS_ASN1_TAG_VALUE_MASK;

			if (tag == MBEDTLS_X509_SAN_IP_ADDRESS && s->buf.len == cfg->ip_len &&
			    memcmp(s->buf.p, cfg->ip, cfg->ip_len) == 0)
				return true;
			if (tag == MBEDTLS_X509_SAN_DNS_NAME && s->buf.len == nlen &&
			    strncasecmp((const char *)s->buf.p, cfg->name, nlen) == 0)
				return true;
		}
		return false;
	}
	for (const mbedtls_x509_name *n = &crt->subject; n; n = n->next)
		if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0 && n->val.len == nlen &&
		    strncasecmp((const char *)n->val.p, cfg->name, nlen) == 0)
			return true;
	return false;
}

/* Verify callback, set only for IP literals (mbedTLS is given no name to
 * check then, so that it sends no SNI). */
static int verify_ip(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct tls_conn *c = ctx;

	if (depth == 0 && !crt_has_ip(crt, c->cfg))
		*flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
	return 0;
}

struct tls_conn *tls_conn_create(struct tls_cfg *cfg, const struct stream *lower)
{
	struct tls_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	mbedtls_ssl_init(&c->ssl);
	c->cfg = cfg;
	c->lower = *lower;
	c->state = TLS_HANDSHAKE;
	if (mbedtls_ssl_setup(&c->ssl, &cfg->conf) != 0)
		goto fail;
	/* NULL still counts as "hostname set" for mbedTLS >= 3.6.3's check,
	 * and means: no SNI, no name check (verify_ip does it). */
	if (mbedtls_ssl_set_hostname(&c->ssl, cfg->ip_len ? NULL : cfg->name) != 0)
		goto fail;
	if (cfg->ip_len && !cfg->skip_verify)
		mbedtls_ssl_set_verify(&c->ssl, verify_ip, c);
	mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
	return c;
fail:
	tls_conn_free(c);
	return NULL;
}

void tls_conn_free(struct tls_conn *c)
{
	if (!c)
		return;
	mbedtls_ssl_free(&c->ssl);
	free(c);
}

const char *tls_conn_error(const struct tls_conn *c)
{
	return c->err;
}

static int want_of(int ret)
{
	return ret == MBEDTLS_ERR_SSL_WANT_WRITE ? STREAM_WANT_WRITE : STREAM_WANT_READ;
}

static bool is_want(int ret)
{
	return ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE;
}

int tls_conn_handshake(struct tls_conn *c)
{
	int ret;

	if (c->state == TLS_OPEN)
		return STREAM_DONE;
	if (c->state == TLS_FAILED)
		return c->err_code;
	ret = mbedtls_ssl_handshake(&c->ssl);
	if (is_want(ret)) {
		c->hs_want = want_of(ret);
		return c->hs_want;
	}
	c->hs_want = 0;
	if (ret != 0)
		return tls_fail(c, ret);
	tls_set_state(c, TLS_OPEN);
	return STREAM_DONE;
}

/* Sends the record alert_unsent stands for: 0, a WANT code, or an error.
 * There is no public flush; mbedtls_ssl_send_alert_message() flushes
 * pending output and returns without adding an alert, and output is
 * pending whenever alert_unsent is set (only this file sends). */
static int flush_alert(struct tls_conn *c)
{
	int ret;

	if (!c->alert_unsent)
		return 0;
	ret = mbedtls_ssl_send_alert_message(&c->ssl, MBEDTLS_SSL_ALERT_LEVEL_WARNING,
					     MBEDTLS_SSL_ALERT_MSG_NO_RENEGOTIATION);
	if (ret == 0)
		c->alert_unsent = false;
	return ret;
}

static ssize_t tio_read(void *ctx, void *buf, size_t len)
{
	struct tls_conn *c = ctx;
	int ret;

	if (c->state == TLS_FAILED)
		return c->err_code;
	if (c->state != TLS_OPEN)
		return -ENOTCONN;
	if (c->peer_closed)
		return 0;
	if (len == 0)
		return -EINVAL;
	ret = flush_alert(c);
	if (is_want(ret)) {
		c->rd_want = want_of(ret);
		return -EAGAIN;
	}
	if (ret != 0)
		return tls_fail(c, ret);
	for (;;) {
		ret = mbedtls_ssl_read(&c->ssl, buf, len > INT_MAX ? INT_MAX : len);
		if (ret > 0) {
			c->rd_want = 0;
			return ret;
		}
		if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
			continue; /* TLS 1.3 ticket: we never resume */
		if (is_want(ret)) {
			/* A read only writes to send an alert. */
			if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
				c->alert_unsent = true;
			c->rd_want = want_of(ret);
			return -EAGAIN;
		}
		c->rd_want = 0;
		if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
			c->peer_closed = true;
			log_debug("tls %s: close_notify received", c->cfg->name);
			return 0;
		}
		return tls_fail(c, ret);
	}
}

static ssize_t tio_write(void *ctx, const void *buf, size_t len)
{
	struct tls_conn *c = ctx;
	int ret, max;

	if (c->state == TLS_FAILED)
		return c->err_code;
	if (c->state != TLS_OPEN)
		return -ENOTCONN;
	if (c->closing)
		return -EPIPE;
	if (len == 0)
		return 0;
	ret = flush_alert(c);
	if (is_want(ret)) {
		c->wr_want = want_of(ret);
		return -EAGAIN;
	}
	if (ret != 0)
		return tls_fail(c, ret);
	if (c->wr_sealed) {
		if (len < c->wr_sealed)
			return -EINVAL; /* the caller took back sealed bytes */
		len = c->wr_sealed;
	} else {
		max = mbedtls_ssl_get_max_out_record_payload(&c->ssl);
		if (max <= 0)
			return tls_fail(c, max < 0 ? max : MBEDTLS_ERR_SSL_INTERNAL_ERROR);
		if (len > (size_t)max)
			len = (size_t)max;
	}
	ret = mbedtls_ssl_write(&c->ssl, buf, len);
	if (ret > 0) {
		c->wr_sealed = 0;
		c->wr_want = 0;
		return ret;
	}
	if (is_want(ret)) {
		c->wr_sealed = len;
		c->wr_want = want_of(ret);
		return -EAGAIN;
	}
	return tls_fail(c, ret);
}

static int tio_wants(void *ctx)
{
	return tls_conn_wants(ctx);
}

static size_t tio_pending(void *ctx)
{
	return tls_conn_pending(ctx);
}

/* close_notify, best effort (a record that cannot go out now is left),
 * then the lower stream's own shutdown: the FIN ends our direction
 * either way. */
static int tio_shutdown(void *ctx)
{
	struct tls_conn *c = ctx;

	tls_conn_close(c);
	return stream_shutdown(&c->lower);
}

struct stream tls_conn_io(struct tls_conn *c)
{
	return (struct stream){
		.read = tio_read,
		.write = tio_write,
		.ctx = c,
		.wants = tio_wants,
		.pending = tio_pending,
		.shutdown = tio_shutdown,
	};
}

int tls_conn_wants(const struct tls_conn *c)
{
	return c->hs_want | c->rd_want | c->wr_want | c->close_want;
}

size_t tls_conn_pending(const struct tls_conn *c)
{
	/* Bytes the lower stream holds (TLS over a proxy chain's TLS hop)
	 * are readable without the socket too. */
	return (c->state == TLS_OPEN ? mbedtls_ssl_get_bytes_avail(&c->ssl) : 0) +
	       stream_pending(&c->lower);
}

const char *tls_conn_version(const struct tls_conn *c)
{
	return c->state == TLS_OPEN ? mbedtls_ssl_get_version(&c->ssl) : "";
}

int tls_conn_close(struct tls_conn *c)
{
	int ret;

	if (c->state != TLS_OPEN || c->close_done)
		return 0;
	c->closing = true;
	for (;;) {
		/* With output pending, the call below only flushes it (see
		 * flush_alert); the alert is sealed by the call after. */
		bool other = !c->close_sealed && (c->wr_sealed || c->alert_unsent);

		ret = mbedtls_ssl_close_notify(&c->ssl);
		if (is_want(ret)) {
			if (!other)
				c->close_sealed = true;
			c->close_want = want_of(ret);
			return c->close_want;
		}
		c->close_want = 0;
		if (ret != 0)
			return tls_fail(c, ret);
		if (other) {
			c->wr_sealed = 0;
			c->alert_unsent = false;
			continue;
		}
		c->close_done = true;
		log_debug("tls %s: close_notify sent", c->cfg->name);
		return 0;
	}
}
