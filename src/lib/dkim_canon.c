/*
 * DKIM canonicalisation (RFC 6376 3.4) for the signer and the verifiers:
 * the header block kept from chunks, its fields, the canonical form of a
 * field, and the streaming body canonicaliser.  Signing and verifying
 * hash exactly what these functions produce, so a signature maild makes
 * is checked by the same code that made it.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "dkim_canon.h"
#include "log.h"

static void	 canon_flush(struct dkim_canon *);
static void	 canon_put(struct dkim_canon *, const void *, size_t);
static void	 canon_content(struct dkim_canon *, const void *, size_t);

void
dkim_buf_add(struct dkim_buf *b, const void *p, size_t len)
{
	size_t	 nsize;
	char	*np;

	if (len == 0)
		return;
	if (b->size - b->len < len + 1) {
		nsize = b->size ? b->size : 256;
		while (nsize - b->len < len + 1) {
			if (nsize > SIZE_MAX / 2)
				fatalx("%s: overflow", __func__);
			nsize *= 2;
		}
		if ((np = realloc(b->p, nsize)) == NULL)
			fatal("realloc");
		b->p = np;
		b->size = nsize;
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
	b->p[b->len] = '\0';
}

void
dkim_buf_addstr(struct dkim_buf *b, const char *s)
{
	dkim_buf_add(b, s, strlen(s));
}

void
dkim_buf_sink(void *arg, const void *p, size_t len)
{
	dkim_buf_add(arg, p, len);
}

void
dkim_hdrbuf_init(struct dkim_hdrbuf *h, size_t max)
{
	memset(h, 0, sizeof(*h));
	h->max = max;
}

void
dkim_hdrbuf_free(struct dkim_hdrbuf *h)
{
	free(h->buf.p);
	memset(h, 0, sizeof(*h));
}

size_t
dkim_hdrbuf_feed(struct dkim_hdrbuf *h, const void *data, size_t len)
{
	const unsigned char	*p = data, *nl;
	struct dkim_buf		*b = &h->buf;
	size_t			 used = 0, n;

	while (used < len && !h->inbody && !h->toobig) {
		nl = memchr(p + used, '\n', len - used);
		n = nl ? (size_t)(nl - (p + used)) + 1 : len - used;
		if (b->len + n > h->max) {
			h->toobig = 1;
			break;
		}
		dkim_buf_add(b, p + used, n);
		used += n;
		if (nl == NULL || b->len < 2 || b->p[b->len - 2] != '\r')
			continue;
		if (b->len - 2 == h->linestart) {
			b->len = h->linestart;
			if (b->p != NULL)
				b->p[b->len] = '\0';
			h->inbody = 1;
		} else
			h->linestart = b->len;
	}
	return used;
}

struct dkim_field *
dkim_fields(const char *h, size_t len, size_t *nfp)
{
	struct dkim_field	*f = NULL, *nf;
	const char		*crlf, *colon;
	size_t			 pos = 0, next, n = 0, size = 0, i;

	while (pos < len) {
		crlf = memmem(h + pos, len - pos, "\r\n", 2);
		next = crlf ? (size_t)(crlf - h) + 2 : len;
		if (h[pos] == ' ' || h[pos] == '\t') {
			if (n > 0)
				f[n - 1].len = next - (f[n - 1].p - h);
		} else {
			if (n == size) {
				size = size ? size * 2 : 32;
				if ((nf = reallocarray(f, size,
				    sizeof(*f))) == NULL)
					fatal("reallocarray");
				f = nf;
			}
			f[n].p = h + pos;
			f[n].len = next - pos;
			f[n].namelen = 0;
			n++;
		}
		pos = next;
	}
	for (i = 0; i < n; i++) {
		if ((colon = memchr(f[i].p, ':', f[i].len)) == NULL)
			continue;
		f[i].namelen = colon - f[i].p;
		while (f[i].namelen > 0 && (f[i].p[f[i].namelen - 1] == ' ' ||
		    f[i].p[f[i].namelen - 1] == '\t'))
			f[i].namelen--;
	}
	*nfp = n;
	return f;
}

int
dkim_field_is(const struct dkim_field *f, const char *name, size_t len)
{
	return f->namelen == len && strncasecmp(f->p, name, len) == 0;
}

int
dkim_canon_field(struct dkim_buf *b, int canon, const char *p, size_t len)
{
	const char	*colon;
	size_t		 i, namelen;
	int		 wsp = 0, started = 0;
	char		 ch;

	if ((colon = memchr(p, ':', len)) == NULL)
		return -1;
	if (canon == DKIM_CANON_SIMPLE) {
		dkim_buf_add(b, p, len);
		if (len < 2 || p[len - 2] != '\r' || p[len - 1] != '\n')
			dkim_buf_add(b, "\r\n", 2);
		return 0;
	}
	namelen = colon - p;
	while (namelen > 0 && (p[namelen - 1] == ' ' || p[namelen - 1] == '\t'))
		namelen--;
	for (i = 0; i < namelen; i++) {
		ch = tolower((unsigned char)p[i]);
		dkim_buf_add(b, &ch, 1);
	}
	dkim_buf_add(b, ":", 1);
	for (i = colon - p + 1; i < len; i++) {
		if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n') {
			i++;			/* unfold */
			continue;
		}
		if (p[i] == ' ' || p[i] == '\t') {
			wsp = 1;
			continue;
		}
		if (wsp && started)
			dkim_buf_add(b, " ", 1);
		wsp = 0;
		started = 1;
		dkim_buf_add(b, &p[i], 1);
	}
	dkim_buf_add(b, "\r\n", 2);
	return 0;
}

void
dkim_canon_init(struct dkim_canon *c, int canon, dkim_sink out, void *arg)
{
	memset(c, 0, sizeof(*c));
	c->relaxed = canon == DKIM_CANON_RELAXED;
	c->out = out;
	c->arg = arg;
}

static void
canon_flush(struct dkim_canon *c)
{
	if (c->olen > 0)
		c->out(c->arg, c->obuf, c->olen);
	c->olen = 0;
}

static void
canon_put(struct dkim_canon *c, const void *p, size_t len)
{
	if (sizeof(c->obuf) - c->olen < len)
		canon_flush(c);
	if (len >= sizeof(c->obuf)) {
		c->out(c->arg, p, len);
		return;
	}
	memcpy(c->obuf + c->olen, p, len);
	c->olen += len;
}

/* Bytes that are part of a line: held-back empty lines were not trailing. */
static void
canon_content(struct dkim_canon *c, const void *p, size_t len)
{
	for (; c->empty > 0; c->empty--)
		canon_put(c, "\r\n", 2);
	if (c->wsp) {
		canon_put(c, " ", 1);
		c->wsp = 0;
	}
	canon_put(c, p, len);
	c->linelen += len;
	c->any = 1;
}

/*
 * RFC 6376 3.4.3 and 3.4.4.  Only CRLF ends a line: a lone CR or LF is an
 * ordinary byte of its line, as is NUL.  Runs of ordinary bytes are
 * copied at once.
 */
void
dkim_canon_update(struct dkim_canon *c, const void *data, size_t len)
{
	const unsigned char	*p = data;
	size_t			 i, j;

	for (i = 0; i < len; i = j) {
		j = i + 1;
		if (c->cr) {
			c->cr = 0;
			if (p[i] == '\n') {
				c->wsp = 0;
				if (c->linelen > 0) {
					canon_put(c, "\r\n", 2);
					c->linelen = 0;
				} else
					c->empty++;
				continue;
			}
			canon_content(c, "\r", 1);
		}
		if (p[i] == '\r')
			c->cr = 1;
		else if (c->relaxed && (p[i] == ' ' || p[i] == '\t'))
			c->wsp = 1;
		else {
			while (j < len && p[j] != '\r' && (!c->relaxed ||
			    (p[j] != ' ' && p[j] != '\t')))
				j++;
			canon_content(c, p + i, j - i);
		}
	}
}

void
dkim_canon_final(struct dkim_canon *c)
{
	if (c->cr) {
		c->cr = 0;
		canon_content(c, "\r", 1);
	}
	c->wsp = 0;
	if (c->linelen > 0) {
		canon_put(c, "\r\n", 2);
		c->linelen = 0;
	}
	/* Simple turns an empty body into CRLF; relaxed leaves it empty. */
	if (!c->relaxed && !c->any)
		canon_put(c, "\r\n", 2);
	c->empty = 0;
	canon_flush(c);
}
