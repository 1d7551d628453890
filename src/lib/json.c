/*
 * The JSON parser of json.h: recursive descent over the input with the
 * nesting bounded, nodes taken from blocks of JSON_BLOCK_NODES, strings
 * unescaped into one buffer as large as the input (a string with its
 * NUL is never longer than its quoted form: an escape shrinks, a
 * surrogate pair of 12 bytes gives 4).
 */
#include <sys/types.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define JSON_BLOCK_NODES	256

struct json_block {
	struct json_block	*next;
	size_t			 used;
	struct json_value	 v[JSON_BLOCK_NODES];
};

struct parser {
	const unsigned char	*start, *p, *end;
	struct json		*doc;
	char			*s;	/* next free byte of doc->strings */
	size_t			 nodes;
	int			 depth;
	char			*err;
	size_t			 errlen;
};

static int	 fail(struct parser *, const char *);
static struct json_value *node(struct parser *, enum json_type);
static void	 skip_ws(struct parser *);
static int	 value(struct parser *, struct json_value **);
static int	 literal(struct parser *, const char *, enum json_type,
		    struct json_value **);
static int	 number(struct parser *, struct json_value **);
static int	 string(struct parser *, const char **, size_t *);
static int	 escape(struct parser *);
static int	 hex4(struct parser *, unsigned int *);
static int	 utf8(struct parser *);
static int	 array(struct parser *, struct json_value **);
static int	 object(struct parser *, struct json_value **);

static int
fail(struct parser *ps, const char *why)
{
	if (ps->errlen > 0)
		(void)snprintf(ps->err, ps->errlen, "offset %zu: %s",
		    (size_t)(ps->p - ps->start), why);
	return -1;
}

static struct json_value *
node(struct parser *ps, enum json_type type)
{
	struct json_block	*b = ps->doc->blocks;
	struct json_value	*v;

	if (ps->nodes >= JSON_NODES_MAX) {
		(void)fail(ps, "too many values");
		return NULL;
	}
	if (b == NULL || b->used == JSON_BLOCK_NODES) {
		if ((b = malloc(sizeof(*b))) == NULL) {
			(void)fail(ps, "out of memory");
			return NULL;
		}
		b->used = 0;
		b->next = ps->doc->blocks;
		ps->doc->blocks = b;
	}
	v = &b->v[b->used++];
	memset(v, 0, sizeof(*v));
	v->type = type;
	ps->nodes++;
	return v;
}

static void
skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
	    *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int
value(struct parser *ps, struct json_value **out)
{
	struct json_value	*v;

	skip_ws(ps);
	if (ps->p == ps->end)
		return fail(ps, "unexpected end of input");
	switch (*ps->p) {
	case '{':
		return object(ps, out);
	case '[':
		return array(ps, out);
	case '"':
		if ((v = node(ps, JSON_STRING)) == NULL ||
		    string(ps, &v->str, &v->len) == -1)
			return -1;
		*out = v;
		return 0;
	case 't':
		return literal(ps, "true", JSON_TRUE, out);
	case 'f':
		return literal(ps, "false", JSON_FALSE, out);
	case 'n':
		return literal(ps, "null", JSON_NULL, out);
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			return number(ps, out);
		return fail(ps, "unexpected character");
	}
}

static int
literal(struct parser *ps, const char *word, enum json_type type,
    struct json_value **out)
{
	size_t	 n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return fail(ps, "unexpected character");
	if ((*out = node(ps, type)) == NULL)
		return -1;
	ps->p += n;
	return 0;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, read by strtod. */
static int
number(struct parser *ps, struct json_value **out)
{
	const unsigned char	*q = ps->p, *e = ps->end;
	char			 buf[JSON_NUMBER_MAX + 1], *end;
	double			 d;
	size_t			 n;

#define DIGIT(q)	((q) < e && *(q) >= '0' && *(q) <= '9')
	if (q < e && *q == '-')
		q++;
	if (q < e && *q == '0')
		q++;
	else if (DIGIT(q))
		while (DIGIT(q))
			q++;
	else
		return fail(ps, "bad number");
	if (q < e && *q == '.') {
		q++;
		if (!DIGIT(q))
			return fail(ps, "bad number");
		while (DIGIT(q))
			q++;
	}
	if (q < e && (*q == 'e' || *q == 'E')) {
		q++;
		if (q < e && (*q == '+' || *q == '-'))
			q++;
		if (!DIGIT(q))
			return fail(ps, "bad number");
		while (DIGIT(q))
			q++;
	}
#undef DIGIT
	if ((n = q - ps->p) > JSON_NUMBER_MAX)
		return fail(ps, "number too long");
	memcpy(buf, ps->p, n);
	buf[n] = '\0';
	d = strtod(buf, &end);
	if (end != buf + n)
		return fail(ps, "bad number");
	if (isinf(d) || isnan(d))
		return fail(ps, "number out of range");
	if ((*out = node(ps, JSON_NUMBER)) == NULL)
		return -1;
	(*out)->num = d;
	ps->p = q;
	return 0;
}

/* A string at ps->p (its '"'), unescaped into ps->s. */
static int
string(struct parser *ps, const char **str, size_t *len)
{
	char	*begin = ps->s;

	ps->p++;
	for (;;) {
		if (ps->p == ps->end)
			return fail(ps, "unterminated string");
		if (*ps->p == '"')
			break;
		if (*ps->p < 0x20)
			return fail(ps, "control character in a string");
		if (*ps->p == '\\') {
			if (escape(ps) == -1)
				return -1;
		} else if (*ps->p < 0x80)
			*ps->s++ = *ps->p++;
		else if (utf8(ps) == -1)
			return -1;
	}
	ps->p++;
	*ps->s++ = '\0';
	*str = begin;
	*len = ps->s - begin - 1;
	return 0;
}

static int
escape(struct parser *ps)
{
	unsigned int	 cp, lo;
	unsigned char	*o;
	char		 c;

	ps->p++;
	if (ps->p == ps->end)
		return fail(ps, "unterminated string");
	switch (*ps->p) {
	case '"':
	case '\\':
	case '/':
		c = *ps->p;
		break;
	case 'b':
		c = '\b';
		break;
	case 'f':
		c = '\f';
		break;
	case 'n':
		c = '\n';
		break;
	case 'r':
		c = '\r';
		break;
	case 't':
		c = '\t';
		break;
	case 'u':
		ps->p++;
		if (hex4(ps, &cp) == -1)
			return -1;
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return fail(ps, "lone low surrogate");
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (ps->end - ps->p < 2 || ps->p[0] != '\\' ||
			    ps->p[1] != 'u')
				return fail(ps, "lone high surrogate");
			ps->p += 2;
			if (hex4(ps, &lo) == -1)
				return -1;
			if (lo < 0xdc00 || lo > 0xdfff)
				return fail(ps, "lone high surrogate");
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		}
		if (cp == 0)
			return fail(ps, "\\u0000 in a string");
		o = (unsigned char *)ps->s;
		if (cp < 0x80)
			*o++ = cp;
		else if (cp < 0x800) {
			*o++ = 0xc0 | (cp >> 6);
			*o++ = 0x80 | (cp & 0x3f);
		} else if (cp < 0x10000) {
			*o++ = 0xe0 | (cp >> 12);
			*o++ = 0x80 | ((cp >> 6) & 0x3f);
			*o++ = 0x80 | (cp & 0x3f);
		} else {
			*o++ = 0xf0 | (cp >> 18);
			*o++ = 0x80 | ((cp >> 12) & 0x3f);
			*o++ = 0x80 | ((cp >> 6) & 0x3f);
			*o++ = 0x80 | (cp & 0x3f);
		}
		ps->s = (char *)o;
		return 0;
	default:
		return fail(ps, "bad escape");
	}
	*ps->s++ = c;
	ps->p++;
	return 0;
}

static int
hex4(struct parser *ps, unsigned int *cp)
{
	unsigned char	 c;
	int		 i;

	*cp = 0;
	for (i = 0; i < 4; i++) {
		if (ps->p == ps->end)
			return fail(ps, "unterminated string");
		c = *ps->p;
		if (c >= '0' && c <= '9')
			*cp = *cp << 4 | (c - '0');
		else if (c >= 'a' && c <= 'f')
			*cp = *cp << 4 | (c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*cp = *cp << 4 | (c - 'A' + 10);
		else
			return fail(ps, "bad \\u escape");
		ps->p++;
	}
	return 0;
}

/* One UTF-8 sequence (RFC 3629 section 4), copied. */
static int
utf8(struct parser *ps)
{
	const unsigned char	*p = ps->p;
	unsigned char		 c = *p, lo = 0x80, hi = 0xbf;
	size_t			 n, i;

	if (c >= 0xc2 && c <= 0xdf)
		n = 1;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 2;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return fail(ps, "invalid UTF-8");
	if ((size_t)(ps->end - p) <= n)
		return fail(ps, "invalid UTF-8");
	if (p[1] < lo || p[1] > hi)
		return fail(ps, "invalid UTF-8");
	for (i = 2; i <= n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return fail(ps, "invalid UTF-8");
	memcpy(ps->s, p, n + 1);
	ps->s += n + 1;
	ps->p += n + 1;
	return 0;
}

static int
array(struct parser *ps, struct json_value **out)
{
	struct json_value	*a, *v, **tail;

	if (++ps->depth > JSON_DEPTH_MAX)
		return fail(ps, "nested too deeply");
	if ((a = node(ps, JSON_ARRAY)) == NULL)
		return -1;
	tail = &a->first;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		goto done;
	}
	for (;;) {
		if (value(ps, &v) == -1)
			return -1;
		*tail = v;
		tail = &v->next;
		a->len++;
		skip_ws(ps);
		if (ps->p == ps->end)
			return fail(ps, "unexpected end of input");
		if (*ps->p == ']') {
			ps->p++;
			break;
		}
		if (*ps->p != ',')
			return fail(ps, "expected ',' or ']'");
		ps->p++;
	}
 done:
	ps->depth--;
	*out = a;
	return 0;
}

static int
object(struct parser *ps, struct json_value **out)
{
	struct json_value	*o, *v, **tail;
	const char		*name;
	size_t			 namelen;

	if (++ps->depth > JSON_DEPTH_MAX)
		return fail(ps, "nested too deeply");
	if ((o = node(ps, JSON_OBJECT)) == NULL)
		return -1;
	tail = &o->first;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		goto done;
	}
	for (;;) {
		skip_ws(ps);
		if (ps->p == ps->end)
			return fail(ps, "unexpected end of input");
		if (*ps->p != '"')
			return fail(ps, "expected a member name");
		if (string(ps, &name, &namelen) == -1)
			return -1;
		skip_ws(ps);
		if (ps->p == ps->end)
			return fail(ps, "unexpected end of input");
		if (*ps->p != ':')
			return fail(ps, "expected ':'");
		ps->p++;
		if (value(ps, &v) == -1)
			return -1;
		v->name = name;
		v->namelen = namelen;
		*tail = v;
		tail = &v->next;
		o->len++;
		skip_ws(ps);
		if (ps->p == ps->end)
			return fail(ps, "unexpected end of input");
		if (*ps->p == '}') {
			ps->p++;
			break;
		}
		if (*ps->p != ',')
			return fail(ps, "expected ',' or '}'");
		ps->p++;
	}
 done:
	ps->depth--;
	*out = o;
	return 0;
}

int
json_parse(struct json *doc, const char *buf, size_t len, char *err,
    size_t errlen)
{
	struct parser	 ps;

	memset(doc, 0, sizeof(*doc));
	memset(&ps, 0, sizeof(ps));
	ps.start = ps.p = (const unsigned char *)buf;
	ps.end = ps.p + len;
	ps.doc = doc;
	ps.err = err;
	ps.errlen = errlen;
	if (len > JSON_SIZE_MAX)
		return fail(&ps, "too large");
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		return fail(&ps, "byte order mark");
	if ((doc->strings = malloc(len + 1)) == NULL)
		return fail(&ps, "out of memory");
	ps.s = doc->strings;
	if (value(&ps, &doc->root) == -1)
		goto bad;
	skip_ws(&ps);
	if (ps.p != ps.end) {
		(void)fail(&ps, "data after the value");
		goto bad;
	}
	return 0;
 bad:
	json_free(doc);
	return -1;
}

void
json_free(struct json *doc)
{
	struct json_block	*b, *next;

	for (b = doc->blocks; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(doc->strings);
	memset(doc, 0, sizeof(*doc));
}

const struct json_value *
json_member(const struct json_value *obj, const char *name)
{
	const struct json_value	*v;
	size_t			 n;

	if (obj == NULL || obj->type != JSON_OBJECT)
		return NULL;
	n = strlen(name);
	for (v = obj->first; v != NULL; v = v->next)
		if (v->namelen == n && memcmp(v->name, name, n) == 0)
			return v;
	return NULL;
}

const char *
json_string(const struct json_value *v)
{
	if (v == NULL || v->type != JSON_STRING)
		return NULL;
	return v->str;
}
