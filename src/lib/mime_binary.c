/*
 * Binary parts of an APPENDed message re-encoded as base64
 * (mime_binary.h): the MIME tree of mime.c says where the leaf parts
 * are; the bytes between them are copied as they are.
 */
#include <sys/types.h>

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "mime.h"
#include "mime_binary.h"

#define B64_LINE	76	/* characters a line (RFC 2045 6.8) */

static int	needs_encoding(const struct mime_msg *,
		    const struct mime_part *);
static int	is_cte_field(const char *, size_t);
static void	put_header(struct mbuf *, const char *, size_t);
static void	put_base64(struct mbuf *, const unsigned char *, size_t);
static void	walk(struct mbuf *, const struct mime_msg *,
		    const struct mime_part *, size_t *, int *);

static int
needs_encoding(const struct mime_msg *m, const struct mime_part *p)
{
	if (p->flags & (MIME_F_MULTIPART | MIME_F_MESSAGE) ||
	    p->body_len == 0 || p->body_off > m->len ||
	    p->body_len > m->len - p->body_off)
		return 0;
	if (p->encoding != NULL && strcasecmp(p->encoding, "binary") == 0)
		return 1;
	return memchr(m->buf + p->body_off, '\0', p->body_len) != NULL;
}

/* Does the header line l[0..n) start a Content-Transfer-Encoding field? */
static int
is_cte_field(const char *l, size_t n)
{
	static const char	 name[] = "Content-Transfer-Encoding";
	size_t			 k = sizeof(name) - 1;

	if (n < k || strncasecmp(l, name, k) != 0)
		return 0;
	while (k < n && (l[k] == ' ' || l[k] == '\t'))
		k++;
	return k < n && l[k] == ':';
}

/*
 * The header block h[0..n) without its Content-Transfer-Encoding
 * fields (continuation lines included) and its blank line, then the
 * base64 field and a blank line.
 */
static void
put_header(struct mbuf *out, const char *h, size_t n)
{
	const char	*nl;
	size_t		 pos = 0, le;
	int		 skip = 0;

	while (pos < n) {
		nl = memchr(h + pos, '\n', n - pos);
		le = nl != NULL ? (size_t)(nl - h) + 1 : n;
		if (h[pos] == '\n' || (h[pos] == '\r' && le - pos <= 2))
			break;			/* the blank line */
		if (h[pos] != ' ' && h[pos] != '\t')
			skip = is_cte_field(h + pos, le - pos);
		if (!skip) {
			mbuf_add(out, h + pos, le - pos);
			if (h[le - 1] != '\n')
				mbuf_add(out, "\r\n", 2);
		}
		pos = le;
	}
	mbuf_add(out, "Content-Transfer-Encoding: base64\r\n\r\n", 37);
}

/* Lines of B64_LINE characters joined by CRLF, none after the last. */
static void
put_base64(struct mbuf *out, const unsigned char *s, size_t n)
{
	static const char	 b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char			 q[4];
	size_t			 i, col = 0;
	uint32_t		 v;

	for (i = 0; i < n; i += 3) {
		v = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		q[0] = b64[v >> 18 & 63];
		q[1] = b64[v >> 12 & 63];
		q[2] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		q[3] = i + 2 < n ? b64[v & 63] : '=';
		if (col == B64_LINE) {
			mbuf_add(out, "\r\n", 2);
			col = 0;
		}
		mbuf_add(out, q, 4);
		col += 4;
	}
}

/* The parts under p in the order of the message; *pos: copied so far. */
static void
walk(struct mbuf *out, const struct mime_msg *m, const struct mime_part *p,
    size_t *pos, int *n)
{
	const struct mime_part	*c;

	if (!needs_encoding(m, p)) {
		for (c = p->child; c != NULL; c = c->next)
			walk(out, m, c, pos, n);
		return;
	}
	if (p->hdr_off < *pos)
		return;			/* overlapping: broken tree */
	mbuf_add(out, m->buf + *pos, p->hdr_off - *pos);
	put_header(out, m->buf + p->hdr_off, p->hdr_len);
	put_base64(out, (const unsigned char *)m->buf + p->body_off,
	    p->body_len);
	if (p->parent == NULL)
		mbuf_add(out, "\r\n", 2);
	*pos = p->body_off + p->body_len;
	(*n)++;
}

int
mime_binary_encode(struct mbuf *out, const char *msg, size_t len)
{
	struct mime_msg	*m;
	struct mbuf	 b;
	size_t		 pos = 0;
	int		 n = 0;

	m = mime_parse(msg, len);
	memset(&b, 0, sizeof(b));
	walk(&b, m, m->root, &pos, &n);
	mime_free(m);
	if (n == 0) {
		mbuf_free(&b);
		return memchr(msg, '\0', len) != NULL ? -1 : 0;
	}
	mbuf_add(&b, msg + pos, len - pos);
	if (memchr(b.data, '\0', b.len) != NULL) {
		mbuf_free(&b);
		return -1;
	}
	mbuf_free(out);
	*out = b;
	return 1;
}
