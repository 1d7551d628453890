/*
 * The deliver process: runs as the vmail user, chrooted to the mailbox
 * root, and writes each message it is handed (as a file descriptor) into
 * its Maildir.  It never sees the network and holds no secrets.
 *
 * Deliveries that arrive together are committed together: each file is
 * written and fsynced on its own, but the new/ directory of a Maildir is
 * fsynced once for all of them before any result goes back to the queue.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "safepath.h"

#define DELIVER_BATCH	64

struct job {
	TAILQ_ENTRY(job)	 entry;
	uint64_t		 evpid;
	int			 fd;
	struct mailaddr		 sender;
	struct dest		 dest;
	const char		*path;		/* inside our root, or NULL */
	char			 dkim[DKIM_HDR_MAX];	/* header lines or "" */
	char			 newfile[PATH_MAX];
	int			 result;	/* 0, -1 temporary, -2 permanent */
	char			 err[ERRMSG_MAX];
};

static void	deliver_queue(struct ipc_msg *);
static void	deliver_run(int, short, void *);
static void	deliver_report(struct job *);

static TAILQ_HEAD(, job)	 jobs = TAILQ_HEAD_INITIALIZER(jobs);
static struct event		 ev_run;
static char			 root[PATH_MAX];

void
deliver_main(void)
{
	config_purge_keys(conf);
	strlcpy(root, conf->vmail_root, sizeof(root));
	proc_drop(root);
	proc_setup_peers();
	if (pledge("stdio rpath wpath cpath fattr recvfd", NULL) == -1)
		fatal("pledge");
	evtimer_set(&ev_run, deliver_run, NULL);
	event_dispatch();
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
	ipc_get(m, &j->sender, sizeof(j->sender));
	ipc_get(m, &rcpt, sizeof(rcpt));
	ipc_get(m, &j->dest, sizeof(j->dest));
	ipc_get_str(m, j->dkim, sizeof(j->dkim));
	ipc_end(m);
	j->fd = ipc_get_fd(m);
	j->sender.user[sizeof(j->sender.user) - 1] = '\0';
	j->sender.domain[sizeof(j->sender.domain) - 1] = '\0';
	j->dest.addr.user[sizeof(j->dest.addr.user) - 1] = '\0';
	j->dest.addr.domain[sizeof(j->dest.addr.domain) - 1] = '\0';
	j->dest.path[sizeof(j->dest.path) - 1] = '\0';
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
		} else if ((j->path = path_inside(root, j->dest.path)) == NULL) {
			/* Truncation of the message is fine. */
			if (snprintf(j->err, sizeof(j->err), "%s: outside the "
			    "mailbox root %s", j->dest.path, root) < 0)
				j->err[0] = '\0';
			j->result = -2;
		} else
			j->result = maildir_deliver_nosync(j->path, j->fd,
			    &j->sender, &j->dest.addr, j->dkim, j->newfile,
			    sizeof(j->newfile), j->err, sizeof(j->err));
		close(j->fd);
	}
	if (!TAILQ_EMPTY(&jobs))
		evtimer_add(&ev_run, &tv);

	/* One fsync of new/ per Maildir covers the whole batch. */
	for (i = 0; i < n; i++) {
		if (batch[i]->result != 0 || batch[i]->path == NULL)
			continue;
		for (k = 0; k < i; k++)
			if (batch[k]->path != NULL &&
			    strcmp(batch[k]->path, batch[i]->path) == 0)
				break;
		if (k < i)
			continue;	/* synced with an earlier one */
		if (maildir_sync(batch[i]->path, err, sizeof(err)) == 0)
			continue;
		/* Not durable: take those files back, the queue retries. */
		for (k = i; k < n; k++)
			if (batch[k]->result == 0 && batch[k]->path != NULL &&
			    strcmp(batch[k]->path, batch[i]->path) == 0) {
				(void)safe_unlink(batch[k]->newfile);
				batch[k]->result = -1;
				strlcpy(batch[k]->err, err,
				    sizeof(batch[k]->err));
			}
	}
	for (i = 0; i < n; i++) {
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

static void
deliver_report(struct job *j)
{
	struct ipc_buf	 b;

	if (j->result == 0)
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

void
deliver_dispatch(struct ipc *ipc, struct ipc_msg *m)
{
	(void)ipc;
	switch (m->type) {
	case IMSG_CONF_RELOAD:
		ipc_end(m);
		close(ipc_get_fd(m));	/* nothing here depends on it */
		break;
	case IMSG_CTL_LOG:
		proc_ctl_log(m);
		break;
	case IMSG_CONF_END:
		(void)proc_conf_commit(m);
		break;
	case IMSG_D_DELIVER:
		deliver_queue(m);
		break;
	default:
		fatalx("deliver: unexpected message %u from %s", m->type,
		    m->peer);
	}
}
