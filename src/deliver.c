/*
 * The deliver process: runs as the vmail user, chrooted to the mailbox
 * root, and writes each message it is handed (as a file descriptor) into
 * its Maildir.  It never sees the network and holds no secrets.
 */
#include <sys/types.h>

#include <string.h>
#include <unistd.h>

#include "proc.h"

static void	deliver_one(struct ipc_msg *);

static char	root[PATH_MAX];

void
deliver_main(void)
{
	config_purge_keys(conf);
	strlcpy(root, conf->vmail_root, sizeof(root));
	proc_drop(root);
	proc_setup_peers();
	if (pledge("stdio rpath wpath cpath fattr recvfd", NULL) == -1)
		fatal("pledge");
	event_dispatch();
}

/* The mailbox path as seen from inside our root; NULL if outside. */
static const char *
deliver_path(const char *path)
{
	size_t	 len = strlen(root);

	if (strcmp(root, "/") == 0)
		return path[0] == '/' && path[1] != '\0' ? path + 1 : NULL;
	if (strncmp(path, root, len) != 0 || path[len] != '/' ||
	    path[len + 1] == '\0')
		return NULL;
	return path + len + 1;
}

static void
deliver_one(struct ipc_msg *m)
{
	struct mailaddr	 sender, rcpt;
	struct dest	 dest;
	struct ipc_buf	 b;
	const char	*path;
	char		 err[ERRMSG_MAX] = "";
	uint64_t	 evpid;
	int		 fd, r;

	evpid = ipc_get_u64(m);
	ipc_get(m, &sender, sizeof(sender));
	ipc_get(m, &rcpt, sizeof(rcpt));
	ipc_get(m, &dest, sizeof(dest));
	ipc_end(m);
	fd = ipc_get_fd(m);
	sender.user[sizeof(sender.user) - 1] = '\0';
	sender.domain[sizeof(sender.domain) - 1] = '\0';
	dest.addr.user[sizeof(dest.addr.user) - 1] = '\0';
	dest.addr.domain[sizeof(dest.addr.domain) - 1] = '\0';
	dest.path[sizeof(dest.path) - 1] = '\0';

	if (dest.type != DEST_MAILDIR) {
		strlcpy(err, "not a mailbox destination", sizeof(err));
		r = -2;
	} else if ((path = deliver_path(dest.path)) == NULL) {
		/* Truncation of the message is fine. */
		if (snprintf(err, sizeof(err), "%s: outside the mailbox "
		    "root %s", dest.path, root) < 0)
			err[0] = '\0';
		r = -2;
	} else
		r = maildir_deliver(path, fd, &sender, &dest.addr, err,
		    sizeof(err));
	close(fd);
	if (r == 0)
		log_info("delivered %016llx to %s@%s (%s)",
		    (unsigned long long)evpid, dest.addr.user,
		    dest.addr.domain, dest.path);
	else
		log_warnx("delivery of %016llx to %s failed: %s",
		    (unsigned long long)evpid, dest.path, err);
	ipc_buf_init(&b);
	ipc_add_u64(&b, evpid);
	ipc_add_u32(&b, r == 0 ? 0 : (r == -2 ? 2 : 1));
	ipc_add_str(&b, err);
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
	case IMSG_CONF_END:
		ipc_end(m);
		break;
	case IMSG_D_DELIVER:
		deliver_one(m);
		break;
	default:
		fatalx("deliver: unexpected message %u from %s", m->type,
		    m->peer);
	}
}
