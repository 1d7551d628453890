/*
 * Unit tests for imap_parser.c: whole commands fed the way the IMAP
 * session will feed them (lines, then literal bytes in chunks), bad
 * input, sequence sets, astrings, reply encoding, and a bounded random
 * fuzz loop (meant to run under -fsanitize=address,undefined).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "imap_parser.h"
#include "imap_tag.h"
#include "tap.h"

struct run {
	int		 r;		/* last result */
	int		 nlit;		/* literals announced */
	int		 nsync;		/* of which synchronizing */
	size_t		 used;		/* input bytes consumed */
};

static struct run	 run(struct imap_parser *, const char *, size_t,
			    size_t);
static struct run	 runs(struct imap_parser *, const char *);
static void		 dump_arg(const struct imap_arg *, char *, size_t);
static const char	*dump(struct imap_parser *);
static int		 check_tree(const struct imap_arg *, size_t,
			    size_t *);
static void		 test_good(void);
static void		 test_fetch(void);
static void		 test_literals(void);
static void		 test_bad(void);
static void		 test_limits(void);
static void		 test_seqset(void);
static void		 test_helpers(void);
static void		 test_fuzz(void);

static char	 dumpbuf[4096];

/*
 * Feed one command as the session would: split on LF, answer literal
 * announcements by feeding the next bytes chunk at a time.  Stops at
 * DONE or ERROR.
 */
static struct run
run(struct imap_parser *p, const char *in, size_t len, size_t chunk)
{
	struct run	 rr = { IMAP_PARSE_ERROR, 0, 0, 0 };
	const char	*nl;
	size_t		 pos = 0, n, ll;
	int		 sync;

	do {
		nl = memchr(in + pos, '\n', len - pos);
		ll = nl != NULL ? (size_t)(nl - (in + pos)) : len - pos;
		rr.r = imap_parser_line(p, in + pos, ll);
		pos += ll + (nl != NULL);
		if (rr.r != IMAP_PARSE_LITERAL)
			break;
		rr.nlit++;
		imap_parser_literal_size(p, &sync);
		rr.nsync += sync;
		while (imap_parser_literal_left(p) > 0 && pos < len) {
			n = len - pos < chunk ? len - pos : chunk;
			pos += imap_parser_literal(p, in + pos, n);
		}
	} while (pos < len);
	rr.used = pos;
	return rr;
}

static struct run
runs(struct imap_parser *p, const char *s)
{
	return run(p, s, strlen(s), 3);
}

static void
dump_arg(const struct imap_arg *a, char *b, size_t bsz)
{
	const struct imap_arg	*c;
	char			 tmp[64];

	switch (a->type) {
	case IMAP_ARG_ATOM:
	case IMAP_ARG_NIL:
		strlcat(b, a->str, bsz);
		break;
	case IMAP_ARG_QUOTED:
		strlcat(b, "\"", bsz);
		strlcat(b, a->str, bsz);
		strlcat(b, "\"", bsz);
		break;
	case IMAP_ARG_LITERAL:
		snprintf(tmp, sizeof(tmp), "%s{%zu}",
		    a->flags & IMAP_ARGF_LITERAL8 ? "~" : "", a->len);
		strlcat(b, tmp, bsz);
		strlcat(b, a->str, bsz);
		break;
	case IMAP_ARG_LIST:
		strlcat(b, "(", bsz);
		for (c = a->list; c != NULL; c = c->next) {
			dump_arg(c, b, bsz);
			if (c->next != NULL)
				strlcat(b, " ", bsz);
		}
		strlcat(b, ")", bsz);
		break;
	}
}

/* "tag [UID ]NAME arg ..." of the parsed command. */
static const char *
dump(struct imap_parser *p)
{
	const struct imap_command	*c;
	const struct imap_arg		*a;

	if ((c = imap_parser_command(p)) == NULL)
		return "(none)";
	snprintf(dumpbuf, sizeof(dumpbuf), "%s %s%s", c->tag,
	    c->uid ? "UID " : "", c->name);
	for (a = c->args; a != NULL; a = a->next) {
		strlcat(dumpbuf, " ", sizeof(dumpbuf));
		dump_arg(a, dumpbuf, sizeof(dumpbuf));
	}
	return dumpbuf;
}

/* Children counts match the chains, strings are terminated. */
static int
check_tree(const struct imap_arg *a, size_t n, size_t *total)
{
	size_t	 k = 0;

	for (; a != NULL; a = a->next, k++) {
		(*total)++;
		if (a->type == IMAP_ARG_LIST) {
			if (a->str != NULL ||
			    !check_tree(a->list, a->nlist, total))
				return 0;
		} else if (a->str == NULL || a->str[a->len] != '\0')
			return 0;
	}
	return k == n;
}

static void
test_good(void)
{
	struct imap_parser		*p = imap_parser_new(NULL);
	const struct imap_command	*c;
	struct run			 r;
	const char			*s;
	size_t				 len;

	r = runs(p, "a001 login bob \"pa\\\"ss\\\\w\"\r\n");
	is_int(r.r, IMAP_PARSE_DONE, "LOGIN quoted: done");
	is_str(dump(p), "a001 LOGIN bob \"pa\"ss\\w\"", "LOGIN quoted");
	c = imap_parser_command(p);
	is_int(c->nargs, 2, "LOGIN: 2 args");
	is_int(c->args->next->type, IMAP_ARG_QUOTED, "password quoted");
	is_int(c->args->next->len, 7, "unescaped length");

	r = runs(p, "A2 SELECT \"INBOX\"\r\n");
	is_str(dump(p), "A2 SELECT \"INBOX\"", "SELECT \"INBOX\"");
	c = imap_parser_command(p);
	ok(imap_arg_mailbox(c->args, 0, &s) == 0 && strcmp(s, "INBOX") == 0,
	    "SELECT mailbox");

	r = runs(p, "t NOOP\r\n");
	is_int(r.r, IMAP_PARSE_DONE, "NOOP");
	c = imap_parser_command(p);
	ok(c->args == NULL && c->nargs == 0, "NOOP: no args");

	runs(p, "t NOOP\n");
	is_str(dump(p), "t NOOP", "bare LF accepted");

	runs(p, "a3 STORE 2:4 +FLAGS.SILENT (\\Seen \\Deleted)\r\n");
	is_str(dump(p), "a3 STORE 2:4 +FLAGS.SILENT (\\Seen \\Deleted)",
	    "STORE +FLAGS.SILENT");
	c = imap_parser_command(p);
	is_int(c->args->next->next->type, IMAP_ARG_LIST, "flag list");
	is_int(c->args->next->next->nlist, 2, "2 flags");
	is_str(c->args->next->next->list->str, "\\Seen", "\\Seen");

	runs(p, "a4 uid store 1:* -FLAGS ()\r\n");
	is_str(dump(p), "a4 UID STORE 1:* -FLAGS ()", "UID STORE empty list");
	c = imap_parser_command(p);
	ok(c->uid && c->args->next->next->nlist == 0 &&
	    c->args->next->next->list == NULL, "empty list");

	runs(p, "s1 SEARCH CHARSET UTF-8 OR (FROM \"bob\" NOT SEEN) "
	    "(NOT (OR DELETED DRAFT) SINCE 1-Feb-2024) UID 1:100,200\r\n");
	is_str(dump(p), "s1 SEARCH CHARSET UTF-8 OR (FROM \"bob\" NOT SEEN) "
	    "(NOT (OR DELETED DRAFT) SINCE 1-Feb-2024) UID 1:100,200",
	    "SEARCH nested");
	c = imap_parser_command(p);
	is_int(c->nargs, 7, "SEARCH: 7 top-level args");

	runs(p, "u UID SEARCH RETURN (SAVE) $\r\n");
	is_str(dump(p), "u UID SEARCH RETURN (SAVE) $", "UID SEARCH $");

	runs(p, "i1 ID (\"name\" \"sodr\" \"version\" NIL \"os\" nil)\r\n");
	is_str(dump(p), "i1 ID (\"name\" \"sodr\" \"version\" NIL \"os\" nil)",
	    "ID with NIL");
	c = imap_parser_command(p);
	is_int(c->args->list->next->next->next->type, IMAP_ARG_NIL,
	    "NIL type");
	is_int(c->args->list->next->next->next->next->next->type,
	    IMAP_ARG_NIL, "nil lower case");
	ok(imap_arg_astring(c->args->list->next->next->next, &s, &len) == 0 &&
	    strcmp(s, "NIL") == 0 && len == 3, "NIL as astring");

	runs(p, "i2 ID NIL\r\n");
	c = imap_parser_command(p);
	is_int(c->args->type, IMAP_ARG_NIL, "ID NIL");

	runs(p, "l LIST \"\" \"%\"\r\n");
	is_str(dump(p), "l LIST \"\" \"%\"", "LIST quoted");
	runs(p, "l LIST \"\" INBOX.*\r\n");
	c = imap_parser_command(p);
	ok(imap_arg_mailbox(c->args->next, 1, &s) == 0 &&
	    strcmp(s, "INBOX.*") == 0, "LIST pattern with wildcards");
	ok(imap_arg_mailbox(c->args->next, 0, &s) == -1,
	    "wildcards refused outside LIST");

	runs(p, "x SELECT foo]bar\r\n");
	is_str(dump(p), "x SELECT foo]bar", "']' in astring atom");

	runs(p, "a5 enable UTF8=ACCEPT CONDSTORE\r\n");
	is_str(dump(p), "a5 ENABLE UTF8=ACCEPT CONDSTORE", "ENABLE");

	runs(p, "a6 SELECT \"Entw\xc3\xbcrfe\"\r\n");
	is_str(dump(p), "a6 SELECT \"Entw\xc3\xbcrfe\"", "UTF-8 quoted");

	runs(p, "a7 LIST (SUBSCRIBED) \"\" (\"INBOX\" \"Sent\") "
	    "RETURN (CHILDREN STATUS (MESSAGES UNSEEN))\r\n");
	is_str(dump(p), "a7 LIST (SUBSCRIBED) \"\" (\"INBOX\" \"Sent\") "
	    "RETURN (CHILDREN STATUS (MESSAGES UNSEEN))", "LIST-EXTENDED");
	imap_parser_free(p);
}

static void
test_fetch(void)
{
	struct imap_parser		*p = imap_parser_new(NULL);
	const struct imap_command	*c;
	const struct imap_arg		*a;
	struct run			 r;

	r = runs(p, "f1 FETCH 1:* (FLAGS "
	    "BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)]<0.512>)\r\n");
	is_int(r.r, IMAP_PARSE_DONE, "FETCH: done");
	is_str(dump(p), "f1 FETCH 1:* (FLAGS "
	    "BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)]<0.512>)", "FETCH dump");
	c = imap_parser_command(p);
	is_int(c->nargs, 2, "FETCH: 2 args");
	is_int(c->args->next->nlist, 2, "FETCH: 2 items");
	a = c->args->next->list->next;
	is_int(a->type, IMAP_ARG_ATOM, "section item is an atom");
	ok(a->flags & IMAP_ARGF_SECTION, "section flag");
	is_int(a->namelen, 9, "name length");
	ok(strncmp(a->str, "BODY.PEEK", a->namelen) == 0, "name");
	is_int(a->seclen, 28, "section length");
	ok(strncmp(a->section, "HEADER.FIELDS (FROM SUBJECT)",
	    a->seclen) == 0, "section text");
	ok(a->flags & IMAP_ARGF_PARTIAL, "partial flag");
	is_int(a->partial_off, 0, "partial offset");
	is_int(a->partial_len, 512, "partial length");

	runs(p, "f2 UID FETCH 100:200,300 (UID BODY[] BINARY.PEEK[1.2] "
	    "BODY[1.MIME]<10.4294967295>) (CHANGEDSINCE 12345)\r\n");
	is_str(dump(p), "f2 UID FETCH 100:200,300 (UID BODY[] "
	    "BINARY.PEEK[1.2] BODY[1.MIME]<10.4294967295>) "
	    "(CHANGEDSINCE 12345)", "UID FETCH");
	c = imap_parser_command(p);
	ok(c->uid, "UID flag");
	is_str(c->name, "FETCH", "name without UID");
	a = c->args->next->list->next;
	ok((a->flags & IMAP_ARGF_SECTION) && a->seclen == 0 &&
	    !(a->flags & IMAP_ARGF_PARTIAL), "BODY[] empty section");
	a = a->next->next;
	is_int(a->partial_off, 10, "partial 10");
	is_int(a->partial_len, 4294967295U, "partial 2^32-1");

	runs(p, "f3 FETCH 1 BODY[HEADER.FIELDS.NOT (\"X-A\" \"a)]\\\"\")]\r\n");
	c = imap_parser_command(p);
	ok(c != NULL && c->nargs == 2, "quoted ')' and ']' inside section");
	if (c != NULL)
		ok(strncmp(c->args->next->section,
		    "HEADER.FIELDS.NOT (\"X-A\" \"a)]\\\"\")",
		    c->args->next->seclen) == 0, "section kept raw");

	/* RFC 3501 9: '[' is an ATOM-CHAR, ']' an ASTRING-CHAR. */
	runs(p, "f5 SELECT a[b\r\n");
	c = imap_parser_command(p);
	ok(c != NULL && c->args->type == IMAP_ARG_ATOM &&
	    !(c->args->flags & IMAP_ARGF_SECTION) &&
	    strcmp(c->args->str, "a[b") == 0, "SELECT a[b: plain atom");
	runs(p, "f6 LIST \"\" !#$&'+,-.0123456789:;<=>?@^_`|[}%*\r\n");
	c = imap_parser_command(p);
	ok(c != NULL && c->nargs == 2 && strcmp(c->args->next->str,
	    "!#$&'+,-.0123456789:;<=>?@^_`|[}%*") == 0,
	    "LIST pattern with every atom-special allowed");
	runs(p, "f7 STATUS x[1]y (MESSAGES)\r\n");
	c = imap_parser_command(p);
	ok(c != NULL && strcmp(c->args->str, "x[1]y") == 0,
	    "astring with brackets");
	runs(p, "f8 fetch 1 body.peek[text]\r\n");
	c = imap_parser_command(p);
	ok(c != NULL && (c->args->next->flags & IMAP_ARGF_SECTION),
	    "lower-case body.peek[ is still a section");

	runs(p, "f4 fetch 2 all\r\n");
	is_str(dump(p), "f4 FETCH 2 all", "FETCH macro");
	imap_parser_free(p);
}

static void
test_literals(void)
{
	struct imap_parser		*p = imap_parser_new(NULL);
	const struct imap_command	*c;
	const struct imap_arg		*a;
	struct run			 r;
	static const char		 msg[] =
	    "From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n";
	char				 in[512];
	size_t				 ch;
	int				 sync;

	r = runs(p, "a LOGIN {3}\r\nbob {8}\r\np\"ss wd)\r\n");
	is_int(r.r, IMAP_PARSE_DONE, "LOGIN literals: done");
	is_int(r.nlit, 2, "2 literals");
	is_int(r.nsync, 2, "both synchronizing");
	is_str(dump(p), "a LOGIN {3}bob {8}p\"ss wd)", "LOGIN literal");

	/* Synchronizing literal split over chunks of every size. */
	for (ch = 1; ch <= 7; ch++) {
		snprintf(in, sizeof(in), "A003 APPEND saved-messages "
		    "(\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {%zu}\r\n%s\r\n",
		    sizeof(msg) - 1, msg);
		r = run(p, in, strlen(in), ch);
		if (r.r != IMAP_PARSE_DONE)
			break;
		c = imap_parser_command(p);
		a = c->args->next->next->next;
		if (a->type != IMAP_ARG_LITERAL || a->len != sizeof(msg) - 1 ||
		    memcmp(a->str, msg, a->len) != 0 || r.used != strlen(in))
			break;
	}
	is_int(ch, 8, "APPEND literal in chunks of 1..7");
	is_str(dump(p), "A003 APPEND saved-messages (\\Seen) "
	    "\" 7-Feb-1994 21:52:25 -0800\" {42}From: a@example.org\r\n"
	    "Subject: hi\r\n\r\nbody\r\n", "APPEND dump");

	r = runs(p, "b APPEND INBOX {5+}\r\nhello\r\n");
	is_int(r.r, IMAP_PARSE_DONE, "LITERAL+: done");
	is_int(r.nsync, 0, "LITERAL+ is not synchronizing");
	is_str(dump(p), "b APPEND INBOX {5}hello", "LITERAL+ dump");

	r = run(p, "c APPEND INBOX (\\Seen) ~{6}\r\nab\0cd\n\r\n", 37, 4);
	is_int(r.r, IMAP_PARSE_DONE, "literal8: done");
	c = imap_parser_command(p);
	a = c->args->next->next;
	ok(a->type == IMAP_ARG_LITERAL && (a->flags & IMAP_ARGF_LITERAL8) &&
	    a->len == 6 && memcmp(a->str, "ab\0cd\n", 6) == 0,
	    "literal8 keeps NUL");
	/* the NUL stops strlen in runs(): use run() with the length */
	r = run(p, "c APPEND INBOX ~{3}\r\na\0b\r\n", 25, 2);
	is_int(r.r, IMAP_PARSE_DONE, "literal8 with NUL: done");
	r = run(p, "c APPEND INBOX {3}\r\na\0b\r\n", 24, 2);
	is_int(r.r, IMAP_PARSE_ERROR, "NUL in plain literal refused");
	is_str(imap_parser_tag(p), "c", "tag kept");
	is_str(imap_parser_error(p, NULL), "NUL in literal", "reason");

	r = runs(p, "d APPEND INBOX {0}\r\n\r\n");
	is_int(r.r, IMAP_PARSE_DONE, "empty literal");
	is_str(dump(p), "d APPEND INBOX {0}", "empty literal dump");

	r = runs(p, "e MULTI (a {2}\r\nxy) {1+}\r\nz (b)\r\n");
	is_int(r.r, IMAP_PARSE_DONE, "literal inside list");
	is_str(dump(p), "e MULTI (a {2}xy) {1}z (b)", "literal in list dump");

	/* Announcement reported before any byte; size and sync known. */
	is_int(imap_parser_line(p, "f LOGIN {12}\r", 13), IMAP_PARSE_LITERAL,
	    "LITERAL result");
	is_int(imap_parser_literal_size(p, &sync), 12, "literal size");
	is_int(sync, 1, "sync");
	is_int(imap_parser_literal_left(p), 12, "left");
	is_int(imap_parser_literal(p, "0123456789abcdef", 16), 12,
	    "only the literal is taken");
	is_int(imap_parser_literal_left(p), 0, "nothing left");
	is_int(imap_parser_line(p, "", 0), IMAP_PARSE_DONE, "done");
	is_str(imap_parser_command(p)->args->str, "0123456789ab",
	    "literal content");

	is_int(imap_parser_line(p, "g LOGIN {3}", 11), IMAP_PARSE_LITERAL,
	    "literal announced");
	is_int(imap_parser_line(p, "h NOOP", 6), IMAP_PARSE_ERROR,
	    "line while literal expected");
	imap_parser_free(p);
}

static const struct {
	const char	*in;
	const char	*tag;		/* NULL: untagged BAD */
	int		 code;
} bad[] = {
	{ "", NULL, IMAP_ERR_SYNTAX },
	{ "\r", NULL, IMAP_ERR_SYNTAX },
	{ " a NOOP", NULL, IMAP_ERR_SYNTAX },
	{ "a+b NOOP", NULL, IMAP_ERR_SYNTAX },
	{ "a*b NOOP", NULL, IMAP_ERR_SYNTAX },
	{ "(a NOOP", NULL, IMAP_ERR_SYNTAX },
	{ "\"a\" NOOP", NULL, IMAP_ERR_SYNTAX },
	{ "{3}", NULL, IMAP_ERR_SYNTAX },
	{ "t\xe9 NOOP", NULL, IMAP_ERR_SYNTAX },
	{ "a", "a", IMAP_ERR_SYNTAX },
	{ "a ", "a", IMAP_ERR_SYNTAX },
	{ "a  NOOP", "a", IMAP_ERR_SYNTAX },
	{ "a NO\xc3\xa9P", "a", IMAP_ERR_SYNTAX },
	{ "a NOOP(", "a", IMAP_ERR_SYNTAX },
	{ "a ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGH", "a", IMAP_ERR_SYNTAX },
	{ "a UID", "a", IMAP_ERR_SYNTAX },
	{ "a UID LOGIN x y", "a", IMAP_ERR_SYNTAX },
	{ "a NOOP ", "a", IMAP_ERR_SYNTAX },
	{ "a SELECT  INBOX", "a", IMAP_ERR_SYNTAX },
	{ "a SELECT \"INBOX", "a", IMAP_ERR_SYNTAX },
	{ "a SELECT \"IN\\BOX\"", "a", IMAP_ERR_SYNTAX },
	{ "a SELECT \"INBOX\\", "a", IMAP_ERR_SYNTAX },
	{ "a SELECT \"IN\"BOX", "a", IMAP_ERR_SYNTAX },
	{ "a SELECT IN\xc3\xa9", "a", IMAP_ERR_SYNTAX },
	{ "a SELECT IN\"BOX", "a", IMAP_ERR_SYNTAX },
	{ "a SELECT IN\\BOX", "a", IMAP_ERR_SYNTAX },
	{ "a SELECT IN{BOX", "a", IMAP_ERR_SYNTAX },
	{ "a SELECT IN\tBOX", "a", IMAP_ERR_SYNTAX },
	{ "a SELECT \\", "a", IMAP_ERR_SYNTAX },
	{ "a STORE 1 FLAGS (\\Seen", "a", IMAP_ERR_SYNTAX },
	{ "a STORE 1 FLAGS \\Seen)", "a", IMAP_ERR_SYNTAX },
	{ "a STORE 1 FLAGS ( \\Seen)", "a", IMAP_ERR_SYNTAX },
	{ "a STORE 1 FLAGS (\\Seen )", "a", IMAP_ERR_SYNTAX },
	{ "a STORE 1 FLAGS (a)(b)", "a", IMAP_ERR_SYNTAX },
	{ "a FETCH 1 BODY[HEADER", "a", IMAP_ERR_SYNTAX },
	{ "a FETCH 1 BODY[HEADER]]", "a", IMAP_ERR_SYNTAX },
	{ "a FETCH 1 BODY[[]", "a", IMAP_ERR_SYNTAX },
	{ "a FETCH 1 BODY[HEADER.FIELDS (A]", "a", IMAP_ERR_SYNTAX },
	{ "a FETCH 1 BODY[HEADER.FIELDS A)]", "a", IMAP_ERR_SYNTAX },
	{ "a FETCH 1 BODY[HEADER.FIELDS ((A))]", "a", IMAP_ERR_SYNTAX },
	{ "a FETCH 1 BODY[]<0>", "a", IMAP_ERR_SYNTAX },
	{ "a FETCH 1 BODY[]<0.0>", "a", IMAP_ERR_SYNTAX },
	{ "a FETCH 1 BODY[]<.5>", "a", IMAP_ERR_SYNTAX },
	{ "a FETCH 1 BODY[]<1.4294967296>", "a", IMAP_ERR_SYNTAX },
	{ "a FETCH 1 BODY[]<1.2>x", "a", IMAP_ERR_SYNTAX },
	{ "a FETCH 1 BODY[]x", "a", IMAP_ERR_SYNTAX },
	{ "a FETCH 1 BODY[\xc3\xa9]", "a", IMAP_ERR_SYNTAX },
	{ "a LOGIN {", "a", IMAP_ERR_SYNTAX },
	{ "a LOGIN {}", "a", IMAP_ERR_SYNTAX },
	{ "a LOGIN {3", "a", IMAP_ERR_SYNTAX },
	{ "a LOGIN {-3}", "a", IMAP_ERR_SYNTAX },
	{ "a LOGIN {3x}", "a", IMAP_ERR_SYNTAX },
	{ "a LOGIN {3++}", "a", IMAP_ERR_SYNTAX },
	{ "a LOGIN {3} ", "a", IMAP_ERR_SYNTAX },
	{ "a LOGIN {3}x", "a", IMAP_ERR_SYNTAX },
	{ "a LOGIN x{3}", "a", IMAP_ERR_SYNTAX },
	{ "a LOGIN ~{3", "a", IMAP_ERR_SYNTAX },
	{ "a LOGIN {99999999999999999999999}", "a", IMAP_ERR_TOOBIG },
	{ "a LOGIN {18446744073709551615}", "a", IMAP_ERR_TOOBIG },
	{ "a LOGIN {70000}", "a", IMAP_ERR_TOOBIG },
	{ "a LOGIN {3}\r\nbobx", "a", IMAP_ERR_SYNTAX },
	{ "a LOGIN {3}\r\nbob(", "a", IMAP_ERR_SYNTAX },
	{ "a LOGIN {3}\r\nbob \r", "a", IMAP_ERR_SYNTAX },
	{ "a LOGIN a\rb", "a", IMAP_ERR_SYNTAX },
	{ "a UID FETCH 1 (FLAGS))", "a", IMAP_ERR_SYNTAX },
};

static void
test_bad(void)
{
	struct imap_parser	*p = imap_parser_new(NULL);
	enum imap_parse_error	 code;
	struct run		 r;
	const char		*tag;
	size_t			 i;

	for (i = 0; i < nitems(bad); i++) {
		r = runs(p, bad[i].in);
		imap_parser_error(p, &code);
		tag = imap_parser_tag(p);
		ok(r.r == IMAP_PARSE_ERROR && (int)code == bad[i].code &&
		    (bad[i].tag == NULL ? tag == NULL :
		    tag != NULL && strcmp(tag, bad[i].tag) == 0),
		    "bad input %zu refused: %s", i,
		    imap_parser_error(p, NULL));
	}

	/* NUL in a line, past strlen. */
	is_int(imap_parser_line(p, "a NO\0OP", 7), IMAP_PARSE_ERROR,
	    "NUL in line");
	/* The parser recovers: the next line is a new command. */
	runs(p, "z NOOP\r\n");
	is_str(dump(p), "z NOOP", "recovers after an error");
	imap_parser_free(p);
}

static void
test_limits(void)
{
	struct imap_limits	 lim = {
		.line_max = 64, .lit_max = 10, .append_max = 100,
		.lit_total = 150, .args_max = 5, .depth_max = 2
	};
	struct imap_parser	*p = imap_parser_new(&lim);
	enum imap_parse_error	 code;
	struct run		 r;
	int			 sync;
	char			 big[200];

	r = runs(p, "a LOGIN {10}\r\n0123456789 x\r\n");
	is_int(r.r, IMAP_PARSE_DONE, "literal at lit_max");
	r = runs(p, "a LOGIN {11+}\r\n01234567890 x\r\n");
	is_int(r.r, IMAP_PARSE_ERROR, "literal over lit_max");
	imap_parser_error(p, &code);
	is_int(code, IMAP_ERR_TOOBIG, "TOOBIG");
	is_int(imap_parser_literal_size(p, &sync), 11, "refused size known");
	is_int(sync, 0, "refused literal was non-sync: caller skips it");
	is_int(r.used, 15, "nothing of the literal was taken");

	r = runs(p, "b APPEND x {100}\r\n");
	is_int(r.r, IMAP_PARSE_LITERAL, "APPEND uses append_max");
	imap_parser_reset(p);
	r = runs(p, "b APPEND x {101}\r\n");
	is_int(r.r, IMAP_PARSE_ERROR, "over append_max");
	memset(big, 'x', 200);
	memcpy(big, "c APPEND x {100}\n", 17);
	memcpy(big + 117, " {60}\n", 6);
	r = run(p, big, 123 + 60, 50);
	imap_parser_error(p, &code);
	ok(r.r == IMAP_PARSE_ERROR && code == IMAP_ERR_TOOBIG,
	    "lit_total bounds all literals");

	r = runs(p, "d X a b c d e\r\n");
	is_int(r.r, IMAP_PARSE_DONE, "5 args");
	r = runs(p, "d X a b c d e f\r\n");
	is_int(r.r, IMAP_PARSE_ERROR, "6 args refused");
	r = runs(p, "d X (((a)))\r\n");
	is_int(r.r, IMAP_PARSE_ERROR, "depth 3 refused");
	r = runs(p, "d X ((a))\r\n");
	is_int(r.r, IMAP_PARSE_DONE, "depth 2");
	/* "e X " and 60 bytes: 64; one more is too long. */
	memset(big, 'y', sizeof(big));
	memcpy(big, "e X ", 4);
	r = run(p, big, 64, 1);
	is_int(r.r, IMAP_PARSE_DONE, "line of 64");
	r = run(p, big, 65, 1);
	imap_parser_error(p, &code);
	ok(r.r == IMAP_PARSE_ERROR && code == IMAP_ERR_TOOBIG, "line of 65");
	/* the literal byte z does not count */
	memcpy(big, "f X {1}\nz ", 10);
	r = run(p, big, 9 + 57, 1);
	is_int(r.r, IMAP_PARSE_DONE, "64 bytes over two lines");
	r = run(p, big, 9 + 58, 1);
	is_int(r.r, IMAP_PARSE_ERROR, "line_max counts all lines");
	imap_parser_free(p);
}

static void
test_seqset(void)
{
	struct imap_seqset	 s;
	const char		*err = NULL;
	static const char	*badsets[] = {
		"", "0", "0:5", "1:0", "1,", ",1", "1,,2", "1:", ":1", "a",
		"1a", "1 2", "-1", "4294967296", "1:4294967296", "1:*:2",
		"$,1", "1,$", "$$", "*x", "01"
	};
	size_t			 i;
	int			 r;

	r = imap_seqset_parse("1,3:5,*:7", 10, &s, &err);
	ok(r == 0 && s.n == 3 && s.r[0].lo == 1 && s.r[0].hi == 1 &&
	    s.r[1].lo == 3 && s.r[1].hi == 5 && s.r[2].lo == 7 &&
	    s.r[2].hi == 10, "1,3:5,*:7 with * = 10");
	ok(imap_seqset_contains(&s, 1) && !imap_seqset_contains(&s, 2) &&
	    imap_seqset_contains(&s, 3) && imap_seqset_contains(&s, 10) &&
	    !imap_seqset_contains(&s, 11) && !imap_seqset_contains(&s, 0),
	    "membership");
	imap_seqset_free(&s);

	r = imap_seqset_parse("4294967295", 5, &s, &err);
	ok(r == 0 && s.n == 1 && s.r[0].lo == 4294967295U &&
	    s.r[0].hi == 4294967295U, "4294967295");
	imap_seqset_free(&s);

	r = imap_seqset_parse("5:2,9,1,2:3,4294967295,1:*", 4294967295U, &s,
	    &err);
	ok(r == 0 && s.n == 1 && s.r[0].lo == 1 && s.r[0].hi == 4294967295U,
	    "merge up to 2^32-1");
	imap_seqset_free(&s);

	r = imap_seqset_parse("7:9,1:2,3,11", 20, &s, &err);
	ok(r == 0 && s.n == 3 && s.r[0].hi == 3 && s.r[1].lo == 7 &&
	    s.r[2].lo == 11, "adjacent ranges merged, sorted");
	imap_seqset_free(&s);

	r = imap_seqset_parse("*", 0, &s, &err);
	ok(r == 0 && s.n == 0, "* in an empty mailbox: empty set");
	imap_seqset_free(&s);
	r = imap_seqset_parse("3:*", 0, &s, &err);
	ok(r == 0 && s.n == 1 && s.r[0].lo == 1 && s.r[0].hi == 3,
	    "3:* with * = 0 clipped");
	imap_seqset_free(&s);

	r = imap_seqset_parse("$", 10, &s, &err);
	ok(r == 0 && s.searchres && s.n == 0, "$");
	imap_seqset_free(&s);

	for (i = 0; i < nitems(badsets); i++) {
		err = NULL;
		r = imap_seqset_parse(badsets[i], 10, &s, &err);
		ok(r == -1 && err != NULL && s.r == NULL, "bad set '%s'",
		    badsets[i]);
	}
}

static void
test_helpers(void)
{
	struct imap_parser		*p = imap_parser_new(NULL);
	const struct imap_command	*c;
	const char			*s;
	char				 b[64];
	size_t				 n;

	ok(rfc3501_tag("a001", IMAP_TAG_MAX) &&
	    rfc3501_tag("A.1]x", IMAP_TAG_MAX), "oracle: good tags");
	ok(!rfc3501_tag("", IMAP_TAG_MAX) && !rfc3501_tag("a+1", 8) &&
	    !rfc3501_tag("a b", 8) && !rfc3501_tag("a*", 8) &&
	    !rfc3501_tag("a\xc3\xa9", 8) && !rfc3501_tag("{1}", 8) &&
	    !rfc3501_tag("abc", 2), "oracle: bad tags");

	runs(p, "a X \\Seen BODY[] foo* \"q\" ~{1}\r\nz\r\n");
	c = imap_parser_command(p);
	ok(c != NULL && imap_arg_astring(c->args, &s, NULL) == -1,
	    "flag not an astring");
	ok(c != NULL && imap_arg_astring(c->args->next, &s, &n) == 0 &&
	    n == 6, "atom with [] is an astring");
	ok(c != NULL && imap_arg_astring(c->args->next->next, &s, NULL) == -1,
	    "wildcard not an astring");
	ok(c != NULL && imap_arg_astring(c->args->next->next->next, &s,
	    NULL) == 0 && strcmp(s, "q") == 0, "quoted astring");
	ok(c != NULL && imap_arg_astring(c->args->next->next->next->next, &s,
	    NULL) == -1, "literal8 not an astring");
	runs(p, "a X {3}\r\na\tb ()\r\n");
	c = imap_parser_command(p);
	ok(c != NULL && imap_arg_mailbox(c->args, 0, &s) == -1,
	    "control character refused in mailbox");
	ok(c != NULL && imap_arg_astring(c->args->next, &s, NULL) == -1,
	    "list not an astring");

	n = imap_encode_string(b, sizeof(b), "a\"b\\c", 5, 0);
	is_str(b, "\"a\\\"b\\\\c\"", "quoted with escapes");
	is_int(n, 9, "quoted length");
	n = imap_encode_string(b, sizeof(b), "a\r\nb", 4, 0);
	is_str(b, "{4}\r\na\r\nb", "CRLF forces a literal");
	is_int(n, 9, "literal length");
	imap_encode_string(b, sizeof(b), "\xc3\xa9", 2, 0);
	is_str(b, "{2}\r\n\xc3\xa9", "8-bit: literal");
	imap_encode_string(b, sizeof(b), "\xc3\xa9", 2, IMAP_ENC_UTF8);
	is_str(b, "\"\xc3\xa9\"", "8-bit with UTF8=ACCEPT: quoted");
	imap_encode_string(b, sizeof(b), NULL, 0, 0);
	is_str(b, "NIL", "NULL is NIL");
	imap_encode_string(b, sizeof(b), "", 0, 0);
	is_str(b, "\"\"", "empty string");
	n = imap_encode_string(b, 4, "abcdef", 6, 0);
	ok(n == 8 && strcmp(b, "\"ab") == 0, "truncation like snprintf");
	n = imap_encode_string(NULL, 0, "abcdef", 6, 0);
	is_int(n, 8, "size query");
	imap_parser_free(p);
}

/*
 * Random commands made of IMAP-ish pieces and random bytes, fed with
 * random chunk sizes under tight limits: nothing may crash, and every
 * complete command must have a valid tag and a consistent tree.
 */
static void
test_fuzz(void)
{
	static const char	*pieces[] = {
		"a ", "A1 ", "UID ", "FETCH", "APPEND", "LOGIN", " ", " ",
		"(", ")", "\"", "\\", "{", "}", "~{", "+", "1", "3", "0",
		"\r\n", "\n", "[", "]", "<", ">", ".", ":", "*", ",", "NIL",
		"BODY[", "{3}\r\n", "{2+}\r\n", "~{1}\r\n", "FLAGS", "%",
		"HEADER.FIELDS (", "\"x\\\"\"", "99999999999999999999"
	};
	struct imap_limits	 lim = {
		.line_max = 200, .lit_max = 20, .append_max = 40,
		.lit_total = 50, .args_max = 20, .depth_max = 4
	};
	struct imap_parser	*p = imap_parser_new(&lim);
	const struct imap_command *c;
	struct imap_seqset	 set;
	struct run		 rr;
	char			 in[512], enc[64];
	size_t			 len, pos, k, total, chunk;
	int			 iter, np, r, failures = 0, done = 0;
	const char		*e;

	srandom(12345);	/* reproducible */
	for (iter = 0; iter < 100000; iter++) {
		len = 0;
		np = random() % 24;
		for (k = 0; k < (size_t)np; k++) {
			if (random() % 8 == 0) {
				in[len++] = random() & 0xff;
				continue;
			}
			e = pieces[random() % nitems(pieces)];
			if (len + strlen(e) >= sizeof(in))
				break;
			memcpy(in + len, e, strlen(e));
			len += strlen(e);
		}
		chunk = 1 + random() % 5;
		for (pos = 0; pos < len; ) {
			rr = run(p, in + pos, len - pos, chunk);
			if (rr.used == 0)
				break;
			pos += rr.used;
			if (rr.r == IMAP_PARSE_DONE) {
				done++;
				c = imap_parser_command(p);
				total = 0;
				if (c == NULL ||
				    !rfc3501_tag(c->tag, IMAP_TAG_MAX) ||
				    !check_tree(c->args, c->nargs, &total) ||
				    total > lim.args_max)
					failures++;
			} else if (rr.r == IMAP_PARSE_ERROR &&
			    imap_parser_error(p, NULL) == NULL)
				failures++;
		}
		imap_parser_reset(p);

		in[len] = '\0';
		r = imap_seqset_parse(in, random(), &set, &e);
		if (r == 0) {
			for (k = 1; k < set.n; k++)
				if (set.r[k].lo <= set.r[k - 1].hi)
					failures++;
			imap_seqset_free(&set);
		}
		if (imap_encode_string(enc, sizeof(enc), in, len,
		    random() & 1) >= sizeof(enc) &&
		    enc[sizeof(enc) - 1] != '\0')
			failures++;
	}
	is_int(failures, 0, "fuzz: 100000 inputs, invariants hold");
	ok(done > 1000, "fuzz: %d complete commands seen", done);
	imap_parser_free(p);
}

int
main(void)
{
	test_good();
	test_fetch();
	test_literals();
	test_bad();
	test_limits();
	test_seqset();
	test_helpers();
	test_fuzz();
	return done_testing();
}
