/*
 * MIME parsing for IMAP: builds the part tree of a message held in
 * memory (offsets only, plus the header values IMAP reports), produces
 * BODY/BODYSTRUCTURE/ENVELOPE, resolves BODY[section] ranges and
 * filters HEADER.FIELDS.  Every input is hostile: recursion is bounded
 * by MIME_MAX_DEPTH, parts by MIME_MAX_PARTS, values by MIME_MAX_VALUE,
 * and each nesting level scans its own bytes once, so the work is at
 * most depth * size.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "log.h"
#include "mime.h"

#define TSPECIALS	"()<>@,;:\\\"/[]?="

static size_t	 line_end(const char *, size_t, size_t);
static int	 is_blank_line(const char *, size_t, size_t);
static int	 is_field_line(const char *, size_t, size_t);
static void	 header_scan(const char *, size_t, size_t,
		    struct mime_part *);
static int	 field_next(const char *, size_t, size_t *, size_t *,
		    size_t *, size_t *, size_t *);
static const char *skip_cfws(const char *);
static size_t	 token_len(const char *);
static char	*xstrndup(const char *, size_t);
static void	 parse_params(const char *, struct mime_param **);
static void	 parse_content_type(struct mime_part *, const char *);
static void	 parse_disposition(struct mime_part *, const char *);
static char	*first_token(const char *);
static void	 part_headers(const struct mime_msg *, struct mime_part *,
		    int);
static const char *param_get(const struct mime_param *, const char *);
static size_t	 count_lines(const char *, size_t);
static void	 set_type(struct mime_part *, const char *, const char *);
static struct mime_part *part_new(struct mime_msg *, struct mime_part *);
static void	 parse_part(struct mime_msg *, struct mime_part *, size_t,
		    size_t, int, int);
static void	 split_multipart(struct mime_msg *, struct mime_part *,
		    const char *);
static void	 params_free(struct mime_param *);
static void	 part_free(struct mime_part *);
static void	 put_string(struct mbuf *, const char *, size_t);
static void	 put_nstring(struct mbuf *, const char *);
static void	 put_params(struct mbuf *, const struct mime_param *, int);
static void	 put_language(struct mbuf *, const char *);
static void	 put_disposition(struct mbuf *, const struct mime_part *);
static void	 put_part(struct mbuf *, const struct mime_msg *,
		    const struct mime_part *, int);
static int	 addr_token(const char **, struct mbuf *);
typedef void	 addr_cb(void *, const char *, const char *, const char *,
		    const char *);
static addr_cb	 put_address, addr_text;
static size_t	 addr_list_walk(const char *, addr_cb *, void *);
static size_t	 put_addr_list(struct mbuf *, const char *);
static void	 put_header_addrs(struct mbuf *, const char *, size_t,
		    const char *, const char *);
static struct mime_part *section_child(const struct mime_part *, long);

void
mbuf_add(struct mbuf *b, const void *p, size_t n)
{
	size_t	 nsize;
	char	*nd;

	if (n > SIZE_MAX / 2 - b->len)
		fatalx("mbuf_add: too large");
	if (b->len + n + 1 > b->size) {
		nsize = b->size ? b->size : 256;
		while (nsize < b->len + n + 1)
			nsize *= 2;
		if ((nd = realloc(b->data, nsize)) == NULL)
			fatal("realloc");
		b->data = nd;
		b->size = nsize;
	}
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
mbuf_printf(struct mbuf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	 small[256], *big;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("mbuf_printf");
	if ((size_t)n < sizeof(small)) {
		mbuf_add(b, small, n);
		return;
	}
	if ((big = malloc((size_t)n + 1)) == NULL)
		fatal("malloc");
	va_start(ap, fmt);
	(void)vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	mbuf_add(b, big, n);
	free(big);
}

void
mbuf_free(struct mbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->size = 0;
}

/* Offset just past the LF ending the line at pos (or end). */
static size_t
line_end(const char *b, size_t pos, size_t end)
{
	const char	*lf;

	lf = memchr(b + pos, '\n', end - pos);
	return lf == NULL ? end : (size_t)(lf - b) + 1;
}

static int
is_blank_line(const char *b, size_t pos, size_t end)
{
	if (pos < end && b[pos] == '\n')
		return 1;
	return pos + 1 < end && b[pos] == '\r' && b[pos + 1] == '\n';
}

/* "name:" with a printable name (whitespace allowed before the colon). */
static int
is_field_line(const char *b, size_t pos, size_t le)
{
	size_t	 p = pos;

	while (p < le && (unsigned char)b[p] > 32 &&
	    (unsigned char)b[p] < 127 && b[p] != ':')
		p++;
	if (p == pos)
		return 0;
	while (p < le && (b[p] == ' ' || b[p] == '\t'))
		p++;
	return p < le && b[p] == ':';
}

/*
 * Find where the header starting at start ends: after the blank line,
 * before the first line that is not a field or a continuation, or at
 * end for a message without a body.
 */
static void
header_scan(const char *b, size_t start, size_t end, struct mime_part *p)
{
	size_t	 pos = start, le;

	p->hdr_off = start;
	while (pos < end) {
		le = line_end(b, pos, end);
		if (is_blank_line(b, pos, end)) {
			p->hdr_len = le - start;
			p->body_off = le;
			p->body_len = end - le;
			return;
		}
		if (b[pos] != ' ' && b[pos] != '\t' &&
		    !is_field_line(b, pos, le))
			break;
		pos = le;
	}
	p->hdr_len = pos - start;
	p->body_off = pos;
	p->body_len = end - pos;
}

/*
 * Next field of the header block b[*pos..end): sets the field start,
 * name length, value offset and field end (after its last continuation
 * line).  Returns 0 at the end of the block or at the blank line.
 */
static int
field_next(const char *b, size_t end, size_t *pos, size_t *fstart,
    size_t *nlen, size_t *voff, size_t *fend)
{
	size_t	 p, le, colon;
	const char *c;

	while (*pos < end) {
		p = *pos;
		if (is_blank_line(b, p, end))
			return 0;
		le = line_end(b, p, end);
		*pos = le;
		if (b[p] == ' ' || b[p] == '\t')
			continue;	/* continuation without a field */
		if ((c = memchr(b + p, ':', le - p)) == NULL)
			continue;
		colon = c - b;
		*fstart = p;
		*nlen = colon - p;
		while (*nlen > 0 && (b[p + *nlen - 1] == ' ' ||
		    b[p + *nlen - 1] == '\t'))
			(*nlen)--;
		*voff = colon + 1;
		while (le < end && (b[le] == ' ' || b[le] == '\t'))
			le = line_end(b, le, end);
		*fend = *pos = le;
		return 1;
	}
	return 0;
}

int
mime_header_find(const char *hdr, size_t hdrlen, const char *name,
    const char **val, size_t *vlen)
{
	size_t	 pos = 0, fs, nl, vo, fe, len = strlen(name);

	while (field_next(hdr, hdrlen, &pos, &fs, &nl, &vo, &fe)) {
		if (nl == len && strncasecmp(hdr + fs, name, len) == 0) {
			*val = hdr + vo;
			*vlen = fe - vo;
			return 1;
		}
	}
	return 0;
}

char *
mime_unfold(const char *v, size_t len)
{
	char	*s;
	size_t	 i, n = 0;

	if ((s = malloc(MIME_MAX_VALUE + 1)) == NULL)
		fatal("malloc");
	for (i = 0; i < len && n < MIME_MAX_VALUE; i++) {
		if (v[i] == '\r' || v[i] == '\n' || v[i] == '\0')
			continue;
		if (n == 0 && (v[i] == ' ' || v[i] == '\t'))
			continue;
		s[n++] = v[i];
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	s[n] = '\0';
	return s;
}

char *
mime_header_get(const char *hdr, size_t hdrlen, const char *name)
{
	const char	*v;
	size_t		 vlen;

	if (!mime_header_find(hdr, hdrlen, name, &v, &vlen))
		return NULL;
	return mime_unfold(v, vlen);
}

/* Skip whitespace and (nested) comments. */
static const char *
skip_cfws(const char *p)
{
	int	 depth;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '(')
			return p;
		depth = 0;
		while (*p != '\0') {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
			p++;
		}
	}
}

static size_t
token_len(const char *p)
{
	size_t	 n = 0;

	while ((unsigned char)p[n] > 32 && p[n] != 127 &&
	    strchr(TSPECIALS, p[n]) == NULL)
		n++;
	return n;
}

static char *
xstrndup(const char *s, size_t n)
{
	char	*d;

	if ((d = malloc(n + 1)) == NULL)
		fatal("malloc");
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/* "; name=value" pairs; value is a token or a quoted string. */
static void
parse_params(const char *p, struct mime_param **head)
{
	struct mime_param	*pr, **tail = head;
	struct mbuf		 v;
	size_t			 n, i;
	int			 count = 0;

	memset(&v, 0, sizeof(v));
	while (*p != '\0' && count < MIME_MAX_PARAMS) {
		p = skip_cfws(p);
		if (*p != ';') {
			if ((p = strchr(p, ';')) == NULL)	/* garbage */
				break;
		}
		p = skip_cfws(p + 1);
		n = token_len(p);
		if (n == 0)
			continue;
		if ((pr = calloc(1, sizeof(*pr))) == NULL)
			fatal("calloc");
		pr->name = xstrndup(p, n);
		for (i = 0; i < n; i++)
			pr->name[i] = tolower((unsigned char)pr->name[i]);
		p = skip_cfws(p + n);
		v.len = 0;
		mbuf_add(&v, "", 0);
		if (*p == '=') {
			p = skip_cfws(p + 1);
			if (*p == '"') {
				for (p++; *p != '\0' && *p != '"'; p++) {
					if (*p == '\\' && p[1] != '\0')
						p++;
					mbuf_add(&v, p, 1);
				}
				if (*p == '"')
					p++;
			} else {
				/* Lenient: '/' and friends occur in values. */
				for (n = 0; p[n] != '\0' && p[n] != ';' &&
				    p[n] != ' ' && p[n] != '\t' &&
				    p[n] != '('; n++)
					;
				mbuf_add(&v, p, n);
				p += n;
			}
		}
		pr->value = xstrndup(v.data, v.len);
		*tail = pr;
		tail = &pr->next;
		count++;
	}
	mbuf_free(&v);
}

static void
set_type(struct mime_part *p, const char *type, const char *subtype)
{
	(void)strlcpy(p->type, type, sizeof(p->type));
	(void)strlcpy(p->subtype, subtype, sizeof(p->subtype));
}

static void
parse_content_type(struct mime_part *p, const char *v)
{
	const char	*s = skip_cfws(v), *t;
	size_t		 tl, sl, i;

	tl = token_len(s);
	t = skip_cfws(s + tl);
	if (tl == 0 || *t != '/')
		return;		/* invalid: keep the default */
	t = skip_cfws(t + 1);
	if ((sl = token_len(t)) == 0)
		return;
	if (tl >= sizeof(p->type))
		tl = sizeof(p->type) - 1;
	memcpy(p->type, s, tl);
	p->type[tl] = '\0';
	if (sl >= sizeof(p->subtype))
		sl = sizeof(p->subtype) - 1;
	memcpy(p->subtype, t, sl);
	p->subtype[sl] = '\0';
	for (i = 0; p->type[i] != '\0'; i++)
		p->type[i] = tolower((unsigned char)p->type[i]);
	for (i = 0; p->subtype[i] != '\0'; i++)
		p->subtype[i] = tolower((unsigned char)p->subtype[i]);
	parse_params(skip_cfws(t + token_len(t)), &p->params);
}

static void
parse_disposition(struct mime_part *p, const char *v)
{
	const char	*s = skip_cfws(v);
	size_t		 n = token_len(s);

	if (n == 0)
		return;
	p->disposition = xstrndup(s, n);
	parse_params(s + n, &p->disp_params);
}

static char *
first_token(const char *v)
{
	const char	*s = skip_cfws(v);
	size_t		 n = token_len(s);

	return n == 0 ? NULL : xstrndup(s, n);
}

/* Read the MIME fields of the part's header. */
static void
part_headers(const struct mime_msg *m, struct mime_part *p, int digest)
{
	const char	*h = m->buf + p->hdr_off;
	size_t		 pos = 0, fs, nl, vo, fe;
	char		*v, **dst;
	int		 have_type = 0;

	if (digest)
		set_type(p, "message", "rfc822");
	else
		set_type(p, "text", "plain");
	while (field_next(h, p->hdr_len, &pos, &fs, &nl, &vo, &fe)) {
		if (nl < 8 || strncasecmp(h + fs, "content-", 8) != 0)
			continue;
		v = mime_unfold(h + vo, fe - vo);
		dst = NULL;
		if (nl == 12 && strncasecmp(h + fs, "content-type", nl) == 0) {
			if (!have_type)
				parse_content_type(p, v);
			have_type = 1;
		} else if (nl == 25 && strncasecmp(h + fs,
		    "content-transfer-encoding", nl) == 0) {
			if (p->encoding == NULL)
				p->encoding = first_token(v);
		} else if (nl == 19 && strncasecmp(h + fs,
		    "content-disposition", nl) == 0) {
			if (p->disposition == NULL)
				parse_disposition(p, v);
		} else if (nl == 10 && strncasecmp(h + fs, "content-id",
		    nl) == 0)
			dst = &p->id;
		else if (nl == 19 && strncasecmp(h + fs,
		    "content-description", nl) == 0)
			dst = &p->description;
		else if (nl == 16 && strncasecmp(h + fs, "content-language",
		    nl) == 0)
			dst = &p->language;
		else if (nl == 16 && strncasecmp(h + fs, "content-location",
		    nl) == 0)
			dst = &p->location;
		else if (nl == 11 && strncasecmp(h + fs, "content-md5",
		    nl) == 0)
			dst = &p->md5;
		if (dst != NULL && *dst == NULL) {
			*dst = v;
			continue;
		}
		free(v);
	}
}

static const char *
param_get(const struct mime_param *pr, const char *name)
{
	for (; pr != NULL; pr = pr->next)
		if (strcmp(pr->name, name) == 0)
			return pr->value;
	return NULL;
}

static size_t
count_lines(const char *b, size_t len)
{
	const char	*p = b, *e = b + len, *lf;
	size_t		 n = 0;

	while (p < e && (lf = memchr(p, '\n', e - p)) != NULL) {
		n++;
		p = lf + 1;
	}
	return n + (p < e);
}

static struct mime_part *
part_new(struct mime_msg *m, struct mime_part *parent)
{
	struct mime_part	*p, **tail;

	if (m->nparts >= MIME_MAX_PARTS)
		return NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatal("calloc");
	m->nparts++;
	p->parent = parent;
	if (parent != NULL) {
		p->depth = parent->depth + 1;
		for (tail = &parent->child; *tail != NULL;
		    tail = &(*tail)->next)
			;
		*tail = p;
	}
	return p;
}

static void
parse_part(struct mime_msg *m, struct mime_part *p, size_t start,
    size_t end, int depth, int digest)
{
	struct mime_part	*c;
	const char		*bnd, *e;

	p->depth = depth;
	header_scan(m->buf, start, end, p);
	part_headers(m, p, digest);

	if (strcmp(p->type, "multipart") == 0) {
		bnd = param_get(p->params, "boundary");
		if (bnd == NULL || *bnd == '\0')
			set_type(p, "text", "plain");
		else if (depth + 1 >= MIME_MAX_DEPTH) {
			set_type(p, "application", "octet-stream");
			p->flags |= MIME_F_TRUNCATED;
		} else {
			p->flags |= MIME_F_MULTIPART;
			split_multipart(m, p, bnd);
		}
	} else if (strcmp(p->type, "message") == 0 &&
	    strcmp(p->subtype, "rfc822") == 0) {
		e = p->encoding;
		if (e != NULL && strcasecmp(e, "7bit") != 0 &&
		    strcasecmp(e, "8bit") != 0 && strcasecmp(e, "binary") != 0)
			set_type(p, "application", "octet-stream");
		else if (depth + 1 >= MIME_MAX_DEPTH ||
		    (c = part_new(m, p)) == NULL) {
			set_type(p, "application", "octet-stream");
			p->flags |= MIME_F_TRUNCATED;
		} else {
			p->flags |= MIME_F_MESSAGE;
			parse_part(m, c, p->body_off,
			    p->body_off + p->body_len, depth + 1, 0);
		}
	}
	if (strcmp(p->type, "text") == 0 || (p->flags & MIME_F_MESSAGE))
		p->body_lines = count_lines(m->buf + p->body_off,
		    p->body_len);
}

/*
 * Split a multipart body at "--boundary" lines (RFC 2046 5.1.1).  The
 * line break before a delimiter belongs to the delimiter.  A missing
 * close delimiter ends the last part at the end of the body.
 */
static void
split_multipart(struct mime_msg *m, struct mime_part *p, const char *bnd)
{
	const char		*b = m->buf;
	struct mime_part	*c;
	size_t			 blen = strlen(bnd), pos, le, q, e;
	size_t			 pstart = 0, pend;
	int			 in_part = 0, close, digest;

	digest = strcmp(p->subtype, "digest") == 0;
	pos = p->body_off;
	e = p->body_off + p->body_len;
	while (pos < e) {
		le = line_end(b, pos, e);
		if (le - pos < blen + 2 || b[pos] != '-' || b[pos + 1] != '-' ||
		    memcmp(b + pos + 2, bnd, blen) != 0) {
			pos = le;
			continue;
		}
		q = pos + 2 + blen;
		close = 0;
		if (q + 1 < le && b[q] == '-' && b[q + 1] == '-') {
			close = 1;
			q += 2;
		}
		while (q < le && (b[q] == ' ' || b[q] == '\t' ||
		    b[q] == '\r' || b[q] == '\n'))
			q++;
		if (q != le) {		/* "--boundaryXYZ": not ours */
			pos = le;
			continue;
		}
		if (in_part) {
			pend = pos;
			if (pend > pstart && b[pend - 1] == '\n')
				pend--;
			if (pend > pstart && b[pend - 1] == '\r')
				pend--;
			if ((c = part_new(m, p)) == NULL) {
				p->flags |= MIME_F_TRUNCATED;
				return;
			}
			parse_part(m, c, pstart, pend, p->depth + 1, digest);
		}
		if (close)
			return;
		in_part = 1;
		pstart = le;
		pos = le;
	}
	if (in_part) {
		if ((c = part_new(m, p)) == NULL) {
			p->flags |= MIME_F_TRUNCATED;
			return;
		}
		parse_part(m, c, pstart, e, p->depth + 1, digest);
	}
}

struct mime_msg *
mime_parse(const char *buf, size_t len)
{
	struct mime_msg	*m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		fatal("calloc");
	m->buf = buf;
	m->len = len;
	m->root = part_new(m, NULL);
	parse_part(m, m->root, 0, len, 0, 0);
	return m;
}

static void
params_free(struct mime_param *pr)
{
	struct mime_param	*n;

	for (; pr != NULL; pr = n) {
		n = pr->next;
		free(pr->name);
		free(pr->value);
		free(pr);
	}
}

/* Recursion is bounded by MIME_MAX_DEPTH; siblings are iterated. */
static void
part_free(struct mime_part *p)
{
	struct mime_part	*n;

	for (; p != NULL; p = n) {
		n = p->next;
		part_free(p->child);
		params_free(p->params);
		params_free(p->disp_params);
		free(p->encoding);
		free(p->id);
		free(p->description);
		free(p->disposition);
		free(p->language);
		free(p->location);
		free(p->md5);
		free(p);
	}
}

void
mime_free(struct mime_msg *m)
{
	if (m == NULL)
		return;
	part_free(m->root);
	free(m);
}

/* Quoted string, or a literal when quoting cannot carry the bytes. */
static void
put_string(struct mbuf *o, const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80 || s[i] == '\r' ||
		    s[i] == '\n' || s[i] == '\0')
			break;
	if (i < len) {
		mbuf_printf(o, "{%zu}\r\n", len);
		mbuf_add(o, s, len);
		return;
	}
	mbuf_add(o, "\"", 1);
	for (i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			mbuf_add(o, "\\", 1);
		mbuf_add(o, s + i, 1);
	}
	mbuf_add(o, "\"", 1);
}

static void
put_nstring(struct mbuf *o, const char *s)
{
	if (s == NULL)
		mbuf_add(o, "NIL", 3);
	else
		put_string(o, s, strlen(s));
}

static void
put_params(struct mbuf *o, const struct mime_param *pr, int text)
{
	if (pr == NULL) {
		if (text)
			mbuf_printf(o, "(\"charset\" \"us-ascii\")");
		else
			mbuf_add(o, "NIL", 3);
		return;
	}
	mbuf_add(o, "(", 1);
	for (; pr != NULL; pr = pr->next) {
		put_nstring(o, pr->name);
		mbuf_add(o, " ", 1);
		put_nstring(o, pr->value);
		if (pr->next != NULL)
			mbuf_add(o, " ", 1);
	}
	mbuf_add(o, ")", 1);
}

/* One tag is a string, several are a list. */
static void
put_language(struct mbuf *o, const char *v)
{
	const char	*s, *tags[MIME_MAX_PARAMS];
	size_t		 lens[MIME_MAX_PARAMS], n = 0, i, l;

	for (s = v; s != NULL && *s != '\0' && n < nitems(tags); ) {
		s = skip_cfws(s);
		while (*s == ',')
			s = skip_cfws(s + 1);
		if ((l = token_len(s)) == 0)
			break;
		tags[n] = s;
		lens[n++] = l;
		s += l;
	}
	if (n == 0) {
		mbuf_add(o, "NIL", 3);
		return;
	}
	if (n > 1)
		mbuf_add(o, "(", 1);
	for (i = 0; i < n; i++) {
		if (i > 0)
			mbuf_add(o, " ", 1);
		put_string(o, tags[i], lens[i]);
	}
	if (n > 1)
		mbuf_add(o, ")", 1);
}

static void
put_disposition(struct mbuf *o, const struct mime_part *p)
{
	if (p->disposition == NULL) {
		mbuf_add(o, "NIL", 3);
		return;
	}
	mbuf_add(o, "(", 1);
	put_nstring(o, p->disposition);
	mbuf_add(o, " ", 1);
	put_params(o, p->disp_params, 0);
	mbuf_add(o, ")", 1);
}

static void
put_part(struct mbuf *o, const struct mime_msg *m, const struct mime_part *p,
    int ext)
{
	const struct mime_part	*c;
	int			 text;

	mbuf_add(o, "(", 1);
	if (p->flags & MIME_F_MULTIPART) {
		if (p->child == NULL)
			mbuf_printf(o, "(\"text\" \"plain\" (\"charset\" "
			    "\"us-ascii\") NIL NIL \"7bit\" 0 0)");
		for (c = p->child; c != NULL; c = c->next)
			put_part(o, m, c, ext);
		mbuf_add(o, " ", 1);
		put_nstring(o, p->subtype);
		if (ext) {
			mbuf_add(o, " ", 1);
			put_params(o, p->params, 0);
		}
	} else {
		text = strcmp(p->type, "text") == 0;
		put_nstring(o, p->type);
		mbuf_add(o, " ", 1);
		put_nstring(o, p->subtype);
		mbuf_add(o, " ", 1);
		put_params(o, p->params, text);
		mbuf_add(o, " ", 1);
		put_nstring(o, p->id);
		mbuf_add(o, " ", 1);
		put_nstring(o, p->description);
		mbuf_add(o, " ", 1);
		put_nstring(o, p->encoding ? p->encoding : "7bit");
		mbuf_printf(o, " %zu", p->body_len);
		if ((p->flags & MIME_F_MESSAGE) && p->child != NULL) {
			mbuf_add(o, " ", 1);
			mime_envelope(o, m->buf + p->child->hdr_off,
			    p->child->hdr_len);
			mbuf_add(o, " ", 1);
			put_part(o, m, p->child, ext);
			mbuf_printf(o, " %zu", p->body_lines);
		} else if (text)
			mbuf_printf(o, " %zu", p->body_lines);
		if (ext) {
			mbuf_add(o, " ", 1);
			put_nstring(o, p->md5);
		}
	}
	if (ext) {
		mbuf_add(o, " ", 1);
		put_disposition(o, p);
		mbuf_add(o, " ", 1);
		put_language(o, p->language);
		mbuf_add(o, " ", 1);
		put_nstring(o, p->location);
	}
	mbuf_add(o, ")", 1);
}

void
mime_bodystructure(struct mbuf *o, const struct mime_msg *m, int ext)
{
	put_part(o, m, m->root, ext);
}

/*
 * RFC 5322 address token: skips CFWS, returns 0 at the end, 'w' for a
 * word (atom, quoted string or domain literal, text left in w) or the
 * special character itself.  Always advances when it returns non-zero.
 */
static int
addr_token(const char **pp, struct mbuf *w)
{
	const char	*p = skip_cfws(*pp);
	size_t		 n;

	w->len = 0;
	mbuf_add(w, "", 0);
	if (*p == '\0') {
		*pp = p;
		return 0;
	}
	if (strchr("<>@:;,", *p) != NULL) {
		*pp = p + 1;
		return *p;
	}
	if (*p == '"') {
		for (p++; *p != '\0' && *p != '"'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			mbuf_add(w, p, 1);
		}
		if (*p == '"')
			p++;
	} else if (*p == '[') {
		for (n = 1; p[n] != '\0' && p[n] != ']'; n++)
			;
		if (p[n] == ']')
			n++;
		mbuf_add(w, p, n);
		p += n;
	} else {
		for (n = 0; p[n] != '\0' && strchr(" \t()<>@,;:\"[", p[n]) ==
		    NULL; n++)
			;
		if (n == 0)
			n = 1;	/* a lone ')' */
		mbuf_add(w, p, n);
		p += n;
	}
	*pp = p;
	return 'w';
}

static void
put_address(void *arg, const char *name, const char *adl,
    const char *mbox, const char *host)
{
	struct mbuf	*o = arg;

	mbuf_add(o, "(", 1);
	put_nstring(o, name);
	mbuf_add(o, " ", 1);
	put_nstring(o, adl);
	mbuf_add(o, " ", 1);
	put_nstring(o, mbox);
	mbuf_add(o, " ", 1);
	put_nstring(o, host);
	mbuf_add(o, ")", 1);
}

#define NZ(b)	((b).len > 0 ? (b).data : NULL)

/*
 * The text of the last outermost comment in [p, e), unescaped and
 * trimmed, into out (NUL-terminated; empty if none): the name of an
 * obsolete "user@host (Real Name)" address, as Dovecot and most
 * clients read it.
 */
static void
last_comment(const char *p, const char *e, struct mbuf *out)
{
	const char	*q, *b;
	int		 depth;

	out->len = 0;
	while (p < e) {
		if (*p == '"') {
			for (p++; p < e && *p != '"'; p++)
				if (*p == '\\' && p + 1 < e)
					p++;
			p++;
			continue;
		}
		if (*p != '(') {
			p++;
			continue;
		}
		out->len = 0;
		for (q = p + 1, depth = 1; q < e; q++) {
			if (*q == '\\' && q + 1 < e)
				q++;
			else if (*q == '(')
				depth++;
			else if (*q == ')' && --depth == 0)
				break;
			mbuf_add(out, q, 1);
		}
		p = q + 1;
	}
	/* trim */
	for (b = out->data; out->len > 0 && (*b == ' ' || *b == '\t');
	    b++, out->len--)
		;
	if (out->len > 0 && b != out->data)
		memmove(out->data, b, out->len);
	while (out->len > 0 && (out->data[out->len - 1] == ' ' ||
	    out->data[out->len - 1] == '\t'))
		out->len--;
	mbuf_add(out, "", 0);
}

/*
 * Hand each address of an address-list value to cb(arg, name, adl,
 * mailbox, host) as an ENVELOPE address structure; returns how many.
 * Groups become the RFC 3501 start (host NULL) and end (all NULL)
 * markers.  Comments are ignored but for the name of a bare address.
 */
static size_t
addr_list_walk(const char *v, addr_cb *put, void *o)
{
	struct mbuf	 w, phrase, raw, adl, lp, dom, seg, cmt;
	const char	*p = v, *start;
	size_t		 count = 0;
	int		 t, in_group = 0, at;
	char		 ch;

	memset(&w, 0, sizeof(w));
	phrase = raw = adl = lp = dom = seg = cmt = w;
	while (count < MIME_MAX_ADDRS) {
		start = p;
		phrase.len = raw.len = adl.len = lp.len = dom.len = 0;
		while ((t = addr_token(&p, &w)) == 'w') {
			if (phrase.len > 0)
				mbuf_add(&phrase, " ", 1);
			mbuf_add(&phrase, w.data, w.len);
			mbuf_add(&raw, w.data, w.len);
		}
		if (t == ':' && !in_group) {
			mbuf_add(&phrase, "", 0);
			put(o, NULL, NULL, phrase.data, NULL);
			count++;
			in_group = 1;
			continue;
		}
		if (t == '<') {
			at = 0;
			seg.len = 0;
			while ((t = addr_token(&p, &w)) != 0 && t != '>') {
				if (t == 'w') {
					mbuf_add(at ? &dom : &lp, w.data,
					    w.len);
					mbuf_add(&seg, w.data, w.len);
				} else if (t == '@') {
					if (lp.len > 0)
						at = 1;
					else
						at = 0;
					mbuf_add(&seg, "@", 1);
				} else if (t == ':') {
					/* source route: everything so far */
					adl.len = 0;
					mbuf_add(&adl, seg.data, seg.len);
					lp.len = dom.len = 0;
					at = 0;
				} else {
					ch = t;
					mbuf_add(&seg, &ch, 1);
				}
			}
			if (t == '>')
				while ((t = addr_token(&p, &w)) != 0 &&
				    t != ',' && t != ';')
					;
			mbuf_add(&lp, "", 0);
			mbuf_add(&dom, "", 0);
			put(o, NZ(phrase), NZ(adl),
			    lp.len ? lp.data : "MISSING_MAILBOX",
			    dom.len ? dom.data : "MISSING_DOMAIN");
			count++;
		} else if (t == '@') {
			while ((t = addr_token(&p, &w)) == 'w')
				mbuf_add(&dom, w.data, w.len);
			while (t != 0 && t != ',' && t != ';')
				t = addr_token(&p, &w);
			mbuf_add(&raw, "", 0);
			mbuf_add(&dom, "", 0);
			last_comment(start, p, &cmt);
			put(o, NZ(cmt), NULL,
			    raw.len ? raw.data : "MISSING_MAILBOX",
			    dom.len ? dom.data : "MISSING_DOMAIN");
			count++;
		} else if (raw.len > 0) {
			put(o, NULL, NULL, raw.data, "MISSING_DOMAIN");
			count++;
		}
		if (t == ';' && in_group) {
			put(o, NULL, NULL, NULL, NULL);
			count++;
			in_group = 0;
		}
		if (t == 0)
			break;
	}
	if (in_group)
		put(o, NULL, NULL, NULL, NULL);
	mbuf_free(&w);
	mbuf_free(&phrase);
	mbuf_free(&raw);
	mbuf_free(&adl);
	mbuf_free(&lp);
	mbuf_free(&dom);
	mbuf_free(&seg);
	mbuf_free(&cmt);
	return count;
}

static size_t
put_addr_list(struct mbuf *o, const char *v)
{
	return addr_list_walk(v, put_address, o);
}

static void
addr_text(void *arg, const char *name, const char *adl, const char *mbox,
    const char *host)
{
	struct mbuf	*o = arg;

	(void)adl;
	if (mbox != NULL && host == NULL) {		/* group start */
		mbuf_printf(o, "%s%s:", o->len ? " " : "", mbox);
		return;
	}
	if (mbox == NULL) {				/* group end */
		mbuf_add(o, ";", 1);
		return;
	}
	if (o->len > 0 && o->data[o->len - 1] != ':')
		mbuf_add(o, ",", 1);
	if (o->len > 0)
		mbuf_add(o, " ", 1);
	if (name != NULL)
		mbuf_printf(o, "%s <", name);
	if (strcmp(mbox, "MISSING_MAILBOX") != 0)
		mbuf_add(o, mbox, strlen(mbox));
	if (strcmp(host, "MISSING_DOMAIN") != 0)
		mbuf_printf(o, "@%s", host);
	if (name != NULL)
		mbuf_add(o, ">", 1);
}

void
mime_addr_text(struct mbuf *o, const char *v)
{
	o->len = 0;
	mbuf_add(o, "", 0);
	(void)addr_list_walk(v, addr_text, o);
}

/* Address list of a header, or of fallback when absent or empty. */
static void
put_header_addrs(struct mbuf *o, const char *hdr, size_t hdrlen,
    const char *name, const char *fallback)
{
	struct mbuf	 l;
	char		*v;
	size_t		 n = 0;

	memset(&l, 0, sizeof(l));
	if ((v = mime_header_get(hdr, hdrlen, name)) != NULL) {
		n = put_addr_list(&l, v);
		free(v);
	}
	if (n == 0 && fallback != NULL &&
	    (v = mime_header_get(hdr, hdrlen, fallback)) != NULL) {
		n = put_addr_list(&l, v);
		free(v);
	}
	if (n == 0)
		mbuf_add(o, "NIL", 3);
	else {
		mbuf_add(o, "(", 1);
		mbuf_add(o, l.data, l.len);
		mbuf_add(o, ")", 1);
	}
	mbuf_free(&l);
}

void
mime_envelope(struct mbuf *o, const char *hdr, size_t hdrlen)
{
	static const char *const strs[] = { "date", "subject" };
	static const char *const addrs[][2] = {
		{ "from", NULL }, { "sender", "from" },
		{ "reply-to", "from" }, { "to", NULL }, { "cc", NULL },
		{ "bcc", NULL }
	};
	static const char *const ids[] = { "in-reply-to", "message-id" };
	char		*v;
	size_t		 i;

	mbuf_add(o, "(", 1);
	for (i = 0; i < nitems(strs); i++) {
		v = mime_header_get(hdr, hdrlen, strs[i]);
		put_nstring(o, v);
		free(v);
		mbuf_add(o, " ", 1);
	}
	for (i = 0; i < nitems(addrs); i++) {
		put_header_addrs(o, hdr, hdrlen, addrs[i][0], addrs[i][1]);
		mbuf_add(o, " ", 1);
	}
	for (i = 0; i < nitems(ids); i++) {
		v = mime_header_get(hdr, hdrlen, ids[i]);
		put_nstring(o, v);
		free(v);
		if (i + 1 < nitems(ids))
			mbuf_add(o, " ", 1);
	}
	mbuf_add(o, ")", 1);
}

/*
 * Part n (1-based) below p: the children of a multipart; for a
 * message/rfc822, the parts of the encapsulated message (itself when
 * it is not a multipart and n is 1).
 */
static struct mime_part *
section_child(const struct mime_part *p, long n)
{
	struct mime_part	*c;

	if (p->flags & MIME_F_MESSAGE) {
		p = p->child;
		if (p == NULL)
			return NULL;
		if (!(p->flags & MIME_F_MULTIPART))
			return n == 1 ? (struct mime_part *)(uintptr_t)p :
			    NULL;
	}
	if (!(p->flags & MIME_F_MULTIPART))
		return NULL;
	for (c = p->child; c != NULL && n > 1; c = c->next)
		n--;
	return c;
}

const struct mime_part *
mime_part_find(const struct mime_msg *m, const char *spec,
    const char **rest)
{
	const struct mime_part	*p = m->root;
	const char		*s = spec;
	long			 n;
	int			 top = 1, digits;

	while (*s >= '0' && *s <= '9') {
		if (*s == '0')
			return NULL;
		for (n = 0, digits = 0; *s >= '0' && *s <= '9'; s++)
			if (++digits > 9)
				return NULL;
			else
				n = n * 10 + (*s - '0');
		if (top) {
			/* The top level is a message/rfc822 of itself. */
			if (p->flags & MIME_F_MULTIPART)
				p = section_child(p, n);
			else if (n != 1)
				p = NULL;
			top = 0;
		} else
			p = section_child(p, n);
		if (p == NULL)
			return NULL;
		if (*s == '\0')
			break;
		if (*s != '.')
			return NULL;
		if (s[1] == '\0')
			return NULL;	/* "1." */
		if (s[1] < '0' || s[1] > '9') {
			s++;		/* ".MIME", ".HEADER", ".TEXT" */
			break;
		}
		s++;
	}
	*rest = s;
	return p;
}

int
mime_section(const struct mime_msg *m, const char *spec, size_t *off,
    size_t *len)
{
	const struct mime_part	*p, *h;
	const char		*s;
	int			 top;

	if ((p = mime_part_find(m, spec, &s)) == NULL)
		return -1;
	top = s == spec;
	if (!top && *s == '\0') {
		*off = p->body_off;
		*len = p->body_len;
		return 0;
	}
	if (top && *s == '\0') {
		*off = 0;
		*len = m->len;
		return 0;
	}
	if (strcasecmp(s, "MIME") == 0) {
		if (top)
			return -1;
		*off = p->hdr_off;
		*len = p->hdr_len;
		return 0;
	}
	if (top)
		h = p;
	else if ((p->flags & MIME_F_MESSAGE) && p->child != NULL)
		h = p->child;
	else
		return -1;
	if (strcasecmp(s, "HEADER") == 0) {
		*off = h->hdr_off;
		*len = h->hdr_len;
	} else if (strcasecmp(s, "TEXT") == 0) {
		*off = h->body_off;
		*len = h->body_len;
	} else
		return -1;
	return 0;
}

void
mime_header_fields(struct mbuf *o, const char *hdr, size_t hdrlen,
    const char * const *names, size_t nnames, int not)
{
	size_t	 pos = 0, fs, nl, vo, fe, i;
	int	 match;

	while (field_next(hdr, hdrlen, &pos, &fs, &nl, &vo, &fe)) {
		for (match = 0, i = 0; i < nnames && !match; i++)
			match = strlen(names[i]) == nl &&
			    strncasecmp(hdr + fs, names[i], nl) == 0;
		if (match == not)
			continue;
		mbuf_add(o, hdr + fs, fe - fs);
		if (hdr[fe - 1] != '\n')
			mbuf_add(o, "\r\n", 2);
	}
	mbuf_add(o, "\r\n", 2);
}
