/*
 * SPF checks (spf.c, spf_parse.c) over answers the input makes up: the
 * records, their macros and terms, and whatever DNS gives back for the
 * lookups they cause, through spf_eval()'s restart protocol.
 *
 * Input: byte 0 holds flags (bit 0: an IPv6 client, bit 1: the HELO
 * check, bit 2: with spf_expire() after the fourth round); then chunks
 * separated by NUL bytes answer the queries in the order they are
 * asked (the first is the domain's TXT).  A chunk starting with '!' is
 * a temporary failure, with '-' or missing no record; else TXT records
 * are the chunk's parts between '|', A and AAAA the chunk's bytes 4 or
 * 16 at a time, MX and PTR names its parts between ' '.
 *
 * Properties: the check ends within SPF_MAX_QUERIES + 1 rounds; the
 * outcome is a result with its fields NUL-terminated, an explanation
 * only on fail, a problem exactly on errors, a mechanism never on
 * errors or none; the same outcome when each round's answers come in
 * the other order.  spf_record_check() and spf_expand() on the first
 * chunk: no crash, NUL-terminated output.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "fuzz.h"
#include "spf.h"

#define CHUNKS_MAX	(SPF_MAX_QUERIES + 1)

struct chunks {
	const uint8_t	*p[CHUNKS_MAX];
	size_t		 len[CHUNKS_MAX];
	size_t		 n;
	size_t		 next;
};

static struct dns_rrset *make(const uint8_t *, size_t, int);
static void	check(const struct spf_params *, struct chunks *, int, int,
		    struct spf_outcome *);

/* The answer of one chunk to a query of type. */
static struct dns_rrset *
make(const uint8_t *p, size_t len, int type)
{
	struct dns_rr		 rr[DNS_RR_MAX];
	struct dns_rrset	*rs;
	char			*text;
	size_t			 i, n = 0, start, step;

	if (p == NULL || len == 0 || p[0] == '-')
		return dns_rrset_make(type, DNS_NXDOMAIN, 300, NULL, 0);
	if (p[0] == '!')
		return dns_rrset_make(type, DNS_TEMPFAIL, 0, NULL, 0);
	memset(rr, 0, sizeof(rr));
	text = fuzz_strndup(p, len);
	if (type == DNS_T_A || type == DNS_T_AAAA) {
		step = type == DNS_T_A ? 4 : 16;
		for (i = 0; i + step <= len && n < DNS_RR_MAX; i += step)
			memcpy(rr[n++].addr, p + i, step);
	} else {
		/* Parts between the separators. */
		for (start = i = 0; i <= len && n < DNS_RR_MAX; i++) {
			if (i < len && p[i] != (type == DNS_T_TXT ? '|' : ' '))
				continue;
			rr[n].text = text + start;
			rr[n].len = i - start;
			rr[n].pref = n;
			n++;
			start = i + 1;
		}
	}
	rs = dns_rrset_make(type, n > 0 ? DNS_OK : DNS_NXDOMAIN, 300, rr, n);
	free(text);
	return rs;
}

static void
check(const struct spf_params *p, struct chunks *c, int reverse,
    int expire, struct spf_outcome *out)
{
	const struct spf_need	*needs;
	const struct spf_outcome *o;
	struct dns_rrset	*rs[SPF_MAX_NEEDS];
	struct spf		*spf;
	size_t			 i, k, n, rounds = 0;

	c->next = 0;
	spf = spf_new(p);
	while (spf_eval(spf) == SPF_NEED) {
		n = spf_needs(spf, &needs);
		FUZZ_ASSERT(n >= 1 && n <= SPF_MAX_NEEDS);
		FUZZ_ASSERT(++rounds <= SPF_MAX_QUERIES + 1);
		if (expire && rounds == 4) {
			spf_expire(spf);
			continue;
		}
		for (i = 0; i < n; i++) {
			k = c->next < c->n ? c->next++ : c->n;
			rs[i] = make(k < c->n ? c->p[k] : NULL,
			    k < c->n ? c->len[k] : 0, needs[i].type);
		}
		for (i = 0; i < n; i++) {
			k = reverse ? n - 1 - i : i;
			spf_answer(spf, needs[k].name, needs[k].type, rs[k]);
		}
		for (i = 0; i < n; i++)
			free(rs[i]);
	}
	o = spf_outcome(spf);
	FUZZ_ASSERT(o->result >= SPF_NONE && o->result <= SPF_PERMERROR);
	FUZZ_ASSERT(strnlen(o->domain, sizeof(o->domain)) <
	    sizeof(o->domain));
	FUZZ_ASSERT(strnlen(o->mechanism, sizeof(o->mechanism)) <
	    sizeof(o->mechanism));
	FUZZ_ASSERT(strnlen(o->explanation, sizeof(o->explanation)) <
	    sizeof(o->explanation));
	FUZZ_ASSERT(strnlen(o->problem, sizeof(o->problem)) <
	    sizeof(o->problem));
	FUZZ_ASSERT(o->explanation[0] == '\0' || o->result == SPF_FAIL);
	FUZZ_ASSERT((o->problem[0] != '\0') == (o->result == SPF_TEMPERROR ||
	    o->result == SPF_PERMERROR));
	FUZZ_ASSERT(o->mechanism[0] == '\0' || (o->result != SPF_NONE &&
	    o->result != SPF_TEMPERROR && o->result != SPF_PERMERROR));
	*out = *o;
	spf_free(spf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spf_params	 p;
	struct spf_outcome	 a, b;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	struct chunks		 c;
	struct spf		*spf;
	char			*first, why[SPF_PROBLEM_MAX], out[SPF_EXP_MAX];
	const uint8_t		*q, *end;
	int			 r;

	if (size < 1)
		return 0;
	memset(&c, 0, sizeof(c));
	for (q = data + 1, end = data + size; q <= end && c.n < CHUNKS_MAX;) {
		const uint8_t	*z = memchr(q, '\0', end - q);

		if (z == NULL)
			z = end;
		c.p[c.n] = q;
		c.len[c.n++] = z - q;
		q = z + 1;
	}
	memset(&p, 0, sizeof(p));
	if (data[0] & 1) {
		sin6 = (struct sockaddr_in6 *)&p.addr;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr.s6_addr[0] = 0x20;
		sin6->sin6_addr.s6_addr[1] = 0x01;
		sin6->sin6_addr.s6_addr[15] = 1;
	} else {
		sin = (struct sockaddr_in *)&p.addr;
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(0xc0000201);
	}
	p.helo = "mail.example.org";
	p.mailfrom = data[0] & 2 ? "" : "a-b.c@example.org";
	p.receiver = "rcpt.example.net";
	p.now = 1700000000;
	check(&p, &c, 0, data[0] & 4, &a);
	check(&p, &c, 1, data[0] & 4, &b);
	FUZZ_ASSERT(a.result == b.result &&
	    strcmp(a.explanation, b.explanation) == 0 &&
	    strcmp(a.mechanism, b.mechanism) == 0);

	first = fuzz_strndup(c.p[0], c.len[0]);
	r = spf_record_check(first, c.len[0], why, sizeof(why));
	FUZZ_ASSERT(r >= -1 && r <= 1 && strnlen(why, sizeof(why)) <
	    sizeof(why) && (r != -1 || why[0] != '\0'));
	spf = spf_new(&p);
	if (spf_expand(spf, "example.org", first, 1, out, sizeof(out)) == 1)
		FUZZ_ASSERT(strnlen(out, sizeof(out)) < sizeof(out));
	if (spf_expand(spf, "example.org", first, 0, out, sizeof(out)) == 1)
		FUZZ_ASSERT(strlen(out) <= DNS_NAME_MAX);
	spf_free(spf);
	free(first);
	return 0;
}
