/*
 * Inside the lookup process: the DNS answers and the SPF check for the
 * checks of inbound mail (lookup_auth.c), the DNS lists of clients
 * (lookup_dnsbl.c), full Maildirs at RCPT TO (lookup_quota.c).
 */
#ifndef MAILD_LOOKUP_H
#define MAILD_LOOKUP_H

#include <stddef.h>
#include <stdint.h>

#include "address.h"
#include "expand.h"
#include "imsg.h"
#include "ipc.h"

void	lookup_dns(struct ipc_msg *);	/* IMSG_L_DNS */
void	lookup_spf(struct ipc_msg *);	/* IMSG_L_SPF */
void	lookup_dnsbl(struct ipc_msg *);	/* IMSG_L_DNSBL, lookup_dnsbl.c */
/* IMSG_L_RCPT's answer: the destinations to the queue, the result. */
void	lookup_rcpt_answer(enum proc_type, uint64_t, uint32_t,
	    const struct mailaddr *, int, const struct dest *, size_t,
	    const char *);
/*
 * With quotas, ask deliver whether the Maildirs of a recipient's
 * destinations are full: 1 asked (dests, malloc'd, are taken; the
 * answer goes out from lookup_quota_res()), 0 nothing to ask.
 */
int	lookup_quota_ask(uint64_t, uint32_t, const struct mailaddr *,
	    struct dest *, size_t);
void	lookup_quota_res(struct ipc_msg *);	/* IMSG_D_QUOTA_RES */

#endif
