/*
 * Tests for unicase.c, imap_sort.c and imap_thread.c: i;unicode-casemap
 * keys, base subjects (RFC 5256 2.1), dates, msg-ids, the keys made from
 * headers, sort criteria and the sort, and both THREAD algorithms.
 * Fixtures: tests/data/sort (subjects, keys, threads; run from the top
 * directory, or name it in $MAILD_SORT_TESTDIR).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "imap_parser.h"
#include "imap_sort.h"
#include "log.h"
#include "mime.h"
#include "tap.h"
#include "unicase.h"
#include "util.h"

#define MSG_MAX		64	/* messages in one thread case */

static const char	*datadir = "tests/data/sort";

static char	*fixture(const char *);
static void	 unescape(char *);
static char	*key(const char *);
static void	 test_unicase(void);
static void	 test_subjects(void);
static void	 test_dates(void);
static void	 test_msgids(void);
static void	 test_keys(void);
static void	 check_keys(const char *, const char *, int);
static void	 test_criteria(void);
static int	 criteria(const char *, struct sort_crit *, size_t *);
static void	 test_sort(void);
static void	 test_threads(void);
static void	 run_thread(const char *, const char *, char *);
static void	 test_bounds(void);

static char *
fixture(const char *name)
{
	char	 path[1024], *buf;
	size_t	 len;
	int	 fd;

	snprintf(path, sizeof(path), "%s/%s", datadir, name);
	if ((fd = open(path, O_RDONLY)) == -1)
		fatal("%s", path);
	if ((buf = read_fd(fd, 1024 * 1024, &len)) == NULL)
		fatal("read %s", path);
	close(fd);
	return buf;
}

/* "\t" and "\xNN" in place. */
static void
unescape(char *s)
{
	char	*o = s;
	int	 h;

	while (*s != '\0') {
		if (s[0] == '\\' && s[1] == 't') {
			*o++ = '\t';
			s += 2;
		} else if (s[0] == '\\' && s[1] == 'x' && s[2] != '\0' &&
		    s[3] != '\0' && sscanf(s + 2, "%2x", &h) == 1) {
			*o++ = (char)h;
			s += 4;
		} else
			*o++ = *s++;
	}
	*o = '\0';
}

/* The unicase key of s, malloc'd. */
static char *
key(const char *s)
{
	struct mbuf	 b = { NULL, 0, 0 };

	unicase_key(&b, s, strlen(s), SORT_KEY_MAX);
	return b.data;
}

static void
test_unicase(void)
{
	struct mbuf	 b = { NULL, 0, 0 };
	uint32_t	 m[32];
	char		*k;
	size_t		 n;

	k = key("Hello, World 42");
	is_str(k, "HELLO, WORLD 42", "ASCII: upper case, the rest kept");
	free(k);
	k = key("\xc3\xa9t\xc3\xa9");		/* été */
	is_str(k, "E\xcc\x81TE\xcc\x81", "é: titlecase, then decomposed");
	free(k);
	k = key("\xc3\x89T\xc3\x89");		/* ÉTÉ */
	is_str(k, "E\xcc\x81TE\xcc\x81", "É: the same key as é");
	free(k);
	k = key("\xc7\x86");			/* ǆ: title ǅ, then D ž */
	is_str(k, "Dz\xcc\x8c", "dž: titlecase ǅ, decomposed D z caron");
	free(k);
	k = key("\xef\xbc\xa1\xef\xbd\x82");	/* fullwidth Ａｂ */
	is_str(k, "AB", "fullwidth: titlecase, compatibility decomposition");
	free(k);
	k = key("\xce\xb1\xcf\x82");		/* ας */
	is_str(k, "\xce\x91\xce\xa3", "Greek: titlecase");
	free(k);
	k = key("a\xffz\xc3");
	is_str(k, "A\xef\xbf\xbdZ\xef\xbf\xbd", "invalid UTF-8: U+FFFD");
	free(k);
	k = key("\xed\xa0\x80\xc0\xaf");	/* surrogate, overlong */
	ok(strcmp(k, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd\xef\xbf\xbd") == 0, "surrogates and overlong "
	    "forms are not UTF-8");
	free(k);
	n = unicase_key(&b, "abcdef", 6, 4);
	ok(n == 4 && strcmp(b.data, "ABCD") == 0, "bounded: 4 bytes");
	b.len = 0;
	n = unicase_key(&b, "ab\xc3\xa9", 4, 4);
	ok(n == 2 && strcmp(b.data, "AB") == 0,
	    "bounded: no character cut in two");
	b.len = 0;
	n = unicase_key(&b, "a\0b", 3, 10);
	ok(n == 2 && strcmp(b.data, "AB") == 0, "NUL left out");
	mbuf_free(&b);
	n = unicase_map(0xfdfa, m, nitems(m));
	ok(n == 18 && m[0] == 0x635, "U+FDFA: 18 code points");
	n = unicase_map(0x1d400, m, nitems(m));
	ok(n == 1 && m[0] == 'A', "mathematical bold A: A");
	n = unicase_map(0x10ffff, m, nitems(m));
	ok(n == 1 && m[0] == 0x10ffff, "unmapped: itself");
}

static void
test_subjects(void)
{
	struct mbuf	 b = { NULL, 0, 0 };
	char		*buf, *line, *next, *f1, *f2;
	int		 reply, want;

	buf = fixture("subjects");
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (*line == '#' || *line == '\0')
			continue;
		if ((f1 = strstr(line, " | ")) == NULL ||
		    (f2 = strstr(f1 + 3, " | ")) == NULL) {
			ok(0, "fixture line: %s", line);
			continue;
		}
		*f1 = *f2 = '\0';
		f1 += 3;
		f2 += 3;
		want = atoi(line);
		unescape(f1);
		unescape(f2);
		b.len = 0;
		mbuf_add(&b, "", 0);
		sort_base_subject(&b, f1, strlen(f1), &reply);
		ok(strcmp(b.data, f2) == 0 && reply == want,
		    "base subject of \"%s\": \"%s\", %s", f1, f2,
		    want ? "a reply" : "not a reply");
		if (strcmp(b.data, f2) != 0 || reply != want)
			printf("#   got: \"%s\", reply %d\n", b.data, reply);
	}
	mbuf_free(&b);
	free(buf);
}

static void
test_dates(void)
{
	static const struct {
		const char	*s;
		int64_t		 t;	/* -1: no date */
	} c[] = {
		{ "Fri, 22 Feb 2008 00:00:00 +0200", 1203631200 },
		{ "22 Feb 2008 00:00:00 +0200", 1203631200 },
		{ "fri,22 feb 2008 00:00 +0200 (EET)", 1203631200 },
		{ "Fri, 22 Feb 08 10:00 EST", 1203692400 },
		{ "Fri, 22 Feb 108 15:00:00 GMT", 1203692400 },
		{ "Fri, 22 Feb 2008 15:00:00 Z", 1203692400 },
		{ "Fri, 22 Feb 2008 15:00:00", 1203692400 },
		{ "Fri, 22 (c) Feb (c) 2008 15 : 00 : 00 -0000", 1203692400 },
		{ "Thu, 1 Jan 1970 00:00:00 +0000", 0 },
		{ "Wed, 31 Dec 1969 23:59:59 +0000", -1 },
		{ "Mon, 29 Feb 2100 00:00:00 +0000", 4107542400 },
		{ "Sat, 1 Jan 2000 00:00:60 -1259", 946731600 },
		{ "22 Feb 2008", -2 },
		{ "22 Foo 2008 00:00 +0000", -2 },
		{ "32 Feb 2008 00:00 +0000", -2 },
		{ "22 Feb 2008 24:00 +0000", -2 },
		{ "22 Feb 2008 12:60 +0000", -2 },
		{ "22 Feb 2008 12:00 +02", -2 },
		{ "2008-02-22T12:00:00Z", -2 },
		{ "", -2 },
	};
	size_t	 i;
	int64_t	 t;
	int	 r;

	for (i = 0; i < nitems(c); i++) {
		t = 12345;
		r = sort_parse_date(c[i].s, &t);
		if (c[i].t == -2)
			ok(r == -1, "no date in \"%s\"", c[i].s);
		else
			ok(r == 0 && t == c[i].t, "date \"%s\": %lld", c[i].s,
			    (long long)c[i].t);
	}
}

static void
test_msgids(void)
{
	static const struct {
		const char	*name;
		const char	*s;
		const char	*ids;	/* space-separated */
	} c[] = {
		{ "msg-id", "<a@b>", "a@b" },
		{ "quoted local part (RFC 5256 3)",
		    "<\"01KF8JCEOCBS0045PS\"@xxx.yyy.com>",
		    "01KF8JCEOCBS0045PS@xxx.yyy.com" },
		{ "CFWS around and inside", " < a.b (c) @ d.e > (f)",
		    "a.b@d.e" },
		{ "several, folded, a domain literal",
		    "<a@b><c@d>\r\n\t<e@[1.2.3.4]>", "a@b c@d e@[1.2.3.4]" },
		{ "invalid ones skipped", "<nope> <no@> <@no> junk <a@b",
		    "" },
		{ "a second < starts again", "<x <y@z>", "y@z" },
		{ "quoted-pair", "<\"a\\\"b\"@c>", "a\"b@c" },
		{ "empty", "", "" },
	};
	struct mbuf	 id = { NULL, 0, 0 }, all = { NULL, 0, 0 };
	const char	*p;
	char		 longid[600];
	size_t		 i;

	for (i = 0; i < nitems(c); i++) {
		all.len = 0;
		mbuf_add(&all, "", 0);
		for (p = c[i].s; sort_next_msgid(&p, c[i].s + strlen(c[i].s),
		    &id); ) {
			if (all.len > 0)
				mbuf_add(&all, " ", 1);
			mbuf_add(&all, id.data, id.len);
		}
		is_str(all.data, c[i].ids, c[i].name);
	}
	memset(longid, 'x', sizeof(longid));
	longid[0] = '<';
	longid[300] = '@';
	memcpy(longid + sizeof(longid) - 2, ">", 2);
	p = longid;
	ok(!sort_next_msgid(&p, longid + strlen(longid), &id),
	    "a msg-id over SORT_ID_MAX is not kept");
	mbuf_free(&id);
	mbuf_free(&all);
}

/* Compare the keys made from hdr with the "name: value" lines. */
static void
check_keys(const char *hdr, const char *want, int n)
{
	struct sort_keys	 k;
	struct sort_blob	*sb;
	struct mbuf		 refs = { NULL, 0, 0 };
	char			*blob, *w, *line, *next, *v, got[64];
	const char		*g, *r;
	size_t			 len, i;

	blob = sort_keys_make(hdr, strlen(hdr), 1000000000, &len);
	sb = sort_blob_new(blob, len);
	ok(len <= SORT_BLOB_MAX && sort_keys_parse(blob, len, &k) == 0 &&
	    sb != NULL && sb->len == len && strcmp(sb->k.subject, k.subject) ==
	    0, "keys %d: a blob that parses", n);
	free(sb);
	if ((w = strdup(want)) == NULL)
		fatal("strdup");
	mbuf_add(&refs, "", 0);
	for (i = 0, r = k.refs; i < k.nrefs; i++, r += strlen(r) + 1) {
		if (i > 0)
			mbuf_add(&refs, " ", 1);
		mbuf_add(&refs, r, strlen(r));
	}
	for (line = w; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((v = strchr(line, ':')) == NULL)
			continue;
		*v++ = '\0';
		if (*v == ' ')
			v++;
		unescape(v);
		g = NULL;
		if (strcmp(line, "subject") == 0)
			g = k.subject;
		else if (strcmp(line, "from") == 0)
			g = k.from;
		else if (strcmp(line, "to") == 0)
			g = k.to;
		else if (strcmp(line, "cc") == 0)
			g = k.cc;
		else if (strcmp(line, "dfrom") == 0)
			g = k.dfrom;
		else if (strcmp(line, "dto") == 0)
			g = k.dto;
		else if (strcmp(line, "msgid") == 0)
			g = k.msgid;
		else if (strcmp(line, "refs") == 0)
			g = refs.data;
		else if (strcmp(line, "reply") == 0) {
			snprintf(got, sizeof(got), "%d",
			    (k.flags & SORT_F_REPLY) != 0);
			g = got;
		} else if (strcmp(line, "date") == 0) {
			snprintf(got, sizeof(got), "%lld", (long long)k.date);
			g = got;
		}
		if (g == NULL) {
			ok(0, "keys %d: unknown key %s", n, line);
			continue;
		}
		ok(strcmp(g, v) == 0, "keys %d: %s \"%s\"", n, line, v);
		if (strcmp(g, v) != 0)
			printf("#   got: \"%s\"\n", g);
	}
	mbuf_free(&refs);
	free(w);
	free(blob);
}

static void
test_keys(void)
{
	struct mbuf	 hdr = { NULL, 0, 0 };
	char		*buf, *blk, *next, *sep, *line, *lnext;
	int		 n = 0;

	buf = fixture("keys");
	for (blk = buf; blk != NULL && *blk != '\0'; blk = next) {
		if ((next = strstr(blk, "\n%%\n")) != NULL) {
			*next = '\0';
			next += 4;
		}
		while (*blk == '#')
			blk = strchr(blk, '\n') + 1;
		if ((sep = strstr(blk, "\n\n")) == NULL)
			continue;
		*sep = '\0';
		/* The header with CRLF line ends, as the mailbox has it. */
		hdr.len = 0;
		for (line = blk; line != NULL; line = lnext) {
			if ((lnext = strchr(line, '\n')) != NULL)
				*lnext++ = '\0';
			mbuf_add(&hdr, line, strlen(line));
			mbuf_add(&hdr, "\r\n", 2);
		}
		mbuf_add(&hdr, "\r\n", 2);
		check_keys(hdr.data, sep + 2, ++n);
	}
	mbuf_free(&hdr);
	free(buf);
}

/* The criteria of "SORT <list>": 0, or -1. */
static int
criteria(const char *list, struct sort_crit *crit, size_t *n)
{
	struct imap_parser	*p;
	struct imap_limits	 lim;
	const char		*err;
	char			*line;
	int			 r;

	if (asprintf(&line, "t SORT %s UTF-8 ALL", list) == -1)
		abort();
	memset(&lim, 0, sizeof(lim));
	lim.line_max = lim.lit_max = lim.append_max = lim.lit_total = 65536;
	lim.args_max = 10000;
	lim.depth_max = IMAP_DEPTH_MAX;
	p = imap_parser_new(&lim);
	r = imap_parser_line(p, line, strlen(line));
	free(line);
	if (r != IMAP_PARSE_DONE)
		r = -1;
	else
		r = sort_parse_criteria(imap_parser_command(p)->args, crit, n,
		    &err);
	imap_parser_free(p);
	return r;
}

static void
test_criteria(void)
{
	struct sort_crit	 c[SORT_CRIT_MAX];
	size_t			 n;

	ok(criteria("(ARRIVAL CC DATE FROM SIZE SUBJECT TO DISPLAYFROM "
	    "DISPLAYTO)", c, &n) == 0 && n == 9 && c[0].key ==
	    SORT_ARRIVAL && c[8].key == SORT_DISPLAYTO && !c[8].reverse,
	    "every sort key");
	ok(criteria("(reverse date Subject)", c, &n) == 0 && n == 2 &&
	    c[0].key == SORT_DATE && c[0].reverse && c[1].key ==
	    SORT_SUBJECT && !c[1].reverse, "REVERSE, any case");
	ok(criteria("()", c, &n) == -1, "empty list refused");
	ok(criteria("(DATE BOGUS)", c, &n) == -1, "unknown key refused");
	ok(criteria("(DATE REVERSE)", c, &n) == -1,
	    "REVERSE without a key refused");
	ok(criteria("(REVERSE REVERSE DATE)", c, &n) == -1,
	    "REVERSE twice refused");
	ok(criteria("DATE", c, &n) == -1, "no list refused");
	ok(criteria("(DATE (SIZE))", c, &n) == -1, "nested list refused");
	ok(criteria("(DATE \"SIZE\")", c, &n) == -1, "a string refused");
	ok(criteria("(D D D D D D D D D D D D D D D D D)", c, &n) == -1,
	    "unknown keys refused");
	ok(criteria("(DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE "
	    "DATE DATE DATE DATE DATE DATE DATE)", c, &n) == -1,
	    "more than SORT_CRIT_MAX refused");
	ok(!sort_needs_keys(c, 0) && criteria("(ARRIVAL REVERSE SIZE)", c,
	    &n) == 0 && !sort_needs_keys(c, n) && criteria("(SIZE CC)", c,
	    &n) == 0 && sort_needs_keys(c, n),
	    "header keys needed unless ARRIVAL and SIZE only");
}

static void
test_sort(void)
{
	static const char *const hdrs[] = {
		"From: b@x\r\nSubject: Re: two\r\n\r\n",
		"From: A@x\r\nSubject: one\r\n\r\n",
		"From: a@y\r\nSubject: two\r\n\r\n",
		"From: c@x\r\nSubject: [list] one\r\n\r\n",
	};
	struct sort_item	 it[4];
	struct sort_crit	 c[SORT_CRIT_MAX];
	char			*blob[4], got[64];
	size_t			 n, i, len;

	for (i = 0; i < 4; i++) {
		blob[i] = sort_keys_make(hdrs[i], strlen(hdrs[i]),
		    1000 - (int64_t)i, &len);
		memset(&it[i], 0, sizeof(it[i]));
		it[i].seq = i + 1;
		it[i].uid = 10 * (i + 1);
		it[i].arrival = i == 2 ? 5 : 1;
		it[i].size = 100 - i;
		(void)sort_keys_parse(blob[i], len, &it[i].k);
	}
#define ORDER(list, want, name) do {					\
	struct sort_item	 s[4];					\
									\
	memcpy(s, it, sizeof(s));					\
	if (criteria(list, c, &n) == -1)				\
		abort();						\
	sort_items(s, 4, c, n);						\
	snprintf(got, sizeof(got), "%u %u %u %u", s[0].seq, s[1].seq,	\
	    s[2].seq, s[3].seq);					\
	is_str(got, want, name);					\
} while (0)
	ORDER("(SUBJECT)", "2 4 1 3", "SUBJECT: base subjects, then order");
	ORDER("(REVERSE SUBJECT)", "1 3 2 4",
	    "REVERSE SUBJECT: ties stay in mailbox order");
	ORDER("(FROM)", "2 3 1 4", "FROM: local parts, any case");
	ORDER("(ARRIVAL)", "1 2 4 3", "ARRIVAL, ties in mailbox order");
	ORDER("(REVERSE ARRIVAL)", "3 1 2 4", "REVERSE ARRIVAL");
	ORDER("(DATE)", "4 3 2 1", "DATE: INTERNALDATE without Date:");
	ORDER("(SIZE)", "4 3 2 1", "SIZE");
	ORDER("(SUBJECT REVERSE SIZE)", "2 4 1 3",
	    "SUBJECT, then REVERSE SIZE");
	ORDER("(CC)", "1 2 3 4", "CC: all empty, mailbox order");
#undef ORDER
	sort_items(it, 0, c, n);
	sort_items(it, 1, c, n);
	ok(it[0].seq == 1, "zero and one item");
	for (i = 0; i < 4; i++)
		free(blob[i]);
}

/* One THREAD case: its messages, and the answer it must get. */
static void
run_thread(const char *alg, const char *want, char *msgs)
{
	struct sort_item	 it[MSG_MAX];
	struct mbuf		 out = { NULL, 0, 0 }, hdr = { NULL, 0, 0 };
	char			*blob[MSG_MAX], *m, *next, *line, *lnext;
	int64_t			 arrival;
	size_t			 n = 0, i, len;

	for (m = msgs; m != NULL && n < MSG_MAX; m = next) {
		if ((next = strstr(m, "\n--\n")) != NULL) {
			*next = '\0';
			next += 4;
		}
		hdr.len = 0;
		arrival = 0;
		for (line = m; line != NULL && *line != '\0'; line = lnext) {
			if ((lnext = strchr(line, '\n')) != NULL)
				*lnext++ = '\0';
			if (*line == '#')
				continue;
			if (strncmp(line, "X-Arrival: ", 11) == 0)
				arrival = strtoll(line + 11, NULL, 10);
			mbuf_add(&hdr, line, strlen(line));
			mbuf_add(&hdr, "\r\n", 2);
		}
		mbuf_add(&hdr, "\r\n", 2);
		blob[n] = sort_keys_make(hdr.data, hdr.len, arrival, &len);
		memset(&it[n], 0, sizeof(it[n]));
		it[n].seq = n + 1;
		it[n].uid = 100 + n + 1;
		it[n].arrival = arrival;
		if (sort_keys_parse(blob[n], len, &it[n].k) == -1)
			fatalx("keys do not parse");
		n++;
	}
	mbuf_add(&out, "", 0);
	if (strcmp(alg, "references") == 0)
		thread_references(&out, it, n, 0);
	else
		thread_orderedsubject(&out, it, n, 0);
	is_str(out.data, want, want);
	/* The UID form: the same shape, numbers 100 up. */
	out.len = 0;
	mbuf_add(&out, "", 0);
	if (strcmp(alg, "references") == 0)
		thread_references(&out, it, n, 1);
	else
		thread_orderedsubject(&out, it, n, 1);
	ok(strstr(out.data, "101") != NULL, "%s: UIDs in the UID form", alg);
	for (i = 0; i < n; i++)
		free(blob[i]);
	mbuf_free(&out);
	mbuf_free(&hdr);
}

static void
test_threads(void)
{
	char	*buf, *blk, *next, *eol, *alg, *want;

	buf = fixture("threads");
	if ((blk = strstr(buf, "\n%% ")) != NULL)
		blk++;
	while (blk != NULL) {
		if ((next = strstr(blk, "\n%% ")) != NULL) {
			*next = '\0';
			next++;
		}
		if ((eol = strchr(blk, '\n')) == NULL)
			break;
		*eol = '\0';
		alg = blk + 3;
		if ((want = strchr(alg, ' ')) == NULL)
			break;
		*want++ = '\0';
		run_thread(alg, want, eol + 1);
		blk = next;
	}
	free(buf);
}

/* Hostile headers: the blob stays bounded and parses. */
static void
test_bounds(void)
{
	struct mbuf		 h = { NULL, 0, 0 };
	struct sort_keys	 k;
	struct sort_item	 it[1];
	struct mbuf		 out = { NULL, 0, 0 };
	char			*blob;
	const char		*r;
	size_t			 len, i;

	mbuf_add(&h, "Subject: ", 9);
	for (i = 0; i < 400; i++)	/* 3200 of 4096 bytes kept */
		mbuf_add(&h, "Re: [x] ", 8);
	mbuf_add(&h, "end\r\nFrom: ", 11);
	for (i = 0; i < 500; i++)
		mbuf_add(&h, "\xc3\xa9", 2);
	mbuf_add(&h, "@x\r\nReferences:", 15);
	for (i = 0; i < 5000; i++)
		mbuf_printf(&h, " <id%zu.%s@x>", i, i % 7 ? "" :
		    "padding-padding-padding-padding-padding-padding");
	mbuf_add(&h, "\r\nMessage-ID: <self@x>\r\n\r\n", 26);
	blob = sort_keys_make(h.data, h.len, 0, &len);
	ok(len <= SORT_BLOB_MAX && sort_keys_parse(blob, len, &k) == 0,
	    "a huge header: %zu bytes of keys", len);
	ok(strcmp(k.subject, "END") == 0, "400 leaders removed");
	ok(strlen(k.from) <= SORT_KEY_MAX, "address key bounded");
	ok(k.nrefs >= 2 && k.nrefs <= SORT_REFS_NMAX &&
	    strcmp(k.refs, "id0.padding-padding-padding-padding-padding-"
	    "padding@x") == 0, "references: the first kept (%zu in all)",
	    k.nrefs);
	for (i = 0, r = k.refs; i + 1 < k.nrefs; i++)
		r += strlen(r) + 1;
	is_str(r, "id4999.@x", "references: the last kept");
	memset(it, 0, sizeof(it));
	it[0].seq = 1;
	it[0].k = k;
	mbuf_add(&out, "", 0);
	thread_references(&out, it, 1, 0);
	is_str(out.data, "(1)", "one message with many dummies above");
	ok(sort_keys_parse("S1 1 0 0", 8, &k) == -1 &&
	    sort_keys_parse("S2 1 0 0\0\0\0\0\0\0\0\0", 16, &k) == -1 &&
	    sort_keys_parse("S1 1 0 1\0\0\0\0\0\0\0\0", 16, &k) == -1 &&
	    sort_keys_parse("S1 x 0 0\0\0\0\0\0\0\0\0", 16, &k) == -1 &&
	    sort_keys_parse("S1 1 0 0\0\0\0\0\0\0\0\0", 16, &k) == 0,
	    "damaged blobs refused");
	mbuf_free(&out);
	mbuf_free(&h);
	free(blob);
}

int
main(void)
{
	const char	*d;

	log_init(1, 0);
	if ((d = getenv("MAILD_SORT_TESTDIR")) != NULL)
		datadir = d;
	test_unicase();
	test_subjects();
	test_dates();
	test_msgids();
	test_keys();
	test_criteria();
	test_sort();
	test_threads();
	test_bounds();
	return done_testing();
}
