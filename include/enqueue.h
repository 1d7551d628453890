/*
 * Local submission for programs that run sendmail(8) (cron, scripts):
 * the message is completed (From, Date, Message-ID; Bcc removed) and
 * handed to the local maild over SMTP, from the loopback address, where
 * the "from local" rules apply.  When maild cannot take it now (not
 * running, paused, 4xx), it is written to the offline directory, owned
 * by the user who sent it; the maild parent picks those files up later
 * and submits each as its owner (offline.c), so nothing is lost.
 *
 * Offline file (in <spool>/offline, mode 0600, owned by the sender):
 *	maild-offline 1\n
 *	from <address>\n
 *	to <address>\n		(one line per recipient, at least one)
 *	\n
 *	the message, CRLF line ends, not dot-stuffed
 */
#ifndef MAILD_ENQUEUE_H
#define MAILD_ENQUEUE_H

#include <sys/socket.h>

#include "config.h"
#include "maild.h"

#define ENQ_OK		0
#define ENQ_TEMPFAIL	1	/* no connection, 4xx: keep it for later */
#define ENQ_PERMFAIL	2	/* 5xx: err holds the server's reply */

#define ENQ_RCPT_MAX	1000	/* recipients of one message */
#define ENQ_OFFLINE	"offline"	/* directory in the spool */

struct enq_msg {
	char		 sender[ADDR_MAX + 1];	/* "" for <> */
	char		**rcpts;
	size_t		 nrcpt;
	char		*data;		/* CRLF, headers complete */
	size_t		 len;
};

/*
 * Where local programs submit: the first SMTP listener without implicit
 * or required TLS and without AUTH (which would want a login before
 * MAIL) on a loopback or wildcard address (a wildcard is reached at
 * 127.0.0.1 or ::1).  0, or -1 if there is none.
 */
int	enqueue_target(const struct maild_conf *, struct sockaddr_storage *,
	    socklen_t *);
/* Submit over SMTP (bounded time); ENQ_*, with the reason in err. */
int	enqueue_smtp(const struct maild_conf *, const struct enq_msg *,
	    char *, size_t);
/* A new offline file for msg, as the calling user; 0 or -1 (err). */
int	enqueue_offline_write(const struct maild_conf *,
	    const struct enq_msg *, char *, size_t);
/* Read an offline file from fd (checked like any input); 0 or -1. */
int	enqueue_offline_read(int, size_t, struct enq_msg *, char *, size_t);
void	enqueue_msg_free(struct enq_msg *);

#endif
