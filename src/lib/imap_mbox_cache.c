/*
 * What the open mailboxes know of each message's content: sizes,
 * internal dates, the rendered ENVELOPE/BODY/BODYSTRUCTURE, the header
 * blocks kept for SEARCH, the keys of SORT and THREAD, a small LRU of
 * the contents of recently read messages, and the maild-cache file that
 * keeps sizes, dates, renderings, sort keys and the expunge history
 * across openings.
 *
 * maild-cache (never authoritative, rewritten at most every
 * MBOX_CACHE_DELAY seconds and when the last reference goes away):
 *	maild-cache 2 V<uidvalidity> M<highestmodseq> F<floor> X<n> C<n>
 *	    P<n> [K<n>]				(one line)
 *	X<uid> <modseq>				(expunge history)
 *	E<uid> <state> <size> <date> <len>	(then len bytes and "\n")
 *	P<uid> <len>				(then len bytes and "\n")
 *	K<uid> <len>				(then len bytes and "\n")
 * The len bytes of E are ENVELOPE, BODY and BODYSTRUCTURE separated by
 * NUL bytes (len 0: not rendered yet); those of P a PREVIEW text (UTF-8,
 * no control characters); those of K the sort keys (imap_sort.h; a blob
 * of another version is skipped, made again on use).  Version 1 (no P)
 * is read too.  Any other error discards the whole file;
 * a different UIDVALIDITY too; the expunge history is only believed
 * when M equals the UID list's HIGHESTMODSEQ (nothing happened since).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "imap_mbox.h"
#include "imap_mbox_priv.h"
#include "imap_sort.h"
#include "log.h"
#include "maild.h"
#include "mime.h"
#include "safepath.h"
#include "uidlist.h"
#include "util.h"

#define MBOX_HEADER_MAX		(256 * 1024)	/* a header, for SEARCH */
#define MBOX_HDRCACHE_MAX	(64 * 1024 * 1024)	/* headers kept */
#define MBOX_HDRCACHE_ONE	(16 * 1024)	/* a header worth keeping */
#define MBOX_LRU_MSGS		4	/* contents kept by mbox_read() */
#define MBOX_LRU_BYTES		(16 * 1024 * 1024)
#define MBOX_CACHE_MAGIC	"maild-cache"
#define MBOX_CACHE_VERSION	2
#define MBOX_PREVIEW_MAX	(MIME_PREVIEW_CHARS * 4)	/* bytes */
#define MBOX_CACHE_MAX		(256 * 1024 * 1024)	/* file read */
#define MBOX_CACHE_ENTRY_MAX	(1024 * 1024)	/* a message's renderings */
#define MBOX_W_MAX		((uint64_t)MBOX_READ_MAX * 2)

/* An entry of the read LRU; m is only compared, never dereferenced. */
struct lru {
	const struct mbox	*m;
	uint32_t		 uid;
	char			*data;
	size_t			 len;
	struct mime_msg		*mime;
	unsigned long		 tick;
};

static int	 w_hint(const char *, size_t, uint64_t *);
static int	 crlf_size(int, uint64_t *);
static struct lru *lru_find(const struct mbox *, uint32_t);
static void	 lru_drop(struct lru *);
static void	 lru_insert(const struct mbox *, uint32_t, char *, size_t,
		    struct mime_msg *);
static size_t	 header_end(const char *, size_t);
static int	 header_get(struct mbox *, uint32_t, const char **, size_t *,
		    int);
static const char *cache_get(struct mbox *, uint32_t, int);
static int	 parse_u64(const char **, const char *, uint64_t, uint64_t *);
static int	 cache_parse(struct mbox *, const char *, size_t, int);
static int	 preview_valid(const char *, size_t);

static struct lru	 lrus[MBOX_LRU_MSGS];
static unsigned long	 lru_tick;

/* Dovecot's ",W=<n>" (size with CRLF) in a base name: 1 and *size. */
static int
w_hint(const char *base, size_t len, uint64_t *size)
{
	const char	*p, *end = base + len;
	uint64_t	 v = 0;

	for (p = base; p + 3 < end; p++) {
		if (memcmp(p, ",W=", 3) != 0)
			continue;
		for (p += 3; p < end && *p >= '0' && *p <= '9'; p++) {
			v = v * 10 + (uint64_t)(*p - '0');
			if (v > MBOX_W_MAX)
				return 0;
		}
		if (p < end && *p != ',')
			return 0;
		*size = v;
		return 1;
	}
	return 0;
}

/* RFC822.SIZE of the file on fd: a bare LF counts as CRLF. */
static int
crlf_size(int fd, uint64_t *size)
{
	static char	 buf[MBOX_CHUNK];
	uint64_t	 n = 0;
	ssize_t		 r, i;
	char		 prev = '\0';

	for (;;) {
		if ((r = read(fd, buf, sizeof(buf))) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		for (i = 0; i < r; i++) {
			if (buf[i] == '\n' && prev != '\r')
				n++;
			prev = buf[i];
		}
		n += r;
	}
	*size = n;
	return 0;
}

/* An O_RDONLY fd of message idx's file (for the queue), or -1. */
int
mbox_msg_fd(struct mbox *m, uint32_t idx)
{
	struct stat	 st;

	if (idx >= m->n) {
		errno = EINVAL;
		return -1;
	}
	return mbox_msg_open(m, idx, &st);
}

int
mbox_size(struct mbox *m, uint32_t idx, uint64_t *size)
{
	struct mpriv	*p;
	struct stat	 st;
	uint64_t	 v;
	int		 fd, r, saved;

	if (idx >= m->n) {
		errno = EINVAL;
		return -1;
	}
	p = &m->priv[idx];
	if (p->state & MP_SIZE) {
		*size = p->size;
		return 0;
	}
	if (w_hint(p->file + 4, p->baselen, &v)) {
		p->size = v;
		p->state |= MP_SIZE;
		*size = v;
		return 0;
	}
	if ((fd = mbox_msg_open(m, idx, &st)) == -1)
		return -1;
	r = crlf_size(fd, &v);
	saved = errno;
	close(fd);
	if (r == -1) {
		errno = saved;
		return -1;
	}
	p = &m->priv[idx];
	p->size = v;
	p->state |= MP_SIZE;
	if (!(p->state & MP_DATE) && st.st_mtime >= 0) {
		p->date = st.st_mtime;
		p->state |= MP_DATE;
	}
	m->cache_dirty = 1;
	*size = v;
	return 0;
}

int
mbox_date(struct mbox *m, uint32_t idx, time_t *date)
{
	struct mpriv	*p;
	struct stat	 st;
	char		 path[PATH_MAX];
	int		 tries;

	if (idx >= m->n) {
		errno = EINVAL;
		return -1;
	}
	p = &m->priv[idx];
	if (p->state & MP_DATE) {
		*date = (time_t)p->date;
		return 0;
	}
	for (tries = 0; ; tries++) {
		if (mbox_msg_path(m, idx, path, sizeof(path)) == -1)
			return -1;
		if (safe_lstat(path, &st) == 0)
			break;
		if (errno != ENOENT) {
			log_warn("%s", path);
			return -1;
		}
		if (tries > 0 || mbox_relocate(m, idx) != 1) {
			errno = ENOENT;
			return -1;
		}
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s: not a regular file, refused", path);
		errno = EPERM;
		return -1;
	}
	p = &m->priv[idx];
	*date = st.st_mtime;
	if (st.st_mtime >= 0) {
		p->date = st.st_mtime;
		p->state |= MP_DATE;
		m->cache_dirty = 1;
	}
	return 0;
}

static struct lru *
lru_find(const struct mbox *m, uint32_t uid)
{
	size_t	 i;

	for (i = 0; i < nitems(lrus); i++)
		if (lrus[i].data != NULL && lrus[i].m == m &&
		    lrus[i].uid == uid)
			return &lrus[i];
	return NULL;
}

static void
lru_drop(struct lru *l)
{
	mime_free(l->mime);
	free(l->data);
	memset(l, 0, sizeof(*l));
}

/* Keep at most MBOX_LRU_MSGS messages and MBOX_LRU_BYTES (plus this). */
static void
lru_insert(const struct mbox *m, uint32_t uid, char *data, size_t len,
    struct mime_msg *mime)
{
	struct lru	*l, *old;
	size_t		 i, bytes;

	for (;;) {
		bytes = 0;
		l = old = NULL;
		for (i = 0; i < nitems(lrus); i++) {
			if (lrus[i].data == NULL) {
				l = &lrus[i];
				continue;
			}
			bytes += lrus[i].len;
			if (old == NULL || lrus[i].tick < old->tick)
				old = &lrus[i];
		}
		if (old == NULL || (l != NULL && bytes + len <=
		    MBOX_LRU_BYTES))
			break;
		lru_drop(old);
	}
	l->m = m;
	l->uid = uid;
	l->data = data;
	l->len = len;
	l->mime = mime;
	l->tick = ++lru_tick;
}

/* Forget what was read of m: everything (all) or one uid. */
void
mbox_lru_purge(const struct mbox *m, int all, uint32_t uid)
{
	size_t	 i;

	for (i = 0; i < nitems(lrus); i++)
		if (lrus[i].data != NULL && lrus[i].m == m &&
		    (all || lrus[i].uid == uid))
			lru_drop(&lrus[i]);
}

/* Length of the header block of buf, blank line included; 0 if none. */
static size_t
header_end(const char *buf, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (buf[i] == '\n' && ((i + 1 < len && buf[i + 1] == '\n') ||
		    (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')))
			return buf[i + 1] == '\n' ? i + 2 : i + 3;
	return 0;
}

/*
 * The header of message idx (CRLF line ends, blank line included, or
 * all of a message without a body, up to MBOX_HEADER_MAX), read from
 * the start of its file only: SEARCH on header fields need not read
 * whole messages.  Valid until the next call.  0 or -1.
 */
int
mbox_header(struct mbox *m, uint32_t idx, const char **datap, size_t *lenp)
{
	return header_get(m, idx, datap, lenp, 1);
}

/* The header as mbox_header(); keep: hold it for the next SEARCH. */
static int
header_get(struct mbox *m, uint32_t idx, const char **datap, size_t *lenp,
    int keep)
{
	static char	*hbuf, *cbuf;
	static size_t	 hsize, csize;
	struct stat	 st;
	struct lru	*l;
	size_t		 len = 0, end = 0, i, o;
	ssize_t		 n;
	int		 fd, saved;

	if (idx >= m->n) {
		errno = EINVAL;
		return -1;
	}
	if (m->priv[idx].hdr != NULL) {
		*datap = m->priv[idx].hdr;
		*lenp = m->priv[idx].hdrlen;
		return 0;
	}
	if ((l = lru_find(m, m->msgs[idx].uid)) != NULL) {
		*datap = l->data;
		*lenp = (end = header_end(l->data, l->len)) ? end : l->len;
		return 0;
	}
	if ((fd = mbox_msg_open(m, idx, &st)) == -1)
		return -1;
	if (hbuf == NULL) {
		hsize = 8192;
		if ((hbuf = malloc(hsize)) == NULL)
			fatal("malloc");
	}
	for (;;) {
		if (len == hsize) {
			if (hsize >= MBOX_HEADER_MAX)
				break;
			if ((hbuf = realloc(hbuf, hsize * 2)) == NULL)
				fatal("realloc");
			hsize *= 2;
		}
		if ((n = read(fd, hbuf + len, hsize - len)) == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		/* Look again from just before the new bytes. */
		i = len > 2 ? len - 2 : 0;
		len += n;
		if ((end = header_end(hbuf + i, len - i)) != 0) {
			end += i;
			break;
		}
	}
	close(fd);
	if (end != 0)
		len = end;
	/* Dovecot stores LF; IMAP speaks CRLF.  A lone CR stays. */
	if (csize < 2 * len + 1) {
		csize = 2 * len + 1;
		if ((cbuf = realloc(cbuf, csize)) == NULL)
			fatal("realloc");
	}
	for (i = 0, o = 0; i < len; i++) {
		if (hbuf[i] == '\n' && (i == 0 || hbuf[i - 1] != '\r'))
			cbuf[o++] = '\r';
		cbuf[o++] = hbuf[i];
	}
	cbuf[o] = '\0';
	*datap = cbuf;
	*lenp = o;
	/*
	 * Kept for the next SEARCH, as Dovecot keeps header fields in its
	 * cache; bounded per mailbox, and a header never changes.
	 */
	if (keep && o <= MBOX_HDRCACHE_ONE &&
	    m->hdrbytes + o <= MBOX_HDRCACHE_MAX) {
		if ((m->priv[idx].hdr = malloc(o + 1)) == NULL)
			fatal("malloc");
		memcpy(m->priv[idx].hdr, cbuf, o + 1);
		m->priv[idx].hdrlen = o;
		m->hdrbytes += o;
		*datap = m->priv[idx].hdr;
	}
	return 0;
}

int
mbox_read(struct mbox *m, uint32_t idx, const char **datap, size_t *lenp,
    const struct mime_msg **mimep)
{
	struct stat	 st;
	struct lru	*l;
	struct mpriv	*p;
	struct mime_msg	*mime;
	char		*buf, *out;
	size_t		 len, bare = 0, i, o;
	int		 fd, saved;

	if (idx >= m->n) {
		errno = EINVAL;
		return -1;
	}
	if ((l = lru_find(m, m->msgs[idx].uid)) != NULL) {
		l->tick = ++lru_tick;
		*datap = l->data;
		*lenp = l->len;
		*mimep = l->mime;
		return 0;
	}
	if ((fd = mbox_msg_open(m, idx, &st)) == -1)
		return -1;
	if (st.st_size > MBOX_READ_MAX) {
		log_warnx("%s/%s: larger than %d bytes", m->dir,
		    m->priv[idx].file, MBOX_READ_MAX);
		close(fd);
		errno = EFBIG;
		return -1;
	}
	buf = read_fd(fd, MBOX_READ_MAX, &len);
	saved = errno;
	close(fd);
	if (buf == NULL) {
		errno = saved;
		return -1;
	}
	for (i = 0; i < len; i++)
		if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
			bare++;
	if (bare > 0) {
		/* Dovecot stores LF; IMAP speaks CRLF.  A lone CR stays. */
		if ((out = malloc(len + bare + 1)) == NULL)
			fatal("malloc");
		for (i = 0, o = 0; i < len; i++) {
			if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
				out[o++] = '\r';
			out[o++] = buf[i];
		}
		out[o] = '\0';
		free(buf);
		buf = out;
		len = o;
	}
	p = &m->priv[idx];
	if (!(p->state & MP_SIZE) || p->size != len) {
		p->size = len;
		p->state |= MP_SIZE;
		m->cache_dirty = 1;
	}
	if (!(p->state & MP_DATE) && st.st_mtime >= 0) {
		p->date = st.st_mtime;
		p->state |= MP_DATE;
		m->cache_dirty = 1;
	}
	mime = mime_parse(buf, len);
	lru_insert(m, m->msgs[idx].uid, buf, len, mime);
	*datap = buf;
	*lenp = len;
	*mimep = mime;
	return 0;
}

/* Rendering which (0 ENVELOPE, 1 BODY, 2 BODYSTRUCTURE) of idx. */
static const char *
cache_get(struct mbox *m, uint32_t idx, int which)
{
	const struct mime_msg	*mime;
	struct mbuf		 b = { NULL, 0, 0 };
	const char		*data, *s;
	size_t			 len, i, nul = 0;

	if (idx >= m->n) {
		errno = EINVAL;
		return NULL;
	}
	if (m->priv[idx].cache == NULL) {
		if (mbox_read(m, idx, &data, &len, &mime) == -1)
			return NULL;
		mime_envelope(&b, data + mime->root->hdr_off,
		    mime->root->hdr_len);
		mbuf_add(&b, "", 1);
		mime_bodystructure(&b, mime, 0);
		mbuf_add(&b, "", 1);
		mime_bodystructure(&b, mime, 1);
		for (i = 0; i < b.len; i++)
			if (b.data[i] == '\0')
				nul++;
		if (nul != 2) {
			/* Cannot happen (values lose their NULs). */
			log_warnx("%s/%s: NUL in a rendering", m->dir,
			    m->priv[idx].file);
			mbuf_free(&b);
			errno = EINVAL;
			return NULL;
		}
		m->priv[idx].cache = b.data;
		m->cache_dirty = 1;
	}
	s = m->priv[idx].cache;
	while (which-- > 0)
		s += strlen(s) + 1;
	return s;
}

/* Bytes of a cache blob: three strings, the two NULs between them. */
size_t
mbox_cache_len(const char *c)
{
	size_t	 l;

	l = strlen(c) + 1;
	l += strlen(c + l) + 1;
	return l + strlen(c + l);
}

const char *
mbox_envelope(struct mbox *m, uint32_t idx)
{
	return cache_get(m, idx, 0);
}

const char *
mbox_bodystructure(struct mbox *m, uint32_t idx, int ext)
{
	return cache_get(m, idx, ext ? 2 : 1);
}

const struct sort_keys *
mbox_sortkeys(struct mbox *m, uint32_t idx)
{
	const struct sort_blob	*sb;

	return (sb = mbox_sortblob(m, idx)) != NULL ? &sb->k : NULL;
}

const struct sort_blob *
mbox_sortblob(struct mbox *m, uint32_t idx)
{
	struct sort_blob	*sb;
	const char		*hdr;
	size_t			 hlen, len;
	time_t			 date;
	char			*k;

	if (idx >= m->n) {
		errno = EINVAL;
		return NULL;
	}
	if ((sb = m->priv[idx].sortkeys) != NULL)
		return sb;
	/*
	 * The keys are kept, the header need not be: a SORT of a whole
	 * mailbox must not fill the header cache SEARCH uses.
	 */
	if (mbox_date(m, idx, &date) == -1 ||
	    header_get(m, idx, &hdr, &hlen, 0) == -1)
		return NULL;
	k = sort_keys_make(hdr, hlen, date, &len);
	sb = sort_blob_new(k, len);
	free(k);
	if (sb == NULL) {
		log_warnx("%s/%s: sort keys that do not parse", m->dir,
		    m->priv[idx].file);
		errno = EINVAL;
		return NULL;
	}
	m->priv[idx].sortkeys = sb;
	m->cache_dirty = 1;
	return sb;
}

/*
 * LAZY (RFC 8970 3.2): NIL unless known, or cheap now because the
 * message was just read (another item of the same FETCH needed it).
 */
int
mbox_preview(struct mbox *m, uint32_t idx, int lazy, const char **out)
{
	const struct mime_msg	*mime;
	const char		*data;
	size_t			 len;

	if (idx >= m->n) {
		errno = EINVAL;
		return -1;
	}
	if (m->priv[idx].preview == NULL) {
		if (lazy && lru_find(m, m->msgs[idx].uid) == NULL)
			return 0;
		if (mbox_read(m, idx, &data, &len, &mime) == -1)
			return -1;
		m->priv[idx].preview = mime_preview(mime);
		m->cache_dirty = 1;
	}
	*out = m->priv[idx].preview;
	return 1;
}

/* What mime_preview() makes, and nothing that would break a line. */
static int
preview_valid(const char *p, size_t len)
{
	size_t	 i;

	if (len > MBOX_PREVIEW_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return 0;
	return 1;
}

/* Decimal at *pp, no sign or leading zero, at most max: 0 or -1. */
static int
parse_u64(const char **pp, const char *end, uint64_t max, uint64_t *out)
{
	const char	*p = *pp;
	uint64_t	 v = 0;

	if (p >= end || *p < '0' || *p > '9' ||
	    (*p == '0' && p + 1 < end && p[1] >= '0' && p[1] <= '9'))
		return -1;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (v > (max - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*pp = p;
	*out = v;
	return 0;
}

#define EXPECT(p, end, c)	((p) < (end) && *(p)++ == (c))

/*
 * "<letter><uid> <len>\n" then len bytes and "\n", uid above *last:
 * *pp left at the bytes, *last the uid.  0, or -1 if it is not one.
 */
static int
entry_head(const char **pp, const char *end, int letter, uint64_t max,
    uint64_t *last, uint64_t *len)
{
	const char	*p = *pp, *eol;
	uint64_t	 uid;

	if ((eol = memchr(p, '\n', end - p)) == NULL ||
	    !EXPECT(p, eol, letter) ||
	    parse_u64(&p, eol, UINT32_MAX, &uid) == -1 || uid <= *last ||
	    !EXPECT(p, eol, ' ') || parse_u64(&p, eol, max, len) == -1 ||
	    p != eol)
		return -1;
	p = eol + 1;
	if ((size_t)(end - p) < *len + 1 || p[*len] != '\n')
		return -1;
	*last = uid;
	*pp = p;
	return 0;
}

/*
 * Check (apply = 0) or take (apply = 1) the cache file's contents.
 * 0, or -1 if anything is wrong.
 */
static int
cache_parse(struct mbox *m, const char *buf, size_t len, int apply)
{
	const char	*p = buf, *end = buf + len, *eol;
	uint64_t	 version, uv, hms, vfl, nx, nc, uid, modseq, state;
	uint64_t	 size, date, elen, last = 0, lastms, nk = 0, np = 0;
	size_t		 i, k, nul;
	long		 idx;
	int		 history;

	if ((eol = memchr(p, '\n', len)) == NULL || eol - p > 256 ||
	    (size_t)(eol - p) < sizeof(MBOX_CACHE_MAGIC) ||
	    memcmp(p, MBOX_CACHE_MAGIC " ", sizeof(MBOX_CACHE_MAGIC)) != 0)
		return -1;
	p += sizeof(MBOX_CACHE_MAGIC);
	if (parse_u64(&p, eol, 1000, &version) == -1 ||
	    (version != 1 && version != MBOX_CACHE_VERSION) ||
	    !EXPECT(p, eol, ' ') || !EXPECT(p, eol, 'V') ||
	    parse_u64(&p, eol, UINT32_MAX, &uv) == -1 ||
	    !EXPECT(p, eol, ' ') || !EXPECT(p, eol, 'M') ||
	    parse_u64(&p, eol, INT64_MAX, &hms) == -1 ||
	    !EXPECT(p, eol, ' ') || !EXPECT(p, eol, 'F') ||
	    parse_u64(&p, eol, hms, &vfl) == -1 ||
	    !EXPECT(p, eol, ' ') || !EXPECT(p, eol, 'X') ||
	    parse_u64(&p, eol, MBOX_VANISHED_MAX, &nx) == -1 ||
	    !EXPECT(p, eol, ' ') || !EXPECT(p, eol, 'C') ||
	    parse_u64(&p, eol, UIDLIST_MAX_ENTRIES, &nc) == -1)
		return -1;
	if (version >= 2 && (!EXPECT(p, eol, ' ') || !EXPECT(p, eol, 'P') ||
	    parse_u64(&p, eol, UIDLIST_MAX_ENTRIES, &np) == -1))
		return -1;
	if (p != eol && (!EXPECT(p, eol, ' ') || !EXPECT(p, eol, 'K') ||
	    parse_u64(&p, eol, UIDLIST_MAX_ENTRIES, &nk) == -1 || p != eol))
		return -1;
	if (uv != m->uidvalidity)
		return -1;
	/* History is exact only if nothing happened since it was saved. */
	history = hms == m->hms;
	if (apply && history) {
		m->vfloor = vfl;
		m->nv = 0;
	}
	p = eol + 1;
	for (i = 0, lastms = vfl; i < nx; i++) {
		if ((eol = memchr(p, '\n', end - p)) == NULL ||
		    !EXPECT(p, eol, 'X') ||
		    parse_u64(&p, eol, UINT32_MAX, &uid) == -1 || uid == 0 ||
		    !EXPECT(p, eol, ' ') ||
		    parse_u64(&p, eol, hms, &modseq) == -1 ||
		    modseq <= lastms || p != eol)
			return -1;
		lastms = modseq;
		if (apply && history)
			mbox_vanished_add(m, uid, modseq);
		p = eol + 1;
	}
	for (i = 0; i < nc; i++) {
		if ((eol = memchr(p, '\n', end - p)) == NULL ||
		    !EXPECT(p, eol, 'E') ||
		    parse_u64(&p, eol, UINT32_MAX, &uid) == -1 ||
		    uid <= last || !EXPECT(p, eol, ' ') ||
		    parse_u64(&p, eol, MP_SIZE | MP_DATE, &state) == -1 ||
		    !EXPECT(p, eol, ' ') ||
		    parse_u64(&p, eol, MBOX_W_MAX, &size) == -1 ||
		    !EXPECT(p, eol, ' ') ||
		    parse_u64(&p, eol, INT64_MAX, &date) == -1 ||
		    !EXPECT(p, eol, ' ') ||
		    parse_u64(&p, eol, MBOX_CACHE_ENTRY_MAX, &elen) == -1 ||
		    p != eol)
			return -1;
		last = uid;
		p = eol + 1;
		if ((size_t)(end - p) < elen + 1 || p[elen] != '\n')
			return -1;
		for (k = 0, nul = 0; k < elen; k++)
			if (p[k] == '\0')
				nul++;
		if (elen > 0 && nul != 2)
			return -1;
		/*
		 * Only UIDs of the list as read from disk (the cache is
		 * loaded before the first scan): a UID the list never
		 * saved may go to another file after a crash.
		 */
		if (apply && uid < m->uidnext &&
		    (idx = mbox_find(m, uid)) != -1) {
			m->priv[idx].state = state;
			m->priv[idx].size = size;
			m->priv[idx].date = date;
			if (elen > 0) {
				if ((m->priv[idx].cache = malloc(elen + 1)) ==
				    NULL)
					fatal("malloc");
				memcpy(m->priv[idx].cache, p, elen);
				m->priv[idx].cache[elen] = '\0';
			}
		}
		p += elen + 1;
	}
	for (i = 0, last = 0; i < np; i++) {
		if (entry_head(&p, end, 'P', MBOX_PREVIEW_MAX, &last,
		    &elen) == -1 || !preview_valid(p, elen))
			return -1;
		uid = last;
		if (apply && uid < m->uidnext &&
		    (idx = mbox_find(m, uid)) != -1 &&
		    m->priv[idx].preview == NULL) {
			if ((m->priv[idx].preview = malloc(elen + 1)) == NULL)
				fatal("malloc");
			memcpy(m->priv[idx].preview, p, elen);
			m->priv[idx].preview[elen] = '\0';
		}
		p += elen + 1;
	}
	for (i = 0, last = 0; i < nk; i++) {
		if (entry_head(&p, end, 'K', SORT_BLOB_MAX, &last,
		    &elen) == -1)
			return -1;
		uid = last;
		/* Keys of another version (or damaged): made again. */
		if (apply && uid < m->uidnext &&
		    (idx = mbox_find(m, uid)) != -1 &&
		    m->priv[idx].sortkeys == NULL)
			m->priv[idx].sortkeys = sort_blob_new(p, elen);
		p += elen + 1;
	}
	if (p != end)
		return -1;
	return 0;
}

void
mbox_cache_load(struct mbox *m)
{
	struct stat	 st;
	char		 path[PATH_MAX], *buf;
	size_t		 len;
	int		 fd;

	if (mbox_mkpath(path, sizeof(path), m->dir, MBOX_CACHE_FILE) == -1)
		return;
	if ((fd = safe_open(path, O_RDONLY | O_NONBLOCK, 0)) == -1) {
		if (errno != ENOENT)
			log_warn("%s", path);
		return;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > MBOX_CACHE_MAX) {
		log_warnx("%s: not a regular file or too large, ignored",
		    path);
		close(fd);
		return;
	}
	buf = read_fd(fd, MBOX_CACHE_MAX, &len);
	close(fd);
	if (buf == NULL) {
		log_warn("%s", path);
		return;
	}
	if (cache_parse(m, buf, len, 0) == -1)
		log_warnx("%s: corrupt or stale, ignored", path);
	else
		(void)cache_parse(m, buf, len, 1);
	free(buf);
}

int
mbox_cache_save(struct mbox *m)
{
	struct mbuf	 b = { NULL, 0, 0 };
	const char	*c;
	char		 tmp[PATH_MAX], path[PATH_MAX];
	size_t		 i, l, count = 0, nk = 0, kbytes = 0, np = 0;
	size_t		 pbytes = 0;
	int		 fd = -1, ret = -1, saved;

	for (i = 0; i < m->n; i++) {
		if (m->priv[i].state != 0 || m->priv[i].cache != NULL)
			count++;
		if (m->priv[i].sortkeys != NULL) {
			kbytes += m->priv[i].sortkeys->len + 32;
			nk++;
		}
		/* mime_preview() made it; a bad one is not written. */
		if (m->priv[i].preview != NULL && preview_valid(
		    m->priv[i].preview, (l = strlen(m->priv[i].preview)))) {
			pbytes += l + 32;
			np++;
		}
	}
	mbuf_printf(&b, "%s %d V%u M%llu F%llu X%zu C%zu",
	    MBOX_CACHE_MAGIC, MBOX_CACHE_VERSION, m->uidvalidity,
	    (unsigned long long)m->hms, (unsigned long long)m->vfloor, m->nv,
	    count);
	/* Sort keys and previews go first when the file would be too large. */
	if (kbytes > MBOX_CACHE_MAX / 2)
		nk = kbytes = 0;
	if (pbytes > MBOX_CACHE_MAX / 4)
		np = pbytes = 0;
	mbuf_printf(&b, " P%zu", np);
	if (nk > 0)
		mbuf_printf(&b, " K%zu", nk);
	mbuf_add(&b, "\n", 1);
	for (i = 0; i < m->nv; i++)
		mbuf_printf(&b, "X%u %llu\n", m->vuid[i],
		    (unsigned long long)m->vmodseq[i]);
	for (i = 0; i < m->n; i++) {
		if (m->priv[i].state == 0 && m->priv[i].cache == NULL)
			continue;
		l = 0;
		if ((c = m->priv[i].cache) != NULL) {
			l = mbox_cache_len(c);
			if (l > MBOX_CACHE_ENTRY_MAX)
				l = 0;	/* rendered again on use */
		}
		if (b.len + l + 128 + kbytes + pbytes > MBOX_CACHE_MAX)
			l = 0;
		mbuf_printf(&b, "E%u %d %llu %lld %zu\n", m->msgs[i].uid,
		    m->priv[i].state & (MP_SIZE | MP_DATE),
		    (unsigned long long)m->priv[i].size,
		    (long long)m->priv[i].date, l);
		if (l > 0)
			mbuf_add(&b, c, l);
		mbuf_add(&b, "\n", 1);
	}
	for (i = 0; i < m->n && np > 0; i++) {
		if ((c = m->priv[i].preview) == NULL ||
		    !preview_valid(c, (l = strlen(c))))
			continue;
		mbuf_printf(&b, "P%u %zu\n", m->msgs[i].uid, l);
		mbuf_add(&b, c, l);
		mbuf_add(&b, "\n", 1);
	}
	for (i = 0; i < m->n && nk > 0; i++) {
		if (m->priv[i].sortkeys == NULL)
			continue;
		mbuf_printf(&b, "K%u %zu\n", m->msgs[i].uid,
		    m->priv[i].sortkeys->len);
		mbuf_add(&b, m->priv[i].sortkeys->data,
		    m->priv[i].sortkeys->len);
		mbuf_add(&b, "\n", 1);
	}

	if (mbox_mkpath(path, sizeof(path), m->dir, MBOX_CACHE_FILE) == -1 ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/%s.tmp.%ld", m->dir,
	    MBOX_CACHE_FILE, (long)getpid()) >= sizeof(tmp))
		goto done;
	(void)safe_unlink(tmp);	/* left over by a crash of our pid */
	if ((fd = safe_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1) {
		log_warn("%s", tmp);
		goto done;
	}
	if (write_full(fd, b.data, b.len) == -1 || fsync(fd) == -1 ||
	    close(fd) == -1) {
		saved = errno;
		log_warn("%s", tmp);
		(void)safe_unlink(tmp);
		errno = saved;
		fd = -1;
		goto done;
	}
	fd = -1;
	if (safe_rename(tmp, path) == -1) {
		log_warn("rename %s", path);
		(void)safe_unlink(tmp);
		goto done;
	}
	m->cache_dirty = 0;
	ret = 0;
 done:
	mbuf_free(&b);
	return ret;
}
