/*
 * Unit tests for json.c: RFC 8259 texts that must parse (scalars at the
 * top, every escape, surrogate pairs, UTF-8 of every length, number
 * forms) and that must not (the grammar's edge cases, bad UTF-8, lone
 * surrogates, \u0000, control characters, numbers out of range or too
 * long, nesting past JSON_DEPTH_MAX, too many values, a byte order
 * mark, trailing data), every valid text cut short at each byte, and
 * the tree: members, order, names, lengths.
 */
#include <sys/types.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tap.h"

struct bad {
	const char	*in;
	size_t		 len;	/* 0: strlen */
	const char	*why;	/* expected in the error */
};

static const char *const good[] = {
	"0", "-0", "1", "-1", "123456789", "1.5", "-0.25", "1e10", "1E+2",
	"1e-2", "0.0e0", "true", "false", "null", "\"\"", "\"a\"",
	" \t\r\n[ ]\n", "{}", "[[]]", "{\"a\":{}}", "[1,[2,[3]]]",
	"{\"\":0}", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\u00e9\\u20AC\"",
	"\"\\ud83d\\ude00\"", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
	"\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\"", "\"\x7f\"",
	"{\"a\":1,\"a\":2}", "[1.7976931348623157e308]",
	"[1e-400]",		/* underflows to 0: accepted */
	"[\"\\u0001\"]",
};

static const struct bad bad[] = {
	{ "", 0, "unexpected end" },
	{ "   ", 0, "unexpected end" },
	{ "[", 0, "unexpected end" },
	{ "[1,", 0, "unexpected end" },
	{ "{\"a\"", 0, "unexpected end" },
	{ "{\"a\":", 0, "unexpected end" },
	{ "\"abc", 0, "unterminated" },
	{ "[1,]", 0, "unexpected character" },
	{ "[,1]", 0, "unexpected character" },
	{ "{\"a\":1,}", 0, "member name" },
	{ "{a:1}", 0, "member name" },
	{ "{'a':1}", 0, "member name" },
	{ "{\"a\" 1}", 0, "expected ':'" },
	{ "[1 2]", 0, "expected ','" },
	{ "{\"a\":1 \"b\":2}", 0, "expected ','" },
	{ "1 2", 0, "data after" },
	{ "[]]", 0, "data after" },
	{ "01", 0, "data after" },
	{ "+1", 0, "unexpected character" },
	{ ".5", 0, "unexpected character" },
	{ "1.", 0, "bad number" },
	{ "1.e3", 0, "bad number" },
	{ "1e", 0, "bad number" },
	{ "1e+", 0, "bad number" },
	{ "-", 0, "bad number" },
	{ "-a", 0, "bad number" },
	{ "0x10", 0, "data after" },
	{ "NaN", 0, "unexpected character" },
	{ "Infinity", 0, "unexpected character" },
	{ "-Infinity", 0, "bad number" },
	{ "1e400", 0, "out of range" },
	{ "-1e400", 0, "out of range" },
	{ "1234567890123456789012345678901234567890123456789012345678901234"
	    "5", 0, "too long" },
	{ "tru", 0, "unexpected character" },
	{ "True", 0, "unexpected character" },
	{ "nul", 0, "unexpected character" },
	{ "truex", 0, "data after" },
	{ "\"a\nb\"", 0, "control character" },
	{ "\"a\tb\"", 0, "control character" },
	{ "\"\\x41\"", 0, "bad escape" },
	{ "\"\\'\"", 0, "bad escape" },
	{ "\"\\u12\"", 0, "bad \\u" },
	{ "\"\\u12g4\"", 0, "bad \\u" },
	{ "\"\\u0000\"", 0, "\\u0000" },
	{ "\"\\ud800\"", 0, "lone high" },
	{ "\"\\ud800x\"", 0, "lone high" },
	{ "\"\\ud800\\u0041\"", 0, "lone high" },
	{ "\"\\ud800\\ud800\"", 0, "lone high" },
	{ "\"\\udc00\"", 0, "lone low" },
	{ "\"\\udc00\\ud800\"", 0, "lone low" },
	{ "\"\x80\"", 0, "UTF-8" },
	{ "\"\xbf\"", 0, "UTF-8" },
	{ "\"\xc0\xaf\"", 0, "UTF-8" },		/* overlong '/' */
	{ "\"\xc1\xbf\"", 0, "UTF-8" },
	{ "\"\xe0\x80\xaf\"", 0, "UTF-8" },	/* overlong, 3 bytes */
	{ "\"\xe0\x9f\xbf\"", 0, "UTF-8" },
	{ "\"\xed\xa0\x80\"", 0, "UTF-8" },	/* encoded surrogate */
	{ "\"\xed\xbf\xbf\"", 0, "UTF-8" },
	{ "\"\xf0\x80\x80\xaf\"", 0, "UTF-8" },	/* overlong, 4 bytes */
	{ "\"\xf4\x90\x80\x80\"", 0, "UTF-8" },	/* past U+10FFFF */
	{ "\"\xf5\x80\x80\x80\"", 0, "UTF-8" },
	{ "\"\xff\"", 0, "UTF-8" },
	{ "\"\xc3\"", 0, "UTF-8" },		/* cut: the quote is no cont */
	{ "\"\xe2\x82\"", 0, "UTF-8" },
	{ "\"\xe2\x28\xa1\"", 0, "UTF-8" },
	{ "\xef\xbb\xbf{}", 0, "byte order mark" },
	{ "[1]\0", 4, "data after" },
	{ "\0", 1, "unexpected character" },
	{ "[\"a\0b\"]", 7, "control character" },
	{ "\xc3\xa9", 0, "unexpected character" },
	{ "/* c */ 1", 0, "unexpected character" },
	{ "[1]\x0b", 0, "data after" },
};

static int	 parses(const char *, size_t);
static const char *show(const char *);
static char	*zeros(size_t, size_t *);
static void	 test_good(void);
static void	 test_bad(void);
static void	 test_tree(void);
static void	 test_limits(void);

/* A test name: controls and 8-bit bytes as \xNN. */
static const char *
show(const char *s)
{
	static char	 buf[256];
	size_t		 n = 0;

	for (; *s != '\0' && n + 5 < sizeof(buf); s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			n += snprintf(buf + n, sizeof(buf) - n, "\\x%02x",
			    (unsigned char)*s);
		else
			buf[n++] = *s;
	}
	buf[n] = '\0';
	return buf;
}

static int
parses(const char *in, size_t len)
{
	struct json	 doc;
	char		 err[128];

	if (json_parse(&doc, in, len, err, sizeof(err)) == -1)
		return 0;
	json_free(&doc);
	return 1;
}

static void
test_good(void)
{
	size_t	 i, cut, n;
	int	 allcut;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		n = strlen(good[i]);
		ok(parses(good[i], n), "parses: %s", show(good[i]));
		/*
		 * Every proper prefix is an error, but those that are
		 * texts of their own ("12" of "123").
		 */
		allcut = 1;
		for (cut = 0; cut < n; cut++) {
			if (strspn(good[i], "-0123456789.eE+") == n &&
			    cut > 0 && good[i][cut - 1] >= '0' &&
			    good[i][cut - 1] <= '9')
				continue;
			if (strncmp(good[i], " \t\r\n[ ]\n", n) == 0 &&
			    cut >= 7)
				continue;
			if (parses(good[i], cut)) {
				allcut = 0;
				printf("# prefix of %zu bytes parsed\n", cut);
			}
		}
		ok(allcut, "cut short: %s", show(good[i]));
	}
}

static void
test_bad(void)
{
	struct json	 doc;
	char		 err[128];
	size_t		 i, len;
	int		 r;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = bad[i].len ? bad[i].len : strlen(bad[i].in);
		err[0] = '\0';
		r = json_parse(&doc, bad[i].in, len, err, sizeof(err));
		ok(r == -1 && strstr(err, bad[i].why) != NULL &&
		    strncmp(err, "offset ", 7) == 0 && doc.root == NULL &&
		    doc.blocks == NULL && doc.strings == NULL,
		    "refused (%s): %s", bad[i].why, show(bad[i].in));
		if (r == 0)
			json_free(&doc);
		else if (strstr(err, bad[i].why) == NULL)
			printf("#   got: %s\n", err);
	}
}

static void
test_tree(void)
{
	struct json			 doc;
	const struct json_value		*v, *a;
	const char			*in;
	char				 err[128];

	in = "{\"s\":\"x\\u00e9\\ud83d\\ude00\\n\",\"n\":-12.5e1,"
	    "\"a\":[true,false,null,{}],\"o\":{\"k\":\"v\"},"
	    "\"dup\":1,\"dup\":2,\"\\u0041\":\"named\"}";
	ok(json_parse(&doc, in, strlen(in), err, sizeof(err)) == 0,
	    "tree parses");
	ok(doc.root != NULL && doc.root->type == JSON_OBJECT &&
	    doc.root->len == 7, "object of 7 members");
	v = json_member(doc.root, "s");
	ok(v != NULL && v->type == JSON_STRING && v->len == 8 &&
	    strcmp(v->str, "x\xc3\xa9\xf0\x9f\x98\x80\n") == 0,
	    "string unescaped into UTF-8");
	is_str(json_string(v), "x\xc3\xa9\xf0\x9f\x98\x80\n", "json_string");
	v = json_member(doc.root, "n");
	ok(v != NULL && v->type == JSON_NUMBER && v->num == -125.0,
	    "number");
	ok(json_string(v) == NULL, "json_string of a number");
	a = json_member(doc.root, "a");
	ok(a != NULL && a->type == JSON_ARRAY && a->len == 4 &&
	    a->first->type == JSON_TRUE &&
	    a->first->next->type == JSON_FALSE &&
	    a->first->next->next->type == JSON_NULL &&
	    a->first->next->next->next->type == JSON_OBJECT &&
	    a->first->next->next->next->next == NULL, "array in order");
	ok(a->first->name == NULL, "elements have no name");
	is_str(json_string(json_member(json_member(doc.root, "o"), "k")),
	    "v", "nested member");
	v = json_member(doc.root, "dup");
	ok(v != NULL && v->num == 1, "duplicate: the first");
	is_str(json_string(json_member(doc.root, "A")), "named",
	    "escaped member name");
	ok(json_member(doc.root, "nope") == NULL, "absent member");
	ok(json_member(a, "s") == NULL, "json_member of an array");
	ok(json_member(NULL, "s") == NULL, "json_member of NULL");
	json_free(&doc);
	ok(doc.root == NULL && doc.blocks == NULL, "freed");
	json_free(&doc);

	ok(json_parse(&doc, "  \"top\"  ", 9, err, sizeof(err)) == 0 &&
	    doc.root->type == JSON_STRING && strcmp(doc.root->str, "top") ==
	    0, "a scalar at the top");
	json_free(&doc);
	/* Not NUL-terminated: only len bytes are read. */
	ok(json_parse(&doc, "[1]xyz", 3, err, sizeof(err)) == 0,
	    "len bounds the input");
	json_free(&doc);
}

/* "[0,0,...,0]" of k elements, its length in *len. */
static char *
zeros(size_t k, size_t *len)
{
	char	*buf;
	size_t	 i;

	*len = 2 * k + 1;
	if ((buf = malloc(*len)) == NULL)
		exit(1);
	buf[0] = '[';
	for (i = 0; i < k; i++) {
		buf[1 + 2 * i] = '0';
		buf[2 + 2 * i] = i + 1 < k ? ',' : ']';
	}
	return buf;
}

static void
test_limits(void)
{
	struct json	 doc;
	const char	*in;
	char		 err[128], *buf;
	size_t		 i, n;
	int		 r;

	/* JSON_DEPTH_MAX levels parse, one more does not. */
	buf = malloc(2 * (JSON_DEPTH_MAX + 1) + 1);
	for (n = JSON_DEPTH_MAX; n <= JSON_DEPTH_MAX + 1; n++) {
		for (i = 0; i < n; i++) {
			buf[i] = '[';
			buf[2 * n - 1 - i] = ']';
		}
		r = json_parse(&doc, buf, 2 * n, err, sizeof(err));
		if (n == JSON_DEPTH_MAX)
			ok(r == 0, "nesting of %zu", n);
		else
			ok(r == -1 && strstr(err, "deeply") != NULL,
			    "nesting of %zu refused: %s", n, err);
		if (r == 0)
			json_free(&doc);
	}
	free(buf);
	/* Deep nesting far past the limit: refused, not a stack overflow. */
	n = 1000000;
	buf = malloc(n);
	memset(buf, '[', n);
	ok(json_parse(&doc, buf, n, err, sizeof(err)) == -1 &&
	    strstr(err, "deeply") != NULL, "a million '[' refused");
	memset(buf, '{', n);
	ok(json_parse(&doc, buf, n, err, sizeof(err)) == -1,
	    "a million '{' refused");
	free(buf);

	/* Too many values: the array and JSON_NODES_MAX elements. */
	buf = zeros(JSON_NODES_MAX, &n);
	ok(json_parse(&doc, buf, n, err, sizeof(err)) == -1 &&
	    strstr(err, "too many") != NULL, "too many values: %s", err);
	free(buf);
	buf = zeros(JSON_NODES_MAX - 1, &n);
	r = json_parse(&doc, buf, n, err, sizeof(err));
	ok(r == 0 && doc.root->len == JSON_NODES_MAX - 1,
	    "JSON_NODES_MAX values");
	if (r == 0)
		json_free(&doc);
	free(buf);

	/* Too large. */
	n = JSON_SIZE_MAX + 1;
	buf = malloc(n);
	memset(buf, ' ', n);
	buf[0] = '1';
	ok(json_parse(&doc, buf, n, err, sizeof(err)) == -1 &&
	    strstr(err, "too large") != NULL, "over JSON_SIZE_MAX");
	ok(json_parse(&doc, buf, n - 1, err, sizeof(err)) == 0,
	    "JSON_SIZE_MAX bytes");
	json_free(&doc);
	free(buf);

	/* A long string of escapes fills the string buffer exactly. */
	n = 6 * 10000 + 2;
	buf = malloc(n);
	buf[0] = '"';
	for (i = 0; i < 10000; i++)
		memcpy(buf + 1 + 6 * i, "\\u20ac", 6);
	buf[n - 1] = '"';
	r = json_parse(&doc, buf, n, err, sizeof(err));
	ok(r == 0 && doc.root->len == 30000, "10000 escaped euros");
	if (r == 0)
		json_free(&doc);
	free(buf);

	/* Numbers: precision, the edges of double. */
	in = "[4.9e-324, 2.2250738585072014e-308, 1e308]";
	ok(json_parse(&doc, in, strlen(in), err, sizeof(err)) == 0 &&
	    doc.root->first->num > 0 &&
	    doc.root->first->next->next->num == 1e308, "double edges");
	json_free(&doc);

	/* A tiny err buffer is not overrun; none at all is fine. */
	ok(json_parse(&doc, "[", 1, err, 5) == -1 && strlen(err) == 4,
	    "err truncated");
	ok(json_parse(&doc, "[", 1, NULL, 0) == -1, "no err buffer");
}

int
main(void)
{
	test_good();
	test_bad();
	test_tree();
	test_limits();
	return done_testing();
}
