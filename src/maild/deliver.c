/*
 * The deliver process: runs as the vmail user, chrooted to the mailbox
 * root, and writes each message it is handed (as a file descriptor) into
 * its Maildir.  It never sees the network and holds no secrets.
 *
 * Deliveries that arrive together are committed together: each file is
 * written and fsynced on its own, but the new/ directory of a Maildir is
 * fsynced once for all of them before any result goes back to the queue.
 *
 * Each delivery happens once, also across crashes.  The queue removes an
 * envelope only after our result, so a crash in between makes it send
 * the envelope again after the restart, flagged as a retry.  Before a
 * retry writes anything, it looks for the earlier delivery: a mark (an
 * empty file named after the envelope in MARK_DIR, made after new/ was
 * fsynced and removed when the queue says the envelope is gone), else
 * the file itself, whose name carries the envelope id (maildir_find()).
 * The mark answers even after the user expunged the file.
 *
 * With quotas (quota.h), a message that would take its user's Maildir
 * over a limit is not written: a temporary failure (the queue retries)
 * or a permanent one (bounced), as mail.conf's "quota over" says, for
 * that recipient alone.  The check, the file and the line of the
 * Maildir's maildirsize are one locked transaction.  The lookup
 * process asks here at RCPT TO whether a Maildir is full already.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "authres.h"
#include "config.h"
#include "envelope.h"
#include "expand.h"
#include "maildir.h"
#include "proc.h"
#include "quota.h"
#include "safepath.h"
#include "util.h"

#define DELIVER_BATCH	64
#define MARK_DIR	".maild-delivered"	/* in the mailbox root */

/* struct job.found: the retry found the delivery done by */
#define FOUND_MARK	1
#define FOUND_FILE	2

struct job {
	TAILQ_ENTRY(job)	 entry;
	uint64_t		 evpid;
	int			 fd;
	struct mailaddr		 sender;
	struct dest		 dest;
	const char		*path;		/* inside our root, or NULL */
	char			 dkim[DKIM_HDR_MAX];	/* header lines or "" */
	char			 newfile[PATH_MAX];
	int			 retry;		/* an attempt may have been */
	int			 found;		/* FOUND_*: done before */
	int			 result;	/* 0, -1 temporary, -2 fatal */
	char			 err[ERRMSG_MAX];
	/* counted in this quota root, taken back if new/ fails */
	char			 qroot[PATH_MAX];
	struct quota_limits	 qlim;
	int64_t			 qbytes;
};

static void	deliver_queue(struct ipc_msg *);
static void	deliver_run(int, short, void *);
static int	deliver_done_before(struct job *);
static void	deliver_report(struct job *);
static void	deliver_marks_open(void);
static void	deliver_mark(uint64_t);
static void	deliver_unmark(struct ipc_msg *);
static int	deliver_drop(const char *, size_t, void *);
static int	deliver_one(struct job *);
static int	quota_limits_of(const struct mailaddr *,
		    struct quota_limits *);
static int	quota_begin(struct job *, struct quota_txn *);
static void	quota_undo(struct job *);
static void	deliver_quota(struct ipc_msg *);

static const struct maildir_filter deliver_filter = { deliver_drop, NULL };
static TAILQ_HEAD(, job)	 jobs = TAILQ_HEAD_INITIALIZER(jobs);
static struct event		 ev_run;
static char			 root[PATH_MAX];
static int			 marks = -1;	/* MARK_DIR, or -1: none */

void
deliver_main(void)
{
	config_purge_keys(conf);
	strlcpy(root, conf->vmail_root, sizeof(root));
	proc_drop(root);
	deliver_marks_open();
	proc_setup_peers();
	if (pledge("stdio rpath wpath cpath fattr flock recvfd", NULL) == -1)
		fatal("pledge");
	evtimer_set(&ev_run, deliver_run, NULL);
	event_dispatch();
}

/*
 * An Authentication-Results field that names this host as its author is
 * forged: ours goes in front of the message, outside what is filtered.
 * RFC 8601 section 5: removed, so that nobody can pass a check for us.
 */
static int
deliver_drop(const char *field, size_t len, void *arg)
{
	char	 id[AUTHRES_ID_MAX + 1];

	(void)arg;
	if (len < 23 || strncasecmp(field, "Authentication-Results", 22) != 0)
		return 0;
	return authres_authserv_id(field, len, id, sizeof(id)) >= 0 &&
	    strcasecmp(id, conf->hostname) == 0;
}

static void
deliver_queue(struct ipc_msg *m)
{
	struct timeval	 tv = { 0, 0 };
	struct mailaddr	 rcpt;
	struct job	*j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		fatal("calloc");
	j->evpid = ipc_get_u64(m);
	ipc_get_addr(m, &j->sender);
	ipc_get_addr(m, &rcpt);
	ipc_get_dest(m, &j->dest);
	ipc_get_str(m, j->dkim, sizeof(j->dkim));
	j->retry = ipc_get_u32(m) != 0;
	ipc_end(m);
	j->fd = ipc_get_fd(m);
	TAILQ_INSERT_TAIL(&jobs, j, entry);
	/* Run once everything already received has been queued. */
	if (!evtimer_pending(&ev_run, NULL))
		evtimer_add(&ev_run, &tv);
}

static void
deliver_run(int fd, short ev, void *arg)
{
	struct timeval	 tv = { 0, 0 };
	struct job	*batch[DELIVER_BATCH], *j;
	struct ipc_buf	 b;
	size_t		 n = 0, i, k;
	char		 err[ERRMSG_MAX];
	int		 r;

	(void)fd;
	(void)ev;
	(void)arg;
	while (n < DELIVER_BATCH && (j = TAILQ_FIRST(&jobs)) != NULL) {
		TAILQ_REMOVE(&jobs, j, entry);
		batch[n++] = j;
		if (j->dest.type != DEST_MAILDIR) {
			strlcpy(j->err, "not a mailbox destination",
			    sizeof(j->err));
			j->result = -2;
		} else if ((j->path = path_inside(root, j->dest.path)) ==
		    NULL) {
			/* Truncation of the message is fine. */
			if (snprintf(j->err, sizeof(j->err), "%s: outside the "
			    "mailbox root %s", j->dest.path, root) < 0)
				j->err[0] = '\0';
			j->result = -2;
		} else if (j->retry && (r = deliver_done_before(j)) != 0)
			j->result = r == 1 ? 0 : -1;
		else
			j->result = deliver_one(j);
		close(j->fd);
	}
	if (!TAILQ_EMPTY(&jobs))
		evtimer_add(&ev_run, &tv);

	/* One fsync of new/ per Maildir covers the whole batch. */
	for (i = 0; i < n; i++) {
		if (batch[i]->result != 0 || batch[i]->path == NULL ||
		    batch[i]->found == FOUND_MARK)
			continue;
		for (k = 0; k < i; k++)
			if (batch[k]->result == 0 && batch[k]->path != NULL &&
			    batch[k]->found != FOUND_MARK &&
			    strcmp(batch[k]->path, batch[i]->path) == 0)
				break;
		if (k < i)
			continue;	/* synced with an earlier one */
		if (maildir_sync(batch[i]->path, err, sizeof(err)) == 0)
			continue;
		/* Not durable: take those files back, the queue retries. */
		for (k = i; k < n; k++)
			if (batch[k]->result == 0 && batch[k]->path != NULL &&
			    batch[k]->found != FOUND_MARK &&
			    strcmp(batch[k]->path, batch[i]->path) == 0) {
				/* An earlier attempt's file stays. */
				if (!batch[k]->found) {
					/* Uncounted while it is still there. */
					quota_undo(batch[k]);
					(void)safe_unlink(batch[k]->newfile);
				}
				batch[k]->result = -1;
				strlcpy(batch[k]->err, err,
				    sizeof(batch[k]->err));
			}
	}
	for (i = 0; i < n; i++) {
		/* Durable in new/: a retry after a crash must not redo it. */
		if (batch[i]->result == 0 && batch[i]->found != FOUND_MARK)
			deliver_mark(batch[i]->evpid);
		deliver_report(batch[i]);
		/* IDLE sessions learn of it now, not at their next poll. */
		for (k = 0; k < i; k++)
			if (batch[k]->result == 0 && batch[i]->result == 0 &&
			    strcmp(batch[k]->path, batch[i]->path) == 0)
				break;
		if (batch[i]->result == 0 && k == i) {
			ipc_buf_init(&b);
			ipc_add_str(&b, batch[i]->path);
			proc_send_buf(PROC_IMAP, IMSG_I_NEW, -1, &b);
		}
	}
	for (i = 0; i < n; i++)
		free(batch[i]);
}

/* Write one message, within its user's quota: 0, -1, -2 (as j->result). */
static int
deliver_one(struct job *j)
{
	struct quota_txn	 q;
	uint64_t		 size;
	char			 err[ERRMSG_MAX];
	const char		*p;
	int			 r, qon, added;

	if ((qon = quota_begin(j, &q)) < 0)
		return qon;
	r = maildir_deliver_nosync(j->path, j->fd, &j->sender, &j->dest.addr,
	    j->dkim, j->evpid, &deliver_filter, j->newfile,
	    sizeof(j->newfile), j->err, sizeof(j->err));
	if (qon == 0)
		return r;
	/* The size written is in the file's name (",S="). */
	if (r == 0 && ((p = strrchr(j->newfile, '/')) == NULL ||
	    quota_name_size(p + 1, &size) == -1 || size > INT64_MAX))
		log_warnx("deliver: %s: no size in the name", j->newfile);
	else if (r == 0 && (added = quota_add(&q, (int64_t)size, 1, err,
	    sizeof(err))) == -1)
		log_warnx("deliver: quota %s: %s", j->qroot, err);
	else if (r == 0 && added == 1)
		j->qbytes = (int64_t)size;	/* a line says so */
	quota_close(&q);
	return r;
}

/* quota_user_limits() of a recipient: 0, or -1 (logged: defaults). */
static int
quota_limits_of(const struct mailaddr *addr, struct quota_limits *lim)
{
	char	 user[ADDR_MAX + 1], err[256];

	if (addr_to_text(addr, user, sizeof(user)) == -1)
		user[0] = '\0';
	if (quota_user_limits(conf, user, lim, err, sizeof(err)) == -1) {
		log_warnx("deliver: %s", err);
		return -1;
	}
	return 0;
}

/*
 * Before j is written: 1 its quota transaction is open in q, 0 no
 * quota (or it cannot be read: the message goes in, said in the log),
 * -1 or -2 over quota (temporary or permanent, as "quota over" says;
 * the reply in j->err).
 */
static int
quota_begin(struct job *j, struct quota_txn *q)
{
	struct stat	 st;
	char		 rcpt[ADDR_MAX + 1], from[ADDR_MAX + 1];
	char		 err[ERRMSG_MAX];
	uint64_t	 size;
	int		 r;

	if (!conf->quota)
		return 0;
	(void)quota_limits_of(&j->dest.addr, &j->qlim);
	if (quota_maildir_root(conf, &j->dest.addr, root, j->path, j->qroot,
	    sizeof(j->qroot)) == -1 ||
	    quota_open(q, j->qroot, &j->qlim, err, sizeof(err)) == -1) {
		log_warnx("deliver: quota of %s: %s, delivered unchecked",
		    j->dest.path, err);
		j->qroot[0] = '\0';
		return 0;
	}
	if (addr_to_text(&j->dest.addr, rcpt, sizeof(rcpt)) == -1)
		rcpt[0] = '\0';
	if (addr_to_text(&j->sender, from, sizeof(from)) == -1)
		from[0] = '\0';
	/* Its size to be: Return-Path, Delivered-To, DKIM, the file. */
	size = 32 + strlen(from) + strlen(rcpt) + strlen(j->dkim);
	if (fstat(j->fd, &st) == 0 && st.st_size > 0)
		size += (uint64_t)st.st_size;
	if ((r = quota_exceeds(q, size, 1)) == QUOTA_OK)
		return 1;
	quota_close(q);
	j->qroot[0] = '\0';
	(void)snprintf(j->err, sizeof(j->err), "%s <%s>: Mailbox full "
	    "(over its %s quota)", conf->quota_over == QUOTA_OVER_PERM ?
	    "552 5.2.2" : "452 4.2.2", rcpt, r == QUOTA_STORAGE ? "storage" :
	    "message");
	return conf->quota_over == QUOTA_OVER_PERM ? -2 : -1;
}

/*
 * A file counted, to be taken back (new/ could not be synced): before
 * it goes, so that a scan the open may make still sees it.
 */
static void
quota_undo(struct job *j)
{
	struct quota_txn	 q;
	char			 err[256];

	if (j->qroot[0] == '\0' || j->qbytes == 0)
		return;
	if (quota_open(&q, j->qroot, &j->qlim, err, sizeof(err)) == -1 ||
	    quota_add(&q, -j->qbytes, -1, err, sizeof(err)) == -1)
		log_warnx("deliver: quota %s: %s", j->qroot, err);
	quota_close(&q);
	j->qbytes = 0;
}

/*
 * IMSG_D_QUOTA: at RCPT TO, the lookup process asks whether the
 * Maildirs of a recipient are full; the answer counts those that are.
 * One that cannot be read counts as not full: delivery checks again.
 */
static void
deliver_quota(struct ipc_msg *m)
{
	struct quota_limits	 lim;
	struct quota_txn	 q;
	struct ipc_buf		 b;
	struct dest		 d;
	const char		*path;
	char			 qroot[PATH_MAX], err[256];
	uint64_t		 reqid;
	uint32_t		 n, i, full = 0;

	reqid = ipc_get_u64(m);
	n = ipc_get_u32(m);
	for (i = 0; i < n; i++) {
		memset(&d, 0, sizeof(d));
		d.type = DEST_MAILDIR;
		ipc_get_addr(m, &d.addr);
		ipc_get_str(m, d.path, sizeof(d.path));
		if (!conf->quota ||
		    (path = path_inside(root, d.path)) == NULL ||
		    quota_maildir_root(conf, &d.addr, root, path, qroot,
		    sizeof(qroot)) == -1)
			continue;
		(void)quota_limits_of(&d.addr, &lim);
		if (quota_open(&q, qroot, &lim, err, sizeof(err)) == -1) {
			log_warnx("deliver: quota of %s: %s", d.path, err);
			continue;
		}
		if (quota_exceeds(&q, 1, 1) != QUOTA_OK)
			full++;
		quota_close(&q);
	}
	ipc_end(m);
	ipc_buf_init(&b);
	ipc_add_u64(&b, reqid);
	ipc_add_u32(&b, full);
	proc_send_buf(PROC_LOOKUP, IMSG_D_QUOTA_RES, -1, &b);
}

/*
 * A retry: was the envelope delivered by an attempt that a crash
 * interrupted before the queue heard of it?  1 yes, 0 no, -1 cannot
 * tell now (err says why; the queue retries later).
 */
static int
deliver_done_before(struct job *j)
{
	struct stat	 st;
	char		 name[17];
	int		 r;

	(void)snprintf(name, sizeof(name), "%016llx",
	    (unsigned long long)j->evpid);
	if (marks != -1 && fstatat(marks, name, &st, AT_SYMLINK_NOFOLLOW) ==
	    0) {
		j->found = FOUND_MARK;
		return 1;
	}
	r = maildir_find(j->path, j->evpid, j->newfile, sizeof(j->newfile),
	    j->err, sizeof(j->err));
	if (r == 1)
		j->found = FOUND_FILE;	/* new/ is fsynced again below */
	return r;
}

static void
deliver_report(struct job *j)
{
	struct ipc_buf	 b;

	if (j->result == 0 && j->found)
		log_info("delivered %016llx to %s@%s (%s): already delivered "
		    "before a restart (%s)", (unsigned long long)j->evpid,
		    j->dest.addr.user, j->dest.addr.domain, j->dest.path,
		    j->found == FOUND_MARK ? "marked" : j->newfile);
	else if (j->result == 0)
		log_info("delivered %016llx to %s@%s (%s)",
		    (unsigned long long)j->evpid, j->dest.addr.user,
		    j->dest.addr.domain, j->dest.path);
	else
		log_warnx("delivery of %016llx to %s failed: %s",
		    (unsigned long long)j->evpid, j->dest.path, j->err);
	ipc_buf_init(&b);
	ipc_add_u64(&b, j->evpid);
	ipc_add_u32(&b, j->result == 0 ? 0 : (j->result == -2 ? 2 : 1));
	ipc_add_str(&b, j->err);
	proc_send_buf(PROC_QUEUE, IMSG_D_RESULT, -1, &b);
}

/*
 * MARK_DIR, created when missing; marks older than the queue's ttl are
 * left over by a crash between the envelope's removal and IMSG_D_DONE
 * and go.  Without the directory (a root we may not write), retries
 * still find delivered files by their names.
 */
static void
deliver_marks_open(void)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	time_t		 now = time(NULL);
	int		 fd;

	if (mkdir(MARK_DIR, 0700) == -1 && errno != EEXIST) {
		log_warn("deliver: mkdir %s/%s", root, MARK_DIR);
		return;
	}
	if ((marks = open(MARK_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		log_warn("deliver: open %s/%s", root, MARK_DIR);
		return;
	}
	if ((fd = dup(marks)) == -1 || (d = fdopendir(fd)) == NULL) {
		log_warn("deliver: read %s/%s", root, MARK_DIR);
		if (fd != -1)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != 16 ||
		    strspn(de->d_name, "0123456789abcdef") != 16)
			continue;
		if (fstatat(marks, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		    0 && now - st.st_mtime > conf->queue_ttl)
			(void)unlinkat(marks, de->d_name, 0);
	}
	closedir(d);
}

/* Best effort: without the mark, a retry still finds the file. */
static void
deliver_mark(uint64_t evpid)
{
	char	 name[17];
	int	 fd;

	if (marks == -1)
		return;
	(void)snprintf(name, sizeof(name), "%016llx",
	    (unsigned long long)evpid);
	if ((fd = openat(marks, name, O_WRONLY | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		log_warn("deliver: mark %s", name);
		return;
	}
	close(fd);
}

/* IMSG_D_DONE: the queue removed the envelope; its mark can go. */
static void
deliver_unmark(struct ipc_msg *m)
{
	char		 name[17];
	uint64_t	 evpid;

	evpid = ipc_get_u64(m);
	ipc_end(m);
	if (marks == -1)
		return;
	(void)snprintf(name, sizeof(name), "%016llx",
	    (unsigned long long)evpid);
	if (unlinkat(marks, name, 0) == -1 && errno != ENOENT)
		log_warn("deliver: unmark %s", name);
}

const struct proc_handler deliver_handlers[] = {
	{ IMSG_CONF_RELOAD,	proc_conf_stage },	/* the quotas */
	{ IMSG_CONF_QUOTA,	proc_conf_quota },
	{ IMSG_CONF_END,	proc_conf_end },
	{ IMSG_D_DELIVER,	deliver_queue },
	{ IMSG_D_DONE,		deliver_unmark },
	{ IMSG_D_QUOTA,		deliver_quota },
	{ IMSG_NONE,		NULL }
};
