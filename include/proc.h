/*
 * The process model: which processes exist, how they are connected
 * (a socketpair between every pair), and the entry point of each role.
 */
#ifndef MAILD_PROC_H
#define MAILD_PROC_H

#include <sys/types.h>

#include <stdint.h>

#include "config.h"
#include "imsg.h"
#include "ipc.h"
#include "maild.h"

/*
 * One handler per message type a process receives, in a table ended by
 * { IMSG_NONE, NULL }.  proc_dispatch() has checked the sender (m->from),
 * the descriptor and the fields as declared in imsg.h; after the
 * handler it checks that the whole payload was read.
 */
struct proc_handler {
	uint32_t	 type;
	void		(*fn)(struct ipc_msg *);
};

struct proc_info {
	const char	*name;		/* "smtp" */
	const char	*title;		/* "maild-smtp" */
	pid_t		 pid;
	int		 vmail;		/* runs as the vmail user */
	void		(*main)(void);
	const struct proc_handler *handlers;
};

/* Per-process globals. */
extern struct proc_info		 procs[PROC_COUNT];
extern enum proc_type		 proc_self;
extern struct ipc		 peers[PROC_COUNT];
extern struct maild_conf	*conf;
extern int			 privileged;	/* started as root */
extern int			 control_fd;	/* control socket, parent */
/* socketpair ends: pairfd[a][b] is a's end towards b */
extern int			 pairfd[PROC_COUNT][PROC_COUNT];

/* Fork a child: it drops privileges, connects its peers, runs. */
pid_t	proc_fork(enum proc_type, uid_t, gid_t, const char *);
/* Child side helpers. */
void	proc_drop(const char *);
void	proc_setup_peers(void);
/*
 * Send a message (b NULL: no payload).  That this process may send it to
 * p, the descriptor and the fields are checked against imsg.h: a
 * mismatch is a bug, fatal.
 */
void	proc_send_buf(enum proc_type, uint32_t, int, const struct ipc_buf *);
/* The same check alone, for a message sent later (proc_send_raw). */
void	proc_check(enum proc_type, uint32_t, int, const struct ipc_buf *);
void	proc_send_raw(enum proc_type, uint32_t, int, const void *, size_t);
/* The parent: every child's first message, its version (IMSG_HELLO). */
void	proc_hello(void);
/* A temporary, unlinked file holding buf (to pass large data as an fd). */
int	proc_blob_fd(const void *, size_t);

/* Role entry points and handler tables. */
void	lookup_main(void);
extern const struct proc_handler lookup_handlers[];
void	smtp_main(void);
extern const struct proc_handler smtp_handlers[];
void	queue_main(void);
extern const struct proc_handler queue_handlers[];
void	deliver_main(void);
extern const struct proc_handler deliver_handlers[];
void	imap_main(void);
extern const struct proc_handler imap_handlers[];
void	relay_main(void);
extern const struct proc_handler relay_handlers[];
void	filter_main(void);
extern const struct proc_handler filter_handlers[];
void	control_main(void);
extern const struct proc_handler control_handlers[];
extern const struct proc_handler parent_handlers[];

/*
 * Counters for mailctl show stats.  Each process counts what it sees;
 * a counter named "smtp.*" is reported by the smtp process, and so on.
 */
enum stat_counter {
	ST_SMTP_SESSIONS,	/* connections accepted */
	ST_SMTP_TLS,		/* ... that went TLS (STARTTLS or smtps) */
	ST_SMTP_REFUSED_DNS,	/* turned away by the rDNS / FCrDNS check */
	ST_SMTP_REFUSED_DNSBL,	/* turned away by the DNS lists */
	ST_SMTP_DNSBL_ERRORS,	/* ... lists' answers not usable */
	ST_SMTP_AUTH_OK,
	ST_SMTP_AUTH_FAIL,
	ST_SMTP_MESSAGES,	/* messages accepted (250 after DATA) */
	ST_SMTP_RECIPIENTS,	/* ... and their recipients */
	ST_SMTP_GREYLISTED,	/* recipients deferred by greylisting */
	ST_SMTP_GREY_PASSED,	/* ... passed once the delay was over */
	ST_SMTP_GREY_WHITE,	/* ... passed at once: auto-whitelisted */
	ST_SMTP_QUOTA,		/* recipients refused: mailbox full */
	ST_IMAP_SESSIONS,
	ST_IMAP_TLS,
	ST_IMAP_AUTH_OK,
	ST_IMAP_AUTH_FAIL,
	ST_QUEUE_DELIVERED,	/* local deliveries done */
	ST_QUEUE_RELAYED,	/* remote deliveries done */
	ST_QUEUE_DEFERRED,	/* temporary failures (retried later) */
	ST_QUEUE_FAILED,	/* permanent failures and expiries */
	ST_QUEUE_BOUNCES,	/* bounces (DSN) written */
	ST_QUEUE_REMOVED,	/* by mailctl remove */
	ST_QUEUE_CHECKED,	/* inbound mail checked (SPF, DKIM, DMARC) */
	ST_QUEUE_CHECK_SPF,	/* ... SPF passed */
	ST_QUEUE_CHECK_DKIM,	/* ... a DKIM signature passed */
	ST_QUEUE_CHECK_DMARC,	/* ... DMARC passed */
	ST_QUEUE_CHECK_DMARCFAIL, /* ... DMARC failed */
	ST_QUEUE_CHECK_REFUSED,	/* ... refused with 550 */
	ST_QUEUE_CHECK_DEFERRED, /* ... refused with 451 */
	ST_QUEUE_CHECK_JUNK,	/* ... delivered to Junk */
	ST_RSPAMD_SCANNED,	/* messages rspamd gave a verdict on */
	ST_RSPAMD_REJECTED,	/* ... refused with 550 */
	ST_RSPAMD_SOFTREJECTED,	/* ... refused with 451 (soft, greylist) */
	ST_RSPAMD_JUNKED,	/* ... delivered to Junk */
	ST_RSPAMD_LEARNED,	/* messages learned as spam or ham */
	ST_RSPAMD_ERRORS,	/* scans rspamd could not answer */
	ST_RELAY_SESSIONS,	/* connections to other servers */
	ST_RELAY_TLS,		/* ... that went TLS */
	ST_COUNT
};
extern uint64_t		 stats[ST_COUNT];
#define STAT_INC(s)	(stats[(s)]++)

/*
 * IMSG_CONF_QUOTA in deliver and imap: the quota table, for the staged
 * configuration during a reload, for the running one at start.
 */
void	proc_conf_quota(struct ipc_msg *);

/* Answers to a mailctl request (IMSG_CTL_REQ id) go to control. */
void	proc_ctl_line(uint64_t, const char *, ...)
	    __attribute__((__format__ (printf, 2, 3)));
void	proc_ctl_end(uint64_t, int, const char *, ...)
	    __attribute__((__format__ (printf, 3, 4)));
/* This process's counters as "name=value" lines (no end). */
void	proc_ctl_stats(uint64_t);
/* IMSG_CTL_LOG from the parent: log verbose or brief from now on. */
void	proc_ctl_log(struct ipc_msg *);

/* Reload handling shared by children: parse the text, NOFILES. */
struct maild_conf *proc_conf_from_fd(int);
void	proc_conf_stage(struct ipc_msg *);	/* IMSG_CONF_RELOAD */
struct maild_conf *proc_conf_staged(void);	/* NULL if none */
int	proc_conf_commit(struct ipc_msg *);	/* IMSG_CONF_END; 1: swapped */
/* IMSG_CONF_END handler: proc_conf_commit(), nothing else to do. */
void	proc_conf_end(struct ipc_msg *);
/* IMSG_CONF_RELOAD handler where no setting matters: the text dropped. */
void	proc_conf_ignore(struct ipc_msg *);

#endif
