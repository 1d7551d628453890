/*
 * DKIM verification and ARC validation (dkim_verify.c, arc.c): the input
 * is one control byte, a key record line, then a message.  The low two
 * bits of the control byte say how every key lookup is answered (the
 * record, NXDOMAIN, a DNS failure, no answer at all); the rest gives the
 * chunk size the message is fed in.  The key record answers every name
 * the verifier asks for.
 *
 * Properties: every result is one of the RFC 8601 results and has a
 * reason; ARC is none, pass or fail; the message fed whole and fed in
 * chunks gives the same results; no more lookups than the limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dkim_verify.h"
#include "fuzz.h"

#define NOW	1700000000

struct outcome {
	size_t		 n;
	int		 res[DKIM_VERIFY_SIGS_MAX];
	char		 why[DKIM_VERIFY_SIGS_MAX][DKIM_REASON_MAX];
	int		 arc;
	char		 arcwhy[96];
};

static void	 verify(const uint8_t *, size_t, size_t, int, const char *,
		    struct outcome *);

static void
verify(const uint8_t *msg, size_t len, size_t chunk, int mode,
    const char *txt, struct outcome *o)
{
	const struct dkim_result	*r;
	struct dkim_verifier		*v;
	const struct arc_result		*a;
	size_t				 pos, n, i;

	memset(o, 0, sizeof(*o));
	v = dkim_verifier_new(NOW);
	for (pos = 0; pos < len; pos += n) {
		n = len - pos < chunk ? len - pos : chunk;
		dkim_verifier_update(v, msg + pos, n);
	}
	if (dkim_verifier_end(v, NULL, 0) == 0) {
		FUZZ_ASSERT(dkim_verifier_nqueries(v) <=
		    DKIM_VERIFY_QUERIES_MAX);
		for (i = 0; i < dkim_verifier_nqueries(v); i++) {
			FUZZ_ASSERT(strlen(dkim_verifier_query(v, i)) <=
			    DKIM_QNAME_MAX);
			if (mode == 0)
				dkim_verifier_answer(v, i, DKIM_DNS_OK, &txt,
				    1);
			else if (mode < 3)
				dkim_verifier_answer(v, i, mode, NULL, 0);
		}
	}
	dkim_verifier_finish(v);
	o->n = dkim_verifier_nresults(v);
	FUZZ_ASSERT(o->n <= DKIM_VERIFY_SIGS_MAX);
	FUZZ_ASSERT(o->n <= dkim_verifier_nsigs(v));
	for (i = 0; i < o->n; i++) {
		r = dkim_verifier_result(v, i);
		FUZZ_ASSERT(r->result >= DKIM_RES_PASS &&
		    r->result <= DKIM_RES_PERMERROR);
		FUZZ_ASSERT(r->reason[0] != '\0');
		FUZZ_ASSERT(strchr(r->d, '"') == NULL &&
		    strchr(r->i, ';') == NULL);
		o->res[i] = r->result;
		memcpy(o->why[i], r->reason, sizeof(o->why[i]));
	}
	a = dkim_verifier_arc(v);
	FUZZ_ASSERT(a->result >= ARC_RES_NONE && a->result <= ARC_RES_FAIL);
	FUZZ_ASSERT(a->result == ARC_RES_PASS || a->oldest_pass == -1);
	o->arc = a->result;
	memcpy(o->arcwhy, a->reason, sizeof(o->arcwhy));
	dkim_verifier_free(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome	 whole, cut;
	const uint8_t	*p, *end, *line;
	size_t		 len, chunk;
	char		*txt;
	int		 mode;

	if (size < 1)
		return 0;
	mode = data[0] & 3;
	chunk = 1 + (data[0] >> 2);
	p = data + 1;
	end = data + size;
	if (!fuzz_line(&p, end, &line, &len))
		return 0;
	txt = fuzz_strndup(line, len);
	verify(p, end - p, end - p + 1, mode, txt, &whole);
	verify(p, end - p, chunk, mode, txt, &cut);
	if (memcmp(&whole, &cut, sizeof(whole)) != 0)
		fuzz_fail("the results depend on the chunks");
	free(txt);
	return 0;
}
