/*
 * DMARC (RFC 7489, with DMARCbis where it clarifies): the policy record,
 * the RFC5322.From domain, policy discovery and the result for a message.
 * No I/O: discovery asks its caller for DNS answers one step at a time,
 * and the SPF and DKIM results come in as plain values, so this module
 * needs neither the resolver nor the SPF and DKIM verifiers.
 *
 * Use:
 *	dmarc_from(hdr, hdrlen, &from);		   the From domain(s)
 *	dmarc_init(&d, psl, from.domains[0]);
 *	while ((q = dmarc_next(&d, &name)) != DMARC_Q_DONE)
 *		look name up (TXT, or A/AAAA/MX for DMARC_Q_EXISTS), then
 *		dmarc_answer(&d, status, records, n);
 *	dmarc_evaluate(&d, &auth, random() % 100, &res);
 * A From field naming several domains is evaluated once per domain and
 * dmarc_strictest() picks the result to report (RFC 7489 6.6.1).
 */
#ifndef MAILD_DMARC_H
#define MAILD_DMARC_H

#include <stddef.h>

#include "maild.h"

struct psl;

/* Results (RFC 8601 2.7.1 / RFC 7489 11.2). */
#define DMARC_NONE		0
#define DMARC_PASS		1
#define DMARC_FAIL		2
#define DMARC_TEMPERROR		3
#define DMARC_PERMERROR		4

/* Policies (p=, sp=, np=) and dispositions. */
#define DMARC_P_ABSENT		-1	/* sp= or np= not in the record */
#define DMARC_P_NONE		0
#define DMARC_P_QUARANTINE	1
#define DMARC_P_REJECT		2
#define DMARC_P_INVALID		3	/* present with a bad value */

/* DNS answer status given to dmarc_answer(). */
#define DMARC_DNS_OK		0	/* records (TXT) or the name exists */
#define DMARC_DNS_NONE		1	/* NXDOMAIN or no data */
#define DMARC_DNS_TEMPFAIL	2	/* SERVFAIL, timeout: try later */

/* Inputs: SPF and DKIM results as this module needs them. */
#define DMARC_AUTH_NONE		0	/* not checked, none, neutral... */
#define DMARC_AUTH_PASS		1
#define DMARC_AUTH_FAIL		2	/* fail, softfail, permerror */
#define DMARC_AUTH_TEMPERROR	3

/* Which identifier aligned (dmarc_result.aligned). */
#define DMARC_ALIGN_SPF		0x01
#define DMARC_ALIGN_DKIM	0x02

#define DMARC_FROM_MAX		8	/* distinct From domains kept */
#define DMARC_URI_MAX		512	/* bytes of rua= or ruf= kept */

/* dmarc_from() status. */
#define DMARC_FROM_OK		0	/* one domain (one or more addresses) */
#define DMARC_FROM_MULTI	1	/* several domains: evaluate each */
#define DMARC_FROM_ABSENT	2	/* no From field */
#define DMARC_FROM_DUPLICATE	3	/* more than one From field */
#define DMARC_FROM_SYNTAX	4	/* an address that does not parse */
#define DMARC_FROM_NODOMAIN	5	/* a domain literal, or no domain */

struct dmarc_from {
	int	 status;
	size_t	 naddrs;		/* addresses in the field */
	size_t	 ndomains;		/* distinct domains in domains[] */
	char	 domains[DMARC_FROM_MAX][DOMAIN_MAX + 1];
	const char *why;		/* static text for status != OK */
};

/*
 * The RFC5322.From domains of the header block hdr[0..len): exactly one
 * From field (RFC 5322 3.6) whose mailbox-list addresses all have a
 * domain (A-label form: psl_normalize).  Several addresses of one domain
 * are one domain (DMARCbis); up to DMARC_FROM_MAX different domains are
 * listed with DMARC_FROM_MULTI.  Returns from->status.
 */
int	dmarc_from(const char *hdr, size_t len, struct dmarc_from *from);
/*
 * The DMARC result for a message whose From could not be evaluated:
 * none without a From field (RFC 7489 6.6.1 leaves it out of scope),
 * permerror for two From fields, a bad address or no domain.
 */
int	dmarc_from_result(int status);

struct dmarc_record {
	int	 p, sp, np;		/* DMARC_P_*; np from DMARCbis */
	int	 adkim, aspf;		/* 'r' or 's' */
	int	 pct;			/* 0..100 */
	int	 testing;		/* t=y (DMARCbis) */
	long	 ri;			/* seconds */
	char	 fo[16];
	char	 rua[DMARC_URI_MAX], ruf[DMARC_URI_MAX];
	int	 rua_valid;		/* rua= holds a valid URI */
	int	 defaulted;		/* tags with bad values ignored */
};

/*
 * Parse one TXT record (its strings joined) of len bytes.  1 for a DMARC
 * record: "v=DMARC1" is its first tag (RFC 7489 6.3, 6.6.3 step 2);
 * unknown tags are ignored; a tag of adkim, aspf, pct, ri, fo, t with a
 * bad value keeps its default and counts in defaulted (RFC 7489 6.3:
 * "discarded in favor of default values"); segments without "=" are
 * ignored the same way; a repeated tag keeps its first value.  p, sp and
 * np keep DMARC_P_INVALID for dmarc_evaluate() to judge (6.6.3 step 6).
 * 0 when the record is not a DMARC record.
 */
int	dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *);

/* Discovery steps (dmarc_next). */
#define DMARC_Q_DONE		0
#define DMARC_Q_TXT		1	/* TXT records of *name */
#define DMARC_Q_EXISTS		2	/* does *name exist? (A, AAAA, MX) */

struct dmarc {
	const struct psl	*psl;
	int			 state;
	int			 result;	/* when discovery decided */
	const char		*why;
	char			 from[DOMAIN_MAX + 1];	/* normalised */
	char			 org[DOMAIN_MAX + 1];
	char			 qname[DOMAIN_MAX + 8];
	int			 at_org;	/* record found at org */
	int			 nonexistent;	/* From domain: NXDOMAIN */
	struct dmarc_record	 rec;
};

/* One TXT record, its character-strings joined. */
struct dmarc_txt {
	const char	*data;
	size_t		 len;
};

/*
 * Start the discovery for the From domain (as dmarc_from gave it).  The
 * PSL must outlive d.  An unusable domain ends discovery at once with
 * permerror.
 */
void	dmarc_init(struct dmarc *d, const struct psl *psl, const char *from);
/*
 * The next question: DMARC_Q_TXT for "_dmarc.<From domain>", then if
 * that has no DMARC record "_dmarc.<organisational domain>" (RFC 7489
 * 6.6.3); DMARC_Q_EXISTS for the From domain when the record came from
 * the organisational domain and has np= (DMARCbis: A, AAAA and MX all
 * NXDOMAIN or empty mean DMARC_DNS_NONE); DMARC_Q_DONE when done.  *name
 * stays valid until the next call on d.
 */
int	dmarc_next(struct dmarc *d, const char **name);
/* The answer to the question dmarc_next asked (records only for TXT). */
void	dmarc_answer(struct dmarc *d, int status, const struct dmarc_txt *,
	    size_t n);

struct dmarc_dkim {
	const char	*domain;	/* d= of one signature */
	int		 result;	/* DMARC_AUTH_* */
};

struct dmarc_auth {
	int			 spf;		/* DMARC_AUTH_* */
	const char		*spf_domain;	/* the domain SPF checked */
	const struct dmarc_dkim	*dkim;
	size_t			 ndkim;
};

struct dmarc_result {
	int	 result;		/* DMARC_NONE .. DMARC_PERMERROR */
	int	 policy;		/* DMARC_P_* the domain asks for */
	char	 policy_tag;		/* 'p', 's' (sp) or 'n' (np), 0 */
	int	 disposition;		/* DMARC_P_* to apply to this message */
	int	 sampled_out;		/* pct= or t=y lowered the policy */
	int	 aligned;		/* DMARC_ALIGN_* */
	int	 dkim_index;		/* first aligned signature, or -1 */
	int	 auth_temperror;	/* an SPF or DKIM input was temperror */
	int	 adkim, aspf;		/* modes used ('r', 's'), 0 */
	int	 pct;
	const char *why;		/* static text for a comment, or NULL */
	char	 from[DOMAIN_MAX + 1];
	char	 record_domain[DOMAIN_MAX + 1];	/* where the record was */
};

/*
 * The result once dmarc_next() said DMARC_Q_DONE.  Alignment: relaxed
 * compares organisational domains, strict the domains; SPF counts only
 * when it passed, DKIM each passing signature.  When the result is fail,
 * the disposition is the policy (p= for the domain of the record, sp= for
 * a subdomain of it, np= for a subdomain that does not exist), lowered
 * one step (reject to quarantine, quarantine to none) when rnd (taken
 * modulo 100) is not below pct= (RFC 7489 6.6.4) or t=y (DMARCbis);
 * otherwise it is none.
 */
void	dmarc_evaluate(const struct dmarc *d, const struct dmarc_auth *auth,
	    unsigned int rnd, struct dmarc_result *res);

/*
 * Of the results for the domains of one From field, the one to report:
 * the failing one with the strictest disposition (RFC 7489 6.6.1), else
 * temperror, permerror, pass, none in that order.  Its index.
 */
size_t	dmarc_strictest(const struct dmarc_result *, size_t n);

/* "none", "pass", ... and "none", "quarantine", "reject" for A-R. */
const char *dmarc_result_name(int);
const char *dmarc_policy_name(int);

#endif
