/*
 * Bounces and delay warnings (dsn.c): the original message, the
 * recipients, their status codes, remote MTA names and the diagnostics
 * remote servers sent all come from outside.  Layout of the input:
 *	byte 0		bit 0 delayed, bit 1 return the whole message,
 *			bits 2-3 recipients - 1
 *	bytes 1-4	times (arrival, now, expiry, last attempt)
 *	lines		sender, then per recipient: address, status,
 *			remote MTA, diagnostic
 *	the rest	the original message, read from an fd
 * libsodium's random bytes (boundary, Message-ID) are made repeatable.
 *
 * Properties: a notification is written for every acceptable dsn_info;
 * it has CRLF line ends only, no line over 998 bytes, no 8-bit byte
 * when DSN_7BIT is returned, and parses as a multipart/report of three
 * parts, the third message/rfc822 or text/rfc822-headers.
 */
#include <sys/types.h>

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsn.h"
#include "fuzz.h"
#include "mime.h"

#define RCPTS_MAX	4

int	LLVMFuzzerInitialize(int *, char ***);

static uint64_t	 rnd_state;

static const char *
rnd_name(void)
{
	return "fuzz";
}

static uint32_t
rnd_random(void)
{
	rnd_state = rnd_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rnd_state >> 32);
}

static void
rnd_buf(void *buf, size_t len)
{
	unsigned char	*p = buf;
	size_t		 i;

	for (i = 0; i < len; i++)
		p[i] = rnd_random() & 0xff;
}

static struct randombytes_implementation rnd_impl = {
	.implementation_name = rnd_name,
	.random = rnd_random,
	.buf = rnd_buf
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (randombytes_set_implementation(&rnd_impl) != 0 ||
	    sodium_init() < 0)
		fuzz_fail("libsodium");
	return 0;
}

static void
check(const char *s, size_t len, int r)
{
	struct mime_msg		*m;
	const struct mime_part	*c;
	size_t			 i, bol = 0, n;

	for (i = 0; i < len; i++) {
		if (r == DSN_7BIT)
			FUZZ_ASSERT((unsigned char)s[i] < 0x80);
		if (s[i] == '\r')
			FUZZ_ASSERT(i + 1 < len && s[i + 1] == '\n');
		if (s[i] != '\n')
			continue;
		FUZZ_ASSERT(i > 0 && s[i - 1] == '\r');
		if (i - 1 - bol > 998)
			fuzz_fail("line of %zu bytes", i - 1 - bol);
		bol = i + 1;
	}
	FUZZ_ASSERT(bol == len);
	m = mime_parse(s, len);
	FUZZ_ASSERT(strcmp(m->root->type, "multipart") == 0 &&
	    strcmp(m->root->subtype, "report") == 0);
	for (n = 0, c = m->root->child; c != NULL; c = c->next, n++)
		if (n == 2)
			FUZZ_ASSERT((strcmp(c->type, "message") == 0 &&
			    strcmp(c->subtype, "rfc822") == 0) ||
			    (strcmp(c->type, "text") == 0 &&
			    strcmp(c->subtype, "rfc822-headers") == 0));
	if (n != 3)
		fuzz_fail("%zu parts", n);
	mime_free(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*p, *end = data + size, *l;
	struct dsn_info	 di;
	struct dsn_rcpt	 rc[RCPTS_MAX];
	char		*str[1 + 4 * RCPTS_MAX], *out;
	size_t		 len, nstr = 0, i, outlen;
	off_t		 o;
	int		 in, fd, r;

	if (size < 5)
		return 0;
	rnd_state = 0;
	memset(&di, 0, sizeof(di));
	memset(rc, 0, sizeof(rc));
	memset(str, 0, sizeof(str));
	di.kind = data[0] & 1 ? DSN_DELAYED : DSN_FAILED;
	di.return_full = (data[0] & 2) != 0;
	di.nrcpts = 1 + ((data[0] >> 2) & 3);
	di.arrival = 1700000000 + data[1] * 3600;
	di.now = di.arrival + data[2] * 600;
	di.expire = di.now + data[3] * 3600;
	di.reporting_mta = "mx.example.org";
	di.msgid = "0123abcd";
	p = data + 5;
	for (nstr = 0; nstr < 1 + 4 * di.nrcpts; nstr++) {
		if (!fuzz_line(&p, end, &l, &len))
			goto done;
		str[nstr] = fuzz_strndup(l, len);
	}
	di.sender = str[0];
	for (i = 0; i < di.nrcpts; i++) {
		rc[i].rcpt = str[1 + 4 * i];
		rc[i].status = str[2 + 4 * i];
		rc[i].remote_mta = str[3 + 4 * i][0] != '\0' ?
		    str[3 + 4 * i] : NULL;
		rc[i].diagnostic = str[4 + 4 * i][0] != '\0' ?
		    str[4 + 4 * i] : NULL;
		rc[i].last_attempt = data[4] & (1 << i) ? di.now - 60 : 0;
	}
	di.rcpts = rc;

	in = fuzz_memfd(p, end - p);
	fd = fuzz_memfd("", 0);
	r = dsn_write(fd, in, &di);
	if (r == -1) {
		/* Only a dsn_info it cannot take is refused here. */
		FUZZ_ASSERT(errno == EINVAL);
	} else {
		FUZZ_ASSERT(r == DSN_7BIT || r == DSN_8BIT);
		if ((o = lseek(fd, 0, SEEK_CUR)) <= 0)
			fuzz_fail("nothing written");
		outlen = (size_t)o;
		if ((out = malloc(outlen)) == NULL)
			fuzz_fail("malloc");
		if (pread(fd, out, outlen, 0) != (ssize_t)outlen)
			fuzz_fail("pread");
		check(out, outlen, r);
		free(out);
	}
	close(in);
	close(fd);
 done:
	for (i = 0; i < nstr; i++)
		free(str[i]);
	return 0;
}
