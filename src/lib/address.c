/*
 * Mail addresses: the syntax of local parts (RFC 5321 dot-atom or
 * quoted-string, RFC 6531 UTF-8 when the client said SMTPUTF8), domains
 * (host names, U-labels, address literals) and SMTP paths, plus the
 * check that keeps a user or domain name from escaping its directory.
 * Everything here reads hostile input: lengths are bounded before
 * anything is copied and no function allocates.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>
#include <strings.h>

#include "address.h"
#include "maild.h"
#include "util.h"

static int	is_atext(unsigned char);
static int	scan_localpart(const char *, size_t, int, size_t *);
static int	valid_literal(const char *, size_t);
static int	valid_label(const unsigned char *, size_t, int);
static int	valid_domain_n(const char *, size_t, int);
static int	split_mailbox(const char *, size_t, struct mailaddr *, int);
static const char *skip_quoted(const char *);
static const char *skip_comment(const char *);

/* RFC 5322 atext. */
static int
is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/*
 * Scan a local part at the start of s[0..len): a dot-atom or a
 * quoted-string.  Stops at the first byte that cannot continue it and
 * stores its length in *endp.  0 on success, -1 on a syntax error.
 */
static int
scan_localpart(const char *s, size_t len, int flags, size_t *endp)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n;
	int			 atom = 0;

	if (len == 0)
		return -1;
	if (p[0] == '"') {
		for (i = 1; i < len; i++) {
			if (p[i] == '"')
				break;
			if (p[i] == '\\') {
				if (i + 1 >= len || p[i + 1] < 32 ||
				    p[i + 1] > 126)
					return -1;
				i++;
			} else if (p[i] >= 0x80) {
				if (!(flags & ADDR_ALLOW_UTF8) || (n =
				    utf8_seq(p + i, len - i, NULL)) == 0)
					return -1;
				i += n - 1;
			} else if (p[i] < 32 || p[i] > 126)
				return -1;
		}
		/* Unterminated, or "" which names no mailbox. */
		if (i >= len || i == 1)
			return -1;
		i++;
	} else {
		for (; i < len; i++) {
			if (p[i] == '.') {
				/* No leading, doubled or trailing dot. */
				if (!atom)
					return -1;
				atom = 0;
			} else if (p[i] >= 0x80) {
				if (!(flags & ADDR_ALLOW_UTF8) || (n =
				    utf8_seq(p + i, len - i, NULL)) == 0)
					return -1;
				i += n - 1;
				atom = 1;
			} else if (is_atext(p[i]))
				atom = 1;
			else
				break;
		}
		if (!atom)
			return -1;
	}
	if (i > LOCALPART_MAX)
		return -1;
	*endp = i;
	return 0;
}

int
addr_valid_localpart(const char *s, int flags)
{
	size_t	 len, end;

	len = strnlen(s, LOCALPART_MAX + 1);
	if (len > LOCALPART_MAX)
		return 0;
	if (scan_localpart(s, len, flags, &end) == -1 || end != len)
		return 0;
	return 1;
}

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]" (tag case-insensitive). */
static int
valid_literal(const char *s, size_t len)
{
	char		 buf[64];
	unsigned char	 in6[sizeof(struct in6_addr)];
	int		 af = AF_INET;

	if (len < 2 || s[0] != '[' || s[len - 1] != ']')
		return 0;
	s++;
	len -= 2;
	if (len > 5 && strncasecmp(s, "IPv6:", 5) == 0) {
		af = AF_INET6;
		s += 5;
		len -= 5;
	}
	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(af, buf, in6) == 1;
}

/* One label: LDH, 1..63 bytes, no '-' at either end; U-label if UTF-8. */
static int
valid_label(const unsigned char *p, size_t len, int flags)
{
	size_t	 i, n;

	if (len == 0 || len > 63 || p[0] == '-' || p[len - 1] == '-')
		return 0;
	for (i = 0; i < len; i++) {
		if (p[i] >= 0x80) {
			if (!(flags & ADDR_ALLOW_UTF8) ||
			    (n = utf8_seq(p + i, len - i, NULL)) == 0)
				return 0;
			i += n - 1;
		} else if (!((p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= '0' && p[i] <= '9') || p[i] == '-'))
			return 0;
	}
	return 1;
}

static int
valid_domain_n(const char *s, size_t len, int flags)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 start = 0, i;

	if (len == 0 || len > DOMAIN_MAX)
		return 0;
	if (s[0] == '[')
		return valid_literal(s, len);
	for (i = 0; i <= len; i++) {
		if (i == len || p[i] == '.') {
			/* Empty labels catch "a..b", ".a" and "a.". */
			if (!valid_label(p + start, i - start, flags))
				return 0;
			start = i + 1;
		}
	}
	return 1;
}

int
addr_valid_domain(const char *s, int flags)
{
	size_t	 len;

	len = strnlen(s, DOMAIN_MAX + 1);
	return valid_domain_n(s, len, flags);
}

/*
 * "alice"@example.org and alice@example.org name the same mailbox
 * (RFC 5321 4.1.2): drop quotes that are not needed.
 */
static void
unquote_if_atom(struct mailaddr *a, int flags)
{
	size_t	 len = strlen(a->user), end;

	if (len < 3 || a->user[0] != '"' || strchr(a->user, '\\') != NULL)
		return;
	if (scan_localpart(a->user + 1, len - 2, flags, &end) == 0 &&
	    end == len - 2) {
		memmove(a->user, a->user + 1, len - 2);
		a->user[len - 2] = '\0';
	}
}

/* Store "local@domain" from s[0..len) into a; 0 or -1. */
static int
split_mailbox(const char *s, size_t len, struct mailaddr *a, int flags)
{
	size_t	 end, dlen;

	memset(a, 0, sizeof(*a));	/* sent whole over IPC */
	if (scan_localpart(s, len, flags, &end) == -1)
		return -1;
	if (end >= len || s[end] != '@')
		return -1;
	dlen = len - end - 1;
	if (!valid_domain_n(s + end + 1, dlen, flags))
		return -1;
	memcpy(a->user, s, end);
	a->user[end] = '\0';
	memcpy(a->domain, s + end + 1, dlen);
	a->domain[dlen] = '\0';
	str_lower(a->domain);
	unquote_if_atom(a, flags);
	return 0;
}

int
addr_parse(const char *s, struct mailaddr *a, int flags)
{
	struct mailaddr	 tmp;
	size_t		 len;

	len = strnlen(s, ADDR_MAX + 1);
	if (len > ADDR_MAX)
		return -1;
	if (split_mailbox(s, len, &tmp, flags) == -1)
		return -1;
	*a = tmp;
	return 0;
}

int
addr_parse_path(const char **sp, struct mailaddr *a, int flags)
{
	const char	*s = *sp, *p, *end;
	struct mailaddr	 tmp;
	size_t		 n, lend;

	if (*s != '<')
		return -1;
	p = s + 1;
	if (*p == '>') {
		if (!(flags & ADDR_ALLOW_NULL))
			return -1;
		memset(a, 0, sizeof(*a));
		*sp = p + 1;
		return 0;
	}
	/* Obsolete source route "@a,@b:": checked, then ignored. */
	if (*p == '@') {
		for (;;) {
			p++;
			n = strcspn(p, ",:>");
			if (!valid_domain_n(p, n, flags & ADDR_ALLOW_UTF8))
				return -1;
			p += n;
			if (*p == ':')
				break;
			if (*p != ',' || p[1] != '@')
				return -1;
			p++;
		}
		p++;
	}
	/* The local part may quote '>', so scan it before looking for it. */
	n = strnlen(p, ADDR_MAX + 1);
	if (scan_localpart(p, n, flags, &lend) == -1 || p[lend] != '@')
		return -1;
	if ((end = strchr(p + lend, '>')) == NULL)
		return -1;
	if ((size_t)(end - p) > ADDR_MAX)
		return -1;
	if (split_mailbox(p, end - p, &tmp, flags) == -1)
		return -1;
	*a = tmp;
	*sp = end + 1;
	return 0;
}

int
addr_to_text(const struct mailaddr *a, char *buf, size_t len)
{
	int	 r;

	if (a->domain[0] == '\0')
		r = snprintf(buf, len, "%s", a->user);
	else
		r = snprintf(buf, len, "%s@%s", a->user, a->domain);
	if (r < 0 || (size_t)r >= len)
		return -1;
	return 0;
}

int
addr_is_null(const struct mailaddr *a)
{
	return a->user[0] == '\0' && a->domain[0] == '\0';
}

/* ASCII only: UTF-8 bytes are left alone, whatever the locale. */
void
str_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
}

int
path_component_safe(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;

	if (*p == '\0' || *p == '.')
		return 0;
	for (; *p != '\0'; p++)
		if (*p == '/' || *p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

int
addr_sa_loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in	*sin = (const void *)ss;
	const struct sockaddr_in6	*sin6 = (const void *)ss;

	if (ss->ss_family == AF_INET)
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
	return 0;
}

int
addr_sa_in_net(const struct sockaddr_storage *ss,
    const struct sockaddr_storage *net, int plen)
{
	const unsigned char	*a, *b;
	int			 i, max;

	if (plen < 0 || ss->ss_family != net->ss_family)
		return 0;
	if (ss->ss_family == AF_INET) {
		a = (const void *)&((const struct sockaddr_in *)ss)->sin_addr;
		b = (const void *)&((const struct sockaddr_in *)net)->sin_addr;
		max = 32;
	} else if (ss->ss_family == AF_INET6) {
		a = (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
		b = (const void *)
		    &((const struct sockaddr_in6 *)net)->sin6_addr;
		max = 128;
	} else
		return 0;
	if (plen > max)
		return 0;
	for (i = 0; i < plen / 8; i++)
		if (a[i] != b[i])
			return 0;
	if (plen % 8 != 0 &&
	    ((a[i] ^ b[i]) & (0xff00 >> (plen % 8)) & 0xff) != 0)
		return 0;
	return 1;
}

/* Past the quoted-string starting at *s ('"'); NULL if unterminated. */
static const char *
skip_quoted(const char *s)
{
	for (s++; *s != '"'; s++) {
		if (*s == '\\' && s[1] != '\0')
			s++;
		else if (*s == '\0')
			return NULL;
	}
	return s + 1;
}

/* Past the comment starting at *s ('('), nested; NULL if unterminated. */
static const char *
skip_comment(const char *s)
{
	int	 depth = 0;

	do {
		if (*s == '\\' && s[1] != '\0')
			s++;
		else if (*s == '(')
			depth++;
		else if (*s == ')')
			depth--;
		else if (*s == '\0')
			return NULL;
		s++;
	} while (depth > 0);
	return s;
}

/*
 * The address of a From header value holding one mailbox (RFC 5322
 * 3.4): "a@b", "Name <a@b>", "\"x@y, z\" <a@b>", comments anywhere.  The
 * angle-addr wins over everything else; without one, the value less its
 * comments is the addr-spec.  -1 for none, a list, a group, or an
 * address that does not parse: DKIM must not sign what a reader would
 * see differently from what was checked.
 */
int
addr_from_header(const char *v, struct mailaddr *a, int flags)
{
	char		 spec[ADDR_MAX + 1];
	const char	*p = v, *angle = NULL, *angle_end = NULL;
	size_t		 n = 0;

	while (*p != '\0') {
		switch (*p) {
		case '"':
			if ((p = skip_quoted(p)) == NULL)
				return -1;
			continue;
		case '(':
			if ((p = skip_comment(p)) == NULL)
				return -1;
			continue;
		case '<':
			if (angle != NULL ||
			    (angle_end = strchr(p, '>')) == NULL)
				return -1;
			angle = p + 1;
			p = angle_end + 1;
			continue;
		case ',':
		case ':':
		case ';':
		case '>':
			return -1;	/* a list, a group, or junk */
		}
		p++;
	}
	if (angle != NULL) {
		if ((size_t)(angle_end - angle) > ADDR_MAX)
			return -1;
		memcpy(spec, angle, angle_end - angle);
		spec[angle_end - angle] = '\0';
		return addr_parse(spec, a, flags);
	}
	/* a bare addr-spec: drop comments and folding white space */
	for (p = v; *p != '\0';) {
		if (*p == '(') {
			p = skip_comment(p);
			continue;
		}
		if (*p == '"') {
			const char *q = skip_quoted(p);

			if ((size_t)(q - p) >= sizeof(spec) - n)
				return -1;
			memcpy(spec + n, p, q - p);
			n += q - p;
			p = q;
			continue;
		}
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
			if (n + 1 >= sizeof(spec))
				return -1;
			spec[n++] = *p;
		}
		p++;
	}
	spec[n] = '\0';
	return n == 0 ? -1 : addr_parse(spec, a, flags);
}
