/*
 * The control process: answers mailctl on the control socket (mode 0600,
 * owned by root, and the peer's uid is checked again).  A request is one
 * line of text, passed to the process that can carry it out (or to each
 * in turn, for show stats); the answer is lines of text ending in "ok"
 * or "error: reason", then the connection closes.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "io.h"
#include "proc.h"

struct ctl_conn {
	TAILQ_ENTRY(ctl_conn)	 entry;
	uint64_t		 id;
	struct io		*io;
	int			 closing;
	struct ctl_req		 req;
	const struct ctl_info	*info;		/* its chain is asked in turn */
	size_t			 next;
};

static void	control_accept(int, short, void *);
static void	control_unpause(int, short, void *);
static void	control_io(struct io *, int, void *);
static void	control_request(struct ctl_conn *, const char *);
static void	control_close(struct ctl_conn *);
static void	control_ask(struct ctl_conn *);
static void	control_result(struct ipc_msg *);
static void	control_print(struct ctl_conn *, const char *, const char *);

static TAILQ_HEAD(, ctl_conn)	 conns = TAILQ_HEAD_INITIALIZER(conns);
static struct event		 ev_accept, ev_pause;
static const struct timeval	 pause_tv = { 1, 0 };
static uint64_t			 next_id;

void
control_main(void)
{
	config_purge_keys(conf);
	proc_drop(MAILD_EMPTY);
	proc_setup_peers();
	if (pledge("stdio unix", NULL) == -1)
		fatal("pledge");
	event_set(&ev_accept, control_fd, EV_READ | EV_PERSIST,
	    control_accept, NULL);
	event_add(&ev_accept, NULL);
	evtimer_set(&ev_pause, control_unpause, NULL);
	event_dispatch();
}

static void
control_unpause(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	event_add(&ev_accept, NULL);
}

static void
control_accept(int fd, short ev, void *arg)
{
	struct ctl_conn	*c;
	uid_t		 uid;
	gid_t		 gid;
	int		 s;

	(void)ev;
	(void)arg;
	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno == EMFILE || errno == ENFILE) {
			/* The socket stays readable: pause, don't spin. */
			log_warn("control: accept");
			event_del(&ev_accept);
			evtimer_add(&ev_pause, &pause_tv);
		} else if (errno != EAGAIN && errno != EINTR)
			log_warn("control: accept");
		return;
	}
	if (compat_getpeereid(s, &uid, &gid) == -1 ||
	    (uid != 0 && uid != getuid())) {
		log_warnx("control: refused a client with uid %u",
		    (unsigned)uid);
		close(s);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("calloc");
	c->id = ++next_id;
	c->io = io_new(s, 1024, control_io, c);
	io_set_timeout(c->io, 30000);
	TAILQ_INSERT_TAIL(&conns, c, entry);
}

static void
control_close(struct ctl_conn *c)
{
	TAILQ_REMOVE(&conns, c, entry);
	io_free(c->io);
	free(c);
}

static void
control_io(struct io *io, int evt, void *arg)
{
	struct ctl_conn	*c = arg;
	char		*line;
	size_t		 len;
	int		 partial;

	switch (evt) {
	case IO_DATAIN:
		if (c->closing)
			return;
		if ((line = io_getline(io, &len, &partial)) == NULL)
			return;
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		io_pause(io);
		control_request(c, partial ? "" : line);
		break;
	case IO_LOWAT:
		if (c->closing)
			control_close(c);
		break;
	default:
		control_close(c);
		break;
	}
}

static void
control_done(struct ctl_conn *c)
{
	if (io_queued(c->io) == 0)
		control_close(c);
	else
		c->closing = 1;	/* closed once the answer is out */
}

static void
control_ask(struct ctl_conn *c)
{
	struct ipc_buf	 b;

	ipc_buf_init(&b);
	ipc_add_u64(&b, c->id);
	ipc_add_u32(&b, c->req.cmd);
	ipc_add_str(&b, c->req.arg);
	proc_send_buf(c->info->chain[c->next++], IMSG_CTL_REQ, -1, &b);
}

static void
control_request(struct ctl_conn *c, const char *req)
{
	char	 err[128];

	if (ctl_parse(req, &c->req, err, sizeof(err)) == -1) {
		control_print(c, "error: ", err);
		control_done(c);
		return;
	}
	c->info = ctl_info(c->req.cmd);
	c->next = 0;
	control_ask(c);
}

/* A line of an answer, made safe for a terminal and for the framing. */
static void
control_print(struct ctl_conn *c, const char *prefix, const char *text)
{
	char	 line[2048];
	size_t	 i;

	(void)strlcpy(line, text, sizeof(line));
	for (i = 0; line[i] != '\0'; i++)
		if (((unsigned char)line[i] < 0x20 && line[i] != '\t') ||
		    line[i] == 0x7f)
			line[i] = '?';
	io_printf(c->io, "%s%s\n", prefix, line);
}

static void
control_result(struct ipc_msg *m)
{
	struct ctl_conn	*c;
	const char	*text;
	uint64_t	 id;
	uint32_t	 status;

	id = ipc_get_u64(m);
	status = ipc_get_u32(m);
	text = ipc_get_strp(m);
	ipc_end(m);
	if (status > CTL_ERR)
		fatalx("control: bad answer status from %s", m->peer);
	TAILQ_FOREACH(c, &conns, entry)
		if (c->id == id)
			break;
	if (c == NULL || c->closing)
		return;		/* mailctl went away */
	/* Only the process asked last answers. */
	if (c->next == 0 || (int)c->info->chain[c->next - 1] != m->from) {
		log_warnx("control: answer to request %llu from %s, which "
		    "was not asked", (unsigned long long)id, m->peer);
		return;
	}
	if (status == CTL_ERR) {
		control_print(c, "error: ", text);
		control_done(c);
		return;
	}
	if (*text != '\0')
		control_print(c, "", text);
	if (status == CTL_LINE)
		return;
	if (c->next < c->info->nchain)
		control_ask(c);
	else {
		io_printf(c->io, "ok\n");
		control_done(c);
	}
}

const struct proc_handler control_handlers[] = {
	{ IMSG_CONF_RELOAD,	proc_conf_ignore },
	{ IMSG_CONF_END,	proc_conf_end },
	{ IMSG_CTL_RES,		control_result },
	{ IMSG_NONE,		NULL }
};
