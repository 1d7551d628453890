/*
 * DNS answers (dns.c): what comes back from the network for an MX
 * lookup (the MX answer, then AAAA and A for each host), an FCrDNS
 * check (PTR, then A or AAAA for each name), a TXT lookup, and a
 * dns_query() (our own message parser), through the same handlers the
 * c-ares callback calls, without sending anything.  dns.c is included
 * so that its static handlers can be reached; for the first four the
 * parsing proper is c-ares's, what is ours is checking names, ordering
 * and bounding hosts and addresses, and gluing TXT strings.
 *
 * Input: byte 0 chooses the lookup (and the address family for FCrDNS),
 * then answers, each a status byte, a 16-bit length and that many
 * bytes of DNS message; a missing answer is a timeout.  For
 * dns_query() (byte 0 % 5 == 4) the record type is chosen by the
 * status byte's high nibble, and the name asked is "example.org".
 *
 * Properties: MX hosts are valid names, sorted by preference, at most
 * DNS_MAX_HOSTS with at most DNS_MAX_ADDRS addresses each; PTR names
 * are valid and distinct; TXT records hold no NUL and fit DNS_TXT_MAX;
 * the result agrees with what came in (null MX, temporary failure).
 * dns_query(): at most DNS_RR_MAX distinct records, their text inside
 * the answer's allocation and NUL-terminated, names printable without dots or
 * backslashes in labels, a status that agrees with the records, a TTL
 * within DNS_TTL_MAX; dns_rrset_dup() copies it whole.
 */
#include "../../src/lib/dns.c"

#include <stdint.h>

#include "fuzz.h"

int	LLVMFuzzerInitialize(int *, char ***);

struct answers {
	const uint8_t	*p, *end;
};

static const int statuses[] = {
	ARES_SUCCESS, ARES_SUCCESS, ARES_SUCCESS, ARES_SUCCESS,
	ARES_ENODATA, ARES_ENOTFOUND, ARES_ETIMEOUT, ARES_ESERVFAIL,
	ARES_EBADRESP, ARES_ECONNREFUSED
};

/* The next answer: its status and bytes (copied: ASan sees overreads). */
static int
next_answer(struct answers *a, unsigned char **abuf, int *alen)
{
	size_t	 n;
	int	 status;

	*abuf = NULL;
	*alen = 0;
	if (a->end - a->p < 3)
		return ARES_ETIMEOUT;
	status = statuses[a->p[0] % nitems(statuses)];
	n = a->p[1] * 256U + a->p[2];
	a->p += 3;
	if (n > (size_t)(a->end - a->p))
		n = a->end - a->p;
	if ((*abuf = malloc(n > 0 ? n : 1)) == NULL)
		fuzz_fail("malloc");
	memcpy(*abuf, a->p, n);
	a->p += n;
	*alen = (int)n;
	/* As req_answer() does. */
	if (status == ARES_SUCCESS && n == 0)
		status = ARES_EBADRESP;
	return status;
}

static void
name_ok(const char *name)
{
	char	 buf[DNS_NAME_MAX + 1];

	FUZZ_ASSERT(dns_name_valid(name, buf, sizeof(buf)));
	FUZZ_ASSERT(strcmp(buf, name) == 0);
}

static void
lookup_mx(struct answers *a)
{
	struct dns_req		*req;
	struct dns_query	 q;
	unsigned char		*abuf;
	size_t			 i, j, nhosts;
	int			 alen, status;

	req = req_new(REQ_MX, NULL);
	if ((req->hosts = calloc(DNS_MAX_HOSTS, sizeof(*req->hosts))) == NULL)
		fuzz_fail("calloc");
	(void)strlcpy(req->name, "example.org", sizeof(req->name));
	status = next_answer(a, &abuf, &alen);
	mx_parse(req, status, abuf, alen);
	free(abuf);
	FUZZ_ASSERT(req->nhosts <= DNS_MAX_HOSTS);
	for (i = 0; i < req->nhosts; i++) {
		name_ok(req->hosts[i].name);
		if (i > 0)
			FUZZ_ASSERT(req->hosts[i - 1].pref <=
			    req->hosts[i].pref);
		for (j = 0; j < i; j++)
			FUZZ_ASSERT(strcmp(req->hosts[i].name,
			    req->hosts[j].name) != 0);
	}
	nhosts = req->nhosts;
	if (req->nullmx)
		FUZZ_ASSERT(nhosts == 0);
	memset(&q, 0, sizeof(q));
	q.req = req;
	for (i = 0; i < nhosts; i++) {
		q.idx = i;
		q.type = ns_t_aaaa;
		status = next_answer(a, &abuf, &alen);
		mx_addr_answer(req, &q, status, abuf, alen);
		free(abuf);
		q.type = ns_t_a;
		status = next_answer(a, &abuf, &alen);
		mx_addr_answer(req, &q, status, abuf, alen);
		free(abuf);
		FUZZ_ASSERT(req->hosts[i].n4 <= DNS_MAX_ADDRS &&
		    req->hosts[i].n6 <= DNS_MAX_ADDRS);
	}
	mx_complete(req);
	if (req->nullmx)
		FUZZ_ASSERT(req->status == DNS_NULLMX);
	else if (req->nout > 0)
		FUZZ_ASSERT(req->status == DNS_OK);
	else
		FUZZ_ASSERT(req->status == (req->tempfail ? DNS_TEMPFAIL :
		    DNS_NXDOMAIN));
	FUZZ_ASSERT(req->nout <= nhosts);
	for (i = 0; i < req->nout; i++) {
		name_ok(req->out[i].name);
		FUZZ_ASSERT(req->out[i].naddr >= 1 &&
		    req->out[i].naddr <= DNS_MAX_ADDRS);
		if (i > 0)
			FUZZ_ASSERT(req->out[i - 1].pref <= req->out[i].pref);
		for (j = 0; j < req->out[i].naddr; j++)
			FUZZ_ASSERT(req->out[i].addr[j].ss_family == AF_INET ||
			    req->out[i].addr[j].ss_family == AF_INET6);
	}
	TAILQ_REMOVE(&reqs, req, entry);
	req_free(req);
}

static void
lookup_fcrdns(struct answers *a, int family)
{
	static const unsigned char	 v4[4] = { 192, 0, 2, 1 };
	static const unsigned char	 v6[16] = { 0x20, 0x01, 0x0d, 0xb8,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	struct dns_req		*req;
	struct dns_query	 q;
	unsigned char		*abuf;
	size_t			 i, j, nptr;
	int			 alen, status;

	req = req_new(REQ_FCRDNS, NULL);
	req->family = family;
	if (family == AF_INET) {
		memcpy(req->addr, v4, sizeof(v4));
		(void)strlcpy(req->name, "1.2.0.192.in-addr.arpa",
		    sizeof(req->name));
	} else {
		memcpy(req->addr, v6, sizeof(v6));
		(void)strlcpy(req->name, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
		    "0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
		    sizeof(req->name));
	}
	status = next_answer(a, &abuf, &alen);
	ptr_parse(req, status, abuf, alen);
	free(abuf);
	FUZZ_ASSERT(req->nptr <= DNS_MAX_PTR);
	for (i = 0; i < req->nptr; i++) {
		name_ok(req->ptr[i]);
		for (j = 0; j < i; j++)
			FUZZ_ASSERT(strcmp(req->ptr[i], req->ptr[j]) != 0);
	}
	nptr = req->nptr;
	memset(&q, 0, sizeof(q));
	q.req = req;
	q.type = family == AF_INET ? ns_t_a : ns_t_aaaa;
	for (i = 0; i < nptr && req->state == RS_RUNNING; i++) {
		q.idx = i;
		status = next_answer(a, &abuf, &alen);
		fwd_answer(req, &q, status, abuf, alen);
		free(abuf);
	}
	req_complete(req);
	if (req->fcrdns == FCRDNS_PASS)
		FUZZ_ASSERT(req->match >= 0 && (size_t)req->match < nptr &&
		    req->fcname == req->ptr[req->match]);
	else if (req->fcrdns == FCRDNS_NORDNS)
		FUZZ_ASSERT(nptr == 0);
	else if (req->fcrdns == FCRDNS_MISMATCH)
		FUZZ_ASSERT(nptr > 0 && !req->tempfail);
	else
		FUZZ_ASSERT(req->fcrdns == FCRDNS_TEMPFAIL && req->tempfail);
	TAILQ_REMOVE(&reqs, req, entry);
	req_free(req);
}

static void
lookup_txt(struct answers *a)
{
	struct dns_req	*req;
	unsigned char	*abuf;
	size_t		 i;
	int		 alen, status;

	req = req_new(REQ_TXT, NULL);
	(void)strlcpy(req->name, "example.org", sizeof(req->name));
	status = next_answer(a, &abuf, &alen);
	txt_answer(req, status, abuf, alen);
	free(abuf);
	req_complete(req);
	FUZZ_ASSERT(req->ntxt <= DNS_MAX_TXT);
	for (i = 0; i < req->ntxt; i++)
		FUZZ_ASSERT(strlen(req->txt[i]) <= DNS_TXT_MAX);
	if (req->ntxt > 0)
		FUZZ_ASSERT(req->status == DNS_OK);
	TAILQ_REMOVE(&reqs, req, entry);
	req_free(req);
}

static void
lookup_rr(struct answers *a)
{
	static const int	 types[] = { DNS_T_A, DNS_T_AAAA, DNS_T_MX,
	    DNS_T_PTR, DNS_T_TXT };
	struct dns_req		*req;
	struct dns_rrset	*rs, *copy;
	const struct dns_rr	*rr;
	unsigned char		*abuf;
	size_t			 i, j;
	int			 alen, status, type;

	if (a->p >= a->end)
		return;
	type = types[(a->p[0] >> 4) % nitems(types)];
	req = req_new(REQ_RR, NULL);
	req->rrtype = type;
	(void)strlcpy(req->name, "example.org", sizeof(req->name));
	status = next_answer(a, &abuf, &alen);
	rr_answer(req, status, abuf, alen);
	free(abuf);
	rs = req->rrset;
	FUZZ_ASSERT(rs != NULL && rs->type == type);
	FUZZ_ASSERT(rs->n <= DNS_RR_MAX && rs->ttl <= DNS_TTL_MAX);
	FUZZ_ASSERT((rs->status == DNS_OK) == (rs->n > 0));
	FUZZ_ASSERT(rs->status != DNS_TEMPFAIL || rs->ttl == 0);
	for (i = 0; i < rs->n; i++) {
		rr = &rs->rr[i];
		if (type == DNS_T_A || type == DNS_T_AAAA) {
			FUZZ_ASSERT(rr->text == NULL);
			continue;
		}
		FUZZ_ASSERT(rr->text >= (const char *)&rs->rr[rs->n] &&
		    rr->text + rr->len < (const char *)rs + rs->size &&
		    rr->text[rr->len] == '\0');
		if (type == DNS_T_TXT)
			continue;
		FUZZ_ASSERT(strlen(rr->text) == rr->len &&
		    rr->len <= DNS_NAME_MAX);
		for (j = 0; j < rr->len; j++)
			FUZZ_ASSERT(rr->text[j] >= 0x20 &&
			    rr->text[j] <= 0x7e && rr->text[j] != '\\');
		FUZZ_ASSERT(strstr(rr->text, "..") == NULL);
	}
	for (i = 0; i < rs->n; i++)
		for (j = 0; j < i; j++)
			FUZZ_ASSERT(rs->rr[i].pref != rs->rr[j].pref ||
			    rs->rr[i].len != rs->rr[j].len ||
			    memcmp(rs->rr[i].addr, rs->rr[j].addr, 16) != 0 ||
			    (rs->rr[i].text != NULL && memcmp(rs->rr[i].text,
			    rs->rr[j].text, rs->rr[i].len) != 0));
	copy = dns_rrset_dup(rs);
	FUZZ_ASSERT(copy->n == rs->n && copy->size == rs->size);
	for (i = 0; i < copy->n; i++)
		FUZZ_ASSERT(copy->rr[i].text == NULL ||
		    (copy->rr[i].text == (const char *)copy +
		    (rs->rr[i].text - (const char *)rs) &&
		    memcmp(copy->rr[i].text, rs->rr[i].text,
		    rs->rr[i].len + 1) == 0));
	free(copy);
	TAILQ_REMOVE(&reqs, req, entry);
	req_free(req);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* req_new() arms a timer: it needs a base, never run here. */
	if (event_init() == NULL)
		fuzz_fail("event_init");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct answers	 a;
	char		*s, name[DNS_NAME_MAX + 1];

	if (size < 1)
		return 0;
	a.p = data + 1;
	a.end = data + size;
	switch (data[0] % 5) {
	case 0:
		lookup_mx(&a);
		break;
	case 1:
		lookup_fcrdns(&a, AF_INET);
		break;
	case 2:
		lookup_fcrdns(&a, AF_INET6);
		break;
	case 3:
		lookup_txt(&a);
		break;
	case 4:
		lookup_rr(&a);
		break;
	}
	/* And the name check alone, on the whole input. */
	s = fuzz_strndup(data, size);
	if (dns_name_valid(s, name, sizeof(name)))
		name_ok(name);
	free(s);
	return 0;
}
