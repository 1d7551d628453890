/*
 * What the SMTP client reads and writes (smtp_reply.c): the replies of
 * a remote server, line by line as relay_session.c feeds them, and the
 * dot-stuffing of the message it sends after DATA.  The input is both:
 * the server's side of the conversation and the message.
 *
 * Properties: a finished reply has a code of 200 to 599 and a kept text
 * without control or 8-bit bytes; stuffing gives the same bytes however
 * the message is cut into chunks, ends every line with CRLF, has no
 * lone CR or LF, and no line of the data is "." or starts with a single
 * '.' before the final ".\r\n".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "smtp_reply.h"

static void	 replies(const uint8_t *, size_t);
static size_t	 stuff_all(const uint8_t *, size_t, const uint8_t *, size_t,
		    char *);
static void	 check_stuffed(const char *, size_t);

static void
replies(const uint8_t *data, size_t size)
{
	const uint8_t		*p = data, *end = data + size, *l;
	struct smtp_reply	 r;
	const char		*text, *t;
	char			*line;
	size_t			 len;
	int			 res;

	smtp_reply_init(&r);
	while (fuzz_line(&p, end, &l, &len)) {
		line = fuzz_strndup(l, len);
		res = smtp_reply_line(&r, line, len, &text);
		if (res == SMTP_REPLY_BAD) {
			/* relay_session.c drops the connection. */
			free(line);
			return;
		}
		FUZZ_ASSERT(*text == '\0' ||
		    (text >= line && text + strlen(text) <= line + len));
		FUZZ_ASSERT(r.code >= 200 && r.code <= 599);
		FUZZ_ASSERT(r.nlines >= 1 && r.nlines <= SMTP_REPLY_LINES);
		for (t = r.text; *t != '\0'; t++)
			FUZZ_ASSERT((unsigned char)*t >= 0x20 &&
			    (unsigned char)*t < 0x7f);
		free(line);
	}
}

/* Stuff msg in chunks whose sizes come from cuts (none: in one go). */
static size_t
stuff_all(const uint8_t *msg, size_t len, const uint8_t *cuts, size_t ncuts,
    char *out)
{
	struct smtp_stuff	 st;
	size_t			 o = 0, pos = 0, n, i = 0;

	smtp_stuff_init(&st);
	while (pos < len) {
		n = ncuts > 0 ? (size_t)cuts[i++ % ncuts] + 1 : len - pos;
		if (n > len - pos)
			n = len - pos;
		o += smtp_stuff(&st, (const char *)msg + pos, n, out + o);
		pos += n;
	}
	o += smtp_stuff_end(&st, out + o);
	return o;
}

static void
check_stuffed(const char *s, size_t len)
{
	size_t	 i, bol = 0;

	FUZZ_ASSERT(len >= 3 && memcmp(s + len - 3, ".\r\n", 3) == 0);
	for (i = 0; i < len; i++) {
		if (s[i] == '\r')
			FUZZ_ASSERT(i + 1 < len && s[i + 1] == '\n');
		if (s[i] != '\n')
			continue;
		FUZZ_ASSERT(i > 0 && s[i - 1] == '\r');
		/* The line [bol, i - 1) of the data: stuffed. */
		if (i + 1 < len && s[bol] == '.')
			FUZZ_ASSERT(i - 1 - bol >= 2 && s[bol + 1] == '.');
		bol = i + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*a, *b;
	size_t	 na, nb, ncuts;

	if (size < 1)
		return 0;
	replies(data, size);

	/* The first byte: how many of the next bytes give chunk sizes. */
	ncuts = data[0] % 8;
	if (ncuts > size - 1)
		ncuts = size - 1;
	if ((a = malloc(SMTP_STUFF_ROOM(size) + 5)) == NULL ||
	    (b = malloc(SMTP_STUFF_ROOM(size) + 5)) == NULL)
		fuzz_fail("malloc");
	na = stuff_all(data + 1, size - 1, NULL, 0, a);
	nb = stuff_all(data + 1, size - 1, data + 1, ncuts, b);
	FUZZ_ASSERT(na <= SMTP_STUFF_ROOM(size - 1) + 5);
	FUZZ_ASSERT(na == nb && memcmp(a, b, na) == 0);
	check_stuffed(a, na);
	free(a);
	free(b);
	return 0;
}
