/*
 * Buffered, event-driven connections with optional TLS (libtls).  One
 * libevent event per connection is re-armed after every pass according
 * to what libtls wants (TLS_WANT_POLLIN/POLLOUT) and what the owner
 * wants (read unless paused or full, write while output is queued).
 * The owner's callback may free the io; the io notices and stops.
 * A memory connection (IO_MEM, no socket, no event) lets a unit test
 * play the client of a session through the same buffers and callbacks.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "io.h"
#include "log.h"
#include "maild.h"
#include "util.h"

#define IO_READ_CHUNK	16384

static void	io_dispatch(int, short, void *);
static void	io_rearm(struct io *);
static int64_t	io_wait_ms(struct io *);
static int	io_do_read(struct io *);
static int	io_do_write(struct io *);
static int	io_do_handshake(struct io *);
static int	io_callback(struct io *, int);
static void	io_destroy(struct io *);
static void	io_unhide_cr(struct io *);
static void	io_compact(struct io *);
static int	io_mem_read(struct io *);
static void	io_mem_write(struct io *);

struct io *
io_new(int fd, size_t maxline, void (*cb)(struct io *, int, void *),
    void *arg)
{
	struct io	*io;

	if ((io = calloc(1, sizeof(*io))) == NULL)
		fatal("calloc");
	io->fd = fd;
	io->rmax = maxline + 2;
	io->cb = cb;
	io->arg = arg;
	event_set(&io->ev, fd, 0, io_dispatch, io);
	io_rearm(io);
	return io;
}

void
io_set_callback(struct io *io, void (*cb)(struct io *, int, void *),
    void *arg)
{
	io->cb = cb;
	io->arg = arg;
}

struct io *
io_new_mem(struct io_mem *m, size_t maxline)
{
	struct io	*io;

	if ((io = calloc(1, sizeof(*io))) == NULL)
		fatal("calloc");
	io->fd = -1;
	io->rmax = maxline + 2;
	io->flags = IO_MEM;
	io->mem = m;
	m->io = io;
	return io;
}

static void
io_destroy(struct io *io)
{
	if (io->flags & IO_MEM)
		io->mem->io = NULL;
	else
		event_del(&io->ev);
	if (io->tls) {
		(void)tls_close(io->tls);
		tls_free(io->tls);
	}
	if (io->fd != -1)
		close(io->fd);
	free(io->rbuf);
	free(io->wbuf);
	free(io);
}

void
io_free(struct io *io)
{
	if (io->flags & IO_INCB) {
		io->flags |= IO_FREED;
		if (!(io->flags & IO_MEM))
			event_del(&io->ev);
		return;
	}
	io_destroy(io);
}

void
io_set_line_deadline(struct io *io, int on)
{
	if (on)
		io->flags |= IO_LINEDL;
	else
		io->flags &= ~IO_LINEDL;
	io->line_since = 0;
}

void
io_set_timeout(struct io *io, int msec)
{
	io->timeout = msec;
	if (!(io->flags & IO_INCB))
		io_rearm(io);
}

/* Move the unread input to the start of the buffer. */
static void
io_compact(struct io *io)
{
	io_unhide_cr(io);
	if (io->rpos > 0) {
		memmove(io->rbuf, io->rbuf + io->rpos, io->rlen - io->rpos);
		io->rlen -= io->rpos;
		io->rpos = 0;
	}
}

void
io_set_maxline(struct io *io, size_t max)
{
	char	*p;

	io->rmax = max + 2;
	if (io->rbuf == NULL || io->rmax == io->rsize)
		return;		/* allocated at the first read */
	/* Grow for long lines, shrink back once they are over. */
	if (io->rmax < io->rsize && io_datalen(io) >= io->rmax)
		return;
	io_compact(io);
	if ((p = realloc(io->rbuf, io->rmax)) == NULL)
		fatal("realloc");
	io->rbuf = p;
	io->rsize = io->rmax;
}

size_t
io_datalen(const struct io *io)
{
	return io->rlen - io->rpos;
}

/* Raw buffered input (IMAP literals): pointer and length, then consume. */
const char *
io_data(struct io *io, size_t *lenp)
{
	io_unhide_cr(io);
	*lenp = io->rlen - io->rpos;
	return io->rbuf == NULL ? "" : io->rbuf + io->rpos;
}

void
io_consume(struct io *io, size_t n)
{
	io_unhide_cr(io);
	if (n > io->rlen - io->rpos)
		n = io->rlen - io->rpos;
	io->rpos += n;
}

/* Put back the CR that io_getline() hid behind the previous chunk. */
static void
io_unhide_cr(struct io *io)
{
	if (io->flags & IO_HELDCR) {
		io->rbuf[io->rpos] = '\r';
		io->flags &= ~IO_HELDCR;
	}
}

char *
io_getline(struct io *io, size_t *lenp, int *partial)
{
	char	*line, *nl;
	size_t	 avail;

	io_unhide_cr(io);
	avail = io->rlen - io->rpos;
	*partial = 0;
	if (avail == 0)
		return NULL;
	line = io->rbuf + io->rpos;
	if ((nl = memchr(line, '\n', avail)) == NULL) {
		/*
		 * A full buffer without LF: hand out the chunk, but keep a
		 * final CR for the next one, where its LF may be waiting:
		 * a CRLF split across chunks must still read as CRLF.
		 */
		if (avail >= io->rmax - 1) {
			*partial = 1;
			if (line[avail - 1] == '\r') {
				avail--;
				io->flags |= IO_HELDCR;
			}
			*lenp = avail;
			line[avail] = '\0';
			io->rpos += avail;
			return line;
		}
		if (io->flags & IO_EOF) {
			*partial = 1;
			*lenp = avail;
			line[avail] = '\0';
			io->rpos = io->rlen;
			return line;
		}
		return NULL;
	}
	*nl = '\0';
	*lenp = nl - line;
	io->rpos += *lenp + 1;
	return line;
}

void
io_write(struct io *io, const void *data, size_t len)
{
	char	*p;
	size_t	 need;

	if (io->wpos == io->wlen)
		io->wpos = io->wlen = 0;
	need = io->wlen + len;
	if (need > io->wsize) {
		if (io->wpos > 0) {
			memmove(io->wbuf, io->wbuf + io->wpos,
			    io->wlen - io->wpos);
			io->wlen -= io->wpos;
			io->wpos = 0;
			need = io->wlen + len;
		}
		if (need > io->wsize) {
			size_t sz = io->wsize ? io->wsize : 1024;
			while (sz < need)
				sz *= 2;
			if ((p = realloc(io->wbuf, sz)) == NULL)
				fatal("realloc");
			io->wbuf = p;
			io->wsize = sz;
		}
	}
	memcpy(io->wbuf + io->wlen, data, len);
	io->wlen += len;
	if (!(io->flags & IO_INCB))
		io_rearm(io);
}

void
io_printf(struct io *io, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	io_vprintf(io, fmt, ap);
	va_end(ap);
}

/* Formatted output of any length (a LIST line of a long name). */
void
io_vprintf(struct io *io, const char *fmt, va_list ap)
{
	char	 buf[4096], *p;
	va_list	 ap2;
	int	 n;

	va_copy(ap2, ap);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n < 0)
		fatalx("io_printf");
	if ((size_t)n < sizeof(buf)) {
		io_write(io, buf, n);
		va_end(ap2);
		return;
	}
	if ((p = malloc(n + 1)) == NULL)
		fatal("malloc");
	(void)vsnprintf(p, n + 1, fmt, ap2);
	va_end(ap2);
	io_write(io, p, n);
	free(p);
}

size_t
io_queued(const struct io *io)
{
	return io->wlen - io->wpos;
}

void
io_pause(struct io *io)
{
	io->flags |= IO_PAUSED;
	if (!(io->flags & IO_INCB))
		io_rearm(io);
}

void
io_resume(struct io *io)
{
	io->flags &= ~IO_PAUSED;
	if (!(io->flags & IO_INCB))
		io_rearm(io);
	/*
	 * Buffered lines, an EOF seen while paused, or bytes libtls holds
	 * decrypted: none of them will make the socket readable again.
	 */
	if (!(io->flags & (IO_HANDSHAKE | IO_MEM)))
		event_active(&io->ev, EV_READ, 1);
}

void
io_drop_input(struct io *io)
{
	io->flags &= ~IO_HELDCR;
	io->rpos = io->rlen = 0;
}

int
io_start_tls(struct io *io, struct tls *ctx)
{
	if (io_tls_started(io))
		return -1;
	if (io->flags & IO_MEM)
		io->flags |= IO_MEMTLS;
	else if (tls_accept_socket(ctx, &io->tls, io->fd) == -1) {
		snprintf(io->err, sizeof(io->err), "tls_accept_socket: %s",
		    tls_error(ctx));
		return -1;
	}
	io->flags |= IO_HANDSHAKE;
	/* A ClientHello sent a byte at a time holds the session no longer. */
	if (io->timeout > 0)
		io->hs_deadline = mono_ms() + io->timeout;
	if (!(io->flags & IO_INCB))
		io_rearm(io);
	return 0;
}

int
io_start_tls_client(struct io *io, struct tls *ctx, const char *servername)
{
	if (io->tls != NULL)
		return -1;
	if (tls_connect_socket(ctx, io->fd, servername) == -1) {
		snprintf(io->err, sizeof(io->err), "tls_connect_socket: %s",
		    tls_error(ctx));
		return -1;
	}
	io->tls = ctx;
	/* The client speaks first: wait until the ClientHello can go. */
	io->flags |= IO_HANDSHAKE | IO_WANTWRITE;
	if (!(io->flags & IO_INCB))
		io_rearm(io);
	return 0;
}

int
io_tls_started(const struct io *io)
{
	return io->tls != NULL || (io->flags & IO_MEMTLS);
}

void
io_shutdown(struct io *io)
{
	if (io->flags & IO_MEM)
		io->mem->shut = 1;
	else
		(void)shutdown(io->fd, SHUT_WR);
}

void
io_tls_info(const struct io *io, char *buf, size_t len)
{
	struct tls	*t = io->tls;

	if (t == NULL || (io->flags & IO_HANDSHAKE)) {
		if (len)
			buf[0] = '\0';
		return;
	}
	snprintf(buf, len, "version=%s cipher=%s bits=%d",
	    tls_conn_version(t), tls_conn_cipher(t),
	    tls_conn_cipher_strength(t));
}

/* The TLS version and cipher of the connection, or "" before TLS. */
const char *
io_tls_version(const struct io *io)
{
	const char	*v;

	if (io->tls == NULL || (io->flags & IO_HANDSHAKE) ||
	    (v = tls_conn_version(io->tls)) == NULL)
		return "";
	return v;
}

const char *
io_tls_cipher(const struct io *io)
{
	const char	*v;

	if (io->tls == NULL || (io->flags & IO_HANDSHAKE) ||
	    (v = tls_conn_cipher(io->tls)) == NULL)
		return "";
	return v;
}

const char *
io_error(const struct io *io)
{
	return io->err;
}

static int
io_can_read(const struct io *io)
{
	return !(io->flags & (IO_PAUSED | IO_EOF)) &&
	    io_datalen(io) < io->rmax - 1 && io_queued(io) < IO_WMAX;
}

static void
io_rearm(struct io *io)
{
	struct timeval	 tv;
	int64_t		 ms;
	short		 ev = 0;

	if (io->flags & (IO_FREED | IO_MEM))
		return;
	event_del(&io->ev);
	if (io->flags & IO_HANDSHAKE) {
		ev = (io->flags & IO_WANTWRITE) ? EV_WRITE : EV_READ;
	} else {
		if (io_can_read(io))
			ev |= (io->flags & IO_WANTWRITE) ? EV_WRITE : EV_READ;
		if (io_queued(io))
			ev |= (io->flags & IO_WANTREAD) ? EV_READ : EV_WRITE;
	}
	event_set(&io->ev, io->fd, ev, io_dispatch, io);
	if (io->timeout > 0) {
		ms = io_wait_ms(io);
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		event_add(&io->ev, &tv);
	} else if (ev)
		event_add(&io->ev, NULL);
}

/*
 * The timeout to wait for: the idle timeout, or less when a deadline
 * (of the handshake, of the line being read) comes sooner.
 */
static int64_t
io_wait_ms(struct io *io)
{
	int64_t	 now, ms = io->timeout, left;

	if (!(io->flags & IO_HANDSHAKE))
		io->hs_deadline = 0;
	if ((io->flags & IO_LINEDL) && !(io->flags & IO_PAUSED) &&
	    io_datalen(io) > 0) {
		if (io->line_since == 0)
			io->line_since = mono_ms();
	} else
		io->line_since = 0;
	if (io->hs_deadline == 0 && io->line_since == 0)
		return ms;
	now = mono_ms();
	if (io->hs_deadline != 0 && (left = io->hs_deadline - now) < ms)
		ms = left;
	if (io->line_since != 0 &&
	    (left = io->line_since + io->timeout - now) < ms)
		ms = left;
	return ms > 0 ? ms : 1;
}

/* Returns 1 if new data arrived, 0 if none, -1 on error. */
static int
io_do_read(struct io *io)
{
	ssize_t	 n;
	int	 got = 0;

	if (io->rbuf == NULL) {
		if ((io->rbuf = malloc(io->rmax)) == NULL)
			fatal("malloc");
		io->rsize = io->rmax;
	}
	io_compact(io);
	io->flags &= ~(IO_WANTWRITE | IO_FULL);
	if (io->flags & IO_MEM)
		return io_mem_read(io);
	while (io->rlen < io->rmax - 1 && io->rlen < io->rsize - 1) {
		size_t room = (io->rmax < io->rsize ? io->rmax : io->rsize) -
		    1 - io->rlen;

		if (io->tls) {
			n = tls_read(io->tls, io->rbuf + io->rlen, room);
			if (n == TLS_WANT_POLLIN)
				break;
			if (n == TLS_WANT_POLLOUT) {
				io->flags |= IO_WANTWRITE;
				break;
			}
			if (n == -1) {
				snprintf(io->err, sizeof(io->err), "tls: %s",
				    tls_error(io->tls));
				return -1;
			}
		} else {
			n = read(io->fd, io->rbuf + io->rlen, room);
			if (n == -1) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN)
					break;
				snprintf(io->err, sizeof(io->err), "read: %s",
				    strerror(errno));
				return -1;
			}
		}
		if (n == 0) {
			io->flags |= IO_EOF;
			break;
		}
		io->rlen += n;
		got = 1;
		if (io->tls == NULL && (size_t)n < room)
			break;
	}
	if (io->rlen >= io->rmax - 1 || io->rlen >= io->rsize - 1)
		io->flags |= IO_FULL;
	return got;
}

static int
io_do_write(struct io *io)
{
	ssize_t	 n;

	io->flags &= ~IO_WANTREAD;
	if (io->flags & IO_MEM)
		io_mem_write(io);
	while (io_queued(io)) {
		if (io->tls) {
			n = tls_write(io->tls, io->wbuf + io->wpos,
			    io->wlen - io->wpos);
			if (n == TLS_WANT_POLLIN) {
				io->flags |= IO_WANTREAD;
				return 0;
			}
			if (n == TLS_WANT_POLLOUT)
				return 0;
			if (n == -1) {
				snprintf(io->err, sizeof(io->err), "tls: %s",
				    tls_error(io->tls));
				return -1;
			}
		} else {
			n = send(io->fd, io->wbuf + io->wpos,
			    io->wlen - io->wpos, MSG_NOSIGNAL);
			if (n == -1) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN)
					return 0;
				snprintf(io->err, sizeof(io->err),
				    "write: %s", strerror(errno));
				return -1;
			}
		}
		io->wpos += n;
	}
	io->wpos = io->wlen = 0;
	return 1;
}

static int
io_do_handshake(struct io *io)
{
	int	 r;

	io->flags &= ~IO_WANTWRITE;
	r = io->flags & IO_MEM ? 0 : tls_handshake(io->tls);
	if (r == TLS_WANT_POLLIN)
		return 0;
	if (r == TLS_WANT_POLLOUT) {
		io->flags |= IO_WANTWRITE;
		return 0;
	}
	if (r == -1) {
		snprintf(io->err, sizeof(io->err), "tls handshake: %s",
		    tls_error(io->tls));
		return -1;
	}
	io->flags &= ~IO_HANDSHAKE;
	io->hs_deadline = 0;
	return 1;
}

/* Run the owner's callback; returns 0 if the io was freed. */
static int
io_callback(struct io *io, int evt)
{
	io->flags |= IO_INCB;
	io->cb(io, evt, io->arg);
	io->flags &= ~IO_INCB;
	if (io->flags & IO_FREED) {
		io_destroy(io);
		return 0;
	}
	return 1;
}

static void
io_dispatch(int fd, short ev, void *arg)
{
	struct io	*io = arg;
	int		 r;

	(void)fd;
	if (ev == EV_TIMEOUT) {
		if (io_callback(io, IO_TIMEOUT))
			io_rearm(io);
		return;
	}
	if (io->flags & IO_HANDSHAKE) {
		if ((r = io_do_handshake(io)) == -1) {
			if (io_callback(io, IO_ERROR))
				io_rearm(io);
			return;
		}
		if (r == 0) {
			io_rearm(io);
			return;
		}
		if (!io_callback(io, IO_TLSREADY))
			return;
	}
	if (io_queued(io) > 0) {
		if ((r = io_do_write(io)) == -1) {
			if (io_callback(io, IO_ERROR))
				io_rearm(io);
			return;
		}
		if (r == 1 && !io_callback(io, IO_LOWAT))
			return;
		if (io->flags & IO_HANDSHAKE) {		/* STARTTLS */
			io_rearm(io);
			return;
		}
	}
	if (io_can_read(io) && io_do_read(io) == -1) {
		if (io_callback(io, IO_ERROR))
			io_rearm(io);
		return;
	}
	if (!(io->flags & IO_PAUSED) && io_datalen(io) > 0 &&
	    !io_callback(io, IO_DATAIN))
		return;
	/*
	 * libtls may hold decrypted bytes beyond a read that filled the
	 * buffer; the socket will not signal them: read again at once.
	 */
	if (io->tls != NULL && (io->flags & IO_FULL) && io_can_read(io)) {
		io_rearm(io);
		event_active(&io->ev, EV_READ, 1);
		return;
	}
	if (!(io->flags & IO_PAUSED) && (io->flags & IO_EOF) &&
	    io_datalen(io) == 0) {
		if (io_callback(io, IO_DISCONNECTED))
			io_rearm(io);
		return;
	}
	io_rearm(io);
}

/* What the peer sent, as far as the buffer takes it: 1 some, 0 none. */
static int
io_mem_read(struct io *io)
{
	struct io_mem	*m = io->mem;
	size_t		 room = (io->rmax < io->rsize ? io->rmax : io->rsize) -
			    1 - io->rlen, n;

	if ((n = m->inlen < room ? m->inlen : room) > 0) {
		memcpy(io->rbuf + io->rlen, m->in, n);
		io->rlen += n;
		memmove(m->in, m->in + n, m->inlen - n);
		m->inlen -= n;
	}
	if (m->inlen == 0 && m->eof)
		io->flags |= IO_EOF;
	if (io->rlen >= io->rmax - 1 || io->rlen >= io->rsize - 1)
		io->flags |= IO_FULL;
	return n > 0;
}

/* All queued output reaches the peer at once. */
static void
io_mem_write(struct io *io)
{
	struct io_mem	*m = io->mem;
	size_t		 n = io_queued(io);
	char		*p;

	if ((p = realloc(m->out, m->outlen + n + 1)) == NULL)
		fatal("realloc");
	m->out = p;
	memcpy(m->out + m->outlen, io->wbuf + io->wpos, n);
	m->outlen += n;
	m->out[m->outlen] = '\0';
	io->wpos = io->wlen;
}

void
io_mem_send(struct io_mem *m, const void *data, size_t len)
{
	char	*p;

	if ((p = realloc(m->in, m->inlen + len + 1)) == NULL)
		fatal("realloc");
	m->in = p;
	memcpy(m->in + m->inlen, data, len);
	m->inlen += len;
	io_mem_run(m);
}

void
io_mem_close(struct io_mem *m)
{
	m->eof = 1;
	io_mem_run(m);
}

void
io_mem_timeout(struct io_mem *m)
{
	if (m->io != NULL && io_callback(m->io, IO_TIMEOUT))
		io_mem_run(m);
}

/*
 * What the event loop would do while the io can move: one io_dispatch()
 * a pass, as for a socket ready both ways, until a pass changes nothing.
 */
void
io_mem_run(struct io_mem *m)
{
	struct io	*io;
	size_t		 in, out, rpos, rlen, wq;
	int		 flags;

	while ((io = m->io) != NULL) {
		in = m->inlen;
		out = m->outlen;
		rpos = io->rpos;
		rlen = io->rlen;
		wq = io_queued(io);
		flags = io->flags;
		io_dispatch(-1, EV_READ | EV_WRITE, io);
		if ((io = m->io) == NULL || (in == m->inlen &&
		    out == m->outlen && rpos == io->rpos && rlen == io->rlen &&
		    wq == io_queued(io) && flags == io->flags))
			break;
	}
}

void
io_mem_free(struct io_mem *m)
{
	if (m->io != NULL)
		io_destroy(m->io);
	free(m->in);
	free(m->out);
	memset(m, 0, sizeof(*m));
}
