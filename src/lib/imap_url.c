/*
 * IMAP URLs of messages and message parts (imap_url.h, RFC 5092): the
 * server, mailbox, UID, section and partial range a URL names, read
 * left to right with every length bounded; which of them the session
 * accepts is the session's.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "imap_url.h"

static int	hexval(unsigned char);
static int	decode(const char *, size_t, char *, size_t);
static int	keyword(const char **, const char *, const char *);
static int	number(const char **, const char *, uint32_t *);
static int	server(const char **, const char *, struct imap_url *,
		    const char **);

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode src[0..n) into dst: 0, or -1 (bad escape, NUL, size). */
static int
decode(const char *src, size_t n, char *dst, size_t dstsz)
{
	size_t	 i, o = 0;
	int	 h, l;
	char	 c;

	for (i = 0; i < n; i++) {
		c = src[i];
		if (c == '%') {
			if (n - i < 3)
				return -1;
			if ((h = hexval((unsigned char)src[i + 1])) == -1 ||
			    (l = hexval((unsigned char)src[i + 2])) == -1)
				return -1;
			c = (char)(h << 4 | l);
			i += 2;
		}
		if (c == '\0' || o + 1 >= dstsz)
			return -1;
		dst[o++] = c;
	}
	dst[o] = '\0';
	return 0;
}

/* Case-insensitive prefix kw at *p: 1 and *p moved past it, else 0. */
static int
keyword(const char **p, const char *end, const char *kw)
{
	size_t	 n = strlen(kw);

	if ((size_t)(end - *p) < n || strncasecmp(*p, kw, n) != 0)
		return 0;
	*p += n;
	return 1;
}

/* number (RFC 3501) at *p, at most 2^32 - 1: 0, or -1. */
static int
number(const char **p, const char *end, uint32_t *v)
{
	uint64_t	 n = 0;
	const char	*s = *p;

	if (s == end || *s < '0' || *s > '9')
		return -1;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > UINT32_MAX)
			return -1;
	}
	*v = (uint32_t)n;
	*p = s;
	return 0;
}

/* iserver: [enc-user [";AUTH=" type] "@"] host [":" port], then "/". */
static int
server(const char **pp, const char *end, struct imap_url *u,
    const char **errstr)
{
	const char	*p = *pp, *at, *slash, *h, *he, *auth;
	uint32_t	 port;

	if ((slash = memchr(p, '/', end - p)) == NULL) {
		*errstr = "URL names no message";
		return -1;
	}
	if ((at = memchr(p, '@', slash - p)) != NULL) {
		auth = p;
		while (auth < at && !(at - auth >= 6 &&
		    strncasecmp(auth, ";AUTH=", 6) == 0))
			auth++;
		if (decode(p, auth - p, u->user, sizeof(u->user)) == -1 ||
		    (auth == p && auth == at)) {
			*errstr = "Invalid user in URL";
			return -1;
		}
		p = at + 1;
	}
	if (p < slash && *p == '[') {
		h = p + 1;
		if ((he = memchr(h, ']', slash - h)) == NULL) {
			*errstr = "Invalid host in URL";
			return -1;
		}
		p = he + 1;
	} else {
		h = p;
		while (p < slash && *p != ':')
			p++;
		he = p;
	}
	if (he == h || (size_t)(he - h) > IMAP_URL_HOST_MAX ||
	    decode(h, he - h, u->host, sizeof(u->host)) == -1) {
		*errstr = "Invalid host in URL";
		return -1;
	}
	if (p < slash && *p == ':') {
		p++;
		if (number(&p, slash, &port) == -1 || port == 0 ||
		    port > 65535) {
			*errstr = "Invalid port in URL";
			return -1;
		}
		u->port = (int)port;
	}
	if (p != slash) {
		*errstr = "Invalid server in URL";
		return -1;
	}
	*pp = slash + 1;
	return 0;
}

int
imap_url_parse(const char *url, size_t len, struct imap_url *u,
    const char **errstr)
{
	const char	*p = url, *end = url + len, *q, *s;
	size_t		 i;

	memset(u, 0, sizeof(*u));
	*errstr = "Invalid IMAP URL";
	if (len == 0 || len > IMAP_URL_MAX) {
		*errstr = "URL empty or too long";
		return -1;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)url[i] <= 0x20 ||
		    (unsigned char)url[i] >= 0x7f) {
			*errstr = "Invalid character in URL";
			return -1;
		}
	if (memchr(url, '?', len) != NULL || memchr(url, '#', len) != NULL) {
		*errstr = "URL of a message list, not of a message";
		return -1;
	}
	if (keyword(&p, end, "imap://") || keyword(&p, end, "//")) {
		u->form = IMAP_URL_SERVER;
		if (server(&p, end, u, errstr) == -1)
			return -1;
	} else if (*p == '/') {
		u->form = IMAP_URL_PATH;
		p++;
	} else if (len >= 5 && strncasecmp(p, ";UID=", 5) == 0) {
		u->form = IMAP_URL_UID;
	} else {
		/* A scheme (ALPHA *(ALPHA / DIGIT / "+" / "-" / ".") ":")? */
		for (q = p; q < end && *q != '/' && *q != ';' && *q != ':';
		    q++)
			;
		if (q < end && *q == ':') {
			*errstr = "Not an IMAP URL";
			return -1;
		}
		u->form = IMAP_URL_RELATIVE;
	}

	if (u->form != IMAP_URL_UID) {
		/* enc-mailbox [";UIDVALIDITY=" nz-number] "/" */
		if ((q = memchr(p, ';', end - p)) == NULL) {
			*errstr = "URL names no message";
			return -1;
		}
		s = q;
		if (q > p && q[-1] == '/')
			s = q - 1;
		if (s == p || decode(p, s - p, u->mailbox,
		    sizeof(u->mailbox)) == -1) {
			*errstr = "Invalid mailbox in URL";
			return -1;
		}
		p = q;
		if (s == q) {
			if (!keyword(&p, end, ";UIDVALIDITY=") ||
			    number(&p, end, &u->uidvalidity) == -1 ||
			    u->uidvalidity == 0 || !keyword(&p, end, "/")) {
				*errstr = "Invalid UIDVALIDITY in URL";
				return -1;
			}
		}
	}
	if (!keyword(&p, end, ";UID=")) {
		*errstr = p < end && (keyword(&p, end, ";TYPE=") ||
		    keyword(&p, end, ";URLAUTH=")) ?
		    "URL of a message list, not of a message" :
		    "URL names no message";
		return -1;
	}
	if (number(&p, end, &u->uid) == -1 || u->uid == 0) {
		*errstr = "Invalid UID in URL";
		return -1;
	}
	if (keyword(&p, end, "/;SECTION=")) {
		/* enc-section may hold "/": it ends at "/;" or the end. */
		for (q = p; q < end && !(q[0] == '/' && q + 1 < end &&
		    q[1] == ';'); q++)
			;
		if (q == p || decode(p, q - p, u->section,
		    sizeof(u->section)) == -1) {
			*errstr = "Invalid section in URL";
			return -1;
		}
		p = q;
	}
	if (keyword(&p, end, "/;PARTIAL=")) {
		u->partial = 1;
		if (number(&p, end, &u->partial_off) == -1 ||
		    (keyword(&p, end, ".") &&
		    (number(&p, end, &u->partial_len) == -1 ||
		    u->partial_len == 0))) {
			*errstr = "Invalid partial range in URL";
			return -1;
		}
	}
	if (p != end) {
		if (keyword(&p, end, ";URLAUTH=") ||
		    keyword(&p, end, ";EXPIRE=") ||
		    keyword(&p, end, "/;URLAUTH=") ||
		    keyword(&p, end, "/;EXPIRE="))
			*errstr = "URLAUTH is not supported";
		else
			*errstr = "Invalid IMAP URL";
		return -1;
	}
	return 0;
}
