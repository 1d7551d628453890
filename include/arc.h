/*
 * ARC chain validation (RFC 8617 section 5.2), verify only.  The DKIM
 * verifier (dkim_verify.h) runs it over the same header fields, body
 * hashes and key lookups as its DKIM signatures; callers read the
 * result through dkim_verifier_arc().
 *
 * none: no ARC header field at all.  fail: more than ARC_SETS_MAX sets,
 * an incomplete set, a gap or a duplicate in the instances, a seal whose
 * cv= is not none for i=1 and pass after it (the latest saying fail
 * included), a malformed field, or the latest ARC-Message-Signature or
 * any ARC-Seal not validating (a key not found or not answered too:
 * ARC has no temperror).  pass otherwise.
 */
#ifndef MAILD_ARC_H
#define MAILD_ARC_H

#include <stddef.h>
#include <time.h>

#include "dkim.h"

#define ARC_SETS_MAX		50	/* RFC 8617 5.2 step 1 */
#define ARC_AAR_MAX		65536	/* bytes of one AAR field */

#define ARC_RES_NONE		1
#define ARC_RES_PASS		2
#define ARC_RES_FAIL		3

/* cv= of an ARC-Seal */
#define ARC_CV_NONE		1
#define ARC_CV_PASS		2
#define ARC_CV_FAIL		3

struct arc_result {
	int		 result;	/* ARC_RES_* */
	int		 n;		/* sets (highest instance), 0 none */
	/*
	 * header.oldest-pass (RFC 8617 5.2 step 5): the lowest instance
	 * from which every later ARC-Message-Signature validates, 0 when
	 * all of them do; -1 unless the chain passed.
	 */
	int		 oldest_pass;
	char		 d[DKIM_NAME_MAX + 1];	/* the latest ARC-Seal's d= */
	char		 s[DKIM_NAME_MAX + 1];	/* and s= */
	char		 reason[96];
};

struct arc_chain;
struct dkim_field;
struct dkim_verifier;

/*
 * Collect the ARC sets of a header block (its fields, in order) and
 * check their structure; ask v for the keys and body hashes a valid
 * chain needs.
 */
struct arc_chain *arc_chain_new(struct dkim_verifier *v,
		    const struct dkim_field *, size_t nf, time_t now);
/* Validate with the answers v was given. */
void		 arc_chain_eval(struct arc_chain *, struct dkim_verifier *v);
const struct arc_result *arc_chain_result(const struct arc_chain *);
void		 arc_chain_free(struct arc_chain *);
/* "none", "pass", "fail" */
const char	*arc_result_name(int);

#endif
