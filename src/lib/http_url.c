/*
 * HTTP service URLs (http_url.h).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "http_url.h"

int
http_url_parse(const char *url, struct http_url *u, char *err,
    size_t errlen)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&u->ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&u->ss;
	char			 addr[INET6_ADDRSTRLEN];
	const char		*p, *end;
	unsigned long		 port = 80;
	size_t			 n;

	memset(u, 0, sizeof(*u));
	if (strlen(url) >= HTTP_URL_MAX) {
		(void)snprintf(err, errlen, "URL longer than %d characters",
		    HTTP_URL_MAX - 1);
		return -1;
	}
	if (strncmp(url, "http://", 7) != 0) {
		(void)snprintf(err, errlen, "URL \"%.64s\" does not start with "
		    "http://", url);
		return -1;
	}
	p = url + 7;
	if (*p == '[') {
		if ((end = strchr(p, ']')) == NULL)
			goto bad;
		n = (size_t)(end - p - 1);
		if (n == 0 || n >= sizeof(addr))
			goto bad;
		memcpy(addr, p + 1, n);
		addr[n] = '\0';
		if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
			goto bad;
		sin6->sin6_family = AF_INET6;
		u->sslen = sizeof(*sin6);
		p = end + 1;
	} else {
		n = strcspn(p, ":/");
		if (n == 0 || n >= sizeof(addr))
			goto bad;
		memcpy(addr, p, n);
		addr[n] = '\0';
		if (strcmp(addr, "localhost") == 0)
			(void)strlcpy(addr, "127.0.0.1", sizeof(addr));
		if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1) {
			(void)snprintf(err, errlen, "URL \"%.64s\": the host "
			    "must be an IP address or localhost", url);
			return -1;
		}
		sin->sin_family = AF_INET;
		u->sslen = sizeof(*sin);
		p += n;
	}
	if (*p == ':') {
		p++;
		if (*p < '0' || *p > '9')
			goto bad;
		port = 0;
		while (*p >= '0' && *p <= '9' && port <= 65535)
			port = port * 10 + (unsigned long)(*p++ - '0');
		if (port == 0 || port > 65535)
			goto bad;
	}
	if (*p == '/')
		p++;
	if (*p != '\0') {
		(void)snprintf(err, errlen, "URL \"%.64s\": only a host and a "
		    "port, no path", url);
		return -1;
	}
	if (u->ss.ss_family == AF_INET6) {
		sin6->sin6_port = htons((uint16_t)port);
		(void)snprintf(u->host, sizeof(u->host), "[%s]:%lu", addr,
		    port);
	} else {
		sin->sin_port = htons((uint16_t)port);
		(void)snprintf(u->host, sizeof(u->host), "%s:%lu", addr, port);
	}
	return 0;
 bad:
	(void)snprintf(err, errlen, "invalid URL \"%.64s\"", url);
	return -1;
}
