#include "resolver/domain_match.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tun2socks/base/label_trie.h"

/* The set is a label trie (label_trie.h) over labels read from the right
 * (TLD first). A pattern "a.*.example.com" is the path com -> example ->
 * * -> a, and its last node carries flags:
 *   NODE_EXACT  a domain that ends exactly at this node matches;
 *   NODE_SUB    a domain with at least one more label matches (the "."
 *               and "+." markers; "+." sets both flags).
 * Labels are lower case, 1..63 bytes of the host name set; a "*" label is
 * only ever reached through its parent's star edge.
 */

enum { NODE_EXACT = 1, NODE_SUB = 2 };
enum { NAME_MAX_LEN = 253, LABEL_MAX_LEN = 63, LABELS_MAX = (NAME_MAX_LEN + 1) / 2 };

struct domain_match {
	struct label_trie trie; /* per-node data: uint8_t flags */
};

static uint8_t *node_flags(const struct domain_match *m, uint32_t node)
{
	return label_trie_data(&m->trie, node);
}

static bool label_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Lower-cases s[0, len) into buf and splits it into labels (left to right).
 * star: whether a label may be exactly "*". Returns the number of labels,
 * or -EINVAL if the name is malformed (see domain_match.h). */
static int split_name(const char *s, size_t len, bool star, char *buf,
		      struct label_trie_label *labels)
{
	size_t start = 0;
	int n = 0;

	if (len == 0 || len > NAME_MAX_LEN)
		return -EINVAL;
	for (size_t i = 0; i <= len; i++) {
		size_t llen;

		if (i < len && s[i] != '.') {
			buf[i] = lower(s[i]);
			continue;
		}
		llen = i - start;
		if (llen == 0 || llen > LABEL_MAX_LEN)
			return -EINVAL;
		if (!(star && llen == 1 && buf[start] == '*')) {
			for (size_t j = start; j < i; j++)
				if (!label_char_ok(buf[j]))
					return -EINVAL;
		}
		labels[n].s = buf + start;
		labels[n].len = (uint32_t)llen;
		labels[n].hash = label_trie_hash(buf + start, llen);
		n++;
		if (i < len)
			buf[i] = '.';
		start = i + 1;
	}
	return n;
}

/* strlen() bounded to max + 1, so an absurd caller string is not walked
 * to its end; the result then fails every length check. */
static size_t bounded_len(const char *s, size_t max)
{
	size_t n = 0;

	while (n <= max && s[n])
		n++;
	return n;
}

int domain_match_create(struct domain_match **out)
{
	struct domain_match *m;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	if (label_trie_init(&m->trie, sizeof(uint8_t)) != 0) {
		free(m);
		return -ENOMEM;
	}
	*out = m;
	return 0;
}

int domain_match_add(struct domain_match *m, const char *pattern)
{
	struct label_trie_label labels[LABELS_MAX];
	char buf[NAME_MAX_LEN];
	uint8_t flags = NODE_EXACT;
	bool created;
	size_t len = bounded_len(pattern, NAME_MAX_LEN + 3);
	uint32_t node = 0;
	int n;

	if (len > 0 && pattern[len - 1] == '.')
		len--;
	if (len >= 2 && pattern[0] == '+' && pattern[1] == '.') {
		flags = NODE_EXACT | NODE_SUB;
		pattern += 2;
		len -= 2;
	} else if (len >= 1 && pattern[0] == '.') {
		flags = NODE_SUB;
		pattern++;
		len--;
	}
	n = split_name(pattern, len, true, buf, labels);
	if (n < 0)
		return n;
	for (int i = n - 1; i >= 0; i--) {
		/* A failure leaves at worst flag-less nodes, which match
		 * nothing. */
		node = label_trie_child(&m->trie, node, &labels[i], &created);
		if (!node)
			return -ENOMEM;
	}
	/* Last: until here the set matched exactly what it did before. */
	*node_flags(m, node) |= flags;
	return 0;
}

/* Whether labels[0, left) (left of the part already matched) completes a
 * match from node. Recursion depth <= number of labels (<= 127). */
static bool match_from(const struct domain_match *m, uint32_t node,
		       const struct label_trie_label *labels, int left)
{
	uint8_t flags = *node_flags(m, node);
	uint32_t c, star = m->trie.nodes[node].star;

	if (left == 0)
		return flags & NODE_EXACT;
	if (flags & NODE_SUB)
		return true;
	c = label_trie_find(&m->trie, node, &labels[left - 1]);
	if (c && match_from(m, c, labels, left - 1))
		return true;
	return star && match_from(m, star, labels, left - 1);
}

bool domain_match_test(const struct domain_match *m, const char *domain)
{
	struct label_trie_label labels[LABELS_MAX];
	char buf[NAME_MAX_LEN];
	size_t len = bounded_len(domain, NAME_MAX_LEN + 1);
	int n;

	if (len > 0 && domain[len - 1] == '.')
		len--;
	n = split_name(domain, len, false, buf, labels);
	if (n < 0)
		return false;
	return match_from(m, 0, labels, n);
}

void domain_match_destroy(struct domain_match *m)
{
	if (!m)
		return;
	label_trie_free(&m->trie);
	free(m);
}

const char *const domain_match_fakeip_defaults[] = {
	/* Local names: only the LAN's resolver or mDNS knows them, and a
	 * fake address would send the connection to the proxy. */
	"localhost",
	"+.localhost",
	"+.lan",
	"+.local",
	"+.localdomain",
	"+.home.arpa",
	/* NTP: clients often check the answer or talk UDP before any proxy
	 * is usable (clock skew breaks TLS to the proxy itself). */
	"time.*.com",
	"time.*.gov",
	"time.*.apple.com",
	"time1.*.com",
	"time2.*.com",
	"time3.*.com",
	"time4.*.com",
	"time5.*.com",
	"time6.*.com",
	"time7.*.com",
	"ntp.*",
	"ntp.*.com",
	"ntp1.*.com",
	"ntp2.*.com",
	"ntp3.*.com",
	"+.ntp.org",
	"+.ntp.org.cn",
	/* STUN: NAT discovery needs the server's real address. */
	"+.stun.*.*",
	"+.stun.*.*.*",
	"+.stun.*.*.*.*",
	/* OS connectivity checks compare the answer with a known address
	 * (Windows NCSI expects 131.107.255.255 for dns.msftncsi.com). */
	"+.msftconnecttest.com",
	"+.msftncsi.com",
	NULL,
};
