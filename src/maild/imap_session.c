/*
 * IMAP server sessions (RFC 3501, RFC 9051 on ENABLE, and the
 * extensions of the CAPABILITY list): reading commands and literals
 * through the parser, the not-authenticated / authenticated / selected
 * states, each command, and the untagged updates every session of a
 * mailbox must see.
 *
 * A selected session keeps its own view of the mailbox: the UIDs its
 * sequence numbers stand for.  The shared mailbox (imap_mbox.c) is the
 * truth; the view catches up at the points where the protocol allows
 * (EXPUNGE never during FETCH, STORE or SEARCH), by comparing the two.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imap.h"
#include "imap_parser.h"
#include "io.h"
#include "mailbox.h"
#include "proc.h"
#include "safepath.h"
#include "sasl.h"
#include "search.h"
#include "server.h"

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
#define SESS_HASH	256

enum state {
	S_HANDSHAKE,		/* implicit TLS */
	S_NOAUTH,
	S_AUTH,
	S_SELECTED,
	S_LOGOUT
};

/* What the session waits for before reading the next command. */
enum wait {
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
	int			 cte;		/* a part could not be decoded */
	int			 failed;	/* a message could not be read */
};

struct imap_session {
	TAILQ_ENTRY(imap_session) entry;	/* by id */
	TAILQ_ENTRY(imap_session) all;
	uint64_t		 id;
	enum state		 state;
	enum wait		 wait;
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

static void	s_io(struct io *, int, void *);
static void	s_input(struct imap_session *);
static void	s_line(struct imap_session *, char *, size_t);
static void	s_command(struct imap_session *,
		    const struct imap_command *);
static void	s_close(struct imap_session *, const char *);
static void	s_printf(struct imap_session *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	s_tagged(struct imap_session *, const char *, const char *,
		    ...) __attribute__((__format__ (printf, 3, 4)));
static void	s_capability(struct imap_session *, char *, size_t);
static void	s_limits(struct imap_session *);
static void	s_update(struct imap_session *, int);
static void	s_unselect(struct imap_session *);
static void	s_mbox_changed(struct mbox *, struct imap_session *);
static void	s_sasl_line(struct imap_session *, char *, size_t);
static void	s_login(struct imap_session *, const char *, const char *,
		    size_t);
static void	s_delay_done(int, short, void *);
static void	s_fetch_run(struct imap_session *);
static void	s_done(struct imap_session *);

/* Commands */
static void	cmd_capability(struct imap_session *,
		    const struct imap_command *);
static void	cmd_noop(struct imap_session *, const struct imap_command *);
static void	cmd_logout(struct imap_session *, const struct imap_command *);
static void	cmd_starttls(struct imap_session *,
		    const struct imap_command *);
static void	cmd_authenticate(struct imap_session *,
		    const struct imap_command *);
static void	cmd_login(struct imap_session *, const struct imap_command *);
static void	cmd_id(struct imap_session *, const struct imap_command *);
static void	cmd_enable(struct imap_session *, const struct imap_command *);
static void	cmd_namespace(struct imap_session *,
		    const struct imap_command *);
static void	cmd_select(struct imap_session *, const struct imap_command *);
static void	cmd_create(struct imap_session *, const struct imap_command *);
static void	cmd_delete(struct imap_session *, const struct imap_command *);
static void	cmd_rename(struct imap_session *, const struct imap_command *);
static void	cmd_subscribe(struct imap_session *,
		    const struct imap_command *);
static void	cmd_list(struct imap_session *, const struct imap_command *);
static void	cmd_status(struct imap_session *, const struct imap_command *);
static void	cmd_append(struct imap_session *, const struct imap_command *);
static void	cmd_idle(struct imap_session *, const struct imap_command *);
static void	cmd_check(struct imap_session *, const struct imap_command *);
static void	cmd_close(struct imap_session *, const struct imap_command *);
static void	cmd_expunge(struct imap_session *,
		    const struct imap_command *);
static void	cmd_search(struct imap_session *, const struct imap_command *);
static void	cmd_fetch(struct imap_session *, const struct imap_command *);
static void	cmd_store(struct imap_session *, const struct imap_command *);
static void	cmd_copy(struct imap_session *, const struct imap_command *);

#define ST_NOAUTH	0x01
#define ST_AUTH		0x02
#define ST_SELECTED	0x04
#define ST_ANY		(ST_NOAUTH | ST_AUTH | ST_SELECTED)
#define CF_UID		0x10	/* has a UID form */
#define CF_NOEXPUNGE	0x20	/* no EXPUNGE responses (without UID) */

static const struct {
	const char	*name;
	int		 flags;
	void		(*fn)(struct imap_session *,
			    const struct imap_command *);
} commands[] = {
	{ "CAPABILITY",	ST_ANY,				cmd_capability },
	{ "NOOP",	ST_ANY,				cmd_noop },
	{ "LOGOUT",	ST_ANY,				cmd_logout },
	{ "STARTTLS",	ST_NOAUTH,			cmd_starttls },
	{ "AUTHENTICATE", ST_NOAUTH,			cmd_authenticate },
	{ "LOGIN",	ST_NOAUTH,			cmd_login },
	{ "ID",		ST_ANY,				cmd_id },
	{ "ENABLE",	ST_AUTH | ST_SELECTED,		cmd_enable },
	{ "NAMESPACE",	ST_AUTH | ST_SELECTED,		cmd_namespace },
	{ "SELECT",	ST_AUTH | ST_SELECTED,		cmd_select },
	{ "EXAMINE",	ST_AUTH | ST_SELECTED,		cmd_select },
	{ "CREATE",	ST_AUTH | ST_SELECTED,		cmd_create },
	{ "DELETE",	ST_AUTH | ST_SELECTED,		cmd_delete },
	{ "RENAME",	ST_AUTH | ST_SELECTED,		cmd_rename },
	{ "SUBSCRIBE",	ST_AUTH | ST_SELECTED,		cmd_subscribe },
	{ "UNSUBSCRIBE", ST_AUTH | ST_SELECTED,		cmd_subscribe },
	{ "LIST",	ST_AUTH | ST_SELECTED,		cmd_list },
	{ "LSUB",	ST_AUTH | ST_SELECTED,		cmd_list },
	{ "STATUS",	ST_AUTH | ST_SELECTED,		cmd_status },
	{ "APPEND",	ST_AUTH | ST_SELECTED,		cmd_append },
	{ "IDLE",	ST_AUTH | ST_SELECTED,		cmd_idle },
	{ "CHECK",	ST_SELECTED,			cmd_check },
	{ "CLOSE",	ST_SELECTED,			cmd_close },
	{ "UNSELECT",	ST_SELECTED,			cmd_close },
	{ "EXPUNGE",	ST_SELECTED | CF_UID,		cmd_expunge },
	{ "SEARCH",	ST_SELECTED | CF_UID | CF_NOEXPUNGE, cmd_search },
	{ "FETCH",	ST_SELECTED | CF_UID | CF_NOEXPUNGE, cmd_fetch },
	{ "STORE",	ST_SELECTED | CF_UID | CF_NOEXPUNGE, cmd_store },
	{ "COPY",	ST_SELECTED | CF_UID,		cmd_copy },
	{ "MOVE",	ST_SELECTED | CF_UID,		cmd_copy },
};

static TAILQ_HEAD(, imap_session)	 byid[SESS_HASH];
static TAILQ_HEAD(, imap_session)	 sessions =
    TAILQ_HEAD_INITIALIZER(sessions);
static int				 byid_init;
static uint64_t				 next_id;

static const char *const	 month[] = { "Jan", "Feb", "Mar", "Apr",
    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

void
imap_session_new(int fd, const struct listener *l,
    const struct sockaddr_storage *ss)
{
	struct imap_session	*s;
	size_t			 i;
	char			 caps[512];

	if (!byid_init) {
		for (i = 0; i < SESS_HASH; i++)
			TAILQ_INIT(&byid[i]);
		byid_init = 1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("calloc");
	s->id = ++next_id;
	STAT_INC(ST_IMAP_SESSIONS);
	s->l = l;
	s->ss = *ss;
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
		    s->addr, sizeof(s->addr));
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)ss)->sin6_addr, s->addr,
		    sizeof(s->addr));
	else
		strlcpy(s->addr, "local", sizeof(s->addr));
	s->io = io_new(fd, IMAP_LINE_MAX, s_io, s);
	io_set_timeout(s->io, IMAP_TIMEOUT_PRE);
	/* Before login a command line must end within that minute. */
	io_set_line_deadline(s->io, 1);
	s->p = imap_parser_new(NULL);
	s_limits(s);
	evtimer_set(&s->ev_delay, s_delay_done, s);
	TAILQ_INSERT_TAIL(&byid[s->id % SESS_HASH], s, entry);
	TAILQ_INSERT_TAIL(&sessions, s, all);
	log_debug("imap %llu: connection from %s", (unsigned long long)s->id,
	    s->addr);

	if (l->flags & L_IMAPS) {
		s->state = S_HANDSHAKE;
		if ((s->tls = srv_tls_get(l)) == NULL ||
		    io_start_tls(s->io, srv_tls_ctx(s->tls)) == -1) {
			s_close(s, "no TLS context");
			return;
		}
		return;
	}
	s->state = S_NOAUTH;
	s_capability(s, caps, sizeof(caps));
	s_printf(s, "* OK [CAPABILITY %s] maild ready\r\n", caps);
}

static struct imap_session *
s_find(uint64_t id)
{
	struct imap_session	*s;

	TAILQ_FOREACH(s, &byid[id % SESS_HASH], entry)
		if (s->id == id)
			return s;
	return NULL;
}

/*
 * Parser limits: APPEND may carry a whole message, nothing else may,
 * and before login nothing but a user name and a password.
 */
static void
s_limits(struct imap_session *s)
{
	struct imap_limits	 lim;
	int			 auth = s->state == S_AUTH ||
				    s->state == S_SELECTED;

	lim.line_max = auth ? IMAP_LINE_MAX : IMAP_PRE_MAX;
	lim.lit_max = auth ? IMAP_LIT_MAX : IMAP_PRE_MAX;
	lim.append_max = auth ? conf->max_msg_size : IMAP_PRE_MAX;
	lim.lit_total = auth ? conf->max_msg_size + IMAP_LIT_MAX :
	    2 * IMAP_PRE_MAX;
	lim.args_max = IMAP_ARGS_MAX;
	lim.depth_max = IMAP_DEPTH;
	imap_parser_set_limits(s->p, &lim);
}

static void
s_close(struct imap_session *s, const char *why)
{
	log_debug("imap %llu: closed (%s)", (unsigned long long)s->id, why);
	if (s->fj != NULL) {
		fetch_free(s->fj->spec);
		free(s->fj->uids);
		free(s->fj);
	}
	s_unselect(s);
	evtimer_del(&s->ev_delay);
	TAILQ_REMOVE(&byid[s->id % SESS_HASH], s, entry);
	TAILQ_REMOVE(&sessions, s, all);
	io_free(s->io);
	if (s->tls != NULL)
		srv_tls_put(s->tls);	/* after the connection is gone */
	imap_parser_free(s->p);
	srv_session_gone(&s->ss, s->l);
	explicit_bzero(s, sizeof(*s));
	free(s);
}

static void
s_printf(struct imap_session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	io_vprintf(s->io, fmt, ap);
	va_end(ap);
}

/* The tagged answer of the current command; the session reads on. */
static void
s_tagged(struct imap_session *s, const char *status, const char *fmt, ...)
{
	char	 buf[512];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (strcmp(status, "BAD") == 0) {
		if (++s->errors > IMAP_MAX_ERRORS) {
			s_printf(s, "%s BAD %s\r\n* BYE Too many errors\r\n",
			    s->tag[0] ? s->tag : "*", buf);
			s->state = S_LOGOUT;
			return;
		}
	} else
		s->errors = 0;
	s_printf(s, "%s %s %s\r\n", s->tag[0] ? s->tag : "*", status, buf);
}

static void
s_capability(struct imap_session *s, char *buf, size_t len)
{
	int	 tls = s->io->tls != NULL;

	if (s->state == S_NOAUTH || s->state == S_HANDSHAKE) {
		(void)snprintf(buf, len, "IMAP4rev1 IMAP4rev2 SASL-IR "
		    "LITERAL+ ID ENABLE IDLE%s%s",
		    tls ? " AUTH=PLAIN" : " STARTTLS LOGINDISABLED",
		    "");
		return;
	}
	(void)snprintf(buf, len, "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+ ID "
	    "ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN "
	    "LIST-EXTENDED LIST-STATUS SPECIAL-USE ESEARCH APPENDLIMIT=%zu "
	    "CONDSTORE QRESYNC", conf->max_msg_size);
}

static void
s_io(struct io *io, int ev, void *arg)
{
	struct imap_session	*s = arg;
	char			 caps[512];

	(void)io;
	switch (ev) {
	case IO_TLSREADY:
		STAT_INC(ST_IMAP_TLS);
		if (s->state == S_HANDSHAKE) {
			s->state = S_NOAUTH;
			s_capability(s, caps, sizeof(caps));
			s_printf(s, "* OK [CAPABILITY %s] maild ready\r\n",
			    caps);
		} else if (s->wait == W_STARTTLS)
			s->wait = W_NONE;
		s_input(s);
		break;
	case IO_DATAIN:
		s_input(s);
		break;
	case IO_LOWAT:
		if (s->state == S_LOGOUT) {
			s_close(s, "logout");
			return;
		}
		if (s->wait == W_FETCH)
			s_fetch_run(s);
		else if (s->wait == W_STARTTLS && s->io->tls == NULL) {
			/* Nothing sent before it may count (CVE-2011-0411). */
			io_drop_input(s->io);
			if (io_start_tls(s->io, srv_tls_ctx(s->tls)) == -1) {
				s_close(s, io_error(s->io));
				return;
			}
		}
		break;
	case IO_TIMEOUT:
		if (s->io->flags & IO_HANDSHAKE) {
			s_close(s, "TLS handshake timeout");
			return;
		}
		if (s->wait == W_FETCH || s->wait == W_LOOKUP)
			break;	/* our own wait, not the client's */
		s_printf(s, "* BYE Autologout; idle for too long\r\n");
		s->state = S_LOGOUT;
		break;
	case IO_DISCONNECTED:
		s_close(s, "disconnected");
		return;
	case IO_ERROR:
		s_close(s, io_error(s->io));
		return;
	}
	if (s->state == S_LOGOUT && io_queued(s->io) == 0)
		s_close(s, "logout");
}

/* Read and run commands until one has to wait, or input runs out. */
static void
s_input(struct imap_session *s)
{
	const char	*data;
	char		*line;
	size_t		 len, used;
	int		 partial;

	while (s->state != S_LOGOUT && s->state != S_HANDSHAKE &&
	    (s->wait == W_NONE || s->wait == W_SASL || s->wait == W_IDLE)) {
		/* Reading waits while the client does not read our output. */
		if (io_queued(s->io) >= IO_WMAX)
			return;
		if (s->skip > 0) {
			data = io_data(s->io, &len);
			if (len == 0)
				return;
			used = len < s->skip ? len : s->skip;
			io_consume(s->io, used);
			s->skip -= used;
			continue;
		}
		if (imap_parser_literal_left(s->p) > 0) {
			data = io_data(s->io, &len);
			if (len == 0)
				return;
			used = imap_parser_literal(s->p, data, len);
			io_consume(s->io, used);
			continue;
		}
		if ((line = io_getline(s->io, &len, &partial)) == NULL)
			return;
		if (s->skipline) {
			s->skipline = partial;
			continue;
		}
		if (partial) {
			/* Over-long line: refuse the command, skip the rest. */
			imap_parser_reset(s->p);
			s->skipline = 1;
			s->tag[0] = '\0';
			s_tagged(s, "BAD", "Command line too long");
			continue;
		}
		s_line(s, line, len);
	}
}

static void
s_line(struct imap_session *s, char *line, size_t len)
{
	const char			*tag, *err;
	enum imap_parse_error		 e;
	const struct imap_command	*cmd;
	uint64_t			 size;
	int				 r, sync, uid;

	if (s->wait == W_SASL) {
		s_sasl_line(s, line, len);
		return;
	}
	if (s->wait == W_IDLE) {
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		s->wait = W_NONE;
		evtimer_del(&s->ev_delay);
		io_set_timeout(s->io, IMAP_TIMEOUT);
		if (strcasecmp(line, "DONE") != 0)
			s_tagged(s, "BAD", "Expected DONE");
		else {
			s_update(s, 1);
			s_tagged(s, "OK", "Idle completed");
		}
		return;
	}
	r = imap_parser_line(s->p, line, len);
	if (r == IMAP_PARSE_LITERAL) {
		size = imap_parser_literal_size(s->p, &sync);
		if (sync)
			s_printf(s, "+ Ready for %llu bytes\r\n",
			    (unsigned long long)size);
		return;
	}
	if (r == IMAP_PARSE_ERROR) {
		tag = imap_parser_tag(s->p);
		err = imap_parser_error(s->p, &e);
		strlcpy(s->tag, tag != NULL ? tag : "*", sizeof(s->tag));
		if (e == IMAP_ERR_TOOBIG) {
			size = imap_parser_literal_size(s->p, &sync);
			if (!sync && size > 0) {
				/* The client sends it anyway: skip it, and
				 * the rest of its command line. */
				s->skip = size;
				s->skipline = 1;
			}
			if (imap_parser_name(s->p, &uid) != NULL &&
			    strcmp(imap_parser_name(s->p, &uid),
			    "APPEND") == 0) {
				s_tagged(s, "NO", "[TOOBIG] Message too large "
				    "(APPENDLIMIT %zu)", conf->max_msg_size);
				return;
			}
		}
		s_tagged(s, "BAD", "%s", err != NULL ? err : "Syntax error");
		return;
	}
	cmd = imap_parser_command(s->p);
	strlcpy(s->tag, cmd->tag, sizeof(s->tag));
	s_command(s, cmd);
}

static void
s_command(struct imap_session *s, const struct imap_command *cmd)
{
	size_t	 i;
	int	 st;

	for (i = 0; i < nitems(commands); i++)
		if (strcmp(commands[i].name, cmd->name) == 0)
			break;
	if (i == nitems(commands) ||
	    (cmd->uid && !(commands[i].flags & CF_UID))) {
		s_tagged(s, "BAD", "Unknown command");
		return;
	}
	st = s->state == S_NOAUTH ? ST_NOAUTH : s->state == S_AUTH ?
	    ST_AUTH : ST_SELECTED;
	if (!(commands[i].flags & st)) {
		s_tagged(s, "BAD", "%s", s->state == S_NOAUTH ?
		    "Log in first" : s->state == S_AUTH ?
		    "No mailbox selected" : "Already logged in");
		return;
	}
	/* A mailbox deleted under us: nothing more can be done with it. */
	if (s->mb != NULL && mbox_gone(s->mb)) {
		s_printf(s, "* BYE Selected mailbox was deleted or renamed\r\n");
		s->state = S_LOGOUT;
		return;
	}
	commands[i].fn(s, cmd);
}

/* A command finished: bring the view up to date where allowed. */
static void
s_done(struct imap_session *s)
{
	if (s->mb != NULL)
		(void)mbox_commit(s->mb);
}

/* -- the view of the selected mailbox -- */

static void
view_add(struct imap_session *s, uint32_t uid)
{
	uint32_t	*v;
	size_t		 nc;

	if (s->nview == s->cview) {
		nc = s->cview ? s->cview * 2 : 64;
		if ((v = reallocarray(s->view, nc, sizeof(*v))) == NULL)
			fatal("reallocarray");
		s->view = v;
		s->cview = nc;
	}
	s->view[s->nview++] = uid;
}

/* Sequence number (1-based) of uid in the view, or 0. */
static uint32_t
view_seq(const struct imap_session *s, uint32_t uid)
{
	size_t	 lo = 0, hi = s->nview, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->view[mid] == uid)
			return mid + 1;
		if (s->view[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static void
flags_render(const struct mbox *mb, uint32_t sys, uint32_t kw, char *buf,
    size_t len)
{
	static const struct {
		uint32_t	 bit;
		const char	*name;
	} sysf[] = {
		{ MFLAG_SEEN, "\\Seen" }, { MFLAG_ANSWERED, "\\Answered" },
		{ MFLAG_FLAGGED, "\\Flagged" }, { MFLAG_DELETED, "\\Deleted" },
		{ MFLAG_DRAFT, "\\Draft" }
	};
	const char	*k;
	size_t		 i;
	int		 first = 1;

	strlcpy(buf, "(", len);
	for (i = 0; i < nitems(sysf); i++)
		if (sys & sysf[i].bit) {
			if (!first)
				strlcat(buf, " ", len);
			strlcat(buf, sysf[i].name, len);
			first = 0;
		}
	for (i = 0; i < MFLAGS_KW_MAX; i++)
		if ((kw & (1U << i)) && (k = mbox_keyword(mb, i)) != NULL) {
			if (!first)
				strlcat(buf, " ", len);
			strlcat(buf, k, len);
			first = 0;
		}
	strlcat(buf, ")", len);
}

static void
s_flags_line(struct imap_session *s, uint32_t seq, const struct mbox_msg *m,
    int uid)
{
	char	 flags[MFLAGS_KW_MAX * (MFLAGS_KW_NAME_MAX + 1) + 64];
	char	 extra[64] = "";

	flags_render(s->mb, m->sys, m->kw, flags, sizeof(flags));
	if (uid || (s->enabled & EN_QRESYNC))
		(void)snprintf(extra, sizeof(extra), " UID %u", m->uid);
	if (s->enabled & EN_CONDSTORE) {
		size_t	 n = strlen(extra);

		(void)snprintf(extra + n, sizeof(extra) - n, " MODSEQ (%llu)",
		    (unsigned long long)m->modseq);
	}
	s_printf(s, "* %u FETCH (FLAGS %s%s)\r\n", seq, flags, extra);
}

/* uid set text ("1:3,7") of a sorted array into an mbuf. */
static void
uidset_text(struct mbuf *b, const uint32_t *u, size_t n)
{
	size_t	 i, j;

	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && u[j] == u[j - 1] + 1; j++)
			;
		if (i > 0)
			mbuf_add(b, ",", 1);
		if (j - i == 1)
			mbuf_printf(b, "%u", u[i]);
		else
			mbuf_printf(b, "%u:%u", u[i], u[j - 1]);
	}
}

/*
 * Report to the client what changed in the mailbox since its view was
 * last brought up to date: expunges (when allowed), new messages, flag
 * changes made by other sessions or programs.
 */
static void
s_update(struct imap_session *s, int expunge_ok)
{
	const struct mbox_msg	*m;
	struct mbuf		 b;
	uint32_t		*gone = NULL, last, cnt, j;
	size_t			 i, k, ngone = 0, before;
	int			 flags;

	if (s->mb == NULL)
		return;
	cnt = mbox_count(s->mb);
	flags = mbox_highestmodseq(s->mb) > s->seen_modseq;
	/*
	 * View and mailbox are both sorted by UID: one merge finds the
	 * expunged messages and the flag changes, with no lookups (a
	 * delivery wakes every IDLE session of a mailbox).
	 */
	for (i = 0, j = 0, k = 0; i < s->nview; i++) {
		while (j < cnt && mbox_msg(s->mb, j)->uid < s->view[i])
			j++;
		if (j < cnt && (m = mbox_msg(s->mb, j))->uid == s->view[i]) {
			if (flags && m->modseq > s->seen_modseq)
				s_flags_line(s, k + 1, m, 0);
			s->view[k++] = s->view[i];
			continue;
		}
		if (!expunge_ok) {
			/* Reported later: the message keeps its number. */
			s->view[k++] = s->view[i];
			continue;
		}
		if (s->enabled & EN_QRESYNC) {
			if ((gone = reallocarray(gone, ngone + 1,
			    sizeof(*gone))) == NULL)
				fatal("reallocarray");
			gone[ngone++] = s->view[i];
		} else
			s_printf(s, "* %zu EXPUNGE\r\n", k + 1);
	}
	s->nview = k;
	if (ngone > 0) {
		memset(&b, 0, sizeof(b));
		mbuf_add(&b, "* VANISHED ", 11);
		uidset_text(&b, gone, ngone);
		mbuf_add(&b, "\r\n", 2);
		io_write(s->io, b.data, b.len);
		mbuf_free(&b);
	}
	free(gone);
	/* New messages: UIDs above the view's last one. */
	before = s->nview;
	last = s->nview > 0 ? s->view[s->nview - 1] : 0;
	for (j = cnt; j > 0; j--)
		if (mbox_msg(s->mb, j - 1)->uid <= last)
			break;
	for (; j < cnt; j++)
		view_add(s, mbox_msg(s->mb, j)->uid);
	if (s->nview != before)
		s_printf(s, "* %zu EXISTS\r\n", s->nview);
	s->seen_modseq = mbox_highestmodseq(s->mb);
}

/* Other sessions of mb: those waiting in IDLE hear of it now. */
static void
s_mbox_changed(struct mbox *mb, struct imap_session *self)
{
	struct imap_session	*s;

	TAILQ_FOREACH(s, &sessions, all)
		if (s != self && s->mb == mb && s->wait == W_IDLE)
			s_update(s, 1);
}

void
imap_session_newmail(const char *dir)
{
	struct imap_session	*s;
	struct mbox		*mb = NULL;

	/* Only a mailbox that someone has open needs a look now. */
	TAILQ_FOREACH(s, &sessions, all)
		if (s->mb != NULL && strcmp(mbox_dir(s->mb), dir) == 0) {
			mb = s->mb;
			break;
		}
	if (mb == NULL)
		return;
	if (mbox_sync(mb) == 1) {
		(void)mbox_commit(mb);
		s_mbox_changed(mb, NULL);
	}
}

static void
s_unselect(struct imap_session *s)
{
	if (s->mb != NULL) {
		(void)mbox_commit(s->mb);
		mbox_close(s->mb);
	}
	s->mb = NULL;
	free(s->view);
	s->view = NULL;
	s->nview = s->cview = 0;
	s->mbname[0] = '\0';
	if (s->state == S_SELECTED)
		s->state = S_AUTH;
}

/* -- any state -- */

static void
cmd_capability(struct imap_session *s, const struct imap_command *cmd)
{
	char	 caps[512];

	if (cmd->nargs != 0) {
		s_tagged(s, "BAD", "CAPABILITY takes no arguments");
		return;
	}
	s_capability(s, caps, sizeof(caps));
	s_printf(s, "* CAPABILITY %s\r\n", caps);
	s_tagged(s, "OK", "Capability completed");
}

static void
cmd_noop(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 0) {
		s_tagged(s, "BAD", "%s takes no arguments", cmd->name);
		return;
	}
	if (s->mb != NULL && mbox_sync(s->mb) == 1)
		s_mbox_changed(s->mb, s);
	s_update(s, 1);
	s_done(s);
	s_tagged(s, "OK", "%s completed", cmd->name);
}

static void
cmd_logout(struct imap_session *s, const struct imap_command *cmd)
{
	(void)cmd;
	s_printf(s, "* BYE Logging out\r\n");
	s_tagged(s, "OK", "Logout completed");
	s->state = S_LOGOUT;
}

static void
cmd_id(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg	*a = cmd->args;

	if (cmd->nargs != 1 || (a->type != IMAP_ARG_NIL &&
	    a->type != IMAP_ARG_LIST) || (a->type == IMAP_ARG_LIST &&
	    (a->nlist % 2 != 0 || a->nlist > 60))) {
		s_tagged(s, "BAD", "ID takes a list of field-value pairs or NIL");
		return;
	}
	s_printf(s, "* ID (\"name\" \"maild\" \"version\" \"%s\")\r\n",
	    MAILD_VERSION);
	s_tagged(s, "OK", "ID completed");
}

static void
cmd_starttls(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 0) {
		s_tagged(s, "BAD", "STARTTLS takes no arguments");
		return;
	}
	if (s->io->tls != NULL || !(s->l->flags & (L_TLS | L_TLS_REQUIRE))) {
		s_tagged(s, "BAD", "TLS is already active or not offered");
		return;
	}
	if ((s->tls = srv_tls_get(s->l)) == NULL) {
		s_tagged(s, "NO", "[UNAVAILABLE] TLS not available");
		return;
	}
	s_tagged(s, "OK", "Begin TLS negotiation now");
	/* The handshake starts once the OK is out (s_io, IO_LOWAT). */
	s->wait = W_STARTTLS;
}

static int
s_plaintext_refused(struct imap_session *s)
{
	if (s->io->tls != NULL)
		return 0;
	s_tagged(s, "NO", "[PRIVACYREQUIRED] Use STARTTLS first");
	return 1;
}

static void
cmd_login(struct imap_session *s, const struct imap_command *cmd)
{
	const char	*user, *pass;
	size_t		 ulen, plen;

	if (cmd->nargs != 2 ||
	    imap_arg_astring(cmd->args, &user, &ulen) == -1 ||
	    imap_arg_astring(cmd->args->next, &pass, &plen) == -1) {
		s_tagged(s, "BAD", "LOGIN takes a user name and a password");
		return;
	}
	if (s_plaintext_refused(s))
		return;
	if (memchr(user, '\0', ulen) != NULL) {
		s_tagged(s, "BAD", "NUL in user name");
		return;
	}
	s_login(s, user, pass, plen);
}

static void
cmd_authenticate(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg	*a = cmd->args;
	const char		*ir;
	size_t			 len;

	if (cmd->nargs < 1 || cmd->nargs > 2 || a->type != IMAP_ARG_ATOM) {
		s_tagged(s, "BAD", "AUTHENTICATE takes a mechanism");
		return;
	}
	if (strcasecmp(a->str, "PLAIN") != 0) {
		s_tagged(s, "NO", "Unsupported authentication mechanism");
		return;
	}
	if (s_plaintext_refused(s))
		return;
	if (cmd->nargs == 2) {
		if (imap_arg_astring(a->next, &ir, &len) == -1) {
			s_tagged(s, "BAD", "Bad initial response");
			return;
		}
		s_sasl_line(s, (char *)(uintptr_t)ir, len);
		return;
	}
	s->wait = W_SASL;
	s_printf(s, "+ \r\n");
}

/* The PLAIN response (RFC 4616): [authzid] NUL authcid NUL passwd. */
static void
s_sasl_line(struct imap_session *s, char *line, size_t len)
{
	char		 buf[SASL_MAX + 1];
	const char	*user, *pass;
	size_t		 n, plen;
	int		 r;

	s->wait = W_NONE;
	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	if (len == 1 && line[0] == '*') {
		s_tagged(s, "BAD", "Authentication cancelled");
		return;
	}
	if (sasl_decode(line, len, buf, &n) == -1) {
		s_tagged(s, "BAD", "Invalid base64 data");
		return;
	}
	if ((r = sasl_plain(buf, n, &user, &pass, &plen)) == SASL_AUTHZ)
		s_tagged(s, "NO", "[AUTHORIZATIONFAILED] Cannot act as "
		    "another user");
	else if (r != SASL_OK)
		s_tagged(s, "NO", "[AUTHENTICATIONFAILED] Malformed "
		    "PLAIN response");
	else
		s_login(s, user, pass, plen);
	explicit_bzero(buf, sizeof(buf));
}

/* Hand the password to the lookup process; the answer comes later. */
static void
s_login(struct imap_session *s, const char *user, const char *pass,
    size_t plen)
{
	struct ipc_buf	*b;

	if (strlen(user) > ADDR_MAX || plen > 1024) {
		s_tagged(s, "NO", "[AUTHENTICATIONFAILED] Authentication "
		    "failed");
		return;
	}
	if ((b = malloc(sizeof(*b))) == NULL)
		fatal("malloc");
	ipc_buf_init(b);
	ipc_add_u64(b, s->id);
	ipc_add_u32(b, AUTHF_MAILDIR);
	ipc_add_str(b, s->l->authtable);
	ipc_add_str(b, user);
	ipc_add_u32(b, plen);
	ipc_add(b, pass, plen);
	s->authcounted = srv_auth_send(&s->ss, user, b);
	explicit_bzero(b, sizeof(*b));
	free(b);
	if (s->authcounted == AUTH_THROTTLED) {
		log_info("imap %llu: login %s from %s throttled",
		    (unsigned long long)s->id, user, s->addr);
		s_tagged(s, "NO", "[UNAVAILABLE] Too many login attempts, try "
		    "again later");
		return;
	}
	strlcpy(s->user, user, sizeof(s->user));
	s->wait = W_LOOKUP;
	io_pause(s->io);
}

static void
s_delay_done(int fd, short ev, void *arg)
{
	struct imap_session	*s = arg;
	struct timeval		 tv = { IMAP_IDLE_KEEPALIVE, 0 };

	(void)fd;
	(void)ev;
	if (s->wait != W_IDLE)
		return;
	/* NAT boxes forget quiet connections (Dovecot does this). */
	s_printf(s, "* OK Still here\r\n");
	evtimer_add(&s->ev_delay, &tv);
}

/* The directories above path (its last component is not made). */
static int
mkdirs(const char *path)
{
	char	 buf[PATH_MAX], *p;

	if (strlcpy(buf, path, sizeof(buf)) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((p = strrchr(buf, '/')) == NULL || p == buf)
		return 0;
	*p = '\0';
	return safe_mkdirs(buf, 0700);
}

static int	subs_change(struct imap_session *, const char *, int);

/*
 * NO for a mailbox mbox_open() refused, by its errno: missing (the
 * text given), a symbolic link in its path (never followed), or else.
 */
static void
s_mbox_refused(struct imap_session *s, const char *missing)
{
	if (errno == ENOENT)
		s_tagged(s, "NO", "%s", missing);
	else if (errno == ELOOP)
		s_tagged(s, "NO", "[NOPERM] Mailbox refused: symbolic link "
		    "in its path");
	else
		s_tagged(s, "NO", "[SERVERBUG] Cannot open mailbox");
}

/*
 * First use of a mailbox: the Maildir itself (a user may log in before
 * any mail arrived) and, once, the SPECIAL-USE folders, subscribed.
 */
static int
s_home_setup(struct imap_session *s)
{
	struct mbox	*mb;
	struct stat	 st;
	char		 path[PATH_MAX], dir[MAILBOX_DIR_MAX + 1];
	size_t		 i;
	int		 fd;

	if (mkdirs(s->home) == -1 || (mb = mbox_open(s->home, 1)) == NULL)
		return -1;
	mbox_close(mb);
	if (snprintf(path, sizeof(path), "%s/maild-specials", s->home) >=
	    (int)sizeof(path))
		return -1;
	if (safe_lstat(path, &st) == 0)
		return 0;
	for (i = 0; i < mailbox_nspecials; i++) {
		if (mailbox_name_to_dir(mailbox_specials[i].name,
		    MAILBOX_UTF8, dir, sizeof(dir), NULL) == -1)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", s->home, dir) >=
		    (int)sizeof(path))
			continue;
		if (mbox_create(path) == -1 && errno != EEXIST)
			log_warn("imap: %s: create %s", s->user, path);
		(void)subs_change(s, mailbox_specials[i].name, 1);
	}
	if (snprintf(path, sizeof(path), "%s/maild-specials", s->home) <
	    (int)sizeof(path) && (fd = safe_open(path, O_WRONLY | O_CREAT |
	    O_TRUNC, 0600)) != -1)
		close(fd);
	return 0;
}

static int
s_user_sessions(const char *user)
{
	struct imap_session	*s;
	int			 n = 0;

	TAILQ_FOREACH(s, &sessions, all)
		if (s->state >= S_AUTH && s->state != S_LOGOUT &&
		    strcmp(s->user, user) == 0)
			n++;
	return n;
}

void
imap_session_auth_result(uint64_t id, uint32_t res, const char *user,
    const char *home)
{
	struct imap_session	*s;
	char			 caps[512];
	int			 saved;

	if ((s = s_find(id)) == NULL || s->wait != W_LOOKUP)
		return;		/* gone meanwhile */
	s->wait = W_NONE;
	if (res == AUTH_TEMPFAIL) {
		log_warnx("imap %llu: login %s from %s: temporary failure",
		    (unsigned long long)s->id, s->user, s->addr);
		s_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try "
		    "again later");
		io_resume(s->io);
		return;
	}
	if (res != AUTH_OK) {
		STAT_INC(ST_IMAP_AUTH_FAIL);
		log_info("imap %llu: login %s from %s failed",
		    (unsigned long long)s->id, s->user, s->addr);
		/* Slower and slower for guessers: their next check waits. */
		srv_auth_failed(&s->ss, s->user, s->authcounted);
		s->user[0] = '\0';
		s_tagged(s, "NO", "[AUTHENTICATIONFAILED] Authentication "
		    "failed");
		io_resume(s->io);
		return;
	}
	STAT_INC(ST_IMAP_AUTH_OK);
	srv_auth_ok(&s->ss, user);
	strlcpy(s->user, user, sizeof(s->user));
	if (s_user_sessions(user) >= conf->imap_max_per_user) {
		s->user[0] = '\0';
		s_tagged(s, "NO", "[LIMIT] Too many connections for this user");
		io_resume(s->io);
		return;
	}
	if (strlcpy(s->home, home, sizeof(s->home)) >= sizeof(s->home) ||
	    s_home_setup(s) == -1) {
		saved = errno;
		log_warn("imap %llu: %s: mailbox %s", (unsigned long long)s->id,
		    user, home);
		s->user[0] = '\0';
		if (saved == ELOOP)
			s_tagged(s, "NO", "[UNAVAILABLE] Mailbox refused: "
			    "symbolic link in its path");
		else
			s_tagged(s, "NO", "[UNAVAILABLE] Mailbox not "
			    "available");
		io_resume(s->io);
		return;
	}
	log_info("imap %llu: login %s from %s", (unsigned long long)s->id,
	    user, s->addr);
	s->state = S_AUTH;
	s_limits(s);
	io_set_timeout(s->io, IMAP_TIMEOUT);
	io_set_line_deadline(s->io, 0);		/* literals may be slow */
	s_capability(s, caps, sizeof(caps));
	s_tagged(s, "OK", "[CAPABILITY %s] Logged in", caps);
	io_resume(s->io);
}

static void
cmd_enable(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg	*a;
	char			 out[128] = "";
	int			 bit;

	if (cmd->nargs == 0) {
		s_tagged(s, "BAD", "ENABLE needs a capability");
		return;
	}
	for (a = cmd->args; a != NULL; a = a->next) {
		if (a->type != IMAP_ARG_ATOM) {
			s_tagged(s, "BAD", "ENABLE takes capability names");
			return;
		}
		if (strcasecmp(a->str, "CONDSTORE") == 0)
			bit = EN_CONDSTORE;
		else if (strcasecmp(a->str, "QRESYNC") == 0)
			bit = EN_QRESYNC | EN_CONDSTORE;
		else if (strcasecmp(a->str, "IMAP4rev2") == 0)
			bit = EN_REV2;
		else
			continue;	/* unknown: ignored (RFC 5161) */
		if ((s->enabled & bit) == bit)
			continue;
		s->enabled |= bit;
		strlcat(out, " ", sizeof(out));
		strlcat(out, bit == EN_CONDSTORE ? "CONDSTORE" :
		    bit == EN_REV2 ? "IMAP4rev2" : "QRESYNC", sizeof(out));
	}
	s_printf(s, "* ENABLED%s\r\n", out);
	s_tagged(s, "OK", "Enabled");
}

static void
cmd_namespace(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 0) {
		s_tagged(s, "BAD", "NAMESPACE takes no arguments");
		return;
	}
	s_printf(s, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
	s_tagged(s, "OK", "Namespace completed");
}

/* -- mailboxes -- */

/*
 * The client's mailbox argument: its canonical name (may be NULL) and
 * the path of its Maildir.  On error the tagged answer has been sent.
 */
static int
s_mailbox_arg(struct imap_session *s, const struct imap_arg *a, char *name,
    size_t namesz, char *path, size_t pathsz)
{
	const char	*str, *err = "Invalid mailbox name";
	char		 canon[MAILBOX_NAME_MAX + 1], dir[MAILBOX_DIR_MAX + 1];
	int		 r;

	if (a == NULL || imap_arg_mailbox(a, 0, &str) == -1) {
		s_tagged(s, "BAD", "Invalid mailbox name");
		return -1;
	}
	if (mailbox_name_canon(str, 0, canon, sizeof(canon), &err) == -1 ||
	    mailbox_name_to_dir(str, 0, dir, sizeof(dir), &err) == -1) {
		s_tagged(s, "NO", "[CANNOT] %s", err);
		return -1;
	}
	if (name != NULL && strlcpy(name, canon, namesz) >= namesz) {
		s_tagged(s, "NO", "[CANNOT] Mailbox name too long");
		return -1;
	}
	if (strcmp(dir, ".") == 0)
		r = snprintf(path, pathsz, "%s", s->home);
	else
		r = snprintf(path, pathsz, "%s/%s", s->home, dir);
	if (r < 0 || (size_t)r >= pathsz) {
		s_tagged(s, "NO", "[CANNOT] Mailbox name too long");
		return -1;
	}
	return 0;
}

/* "(\Seen \Answered ... kw)" of the mailbox's flags, for FLAGS. */
static void
s_flag_list(struct imap_session *s, char *buf, size_t len, int perm)
{
	const char	*k;
	int		 i;

	strlcpy(buf, "(\\Answered \\Flagged \\Deleted \\Seen \\Draft", len);
	for (i = 0; i < MFLAGS_KW_MAX; i++)
		if ((k = mbox_keyword(s->mb, i)) != NULL) {
			strlcat(buf, " ", len);
			strlcat(buf, k, len);
		}
	if (perm && mbox_keyword_count(s->mb) < MFLAGS_KW_MAX)
		strlcat(buf, " \\*", len);
	strlcat(buf, ")", len);
}

/* Append range [lo, hi] to a growing range list. */
static void
ranges_add(struct imap_seqrange **r, size_t *n, uint32_t lo, uint32_t hi)
{
	if (*n > 0 && (*r)[*n - 1].hi + 1 == lo) {
		(*r)[*n - 1].hi = hi;
		return;
	}
	if ((*r = reallocarray(*r, *n + 1, sizeof(**r))) == NULL)
		fatal("reallocarray");
	(*r)[*n].lo = lo;
	(*r)[*n].hi = hi;
	(*n)++;
}

/*
 * "* VANISHED (EARLIER) ..." for the UIDs expunged after modseq, within
 * only (NULL: any).  Without a history that reaches back so far, every
 * UID below UIDNEXT that is not in the mailbox is reported: more than
 * the client needs, which RFC 7162 allows, and never less.
 */
static void
s_vanished_earlier(struct imap_session *s, uint64_t modseq,
    const struct imap_seqset *only)
{
	struct imap_seqrange	*r = NULL, *o = NULL;
	struct mbuf		 b;
	uint32_t		*gone = NULL, next = 1, u, lo, hi;
	size_t			 ngone = 0, n = 0, no = 0, i, j;

	if (mbox_vanished_since(s->mb, modseq, &gone, &ngone) == 0) {
		for (i = 0; i < ngone; i++)
			ranges_add(&r, &n, gone[i], gone[i]);
	} else {
		for (i = 0; i < mbox_count(s->mb); i++) {
			u = mbox_msg(s->mb, i)->uid;
			if (u > next)
				ranges_add(&r, &n, next, u - 1);
			next = u + 1;
		}
		if (next < mbox_uidnext(s->mb))
			ranges_add(&r, &n, next, mbox_uidnext(s->mb) - 1);
	}
	free(gone);
	if (only != NULL) {
		/* Intersection of two sorted lists of disjoint ranges. */
		for (i = 0, j = 0; i < n && j < only->n;) {
			lo = r[i].lo > only->r[j].lo ? r[i].lo : only->r[j].lo;
			hi = r[i].hi < only->r[j].hi ? r[i].hi : only->r[j].hi;
			if (lo <= hi)
				ranges_add(&o, &no, lo, hi);
			if (r[i].hi < only->r[j].hi)
				i++;
			else
				j++;
		}
		free(r);
		r = o;
		n = no;
	}
	if (n > 0) {
		memset(&b, 0, sizeof(b));
		mbuf_add(&b, "* VANISHED (EARLIER) ", 21);
		for (i = 0; i < n; i++) {
			if (r[i].lo == r[i].hi)
				mbuf_printf(&b, "%s%u", i ? "," : "", r[i].lo);
			else
				mbuf_printf(&b, "%s%u:%u", i ? "," : "",
				    r[i].lo, r[i].hi);
		}
		mbuf_add(&b, "\r\n", 2);
		io_write(s->io, b.data, b.len);
		mbuf_free(&b);
	}
	free(r);
}

/* SELECT (QRESYNC (uidvalidity modseq [known-uids])): what changed. */
static void
s_qresync(struct imap_session *s, const struct imap_arg *q)
{
	const struct imap_arg	*a = q->list;
	const struct mbox_msg	*m;
	struct imap_seqset	 known;
	const char		*err;
	unsigned long long	 uv, ms;
	char			*end;
	size_t			 i;
	long			 idx;
	int			 have_known = 0;

	errno = 0;
	uv = strtoull(a->str, &end, 10);
	if (*end != '\0' || errno != 0 || uv != mbox_uidvalidity(s->mb))
		return;		/* the client must resync from scratch */
	ms = strtoull(a->next->str, &end, 10);
	if (*end != '\0' || errno != 0)
		return;
	if (a->next->next != NULL && a->next->next->type == IMAP_ARG_ATOM &&
	    imap_seqset_parse(a->next->next->str, UINT32_MAX, &known,
	    &err) == 0)
		have_known = 1;
	s_vanished_earlier(s, ms, have_known ? &known : NULL);
	if (have_known)
		imap_seqset_free(&known);
	for (i = 0; i < s->nview; i++) {
		if ((idx = mbox_find(s->mb, s->view[i])) < 0)
			continue;
		m = mbox_msg(s->mb, idx);
		if (m->modseq > ms)
			s_flags_line(s, i + 1, m, 1);
	}
}

static void
cmd_select(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg	*opt = NULL, *q = NULL, *a;
	struct mbox		*mb;
	char			 name[MAILBOX_NAME_MAX + 1], path[PATH_MAX];
	char			 flags[MFLAGS_KW_MAX * (MFLAGS_KW_NAME_MAX + 1) +
				    64];
	uint32_t		 i, n;
	long			 first;
	int			 examine = strcmp(cmd->name, "EXAMINE") == 0;

	if (cmd->nargs < 1 || cmd->nargs > 2) {
		s_tagged(s, "BAD", "%s takes a mailbox name", cmd->name);
		return;
	}
	if (cmd->nargs == 2) {
		if ((opt = cmd->args->next)->type != IMAP_ARG_LIST) {
			s_tagged(s, "BAD", "Bad select parameters");
			return;
		}
		for (a = opt->list; a != NULL; a = a->next) {
			if (a->type == IMAP_ARG_ATOM &&
			    strcasecmp(a->str, "CONDSTORE") == 0)
				continue;
			if (a->type == IMAP_ARG_ATOM &&
			    strcasecmp(a->str, "QRESYNC") == 0 &&
			    a->next != NULL && a->next->type == IMAP_ARG_LIST &&
			    a->next->nlist >= 2 &&
			    a->next->list->type == IMAP_ARG_ATOM &&
			    a->next->list->next->type == IMAP_ARG_ATOM) {
				if (!(s->enabled & EN_QRESYNC)) {
					s_tagged(s, "BAD", "Enable QRESYNC "
					    "first");
					return;
				}
				q = a = a->next;
				continue;
			}
			s_tagged(s, "BAD", "Bad select parameters");
			return;
		}
	}
	/* The previous mailbox is closed even if this SELECT fails. */
	if (s->mb != NULL) {
		s_unselect(s);
		if (s->enabled & EN_QRESYNC)
			s_printf(s, "* OK [CLOSED] Previous mailbox closed\r\n");
	}
	if (s_mailbox_arg(s, cmd->args, name, sizeof(name), path,
	    sizeof(path)) == -1)
		return;
	if ((mb = mbox_open(path, 0)) == NULL) {
		s_mbox_refused(s, "[NONEXISTENT] No such mailbox");
		return;
	}
	if (opt != NULL)
		s->enabled |= EN_CONDSTORE;	/* CONDSTORE enabling SELECT */
	s->mb = mb;
	s->readonly = examine;
	strlcpy(s->mbname, name, sizeof(s->mbname));
	s->state = S_SELECTED;
	n = mbox_count(mb);
	for (i = 0; i < n; i++)
		view_add(s, mbox_msg(mb, i)->uid);
	s->seen_modseq = mbox_highestmodseq(mb);

	s_flag_list(s, flags, sizeof(flags), 0);
	s_printf(s, "* FLAGS %s\r\n", flags);
	s_flag_list(s, flags, sizeof(flags), 1);
	s_printf(s, "* OK [PERMANENTFLAGS %s] Flags permitted\r\n",
	    examine ? "()" : flags);
	s_printf(s, "* %u EXISTS\r\n", n);
	if (!(s->enabled & EN_REV2)) {
		s_printf(s, "* 0 RECENT\r\n");
		if ((first = mbox_first_unseen(mb)) >= 0)
			s_printf(s, "* OK [UNSEEN %ld] First unseen\r\n",
			    first + 1);
	}
	s_printf(s, "* OK [UIDVALIDITY %u] UIDs valid\r\n",
	    mbox_uidvalidity(mb));
	s_printf(s, "* OK [UIDNEXT %u] Predicted next UID\r\n",
	    mbox_uidnext(mb));
	s_printf(s, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
	    (unsigned long long)mbox_highestmodseq(mb));
	if (s->enabled & EN_REV2) {
		char	 ex[MAILBOX_WIRE_MAX + 1], enc[MAILBOX_WIRE_MAX + 64];

		if (mailbox_name_export(name, 0, ex, sizeof(ex)) == 0 &&
		    imap_encode_string(enc, sizeof(enc), ex, strlen(ex), 0) <
		    sizeof(enc))
			s_printf(s, "* LIST () \"/\" %s\r\n", enc);
	}
	if (q != NULL)
		s_qresync(s, q);
	s_tagged(s, "OK", "[%s] %s completed", examine ? "READ-ONLY" :
	    "READ-WRITE", cmd->name);
}

static void
cmd_close(struct imap_session *s, const struct imap_command *cmd)
{
	const struct mbox_msg	*m;
	uint32_t		 i;

	if (cmd->nargs != 0) {
		s_tagged(s, "BAD", "%s takes no arguments", cmd->name);
		return;
	}
	/* CLOSE expunges silently; UNSELECT does not. */
	if (strcmp(cmd->name, "CLOSE") == 0 && !s->readonly) {
		for (i = mbox_count(s->mb); i > 0; i--) {
			m = mbox_msg(s->mb, i - 1);
			if ((m->sys & MFLAG_DELETED) &&
			    view_seq(s, m->uid) != 0)
				(void)mbox_expunge(s->mb, i - 1);
		}
		s_mbox_changed(s->mb, s);
	}
	s_unselect(s);
	s_tagged(s, "OK", "%s completed", cmd->name);
}

/* A mailbox name as the client reads it: quoted or a literal. */
static int
s_name_out(const char *name, char *out, size_t outsz)
{
	char	 ex[MAILBOX_WIRE_MAX + 1];

	if (mailbox_name_export(name, 0, ex, sizeof(ex)) == -1)
		return -1;
	if (imap_encode_string(out, outsz, ex, strlen(ex), 0) >= outsz)
		return -1;
	return 0;
}

/* Is a mailbox directory (or one below it) selected by a session? */
static int
s_path_busy(const char *path, const struct imap_session *except)
{
	struct imap_session	*s;
	size_t			 len = strlen(path);
	const char		*d;

	TAILQ_FOREACH(s, &sessions, all) {
		if (s == except || s->mb == NULL)
			continue;
		d = mbox_dir(s->mb);
		if (strncmp(d, path, len) == 0 &&
		    (d[len] == '\0' || d[len] == '.'))
			return 1;
	}
	return 0;
}

static void
cmd_create(struct imap_session *s, const struct imap_command *cmd)
{
	struct imap_arg	 a;
	const char	*str;
	char		 name[MAILBOX_WIRE_MAX + 1], path[PATH_MAX];
	size_t		 len;

	if (cmd->nargs < 1 || cmd->nargs > 2 ||
	    imap_arg_mailbox(cmd->args, 0, &str) == -1) {
		s_tagged(s, "BAD", "CREATE takes a mailbox name");
		return;
	}
	/* "foo/" announces a parent: Maildir++ needs no directory for it. */
	if (strlcpy(name, str, sizeof(name)) >= sizeof(name)) {
		s_tagged(s, "NO", "[CANNOT] Mailbox name too long");
		return;
	}
	len = strlen(name);
	if (len > 1 && name[len - 1] == MAILBOX_SEP)
		name[--len] = '\0';
	a = *cmd->args;
	a.type = IMAP_ARG_QUOTED;
	a.str = name;
	a.len = len;
	a.next = NULL;
	if (s_mailbox_arg(s, &a, NULL, 0, path, sizeof(path)) == -1)
		return;
	if (strcmp(path, s->home) == 0) {
		s_tagged(s, "NO", "[ALREADYEXISTS] INBOX always exists");
		return;
	}
	if (mbox_create(path) == -1) {
		if (errno == EEXIST)
			s_tagged(s, "NO", "[ALREADYEXISTS] Mailbox exists");
		else if (errno == ENOSPC || errno == EDQUOT)
			s_tagged(s, "NO", "[OVERQUOTA] No space left");
		else
			s_tagged(s, "NO", "[SERVERBUG] Cannot create mailbox");
		return;
	}
	s_tagged(s, "OK", "Create completed");
}

static void
cmd_delete(struct imap_session *s, const struct imap_command *cmd)
{
	struct mbox	*mb;
	char		 path[PATH_MAX];

	if (cmd->nargs != 1) {
		s_tagged(s, "BAD", "DELETE takes a mailbox name");
		return;
	}
	if (s_mailbox_arg(s, cmd->args, NULL, 0, path, sizeof(path)) == -1)
		return;
	if (strcmp(path, s->home) == 0) {
		s_tagged(s, "NO", "[CANNOT] INBOX cannot be deleted");
		return;
	}
	if (s->mb != NULL && strcmp(mbox_dir(s->mb), path) == 0)
		s_unselect(s);
	/* Sessions that have it selected are told at their next command. */
	if ((mb = mbox_open(path, 0)) == NULL) {
		s_mbox_refused(s, "[NONEXISTENT] No such mailbox");
		return;
	}
	mbox_set_gone(mb);
	mbox_close(mb);
	if (mbox_remove(path) == -1) {
		log_warn("imap %llu: delete %s", (unsigned long long)s->id,
		    path);
		s_tagged(s, "NO", "[SERVERBUG] Cannot delete mailbox");
		return;
	}
	s_tagged(s, "OK", "Delete completed");
}

/* RENAME INBOX: its messages move to a new folder, INBOX stays. */
static void
s_rename_inbox(struct imap_session *s, const char *to)
{
	struct mbox	*src, *dst;
	uint32_t	 uid;
	int		 saved;

	if (mbox_create(to) == -1) {
		if (errno == EEXIST)
			s_tagged(s, "NO", "[ALREADYEXISTS] Mailbox exists");
		else
			s_mbox_refused(s, "[SERVERBUG] Cannot create mailbox");
		return;
	}
	if ((src = mbox_open(s->home, 0)) == NULL ||
	    (dst = mbox_open(to, 0)) == NULL) {
		saved = errno;
		if (src != NULL)
			mbox_close(src);
		errno = saved;
		s_mbox_refused(s, "[SERVERBUG] Cannot open mailbox");
		return;
	}
	while (mbox_count(src) > 0) {
		if (mbox_copy(src, 0, dst, &uid) == -1 ||
		    mbox_expunge(src, 0) == -1)
			break;
	}
	(void)mbox_commit(dst);
	(void)mbox_commit(src);
	s_mbox_changed(src, s);
	mbox_close(dst);
	mbox_close(src);
	if (s->mb != NULL)
		s_update(s, 1);
	s_tagged(s, "OK", "Rename completed");
}

static void
cmd_rename(struct imap_session *s, const struct imap_command *cmd)
{
	struct stat	 st;
	struct dirent	*de;
	struct mbox	*mb;
	DIR		*d;
	char		 from[PATH_MAX], to[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
	const char	*fdir, *tdir;
	size_t		 flen, hlen = strlen(s->home), i, n = 0;
	char		**names = NULL;
	int		 pass, r, failed = 0;

	if (cmd->nargs != 2) {
		s_tagged(s, "BAD", "RENAME takes two mailbox names");
		return;
	}
	if (s_mailbox_arg(s, cmd->args, NULL, 0, from, sizeof(from)) == -1 ||
	    s_mailbox_arg(s, cmd->args->next, NULL, 0, to, sizeof(to)) == -1)
		return;
	if (strcmp(to, s->home) == 0) {
		s_tagged(s, "NO", "[ALREADYEXISTS] INBOX exists");
		return;
	}
	if (strcmp(from, s->home) == 0) {
		s_rename_inbox(s, to);
		return;
	}
	if ((r = safe_lstat(from, &st)) == 0 && S_ISLNK(st.st_mode)) {
		errno = ELOOP;
		r = -1;
	}
	if (r == -1 || !S_ISDIR(st.st_mode)) {
		if (r == -1 && errno == ELOOP)
			s_mbox_refused(s, "");
		else
			s_tagged(s, "NO", "[NONEXISTENT] No such mailbox");
		return;
	}
	if (s_path_busy(from, NULL)) {
		s_tagged(s, "NO", "[INUSE] Mailbox is selected");
		return;
	}
	fdir = from + hlen + 1;		/* ".A" */
	tdir = to + hlen + 1;
	flen = strlen(fdir);
	/* A folder may not become its own child. */
	if (strncmp(tdir, fdir, flen) == 0 && tdir[flen] == '.') {
		s_tagged(s, "NO", "[CANNOT] Cannot move a mailbox into itself");
		return;
	}
	if ((d = safe_opendir(s->home)) == NULL) {
		s_tagged(s, "NO", "[SERVERBUG] Cannot read mailboxes");
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, fdir, flen) != 0 ||
		    (de->d_name[flen] != '\0' && de->d_name[flen] != '.'))
			continue;
		if ((names = reallocarray(names, n + 1, sizeof(*names))) ==
		    NULL || (names[n] = strdup(de->d_name)) == NULL)
			fatal("strdup");
		n++;
	}
	closedir(d);
	/* Check every target first, then rename: all or (almost) none. */
	for (pass = 0; pass < 2 && !failed; pass++)
		for (i = 0; i < n && !failed; i++) {
			if (snprintf(a, sizeof(a), "%s/%s", s->home,
			    names[i]) >= (int)sizeof(a) ||
			    snprintf(b, sizeof(b), "%s/%s%s", s->home, tdir,
			    names[i] + flen) >= (int)sizeof(b) ||
			    strlen(b) - hlen - 1 > MAILBOX_DIR_MAX) {
				s_tagged(s, "NO", "[CANNOT] Name too long");
				failed = 1;
			} else if (pass == 0 && (safe_lstat(b, &st) == 0 ||
			    errno != ENOENT)) {
				s_tagged(s, "NO", "[ALREADYEXISTS] Mailbox "
				    "exists");
				failed = 1;
			} else if (pass == 1) {
				/* Forget what was open under the old name. */
				if ((mb = mbox_open(a, 0)) != NULL) {
					mbox_set_gone(mb);
					mbox_close(mb);
				}
				if (safe_rename(a, b) == -1) {
					log_warn("imap: rename %s", a);
					s_tagged(s, "NO", "[SERVERBUG] "
					    "Rename failed");
					failed = 1;
				} else
					(void)mbox_renew_uidvalidity(b);
			}
		}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (!failed)
		s_tagged(s, "OK", "Rename completed");
}

/* -- subscriptions: one canonical name a line in maild-subscriptions -- */

#define SUBS_FILE	"maild-subscriptions"
#define DOVECOT_SUBS_FILE "subscriptions"
#define SUBS_MAX	(1024 * 1024)

static char *
subs_read(struct imap_session *s, size_t *lenp)
{
	char	 path[PATH_MAX], *buf, *subs;
	size_t	 len;
	int	 fd;

	*lenp = 0;
	if (snprintf(path, sizeof(path), "%s/%s", s->home, SUBS_FILE) >=
	    (int)sizeof(path))
		return NULL;
	if ((fd = safe_open(path, O_RDONLY, 0)) != -1) {
		buf = read_fd(fd, SUBS_MAX, lenp);
		close(fd);
		return buf;
	}
	/*
	 * None yet: a Maildir Dovecot served has its own list, which is
	 * read (and written as ours at the first change), so clients keep
	 * showing the folders their user subscribed to.
	 */
	if (errno != ENOENT || snprintf(path, sizeof(path), "%s/%s", s->home,
	    DOVECOT_SUBS_FILE) >= (int)sizeof(path) ||
	    (fd = safe_open(path, O_RDONLY, 0)) == -1)
		return NULL;
	buf = read_fd(fd, SUBS_MAX, &len);
	close(fd);
	if (buf == NULL)
		return NULL;
	subs = mailbox_dovecot_subs(buf, len, lenp);
	free(buf);
	return subs;
}

/* 1 if name is a line of the subscriptions text. */
static int
subs_has(const char *buf, size_t len, const char *name)
{
	const char	*p = buf, *e, *end;
	size_t		 n = strlen(name);

	if (buf == NULL)
		return 0;
	end = buf + len;

	for (; p != NULL && p < end; p = e + 1) {
		if ((e = memchr(p, '\n', end - p)) == NULL)
			e = end;
		if ((size_t)(e - p) == n && memcmp(p, name, n) == 0)
			return 1;
	}
	return 0;
}

/* 1 if a name below name ("name/...") is in the subscriptions text. */
static int
subs_has_child(const char *buf, size_t len, const char *name)
{
	const char	*p = buf, *e, *end;
	size_t		 n = strlen(name);

	if (buf == NULL)
		return 0;
	end = buf + len;

	for (; p != NULL && p < end; p = e + 1) {
		if ((e = memchr(p, '\n', end - p)) == NULL)
			e = end;
		if ((size_t)(e - p) > n + 1 && memcmp(p, name, n) == 0 &&
		    p[n] == MAILBOX_SEP)
			return 1;
	}
	return 0;
}

static int
subs_change(struct imap_session *s, const char *name, int add)
{
	struct mbuf	 out;
	char		 path[PATH_MAX], tmp[PATH_MAX], *buf;
	const char	*p, *e, *end;
	size_t		 len, n = strlen(name);
	int		 fd, r = -1;

	buf = subs_read(s, &len);
	if ((subs_has(buf, len, name) != 0) == add) {
		free(buf);
		return 0;
	}
	memset(&out, 0, sizeof(out));
	mbuf_add(&out, "", 0);
	end = buf != NULL ? buf + len : NULL;
	for (p = buf; p != NULL && p < end; p = e + 1) {
		if ((e = memchr(p, '\n', end - p)) == NULL)
			e = end;
		if (e == p || ((size_t)(e - p) == n && memcmp(p, name, n) == 0))
			continue;
		mbuf_add(&out, p, e - p);
		mbuf_add(&out, "\n", 1);
	}
	if (add)
		mbuf_printf(&out, "%s\n", name);
	free(buf);
	if (snprintf(path, sizeof(path), "%s/%s", s->home, SUBS_FILE) >=
	    (int)sizeof(path) || snprintf(tmp, sizeof(tmp), "%s/tmp/%s.%llu",
	    s->home, SUBS_FILE, (unsigned long long)s->id) >= (int)sizeof(tmp))
		goto done;
	if ((fd = safe_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		goto done;
	if (write_full(fd, out.data, out.len) == -1 || fsync(fd) == -1) {
		close(fd);
		(void)safe_unlink(tmp);
		goto done;
	}
	close(fd);
	if (safe_rename(tmp, path) == -1)
		(void)safe_unlink(tmp);
	else
		r = 0;
done:
	mbuf_free(&out);
	return r;
}

static void
cmd_subscribe(struct imap_session *s, const struct imap_command *cmd)
{
	char	 name[MAILBOX_NAME_MAX + 1], path[PATH_MAX];
	int	 add = strcmp(cmd->name, "SUBSCRIBE") == 0;

	if (cmd->nargs != 1) {
		s_tagged(s, "BAD", "%s takes a mailbox name", cmd->name);
		return;
	}
	if (s_mailbox_arg(s, cmd->args, name, sizeof(name), path,
	    sizeof(path)) == -1)
		return;
	if (subs_change(s, name, add) == -1) {
		s_tagged(s, "NO", "[SERVERBUG] Cannot write subscriptions");
		return;
	}
	s_tagged(s, "OK", "%s completed", cmd->name);
}

/* -- LIST, LSUB, STATUS -- */

#define ST_MESSAGES	0x01
#define ST_UIDNEXT	0x02
#define ST_UIDVALIDITY	0x04
#define ST_UNSEEN	0x08
#define ST_RECENT	0x10
#define ST_HIGHESTMODSEQ 0x20
#define ST_SIZE		0x40
#define ST_DELETED	0x80

static int
status_items(const struct imap_arg *a, int *items)
{
	static const struct {
		const char	*name;
		int		 bit;
	} tab[] = {
		{ "MESSAGES", ST_MESSAGES }, { "UIDNEXT", ST_UIDNEXT },
		{ "UIDVALIDITY", ST_UIDVALIDITY }, { "UNSEEN", ST_UNSEEN },
		{ "RECENT", ST_RECENT }, { "HIGHESTMODSEQ", ST_HIGHESTMODSEQ },
		{ "SIZE", ST_SIZE }, { "DELETED", ST_DELETED }
	};
	const struct imap_arg	*i;
	size_t			 k;

	*items = 0;
	if (a == NULL || a->type != IMAP_ARG_LIST || a->nlist == 0)
		return -1;
	for (i = a->list; i != NULL; i = i->next) {
		if (i->type != IMAP_ARG_ATOM)
			return -1;
		for (k = 0; k < nitems(tab); k++)
			if (strcasecmp(i->str, tab[k].name) == 0)
				break;
		if (k == nitems(tab))
			return -1;
		*items |= tab[k].bit;
	}
	return 0;
}

/* "* STATUS name (...)"; -1 if the mailbox cannot be opened. */
static int
s_status(struct imap_session *s, const char *name, const char *path,
    int items)
{
	struct mbox	*mb;
	struct mbuf	 b;
	char		 enc[MAILBOX_WIRE_MAX + 64];
	uint64_t	 size, total = 0;
	uint32_t	 i, n, del = 0;

	if (s_name_out(name, enc, sizeof(enc)) == -1) {
		errno = ENOENT;
		return -1;
	}
	if ((mb = mbox_open(path, 0)) == NULL)
		return -1;
	if (mb != s->mb && mbox_sync(mb) == 1)
		s_mbox_changed(mb, s);
	n = mbox_count(mb);
	memset(&b, 0, sizeof(b));
	mbuf_printf(&b, "* STATUS %s (", enc);
	if (items & ST_MESSAGES)
		mbuf_printf(&b, "MESSAGES %u ", n);
	if (items & ST_RECENT)
		mbuf_printf(&b, "RECENT 0 ");
	if (items & ST_UIDNEXT)
		mbuf_printf(&b, "UIDNEXT %u ", mbox_uidnext(mb));
	if (items & ST_UIDVALIDITY)
		mbuf_printf(&b, "UIDVALIDITY %u ", mbox_uidvalidity(mb));
	if (items & ST_UNSEEN)
		mbuf_printf(&b, "UNSEEN %u ", mbox_unseen(mb));
	if (items & ST_HIGHESTMODSEQ)
		mbuf_printf(&b, "HIGHESTMODSEQ %llu ",
		    (unsigned long long)mbox_highestmodseq(mb));
	if (items & (ST_SIZE | ST_DELETED))
		for (i = 0; i < n; i++) {
			if (mbox_msg(mb, i)->sys & MFLAG_DELETED)
				del++;
			if ((items & ST_SIZE) && mbox_size(mb, i, &size) == 0)
				total += size;
		}
	if (items & ST_SIZE)
		mbuf_printf(&b, "SIZE %llu ", (unsigned long long)total);
	if (items & ST_DELETED)
		mbuf_printf(&b, "DELETED %u ", del);
	if (b.data[b.len - 1] == ' ')
		b.data[--b.len] = '\0';
	mbuf_add(&b, ")\r\n", 3);
	io_write(s->io, b.data, b.len);
	mbuf_free(&b);
	(void)mbox_commit(mb);
	mbox_close(mb);
	return 0;
}

static void
cmd_status(struct imap_session *s, const struct imap_command *cmd)
{
	char	 name[MAILBOX_NAME_MAX + 1], path[PATH_MAX];
	int	 items;

	if (cmd->nargs != 2 || status_items(cmd->args->next, &items) == -1) {
		s_tagged(s, "BAD", "STATUS takes a mailbox and a list of items");
		return;
	}
	if (s_mailbox_arg(s, cmd->args, name, sizeof(name), path,
	    sizeof(path)) == -1)
		return;
	if (s_status(s, name, path, items) == -1) {
		s_mbox_refused(s, "[NONEXISTENT] No such mailbox");
		return;
	}
	s_tagged(s, "OK", "Status completed");
}

#define LS_SUBSCRIBED	0x01	/* selection */
#define LS_SPECIALUSE	0x02
#define LS_RECURSIVE	0x04
#define LR_SUBSCRIBED	0x10	/* return */
#define LR_CHILDREN	0x20
#define LR_SPECIALUSE	0x40
#define LR_STATUS	0x80

/* One LIST selection (sel) or return option: 0, or -1 unknown. */
static int
list_option(const char *name, int sel, int *opts)
{
	static const struct {
		const char	*name;
		int		 sel, bit;
	} tab[] = {
		{ "SUBSCRIBED", 1, LS_SUBSCRIBED },
		{ "SPECIAL-USE", 1, LS_SPECIALUSE },
		{ "RECURSIVEMATCH", 1, LS_RECURSIVE },
		{ "REMOTE", 1, 0 },
		{ "SUBSCRIBED", 0, LR_SUBSCRIBED },
		{ "CHILDREN", 0, LR_CHILDREN },
		{ "SPECIAL-USE", 0, LR_SPECIALUSE },
	};
	size_t	 k;

	for (k = 0; k < nitems(tab); k++)
		if (tab[k].sel == sel && strcasecmp(name, tab[k].name) == 0) {
			*opts |= tab[k].bit;
			return 0;
		}
	return -1;
}

/* Does the canonical name match ref + one of the patterns? */
static int
list_match(const struct imap_arg *pats, const char *ref, const char *name)
{
	const struct imap_arg	*p;
	const char		*pat;
	char			 full[MAILBOX_PATTERN_MAX * 2 + 1];
	char			 canon[MAILBOX_PATTERN_MAX * 2 + 1];

	p = pats->type == IMAP_ARG_LIST ? pats->list : pats;
	for (; p != NULL; p = pats->type == IMAP_ARG_LIST ? p->next : NULL)
		if (imap_arg_mailbox(p, 1, &pat) == 0 &&
		    snprintf(full, sizeof(full), "%s%s", ref, pat) <
		    (int)sizeof(full) &&
		    mailbox_pattern_canon(full, 0, canon, sizeof(canon)) == 0 &&
		    mailbox_match(name, canon))
			return 1;
	return 0;
}

static void
s_list_dirs(struct imap_session *s, struct mailbox_list *ml)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	char		**names = NULL, path[PATH_MAX];
	size_t		 n = 0, i;

	mailbox_list_init(ml);
	if ((d = safe_opendir(s->home)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if (snprintf(path, sizeof(path), "%s/%s", s->home,
			    de->d_name) >= (int)sizeof(path) ||
			    safe_lstat(path, &st) == -1 || !S_ISDIR(st.st_mode))
				continue;
			if ((names = reallocarray(names, n + 1,
			    sizeof(*names))) == NULL ||
			    (names[n] = strdup(de->d_name)) == NULL)
				fatal("strdup");
			n++;
		}
		closedir(d);
	}
	mailbox_list_build(ml, (const char *const *)names, n);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void
cmd_list(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg	*a = cmd->args, *pats, *p;
	struct mailbox_list	 ml;
	struct mailbox_entry	*e;
	const char		*ref, *pat, *su;
	char			 enc[MAILBOX_WIRE_MAX + 64], attrs[256];
	char			 path[PATH_MAX], dir[MAILBOX_DIR_MAX + 1];
	char			*subs;
	size_t			 subslen, i;
	int			 lsub = strcmp(cmd->name, "LSUB") == 0;
	int			 opts = 0, items = 0, sub, childsub;
	int			 extended = 0;

	if (!lsub && a != NULL && a->type == IMAP_ARG_LIST) {
		for (p = a->list; p != NULL; p = p->next)
			if (p->type != IMAP_ARG_ATOM ||
			    list_option(p->str, 1, &opts) == -1) {
				s_tagged(s, "BAD", "Bad LIST selection "
				    "options");
				return;
			}
		extended = 1;
		a = a->next;
	}
	if (a == NULL || a->next == NULL ||
	    imap_arg_mailbox(a, 1, &ref) == -1) {
		s_tagged(s, "BAD", "%s takes a reference and a pattern",
		    cmd->name);
		return;
	}
	pats = a->next;
	if (pats->type == IMAP_ARG_LIST)
		extended = 1;
	if (lsub && pats->type == IMAP_ARG_LIST) {
		s_tagged(s, "BAD", "LSUB takes one pattern");
		return;
	}
	if (pats->next != NULL) {
		p = pats->next;
		if (lsub || p->type != IMAP_ARG_ATOM ||
		    strcasecmp(p->str, "RETURN") != 0 || p->next == NULL ||
		    p->next->type != IMAP_ARG_LIST || p->next->next != NULL) {
			s_tagged(s, "BAD", "Bad LIST arguments");
			return;
		}
		extended = 1;
		for (p = p->next->list; p != NULL; p = p->next) {
			if (p->type == IMAP_ARG_ATOM &&
			    strcasecmp(p->str, "STATUS") == 0 &&
			    p->next != NULL && p->next->type == IMAP_ARG_LIST) {
				if (status_items(p->next, &items) == -1) {
					s_tagged(s, "BAD", "Bad STATUS items");
					return;
				}
				opts |= LR_STATUS;
				p = p->next;
				continue;
			}
			if (p->type != IMAP_ARG_ATOM ||
			    list_option(p->str, 0, &opts) == -1) {
				s_tagged(s, "BAD", "Bad LIST return options");
				return;
			}
		}
	}
	if ((opts & LS_RECURSIVE) && !(opts & LS_SUBSCRIBED)) {
		s_tagged(s, "BAD", "RECURSIVEMATCH needs another selection "
		    "option");
		return;
	}
	if (opts & LS_SUBSCRIBED)
		opts |= LR_SUBSCRIBED;
	if (lsub)
		opts |= LS_SUBSCRIBED;

	/* LIST "" "": the hierarchy separator. */
	if (pats->type != IMAP_ARG_LIST && imap_arg_mailbox(pats, 1,
	    &pat) == 0 && pat[0] == '\0' && !extended) {
		if (!lsub)
			s_printf(s, "* LIST (\\Noselect) \"/\" \"\"\r\n");
		s_tagged(s, "OK", "%s completed", cmd->name);
		return;
	}
	s_list_dirs(s, &ml);
	subs = subs_read(s, &subslen);
	for (i = 0; i < ml.n; i++) {
		e = &ml.ent[i];
		if (!list_match(pats, ref, e->name))
			continue;
		sub = subs != NULL && subs_has(subs, subslen, e->name);
		/* RECURSIVEMATCH: parents of subscribed mailboxes too. */
		childsub = (opts & LS_RECURSIVE) && subs != NULL &&
		    subs_has_child(subs, subslen, e->name);
		if ((opts & LS_SUBSCRIBED) && !sub && !childsub)
			continue;
		su = mailbox_special_use(e->name);
		if ((opts & LS_SPECIALUSE) && su == NULL)
			continue;
		attrs[0] = '\0';
		if (e->attrs & MBOX_A_NONEXISTENT)
			strlcat(attrs, extended ? "\\NonExistent " :
			    "\\Noselect ", sizeof(attrs));
		if (!lsub && (e->attrs & MBOX_A_HASCHILDREN))
			strlcat(attrs, "\\HasChildren ", sizeof(attrs));
		if (!lsub && (e->attrs & MBOX_A_HASNOCHILDREN))
			strlcat(attrs, "\\HasNoChildren ", sizeof(attrs));
		if (sub && (opts & LR_SUBSCRIBED))
			strlcat(attrs, "\\Subscribed ", sizeof(attrs));
		if (su != NULL && !lsub) {
			strlcat(attrs, su, sizeof(attrs));
			strlcat(attrs, " ", sizeof(attrs));
		}
		if (attrs[0] != '\0')
			attrs[strlen(attrs) - 1] = '\0';
		if (s_name_out(e->name, enc, sizeof(enc)) == -1)
			continue;
		s_printf(s, "* %s (%s) \"/\" %s%s\r\n", cmd->name, attrs, enc,
		    childsub ? " (\"CHILDINFO\" (\"SUBSCRIBED\"))" : "");
		if ((opts & LR_STATUS) && !(e->attrs & MBOX_A_NONEXISTENT) &&
		    mailbox_name_to_dir(e->name, MAILBOX_UTF8, dir,
		    sizeof(dir), NULL) == 0) {
			if (strcmp(dir, ".") == 0)
				strlcpy(path, s->home, sizeof(path));
			else if (snprintf(path, sizeof(path), "%s/%s",
			    s->home, dir) >= (int)sizeof(path))
				continue;
			(void)s_status(s, e->name, path, items);
		}
	}
	/* Subscribed names without a mailbox are listed too. */
	if ((opts & LS_SUBSCRIBED) && subs != NULL) {
		const char	*q = subs, *qe, *end = subs + subslen;
		char		 nm[MAILBOX_NAME_MAX + 1];

		for (; q < end; q = qe + 1) {
			if ((qe = memchr(q, '\n', end - q)) == NULL)
				qe = end;
			if (qe == q || (size_t)(qe - q) >= sizeof(nm))
				continue;
			memcpy(nm, q, qe - q);
			nm[qe - q] = '\0';
			for (i = 0; i < ml.n; i++)
				if (strcmp(ml.ent[i].name, nm) == 0 &&
				    !(ml.ent[i].attrs & MBOX_A_NONEXISTENT))
					break;
			if (i < ml.n)
				continue;
			if (!list_match(pats, ref, nm) ||
			    s_name_out(nm, enc, sizeof(enc)) == -1)
				continue;
			s_printf(s, "* %s (%s) \"/\" %s\r\n", cmd->name,
			    lsub ? "\\Noselect" : "\\Subscribed \\NonExistent",
			    enc);
		}
	}
	free(subs);
	mailbox_list_free(&ml);
	s_tagged(s, "OK", "%s completed", cmd->name);
}

/* -- APPEND, IDLE, CHECK, EXPUNGE -- */

/* "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be space-padded): 0 or -1. */
static int
parse_datetime(const char *s, time_t *t)
{
	struct tm	 tm;
	char		 mon[4];
	int		 day, year, hh, mm, ss, zone, n = 0, i;
	char		 sign;

	memset(&tm, 0, sizeof(tm));
	if (s[0] == ' ')
		s++;
	if (sscanf(s, "%2d-%3c-%4d %2d:%2d:%2d %c%4d%n", &day, mon, &year,
	    &hh, &mm, &ss, &sign, &zone, &n) != 8 || s[n] != '\0' ||
	    (sign != '+' && sign != '-'))
		return -1;
	mon[3] = '\0';
	for (i = 0; i < 12; i++)
		if (strcasecmp(mon, month[i]) == 0)
			break;
	if (i == 12 || day < 1 || day > 31 || year < 1900 || year > 9999 ||
	    hh > 23 || mm > 59 || ss > 60 || hh < 0 || mm < 0 || ss < 0 ||
	    zone % 100 > 59 || zone > 2359 || zone < 0)
		return -1;
	tm.tm_mday = day;
	tm.tm_mon = i;
	tm.tm_year = year - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	*t = timegm(&tm);
	zone = (zone / 100) * 3600 + (zone % 100) * 60;
	*t += sign == '+' ? -zone : zone;
	return 0;
}

/* Flags of a list (or one flag): system bits and keyword names. */
static int
parse_flags(const struct imap_arg *a, uint32_t *sys, const char **kws,
    size_t *nkw)
{
	const struct imap_arg	*f;
	uint32_t		 bit;

	*sys = 0;
	*nkw = 0;
	f = a->type == IMAP_ARG_LIST ? a->list : a;
	for (; f != NULL; f = a->type == IMAP_ARG_LIST ? f->next : NULL) {
		if (f->type != IMAP_ARG_ATOM)
			return -1;
		if (f->str[0] == '\\') {
			if (strcasecmp(f->str, "\\Recent") == 0)
				continue;
			if ((bit = mflags_imap_flag(f->str)) == 0 ||
			    !(bit & MFLAG_IMAP_MASK))
				return -1;
			*sys |= bit;
		} else if (!mflags_kw_valid(f->str))
			return -1;
		else if (*nkw < MFLAGS_KW_MAX)
			kws[(*nkw)++] = f->str;
	}
	return 0;
}

static void
cmd_append(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg	*a = cmd->args, *msg;
	struct mbox		*mb;
	const char		*kws[MFLAGS_KW_MAX], *str;
	char			 path[PATH_MAX];
	uint32_t		 sys = 0, uid;
	size_t			 nkw = 0, len;
	time_t			 date = 0;

	if (cmd->nargs < 2 || cmd->nargs > 4) {
		s_tagged(s, "BAD", "APPEND takes a mailbox, flags, a date and "
		    "a message");
		return;
	}
	msg = a->next;
	if (msg->type == IMAP_ARG_LIST) {
		if (parse_flags(msg, &sys, kws, &nkw) == -1) {
			s_tagged(s, "BAD", "Invalid flags");
			return;
		}
		msg = msg->next;
	}
	if (msg != NULL && msg->type == IMAP_ARG_QUOTED) {
		if (imap_arg_astring(msg, &str, &len) == -1 ||
		    parse_datetime(str, &date) == -1) {
			s_tagged(s, "BAD", "Invalid date-time");
			return;
		}
		msg = msg->next;
	}
	if (msg == NULL || msg->type != IMAP_ARG_LITERAL || msg->next != NULL) {
		s_tagged(s, "BAD", "APPEND needs the message as a literal");
		return;
	}
	if (msg->len == 0) {
		s_tagged(s, "NO", "Empty message");
		return;
	}
	if (s_mailbox_arg(s, a, NULL, 0, path, sizeof(path)) == -1)
		return;
	if ((mb = mbox_open(path, 0)) == NULL) {
		s_mbox_refused(s, "[TRYCREATE] No such mailbox");
		return;
	}
	if (mbox_append(mb, msg->str, msg->len, sys, kws, nkw, date,
	    &uid) == -1) {
		if (errno == ENOSPC || errno == EDQUOT)
			s_tagged(s, "NO", "[OVERQUOTA] No space left");
		else
			s_tagged(s, "NO", "[SERVERBUG] Cannot store message");
		mbox_close(mb);
		return;
	}
	(void)mbox_commit(mb);
	s_mbox_changed(mb, s);
	if (mb == s->mb)
		s_update(s, 1);
	s_tagged(s, "OK", "[APPENDUID %u %u] Append completed",
	    mbox_uidvalidity(mb), uid);
	mbox_close(mb);
}

static void
cmd_idle(struct imap_session *s, const struct imap_command *cmd)
{
	struct timeval	 tv = { IMAP_IDLE_KEEPALIVE, 0 };

	if (cmd->nargs != 0) {
		s_tagged(s, "BAD", "IDLE takes no arguments");
		return;
	}
	if (s->mb != NULL && mbox_sync(s->mb) == 1) {
		(void)mbox_commit(s->mb);
		s_mbox_changed(s->mb, s);
	}
	s_update(s, 1);
	s_printf(s, "+ idling\r\n");
	s->wait = W_IDLE;
	evtimer_add(&s->ev_delay, &tv);
}

static void
cmd_check(struct imap_session *s, const struct imap_command *cmd)
{
	cmd_noop(s, cmd);
}

/* The UIDs of the view that a sequence or UID set names, ascending. */
static int
s_seqset(struct imap_session *s, const struct imap_arg *a, int uid,
    uint32_t **out, size_t *nout)
{
	struct imap_seqset	 set;
	const char		*err;
	uint32_t		*u = NULL, star, lo;
	size_t			 i, n = 0, k;

	*out = NULL;
	*nout = 0;
	if (a == NULL || a->type != IMAP_ARG_ATOM) {
		s_tagged(s, "BAD", "Invalid sequence set");
		return -1;
	}
	star = uid ? (s->nview > 0 ? s->view[s->nview - 1] : 0) : s->nview;
	if (imap_seqset_parse(a->str, star, &set, &err) == -1) {
		s_tagged(s, "BAD", "%s", err);
		return -1;
	}
	if (set.searchres) {
		imap_seqset_free(&set);
		s_tagged(s, "BAD", "$ is not supported");
		return -1;
	}
	if (!uid && set.n > 0 && set.r[set.n - 1].hi > s->nview) {
		imap_seqset_free(&set);
		s_tagged(s, "BAD", "Invalid message sequence number");
		return -1;
	}
	if ((u = calloc(s->nview + 1, sizeof(*u))) == NULL)
		fatal("calloc");
	for (i = 0; i < set.n; i++) {
		if (!uid) {
			for (lo = set.r[i].lo; lo <= set.r[i].hi && lo > 0;
			    lo++)
				u[n++] = s->view[lo - 1];
			continue;
		}
		/* First view entry >= lo, by binary search. */
		size_t	 l = 0, h = s->nview;

		while (l < h) {
			k = l + (h - l) / 2;
			if (s->view[k] < set.r[i].lo)
				l = k + 1;
			else
				h = k;
		}
		for (k = l; k < s->nview && s->view[k] <= set.r[i].hi; k++)
			u[n++] = s->view[k];
	}
	imap_seqset_free(&set);
	*out = u;
	*nout = n;
	return 0;
}

/*
 * Our own flag change, which the command reports itself: if the view
 * was up to date, it stays so (no second FETCH for it at the next
 * update); changes by others keep waiting to be reported.
 */
static int
s_store(struct imap_session *s, uint32_t idx, uint32_t sys, uint32_t kw)
{
	int	 uptodate, r;

	uptodate = s->seen_modseq == mbox_highestmodseq(s->mb);
	r = mbox_store(s->mb, idx, sys, kw);
	if (uptodate)
		s->seen_modseq = mbox_highestmodseq(s->mb);
	return r;
}

static void
cmd_expunge(struct imap_session *s, const struct imap_command *cmd)
{
	const struct mbox_msg	*m;
	uint32_t		*uids = NULL;
	size_t			 n = 0, k;
	uint32_t		 i;

	if (cmd->nargs != (cmd->uid ? 1 : 0)) {
		s_tagged(s, "BAD", "Wrong number of arguments");
		return;
	}
	if (s->readonly) {
		s_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (cmd->uid && s_seqset(s, cmd->args, 1, &uids, &n) == -1)
		return;
	for (i = mbox_count(s->mb); i > 0; i--) {
		m = mbox_msg(s->mb, i - 1);
		if (!(m->sys & MFLAG_DELETED) || view_seq(s, m->uid) == 0)
			continue;
		if (cmd->uid) {
			for (k = 0; k < n && uids[k] != m->uid; k++)
				;
			if (k == n)
				continue;
		}
		(void)mbox_expunge(s->mb, i - 1);
	}
	free(uids);
	(void)mbox_commit(s->mb);
	s_mbox_changed(s->mb, s);
	s_update(s, 1);
	s_tagged(s, "OK", "Expunge completed");
}

/* -- SEARCH -- */

#define ES_MIN		0x01
#define ES_MAX		0x02
#define ES_COUNT	0x04
#define ES_ALL		0x08

/* Fill what SEARCH needs of view entry i; -1 if it is gone. */
static int
s_search_msg(struct imap_session *s, size_t i, int needs,
    struct search_msg *sm, const char **kw)
{
	const struct mbox_msg	*m;
	const struct mime_msg	*mime;
	long			 idx;
	int			 k;

	if ((idx = mbox_find(s->mb, s->view[i])) < 0)
		return -1;
	m = mbox_msg(s->mb, idx);
	memset(sm, 0, sizeof(*sm));
	sm->seq = i + 1;
	sm->uid = m->uid;
	sm->modseq = m->modseq;
	sm->flags = ((m->sys & MFLAG_SEEN) ? SEARCH_FL_SEEN : 0) |
	    ((m->sys & MFLAG_ANSWERED) ? SEARCH_FL_ANSWERED : 0) |
	    ((m->sys & MFLAG_FLAGGED) ? SEARCH_FL_FLAGGED : 0) |
	    ((m->sys & MFLAG_DELETED) ? SEARCH_FL_DELETED : 0) |
	    ((m->sys & MFLAG_DRAFT) ? SEARCH_FL_DRAFT : 0);
	for (k = 0; k < MFLAGS_KW_MAX; k++)
		if ((m->kw & (1U << k)) && mbox_keyword(s->mb, k) != NULL)
			kw[sm->nkeywords++] = mbox_keyword(s->mb, k);
	sm->keywords = kw;
	if (mbox_date(s->mb, idx, &sm->internal_date) == -1 ||
	    mbox_size(s->mb, idx, &sm->size) == -1)
		return -1;
	{
		struct tm	 tm;

		if (localtime_r(&sm->internal_date, &tm) != NULL)
			sm->internal_tzoff = tm.tm_gmtoff;
	}
	if (needs & SEARCH_NEED_BODY) {
		if (mbox_read(s->mb, idx, &sm->data, &sm->len, &mime) == -1)
			return -1;
		sm->mime = mime;
	} else if (needs & SEARCH_NEED_HEADER) {
		/* Header keys only: never read or parse whole messages. */
		if (mbox_header(s->mb, idx, &sm->data, &sm->len) == -1)
			return -1;
	}
	return 0;
}

static void
cmd_search(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg	*a = cmd->args, *o;
	struct search_prog	*prog;
	struct search_msg	 sm;
	struct mbuf		 b;
	const char		*err, *kw[MFLAGS_KW_MAX];
	uint32_t		*hits = NULL, maxuid;
	uint64_t		 maxmod = 0;
	size_t			 i, n = 0;
	int			 r, needs, es = 0, esearch = 0;

	/* ESEARCH (RFC 4731): SEARCH RETURN (MIN MAX COUNT ALL) ... */
	if (a != NULL && a->type == IMAP_ARG_ATOM &&
	    strcasecmp(a->str, "RETURN") == 0) {
		if (a->next == NULL || a->next->type != IMAP_ARG_LIST) {
			s_tagged(s, "BAD", "RETURN needs a list");
			return;
		}
		for (o = a->next->list; o != NULL; o = o->next) {
			if (o->type != IMAP_ARG_ATOM)
				break;
			if (strcasecmp(o->str, "MIN") == 0)
				es |= ES_MIN;
			else if (strcasecmp(o->str, "MAX") == 0)
				es |= ES_MAX;
			else if (strcasecmp(o->str, "COUNT") == 0)
				es |= ES_COUNT;
			else if (strcasecmp(o->str, "ALL") == 0)
				es |= ES_ALL;
			else
				break;
		}
		if (o != NULL) {
			s_tagged(s, "BAD", "Unsupported RETURN option");
			return;
		}
		if (es == 0)
			es = ES_ALL;
		esearch = 1;
		a = a->next->next;
	}
	/* IMAP4rev2 answers every SEARCH with ESEARCH (RFC 9051 6.4.4). */
	if (!esearch && (s->enabled & EN_REV2)) {
		esearch = 1;
		es = ES_ALL;
	}
	maxuid = s->nview > 0 ? s->view[s->nview - 1] : 0;
	r = search_compile(a, s->nview, maxuid, &prog, &err);
	if (r == SEARCH_ERR_CHARSET) {
		s_tagged(s, "NO", "[BADCHARSET (UTF-8 US-ASCII)] %s", err);
		return;
	}
	if (r != SEARCH_OK) {
		s_tagged(s, "BAD", "%s", err);
		return;
	}
	needs = search_needs(prog);
	if (needs & SEARCH_NEED_MODSEQ)
		s->enabled |= EN_CONDSTORE;
	if ((hits = calloc(s->nview + 1, sizeof(*hits))) == NULL)
		fatal("calloc");
	for (i = 0; i < s->nview; i++) {
		if (s_search_msg(s, i, needs, &sm, kw) == -1)
			continue;
		if (!search_match(prog, &sm))
			continue;
		hits[n++] = cmd->uid ? sm.uid : sm.seq;
		if (sm.modseq > maxmod)
			maxmod = sm.modseq;
	}
	search_free(prog);
	memset(&b, 0, sizeof(b));
	if (esearch) {
		mbuf_printf(&b, "* ESEARCH (TAG \"%s\")%s", s->tag,
		    cmd->uid ? " UID" : "");
		if ((es & ES_MIN) && n > 0)
			mbuf_printf(&b, " MIN %u", hits[0]);
		if ((es & ES_MAX) && n > 0)
			mbuf_printf(&b, " MAX %u", hits[n - 1]);
		if (es & ES_COUNT)
			mbuf_printf(&b, " COUNT %zu", n);
		if ((es & ES_ALL) && n > 0) {
			mbuf_add(&b, " ALL ", 5);
			uidset_text(&b, hits, n);
		}
		if ((needs & SEARCH_NEED_MODSEQ) && n > 0)
			mbuf_printf(&b, " MODSEQ %llu",
			    (unsigned long long)maxmod);
	} else {
		mbuf_add(&b, "* SEARCH", 8);
		for (i = 0; i < n; i++)
			mbuf_printf(&b, " %u", hits[i]);
		if ((needs & SEARCH_NEED_MODSEQ) && n > 0)
			mbuf_printf(&b, " (MODSEQ %llu)",
			    (unsigned long long)maxmod);
	}
	mbuf_add(&b, "\r\n", 2);
	io_write(s->io, b.data, b.len);
	mbuf_free(&b);
	free(hits);
	s_done(s);
	s_update(s, cmd->uid);
	s_tagged(s, "OK", "Search completed");
}

/* -- FETCH -- */

static void
cmd_fetch(struct imap_session *s, const struct imap_command *cmd)
{
	struct fetchjob		*fj;
	struct fetch_spec	*spec;
	struct imap_seqset	 set;
	const char		*err;

	if (cmd->nargs < 2 || cmd->nargs > 3) {
		s_tagged(s, "BAD", "FETCH takes a set and items");
		return;
	}
	if (fetch_compile(cmd->args->next, cmd->uid, &spec, &err) == -1) {
		s_tagged(s, "BAD", "%s", err);
		return;
	}
	if ((fetch_needs(spec) & FETCH_VANISHED) && !(s->enabled & EN_QRESYNC)) {
		fetch_free(spec);
		s_tagged(s, "BAD", "VANISHED needs QRESYNC enabled");
		return;
	}
	if ((fj = calloc(1, sizeof(*fj))) == NULL)
		fatal("calloc");
	fj->spec = spec;
	fj->uid = cmd->uid;
	fj->needs = fetch_needs(spec);
	fj->changedsince = fetch_changedsince(spec);
	if (s_seqset(s, cmd->args, cmd->uid, &fj->uids, &fj->n) == -1) {
		fetch_free(spec);
		free(fj);
		return;
	}
	if (fj->needs & (FETCH_NEED_MODSEQ | FETCH_CHANGEDSINCE))
		s->enabled |= EN_CONDSTORE;
	/* UID FETCH ... (CHANGEDSINCE n VANISHED): what left since n. */
	if ((fj->needs & FETCH_VANISHED) &&
	    imap_seqset_parse(cmd->args->str, mbox_uidnext(s->mb) - 1, &set,
	    &err) == 0) {
		s_vanished_earlier(s, fj->changedsince, &set);
		imap_seqset_free(&set);
	}
	s->fj = fj;
	s_fetch_run(s);
}

/* One message of a FETCH; -1 when its data could not be read. */
static int
s_fetch_one(struct imap_session *s, struct fetchjob *fj, uint32_t uid,
    int *cte)
{
	const struct mbox_msg	*m;
	struct fetch_msg	 fm;
	struct mbuf		 b;
	char			 flags[MFLAGS_KW_MAX * (MFLAGS_KW_NAME_MAX + 1) +
				    64];
	long			 idx;
	int			 rflags = 0;

	if ((idx = mbox_find(s->mb, uid)) < 0)
		return 0;	/* expunged by another session meanwhile */
	m = mbox_msg(s->mb, idx);
	if ((fj->needs & FETCH_CHANGEDSINCE) && m->modseq <= fj->changedsince)
		return 0;
	memset(&fm, 0, sizeof(fm));
	if ((fj->needs & FETCH_SETS_SEEN) && !s->readonly &&
	    !(m->sys & MFLAG_SEEN)) {
		if (s_store(s, idx, m->sys | MFLAG_SEEN, m->kw) == 1)
			rflags |= FETCH_R_FLAGS;
		if ((idx = mbox_find(s->mb, uid)) < 0)
			return 0;
		m = mbox_msg(s->mb, idx);
	}
	fm.seq = view_seq(s, uid);
	fm.uid = uid;
	fm.modseq = m->modseq;
	flags_render(s->mb, m->sys, m->kw, flags, sizeof(flags));
	fm.flags = flags;
	if ((fj->needs & FETCH_NEED_DATE) &&
	    mbox_date(s->mb, idx, &fm.internaldate) == -1)
		return -1;
	if ((fj->needs & FETCH_NEED_SIZE) &&
	    mbox_size(s->mb, idx, &fm.size) == -1)
		return -1;
	if ((fj->needs & FETCH_NEED_ENVELOPE) &&
	    (fm.envelope = mbox_envelope(s->mb, idx)) == NULL)
		return -1;
	if ((fj->needs & FETCH_NEED_BODY) &&
	    (fm.body = mbox_bodystructure(s->mb, idx, 0)) == NULL)
		return -1;
	if ((fj->needs & FETCH_NEED_BODYSTRUCTURE) &&
	    (fm.bodystructure = mbox_bodystructure(s->mb, idx, 1)) == NULL)
		return -1;
	/* Last: the cached strings above may have read another message. */
	if ((fj->needs & FETCH_NEED_CONTENT) &&
	    mbox_read(s->mb, idx, &fm.data, &fm.len, &fm.mime) == -1)
		return -1;
	memset(&b, 0, sizeof(b));
	if (fetch_render(&b, fj->spec, &fm, rflags) == -1)
		*cte = 1;
	else
		io_write(s->io, b.data, b.len);
	mbuf_free(&b);
	return 0;
}

/* Render FETCH responses until the output is full or the job done. */
static void
s_fetch_run(struct imap_session *s)
{
	struct fetchjob	*fj = s->fj;
	int		 cte, failed, uid;

	s->wait = W_NONE;
	while (fj->pos < fj->n) {
		if (io_queued(s->io) >= IMAP_OUT_CHUNK) {
			s->wait = W_FETCH;	/* IO_LOWAT brings us back */
			return;
		}
		if (s_fetch_one(s, fj, fj->uids[fj->pos++], &fj->cte) == -1)
			fj->failed = 1;
		if (mbox_gone(s->mb))
			break;
	}
	cte = fj->cte;
	failed = fj->failed;
	uid = fj->uid;
	s->fj = NULL;
	fetch_free(fj->spec);
	free(fj->uids);
	free(fj);
	s_done(s);
	s_update(s, uid);
	if (cte)
		s_tagged(s, "NO", "[UNKNOWN-CTE] Cannot decode a part");
	else if (failed)
		s_tagged(s, "NO", "Some messages could not be read");
	else
		s_tagged(s, "OK", "Fetch completed");
	/* Commands that arrived meanwhile. */
	io_resume(s->io);
}

/* -- STORE, COPY, MOVE -- */

static void
cmd_store(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg	*a = cmd->args->next, *item;
	const struct mbox_msg	*m;
	const char		*kws[MFLAGS_KW_MAX], *what;
	struct mbuf		 mod;
	uint32_t		*uids = NULL, *modified = NULL, sys, kw, nsys;
	uint32_t		 nkwbits;
	uint64_t		 unchanged = 0;
	size_t			 n, nkw, i, k, nmod = 0;
	long			 idx;
	int			 op, silent, has_unchanged = 0, kwi;
	char			*end;

	if (cmd->nargs < 3) {
		s_tagged(s, "BAD", "STORE takes a set, an item and flags");
		return;
	}
	if (a->type == IMAP_ARG_LIST) {
		/* (UNCHANGEDSINCE n), RFC 7162 */
		if (a->nlist != 2 || a->list->type != IMAP_ARG_ATOM ||
		    strcasecmp(a->list->str, "UNCHANGEDSINCE") != 0 ||
		    a->list->next->type != IMAP_ARG_ATOM ||
		    !isdigit((unsigned char)a->list->next->str[0])) {
			s_tagged(s, "BAD", "Bad STORE modifier");
			return;
		}
		errno = 0;
		unchanged = strtoull(a->list->next->str, &end, 10);
		if (*end != '\0' || errno != 0) {
			s_tagged(s, "BAD", "Bad UNCHANGEDSINCE value");
			return;
		}
		has_unchanged = 1;
		s->enabled |= EN_CONDSTORE;
		a = a->next;
	}
	item = a;
	if (item == NULL || item->type != IMAP_ARG_ATOM || item->next == NULL) {
		s_tagged(s, "BAD", "STORE needs an item and flags");
		return;
	}
	what = item->str;
	op = what[0] == '+' ? 1 : what[0] == '-' ? -1 : 0;
	if (op != 0)
		what++;
	if (strcasecmp(what, "FLAGS") == 0)
		silent = 0;
	else if (strcasecmp(what, "FLAGS.SILENT") == 0)
		silent = 1;
	else {
		s_tagged(s, "BAD", "Unknown STORE item");
		return;
	}
	/* Flags: one list, or atoms one after another. */
	if (item->next->type == IMAP_ARG_LIST) {
		if (item->next->next != NULL ||
		    parse_flags(item->next, &sys, kws, &nkw) == -1) {
			s_tagged(s, "BAD", "Invalid flags");
			return;
		}
	} else {
		struct imap_arg	 list;

		memset(&list, 0, sizeof(list));
		list.type = IMAP_ARG_LIST;
		list.list = item->next;
		if (parse_flags(&list, &sys, kws, &nkw) == -1) {
			s_tagged(s, "BAD", "Invalid flags");
			return;
		}
	}
	if (s->readonly) {
		s_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	/* Keyword letters: new names get one when they are set. */
	nkwbits = 0;
	for (k = 0; k < nkw; k++) {
		if (op >= 0)
			kwi = mbox_keyword_assign(s->mb, kws[k]);
		else
			for (kwi = 0; kwi < MFLAGS_KW_MAX; kwi++)
				if (mbox_keyword(s->mb, kwi) != NULL &&
				    strcasecmp(mbox_keyword(s->mb, kwi),
				    kws[k]) == 0)
					break;
		if (kwi >= 0 && kwi < MFLAGS_KW_MAX)
			nkwbits |= 1U << kwi;
		else if (op >= 0 && kwi == MFLAGS_KW_FULL) {
			s_tagged(s, "NO", "[LIMIT] Too many keywords in this "
			    "mailbox");
			return;
		}
	}
	if (s_seqset(s, cmd->args, cmd->uid, &uids, &n) == -1)
		return;
	if ((modified = calloc(n + 1, sizeof(*modified))) == NULL)
		fatal("calloc");
	for (i = 0; i < n; i++) {
		if ((idx = mbox_find(s->mb, uids[i])) < 0)
			continue;
		m = mbox_msg(s->mb, idx);
		if (has_unchanged && m->modseq > unchanged) {
			modified[nmod++] = cmd->uid ? m->uid :
			    view_seq(s, m->uid);
			continue;
		}
		nsys = op > 0 ? m->sys | sys : op < 0 ? m->sys & ~sys :
		    (m->sys & ~MFLAG_IMAP_MASK) | sys;
		kw = op > 0 ? m->kw | nkwbits : op < 0 ? m->kw & ~nkwbits :
		    nkwbits;
		if (s_store(s, idx, nsys, kw) == -1) {
			log_warn("imap %llu: store", (unsigned long long)s->id);
			continue;
		}
		if ((idx = mbox_find(s->mb, uids[i])) < 0)
			continue;
		m = mbox_msg(s->mb, idx);
		/* .SILENT still reports MODSEQ under CONDSTORE (7162 3.2) */
		if (!silent || has_unchanged)
			s_flags_line(s, view_seq(s, m->uid), m, cmd->uid);
	}
	free(uids);
	(void)mbox_commit(s->mb);
	s_mbox_changed(s->mb, s);
	s_update(s, cmd->uid);
	if (nmod > 0) {
		memset(&mod, 0, sizeof(mod));
		uidset_text(&mod, modified, nmod);
		s_tagged(s, "OK", "[MODIFIED %s] Conditional store failed",
		    mod.data);
		mbuf_free(&mod);
	} else
		s_tagged(s, "OK", "Store completed");
	free(modified);
}

static void
cmd_copy(struct imap_session *s, const struct imap_command *cmd)
{
	struct mbox	*dst;
	struct mbuf	 from, to;
	char		 path[PATH_MAX];
	uint32_t	*uids = NULL, *src = NULL, *dstu = NULL, nuid;
	size_t		 n, i, ok = 0;
	long		 idx;
	int		 move = strcmp(cmd->name, "MOVE") == 0, failed = 0;

	if (cmd->nargs != 2) {
		s_tagged(s, "BAD", "%s takes a set and a mailbox", cmd->name);
		return;
	}
	if (move && s->readonly) {
		s_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (s_mailbox_arg(s, cmd->args->next, NULL, 0, path,
	    sizeof(path)) == -1)
		return;
	if (s_seqset(s, cmd->args, cmd->uid, &uids, &n) == -1)
		return;
	if ((dst = mbox_open(path, 0)) == NULL) {
		free(uids);
		s_mbox_refused(s, "[TRYCREATE] No such mailbox");
		return;
	}
	if ((src = calloc(n + 1, sizeof(*src))) == NULL ||
	    (dstu = calloc(n + 1, sizeof(*dstu))) == NULL)
		fatal("calloc");
	for (i = 0; i < n; i++) {
		if ((idx = mbox_find(s->mb, uids[i])) < 0)
			continue;
		if (mbox_copy(s->mb, idx, dst, &nuid) == -1) {
			failed = errno == ENOSPC || errno == EDQUOT ? 2 : 1;
			break;
		}
		src[ok] = uids[i];
		dstu[ok++] = nuid;
	}
	(void)mbox_commit(dst);
	if (move && !failed) {
		for (i = ok; i > 0; i--)
			if ((idx = mbox_find(s->mb, src[i - 1])) >= 0)
				(void)mbox_expunge(s->mb, idx);
		(void)mbox_commit(s->mb);
		s_mbox_changed(s->mb, s);
	}
	s_mbox_changed(dst, s);
	memset(&from, 0, sizeof(from));
	memset(&to, 0, sizeof(to));
	mbuf_add(&from, "", 0);
	mbuf_add(&to, "", 0);
	uidset_text(&from, src, ok);
	uidset_text(&to, dstu, ok);
	if (failed)
		s_tagged(s, "NO", "%s", failed == 2 ? "[OVERQUOTA] No space "
		    "left" : "[SERVERBUG] Copy failed");
	else if (ok == 0)
		s_tagged(s, "OK", "%s completed", cmd->name);
	else if (move) {
		s_printf(s, "* OK [COPYUID %u %s %s] Moved\r\n",
		    mbox_uidvalidity(dst), from.data, to.data);
		s_update(s, 1);
		s_tagged(s, "OK", "Move completed");
	} else {
		if (dst == s->mb)
			s_update(s, 1);
		s_tagged(s, "OK", "[COPYUID %u %s %s] Copy completed",
		    mbox_uidvalidity(dst), from.data, to.data);
	}
	mbuf_free(&from);
	mbuf_free(&to);
	mbox_close(dst);
	free(uids);
	free(src);
	free(dstu);
}
