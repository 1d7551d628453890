/*
 * DKIM verification (RFC 6376, RFC 8301 for what is refused, RFC 8463 for
 * Ed25519) of a message fed once in chunks, and the services ARC
 * validation (arc.c) shares with it: signature and key record parsing,
 * body hashes, key lookups and the check of a signature.
 *
 * The header block is kept (dkim_canon.c collects it, as for signing).
 * When it ends, the signatures are parsed and the body hashes they need
 * are set up: one canonicaliser per canonicalisation in use, feeding one
 * SHA-256 per distinct l= value, so the body is read once however many
 * signatures there are.  Header hashes are computed at the end, field by
 * field, with the same canonicalisation code the signer uses.
 */
#include <sys/types.h>

#include <ctype.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arc.h"
#include "compat.h"
#include "dkim_canon.h"
#include "dkim_verify.h"
#include "log.h"

#define SHA256_LEN	32
#define RSA_BITS_MIN	1024		/* RFC 8301 3.2 */
#define RSA_BITS_MAX	8192
#define DIGITS_MAX	76		/* of l=, t=, x= (RFC 6376 3.5) */
#define TIME_DIGITS_MAX	19		/* more: far beyond any clock */

struct query {
	char			 name[DKIM_QNAME_MAX + 1];
	int			 answered;
	int			 status;	/* DKIM_DNS_* */
	int			 bad;		/* key record refused */
	char			 why[DKIM_REASON_MAX];
	struct dkim_keyrec	 key;
};

struct body {
	int		 canon;
	int		 has_l;
	uint64_t	 l;
	uint64_t	 fed;
	EVP_MD_CTX	*ctx;
	unsigned char	 hash[SHA256_LEN];
};

/* One canonicaliser, shared by every body hash of its canonicalisation. */
struct stream {
	struct dkim_verifier	*v;
	int			 canon;
	int			 used;
	uint64_t		 len;		/* canonical bytes out */
	struct dkim_canon	 c;
};

/* Fields sorted by name, to find the n-th from the bottom at once. */
struct hidx {
	const char	*name;
	size_t		 len;
	size_t		 idx;
};

struct dkim_verifier {
	time_t			 now;
	struct dkim_hdrbuf	 hdr;
	int			 parsed;	/* header block split */
	int			 ended;
	int			 finished;
	int			 toobig;
	struct dkim_field	*f;
	size_t			 nf;
	struct hidx		*order;
	size_t			 norder;
	struct dkim_sig		 sigs[DKIM_VERIFY_SIGS_MAX];
	size_t			 nsigs;		/* evaluated */
	size_t			 allsigs;
	struct dkim_result	 res[DKIM_VERIFY_SIGS_MAX];
	struct query		 q[DKIM_VERIFY_QUERIES_MAX];
	size_t			 nq;
	struct body		 bodies[DKIM_VERIFY_BODIES_MAX];
	size_t			 nbodies;
	struct stream		 streams[2];	/* simple, relaxed */
	struct arc_chain	*arc;
	struct arc_result	 arcnone;
};

static void	 setres(struct dkim_sig *, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static int	 is_fws(const char *, size_t, size_t);
static int	 ci_eq(const char *, size_t, const char *);
static int	 list_has(const char *, size_t, const char *);
static int	 name_ok(const char *, size_t);
static int	 subdomain_of(const char *, size_t, const char *);
static int	 b64_decode(const char *, size_t, unsigned char *, size_t,
		    size_t *);
static int	 number(const char *, size_t, size_t, uint64_t *);
static const struct dkim_tag *tag_find(const struct dkim_tag *, size_t,
		    const char *);
static void	 copy_printable(char *, size_t, const char *, size_t,
		    const char *);
static int	 parse_alg(struct dkim_sig *, const struct dkim_tag *);
static int	 parse_canon(struct dkim_sig *, const struct dkim_tag *);
static int	 parse_h(struct dkim_sig *, const struct dkim_tag *);
static int	 parse_auid(struct dkim_sig *, const struct dkim_tag *);
static int	 parse_instance(struct dkim_sig *, const struct dkim_tag *);
static int	 parse_times(struct dkim_sig *, const struct dkim_tag *,
		    const struct dkim_tag *, time_t);
static void	 report_tags(struct dkim_sig *, const struct dkim_tag *,
		    size_t);
static int	 parse_sigtags(struct dkim_sig *, const struct dkim_tag *,
		    size_t, time_t);
static int	 keyrec_tags(const struct dkim_tag *, size_t,
		    struct dkim_keyrec *, const struct dkim_tag **, char *,
		    size_t);
static int	 keyrec_rsa(const unsigned char *, size_t,
		    struct dkim_keyrec *, char *, size_t);
static int	 hidx_cmp(const void *, const void *);
static int	 name_cmp(const char *, size_t, const char *, size_t);
static const struct dkim_field *hdr_pick(const struct dkim_verifier *,
		    const struct dkim_sig *, size_t);
static void	 header_digest(const struct dkim_verifier *,
		    const struct dkim_sig *, unsigned char *);
static int	 verify_digest(const struct dkim_keyrec *,
		    const unsigned char *, const unsigned char *, size_t);
static void	 stream_sink(void *, const void *, size_t);
static int	 body_slot(struct dkim_verifier *, const struct dkim_sig *);
static int	 query_slot(struct dkim_verifier *, const struct dkim_sig *);
static const struct dkim_keyrec *sig_key(struct dkim_verifier *,
		    struct dkim_sig *);
static void	 header_done(struct dkim_verifier *);
static void	 fill_result(struct dkim_result *, const struct dkim_sig *);

static void
setres(struct dkim_sig *sig, int res, const char *fmt, ...)
{
	va_list	 ap;

	if (sig->result != 0)
		return;
	sig->result = res;
	va_start(ap, fmt);
	/* A cut reason is still a reason. */
	(void)vsnprintf(sig->reason, sizeof(sig->reason), fmt, ap);
	va_end(ap);
}

const char *
dkim_result_name(int res)
{
	switch (res) {
	case DKIM_RES_PASS:
		return "pass";
	case DKIM_RES_FAIL:
		return "fail";
	case DKIM_RES_NEUTRAL:
		return "neutral";
	case DKIM_RES_POLICY:
		return "policy";
	case DKIM_RES_TEMPERROR:
		return "temperror";
	case DKIM_RES_PERMERROR:
		return "permerror";
	}
	return "none";
}

/* FWS at p[i]: WSP, or CRLF followed by WSP.  Its length, or 0. */
static int
is_fws(const char *p, size_t len, size_t i)
{
	if (p[i] == ' ' || p[i] == '\t')
		return 1;
	if (p[i] == '\r' && i + 2 < len && p[i + 1] == '\n' &&
	    (p[i + 2] == ' ' || p[i + 2] == '\t'))
		return 3;
	return 0;
}

/* ABNF literals are case-insensitive (RFC 5234 2.3). */
static int
ci_eq(const char *p, size_t len, const char *lit)
{
	return strlen(lit) == len && strncasecmp(p, lit, len) == 0;
}

/* A colon-separated list (FWS around the colons) holding lit. */
static int
list_has(const char *p, size_t len, const char *lit)
{
	size_t	 i = 0, s, e;

	while (i <= len) {
		s = i;
		while (i < len && p[i] != ':')
			i++;
		e = i;
		while (s < e && (p[s] == ' ' || p[s] == '\t' || p[s] == '\r' ||
		    p[s] == '\n'))
			s++;
		while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t' ||
		    p[e - 1] == '\r' || p[e - 1] == '\n'))
			e--;
		if (ci_eq(p + s, e - s, lit))
			return 1;
		i++;
	}
	return 0;
}

/* Domain or selector: dot-separated labels of letters, digits, - and _. */
static int
name_ok(const char *s, size_t len)
{
	size_t	 i, label = 0;

	if (len == 0 || len > DKIM_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_')
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

/* dom (len bytes) is d or a subdomain of it, ignoring case. */
static int
subdomain_of(const char *dom, size_t len, const char *d)
{
	size_t	 dlen = strlen(d);

	if (len < dlen || strncasecmp(dom + len - dlen, d, dlen) != 0)
		return 0;
	return len == dlen || dom[len - dlen - 1] == '.';
}

/* base64 with FWS anywhere; 0, or -1 if malformed or over max bytes. */
static int
b64_decode(const char *p, size_t len, unsigned char *out, size_t max,
    size_t *outlen)
{
	const char	*end;

	if (len == 0)
		return -1;
	if (sodium_base642bin(out, max, p, len, " \t\r\n", outlen, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || end != p + len)
		return -1;
	return 0;
}

/* Decimal digits only; more than max digits saturate at UINT64_MAX. */
static int
number(const char *p, size_t len, size_t max, uint64_t *n)
{
	size_t	 i, sig = 0;

	if (len == 0 || len > max)
		return -1;
	*n = 0;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		if (sig > 0 || p[i] != '0')
			sig++;
		if (sig > TIME_DIGITS_MAX)
			*n = UINT64_MAX;
		else
			*n = *n * 10 + (uint64_t)(p[i] - '0');
	}
	return 0;
}

int
dkim_tags_parse(const char *p, size_t len, struct dkim_tag *tags,
    size_t max, size_t *ntags, const char **why)
{
	size_t	 pos = 0, n = 0, ns, vs, ve, k;
	int	 first = 1, w;

	*ntags = 0;
	for (;;) {
		while (pos < len && (w = is_fws(p, len, pos)) > 0)
			pos += w;
		if (pos == len) {
			if (first) {
				*why = "empty tag list";
				return -1;
			}
			break;
		}
		first = 0;
		ns = pos;
		if (!isalpha((unsigned char)p[pos])) {
			*why = "bad tag name";
			return -1;
		}
		while (pos < len && (isalnum((unsigned char)p[pos]) ||
		    p[pos] == '_'))
			pos++;
		if (n == max) {
			*why = "too many tags";
			return -1;
		}
		tags[n].name = p + ns;
		tags[n].namelen = pos - ns;
		while (pos < len && (w = is_fws(p, len, pos)) > 0)
			pos += w;
		if (pos == len || p[pos] != '=') {
			*why = "tag without =";
			return -1;
		}
		pos++;
		while (pos < len && (w = is_fws(p, len, pos)) > 0)
			pos += w;
		vs = ve = pos;
		while (pos < len && p[pos] != ';') {
			if ((w = is_fws(p, len, pos)) > 0) {
				pos += w;
				continue;
			}
			/* VALCHAR, and UTF-8 (RFC 8616). */
			if ((unsigned char)p[pos] <= 0x20 || p[pos] == 0x7f) {
				*why = "control character in a tag value";
				return -1;
			}
			ve = ++pos;
		}
		tags[n].val = p + vs;
		tags[n].vallen = ve - vs;
		tags[n].off = vs;
		for (k = 0; k < n; k++) {
			if (tags[k].namelen == tags[n].namelen &&
			    memcmp(tags[k].name, tags[n].name,
			    tags[n].namelen) == 0) {
				*why = "duplicate tag";
				return -1;
			}
		}
		n++;
		if (pos == len)
			break;
		pos++;				/* ; */
	}
	*ntags = n;
	return 0;
}

static const struct dkim_tag *
tag_find(const struct dkim_tag *tags, size_t n, const char *name)
{
	size_t	 i, len = strlen(name);

	for (i = 0; i < n; i++)
		if (tags[i].namelen == len &&
		    memcmp(tags[i].name, name, len) == 0)
			return &tags[i];
	return NULL;
}

/*
 * Copy a value for a result, only if every byte is printable and in
 * allowed (or, allowed NULL, any printable but space and specials).
 */
static void
copy_printable(char *dst, size_t size, const char *p, size_t len,
    const char *allowed)
{
	size_t	 i;

	dst[0] = '\0';
	if (len >= size)
		return;
	for (i = 0; i < len; i++) {
		if (!isalnum((unsigned char)p[i]) && (allowed == NULL ?
		    strchr("!#$%&'*+-/=?^_`{|}~.@", p[i]) == NULL :
		    strchr(allowed, p[i]) == NULL))
			return;
		if (p[i] == '\0')
			return;
	}
	memcpy(dst, p, len);
	dst[len] = '\0';
}

static int
parse_alg(struct dkim_sig *sig, const struct dkim_tag *a)
{
	if (ci_eq(a->val, a->vallen, "rsa-sha256"))
		sig->alg = DKIM_RSA;
	else if (ci_eq(a->val, a->vallen, "ed25519-sha256"))
		sig->alg = DKIM_ED25519;
	else if (ci_eq(a->val, a->vallen, "rsa-sha1")) {
		setres(sig, DKIM_RES_PERMERROR, "rsa-sha1 is refused "
		    "(RFC 8301)");
		return -1;
	} else {
		setres(sig, DKIM_RES_PERMERROR, "unknown algorithm");
		return -1;
	}
	return 0;
}

static int
parse_canon(struct dkim_sig *sig, const struct dkim_tag *c)
{
	const char	*slash;
	size_t		 hl, bl;
	int		*dst[2] = { &sig->hcanon, &sig->bcanon };
	const char	*part[2];
	size_t		 len[2], i;

	sig->hcanon = sig->bcanon = DKIM_CANON_SIMPLE;
	if (sig->kind == DKIM_SIG_AS)
		sig->hcanon = DKIM_CANON_RELAXED;	/* RFC 8617 5.1.1 */
	if (c == NULL || sig->kind == DKIM_SIG_AS)
		return 0;
	slash = memchr(c->val, '/', c->vallen);
	hl = slash ? (size_t)(slash - c->val) : c->vallen;
	bl = slash ? c->vallen - hl - 1 : 0;
	part[0] = c->val;
	len[0] = hl;
	part[1] = slash ? slash + 1 : NULL;
	len[1] = bl;
	for (i = 0; i < 2; i++) {
		if (part[i] == NULL)
			break;
		if (ci_eq(part[i], len[i], "simple"))
			*dst[i] = DKIM_CANON_SIMPLE;
		else if (ci_eq(part[i], len[i], "relaxed"))
			*dst[i] = DKIM_CANON_RELAXED;
		else {
			setres(sig, DKIM_RES_PERMERROR, "unknown "
			    "canonicalization in c=");
			return -1;
		}
	}
	return 0;
}

static int
parse_h(struct dkim_sig *sig, const struct dkim_tag *h)
{
	size_t	 i = 0, s, e, n = 0, j;
	int	 from = 0;

	if ((sig->h = calloc(DKIM_HNAMES_MAX, sizeof(*sig->h))) == NULL)
		fatal("calloc");
	while (i <= h->vallen) {
		s = i;
		while (i < h->vallen && h->val[i] != ':')
			i++;
		e = i++;
		while (s < e && isspace((unsigned char)h->val[s]))
			s++;
		while (e > s && isspace((unsigned char)h->val[e - 1]))
			e--;
		if (s == e) {
			setres(sig, DKIM_RES_PERMERROR, "empty name in h=");
			return -1;
		}
		for (j = s; j < e; j++) {
			/* ftext, RFC 5322 3.6.8 */
			if ((unsigned char)h->val[j] < 33 ||
			    (unsigned char)h->val[j] > 126) {
				setres(sig, DKIM_RES_PERMERROR, "bad name in "
				    "h=");
				return -1;
			}
		}
		if (n == DKIM_HNAMES_MAX) {
			setres(sig, DKIM_RES_PERMERROR, "more than %d names "
			    "in h=", DKIM_HNAMES_MAX);
			return -1;
		}
		sig->h[n].p = h->val + s;
		sig->h[n].len = e - s;
		if (ci_eq(h->val + s, e - s, "from"))
			from = 1;
		if (sig->kind == DKIM_SIG_AMS &&
		    ci_eq(h->val + s, e - s, "arc-seal")) {
			setres(sig, DKIM_RES_PERMERROR, "ARC-Seal in h= "
			    "(RFC 8617 4.1.2)");
			return -1;
		}
		n++;
	}
	sig->nh = n;
	if (!from) {
		/* RFC 6376 6.1.1 */
		setres(sig, DKIM_RES_PERMERROR, "From is not signed");
		return -1;
	}
	return 0;
}

/* RFC 6376 3.5 i=: the domain is d= or a subdomain of it. */
static int
parse_auid(struct dkim_sig *sig, const struct dkim_tag *i)
{
	const char	*at = NULL;
	size_t		 k;

	if (i == NULL)
		return 0;
	for (k = 0; k < i->vallen; k++) {
		if (i->val[k] == '@')
			at = i->val + k;
		if (isspace((unsigned char)i->val[k])) {
			setres(sig, DKIM_RES_PERMERROR, "bad i=");
			return -1;
		}
	}
	if (at == NULL || !name_ok(at + 1, i->vallen - (at + 1 - i->val))) {
		setres(sig, DKIM_RES_PERMERROR, "bad i=");
		return -1;
	}
	if (!subdomain_of(at + 1, i->vallen - (at + 1 - i->val), sig->d)) {
		setres(sig, DKIM_RES_PERMERROR, "i= is not in d=");
		return -1;
	}
	return 0;
}

static int
parse_instance(struct dkim_sig *sig, const struct dkim_tag *i)
{
	uint64_t	 n;

	if (number(i->val, i->vallen, 2, &n) == -1 || n < 1 ||
	    n > ARC_SETS_MAX) {
		setres(sig, DKIM_RES_PERMERROR, "bad instance i=");
		return -1;
	}
	sig->instance = (int)n;
	return 0;
}

/* RFC 6376 3.5 t= and x=, with DKIM_CLOCK_SKEW either way. */
static int
parse_times(struct dkim_sig *sig, const struct dkim_tag *t,
    const struct dkim_tag *x, time_t now)
{
	uint64_t	 unow = now < 0 ? 0 : (uint64_t)now;

	if (t != NULL) {
		if (number(t->val, t->vallen, DIGITS_MAX, &sig->t) == -1) {
			setres(sig, DKIM_RES_PERMERROR, "bad t=");
			return -1;
		}
		sig->has_t = 1;
		if (sig->t > unow + DKIM_CLOCK_SKEW) {
			setres(sig, DKIM_RES_PERMERROR, "t= is in the future");
			return -1;
		}
	}
	if (x != NULL) {
		if (number(x->val, x->vallen, DIGITS_MAX, &sig->x) == -1) {
			setres(sig, DKIM_RES_PERMERROR, "bad x=");
			return -1;
		}
		sig->has_x = 1;
		if (sig->has_t && sig->x < sig->t) {
			setres(sig, DKIM_RES_PERMERROR, "x= is before t=");
			return -1;
		}
		if (sig->x < UINT64_MAX - DKIM_CLOCK_SKEW &&
		    sig->x + DKIM_CLOCK_SKEW < unow) {
			setres(sig, DKIM_RES_PERMERROR, "signature expired");
			return -1;
		}
	}
	return 0;
}

/* What a result reports, taken before anything is judged. */
static void
report_tags(struct dkim_sig *sig, const struct dkim_tag *tags, size_t n)
{
	const struct dkim_tag	*t;
	size_t			 k, j;

	if ((t = tag_find(tags, n, "d")) != NULL && name_ok(t->val, t->vallen))
		copy_printable(sig->d, sizeof(sig->d), t->val, t->vallen,
		    "-._");
	if ((t = tag_find(tags, n, "s")) != NULL && name_ok(t->val, t->vallen))
		copy_printable(sig->s, sizeof(sig->s), t->val, t->vallen,
		    "-._");
	if ((t = tag_find(tags, n, "a")) != NULL)
		copy_printable(sig->a, sizeof(sig->a), t->val, t->vallen, "-");
	if ((t = tag_find(tags, n, "b")) != NULL) {
		for (k = 0, j = 0; k < t->vallen && j < DKIM_BPREFIX; k++)
			if (isalnum((unsigned char)t->val[k]) ||
			    t->val[k] == '+' || t->val[k] == '/')
				sig->bprefix[j++] = t->val[k];
		sig->bprefix[j] = '\0';
	}
	if (sig->kind == DKIM_SIG_DKIM) {
		if ((t = tag_find(tags, n, "i")) != NULL)
			copy_printable(sig->auid, sizeof(sig->auid), t->val,
			    t->vallen, NULL);
		else if (sig->d[0] != '\0')
			(void)snprintf(sig->auid, sizeof(sig->auid), "@%s",
			    sig->d);
	}
	if ((t = tag_find(tags, n, "l")) != NULL && sig->kind != DKIM_SIG_AS &&
	    number(t->val, t->vallen, DIGITS_MAX, &sig->l) == 0)
		sig->has_l = 1;
}

static int
parse_sigtags(struct dkim_sig *sig, const struct dkim_tag *tags, size_t n,
    time_t now)
{
	static const char *const need[3][8] = {
		{ "v", "a", "b", "bh", "d", "h", "s", NULL },
		{ "i", "a", "b", "bh", "d", "h", "s", NULL },
		{ "i", "a", "b", "cv", "d", "s", NULL },
	};
	const struct dkim_tag	*a, *b, *bh, *t;
	size_t			 k;

	report_tags(sig, tags, n);
	for (k = 0; need[sig->kind][k] != NULL; k++) {
		if (tag_find(tags, n, need[sig->kind][k]) == NULL) {
			setres(sig, DKIM_RES_PERMERROR, "no %s= tag",
			    need[sig->kind][k]);
			return -1;
		}
	}
	if (sig->d[0] == '\0') {
		setres(sig, DKIM_RES_PERMERROR, "bad d=");
		return -1;
	}
	if (sig->s[0] == '\0') {
		setres(sig, DKIM_RES_PERMERROR, "bad s=");
		return -1;
	}
	b = tag_find(tags, n, "b");
	/*
	 * RFC 6376 3.7: the value of b= is not signed, nor the FWS before
	 * it (which a signer may have folded there after signing).
	 */
	for (sig->boff = b->off; sig->boff > 0 &&
	    sig->field->p[sig->boff - 1] != '='; sig->boff--)
		;
	sig->bvlen = b->off + b->vallen - sig->boff;
	if ((a = tag_find(tags, n, "a")) != NULL && parse_alg(sig, a) == -1)
		return -1;
	if (sig->kind == DKIM_SIG_DKIM) {
		t = tag_find(tags, n, "v");
		if (t->vallen != 1 || t->val[0] != '1') {
			setres(sig, DKIM_RES_PERMERROR, "v= is not 1");
			return -1;
		}
	} else if (parse_instance(sig, tag_find(tags, n, "i")) == -1)
		return -1;
	if (b64_decode(b->val, b->vallen, sig->b, sizeof(sig->b),
	    &sig->blen) == -1) {
		setres(sig, DKIM_RES_PERMERROR, "bad b=");
		return -1;
	}
	if ((bh = tag_find(tags, n, "bh")) != NULL &&
	    b64_decode(bh->val, bh->vallen, sig->bh, sizeof(sig->bh),
	    &sig->bhlen) == -1) {
		/* Over 32 bytes: no SHA-256 either. */
		setres(sig, DKIM_RES_PERMERROR, "bad bh=");
		return -1;
	}
	if (parse_canon(sig, tag_find(tags, n, "c")) == -1)
		return -1;
	if (sig->kind == DKIM_SIG_AS) {
		if (tag_find(tags, n, "h") != NULL) {
			setres(sig, DKIM_RES_PERMERROR, "h= in an ARC-Seal "
			    "(RFC 8617 4.1.3)");
			return -1;
		}
		t = tag_find(tags, n, "cv");
		sig->cv = ci_eq(t->val, t->vallen, "none") ? ARC_CV_NONE :
		    ci_eq(t->val, t->vallen, "pass") ? ARC_CV_PASS :
		    ci_eq(t->val, t->vallen, "fail") ? ARC_CV_FAIL : 0;
		if (sig->cv == 0) {
			setres(sig, DKIM_RES_PERMERROR, "bad cv=");
			return -1;
		}
	} else if (parse_h(sig, tag_find(tags, n, "h")) == -1)
		return -1;
	if (sig->kind == DKIM_SIG_DKIM &&
	    parse_auid(sig, tag_find(tags, n, "i")) == -1)
		return -1;
	if ((t = tag_find(tags, n, "l")) != NULL && sig->kind != DKIM_SIG_AS &&
	    !sig->has_l) {
		setres(sig, DKIM_RES_PERMERROR, "bad l=");
		return -1;
	}
	if ((t = tag_find(tags, n, "q")) != NULL &&
	    !list_has(t->val, t->vallen, "dns/txt")) {
		setres(sig, DKIM_RES_PERMERROR, "q= is not dns/txt");
		return -1;
	}
	return parse_times(sig, tag_find(tags, n, "t"),
	    tag_find(tags, n, "x"), now);
}

int
dkim_sig_parse(struct dkim_sig *sig, int kind, const struct dkim_field *f,
    time_t now)
{
	struct dkim_tag	 tags[DKIM_TAGS_MAX];
	const char	*val, *why;
	size_t		 vlen, ntags, k;

	memset(sig, 0, sizeof(*sig));
	sig->kind = kind;
	sig->field = f;
	sig->body = sig->query = -1;
	if (f->len > DKIM_SIGFIELD_MAX) {
		setres(sig, DKIM_RES_PERMERROR, "signature field over %d bytes",
		    DKIM_SIGFIELD_MAX);
		return -1;
	}
	val = (const char *)memchr(f->p, ':', f->len) + 1;
	vlen = f->len - (val - f->p);
	if (vlen >= 2 && val[vlen - 2] == '\r' && val[vlen - 1] == '\n')
		vlen -= 2;
	if (dkim_tags_parse(val, vlen, tags, nitems(tags), &ntags,
	    &why) == -1) {
		setres(sig, DKIM_RES_PERMERROR, "%s", why);
		return -1;
	}
	for (k = 0; k < ntags; k++)
		tags[k].off += val - f->p;
	return parse_sigtags(sig, tags, ntags, now);
}

void
dkim_sig_free(struct dkim_sig *sig)
{
	free(sig->h);
	sig->h = NULL;
	sig->nh = 0;
}

static int
keyrec_rsa(const unsigned char *der, size_t len, struct dkim_keyrec *k,
    char *why, size_t whylen)
{
	const unsigned char	*p = der;
	EVP_PKEY		*pkey;
	int			 bits;

	if (len > LONG_MAX)
		return -1;
	/* SubjectPublicKeyInfo as RFC 6376 3.6.1 says, or bare PKCS#1. */
	if ((pkey = d2i_PUBKEY(NULL, &p, (long)len)) == NULL) {
		p = der;
		pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)len);
	}
	ERR_clear_error();
	if (pkey == NULL || EVP_PKEY_base_id(pkey) != EVP_PKEY_RSA) {
		EVP_PKEY_free(pkey);
		(void)snprintf(why, whylen, "unreadable RSA key");
		return -1;
	}
	bits = EVP_PKEY_bits(pkey);
	if (bits < RSA_BITS_MIN || bits > RSA_BITS_MAX) {
		EVP_PKEY_free(pkey);
		(void)snprintf(why, whylen, "RSA key of %d bits (%d to %d, "
		    "RFC 8301)", bits, RSA_BITS_MIN, RSA_BITS_MAX);
		return -1;
	}
	k->pkey = pkey;
	k->bits = (unsigned int)bits;
	return 0;
}

static int
keyrec_tags(const struct dkim_tag *tags, size_t n, struct dkim_keyrec *k,
    const struct dkim_tag **pp, char *why, size_t whylen)
{
	const struct dkim_tag	*t;

	/* RFC 6376 3.6.1: a record with another v= is not a key. */
	if ((t = tag_find(tags, n, "v")) != NULL &&
	    (t->vallen != 5 || memcmp(t->val, "DKIM1", 5) != 0)) {
		(void)snprintf(why, whylen, "key record v= is not DKIM1");
		return -1;
	}
	if ((t = tag_find(tags, n, "h")) != NULL &&
	    !list_has(t->val, t->vallen, "sha256")) {
		(void)snprintf(why, whylen, "key h= does not allow sha256");
		return -1;
	}
	k->type = DKIM_RSA;
	if ((t = tag_find(tags, n, "k")) != NULL) {
		if (ci_eq(t->val, t->vallen, "ed25519"))
			k->type = DKIM_ED25519;
		else if (!ci_eq(t->val, t->vallen, "rsa")) {
			(void)snprintf(why, whylen, "unknown key type k=");
			return -1;
		}
	}
	if ((t = tag_find(tags, n, "s")) != NULL &&
	    !list_has(t->val, t->vallen, "email") &&
	    !list_has(t->val, t->vallen, "*")) {
		(void)snprintf(why, whylen, "key is not for email (s=)");
		return -1;
	}
	if ((t = tag_find(tags, n, "t")) != NULL) {
		k->testing = list_has(t->val, t->vallen, "y");
		k->strict = list_has(t->val, t->vallen, "s");
	}
	if ((*pp = tag_find(tags, n, "p")) == NULL) {
		(void)snprintf(why, whylen, "key record without p=");
		return -1;
	}
	if ((*pp)->vallen == 0) {
		(void)snprintf(why, whylen, "key revoked");
		return -1;
	}
	return 0;
}

int
dkim_keyrec_parse(const char *txt, size_t len, struct dkim_keyrec *k,
    char *why, size_t whylen)
{
	struct dkim_tag		 tags[DKIM_TAGS_MAX];
	const struct dkim_tag	*p;
	unsigned char		*der;
	const char		*err;
	size_t			 ntags, derlen, i;
	int			 ret = -1;

	memset(k, 0, sizeof(*k));
	if (len > DKIM_KEYREC_MAX) {
		(void)snprintf(why, whylen, "key record over %d bytes",
		    DKIM_KEYREC_MAX);
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (txt[i] == '\0') {
			(void)snprintf(why, whylen, "NUL in key record");
			return -1;
		}
	}
	if (dkim_tags_parse(txt, len, tags, nitems(tags), &ntags,
	    &err) == -1) {
		(void)snprintf(why, whylen, "key record: %s", err);
		return -1;
	}
	if (keyrec_tags(tags, ntags, k, &p, why, whylen) == -1)
		return -1;
	if ((der = malloc(p->vallen)) == NULL)
		fatal("malloc");
	if (b64_decode(p->val, p->vallen, der, p->vallen, &derlen) == -1)
		(void)snprintf(why, whylen, "key p= is not base64");
	else if (k->type == DKIM_ED25519) {
		if (derlen == sizeof(k->ed)) {
			memcpy(k->ed, der, derlen);
			k->bits = 256;
			ret = 0;
		} else
			(void)snprintf(why, whylen, "Ed25519 key of %zu "
			    "bytes", derlen);
	} else
		ret = keyrec_rsa(der, derlen, k, why, whylen);
	free(der);
	return ret;
}

void
dkim_keyrec_clear(struct dkim_keyrec *k)
{
	EVP_PKEY_free(k->pkey);
	memset(k, 0, sizeof(*k));
}

static int
name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t	 i, n = alen < blen ? alen : blen;
	int	 c;

	for (i = 0; i < n; i++) {
		c = tolower((unsigned char)a[i]) - tolower((unsigned char)b[i]);
		if (c != 0)
			return c;
	}
	return alen < blen ? -1 : alen > blen;
}

static int
hidx_cmp(const void *a, const void *b)
{
	const struct hidx	*x = a, *y = b;
	int			 c;

	if ((c = name_cmp(x->name, x->len, y->name, y->len)) != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * The field h= entry j selects (RFC 6376 5.4.2): the k-th instance of
 * its name from the bottom, k the number of earlier entries with the
 * same name; NULL if there are not that many (an over-signed name).
 */
static const struct dkim_field *
hdr_pick(const struct dkim_verifier *v, const struct dkim_sig *sig,
    size_t j)
{
	const struct dkim_hname	*h = &sig->h[j];
	size_t			 k = 0, i, lo, hi, mid, end;

	for (i = 0; i < j; i++)
		if (name_cmp(sig->h[i].p, sig->h[i].len, h->p, h->len) == 0)
			k++;
	lo = 0;
	hi = v->norder;
	while (lo < hi) {		/* first entry not below the name */
		mid = lo + (hi - lo) / 2;
		if (name_cmp(v->order[mid].name, v->order[mid].len, h->p,
		    h->len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < v->norder && name_cmp(v->order[end].name,
	    v->order[end].len, h->p, h->len) == 0; end++)
		;
	if (k >= end - lo)
		return NULL;
	return &v->f[v->order[end - 1 - k].idx];
}

void
dkim_sig_self(const struct dkim_sig *sig, int canon, struct dkim_buf *out)
{
	const struct dkim_field	*f = sig->field;
	struct dkim_buf		 tmp;

	memset(&tmp, 0, sizeof(tmp));
	dkim_buf_add(&tmp, f->p, sig->boff);
	dkim_buf_add(&tmp, f->p + sig->boff + sig->bvlen,
	    f->len - sig->boff - sig->bvlen);
	if (dkim_canon_field(out, canon, tmp.p, tmp.len) == -1)
		fatalx("%s: no colon", __func__);
	out->len -= 2;			/* both forms end in CRLF */
	out->p[out->len] = '\0';
	free(tmp.p);
}

static void
header_digest(const struct dkim_verifier *v, const struct dkim_sig *sig,
    unsigned char *digest)
{
	const struct dkim_field	*f;
	struct dkim_buf		 b;
	EVP_MD_CTX		*ctx;
	size_t			 j;

	memset(&b, 0, sizeof(b));
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		fatalx("EVP_DigestInit_ex");
	for (j = 0; j < sig->nh; j++) {
		if ((f = hdr_pick(v, sig, j)) == NULL)
			continue;
		b.len = 0;
		if (dkim_canon_field(&b, sig->hcanon, f->p, f->len) == -1)
			fatalx("%s: field without colon", __func__);
		if (EVP_DigestUpdate(ctx, b.p, b.len) != 1)
			fatalx("EVP_DigestUpdate");
	}
	b.len = 0;
	dkim_sig_self(sig, sig->hcanon, &b);
	if (EVP_DigestUpdate(ctx, b.p, b.len) != 1 ||
	    EVP_DigestFinal_ex(ctx, digest, NULL) != 1)
		fatalx("EVP_DigestFinal_ex");
	EVP_MD_CTX_free(ctx);
	free(b.p);
}

/*
 * RSASSA-PKCS1-v1_5 over the SHA-256 digest, or Ed25519 over the digest
 * itself (RFC 8463 3).  1 if the signature is good.
 */
static int
verify_digest(const struct dkim_keyrec *k, const unsigned char *digest,
    const unsigned char *sig, size_t siglen)
{
	EVP_PKEY_CTX	*pc;
	int		 ok = 0;

	if (k->type == DKIM_ED25519)
		return siglen == crypto_sign_BYTES &&
		    crypto_sign_verify_detached(sig, digest, SHA256_LEN,
		    k->ed) == 0;
	if ((pc = EVP_PKEY_CTX_new(k->pkey, NULL)) == NULL)
		fatalx("EVP_PKEY_CTX_new");
	if (EVP_PKEY_verify_init(pc) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
	    EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1 &&
	    EVP_PKEY_verify(pc, sig, siglen, digest, SHA256_LEN) == 1)
		ok = 1;
	EVP_PKEY_CTX_free(pc);
	ERR_clear_error();
	return ok;
}

static void
stream_sink(void *arg, const void *p, size_t len)
{
	struct stream		*st = arg;
	struct dkim_verifier	*v = st->v;
	struct body		*b;
	size_t			 i, n;

	st->len += len;
	for (i = 0; i < v->nbodies; i++) {
		b = &v->bodies[i];
		if (b->canon != st->canon)
			continue;
		n = len;
		if (b->has_l) {
			if (b->fed >= b->l)
				continue;
			if (n > b->l - b->fed)
				n = (size_t)(b->l - b->fed);
		}
		if (EVP_DigestUpdate(b->ctx, p, n) != 1)
			fatalx("EVP_DigestUpdate");
		b->fed += n;
	}
}

static int
body_slot(struct dkim_verifier *v, const struct dkim_sig *sig)
{
	struct body	*b;
	size_t		 i;

	for (i = 0; i < v->nbodies; i++) {
		b = &v->bodies[i];
		if (b->canon == sig->bcanon && b->has_l == sig->has_l &&
		    (!b->has_l || b->l == sig->l))
			return (int)i;
	}
	if (v->nbodies == nitems(v->bodies))
		return -1;
	b = &v->bodies[v->nbodies];
	memset(b, 0, sizeof(*b));
	b->canon = sig->bcanon;
	b->has_l = sig->has_l;
	b->l = sig->l;
	if ((b->ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(b->ctx, EVP_sha256(), NULL) != 1)
		fatalx("EVP_DigestInit_ex");
	v->streams[sig->bcanon].used = 1;
	return (int)v->nbodies++;
}

static int
query_slot(struct dkim_verifier *v, const struct dkim_sig *sig)
{
	char	 name[DKIM_QNAME_MAX + 2];
	size_t	 i;
	int	 n;

	n = snprintf(name, sizeof(name), "%s._domainkey.%s", sig->s, sig->d);
	if (n < 0 || (size_t)n > DKIM_QNAME_MAX)
		return -2;
	for (i = 0; i < v->nq; i++)
		if (strcasecmp(v->q[i].name, name) == 0)
			return (int)i;
	if (v->nq == nitems(v->q))
		return -1;
	memset(&v->q[v->nq], 0, sizeof(v->q[v->nq]));
	if (strlcpy(v->q[v->nq].name, name, sizeof(v->q[v->nq].name)) >=
	    sizeof(v->q[v->nq].name))
		fatalx("%s: name", __func__);
	return (int)v->nq++;
}

void
dkim_verifier_want(struct dkim_verifier *v, struct dkim_sig *sig)
{
	if (sig->result != 0)
		return;
	if (sig->kind != DKIM_SIG_AS && (sig->body = body_slot(v, sig)) < 0) {
		setres(sig, DKIM_RES_PERMERROR, "too many body hash variants");
		return;
	}
	switch (sig->query = query_slot(v, sig)) {
	case -2:
		setres(sig, DKIM_RES_PERMERROR, "key name too long");
		break;
	case -1:
		setres(sig, DKIM_RES_PERMERROR, "too many key lookups");
		break;
	}
}

/* The key for sig, or NULL with the result set. */
static const struct dkim_keyrec *
sig_key(struct dkim_verifier *v, struct dkim_sig *sig)
{
	struct query	*q = &v->q[sig->query];

	if (!q->answered || q->status == DKIM_DNS_TEMPFAIL) {
		setres(sig, DKIM_RES_TEMPERROR, "key lookup failed");
		return NULL;
	}
	if (q->status == DKIM_DNS_NONE) {
		setres(sig, DKIM_RES_PERMERROR, "no key");
		return NULL;
	}
	sig->testing = q->key.testing;
	sig->bits = q->key.bits;
	if (q->bad) {
		setres(sig, DKIM_RES_PERMERROR, "%s", q->why);
		return NULL;
	}
	if (q->key.type != sig->alg) {
		setres(sig, DKIM_RES_PERMERROR, "key type does not match a=");
		return NULL;
	}
	return &q->key;
}

void
dkim_verifier_check_digest(struct dkim_verifier *v, struct dkim_sig *sig,
    const unsigned char *digest)
{
	const struct dkim_keyrec	*k;

	if (sig->result != 0 || (k = sig_key(v, sig)) == NULL)
		return;
	if (verify_digest(k, digest, sig->b, sig->blen))
		setres(sig, DKIM_RES_PASS, "ok");
	else
		setres(sig, DKIM_RES_FAIL, "signature did not verify");
}

void
dkim_verifier_check(struct dkim_verifier *v, struct dkim_sig *sig)
{
	const struct dkim_keyrec	*k;
	const struct body		*b;
	unsigned char			 digest[SHA256_LEN];
	const char			*at;

	if (sig->result != 0 || (k = sig_key(v, sig)) == NULL)
		return;
	if (k->strict && sig->kind == DKIM_SIG_DKIM) {
		/* RFC 6376 3.6.1 t=s: i= in d= itself, no subdomain. */
		at = strrchr(sig->auid, '@');
		if (at == NULL || strcasecmp(at + 1, sig->d) != 0) {
			setres(sig, DKIM_RES_PERMERROR, "key t=s and i= is "
			    "not in d= itself");
			return;
		}
	}
	b = &v->bodies[sig->body];
	if (b->has_l && b->l > v->streams[b->canon].len) {
		setres(sig, DKIM_RES_PERMERROR, "l= is beyond the body");
		return;
	}
	if (sig->bhlen != sizeof(b->hash) ||
	    memcmp(sig->bh, b->hash, sizeof(b->hash)) != 0) {
		setres(sig, DKIM_RES_FAIL, "body hash mismatch");
		return;
	}
	header_digest(v, sig, digest);
	dkim_verifier_check_digest(v, sig, digest);
}

struct dkim_verifier *
dkim_verifier_new(time_t now)
{
	struct dkim_verifier	*v;
	int			 i;

	if (sodium_init() < 0)
		fatalx("sodium_init");
	if ((v = calloc(1, sizeof(*v))) == NULL)
		fatal("calloc");
	v->now = now;
	dkim_hdrbuf_init(&v->hdr, DKIM_HEADER_MAX);
	for (i = 0; i < 2; i++) {
		v->streams[i].v = v;
		v->streams[i].canon = i;
		dkim_canon_init(&v->streams[i].c, i, stream_sink,
		    &v->streams[i]);
	}
	v->arcnone.result = ARC_RES_NONE;
	v->arcnone.oldest_pass = -1;
	return v;
}

/* The header block is complete: find the signatures, set up the hashes. */
static void
header_done(struct dkim_verifier *v)
{
	struct dkim_sig	*sig;
	size_t		 i;

	v->parsed = 1;
	if (v->hdr.toobig) {
		v->toobig = 1;
		return;
	}
	v->f = dkim_fields(v->hdr.buf.p, v->hdr.buf.len, &v->nf);
	if (v->nf > 0 && (v->order = calloc(v->nf, sizeof(*v->order))) ==
	    NULL)
		fatal("calloc");
	for (i = 0; i < v->nf; i++) {
		if (v->f[i].namelen == 0)
			continue;
		v->order[v->norder].name = v->f[i].p;
		v->order[v->norder].len = v->f[i].namelen;
		v->order[v->norder++].idx = i;
	}
	if (v->norder > 0)
		qsort(v->order, v->norder, sizeof(*v->order), hidx_cmp);
	for (i = 0; i < v->nf; i++) {
		if (!dkim_field_is(&v->f[i], "DKIM-Signature", 14))
			continue;
		if (v->allsigs++ >= DKIM_VERIFY_SIGS_MAX)
			continue;
		sig = &v->sigs[v->nsigs++];
		(void)dkim_sig_parse(sig, DKIM_SIG_DKIM, &v->f[i], v->now);
		dkim_verifier_want(v, sig);
	}
	v->arc = arc_chain_new(v, v->f, v->nf, v->now);
}

void
dkim_verifier_update(struct dkim_verifier *v, const void *data, size_t len)
{
	const unsigned char	*p = data;
	size_t			 used = 0;
	int			 i;

	if (v->ended || v->toobig)
		return;
	if (!v->parsed) {
		used = dkim_hdrbuf_feed(&v->hdr, p, len);
		if (v->hdr.inbody || v->hdr.toobig)
			header_done(v);
	}
	if (!v->parsed || v->toobig || used == len)
		return;
	for (i = 0; i < 2; i++)
		if (v->streams[i].used)
			dkim_canon_update(&v->streams[i].c, p + used,
			    len - used);
}

int
dkim_verifier_end(struct dkim_verifier *v, char *err, size_t errlen)
{
	size_t	 i;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (v->ended)
		return v->toobig ? -1 : 0;
	if (!v->parsed)
		header_done(v);		/* all header, no body */
	v->ended = 1;
	if (v->toobig) {
		if (err != NULL && errlen > 0)
			(void)snprintf(err, errlen, "header over %d bytes",
			    DKIM_HEADER_MAX);
		return -1;
	}
	for (i = 0; i < 2; i++)
		if (v->streams[i].used)
			dkim_canon_final(&v->streams[i].c);
	for (i = 0; i < v->nbodies; i++)
		if (EVP_DigestFinal_ex(v->bodies[i].ctx, v->bodies[i].hash,
		    NULL) != 1)
			fatalx("EVP_DigestFinal_ex");
	return 0;
}

size_t
dkim_verifier_nqueries(const struct dkim_verifier *v)
{
	return v->ended ? v->nq : 0;
}

const char *
dkim_verifier_query(const struct dkim_verifier *v, size_t i)
{
	return i < dkim_verifier_nqueries(v) ? v->q[i].name : NULL;
}

void
dkim_verifier_answer(struct dkim_verifier *v, size_t i, int status,
    const char *const *txt, size_t ntxt)
{
	struct query	*q;

	if (i >= dkim_verifier_nqueries(v) || v->finished)
		return;
	q = &v->q[i];
	dkim_keyrec_clear(&q->key);
	q->answered = 1;
	q->bad = 0;
	q->why[0] = '\0';
	q->status = status;
	if (status != DKIM_DNS_OK)
		return;
	if (ntxt == 0) {
		q->status = DKIM_DNS_NONE;
		return;
	}
	if (ntxt > 1) {
		/* RFC 6376 3.6.2.2: the result would be undefined. */
		q->bad = 1;
		(void)snprintf(q->why, sizeof(q->why), "several key records");
		return;
	}
	if (dkim_keyrec_parse(txt[0], strlen(txt[0]), &q->key, q->why,
	    sizeof(q->why)) == -1) {
		dkim_keyrec_clear(&q->key);
		q->bad = 1;
	}
}

static void
fill_result(struct dkim_result *r, const struct dkim_sig *sig)
{
	memset(r, 0, sizeof(*r));
	r->result = sig->result;
	r->alg = sig->alg;
	r->testing = sig->testing;
	r->has_l = sig->has_l;
	r->l = sig->l;
	r->bits = sig->bits;
	(void)strlcpy(r->d, sig->d, sizeof(r->d));
	(void)strlcpy(r->s, sig->s, sizeof(r->s));
	(void)strlcpy(r->i, sig->auid, sizeof(r->i));
	(void)strlcpy(r->a, sig->a, sizeof(r->a));
	(void)strlcpy(r->b, sig->bprefix, sizeof(r->b));
	(void)strlcpy(r->reason, sig->reason, sizeof(r->reason));
}

void
dkim_verifier_finish(struct dkim_verifier *v)
{
	size_t	 i;

	if (!v->ended || v->finished)
		return;
	v->finished = 1;
	if (v->toobig)
		return;
	for (i = 0; i < v->nsigs; i++) {
		dkim_verifier_check(v, &v->sigs[i]);
		fill_result(&v->res[i], &v->sigs[i]);
	}
	if (v->arc != NULL)
		arc_chain_eval(v->arc, v);
}

size_t
dkim_verifier_nresults(const struct dkim_verifier *v)
{
	return v->finished ? v->nsigs : 0;
}

const struct dkim_result *
dkim_verifier_result(const struct dkim_verifier *v, size_t i)
{
	return i < dkim_verifier_nresults(v) ? &v->res[i] : NULL;
}

size_t
dkim_verifier_nsigs(const struct dkim_verifier *v)
{
	return v->allsigs;
}

const struct arc_result *
dkim_verifier_arc(const struct dkim_verifier *v)
{
	if (!v->finished || v->arc == NULL)
		return &v->arcnone;
	return arc_chain_result(v->arc);
}

void
dkim_verifier_free(struct dkim_verifier *v)
{
	size_t	 i;

	if (v == NULL)
		return;
	for (i = 0; i < v->nsigs; i++)
		dkim_sig_free(&v->sigs[i]);
	for (i = 0; i < v->nq; i++)
		dkim_keyrec_clear(&v->q[i].key);
	for (i = 0; i < v->nbodies; i++)
		EVP_MD_CTX_free(v->bodies[i].ctx);
	arc_chain_free(v->arc);
	free(v->order);
	free(v->f);
	dkim_hdrbuf_free(&v->hdr);
	free(v);
}
