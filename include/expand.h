/*
 * Recipient expansion (expand.c): rules, virtual/alias/userbase tables,
 * Maildir location patterns.
 */
#ifndef MAILD_EXPAND_H
#define MAILD_EXPAND_H

#include <stddef.h>

#include "address.h"
#include "config.h"

/* DEST_LEARN: a message for rspamd to learn (path "spam" or "ham"). */
enum dest_type { DEST_MAILDIR, DEST_RELAY, DEST_LEARN };

struct dest {
	enum dest_type		 type;
	struct mailaddr		 addr;		/* final address (dest.*) */
	char			 path[PATH_MAX];	/* Maildir */
};

#define EXP_FROM_LOCAL	0x01	/* client is loopback / local socket */
#define EXP_AUTH	0x02	/* client is authenticated */

enum exp_result {
	EXP_OK = 0,		/* dests filled */
	EXP_NOTFOUND,		/* 550 5.1.1 */
	EXP_RELAY_DENIED,	/* 550 5.7.1 */
	EXP_TEMPFAIL,		/* 451 4.3.0 */
	EXP_FAIL,		/* 550 5.1.1 with err: loop, bad alias */
	EXP_OVERQUOTA		/* 452 4.2.2 or 552 5.2.2: mailbox full */
};

/* The first rule matching rcpt for a client with these flags, or NULL. */
struct rule	*rule_match(const struct maild_conf *, const struct mailaddr *,
		    int);
/* Where a bare "postmaster" goes if not to the host name: or NULL. */
const char	*rule_primary_domain(const struct maild_conf *);
/*
 * Is domain one of ours: the host name, a domain a rule delivers to a
 * Maildir (domain tables left out: they live in lookup), or one we sign
 * for with DKIM?
 */
int		 rule_own_domain(const struct maild_conf *, const char *);
/*
 * Expand rcpt through the rules and the virtual/alias/userbase tables
 * into at most max destinations (deduplicated).  err gets a reason.
 */
enum exp_result	 expand_rcpt(const struct maild_conf *,
		    const struct mailaddr *, int, struct dest *, size_t,
		    size_t *, char *, size_t);
/*
 * Expand a maildir location pattern for addr: %{dest.user},
 * %{dest.domain}, optionally with ":lowercase".  0, or -1 when the
 * result would not fit or a part is not a safe path component.
 */
int	maildir_pattern(const char *, const struct mailaddr *, char *, size_t);

#endif
