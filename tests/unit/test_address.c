/*
 * Unit tests for address.c: local parts, domains, literals, SMTP paths,
 * UTF-8 validation, text form and path component safety.
 */
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "maild.h"
#include "tap.h"

static void	test_localpart(void);
static void	test_domain(void);
static void	test_parse(void);
static void	test_path(void);
static void	test_text(void);
static void	test_safe(void);
static void	test_from_header(void);
static char	*repeat(char, size_t);

static char *
repeat(char c, size_t n)
{
	char	*s;

	if ((s = malloc(n + 1)) == NULL)
		abort();
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void
test_localpart(void)
{
	char	*s;

	ok(addr_valid_localpart("user", 0), "plain local part");
	ok(addr_valid_localpart("first.last", 0), "dotted");
	ok(addr_valid_localpart("u+tag", 0), "plus");
	ok(addr_valid_localpart("!#$%&'*+-/=?^_`{|}~", 0), "all atext");
	ok(!addr_valid_localpart("", 0), "empty refused");
	ok(!addr_valid_localpart(".user", 0), "leading dot refused");
	ok(!addr_valid_localpart("user.", 0), "trailing dot refused");
	ok(!addr_valid_localpart("us..er", 0), "double dot refused");
	ok(!addr_valid_localpart("us er", 0), "space refused");
	ok(!addr_valid_localpart("us(er", 0), "special refused");
	ok(!addr_valid_localpart("us@er", 0), "@ refused");
	ok(!addr_valid_localpart("us\ter", 0), "tab refused");
	ok(!addr_valid_localpart("us\x7f", 0), "DEL refused");
	ok(addr_valid_localpart("\"john doe\"", 0), "quoted string");
	ok(addr_valid_localpart("\"a@b\"", 0), "quoted @");
	ok(addr_valid_localpart("\"a\\\"b\"", 0), "quoted escaped quote");
	ok(addr_valid_localpart("\"a\\\\b\"", 0), "quoted escaped backslash");
	ok(addr_valid_localpart("\"..\"", 0), "quoted dots");
	ok(!addr_valid_localpart("\"\"", 0), "empty quoted refused");
	ok(!addr_valid_localpart("\"abc", 0), "unterminated quote refused");
	ok(!addr_valid_localpart("\"abc\\\"", 0), "escaped final quote");
	ok(!addr_valid_localpart("\"a\"b", 0), "junk after quote");
	ok(!addr_valid_localpart("\"a\rb\"", 0), "CR in quotes refused");
	ok(!addr_valid_localpart("\"a\nb\"", 0), "LF in quotes refused");
	ok(!addr_valid_localpart("\"a\\\nb\"", 0), "escaped LF refused");
	ok(!addr_valid_localpart("\"a\\", 0), "backslash at end");

	/* UTF-8 */
	ok(!addr_valid_localpart("j\xc3\xb6rg", 0), "UTF-8 needs flag");
	ok(addr_valid_localpart("j\xc3\xb6rg", ADDR_ALLOW_UTF8),
	    "UTF-8 with flag");
	ok(addr_valid_localpart("\xe7\x94\xa8\xe6\x88\xb7", ADDR_ALLOW_UTF8),
	    "CJK local part");
	ok(addr_valid_localpart("\xf0\x9f\x98\x80", ADDR_ALLOW_UTF8),
	    "4-byte sequence");
	ok(addr_valid_localpart("\"j\xc3\xb6 rg\"", ADDR_ALLOW_UTF8),
	    "UTF-8 in quotes");
	ok(!addr_valid_localpart("\"j\xc3\xb6rg\"", 0),
	    "UTF-8 in quotes needs flag");
	ok(!addr_valid_localpart("a\xc0\xaf", ADDR_ALLOW_UTF8),
	    "overlong 2-byte refused");
	ok(!addr_valid_localpart("a\xe0\x80\xaf", ADDR_ALLOW_UTF8),
	    "overlong 3-byte refused");
	ok(!addr_valid_localpart("a\xf0\x80\x80\xaf", ADDR_ALLOW_UTF8),
	    "overlong 4-byte refused");
	ok(!addr_valid_localpart("a\xed\xa0\x80", ADDR_ALLOW_UTF8),
	    "surrogate refused");
	ok(!addr_valid_localpart("a\xf4\x90\x80\x80", ADDR_ALLOW_UTF8),
	    "above U+10FFFF refused");
	ok(!addr_valid_localpart("a\xc3", ADDR_ALLOW_UTF8),
	    "truncated sequence refused");
	ok(!addr_valid_localpart("a\xc3(", ADDR_ALLOW_UTF8),
	    "bad continuation refused");
	ok(!addr_valid_localpart("a\x80", ADDR_ALLOW_UTF8),
	    "lone continuation refused");
	ok(!addr_valid_localpart("a\xff", ADDR_ALLOW_UTF8), "0xff refused");

	s = repeat('a', LOCALPART_MAX);
	ok(addr_valid_localpart(s, 0), "local part of LOCALPART_MAX");
	free(s);
	s = repeat('a', LOCALPART_MAX + 1);
	ok(!addr_valid_localpart(s, 0), "local part too long");
	free(s);
}

static void
test_domain(void)
{
	char	 buf[600], *s;
	size_t	 i;

	ok(addr_valid_domain("example.org", 0), "domain");
	ok(addr_valid_domain("localhost", 0), "single label");
	ok(addr_valid_domain("a-b.c0.EXAMPLE", 0), "hyphen, digits, case");
	ok(addr_valid_domain("1.2.3.4", 0), "numeric labels");
	ok(!addr_valid_domain("", 0), "empty refused");
	ok(!addr_valid_domain("example.org.", 0), "trailing dot refused");
	ok(!addr_valid_domain(".example.org", 0), "leading dot refused");
	ok(!addr_valid_domain("a..b", 0), "empty label refused");
	ok(!addr_valid_domain("-a.org", 0), "leading hyphen refused");
	ok(!addr_valid_domain("a-.org", 0), "trailing hyphen refused");
	ok(!addr_valid_domain("a_b.org", 0), "underscore refused");
	ok(!addr_valid_domain("a b.org", 0), "space refused");
	ok(!addr_valid_domain("a/b", 0), "slash refused");

	s = repeat('a', 63);
	snprintf(buf, sizeof(buf), "%s.org", s);
	ok(addr_valid_domain(buf, 0), "63-byte label");
	free(s);
	s = repeat('a', 64);
	snprintf(buf, sizeof(buf), "%s.org", s);
	ok(!addr_valid_domain(buf, 0), "64-byte label refused");
	free(s);
	/* 4 * 63 + 3 dots = 255 */
	buf[0] = '\0';
	for (i = 0; i < 4; i++) {
		s = repeat('a' + i, 63);
		if (i > 0)
			strlcat(buf, ".", sizeof(buf));
		strlcat(buf, s, sizeof(buf));
		free(s);
	}
	is_int(strlen(buf), 255, "domain of 255 bytes built");
	ok(addr_valid_domain(buf, 0), "255-byte domain");
	strlcat(buf, "b", sizeof(buf));
	ok(!addr_valid_domain(buf, 0), "256-byte domain refused");

	ok(!addr_valid_domain("b\xc3\xbc" "cher.de", 0), "U-label needs flag");
	ok(addr_valid_domain("b\xc3\xbc" "cher.de", ADDR_ALLOW_UTF8),
	    "U-label with flag");
	ok(!addr_valid_domain("b\xc3.de", ADDR_ALLOW_UTF8),
	    "broken UTF-8 label");
	ok(!addr_valid_domain("b\xed\xb0\x80.de", ADDR_ALLOW_UTF8),
	    "surrogate in label");

	ok(addr_valid_domain("[192.0.2.1]", 0), "IPv4 literal");
	ok(addr_valid_domain("[IPv6:2001:db8::1]", 0), "IPv6 literal");
	ok(addr_valid_domain("[ipv6:::1]", 0), "IPv6 tag case-insensitive");
	ok(!addr_valid_domain("[192.0.2.256]", 0), "bad IPv4 literal");
	ok(!addr_valid_domain("[192.0.2]", 0), "short IPv4 literal");
	ok(!addr_valid_domain("[2001:db8::1]", 0), "IPv6 without tag");
	ok(!addr_valid_domain("[IPv6:192.0.2.1x]", 0), "bad IPv6 literal");
	ok(!addr_valid_domain("[IPv6:]", 0), "empty IPv6 literal");
	ok(!addr_valid_domain("[]", 0), "empty literal");
	ok(!addr_valid_domain("[192.0.2.1", 0), "unterminated literal");
	ok(!addr_valid_domain("[x:foo]", 0), "general literal refused");
}

static void
test_parse(void)
{
	struct mailaddr	 a;
	char		 buf[600], *s;

	ok(addr_parse("User@Example.ORG", &a, 0) == 0, "parse");
	is_str(a.user, "User", "local part kept as given");
	is_str(a.domain, "example.org", "domain lowercased");
	ok(addr_parse("\"a@b\"@example.org", &a, 0) == 0, "quoted @");
	is_str(a.user, "\"a@b\"", "quoted local part kept with quotes");
	is_str(a.domain, "example.org", "domain after quoted");
	ok(addr_parse("root@localhost", &a, 0) == 0, "single-label domain");
	ok(addr_parse("u@[IPv6:2001:DB8::1]", &a, 0) == 0, "literal");
	is_str(a.domain, "[ipv6:2001:db8::1]", "literal lowercased");
	ok(addr_parse("j\xc3\xb6rg@B\xc3\xbc" "cher.DE", &a,
	    ADDR_ALLOW_UTF8) == 0, "UTF-8 address");
	is_str(a.domain, "b\xc3\xbc" "cher.de", "only ASCII lowercased");
	ok(addr_parse("j\xc3\xb6rg@example.org", &a, 0) == -1,
	    "UTF-8 address without flag");

	strlcpy(a.user, "keep", sizeof(a.user));
	ok(addr_parse("user", &a, 0) == -1, "no @ refused");
	is_str(a.user, "keep", "untouched on error");
	ok(addr_parse("user@", &a, 0) == -1, "no domain refused");
	ok(addr_parse("@example.org", &a, 0) == -1, "no local part refused");
	ok(addr_parse("a@b@c", &a, 0) == -1, "two @ refused");
	ok(addr_parse("a@b ", &a, 0) == -1, "trailing space refused");
	ok(addr_parse(" a@b", &a, 0) == -1, "leading space refused");
	ok(addr_parse("../x@example.org", &a, 0) == -1, "../x refused");
	ok(addr_parse("a@example.org.", &a, 0) == -1, "trailing dot refused");

	s = repeat('a', LOCALPART_MAX);
	snprintf(buf, sizeof(buf), "%s@example.org", s);
	ok(addr_parse(buf, &a, 0) == 0, "longest local part");
	is_int(strlen(a.user), LOCALPART_MAX, "full local part stored");
	free(s);
	s = repeat('a', LOCALPART_MAX + 1);
	snprintf(buf, sizeof(buf), "%s@example.org", s);
	ok(addr_parse(buf, &a, 0) == -1, "local part too long");
	free(s);
}

static void
test_path(void)
{
	struct mailaddr	 a;
	const char	*p;

	p = "<user@example.org> SIZE=1";
	ok(addr_parse_path(&p, &a, 0) == 0, "path");
	is_str(a.user, "user", "path user");
	is_str(a.domain, "example.org", "path domain");
	is_str(p, " SIZE=1", "advanced past >");

	p = "<>";
	ok(addr_parse_path(&p, &a, 0) == -1, "null path needs flag");
	p = "<>";
	strlcpy(a.user, "x", sizeof(a.user));
	ok(addr_parse_path(&p, &a, ADDR_ALLOW_NULL) == 0, "null path");
	ok(addr_is_null(&a), "null address");
	is_str(p, "", "advanced past <>");

	p = "<@a.example,@b.example:user@example.org>";
	ok(addr_parse_path(&p, &a, 0) == 0, "source route skipped");
	is_str(a.user, "user", "source route: user");
	is_str(a.domain, "example.org", "source route: domain");
	p = "<@a.example:user@example.org>";
	ok(addr_parse_path(&p, &a, 0) == 0, "one-hop source route");
	p = "<@a.example,b.example:user@example.org>";
	ok(addr_parse_path(&p, &a, 0) == -1, "bad source route");
	p = "<@a..example:user@example.org>";
	ok(addr_parse_path(&p, &a, 0) == -1, "bad source route domain");
	p = "<@a.example user@example.org>";
	ok(addr_parse_path(&p, &a, 0) == -1, "unterminated source route");

	p = "<\"a>b\"@example.org>";
	ok(addr_parse_path(&p, &a, 0) == 0, "quoted > in path");
	is_str(a.user, "\"a>b\"", "quoted > kept");
	is_str(p, "", "advanced past the real >");

	p = "user@example.org";
	ok(addr_parse_path(&p, &a, 0) == -1, "no < refused");
	p = "<user@example.org";
	ok(addr_parse_path(&p, &a, 0) == -1, "no > refused");
	p = "< user@example.org>";
	ok(addr_parse_path(&p, &a, 0) == -1, "space after < refused");
	p = "<user@example.org >";
	ok(addr_parse_path(&p, &a, 0) == -1, "space before > refused");
	p = "<user @example.org>";
	ok(addr_parse_path(&p, &a, 0) == -1, "space before @ refused");
	p = "<user>";
	ok(addr_parse_path(&p, &a, 0) == -1, "no domain refused");
	p = "<u@[192.0.2.1]>";
	ok(addr_parse_path(&p, &a, 0) == 0, "literal in path");
	is_str(a.domain, "[192.0.2.1]", "literal domain");
	p = "<j\xc3\xb6rg@example.org>";
	ok(addr_parse_path(&p, &a, 0) == -1, "UTF-8 path without flag");
	p = "<j\xc3\xb6rg@example.org>";
	ok(addr_parse_path(&p, &a, ADDR_ALLOW_UTF8) == 0, "UTF-8 path");
	is_str(a.user, "j\xc3\xb6rg", "UTF-8 user");
}

static void
test_text(void)
{
	struct mailaddr	 a;
	char		 buf[ADDR_MAX + 1];
	char		 small[8];

	memset(&a, 0, sizeof(a));
	ok(addr_to_text(&a, buf, sizeof(buf)) == 0, "null to text");
	is_str(buf, "", "null is empty");
	strlcpy(a.user, "postmaster", sizeof(a.user));
	ok(addr_to_text(&a, buf, sizeof(buf)) == 0, "postmaster to text");
	is_str(buf, "postmaster", "bare postmaster");
	strlcpy(a.domain, "example.org", sizeof(a.domain));
	ok(addr_to_text(&a, buf, sizeof(buf)) == 0, "to text");
	is_str(buf, "postmaster@example.org", "user@domain");
	ok(!addr_is_null(&a), "not null");
	ok(addr_to_text(&a, small, sizeof(small)) == -1, "does not fit");
	ok(addr_to_text(&a, buf, 23) == 0, "fits exactly");
	ok(addr_to_text(&a, buf, 22) == -1, "one byte short");

	strlcpy(buf, "MiXeD\xc3\x84@Q", sizeof(buf));
	str_lower(buf);
	is_str(buf, "mixed\xc3\x84@q", "str_lower ASCII only");
}

static void
test_safe(void)
{
	ok(path_component_safe("user"), "safe");
	ok(path_component_safe("a.b"), "inner dot safe");
	ok(path_component_safe("j\xc3\xb6rg"), "UTF-8 safe");
	ok(path_component_safe("\"john doe\""), "quotes and space safe");
	ok(!path_component_safe(""), "empty unsafe");
	ok(!path_component_safe("."), ". unsafe");
	ok(!path_component_safe(".."), ".. unsafe");
	ok(!path_component_safe(".hidden"), "leading dot unsafe");
	ok(!path_component_safe("../x"), "../x unsafe");
	ok(!path_component_safe("a/b"), "slash unsafe");
	ok(!path_component_safe("a\nb"), "newline unsafe");
	ok(!path_component_safe("a\x01"), "control unsafe");
	ok(!path_component_safe("a\x7f"), "DEL unsafe");
	ok(!path_component_safe("\x1f"), "0x1f unsafe");
}

/* RFC 5321 4.1.2: unneeded quotes do not make another mailbox. */
static void
test_unquote(void)
{
	struct mailaddr	 a;
	const char	*s;

	ok(addr_parse("\"alice\"@example.org", &a, 0) == 0 &&
	    strcmp(a.user, "alice") == 0, "\"alice\" is alice");
	ok(addr_parse("\"a.b\"@example.org", &a, 0) == 0 &&
	    strcmp(a.user, "a.b") == 0, "\"a.b\" is a.b");
	ok(addr_parse("\"john doe\"@example.org", &a, 0) == 0 &&
	    strcmp(a.user, "\"john doe\"") == 0, "needed quotes kept");
	ok(addr_parse("\"a..b\"@example.org", &a, 0) == 0 &&
	    strcmp(a.user, "\"a..b\"") == 0, "quoted double dot kept");
	ok(addr_parse("\"a\\b\"@example.org", &a, 0) == 0 &&
	    strcmp(a.user, "\"a\\b\"") == 0, "escape kept quoted");
	s = "<\"bob\"@example.org>";
	ok(addr_parse_path(&s, &a, 0) == 0 && strcmp(a.user, "bob") == 0,
	    "path \"bob\" is bob");
}

/* The From header values DKIM signing trusts, and those it refuses. */
static void
test_from_header(void)
{
	static const struct {
		const char	*value, *user, *domain;
	} good[] = {
		{ " alice@example.org", "alice", "example.org" },
		{ " Alice <alice@Example.ORG>", "alice", "example.org" },
		{ " \"Smith, Alice\" <alice@example.org>", "alice",
		    "example.org" },
		{ " \"boss@example.jp\" <alice@example.org>", "alice",
		    "example.org" },
		{ " alice@example.org (Alice (the one))", "alice",
		    "example.org" },
		{ " (c) alice @ example.org", "alice", "example.org" },
		{ " =?utf-8?q?J=C3=B6rg?= <j@example.org>", "j",
		    "example.org" },
		{ " \"a\\\"b\" <x@example.org>", "x", "example.org" },
		{ " \"q x\"@example.org", "\"q x\"", "example.org" },
	};
	static const char *bad[] = {
		"", " ", " Alice", " a@b.org, c@d.org", " <a@b.org> <c@d.org>",
		" team: a@b.org;", " team:;", " \"unterminated <a@b.org>",
		" (unterminated a@b.org", " <a@b.org", " a@b.org>",
		" Alice <>", " <@relay.org:a@b.org>", " a@b.org@c.org",
		" <a@b.org> trailing, x@y.org",
	};
	struct mailaddr	 a;
	size_t		 i;

	for (i = 0; i < nitems(good); i++) {
		memset(&a, 0, sizeof(a));
		ok(addr_from_header(good[i].value, &a, ADDR_ALLOW_UTF8) == 0 &&
		    strcmp(a.user, good[i].user) == 0 &&
		    strcmp(a.domain, good[i].domain) == 0,
		    "From:%s is %s@%s", good[i].value, good[i].user,
		    good[i].domain);
	}
	for (i = 0; i < nitems(bad); i++)
		ok(addr_from_header(bad[i], &a, ADDR_ALLOW_UTF8) == -1,
		    "From:%s refused", bad[i]);
}

int
main(void)
{
	test_unquote();
	test_localpart();
	test_domain();
	test_parse();
	test_path();
	test_text();
	test_safe();
	test_from_header();
	return done_testing();
}
