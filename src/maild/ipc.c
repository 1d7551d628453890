/*
 * Framed messages with file descriptor passing between maild processes,
 * in the manner of OpenBSD's imsg: each peer is a socketpair end driven
 * by libevent.  A peer that goes away ends the process: a child's death
 * takes the whole daemon down rather than leaving it half alive.
 * Building and reading the payloads is src/lib/ipc_payload.c.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "ipc.h"
#include "log.h"

#define IPC_MAX_FDS	16

struct ipc_out {
	TAILQ_ENTRY(ipc_out)	 entry;
	size_t			 len;
	size_t			 off;
	int			 fd;
	uint8_t			 data[];
};

void		(*ipc_lost_hook)(struct ipc *);

static void	ipc_readcb(int, short, void *);
static void	ipc_writecb(int, short, void *);
static int	ipc_write_some(struct ipc *);
static void	ipc_parse(struct ipc *);

void
ipc_init(struct ipc *ipc, int fd, const char *peer,
    void (*dispatch)(struct ipc *, struct ipc_msg *), void *arg)
{
	int	 flags;

	memset(ipc, 0, sizeof(*ipc));
	ipc->fd = fd;
	ipc->peer = peer;
	ipc->dispatch = dispatch;
	ipc->arg = arg;
	TAILQ_INIT(&ipc->outq);
	ipc->rsize = 2 * (sizeof(struct ipc_hdr) + IPC_MAX_PAYLOAD);
	if ((ipc->rbuf = malloc(ipc->rsize)) == NULL)
		fatal("malloc");
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		fatal("fcntl");
	event_set(&ipc->ev, fd, EV_READ | EV_PERSIST, ipc_readcb, ipc);
	event_add(&ipc->ev, NULL);
	event_set(&ipc->evw, fd, EV_WRITE, ipc_writecb, ipc);
}

void
ipc_close(struct ipc *ipc)
{
	struct ipc_out	*o;
	int		 i;

	if (ipc->rbuf == NULL)
		return;
	event_del(&ipc->ev);
	event_del(&ipc->evw);
	while ((o = TAILQ_FIRST(&ipc->outq)) != NULL) {
		TAILQ_REMOVE(&ipc->outq, o, entry);
		if (o->fd != -1)
			close(o->fd);
		free(o);
	}
	for (i = 0; i < ipc->nrfds; i++)
		close(ipc->rfds[i]);
	close(ipc->fd);
	free(ipc->rbuf);
	ipc->rbuf = NULL;
}

void
ipc_send(struct ipc *ipc, uint32_t type, int fd, const void *data,
    size_t len)
{
	struct ipc_out	*o;
	struct ipc_hdr	 hdr;

	if (len > IPC_MAX_PAYLOAD)
		fatalx("ipc_send: payload of %zu bytes to %s", len, ipc->peer);
	if ((o = malloc(sizeof(*o) + sizeof(hdr) + len)) == NULL)
		fatal("malloc");
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = len;
	hdr.flags = fd == -1 ? 0 : IPC_F_FD;
	memcpy(o->data, &hdr, sizeof(hdr));
	if (len)
		memcpy(o->data + sizeof(hdr), data, len);
	o->len = sizeof(hdr) + len;
	o->off = 0;
	o->fd = fd;
	TAILQ_INSERT_TAIL(&ipc->outq, o, entry);
	if (!event_pending(&ipc->evw, EV_WRITE, NULL))
		event_add(&ipc->evw, NULL);
}

/* Write what we can; 0 when the queue is empty, 1 if more remains. */
static int
ipc_write_some(struct ipc *ipc)
{
	struct ipc_out	*o;
	struct msghdr	 msg;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct cmsghdr	*cmsg;
	ssize_t		 n;

	while ((o = TAILQ_FIRST(&ipc->outq)) != NULL) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = o->data + o->off;
		iov.iov_len = o->len - o->off;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		if (o->fd != -1) {
			memset(&cmsgbuf, 0, sizeof(cmsgbuf));
			msg.msg_control = cmsgbuf.buf;
			msg.msg_controllen = sizeof(cmsgbuf.buf);
			cmsg = CMSG_FIRSTHDR(&msg);
			cmsg->cmsg_len = CMSG_LEN(sizeof(int));
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			memcpy(CMSG_DATA(cmsg), &o->fd, sizeof(int));
		}
		n = sendmsg(ipc->fd, &msg, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == ENOBUFS)
				return 1;
			fatal("ipc: write to %s", ipc->peer);
		}
		if (o->fd != -1) {
			close(o->fd);
			o->fd = -1;
		}
		o->off += n;
		if (o->off == o->len) {
			TAILQ_REMOVE(&ipc->outq, o, entry);
			free(o);
		}
	}
	return 0;
}

static void
ipc_writecb(int fd, short ev, void *arg)
{
	struct ipc	*ipc = arg;

	(void)fd;
	(void)ev;
	if (ipc_write_some(ipc))
		event_add(&ipc->evw, NULL);
}

static void
ipc_readcb(int fd, short ev, void *arg)
{
	struct ipc	*ipc = arg;
	struct msghdr	 msg;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
	} cmsgbuf;
	struct cmsghdr	*cmsg;
	ssize_t		 n;
	int		 i, nfd, flags = 0;

	(void)ev;
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = ipc->rbuf + ipc->rlen;
	iov.iov_len = ipc->rsize - ipc->rlen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
#ifdef MSG_CMSG_CLOEXEC
	flags = MSG_CMSG_CLOEXEC;
#endif
	if ((n = recvmsg(fd, &msg, flags)) == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		if (errno != ECONNRESET)
			fatal("ipc: read from %s", ipc->peer);
		n = 0;		/* the peer died with data unread */
	}
	if (n == 0) {
		if (ipc_lost_hook != NULL) {
			ipc_lost_hook(ipc);
			return;
		}
		fatalx("lost connection to %s", ipc->peer);
	}
	if (msg.msg_flags & MSG_CTRUNC)
		fatalx("ipc: too many descriptors from %s", ipc->peer);
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			if (ipc->nrfds == (int)(sizeof(ipc->rfds) /
			    sizeof(ipc->rfds[0])))
				fatalx("ipc: descriptor overflow from %s",
				    ipc->peer);
			memcpy(&ipc->rfds[ipc->nrfds++],
			    CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
		}
	}
	ipc->rlen += n;
	ipc_parse(ipc);
}

static void
ipc_parse(struct ipc *ipc)
{
	struct ipc_hdr	 hdr;
	struct ipc_msg	 m;
	size_t		 off = 0;

	while (ipc->rlen - off >= sizeof(hdr)) {
		memcpy(&hdr, ipc->rbuf + off, sizeof(hdr));
		if (hdr.len > IPC_MAX_PAYLOAD)
			fatalx("ipc: oversized message from %s", ipc->peer);
		if (ipc->rlen - off < sizeof(hdr) + hdr.len)
			break;
		memset(&m, 0, sizeof(m));
		m.type = hdr.type;
		m.data = ipc->rbuf + off + sizeof(hdr);
		m.len = hdr.len;
		m.fd = -1;
		m.peer = ipc->peer;
		if (hdr.flags & IPC_F_FD) {
			if (ipc->nrfds == 0)
				fatalx("ipc: missing descriptor from %s",
				    ipc->peer);
			m.fd = ipc->rfds[0];
			memmove(ipc->rfds, ipc->rfds + 1,
			    --ipc->nrfds * sizeof(int));
		}
		off += sizeof(hdr) + hdr.len;
		ipc->dispatch(ipc, &m);
		if (m.fd != -1)
			fatalx("ipc: %s sent a descriptor with message %u",
			    ipc->peer, m.type);
		if (ipc->rbuf == NULL)
			return;		/* closed by the handler */
	}
	if (off) {
		memmove(ipc->rbuf, ipc->rbuf + off, ipc->rlen - off);
		ipc->rlen -= off;
	}
}
