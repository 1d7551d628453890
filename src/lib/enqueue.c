/*
 * Local submission, shared by maild-sendmail and the maild parent's
 * pickup of offline files: which listener local programs submit to, a
 * blocking SMTP client with a bounded total time that hands one message
 * to it, and the offline file (write, and a strict read of what may be
 * anybody's file).  No event loop, no process state.
 *
 * A message is never both accepted and kept for retry: any 4xx before
 * the end of DATA (even for one recipient while others got 250) resets
 * the transaction and the whole message is a temporary failure; only
 * 5xx answers split it into delivered and refused recipients.
 *
 * On ENQ_PERMFAIL, err holds one line per refusal ('\n' between them):
 * "<address>: <reply>" for a refused recipient (the others got the
 * message), "message refused (<stage>): <reply>" when the server
 * refused the message itself (nobody got it).  Server text is cleaned
 * of control and 8-bit bytes before it goes there.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "enqueue.h"
#include "smtp_reply.h"
#include "util.h"

#define ENQ_TIMEOUT	60	/* seconds for one whole transaction */
#define ENQ_QUIT_WAIT	5	/* seconds for the answer to QUIT */
#define ENQ_CHUNK	8192	/* message bytes dot-stuffed at a time */
#define ENQ_INBUF	(SMTP_REPLY_LINE_MAX + 3)	/* line, CRLF, NUL */

#define OFFLINE_VERSION	"maild-offline 1"
/* "from " or "to " and an address: the longest header line. */
#define OFFLINE_LINE_MAX	(5 + ADDR_MAX)
#define OFFLINE_HDR_MAX	\
	(sizeof(OFFLINE_VERSION) + 2 + (size_t)(ENQ_RCPT_MAX + 1) * \
	(OFFLINE_LINE_MAX + 1))

/* Extensions of the EHLO reply that change what we send. */
#define EXT_8BITMIME	0x01
#define EXT_SMTPUTF8	0x02
#define EXT_SIZE	0x04

struct enq_conn {
	int			 fd;
	struct timespec		 deadline;
	char			 in[ENQ_INBUF];
	size_t			 inlen;
	struct smtp_reply	 reply;
	int			 ext;
	char			 why[ERRMSG_MAX];	/* lost connection */
};

static void	 err_add(char *, size_t, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static int	 ms_left(const struct enq_conn *);
static void	 set_deadline(struct enq_conn *, int);
static int	 conn_wait(struct enq_conn *, short);
static int	 conn_open(struct enq_conn *, const struct sockaddr_storage *,
		    socklen_t);
static int	 conn_write(struct enq_conn *, const char *, size_t);
static int	 conn_line(struct enq_conn *, char **, size_t *);
static int	 conn_reply(struct enq_conn *, int);
static int	 conn_cmd(struct enq_conn *, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static void	 conn_ehlo_line(struct enq_conn *, const char *);
static int	 conn_data(struct enq_conn *, const struct enq_msg *);
static void	 conn_close(struct enq_conn *, int);
static int	 has_8bit(const char *, size_t);
static int	 addr_8bit(const struct enq_msg *);
static void	 target_text(const struct sockaddr_storage *, char *, size_t);
static int	 offline_line(const char **, const char *, char *, size_t);
static int	 offline_addr(const char *, char *, size_t);
static char	*offline_header(const struct enq_msg *, size_t *, char *,
		    size_t);

/* -- where to submit -- */

/*
 * Listeners that ask for AUTH refuse MAIL without it: a local program
 * has no password, so they are skipped as the TLS-only ones are.
 */
int
enqueue_target(const struct maild_conf *conf, struct sockaddr_storage *ss,
    socklen_t *sslen)
{
	const struct listener	*l;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;

	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if (l->proto != PROTO_SMTP ||
		    (l->flags & (L_SMTPS | L_TLS_REQUIRE | L_AUTH)))
			continue;
		if (l->ss.ss_family != AF_INET && l->ss.ss_family != AF_INET6)
			continue;
		memset(ss, 0, sizeof(*ss));
		memcpy(ss, &l->ss, l->sslen < sizeof(*ss) ? l->sslen :
		    sizeof(*ss));
		if (ss->ss_family == AF_INET) {
			sin = (struct sockaddr_in *)ss;
			if (sin->sin_addr.s_addr == htonl(INADDR_ANY))
				sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			sin->sin_port = htons((uint16_t)l->port);
			*sslen = sizeof(*sin);
		} else {
			sin6 = (struct sockaddr_in6 *)ss;
			if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
				sin6->sin6_addr = in6addr_loopback;
			sin6->sin6_port = htons((uint16_t)l->port);
			*sslen = sizeof(*sin6);
		}
		if (addr_sa_loopback(ss))
			return 0;
	}
	memset(ss, 0, sizeof(*ss));
	*sslen = 0;
	return -1;
}

static void
target_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in	*sin = (const void *)ss;
	const struct sockaddr_in6	*sin6 = (const void *)ss;
	char				 a[INET6_ADDRSTRLEN];
	const void			*p;
	int				 port;

	if (ss->ss_family == AF_INET6) {
		p = &sin6->sin6_addr;
		port = ntohs(sin6->sin6_port);
	} else {
		p = &sin->sin_addr;
		port = ntohs(sin->sin_port);
	}
	if (inet_ntop(ss->ss_family, p, a, sizeof(a)) == NULL)
		(void)strlcpy(a, "?", sizeof(a));
	(void)snprintf(buf, len, "%s port %d", a, port);
}

/* -- the SMTP client -- */

/* Append one line to err; a full buffer keeps what fits. */
static void
err_add(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;
	char	 line[ERRMSG_MAX + ADDR_MAX + 64];

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (err[0] != '\0')
		(void)strlcat(err, "\n", errlen);
	(void)strlcat(err, line, errlen);
}

static void
set_deadline(struct enq_conn *c, int seconds)
{
	struct timespec	 now;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	c->deadline = now;
	c->deadline.tv_sec += seconds;
}

static int
ms_left(const struct enq_conn *c)
{
	struct timespec	 now;
	long long	 ms;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(c->deadline.tv_sec - now.tv_sec) * 1000 +
	    (c->deadline.tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : (int)ms;
}

/* Wait until fd is ready for events; 0, or -1 (timeout, error) in why. */
static int
conn_wait(struct enq_conn *c, short events)
{
	struct pollfd	 pfd;
	int		 n, left;

	for (;;) {
		if ((left = ms_left(c)) == 0) {
			(void)snprintf(c->why, sizeof(c->why), "timed out "
			    "after %d seconds", ENQ_TIMEOUT);
			return -1;
		}
		pfd.fd = c->fd;
		pfd.events = events;
		pfd.revents = 0;
		if ((n = poll(&pfd, 1, left)) == -1) {
			if (errno == EINTR)
				continue;
			(void)snprintf(c->why, sizeof(c->why), "poll: %s",
			    strerror(errno));
			return -1;
		}
		if (n > 0)
			return 0;
	}
}

static int
conn_open(struct enq_conn *c, const struct sockaddr_storage *ss,
    socklen_t sslen)
{
	socklen_t	 len;
	int		 e;

	if ((c->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1) {
		(void)snprintf(c->why, sizeof(c->why), "socket: %s",
		    strerror(errno));
		return -1;
	}
	if (connect(c->fd, (const struct sockaddr *)ss, sslen) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EINTR) {
		(void)snprintf(c->why, sizeof(c->why), "connect: %s",
		    strerror(errno));
		return -1;
	}
	if (conn_wait(c, POLLOUT) == -1) {
		(void)strlcpy(c->why, "connect: timed out", sizeof(c->why));
		return -1;
	}
	len = sizeof(e);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
		e = errno;
	if (e != 0) {
		(void)snprintf(c->why, sizeof(c->why), "connect: %s",
		    strerror(e));
		return -1;
	}
	return 0;
}

static int
conn_write(struct enq_conn *c, const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		/* MSG_NOSIGNAL: a closed peer is an error, not SIGPIPE. */
		if ((n = send(c->fd, buf, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (conn_wait(c, POLLOUT) == -1)
					return -1;
				continue;
			}
			(void)snprintf(c->why, sizeof(c->why), "write: %s",
			    strerror(errno));
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The next line from the server (without its LF; a CR is left for the
 * reply parser), in c->in; consumed by the following call.  0 or -1.
 */
static int
conn_line(struct enq_conn *c, char **linep, size_t *lenp)
{
	char	*nl;
	size_t	 used;
	ssize_t	 n;

	/* Drop the line returned last time. */
	if (*linep != NULL) {
		used = *lenp + 1;
		memmove(c->in, c->in + used, c->inlen - used);
		c->inlen -= used;
		*linep = NULL;
	}
	for (;;) {
		if ((nl = memchr(c->in, '\n', c->inlen)) != NULL) {
			*nl = '\0';
			*linep = c->in;
			*lenp = (size_t)(nl - c->in);
			return 0;
		}
		if (c->inlen >= sizeof(c->in) - 1) {
			(void)strlcpy(c->why, "reply line too long",
			    sizeof(c->why));
			return -1;
		}
		n = read(c->fd, c->in + c->inlen, sizeof(c->in) - 1 -
		    c->inlen);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (conn_wait(c, POLLIN) == -1)
					return -1;
				continue;
			}
			(void)snprintf(c->why, sizeof(c->why), "read: %s",
			    strerror(errno));
			return -1;
		}
		if (n == 0) {
			(void)strlcpy(c->why, "connection closed by the "
			    "server", sizeof(c->why));
			return -1;
		}
		c->inlen += (size_t)n;
	}
}

/* One word of an EHLO reply line that we use. */
static void
conn_ehlo_line(struct enq_conn *c, const char *text)
{
	size_t	 n = strcspn(text, " ");

	if (n == 8 && strncasecmp(text, "8BITMIME", n) == 0)
		c->ext |= EXT_8BITMIME;
	else if (n == 8 && strncasecmp(text, "SMTPUTF8", n) == 0)
		c->ext |= EXT_SMTPUTF8;
	else if (n == 4 && strncasecmp(text, "SIZE", n) == 0)
		c->ext |= EXT_SIZE;
}

/*
 * Read one whole reply; its code, or -1 (connection lost, malformed:
 * the reason in c->why).  ehlo: note the extensions it lists.
 */
static int
conn_reply(struct enq_conn *c, int ehlo)
{
	char		*line = NULL;
	const char	*text;
	size_t		 len = 0;
	int		 r, first = 1;

	for (;;) {
		if (conn_line(c, &line, &len) == -1)
			return -1;
		r = smtp_reply_line(&c->reply, line, len, &text);
		if (r == SMTP_REPLY_BAD) {
			(void)strlcpy(c->why, "malformed reply from the server",
			    sizeof(c->why));
			return -1;
		}
		if (ehlo && !first)
			conn_ehlo_line(c, text);
		first = 0;
		if (r == SMTP_REPLY_DONE)
			break;
	}
	/* Consume the last line. */
	len++;
	memmove(c->in, c->in + len, c->inlen - len);
	c->inlen -= len;
	return c->reply.code;
}

/* Send one command line and read its reply; code or -1. */
static int
conn_cmd(struct enq_conn *c, int ehlo, const char *fmt, ...)
{
	va_list	 ap;
	char	 line[SMTP_LINE_MAX];
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2) {
		(void)strlcpy(c->why, "command too long", sizeof(c->why));
		return -1;
	}
	memcpy(line + n, "\r\n", 2);
	if (conn_write(c, line, (size_t)n + 2) == -1)
		return -1;
	return conn_reply(c, ehlo);
}

/* The message, dot-stuffed, and the final dot. */
static int
conn_data(struct enq_conn *c, const struct enq_msg *msg)
{
	struct smtp_stuff	 st;
	char			*out;
	size_t			 off, n, o;
	int			 r = -1;

	if ((out = malloc(SMTP_STUFF_ROOM(ENQ_CHUNK))) == NULL)
		fatal("malloc");
	smtp_stuff_init(&st);
	for (off = 0; off < msg->len; off += n) {
		n = msg->len - off < ENQ_CHUNK ? msg->len - off : ENQ_CHUNK;
		o = smtp_stuff(&st, msg->data + off, n, out);
		if (conn_write(c, out, o) == -1)
			goto done;
	}
	o = smtp_stuff_end(&st, out);
	r = conn_write(c, out, o);
 done:
	free(out);
	return r;
}

/* QUIT (after RSET when a transaction is open), briefly; then close. */
static void
conn_close(struct enq_conn *c, int rset)
{
	if (c->fd == -1)
		return;
	if (ms_left(c) > ENQ_QUIT_WAIT * 1000)
		set_deadline(c, ENQ_QUIT_WAIT);
	if (c->why[0] == '\0' && (!rset || conn_cmd(c, 0, "RSET") != -1))
		(void)conn_cmd(c, 0, "QUIT");
	close(c->fd);
	c->fd = -1;
}

static int
has_8bit(const char *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if ((unsigned char)p[i] >= 0x80)
			return 1;
	return 0;
}

static int
addr_8bit(const struct enq_msg *msg)
{
	size_t	 i;

	if (has_8bit(msg->sender, strlen(msg->sender)))
		return 1;
	for (i = 0; i < msg->nrcpt; i++)
		if (has_8bit(msg->rcpts[i], strlen(msg->rcpts[i])))
			return 1;
	return 0;
}

int
enqueue_smtp(const struct maild_conf *conf, const struct enq_msg *msg,
    char *err, size_t errlen)
{
	struct enq_conn		*c;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 params[64], what[INET6_ADDRSTRLEN + 16];
	size_t			 i, naccepted = 0, nrefused = 0;
	int			 code, ret = ENQ_TEMPFAIL, rset = 0;

	if (errlen > 0)
		err[0] = '\0';
	if (msg->nrcpt == 0 || msg->nrcpt > ENQ_RCPT_MAX) {
		err_add(err, errlen, "message refused (recipients): %zu "
		    "recipients", msg->nrcpt);
		return ENQ_PERMFAIL;
	}
	if (enqueue_target(conf, &ss, &sslen) == -1) {
		err_add(err, errlen, "%s has no SMTP listener on the loopback "
		    "or a wildcard address without TLS or auth required",
		    conf->path[0] != '\0' ? conf->path : "the configuration");
		return ENQ_TEMPFAIL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("calloc");
	c->fd = -1;
	smtp_reply_init(&c->reply);
	set_deadline(c, ENQ_TIMEOUT);
	target_text(&ss, what, sizeof(what));

	if (conn_open(c, &ss, sslen) == -1)
		goto lost;
	if ((code = conn_reply(c, 0)) == -1)
		goto lost;
	if (code / 100 != 2) {
		if (code / 100 == 5)
			err_add(err, errlen, "message refused (greeting of "
			    "%s): %s", what, c->reply.text);
		else
			err_add(err, errlen, "%s: %s", what, c->reply.text);
		ret = code / 100 == 5 ? ENQ_PERMFAIL : ENQ_TEMPFAIL;
		goto done;
	}
	if ((code = conn_cmd(c, 1, "EHLO localhost")) == -1)
		goto lost;
	if (code / 100 == 5) {
		c->ext = 0;
		if ((code = conn_cmd(c, 0, "HELO localhost")) == -1)
			goto lost;
	}
	if (code / 100 != 2) {
		if (code / 100 == 5)
			err_add(err, errlen, "message refused (HELO): %s",
			    c->reply.text);
		else
			err_add(err, errlen, "%s", c->reply.text);
		ret = code / 100 == 5 ? ENQ_PERMFAIL : ENQ_TEMPFAIL;
		goto done;
	}

	params[0] = '\0';
	if (c->ext & EXT_SIZE)
		(void)snprintf(params, sizeof(params), " SIZE=%zu", msg->len);
	if ((c->ext & EXT_8BITMIME) && has_8bit(msg->data, msg->len))
		(void)strlcat(params, " BODY=8BITMIME", sizeof(params));
	if ((c->ext & EXT_SMTPUTF8) && addr_8bit(msg))
		(void)strlcat(params, " SMTPUTF8", sizeof(params));
	if ((code = conn_cmd(c, 0, "MAIL FROM:<%s>%s", msg->sender,
	    params)) == -1)
		goto lost;
	if (code / 100 != 2) {
		if (code / 100 == 5)
			err_add(err, errlen, "message refused (MAIL FROM:<%s>)"
			    ": %s", msg->sender, c->reply.text);
		else
			err_add(err, errlen, "%s", c->reply.text);
		ret = code / 100 == 5 ? ENQ_PERMFAIL : ENQ_TEMPFAIL;
		rset = 1;
		goto done;
	}
	rset = 1;
	for (i = 0; i < msg->nrcpt; i++) {
		if ((code = conn_cmd(c, 0, "RCPT TO:<%s>", msg->rcpts[i])) ==
		    -1)
			goto lost;
		if (code / 100 == 2)
			naccepted++;
		else if (code / 100 == 5) {
			nrefused++;
			err_add(err, errlen, "%s: %s", msg->rcpts[i],
			    c->reply.text);
		} else {
			/* One 4xx and the whole message waits: no split. */
			err[0] = '\0';
			err_add(err, errlen, "%s: %s", msg->rcpts[i],
			    c->reply.text);
			ret = ENQ_TEMPFAIL;
			goto done;
		}
	}
	if (naccepted == 0) {
		ret = ENQ_PERMFAIL;
		goto done;
	}
	if ((code = conn_cmd(c, 0, "DATA")) == -1)
		goto lost;
	if (code != 354) {
		if (code / 100 == 5) {
			err_add(err, errlen, "message refused (DATA): %s",
			    c->reply.text);
			ret = ENQ_PERMFAIL;
		} else {
			err[0] = '\0';
			err_add(err, errlen, "%s", c->reply.text);
			ret = ENQ_TEMPFAIL;
		}
		goto done;
	}
	if (conn_data(c, msg) == -1 || (code = conn_reply(c, 0)) == -1)
		goto lost;
	rset = 0;
	if (code / 100 == 2)
		ret = nrefused > 0 ? ENQ_PERMFAIL : ENQ_OK;
	else if (code / 100 == 5) {
		err_add(err, errlen, "message refused (end of data): %s",
		    c->reply.text);
		ret = ENQ_PERMFAIL;
	} else {
		err[0] = '\0';
		err_add(err, errlen, "%s", c->reply.text);
		ret = ENQ_TEMPFAIL;
	}
	goto done;

 lost:
	/* Before the reply to the final dot: nothing was accepted. */
	if (errlen > 0)
		err[0] = '\0';
	err_add(err, errlen, "%s: %s", what, c->why);
	ret = ENQ_TEMPFAIL;
 done:
	conn_close(c, rset);
	free(c);
	return ret;
}

/* -- offline files -- */

/* 0 if s is "" or a valid address; its canonical form in buf. */
static int
offline_addr(const char *s, char *buf, size_t len)
{
	struct mailaddr	 a;

	if (*s == '\0') {
		if (len == 0)
			return -1;
		buf[0] = '\0';
		return 0;
	}
	if (addr_parse(s, &a, ADDR_ALLOW_UTF8) == -1)
		return -1;
	return addr_to_text(&a, buf, len);
}

static char *
offline_header(const struct enq_msg *msg, size_t *lenp, char *err,
    size_t errlen)
{
	char	*buf;
	size_t	 size, len = 0, i;
	int	 n;

	if (msg->nrcpt == 0 || msg->nrcpt > ENQ_RCPT_MAX) {
		(void)snprintf(err, errlen, "%zu recipients (1 to %d)",
		    msg->nrcpt, ENQ_RCPT_MAX);
		return NULL;
	}
	size = sizeof(OFFLINE_VERSION) + 8 + strlen(msg->sender);
	for (i = 0; i < msg->nrcpt; i++)
		size += strlen(msg->rcpts[i]) + 4;
	if ((buf = malloc(++size)) == NULL)
		fatal("malloc");
	n = snprintf(buf, size, "%s\nfrom %s\n", OFFLINE_VERSION,
	    msg->sender);
	if (n < 0 || (size_t)n >= size)
		goto toolong;
	len = (size_t)n;
	for (i = 0; i < msg->nrcpt; i++) {
		n = snprintf(buf + len, size - len, "to %s\n", msg->rcpts[i]);
		if (n < 0 || (size_t)n >= size - len)
			goto toolong;
		len += (size_t)n;
	}
	if (len + 1 >= size)
		goto toolong;
	buf[len++] = '\n';
	*lenp = len;
	return buf;
 toolong:
	free(buf);
	(void)snprintf(err, errlen, "header does not fit");
	return NULL;
}

int
enqueue_offline_write(const struct maild_conf *conf,
    const struct enq_msg *msg, char *err, size_t errlen)
{
	char		 dir[PATH_MAX], name[128], tmp[130], hex[17];
	char		 canon[ADDR_MAX + 1], *hdr;
	unsigned char	 rnd[8];
	size_t		 hdrlen, i;
	int		 dfd, fd = -1, n, ret = -1;

	if (errlen > 0)
		err[0] = '\0';
	/* What the daemon would refuse to read must not be written. */
	if (offline_addr(msg->sender, canon, sizeof(canon)) == -1) {
		(void)snprintf(err, errlen, "bad sender address");
		return -1;
	}
	for (i = 0; i < msg->nrcpt; i++)
		if (offline_addr(msg->rcpts[i], canon, sizeof(canon)) == -1 ||
		    canon[0] == '\0') {
			(void)snprintf(err, errlen, "bad recipient address");
			return -1;
		}
	if ((hdr = offline_header(msg, &hdrlen, err, errlen)) == NULL)
		return -1;
	n = snprintf(dir, sizeof(dir), "%s/%s", conf->spool, ENQ_OFFLINE);
	if (n < 0 || (size_t)n >= sizeof(dir)) {
		(void)snprintf(err, errlen, "%s/%s: path too long",
		    conf->spool, ENQ_OFFLINE);
		free(hdr);
		return -1;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		(void)snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		free(hdr);
		return -1;
	}
	compat_random(rnd, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	(void)snprintf(name, sizeof(name), "%lld.%ld.%s",
	    (long long)time(NULL), (long)getpid(), hex);
	(void)snprintf(tmp, sizeof(tmp), ".%s", name);
	/* The daemon skips dot files: it never sees half a message. */
	if ((fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		(void)snprintf(err, errlen, "%s/%s: %s", dir, tmp,
		    strerror(errno));
		goto done;
	}
	if (fchmod(fd, 0600) == -1 || write_full(fd, hdr, hdrlen) == -1 ||
	    write_full(fd, msg->data, msg->len) == -1 || fsync(fd) == -1) {
		(void)snprintf(err, errlen, "%s/%s: %s", dir, tmp,
		    strerror(errno));
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		(void)snprintf(err, errlen, "%s/%s: %s", dir, tmp,
		    strerror(errno));
		goto fail;
	}
	fd = -1;
	if (renameat(dfd, tmp, dfd, name) == -1) {
		(void)snprintf(err, errlen, "rename to %s/%s: %s", dir, name,
		    strerror(errno));
		goto fail;
	}
	/* The file is there; a directory fsync failure cannot undo it. */
	(void)fsync(dfd);
	ret = 0;
	goto done;
 fail:
	if (fd != -1)
		close(fd);
	fd = -1;
	(void)unlinkat(dfd, tmp, 0);
 done:
	if (fd != -1)
		close(fd);
	close(dfd);
	free(hdr);
	return ret;
}

/*
 * The next header line of an offline file at *pp (before end), without
 * its LF, into buf (len bytes); it may hold no NUL and no CR.  0, -1
 * when the file ends first, -2 for a line too long or bad bytes.
 */
static int
offline_line(const char **pp, const char *end, char *buf, size_t len)
{
	const char	*p = *pp, *nl;
	size_t		 n, avail = (size_t)(end - p);

	n = avail < len ? avail : len;
	if ((nl = memchr(p, '\n', n)) == NULL)
		return avail < len ? -1 : -2;
	n = (size_t)(nl - p);
	if (memchr(p, '\0', n) != NULL || memchr(p, '\r', n) != NULL)
		return -2;
	memcpy(buf, p, n);
	buf[n] = '\0';
	*pp = nl + 1;
	return 0;
}

int
enqueue_offline_read(int fd, size_t maxsize, struct enq_msg *msg,
    char *err, size_t errlen)
{
	char		 line[OFFLINE_LINE_MAX + 2], canon[ADDR_MAX + 1];
	char		*buf, *out;
	const char	*p, *end, *data;
	size_t		 len, max, dlen, nlf, i, o, size = 0;
	int		 lineno = 0, r;

	memset(msg, 0, sizeof(*msg));
	if (errlen > 0)
		err[0] = '\0';
	max = maxsize > SIZE_MAX / 2 - OFFLINE_HDR_MAX ? SIZE_MAX / 2 :
	    maxsize + OFFLINE_HDR_MAX;
	if ((buf = read_fd(fd, max, &len)) == NULL) {
		if (errno == EFBIG)
			(void)snprintf(err, errlen, "file too large (message "
			    "limit %zu bytes)", maxsize);
		else
			(void)snprintf(err, errlen, "read: %s",
			    strerror(errno));
		return -1;
	}
	p = buf;
	end = buf + len;
	for (;;) {
		lineno++;
		if ((r = offline_line(&p, end, line, sizeof(line))) < 0) {
			(void)snprintf(err, errlen, r == -1 ? "line %d: file "
			    "truncated in its header" : "line %d: too long, "
			    "or NUL or CR in a header line", lineno);
			goto fail;
		}
		if (lineno == 1) {
			if (strcmp(line, OFFLINE_VERSION) != 0) {
				(void)snprintf(err, errlen, "line 1: not "
				    "\"%s\"", OFFLINE_VERSION);
				goto fail;
			}
		} else if (lineno == 2) {
			if (strncmp(line, "from ", 5) != 0 ||
			    offline_addr(line + 5, msg->sender,
			    sizeof(msg->sender)) == -1) {
				(void)snprintf(err, errlen, "line 2: not "
				    "\"from\" and a valid address or nothing");
				goto fail;
			}
		} else if (line[0] == '\0')
			break;
		else if (strncmp(line, "to ", 3) != 0 ||
		    offline_addr(line + 3, canon, sizeof(canon)) == -1 ||
		    canon[0] == '\0') {
			(void)snprintf(err, errlen, "line %d: not \"to\" and a "
			    "valid address", lineno);
			goto fail;
		} else if (msg->nrcpt == ENQ_RCPT_MAX) {
			(void)snprintf(err, errlen, "line %d: more than %d "
			    "recipients", lineno, ENQ_RCPT_MAX);
			goto fail;
		} else {
			if (msg->nrcpt == size) {
				size = size ? size * 2 : 8;
				if ((msg->rcpts = reallocarray(msg->rcpts,
				    size, sizeof(*msg->rcpts))) == NULL)
					fatal("reallocarray");
			}
			if ((msg->rcpts[msg->nrcpt] = strdup(canon)) == NULL)
				fatal("strdup");
			msg->nrcpt++;
		}
	}
	if (lineno < 3 || msg->nrcpt == 0) {
		(void)snprintf(err, errlen, "no recipients");
		goto fail;
	}

	/* The message: CRLF, also from a hand-written file with LF. */
	data = p;
	dlen = (size_t)(end - p);
	for (nlf = 0, i = 0; i < dlen; i++)
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			nlf++;
	if (dlen > maxsize || nlf > maxsize - dlen) {
		(void)snprintf(err, errlen, "message larger than %zu bytes",
		    maxsize);
		goto fail;
	}
	if ((out = malloc(dlen + nlf + 1)) == NULL)
		fatal("malloc");
	for (o = 0, i = 0; i < dlen; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			out[o++] = '\r';
		out[o++] = data[i];
	}
	out[o] = '\0';
	msg->data = out;
	msg->len = o;
	free(buf);
	return 0;
 fail:
	free(buf);
	enqueue_msg_free(msg);
	return -1;
}

void
enqueue_msg_free(struct enq_msg *msg)
{
	size_t	 i;

	for (i = 0; i < msg->nrcpt; i++)
		free(msg->rcpts[i]);
	free(msg->rcpts);
	free(msg->data);
	memset(msg, 0, sizeof(*msg));
}
