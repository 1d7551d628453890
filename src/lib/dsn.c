/*
 * Delivery status notifications: the multipart/report message (RFC
 * 3464, RFC 6522) that tells a sender that some recipients failed or
 * are delayed.  Part 1 is a text for the human, part 2 the
 * machine-readable message/delivery-status, part 3 the original
 * message or its header.  Diagnostics come from remote servers and
 * are hostile: they are cleaned to printable ASCII, cut and folded.
 * The original is read from an fd with a bound and its line ends made
 * CRLF, so the result is always a valid message with no line over the
 * 998 bytes of RFC 5322.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "dsn.h"
#include "log.h"
#include "maild.h"
#include "mime.h"
#include "util.h"

#define LINE_MAX_RFC	998	/* RFC 5322 2.1.1, without CRLF */
#define LINE_CHUNK	980	/* a hard-wrapped header line's pieces */
#define WRAP_WIDTH	76	/* where folding and wrapping aim */
#define MSGID_MAX	64

#define F_UTF8		0x01	/* check_field: 8-bit allowed (UTF-8) */
#define F_SPACE		0x02	/* check_field: spaces allowed */

static int	 check_field(const char *, size_t, int);
static int	 check_info(const struct dsn_info *, size_t);
static int	 has_8bit(const char *, size_t);
static void	 put_date(struct mbuf *, time_t);
static void	 put_duration(struct mbuf *, time_t);
static void	 put_wrapped(struct mbuf *, size_t, const char *,
		    const char *, size_t);
static void	 clean_text(const char *, char *, size_t);
static int	 status_valid(const char *, enum dsn_kind);
static const char *rcpt_status(const struct dsn_rcpt *, enum dsn_kind);
static const char *rcpt_remote(const struct dsn_rcpt *);
static int	 is_smtp_reply(const char *);
static size_t	 utf8_decode(const unsigned char *, uint32_t *);
static void	 put_address(struct mbuf *, size_t, const char *);
static void	 build_text(struct mbuf *, const struct dsn_info *, size_t,
		    int, int);
static void	 build_status(struct mbuf *, const struct dsn_info *, size_t);
static int	 read_orig(int, struct mbuf *, int *);
static size_t	 next_line(const char *, size_t, size_t, size_t *);
static int	 field_line(const char *, size_t);
static void	 header_split(const char *, size_t, size_t *, size_t *);
static int	 lines_fit(const char *, size_t);
static void	 add_nonul(struct mbuf *, const char *, size_t);
static void	 copy_lines(struct mbuf *, const char *, size_t);
static int	 build_orig(struct mbuf *, const struct mbuf *, int, int);
static int	 make_boundary(char *, size_t, const struct mbuf *,
		    const struct mbuf *, const struct mbuf *);

static const char *days[] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char *months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* A caller-given name: not empty, bounded, no control characters. */
static int
check_field(const char *s, size_t max, int flags)
{
	const unsigned char	*p;
	size_t			 len;

	if (s == NULL || (len = strnlen(s, max + 1)) == 0 || len > max)
		return -1;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return -1;
		if (*p == ' ' && !(flags & F_SPACE))
			return -1;
		if (*p >= 0x80 && !(flags & F_UTF8))
			return -1;
	}
	return 0;
}

static int
check_info(const struct dsn_info *di, size_t n)
{
	size_t	 i;

	if (di == NULL || (di->kind != DSN_FAILED && di->kind != DSN_DELAYED))
		return -1;
	if (check_field(di->reporting_mta, HOST_NAME_MAX, 0) == -1 ||
	    check_field(di->sender, ADDR_MAX, F_UTF8 | F_SPACE) == -1 ||
	    check_field(di->msgid, MSGID_MAX, 0) == -1)
		return -1;
	if (di->rcpts == NULL || n == 0)
		return -1;
	for (i = 0; i < n; i++)
		if (check_field(di->rcpts[i].rcpt, ADDR_MAX,
		    F_UTF8 | F_SPACE) == -1)
			return -1;
	return 0;
}

static int
has_8bit(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

/*
 * RFC 5322 date in UTC.  The names are ours, not strftime's, so that
 * neither the locale nor a missing zoneinfo in the chroot matter.
 */
static void
put_date(struct mbuf *o, time_t t)
{
	struct tm	 tm;
	time_t		 zero = 0;

	if (gmtime_r(&t, &tm) == NULL)
		(void)gmtime_r(&zero, &tm);
	mbuf_printf(o, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void
put_duration(struct mbuf *o, time_t d)
{
	long long	 s = d < 0 ? 0 : (long long)d;

	if (s >= 2 * 86400)
		mbuf_printf(o, "%lld days", s / 86400);
	else if (s >= 2 * 3600)
		mbuf_printf(o, "%lld hours", s / 3600);
	else if (s >= 2 * 60)
		mbuf_printf(o, "%lld minutes", s / 60);
	else
		mbuf_printf(o, "%lld seconds", s);
}

/*
 * Append the words of text (single spaces between them, as clean_text
 * leaves them), starting at column col and breaking before a space
 * when a line would pass width; a new line starts with prefix.  A
 * prefix of " " makes this header folding (RFC 5322 2.2.3).  A word
 * longer than the width stays whole: callers bound their words far
 * below 998 bytes.
 */
static void
put_wrapped(struct mbuf *o, size_t col, const char *text, const char *prefix,
    size_t width)
{
	const char	*p = text, *w;
	size_t		 wl, plen = strlen(prefix);
	int		 first = 1;

	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		for (w = p; *p != '\0' && *p != ' '; p++)
			;
		wl = p - w;
		if (!first && col + 1 + wl > width) {
			mbuf_add(o, "\r\n", 2);
			mbuf_add(o, prefix, plen);
			col = plen;
		} else if (!first) {
			mbuf_add(o, " ", 1);
			col++;
		}
		mbuf_add(o, w, wl);
		col += wl;
		first = 0;
	}
}

/*
 * Make a remote server's text safe for a header field and a text/plain
 * part: line breaks and tabs become single spaces, other control
 * characters go, each non-ASCII character becomes one '?', and the
 * result is cut (with "...") to fit out.
 */
static void
clean_text(const char *s, char *out, size_t outsz)
{
	const unsigned char	*p;
	size_t			 n = 0;
	int			 space = 0, cut = 0;
	char			 c;

	if (outsz == 0)
		return;
	for (p = (const unsigned char *)(s ? s : ""); *p != '\0'; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
			space = n > 0;
			continue;
		}
		if (*p < 0x20 || *p == 0x7f || (*p >= 0x80 && *p < 0xc0))
			continue;
		c = *p >= 0x80 ? '?' : (char)*p;
		if (n + space + 1 >= outsz) {
			cut = 1;
			break;
		}
		if (space)
			out[n++] = ' ';
		space = 0;
		out[n++] = c;
	}
	if (cut && n >= 3)
		memcpy(out + n - 3, "...", 3);
	out[n] = '\0';
}

/* "class.subject.detail" (RFC 3463) of a class the kind allows. */
static int
status_valid(const char *s, enum dsn_kind kind)
{
	int	 i, n;

	if (s == NULL)
		return 0;
	if (!(s[0] == '4' || (s[0] == '5' && kind == DSN_FAILED)))
		return 0;
	s++;
	for (i = 0; i < 2; i++) {
		if (*s++ != '.')
			return 0;
		for (n = 0; *s >= '0' && *s <= '9'; s++)
			n++;
		if (n < 1 || n > 3)
			return 0;
	}
	return *s == '\0';
}

static const char *
rcpt_status(const struct dsn_rcpt *r, enum dsn_kind kind)
{
	if (status_valid(r->status, kind))
		return r->status;
	return kind == DSN_FAILED ? "5.0.0" : "4.0.0";
}

/* The remote MTA's name, or NULL when absent or not a plain name. */
static const char *
rcpt_remote(const struct dsn_rcpt *r)
{
	const char	*p;

	if (r->remote_mta == NULL ||
	    check_field(r->remote_mta, HOST_NAME_MAX, 0) == -1)
		return NULL;
	for (p = r->remote_mta; *p != '\0'; p++)
		if (strchr(";()<>\"\\,", *p) != NULL)
			return NULL;
	return r->remote_mta;
}

/* Does a cleaned diagnostic start with an SMTP reply code? */
static int
is_smtp_reply(const char *s)
{
	if (s[0] < '2' || s[0] > '5' || s[1] < '0' || s[1] > '9' ||
	    s[2] < '0' || s[2] > '9')
		return 0;
	return s[3] == '\0' || s[3] == ' ' || s[3] == '-';
}

/*
 * Decode the UTF-8 sequence at p into *cp and return its length; an
 * ill-formed byte gives U+FFFD and length 1.
 */
static size_t
utf8_decode(const unsigned char *p, uint32_t *cp)
{
	size_t		 n, i;
	uint32_t	 c, min;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		c = p[0] & 0x1f;
		min = 0x80;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		c = p[0] & 0x0f;
		min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		c = p[0] & 0x07;
		min = 0x10000;
	} else
		goto bad;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)	/* also stops at NUL */
			goto bad;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		goto bad;
	*cp = c;
	return n;
 bad:
	*cp = 0xfffd;
	return 1;
}

/*
 * An address field value, at column col: "rfc822; addr" for ASCII, else
 * RFC 6533 "utf-8; " with the 7-bit utf-8-addr-xtext form that
 * message/delivery-status requires (\x{HEX} for non-ASCII, space, '\',
 * '+' and '=').  That form is up to 3.5 times the address, so a long
 * one is folded, between two characters, before a line would pass 998
 * bytes.
 */
static void
put_address(struct mbuf *o, size_t col, const char *addr)
{
	const unsigned char	*p = (const unsigned char *)addr;
	uint32_t		 cp;
	char			 enc[16];
	size_t			 n;

	if (!has_8bit(addr, strlen(addr))) {
		mbuf_printf(o, "rfc822; %s", addr);
		return;
	}
	mbuf_add(o, "utf-8; ", 7);
	col += 7;
	while (*p != '\0') {
		if (*p > 0x20 && *p < 0x7f && *p != '\\' && *p != '+' &&
		    *p != '=') {
			enc[0] = *p++;
			n = 1;
		} else {
			p += utf8_decode(p, &cp);
			n = snprintf(enc, sizeof(enc), "\\x{%02X}",
			    (unsigned int)cp);
		}
		if (col + n > LINE_MAX_RFC) {
			mbuf_add(o, "\r\n ", 3);
			col = 1;
		}
		mbuf_add(o, enc, n);
		col += n;
	}
}

/* Part 1, for the human: what happened to which recipient, and why. */
static void
build_text(struct mbuf *o, const struct dsn_info *di, size_t n, int full,
    int toobig)
{
	struct mbuf		 para;
	const struct dsn_rcpt	*r;
	const char		*st, *remote, *why;
	char			 diag[DSN_MAX_DIAG + 1];
	size_t			 i;

	memset(&para, 0, sizeof(para));
	mbuf_printf(o, "This is the mail delivery system at %s.\r\n\r\n",
	    di->reporting_mta);

	if (di->kind == DSN_FAILED)
		mbuf_printf(&para, "Your message could not be delivered to "
		    "one or more of its recipients. It was received on ");
	else
		mbuf_printf(&para, "Your message has not been delivered yet "
		    "to the recipients below. It was received on ");
	put_date(&para, di->arrival);
	mbuf_printf(&para, " (queue id %s)", di->msgid);
	if (di->now - di->arrival >= 60) {
		mbuf_printf(&para, " and delivery has been attempted for ");
		put_duration(&para, di->now - di->arrival);
	}
	mbuf_printf(&para, ".");
	if (di->kind == DSN_DELAYED) {
		mbuf_printf(&para, " It is still being retried");
		if (di->expire > di->now) {
			mbuf_printf(&para, " until ");
			put_date(&para, di->expire);
		}
		mbuf_printf(&para, "; you do not need to send it again.");
	}
	put_wrapped(o, 0, para.data, "", WRAP_WIDTH);
	mbuf_add(o, "\r\n\r\n", 4);
	mbuf_free(&para);

	for (i = 0; i < n; i++) {
		r = &di->rcpts[i];
		st = rcpt_status(r, di->kind);
		if (di->kind == DSN_DELAYED)
			why = "not delivered yet, still trying";
		else if (strcmp(st, "4.4.7") == 0)
			why = "delivery time expired";
		else if (st[0] == '4')
			why = "gave up after temporary failures";
		else
			why = "delivery failed permanently";
		mbuf_printf(&para, "<%s>: %s (%s)", r->rcpt, why, st);
		put_wrapped(o, 0, para.data, "    ", WRAP_WIDTH);
		mbuf_add(o, "\r\n", 2);
		mbuf_free(&para);

		clean_text(r->diagnostic, diag, sizeof(diag));
		remote = rcpt_remote(r);
		if (diag[0] == '\0' && remote == NULL)
			continue;
		if (remote != NULL && diag[0] != '\0')
			mbuf_printf(&para, "%s said: %s", remote, diag);
		else if (remote != NULL)
			mbuf_printf(&para, "last tried at %s", remote);
		else
			mbuf_printf(&para, "%s", diag);
		mbuf_add(o, "    ", 4);
		put_wrapped(o, 4, para.data, "    ", WRAP_WIDTH);
		mbuf_add(o, "\r\n", 2);
		mbuf_free(&para);
	}
	if (n < di->nrcpts)
		mbuf_printf(o, "... and %zu more recipients.\r\n",
		    di->nrcpts - n);
	mbuf_add(o, "\r\n", 2);

	if (full)
		mbuf_printf(o, "Your message is attached below.\r\n");
	else if (toobig)
		mbuf_printf(o, "Your message is too large to be returned in "
		    "full (or has over-long\r\nlines); its header is "
		    "attached below.\r\n");
	else
		mbuf_printf(o, "The header of your message is attached "
		    "below.\r\n");
}

/* Part 2: message/delivery-status (RFC 3464 2.2, 2.3). */
static void
build_status(struct mbuf *o, const struct dsn_info *di, size_t n)
{
	const struct dsn_rcpt	*r;
	const char		*remote;
	char			 diag[DSN_MAX_DIAG + 1];
	size_t			 i, col;

	mbuf_printf(o, "Reporting-MTA: dns; %s\r\n", di->reporting_mta);
	mbuf_printf(o, "Arrival-Date: ");
	put_date(o, di->arrival);
	mbuf_add(o, "\r\n", 2);

	for (i = 0; i < n; i++) {
		r = &di->rcpts[i];
		mbuf_add(o, "\r\nFinal-Recipient: ", 19);
		put_address(o, 17, r->rcpt);
		mbuf_printf(o, "\r\nAction: %s\r\n",
		    di->kind == DSN_FAILED ? "failed" : "delayed");
		mbuf_printf(o, "Status: %s\r\n", rcpt_status(r, di->kind));
		if ((remote = rcpt_remote(r)) != NULL)
			mbuf_printf(o, "Remote-MTA: dns; %s\r\n", remote);
		clean_text(r->diagnostic, diag, sizeof(diag));
		if (diag[0] != '\0') {
			col = o->len;
			mbuf_printf(o, "Diagnostic-Code: %s;",
			    is_smtp_reply(diag) ? "smtp" : "X-maild");
			col = o->len - col;
			mbuf_add(o, " ", 1);
			put_wrapped(o, col + 1, diag, " ", WRAP_WIDTH);
			mbuf_add(o, "\r\n", 2);
		}
		if (r->last_attempt > 0) {
			mbuf_printf(o, "Last-Attempt-Date: ");
			put_date(o, r->last_attempt);
			mbuf_add(o, "\r\n", 2);
		}
		if (di->kind == DSN_DELAYED && di->expire > 0) {
			mbuf_printf(o, "Will-Retry-Until: ");
			put_date(o, di->expire);
			mbuf_add(o, "\r\n", 2);
		}
	}
}

/*
 * Read the original into o, at most DSN_MAX_ORIG + 1 bytes: *toobig
 * says there was more than DSN_MAX_ORIG.
 */
static int
read_orig(int fd, struct mbuf *o, int *toobig)
{
	char	 buf[8192];
	size_t	 want;
	ssize_t	 r;

	*toobig = 0;
	for (;;) {
		want = DSN_MAX_ORIG + 1 - o->len;
		if (want == 0) {
			*toobig = 1;
			return 0;
		}
		if (want > sizeof(buf))
			want = sizeof(buf);
		if ((r = read(fd, buf, want)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			return 0;
		mbuf_add(o, buf, r);
	}
}

/*
 * The line at pos: returns its length without the line end (CRLF, or
 * a bare LF or CR) and sets *next past it.
 */
static size_t
next_line(const char *b, size_t len, size_t pos, size_t *next)
{
	size_t	 i;

	for (i = pos; i < len && b[i] != '\r' && b[i] != '\n'; i++)
		;
	if (i + 1 < len && b[i] == '\r' && b[i + 1] == '\n')
		*next = i + 2;
	else if (i < len)
		*next = i + 1;
	else
		*next = len;
	return i - pos;
}

/* "name:" with a printable name, blanks allowed before the colon. */
static int
field_line(const char *p, size_t n)
{
	size_t	 i = 0;

	while (i < n && (unsigned char)p[i] > 0x20 &&
	    (unsigned char)p[i] < 0x7f && p[i] != ':')
		i++;
	if (i == 0)
		return 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i < n && p[i] == ':';
}

/*
 * Where the original's header ends (*hlen, without the blank line) and
 * its body starts (*boff): at the blank line, or before the first line
 * that is neither a field nor a continuation; a message without a
 * blank line and body is all header.
 */
static void
header_split(const char *b, size_t len, size_t *hlen, size_t *boff)
{
	size_t	 pos = 0, n, next;

	while (pos < len) {
		n = next_line(b, len, pos, &next);
		if (n == 0) {
			*hlen = pos;
			*boff = next;
			return;
		}
		if (b[pos] != ' ' && b[pos] != '\t' && !field_line(b + pos, n))
			break;
		pos = next;
	}
	*hlen = *boff = pos;
}

static int
lines_fit(const char *b, size_t len)
{
	size_t	 pos = 0, next;

	while (pos < len) {
		if (next_line(b, len, pos, &next) > LINE_MAX_RFC)
			return 0;
		pos = next;
	}
	return 1;
}

/* Append b[0..n) without its NUL bytes. */
static void
add_nonul(struct mbuf *o, const char *b, size_t n)
{
	const char	*z;

	while (n > 0) {
		if ((z = memchr(b, '\0', n)) == NULL) {
			mbuf_add(o, b, n);
			return;
		}
		mbuf_add(o, b, z - b);
		n -= z - b + 1;
		b = z + 1;
	}
}

/*
 * Copy b[0..len) line by line with CRLF line ends, without NUL bytes.
 * A line over 998 bytes (only header lines get here: bodies with one
 * are not returned) is folded before a blank if it has one, else cut
 * with CRLF TAB, never inside a UTF-8 sequence.
 */
static void
copy_lines(struct mbuf *o, const char *b, size_t len)
{
	size_t	 pos = 0, next, start, end, cut, k, extra;

	while (pos < len) {
		start = pos;
		end = pos + next_line(b, len, pos, &next);
		extra = 0;	/* the TAB we put before this piece */
		while (end - start + extra > LINE_MAX_RFC) {
			cut = start + LINE_CHUNK;
			for (k = cut; k > start + 1; k--)
				if (b[k] == ' ' || b[k] == '\t')
					break;
			if (k > start + 1) {
				cut = k;
				extra = 0;
			} else {
				for (k = 0; k < 3 && ((unsigned char)b[cut] &
				    0xc0) == 0x80; k++)
					cut--;
				extra = 1;
			}
			add_nonul(o, b + start, cut - start);
			mbuf_add(o, extra ? "\r\n\t" : "\r\n", extra ? 3 : 2);
			start = cut;
		}
		add_nonul(o, b + start, end - start);
		mbuf_add(o, "\r\n", 2);
		pos = next;
	}
}

/*
 * Part 3's content: the whole original when asked for and it fits, else
 * its header (at most DSN_MAX_HEADER bytes, whole lines).  Returns 1
 * for the whole message, 0 for the header only.
 */
static int
build_orig(struct mbuf *o, const struct mbuf *orig, int want_full,
    int toobig)
{
	const char	*b = orig->data;
	size_t		 len = orig->len, hlen, boff, pos, next, keep;

	if (len == 0)
		return 0;
	header_split(b, len, &hlen, &boff);
	if (want_full && !toobig && lines_fit(b + boff, len - boff)) {
		copy_lines(o, b, hlen);
		mbuf_add(o, "\r\n", 2);
		copy_lines(o, b + boff, len - boff);
		return 1;
	}
	for (pos = keep = 0; pos < hlen; pos = next) {
		(void)next_line(b, hlen, pos, &next);
		if (next > DSN_MAX_HEADER)
			break;
		keep = next;
	}
	copy_lines(o, b, keep);
	return 0;
}

/*
 * A random boundary (RFC 2046 5.1.1: at most 70 characters; "=_" can
 * appear in neither base64 nor quoted-printable text) that occurs in
 * none of the parts.
 */
static int
make_boundary(char *bnd, size_t size, const struct mbuf *a,
    const struct mbuf *b, const struct mbuf *c)
{
	const struct mbuf	*parts[3];
	unsigned char		 rnd[16];
	size_t			 i, j, blen;
	int			 try, clash;

	parts[0] = a;
	parts[1] = b;
	parts[2] = c;
	for (try = 0; try < 8; try++) {
		compat_random(rnd, sizeof(rnd));
		if (strlcpy(bnd, "=_maild_", size) >= size)
			return -1;
		for (i = 0; i < sizeof(rnd); i++) {
			blen = strlen(bnd);
			if (blen + 3 > size)
				return -1;
			(void)snprintf(bnd + blen, size - blen, "%02x", rnd[i]);
		}
		blen = strlen(bnd);
		clash = 0;
		for (j = 0; j < nitems(parts); j++)
			if (parts[j]->len >= blen && memmem(parts[j]->data,
			    parts[j]->len, bnd, blen) != NULL)
				clash = 1;
		if (!clash)
			return 0;
	}
	return -1;
}

int
dsn_write(int out, int in, const struct dsn_info *di)
{
	struct mbuf	 orig, text, status, part3, msg;
	unsigned char	 rnd[8];
	char		 bnd[80];
	size_t		 n;
	int		 toobig, full, ret = -1, saved;

	memset(&orig, 0, sizeof(orig));
	memset(&text, 0, sizeof(text));
	memset(&status, 0, sizeof(status));
	memset(&part3, 0, sizeof(part3));
	memset(&msg, 0, sizeof(msg));

	n = di == NULL ? 0 : di->nrcpts;
	if (n > DSN_MAX_RCPTS)
		n = DSN_MAX_RCPTS;
	if (check_info(di, n) == -1) {
		log_warnx("dsn: invalid notification parameters");
		errno = EINVAL;
		return -1;
	}
	if (read_orig(in, &orig, &toobig) == -1) {
		saved = errno;
		log_warn("dsn: read original of %s", di->msgid);
		errno = saved;
		goto done;
	}
	full = build_orig(&part3, &orig, di->return_full, toobig);
	build_text(&text, di, n, full, di->return_full && !full);
	build_status(&status, di, n);
	if (make_boundary(bnd, sizeof(bnd), &text, &status, &part3) == -1) {
		log_warnx("dsn: no usable boundary for %s", di->msgid);
		errno = EAGAIN;
		goto done;
	}

	mbuf_printf(&msg, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n",
	    di->reporting_mta);
	mbuf_printf(&msg, "To: <%s>\r\n", di->sender);
	mbuf_printf(&msg, "Subject: %s\r\n", di->kind == DSN_FAILED ?
	    "Undelivered Mail Returned to Sender" :
	    "Delayed Mail (still being retried)");
	mbuf_printf(&msg, "Date: ");
	put_date(&msg, di->now);
	compat_random(rnd, sizeof(rnd));
	mbuf_printf(&msg, "\r\nMessage-ID: <%lld.%02x%02x%02x%02x%02x%02x%02x"
	    "%02x@%s>\r\n", (long long)di->now, rnd[0], rnd[1], rnd[2],
	    rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], di->reporting_mta);
	mbuf_printf(&msg, "Auto-Submitted: auto-replied\r\n");
	mbuf_printf(&msg, "MIME-Version: 1.0\r\n");
	mbuf_printf(&msg, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n", bnd);
	mbuf_printf(&msg, "Content-Transfer-Encoding: %s\r\n\r\n",
	    has_8bit(text.data, text.len) || has_8bit(part3.data, part3.len) ?
	    "8bit" : "7bit");
	mbuf_printf(&msg, "This is a MIME-encapsulated message.\r\n\r\n");

	mbuf_printf(&msg, "--%s\r\nContent-Description: Notification\r\n"
	    "Content-Type: text/plain; charset=%s\r\n", bnd,
	    has_8bit(text.data, text.len) ? "utf-8" : "us-ascii");
	if (has_8bit(text.data, text.len))
		mbuf_printf(&msg, "Content-Transfer-Encoding: 8bit\r\n");
	mbuf_add(&msg, "\r\n", 2);
	mbuf_add(&msg, text.data, text.len);

	mbuf_printf(&msg, "\r\n--%s\r\nContent-Description: Delivery report"
	    "\r\nContent-Type: message/delivery-status\r\n\r\n", bnd);
	mbuf_add(&msg, status.data, status.len);

	mbuf_printf(&msg, "\r\n--%s\r\nContent-Description: %s\r\n"
	    "Content-Type: %s\r\n", bnd, full ? "Undelivered Message" :
	    "Undelivered Message Headers", full ? "message/rfc822" :
	    "text/rfc822-headers");
	if (has_8bit(part3.data, part3.len))
		mbuf_printf(&msg, "Content-Transfer-Encoding: 8bit\r\n");
	mbuf_add(&msg, "\r\n", 2);
	mbuf_add(&msg, part3.data, part3.len);
	mbuf_printf(&msg, "\r\n--%s--\r\n", bnd);

	if (write_full(out, msg.data, msg.len) == -1) {
		saved = errno;
		log_warn("dsn: write notification for %s", di->msgid);
		errno = saved;
		goto done;
	}
	ret = has_8bit(msg.data, msg.len) ? DSN_8BIT : DSN_7BIT;
 done:
	saved = errno;
	mbuf_free(&orig);
	mbuf_free(&text);
	mbuf_free(&status);
	mbuf_free(&part3);
	mbuf_free(&msg);
	errno = saved;
	return ret;
}
