/*
 * ARC chain validation (RFC 8617 section 5.2), verify only.
 *
 * The sets are collected from the header block by instance, their
 * structure checked (steps 1 to 3) before any key is asked for, then the
 * latest ARC-Message-Signature is validated like a DKIM signature (step
 * 4), the older ones down to the first that fails give oldest-pass (step
 * 5), and every ARC-Seal is validated (step 6) over the sets up to its
 * own, in instance order, hashed once with a running SHA-256 that each
 * seal copies.  Keys, body hashes and signature checks are the DKIM
 * verifier's (dkim_verify.c).
 */
#include <sys/types.h>

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc.h"
#include "compat.h"
#include "dkim_canon.h"
#include "dkim_verify.h"
#include "log.h"

#define AAR	0
#define AMS	1
#define AS	2

struct arc_set {
	const struct dkim_field	*f[3];		/* AAR, AMS, AS */
	int			 cv;		/* of the AS */
	struct dkim_sig		 ams;
	struct dkim_sig		 as;
	int			 parsed;
};

struct arc_chain {
	struct arc_set		 sets[ARC_SETS_MAX + 1]; /* by instance */
	int			 n;
	int			 decided;
	struct arc_result	 res;
};

static void	 decide(struct arc_chain *, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static int	 field_kind(const struct dkim_field *);
static int	 aar_instance(const struct dkim_field *);
static int	 sig_instance(const struct dkim_field *, int *);
static int	 collect(struct arc_chain *, const struct dkim_field *,
		    size_t);
static int	 structure(struct arc_chain *);
static void	 hash_field(EVP_MD_CTX *, struct dkim_buf *,
		    const struct dkim_field *);
static int	 seals(struct arc_chain *, struct dkim_verifier *);

static void
decide(struct arc_chain *c, int res, const char *fmt, ...)
{
	va_list	 ap;

	if (c->decided)
		return;
	c->decided = 1;
	c->res.result = res;
	va_start(ap, fmt);
	/* A cut reason is still a reason. */
	(void)vsnprintf(c->res.reason, sizeof(c->res.reason), fmt, ap);
	va_end(ap);
}

const char *
arc_result_name(int res)
{
	switch (res) {
	case ARC_RES_PASS:
		return "pass";
	case ARC_RES_FAIL:
		return "fail";
	}
	return "none";
}

static int
field_kind(const struct dkim_field *f)
{
	if (dkim_field_is(f, "ARC-Authentication-Results", 26))
		return AAR;
	if (dkim_field_is(f, "ARC-Message-Signature", 21))
		return AMS;
	if (dkim_field_is(f, "ARC-Seal", 8))
		return AS;
	return -1;
}

/* RFC 8617 4.1.1: "i=" instance ";" then the results.  -1 if not so. */
static int
aar_instance(const struct dkim_field *f)
{
	const char	*p = f->p + f->namelen, *end = f->p + f->len;
	int		 n = 0, digits = 0;

	while (p < end && *p != ':')
		p++;
	for (p++; p < end && (*p == ' ' || *p == '\t' || *p == '\r' ||
	    *p == '\n'); p++)
		;
	if (p == end || *p++ != 'i')
		return -1;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' ||
	    *p == '\n'))
		p++;
	if (p == end || *p++ != '=')
		return -1;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' ||
	    *p == '\n'))
		p++;
	for (; p < end && *p >= '0' && *p <= '9' && digits < 3; p++) {
		n = n * 10 + (*p - '0');
		digits++;
	}
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' ||
	    *p == '\n'))
		p++;
	if (digits == 0 || p == end || *p != ';' || n < 1 ||
	    n > ARC_SETS_MAX)
		return -1;
	return n;
}

/* i= of an AMS or AS, and cv= of an AS (0 if absent or odd); -1 bad. */
static int
sig_instance(const struct dkim_field *f, int *cv)
{
	struct dkim_tag		 tags[DKIM_TAGS_MAX];
	const char		*val, *why;
	size_t			 vlen, ntags, k;
	int			 n = -1, i;

	*cv = 0;
	if (f->len > DKIM_SIGFIELD_MAX)
		return -1;
	val = (const char *)memchr(f->p, ':', f->len) + 1;
	vlen = f->len - (val - f->p);
	if (vlen >= 2 && val[vlen - 2] == '\r' && val[vlen - 1] == '\n')
		vlen -= 2;
	if (dkim_tags_parse(val, vlen, tags, nitems(tags), &ntags,
	    &why) == -1)
		return -1;
	for (k = 0; k < ntags; k++) {
		if (tags[k].namelen == 1 && tags[k].name[0] == 'i') {
			n = 0;
			for (i = 0; (size_t)i < tags[k].vallen; i++) {
				if (i == 2 || tags[k].val[i] < '0' ||
				    tags[k].val[i] > '9')
					return -1;
				n = n * 10 + (tags[k].val[i] - '0');
			}
		}
		if (tags[k].namelen == 2 && memcmp(tags[k].name, "cv", 2) == 0)
			*cv = tags[k].vallen == 4 &&
			    strncasecmp(tags[k].val, "none", 4) == 0 ?
			    ARC_CV_NONE : tags[k].vallen == 4 &&
			    strncasecmp(tags[k].val, "pass", 4) == 0 ?
			    ARC_CV_PASS : tags[k].vallen == 4 &&
			    strncasecmp(tags[k].val, "fail", 4) == 0 ?
			    ARC_CV_FAIL : 0;
	}
	return n >= 1 && n <= ARC_SETS_MAX ? n : -1;
}

/* Step 1: the fields by instance.  0 if there is no ARC field at all. */
static int
collect(struct arc_chain *c, const struct dkim_field *f, size_t nf)
{
	static const char *const names[3] = {
		"ARC-Authentication-Results", "ARC-Message-Signature",
		"ARC-Seal"
	};
	size_t	 i;
	int	 kind, inst, cv, any = 0;

	for (i = 0; i < nf; i++) {
		if ((kind = field_kind(&f[i])) == -1)
			continue;
		any = 1;
		if (kind == AAR)
			inst = f[i].len > ARC_AAR_MAX ? -1 :
			    aar_instance(&f[i]);
		else
			inst = sig_instance(&f[i], &cv);
		if (inst == -1) {
			decide(c, ARC_RES_FAIL, "%s without a valid instance "
			    "(at most %d)", names[kind], ARC_SETS_MAX);
			continue;
		}
		if (c->sets[inst].f[kind] != NULL) {
			decide(c, ARC_RES_FAIL, "two %s with i=%d",
			    names[kind], inst);
			continue;
		}
		c->sets[inst].f[kind] = &f[i];
		if (kind == AS)
			c->sets[inst].cv = cv;
		if (inst > c->n)
			c->n = inst;
	}
	return any;
}

/* Steps 2 and 3.  0 if the chain may be validated. */
static int
structure(struct arc_chain *c)
{
	struct arc_set	*s;
	int		 i, k;

	if (c->sets[c->n].f[AS] != NULL && c->sets[c->n].cv == ARC_CV_FAIL) {
		decide(c, ARC_RES_FAIL, "the latest ARC-Seal says cv=fail");
		return -1;
	}
	for (i = 1; i <= c->n; i++) {
		s = &c->sets[i];
		for (k = 0; k < 3; k++) {
			if (s->f[k] == NULL) {
				decide(c, ARC_RES_FAIL, "ARC set i=%d is "
				    "incomplete", i);
				return -1;
			}
		}
		if (s->cv != (i == 1 ? ARC_CV_NONE : ARC_CV_PASS)) {
			decide(c, ARC_RES_FAIL, "ARC-Seal i=%d has cv=%s", i,
			    s->cv == ARC_CV_NONE ? "none" : s->cv ==
			    ARC_CV_PASS ? "pass" : s->cv == ARC_CV_FAIL ?
			    "fail" : "?");
			return -1;
		}
	}
	return 0;
}

struct arc_chain *
arc_chain_new(struct dkim_verifier *v, const struct dkim_field *f, size_t nf,
    time_t now)
{
	struct arc_chain	*c;
	int			 i;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("calloc");
	c->res.result = ARC_RES_NONE;
	c->res.oldest_pass = -1;
	if (!collect(c, f, nf)) {
		decide(c, ARC_RES_NONE, "no ARC header field");
		return c;
	}
	c->res.n = c->n;
	if (c->decided || structure(c) == -1)
		return c;
	for (i = 1; i <= c->n; i++) {
		(void)dkim_sig_parse(&c->sets[i].ams, DKIM_SIG_AMS,
		    c->sets[i].f[AMS], now);
		(void)dkim_sig_parse(&c->sets[i].as, DKIM_SIG_AS,
		    c->sets[i].f[AS], now);
		c->sets[i].parsed = 1;
	}
	/* The keys that decide first, should there be too many. */
	dkim_verifier_want(v, &c->sets[c->n].ams);
	for (i = c->n; i >= 1; i--)
		dkim_verifier_want(v, &c->sets[i].as);
	for (i = c->n - 1; i >= 1; i--)
		dkim_verifier_want(v, &c->sets[i].ams);
	return c;
}

static void
hash_field(EVP_MD_CTX *ctx, struct dkim_buf *b, const struct dkim_field *f)
{
	b->len = 0;
	if (dkim_canon_field(b, DKIM_CANON_RELAXED, f->p, f->len) == -1)
		fatalx("%s: no colon", __func__);
	if (EVP_DigestUpdate(ctx, b->p, b->len) != 1)
		fatalx("EVP_DigestUpdate");
}

/*
 * Step 6 (RFC 8617 5.1.1 for what a seal signs): every set up to its
 * own, AAR, AMS, AS in each, relaxed, its own b= deleted, no final CRLF.
 * 0 if every seal validates.
 */
static int
seals(struct arc_chain *c, struct dkim_verifier *v)
{
	EVP_MD_CTX	*run, *one;
	struct dkim_buf	 b;
	unsigned char	 digest[EVP_MAX_MD_SIZE];
	struct arc_set	*s;
	int		 i;

	memset(&b, 0, sizeof(b));
	if ((run = EVP_MD_CTX_new()) == NULL ||
	    (one = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(run, EVP_sha256(), NULL) != 1)
		fatalx("EVP_DigestInit_ex");
	for (i = 1; i <= c->n; i++) {
		s = &c->sets[i];
		hash_field(run, &b, s->f[AAR]);
		hash_field(run, &b, s->f[AMS]);
		if (s->as.result == 0) {
			b.len = 0;
			dkim_sig_self(&s->as, DKIM_CANON_RELAXED, &b);
			if (EVP_MD_CTX_copy_ex(one, run) != 1 ||
			    EVP_DigestUpdate(one, b.p, b.len) != 1 ||
			    EVP_DigestFinal_ex(one, digest, NULL) != 1)
				fatalx("EVP_DigestFinal_ex");
			dkim_verifier_check_digest(v, &s->as, digest);
		}
		hash_field(run, &b, s->f[AS]);
	}
	EVP_MD_CTX_free(run);
	EVP_MD_CTX_free(one);
	free(b.p);
	for (i = c->n; i >= 1; i--) {
		s = &c->sets[i];
		if (s->as.result != DKIM_RES_PASS) {
			decide(c, ARC_RES_FAIL, "ARC-Seal i=%d: %s", i,
			    s->as.reason);
			return -1;
		}
	}
	return 0;
}

void
arc_chain_eval(struct arc_chain *c, struct dkim_verifier *v)
{
	struct arc_set	*latest;
	int		 i, oldest = 0;

	if (c->decided)
		return;
	latest = &c->sets[c->n];
	dkim_verifier_check(v, &latest->ams);
	if (latest->ams.result != DKIM_RES_PASS) {
		decide(c, ARC_RES_FAIL, "ARC-Message-Signature i=%d: %s", c->n,
		    latest->ams.reason);
		return;
	}
	for (i = c->n - 1; i >= 1; i--) {
		dkim_verifier_check(v, &c->sets[i].ams);
		if (c->sets[i].ams.result != DKIM_RES_PASS) {
			oldest = i + 1;
			break;
		}
	}
	if (seals(c, v) == -1)
		return;
	c->res.oldest_pass = oldest;
	(void)strlcpy(c->res.d, latest->as.d, sizeof(c->res.d));
	(void)strlcpy(c->res.s, latest->as.s, sizeof(c->res.s));
	decide(c, ARC_RES_PASS, "%d set%s", c->n, c->n == 1 ? "" : "s");
}

const struct arc_result *
arc_chain_result(const struct arc_chain *c)
{
	return &c->res;
}

void
arc_chain_free(struct arc_chain *c)
{
	int	 i;

	if (c == NULL)
		return;
	for (i = 1; i <= c->n; i++) {
		if (!c->sets[i].parsed)
			continue;
		dkim_sig_free(&c->sets[i].ams);
		dkim_sig_free(&c->sets[i].as);
	}
	free(c);
}
