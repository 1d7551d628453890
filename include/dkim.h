/*
 * DKIM signing (RFC 6376): rsa-sha256 (libcrypto) and ed25519-sha256
 * (RFC 8463, libsodium), c=relaxed/relaxed, one signature per key.
 *
 * The queue process loads the keys (PEM text handed over by the parent),
 * feeds a committed message through a signer in chunks and prepends the
 * DKIM-Signature headers it gets back.  Nothing here does I/O.
 */
#ifndef MAILD_DKIM_H
#define MAILD_DKIM_H

#include <stddef.h>
#include <time.h>

#define DKIM_RSA		1
#define DKIM_ED25519		2

#define DKIM_CANON_SIMPLE	0
#define DKIM_CANON_RELAXED	1

#define DKIM_PEM_MAX		(64 * 1024)	/* bytes of PEM text */
#define DKIM_RSA_BITS_MIN	1024
#define DKIM_RSA_BITS_MAX	8192
#define DKIM_HEADER_MAX		(1024 * 1024)	/* bytes of message header */
#define DKIM_INSTANCES_MAX	16	/* signed instances of one field */
#define DKIM_NAME_MAX		253	/* domain or selector */

struct dkim_key;		/* one selector of one domain */
struct dkim_signer;

/*
 * Parse a PEM private key as `openssl genrsa 2048` (PKCS#1 or PKCS#8) or
 * `openssl genpkey -algorithm ed25519` write it.  NULL with a reason in
 * err (unsupported type, RSA below 1024 bits, encrypted, garbage, bad
 * domain or selector).
 */
struct dkim_key	*dkim_key_new(const char *domain, const char *selector,
		    const char *pem, size_t pemlen, char *err, size_t errlen);
void		 dkim_key_free(struct dkim_key *);
int		 dkim_key_type(const struct dkim_key *); /* DKIM_RSA/ED25519 */
/* The DNS TXT record value for the key ("v=DKIM1; k=rsa; p=..."), malloc'd. */
char		*dkim_key_txt(const struct dkim_key *);

/*
 * Streaming signer: feed the raw message (CRLF line ends, as the spool
 * holds it) in any chunks.  The keys must outlive the signer.
 */
struct dkim_signer *dkim_signer_new(struct dkim_key *const *keys,
		    size_t nkeys, time_t now);
void		 dkim_signer_update(struct dkim_signer *, const void *, size_t);
/*
 * One "DKIM-Signature: ...\r\n" header per key (folded at <= 78 columns,
 * continuation lines start with a TAB), concatenated, malloc'd; NULL with
 * err (no From header, header over DKIM_HEADER_MAX, no keys, ...).
 * Call it once.
 */
char		*dkim_signer_final(struct dkim_signer *, char *err,
		    size_t errlen);
void		 dkim_signer_free(struct dkim_signer *);

/*
 * Exposed for tests.
 *
 * Canonical form of one header field (name, colon, value with its folding,
 * final CRLF optional), malloc'd, *outlen set; always ends in CRLF.
 */
char		*dkim_canon_header(int canon, const char *, size_t,
		    size_t *outlen);
/* Canonical form of a message body, malloc'd, *outlen set. */
char		*dkim_canon_body(int canon, const void *, size_t,
		    size_t *outlen);
/*
 * The h= value the signer uses for a header block ("from:to:from"),
 * malloc'd; NULL if it has no From field or too many of them.
 */
char		*dkim_header_list(const char *, size_t);
/*
 * Sign already canonicalised header data with the key's algorithm
 * (RSASSA-PKCS1-v1_5 with SHA-256, or Ed25519 over its SHA-256) and
 * write the base64 signature to out.  0 on success, -1 on failure.
 */
int		 dkim_key_sign(const struct dkim_key *, const void *, size_t,
		    char *out, size_t outlen);

#endif
