/*
 * What the files of the IMAP session share (private to them):
 * - imap_session.c: the session, its states, the command table and
 *   dispatch, reading commands and literals, logging in, and the
 *   commands of any state (CAPABILITY, NOOP, LOGOUT, ID, STARTTLS,
 *   LOGIN, AUTHENTICATE, ENABLE, NAMESPACE);
 * - imap_cmd_mbox.c: commands on mailboxes (SELECT, EXAMINE, CLOSE,
 *   UNSELECT, CREATE, DELETE, RENAME, SUBSCRIBE, LIST, LSUB, STATUS,
 *   APPEND) and the subscriptions file;
 * - imap_cmd_msg.c: commands on messages (EXPUNGE, SEARCH, FETCH,
 *   STORE, COPY, MOVE, and their UID forms);
 * - imap_cmd_meta.c: GETMETADATA and SETMETADATA (RFC 5464);
 * - imap_idle.c: the view of the selected mailbox, the untagged updates
 *   every session of a mailbox must see (EXISTS, EXPUNGE, VANISHED,
 *   FETCH FLAGS), IDLE.
 * A new command is a handler in the file of its family and a row in
 * the table of imap_session.c.
 */
#ifndef MAILD_IMAP_SESSION_H
#define MAILD_IMAP_SESSION_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <event.h>
#include <stdint.h>

#include "config.h"
#include "imap.h"
#include "imap_parser.h"
#include "io.h"
#include "mailbox.h"
#include "session_env.h"

#define IMAP_LINE_MAX	(64 * 1024)	/* command text, literals apart */
#define IMAP_LIT_MAX	(64 * 1024)	/* one literal outside APPEND */
#define IMAP_PRE_MAX	8192		/* line or literal before login */
#define IMAP_ARGS_MAX	10000
#define IMAP_DEPTH	16
#define IMAP_TIMEOUT	(30 * 60 * 1000)	/* RFC 3501 5.4: 30 min */
#define IMAP_TIMEOUT_PRE (60 * 1000)	/* before login */
#define IMAP_IDLE_KEEPALIVE 120		/* seconds between "Still here" */
#define IMAP_OUT_CHUNK	(256 * 1024)	/* FETCH output per pass */
#define IMAP_MAX_ERRORS	20		/* BADs in a row before BYE */
#define IMAP_CAPS_MAX	1024		/* the CAPABILITY list */

enum imap_state {
	S_HANDSHAKE,		/* implicit TLS */
	S_NOAUTH,
	S_AUTH,
	S_SELECTED,
	S_LOGOUT
};

/* What the session waits for before reading the next command. */
enum imap_wait {
	W_NONE,
	W_LOOKUP,		/* password check */
	W_SASL,			/* AUTHENTICATE continuation line */
	W_IDLE,			/* DONE */
	W_FETCH,		/* output to drain before more FETCH */
	W_STARTTLS		/* handshake after STARTTLS */
};

#define EN_CONDSTORE	0x01
#define EN_QRESYNC	0x02
#define EN_REV2		0x04

struct fetchjob {
	struct fetch_spec	*spec;
	uint32_t		*uids;		/* to fetch, ascending */
	size_t			 n, pos;
	int			 uid;		/* UID FETCH */
	int			 needs;
	uint64_t		 changedsince;
	int			 cte;		/* a part was undecodable */
	int			 failed;	/* a message was unreadable */
};

struct imap_session {
	RB_ENTRY(imap_session)	 node;		/* by id */
	TAILQ_ENTRY(imap_session) all;
	uint64_t		 id;
	const struct session_env *env;
	enum imap_state		 state;
	enum imap_wait		 wait;
	struct io		*io;
	const struct listener	*l;
	struct srv_tlsctx	*tls;
	struct sockaddr_storage	 ss;
	char			 addr[INET6_ADDRSTRLEN];
	struct imap_parser	*p;
	uint64_t		 skip;		/* refused literal bytes */
	int			 skipline;	/* rest of an over-long line */
	int			 errors;
	int			 enabled;	/* EN_* */
	char			 tag[IMAP_TAG_MAX + 1];
	char			 user[ADDR_MAX + 1];
	int			 authcounted;	/* srv_auth_send() */
	char			 home[PATH_MAX];	/* user's Maildir */
	struct event		 ev_delay;

	/* selected mailbox */
	struct mbox		*mb;
	int			 readonly;
	char			 mbname[MAILBOX_NAME_MAX + 1];
	uint32_t		*view;		/* UIDs, ascending */
	size_t			 nview, cview;
	uint64_t		 seen_modseq;	/* flag changes reported */
	struct fetchjob		*fj;
};

TAILQ_HEAD(imap_sessions, imap_session);
extern struct imap_sessions	 imap_sessions;

/* imap_session.c */
void	imap_printf(struct imap_session *, const char *, ...)
	    __attribute__((__format__ (printf, 2, 3)));
/* The tagged answer of the current command; the session reads on. */
void	imap_tagged(struct imap_session *, const char *, const char *, ...)
	    __attribute__((__format__ (printf, 3, 4)));
/* A command finished: write what changed in the mailbox. */
void	imap_done(struct imap_session *);
void	imap_cmd_capability(struct imap_session *,
	    const struct imap_command *);
void	imap_cmd_noop(struct imap_session *, const struct imap_command *);
void	imap_cmd_logout(struct imap_session *, const struct imap_command *);
void	imap_cmd_starttls(struct imap_session *,
	    const struct imap_command *);
void	imap_cmd_authenticate(struct imap_session *,
	    const struct imap_command *);
void	imap_cmd_login(struct imap_session *, const struct imap_command *);
void	imap_cmd_id(struct imap_session *, const struct imap_command *);
void	imap_cmd_enable(struct imap_session *, const struct imap_command *);
void	imap_cmd_namespace(struct imap_session *,
	    const struct imap_command *);
void	imap_cmd_check(struct imap_session *, const struct imap_command *);

/* imap_idle.c */
void	imap_view_add(struct imap_session *, uint32_t);
/* Sequence number (1-based) of uid in the view, or 0. */
uint32_t imap_view_seq(const struct imap_session *, uint32_t);
void	imap_flags_render(const struct mbox *, uint32_t, uint32_t, char *,
	    size_t);
void	imap_flags_line(struct imap_session *, uint32_t,
	    const struct mbox_msg *, int);
/* uid set text ("1:3,7") of a sorted array into an mbuf. */
void	imap_uidset_text(struct mbuf *, const uint32_t *, size_t);
void	imap_update(struct imap_session *, int);
void	imap_mbox_changed(struct mbox *, struct imap_session *);
void	imap_unselect(struct imap_session *);
void	imap_vanished_earlier(struct imap_session *, uint64_t,
	    const struct imap_seqset *);
void	imap_idle_timer(int, short, void *);
void	imap_cmd_idle(struct imap_session *, const struct imap_command *);

/* imap_cmd_mbox.c */
int	imap_mailbox_arg(struct imap_session *, const struct imap_arg *,
	    char *, size_t, char *, size_t);
void	imap_mbox_refused(struct imap_session *, const char *);
int	imap_subs_change(struct imap_session *, const char *, int);
void	imap_cmd_select(struct imap_session *, const struct imap_command *);
void	imap_cmd_close(struct imap_session *, const struct imap_command *);
void	imap_cmd_create(struct imap_session *, const struct imap_command *);
void	imap_cmd_delete(struct imap_session *, const struct imap_command *);
void	imap_cmd_rename(struct imap_session *, const struct imap_command *);
void	imap_cmd_subscribe(struct imap_session *,
	    const struct imap_command *);
void	imap_cmd_list(struct imap_session *, const struct imap_command *);
void	imap_cmd_status(struct imap_session *, const struct imap_command *);
void	imap_cmd_append(struct imap_session *, const struct imap_command *);

/* imap_cmd_msg.c */
int	imap_parse_flags(const struct imap_arg *, uint32_t *, const char **,
	    size_t *);
void	imap_fetch_run(struct imap_session *);
void	imap_cmd_expunge(struct imap_session *,
	    const struct imap_command *);
void	imap_cmd_search(struct imap_session *, const struct imap_command *);
void	imap_cmd_fetch(struct imap_session *, const struct imap_command *);
void	imap_cmd_store(struct imap_session *, const struct imap_command *);
void	imap_cmd_copy(struct imap_session *, const struct imap_command *);

/* imap_cmd_meta.c */
void	imap_cmd_getmetadata(struct imap_session *,
	    const struct imap_command *);
void	imap_cmd_setmetadata(struct imap_session *,
	    const struct imap_command *);

#endif
