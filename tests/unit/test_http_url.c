/*
 * The URLs of rspamd in mail.conf (http_url.h): an address and a port,
 * nothing a chrooted process would have to resolve, nothing after.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "http_url.h"
#include "tap.h"

static int
port_of(const struct http_url *u)
{
	if (u->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&u->ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&u->ss)->sin_port);
}

int
main(void)
{
	static const char *const bad[] = {
		"", "http://", "https://127.0.0.1", "ftp://127.0.0.1",
		"http://example.org:11333", "http://127.0.0.1:0",
		"http://127.0.0.1:65536", "http://127.0.0.1:99999999999",
		"http://127.0.0.1:", "http://127.0.0.1:x", "http://[::1",
		"http://[]:80", "http://[1.2.3.4]:80", "http://::1:80",
		"http://127.0.0.1/checkv2", "http://127.0.0.1:11333/x",
		"http://127.0.0.1 :11333", "http://user@127.0.0.1",
		"http://127.0.0.1:11333?a", "http://256.1.1.1",
		"http://127.0.0.1:11333//",
		"http://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	struct http_url	 u;
	char		 err[160];
	size_t		 i;

	ok(http_url_parse("http://127.0.0.1:11333", &u, err,
	    sizeof(err)) == 0, "address and port");
	is_str(u.host, "127.0.0.1:11333", "... its Host header");
	is_int(port_of(&u), 11333, "... its port");
	ok(http_url_parse("http://localhost:11334/", &u, err,
	    sizeof(err)) == 0, "localhost, a slash");
	is_str(u.host, "127.0.0.1:11334", "... is 127.0.0.1");
	ok(http_url_parse("http://10.1.2.3", &u, err, sizeof(err)) == 0,
	    "no port");
	is_int(port_of(&u), 80, "... is port 80");
	ok(http_url_parse("http://[::1]:11333", &u, err, sizeof(err)) == 0 &&
	    u.ss.ss_family == AF_INET6, "IPv6 in brackets");
	is_str(u.host, "[::1]:11333", "... its Host header");
	is_int(port_of(&u), 11333, "... its port");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ok(http_url_parse(bad[i], &u, err, sizeof(err)) == -1 &&
		    err[0] != '\0', "refused with a reason: \"%.40s\"",
		    bad[i]);
	}
	ok(http_url_parse("http://example.org", &u, err, sizeof(err)) == -1 &&
	    strstr(err, "IP address or localhost") != NULL,
	    "a host name: the reason says why");
	return done_testing();
}
