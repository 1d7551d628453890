/*
 * DMARC aggregate reports: the header test that routes them, the way
 * from a message to its XML (MIME leaf, base64, gzip or zip through
 * zlib) and a strict, bounded XML reader for the elements of RFC 7489
 * appendix C that a summary needs.  See dmarc_report.h for the limits.
 *
 * The XML reader walks the text once.  Each open element is a node of
 * a small tree of known paths (feedback/record/row/source_ip ...) or
 * N_SKIP for anything else and below; the text of a known leaf is
 * collected (entities decoded) and checked when the leaf ends.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "compat.h"
#include "dmarc_report.h"
#include "log.h"
#include "mailbox.h"
#include "mime.h"
#include "psl.h"

#define MIB		(1024 * 1024)
#define NAME_MAX_XML	64	/* bytes of an element name */
#define ZIP_MEMBERS_MAX	1000

/* The known paths of the report. */
enum node {
	N_TOP,		/* outside the root element */
	N_FEEDBACK,
	N_META, N_ORG, N_EMAIL, N_RID, N_RANGE, N_BEGIN, N_END,
	N_POLICY, N_PDOMAIN, N_P,
	N_RECORD, N_ROW, N_IP, N_COUNT, N_EVAL, N_DISP, N_EDKIM, N_ESPF,
	N_IDENT, N_HFROM,
	N_AUTH, N_ADKIM, N_ADKIM_DOM, N_ADKIM_RES, N_ASPF, N_ASPF_DOM,
	N_ASPF_RES,
	N_SKIP		/* unknown, and all below it */
};

static const struct {
	enum node	 parent;
	const char	*name;
	int		 leaf;
} nodes[] = {
	[N_TOP] = { N_TOP, "", 0 },
	[N_FEEDBACK] = { N_TOP, "feedback", 0 },
	[N_META] = { N_FEEDBACK, "report_metadata", 0 },
	[N_ORG] = { N_META, "org_name", 1 },
	[N_EMAIL] = { N_META, "email", 1 },
	[N_RID] = { N_META, "report_id", 1 },
	[N_RANGE] = { N_META, "date_range", 0 },
	[N_BEGIN] = { N_RANGE, "begin", 1 },
	[N_END] = { N_RANGE, "end", 1 },
	[N_POLICY] = { N_FEEDBACK, "policy_published", 0 },
	[N_PDOMAIN] = { N_POLICY, "domain", 1 },
	[N_P] = { N_POLICY, "p", 1 },
	[N_RECORD] = { N_FEEDBACK, "record", 0 },
	[N_ROW] = { N_RECORD, "row", 0 },
	[N_IP] = { N_ROW, "source_ip", 1 },
	[N_COUNT] = { N_ROW, "count", 1 },
	[N_EVAL] = { N_ROW, "policy_evaluated", 0 },
	[N_DISP] = { N_EVAL, "disposition", 1 },
	[N_EDKIM] = { N_EVAL, "dkim", 1 },
	[N_ESPF] = { N_EVAL, "spf", 1 },
	[N_IDENT] = { N_RECORD, "identifiers", 0 },
	[N_HFROM] = { N_IDENT, "header_from", 1 },
	[N_AUTH] = { N_RECORD, "auth_results", 0 },
	[N_ADKIM] = { N_AUTH, "dkim", 0 },
	[N_ADKIM_DOM] = { N_ADKIM, "domain", 1 },
	[N_ADKIM_RES] = { N_ADKIM, "result", 1 },
	[N_ASPF] = { N_AUTH, "spf", 0 },
	[N_ASPF_DOM] = { N_ASPF, "domain", 1 },
	[N_ASPF_RES] = { N_ASPF, "result", 1 },
};

#define BIT(n)		(1ULL << (n))
/* What a report, a record and an auth result must have. */
#define REPORT_NEED	(BIT(N_ORG) | BIT(N_RID) | BIT(N_BEGIN) | \
			    BIT(N_END) | BIT(N_PDOMAIN) | BIT(N_P))
#define ROW_NEED	(BIT(N_IP) | BIT(N_COUNT) | BIT(N_DISP) | \
			    BIT(N_EDKIM) | BIT(N_ESPF) | BIT(N_HFROM))

struct xp {
	const char		*s;
	size_t			 len, pos;
	struct dmarc_report	*r;
	char			*err;
	size_t			 errlen;
	int			 depth;
	enum node		 node[DMARC_REPORT_DEPTH_MAX + 1];
	char			 name[DMARC_REPORT_DEPTH_MAX + 1]
				    [NAME_MAX_XML + 1];
	char			 text[DMARC_REPORT_TEXT_MAX + 1];
	size_t			 tlen;
	int			 root_done;
	uint64_t		 seen;		/* leaves of the report */
	uint64_t		 row_seen;	/* leaves of the record */
	uint64_t		 auth_seen;	/* leaves of the auth result */
	size_t			 rowcap;
};

static int	 xerr(struct xp *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static int	 xml_decl(struct xp *);
static int	 xml_skip_to(struct xp *, const char *, const char *);
static int	 xml_name(struct xp *, char *);
static int	 xml_start(struct xp *);
static int	 xml_end(struct xp *);
static int	 xml_text(struct xp *, size_t, size_t, int);
static int	 xml_ref(struct xp *, size_t *, uint32_t *);
static int	 xml_attr_value(struct xp *);
static void	 xml_put(struct xp *, uint32_t, int *);
static int	 xml_chars_ok(struct xp *);
static int	 open_node(struct xp *, enum node);
static int	 close_leaf(struct xp *, enum node);
static int	 close_node(struct xp *, enum node);
static const char *local_name(const char *);
static int	 is_ws(int);
static int	 parse_u64(const char *, unsigned int, uint64_t *);
static int	 word_in(const char *, const char *const *);
static char	*xstrdup(const char *);
static int	 inflate_buf(z_stream *, const unsigned char *, size_t,
		    size_t, char **, size_t *, char *, size_t);
static int	 gunzip(const unsigned char *, size_t, char **, size_t *,
		    char *, size_t);
static int	 unzip(const unsigned char *, size_t, char **, size_t *,
		    char *, size_t);
static size_t	 out_cap(size_t);
static uint16_t	 le16(const unsigned char *);
static uint32_t	 le32(const unsigned char *);
static int	 compressed_type(const char *, const char *);
static int	 report_leaf(const struct mime_part *);
static const struct mime_part *find_leaf(const struct mime_part *);
static int	 base64_decode(const char *, size_t, unsigned char **,
		    size_t *);
static void	 seterr(char *, size_t, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static char *
xstrdup(const char *s)
{
	char	*d;

	if ((d = strdup(s)) == NULL)
		fatal("strdup");
	return d;
}

static int
is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ---------------------------------------------------------------- detection */

static int
compressed_type(const char *type, const char *sub)
{
	static const char *const subs[] = { "zip", "gzip", "x-gzip", "x-zip",
	    "x-zip-compressed", NULL };

	return strcmp(type, "application") == 0 && word_in(sub, subs);
}

static int
word_in(const char *w, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(w, *list) == 0)
			return 1;
	return 0;
}

int
dmarc_report_is(const char *hdr, size_t hdrlen)
{
	struct mime_msg	*m;
	char		*subj, *p;
	int		 multi, comp, r = 0;

	if (hdrlen > DMARC_REPORT_HDR_MAX)
		hdrlen = DMARC_REPORT_HDR_MAX;
	if ((subj = mime_header_get(hdr, hdrlen, "Subject")) == NULL)
		return 0;
	/* The header block alone: its root part is the message's type. */
	m = mime_parse(hdr, hdrlen);
	multi = (m->root->flags & MIME_F_MULTIPART) != 0;
	comp = compressed_type(m->root->type, m->root->subtype);
	mime_free(m);
	if (strncasecmp(subj, "Report Domain:", 14) == 0 && (multi || comp))
		r = 1;
	else if (comp) {
		for (p = subj; *p != '\0' && r == 0; p++)
			r = strncasecmp(p, "report", 6) == 0;
	}
	free(subj);
	return r;
}

/* ---------------------------------------------------------------- message */

/* A leaf that may hold the report. */
static int
report_leaf(const struct mime_part *p)
{
	if (p->child != NULL || (p->flags & MIME_F_MULTIPART))
		return 0;
	if (compressed_type(p->type, p->subtype))
		return 1;
	if (strcmp(p->type, "application") == 0 &&
	    (strcmp(p->subtype, "octet-stream") == 0 ||
	    strcmp(p->subtype, "xml") == 0))
		return 1;
	return strcmp(p->type, "text") == 0 && strcmp(p->subtype, "xml") == 0;
}

/* Depth first; the tree is bounded by MIME_MAX_DEPTH and _PARTS. */
static const struct mime_part *
find_leaf(const struct mime_part *p)
{
	const struct mime_part	*c, *f;

	if (report_leaf(p))
		return p;
	for (c = p->child; c != NULL; c = c->next)
		if ((f = find_leaf(c)) != NULL)
			return f;
	return NULL;
}

/*
 * MIME base64 (RFC 2045 6.8): line breaks and white space skipped,
 * padding ends the data; any other character is an error.
 */
static int
base64_decode(const char *in, size_t len, unsigned char **outp,
    size_t *outlen)
{
	static const char	 b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char		*out;
	const char		*q;
	uint32_t		 acc = 0;
	size_t			 i, o = 0;
	int			 n = 0, pad = 0;

	if ((out = malloc(len / 4 * 3 + 3)) == NULL)
		fatal("malloc");
	for (i = 0; i < len; i++) {
		if (is_ws((unsigned char)in[i]))
			continue;
		if (in[i] == '=') {
			pad++;
			continue;
		}
		if (pad || in[i] == '\0' || (q = strchr(b64, in[i])) == NULL)
			goto bad;
		acc = acc << 6 | (uint32_t)(q - b64);
		if (++n == 4) {
			out[o++] = acc >> 16;
			out[o++] = acc >> 8;
			out[o++] = acc;
			acc = 0;
			n = 0;
		}
	}
	if (n == 1 || pad > 2)
		goto bad;
	if (n == 2)
		out[o++] = acc >> 4;
	else if (n == 3) {
		out[o++] = acc >> 10;
		out[o++] = acc >> 2;
	}
	*outp = out;
	*outlen = o;
	return 0;
bad:
	free(out);
	return -1;
}

int
dmarc_report_parse(const char *msg, size_t len, struct dmarc_report *r,
    char *err, size_t errlen)
{
	struct mime_msg		*m;
	const struct mime_part	*p;
	unsigned char		*raw = NULL;
	const unsigned char	*data;
	char			*xml = NULL;
	size_t			 rawlen, xmllen;
	int			 rv = -1;

	memset(r, 0, sizeof(*r));
	if (len > DMARC_REPORT_MSG_MAX) {
		seterr(err, errlen, "message over %d MiB",
		    DMARC_REPORT_MSG_MAX / MIB);
		return -1;
	}
	m = mime_parse(msg, len);
	if ((p = find_leaf(m->root)) == NULL) {
		seterr(err, errlen, "no zip, gzip or XML part in the message");
		goto done;
	}
	data = (const unsigned char *)msg + p->body_off;
	rawlen = p->body_len;
	if (p->encoding != NULL && strcasecmp(p->encoding, "base64") == 0) {
		if (base64_decode(msg + p->body_off, p->body_len, &raw,
		    &rawlen) == -1) {
			seterr(err, errlen, "bad base64 in the %s/%s part",
			    p->type, p->subtype);
			goto done;
		}
		data = raw;
	} else if (p->encoding != NULL &&
	    strcasecmp(p->encoding, "7bit") != 0 &&
	    strcasecmp(p->encoding, "8bit") != 0 &&
	    strcasecmp(p->encoding, "binary") != 0) {
		seterr(err, errlen, "the %s/%s part is in an unsupported "
		    "transfer encoding", p->type, p->subtype);
		goto done;
	}
	if (dmarc_report_inflate(data, rawlen, &xml, &xmllen, err,
	    errlen) == -1)
		goto done;
	rv = dmarc_report_xml(xml, xmllen, r, err, errlen);
done:
	free(xml);
	free(raw);
	mime_free(m);
	return rv;
}

/* ---------------------------------------------------------------- inflate */

/* What a stream of n compressed bytes may inflate to. */
static size_t
out_cap(size_t n)
{
	size_t	 cap = MIB;

	if (n <= (DMARC_REPORT_XML_MAX - MIB) / DMARC_REPORT_RATIO)
		cap += n * DMARC_REPORT_RATIO;
	else
		cap = DMARC_REPORT_XML_MAX;
	return cap > DMARC_REPORT_XML_MAX ? DMARC_REPORT_XML_MAX : cap;
}

static uint16_t
le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/*
 * Run an initialised stream over in[0..len) to its end, into at most
 * cap bytes; the caller ends the stream.
 */
static int
inflate_buf(z_stream *z, const unsigned char *in, size_t len, size_t cap,
    char **outp, size_t *outlen, char *err, size_t errlen)
{
	char	*out = NULL, *n;
	size_t	 size = 0, o = 0;
	int	 zr;

	z->next_in = (unsigned char *)(uintptr_t)in;
	z->avail_in = len;
	for (;;) {
		if (o + 1 >= size) {
			if (size > cap) {
				seterr(err, errlen, "decompressed report over "
				    "%zu bytes (from %zu): refused", cap, len);
				goto fail;
			}
			size = size ? size * 2 : 65536;
			if (size > cap + 2)
				size = cap + 2;
			if ((n = realloc(out, size)) == NULL)
				fatal("realloc");
			out = n;
		}
		z->next_out = (unsigned char *)out + o;
		z->avail_out = size - 1 - o;
		zr = inflate(z, Z_NO_FLUSH);
		o = size - 1 - z->avail_out;
		if (zr == Z_STREAM_END)
			break;
		if (zr == Z_OK && (z->avail_out == 0 || z->avail_in > 0))
			continue;
		if ((zr == Z_OK || zr == Z_BUF_ERROR) && z->avail_in == 0) {
			seterr(err, errlen, "compressed data cut short");
			goto fail;
		}
		seterr(err, errlen, "corrupt compressed data (%s)",
		    z->msg != NULL ? z->msg : "zlib error");
		goto fail;
	}
	if (o > cap) {
		seterr(err, errlen, "decompressed report over %zu bytes (from "
		    "%zu): refused", cap, len);
		goto fail;
	}
	out[o] = '\0';
	*outp = out;
	*outlen = o;
	return 0;
fail:
	free(out);
	return -1;
}

static int
gunzip(const unsigned char *in, size_t len, char **out, size_t *outlen,
    char *err, size_t errlen)
{
	z_stream	 z;
	int		 rv;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		fatalx("inflateInit2");
	rv = inflate_buf(&z, in, len, out_cap(len), out, outlen, err,
	    errlen);
	inflateEnd(&z);
	return rv;
}

/*
 * The central directory names the members and their sizes, which a
 * local header written in one pass (flag 3) leaves out.  No ZIP64, no
 * encryption, no archive over several disks.
 */
static int
unzip(const unsigned char *in, size_t len, char **out, size_t *outlen,
    char *err, size_t errlen)
{
	const unsigned char	*e = NULL, *l, *pick = NULL;
	z_stream		 z;
	size_t			 i, lo, cdoff, cdsize, nent, nl, dat, c, cdend;
	uint32_t		 csize, usize, crc;
	int			 method, rv;

	if (len < 22 + 46 + 30)
		goto bad;
	for (i = len - 22;; i--) {
		if (le32(in + i) == 0x06054b50 &&
		    i + 22 + le16(in + i + 20) == len) {
			e = in + i;
			break;
		}
		if (i == 0 || len - 22 - i >= 65535)
			break;
	}
	if (e == NULL)
		goto bad;
	nent = le16(e + 10);
	cdsize = le32(e + 12);
	cdoff = le32(e + 16);
	if (le16(e + 4) != 0 || le16(e + 6) != 0 || nent == 0xffff ||
	    cdoff == 0xffffffff) {
		seterr(err, errlen, "zip: multi-disk or ZIP64 archive");
		return -1;
	}
	if (nent == 0 || nent > ZIP_MEMBERS_MAX || cdoff > (size_t)(e - in) ||
	    cdsize > (size_t)(e - in) - cdoff)
		goto bad;
	cdend = cdoff + cdsize;
	for (i = 0, c = cdoff; i < nent; i++) {
		if (cdend - c < 46 || le32(in + c) != 0x02014b50)
			goto bad;
		nl = le16(in + c + 28);
		if (cdend - c - 46 < nl)
			goto bad;
		if (pick == NULL && nl >= 4 && strncasecmp((const char *)in +
		    c + 46 + nl - 4, ".xml", 4) == 0)
			pick = in + c;
		c += 46 + nl + le16(in + c + 30) + le16(in + c + 32);
		if (c > cdend)
			goto bad;
	}
	if (pick == NULL && nent == 1)
		pick = in + cdoff;
	if (pick == NULL) {
		seterr(err, errlen, "zip: no .xml member");
		return -1;
	}
	if (le16(pick + 8) & 0x0001) {
		seterr(err, errlen, "zip: encrypted member");
		return -1;
	}
	method = le16(pick + 10);
	crc = le32(pick + 16);
	csize = le32(pick + 20);
	usize = le32(pick + 24);
	lo = le32(pick + 42);
	if (lo > len - 30 || le32(in + lo) != 0x04034b50)
		goto bad;
	l = in + lo;
	dat = lo + 30 + le16(l + 26) + le16(l + 28);
	if (dat > len || csize > len - dat)
		goto bad;
	if (usize > out_cap(csize)) {
		seterr(err, errlen, "zip: member of %lu bytes (from %lu): "
		    "refused", (unsigned long)usize, (unsigned long)csize);
		return -1;
	}
	if (method == 0) {
		if (csize != usize)
			goto bad;
		if ((*out = malloc((size_t)usize + 1)) == NULL)
			fatal("malloc");
		memcpy(*out, in + dat, usize);
		(*out)[usize] = '\0';
		*outlen = usize;
	} else if (method == 8) {
		memset(&z, 0, sizeof(z));
		if (inflateInit2(&z, -MAX_WBITS) != Z_OK)
			fatalx("inflateInit2");
		rv = inflate_buf(&z, in + dat, csize, out_cap(csize), out,
		    outlen, err, errlen);
		inflateEnd(&z);
		if (rv == -1)
			return -1;
		if (*outlen != usize) {
			free(*out);
			*out = NULL;
			goto bad;
		}
	} else {
		seterr(err, errlen, "zip: compression method %d", method);
		return -1;
	}
	if (crc32(0L, (const Bytef *)*out, *outlen) != crc) {
		free(*out);
		*out = NULL;
		seterr(err, errlen, "zip: CRC mismatch");
		return -1;
	}
	return 0;
bad:
	seterr(err, errlen, "zip: malformed archive");
	return -1;
}

int
dmarc_report_inflate(const unsigned char *in, size_t len, char **out,
    size_t *outlen, char *err, size_t errlen)
{
	*out = NULL;
	*outlen = 0;
	if (len > DMARC_REPORT_MSG_MAX) {
		seterr(err, errlen, "report over %d MiB",
		    DMARC_REPORT_MSG_MAX / MIB);
		return -1;
	}
	if (len >= 2 && in[0] == 0x1f && in[1] == 0x8b)
		return gunzip(in, len, out, outlen, err, errlen);
	if (len >= 4 && memcmp(in, "PK", 2) == 0 &&
	    ((in[2] == 3 && in[3] == 4) || (in[2] == 5 && in[3] == 6)))
		return unzip(in, len, out, outlen, err, errlen);
	if ((*out = malloc(len + 1)) == NULL)
		fatal("malloc");
	memcpy(*out, in, len);
	(*out)[len] = '\0';
	*outlen = len;
	return 0;
}

/* ---------------------------------------------------------------- XML */

static int
xerr(struct xp *x, const char *fmt, ...)
{
	va_list	 ap;
	char	 buf[256];
	size_t	 i, line = 1;

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (i = 0; i < x->pos && i < x->len; i++)
		if (x->s[i] == '\n')
			line++;
	seterr(x->err, x->errlen, "XML line %zu: %s", line, buf);
	return -1;
}

/*
 * Valid UTF-8 without the control characters XML 1.0 forbids (a NUL
 * among them), checked once for the whole text.
 */
static int
xml_chars_ok(struct xp *x)
{
	size_t	 i;

	for (i = 0; i < x->len; i++) {
		if ((unsigned char)x->s[i] < 0x20 && !is_ws(x->s[i])) {
			x->pos = i;
			return xerr(x, "control character 0x%02x",
			    (unsigned char)x->s[i]);
		}
	}
	if (!mailbox_utf8_valid(x->s, x->len))
		return xerr(x, "not valid UTF-8");
	return 0;
}

/* Move past the next occurrence of end; what says what is open. */
static int
xml_skip_to(struct xp *x, const char *end, const char *what)
{
	const char	*p;

	p = memmem(x->s + x->pos, x->len - x->pos, end, strlen(end));
	if (p == NULL)
		return xerr(x, "unterminated %s", what);
	x->pos = p - x->s + strlen(end);
	return 0;
}

/* <?xml ...?>: only UTF-8 (or its subset US-ASCII) is read. */
static int
xml_decl(struct xp *x)
{
	const char	*p, *e, *enc;
	size_t		 start = x->pos;

	if (xml_skip_to(x, "?>", "XML declaration") == -1)
		return -1;
	p = x->s + start;
	e = x->s + x->pos;
	if ((enc = memmem(p, e - p, "encoding", 8)) == NULL)
		return 0;
	for (enc += 8; enc < e && (is_ws(*enc) || *enc == '='); enc++)
		;
	if (enc < e && (*enc == '"' || *enc == '\''))
		enc++;
	if ((size_t)(e - enc) > 5 && strncasecmp(enc, "utf-8", 5) == 0 &&
	    (enc[5] == '"' || enc[5] == '\''))
		return 0;
	if ((size_t)(e - enc) > 8 && strncasecmp(enc, "us-ascii", 8) == 0 &&
	    (enc[8] == '"' || enc[8] == '\''))
		return 0;
	return xerr(x, "encoding other than UTF-8");
}

/* An element or attribute name at x->pos into name. */
static int
xml_name(struct xp *x, char *name)
{
	size_t			 n = 0;
	unsigned char		 c;

	while (x->pos < x->len) {
		c = x->s[x->pos];
		if (!(c >= 0x80 || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
		    (n > 0 && ((c >= '0' && c <= '9') || c == '-' ||
		    c == '.'))))
			break;
		if (n == NAME_MAX_XML)
			return xerr(x, "name too long");
		name[n++] = c;
		x->pos++;
	}
	name[n] = '\0';
	if (n == 0)
		return xerr(x, "name expected");
	return 0;
}

static const char *
local_name(const char *name)
{
	const char	*c = strrchr(name, ':');

	return c != NULL ? c + 1 : name;
}

/* Append code point cp to the collected text, if collecting. */
static void
xml_put(struct xp *x, uint32_t cp, int *over)
{
	unsigned char	 b[4];
	size_t		 n;

	if (cp < 0x80) {
		b[0] = cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = 0xc0 | (cp >> 6);
		b[1] = 0x80 | (cp & 0x3f);
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = 0xe0 | (cp >> 12);
		b[1] = 0x80 | ((cp >> 6) & 0x3f);
		b[2] = 0x80 | (cp & 0x3f);
		n = 3;
	} else {
		b[0] = 0xf0 | (cp >> 18);
		b[1] = 0x80 | ((cp >> 12) & 0x3f);
		b[2] = 0x80 | ((cp >> 6) & 0x3f);
		b[3] = 0x80 | (cp & 0x3f);
		n = 4;
	}
	if (x->tlen + n > DMARC_REPORT_TEXT_MAX) {
		*over = 1;
		return;
	}
	memcpy(x->text + x->tlen, b, n);
	x->tlen += n;
}

/*
 * A reference at s[*i] ('&'): the five predefined entities or a
 * character reference to a character XML allows.  *i moves past ';'.
 */
static int
xml_ref(struct xp *x, size_t *i, uint32_t *cp)
{
	static const struct {
		const char	*name;
		char		 c;
	} ents[] = { { "lt;", '<' }, { "gt;", '>' }, { "amp;", '&' },
	    { "quot;", '"' }, { "apos;", '\'' } };
	const char	*s = x->s;
	size_t		 k, j = *i + 1, nd = 0;
	uint32_t	 v = 0;
	int		 hex, d;

	for (k = 0; k < nitems(ents); k++) {
		if (x->len - j >= strlen(ents[k].name) &&
		    memcmp(s + j, ents[k].name, strlen(ents[k].name)) == 0) {
			*cp = (unsigned char)ents[k].c;
			*i = j + strlen(ents[k].name);
			return 0;
		}
	}
	if (j >= x->len || s[j] != '#')
		goto bad;
	j++;
	hex = j < x->len && s[j] == 'x';
	if (hex)
		j++;
	for (; j < x->len && s[j] != ';'; j++, nd++) {
		if (s[j] >= '0' && s[j] <= '9')
			d = s[j] - '0';
		else if (hex && s[j] >= 'a' && s[j] <= 'f')
			d = s[j] - 'a' + 10;
		else if (hex && s[j] >= 'A' && s[j] <= 'F')
			d = s[j] - 'A' + 10;
		else
			goto bad;
		if (nd >= 8)
			goto bad;
		v = v * (hex ? 16 : 10) + d;
	}
	if (j >= x->len || nd == 0)
		goto bad;
	if (!(v == 0x9 || v == 0xa || v == 0xd || (v >= 0x20 && v <= 0xd7ff) ||
	    (v >= 0xe000 && v <= 0xfffd) || (v >= 0x10000 && v <= 0x10ffff)))
		goto bad;
	*cp = v;
	*i = j + 1;
	return 0;
bad:
	x->pos = *i;
	return xerr(x, "bad or unknown reference (no DTD entities here)");
}

/*
 * Character data s[from..to): references decoded; collected when the
 * open element is a known leaf (collect), else only checked.
 */
static int
xml_text(struct xp *x, size_t from, size_t to, int collect)
{
	size_t		 i = from;
	uint32_t	 cp = 0;
	int		 over = 0;

	while (i < to) {
		if (x->s[i] == '&') {
			if (xml_ref(x, &i, &cp) == -1)
				return -1;
			if (i > to) {
				x->pos = from;
				return xerr(x, "reference cut by markup");
			}
			if (collect)
				xml_put(x, cp, &over);
			continue;
		}
		if (collect) {
			if (x->tlen == DMARC_REPORT_TEXT_MAX)
				over = 1;
			else
				x->text[x->tlen++] = x->s[i];
		}
		i++;
	}
	if (over) {
		x->pos = from;
		return xerr(x, "text of <%s> over %d bytes",
		    x->name[x->depth], DMARC_REPORT_TEXT_MAX);
	}
	return 0;
}

/* An attribute value at x->pos, quoted; checked, not kept. */
static int
xml_attr_value(struct xp *x)
{
	const char	*e;
	char		 q;
	size_t		 start;

	if (x->pos >= x->len || (x->s[x->pos] != '"' && x->s[x->pos] != '\''))
		return xerr(x, "attribute value must be quoted");
	q = x->s[x->pos++];
	start = x->pos;
	if ((e = memchr(x->s + start, q, x->len - start)) == NULL)
		return xerr(x, "unterminated attribute value");
	if (memchr(x->s + start, '<', e - (x->s + start)) != NULL)
		return xerr(x, "'<' in an attribute value");
	if (xml_text(x, start, e - x->s, 0) == -1)
		return -1;
	x->pos = e - x->s + 1;
	return 0;
}

/* A start tag, x->pos after '<'. */
static int
xml_start(struct xp *x)
{
	char		 name[NAME_MAX_XML + 1], attr[NAME_MAX_XML + 1];
	enum node	 parent, n = N_SKIP;
	size_t		 k;
	int		 empty = 0;

	if (xml_name(x, name) == -1)
		return -1;
	for (;;) {
		k = x->pos;
		while (x->pos < x->len && is_ws(x->s[x->pos]))
			x->pos++;
		if (x->pos >= x->len)
			return xerr(x, "unterminated tag <%s>", name);
		if (x->s[x->pos] == '>') {
			x->pos++;
			break;
		}
		if (x->s[x->pos] == '/') {
			if (x->pos + 1 >= x->len || x->s[x->pos + 1] != '>')
				return xerr(x, "bad tag <%s>", name);
			x->pos += 2;
			empty = 1;
			break;
		}
		if (k == x->pos)
			return xerr(x, "white space expected in <%s>", name);
		if (xml_name(x, attr) == -1)
			return -1;
		while (x->pos < x->len && is_ws(x->s[x->pos]))
			x->pos++;
		if (x->pos >= x->len || x->s[x->pos] != '=')
			return xerr(x, "'=' expected after %s", attr);
		x->pos++;
		while (x->pos < x->len && is_ws(x->s[x->pos]))
			x->pos++;
		if (xml_attr_value(x) == -1)
			return -1;
	}
	if (x->depth == 0 && x->root_done)
		return xerr(x, "a second root element <%s>", name);
	if (x->depth == DMARC_REPORT_DEPTH_MAX)
		return xerr(x, "elements nested over %d deep",
		    DMARC_REPORT_DEPTH_MAX);
	parent = x->node[x->depth];
	if (parent != N_SKIP && nodes[parent].leaf)
		return xerr(x, "<%s> inside <%s>", name, x->name[x->depth]);
	if (parent != N_SKIP) {
		for (k = N_FEEDBACK; k < N_SKIP; k++)
			if (nodes[k].parent == parent &&
			    strcmp(nodes[k].name, local_name(name)) == 0)
				n = k;
	}
	if (x->depth == 0 && n != N_FEEDBACK)
		return xerr(x, "root element <%s>, not <feedback>: not a "
		    "DMARC aggregate report", name);
	x->depth++;
	x->node[x->depth] = n;
	memcpy(x->name[x->depth], name, sizeof(name));
	x->tlen = 0;
	if (open_node(x, n) == -1)
		return -1;
	if (empty)
		return close_node(x, n);
	return 0;
}

/* An end tag, x->pos after "</". */
static int
xml_end(struct xp *x)
{
	char	 name[NAME_MAX_XML + 1];

	if (xml_name(x, name) == -1)
		return -1;
	while (x->pos < x->len && is_ws(x->s[x->pos]))
		x->pos++;
	if (x->pos >= x->len || x->s[x->pos] != '>')
		return xerr(x, "bad end tag </%s>", name);
	x->pos++;
	if (x->depth == 0)
		return xerr(x, "end tag </%s> without a start", name);
	if (strcmp(name, x->name[x->depth]) != 0)
		return xerr(x, "</%s> ends <%s>", name, x->name[x->depth]);
	return close_node(x, x->node[x->depth]);
}

static int
open_node(struct xp *x, enum node n)
{
	struct dmarc_report		*r = x->r;
	struct dmarc_report_row		*row, *nr;
	struct dmarc_report_auth	*na;

	switch (n) {
	case N_RECORD:
		if (r->nrows == DMARC_REPORT_ROWS_MAX)
			return xerr(x, "over %d records",
			    DMARC_REPORT_ROWS_MAX);
		if (r->nrows == x->rowcap) {
			x->rowcap = x->rowcap ? x->rowcap * 2 : 16;
			if ((nr = reallocarray(r->rows, x->rowcap,
			    sizeof(*nr))) == NULL)
				fatal("reallocarray");
			r->rows = nr;
		}
		memset(&r->rows[r->nrows++], 0, sizeof(*r->rows));
		x->row_seen = 0;
		break;
	case N_ADKIM:
	case N_ASPF:
		row = &r->rows[r->nrows - 1];
		if (row->nauth == DMARC_REPORT_AUTH_MAX)
			return xerr(x, "over %d auth_results in a record",
			    DMARC_REPORT_AUTH_MAX);
		if ((na = reallocarray(row->auth, row->nauth + 1,
		    sizeof(*na))) == NULL)
			fatal("reallocarray");
		row->auth = na;
		memset(&na[row->nauth], 0, sizeof(*na));
		na[row->nauth].spf = n == N_ASPF;
		row->nauth++;
		x->auth_seen = 0;
		break;
	default:
		break;
	}
	return 0;
}

static int
close_node(struct xp *x, enum node n)
{
	struct dmarc_report		*r = x->r;
	struct dmarc_report_row		*row;
	struct dmarc_report_auth	*a;

	x->depth--;
	if (n != N_SKIP && nodes[n].leaf)
		return close_leaf(x, n);
	switch (n) {
	case N_FEEDBACK:
		x->root_done = 1;
		if ((x->seen & REPORT_NEED) != REPORT_NEED)
			return xerr(x, "report without %s",
			    !(x->seen & BIT(N_ORG)) ? "org_name" :
			    !(x->seen & BIT(N_RID)) ? "report_id" :
			    (~x->seen & (BIT(N_BEGIN) | BIT(N_END))) ?
			    "date_range" : !(x->seen & BIT(N_PDOMAIN)) ?
			    "policy_published domain" : "policy_published p");
		if (r->begin > r->end)
			return xerr(x, "date_range begins after its end");
		if (r->email == NULL)
			r->email = xstrdup("");
		break;
	case N_RECORD:
		row = &r->rows[r->nrows - 1];
		if ((x->row_seen & ROW_NEED) != ROW_NEED)
			return xerr(x, "record %zu without %s", r->nrows,
			    !(x->row_seen & BIT(N_IP)) ? "source_ip" :
			    !(x->row_seen & BIT(N_COUNT)) ? "count" :
			    !(x->row_seen & BIT(N_DISP)) ? "disposition" :
			    (~x->row_seen & (BIT(N_EDKIM) | BIT(N_ESPF))) ?
			    "policy_evaluated dkim or spf" : "header_from");
		break;
	case N_ADKIM:
	case N_ASPF:
		row = &r->rows[r->nrows - 1];
		a = &row->auth[row->nauth - 1];
		if (!(x->auth_seen & (BIT(N_ADKIM_RES) | BIT(N_ASPF_RES))))
			return xerr(x, "auth_results %s without result",
			    a->spf ? "spf" : "dkim");
		if (a->domain == NULL)
			a->domain = xstrdup("");
		break;
	default:
		break;
	}
	return 0;
}

/* Digits only, at most maxd of them. */
static int
parse_u64(const char *s, unsigned int maxd, uint64_t *v)
{
	unsigned int	 n = 0;

	*v = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (++n > maxd)
			return -1;
		*v = *v * 10 + (uint64_t)(*s - '0');
	}
	return n == 0 || *s != '\0' ? -1 : 0;
}

/* The text of a known leaf, trimmed, into the report. */
static int
close_leaf(struct xp *x, enum node n)
{
	static const char *const pol[] = { "none", "quarantine", "reject",
	    NULL };
	static const char *const disp[] = { "none", "quarantine", "reject",
	    "pass", NULL };
	static const char *const pf[] = { "pass", "fail", NULL };
	struct dmarc_report		*r = x->r;
	struct dmarc_report_row		*row = NULL;
	struct dmarc_report_auth	*a = NULL;
	struct in6_addr			 a6;
	uint64_t			*seen, v;
	char				*t = x->text, *e;
	const char			*what = nodes[n].name;
	size_t				 i;

	x->text[x->tlen] = '\0';
	while (is_ws(*t))
		t++;
	for (e = t + strlen(t); e > t && is_ws(e[-1]); e--)
		;
	*e = '\0';
	if (n >= N_RECORD) {
		row = &r->rows[r->nrows - 1];
		seen = &x->row_seen;
		if (n >= N_ADKIM) {
			a = &row->auth[row->nauth - 1];
			seen = &x->auth_seen;
		}
	} else
		seen = &x->seen;
	if (*seen & BIT(n))
		return xerr(x, "<%s> twice", what);
	*seen |= BIT(n);
	if (n == N_DISP || n == N_EDKIM || n == N_ESPF || n == N_P ||
	    n == N_ADKIM_RES || n == N_ASPF_RES)
		for (i = 0; t[i] != '\0'; i++)
			if (t[i] >= 'A' && t[i] <= 'Z')
				t[i] += 'a' - 'A';
	switch (n) {
	case N_ORG:
		if (*t == '\0')
			return xerr(x, "empty org_name");
		r->org_name = xstrdup(t);
		break;
	case N_EMAIL:
		r->email = xstrdup(t);
		break;
	case N_RID:
		if (*t == '\0')
			return xerr(x, "empty report_id");
		r->report_id = xstrdup(t);
		break;
	case N_BEGIN:
	case N_END:
		if (parse_u64(t, 15, &v) == -1)
			return xerr(x, "<%s> is not a time: \"%.40s\"", what,
			    t);
		*(n == N_BEGIN ? &r->begin : &r->end) = (int64_t)v;
		break;
	case N_PDOMAIN:
		if (psl_normalize(t, r->domain, sizeof(r->domain)) == -1)
			return xerr(x, "policy domain \"%.80s\" is not a "
			    "domain name", t);
		break;
	case N_P:
		if (!word_in(t, pol))
			return xerr(x, "p \"%.40s\" is not a policy", t);
		(void)strlcpy(r->p, t, sizeof(r->p));
		break;
	case N_IP:
		if (inet_pton(AF_INET, t, &a6) == 1)
			(void)inet_ntop(AF_INET, &a6, row->source_ip,
			    sizeof(row->source_ip));
		else if (inet_pton(AF_INET6, t, &a6) == 1)
			(void)inet_ntop(AF_INET6, &a6, row->source_ip,
			    sizeof(row->source_ip));
		else
			return xerr(x, "source_ip \"%.60s\" is not an IP "
			    "address", t);
		break;
	case N_COUNT:
		if (parse_u64(t, 12, &row->count) == -1)
			return xerr(x, "count \"%.40s\" is not a number", t);
		break;
	case N_DISP:
		if (!word_in(t, disp))
			return xerr(x, "disposition \"%.40s\" unknown", t);
		(void)strlcpy(row->disposition, strcmp(t, "pass") == 0 ?
		    "none" : t, sizeof(row->disposition));
		break;
	case N_EDKIM:
	case N_ESPF:
		if (!word_in(t, pf))
			return xerr(x, "policy_evaluated %s \"%.40s\" is not "
			    "pass or fail", what, t);
		*(n == N_EDKIM ? &row->dkim_pass : &row->spf_pass) =
		    strcmp(t, "pass") == 0;
		break;
	case N_HFROM:
		row->header_from = xstrdup(t);
		break;
	case N_ADKIM_DOM:
	case N_ASPF_DOM:
		a->domain = xstrdup(t);
		break;
	case N_ADKIM_RES:
	case N_ASPF_RES:
		for (i = 0; t[i] >= 'a' && t[i] <= 'z'; i++)
			;
		if (i == 0 || t[i] != '\0' || i >= sizeof(a->result))
			return xerr(x, "auth result \"%.40s\" unknown", t);
		(void)strlcpy(a->result, t, sizeof(a->result));
		break;
	default:
		break;
	}
	return 0;
}

int
dmarc_report_xml(const char *xml, size_t len, struct dmarc_report *r,
    char *err, size_t errlen)
{
	struct xp	*x;
	const char	*lt;
	size_t		 end;
	int		 rv = -1, leaf;

	memset(r, 0, sizeof(*r));
	if ((x = calloc(1, sizeof(*x))) == NULL)
		fatal("calloc");
	x->s = xml;
	x->len = len;
	x->r = r;
	x->err = err;
	x->errlen = errlen;
	x->node[0] = N_TOP;
	if (len > DMARC_REPORT_XML_MAX) {
		xerr(x, "over %d MiB of XML", DMARC_REPORT_XML_MAX / MIB);
		goto done;
	}
	if (len >= 3 && memcmp(xml, "\xef\xbb\xbf", 3) == 0)
		x->pos = 3;
	if (xml_chars_ok(x) == -1)
		goto done;
	if (x->len - x->pos >= 5 && memcmp(xml + x->pos, "<?xml", 5) == 0 &&
	    x->len - x->pos > 5 && is_ws(xml[x->pos + 5]) &&
	    xml_decl(x) == -1)
		goto done;
	while (x->pos < x->len) {
		if (xml[x->pos] != '<') {
			lt = memchr(xml + x->pos, '<', x->len - x->pos);
			end = lt != NULL ? (size_t)(lt - xml) : x->len;
			leaf = x->node[x->depth] != N_SKIP &&
			    nodes[x->node[x->depth]].leaf;
			if (x->depth == 0) {
				for (; x->pos < end && is_ws(xml[x->pos]);
				    x->pos++)
					;
				if (x->pos < end) {
					xerr(x, "text outside the root "
					    "element");
					goto done;
				}
			} else if (xml_text(x, x->pos, end, leaf) == -1)
				goto done;
			x->pos = end;
			continue;
		}
		if (x->len - x->pos >= 4 &&
		    memcmp(xml + x->pos, "<!--", 4) == 0) {
			x->pos += 4;
			if (xml_skip_to(x, "-->", "comment") == -1)
				goto done;
		} else if (x->len - x->pos >= 9 &&
		    memcmp(xml + x->pos, "<![CDATA[", 9) == 0) {
			size_t	 from = x->pos + 9;

			if (x->depth == 0) {
				xerr(x, "CDATA outside the root element");
				goto done;
			}
			x->pos = from;
			if (xml_skip_to(x, "]]>", "CDATA section") == -1)
				goto done;
			if (x->node[x->depth] != N_SKIP &&
			    nodes[x->node[x->depth]].leaf) {
				if (x->tlen + (x->pos - 3 - from) >
				    DMARC_REPORT_TEXT_MAX) {
					xerr(x, "text over %d bytes",
					    DMARC_REPORT_TEXT_MAX);
					goto done;
				}
				memcpy(x->text + x->tlen, xml + from,
				    x->pos - 3 - from);
				x->tlen += x->pos - 3 - from;
			}
		} else if (x->len - x->pos >= 2 &&
		    memcmp(xml + x->pos, "<!", 2) == 0) {
			xerr(x, "DOCTYPE or markup declaration: not allowed");
			goto done;
		} else if (x->len - x->pos >= 2 &&
		    memcmp(xml + x->pos, "<?", 2) == 0) {
			x->pos += 2;
			if (xml_skip_to(x, "?>", "processing instruction") ==
			    -1)
				goto done;
		} else if (x->len - x->pos >= 2 && xml[x->pos + 1] == '/') {
			x->pos += 2;
			if (xml_end(x) == -1)
				goto done;
		} else {
			x->pos++;
			if (xml_start(x) == -1)
				goto done;
		}
	}
	if (x->depth > 0)
		xerr(x, "document ends inside <%s>", x->name[x->depth]);
	else if (!x->root_done)
		xerr(x, "no root element");
	else
		rv = 0;
done:
	free(x);
	if (rv == -1)
		dmarc_report_free(r);
	return rv;
}

void
dmarc_report_free(struct dmarc_report *r)
{
	size_t	 i, j;

	for (i = 0; i < r->nrows; i++) {
		for (j = 0; j < r->rows[i].nauth; j++)
			free(r->rows[i].auth[j].domain);
		free(r->rows[i].auth);
		free(r->rows[i].header_from);
	}
	free(r->rows);
	free(r->org_name);
	free(r->email);
	free(r->report_id);
	memset(r, 0, sizeof(*r));
}
