/*
 * Checking one inbound message: the DKIM verifier and ARC (dkim_verify.h)
 * over the message as it streams by, DMARC (dmarc.h) for each domain of
 * its From field, with the SPF result its caller brings, and the policy
 * of mail.conf on top: the verdict and the Authentication-Results header
 * (authres.h).  No I/O: the caller answers the DNS questions.
 */
#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authres.h"
#include "config.h"
#include "dkim_verify.h"
#include "dmarc.h"
#include "dmarc_report.h"
#include "msgauth.h"
#include "psl.h"
#include "spf.h"

#define HDR_MAX		DKIM_HEADER_MAX	/* header block kept for From */

struct madmarc {
	struct dmarc		 d;
	int			 q;		/* DMARC_Q_* to answer */
	const char		*qname;
	int			 asked;
	struct dmarc_result	 res;
};

struct msgauth {
	struct msgauth_params	 p;
	char			*helo, *mailfrom, *authserv;
	struct dkim_verifier	*v;
	int			 ended;
	/* the header block, for the From field */
	char			*hdr;
	size_t			 hdrlen, hdrcap;
	int			 hdrdone;	/* its empty line was seen */
	int			 hdrstate;	/* of "\r\n\r\n" */
	int			 hdrover;
	/* DKIM key questions: asked and answered */
	size_t			 nq;
	unsigned char		*dkim_asked, *dkim_answered;
	/* SPF */
	int			 spf_done;
	struct spf_outcome	 so;
	enum spf_result		 spf;		/* so.result */
	const char		*spf_domain;	/* so.domain */
	/* DMARC: each domain of the From field */
	struct dmarc_from	 from;
	struct madmarc		 dm[DMARC_FROM_MAX];
	size_t			 ndm;
};

static void	ma_header(struct msgauth *, const unsigned char *, size_t);
static void	ma_dmarc_step(struct madmarc *);
static int	ma_dmarc_status(enum msgauth_dns);
static int	ma_spf_dmarc(enum spf_result);
static void	ma_clean(char *);
static int	ma_aligned(const struct msgauth *, const char *, const char *);
static int	ma_dkim_aligned(const struct msgauth *,
		    const struct dmarc_result *);
static void	ma_own(struct msgauth *, const struct dmarc_result *,
		    struct msgauth_verdict *);
static int	ma_render(struct msgauth *, const struct dmarc_result *,
		    struct msgauth_verdict *);
static void	ma_reply(struct msgauth_verdict *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));

struct msgauth *
msgauth_new(const struct msgauth_params *p)
{
	struct msgauth	*ma;

	if ((ma = calloc(1, sizeof(*ma))) == NULL)
		return NULL;
	ma->p = *p;
	if ((ma->helo = strdup(p->helo != NULL ? p->helo : "")) == NULL ||
	    (ma->mailfrom = strdup(p->mailfrom != NULL ? p->mailfrom : "")) ==
	    NULL || (ma->authserv = strdup(p->authserv_id)) == NULL ||
	    (ma->v = dkim_verifier_new(p->now)) == NULL) {
		msgauth_free(ma);
		return NULL;
	}
	ma->spf = SPF_NONE;
	ma->spf_domain = ma->so.domain;
	ma->p.helo = ma->helo;
	ma->p.mailfrom = ma->mailfrom;
	ma->p.authserv_id = ma->authserv;
	return ma;
}

void
msgauth_free(struct msgauth *ma)
{
	if (ma == NULL)
		return;
	dkim_verifier_free(ma->v);
	free(ma->helo);
	free(ma->mailfrom);
	free(ma->authserv);
	free(ma->hdr);
	free(ma->dkim_asked);
	free(ma->dkim_answered);
	free(ma);
}

void
msgauth_update(struct msgauth *ma, const void *buf, size_t len)
{
	if (ma->ended)
		return;
	dkim_verifier_update(ma->v, buf, len);
	if (!ma->hdrdone)
		ma_header(ma, buf, len);
}

/* Keep the header block, up to its empty line or HDR_MAX bytes. */
static void
ma_header(struct msgauth *ma, const unsigned char *p, size_t len)
{
	static const char	 end[] = "\r\n\r\n";
	size_t			 n, cap;
	char			*h;

	for (n = 0; n < len && !ma->hdrdone; n++) {
		if (p[n] == (unsigned char)end[ma->hdrstate])
			ma->hdrstate++;
		else
			ma->hdrstate = p[n] == '\r' ? 1 : 0;
		if (ma->hdrstate == 4 ||
		    (ma->hdrlen == 0 && n == 1 && p[0] == '\r' &&
		    p[1] == '\n'))
			ma->hdrdone = 1;
	}
	if (ma->hdrover)
		return;
	if (ma->hdrlen + n > HDR_MAX) {
		ma->hdrover = 1;
		return;
	}
	if (ma->hdrlen + n > ma->hdrcap) {
		cap = ma->hdrcap ? ma->hdrcap : 8192;
		while (cap < ma->hdrlen + n)
			cap *= 2;
		if ((h = realloc(ma->hdr, cap)) == NULL) {
			ma->hdrover = 1;
			return;
		}
		ma->hdr = h;
		ma->hdrcap = cap;
	}
	memcpy(ma->hdr + ma->hdrlen, p, n);
	ma->hdrlen += n;
}

void
msgauth_end(struct msgauth *ma)
{
	char	 err[128];
	size_t	 i, j;

	if (ma->ended)
		return;
	ma->ended = 1;
	if (dkim_verifier_end(ma->v, err, sizeof(err)) == -1)
		ma->nq = 0;
	else
		ma->nq = dkim_verifier_nqueries(ma->v);
	if (ma->nq > 0 && ((ma->dkim_asked = calloc(ma->nq, 1)) == NULL ||
	    (ma->dkim_answered = calloc(ma->nq, 1)) == NULL))
		ma->nq = 0;	/* unanswered keys: temperror */

	/* The From field: one DMARC check per domain (RFC 7489 6.6.1). */
	if (ma->hdrover)
		memset(&ma->from, 0, sizeof(ma->from)),
		ma->from.status = DMARC_FROM_SYNTAX;
	else
		(void)dmarc_from(ma->hdr != NULL ? ma->hdr : "", ma->hdrlen,
		    &ma->from);
	if (ma->from.status != DMARC_FROM_OK &&
	    ma->from.status != DMARC_FROM_MULTI)
		return;
	for (i = 0; i < ma->from.ndomains && i < DMARC_FROM_MAX; i++) {
		dmarc_init(&ma->dm[i].d, ma->p.psl, ma->from.domains[i]);
		ma_dmarc_step(&ma->dm[i]);
		ma->ndm++;
	}
	(void)j;
}

/* The next question of one domain's DMARC discovery. */
static void
ma_dmarc_step(struct madmarc *m)
{
	m->q = dmarc_next(&m->d, &m->qname);
	m->asked = 0;
}

const char *
msgauth_next(struct msgauth *ma, int *qtype)
{
	size_t	 i, j;

	for (i = 0; i < ma->nq; i++)
		if (!ma->dkim_asked[i]) {
			ma->dkim_asked[i] = 1;
			*qtype = MA_Q_TXT;
			return dkim_verifier_query(ma->v, i);
		}
	for (i = 0; i < ma->ndm; i++) {
		if (ma->dm[i].q == DMARC_Q_DONE || ma->dm[i].asked)
			continue;
		ma->dm[i].asked = 1;
		/* Two From domains may ask the same: one question. */
		for (j = 0; j < i; j++)
			if (ma->dm[j].q == ma->dm[i].q && ma->dm[j].asked &&
			    strcasecmp(ma->dm[j].qname, ma->dm[i].qname) == 0)
				break;
		if (j < i)
			continue;
		*qtype = ma->dm[i].q == DMARC_Q_TXT ? MA_Q_TXT : MA_Q_EXISTS;
		return ma->dm[i].qname;
	}
	return NULL;
}

static int
ma_dmarc_status(enum msgauth_dns st)
{
	return st == MSGAUTH_DNS_OK ? DMARC_DNS_OK :
	    st == MSGAUTH_DNS_NONE ? DMARC_DNS_NONE : DMARC_DNS_TEMPFAIL;
}

void
msgauth_answer(struct msgauth *ma, const char *name, int qtype,
    enum msgauth_dns st, const char *const *txt, size_t ntxt)
{
	struct dmarc_txt	 dt[MA_TXT_MAX];
	size_t			 i;

	if (st != MSGAUTH_DNS_OK || txt == NULL)
		ntxt = 0;
	if (ntxt > MA_TXT_MAX)
		ntxt = MA_TXT_MAX;
	for (i = 0; i < ntxt; i++) {
		dt[i].data = txt[i];
		dt[i].len = strlen(txt[i]);
	}
	for (i = 0; qtype == MA_Q_TXT && i < ma->nq; i++)
		if (ma->dkim_asked[i] && !ma->dkim_answered[i] &&
		    strcasecmp(dkim_verifier_query(ma->v, i), name) == 0) {
			ma->dkim_answered[i] = 1;
			dkim_verifier_answer(ma->v, i, st == MSGAUTH_DNS_OK ?
			    DKIM_DNS_OK : st == MSGAUTH_DNS_NONE ?
			    DKIM_DNS_NONE : DKIM_DNS_TEMPFAIL, txt, ntxt);
		}
	for (i = 0; i < ma->ndm; i++) {
		if (!ma->dm[i].asked || ma->dm[i].q == DMARC_Q_DONE ||
		    (ma->dm[i].q == DMARC_Q_TXT) != (qtype == MA_Q_TXT) ||
		    strcasecmp(ma->dm[i].qname, name) != 0)
			continue;
		dmarc_answer(&ma->dm[i].d, ma_dmarc_status(st), dt,
		    qtype == MA_Q_TXT ? ntxt : 0);
		ma_dmarc_step(&ma->dm[i]);
	}
}

void
msgauth_spf(struct msgauth *ma, const struct spf_outcome *o)
{
	ma->spf_done = 1;
	ma->so = *o;
	if (ma->so.result > SPF_PERMERROR)
		ma->so.result = SPF_TEMPERROR;
	/* From the DNS: into replies and headers only as printable text. */
	ma_clean(ma->so.domain);
	ma_clean(ma->so.mechanism);
	ma_clean(ma->so.explanation);
	ma_clean(ma->so.problem);
	ma->spf = ma->so.result;
	ma->spf_domain = ma->so.domain;
}

/* Printable ASCII only: anything else becomes '?'. */
static void
ma_clean(char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e)
			*s = '?';
}

int
msgauth_ready(const struct msgauth *ma)
{
	size_t	 i;

	if (!ma->ended || !ma->spf_done)
		return 0;
	for (i = 0; i < ma->nq; i++)
		if (!ma->dkim_answered[i])
			return 0;
	for (i = 0; i < ma->ndm; i++)
		if (ma->dm[i].q != DMARC_Q_DONE)
			return 0;
	return 1;
}

static int
ma_spf_dmarc(enum spf_result r)
{
	switch (r) {
	case SPF_PASS:
		return DMARC_AUTH_PASS;
	case SPF_FAIL:
	case SPF_SOFTFAIL:
	case SPF_PERMERROR:
		return DMARC_AUTH_FAIL;
	case SPF_TEMPERROR:
		return DMARC_AUTH_TEMPERROR;
	default:
		return DMARC_AUTH_NONE;
	}
}

/* The SMTP reply of a refusal, cut to its buffer. */
static void
ma_reply(struct msgauth_verdict *v, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(v->reply, sizeof(v->reply), fmt, ap);
	va_end(ap);
}

/* Relaxed alignment of two domains: the same organisational domain. */
static int
ma_aligned(const struct msgauth *ma, const char *a, const char *b)
{
	char	 oa[PSL_NAME_MAX + 1], ob[PSL_NAME_MAX + 1];
	int	 ra, rb;

	if (ma->p.psl == NULL)
		return strcasecmp(a, b) == 0;
	ra = psl_org_domain(ma->p.psl, a, oa, sizeof(oa));
	rb = psl_org_domain(ma->p.psl, b, ob, sizeof(ob));
	if (ra == -1 || rb == -1)
		return 0;
	return strcmp(oa, ob) == 0;
}

/* Does a passing DKIM signature align (relaxed) with the From domain? */
static int
ma_dkim_aligned(const struct msgauth *ma, const struct dmarc_result *r)
{
	const struct dkim_result	*k;
	size_t				 i;

	if (r == NULL || r->from[0] == '\0')
		return 0;
	for (i = 0; i < dkim_verifier_nresults(ma->v); i++) {
		k = dkim_verifier_result(ma->v, i);
		if (k->result == DKIM_RES_PASS && ma_aligned(ma, k->d, r->from))
			return 1;
	}
	return 0;
}

/*
 * "dmarc own-domains": mail From one of our domains that did not pass
 * DMARC is refused even when the domain publishes no record: nobody but
 * our users, who log in and are not checked, sends as us.  Without a
 * record DMARC says "none"; alignment is then worked out here, relaxed.
 */
static void
ma_own(struct msgauth *ma, const struct dmarc_result *r,
    struct msgauth_verdict *v)
{
	if (r->result == DMARC_PASS)
		return;
	if (r->result == DMARC_NONE) {
		if ((ma->spf == SPF_PASS && ma->spf_domain[0] != '\0' &&
		    ma_aligned(ma, ma->spf_domain, r->from)) ||
		    ma_dkim_aligned(ma, r))
			return;
	}
	if (r->result == DMARC_TEMPERROR) {
		v->action = MA_TEMPFAIL;
		ma_reply(v, "451 4.7.5 "
		    "Cannot check the DMARC policy of %s now, try again later",
		    r->from);
		return;
	}
	v->action = MA_REJECT;
	ma_reply(v, "550 5.7.1 Message From "
	    "%s, a domain of this server, is not authenticated (DMARC)",
	    r->from);
}

int
msgauth_verdict(struct msgauth *ma, struct msgauth_verdict *v)
{
	struct dmarc_dkim		 dd[DKIM_VERIFY_SIGS_MAX];
	struct dmarc_auth		 auth;
	const struct dkim_result	*k;
	const struct dmarc_result	*r = NULL;
	struct dmarc_result		 res[DMARC_FROM_MAX];
	size_t				 i, n;

	memset(v, 0, sizeof(*v));
	v->action = MA_ACCEPT;
	dkim_verifier_finish(ma->v);

	/* DMARC takes SPF of MAIL FROM, or HELO for a bounce (RFC 7489). */
	memset(&auth, 0, sizeof(auth));
	auth.spf = ma_spf_dmarc(ma->spf);
	auth.spf_domain = ma->spf_domain;
	n = dkim_verifier_nresults(ma->v);
	for (i = 0; i < n && i < DKIM_VERIFY_SIGS_MAX; i++) {
		k = dkim_verifier_result(ma->v, i);
		dd[i].domain = k->d;
		dd[i].result = k->result == DKIM_RES_PASS ? DMARC_AUTH_PASS :
		    k->result == DKIM_RES_TEMPERROR ? DMARC_AUTH_TEMPERROR :
		    DMARC_AUTH_FAIL;
	}
	auth.dkim = dd;
	auth.ndkim = i;
	for (i = 0; i < ma->ndm; i++) {
		dmarc_evaluate(&ma->dm[i].d, &auth, ma->p.pct_roll, &res[i]);
		ma->dm[i].res = res[i];
	}
	if (ma->ndm > 0)
		r = &res[dmarc_strictest(res, ma->ndm)];
	v->spf_pass = ma->spf == SPF_PASS;
	for (i = 0; i < auth.ndkim; i++)
		if (dd[i].result == DMARC_AUTH_PASS)
			v->dkim_pass = 1;
	v->dmarc_pass = r != NULL && r->result == DMARC_PASS;
	v->dmarc_fail = r != NULL && r->result == DMARC_FAIL;
	v->report = !ma->hdrover && ma->hdr != NULL &&
	    dmarc_report_is(ma->hdr, ma->hdrlen);

	/*
	 * The policy: DMARC's where there is one, else SPF's.  A failure
	 * that a DNS failure of SPF or DKIM may have caused is not final.
	 */
	if (r != NULL && ma->p.dmarc_enforce && r->result == DMARC_FAIL &&
	    r->disposition != DMARC_P_NONE && r->auth_temperror) {
		v->action = MA_TEMPFAIL;
		ma_reply(v, "451 4.7.5 "
		    "Cannot authenticate the mail of %s now, try again later",
		    r->from);
	} else if (r != NULL && ma->p.dmarc_enforce &&
	    r->result == DMARC_FAIL && r->disposition == DMARC_P_REJECT) {
		v->action = MA_REJECT;
		ma_reply(v, "550 5.7.1 "
		    "Message rejected by the DMARC policy of %s", r->from);
	} else if (r != NULL && ma->p.dmarc_enforce &&
	    r->result == DMARC_FAIL && r->disposition == DMARC_P_QUARANTINE)
		v->action = MA_JUNK;
	else if (r != NULL && ma->p.dmarc_enforce &&
	    r->result == DMARC_TEMPERROR) {
		v->action = MA_TEMPFAIL;
		ma_reply(v, "451 4.7.5 "
		    "Cannot check the DMARC policy of %s now, try again later",
		    r->from);
	} else if ((r == NULL || r->result == DMARC_NONE) &&
	    ma->spf == SPF_FAIL && !ma_dkim_aligned(ma, r)) {
		/*
		 * SPF fail and no DMARC policy: the setting's action, but
		 * not against a good signature of the From domain (mail
		 * forwarded on to us fails SPF and keeps that).
		 */
		if (ma->p.spf_fail_action == AUTH_ACT_REJECT) {
			v->action = MA_REJECT;
			ma_reply(v, "550 "
			    "5.7.23 SPF of %s does not allow this sender%s%s",
			    ma->spf_domain, ma->so.explanation[0] ? ": " : "",
			    ma->so.explanation);
		} else if (ma->p.spf_fail_action == AUTH_ACT_JUNK)
			v->action = MA_JUNK;
	}
	/*
	 * Two From fields: DMARC cannot say whose policy applies, and a
	 * reader shows one of them, maybe not the one a signature covers
	 * (RFC 7489 6.6.1: reject).  RFC 5322 3.6 allows one.
	 */
	if (ma->p.dmarc_enforce && ma->from.status == DMARC_FROM_DUPLICATE) {
		v->action = MA_REJECT;
		ma_reply(v, "550 5.7.1 Message has more than one From header "
		    "field (RFC 5322 3.6)");
	}
	/* Our own domains: stricter than any policy they publish. */
	if (ma->p.dmarc_own && ma->p.own_domain != NULL &&
	    v->action != MA_REJECT)
		for (i = 0; i < ma->ndm; i++)
			if (ma->p.own_domain(res[i].from, ma->p.own_arg))
				ma_own(ma, &res[i], v);
	if (ma_render(ma, r, v) == -1)
		return -1;
	return 0;
}

/* The Authentication-Results field and the log line of the verdict. */
static int
ma_render(struct msgauth *ma, const struct dmarc_result *r,
    struct msgauth_verdict *v)
{
	static const char *const acts[] = { "accept", "junk", "reject",
	    "defer" };
	struct authres			 ar;
	struct authres_dkim		 ad[DKIM_VERIFY_SIGS_MAX];
	const struct dkim_result	*k;
	const struct arc_result		*arc;
	char				 cm[DKIM_VERIFY_SIGS_MAX][128];
	char				 dk[256];
	const char			*why, *dmarc_none = "none";
	size_t				 i, n, len, o = 0;

	authres_init(&ar, ma->authserv, 0);
	(void)authres_spf(&ar, spf_strresult(ma->spf),
	    ma->mailfrom[0] != '\0' ? ma->mailfrom : NULL,
	    ma->mailfrom[0] != '\0' ? NULL : ma->helo,
	    ma->so.problem[0] != '\0' ? ma->so.problem : NULL);

	n = dkim_verifier_nresults(ma->v);
	dk[0] = '\0';
	for (i = 0; i < n && i < DKIM_VERIFY_SIGS_MAX; i++) {
		k = dkim_verifier_result(ma->v, i);
		if (k->reason[0] != '\0')
			(void)snprintf(cm[i], sizeof(cm[i]), "%s", k->reason);
		else if (k->bits > 0)
			(void)snprintf(cm[i], sizeof(cm[i]), "%s %u-bit key%s",
			    k->a, k->bits, k->has_l ? ", l= used" : "");
		else
			(void)snprintf(cm[i], sizeof(cm[i]), "%s%s", k->a,
			    k->has_l ? ", l= used" : "");
		ad[i].result = dkim_result_name(k->result);
		ad[i].d = k->d[0] != '\0' ? k->d : NULL;
		ad[i].s = k->s[0] != '\0' ? k->s : NULL;
		ad[i].b = k->b[0] != '\0' ? k->b : NULL;
		ad[i].comment = cm[i][0] != '\0' ? cm[i] : NULL;
		if (o < sizeof(dk))
			o += snprintf(dk + o, sizeof(dk) - o, "%s%s(%s)",
			    i > 0 ? "," : "", ad[i].result,
			    k->d[0] != '\0' ? k->d : "?");
	}
	if (i > 0)
		(void)authres_dkim(&ar, ad, i);
	else {
		(void)authres_add(&ar, "dkim", "none", NULL, NULL, 0);
		(void)strlcpy(dk, "none", sizeof(dk));
	}

	if (r != NULL)
		(void)authres_dmarc(&ar, dmarc_result_name(r->result),
		    r->from[0] != '\0' ? r->from : NULL,
		    r->result == DMARC_NONE ? NULL :
		    dmarc_policy_name(r->policy), r->why);
	else {
		why = ma->from.status == DMARC_FROM_ABSENT ? NULL :
		    ma->from.why;
		dmarc_none = why == NULL ? "none" : "permerror";
		(void)authres_dmarc(&ar, dmarc_none, NULL, NULL, why);
	}
	arc = dkim_verifier_arc(ma->v);
	(void)authres_arc(&ar, arc_result_name(arc->result),
	    arc->reason[0] != '\0' ? arc->reason : NULL);
	if ((v->authres = authres_finish(&ar, &len)) == NULL) {
		authres_clear(&ar);
		return -1;
	}
	authres_clear(&ar);

	(void)snprintf(v->log, sizeof(v->log), "spf=%s (%s) dkim=%s "
	    "dmarc=%s%s%s%s arc=%s: %s", spf_strresult(ma->spf),
	    ma->spf_domain[0] != '\0' ? ma->spf_domain : "-", dk,
	    r != NULL ? dmarc_result_name(r->result) : dmarc_none,
	    r != NULL && r->from[0] != '\0' ? " (" : "",
	    r != NULL && r->from[0] != '\0' ? r->from : "",
	    r != NULL && r->from[0] != '\0' ? ")" : "",
	    arc_result_name(arc->result), acts[v->action]);
	return 0;
}
