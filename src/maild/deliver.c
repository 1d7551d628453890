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
};

static void	deliver_queue(struct ipc_msg *);
static void	deliver_run(int, short, void *);
static int	deliver_done_before(struct job *);
static void	deliver_report(struct job *);
static void	deliver_marks_open(void);
static void	deliver_mark(uint64_t);
static void	deliver_unmark(struct ipc_msg *);
static int	deliver_drop(const char *, size_t, void *);

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
	if (pledge("stdio rpath wpath cpath fattr recvfd", NULL) == -1)
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
			j->result = maildir_deliver_nosync(j->path, j->fd,
			    &j->sender, &j->dest.addr, j->dkim, j->evpid,
			    &deliver_filter,
			    j->newfile, sizeof(j->newfile), j->err,
			    sizeof(j->err));
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
				if (!batch[k]->found)
					(void)safe_unlink(batch[k]->newfile);
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
	{ IMSG_CONF_RELOAD,	proc_conf_ignore },	/* nothing uses it */
	{ IMSG_CONF_END,	proc_conf_end },
	{ IMSG_D_DELIVER,	deliver_queue },
	{ IMSG_D_DONE,		deliver_unmark },
	{ IMSG_NONE,		NULL }
};
