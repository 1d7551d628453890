/*
 * Unit tests for envelope.c: the exact text form (golden file in
 * tests/data/envelope), round trips, refusal to write what could not
 * be read back, and one test per kind of corruption on load.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "envelope.h"
#include "expand.h"
#include "maild.h"
#include "tap.h"

#define GOLDEN	"tests/data/envelope/maildir.env"

static void	sample(struct envelope *);
static int	replace(const char *, const char *, const char *, char *,
		    size_t);
static int	load_str(const char *);
static void	test_dump(void);
static void	test_roundtrip(void);
static void	test_dump_refuses(void);
static void	test_load_good(void);
static void	test_load_bad(void);

static char		 err[256];
static struct envelope	 got;
static char		 good[8192];

static void
sample(struct envelope *e)
{
	memset(e, 0, sizeof(*e));
	e->id = 0x00c0ffee12345678ULL;
	e->created = 1700000000;
	e->lasttry = 1700000300;
	e->nexttry = 99;
	e->retries = 2;
	e->flags = EF_8BITMIME | EF_AUTH;
	strlcpy(e->helo, "client.example.net", sizeof(e->helo));
	strlcpy(e->src, "192.0.2.10", sizeof(e->src));
	addr_parse("sender@example.net", &e->sender, 0);
	addr_parse("User+tag@example.jp", &e->rcpt, 0);
	e->dest.type = DEST_MAILDIR;
	addr_parse("user@example.jp", &e->dest.addr, 0);
	strlcpy(e->dest.path, "/var/vmail/example.jp/user",
	    sizeof(e->dest.path));
	strlcpy(e->errmsg, "421 4.3.0 try again: later", sizeof(e->errmsg));
}

/* Copy good with the line starting with key replaced (NULL: removed). */
static int
replace(const char *src, const char *key, const char *line, char *out,
    size_t outlen)
{
	const char	*p = src, *nl;
	size_t		 klen = strlen(key);

	out[0] = '\0';
	for (; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			return -1;
		if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
			if (line != NULL)
				strlcat(out, line, outlen);
		} else
			strncat(out, p, nl - p + 1);
	}
	return 0;
}

static int
load_str(const char *s)
{
	err[0] = '\0';
	memset(&got, 0x5a, sizeof(got));
	return envelope_load(&got, s, strlen(s), err, sizeof(err));
}

static void
test_dump(void)
{
	struct envelope	 e;
	char		 buf[8192], file[8192];
	ssize_t		 n;
	int		 len, fd;

	sample(&e);
	len = envelope_dump(&e, buf, sizeof(buf));
	ok(len > 0, "dump");
	is_int(len, strlen(buf), "length returned");
	if ((fd = open(GOLDEN, O_RDONLY)) == -1) {
		ok(0, "open %s", GOLDEN);
		return;
	}
	n = read(fd, file, sizeof(file) - 1);
	close(fd);
	file[n < 0 ? 0 : n] = '\0';
	is_str(buf, file, "dump matches the golden file");
	strlcpy(good, buf, sizeof(good));

	ok(envelope_dump(&e, buf, len) == -1, "one byte short");
	ok(envelope_dump(&e, buf, len + 1) == len, "exact fit");
	ok(envelope_dump(&e, buf, 0) == -1, "zero-size buffer");

	e.flags = 0;
	ok(envelope_dump(&e, buf, sizeof(buf)) > 0, "no flags");
	ok(strstr(buf, "\nflags: \n") != NULL, "empty flags line");
	e.flags = EF_8BITMIME | EF_SMTPUTF8 | EF_AUTH;
	ok(envelope_dump(&e, buf, sizeof(buf)) > 0, "all flags");
	ok(strstr(buf, "\nflags: 8bitmime smtputf8 auth\n") != NULL,
	    "flag words in order");
	memset(&e.sender, 0, sizeof(e.sender));
	e.dest.type = DEST_RELAY;
	e.dest.path[0] = '\0';
	ok(envelope_dump(&e, buf, sizeof(buf)) > 0, "relay, null sender");
	ok(strstr(buf, "\nsender: \n") != NULL, "null sender is empty");
	ok(strstr(buf, "\ndest-type: relay\n") != NULL, "relay type");
	e.id = UINT64_MAX;
	ok(envelope_dump(&e, buf, sizeof(buf)) > 0, "max id");
	ok(strstr(buf, "\nid: ffffffffffffffff\n") != NULL, "id in hex");
}

static void
test_roundtrip(void)
{
	struct envelope	 e;
	char		 a[8192], b[8192];
	int		 la, lb;

	sample(&e);
	la = envelope_dump(&e, a, sizeof(a));
	ok(envelope_load(&got, a, la, err, sizeof(err)) == 0, "load dump");
	lb = envelope_dump(&got, b, sizeof(b));
	ok(la == lb && strcmp(a, b) == 0, "dump -> load -> dump identical");
	is_int(got.nexttry, 0, "nexttry reset");
	ok(got.id == e.id, "id");
	is_int(got.created, e.created, "created");
	is_int(got.lasttry, e.lasttry, "lasttry");
	is_int(got.retries, 2, "retries");
	is_int(got.flags, EF_8BITMIME | EF_AUTH, "flags");
	is_str(got.helo, e.helo, "helo");
	is_str(got.src, e.src, "src");
	is_str(got.sender.user, "sender", "sender user");
	is_str(got.rcpt.user, "User+tag", "rcpt user as given");
	is_str(got.rcpt.domain, "example.jp", "rcpt domain");
	is_int(got.dest.type, DEST_MAILDIR, "dest type");
	is_str(got.dest.addr.user, "user", "dest user");
	is_str(got.dest.path, e.dest.path, "path");
	is_str(got.errmsg, e.errmsg, "errmsg with ': ' inside");

	/* Every field at its limit, UTF-8, relay, null sender. */
	memset(&e, 0, sizeof(e));
	e.id = 1;
	e.created = INT64_MAX;
	e.lasttry = 0;
	e.retries = INT32_MAX;
	e.flags = EF_SMTPUTF8;
	memset(e.helo, 'h', sizeof(e.helo) - 1);
	memset(e.src, 's', sizeof(e.src) - 1);
	addr_parse("j\xc3\xb6rg@b\xc3\xbc" "cher.de", &e.rcpt, ADDR_ALLOW_UTF8);
	e.dest.type = DEST_RELAY;
	e.dest.addr = e.rcpt;
	memset(e.errmsg, 'x', sizeof(e.errmsg) - 1);
	memset(e.dest.path, 'p', sizeof(e.dest.path) - 1);
	la = envelope_dump(&e, a, sizeof(a));
	ok(la > 0, "dump of full fields");
	ok(envelope_load(&got, a, la, err, sizeof(err)) == 0,
	    "load of full fields");
	lb = envelope_dump(&got, b, sizeof(b));
	ok(la == lb && strcmp(a, b) == 0, "full fields round trip");
	ok(addr_is_null(&got.sender), "null sender");
	is_int(got.dest.type, DEST_RELAY, "relay");
	is_str(got.rcpt.user, "j\xc3\xb6rg", "UTF-8 user");

	/* Postmaster without a domain, quoted local part. */
	sample(&e);
	memset(&e.rcpt, 0, sizeof(e.rcpt));
	strlcpy(e.rcpt.user, "postmaster", sizeof(e.rcpt.user));
	addr_parse("\"john doe\"@example.jp", &e.dest.addr, 0);
	la = envelope_dump(&e, a, sizeof(a));
	ok(envelope_load(&got, a, la, err, sizeof(err)) == 0,
	    "postmaster and quoted");
	lb = envelope_dump(&got, b, sizeof(b));
	ok(la == lb && strcmp(a, b) == 0, "round trip");
	is_str(got.rcpt.domain, "", "postmaster domain empty");
	is_str(got.dest.addr.user, "\"john doe\"", "quoted user");

	/* A DKIM signature: folded header lines, kept byte for byte. */
	sample(&e);
	e.flags |= EF_LOCAL;
	strlcpy(e.dkim, "DKIM-Signature: v=1; a=ed25519-sha256;\r\n"
	    "\tb=abc/+=\r\nDKIM-Signature: v=1; a=rsa-sha256; b=x\r\n",
	    sizeof(e.dkim));
	la = envelope_dump(&e, a, sizeof(a));
	ok(la > 0 && strstr(a, "\ndkim: ") != NULL, "dkim line written");
	ok(envelope_load(&got, a, la, err, sizeof(err)) == 0, "dkim loads");
	is_str(got.dkim, e.dkim, "dkim header text round trip");
	is_int(got.flags, EF_8BITMIME | EF_AUTH | EF_LOCAL, "local flag");
	sample(&e);
	la = envelope_dump(&e, a, sizeof(a));
	ok(la > 0 && strstr(a, "dkim") == NULL, "no dkim line unsigned");

	/* Header text that is not CRLF-terminated lines is refused. */
	{
		static const char *const badv[] = {
			"dkim: !!!\n",			/* not base64 */
			"dkim: \n",			/* empty */
			"dkim: YWJj\n",			/* "abc": no CRLF */
			"dkim: YQpiDQo=\n",		/* "a\nb\r\n" */
			"dkim: YQ1iDQo=\n",		/* "a\rb\r\n" */
			"dkim: YQBiDQo=\n",		/* NUL inside */
		};
		size_t	 k;
		char	 c[8192];

		sample(&e);
		la = envelope_dump(&e, a, sizeof(a));
		for (k = 0; k < nitems(badv); k++) {
			snprintf(c, sizeof(c), "%s%s", a, badv[k]);
			ok(envelope_load(&got, c, strlen(c), err,
			    sizeof(err)) == -1,
			    "bad dkim value %zu refused: %s", k, err);
		}
	}
}

static void
test_dump_refuses(void)
{
	struct envelope	 e;
	char		 buf[8192];

	sample(&e);
	strlcpy(e.errmsg, "550 first\r\n550 second", sizeof(e.errmsg));
	ok(envelope_dump(&e, buf, sizeof(buf)) == -1, "CRLF in errmsg");
	sample(&e);
	strlcpy(e.helo, "evil\nid: 0", sizeof(e.helo));
	ok(envelope_dump(&e, buf, sizeof(buf)) == -1, "LF in helo");
	sample(&e);
	strlcpy(e.src, "a\tb", sizeof(e.src));
	ok(envelope_dump(&e, buf, sizeof(buf)) == -1, "tab in src");
	sample(&e);
	strlcpy(e.dest.path, "/x\x7f", sizeof(e.dest.path));
	ok(envelope_dump(&e, buf, sizeof(buf)) == -1, "DEL in path");
	sample(&e);
	strlcpy(e.rcpt.user, "a\nb", sizeof(e.rcpt.user));
	ok(envelope_dump(&e, buf, sizeof(buf)) == -1, "LF in address");
	sample(&e);
	e.created = -1;
	ok(envelope_dump(&e, buf, sizeof(buf)) == -1, "negative time");
	sample(&e);
	e.retries = -1;
	ok(envelope_dump(&e, buf, sizeof(buf)) == -1, "negative retries");
	sample(&e);
	e.dest.type = 7;
	ok(envelope_dump(&e, buf, sizeof(buf)) == -1, "bad dest type");
	sample(&e);
	memset(e.helo, 'h', sizeof(e.helo));
	ok(envelope_dump(&e, buf, sizeof(buf)) == -1, "unterminated helo");
}

static void
test_load_good(void)
{
	char	 buf[8192];

	ok(load_str(good) == 0, "golden text loads");
	replace(good, "flags", "flags:\n", buf, sizeof(buf));
	ok(load_str(buf) == 0, "empty value without space");
	is_int(got.flags, 0, "no flags");
	replace(good, "errmsg", "errmsg: \n", buf, sizeof(buf));
	ok(load_str(buf) == 0, "empty errmsg");
	is_str(got.errmsg, "", "errmsg empty");
	replace(good, "sender", "sender: \n", buf, sizeof(buf));
	ok(load_str(buf) == 0, "null sender");
	ok(addr_is_null(&got.sender), "null sender loaded");
	replace(good, "helo", NULL, buf, sizeof(buf));
	strlcat(buf, "helo: late.example\n", sizeof(buf));
	ok(load_str(buf) == 0, "any order");
	is_str(got.helo, "late.example", "helo at the end");
	replace(good, "sender", "sender: Sender@EXAMPLE.net\n", buf,
	    sizeof(buf));
	ok(load_str(buf) == 0, "case in address");
	is_str(got.sender.domain, "example.net", "domain lowercased");
	replace(good, "retries", "retries: 2147483647\n", buf, sizeof(buf));
	ok(load_str(buf) == 0, "retries INT_MAX");
	replace(good, "created", "created: 9223372036854775807\n", buf,
	    sizeof(buf));
	ok(load_str(buf) == 0, "created INT64_MAX");
}

static void
test_load_bad(void)
{
	static const struct {
		const char	*key;
		const char	*line;	/* NULL: line removed */
		const char	*name;
	} bad[] = {
		{ "version", "version: 2\n", "version 2" },
		{ "version", "version: 0\n", "version 0" },
		{ "version", "version: 01\n", "version 01" },
		{ "version", NULL, "missing version" },
		{ "id", "id: 00C0FFEE12345678\n", "uppercase id" },
		{ "id", "id: c0ffee12345678\n", "short id" },
		{ "id", "id: 00c0ffee123456789\n", "long id" },
		{ "id", "id: 00c0ffee1234567g\n", "non-hex id" },
		{ "id", "id: \n", "empty id" },
		{ "id", NULL, "missing id" },
		{ "created", "created: -1\n", "negative created" },
		{ "created", "created: +1\n", "signed created" },
		{ "created", "created: 9223372036854775808\n",
		    "created overflow" },
		{ "created", "created: 99999999999999999999999\n",
		    "created huge" },
		{ "created", "created: 12a\n", "created garbage" },
		{ "created", "created: 012\n", "created leading zero" },
		{ "created", "created: \n", "created empty" },
		{ "created", "created:  12\n", "two spaces" },
		{ "created", NULL, "missing created" },
		{ "lasttry", "lasttry: 1.5\n", "lasttry fraction" },
		{ "lasttry", NULL, "missing lasttry" },
		{ "retries", "retries: 2147483648\n", "retries overflow" },
		{ "retries", "retries: -2\n", "negative retries" },
		{ "retries", NULL, "missing retries" },
		{ "flags", "flags: bogus\n", "unknown flag" },
		{ "flags", "flags: auth auth\n", "duplicate flag" },
		{ "flags", "flags: auth  8bitmime\n", "double space in flags" },
		{ "flags", "flags: auth \n", "trailing space in flags" },
		{ "flags", "flags: AUTH\n", "uppercase flag" },
		{ "flags", NULL, "missing flags" },
		{ "helo", "helo: x\ry\n", "CR in value" },
		{ "helo", "helo: x\ty\n", "tab in value" },
		{ "helo", NULL, "missing helo" },
		{ "src", "src: 0123456789012345678901234567890123456789012345"
		    "678901234567890123\n", "src too long" },
		{ "src", NULL, "missing src" },
		{ "sender", "sender: not an address\n", "bad sender" },
		{ "sender", "sender: <a@b.example>\n", "sender with brackets" },
		{ "sender", NULL, "missing sender" },
		{ "rcpt", "rcpt: \n", "empty rcpt" },
		{ "rcpt", "rcpt: user\n", "rcpt without domain" },
		{ "rcpt", "rcpt: a@b..example\n", "bad rcpt" },
		{ "rcpt", "rcpt: j\xc3\x28@b.example\n", "bad UTF-8 rcpt" },
		{ "rcpt", NULL, "missing rcpt" },
		{ "dest-type", "dest-type: pipe\n", "unknown dest type" },
		{ "dest-type", "dest-type: Maildir\n", "dest type case" },
		{ "dest-type", NULL, "missing dest-type" },
		{ "dest", "dest: \n", "empty dest" },
		{ "dest", "dest: @example.jp\n", "bad dest" },
		{ "dest", NULL, "missing dest" },
		{ "path", "path: \n", "maildir without path" },
		{ "path", NULL, "missing path" },
		{ "errmsg", NULL, "missing errmsg" },
		{ "helo", "helo:x\n", "no space after colon" },
		{ "helo", "helo x\n", "no colon" },
		{ "helo", "Helo: x\n", "key case" },
		{ "helo", "hello: x\n", "unknown key" },
		{ "helo", "\n", "empty line" },
		{ "helo", ": x\n", "empty key" },
	};
	char		 buf[20480], out[16384], line[16500];
	size_t		 i;
	struct envelope	 e;
	int		 len;

	for (i = 0; i < nitems(bad); i++) {
		replace(good, bad[i].key, bad[i].line, buf, sizeof(buf));
		ok(load_str(buf) == -1 && err[0] != '\0', "%s refused (%s)",
		    bad[i].name, err);
	}

	ok(load_str("") == -1, "empty input");
	snprintf(buf, sizeof(buf), "%shelo: again\n", good);
	ok(load_str(buf) == -1, "duplicate key");
	is_str(err, "helo: duplicate key", "duplicate reason");
	snprintf(buf, sizeof(buf), "%sextra: 1\n", good);
	ok(load_str(buf) == -1, "extra key");
	is_str(err, "unknown key \"extra\"", "unknown key reason");
	replace(good, "version", NULL, buf, sizeof(buf));
	ok(load_str(buf) == -1, "missing");
	is_str(err, "version: missing key", "missing key reason");
	replace(good, "version", "version: 2\n", buf, sizeof(buf));
	ok(load_str(buf) == -1, "version 2");
	is_str(err, "version: unsupported version", "version reason");

	strlcpy(buf, good, sizeof(buf));
	buf[strlen(buf) - 1] = '\0';
	ok(load_str(buf) == -1, "no final newline");
	is_str(err, "truncated envelope", "truncation reason");
	strlcpy(buf, good, sizeof(buf));
	buf[strlen(buf) / 2] = '\0';
	ok(load_str(buf) == -1, "cut in the middle");
	ok(envelope_load(&got, good, strlen(good) + 1, err, sizeof(err)) ==
	    -1, "NUL byte");
	strlcpy(buf, good, sizeof(buf));
	buf[5] = '\0';
	ok(envelope_load(&got, buf, strlen(good), err, sizeof(err)) == -1,
	    "NUL inside");

	/* Length limits: 16 KiB in all, then each field. */
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	strlcpy(buf, good, sizeof(buf));
	strlcat(buf, line, sizeof(buf));
	strlcat(buf, "\n", sizeof(buf));
	ok(envelope_load(&got, buf, strlen(buf), err, sizeof(err)) == -1,
	    "over 16 KiB");
	is_str(err, "envelope too large", "size reason");
	memset(line, 'p', PATH_MAX);
	line[PATH_MAX] = '\0';
	snprintf(buf, sizeof(buf), "path: %s\n", line);
	replace(good, "path", buf, out, sizeof(out));
	ok(load_str(out) == -1, "path of PATH_MAX");
	line[PATH_MAX - 1] = '\0';
	snprintf(buf, sizeof(buf), "path: %s\n", line);
	replace(good, "path", buf, out, sizeof(out));
	ok(load_str(out) == 0, "path of PATH_MAX - 1");
	memset(line, 'e', ERRMSG_MAX);
	line[ERRMSG_MAX] = '\0';
	snprintf(buf, sizeof(buf), "errmsg: %s\n", line);
	replace(good, "errmsg", buf, out, sizeof(out));
	ok(load_str(out) == -1, "errmsg of ERRMSG_MAX");
	memset(line, 'h', HOST_NAME_MAX + 1);
	line[HOST_NAME_MAX + 1] = '\0';
	snprintf(buf, sizeof(buf), "helo: %s\n", line);
	replace(good, "helo", buf, out, sizeof(out));
	ok(load_str(out) == -1, "helo too long");

	/* A failed load leaves the output alone. */
	sample(&e);
	got = e;
	ok(envelope_load(&got, "version: 1\n", 11, err, sizeof(err)) == -1,
	    "partial envelope");
	ok(memcmp(&got, &e, sizeof(e)) == 0, "output untouched on error");
	len = envelope_dump(&e, buf, sizeof(buf));
	ok(len > 0 && envelope_load(&got, buf, len, err, sizeof(err)) == 0,
	    "still loads");
}

int
main(void)
{
	test_dump();
	test_roundtrip();
	test_dump_refuses();
	test_load_good();
	test_load_bad();
	return done_testing();
}
