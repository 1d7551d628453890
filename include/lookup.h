/*
 * Inside the lookup process: the DNS answers and the SPF check for the
 * checks of inbound mail (lookup_auth.c), the DNS lists of clients
 * (lookup_dnsbl.c).
 */
#ifndef MAILD_LOOKUP_H
#define MAILD_LOOKUP_H

#include "ipc.h"

void	lookup_dns(struct ipc_msg *);	/* IMSG_L_DNS */
void	lookup_spf(struct ipc_msg *);	/* IMSG_L_SPF */
void	lookup_dnsbl(struct ipc_msg *);	/* IMSG_L_DNSBL, lookup_dnsbl.c */

#endif
