/*
 * The filter process: maild's client of rspamd.  The queue hands it a
 * message being received (its spool file, read-only) with what rspamd
 * wants to know of its client, or a message a user moved into or out of
 * Junk; it posts the file to rspamd's /checkv2, /learnspam or /learnham
 * and answers the queue with rspamd's verdict.  It holds no keys and no
 * tables, and reaches the network only to connect to the URLs of
 * mail.conf, so rspamd's answers, however odd, are parsed here and not
 * in the queue, which holds the DKIM keys.
 *
 * Every request is its own connection (Connection: close): rspamd on
 * the same machine or network accepts thousands a second, and a
 * connection that carries one request cannot mix two answers.  Up to
 * MAX_ACTIVE run at once; the rest wait in order.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "compat.h"
#include "config.h"
#include "filter.h"
#include "http_url.h"
#include "log.h"
#include "proc.h"
#include "rspamd.h"
#include "util.h"

#define MAX_ACTIVE	64		/* connections to rspamd at once */
#define HEAD_MAX	8192
#define CHUNK		65536

enum fjob_kind { FJ_SCAN, FJ_LEARN_SPAM, FJ_LEARN_HAM };

struct fjob {
	TAILQ_ENTRY(fjob)	 entry;
	enum fjob_kind		 kind;
	uint64_t		 id;		/* the queue's reqid or evpid */
	int			 fd;		/* the message */
	off_t			 size;
	int			 sock;
	struct event		 ev;
	struct event		 ev_timeout;
	char			 head[HEAD_MAX];
	size_t			 headlen;
	size_t			 sent;		/* of head, then of the body */
	off_t			 bodyoff;
	char			 chunk[CHUNK];
	size_t			 chunklen, chunkoff;
	struct http_url		 url;		/* where it goes */
	struct rspamd_http	 resp;
	int			 respinit;
	int			 active;	/* on the active list */
	int			 evset;		/* ev set on sock */
};

static TAILQ_HEAD(, fjob)	 waiting = TAILQ_HEAD_INITIALIZER(waiting);
static TAILQ_HEAD(, fjob)	 active = TAILQ_HEAD_INITIALIZER(active);
static size_t			 nactive;
static struct event		 ev_run;

static void	filter_scan(struct ipc_msg *);
static void	filter_learn(struct ipc_msg *);
static struct fjob *filter_job_new(enum fjob_kind, uint64_t, int);
static void	filter_run(int, short, void *);
static void	filter_kick(void);
static void	filter_start(struct fjob *);
static void	filter_connected(int, short, void *);
static void	filter_write(int, short, void *);
static void	filter_read(int, short, void *);
static void	filter_timeout(int, short, void *);
static void	filter_answer(struct fjob *);
static void	filter_fail(struct fjob *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	filter_job_free(struct fjob *);
static int	filter_url(enum fjob_kind, struct http_url *);

void
filter_main(void)
{
	config_purge_keys(conf);
	proc_drop(MAILD_EMPTY);
	proc_setup_peers();
	if (pledge("stdio inet recvfd", NULL) == -1)
		fatal("pledge");
	evtimer_set(&ev_run, filter_run, NULL);
	event_dispatch();
}

/* Where a job goes: the normal worker, or the controller for learning. */
static int
filter_url(enum fjob_kind kind, struct http_url *u)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&u->ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&u->ss;
	char			 err[160];
	const char		*url;
	char			*colon;

	url = kind == FJ_SCAN || conf->rspamd_controller[0] == '\0' ?
	    conf->rspamd_url : conf->rspamd_controller;
	if (url[0] == '\0') {
		memset(u, 0, sizeof(*u));
		return -1;
	}
	if (http_url_parse(url, u, err, sizeof(err)) == -1) {
		log_warnx("filter: %s", err);	/* checked at load */
		return -1;
	}
	if (kind == FJ_SCAN || conf->rspamd_controller[0] != '\0')
		return 0;
	/* The controller beside the worker: the same host, its port. */
	if (u->ss.ss_family == AF_INET6)
		sin6->sin6_port = htons(RSPAMD_CONTROLLER_PORT);
	else
		sin->sin_port = htons(RSPAMD_CONTROLLER_PORT);
	if ((colon = strrchr(u->host, ':')) != NULL)
		(void)snprintf(colon, sizeof(u->host) - (size_t)(colon -
		    u->host), ":%d", RSPAMD_CONTROLLER_PORT);
	return 0;
}

static struct fjob *
filter_job_new(enum fjob_kind kind, uint64_t id, int fd)
{
	struct fjob	*j;
	struct stat	 sb;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		fatal("calloc");
	j->kind = kind;
	j->id = id;
	j->fd = fd;
	j->sock = -1;
	if (fstat(fd, &sb) == -1)
		fatal("filter: fstat");
	j->size = sb.st_size;
	return j;
}

/* IMSG_F_SCAN: a message being received, and its client. */
static void
filter_scan(struct ipc_msg *m)
{
	struct rspamd_req	 r;
	struct fjob		*j;
	const char		*rcpts[FILTER_RCPT_MAX];
	char			 from[ADDR_MAX + 1], qid[16];
	struct mailaddr		 sender, rcpt;
	uint64_t		 reqid;
	uint32_t		 n, i, msgid;
	int			 len;
	static char		 rcptbuf[FILTER_RCPT_MAX][ADDR_MAX + 1];

	memset(&r, 0, sizeof(r));
	reqid = ipc_get_u64(m);
	msgid = (uint32_t)reqid;
	r.ip = ipc_get_strp(m);
	if (strncmp(r.ip, "IPv6:", 5) == 0)
		r.ip += 5;	/* as the Received header has it */
	r.helo = ipc_get_strp(m);
	r.hostname = ipc_get_strp(m);
	ipc_get_addr(m, &sender);
	r.user = ipc_get_strp(m);
	r.tls_version = ipc_get_strp(m);
	r.tls_cipher = ipc_get_strp(m);
	n = ipc_get_u32(m);
	for (i = 0; i < n; i++) {
		ipc_get_addr(m, &rcpt);
		if (i < FILTER_RCPT_MAX && addr_to_text(&rcpt, rcptbuf[i],
		    sizeof(rcptbuf[i])) != -1)
			rcpts[r.nrcpts++] = rcptbuf[i];
	}
	ipc_end(m);
	j = filter_job_new(FJ_SCAN, reqid, ipc_get_fd(m));
	if (addr_to_text(&sender, from, sizeof(from)) == -1)
		from[0] = '\0';
	r.from = from;
	r.rcpts = rcpts;
	r.content_length = (size_t)j->size;
	r.mta_name = conf->hostname;
	r.path = "/checkv2";
	if (filter_url(FJ_SCAN, &j->url) == -1) {
		filter_fail(j, "no rspamd url");
		return;
	}
	r.host = j->url.host;
	(void)snprintf(qid, sizeof(qid), "%08x", msgid);
	r.queue_id = qid;
	if ((len = rspamd_request(j->head, sizeof(j->head), &r)) == -1) {
		filter_fail(j, "cannot write the request (odd client data)");
		return;
	}
	j->headlen = (size_t)len;
	TAILQ_INSERT_TAIL(&waiting, j, entry);
	filter_kick();
}

/* IMSG_F_LEARN: a message a user moved into (spam) or out of Junk. */
static void
filter_learn(struct ipc_msg *m)
{
	struct rspamd_req	 r;
	struct fjob		*j;
	uint64_t		 evpid;
	uint32_t		 spam;
	int			 len;

	evpid = ipc_get_u64(m);
	spam = ipc_get_u32(m);
	ipc_end(m);
	j = filter_job_new(spam ? FJ_LEARN_SPAM : FJ_LEARN_HAM, evpid,
	    ipc_get_fd(m));
	if (filter_url(j->kind, &j->url) == -1) {
		filter_fail(j, "no rspamd url");
		return;
	}
	memset(&r, 0, sizeof(r));
	r.host = j->url.host;
	r.path = spam ? "/learnspam" : "/learnham";
	r.password = conf->rspamd_password[0] != '\0' ?
	    conf->rspamd_password : NULL;
	r.content_length = (size_t)j->size;
	r.mta_name = conf->hostname;
	if ((len = rspamd_request(j->head, sizeof(j->head), &r)) == -1) {
		filter_fail(j, "cannot write the request");
		return;
	}
	j->headlen = (size_t)len;
	TAILQ_INSERT_TAIL(&waiting, j, entry);
	filter_kick();
}

/* Start waiting jobs from the event loop, never from a job's end. */
static void
filter_kick(void)
{
	struct timeval	 tv = { 0, 0 };

	if (!evtimer_pending(&ev_run, NULL))
		evtimer_add(&ev_run, &tv);
}

static void
filter_run(int fd, short ev, void *arg)
{
	struct fjob	*j;

	(void)fd;
	(void)ev;
	(void)arg;
	while (nactive < MAX_ACTIVE && (j = TAILQ_FIRST(&waiting)) != NULL) {
		TAILQ_REMOVE(&waiting, j, entry);
		TAILQ_INSERT_TAIL(&active, j, entry);
		j->active = 1;
		nactive++;
		filter_start(j);
	}
}

static void
filter_start(struct fjob *j)
{
	struct http_url	*u = &j->url;
	struct timeval	 tv = { conf->rspamd_timeout, 0 };
	int		 flags;

	evtimer_set(&j->ev_timeout, filter_timeout, j);
	evtimer_add(&j->ev_timeout, &tv);
	rspamd_http_init(&j->resp);
	j->respinit = 1;
	if ((j->sock = socket(u->ss.ss_family, SOCK_STREAM, 0)) == -1) {
		filter_fail(j, "socket: %s", strerror(errno));
		return;
	}
	if ((flags = fcntl(j->sock, F_GETFL)) == -1 ||
	    fcntl(j->sock, F_SETFL, flags | O_NONBLOCK) == -1)
		fatal("filter: fcntl");
	if (connect(j->sock, (struct sockaddr *)&u->ss, u->sslen) == -1 &&
	    errno != EINPROGRESS) {
		filter_fail(j, "connect %s: %s", u->host, strerror(errno));
		return;
	}
	event_set(&j->ev, j->sock, EV_WRITE, filter_connected, j);
	event_add(&j->ev, NULL);
	j->evset = 1;
}

static void
filter_connected(int fd, short ev, void *arg)
{
	struct fjob	*j = arg;
	socklen_t	 len = sizeof(int);
	int		 err = 0;

	(void)ev;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		filter_fail(j, "connect: %s", strerror(err));
		return;
	}
	event_set(&j->ev, j->sock, EV_WRITE | EV_PERSIST, filter_write, j);
	event_add(&j->ev, NULL);
	filter_write(fd, EV_WRITE, j);
}

/* The head, then the message straight from its file, a chunk at once. */
static void
filter_write(int fd, short ev, void *arg)
{
	struct fjob	*j = arg;
	ssize_t		 n;

	(void)ev;
	for (;;) {
		if (j->sent < j->headlen) {
			n = send(fd, j->head + j->sent, j->headlen - j->sent,
			    MSG_NOSIGNAL);
			if (n == -1)
				goto err;
			j->sent += (size_t)n;
			continue;
		}
		if (j->chunkoff == j->chunklen) {
			if (j->bodyoff >= j->size)
				break;
			n = pread(j->fd, j->chunk, sizeof(j->chunk),
			    j->bodyoff);
			if (n <= 0) {
				filter_fail(j, "read the message: %s", n == 0 ?
				    "shorter than it was" : strerror(errno));
				return;
			}
			if (n > j->size - j->bodyoff)
				n = (ssize_t)(j->size - j->bodyoff);
			j->bodyoff += n;
			j->chunklen = (size_t)n;
			j->chunkoff = 0;
		}
		n = send(fd, j->chunk + j->chunkoff, j->chunklen - j->chunkoff,
		    MSG_NOSIGNAL);
		if (n == -1)
			goto err;
		j->chunkoff += (size_t)n;
	}
	/* All sent: now the answer. */
	event_del(&j->ev);
	event_set(&j->ev, j->sock, EV_READ | EV_PERSIST, filter_read, j);
	event_add(&j->ev, NULL);
	return;
 err:
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return;
	filter_fail(j, "send: %s", strerror(errno));
}

static void
filter_read(int fd, short ev, void *arg)
{
	struct fjob	*j = arg;
	char		 buf[16384];
	ssize_t		 n;
	int		 r;

	(void)ev;
	if ((n = recv(fd, buf, sizeof(buf), 0)) == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		filter_fail(j, "recv: %s", strerror(errno));
		return;
	}
	r = n == 0 ? rspamd_http_eof(&j->resp) :
	    rspamd_http_feed(&j->resp, buf, (size_t)n);
	if (r == RSPAMD_HTTP_MORE && n == 0)
		r = RSPAMD_HTTP_ERROR;
	if (r == RSPAMD_HTTP_ERROR) {
		filter_fail(j, "bad answer: %s", j->resp.error);
		return;
	}
	if (r == RSPAMD_HTTP_DONE)
		filter_answer(j);
}

static void
filter_timeout(int fd, short ev, void *arg)
{
	struct fjob	*j = arg;

	(void)fd;
	(void)ev;
	filter_fail(j, "no answer in %d seconds", conf->rspamd_timeout);
}

/* rspamd answered: its verdict to the queue. */
static void
filter_answer(struct fjob *j)
{
	struct rspamd_result	*res;
	struct ipc_buf		 b;
	const char		*body;
	char			 err[256], num[32], syms[FILTER_SYMBOLS_MAX];
	size_t			 len, i;
	int			 status, r;

	status = j->resp.status;
	body = j->resp.body != NULL ? j->resp.body : "";
	len = j->resp.bodylen;
	if (j->kind != FJ_SCAN) {
		r = rspamd_parse_learn(status, body, len, err, sizeof(err));
		ipc_buf_init(&b);
		ipc_add_u64(&b, j->id);
		if (r == 0 || r == 1) {
			ipc_add_u32(&b, RELAY_OK);
			ipc_add_str(&b, r == 1 ? "already learned" : "learned");
		} else {
			ipc_add_u32(&b, r == -1 ? RELAY_PERMFAIL :
			    RELAY_TEMPFAIL);
			ipc_add_str(&b, err);
		}
		proc_send_buf(PROC_QUEUE, IMSG_F_LEARN_RES, -1, &b);
		filter_job_free(j);
		return;
	}
	if (status != 200) {
		filter_fail(j, "HTTP status %d %s", status, j->resp.reason);
		return;
	}
	if ((res = calloc(1, sizeof(*res))) == NULL)
		fatal("calloc");
	if (rspamd_parse_check(body, len, res, err, sizeof(err)) == -1) {
		free(res);
		filter_fail(j, "bad answer: %s", err);
		return;
	}
	ipc_buf_init(&b);
	ipc_add_u64(&b, j->id);
	ipc_add_u32(&b, FILTER_OK);
	ipc_add_str(&b, "");
	/* Its own "do not act" (a monitored rule): recorded only. */
	ipc_add_u32(&b, res->no_action ? RSPAMD_NO_ACTION :
	    (uint32_t)res->action);
	(void)snprintf(num, sizeof(num), "%.2f", res->score);
	ipc_add_str(&b, num);
	(void)snprintf(num, sizeof(num), "%.2f", res->required_score);
	ipc_add_str(&b, num);
	ipc_add_str(&b, res->smtp_message != NULL ? res->smtp_message : "");
	ipc_add_str(&b, res->subject != NULL ? res->subject : "");
	(void)rspamd_symbols_str(res, syms, sizeof(syms));
	ipc_add_str(&b, syms);
	/* Its signatures first: on top, as its milter puts them. */
	ipc_add_u32(&b, (uint32_t)(res->ndkim + res->nadd));
	for (i = 0; i < res->ndkim; i++) {
		ipc_add_str(&b, "DKIM-Signature");
		ipc_add_str(&b, res->dkim[i]);
	}
	for (i = 0; i < res->nadd; i++) {
		ipc_add_str(&b, res->add[i].name);
		ipc_add_str(&b, res->add[i].value);
	}
	ipc_add_u32(&b, (uint32_t)res->nremove);
	for (i = 0; i < res->nremove; i++) {
		ipc_add_u32(&b, (uint32_t)res->remove[i].index);
		ipc_add_str(&b, res->remove[i].name);
	}
	proc_send_buf(PROC_QUEUE, IMSG_F_SCAN_RES, -1, &b);
	rspamd_result_free(res);
	free(res);
	filter_job_free(j);
}

/* rspamd could not be asked: the queue decides what that means. */
static void
filter_fail(struct fjob *j, const char *fmt, ...)
{
	struct ipc_buf	 b;
	char		 why[256];
	va_list		 ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	ipc_buf_init(&b);
	ipc_add_u64(&b, j->id);
	if (j->kind == FJ_SCAN) {
		ipc_add_u32(&b, FILTER_ERROR);
		ipc_add_str(&b, why);
		ipc_add_u32(&b, 0);
		ipc_add_str(&b, "");
		ipc_add_str(&b, "");
		ipc_add_str(&b, "");
		ipc_add_str(&b, "");
		ipc_add_str(&b, "");
		ipc_add_u32(&b, 0);
		ipc_add_u32(&b, 0);
		proc_send_buf(PROC_QUEUE, IMSG_F_SCAN_RES, -1, &b);
	} else {
		ipc_add_u32(&b, RELAY_TEMPFAIL);
		ipc_add_str(&b, why);
		proc_send_buf(PROC_QUEUE, IMSG_F_LEARN_RES, -1, &b);
	}
	filter_job_free(j);
}

static void
filter_job_free(struct fjob *j)
{
	if (j->active) {
		evtimer_del(&j->ev_timeout);
		TAILQ_REMOVE(&active, j, entry);
		nactive--;
		filter_kick();
	}
	if (j->evset)
		event_del(&j->ev);
	if (j->sock != -1)
		close(j->sock);
	if (j->respinit)
		rspamd_http_free(&j->resp);
	close(j->fd);
	free(j);
}

const struct proc_handler filter_handlers[] = {
	{ IMSG_CONF_RELOAD,	proc_conf_stage },
	{ IMSG_CONF_END,	proc_conf_end },
	{ IMSG_F_SCAN,		filter_scan },
	{ IMSG_F_LEARN,		filter_learn },
	{ IMSG_NONE,		NULL }
};
