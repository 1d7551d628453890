/*
 * The relay process: outbound SMTP.  relay.c takes delivery jobs from
 * the queue, groups them by relay action and recipient domain (or by
 * action alone when it names a smarthost), asks lookup for the MX hosts
 * (or the smarthost's addresses) and reports results; relay_session.c
 * is the SMTP client that delivers one group's jobs over one connection.
 */
#ifndef MAILD_RELAY_H
#define MAILD_RELAY_H

#include <sys/queue.h>

#include "address.h"
#include "config.h"
#include "dns.h"
#include "maild.h"

#define RELAY_MAX_SESSIONS	16	/* connections overall */
#define RELAY_MAX_RCPT		100	/* RCPTs in one transaction */
#define RELAY_CONNECT_TIMEOUT	30	/* seconds */
#define RELAY_REPLY_TIMEOUT	300	/* RFC 5321 4.5.3.2 */
#define RELAY_FINAL_TIMEOUT	600	/* reply to the final dot */
#define RELAY_DKIM_MAX		8192	/* DKIM-Signature text from queue */

/*
 * How the jobs of one relay action go out: a copy of the action's
 * settings (the configuration may be reloaded meanwhile).
 */
struct relay_policy {
	char			 action[NAME_MAX_CONF];	/* "" none found */
	int			 flags;		/* AR_* */
	char			 host[DOMAIN_MAX + 1];	/* "": MX lookup */
	int			 port;
	char			 label[LOCALPART_MAX + 1]; /* key in auth */
	char			 auth[NAME_MAX_CONF];	/* table, "" none */
	char			 ciphers[CIPHERS_MAX];	/* "": default */
};

/* TLS demanded: STARTTLS must succeed (or implicit TLS). */
#define POLICY_TLS(p)	((p)->flags & (AR_TLS_REQUIRE | AR_STARTTLS | \
			    AR_SMTPS))

/* One envelope to deliver. */
struct rjob {
	TAILQ_ENTRY(rjob)	 entry;
	uint64_t		 evpid;
	struct mailaddr		 sender;
	struct mailaddr		 rcpt;
	uint32_t		 flags;		/* EF_8BITMIME, EF_SMTPUTF8 */
	char			*dkim;		/* "" or header field(s) */
	int			 fd;		/* the committed message */
};
TAILQ_HEAD(rjoblist, rjob);

struct relay_session;

/*
 * The jobs of one recipient domain (or of one smarthost) under one
 * relay action, and its connection.
 */
struct rdomain {
	TAILQ_ENTRY(rdomain)	 entry;		/* every domain */
	TAILQ_ENTRY(rdomain)	 wentry;	/* waiting for a slot */
	char			 name[DOMAIN_MAX + 1];	/* domain or host */
	struct relay_policy	 pol;
	struct rjoblist		 jobs;		/* not yet in a transaction */
	size_t			 njobs;
	struct relay_session	*sess;		/* at most one */
	int			 inwait;
};

/* relay.c */
void	relay_result(struct rjob *, int, const char *, const char *,
	    const char *);
void	relay_session_done(struct rdomain *);
/*
 * The TLS client configuration of a policy (verifying certificates or
 * not, its ciphers); NULL if libtls refuses it.
 */
struct tls_config *relay_tls_config(const struct relay_policy *);

/* relay_session.c */
struct relay_session *relay_session_new(struct rdomain *, uint64_t);
/* The MX answer for the session's domain (hosts copied). */
void	relay_session_mx(struct relay_session *, enum dns_status,
	    const struct dns_host *, size_t);

#endif
