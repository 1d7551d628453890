/*
 * Checking one inbound message (msgauth.c): SPF, DKIM, ARC and DMARC
 * together, the verdict the policy gives, and the Authentication-Results
 * header that records them.  The same code runs in the queue process at
 * commit and in "mailctl check"; neither does its DNS here.
 *
 * Use: msgauth_new(), then the message through msgauth_update() in any
 * chunks and msgauth_end(); then, in any order, the SPF result of the
 * client (msgauth_spf()) and the answer to every TXT name
 * msgauth_next() asks (msgauth_answer()), until msgauth_ready().
 * Answers may make it ask for more names (DMARC at the organisational
 * domain after none at the From domain).  Then msgauth_verdict().
 */
#ifndef MAILD_MSGAUTH_H
#define MAILD_MSGAUTH_H

#include <stddef.h>
#include <time.h>

#define MA_TXT_MAX	8	/* TXT records of one name */
#define MA_Q_TXT	0	/* questions (IMSG_L_DNS): TXT records */
#define MA_Q_EXISTS	1	/* ... any A, AAAA or MX record? */

struct psl;
struct msgauth;
struct spf_outcome;

enum msgauth_dns {
	MSGAUTH_DNS_OK,		/* records (maybe none at all) */
	MSGAUTH_DNS_NONE,	/* no such name, or no TXT there */
	MSGAUTH_DNS_TEMPFAIL
};

struct msgauth_params {
	const char	*authserv_id;	/* our host name */
	const char	*helo;		/* as the client said it */
	const char	*mailfrom;	/* "" for the null sender */
	const struct psl *psl;		/* NULL: last two labels */
	/* Is this domain one of ours (dmarc own-domains)?  May be NULL. */
	int		(*own_domain)(const char *, void *);
	void		*own_arg;
	int		 spf_fail_action;	/* AUTH_ACT_* of config.h */
	int		 dmarc_enforce;
	int		 dmarc_own;
	time_t		 now;
	unsigned int	 pct_roll;	/* 0..99, for DMARC pct= */
};

enum msgauth_action {
	MA_ACCEPT,		/* deliver as usual */
	MA_JUNK,		/* deliver to the Junk folder */
	MA_REJECT,		/* 550: reply says it */
	MA_TEMPFAIL		/* 451: reply says it */
};

struct msgauth_verdict {
	enum msgauth_action	 action;
	char			 reply[256];	/* for MA_REJECT/TEMPFAIL */
	char			*authres;	/* the header, CRLF; malloc'd */
	char			 log[512];	/* one line: every result */
	/* a DMARC aggregate report (dmarc_report_is()): to its folder */
	int			 report;
	/* for the counters */
	int			 spf_pass;
	int			 dkim_pass;	/* a signature passed */
	int			 dmarc_pass, dmarc_fail;
};

struct msgauth	*msgauth_new(const struct msgauth_params *);
void		 msgauth_update(struct msgauth *, const void *, size_t);
void		 msgauth_end(struct msgauth *);
/* The client's SPF result: for MAIL FROM, or HELO when that is empty. */
void		 msgauth_spf(struct msgauth *, const struct spf_outcome *);
/*
 * The next DNS question (each asked once), or NULL: none now.  *qtype:
 * MA_Q_TXT for the TXT records of the name, MA_Q_EXISTS whether it
 * has any A, AAAA or MX record (imsg.h).
 */
const char	*msgauth_next(struct msgauth *, int *qtype);
/* The answer: for MA_Q_EXISTS, MSGAUTH_DNS_OK means it does. */
void		 msgauth_answer(struct msgauth *, const char *name, int qtype,
		    enum msgauth_dns, const char *const *txt, size_t ntxt);
/* 1 when every answer is in. */
int		 msgauth_ready(const struct msgauth *);
/* The outcome; call once, when ready.  0, or -1 (out of memory). */
int		 msgauth_verdict(struct msgauth *, struct msgauth_verdict *);
void		 msgauth_free(struct msgauth *);

/*
 * msgauth_dns.c: ask dns.c a question of msgauth_next(); cb gets the
 * answer later from the event loop, as msgauth_answer() takes it.
 */
typedef void	(*msgauth_dns_cb)(void *, const char *name, int qtype,
		    enum msgauth_dns, const char *const *txt, size_t ntxt);
void		 msgauth_dns_ask(const char *name, int qtype, msgauth_dns_cb,
		    void *);

#endif
