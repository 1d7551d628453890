/*
 * Framed messages between maild processes over socketpairs: a header
 * (type, length, flags), a payload, and optionally one file descriptor.
 * The channel is src/maild/ipc.c; payloads are built with ipc_add*()
 * and read with ipc_get*() (src/lib/ipc_payload.c); a short or
 * over-long payload is a fatal error in the receiver (a bug or an
 * attack, never silently ignored).  Both ends are checked against the
 * message's field list (imsg.h): the kinds a sender added, as it sends
 * (imsg_fields_check), and each field a receiver reads, as it reads it
 * (msg->fields, set by the dispatcher).
 */
#ifndef MAILD_IPC_H
#define MAILD_IPC_H

#include <sys/queue.h>

#include <event.h>
#include <stdint.h>

#include "imsg.h"

#define IPC_MAX_PAYLOAD	(64 * 1024)

struct ipc_hdr {
	uint32_t	type;
	uint32_t	len;		/* payload bytes */
	uint32_t	flags;
#define IPC_F_FD	0x1
	uint32_t	pad;
};

struct ipc_msg {
	uint32_t	 type;
	const uint8_t	*data;
	size_t		 len;
	size_t		 pos;
	int		 fd;		/* -1 if none; handler owns it */
	const char	*peer;
	int		 from;		/* the sender (enum proc_type) */
	struct ipc_fields fields;	/* what the reader may read next */
};

struct ipc_out;

struct ipc {
	int			 fd;
	const char		*peer;		/* "smtp", "queue", ... */
	struct event		 ev;		/* read, persistent */
	struct event		 evw;		/* write, when queued */
	uint8_t			*rbuf;
	size_t			 rlen;
	size_t			 rsize;
	int			 rfds[16];	/* received, not yet consumed */
	int			 nrfds;
	TAILQ_HEAD(, ipc_out)	 outq;
	void			(*dispatch)(struct ipc *, struct ipc_msg *);
	void			*arg;
};

/* A message under construction. */
struct ipc_buf {
	uint8_t		 data[IPC_MAX_PAYLOAD];
	size_t		 len;
	char		 kinds[IPC_KINDS_MAX + 1];	/* one per field */
	size_t		 nkinds;
};

/* Called instead of fatalx() when a peer closes, if set. */
extern void (*ipc_lost_hook)(struct ipc *);

void	ipc_init(struct ipc *, int, const char *,
	    void (*)(struct ipc *, struct ipc_msg *), void *);
void	ipc_close(struct ipc *);
/* Queue a message; fd (or -1) is closed by ipc once sent. */
void	ipc_send(struct ipc *, uint32_t, int, const void *, size_t);

void	ipc_buf_init(struct ipc_buf *);
void	ipc_add(struct ipc_buf *, const void *, size_t);
void	ipc_add_u32(struct ipc_buf *, uint32_t);
void	ipc_add_u64(struct ipc_buf *, uint64_t);
void	ipc_add_str(struct ipc_buf *, const char *);

/*
 * Typed fields (src/lib/ipc_payload.c): each has one encoder and one
 * decoder, which checks what it reads (strings terminated and fitting,
 * a known address family and its length, a known destination type,
 * known envelope flags); a payload that fails is fatal in the reader.
 */
struct mailaddr;
struct dest;
struct envelope;
struct sockaddr_storage;
void	ipc_add_addr(struct ipc_buf *, const struct mailaddr *);
void	ipc_add_sockaddr(struct ipc_buf *, const struct sockaddr_storage *);
void	ipc_add_dest(struct ipc_buf *, const struct dest *);
/* What a new message's envelopes share: flags, helo, src, sender. */
void	ipc_add_envelope(struct ipc_buf *, const struct envelope *);
void	ipc_get_addr(struct ipc_msg *, struct mailaddr *);
void	ipc_get_sockaddr(struct ipc_msg *, struct sockaddr_storage *);
void	ipc_get_dest(struct ipc_msg *, struct dest *);
/* The fields ipc_add_envelope() sends; the rest of the envelope zero. */
void	ipc_get_envelope(struct ipc_msg *, struct envelope *);

void	ipc_get(struct ipc_msg *, void *, size_t);
uint32_t ipc_get_u32(struct ipc_msg *);
uint64_t ipc_get_u64(struct ipc_msg *);
/* Copy a string into buf of size len; too long is fatal. */
void	ipc_get_str(struct ipc_msg *, char *, size_t);
/* Pointer to a string inside the message (NUL-checked). */
const char *ipc_get_strp(struct ipc_msg *);
/* The payload must be fully consumed. */
void	ipc_end(struct ipc_msg *);
/* Take the message's fd; fatal if it has none. */
int	ipc_get_fd(struct ipc_msg *);
/* A pointer to len bytes inside the message (a "raw" field). */
const void *ipc_get_raw(struct ipc_msg *, size_t);
/* A message read to its end without looking at it (dropped). */
void	ipc_skip(struct ipc_msg *);

/* A reader starts at the first field of a list (imsg.h). */
void	ipc_fields_begin(struct ipc_msg *, const char *);

#endif
