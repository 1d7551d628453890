/*
 * Unit tests for rspamd.c: request heads (every field, the null sender,
 * values refused, buffers too small); the answer reader over the real
 * rspamd 3.4 answers in tests/data/rspamd (see its README) fed whole,
 * byte by byte and in uneven pieces, cut short at every byte, and over
 * made-up answers: chunked, Content-Length, until EOF, malformed and
 * oversized; the /checkv2 answers read field by field, and made-up ones
 * for every shape of the milter block, unsafe names and values, bounds;
 * the symbol list; the learn answers.
 */
#include <sys/types.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rspamd.h"
#include "tap.h"
#include "util.h"

#define ABS(d)	((d) < 0 ? -(d) : (d))

#define DATADIR	"tests/data/rspamd"

struct httpcase {
	const char	*in;
	const char	*why;	/* NULL: must end DONE with body */
	const char	*body;
	int		 eof;	/* call rspamd_http_eof() at the end */
};

static char	*slurp(const char *, size_t *);
static int	 feed(struct rspamd_http *, const char *, size_t, size_t);
static char	*fixture_body(const char *, int *, size_t *);
static int	 check(const char *, struct rspamd_result *, char *, size_t);
static const struct rspamd_field *added(const struct rspamd_result *,
		    const char *);
static int	 removed(const struct rspamd_result *, const char *, int);
static void	 test_request(void);
static void	 test_http_fixtures(void);
static void	 test_http_cases(void);
static void	 test_http_limits(void);
static void	 test_check_fixtures(void);
static void	 test_check_milter(void);
static void	 test_check_bad(void);
static void	 test_check_strings(void);
static void	 test_symbols(void);
static void	 test_field_pos(void);
static void	 test_learn(void);

static const char *const fixtures[] = {
	"check-ham", "check-gtube", "check-add-header",
	"check-rewrite-subject", "check-soft-reject", "check-greylist",
	"check-reject", "check-dkim", "check-empty", "learn-spam",
	"learn-spam-again", "learn-ham-relearn", "learn-too-small",
	"learn-empty", "controller-not-found",
};
#define NFIXTURES	(sizeof(fixtures) / sizeof(fixtures[0]))

static char *
slurp(const char *name, size_t *len)
{
	char	 path[512], *s;
	int	 fd;

	(void)snprintf(path, sizeof(path), "%s/%s.http", DATADIR, name);
	if ((fd = open(path, O_RDONLY)) == -1) {
		printf("Bail out! %s: cannot open\n", path);
		exit(1);
	}
	s = read_fd(fd, 4 << 20, len);
	close(fd);
	if (s == NULL) {
		printf("Bail out! %s: cannot read\n", path);
		exit(1);
	}
	return s;
}

/*
 * Feed in pieces of step bytes (0: varying sizes), on after DONE (more
 * is then an error); the last result.
 */
static int
feed(struct rspamd_http *h, const char *buf, size_t len, size_t step)
{
	size_t	 n, i = 0, k = 0;
	int	 r = RSPAMD_HTTP_MORE;

	while (i < len) {
		n = step ? step : 1 + (k++ * 7919) % 97;
		if (n > len - i)
			n = len - i;
		r = rspamd_http_feed(h, buf + i, n);
		i += n;
		if (r == RSPAMD_HTTP_ERROR)
			break;
	}
	return r;
}

/* The body of a fixture as the reader gives it, and its status. */
static char *
fixture_body(const char *name, int *status, size_t *len)
{
	struct rspamd_http	 h;
	char			*raw, *body;
	size_t			 rawlen;

	raw = slurp(name, &rawlen);
	rspamd_http_init(&h);
	if (feed(&h, raw, rawlen, rawlen) != RSPAMD_HTTP_DONE) {
		printf("Bail out! %s: %s\n", name, h.error);
		exit(1);
	}
	free(raw);
	*status = h.status;
	*len = h.bodylen;
	body = h.body;
	h.body = NULL;
	rspamd_http_free(&h);
	return body;
}

static int
check(const char *json, struct rspamd_result *res, char *err, size_t errlen)
{
	err[0] = '\0';
	return rspamd_parse_check(json, strlen(json), res, err, errlen);
}

static const struct rspamd_field *
added(const struct rspamd_result *res, const char *name)
{
	size_t	 i;

	for (i = 0; i < res->nadd; i++)
		if (strcmp(res->add[i].name, name) == 0)
			return &res->add[i];
	return NULL;
}

static int
removed(const struct rspamd_result *res, const char *name, int index)
{
	size_t	 i;

	for (i = 0; i < res->nremove; i++)
		if (strcmp(res->remove[i].name, name) == 0 &&
		    res->remove[i].index == index)
			return 1;
	return 0;
}

static void
test_request(void)
{
	const char		*rcpts[] = { "bob@example.net",
				    "j\xc3\xb6rg@example.net" };
	struct rspamd_req	 req;
	char			 buf[2048], big[RSPAMD_VALUE_MAX + 2];
	const char		*want;
	size_t			 n;
	int			 len;

	memset(&req, 0, sizeof(req));
	req.path = "/checkv2";
	req.host = "127.0.0.1:11333";
	req.content_length = 1234;
	req.ip = "192.0.2.10";
	req.helo = "mail.example.org";
	req.hostname = "mail.example.org";
	req.from = "alice@example.org";
	req.rcpts = rcpts;
	req.nrcpts = 2;
	req.queue_id = "0123456789abcdef";
	req.user = "alice";
	req.tls_version = "TLSv1.3";
	req.tls_cipher = "TLS_AES_256_GCM_SHA384";
	req.mta_name = "mx.example.net";
	want = "POST /checkv2 HTTP/1.1\r\nHost: 127.0.0.1:11333\r\n"
	    "Content-Length: 1234\r\nConnection: close\r\n"
	    "IP: 192.0.2.10\r\nHelo: mail.example.org\r\n"
	    "Hostname: mail.example.org\r\nFrom: <alice@example.org>\r\n"
	    "Rcpt: <bob@example.net>\r\nRcpt: <j\xc3\xb6rg@example.net>\r\n"
	    "Queue-Id: 0123456789abcdef\r\nUser: alice\r\n"
	    "TLS-Version: TLSv1.3\r\nTLS-Cipher: TLS_AES_256_GCM_SHA384\r\n"
	    "MTA-Name: mx.example.net\r\n\r\n";
	len = rspamd_request(buf, sizeof(buf), &req);
	ok(len == (int)strlen(want), "request length");
	is_str(buf, want, "request with every field");

	/* Each buffer size: too small is -1, never an overrun. */
	for (n = 0; n <= strlen(want); n++)
		if (rspamd_request(buf, n, &req) != -1)
			break;
	ok(n == strlen(want) + 1, "buffer needs the head and a NUL");
	ok(rspamd_request(buf, strlen(want) + 1, &req) == (int)strlen(want),
	    "exact buffer");

	/* Null sender, unknown host name, no TLS, not authenticated. */
	req.from = "";
	req.hostname = "unknown";
	req.user = NULL;
	req.tls_version = "";
	req.tls_cipher = NULL;
	req.nrcpts = 1;
	req.path = "/learnspam";
	req.password = "q1";
	req.host = NULL;
	req.content_length = 0;
	want = "POST /learnspam HTTP/1.1\r\nHost: localhost\r\n"
	    "Content-Length: 0\r\nConnection: close\r\nPassword: q1\r\n"
	    "IP: 192.0.2.10\r\nHelo: mail.example.org\r\n"
	    "From: <>\r\nRcpt: <bob@example.net>\r\n"
	    "Queue-Id: 0123456789abcdef\r\nMTA-Name: mx.example.net\r\n\r\n";
	(void)rspamd_request(buf, sizeof(buf), &req);
	is_str(buf, want, "null sender, no host name, password");
	req.from = NULL;
	req.hostname = NULL;
	(void)rspamd_request(buf, sizeof(buf), &req);
	ok(strstr(buf, "From:") == NULL && strstr(buf, "Hostname:") == NULL,
	    "no From, no Hostname");

	/* Refused values. */
	req.helo = "a\r\nX-Injected: 1";
	ok(rspamd_request(buf, sizeof(buf), &req) == -1, "CRLF refused");
	req.helo = "a\nb";
	ok(rspamd_request(buf, sizeof(buf), &req) == -1, "LF refused");
	req.helo = "a\tb";
	ok(rspamd_request(buf, sizeof(buf), &req) == -1, "tab refused");
	req.helo = "a\x7f";
	ok(rspamd_request(buf, sizeof(buf), &req) == -1, "DEL refused");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	req.helo = big;
	ok(rspamd_request(buf, sizeof(buf), &req) == -1, "too long refused");
	big[RSPAMD_VALUE_MAX] = '\0';
	ok(rspamd_request(buf, sizeof(buf), &req) > 0,
	    "RSPAMD_VALUE_MAX bytes pass");
	req.helo = "ok";
	req.from = "a\rb@example.org";
	ok(rspamd_request(buf, sizeof(buf), &req) == -1, "bad From");
	req.from = "";
	rcpts[0] = "";
	ok(rspamd_request(buf, sizeof(buf), &req) == -1, "empty Rcpt");
	rcpts[0] = "x@y\r\n";
	ok(rspamd_request(buf, sizeof(buf), &req) == -1, "bad Rcpt");
	rcpts[0] = "bob@example.net";
	req.password = "p\nw";
	ok(rspamd_request(buf, sizeof(buf), &req) == -1, "bad Password");
	req.password = NULL;
	req.path = "checkv2";
	ok(rspamd_request(buf, sizeof(buf), &req) == -1, "path without /");
	req.path = "/check v2";
	ok(rspamd_request(buf, sizeof(buf), &req) == -1, "path with space");
	req.path = "/checkv2";
	req.host = "a b";
	ok(rspamd_request(buf, sizeof(buf), &req) == -1, "host with space");
	req.host = "";
	ok(rspamd_request(buf, sizeof(buf), &req) == -1, "empty host");
	req.host = NULL;
	ok(rspamd_request(buf, sizeof(buf), &req) > 0, "back to good");
}

static void
test_http_fixtures(void)
{
	struct rspamd_http	 h;
	static const size_t	 steps[] = { 0, 1, 2, 3, 1000000 };
	char			*raw, *body;
	size_t			 i, j, rawlen, cut;
	int			 r, allcut;

	for (i = 0; i < NFIXTURES; i++) {
		raw = slurp(fixtures[i], &rawlen);
		body = strstr(raw, "\r\n\r\n") + 4;
		for (j = 0; j < sizeof(steps) / sizeof(steps[0]); j++) {
			rspamd_http_init(&h);
			r = feed(&h, raw, rawlen, steps[j]);
			ok(r == RSPAMD_HTTP_DONE && h.bodylen ==
			    rawlen - (body - raw) && memcmp(h.body, body,
			    h.bodylen) == 0 && h.body[h.bodylen] == '\0' &&
			    rspamd_http_eof(&h) == RSPAMD_HTTP_DONE,
			    "%s, pieces of %zu", fixtures[i], steps[j]);
			if (j == 0)
				ok(h.status == atoi(raw + 9) &&
				    strncmp(h.reason, raw + 13,
				    strlen(h.reason)) == 0, "%s: status %d %s",
				    fixtures[i], h.status, h.reason);
			rspamd_http_free(&h);
		}
		/* Cut short anywhere: an error at EOF, never DONE. */
		allcut = 1;
		for (cut = 0; cut < rawlen; cut++) {
			rspamd_http_init(&h);
			r = feed(&h, raw, cut, 0);
			if (r != RSPAMD_HTTP_MORE || rspamd_http_eof(&h) !=
			    RSPAMD_HTTP_ERROR || h.error == NULL)
				allcut = 0;
			rspamd_http_free(&h);
		}
		ok(allcut, "%s cut short at each byte", fixtures[i]);
		/* A byte too many. */
		rspamd_http_init(&h);
		raw[rawlen] = 'x';
		ok(feed(&h, raw, rawlen + 1, rawlen + 1) == RSPAMD_HTTP_ERROR &&
		    strstr(h.error, "after") != NULL, "%s and a byte more",
		    fixtures[i]);
		rspamd_http_free(&h);
		free(raw);
	}
}

static const struct httpcase httpcases[] = {
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n6;ext=\"1\"\r\n world\r\n0\r\n\r\n", NULL,
	    "hello world", 0 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
	    "A \r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\n", NULL,
	    "0123456789", 0 },
	{ "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
	    NULL, "", 0 },
	{ "HTTP/1.0 200 OK\r\n\r\n{\"a\":1}", NULL, "{\"a\":1}", 1 },
	{ "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", NULL, "", 1 },
	{ "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", NULL, "ok", 0 },
	{ "HTTP/1.1 500 \r\ncontent-length:  3 \r\n\r\nbad", NULL, "bad", 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n"
	    "abc", NULL, "abc", 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", NULL, "", 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Encoding: identity\r\n"
	    "Content-Length: 1\r\n\r\nx", NULL, "x", 0 },
	{ "HTTP/1.1 200 OK\r\nX-Empty:\r\nContent-Length: 1\r\n\r\nx", NULL,
	    "x", 0 },
	{ "HTTP/1.1 200 OK\r\nX: \x80\xff\r\nContent-Length: 1\r\n\r\nx",
	    NULL, "x", 0 },

	{ "", "without an answer", NULL, 1 },
	{ "HTTP/1.1 200 OK\r\n", "middle", NULL, 1 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc", "middle", NULL,
	    1 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello",
	    "middle", NULL, 1 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
	    "middle", NULL, 1 },
	{ "HTTP/1.1 200 OK\nContent-Length: 0\n\n", "CRLF", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n", "CRLF", NULL, 0 },
	{ "HTTP/2 200 OK\r\n", "status line", NULL, 0 },
	{ "HTTP/1.2 200 OK\r\n", "status line", NULL, 0 },
	{ "http/1.1 200 OK\r\n", "status line", NULL, 0 },
	{ "HTTP/1.1  200 OK\r\n", "status code", NULL, 0 },
	{ "HTTP/1.1 20 OK\r\n", "status code", NULL, 0 },
	{ "HTTP/1.1 2000 OK\r\n", "status code", NULL, 0 },
	{ "HTTP/1.1 600 OK\r\n", "status code", NULL, 0 },
	{ "HTTP/1.1 100 Continue\r\n\r\n", "interim", NULL, 0 },
	{ "HTTP/1.1 200 O\x01K\r\n", "control", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\n folded: x\r\n", "folding", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n", "folding", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nBad Name: x\r\n", "field name", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nName : x\r\n", "field name", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\n: x\r\n", "field name", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nNoColon\r\n", "field name", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nX: a\rb\r\n", "control", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nX: a\x7f\r\n", "control", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n", "Content-Length",
	    NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 1,1\r\n", "Content-Length",
	    NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: \r\n", "Content-Length", NULL,
	    0 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n", "Content-Length",
	    NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n",
	    "conflicting", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n",
	    "too large", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n",
	    "Transfer-Encoding", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n", "Transfer-Encoding", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Length: 5\r\n\r\n", "both", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n", "compressed", NULL,
	    0 },
	{ "HTTP/1.1 200 OK\r\nContent-Encoding: zstd\r\n", "compressed", NULL,
	    0 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nx\r\n",
	    "chunk size", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
	    "chunk size", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
	    "chunk size", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\n",
	    "chunk size", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;\x01\r\n",
	    "extension", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "fffffffffffffffff\r\n", "too large", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "100001\r\n", "too large", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "2\r\nabc\r\n", "CRLF", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "0\r\nBad Trailer\r\n", "field name", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nX: \0\r\n", "NUL", NULL, 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxy", "after", NULL,
	    0 },
};

static void
test_http_cases(void)
{
	struct rspamd_http		 h;
	const struct httpcase		*c;
	size_t				 i, len, step;
	int				 r;

	for (i = 0; i < sizeof(httpcases) / sizeof(httpcases[0]); i++) {
		c = &httpcases[i];
		len = strlen(c->in);
		if (strstr(c->why != NULL ? c->why : "", "NUL") != NULL)
			len = strlen(c->in) + 3;
		for (step = 1; step <= len + 1; step += len > 0 ? len : 1) {
			rspamd_http_init(&h);
			r = feed(&h, c->in, len, step);
			if (c->eof && r == RSPAMD_HTTP_MORE)
				r = rspamd_http_eof(&h);
			if (c->why == NULL)
				ok(r == RSPAMD_HTTP_DONE &&
				    strcmp(h.body, c->body) == 0 &&
				    h.bodylen == strlen(c->body),
				    "answer %zu, pieces of %zu", i, step);
			else {
				ok(r == RSPAMD_HTTP_ERROR && h.error != NULL &&
				    strstr(h.error, c->why) != NULL,
				    "refused (%s): %zu, pieces of %zu", c->why,
				    i, step);
				if (r != RSPAMD_HTTP_ERROR || h.error == NULL ||
				    strstr(h.error, c->why) == NULL)
					printf("#   got %d: %s\n", r,
					    h.error ? h.error : "");
				/* Sticky. */
				ok(rspamd_http_feed(&h, "x", 1) ==
				    RSPAMD_HTTP_ERROR && rspamd_http_eof(&h) ==
				    RSPAMD_HTTP_ERROR, "error stays");
			}
			rspamd_http_free(&h);
		}
	}
	rspamd_http_init(&h);
	ok(rspamd_http_feed(&h, "HTTP/1.1 201 Created; fine\r\n", 28) ==
	    RSPAMD_HTTP_MORE && h.status == 201 &&
	    strcmp(h.reason, "Created; fine") == 0, "status and reason");
	rspamd_http_free(&h);
	rspamd_http_init(&h);
	ok(rspamd_http_feed(&h, "HTTP/1.1 208 <a\xc3\xa9@b>  x\r\n", 25) ==
	    RSPAMD_HTTP_MORE && strcmp(h.reason, "<a?@b> x") == 0,
	    "reason made printable");
	rspamd_http_free(&h);
}

static void
test_http_limits(void)
{
	struct rspamd_http	 h;
	char			*buf;
	size_t			 n, i;
	int			 r;

	buf = malloc(2 * RSPAMD_BODY_MAX + 1000);
	/* Content-Length: the largest body, and one more. */
	for (i = 0; i < 2; i++) {
		n = snprintf(buf, 100, "HTTP/1.1 200 OK\r\nContent-Length: "
		    "%d\r\n\r\n", RSPAMD_BODY_MAX + (int)i);
		memset(buf + n, 'a', RSPAMD_BODY_MAX + i);
		rspamd_http_init(&h);
		r = feed(&h, buf, n + RSPAMD_BODY_MAX + i, 65536);
		if (i == 0)
			ok(r == RSPAMD_HTTP_DONE &&
			    h.bodylen == RSPAMD_BODY_MAX, "largest body");
		else
			ok(r == RSPAMD_HTTP_ERROR &&
			    strstr(h.error, "too large") != NULL,
			    "Content-Length over RSPAMD_BODY_MAX");
		rspamd_http_free(&h);
	}
	/* Until EOF. */
	n = snprintf(buf, 100, "HTTP/1.1 200 OK\r\n\r\n");
	memset(buf + n, 'a', RSPAMD_BODY_MAX + 1);
	rspamd_http_init(&h);
	r = feed(&h, buf, n + RSPAMD_BODY_MAX, 4096);
	ok(r == RSPAMD_HTTP_MORE && rspamd_http_eof(&h) == RSPAMD_HTTP_DONE &&
	    h.bodylen == RSPAMD_BODY_MAX, "largest body until EOF");
	rspamd_http_free(&h);
	rspamd_http_init(&h);
	r = feed(&h, buf, n + RSPAMD_BODY_MAX + 1, 4096);
	ok(r == RSPAMD_HTTP_ERROR && strstr(h.error, "too large") != NULL,
	    "body until EOF over RSPAMD_BODY_MAX");
	rspamd_http_free(&h);
	/* Chunked: chunks of 1000 bytes past the bound. */
	n = snprintf(buf, 100, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n");
	for (i = 0; i < RSPAMD_BODY_MAX / 1000 + 1; i++) {
		n += snprintf(buf + n, 10, "3e8\r\n");
		memset(buf + n, 'b', 1000);
		n += 1000;
		memcpy(buf + n, "\r\n", 2);
		n += 2;
	}
	rspamd_http_init(&h);
	ok(feed(&h, buf, n, 8192) == RSPAMD_HTTP_ERROR &&
	    strstr(h.error, "too large") != NULL, "chunked over the bound");
	rspamd_http_free(&h);
	/* Many small chunks, then a trailer: framing is no head. */
	n = snprintf(buf, 100, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n");
	for (i = 0; i < 20000; i++)
		n += snprintf(buf + n, 100, "a\r\n0123456789\r\n");
	n += snprintf(buf + n, 100, "0\r\nX-Trailer: 1\r\n\r\n");
	rspamd_http_init(&h);
	ok(feed(&h, buf, n, 4096) == RSPAMD_HTTP_DONE && h.bodylen == 200000 &&
	    memcmp(h.body + 199990, "0123456789", 11) == 0,
	    "20000 chunks and a trailer");
	rspamd_http_free(&h);
	/* Many tiny chunks: bounded framing. */
	n = snprintf(buf, 100, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n");
	while (n < 2 * RSPAMD_BODY_MAX + 500)
		n += snprintf(buf + n, 100, "1;%s\r\nc\r\n",
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	rspamd_http_init(&h);
	ok(feed(&h, buf, n, 8192) == RSPAMD_HTTP_ERROR &&
	    strstr(h.error, "framing") != NULL, "chunk framing bounded");
	rspamd_http_free(&h);
	/* A long line; a large head of short lines. */
	n = snprintf(buf, 100, "HTTP/1.1 200 OK\r\nX: ");
	memset(buf + n, 'h', RSPAMD_LINE_MAX);
	rspamd_http_init(&h);
	ok(feed(&h, buf, n + RSPAMD_LINE_MAX, 100) == RSPAMD_HTTP_ERROR &&
	    strstr(h.error, "line too long") != NULL, "line too long");
	rspamd_http_free(&h);
	n = snprintf(buf, 100, "HTTP/1.1 200 OK\r\n");
	while (n < RSPAMD_HEAD_MAX + 100)
		n += snprintf(buf + n, 100, "X-Field: value\r\n");
	rspamd_http_init(&h);
	ok(feed(&h, buf, n, 1) == RSPAMD_HTTP_ERROR &&
	    strstr(h.error, "head too large") != NULL, "head too large");
	rspamd_http_free(&h);
	free(buf);
}

static void
test_check_fixtures(void)
{
	struct rspamd_result		 res;
	const struct rspamd_field	*f;
	char				*body, err[256], syms[512];
	size_t				 len, i;
	int				 status, r, sorted;

	body = fixture_body("check-gtube", &status, &len);
	r = rspamd_parse_check(body, len, &res, err, sizeof(err));
	ok(r == 0 && res.action == RSPAMD_REJECT && res.score == 50 &&
	    res.required_score == 50 && res.is_skipped, "gtube: reject");
	is_str(res.smtp_message, "Gtube pattern", "gtube: smtp_message");
	is_str(res.message_id, "Test.spam@example.org", "gtube: message-id");
	ok(res.nsymbols == 1 && res.nsymbols_total == 1 && res.nadd == 0 &&
	    res.nremove == 0 && res.ndkim == 0 && res.subject == NULL,
	    "gtube: one symbol, no milter block");
	rspamd_symbols_str(&res, syms, sizeof(syms));
	is_str(syms, "GTUBE(0.00)", "gtube: symbols");
	rspamd_result_free(&res);
	free(body);

	body = fixture_body("check-ham", &status, &len);
	r = rspamd_parse_check(body, len, &res, err, sizeof(err));
	ok(r == 0 && res.action == RSPAMD_NO_ACTION && !res.is_skipped &&
	    ABS(res.score - 3.4) < 1e-6 && res.smtp_message == NULL,
	    "ham: no action");
	ok(res.nsymbols == 26 && res.nsymbols_total == 26, "ham: symbols");
	sorted = 1;
	for (i = 1; i < res.nsymbols; i++)
		if (ABS(res.symbols[i].score) > ABS(res.symbols[i - 1].score))
			sorted = 0;
	ok(sorted, "ham: symbols by |score|");
	rspamd_symbols_str(&res, syms, 100);
	is_str(syms, "HFILTER_FROMHOST_NORES_A_OR_MX(1.50),DATE_IN_PAST(1.00),"
	    "HFILTER_HELO_IP_A(1.00),...", "ham: symbols, cut");
	ok(res.nadd == 8 && res.nremove == 11, "ham: 8 to add, 11 to remove");
	ok(removed(&res, "X-Spam", 0) && removed(&res, "X-Remove-Last", -1) &&
	    removed(&res, "X-Remove-First", 1), "ham: removals");
	f = added(&res, "X-Spamd-Result");
	ok(f != NULL && f->order == -1 && strncmp(f->value,
	    "default: False [3.40 / 50.00];\r\n\tHFILTER_FROMHOST", 48) == 0,
	    "ham: X-Spamd-Result folded CRLF");
	f = added(&res, "Authentication-Results");
	ok(f != NULL && f->order == 1 && rspamd_field_pos(f, 10) == 1,
	    "ham: Authentication-Results after Received:");
	f = added(&res, "X-Spam-Status");
	ok(f != NULL && strcmp(f->value, "No, score=3.40") == 0 &&
	    rspamd_field_pos(f, 10) == 10, "ham: X-Spam-Status appended");
	rspamd_result_free(&res);
	free(body);

	body = fixture_body("check-add-header", &status, &len);
	r = rspamd_parse_check(body, len, &res, err, sizeof(err));
	ok(r == 0 && res.action == RSPAMD_ADD_HEADER &&
	    strcmp(res.symbols[0].name, "SPAM_FLAG") == 0 &&
	    res.symbols[0].score == 5 &&
	    strcmp(res.symbols[1].name, "MAILD_TEST_SCORE") == 0,
	    "add header, SPAM_FLAG first");
	f = added(&res, "X-Spam-Status");
	ok(f != NULL && strcmp(f->value, "Yes, score=10.20") == 0,
	    "add header: X-Spam-Status");
	rspamd_result_free(&res);
	free(body);

	body = fixture_body("check-rewrite-subject", &status, &len);
	r = rspamd_parse_check(body, len, &res, err, sizeof(err));
	ok(r == 0 && res.action == RSPAMD_REWRITE_SUBJECT, "rewrite subject");
	is_str(res.subject, "***SPAM*** Cheap pills", "rewritten subject");
	rspamd_result_free(&res);
	free(body);

	body = fixture_body("check-soft-reject", &status, &len);
	r = rspamd_parse_check(body, len, &res, err, sizeof(err));
	ok(r == 0 && res.action == RSPAMD_SOFT_REJECT, "soft reject");
	is_str(res.smtp_message, "Asked for soft reject by the \"test\"",
	    "soft reject: message");
	f = added(&res, "X-Rspamd-Pre-Result");
	ok(f != NULL && strstr(f->value, "\r\n\tmodule=") != NULL,
	    "soft reject: X-Rspamd-Pre-Result");
	rspamd_result_free(&res);
	free(body);

	body = fixture_body("check-greylist", &status, &len);
	r = rspamd_parse_check(body, len, &res, err, sizeof(err));
	ok(r == 0 && res.action == RSPAMD_GREYLIST, "greylist");
	rspamd_result_free(&res);
	free(body);

	body = fixture_body("check-reject", &status, &len);
	r = rspamd_parse_check(body, len, &res, err, sizeof(err));
	ok(r == 0 && res.action == RSPAMD_REJECT && res.smtp_message != NULL &&
	    strcmp(res.smtp_message, "Asked for reject by the \"test\"") == 0,
	    "reject with a message");
	rspamd_result_free(&res);
	free(body);

	body = fixture_body("check-dkim", &status, &len);
	r = rspamd_parse_check(body, len, &res, err, sizeof(err));
	ok(r == 0 && res.action == RSPAMD_NO_ACTION && res.ndkim == 1 &&
	    strncmp(res.dkim[0], "v=1; a=rsa-sha256; c=relaxed/relaxed; "
	    "d=example.org; s=test;\r\n\tt=", 62) == 0, "dkim-signature");
	ok(r == 0 && strstr(res.dkim[0], "\n\t to:to:cc") != NULL &&
	    strstr(res.dkim[0], "\r\n\tb=") != NULL, "dkim-signature folds");
	f = added(&res, "Authentication-Results");
	ok(f != NULL && strstr(f->value, "smtp.auth=alice@example.org") !=
	    NULL, "dkim: authenticated");
	rspamd_result_free(&res);
	free(body);

	body = fixture_body("check-empty", &status, &len);
	r = rspamd_parse_check(body, len, &res, err, sizeof(err));
	ok(r == 0 && res.message_id == NULL && res.nsymbols == 0 &&
	    res.nadd == 6, "empty message");
	rspamd_symbols_str(&res, syms, sizeof(syms));
	is_str(syms, "", "no symbols");
	rspamd_result_free(&res);
	free(body);

	/* A learn answer is no check answer. */
	body = fixture_body("learn-spam-again", &status, &len);
	r = rspamd_parse_check(body, len, &res, err, sizeof(err));
	ok(r == -1 && strncmp(err, "rspamd: <Minutes", 16) == 0,
	    "error answer: %s", err);
	free(body);
}

static void
test_check_milter(void)
{
	struct rspamd_result		 res;
	const struct rspamd_field	*f;
	char				 err[256];
	int				 r;

	r = check("{\"action\":\"add_header\",\"score\":7,\"milter\":{"
	    "\"add_headers\":{\"X-A\":\"legacy\",\"X-B\":{\"value\":\"b\","
	    "\"order\":0},\"X-C\":{\"value\":\"c\",\"index\":3},"
	    "\"X-D\":[{\"value\":\"d1\",\"order\":-1},\"d2\",{\"value\":"
	    "\"d3\",\"order\":-3},{\"order\":1},7],\"X-E\":{\"order\":2},"
	    "\"X-F\":42,\"X-G\":{\"value\":5},\"X-H\":{\"value\":\"h\","
	    "\"order\":\"1\"}},"
	    "\"remove_headers\":{\"X-R\":0,\"X-S\":[1,-1,2],\"X-T\":\"1\","
	    "\"X-U\":null},\"no_action\":true,\"change_from\":\"x@y\","
	    "\"add_rcpt\":[\"z@y\"],\"reject\":\"discard\"}}",
	    &res, err, sizeof(err));
	ok(r == 0 && res.action == RSPAMD_ADD_HEADER && res.no_action,
	    "milter block read: %s", err);
	ok(res.nadd == 7, "7 fields to add (the others ignored)");
	ok(res.nadd == 7 && strcmp(res.add[0].name, "X-A") == 0 &&
	    strcmp(res.add[0].value, "legacy") == 0 && res.add[0].order == -1,
	    "legacy string");
	f = added(&res, "X-B");
	ok(f != NULL && f->order == 0 && rspamd_field_pos(f, 5) == 0,
	    "order 0: the top");
	f = added(&res, "X-C");
	ok(f != NULL && f->order == 3 && rspamd_field_pos(f, 5) == 3 &&
	    rspamd_field_pos(f, 2) == 2, "index 3");
	ok(res.nadd == 7 && strcmp(res.add[3].value, "d1") == 0 &&
	    strcmp(res.add[4].value, "d2") == 0 &&
	    strcmp(res.add[5].value, "d3") == 0 && res.add[5].order == -3 &&
	    rspamd_field_pos(&res.add[5], 5) == 3 &&
	    rspamd_field_pos(&res.add[5], 3) == 0 &&
	    rspamd_field_pos(&res.add[5], 2) == 0, "an array, in order");
	f = added(&res, "X-H");
	ok(f == &res.add[6] && f->order == -1,
	    "order as a string: no order, as rspamd's milter");
	ok(res.nremove == 4 && removed(&res, "X-R", 0) &&
	    removed(&res, "X-S", 1) && removed(&res, "X-S", -1) &&
	    removed(&res, "X-S", 2), "removals, number or array");
	rspamd_result_free(&res);
	ok(res.arena == NULL && res.nadd == 0, "result freed");

	r = check("{\"action\":\"no action\",\"score\":0,\"milter\":{"
	    "\"add_headers\":{\"X-H\":{\"value\":\"h\",\"order\":\"1\"}}}}",
	    &res, err, sizeof(err));
	f = added(&res, "X-H");
	ok(r == 0 && f != NULL && f->order == -1, "order not a number: none");
	rspamd_result_free(&res);

	r = check("{\"action\":\"no action\",\"score\":0,\"dkim-signature\":["
	    "\"v=1; a\\n\\tb\",7,\"v=1; c\"]}", &res, err, sizeof(err));
	ok(r == 0 && res.ndkim == 2 && strcmp(res.dkim[0], "v=1; a\r\n\tb") ==
	    0 && strcmp(res.dkim[1], "v=1; c") == 0,
	    "dkim-signature array, LF folds made CRLF");
	rspamd_result_free(&res);
}

static void
test_check_bad(void)
{
	static const struct {
		const char	*json;
		const char	*why;
	} cases[] = {
		{ "", "not JSON" },
		{ "{\"action\":\"reject\",\"score\":1", "not JSON" },
		{ "[1]", "not a JSON object" },
		{ "{\"error\":\"bad\\r\\nthing\"}", "rspamd: bad thing" },
		{ "{\"score\":1}", "no action" },
		{ "{\"action\":5,\"score\":1}", "no action" },
		{ "{\"action\":\"custom\",\"score\":1}",
		    "unknown action \"custom\"" },
		{ "{\"action\":\"Reject\",\"score\":1}", "unknown action" },
		{ "{\"action\":\"reject\"}", "no score" },
		{ "{\"action\":\"reject\",\"score\":\"1\"}", "no score" },
		{ "{\"action\":\"reject\",\"score\":1,\"subject\":\"a\\nb\"}",
		    "subject: line break" },
		{ "{\"action\":\"reject\",\"score\":1,\"milter\":{"
		    "\"add_headers\":{\"Bad Name\":\"x\"}}}",
		    "bad field name" },
		{ "{\"action\":\"reject\",\"score\":1,\"milter\":{"
		    "\"add_headers\":{\"A:B\":\"x\"}}}", "bad field name" },
		{ "{\"action\":\"reject\",\"score\":1,\"milter\":{"
		    "\"add_headers\":{\"\":\"x\"}}}", "bad field name" },
		{ "{\"action\":\"reject\",\"score\":1,\"milter\":{"
		    "\"add_headers\":{\"X-\\u00e9\":\"x\"}}}",
		    "bad field name" },
		{ "{\"action\":\"reject\",\"score\":1,\"milter\":{"
		    "\"remove_headers\":{\"X Y\":1}}}", "bad field name" },
		{ "{\"action\":\"reject\",\"score\":1,\"milter\":{"
		    "\"add_headers\":{\"X\":\"a\\r\\nInjected: 1\"}}}",
		    "X: line break" },
		{ "{\"action\":\"reject\",\"score\":1,\"milter\":{"
		    "\"add_headers\":{\"X\":\"a\\nB: 1\"}}}", "line break" },
		{ "{\"action\":\"reject\",\"score\":1,\"milter\":{"
		    "\"add_headers\":{\"X\":\"a\\rb\"}}}", "line break" },
		{ "{\"action\":\"reject\",\"score\":1,\"milter\":{"
		    "\"add_headers\":{\"X\":\"a\\r\"}}}", "line break" },
		{ "{\"action\":\"reject\",\"score\":1,\"milter\":{"
		    "\"add_headers\":{\"X\":\"a\\r\\n\"}}}", "line break" },
		{ "{\"action\":\"reject\",\"score\":1,\"milter\":{"
		    "\"add_headers\":{\"X\":\"a\\r\\n\\r\\n b\"}}}",
		    "line break" },
		{ "{\"action\":\"reject\",\"score\":1,\"milter\":{"
		    "\"add_headers\":{\"X\":\"a\\u0001\"}}}", "control" },
		{ "{\"action\":\"reject\",\"score\":1,\"milter\":{"
		    "\"add_headers\":{\"X\":\"a\\u007f\"}}}", "control" },
		{ "{\"action\":\"reject\",\"score\":1,\"milter\":{"
		    "\"add_headers\":{\"X\":{\"value\":\"v\",\"order\":1.5}}}}",
		    "bad position" },
		{ "{\"action\":\"reject\",\"score\":1,\"milter\":{"
		    "\"add_headers\":{\"X\":{\"value\":\"v\","
		    "\"order\":1001}}}}",
		    "bad position" },
		{ "{\"action\":\"reject\",\"score\":1,\"milter\":{"
		    "\"remove_headers\":{\"X\":-1e9}}}", "bad position" },
		{ "{\"action\":\"reject\",\"score\":1,\"milter\":{"
		    "\"remove_headers\":{\"X\":[1,0.5]}}}", "bad position" },
		{ "{\"action\":\"reject\",\"score\":1,\"dkim-signature\":"
		    "\"v=1;\\n\"}", "dkim-signature: line break" },
	};
	struct rspamd_result	 res;
	char			 err[256];
	size_t			 i;
	int			 r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = check(cases[i].json, &res, err, sizeof(err));
		ok(r == -1 && strstr(err, cases[i].why) != NULL &&
		    res.arena == NULL && res.nadd == 0, "refused: %s",
		    cases[i].why);
		if (r != -1 || strstr(err, cases[i].why) == NULL)
			printf("#   got %d: %s\n", r, err);
	}
	/* A tiny err buffer is fine. */
	ok(rspamd_parse_check("x", 1, &res, err, 4) == -1 && strlen(err) == 3,
	    "err truncated");
	ok(rspamd_parse_check("x", 1, &res, NULL, 0) == -1, "no err buffer");
}

static void
test_check_strings(void)
{
	struct rspamd_result	 res;
	char			 json[64 * 1024], err[256], *p;
	size_t			 i, n;
	int			 r;

	/* Aliases and the milter-only actions. */
	r = check("{\"action\":\"accept\",\"score\":-1.5,\"is_skipped\":1}",
	    &res, err, sizeof(err));
	ok(r == 0 && res.action == RSPAMD_NO_ACTION && res.score == -1.5 &&
	    !res.is_skipped && res.required_score == 0, "accept");
	rspamd_result_free(&res);
	r = check("{\"action\":\"discard\",\"score\":1}", &res, err,
	    sizeof(err));
	ok(r == 0 && res.action == RSPAMD_DISCARD, "discard");
	rspamd_result_free(&res);
	r = check("{\"action\":\"quarantine\",\"score\":1}", &res, err,
	    sizeof(err));
	ok(r == 0 && res.action == RSPAMD_QUARANTINE, "quarantine");
	rspamd_result_free(&res);
	r = check("{\"action\":\"soft_reject\",\"score\":1}", &res, err,
	    sizeof(err));
	ok(r == 0 && res.action == RSPAMD_SOFT_REJECT, "soft_reject");
	rspamd_result_free(&res);

	/* smtp_message: printable ASCII, bounded; message-id too. */
	r = check("{\"action\":\"reject\",\"score\":1,\"messages\":{"
	    "\"smtp_message\":\"  Spam\\r\\n550 5.7.1 \\tno \\u00e9t\\u00e9 "
	    "\\ud83d\\ude00!  \"},\"message-id\":\"<a\\u0001b>\"}", &res, err,
	    sizeof(err));
	is_str(res.smtp_message, "Spam 550 5.7.1 no ?t? ?!",
	    "smtp_message made printable");
	is_str(res.message_id, "<a b>", "message-id made printable");
	rspamd_result_free(&res);
	r = check("{\"action\":\"reject\",\"score\":1,\"messages\":{"
	    "\"smtp_message\":\" \\t \"}}", &res, err, sizeof(err));
	ok(r == 0 && res.smtp_message == NULL, "blank smtp_message: none");
	rspamd_result_free(&res);
	p = json + snprintf(json, sizeof(json), "{\"action\":\"reject\","
	    "\"score\":1,\"messages\":{\"smtp_message\":\"");
	for (i = 0; i < 300; i++)
		*p++ = 'a' + i % 26;
	(void)snprintf(p, 10, "\"}}");
	r = check(json, &res, err, sizeof(err));
	ok(r == 0 && res.smtp_message != NULL &&
	    strlen(res.smtp_message) == RSPAMD_SMTP_MAX, "smtp_message cut "
	    "at RSPAMD_SMTP_MAX");
	rspamd_result_free(&res);

	/* Subject: a long line, a folded one. */
	p = json + snprintf(json, sizeof(json), "{\"action\":\"rewrite "
	    "subject\",\"score\":1,\"subject\":\"");
	for (i = 0; i < 998 - 9; i++)
		*p++ = 's';
	(void)snprintf(p, 10, "\"}");
	r = check(json, &res, err, sizeof(err));
	ok(r == 0 && strlen(res.subject) == 989, "998 bytes: a line");
	rspamd_result_free(&res);
	(void)snprintf(p, 10, "s\"}");
	r = check(json, &res, err, sizeof(err));
	ok(r == -1 && strstr(err, "998") != NULL, "999: too long");
	(void)snprintf(p, 20, "\\r\\n s\"}");
	r = check(json, &res, err, sizeof(err));
	ok(r == 0 && strlen(res.subject) == 989 + 4, "folded");
	rspamd_result_free(&res);

	/* A value over RSPAMD_FIELD_MAX; the largest one. */
	for (n = RSPAMD_FIELD_MAX; n <= RSPAMD_FIELD_MAX + 1; n++) {
		p = json + snprintf(json, sizeof(json),
		    "{\"action\":\"reject\","
		    "\"score\":1,\"dkim-signature\":\"");
		for (i = 0; i < n; i++)
			if (i % 100 == 98)
				p += snprintf(p, 3, "\\n");
			else if (i % 100 == 99)
				p += snprintf(p, 3, "\\t");
			else
				*p++ = 'v';
		(void)snprintf(p, 10, "\"}");
		r = check(json, &res, err, sizeof(err));
		if (n == RSPAMD_FIELD_MAX)
			ok(r == 0 && res.ndkim == 1, "largest value: %s", err);
		else
			ok(r == -1 && strstr(err, "too long") != NULL,
			    "value over RSPAMD_FIELD_MAX");
		rspamd_result_free(&res);
	}

	/* Counts: RSPAMD_HEADERS_MAX fields, then one more. */
	for (n = RSPAMD_HEADERS_MAX; n <= RSPAMD_HEADERS_MAX + 1; n++) {
		p = json + snprintf(json, sizeof(json),
		    "{\"action\":\"reject\","
		    "\"score\":1,\"milter\":{\"add_headers\":{\"X\":[");
		for (i = 0; i < n; i++)
			p += snprintf(p, 20, "%s\"v%zu\"", i ? "," : "", i);
		p += snprintf(p, 100, "]},\"remove_headers\":{\"R\":[");
		for (i = 0; i < n; i++)
			p += snprintf(p, 20, "%s%zu", i ? "," : "", i);
		(void)snprintf(p, 10, "]}}}");
		r = check(json, &res, err, sizeof(err));
		if (n == RSPAMD_HEADERS_MAX)
			ok(r == 0 && res.nadd == n && res.nremove == n,
			    "RSPAMD_HEADERS_MAX fields");
		else
			ok(r == -1 && strstr(err, "too many") != NULL,
			    "one field too many");
		rspamd_result_free(&res);
	}
	for (n = RSPAMD_DKIM_MAX; n <= RSPAMD_DKIM_MAX + 1; n++) {
		p = json + snprintf(json, sizeof(json),
		    "{\"action\":\"reject\","
		    "\"score\":1,\"dkim-signature\":[");
		for (i = 0; i < n; i++)
			p += snprintf(p, 20, "%s\"v=1\"", i ? "," : "");
		(void)snprintf(p, 10, "]}");
		r = check(json, &res, err, sizeof(err));
		ok(n == RSPAMD_DKIM_MAX ? r == 0 && res.ndkim == n : r == -1,
		    "%zu DKIM signatures", n);
		rspamd_result_free(&res);
	}
	/* The longest field name. */
	p = json + snprintf(json, sizeof(json), "{\"action\":\"reject\","
	    "\"score\":1,\"milter\":{\"add_headers\":{\"");
	memset(p, 'N', RSPAMD_NAME_MAX);
	p += RSPAMD_NAME_MAX;
	(void)snprintf(p, 20, "\":\"v\"}}}");
	r = check(json, &res, err, sizeof(err));
	ok(r == 0 && res.nadd == 1 && strlen(res.add[0].name) ==
	    RSPAMD_NAME_MAX, "RSPAMD_NAME_MAX name");
	rspamd_result_free(&res);
	memmove(p + 1, p, strlen(p) + 1);
	*p = 'N';
	r = check(json, &res, err, sizeof(err));
	ok(r == -1 && strstr(err, "bad field name") != NULL,
	    "a name too long");
}

static void
test_symbols(void)
{
	struct rspamd_result	 res;
	char			 json[32 * 1024], err[256], buf[256], *p;
	size_t			 i, n;
	int			 r;

	/* 100 symbols: the 64 of largest |score| kept, sorted. */
	p = json + snprintf(json, sizeof(json), "{\"action\":\"reject\","
	    "\"score\":1,\"symbols\":{");
	for (i = 0; i < 100; i++)
		p += snprintf(p, 100, "%s\"S%03zu\":{\"name\":\"S%03zu\","
		    "\"score\":%s%zu.5}", i ? "," : "", i, i,
		    i % 2 ? "-" : "", (i * 37) % 100);
	p += snprintf(p, 200, ",\"A B(C),D\":{\"score\":0.001},\"N\":{},"
	    "\"Z\":5,\"\\u00e9\":{\"score\":99.5}}}");
	r = check(json, &res, err, sizeof(err));
	ok(r == 0 && res.nsymbols == RSPAMD_SYMBOLS_MAX &&
	    res.nsymbols_total == 103, "64 of 103 symbols kept");
	ok(strcmp(res.symbols[0].name, "?") == 0 &&
	    res.symbols[0].score == 99.5 && res.symbols[1].score == -99.5 &&
	    strcmp(res.symbols[1].name, "S027") == 0, "largest first");
	for (i = 1, n = 1; i < res.nsymbols; i++)
		if (ABS(res.symbols[i].score) > ABS(res.symbols[i - 1].score))
			n = 0;
	ok(n && ABS(res.symbols[63].score) >= 36.5, "sorted, the small "
	    "ones dropped");
	rspamd_symbols_str(&res, buf, 40);
	ok(strncmp(buf, "?(99.50),", 9) == 0 && strlen(buf) < 40 &&
	    strcmp(buf + strlen(buf) - 4, ",...") == 0, "cut: %s", buf);
	rspamd_result_free(&res);

	r = check("{\"action\":\"reject\",\"score\":1,\"symbols\":{"
	    "\"A B(C),D\":{\"score\":-2},\"N\":{},\"LONG_"
	    "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
	    "XXXXXXXXXX\":{\"score\":1}}}", &res, err, sizeof(err));
	ok(r == 0 && res.nsymbols == 3, "odd names");
	rspamd_symbols_str(&res, buf, sizeof(buf));
	is_str(buf, "A?B?C??D(-2.00),LONG_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
	    "XXXXXXXXXXXXXXXXXXXXXX(1.00),N(0.00)", "names made safe");
	/* Every size: whole entries, NUL-terminated, never over. */
	for (i = 1, n = 1; i < 120; i++) {
		size_t	 len;

		memset(buf, 'Z', sizeof(buf));
		len = rspamd_symbols_str(&res, buf, i);
		if (len >= i || buf[len] != '\0' || buf[i] != 'Z' ||
		    (len > 0 && buf[len - 1] != ')' && buf[len - 1] != '.'))
			n = 0;
	}
	ok(n, "every buffer size");
	ok(rspamd_symbols_str(&res, buf, 0) == 0, "size 0");
	rspamd_symbols_str(&res, buf, 4);
	is_str(buf, "...", "only the ellipsis fits");
	rspamd_symbols_str(&res, buf, 3);
	is_str(buf, "", "not even that");
	rspamd_result_free(&res);
}

static void
test_field_pos(void)
{
	struct rspamd_field	 f;

	memset(&f, 0, sizeof(f));
	f.order = -1;
	ok(rspamd_field_pos(&f, 7) == 7 && rspamd_field_pos(&f, 0) == 0,
	    "-1 appends");
	f.order = 0;
	ok(rspamd_field_pos(&f, 7) == 0, "0: the top");
	f.order = 1;
	ok(rspamd_field_pos(&f, 7) == 1 && rspamd_field_pos(&f, 0) == 0,
	    "1: after Received:");
	f.order = 9;
	ok(rspamd_field_pos(&f, 7) == 7, "past the end: appended");
	f.order = -2;
	ok(rspamd_field_pos(&f, 7) == 6, "-2: before the last");
	f.order = -6;
	ok(rspamd_field_pos(&f, 7) == 2, "-6 of 7");
	f.order = -7;
	ok(rspamd_field_pos(&f, 7) == 0, "-7 of 7: the top");
	f.order = -1000;
	ok(rspamd_field_pos(&f, 7) == 0, "-1000: the top");
}

static void
test_learn(void)
{
	static const struct {
		const char	*name;
		int		 want;
		const char	*err;
	} files[] = {
		{ "learn-spam", 0, "" },
		{ "learn-ham-relearn", 0, "" },
		{ "learn-spam-again", 1, "HTTP 208: <Minutes.of.the."
		    "meeting@example.org> has been already learned as spam, "
		    "ignore it" },
		{ "learn-too-small", -1, "HTTP 204: <Hi@example.org> contains "
		    "less tokens than required for bayes classifier: 8 < 11" },
		{ "learn-empty", -1, "HTTP 400: Empty body is not permitted" },
		{ "controller-not-found", -1, "HTTP 404: answer not JSON" },
	};
	static const struct {
		int		 status;
		const char	*body;
		int		 want;
	} made[] = {
		{ 500, "{\"error\":\"Internal error\"}", -2 },
		{ 503, "", -2 },
		{ 200, "garbage", -2 },
		{ 200, "{\"success\":false}", -2 },
		{ 200, "{\"success\":1}", -2 },
		{ 200, "[true]", -2 },
		{ 404, "{\"error\":\"<x> has been already learned as ham, "
		    "ignore it\"}", 1 },
		{ 404, "{\"error\":\"no classifiers defined\"}", -1 },
		/* rspamd does not escape the message-id it quotes */
		{ 208, "{\"error\":\"<a\"b> has been already learned\"}", 1 },
		{ 401, "{\"error\":\"Unauthorized\"}", -2 },
		{ 403, "", -2 },
		{ 408, "", -2 },
		{ 429, "", -2 },
		{ 302, "", -2 },
		{ 400, "x", -1 },
	};
	char	*body, err[256];
	size_t	 i, len;
	int	 status, r;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		body = fixture_body(files[i].name, &status, &len);
		r = rspamd_parse_learn(status, body, len, err, sizeof(err));
		ok(r == files[i].want, "%s: %d", files[i].name, r);
		is_str(err, files[i].err, files[i].name);
		free(body);
	}
	for (i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
		r = rspamd_parse_learn(made[i].status, made[i].body,
		    strlen(made[i].body), err, sizeof(err));
		ok(r == made[i].want && strncmp(err, "HTTP ", 5) == 0,
		    "HTTP %d %s: %d", made[i].status, made[i].body, r);
	}
	ok(rspamd_parse_learn(500, "", 0, NULL, 0) == -2, "no err buffer");
}

int
main(void)
{
	test_request();
	test_http_fixtures();
	test_http_cases();
	test_http_limits();
	test_check_fixtures();
	test_check_milter();
	test_check_bad();
	test_check_strings();
	test_symbols();
	test_field_pos();
	test_learn();
	return done_testing();
}
