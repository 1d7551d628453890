/*
 * rspamd's answers (rspamd.c, json.c): what comes back from an rspamd
 * that is broken, hostile or not rspamd at all.  The first byte says
 * what the rest is: (low two bits) 0 a raw HTTP answer, fed to the
 * reader in pieces of (first byte >> 2) + 1 bytes, whose body, when it
 * is read whole, goes to rspamd_parse_check() and rspamd_parse_learn();
 * 1 a /checkv2 body; 2 a JSON text alone; 3 the fields of a request
 * (path, host, ip, helo, hostname, from, queue id, user, TLS version
 * and cipher, password, MTA name, then recipients), NUL-separated.
 *
 * Properties: the reader ends with a status of 200-599 and a
 * NUL-terminated body of at most RSPAMD_BODY_MAX bytes, or an error
 * with a reason, and stays so; a check result holds only what can be
 * written safely: a known action, printable bounded SMTP text, sorted
 * symbols with safe names, field names of RFC 5322 ftext and values
 * whose line breaks are all CRLF folds with lines of at most 998
 * bytes, positions within bounds; a failure leaves an error and no
 * result; a learn answer is one of -2..1; a JSON tree's strings are
 * NUL-free UTF-8 of the length given, nested at most JSON_DEPTH_MAX; a
 * request head is lines of printable text ended by CRLF, then CRLF.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "json.h"
#include "rspamd.h"

#define ABS(d)	((d) < 0 ? -(d) : (d))

static void	 printable(const char *, size_t);
static void	 name_ok(const char *);
static void	 value_ok(const char *, size_t);
static void	 check(const char *, size_t);
static void	 learn(int, const char *, size_t);
static void	 tree(const struct json_value *, int);
static void	 request(const char *, size_t);

static void
printable(const char *s, size_t max)
{
	size_t	 n = strlen(s);

	FUZZ_ASSERT(n > 0 && n <= max);
	for (; *s != '\0'; s++)
		FUZZ_ASSERT(*s >= 0x20 && *s < 0x7f);
}

static void
name_ok(const char *s)
{
	size_t	 n = strlen(s);

	FUZZ_ASSERT(n > 0 && n <= RSPAMD_NAME_MAX);
	for (; *s != '\0'; s++)
		FUZZ_ASSERT(*s > 0x20 && *s < 0x7f && *s != ':');
}

/* Line breaks only as CRLF folds, lines of at most 998 bytes. */
static void
value_ok(const char *s, size_t col)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 line = col;

	for (; *p != '\0'; p++) {
		if (*p == '\r') {
			FUZZ_ASSERT(p[1] == '\n' &&
			    (p[2] == ' ' || p[2] == '\t'));
			p++;
			line = 0;
			continue;
		}
		FUZZ_ASSERT(*p >= 0x20 || *p == '\t');
		FUZZ_ASSERT(*p != 0x7f);
		FUZZ_ASSERT(++line <= 998);
	}
}

static void
check(const char *body, size_t len)
{
	struct rspamd_result	 res;
	char			 err[256], buf[300];
	size_t			 i, n, sz;

	err[0] = '\0';
	if (rspamd_parse_check(body, len, &res, err, sizeof(err)) == -1) {
		FUZZ_ASSERT(err[0] != '\0' && res.arena == NULL &&
		    res.nadd == 0 && res.nremove == 0 && res.ndkim == 0 &&
		    res.subject == NULL && res.nsymbols == 0);
		return;
	}
	FUZZ_ASSERT(res.action >= RSPAMD_NO_ACTION &&
	    res.action <= RSPAMD_QUARANTINE);
	FUZZ_ASSERT(!isnan(res.score) && !isinf(res.score));
	if (res.smtp_message != NULL)
		printable(res.smtp_message, RSPAMD_SMTP_MAX);
	if (res.message_id != NULL)
		printable(res.message_id, 998);
	if (res.subject != NULL)
		value_ok(res.subject, 9);
	FUZZ_ASSERT(res.nsymbols <= RSPAMD_SYMBOLS_MAX &&
	    res.nsymbols <= res.nsymbols_total);
	for (i = 0; i < res.nsymbols; i++) {
		FUZZ_ASSERT(strpbrk(res.symbols[i].name, " (),") == NULL);
		if (res.symbols[i].name[0] != '\0')
			printable(res.symbols[i].name, RSPAMD_SYMBOL_LEN - 1);
		FUZZ_ASSERT(i == 0 || ABS(res.symbols[i].score) <=
		    ABS(res.symbols[i - 1].score));
	}
	FUZZ_ASSERT(res.nadd <= RSPAMD_HEADERS_MAX &&
	    res.nremove <= RSPAMD_HEADERS_MAX && res.ndkim <= RSPAMD_DKIM_MAX);
	for (i = 0; i < res.nadd; i++) {
		name_ok(res.add[i].name);
		value_ok(res.add[i].value, strlen(res.add[i].name) + 2);
		FUZZ_ASSERT(res.add[i].order >= -RSPAMD_ORDER_MAX &&
		    res.add[i].order <= RSPAMD_ORDER_MAX);
		for (n = 0; n < 5; n++)
			FUZZ_ASSERT(rspamd_field_pos(&res.add[i], n) <= n);
	}
	for (i = 0; i < res.nremove; i++) {
		name_ok(res.remove[i].name);
		FUZZ_ASSERT(res.remove[i].index >= -RSPAMD_ORDER_MAX &&
		    res.remove[i].index <= RSPAMD_ORDER_MAX);
	}
	for (i = 0; i < res.ndkim; i++)
		value_ok(res.dkim[i], 16);
	for (sz = 0; sz < sizeof(buf); sz += 37) {
		memset(buf, 'Z', sizeof(buf));
		n = rspamd_symbols_str(&res, buf, sz);
		FUZZ_ASSERT(sz == 0 ? n == 0 : n < sz && buf[n] == '\0');
		FUZZ_ASSERT(sz == sizeof(buf) || buf[sz] == 'Z');
	}
	rspamd_result_free(&res);
}

static void
learn(int status, const char *body, size_t len)
{
	char	 err[128];
	int	 r;

	r = rspamd_parse_learn(status, body, len, err, sizeof(err));
	FUZZ_ASSERT(r >= -2 && r <= 1);
	if (r != 0)
		printable(err, sizeof(err) - 1);
	else
		FUZZ_ASSERT(err[0] == '\0');
}

static void
tree(const struct json_value *v, int depth)
{
	const struct json_value	*e;
	size_t			 n = 0;

	switch (v->type) {
	case JSON_STRING:
		FUZZ_ASSERT(strlen(v->str) == v->len);
		break;
	case JSON_NUMBER:
		FUZZ_ASSERT(!isnan(v->num) && !isinf(v->num));
		break;
	case JSON_ARRAY:
	case JSON_OBJECT:
		FUZZ_ASSERT(depth < JSON_DEPTH_MAX);
		for (e = v->first; e != NULL; e = e->next, n++) {
			FUZZ_ASSERT((e->name != NULL) ==
			    (v->type == JSON_OBJECT));
			if (e->name != NULL)
				FUZZ_ASSERT(strlen(e->name) == e->namelen);
			tree(e, depth + 1);
		}
		FUZZ_ASSERT(n == v->len);
		break;
	default:
		break;
	}
}

static void
request(const char *in, size_t len)
{
	const char		*f[12], *rcpts[8], *p = in, *end = in + len;
	struct rspamd_req	 req;
	char			 buf[4096], *line, *eol;
	size_t			 i, n;
	int			 r;

	for (i = 0; i < 12; i++) {
		f[i] = p < end ? p : NULL;
		if (p < end)
			p += strlen(p) + 1;
	}
	for (n = 0; n < 8 && p < end; n++, p += strlen(p) + 1)
		rcpts[n] = p;
	memset(&req, 0, sizeof(req));
	req.path = f[0];
	req.host = f[1];
	req.ip = f[2];
	req.helo = f[3];
	req.hostname = f[4];
	req.from = f[5];
	req.queue_id = f[6];
	req.user = f[7];
	req.tls_version = f[8];
	req.tls_cipher = f[9];
	req.password = f[10];
	req.mta_name = f[11];
	req.rcpts = rcpts;
	req.nrcpts = n;
	req.content_length = len;
	if ((r = rspamd_request(buf, sizeof(buf), &req)) == -1)
		return;
	FUZZ_ASSERT(r > 4 && (size_t)r == strlen(buf));
	FUZZ_ASSERT(strncmp(buf, "POST /", 6) == 0);
	FUZZ_ASSERT(strcmp(buf + r - 4, "\r\n\r\n") == 0);
	for (line = buf; *line != '\0'; line = eol + 2) {
		eol = strstr(line, "\r\n");
		FUZZ_ASSERT(eol != NULL);
		if (eol == line) {
			FUZZ_ASSERT(eol[2] == '\0');
			break;
		}
		for (p = line; p < eol; p++)
			FUZZ_ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rspamd_http	 h;
	struct json		 doc;
	char			*in, err[128];
	size_t			 step, i, n;
	int			 r = RSPAMD_HTTP_MORE;

	if (size < 1)
		return 0;
	in = fuzz_strndup(data + 1, size - 1);
	switch (data[0] & 3) {
	case 0:
		step = (data[0] >> 2) + 1;
		rspamd_http_init(&h);
		for (i = 0; i < size - 1 && r != RSPAMD_HTTP_ERROR; i += n) {
			n = size - 1 - i < step ? size - 1 - i : step;
			r = rspamd_http_feed(&h, in + i, n);
		}
		if (r == RSPAMD_HTTP_MORE)
			r = rspamd_http_eof(&h);
		if (r == RSPAMD_HTTP_ERROR) {
			FUZZ_ASSERT(h.error != NULL);
			FUZZ_ASSERT(rspamd_http_feed(&h, "x", 1) ==
			    RSPAMD_HTTP_ERROR);
		} else {
			FUZZ_ASSERT(r == RSPAMD_HTTP_DONE);
			FUZZ_ASSERT(h.status >= 200 && h.status <= 599);
			FUZZ_ASSERT(h.body != NULL &&
			    h.bodylen <= RSPAMD_BODY_MAX &&
			    h.body[h.bodylen] == '\0');
			FUZZ_ASSERT(strlen(h.reason) < sizeof(h.reason));
			check(h.body, h.bodylen);
			learn(h.status, h.body, h.bodylen);
		}
		rspamd_http_free(&h);
		break;
	case 1:
		check(in, size - 1);
		learn(200 + data[0] % 350, in, size - 1);
		break;
	case 2:
		if (json_parse(&doc, in, size - 1, err, sizeof(err)) == 0) {
			tree(doc.root, 0);
			json_free(&doc);
		} else
			FUZZ_ASSERT(strncmp(err, "offset ", 7) == 0 &&
			    doc.root == NULL);
		break;
	default:
		request(in, size - 1);
		break;
	}
	free(in);
	return 0;
}
