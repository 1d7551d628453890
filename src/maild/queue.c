/*
 * The queue process: the durable spool.  It creates the spool file that
 * an smtp session writes into, collects the destinations that lookup
 * submits for it, commits messages in groups (one directory fsync for
 * every message committed in the same event-loop pass) before the smtp
 * session may answer 250, and schedules deliveries with retries: local
 * ones to the deliver process, remote ones to the relay process.  When
 * a delivery fails for good, or too late, it writes a bounce (RFC 3464)
 * to the sender as a new message, expanded by lookup like any other
 * (its request waits in a wait table, reqwait.h: an answer that asks
 * nothing of ours is logged and dropped).
 *
 * No event walks every envelope: the messages being received are a tree
 * by message id, the envelopes in flight a tree by envelope id (the
 * answers and the bounces ask for them), the waiting ones a tree by
 * next retry, whose first entry sets the timer, and the failed ones a
 * tree by message, so that a bounce takes its message's envelopes
 * together.  Every envelope is also on the list of its state, in
 * arrival order, for mailctl.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "ctl.h"
#include "dmarc_report.h"
#include "dsn.h"
#include "envelope.h"
#include "expand.h"
#include "mailbox.h"
#include "maildir.h"
#include "msgauth.h"
#include "proc.h"
#include "queue.h"
#include "reqwait.h"
#include "spool.h"

#define MAX_INFLIGHT	64
#define MAX_RELAY	256	/* jobs at the relay, each holding an fd */
#define MAX_LEARN	16	/* learning requests at the filter */
#define MAX_BATCH	256
#define MAX_DEST_MSG	(1000 * MAX_EXPAND_DEST)	/* per message */

struct qdest {
	TAILQ_ENTRY(qdest)	 entry;
	struct mailaddr		 rcpt;
	struct dest		 dest;
};

/* A message being received. */
struct qmsg {
	TAILQ_ENTRY(qmsg)	 entry;		/* on the commit batch */
	RB_ENTRY(qmsg)		 node;		/* incoming, by msgid */
	uint32_t		 msgid;
	int			 fd;
	uint64_t		 reqid;
	TAILQ_HEAD(, qdest)	 dests;
	size_t			 ndest;
	int			 committing;	/* Q_COMMIT received */
	int			 overflow;	/* too many destinations */
	uint32_t		 expected;	/* dests announced by smtp */
	struct envelope		 tmpl;
	char			 signdom[DOMAIN_MAX + 1];	/* DKIM */
	int			 bounce;	/* a DSN of ours, not smtp's */
	int			 checking;	/* queue_auth.c has it */
	int			 checked;	/* ... and gave its verdict */
	const char		*folder;	/* Junk, DMARC Reports, NULL */
	TAILQ_HEAD(, qenv)	 origs;		/* the envelopes it reports */
	int			 learn;		/* a learning job from imap */
	/* rspamd: asked, answered (fv NULL: accepted unscanned) */
	struct scan_client	 client;
	uint64_t		 scanid;	/* its answer's reqid */
	int			 scanning;
	int			 scanned;
	struct filter_verdict	*fv;
};

struct qenv {
	TAILQ_ENTRY(qenv)	 entry;		/* its state's list */
	RB_ENTRY(qenv)		 node;		/* the tree of its state */
	uint64_t		 seq;		/* arrival in its tree */
	struct envelope		 evp;
	int			 inflight;
	int			 relay;		/* inflight at the relay */
	int			 expired;	/* bouncing after queue ttl */
	int			 removing;	/* mailctl remove, once back */
	int			 attempted;	/* since start: deliver looks */
	int			 learn;		/* inflight at the filter */
	char			 rhost[HOST_NAME_MAX + 1];	/* last MX */
};

TAILQ_HEAD(qenvlist, qenv);
RB_HEAD(qmsg_tree, qmsg);
RB_HEAD(qenv_sched, qenv);
RB_HEAD(qenv_ids, qenv);
RB_HEAD(qenv_bounce, qenv);

static int	qmsg_cmp(const struct qmsg *, const struct qmsg *);
static int	qenv_sched_cmp(const struct qenv *, const struct qenv *);
static int	qenv_id_cmp(const struct qenv *, const struct qenv *);
static int	qenv_bounce_cmp(const struct qenv *, const struct qenv *);
RB_PROTOTYPE(qmsg_tree, qmsg, node, qmsg_cmp)
RB_PROTOTYPE(qenv_sched, qenv, node, qenv_sched_cmp)
RB_PROTOTYPE(qenv_ids, qenv, node, qenv_id_cmp)
RB_PROTOTYPE(qenv_bounce, qenv, node, qenv_bounce_cmp)

static int	queue_space_ok(void);
static void	queue_create(struct ipc_msg *);
static void	queue_dest(struct ipc_msg *);
static void	queue_commit(struct ipc_msg *);
static void	queue_rollback(struct ipc_msg *);
static void	queue_result(struct ipc_msg *);
static void	queue_ready(struct qmsg *);
static void	queue_checked(void *, const struct msgauth_verdict *);
static int	queue_scan(struct qmsg *);
static void	queue_scanned(struct ipc_msg *);
static void	queue_refuse(struct qmsg *, const char *);
static void	queue_learn(struct ipc_msg *);
static void	queue_folder(struct envelope *, const char *);
static void	queue_commit_run(int, short, void *);
static void	queue_schedule(void);
static void	queue_timer(int, short, void *);
static void	queue_load(struct envelope *, void *);
static struct qmsg *queue_msg_find(uint32_t);
static void	queue_msg_add(struct qmsg *);
static void	queue_wait(struct qenv *);
static void	queue_unwait(struct qenv *);
static void	queue_inflight_add(struct qenv *);
static struct qenv *queue_inflight_find(uint64_t);
static int	queue_inflight_msg(uint32_t);
static void	queue_bouncing_add(struct qenv *);
static void	queue_bouncing_remove(struct qenv *);
static void	queue_msg_free(struct qmsg *);
static struct qmsg *queue_msg_ours(uint32_t, int);
static void	queue_show(uint64_t);
static void	queue_ctl(struct ipc_msg *);
static void	queue_conf_dkim(struct ipc_msg *);
static void	queue_conf_end(struct ipc_msg *);
static void	queue_conf_psl(struct ipc_msg *);
static void	queue_make_ready(struct qenv *);
static time_t	queue_retry_delay(const struct qenv *);
static void	queue_drop(struct qenv *);
static void	queue_bounce_add(struct qenv *, int);
static void	queue_bounce_later(struct qenvlist *);
static void	queue_bounce_run(int, short, void *);
static void	queue_bounce_msg(struct qenvlist *);
static void	queue_bounce_rcpt(struct ipc_msg *);
static void	queue_bounce_committed(struct qmsg *, int);
static void	queue_dsn_status(const struct qenv *, char *, size_t);

static struct qmsg_tree		 incoming = RB_INITIALIZER(&incoming);
static TAILQ_HEAD(, qmsg)	 batch = TAILQ_HEAD_INITIALIZER(batch);
/* Ready envelopes, by the process that takes them (limits of their own). */
static struct qenvlist		 ready = TAILQ_HEAD_INITIALIZER(ready);
static struct qenvlist		 ready_relay =
    TAILQ_HEAD_INITIALIZER(ready_relay);
static struct qenvlist		 ready_learn =
    TAILQ_HEAD_INITIALIZER(ready_learn);
static struct qenvlist		 waiting = TAILQ_HEAD_INITIALIZER(waiting);
static struct qenv_sched	 schedule = RB_INITIALIZER(&schedule);
static uint64_t			 arrivals;	/* for qenv.seq */
static struct qenvlist		 inflight = TAILQ_HEAD_INITIALIZER(inflight);
static struct qenv_ids		 inflight_ids = RB_INITIALIZER(&inflight_ids);
static size_t			 ninflight;
static size_t			 nrelay;
static size_t			 nlearn;
static uint32_t			 scanseq;	/* scanids */
static struct event		 ev_commit, ev_timer;
/* Failed envelopes waiting for their bounce to be written. */
static struct qenvlist		 bouncing = TAILQ_HEAD_INITIALIZER(bouncing);
static struct qenv_bounce	 bounce_tree = RB_INITIALIZER(&bounce_tree);
static struct event		 ev_bounce;
static int			 relay_paused;	/* mailctl pause relay */

void
queue_main(void)
{
	queue_dkim_init(conf);
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
	evtimer_set(&ev_bounce, queue_bounce_run, NULL);
	queue_grey_init();
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
	/* A crash may have come between a delivery and its removal. */
	q->attempted = 1;
	queue_make_ready(q);
	log_debug("queue: loaded envelope %016llx",
	    (unsigned long long)e->id);
}

static int
qmsg_cmp(const struct qmsg *a, const struct qmsg *b)
{
	return a->msgid < b->msgid ? -1 : a->msgid > b->msgid;
}

/* Earliest retry first; at one time, the one that waited first. */
static int
qenv_sched_cmp(const struct qenv *a, const struct qenv *b)
{
	if (a->evp.nexttry != b->evp.nexttry)
		return a->evp.nexttry < b->evp.nexttry ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int
qenv_id_cmp(const struct qenv *a, const struct qenv *b)
{
	return a->evp.id < b->evp.id ? -1 : a->evp.id > b->evp.id;
}

/* A message's envelopes together, in the order they failed. */
static int
qenv_bounce_cmp(const struct qenv *a, const struct qenv *b)
{
	uint32_t	 ma = evpid_msgid(a->evp.id);
	uint32_t	 mb = evpid_msgid(b->evp.id);

	if (ma != mb)
		return ma < mb ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

RB_GENERATE(qmsg_tree, qmsg, node, qmsg_cmp)
RB_GENERATE(qenv_sched, qenv, node, qenv_sched_cmp)
RB_GENERATE(qenv_ids, qenv, node, qenv_id_cmp)
RB_GENERATE(qenv_bounce, qenv, node, qenv_bounce_cmp)

static struct qmsg *
queue_msg_find(uint32_t msgid)
{
	struct qmsg	 key;

	key.msgid = msgid;
	return RB_FIND(qmsg_tree, &incoming, &key);
}

/* The spool names every message file once: its id is free here. */
static void
queue_msg_add(struct qmsg *m)
{
	if (RB_INSERT(qmsg_tree, &incoming, m) != NULL)
		fatalx("queue: message %08x received twice", m->msgid);
}

/* Waits for evp.nexttry: on the list for mailctl, in the schedule. */
static void
queue_wait(struct qenv *q)
{
	q->seq = ++arrivals;
	TAILQ_INSERT_TAIL(&waiting, q, entry);
	RB_INSERT(qenv_sched, &schedule, q);
}

static void
queue_unwait(struct qenv *q)
{
	TAILQ_REMOVE(&waiting, q, entry);
	RB_REMOVE(qenv_sched, &schedule, q);
}

static void
queue_inflight_add(struct qenv *q)
{
	q->inflight = 1;
	if (RB_INSERT(qenv_ids, &inflight_ids, q) != NULL)
		fatalx("queue: envelope %016llx in flight twice",
		    (unsigned long long)q->evp.id);
	TAILQ_INSERT_TAIL(&inflight, q, entry);
}

static struct qenv *
queue_inflight_find(uint64_t evpid)
{
	struct qenv	 key;

	key.evp.id = evpid;
	return RB_FIND(qenv_ids, &inflight_ids, &key);
}

/* Failed, its bounce not written yet. */
static void
queue_bouncing_add(struct qenv *q)
{
	q->seq = ++arrivals;
	TAILQ_INSERT_TAIL(&bouncing, q, entry);
	RB_INSERT(qenv_bounce, &bounce_tree, q);
}

static void
queue_bouncing_remove(struct qenv *q)
{
	TAILQ_REMOVE(&bouncing, q, entry);
	RB_REMOVE(qenv_bounce, &bounce_tree, q);
}

/*
 * Is an envelope of message msgid in flight?  Envelope ids are the
 * message id, then 32 random bits that are never 0: the first id at or
 * after (msgid << 32) tells.
 */
static int
queue_inflight_msg(uint32_t msgid)
{
	struct qenv	 key, *q;

	key.evp.id = (uint64_t)msgid << 32;
	q = RB_NFIND(qenv_ids, &inflight_ids, &key);
	return q != NULL && evpid_msgid(q->evp.id) == msgid;
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
	if (m->bounce)
		reqwait_forget(m->reqid);	/* its answer finds nobody */
	free(m->fv);
	free(m);
}

/* A message the queue writes itself (a bounce, a copy to learn). */
static struct qmsg *
queue_msg_ours(uint32_t msgid, int fd)
{
	struct qmsg	*m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		fatal("calloc");
	m->msgid = msgid;
	m->fd = fd;
	m->reqid = msgid;
	TAILQ_INIT(&m->dests);
	TAILQ_INIT(&m->origs);
	m->tmpl.created = time(NULL);
	(void)strlcpy(m->tmpl.helo, conf->hostname, sizeof(m->tmpl.helo));
	(void)strlcpy(m->tmpl.src, "localhost", sizeof(m->tmpl.src));
	return m;
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
	queue_msg_add(m);
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
	ipc_get_addr(im, &d->rcpt);
	ipc_get_dest(im, &d->dest);
	ipc_end(im);
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
	struct scan_client client;
	char		 signdom[DOMAIN_MAX + 1];

	reqid = ipc_get_u64(im);
	msgid = ipc_get_u32(im);
	expected = ipc_get_u32(im);
	ipc_get_envelope(im, &tmpl);
	ipc_get_str(im, signdom, sizeof(signdom));
	ipc_get_str(im, client.rdns, sizeof(client.rdns));
	ipc_get_str(im, client.user, sizeof(client.user));
	ipc_get_str(im, client.tls_version, sizeof(client.tls_version));
	ipc_get_str(im, client.tls_cipher, sizeof(client.tls_cipher));
	ipc_end(im);
	if ((m = queue_msg_find(msgid)) == NULL || m->reqid != reqid ||
	    m->committing || m->bounce) {
		ipc_buf_init(&b);
		ipc_add_u64(&b, reqid);
		ipc_add_u32(&b, msgid);
		proc_send_buf(PROC_SMTP, IMSG_Q_COMMIT_FAIL, -1, &b);
		return;
	}
	if (m->overflow) {
		log_warnx("queue: message %08x: too many destinations",
		    m->msgid);
		RB_REMOVE(qmsg_tree, &incoming, m);
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
	m->client = client;
	(void)strlcpy(m->signdom, signdom, sizeof(m->signdom));
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
	if (m->checking || m->scanning)
		return;		/* queue_checked(), queue_scanned() go on */
	if (!m->bounce && !m->learn) {
		/* Both at once: the checks wait for DNS, rspamd for itself. */
		if ((m->tmpl.flags & EF_FILTER) && !m->scanned &&
		    queue_scan(m) == -1)
			return;		/* refused at once: m is gone */
		if ((m->tmpl.flags & EF_CHECK) && !m->checked) {
			m->checking = 1;
			queue_auth_start(m->msgid, m->fd, &m->tmpl,
			    queue_checked, m);
		}
		if (m->checking || m->scanning)
			return;
	}
	if (m->fv != NULL) {
		/* rspamd's verdict, below the checks' lines. */
		if (strlen(m->tmpl.dkim) + strlen(m->fv->headers) <
		    sizeof(m->tmpl.dkim))
			(void)strlcat(m->tmpl.dkim, m->fv->headers,
			    sizeof(m->tmpl.dkim));
		else
			log_warnx("queue: message %08x: rspamd's header "
			    "lines do not fit, left out", m->msgid);
		if (m->fv->junk)
			m->folder = "Junk";
		(void)queue_filter_edit(m->msgid, &m->fd, m->fv);
		free(m->fv);
		m->fv = NULL;
	}
	RB_REMOVE(qmsg_tree, &incoming, m);
	TAILQ_INSERT_TAIL(&batch, m, entry);
	if (!evtimer_pending(&ev_commit, NULL))
		evtimer_add(&ev_commit, &tv);
}

/*
 * The checks' verdict: refused, the message is dropped and smtp says
 * why; else its Authentication-Results go in front of it (where our
 * DKIM signature goes on mail we send: checked mail is never ours) and
 * the commit goes on.
 */
static void
queue_checked(void *arg, const struct msgauth_verdict *v)
{
	struct qmsg	*m = arg;

	m->checking = 0;
	m->checked = 1;
	if (v->action == MA_REJECT || v->action == MA_TEMPFAIL) {
		queue_refuse(m, v->reply);
		return;
	}
	/* Junk first: a failing "report" is no report of ours. */
	if (v->action == MA_JUNK)
		m->folder = "Junk";
	else if (v->report)
		m->folder = DMARC_REPORT_FOLDER;
	if (v->authres != NULL && strlen(v->authres) < sizeof(m->tmpl.dkim))
		(void)strlcpy(m->tmpl.dkim, v->authres, sizeof(m->tmpl.dkim));
	queue_ready(m);
}

/*
 * A check or rspamd refused the message: it goes, and smtp gives the
 * client the reply; the other's answer, if still to come, finds
 * nothing.
 */
static void
queue_refuse(struct qmsg *m, const char *reply)
{
	struct ipc_buf	 b;

	if (m->checking)
		queue_auth_cancel(m->msgid);
	RB_REMOVE(qmsg_tree, &incoming, m);
	spool_msg_abort(m->msgid);
	ipc_buf_init(&b);
	ipc_add_u64(&b, m->reqid);
	ipc_add_u32(&b, m->msgid);
	ipc_add_str(&b, reply);
	proc_send_buf(PROC_SMTP, IMSG_Q_COMMIT_REFUSED, -1, &b);
	queue_msg_free(m);
}

/*
 * Send the message to rspamd through the filter process: 0 (asked, or
 * accepted without it), -1 when it was refused at once (m is gone).
 */
static int
queue_scan(struct qmsg *m)
{
	const struct mailaddr	*rcpts[FILTER_RCPT_MAX];
	struct qdest		*d;
	struct stat		 sb;
	size_t			 n = 0, i;

	if (fstat(m->fd, &sb) == -1 || (size_t)sb.st_size >
	    conf->rspamd_max_size) {
		log_info("queue: message %08x: larger than rspamd max-size, "
		    "not scanned", m->msgid);
		m->scanned = 1;
		return 0;
	}
	TAILQ_FOREACH(d, &m->dests, entry) {
		for (i = 0; i < n; i++)
			if (strcmp(rcpts[i]->user, d->rcpt.user) == 0 &&
			    strcasecmp(rcpts[i]->domain, d->rcpt.domain) == 0)
				break;
		if (i == n && n < FILTER_RCPT_MAX)
			rcpts[n++] = &d->rcpt;
	}
	m->scanid = ((uint64_t)++scanseq << 32) | m->msgid;
	if (queue_filter_scan(m->scanid, m->msgid, &m->tmpl, &m->client,
	    rcpts, n) == -1) {
		STAT_INC(ST_RSPAMD_ERRORS);
		if (conf->rspamd_on_failure == RSPAMD_FAIL_DEFER) {
			queue_refuse(m, "451 4.7.1 Content filter "
			    "unavailable, try again later");
			return -1;
		}
		m->scanned = 1;
		return 0;
	}
	m->scanning = 1;
	return 0;
}

/* IMSG_F_SCAN_RES: rspamd's verdict on a message being received. */
static void
queue_scanned(struct ipc_msg *im)
{
	struct filter_verdict	*v;
	struct qmsg		*m;
	uint64_t		 reqid;

	if ((v = malloc(sizeof(*v))) == NULL)
		fatal("malloc");
	reqid = queue_filter_verdict(im, v);
	if ((m = queue_msg_find((uint32_t)reqid)) == NULL ||
	    m->scanid != reqid || !m->scanning) {
		log_debug("queue: rspamd's verdict on message %08x, gone",
		    (uint32_t)reqid);
		free(v);
		return;
	}
	m->scanning = 0;
	m->scanned = 1;
	if (v->error)
		log_warnx("queue: message %08x: rspamd: %s; %s", m->msgid,
		    v->log, v->refuse ? "deferred" : "accepted unscanned");
	else
		log_info("queue: message %08x: %s", m->msgid, v->log);
	if (v->refuse) {
		queue_refuse(m, v->reply);
		free(v);
		return;
	}
	if (v->error)
		free(v);
	else
		m->fv = v;
	queue_ready(m);
}

/*
 * IMSG_Q_LEARN: imap saw a user move a message into Junk (spam) or out
 * of it.  A copy goes into the spool as a message of its own with one
 * envelope for the filter process, so the request survives a restart
 * and an rspamd outage, and is retried like any delivery.
 */
static void
queue_learn(struct ipc_msg *im)
{
	struct qmsg	*m;
	struct qdest	*d;
	char		 user[ADDR_MAX + 1];
	uint32_t	 spam, msgid;
	off_t		 size;
	int		 in, out;

	spam = ipc_get_u32(im);
	ipc_get_str(im, user, sizeof(user));
	ipc_end(im);
	in = ipc_get_fd(im);
	if ((d = calloc(1, sizeof(*d))) == NULL)
		fatal("calloc");
	if (strchr(user, '@') != NULL) {
		if (addr_parse(user, &d->rcpt, ADDR_ALLOW_UTF8) == -1)
			goto bad;
	} else if (strlcpy(d->rcpt.user, user, sizeof(d->rcpt.user)) >=
	    sizeof(d->rcpt.user) || strlcpy(d->rcpt.domain, conf->hostname,
	    sizeof(d->rcpt.domain)) >= sizeof(d->rcpt.domain) ||
	    user[0] == '\0')
		goto bad;
	d->dest.type = DEST_LEARN;
	d->dest.addr = d->rcpt;
	(void)strlcpy(d->dest.path, spam ? "spam" : "ham",
	    sizeof(d->dest.path));
	if (conf->rspamd_url[0] == '\0' || !queue_space_ok() ||
	    (out = spool_msg_create(&msgid)) == -1) {
		log_warnx("queue: cannot keep a message to learn as %s for "
		    "%s", d->dest.path, user);
		free(d);
		close(in);
		return;
	}
	if (maildir_copy(in, out, NULL, 0, NULL, &size) == -1) {
		log_warn("queue: message %08x: copy to learn", msgid);
		close(out);
		spool_msg_abort(msgid);
		free(d);
		close(in);
		return;
	}
	close(in);
	m = queue_msg_ours(msgid, out);
	m->learn = 1;
	TAILQ_INSERT_TAIL(&m->dests, d, entry);
	m->ndest = m->expected = 1;
	m->committing = 1;
	queue_msg_add(m);
	log_info("queue: message %08x: to learn as %s for %s", msgid,
	    d->dest.path, user);
	queue_ready(m);
	return;
 bad:
	log_warnx("queue: learning for a bad user name, ignored");
	free(d);
	close(in);
}

/* Into a folder of the recipient's Maildir (Maildir++), if it has one. */
static void
queue_folder(struct envelope *e, const char *folder)
{
	char	 path[sizeof(e->dest.path)], dir[MAILBOX_DIR_MAX + 1];

	if (e->dest.type != DEST_MAILDIR ||
	    mailbox_name_to_dir(folder, MAILBOX_UTF8, dir, sizeof(dir),
	    NULL) == -1 ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", e->dest.path,
	    dir) >= sizeof(path))
		return;
	(void)strlcpy(e->dest.path, path, sizeof(e->dest.path));
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
		/*
		 * Signed before commit: the signature is in every envelope.
		 * Checked mail is not ours to sign; its Authentication-
		 * Results are there instead.
		 */
		if (!m->checked && !m->learn)
			queue_dkim_sign(m->fd, m->signdom, m->msgid,
			    m->tmpl.dkim, sizeof(m->tmpl.dkim));
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
			if (m->folder != NULL)
				queue_folder(e, m->folder);
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
				queue_make_ready(q);
			}
			if (m->bounce)
				queue_bounce_committed(m, 1);
			else if (!m->learn)
				proc_send_buf(PROC_SMTP, IMSG_Q_COMMIT_OK, -1,
				    &b);
		} else {
			log_warnx("queue: commit of message %08x failed",
			    m->msgid);
			spool_msg_abort(m->msgid);
			if (m->bounce)
				queue_bounce_committed(m, 0);
			else if (!m->learn)
				proc_send_buf(PROC_SMTP, IMSG_Q_COMMIT_FAIL,
				    -1, &b);
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
	if ((m = queue_msg_find(msgid)) == NULL || m->bounce)
		return;		/* already committed or never created */
	if (m->checking)
		queue_auth_cancel(msgid);
	RB_REMOVE(qmsg_tree, &incoming, m);
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
		queue_wait(q);
		return;
	}
	ipc_buf_init(&b);
	ipc_add_u64(&b, q->evp.id);
	if (q->evp.dest.type == DEST_LEARN) {
		queue_inflight_add(q);
		ipc_add_u32(&b, strcmp(q->evp.dest.path, "spam") == 0);
		proc_send_buf(PROC_FILTER, IMSG_F_LEARN, fd, &b);
		q->learn = 1;
		nlearn++;
		return;
	}
	ipc_add_addr(&b, &q->evp.sender);
	queue_inflight_add(q);
	if (q->evp.dest.type == DEST_RELAY) {
		/* The relay needs only where to, not how we got there. */
		ipc_add_addr(&b, &q->evp.dest.addr);
		ipc_add_u32(&b, q->evp.flags & (EF_8BITMIME | EF_SMTPUTF8));
		ipc_add_str(&b, q->evp.dkim);
		ipc_add_str(&b, q->evp.dest.path);	/* the relay action */
		proc_send_buf(PROC_RELAY, IMSG_R_DELIVER, fd, &b);
		q->relay = 1;
		nrelay++;
		return;
	}
	ipc_add_addr(&b, &q->evp.rcpt);
	ipc_add_dest(&b, &q->evp.dest);
	ipc_add_str(&b, q->evp.dkim);
	/* Only a retry makes deliver look for an earlier delivery. */
	ipc_add_u32(&b, q->attempted);
	q->attempted = 1;
	proc_send_buf(PROC_DELIVER, IMSG_D_DELIVER, fd, &b);
	q->relay = 0;
	ninflight++;
}

/* Ready for delivery: queued for the process that will take it. */
static void
queue_make_ready(struct qenv *q)
{
	TAILQ_INSERT_TAIL(q->evp.dest.type == DEST_RELAY ? &ready_relay :
	    q->evp.dest.type == DEST_LEARN ? &ready_learn : &ready, q, entry);
}

static void
queue_schedule(void)
{
	struct qenv	*q;
	struct timeval	 tv;
	time_t		 now = time(NULL), next = 0;

	/* Local and remote deliveries have limits of their own. */
	while (ninflight < MAX_INFLIGHT && (q = TAILQ_FIRST(&ready)) != NULL) {
		TAILQ_REMOVE(&ready, q, entry);
		queue_deliver(q);
	}
	while (!relay_paused && nrelay < MAX_RELAY &&
	    (q = TAILQ_FIRST(&ready_relay)) != NULL) {
		TAILQ_REMOVE(&ready_relay, q, entry);
		queue_deliver(q);
	}
	while (nlearn < MAX_LEARN && (q = TAILQ_FIRST(&ready_learn)) != NULL) {
		TAILQ_REMOVE(&ready_learn, q, entry);
		queue_deliver(q);
	}
	/* The timer always points at the earliest retry. */
	if ((q = RB_MIN(qenv_sched, &schedule)) != NULL)
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
	struct qenv	*q;
	time_t		 now = time(NULL);

	(void)fd;
	(void)ev;
	(void)arg;
	while ((q = RB_MIN(qenv_sched, &schedule)) != NULL &&
	    q->evp.nexttry <= now) {
		queue_unwait(q);
		queue_make_ready(q);
	}
	queue_schedule();
}

/* Remote retries start later than local ones; both double each time. */
static time_t
queue_retry_delay(const struct qenv *q)
{
	time_t	 delay;
	int	 i;

	delay = q->evp.dest.type == DEST_RELAY ? conf->retry_remote :
	    conf->retry_local;
	for (i = 1; i < q->evp.retries && delay < conf->retry_max; i++)
		delay *= 2;
	if (delay > conf->retry_max)
		delay = conf->retry_max;
	return delay;
}

/* IMSG_D_RESULT from deliver, IMSG_R_RESULT (with the MX) from relay. */
static void
queue_result(struct ipc_msg *im)
{
	struct timeval	 tv = { 0, 0 };
	struct ipc_buf	 b;
	struct qenv	*q;
	char		 err[ERRMSG_MAX], host[HOST_NAME_MAX + 1] = "";
	uint64_t	 evpid;
	uint32_t	 status;
	time_t		 now = time(NULL), delay;
	int		 relay = im->type == IMSG_R_RESULT;
	int		 learn = im->type == IMSG_F_LEARN_RES;

	evpid = ipc_get_u64(im);
	status = ipc_get_u32(im);
	ipc_get_str(im, err, sizeof(err));
	if (relay)
		ipc_get_str(im, host, sizeof(host));
	ipc_end(im);
	if (status > RELAY_PERMFAIL)
		fatalx("queue: bad status %u from %s", status, im->peer);
	if ((q = queue_inflight_find(evpid)) == NULL || q->relay != relay ||
	    q->learn != learn)
		fatalx("queue: result for unknown envelope %016llx from %s",
		    (unsigned long long)evpid, im->peer);
	RB_REMOVE(qenv_ids, &inflight_ids, q);
	TAILQ_REMOVE(&inflight, q, entry);
	if (relay)
		nrelay--;
	else if (learn)
		nlearn--;
	else
		ninflight--;
	q->inflight = 0;
	q->relay = 0;
	q->learn = 0;
	if (learn && status == RELAY_OK) {
		STAT_INC(ST_RSPAMD_LEARNED);
		log_info("queue: envelope %016llx: %s as %s for %s@%s",
		    (unsigned long long)evpid, err, q->evp.dest.path,
		    q->evp.dest.addr.user, q->evp.dest.addr.domain);
	} else if (learn && (status == RELAY_PERMFAIL || q->removing ||
	    now - q->evp.created > conf->queue_ttl)) {
		/* Nobody to tell: the user only moved a message. */
		log_warnx("queue: envelope %016llx: not learned as %s: %s",
		    (unsigned long long)evpid, q->evp.dest.path, err);
		queue_drop(q);
		queue_schedule();
		return;
	}
	(void)strlcpy(q->rhost, host, sizeof(q->rhost));
	if (status == RELAY_OK) {
		STAT_INC(relay ? ST_QUEUE_RELAYED : ST_QUEUE_DELIVERED);
		if (spool_env_remove(evpid) == -1)
			log_warn("queue: remove envelope %016llx",
			    (unsigned long long)evpid);
		else if (!relay && !learn) {
			/* Gone for good: deliver's mark of it can go. */
			ipc_buf_init(&b);
			ipc_add_u64(&b, evpid);
			proc_send_buf(PROC_DELIVER, IMSG_D_DONE, -1, &b);
		}
		free(q);
	} else if (q->removing) {
		log_info("queue: envelope %016llx removed by mailctl",
		    (unsigned long long)evpid);
		STAT_INC(ST_QUEUE_REMOVED);
		queue_drop(q);
	} else if (status == RELAY_PERMFAIL) {
		STAT_INC(ST_QUEUE_FAILED);
		q->evp.lasttry = now;
		(void)strlcpy(q->evp.errmsg, err, sizeof(q->evp.errmsg));
		queue_bounce_add(q, 0);
	} else if (now - q->evp.created > conf->queue_ttl) {
		STAT_INC(ST_QUEUE_FAILED);
		q->evp.lasttry = now;
		(void)strlcpy(q->evp.errmsg, err, sizeof(q->evp.errmsg));
		queue_bounce_add(q, 1);
	} else {
		STAT_INC(ST_QUEUE_DEFERRED);
		q->evp.retries++;
		q->evp.lasttry = now;
		strlcpy(q->evp.errmsg, err, sizeof(q->evp.errmsg));
		delay = queue_retry_delay(q);
		q->evp.nexttry = now + delay;
		if (spool_env_update(&q->evp) == -1)
			log_warn("queue: update envelope %016llx",
			    (unsigned long long)evpid);
		log_info("queue: envelope %016llx: temporary failure, retry "
		    "in %llds: %s", (unsigned long long)evpid,
		    (long long)delay, err);
		queue_wait(q);
	}
	/* A bounce may have waited for this envelope of its message. */
	if (!TAILQ_EMPTY(&bouncing)) {
		evtimer_del(&ev_bounce);
		evtimer_add(&ev_bounce, &tv);
	}
	queue_schedule();
}

static void
queue_drop(struct qenv *q)
{
	if (spool_env_remove(q->evp.id) == -1)
		log_warn("queue: remove envelope %016llx",
		    (unsigned long long)q->evp.id);
	free(q);
}

/*
 * An envelope failed for good (5xx) or expired.  Its bounce is written
 * in a later pass, so that the other failures of the same message can
 * go in the same notification.  The envelope stays on disk until the
 * bounce is committed: a crash meanwhile loses no bounce.
 */
static void
queue_bounce_add(struct qenv *q, int expired)
{
	struct timeval	 tv = { 0, 0 };

	log_warnx("queue: envelope %016llx to %s@%s: %s: %s",
	    (unsigned long long)q->evp.id, q->evp.dest.addr.user,
	    q->evp.dest.addr.domain, expired ? "expired" : "failed",
	    q->evp.errmsg);
	q->expired = expired;
	queue_bouncing_add(q);
	evtimer_del(&ev_bounce);
	evtimer_add(&ev_bounce, &tv);
}

/* No bounce could be written now: try again a little later. */
static void
queue_bounce_later(struct qenvlist *list)
{
	struct timeval	 tv = { 0, 0 };
	struct qenv	*q;

	while ((q = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, q, entry);
		queue_bouncing_add(q);
	}
	tv.tv_sec = conf->retry_local;
	if (!evtimer_pending(&ev_bounce, NULL))
		evtimer_add(&ev_bounce, &tv);
}

/*
 * Gather the failed envelopes of each message into one bounce, unless
 * another envelope of that message is still being delivered: its
 * result will come soon and run this again.
 */
static void
queue_bounce_run(int fd, short ev, void *arg)
{
	struct qenvlist	 group;
	struct qenv	*q, *nq, *next, key;
	uint32_t	 msgid;

	(void)fd;
	(void)ev;
	(void)arg;
	memset(&key, 0, sizeof(key));
	for (q = RB_MIN(qenv_bounce, &bounce_tree); q != NULL; q = next) {
		/* The first envelope of the next message (seq 0 is none). */
		msgid = evpid_msgid(q->evp.id);
		next = NULL;
		if (msgid < UINT32_MAX) {
			key.evp.id = (uint64_t)(msgid + 1) << 32;
			next = RB_NFIND(qenv_bounce, &bounce_tree, &key);
		}
		if (queue_inflight_msg(msgid))
			continue;
		TAILQ_INIT(&group);
		for (; q != next; q = nq) {
			nq = RB_NEXT(qenv_bounce, &bounce_tree, q);
			queue_bouncing_remove(q);
			TAILQ_INSERT_TAIL(&group, q, entry);
		}
		/* What cannot be written now comes back before next. */
		queue_bounce_msg(&group);
	}
}

/* "5.1.1" from a reply like "550 5.1.1 <x>: unknown", or a default. */
static void
queue_dsn_status(const struct qenv *q, char *out, size_t outsz)
{
	const char	*e = q->evp.errmsg, *p;
	size_t		 n;

	if (q->expired) {
		(void)strlcpy(out, "4.4.7", outsz);
		return;
	}
	(void)strlcpy(out, "5.0.0", outsz);
	if (strlen(e) < 5 || e[0] < '2' || e[0] > '5' ||
	    strspn(e + 1, "0123456789") < 2 || (e[3] != ' ' && e[3] != '-'))
		return;
	p = e + 4;
	if (p[0] != e[0] || p[1] != '.')
		return;
	n = strspn(p + 2, "0123456789");
	if (n < 1 || n > 3 || p[2 + n] != '.')
		return;
	n += 3 + strspn(p + 3 + n, "0123456789");
	if (n >= outsz || (p[n] != '\0' && p[n] != ' '))
		return;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* Write the bounce of one message's failed envelopes, then expand it. */
static void
queue_bounce_msg(struct qenvlist *group)
{
	struct bounce_rcpt {
		char	 rcpt[ADDR_MAX + 1];
		char	 status[16];
	}		*br = NULL;
	struct dsn_rcpt	*dr = NULL;
	struct dsn_info	 di;
	struct ipc_buf	 b;
	struct qmsg	*m;
	struct qenv	*q, *first = TAILQ_FIRST(group);
	char		 sender[ADDR_MAX + 1], msgid[16];
	uint32_t	 bmsgid;
	size_t		 n = 0, i;
	int		 in, out, r, saved;

	if (addr_is_null(&first->evp.sender) ||
	    addr_to_text(&first->evp.sender, sender, sizeof(sender)) == -1) {
		/* A bounce never bounces (RFC 5321 6.1). */
		log_info("queue: message %08x: no bounce for a null sender",
		    evpid_msgid(first->evp.id));
		goto drop;
	}
	if ((in = spool_msg_open(evpid_msgid(first->evp.id))) == -1) {
		log_warn("queue: message %08x: cannot open it for its bounce",
		    evpid_msgid(first->evp.id));
		goto drop;
	}
	if ((out = spool_msg_create(&bmsgid)) == -1) {
		log_warn("queue: cannot create a bounce");
		close(in);
		queue_bounce_later(group);
		return;
	}
	TAILQ_FOREACH(q, group, entry)
		n++;
	if ((br = calloc(n, sizeof(*br))) == NULL ||
	    (dr = calloc(n, sizeof(*dr))) == NULL)
		fatal("calloc");
	i = 0;
	TAILQ_FOREACH(q, group, entry) {
		if (addr_to_text(&q->evp.dest.addr, br[i].rcpt,
		    sizeof(br[i].rcpt)) == -1)
			(void)strlcpy(br[i].rcpt, "unknown",
			    sizeof(br[i].rcpt));
		queue_dsn_status(q, br[i].status, sizeof(br[i].status));
		dr[i].rcpt = br[i].rcpt;
		dr[i].status = br[i].status;
		dr[i].remote_mta = q->rhost[0] ? q->rhost : NULL;
		dr[i].diagnostic = q->evp.errmsg[0] ? q->evp.errmsg : NULL;
		dr[i].last_attempt = q->evp.lasttry;
		i++;
	}
	(void)snprintf(msgid, sizeof(msgid), "%08x",
	    evpid_msgid(first->evp.id));
	memset(&di, 0, sizeof(di));
	di.kind = DSN_FAILED;
	di.reporting_mta = conf->hostname;
	di.sender = sender;
	di.msgid = msgid;
	di.arrival = first->evp.created;
	di.now = time(NULL);
	di.rcpts = dr;
	di.nrcpts = n;
	di.return_full = 1;
	r = dsn_write(out, in, &di);
	saved = errno;
	close(in);
	free(dr);
	free(br);
	if (r == -1) {
		close(out);
		spool_msg_abort(bmsgid);
		if (saved == EINVAL) {
			log_warnx("queue: message %08x: cannot bounce to <%s>",
			    evpid_msgid(first->evp.id), sender);
			goto drop;
		}
		queue_bounce_later(group);
		return;
	}

	m = queue_msg_ours(bmsgid, out);	/* reqid: lookup's answer */
	m->bounce = 1;
	while ((q = TAILQ_FIRST(group)) != NULL) {
		TAILQ_REMOVE(group, q, entry);
		TAILQ_INSERT_TAIL(&m->origs, q, entry);
	}
	if (r == DSN_8BIT)
		m->tmpl.flags |= EF_8BITMIME;
	for (i = 0; sender[i] != '\0'; i++)
		if ((unsigned char)sender[i] >= 0x80)
			m->tmpl.flags |= EF_SMTPUTF8;
	queue_msg_add(m);
	log_info("queue: message %08x: bounce %08x to <%s> for %zu "
	    "recipient%s", evpid_msgid(first->evp.id), bmsgid, sender, n,
	    n == 1 ? "" : "s");

	/* Where the bounce goes is decided as for any mail from here. */
	ipc_buf_init(&b);
	ipc_add_u64(&b, m->reqid);
	ipc_add_u32(&b, bmsgid);
	ipc_add_u32(&b, EXP_FROM_LOCAL | EXP_AUTH);
	ipc_add_addr(&b, &first->evp.sender);
	proc_send_buf(PROC_LOOKUP, IMSG_L_RCPT, -1, &b);
	reqwait_add(m->reqid, IMSG_L_RCPT, m);
	return;
 drop:
	while ((q = TAILQ_FIRST(group)) != NULL) {
		TAILQ_REMOVE(group, q, entry);
		queue_drop(q);
	}
}

/* Lookup's answer for the recipient of a bounce (its destinations first). */
static void
queue_bounce_rcpt(struct ipc_msg *im)
{
	struct qmsg	*m;
	struct qenvlist	 origs = TAILQ_HEAD_INITIALIZER(origs);
	struct qenv	*q;
	const char	*err;
	uint64_t	 reqid;
	uint32_t	 res, n;

	reqid = ipc_get_u64(im);
	res = ipc_get_u32(im);
	n = ipc_get_u32(im);
	err = ipc_get_strp(im);
	ipc_end(im);
	if ((m = reqwait_take(reqid, IMSG_L_RCPT, im->peer)) == NULL)
		return;		/* logged */
	if (res == EXP_OK && n > 0) {
		m->committing = 1;
		m->expected = n;
		queue_ready(m);
		return;
	}
	RB_REMOVE(qmsg_tree, &incoming, m);
	while ((q = TAILQ_FIRST(&m->origs)) != NULL) {
		TAILQ_REMOVE(&m->origs, q, entry);
		TAILQ_INSERT_TAIL(&origs, q, entry);
	}
	spool_msg_abort(m->msgid);
	queue_msg_free(m);
	if (res == EXP_TEMPFAIL) {
		queue_bounce_later(&origs);
		return;
	}
	log_warnx("queue: bounce to the sender of %016llx cannot be "
	    "delivered: %s", (unsigned long long)TAILQ_FIRST(&origs)->evp.id,
	    err[0] ? err : "no destination");
	while ((q = TAILQ_FIRST(&origs)) != NULL) {
		TAILQ_REMOVE(&origs, q, entry);
		queue_drop(q);
	}
}

/* The bounce is safe on disk (or not): the envelopes it reports go. */
static void
queue_bounce_committed(struct qmsg *m, int ok)
{
	struct qenvlist	 origs = TAILQ_HEAD_INITIALIZER(origs);
	struct qenv	*q;

	if (ok)
		STAT_INC(ST_QUEUE_BOUNCES);
	while ((q = TAILQ_FIRST(&m->origs)) != NULL) {
		TAILQ_REMOVE(&m->origs, q, entry);
		if (ok)
			queue_drop(q);
		else
			TAILQ_INSERT_TAIL(&origs, q, entry);
	}
	if (!ok)
		queue_bounce_later(&origs);
}

/* mailctl show queue: one line per envelope. */
static void
queue_show(uint64_t id)
{
	struct qenvlist	*lists[] = { &inflight, &ready, &ready_relay,
			    &ready_learn, &waiting, &bouncing };
	const char	*names[nitems(lists)] = { "delivering", "ready",
			    "ready", "ready", "waiting", "bouncing" };
	struct qenv	*q;
	size_t		 i;

	for (i = 0; i < nitems(lists); i++)
		TAILQ_FOREACH(q, lists[i], entry)
			proc_ctl_line(id, "%016llx %s %s@%s -> %s@%s "
			    "retries=%d%s %s", (unsigned long long)q->evp.id,
			    names[i], q->evp.sender.user,
			    q->evp.sender.domain, q->evp.dest.addr.user,
			    q->evp.dest.addr.domain, q->evp.retries,
			    q->removing ? " removing" : "", q->evp.errmsg);
	proc_ctl_end(id, 1, "%s", "");
}

/* Does mailctl's id (a message id, or an envelope id) name q? */
static int
queue_match(const struct qenv *q, int all, uint64_t want)
{
	return all || q->evp.id == want ||
	    (want <= UINT32_MAX && evpid_msgid(q->evp.id) == want);
}

/*
 * mailctl schedule: retry now.  mailctl remove: drop from the queue
 * without a bounce; an envelope being delivered is dropped when its
 * attempt ends, unless it succeeded.
 */
static void
queue_ctl_envelopes(uint64_t id, int remove, const char *arg)
{
	struct qenvlist	*lists[] = { &waiting, &ready, &ready_relay,
			    &ready_learn, &bouncing };
	struct qenv	*q, *tq;
	uint64_t	 want = 0;
	size_t		 i, n = 0, later = 0;
	int		 all;
	char		*e;

	if (!(all = strcmp(arg, "all") == 0)) {
		errno = 0;
		want = strtoull(arg, &e, 16);
		if (arg[0] == '\0' || *e != '\0' || errno != 0 ||
		    strlen(arg) > 16) {
			proc_ctl_end(id, 0, "%s: not a message or envelope id",
			    arg);
			return;
		}
	}
	if (!remove) {
		TAILQ_FOREACH_SAFE(q, &waiting, entry, tq)
			if (queue_match(q, all, want)) {
				queue_unwait(q);
				q->evp.nexttry = time(NULL);
				queue_make_ready(q);
				n++;
			}
		for (i = 1; i < 3; i++)		/* already due */
			TAILQ_FOREACH(q, lists[i], entry)
				later += queue_match(q, all, want);
		TAILQ_FOREACH(q, &inflight, entry)
			later += queue_match(q, all, want);
		queue_schedule();
		if (n == 0 && later == 0 && !all)
			proc_ctl_end(id, 0, "%s: no such message or envelope "
			    "waiting", arg);
		else
			proc_ctl_end(id, 1, "%zu envelope%s scheduled", n,
			    n == 1 ? "" : "s");
		return;
	}
	for (i = 0; i < nitems(lists); i++)
		TAILQ_FOREACH_SAFE(q, lists[i], entry, tq)
			if (queue_match(q, all, want)) {
				if (lists[i] == &waiting)
					queue_unwait(q);
				else if (lists[i] == &bouncing)
					queue_bouncing_remove(q);
				else
					TAILQ_REMOVE(lists[i], q, entry);
				log_info("queue: envelope %016llx to %s@%s "
				    "removed by mailctl",
				    (unsigned long long)q->evp.id,
				    q->evp.dest.addr.user,
				    q->evp.dest.addr.domain);
				STAT_INC(ST_QUEUE_REMOVED);
				queue_drop(q);
				n++;
			}
	TAILQ_FOREACH(q, &inflight, entry)
		if (queue_match(q, all, want) && !q->removing) {
			q->removing = 1;
			later++;
		}
	queue_schedule();
	if (n == 0 && later == 0 && !all)
		proc_ctl_end(id, 0, "%s: no such message or envelope", arg);
	else if (later > 0)
		proc_ctl_end(id, 1, "%zu envelope%s removed, %zu more when "
		    "their delivery attempt ends", n, n == 1 ? "" : "s",
		    later);
	else
		proc_ctl_end(id, 1, "%zu envelope%s removed", n,
		    n == 1 ? "" : "s");
}

static void
queue_ctl(struct ipc_msg *m)
{
	struct qenv	*q;
	char		 arg[CTL_ARG_MAX];
	uint64_t	 id;
	uint32_t	 cmd;
	size_t		 n = 0, i;
	struct qenvlist	*lists[] = { &inflight, &ready, &ready_relay,
			    &ready_learn, &waiting, &bouncing };

	id = ipc_get_u64(m);
	cmd = ipc_get_u32(m);
	ipc_get_str(m, arg, sizeof(arg));
	ipc_end(m);
	if (cmd == CTL_SHOW_QUEUE)
		queue_show(id);
	else if (cmd == CTL_SCHEDULE)
		queue_ctl_envelopes(id, 0, arg);
	else if (cmd == CTL_REMOVE)
		queue_ctl_envelopes(id, 1, arg);
	else if (cmd == CTL_PAUSE_RELAY || cmd == CTL_RESUME_RELAY) {
		relay_paused = cmd == CTL_PAUSE_RELAY;
		log_info("relay %s", relay_paused ? "paused: remote "
		    "deliveries wait in the queue" : "resumed");
		if (!relay_paused)
			queue_schedule();
		proc_ctl_end(id, 1, "relay %s", relay_paused ? "paused" :
		    "resumed");
	} else if (cmd == CTL_SHOW_STATS) {
		proc_ctl_stats(id);
		for (i = 0; i < nitems(lists); i++)
			TAILQ_FOREACH(q, lists[i], entry)
				n++;
		proc_ctl_line(id, "queue.envelopes=%zu", n);
		proc_ctl_line(id, "queue.greylist.entries=%zu",
		    queue_grey_count());
		proc_ctl_line(id, "queue.relay.paused=%d", relay_paused);
		proc_ctl_end(id, 1, "%s", "");
	} else
		proc_ctl_end(id, 0, "unknown request");
}

/* A key of the staged configuration (which was parsed without files). */
/* The Public Suffix List, for DMARC: the parent opened it. */
static void
queue_conf_psl(struct ipc_msg *m)
{
	ipc_end(m);
	queue_auth_psl(ipc_get_fd(m));
}

static void
queue_conf_dkim(struct ipc_msg *m)
{
	struct maild_conf	*c;
	struct dkimconf		*d;
	const uint8_t		*key;
	char			 domain[DOMAIN_MAX + 1], sel[64];
	uint32_t		 len;

	ipc_get_str(m, domain, sizeof(domain));
	ipc_get_str(m, sel, sizeof(sel));
	len = ipc_get_u32(m);
	key = ipc_get_raw(m, len);
	ipc_end(m);
	if ((c = proc_conf_staged()) != NULL)
		TAILQ_FOREACH(d, &c->dkims, entry) {
			if (strcmp(d->domain, domain) != 0 ||
			    strcmp(d->selector, sel) != 0 || d->key != NULL)
				continue;
			if ((d->key = malloc(len + 1)) == NULL)
				fatal("malloc");
			memcpy(d->key, key, len);
			d->key[len] = '\0';
			d->key_len = len;
			break;
		}
}

static void
queue_conf_end(struct ipc_msg *m)
{
	if (proc_conf_commit(m)) {
		/* New keys (or none): sign with those from now on. */
		queue_dkim_init(conf);
		config_purge_keys(conf);
		queue_grey_init();
	}
}

const struct proc_handler queue_handlers[] = {
	{ IMSG_CONF_RELOAD,	proc_conf_stage },
	{ IMSG_CONF_DKIM,	queue_conf_dkim },
	{ IMSG_CONF_END,	queue_conf_end },
	{ IMSG_Q_CREATE,	queue_create },
	{ IMSG_Q_DEST,		queue_dest },
	{ IMSG_Q_COMMIT,	queue_commit },
	{ IMSG_Q_ROLLBACK,	queue_rollback },
	{ IMSG_Q_GREYLIST,	queue_grey_check },
	{ IMSG_L_DNS_RES,	queue_auth_dns },
	{ IMSG_L_SPF_RES,	queue_auth_spf },
	{ IMSG_F_SCAN_RES,	queue_scanned },
	{ IMSG_F_LEARN_RES,	queue_result },
	{ IMSG_Q_LEARN,		queue_learn },
	{ IMSG_CONF_PSL,	queue_conf_psl },
	{ IMSG_D_RESULT,	queue_result },
	{ IMSG_R_RESULT,	queue_result },
	{ IMSG_L_RCPT_RES,	queue_bounce_rcpt },
	{ IMSG_CTL_REQ,		queue_ctl },
	{ IMSG_NONE,		NULL }
};
