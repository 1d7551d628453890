/*
 * Unit tests for psl.c: the publicsuffix.org test vectors
 * (tests/data/psl/tests.txt) against the small list beside them and, when
 * the publicsuffix package is installed, against the real list; Punycode
 * of U-labels; the PRIVATE section; bad lines reported with file:line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "psl.h"
#include "tap.h"

#define SYSTEM_LIST	"/usr/share/publicsuffix/public_suffix_list.dat"

static const char *datadir = "tests/data/psl";

static void	 test_vectors(const struct psl *, const char *);
static void	 test_normalize(void);
static void	 test_private(void);
static void	 test_bad(void);
static void	 bad_list(const char *, size_t, const char *, const char *);
static int	 quoted(const char **, char *, size_t);

/* 'text' or null at *sp into buf ("" for null); 0, or -1. */
static int
quoted(const char **sp, char *buf, size_t len)
{
	const char	*s = *sp, *e;

	while (*s == ' ')
		s++;
	if (strncmp(s, "null", 4) == 0) {
		buf[0] = '\0';
		*sp = s + 4;
		return 0;
	}
	if (*s != '\'' || (e = strchr(s + 1, '\'')) == NULL ||
	    (size_t)(e - s - 1) >= len)
		return -1;
	memcpy(buf, s + 1, e - s - 1);
	buf[e - s - 1] = '\0';
	*sp = e + 1;
	return 0;
}

static void
test_vectors(const struct psl *psl, const char *what)
{
	char		 path[1024], line[1024], dom[512], exp[512];
	char		 want[PSL_NAME_MAX + 1], got[PSL_NAME_MAX + 1];
	const char	*p;
	FILE		*f;
	int		 r, n = 0, bad = 0;

	(void)snprintf(path, sizeof(path), "%s/tests.txt", datadir);
	if ((f = fopen(path, "r")) == NULL) {
		ok(0, "open %s", path);
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "checkPublicSuffix(", 18) != 0)
			continue;
		p = line + 18;
		if (quoted(&p, dom, sizeof(dom)) == -1 || *p++ != ',' ||
		    quoted(&p, exp, sizeof(exp)) == -1) {
			ok(0, "%s: cannot read %s", path, line);
			continue;
		}
		if (dom[0] == '\0')
			continue;	/* null input: C has no such call */
		r = psl_org_domain(psl, dom, got, sizeof(got));
		n++;
		if (exp[0] == '\0') {
			if (r == 1) {
				bad++;
				ok(0, "%s: %s is a public suffix, got %s", what,
				    dom, got);
			}
			continue;
		}
		if (psl_normalize(exp, want, sizeof(want)) == -1 || r != 1 ||
		    strcmp(got, want) != 0) {
			bad++;
			ok(0, "%s: %s -> %s, got %d %s", what, dom, exp, r,
			    r == -1 ? "" : got);
		}
	}
	fclose(f);
	ok(n >= 77 && bad == 0, "%s: %d test vectors, %d wrong", what, n, bad);
}

static void
test_normalize(void)
{
	static const struct {
		const char	*in, *out;
	} t[] = {
		{ "Example.COM.", "example.com" },
		{ "_dmarc.example.com", "_dmarc.example.com" },
		{ "b\xc3\xbc" "cher.example", "xn--bcher-kva.example" },
		{ "\xe4\xbe\x8b\xe3\x81\x88.jp", "xn--r8jz45g.jp" },
		{ "m\xc3\xbcnchen", "xn--mnchen-3ya" },
		/* RFC 3492 7.1 (B) and (D) */
		{ "\xe4\xbb\x96\xe4\xbb\xac\xe4\xb8\xba\xe4\xbb\x80\xe4\xb9"
		  "\x88\xe4\xb8\x8d\xe8\xaf\xb4\xe4\xb8\xad\xe6\x96\x87",
		  "xn--ihqwcrb4cv8a8dqg056pqjye" },
		{ "pro\xc4\x8dprost\xc4\x9bnemluv\xc3\xad\xc4\x8d" "esky",
		  "xn--proprostnemluvesky-uyb24dma41a" },
		{ "xn--BCHER-kva.example", "xn--bcher-kva.example" },
	};
	static const char *bad[] = {
		"", ".", ".example.com", "a..b", "a b.com", "a@b.com",
		"\xc3(.com", "\xed\xa0\x80.com", "a/b",
	};
	char	 out[PSL_NAME_MAX + 1], big[600];
	size_t	 i;

	for (i = 0; i < nitems(t); i++) {
		ok(psl_normalize(t[i].in, out, sizeof(out)) == 0 &&
		    strcmp(out, t[i].out) == 0, "normalize %s -> %s (%s)",
		    t[i].in, t[i].out, out);
	}
	for (i = 0; i < nitems(bad); i++)
		ok(psl_normalize(bad[i], out, sizeof(out)) == -1,
		    "normalize refuses \"%s\"", bad[i]);
	memset(big, 'a', 64);
	strlcpy(big + 64, ".com", 8);
	ok(psl_normalize(big, out, sizeof(out)) == -1, "label of 64 bytes");
	big[1] = '.';
	ok(psl_normalize(big + 1, out, sizeof(out)) == -1 &&
	    psl_normalize(big + 2, out, sizeof(out)) == 0,
	    "label of 63 bytes is fine");
	for (i = 0; i < 254; i += 2) {
		big[i] = 'a';
		big[i + 1] = '.';
	}
	big[253] = '\0';
	ok(psl_normalize(big, out, sizeof(out)) == 0, "127 labels, 253 bytes");
	big[254] = 'a';
	big[253] = '.';
	big[255] = '\0';
	ok(psl_normalize(big, out, sizeof(out)) == -1, "255 bytes refused");
	ok(psl_normalize("example.com", out, 5) == -1, "small buffer");
}

static void
test_private(void)
{
	char		 path[1024], err[256], out[PSL_NAME_MAX + 1];
	struct psl	*all, *icann;

	(void)snprintf(path, sizeof(path), "%s/list.dat", datadir);
	all = psl_load_file(path, 0, err, sizeof(err));
	icann = psl_load_file(path, PSL_ICANN_ONLY, err, sizeof(err));
	if (all == NULL || icann == NULL) {
		ok(0, "load %s: %s", path, err);
		return;
	}
	is_int(psl_rules(all), 28, "28 rules in the test list");
	is_int(psl_rules(icann), 22, "22 of them ICANN");
	ok(psl_org_domain(all, "www.alice.github.io", out, sizeof(out)) == 1 &&
	    strcmp(out, "alice.github.io") == 0, "private: alice.github.io");
	ok(psl_org_domain(icann, "www.alice.github.io", out, sizeof(out)) ==
	    1 && strcmp(out, "github.io") == 0, "ICANN only: github.io");
	ok(psl_org_domain(all, "github.io", out, sizeof(out)) == 0 &&
	    strcmp(out, "github.io") == 0, "github.io is a suffix itself");
	ok(psl_org_domain(all, "a.b.example.co.uk", out, sizeof(out)) == 1 &&
	    strcmp(out, "example.co.uk") == 0, "a.b.example.co.uk");
	ok(psl_org_domain(all, "x.y.eu-west-1.compute.amazonaws.com", out,
	    sizeof(out)) == 1 &&
	    strcmp(out, "y.eu-west-1.compute.amazonaws.com") == 0,
	    "wildcard below a private name");
	ok(psl_public_suffix(all, "x.y.eu-west-1.compute.amazonaws.com", out,
	    sizeof(out)) == 0 &&
	    strcmp(out, "eu-west-1.compute.amazonaws.com") == 0,
	    "public suffix of it");
	ok(psl_public_suffix(all, "www.city.kobe.jp.", out, sizeof(out)) ==
	    0 && strcmp(out, "kobe.jp") == 0, "public suffix under exception");
	ok(psl_org_domain(all, "a.b.example.test", out, sizeof(out)) == 1 &&
	    strcmp(out, "example.test") == 0, "unlisted TLD: rule \"*\"");
	ok(psl_org_domain(all, "k12.ak.us", out, 4) == -1, "small buffer");
	psl_free(all);
	psl_free(icann);
	ok(psl_load_file("/nonexistent/psl.dat", 0, err, sizeof(err)) ==
	    NULL && strstr(err, "/nonexistent/psl.dat: No such file") != NULL,
	    "missing file: %s", err);
}

/* The list text must be refused with want in the message. */
static void
bad_list(const char *text, size_t len, const char *want, const char *name)
{
	char		 err[256] = "";
	struct psl	*psl;

	psl = psl_load_buffer(text, len, "t.dat", 0, err, sizeof(err));
	ok(psl == NULL && strstr(err, want) != NULL, "%s: %s", name, err);
	psl_free(psl);
}

static void
test_bad(void)
{
	static const struct {
		const char	*text, *want, *name;
	} t[] = {
		{ "com\na..b\n", "t.dat:2: bad rule", "empty label" },
		{ "com\n\n// x\n*.*.com\n", "t.dat:4: '*' only",
		  "two wildcards" },
		{ "a.*.com\n", "t.dat:1: '*' only", "inner wildcard" },
		{ "com*\n", "t.dat:1: '*' only", "wildcard in a label" },
		{ "!com\n", "t.dat:1: exception rule of one label",
		  "one-label exception" },
		{ "!*.com\n", "t.dat:1: exception rule with a wildcard",
		  "exception wildcard" },
		{ "com\r\nb\xc3(\r\n", "t.dat:2: bad rule", "bad UTF-8" },
		{ "a/b\n", "t.dat:1: bad rule", "slash" },
		{ ".com\n", "t.dat:1: bad rule", "leading dot" },
		{ "// nothing\n\n", "t.dat: no rules", "no rules" },
		{ "", "t.dat: no rules", "empty" },
	};
	char	*big;
	size_t	 i;

	for (i = 0; i < nitems(t); i++)
		bad_list(t[i].text, strlen(t[i].text), t[i].want, t[i].name);
	bad_list("com\nc\0m\n", 8, "t.dat: NUL byte", "NUL byte");
	if ((big = malloc(PSL_FILE_MAX + 2)) == NULL)
		abort();
	memset(big, 'a', 2000);
	memcpy(big, "com\n", 4);
	bad_list(big, 2000, "t.dat:2: line longer than 1024",
	    "long line");
	memset(big, 'a', 70);
	memcpy(big + 70, ".com\n", 5);
	bad_list(big, 75, "t.dat:1: bad rule", "label of 70 bytes");
	for (i = 0; i < 100001 * 6; i += 6)
		(void)snprintf(big + i, 7, "%05zu\n", i / 6 % 100000);
	bad_list(big, i, "more than 100000 rules", "too many rules");
	memset(big, '\n', PSL_FILE_MAX + 1);
	bad_list(big, PSL_FILE_MAX + 1, "larger than", "too large");
	free(big);
}

int
main(void)
{
	char		 path[1024], err[256];
	struct psl	*psl;
	const char	*d;

	if ((d = getenv("MAILD_PSL_TESTDIR")) != NULL)
		datadir = d;
	(void)snprintf(path, sizeof(path), "%s/list.dat", datadir);
	if ((psl = psl_load_file(path, 0, err, sizeof(err))) == NULL)
		ok(0, "load %s: %s", path, err);
	else
		test_vectors(psl, "test list");
	psl_free(psl);
	if (access(SYSTEM_LIST, R_OK) == 0) {
		psl = psl_load_file(SYSTEM_LIST, 0, err, sizeof(err));
		ok(psl != NULL && psl_rules(psl) > 5000, "%s: %zu rules %s",
		    SYSTEM_LIST, psl ? psl_rules(psl) : 0, psl ? "" : err);
		if (psl != NULL)
			test_vectors(psl, "system list");
		psl_free(psl);
	} else
		ok(1, "# SKIP %s not installed (Debian: publicsuffix)",
		    SYSTEM_LIST);
	test_normalize();
	test_private();
	test_bad();
	return done_testing();
}
