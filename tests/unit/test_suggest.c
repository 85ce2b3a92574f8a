/* Unit tests for the did-you-mean helper (config/suggest.c). */
#include "config/suggest.h"
#include "test.h"

#include <string.h>

static size_t dist(const char *a, const char *b)
{
	return suggest_distance(a, strlen(a), b, strlen(b));
}

static void test_distance(void)
{
	char long_word[SUGGEST_WORD_MAX + 2];

	T_EQ_INT(dist("", ""), 0);
	T_EQ_INT(dist("", "abc"), 3);
	T_EQ_INT(dist("abc", ""), 3);
	T_EQ_INT(dist("abc", "abc"), 0);
	T_EQ_INT(dist("Server", "server"), 0); /* ASCII case folded */
	T_EQ_INT(dist("passwrd", "password"), 1);
	T_EQ_INT(dist("sever", "server"), 1);
	T_EQ_INT(dist("ab", "ba"), 1); /* adjacent swap: one edit */
	T_EQ_INT(dist("usrename", "username"), 1);
	T_EQ_INT(dist("kitten", "sitting"), 3);
	T_EQ_INT(dist("ca", "abc"), 3); /* OSA: a swapped pair is not edited again */
	T_EQ_INT(dist("DOMAIN-SUFIX", "domain-suffix"), 1);
	/* Not NUL-terminated: only len bytes count. */
	T_EQ_INT(suggest_distance("portXYZ", 4, "port", 4), 0);

	memset(long_word, 'a', sizeof(long_word) - 1);
	long_word[sizeof(long_word) - 1] = '\0';
	T_EQ_INT(dist(long_word, "a"), SUGGEST_WORD_MAX + 1);
	T_EQ_INT(dist("a", long_word), SUGGEST_WORD_MAX + 1);
	long_word[SUGGEST_WORD_MAX] = '\0';
	T_EQ_INT(dist(long_word, long_word), 0);
}

static const char *pick(const char *word, const char *const *cands, size_t n)
{
	struct suggest s;

	suggest_init(&s, word, strlen(word));
	suggest_add_list(&s, cands, n);
	return suggest_best(&s);
}

static void test_best(void)
{
	static const char *const keys[] = { "name",     "type",     "server", "port",
					    "username", "password", "tls",    "udp" };
	static const char *const types[] = { "DOMAIN", "DOMAIN-SUFFIX", "DOMAIN-KEYWORD", "IP-CIDR",
					     "SRC-IP-CIDR" };
	static const char *const tie[] = { "ax", "ay" };
	const size_t nk = sizeof(keys) / sizeof(keys[0]);
	char long_word[SUGGEST_WORD_MAX + 2];
	struct suggest s;

	T_EQ_STR(pick("passwrd", keys, nk), "password");
	T_EQ_STR(pick("sever", keys, nk), "server");
	T_EQ_STR(pick("Port", keys, nk), "port");
	T_EQ_STR(pick("usrname", keys, nk), "username");
	T_EQ_STR(pick("ud", keys, nk), "udp");
	T_EQ_STR(pick("DOMAIN-SUFIX", types, 5), "DOMAIN-SUFFIX");
	T_EQ_STR(pick("domain-keywrd", types, 5), "DOMAIN-KEYWORD");
	/* Threshold max(1, len / 3): too far is no suggestion at all. */
	T_CHECK(pick("tfo", keys, nk) == NULL);
	T_CHECK(pick("cipher", keys, nk) == NULL);
	T_CHECK(pick("GEOIP", types, 5) == NULL);
	T_CHECK(pick("", keys, nk) == NULL);
	T_CHECK(pick("passwrd", keys, 0) == NULL);
	/* Ties keep the earlier candidate. */
	T_EQ_STR(pick("ab", tie, 2), "ax");

	/* Several lists: the closest over all of them. */
	suggest_init(&s, "skip-cert-verfy", strlen("skip-cert-verfy"));
	suggest_add_list(&s, keys, nk);
	T_CHECK(suggest_best(&s) == NULL);
	suggest_add(&s, "skip-cert-verif"); /* 2 edits */
	T_EQ_STR(suggest_best(&s), "skip-cert-verif");
	suggest_add(&s, "skip-cert-verify"); /* 1 edit: closer wins */
	T_EQ_STR(suggest_best(&s), "skip-cert-verify");

	/* A word past SUGGEST_WORD_MAX gets nothing. */
	memset(long_word, 'p', sizeof(long_word) - 1);
	long_word[sizeof(long_word) - 1] = '\0';
	T_CHECK(pick(long_word, keys, nk) == NULL);
}

int main(void)
{
	T_RUN(test_distance);
	T_RUN(test_best);
	return test_summary();
}
