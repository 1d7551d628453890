/*
 * The control process: answers mailctl on the control socket (mode 0600,
 * owned by root, and the peer's uid is checked again).  Requests are one
 * line of text; answers are lines of text, then the connection closes.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "proc.h"

struct ctl_conn {
	TAILQ_ENTRY(ctl_conn)	 entry;
	uint64_t		 id;
	struct io		*io;
	int			 closing;
};

static void	control_accept(int, short, void *);
static void	control_unpause(int, short, void *);
static void	control_io(struct io *, int, void *);
static void	control_request(struct ctl_conn *, const char *);
static void	control_close(struct ctl_conn *);

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
control_request(struct ctl_conn *c, const char *req)
{
	struct ipc_buf	 b;

	if (strcmp(req, "reload") == 0) {
		proc_send(PROC_PARENT, IMSG_CTL_RELOAD, -1, NULL, 0);
		io_printf(c->io, "reload requested\nok\n");
		control_done(c);
	} else if (strcmp(req, "show queue") == 0) {
		ipc_buf_init(&b);
		ipc_add_u64(&b, c->id);
		proc_send_buf(PROC_QUEUE, IMSG_CTL_SHOW_QUEUE, -1, &b);
	} else {
		io_printf(c->io, "error: unknown request\n");
		control_done(c);
	}
}

void
control_dispatch(struct ipc *ipc, struct ipc_msg *m)
{
	struct ctl_conn	*c;
	const char	*line;
	uint64_t	 id;

	(void)ipc;
	switch (m->type) {
	case IMSG_CONF_RELOAD:
		ipc_end(m);
		close(ipc_get_fd(m));
		break;
	case IMSG_CONF_END:
		ipc_end(m);
		break;
	case IMSG_CTL_SHOW_QUEUE_RES:
		id = ipc_get_u64(m);
		line = ipc_get_strp(m);
		ipc_end(m);
		TAILQ_FOREACH(c, &conns, entry)
			if (c->id == id)
				break;
		if (c == NULL)
			return;
		if (*line == '\0') {
			io_printf(c->io, "ok\n");
			control_done(c);
		}
		else
			io_printf(c->io, "%s\n", line);
		break;
	default:
		fatalx("control: unexpected message %u from %s", m->type,
		    m->peer);
	}
}
