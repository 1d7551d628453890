/*
 * Authentication-Results (RFC 8601) header fields: the one maild writes
 * (methods spf, dkim with RFC 6008 header.b, dmarc, arc), and the reading
 * of the authserv-id of incoming ones, to remove those that claim to be
 * maild's own (RFC 8601 5).  Both sides are bounded: the rendered field
 * by AUTHRES_MAX, the reader by its input, with no recursion.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authres.h"
#include "compat.h"
#include "log.h"
#include "mime.h"
#include "util.h"

#define FOLD_COLS	76	/* last column of a word (a ';' may follow) */
#define FOLD_INDENT	8	/* column after the TAB of a continuation */
#define RESERVE		48	/* room kept for the final comment */
#define FIELD_NAME	"Authentication-Results"
#define B64_MAX		1400	/* b= characters compared */

static int	 is_tspecial(int);
static int	 is_token(const char *);
static int	 is_keyword(const char *);
static int	 is_pvalue_addr(const char *);
static int	 render_value(const char *, int, int, char *, size_t);
static void	 put_word(struct mbuf *, size_t *, const char *, size_t);
static void	 put_comment(struct mbuf *, size_t *, const char *, int);
static size_t	 b_prefix(char *const *, size_t, size_t);
static const char *skip_cfws(const char *, const char *);
static size_t	 field_end(const char *, size_t, size_t, size_t *);

/* RFC 2045 tspecials. */
static int
is_tspecial(int c)
{
	return c != '\0' && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static int
is_token(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s >= 0x7f || is_tspecial(*s))
			return 0;
	return 1;
}

/* A method or result keyword. */
static int
is_keyword(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		    *s == '.'))
			return 0;
	return 1;
}

/*
 * [dot-atom-text] "@" domain-name, which a pvalue may hold unquoted
 * (RFC 8601 2.2): atext local part without empty dot-separated parts,
 * then labels of letters, digits, '-' and '_'.
 */
static int
is_pvalue_addr(const char *s)
{
	const char	*at = strrchr(s, '@'), *p;
	int		 atom = 0;

	if (at == NULL)
		return 0;
	for (p = s; p < at; p++) {
		if (*p == '.') {
			if (!atom)
				return 0;
			atom = 0;
		} else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' &&
		    *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    (*p != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", *p) != NULL))
			atom = 1;
		else
			return 0;
	}
	if (at > s && !atom)
		return 0;
	for (atom = 0, p = at + 1; *p != '\0'; p++) {
		if (*p == '.') {
			if (!atom)
				return 0;
			atom = 0;
		} else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' &&
		    *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		    *p == '_')
			atom = 1;
		else
			return 0;
	}
	return atom;
}

/*
 * v as a value: as it is when a token (or, pvalue set, an address), else
 * a quoted-string with '"' and '\' escaped, control bytes and (without
 * AUTHRES_UTF8) non-ASCII or invalid UTF-8 bytes as '?'.  -1 when v is
 * empty or longer than AUTHRES_VALUE_MAX.
 */
static int
render_value(const char *v, int pvalue, int flags, char *out,
    size_t outlen)
{
	const unsigned char	*p = (const unsigned char *)v;
	size_t			 len = strnlen(v, AUTHRES_VALUE_MAX + 1), o = 0;
	size_t			 n, i;

	if (len == 0 || len > AUTHRES_VALUE_MAX || outlen < 2 * len + 3)
		return -1;
	if (is_token(v) || (pvalue && is_pvalue_addr(v))) {
		memcpy(out, v, len + 1);
		return 0;
	}
	out[o++] = '"';
	for (i = 0; i < len; i++) {
		if (p[i] == '"' || p[i] == '\\') {
			out[o++] = '\\';
			out[o++] = p[i];
		} else if (p[i] >= 0x80 && (flags & AUTHRES_UTF8) &&
		    (n = utf8_seq(p + i, len - i, NULL)) > 0) {
			memcpy(out + o, p + i, n);
			o += n;
			i += n - 1;
		} else if (p[i] < ' ' || p[i] >= 0x7f)
			out[o++] = '?';
		else
			out[o++] = p[i];
	}
	out[o++] = '"';
	out[o] = '\0';
	return 0;
}

/* A word, after a space or, when it would pass FOLD_COLS, a fold. */
static void
put_word(struct mbuf *b, size_t *col, const char *w, size_t n)
{
	if (*col > FOLD_INDENT && *col + 1 + n > FOLD_COLS) {
		mbuf_add(b, "\r\n\t", 3);
		*col = FOLD_INDENT;
	} else if (*col > FOLD_INDENT) {
		mbuf_add(b, " ", 1);
		(*col)++;
	}
	mbuf_add(b, w, n);
	*col += n;
}

/*
 * "(text)" as words that may fold at its spaces: controls become
 * spaces, "()\" are escaped, non-ASCII is '?' unless AUTHRES_UTF8 and
 * valid; cut at AUTHRES_COMMENT_MAX bytes.
 */
static void
put_comment(struct mbuf *b, size_t *col, const char *text, int flags)
{
	const unsigned char	*p = (const unsigned char *)text;
	char			 w[2 * AUTHRES_COMMENT_MAX + 8];
	size_t			 len, i, n, o = 0;
	int			 open = 1;

	len = strnlen(text, AUTHRES_COMMENT_MAX + 1);
	if (len > AUTHRES_COMMENT_MAX)
		len = AUTHRES_COMMENT_MAX;
	w[o++] = '(';
	for (i = 0; i < len; i++) {
		if (p[i] <= ' ' || p[i] == 0x7f) {
			/* A word ends; spaces after "(" are dropped. */
			if (o > (size_t)open) {
				put_word(b, col, w, o);
				o = open = 0;
			}
			continue;
		}
		if (p[i] == '(' || p[i] == ')' || p[i] == '\\') {
			w[o++] = '\\';
			w[o++] = p[i];
		} else if (p[i] >= 0x80 && (flags & AUTHRES_UTF8) &&
		    (n = utf8_seq(p + i, len - i, NULL)) > 0) {
			memcpy(w + o, p + i, n);
			o += n;
			i += n - 1;
		} else if (p[i] >= 0x80)
			w[o++] = '?';
		else
			w[o++] = p[i];
	}
	if (o == 0) {
		mbuf_add(b, ")", 1);	/* after the last word */
		(*col)++;
		return;
	}
	w[o++] = ')';
	put_word(b, col, w, o);
}

void
authres_init(struct authres *a, const char *authserv_id, int flags)
{
	char	 v[2 * AUTHRES_VALUE_MAX + 3];

	memset(a, 0, sizeof(*a));
	a->flags = flags;
	if (render_value(authserv_id, 0, flags, v, sizeof(v)) == -1)
		(void)strlcpy(v, "unknown", sizeof(v));
	mbuf_printf(&a->out, "%s: %s", FIELD_NAME, v);
	a->col = a->out.len;
}

int
authres_add(struct authres *a, const char *method, const char *result,
    const char *comment, const struct authres_prop *props, size_t nprops)
{
	struct mbuf	 r;
	char		 v[2 * AUTHRES_VALUE_MAX + 3];
	char		 w[2 * AUTHRES_VALUE_MAX + 64];
	size_t		 col = FOLD_INDENT, i;
	int		 n;

	if (!is_keyword(method) || !is_keyword(result))
		return -1;
	memset(&r, 0, sizeof(r));
	mbuf_add(&r, ";\r\n\t", 4);
	n = snprintf(w, sizeof(w), "%s=%s", method, result);
	if (n < 0 || (size_t)n >= sizeof(w)) {
		mbuf_free(&r);
		return -1;
	}
	put_word(&r, &col, w, n);
	if (comment != NULL && *comment != '\0')
		put_comment(&r, &col, comment, a->flags);
	for (i = 0; i < nprops; i++) {
		if (props[i].value == NULL || props[i].value[0] == '\0' ||
		    !is_keyword(props[i].name))
			continue;
		if (render_value(props[i].value, 1, a->flags, v,
		    sizeof(v)) == -1) {
			n = snprintf(w, sizeof(w), "%s omitted: too long",
			    props[i].name);
			put_comment(&r, &col, w, 0);
			continue;
		}
		n = snprintf(w, sizeof(w), "%s=%s", props[i].name, v);
		if (n < 0 || (size_t)n >= sizeof(w))
			continue;
		put_word(&r, &col, w, n);
	}
	if (a->out.len + r.len + RESERVE > AUTHRES_MAX) {
		a->omitted++;
		mbuf_free(&r);
		return -1;
	}
	mbuf_add(&a->out, r.data, r.len);
	a->col = col;
	a->nresults++;
	mbuf_free(&r);
	return 0;
}

int
authres_spf(struct authres *a, const char *result, const char *mailfrom,
    const char *helo, const char *comment)
{
	struct authres_prop	 p;

	if (mailfrom != NULL && *mailfrom != '\0') {
		p.name = "smtp.mailfrom";
		p.value = mailfrom;
	} else {
		p.name = "smtp.helo";
		p.value = helo;
	}
	return authres_add(a, "spf", result, comment, &p, 1);
}

/*
 * The length of the shortest prefix of b[i] of at least AUTHRES_B_MIN
 * characters that no other b[j] starts with (all of b[i] if none is).
 */
static size_t
b_prefix(char *const *b, size_t n, size_t i)
{
	size_t	 len = strlen(b[i]), want = AUTHRES_B_MIN, j, k;

	for (j = 0; j < n; j++) {
		if (j == i)
			continue;
		for (k = 0; b[i][k] != '\0' && b[i][k] == b[j][k]; k++)
			;
		if (k + 1 > want)
			want = k + 1;
	}
	return want < len ? want : len;
}

int
authres_dkim(struct authres *a, const struct authres_dkim *sig, size_t n)
{
	struct authres_prop	 p[3];
	char			*b[AUTHRES_DKIM_MAX], *cut;
	const char		*s;
	size_t			 i, o, k;
	int			 rv = 0;

	if (n > AUTHRES_DKIM_MAX) {
		a->omitted += n - AUTHRES_DKIM_MAX;
		n = AUTHRES_DKIM_MAX;
	}
	/* b= less its folding white space, at most B64_MAX characters. */
	for (i = 0; i < n; i++) {
		if ((b[i] = malloc(B64_MAX + 1)) == NULL)
			fatal("malloc");
		for (o = 0, s = sig[i].b; s != NULL && *s != '\0' &&
		    o < B64_MAX; s++)
			if (*s != ' ' && *s != '\t' && *s != '\r' &&
			    *s != '\n')
				b[i][o++] = *s;
		b[i][o] = '\0';
	}
	for (i = 0; i < n; i++) {
		k = b_prefix(b, n, i);
		if ((cut = strndup(b[i], k)) == NULL)
			fatal("strndup");
		p[0].name = "header.d";
		p[0].value = sig[i].d;
		p[1].name = "header.s";
		p[1].value = sig[i].s;
		p[2].name = "header.b";
		p[2].value = cut;
		if (authres_add(a, "dkim", sig[i].result, sig[i].comment, p,
		    3) == -1)
			rv = -1;
		free(cut);
	}
	for (i = 0; i < n; i++)
		free(b[i]);
	return rv;
}

int
authres_dmarc(struct authres *a, const char *result, const char *from,
    const char *policy, const char *comment)
{
	struct authres_prop	 p[2];

	p[0].name = "header.from";
	p[0].value = from;
	p[1].name = "policy.dmarc";
	p[1].value = policy;
	return authres_add(a, "dmarc", result, comment, p, 2);
}

int
authres_arc(struct authres *a, const char *result, const char *comment)
{
	return authres_add(a, "arc", result, comment, NULL, 0);
}

char *
authres_finish(struct authres *a, size_t *len)
{
	char	*s, w[64];

	if (a->nresults == 0 && a->omitted == 0)
		mbuf_add(&a->out, "; none", 6);
	if (a->omitted > 0) {
		(void)snprintf(w, sizeof(w), "%zu results omitted",
		    a->omitted);
		put_comment(&a->out, &a->col, w, 0);
		if (a->nresults == 0)
			mbuf_add(&a->out, "; none", 6);
	}
	mbuf_add(&a->out, "\r\n", 2);
	s = a->out.data;
	*len = a->out.len;
	memset(a, 0, sizeof(*a));
	return s;
}

void
authres_clear(struct authres *a)
{
	mbuf_free(&a->out);
	memset(a, 0, sizeof(*a));
}

/* Past CFWS (nested comments included) at p; NULL if one is open. */
static const char *
skip_cfws(const char *p, const char *end)
{
	size_t	 depth = 0;

	for (; p < end; p++) {
		if (depth > 0 && *p == '\\') {
			if (++p >= end)
				return NULL;
			continue;
		}
		if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		else if (depth == 0 && *p != ' ' && *p != '\t' &&
		    *p != '\r' && *p != '\n')
			break;
	}
	return depth > 0 ? NULL : p;
}

int
authres_authserv_id(const char *field, size_t len, char *out,
    size_t outlen)
{
	const char	*p = field, *end = field + len;
	size_t		 n = sizeof(FIELD_NAME) - 1, o = 0;

	if (outlen == 0 || len < n || strncasecmp(p, FIELD_NAME, n) != 0)
		return -1;
	for (p += n; p < end && (*p == ' ' || *p == '\t'); p++)
		;
	if (p >= end || *p++ != ':' || (p = skip_cfws(p, end)) == NULL ||
	    p >= end)
		return -1;
	if (*p == '"') {
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\r' || *p == '\n')
				continue;	/* unfold */
			if (*p == '\\' && ++p >= end)
				return -1;
			if (o + 1 >= outlen || o >= AUTHRES_ID_MAX)
				return -1;
			out[o++] = *p;
		}
		if (p >= end)
			return -1;
		p++;
	} else {
		for (; p < end && *p > ' ' && *p < 0x7f && !is_tspecial(*p);
		    p++) {
			if (o + 1 >= outlen || o >= AUTHRES_ID_MAX)
				return -1;
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	if (o == 0)
		return -1;
	/* [CFWS authres-version] then the ';' of the first resinfo. */
	if ((p = skip_cfws(p, end)) == NULL)
		return 0;
	if (p < end && *p >= '0' && *p <= '9') {
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if ((p = skip_cfws(p, end)) == NULL)
			return 0;
	}
	return p < end && *p == ';';
}

/*
 * The end of the field starting at h[pos] (past its line break and
 * continuation lines) is returned; *next gets the same.  0 for none:
 * the blank line or the end of h.
 */
static size_t
field_end(const char *h, size_t len, size_t pos, size_t *next)
{
	const char	*nl;
	size_t		 e = pos;

	if (pos >= len || h[pos] == '\n' ||
	    (h[pos] == '\r' && pos + 1 < len && h[pos + 1] == '\n'))
		return 0;
	for (;;) {
		if ((nl = memchr(h + e, '\n', len - e)) == NULL) {
			e = len;
			break;
		}
		e = nl - h + 1;
		if (e >= len || (h[e] != ' ' && h[e] != '\t'))
			break;
	}
	*next = e;
	return e;
}

size_t
authres_remove(char *hdr, size_t len, const char *authserv_id, int flags,
    size_t *nremoved)
{
	char	 id[AUTHRES_ID_MAX + 1];
	size_t	 r = 0, w = 0, next, n = sizeof(FIELD_NAME) - 1, k;
	int	 drop, rv;

	*nremoved = 0;
	while (field_end(hdr, len, r, &next) != 0) {
		drop = 0;
		if (next - r > n && strncasecmp(hdr + r, FIELD_NAME, n) ==
		    0) {
			for (k = r + n; k < next && (hdr[k] == ' ' ||
			    hdr[k] == '\t'); k++)
				;
			if (k < next && hdr[k] == ':') {
				rv = authres_authserv_id(hdr + r, next - r,
				    id, sizeof(id));
				if (rv == -1)
					drop = flags & AUTHRES_RM_MALFORMED;
				else
					drop = strcasecmp(id,
					    authserv_id) == 0;
			}
		}
		if (drop)
			(*nremoved)++;
		else {
			if (w != r)
				memmove(hdr + w, hdr + r, next - r);
			w += next - r;
		}
		r = next;
	}
	if (w != r)
		memmove(hdr + w, hdr + r, len - r);
	return w + len - r;
}
