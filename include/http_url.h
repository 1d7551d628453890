/*
 * The URLs of HTTP services maild talks to on this machine or its
 * network (rspamd): "http://HOST[:PORT][/]", HOST an IPv4 address, an
 * IPv6 one in brackets, or "localhost" (127.0.0.1).  No names to
 * resolve: the processes that connect are chrooted without a resolver,
 * and a content filter reached through DNS is one more thing to fail.
 */
#ifndef MAILD_HTTP_URL_H
#define MAILD_HTTP_URL_H

#include <sys/socket.h>

#define HTTP_URL_MAX	128

struct http_url {
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 host[72];	/* Host: "addr:port" */
};

/* 0, or -1 with the reason in err. */
int	http_url_parse(const char *, struct http_url *, char *, size_t);

#endif
