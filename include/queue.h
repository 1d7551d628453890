/*
 * Inside the queue process: DKIM signing at commit (queue_dkim.c), the
 * checks of inbound mail (queue_auth.c) and greylisting's state
 * (queue_grey.c).
 */
#ifndef MAILD_QUEUE_H
#define MAILD_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "maild.h"

void	queue_dkim_init(struct maild_conf *);
void	queue_dkim_sign(int, const char *, uint32_t, char *, size_t);

struct envelope;
struct ipc_msg;
struct msgauth_verdict;
typedef void	(*queue_auth_cb)(void *, const struct msgauth_verdict *);
void	queue_auth_start(uint32_t, int, const struct envelope *,
	    queue_auth_cb, void *);
void	queue_auth_cancel(uint32_t);		/* no verdict will come */
void	queue_auth_dns(struct ipc_msg *);	/* IMSG_L_DNS_RES */
void	queue_auth_spf(struct ipc_msg *);	/* IMSG_L_SPF_RES */
void	queue_auth_psl(int);			/* IMSG_CONF_PSL */

/* Greylisting (queue_grey.c): on start and reload; IMSG_Q_GREYLIST. */
void	queue_grey_init(void);
void	queue_grey_check(struct ipc_msg *);
size_t	queue_grey_count(void);			/* entries held */

#endif
