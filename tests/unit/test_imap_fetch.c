/*
 * Tests for imap_fetch.c: FETCH arguments are run through the real
 * command parser, compiled, and rendered against the messages in
 * tests/data/fetch (directory from $MAILD_FETCH_TESTDIR); the exact
 * response bytes are checked, including partials, BINARY decoding,
 * the unknown-encoding failure, refused arguments and the limits, and
 * broken or deep messages must not crash (build with
 * -fsanitize=address,undefined).
 */
#include <sys/types.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compat.h"
#include "imap.h"
#include "imap_parser.h"
#include "mime.h"
#include "tap.h"

struct fixture {
	const char	*name;
	char		*buf;
	size_t		 len;
};

static char	*load(const char *, size_t *);
static const struct fixture *fx(const char *);
static int	 compile(int, const char *, struct fetch_spec **,
		    const char **);
static void	 msg_init(struct fetch_msg *, const struct fixture *);
static int	 run(int, const char *, const struct fetch_msg *, int,
		    struct mbuf *);
static void	 check(const char *, const char *, const char *, int,
		    const char *);
static void	 check_mem(const char *, const char *, int, const char *,
		    size_t);
static char	*lit(const char *, size_t);
static char	*fmt(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2)));
static int	 wellformed(const struct mbuf *, size_t);
static void	 test_compile_ok(void);
static void	 test_compile_errors(void);
static void	 test_limits(void);
static void	 test_needs(void);
static void	 test_simple(void);
static void	 test_partial(void);
static void	 test_dates(void);
static void	 test_flags(void);
static void	 test_multi(void);
static void	 test_rfc822(void);
static void	 test_broken(void);
static void	 test_empty(void);
static void	 test_nul(void);
static void	 test_deep(void);
static void	 test_sweep(void);
static void	 test_section(void);
static void	 test_objectid(void);

static const char	*dir = "tests/data/fetch";
static struct imap_parser *parser;
static struct fixture	 fixtures[] = {
	{ "simple.eml", NULL, 0 }, { "multi.eml", NULL, 0 },
	{ "rfc822.eml", NULL, 0 }, { "fwd_single.eml", NULL, 0 },
	{ "broken.eml", NULL, 0 }, { "empty.eml", NULL, 0 }
};

static char *
load(const char *name, size_t *len)
{
	char	 path[1024], *buf;
	FILE	*f;
	long	 n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "rb")) == NULL) {
		printf("Bail out! cannot open %s\n", path);
		exit(1);
	}
	if (fseek(f, 0, SEEK_END) == -1 || (n = ftell(f)) < 0)
		exit(1);
	rewind(f);
	if ((buf = malloc(n + 1)) == NULL)
		exit(1);
	if (fread(buf, 1, n, f) != (size_t)n)
		exit(1);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static const struct fixture *
fx(const char *name)
{
	size_t	 i;

	for (i = 0; i < nitems(fixtures); i++)
		if (strcmp(fixtures[i].name, name) == 0)
			return &fixtures[i];
	printf("Bail out! no fixture %s\n", name);
	exit(1);
}

/* "a [UID ]FETCH 1 <rest>": compile what follows the sequence set. */
static int
compile(int uid, const char *rest, struct fetch_spec **fs,
    const char **err)
{
	const struct imap_command	*c;
	char				 line[70000];

	*fs = NULL;
	*err = NULL;
	snprintf(line, sizeof(line), "a %sFETCH 1%s%s", uid ? "UID " : "",
	    rest[0] != '\0' ? " " : "", rest);
	if (imap_parser_line(parser, line, strlen(line)) != IMAP_PARSE_DONE) {
		*err = imap_parser_error(parser, NULL);
		imap_parser_reset(parser);
		return -2;
	}
	c = imap_parser_command(parser);
	if (c == NULL || c->args == NULL)
		return -2;
	return fetch_compile(c->args->next, c->uid, fs, err);
}

static void
msg_init(struct fetch_msg *m, const struct fixture *f)
{
	memset(m, 0, sizeof(*m));
	m->seq = 1;
	m->uid = 7;
	m->modseq = 42;
	m->flags = "(\\Seen)";
	m->internaldate = 1700000000;
	m->size = f != NULL ? f->len : 0;
	m->data = f != NULL ? f->buf : NULL;
	m->len = f != NULL ? f->len : 0;
}

/* Compile and render into o (appending): fetch_render's result, -2. */
static int
run(int uid, const char *rest, const struct fetch_msg *m, int flags,
    struct mbuf *o)
{
	struct fetch_spec	*fs;
	const char		*err;
	int			 r;

	if (compile(uid, rest, &fs, &err) != 0) {
		printf("# compile %s: %s\n", rest, err ? err : "?");
		return -2;
	}
	r = fetch_render(o, fs, m, flags);
	fetch_free(fs);
	return r;
}

/* Render items of fixture file, compare with "* 1 FETCH (exp)\r\n". */
static void
check(const char *file, const char *items, const char *exp, int uid,
    const char *name)
{
	struct fetch_msg	 m;
	struct mbuf		 o;
	char			*want;

	msg_init(&m, file != NULL ? fx(file) : NULL);
	memset(&o, 0, sizeof(o));
	if (run(uid, items, &m, 0, &o) != 0) {
		ok(0, "%s (render failed)", name);
		mbuf_free(&o);
		return;
	}
	want = fmt("* 1 FETCH (%s)\r\n", exp);
	is_str(o.data, want, name);
	free(want);
	mbuf_free(&o);
}

/* The same with bytes that may hold NULs. */
static void
check_mem(const char *file, const char *items, int uid, const char *exp,
    size_t explen)
{
	struct fetch_msg	 m;
	struct mbuf		 o;
	int			 r;

	msg_init(&m, fx(file));
	memset(&o, 0, sizeof(o));
	r = run(uid, items, &m, 0, &o);
	ok(r == 0 && o.len == explen && memcmp(o.data, exp, explen) == 0,
	    "%s: %s (bytes)", file, items);
	mbuf_free(&o);
}

/* "{n}\r\n<s>" as a malloc'd string. */
static char *
lit(const char *s, size_t n)
{
	struct mbuf	 b;

	memset(&b, 0, sizeof(b));
	mbuf_printf(&b, "{%zu}\r\n", n);
	mbuf_add(&b, s, n);
	return b.data;
}

static char *
fmt(const char *f, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, f);
	if (vasprintf(&s, f, ap) == -1)
		exit(1);
	va_end(ap);
	return s;
}

static int
wellformed(const struct mbuf *o, size_t start)
{
	return o->len >= start + 14 &&
	    strncmp(o->data + start, "* 1 FETCH (", 11) == 0 &&
	    memcmp(o->data + o->len - 3, ")\r\n", 3) == 0;
}

static void
test_compile_ok(void)
{
	static const char *const good[] = {
		"ALL", "fast", "Full", "FLAGS", "(FLAGS)", "UID",
		("(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY "
		    "BODYSTRUCTURE RFC822 RFC822.HEADER RFC822.TEXT MODSEQ)"),
		"BODY[]", "BODY.PEEK[]<0.1>", "body[header]", "BODY[TEXT]",
		"BODY[1]", "BODY[1.2.3]", "BODY[1.MIME]", "BODY[1.HEADER]",
		"BODY[2.TEXT]", "BODY[HEADER.FIELDS (From)]",
		"BODY[HEADER.FIELDS.NOT (From To)]",
		"BODY[1.HEADER.FIELDS (\"X-A\" b)]",
		"body.peek[1.header.fields.not (a)]<10.20>",
		"BINARY[]", "BINARY[1]", "BINARY.PEEK[1.2]<0.5>",
		"BINARY.SIZE[1]", "BINARY.SIZE[]", "BODY[999999999]",
		"FLAGS (CHANGEDSINCE 0)", "FLAGS (changedsince 12345)",
		"FLAGS (CHANGEDSINCE 9223372036854775807)"
	};
	struct fetch_spec	*fs;
	const char		*err;
	size_t			 i;
	int			 r;

	for (i = 0; i < nitems(good); i++) {
		r = compile(0, good[i], &fs, &err);
		ok(r == 0 && fs != NULL, "compiles: %s", good[i]);
		if (r != 0)
			printf("#   error: %s\n", err ? err : "?");
		fetch_free(fs);
	}
	r = compile(1, "FLAGS (CHANGEDSINCE 1 VANISHED)", &fs, &err);
	ok(r == 0, "UID FETCH with CHANGEDSINCE and VANISHED");
	fetch_free(fs);
	r = compile(1, "FLAGS (VANISHED CHANGEDSINCE 1)", &fs, &err);
	ok(r == 0, "modifiers in any order");
	fetch_free(fs);
	fetch_free(NULL);
}

static void
test_compile_errors(void)
{
	static const struct {
		int		 uid;
		const char	*args;
		const char	*err;	/* NULL: any */
	} bad[] = {
		{ 0, "", "Missing FETCH items" },
		{ 0, "FOO", "Unknown FETCH item" },
		{ 0, "(FLAGS FOO)", "Unknown FETCH item" },
		{ 0, "(FLAGS ALL)", "FETCH macros are not allowed in a list" },
		{ 0, "(FAST)", "FETCH macros are not allowed in a list" },
		{ 0, "()", "Empty FETCH item list" },
		{ 0, "(FLAGS (UID))", NULL },
		{ 0, "\"FLAGS\"", NULL },
		{ 0, "NIL", NULL },
		{ 0, "RFC822.SIZE.X", NULL },
		{ 0, "BODY.PEEK", NULL },
		{ 0, "BINARY", NULL },
		{ 0, "BINARY.SIZE", NULL },
		{ 0, "RFC822[]", NULL },
		{ 0, "UID[]", NULL },
		{ 0, "BODYX[]", NULL },
		{ 0, "BODY[FOO]", "Invalid section" },
		{ 0, "BODY[0]", NULL },
		{ 0, "BODY[1.0]", NULL },
		{ 0, "BODY[01]", NULL },
		{ 0, "BODY[1.]", NULL },
		{ 0, "BODY[.1]", NULL },
		{ 0, "BODY[1..2]", NULL },
		{ 0, "BODY[1234567890]", NULL },
		{ 0, "BODY[MIME]", NULL },
		{ 0, "BODY[HEADERX]", NULL },
		{ 0, "BODY[TEXT.HEADER]", NULL },
		{ 0, "BODY[1.FOO]", NULL },
		{ 0, "BODY[HEADER.FIELDS]", NULL },
		{ 0, "BODY[HEADER.FIELDS ]", NULL },
		{ 0, "BODY[HEADER.FIELDS ()]", NULL },
		{ 0, "BODY[HEADER.FIELDS (A  B)]", NULL },
		{ 0, "BODY[HEADER.FIELDS (A )]", NULL },
		{ 0, "BODY[HEADER.FIELDS ( A)]", NULL },
		{ 0, "BODY[HEADER.FIELDS (A) (B)]", NULL },
		{ 0, "BODY[HEADER.FIELDS (A)X]", NULL },
		{ 0, "BODY[HEADER.FIELDS A]", NULL },
		{ 0, "BODY[HEADER.FIELDS  (A)]", NULL },
		{ 0, "BODY[HEADER.FIELDS (\"\")]", NULL },
		{ 0, "BODY[HEADER.FIELDS (A%)]", NULL },
		{ 0, "BODY[HEADER.FIELDS (\"A\"B)]", NULL },
		{ 0, "BODY[HEADER.FIELDS.NOT]", NULL },
		{ 0, "BODY[1.2.HEADER.FIELDS.NOT]", NULL },
		{ 0, "BINARY[HEADER]", "BINARY takes only a part number" },
		{ 0, "BINARY[1.TEXT]", "BINARY takes only a part number" },
		{ 0, "BINARY[1.MIME]", NULL },
		{ 0, "BINARY.PEEK[TEXT]", NULL },
		{ 0, "BINARY.SIZE[1]<0.5>",
		    "BINARY.SIZE takes no partial range" },
		{ 0, "FLAGS (VANISHED)",
		    "VANISHED is only allowed in UID FETCH" },
		{ 0, "FLAGS (CHANGEDSINCE 1 VANISHED)",
		    "VANISHED is only allowed in UID FETCH" },
		{ 1, "FLAGS (VANISHED)", "VANISHED needs CHANGEDSINCE" },
		{ 1, "FLAGS (CHANGEDSINCE 1 VANISHED VANISHED)", NULL },
		{ 0, "FLAGS (CHANGEDSINCE)", NULL },
		{ 0, "FLAGS (CHANGEDSINCE x)", NULL },
		{ 0, "FLAGS (CHANGEDSINCE -1)", NULL },
		{ 0, "FLAGS (CHANGEDSINCE 1x)", NULL },
		{ 0, "FLAGS (CHANGEDSINCE \"1\")", NULL },
		{ 0, "FLAGS (CHANGEDSINCE (1))", NULL },
		{ 0, "FLAGS (CHANGEDSINCE 9223372036854775808)", NULL },
		{ 0, "FLAGS (CHANGEDSINCE 99999999999999999999999)", NULL },
		{ 0, "FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)", NULL },
		{ 0, "FLAGS (FOO)", "Unknown FETCH modifier" },
		{ 0, "FLAGS ()", NULL },
		{ 0, "FLAGS CHANGEDSINCE", NULL },
		{ 0, "FLAGS (CHANGEDSINCE 1) X", "Too many FETCH arguments" },
		{ 0, "FLAGS FLAGS", NULL }
	};
	struct fetch_spec	*fs;
	const char		*err;
	size_t			 i;
	int			 r;

	for (i = 0; i < nitems(bad); i++) {
		r = compile(bad[i].uid, bad[i].args, &fs, &err);
		ok(r == -1 && fs == NULL && err != NULL &&
		    (bad[i].err == NULL || strcmp(err, bad[i].err) == 0),
		    "refused: %s%s (%s)", bad[i].uid ? "UID " : "",
		    bad[i].args, err != NULL ? err : "no reason");
		fetch_free(fs);
	}
	/* Unbalanced input never reaches fetch_compile. */
	r = compile(0, "(UID FLAGS", &fs, &err);
	is_int(r, -2, "parser refuses an unclosed list");
	r = compile(0, "BODY[HEADER.FIELDS (A]", &fs, &err);
	is_int(r, -2, "parser refuses an unclosed header list");
	r = compile(0, "BODY[HEADER", &fs, &err);
	is_int(r, -2, "parser refuses an unclosed section");
	r = compile(0, "BODY[]<0.0>", &fs, &err);
	is_int(r, -2, "parser refuses an empty partial");
	r = compile(0, "BODY[]<1>", &fs, &err);
	is_int(r, -2, "parser refuses a partial without length");
}

static void
test_limits(void)
{
	struct fetch_spec	*fs;
	struct mbuf		 b, o;
	struct fetch_msg	 m;
	const char		*err;
	char			 name[200], *e, *l;
	int			 i, r;

	/* 64 distinct items, then 65. */
	memset(&b, 0, sizeof(b));
	mbuf_add(&b, "(", 1);
	for (i = 1; i <= 64; i++)
		mbuf_printf(&b, "%sBODY.PEEK[%d]", i > 1 ? " " : "", i);
	mbuf_add(&b, ")", 1);
	r = compile(0, b.data, &fs, &err);
	ok(r == 0, "64 items");
	fetch_free(fs);
	b.len--;
	mbuf_add(&b, " UID)", 5);
	r = compile(0, b.data, &fs, &err);
	ok(r == -1 && strcmp(err, "Too many FETCH items") == 0, "65 items");
	mbuf_free(&b);

	/* Repeated items are one item, and do not count. */
	memset(&b, 0, sizeof(b));
	mbuf_add(&b, "(", 1);
	for (i = 0; i < 200; i++)
		mbuf_add(&b, "FLAGS BODY[] BODY.PEEK[] ", 25);
	mbuf_add(&b, "UID)", 4);
	msg_init(&m, fx("simple.eml"));
	memset(&o, 0, sizeof(o));
	r = run(0, b.data, &m, 0, &o);
	l = lit(m.data, m.len);
	e = fmt("* 1 FETCH (FLAGS (\\Seen) BODY[] %s UID 7)\r\n", l);
	ok(r == 0, "600 repeated items");
	is_str(o.data, e, "duplicates are reported once");
	free(e);
	free(l);
	mbuf_free(&o);
	mbuf_free(&b);

	/* 64 field names, then 65. */
	memset(&b, 0, sizeof(b));
	mbuf_add(&b, "BODY[HEADER.FIELDS (", 20);
	for (i = 1; i <= 64; i++)
		mbuf_printf(&b, "%sX-%d", i > 1 ? " " : "", i);
	mbuf_add(&b, ")]", 2);
	r = compile(0, b.data, &fs, &err);
	ok(r == 0, "64 header field names");
	fetch_free(fs);
	b.len -= 2;
	mbuf_add(&b, " X-65)]", 7);
	r = compile(0, b.data, &fs, &err);
	ok(r == -1 && strcmp(err, "Too many header field names") == 0,
	    "65 header field names");
	mbuf_free(&b);

	/* Field names of 128 and 129 bytes, atom and quoted. */
	memset(name, 'a', sizeof(name));
	name[128] = '\0';
	memset(&b, 0, sizeof(b));
	mbuf_printf(&b, "BODY[HEADER.FIELDS (%s)]", name);
	r = compile(0, b.data, &fs, &err);
	ok(r == 0, "128-byte field name");
	fetch_free(fs);
	b.len = 0;
	mbuf_printf(&b, "BODY[HEADER.FIELDS (%sa)]", name);
	r = compile(0, b.data, &fs, &err);
	ok(r == -1 && strcmp(err, "Header field name too long") == 0,
	    "129-byte field name");
	b.len = 0;
	mbuf_printf(&b, "BODY[HEADER.FIELDS (\"%sa\")]", name);
	r = compile(0, b.data, &fs, &err);
	ok(r == -1 && strcmp(err, "Header field name too long") == 0,
	    "129-byte quoted field name");
	mbuf_free(&b);

	/* Part numbers: 64 levels fit, 70 do not. */
	memset(&b, 0, sizeof(b));
	mbuf_add(&b, "BODY[1", 6);
	for (i = 1; i < 64; i++)
		mbuf_add(&b, ".1", 2);
	mbuf_add(&b, "]", 1);
	r = compile(0, b.data, &fs, &err);
	ok(r == 0, "64-level part number");
	fetch_free(fs);
	b.len--;
	for (; i < 70; i++)
		mbuf_add(&b, ".1", 2);
	mbuf_add(&b, "]", 1);
	r = compile(0, b.data, &fs, &err);
	ok(r == -1 && strcmp(err, "Section part number too long") == 0,
	    "70-level part number");
	mbuf_free(&b);
}

static void
test_needs(void)
{
	static const struct {
		int		 uid;
		const char	*args;
		int		 needs;
	} t[] = {
		{ 0, "UID", 0 },
		{ 1, "UID", 0 },
		{ 0, "FLAGS", FETCH_NEED_FLAGS },
		{ 0, "FAST", FETCH_NEED_FLAGS | FETCH_NEED_DATE |
		    FETCH_NEED_SIZE },
		{ 0, "ALL", FETCH_NEED_FLAGS | FETCH_NEED_DATE |
		    FETCH_NEED_SIZE | FETCH_NEED_ENVELOPE },
		{ 0, "FULL", FETCH_NEED_FLAGS | FETCH_NEED_DATE |
		    FETCH_NEED_SIZE | FETCH_NEED_ENVELOPE | FETCH_NEED_BODY },
		{ 0, "BODY", FETCH_NEED_BODY },
		{ 0, "BODYSTRUCTURE", FETCH_NEED_BODYSTRUCTURE },
		{ 0, "ENVELOPE", FETCH_NEED_ENVELOPE },
		{ 0, "MODSEQ", FETCH_NEED_MODSEQ },
		{ 0, "RFC822.SIZE", FETCH_NEED_SIZE },
		{ 0, "INTERNALDATE", FETCH_NEED_DATE },
		{ 0, "BODY[]", FETCH_NEED_CONTENT | FETCH_SETS_SEEN },
		{ 0, "BODY[1.MIME]", FETCH_NEED_CONTENT | FETCH_SETS_SEEN },
		{ 0, "BODY.PEEK[]", FETCH_NEED_CONTENT },
		{ 0, "BODY.PEEK[HEADER.FIELDS (A)]<0.5>", FETCH_NEED_CONTENT },
		{ 0, "RFC822", FETCH_NEED_CONTENT | FETCH_SETS_SEEN },
		{ 0, "RFC822.HEADER", FETCH_NEED_CONTENT },
		{ 0, "RFC822.TEXT", FETCH_NEED_CONTENT | FETCH_SETS_SEEN },
		{ 0, "BINARY[1]", FETCH_NEED_CONTENT | FETCH_SETS_SEEN },
		{ 0, "BINARY.PEEK[1]", FETCH_NEED_CONTENT },
		{ 0, "BINARY.SIZE[1]", FETCH_NEED_CONTENT },
		{ 0, "(BODY.PEEK[] BODY[])", FETCH_NEED_CONTENT |
		    FETCH_SETS_SEEN },
		{ 0, "FLAGS (CHANGEDSINCE 5)", FETCH_NEED_FLAGS |
		    FETCH_NEED_MODSEQ | FETCH_CHANGEDSINCE },
		{ 1, "FLAGS (CHANGEDSINCE 5 VANISHED)", FETCH_NEED_FLAGS |
		    FETCH_NEED_MODSEQ | FETCH_CHANGEDSINCE | FETCH_VANISHED }
	};
	struct fetch_spec	*fs;
	const char		*err;
	size_t			 i;

	for (i = 0; i < nitems(t); i++) {
		if (compile(t[i].uid, t[i].args, &fs, &err) != 0) {
			ok(0, "needs of %s: compile failed", t[i].args);
			continue;
		}
		is_int(fetch_needs(fs), t[i].needs, t[i].args);
		fetch_free(fs);
	}
	compile(0, "FLAGS (CHANGEDSINCE 9223372036854775807)", &fs, &err);
	ok(fs != NULL && fetch_changedsince(fs) == 9223372036854775807ULL,
	    "CHANGEDSINCE value kept");
	fetch_free(fs);
	compile(0, "FLAGS", &fs, &err);
	ok(fs != NULL && fetch_changedsince(fs) == 0, "no CHANGEDSINCE: 0");
	fetch_free(fs);
}

static void
test_simple(void)
{
	const struct fixture	*f = fx("simple.eml");
	const char		*hdr_end, *body;
	char			*e, *l;
	size_t			 hlen;

	body = strstr(f->buf, "\r\n\r\n") + 4;
	hdr_end = body;
	hlen = hdr_end - f->buf;

	l = lit(f->buf, f->len);
	e = fmt("BODY[] %s", l);
	check("simple.eml", "BODY[]", e, 0, "BODY[]");
	free(e);
	e = fmt("RFC822 %s", l);
	check("simple.eml", "RFC822", e, 0, "RFC822");
	free(e);
	e = fmt("BINARY[] %s", l);
	check("simple.eml", "BINARY.PEEK[]", e, 0, "BINARY[] is the raw "
	    "message");
	free(e);
	free(l);

	l = lit(f->buf, hlen);
	e = fmt("BODY[HEADER] %s", l);
	check("simple.eml", "BODY.PEEK[HEADER]", e, 0, "BODY[HEADER]");
	free(e);
	e = fmt("RFC822.HEADER %s", l);
	check("simple.eml", "RFC822.HEADER", e, 0, "RFC822.HEADER");
	free(e);
	e = fmt("BODY[1.MIME] %s", l);
	check("simple.eml", "BODY[1.MIME]", e, 0,
	    "BODY[1.MIME] of a single part: the message header");
	free(e);
	free(l);

	check("simple.eml", "BODY[TEXT]",
	    "BODY[TEXT] {26}\r\nHi Bob,\r\nthis is a test.\r\n", 0,
	    "BODY[TEXT]");
	check("simple.eml", "body[1]",
	    "BODY[1] {26}\r\nHi Bob,\r\nthis is a test.\r\n", 0,
	    "BODY[1] of a single part is its body");
	check("simple.eml", "RFC822.TEXT",
	    "RFC822.TEXT {26}\r\nHi Bob,\r\nthis is a test.\r\n", 0,
	    "RFC822.TEXT");
	check("simple.eml", "BINARY[1]",
	    "BINARY[1] {26}\r\nHi Bob,\r\nthis is a test.\r\n", 0,
	    "BINARY[1] without encoding");
	check("simple.eml", "BINARY.SIZE[1]", "BINARY.SIZE[1] 26", 0,
	    "BINARY.SIZE[1]");
	check("simple.eml", "BODY[2]", "BODY[2] \"\"", 0,
	    "nonexistent part is empty");
	check("simple.eml", "BODY[1.1]", "BODY[1.1] \"\"", 0,
	    "nonexistent subpart is empty");
	check("simple.eml", "BODY[1.HEADER]", "BODY[1.HEADER] \"\"", 0,
	    "HEADER of a part that is no message is empty");
	check("simple.eml", "BINARY[2]", "BINARY[2] \"\"", 0,
	    "nonexistent BINARY part is empty");
	check("simple.eml", "BINARY.SIZE[2]", "BINARY.SIZE[2] 0", 0,
	    "nonexistent BINARY.SIZE is 0");
	check("simple.eml", "(UID BODY.PEEK[HEADER.FIELDS (From Subject)])",
	    "UID 7 BODY[HEADER.FIELDS (FROM SUBJECT)] {51}\r\n"
	    "From: Alice <alice@example.org>\r\nSubject: Hello\r\n\r\n", 0,
	    "HEADER.FIELDS, names upper-cased");
	check("simple.eml",
	    "body.peek[header.fields (subject \"X-None\" \"Sub ject\")]",
	    "BODY[HEADER.FIELDS (SUBJECT X-NONE \"SUB JECT\")] {18}\r\n"
	    "Subject: Hello\r\n\r\n", 0,
	    "HEADER.FIELDS echo: atoms plain, others quoted");
	check("simple.eml", "BODY[HEADER.FIELDS (\"a\\\"b\")]",
	    "BODY[HEADER.FIELDS (\"A\\\"B\")] {2}\r\n\r\n", 0,
	    "HEADER.FIELDS echo escapes quotes");
	check("simple.eml", "BODY[HEADER.FIELDS.NOT (To Date Message-ID)]",
	    "BODY[HEADER.FIELDS.NOT (TO DATE MESSAGE-ID)] {51}\r\n"
	    "From: Alice <alice@example.org>\r\nSubject: Hello\r\n\r\n", 0,
	    "HEADER.FIELDS.NOT");
	check("simple.eml", "BODY[1.HEADER.FIELDS (From)]",
	    "BODY[1.HEADER.FIELDS (FROM)] \"\"", 0,
	    "part HEADER.FIELDS of a non-message is empty");
	check("simple.eml", "(UID RFC822.SIZE MODSEQ FLAGS)",
	    "UID 7 RFC822.SIZE 171 MODSEQ (42) FLAGS (\\Seen)", 0,
	    "simple items in the order asked");
	check("simple.eml", "ENVELOPE",
	    "ENVELOPE (\"Mon, 1 Jan 2024 10:00:00 +0000\" \"Hello\" "
	    "((\"Alice\" NIL \"alice\" \"example.org\")) "
	    "((\"Alice\" NIL \"alice\" \"example.org\")) "
	    "((\"Alice\" NIL \"alice\" \"example.org\")) "
	    "((\"Bob\" NIL \"bob\" \"example.com\")) NIL NIL NIL "
	    "\"<1@example.org>\")", 0, "ENVELOPE computed from the data");
	check("simple.eml", "(BODY BODYSTRUCTURE)",
	    "BODY (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 26 2) BODYSTRUCTURE (\"text\" \"plain\" "
	    "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 26 2 NIL NIL NIL "
	    "NIL)", 0, "BODY and BODYSTRUCTURE computed from the data");
	check("simple.eml", "UID", "UID 7", 1, "UID FETCH UID");
	check("simple.eml", "FLAGS", "UID 7 FLAGS (\\Seen)", 1,
	    "UID FETCH adds UID first");
	check("simple.eml", "(FLAGS UID)", "FLAGS (\\Seen) UID 7", 1,
	    "UID FETCH keeps an explicit UID where it was");
	check("simple.eml", "FLAGS (CHANGEDSINCE 5)",
	    "MODSEQ (42) FLAGS (\\Seen)", 0, "CHANGEDSINCE adds MODSEQ");
	check("simple.eml", "FLAGS (CHANGEDSINCE 5 VANISHED)",
	    "UID 7 MODSEQ (42) FLAGS (\\Seen)", 1,
	    "UID FETCH CHANGEDSINCE: UID, MODSEQ, FLAGS");
	check("simple.eml", "(FLAGS MODSEQ) (CHANGEDSINCE 5)",
	    "FLAGS (\\Seen) MODSEQ (42)", 0, "explicit MODSEQ kept in place");
}

static void
test_partial(void)
{
	const struct fixture	*f = fx("simple.eml");
	char			*e, *l;

	check("simple.eml", "BODY[]<0.10>", "BODY[]<0> {10}\r\nFrom: Alic",
	    0, "partial from 0");
	l = lit(f->buf + 165, 6);
	e = fmt("BODY[]<165> %s", l);
	check("simple.eml", "BODY[]<165.100>", e, 0,
	    "partial clipped at the end");
	free(e);
	free(l);
	check("simple.eml", "BODY[]<170.1>", "BODY[]<170> {1}\r\n\n", 0,
	    "partial of the last byte");
	check("simple.eml", "BODY[]<171.5>", "BODY[]<171> \"\"", 0,
	    "partial at the end: empty");
	check("simple.eml", "BODY[]<4294967295.4294967295>",
	    "BODY[]<4294967295> \"\"", 0, "partial far past the end");
	check("simple.eml", "BODY.PEEK[TEXT]<3.4>",
	    "BODY[TEXT]<3> {4}\r\nBob,", 0, "partial of TEXT");
	check("simple.eml", "BODY[HEADER.FIELDS (Subject)]<9.100>",
	    "BODY[HEADER.FIELDS (SUBJECT)]<9> {9}\r\nHello\r\n\r\n", 0,
	    "partial of HEADER.FIELDS");
	check("simple.eml", "(UID BODY.PEEK[HEADER.FIELDS (From Subject)]"
	    "<0.20>)", "UID 7 BODY[HEADER.FIELDS (FROM SUBJECT)]<0> "
	    "{20}\r\nFrom: Alice <alice@e", 0, "the brief's example");
	check("simple.eml", "(BODY[]<0.4> BODY[]<1.4>)",
	    "BODY[]<0> {4}\r\nFrom BODY[]<1> {4}\r\nrom:", 0,
	    "two partials of the same section are two items");
	check("multi.eml", "BINARY[2]<5.3>", "BINARY[2]<5> {3}\r\nhel", 0,
	    "partial of decoded data");
	check("multi.eml", "BINARY.PEEK[2]<10.3>", "BINARY[2]<10> \"\"", 0,
	    "BINARY partial at the end");
}

static void
test_dates(void)
{
	setenv("TZ", "UTC0", 1);
	tzset();
	check("simple.eml", "INTERNALDATE",
	    "INTERNALDATE \"14-Nov-2023 22:13:20 +0000\"", 0, "date in UTC");
	setenv("TZ", "EST5", 1);
	tzset();
	check("simple.eml", "INTERNALDATE",
	    "INTERNALDATE \"14-Nov-2023 17:13:20 -0500\"", 0,
	    "date west of UTC");
	setenv("TZ", "IST-5:30", 1);
	tzset();
	check("simple.eml", "INTERNALDATE",
	    "INTERNALDATE \"15-Nov-2023 03:43:20 +0530\"", 0,
	    "date east of UTC with minutes");
	setenv("TZ", "UTC0", 1);
	tzset();
	{
		struct fetch_msg	 m;
		struct mbuf		 o;

		msg_init(&m, fx("simple.eml"));
		m.internaldate = 1000000000;
		memset(&o, 0, sizeof(o));
		run(0, "INTERNALDATE", &m, 0, &o);
		is_str(o.data, "* 1 FETCH (INTERNALDATE "
		    "\" 9-Sep-2001 01:46:40 +0000\")\r\n",
		    "single-digit day is space-padded");
		mbuf_free(&o);
	}
	check("simple.eml", "FAST", "FLAGS (\\Seen) INTERNALDATE "
	    "\"14-Nov-2023 22:13:20 +0000\" RFC822.SIZE 171", 0, "FAST");
}

static void
test_flags(void)
{
	struct fetch_msg	 m;
	struct mbuf		 o;
	int			 r;

	msg_init(&m, fx("simple.eml"));
	m.flags = "(\\Seen \\Flagged)";
	memset(&o, 0, sizeof(o));
	r = run(0, "BODY[TEXT]<0.2>", &m, FETCH_R_FLAGS, &o);
	ok(r == 0, "render with FETCH_R_FLAGS");
	is_str(o.data, "* 1 FETCH (BODY[TEXT]<0> {2}\r\nHi FLAGS "
	    "(\\Seen \\Flagged))\r\n", "FETCH_R_FLAGS adds FLAGS");
	o.len = 0;
	run(0, "(FLAGS BODY[TEXT]<0.2>)", &m, FETCH_R_FLAGS, &o);
	is_str(o.data, "* 1 FETCH (FLAGS (\\Seen \\Flagged) BODY[TEXT]<0> "
	    "{2}\r\nHi)\r\n", "FETCH_R_FLAGS with FLAGS asked: once");
	o.len = 0;
	run(0, "BODY[TEXT]<0.2>", &m, FETCH_R_UTF8, &o);
	is_str(o.data, "* 1 FETCH (BODY[TEXT]<0> {2}\r\nHi)\r\n",
	    "no FLAGS without FETCH_R_FLAGS");
	o.len = 0;
	m.flags = NULL;
	run(0, "FLAGS", &m, 0, &o);
	is_str(o.data, "* 1 FETCH (FLAGS ())\r\n", "NULL flags are ()");

	/* Cached strings are used as given. */
	o.len = 0;
	m.envelope = "(ENV)";
	m.body = "(B)";
	m.bodystructure = "(BS)";
	m.size = 999;
	m.flags = "()";
	run(0, "FULL", &m, 0, &o);
	is_str(o.data, "* 1 FETCH (FLAGS () INTERNALDATE "
	    "\"14-Nov-2023 22:13:20 +0000\" RFC822.SIZE 999 ENVELOPE (ENV) "
	    "BODY (B))\r\n", "FULL with cached strings");
	o.len = 0;
	run(0, "BODYSTRUCTURE", &m, 0, &o);
	is_str(o.data, "* 1 FETCH (BODYSTRUCTURE (BS))\r\n",
	    "cached BODYSTRUCTURE");

	/* Appends after what is there. */
	o.len = 0;
	mbuf_add(&o, "X", 1);
	m.seq = 4000000000U;
	run(0, "UID", &m, 0, &o);
	is_str(o.data, "X* 4000000000 FETCH (UID 7)\r\n", "appends to out");
	mbuf_free(&o);
}

static void
test_multi(void)
{
	static const char qp[] = "Caf\xc3\xa9 au lait soft break\r\n"
	    "trailing\r\n= sign =ZZ =4";
	static const char b64[] = "* 1 FETCH (BINARY[2] ~{10}\r\n"
	    "\0\1\2\3\0hello)\r\n";
	static const char b64p[] = "* 1 FETCH (BINARY[2]<2> ~{3}\r\n"
	    "\2\3\0)\r\n";
	struct fetch_msg	 m;
	struct mbuf		 o, bs;
	const struct fixture	*f = fx("multi.eml");
	struct mime_msg		*mm;
	char			*e, *l;
	int			 r;

	l = lit(qp, sizeof(qp) - 1);
	e = fmt("BINARY[1] %s", l);
	check("multi.eml", "BINARY[1]", e, 0, "quoted-printable decoded");
	free(e);
	free(l);
	e = fmt("BINARY.SIZE[1] %zu", sizeof(qp) - 1);
	check("multi.eml", "BINARY.SIZE[1]", e, 0, "BINARY.SIZE of QP");
	free(e);
	check("multi.eml", "BODY[1]", "BODY[1] {61}\r\nCaf=C3=A9 au lait=\r\n"
	    " soft break\r\ntrailing   \r\n=3D sign =ZZ =4", 0,
	    "BODY[1] is not decoded");
	check_mem("multi.eml", "BINARY[2]", 0, b64, sizeof(b64) - 1);
	check_mem("multi.eml", "BINARY[2]<2.3>", 0, b64p, sizeof(b64p) - 1);
	check("multi.eml", "BINARY.SIZE[2]", "BINARY.SIZE[2] 10", 0,
	    "BINARY.SIZE of base64 (upper-case CTE)");
	check("multi.eml", "BODY[2]", "BODY[2] {18}\r\nAAECAwBo\r\nZWxsbw==",
	    0, "BODY[2] raw base64");
	check("multi.eml", "BODY[2.MIME]", "BODY[2.MIME] {77}\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Transfer-Encoding: BASE64\r\n\r\n", 0, "BODY[2.MIME]");
	check("multi.eml", "BODY[1.TEXT]", "BODY[1.TEXT] \"\"", 0,
	    "TEXT of a part that is no message is empty");
	check("multi.eml", "BODY[3]", "BODY[3] {11}\r\nbegin 644 x", 0,
	    "unknown encoding is fine for BODY");
	check("multi.eml", "BINARY[4]", "BINARY[4] {10}\r\nplain part", 0,
	    "BINARY of a part without encoding");
	check("multi.eml", "BINARY[5]", "BINARY[5] \"\"", 0,
	    "BINARY of a nonexistent part");
	check("multi.eml", "(BODY[5] BODY[4.MIME])", "BODY[5] \"\" "
	    "BODY[4.MIME] {28}\r\nContent-Type: text/plain\r\n\r\n", 0,
	    "past the last part; MIME of the last");

	/* Unknown encoding: -1, out untouched. */
	msg_init(&m, f);
	memset(&o, 0, sizeof(o));
	mbuf_add(&o, "PREFIX", 6);
	r = run(0, "(UID FLAGS BODY[1] BINARY[3])", &m, FETCH_R_FLAGS, &o);
	ok(r == -1 && o.len == 6 && strcmp(o.data, "PREFIX") == 0,
	    "BINARY of unknown encoding: -1, out unchanged");
	r = run(1, "BINARY.SIZE[3]", &m, 0, &o);
	ok(r == -1 && o.len == 6 && strcmp(o.data, "PREFIX") == 0,
	    "BINARY.SIZE of unknown encoding: -1");
	mbuf_free(&o);
	memset(&o, 0, sizeof(o));
	r = run(0, "BINARY[3]", &m, 0, &o);
	ok(r == -1 && o.len == 0, "-1 into an empty mbuf leaves it empty");
	mbuf_free(&o);

	/* BODYSTRUCTURE from the data, from a given tree, from the cache. */
	mm = mime_parse(f->buf, f->len);
	memset(&bs, 0, sizeof(bs));
	mbuf_add(&bs, "* 1 FETCH (BODYSTRUCTURE ", 25);
	mime_bodystructure(&bs, mm, 1);
	mbuf_add(&bs, ")\r\n", 3);
	memset(&o, 0, sizeof(o));
	run(0, "BODYSTRUCTURE", &m, 0, &o);
	is_str(o.data, bs.data, "BODYSTRUCTURE computed from data");
	o.len = 0;
	m.data = NULL;
	m.len = 0;
	m.mime = mm;
	run(0, "BODYSTRUCTURE", &m, 0, &o);
	is_str(o.data, bs.data, "BODYSTRUCTURE computed from the tree");
	o.len = 0;
	run(0, "BINARY[1]", &m, 0, &o);
	ok(strstr(o.data, "soft break") != NULL, "sections use the tree");
	mbuf_free(&o);
	mbuf_free(&bs);
	mime_free(mm);
}

static void
test_rfc822(void)
{
	const struct fixture	*f = fx("rfc822.eml");
	const char		*s, *t;
	char			*e, *l;

	s = strstr(f->buf, "From: Inner");
	t = strstr(f->buf, "\r\n--b1--");
	l = lit(s, t - s);
	e = fmt("BODY[2] %s", l);
	check("rfc822.eml", "BODY[2]", e, 0, "message/rfc822 part");
	free(e);
	e = fmt("BINARY[2] %s", l);
	check("rfc822.eml", "BINARY[2]", e, 0,
	    "BINARY of a message/rfc822 part is raw");
	free(e);
	free(l);
	check("rfc822.eml", "BODY[2.HEADER]", "BODY[2.HEADER] {111}\r\n"
	    "From: Inner <inner@example.com>\r\nSubject: inner subject\r\n"
	    "Content-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n", 0,
	    "HEADER of the inner message");
	s = strstr(f->buf, "--b2\r\n");
	t = strstr(f->buf, "--b2--") + 6;
	l = lit(s, t - s);
	e = fmt("BODY[2.TEXT] %s", l);
	check("rfc822.eml", "BODY[2.TEXT]", e, 0, "TEXT of the inner message");
	free(e);
	free(l);
	check("rfc822.eml", "BODY[2.MIME]", "BODY[2.MIME] {32}\r\n"
	    "Content-Type: message/rfc822\r\n\r\n", 0,
	    "MIME header of the message part");
	check("rfc822.eml", "BODY[2.1]", "BODY[2.1] {10}\r\ninner text", 0,
	    "first part inside the message");
	check("rfc822.eml", "BODY[2.1.MIME]", "BODY[2.1.MIME] {28}\r\n"
	    "Content-Type: text/plain\r\n\r\n", 0, "its MIME header");
	check("rfc822.eml", "BODY[2.2]", "BODY[2.2] {12}\r\nPGI+aGk8L2I+", 0,
	    "second part inside the message");
	check("rfc822.eml", "BINARY[2.2]", "BINARY[2.2] {9}\r\n<b>hi</b>", 0,
	    "BINARY inside the message");
	check("rfc822.eml", "BINARY.SIZE[2.2]", "BINARY.SIZE[2.2] 9", 0,
	    "BINARY.SIZE inside the message");
	check("rfc822.eml", "BODY[2.HEADER.FIELDS (SUBJECT)]",
	    "BODY[2.HEADER.FIELDS (SUBJECT)] {26}\r\n"
	    "Subject: inner subject\r\n\r\n", 0,
	    "HEADER.FIELDS of the inner message");
	check("rfc822.eml", "(BODY[2.3] BODY[3] BODY[2.1.1] BODY[1.HEADER] "
	    "BINARY[2.1.1] BODY[2.2.TEXT])", "BODY[2.3] \"\" BODY[3] \"\" "
	    "BODY[2.1.1] \"\" BODY[1.HEADER] \"\" BINARY[2.1.1] \"\" "
	    "BODY[2.2.TEXT] \"\"", 0, "nonexistent parts are empty");
	check("rfc822.eml", "BODY[1]", "BODY[1] {12}\r\nsee attached", 0,
	    "first top-level part");

	/* A single-part message/rfc822 at the top level. */
	f = fx("fwd_single.eml");
	s = strstr(f->buf, "From: inner");
	l = lit(s, f->buf + f->len - s);
	e = fmt("BODY[1] %s", l);
	check("fwd_single.eml", "BODY[1]", e, 0,
	    "top-level message/rfc822: BODY[1] is the inner message");
	free(e);
	free(l);
	check("fwd_single.eml", "BODY[1.1]", "BODY[1.1] {18}\r\n"
	    "aW5uZXIgYm9keQ==\r\n", 0, "1.1 is the inner body");
	check("fwd_single.eml", "BINARY[1.1]", "BINARY[1.1] {10}\r\n"
	    "inner body", 0, "BINARY[1.1] decodes with the inner CTE");
	check("fwd_single.eml", "BODY[1.HEADER.FIELDS (subject)]",
	    "BODY[1.HEADER.FIELDS (SUBJECT)] {15}\r\nSubject: in\r\n\r\n", 0,
	    "inner HEADER.FIELDS");
	check("fwd_single.eml", "(BODY[1.2] BINARY[1.2] BODY[2])",
	    "BODY[1.2] \"\" BINARY[1.2] \"\" BODY[2] \"\"", 0,
	    "no second part");
}

static void
test_broken(void)
{
	const struct fixture	*f = fx("broken.eml");
	const char		*s;
	char			*e, *l;

	check("broken.eml", "BODY[HEADER]", "BODY[HEADER] {82}\r\n"
	    "From: x@example.org\r\nSubject: broken\r\n"
	    "Content-Type: multipart/mixed; boundary=zz\r\n", 0,
	    "header without a blank line");
	s = strstr(f->buf, "--zz");
	l = lit(s, f->buf + f->len - s);
	e = fmt("BODY[TEXT] %s", l);
	check("broken.eml", "BODY[TEXT]", e, 0, "body after such a header");
	free(e);
	free(l);
	check("broken.eml", "BODY[1]", "BODY[1] {18}\r\nno blank line here",
	    0, "part without a blank line");
	check("broken.eml", "BODY[2]", "BODY[2] {6}\r\n!!!!\r\n", 0,
	    "unterminated multipart: last part");
	check("broken.eml", "(BINARY[2] BINARY.SIZE[2])",
	    "BINARY[2] \"\" BINARY.SIZE[2] 0", 0, "garbage base64 is empty");
	check("broken.eml", "BODY[HEADER.FIELDS (Subject)]",
	    "BODY[HEADER.FIELDS (SUBJECT)] {19}\r\nSubject: broken\r\n\r\n",
	    0, "HEADER.FIELDS of a header without a blank line");
}

static void
test_empty(void)
{
	static const char exp[] = "BODY[] \"\" BODY[HEADER] \"\" "
	    "BODY[TEXT] \"\" BODY[1] \"\" BINARY[1] \"\" BINARY.SIZE[1] 0 "
	    "BODY[HEADER.FIELDS (FROM)] {2}\r\n\r\n RFC822.SIZE 0 "
	    "ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
	    "BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") "
	    "NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) BODY[1.MIME] \"\"";
	static const char items[] = "(BODY[] BODY[HEADER] BODY[TEXT] "
	    "BODY[1] BINARY[1] BINARY.SIZE[1] BODY[HEADER.FIELDS (From)] "
	    "RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY[1.MIME])";

	check("empty.eml", items, exp, 0, "empty message");
	check(NULL, items, exp, 0, "no data at all");
}

static void
test_nul(void)
{
	static const char raw[] = "Subject: n\r\n\r\na\0b";
	static const char body[] = "* 1 FETCH (BODY[TEXT] {3}\r\na\x80" "b)"
	    "\r\n";
	static const char bin[] = "* 1 FETCH (BINARY[1] ~{3}\r\na\0b)\r\n";
	struct fetch_msg	 m;
	struct mbuf		 o;

	msg_init(&m, NULL);
	m.data = raw;
	m.len = m.size = sizeof(raw) - 1;
	memset(&o, 0, sizeof(o));
	run(0, "BODY[TEXT]", &m, 0, &o);
	ok(o.len == sizeof(body) - 1 && memcmp(o.data, body, o.len) == 0,
	    "NUL in BODY[] becomes 0x80");
	o.len = 0;
	run(0, "BINARY[1]", &m, 0, &o);
	ok(o.len == sizeof(bin) - 1 && memcmp(o.data, bin, o.len) == 0,
	    "NUL in BINARY[] gives a literal8");
	mbuf_free(&o);
}

/* Nesting beyond MIME_MAX_DEPTH, multipart and message/rfc822. */
static void
test_deep(void)
{
	struct fetch_msg	 m;
	struct mbuf		 msg, o, items;
	int			 i, r;

	memset(&msg, 0, sizeof(msg));
	for (i = 0; i < 40; i++)
		mbuf_printf(&msg, "Content-Type: multipart/mixed; "
		    "boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i);
	mbuf_printf(&msg, "Content-Type: text/plain\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\naGk=\r\n");
	for (i = 39; i >= 0; i--)
		mbuf_printf(&msg, "--b%d--\r\n", i);
	memset(&items, 0, sizeof(items));
	mbuf_add(&items, "(BODYSTRUCTURE", 14);
	for (i = 1; i <= 45; i += 4) {
		mbuf_add(&items, " BODY[1", 7);
		for (r = 1; r < i; r++)
			mbuf_add(&items, ".1", 2);
		mbuf_add(&items, "]", 1);
		mbuf_add(&items, " BINARY[1", 9);
		for (r = 1; r < i; r++)
			mbuf_add(&items, ".1", 2);
		mbuf_add(&items, "]", 1);
	}
	mbuf_add(&items, ")", 1);
	msg_init(&m, NULL);
	m.data = msg.data;
	m.len = msg.len;
	memset(&o, 0, sizeof(o));
	r = run(0, items.data, &m, 0, &o);
	ok(r == 0 && wellformed(&o, 0), "deep multipart nesting");

	msg.len = 0;
	for (i = 0; i < 40; i++)
		mbuf_printf(&msg, "Subject: level %d\r\n"
		    "Content-Type: message/rfc822\r\n\r\n", i);
	mbuf_printf(&msg, "Subject: last\r\n\r\nbody\r\n");
	m.data = msg.data;
	m.len = msg.len;
	o.len = 0;
	r = run(0, items.data, &m, 0, &o);
	ok(r == 0 && wellformed(&o, 0), "deep message/rfc822 nesting");
	o.len = 0;
	r = run(0, "(BODY[1.1.1.1.HEADER] BODY[1.1.1.MIME] BINARY[1.1.1])",
	    &m, 0, &o);
	ok(r == 0 && strncmp(o.data, "* 1 FETCH (BODY[1.1.1.1.HEADER] {50}"
	    "\r\nSubject: level 4\r\nContent-Type: message/rfc822\r\n\r\n "
	    "BODY[1.1.1.MIME] {50}\r\nSubject: level 2\r\n"
	    "Content-Type: message/rfc822\r\n\r\n BINARY[1.1.1] {1903}\r\n"
	    "Subject: level 3\r\n", 203) == 0,
	    "message/rfc822 chain: each level its own part");
	mbuf_free(&o);
	mbuf_free(&msg);
	mbuf_free(&items);
}

/*
 * Every fixture, every section up to three levels, and a run of random
 * byte mutations: the response must always be well-formed (or -1 for
 * an unknown encoding, with out unchanged).
 */
static void
test_sweep(void)
{
	static const char *const sfx[] = {
		"", ".MIME", ".HEADER", ".TEXT", ".HEADER.FIELDS (Subject)",
		".HEADER.FIELDS.NOT (Subject)"
	};
	struct fetch_spec	*fs;
	struct fetch_msg	 m;
	struct mbuf		 o, items;
	const char		*err;
	char			*buf;
	size_t			 i, j, len;
	int			 a, b, c, r, bad = 0, fails = 0, n;

	memset(&items, 0, sizeof(items));
	mbuf_add(&items, "(BODY.PEEK[] BODY.PEEK[HEADER] BODY.PEEK[TEXT] "
	    "BODYSTRUCTURE ENVELOPE BODY", 74);
	n = 6;
	for (a = 1; a <= 3; a++)
		for (b = 0; b <= 2; b++)
			for (c = 0; c <= (b ? 2 : 0); c++)
				for (j = 0; j < nitems(sfx); j++) {
					if (n >= 60)
						break;
					mbuf_printf(&items, " BODY.PEEK[%d", a);
					if (b)
						mbuf_printf(&items, ".%d", b);
					if (c)
						mbuf_printf(&items, ".%d", c);
					mbuf_printf(&items, "%s]<1.50>",
					    sfx[j]);
					n++;
				}
	mbuf_add(&items, ")", 1);
	if (compile(0, items.data, &fs, &err) != 0) {
		ok(0, "sweep compile: %s", err ? err : "?");
		mbuf_free(&items);
		return;
	}
	memset(&o, 0, sizeof(o));
	for (i = 0; i < nitems(fixtures); i++) {
		msg_init(&m, &fixtures[i]);
		o.len = 0;
		if (fetch_render(&o, fs, &m, FETCH_R_FLAGS) != 0 ||
		    !wellformed(&o, 0))
			bad++;
	}
	ok(bad == 0, "section sweep over the fixtures");
	fetch_free(fs);
	mbuf_free(&items);

	if (compile(0, "(BODY[] BINARY[1] BINARY[2] BINARY.SIZE[1.1] "
	    "BINARY[2.2]<3.9> BODY[2.1.HEADER] BODY[1.HEADER.FIELDS (A)] "
	    "BODYSTRUCTURE ENVELOPE BODY[2.MIME])", &fs, &err) != 0) {
		ok(0, "mutation compile");
		return;
	}
	srandom(12345);
	bad = 0;
	for (i = 0; i < 2000; i++) {
		const struct fixture *f = &fixtures[i % 4];

		len = f->len;
		if ((buf = malloc(len + 1)) == NULL)
			exit(1);
		memcpy(buf, f->buf, len);
		for (j = 0; j < 4 && len > 0; j++)
			buf[random() % len] = "\r\n-=:;\"\0Zx"[random() % 10];
		len = len > 0 ? random() % (len + 1) : 0;
		msg_init(&m, NULL);
		m.data = buf;
		m.len = len;
		o.len = 0;
		mbuf_add(&o, "P", 1);
		r = fetch_render(&o, fs, &m, 0);
		if (r == -1) {
			fails++;
			if (o.len != 1)
				bad++;
		} else if (r != 0 || !wellformed(&o, 1))
			bad++;
		free(buf);
	}
	ok(bad == 0, "2000 mutated messages render (%d unknown CTE)", fails);
	fetch_free(fs);
	mbuf_free(&o);
}

/*
 * fetch_section() (CATENATE's URLs) gives the bytes FETCH BODY[...]
 * would, and -1 where FETCH would give "" for a part not there.
 */
static void
test_section(void)
{
	static const struct {
		const char	*file, *sec;
		int		 partial;
		uint32_t	 off, len;
	} same[] = {
		{ "multi.eml", "", 0, 0, 0 },
		{ "multi.eml", "HEADER", 0, 0, 0 },
		{ "multi.eml", "TEXT", 0, 0, 0 },
		{ "multi.eml", "1", 0, 0, 0 },
		{ "multi.eml", "1.MIME", 0, 0, 0 },
		{ "multi.eml", "2", 1, 3, 4 },
		{ "multi.eml", "4", 1, 2, 0 },
		{ "multi.eml", "header.fields (to Subject)", 0, 0, 0 },
		{ "multi.eml", "HEADER.FIELDS.NOT (To)", 0, 0, 0 },
		{ "simple.eml", "1", 0, 0, 0 },
		{ "simple.eml", "", 1, 100000, 1 },
		{ "rfc822.eml", "2.HEADER", 0, 0, 0 },
	};
	static const char *const missing[] = {
		"5", "1.2", "1.HEADER", "MIME", "BOGUS", "0", "1..2",
		"HEADER.FIELDS ()", "2.TEXT.MIME",
	};
	const struct fixture	*f;
	struct fetch_msg	 m;
	struct mbuf		 o, got;
	char			*items;
	const char		*p;
	size_t			 i, n;

	for (i = 0; i < nitems(same); i++) {
		f = fx(same[i].file);
		msg_init(&m, f);
		memset(&o, 0, sizeof(o));
		memset(&got, 0, sizeof(got));
		if (same[i].partial)
			items = fmt("BODY.PEEK[%s]<%u.%u>", same[i].sec,
			    same[i].off, same[i].len != 0 ? same[i].len :
			    UINT32_MAX);
		else
			items = fmt("BODY.PEEK[%s]", same[i].sec);
		(void)run(0, items, &m, 0, &o);
		/* The data: after "{n}\r\n", or "" quoted. */
		p = o.data != NULL ? strstr(o.data, "}\r\n") : NULL;
		n = p != NULL ? (size_t)strtoul(strrchr(o.data, '{') + 1,
		    NULL, 10) : 0;
		p = p != NULL ? p + 3 : "";
		ok(fetch_section(&got, f->buf, f->len, NULL, same[i].sec,
		    same[i].partial, same[i].off, same[i].len) == 0 &&
		    got.len == n && (n == 0 || memcmp(got.data, p, n) == 0),
		    "fetch_section %s [%s]%s: what FETCH sends (%zu bytes)",
		    same[i].file, same[i].sec, same[i].partial ? "<>" : "",
		    n);
		free(items);
		mbuf_free(&o);
		mbuf_free(&got);
	}
	f = fx("multi.eml");
	for (i = 0; i < nitems(missing); i++) {
		memset(&got, 0, sizeof(got));
		ok(fetch_section(&got, f->buf, f->len, NULL, missing[i], 0, 0,
		    0) == -1 && got.len == 0,
		    "fetch_section [%s]: -1, nothing added", missing[i]);
		mbuf_free(&got);
	}
}

/*
 * EMAILID and THREADID (RFC 8474), SAVEDATE (RFC 8514), PREVIEW and
 * PREVIEW (LAZY) (RFC 8970): what they need, how they are rendered
 * (NIL when the caller has nothing), and the modifiers refused.
 */
static void
test_objectid(void)
{
	static const struct {
		const char	*args;
		int		 needs;
	} t[] = {
		{ "EMAILID", FETCH_NEED_EMAILID },
		{ "THREADID", 0 },
		{ "SAVEDATE", FETCH_NEED_SAVEDATE },
		{ "PREVIEW", FETCH_NEED_PREVIEW },
		{ "PREVIEW (LAZY)", FETCH_NEED_PREVIEW | FETCH_PREVIEW_LAZY },
		{ "(PREVIEW (lazy) UID)", FETCH_NEED_PREVIEW |
		    FETCH_PREVIEW_LAZY },
		{ "PREVIEW (LAZY) (CHANGEDSINCE 3)", FETCH_NEED_PREVIEW |
		    FETCH_PREVIEW_LAZY | FETCH_NEED_MODSEQ |
		    FETCH_CHANGEDSINCE }
	};
	static const char *const bad[] = {
		"(PREVIEW ())", "(PREVIEW (FUZZY))", "(PREVIEW (LAZY FOO))",
		"(PREVIEW (LAZY (X)))", "PREVIEW (LAZY) (FOO)",
		"PREVIEW (LAZY) (CHANGEDSINCE 3) (X)", "(EMAILID[])",
		"(SAVEDATE<0.1>)", "PREVIEW ()", "THREADID (LAZY)"
	};
	struct fetch_spec	*fs;
	struct fetch_msg	 m;
	struct mbuf		 o;
	const char		*err;
	size_t			 i;

	for (i = 0; i < nitems(t); i++) {
		if (compile(0, t[i].args, &fs, &err) != 0) {
			ok(0, "%s: compile failed (%s)", t[i].args,
			    err ? err : "?");
			continue;
		}
		is_int(fetch_needs(fs), t[i].needs, t[i].args);
		fetch_free(fs);
	}
	for (i = 0; i < nitems(bad); i++) {
		fs = NULL;
		ok(compile(0, bad[i], &fs, &err) != 0 && fs == NULL &&
		    err != NULL, "%s: refused (%s)", bad[i], err ? err : "");
	}

	msg_init(&m, NULL);
	m.emailid = "M0123abc";
	m.savedate = 1700000001;
	m.preview = "Hello \"you\"";
	memset(&o, 0, sizeof(o));
	ok(run(0, "(EMAILID THREADID SAVEDATE PREVIEW)", &m, 0, &o) == 0,
	    "render");
	is_str(o.data, "* 1 FETCH (EMAILID (M0123abc) THREADID NIL SAVEDATE "
	    "\"14-Nov-2023 22:13:21 +0000\" PREVIEW \"Hello \\\"you\\\"\")\r\n",
	    "rendered");
	mbuf_free(&o);
	memset(&o, 0, sizeof(o));
	m.emailid = NULL;
	m.savedate = 0;
	m.preview = NULL;
	ok(run(0, "(EMAILID SAVEDATE PREVIEW (LAZY))", &m, 0, &o) == 0 &&
	    strcmp(o.data, "* 1 FETCH (EMAILID NIL SAVEDATE NIL PREVIEW NIL)"
	    "\r\n") == 0, "nothing known: NIL");
	mbuf_free(&o);
	memset(&o, 0, sizeof(o));
	m.preview = "caf\xc3\xa9";
	ok(run(0, "PREVIEW", &m, 0, &o) == 0 &&
	    strcmp(o.data, "* 1 FETCH (PREVIEW {5}\r\ncaf\xc3\xa9)\r\n") ==
	    0, "8-bit preview: a literal");
	mbuf_free(&o);
	memset(&o, 0, sizeof(o));
	ok(run(0, "PREVIEW", &m, FETCH_R_UTF8, &o) == 0 &&
	    strcmp(o.data, "* 1 FETCH (PREVIEW \"caf\xc3\xa9\")\r\n") ==
	    0, "with UTF8=ACCEPT: quoted");
	mbuf_free(&o);
	memset(&o, 0, sizeof(o));
	m.preview = "";
	ok(run(0, "PREVIEW", &m, 0, &o) == 0 &&
	    strcmp(o.data, "* 1 FETCH (PREVIEW \"\")\r\n") == 0,
	    "empty preview: \"\"");
	mbuf_free(&o);
}

int
main(void)
{
	size_t	 i;
	char	*d;

	if ((d = getenv("MAILD_FETCH_TESTDIR")) != NULL)
		dir = d;
	setenv("TZ", "UTC0", 1);
	tzset();
	for (i = 0; i < nitems(fixtures); i++)
		fixtures[i].buf = load(fixtures[i].name, &fixtures[i].len);
	if ((parser = imap_parser_new(NULL)) == NULL)
		return 1;

	test_compile_ok();
	test_compile_errors();
	test_limits();
	test_needs();
	test_simple();
	test_partial();
	test_dates();
	test_flags();
	test_multi();
	test_rfc822();
	test_broken();
	test_empty();
	test_nul();
	test_deep();
	test_sweep();
	test_section();
	test_objectid();

	imap_parser_free(parser);
	for (i = 0; i < nitems(fixtures); i++)
		free(fixtures[i].buf);
	return done_testing();
}
