/*
 * IMAP server sessions (RFC 3501, RFC 9051 on ENABLE, and the
 * extensions of the CAPABILITY list): reading commands and literals
 * through the parser, the not-authenticated / authenticated / selected
 * states, the command table, logging in, and the commands of any state.
 * The commands on mailboxes and messages, and the updates of the
 * selected mailbox, are in the files that include/imap_session.h lists.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "imap_session.h"
#include "metadata.h"
#include "proc.h"
#include "safepath.h"
#include "sasl.h"
#include "server.h"

static void	s_io(struct io *, int, void *);
static void	s_input(struct imap_session *);
static void	s_line(struct imap_session *, char *, size_t);
static void	s_skip_line(struct imap_session *, const char *, size_t, int);
static void	s_refused(struct imap_session *, const char *, size_t);
static void	s_command(struct imap_session *,
		    const struct imap_command *);
static void	s_close(struct imap_session *, const char *);
static void	s_capability(struct imap_session *, char *, size_t);
static void	s_limits(struct imap_session *);
static void	s_sasl_line(struct imap_session *, char *, size_t);
static void	s_login(struct imap_session *, const char *, const char *,
		    size_t);
static struct imap_session *s_find(uint64_t);
static int	s_id_cmp(const struct imap_session *,
		    const struct imap_session *);
static int	s_plaintext_refused(struct imap_session *);
static int	mkdirs(const char *);
static int	s_home_setup(struct imap_session *);
static int	s_user_sessions(const char *);

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
	{ "CAPABILITY",	ST_ANY,				imap_cmd_capability },
	{ "NOOP",	ST_ANY,				imap_cmd_noop },
	{ "LOGOUT",	ST_ANY,				imap_cmd_logout },
	{ "STARTTLS",	ST_NOAUTH,			imap_cmd_starttls },
	{ "AUTHENTICATE", ST_NOAUTH,			imap_cmd_authenticate },
	{ "LOGIN",	ST_NOAUTH,			imap_cmd_login },
	{ "ID",		ST_ANY,				imap_cmd_id },
	{ "ENABLE",	ST_AUTH | ST_SELECTED,		imap_cmd_enable },
	{ "NAMESPACE",	ST_AUTH | ST_SELECTED,		imap_cmd_namespace },
	{ "COMPRESS",	ST_AUTH | ST_SELECTED,		imap_cmd_compress },
	{ "SELECT",	ST_AUTH | ST_SELECTED,		imap_cmd_select },
	{ "EXAMINE",	ST_AUTH | ST_SELECTED,		imap_cmd_select },
	{ "CREATE",	ST_AUTH | ST_SELECTED,		imap_cmd_create },
	{ "DELETE",	ST_AUTH | ST_SELECTED,		imap_cmd_delete },
	{ "RENAME",	ST_AUTH | ST_SELECTED,		imap_cmd_rename },
	{ "SUBSCRIBE",	ST_AUTH | ST_SELECTED,		imap_cmd_subscribe },
	{ "UNSUBSCRIBE", ST_AUTH | ST_SELECTED,		imap_cmd_subscribe },
	{ "LIST",	ST_AUTH | ST_SELECTED,		imap_cmd_list },
	{ "LSUB",	ST_AUTH | ST_SELECTED,		imap_cmd_list },
	{ "STATUS",	ST_AUTH | ST_SELECTED,		imap_cmd_status },
	{ "APPEND",	ST_AUTH | ST_SELECTED,		imap_cmd_append },
	{ "IDLE",	ST_AUTH | ST_SELECTED,		imap_cmd_idle },
	{ "NOTIFY",	ST_AUTH | ST_SELECTED,		imap_cmd_notify },
	{ "UNAUTHENTICATE", ST_AUTH | ST_SELECTED, imap_cmd_unauthenticate },
	{ "CHECK",	ST_SELECTED,			imap_cmd_check },
	{ "CLOSE",	ST_SELECTED,			imap_cmd_close },
	{ "UNSELECT",	ST_SELECTED,			imap_cmd_close },
	{ "EXPUNGE",	ST_SELECTED | CF_UID,		imap_cmd_expunge },
	{ "SEARCH",	ST_SELECTED | CF_UID | CF_NOEXPUNGE, imap_cmd_search },
	{ "FETCH",	ST_SELECTED | CF_UID | CF_NOEXPUNGE, imap_cmd_fetch },
	{ "STORE",	ST_SELECTED | CF_UID | CF_NOEXPUNGE, imap_cmd_store },
	{ "COPY",	ST_SELECTED | CF_UID,		imap_cmd_copy },
	{ "MOVE",	ST_SELECTED | CF_UID,		imap_cmd_copy },
	{ "CANCELUPDATE", ST_SELECTED,			imap_cmd_cancelupdate },
	{ "REPLACE",	ST_SELECTED | CF_UID,		imap_cmd_replace },
	{ "SORT",	ST_SELECTED | CF_UID | CF_NOEXPUNGE, imap_cmd_sort },
	{ "THREAD",	ST_SELECTED | CF_UID | CF_NOEXPUNGE, imap_cmd_thread },
	{ "GETQUOTA",	ST_AUTH | ST_SELECTED,		imap_cmd_getquota },
	{ "GETQUOTAROOT", ST_AUTH | ST_SELECTED,	imap_cmd_getquotaroot },
	{ "SETQUOTA",	ST_AUTH | ST_SELECTED,		imap_cmd_setquota },
	{ "GETMETADATA", ST_AUTH | ST_SELECTED,		imap_cmd_getmetadata },
	{ "SETMETADATA", ST_AUTH | ST_SELECTED,		imap_cmd_setmetadata },
};

RB_HEAD(imap_ids, imap_session);
RB_PROTOTYPE(imap_ids, imap_session, node, s_id_cmp)

struct imap_sessions			 imap_sessions =
    TAILQ_HEAD_INITIALIZER(imap_sessions);
static struct imap_ids			 byid = RB_INITIALIZER(&byid);
static uint64_t				 next_id;

static int
s_id_cmp(const struct imap_session *a, const struct imap_session *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

RB_GENERATE(imap_ids, imap_session, node, s_id_cmp)

void
imap_session_new(struct io *io, const struct listener *l,
    const struct sockaddr_storage *ss, const struct session_env *env)
{
	struct imap_session	*s;
	char			 caps[IMAP_CAPS_MAX];

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("calloc");
	s->id = ++next_id;
	s->env = env;
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
	s->io = io;
	s->spool = -1;
	io_set_callback(io, s_io, s);
	io_set_maxline(io, IMAP_LINE_MAX);
	io_set_timeout(s->io, IMAP_TIMEOUT_PRE);
	/* Before login a command line must end within that minute. */
	io_set_line_deadline(s->io, 1);
	s->p = imap_parser_new(NULL);
	s_limits(s);
	evtimer_set(&s->ev_delay, imap_idle_timer, s);
	if (RB_INSERT(imap_ids, &byid, s) != NULL)
		fatalx("imap: session id %llu twice",
		    (unsigned long long)s->id);
	TAILQ_INSERT_TAIL(&imap_sessions, s, all);
	log_debug("imap %llu: connection from %s", (unsigned long long)s->id,
	    s->addr);

	if (l->flags & L_IMAPS) {
		s->state = S_HANDSHAKE;
		if ((s->tls = s->env->tls_get(l)) == NULL ||
		    io_start_tls(s->io, s->env->tls_ctx(s->tls)) == -1) {
			s_close(s, "no TLS context");
			return;
		}
		return;
	}
	s->state = S_NOAUTH;
	s_capability(s, caps, sizeof(caps));
	imap_printf(s, "* OK [CAPABILITY %s] maild ready\r\n", caps);
}

static struct imap_session *
s_find(uint64_t id)
{
	struct imap_session	 key;

	key.id = id;
	return RB_FIND(imap_ids, &byid, &key);
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

	lim.line_max = auth ? IMAP_LINE_MAX : IMAP_PRE_LINE_MAX;
	lim.lit_max = auth ? IMAP_LIT_MAX : IMAP_PRE_MAX;
	lim.append_max = auth ? conf->max_msg_size : IMAP_PRE_MAX;
	lim.lit_total = auth ? conf->max_msg_size + IMAP_LIT_MAX :
	    2 * IMAP_PRE_MAX;
	lim.args_max = IMAP_ARGS_MAX;
	lim.depth_max = IMAP_DEPTH;
	imap_parser_set_limits(s->p, &lim);
	/* APPEND's messages go to the spool, in the user's home. */
	imap_parser_set_spill(s->p, auth ? imap_spool_write : NULL, s,
	    IMAP_SPOOL_MAX);
}

static void
s_close(struct imap_session *s, const char *why)
{
	char	 zinfo[128];

	io_compress_info(s->io, zinfo, sizeof(zinfo));
	log_debug("imap %llu: closed (%s)%s%s", (unsigned long long)s->id, why,
	    zinfo[0] ? ", " : "", zinfo);
	if (s->fj != NULL) {
		fetch_free(s->fj->spec);
		free(s->fj->uids);
		free(s->fj);
	}
	imap_unselect(s);
	imap_notify_free(s);
	imap_spool_reset(s);
	evtimer_del(&s->ev_delay);
	RB_REMOVE(imap_ids, &byid, s);
	TAILQ_REMOVE(&imap_sessions, s, all);
	io_free(s->io);
	if (s->tls != NULL)
		s->env->tls_put(s->tls);	/* after the connection */
	imap_parser_free(s->p);
	s->env->gone(&s->ss, s->l);
	explicit_bzero(s, sizeof(*s));
	free(s);
}

void
imap_printf(struct imap_session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	io_vprintf(s->io, fmt, ap);
	va_end(ap);
}

/* The tagged answer of the current command; the session reads on. */
void
imap_tagged(struct imap_session *s, const char *status, const char *fmt, ...)
{
	char	 buf[512];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (strcmp(status, "BAD") == 0) {
		if (++s->errors > IMAP_MAX_ERRORS) {
			imap_printf(s, "%s BAD %s\r\n* BYE Too many errors\r\n",
			    s->tag[0] ? s->tag : "*", buf);
			s->state = S_LOGOUT;
			return;
		}
	} else
		s->errors = 0;
	imap_printf(s, "%s %s %s\r\n", s->tag[0] ? s->tag : "*", status, buf);
}

static void
s_capability(struct imap_session *s, char *buf, size_t len)
{
	/*
	 * One row per capability; a new extension adds its row once it is
	 * complete.  CAP_PRE: also before login; CAP_QUOTA: when mail.conf
	 * has quotas.
	 */
	static const struct {
		const char	*name;
		int		 flags;
#define CAP_PRE		0x01
#define CAP_QUOTA	0x02
	} caps[] = {
		{ "IMAP4rev1",		CAP_PRE },
		{ "IMAP4rev2",		CAP_PRE },
		{ "SASL-IR",		CAP_PRE },
		{ "LITERAL+",		CAP_PRE },
		{ "ID",			CAP_PRE },
		{ "ENABLE",		CAP_PRE },
		{ "IDLE",		CAP_PRE },
		{ "NAMESPACE",		0 },
		{ "UIDPLUS",		0 },
		{ "MOVE",		0 },
		{ "UNSELECT",		0 },
		{ "CHILDREN",		0 },
		{ "LIST-EXTENDED",	0 },
		{ "LIST-STATUS",	0 },
		{ "SPECIAL-USE",	0 },
		{ "ESEARCH",		0 },
		{ "CONTEXT=SEARCH",	0 },
		{ "CONDSTORE",		0 },
		{ "QRESYNC",		0 },
		{ "NOTIFY",		0 },
		{ "STATUS=SIZE",	0 },
		{ "UNAUTHENTICATE",	0 },
		{ "MULTIAPPEND",	0 },
		{ "CATENATE",		0 },
		{ "BINARY",		0 },
		{ "REPLACE",		0 },
		{ "SORT",		0 },
		{ "SORT=DISPLAY",	0 },
		{ "THREAD=ORDEREDSUBJECT", 0 },
		{ "THREAD=REFERENCES",	0 },
		{ "ESORT",		0 },
		{ "CONTEXT=SORT",	0 },
		{ "COMPRESS=DEFLATE",	0 },
		{ "QUOTA",		CAP_QUOTA },
		{ "QUOTA=RES-STORAGE",	CAP_QUOTA },
		{ "QUOTA=RES-MESSAGE",	CAP_QUOTA },
		{ "OBJECTID",		0 },
		{ "SAVEDATE",		0 },
		{ "PREVIEW",		0 },
		{ "METADATA",		0 },
		{ "METADATA-SERVER",	0 },
	};
	size_t	 i, n = 0;
	int	 pre = s->state == S_NOAUTH || s->state == S_HANDSHAKE;
	int	 tls = io_tls_started(s->io);

	buf[0] = '\0';
	for (i = 0; i < nitems(caps); i++) {
		if ((pre && !(caps[i].flags & CAP_PRE)) ||
		    ((caps[i].flags & CAP_QUOTA) && !conf->quota))
			continue;
		n += snprintf(buf + n, n < len ? len - n : 0, "%s%s",
		    n ? " " : "", caps[i].name);
	}
	if (pre)
		n += snprintf(buf + n, n < len ? len - n : 0, "%s",
		    tls ? " AUTH=PLAIN" : " STARTTLS LOGINDISABLED");
	else
		n += snprintf(buf + n, n < len ? len - n : 0,
		    " APPENDLIMIT=%zu", conf->max_msg_size);
	if (n >= len)
		fatalx("imap: CAPABILITY over %zu bytes", len);
}

static void
s_io(struct io *io, int ev, void *arg)
{
	struct imap_session	*s = arg;
	char			 caps[IMAP_CAPS_MAX];

	(void)io;
	switch (ev) {
	case IO_TLSREADY:
		STAT_INC(ST_IMAP_TLS);
		if (s->state == S_HANDSHAKE) {
			s->state = S_NOAUTH;
			s_capability(s, caps, sizeof(caps));
			imap_printf(s, "* OK [CAPABILITY %s] maild ready\r\n",
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
			imap_fetch_run(s);
		else if (s->wait == W_STARTTLS && !io_tls_started(s->io)) {
			/* Nothing sent before it may count (CVE-2011-0411). */
			io_drop_input(s->io);
			if (io_start_tls(s->io,
			    s->env->tls_ctx(s->tls)) == -1) {
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
		imap_printf(s, "* BYE Autologout; idle for too long\r\n");
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
			s_skip_line(s, line, len, partial);
			continue;
		}
		if (partial) {
			/* Over-long line: refuse the command, skip the rest. */
			imap_parser_reset(s->p);
			imap_spool_reset(s);
			s->skipline = 1;
			s->nskiptail = 0;
			s_skip_line(s, line, len, partial);
			s->tag[0] = '\0';
			imap_tagged(s, "BAD", "Command line too long");
			continue;
		}
		s_line(s, line, len);
	}
}

/*
 * A line of a refused command, skipped: if it announces a
 * non-synchronizing literal the client sends that anyway, and the line
 * after it still belongs to the command.  The end of an over-long line
 * comes in pieces: its last bytes are kept to read the announcement.
 */
static void
s_skip_line(struct imap_session *s, const char *line, size_t len,
    int partial)
{
	char		 tail[2 * sizeof(s->skiptail)];
	uint64_t	 size, max;
	size_t		 n, keep;
	int		 sync;

	if (partial) {
		keep = len < sizeof(s->skiptail) ? len : sizeof(s->skiptail);
		if (keep < sizeof(s->skiptail) && s->nskiptail > 0) {
			n = s->nskiptail + keep > sizeof(s->skiptail) ?
			    s->nskiptail + keep - sizeof(s->skiptail) : 0;
			memmove(s->skiptail, s->skiptail + n,
			    s->nskiptail - n);
			s->nskiptail -= n;
		} else
			s->nskiptail = 0;
		memcpy(s->skiptail + s->nskiptail, line + len - keep, keep);
		s->nskiptail += keep;
		return;
	}
	s->skipline = 0;
	if (s->nskiptail > 0 && len < sizeof(s->skiptail)) {
		memcpy(tail, s->skiptail, s->nskiptail);
		memcpy(tail + s->nskiptail, line, len);
		line = tail;
		len += s->nskiptail;
	}
	s->nskiptail = 0;
	if (!imap_literal_trailer(line, len, &size, &sync) || sync)
		return;
	/*
	 * RFC 7888 4: read it and refuse the command, or, when it is far
	 * larger than anything this session would take, say BYE.
	 */
	max = s->state == S_AUTH || s->state == S_SELECTED ?
	    2 * (uint64_t)conf->max_msg_size + IMAP_LIT_MAX : 2 * IMAP_PRE_MAX;
	if (size > max) {
		imap_printf(s, "* BYE [TOOBIG] Literal of %llu bytes "
		    "refused\r\n", (unsigned long long)size);
		s->state = S_LOGOUT;
		return;
	}
	s->skip = size;
	s->skipline = 1;
}

/*
 * The command was refused before its end, at this line: what the
 * client still sends of it is skipped.
 */
static void
s_refused(struct imap_session *s, const char *line, size_t len)
{
	imap_parser_reset(s->p);
	imap_spool_reset(s);
	s->nskiptail = 0;
	s_skip_line(s, line, len, 0);
}

static void
s_line(struct imap_session *s, char *line, size_t len)
{
	const char			*tag, *err, *name;
	enum imap_parse_error		 e;
	const struct imap_command	*cmd;
	uint64_t			 size;
	int				 r, sync, uid, append, setmeta;

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
			imap_tagged(s, "BAD", "Expected DONE");
		else {
			imap_update(s, 1);
			imap_tagged(s, "OK", "Idle completed");
		}
		return;
	}
	r = imap_parser_line(s->p, line, len);
	name = imap_parser_name(s->p, &uid);
	append = name != NULL && (strcmp(name, "APPEND") == 0 ||
	    strcmp(name, "REPLACE") == 0);
	tag = imap_parser_tag(s->p);
	if (r == IMAP_PARSE_LITERAL) {
		size = imap_parser_literal_size(s->p, &sync);
		if (append) {
			strlcpy(s->tag, tag != NULL ? tag : "*",
			    sizeof(s->tag));
			if (imap_append_early(s) == -1) {
				s_refused(s, line, len);
				return;
			}
		}
		if (sync)
			imap_printf(s, "+ Ready for %llu bytes\r\n",
			    (unsigned long long)size);
		return;
	}
	if (r == IMAP_PARSE_ERROR) {
		err = imap_parser_error(s->p, &e);
		strlcpy(s->tag, tag != NULL ? tag : "*", sizeof(s->tag));
		setmeta = name != NULL && strcmp(name, "SETMETADATA") == 0;
		/* A non-synchronizing literal is sent anyway: skip it. */
		s_refused(s, line, len);
		if (e == IMAP_ERR_TOOBIG && append) {
			imap_tagged(s, "NO", "[TOOBIG] %s (APPENDLIMIT %zu)",
			    err, conf->max_msg_size);
			return;
		}
		if (e == IMAP_ERR_TOOBIG && setmeta) {
			imap_tagged(s, "NO", "[METADATA MAXSIZE %d] "
			    "Value too large", METADATA_VALUE_MAX);
			return;
		}
		if (e == IMAP_ERR_MANY && append) {
			imap_tagged(s, "NO", "[LIMIT] Too many messages or "
			    "parts in one command");
			return;
		}
		imap_tagged(s, "BAD", "%s%s", e == IMAP_ERR_TOOBIG ?
		    "[TOOBIG] " : "", err != NULL ? err : "Syntax error");
		return;
	}
	cmd = imap_parser_command(s->p);
	strlcpy(s->tag, cmd->tag, sizeof(s->tag));
	s_command(s, cmd);
	imap_spool_reset(s);
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
		imap_tagged(s, "BAD", "Unknown command");
		return;
	}
	st = s->state == S_NOAUTH ? ST_NOAUTH : s->state == S_AUTH ?
	    ST_AUTH : ST_SELECTED;
	if (!(commands[i].flags & st)) {
		imap_tagged(s, "BAD", "%s", s->state == S_NOAUTH ?
		    "Log in first" : s->state == S_AUTH ?
		    "No mailbox selected" : "Already logged in");
		return;
	}
	/* A mailbox deleted under us: nothing more can be done with it. */
	if (s->mb != NULL && mbox_gone(s->mb)) {
		imap_printf(s, "* BYE Selected mailbox was deleted or "
		    "renamed\r\n");
		s->state = S_LOGOUT;
		return;
	}
	commands[i].fn(s, cmd);
}

/* A command finished: bring the view up to date where allowed. */
void
imap_done(struct imap_session *s)
{
	if (s->mb != NULL)
		(void)mbox_commit(s->mb);
}

/* -- any state -- */

void
imap_cmd_capability(struct imap_session *s, const struct imap_command *cmd)
{
	char	 caps[IMAP_CAPS_MAX];

	if (cmd->nargs != 0) {
		imap_tagged(s, "BAD", "CAPABILITY takes no arguments");
		return;
	}
	s_capability(s, caps, sizeof(caps));
	imap_printf(s, "* CAPABILITY %s\r\n", caps);
	imap_tagged(s, "OK", "Capability completed");
}

void
imap_cmd_noop(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 0) {
		imap_tagged(s, "BAD", "%s takes no arguments", cmd->name);
		return;
	}
	if (s->mb != NULL && mbox_sync(s->mb) == 1)
		imap_mbox_changed(s->mb, s);
	imap_update(s, 1);
	imap_done(s);
	imap_tagged(s, "OK", "%s completed", cmd->name);
}

void
imap_cmd_logout(struct imap_session *s, const struct imap_command *cmd)
{
	(void)cmd;
	imap_printf(s, "* BYE Logging out\r\n");
	imap_tagged(s, "OK", "Logout completed");
	s->state = S_LOGOUT;
}

void
imap_cmd_id(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg	*a = cmd->args;

	if (cmd->nargs != 1 || (a->type != IMAP_ARG_NIL &&
	    a->type != IMAP_ARG_LIST) || (a->type == IMAP_ARG_LIST &&
	    (a->nlist % 2 != 0 || a->nlist > 60))) {
		imap_tagged(s, "BAD", "ID takes a list of field-value pairs "
		    "or NIL");
		return;
	}
	imap_printf(s, "* ID (\"name\" \"maild\" \"version\" \"%s\")\r\n",
	    MAILD_VERSION);
	imap_tagged(s, "OK", "ID completed");
}

void
imap_cmd_starttls(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 0) {
		imap_tagged(s, "BAD", "STARTTLS takes no arguments");
		return;
	}
	if (io_tls_started(s->io) || !(s->l->flags & (L_TLS | L_TLS_REQUIRE))) {
		imap_tagged(s, "BAD", "TLS is already active or not offered");
		return;
	}
	if ((s->tls = s->env->tls_get(s->l)) == NULL) {
		imap_tagged(s, "NO", "[UNAVAILABLE] TLS not available");
		return;
	}
	imap_tagged(s, "OK", "Begin TLS negotiation now");
	/* The handshake starts once the OK is out (s_io, IO_LOWAT). */
	s->wait = W_STARTTLS;
}

/*
 * RFC 4978: the tagged OK goes out as it is, everything after it both
 * ways is raw DEFLATE, commands the client sent behind this one too.
 */
void
imap_cmd_compress(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg	*a = cmd->args;

	if (cmd->nargs != 1 || a->type != IMAP_ARG_ATOM) {
		imap_tagged(s, "BAD", "COMPRESS takes a mechanism name");
		return;
	}
	if (strcasecmp(a->str, "DEFLATE") != 0) {
		imap_tagged(s, "BAD", "Unknown compression mechanism");
		return;
	}
	if (io_compressed(s->io)) {
		imap_tagged(s, "NO", "[COMPRESSIONACTIVE] DEFLATE active "
		    "already");
		return;
	}
	imap_tagged(s, "OK", "DEFLATE active");
	if (io_start_compress(s->io) == -1)
		fatalx("imap: io_start_compress");
	log_debug("imap %llu: DEFLATE on", (unsigned long long)s->id);
}

static int
s_plaintext_refused(struct imap_session *s)
{
	if (io_tls_started(s->io))
		return 0;
	imap_tagged(s, "NO", "[PRIVACYREQUIRED] Use STARTTLS first");
	return 1;
}

void
imap_cmd_login(struct imap_session *s, const struct imap_command *cmd)
{
	const char	*user, *pass;
	size_t		 ulen, plen;

	if (cmd->nargs != 2 ||
	    imap_arg_astring(cmd->args, &user, &ulen) == -1 ||
	    imap_arg_astring(cmd->args->next, &pass, &plen) == -1) {
		imap_tagged(s, "BAD", "LOGIN takes a user name and a password");
		return;
	}
	if (s_plaintext_refused(s))
		return;
	if (memchr(user, '\0', ulen) != NULL) {
		imap_tagged(s, "BAD", "NUL in user name");
		return;
	}
	s_login(s, user, pass, plen);
}

void
imap_cmd_authenticate(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg	*a = cmd->args;
	const char		*ir;
	size_t			 len;

	if (cmd->nargs < 1 || cmd->nargs > 2 || a->type != IMAP_ARG_ATOM) {
		imap_tagged(s, "BAD", "AUTHENTICATE takes a mechanism");
		return;
	}
	if (strcasecmp(a->str, "PLAIN") != 0) {
		imap_tagged(s, "NO", "Unsupported authentication mechanism");
		return;
	}
	if (s_plaintext_refused(s))
		return;
	if (cmd->nargs == 2) {
		if (imap_arg_astring(a->next, &ir, &len) == -1) {
			imap_tagged(s, "BAD", "Bad initial response");
			return;
		}
		s_sasl_line(s, (char *)(uintptr_t)ir, len);
		return;
	}
	s->wait = W_SASL;
	imap_printf(s, "+ \r\n");
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
		imap_tagged(s, "BAD", "Authentication cancelled");
		return;
	}
	if (sasl_decode(line, len, buf, &n) == -1) {
		imap_tagged(s, "BAD", "Invalid base64 data");
		return;
	}
	if ((r = sasl_plain(buf, n, &user, &pass, &plen)) == SASL_AUTHZ)
		imap_tagged(s, "NO", "[AUTHORIZATIONFAILED] Cannot act as "
		    "another user");
	else if (r != SASL_OK)
		imap_tagged(s, "NO", "[AUTHENTICATIONFAILED] Malformed "
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
		imap_tagged(s, "NO", "[AUTHENTICATIONFAILED] Authentication "
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
	s->authcounted = s->env->auth_send(&s->ss, user, b);
	explicit_bzero(b, sizeof(*b));
	free(b);
	if (s->authcounted == AUTH_THROTTLED) {
		log_info("imap %llu: login %s from %s throttled",
		    (unsigned long long)s->id, user, s->addr);
		imap_tagged(s, "NO", "[UNAVAILABLE] Too many login attempts, "
		    "try again later");
		return;
	}
	strlcpy(s->user, user, sizeof(s->user));
	s->wait = W_LOOKUP;
	io_pause(s->io);
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
		(void)imap_subs_change(s, mailbox_specials[i].name, 1);
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

	TAILQ_FOREACH(s, &imap_sessions, all)
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
	char			 caps[IMAP_CAPS_MAX];
	int			 saved;

	if ((s = s_find(id)) == NULL) {
		log_debug("imap %llu: login answer for a session gone",
		    (unsigned long long)id);
		return;
	}
	if (s->wait != W_LOOKUP) {
		log_warnx("imap %llu: login answer while not waiting for "
		    "one: dropped", (unsigned long long)id);
		return;
	}
	s->wait = W_NONE;
	if (res == AUTH_TEMPFAIL) {
		log_warnx("imap %llu: login %s from %s: temporary failure",
		    (unsigned long long)s->id, s->user, s->addr);
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try "
		    "again later");
		io_resume(s->io);
		return;
	}
	if (res != AUTH_OK) {
		STAT_INC(ST_IMAP_AUTH_FAIL);
		log_info("imap %llu: login %s from %s failed",
		    (unsigned long long)s->id, s->user, s->addr);
		/* Slower and slower for guessers: their next check waits. */
		s->env->auth_failed(&s->ss, s->user, s->authcounted);
		s->user[0] = '\0';
		imap_tagged(s, "NO", "[AUTHENTICATIONFAILED] Authentication "
		    "failed");
		io_resume(s->io);
		return;
	}
	STAT_INC(ST_IMAP_AUTH_OK);
	s->env->auth_ok(&s->ss, user);
	strlcpy(s->user, user, sizeof(s->user));
	if (s_user_sessions(user) >= conf->imap_max_per_user) {
		s->user[0] = '\0';
		imap_tagged(s, "NO", "[LIMIT] Too many connections for this "
		    "user");
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
			imap_tagged(s, "NO", "[UNAVAILABLE] Mailbox refused: "
			    "symbolic link in its path");
		else
			imap_tagged(s, "NO", "[UNAVAILABLE] Mailbox not "
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
	imap_tagged(s, "OK", "[CAPABILITY %s] Logged in", caps);
	io_resume(s->io);
}

void
imap_cmd_enable(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg	*a;
	char			 out[128] = "";
	int			 bit, condstore = 0;

	if (cmd->nargs == 0) {
		imap_tagged(s, "BAD", "ENABLE needs a capability");
		return;
	}
	for (a = cmd->args; a != NULL; a = a->next) {
		if (a->type != IMAP_ARG_ATOM) {
			imap_tagged(s, "BAD", "ENABLE takes capability names");
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
		if (bit & EN_CONDSTORE)
			condstore = !(s->enabled & EN_CONDSTORE);
		s->enabled |= bit & ~EN_CONDSTORE;
		strlcat(out, " ", sizeof(out));
		strlcat(out, bit == EN_CONDSTORE ? "CONDSTORE" :
		    bit == EN_REV2 ? "IMAP4rev2" : "QRESYNC", sizeof(out));
	}
	imap_printf(s, "* ENABLED%s\r\n", out);
	if (condstore)
		imap_condstore(s);
	imap_tagged(s, "OK", "Enabled");
}

/*
 * A CONDSTORE-enabling command.  The first one in selected state, other
 * than a SELECT that asked for CONDSTORE, is followed by the mailbox's
 * HIGHESTMODSEQ (RFC 7162 3.1).
 */
void
imap_condstore(struct imap_session *s)
{
	if (s->enabled & EN_CONDSTORE)
		return;
	s->enabled |= EN_CONDSTORE;
	if (s->state == S_SELECTED && s->mb != NULL)
		imap_printf(s, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
		    (unsigned long long)mbox_highestmodseq(s->mb));
}

void
imap_cmd_namespace(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 0) {
		imap_tagged(s, "BAD", "NAMESPACE takes no arguments");
		return;
	}
	imap_printf(s, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
	imap_tagged(s, "OK", "Namespace completed");
}

void
imap_cmd_check(struct imap_session *s, const struct imap_command *cmd)
{
	imap_cmd_noop(s, cmd);
}

/*
 * UNAUTHENTICATE (RFC 8437): back to the state after the greeting, TLS
 * kept.  Nothing of the user stays: the selected mailbox is closed
 * without expunging, ENABLEd extensions and NOTIFY end, the limits and
 * the deadlines are those before login again.  A new login goes
 * through the same throttle as any other.
 */
void
imap_cmd_unauthenticate(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 0) {
		imap_tagged(s, "BAD", "UNAUTHENTICATE takes no arguments");
		return;
	}
	log_info("imap %llu: %s logged out (UNAUTHENTICATE)",
	    (unsigned long long)s->id, s->user);
	imap_unselect(s);
	imap_notify_free(s);
	s->state = S_NOAUTH;
	s->enabled = 0;
	s->readonly = 0;
	s->seen_modseq = 0;
	s->authcounted = 0;
	explicit_bzero(s->user, sizeof(s->user));
	explicit_bzero(s->home, sizeof(s->home));
	s_limits(s);
	io_set_timeout(s->io, IMAP_TIMEOUT_PRE);
	io_set_line_deadline(s->io, 1);
	imap_tagged(s, "OK", "Unauthenticate completed");
}
