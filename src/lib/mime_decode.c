/*
 * The text of a message's parts: a body undone from its transfer
 * encoding (base64, quoted-printable) and brought to UTF-8 from the
 * charsets maild knows (UTF-8 and US-ASCII, ISO-8859-1, Windows-1252;
 * from any other, what is valid UTF-8 is kept), and the PREVIEW text of
 * RFC 8970 made from it by the FUZZY algorithm:
 *
 *	the first text/plain part that is not an attachment, else the
 *	first such text/html part with its tags, comments, scripts,
 *	styles and head left out and its character references decoded;
 *	white space and control characters collapsed into one space,
 *	none at either end; at most MIME_PREVIEW_CHARS characters, never
 *	a sequence cut in half.  No such part: the empty string.
 *
 * Encapsulated messages (message/rfc822) are not looked into.  Work is
 * bounded: only the first MIME_PREVIEW_SCAN bytes of a part's body are
 * read, and the scan stops at the last character the preview keeps.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mime.h"
#include "unicase.h"

enum cs_kind {
	CS_UTF8,	/* also US-ASCII and anything unknown */
	CS_LATIN1,
	CS_CP1252
};

/* The preview being written: code points kept, a space pending. */
struct pv {
	char	 out[MIME_PREVIEW_CHARS * 4 + 1];
	size_t	 len, chars;
	int	 space;
};

static int	 hexval(unsigned char);
static int	 b64val(unsigned char);
static enum cs_kind charset_kind(const struct mime_part *);
static size_t	 put_utf8(char *, uint32_t);
static const struct mime_part *find_text(const struct mime_part *, int);
static int	 pv_char(struct pv *, uint32_t);
static int	 pv_text(struct pv *, const char *, size_t);
static int	 pv_html(struct pv *, const char *, size_t);
static size_t	 html_entity(const char *, size_t, uint32_t *);
static size_t	 html_tag(const char *, size_t, int *);
static size_t	 html_skip(const char *, size_t, const char *);

/* Windows-1252 0x80..0x9f; 0: not assigned (dropped). */
static const uint16_t cp1252[32] = {
	0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
	0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178
};

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Lenient base64: characters outside the alphabet (line breaks,
 * garbage) are skipped, "=" ends the data, a trailing partial group
 * gives what bytes it completes.  out needs n bytes at most.
 */
size_t
mime_b64_decode(const char *s, size_t n, char *out)
{
	uint32_t	 acc = 0;
	size_t		 i, o = 0;
	int		 bits = 0, v;

	for (i = 0; i < n && s[i] != '='; i++) {
		if ((v = b64val((unsigned char)s[i])) == -1)
			continue;
		acc = ((acc << 6) | (uint32_t)v) & 0xffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	return o;
}

/*
 * Quoted-printable (RFC 2045 6.7): "=XX" and soft line breaks undone,
 * trailing white space of a line (and stray CRs) dropped, a malformed
 * "=" kept as it is.  Line breaks are kept as they were, so out needs n
 * bytes at most.
 */
size_t
mime_qp_decode(const char *s, size_t n, char *out)
{
	const char	*lf;
	size_t		 i = 0, j, e, t, next, o = 0;
	int		 soft, h1, h2;

	while (i < n) {
		if ((lf = memchr(s + i, '\n', n - i)) != NULL) {
			next = lf - s + 1;
			e = lf - s;
			if (e > i && s[e - 1] == '\r')
				e--;
		} else
			next = e = n;
		/* Trailing white space (stray CRs too) is transport's. */
		for (t = e; t > i && (s[t - 1] == ' ' || s[t - 1] == '\t' ||
		    s[t - 1] == '\r'); t--)
			;
		soft = 0;
		for (j = i; j < t; j++) {
			if (s[j] != '=') {
				out[o++] = s[j];
				continue;
			}
			if (j + 1 == t) {
				soft = 1;
				break;
			}
			if (j + 2 < t &&
			    (h1 = hexval((unsigned char)s[j + 1])) != -1 &&
			    (h2 = hexval((unsigned char)s[j + 2])) != -1) {
				out[o++] = (char)(h1 << 4 | h2);
				j += 2;
				continue;
			}
			out[o++] = '=';
		}
		if (!soft)
			for (j = e; j < next; j++)
				out[o++] = s[j];
		i = next;
	}
	return o;
}

static enum cs_kind
charset_kind(const struct mime_part *p)
{
	static const struct {
		const char	*name;
		enum cs_kind	 kind;
	} tab[] = {
		{ "iso-8859-1", CS_LATIN1 }, { "iso8859-1", CS_LATIN1 },
		{ "iso_8859-1", CS_LATIN1 }, { "latin1", CS_LATIN1 },
		{ "l1", CS_LATIN1 }, { "windows-1252", CS_CP1252 },
		{ "cp1252", CS_CP1252 }
	};
	const struct mime_param	*pr;
	size_t			 i;

	for (pr = p->params; pr != NULL; pr = pr->next) {
		if (strcmp(pr->name, "charset") != 0)
			continue;
		for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
			if (strcasecmp(pr->value, tab[i].name) == 0)
				return tab[i].kind;
		break;
	}
	return CS_UTF8;
}

/* c (at most U+10FFFF) as UTF-8 into out (4 bytes): its length. */
static size_t
put_utf8(char *out, uint32_t c)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (c >> 18));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

char *
mime_part_text(const struct mime_msg *m, const struct mime_part *p,
    size_t max, size_t *lenp)
{
	const char	*b;
	char		*dec, *out;
	size_t		 n, i, o, k;
	uint32_t	 c;
	enum cs_kind	 kind;

	*lenp = 0;
	if (p->body_off > m->len || p->body_len > m->len - p->body_off)
		return NULL;
	b = m->buf + p->body_off;
	n = p->body_len < max ? p->body_len : max;
	if ((dec = malloc(n + 1)) == NULL)
		fatal("malloc");
	if (p->encoding != NULL && strcasecmp(p->encoding, "base64") == 0)
		n = mime_b64_decode(b, n, dec);
	else if (p->encoding != NULL &&
	    strcasecmp(p->encoding, "quoted-printable") == 0)
		n = mime_qp_decode(b, n, dec);
	else
		memcpy(dec, b, n);
	kind = charset_kind(p);
	/* At most 3 bytes out for one in (U+FFFD, or Windows-1252). */
	if ((out = malloc(3 * n + 1)) == NULL)
		fatal("malloc");
	for (i = 0, o = 0; i < n; i += k) {
		if (kind == CS_UTF8) {
			k = unicase_utf8_next(dec + i, n - i, &c);
			if (c == 0xfffd && k == 1 &&
			    (unsigned char)dec[i] >= 0x80)
				continue;	/* not text: dropped */
		} else {
			k = 1;
			c = (unsigned char)dec[i];
			if (kind == CS_CP1252 && c >= 0x80 && c < 0xa0 &&
			    (c = cp1252[c - 0x80]) == 0)
				continue;
		}
		o += put_utf8(out + o, c);
	}
	out[o] = '\0';
	free(dec);
	*lenp = o;
	return out;
}

/*
 * The first leaf of type text/<sub> (not an attachment) below p, in
 * order; encapsulated messages are not entered.
 */
static const struct mime_part *
find_text(const struct mime_part *p, int html)
{
	const struct mime_part	*c, *r;

	if (p->flags & MIME_F_MULTIPART) {
		for (c = p->child; c != NULL; c = c->next)
			if ((r = find_text(c, html)) != NULL)
				return r;
		return NULL;
	}
	if (p->flags & MIME_F_MESSAGE)
		return NULL;
	if (p->disposition != NULL &&
	    strcasecmp(p->disposition, "attachment") == 0)
		return NULL;
	if (strcmp(p->type, "text") != 0 ||
	    strcmp(p->subtype, html ? "html" : "plain") != 0)
		return NULL;
	return p;
}

/* One character into the preview; 0 when it is full. */
static int
pv_char(struct pv *pv, uint32_t c)
{
	if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) ||
	    c == 0xa0 || c == ' ' || c == 0xfeff || c == 0x2028 ||
	    c == 0x2029) {
		pv->space = pv->len > 0;
		return 1;
	}
	if (pv->space) {
		if (pv->chars + 1 >= MIME_PREVIEW_CHARS)
			return 0;	/* no trailing space */
		pv->out[pv->len++] = ' ';
		pv->chars++;
		pv->space = 0;
	}
	pv->len += put_utf8(pv->out + pv->len, c);
	pv->chars++;
	return pv->chars < MIME_PREVIEW_CHARS;
}

static int
pv_text(struct pv *pv, const char *s, size_t n)
{
	size_t		 i;
	uint32_t	 c;

	for (i = 0; i < n; ) {
		i += unicase_utf8_next(s + i, n - i, &c);
		if (!pv_char(pv, c))
			return 0;
	}
	return 1;
}

/* A character reference at s ("&..."): its length, 0 if none. */
static size_t
html_entity(const char *s, size_t n, uint32_t *c)
{
	static const struct {
		const char	*name;
		uint32_t	 c;
	} names[] = {
		{ "amp", '&' }, { "lt", '<' }, { "gt", '>' },
		{ "quot", '"' }, { "apos", '\'' }, { "nbsp", 0xa0 },
		{ "copy", 0xa9 }, { "reg", 0xae }, { "hellip", 0x2026 },
		{ "mdash", 0x2014 }, { "ndash", 0x2013 }, { "rsquo", 0x2019 },
		{ "lsquo", 0x2018 }, { "rdquo", 0x201d }, { "ldquo", 0x201c },
		{ "euro", 0x20ac }, { "zwnj", 0x200c }
	};
	uint32_t	 v = 0;
	size_t		 i, k;
	int		 hex, d;

	if (n < 3)
		return 0;
	if (s[1] == '#') {
		hex = n > 2 && (s[2] == 'x' || s[2] == 'X');
		for (i = hex ? 3 : 2; i < n && i < 12 && s[i] != ';'; i++) {
			d = hex ? hexval((unsigned char)s[i]) :
			    (s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : -1);
			if (d == -1)
				return 0;
			v = v * (hex ? 16 : 10) + (uint32_t)d;
		}
		if (i >= n || s[i] != ';' || i == (hex ? 3U : 2U))
			return 0;
		if (v == 0 || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
			v = 0xfffd;
		*c = v;
		return i + 1;
	}
	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		i = strlen(names[k].name);
		if (i + 2 <= n && strncmp(s + 1, names[k].name, i) == 0 &&
		    s[i + 1] == ';') {
			*c = names[k].c;
			return i + 2;
		}
	}
	return 0;
}

/*
 * Skip to the end of "</name ...>" (case-insensitive): bytes used, 0
 * if there is none (then only the opening tag is left out).
 */
static size_t
html_skip(const char *s, size_t n, const char *name)
{
	size_t	 i, k = strlen(name), j;

	for (i = 0; i + 2 + k <= n; i++) {
		if (s[i] != '<' || s[i + 1] != '/' ||
		    strncasecmp(s + i + 2, name, k) != 0)
			continue;
		for (j = i + 2 + k; j < n && s[j] != '>'; j++)
			;
		return j < n ? j + 1 : n;
	}
	return 0;
}

/*
 * A tag, comment or declaration at s ("<..."): its length (0 if it is
 * no tag: the "<" is text); *space when it breaks the text as a block
 * element does.  Elements whose content is no text are skipped whole.
 */
static size_t
html_tag(const char *s, size_t n, int *space)
{
	static const char *const skipped[] = {
		"script", "style", "head", "title", "template"
	};
	static const char *const blocks[] = {
		"p", "br", "div", "li", "tr", "td", "th", "h1", "h2", "h3",
		"h4", "h5", "h6", "table", "ul", "ol", "blockquote", "hr",
		"pre", "dt", "dd", "section", "article", "header", "footer",
		"body", "html"
	};
	char	 name[16];
	size_t	 i, k, j;
	int	 q = 0, close;

	*space = 0;
	if (n >= 4 && strncmp(s, "<!--", 4) == 0) {
		for (i = 4; i + 3 <= n && strncmp(s + i, "-->", 3) != 0; i++)
			;
		return i + 3 <= n ? i + 3 : n;
	}
	close = n > 1 && s[1] == '/';
	i = close ? 2 : 1;
	if (i >= n || !((s[i] >= 'a' && s[i] <= 'z') ||
	    (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '!' || s[i] == '?'))
		return 0;
	for (k = 0; i + k < n && k < sizeof(name) - 1 &&
	    ((s[i + k] >= 'a' && s[i + k] <= 'z') ||
	    (s[i + k] >= 'A' && s[i + k] <= 'Z') ||
	    (s[i + k] >= '0' && s[i + k] <= '9')); k++)
		name[k] = (char)(s[i + k] | 0x20);
	name[k] = '\0';
	/* To the '>' that is not inside a quoted attribute value. */
	for (j = i + k; j < n; j++) {
		if (q != 0) {
			if (s[j] == q)
				q = 0;
		} else if (s[j] == '"' || s[j] == '\'')
			q = s[j];
		else if (s[j] == '>')
			break;
	}
	j = j < n ? j + 1 : n;
	for (k = 0; k < sizeof(blocks) / sizeof(blocks[0]); k++)
		if (strcmp(name, blocks[k]) == 0)
			*space = 1;
	if (close)
		return j;
	for (k = 0; k < sizeof(skipped) / sizeof(skipped[0]); k++)
		if (strcmp(name, skipped[k]) == 0 && s[j - 1] == '>' &&
		    !(j >= 2 && s[j - 2] == '/'))
			return j + html_skip(s + j, n - j, skipped[k]);
	return j;
}

static int
pv_html(struct pv *pv, const char *s, size_t n)
{
	size_t		 i, k;
	uint32_t	 c;
	int		 space;

	for (i = 0; i < n; ) {
		if (s[i] == '<' && (k = html_tag(s + i, n - i, &space)) > 0) {
			i += k;
			if (space)
				pv->space = pv->len > 0;
			continue;
		}
		if (s[i] == '&' && (k = html_entity(s + i, n - i, &c)) > 0)
			i += k;
		else
			i += unicase_utf8_next(s + i, n - i, &c);
		if (!pv_char(pv, c))
			return 0;
	}
	return 1;
}

char *
mime_preview(const struct mime_msg *m)
{
	const struct mime_part	*p;
	struct pv		 pv;
	char			*text, *out;
	size_t			 len;
	int			 html = 0;

	memset(&pv, 0, sizeof(pv));
	if ((p = find_text(m->root, 0)) == NULL &&
	    (p = find_text(m->root, 1)) != NULL)
		html = 1;
	if (p != NULL &&
	    (text = mime_part_text(m, p, MIME_PREVIEW_SCAN, &len)) != NULL) {
		if (html)
			(void)pv_html(&pv, text, len);
		else
			(void)pv_text(&pv, text, len);
		free(text);
	}
	pv.out[pv.len] = '\0';
	if ((out = strdup(pv.out)) == NULL)
		fatal("strdup");
	return out;
}
