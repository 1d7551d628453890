/*
 * Inside the queue process: DKIM signing at commit (queue_dkim.c), the
 * checks of inbound mail (queue_auth.c) and greylisting's state
 * (queue_grey.c).
 */
#ifndef MAILD_QUEUE_H
#define MAILD_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "address.h"
#include "config.h"
#include "envelope.h"
#include "filter.h"
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

/* What the queue knows of a message's client, for rspamd. */
struct scan_client {
	char	 rdns[HOST_NAME_MAX + 1];	/* "" unknown */
	char	 user[ADDR_MAX + 1];		/* "" not authenticated */
	char	 tls_version[32];		/* "" no TLS */
	char	 tls_cipher[64];
};

#define FILTER_EDITS_MAX	16	/* header fields rspamd removes */

/* rspamd's answer, as it applies to the message. */
struct filter_verdict {
	int	 error;		/* rspamd could not be asked */
	int	 refuse;	/* reply is the answer to DATA */
	char	 reply[320];
	int	 junk;		/* into the Junk folder */
	char	 log[FILTER_SYMBOLS_MAX + 128];
	/* rspamd's lines, for the top of the message */
	char	 headers[DKIM_HDR_MAX];
	char	 subject[1000];	/* rewritten Subject, "" none */
	size_t	 nremove;
	struct {
		char	 name[80];
		int	 index;	/* 0 all, n the nth, -n the nth from last */
	} remove[FILTER_EDITS_MAX];
};

int	queue_filter_scan(uint64_t, uint32_t, const struct envelope *,
	    const struct scan_client *, const struct mailaddr *const *,
	    size_t);
uint64_t queue_filter_verdict(struct ipc_msg *, struct filter_verdict *);
int	queue_filter_edit(uint32_t, int *, const struct filter_verdict *);
/* Greylisting (queue_grey.c): on start and reload; IMSG_Q_GREYLIST. */
void	queue_grey_init(void);
void	queue_grey_check(struct ipc_msg *);
size_t	queue_grey_count(void);			/* entries held */

#endif
