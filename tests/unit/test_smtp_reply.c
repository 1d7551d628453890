/*
 * Unit tests for smtp_reply.c: the relay's parser of server replies
 * (multi-line, bad and mixed codes, limits, cleaning) and dot-stuffing
 * (every split of the input into two chunks, bare CR and LF, a last
 * line without CRLF).
 */
#include <stdlib.h>
#include <string.h>

#include "smtp_reply.h"
#include "tap.h"

static int	 feed(struct smtp_reply *, const char *, const char **);
static void	 test_single(void);
static void	 test_multi(void);
static void	 test_bad(void);
static void	 test_limits(void);
static void	 test_clean(void);
static char	*stuff_all(const char *, size_t, size_t, size_t *);
static void	 test_stuff(void);
static void	 test_stuff_splits(void);

/* One line as io_getline() returns it: writable, without the LF. */
static int
feed(struct smtp_reply *r, const char *s, const char **textp)
{
	char	 buf[SMTP_REPLY_LINE_MAX + 64];
	size_t	 n = strlen(s);
	int	 rv;

	if (n >= sizeof(buf))
		return -99;
	memcpy(buf, s, n + 1);
	rv = smtp_reply_line(r, buf, n, textp);
	/* textp pointed into buf: keep only whether it was empty. */
	*textp = **textp == '\0' ? "" : "(text)";
	return rv;
}

static void
test_single(void)
{
	struct smtp_reply	 r;
	const char		*t;

	smtp_reply_init(&r);
	is_int(feed(&r, "220 mx.example ESMTP\r", &t), SMTP_REPLY_DONE,
	    "one line with CR: done");
	is_int(r.code, 220, "code 220");
	is_str(r.text, "220 mx.example ESMTP", "text without the CR");
	is_str(t, "(text)", "text after the code");
	is_int(feed(&r, "250", &t), SMTP_REPLY_DONE, "bare code: done");
	is_int(r.code, 250, "a new reply after the last one");
	is_str(t, "", "no text");
	is_int(r.nlines, 1, "one line");
	is_int(feed(&r, "354 go ahead", &t), SMTP_REPLY_DONE,
	    "without CR: done too");
	is_int(feed(&r, "599 ", &t), SMTP_REPLY_DONE, "599 is a code");
	is_int(feed(&r, "200 x", &t), SMTP_REPLY_DONE, "200 is a code");
}

static void
test_multi(void)
{
	struct smtp_reply	 r;
	const char		*t;
	char			 line[64];
	int			 i, rv = -2;

	smtp_reply_init(&r);
	is_int(feed(&r, "250-mx.example hello\r", &t), SMTP_REPLY_MORE,
	    "250-: more");
	is_int(feed(&r, "250-PIPELINING\r", &t), SMTP_REPLY_MORE,
	    "second line: more");
	is_int(r.nlines, 2, "two lines so far");
	is_int(feed(&r, "250-", &t), SMTP_REPLY_MORE, "empty continuation");
	is_str(t, "", "... has no text");
	is_int(feed(&r, "250 STARTTLS\r", &t), SMTP_REPLY_DONE,
	    "250 ends it");
	is_str(r.text, "250-mx.example hello", "the first line is kept");
	is_int(r.nlines, 4, "four lines");

	/* Exactly the limit is fine. */
	smtp_reply_init(&r);
	for (i = 0; i < SMTP_REPLY_LINES - 1; i++) {
		(void)snprintf(line, sizeof(line), "250-line %d", i);
		if ((rv = feed(&r, line, &t)) != SMTP_REPLY_MORE)
			break;
	}
	is_int(rv, SMTP_REPLY_MORE, "99 continuation lines");
	is_int(feed(&r, "250 last", &t), SMTP_REPLY_DONE,
	    "SMTP_REPLY_LINES lines in all: accepted");
}

static void
test_bad(void)
{
	static const char *bad[] = {
		"", "2", "25", "25x", "2500", "250x text", "abc",
		"150 intermediate", "600 too big", "099 too small",
		"25 0", "hello world", " 250 space", "250\tTab",
		"2a0 x", "-250", "250_x",
	};
	struct smtp_reply	 r;
	const char		*t;
	char			 nul[] = "250 a\0b";
	size_t			 i;

	for (i = 0; i < nitems(bad); i++) {
		smtp_reply_init(&r);
		ok(feed(&r, bad[i], &t) == SMTP_REPLY_BAD, "bad line \"%s\"",
		    bad[i]);
	}
	smtp_reply_init(&r);
	is_int(smtp_reply_line(&r, nul, sizeof(nul) - 1, &t), SMTP_REPLY_BAD,
	    "a NUL inside the line");

	smtp_reply_init(&r);
	is_int(feed(&r, "250-first", &t), SMTP_REPLY_MORE, "250-");
	is_int(feed(&r, "550 second", &t), SMTP_REPLY_BAD,
	    "another code in the same reply");
	smtp_reply_init(&r);
	(void)feed(&r, "451-wait", &t);
	is_int(feed(&r, "450 wait", &t), SMTP_REPLY_BAD,
	    "451 then 450: mixed codes");
	smtp_reply_init(&r);
	(void)feed(&r, "250-ok", &t);
	is_int(feed(&r, "250", &t), SMTP_REPLY_DONE, "a bare code ends it");
	is_int(feed(&r, "550 no", &t), SMTP_REPLY_DONE,
	    "then a new code starts a new reply");
	is_int(r.code, 550, "... with its own code");
}

static void
test_limits(void)
{
	struct smtp_reply	 r;
	const char		*t;
	char			*big, line[64];
	int			 i, rv = 0;

	smtp_reply_init(&r);
	for (i = 0; i <= SMTP_REPLY_LINES; i++) {
		(void)snprintf(line, sizeof(line), "250-line %d", i);
		if ((rv = feed(&r, line, &t)) != SMTP_REPLY_MORE)
			break;
	}
	ok(i == SMTP_REPLY_LINES && rv == SMTP_REPLY_BAD,
	    "line %d of one reply refused (at %d)", SMTP_REPLY_LINES + 1,
	    i + 1);

	if ((big = malloc(SMTP_REPLY_LINE_MAX + 10)) == NULL)
		abort();
	memset(big, 'x', SMTP_REPLY_LINE_MAX + 9);
	memcpy(big, "250 ", 4);
	smtp_reply_init(&r);
	big[SMTP_REPLY_LINE_MAX + 1] = '\0';
	is_int(smtp_reply_line(&r, big, SMTP_REPLY_LINE_MAX + 1, &t),
	    SMTP_REPLY_BAD, "a line over SMTP_REPLY_LINE_MAX");
	memset(big, 'x', SMTP_REPLY_LINE_MAX + 9);
	memcpy(big, "250 ", 4);
	big[SMTP_REPLY_LINE_MAX] = '\0';
	smtp_reply_init(&r);
	is_int(smtp_reply_line(&r, big, SMTP_REPLY_LINE_MAX, &t),
	    SMTP_REPLY_DONE, "a line of SMTP_REPLY_LINE_MAX bytes");
	is_int(strlen(r.text), ERRMSG_MAX - 1, "text truncated to fit");
	ok(strncmp(r.text, "250 xxx", 7) == 0, "from its beginning");
	/* CR + LF-less line of max + 1 with its CR: the CR does not count */
	memset(big, 'x', SMTP_REPLY_LINE_MAX + 9);
	memcpy(big, "250 ", 4);
	big[SMTP_REPLY_LINE_MAX] = '\r';
	big[SMTP_REPLY_LINE_MAX + 1] = '\0';
	smtp_reply_init(&r);
	is_int(smtp_reply_line(&r, big, SMTP_REPLY_LINE_MAX + 1, &t),
	    SMTP_REPLY_DONE, "the CR is not counted");
	free(big);
}

static void
test_clean(void)
{
	struct smtp_reply	 r;
	const char		*t;
	char			 s[] = "a\tb\x1b[31mc\x7f\xc3\xa9";

	smtp_reply_clean(s);
	is_str(s, "a?b?[31mc???", "controls, DEL and 8-bit bytes cleaned");
	smtp_reply_init(&r);
	is_int(feed(&r, "550 5.1.1 caf\xc3\xa9 \x1b[2J gone\r", &t),
	    SMTP_REPLY_DONE, "8-bit reply accepted");
	is_str(r.text, "550 5.1.1 caf?? ?[2J gone", "... and kept cleaned");
	smtp_reply_init(&r);
	is_int(feed(&r, "250 a\rb", &t), SMTP_REPLY_DONE,
	    "a CR inside the line");
	is_str(r.text, "250 a?b", "... is cleaned");
}

/* Stuff in[0..len) as two chunks split at cut, then end the data. */
static char *
stuff_all(const char *in, size_t len, size_t cut, size_t *olen)
{
	struct smtp_stuff	 st;
	char			*out;
	size_t			 o;

	if ((out = malloc(SMTP_STUFF_ROOM(len) + 8)) == NULL)
		abort();
	smtp_stuff_init(&st);
	o = smtp_stuff(&st, in, cut, out);
	o += smtp_stuff(&st, in + cut, len - cut, out + o);
	o += smtp_stuff_end(&st, out + o);
	out[o] = '\0';
	*olen = o;
	return out;
}

static void
test_stuff(void)
{
	static const struct {
		const char	*in, *out, *name;
	} cases[] = {
		{ "", ".\r\n", "empty message" },
		{ "a\r\n", "a\r\n.\r\n", "one line" },
		{ "a", "a\r\n.\r\n", "last line without CRLF" },
		{ ".\r\n", "..\r\n.\r\n", "a lone dot" },
		{ ".a\r\n..b\r\n", "..a\r\n...b\r\n.\r\n", "leading dots" },
		{ "a.\r\n.", "a.\r\n..\r\n.\r\n", "dots elsewhere and last" },
		{ "a\nb\n", "a\r\nb\r\n.\r\n", "bare LF" },
		{ "a\rb\r", "a\r\nb\r\n.\r\n", "bare CR" },
		{ "a\n.b", "a\r\n..b\r\n.\r\n", "bare LF then dot" },
		{ "a\r.b", "a\r\n..b\r\n.\r\n", "bare CR then dot" },
		{ "\r\n.\r\n", "\r\n..\r\n.\r\n", "the end sequence itself" },
		{ "a\r\r\n", "a\r\n\r\n.\r\n", "CR CR LF" },
		{ "a\n\r.", "a\r\n\r\n..\r\n.\r\n", "LF CR dot" },
		{ "\r", "\r\n.\r\n", "a lone CR" },
	};
	struct smtp_stuff	 st;
	char			 out[64], *got;
	size_t			 i, n, o;

	for (i = 0; i < nitems(cases); i++) {
		got = stuff_all(cases[i].in, strlen(cases[i].in), 0, &n);
		is_str(got, cases[i].out, cases[i].name);
		free(got);
	}
	smtp_stuff_init(&st);
	o = smtp_stuff(&st, "DKIM-Signature: v=1;\r\n\tb=x", 27, out);
	o += smtp_stuff_eol(&st, out + o);
	is_int(o, 29, "eol ends an open line");
	is_int(smtp_stuff_eol(&st, out + o), 0, "and nothing more after it");
	smtp_stuff_init(&st);
	o = smtp_stuff(&st, "a\r", 2, out);
	is_int(o, 1, "a CR is held");
	is_int(smtp_stuff_eol(&st, out + o), 2, "eol ends it as CRLF");
	/* Worst case for the room: a held CR, then dots after line ends. */
	smtp_stuff_init(&st);
	(void)smtp_stuff(&st, "x\r", 2, out);
	o = smtp_stuff(&st, ".\r.\r.", 5, out);
	ok(o <= SMTP_STUFF_ROOM(5), "output within SMTP_STUFF_ROOM (%zu)", o);
	out[o] = '\0';
	is_str(out, "\r\n..\r\n..\r\n..", "held CR then dots");
}

/* Every split of a nasty input gives the same bytes. */
static void
test_stuff_splits(void)
{
	static const char	 in[] = ".a\r\n..\rb\n.\r\n\r.\r\nc\r\r\n.";
	static const char	 want[] = "..a\r\n...\r\nb\r\n..\r\n\r\n..\r\n"
				    "c\r\n\r\n..\r\n.\r\n";
	size_t			 len = sizeof(in) - 1, cut, n;
	int			 bad = 0;
	char			*got;

	for (cut = 0; cut <= len; cut++) {
		got = stuff_all(in, len, cut, &n);
		if (n != sizeof(want) - 1 || memcmp(got, want, n) != 0) {
			printf("# split at %zu: '%s'\n", cut, got);
			bad++;
		}
		free(got);
	}
	is_int(bad, 0, "same output for every split point");
	got = stuff_all(in, len, 0, &n);
	ok(strstr(got, "\r\n.\r\n") == got + n - 5, "no early end of data");
	free(got);
}

int
main(void)
{
	test_single();
	test_multi();
	test_bad();
	test_limits();
	test_clean();
	test_stuff();
	test_stuff_splits();
	return done_testing();
}
