/*
 * Inside the lookup process: the DNS answers and the SPF check for the
 * checks of inbound mail (lookup_auth.c).
 */
#ifndef MAILD_LOOKUP_H
#define MAILD_LOOKUP_H

#include "ipc.h"

void	lookup_dns(struct ipc_msg *);	/* IMSG_L_DNS */
void	lookup_spf(struct ipc_msg *);	/* IMSG_L_SPF */

#endif
