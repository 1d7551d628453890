/*
 * Greylisting (greylist.h): the client network of a key (IPv4 /24,
 * IPv6 /64, IPv4-mapped), the text and hash of triplets and pairs, the
 * decisions in time (delay, expiry, whitelist expiry, a clock set
 * back), the table's size limit, and the state file's lines: written
 * ones read back, hostile and truncated ones refused without harm.
 * Fixtures: tests/data/greylist (run from the top directory).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "greylist.h"
#include "log.h"
#include "tap.h"

#define DATA	"tests/data/greylist/"

static const struct grey_params gp = { 300, 2 * 86400, 35 * 86400 };
static uint8_t	 secret[GREY_SECRETLEN];

static void	 sa(struct sockaddr_storage *, const char *);
static void	 ma(struct mailaddr *, const char *);
static void	 test_net(void);
static void	 test_keys(void);
static void	 test_state(void);
static void	 test_table(void);
static void	 test_limit(void);
static void	 test_lines(void);
static void	 test_file(void);

static void
sa(struct sockaddr_storage *ss, const char *s)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1)
		sin6->sin6_family = AF_INET6;
	else
		abort();
}

static void
ma(struct mailaddr *a, const char *s)
{
	memset(a, 0, sizeof(*a));
	if (*s != '\0' && addr_parse(s, a, ADDR_ALLOW_UTF8) == -1)
		abort();
}

static void
test_net(void)
{
	struct sockaddr_storage	 ss;
	char			 net[GREY_NET_MAX];

	sa(&ss, "192.0.2.77");
	ok(greylist_net(&ss, net, sizeof(net)) == 0, "IPv4 network");
	is_str(net, "192.0.2.0/24", "... is its /24");
	sa(&ss, "2001:db8:1:2:aaaa:bbbb:cccc:dddd");
	ok(greylist_net(&ss, net, sizeof(net)) == 0, "IPv6 network");
	is_str(net, "2001:db8:1:2::/64", "... is its /64");
	sa(&ss, "::ffff:198.51.100.9");
	ok(greylist_net(&ss, net, sizeof(net)) == 0, "IPv4-mapped");
	is_str(net, "198.51.100.0/24", "... is the IPv4 /24");
	ss.ss_family = AF_UNIX;
	ok(greylist_net(&ss, net, sizeof(net)) == -1, "no network of "
	    "AF_UNIX");
	sa(&ss, "192.0.2.77");
	ok(greylist_net(&ss, net, 8) == -1, "a buffer too small is refused");
}

static void
test_keys(void)
{
	struct sockaddr_storage	 a, b, c, d, e;
	struct mailaddr		 from, from2, null, to, to2;
	uint8_t			 k1[GREY_KEYLEN], k2[GREY_KEYLEN];
	uint8_t			 p1[GREY_KEYLEN], p2[GREY_KEYLEN];
	char			 text[1024];
	size_t			 n;

	sa(&a, "192.0.2.1");
	sa(&b, "192.0.2.254");
	sa(&c, "192.0.3.1");
	sa(&d, "2001:db8::1");
	sa(&e, "2001:db8::ffff:1");
	ma(&from, "Alice@Sender.Example");
	ma(&from2, "bob@sender.example");
	ma(&null, "");
	ma(&to, "Bob@Example.ORG");
	ma(&to2, "carol@example.org");

	n = greylist_triplet_text(&a, &from, &to, text, sizeof(text));
	ok(n == sizeof("t\000192.0.2.0/24\0alice@sender.example\0"
	    "bob@example.org") && memcmp(text, "t\000192.0.2.0/24\0"
	    "alice@sender.example\0bob@example.org", n) == 0,
	    "triplet text: network, addresses lowercased, NUL-separated");
	n = greylist_triplet_text(&a, &null, &to, text, sizeof(text));
	ok(n == sizeof("t\000192.0.2.0/24\0\0bob@example.org") &&
	    memcmp(text, "t\000192.0.2.0/24\0\0bob@example.org", n) == 0,
	    "a bounce's sender is empty");
	n = greylist_pair_text(&d, &from, text, sizeof(text));
	ok(n == sizeof("w\0002001:db8::/64\0sender.example") &&
	    memcmp(text, "w\0002001:db8::/64\0sender.example", n) == 0,
	    "pair text: network and the sender's domain");
	n = greylist_pair_text(&a, &null, text, sizeof(text));
	ok(n == sizeof("w\000192.0.2.0/24\0") &&
	    memcmp(text, "w\000192.0.2.0/24\0", n) == 0,
	    "a bounce's pair is the network alone");
	ok(greylist_triplet_text(&a, &from, &to, text, 20) == 0,
	    "a triplet text that does not fit is refused");

	ok(greylist_triplet_key(secret, &a, &from, &to, k1) == 0 &&
	    greylist_triplet_key(secret, &b, &from, &to, k2) == 0 &&
	    memcmp(k1, k2, GREY_KEYLEN) == 0, "same /24: same key");
	ok(greylist_triplet_key(secret, &c, &from, &to, k2) == 0 &&
	    memcmp(k1, k2, GREY_KEYLEN) != 0, "another /24: another key");
	ok(greylist_triplet_key(secret, &a, &from, &to2, k2) == 0 &&
	    memcmp(k1, k2, GREY_KEYLEN) != 0, "another recipient: another "
	    "key");
	ok(greylist_triplet_key(secret, &a, &null, &to, k2) == 0 &&
	    memcmp(k1, k2, GREY_KEYLEN) != 0, "the null sender: another key");
	ok(greylist_triplet_key(secret, &d, &from, &to, k1) == 0 &&
	    greylist_triplet_key(secret, &e, &from, &to, k2) == 0 &&
	    memcmp(k1, k2, GREY_KEYLEN) == 0, "same /64: same key");
	sa(&e, "2001:db8:0:1::1");
	ok(greylist_triplet_key(secret, &e, &from, &to, k2) == 0 &&
	    memcmp(k1, k2, GREY_KEYLEN) != 0, "another /64: another key");

	ok(greylist_pair_key(secret, &a, &from, p1) == 0 &&
	    greylist_pair_key(secret, &b, &from2, p2) == 0 &&
	    memcmp(p1, p2, GREY_KEYLEN) == 0, "pair: same /24 and sender "
	    "domain, whoever the sender");
	ok(greylist_pair_key(secret, &c, &from, p2) == 0 &&
	    memcmp(p1, p2, GREY_KEYLEN) != 0, "pair: another /24");
	ok(greylist_triplet_key(secret, &a, &from, &to, k1) == 0 &&
	    memcmp(k1, p1, GREY_KEYLEN) != 0, "a triplet and its pair "
	    "differ");
	secret[0] ^= 1;
	ok(greylist_pair_key(secret, &a, &from, p2) == 0 &&
	    memcmp(p1, p2, GREY_KEYLEN) != 0, "another secret: another key");
	secret[0] ^= 1;
	a.ss_family = AF_UNIX;
	ok(greylist_pair_key(secret, &a, &from, p2) == -1,
	    "no key without an IP network");
}

static void
test_state(void)
{
	time_t	 s;

	is_int(greylist_triplet_state(0, 0, 0, 1000, &gp, &s), GREY_T_NEW,
	    "unknown: new");
	is_int(s, 300, "... the delay to wait");
	is_int(greylist_triplet_state(1, 1000, 1000, 1001, &gp, &s),
	    GREY_T_EARLY, "back after 1s: early");
	is_int(s, 299, "... 299s left");
	is_int(greylist_triplet_state(1, 1000, 1200, 1299, &gp, &s),
	    GREY_T_EARLY, "back after 299s: early (counted from the first)");
	is_int(greylist_triplet_state(1, 1000, 1200, 1300, &gp, &s),
	    GREY_T_RIPE, "back after the delay: passes");
	is_int(s, 300, "... having waited 300s");
	is_int(greylist_triplet_state(1, 1000, 1000, 1000 + 2 * 86400 - 1,
	    &gp, &s), GREY_T_RIPE, "just before expiry: passes");
	is_int(greylist_triplet_state(1, 1000, 1000, 1000 + 2 * 86400, &gp,
	    &s), GREY_T_NEW, "not retried within expire: new again");
	is_int(greylist_triplet_state(1, 1000, 90000, 90000 + 86400, &gp,
	    &s), GREY_T_RIPE, "expiry counts from the last attempt");
	is_int(greylist_triplet_state(1, 5000, 5000, 4000, &gp, &s),
	    GREY_T_EARLY, "clock set back: still early");
	is_int(s, 300, "... the whole delay left");
	ok(greylist_pair_alive(1000, 1000 + 35 * 86400 - 1, &gp),
	    "a pair lives for whitelist-expire");
	ok(!greylist_pair_alive(1000, 1000 + 35 * 86400, &gp),
	    "... and not longer");
	ok(greylist_pair_alive(5000, 10, &gp), "clock set back: alive");
}

static void
test_table(void)
{
	struct greylist		*g;
	struct sockaddr_storage	 a;
	struct mailaddr		 from, to, to2;
	struct grey_rec		 recs[2];
	uint8_t			 t1[GREY_KEYLEN], t2[GREY_KEYLEN];
	uint8_t			 p[GREY_KEYLEN];
	size_t			 n;
	time_t			 s;

	sa(&a, "192.0.2.1");
	ma(&from, "a@sender.example");
	ma(&to, "bob@example.org");
	ma(&to2, "carol@example.org");
	(void)greylist_triplet_key(secret, &a, &from, &to, t1);
	(void)greylist_triplet_key(secret, &a, &from, &to2, t2);
	(void)greylist_pair_key(secret, &a, &from, p);
	g = greylist_new(100);

	is_int(greylist_check(g, t1, p, 1000, &gp, recs, &n, &s), GREY_DEFER,
	    "first attempt: deferred");
	ok(n == 1 && recs[0].kind == GREY_REC_PENDING &&
	    recs[0].first == 1000 && recs[0].last == 1000 &&
	    memcmp(recs[0].key, t1, GREY_KEYLEN) == 0,
	    "... one pending record, first seen now");
	is_int(greylist_check(g, t1, p, 1100, &gp, recs, &n, &s), GREY_DEFER,
	    "retry before the delay: deferred");
	ok(n == 1 && recs[0].first == 1000 && recs[0].last == 1100,
	    "... first seen kept, last seen now");
	is_int(s, 200, "... 200s left");
	is_int(greylist_check(g, t2, p, 1100, &gp, recs, &n, &s), GREY_DEFER,
	    "another recipient: deferred");
	is_int(greylist_check(g, t1, p, 1300, &gp, recs, &n, &s), GREY_PASS,
	    "retry after the delay: passes");
	ok(n == 2 && recs[0].kind == GREY_REC_DROP &&
	    recs[1].kind == GREY_REC_PAIR && recs[1].last == 1300,
	    "... the triplet dropped, the pair whitelisted");
	is_int(s, 300, "... after 300s");
	is_int(greylist_check(g, t2, p, 1301, &gp, recs, &n, &s),
	    GREY_WHITELISTED, "the other recipient now passes at once");
	is_int(n, 0, "... nothing to write so soon");
	is_int(greylist_check(g, t2, p, 1301 + 300, &gp, recs, &n, &s),
	    GREY_WHITELISTED, "five minutes later: whitelisted");
	ok(n == 1 && recs[0].kind == GREY_REC_PAIR && recs[0].last == 1601,
	    "... and its use written");
	is_int(greylist_check(g, t1, p, 1601 + 35 * 86400, &gp, recs, &n,
	    &s), GREY_DEFER, "pair unused for whitelist-expire: greylisted "
	    "again");
	is_int(greylist_count(g), 2, "two entries: the pending triplets");
	is_int(greylist_prune(g, 1601 + 35 * 86400 + 2 * 86400, &gp), 2,
	    "prune after expire: both");
	is_int(greylist_count(g), 0, "... nothing left");

	/* What the file had, read back in its order. */
	greylist_free(g);
	g = greylist_new(100);
	memset(recs, 0, sizeof(recs));
	recs[0].kind = GREY_REC_PENDING;
	memcpy(recs[0].key, t1, GREY_KEYLEN);
	recs[0].first = recs[0].last = 1000;
	is_int(greylist_replay(g, &recs[0], 1100, &gp), 1, "replay pending");
	is_int(greylist_check(g, t1, p, 1200, &gp, recs + 1, &n, &s),
	    GREY_DEFER, "... its first-seen time kept");
	is_int(s, 100, "... 100s left");
	recs[0].first = recs[0].last = 5000;
	is_int(greylist_replay(g, &recs[0], 1100, &gp), 0,
	    "replay from the future: brought back to now");
	recs[0].kind = GREY_REC_DROP;
	is_int(greylist_replay(g, &recs[0], 1100, &gp), 1, "replay a drop");
	is_int(greylist_count(g), 0, "... it is gone");
	recs[0].kind = GREY_REC_PAIR;
	recs[0].first = recs[0].last = 1000;
	memcpy(recs[0].key, p, GREY_KEYLEN);
	is_int(greylist_replay(g, &recs[0], 1000 + 35 * 86400, &gp), 0,
	    "replay an expired pair: dropped");
	is_int(greylist_count(g), 0, "... not kept");
	greylist_free(g);
}

static void
test_limit(void)
{
	struct greylist		*g;
	struct grey_rec		 recs[2];
	uint8_t			 t[GREY_KEYLEN], p[GREY_KEYLEN];
	size_t			 n, i;
	time_t			 s;

	g = greylist_new(10);
	memset(p, 0xee, sizeof(p));
	for (i = 0; i < 1000; i++) {
		memset(t, 0, sizeof(t));
		memcpy(t, &i, sizeof(i));
		(void)greylist_check(g, t, p, 1000 + i, &gp, recs, &n, &s);
	}
	is_int(greylist_count(g), 10, "1000 triplets in a table of 10");
	is_int(greylist_evicted(g), 990, "... 990 of them pushed out");
	i = 999;
	memset(t, 0, sizeof(t));
	memcpy(t, &i, sizeof(i));
	is_int(greylist_check(g, t, p, 1000 + 999 + 300, &gp, recs, &n, &s),
	    GREY_PASS, "the newest is still known and passes");
	i = 0;
	memset(t, 0, sizeof(t));
	memcpy(t, &i, sizeof(i));
	is_int(greylist_check(g, t, p, 2000 + 300, &gp, recs, &n, &s),
	    GREY_WHITELISTED, "the pair then holds for all");
	for (i = 0; i < 20; i++) {
		memset(p, (int)i, sizeof(p));
		memset(t, 0x80 + (int)i, sizeof(t));
		(void)greylist_check(g, t, p, 3000, &gp, recs, &n, &s);
		(void)greylist_check(g, t, p, 3300, &gp, recs, &n, &s);
	}
	is_int(greylist_count(g), 10, "20 pairs whitelisted: the table "
	    "still holds 10");
	memset(p, 0xee, sizeof(p));
	is_int(greylist_check(g, t, p, 3301, &gp, recs, &n, &s), GREY_DEFER,
	    "... the oldest pair went when no pending triplet was left");
	greylist_free(g);
}

static void
test_lines(void)
{
	struct grey_rec	 r, r2;
	uint8_t		 sec[GREY_SECRETLEN], sec2[GREY_SECRETLEN];
	char		 line[GREY_LINE_MAX];
	size_t		 n, i;
	static const char *bad[] = {
		"",
		"p",
		"p ",
		"x 00112233445566778899aabbccddeeff 1 2",
		"p 00112233445566778899aabbccddeef 1 2",
		"p 00112233445566778899aabbccddeeff0 1 2",
		"p 00112233445566778899AABBCCDDEEFF 1 2",
		"p 00112233445566778899aabbccddeefg 1 2",
		"p 00112233445566778899aabbccddeeff 1",
		"p 00112233445566778899aabbccddeeff 1 ",
		"p 00112233445566778899aabbccddeeff  1 2",
		"p 00112233445566778899aabbccddeeff 1 2 ",
		"p 00112233445566778899aabbccddeeff -1 2",
		"p 00112233445566778899aabbccddeeff +1 2",
		"p 00112233445566778899aabbccddeeff 1 2x",
		"p 00112233445566778899aabbccddeeff 3 2",
		"p 00112233445566778899aabbccddeeff 1 99999999999999",
		"p 00112233445566778899aabbccddeeff 1 2\r",
		"p\t00112233445566778899aabbccddeeff 1 2",
		"pp 00112233445566778899aabbccddeeff 1 2",
	};

	memset(&r, 0, sizeof(r));
	r.kind = GREY_REC_PENDING;
	for (i = 0; i < GREY_KEYLEN; i++)
		r.key[i] = (uint8_t)(i * 17);
	r.first = 1700000000;
	r.last = 1700000300;
	n = greylist_rec_format(&r, line, sizeof(line));
	is_str(line, "p 00112233445566778899aabbccddeeff 1700000000 "
	    "1700000300\n", "a record line");
	ok(n > 0 && greylist_rec_parse(line, n - 1, &r2) == 0 &&
	    memcmp(&r, &r2, sizeof(r)) == 0, "... reads back");
	ok(greylist_rec_format(&r, line, 20) == 0, "... not cut short");
	ok(greylist_rec_parse("d 00112233445566778899aabbccddeeff 0 0", 38,
	    &r2) == 0 && r2.kind == GREY_REC_DROP, "a drop record");
	ok(greylist_rec_parse("w 00112233445566778899aabbccddeeff 5 "
	    "9999999999999", 50, &r2) == 0 && r2.last == 9999999999999LL,
	    "a pair record, 13 digits of time");
	for (i = 0; i < nitems(bad); i++) {
		snprintf(line, sizeof(line), "refused: \"%s\"", bad[i]);
		ok(greylist_rec_parse(bad[i], strlen(bad[i]), &r2) == -1,
		    "%s", line);
	}
	memset(line, 'p', sizeof(line));
	ok(greylist_rec_parse(line, sizeof(line), &r2) == -1,
	    "an overlong line is refused");

	for (i = 0; i < sizeof(sec); i++)
		sec[i] = (uint8_t)(255 - i);
	n = greylist_header_format(sec, line, sizeof(line));
	ok(n == strlen(GREY_MAGIC) + 1 + 64 + 1 &&
	    strncmp(line, GREY_MAGIC " fffefd", 23) == 0, "a header line");
	ok(greylist_header_parse(line, n - 1, sec2) == 0 &&
	    memcmp(sec, sec2, sizeof(sec)) == 0, "... reads back");
	ok(greylist_header_parse(line, n - 2, sec2) == -1,
	    "... not one hex digit short");
	line[0] = 'M';
	ok(greylist_header_parse(line, n - 1, sec2) == -1,
	    "... nor with another magic");
	ok(greylist_header_parse("maild-greylist 2 00", 19, sec2) == -1,
	    "... nor another version");
}

struct collect {
	size_t		 n;
	struct grey_rec	 last;
	struct greylist	*g;		/* replayed into, if not NULL */
};

static void
collect(const struct grey_rec *r, void *arg)
{
	struct collect	*c = arg;

	c->n++;
	c->last = *r;
	if (c->g != NULL)
		(void)greylist_replay(c->g, r, 1700000000, &gp);
}

static void
test_file(void)
{
	struct grey_load	 ld;
	struct collect		 c;
	struct greylist		*g;
	FILE			*fp;
	uint8_t			 sec2[GREY_SECRETLEN];
	char			 buf[4096], hdr[GREY_LINE_MAX];
	char			 *big;
	size_t			 n, h, i, len;
	const char		*good = "p 00112233445566778899aabbccddeeff "
				    "10 20\n";

	h = greylist_header_format(secret, hdr, sizeof(hdr));
	n = (size_t)snprintf(buf, sizeof(buf), "%s%s%s", hdr, good,
	    "w ffeeddccbbaa99887766554433221100 30 40\n");
	memset(&c, 0, sizeof(c));
	is_int(greylist_file_parse(buf, n, sec2, collect, &c, &ld), 0,
	    "a good file");
	ok(ld.header && ld.records == 2 && c.n == 2 && ld.bad == 0 &&
	    !ld.truncated && c.last.kind == GREY_REC_PAIR &&
	    c.last.last == 40 && memcmp(sec2, secret, sizeof(sec2)) == 0,
	    "... its secret and two records, in order");

	/* Every cut of it: the whole lines before the cut, no more. */
	for (i = 0; i < n; i++) {
		memset(&c, 0, sizeof(c));
		(void)greylist_file_parse(buf, i, sec2, collect, &c, &ld);
		if (c.n != (i < h + strlen(good) ? 0 : 1) ||
		    (i > 0 && !ld.truncated && i != h && i != h +
		    strlen(good)))
			break;
	}
	is_int(i, n, "cut anywhere: the lines before the cut are read, the "
	    "cut one is dropped");

	n = (size_t)snprintf(buf, sizeof(buf), "%sgarbage\n\n%s%.20s\n%s",
	    hdr, good, good, good);
	memset(&c, 0, sizeof(c));
	is_int(greylist_file_parse(buf, n, sec2, collect, &c, &ld), -1,
	    "bad lines among good ones");
	ok(ld.header && ld.records == 2 && ld.bad == 3 && ld.firstbad == 2 &&
	    c.n == 2, "... the good ones read, the bad ones counted");

	n = (size_t)snprintf(buf, sizeof(buf), "not a header\n%s", good);
	memset(&c, 0, sizeof(c));
	is_int(greylist_file_parse(buf, n, sec2, collect, &c, &ld), -1,
	    "a bad header");
	ok(!ld.header && c.n == 0 && ld.firstbad == 1,
	    "... nothing read without the secret");
	memset(&c, 0, sizeof(c));
	is_int(greylist_file_parse(buf, 0, sec2, collect, &c, &ld), -1,
	    "an empty file");
	ok(!ld.header && c.n == 0, "... nothing read");

	/* A file damaged every way, from tests/data/greylist. */
	if ((fp = fopen(DATA "damaged", "r")) == NULL)
		abort();
	len = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	g = greylist_new(100);
	memset(&c, 0, sizeof(c));
	c.g = g;
	is_int(greylist_file_parse(buf, len, sec2, collect, &c, &ld), -1,
	    "damaged: refused as a whole");
	ok(ld.header && ld.records == 6 && ld.bad == 3 && ld.truncated &&
	    ld.firstbad == 7, "... 6 records read, 3 lines refused, the "
	    "last cut short");
	is_int(greylist_count(g), 3, "... replayed: a drop, an expired pair "
	    "and a time in the future brought back to now");
	greylist_free(g);

	/* NULs, binary noise, a megabyte without a newline. */
	len = 1024 * 1024;
	if ((big = malloc(len)) == NULL)
		abort();
	memcpy(big, hdr, h);
	for (i = h; i < len; i++)
		big[i] = (char)(i * 7919 % 251);
	memset(&c, 0, sizeof(c));
	(void)greylist_file_parse(big, len, sec2, collect, &c, &ld);
	ok(ld.header && c.n == 0 && ld.bad > 0, "binary noise: no record, "
	    "no crash");
	memset(big + h, 'p', len - h);
	memset(&c, 0, sizeof(c));
	(void)greylist_file_parse(big, len, sec2, collect, &c, &ld);
	ok(ld.header && c.n == 0 && ld.truncated, "a megabyte without a "
	    "newline: truncated, nothing read");
	free(big);
}

int
main(void)
{
	size_t	 i;

	log_init(1, 0);
	for (i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)i;
	test_net();
	test_keys();
	test_state();
	test_table();
	test_limit();
	test_lines();
	test_file();
	return done_testing();
}
