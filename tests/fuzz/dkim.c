/*
 * DKIM (dkim.c): a message from a client is signed as the queue signs
 * it, fed once whole and once in chunks whose sizes come from the
 * input; its header and body also go through the canonicalisations and
 * the h= selection alone.  With the first byte's low bit set the rest
 * is instead a key file: domain, selector and PEM text for
 * dkim_key_new(), as the parent reads them from mail.conf's dkim lines.
 * The signing key is a fixed Ed25519 test key (RSA would spend the time
 * in libcrypto) and the time is fixed, so signatures are repeatable.
 *
 * Properties: the signature does not depend on how the message was cut
 * into chunks; it is lines of at most 78 columns ending in CRLF,
 * continuation lines starting with a TAB, no other control character;
 * relaxed body canonicalisation is idempotent and ends in CRLF; a key
 * that loads gives a TXT record.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim.h"
#include "fuzz.h"

#define NOW	1700000000

/* tests/data/dkim/ed25519.pem */
static const char test_key[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIBfybbaP89/gT4b4FSO9LCIpEtFDgkLXp9D/9CTIraKy\n"
    "-----END PRIVATE KEY-----\n";

static struct dkim_key	*key;

static char	*sign(const uint8_t *, size_t, const uint8_t *, size_t);
static void	 check_signature(const char *);
static void	 canon(const uint8_t *, size_t);
static void	 keyfile(const uint8_t *, size_t);

static char *
sign(const uint8_t *msg, size_t len, const uint8_t *cuts, size_t ncuts)
{
	struct dkim_signer	*s;
	char			 err[256], *sig;
	size_t			 pos = 0, n, i = 0;

	if ((s = dkim_signer_new(&key, 1, NOW)) == NULL)
		fuzz_fail("dkim_signer_new");
	while (pos < len) {
		n = ncuts > 0 ? (size_t)cuts[i++ % ncuts] + 1 : len - pos;
		if (n > len - pos)
			n = len - pos;
		dkim_signer_update(s, msg + pos, n);
		pos += n;
	}
	sig = dkim_signer_final(s, err, sizeof(err));
	if (sig == NULL)
		FUZZ_ASSERT(err[0] != '\0');
	dkim_signer_free(s);
	return sig;
}

static void
check_signature(const char *sig)
{
	const char	*p, *eol;

	FUZZ_ASSERT(strncmp(sig, "DKIM-Signature:", 15) == 0);
	for (p = sig; *p != '\0'; p = eol + 2) {
		if ((eol = strstr(p, "\r\n")) == NULL)
			fuzz_fail("signature line without CRLF");
		FUZZ_ASSERT(eol - p <= 78);
		if (p != sig)
			FUZZ_ASSERT(*p == '\t');
		for (; p < eol; p++)
			FUZZ_ASSERT((unsigned char)*p >= 0x20 ? *p != 0x7f :
			    *p == '\t');
	}
}

static void
canon(const uint8_t *data, size_t size)
{
	char	*a, *b, *h;
	size_t	 na, nb, nh;

	a = dkim_canon_body(DKIM_CANON_RELAXED, data, size, &na);
	FUZZ_ASSERT(a != NULL || na == 0);
	if (na > 0)
		FUZZ_ASSERT(na >= 2 && memcmp(a + na - 2, "\r\n", 2) == 0);
	b = dkim_canon_body(DKIM_CANON_RELAXED, a, na, &nb);
	if (na != nb || (na > 0 && memcmp(a, b, na) != 0))
		fuzz_fail("relaxed body canonicalisation is not idempotent");
	free(a);
	free(b);
	a = dkim_canon_body(DKIM_CANON_SIMPLE, data, size, &na);
	free(a);
	if ((h = dkim_canon_header(DKIM_CANON_RELAXED, (const char *)data,
	    size, &nh)) != NULL) {
		FUZZ_ASSERT(nh >= 2 && memcmp(h + nh - 2, "\r\n", 2) == 0);
		free(h);
	}
	if ((h = dkim_canon_header(DKIM_CANON_SIMPLE, (const char *)data,
	    size, &nh)) != NULL) {
		FUZZ_ASSERT(nh >= 2 && memcmp(h + nh - 2, "\r\n", 2) == 0);
		free(h);
	}
	if ((h = dkim_header_list((const char *)data, size)) != NULL) {
		FUZZ_ASSERT(strncasecmp(h, "from", 4) == 0);
		free(h);
	}
}

/* "domain\nselector\nPEM..." */
static void
keyfile(const uint8_t *data, size_t size)
{
	const uint8_t		*p = data, *end = data + size, *l;
	struct dkim_key		*k;
	char			*domain, *selector, *pem, err[256], *txt;
	size_t			 len;

	if (!fuzz_line(&p, end, &l, &len))
		return;
	domain = fuzz_strndup(l, len);
	if (!fuzz_line(&p, end, &l, &len)) {
		free(domain);
		return;
	}
	selector = fuzz_strndup(l, len);
	pem = fuzz_strndup(p, end - p);
	k = dkim_key_new(domain, selector, pem, end - p, err, sizeof(err));
	if (k == NULL)
		FUZZ_ASSERT(err[0] != '\0');
	else {
		FUZZ_ASSERT(dkim_key_type(k) == DKIM_RSA ||
		    dkim_key_type(k) == DKIM_ED25519);
		if ((txt = dkim_key_txt(k)) == NULL)
			fuzz_fail("dkim_key_txt");
		FUZZ_ASSERT(strncmp(txt, "v=DKIM1; k=", 11) == 0);
		free(txt);
		dkim_key_free(k);
	}
	free(pem);
	free(selector);
	free(domain);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	 err[256], *a, *b;
	size_t	 ncuts;

	if (key == NULL && (key = dkim_key_new("example.org", "fuzz",
	    test_key, sizeof(test_key) - 1, err, sizeof(err))) == NULL)
		fuzz_fail("test key: %s", err);
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		keyfile(data + 1, size - 1);
		return 0;
	}
	ncuts = (data[0] >> 1) % 8;
	if (ncuts > size - 1)
		ncuts = size - 1;
	a = sign(data + 1, size - 1, NULL, 0);
	b = sign(data + 1, size - 1, data + 1, ncuts);
	if ((a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0))
		fuzz_fail("signature depends on the chunks");
	if (a != NULL)
		check_signature(a);
	free(a);
	free(b);
	canon(data + 1, size - 1);
	return 0;
}
