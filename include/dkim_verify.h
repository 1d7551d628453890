/*
 * DKIM verification (RFC 6376, RFC 8301, RFC 8463) and ARC chain
 * validation (RFC 8617 section 5.2) of one message, read once in chunks
 * as the spool holds it (CRLF line ends).  No I/O and no event loop: the
 * verifier says which DNS TXT records it needs and the caller hands the
 * answers back.
 *
 *	v = dkim_verifier_new(time(NULL));
 *	dkim_verifier_update(v, chunk, len);	(any number of times)
 *	dkim_verifier_end(v, err, sizeof(err));
 *	for (i = 0; i < dkim_verifier_nqueries(v); i++)
 *		dkim_verifier_answer(v, i, DKIM_DNS_OK, txt, ntxt);
 *			(TXT records of dkim_verifier_query(v, i))
 *	dkim_verifier_finish(v);
 *	for (i = 0; i < dkim_verifier_nresults(v); i++)
 *		r = dkim_verifier_result(v, i);
 *	arc = dkim_verifier_arc(v);
 *	dkim_verifier_free(v);
 *
 * One result per DKIM-Signature field, from the top of the header, for
 * the first DKIM_VERIFY_SIGS_MAX of them; dkim_verifier_nsigs() counts
 * them all.  Each body hash is computed once per (canonicalisation, l=)
 * pair, however many signatures share it, in the same pass.
 *
 * Results (RFC 8601 2.7.1): pass; fail (the body hash or the signature
 * does not match); permerror (a malformed signature or key record, no
 * key, a revoked key, rsa-sha1 or an RSA key under 1024 bits (RFC 8301),
 * a key whose h=, k=, s= or t=s refuses the signature, an expired
 * signature (x=) or one dated in the future (t=) beyond
 * DKIM_CLOCK_SKEW, h= without From, i= outside d=, l= beyond the body);
 * temperror (the key's DNS lookup failed or was not answered).  neutral
 * and policy are never set here; they are the caller's to use.
 */
#ifndef MAILD_DKIM_VERIFY_H
#define MAILD_DKIM_VERIFY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "arc.h"
#include "dkim.h"
#include "dkim_canon.h"

#define DKIM_VERIFY_SIGS_MAX	8	/* DKIM-Signature fields evaluated */
#define DKIM_VERIFY_QUERIES_MAX	24	/* distinct key names asked for */
#define DKIM_VERIFY_BODIES_MAX	16	/* distinct (canon, l=) body hashes */
#define DKIM_SIGFIELD_MAX	16384	/* bytes of one signature field */
#define DKIM_TAGS_MAX		64	/* tags in one tag list */
#define DKIM_HNAMES_MAX		256	/* entries of h= */
#define DKIM_KEYREC_MAX		8192	/* bytes of one key record */
#define DKIM_CLOCK_SKEW		300	/* seconds t= may be ahead, x= past */
#define DKIM_SIGBYTES_MAX	1024	/* RSA-8192 */
#define DKIM_BPREFIX		16	/* characters of b= reported */
#define DKIM_AUID_MAX		320	/* bytes of i= reported */
#define DKIM_REASON_MAX		96
#define DKIM_QNAME_MAX		253	/* selector._domainkey.domain */

/* Results, RFC 8601 2.7.1. */
#define DKIM_RES_PASS		1
#define DKIM_RES_FAIL		2
#define DKIM_RES_NEUTRAL	3
#define DKIM_RES_POLICY		4
#define DKIM_RES_TEMPERROR	5
#define DKIM_RES_PERMERROR	6

/* How a key lookup ended, for dkim_verifier_answer(). */
#define DKIM_DNS_OK		0	/* TXT records follow */
#define DKIM_DNS_NONE		1	/* NXDOMAIN or no TXT record */
#define DKIM_DNS_TEMPFAIL	2	/* timeout, SERVFAIL, ... */

struct dkim_verifier;

struct dkim_result {
	int			 result;	/* DKIM_RES_* */
	int			 alg;		/* DKIM_RSA, DKIM_ED25519, 0 */
	int			 testing;	/* the key says t=y */
	int			 has_l;		/* l= was used (only l bytes */
	uint64_t		 l;		/* of the body are signed) */
	unsigned int		 bits;		/* of the key, 0 unknown */
	/* Printable, safe to copy into a header; "" when unknown or odd. */
	char			 d[DKIM_NAME_MAX + 1];
	char			 s[DKIM_NAME_MAX + 1];
	char			 i[DKIM_AUID_MAX + 1];	/* "@d" when absent */
	char			 a[32];
	char			 b[DKIM_BPREFIX + 1];	/* RFC 6008 header.b */
	char			 reason[DKIM_REASON_MAX]; /* for comments */
};

struct dkim_verifier *dkim_verifier_new(time_t now);
void		 dkim_verifier_update(struct dkim_verifier *, const void *,
		    size_t);
/*
 * The whole message was fed: finish the body hashes and work out the
 * key names needed.  -1 with a reason when the header block is over
 * DKIM_HEADER_MAX bytes (nothing can be verified: no results, arc none).
 */
int		 dkim_verifier_end(struct dkim_verifier *, char *err,
		    size_t errlen);
/* The TXT names to look up, "selector._domainkey.domain", no final dot. */
size_t		 dkim_verifier_nqueries(const struct dkim_verifier *);
const char	*dkim_verifier_query(const struct dkim_verifier *, size_t);
/*
 * The answer to query idx: with DKIM_DNS_OK, the TXT records found, one
 * string per record (the character-strings of a record concatenated).
 * A query never answered counts as DKIM_DNS_TEMPFAIL.
 */
void		 dkim_verifier_answer(struct dkim_verifier *, size_t idx,
		    int status, const char *const *txt, size_t ntxt);
/* Check every signature and the ARC chain with the answers given. */
void		 dkim_verifier_finish(struct dkim_verifier *);
size_t		 dkim_verifier_nresults(const struct dkim_verifier *);
const struct dkim_result *dkim_verifier_result(const struct dkim_verifier *,
		    size_t);
/* DKIM-Signature fields in the message, evaluated or not. */
size_t		 dkim_verifier_nsigs(const struct dkim_verifier *);
const struct arc_result *dkim_verifier_arc(const struct dkim_verifier *);
void		 dkim_verifier_free(struct dkim_verifier *);
/* "pass", "fail", ..., "permerror"; "none" for anything else. */
const char	*dkim_result_name(int);

/*
 * For arc.c and the unit tests.
 *
 * A tag=value list (RFC 6376 3.2), parsed in place: names and values
 * point into the text; a value has its surrounding FWS cut and may hold
 * folding inside.  Offsets are from the start of the text.
 */
struct dkim_tag {
	const char	*name;
	size_t		 namelen;
	const char	*val;
	size_t		 vallen;
	size_t		 off;		/* of the value */
};
/* 0, or -1 with why (syntax, duplicate tag, over max tags). */
int		 dkim_tags_parse(const char *, size_t, struct dkim_tag *,
		    size_t max, size_t *ntags, const char **why);

/* A public key record (RFC 6376 3.6.1, RFC 8463). */
struct dkim_keyrec {
	int		 type;		/* DKIM_RSA, DKIM_ED25519 */
	int		 testing;	/* t=y */
	int		 strict;	/* t=s */
	unsigned int	 bits;
	void		*pkey;		/* EVP_PKEY, RSA */
	unsigned char	 ed[32];	/* Ed25519 */
};
/* 0, or -1 with why (bad syntax, revoked, RSA under 1024 bits, ...). */
int		 dkim_keyrec_parse(const char *, size_t, struct dkim_keyrec *,
		    char *why, size_t);
void		 dkim_keyrec_clear(struct dkim_keyrec *);

/* What a signature field is. */
#define DKIM_SIG_DKIM		0	/* DKIM-Signature */
#define DKIM_SIG_AMS		1	/* ARC-Message-Signature */
#define DKIM_SIG_AS		2	/* ARC-Seal */

struct dkim_hname {
	const char	*p;
	size_t		 len;
};

/* One parsed signature field of any kind. */
struct dkim_sig {
	int			 kind;
	const struct dkim_field	*field;
	int			 result;	/* DKIM_RES_*, 0 undecided */
	char			 reason[DKIM_REASON_MAX];
	int			 alg;
	int			 hcanon;
	int			 bcanon;
	char			 d[DKIM_NAME_MAX + 1];
	char			 s[DKIM_NAME_MAX + 1];
	char			 auid[DKIM_AUID_MAX + 1];
	char			 a[32];
	char			 bprefix[DKIM_BPREFIX + 1];
	int			 has_l;
	uint64_t		 l;
	int			 has_t;
	uint64_t		 t;
	int			 has_x;
	uint64_t		 x;
	int			 instance;	/* ARC i= */
	int			 cv;		/* ARC_CV_* */
	unsigned char		 bh[32];
	size_t			 bhlen;
	unsigned char		 b[DKIM_SIGBYTES_MAX];
	size_t			 blen;
	size_t			 boff;		/* b= value in the field */
	size_t			 bvlen;
	struct dkim_hname	*h;		/* h= names, malloc'd */
	size_t			 nh;
	int			 body;		/* body hash, -1 none */
	int			 query;		/* key query, -1 none */
	int			 testing;
	unsigned int		 bits;
};

/*
 * Parse a field as a signature of the given kind and check what needs
 * neither key nor body (tags, h= has From, i= in d=, times).  0, or -1
 * with result and reason set.  dkim_sig_free() in either case.
 */
int		 dkim_sig_parse(struct dkim_sig *, int kind,
		    const struct dkim_field *, time_t now);
void		 dkim_sig_free(struct dkim_sig *);
/* Ask for the signature's key and, but for an ARC-Seal, its body hash. */
void		 dkim_verifier_want(struct dkim_verifier *, struct dkim_sig *);
/*
 * Decide a DKIM-Signature or ARC-Message-Signature: its key, its body
 * hash, its header hash over the fields its h= names.
 */
void		 dkim_verifier_check(struct dkim_verifier *, struct dkim_sig *);
/*
 * Decide a signature whose header hash (SHA-256 of the canonical header
 * data) the caller computed: an ARC-Seal.
 */
void		 dkim_verifier_check_digest(struct dkim_verifier *,
		    struct dkim_sig *, const unsigned char *digest);
/*
 * Append the sig's own field with its b= value deleted (RFC 6376 3.7),
 * canonicalised, without its final CRLF.
 */
void		 dkim_sig_self(const struct dkim_sig *, int canon,
		    struct dkim_buf *);

#endif
