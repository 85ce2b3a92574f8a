/* Unit tests for rule-set files (config/ruleset.c). */
#include "config/ruleset.h"
#include "test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct ruleset *load(enum ruleset_behavior b, enum ruleset_format f, const char *text)
{
	struct ruleset *rs = NULL;
	struct conf_err err;
	char buf[700];
	int r = ruleset_load_buffer("s", b, f, f == RULESET_YAML ? "set.yaml" : "set.txt", text,
				    strlen(text), &rs, &err);

	if (r != 0) {
		conf_err_format(&err, buf, sizeof(buf));
		fprintf(stderr, "  unexpected error: %s\n", buf);
	}
	T_EQ_INT(r, 0);
	return rs;
}

/* Loads text expecting the formatted error want. */
static void load_err(enum ruleset_behavior b, enum ruleset_format f, const char *text,
		     const char *want)
{
	struct ruleset *rs = (struct ruleset *)1;
	struct conf_err err;
	char got[700];
	int r = ruleset_load_buffer("s", b, f, f == RULESET_YAML ? "set.yaml" : "set.txt", text,
				    strlen(text), &rs, &err);

	T_EQ_INT(r, -EINVAL);
	T_CHECK(rs == NULL);
	if (r != -EINVAL) {
		ruleset_free(rs);
		return;
	}
	conf_err_format(&err, got, sizeof(got));
	if (want[strlen(want) - 1] == '*') {
		if (strncmp(got, want, strlen(want) - 1) != 0)
			fprintf(stderr, "  got  %s\n  want %s\n", got, want);
		T_CHECK(strncmp(got, want, strlen(want) - 1) == 0);
	} else {
		T_EQ_STR(got, want);
	}
}

/* Loads text expecting one bad entry skipped with the note want (as
 * formatted, without "; entry skipped"), and kept entries loaded. */
static void load_skip(enum ruleset_behavior b, enum ruleset_format f, const char *text,
		      const char *want, size_t kept)
{
	struct ruleset *rs = NULL;
	struct conf_err err;
	char got[700], full[700];
	int r = ruleset_load_buffer("s", b, f, f == RULESET_YAML ? "set.yaml" : "set.txt", text,
				    strlen(text), &rs, &err);

	T_EQ_INT(r, 0);
	if (r != 0)
		return;
	T_EQ_INT(ruleset_skipped(rs), 1);
	T_EQ_INT(ruleset_count(rs), kept);
	T_EQ_INT(ruleset_note_count(rs), 1);
	if (ruleset_note(rs, 0)) {
		conf_err_format(ruleset_note(rs, 0), got, sizeof(got));
		snprintf(full, sizeof(full), "%s; entry skipped", want);
		T_EQ_STR(got, full);
	}
	ruleset_free(rs);
}

static void check_domain(const struct ruleset *rs, size_t i, const char *name, unsigned kind)
{
	size_t len;
	unsigned k;
	const char *s;

	T_CHECK(i < ruleset_count(rs));
	if (i >= ruleset_count(rs))
		return;
	s = ruleset_domain(rs, i, &len, &k);
	T_EQ_STR(s, name);
	T_EQ_INT(len, strlen(name));
	T_EQ_INT(k, kind);
}

static void test_names(void)
{
	enum ruleset_behavior b = 0;
	enum ruleset_format f = 0;

	T_EQ_INT(ruleset_behavior_from_name("domain", &b), 0);
	T_EQ_INT(b, RULESET_DOMAIN);
	T_EQ_INT(ruleset_behavior_from_name("ipcidr", &b), 0);
	T_EQ_INT(b, RULESET_IPCIDR);
	T_EQ_INT(ruleset_behavior_from_name("classical", &b), 0);
	T_EQ_INT(b, RULESET_CLASSICAL);
	T_EQ_INT(ruleset_behavior_from_name("Domain", &b), -EINVAL);
	T_EQ_INT(ruleset_format_from_name("yaml", &f), 0);
	T_EQ_INT(f, RULESET_YAML);
	T_EQ_INT(ruleset_format_from_name("text", &f), 0);
	T_EQ_INT(f, RULESET_TEXT);
	T_EQ_INT(ruleset_format_from_name("mrs", &f), 0);
	T_EQ_INT(f, RULESET_MRS);
}

static void test_domain(void)
{
	const unsigned self = RULESET_MATCH_SELF, sub = RULESET_MATCH_SUB;
	struct ruleset *rs;

	rs = load(RULESET_DOMAIN, RULESET_YAML,
		  "# Clash domain set\n"
		  "payload:\n"
		  "  - '+.Google.com'\n"
		  "  - \".blogger.com\"\n"
		  "  - books.itunes.apple.com.\n"
		  "  - '*.*.microsoft.com'\n"
		  "  - '*'\n");
	if (rs) {
		T_EQ_STR(ruleset_name(rs), "s");
		T_EQ_INT(ruleset_behavior(rs), RULESET_DOMAIN);
		T_EQ_INT(ruleset_count(rs), 5);
		check_domain(rs, 0, "google.com", self | sub);
		check_domain(rs, 1, "blogger.com", sub);
		check_domain(rs, 2, "books.itunes.apple.com", self);
		check_domain(rs, 3, "*.*.microsoft.com", self);
		check_domain(rs, 4, "*", self);
	}
	ruleset_free(rs);

	rs = load(RULESET_DOMAIN, RULESET_TEXT,
		  "\xef\xbb\xbf# comment\n"
		  "+.google.com\n"
		  "\n"
		  "  .blogger.com  \r\n"
		  "\t# indented comment\n"
		  "books.itunes.apple.com");
	if (rs) {
		T_EQ_INT(ruleset_count(rs), 3);
		check_domain(rs, 0, "google.com", self | sub);
		check_domain(rs, 1, "blogger.com", sub);
		check_domain(rs, 2, "books.itunes.apple.com", self);
	}
	ruleset_free(rs);

	/* Empty sets. */
	rs = load(RULESET_DOMAIN, RULESET_TEXT, "");
	if (rs)
		T_EQ_INT(ruleset_count(rs), 0);
	ruleset_free(rs);
	rs = load(RULESET_DOMAIN, RULESET_YAML, "payload:\n");
	if (rs)
		T_EQ_INT(ruleset_count(rs), 0);
	ruleset_free(rs);
	rs = load(RULESET_DOMAIN, RULESET_YAML, "payload: []\n");
	if (rs)
		T_EQ_INT(ruleset_count(rs), 0);
	ruleset_free(rs);

	/* Other keys are skipped, whatever they hold; flow style works. */
	rs = load(RULESET_DOMAIN, RULESET_YAML,
		  "name: x\nextra: {a: [1, {b: c}], d: e}\npayload: [a.com, '+.b.com']\n"
		  "more: [1]\n");
	if (rs) {
		T_EQ_INT(ruleset_count(rs), 2);
		check_domain(rs, 1, "b.com", self | sub);
	}
	ruleset_free(rs);
}

static void test_ipcidr(void)
{
	struct ruleset *rs;

	rs = load(RULESET_IPCIDR, RULESET_YAML,
		  "payload:\n  - '192.168.1.0/24'\n  - 2001:db8::1/32\n  - '10.1.2.3/8'\n");
	if (rs) {
		T_EQ_INT(ruleset_count(rs), 3);
		T_EQ_INT(ruleset_cidr(rs, 0)->family, 4);
		T_EQ_INT(ruleset_cidr(rs, 0)->plen, 24);
		T_EQ_INT(ruleset_cidr(rs, 1)->family, 6);
		T_EQ_INT(ruleset_cidr(rs, 1)->addr[15], 0);
		T_EQ_INT(ruleset_cidr(rs, 2)->addr[1], 0);
	}
	ruleset_free(rs);
	rs = load(RULESET_IPCIDR, RULESET_TEXT, "# x\n1.0.0.0/8\n::/0\n");
	if (rs)
		T_EQ_INT(ruleset_count(rs), 2);
	ruleset_free(rs);
}

static void test_classical(void)
{
	struct ruleset *rs;

	rs = load(RULESET_CLASSICAL, RULESET_YAML,
		  "payload:\n"
		  "  - DOMAIN-SUFFIX,google.com\n"
		  "  - 'IP-CIDR,127.0.0.0/8,no-resolve'\n"
		  "  - AND,((DOMAIN,a.com),(NETWORK,UDP))\n"
		  "  - DST-PORT,80\n");
	if (rs) {
		T_EQ_INT(ruleset_count(rs), 4);
		T_EQ_INT(ruleset_rule(rs, 0)->type, RULE_DOMAIN_SUFFIX);
		T_EQ_STR(ruleset_rule(rs, 0)->str, "google.com");
		T_CHECK(ruleset_rule(rs, 0)->target == NULL);
		T_EQ_STR(ruleset_rule(rs, 0)->pos.file, "set.yaml");
		T_EQ_INT(ruleset_rule(rs, 0)->pos.line, 2);
		T_EQ_INT(ruleset_rule(rs, 0)->pos.col, 5);
		T_CHECK(ruleset_rule(rs, 1)->no_resolve);
		T_EQ_INT(ruleset_rule(rs, 1)->pos.col, 6);
		T_EQ_INT(ruleset_rule(rs, 2)->type, RULE_AND);
		T_EQ_INT(ruleset_rule(rs, 3)->type, RULE_DST_PORT);
	}
	ruleset_free(rs);
	rs = load(RULESET_CLASSICAL, RULESET_TEXT,
		  "# c\nDOMAIN-KEYWORD,google\n  PROCESS-NAME,curl\n");
	if (rs) {
		T_EQ_INT(ruleset_count(rs), 2);
		T_EQ_INT(ruleset_rule(rs, 1)->pos.line, 3);
		T_EQ_INT(ruleset_rule(rs, 1)->pos.col, 3);
	}
	ruleset_free(rs);
}

static void test_errors(void)
{
	/* text */
	load_skip(RULESET_DOMAIN, RULESET_TEXT, "a.com\n  bad..x\n",
		  "set.txt:2:3: bad domain 'bad..x': empty label", 1);
	load_skip(RULESET_DOMAIN, RULESET_TEXT, "a.com\r\nb.com # comment\r\n",
		  "set.txt:2:1: bad domain 'b.com # comment': unexpected character "
		  "(a name holds letters, digits, '-', '_' and dots)",
		  1);
	load_skip(RULESET_DOMAIN, RULESET_TEXT, "+.\n", "set.txt:1:1: bad domain '+.': empty name",
		  0);
	load_skip(RULESET_DOMAIN, RULESET_TEXT, "x\na*.com\n",
		  "set.txt:2:1: bad domain 'a*.com': '*' must be a whole label", 1);
	load_skip(RULESET_IPCIDR, RULESET_TEXT, "1.2.3.0/24\n\n1.2.3.4\n",
		  "set.txt:3:1: bad CIDR '1.2.3.4': expected address/length", 1);
	load_skip(RULESET_IPCIDR, RULESET_TEXT, " 10.0.0.0/33",
		  "set.txt:1:2: bad CIDR '10.0.0.0/33': prefix length must be 0..32", 0);
	load_skip(RULESET_CLASSICAL, RULESET_TEXT, "DOMAIN,a.com\n  IN-TYPE,cn\n",
		  "set.txt:2:11: unknown inbound type 'cn': expected TUN, HTTP, HTTPS, "
		  "SOCKS, SOCKS4, SOCKS5, REDIR, TPROXY, TUNNEL, INNER or another of mihomo's "
		  "inbound types",
		  1);
	/* A target on a classical entry: kept, the target ignored (mihomo). */
	{
		struct ruleset *rs = load(RULESET_CLASSICAL, RULESET_TEXT,
					  "DOMAIN,a.com,Proxy\n*m-team*\nIP-CIDR,1.0.0.0/8,X\n");
		char got[700];

		if (rs) {
			T_EQ_INT(ruleset_count(rs), 2);
			T_EQ_INT(ruleset_skipped(rs), 1);
			T_EQ_INT(ruleset_note_count(rs), 3);
			conf_err_format(ruleset_note(rs, 0), got, sizeof(got));
			T_EQ_STR(got, "set.txt:1:14: 'Proxy' ignored (rule-set entries take no "
				      "target), as mihomo does");
			conf_err_format(ruleset_note(rs, 1), got, sizeof(got));
			T_EQ_STR(got, "set.txt:2:1: unknown rule type '*m-team*' (not supported "
				      "by tun2socks); entry skipped");
		}
		ruleset_free(rs);
	}
	/* The cases of issue 12: one bad entry never drops the list. */
	load_skip(RULESET_DOMAIN, RULESET_TEXT, "a.com\n*m-team*\n+.b.com\n",
		  "set.txt:2:1: bad domain '*m-team*': '*' must be a whole label", 2);
	load_skip(RULESET_DOMAIN, RULESET_YAML, "payload:\n  - '.'\n  - '.x.com'\n",
		  "set.yaml:2:6: bad domain '.': empty name", 1);
	load_skip(RULESET_CLASSICAL, RULESET_TEXT,
		  "DOMAIN-REGEX,[a-z0-9-_.]+\\.x$\nDOMAIN-REGEX,a(\n",
		  "set.txt:2:14: bad regex 'a(': missing closing parenthesis at offset 2", 1);
	/* Many bad entries: all counted, the first RULESET_WARN_MAX kept. */
	{
		struct ruleset *rs = load(RULESET_DOMAIN, RULESET_TEXT,
					  "a..b\nc..d\ne..f\ng..h\ni..j\nk..l\nok.com\nm..n\n");

		if (rs) {
			T_EQ_INT(ruleset_count(rs), 1);
			T_EQ_INT(ruleset_skipped(rs), 7);
			T_EQ_INT(ruleset_note_count(rs), 7);
			T_CHECK(ruleset_note(rs, RULESET_WARN_MAX - 1) != NULL);
			T_CHECK(ruleset_note(rs, RULESET_WARN_MAX) == NULL);
		}
		ruleset_free(rs);
	}
	load_skip(RULESET_CLASSICAL, RULESET_TEXT, "RULE-SET,x\n",
		  "set.txt:1:1: RULE-SET is not allowed in a rule set", 0);
	load_skip(RULESET_CLASSICAL, RULESET_TEXT, "MATCH\n",
		  "set.txt:1:1: MATCH is not allowed in a rule set", 0);
	{
		static const char nul[] = "a.com\nb\0c\n";
		struct ruleset *rs;
		struct conf_err err;
		char got[700];

		T_EQ_INT(ruleset_load_buffer("s", RULESET_DOMAIN, RULESET_TEXT, "set.txt", nul,
					     sizeof(nul) - 1, &rs, &err),
			 0);
		if (rs) {
			T_EQ_INT(ruleset_count(rs), 1);
			conf_err_format(ruleset_note(rs, 0), got, sizeof(got));
			T_EQ_STR(got, "set.txt:2:2: unexpected NUL byte; entry skipped");
		}
		ruleset_free(rs);
	}

	/* YAML: positions inside the file, quotes skipped */
	load_skip(RULESET_DOMAIN, RULESET_YAML, "payload:\n  - 'a..b'\n",
		  "set.yaml:2:6: bad domain 'a..b': empty label", 0);
	load_skip(RULESET_DOMAIN, RULESET_YAML, "payload:\n  - ok.com\n  - a..b\n",
		  "set.yaml:3:5: bad domain 'a..b': empty label", 1);
	load_skip(RULESET_DOMAIN, RULESET_YAML, "payload:\n  - ''\n", "set.yaml:2:6: empty entry",
		  0);
	/* Columns count bytes: two bytes of 'ä' before the bad entry. */
	load_skip(RULESET_DOMAIN, RULESET_YAML, "payload: [ '\xc3\xa4.com', 'a..b' ]\n",
		  "set.yaml:1:23: bad domain 'a..b': empty label", 1);
	load_skip(RULESET_CLASSICAL, RULESET_YAML, "payload:\n  - 'IP-CIDR,1.2.3.0/33'\n",
		  "set.yaml:2:14: bad CIDR '1.2.3.0/33': prefix length must be 0..32", 0);
	load_err(RULESET_DOMAIN, RULESET_YAML, "payload: 5\n",
		 "set.yaml:1:10: 'payload' must be a list of strings");
	load_err(RULESET_DOMAIN, RULESET_YAML, "payload:\n  - [a]\n",
		 "set.yaml:2:5: expected a string in the payload list");
	load_err(RULESET_DOMAIN, RULESET_YAML, "foo: [a]\n",
		 "set.yaml:1:1: no 'payload:' list in the file");
	load_err(RULESET_DOMAIN, RULESET_YAML, "",
		 "set.yaml:1:1: expected a 'payload:' list, found an empty file");
	load_err(RULESET_DOMAIN, RULESET_YAML, "- a.com\n- b.com\n",
		 "set.yaml:1:1: expected a mapping with a 'payload:' list");
	load_err(RULESET_DOMAIN, RULESET_YAML, "payload: [a]\npayload: [b]\n",
		 "set.yaml:2:1: duplicate 'payload' key");
	load_err(RULESET_DOMAIN, RULESET_YAML, "payload: [a.com, b.com\n",
		 "set.yaml:2:1: bad YAML: *");
	load_err(RULESET_DOMAIN, RULESET_YAML, "payload:\n  - a.com\n - b\n", "set.yaml:3:*");
	load_err(RULESET_DOMAIN, RULESET_YAML, "payload:\n  - \xff\n", "set.yaml:2:5: bad YAML: *");
	/* libyaml's line breaks: CR alone counts. */
	load_skip(RULESET_DOMAIN, RULESET_YAML, "payload:\r  - ok.com\r\n  - a..b\r",
		  "set.yaml:3:5: bad domain 'a..b': empty label", 1);
	/* A tab in the indentation is named, at the tab. */
	load_err(RULESET_DOMAIN, RULESET_YAML, "payload:\n  - a.com\n\t- b.com\n",
		 "set.yaml:3:1: bad YAML: tab used for indentation (YAML allows only spaces)");
	load_err(RULESET_DOMAIN, RULESET_YAML, "payload:\n  \t- b.com\n",
		 "set.yaml:2:3: bad YAML: tab used for indentation (YAML allows only spaces)");
	/* An error at the end of a file without final newline: its last line. */
	load_err(RULESET_DOMAIN, RULESET_YAML, "payload: [a.com,\nb.com,",
		 "set.yaml:2:7: bad YAML: did not find expected node content while "
		 "parsing a flow node");
}

static void test_file(void)
{
	struct conf_pos at = { "config.yaml", 30, 5 };
	char path[] = "/tmp/t2s-ruleset-XXXXXX";
	struct ruleset *rs;
	struct conf_err err;
	char got[700];
	FILE *f;
	int fd;

	T_EQ_INT(ruleset_load_file("ads", RULESET_DOMAIN, RULESET_TEXT, "/nonexistent/ads.txt", &at,
				   &rs, &err),
		 -ENOENT);
	T_CHECK(rs == NULL);
	conf_err_format(&err, got, sizeof(got));
	T_EQ_STR(got, "config.yaml:30:5: cannot read rule-set 'ads' from "
		      "'/nonexistent/ads.txt': No such file or directory");
	T_EQ_INT(ruleset_load_file("ads", RULESET_DOMAIN, RULESET_TEXT, "/", &at, &rs, &err),
		 -EISDIR);

	fd = mkstemp(path);
	T_CHECK(fd >= 0);
	if (fd < 0)
		return;
	f = fdopen(fd, "w");
	fputs("+.example.com\nbad..x\n", f);
	fclose(f);
	T_EQ_INT(ruleset_load_file("ads", RULESET_DOMAIN, RULESET_TEXT, path, &at, &rs, &err), 0);
	if (rs) {
		conf_err_format(ruleset_note(rs, 0), got, sizeof(got));
		T_CHECK(strncmp(got, path, strlen(path)) == 0);
		T_EQ_STR(got + strlen(path),
			 ":2:1: bad domain 'bad..x': empty label; entry skipped");
	}
	ruleset_free(rs);

	f = fopen(path, "w");
	fputs("+.example.com\n", f);
	fclose(f);
	T_EQ_INT(ruleset_load_file("ads", RULESET_DOMAIN, RULESET_TEXT, path, &at, &rs, &err), 0);
	if (rs)
		T_EQ_INT(ruleset_count(rs), 1);
	ruleset_free(rs);
	unlink(path);
}

/* Many entries: the arena grows past its first chunks. */
static void test_many(void)
{
	size_t n = 20000, len = 0;
	char *text = malloc(n * 32);
	struct ruleset *rs;

	if (!text)
		return;
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(text + len, "%s.d%zu.example.com\n", i % 3 ? "+" : "", i);
	rs = load(RULESET_DOMAIN, RULESET_TEXT, text);
	if (rs) {
		T_EQ_INT(ruleset_count(rs), n);
		check_domain(rs, n - 1, "d19999.example.com",
			     RULESET_MATCH_SELF | RULESET_MATCH_SUB);
	}
	ruleset_free(rs);
	free(text);
}

int main(void)
{
	T_RUN(test_names);
	T_RUN(test_domain);
	T_RUN(test_ipcidr);
	T_RUN(test_classical);
	T_RUN(test_errors);
	T_RUN(test_file);
	T_RUN(test_many);
	return test_summary();
}
