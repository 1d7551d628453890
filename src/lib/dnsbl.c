/*
 * DNS blocklists and allowlists of SMTP clients, the parts without I/O
 * (dnsbl.h): the query name of a client under a zone, what an answer
 * means, the match ranges and the text of the refusal.  An answer is
 * hostile like the rest of DNS: an address is classified, never
 * trusted, and a TXT record becomes printable ASCII of bounded length
 * before it goes into a reply.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "compat.h"
#include "dns.h"
#include "dnsbl.h"

static const char *var_at(const char *, const char *, const char *,
		    size_t *);

int
dnsbl_qname(const struct sockaddr_storage *ss, const char *zone, char *out,
    size_t outsz)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	const unsigned char		*a;
	char				 rev[72], *p;
	int				 i, r;

	if (ss->ss_family == AF_INET) {
		sin = (const struct sockaddr_in *)ss;
		a = (const unsigned char *)&sin->sin_addr;
	} else if (ss->ss_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)ss;
		a = sin6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			a += 12;
		else {
			p = rev;
			for (i = 15; i >= 0; i--) {
				/* 4 bytes each, 64 in all: rev holds them */
				(void)snprintf(p, 5, "%x.%x.", a[i] & 0xf,
				    a[i] >> 4);
				p += 4;
			}
			goto name;
		}
	} else
		return -1;
	(void)snprintf(rev, sizeof(rev), "%u.%u.%u.%u.", a[3], a[2], a[1],
	    a[0]);
 name:
	r = snprintf(out, outsz, "%s%s", rev, zone);
	if (r < 0 || (size_t)r >= outsz || r > DNS_NAME_MAX)
		return -1;
	return 0;
}

int
dnsbl_zone_valid(const char *in, char *out, size_t outsz)
{
	char	 buf[DNS_NAME_MAX + 1];

	if (!dns_name_valid(in, buf, sizeof(buf)) ||
	    strlen(buf) > DNSBL_ZONE_MAX || strchr(buf, '.') == NULL)
		return 0;
	return strlcpy(out, buf, outsz) < outsz;
}

enum dnsbl_answer
dnsbl_classify(const struct dnsbl_zone *z, const unsigned char *a)
{
	uint32_t	 v;
	size_t		 i;

	if (a[0] != 127)
		return DNSBL_BOGUS;
	if (a[1] == 255 && a[2] == 255)
		return DNSBL_ERRCODE;
	if (z->nmatch == 0)
		return DNSBL_LISTED;
	v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 |
	    (uint32_t)a[2] << 8 | a[3];
	for (i = 0; i < z->nmatch; i++)
		if (v >= z->match[i].lo && v <= z->match[i].hi)
			return DNSBL_LISTED;
	return DNSBL_NOMATCH;
}

/* Spamhaus's return codes, https://www.spamhaus.org/faqs/ */
const char *
dnsbl_errcode(const unsigned char *a)
{
	if (a[0] != 127 || a[1] != 255 || a[2] != 255)
		return "not an error code";
	switch (a[3]) {
	case 252:
		return "typing error in the list's name";
	case 254:
		return "query through a public or open resolver: use a "
		    "resolver of your own";
	case 255:
		return "excessive number of queries";
	}
	return "error code of the list";
}

int
dnsbl_range_parse(const char *s, struct dnsbl_range *r)
{
	struct in_addr	 lo, hi;
	const char	*dash;
	char		 buf[INET_ADDRSTRLEN];
	size_t		 n;

	if ((dash = strchr(s, '-')) == NULL)
		n = strlen(s);
	else
		n = (size_t)(dash - s);
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, &lo) != 1)
		return -1;
	if (dash == NULL)
		hi = lo;
	else if (strlcpy(buf, dash + 1, sizeof(buf)) >= sizeof(buf) ||
	    inet_pton(AF_INET, buf, &hi) != 1)
		return -1;
	r->lo = ntohl(lo.s_addr);
	r->hi = ntohl(hi.s_addr);
	return r->lo <= r->hi ? 0 : -1;
}

/* The value of the variable s starts with, its length in *len; NULL. */
static const char *
var_at(const char *s, const char *ip, const char *zone, size_t *len)
{
	if (strncmp(s, "%{ip}", 5) == 0) {
		*len = 5;
		return ip;
	}
	if (strncmp(s, "%{zone}", 7) == 0) {
		*len = 7;
		return zone;
	}
	return NULL;
}

int
dnsbl_message_valid(const char *s)
{
	size_t	 len;

	if (strlen(s) > DNSBL_MSG_MAX)
		return 0;
	while (*s != '\0') {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
		if (*s != '%') {
			s++;
			continue;
		}
		if (var_at(s, "", "", &len) == NULL)
			return 0;
		s += len;
	}
	return 1;
}

void
dnsbl_expand(const char *tmpl, const char *ip, const char *zone, char *out,
    size_t outsz)
{
	const char	*v;
	size_t		 n = 0, len, vlen, max;

	if (outsz == 0)
		return;
	max = outsz - 1 < DNSBL_REPLY_MAX ? outsz - 1 : DNSBL_REPLY_MAX;
	while (*tmpl != '\0' && n < max) {
		if (*tmpl == '%' &&
		    (v = var_at(tmpl, ip, zone, &len)) != NULL) {
			vlen = strlen(v);
			if (vlen > max - n)
				vlen = max - n;
			memcpy(out + n, v, vlen);
			n += vlen;
			tmpl += len;
		} else
			out[n++] = *tmpl++;
	}
	out[n] = '\0';
}

size_t
dnsbl_sanitize(const char *in, size_t len, char *out, size_t outsz)
{
	size_t		 i, n = 0, max;
	unsigned char	 c;

	if (outsz == 0)
		return 0;
	max = outsz - 1 < DNSBL_TEXT_MAX ? outsz - 1 : DNSBL_TEXT_MAX;
	for (i = 0; i < len && n < max; i++) {
		c = (unsigned char)in[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			if (n > 0 && out[n - 1] != ' ')
				out[n++] = ' ';
		} else if (c < 0x20 || c > 0x7e)
			out[n++] = '?';
		else
			out[n++] = (char)c;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
	return n;
}
