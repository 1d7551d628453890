/*
 * maild: the parent process.  It parses mail.conf, binds the listening
 * sockets and the control socket, forks one process per role, hands the
 * lookup process its tables and the smtp process its certificates, and
 * supervises: SIGHUP reloads, SIGTERM stops, a child's death stops all.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "log.h"
#include "offline.h"
#include "proc.h"
#include "table.h"

static void	usage(void) __attribute__((__noreturn__));
static void	parent_sig(int, short, void *);
static void	parent_shutdown(int);
static int	parent_check_tables(struct maild_conf *);
static void	parent_send_tables(struct maild_conf *);
static void	parent_send_quota(const struct table *);
static void	parent_send_pkis(struct maild_conf *);
static void	parent_send_dkim(struct maild_conf *);
static void	parent_send_psl(struct maild_conf *);
static int	parent_reload(void);
static void	parent_ctl(struct ipc_msg *);
static void	parent_conf_done(struct ipc_msg *);
static void	parent_lost(struct ipc *);
static void	parent_child_died(enum proc_type, int);
static void	bind_listeners(struct maild_conf *);
static int	bind_control(const char *);
static void	make_dir(const char *, uid_t, gid_t, mode_t);
static void	lookup_user(const char *, uid_t *, gid_t *);
static void	raise_fd_limit(void);
static int	test_relay_port(void);
static void	test_remote_net(struct maild_conf *);

static char		*conf_text;
static size_t		 conf_len;
static int		 shutting_down;
static time_t		 started;
/* Reload acknowledgements still to come, and the mailctl waiting. */
static int		 reload_acks;
static uint64_t		 reload_waiting[16];
static size_t		 nreload_waiting;
int			 control_fd = -1;

static void
usage(void)
{
	fprintf(stderr, "usage: maild [-dnv] [-f file]\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct event	 ev_hup, ev_term, ev_int, ev_chld;
	struct listener	*l;
	const char	*path = MAILD_CONF;
	uid_t		 uid = 0, vuid = 0;
	gid_t		 gid = 0, vgid = 0;
	int		 ch, fg = 0, check = 0, verbose = 0, a, b, sp[2];
	enum proc_type	 p;

	while ((ch = getopt(argc, argv, "df:Knv")) != -1) {
		switch (ch) {
		case 'd':
			fg = 1;
			break;
		case 'K':
			/* Not in usage: for tests/integration/44-manpages.t. */
			config_keywords(stdout);
			exit(0);
		case 'f':
			path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init(fg || check, verbose);
	log_procname("maild");
	if ((conf = config_parse_file(path, 0, &conf_text, &conf_len)) ==
	    NULL)
		exit(1);
	if (parent_check_tables(conf) == -1)
		exit(1);
	conf->relay_port = test_relay_port();
	test_remote_net(conf);
	if (check) {
		if (verbose)
			config_dump(conf, stdout);
		printf("configuration OK\n");
		exit(0);
	}

	privileged = geteuid() == 0;
	if (privileged) {
		lookup_user(conf->user, &uid, &gid);
		lookup_user(conf->vmail_user, &vuid, &vgid);
		make_dir(MAILD_EMPTY, 0, 0, 0755);
		/* 0711: users reach the offline directory, nothing else. */
		make_dir(conf->spool, uid, gid, 0711);
		make_dir(conf->vmail_root, vuid, vgid, 0700);
	} else {
		log_warnx("running without privileges: no chroot, no "
		    "privilege separation by user (development mode)");
		make_dir(conf->spool, getuid(), getgid(), 0700);
		make_dir(conf->vmail_root, getuid(), getgid(), 0700);
	}
	raise_fd_limit();
	bind_listeners(conf);
	control_fd = bind_control(conf->socket);

	if (!fg && daemon(0, 0) == -1)
		fatal("daemon");

	for (a = 0; a < PROC_COUNT; a++)
		for (b = 0; b < PROC_COUNT; b++)
			pairfd[a][b] = -1;
	for (a = 0; a < PROC_COUNT; a++)
		for (b = a + 1; b < PROC_COUNT; b++) {
			if (!imsg_channel(a, b))
				continue;	/* nothing to tell each other */
			if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
				fatal("socketpair");
			pairfd[a][b] = sp[0];
			pairfd[b][a] = sp[1];
		}
	signal(SIGPIPE, SIG_IGN);
	for (p = 1; p < PROC_COUNT; p++)
		procs[p].pid = proc_fork(p, procs[p].vmail ? vuid : uid,
		    procs[p].vmail ? vgid : gid, procs[p].title);
	/* The parent keeps only its own channels. */
	for (a = 1; a < PROC_COUNT; a++)
		for (b = 0; b < PROC_COUNT; b++)
			if (pairfd[a][b] != -1) {
				close(pairfd[a][b]);
				pairfd[a][b] = -1;
			}
	TAILQ_FOREACH(l, &conf->listeners, entry)
		if (l->fd != -1) {
			close(l->fd);
			l->fd = -1;
		}
	close(control_fd);
	config_purge_keys(conf);

	proc_setup_peers();
	proc_hello();
	ipc_lost_hook = parent_lost;
	signal(SIGHUP, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal_set(&ev_hup, SIGHUP, parent_sig, NULL);
	signal_set(&ev_term, SIGTERM, parent_sig, NULL);
	signal_set(&ev_int, SIGINT, parent_sig, NULL);
	signal_set(&ev_chld, SIGCHLD, parent_sig, NULL);
	signal_add(&ev_hup, NULL);
	signal_add(&ev_term, NULL);
	signal_add(&ev_int, NULL);
	signal_add(&ev_chld, NULL);

	parent_send_tables(conf);
	proc_send_buf(PROC_LOOKUP, IMSG_CONF_END, -1, NULL);
	parent_send_psl(conf);
	offline_init(fg, verbose);
	log_info("maild %s starting", MAILD_VERSION);
	started = time(NULL);
	event_dispatch();
	return 0;
}

/*
 * The port of MX hosts: 25, or MAILD_TEST_RELAY_PORT for tests that run
 * the "remote" servers on loopback (maild(8) ENVIRONMENT).  It is not a
 * mail.conf setting: read once here, it reaches the relay process in
 * struct maild_conf at fork and is kept across reloads.
 */
static int
test_relay_port(void)
{
	const char	*s;
	char		*end;
	long		 port;

	if ((s = getenv("MAILD_TEST_RELAY_PORT")) == NULL || *s == '\0')
		return DEFAULT_RELAY_PORT;
	errno = 0;
	port = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || port < 1 || port > 65535)
		fatalx("MAILD_TEST_RELAY_PORT %.32s is not a port (1 to 65535)",
		    s);
	log_info("MAILD_TEST_RELAY_PORT: relaying to port %ld", port);
	return (int)port;
}

/*
 * MAILD_TEST_REMOTE_NET=ADDR/LEN: loopback clients in that network are
 * treated as remote ones, so that tests, which have only the loopback,
 * can send mail that is not "from local" and is checked (maild(8)
 * ENVIRONMENT).  Read once here, like MAILD_TEST_RELAY_PORT.
 */
static void
test_remote_net(struct maild_conf *c)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&c->test_remote;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&c->test_remote;
	const char		*s;
	char			 addr[INET6_ADDRSTRLEN], *slash, *end;
	long			 len;
	int			 max;

	c->test_remote_plen = -1;
	if ((s = getenv("MAILD_TEST_REMOTE_NET")) == NULL || *s == '\0')
		return;
	if (strlcpy(addr, s, sizeof(addr)) >= sizeof(addr) ||
	    (slash = strchr(addr, '/')) == NULL)
		fatalx("MAILD_TEST_REMOTE_NET %.64s is not ADDRESS/LENGTH", s);
	*slash++ = '\0';
	memset(&c->test_remote, 0, sizeof(c->test_remote));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		max = 128;
	} else
		fatalx("MAILD_TEST_REMOTE_NET %.64s is not ADDRESS/LENGTH", s);
	errno = 0;
	len = strtol(slash, &end, 10);
	if (errno != 0 || *slash == '\0' || *end != '\0' || len < 0 ||
	    len > max)
		fatalx("MAILD_TEST_REMOTE_NET %.64s: bad length", s);
	c->test_remote_plen = (int)len;
	log_info("MAILD_TEST_REMOTE_NET: loopback clients in %s are remote",
	    s);
}

/* Every process may use as many descriptors as the hard limit allows. */
static void
raise_fd_limit(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("getrlimit");
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("setrlimit");
}

static void
lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd	*pw;

	if ((pw = getpwnam(name)) == NULL)
		fatalx("unknown user %s: create it first (see maild(8))",
		    name);
	if (pw->pw_uid == 0)
		fatalx("user %s must not be root", name);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
}

static void
make_dir(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	struct stat	 sb;

	if (mkdir(path, mode) == -1 && errno != EEXIST)
		fatal("mkdir %s", path);
	if (stat(path, &sb) == -1)
		fatal("stat %s", path);
	if (!S_ISDIR(sb.st_mode))
		fatalx("%s is not a directory", path);
	if (sb.st_uid != uid || sb.st_gid != gid) {
		if (!privileged)
			fatalx("%s is not owned by the user running maild",
			    path);
		if (chown(path, uid, gid) == -1)
			fatal("chown %s", path);
	}
	if ((sb.st_mode & 07777) != mode && strcmp(path, MAILD_EMPTY) != 0 &&
	    chmod(path, mode) == -1)
		fatal("chmod %s", path);
}

static void
bind_listeners(struct maild_conf *c)
{
	struct listener	*l;
	int		 fd, on = 1, flags;

	TAILQ_FOREACH(l, &c->listeners, entry) {
		if ((fd = socket(l->ss.ss_family, SOCK_STREAM, 0)) == -1)
			fatal("socket");
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
		    sizeof(on)) == -1)
			fatal("setsockopt");
		if (l->ss.ss_family == AF_INET6 &&
		    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
		    sizeof(on)) == -1)
			fatal("setsockopt");
		if (bind(fd, (struct sockaddr *)&l->ss, l->sslen) == -1)
			fatal("%s:%d: listen on port %d", c->path, l->line,
			    l->port);
		if ((flags = fcntl(fd, F_GETFL)) == -1 ||
		    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
			fatal("fcntl");
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
			fatal("fcntl");
		if (listen(fd, SOMAXCONN) == -1)
			fatal("%s:%d: listen on port %d", c->path, l->line,
			    l->port);
		l->fd = fd;
	}
}

static int
bind_control(const char *path)
{
	struct sockaddr_un	 sun;
	mode_t			 old;
	int			 fd, flags;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		fatalx("control socket path too long: %s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		fatal("socket");
	if (unlink(path) == -1 && errno != ENOENT)
		fatal("unlink %s", path);
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("bind %s", path);
	umask(old);
	if (chmod(path, 0600) == -1)
		fatal("chmod %s", path);
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		fatal("fcntl");
	if (listen(fd, 16) == -1)
		fatal("listen");
	return fd;
}

/* Read and parse every table once, so errors stop a start or reload. */
static int
parent_check_tables(struct maild_conf *c)
{
	struct table	*t;
	char		 err[512];
	int		 fd, rv = 0;

	TAILQ_FOREACH(t, &c->tables, entry) {
		if ((fd = table_open(t, err, sizeof(err))) == -1) {
			log_warnx("table %s: %s", t->name, err);
			rv = -1;
			continue;
		}
		if (table_load_fd(t, fd, err, sizeof(err)) == -1) {
			log_warnx("%s", err);
			rv = -1;
		}
		table_clear(t);
		close(fd);
	}
	return rv;
}

static void
parent_send_tables(struct maild_conf *c)
{
	struct table	*t;
	struct ipc_buf	 b;
	char		 err[512];
	int		 fd;

	TAILQ_FOREACH(t, &c->tables, entry) {
		/* Checked again: it may have changed since. */
		if ((fd = table_open(t, err, sizeof(err))) == -1) {
			log_warnx("table %s: %s", t->name, err);
			continue;	/* lookup answers 4xx for it */
		}
		ipc_buf_init(&b);
		ipc_add_str(&b, t->name);
		/* Relay credentials are clear text: for the relay alone. */
		proc_send_buf((t->flags & T_RELAY) ? PROC_RELAY : PROC_LOOKUP,
		    IMSG_CONF_TABLE, fd, &b);
		if (t->flags & T_QUOTA)
			parent_send_quota(t);
	}
}

/* The quota table, read by the processes that write the Maildirs. */
static void
parent_send_quota(const struct table *t)
{
	static const enum proc_type to[] = { PROC_DELIVER, PROC_IMAP };
	struct ipc_buf	 b;
	char		 err[512];
	size_t		 i;
	int		 fd;

	for (i = 0; i < nitems(to); i++) {
		/* One descriptor each: they read from its offset. */
		if ((fd = table_open(t, err, sizeof(err))) == -1) {
			log_warnx("table %s: %s", t->name, err);
			continue;	/* the default limits apply */
		}
		ipc_buf_init(&b);
		ipc_add_str(&b, t->name);
		proc_send_buf(to[i], IMSG_CONF_QUOTA, fd, &b);
	}
}

/* DKIM keys of a reloaded configuration, for the queue that signs. */
/*
 * The Public Suffix List goes to the queue, which checks DMARC: opened
 * here, read there.  Missing, it is said once; DMARC then makes do.
 */
static void
parent_send_psl(struct maild_conf *c)
{
	int	 fd;

	if ((fd = open(c->psl_file, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("dmarc public-suffix-list %s", c->psl_file);
		return;
	}
	proc_send_buf(PROC_QUEUE, IMSG_CONF_PSL, fd, NULL);
}

static void
parent_send_dkim(struct maild_conf *c)
{
	struct dkimconf	*d;
	struct ipc_buf	*b;

	if ((b = malloc(sizeof(*b))) == NULL)
		fatal("malloc");
	TAILQ_FOREACH(d, &c->dkims, entry) {
		if (d->key == NULL)
			continue;
		if (d->key_len + 1024 > IPC_MAX_PAYLOAD) {
			log_warnx("dkim %s selector %s: key too large to "
			    "reload", d->domain, d->selector);
			continue;
		}
		ipc_buf_init(b);
		ipc_add_str(b, d->domain);
		ipc_add_str(b, d->selector);
		ipc_add_u32(b, d->key_len);
		ipc_add(b, d->key, d->key_len);
		proc_send_buf(PROC_QUEUE, IMSG_CONF_DKIM, -1, b);
		explicit_bzero(b, sizeof(*b));
	}
	free(b);
}

static void
parent_send_pkis(struct maild_conf *c)
{
	struct pki	*k;
	struct ipc_buf	*b;

	if ((b = malloc(sizeof(*b))) == NULL)
		fatal("malloc");
	TAILQ_FOREACH(k, &c->pkis, entry) {
		ipc_buf_init(b);
		ipc_add_str(b, k->name);
		if (k->cert_len + k->key_len + 256 > IPC_MAX_PAYLOAD) {
			log_warnx("pki %s: certificate too large to reload",
			    k->name);
			continue;
		}
		ipc_add_u32(b, k->cert_len);
		ipc_add(b, k->cert, k->cert_len);
		ipc_add_u32(b, k->key_len);
		ipc_add(b, k->key, k->key_len);
		proc_send_buf(PROC_SMTP, IMSG_CONF_PKI, -1, b);
		proc_send_buf(PROC_IMAP, IMSG_CONF_PKI, -1, b);
		explicit_bzero(b, sizeof(*b));
	}
	free(b);
}

static int
listeners_equal(struct maild_conf *a, struct maild_conf *b)
{
	struct listener	*la, *lb;

	la = TAILQ_FIRST(&a->listeners);
	lb = TAILQ_FIRST(&b->listeners);
	for (; la && lb; la = TAILQ_NEXT(la, entry), lb = TAILQ_NEXT(lb,
	    entry))
		if (la->sslen != lb->sslen ||
		    memcmp(&la->ss, &lb->ss, la->sslen) != 0 ||
		    la->flags != lb->flags || la->proto != lb->proto ||
		    strcmp(la->pki, lb->pki) != 0 ||
		    strcmp(la->ciphers, lb->ciphers) != 0)
			return 0;
	return la == NULL && lb == NULL;
}

/* 0, or -1 when the new configuration is refused (the old one stays). */
static int
parent_reload(void)
{
	struct maild_conf	*nc;
	char			*text;
	size_t			 len;
	enum proc_type		 p;

	log_info("reloading %s", conf->path);
	if ((nc = config_parse_file(conf->path, 0, &text, &len)) == NULL) {
		log_warnx("reload failed, keeping the running configuration");
		return -1;
	}
	if (parent_check_tables(nc) == -1) {
		log_warnx("reload failed, keeping the running configuration");
		config_free(nc);
		free(text);
		return -1;
	}
	nc->relay_port = conf->relay_port;
	nc->test_remote = conf->test_remote;
	nc->test_remote_plen = conf->test_remote_plen;
	if (!listeners_equal(conf, nc))
		log_warnx("listener changes take effect after a restart");
	if (strcmp(conf->spool, nc->spool) != 0 ||
	    strcmp(conf->vmail_root, nc->vmail_root) != 0)
		log_warnx("spool and mailbox root changes take effect after "
		    "a restart");
	for (p = 1; p < PROC_COUNT; p++)
		proc_send_buf(p, IMSG_CONF_RELOAD, proc_blob_fd(text, len),
		    NULL);
	parent_send_tables(nc);
	parent_send_pkis(nc);
	parent_send_dkim(nc);
	parent_send_psl(nc);
	for (p = 1; p < PROC_COUNT; p++) {
		proc_send_buf(p, IMSG_CONF_END, -1, NULL);
		reload_acks++;
	}
	config_purge_keys(nc);
	config_free(conf);
	conf = nc;
	free(conf_text);
	conf_text = text;
	conf_len = len;
	offline_scan();
	return 0;
}

/* mailctl requests for the parent: reload, show config, log. */
static void
parent_ctl(struct ipc_msg *m)
{
	struct ipc_buf	 b;
	FILE		*fp;
	char		 errs[1024], *buf = NULL, *line, *nl;
	size_t		 size = 0;
	uint64_t	 id;
	uint32_t	 cmd;
	time_t		 up;
	enum proc_type	 p;
	int		 v;

	id = ipc_get_u64(m);
	cmd = ipc_get_u32(m);
	(void)ipc_get_strp(m);
	ipc_end(m);
	if (cmd == CTL_RELOAD) {
		log_capture(errs, sizeof(errs));
		v = parent_reload();
		log_capture(NULL, 0);
		if (v == -1)
			proc_ctl_end(id, 0, "%s", errs);
		else if (nreload_waiting < nitems(reload_waiting))
			reload_waiting[nreload_waiting++] = id;
		else
			proc_ctl_end(id, 1, "configuration reloaded");
	} else if (cmd == CTL_SHOW_CONFIG) {
		if ((fp = open_memstream(&buf, &size)) == NULL)
			fatal("open_memstream");
		config_dump(conf, fp);
		if (fclose(fp) != 0)
			fatal("open_memstream");
		for (line = buf; *line != '\0'; line = nl + 1) {
			if ((nl = strchr(line, '\n')) == NULL)
				nl = line + strlen(line) - 1;
			else
				*nl = '\0';
			proc_ctl_line(id, "%s", line);
		}
		free(buf);
		proc_ctl_end(id, 1, "%s", "");
	} else if (cmd == CTL_LOG_VERBOSE || cmd == CTL_LOG_BRIEF) {
		v = cmd == CTL_LOG_VERBOSE;
		log_setverbose(v);
		ipc_buf_init(&b);
		ipc_add_u32(&b, v);
		for (p = 1; p < PROC_COUNT; p++)
			proc_send_buf(p, IMSG_CTL_LOG, -1, &b);
		log_info("logging %s", v ? "verbose" : "brief");
		proc_ctl_end(id, 1, "logging %s", v ? "verbose" : "brief");
	} else if (cmd == CTL_SHOW_STATS) {
		up = time(NULL) - started;
		proc_ctl_line(id, "maild.uptime=%lld", (long long)up);
		proc_ctl_end(id, 1, "%s", "");
	} else
		proc_ctl_end(id, 0, "unknown request");
}

static void
parent_shutdown(int status)
{
	enum proc_type	 p;
	int		 i;
	pid_t		 pid;

	shutting_down = 1;
	offline_stop();
	/* A child exits when its channel to us closes. */
	for (p = 1; p < PROC_COUNT; p++)
		if (peers[p].rbuf != NULL)
			ipc_close(&peers[p]);
	for (i = 0; i < 50; i++) {
		while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
			for (p = 1; p < PROC_COUNT; p++)
				if (procs[p].pid == pid)
					procs[p].pid = 0;
		for (p = 1; p < PROC_COUNT; p++)
			if (procs[p].pid > 0)
				break;
		if (p == PROC_COUNT)
			break;
		usleep(100000);
	}
	for (p = 1; p < PROC_COUNT; p++)
		if (procs[p].pid > 0)
			kill(procs[p].pid, SIGKILL);
	unlink(conf->socket);
	log_info("maild stopped");
	exit(status);
}

static void
parent_sig(int sig, short ev, void *arg)
{
	enum proc_type	 p;
	pid_t		 pid;
	int		 status;

	(void)ev;
	(void)arg;
	switch (sig) {
	case SIGHUP:
		(void)parent_reload();
		break;
	case SIGTERM:
	case SIGINT:
		parent_shutdown(0);
		break;
	case SIGCHLD:
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (offline_reaped(pid, status))
				continue;
			for (p = 1; p < PROC_COUNT; p++)
				if (procs[p].pid == pid)
					parent_child_died(p, status);
		}
		break;
	}
}

static void
parent_child_died(enum proc_type p, int status)
{
	procs[p].pid = 0;
	if (shutting_down)
		return;
	if (WIFSIGNALED(status))
		log_warnx("%s process died on signal %d", procs[p].name,
		    WTERMSIG(status));
	else
		log_warnx("%s process exited with status %d", procs[p].name,
		    WEXITSTATUS(status));
	parent_shutdown(1);
}

/* A child's channel closed: it is dying; say how, then stop. */
static void
parent_lost(struct ipc *ipc)
{
	enum proc_type	 p;
	int		 i, status;

	if (shutting_down)
		return;
	for (p = 1; p < PROC_COUNT; p++)
		if (ipc == &peers[p])
			break;
	for (i = 0; p < PROC_COUNT && procs[p].pid > 0 && i < 100; i++) {
		if (waitpid(procs[p].pid, &status, WNOHANG) == procs[p].pid)
			parent_child_died(p, status);
		usleep(10000);
	}
	log_warnx("lost connection to the %s process", ipc->peer);
	parent_shutdown(1);
}

/* A child has applied IMSG_CONF_END: when all have, reload returns. */
static void
parent_conf_done(struct ipc_msg *m)
{
	size_t	 i;

	ipc_end(m);
	if (reload_acks > 0 && --reload_acks == 0) {
		for (i = 0; i < nreload_waiting; i++)
			proc_ctl_end(reload_waiting[i], 1,
			    "configuration reloaded");
		nreload_waiting = 0;
	}
}

const struct proc_handler parent_handlers[] = {
	{ IMSG_CONF_DONE,	parent_conf_done },
	{ IMSG_CTL_REQ,		parent_ctl },
	{ IMSG_NONE,		NULL }
};
