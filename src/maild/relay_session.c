/*
 * The SMTP client of the relay process: one session delivers the jobs
 * of one recipient domain.  It tries the MX hosts in preference order
 * and each host's addresses in order, reads the greeting, says EHLO
 * (HELO when refused), upgrades with STARTTLS whenever offered, and
 * sends one transaction per message (MAIL, one RCPT per job, DATA) on
 * the same connection until the domain has no jobs left, then QUIT.
 * With PIPELINING, MAIL, the RCPTs and DATA go out together.
 *
 * The relay action decides the rest: a smarthost instead of the MX
 * hosts (its own port, STARTTLS required with smtp+tls://, implicit
 * TLS with smtps://), "tls require" (no TLS, no mail) and "tls verify"
 * (the certificate must verify for the host's name), and AUTH PLAIN or
 * LOGIN with the action's credentials, only ever over TLS.  Without
 * such demands a failed TLS handshake is retried once in plain text
 * with the same address, as Postfix does: a broken TLS stack should
 * not keep mail from a server that would take it without.
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
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <tls.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "envelope.h"
#include "io.h"
#include "proc.h"
#include "relay.h"
#include "reqwait.h"
#include "smtp_reply.h"
#include "table.h"

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
	RS_AUTH,		/* the reply to AUTH PLAIN, or the password */
	RS_AUTH_LOGIN1,		/* 334 to AUTH LOGIN */
	RS_AUTH_LOGIN2,		/* 334 to the user name */
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
#define EXT_AUTH_PLAIN	0x20
#define EXT_AUTH_LOGIN	0x40

#define SASL_CRED_MAX	1024	/* user, password and two NULs */

struct relay_session {
	TAILQ_ENTRY(relay_session) entry;
	uint64_t		 id;
	struct rdomain		*dom;		/* NULL once detached */
	struct relay_policy	 pol;
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
	int			 greeted;	/* greeting read */
	int			 notls;		/* this connection: no TLS */
	int			 plainretry;	/* the next one: no TLS */
	int			 authed;
	int			 port;
	char			 host[DNS_NAME_MAX + 3];
	char			 addr[64];
	struct smtp_reply	 rep;		/* the reply being read */
	/* the transaction */
	struct rjob		*tx[RELAY_MAX_RCPT];
	int			 accepted[RELAY_MAX_RCPT];
	size_t			 ntx;
	size_t			 step;		/* replies read: MAIL, RCPTs */
	size_t			 naccepted;
	int			 mailfail;
	int			 pipelined;
	int			 bodyfd;
	struct smtp_stuff	 stuff;
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
static void	rs_ehlo_line(struct relay_session *, const char *);
static void	rs_ehlo_auth(struct relay_session *, const char *);
static void	rs_reply(struct relay_session *);
static void	rs_ehlo_reply(struct relay_session *);
static void	rs_send(struct relay_session *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	rs_starttls(struct relay_session *);
static void	rs_tls_failed(struct relay_session *, const char *);
static void	rs_ready(struct relay_session *);
static int	rs_creds(struct relay_session *, const char **, size_t *,
		    const char **);
static void	rs_auth(struct relay_session *);
static void	rs_auth_reply(struct relay_session *);
static int	rs_b64(const void *, size_t, char *, size_t);
static void	rs_next_tx(struct relay_session *);
static void	rs_mail(struct relay_session *);
static void	rs_send_rcpt(struct relay_session *, size_t);
static void	rs_mail_reply(struct relay_session *);
static void	rs_after_rcpts(struct relay_session *);
static void	rs_data_reply(struct relay_session *);
static void	rs_final_reply(struct relay_session *);
static void	rs_body(struct relay_session *);
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

struct relay_session *
relay_session_new(struct rdomain *d, uint64_t id)
{
	struct relay_session	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("calloc");
	s->id = id;
	s->dom = d;
	s->pol = d->pol;
	s->port = s->pol.host[0] != '\0' ? s->pol.port : conf->relay_port;
	s->state = RS_MX;
	s->fd = -1;
	s->bodyfd = -1;
	(void)strlcpy(s->lasterr, s->pol.host[0] != '\0' ? "the smarthost "
	    "could not be reached" : "no MX host could be reached",
	    sizeof(s->lasterr));
	TAILQ_INSERT_TAIL(&sessions, s, entry);
	return s;
}

void
relay_session_mx(struct relay_session *s, enum dns_status st,
    const struct dns_host *hosts, size_t n)
{
	char	 why[ERRMSG_MAX];

	if (s->pol.host[0] != '\0' && st != DNS_OK) {
		/* Our smarthost not found is our problem: retry later. */
		(void)snprintf(why, sizeof(why), "451 4.4.3 smarthost %.128s: "
		    "no address (%s)", s->dom->name, dns_strstatus(st));
		rs_fail_all(s, RELAY_TEMPFAIL, why);
		return;
	}
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
	if (s->pol.host[0] != '\0')
		log_debug("smarthost %s of action %s: %zu address%s",
		    hosts[0].name, s->pol.action, hosts[0].naddr,
		    hosts[0].naddr == 1 ? "" : "es");
	else
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
		/* After a failed handshake, this address once without TLS. */
		s->notls = s->plainretry;
		s->plainretry = 0;
		(void)strlcpy(s->host, h->name, sizeof(s->host));
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
			sin->sin_port = htons(s->port);
			len = sizeof(*sin);
			ap = &sin->sin_addr;
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
			sin6->sin6_port = htons(s->port);
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
	STAT_INC(ST_RELAY_SESSIONS);
	io_set_timeout(s->io, RELAY_REPLY_TIMEOUT * 1000);
	s->state = RS_GREETING;
	s->ext = 0;
	s->tls = 0;
	s->helo = 0;
	s->greeted = 0;
	s->authed = 0;
	smtp_reply_init(&s->rep);
	if (s->pol.flags & AR_SMTPS)
		rs_starttls(s);		/* the greeting comes over TLS */
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
		STAT_INC(ST_RELAY_TLS);
		io_tls_info(s->io, info, sizeof(info));
		log_debug("TLS with %s [%s]%s: %s", s->host, s->addr,
		    (s->pol.flags & AR_TLS_VERIFY) ? " (verified)" : "", info);
		s->ext = 0;
		if (!s->greeted) {
			s->state = RS_GREETING;
			break;
		}
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
		else if (s->state == RS_TLS)
			rs_tls_failed(s, "timeout");
		else
			rs_conn_fail(s, "timeout waiting for %s [%s]",
			    s->host, s->addr);
		break;
	case IO_DISCONNECTED:
		if (s->state == RS_QUIT)
			rs_free(s);
		else if (s->state == RS_TLS)
			rs_tls_failed(s, "connection closed");
		else
			rs_conn_fail(s, "connection closed by %s [%s]",
			    s->host, s->addr);
		break;
	case IO_ERROR:
		if (s->state == RS_QUIT)
			rs_free(s);
		else if (s->state == RS_TLS)
			rs_tls_failed(s, io_error(s->io));
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
	const char	*text;
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
		r = smtp_reply_line(&s->rep, line, len, &text);
		if (r == SMTP_REPLY_BAD) {
			rs_conn_fail(s, "%s [%s]: malformed reply", s->host,
			    s->addr);
			return;
		}
		/* EHLO keywords: the lines after the first of a 250. */
		if (s->state == RS_EHLO && s->rep.nlines > 1 &&
		    s->rep.code == 250)
			rs_ehlo_line(s, text);
		if (r == SMTP_REPLY_DONE)
			rs_reply(s);
	}
	/* A server talking while we send the body is not read yet. */
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

	n = strcspn(kw, " =");
	if (n == 4 && strncasecmp(kw, "AUTH", 4) == 0) {
		rs_ehlo_auth(s, kw + 4);
		return;
	}
	for (i = 0; i < nitems(exts); i++)
		if (strlen(exts[i].name) == n &&
		    strncasecmp(kw, exts[i].name, n) == 0)
			s->ext |= exts[i].ext;
}

/* "AUTH PLAIN LOGIN ..." (or the old "AUTH=LOGIN PLAIN"). */
static void
rs_ehlo_auth(struct relay_session *s, const char *p)
{
	size_t	 n;

	for (;;) {
		p += strspn(p, " =");
		if ((n = strcspn(p, " ")) == 0)
			break;
		if (n == 5 && strncasecmp(p, "PLAIN", 5) == 0)
			s->ext |= EXT_AUTH_PLAIN;
		else if (n == 5 && strncasecmp(p, "LOGIN", 5) == 0)
			s->ext |= EXT_AUTH_LOGIN;
		p += n;
	}
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

/* A complete reply in s->rep. */
static void
rs_reply(struct relay_session *s)
{
	int	 c = s->rep.code / 100;

	switch (s->state) {
	case RS_GREETING:
		if (c != 2) {
			rs_conn_fail(s, "%s [%s] greeting: %s", s->host,
			    s->addr, s->rep.text);
			return;
		}
		s->greeted = 1;
		s->state = RS_EHLO;
		rs_send(s, "EHLO %s", conf->hostname);
		break;
	case RS_EHLO:
		rs_ehlo_reply(s);
		break;
	case RS_HELO:
		if (c == 2)
			rs_ready(s);
		else
			rs_conn_fail(s, "%s [%s] HELO: %s", s->host, s->addr,
			    s->rep.text);
		break;
	case RS_STARTTLS:
		if (s->rep.code == 220)
			rs_starttls(s);
		else if (POLICY_TLS(&s->pol))
			rs_conn_fail(s, "TLS required but %s [%s] refused "
			    "STARTTLS: %s", s->host, s->addr, s->rep.text);
		else {
			/* Opportunistic: go on in plain text. */
			log_info("%s [%s] refused STARTTLS: %s",
			    s->host, s->addr, s->rep.text);
			rs_ready(s);
		}
		break;
	case RS_AUTH:
	case RS_AUTH_LOGIN1:
	case RS_AUTH_LOGIN2:
		rs_auth_reply(s);
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
			    s->rep.text);
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
		    s->addr, s->rep.text);
		break;
	}
}

/*
 * EHLO answered: upgrade to TLS when offered (unless this connection
 * is the plain-text retry), insist on it when the action does, else
 * go on.  A server refusing EHLO gets HELO, which cannot do TLS.
 */
static void
rs_ehlo_reply(struct relay_session *s)
{
	int	 c = s->rep.code / 100;

	if (c == 2) {
		if (!s->tls && (s->ext & EXT_STARTTLS) && !s->notls) {
			s->state = RS_STARTTLS;
			rs_send(s, "STARTTLS");
		} else if (!s->tls && POLICY_TLS(&s->pol))
			rs_conn_fail(s, "TLS required but not offered by %s "
			    "[%s]", s->host, s->addr);
		else
			rs_ready(s);
	} else if (c == 5 && !s->tls && POLICY_TLS(&s->pol))
		rs_conn_fail(s, "TLS required but %s [%s] refused EHLO: %s",
		    s->host, s->addr, s->rep.text);
	else if (c == 5 && !s->tls) {
		/* An old server: no extensions, no TLS. */
		s->helo = 1;
		s->ext = 0;
		s->state = RS_HELO;
		rs_send(s, "HELO %s", conf->hostname);
	} else
		rs_conn_fail(s, "%s [%s] EHLO: %s", s->host, s->addr,
		    s->rep.text);
}

static void
rs_starttls(struct relay_session *s)
{
	struct tls_config	*cfg;
	struct tls		*ctx;

	/* Nothing sent before the handshake may count after it. */
	io_drop_input(s->io);
	if ((ctx = tls_client()) == NULL)
		fatal("tls_client");
	if ((cfg = relay_tls_config(&s->pol)) == NULL ||
	    tls_configure(ctx, cfg) == -1) {
		if (cfg != NULL)	/* else relay_tls_config() said why */
			log_warnx("tls_configure: %s", tls_error(ctx));
		tls_free(ctx);
		rs_conn_fail(s, "TLS setup failed");
		return;
	}
	/* The name checked by "tls verify": the MX or the smarthost. */
	if (io_start_tls_client(s->io, ctx, s->host) == -1) {
		tls_free(ctx);
		rs_conn_fail(s, "TLS with %s [%s] failed: %s", s->host,
		    s->addr, io_error(s->io));
		return;
	}
	s->state = RS_TLS;
}

/*
 * The handshake failed (or the certificate did not verify).  When TLS
 * is only opportunistic, the same address is tried once more without
 * STARTTLS; then the next address as usual.
 */
static void
rs_tls_failed(struct relay_session *s, const char *why)
{
	if (POLICY_TLS(&s->pol)) {
		rs_conn_fail(s, "TLS required but failed with %s [%s]: %s",
		    s->host, s->addr, why);
		return;
	}
	if (s->ai > 0) {
		s->ai--;
		s->plainretry = 1;
	}
	rs_conn_fail(s, "TLS with %s [%s] failed: %s; trying again without "
	    "TLS", s->host, s->addr, why);
}

/* The session may send mail once it has logged in, if it must. */
static void
rs_ready(struct relay_session *s)
{
	if (s->pol.auth[0] != '\0' && !s->authed)
		rs_auth(s);
	else
		rs_next_tx(s);
}

/*
 * The credentials of the action: "user:password", the value of the
 * label's line in the auth table (looked up each time, never kept).
 * 0, or -1 with the session failed temporarily.
 */
static int
rs_creds(struct relay_session *s, const char **user, size_t *ulen,
    const char **pass)
{
	struct table	*t;
	const char	*v, *colon;
	char		 why[ERRMSG_MAX];
	int		 r = -1;

	if ((t = config_table(conf, s->pol.auth)) != NULL)
		r = table_lookup(t, s->pol.label, &v);
	if (r == 1 && ((colon = strchr(v, ':')) == NULL || colon == v))
		r = -2;
	if (r != 1) {
		(void)snprintf(why, sizeof(why), "451 4.7.0 %s for %.64s in "
		    "<%s>", r == -1 ? "table not loaded: no credentials" :
		    r == 0 ? "no credentials" : "credentials not user:password",
		    s->pol.label, s->pol.auth);
		log_warnx("relay action %s: %s", s->pol.action, why);
		rs_fail_all(s, RELAY_TEMPFAIL, why);
		return -1;
	}
	*user = v;
	*ulen = (size_t)(colon - v);
	*pass = colon + 1;
	return 0;
}

/* base64 of in, NUL-terminated; 0, or -1 if out is too small. */
static int
rs_b64(const void *in, size_t len, char *out, size_t outlen)
{
	if (sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL) >
	    outlen)
		return -1;
	(void)sodium_bin2base64(out, outlen, in, len,
	    sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

/* AUTH PLAIN when offered, else LOGIN; over TLS only, always. */
static void
rs_auth(struct relay_session *s)
{
	const char	*user, *pass;
	char		 msg[SASL_CRED_MAX], b64[2 * SASL_CRED_MAX];
	size_t		 ulen, plen;

	if (!s->tls) {
		/* The configuration makes this impossible; still. */
		rs_conn_fail(s, "%s [%s]: no AUTH without TLS", s->host,
		    s->addr);
		return;
	}
	if (!(s->ext & (EXT_AUTH_PLAIN | EXT_AUTH_LOGIN))) {
		rs_conn_fail(s, "%s [%s] offers neither AUTH PLAIN nor AUTH "
		    "LOGIN", s->host, s->addr);
		return;
	}
	if (rs_creds(s, &user, &ulen, &pass) == -1)
		return;
	if (!(s->ext & EXT_AUTH_PLAIN)) {
		s->state = RS_AUTH_LOGIN1;
		rs_send(s, "AUTH LOGIN");
		return;
	}
	/* RFC 4616: [authzid] NUL authcid NUL passwd */
	plen = strlen(pass);
	if (ulen + plen + 2 > sizeof(msg)) {
		rs_fail_all(s, RELAY_TEMPFAIL, "451 4.7.0 relay credentials "
		    "too long");
		return;
	}
	msg[0] = '\0';
	memcpy(msg + 1, user, ulen);
	msg[1 + ulen] = '\0';
	memcpy(msg + 2 + ulen, pass, plen);
	(void)rs_b64(msg, ulen + plen + 2, b64, sizeof(b64));
	s->state = RS_AUTH;
	rs_send(s, "AUTH PLAIN %s", b64);
	explicit_bzero(msg, sizeof(msg));
	explicit_bzero(b64, sizeof(b64));
}

/*
 * 235: logged in.  334: the next LOGIN step.  Anything else: our
 * credentials are wrong or not welcome, which no other address of the
 * same server will change; the jobs wait for a retry (no bounce: the
 * mail is fine, our setup is not).
 */
static void
rs_auth_reply(struct relay_session *s)
{
	const char	*user, *pass;
	char		 b64[2 * SASL_CRED_MAX], why[ERRMSG_MAX];
	size_t		 ulen;

	if (s->state == RS_AUTH && s->rep.code == 235) {
		s->authed = 1;
		log_info("authenticated to %s [%s] as label %s", s->host,
		    s->addr, s->pol.label);
		rs_next_tx(s);
		return;
	}
	if (s->state != RS_AUTH && s->rep.code == 334) {
		if (rs_creds(s, &user, &ulen, &pass) == -1)
			return;
		if (s->state == RS_AUTH_LOGIN1) {
			if (rs_b64(user, ulen, b64, sizeof(b64)) == -1)
				goto toolong;
			s->state = RS_AUTH_LOGIN2;
		} else {
			if (rs_b64(pass, strlen(pass), b64, sizeof(b64)) == -1)
				goto toolong;
			s->state = RS_AUTH;
		}
		rs_send(s, "%s", b64);
		explicit_bzero(b64, sizeof(b64));
		return;
	}
	(void)snprintf(why, sizeof(why), "451 4.7.0 %.64s [%.45s] refused "
	    "AUTH: %.100s", s->host, s->addr, s->rep.text);
	rs_fail_all(s, RELAY_TEMPFAIL, why);
	return;
 toolong:
	rs_fail_all(s, RELAY_TEMPFAIL, "451 4.7.0 relay credentials too long");
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
		if (s->rep.code / 100 != 2) {
			s->mailfail = 1;
			rs_tx_fail(s, rs_status(s->rep.code), s->rep.text);
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
			if (s->rep.code / 100 == 2) {
				s->accepted[i] = 1;
				s->naccepted++;
			} else {
				rs_result(s, s->tx[i], rs_status(s->rep.code),
				    s->rep.text);
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

	if (s->rep.code != 354) {
		/* DATA refused: the accepted recipients share its fate. */
		rs_tx_fail(s, rs_status(s->rep.code), s->rep.text);
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
	smtp_stuff_init(&s->stuff);
	/* The DKIM signature goes first, as the first header field. */
	if ((n = strlen(j->dkim)) > 0) {
		if ((out = malloc(SMTP_STUFF_ROOM(n) + 2)) == NULL)
			fatal("malloc");
		n = smtp_stuff(&s->stuff, j->dkim, n, out);
		n += smtp_stuff_eol(&s->stuff, out + n);
		io_write(s->io, out, n);
		free(out);
	}
	rs_body(s);
}

/* Queue more of the message while little is waiting to be sent. */
static void
rs_body(struct relay_session *s)
{
	char	 in[BODY_CHUNK], out[SMTP_STUFF_ROOM(BODY_CHUNK) + 8];
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
			o = smtp_stuff_end(&s->stuff, out);
			io_write(s->io, out, o);
			s->state = RS_FINAL;
			s->bodyfd = -1;
			io_set_timeout(s->io, RELAY_FINAL_TIMEOUT * 1000);
			return;
		}
		o = smtp_stuff(&s->stuff, in, (size_t)n, out);
		io_write(s->io, out, o);
	}
}

static void
rs_final_reply(struct relay_session *s)
{
	io_set_timeout(s->io, RELAY_REPLY_TIMEOUT * 1000);
	rs_tx_fail(s, rs_status(s->rep.code), s->rep.text);
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
	smtp_reply_clean(s->lasterr);
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
	reqwait_forget(s->id);		/* if lookup has not answered yet */
	rs_tx_requeue(s);
	rs_detach(s);
	rs_close(s);
	TAILQ_REMOVE(&sessions, s, entry);
	if (s->incb == 0) {
		free(s->hosts);
		free(s);
	}
}
