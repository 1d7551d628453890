/*
 * Tests for the SEARCH compiler and evaluator: every key, nesting,
 * sets with "*", dates at zone boundaries, RFC 2047 headers, QP and
 * base64 bodies, and refused inputs.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compat.h"
#include "imap_parser.h"
#include "mime.h"
#include "search.h"
#include "tap.h"

static int	 compile(const char *, uint32_t, uint32_t,
		    struct search_prog **, const char **);
static int	 check(const char *, const struct search_msg *);

static const char msg1[] =
    "Date: Mon, 1 Jan 2024 23:30:00 -0500\r\n"
    "From: Alice Example <alice@example.org>\r\n"
    "To: bob@example.com\r\n"
    "Cc: carol@example.net\r\n"
    "Subject: =?UTF-8?Q?Caf=C3=A9_menu?= =?ISO-8859-1?B?bfxzbGk=?=\r\n"
    "X-Folded: first\r\n"
    " second part\r\n"
    "X-Empty:\r\n"
    "Received: from a\r\n"
    "Received: from relay.example\r\n"
    "\r\n"
    "Hello World body text\r\n";

static const char msg2[] =
    "Date: Tue, 2 Jan 2024 00:30:00 +0100\r\n"
    "From: <dave (x)@ (y) example.org> (Dave =?UTF-8?Q?M=C3=BCller?=)\r\n"
    "To: list: a@example.org, b@example.org;\r\n"
    "Subject: plain\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--XX\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "caf=C3=A9 soft=\r\n"
    "break here\r\n"
    "--XX\r\n"
    "Content-Type: text/html\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "U2VjcmV0IEJhc2U2NCBXb3Jkcw==\r\n"
    "--XX\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "\r\n"
    "Gr\xfc\xdf" "e\r\n"
    "--XX\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "aGlkZGVuYXR0YWNo\r\n"
    "--XX--\r\n";

static int
compile(const char *keys, uint32_t exists, uint32_t maxuid,
    struct search_prog **progp, const char **errstr)
{
	struct imap_parser		*p;
	const struct imap_command	*cmd;
	struct imap_limits		 lim;
	char				*line;
	int				 r;

	*progp = NULL;
	*errstr = "parse";
	if (asprintf(&line, "t SEARCH %s", keys) == -1)
		abort();
	memset(&lim, 0, sizeof(lim));
	lim.line_max = lim.lit_max = lim.append_max = lim.lit_total = 65536;
	lim.args_max = 10000;
	lim.depth_max = IMAP_DEPTH_MAX;
	p = imap_parser_new(&lim);
	r = imap_parser_line(p, line, strlen(line));
	free(line);
	if (r != IMAP_PARSE_DONE) {
		imap_parser_free(p);
		return 99;
	}
	cmd = imap_parser_command(p);
	r = search_compile(cmd->args, exists, maxuid, progp, errstr);
	imap_parser_free(p);
	return r;
}

/* 1 match, 0 no match, -1 compile error. */
static int
check(const char *keys, const struct search_msg *m)
{
	struct search_prog	*prog;
	const char		*err;
	int			 r;

	if (compile(keys, 10, 500, &prog, &err) != SEARCH_OK)
		return -1;
	r = search_match(prog, m);
	search_free(prog);
	return r;
}

int
main(void)
{
	static const char * const kw1[] = { "$Forwarded", "Work" };
	struct search_msg	 m1, m2, e;
	struct mime_msg		*mm1, *mm2;
	struct search_prog	*prog;
	const char		*err;
	char			*s;
	long			 day;
	int			 r;

	mm1 = mime_parse(msg1, sizeof(msg1) - 1);
	mm2 = mime_parse(msg2, sizeof(msg2) - 1);

	memset(&m1, 0, sizeof(m1));
	m1.seq = 3;
	m1.uid = 103;
	m1.modseq = 50;
	m1.flags = SEARCH_FL_SEEN | SEARCH_FL_FLAGGED;
	m1.keywords = kw1;
	m1.nkeywords = 2;
	m1.internal_date = 1704153600;	/* 2024-01-02 00:00:00 UTC */
	m1.size = sizeof(msg1) - 1;
	m1.data = msg1;
	m1.len = sizeof(msg1) - 1;
	m1.mime = mm1;

	memset(&m2, 0, sizeof(m2));
	m2.seq = 10;
	m2.uid = 500;
	m2.modseq = 7;
	m2.flags = SEARCH_FL_RECENT | SEARCH_FL_ANSWERED | SEARCH_FL_DELETED |
	    SEARCH_FL_DRAFT;
	m2.internal_date = 1704153600 - 1;	/* 2024-01-01 23:59:59 UTC */
	m2.size = 2000;
	m2.data = msg2;
	m2.len = sizeof(msg2) - 1;
	m2.mime = NULL;			/* parsed on demand */

	/* helpers */
	ok(search_parse_date("1-Jan-2024", &day) == 0 && day == 19723,
	    "date 1-Jan-2024");
	ok(search_parse_date("29-fEB-2024", &day) == 0 && day == 19782,
	    "date case-insensitive month");
	ok(search_parse_date("1-Jan-24", &day) == -1, "date 2-digit year");
	ok(search_parse_date("Jan-1-2024", &day) == -1, "date order");
	ok(search_parse_date("32-Jan-2024", &day) == -1, "date day 32");
	ok(search_parse_date("1-Foo-2024", &day) == -1, "date bad month");
	err = "=?utf-8?q?a_b?= =?UTF-8?B?w6k=?= x =?koi8-r?Q?z?=";
	s = search_decode_words(err, strlen(err));
	is_str(s, "a bé x =?koi8-r?Q?z?=", "encoded words decoded");
	free(s);
	s = search_decode_words("=?utf-8?q?broken", 16);
	is_str(s, "=?utf-8?q?broken", "unterminated word kept");
	free(s);

	/* flags */
	is_int(check("ALL", &m1), 1, "ALL");
	is_int(check("SEEN", &m1), 1, "SEEN");
	is_int(check("SEEN", &m2), 0, "SEEN no");
	is_int(check("UNSEEN", &m2), 1, "UNSEEN");
	is_int(check("FLAGGED", &m1), 1, "FLAGGED");
	is_int(check("UNFLAGGED", &m1), 0, "UNFLAGGED");
	is_int(check("ANSWERED", &m2), 1, "ANSWERED");
	is_int(check("UNANSWERED", &m1), 1, "UNANSWERED");
	is_int(check("deleted", &m2), 1, "DELETED lower case");
	is_int(check("UNDELETED", &m2), 0, "UNDELETED");
	is_int(check("DRAFT", &m2), 1, "DRAFT");
	is_int(check("UNDRAFT", &m1), 1, "UNDRAFT");
	is_int(check("RECENT", &m2), 1, "RECENT");
	is_int(check("OLD", &m2), 0, "OLD recent");
	is_int(check("OLD", &m1), 1, "OLD");
	is_int(check("NEW", &m2), 1, "NEW = RECENT UNSEEN");
	is_int(check("NEW", &m1), 0, "NEW seen");
	is_int(check("KEYWORD work", &m1), 1, "KEYWORD case-insensitive");
	is_int(check("KEYWORD $Forwarded", &m1), 1, "KEYWORD $Forwarded");
	is_int(check("KEYWORD Junk", &m1), 0, "KEYWORD absent");
	is_int(check("UNKEYWORD Junk", &m1), 1, "UNKEYWORD");
	is_int(check("UNKEYWORD Work", &m1), 0, "UNKEYWORD present");
	is_int(check("KEYWORD Work", &m2), 0, "KEYWORD no keywords");

	/* sets */
	is_int(check("3", &m1), 1, "seq 3");
	is_int(check("1:2,4:*", &m1), 0, "seq set excludes 3");
	is_int(check("*", &m2), 1, "seq * is exists");
	is_int(check("5:*", &m2), 1, "seq 5:*");
	is_int(check("UID 100:200", &m1), 1, "UID range");
	is_int(check("UID 104:*", &m1), 0, "UID 104:*");
	is_int(check("UID *", &m2), 1, "UID * is max uid");
	is_int(check("UID 9999:*", &m2), 1, "UID n:* above max hits max");
	is_int(check("UID 1,103", &m1), 1, "UID list");

	/* NOT / OR / lists */
	is_int(check("NOT SEEN", &m1), 0, "NOT SEEN");
	is_int(check("NOT NOT SEEN", &m1), 1, "NOT NOT");
	is_int(check("OR DRAFT FLAGGED", &m1), 1, "OR second");
	is_int(check("OR DRAFT DELETED", &m1), 0, "OR neither");
	is_int(check("OR (SEEN DRAFT) (FLAGGED KEYWORD Work)", &m1), 1,
	    "OR of lists");
	is_int(check("OR (SEEN DRAFT) NOT (FLAGGED KEYWORD Work)", &m1), 0,
	    "OR with NOT list");
	is_int(check("SEEN FLAGGED UID 103", &m1), 1, "implicit AND");
	is_int(check("SEEN FLAGGED UID 104", &m1), 0, "implicit AND fails");
	is_int(check("NOT OR DELETED (UNSEEN) 1:5", &m1), 1,
	    "NOT OR nesting");

	/* size, modseq */
	is_int(check("LARGER 100", &m1), 1, "LARGER");
	is_int(check("LARGER 2000", &m2), 0, "LARGER is strict");
	is_int(check("SMALLER 2001", &m2), 1, "SMALLER");
	is_int(check("SMALLER 2000", &m2), 0, "SMALLER is strict");
	is_int(check("MODSEQ 50", &m1), 1, "MODSEQ equal");
	is_int(check("MODSEQ 51", &m1), 0, "MODSEQ above");
	is_int(check("MODSEQ \"/flags/\\\\Seen\" all 20", &m1), 1,
	    "MODSEQ with entry");
	is_int(check("MODSEQ \"/flags/work\" priv 20", &m2), 0,
	    "MODSEQ with entry no");

	/* internal dates: UTC by default, then in the recorded zone */
	is_int(check("ON 2-Jan-2024", &m1), 1, "ON");
	is_int(check("ON 1-Jan-2024", &m2), 1, "ON a second earlier");
	is_int(check("BEFORE 2-Jan-2024", &m2), 1, "BEFORE");
	is_int(check("BEFORE 2-Jan-2024", &m1), 0, "BEFORE same day");
	is_int(check("SINCE 2-Jan-2024", &m1), 1, "SINCE same day");
	is_int(check("SINCE 2-jan-2024", &m2), 0, "SINCE");
	m1.internal_tzoff = -3600;
	is_int(check("ON 1-Jan-2024", &m1), 1, "ON in zone -0100");
	m1.internal_tzoff = 0;
	is_int(check("ON \"2-Jan-2024\"", &m1), 1, "quoted date");

	/* SENT*: Date: header date in its own zone */
	is_int(check("SENTON 1-Jan-2024", &m1), 1,
	    "SENTON: 23:30 -0500 is Jan 1 although UTC is Jan 2");
	is_int(check("SENTON 2-Jan-2024", &m1), 0, "SENTON not UTC day");
	is_int(check("SENTON 2-Jan-2024", &m2), 1,
	    "SENTON: 00:30 +0100 is Jan 2 although UTC is Jan 1");
	is_int(check("SENTBEFORE 2-Jan-2024", &m1), 1, "SENTBEFORE");
	is_int(check("SENTBEFORE 2-Jan-2024", &m2), 0, "SENTBEFORE same");
	is_int(check("SENTSINCE 2-Jan-2024", &m2), 1, "SENTSINCE");
	is_int(check("SENTSINCE 2-Jan-2024", &m1), 0, "SENTSINCE no");

	/* header keys */
	is_int(check("FROM ALICE", &m1), 1, "FROM case-insensitive");
	is_int(check("FROM bob", &m1), 0, "FROM no");
	/* address keys match the parsed addresses, as ENVELOPE shows */
	is_int(check("FROM dave@example.org", &m2), 1,
	    "FROM: comments inside the address are dropped");
	is_int(check("FROM \"(x)\"", &m2), 0, "FROM: comments not text");
	is_int(check("FROM \"alice example <alice@\"", &m1), 1,
	    "FROM: name <address>");
	is_int(check("TO list", &m2), 1, "TO: group name");
	is_int(check("TO b@example.org", &m2), 1, "TO: group member");
	is_int(check("HEADER FROM \"(x)\"", &m2), 1,
	    "HEADER FROM stays raw text");
	is_int(check("TO bob@example", &m1), 1, "TO");
	is_int(check("CC carol", &m1), 1, "CC");
	is_int(check("BCC carol", &m1), 0, "BCC absent");
	is_int(check("SUBJECT \"café menu\"", &m1), 1,
	    "SUBJECT Q-encoded UTF-8");
	is_int(check("SUBJECT \"CAFé MENUmüsli\"", &m1), 1,
	    "SUBJECT B-encoded latin1, blank between words dropped");
	is_int(check("SUBJECT C3", &m1), 0, "SUBJECT not raw encoding");
	is_int(check("HEADER X-Folded \"first second\"", &m1), 1,
	    "HEADER unfolded");
	is_int(check("HEADER x-empty \"\"", &m1), 1,
	    "HEADER empty string: present");
	is_int(check("HEADER X-Missing \"\"", &m1), 0,
	    "HEADER empty string: absent");
	is_int(check("HEADER Received relay", &m1), 1,
	    "HEADER second occurrence");
	is_int(check("HEADER Subject plain", &m2), 1, "HEADER parsed lazily");
	is_int(check("SUBJECT hello", &m1), 0, "body is not a header");

	/* BODY / TEXT */
	is_int(check("BODY \"hello world\"", &m1), 1, "BODY");
	is_int(check("BODY alice", &m1), 0, "BODY excludes header");
	is_int(check("TEXT alice", &m1), 1, "TEXT includes header");
	is_int(check("TEXT \"café\"", &m1), 1, "TEXT decoded header");
	is_int(check("TEXT world", &m1), 1, "TEXT body");
	is_int(check("BODY \"CAFé SOFTbreak\"", &m2), 1,
	    "BODY quoted-printable, soft break");
	is_int(check("BODY \"base64 words\"", &m2), 1, "BODY base64");
	is_int(check("BODY U2VjcmV0", &m2), 0, "BODY not raw base64");
	is_int(check("BODY \"grüße\"", &m2), 1, "BODY latin1 to UTF-8");
	is_int(check("BODY hiddenattach", &m2), 0,
	    "BODY skips non-text parts");
	is_int(check("BODY preamble", &m2), 0, "BODY skips preamble");
	is_int(check("BODY \"\"", &m2), 1, "BODY empty string");
	is_int(check("CHARSET UTF-8 BODY \"café\"", &m2), 1, "CHARSET UTF-8");
	is_int(check("charset us-ascii ALL", &m2), 1, "CHARSET US-ASCII");

	/* content-free evaluation */
	memset(&e, 0, sizeof(e));
	e.seq = 1;
	e.flags = SEARCH_FL_SEEN;
	is_int(check("SUBJECT x", &e), 0, "no content: header key fails");
	is_int(check("OR SEEN BODY x", &e), 1, "no content: flags still work");

	/* needs */
	r = compile("SEEN UID 1:* 1:3 LARGER 5 SINCE 1-Jan-2020", 1, 1, &prog,
	    &err);
	ok(r == SEARCH_OK && search_needs(prog) == 0, "flag-only: no content");
	search_free(prog);
	r = compile("OR SEEN SUBJECT x", 1, 1, &prog, &err);
	ok(r == SEARCH_OK && search_needs(prog) == SEARCH_NEED_HEADER,
	    "SUBJECT: header");
	search_free(prog);
	r = compile("NOT (TEXT x) MODSEQ 3", 1, 1, &prog, &err);
	ok(r == SEARCH_OK && (search_needs(prog) & SEARCH_NEED_BODY) &&
	    (search_needs(prog) & SEARCH_NEED_MODSEQ), "TEXT, MODSEQ needs");
	search_free(prog);
	r = compile("SENTON 1-Jan-2020", 1, 1, &prog, &err);
	ok(r == SEARCH_OK && search_needs(prog) == SEARCH_NEED_HEADER,
	    "SENTON: header");
	search_free(prog);

	/* bad input */
	is_int(compile("CHARSET KOI8-R BODY x", 1, 1, &prog, &err),
	    SEARCH_ERR_CHARSET, "unknown charset");
	ok(prog == NULL, "no program on error");
	is_int(compile("CHARSET", 1, 1, &prog, &err), SEARCH_ERR_SYNTAX,
	    "CHARSET without name");
	is_int(compile("CHARSET UTF-8", 1, 1, &prog, &err), SEARCH_ERR_SYNTAX,
	    "CHARSET without keys");
	is_int(compile("FOO", 1, 1, &prog, &err), SEARCH_ERR_SYNTAX,
	    "unknown key");
	is_str(err, "unknown search key", "reason given");
	is_int(compile("NOT", 1, 1, &prog, &err), SEARCH_ERR_SYNTAX,
	    "NOT without key");
	is_int(compile("OR SEEN", 1, 1, &prog, &err), SEARCH_ERR_SYNTAX,
	    "OR with one key");
	is_int(compile("()", 1, 1, &prog, &err), SEARCH_ERR_SYNTAX,
	    "empty list");
	is_int(compile("BEFORE 1-Jan-24", 1, 1, &prog, &err),
	    SEARCH_ERR_SYNTAX, "bad date");
	is_int(compile("SINCE", 1, 1, &prog, &err), SEARCH_ERR_SYNTAX,
	    "missing date");
	is_int(compile("LARGER -1", 1, 1, &prog, &err), SEARCH_ERR_SYNTAX,
	    "negative size");
	is_int(compile("LARGER 99999999999999999999", 1, 1, &prog, &err),
	    SEARCH_ERR_SYNTAX, "size overflow");
	is_int(compile("SMALLER x", 1, 1, &prog, &err), SEARCH_ERR_SYNTAX,
	    "size not a number");
	is_int(compile("1:x", 1, 1, &prog, &err), SEARCH_ERR_SYNTAX,
	    "bad sequence set");
	is_int(compile("UID", 1, 1, &prog, &err), SEARCH_ERR_SYNTAX,
	    "UID without set");
	is_int(compile("$", 1, 1, &prog, &err), SEARCH_ERR_SYNTAX,
	    "$ refused");
	is_int(compile("KEYWORD \\Seen", 1, 1, &prog, &err),
	    SEARCH_ERR_SYNTAX, "system flag as keyword");
	is_int(compile("HEADER \"\" x", 1, 1, &prog, &err), SEARCH_ERR_SYNTAX,
	    "empty header name");
	is_int(compile("HEADER Subject", 1, 1, &prog, &err),
	    SEARCH_ERR_SYNTAX, "HEADER without string");
	is_int(compile("SUBJECT (x)", 1, 1, &prog, &err), SEARCH_ERR_SYNTAX,
	    "list as string");
	is_int(compile("MODSEQ", 1, 1, &prog, &err), SEARCH_ERR_SYNTAX,
	    "MODSEQ without value");
	is_int(compile("MODSEQ \"/flags/x\" bogus 5", 1, 1, &prog, &err),
	    SEARCH_ERR_SYNTAX, "MODSEQ bad entry type");
	is_int(compile("BODY[TEXT] x", 1, 1, &prog, &err), SEARCH_ERR_SYNTAX,
	    "atom with section");
	{
		char	 deep[400];
		size_t	 i;

		memset(deep, 0, sizeof(deep));
		for (i = 0; i < 40; i++)
			strlcat(deep, "NOT ", sizeof(deep));
		strlcat(deep, "SEEN", sizeof(deep));
		is_int(compile(deep, 1, 1, &prog, &err), SEARCH_ERR_SYNTAX,
		    "NOT nested too deeply");
		memset(deep, 0, sizeof(deep));
		for (i = 0; i < 20; i++)
			strlcat(deep, "NOT ", sizeof(deep));
		strlcat(deep, "SEEN", sizeof(deep));
		r = compile(deep, 1, 1, &prog, &err);
		ok(r == SEARCH_OK, "20 NOTs accepted");
		if (r == SEARCH_OK) {
			is_int(search_match(prog, &m1), 1, "20 NOTs evaluate");
			search_free(prog);
		}
	}
	{
		char	*many;
		size_t	 i, sz = 1100 * 5 + 1;

		if ((many = calloc(1, sz)) == NULL)
			return 1;
		for (i = 0; i < 1100; i++)
			strlcat(many, i ? " ALL" : "ALL", sz);
		r = compile(many, 1, 1, &prog, &err);
		is_int(r, SEARCH_ERR_SYNTAX, "too many keys refused");
		free(many);
	}

	/*
	 * SAVEDATE (RFC 8514) and OBJECTID (RFC 8474): m1 saved on
	 * 2024-03-05, m2 without a save date (its internal date counts).
	 */
	m1.save_date = 1709640000;	/* 2024-03-05 12:00:00 UTC */
	m1.emailid = "Mabc_-1";
	m2.save_date = 0;
	m2.emailid = NULL;
	is_int(check("SAVEDON 5-Mar-2024", &m1), 1, "SAVEDON");
	is_int(check("SAVEDON 2-Jan-2024", &m1), 0,
	    "SAVEDON is not the internal date");
	is_int(check("SAVEDSINCE 5-Mar-2024", &m1), 1, "SAVEDSINCE that day");
	is_int(check("SAVEDSINCE 6-Mar-2024", &m1), 0, "SAVEDSINCE after");
	is_int(check("SAVEDBEFORE 5-Mar-2024", &m1), 0, "SAVEDBEFORE day");
	is_int(check("SAVEDBEFORE 6-Mar-2024", &m1), 1, "SAVEDBEFORE after");
	is_int(check("SAVEDATESUPPORTED", &m1), 1, "SAVEDATESUPPORTED");
	is_int(check("SAVEDATESUPPORTED", &m2), 0,
	    "SAVEDATESUPPORTED: not without a save date");
	is_int(check("SAVEDON 1-Jan-2024", &m2), 1,
	    "no save date: SAVEDON compares the internal date");
	is_int(check("SAVEDBEFORE 1-Jan-2024", &m2), 0,
	    "no save date: SAVEDBEFORE compares the internal date");
	m1.save_tzoff = 13 * 3600;	/* already 6-Mar there */
	is_int(check("SAVEDON 6-Mar-2024", &m1), 1, "SAVEDON in its zone");
	m1.save_tzoff = 0;
	is_int(check("EMAILID Mabc_-1", &m1), 1, "EMAILID");
	is_int(check("EMAILID mabc_-1", &m1), 0,
	    "EMAILID is case-sensitive");
	is_int(check("EMAILID Mabc_-1", &m2), 0, "EMAILID: other message");
	is_int(check("NOT EMAILID Mabc_-1", &m2), 1, "NOT EMAILID");
	is_int(check("THREADID T1", &m1), 0, "THREADID: no threads");
	is_int(check("OR THREADID T1 SAVEDATESUPPORTED", &m1), 1,
	    "THREADID inside OR");
	r = compile("EMAILID M1", 1, 1, &prog, &err);
	ok(r == SEARCH_OK && (search_needs(prog) & SEARCH_NEED_EMAILID),
	    "EMAILID needs the EMAILID");
	search_free(prog);
	r = compile("SAVEDSINCE 1-Jan-2024", 1, 1, &prog, &err);
	ok(r == SEARCH_OK && !(search_needs(prog) & SEARCH_NEED_EMAILID),
	    "SAVEDSINCE needs no EMAILID");
	search_free(prog);
	is_int(check("SAVEDON", &m1), -1, "SAVEDON without a date");
	is_int(check("SAVEDON 5-Mar-24", &m1), -1, "SAVEDON bad date");
	is_int(check("EMAILID", &m1), -1, "EMAILID without an id");
	is_int(check("EMAILID a.b", &m1), -1, "EMAILID with a dot");
	is_int(check("EMAILID \"a b\"", &m1), -1, "EMAILID with a space");
	is_int(check("EMAILID (a)", &m1), -1, "EMAILID of a list");
	is_int(check("THREADID BODY[]", &m1), -1, "THREADID with a section");

	mime_free(mm1);
	mime_free(mm2);
	return done_testing();
}
