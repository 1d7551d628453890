/*
 * SASL (sasl.c): the base64 responses of SMTP AUTH and IMAP
 * AUTHENTICATE, decoded and split as PLAIN, as both sessions do (the
 * input is one response line without its CRLF); the raw input is also
 * split as an already decoded PLAIN response.
 *
 * Properties: a decoded response fits SASL_MAX and is NUL-terminated;
 * a PLAIN response that is accepted has a non-empty user and a password
 * without NUL inside the decoded bytes, and asks for no other identity.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sasl.h"

static void	 plain(const char *, size_t);

static void
plain(const char *buf, size_t n)
{
	const char	*user, *pass;
	size_t		 plen;
	int		 r;

	r = sasl_plain(buf, n, &user, &pass, &plen);
	if (r != SASL_OK) {
		FUZZ_ASSERT(r == SASL_BAD || r == SASL_AUTHZ);
		return;
	}
	FUZZ_ASSERT(user > buf && user < buf + n && *user != '\0');
	FUZZ_ASSERT(pass > user && pass + plen == buf + n);
	FUZZ_ASSERT(memchr(pass, '\0', plen) == NULL);
	/* An authzid, if any, names the same user. */
	FUZZ_ASSERT(buf[0] == '\0' || strcmp(buf, user) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*line, *raw, out[SASL_MAX + 1];
	size_t	 n;

	line = fuzz_strndup(data, size);
	if (sasl_decode(line, size, out, &n) == 0) {
		FUZZ_ASSERT(n <= SASL_MAX && out[n] == '\0');
		plain(out, n);
	}
	free(line);
	/* No NUL after the bytes: sasl_plain must not need one. */
	if ((raw = malloc(size > 0 ? size : 1)) == NULL)
		fuzz_fail("malloc");
	memcpy(raw, data, size);
	plain(raw, size);
	free(raw);
	return 0;
}
