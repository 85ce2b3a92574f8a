/* sniff_quic: a QUIC client's Initial packets, decrypted for the
 * ClientHello's server name (sniff_quic.h). Steps as in RFC 9001 §5:
 * keys from the DCID, header protection off, AES-128-GCM open, frames. */
#include "resolver/sniff_quic.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <mbedtls/aes.h>
#include <mbedtls/gcm.h>
#include <mbedtls/hkdf.h>
#include <mbedtls/md.h>

#define QUIC_V1 0x00000001u
#define QUIC_V2 0x6b3343cfu

struct quic_keys {
	uint8_t key[16], iv[12], hp[16];
};

/* RFC 9001 §5.2 and RFC 9369 §3.3.1. */
static const uint8_t salt_v1[20] = { 0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
				     0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a };
static const uint8_t salt_v2[20] = { 0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
				     0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9 };

void sniff_quic_init(struct sniff_quic *q)
{
	memset(q->have, 0, sizeof(q->have));
	q->dcid_len = 0;
	q->packets = 0;
}

/* A variable-length integer (RFC 9000 §16). */
static int varint(const uint8_t *p, size_t n, size_t *off, uint64_t *v)
{
	size_t k;

	if (*off >= n)
		return -EINVAL;
	k = (size_t)1 << (p[*off] >> 6);
	if (n - *off < k)
		return -EINVAL;
	*v = p[*off] & 0x3f;
	for (size_t i = 1; i < k; i++)
		*v = *v << 8 | p[*off + i];
	*off += k;
	return 0;
}

/* HKDF-Expand-Label(secret, label, "", len) of TLS 1.3 (RFC 8446 §7.1). */
static int expand_label(const uint8_t secret[32], const char *label, uint8_t *out, size_t len)
{
	uint8_t info[2 + 1 + 6 + 32 + 1];
	size_t ll = strlen(label), n = 0;

	if (ll > 32)
		return -EINVAL;
	info[n++] = (uint8_t)(len >> 8);
	info[n++] = (uint8_t)len;
	info[n++] = (uint8_t)(6 + ll);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, ll);
	n += ll;
	info[n++] = 0; /* empty context */
	return mbedtls_hkdf_expand(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), secret, 32, info,
				   n, out, len) == 0
		       ? 0
		       : -EINVAL;
}

static int derive_keys(uint32_t version, const uint8_t *dcid, size_t dcid_len, struct quic_keys *k)
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	bool v2 = version == QUIC_V2;
	uint8_t initial[32], client[32];
	int r = -EINVAL;

	if (md == NULL ||
	    mbedtls_hkdf_extract(md, v2 ? salt_v2 : salt_v1, 20, dcid, dcid_len, initial) != 0)
		goto out;
	if (expand_label(initial, "client in", client, 32) < 0 ||
	    expand_label(client, v2 ? "quicv2 key" : "quic key", k->key, 16) < 0 ||
	    expand_label(client, v2 ? "quicv2 iv" : "quic iv", k->iv, 12) < 0 ||
	    expand_label(client, v2 ? "quicv2 hp" : "quic hp", k->hp, 16) < 0)
		goto out;
	r = 0;
out:
	memset(initial, 0, sizeof(initial));
	memset(client, 0, sizeof(client));
	return r;
}

static int hp_mask(const uint8_t hp[16], const uint8_t sample[16], uint8_t mask[16])
{
	mbedtls_aes_context aes;
	int r;

	mbedtls_aes_init(&aes);
	r = mbedtls_aes_setkey_enc(&aes, hp, 128);
	if (r == 0)
		r = mbedtls_aes_crypt_ecb(&aes, MBEDTLS_AES_ENCRYPT, sample, mask);
	mbedtls_aes_free(&aes);
	return r == 0 ? 0 : -EINVAL;
}

static int gcm_open(const struct quic_keys *k, const uint8_t nonce[12], const uint8_t *aad,
		    size_t aad_len, const uint8_t *ct, size_t ct_len, const uint8_t tag[16],
		    uint8_t *out)
{
	mbedtls_gcm_context gcm;
	int r;

	mbedtls_gcm_init(&gcm);
	r = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, k->key, 128);
	if (r == 0)
		r = mbedtls_gcm_auth_decrypt(&gcm, ct_len, nonce, 12, aad, aad_len, tag, 16, ct,
					     out);
	mbedtls_gcm_free(&gcm);
	return r == 0 ? 0 : -EINVAL;
}

/* Stores a CRYPTO frame's bytes at their offset. */
static int crypto_put(struct sniff_quic *q, uint64_t off, const uint8_t *data, uint64_t len)
{
	if (off > SNIFF_QUIC_CRYPTO_MAX || len > SNIFF_QUIC_CRYPTO_MAX - off)
		return -EINVAL; /* larger than any ClientHello we read */
	memcpy(q->crypto + off, data, (size_t)len);
	for (uint64_t i = off; i < off + len; i++)
		q->have[i / 8] |= (uint8_t)(1u << (i % 8));
	return 0;
}

/* The frames of one decrypted Initial: CRYPTO kept, PADDING, PING and ACK
 * skipped, anything else refused (a client's Initial carries no other). */
static int frames(struct sniff_quic *q, const uint8_t *p, size_t n)
{
	size_t off = 0;

	while (off < n) {
		uint64_t type, a, b, c, d;

		if (varint(p, n, &off, &type) < 0)
			return -EINVAL;
		switch (type) {
		case 0x00: /* PADDING */
		case 0x01: /* PING */
			break;
		case 0x02: /* ACK */
		case 0x03:
			if (varint(p, n, &off, &a) < 0 || varint(p, n, &off, &b) < 0 ||
			    varint(p, n, &off, &c) < 0 || varint(p, n, &off, &d) < 0)
				return -EINVAL;
			if (c > n)
				return -EINVAL;
			for (uint64_t i = 0; i < c; i++)
				if (varint(p, n, &off, &a) < 0 || varint(p, n, &off, &b) < 0)
					return -EINVAL;
			if (type == 0x03)
				for (int i = 0; i < 3; i++)
					if (varint(p, n, &off, &a) < 0)
						return -EINVAL;
			break;
		case 0x06: /* CRYPTO: offset, length, data */
			if (varint(p, n, &off, &a) < 0 || varint(p, n, &off, &b) < 0 || b > n - off)
				return -EINVAL;
			if (crypto_put(q, a, p + off, b) < 0)
				return -EINVAL;
			off += (size_t)b;
			break;
		default:
			return -EINVAL;
		}
	}
	return 0;
}

/* The first packet of p[0, n) if it is a client Initial: decrypted and its
 * frames taken in; *used is its size (the next coalesced packet follows). */
static int initial_packet(struct sniff_quic *q, const uint8_t *p, size_t n, size_t *used)
{
	uint8_t hdr[1024], mask[16], nonce[12], first;
	struct quic_keys k;
	uint32_t version;
	size_t off = 5, dcid_off, dcid_len, scid_len, pn_off, pn_len, ct_len;
	uint64_t tok_len, length, pn = 0;
	unsigned type;
	int r;

	*used = n;
	if (n < 7 || (p[0] & 0xc0) != 0xc0) /* long header, fixed bit */
		return -EINVAL;
	version = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
	type = (p[0] >> 4) & 3;
	if (!((version == QUIC_V1 && type == 0) || (version == QUIC_V2 && type == 1)))
		return -EINVAL;
	dcid_len = p[off++];
	if (dcid_len > 20 || n - off < dcid_len + 1)
		return -EINVAL;
	dcid_off = off;
	off += dcid_len;
	scid_len = p[off++];
	if (scid_len > 20 || n - off < scid_len)
		return -EINVAL;
	off += scid_len;
	if (varint(p, n, &off, &tok_len) < 0 || tok_len > n - off)
		return -EINVAL;
	off += (size_t)tok_len;
	if (varint(p, n, &off, &length) < 0 || length > n - off || length < 4 + 16)
		return -EINVAL;
	pn_off = off;
	*used = pn_off + (size_t)length;
	if (pn_off + 4 > sizeof(hdr) || length - 4 > SNIFF_QUIC_PKT_MAX)
		return -EINVAL;
	/* Every Initial of the first flight has the first one's DCID. */
	if (q->packets == 0) {
		memcpy(q->dcid, p + dcid_off, dcid_len);
		q->dcid_len = (uint8_t)dcid_len;
	} else if (dcid_len != q->dcid_len || memcmp(q->dcid, p + dcid_off, dcid_len) != 0) {
		return -EINVAL;
	}
	r = derive_keys(version, p + dcid_off, dcid_len, &k);
	if (r == 0)
		r = hp_mask(k.hp, p + pn_off + 4, mask);
	if (r < 0)
		return r;
	first = p[0] ^ (mask[0] & 0x0f);
	pn_len = (size_t)(first & 3) + 1;
	memcpy(hdr, p, pn_off + pn_len);
	hdr[0] = first;
	for (size_t i = 0; i < pn_len; i++) {
		hdr[pn_off + i] ^= mask[1 + i];
		pn = pn << 8 | hdr[pn_off + i];
	}
	memcpy(nonce, k.iv, 12);
	for (size_t i = 0; i < 8; i++)
		nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
	ct_len = (size_t)length - pn_len - 16;
	r = gcm_open(&k, nonce, hdr, pn_off + pn_len, p + pn_off + pn_len, ct_len,
		     p + pn_off + pn_len + ct_len, q->plain);
	memset(&k, 0, sizeof(k));
	if (r < 0)
		return r;
	q->packets++;
	return frames(q, q->plain, ct_len);
}

/* The ClientHello once the CRYPTO stream holds all of it from offset 0. */
static int crypto_hello(const struct sniff_quic *q, char *out, size_t cap)
{
	size_t have = 0, want;

	while (have < SNIFF_QUIC_CRYPTO_MAX && (q->have[have / 8] >> (have % 8) & 1))
		have++;
	if (have < 4)
		return SNIFF_NEED_MORE;
	if (q->crypto[0] != 1)
		return -EINVAL;
	want = 4 + ((size_t)q->crypto[1] << 16 | (size_t)q->crypto[2] << 8 | q->crypto[3]);
	if (want > SNIFF_QUIC_CRYPTO_MAX)
		return -EINVAL;
	if (have < want)
		return SNIFF_NEED_MORE;
	return sniff_client_hello(q->crypto, want, out, cap);
}

int sniff_quic(struct sniff_quic *q, const uint8_t *dgram, size_t len, char *out, size_t cap)
{
	size_t off = 0, used;
	bool any = false;
	int r;

	if (cap > 0)
		out[0] = '\0';
	/* Coalesced packets: Initials first (RFC 9000 §12.2), then others we
	 * cannot read and stop at. */
	while (len - off >= 7) {
		r = initial_packet(q, dgram + off, len - off, &used);
		if (r < 0)
			break;
		any = true;
		off += used;
	}
	if (!any)
		return -EINVAL;
	return crypto_hello(q, out, cap);
}
