/*
 * The process model: which processes exist, how they are connected
 * (a socketpair between every pair), and the entry point of each role.
 */
#ifndef MAILD_PROC_H
#define MAILD_PROC_H

#include <sys/types.h>

#include <stdint.h>

#include "ipc.h"
#include "maild.h"

enum proc_type {
	PROC_PARENT,
	PROC_LOOKUP,
	PROC_SMTP,
	PROC_QUEUE,
	PROC_DELIVER,
	PROC_CONTROL,
	PROC_RELAY,		/* outbound SMTP */
	PROC_IMAP,		/* IMAP server */
	PROC_COUNT
};

struct proc_info {
	const char	*name;		/* "smtp" */
	const char	*title;		/* "maild-smtp" */
	pid_t		 pid;
	int		 vmail;		/* runs as the vmail user */
	void		(*main)(void);
	void		(*dispatch)(struct ipc *, struct ipc_msg *);
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
void	proc_send(enum proc_type, uint32_t, int, const void *, size_t);
void	proc_send_buf(enum proc_type, uint32_t, int, const struct ipc_buf *);
/* A temporary, unlinked file holding buf (to pass large data as an fd). */
int	proc_blob_fd(const void *, size_t);

/* Role entry points and IPC handlers. */
void	lookup_main(void);
void	lookup_dispatch(struct ipc *, struct ipc_msg *);
void	smtp_main(void);
void	smtp_dispatch(struct ipc *, struct ipc_msg *);
void	queue_main(void);
void	queue_dispatch(struct ipc *, struct ipc_msg *);
void	deliver_main(void);
void	deliver_dispatch(struct ipc *, struct ipc_msg *);
void	imap_main(void);
void	imap_dispatch(struct ipc *, struct ipc_msg *);
void	relay_main(void);
void	relay_dispatch(struct ipc *, struct ipc_msg *);
void	control_main(void);
void	control_dispatch(struct ipc *, struct ipc_msg *);
void	parent_dispatch(struct ipc *, struct ipc_msg *);

/*
 * Counters for mailctl show stats.  Each process counts what it sees;
 * a counter named "smtp.*" is reported by the smtp process, and so on.
 */
enum stat_counter {
	ST_SMTP_SESSIONS,	/* connections accepted */
	ST_SMTP_TLS,		/* ... that went TLS (STARTTLS or smtps) */
	ST_SMTP_REFUSED_DNS,	/* turned away by the rDNS / FCrDNS check */
	ST_SMTP_AUTH_OK,
	ST_SMTP_AUTH_FAIL,
	ST_SMTP_MESSAGES,	/* messages accepted (250 after DATA) */
	ST_SMTP_RECIPIENTS,	/* ... and their recipients */
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
	ST_RELAY_SESSIONS,	/* connections to other servers */
	ST_RELAY_TLS,		/* ... that went TLS */
	ST_COUNT
};
extern uint64_t		 stats[ST_COUNT];
#define STAT_INC(s)	(stats[(s)]++)

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
int	proc_conf_commit(struct ipc_msg *);	/* IMSG_CONF_END; 1 if swapped */

#endif
