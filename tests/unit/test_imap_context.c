/*
 * Tests for search context results (RFC 5267): ADDTO / REMOVEFROM text
 * for SEARCH (position 0, UIDs or sequence numbers) and for a sorted
 * context (positions, replayed as a client would apply them), PARTIAL
 * ranges and their answers, and the search program's sequence sets
 * turned into UIDs for later evaluation.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "imap_context.h"
#include "imap_parser.h"
#include "mime.h"
#include "search.h"
#include "tap.h"

static int	 desc(uint32_t, uint32_t, void *);
static int	 asc(uint32_t, uint32_t, void *);
static uint32_t	 seqnum(uint32_t, void *);
static char	*change(struct imapctx_res *, const uint32_t *, size_t,
		    const uint32_t *, size_t, imapctx_num_fn, void *);
static char	*list(const struct imapctx_res *);
static int	 replay(uint32_t *, size_t *, const char *);
static struct search_prog *compile(const char *, uint32_t, uint32_t);
static int	 matches(const struct search_prog *, uint32_t, uint32_t,
		    int);

/* A sort order for the tests: UIDs descending (like REVERSE ARRIVAL). */
static int
desc(uint32_t a, uint32_t b, void *arg)
{
	(void)arg;
	return a > b ? -1 : a < b;
}

/* An ascending sort order that is not the SEARCH default (positions). */
static int
asc(uint32_t a, uint32_t b, void *arg)
{
	(void)arg;
	return a < b ? -1 : a > b;
}

/* Sequence numbers of a mailbox whose UIDs are 10, 20, 30, ... */
static uint32_t
seqnum(uint32_t uid, void *arg)
{
	(void)arg;
	return uid / 10;
}

static char *
change(struct imapctx_res *r, const uint32_t *gone, size_t ngone,
    const uint32_t *added, size_t nadded, imapctx_num_fn num, void *arg)
{
	static char	 buf[1024];
	uint32_t	 g[64], a[64];
	struct mbuf	 b;

	if (ngone > 0)
		memcpy(g, gone, ngone * sizeof(*g));
	if (nadded > 0)
		memcpy(a, added, nadded * sizeof(*a));
	memset(&b, 0, sizeof(b));
	mbuf_add(&b, "", 0);
	imapctx_res_change(r, g, ngone, a, nadded, num, arg, &b);
	snprintf(buf, sizeof(buf), "%s", b.data != NULL ? b.data : "");
	mbuf_free(&b);
	return buf;
}

static char *
list(const struct imapctx_res *r)
{
	static char	 buf[1024];
	size_t		 i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < r->n; i++)
		n += snprintf(buf + n, sizeof(buf) - n, "%s%u", i ? " " : "",
		    r->v[i]);
	return buf;
}

/*
 * Apply " REMOVEFROM (p set ...) ADDTO (p set ...)" to a list the way
 * RFC 5267 4.3.3 / 4.3.4 tell a client to (sets here are plain numbers
 * and ascending ranges).  0, or -1 on anything unexpected.
 */
static int
replay(uint32_t *v, size_t *n, const char *text)
{
	const char	*p = text;
	char		*end;
	unsigned long	 pos, a, b, x;
	uint32_t	 set[64];
	size_t		 ns, i;
	int		 add;

	while (*p == ' ') {
		p++;
		if (strncmp(p, "ADDTO (", 7) == 0) {
			add = 1;
			p += 7;
		} else if (strncmp(p, "REMOVEFROM (", 12) == 0) {
			add = 0;
			p += 12;
		} else
			return -1;
		while (*p != ')') {
			pos = strtoul(p, &end, 10);
			if (end == p || *end != ' ' || pos == 0)
				return -1;
			p = end + 1;
			for (ns = 0;;) {
				a = b = strtoul(p, &end, 10);
				if (*end == ':')
					b = strtoul(end + 1, &end, 10);
				for (x = a; x <= b && ns < 64; x++)
					set[ns++] = (uint32_t)x;
				p = end;
				if (*p != ',')
					break;
				p++;
			}
			if (add) {
				memmove(v + pos - 1 + ns, v + pos - 1,
				    (*n - (pos - 1)) * sizeof(*v));
				memcpy(v + pos - 1, set, ns * sizeof(*v));
				*n += ns;
			} else {
				for (i = 0; i < ns; i++)
					if (pos - 1 + i >= *n ||
					    v[pos - 1 + i] != set[i])
						return -1;
				memmove(v + pos - 1, v + pos - 1 + ns,
				    (*n - (pos - 1) - ns) * sizeof(*v));
				*n -= ns;
			}
			if (*p == ' ')
				p++;
		}
		p++;
	}
	return *p == '\0' ? 0 : -1;
}

static struct search_prog *
compile(const char *keys, uint32_t exists, uint32_t maxuid)
{
	struct imap_parser	*p;
	struct search_prog	*prog = NULL;
	struct imap_limits	 lim;
	const char		*err;
	char			 line[512];

	snprintf(line, sizeof(line), "t SEARCH %s", keys);
	memset(&lim, 0, sizeof(lim));
	lim.line_max = lim.lit_max = lim.append_max = lim.lit_total = 65536;
	lim.args_max = 10000;
	lim.depth_max = IMAP_DEPTH_MAX;
	p = imap_parser_new(&lim);
	if (imap_parser_line(p, line, strlen(line)) == IMAP_PARSE_DONE &&
	    search_compile(imap_parser_command(p)->args, exists, maxuid,
	    &prog, &err) != SEARCH_OK)
		prog = NULL;
	imap_parser_free(p);
	return prog;
}

static int
matches(const struct search_prog *prog, uint32_t seq, uint32_t uid,
    int flags)
{
	struct search_msg	 m;

	memset(&m, 0, sizeof(m));
	m.seq = seq;
	m.uid = uid;
	m.flags = flags;
	return search_match(prog, &m);
}

int
main(void)
{
	static const uint32_t	 init[] = { 10, 20, 40, 50 };
	static const uint32_t	 sorted[] = { 90, 70, 60, 30 };
	struct imapctx_res	 r;
	struct search_prog	*prog;
	struct mbuf		 b;
	uint32_t		 v[64], lo, hi, uids[] = { 5, 7, 8, 12, 20 };
	size_t			 n;
	const char		*t;

	/* SEARCH: position 0, mailbox order, UIDs or sequence numbers. */
	imapctx_res_init(&r, NULL, NULL);
	imapctx_res_set(&r, init, 4);
	is_str(change(&r, (uint32_t[]){ 50, 20 }, 2, NULL, 0, NULL, NULL),
	    " REMOVEFROM (0 20,50)", "search: REMOVEFROM, UIDs ascending");
	is_str(list(&r), "10 40", "search: the result after it");
	is_str(change(&r, (uint32_t[]){ 10 }, 1,
	    (uint32_t[]){ 70, 30, 60, 20 }, 4, seqnum, NULL),
	    " REMOVEFROM (0 1) ADDTO (0 2:3,6:7)",
	    "search: both, sequence numbers, ranges");
	is_str(list(&r), "20 30 40 60 70", "search: kept in UID order");
	is_str(change(&r, (uint32_t[]){ 99 }, 1, (uint32_t[]){ 40 }, 1,
	    NULL, NULL), "", "search: not there / already there: nothing");
	is_int(imapctx_res_find(&r, 60), 3, "search: find");
	is_int(imapctx_res_find(&r, 50), -1, "search: find a missing one");
	is_str(change(&r, NULL, 0, (uint32_t[]){ 80, 80 }, 2, NULL, NULL),
	    " ADDTO (0 80)", "search: a UID given twice is added once");
	imapctx_res_free(&r);

	/* A sorted context: positions the client can replay. */
	imapctx_res_init(&r, desc, NULL);
	imapctx_res_set(&r, sorted, 4);
	memcpy(v, sorted, sizeof(sorted));
	n = 4;
	t = change(&r, NULL, 0, (uint32_t[]){ 80, 20, 10, 95 }, 4, NULL,
	    NULL);
	is_str(t, " ADDTO (1 95 3 80 7 20,10)", "sort: ADDTO positions");
	ok(replay(v, &n, t) == 0 && n == r.n &&
	    memcmp(v, r.v, n * sizeof(*v)) == 0,
	    "sort: the client's list after ADDTO is ours (%s)", list(&r));
	t = change(&r, (uint32_t[]){ 95, 60, 70, 10 }, 4, NULL, 0, NULL,
	    NULL);
	is_str(t, " REMOVEFROM (8 10 4 70,60 1 95)",
	    "sort: REMOVEFROM runs, last first, in sort order");
	ok(replay(v, &n, t) == 0 && n == r.n &&
	    memcmp(v, r.v, n * sizeof(*v)) == 0,
	    "sort: the client's list after REMOVEFROM is ours (%s)",
	    list(&r));
	t = change(&r, (uint32_t[]){ 90, 30 }, 2, (uint32_t[]){ 85, 25 },
	    2, seqnum, NULL);
	is_str(t, " REMOVEFROM (3 3 1 9) ADDTO (1 8 3 2)",
	    "sort: both at once, sequence numbers");
	ok(replay(v, &n, "") == 0, "replay: nothing to do");
	is_int(imapctx_res_find(&r, 85), 0, "sort: find by the comparator");
	imapctx_res_free(&r);

	/* RFC 5267 4.3.3: 2734:2735 becomes 2731:2735 in one pair. */
	imapctx_res_init(&r, asc, NULL);
	imapctx_res_set(&r, (uint32_t[]){ 2734, 2735 }, 2);
	is_str(change(&r, NULL, 0, (uint32_t[]){ 2733, 2731, 2732 }, 3,
	    NULL, NULL), " ADDTO (1 2731:2733)",
	    "RFC 5267 4.3.3: the preferred representation");
	is_str(list(&r), "2731 2732 2733 2734 2735", "... 2731:2735");
	imapctx_res_free(&r);

	/* PARTIAL ranges. */
	ok(imapctx_partial_parse("1:500", &lo, &hi) == 0 && lo == 1 &&
	    hi == 500, "partial: 1:500");
	ok(imapctx_partial_parse("500:400", &lo, &hi) == 0 && lo == 400 &&
	    hi == 500, "partial: 500:400 is 400:500");
	ok(imapctx_partial_parse("4294967295:1", &lo, &hi) == 0 &&
	    lo == 1 && hi == 4294967295U, "partial: 2^32-1 is the top");
	ok(imapctx_partial_parse("1:4294967296", &lo, &hi) == -1,
	    "partial: 2^32 refused");
	ok(imapctx_partial_parse("1:99999999999999999999", &lo, &hi) == -1,
	    "partial: overflow refused");
	ok(imapctx_partial_parse("0:5", &lo, &hi) == -1, "partial: 0 refused");
	ok(imapctx_partial_parse("1", &lo, &hi) == -1,
	    "partial: one number refused");
	ok(imapctx_partial_parse("1:*", &lo, &hi) == -1 &&
	    imapctx_partial_parse("*:1", &lo, &hi) == -1,
	    "partial: * refused");
	ok(imapctx_partial_parse("-1:-5", &lo, &hi) == -1,
	    "partial: negative (RFC 9394) refused");
	ok(imapctx_partial_parse("1:5 ", &lo, &hi) == -1 &&
	    imapctx_partial_parse("01:5", &lo, &hi) == -1 &&
	    imapctx_partial_parse("", &lo, &hi) == -1,
	    "partial: trailing junk, leading zero, empty refused");
	memset(&b, 0, sizeof(b));
	imapctx_partial_text(&b, uids, 5, 2, 4);
	imapctx_partial_text(&b, uids, 5, 4, 10);
	imapctx_partial_text(&b, uids, 5, 6, 6);
	imapctx_partial_text(&b, uids, 0, 1, 1);
	mbuf_add(&b, "", 1);
	is_str(b.data, " PARTIAL (2:4 7:8,12) PARTIAL (4:10 12,20)"
	    " PARTIAL (6:6 NIL) PARTIAL (1:1 NIL)",
	    "partial: answers, short and NIL");
	mbuf_free(&b);
	memset(&b, 0, sizeof(b));
	imapctx_set_text(&b, (uint32_t[]){ 5, 4, 3, 7, 8, 9, 1,
	    4294967295U }, 8);
	mbuf_add(&b, "", 1);
	is_str(b.data, "5,4,3,7:9,1,4294967295",
	    "set text: ranges only where numbers ascend by one");
	mbuf_free(&b);

	/* Sequence sets become the UIDs they named. */
	prog = compile("1:2,4 SEEN", 5, 50);
	ok(prog != NULL, "seq2uid: compiled");
	search_seq2uid(prog, (uint32_t[]){ 10, 20, 30, 40, 50 }, 5);
	ok(matches(prog, 99, 10, SEARCH_FL_SEEN) &&
	    matches(prog, 99, 20, SEARCH_FL_SEEN) &&
	    matches(prog, 99, 40, SEARCH_FL_SEEN) &&
	    !matches(prog, 1, 30, SEARCH_FL_SEEN) &&
	    !matches(prog, 1, 50, SEARCH_FL_SEEN) &&
	    !matches(prog, 1, 60, SEARCH_FL_SEEN),
	    "seq2uid: matched by UID, whatever the sequence number");
	ok(search_volatile(prog), "volatile: SEEN");
	search_free(prog);
	prog = compile("NOT OR 2:* 1", 3, 30);
	search_seq2uid(prog, (uint32_t[]){ 10, 20, 30 }, 3);
	ok(!matches(prog, 1, 10, 0) && !matches(prog, 1, 30, 0) &&
	    matches(prog, 4, 40, 0),
	    "seq2uid: inside NOT/OR; * was the last message then");
	ok(!search_volatile(prog), "volatile: not for sets");
	search_free(prog);
	prog = compile("7:9", 3, 30);
	search_seq2uid(prog, (uint32_t[]){ 10, 20, 30 }, 3);
	ok(!matches(prog, 7, 40, 0), "seq2uid: numbers past the end name none");
	search_free(prog);
	prog = compile("OR SUBJECT x KEYWORD $Junk", 3, 30);
	ok(search_volatile(prog), "volatile: a keyword inside OR");
	search_free(prog);
	prog = compile("MODSEQ 5", 3, 30);
	ok(search_volatile(prog), "volatile: MODSEQ");
	search_free(prog);
	prog = compile("BODY x LARGER 5 UID 1:*", 3, 30);
	ok(!search_volatile(prog), "volatile: not for content, size, UIDs");
	search_free(prog);
	return done_testing();
}
