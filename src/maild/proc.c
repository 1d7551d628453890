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

#include "config.h"
#include "proc.h"
#include "util.h"

struct proc_info procs[PROC_COUNT] = {
	[PROC_PARENT] =	 { "parent", "maild", 0, 0, NULL, parent_handlers },
	[PROC_LOOKUP] =	 { "lookup", "maild-lookup", 0, 0, lookup_main,
	    lookup_handlers },
	[PROC_SMTP] =	 { "smtp", "maild-smtp", 0, 0, smtp_main,
	    smtp_handlers },
	[PROC_QUEUE] =	 { "queue", "maild-queue", 0, 0, queue_main,
	    queue_handlers },
	[PROC_DELIVER] = { "deliver", "maild-deliver", 0, 1, deliver_main,
	    deliver_handlers },
	[PROC_CONTROL] = { "control", "maild-control", 0, 0, control_main,
	    control_handlers },
	[PROC_RELAY] =	 { "relay", "maild-relay", 0, 0, relay_main,
	    relay_handlers },
	[PROC_IMAP] =	 { "imap", "maild-imap", 0, 1, imap_main,
	    imap_handlers },
	[PROC_FILTER] =	 { "filter", "maild-filter", 0, 0, filter_main,
	    filter_handlers },
};

/* This process's handler of each message type; NULL: not received. */
static void	(*handler[IMSG_COUNT])(struct ipc_msg *);
static int	 hello_seen;

enum proc_type		 proc_self = PROC_PARENT;
struct ipc		 peers[PROC_COUNT];
struct maild_conf	*conf;
int			 privileged;
int			 pairfd[PROC_COUNT][PROC_COUNT];

static void	proc_close_sockets(enum proc_type);

static uid_t	 drop_uid;
static gid_t	 drop_gid;

static void	proc_lost(struct ipc *);
static void	proc_dispatch(struct ipc *, struct ipc_msg *);
static void	proc_handlers_init(void);
static void	proc_hello_check(struct ipc_msg *);

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
	proc_handlers_init();
	for (p = 0; p < PROC_COUNT; p++) {
		if (p == proc_self || pairfd[proc_self][p] == -1)
			continue;
		ipc_init(&peers[p], pairfd[proc_self][p], procs[p].name,
		    proc_dispatch, NULL);
	}
}

/*
 * This process's table, checked against imsg.h at start: a handler for
 * a message it cannot receive, or none for one it can, is a bug.
 */
static void
proc_handlers_init(void)
{
	const struct proc_handler	*h;
	uint32_t			 t, self = 1U << proc_self;
	char				 err[128];

	for (t = IMSG_NONE + 1; t < IMSG_COUNT; t++)
		if (imsg_fields_valid(imsg_info[t].fields, err,
		    sizeof(err)) == -1)
			fatalx("IMSG_%s: %s", imsg_info[t].name, err);
	memset(handler, 0, sizeof(handler));
	for (h = procs[proc_self].handlers; h->fn != NULL; h++) {
		if (h->type == IMSG_NONE || h->type >= IMSG_COUNT ||
		    !(imsg_info[h->type].to & self) || handler[h->type] != NULL)
			fatalx("%s: bad handler for message %u",
			    procs[proc_self].name, h->type);
		handler[h->type] = h->fn;
	}
	if ((imsg_info[IMSG_HELLO].to & self) && handler[IMSG_HELLO] == NULL)
		handler[IMSG_HELLO] = proc_hello_check;
	if ((imsg_info[IMSG_CTL_LOG].to & self) &&
	    handler[IMSG_CTL_LOG] == NULL)
		handler[IMSG_CTL_LOG] = proc_ctl_log;
	for (t = IMSG_NONE + 1; t < IMSG_COUNT; t++)
		if ((imsg_info[t].to & self) && handler[t] == NULL)
			fatalx("%s: no handler for IMSG_%s",
			    procs[proc_self].name, imsg_info[t].name);
}

/*
 * Every message comes through here: the type is known, this process may
 * receive it from that sender, the descriptor is there if and only if
 * the type has one, the parent has said hello first; the handler reads
 * the fields in order (ipc.c checks them) and all of them.
 */
static void
proc_dispatch(struct ipc *ipc, struct ipc_msg *m)
{
	const struct imsg_info	*mi;
	const char		*self = procs[proc_self].name;
	int			 from;

	from = (int)(ipc - peers);
	if (from < 0 || from >= PROC_COUNT)
		fatalx("%s: message from an unknown channel", self);
	if (m->type == IMSG_NONE || m->type >= IMSG_COUNT)
		fatalx("%s: unknown message %u from %s", self, m->type,
		    m->peer);
	mi = &imsg_info[m->type];
	if (!(mi->from & (1U << from)) || handler[m->type] == NULL)
		fatalx("%s: unexpected IMSG_%s from %s", self, mi->name,
		    m->peer);
	if ((m->fd != -1) != (mi->fd == IMSG_FD))
		fatalx("%s: IMSG_%s from %s %s a descriptor", self, mi->name,
		    m->peer, m->fd != -1 ? "with" : "without");
	if (from == PROC_PARENT && !hello_seen && m->type != IMSG_HELLO)
		fatalx("%s: IMSG_%s from the parent before IMSG_HELLO", self,
		    mi->name);
	m->from = from;
	ipc_fields_begin(m, mi->fields);
	handler[m->type](m);
	ipc_end(m);
}

void
proc_hello(void)
{
	struct ipc_buf	 b;
	enum proc_type	 p;

	ipc_buf_init(&b);
	ipc_add_u32(&b, IMSG_VERSION);
	ipc_add_u32(&b, imsg_layout());
	for (p = 1; p < PROC_COUNT; p++)
		proc_send_buf(p, IMSG_HELLO, -1, &b);
}

static void
proc_hello_check(struct ipc_msg *m)
{
	uint32_t	 version, layout;

	version = ipc_get_u32(m);
	layout = ipc_get_u32(m);
	ipc_end(m);
	if (version != IMSG_VERSION || layout != imsg_layout())
		fatalx("%s: the parent speaks version %u (layout %08x), this "
		    "process %u (%08x): maild built twice?",
		    procs[proc_self].name, version, layout, IMSG_VERSION,
		    imsg_layout());
	hello_seen = 1;
}

void
proc_check(enum proc_type p, uint32_t type, int fd, const struct ipc_buf *b)
{
	const struct imsg_info	*mi;
	char			 err[256];

	if (type == IMSG_NONE || type >= IMSG_COUNT)
		fatalx("%s: sending unknown message %u",
		    procs[proc_self].name, type);
	mi = &imsg_info[type];
	if (!(mi->from & (1U << proc_self)) || !(mi->to & (1U << p)))
		fatalx("%s: IMSG_%s is not for %s to send to %s",
		    procs[proc_self].name, mi->name, procs[proc_self].name,
		    procs[p].name);
	if ((fd != -1) != (mi->fd == IMSG_FD))
		fatalx("%s: IMSG_%s %s a descriptor", procs[proc_self].name,
		    mi->name, fd != -1 ? "with" : "without");
	if (imsg_fields_check(mi->fields, b != NULL ? b->kinds : "", err,
	    sizeof(err)) == -1)
		fatalx("%s: IMSG_%s to %s: %s", procs[proc_self].name,
		    mi->name, procs[p].name, err);
}

void
proc_send_raw(enum proc_type p, uint32_t type, int fd, const void *data,
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
	proc_check(p, type, fd, b);
	if (b == NULL)
		proc_send_raw(p, type, fd, NULL, 0);
	else
		proc_send_raw(p, type, fd, b->data, b->len);
}

uint64_t	 stats[ST_COUNT];
static const char *stat_names[] = {
	"smtp.sessions", "smtp.sessions.tls", "smtp.refused.rdns",
	"smtp.refused.dnsbl", "smtp.dnsbl.errors",
	"smtp.auth.ok", "smtp.auth.fail", "smtp.messages", "smtp.recipients",
	"smtp.greylisted", "smtp.greylist.passed", "smtp.greylist.whitelisted",
	"smtp.refused.quota",
	"imap.sessions", "imap.sessions.tls", "imap.auth.ok",
	"imap.auth.fail",
	"queue.delivered.local", "queue.delivered.relay", "queue.deferred",
	"queue.failed", "queue.bounces", "queue.removed",
	"queue.checked", "queue.checked.spf.pass", "queue.checked.dkim.pass",
	"queue.checked.dmarc.pass", "queue.checked.dmarc.fail",
	"queue.checked.refused", "queue.checked.deferred",
	"queue.checked.junk",
	"rspamd.scanned", "rspamd.rejected", "rspamd.softrejected",
	"rspamd.junked", "rspamd.learned", "rspamd.errors",
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
		if ((strncmp(stat_names[i], name, len) == 0 &&
		    stat_names[i][len] == '.') ||
		    /* rspamd's verdicts are counted where they are applied. */
		    (proc_self == PROC_QUEUE &&
		    strncmp(stat_names[i], "rspamd.", 7) == 0))
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

void
proc_conf_end(struct ipc_msg *m)
{
	(void)proc_conf_commit(m);
}

void
proc_conf_ignore(struct ipc_msg *m)
{
	ipc_end(m);
	close(ipc_get_fd(m));
}

void
proc_conf_quota(struct ipc_msg *m)
{
	struct maild_conf	*c;
	struct table		*t;
	char			 name[NAME_MAX_CONF], err[512];
	int			 fd;

	ipc_get_str(m, name, sizeof(name));
	ipc_end(m);
	fd = ipc_get_fd(m);
	c = staging != NULL ? staging : conf;
	t = config_table(c, name);
	if (c != conf && (t == NULL || !(t->flags & T_QUOTA)))
		fatalx("%s: parent sent table %s", procs[proc_self].name,
		    name);
	if (t == NULL || !(t->flags & T_QUOTA) || (c == conf && t->loaded))
		log_debug("%s: table %s dropped (reload failed)",
		    procs[proc_self].name, name);
	else if (table_load_fd(t, fd, err, sizeof(err)) == -1)
		log_warnx("%s", err);	/* the default limits apply */
	else
		log_debug("%s: table %s: %zu entries", procs[proc_self].name,
		    t->name, t->count);
	close(fd);
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
	proc_send_buf(PROC_PARENT, IMSG_CONF_DONE, -1, NULL);
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
	/* Not in the file: the parent's, from the environment (maild.c). */
	if (c != NULL) {
		c->relay_port = conf->relay_port;
		c->test_remote = conf->test_remote;
		c->test_remote_plen = conf->test_remote_plen;
	}
	return c;
}
