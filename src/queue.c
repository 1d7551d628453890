/*
 * The queue process: the durable spool.  It creates the spool file that
 * an smtp session writes into, collects the destinations that lookup
 * submits for it, commits messages in groups (one directory fsync for
 * every message committed in the same event-loop pass) before the smtp
 * session may answer 250, and schedules deliveries with retries.
 */
#include <sys/types.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

#define MAX_INFLIGHT	64
#define MAX_BATCH	256
#define MAX_DEST_MSG	(1000 * MAX_EXPAND_DEST)	/* per message */

struct qdest {
	TAILQ_ENTRY(qdest)	 entry;
	struct mailaddr		 rcpt;
	struct dest		 dest;
};

/* A message being received. */
struct qmsg {
	TAILQ_ENTRY(qmsg)	 entry;
	uint32_t		 msgid;
	int			 fd;
	uint64_t		 reqid;
	TAILQ_HEAD(, qdest)	 dests;
	size_t			 ndest;
	int			 committing;	/* Q_COMMIT received */
	int			 overflow;	/* too many destinations */
	uint32_t		 expected;	/* dests announced by smtp */
	struct envelope		 tmpl;
};

struct qenv {
	TAILQ_ENTRY(qenv)	 entry;
	struct envelope		 evp;
	int			 inflight;
};

TAILQ_HEAD(qenvlist, qenv);

static int	queue_space_ok(void);
static void	queue_create(struct ipc_msg *);
static void	queue_dest(struct ipc_msg *);
static void	queue_commit(struct ipc_msg *);
static void	queue_rollback(struct ipc_msg *);
static void	queue_result(struct ipc_msg *);
static void	queue_ready(struct qmsg *);
static void	queue_commit_run(int, short, void *);
static void	queue_schedule(void);
static void	queue_timer(int, short, void *);
static void	queue_load(struct envelope *, void *);
static struct qmsg *queue_msg_find(uint32_t);
static void	queue_msg_free(struct qmsg *);
static void	queue_show(struct ipc_msg *);

static TAILQ_HEAD(, qmsg)	 incoming = TAILQ_HEAD_INITIALIZER(incoming);
static TAILQ_HEAD(, qmsg)	 batch = TAILQ_HEAD_INITIALIZER(batch);
static struct qenvlist		 ready = TAILQ_HEAD_INITIALIZER(ready);
static struct qenvlist		 waiting = TAILQ_HEAD_INITIALIZER(waiting);
static struct qenvlist		 inflight = TAILQ_HEAD_INITIALIZER(inflight);
static size_t			 ninflight;
static struct event		 ev_commit, ev_timer;

void
queue_main(void)
{
	config_purge_keys(conf);
	proc_drop(conf->spool);
	if (spool_init() == -1)
		fatalx("queue: cannot initialise the spool %s", conf->spool);
	proc_setup_peers();
	if (pledge("stdio rpath wpath cpath fattr sendfd recvfd", NULL) ==
	    -1)
		fatal("pledge");
	evtimer_set(&ev_commit, queue_commit_run, NULL);
	evtimer_set(&ev_timer, queue_timer, NULL);
	if (spool_walk(queue_load, NULL) == -1)
		fatalx("queue: cannot read the spool");
	queue_schedule();
	event_dispatch();
}

static void
queue_load(struct envelope *e, void *arg)
{
	struct qenv	*q;

	(void)arg;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		fatal("calloc");
	q->evp = *e;
	q->evp.nexttry = 0;
	TAILQ_INSERT_TAIL(&ready, q, entry);
	log_debug("queue: loaded envelope %016llx",
	    (unsigned long long)e->id);
}

static struct qmsg *
queue_msg_find(uint32_t msgid)
{
	struct qmsg	*m;

	TAILQ_FOREACH(m, &incoming, entry)
		if (m->msgid == msgid)
			return m;
	return NULL;
}

static void
queue_msg_free(struct qmsg *m)
{
	struct qdest	*d;

	while ((d = TAILQ_FIRST(&m->dests)) != NULL) {
		TAILQ_REMOVE(&m->dests, d, entry);
		free(d);
	}
	if (m->fd != -1)
		close(m->fd);
	free(m);
}

/*
 * Refuse new mail before the spool fills up, as Postfix does: room for
 * one and a half messages of the largest size, and some inodes.
 */
static int
queue_space_ok(void)
{
	static time_t	 warned;
	struct statvfs	 sv;
	unsigned long long avail;

	if (statvfs(".", &sv) == -1) {
		log_warn("queue: statvfs");
		return 1;	/* unknown: the writes will tell */
	}
	avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
	if (avail >= conf->max_msg_size + conf->max_msg_size / 2 &&
	    (sv.f_files == 0 || sv.f_favail >= 100))
		return 1;
	if (time(NULL) - warned >= 60) {
		log_warnx("queue: spool file system nearly full (%llu bytes "
		    "free), refusing new mail", avail);
		warned = time(NULL);
	}
	return 0;
}

static void
queue_create(struct ipc_msg *im)
{
	struct qmsg	*m;
	struct ipc_buf	 b;
	uint64_t	 reqid;
	uint32_t	 msgid;
	int		 fd, fd2;

	reqid = ipc_get_u64(im);
	ipc_end(im);
	ipc_buf_init(&b);
	ipc_add_u64(&b, reqid);
	if (!queue_space_ok()) {
		ipc_add_u32(&b, Q_FAIL_NOSPACE);
		proc_send_buf(PROC_SMTP, IMSG_Q_CREATE_FAIL, -1, &b);
		return;
	}
	if ((fd = spool_msg_create(&msgid)) == -1) {
		log_warn("queue: cannot create a message");
		ipc_add_u32(&b, Q_FAIL_TEMP);
		proc_send_buf(PROC_SMTP, IMSG_Q_CREATE_FAIL, -1, &b);
		return;
	}
	if ((fd2 = dup(fd)) == -1) {
		log_warn("queue: dup");
		close(fd);
		spool_msg_abort(msgid);
		ipc_add_u32(&b, Q_FAIL_TEMP);
		proc_send_buf(PROC_SMTP, IMSG_Q_CREATE_FAIL, -1, &b);
		return;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL)
		fatal("calloc");
	m->msgid = msgid;
	m->fd = fd;
	m->reqid = reqid;
	TAILQ_INIT(&m->dests);
	TAILQ_INSERT_TAIL(&incoming, m, entry);
	ipc_add_u32(&b, msgid);
	proc_send_buf(PROC_SMTP, IMSG_Q_CREATE_OK, fd2, &b);
}

static void
queue_dest(struct ipc_msg *im)
{
	struct qmsg	*m;
	struct qdest	*d;
	uint32_t	 msgid;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		fatal("calloc");
	msgid = ipc_get_u32(im);
	ipc_get(im, &d->rcpt, sizeof(d->rcpt));
	ipc_get(im, &d->dest, sizeof(d->dest));
	ipc_end(im);
	d->rcpt.user[sizeof(d->rcpt.user) - 1] = '\0';
	d->rcpt.domain[sizeof(d->rcpt.domain) - 1] = '\0';
	d->dest.addr.user[sizeof(d->dest.addr.user) - 1] = '\0';
	d->dest.addr.domain[sizeof(d->dest.addr.domain) - 1] = '\0';
	d->dest.path[sizeof(d->dest.path) - 1] = '\0';
	/* The session may be gone already (rollback raced the lookup). */
	if ((m = queue_msg_find(msgid)) == NULL) {
		free(d);
		return;
	}
	if (m->ndest >= MAX_DEST_MSG) {
		/* Counted, not kept: the commit will fail, not hang. */
		m->overflow = 1;
		free(d);
	} else
		TAILQ_INSERT_TAIL(&m->dests, d, entry);
	m->ndest++;
	if (m->committing)
		queue_ready(m);
}

static void
queue_commit(struct ipc_msg *im)
{
	struct qmsg	*m;
	struct ipc_buf	 b;
	uint64_t	 reqid;
	uint32_t	 msgid, expected;
	struct envelope	 tmpl;

	reqid = ipc_get_u64(im);
	msgid = ipc_get_u32(im);
	expected = ipc_get_u32(im);
	ipc_get(im, &tmpl, sizeof(tmpl));
	ipc_end(im);
	if ((m = queue_msg_find(msgid)) == NULL || m->reqid != reqid ||
	    m->committing) {
		ipc_buf_init(&b);
		ipc_add_u64(&b, reqid);
		ipc_add_u32(&b, msgid);
		proc_send_buf(PROC_SMTP, IMSG_Q_COMMIT_FAIL, -1, &b);
		return;
	}
	if (m->overflow) {
		log_warnx("queue: message %08x: too many destinations",
		    m->msgid);
		TAILQ_REMOVE(&incoming, m, entry);
		queue_msg_free(m);
		spool_msg_abort(msgid);
		ipc_buf_init(&b);
		ipc_add_u64(&b, reqid);
		ipc_add_u32(&b, msgid);
		proc_send_buf(PROC_SMTP, IMSG_Q_COMMIT_FAIL, -1, &b);
		return;
	}
	m->committing = 1;
	m->expected = expected;
	m->tmpl = tmpl;
	m->tmpl.helo[sizeof(m->tmpl.helo) - 1] = '\0';
	m->tmpl.src[sizeof(m->tmpl.src) - 1] = '\0';
	m->tmpl.sender.user[sizeof(m->tmpl.sender.user) - 1] = '\0';
	m->tmpl.sender.domain[sizeof(m->tmpl.sender.domain) - 1] = '\0';
	queue_ready(m);
}

/*
 * Lookup sends destinations before it answers smtp, but the two arrive
 * on different channels: commit only when all announced ones are here.
 */
static void
queue_ready(struct qmsg *m)
{
	struct timeval	 tv = { 0, 0 };

	if (m->ndest < m->expected) {
		log_debug("queue: message %08x: %zu of %u destinations",
		    m->msgid, m->ndest, m->expected);
		return;
	}
	TAILQ_REMOVE(&incoming, m, entry);
	TAILQ_INSERT_TAIL(&batch, m, entry);
	if (!evtimer_pending(&ev_commit, NULL))
		evtimer_add(&ev_commit, &tv);
}

static void
queue_commit_run(int fd, short ev, void *arg)
{
	struct qmsg	*m, *ms[MAX_BATCH];
	struct qdest	*d;
	struct qenv	*q;
	struct envelope	*evps[MAX_BATCH];
	struct ipc_buf	 b;
	uint32_t	 msgids[MAX_BATCH], r;
	int		 fds[MAX_BATCH], status[MAX_BATCH];
	size_t		 nevp[MAX_BATCH], n = 0, i, j;
	time_t		 now = time(NULL);
	struct timeval	 tv = { 0, 0 };

	(void)fd;
	(void)ev;
	(void)arg;
	while (n < MAX_BATCH && (m = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, m, entry);
		ms[n] = m;
		msgids[n] = m->msgid;
		fds[n] = m->fd;
		nevp[n] = m->ndest;
		if ((evps[n] = calloc(m->ndest ? m->ndest : 1,
		    sizeof(struct envelope))) == NULL)
			fatal("calloc");
		j = 0;
		TAILQ_FOREACH(d, &m->dests, entry) {
			struct envelope *e = &evps[n][j];

			/* Two RCPTs may expand to one mailbox: one copy. */
			for (i = 0; i < j; i++)
				if (evps[n][i].dest.type == d->dest.type &&
				    strcmp(evps[n][i].dest.path,
				    d->dest.path) == 0 &&
				    strcasecmp(evps[n][i].dest.addr.user,
				    d->dest.addr.user) == 0 &&
				    strcmp(evps[n][i].dest.addr.domain,
				    d->dest.addr.domain) == 0)
					break;
			if (i < j)
				continue;

			*e = m->tmpl;
			do {
				compat_random(&r, sizeof(r));
				e->id = ((uint64_t)m->msgid << 32) | r;
				for (i = 0; i < j; i++)
					if (evps[n][i].id == e->id)
						break;
			} while (r == 0 || i < j);
			e->created = now;
			e->lasttry = 0;
			e->retries = 0;
			e->rcpt = d->rcpt;
			e->dest = d->dest;
			e->errmsg[0] = '\0';
			j++;
		}
		nevp[n] = j;
		n++;
	}
	if (!TAILQ_EMPTY(&batch))
		evtimer_add(&ev_commit, &tv);
	if (n == 0)
		return;
	(void)spool_commit_status(n, msgids, fds, evps, nevp, status);
	for (i = 0; i < n; i++) {
		m = ms[i];
		ipc_buf_init(&b);
		ipc_add_u64(&b, m->reqid);
		ipc_add_u32(&b, m->msgid);
		if (status[i] == 0) {
			for (j = 0; j < nevp[i]; j++) {
				if ((q = calloc(1, sizeof(*q))) == NULL)
					fatal("calloc");
				q->evp = evps[i][j];
				TAILQ_INSERT_TAIL(&ready, q, entry);
			}
			proc_send_buf(PROC_SMTP, IMSG_Q_COMMIT_OK, -1, &b);
		} else {
			log_warnx("queue: commit of message %08x failed",
			    m->msgid);
			spool_msg_abort(m->msgid);
			proc_send_buf(PROC_SMTP, IMSG_Q_COMMIT_FAIL, -1, &b);
		}
		free(evps[i]);
		queue_msg_free(m);
	}
	queue_schedule();
}

static void
queue_rollback(struct ipc_msg *im)
{
	struct qmsg	*m;
	uint32_t	 msgid;

	msgid = ipc_get_u32(im);
	ipc_end(im);
	if ((m = queue_msg_find(msgid)) == NULL)
		return;		/* already committed or never created */
	TAILQ_REMOVE(&incoming, m, entry);
	queue_msg_free(m);
	spool_msg_abort(msgid);
}

static void
queue_deliver(struct qenv *q)
{
	struct ipc_buf	 b;
	int		 fd;

	if ((fd = spool_msg_open(evpid_msgid(q->evp.id))) == -1) {
		log_warn("queue: envelope %016llx: cannot open message",
		    (unsigned long long)q->evp.id);
		if (time(NULL) - q->evp.created > conf->queue_ttl) {
			log_warnx("queue: envelope %016llx expired",
			    (unsigned long long)q->evp.id);
			(void)spool_env_remove(q->evp.id);
			free(q);
			return;
		}
		q->evp.nexttry = time(NULL) + conf->retry_local;
		TAILQ_INSERT_TAIL(&waiting, q, entry);
		return;
	}
	ipc_buf_init(&b);
	ipc_add_u64(&b, q->evp.id);
	ipc_add(&b, &q->evp.sender, sizeof(q->evp.sender));
	ipc_add(&b, &q->evp.rcpt, sizeof(q->evp.rcpt));
	ipc_add(&b, &q->evp.dest, sizeof(q->evp.dest));
	proc_send_buf(PROC_DELIVER, IMSG_D_DELIVER, fd, &b);
	q->inflight = 1;
	TAILQ_INSERT_TAIL(&inflight, q, entry);
	ninflight++;
}

static void
queue_schedule(void)
{
	struct qenv	*q;
	struct timeval	 tv;
	time_t		 now = time(NULL), next = 0;

	while (ninflight < MAX_INFLIGHT && (q = TAILQ_FIRST(&ready)) !=
	    NULL) {
		TAILQ_REMOVE(&ready, q, entry);
		if (q->evp.dest.type != DEST_MAILDIR) {
			/* Outbound relay arrives with the relay process. */
			strlcpy(q->evp.errmsg, "no relay process to deliver "
			    "to remote domains", sizeof(q->evp.errmsg));
			q->evp.nexttry = now + conf->retry_max;
			TAILQ_INSERT_TAIL(&waiting, q, entry);
			continue;
		}
		queue_deliver(q);
	}
	/* The timer always points at the earliest retry. */
	TAILQ_FOREACH(q, &waiting, entry)
		if (next == 0 || q->evp.nexttry < next)
			next = q->evp.nexttry;
	evtimer_del(&ev_timer);
	if (next != 0) {
		tv.tv_sec = next > now ? next - now : 0;
		tv.tv_usec = 0;
		evtimer_add(&ev_timer, &tv);
	}
}

static void
queue_timer(int fd, short ev, void *arg)
{
	struct qenv	*q, *tq;
	time_t		 now = time(NULL);

	(void)fd;
	(void)ev;
	(void)arg;
	TAILQ_FOREACH_SAFE(q, &waiting, entry, tq) {
		if (q->evp.nexttry > now)
			continue;
		TAILQ_REMOVE(&waiting, q, entry);
		TAILQ_INSERT_TAIL(&ready, q, entry);
	}
	queue_schedule();
}

static void
queue_result(struct ipc_msg *im)
{
	struct qenv	*q;
	char		 err[ERRMSG_MAX];
	uint64_t	 evpid;
	uint32_t	 status;
	time_t		 now = time(NULL), delay;
	int		 i;

	evpid = ipc_get_u64(im);
	status = ipc_get_u32(im);
	ipc_get_str(im, err, sizeof(err));
	ipc_end(im);
	TAILQ_FOREACH(q, &inflight, entry)
		if (q->evp.id == evpid)
			break;
	if (q == NULL)
		fatalx("queue: result for unknown envelope %016llx",
		    (unsigned long long)evpid);
	TAILQ_REMOVE(&inflight, q, entry);
	ninflight--;
	q->inflight = 0;
	if (status == 0) {
		if (spool_env_remove(evpid) == -1)
			log_warn("queue: remove envelope %016llx",
			    (unsigned long long)evpid);
		free(q);
	} else if (status == 2 || now - q->evp.created > conf->queue_ttl) {
		/* Bounces (RFC 3464) come with the relay process. */
		log_warnx("queue: envelope %016llx to %s@%s: giving up: %s",
		    (unsigned long long)evpid, q->evp.dest.addr.user,
		    q->evp.dest.addr.domain, err);
		(void)spool_env_remove(evpid);
		free(q);
	} else {
		q->evp.retries++;
		q->evp.lasttry = now;
		strlcpy(q->evp.errmsg, err, sizeof(q->evp.errmsg));
		delay = conf->retry_local;
		for (i = 1; i < q->evp.retries && delay < conf->retry_max;
		    i++)
			delay *= 2;
		if (delay > conf->retry_max)
			delay = conf->retry_max;
		q->evp.nexttry = now + delay;
		if (spool_env_update(&q->evp) == -1)
			log_warn("queue: update envelope %016llx",
			    (unsigned long long)evpid);
		log_info("queue: envelope %016llx: temporary failure, retry "
		    "in %llds: %s", (unsigned long long)evpid,
		    (long long)delay, err);
		TAILQ_INSERT_TAIL(&waiting, q, entry);
	}
	queue_schedule();
}

/* mailctl show queue: one line per envelope, then an empty line. */
static void
queue_show(struct ipc_msg *im)
{
	struct qenvlist	*lists[] = { &inflight, &ready, &waiting };
	const char	*names[] = { "delivering", "ready", "waiting" };
	struct qenv	*q;
	struct ipc_buf	 b;
	char		 line[2048];
	uint64_t	 reqid;
	size_t		 i;

	reqid = ipc_get_u64(im);
	ipc_end(im);
	for (i = 0; i < nitems(lists); i++)
		TAILQ_FOREACH(q, lists[i], entry) {
			snprintf(line, sizeof(line), "%016llx %s %s@%s -> "
			    "%s@%s retries=%d %s",
			    (unsigned long long)q->evp.id, names[i],
			    q->evp.sender.user, q->evp.sender.domain,
			    q->evp.dest.addr.user, q->evp.dest.addr.domain,
			    q->evp.retries, q->evp.errmsg);
			ipc_buf_init(&b);
			ipc_add_u64(&b, reqid);
			ipc_add_str(&b, line);
			proc_send_buf(PROC_CONTROL, IMSG_CTL_SHOW_QUEUE_RES,
			    -1, &b);
		}
	ipc_buf_init(&b);
	ipc_add_u64(&b, reqid);
	ipc_add_str(&b, "");
	proc_send_buf(PROC_CONTROL, IMSG_CTL_SHOW_QUEUE_RES, -1, &b);
}

void
queue_dispatch(struct ipc *ipc, struct ipc_msg *m)
{
	(void)ipc;
	switch (m->type) {
	case IMSG_CONF_RELOAD:
		proc_conf_stage(m);
		break;
	case IMSG_CONF_END:
		(void)proc_conf_commit(m);
		break;
	case IMSG_Q_CREATE:
		queue_create(m);
		break;
	case IMSG_Q_DEST:
		queue_dest(m);
		break;
	case IMSG_Q_COMMIT:
		queue_commit(m);
		break;
	case IMSG_Q_ROLLBACK:
		queue_rollback(m);
		break;
	case IMSG_D_RESULT:
		queue_result(m);
		break;
	case IMSG_CTL_SHOW_QUEUE:
		queue_show(m);
		break;
	default:
		fatalx("queue: unexpected message %u from %s", m->type,
		    m->peer);
	}
}
