/*
 * Buffered, event-driven connections with optional TLS (libtls).  One
 * libevent event per connection is re-armed after every pass according
 * to what libtls wants (TLS_WANT_POLLIN/POLLOUT) and what the owner
 * wants (read unless paused or full, write while output is queued).
 * The owner's callback may free the io; the io notices and stops.
 * A memory connection (IO_MEM, no socket, no event) lets a unit test
 * play the client of a session through the same buffers and callbacks.
 * COMPRESS=DEFLATE (RFC 4978) sits between the socket (or TLS) and the
 * buffers: the owner reads and writes plain bytes as before.  The
 * decompressor lives as long as the connection (the client's window may
 * reach back 32 KiB at any time).  The compressor is flushed
 * (Z_SYNC_FLUSH) whenever the queue goes out, so nothing waits in it,
 * and freed a few seconds after the output last drained: replies close
 * together share its history (a tenth fewer bytes for a run of FETCHes),
 * and an idle connection does not keep its ~260 KiB of tables.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "compat.h"
#include "io.h"
#include "log.h"
#include "maild.h"
#include "util.h"

#define IO_AGAIN	(-2)	/* io_recv(): nothing to read now */
#define IO_ZIN		16384	/* compressed input read at a time */
#define IO_ZOUT		16384	/* compressed output written at a time */
/*
 * The compressor: level 6 (zlib's default), a 32 KiB window and
 * memLevel 8 cost about 260 KiB while a reply is being sent, nothing
 * between replies.
 */
#define IO_ZLEVEL	6
#define IO_ZWBITS	15
#define IO_ZMEMLEVEL	8
#define IO_ZREST_MS	5000	/* idle output: the compressor goes */
#define IO_ZHDR		16	/* io_z_alloc()'s size, aligned */

struct io_z {
	z_stream	 in;		/* inflate: the whole connection */
	z_stream	 out;		/* deflate: while output is queued */
	int		 outlive;	/* out is initialized */
	int		 oflush;	/* a flush may be unfinished */
	int		 imore;		/* inflate may hold output */
	int		 ieof;		/* no more compressed input */
	char		*ibuf;		/* compressed, not inflated yet */
	size_t		 ipos, ilen;
	char		*obuf;		/* compressed, not sent yet */
	size_t		 opos, olen, osize;
	struct event	 ev_rest;	/* frees the idle compressor */
	uint64_t	 plain_in, wire_in, plain_out, wire_out;
};

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
static size_t	io_room(const struct io *);
static int	io_held(const struct io *);
static ssize_t	io_recv(struct io *, char *, size_t);
static ssize_t	io_send(struct io *, const char *, size_t);
static int	io_z_read(struct io *);
static int	io_z_inflate(struct io *, size_t);
static void	io_z_deflate(struct io *);
static void	io_z_drained(struct io *);
static void	io_z_rest_timer(int, short, void *);
static void	io_z_rest(struct io *);
static void	io_z_free(struct io_z *);
static voidpf	io_z_alloc(voidpf, uInt, uInt);
static void	io_z_dealloc(voidpf, voidpf);

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
	if (io->z != NULL) {
		if (!(io->flags & IO_MEM))
			evtimer_del(&io->z->ev_rest);
		io_z_free(io->z);
	}
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
	size_t	 n = io->wlen - io->wpos;

	if (io->z != NULL)
		n += io->z->olen - io->z->opos;
	return n;
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
	if (io->z != NULL) {
		io->z->ipos = io->z->ilen = 0;
		io->z->imore = 0;
	}
}

int
io_start_compress(struct io *io)
{
	struct io_z	*z;
	size_t		 n;

	if (io->z != NULL)
		return -1;
	if ((z = calloc(1, sizeof(*z))) == NULL)
		fatal("calloc");
	if (inflateInit2(&z->in, -MAX_WBITS) != Z_OK)
		fatalx("inflateInit2");
	/* The reply that turned compression on goes out as it is. */
	if ((n = io_queued(io)) > 0) {
		if ((z->obuf = malloc(n)) == NULL)
			fatal("malloc");
		memcpy(z->obuf, io->wbuf + io->wpos, n);
		z->olen = z->osize = n;
		z->wire_out = n;
		io->wpos = io->wlen = 0;
	}
	/* What the client sent after the command is compressed already. */
	io_unhide_cr(io);
	if ((n = io_datalen(io)) > 0) {
		if ((z->ibuf = malloc(n > IO_ZIN ? n : IO_ZIN)) == NULL)
			fatal("malloc");
		memcpy(z->ibuf, io->rbuf + io->rpos, n);
		z->ilen = n;
		z->wire_in = n;
		io->rlen = io->rpos;
	}
	if (io->flags & IO_EOF)
		z->ieof = 1;
	io->flags &= ~(IO_EOF | IO_FULL);
	if (!(io->flags & IO_MEM))
		evtimer_set(&z->ev_rest, io_z_rest_timer, io);
	io->z = z;
	if (!(io->flags & IO_INCB))
		io_rearm(io);
	return 0;
}

int
io_compressed(const struct io *io)
{
	return io->z != NULL;
}

void
io_compress_info(const struct io *io, char *buf, size_t len)
{
	const struct io_z	*z = io->z;

	if (z == NULL) {
		if (len)
			buf[0] = '\0';
		return;
	}
	snprintf(buf, len, "deflate in=%llu/%llu out=%llu/%llu",
	    (unsigned long long)z->wire_in, (unsigned long long)z->plain_in,
	    (unsigned long long)z->wire_out, (unsigned long long)z->plain_out);
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

/* Free room in the input buffer (0 also when over a lowered limit). */
static size_t
io_room(const struct io *io)
{
	size_t	 lim = (io->rmax < io->rsize ? io->rmax : io->rsize) - 1;

	return io->rlen < lim ? lim - io->rlen : 0;
}

/*
 * Input held beyond the socket, which will not signal it: decrypted in
 * libtls past a read that filled the buffer, or compressed in ours.
 */
static int
io_held(const struct io *io)
{
	const struct io_z	*z = io->z;

	if (io->flags & IO_MEM)
		return 0;
	if (z != NULL && (z->ipos < z->ilen || z->imore))
		return 1;
	return io->tls != NULL && (io->flags & IO_FULL);
}

/* Bytes from the peer: how many, 0 at EOF, IO_AGAIN for none now, -1. */
static ssize_t
io_recv(struct io *io, char *buf, size_t len)
{
	struct io_mem	*m = io->mem;
	ssize_t		 n;

	if (io->flags & IO_MEM) {
		if (m->inlen == 0)
			return m->eof ? 0 : IO_AGAIN;
		n = m->inlen < len ? m->inlen : len;
		memcpy(buf, m->in, n);
		memmove(m->in, m->in + n, m->inlen - n);
		m->inlen -= n;
		return n;
	}
	if (io->tls) {
		n = tls_read(io->tls, buf, len);
		if (n == TLS_WANT_POLLIN)
			return IO_AGAIN;
		if (n == TLS_WANT_POLLOUT) {
			io->flags |= IO_WANTWRITE;
			return IO_AGAIN;
		}
		if (n == -1)
			snprintf(io->err, sizeof(io->err), "tls: %s",
			    tls_error(io->tls));
		return n;
	}
	for (;;) {
		if ((n = read(io->fd, buf, len)) != -1)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return IO_AGAIN;
		snprintf(io->err, sizeof(io->err), "read: %s",
		    strerror(errno));
		return -1;
	}
}

/* Bytes to the peer: how many went, 0 when it must wait, -1 on error. */
static ssize_t
io_send(struct io *io, const char *buf, size_t len)
{
	struct io_mem	*m = io->mem;
	ssize_t		 n;
	char		*p;

	if (io->flags & IO_MEM) {	/* all of it, at once */
		if ((p = realloc(m->out, m->outlen + len + 1)) == NULL)
			fatal("realloc");
		m->out = p;
		memcpy(m->out + m->outlen, buf, len);
		m->outlen += len;
		m->out[m->outlen] = '\0';
		return len;
	}
	if (io->tls) {
		n = tls_write(io->tls, buf, len);
		if (n == TLS_WANT_POLLIN) {
			io->flags |= IO_WANTREAD;
			return 0;
		}
		if (n == TLS_WANT_POLLOUT)
			return 0;
		if (n == -1)
			snprintf(io->err, sizeof(io->err), "tls: %s",
			    tls_error(io->tls));
		return n;
	}
	for (;;) {
		if ((n = send(io->fd, buf, len, MSG_NOSIGNAL)) != -1)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return 0;
		snprintf(io->err, sizeof(io->err), "write: %s",
		    strerror(errno));
		return -1;
	}
}

/* Returns 1 if new data arrived, 0 if none, -1 on error. */
static int
io_do_read(struct io *io)
{
	ssize_t	 n;
	size_t	 room;
	int	 got = 0;

	if (io->rbuf == NULL) {
		if ((io->rbuf = malloc(io->rmax)) == NULL)
			fatal("malloc");
		io->rsize = io->rmax;
	}
	io_compact(io);
	io->flags &= ~(IO_WANTWRITE | IO_FULL);
	if (io->z != NULL) {
		if ((got = io_z_read(io)) == -1)
			return -1;
	} else {
		while ((room = io_room(io)) > 0) {
			n = io_recv(io, io->rbuf + io->rlen, room);
			if (n == IO_AGAIN)
				break;
			if (n == -1)
				return -1;
			if (n == 0) {
				io->flags |= IO_EOF;
				break;
			}
			io->rlen += n;
			got = 1;
			/* A short read emptied the socket (not libtls). */
			if (io->tls == NULL && !(io->flags & IO_MEM) &&
			    (size_t)n < room)
				break;
		}
	}
	if (io_room(io) == 0)
		io->flags |= IO_FULL;
	return got;
}

/*
 * Compressed input: inflate what is buffered into the input buffer,
 * reading more when it is used up.  What one pass inflates is bounded
 * by the room in the input buffer, whatever the compression ratio: the
 * rest waits in ibuf (or in zlib) until the owner has used that.
 */
static int
io_z_read(struct io *io)
{
	struct io_z	*z = io->z;
	ssize_t		 n;
	int		 got = 0, r, drained = 0;

	while (io_room(io) > 0) {
		if (z->ipos < z->ilen || z->imore) {
			if ((r = io_z_inflate(io, io_room(io))) == -1)
				return -1;
			got |= r;
			continue;
		}
		if (z->ieof || drained)
			break;
		if (z->ibuf == NULL && (z->ibuf = malloc(IO_ZIN)) == NULL)
			fatal("malloc");
		if ((n = io_recv(io, z->ibuf, IO_ZIN)) == IO_AGAIN)
			break;
		if (n == -1)
			return -1;
		if (n == 0) {
			z->ieof = 1;
			break;
		}
		z->ipos = 0;
		z->ilen = n;
		z->wire_in += n;
		drained = io->tls == NULL && !(io->flags & IO_MEM) &&
		    n < IO_ZIN;
	}
	if (z->ipos == z->ilen && !z->imore) {
		/* Nothing held: an idle connection keeps no input buffer. */
		free(z->ibuf);
		z->ibuf = NULL;
		z->ipos = z->ilen = 0;
		if (z->ieof)
			io->flags |= IO_EOF;
	}
	return got;
}

/* One inflate() into the input buffer: 1 if it gave bytes, 0, -1. */
static int
io_z_inflate(struct io *io, size_t room)
{
	struct io_z	*z = io->z;
	size_t		 n;
	int		 r;

	z->in.next_in = (Bytef *)z->ibuf + z->ipos;
	z->in.avail_in = z->ilen - z->ipos;
	z->in.next_out = (Bytef *)io->rbuf + io->rlen;
	z->in.avail_out = room;
	r = inflate(&z->in, Z_SYNC_FLUSH);
	z->ipos = z->ilen - z->in.avail_in;
	n = room - z->in.avail_out;
	io->rlen += n;
	z->plain_in += n;
	/* A full buffer: zlib may have more for the next pass. */
	z->imore = z->in.avail_out == 0;
	switch (r) {
	case Z_OK:
		break;
	case Z_BUF_ERROR:		/* nothing more without input */
		z->imore = 0;
		break;
	case Z_STREAM_END:		/* the client ended its stream */
		z->ieof = 1;
		z->imore = 0;
		z->ipos = z->ilen;
		break;
	case Z_MEM_ERROR:
		fatalx("inflate: out of memory");
	default:
		snprintf(io->err, sizeof(io->err), "compressed input: %s",
		    z->in.msg != NULL ? z->in.msg : "inflate error");
		return -1;
	}
	return n > 0;
}

/*
 * Refill the compressed output buffer from the plain output queue (the
 * buffer is empty).  All the queue is given with Z_SYNC_FLUSH: nothing
 * that was queued stays in the compressor once the buffer has gone
 * out, and the flush marker is written once, after the last byte.
 */
static void
io_z_deflate(struct io *io)
{
	struct io_z	*z = io->z;
	size_t		 left, in;
	int		 r;

	z->opos = z->olen = 0;
	if ((left = io->wlen - io->wpos) == 0 && !z->oflush)
		return;
	if (!z->outlive) {
		z->out.zalloc = io_z_alloc;
		z->out.zfree = io_z_dealloc;
		if (deflateInit2(&z->out, IO_ZLEVEL, Z_DEFLATED, -IO_ZWBITS,
		    IO_ZMEMLEVEL, Z_DEFAULT_STRATEGY) != Z_OK)
			fatalx("deflateInit2");
		z->outlive = 1;
	}
	if (z->osize < IO_ZOUT) {
		free(z->obuf);
		if ((z->obuf = malloc(IO_ZOUT)) == NULL)
			fatal("malloc");
		z->osize = IO_ZOUT;
	}
	in = left < UINT32_MAX / 2 ? left : UINT32_MAX / 2;
	z->out.next_in = (Bytef *)io->wbuf + io->wpos;
	z->out.avail_in = in;
	z->out.next_out = (Bytef *)z->obuf;
	z->out.avail_out = z->osize;
	r = deflate(&z->out, Z_SYNC_FLUSH);
	if (r != Z_OK && r != Z_BUF_ERROR)
		fatalx("deflate: %d", r);
	io->wpos += in - z->out.avail_in;
	z->plain_out += in - z->out.avail_in;
	z->olen = z->osize - z->out.avail_out;
	z->wire_out += z->olen;
	/* A full buffer: the flush may not be complete yet. */
	z->oflush = z->out.avail_out == 0;
}

/*
 * Output has drained: its buffer goes now, the compressor if no more
 * follows soon (at once on a memory connection, which has no event loop
 * to wait in).
 */
static void
io_z_drained(struct io *io)
{
	struct io_z	*z = io->z;
	struct timeval	 tv;

	free(z->obuf);
	z->obuf = NULL;
	z->opos = z->olen = z->osize = 0;
	if (!z->outlive)
		return;
	if (io->flags & IO_MEM) {
		io_z_rest(io);
		return;
	}
	tv.tv_sec = IO_ZREST_MS / 1000;
	tv.tv_usec = (IO_ZREST_MS % 1000) * 1000;
	evtimer_add(&z->ev_rest, &tv);
}

static void
io_z_rest_timer(int fd, short ev, void *arg)
{
	struct io	*io = arg;

	(void)fd;
	(void)ev;
	if (io_queued(io) == 0)
		io_z_rest(io);
}

/* Free the compressor and its buffer until there is output again. */
static void
io_z_rest(struct io *io)
{
	struct io_z	*z = io->z;

	if (z->outlive) {
		(void)deflateEnd(&z->out);
		z->outlive = 0;
	}
	z->oflush = 0;
	free(z->obuf);
	z->obuf = NULL;
	z->opos = z->olen = z->osize = 0;
}

/*
 * The compressor's tables come from mmap(2), not the heap: freed, they
 * go back to the system at once, where a heap keeps the holes that many
 * compressors freed at different times leave (as resident memory).
 */
static voidpf
io_z_alloc(voidpf opaque, uInt items, uInt size)
{
	size_t	 n;
	char	*p;

	(void)opaque;
	if (size != 0 && items > (SIZE_MAX - IO_ZHDR) / size)
		return Z_NULL;
	n = (size_t)items * size + IO_ZHDR;
	p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANON, -1,
	    0);
	if (p == MAP_FAILED)
		return Z_NULL;
	memcpy(p, &n, sizeof(n));
	return p + IO_ZHDR;
}

static void
io_z_dealloc(voidpf opaque, voidpf ptr)
{
	char	*p = (char *)ptr - IO_ZHDR;
	size_t	 n;

	(void)opaque;
	memcpy(&n, p, sizeof(n));
	(void)munmap(p, n);
}

static void
io_z_free(struct io_z *z)
{
	(void)inflateEnd(&z->in);
	if (z->outlive)
		(void)deflateEnd(&z->out);
	free(z->ibuf);
	free(z->obuf);
	free(z);
}

/* 1 once all output went, 0 while the peer must take more, -1 error. */
static int
io_do_write(struct io *io)
{
	struct io_z	*z = io->z;
	const char	*buf;
	size_t		*pos, len;
	ssize_t		 n;

	io->flags &= ~IO_WANTREAD;
	for (;;) {
		if (z != NULL) {
			if (z->opos == z->olen)
				io_z_deflate(io);
			buf = z->obuf;
			pos = &z->opos;
			len = z->olen;
		} else {
			buf = io->wbuf;
			pos = &io->wpos;
			len = io->wlen;
		}
		if (*pos == len)
			break;
		if ((n = io_send(io, buf + *pos, len - *pos)) <= 0)
			return n;
		*pos += n;
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
		if (r == 1 && io->z != NULL && io_queued(io) == 0)
			io_z_drained(io);
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
	 * buffer, the decompressor input beyond what fitted (or what came
	 * with the COMPRESS command); the socket will not signal them: read
	 * again at once.
	 */
	if (io_held(io) && io_can_read(io)) {
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
	uint64_t	 zin;
	int		 flags;

	while ((io = m->io) != NULL) {
		in = m->inlen;
		out = m->outlen;
		rpos = io->rpos;
		rlen = io->rlen;
		wq = io_queued(io);
		flags = io->flags;
		/* Inflated from what was buffered: the rest may look alike. */
		zin = io->z != NULL ? io->z->plain_in : 0;
		io_dispatch(-1, EV_READ | EV_WRITE, io);
		if ((io = m->io) == NULL || (in == m->inlen &&
		    out == m->outlen && rpos == io->rpos && rlen == io->rlen &&
		    wq == io_queued(io) && flags == io->flags &&
		    zin == (io->z != NULL ? io->z->plain_in : 0)))
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
