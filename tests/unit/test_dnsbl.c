/*
 * Tests of the DNSBL module without DNS: the query names of IPv4,
 * IPv6 and IPv4-mapped clients, zone names, what answers mean (listed,
 * outside the match ranges, Spamhaus error codes, outside 127/8), the
 * match ranges, the messages of mail.conf and their expansion, and the
 * TXT text that goes into a reply.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "compat.h"
#include "dns.h"
#include "dnsbl.h"
#include "tap.h"

static void	 test_qname(void);
static void	 test_zone(void);
static void	 test_classify(void);
static void	 test_range(void);
static void	 test_message(void);
static void	 test_sanitize(void);
static struct sockaddr_storage *sa(const char *);
static const unsigned char *ip4(const char *);

static struct sockaddr_storage *
sa(const char *text)
{
	static struct sockaddr_storage	 ss;
	struct sockaddr_in		*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6		*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1)
		sin6->sin6_family = AF_INET6;
	return &ss;
}

static const unsigned char *
ip4(const char *text)
{
	static struct in_addr	 a;

	if (inet_pton(AF_INET, text, &a) != 1)
		memset(&a, 0, sizeof(a));
	return (const unsigned char *)&a;
}

static void
test_qname(void)
{
	struct sockaddr_storage	 ss;
	char			 name[DNS_NAME_MAX + 1], zone[256];

	ok(dnsbl_qname(sa("192.0.2.1"), "bl.test", name, sizeof(name)) == 0,
	    "IPv4: a name");
	is_str(name, "1.2.0.192.bl.test", "IPv4: octets reversed");
	ok(dnsbl_qname(sa("127.0.0.2"), "zen.spamhaus.org", name,
	    sizeof(name)) == 0, "the test address");
	is_str(name, "2.0.0.127.zen.spamhaus.org", "... 2.0.0.127.zone");
	ok(dnsbl_qname(sa("2001:db8:1:2::abcd"), "bl.test", name,
	    sizeof(name)) == 0, "IPv6: a name");
	is_str(name, "d.c.b.a.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0."
	    "1.0.0.2.bl.test", "IPv6: 32 nibbles reversed");
	ok(dnsbl_qname(sa("::ffff:198.51.100.7"), "bl.test", name,
	    sizeof(name)) == 0, "IPv4-mapped: a name");
	is_str(name, "7.100.51.198.bl.test", "IPv4-mapped: as IPv4");
	ok(dnsbl_qname(sa("::1"), "bl.test", name, sizeof(name)) == 0 &&
	    strncmp(name, "1.0.0.0.", 8) == 0, "::1");

	/* The longest zone fits with IPv6; one byte more does not. */
	memset(zone, 'a', DNSBL_ZONE_MAX);
	zone[DNSBL_ZONE_MAX] = '\0';
	zone[60] = zone[121] = zone[182] = '.';
	ok(dnsbl_qname(sa("2001:db8::1"), zone, name, sizeof(name)) == 0 &&
	    strlen(name) == DNS_NAME_MAX, "IPv6 under a zone of %d bytes: "
	    "253", DNSBL_ZONE_MAX);
	strlcat(zone, "a", sizeof(zone));
	ok(dnsbl_qname(sa("2001:db8::1"), zone, name, sizeof(name)) == -1,
	    "one byte more: refused");
	ok(dnsbl_qname(sa("192.0.2.1"), "bl.test", name, 10) == -1,
	    "out too small: refused");
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	ok(dnsbl_qname(&ss, "bl.test", name, sizeof(name)) == -1,
	    "not an IP address: refused");
}

static void
test_zone(void)
{
	char	 out[DNSBL_ZONE_MAX + 1], zone[300];

	ok(dnsbl_zone_valid("zen.spamhaus.org", out, sizeof(out)) &&
	    strcmp(out, "zen.spamhaus.org") == 0, "zen.spamhaus.org");
	ok(dnsbl_zone_valid("List.DNSWL.org.", out, sizeof(out)) &&
	    strcmp(out, "list.dnswl.org") == 0, "lowercased, final dot gone");
	ok(dnsbl_zone_valid("key_123.zen.dq.spamhaus.net", out, sizeof(out)),
	    "a DQS key label");
	ok(!dnsbl_zone_valid("zen", out, sizeof(out)), "one label: refused");
	ok(!dnsbl_zone_valid("bl..test", out, sizeof(out)),
	    "empty label: refused");
	ok(!dnsbl_zone_valid("bl test", out, sizeof(out)), "space: refused");
	ok(!dnsbl_zone_valid("bl.te\\st", out, sizeof(out)),
	    "backslash: refused");
	ok(!dnsbl_zone_valid("%{ip}.bl.test", out, sizeof(out)),
	    "'%%': refused");
	ok(!dnsbl_zone_valid("", out, sizeof(out)), "empty: refused");
	memset(zone, 'a', 70);
	strlcpy(zone + 70, ".test", sizeof(zone) - 70);
	ok(!dnsbl_zone_valid(zone, out, sizeof(out)),
	    "a label of 70: refused");
	memset(zone, 'a', sizeof(zone));
	zone[60] = zone[121] = zone[182] = '.';
	zone[DNSBL_ZONE_MAX + 1] = '\0';
	ok(!dnsbl_zone_valid(zone, out, sizeof(out)), "%d bytes: refused",
	    DNSBL_ZONE_MAX + 1);
}

static void
test_classify(void)
{
	struct dnsbl_zone	 z;

	memset(&z, 0, sizeof(z));
	ok(dnsbl_classify(&z, ip4("127.0.0.2")) == DNSBL_LISTED,
	    "127.0.0.2: listed");
	ok(dnsbl_classify(&z, ip4("127.0.0.255")) == DNSBL_LISTED,
	    "127.0.0.255: listed without match");
	ok(dnsbl_classify(&z, ip4("127.255.255.254")) == DNSBL_ERRCODE,
	    "127.255.255.254: an error code");
	ok(dnsbl_classify(&z, ip4("127.255.255.255")) == DNSBL_ERRCODE,
	    "127.255.255.255: an error code");
	ok(dnsbl_classify(&z, ip4("127.255.254.1")) == DNSBL_LISTED,
	    "127.255.254.1: listed");
	ok(dnsbl_classify(&z, ip4("10.0.0.2")) == DNSBL_BOGUS,
	    "10.0.0.2: outside 127/8");
	ok(dnsbl_classify(&z, ip4("128.0.0.2")) == DNSBL_BOGUS,
	    "128.0.0.2: outside 127/8");

	z.nmatch = 2;
	z.match[0].lo = z.match[0].hi = 0x7f000002;	/* 127.0.0.2 */
	z.match[1].lo = 0x7f00000a;			/* 127.0.0.10 */
	z.match[1].hi = 0x7f00000b;			/* 127.0.0.11 */
	ok(dnsbl_classify(&z, ip4("127.0.0.2")) == DNSBL_LISTED,
	    "match: 127.0.0.2 listed");
	ok(dnsbl_classify(&z, ip4("127.0.0.3")) == DNSBL_NOMATCH,
	    "match: 127.0.0.3 not");
	ok(dnsbl_classify(&z, ip4("127.0.0.10")) == DNSBL_LISTED &&
	    dnsbl_classify(&z, ip4("127.0.0.11")) == DNSBL_LISTED,
	    "match: both ends of a range");
	ok(dnsbl_classify(&z, ip4("127.0.0.12")) == DNSBL_NOMATCH,
	    "match: past the range");
	z.match[1].lo = 0x7f000000;
	z.match[1].hi = 0x7fffffff;
	ok(dnsbl_classify(&z, ip4("127.255.255.254")) == DNSBL_ERRCODE,
	    "match over 127/8: an error code stays one");
	ok(dnsbl_classify(&z, ip4("192.0.2.1")) == DNSBL_BOGUS,
	    "match: outside 127/8 stays bogus");

	is_str(dnsbl_errcode(ip4("127.255.255.254")),
	    "query through a public or open resolver: use a resolver of "
	    "your own", "the text of .254");
	is_str(dnsbl_errcode(ip4("127.255.255.255")),
	    "excessive number of queries", "the text of .255");
	is_str(dnsbl_errcode(ip4("127.255.255.1")),
	    "error code of the list", "another code");
}

static void
test_range(void)
{
	struct dnsbl_range	 r;

	ok(dnsbl_range_parse("127.0.0.2", &r) == 0 && r.lo == 0x7f000002 &&
	    r.hi == 0x7f000002, "one address");
	ok(dnsbl_range_parse("127.0.0.2-127.0.0.11", &r) == 0 &&
	    r.lo == 0x7f000002 && r.hi == 0x7f00000b, "a range");
	ok(dnsbl_range_parse("127.0.0.0-127.255.255.255", &r) == 0 &&
	    r.lo == 0x7f000000 && r.hi == 0x7fffffff, "all of 127/8");
	ok(dnsbl_range_parse("127.0.0.11-127.0.0.2", &r) == -1,
	    "backwards: refused");
	ok(dnsbl_range_parse("127.0.0.2-", &r) == -1, "no end: refused");
	ok(dnsbl_range_parse("-127.0.0.2", &r) == -1, "no start: refused");
	ok(dnsbl_range_parse("127.0.2", &r) == -1, "three octets: refused");
	ok(dnsbl_range_parse("127.0.0.256", &r) == -1, "octet 256: refused");
	ok(dnsbl_range_parse("::1", &r) == -1, "IPv6: refused");
	ok(dnsbl_range_parse("127.0.0.2-127.0.0.3-127.0.0.4", &r) == -1,
	    "two dashes: refused");
	ok(dnsbl_range_parse("", &r) == -1, "empty: refused");
	ok(dnsbl_range_parse("127.000.000.002", &r) == -1,
	    "leading zeros: refused");
}

static void
test_message(void)
{
	char	 out[DNSBL_REPLY_MAX + 1], big[DNSBL_MSG_MAX + 2];
	char	 small[16], zone[DNSBL_ZONE_MAX + 1], wide[1024];

	ok(dnsbl_message_valid("Blocked, see https://example.org/%{ip}"),
	    "%%{ip}: valid");
	ok(dnsbl_message_valid("%{zone} lists %{ip}"), "%%{zone}: valid");
	ok(!dnsbl_message_valid("%{sender}"), "%%{sender}: invalid");
	ok(!dnsbl_message_valid("100%"), "a lone %%: invalid");
	ok(!dnsbl_message_valid("%{ip"), "unterminated: invalid");
	ok(!dnsbl_message_valid("a\r\nb"), "CRLF: invalid");
	ok(!dnsbl_message_valid("caf\xc3\xa9"), "non-ASCII: invalid");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ok(!dnsbl_message_valid(big), "%d bytes: invalid", DNSBL_MSG_MAX + 1);
	big[DNSBL_MSG_MAX] = '\0';
	ok(dnsbl_message_valid(big), "%d bytes: valid", DNSBL_MSG_MAX);

	dnsbl_expand(DNSBL_DEFAULT_MSG, "192.0.2.1", "bl.test", out,
	    sizeof(out));
	is_str(out, "Service unavailable; client [192.0.2.1] blocked using "
	    "bl.test", "the default message");
	dnsbl_expand("%{ip}%{ip} %{zone}%", "2001:db8::1", "z.test", out,
	    sizeof(out));
	is_str(out, "2001:db8::12001:db8::1 z.test%", "each variable, a "
	    "stray %% kept");
	dnsbl_expand("%{ip} is listed", "192.0.2.1", "bl.test", small,
	    sizeof(small));
	is_str(small, "192.0.2.1 is li", "cut to fit out");
	dnsbl_expand("x %{zone}", "192.0.2.1", "bl.test", small, 6);
	is_str(small, "x bl.", "a variable cut to fit out");
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "%{zone}%{zone}", 14);
	memset(zone, 'z', DNSBL_ZONE_MAX);
	zone[DNSBL_ZONE_MAX] = '\0';
	dnsbl_expand(big, "192.0.2.1", zone, wide, sizeof(wide));
	ok(strlen(wide) == DNSBL_REPLY_MAX, "at most %d bytes",
	    DNSBL_REPLY_MAX);
}

static void
test_sanitize(void)
{
	char	 out[DNSBL_TEXT_MAX + 1], big[600], small[8];
	size_t	 n;

	n = dnsbl_sanitize("https://www.spamhaus.org/query/ip/127.0.0.2", 43,
	    out, sizeof(out));
	ok(n == 43 && strcmp(out, "https://www.spamhaus.org/query/ip/"
	    "127.0.0.2") == 0, "a URL as it is");
	n = dnsbl_sanitize("  listed\r\n250 ok\t\tnow  ", 23, out,
	    sizeof(out));
	is_str(out, "listed 250 ok now", "CR, LF and tabs are spaces, one "
	    "at a time, trimmed");
	n = dnsbl_sanitize("a\0b\x1b[31m\xff", 9, out, sizeof(out));
	is_str(out, "a?b?[31m?", "NUL, escape, 8-bit: '?'");
	memset(big, 'x', sizeof(big));
	n = dnsbl_sanitize(big, sizeof(big), out, sizeof(out));
	ok(n == DNSBL_TEXT_MAX && strlen(out) == DNSBL_TEXT_MAX,
	    "at most %d bytes", DNSBL_TEXT_MAX);
	n = dnsbl_sanitize("abcdefghij", 10, small, sizeof(small));
	ok(n == 7 && strcmp(small, "abcdefg") == 0, "cut to fit out");
	n = dnsbl_sanitize(" \t\r\n", 4, out, sizeof(out));
	ok(n == 0 && out[0] == '\0', "only spaces: empty");
}

int
main(void)
{
	test_qname();
	test_zone();
	test_classify();
	test_range();
	test_message();
	test_sanitize();
	return done_testing();
}
