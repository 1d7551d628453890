/*
 * Framed messages between maild processes over socketpairs: a header
 * (type, length, flags), a payload, and optionally one file descriptor.
 * Payloads are built with ipc_add*() and read with ipc_get*(); a short
 * or over-long payload is a fatal error in the receiver (a bug or an
 * attack, never silently ignored).
 */
#ifndef MAILD_IPC_H
#define MAILD_IPC_H

#include <sys/queue.h>

#include <event.h>
#include <stdint.h>

#define IPC_MAX_PAYLOAD	(64 * 1024)

enum ipc_type {
	/* parent -> children */
	IMSG_CONF_RELOAD = 1,	/* fd: configuration text */
	IMSG_CONF_TABLE,	/* name, fd: table file */
	IMSG_CONF_PKI,		/* name, cert, key */
	IMSG_CONF_DKIM,		/* domain, selector, key (to queue) */
	IMSG_CONF_END,
	IMSG_CONF_DONE,		/* children -> parent: IMSG_CONF_END applied */
	/* smtp <-> queue */
	IMSG_Q_CREATE,		/* reqid */
	IMSG_Q_CREATE_OK,	/* reqid, msgid; fd: spool file */
	IMSG_Q_CREATE_FAIL,	/* reqid, reason (Q_FAIL_*) */
	IMSG_Q_COMMIT,		/* reqid, msgid, ndest, envelope template */
	IMSG_Q_COMMIT_OK,	/* reqid, msgid */
	IMSG_Q_COMMIT_FAIL,	/* reqid, msgid */
	IMSG_Q_ROLLBACK,	/* msgid */
	/* smtp <-> lookup */
	IMSG_L_RCPT,		/* reqid, msgid, flags, rcpt */
	IMSG_L_RCPT_RES,	/* reqid, result, ndest, reason */
	/* imap, smtp <-> lookup */
	IMSG_L_AUTH,		/* reqid, flags, table, user, password */
	IMSG_L_AUTH_RES,	/* reqid, result, user, maildir */
	IMSG_L_SENDER,		/* reqid, user, sender */
	IMSG_L_SENDER_RES,	/* reqid, allowed */
	/* smtp <-> lookup: rDNS check of a client */
	IMSG_L_FCRDNS,		/* reqid, sockaddr_storage */
	IMSG_L_FCRDNS_RES,	/* reqid, result (enum dns_fcrdns), name */
	/* deliver -> imap */
	IMSG_I_NEW,		/* maildir (inside the mailbox root) */
	/* lookup -> queue */
	IMSG_Q_DEST,		/* msgid, rcpt, dest */
	/* queue <-> deliver */
	IMSG_D_DELIVER,		/* evpid, sender, rcpt, dest, dkim str, retry
				   u32 (an attempt may have been made: look
				   for it first); fd: message */
	IMSG_D_RESULT,		/* evpid, status, reason */
	IMSG_D_DONE,		/* evpid: delivered and removed from the
				   queue (deliver drops its mark) */
	/* control <-> any process: mailctl requests */
	IMSG_CTL_REQ,		/* id u64, request str (one mailctl line) */
	IMSG_CTL_RES,		/* id u64, status u32 (CTL_*), text str */
	/* parent -> children */
	IMSG_CTL_LOG,		/* verbose u32 (mailctl log verbose|brief) */
	/* queue <-> relay */
	IMSG_R_DELIVER,		/* evpid u64, sender, rcpt (struct mailaddr),
				   flags u32 (EF_*), dkim str, action str
				   (dest.path); fd: message */
	IMSG_R_RESULT,		/* evpid u64, status u32 (RELAY_*), reason
				   str (< 256), remote host str */
	/* relay <-> lookup */
	IMSG_L_MX,		/* reqid u64, domain str */
	IMSG_L_MX_RES,		/* reqid u64, status u32 (enum dns_status),
				   nhosts u32, per host: name str, pref u32,
				   naddr u32, naddr * sockaddr_storage */
	IMSG_L_HOST,		/* reqid u64, host str (a smarthost: its
				   addresses, no MX); answer IMSG_L_MX_RES */
};

#define RELAY_OK	0	/* IMSG_R_RESULT, IMSG_D_RESULT status */
#define RELAY_TEMPFAIL	1
#define RELAY_PERMFAIL	2

#define CTL_LINE	0	/* IMSG_CTL_RES: one line of the answer */
#define CTL_OK		1	/* the end: done (text "" or a last line) */
#define CTL_ERR		2	/* the end: failed, text says why */

#define AUTHF_MAILDIR	0x01	/* IMSG_L_AUTH: also find the Maildir */

#define AUTH_OK		0	/* IMSG_L_AUTH_RES results */
#define AUTH_FAIL	1
#define AUTH_TEMPFAIL	2

#define Q_FAIL_TEMP	0	/* 451 4.3.0 */
#define Q_FAIL_NOSPACE	1	/* 452 4.3.1 */

struct ipc_hdr {
	uint32_t	type;
	uint32_t	len;		/* payload bytes */
	uint32_t	flags;
#define IPC_F_FD	0x1
	uint32_t	pad;
};

struct ipc_msg {
	uint32_t	 type;
	const uint8_t	*data;
	size_t		 len;
	size_t		 pos;
	int		 fd;		/* -1 if none; handler owns it */
	const char	*peer;
};

struct ipc_out;

struct ipc {
	int			 fd;
	const char		*peer;		/* "smtp", "queue", ... */
	struct event		 ev;		/* read, persistent */
	struct event		 evw;		/* write, when queued */
	uint8_t			*rbuf;
	size_t			 rlen;
	size_t			 rsize;
	int			 rfds[16];	/* received, not yet consumed */
	int			 nrfds;
	TAILQ_HEAD(, ipc_out)	 outq;
	void			(*dispatch)(struct ipc *, struct ipc_msg *);
	void			*arg;
};

/* A message under construction. */
struct ipc_buf {
	uint8_t		 data[IPC_MAX_PAYLOAD];
	size_t		 len;
};

/* Called instead of fatalx() when a peer closes, if set. */
extern void (*ipc_lost_hook)(struct ipc *);

void	ipc_init(struct ipc *, int, const char *,
	    void (*)(struct ipc *, struct ipc_msg *), void *);
void	ipc_close(struct ipc *);
/* Queue a message; fd (or -1) is closed by ipc once sent. */
void	ipc_send(struct ipc *, uint32_t, int, const void *, size_t);

void	ipc_buf_init(struct ipc_buf *);
void	ipc_add(struct ipc_buf *, const void *, size_t);
void	ipc_add_u32(struct ipc_buf *, uint32_t);
void	ipc_add_u64(struct ipc_buf *, uint64_t);
void	ipc_add_str(struct ipc_buf *, const char *);

void	ipc_get(struct ipc_msg *, void *, size_t);
uint32_t ipc_get_u32(struct ipc_msg *);
uint64_t ipc_get_u64(struct ipc_msg *);
/* Copy a string into buf of size len; too long is fatal. */
void	ipc_get_str(struct ipc_msg *, char *, size_t);
/* Pointer to a string inside the message (NUL-checked). */
const char *ipc_get_strp(struct ipc_msg *);
/* The payload must be fully consumed. */
void	ipc_end(struct ipc_msg *);
/* Take the message's fd; fatal if it has none. */
int	ipc_get_fd(struct ipc_msg *);

#endif
