/*
 * Unit tests for mime.c: exact BODY/BODYSTRUCTURE/ENVELOPE strings for
 * the fixtures in tests/data/mime (directory from $MAILD_MIME_TESTDIR),
 * section ranges, HEADER.FIELDS subsets, the limits, broken input, and
 * a bounded run of random mutations (seed from $MAILD_MIME_SEED) that
 * must not crash (build with -fsanitize=address,undefined).
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compat.h"
#include "mime.h"
#include "tap.h"

static char	*load(const char *, size_t *);
static char	*bs(const struct mime_msg *, int);
static char	*env(const struct mime_msg *);
static void	 check_struct(const char *, const char *, const char *);
static void	 check_section(const char *, const char *, const char *);
static void	 test_structures(void);
static void	 test_sections(void);
static void	 test_headers(void);
static void	 test_broken(void);
static void	 test_limits(void);
static void	 exercise(const char *, size_t);
static void	 test_fuzz(void);

static const char *dir = "tests/data/mime";

static const char *fixtures[] = {
	"simple.eml", "alternative.eml", "mixed_attach.eml", "rfc822.eml",
	"no_close.eml", "no_boundary_param.eml", "boundary_absent.eml",
	"raw8bit.eml", "encoded.eml", "folded.eml", "no_blank.eml",
	"empty.eml", "header_only.eml", "bare_lf.eml", "deep.eml"
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
	fseek(f, 0, SEEK_END);
	n = ftell(f);
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

/* Malloc'ed BODYSTRUCTURE (ext) or BODY string with CRLF shown as |. */
static char *
bs(const struct mime_msg *m, int ext)
{
	struct mbuf	 o;

	memset(&o, 0, sizeof(o));
	mime_bodystructure(&o, m, ext);
	return o.data;
}

static char *
env(const struct mime_msg *m)
{
	struct mbuf	 o;

	memset(&o, 0, sizeof(o));
	mime_envelope(&o, m->buf + m->root->hdr_off, m->root->hdr_len);
	return o.data;
}

static void
check_struct(const char *name, const char *body, const char *envelope)
{
	struct mime_msg	*m;
	char		*buf, *s;
	size_t		 len;
	char		 label[256];

	buf = load(name, &len);
	m = mime_parse(buf, len);
	if (body != NULL) {
		s = bs(m, 1);
		snprintf(label, sizeof(label), "%s BODYSTRUCTURE", name);
		is_str(s, body, label);
		free(s);
	}
	if (envelope != NULL) {
		s = env(m);
		snprintf(label, sizeof(label), "%s ENVELOPE", name);
		is_str(s, envelope, label);
		free(s);
	}
	mime_free(m);
	free(buf);
}

/* expect NULL: the section must not exist. */
static void
check_section(const char *name, const char *spec, const char *expect)
{
	struct mime_msg	*m;
	char		*buf, *got;
	size_t		 len, off = 0, slen = 0;
	char		 label[256];
	int		 r;

	buf = load(name, &len);
	m = mime_parse(buf, len);
	r = mime_section(m, spec, &off, &slen);
	snprintf(label, sizeof(label), "%s BODY[%s]", name, spec);
	if (expect == NULL)
		is_int(r, -1, label);
	else if (r != 0)
		ok(0, "%s: returned %d", label, r);
	else {
		got = strndup(buf + off, slen);
		is_str(got, expect, label);
		free(got);
	}
	mime_free(m);
	free(buf);
}

static void
test_structures(void)
{
	check_struct("simple.eml",
	    "(\"text\" \"plain\" (\"charset\" \"US-ASCII\") NIL NIL \"7bit\" "
	    "55 1 NIL NIL NIL NIL)",
	    "(\"Mon, 7 Feb 1994 21:52:25 -0800\" \"afternoon meeting\" "
	    "((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) "
	    "((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) "
	    "((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) "
	    "((NIL NIL \"mooch\" \"owatagu.example\")) NIL NIL NIL "
	    "\"<B27397-0100000@Blurdybloop.example>\")");

	check_struct("alternative.eml",
	    "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL "
	    "\"quoted-printable\" 5 1 NIL NIL NIL NIL)"
	    "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 11 1 "
	    "NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"=_alt\") "
	    "NIL NIL NIL)",
	    "(\"Tue, 1 Jan 2030 10:00:00 +0000\" \"alt\" "
	    "((\"Alice\" NIL \"alice\" \"example.org\")) "
	    "((\"Alice\" NIL \"alice\" \"example.org\")) "
	    "((\"Alice\" NIL \"alice\" \"example.org\")) "
	    "((\"Bob\" NIL \"bob\" \"example.net\")"
	    "(\"Carol, C.\" NIL \"carol\" \"example.net\")) "
	    "((NIL NIL \"dave\" \"example.com\")) NIL "
	    "\"<prev@example.org>\" \"<alt1@example.org>\")");

	check_struct("mixed_attach.eml",
	    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "3 1 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"us-ascii\") "
	    "NIL NIL \"7bit\" 10 1 NIL NIL NIL NIL) \"alternative\" "
	    "(\"boundary\" \"inner\") NIL NIL NIL)"
	    "(\"application\" \"pdf\" (\"name\" \"doc.pdf\") "
	    "\"<part3@example.org>\" \"A document\" \"base64\" 12 "
	    "\"Q2hlY2sgSW50ZWdyaXR5IQ==\" "
	    "(\"attachment\" (\"filename\" \"doc.pdf\")) (\"en\" \"de\") "
	    "\"http://example.org/doc.pdf\") \"mixed\" "
	    "(\"boundary\" \"outer\") NIL NIL NIL)", NULL);

	check_struct("rfc822.eml",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "12 1 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" "
	    "155 (\"Wed, 2 Jan 2030 00:00:00 +0000\" \"inner subject\" "
	    "((\"Inner Person\" NIL \"inner\" \"example.com\")) "
	    "((\"Inner Person\" NIL \"inner\" \"example.com\")) "
	    "((\"Inner Person\" NIL \"inner\" \"example.com\")) "
	    "NIL NIL NIL NIL \"<inner@example.com>\") "
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "18 2 NIL NIL NIL NIL) 7 NIL NIL NIL NIL) \"mixed\" "
	    "(\"boundary\" \"b1\") NIL NIL NIL)",
	    "(NIL \"fwd\" ((NIL NIL \"outer\" \"example.org\")) "
	    "((NIL NIL \"outer\" \"example.org\")) "
	    "((NIL NIL \"outer\" \"example.org\")) "
	    "((NIL NIL \"x\" \"example.org\")) NIL NIL NIL NIL)");

	/* 8-bit header bytes force literals; a quote is escaped. */
	check_struct("raw8bit.eml",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "6 1 NIL NIL NIL NIL)",
	    "(NIL {5}\r\nGr\xfc\xdf" "e (({11}\r\nJ\xf6rg M\xfcller NIL "
	    "\"joerg\" \"example.de\")) (({11}\r\nJ\xf6rg M\xfcller NIL "
	    "\"joerg\" \"example.de\")) (({11}\r\nJ\xf6rg M\xfcller NIL "
	    "\"joerg\" \"example.de\")) "
	    "((\"Quote \\\" Me\" NIL \"q\" \"example.org\")) NIL NIL NIL NIL)");

	/* Encoded words stay raw; groups, routes, empty Sender. */
	check_struct("encoded.eml", NULL,
	    "(NIL \"=?ISO-8859-1?Q?Caf=E9?= ok\" "
	    "((\"=?UTF-8?B?SsO2cmc=?=\" NIL \"joerg\" \"example.de\")) "
	    "((\"=?UTF-8?B?SsO2cmc=?=\" NIL \"joerg\" \"example.de\")) "
	    "((NIL \"@route.example,@r2.example\" \"reply\" \"example.org\")) "
	    "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
	    "((NIL NIL \"Friends\" NIL)(NIL NIL \"a\" \"example.org\")"
	    "(\"B\" NIL \"b\" \"example.org\")(NIL NIL NIL NIL)"
	    "(NIL NIL \"c\" \"example.org\")) NIL NIL NIL)");

	check_struct("folded.eml",
	    "(\"text\" \"plain\" (\"charset\" \"iso-8859-1\" \"format\" "
	    "\"flowed\") NIL NIL \"7bit\" 13 1 NIL NIL NIL NIL)",
	    "(NIL \"this is a folded\tsubject\" "
	    "((\"Folded Name\" NIL \"fold\" \"example.org\")) "
	    "((\"Folded Name\" NIL \"fold\" \"example.org\")) "
	    "((\"Folded Name\" NIL \"fold\" \"example.org\")) "
	    "NIL NIL NIL NIL NIL)");

	check_struct("bare_lf.eml",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "8 1 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"lf\") NIL NIL NIL)",
	    "(NIL \"lf\" NIL NIL NIL NIL NIL NIL NIL NIL)");

	/* BODY: no extension data, also inside message/rfc822. */
	{
		struct mime_msg	*m;
		char		*buf, *s;
		size_t		 len;

		buf = load("rfc822.eml", &len);
		m = mime_parse(buf, len);
		s = bs(m, 0);
		is_str(s, "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
		    "NIL \"7bit\" 12 1)(\"message\" \"rfc822\" NIL NIL NIL "
		    "\"7bit\" 155 (\"Wed, 2 Jan 2030 00:00:00 +0000\" "
		    "\"inner subject\" "
		    "((\"Inner Person\" NIL \"inner\" \"example.com\")) "
		    "((\"Inner Person\" NIL \"inner\" \"example.com\")) "
		    "((\"Inner Person\" NIL \"inner\" \"example.com\")) "
		    "NIL NIL NIL NIL \"<inner@example.com>\") "
		    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
		    "\"7bit\" 18 2) 7) \"mixed\")", "rfc822.eml BODY");
		free(s);
		/* root, text, message/rfc822, encapsulated message */
		is_int(m->nparts, 4, "rfc822.eml: 4 parts");
		mime_free(m);
		free(buf);
	}
}

static void
test_sections(void)
{
	check_section("simple.eml", "1",
	    "Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n");
	check_section("simple.eml", "TEXT",
	    "Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n");
	check_section("simple.eml", "header",
	    "Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
	    "From: Fred Foobar <foobar@Blurdybloop.example>\r\n"
	    "Subject: afternoon meeting\r\n"
	    "To: mooch@owatagu.example\r\n"
	    "Message-Id: <B27397-0100000@Blurdybloop.example>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n");
	check_section("simple.eml", "2", NULL);
	check_section("simple.eml", "1.1", NULL);
	check_section("simple.eml", "0", NULL);
	check_section("simple.eml", "MIME", NULL);
	check_section("simple.eml", "1.HEADER", NULL);
	check_section("simple.eml", "1.", NULL);
	check_section("simple.eml", "01", NULL);
	check_section("simple.eml", "99999999999999999999", NULL);
	check_section("simple.eml", "FOO", NULL);

	check_section("alternative.eml", "1", "plain");
	check_section("alternative.eml", "2", "<p>html</p>");
	check_section("alternative.eml", "1.MIME",
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	check_section("alternative.eml", "3", NULL);
	check_section("alternative.eml", "1.1", NULL);

	check_section("mixed_attach.eml", "1.2", "<b>two</b>");
	check_section("mixed_attach.eml", "1.1.MIME",
	    "Content-Type: text/plain\r\n\r\n");
	check_section("mixed_attach.eml", "1",
	    "--inner\r\nContent-Type: text/plain\r\n\r\none\r\n--inner\r\n"
	    "Content-Type: text/html\r\n\r\n<b>two</b>\r\n--inner--\r\n");
	check_section("mixed_attach.eml", "2", "JVBERi0xLjQK");
	check_section("mixed_attach.eml", "2.TEXT", NULL);
	check_section("mixed_attach.eml", "1.3", NULL);

	check_section("rfc822.eml", "2.HEADER",
	    "From: Inner Person <inner@example.com>\r\n"
	    "Subject: inner subject\r\n"
	    "Date: Wed, 2 Jan 2030 00:00:00 +0000\r\n"
	    "Message-ID: <inner@example.com>\r\n\r\n");
	check_section("rfc822.eml", "2.TEXT", "inner body\r\nline 2");
	check_section("rfc822.eml", "2.1", "inner body\r\nline 2");
	check_section("rfc822.eml", "2.MIME",
	    "Content-Type: message/rfc822\r\n\r\n");
	check_section("rfc822.eml", "2.2", NULL);
	check_section("rfc822.eml", "1.HEADER", NULL);
	check_section("rfc822.eml", "1", "see attached");

	check_section("no_close.eml", "2", "second, never closed\r\n");
	check_section("bare_lf.eml", "1", "one line");
	check_section("bare_lf.eml", "1.MIME", "Content-Type: text/plain\n\n");
	check_section("header_only.eml", "TEXT", "");
	check_section("header_only.eml", "HEADER",
	    "Subject: only a header\r\nFrom: h@example.org");
	check_section("empty.eml", "", "");
	check_section("empty.eml", "1", "");
	check_section("no_blank.eml", "1", "this line is the body");
	check_section("no_blank.eml", "1.MIME", "Content-Type: text/plain\r\n");
	check_section("boundary_absent.eml", "1", NULL);
}

static void
test_headers(void)
{
	static const char *const names[] = { "subject", "FROM" };
	static const char *const ctype[] = { "content-type" };
	struct mime_msg	*m;
	struct mbuf	 o;
	const char	*v, *raw;
	char		*buf, *s;
	size_t		 len, vlen, off, hl;

	memset(&o, 0, sizeof(o));
	buf = load("folded.eml", &len);
	m = mime_parse(buf, len);
	ok(mime_header_find(buf, m->root->hdr_len, "SUBJECT", &v, &vlen),
	    "header_find: case-insensitive");
	raw = " this is\r\n a folded\r\n\tsubject\r\n";
	ok(vlen == strlen(raw) && memcmp(v, raw, vlen) == 0,
	    "header_find: raw folded value");
	s = mime_header_get(buf, m->root->hdr_len, "from");
	is_str(s, "\"Folded Name\" <fold@example.org>", "header_get: unfolded");
	free(s);
	ok(mime_header_get(buf, m->root->hdr_len, "to") == NULL,
	    "header_get: absent field");
	ok(mime_header_get(buf, m->root->hdr_len, "subjec") == NULL,
	    "header_get: no prefix match");

	mime_header_fields(&o, buf, m->root->hdr_len, names, 2, 0);
	is_str(o.data, "Subject: this is\r\n a folded\r\n\tsubject\r\n"
	    "From: \"Folded Name\"\r\n <fold@example.org>\r\n\r\n",
	    "HEADER.FIELDS keeps folding, adds blank line");
	o.len = 0;
	mime_header_fields(&o, buf, m->root->hdr_len, names, 2, 1);
	is_str(o.data, "Content-Type: text/plain;\r\n charset=\"iso-8859-1\";"
	    "\r\n format=flowed\r\n\r\n", "HEADER.FIELDS.NOT");
	o.len = 0;
	mime_header_fields(&o, buf, m->root->hdr_len, names, 0, 0);
	is_str(o.data, "\r\n", "HEADER.FIELDS (): only the blank line");
	mime_free(m);
	free(buf);

	buf = load("rfc822.eml", &len);
	m = mime_parse(buf, len);
	ok(mime_section(m, "2.HEADER", &off, &hl) == 0, "2.HEADER exists");
	o.len = 0;
	mime_header_fields(&o, buf + off, hl, names, 2, 0);
	is_str(o.data, "From: Inner Person <inner@example.com>\r\n"
	    "Subject: inner subject\r\n\r\n", "HEADER.FIELDS of 2.HEADER");
	mime_free(m);
	free(buf);

	/* Last field without a line break still gets one. */
	buf = load("header_only.eml", &len);
	o.len = 0;
	mime_header_fields(&o, buf, len, names, 2, 0);
	is_str(o.data,
	    "Subject: only a header\r\nFrom: h@example.org\r\n\r\n",
	    "HEADER.FIELDS: unterminated last field");
	o.len = 0;
	mime_header_fields(&o, buf, len, ctype, 1, 0);
	is_str(o.data, "\r\n", "HEADER.FIELDS: no match");
	free(buf);

	s = mime_unfold(" \r\n a\r\n\tb \x00 c \r\n", 16);
	is_str(s, "a\tb  c", "unfold: trims, drops CRLF and NUL");
	free(s);

	mbuf_free(&o);
}

static void
test_broken(void)
{
	struct mime_msg	*m;
	char		*buf, *s;
	size_t		 len;
	int		 depth;
	struct mime_part *p;

	check_struct("no_close.eml",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "5 1 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" 22 1 NIL NIL NIL NIL) \"mixed\" "
	    "(\"boundary\" \"zz\") NIL NIL NIL)", NULL);
	/* Without a boundary the multipart is just text. */
	check_struct("no_boundary_param.eml",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "18 3 NIL NIL NIL NIL)", NULL);
	/* A boundary that never appears: one empty placeholder part. */
	check_struct("boundary_absent.eml",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0) \"mixed\" (\"boundary\" \"nowhere\") NIL NIL NIL)", NULL);
	check_struct("no_blank.eml",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "21 1 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"nb\") NIL NIL "
	    "NIL)", NULL);
	check_struct("empty.eml",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0 NIL NIL NIL NIL)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	check_struct("header_only.eml",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0 NIL NIL NIL NIL)",
	    "(NIL \"only a header\" ((NIL NIL \"h\" \"example.org\")) "
	    "((NIL NIL \"h\" \"example.org\")) "
	    "((NIL NIL \"h\" \"example.org\")) NIL NIL NIL NIL NIL)");

	/* An encoded message/rfc822 cannot be parsed: opaque leaf. */
	{
		static const char msg[] = "Content-Type: message/rfc822\r\n"
		    "Content-Transfer-Encoding: base64\r\n\r\nRnJvbTogYQ==\r\n";
		static const char dig[] = "Content-Type: multipart/digest; "
		    "boundary=d\r\n\r\n--d\r\n\r\nSubject: s\r\n\r\nx\r\n"
		    "--d--\r\n";

		m = mime_parse(msg, sizeof(msg) - 1);
		s = bs(m, 0);
		is_str(s, "(\"application\" \"octet-stream\" NIL NIL NIL "
		    "\"base64\" 14)", "base64 message/rfc822 is opaque");
		free(s);
		mime_free(m);
		/* multipart/digest parts default to message/rfc822. */
		m = mime_parse(dig, sizeof(dig) - 1);
		s = bs(m, 0);
		is_str(s, "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 15 "
		    "(NIL \"s\" NIL NIL NIL NIL NIL NIL NIL NIL) "
		    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
		    "\"7bit\" 1 1) 3) \"digest\")", "digest default type");
		free(s);
		mime_free(m);
	}

	/* Nesting stops at MIME_MAX_DEPTH with an opaque leaf. */
	buf = load("deep.eml", &len);
	m = mime_parse(buf, len);
	for (depth = 0, p = m->root; p->child != NULL; p = p->child)
		depth++;
	is_int(depth, MIME_MAX_DEPTH - 1, "deep: depth capped");
	is_int(m->nparts, MIME_MAX_DEPTH, "deep: parts");
	ok((p->flags & MIME_F_TRUNCATED) && strcmp(p->type, "application") ==
	    0, "deep: innermost is a truncated opaque leaf");
	s = bs(m, 0);
	ok(s != NULL && strncmp(s, "((((((((((((((((((((\"application\" "
	    "\"octet-stream\"", 34) == 0, "deep: BODY nests 20 levels");
	free(s);
	mime_free(m);
	free(buf);
}

static void
test_limits(void)
{
	struct mbuf	 in, o;
	struct mime_msg	*m;
	struct mime_part *p;
	size_t		 i, n, off, len;
	clock_t		 t0;
	const char	*hdr =
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
	const char	*cm = "From: user@domain (Real Name)\r\n"
	    "To: a@b.example ( (nested) x\\) ), Name <c@d.example> (no)\r\n"
	    "Cc: \"(q)\"@e.example\r\n\r\nbody";

	memset(&in, 0, sizeof(in));
	memset(&o, 0, sizeof(o));
	mbuf_add(&in, hdr, strlen(hdr));
	for (i = 0; i < 3000; i++)
		mbuf_printf(&in, "--b\r\n\r\npart %zu\r\n", i);
	mbuf_add(&in, "--b--\r\n", 7);
	m = mime_parse(in.data, in.len);
	is_int(m->nparts, MIME_MAX_PARTS, "part limit");
	ok(m->root->flags & MIME_F_TRUNCATED, "part limit flagged");
	for (n = 0, p = m->root->child; p != NULL; p = p->next)
		n++;
	is_int(n, MIME_MAX_PARTS - 1, "children kept");
	ok(mime_section(m, "999", &off, &len) == 0 && len == 8 &&
	    memcmp(in.data + off, "part 998", 8) == 0, "section 999");
	ok(mime_section(m, "1000", &off, &len) == -1, "section 1000 gone");
	mime_free(m);

	/* Big input full of near-boundaries: must stay linear. */
	in.len = 0;
	mbuf_add(&in, hdr, strlen(hdr));
	mbuf_add(&in,
	    "--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n", 50);
	for (i = 0; i < 200000; i++)
		mbuf_add(&in, "--bb\r\n--cc\r\n-\r\n", 16);
	t0 = clock();
	m = mime_parse(in.data, in.len);
	mime_bodystructure(&o, m, 1);
	ok((clock() - t0) / (double)CLOCKS_PER_SEC < 2.0,
	    "3 MB of near-boundaries parsed quickly");
	is_str(o.data, "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
	    "NIL \"7bit\" 0 0) \"mixed\" (\"boundary\" \"c\") NIL NIL NIL) "
	    "\"mixed\" (\"boundary\" \"b\") NIL NIL NIL)",
	    "near-boundaries are not boundaries");
	mime_free(m);

	/* "user@host (Real Name)": the comment is the name (obsolete
	 * form; Dovecot and clients read it so); a phrase wins. */
	in.len = 0;
	mbuf_add(&in, cm, strlen(cm));
	m = mime_parse(in.data, in.len);
	o.len = 0;
	mime_envelope(&o, in.data, m->root->hdr_len);
	ok(strstr(o.data, "((\"Real Name\" NIL \"user\" \"domain\"))") !=
	    NULL, "comment as the name of a bare address");
	ok(strstr(o.data, "((\"(nested) x)\" NIL \"a\" \"b.example\")"
	    "(\"Name\" NIL \"c\" \"d.example\"))") != NULL,
	    "outer comment, unescaped; a phrase wins over a comment");
	ok(strstr(o.data, "((NIL NIL \"(q)\" \"e.example\"))") != NULL,
	    "parentheses in a quoted local part are no comment");
	mime_free(m);

	/* A huge header line and value are truncated, not trusted. */
	in.len = 0;
	mbuf_add(&in, "Subject: ", 9);
	for (i = 0; i < 100000; i++)
		mbuf_add(&in, "x", 1);
	mbuf_add(&in, "\r\n\r\nbody", 8);
	m = mime_parse(in.data, in.len);
	o.len = 0;
	mime_envelope(&o, in.data, m->root->hdr_len);
	/* "(NIL " "x..." " 6 x "NIL " "NIL NIL)" */
	is_int(o.len, 5 + MIME_MAX_VALUE + 3 + 24 + 8, "long subject capped");
	mime_free(m);

	mbuf_free(&in);
	mbuf_free(&o);
}

/* Run every producer and section lookup over one input. */
static void
exercise(const char *buf, size_t len)
{
	static const char *const specs[] = { "", "HEADER", "TEXT", "1", "2",
	    "1.1", "1.2", "2.1", "1.MIME", "2.MIME", "2.HEADER", "2.TEXT",
	    "1.1.1", "2.1.HEADER", "1.2.TEXT" };
	static const char *const names[] = { "subject", "from" };
	struct mime_msg	*m;
	struct mbuf	 o;
	size_t		 i, off, slen;

	memset(&o, 0, sizeof(o));
	m = mime_parse(buf, len);
	mime_bodystructure(&o, m, 1);
	mime_bodystructure(&o, m, 0);
	mime_envelope(&o, buf + m->root->hdr_off, m->root->hdr_len);
	for (i = 0; i < nitems(specs); i++) {
		if (mime_section(m, specs[i], &off, &slen) == 0) {
			if (off > len || slen > len - off)
				abort();
			mime_header_fields(&o, buf + off, slen, names, 2, 0);
			mime_header_fields(&o, buf + off, slen, names, 2, 1);
		}
	}
	mime_free(m);
	mbuf_free(&o);
}

static void
test_fuzz(void)
{
	static const char *const tokens[] = { "\r\n", "\n", "--", ":", ";",
	    "\"", "(", ")", "<", ">", "@", ",", "\r\n\r\n", " ", "\t",
	    "boundary=", "Content-Type: multipart/mixed; boundary=outer\r\n",
	    "Content-Type: message/rfc822\r\n", "--outer\r\n", "--b1\r\n",
	    "--b1--", "=?", "?=", "\\", "\x80", "\0" };
	char		*src[nitems(fixtures)], *buf;
	size_t		 lens[nitems(fixtures)], len, i, j, k, n, pos, tl;
	unsigned int	 seed = 1;
	const char	*e;
	time_t		 start;
	int		 iter = 0;

	if ((e = getenv("MAILD_MIME_SEED")) != NULL)
		seed = strtoul(e, NULL, 10);
	srandom(seed);
	for (i = 0; i < nitems(fixtures); i++)
		src[i] = load(fixtures[i], &lens[i]);
	start = time(NULL);
	for (iter = 0; iter < 10000 && time(NULL) - start < 60; iter++) {
		i = random() % nitems(fixtures);
		len = lens[i];
		if ((buf = malloc(len * 2 + 256)) == NULL)
			abort();
		memcpy(buf, src[i], len);
		n = 1 + random() % 8;
		for (k = 0; k < n; k++) {
			pos = len ? random() % (len + 1) : 0;
			switch (random() % 4) {
			case 0:		/* flip a byte */
				if (pos < len)
					buf[pos] = random() % 256;
				break;
			case 1:		/* insert a token */
				j = random() % nitems(tokens);
				tl = tokens[j][0] == '\0' ? 1 :
				    strlen(tokens[j]);
				if (len + tl > lens[i] * 2 + 200)
					break;
				memmove(buf + pos + tl, buf + pos, len - pos);
				memcpy(buf + pos, tokens[j], tl);
				len += tl;
				break;
			case 2:		/* delete a run */
				tl = random() % 16;
				if (pos + tl > len)
					tl = len - pos;
				memmove(buf + pos, buf + pos + tl,
				    len - pos - tl);
				len -= tl;
				break;
			default:	/* truncate */
				len = pos;
				break;
			}
		}
		/* An exact-size copy so ASan catches reads past the end. */
		{
			char *x = malloc(len ? len : 1);

			if (x == NULL)
				abort();
			memcpy(x, buf, len);
			exercise(x, len);
			free(x);
		}
		free(buf);
	}
	ok(iter > 0, "fuzz: %d mutations (seed %u) without a crash", iter,
	    seed);
	for (i = 0; i < nitems(fixtures); i++) {
		exercise(src[i], lens[i]);
		free(src[i]);
	}
}

int
main(void)
{
	const char	*d;

	if ((d = getenv("MAILD_MIME_TESTDIR")) != NULL)
		dir = d;
	test_structures();
	test_sections();
	test_headers();
	test_broken();
	test_limits();
	test_fuzz();
	return done_testing();
}
