/*
 * SASL helpers shared by the smtp and imap sessions: decoding a
 * client's base64 response and splitting a PLAIN one.  Passwords pass
 * through here: callers wipe their buffers.
 */
#include <sodium.h>
#include <string.h>

#include "sasl.h"

int
sasl_decode(const char *in, size_t len, char *out, size_t *outlen)
{
	*outlen = 0;
	out[0] = '\0';
	if (len == 1 && in[0] == '=')
		return 0;
	if (len == 0 || len % 4 != 0 || len / 4 * 3 > SASL_MAX)
		return -1;
	if (sodium_base642bin((unsigned char *)out, SASL_MAX, in, len, NULL,
	    outlen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
		return -1;
	out[*outlen] = '\0';
	return 0;
}

int
sasl_plain(const char *buf, size_t len, const char **user,
    const char **pass, size_t *passlen)
{
	const char	*authz = buf, *authc, *pw, *end = buf + len;

	if ((authc = memchr(authz, '\0', len)) == NULL)
		return SASL_BAD;
	authc++;
	if (authc >= end || (pw = memchr(authc, '\0', end - authc)) == NULL)
		return SASL_BAD;
	pw++;
	if (*authc == '\0' || memchr(pw, '\0', end - pw) != NULL)
		return SASL_BAD;
	if (*authz != '\0' && strcmp(authz, authc) != 0)
		return SASL_AUTHZ;
	*user = authc;
	*pass = pw;
	*passlen = end - pw;
	return SASL_OK;
}
