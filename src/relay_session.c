/*
 * The SMTP client of the relay process: one session delivers the jobs
 * of one recipient domain.  It tries the MX hosts in preference order
 * and each host's addresses in order, reads the greeting, says EHLO
 * (HELO when refused), upgrades with STARTTLS whenever offered, and
 * sends one transaction per message (MAIL, one RCPT per job, DATA) on
 * the same connection until the domain has no jobs left, then QUIT.
 * With PIPELINING, MAIL, the RCPTs and DATA go out together.
 *
 * Replies come from a stranger: lines are bounded, codes parsed
 * strictly, and a reply that breaks the rules ends the connection.
 * A connection lost mid-transaction puts the unfinished jobs back for
 * the next address; when no address is left they fail temporarily.
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
#include <strings.h>
#include <tls.h>
#include <unistd.h>

#include "io.h"
#include "proc.h"
#include "relay.h"

#define BODY_CHUNK	16384
#define BODY_QUEUE	65536		/* refill below this much queued */

enum rstate {
	RS_MX,			/* waiting for the MX answer */
	RS_CONNECT,		/* non-blocking connect */
	RS_GREETING,
	RS_EHLO,
	RS_HELO,
	RS_STARTTLS,
	RS_TLS,			/* handshake */
	RS_MAIL,		/* replies to MAIL, RCPTs, DATA */
	RS_BODY,		/* sending the message */
	RS_FINAL,		/* reply to the final dot */
	RS_DOTONLY,		/* 354 with no recipient: "." sent */
	RS_RSET,
	RS_QUIT
};

#define EXT_STARTTLS	0x01
#define EXT_PIPELINING	0x02
#define EXT_8BITMIME	0x04
#define EXT_SMTPUTF8	0x08
#define EXT_SIZE	0x10

struct relay_session {
	TAILQ_ENTRY(relay_session) entry;
	uint64_t		 id;
	struct rdomain		*dom;		/* NULL once detached */
	enum rstate		 state;
	struct dns_host		*hosts;
	size_t			 nhosts;
	size_t			 hi, ai;	/* current host, address */
	int			 fd;		/* while connecting */
	struct event		 ev;
	struct io		*io;
	int			 ext;
	int			 tls;		/* TLS is up */
	int			 helo;		/* fell back to HELO */
	char			 host[DNS_NAME_MAX + 3];
	char			 addr[64];
	/* the reply being read */
	int			 code;
	int			 nlines;
	char			 reply[ERRMSG_MAX];
	/* the transaction */
	struct rjob		*tx[RELAY_MAX_RCPT];
	int			 accepted[RELAY_MAX_RCPT];
	size_t			 ntx;
	size_t			 step;		/* replies read: MAIL, RCPTs */
	size_t			 naccepted;
	int			 mailfail;
	int			 pipelined;
	int			 bodyfd;
	int			 bol, cr;	/* dot-stuffing state */
	char			 lasterr[ERRMSG_MAX];
	int			 incb;		/* inside the io callback */
	int			 dead;		/* freed when it returns */
};

static TAILQ_HEAD(, relay_session) sessions =
    TAILQ_HEAD_INITIALIZER(sessions);

static void	rs_connect_next(struct relay_session *);
static void	rs_connect_done(int, short, void *);
static void	rs_io(struct io *, int, void *);
static void	rs_read(struct relay_session *);
static int	rs_reply_line(struct relay_session *, char *, size_t);
static void	rs_ehlo_line(struct relay_session *, const char *);
static void	rs_reply(struct relay_session *);
static void	rs_send(struct relay_session *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	rs_starttls(struct relay_session *);
static void	rs_next_tx(struct relay_session *);
static void	rs_mail(struct relay_session *);
static void	rs_send_rcpt(struct relay_session *, size_t);
static void	rs_mail_reply(struct relay_session *);
static void	rs_after_rcpts(struct relay_session *);
static void	rs_data_reply(struct relay_session *);
static void	rs_final_reply(struct relay_session *);
static void	rs_body(struct relay_session *);
static size_t	rs_stuff(struct relay_session *, const char *, size_t,
		    char *);
static void	rs_result(struct relay_session *, struct rjob *, int,
		    const char *);
static void	rs_tx_fail(struct relay_session *, int, const char *);
static void	rs_tx_requeue(struct relay_session *);
static void	rs_conn_fail(struct relay_session *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	rs_close(struct relay_session *);
static void	rs_fail_all(struct relay_session *, int, const char *);
static void	rs_detach(struct relay_session *);
static void	rs_free(struct relay_session *);
static int	rs_status(int);
static int	rs_needs_utf8(const struct relay_session *);
static int	rs_8bit(const char *);
static void	rs_clean(char *);

struct relay_session *
relay_session_new(struct rdomain *d, uint64_t id)
{
	struct relay_session	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("calloc");
	s->id = id;
	s->dom = d;
	s->state = RS_MX;
	s->fd = -1;
	s->bodyfd = -1;
	(void)strlcpy(s->lasterr, "no MX host could be reached",
	    sizeof(s->lasterr));
	TAILQ_INSERT_TAIL(&sessions, s, entry);
	return s;
}

struct relay_session *
relay_session_find(uint64_t id)
{
	struct relay_session	*s;

	TAILQ_FOREACH(s, &sessions, entry)
		if (s->id == id && s->state == RS_MX)
			return s;
	return NULL;
}

void
relay_session_mx(struct relay_session *s, enum dns_status st,
    const struct dns_host *hosts, size_t n)
{
	char	 why[ERRMSG_MAX];

	switch (st) {
	case DNS_OK:
		break;
	case DNS_NULLMX:
		(void)snprintf(why, sizeof(why), "550 5.1.10 %.128s does not "
		    "accept mail (null MX)", s->dom->name);
		rs_fail_all(s, RELAY_PERMFAIL, why);
		return;
	case DNS_NXDOMAIN:
		(void)snprintf(why, sizeof(why), "550 5.1.2 bad destination "
		    "domain %.128s: no MX or address", s->dom->name);
		rs_fail_all(s, RELAY_PERMFAIL, why);
		return;
	default:
		(void)snprintf(why, sizeof(why), "451 4.4.3 MX lookup for "
		    "%.128s failed temporarily", s->dom->name);
		rs_fail_all(s, RELAY_TEMPFAIL, why);
		return;
	}
	if ((s->hosts = calloc(n, sizeof(*s->hosts))) == NULL)
		fatal("calloc");
	memcpy(s->hosts, hosts, n * sizeof(*hosts));
	s->nhosts = n;
	s->hi = 0;
	s->ai = 0;
	log_debug("%s: %zu MX host%s, first %s", s->dom->name, n,
	    n == 1 ? "" : "s", hosts[0].name);
	rs_connect_next(s);
}

/* Connect to the next address of the current or a later host. */
static void
rs_connect_next(struct relay_session *s)
{
	struct timeval		 tv = { RELAY_CONNECT_TIMEOUT, 0 };
	struct sockaddr_storage	 ss;
	struct dns_host		*h;
	socklen_t		 len;
	void			*ap;

	for (;;) {
		if (s->dom == NULL || s->dom->njobs == 0) {
			/* Nothing left (jobs may have failed meanwhile). */
			rs_detach(s);
			rs_free(s);
			return;
		}
		if (s->hi >= s->nhosts) {
			rs_fail_all(s, RELAY_TEMPFAIL, s->lasterr);
			return;
		}
		h = &s->hosts[s->hi];
		if (s->ai >= h->naddr) {
			s->hi++;
			s->ai = 0;
			continue;
		}
		ss = h->addr[s->ai++];
		(void)strlcpy(s->host, h->name, sizeof(s->host));
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
			sin->sin_port = htons(conf->relay_port);
			len = sizeof(*sin);
			ap = &sin->sin_addr;
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
			sin6->sin6_port = htons(conf->relay_port);
			len = sizeof(*sin6);
			ap = &sin6->sin6_addr;
		}
		if (inet_ntop(ss.ss_family, ap, s->addr, sizeof(s->addr)) ==
		    NULL)
			(void)strlcpy(s->addr, "?", sizeof(s->addr));
		if ((s->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) == -1) {
			(void)snprintf(s->lasterr, sizeof(s->lasterr),
			    "socket: %s", strerror(errno));
			continue;
		}
		if (connect(s->fd, (struct sockaddr *)&ss, len) == -1 &&
		    errno != EINPROGRESS) {
			(void)snprintf(s->lasterr, sizeof(s->lasterr),
			    "connect to %.128s [%s]: %s", s->host, s->addr,
			    strerror(errno));
			log_debug("%s", s->lasterr);
			close(s->fd);
			s->fd = -1;
			continue;
		}
		s->state = RS_CONNECT;
		event_set(&s->ev, s->fd, EV_WRITE, rs_connect_done, s);
		event_add(&s->ev, &tv);
		return;
	}
}

static void
rs_connect_done(int fd, short ev, void *arg)
{
	struct relay_session	*s = arg;
	socklen_t		 len = sizeof(int);
	int			 err = 0;

	if (ev == EV_TIMEOUT)
		err = ETIMEDOUT;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		(void)snprintf(s->lasterr, sizeof(s->lasterr),
		    "connect to %.128s [%s]: %s", s->host, s->addr,
		    strerror(err));
		log_debug("%s", s->lasterr);
		close(s->fd);
		s->fd = -1;
		rs_connect_next(s);
		return;
	}
	log_debug("connected to %s [%s] for %s", s->host, s->addr,
	    s->dom ? s->dom->name : "-");
	s->io = io_new(s->fd, SMTP_LINE_MAX, rs_io, s);
	s->fd = -1;
	io_set_timeout(s->io, RELAY_REPLY_TIMEOUT * 1000);
	s->state = RS_GREETING;
	s->ext = 0;
	s->tls = 0;
	s->helo = 0;
	s->code = 0;
	s->nlines = 0;
}

static void
rs_io(struct io *io, int evt, void *arg)
{
	struct relay_session	*s = arg;
	char			 info[256];

	(void)io;
	s->incb++;
	switch (evt) {
	case IO_TLSREADY:
		s->tls = 1;
		io_tls_info(s->io, info, sizeof(info));
		log_debug("TLS with %s [%s]: %s", s->host, s->addr,
		    info);
		s->ext = 0;
		s->state = RS_EHLO;
		rs_send(s, "EHLO %s", conf->hostname);
		break;
	case IO_DATAIN:
		rs_read(s);
		break;
	case IO_LOWAT:
		if (s->state == RS_BODY)
			rs_body(s);
		break;
	case IO_TIMEOUT:
		if (s->state == RS_QUIT)
			rs_free(s);
		else
			rs_conn_fail(s, "timeout waiting for %s [%s]",
			    s->host, s->addr);
		break;
	case IO_DISCONNECTED:
		if (s->state == RS_QUIT)
			rs_free(s);
		else
			rs_conn_fail(s, "connection closed by %s [%s]",
			    s->host, s->addr);
		break;
	case IO_ERROR:
		if (s->state == RS_QUIT)
			rs_free(s);
		else if (s->state == RS_TLS)
			rs_conn_fail(s, "TLS with %s [%s] failed: %s",
			    s->host, s->addr, io_error(s->io));
		else
			rs_conn_fail(s, "%s [%s]: %s", s->host, s->addr,
			    io_error(s->io));
		break;
	}
	if (--s->incb == 0 && s->dead) {
		free(s->hosts);
		free(s);
	}
}

/* Read complete replies; every handler may end the session. */
static void
rs_read(struct relay_session *s)
{
	char		*line;
	size_t		 len;
	int		 partial, r;

	/* Any handler may close the connection or end the session. */
	while (!s->dead && s->io != NULL && s->state != RS_TLS &&
	    s->state != RS_BODY &&
	    (line = io_getline(s->io, &len, &partial)) != NULL) {
		if (partial) {
			rs_conn_fail(s, "%s [%s]: reply line too long",
			    s->host, s->addr);
			return;
		}
		if ((r = rs_reply_line(s, line, len)) == -1) {
			rs_conn_fail(s, "%s [%s]: malformed reply", s->host,
			    s->addr);
			return;
		}
		if (r == 1)
			rs_reply(s);
	}
	/* A server talking while we send the body is not read yet. */
}

/*
 * One reply line: "ddd-text" continues, "ddd text" or "ddd" ends a
 * reply.  Returns 1 at the end of a reply, 0 for more, -1 if bad.
 */
static int
rs_reply_line(struct relay_session *s, char *line, size_t len)
{
	int	 code;
	char	 sep;

	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	if (len < 3 || line[0] < '2' || line[0] > '5' ||
	    line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9')
		return -1;
	sep = len > 3 ? line[3] : ' ';
	if (sep != ' ' && sep != '-')
		return -1;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + line[2] - '0';
	if (s->nlines == 0) {
		s->code = code;
		(void)strlcpy(s->reply, line, sizeof(s->reply));
		rs_clean(s->reply);
	} else if (code != s->code)
		return -1;
	if (++s->nlines > RELAY_REPLY_LINES)
		return -1;
	if (s->state == RS_EHLO && s->nlines > 1 && code == 250)
		rs_ehlo_line(s, len > 4 ? line + 4 : "");
	if (sep == '-')
		return 0;
	s->nlines = 0;
	return 1;
}

static void
rs_ehlo_line(struct relay_session *s, const char *kw)
{
	static const struct {
		const char	*name;
		int		 ext;
	} exts[] = {
		{ "STARTTLS",	EXT_STARTTLS },
		{ "PIPELINING",	EXT_PIPELINING },
		{ "8BITMIME",	EXT_8BITMIME },
		{ "SMTPUTF8",	EXT_SMTPUTF8 },
		{ "SIZE",	EXT_SIZE },
	};
	size_t	 i, n;

	n = strcspn(kw, " ");
	for (i = 0; i < nitems(exts); i++)
		if (strlen(exts[i].name) == n &&
		    strncasecmp(kw, exts[i].name, n) == 0)
			s->ext |= exts[i].ext;
}

/* Replace what must not reach logs and DSNs: controls, 8-bit bytes. */
static void
rs_clean(char *p)
{
	for (; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
}

static void
rs_send(struct relay_session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	io_vprintf(s->io, fmt, ap);
	va_end(ap);
	io_write(s->io, "\r\n", 2);
}

/* A complete reply in s->code, s->reply. */
static void
rs_reply(struct relay_session *s)
{
	int	 c = s->code / 100;

	switch (s->state) {
	case RS_GREETING:
		if (c != 2) {
			rs_conn_fail(s, "%s [%s] greeting: %s", s->host,
			    s->addr, s->reply);
			return;
		}
		s->state = RS_EHLO;
		rs_send(s, "EHLO %s", conf->hostname);
		break;
	case RS_EHLO:
		if (c == 2) {
			if ((s->ext & EXT_STARTTLS) && !s->tls) {
				s->state = RS_STARTTLS;
				rs_send(s, "STARTTLS");
			} else
				rs_next_tx(s);
		} else if (c == 5 && !s->tls) {
			/* An old server: no extensions, no TLS. */
			s->helo = 1;
			s->ext = 0;
			s->state = RS_HELO;
			rs_send(s, "HELO %s", conf->hostname);
		} else
			rs_conn_fail(s, "%s [%s] EHLO: %s", s->host, s->addr,
			    s->reply);
		break;
	case RS_HELO:
		if (c == 2)
			rs_next_tx(s);
		else
			rs_conn_fail(s, "%s [%s] HELO: %s", s->host, s->addr,
			    s->reply);
		break;
	case RS_STARTTLS:
		if (s->code == 220)
			rs_starttls(s);
		else {
			/* Opportunistic: go on in plain text. */
			log_info("%s [%s] refused STARTTLS: %s",
			    s->host, s->addr, s->reply);
			rs_next_tx(s);
		}
		break;
	case RS_MAIL:
		rs_mail_reply(s);
		break;
	case RS_FINAL:
		rs_final_reply(s);
		break;
	case RS_DOTONLY:
	case RS_RSET:
		if (c != 2) {
			rs_conn_fail(s, "%s [%s] RSET: %s", s->host, s->addr,
			    s->reply);
			return;
		}
		rs_next_tx(s);
		break;
	case RS_QUIT:
		rs_free(s);
		break;
	default:
		/* RS_BODY, RS_TLS: not reading; RS_MX, RS_CONNECT: no io */
		rs_conn_fail(s, "%s [%s]: unexpected reply: %s", s->host,
		    s->addr, s->reply);
		break;
	}
}

static void
rs_starttls(struct relay_session *s)
{
	struct tls	*ctx;

	/* Nothing sent before the handshake may count after it. */
	io_drop_input(s->io);
	if ((ctx = tls_client()) == NULL)
		fatal("tls_client");
	if (tls_configure(ctx, relay_tls_config()) == -1) {
		log_warnx("tls_configure: %s", tls_error(ctx));
		tls_free(ctx);
		rs_conn_fail(s, "TLS setup failed");
		return;
	}
	if (io_start_tls_client(s->io, ctx, s->host) == -1) {
		tls_free(ctx);
		rs_conn_fail(s, "TLS with %s [%s] failed: %s", s->host,
		    s->addr, io_error(s->io));
		return;
	}
	s->state = RS_TLS;
}

/* Would this transaction need SMTPUTF8: UTF-8 in the envelope? */
static int
rs_needs_utf8(const struct relay_session *s)
{
	size_t	 i;

	for (i = 0; i < s->ntx; i++) {
		if (s->tx[i] == NULL)
			continue;
		if ((s->tx[i]->flags & EF_SMTPUTF8) ||
		    rs_8bit(s->tx[i]->sender.user) ||
		    rs_8bit(s->tx[i]->sender.domain) ||
		    rs_8bit(s->tx[i]->rcpt.user) ||
		    rs_8bit(s->tx[i]->rcpt.domain))
			return 1;
	}
	return 0;
}

static int
rs_8bit(const char *p)
{
	for (; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			return 1;
	return 0;
}

/*
 * The next transaction: the first waiting job and every other job of
 * the same message (same message id and sender), up to RELAY_MAX_RCPT.
 * No job left: QUIT.
 */
static void
rs_next_tx(struct relay_session *s)
{
	struct rjob	*j, *first, *tj;

	s->ntx = 0;
	s->step = 0;
	s->naccepted = 0;
	s->mailfail = 0;
	if (s->dom == NULL || (first = TAILQ_FIRST(&s->dom->jobs)) == NULL) {
		rs_detach(s);
		s->state = RS_QUIT;
		io_set_timeout(s->io, 10 * 1000);
		rs_send(s, "QUIT");
		return;
	}
	TAILQ_FOREACH_SAFE(j, &s->dom->jobs, entry, tj) {
		if (s->ntx == RELAY_MAX_RCPT)
			break;
		if (j != first && (evpid_msgid(j->evpid) !=
		    evpid_msgid(first->evpid) || j->flags != first->flags ||
		    strcmp(j->sender.user, first->sender.user) != 0 ||
		    strcmp(j->sender.domain, first->sender.domain) != 0))
			continue;
		TAILQ_REMOVE(&s->dom->jobs, j, entry);
		s->dom->njobs--;
		s->accepted[s->ntx] = 0;
		s->tx[s->ntx++] = j;
	}
	rs_mail(s);
}

static void
rs_mail(struct relay_session *s)
{
	struct rjob	*j = s->tx[0];
	struct stat	 st;
	char		 from[ADDR_MAX + 1], params[128];
	int		 utf8;
	size_t		 i;

	utf8 = rs_needs_utf8(s);
	if (utf8 && !(s->ext & EXT_SMTPUTF8)) {
		rs_tx_fail(s, RELAY_PERMFAIL, "553 5.6.7 the remote server "
		    "does not support SMTPUTF8, needed for this address");
		rs_next_tx(s);
		return;
	}
	if (addr_to_text(&j->sender, from, sizeof(from)) == -1)
		from[0] = '\0';
	params[0] = '\0';
	if ((s->ext & EXT_SIZE) && fstat(j->fd, &st) == 0)
		(void)snprintf(params, sizeof(params), " SIZE=%lld",
		    (long long)st.st_size + (long long)strlen(j->dkim));
	if (j->flags & EF_8BITMIME) {
		if (s->ext & EXT_8BITMIME)
			(void)strlcat(params, " BODY=8BITMIME",
			    sizeof(params));
		else
			/* Most servers take 8-bit data anyway (RFC 6152). */
			log_info("%s [%s] does not offer 8BITMIME; "
			    "sending 8-bit message %016llx as is", s->host,
			    s->addr, (unsigned long long)j->evpid);
	}
	if (utf8)
		(void)strlcat(params, " SMTPUTF8", sizeof(params));
	s->state = RS_MAIL;
	s->pipelined = (s->ext & EXT_PIPELINING) != 0;
	rs_send(s, "MAIL FROM:<%s>%s", from, params);
	if (s->pipelined) {
		for (i = 0; i < s->ntx; i++)
			rs_send_rcpt(s, i);
		rs_send(s, "DATA");
	}
}

static void
rs_send_rcpt(struct relay_session *s, size_t i)
{
	char	 to[ADDR_MAX + 1];

	if (addr_to_text(&s->tx[i]->rcpt, to, sizeof(to)) == -1)
		to[0] = '\0';
	rs_send(s, "RCPT TO:<%s>", to);
}

/* Replies to MAIL (step 0), the RCPTs (1..ntx) and DATA (ntx + 1). */
static void
rs_mail_reply(struct relay_session *s)
{
	size_t	 i;

	if (s->step == 0) {
		s->step++;
		if (s->code / 100 != 2) {
			s->mailfail = 1;
			rs_tx_fail(s, rs_status(s->code), s->reply);
			if (!s->pipelined) {
				s->state = RS_RSET;
				rs_send(s, "RSET");
			}
			return;
		}
		if (!s->pipelined)
			rs_send_rcpt(s, 0);
		return;
	}
	if (s->step <= s->ntx) {
		i = s->step - 1;
		s->step++;
		if (!s->mailfail && s->tx[i] != NULL) {
			if (s->code / 100 == 2) {
				s->accepted[i] = 1;
				s->naccepted++;
			} else {
				rs_result(s, s->tx[i], rs_status(s->code),
				    s->reply);
				s->tx[i] = NULL;
			}
		}
		if (!s->pipelined) {
			if (s->step <= s->ntx)
				rs_send_rcpt(s, s->step - 1);
			else
				rs_after_rcpts(s);
		}
		return;
	}
	rs_data_reply(s);
}

/* Without pipelining: DATA if anyone was accepted, else RSET. */
static void
rs_after_rcpts(struct relay_session *s)
{
	if (s->naccepted == 0) {
		s->state = RS_RSET;
		rs_send(s, "RSET");
		return;
	}
	rs_send(s, "DATA");
}

static void
rs_data_reply(struct relay_session *s)
{
	struct rjob	*j = NULL;
	char		*out;
	size_t		 i, n;

	if (s->code != 354) {
		/* DATA refused: the accepted recipients share its fate. */
		rs_tx_fail(s, rs_status(s->code), s->reply);
		s->state = RS_RSET;
		rs_send(s, "RSET");
		return;
	}
	if (s->naccepted == 0) {
		/* Pipelined DATA accepted with no recipient: end it. */
		s->state = RS_DOTONLY;
		rs_send(s, ".");
		return;
	}
	/* Every open job holds the same message: any fd will do. */
	for (i = 0; i < s->ntx; i++)
		if (s->tx[i] != NULL) {
			j = s->tx[i];
			break;
		}
	if (j == NULL || lseek(j->fd, 0, SEEK_SET) == -1) {
		rs_conn_fail(s, "cannot read the message: %s",
		    strerror(errno));
		return;
	}
	s->bodyfd = j->fd;
	s->state = RS_BODY;
	s->bol = 1;
	s->cr = 0;
	/* The DKIM signature goes first, as the first header field. */
	if ((n = strlen(j->dkim)) > 0) {
		if ((out = malloc(2 * n + 2)) == NULL)
			fatal("malloc");
		n = rs_stuff(s, j->dkim, n, out);
		if (s->cr || !s->bol) {
			out[n++] = '\r';
			out[n++] = '\n';
			s->cr = 0;
			s->bol = 1;
		}
		io_write(s->io, out, n);
		free(out);
	}
	rs_body(s);
}

/*
 * Dot-stuff in into out (room for 2 * len): a "." at the start of a
 * line gets another, and every line ends in CRLF (bare CR and LF
 * included), so no line of the message can end the DATA early.
 */
static size_t
rs_stuff(struct relay_session *s, const char *in, size_t len, char *out)
{
	size_t	 i, o = 0;
	char	 c;

	for (i = 0; i < len; i++) {
		c = in[i];
		if (s->cr) {
			out[o++] = '\r';
			out[o++] = '\n';
			s->cr = 0;
			s->bol = 1;
			if (c == '\n')
				continue;
		}
		if (c == '\r') {
			s->cr = 1;
			continue;
		}
		if (c == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			s->bol = 1;
			continue;
		}
		if (s->bol && c == '.')
			out[o++] = '.';
		out[o++] = c;
		s->bol = 0;
	}
	return o;
}

/* Queue more of the message while little is waiting to be sent. */
static void
rs_body(struct relay_session *s)
{
	char	 in[BODY_CHUNK], out[2 * BODY_CHUNK + 8];
	ssize_t	 n;
	size_t	 o;

	while (io_queued(s->io) < BODY_QUEUE) {
		n = read(s->bodyfd, in, sizeof(in));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			/* We cannot end the DATA cleanly: drop the line. */
			rs_conn_fail(s, "cannot read the message: %s",
			    strerror(errno));
			return;
		}
		if (n == 0) {
			o = 0;
			if (s->cr || !s->bol) {
				out[o++] = '\r';
				out[o++] = '\n';
			}
			out[o++] = '.';
			out[o++] = '\r';
			out[o++] = '\n';
			io_write(s->io, out, o);
			s->state = RS_FINAL;
			s->bodyfd = -1;
			io_set_timeout(s->io, RELAY_FINAL_TIMEOUT * 1000);
			return;
		}
		o = rs_stuff(s, in, (size_t)n, out);
		io_write(s->io, out, o);
	}
}

static void
rs_final_reply(struct relay_session *s)
{
	io_set_timeout(s->io, RELAY_REPLY_TIMEOUT * 1000);
	rs_tx_fail(s, rs_status(s->code), s->reply);
	rs_next_tx(s);
}

static int
rs_status(int code)
{
	if (code / 100 == 2)
		return RELAY_OK;
	if (code / 100 == 5)
		return RELAY_PERMFAIL;
	return RELAY_TEMPFAIL;
}

static void
rs_result(struct relay_session *s, struct rjob *j, int status,
    const char *reason)
{
	relay_result(j, status, reason, s->host[0] ? s->host : NULL,
	    s->addr[0] ? s->addr : NULL);
}

/* Every job of the transaction still open gets this outcome. */
static void
rs_tx_fail(struct relay_session *s, int status, const char *reason)
{
	size_t	 i;

	for (i = 0; i < s->ntx; i++)
		if (s->tx[i] != NULL) {
			rs_result(s, s->tx[i], status, reason);
			s->tx[i] = NULL;
		}
}

/* The connection broke mid-transaction: its jobs wait for the next. */
static void
rs_tx_requeue(struct relay_session *s)
{
	size_t	 i;

	for (i = s->ntx; i > 0; i--) {
		if (s->tx[i - 1] == NULL)
			continue;
		if (s->dom != NULL) {
			TAILQ_INSERT_HEAD(&s->dom->jobs, s->tx[i - 1], entry);
			s->dom->njobs++;
		} else
			rs_result(s, s->tx[i - 1], RELAY_TEMPFAIL,
			    s->lasterr);
		s->tx[i - 1] = NULL;
	}
	s->ntx = 0;
}

static void
rs_close(struct relay_session *s)
{
	if (s->io != NULL) {
		io_free(s->io);
		s->io = NULL;
	}
	if (s->fd != -1) {
		event_del(&s->ev);
		close(s->fd);
		s->fd = -1;
	}
	s->bodyfd = -1;
}

/* This connection is no good: try the next address. */
static void
rs_conn_fail(struct relay_session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(s->lasterr, sizeof(s->lasterr), fmt, ap);
	va_end(ap);
	rs_clean(s->lasterr);
	log_info("%s", s->lasterr);
	rs_tx_requeue(s);
	rs_close(s);
	if (s->dom == NULL) {
		rs_free(s);
		return;
	}
	s->host[0] = '\0';
	s->addr[0] = '\0';
	rs_connect_next(s);
}

/* Nothing can be done for the domain now: fail what waits, end. */
static void
rs_fail_all(struct relay_session *s, int status, const char *reason)
{
	struct rjob	*j;
	char		 why[ERRMSG_MAX];

	(void)strlcpy(why, reason, sizeof(why));
	rs_tx_requeue(s);
	if (s->dom != NULL)
		while ((j = TAILQ_FIRST(&s->dom->jobs)) != NULL) {
			TAILQ_REMOVE(&s->dom->jobs, j, entry);
			s->dom->njobs--;
			relay_result(j, status, why, NULL, NULL);
		}
	rs_detach(s);
	rs_free(s);
}

/* Give the domain (and the connection slot) back. */
static void
rs_detach(struct relay_session *s)
{
	struct rdomain	*d = s->dom;

	if (d == NULL)
		return;
	s->dom = NULL;
	relay_session_done(d);
}

/* Inside the io callback, the memory goes when the callback returns. */
static void
rs_free(struct relay_session *s)
{
	if (s->dead)
		return;
	s->dead = 1;
	rs_tx_requeue(s);
	rs_detach(s);
	rs_close(s);
	TAILQ_REMOVE(&sessions, s, entry);
	if (s->incb == 0) {
		free(s->hosts);
		free(s);
	}
}
