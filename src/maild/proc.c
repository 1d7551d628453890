/*
 * Process plumbing: forking a role, dropping privileges in the same order
 * for every role, connecting a process to its peers, and the helpers to
 * pass large data (configuration text) as file descriptors.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

struct proc_info procs[PROC_COUNT] = {
	[PROC_PARENT] =	 { "parent", "maild", 0, 0, NULL, parent_dispatch },
	[PROC_LOOKUP] =	 { "lookup", "maild-lookup", 0, 0, lookup_main,
	    lookup_dispatch },
	[PROC_SMTP] =	 { "smtp", "maild-smtp", 0, 0, smtp_main,
	    smtp_dispatch },
	[PROC_QUEUE] =	 { "queue", "maild-queue", 0, 0, queue_main,
	    queue_dispatch },
	[PROC_DELIVER] = { "deliver", "maild-deliver", 0, 1, deliver_main,
	    deliver_dispatch },
	[PROC_CONTROL] = { "control", "maild-control", 0, 0, control_main,
	    control_dispatch },
	[PROC_RELAY] =	 { "relay", "maild-relay", 0, 0, relay_main,
	    relay_dispatch },
	[PROC_IMAP] =	 { "imap", "maild-imap", 0, 1, imap_main,
	    imap_dispatch },
};

enum proc_type		 proc_self = PROC_PARENT;
struct ipc		 peers[PROC_COUNT];
struct maild_conf	*conf;
int			 privileged;
int			 pairfd[PROC_COUNT][PROC_COUNT];

static void	proc_close_sockets(enum proc_type);

static uid_t	 drop_uid;
static gid_t	 drop_gid;

static void	proc_lost(struct ipc *);

pid_t
proc_fork(enum proc_type t, uid_t uid, gid_t gid, const char *title)
{
	pid_t	 pid;
	int	 a, b;

	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid != 0)
		return pid;

	/* Only the parent decides how the daemon ends (see proc_lost). */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	proc_self = t;
	drop_uid = uid;
	drop_gid = gid;
	log_procname(procs[t].name);
	setproctitle("%s", title);
#ifdef __linux__
	(void)prctl(PR_SET_NAME, procs[t].title, 0, 0, 0);
#endif
	for (a = 0; a < PROC_COUNT; a++)
		for (b = 0; b < PROC_COUNT; b++)
			if (a != (int)t && pairfd[a][b] != -1) {
				close(pairfd[a][b]);
				pairfd[a][b] = -1;
			}
	/* Listeners and the control socket belong to one process each. */
	proc_close_sockets(t);
	procs[t].main();
	exit(0);
}

static void
proc_close_sockets(enum proc_type t)
{
	struct listener	*l;

	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if (l->fd == -1)
			continue;
		if ((l->proto == PROTO_SMTP && t == PROC_SMTP) ||
		    (l->proto == PROTO_IMAP && t == PROC_IMAP))
			continue;
		close(l->fd);
		l->fd = -1;
	}
	if (t != PROC_CONTROL && control_fd != -1) {
		close(control_fd);
		control_fd = -1;
	}
}

/*
 * The common start of every child, after what it must do as root:
 * chroot (or chdir when unprivileged), drop groups and ids, forbid
 * regaining privileges.
 */
void
proc_drop(const char *root)
{
	if (privileged) {
		if (chroot(root) == -1)
			fatal("chroot %s", root);
		if (chdir("/") == -1)
			fatal("chdir /");
		if (setgroups(1, &drop_gid) == -1 ||
		    setresgid(drop_gid, drop_gid, drop_gid) == -1 ||
		    setresuid(drop_uid, drop_uid, drop_uid) == -1)
			fatal("cannot drop privileges");
	} else if (strcmp(root, MAILD_EMPTY) == 0) {
		if (chdir("/") == -1)
			fatal("chdir /");
	} else if (chdir(root) == -1)
		fatal("chdir %s", root);
	compat_no_new_privs();
}

/*
 * A peer went away: it died (the parent logs why and stops everything)
 * or the parent closed our channel to stop the daemon.  Either way
 * there is nothing to add.  Children ignore signals meant for the
 * daemon (a SIGTERM to the whole group, Ctrl-C) so that only the
 * parent decides and reports how the daemon ends.
 */
static void
proc_lost(struct ipc *ipc)
{
	if (ipc == &peers[PROC_PARENT]) {
		log_debug("parent closed our channel, exiting");
		exit(0);
	}
	/* The parent is about to stop everything and log why. */
	log_debug("lost connection to %s", ipc->peer);
	ipc_close(ipc);
}

/* Event loop, signals and peers of a child; after proc_drop(). */
void
proc_setup_peers(void)
{
	enum proc_type		 p;

	event_init();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	ipc_lost_hook = proc_lost;
	for (p = 0; p < PROC_COUNT; p++) {
		if (p == proc_self || pairfd[proc_self][p] == -1)
			continue;
		ipc_init(&peers[p], pairfd[proc_self][p], procs[p].name,
		    procs[proc_self].dispatch, NULL);
	}
}

void
proc_send(enum proc_type p, uint32_t type, int fd, const void *data,
    size_t len)
{
	if (peers[p].rbuf == NULL) {
		/* That peer died; the parent is stopping the daemon. */
		if (fd != -1)
			close(fd);
		return;
	}
	ipc_send(&peers[p], type, fd, data, len);
}

void
proc_send_buf(enum proc_type p, uint32_t type, int fd,
    const struct ipc_buf *b)
{
	proc_send(p, type, fd, b->data, b->len);
}

uint64_t	 stats[ST_COUNT];
static const char *stat_names[] = {
	"smtp.sessions", "smtp.sessions.tls", "smtp.refused.rdns",
	"smtp.auth.ok", "smtp.auth.fail", "smtp.messages", "smtp.recipients",
	"imap.sessions", "imap.sessions.tls", "imap.auth.ok",
	"imap.auth.fail",
	"queue.delivered.local", "queue.delivered.relay", "queue.deferred",
	"queue.failed", "queue.bounces", "queue.removed",
	"relay.sessions", "relay.sessions.tls",
};
_Static_assert(nitems(stat_names) == ST_COUNT,
    "one name for each counter of enum stat_counter");

static void
proc_ctl_send(uint64_t id, uint32_t status, const char *fmt, va_list ap)
{
	struct ipc_buf	 b;
	char		 text[2048];

	(void)vsnprintf(text, sizeof(text), fmt, ap);
	ipc_buf_init(&b);
	ipc_add_u64(&b, id);
	ipc_add_u32(&b, status);
	ipc_add_str(&b, text);
	proc_send_buf(PROC_CONTROL, IMSG_CTL_RES, -1, &b);
}

void
proc_ctl_line(uint64_t id, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	proc_ctl_send(id, CTL_LINE, fmt, ap);
	va_end(ap);
}

void
proc_ctl_end(uint64_t id, int ok, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	proc_ctl_send(id, ok ? CTL_OK : CTL_ERR, fmt, ap);
	va_end(ap);
}

void
proc_ctl_stats(uint64_t id)
{
	const char	*name = procs[proc_self].name;
	size_t		 i, len = strlen(name);

	for (i = 0; i < ST_COUNT; i++)
		if (strncmp(stat_names[i], name, len) == 0 &&
		    stat_names[i][len] == '.')
			proc_ctl_line(id, "%s=%llu", stat_names[i],
			    (unsigned long long)stats[i]);
}

void
proc_ctl_log(struct ipc_msg *m)
{
	uint32_t	 v;

	v = ipc_get_u32(m);
	ipc_end(m);
	log_setverbose(v != 0);
}

int
proc_blob_fd(const void *buf, size_t len)
{
	int		 fd;

#ifdef __linux__
	if ((fd = memfd_create("maild", MFD_CLOEXEC)) == -1)
		fatal("memfd_create");
#else
	char		 path[] = "/tmp/maild.XXXXXXXXXX";

	if ((fd = mkstemp(path)) == -1)
		fatal("mkstemp");
	unlink(path);
#endif
	if (write_full(fd, buf, len) == -1)
		fatal("write blob");
	if (lseek(fd, 0, SEEK_SET) == -1)
		fatal("lseek");
	return fd;
}


/*
 * Reload in a child: IMSG_CONF_RELOAD stages the new configuration (the
 * parent has checked it already), the messages that follow fill it
 * (tables, certificates), IMSG_CONF_END makes it current.
 */
static struct maild_conf	*staging;

void
proc_conf_stage(struct ipc_msg *m)
{
	ipc_end(m);
	if (staging != NULL)
		config_free(staging);
	if ((staging = proc_conf_from_fd(ipc_get_fd(m))) == NULL)
		log_warnx("reload failed, keeping the running configuration");
}

struct maild_conf *
proc_conf_staged(void)
{
	return staging;
}

int
proc_conf_commit(struct ipc_msg *m)
{
	ipc_end(m);
	/* Whatever comes next is handled with it: mailctl reload may say so. */
	proc_send(PROC_PARENT, IMSG_CONF_DONE, -1, NULL, 0);
	if (staging == NULL)
		return 0;
	config_free(conf);
	conf = staging;
	staging = NULL;
	return 1;
}

struct maild_conf *
proc_conf_from_fd(int fd)
{
	struct maild_conf	*c;
	char			*buf;
	size_t			 len;

	if ((buf = read_fd(fd, 1024 * 1024, &len)) == NULL)
		fatal("read configuration");
	close(fd);
	c = config_parse_buf(conf->path, buf, len, CONF_NOFILES);
	free(buf);
	return c;
}
