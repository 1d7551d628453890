/*
 * Checking inbound mail in the queue process (msgauth.h): when a
 * message from an unauthenticated remote client is committed, the
 * queue reads it once from its spool file, asks lookup for the SPF
 * result of its client and for the TXT records the DKIM, ARC and DMARC
 * checks need, and hands the verdict back to queue.c before the smtp
 * session may answer.  A check that does not finish in AUTH_TIMEOUT
 * seconds goes on with what it has: the missing answers count as DNS
 * failures (temperror), never as a pass.
 */
#include <sys/types.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "compat.h"
#include "config.h"
#include "envelope.h"
#include "msgauth.h"
#include "proc.h"
#include "psl.h"
#include "queue.h"
#include "spf.h"
#include "util.h"

#define AUTH_TIMEOUT	30	/* seconds for every answer of a message */
#define AUTH_CHUNK	65536
#define AUTH_NAMES_MAX	32	/* TXT names asked for one message */

struct qauth {
	RB_ENTRY(qauth)		 node;
	uint32_t		 msgid;
	struct msgauth		*ma;
	int			 spf_wait;
	size_t			 txt_wait;	/* TXT answers to come */
	size_t			 nnames;
	char			*names[AUTH_NAMES_MAX];	/* asked */
	int			 qtypes[AUTH_NAMES_MAX];
	struct event		 ev_timeout;
	queue_auth_cb		 done;
	void			*arg;
};

RB_HEAD(qauth_tree, qauth);

static int	qauth_cmp(const struct qauth *, const struct qauth *);
RB_PROTOTYPE(qauth_tree, qauth, node, qauth_cmp)

static void	qauth_ask(struct qauth *);
static void	qauth_check(struct qauth *);
static void	qauth_timeout(int, short, void *);
static struct qauth *qauth_find(uint64_t);
static void	qauth_free(struct qauth *);
static int	qauth_own_domain(const char *, void *);

static struct qauth_tree	 jobs = RB_INITIALIZER(&jobs);
static struct psl		*psl;

static int
qauth_cmp(const struct qauth *a, const struct qauth *b)
{
	return a->msgid < b->msgid ? -1 : a->msgid > b->msgid;
}

RB_GENERATE(qauth_tree, qauth, node, qauth_cmp)

static struct qauth *
qauth_find(uint64_t reqid)
{
	struct qauth	 key;

	if (reqid > UINT32_MAX)
		return NULL;
	key.msgid = (uint32_t)reqid;
	return RB_FIND(qauth_tree, &jobs, &key);
}

/* The Public Suffix List, from the parent (a descriptor, or -1). */
void
queue_auth_psl(int fd)
{
	char	 err[256], *buf;
	size_t	 len;

	psl_free(psl);
	psl = NULL;
	if (fd == -1)
		return;
	buf = read_fd(fd, PSL_FILE_MAX, &len);
	close(fd);
	if (buf == NULL) {
		log_warn("queue: %s", conf->psl_file);
		return;
	}
	if ((psl = psl_load_buffer(buf, len, conf->psl_file, 0, err,
	    sizeof(err))) == NULL)
		log_warnx("queue: %s; DMARC takes the last two labels of a "
		    "domain as its organisational domain", err);
	free(buf);
}

/*
 * Check message msgid (its spool file fd, what its envelopes share):
 * done(arg, verdict) is called later from the event loop, once.
 */
void
queue_auth_start(uint32_t msgid, int fd, const struct envelope *tmpl,
    queue_auth_cb done, void *arg)
{
	struct msgauth_params	 p;
	struct qauth		*a;
	struct ipc_buf		 b;
	struct timeval		 tv = { AUTH_TIMEOUT, 0 };
	char			 from[ADDR_MAX + 1], buf[AUTH_CHUNK];
	unsigned int		 roll;
	off_t			 off = 0;
	ssize_t			 n;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		fatal("calloc");
	a->msgid = msgid;
	a->done = done;
	a->arg = arg;
	if (addr_to_text(&tmpl->sender, from, sizeof(from)) == -1)
		from[0] = '\0';
	compat_random(&roll, sizeof(roll));
	memset(&p, 0, sizeof(p));
	p.authserv_id = conf->hostname;
	p.helo = tmpl->helo;
	p.mailfrom = from;
	p.psl = psl;
	p.own_domain = qauth_own_domain;
	p.spf_fail_action = conf->spf_fail_action;
	p.dmarc_enforce = conf->dmarc_enforce;
	p.dmarc_own = conf->dmarc_own;
	p.now = time(NULL);
	p.pct_roll = roll % 100;
	if ((a->ma = msgauth_new(&p)) == NULL)
		fatal("msgauth_new");
	/* The whole message, once, as signing reads it. */
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		msgauth_update(a->ma, buf, (size_t)n);
		off += n;
	}
	if (n == -1)
		log_warn("queue: message %08x: read for checking", msgid);
	msgauth_end(a->ma);
	if (RB_INSERT(qauth_tree, &jobs, a) != NULL)
		fatalx("queue: message %08x checked twice", msgid);

	ipc_buf_init(&b);
	ipc_add_u64(&b, msgid);
	ipc_add_str(&b, tmpl->src);
	ipc_add_str(&b, tmpl->helo);
	ipc_add_addr(&b, &tmpl->sender);
	proc_send_buf(PROC_LOOKUP, IMSG_L_SPF, -1, &b);
	a->spf_wait = 1;
	evtimer_set(&a->ev_timeout, qauth_timeout, a);
	evtimer_add(&a->ev_timeout, &tv);
	qauth_ask(a);
}

/* The message was rolled back while it was checked. */
void
queue_auth_cancel(uint32_t msgid)
{
	struct qauth	*a;

	if ((a = qauth_find(msgid)) == NULL)
		return;
	RB_REMOVE(qauth_tree, &jobs, a);
	qauth_free(a);
}

/* Ask lookup for every TXT name the checks want and nobody asked. */
static void
qauth_ask(struct qauth *a)
{
	struct ipc_buf	 b;
	const char	*name;
	int		 qtype;

	while ((name = msgauth_next(a->ma, &qtype)) != NULL) {
		if (a->nnames == AUTH_NAMES_MAX) {
			/* More than any sane message: no answer, no pass. */
			msgauth_answer(a->ma, name, qtype,
			    MSGAUTH_DNS_TEMPFAIL, NULL, 0);
			continue;
		}
		if ((a->names[a->nnames] = strdup(name)) == NULL)
			fatal("strdup");
		a->qtypes[a->nnames++] = qtype;
		ipc_buf_init(&b);
		ipc_add_u64(&b, a->msgid);
		ipc_add_u32(&b, qtype);
		ipc_add_str(&b, name);
		proc_send_buf(PROC_LOOKUP, IMSG_L_DNS, -1, &b);
		a->txt_wait++;
	}
}

/* IMSG_L_DNS_RES */
void
queue_auth_dns(struct ipc_msg *m)
{
	struct qauth	*a;
	const char	*txt[MA_TXT_MAX], *name;
	uint64_t	 reqid;
	uint32_t	 qtype, status, n, i;
	size_t		 k;

	reqid = ipc_get_u64(m);
	qtype = ipc_get_u32(m);
	name = ipc_get_strp(m);
	status = ipc_get_u32(m);
	n = ipc_get_u32(m);
	for (i = 0; i < n; i++) {
		if (i < MA_TXT_MAX)
			txt[i] = ipc_get_strp(m);
		else
			(void)ipc_get_strp(m);
	}
	ipc_end(m);
	if (n > MA_TXT_MAX)
		n = MA_TXT_MAX;
	if ((a = qauth_find(reqid)) == NULL) {
		log_debug("queue: DNS %s for message %08llx, gone", name,
		    (unsigned long long)reqid);
		return;
	}
	for (k = 0; k < a->nnames; k++)
		if (a->names[k] != NULL && a->qtypes[k] == (int)qtype &&
		    strcmp(a->names[k], name) == 0)
			break;
	if (k == a->nnames) {
		log_warnx("queue: DNS %s for message %08x, not asked", name,
		    a->msgid);
		return;
	}
	free(a->names[k]);
	a->names[k] = NULL;	/* a second answer finds nothing */
	a->txt_wait--;
	msgauth_answer(a->ma, name, (int)qtype, status == MSGAUTH_DNS_OK ?
	    MSGAUTH_DNS_OK : status == MSGAUTH_DNS_NONE ? MSGAUTH_DNS_NONE :
	    MSGAUTH_DNS_TEMPFAIL, txt, n);
	qauth_ask(a);
	qauth_check(a);
}

/* IMSG_L_SPF_RES */
void
queue_auth_spf(struct ipc_msg *m)
{
	struct spf_outcome	 o;
	struct qauth		*a;
	uint64_t		 reqid;
	uint32_t		 result;

	memset(&o, 0, sizeof(o));
	reqid = ipc_get_u64(m);
	result = ipc_get_u32(m);
	ipc_get_str(m, o.domain, sizeof(o.domain));
	ipc_get_str(m, o.mechanism, sizeof(o.mechanism));
	ipc_get_str(m, o.explanation, sizeof(o.explanation));
	ipc_get_str(m, o.problem, sizeof(o.problem));
	ipc_end(m);
	if ((a = qauth_find(reqid)) == NULL || !a->spf_wait) {
		log_debug("queue: SPF result for message %08llx, not "
		    "waited for", (unsigned long long)reqid);
		return;
	}
	o.result = result > SPF_PERMERROR ? SPF_TEMPERROR :
	    (enum spf_result)result;
	a->spf_wait = 0;
	msgauth_spf(a->ma, &o);
	qauth_check(a);
}

static void
qauth_check(struct qauth *a)
{
	struct msgauth_verdict	 v;

	if (a->spf_wait || a->txt_wait > 0 || !msgauth_ready(a->ma))
		return;
	if (msgauth_verdict(a->ma, &v) == -1)
		fatal("msgauth_verdict");
	log_info("queue: message %08x: %s", a->msgid, v.log);
	STAT_INC(ST_QUEUE_CHECKED);
	stats[ST_QUEUE_CHECK_SPF] += v.spf_pass;
	stats[ST_QUEUE_CHECK_DKIM] += v.dkim_pass;
	stats[ST_QUEUE_CHECK_DMARC] += v.dmarc_pass;
	stats[ST_QUEUE_CHECK_DMARCFAIL] += v.dmarc_fail;
	if (v.action == MA_REJECT)
		STAT_INC(ST_QUEUE_CHECK_REFUSED);
	else if (v.action == MA_TEMPFAIL)
		STAT_INC(ST_QUEUE_CHECK_DEFERRED);
	else if (v.action == MA_JUNK)
		STAT_INC(ST_QUEUE_CHECK_JUNK);
	RB_REMOVE(qauth_tree, &jobs, a);
	a->done(a->arg, &v);
	free(v.authres);
	qauth_free(a);
}

/* Too slow: what has not come is a DNS failure. */
static void
qauth_timeout(int fd, short ev, void *arg)
{
	struct spf_outcome	 o;
	struct qauth		*a = arg;
	size_t			 k;

	(void)fd;
	(void)ev;
	log_warnx("queue: message %08x: DNS answers for its checks timed "
	    "out", a->msgid);
	if (a->spf_wait) {
		memset(&o, 0, sizeof(o));
		o.result = SPF_TEMPERROR;
		(void)strlcpy(o.problem, "timed out", sizeof(o.problem));
		a->spf_wait = 0;
		msgauth_spf(a->ma, &o);
	}
	for (k = 0; k < a->nnames; k++) {
		if (a->names[k] == NULL)
			continue;
		msgauth_answer(a->ma, a->names[k], a->qtypes[k],
		    MSGAUTH_DNS_TEMPFAIL, NULL, 0);
		free(a->names[k]);
		a->names[k] = NULL;
	}
	a->txt_wait = 0;
	/* Fail whatever it would still ask: nothing more is sent now. */
	a->nnames = AUTH_NAMES_MAX;
	qauth_ask(a);
	qauth_check(a);
}

static void
qauth_free(struct qauth *a)
{
	size_t	 k;

	evtimer_del(&a->ev_timeout);
	for (k = 0; k < a->nnames && k < AUTH_NAMES_MAX; k++)
		free(a->names[k]);
	msgauth_free(a->ma);
	free(a);
}

/* Is domain one of ours: a match rule's, or the host name? */
static int
qauth_own_domain(const char *domain, void *arg)
{
	(void)arg;
	return rule_own_domain(conf, domain);
}
