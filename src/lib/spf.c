/*
 * SPF check_host() (RFC 7208) as a pure evaluator: record selection, the
 * mechanisms, redirect= and exp=, the values of macro letters and the
 * processing limits (4.6.4); terms and macros are parsed by spf_parse.c.
 * No I/O: each spf_eval() runs the check from the start over the answers
 * received so far and stops at the first one it lacks, listing what it
 * needs (spf.h).  Records and answers are hostile: every size is
 * bounded, every count limited, and a run does work linear in what it
 * has been given.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "compat.h"
#include "dns.h"
#include "log.h"
#include "spf.h"
#include "spf_priv.h"

struct cached {
	char			 name[DNS_NAME_MAX + 1];
	int			 type;
	struct dns_rrset	*rs;
};

struct spf {
	int			 family;	/* 0: not an address */
	unsigned char		 ip[16];
	char			 local[SPF_TEXT_MAX + 1];
	char			 sdomain[SPF_TEXT_MAX + 1];	/* %{o} */
	char			 helo[SPF_TEXT_MAX + 1];
	char			 receiver[SPF_TEXT_MAX + 1];
	char			 top[DNS_NAME_MAX + 1];
	int			 topvalid;
	time_t			 now;

	struct cached		*cache;		/* grown as answers come */
	size_t			 ncache;
	size_t			 cachecap;
	int			 expired;

	/* The run: from the start of spf_eval() to its end. */
	int			 lookups;
	int			 voids;
	struct spf_need		 needs[SPF_MAX_NEEDS];
	size_t			 nneed;
	int			 pdone;
	int			 noteval;	/* the explanation's turn */
	char			 pvalid[SPF_MAX_NAMES][DNS_NAME_MAX + 1];
	size_t			 npvalid;
	const char		*mech;		/* what decided at the top */
	size_t			 mechlen;
	const char		*exp;		/* its record's exp= */
	size_t			 explen;
	char			 expd[DNS_NAME_MAX + 1];

	struct spf_outcome	 out;
	int			 done;
};

static int	 check_host(struct spf *, const char *, int, int);
static int	 record_select(struct spf *, const struct dns_rrset *,
		    const char *, const char **, size_t *);
static int	 mechanism(struct spf *, const struct spf_term *, const char *,
		    int);
static int	 mech_a(struct spf *, const struct spf_term *, const char *);
static int	 mech_lookup(struct spf *, const struct spf_term *,
		    const char *, char *, int, const char *, const char *,
		    const struct dns_rrset **);
static int	 mech_mx(struct spf *, const struct spf_term *, const char *);
static int	 mech_ptr(struct spf *, const struct spf_term *, const char *);
static int	 mech_include(struct spf *, const struct spf_term *,
		    const char *, int);
static int	 redirect(struct spf *, const struct spf_term *, const char *,
		    int, int);
static int	 explanation(struct spf *);
static int	 validated(struct spf *, char (*)[DNS_NAME_MAX + 1],
		    size_t *);
static int	 target(struct spf *, const struct spf_term *, const char *,
		    char *);
static int	 addr_match(const struct spf *, const unsigned char *, int);
static int	 lookup(struct spf *, const char *, int,
		    const struct dns_rrset **);
static int	 count_lookup(struct spf *, const char *);
static int	 void_lookup(struct spf *, const char *);
static int	 error(struct spf *, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static int	 name_clean(char *, size_t);
static void	 ip_dotted(const struct spf *, int, char *, size_t);
static void	 ip_pretty(const struct spf *, char *, size_t);
static void	 ip_reverse(const struct spf *, char *, size_t);
static int	 domain_initial(const char *, char *, size_t);
static int	 stop(int);
static int	 name_eq(const char *, const char *);
static int	 name_under(const char *, const char *);
static void	 copy_cut(char *, size_t, const char *, size_t);
static void	 printable(char *);

/* -- the check -- */

struct spf *
spf_new(const struct spf_params *p)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	struct spf			*spf;
	const char			*at, *from;

	if ((spf = calloc(1, sizeof(*spf))) == NULL)
		fatal("calloc");
	if (p->addr.ss_family == AF_INET) {
		sin = (const struct sockaddr_in *)&p->addr;
		spf->family = AF_INET;
		memcpy(spf->ip, &sin->sin_addr, 4);
	} else if (p->addr.ss_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)&p->addr;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			spf->family = AF_INET;
			memcpy(spf->ip, &sin6->sin6_addr.s6_addr[12], 4);
		} else {
			spf->family = AF_INET6;
			memcpy(spf->ip, &sin6->sin6_addr, 16);
		}
	}
	(void)strlcpy(spf->helo, p->helo != NULL ? p->helo : "",
	    sizeof(spf->helo));
	(void)strlcpy(spf->receiver, p->receiver != NULL ? p->receiver :
	    "unknown", sizeof(spf->receiver));
	/* 4.3: no local-part is "postmaster"; no MAIL FROM is the HELO. */
	from = p->mailfrom != NULL ? p->mailfrom : "";
	if (*from == '\0') {
		(void)strlcpy(spf->local, "postmaster", sizeof(spf->local));
		(void)strlcpy(spf->sdomain, spf->helo, sizeof(spf->sdomain));
	} else if ((at = strrchr(from, '@')) == NULL) {
		(void)strlcpy(spf->local, "postmaster", sizeof(spf->local));
		(void)strlcpy(spf->sdomain, from, sizeof(spf->sdomain));
	} else {
		if (at == from)
			(void)strlcpy(spf->local, "postmaster",
			    sizeof(spf->local));
		else
			copy_cut(spf->local, sizeof(spf->local), from,
			    at - from);
		(void)strlcpy(spf->sdomain, at + 1, sizeof(spf->sdomain));
	}
	spf->now = p->now != 0 ? p->now : time(NULL);
	spf->topvalid = domain_initial(spf->sdomain, spf->top,
	    sizeof(spf->top));
	(void)strlcpy(spf->out.domain, spf->topvalid ? spf->top :
	    spf->sdomain, sizeof(spf->out.domain));
	printable(spf->out.domain);
	return spf;
}

void
spf_free(struct spf *spf)
{
	size_t	 i;

	if (spf == NULL)
		return;
	for (i = 0; i < spf->ncache; i++)
		free(spf->cache[i].rs);
	free(spf->cache);
	free(spf);
}

enum spf_state
spf_eval(struct spf *spf)
{
	int	 r;

	if (spf->done)
		return SPF_DONE;
	spf->lookups = spf->voids = 0;
	spf->nneed = 0;
	spf->pdone = spf->noteval = 0;
	spf->mech = spf->exp = NULL;
	spf->mechlen = spf->explen = 0;
	spf->out.result = SPF_NONE;
	spf->out.mechanism[0] = spf->out.explanation[0] = '\0';
	spf->out.problem[0] = '\0';

	if (spf->family == 0)
		r = error(spf, SPF_PERMERROR, "the client is not an IP "
		    "address");
	else if (!spf->topvalid)
		r = SPF_NONE;	/* 4.3: a malformed domain */
	else
		r = check_host(spf, spf->top, 0, 1);
	if (r == SR_NEED)
		return SPF_NEED;
	spf->out.result = r;
	if (r == SPF_FAIL && spf->exp != NULL) {
		spf->noteval = 1;
		if (explanation(spf) == SR_NEED) {
			spf->out.result = SPF_NONE;
			return SPF_NEED;
		}
	}
	if (r != SPF_TEMPERROR && r != SPF_PERMERROR) {
		spf->out.problem[0] = '\0';
		if (spf->mech != NULL)
			copy_cut(spf->out.mechanism,
			    sizeof(spf->out.mechanism), spf->mech,
			    spf->mechlen);
	}
	spf->done = 1;
	return SPF_DONE;
}

size_t
spf_needs(const struct spf *spf, const struct spf_need **needs)
{
	*needs = spf->needs;
	return spf->nneed;
}

void
spf_answer(struct spf *spf, const char *name, int type,
    const struct dns_rrset *rs)
{
	char	 key[DNS_NAME_MAX + 1];
	size_t	 i;

	if (!dns_qname_valid(name, key, sizeof(key)) ||
	    spf->ncache >= SPF_MAX_QUERIES)
		return;
	for (i = 0; i < spf->ncache; i++)
		if (spf->cache[i].type == type &&
		    strcmp(spf->cache[i].name, key) == 0)
			return;
	if (i == spf->cachecap) {
		spf->cachecap += 16;
		if ((spf->cache = reallocarray(spf->cache, spf->cachecap,
		    sizeof(*spf->cache))) == NULL)
			fatal("reallocarray");
	}
	(void)strlcpy(spf->cache[i].name, key, sizeof(spf->cache[i].name));
	spf->cache[i].type = type;
	spf->cache[i].rs = dns_rrset_dup(rs);
	spf->cache[i].rs->type = type;
	spf->ncache++;
}

void
spf_expire(struct spf *spf)
{
	spf->expired = 1;
}

const struct spf_outcome *
spf_outcome(const struct spf *spf)
{
	return &spf->out;
}

const char *
spf_strresult(enum spf_result r)
{
	switch (r) {
	case SPF_NONE:
		return "none";
	case SPF_NEUTRAL:
		return "neutral";
	case SPF_PASS:
		return "pass";
	case SPF_FAIL:
		return "fail";
	case SPF_SOFTFAIL:
		return "softfail";
	case SPF_TEMPERROR:
		return "temperror";
	case SPF_PERMERROR:
		return "permerror";
	}
	return "?";
}

/*
 * check_host() of 4 for domain d: the result, an error, or SR_NEED.
 * top: this record decides the outcome's mechanism and explanation (the
 * first record and those it redirects to, not included ones).
 */
static int
check_host(struct spf *spf, const char *d, int depth, int top)
{
	const struct dns_rrset	*rs;
	struct spf_term		 t, redir, exp;
	const char		*rec, *s;
	size_t			 reclen = 0, pos, len;
	char			 why[SPF_PROBLEM_MAX];
	int			 r;

	if ((r = lookup(spf, d, DNS_T_TXT, &rs)) != SR_OK)
		return r;
	if (rs->status == DNS_TEMPFAIL)
		return error(spf, SPF_TEMPERROR, "%s: DNS error looking up "
		    "its TXT records", d);
	if (rs->status != DNS_OK) {
		if (depth > 0 && stop(r = void_lookup(spf, d)))
			return r;
		return SPF_NONE;
	}
	if ((r = record_select(spf, rs, d, &rec, &reclen)) != SR_OK)
		return r;
	if (spf_record_terms(rec, reclen, d, &redir, &exp, why,
	    sizeof(why)) == -1)
		return error(spf, SPF_PERMERROR, "%s", why);

	/* 4.6.2: the mechanisms in order, the first match decides. */
	pos = 6;
	while (spf_next_term(rec, reclen, &pos, &s, &len)) {
		if (spf_term_parse(s, len, &t, NULL, 0) == -1 ||
		    t.mod != MOD_NONE)
			continue;
		r = mechanism(spf, &t, d, depth);
		if (r == SR_NOMATCH)
			continue;
		if (r != SR_MATCH)
			return r;
		if (top) {
			spf->mech = t.text;
			spf->mechlen = t.len;
			spf->exp = exp.spec;
			spf->explen = exp.speclen;
			(void)strlcpy(spf->expd, d, sizeof(spf->expd));
		}
		return t.qual;
	}
	/* 6.1: redirect= only when no mechanism matched. */
	if (redir.spec != NULL)
		return redirect(spf, &redir, d, depth, top);
	if (top) {
		spf->mech = NULL;
		spf->exp = exp.spec;
		spf->explen = exp.speclen;
		(void)strlcpy(spf->expd, d, sizeof(spf->expd));
	}
	return SPF_NEUTRAL;
}

/*
 * 4.5: the one record starting with "v=spf1" and a space or its end:
 * SR_OK with it in *rec, SPF_NONE without, or an error.
 */
static int
record_select(struct spf *spf, const struct dns_rrset *rs, const char *d,
    const char **rec, size_t *reclen)
{
	size_t	 i, n = 0;

	*rec = NULL;
	for (i = 0; i < rs->n; i++) {
		if (rs->rr[i].len < 6 ||
		    strncasecmp(rs->rr[i].text, "v=spf1", 6) != 0 ||
		    (rs->rr[i].len > 6 && rs->rr[i].text[6] != ' '))
			continue;
		if (n++ == 0) {
			*rec = rs->rr[i].text;
			*reclen = rs->rr[i].len;
		}
	}
	if (n > 1)
		return error(spf, SPF_PERMERROR, "%s: %zu SPF records", d, n);
	/* One may be among those left out. */
	if (rs->dropped > 0)
		return error(spf, SPF_PERMERROR, "%s: TXT answer too large "
		    "or malformed", d);
	if (n == 0)
		return SPF_NONE;
	for (i = 0; i < *reclen; i++)
		if ((unsigned char)(*rec)[i] < 0x20 ||
		    (unsigned char)(*rec)[i] > 0x7e)
			return error(spf, SPF_PERMERROR, "%s: SPF record "
			    "with a byte 0x%02x", d, (unsigned char)(*rec)[i]);
	return SR_OK;
}

/* One mechanism of 5: SR_MATCH, SR_NOMATCH, an error or SR_NEED. */
static int
mechanism(struct spf *spf, const struct spf_term *t, const char *d, int depth)
{
	const struct dns_rrset	*rs;
	char			 name[DNS_NAME_MAX + 1];
	int			 r;

	switch (t->mech) {
	case M_ALL:
		return SR_MATCH;
	case M_IP4:
	case M_IP6:
		if (spf->family != (t->mech == M_IP4 ? AF_INET : AF_INET6))
			return SR_NOMATCH;
		return addr_match(spf, t->net, t->mech == M_IP4 ? t->cidr4 :
		    t->cidr6) ? SR_MATCH : SR_NOMATCH;
	case M_INCLUDE:
		return mech_include(spf, t, d, depth);
	case M_A:
		return mech_a(spf, t, d);
	case M_MX:
		return mech_mx(spf, t, d);
	case M_PTR:
		return mech_ptr(spf, t, d);
	case M_EXISTS:
		if ((r = mech_lookup(spf, t, d, name, DNS_T_A, "",
		    " (exists)", &rs)) != SR_OK)
			return r;
		return SR_MATCH;
	}
	return SR_NOMATCH;
}

static int
mech_include(struct spf *spf, const struct spf_term *t, const char *d,
    int depth)
{
	char	 name[DNS_NAME_MAX + 1];
	int	 r;

	if (stop(r = count_lookup(spf, d)))
		return r;
	if ((r = target(spf, t, d, name)) == SR_NEED || r >= 0)
		return r;
	if (r == SR_BAD)
		return error(spf, SPF_PERMERROR, "%s: include: not a domain "
		    "name after expansion", d);
	/* 5.2: the result of the recursive check. */
	switch ((r = check_host(spf, name, depth + 1, 0))) {
	case SPF_PASS:
		return SR_MATCH;
	case SPF_FAIL:
	case SPF_SOFTFAIL:
	case SPF_NEUTRAL:
		return SR_NOMATCH;
	case SPF_NONE:
		return error(spf, SPF_PERMERROR, "%s: include: no SPF record "
		    "at %s", d, name);
	}
	return r;
}

static int
redirect(struct spf *spf, const struct spf_term *t, const char *d, int depth,
    int top)
{
	char	 name[DNS_NAME_MAX + 1];
	int	 r;

	if (stop(r = count_lookup(spf, d)))
		return r;
	if ((r = target(spf, t, d, name)) == SR_NEED || r >= 0)
		return r;
	if (r == SR_BAD)
		return error(spf, SPF_PERMERROR, "%s: redirect: not a domain "
		    "name after expansion", d);
	/* 6.1: none is a permerror; the exp= of this record is dropped. */
	if ((r = check_host(spf, name, depth + 1, top)) == SPF_NONE)
		return error(spf, SPF_PERMERROR, "%s: redirect: no SPF "
		    "record at %s", d, name);
	return r;
}

/*
 * What exists, a and mx begin with: count the lookup, expand the target
 * into name and look it up as type.  SR_OK with *rsp holding records,
 * else what the mechanism returns: no valid name or no records is a
 * void lookup and no match, a DNS error a temperror ("DNS error looking
 * up <pre>name<post>").
 */
static int
mech_lookup(struct spf *spf, const struct spf_term *t, const char *d,
    char *name, int type, const char *pre, const char *post,
    const struct dns_rrset **rsp)
{
	int	 r;

	if (stop(r = count_lookup(spf, d)))
		return r;
	if ((r = target(spf, t, d, name)) == SR_NEED || r >= 0)
		return r;
	if (r == SR_BAD)
		return stop(r = void_lookup(spf, d)) ? r : SR_NOMATCH;
	if ((r = lookup(spf, name, type, rsp)) != SR_OK)
		return r;
	if ((*rsp)->status == DNS_TEMPFAIL)
		return error(spf, SPF_TEMPERROR, "%s: DNS error looking up "
		    "%s%s%s", d, pre, name, post);
	if ((*rsp)->status != DNS_OK)
		return stop(r = void_lookup(spf, d)) ? r : SR_NOMATCH;
	return SR_OK;
}

/* 5.3 */
static int
mech_a(struct spf *spf, const struct spf_term *t, const char *d)
{
	const struct dns_rrset	*rs;
	char			 name[DNS_NAME_MAX + 1];
	size_t			 i;
	int			 r, cidr;

	if ((r = mech_lookup(spf, t, d, name, spf->family == AF_INET ?
	    DNS_T_A : DNS_T_AAAA, "", "", &rs)) != SR_OK)
		return r;
	cidr = spf->family == AF_INET ? t->cidr4 : t->cidr6;
	for (i = 0; i < rs->n; i++)
		if (addr_match(spf, rs->rr[i].addr, cidr))
			return SR_MATCH;
	return SR_NOMATCH;
}

/*
 * 5.4: the addresses of every MX name (at most SPF_MAX_NAMES, else a
 * permerror, 4.6.4), all asked at once; errors and void lookups count
 * for every name before any address is compared.
 */
static int
mech_mx(struct spf *spf, const struct spf_term *t, const char *d)
{
	const struct dns_rrset	*rs, *hosts[SPF_MAX_NAMES];
	const struct dns_rr	*mx[SPF_MAX_NAMES], *tmp;
	char			 name[DNS_NAME_MAX + 1];
	char			 host[SPF_MAX_NAMES][DNS_NAME_MAX + 1];
	size_t			 i, j, n;
	int			 r, cidr, need = 0, valid[SPF_MAX_NAMES];

	if ((r = mech_lookup(spf, t, d, name, DNS_T_MX, "MX of ", "",
	    &rs)) != SR_OK)
		return r;
	if (rs->n + rs->dropped > SPF_MAX_NAMES)
		return error(spf, SPF_PERMERROR, "%s: more than %d MX names "
		    "for %s", d, SPF_MAX_NAMES, name);
	/* By preference, then name: the order does not change a match. */
	n = rs->n;
	for (i = 0; i < n; i++)
		mx[i] = &rs->rr[i];
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && (mx[j - 1]->pref > mx[j]->pref ||
		    (mx[j - 1]->pref == mx[j]->pref &&
		    strcmp(mx[j - 1]->text, mx[j]->text) > 0)); j--) {
			tmp = mx[j];
			mx[j] = mx[j - 1];
			mx[j - 1] = tmp;
		}
	for (i = 0; i < n; i++) {
		(void)strlcpy(host[i], mx[i]->text, sizeof(host[i]));
		valid[i] = name_clean(host[i], sizeof(host[i]));
		hosts[i] = NULL;
		if (!valid[i])
			continue;
		r = lookup(spf, host[i], spf->family == AF_INET ? DNS_T_A :
		    DNS_T_AAAA, &hosts[i]);
		if (r == SR_NEED)
			need = 1;
		else if (r != SR_OK)
			return r;
	}
	if (need)
		return SR_NEED;
	for (i = 0; i < n; i++) {
		if (valid[i] && hosts[i]->status == DNS_TEMPFAIL)
			return error(spf, SPF_TEMPERROR, "%s: DNS error "
			    "looking up %s (MX of %s)", d, host[i], name);
		if ((!valid[i] || hosts[i]->status != DNS_OK) &&
		    stop(r = void_lookup(spf, d)))
			return r;
	}
	cidr = spf->family == AF_INET ? t->cidr4 : t->cidr6;
	for (i = 0; i < n; i++)
		for (j = 0; valid[i] && j < hosts[i]->n; j++)
			if (addr_match(spf, hosts[i]->rr[j].addr, cidr))
				return SR_MATCH;
	return SR_NOMATCH;
}

/* 5.5: a validated name of the client that is the target or under it. */
static int
mech_ptr(struct spf *spf, const struct spf_term *t, const char *d)
{
	char	 names[SPF_MAX_NAMES][DNS_NAME_MAX + 1];
	char	 name[DNS_NAME_MAX + 1];
	size_t	 i, n;
	int	 r, bad;

	if (stop(r = count_lookup(spf, d)))
		return r;
	if ((r = target(spf, t, d, name)) == SR_NEED || r >= 0)
		return r;
	bad = r == SR_BAD;
	/* A DNS error on the PTR lookup: no match (5.5). */
	if ((r = validated(spf, names, &n)) == SR_DNSERR)
		return SR_NOMATCH;
	if (r != SR_OK)
		return r;
	for (i = 0; i < n && !bad; i++)
		if (name_under(names[i], name))
			return SR_MATCH;
	return SR_NOMATCH;
}

/*
 * The client's validated names (5.5), in the order of the PTR answer:
 * of its first SPF_MAX_NAMES PTR names, those with an address that is
 * the client's, all asked at once.  A DNS error on an address lookup
 * skips that name; on the PTR lookup it is SR_DNSERR.  Void lookups
 * count.
 */
static int
validated(struct spf *spf, char (*names)[DNS_NAME_MAX + 1], size_t *nnames)
{
	const struct dns_rrset	*rs, *addrs[SPF_MAX_NAMES];
	char			 rev[DNS_NAME_MAX + 1];
	char			 ptr[SPF_MAX_NAMES][DNS_NAME_MAX + 1];
	size_t			 i, j, n = 0;
	int			 r, need = 0, valid[SPF_MAX_NAMES];

	*nnames = 0;
	ip_reverse(spf, rev, sizeof(rev));
	if ((r = lookup(spf, rev, DNS_T_PTR, &rs)) != SR_OK)
		return r;
	if (rs->status == DNS_TEMPFAIL)
		return SR_DNSERR;
	if (rs->status != DNS_OK)
		return stop(r = void_lookup(spf, rev)) ? r : SR_OK;
	for (i = 0; i < rs->n && n < SPF_MAX_NAMES; i++) {
		(void)strlcpy(ptr[n], rs->rr[i].text, sizeof(ptr[n]));
		valid[n] = name_clean(ptr[n], sizeof(ptr[n]));
		addrs[n] = NULL;
		if (valid[n]) {
			r = lookup(spf, ptr[n], spf->family == AF_INET ?
			    DNS_T_A : DNS_T_AAAA, &addrs[n]);
			if (r == SR_NEED)
				need = 1;
			else if (r != SR_OK)
				return r;
		}
		n++;
	}
	if (need)
		return SR_NEED;
	for (i = 0; i < n; i++) {
		if (valid[i] && addrs[i]->status == DNS_TEMPFAIL)
			continue;
		if (!valid[i] || addrs[i]->status != DNS_OK) {
			if (stop(r = void_lookup(spf, rev)))
				return r;
			continue;
		}
		for (j = 0; j < addrs[i]->n; j++)
			if (addr_match(spf, addrs[i]->rr[j].addr,
			    spf->family == AF_INET ? 32 : 128))
				break;
		if (j < addrs[i]->n)
			(void)strlcpy(names[(*nnames)++], ptr[i],
			    sizeof(names[0]));
	}
	return SR_OK;
}

/*
 * 6.2: the explanation of a fail: the exp= domain's one TXT record,
 * expanded.  Any error leaves it out; SR_NEED, or SR_OK.
 */
static int
explanation(struct spf *spf)
{
	const struct dns_rrset	*rs;
	struct spf_term		 t;
	struct spf_sink		 sk;
	char			 name[DNS_NAME_MAX + 1];
	size_t			 tail;
	int			 r, endmacro;

	memset(&t, 0, sizeof(t));
	t.spec = spf->exp;
	t.speclen = spf->explen;
	if ((r = target(spf, &t, spf->expd, name)) == SR_NEED)
		return SR_NEED;
	if (r != SR_OK)
		return SR_OK;
	/* Not a lookup of the check: no limit, no void count (4.6.4). */
	if ((r = lookup(spf, name, DNS_T_TXT, &rs)) == SR_NEED)
		return SR_NEED;
	if (r != SR_OK || rs->status != DNS_OK || rs->n != 1 ||
	    rs->dropped > 0)
		return SR_OK;
	memset(&sk, 0, sizeof(sk));
	sk.buf = spf->out.explanation;
	sk.size = sizeof(spf->out.explanation);
	r = spf_macro_expand(spf, spf->expd, rs->rr[0].text, rs->rr[0].len,
	    X_TEXT, &sk, &tail, &endmacro);
	if (r == SR_NEED)
		return SR_NEED;
	if (r != SR_OK)
		sk.len = 0;
	spf->out.explanation[sk.len] = '\0';
	/* Macro values are the client's: printable only, for SMTP. */
	printable(spf->out.explanation);
	return SR_OK;
}

/*
 * The target name of a term: its domain-spec expanded (7.3), or d.
 * SR_OK with the name in out (DNS_NAME_MAX + 1), SR_BAD when it is no
 * DNS name, SR_NEED, or an error.
 */
static int
target(struct spf *spf, const struct spf_term *t, const char *d, char *out)
{
	struct spf_sink	 sk;
	char		 buf[SPF_EXPAND_MAX];
	const char	*p;
	size_t		 tail;
	int		 r, endmacro;

	if (t->spec == NULL) {
		(void)strlcpy(out, d, DNS_NAME_MAX + 1);
		return SR_OK;
	}
	memset(&sk, 0, sizeof(sk));
	sk.buf = buf;
	sk.size = sizeof(buf);
	r = spf_macro_expand(spf, d, t->spec, t->speclen, X_DOMAIN, &sk, &tail,
	    &endmacro);
	if (r != SR_OK)
		return r;
	if (sk.full)
		return SR_BAD;
	buf[sk.len] = '\0';
	/* The final dot is not part of the name. */
	if (sk.len > 0 && buf[sk.len - 1] == '.')
		buf[--sk.len] = '\0';
	/* 7.3: too long, drop labels on the left. */
	for (p = buf; strlen(p) > DNS_NAME_MAX; p++)
		if ((p = strchr(p, '.')) == NULL)
			return SR_BAD;
	if (strlcpy(out, p, DNS_NAME_MAX + 1) > DNS_NAME_MAX)
		return SR_BAD;
	return name_clean(out, DNS_NAME_MAX + 1) ? SR_OK : SR_BAD;
}

/* Whether addr (4 or 16 bytes, the client's family) is in its /cidr. */
static int
addr_match(const struct spf *spf, const unsigned char *addr, int cidr)
{
	int	 bytes = cidr / 8, bits = cidr % 8;

	if (memcmp(addr, spf->ip, bytes) != 0)
		return 0;
	if (bits == 0)
		return 1;
	return ((addr[bytes] ^ spf->ip[bytes]) & (0xff << (8 - bits))) == 0;
}

/*
 * The answer for (name, type): SR_OK with *rs, SR_NEED (and the query
 * listed), or a permerror when the check would pass SPF_MAX_QUERIES.
 * After spf_expire(), a lacking answer is a DNS error.
 */
static int
lookup(struct spf *spf, const char *name, int type,
    const struct dns_rrset **rs)
{
	static const struct dns_rrset	 expired = { .status = DNS_TEMPFAIL };
	char				 key[DNS_NAME_MAX + 1];
	size_t				 i;

	/* Names are checked before: this is a bug, not the network. */
	if (!dns_qname_valid(name, key, sizeof(key)))
		return error(spf, SPF_PERMERROR, "bad name to look up");
	for (i = 0; i < spf->ncache; i++)
		if (spf->cache[i].type == type &&
		    strcmp(spf->cache[i].name, key) == 0) {
			*rs = spf->cache[i].rs;
			return SR_OK;
		}
	if (spf->expired) {
		*rs = &expired;
		return SR_OK;
	}
	for (i = 0; i < spf->nneed; i++)
		if (spf->needs[i].type == type &&
		    strcmp(spf->needs[i].name, key) == 0)
			return SR_NEED;
	if (spf->ncache + spf->nneed >= SPF_MAX_QUERIES)
		return error(spf, SPF_PERMERROR, "more than %d DNS queries",
		    SPF_MAX_QUERIES);
	/* A full list: the next run asks for it. */
	if (spf->nneed < SPF_MAX_NEEDS) {
		(void)strlcpy(spf->needs[spf->nneed].name, key,
		    sizeof(spf->needs[0].name));
		spf->needs[spf->nneed++].type = type;
	}
	return SR_NEED;
}

/* 4.6.4: a term that looks up DNS. */
static int
count_lookup(struct spf *spf, const char *d)
{
	if (++spf->lookups > SPF_MAX_LOOKUPS)
		return error(spf, SPF_PERMERROR, "%s: more than %d DNS "
		    "lookups", d, SPF_MAX_LOOKUPS);
	return SR_OK;
}

/* 4.6.4: a lookup answering "no such name" or no records. */
static int
void_lookup(struct spf *spf, const char *d)
{
	/* exp= is not part of the evaluation (4.6.4). */
	if (spf->noteval)
		return SR_OK;
	if (++spf->voids > SPF_MAX_VOID)
		return error(spf, SPF_PERMERROR, "%s: more than %d void "
		    "lookups", d, SPF_MAX_VOID);
	return SR_OK;
}

/* The result r with the first problem of the run. */
static int
error(struct spf *spf, int r, const char *fmt, ...)
{
	va_list	 ap;

	if (spf->out.problem[0] == '\0') {
		va_start(ap, fmt);
		(void)vsnprintf(spf->out.problem, sizeof(spf->out.problem),
		    fmt, ap);
		va_end(ap);
	}
	return r;
}

int
spf_expand(struct spf *spf, const char *d, const char *s, int exp,
    char *out, size_t outsz)
{
	struct spf_sink	 sk;
	char		 buf[SPF_EXPAND_MAX];
	size_t		 tail;
	int		 r, endmacro;
	struct spf_term	 t;

	if (outsz == 0)
		return 0;
	spf->nneed = 0;
	if (!exp) {
		if (!spf_spec_valid(s, strlen(s)))
			return 0;
		memset(&t, 0, sizeof(t));
		t.spec = s;
		t.speclen = strlen(s);
		r = target(spf, &t, d, buf);
		if (r == SR_OK && strlcpy(out, buf, outsz) >= outsz)
			return 0;
		return r == SR_OK ? 1 : r == SR_NEED ? -1 : 0;
	}
	memset(&sk, 0, sizeof(sk));
	sk.buf = out;
	sk.size = outsz;
	r = spf_macro_expand(spf, d, s, strlen(s), X_TEXT, &sk, &tail,
	    &endmacro);
	if (r == SR_NEED)
		return -1;
	if (r != SR_OK || sk.full)
		return 0;
	out[sk.len] = '\0';
	return 1;
}

/* The value of a macro letter (7.3). */
int
spf_macro_value(struct spf *spf, int letter, const char *d, char *out,
    size_t outsz)
{
	size_t	 i;
	int	 r;

	switch (letter) {
	case 's':
		(void)snprintf(out, outsz, "%s@%s", spf->local, spf->sdomain);
		break;
	case 'l':
		(void)strlcpy(out, spf->local, outsz);
		break;
	case 'o':
		(void)strlcpy(out, spf->sdomain, outsz);
		break;
	case 'd':
		(void)strlcpy(out, d, outsz);
		break;
	case 'i':
		ip_dotted(spf, 0, out, outsz);
		break;
	case 'c':
		ip_pretty(spf, out, outsz);
		break;
	case 'v':
		(void)strlcpy(out, spf->family == AF_INET ? "in-addr" : "ip6",
		    outsz);
		break;
	case 'h':
		(void)strlcpy(out, spf->helo, outsz);
		break;
	case 'r':
		(void)strlcpy(out, spf->receiver, outsz);
		break;
	case 't':
		(void)snprintf(out, outsz, "%lld", (long long)spf->now);
		break;
	case 'p':
		/*
		 * The validated names once a run; d itself, else one under
		 * it, else the first; "unknown" without, or on DNS errors.
		 */
		if (!spf->pdone) {
			r = validated(spf, spf->pvalid, &spf->npvalid);
			if (r == SR_DNSERR)
				spf->npvalid = 0;
			else if (r != SR_OK)
				return r;
			spf->pdone = 1;
		}
		(void)strlcpy(out, "unknown", outsz);
		for (i = 0; i < spf->npvalid; i++)
			if (name_eq(spf->pvalid[i], d)) {
				(void)strlcpy(out, spf->pvalid[i], outsz);
				return SR_OK;
			}
		for (i = 0; i < spf->npvalid; i++)
			if (name_under(spf->pvalid[i], d)) {
				(void)strlcpy(out, spf->pvalid[i], outsz);
				return SR_OK;
			}
		if (spf->npvalid > 0)
			(void)strlcpy(out, spf->pvalid[0], outsz);
		break;
	}
	return SR_OK;
}

/*
 * A target name as dns_query() takes it (dns_qname_valid(), but its
 * case kept for %{d}); the final dot dropped.  1, or 0.
 */
static int
name_clean(char *name, size_t size)
{
	char	 key[DNS_NAME_MAX + 1];
	size_t	 len;

	if (!dns_qname_valid(name, key, sizeof(key)))
		return 0;
	len = strlen(name);
	if (len > 0 && name[len - 1] == '.')
		name[len - 1] = '\0';
	return strlen(name) < size;
}

/* -- addresses -- */

/* %{i}: dotted quad, or 32 nibbles (reversed for ip6.arpa). */
static void
ip_dotted(const struct spf *spf, int rev, char *out, size_t outsz)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, k, n = 0;

	if (spf->family == AF_INET) {
		if (rev)
			(void)snprintf(out, outsz, "%u.%u.%u.%u", spf->ip[3],
			    spf->ip[2], spf->ip[1], spf->ip[0]);
		else
			(void)snprintf(out, outsz, "%u.%u.%u.%u", spf->ip[0],
			    spf->ip[1], spf->ip[2], spf->ip[3]);
		return;
	}
	if (outsz < 64)
		fatalx("spf: ip_dotted");
	for (i = 0; i < 32; i++) {
		k = rev ? 31 - i : i;
		if (i > 0)
			out[n++] = '.';
		out[n++] = hex[k % 2 == 0 ? spf->ip[k / 2] >> 4 :
		    spf->ip[k / 2] & 0xf];
	}
	out[n] = '\0';
}

/* %{c}: IPv6 in the form of RFC 5952 (lowercase, the longest run of
 * two or more zero groups as "::", the first of equals). */
static void
ip_pretty(const struct spf *spf, char *out, size_t outsz)
{
	unsigned int	 g[8];
	size_t		 n = 0;
	int		 i, best = -1, bestlen = 0, run;

	if (spf->family == AF_INET) {
		ip_dotted(spf, 0, out, outsz);
		return;
	}
	for (i = 0; i < 8; i++)
		g[i] = spf->ip[2 * i] << 8 | spf->ip[2 * i + 1];
	for (i = 0; i < 8; i++) {
		for (run = 0; i + run < 8 && g[i + run] == 0; run++)
			;
		if (run > bestlen && run >= 2) {
			best = i;
			bestlen = run;
		}
	}
	out[0] = '\0';
	for (i = 0; i < 8; i++) {
		if (i == best) {
			n += snprintf(out + n, outsz - n, "::");
			i += bestlen - 1;
			continue;
		}
		n += snprintf(out + n, outsz - n, "%s%x",
		    n > 0 && out[n - 1] != ':' ? ":" : "", g[i]);
		if (n >= outsz)
			fatalx("spf: ip_pretty");
	}
}

static void
ip_reverse(const struct spf *spf, char *out, size_t outsz)
{
	char	 buf[64];

	ip_dotted(spf, 1, buf, sizeof(buf));
	(void)snprintf(out, outsz, "%s.%s", buf, spf->family == AF_INET ?
	    "in-addr.arpa" : "ip6.arpa");
}

/* -- names -- */

/*
 * 4.3: the domain checked must be a multi-label host name (letters,
 * digits, '-', '_'; labels of 1 to 63); copied without the final dot,
 * its case kept.  1, or 0: the result is none.
 */
static int
domain_initial(const char *in, char *out, size_t outsz)
{
	char	 key[DNS_NAME_MAX + 1];
	size_t	 len;

	if (!dns_name_valid(in, key, sizeof(key)) || strchr(key, '.') == NULL)
		return 0;
	len = strlen(in);
	if (in[len - 1] == '.')
		len--;
	copy_cut(out, outsz, in, len);
	return 1;
}

/* Whether a helper's code ends the run: a result, an error, SR_NEED. */
static int
stop(int r)
{
	return r >= 0 || r == SR_NEED;
}

static int
name_eq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

/* name is domain or a name under it. */
static int
name_under(const char *name, const char *domain)
{
	size_t	 n = strlen(name), d = strlen(domain);

	if (n == d)
		return strcasecmp(name, domain) == 0;
	return n > d && name[n - d - 1] == '.' &&
	    strcasecmp(name + n - d, domain) == 0;
}

/* At most len bytes of s into out, cut to fit. */
static void
copy_cut(char *out, size_t outsz, const char *s, size_t len)
{
	size_t	 n = strnlen(s, len);

	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

/* Bytes that are not printable ASCII (or a space) become '?'. */
static void
printable(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}
