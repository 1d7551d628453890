/*
 * Unit tests for dkim_verify.c and arc.c without DNS or other programs:
 * tag lists, key records, what is refused (RFC 8301), the RFC 8463
 * example signature, messages maild's signer makes (dkim.c) verified in
 * any chunks and tampered, the answers a caller gives, the limits (header
 * size, signatures, h=, key lookups, ARC sets), ARC structure, and
 * pseudo-random hostile input that must give a result and no crash.
 *
 * Fixtures are in tests/data/dkim (directory from $MAILD_DKIM_TESTDIR).
 * The differential tests against dkimpy and OpenDKIM are in
 * tests/integration/62-dkim-verify.t.
 */
#include <sys/types.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "dkim.h"
#include "dkim_verify.h"
#include "log.h"
#include "tap.h"

#define NOW		1764324000
#define RFC8463_T	1528637909
#define RFC8463_TXT	"v=DKIM1; k=ed25519; " \
			"p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
/* 240 and 260 bytes of labels: with "com", a d= of 243 and 263 bytes. */
#define LONG24		"a23456789.a23456789.a23456789.a23456789." \
			"a23456789.a23456789.a23456789.a23456789." \
			"a23456789.a23456789.a23456789.a23456789." \
			"a23456789.a23456789.a23456789.a23456789." \
			"a23456789.a23456789.a23456789.a23456789." \
			"a23456789.a23456789.a23456789.a23456789."
#define LONG25		LONG24 "a23456789."
#define LONG26		LONG25 "a23456789."
#define MSG		"From: Alice <alice@example.org>\r\n" \
			"To: bob@example.net\r\n" \
			"Subject: hello  there\r\n" \
			"Date: Fri, 28 Nov 2025 10:00:00 +0000\r\n" \
			"Message-ID: <1@example.org>\r\n" \
			"\r\n" \
			"Hello,  world \r\n" \
			"\r\n" \
			"Second line.\r\n" \
			"\r\n\r\n"

struct ans {
	const char	*name;
	int		 status;
	const char	*txt[3];
	size_t		 ntxt;
};

static const char *datadir = "tests/data/dkim";
static struct dkim_key *rsa, *rsa1024, *ed;
static char *rsa_txt, *rsa1024_txt, *ed_txt;

static char	*slurp(const char *, size_t *);
static struct dkim_key *key_file(const char *, const char *, const char *);
static char	*pubtxt(const char *);
static char	*sign(struct dkim_key *const *, size_t, const char *, size_t);
static char	*cat(const char *, const char *);
static char	*replace(const char *, const char *, const char *);
static struct dkim_verifier *run(const char *, size_t, size_t, time_t,
		    const struct ans *, size_t);
static int	 result(const char *, size_t, const struct ans *, size_t,
		    size_t, char *, size_t);
static void	 test_tags(void);
static void	 test_keyrec(void);
static void	 test_rfc8463(void);
static void	 test_roundtrip(void);
static void	 test_tamper(void);
static void	 test_answers(void);
static void	 test_sigtags(void);
static void	 test_limits(void);
static void	 test_arc_structure(void);
static void	 test_hostile(void);

static char *
slurp(const char *name, size_t *lenp)
{
	char	 path[1024];
	FILE	*fp;
	char	*p;
	long	 len;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", datadir, name) >=
	    sizeof(path))
		abort();
	if ((fp = fopen(path, "rb")) == NULL) {
		printf("# cannot open %s\n", path);
		abort();
	}
	if (fseek(fp, 0, SEEK_END) == -1 || (len = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) == -1 || (p = malloc(len + 1)) == NULL ||
	    fread(p, 1, len, fp) != (size_t)len)
		abort();
	fclose(fp);
	p[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return p;
}

static struct dkim_key *
key_file(const char *name, const char *domain, const char *selector)
{
	struct dkim_key	*k;
	char		*pem, err[256];
	size_t		 len;

	pem = slurp(name, &len);
	if ((k = dkim_key_new(domain, selector, pem, len, err,
	    sizeof(err))) == NULL) {
		printf("# %s: %s\n", name, err);
		abort();
	}
	free(pem);
	return k;
}

/* "v=DKIM1; k=rsa; p=..." for any RSA PEM, even one the signer refuses. */
static char *
pubtxt(const char *name)
{
	EVP_PKEY	*pkey;
	BIO		*bio;
	unsigned char	*der = NULL;
	char		*pem, *b64, *txt;
	size_t		 len, blen;
	int		 dlen;

	pem = slurp(name, &len);
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL ||
	    (pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL ||
	    (dlen = i2d_PUBKEY(pkey, &der)) <= 0)
		abort();
	blen = sodium_base64_ENCODED_LEN(dlen, sodium_base64_VARIANT_ORIGINAL);
	if ((b64 = malloc(blen)) == NULL)
		abort();
	sodium_bin2base64(b64, blen, der, dlen, sodium_base64_VARIANT_ORIGINAL);
	if (asprintf(&txt, "v=DKIM1; k=rsa; p=%s", b64) == -1)
		abort();
	OPENSSL_free(der);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	free(b64);
	free(pem);
	return txt;
}

/* The message with maild's signatures on top. */
static char *
sign(struct dkim_key *const *keys, size_t n, const char *msg, size_t len)
{
	struct dkim_signer	*s;
	char			*sig, *out, err[256];

	s = dkim_signer_new(keys, n, NOW);
	dkim_signer_update(s, msg, len);
	if ((sig = dkim_signer_final(s, err, sizeof(err))) == NULL) {
		printf("# sign: %s\n", err);
		abort();
	}
	dkim_signer_free(s);
	if (asprintf(&out, "%s%.*s", sig, (int)len, msg) == -1)
		abort();
	free(sig);
	return out;
}

static char *
cat(const char *a, const char *b)
{
	char	*p;

	if (asprintf(&p, "%s%s", a, b) == -1)
		abort();
	return p;
}

/* s with its first from replaced by to; abort if there is none. */
static char *
replace(const char *s, const char *from, const char *to)
{
	const char	*at;
	char		*p;

	if ((at = strstr(s, from)) == NULL)
		abort();
	if (asprintf(&p, "%.*s%s%s", (int)(at - s), s, to,
	    at + strlen(from)) == -1)
		abort();
	return p;
}

/* Verify msg fed in chunks, answering from a; NULL header too big. */
static struct dkim_verifier *
run(const char *msg, size_t len, size_t chunk, time_t now,
    const struct ans *a, size_t na)
{
	struct dkim_verifier	*v;
	const char		*q;
	size_t			 pos, n, i, k;
	char			 err[128];

	v = dkim_verifier_new(now);
	for (pos = 0; pos < len; pos += n) {
		n = chunk == 0 || len - pos < chunk ? len - pos : chunk;
		dkim_verifier_update(v, msg + pos, n);
	}
	if (dkim_verifier_end(v, err, sizeof(err)) == -1) {
		dkim_verifier_free(v);
		return NULL;
	}
	for (i = 0; i < dkim_verifier_nqueries(v); i++) {
		q = dkim_verifier_query(v, i);
		for (k = 0; k < na; k++)
			if (strcasecmp(q, a[k].name) == 0)
				break;
		if (k == na)
			dkim_verifier_answer(v, i, DKIM_DNS_NONE, NULL, 0);
		else if (a[k].status != -1)
			dkim_verifier_answer(v, i, a[k].status, a[k].txt,
			    a[k].ntxt);
	}
	dkim_verifier_finish(v);
	return v;
}

/* Result name of signature idx (and its reason), "" if there is none. */
static int
result(const char *msg, size_t chunk, const struct ans *a, size_t na,
    size_t idx, char *reason, size_t rlen)
{
	struct dkim_verifier		*v;
	const struct dkim_result	*r;
	int				 res = 0;

	reason[0] = '\0';
	if ((v = run(msg, strlen(msg), chunk, NOW, a, na)) == NULL)
		return -1;
	if ((r = dkim_verifier_result(v, idx)) != NULL) {
		res = r->result;
		(void)strlcpy(reason, r->reason, rlen);
	}
	dkim_verifier_free(v);
	return res;
}

static void
test_tags(void)
{
	struct dkim_tag	 t[8];
	const char	*why, *s;
	size_t		 n;

	s = "v=1; a=rsa-sha256;\r\n\td = example.org ;b= ab\r\n c ;";
	ok(dkim_tags_parse(s, strlen(s), t, nitems(t), &n, &why) == 0 &&
	    n == 4, "tag list with FWS and a final ;");
	ok(n == 4 && t[2].namelen == 1 && t[2].vallen == 11 &&
	    memcmp(t[2].val, "example.org", 11) == 0,
	    "a value has its FWS cut");
	ok(n == 4 && t[3].vallen == 6 && memcmp(t[3].val, "ab\r\n c", 6) == 0 &&
	    t[3].off == (size_t)(t[3].val - s), "folding inside a value kept");
	s = "a=";
	ok(dkim_tags_parse(s, strlen(s), t, nitems(t), &n, &why) == 0 &&
	    n == 1 && t[0].vallen == 0, "an empty value");
	s = "k_1=x";
	ok(dkim_tags_parse(s, strlen(s), t, nitems(t), &n, &why) == 0,
	    "digits and _ in a tag name");
	s = "a=\xc3\xa9t\xc3\xa9";
	ok(dkim_tags_parse(s, strlen(s), t, nitems(t), &n, &why) == 0,
	    "UTF-8 in a value");
	{
		static const char *const bad[] = {
			"", " ", ";", "a=1;;b=2", "a", "=1", "1a=2", "a=1; a=2",
			"a=b\x01", "a=b\rc", "a=b\nc", "a=b\r\nc", "a=\x7f",
			"a b=1", "a=1 ; b", "-a=1",
		};
		size_t	 i;
		int	 r;

		for (i = 0; i < nitems(bad); i++) {
			why = "accepted";
			r = dkim_tags_parse(bad[i], strlen(bad[i]), t,
			    nitems(t), &n, &why);
			ok(r == -1, "bad tag list %zu refused (%s)", i, why);
		}
	}
	s = "a=1;b=1;c=1;d=1;e=1;f=1;g=1;h=1;i=1";
	why = "";
	ok(dkim_tags_parse(s, strlen(s), t, nitems(t), &n, &why) == -1 &&
	    strcmp(why, "too many tags") == 0, "more tags than room refused");
	s = "A=1; a=2";
	ok(dkim_tags_parse(s, strlen(s), t, nitems(t), &n, &why) == 0,
	    "tag names are case-sensitive");
}

static void
test_keyrec(void)
{
	struct dkim_keyrec	 k;
	char			 why[128] = "", *txt, *small;
	size_t			 i;
	int			 r;
	static const struct {
		const char	*txt;
		const char	*why;	/* NULL: accepted */
	} ed_cases[] = {
		{ RFC8463_TXT, NULL },
		{ "k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
		    NULL },
		{ "v=DKIM1; k=ed25519; t=y:s; s=email:*; h=sha1:sha256; n=hi; "
		  "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", NULL },
		{ "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIa"
		  "aPcHUQ==", "Ed25519 key of 31 bytes" },
		{ "v=DKIM1; k=ed25519; p=", "key revoked" },
		{ "v=DKIM1; k=ed25519", "key record without p=" },
		{ "v=DKIM2; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIa"
		  "aPcHURo=", "key record v= is not DKIM1" },
		{ "v=dkim1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIa"
		  "aPcHURo=", "key record v= is not DKIM1" },
		{ "v=DKIM1; k=ed25519; h=sha1; p=11qYAYKxCrfVS/7TyWQHOg7hcvPa"
		  "piMlrwIaaPcHURo=", "key h= does not allow sha256" },
		{ "v=DKIM1; k=ed448; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaP"
		  "cHURo=", "unknown key type k=" },
		{ "v=DKIM1; k=ed25519; s=tlsrpt; p=11qYAYKxCrfVS/7TyWQHOg7hcv"
		  "PapiMlrwIaaPcHURo=", "key is not for email (s=)" },
		{ "v=DKIM1; k=ed25519; p=not base64!", "key p= is not base64" },
		{ "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIa"
		  "aPcHURo", "key p= is not base64" },
		{ "v=DKIM1; k=ed25519 p=x", "unknown key type k=" },
		{ "v=DKIM1;; p=x", "key record: bad tag name" },
	};

	for (i = 0; i < nitems(ed_cases); i++) {
		why[0] = '\0';
		r = dkim_keyrec_parse(ed_cases[i].txt, strlen(ed_cases[i].txt),
		    &k, why, sizeof(why));
		if (ed_cases[i].why == NULL)
			ok(r == 0 && k.type == DKIM_ED25519 && k.bits == 256,
			    "key record %zu accepted (%s)", i, why);
		else {
			ok(r == -1, "key record %zu refused", i);
			is_str(why, ed_cases[i].why, "  because");
		}
		dkim_keyrec_clear(&k);
	}
	txt = "v=DKIM1; k=ed25519; t = y : s ; p=11qYAYKxCrfVS/7TyWQHOg7hcv"
	    "PapiMlrwIaaPcHURo=";
	ok(dkim_keyrec_parse(txt, strlen(txt), &k, why, sizeof(why)) == 0 &&
	    k.testing && k.strict, "t=y:s read");
	dkim_keyrec_clear(&k);

	ok(dkim_keyrec_parse(rsa_txt, strlen(rsa_txt), &k, why,
	    sizeof(why)) == 0 && k.type == DKIM_RSA && k.bits == 2048 &&
	    !k.testing, "RSA 2048 key record (SubjectPublicKeyInfo)");
	dkim_keyrec_clear(&k);
	txt = replace(rsa_txt, "k=rsa; ", "");
	ok(dkim_keyrec_parse(txt, strlen(txt), &k, why, sizeof(why)) == 0 &&
	    k.type == DKIM_RSA, "k= defaults to rsa");
	dkim_keyrec_clear(&k);
	free(txt);
	txt = replace(rsa_txt, "k=rsa", "k=ed25519");
	ok(dkim_keyrec_parse(txt, strlen(txt), &k, why, sizeof(why)) == -1,
	    "an RSA key said to be Ed25519 refused (%s)", why);
	dkim_keyrec_clear(&k);
	free(txt);
	txt = replace(ed_txt, "k=ed25519", "k=rsa");
	ok(dkim_keyrec_parse(txt, strlen(txt), &k, why, sizeof(why)) == -1,
	    "an Ed25519 key said to be RSA refused (%s)", why);
	dkim_keyrec_clear(&k);
	free(txt);
	small = pubtxt("rsa768.pem");
	ok(dkim_keyrec_parse(small, strlen(small), &k, why,
	    sizeof(why)) == -1 && strstr(why, "768 bits") != NULL,
	    "RSA 768 refused (RFC 8301): %s", why);
	dkim_keyrec_clear(&k);
	free(small);
	ok(dkim_keyrec_parse(rsa1024_txt, strlen(rsa1024_txt), &k, why,
	    sizeof(why)) == 0 && k.bits == 1024, "RSA 1024 accepted");
	dkim_keyrec_clear(&k);

	txt = calloc(1, DKIM_KEYREC_MAX + 2);
	memset(txt, 'a', DKIM_KEYREC_MAX + 1);
	memcpy(txt, "p=", 2);
	ok(dkim_keyrec_parse(txt, strlen(txt), &k, why, sizeof(why)) == -1,
	    "key record over %d bytes refused (%s)", DKIM_KEYREC_MAX, why);
	free(txt);
	ok(dkim_keyrec_parse("p=a\0b", 5, &k, why, sizeof(why)) == -1,
	    "NUL in a key record refused (%s)", why);
}

static void
test_rfc8463(void)
{
	struct ans		 a[] = {
		{ "brisbane._domainkey.football.example.com", DKIM_DNS_OK,
		    { RFC8463_TXT }, 1 },
	};
	struct dkim_verifier	*v;
	const struct dkim_result *r;
	char			*msg, *sig, *full;
	size_t			 len;

	msg = slurp("rfc8463.msg", &len);
	sig = slurp("rfc8463-ed25519.sig", NULL);
	full = cat(sig, msg);
	v = run(full, strlen(full), 0, RFC8463_T + 60, a, nitems(a));
	r = v ? dkim_verifier_result(v, 0) : NULL;
	ok(r != NULL && r->result == DKIM_RES_PASS,
	    "RFC 8463 A.3 signature verifies (%s)", r ? r->reason : "-");
	ok(r != NULL && strcmp(r->d, "football.example.com") == 0 &&
	    strcmp(r->s, "brisbane") == 0 &&
	    strcmp(r->i, "@football.example.com") == 0 &&
	    strcmp(r->a, "ed25519-sha256") == 0 &&
	    strcmp(r->b, "/gCrinpcQOoIfuHN") == 0 && r->bits == 256 &&
	    !r->has_l && !r->testing, "its d, s, i, a, b, bits");
	dkim_verifier_free(v);
	v = run(full, strlen(full), 0, RFC8463_T - 3600, a, nitems(a));
	r = v ? dkim_verifier_result(v, 0) : NULL;
	ok(r != NULL && r->result == DKIM_RES_PERMERROR,
	    "an hour before its t=: permerror (%s)", r ? r->reason : "-");
	dkim_verifier_free(v);
	free(full);
	free(sig);
	free(msg);
}

static void
test_roundtrip(void)
{
	struct dkim_key *const	 keys[] = { rsa, ed, rsa1024 };
	const struct ans	 a[] = {
		{ "rsa._domainkey.example.org", DKIM_DNS_OK, { rsa_txt }, 1 },
		{ "ed._domainkey.example.org", DKIM_DNS_OK, { ed_txt }, 1 },
		{ "old._domainkey.example.org", DKIM_DNS_OK, { rsa1024_txt },
		    1 },
	};
	static const size_t	 chunks[] = { 0, 1, 2, 3, 7, 64, 4093 };
	struct dkim_verifier	*v;
	const struct dkim_result *r;
	char			*msg;
	size_t			 c, i, good;

	msg = sign(keys, nitems(keys), MSG, strlen(MSG));
	for (c = 0; c < nitems(chunks); c++) {
		v = run(msg, strlen(msg), chunks[c], NOW, a, nitems(a));
		good = 0;
		for (i = 0; v != NULL && i < dkim_verifier_nresults(v); i++)
			if (dkim_verifier_result(v, i)->result == DKIM_RES_PASS)
				good++;
		ok(v != NULL && dkim_verifier_nresults(v) == 3 && good == 3,
		    "maild's three signatures verify, chunks of %zu",
		    chunks[c]);
		if (c == 0) {
			ok(dkim_verifier_nqueries(v) == 3,
			    "three key lookups");
			r = dkim_verifier_result(v, 0);
			ok(r != NULL && strcmp(r->a, "rsa-sha256") == 0 &&
			    r->alg == DKIM_RSA && r->bits == 2048 &&
			    strcmp(r->d, "example.org") == 0 &&
			    strcmp(r->s, "rsa") == 0 &&
			    strcmp(r->i, "@example.org") == 0 &&
			    strlen(r->b) == DKIM_BPREFIX,
			    "result fields of the RSA signature");
			r = dkim_verifier_result(v, 1);
			ok(r != NULL && r->alg == DKIM_ED25519 &&
			    r->bits == 256, "the Ed25519 one");
			ok(dkim_verifier_arc(v)->result == ARC_RES_NONE,
			    "arc none");
		}
		dkim_verifier_free(v);
	}
	free(msg);

	/* All header, no body; and an empty message. */
	msg = sign(keys, 1, "From: a@example.org\r\nSubject: x\r\n", 33);
	v = run(msg, strlen(msg), 5, NOW, a, nitems(a));
	ok(v != NULL && dkim_verifier_nresults(v) == 1 &&
	    dkim_verifier_result(v, 0)->result == DKIM_RES_PASS,
	    "a message without a body verifies");
	dkim_verifier_free(v);
	free(msg);
	v = run("", 0, 0, NOW, a, nitems(a));
	ok(v != NULL && dkim_verifier_nresults(v) == 0 &&
	    dkim_verifier_nsigs(v) == 0 &&
	    dkim_verifier_arc(v)->result == ARC_RES_NONE,
	    "an empty message: no signature, arc none");
	dkim_verifier_free(v);
}

static void
test_tamper(void)
{
	struct dkim_key *const	 keys[] = { rsa };
	const struct ans	 a[] = {
		{ "rsa._domainkey.example.org", DKIM_DNS_OK, { rsa_txt }, 1 },
	};
	static const struct {
		const char	*from;
		const char	*to;
		int		 res;
		const char	*what;
	} cases[] = {
		{ "Hello,", "Hellp,", DKIM_RES_FAIL, "body changed" },
		{ "Hello,  world \r\n", "Hello, \t world\t\r\n", DKIM_RES_PASS,
		    "body whitespace (relaxed)" },
		{ "Second line.\r\n", "Second line.\r\n\r\n\r\n", DKIM_RES_PASS,
		    "empty lines added at the end" },
		{ "Second line.\r\n", "Second line.\r\nThird.\r\n",
		    DKIM_RES_FAIL, "a line added" },
		{ "Subject: hello", "Subject: jello", DKIM_RES_FAIL,
		    "signed header changed" },
		{ "Subject: hello  there", "SUBJECT :hello\r\n there",
		    DKIM_RES_PASS, "signed header refolded (relaxed)" },
		{ "To: bob", "X-New: 1\r\nTo: bob", DKIM_RES_PASS,
		    "unsigned header added" },
		{ "To: bob", "From: mallory@example.org\r\nTo: bob",
		    DKIM_RES_FAIL, "From added (maild over-signs it)" },
		{ "To: bob", "Cc: eve@example.net\r\nTo: bob", DKIM_RES_PASS,
		    "Cc added (only From is over-signed)" },
		{ "\r\n\r\nHello", "\r\nSubject: two\r\n\r\nHello",
		    DKIM_RES_FAIL, "a Subject added below the signed one" },
		{ "Date: ", "Date:", DKIM_RES_PASS, "space after a colon" },
		{ "a=rsa-sha256;", "a=rsa-sha256; ", DKIM_RES_PASS,
		    "signature field's own whitespace (relaxed)" },
		{ "d=example.org", "d=example.net", DKIM_RES_PERMERROR,
		    "d= changed: no key" },
	};
	char	*msg, *t, why[DKIM_REASON_MAX] = "";
	size_t	 i;
	int	 res;

	msg = sign(keys, 1, MSG, strlen(MSG));
	for (i = 0; i < nitems(cases); i++) {
		t = replace(msg, cases[i].from, cases[i].to);
		res = result(t, 0, a, nitems(a), 0, why, sizeof(why));
		is_str(dkim_result_name(res), dkim_result_name(cases[i].res),
		    cases[i].what);
		if (res != cases[i].res)
			printf("#   %s\n", why);
		free(t);
	}
	free(msg);
}

static void
test_answers(void)
{
	struct dkim_key *const	 keys[] = { ed };
	struct ans		 a[] = {
		{ "ed._domainkey.example.org", DKIM_DNS_OK, { ed_txt }, 1 },
	};
	char			*msg, *t, why[DKIM_REASON_MAX] = "";
	struct dkim_verifier	*v;
	int			 res;

	msg = sign(keys, 1, MSG, strlen(MSG));
	a[0].status = DKIM_DNS_NONE;
	res = result(msg, 0, a, 1, 0, why, sizeof(why));
	ok(res == DKIM_RES_PERMERROR, "NXDOMAIN: permerror (%s)", why);
	a[0].status = DKIM_DNS_TEMPFAIL;
	res = result(msg, 0, a, 1, 0, why, sizeof(why));
	ok(res == DKIM_RES_TEMPERROR, "DNS failure: temperror (%s)", why);
	a[0].status = -1;
	res = result(msg, 0, a, 1, 0, why, sizeof(why));
	ok(res == DKIM_RES_TEMPERROR, "no answer given: temperror (%s)", why);
	a[0].status = DKIM_DNS_OK;
	a[0].ntxt = 0;
	res = result(msg, 0, a, 1, 0, why, sizeof(why));
	ok(res == DKIM_RES_PERMERROR, "no TXT record: permerror (%s)", why);
	a[0].ntxt = 2;
	a[0].txt[1] = ed_txt;
	res = result(msg, 0, a, 1, 0, why, sizeof(why));
	ok(res == DKIM_RES_PERMERROR, "two TXT records: permerror (%s)", why);
	a[0].ntxt = 1;
	a[0].txt[0] = "v=DKIM1; k=ed25519; p=";
	res = result(msg, 0, a, 1, 0, why, sizeof(why));
	ok(res == DKIM_RES_PERMERROR && strcmp(why, "key revoked") == 0,
	    "revoked key: permerror (%s)", why);
	t = replace(ed_txt, "k=ed25519;", "k=ed25519; t=y;");
	a[0].txt[0] = t;
	v = run(msg, strlen(msg), 0, NOW, a, 1);
	ok(v != NULL && dkim_verifier_result(v, 0)->result == DKIM_RES_PASS &&
	    dkim_verifier_result(v, 0)->testing, "t=y: pass, testing set");
	dkim_verifier_free(v);
	free(t);
	a[0].txt[0] = rsa_txt;
	res = result(msg, 0, a, 1, 0, why, sizeof(why));
	ok(res == DKIM_RES_PERMERROR, "an RSA key for an Ed25519 signature: "
	    "permerror (%s)", why);

	/* Answers out of order, or for no query, change nothing. */
	v = dkim_verifier_new(NOW);
	dkim_verifier_answer(v, 0, DKIM_DNS_OK, (const char *const *)&ed_txt,
	    1);
	dkim_verifier_update(v, msg, strlen(msg));
	ok(dkim_verifier_nqueries(v) == 0 && dkim_verifier_query(v, 0) ==
	    NULL, "no query before end");
	dkim_verifier_end(v, NULL, 0);
	dkim_verifier_answer(v, 5, DKIM_DNS_OK, (const char *const *)&ed_txt,
	    1);
	dkim_verifier_answer(v, 0, DKIM_DNS_OK, (const char *const *)&ed_txt,
	    1);
	dkim_verifier_update(v, "junk after the end", 18);
	dkim_verifier_finish(v);
	ok(dkim_verifier_nresults(v) == 1 &&
	    dkim_verifier_result(v, 0)->result == DKIM_RES_PASS &&
	    dkim_verifier_result(v, 1) == NULL,
	    "stray answers and bytes after end ignored");
	dkim_verifier_finish(v);
	dkim_verifier_free(v);
	free(msg);
}

/* Signatures written by hand: everything refused before any key. */
static void
test_sigtags(void)
{
	static const struct {
		const char	*sig;
		const char	*why;
	} cases[] = {
		{ "v=1; a=rsa-sha1; d=example.org; s=rsa; h=from; bh=AAAA; "
		  "b=AAAA", "rsa-sha1 is refused (RFC 8301)" },
		{ "v=1; a=rsa-sha512; d=example.org; s=rsa; h=from; bh=AAAA; "
		  "b=AAAA", "unknown algorithm" },
		{ "v=2; a=rsa-sha256; d=example.org; s=rsa; h=from; bh=AAAA; "
		  "b=AAAA", "v= is not 1" },
		{ "a=rsa-sha256; d=example.org; s=rsa; h=from; bh=AAAA; "
		  "b=AAAA", "no v= tag" },
		{ "v=1; a=rsa-sha256; d=example.org; s=rsa; h=to:subject; "
		  "bh=AAAA; b=AAAA", "From is not signed" },
		{ "v=1; a=rsa-sha256; d=example.org; s=rsa; h=from::to; "
		  "bh=AAAA; b=AAAA", "empty name in h=" },
		{ "v=1; a=rsa-sha256; d=example.org; s=rsa; h=from; "
		  "i=a@example.com; bh=AAAA; b=AAAA", "i= is not in d=" },
		{ "v=1; a=rsa-sha256; d=example.org; s=rsa; h=from; "
		  "i=a@xexample.org; bh=AAAA; b=AAAA", "i= is not in d=" },
		{ "v=1; a=rsa-sha256; d=example.org; s=rsa; h=from; "
		  "i=example.org; bh=AAAA; b=AAAA", "bad i=" },
		{ "v=1; a=rsa-sha256; d=example..org; s=rsa; h=from; "
		  "bh=AAAA; b=AAAA", "bad d=" },
		{ "v=1; a=rsa-sha256; d=example.org; s=r@sa; h=from; "
		  "bh=AAAA; b=AAAA", "bad s=" },
		{ "v=1; a=rsa-sha256; d=example.org; s=rsa; h=from; "
		  "bh=AAAA; b=AA!A", "bad b=" },
		{ "v=1; a=rsa-sha256; d=example.org; s=rsa; h=from; "
		  "bh=AAA; b=AAAA", "bad bh=" },
		{ "v=1; a=rsa-sha256; d=example.org; s=rsa; h=from; "
		  "bh=AAAA; b=", "bad b=" },
		{ "v=1; a=rsa-sha256; c=relaxed/fancy; d=example.org; s=rsa; "
		  "h=from; bh=AAAA; b=AAAA", "unknown canonicalization in c=" },
		{ "v=1; a=rsa-sha256; d=example.org; s=rsa; h=from; l=-1; "
		  "bh=AAAA; b=AAAA", "bad l=" },
		{ "v=1; a=rsa-sha256; d=example.org; s=rsa; h=from; q=dns; "
		  "bh=AAAA; b=AAAA", "q= is not dns/txt" },
		{ "v=1; a=rsa-sha256; d=example.org; s=rsa; h=from; t=1x; "
		  "bh=AAAA; b=AAAA", "bad t=" },
		{ "v=1; a=rsa-sha256; d=example.org; s=rsa; h=from; "
		  "t=1764330000; bh=AAAA; b=AAAA", "t= is in the future" },
		{ "v=1; a=rsa-sha256; d=example.org; s=rsa; h=from; "
		  "t=1764320000; x=1764310000; bh=AAAA; b=AAAA",
		  "x= is before t=" },
		{ "v=1; a=rsa-sha256; d=example.org; s=rsa; h=from; "
		  "x=1764320000; bh=AAAA; b=AAAA", "signature expired" },
		{ "v=1; a=rsa-sha256; d=example.org; s=rsa; h=from; "
		  "x=99999999999999999999999; bh=AAAA; b=AAAA",
		  "body hash mismatch" },
		{ "v=1; a=rsa-sha256; d=example.org; s=rsa; h=from; "
		  "t=1764323800; x=1764323900; bh=AAAA; b=AAAA",
		  "body hash mismatch" },
		{ "v=1; a=rsa-sha256; d=example.org; s=rsa; h=from; l=99999; "
		  "bh=AAAA; b=AAAA", "l= is beyond the body" },
		{ "v=1; a=RSA-SHA256; c=Relaxed/SIMPLE; q=DNS/TXT:x; "
		  "d=example.org; s=rsa; h=From; bh=AAAA; b=AAAA",
		  "body hash mismatch" },
		{ "v=1; a=rsa-sha256; d=" LONG26 "com; s=rsa; h=from; "
		  "bh=AAAA; b=AAAA", "bad d=" },
		{ "v=1; a=rsa-sha256; d=" LONG24 "com; s=selector; h=from; "
		  "bh=AAAA; b=AAAA", "key name too long" },
	};
	const struct ans	 a[] = {
		{ "rsa._domainkey.example.org", DKIM_DNS_OK, { rsa_txt }, 1 },
	};
	char			*msg, why[DKIM_REASON_MAX] = "";
	size_t			 i;
	int			 res;

	for (i = 0; i < nitems(cases); i++) {
		if (asprintf(&msg, "DKIM-Signature: %s\r\n%s", cases[i].sig,
		    MSG) == -1)
			abort();
		res = result(msg, 0, a, nitems(a), 0, why, sizeof(why));
		ok(res == (strstr(cases[i].why, "mismatch") ? DKIM_RES_FAIL :
		    DKIM_RES_PERMERROR), "signature %zu: %s", i,
		    dkim_result_name(res));
		is_str(why, cases[i].why, "  because");
		free(msg);
	}
}

static void
test_limits(void)
{
	struct dkim_key *const	 keys[] = { ed };
	const struct ans	 a[] = {
		{ "ed._domainkey.example.org", DKIM_DNS_OK, { ed_txt }, 1 },
	};
	struct dkim_verifier	*v;
	char			*msg, *big, *t, why[DKIM_REASON_MAX] = "";
	size_t			 i, n, good;
	int			 res;

	/* Ten signatures: eight checked, one key lookup, one body hash. */
	msg = strdup(MSG);
	for (i = 0; i < 10; i++) {
		t = sign(keys, 1, msg, strlen(msg));
		free(msg);
		msg = t;
	}
	v = run(msg, strlen(msg), 100, NOW, a, nitems(a));
	for (i = 0, good = 0; v != NULL && i < dkim_verifier_nresults(v); i++)
		if (dkim_verifier_result(v, i)->result == DKIM_RES_PASS)
			good++;
	ok(v != NULL && dkim_verifier_nsigs(v) == 10 &&
	    dkim_verifier_nresults(v) == DKIM_VERIFY_SIGS_MAX &&
	    good == DKIM_VERIFY_SIGS_MAX && dkim_verifier_nqueries(v) == 1,
	    "ten signatures: %d checked, all pass, one key lookup",
	    DKIM_VERIFY_SIGS_MAX);
	dkim_verifier_free(v);
	free(msg);

	/* A header just under and just over the limit. */
	n = DKIM_HEADER_MAX - 2048;
	big = malloc(n + 32);
	memcpy(big, "X-Big: ", 7);
	memset(big + 7, 'a', n - 9);
	memcpy(big + n - 2, "\r\n", 3);
	t = cat(big, MSG);
	msg = sign(keys, 1, t, strlen(t));
	ok(result(msg, 65536, a, nitems(a), 0, why, sizeof(why)) ==
	    DKIM_RES_PASS, "a header of almost %d bytes verifies (%s)",
	    DKIM_HEADER_MAX, why);
	free(t);
	t = cat(big, msg);		/* X-Big twice */
	v = dkim_verifier_new(NOW);
	dkim_verifier_update(v, t, strlen(t));
	ok(dkim_verifier_end(v, why, sizeof(why)) == -1 &&
	    dkim_verifier_nqueries(v) == 0, "over %d bytes: refused (%s)",
	    DKIM_HEADER_MAX, why);
	dkim_verifier_finish(v);
	ok(dkim_verifier_nresults(v) == 0 &&
	    dkim_verifier_arc(v)->result == ARC_RES_NONE,
	    "  and nothing reported");
	dkim_verifier_free(v);
	free(t);
	free(msg);
	free(big);

	/* A signature field over DKIM_SIGFIELD_MAX, a long h=. */
	big = malloc(DKIM_SIGFIELD_MAX + 64);
	memset(big, 0, DKIM_SIGFIELD_MAX + 64);
	strlcpy(big, "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=ed; "
	    "h=from; bh=AAAA; b=AAAA; z=", DKIM_SIGFIELD_MAX);
	memset(big + strlen(big), 'z', DKIM_SIGFIELD_MAX - strlen(big));
	t = cat(big, "\r\n" MSG);
	res = result(t, 0, a, nitems(a), 0, why, sizeof(why));
	ok(res == DKIM_RES_PERMERROR && strstr(why, "over") != NULL,
	    "a signature field over %d bytes: permerror (%s)",
	    DKIM_SIGFIELD_MAX, why);
	free(t);
	strlcpy(big, "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=ed; "
	    "bh=AAAA; b=AAAA; h=from", DKIM_SIGFIELD_MAX);
	for (i = 0; i < DKIM_HNAMES_MAX; i++)
		strlcat(big, ":to", DKIM_SIGFIELD_MAX);
	t = cat(big, "\r\n" MSG);
	res = result(t, 0, a, nitems(a), 0, why, sizeof(why));
	ok(res == DKIM_RES_PERMERROR && strstr(why, "h=") != NULL,
	    "more than %d names in h=: permerror (%s)", DKIM_HNAMES_MAX, why);
	free(t);
	free(big);
}

/* ARC sets written by hand (not validly signed): structure only. */
static void
test_arc_structure(void)
{
	static const struct {
		const char	*hdr;
		int		 res;
		const char	*why;
	} cases[] = {
		{ "", ARC_RES_NONE, "no ARC header field" },
		{ "ARC-Seal: i=1; cv=none; a=rsa-sha256; d=x.example; s=s; "
		  "b=AAAA\r\n", ARC_RES_FAIL, "ARC set i=1 is incomplete" },
		{ "ARC-Seal: i=2; cv=pass; a=rsa-sha256; d=x.example; s=s; "
		  "b=AAAA\r\n"
		  "ARC-Message-Signature: i=2; a=rsa-sha256; d=x.example; "
		  "s=s; h=from; bh=AAAA; b=AAAA\r\n"
		  "ARC-Authentication-Results: i=2; x.example; spf=pass\r\n",
		  ARC_RES_FAIL, "ARC set i=1 is incomplete" },
		{ "ARC-Seal: i=1; cv=pass; a=rsa-sha256; d=x.example; s=s; "
		  "b=AAAA\r\n"
		  "ARC-Message-Signature: i=1; a=rsa-sha256; d=x.example; "
		  "s=s; h=from; bh=AAAA; b=AAAA\r\n"
		  "ARC-Authentication-Results: i=1; x.example; spf=pass\r\n",
		  ARC_RES_FAIL, "ARC-Seal i=1 has cv=pass" },
		{ "ARC-Seal: i=1; cv=fail; a=rsa-sha256; d=x.example; s=s; "
		  "b=AAAA\r\n", ARC_RES_FAIL,
		  "the latest ARC-Seal says cv=fail" },
		{ "ARC-Seal: i=51; cv=pass; a=rsa-sha256; d=x.example; s=s; "
		  "b=AAAA\r\n", ARC_RES_FAIL, "ARC-Seal without a valid "
		  "instance (at most 50)" },
		{ "ARC-Authentication-Results: x.example; i=1; spf=pass\r\n",
		  ARC_RES_FAIL, "ARC-Authentication-Results without a valid "
		  "instance (at most 50)" },
		{ "ARC-Authentication-Results: i=1; x.example\r\n"
		  "ARC-Authentication-Results: i=1; y.example\r\n",
		  ARC_RES_FAIL, "two ARC-Authentication-Results with i=1" },
		{ "ARC-Seal: i=1; i=1; cv=none\r\n", ARC_RES_FAIL,
		  "ARC-Seal without a valid instance (at most 50)" },
		{ "ARC-Seal: i=1; cv=none; a=rsa-sha256; d=x.example; s=s; "
		  "b=AAAA\r\n"
		  "ARC-Message-Signature: i=1; a=rsa-sha256; d=x.example; "
		  "s=s; h=from; bh=AAAA; b=AAAA\r\n"
		  "ARC-Authentication-Results: i=1; x.example; spf=pass\r\n",
		  ARC_RES_FAIL, "ARC-Message-Signature i=1: no key" },
		{ "ARC-Seal: i=1; cv=none; a=rsa-sha256; d=x.example; s=s; "
		  "b=AAAA\r\n"
		  "ARC-Message-Signature: i=1; a=rsa-sha256; d=x.example; "
		  "s=s; h=from:arc-seal; bh=AAAA; b=AAAA\r\n"
		  "ARC-Authentication-Results: i=1; x.example; spf=pass\r\n",
		  ARC_RES_FAIL, "ARC-Message-Signature i=1: ARC-Seal in h= "
		  "(RFC 8617 4.1.2)" },
	};
	struct dkim_verifier	*v;
	const struct arc_result	*r;
	char			*msg, *big;
	size_t			 i;

	for (i = 0; i < nitems(cases); i++) {
		msg = cat(cases[i].hdr, MSG);
		v = run(msg, strlen(msg), 0, NOW, NULL, 0);
		r = dkim_verifier_arc(v);
		ok(r->result == cases[i].res, "ARC case %zu: %s", i,
		    arc_result_name(r->result));
		is_str(r->reason, cases[i].why, "  because");
		ok(r->oldest_pass == -1, "  no oldest-pass");
		if (cases[i].res == ARC_RES_FAIL && i < 9)
			ok(dkim_verifier_nqueries(v) == 0,
			    "  no key asked for a broken structure");
		dkim_verifier_free(v);
		free(msg);
	}

	/* 50 sets from 50 domains: the lookups stay bounded. */
	big = NULL;
	for (i = 50; i >= 1; i--) {
		char	*set, *nb;

		if (asprintf(&set, "ARC-Seal: i=%zu; cv=%s; a=rsa-sha256; "
		    "d=d%zu.example; s=s; b=AAAA\r\n"
		    "ARC-Message-Signature: i=%zu; a=rsa-sha256; "
		    "d=m%zu.example; s=s; h=from; bh=AAAA; b=AAAA\r\n"
		    "ARC-Authentication-Results: i=%zu; x.example\r\n", i,
		    i == 1 ? "none" : "pass", i, i, i, i) == -1)
			abort();
		nb = cat(big ? big : "", set);
		free(big);
		free(set);
		big = nb;
	}
	msg = cat(big, MSG);
	v = run(msg, strlen(msg), 0, NOW, NULL, 0);
	r = dkim_verifier_arc(v);
	ok(dkim_verifier_nqueries(v) == DKIM_VERIFY_QUERIES_MAX &&
	    r->result == ARC_RES_FAIL && r->n == 50,
	    "50 sets, 100 keys: %d lookups, fail (%s)",
	    DKIM_VERIFY_QUERIES_MAX, r->reason);
	dkim_verifier_free(v);
	free(msg);
	free(big);
}

/* Pseudo-random messages built from DKIM and ARC pieces: no crash. */
static void
test_hostile(void)
{
	static const char *const names[] = {
		"DKIM-Signature:", "ARC-Seal:", "ARC-Message-Signature:",
		"ARC-Authentication-Results:", "From:", "Subject:", " ", "\t",
	};
	static const char *const bits[] = {
		" v=1;", " a=rsa-sha256;", " a=ed25519-sha256;", " i=1;",
		" i=2;", " cv=none;", " cv=pass;", " d=example.org;",
		" s=ed;", " s=rsa;", " h=from:from:to;", " bh=AAAA;",
		" bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;",
		" b=AAAA;", " l=0;", " l=5;", " c=simple/relaxed;",
		" t=1;", " x=2;", ";", "=", "\r\n", "\r\n\t", "\r", "\n",
		"\x00", "\xff", " z=", "a@b", "  ", "i=1; x; spf=pass",
	};
	const struct ans	 a[] = {
		{ "ed._domainkey.example.org", DKIM_DNS_OK, { ed_txt }, 1 },
		{ "rsa._domainkey.example.org", DKIM_DNS_OK,
		    { "v=DKIM1; p=AAAA" }, 1 },
	};
	struct dkim_verifier		*v;
	const struct dkim_result	*r;
	char				 msg[4096];
	size_t				 len, i, k, n, bad = 0;
	uint32_t			 x = 12345;

	for (i = 0; i < 3000; i++) {
		len = 0;
		n = 1 + x % 12;
		for (k = 0; k < n * 6 && len < sizeof(msg) - 64; k++) {
			x = x * 1103515245 + 12345;
			if (k % 6 == 0) {
				len += strlcpy(msg + len,
				    names[(x >> 8) % nitems(names)],
				    sizeof(msg) - len);
				continue;
			}
			len += strlcpy(msg + len, bits[(x >> 8) % nitems(bits)],
			    sizeof(msg) - len);
			if (bits[(x >> 8) % nitems(bits)][0] == '\0')
				msg[len++] = '\0';
			if (k % 6 == 5)
				len += strlcpy(msg + len, "\r\n",
				    sizeof(msg) - len);
		}
		len += strlcpy(msg + len, "\r\nbody\r\n", sizeof(msg) - len);
		v = run(msg, len, 1 + (x >> 4) % 50, NOW, a, nitems(a));
		if (v == NULL) {
			bad++;
			continue;
		}
		for (k = 0; k < dkim_verifier_nresults(v); k++) {
			r = dkim_verifier_result(v, k);
			if (r->result < DKIM_RES_PASS ||
			    r->result > DKIM_RES_PERMERROR ||
			    r->reason[0] == '\0')
				bad++;
		}
		if (dkim_verifier_arc(v)->result < ARC_RES_NONE ||
		    dkim_verifier_arc(v)->result > ARC_RES_FAIL)
			bad++;
		dkim_verifier_free(v);
	}
	ok(bad == 0, "3000 hostile messages: every one has results, each "
	    "with a reason");
}

int
main(void)
{
	const char	*d;

	if ((d = getenv("MAILD_DKIM_TESTDIR")) != NULL)
		datadir = d;
	log_init(1, 0);
	rsa = key_file("rsa2048.pem", "example.org", "rsa");
	rsa1024 = key_file("rsa1024.pem", "example.org", "old");
	ed = key_file("ed25519.pem", "example.org", "ed");
	rsa_txt = dkim_key_txt(rsa);
	rsa1024_txt = dkim_key_txt(rsa1024);
	ed_txt = dkim_key_txt(ed);
	test_tags();
	test_keyrec();
	test_rfc8463();
	test_roundtrip();
	test_tamper();
	test_answers();
	test_sigtags();
	test_limits();
	test_arc_structure();
	test_hostile();
	dkim_key_free(rsa);
	dkim_key_free(rsa1024);
	dkim_key_free(ed);
	free(rsa_txt);
	free(rsa1024_txt);
	free(ed_txt);
	return done_testing();
}
