/*
 * What the files of the IMAP session share (private to them):
 * - imap_session.c: the session, its states, the command table and
 *   dispatch, reading commands and literals, logging in, and the
 *   commands of any state (CAPABILITY, NOOP, LOGOUT, ID, STARTTLS,
 *   LOGIN, AUTHENTICATE, ENABLE, NAMESPACE, COMPRESS);
 * - imap_cmd_mbox.c: commands on mailboxes (SELECT, EXAMINE, CLOSE,
 *   UNSELECT, CREATE, DELETE, RENAME, SUBSCRIBE, LIST, LSUB, STATUS)
 *   and the subscriptions file;
 * - imap_cmd_append.c: APPEND (MULTIAPPEND, CATENATE, literal8) and
 *   REPLACE, and the spool their messages wait in while they arrive;
 * - imap_cmd_msg.c: commands on messages (EXPUNGE, SEARCH, FETCH,
 *   STORE, COPY, MOVE, and their UID forms);
 * - imap_cmd_meta.c: GETMETADATA and SETMETADATA (RFC 5464);
 * - imap_idle.c: the view of the selected mailbox, the untagged updates
 *   every session of a mailbox must see (EXISTS, EXPUNGE, VANISHED,
 *   FETCH FLAGS), IDLE;
 * - imap_cmd_context.c: search contexts (RFC 5267: SEARCH RETURN
 *   (UPDATE), their ADDTO / REMOVEFROM updates, CANCELUPDATE);
 * - imap_cmd_notify.c: NOTIFY and the notifications of other mailboxes;
 * - imap_watch.c: the folders NOTIFY covers, watched for other programs'
 *   changes (inotify);
 * - imap_cmd_sort.c: SORT (and ESORT) and THREAD, and their UID forms.
 * - imap_cmd_quota.c: QUOTA (GETQUOTA, GETQUOTAROOT, SETQUOTA) and the
 *   quota transaction of the commands that add or remove messages.
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
#define IMAP_PRE_MAX	8192		/* a literal before login */
/* A line before login: room for an ID at RFC 2971's limits (30 pairs). */
#define IMAP_PRE_LINE_MAX (40 * 1024)
#define IMAP_ARGS_MAX	10000
#define IMAP_DEPTH	16
#define IMAP_TIMEOUT	(30 * 60 * 1000)	/* RFC 3501 5.4: 30 min */
#define IMAP_TIMEOUT_PRE (60 * 1000)	/* before login */
#define IMAP_IDLE_KEEPALIVE 120		/* seconds between "Still here" */
#define IMAP_OUT_CHUNK	(256 * 1024)	/* FETCH output per pass */
#define IMAP_MAX_ERRORS	20		/* BADs in a row before BYE */
#define IMAP_CAPS_MAX	1024		/* the CAPABILITY list */
#define IMAP_CTX_MAX	8		/* search contexts per session */
/* The messages of one APPEND, spooled on disk as they arrive. */
#define IMAP_SPOOL_MAX	((uint64_t)1024 * 1024 * 1024)

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

struct imap_notify;

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

struct imap_ctx;
LIST_HEAD(imap_ctxs, imap_ctx);

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
	char			 skiptail[24];	/* of a skipped partial line */
	size_t			 nskiptail;
	int			 spool;		/* APPEND's literals, or -1 */
	int			 spool_err;	/* errno of a spool write */
	int			 early;		/* APPEND checked early */
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
	uint32_t		 kwseen;	/* keywords told in FLAGS */
	struct imap_seqrange	*recent;	/* UIDs \Recent here */
	size_t			 nrecent;
	struct fetchjob		*fj;
	struct imap_ctxs	 ctxs;		/* search contexts */
	size_t			 nctx;
	struct imap_notify	*notify;	/* NOTIFY SET, or NULL */
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
void	imap_cmd_compress(struct imap_session *,
	    const struct imap_command *);
void	imap_cmd_authenticate(struct imap_session *,
	    const struct imap_command *);
void	imap_cmd_login(struct imap_session *, const struct imap_command *);
void	imap_cmd_id(struct imap_session *, const struct imap_command *);
void	imap_cmd_enable(struct imap_session *, const struct imap_command *);
/* A CONDSTORE-enabling command (RFC 7162 3.1). */
void	imap_condstore(struct imap_session *);
void	imap_cmd_namespace(struct imap_session *,
	    const struct imap_command *);
void	imap_cmd_check(struct imap_session *, const struct imap_command *);
void	imap_cmd_unauthenticate(struct imap_session *,
	    const struct imap_command *);

/* imap_idle.c */
void	imap_view_add(struct imap_session *, uint32_t);
/* Sequence number (1-based) of uid in the view, or 0. */
uint32_t imap_view_seq(const struct imap_session *, uint32_t);
void	imap_flags_render(const struct mbox *, uint32_t, uint32_t, char *,
	    size_t);
int	imap_recent(const struct imap_session *, uint32_t);
uint32_t imap_recent_count(const struct imap_session *);
void	imap_recent_select(struct imap_session *);
/* FLAGS (perm 0) or PERMANENTFLAGS (perm 1) list of the mailbox. */
void	imap_flag_list(struct imap_session *, char *, size_t, int);
uint32_t imap_keyword_set(const struct mbox *);
void	imap_keywords_update(struct imap_session *);
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

/* imap_cmd_append.c */
void	imap_spool_write(void *, const void *, size_t);	/* imap_spill_fn */
void	imap_spool_reset(struct imap_session *);
/* A literal of APPEND or REPLACE announced: 0 go on, -1 refused. */
int	imap_append_early(struct imap_session *);
void	imap_cmd_append(struct imap_session *, const struct imap_command *);
/* The subscriptions text (malloc'd, or NULL), and a name's line in it. */
char	*imap_subs_read(struct imap_session *, size_t *);
int	imap_subs_has(const char *, size_t, const char *);
void	imap_cmd_replace(struct imap_session *,
	    const struct imap_command *);

/* imap_cmd_msg.c */
int	imap_parse_flags(const struct imap_arg *, uint32_t *, const char **,
	    size_t *);
void	imap_fetch_run(struct imap_session *);
/* One FETCH response of fj for uid: 0, or -1 when unreadable. */
int	imap_fetch_one(struct imap_session *, struct fetchjob *, uint32_t,
	    int *);
void	imap_cmd_expunge(struct imap_session *,
	    const struct imap_command *);
void	imap_cmd_search(struct imap_session *, const struct imap_command *);
void	imap_cmd_fetch(struct imap_session *, const struct imap_command *);
void	imap_cmd_store(struct imap_session *, const struct imap_command *);
void	imap_cmd_copy(struct imap_session *, const struct imap_command *);
/*
 * Fill what SEARCH needs of view entry i (SEARCH_NEED_*; eid: room for
 * its EMAILID, MBOX_EMAILID_MAX + 1 bytes): its index in the mailbox,
 * or -1 if it is gone.
 */
struct search_msg;
int	imap_search_msg(struct imap_session *, size_t, int,
	    struct search_msg *, const char **, char *);

/* imap_cmd_context.c */
struct search_prog;
struct imap_ctx *imap_ctx_find(struct imap_session *, const char *);
/*
 * A context for the current command (s->tag): its program, whose
 * sequence sets are made UIDs here, and its answer as UIDs in context
 * order; cmp/arg order a SORT context (NULL: a SEARCH).  Refused past
 * IMAP_CTX_MAX with "* NO [NOUPDATE ...]"; prog and arg (freed with
 * argfree, if not NULL) are the context's, or freed, either way.
 */
void	imap_ctx_new(struct imap_session *, int, struct search_prog *,
	    const uint32_t *, size_t, int (*)(uint32_t, uint32_t, void *),
	    void *, void (*)(void *));
/* REMOVEFROM for results about to be reported expunged. */
void	imap_ctx_expunge(struct imap_session *);
/* ADDTO / REMOVEFROM for what flag changes and new messages did. */
void	imap_ctx_update(struct imap_session *);
void	imap_ctx_free_all(struct imap_session *);
void	imap_cmd_cancelupdate(struct imap_session *,
	    const struct imap_command *);

/* imap_cmd_notify.c */
void	imap_cmd_notify(struct imap_session *, const struct imap_command *);
void	imap_notify_free(struct imap_session *);
void	imap_notify_changed(struct mbox *, struct imap_session *);
void	imap_notify_newmail(const char *);
void	imap_notify_mailbox(struct imap_session *, const char *,
	    const char *);
void	imap_notify_subscription(struct imap_session *, const char *, int);
/* The selected mailbox changed (SELECT, CLOSE): its watch follows. */
void	imap_notify_select(struct imap_session *);

/* imap_watch.c */
struct imap_watch;
struct imap_watch *imap_watch_add(const char *);
void	imap_watch_del(struct imap_watch *);
void	imap_watch_stamp(const char *);

/* imap_cmd_sort.c */
void	imap_cmd_sort(struct imap_session *, const struct imap_command *);
void	imap_cmd_thread(struct imap_session *, const struct imap_command *);

/* imap_cmd_quota.c */
struct quota_txn;
/*
 * The quota transaction of a command that adds or removes messages
 * (quota.h): 1 open in q, ended by imap_quota_done(); 0 no quotas; -1
 * the usage cannot be read (logged: the command goes on, unchecked).
 */
int	imap_quota_open(struct imap_session *, struct quota_txn *);
/* Room for bytes and count more: 1 (always, unless qon is 1), or 0. */
int	imap_quota_room(const struct quota_txn *, int, uint64_t, uint64_t);
/* Record what the command added (negative: freed), and close. */
void	imap_quota_done(struct imap_session *, struct quota_txn *, int,
	    int64_t, int64_t);
void	imap_cmd_getquota(struct imap_session *,
	    const struct imap_command *);
void	imap_cmd_getquotaroot(struct imap_session *,
	    const struct imap_command *);
void	imap_cmd_setquota(struct imap_session *,
	    const struct imap_command *);

/* imap_cmd_meta.c */
void	imap_cmd_getmetadata(struct imap_session *,
	    const struct imap_command *);
void	imap_cmd_setmetadata(struct imap_session *,
	    const struct imap_command *);

#endif
