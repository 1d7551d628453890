/*
 * rspamd's HTTP protocol (rspamd.h): the head of a request, a reader of
 * answers fed as they arrive, and the JSON of /checkv2 and of the learn
 * calls read into fixed, bounded structures.  The field names and their
 * meaning follow rspamd 3.4's src/libserver/protocol.c (request fields,
 * the /checkv2 object), milter.c (how its milter applies add_headers,
 * remove_headers and dkim-signature) and controller.c (learn answers).
 */
#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "rspamd.h"

enum {
	S_STATUS,
	S_HEADER,
	S_BODY_CL,
	S_BODY_EOF,
	S_CHUNK_SIZE,
	S_CHUNK_DATA,
	S_CHUNK_CRLF,
	S_TRAILER,
	S_DONE,
	S_ERROR
};

/* Bytes of chunked framing (size lines, CRLFs) allowed in one answer. */
#define FRAMING_MAX	RSPAMD_BODY_MAX
#define LINE_998	998		/* RFC 5322 2.1.1 */

struct out {
	char	*p;
	size_t	 left;
	int	 bad;
};

/* What rspamd_parse_check() works with. */
struct check {
	struct rspamd_result	*res;
	char			*err;
	size_t			 errlen;
	size_t			 used, cap;	/* of res->arena */
};

static int	 value_ok(const char *);
static void	 put(struct out *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	 field(struct out *, const char *, const char *);
static int	 http_fail(struct rspamd_http *, const char *);
static int	 http_line(struct rspamd_http *, char *, size_t);
static int	 http_status(struct rspamd_http *, const char *);
static int	 http_header(struct rspamd_http *, char *, int);
static int	 http_head_end(struct rspamd_http *);
static int	 http_chunk_size(struct rspamd_http *, const char *);
static int	 http_body(struct rspamd_http *, const char *, size_t);
static int	 http_body_done(struct rspamd_http *);
static int	 tchar(unsigned char);
static int	 check_fail(struct check *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static char	*arena_put(struct check *, const char *, size_t);
static void	 printable(const char *, char *, size_t);
static const char *printable_copy(struct check *, const char *, size_t);
static int	 action(const char *, enum rspamd_action *);
static int	 field_name_ok(const char *, size_t);
static const char *field_value(struct check *, const char *, size_t,
		    size_t, const char *);
static double	 magnitude(double);
static int	 order_value(struct check *, const struct json_value *,
		    const char *, int *);
static int	 sym_before(const struct rspamd_symbol *,
		    const struct rspamd_symbol *);
static void	 symbol(struct rspamd_result *, const struct json_value *);
static int	 milter(struct check *, const struct json_value *);
static int	 removal(struct check *, const char *,
		    const struct json_value *);
static int	 addition(struct check *, const char *,
		    const struct json_value *);
static int	 dkim(struct check *, const struct json_value *);

/* -- the request ------------------------------------------------------ */

/* At most RSPAMD_VALUE_MAX bytes, no control character. */
static int
value_ok(const char *v)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)v; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return p - (const unsigned char *)v <= RSPAMD_VALUE_MAX;
}

static void
put(struct out *o, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (o->bad)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p, o->left, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->left) {
		o->bad = 1;
		return;
	}
	o->p += n;
	o->left -= n;
}

/* "Name: value\r\n" when value is given (not NULL, not ""). */
static void
field(struct out *o, const char *name, const char *value)
{
	if (value == NULL || value[0] == '\0')
		return;
	if (!value_ok(value)) {
		o->bad = 1;
		return;
	}
	put(o, "%s: %s\r\n", name, value);
}

int
rspamd_request(char *buf, size_t len, const struct rspamd_req *req)
{
	struct out	 o;
	const char	*host, *p;
	size_t		 i;

	o.p = buf;
	o.left = len;
	o.bad = 0;
	if (req->path == NULL || req->path[0] != '/' || !value_ok(req->path))
		return -1;
	for (p = req->path; *p != '\0'; p++)
		if (*p == ' ')
			return -1;
	host = req->host != NULL ? req->host : "localhost";
	if (host[0] == '\0' || strchr(host, ' ') != NULL || !value_ok(host))
		return -1;
	put(&o, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n", req->path, host, req->content_length);
	field(&o, "Password", req->password);
	field(&o, "IP", req->ip);
	field(&o, "Helo", req->helo);
	if (req->hostname == NULL || strcmp(req->hostname, "unknown") != 0)
		field(&o, "Hostname", req->hostname);
	if (req->from != NULL) {
		if (!value_ok(req->from))
			return -1;
		put(&o, "From: <%s>\r\n", req->from);
	}
	for (i = 0; i < req->nrcpts; i++) {
		if (req->rcpts[i] == NULL || req->rcpts[i][0] == '\0' ||
		    !value_ok(req->rcpts[i]))
			return -1;
		put(&o, "Rcpt: <%s>\r\n", req->rcpts[i]);
	}
	field(&o, "Queue-Id", req->queue_id);
	field(&o, "User", req->user);
	field(&o, "TLS-Version", req->tls_version);
	field(&o, "TLS-Cipher", req->tls_cipher);
	field(&o, "MTA-Name", req->mta_name);
	put(&o, "\r\n");
	if (o.bad)
		return -1;
	return o.p - buf;
}

/* -- the answer ------------------------------------------------------- */

void
rspamd_http_init(struct rspamd_http *h)
{
	memset(h, 0, sizeof(*h));
	h->state = S_STATUS;
	h->clen = -1;
}

void
rspamd_http_free(struct rspamd_http *h)
{
	free(h->body);
	h->body = NULL;
	h->bodylen = h->bodycap = 0;
}

static int
http_fail(struct rspamd_http *h, const char *why)
{
	h->state = S_ERROR;
	h->error = why;
	return RSPAMD_HTTP_ERROR;
}

int
rspamd_http_feed(struct rspamd_http *h, const char *buf, size_t len)
{
	const char	*nl;
	size_t		 n;
	int		 r;

	while (len > 0) {
		switch (h->state) {
		case S_ERROR:
			return RSPAMD_HTTP_ERROR;
		case S_DONE:
			return http_fail(h, "data after the answer");
		case S_BODY_CL:
		case S_CHUNK_DATA:
			n = len < h->left ? len : h->left;
			if (http_body(h, buf, n) == -1)
				return RSPAMD_HTTP_ERROR;
			buf += n;
			len -= n;
			if ((h->left -= n) > 0)
				break;
			if (h->state == S_CHUNK_DATA)
				h->state = S_CHUNK_CRLF;
			else if (http_body_done(h) == -1)
				return RSPAMD_HTTP_ERROR;
			break;
		case S_BODY_EOF:
			if (http_body(h, buf, len) == -1)
				return RSPAMD_HTTP_ERROR;
			len = 0;
			break;
		default:
			nl = memchr(buf, '\n', len);
			n = nl != NULL ? (size_t)(nl - buf) + 1 : len;
			if (h->linelen + n >= RSPAMD_LINE_MAX)
				return http_fail(h, "line too long");
			if (h->state == S_CHUNK_SIZE ||
			    h->state == S_CHUNK_CRLF) {
				if ((h->framelen += n) > FRAMING_MAX)
					return http_fail(h, "too much framing");
			} else if ((h->headlen += n) > RSPAMD_HEAD_MAX)
				return http_fail(h, "head too large");
			memcpy(h->line + h->linelen, buf, n);
			h->linelen += n;
			buf += n;
			len -= n;
			if (nl == NULL)
				break;
			n = h->linelen;
			h->linelen = 0;
			if (n < 2 || h->line[n - 2] != '\r')
				return http_fail(h, "line not ended by CRLF");
			h->line[n - 2] = '\0';
			if ((r = http_line(h, h->line, n - 2)) != 0)
				return r;
			break;
		}
	}
	if (h->state == S_ERROR)
		return RSPAMD_HTTP_ERROR;
	return h->state == S_DONE ? RSPAMD_HTTP_DONE : RSPAMD_HTTP_MORE;
}

int
rspamd_http_eof(struct rspamd_http *h)
{
	switch (h->state) {
	case S_DONE:
		return RSPAMD_HTTP_DONE;
	case S_ERROR:
		return RSPAMD_HTTP_ERROR;
	case S_BODY_EOF:
		if (http_body_done(h) == -1)
			return RSPAMD_HTTP_ERROR;
		return RSPAMD_HTTP_DONE;
	case S_STATUS:
		if (h->linelen == 0 && h->headlen == 0)
			return http_fail(h, "connection closed without an "
			    "answer");
		/* FALLTHROUGH */
	default:
		return http_fail(h, "connection closed in the middle of the "
		    "answer");
	}
}

/* A whole line without its CRLF (NUL-terminated): 0, or ERROR. */
static int
http_line(struct rspamd_http *h, char *line, size_t len)
{
	if (memchr(line, '\0', len) != NULL)
		return http_fail(h, "NUL in the head");
	switch (h->state) {
	case S_STATUS:
		return http_status(h, line);
	case S_HEADER:
		if (len == 0)
			return http_head_end(h);
		return http_header(h, line, 0);
	case S_CHUNK_SIZE:
		return http_chunk_size(h, line);
	case S_CHUNK_CRLF:
		if (len != 0)
			return http_fail(h, "chunk data not followed by CRLF");
		h->state = S_CHUNK_SIZE;
		return 0;
	case S_TRAILER:
		if (len == 0)
			return http_body_done(h) == -1 ? RSPAMD_HTTP_ERROR : 0;
		return http_header(h, line, 1);
	}
	return http_fail(h, "internal error");
}

/* HTTP/1.x SP 3DIGIT [SP reason-phrase] */
static int
http_status(struct rspamd_http *h, const char *line)
{
	const unsigned char	*p = (const unsigned char *)line;
	size_t			 i;

	if (strncmp(line, "HTTP/1.", 7) != 0 || (p[7] != '0' &&
	    p[7] != '1') || p[8] != ' ')
		return http_fail(h, "not an HTTP/1.x status line");
	p += 9;
	for (i = 0; i < 3; i++)
		if (p[i] < '0' || p[i] > '9')
			return http_fail(h, "bad status code");
	h->status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	p += 3;
	if (*p != '\0' && *p++ != ' ')
		return http_fail(h, "bad status code");
	for (i = 0; p[i] != '\0'; i++)
		if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
			return http_fail(h, "control character in the reason");
	printable((const char *)p, h->reason, sizeof(h->reason));
	if (h->status < 200) {
		h->status = 0;
		return http_fail(h, "interim (1xx) answer");
	}
	if (h->status > 599) {
		h->status = 0;
		return http_fail(h, "bad status code");
	}
	h->state = S_HEADER;
	return 0;
}

/* RFC 9110 5.6.2 tchar */
static int
tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* name ":" OWS value OWS; in a trailer, only checked. */
static int
http_header(struct rspamd_http *h, char *line, int trailer)
{
	unsigned char	*p = (unsigned char *)line, *v, *e;
	const char	*name = line;
	size_t		 i;

	if (*p == ' ' || *p == '\t')
		return http_fail(h, "obsolete line folding");
	while (tchar(*p))
		p++;
	if (p == (unsigned char *)line || *p != ':')
		return http_fail(h, "bad header field name");
	*p++ = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	v = p;
	e = v + strlen((char *)v);
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*e = '\0';
	for (p = v; p < e; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return http_fail(h, "control character in a header "
			    "field");
	if (trailer)
		return 0;
	if (strcasecmp(name, "Content-Length") == 0) {
		long long	 n = 0;

		if (*v == '\0')
			return http_fail(h, "bad Content-Length");
		for (i = 0; v[i] != '\0'; i++) {
			if (v[i] < '0' || v[i] > '9')
				return http_fail(h, "bad Content-Length");
			if ((n = n * 10 + (v[i] - '0')) > RSPAMD_BODY_MAX)
				return http_fail(h, "body too large");
		}
		if (h->clen >= 0 && h->clen != n)
			return http_fail(h, "conflicting Content-Length");
		h->clen = n;
	} else if (strcasecmp(name, "Transfer-Encoding") == 0) {
		if (h->chunked || strcasecmp((char *)v, "chunked") != 0)
			return http_fail(h, "unsupported Transfer-Encoding");
		h->chunked = 1;
	} else if (strcasecmp(name, "Content-Encoding") == 0) {
		if (strcasecmp((char *)v, "identity") != 0)
			return http_fail(h, "compressed body "
			    "(Content-Encoding)");
	}
	return 0;
}

static int
http_head_end(struct rspamd_http *h)
{
	if (h->chunked) {
		if (h->clen >= 0)
			return http_fail(h, "both Content-Length and chunked");
		h->state = S_CHUNK_SIZE;
		return 0;
	}
	if (h->clen < 0) {
		h->state = S_BODY_EOF;
		return 0;
	}
	if ((h->body = malloc(h->clen + 1)) == NULL)
		return http_fail(h, "out of memory");
	h->bodycap = h->clen + 1;
	h->left = h->clen;
	h->state = S_BODY_CL;
	if (h->clen == 0)
		return http_body_done(h) == -1 ? RSPAMD_HTTP_ERROR : 0;
	return 0;
}

/* 1*HEXDIG [ BWS ";" chunk-ext ] */
static int
http_chunk_size(struct rspamd_http *h, const char *line)
{
	const char	*p = line;
	size_t		 n = 0;
	int		 d;

	if (*p == '\0')
		return http_fail(h, "bad chunk size");
	for (; *p != '\0' && *p != ';' && *p != ' ' && *p != '\t'; p++) {
		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			return http_fail(h, "bad chunk size");
		if ((n = n * 16 + d) > RSPAMD_BODY_MAX)
			return http_fail(h, "body too large");
	}
	if (p == line)
		return http_fail(h, "bad chunk size");
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0' && *p != ';')
		return http_fail(h, "bad chunk size");
	for (; *p != '\0'; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return http_fail(h, "bad chunk extension");
	if (n == 0) {
		h->state = S_TRAILER;
		return 0;
	}
	if (h->bodylen + n > RSPAMD_BODY_MAX)
		return http_fail(h, "body too large");
	h->left = n;
	h->state = S_CHUNK_DATA;
	return 0;
}

/* Append to the body, room for its NUL kept. */
static int
http_body(struct rspamd_http *h, const char *buf, size_t len)
{
	size_t	 cap;
	char	*b;

	if (len > RSPAMD_BODY_MAX - h->bodylen) {
		http_fail(h, "body too large");
		return -1;
	}
	if (h->bodylen + len + 1 > h->bodycap) {
		cap = h->bodycap > 0 ? h->bodycap : 4096;
		while (cap < h->bodylen + len + 1)
			cap *= 2;
		if (cap > RSPAMD_BODY_MAX + 1)
			cap = RSPAMD_BODY_MAX + 1;
		if ((b = realloc(h->body, cap)) == NULL) {
			http_fail(h, "out of memory");
			return -1;
		}
		h->body = b;
		h->bodycap = cap;
	}
	memcpy(h->body + h->bodylen, buf, len);
	h->bodylen += len;
	return 0;
}

static int
http_body_done(struct rspamd_http *h)
{
	if (h->body == NULL) {
		if ((h->body = malloc(1)) == NULL) {
			http_fail(h, "out of memory");
			return -1;
		}
		h->bodycap = 1;
	}
	h->body[h->bodylen] = '\0';
	h->state = S_DONE;
	return 0;
}

/* -- /checkv2 --------------------------------------------------------- */

static int
check_fail(struct check *c, const char *fmt, ...)
{
	va_list	 ap;

	if (c->errlen > 0) {
		va_start(ap, fmt);
		(void)vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* n bytes and a NUL into the arena (it was sized for all of them). */
static char *
arena_put(struct check *c, const char *s, size_t n)
{
	char	*p;

	if (n + 1 > c->cap - c->used)
		return NULL;
	p = c->res->arena + c->used;
	memcpy(p, s, n);
	p[n] = '\0';
	c->used += n + 1;
	return p;
}

/*
 * Printable ASCII of UTF-8 text s into buf: controls become spaces, a
 * character past ASCII one '?'; no space at either end.
 */
static void
printable(const char *s, char *buf, size_t size)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n = 0;

	if (size == 0)
		return;
	for (; *p != '\0' && n + 1 < size; p++) {
		if (*p >= 0x80 && *p < 0xc0)
			continue;	/* continuation: counted at its lead */
		if (*p >= 0x80)
			buf[n] = '?';
		else if (*p < 0x20 || *p == 0x7f)
			buf[n] = ' ';
		else
			buf[n] = *p;
		if (buf[n] == ' ' && (n == 0 || buf[n - 1] == ' '))
			continue;
		n++;
	}
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
}

/* printable() of s, at most max bytes, into the arena; NULL if empty. */
static const char *
printable_copy(struct check *c, const char *s, size_t max)
{
	char	*p;

	if (c->cap - c->used < 2)
		return NULL;
	if (max + 1 > c->cap - c->used)
		max = c->cap - c->used - 1;
	p = c->res->arena + c->used;
	printable(s, p, max + 1);
	if (*p == '\0')
		return NULL;
	c->used += strlen(p) + 1;
	return p;
}

/* The names of rspamd_action_from_str() (cfg_utils.c). */
static int
action(const char *s, enum rspamd_action *a)
{
	static const struct {
		const char		*name;
		enum rspamd_action	 action;
	} names[] = {
		{ "no action", RSPAMD_NO_ACTION },
		{ "no_action", RSPAMD_NO_ACTION },
		{ "accept", RSPAMD_NO_ACTION },
		{ "greylist", RSPAMD_GREYLIST },
		{ "add header", RSPAMD_ADD_HEADER },
		{ "add_header", RSPAMD_ADD_HEADER },
		{ "rewrite subject", RSPAMD_REWRITE_SUBJECT },
		{ "rewrite_subject", RSPAMD_REWRITE_SUBJECT },
		{ "soft reject", RSPAMD_SOFT_REJECT },
		{ "soft_reject", RSPAMD_SOFT_REJECT },
		{ "reject", RSPAMD_REJECT },
		{ "discard", RSPAMD_DISCARD },
		{ "quarantine", RSPAMD_QUARANTINE },
	};
	size_t	 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0) {
			*a = names[i].action;
			return 0;
		}
	return -1;
}

/* RFC 5322 3.6.8: 1*ftext, printable ASCII but ':'. */
static int
field_name_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > RSPAMD_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] < 33 || s[i] > 126 || s[i] == ':')
			return 0;
	return 1;
}

/*
 * A field value into the arena, its folds written CRLF: a CR or LF is
 * allowed only as CRLF or LF followed by SP or HTAB.  col: where the
 * value starts on the first line ("Name: ").
 */
static const char *
field_value(struct check *c, const char *s, size_t len, size_t col,
    const char *what)
{
	const unsigned char	*p = (const unsigned char *)s;
	char			*o, *start;
	size_t			 i, line = col;

	if (len > RSPAMD_FIELD_MAX) {
		check_fail(c, "%s: value too long", what);
		return NULL;
	}
	if (2 * len + 1 > c->cap - c->used) {
		check_fail(c, "out of memory");
		return NULL;
	}
	start = o = c->res->arena + c->used;
	for (i = 0; i < len; i++) {
		if (p[i] == '\r' || p[i] == '\n') {
			if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')
				i++;
			if (i + 1 >= len || (p[i + 1] != ' ' &&
			    p[i + 1] != '\t')) {
				check_fail(c, "%s: line break not followed "
				    "by white space", what);
				return NULL;
			}
			*o++ = '\r';
			*o++ = '\n';
			line = 0;
			continue;
		}
		if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f) {
			check_fail(c, "%s: control character", what);
			return NULL;
		}
		if (++line > LINE_998) {
			check_fail(c, "%s: line longer than 998", what);
			return NULL;
		}
		*o++ = p[i];
	}
	*o++ = '\0';
	c->used += o - start;
	return start;
}

/* |d|, without libm. */
static double
magnitude(double d)
{
	return d < 0 ? -d : d;
}

/* An order or index: an integer within RSPAMD_ORDER_MAX. */
static int
order_value(struct check *c, const struct json_value *v, const char *name,
    int *out)
{
	if (!(magnitude(v->num) <= RSPAMD_ORDER_MAX) ||
	    v->num != (double)(int)v->num)
		return check_fail(c, "milter: %s: bad position", name);
	*out = (int)v->num;
	return 0;
}

/* a goes before b: larger |score|, then name. */
static int
sym_before(const struct rspamd_symbol *a, const struct rspamd_symbol *b)
{
	if (magnitude(a->score) != magnitude(b->score))
		return magnitude(a->score) > magnitude(b->score);
	return strcmp(a->name, b->name) < 0;
}

/* One member of "symbols", kept if among the RSPAMD_SYMBOLS_MAX first. */
static void
symbol(struct rspamd_result *res, const struct json_value *v)
{
	const struct json_value	*score;
	struct rspamd_symbol	 s;
	size_t			 i, n;

	res->nsymbols_total++;
	printable(v->name, s.name, sizeof(s.name));
	for (i = 0; s.name[i] != '\0'; i++)
		if (strchr(" (),", s.name[i]) != NULL)
			s.name[i] = '?';
	score = json_member(v, "score");
	s.score = score != NULL && score->type == JSON_NUMBER ?
	    score->num : 0;
	n = res->nsymbols;
	if (n == RSPAMD_SYMBOLS_MAX) {
		if (!sym_before(&s, &res->symbols[n - 1]))
			return;
		n--;
	}
	for (i = n; i > 0 && sym_before(&s, &res->symbols[i - 1]); i--)
		res->symbols[i] = res->symbols[i - 1];
	res->symbols[i] = s;
	res->nsymbols = n + 1;
}

static int
removal(struct check *c, const char *name, const struct json_value *v)
{
	struct rspamd_removal	*r;
	int			 index = 0;

	if (v->type != JSON_NUMBER)
		return 0;	/* ignored by rspamd's milter */
	if (order_value(c, v, name, &index) == -1)
		return -1;
	if (c->res->nremove == RSPAMD_HEADERS_MAX)
		return check_fail(c, "milter: too many fields to remove");
	r = &c->res->remove[c->res->nremove++];
	r->name = name;
	r->index = index;
	return 0;
}

/* A string, or {"value": string, "order" or "index": number}. */
static int
addition(struct check *c, const char *name, const struct json_value *v)
{
	const struct json_value	*val = v, *ord;
	struct rspamd_field	*f;
	int			 order = -1;

	if (v->type == JSON_OBJECT) {
		if ((val = json_member(v, "value")) == NULL ||
		    val->type != JSON_STRING)
			return 0;
		if ((ord = json_member(v, "order")) == NULL)
			ord = json_member(v, "index");
		if (ord != NULL && ord->type == JSON_NUMBER &&
		    order_value(c, ord, name, &order) == -1)
			return -1;
	} else if (v->type != JSON_STRING)
		return 0;
	if (c->res->nadd == RSPAMD_HEADERS_MAX)
		return check_fail(c, "milter: too many fields to add");
	f = &c->res->add[c->res->nadd];
	if ((f->value = field_value(c, val->str, val->len, strlen(name) + 2,
	    name)) == NULL)
		return -1;
	f->name = name;
	f->order = order;
	c->res->nadd++;
	return 0;
}

static int
milter(struct check *c, const struct json_value *m)
{
	const struct json_value	*list, *v, *e;
	const char		*name;

	if ((v = json_member(m, "no_action")) != NULL)
		c->res->no_action = v->type == JSON_TRUE;
	if ((list = json_member(m, "remove_headers")) != NULL &&
	    list->type == JSON_OBJECT)
		for (v = list->first; v != NULL; v = v->next) {
			if (!field_name_ok(v->name, v->namelen))
				return check_fail(c, "milter: bad field name "
				    "to remove");
			if ((name = arena_put(c, v->name, v->namelen)) == NULL)
				return check_fail(c, "out of memory");
			if (v->type != JSON_ARRAY) {
				if (removal(c, name, v) == -1)
					return -1;
				continue;
			}
			for (e = v->first; e != NULL; e = e->next)
				if (removal(c, name, e) == -1)
					return -1;
		}
	if ((list = json_member(m, "add_headers")) != NULL &&
	    list->type == JSON_OBJECT)
		for (v = list->first; v != NULL; v = v->next) {
			if (!field_name_ok(v->name, v->namelen))
				return check_fail(c, "milter: bad field name "
				    "to add");
			if ((name = arena_put(c, v->name, v->namelen)) == NULL)
				return check_fail(c, "out of memory");
			if (v->type != JSON_ARRAY) {
				if (addition(c, name, v) == -1)
					return -1;
				continue;
			}
			for (e = v->first; e != NULL; e = e->next)
				if (addition(c, name, e) == -1)
					return -1;
		}
	return 0;
}

static int
dkim(struct check *c, const struct json_value *v)
{
	const struct json_value	*e;
	const char		*s;

	if (v->type == JSON_ARRAY)
		e = v->first;
	else
		e = v;
	for (; e != NULL; e = v->type == JSON_ARRAY ? e->next : NULL) {
		if (e->type != JSON_STRING)
			continue;
		if (c->res->ndkim == RSPAMD_DKIM_MAX)
			return check_fail(c, "too many DKIM signatures");
		if ((s = field_value(c, e->str, e->len,
		    sizeof("DKIM-Signature: ") - 1, "dkim-signature")) == NULL)
			return -1;
		c->res->dkim[c->res->ndkim++] = s;
	}
	return 0;
}

int
rspamd_parse_check(const char *body, size_t len, struct rspamd_result *res,
    char *err, size_t errlen)
{
	struct json		 doc;
	struct check		 c;
	const struct json_value	*top, *v;
	const char		*s;
	char			 jerr[128], text[RSPAMD_SMTP_MAX + 1];

	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));
	c.res = res;
	c.err = err;
	c.errlen = errlen;
	if (json_parse(&doc, body, len, jerr, sizeof(jerr)) == -1)
		return check_fail(&c, "not JSON: %s", jerr);
	top = doc.root;
	if (top->type != JSON_OBJECT) {
		check_fail(&c, "not a JSON object");
		goto bad;
	}
	if ((v = json_member(top, "error")) != NULL) {
		printable(json_string(v) != NULL ? v->str : "", text,
		    sizeof(text));
		check_fail(&c, "rspamd: %s", text);
		goto bad;
	}
	if ((v = json_member(top, "action")) == NULL ||
	    v->type != JSON_STRING) {
		check_fail(&c, "no action");
		goto bad;
	}
	if (action(v->str, &res->action) == -1) {
		printable(v->str, text, 64);
		check_fail(&c, "unknown action \"%s\"", text);
		goto bad;
	}
	if ((v = json_member(top, "score")) == NULL ||
	    v->type != JSON_NUMBER) {
		check_fail(&c, "no score");
		goto bad;
	}
	res->score = v->num;
	if ((v = json_member(top, "required_score")) != NULL &&
	    v->type == JSON_NUMBER)
		res->required_score = v->num;
	res->is_skipped = json_member(top, "is_skipped") != NULL &&
	    json_member(top, "is_skipped")->type == JSON_TRUE;

	/* Every string kept is one of the input's, its folds CRLF. */
	c.cap = 2 * len + 64;
	if ((res->arena = malloc(c.cap)) == NULL) {
		check_fail(&c, "out of memory");
		goto bad;
	}
	if ((v = json_member(top, "subject")) != NULL &&
	    v->type == JSON_STRING && (res->subject = field_value(&c, v->str,
	    v->len, sizeof("Subject: ") - 1, "subject")) == NULL)
		goto bad;
	if ((s = json_string(json_member(json_member(top, "messages"),
	    "smtp_message"))) != NULL)
		res->smtp_message = printable_copy(&c, s, RSPAMD_SMTP_MAX);
	if ((s = json_string(json_member(top, "message-id"))) != NULL)
		res->message_id = printable_copy(&c, s, LINE_998);
	if ((v = json_member(top, "symbols")) != NULL &&
	    v->type == JSON_OBJECT)
		for (v = v->first; v != NULL; v = v->next)
			if (v->type == JSON_OBJECT)
				symbol(res, v);
	if ((v = json_member(top, "milter")) != NULL &&
	    v->type == JSON_OBJECT && milter(&c, v) == -1)
		goto bad;
	if ((v = json_member(top, "dkim-signature")) != NULL &&
	    dkim(&c, v) == -1)
		goto bad;
	json_free(&doc);
	return 0;
 bad:
	json_free(&doc);
	rspamd_result_free(res);
	return -1;
}

void
rspamd_result_free(struct rspamd_result *res)
{
	free(res->arena);
	memset(res, 0, sizeof(*res));
}

size_t
rspamd_field_pos(const struct rspamd_field *f, size_t nfields)
{
	if (f->order >= 0)
		return (size_t)f->order < nfields ? (size_t)f->order : nfields;
	if (f->order == -1)
		return nfields;
	/* milter.c: cur_hdr + order + 2, cur_hdr not counting Received: */
	if ((size_t)-(long)f->order >= nfields)
		return 0;
	return nfields + 1 + f->order;
}

size_t
rspamd_symbols_str(const struct rspamd_result *res, char *buf, size_t size)
{
	char	 entry[RSPAMD_SYMBOL_LEN + 48];
	size_t	 i, used = 0, n, reserve;
	int	 cut = 0, more;

	if (size == 0)
		return 0;
	buf[0] = '\0';
	for (i = 0; i < res->nsymbols; i++) {
		n = snprintf(entry, sizeof(entry), "%s%s(%.2f)",
		    i > 0 ? "," : "", res->symbols[i].name,
		    res->symbols[i].score);
		if (n >= sizeof(entry)) {
			cut = 1;
			break;
		}
		more = i + 1 < res->nsymbols ||
		    res->nsymbols < res->nsymbols_total;
		reserve = more ? sizeof(",...") - 1 : 0;
		if (used + n + reserve + 1 > size) {
			cut = 1;
			break;
		}
		memcpy(buf + used, entry, n + 1);
		used += n;
	}
	if (cut || res->nsymbols < res->nsymbols_total) {
		n = used > 0 ? 4 : 3;
		if (used + n + 1 <= size) {
			memcpy(buf + used, used > 0 ? ",..." : "...", n + 1);
			used += n;
		}
	}
	return used;
}

/* -- learning ----------------------------------------------------------- */

int
rspamd_parse_learn(int status, const char *body, size_t len, char *err,
    size_t errlen)
{
	struct json		 doc;
	const struct json_value	*v;
	char			 text[RSPAMD_SMTP_MAX + 1], jerr[64];
	int			 parsed, success = 0;

	text[0] = '\0';
	parsed = json_parse(&doc, body, len, jerr, sizeof(jerr)) == 0;
	if (parsed) {
		if ((v = json_member(doc.root, "error")) != NULL &&
		    v->type == JSON_STRING)
			printable(v->str, text, sizeof(text));
		success = json_member(doc.root, "success") != NULL &&
		    json_member(doc.root, "success")->type == JSON_TRUE;
		json_free(&doc);
	}
	if (text[0] == '\0')
		(void)snprintf(text, sizeof(text), "%s", parsed ?
		    "no error text" : "answer not JSON");
	if (errlen > 0)
		(void)snprintf(err, errlen, "HTTP %d: %s", status, text);
	if (status == 208 || (status == 404 &&
	    strstr(text, "has been already learned") != NULL))
		return 1;
	if (status == 204)
		return -1;
	if (status >= 200 && status < 300) {
		if (success) {
			if (errlen > 0)
				err[0] = '\0';
			return 0;
		}
		return -2;
	}
	if (status >= 500 || status == 401 || status == 403 ||
	    status == 408 || status == 429)
		return -2;
	if (status >= 400)
		return -1;
	return -2;
}
