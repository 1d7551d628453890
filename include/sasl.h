/*
 * SASL for SMTP AUTH and IMAP AUTHENTICATE: base64 as RFC 4954 and
 * RFC 3501 carry it, and the PLAIN (RFC 4616) and LOGIN mechanisms.
 */
#ifndef MAILD_SASL_H
#define MAILD_SASL_H

#include <stddef.h>

#define SASL_MAX	2048	/* decoded bytes of one response */

/*
 * Strict base64 (padding required, no spaces) of in[0..len) into out,
 * NUL-terminated (out needs SASL_MAX + 1 bytes); "=" alone is the
 * empty response.  0 and *outlen, or -1.
 */
int	sasl_decode(const char *, size_t, char *, size_t *);

#define SASL_OK		0
#define SASL_BAD	(-1)	/* malformed */
#define SASL_AUTHZ	(-2)	/* asks to act as another user */

/*
 * A decoded PLAIN response, [authzid] NUL authcid NUL passwd: the user
 * (NUL-terminated inside buf) and the password (passlen bytes).
 */
int	sasl_plain(const char *, size_t, const char **, const char **,
	    size_t *);

#endif
