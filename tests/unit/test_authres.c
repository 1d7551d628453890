/*
 * Unit tests for authres.c: rendering (values quoted when needed,
 * comments escaped, folding under 78 columns, header.b prefixes, the
 * size bound), reading the authserv-id of incoming fields, removing
 * the fields that claim ours, and hostile input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authres.h"
#include "compat.h"
#include "tap.h"

static void	 test_render(void);
static void	 test_fold(void);
static void	 test_dkim_b(void);
static void	 test_bound(void);
static void	 test_id(void);
static void	 test_remove(void);
static void	 test_hostile(void);
static int	 lines_ok(const char *, size_t);

/* CRLF line ends, continuation lines start with a TAB, <= 77 columns. */
static int
lines_ok(const char *s, size_t maxcol)
{
	size_t	 col = 0;

	for (; *s != '\0'; s++) {
		if (*s == '\r') {
			if (s[1] != '\n')
				return 0;
			s++;
			if (s[1] != '\0' && s[1] != '\t')
				return 0;
			col = 0;
			continue;
		}
		if (*s == '\n' || ((unsigned char)*s < ' ' && *s != '\t'))
			return 0;
		col += *s == '\t' ? 8 : 1;
		if (col > maxcol)
			return 0;
	}
	return 1;
}

static void
test_render(void)
{
	struct authres		 a;
	struct authres_prop	 p[2];
	char			*s;
	size_t			 len;

	authres_init(&a, "mx.example.org", 0);
	s = authres_finish(&a, &len);
	is_str(s, "Authentication-Results: mx.example.org; none\r\n",
	    "no results");
	ok(len == strlen(s), "length");
	free(s);

	authres_init(&a, "mx.example.org", 0);
	ok(authres_spf(&a, "pass", "example.com", "helo.example", NULL) == 0,
	    "spf added");
	ok(authres_spf(&a, "none", "", "helo.example", NULL) == 0,
	    "spf helo");
	ok(authres_dmarc(&a, "fail", "example.com", "reject",
	    "p=reject sp=none") == 0, "dmarc added");
	ok(authres_arc(&a, "none", NULL) == 0, "arc added");
	ok(authres_add(&a, "bad method", "pass", NULL, NULL, 0) == -1 &&
	    authres_add(&a, "x", "pa;ss", NULL, NULL, 0) == -1,
	    "bad keywords refused");
	s = authres_finish(&a, &len);
	is_str(s, "Authentication-Results: mx.example.org;\r\n"
	    "\tspf=pass smtp.mailfrom=example.com;\r\n"
	    "\tspf=none smtp.helo=helo.example;\r\n"
	    "\tdmarc=fail (p=reject sp=none) header.from=example.com\r\n"
	    "\tpolicy.dmarc=reject;\r\n"
	    "\tarc=none\r\n", "four results");
	free(s);

	authres_init(&a, "mx \"1\"", 0);
	p[0].name = "smtp.mailfrom";
	p[0].value = "\"a b\"@example.com";
	p[1].name = "header.x";
	p[1].value = "a\r\nb\x01\xc3\xbc";
	(void)authres_add(&a, "spf", "pass", "a (b) \\ c\r\nd", p, 2);
	s = authres_finish(&a, &len);
	is_str(s, "Authentication-Results: \"mx \\\"1\\\"\";\r\n"
	    "\tspf=pass (a \\(b\\) \\\\ c d) "
	    "smtp.mailfrom=\"\\\"a b\\\"@example.com\"\r\n"
	    "\theader.x=\"a??b???\"\r\n", "quoting and escaping");
	free(s);

	authres_init(&a, "mx", AUTHRES_UTF8);
	p[0].name = "smtp.mailfrom";
	p[0].value = "j\xc3\xb6rg@example.com";
	(void)authres_add(&a, "spf", "pass", "\xc3\xbc\xff", p, 1);
	s = authres_finish(&a, &len);
	is_str(s, "Authentication-Results: mx;\r\n"
	    "\tspf=pass (\xc3\xbc?) "
	    "smtp.mailfrom=\"j\xc3\xb6rg@example.com\"\r\n",
	    "UTF-8 kept with AUTHRES_UTF8");
	free(s);

	authres_init(&a, "mx", 0);
	p[0].name = "smtp.mailfrom";
	p[0].value = "@example.com";
	p[1].name = "smtp.helo";
	p[1].value = "a.b";
	(void)authres_add(&a, "spf", "pass", "   ", p, 2);
	s = authres_finish(&a, &len);
	is_str(s, "Authentication-Results: mx;\r\n"
	    "\tspf=pass () smtp.mailfrom=@example.com smtp.helo=a.b\r\n",
	    "pvalue forms");
	free(s);
}

static void
test_fold(void)
{
	struct authres	 a;
	char		 dom[300], *s;
	size_t		 len, i;

	memset(dom, 'a', sizeof(dom));
	for (i = 20; i < 280; i += 21)
		dom[i] = '.';
	dom[280] = '\0';
	authres_init(&a, "mx.example.org", 0);
	(void)authres_dmarc(&a, "pass", "example.com", "none",
	    "a rather long comment that says a great deal about nothing in "
	    "particular, so that it has to be folded at least once");
	(void)authres_spf(&a, "pass", "longlocalpart@"
	    "averyverylongdomain.example.com", NULL,
	    "client 192.0.2.1 is in the SPF record of the domain");
	s = authres_finish(&a, &len);
	ok(lines_ok(s, 77), "folded under 78 columns:\n%s", s);
	free(s);
	authres_init(&a, "mx.example.org", 0);
	(void)authres_dmarc(&a, "pass", dom, NULL, NULL);
	s = authres_finish(&a, &len);
	ok(lines_ok(s, 8 + 12 + 280) && strstr(s, dom) != NULL,
	    "a word longer than a line is not cut");
	free(s);
}

static void
test_dkim_b(void)
{
	struct authres		 a;
	struct authres_dkim	 sig[3];
	char			*s;
	size_t			 len;

	memset(sig, 0, sizeof(sig));
	sig[0].result = "pass";
	sig[0].d = "example.com";
	sig[0].s = "sel";
	sig[0].b = "abcdefghij KLMN\r\n\topq";
	sig[1].result = "fail";
	sig[1].d = "example.com";
	sig[1].s = "sel2";
	sig[1].b = "abcdefghijKLMx";
	sig[2].result = "pass";
	sig[2].d = "other.example";
	sig[2].b = "a/b+c=d/e+f=g";
	authres_init(&a, "mx", 0);
	ok(authres_dkim(&a, sig, 3) == 0, "three signatures");
	s = authres_finish(&a, &len);
	is_str(s, "Authentication-Results: mx;\r\n"
	    "\tdkim=pass header.d=example.com header.s=sel "
	    "header.b=abcdefghijKLMN;\r\n"
	    "\tdkim=fail header.d=example.com header.s=sel2 "
	    "header.b=abcdefghijKLMx;\r\n"
	    "\tdkim=pass header.d=other.example header.b=\"a/b+c=d/\"\r\n",
	    "header.b: unique prefixes, at least 8, quoted with / and =");
	free(s);
	sig[1].b = sig[0].b;
	authres_init(&a, "mx", 0);
	(void)authres_dkim(&a, sig, 2);
	s = authres_finish(&a, &len);
	ok(strstr(s, "header.b=abcdefghijKLMNopq;") != NULL,
	    "identical b=: all of it");
	free(s);
}

static void
test_bound(void)
{
	struct authres		 a;
	struct authres_dkim	 sig[AUTHRES_DKIM_MAX + 5];
	char			*s, big[AUTHRES_VALUE_MAX + 10];
	size_t			 len, i, n = 0;

	authres_init(&a, "mx.example.org", 0);
	for (i = 0; i < 200; i++)
		if (authres_spf(&a, "pass", "bounce.example.com", NULL,
		    "a comment of some length") == 0)
			n++;
	s = authres_finish(&a, &len);
	ok(len <= AUTHRES_MAX && n < 200 && n > 20 &&
	    strstr(s, "results omitted)") != NULL && lines_ok(s, 77),
	    "%zu of 200 results fit in %zu bytes", n, len);
	free(s);

	memset(sig, 0, sizeof(sig));
	for (i = 0; i < nitems(sig); i++) {
		sig[i].result = "pass";
		sig[i].d = "d.example";
		sig[i].b = "AAAA";
	}
	authres_init(&a, "mx", 0);
	(void)authres_dkim(&a, sig, nitems(sig));
	s = authres_finish(&a, &len);
	ok(strstr(s, "(5 results omitted)") != NULL,
	    "at most %d signatures", AUTHRES_DKIM_MAX);
	free(s);

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	authres_init(&a, "mx", 0);
	(void)authres_spf(&a, "pass", big, NULL, NULL);
	s = authres_finish(&a, &len);
	is_str(s, "Authentication-Results: mx;\r\n"
	    "\tspf=pass (smtp.mailfrom omitted: too long)\r\n",
	    "value over AUTHRES_VALUE_MAX left out");
	free(s);
}

static void
test_id(void)
{
	static const struct {
		const char	*field, *id;
		int		 rv;
	} t[] = {
		{ "Authentication-Results: mx.example.org; spf=pass",
		  "mx.example.org", 1 },
		{ "authentication-results :mx.example.org;none",
		  "mx.example.org", 1 },
		{ "Authentication-Results: (a (nested) \\) comment)\r\n"
		  "\t\"MX.Example.org\" (c) 1 (v);\r\n none\r\n",
		  "MX.Example.org", 1 },
		{ "Authentication-Results: \"mx\\\"q\r\n \" ; none",
		  "mx\"q ", 1 },
		{ "Authentication-Results: mx.example.org spf=pass",
		  "mx.example.org", 0 },
		{ "Authentication-Results: mx.example.org", "mx.example.org",
		  0 },
		{ "Authentication-Results: mx.example.org (open; x=y",
		  "mx.example.org", 0 },
		{ "Authentication-Results: (open mx.example.org; x", "", -1 },
		{ "Authentication-Results: \"mx.example.org; x", "", -1 },
		{ "Authentication-Results: ; none", "", -1 },
		{ "Authentication-Results:", "", -1 },
		{ "Authentication-Result: mx; none", "", -1 },
		{ "ARC-Authentication-Results: i=1; mx; none", "", -1 },
		{ "Authentication-Results-X: mx; none", "", -1 },
	};
	char	 id[AUTHRES_ID_MAX + 1], *big;
	size_t	 i;
	int	 rv;

	for (i = 0; i < nitems(t); i++) {
		id[0] = '\0';
		rv = authres_authserv_id(t[i].field, strlen(t[i].field), id,
		    sizeof(id));
		ok(rv == t[i].rv && (rv == -1 || strcmp(id, t[i].id) == 0),
		    "id %zu: %d \"%s\"", i, rv, rv == -1 ? "" : id);
	}
	if ((big = malloc(1000)) == NULL)
		abort();
	memcpy(big, "Authentication-Results: ", 24);
	memset(big + 24, 'a', 300);
	memcpy(big + 324, "; none", 7);
	ok(authres_authserv_id(big, strlen(big), id, sizeof(id)) == -1,
	    "id over AUTHRES_ID_MAX");
	ok(authres_authserv_id("Authentication-Results: abcdef; none", 36, id,
	    4) == -1, "id over outlen");
	free(big);
}

static void
test_remove(void)
{
	const char	*in =
	    "Received: from x\r\n"
	    "Authentication-Results: MX.example.org;\r\n"
	    "\tdkim=pass header.d=bank.example\r\n"
	    "Authentication-Results: other.example; spf=pass\r\n"
	    "authentication-results : (c) \"mx.example.org\" 1; none\r\n"
	    "Authentication-Results: (broken mx.example.org; dkim=pass\r\n"
	    "Subject: hi\r\n"
	    "\r\n"
	    "Authentication-Results: mx.example.org; none\r\n";
	char		 buf[1024];
	size_t		 len, n;

	(void)strlcpy(buf, in, sizeof(buf));
	len = authres_remove(buf, strlen(buf), "mx.example.org", 0, &n);
	buf[len] = '\0';
	ok(n == 2, "two of ours removed");
	is_str(buf, "Received: from x\r\n"
	    "Authentication-Results: other.example; spf=pass\r\n"
	    "Authentication-Results: (broken mx.example.org; dkim=pass\r\n"
	    "Subject: hi\r\n"
	    "\r\n"
	    "Authentication-Results: mx.example.org; none\r\n",
	    "the others and the body kept");
	(void)strlcpy(buf, in, sizeof(buf));
	len = authres_remove(buf, strlen(buf), "mx.example.org",
	    AUTHRES_RM_MALFORMED, &n);
	buf[len] = '\0';
	ok(n == 3 && strstr(buf, "broken") == NULL &&
	    strstr(buf, "other.example") != NULL,
	    "AUTHRES_RM_MALFORMED: the unreadable one too");
	(void)strlcpy(buf, "Authentication-Results: mx; none", sizeof(buf));
	len = authres_remove(buf, strlen(buf), "MX", 0, &n);
	ok(len == 0 && n == 1, "a header of one unterminated field");
}

/* Random bytes through the reader and the remover: no crash. */
static void
test_hostile(void)
{
	static const char	 alphabet[] = "Authentication-Results: ()\"\\;"
	    "\r\n\t mx1\x80";
	char			 buf[400], id[64];
	size_t			 i, j, len, n;

	srandom(7);
	for (i = 0; i < 20000; i++) {
		len = random() % sizeof(buf);
		for (j = 0; j < len; j++)
			buf[j] = alphabet[random() % (sizeof(alphabet) - 1)];
		if (i % 2 == 0 && len > 24)
			memcpy(buf, "Authentication-Results: ", 24);
		(void)authres_authserv_id(buf, len, id, sizeof(id));
		n = authres_remove(buf, len, "mx", AUTHRES_RM_MALFORMED, &j);
		if (n > len)
			break;
	}
	ok(i == 20000, "20000 random inputs");
}

int
main(void)
{
	test_render();
	test_fold();
	test_dkim_b();
	test_bound();
	test_id();
	test_remove();
	test_hostile();
	return done_testing();
}
