/*
 * DMARC (RFC 7489; DMARCbis where it clarifies): the RFC5322.From
 * domain of a header block, the policy record's tag list, policy
 * discovery as a small state machine that asks its caller for DNS
 * answers, identifier alignment and the policy to apply.
 *
 * Everything here reads hostile input (header fields, TXT records):
 * every copy is bounded and no loop runs longer than its input.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "compat.h"
#include "dmarc.h"
#include "maild.h"
#include "psl.h"

#define FROM_VALUE_MAX	8192	/* bytes of an unfolded From value */

/* Discovery states. */
#define S_FROM		0
#define S_ORG		1
#define S_EXISTS	2
#define S_DONE		3

#define EVALUATE	-1	/* d->result: a record to evaluate */

#define IS_WSP(c)	((c) == ' ' || (c) == '\t' || (c) == '\r' || \
			    (c) == '\n')

static int	 next_field(const char *, size_t, size_t *, size_t *,
		    size_t *, size_t *);
static int	 from_value(const char *, size_t, char *, size_t);
static int	 from_mailbox(struct dmarc_from *, const char *);
static int	 from_status(struct dmarc_from *, int, const char *);
static void	 trim(const char **, const char **);
static int	 word_is(const char *, const char *, const char *);
static int	 parse_policy(const char *, const char *);
static int	 parse_uris(const char *, const char *, char *, size_t);
static int	 parse_fo(const char *, const char *, char *, size_t);
static int	 parse_number(const char *, const char *, long, long *);
static void	 set_qname(struct dmarc *, const char *);
static int	 aligned(const struct dmarc *, const char *, int);
static int	 rank(const struct dmarc_result *);

/*
 * The header field starting at h[*pos]: *namelen bytes of name (white
 * space before the colon included), its raw value h[*vs..*ve) without
 * the final line break; *pos moves past it.  A line that is not a field
 * is skipped (namelen 0).  0 at the blank line or the end of h.
 */
static int
next_field(const char *h, size_t len, size_t *pos, size_t *namelen,
    size_t *vs, size_t *ve)
{
	const char	*nl;
	size_t		 p = *pos, e, next, i;

	if (p >= len || h[p] == '\n' ||
	    (h[p] == '\r' && p + 1 < len && h[p + 1] == '\n'))
		return 0;
	/* The field runs to a line break not followed by white space. */
	for (e = p;;) {
		if ((nl = memchr(h + e, '\n', len - e)) == NULL) {
			e = next = len;
			break;
		}
		next = nl - h + 1;
		if (next < len && (h[next] == ' ' || h[next] == '\t')) {
			e = next;
			continue;
		}
		e = nl - h;
		break;
	}
	if (e > p && h[e - 1] == '\r')
		e--;
	*pos = next;
	*namelen = 0;
	for (i = p; i < e && h[i] > ' ' && h[i] < 0x7f && h[i] != ':'; i++)
		;
	if (i == p)
		return 1;
	while (i < e && (h[i] == ' ' || h[i] == '\t'))
		i++;
	if (i >= e || h[i] != ':')
		return 1;
	*namelen = i - p;
	*vs = i + 1;
	*ve = e;
	return 1;
}

/* The value raw[0..len) unfolded into out; -1 if too long or NUL. */
static int
from_value(const char *raw, size_t len, char *out, size_t outlen)
{
	size_t	 i, o = 0;

	for (i = 0; i < len; i++) {
		if (raw[i] == '\r' || raw[i] == '\n')
			continue;
		if (raw[i] == '\0' || o + 1 >= outlen)
			return -1;
		out[o++] = raw[i];
	}
	out[o] = '\0';
	return 0;
}

static int
from_status(struct dmarc_from *f, int status, const char *why)
{
	f->status = status;
	f->why = why;
	return status;
}

/* One mailbox of the list; 0, or -1 with the status set. */
static int
from_mailbox(struct dmarc_from *f, const char *mb)
{
	struct mailaddr	 a;
	char		 dom[DOMAIN_MAX + 1];
	size_t		 i;

	if (addr_from_header(mb, &a, ADDR_ALLOW_UTF8) == -1) {
		if (strchr(mb, '@') == NULL) {
			(void)from_status(f, DMARC_FROM_NODOMAIN,
			    "From address without a domain");
			return -1;
		}
		(void)from_status(f, DMARC_FROM_SYNTAX,
		    "From address does not parse");
		return -1;
	}
	if (a.domain[0] == '[') {
		(void)from_status(f, DMARC_FROM_NODOMAIN,
		    "From domain is an address literal");
		return -1;
	}
	if (psl_normalize(a.domain, dom, sizeof(dom)) == -1) {
		(void)from_status(f, DMARC_FROM_SYNTAX, "bad From domain");
		return -1;
	}
	f->naddrs++;
	for (i = 0; i < f->ndomains; i++)
		if (strcmp(f->domains[i], dom) == 0)
			return 0;
	if (f->ndomains < DMARC_FROM_MAX)
		(void)strlcpy(f->domains[f->ndomains++], dom, sizeof(dom));
	return 0;
}

int
dmarc_from(const char *hdr, size_t len, struct dmarc_from *f)
{
	const char	*name;
	char		*v, *p, *start;
	size_t		 pos = 0, nl, vs = 0, ve = 0, fvs = 0, fve = 0;
	int		 nfrom = 0, depth = 0, quoted = 0, angle = 0;

	memset(f, 0, sizeof(*f));
	while (next_field(hdr, len, &pos, &nl, &vs, &ve)) {
		/* The name, then perhaps white space, ends at the colon. */
		name = hdr + vs - 1 - nl;
		if (nl < 4 || strncasecmp(name, "from", 4) != 0 ||
		    (nl > 4 && name[4] != ' ' && name[4] != '\t'))
			continue;
		if (++nfrom == 1) {
			fvs = vs;
			fve = ve;
		}
	}
	if (nfrom == 0)
		return from_status(f, DMARC_FROM_ABSENT, "no From field");
	if (nfrom > 1)
		return from_status(f, DMARC_FROM_DUPLICATE,
		    "more than one From field");
	if ((v = malloc(FROM_VALUE_MAX)) == NULL)
		return from_status(f, DMARC_FROM_SYNTAX, "out of memory");
	if (from_value(hdr + fvs, fve - fvs, v, FROM_VALUE_MAX) == -1) {
		free(v);
		return from_status(f, DMARC_FROM_SYNTAX,
		    "From field too long or with a NUL byte");
	}
	/* Split the mailbox-list at the commas outside "", () and <>. */
	for (p = start = v;; p++) {
		if (*p == '\\' && (quoted || depth > 0) && p[1] != '\0') {
			p++;
			continue;
		}
		if (quoted) {
			if (*p == '"')
				quoted = 0;
			else if (*p == '\0')
				break;
			continue;
		}
		if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		if (depth > 0 && *p != '\0')
			continue;
		if (*p == '"')
			quoted = 1;
		else if (*p == '<')
			angle = 1;
		else if (*p == '>')
			angle = 0;
		else if (*p == ':' && !angle) {
			free(v);
			return from_status(f, DMARC_FROM_SYNTAX,
			    "group syntax in From");
		} else if ((*p == ',' && !angle) || *p == '\0') {
			int	 end = *p == '\0';
			char	*q;

			*p = '\0';
			for (q = start; *q == ' ' || *q == '\t'; q++)
				;
			if (*q != '\0' && from_mailbox(f, start) == -1) {
				free(v);
				return f->status;
			}
			if (end)
				break;
			start = p + 1;
		}
	}
	free(v);
	if (quoted || depth > 0)
		return from_status(f, DMARC_FROM_SYNTAX,
		    "From field with an unterminated quote or comment");
	if (f->naddrs == 0)
		return from_status(f, DMARC_FROM_NODOMAIN,
		    "From field without an address");
	if (f->ndomains > 1)
		return from_status(f, DMARC_FROM_MULTI,
		    "From field with several domains");
	return from_status(f, DMARC_FROM_OK, NULL);
}

/* Strip white space from both ends of [*s, *e). */
static void
trim(const char **s, const char **e)
{
	while (*s < *e && IS_WSP(**s))
		(*s)++;
	while (*e > *s && IS_WSP((*e)[-1]))
		(*e)--;
}

/* [s, e) is the word w, ignoring case. */
static int
word_is(const char *s, const char *e, const char *w)
{
	size_t	 n = strlen(w);

	return (size_t)(e - s) == n && strncasecmp(s, w, n) == 0;
}

static int
parse_policy(const char *s, const char *e)
{
	if (word_is(s, e, "none"))
		return DMARC_P_NONE;
	if (word_is(s, e, "quarantine"))
		return DMARC_P_QUARANTINE;
	if (word_is(s, e, "reject"))
		return DMARC_P_REJECT;
	return DMARC_P_INVALID;
}

/*
 * rua=/ruf=: copy (truncated to outlen) and say whether one of the
 * comma-separated dmarc-uri (URI [ "!" size ]) is a valid URI: a scheme
 * (ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )), ':', then at least one
 * printable byte, none of them white space.
 */
static int
parse_uris(const char *s, const char *e, char *out, size_t outlen)
{
	const char	*u, *ue, *c;
	int		 valid = 0, good;
	size_t		 n = e - s;

	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, s, n);
	out[n] = '\0';
	for (u = s; u < e; u = ue + 1) {
		if ((ue = memchr(u, ',', e - u)) == NULL)
			ue = e;
		c = u;
		while (c < ue && IS_WSP(*c))
			c++;
		good = c < ue && ((*c >= 'a' && *c <= 'z') ||
		    (*c >= 'A' && *c <= 'Z'));
		for (; good && c < ue && *c != ':'; c++)
			good = (*c >= 'a' && *c <= 'z') || (*c >= 'A' &&
			    *c <= 'Z') || (*c >= '0' && *c <= '9') ||
			    *c == '+' || *c == '-' || *c == '.';
		if (!good || c >= ue || *c != ':')
			continue;
		for (c++, n = 0; c < ue && !IS_WSP(*c); c++, n++)
			if (*c <= ' ' || *c >= 0x7f)
				good = 0;
		while (c < ue && IS_WSP(*c))
			c++;
		if (good && n > 0 && c == ue)
			valid = 1;
	}
	return valid;
}

/* fo=: 0, 1, d, s separated by ':'; -1 if not. */
static int
parse_fo(const char *s, const char *e, char *out, size_t outlen)
{
	const char	*p;
	size_t		 o = 0;
	int		 want = 1;

	for (p = s; p < e; p++) {
		if (IS_WSP(*p))
			continue;
		if (want && strchr("01dsDS", *p) != NULL && *p != '\0') {
			want = 0;
		} else if (!want && *p == ':')
			want = 1;
		else
			return -1;
		if (o + 1 >= outlen)
			return -1;
		out[o++] = *p >= 'A' && *p <= 'Z' ? *p + 'a' - 'A' : *p;
	}
	if (want)
		return -1;
	out[o] = '\0';
	return 0;
}

/* 1*DIGIT up to max; 0, or -1. */
static int
parse_number(const char *s, const char *e, long max, long *vp)
{
	long	 v = 0;

	if (s == e)
		return -1;
	for (; s < e; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
		if (v > max)
			return -1;
	}
	*vp = v;
	return 0;
}

int
dmarc_from_result(int status)
{
	return status == DMARC_FROM_ABSENT ? DMARC_NONE : DMARC_PERMERROR;
}

int
dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *r)
{
	const char	*end = txt + len, *seg, *segend, *eq;
	const char	*ns, *ne, *vs, *ve;
	long		 n;
	int		 first = 1;
	unsigned int	 seen = 0, bit;
	size_t		 i;
	static const char *tags[] = {
		"p", "sp", "np", "adkim", "aspf", "pct", "ri", "fo", "rua",
		"ruf", "t",
	};

	memset(r, 0, sizeof(*r));
	r->p = r->sp = r->np = DMARC_P_ABSENT;
	r->adkim = r->aspf = 'r';
	r->pct = 100;
	r->ri = 86400;
	(void)strlcpy(r->fo, "0", sizeof(r->fo));
	for (seg = txt; seg <= end; seg = segend + 1) {
		if ((segend = memchr(seg, ';', end - seg)) == NULL)
			segend = end;
		if ((eq = memchr(seg, '=', segend - seg)) == NULL) {
			ns = seg;
			ne = segend;
			trim(&ns, &ne);
			if (first)
				return 0;
			if (ns != ne)
				r->defaulted++;
			if (segend == end)
				break;
			continue;
		}
		ns = seg;
		ne = eq;
		vs = eq + 1;
		ve = segend;
		trim(&ns, &ne);
		trim(&vs, &ve);
		if (first) {
			/* "DMARC1" in the ABNF is %x-coded: case matters. */
			if (!word_is(ns, ne, "v") || ve - vs != 6 ||
			    memcmp(vs, "DMARC1", 6) != 0)
				return 0;
			first = 0;
		} else {
			for (i = 0; i < nitems(tags); i++)
				if (word_is(ns, ne, tags[i]))
					break;
			bit = 1U << i;
			if (i == nitems(tags) || (seen & bit)) {
				if (segend == end)
					break;
				continue;	/* unknown or repeated */
			}
			seen |= bit;
			switch (i) {
			case 0:
				r->p = parse_policy(vs, ve);
				break;
			case 1:
				r->sp = parse_policy(vs, ve);
				break;
			case 2:
				r->np = parse_policy(vs, ve);
				break;
			case 3:
			case 4:
				if (word_is(vs, ve, "r") ||
				    word_is(vs, ve, "s"))
					*(i == 3 ? &r->adkim : &r->aspf) =
					    *vs | 0x20;
				else
					r->defaulted++;
				break;
			case 5:
				if (ve - vs <= 3 &&
				    parse_number(vs, ve, 100, &n) == 0)
					r->pct = n;
				else
					r->defaulted++;
				break;
			case 6:
				if (parse_number(vs, ve, 0x7fffffffL, &n) == 0)
					r->ri = n;
				else
					r->defaulted++;
				break;
			case 7:
				if (parse_fo(vs, ve, r->fo, sizeof(r->fo)) ==
				    -1) {
					(void)strlcpy(r->fo, "0",
					    sizeof(r->fo));
					r->defaulted++;
				}
				break;
			case 8:
				r->rua_valid = parse_uris(vs, ve, r->rua,
				    sizeof(r->rua));
				break;
			case 9:
				(void)parse_uris(vs, ve, r->ruf,
				    sizeof(r->ruf));
				break;
			case 10:
				if (word_is(vs, ve, "y"))
					r->testing = 1;
				else if (!word_is(vs, ve, "n"))
					r->defaulted++;
				break;
			}
		}
		if (segend == end)
			break;
	}
	return first ? 0 : 1;
}

static void
set_qname(struct dmarc *d, const char *domain)
{
	char	 q[sizeof(d->qname)];

	/* Too long for DNS: nothing can be published there. */
	if ((size_t)snprintf(q, sizeof(q), "_dmarc.%s", domain) >
	    PSL_NAME_MAX)
		d->qname[0] = '\0';
	else
		(void)strlcpy(d->qname, q, sizeof(d->qname));
}

void
dmarc_init(struct dmarc *d, const struct psl *psl, const char *from)
{
	memset(d, 0, sizeof(*d));
	d->psl = psl;
	d->result = EVALUATE;
	d->state = S_FROM;
	if (psl_normalize(from, d->from, sizeof(d->from)) == -1) {
		(void)strlcpy(d->from, from, sizeof(d->from));
		d->state = S_DONE;
		d->result = DMARC_PERMERROR;
		d->why = "bad From domain";
		return;
	}
	if (psl_org_domain(psl, d->from, d->org, sizeof(d->org)) == -1)
		(void)strlcpy(d->org, d->from, sizeof(d->org));
}

int
dmarc_next(struct dmarc *d, const char **name)
{
	for (;;) {
		switch (d->state) {
		case S_FROM:
		case S_ORG:
			set_qname(d, d->state == S_FROM ? d->from : d->org);
			if (d->qname[0] != '\0') {
				*name = d->qname;
				return DMARC_Q_TXT;
			}
			dmarc_answer(d, DMARC_DNS_NONE, NULL, 0);
			break;
		case S_EXISTS:
			(void)strlcpy(d->qname, d->from, sizeof(d->qname));
			*name = d->qname;
			return DMARC_Q_EXISTS;
		default:
			*name = NULL;
			return DMARC_Q_DONE;
		}
	}
}

void
dmarc_answer(struct dmarc *d, int status, const struct dmarc_txt *txt,
    size_t n)
{
	struct dmarc_record	 rec;
	size_t			 i, found = 0;

	if (d->state == S_EXISTS) {
		d->state = S_DONE;
		if (status == DMARC_DNS_TEMPFAIL) {
			d->result = DMARC_TEMPERROR;
			d->why = "DNS error looking up the From domain";
		} else
			d->nonexistent = status == DMARC_DNS_NONE;
		return;
	}
	if (d->state != S_FROM && d->state != S_ORG)
		return;
	if (status == DMARC_DNS_TEMPFAIL) {
		d->state = S_DONE;
		d->result = DMARC_TEMPERROR;
		d->why = "DNS error looking up the DMARC record";
		return;
	}
	for (i = 0; status == DMARC_DNS_OK && i < n; i++) {
		if (txt[i].data == NULL || dmarc_record_parse(txt[i].data,
		    txt[i].len, found == 0 ? &d->rec : &rec) != 1)
			continue;
		found++;
	}
	if (found > 1) {
		/* RFC 7489 6.6.3 step 5: no DMARC processing. */
		d->state = S_DONE;
		d->result = DMARC_NONE;
		d->why = "more than one DMARC record";
		return;
	}
	if (found == 0) {
		if (d->state == S_FROM && strcmp(d->from, d->org) != 0) {
			d->state = S_ORG;
			return;
		}
		d->state = S_DONE;
		d->result = DMARC_NONE;
		d->why = "no DMARC record";
		return;
	}
	d->at_org = d->state == S_ORG;
	d->state = d->at_org && d->rec.np != DMARC_P_ABSENT ? S_EXISTS :
	    S_DONE;
}

/* domain (d= or the SPF domain) aligns with the From domain in mode. */
static int
aligned(const struct dmarc *d, const char *domain, int mode)
{
	char	 dom[PSL_NAME_MAX + 1], org[PSL_NAME_MAX + 1];

	if (domain == NULL || psl_normalize(domain, dom, sizeof(dom)) == -1)
		return 0;
	if (mode == 's')
		return strcmp(dom, d->from) == 0;
	if (psl_org_domain(d->psl, dom, org, sizeof(org)) == -1)
		return 0;
	return strcmp(org, d->org) == 0;
}

void
dmarc_evaluate(const struct dmarc *d, const struct dmarc_auth *auth,
    unsigned int rnd, struct dmarc_result *res)
{
	struct dmarc_record	 rec = d->rec;
	size_t			 i;

	memset(res, 0, sizeof(*res));
	res->dkim_index = -1;
	res->policy = DMARC_P_ABSENT;
	res->disposition = DMARC_P_NONE;
	(void)strlcpy(res->from, d->from, sizeof(res->from));
	if (d->state != S_DONE) {
		res->result = DMARC_TEMPERROR;
		res->why = "policy discovery not finished";
		return;
	}
	if (d->result != EVALUATE) {
		res->result = d->result;
		res->why = d->why;
		return;
	}
	(void)strlcpy(res->record_domain, d->at_org ? d->org : d->from,
	    sizeof(res->record_domain));
	/* RFC 7489 6.6.3 step 6. */
	if (rec.p == DMARC_P_ABSENT || rec.p == DMARC_P_INVALID ||
	    rec.sp == DMARC_P_INVALID || rec.np == DMARC_P_INVALID) {
		if (!rec.rua_valid) {
			res->result = DMARC_PERMERROR;
			res->why = rec.p == DMARC_P_ABSENT ?
			    "DMARC record without p=" :
			    "DMARC record with a bad p=, sp= or np=";
			return;
		}
		rec.p = DMARC_P_NONE;
		rec.sp = rec.np = DMARC_P_ABSENT;
		res->why = "bad or no p=, sp= or np=, with rua=: p=none";
	}
	res->adkim = rec.adkim;
	res->aspf = rec.aspf;
	res->pct = rec.pct;
	res->policy = rec.p;
	res->policy_tag = 'p';
	if (d->at_org) {
		if (d->nonexistent && rec.np != DMARC_P_ABSENT) {
			res->policy = rec.np;
			res->policy_tag = 'n';
		} else if (rec.sp != DMARC_P_ABSENT) {
			res->policy = rec.sp;
			res->policy_tag = 's';
		}
	}
	if (auth->spf == DMARC_AUTH_TEMPERROR)
		res->auth_temperror = 1;
	if (auth->spf == DMARC_AUTH_PASS &&
	    aligned(d, auth->spf_domain, rec.aspf))
		res->aligned |= DMARC_ALIGN_SPF;
	for (i = 0; i < auth->ndkim; i++) {
		if (auth->dkim[i].result == DMARC_AUTH_TEMPERROR)
			res->auth_temperror = 1;
		if (auth->dkim[i].result != DMARC_AUTH_PASS ||
		    !aligned(d, auth->dkim[i].domain, rec.adkim))
			continue;
		if (res->dkim_index == -1)
			res->dkim_index = i;
		res->aligned |= DMARC_ALIGN_DKIM;
	}
	if (res->aligned) {
		res->result = DMARC_PASS;
		return;
	}
	res->result = DMARC_FAIL;
	res->disposition = res->policy;
	if (rec.testing || (unsigned int)rec.pct <= rnd % 100) {
		res->sampled_out = 1;
		if (res->disposition > DMARC_P_NONE)
			res->disposition--;
	}
}

static int
rank(const struct dmarc_result *r)
{
	switch (r->result) {
	case DMARC_FAIL:
		return 1000 + r->disposition * 10 + r->policy;
	case DMARC_TEMPERROR:
		return 400;
	case DMARC_PERMERROR:
		return 300;
	case DMARC_PASS:
		return 200;
	default:
		return 100;
	}
}

size_t
dmarc_strictest(const struct dmarc_result *r, size_t n)
{
	size_t	 i, best = 0;

	for (i = 1; i < n; i++)
		if (rank(&r[i]) > rank(&r[best]))
			best = i;
	return best;
}

const char *
dmarc_result_name(int r)
{
	static const char *names[] = {
		"none", "pass", "fail", "temperror", "permerror",
	};

	if (r < 0 || (size_t)r >= nitems(names))
		return "permerror";
	return names[r];
}

const char *
dmarc_policy_name(int p)
{
	static const char *names[] = { "none", "quarantine", "reject" };

	if (p < 0 || (size_t)p >= nitems(names))
		return NULL;
	return names[p];
}
