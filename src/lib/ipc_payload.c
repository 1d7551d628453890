/*
 * The payloads of IPC messages: building them (ipc_add*()) and reading
 * them (ipc_get*()).  Each field is of a kind of imsg.h's field lists:
 * integers, strings and counted bytes, and the typed ones, one encoder
 * and one decoder each: a mail address, a socket address, a delivery
 * destination, and what the envelopes of a new message share.  Structs
 * never cross as bytes: their strings travel as strings, which the
 * reader checks (terminated, no NUL inside, fits its buffer) along with
 * the values (an address family, a destination type, envelope flags).
 * A payload that breaks any of this, is cut short, or has fields of
 * other kinds than its list declares, is fatal in the receiver (a bug or
 * an attack).  No process state: the channel is src/maild/ipc.c.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <string.h>

#include "address.h"
#include "compat.h"
#include "envelope.h"
#include "expand.h"
#include "ipc.h"
#include "log.h"

static void	 buf_put(struct ipc_buf *, const void *, size_t);
static void	 buf_kind(struct ipc_buf *, char);
static void	 buf_strn(struct ipc_buf *, const char *, size_t);
static void	 buf_str(struct ipc_buf *, const char *, size_t);
static void	 buf_addr(struct ipc_buf *, const struct mailaddr *);
static void	 msg_kind(struct ipc_msg *, int);
static void	 msg_need(struct ipc_msg *, size_t);
static void	 msg_take(struct ipc_msg *, void *, size_t);
static const char *msg_str(struct ipc_msg *);
static void	 msg_strbuf(struct ipc_msg *, char *, size_t, const char *);
static void	 msg_addr(struct ipc_msg *, struct mailaddr *);

void
ipc_buf_init(struct ipc_buf *b)
{
	b->len = 0;
	b->nkinds = 0;
	b->kinds[0] = '\0';
}

static void
buf_put(struct ipc_buf *b, const void *data, size_t len)
{
	if (len > sizeof(b->data) - b->len)
		fatalx("ipc_add: message too large");
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

static void
buf_kind(struct ipc_buf *b, char kind)
{
	if (b->nkinds == IPC_KINDS_MAX)
		fatalx("ipc_add: more than %d fields", IPC_KINDS_MAX);
	b->kinds[b->nkinds++] = kind;
	b->kinds[b->nkinds] = '\0';
}

/* A string: its length, its bytes and the NUL. */
static void
buf_strn(struct ipc_buf *b, const char *s, size_t len)
{
	uint32_t	 n = len;

	if (len > IPC_MAX_PAYLOAD)
		fatalx("ipc_add: message too large");
	buf_put(b, &n, sizeof(n));
	buf_put(b, s, len + 1);
}

/* The string of a struct field of size max: its end is checked too. */
static void
buf_str(struct ipc_buf *b, const char *s, size_t max)
{
	size_t	 len;

	if ((len = strnlen(s, max)) == max)
		fatalx("ipc_add: unterminated string");
	buf_strn(b, s, len);
}

static void
buf_addr(struct ipc_buf *b, const struct mailaddr *a)
{
	buf_str(b, a->user, sizeof(a->user));
	buf_str(b, a->domain, sizeof(a->domain));
}

void
ipc_add(struct ipc_buf *b, const void *data, size_t len)
{
	buf_kind(b, IPC_K_RAW);
	buf_put(b, data, len);
}

void
ipc_add_u32(struct ipc_buf *b, uint32_t v)
{
	buf_kind(b, IPC_K_U32);
	buf_put(b, &v, sizeof(v));
}

void
ipc_add_u64(struct ipc_buf *b, uint64_t v)
{
	buf_kind(b, IPC_K_U64);
	buf_put(b, &v, sizeof(v));
}

void
ipc_add_str(struct ipc_buf *b, const char *s)
{
	buf_kind(b, IPC_K_STR);
	buf_strn(b, s, strlen(s));
}

/* user and domain, as two strings */
void
ipc_add_addr(struct ipc_buf *b, const struct mailaddr *a)
{
	buf_kind(b, IPC_K_ADDR);
	buf_addr(b, a);
}

/* the length of the address of its family, then that many bytes */
void
ipc_add_sockaddr(struct ipc_buf *b, const struct sockaddr_storage *ss)
{
	uint32_t	 len;

	if (ss->ss_family == AF_INET)
		len = sizeof(struct sockaddr_in);
	else if (ss->ss_family == AF_INET6)
		len = sizeof(struct sockaddr_in6);
	else
		fatalx("ipc_add_sockaddr: address family %d", ss->ss_family);
	buf_kind(b, IPC_K_SOCKADDR);
	buf_put(b, &len, sizeof(len));
	buf_put(b, ss, len);
}

/* type, address, path (a Maildir, or the relay action's name) */
void
ipc_add_dest(struct ipc_buf *b, const struct dest *d)
{
	uint32_t	 type = d->type;

	buf_kind(b, IPC_K_DEST);
	buf_put(b, &type, sizeof(type));
	buf_addr(b, &d->addr);
	buf_str(b, d->path, sizeof(d->path));
}

/*
 * What the envelopes of a new message share, as its receiver sets it:
 * flags, HELO name, client address, sender.  The rest of an envelope
 * is the queue's (ids, times, recipient, destination, signatures).
 */
void
ipc_add_envelope(struct ipc_buf *b, const struct envelope *e)
{
	uint32_t	 flags = e->flags;

	buf_kind(b, IPC_K_ENVELOPE);
	buf_put(b, &flags, sizeof(flags));
	buf_str(b, e->helo, sizeof(e->helo));
	buf_str(b, e->src, sizeof(e->src));
	buf_addr(b, &e->sender);
}

void
ipc_fields_begin(struct ipc_msg *m, const char *list)
{
	memset(&m->fields, 0, sizeof(m->fields));
	m->fields.list = m->fields.p = list;
}

/* The reader takes a field of kind k: it must be the list's next one. */
static void
msg_kind(struct ipc_msg *m, int k)
{
	if (m->fields.list == NULL)
		return;
	if (imsg_fields_step(&m->fields, k) == -1)
		fatalx("ipc: message %u from %s read as %s where its fields "
		    "are \"%s\"", m->type, m->peer, imsg_kind_name(k),
		    m->fields.list);
}

static void
msg_need(struct ipc_msg *m, size_t len)
{
	if (len > m->len - m->pos)
		fatalx("ipc: short message %u from %s", m->type, m->peer);
}

static void
msg_take(struct ipc_msg *m, void *buf, size_t len)
{
	msg_need(m, len);
	memcpy(buf, m->data + m->pos, len);
	m->pos += len;
}

/* A string in the message: its length, its bytes, a NUL, none inside. */
static const char *
msg_str(struct ipc_msg *m)
{
	const char	*s;
	uint32_t	 len;

	msg_take(m, &len, sizeof(len));
	msg_need(m, (size_t)len + 1);
	s = (const char *)m->data + m->pos;
	if (s[len] != '\0' || memchr(s, '\0', len) != NULL)
		fatalx("ipc: bad string in message %u from %s", m->type,
		    m->peer);
	m->pos += (size_t)len + 1;
	return s;
}

static void
msg_strbuf(struct ipc_msg *m, char *buf, size_t size, const char *what)
{
	if (strlcpy(buf, msg_str(m), size) >= size)
		fatalx("ipc: %s too long in message %u from %s", what,
		    m->type, m->peer);
}

static void
msg_addr(struct ipc_msg *m, struct mailaddr *a)
{
	msg_strbuf(m, a->user, sizeof(a->user), "local part");
	msg_strbuf(m, a->domain, sizeof(a->domain), "domain");
}

void
ipc_get(struct ipc_msg *m, void *buf, size_t len)
{
	msg_kind(m, IPC_K_RAW);
	msg_take(m, buf, len);
}

const void *
ipc_get_raw(struct ipc_msg *m, size_t len)
{
	const void	*p;

	msg_kind(m, IPC_K_RAW);
	msg_need(m, len);
	p = m->data + m->pos;
	m->pos += len;
	return p;
}

uint32_t
ipc_get_u32(struct ipc_msg *m)
{
	uint32_t v;

	msg_kind(m, IPC_K_U32);
	msg_take(m, &v, sizeof(v));
	return v;
}

uint64_t
ipc_get_u64(struct ipc_msg *m)
{
	uint64_t v;

	msg_kind(m, IPC_K_U64);
	msg_take(m, &v, sizeof(v));
	return v;
}

const char *
ipc_get_strp(struct ipc_msg *m)
{
	msg_kind(m, IPC_K_STR);
	return msg_str(m);
}

void
ipc_get_str(struct ipc_msg *m, char *buf, size_t size)
{
	msg_kind(m, IPC_K_STR);
	msg_strbuf(m, buf, size, "string");
}

void
ipc_get_addr(struct ipc_msg *m, struct mailaddr *a)
{
	msg_kind(m, IPC_K_ADDR);
	msg_addr(m, a);
}

void
ipc_get_sockaddr(struct ipc_msg *m, struct sockaddr_storage *ss)
{
	uint32_t	 len;

	msg_kind(m, IPC_K_SOCKADDR);
	msg_take(m, &len, sizeof(len));
	if (len > sizeof(*ss))
		fatalx("ipc: socket address of %u bytes in message %u from %s",
		    len, m->type, m->peer);
	memset(ss, 0, sizeof(*ss));
	msg_take(m, ss, len);
	if (!(ss->ss_family == AF_INET && len == sizeof(struct sockaddr_in)) &&
	    !(ss->ss_family == AF_INET6 && len == sizeof(struct sockaddr_in6)))
		fatalx("ipc: bad socket address (family %d, %u bytes) in "
		    "message %u from %s", ss->ss_family, len, m->type,
		    m->peer);
}

void
ipc_get_dest(struct ipc_msg *m, struct dest *d)
{
	uint32_t	 type;

	msg_kind(m, IPC_K_DEST);
	memset(d, 0, sizeof(*d));
	msg_take(m, &type, sizeof(type));
	if (type != DEST_MAILDIR && type != DEST_RELAY)
		fatalx("ipc: destination of type %u in message %u from %s",
		    type, m->type, m->peer);
	d->type = type;
	msg_addr(m, &d->addr);
	msg_strbuf(m, d->path, sizeof(d->path), "path");
}

/* Into a cleared envelope: the fields ipc_add_envelope() sends. */
void
ipc_get_envelope(struct ipc_msg *m, struct envelope *e)
{
	uint32_t	 flags;

	msg_kind(m, IPC_K_ENVELOPE);
	memset(e, 0, sizeof(*e));
	msg_take(m, &flags, sizeof(flags));
	if (flags & ~EF_MASK)
		fatalx("ipc: envelope flags %#x in message %u from %s", flags,
		    m->type, m->peer);
	e->flags = flags;
	msg_strbuf(m, e->helo, sizeof(e->helo), "HELO name");
	msg_strbuf(m, e->src, sizeof(e->src), "client address");
	msg_addr(m, &e->sender);
}

void
ipc_skip(struct ipc_msg *m)
{
	m->pos = m->len;
	m->fields.list = NULL;
}

void
ipc_end(struct ipc_msg *m)
{
	if (m->pos != m->len)
		fatalx("ipc: %zu trailing bytes in message %u from %s",
		    m->len - m->pos, m->type, m->peer);
	if (m->fields.list != NULL && imsg_fields_done(&m->fields) == -1)
		fatalx("ipc: message %u from %s read without all of \"%s\"",
		    m->type, m->peer, m->fields.list);
}

int
ipc_get_fd(struct ipc_msg *m)
{
	int	 fd = m->fd;

	if (fd == -1)
		fatalx("ipc: message %u from %s lacks a descriptor", m->type,
		    m->peer);
	m->fd = -1;
	return fd;
}
