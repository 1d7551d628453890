/*
 * SMTP server sessions (RFC 5321): the command table, the state machine,
 * the commands and their answers from the lookup and queue processes.
 * The DATA reader, which writes the message into the spool file, is
 * smtp_data.c.  The session reaches its process only through its
 * struct io and struct session_env (include/session_env.h).  It waits
 * for one answer at a time and records which (s->wait): any other is
 * dropped.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "dns.h"
#include "expand.h"
#include "greylist.h"
#include "io.h"
#include "proc.h"
#include "quota.h"
#include "sasl.h"
#include "server.h"
#include "smtp_parse.h"
#include "smtp_session.h"

#define MAX_ERRORS		20	/* Postfix's hard error limit */

typedef void	(*smtp_handler)(struct smtp_session *, const char *);

struct smtp_cmd {
	enum smtp_verb	 verb;
	const char	*name;
	int		 states;	/* bit mask of allowed states */
	smtp_handler	 handler;
};

static void	smtp_io(struct io *, int, void *);
static void	smtp_deadline(int, short, void *);
static void	smtp_process(struct smtp_session *);
static void	smtp_command(struct smtp_session *, char *);
static void	smtp_greeting(struct smtp_session *);
static struct smtp_session *smtp_connchk_answer(uint64_t, int);
static void	smtp_connchk_done(struct smtp_session *);
static int	smtp_start_tls(struct smtp_session *);
static void	smtp_free(struct smtp_session *, const char *);
static void	smtp_sasl_line(struct smtp_session *, char *, size_t);
static void	smtp_auth_send(struct smtp_session *, const char *,
		    const char *, size_t);
static void	smtp_mail_create(struct smtp_session *);
static int	smtp_grey_ask(struct smtp_session *, uint32_t);
static void	smtp_rcpt_ok(struct smtp_session *, uint32_t);
static int	smtp_id_cmp(const struct smtp_session *,
		    const struct smtp_session *);
static struct smtp_session *smtp_find(uint64_t);

static void	cmd_helo(struct smtp_session *, const char *);
static void	cmd_ehlo(struct smtp_session *, const char *);
static void	cmd_starttls(struct smtp_session *, const char *);
static void	cmd_auth(struct smtp_session *, const char *);
static void	cmd_mail(struct smtp_session *, const char *);
static void	cmd_rcpt(struct smtp_session *, const char *);
static void	cmd_rset(struct smtp_session *, const char *);
static void	cmd_noop(struct smtp_session *, const char *);
static void	cmd_quit(struct smtp_session *, const char *);
static void	cmd_help(struct smtp_session *, const char *);
static void	cmd_vrfy(struct smtp_session *, const char *);
static void	cmd_expn(struct smtp_session *, const char *);
static void	cmd_bdat(struct smtp_session *, const char *);

#define ST(s)		(1 << (s))
#define ST_ANY		(ST(S_CONNECTED) | ST(S_HELO) | ST(S_MAIL) | ST(S_RCPT))
#define ST_TXN		(ST(S_MAIL) | ST(S_RCPT))
#define ST_START	(ST(S_CONNECTED) | ST(S_HELO))

static const struct smtp_cmd smtp_cmds[] = {
	{ CMD_HELO,	"HELO",		ST_ANY,			cmd_helo },
	{ CMD_EHLO,	"EHLO",		ST_ANY,			cmd_ehlo },
	{ CMD_STARTTLS,	"STARTTLS",	ST_START,		cmd_starttls },
	{ CMD_AUTH,	"AUTH",		ST(S_HELO),		cmd_auth },
	{ CMD_MAIL,	"MAIL",		ST(S_HELO),		cmd_mail },
	{ CMD_RCPT,	"RCPT",		ST_TXN,			cmd_rcpt },
	{ CMD_DATA,	"DATA",		ST(S_RCPT),		smtp_cmd_data },
	{ CMD_RSET,	"RSET",		ST_ANY,			cmd_rset },
	{ CMD_NOOP,	"NOOP",		ST_ANY,			cmd_noop },
	{ CMD_QUIT,	"QUIT",		ST_ANY | ST(S_REFUSED),	cmd_quit },
	{ CMD_HELP,	"HELP",		ST_ANY,			cmd_help },
	{ CMD_VRFY,	"VRFY",		ST_ANY,			cmd_vrfy },
	{ CMD_EXPN,	"EXPN",		ST_ANY,			cmd_expn },
	{ CMD_BDAT,	"BDAT",		ST_ANY,			cmd_bdat },
};

RB_HEAD(smtp_ids, smtp_session);
RB_PROTOTYPE(smtp_ids, smtp_session, node, smtp_id_cmp)

static struct smtp_ids		 sessions = RB_INITIALIZER(&sessions);
static uint64_t			 next_id;
static int			 next_id_set;

static int
smtp_id_cmp(const struct smtp_session *a, const struct smtp_session *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

RB_GENERATE(smtp_ids, smtp_session, node, smtp_id_cmp)

static struct smtp_session *
smtp_find(uint64_t id)
{
	struct smtp_session	 key;

	key.id = id;
	return RB_FIND(smtp_ids, &sessions, &key);
}

void
smtp_session_new(struct io *io, const struct listener *l,
    const struct sockaddr_storage *ss, int self,
    const struct session_env *env)
{
	struct smtp_session	*s;
	struct ipc_buf		 b;
	char			 buf[INET6_ADDRSTRLEN];
	const void		*a;
	int			 remote;

	if (!next_id_set) {
		next_id_set = 1;
		compat_random(&next_id, sizeof(next_id));
		next_id &= 0xffffffffffffULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("calloc");
	s->id = ++next_id;
	s->env = env;
	STAT_INC(ST_SMTP_SESSIONS);
	s->l = l;
	s->ss = *ss;
	s->msgfd = -1;
	if (ss->ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	else
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	if (inet_ntop(ss->ss_family, a, buf, sizeof(buf)) == NULL)
		strlcpy(buf, "unknown", sizeof(buf));
	snprintf(s->src, sizeof(s->src), "%s%s",
	    ss->ss_family == AF_INET6 ? "IPv6:" : "", buf);
	/* MAILD_TEST_REMOTE_NET: a test's loopback clients are remote. */
	remote = addr_sa_in_net(ss, &conf->test_remote,
	    conf->test_remote_plen);
	if (addr_sa_loopback(ss) && !remote)
		s->flags |= F_LOCAL;
	if (self && !remote)
		s->flags |= F_SELF;
	s->io = io;
	io_set_callback(io, smtp_io, s);
	io_set_maxline(io, SMTP_LINE_MAX);
	io_set_timeout(s->io, conf->smtp_timeout * 1000);
	/* A line trickled in a byte at a time ends within the timeout too. */
	io_set_line_deadline(s->io, 1);
	evtimer_set(&s->ev_deadline, smtp_deadline, s);
	smtp_deadline_set(s, SESSION_DEADLINE(conf));
	if (RB_INSERT(smtp_ids, &sessions, s) != NULL)
		fatalx("smtp: session id %016llx twice",
		    (unsigned long long)s->id);
	log_debug("%016llx smtp connect from %s on port %d",
	    (unsigned long long)s->id, s->src, l->port);
	/*
	 * A client on our own address is a program of this machine (cron,
	 * a script), which OpenSMTPD served on lo0 without the check.
	 */
	if ((l->flags & (L_CHECK_RDNS | L_CHECK_FCRDNS)) &&
	    (s->flags & F_SELF))
		log_debug("%016llx smtp: %s is this machine: no rDNS check",
		    (unsigned long long)s->id, s->src);
	else if (l->flags & (L_CHECK_RDNS | L_CHECK_FCRDNS)) {
		ipc_buf_init(&b);
		ipc_add_u64(&b, s->id);
		ipc_add_sockaddr(&b, &s->ss);
		s->env->send(PROC_LOOKUP, IMSG_L_FCRDNS, -1, &b);
		s->connchk |= CHK_RDNS;
	}
	/* Local programs, as the checks of messages skip them. */
	if ((l->flags & L_DNSBL) && conf->ndnsbl > 0 &&
	    (s->flags & (F_LOCAL | F_SELF)))
		log_debug("%016llx smtp: %s is local: no DNSBL check",
		    (unsigned long long)s->id, s->src);
	else if ((l->flags & L_DNSBL) && conf->ndnsbl > 0) {
		ipc_buf_init(&b);
		ipc_add_u64(&b, s->id);
		ipc_add_sockaddr(&b, &s->ss);
		s->env->send(PROC_LOOKUP, IMSG_L_DNSBL, -1, &b);
		s->connchk |= CHK_DNSBL;
	}
	/* No greeting, and nothing read, until the checks are done. */
	if (s->connchk != 0)
		smtp_wait(s, (s->connchk & CHK_RDNS) ? IMSG_L_FCRDNS :
		    IMSG_L_DNSBL);
	if (l->flags & L_SMTPS) {
		s->state = S_GREETING;
		if (smtp_start_tls(s) == -1) {
			smtp_free(s, "tls setup failed");
			return;
		}
	} else {
		s->state = S_CONNECTED;
		smtp_greeting(s);
	}
}

/*
 * The session of id if the check chk is still out, which it no longer
 * is; else NULL, and the answer is logged and dropped.
 */
static struct smtp_session *
smtp_connchk_answer(uint64_t id, int chk)
{
	struct smtp_session	*s;
	const char		*what = chk == CHK_RDNS ? "L_FCRDNS_RES" :
				    "L_DNSBL_RES";

	if ((s = smtp_find(id)) == NULL) {
		log_debug("%016llx smtp: answer to IMSG_%s for a session "
		    "gone", (unsigned long long)id, what);
		return NULL;
	}
	if (!(s->connchk & chk)) {
		log_warnx("%016llx smtp: IMSG_%s not asked for: dropped",
		    (unsigned long long)id, what);
		return NULL;
	}
	s->connchk &= ~chk;
	return s;
}

/* The last check on connect has answered: the greeting or refusal. */
static void
smtp_connchk_done(struct smtp_session *s)
{
	if (s->connchk != 0)
		return;
	if (s->refuse[0] != '\0' && !s->dnsbl_refused)
		STAT_INC(ST_SMTP_REFUSED_DNS);
	smtp_unwait(s);
	if (s->state == S_CONNECTED)
		smtp_greeting(s);
}

/*
 * The rDNS verdict (RFC 7372 5.7.25): no PTR fails "check rdns", a PTR
 * whose names do not resolve back fails "check fcrdns"; a DNS failure
 * is temporary.  A refused client gets the reply instead of the 220,
 * unless the DNS lists refuse it too: their reply says more.
 */
void
smtp_session_fcrdns_result(uint64_t id, int r, const char *name)
{
	struct smtp_session	*s;
	const struct listener	*l;
	char			 refuse[sizeof(s->refuse)] = "";

	if ((s = smtp_connchk_answer(id, CHK_RDNS)) == NULL)
		return;
	l = s->l;
	if (r == FCRDNS_PASS || r == FCRDNS_MISMATCH)
		strlcpy(s->rdns, name, sizeof(s->rdns));
	if (r == FCRDNS_TEMPFAIL)
		(void)snprintf(refuse, sizeof(refuse), "451 4.7.25 "
		    "Temporary DNS failure checking %s, try again later",
		    s->src);
	else if (r == FCRDNS_NORDNS && conf->rdns_msg[0] != '\0')
		(void)snprintf(refuse, sizeof(refuse), "550 5.7.25 %s",
		    conf->rdns_msg);
	else if (r == FCRDNS_NORDNS)
		(void)snprintf(refuse, sizeof(refuse), "550 5.7.25 "
		    "No reverse DNS name for %s", s->src);
	else if (r == FCRDNS_MISMATCH && (l->flags & L_CHECK_FCRDNS) &&
	    conf->fcrdns_msg[0] != '\0')
		(void)snprintf(refuse, sizeof(refuse), "550 5.7.25 %s",
		    conf->fcrdns_msg);
	else if (r == FCRDNS_MISMATCH && (l->flags & L_CHECK_FCRDNS))
		(void)snprintf(refuse, sizeof(refuse), "550 5.7.25 "
		    "Reverse DNS of %s does not resolve back to it", s->src);
	if (refuse[0] != '\0') {
		log_info("%016llx smtp: %s refused: %s", (unsigned long long)
		    s->id, s->src, dns_strfcrdns(r));
		if (!s->dnsbl_refused)
			strlcpy(s->refuse, refuse, sizeof(s->refuse));
	}
	smtp_connchk_done(s);
}

/*
 * The DNS lists' verdict: listed at the threshold, "554 5.7.1" and the
 * list's text instead of the 220 (as Postfix's postscreen and
 * OpenSMTPD's filter-dnsbl answer), whatever rDNS says.
 */
void
smtp_session_dnsbl_result(uint64_t id, int refuse, uint32_t errors,
    const char *reply, const char *why)
{
	struct smtp_session	*s;
	char			*p;

	if ((s = smtp_connchk_answer(id, CHK_DNSBL)) == NULL)
		return;
	stats[ST_SMTP_DNSBL_ERRORS] += errors;
	if (refuse) {
		s->dnsbl_refused = 1;
		(void)snprintf(s->refuse, sizeof(s->refuse), "554 5.7.1 %s",
		    reply);
		/* lookup made it printable; a reply line stays one line */
		for (p = s->refuse; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 ||
			    (unsigned char)*p > 0x7e)
				*p = '?';
		STAT_INC(ST_SMTP_REFUSED_DNSBL);
		log_info("%016llx smtp: %s refused: DNSBL %s",
		    (unsigned long long)s->id, s->src, why);
	} else if (why[0] != '\0')
		log_debug("%016llx smtp: %s DNSBL %s", (unsigned long long)
		    s->id, s->src, why);
	smtp_connchk_done(s);
}

/* TLS on the session's connection, with the listener's current keys. */
static int
smtp_start_tls(struct smtp_session *s)
{
	if ((s->tls = s->env->tls_get(s->l)) == NULL)
		return -1;
	return io_start_tls(s->io, s->env->tls_ctx(s->tls));
}

static void
smtp_greeting(struct smtp_session *s)
{
	if (s->connchk != 0)
		return;		/* smtp_connchk_done() greets */
	if (s->refuse[0] != '\0') {
		/* RFC 5321 3.1: then QUIT, anything else gets 503. */
		smtp_reply(s, "%s", s->refuse);
		s->state = S_REFUSED;
		io_set_timeout(s->io, REFUSED_TIMEOUT * 1000);
		return;
	}
	smtp_reply(s, "220 %s ESMTP maild", s->l->hostname[0] ?
	    s->l->hostname : conf->hostname);
}

const char *
smtp_hostname(struct smtp_session *s)
{
	return s->l->hostname[0] ? s->l->hostname : conf->hostname;
}

void
smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("smtp_reply");
	if ((size_t)n >= sizeof(buf) - 2)
		n = sizeof(buf) - 3;
	log_debug("%016llx smtp > %s", (unsigned long long)s->id, buf);
	buf[n++] = '\r';
	buf[n++] = '\n';
	io_write(s->io, buf, n);
	if (buf[0] == '5' || buf[0] == '4')
		s->errors++;
}

static void
smtp_free(struct smtp_session *s, const char *why)
{
	struct ipc_buf	 b;

	log_debug("%016llx smtp disconnect: %s", (unsigned long long)s->id,
	    why);
	if (s->msgid != 0) {
		ipc_buf_init(&b);
		ipc_add_u32(&b, s->msgid);
		s->env->send(PROC_QUEUE, IMSG_Q_ROLLBACK, -1, &b);
	}
	if (s->msgfd != -1)
		close(s->msgfd);
	evtimer_del(&s->ev_deadline);
	RB_REMOVE(smtp_ids, &sessions, s);
	s->env->gone(&s->ss, s->l);
	io_free(s->io);
	if (s->tls != NULL)
		s->env->tls_put(s->tls);	/* after the connection */
	free(s->dbuf);
	free(s->fromhdr);
	free(s);
}

void
smtp_deadline_set(struct smtp_session *s, time_t secs)
{
	struct timeval	 tv = { secs, 0 };

	evtimer_add(&s->ev_deadline, &tv);
}

/* DATA, or the wait for the next message, took too long. */
static void
smtp_deadline(int fd, short ev, void *arg)
{
	struct smtp_session	*s = arg;

	(void)fd;
	(void)ev;
	if (s->state == S_QUIT)
		return;		/* closing already, under its own timeout */
	if (s->wait != IMSG_NONE) {
		/* lookup or queue answers first; the verdict then */
		smtp_deadline_set(s, 1);
		return;
	}
	log_info("%016llx smtp: %s from %s took too long", (unsigned long long)
	    s->id, s->state == S_DATA ? "DATA" : "session", s->src);
	smtp_reply(s, "421 4.4.2 %s %s took too long, closing",
	    smtp_hostname(s), s->state == S_DATA ? "DATA" : "Session");
	s->state = S_QUIT;	/* a message in DATA is rolled back */
	io_drop_input(s->io);
	io_set_timeout(s->io, 5000);
}

void
smtp_wait(struct smtp_session *s, uint32_t type)
{
	s->wait = type;
	io_pause(s->io);
}

void
smtp_unwait(struct smtp_session *s)
{
	s->wait = IMSG_NONE;
	io_resume(s->io);
}

struct smtp_session *
smtp_answer(uint64_t id, uint32_t type)
{
	struct smtp_session	*s;

	if ((s = smtp_find(id)) == NULL) {
		/* it timed out or the client left: common */
		log_debug("%016llx smtp: answer to IMSG_%s for a session "
		    "gone", (unsigned long long)id, imsg_info[type].name);
		return NULL;
	}
	if (s->wait != type) {
		log_warnx("%016llx smtp: answer to IMSG_%s while waiting for "
		    "%s%s: dropped", (unsigned long long)id,
		    imsg_info[type].name, s->wait == IMSG_NONE ? "nothing" :
		    "IMSG_", s->wait == IMSG_NONE ? "" :
		    imsg_info[s->wait].name);
		return NULL;
	}
	s->wait = IMSG_NONE;
	return s;
}

static void
smtp_io(struct io *io, int evt, void *arg)
{
	struct smtp_session	*s = arg;

	switch (evt) {
	case IO_TLSREADY:
		s->flags |= F_TLS;
		STAT_INC(ST_SMTP_TLS);
		log_debug("%016llx smtp tls ok", (unsigned long long)s->id);
		if (s->state == S_GREETING) {
			s->state = S_CONNECTED;
			smtp_greeting(s);
		}
		break;
	case IO_DATAIN:
		if (s->flags & F_LINGER)
			io_drop_input(io);
		else
			smtp_process(s);
		break;
	case IO_LOWAT:
		if (s->state == S_QUIT && !(s->flags & F_LINGER)) {
			if (s->flags & F_TLS) {
				smtp_free(s, "quit");
				return;
			}
			/*
			 * Closing with unread input would send a RST, which
			 * can destroy our last reply in the client's buffers:
			 * half-close and read until the client closes too.
			 */
			s->flags |= F_LINGER;
			io_drop_input(io);
			io_shutdown(io);
			io_set_timeout(io, 2000);
			return;
		}
		if (s->flags & F_STARTTLS) {
			s->flags &= ~F_STARTTLS;
			io_drop_input(io);
			if (smtp_start_tls(s) == -1)
				smtp_free(s, io_error(io));
			break;
		}
		smtp_process(s);	/* input held while output waited */
		break;
	case IO_TIMEOUT:
		if (s->state == S_QUIT) {
			smtp_free(s, "timeout while closing");
			return;
		}
		if (io->flags & IO_HANDSHAKE) {
			smtp_free(s, "TLS handshake timeout");
			return;
		}
		smtp_reply(s, "421 4.4.2 %s Timeout exceeded, closing",
		    smtp_hostname(s));
		s->state = S_QUIT;
		io_set_timeout(io, 5000);
		break;
	case IO_DISCONNECTED:
		smtp_free(s, "connection closed by client");
		break;
	case IO_ERROR:
		smtp_free(s, io_error(io));
		break;
	}
}

static void
smtp_process(struct smtp_session *s)
{
	char	*line;
	size_t	 len;
	int	 partial;

	/* A client that does not read its replies is not read either. */
	while (s->wait == IMSG_NONE && !(s->flags & F_STARTTLS) &&
	    s->state != S_QUIT && io_queued(s->io) < IO_WMAX &&
	    (line = io_getline(s->io, &len, &partial)) != NULL) {
		if (s->state == S_DATA) {
			smtp_data_line(s, line, len, partial);
			continue;
		}
		if (partial) {
			if (!(s->flags & F_SKIPLINE))
				smtp_reply(s, "500 5.5.2 Line too long");
			s->flags |= F_SKIPLINE;
			continue;
		}
		if (s->flags & F_SKIPLINE) {
			s->flags &= ~F_SKIPLINE;
			continue;
		}
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (s->sasl != SASL_NONE) {
			smtp_sasl_line(s, line, len);
			continue;
		}
		if (memchr(line, '\0', len) != NULL) {
			smtp_reply(s, "500 5.5.2 Invalid characters");
			continue;
		}
		smtp_command(s, line);
		if (s->errors >= MAX_ERRORS && s->state != S_QUIT) {
			smtp_reply(s, "421 4.7.0 %s Too many errors, closing",
			    smtp_hostname(s));
			s->state = S_QUIT;
		}
	}
}

static void
smtp_command(struct smtp_session *s, char *line)
{
	const struct smtp_cmd	*c = NULL;
	const char		*arg;
	enum smtp_verb		 verb;
	size_t			 i;

	log_debug("%016llx smtp < %s", (unsigned long long)s->id, line);
	verb = smtp_parse_verb(line, &arg);
	if (s->state == S_REFUSED && verb != CMD_QUIT) {
		smtp_reply(s, "503 5.5.1 Refused at connect: only QUIT");
		return;
	}
	for (i = 0; i < nitems(smtp_cmds); i++)
		if (smtp_cmds[i].verb == verb) {
			c = &smtp_cmds[i];
			break;
		}
	if (c == NULL) {
		smtp_reply(s, "500 5.5.2 Command unrecognized");
		return;
	}
	if (!(c->states & ST(s->state))) {
		switch (verb) {
		case CMD_MAIL:
			if (s->state == S_CONNECTED)
				smtp_reply(s, "503 5.5.1 Say EHLO first");
			else
				smtp_reply(s, "503 5.5.1 Nested MAIL command");
			break;
		case CMD_RCPT:
			smtp_reply(s, "503 5.5.1 Need MAIL command first");
			break;
		case CMD_DATA:
			smtp_reply(s, "503 5.5.1 Need RCPT command first");
			break;
		case CMD_STARTTLS:
			smtp_reply(s, "503 5.5.1 Not in a transaction");
			break;
		default:
			smtp_reply(s, "503 5.5.1 Bad sequence of commands");
			break;
		}
		return;
	}
	c->handler(s, arg);
}

void
smtp_reset(struct smtp_session *s)
{
	struct ipc_buf	 b;

	if (s->msgid != 0) {
		ipc_buf_init(&b);
		ipc_add_u32(&b, s->msgid);
		s->env->send(PROC_QUEUE, IMSG_Q_ROLLBACK, -1, &b);
		s->msgid = 0;
	}
	if (s->msgfd != -1) {
		close(s->msgfd);
		s->msgfd = -1;
	}
	memset(&s->sender, 0, sizeof(s->sender));
	memset(&s->params, 0, sizeof(s->params));
	memset(&s->rcpt, 0, sizeof(s->rcpt));
	memset(&s->first, 0, sizeof(s->first));
	s->nrcpt = 0;
	s->ndest = 0;
	if (s->state > S_HELO)
		s->state = S_HELO;
}

static void
cmd_helo(struct smtp_session *s, const char *arg)
{
	if (smtp_parse_helo(arg, s->helo, sizeof(s->helo)) == -1) {
		smtp_reply(s, "501 5.5.4 Syntax: HELO hostname");
		return;
	}
	smtp_reset(s);
	s->flags &= ~F_EHLO;
	s->state = S_HELO;
	smtp_reply(s, "250 %s Hello %s [%s]", smtp_hostname(s), s->helo,
	    s->src);
}

static void
cmd_ehlo(struct smtp_session *s, const char *arg)
{
	if (smtp_parse_helo(arg, s->helo, sizeof(s->helo)) == -1) {
		smtp_reply(s, "501 5.5.4 Syntax: EHLO hostname");
		return;
	}
	smtp_reset(s);
	s->flags |= F_EHLO;
	s->state = S_HELO;
	smtp_reply(s, "250-%s Hello %s [%s]", smtp_hostname(s), s->helo,
	    s->src);
	smtp_reply(s, "250-PIPELINING");
	smtp_reply(s, "250-SIZE %zu", conf->max_msg_size);
	smtp_reply(s, "250-8BITMIME");
	smtp_reply(s, "250-SMTPUTF8");
	if ((s->l->flags & L_TLS) && !(s->flags & F_TLS))
		smtp_reply(s, "250-STARTTLS");
	/* AUTH only once the password cannot be read on the way. */
	if ((s->l->flags & L_AUTH) && (s->flags & F_TLS) &&
	    !(s->flags & F_AUTH))
		smtp_reply(s, "250-AUTH PLAIN LOGIN");
	smtp_reply(s, "250-ENHANCEDSTATUSCODES");
	smtp_reply(s, "250 HELP");
}

static void
cmd_starttls(struct smtp_session *s, const char *arg)
{
	if (!(s->l->flags & L_TLS) || (s->flags & F_TLS)) {
		smtp_reply(s, "502 5.5.1 STARTTLS not available");
		return;
	}
	if (*arg != '\0') {
		smtp_reply(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	smtp_reset(s);
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	/* The handshake starts once the 220 is out (smtp_io, IO_LOWAT). */
	s->flags |= F_STARTTLS;
	s->state = S_CONNECTED;
	s->helo[0] = '\0';
	s->flags &= ~F_EHLO;
}

/* AUTH mechanism [initial-response] (RFC 4954). */
static void
cmd_auth(struct smtp_session *s, const char *arg)
{
	char		 mech[16];
	const char	*ir;
	size_t		 n;

	if (!(s->l->flags & L_AUTH)) {
		smtp_reply(s, "503 5.5.1 AUTH not available on this port");
		return;
	}
	if (!(s->flags & F_TLS)) {
		smtp_reply(s, "538 5.7.11 Encryption required for requested "
		    "authentication mechanism");
		return;
	}
	if (s->flags & F_AUTH) {
		smtp_reply(s, "503 5.5.1 Already authenticated");
		return;
	}
	n = strcspn(arg, " ");
	if (n == 0 || n >= sizeof(mech)) {
		smtp_reply(s, "501 5.5.4 Syntax: AUTH mechanism");
		return;
	}
	memcpy(mech, arg, n);
	mech[n] = '\0';
	ir = arg[n] == ' ' ? arg + n + 1 : NULL;
	if (strcasecmp(mech, "PLAIN") == 0) {
		s->sasl = SASL_PLAIN;
		if (ir == NULL)
			smtp_reply(s, "334 ");
		else
			smtp_sasl_line(s, (char *)(uintptr_t)ir, strlen(ir));
	} else if (strcasecmp(mech, "LOGIN") == 0) {
		s->sasl = SASL_LOGIN_USER;
		if (ir == NULL)
			smtp_reply(s, "334 VXNlcm5hbWU6");	/* Username: */
		else
			smtp_sasl_line(s, (char *)(uintptr_t)ir, strlen(ir));
	} else
		smtp_reply(s, "504 5.5.4 Unrecognized authentication type");
}

/* One SASL response line; the password never stays in memory. */
static void
smtp_sasl_line(struct smtp_session *s, char *line, size_t len)
{
	char		 buf[SASL_MAX + 1];
	const char	*user, *pass;
	size_t		 n, plen;
	int		 r, state = s->sasl;

	s->sasl = SASL_NONE;
	if (len == 1 && line[0] == '*') {
		s->authuser[0] = '\0';
		smtp_reply(s, "501 5.0.0 Authentication cancelled");
		return;
	}
	if (sasl_decode(line, len, buf, &n) == -1) {
		s->authuser[0] = '\0';
		smtp_reply(s, "501 5.5.2 Cannot decode response");
		return;
	}
	switch (state) {
	case SASL_PLAIN:
		if ((r = sasl_plain(buf, n, &user, &pass, &plen)) != SASL_OK)
			smtp_reply(s, r == SASL_AUTHZ ? "535 5.7.8 Cannot act "
			    "as another user" : "501 5.5.2 Malformed PLAIN "
			    "response");
		else
			smtp_auth_send(s, user, pass, plen);
		break;
	case SASL_LOGIN_USER:
		if (n == 0 || n >= sizeof(s->authuser) ||
		    memchr(buf, '\0', n) != NULL) {
			smtp_reply(s, "501 5.5.2 Invalid user name");
			break;
		}
		strlcpy(s->authuser, buf, sizeof(s->authuser));
		s->sasl = SASL_LOGIN_PASS;
		smtp_reply(s, "334 UGFzc3dvcmQ6");	/* Password: */
		break;
	case SASL_LOGIN_PASS:
		smtp_auth_send(s, s->authuser, buf, n);
		break;
	}
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(line, len);
}

/* The lookup process checks the password; the answer comes later. */
static void
smtp_auth_send(struct smtp_session *s, const char *user, const char *pass,
    size_t plen)
{
	struct ipc_buf	*b;

	if (strlen(user) > ADDR_MAX || plen > 1024) {
		smtp_reply(s, "535 5.7.8 Authentication credentials invalid");
		return;
	}
	if (user != s->authuser)
		strlcpy(s->authuser, user, sizeof(s->authuser));
	if ((b = malloc(sizeof(*b))) == NULL)
		fatal("malloc");
	ipc_buf_init(b);
	ipc_add_u64(b, s->id);
	ipc_add_u32(b, 0);
	ipc_add_str(b, s->l->authtable);
	ipc_add_str(b, user);
	ipc_add_u32(b, plen);
	ipc_add(b, pass, plen);
	s->authcounted = s->env->auth_send(&s->ss, user, b);
	explicit_bzero(b, sizeof(*b));
	free(b);
	if (s->authcounted == AUTH_THROTTLED) {
		log_info("%016llx smtp: %s: login as %s throttled",
		    (unsigned long long)s->id, s->src, s->authuser);
		s->authuser[0] = '\0';
		smtp_reply(s, "454 4.7.0 Too many login attempts, try again "
		    "later");
		return;
	}
	smtp_wait(s, IMSG_L_AUTH);
}

void
smtp_session_auth_result(uint64_t id, uint32_t res, const char *user)
{
	struct smtp_session	*s;

	if ((s = smtp_answer(id, IMSG_L_AUTH)) == NULL || s->state == S_QUIT)
		return;
	if (res == AUTH_OK) {
		STAT_INC(ST_SMTP_AUTH_OK);
		s->env->auth_ok(&s->ss, s->authuser);
		strlcpy(s->authuser, user, sizeof(s->authuser));
		s->flags |= F_AUTH;
		log_info("%016llx smtp: %s authenticated as %s",
		    (unsigned long long)s->id, s->src, s->authuser);
		smtp_reply(s, "235 2.7.0 Authentication successful");
		smtp_unwait(s);
		return;
	}
	if (res == AUTH_TEMPFAIL) {
		s->authuser[0] = '\0';
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
		smtp_unwait(s);
		return;
	}
	STAT_INC(ST_SMTP_AUTH_FAIL);
	log_info("%016llx smtp: %s failed to authenticate as %s",
	    (unsigned long long)s->id, s->src, s->authuser);
	/* Slower and slower for guessers: their next check waits. */
	s->env->auth_failed(&s->ss, s->authuser, s->authcounted);
	s->authuser[0] = '\0';
	smtp_reply(s, "535 5.7.8 Authentication credentials invalid");
	s->errors++;
	smtp_unwait(s);
}

static int
smtp_need_tls(struct smtp_session *s)
{
	if ((s->l->flags & L_TLS_REQUIRE) && !(s->flags & F_TLS)) {
		smtp_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		return 1;
	}
	return 0;
}

static void
cmd_mail(struct smtp_session *s, const char *arg)
{
	struct ipc_buf	 b;
	struct mailaddr	 user;
	char		 err[256];
	int		 flags = ADDR_ALLOW_NULL;

	if (smtp_need_tls(s))
		return;
	if (smtp_parse_mail(arg, &s->sender, &s->params, flags, err,
	    sizeof(err)) == -1) {
		smtp_reply(s, "%s", err);
		return;
	}
	if (s->params.smtputf8 && !(s->flags & F_EHLO)) {
		smtp_reply(s, "555 5.5.4 SMTPUTF8 needs EHLO");
		return;
	}
	if (s->params.size > conf->max_msg_size) {
		smtp_reply(s, "552 5.3.4 Message too big");
		return;
	}
	if ((s->l->flags & L_AUTH) && !(s->flags & F_AUTH)) {
		/* As smtpd's "auth": a listener for users who log in. */
		smtp_reply(s, "530 5.7.0 Authentication required");
		return;
	}
	if ((s->flags & F_AUTH) && !(s->l->flags & L_ANYSENDER)) {
		/* Only their own addresses (lookup_sender). */
		if (addr_parse(s->authuser, &user, ADDR_ALLOW_UTF8) == -1) {
			smtp_reply(s, "553 5.7.1 Sender address not owned "
			    "by user");
			return;
		}
		ipc_buf_init(&b);
		ipc_add_u64(&b, s->id);
		ipc_add_addr(&b, &user);
		ipc_add_addr(&b, &s->sender);
		s->env->send(PROC_LOOKUP, IMSG_L_SENDER, -1, &b);
		smtp_wait(s, IMSG_L_SENDER);
		return;
	}
	smtp_mail_create(s);
}

void
smtp_session_sender_result(uint64_t id, int ok)
{
	struct smtp_session	*s;
	char			 from[ADDR_MAX + 1];

	if ((s = smtp_answer(id, IMSG_L_SENDER)) == NULL || s->state == S_QUIT)
		return;
	if (s->flags & F_FROMCHECK) {
		/* the From header of a message at the end of DATA */
		s->flags &= ~F_FROMCHECK;
		if (addr_to_text(&s->fromaddr, from, sizeof(from)) == -1)
			from[0] = '\0';
		if (ok) {
			(void)strlcpy(s->signdom, s->fromaddr.domain,
			    sizeof(s->signdom));
			smtp_commit(s);
		} else {
			char	 what[ADDR_MAX + 32];

			(void)snprintf(what, sizeof(what), "From <%s>", from);
			smtp_from_mismatch(s, what);
			if (s->wait == IMSG_NONE)
				smtp_unwait(s);	/* refused: read on */
		}
		return;
	}
	if (!ok) {
		if (addr_to_text(&s->sender, from, sizeof(from)) == -1)
			from[0] = '\0';
		log_info("%016llx smtp: %s (%s) may not send as <%s>",
		    (unsigned long long)s->id, s->src, s->authuser, from);
		smtp_reply(s, "553 5.7.1 <%s>: Sender address not owned by "
		    "user %s", from, s->authuser);
		memset(&s->sender, 0, sizeof(s->sender));
		smtp_unwait(s);
		return;
	}
	smtp_mail_create(s);
}

/* The queue makes the spool file; "250" once it exists. */
static void
smtp_mail_create(struct smtp_session *s)
{
	struct ipc_buf	 b;

	ipc_buf_init(&b);
	ipc_add_u64(&b, s->id);
	s->env->send(PROC_QUEUE, IMSG_Q_CREATE, -1, &b);
	smtp_wait(s, IMSG_Q_CREATE);
}

void
smtp_session_created(const struct session_env *env, uint64_t id,
    uint32_t msgid, int fd)
{
	struct smtp_session	*s;
	struct ipc_buf		 b;

	if ((s = smtp_answer(id, IMSG_Q_CREATE)) == NULL ||
	    s->state == S_QUIT) {
		ipc_buf_init(&b);
		ipc_add_u32(&b, msgid);
		env->send(PROC_QUEUE, IMSG_Q_ROLLBACK, -1, &b);
		close(fd);
		return;
	}
	s->msgid = msgid;
	s->msgfd = fd;
	s->state = S_MAIL;
	smtp_reply(s, "250 2.1.0 Ok");
	smtp_unwait(s);
}

void
smtp_session_create_failed(uint64_t id, uint32_t reason)
{
	struct smtp_session	*s;

	if ((s = smtp_answer(id, IMSG_Q_CREATE)) == NULL ||
	    s->state == S_QUIT)
		return;
	if (reason == Q_FAIL_NOSPACE)
		smtp_reply(s, "452 4.3.1 Insufficient system storage, try "
		    "again later");
	else
		smtp_reply(s, "451 4.3.0 Temporary failure, try again later");
	smtp_unwait(s);
}

static void
cmd_rcpt(struct smtp_session *s, const char *arg)
{
	struct ipc_buf	 b;
	char		 err[256];
	int		 flags = 0;

	if (s->nrcpt >= conf->max_rcpt) {
		smtp_reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	if (smtp_parse_rcpt(arg, &s->rcpt, s->params.smtputf8 ?
	    ADDR_ALLOW_UTF8 : 0, err, sizeof(err)) == -1) {
		smtp_reply(s, "%s", err);
		return;
	}
	if (s->flags & F_LOCAL)
		flags |= EXP_FROM_LOCAL;
	if (s->flags & F_AUTH)
		flags |= EXP_AUTH;
	ipc_buf_init(&b);
	ipc_add_u64(&b, s->id);
	ipc_add_u32(&b, s->msgid);
	ipc_add_u32(&b, flags);
	ipc_add_addr(&b, &s->rcpt);
	s->env->send(PROC_LOOKUP, IMSG_L_RCPT, -1, &b);
	smtp_wait(s, IMSG_L_RCPT);
}

void
smtp_session_rcpt_result(uint64_t id, int res, uint32_t ndest,
    const char *reason)
{
	struct smtp_session	*s;
	char			 rcpt[ADDR_MAX + 1];

	/* Gone, or timed out (421 sent): the answer is for nobody. */
	if ((s = smtp_answer(id, IMSG_L_RCPT)) == NULL || s->state == S_QUIT)
		return;
	if (addr_to_text(&s->rcpt, rcpt, sizeof(rcpt)) == -1)
		rcpt[0] = '\0';
	switch (res) {
	case EXP_OK:
		if (smtp_grey_ask(s, ndest))
			return;		/* smtp_session_grey_result() */
		smtp_rcpt_ok(s, ndest);
		break;
	case EXP_NOTFOUND:
		smtp_reply(s, "550 5.1.1 <%s>: Recipient address rejected: "
		    "User unknown", rcpt);
		break;
	case EXP_RELAY_DENIED:
		smtp_reply(s, "550 5.7.1 <%s>: Relay access denied", rcpt);
		break;
	case EXP_TEMPFAIL:
		smtp_reply(s, "451 4.3.0 <%s>: %s, try again later", rcpt,
		    reason[0] ? reason : "Temporary lookup failure");
		break;
	case EXP_OVERQUOTA:
		STAT_INC(ST_SMTP_QUOTA);
		if (conf->quota_over == QUOTA_OVER_PERM)
			smtp_reply(s, "552 5.2.2 <%s>: Mailbox full", rcpt);
		else
			smtp_reply(s, "452 4.2.2 <%s>: Mailbox full, try again "
			    "later", rcpt);
		break;
	default:
		smtp_reply(s, "550 5.1.1 <%s>: Recipient address rejected: "
		    "%s", rcpt, reason[0] ? reason : "invalid recipient");
		break;
	}
	smtp_unwait(s);
}

/* The recipient looked up (and not greylisted) is one of the message. */
static void
smtp_rcpt_ok(struct smtp_session *s, uint32_t ndest)
{
	if (s->nrcpt == 0)
		s->first = s->rcpt;
	s->nrcpt++;
	s->ndest += ndest;
	s->state = S_RCPT;
	smtp_reply(s, "250 2.1.5 Ok");
}

/*
 * Greylisting (mail.conf greylist): a recipient of a client that did
 * not log in and is not this machine waits for the queue's verdict on
 * its triplet, which the queue keeps (the smtp process has no place to
 * write).  1 when asked; nothing is asked with greylisting off.
 */
static int
smtp_grey_ask(struct smtp_session *s, uint32_t ndest)
{
	struct ipc_buf	 b;

	if (!conf->greylist || (s->flags & (F_AUTH | F_LOCAL | F_SELF)))
		return 0;
	s->greyndest = ndest;
	ipc_buf_init(&b);
	ipc_add_u64(&b, s->id);
	ipc_add_sockaddr(&b, &s->ss);
	ipc_add_addr(&b, &s->sender);
	ipc_add_addr(&b, &s->rcpt);
	s->env->send(PROC_QUEUE, IMSG_Q_GREYLIST, -1, &b);
	smtp_wait(s, IMSG_Q_GREYLIST);
	return 1;
}

void
smtp_session_grey_result(uint64_t id, uint32_t verdict, uint32_t secs)
{
	struct smtp_session	*s;
	char			 from[ADDR_MAX + 1], rcpt[ADDR_MAX + 1];

	if ((s = smtp_answer(id, IMSG_Q_GREYLIST)) == NULL ||
	    s->state == S_QUIT)
		return;
	if (addr_to_text(&s->sender, from, sizeof(from)) == -1)
		from[0] = '\0';
	if (addr_to_text(&s->rcpt, rcpt, sizeof(rcpt)) == -1)
		rcpt[0] = '\0';
	switch (verdict) {
	case GREY_DEFER:
		STAT_INC(ST_SMTP_GREYLISTED);
		log_info("%016llx smtp: greylisted: src=%s from=<%s> to=<%s>, "
		    "retry in %us", (unsigned long long)s->id, s->src, from,
		    rcpt, secs);
		smtp_reply(s, "451 4.7.1 Greylisted, please try again later "
		    "(in %u seconds)", secs);
		break;
	case GREY_PASS:
		STAT_INC(ST_SMTP_GREY_PASSED);
		log_info("%016llx smtp: greylist passed: src=%s from=<%s> "
		    "to=<%s> after %us", (unsigned long long)s->id, s->src,
		    from, rcpt, secs);
		smtp_rcpt_ok(s, s->greyndest);
		break;
	case GREY_WHITELISTED:
		STAT_INC(ST_SMTP_GREY_WHITE);
		log_debug("%016llx smtp: greylist whitelisted: src=%s "
		    "from=<%s> to=<%s>", (unsigned long long)s->id, s->src,
		    from, rcpt);
		smtp_rcpt_ok(s, s->greyndest);
		break;
	default:	/* GREY_OFF: a reload turned it off meanwhile */
		smtp_rcpt_ok(s, s->greyndest);
		break;
	}
	smtp_unwait(s);
}

static void
cmd_rset(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_reset(s);
	smtp_reply(s, "250 2.0.0 Ok");
}

static void
cmd_noop(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_reply(s, "250 2.0.0 Ok");
}

static void
cmd_quit(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_reply(s, "221 2.0.0 Bye");
	s->state = S_QUIT;
}

static void
cmd_help(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_reply(s, "214 2.0.0 Commands: HELO EHLO STARTTLS MAIL RCPT DATA "
	    "RSET NOOP QUIT HELP VRFY");
}

static void
cmd_vrfy(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_reply(s, "252 2.5.2 Cannot VRFY user, but will accept message "
	    "and attempt delivery");
}

static void
cmd_expn(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_reply(s, "502 5.5.1 EXPN not supported");
}

static void
cmd_bdat(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_reply(s, "502 5.5.1 CHUNKING not supported");
}
