/*
 * DKIM signing (RFC 6376) with rsa-sha256 (libcrypto) and ed25519-sha256
 * (RFC 8463: Ed25519 over the SHA-256 of the header data, libsodium).
 *
 * A signer takes the message in chunks as the spool holds it.  The header
 * block is kept (at most DKIM_HEADER_MAX bytes) because the fields to sign
 * are only known once all of it has been seen; the body goes through a
 * streaming relaxed canonicaliser straight into SHA-256 and is not kept.
 * Canonicalisation is relaxed/relaxed, done by dkim_canon.c, which the
 * verifier (dkim_verify.c) uses too.
 *
 * Keys come from PEM text read by the parent.  Ed25519 keys in the PKCS#8
 * form `openssl genpkey` writes are decoded here, so that they work with
 * any libcrypto; anything else goes through PEM_read_bio_PrivateKey().
 */
#include <sys/types.h>

#include <ctype.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "dkim.h"
#include "dkim_canon.h"
#include "log.h"

#define FOLD_COLS	78	/* columns of a header line, TAB counted as 8 */
#define FOLD_INDENT	8	/* column after the TAB of a continuation */
#define SIG_MAX		1024	/* bytes of an RSA-8192 signature */
#define SIG_B64_MAX	1400	/* base64 of SIG_MAX, with NUL */

struct dkim_key {
	int		 type;
	char		 domain[DKIM_NAME_MAX + 1];
	char		 selector[DKIM_NAME_MAX + 1];
	EVP_PKEY	*pkey;			/* DKIM_RSA */
	unsigned char	 sk[crypto_sign_SECRETKEYBYTES]; /* DKIM_ED25519 */
	unsigned char	 pk[crypto_sign_PUBLICKEYBYTES];
};

struct dkim_signer {
	struct dkim_key		**keys;
	size_t			  nkeys;
	time_t			  now;
	struct dkim_hdrbuf	  hdr;
	int			  done;
	EVP_MD_CTX		 *bh;		/* body hash */
	struct dkim_canon	  body;
};

/* From first: hdr_select() over-signs it. */
static const char *const signed_names[] = {
	"from", "to", "cc", "subject", "date", "message-id", "mime-version",
	"content-type", "content-transfer-encoding", "reply-to",
	"in-reply-to", "references"
};

#define SEL_MAX		(nitems(signed_names) * DKIM_INSTANCES_MAX + 1)

/* The fields to sign, in h= order; f[i] NULL for an over-signed name. */
struct hsel {
	const struct dkim_field	*f[SEL_MAX];
	const char		*name[SEL_MAX];
	size_t			 n;
};

static const unsigned char ed25519_pkcs8[16] = {
	0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
	0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20
};

static void	 dkim_init(void);
static void	 seterr(char *, size_t, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static int	 name_ok(const char *);
static int	 pem_nopass(char *, int, int, void *);
static int	 key_ed25519_pkcs8(struct dkim_key *, const char *, size_t);
static int	 key_libcrypto(struct dkim_key *, const char *, size_t,
		    char *, size_t);
static char	*b64(const void *, size_t);
static void	 sha_sink(void *, const void *, size_t);
static const char *hdr_select(const struct dkim_field *, size_t,
		    struct hsel *);
static void	 fold_word(struct dkim_buf *, size_t *, const char *, size_t,
		    int);
static int	 sign_one(struct dkim_signer *, const struct dkim_key *,
		    const struct hsel *, const char *, const struct dkim_buf *,
		    struct dkim_buf *);

static void
dkim_init(void)
{
	if (sodium_init() < 0)
		fatalx("sodium_init");
}

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	/* A cut error message is still an error message. */
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Domain and selector go verbatim into the header and the DNS name. */
static int
name_ok(const char *s)
{
	size_t	 i, len;

	len = strlen(s);
	if (len == 0 || len > DKIM_NAME_MAX || s[0] == '.' || s[0] == '-' ||
	    s[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '.' && s[i] != '_')
			return 0;
		if (s[i] == '.' && s[i + 1] == '.')
			return 0;
	}
	return 1;
}

/* An encrypted key must fail, not prompt on a terminal. */
static int
pem_nopass(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

/*
 * The 48-byte PKCS#8 form of `openssl genpkey -algorithm ed25519`: a fixed
 * prefix and the 32-byte seed.  1 if that is what pem holds.
 */
static int
key_ed25519_pkcs8(struct dkim_key *k, const char *pem, size_t pemlen)
{
	static const char	 begin[] = "-----BEGIN PRIVATE KEY-----";
	static const char	 end[] = "-----END PRIVATE KEY-----";
	unsigned char		 der[64];
	const char		*b, *e;
	size_t			 derlen;
	int			 ret = 0;

	if ((b = memmem(pem, pemlen, begin, sizeof(begin) - 1)) == NULL)
		return 0;
	b += sizeof(begin) - 1;
	if ((e = memmem(b, pemlen - (b - pem), end, sizeof(end) - 1)) == NULL)
		return 0;
	if (sodium_base642bin(der, sizeof(der), b, e - b, " \t\r\n", &derlen,
	    NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
	    derlen == sizeof(ed25519_pkcs8) + 32 &&
	    memcmp(der, ed25519_pkcs8, sizeof(ed25519_pkcs8)) == 0) {
		crypto_sign_seed_keypair(k->pk, k->sk,
		    der + sizeof(ed25519_pkcs8));
		k->type = DKIM_ED25519;
		ret = 1;
	}
	sodium_memzero(der, sizeof(der));
	return ret;
}

static int
key_libcrypto(struct dkim_key *k, const char *pem, size_t pemlen, char *err,
    size_t errlen)
{
	BIO		*bio;
	EVP_PKEY	*pkey;
	int		 bits, ret = -1;

	if ((bio = BIO_new_mem_buf(pem, (int)pemlen)) == NULL)
		fatalx("BIO_new_mem_buf");
	pkey = PEM_read_bio_PrivateKey(bio, NULL, pem_nopass, NULL);
	BIO_free(bio);
	if (pkey == NULL) {
		if (memmem(pem, pemlen, "ENCRYPTED", 9) != NULL)
			seterr(err, errlen, "encrypted private keys are not "
			    "supported");
		else
			seterr(err, errlen, "no PEM private key found");
		goto done;
	}
	switch (EVP_PKEY_base_id(pkey)) {
	case EVP_PKEY_RSA:
		bits = EVP_PKEY_bits(pkey);
		if (bits < DKIM_RSA_BITS_MIN || bits > DKIM_RSA_BITS_MAX) {
			seterr(err, errlen, "RSA key of %d bits (%d to %d "
			    "allowed)", bits, DKIM_RSA_BITS_MIN,
			    DKIM_RSA_BITS_MAX);
			goto done;
		}
		k->type = DKIM_RSA;
		k->pkey = pkey;
		pkey = NULL;
		ret = 0;
		break;
#ifdef EVP_PKEY_ED25519
	case EVP_PKEY_ED25519: {
		/* Another encoding than the one genpkey writes. */
		unsigned char	 seed[32];
		size_t		 seedlen = sizeof(seed);

		if (EVP_PKEY_get_raw_private_key(pkey, seed, &seedlen) != 1 ||
		    seedlen != sizeof(seed)) {
			seterr(err, errlen, "unreadable Ed25519 key");
			goto done;
		}
		crypto_sign_seed_keypair(k->pk, k->sk, seed);
		sodium_memzero(seed, sizeof(seed));
		k->type = DKIM_ED25519;
		ret = 0;
		break;
	}
#endif
	default:
		seterr(err, errlen, "unsupported key type (RSA or Ed25519 "
		    "only)");
		break;
	}
 done:
	EVP_PKEY_free(pkey);
	/* Leave no stale error behind for the next TLS call. */
	ERR_clear_error();
	return ret;
}

struct dkim_key *
dkim_key_new(const char *domain, const char *selector, const char *pem,
    size_t pemlen, char *err, size_t errlen)
{
	struct dkim_key	*k;

	dkim_init();
	seterr(err, errlen, "%s", "");
	if (domain == NULL || !name_ok(domain)) {
		seterr(err, errlen, "invalid domain");
		return NULL;
	}
	if (selector == NULL || !name_ok(selector)) {
		seterr(err, errlen, "invalid selector");
		return NULL;
	}
	if (pem == NULL || pemlen == 0) {
		seterr(err, errlen, "no PEM private key found");
		return NULL;
	}
	if (pemlen > DKIM_PEM_MAX) {
		seterr(err, errlen, "key file over %d bytes", DKIM_PEM_MAX);
		return NULL;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL)
		fatal("calloc");
	if (strlcpy(k->domain, domain, sizeof(k->domain)) >=
	    sizeof(k->domain) ||
	    strlcpy(k->selector, selector, sizeof(k->selector)) >=
	    sizeof(k->selector))
		fatalx("%s: name_ok", __func__);
	if (key_ed25519_pkcs8(k, pem, pemlen))
		return k;
	if (key_libcrypto(k, pem, pemlen, err, errlen) == -1) {
		dkim_key_free(k);
		return NULL;
	}
	return k;
}

void
dkim_key_free(struct dkim_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	sodium_memzero(k, sizeof(*k));
	free(k);
}

int
dkim_key_type(const struct dkim_key *k)
{
	return k->type;
}

static char *
b64(const void *bin, size_t len)
{
	char	*s;
	size_t	 slen;

	slen = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	if ((s = malloc(slen)) == NULL)
		fatal("malloc");
	sodium_bin2base64(s, slen, bin, len, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

char *
dkim_key_txt(const struct dkim_key *k)
{
	unsigned char	*der, *p;
	char		*p64, *txt;
	int		 len;

	if (k->type == DKIM_ED25519) {
		p64 = b64(k->pk, sizeof(k->pk));
		if (asprintf(&txt, "v=DKIM1; k=ed25519; p=%s", p64) == -1)
			fatal("asprintf");
		free(p64);
		return txt;
	}
	if ((len = i2d_PUBKEY(k->pkey, NULL)) <= 0)
		fatalx("i2d_PUBKEY");
	if ((der = malloc(len)) == NULL)
		fatal("malloc");
	p = der;
	if (i2d_PUBKEY(k->pkey, &p) != len)
		fatalx("i2d_PUBKEY");
	p64 = b64(der, len);
	free(der);
	if (asprintf(&txt, "v=DKIM1; k=rsa; p=%s", p64) == -1)
		fatal("asprintf");
	free(p64);
	return txt;
}

int
dkim_key_sign(const struct dkim_key *k, const void *data, size_t len,
    char *out, size_t outlen)
{
	EVP_MD_CTX	*ctx;
	unsigned char	 sig[SIG_MAX], h[crypto_hash_sha256_BYTES];
	size_t		 siglen;
	int		 ret = -1;

	if (k->type == DKIM_ED25519) {
		crypto_hash_sha256(h, data, len);
		crypto_sign_detached(sig, NULL, h, sizeof(h), k->sk);
		siglen = crypto_sign_BYTES;
	} else {
		if ((ctx = EVP_MD_CTX_new()) == NULL)
			fatalx("EVP_MD_CTX_new");
		siglen = 0;
		if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL,
		    k->pkey) != 1 ||
		    EVP_DigestSignUpdate(ctx, data, len) != 1 ||
		    EVP_DigestSignFinal(ctx, NULL, &siglen) != 1 ||
		    siglen > sizeof(sig) ||
		    EVP_DigestSignFinal(ctx, sig, &siglen) != 1)
			siglen = 0;
		EVP_MD_CTX_free(ctx);
		ERR_clear_error();
		if (siglen == 0)
			return -1;
	}
	if (sodium_base64_ENCODED_LEN(siglen, sodium_base64_VARIANT_ORIGINAL)
	    <= outlen) {
		sodium_bin2base64(out, outlen, sig, siglen,
		    sodium_base64_VARIANT_ORIGINAL);
		ret = 0;
	}
	return ret;
}

static void
sha_sink(void *arg, const void *p, size_t len)
{
	if (EVP_DigestUpdate(arg, p, len) != 1)
		fatalx("EVP_DigestUpdate");
}

char *
dkim_canon_body(int canon, const void *p, size_t len, size_t *outlen)
{
	struct dkim_buf	 b;
	struct dkim_canon *c;

	memset(&b, 0, sizeof(b));
	if ((c = malloc(sizeof(*c))) == NULL)
		fatal("malloc");
	dkim_canon_init(c, canon, dkim_buf_sink, &b);
	dkim_canon_update(c, p, len);
	dkim_canon_final(c);
	free(c);
	if (b.p == NULL) {
		if ((b.p = strdup("")) == NULL)
			fatal("strdup");
	}
	*outlen = b.len;
	return b.p;
}

char *
dkim_canon_header(int canon, const char *p, size_t len, size_t *outlen)
{
	struct dkim_buf	 b;

	memset(&b, 0, sizeof(b));
	if (dkim_canon_field(&b, canon, p, len) == -1) {
		free(b.p);
		return NULL;
	}
	*outlen = b.len;
	return b.p;
}

/*
 * Choose the fields to sign (RFC 6376 5.4.2: several instances of a name
 * are taken from the bottom up) and over-sign From, so that a From added
 * later breaks the signature.  NULL on success, else the reason.
 */
static const char *
hdr_select(const struct dkim_field *f, size_t nf, struct hsel *sel)
{
	size_t	 i, j, count;
	int	 from;

	sel->n = 0;
	for (i = 0; i < nitems(signed_names); i++) {
		from = i == 0;
		count = 0;
		for (j = nf; j > 0; j--) {
			if (!dkim_field_is(&f[j - 1], signed_names[i],
			    strlen(signed_names[i])))
				continue;
			if (count == DKIM_INSTANCES_MAX) {
				/* More would only make h= absurd. */
				if (from)
					return "too many From headers";
				break;
			}
			sel->f[sel->n] = &f[j - 1];
			sel->name[sel->n++] = signed_names[i];
			count++;
		}
		if (from) {
			if (count == 0)
				return "no From header";
			sel->f[sel->n] = NULL;
			sel->name[sel->n++] = signed_names[i];
		}
	}
	return NULL;
}

char *
dkim_header_list(const char *h, size_t len)
{
	struct hsel	*sel;
	struct dkim_field	*f;
	struct dkim_buf	 b;
	size_t		 nf, i;

	memset(&b, 0, sizeof(b));
	if ((sel = malloc(sizeof(*sel))) == NULL)
		fatal("malloc");
	f = dkim_fields(h, len, &nf);
	if (hdr_select(f, nf, sel) == NULL) {
		for (i = 0; i < sel->n; i++) {
			if (i > 0)
				dkim_buf_add(&b, ":", 1);
			dkim_buf_addstr(&b, sel->name[i]);
		}
	}
	free(f);
	free(sel);
	return b.p;
}

struct dkim_signer *
dkim_signer_new(struct dkim_key *const *keys, size_t nkeys, time_t now)
{
	struct dkim_signer	*s;
	size_t			 i;

	dkim_init();
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("calloc");
	if (nkeys > 0) {
		if ((s->keys = calloc(nkeys, sizeof(*s->keys))) == NULL)
			fatal("calloc");
		for (i = 0; i < nkeys; i++)
			s->keys[i] = keys[i];
	}
	s->nkeys = nkeys;
	s->now = now;
	/* libcrypto's SHA-256 uses the CPU's SHA extensions; bodies are big. */
	if ((s->bh = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(s->bh, EVP_sha256(), NULL) != 1)
		fatalx("EVP_DigestInit_ex");
	dkim_canon_init(&s->body, DKIM_CANON_RELAXED, sha_sink, s->bh);
	dkim_hdrbuf_init(&s->hdr, DKIM_HEADER_MAX);
	return s;
}

void
dkim_signer_update(struct dkim_signer *s, const void *data, size_t len)
{
	const unsigned char	*p = data;
	size_t			 used = 0;

	if (s->done || s->hdr.toobig)
		return;
	if (!s->hdr.inbody)
		used = dkim_hdrbuf_feed(&s->hdr, p, len);
	if (s->hdr.inbody)
		dkim_canon_update(&s->body, p + used, len - used);
}

/* Append a word, after a SP or on a new continuation line if it is full. */
static void
fold_word(struct dkim_buf *b, size_t *col, const char *w, size_t len,
    int space)
{
	if (*col + len + (space ? 1 : 0) > FOLD_COLS && *col > FOLD_INDENT) {
		dkim_buf_add(b, "\r\n\t", 3);
		*col = FOLD_INDENT;
	} else if (space) {
		dkim_buf_add(b, " ", 1);
		(*col)++;
	}
	dkim_buf_add(b, w, len);
	*col += len;
}

/*
 * Make one DKIM-Signature field for key k and append it to out.  prefix
 * holds the canonical signed fields; the field itself, b= empty, is
 * canonicalised after them and the lot signed (RFC 6376 3.7).
 */
static int
sign_one(struct dkim_signer *s, const struct dkim_key *k,
    const struct hsel *sel, const char *bh, const struct dkim_buf *prefix,
    struct dkim_buf *out)
{
	struct dkim_buf	 hdr, data;
	char		 tag[DKIM_NAME_MAX + 32], sig[SIG_B64_MAX];
	size_t		 col, i, n, len;
	int		 ret = -1;

	memset(&hdr, 0, sizeof(hdr));
	memset(&data, 0, sizeof(data));
	dkim_buf_addstr(&hdr, "DKIM-Signature:");
	col = strlen("DKIM-Signature:");
	fold_word(&hdr, &col, "v=1;", 4, 1);
	if (k->type == DKIM_ED25519)
		fold_word(&hdr, &col, "a=ed25519-sha256;", 17, 1);
	else
		fold_word(&hdr, &col, "a=rsa-sha256;", 13, 1);
	fold_word(&hdr, &col, "c=relaxed/relaxed;", 18, 1);
	n = (size_t)snprintf(tag, sizeof(tag), "d=%s;", k->domain);
	if (n >= sizeof(tag))
		goto done;
	fold_word(&hdr, &col, tag, n, 1);
	n = (size_t)snprintf(tag, sizeof(tag), "s=%s;", k->selector);
	if (n >= sizeof(tag))
		goto done;
	fold_word(&hdr, &col, tag, n, 1);
	n = (size_t)snprintf(tag, sizeof(tag), "t=%lld;", (long long)s->now);
	if (n >= sizeof(tag))
		goto done;
	fold_word(&hdr, &col, tag, n, 1);
	/* h= folds only after a colon, where FWS is allowed. */
	for (i = 0; i < sel->n; i++) {
		n = (size_t)snprintf(tag, sizeof(tag), "%s%s%s",
		    i == 0 ? "h=" : "", sel->name[i],
		    i + 1 == sel->n ? ";" : ":");
		if (n >= sizeof(tag))
			goto done;
		fold_word(&hdr, &col, tag, n, i == 0);
	}
	n = (size_t)snprintf(tag, sizeof(tag), "bh=%s;", bh);
	if (n >= sizeof(tag))
		goto done;
	fold_word(&hdr, &col, tag, n, 1);
	fold_word(&hdr, &col, "b=", 2, 1);

	dkim_buf_add(&data, prefix->p, prefix->len);
	if (dkim_canon_field(&data, DKIM_CANON_RELAXED, hdr.p, hdr.len) == -1)
		fatalx("%s: no colon", __func__);
	data.len -= 2;				/* no CRLF after b= */
	if (dkim_key_sign(k, data.p, data.len, sig, sizeof(sig)) == -1)
		goto done;

	/* base64 may be broken anywhere by FWS. */
	len = strlen(sig);
	for (i = 0; i < len; i += n) {
		if (col >= FOLD_COLS) {
			dkim_buf_add(&hdr, "\r\n\t", 3);
			col = FOLD_INDENT;
		}
		n = FOLD_COLS - col;
		if (n > len - i)
			n = len - i;
		dkim_buf_add(&hdr, sig + i, n);
		col += n;
	}
	dkim_buf_add(&hdr, "\r\n", 2);
	dkim_buf_add(out, hdr.p, hdr.len);
	ret = 0;
 done:
	free(hdr.p);
	free(data.p);
	return ret;
}

char *
dkim_signer_final(struct dkim_signer *s, char *err, size_t errlen)
{
	struct hsel	*sel = NULL;
	struct dkim_field	*f = NULL;
	struct dkim_buf	 prefix, out;
	unsigned char	 h[crypto_hash_sha256_BYTES];
	const char	*why;
	char		*bh = NULL;
	size_t		 nf, i;

	memset(&prefix, 0, sizeof(prefix));
	memset(&out, 0, sizeof(out));
	seterr(err, errlen, "%s", "");
	if (s->done) {
		seterr(err, errlen, "signer already finished");
		return NULL;
	}
	s->done = 1;
	if (s->hdr.toobig) {
		seterr(err, errlen, "header over %d bytes", DKIM_HEADER_MAX);
		goto done;
	}
	if (s->nkeys == 0) {
		seterr(err, errlen, "no DKIM key");
		goto done;
	}
	/* A message without an empty line is all header. */
	dkim_canon_final(&s->body);
	if (EVP_DigestFinal_ex(s->bh, h, NULL) != 1)
		fatalx("EVP_DigestFinal_ex");
	bh = b64(h, sizeof(h));

	if ((sel = malloc(sizeof(*sel))) == NULL)
		fatal("malloc");
	f = dkim_fields(s->hdr.buf.p, s->hdr.buf.len, &nf);
	if ((why = hdr_select(f, nf, sel)) != NULL) {
		seterr(err, errlen, "%s", why);
		goto done;
	}
	for (i = 0; i < sel->n; i++) {
		if (sel->f[i] != NULL && dkim_canon_field(&prefix,
		    DKIM_CANON_RELAXED, sel->f[i]->p, sel->f[i]->len) == -1)
			fatalx("%s: field without colon", __func__);
	}
	for (i = 0; i < s->nkeys; i++) {
		if (sign_one(s, s->keys[i], sel, bh, &prefix, &out) == -1) {
			seterr(err, errlen, "signing with %s._domainkey.%s "
			    "failed", s->keys[i]->selector,
			    s->keys[i]->domain);
			free(out.p);
			out.p = NULL;
			goto done;
		}
	}
 done:
	free(bh);
	free(f);
	free(sel);
	free(prefix.p);
	return out.p;
}

void
dkim_signer_free(struct dkim_signer *s)
{
	if (s == NULL)
		return;
	dkim_hdrbuf_free(&s->hdr);
	free(s->keys);
	EVP_MD_CTX_free(s->bh);
	/* The header block may hold addresses; no secrets to wipe. */
	free(s);
}
