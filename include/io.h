/*
 * Buffered connections over libevent and libtls, shared by every
 * protocol: line reading with a maximum, queued writes, TLS upgrade
 * (STARTTLS or implicit), COMPRESS=DEFLATE, timeouts.  The input buffer
 * is allocated when data first arrives, so an idle connection costs
 * little.
 */
#ifndef MAILD_IO_H
#define MAILD_IO_H

#include <event.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <tls.h>

enum io_event {
	IO_DATAIN,		/* input buffered: call io_getline() */
	IO_LOWAT,		/* output queue drained */
	IO_TLSREADY,		/* handshake done */
	IO_TIMEOUT,
	IO_DISCONNECTED,	/* peer closed */
	IO_ERROR		/* io_error() says why */
};

struct io {
	int		 fd;
	struct tls	*tls;
	int		 flags;
#define IO_HANDSHAKE	0x0001
#define IO_PAUSED	0x0002	/* reading paused by the owner */
#define IO_EOF		0x0004
#define IO_INCB		0x0008
#define IO_FREED	0x0010
#define IO_WANTWRITE	0x0020	/* tls_read wants POLLOUT */
#define IO_WANTREAD	0x0040	/* tls_write wants POLLIN */
#define IO_FULL		0x0080	/* last read stopped on a full buffer */
#define IO_HELDCR	0x0100	/* rbuf[rpos] is a CR hidden by a NUL */
#define IO_LINEDL	0x0200	/* a line must end within the timeout */
#define IO_MEM		0x0400	/* no socket: mem is the other end */
#define IO_MEMTLS	0x0800	/* TLS pretended on a memory connection */
	struct event	 ev;
	struct io_mem	*mem;
	int		 timeout;	/* msec, 0 none */
	/*
	 * Deadlines no trickle of bytes moves (monotonic msec, 0 none): of
	 * the TLS handshake, and with IO_LINEDL of the line being read.
	 */
	int64_t		 hs_deadline;
	int64_t		 line_since;
	char		*rbuf;
	size_t		 rpos, rlen, rsize;	/* rsize: allocated */
	size_t		 rmax;		/* longest line + 2 */
	char		*wbuf;		/* at most ~IO_WMAX + one reply */
	size_t		 wpos, wlen, wsize;
	struct io_z	*z;		/* compression, NULL if off */
	char		 err[128];
	void		(*cb)(struct io *, int, void *);
	void		*arg;
};

/*
 * The other end of a connection without a socket, for driving a session
 * in a unit test: bytes put in "in" reach the io as if received, what
 * the io sends lands in "out"; io is NULL once its owner freed it.  No
 * event loop runs such a connection: io_mem_run() does what one would
 * do (write, read, call the owner) until nothing moves.  STARTTLS and
 * implicit TLS are pretended: the handshake succeeds at the next run.
 */
struct io_mem {
	struct io	*io;
	char		*in;		/* not read by the io yet */
	size_t		 inlen;
	char		*out;		/* written by the io, NUL-terminated */
	size_t		 outlen;
	int		 eof;		/* we closed: the io reads EOF */
	int		 shut;		/* the io's owner half-closed */
};

/* Reading stops while this much output waits: a client must read. */
#define IO_WMAX		65536

struct io	*io_new(int, size_t, void (*)(struct io *, int, void *),
		    void *);
void		 io_free(struct io *);
/* The owner's callback, for an io made before its owner. */
void		 io_set_callback(struct io *, void (*)(struct io *, int,
		    void *), void *);
/* A connection to m; its callback is set with io_set_callback(). */
struct io	*io_new_mem(struct io_mem *, size_t);
/* Send bytes to the io (then run it), close our end, time it out. */
void		 io_mem_send(struct io_mem *, const void *, size_t);
void		 io_mem_close(struct io_mem *);
void		 io_mem_timeout(struct io_mem *);
void		 io_mem_run(struct io_mem *);
/* Free the buffers of m, and its io if its owner has not. */
void		 io_mem_free(struct io_mem *);
void		 io_set_timeout(struct io *, int);
/*
 * With on, a line begun must end within the timeout, however its bytes
 * trickle in (the timeout otherwise restarts with each read).
 */
void		 io_set_line_deadline(struct io *, int);
/* Input buffer limit: the longest line io_getline() can return. */
void		 io_set_maxline(struct io *, size_t);
/*
 * Next line, without its LF, NUL-terminated (a CR before the LF is kept
 * so the caller can tell CRLF from a bare LF).  *partial is set when the
 * buffer filled up without a LF: the chunk is returned as a line.
 * NULL when no complete line is buffered.
 */
char		*io_getline(struct io *, size_t *, int *);
size_t		 io_datalen(const struct io *);
/* Raw input (literal bytes): what is buffered, and how much was used. */
const char	*io_data(struct io *, size_t *);
void		 io_consume(struct io *, size_t);
void		 io_write(struct io *, const void *, size_t);
void		 io_printf(struct io *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
void		 io_vprintf(struct io *, const char *, va_list)
		    __attribute__((__format__ (printf, 2, 0)));
size_t		 io_queued(const struct io *);
void		 io_pause(struct io *);
void		 io_resume(struct io *);
/* Discard buffered input (no plaintext may survive STARTTLS). */
void		 io_drop_input(struct io *);
int		 io_start_tls(struct io *, struct tls *);
/*
 * Raw DEFLATE (RFC 1951, as RFC 4978 has it) both ways from here on:
 * the output queued so far (the reply that accepted COMPRESS) still goes
 * out as it is, and the input buffered beyond what was consumed is taken
 * as compressed.  The owner goes on reading and writing plain bytes;
 * io_queued() then counts compressed bytes not sent too.  Invalid
 * compressed input is an IO_ERROR.  -1 when compression is on already.
 */
int		 io_start_compress(struct io *);
int		 io_compressed(const struct io *);
/* "deflate in=wire/plain out=wire/plain" byte counts, or "". */
void		 io_compress_info(const struct io *, char *, size_t);
/*
 * Client side: ctx is a configured tls_client() context, which the io
 * owns (and frees) once this returns 0; the handshake starts at once.
 */
int		 io_start_tls_client(struct io *, struct tls *, const char *);
/* TLS was started (the handshake may still be running). */
int		 io_tls_started(const struct io *);
/* Half-close: nothing more is sent, reading goes on. */
void		 io_shutdown(struct io *);
/* "TLSv1.3:TLS_AES_256_GCM_SHA384:256" style summary, or "". */
const char	*io_tls_version(const struct io *);
const char	*io_tls_cipher(const struct io *);
void		 io_tls_info(const struct io *, char *, size_t);
const char	*io_error(const struct io *);

#endif
