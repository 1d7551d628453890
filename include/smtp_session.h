/*
 * What the two files of the SMTP session share (private to them):
 * smtp_session.c holds the session, the command table and the commands
 * before DATA; smtp_data.c the DATA reader, the checks of the message
 * and its commit.
 */
#ifndef MAILD_SMTP_SESSION_H
#define MAILD_SMTP_SESSION_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <event.h>
#include <stdint.h>
#include <time.h>

#include "address.h"
#include "config.h"
#include "io.h"
#include "maild.h"
#include "session_env.h"
#include "smtp.h"
#include "smtp_parse.h"

/*
 * In DATA: idle for at most twice the command timeout (10 minutes by
 * default, RFC 5321 4.5.3.2.6), and done within twelve times it (an
 * hour).  Outside DATA a session gets as long to bring its next message
 * (from the connection or the last one taken).  Both are timers, not
 * checks made when input arrives: a client dribbling a byte now and
 * then, without ever ending a line, holds neither a session nor a spool
 * file forever.
 */
#define DATA_IDLE(c)		(2 * (c)->smtp_timeout)
#define DATA_DEADLINE(c)	(12 * (time_t)(c)->smtp_timeout)
#define SESSION_DEADLINE(c)	(12 * (time_t)(c)->smtp_timeout)
/*
 * And after the first timeout's worth of DATA, at least this many bytes
 * a second on average (Postfix's smtpd_min_data_rate): a flood of slow
 * clients cannot hold sessions and spool files for the whole hour.
 */
#define DATA_MIN_RATE		500
#define HEADER_MAX		(1024 * 1024)
#define FROM_MAX		2048	/* bytes of a From field we read */
#define DATA_BUFSIZE		65536

enum smtp_state {
	S_GREETING,		/* implicit TLS handshake before 220 */
	S_CONNECTED,		/* before HELO/EHLO */
	S_HELO,
	S_MAIL,			/* MAIL FROM accepted */
	S_RCPT,			/* at least one RCPT */
	S_DATA,
	S_QUIT,
	S_REFUSED		/* refused instead of 220: QUIT only */
};

/* The checks of a client before its greeting (s->connchk). */
#define CHK_RDNS	0x01	/* IMSG_L_FCRDNS */
#define CHK_DNSBL	0x02	/* IMSG_L_DNSBL */
/* A refused client gets this long to say QUIT (RFC 5321 3.1). */
#define REFUSED_TIMEOUT	30

#define F_EHLO		0x0001
#define F_TLS		0x0002
#define F_SKIPLINE	0x0008	/* rest of an overlong command line */
#define F_STARTTLS	0x0010	/* handshake starts once 220 is sent */
#define F_LOCAL		0x0020	/* loopback client */
#define F_LINGER	0x0040	/* closing: reading what is left */
#define F_AUTH		0x0080	/* logged in as authuser */
#define F_FROMCHECK	0x0200	/* IMSG_L_SENDER on the From header */
#define F_SELF		0x0400	/* a client on the server's own address */

/* SASL exchange in progress (s->sasl). */
#define SASL_NONE	0
#define SASL_PLAIN	1	/* waiting for the PLAIN response */
#define SASL_LOGIN_USER	2	/* LOGIN: waiting for the user name */
#define SASL_LOGIN_PASS	3	/* LOGIN: waiting for the password */

#define D_TOOBIG	0x01
#define D_BARECR	0x02
#define D_BARELF	0x04
#define D_IOERR		0x08
#define D_HDRBIG	0x10
#define D_NUL		0x20
#define D_LONGLINE	0x40
#define D_REFUSED	(D_TOOBIG | D_BARECR | D_IOERR | D_HDRBIG | D_NUL | \
			    D_LONGLINE)

struct smtp_session {
	RB_ENTRY(smtp_session)	 node;		/* the sessions, by id */
	uint64_t		 id;
	struct io		*io;
	const struct listener	*l;
	struct sockaddr_storage	 ss;
	char			 src[INET6_ADDRSTRLEN + 8];
	enum smtp_state		 state;
	int			 flags;
	/*
	 * The request whose answer the session waits for (its IMSG type),
	 * reading nothing meanwhile; IMSG_NONE when it waits for nothing.
	 * An answer to anything else is dropped (smtp_answer()).
	 */
	uint32_t		 wait;
	int			 errors;
	const struct session_env *env;
	struct srv_tlsctx	*tls;		/* held while the io uses it */
	int			 sasl;		/* SASL_* */
	char			 authuser[ADDR_MAX + 1];
	int			 authcounted;	/* srv_auth_send() */
	char			 rdns[256];	/* checked PTR name, or "" */
	/*
	 * The checks on connect run at once: those still out (CHK_*),
	 * while s->wait is the request of the first.  A DNSBL refusal
	 * replaces one of rDNS.
	 */
	int			 connchk;
	int			 dnsbl_refused;
	char			 refuse[320];	/* the verdict, replaces 220 */
	char			 helo[HOST_NAME_MAX + 1];
	struct mailaddr		 sender;
	struct mail_params	 params;
	struct mailaddr		 rcpt;		/* being looked up */
	struct mailaddr		 first;		/* first accepted, Received */
	int			 nrcpt;
	uint32_t		 ndest;
	uint32_t		 greyndest;	/* of s->rcpt, greylisting */
	uint32_t		 msgid;
	int			 msgfd;
	struct event		 ev_deadline;	/* of DATA, or of the session */
	time_t			 data_start;
	/* DATA */
	int			 dflags;
	char			*fromhdr;	/* the From field's value */
	size_t			 fromlen;	/* FROM_MAX + 1: too long */
	int			 nfrom;		/* From fields seen */
	int			 infrom;	/* reading the From field */
	struct mailaddr		 fromaddr;
	char			 signdom[DOMAIN_MAX + 1];	/* DKIM */
	int			 midline;	/* last chunk had no LF */
	size_t			 linelen;	/* so far, of the line read */
	int			 prevcrlf;	/* last line ended in CRLF */
	int			 inheader;
	size_t			 hdrlen;
	size_t			 datalen;
	char			*dbuf;
	size_t			 dlen;
};

/* smtp_session.c */
const char	*smtp_hostname(struct smtp_session *);
void		 smtp_reply(struct smtp_session *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
/* The transaction is over: roll the spool file back, if any. */
void		 smtp_reset(struct smtp_session *);
/* Read nothing more until lookup or the queue answers that request. */
void		 smtp_wait(struct smtp_session *, uint32_t);
void		 smtp_unwait(struct smtp_session *);
/*
 * The session of id if it waits for the answer to a request of that
 * type, which it no longer waits for; else NULL, and the answer is
 * logged and dropped.
 */
struct smtp_session *smtp_answer(uint64_t, uint32_t);
void		 smtp_deadline_set(struct smtp_session *, time_t);

/* smtp_data.c */
void		 smtp_cmd_data(struct smtp_session *, const char *);
void		 smtp_data_line(struct smtp_session *, char *, size_t, int);
void		 smtp_from_mismatch(struct smtp_session *, const char *);
void		 smtp_commit(struct smtp_session *);

#endif
