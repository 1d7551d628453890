/*
 * DKIM signing (RFC 6376) with rsa-sha256 (libcrypto) and ed25519-sha256
 * (RFC 8463: Ed25519 over the SHA-256 of the header data, libsodium).
 *
 * A signer takes the message in chunks as the spool holds it.  The header
 * block is kept (at most DKIM_HEADER_MAX bytes) because the fields to sign
 * are only known once all of it has been seen; the body goes through a
 * streaming relaxed canonicaliser straight into SHA-256 and is not kept.
 * Canonicalisation is relaxed/relaxed; the simple forms exist for tests.
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
#include "log.h"

#define FOLD_COLS	78	/* columns of a header line, TAB counted as 8 */
#define FOLD_INDENT	8	/* column after the TAB of a continuation */
#define SIG_MAX		1024	/* bytes of an RSA-8192 signature */
#define SIG_B64_MAX	1400	/* base64 of SIG_MAX, with NUL */
#define CANON_BUFSZ	4096

struct dkim_key {
	int		 type;
	char		 domain[DKIM_NAME_MAX + 1];
	char		 selector[DKIM_NAME_MAX + 1];
	EVP_PKEY	*pkey;			/* DKIM_RSA */
	unsigned char	 sk[crypto_sign_SECRETKEYBYTES]; /* DKIM_ED25519 */
	unsigned char	 pk[crypto_sign_PUBLICKEYBYTES];
};

struct buf {
	char		*p;
	size_t		 len;
	size_t		 size;
};

/* Streaming body canonicaliser; output is buffered, then handed to out(). */
struct canon {
	int		 relaxed;
	int		 cr;		/* a CR waits for its LF */
	int		 wsp;		/* WSP held back (relaxed) */
	int		 any;		/* something was written */
	size_t		 linelen;	/* bytes written on this line */
	size_t		 empty;		/* empty lines held back */
	void		(*out)(void *, const void *, size_t);
	void		*arg;
	unsigned char	 obuf[CANON_BUFSZ];
	size_t		 olen;
};

struct field {
	const char	*p;		/* start of the name */
	size_t		 len;		/* whole field, final CRLF included */
	size_t		 namelen;	/* 0: no colon, never signed */
};

struct dkim_signer {
	struct dkim_key		**keys;
	size_t			  nkeys;
	time_t			  now;
	struct buf		  hdr;
	size_t			  linestart;	/* of the current header line */
	int			  inbody;
	int			  toobig;
	int			  done;
	EVP_MD_CTX		 *bh;		/* body hash */
	struct canon		  body;
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
	const struct field	*f[SEL_MAX];
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
static void	 buf_add(struct buf *, const void *, size_t);
static void	 buf_addstr(struct buf *, const char *);
static void	 buf_sink(void *, const void *, size_t);
static void	 sha_sink(void *, const void *, size_t);
static void	 canon_init(struct canon *, int,
		    void (*)(void *, const void *, size_t), void *);
static void	 canon_flush(struct canon *);
static void	 canon_put(struct canon *, const void *, size_t);
static void	 canon_content(struct canon *, const void *, size_t);
static void	 canon_update(struct canon *, const unsigned char *, size_t);
static void	 canon_final(struct canon *);
static int	 canon_header_buf(struct buf *, int, const char *, size_t);
static struct field *hdr_parse(const char *, size_t, size_t *);
static int	 field_is(const struct field *, const char *);
static const char *hdr_select(const struct field *, size_t, struct hsel *);
static void	 hdr_update(struct dkim_signer *, const unsigned char *,
		    size_t, size_t *);
static void	 fold_word(struct buf *, size_t *, const char *, size_t, int);
static int	 sign_one(struct dkim_signer *, const struct dkim_key *,
		    const struct hsel *, const char *, const struct buf *,
		    struct buf *);

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
buf_add(struct buf *b, const void *p, size_t len)
{
	size_t	 nsize;
	char	*np;

	if (len == 0)
		return;
	if (b->size - b->len < len + 1) {
		nsize = b->size ? b->size : 256;
		while (nsize - b->len < len + 1) {
			if (nsize > SIZE_MAX / 2)
				fatalx("%s: overflow", __func__);
			nsize *= 2;
		}
		if ((np = realloc(b->p, nsize)) == NULL)
			fatal("realloc");
		b->p = np;
		b->size = nsize;
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void
buf_addstr(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void
buf_sink(void *arg, const void *p, size_t len)
{
	buf_add(arg, p, len);
}

static void
sha_sink(void *arg, const void *p, size_t len)
{
	if (EVP_DigestUpdate(arg, p, len) != 1)
		fatalx("EVP_DigestUpdate");
}

static void
canon_init(struct canon *c, int relaxed,
    void (*out)(void *, const void *, size_t), void *arg)
{
	memset(c, 0, sizeof(*c));
	c->relaxed = relaxed;
	c->out = out;
	c->arg = arg;
}

static void
canon_flush(struct canon *c)
{
	if (c->olen > 0)
		c->out(c->arg, c->obuf, c->olen);
	c->olen = 0;
}

static void
canon_put(struct canon *c, const void *p, size_t len)
{
	if (sizeof(c->obuf) - c->olen < len)
		canon_flush(c);
	if (len >= sizeof(c->obuf)) {
		c->out(c->arg, p, len);
		return;
	}
	memcpy(c->obuf + c->olen, p, len);
	c->olen += len;
}

/* Bytes that are part of a line: held-back empty lines were not trailing. */
static void
canon_content(struct canon *c, const void *p, size_t len)
{
	for (; c->empty > 0; c->empty--)
		canon_put(c, "\r\n", 2);
	if (c->wsp) {
		canon_put(c, " ", 1);
		c->wsp = 0;
	}
	canon_put(c, p, len);
	c->linelen += len;
	c->any = 1;
}

/*
 * RFC 6376 3.4.3 and 3.4.4.  Only CRLF ends a line: a lone CR or LF is an
 * ordinary byte of its line, as is NUL.  Runs of ordinary bytes are
 * copied at once.
 */
static void
canon_update(struct canon *c, const unsigned char *p, size_t len)
{
	size_t	 i, j;

	for (i = 0; i < len; i = j) {
		j = i + 1;
		if (c->cr) {
			c->cr = 0;
			if (p[i] == '\n') {
				c->wsp = 0;
				if (c->linelen > 0) {
					canon_put(c, "\r\n", 2);
					c->linelen = 0;
				} else
					c->empty++;
				continue;
			}
			canon_content(c, "\r", 1);
		}
		if (p[i] == '\r')
			c->cr = 1;
		else if (c->relaxed && (p[i] == ' ' || p[i] == '\t'))
			c->wsp = 1;
		else {
			while (j < len && p[j] != '\r' && (!c->relaxed ||
			    (p[j] != ' ' && p[j] != '\t')))
				j++;
			canon_content(c, p + i, j - i);
		}
	}
}

static void
canon_final(struct canon *c)
{
	if (c->cr) {
		c->cr = 0;
		canon_content(c, "\r", 1);
	}
	c->wsp = 0;
	if (c->linelen > 0) {
		canon_put(c, "\r\n", 2);
		c->linelen = 0;
	}
	/* Simple turns an empty body into CRLF; relaxed leaves it empty. */
	if (!c->relaxed && !c->any)
		canon_put(c, "\r\n", 2);
	c->empty = 0;
	canon_flush(c);
}

char *
dkim_canon_body(int canon, const void *p, size_t len, size_t *outlen)
{
	struct buf	 b;
	struct canon	*c;

	memset(&b, 0, sizeof(b));
	if ((c = malloc(sizeof(*c))) == NULL)
		fatal("malloc");
	canon_init(c, canon == DKIM_CANON_RELAXED, buf_sink, &b);
	canon_update(c, p, len);
	canon_final(c);
	free(c);
	if (b.p == NULL) {
		if ((b.p = strdup("")) == NULL)
			fatal("strdup");
	}
	*outlen = b.len;
	return b.p;
}

/*
 * RFC 6376 3.4.1 and 3.4.2: append the canonical form of one field to b.
 * -1 if the field has no colon.
 */
static int
canon_header_buf(struct buf *b, int canon, const char *p, size_t len)
{
	const char	*colon;
	size_t		 i, namelen;
	int		 wsp = 0, started = 0;
	char		 ch;

	if ((colon = memchr(p, ':', len)) == NULL)
		return -1;
	if (canon == DKIM_CANON_SIMPLE) {
		buf_add(b, p, len);
		if (len < 2 || p[len - 2] != '\r' || p[len - 1] != '\n')
			buf_add(b, "\r\n", 2);
		return 0;
	}
	namelen = colon - p;
	while (namelen > 0 && (p[namelen - 1] == ' ' || p[namelen - 1] == '\t'))
		namelen--;
	for (i = 0; i < namelen; i++) {
		ch = tolower((unsigned char)p[i]);
		buf_add(b, &ch, 1);
	}
	buf_add(b, ":", 1);
	for (i = colon - p + 1; i < len; i++) {
		if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n') {
			i++;			/* unfold */
			continue;
		}
		if (p[i] == ' ' || p[i] == '\t') {
			wsp = 1;
			continue;
		}
		if (wsp && started)
			buf_add(b, " ", 1);
		wsp = 0;
		started = 1;
		buf_add(b, &p[i], 1);
	}
	buf_add(b, "\r\n", 2);
	return 0;
}

char *
dkim_canon_header(int canon, const char *p, size_t len, size_t *outlen)
{
	struct buf	 b;

	memset(&b, 0, sizeof(b));
	if (canon_header_buf(&b, canon, p, len) == -1) {
		free(b.p);
		return NULL;
	}
	*outlen = b.len;
	return b.p;
}

/*
 * Split a header block into fields: a field starts on a line that does
 * not start with WSP and goes on over the lines that do.  Continuation
 * lines before the first field belong to nothing.
 */
static struct field *
hdr_parse(const char *h, size_t len, size_t *nfp)
{
	struct field	*f = NULL, *nf;
	const char	*crlf, *colon;
	size_t		 pos = 0, next, n = 0, size = 0, i;

	while (pos < len) {
		crlf = memmem(h + pos, len - pos, "\r\n", 2);
		next = crlf ? (size_t)(crlf - h) + 2 : len;
		if (h[pos] == ' ' || h[pos] == '\t') {
			if (n > 0)
				f[n - 1].len = next - (f[n - 1].p - h);
		} else {
			if (n == size) {
				size = size ? size * 2 : 32;
				if ((nf = reallocarray(f, size,
				    sizeof(*f))) == NULL)
					fatal("reallocarray");
				f = nf;
			}
			f[n].p = h + pos;
			f[n].len = next - pos;
			f[n].namelen = 0;
			n++;
		}
		pos = next;
	}
	for (i = 0; i < n; i++) {
		if ((colon = memchr(f[i].p, ':', f[i].len)) == NULL)
			continue;
		f[i].namelen = colon - f[i].p;
		while (f[i].namelen > 0 && (f[i].p[f[i].namelen - 1] == ' ' ||
		    f[i].p[f[i].namelen - 1] == '\t'))
			f[i].namelen--;
	}
	*nfp = n;
	return f;
}

static int
field_is(const struct field *f, const char *name)
{
	return f->namelen == strlen(name) &&
	    strncasecmp(f->p, name, f->namelen) == 0;
}

/*
 * Choose the fields to sign (RFC 6376 5.4.2: several instances of a name
 * are taken from the bottom up) and over-sign From, so that a From added
 * later breaks the signature.  NULL on success, else the reason.
 */
static const char *
hdr_select(const struct field *f, size_t nf, struct hsel *sel)
{
	size_t	 i, j, count;
	int	 from;

	sel->n = 0;
	for (i = 0; i < nitems(signed_names); i++) {
		from = i == 0;
		count = 0;
		for (j = nf; j > 0; j--) {
			if (!field_is(&f[j - 1], signed_names[i]))
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
	struct field	*f;
	struct buf	 b;
	size_t		 nf, i;

	memset(&b, 0, sizeof(b));
	if ((sel = malloc(sizeof(*sel))) == NULL)
		fatal("malloc");
	f = hdr_parse(h, len, &nf);
	if (hdr_select(f, nf, sel) == NULL) {
		for (i = 0; i < sel->n; i++) {
			if (i > 0)
				buf_add(&b, ":", 1);
			buf_addstr(&b, sel->name[i]);
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
	canon_init(&s->body, 1, sha_sink, s->bh);
	return s;
}

/*
 * Keep header bytes until the empty line that ends the header block;
 * *used is set to the bytes consumed.  The empty line itself is not kept.
 */
static void
hdr_update(struct dkim_signer *s, const unsigned char *p, size_t len,
    size_t *used)
{
	const unsigned char	*nl;
	size_t			 n;

	*used = 0;
	while (*used < len && !s->inbody && !s->toobig) {
		nl = memchr(p + *used, '\n', len - *used);
		n = nl ? (size_t)(nl - (p + *used)) + 1 : len - *used;
		if (s->hdr.len + n > DKIM_HEADER_MAX) {
			s->toobig = 1;
			return;
		}
		buf_add(&s->hdr, p + *used, n);
		*used += n;
		if (nl == NULL || s->hdr.len < 2 ||
		    s->hdr.p[s->hdr.len - 2] != '\r')
			continue;
		if (s->hdr.len - 2 == s->linestart) {
			s->hdr.len = s->linestart;
			s->inbody = 1;
		} else
			s->linestart = s->hdr.len;
	}
}

void
dkim_signer_update(struct dkim_signer *s, const void *data, size_t len)
{
	const unsigned char	*p = data;
	size_t			 used = 0;

	if (s->done || s->toobig)
		return;
	if (!s->inbody)
		hdr_update(s, p, len, &used);
	if (s->inbody)
		canon_update(&s->body, p + used, len - used);
}

/* Append a word, after a SP or on a new continuation line if it is full. */
static void
fold_word(struct buf *b, size_t *col, const char *w, size_t len, int space)
{
	if (*col + len + (space ? 1 : 0) > FOLD_COLS && *col > FOLD_INDENT) {
		buf_add(b, "\r\n\t", 3);
		*col = FOLD_INDENT;
	} else if (space) {
		buf_add(b, " ", 1);
		(*col)++;
	}
	buf_add(b, w, len);
	*col += len;
}

/*
 * Make one DKIM-Signature field for key k and append it to out.  prefix
 * holds the canonical signed fields; the field itself, b= empty, is
 * canonicalised after them and the lot signed (RFC 6376 3.7).
 */
static int
sign_one(struct dkim_signer *s, const struct dkim_key *k,
    const struct hsel *sel, const char *bh, const struct buf *prefix,
    struct buf *out)
{
	struct buf	 hdr, data;
	char		 tag[DKIM_NAME_MAX + 32], sig[SIG_B64_MAX];
	size_t		 col, i, n, len;
	int		 ret = -1;

	memset(&hdr, 0, sizeof(hdr));
	memset(&data, 0, sizeof(data));
	buf_addstr(&hdr, "DKIM-Signature:");
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

	buf_add(&data, prefix->p, prefix->len);
	if (canon_header_buf(&data, DKIM_CANON_RELAXED, hdr.p, hdr.len) == -1)
		fatalx("%s: no colon", __func__);
	data.len -= 2;				/* no CRLF after b= */
	if (dkim_key_sign(k, data.p, data.len, sig, sizeof(sig)) == -1)
		goto done;

	/* base64 may be broken anywhere by FWS. */
	len = strlen(sig);
	for (i = 0; i < len; i += n) {
		if (col >= FOLD_COLS) {
			buf_add(&hdr, "\r\n\t", 3);
			col = FOLD_INDENT;
		}
		n = FOLD_COLS - col;
		if (n > len - i)
			n = len - i;
		buf_add(&hdr, sig + i, n);
		col += n;
	}
	buf_add(&hdr, "\r\n", 2);
	buf_add(out, hdr.p, hdr.len);
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
	struct field	*f = NULL;
	struct buf	 prefix, out;
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
	if (s->toobig) {
		seterr(err, errlen, "header over %d bytes", DKIM_HEADER_MAX);
		goto done;
	}
	if (s->nkeys == 0) {
		seterr(err, errlen, "no DKIM key");
		goto done;
	}
	/* A message without an empty line is all header. */
	canon_final(&s->body);
	if (EVP_DigestFinal_ex(s->bh, h, NULL) != 1)
		fatalx("EVP_DigestFinal_ex");
	bh = b64(h, sizeof(h));

	if ((sel = malloc(sizeof(*sel))) == NULL)
		fatal("malloc");
	f = hdr_parse(s->hdr.p, s->hdr.len, &nf);
	if ((why = hdr_select(f, nf, sel)) != NULL) {
		seterr(err, errlen, "%s", why);
		goto done;
	}
	for (i = 0; i < sel->n; i++) {
		if (sel->f[i] != NULL && canon_header_buf(&prefix,
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
	free(s->hdr.p);
	free(s->keys);
	EVP_MD_CTX_free(s->bh);
	/* The header block may hold addresses; no secrets to wipe. */
	free(s);
}
