/*
 * The fake surroundings of a session driven in memory (session_fake.h):
 * its process's globals and session_env, the peers reading its requests,
 * the client's side of its connection.  Linked into the session unit
 * tests and, compiled by tests/fuzz/build, into the session fuzz targets.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ipc.h"
#include "log.h"
#include "proc.h"
#include "session_fake.h"

/* The process globals a session reads (proc.c's in the daemon). */
struct maild_conf	*conf;
uint64_t		 stats[ST_COUNT];

struct fake		 fake;

const struct session_env fake_env = {
	.send = fake_send,
	.auth_send = fake_auth_send,
	.auth_failed = fake_auth_failed,
	.auth_ok = fake_auth_ok,
	.tls_get = fake_tls_get,
	.tls_ctx = fake_tls_ctx,
	.tls_put = fake_tls_put,
	.gone = fake_gone,
};

static int		 tls_dummy;
struct srv_tlsctx *const fake_tlsctx = (struct srv_tlsctx *)&tls_dummy;

static void	 failed(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2)));
static const char *pname(void);
static int	 request(enum proc_type, uint32_t, int, const struct ipc_buf *,
		    struct ipc_msg *);
static void	 read_auth(struct ipc_msg *, const char *);
static void	 read_request(struct ipc_msg *);
static void	 wait_answer(uint32_t);

static void
failed(const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (fake.check != NULL) {
		fake.check(0, "%s", msg);
		return;
	}
	fprintf(stderr, "session_fake: %s\n", msg);
	abort();
}

static const char *
pname(void)
{
	return fake.proc == PROC_IMAP ? "imap" : "smtp";
}

void
fake_setup(struct listener *l, enum listen_proto proto, int port,
    struct sockaddr_storage *client)
{
	static const char	 text[] = "hostname mx.example.org\n";
	struct sockaddr_in	*sin = (struct sockaddr_in *)client;

	if ((conf = config_parse_buf("session_fake", text, strlen(text),
	    CONF_NOFILES)) == NULL)
		fatalx("config");
	l->proto = proto;
	l->port = port;
	strlcpy(l->authtable, "passwd", sizeof(l->authtable));
	memset(client, 0, sizeof(*client));
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.1", &sin->sin_addr);
}

void
fake_init(enum proc_type proc)
{
	memset(&fake, 0, sizeof(fake));
	fake.proc = proc;
}

/*
 * A request to process p as proc.c checks it (one the session's process
 * may send, to a process that takes it, with its descriptor or none as
 * declared, the fields as declared), set up in m to be read as its
 * receiver reads it (ipc.c checks each field read).  0 if it fails.
 */
static int
request(enum proc_type p, uint32_t type, int fd, const struct ipc_buf *b,
    struct ipc_msg *m)
{
	const struct imsg_info	*mi;
	char			 err[256] = "";

	if (type == IMSG_NONE || type >= IMSG_COUNT) {
		failed("unknown message %u", type);
		return 0;
	}
	mi = &imsg_info[type];
	if (!(mi->from & (1U << fake.proc)) || !(mi->to & (1U << p)) ||
	    (fd != -1) != (mi->fd == IMSG_FD) ||
	    imsg_fields_check(mi->fields, b->kinds, err, sizeof(err)) == -1) {
		failed("IMSG_%s from %s to process %d: not as declared %s",
		    mi->name, pname(), p, err);
		return 0;
	}
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->data = b->data;
	m->len = b->len;
	m->fd = -1;
	m->peer = pname();
	m->from = fake.proc;
	ipc_fields_begin(m, mi->fields);
	fake.n[type]++;
	return 1;
}

/* A request the session now waits for an answer to. */
static void
wait_answer(uint32_t type)
{
	if (fake.pending)
		failed("request %u while %u was pending", type, fake.type);
	fake.pending = 1;
	fake.type = type;
}

/* A request to lookup or the queue, read as lookup.c and queue.c do. */
static void
read_request(struct ipc_msg *m)
{
	struct sockaddr_storage	 ss;

	switch (m->type) {
	case IMSG_L_FCRDNS:
		fake.reqid = ipc_get_u64(m);
		ipc_get_sockaddr(m, &ss);
		break;
	case IMSG_L_DNSBL:
		fake.dnsbl_reqid = ipc_get_u64(m);
		ipc_get_sockaddr(m, &ss);
		break;
	case IMSG_Q_CREATE:
		fake.reqid = ipc_get_u64(m);
		break;
	case IMSG_L_RCPT:
		fake.reqid = ipc_get_u64(m);
		fake.msgid = ipc_get_u32(m);
		fake.rcptflags = ipc_get_u32(m);
		ipc_get_addr(m, &fake.addr);
		break;
	case IMSG_L_SENDER:
		fake.reqid = ipc_get_u64(m);
		ipc_get_addr(m, &fake.user);
		ipc_get_addr(m, &fake.addr);
		break;
	case IMSG_Q_COMMIT:
		fake.reqid = ipc_get_u64(m);
		fake.msgid = ipc_get_u32(m);
		fake.ndest = ipc_get_u32(m);
		ipc_get_envelope(m, &fake.env);
		ipc_get_str(m, fake.signdom, sizeof(fake.signdom));
		(void)ipc_get_strp(m);	/* rdns, user, TLS: for rspamd */
		(void)ipc_get_strp(m);
		(void)ipc_get_strp(m);
		(void)ipc_get_strp(m);
		break;
	case IMSG_Q_ROLLBACK:
		fake.msgid = ipc_get_u32(m);
		break;
	case IMSG_Q_GREYLIST:
		fake.reqid = ipc_get_u64(m);
		ipc_get_sockaddr(m, &fake.client);
		ipc_get_addr(m, &fake.sender);
		ipc_get_addr(m, &fake.addr);
		break;
	}
	ipc_end(m);
}

void
fake_send(enum proc_type p, uint32_t type, int fd, const struct ipc_buf *b)
{
	struct ipc_msg	 m;

	fake.sent++;
	if (!request(p, type, fd, b, &m))
		return;
	switch (type) {
	case IMSG_L_DNSBL:
		if (fake.dnsbl)
			failed("IMSG_L_DNSBL twice");
		read_request(&m);
		fake.dnsbl = 1;
		break;
	case IMSG_L_FCRDNS:
	case IMSG_Q_CREATE:
	case IMSG_L_RCPT:
	case IMSG_L_SENDER:
	case IMSG_Q_COMMIT:
	case IMSG_Q_GREYLIST:
		read_request(&m);
		wait_answer(type);
		break;
	case IMSG_Q_ROLLBACK:
		read_request(&m);
		break;		/* no answer */
	default:
		failed("unexpected request IMSG_%s", imsg_info[type].name);
	}
}

/* IMSG_L_AUTH as lookup.c reads it: reqid, flags, table, user, password. */
static void
read_auth(struct ipc_msg *m, const char *user)
{
	const char	*s;
	uint32_t	 plen;

	fake.reqid = ipc_get_u64(m);
	fake.authflags = ipc_get_u32(m);
	strlcpy(fake.table, ipc_get_strp(m), sizeof(fake.table));
	s = ipc_get_strp(m);
	if (strcmp(user, s) != 0)
		failed("auth request for %s names %s", user, s);
	strlcpy(fake.authuser, s, sizeof(fake.authuser));
	plen = ipc_get_u32(m);
	s = ipc_get_raw(m, plen);
	if (plen >= sizeof(fake.pass))
		plen = sizeof(fake.pass) - 1;
	memcpy(fake.pass, s, plen);
	fake.pass[plen] = '\0';
	ipc_end(m);
}

/* A login check through the throttle: sent unless fake.auth_ret. */
int
fake_auth_send(const struct sockaddr_storage *ss, const char *user,
    const struct ipc_buf *b)
{
	struct ipc_msg	 m;

	(void)ss;
	if (request(PROC_LOOKUP, IMSG_L_AUTH, -1, b, &m)) {
		read_auth(&m, user);
		if (fake.auth_ret == 0)
			wait_answer(IMSG_L_AUTH);
	}
	return fake.auth_ret;
}

void
fake_auth_failed(const struct sockaddr_storage *ss, const char *user, int n)
{
	(void)ss;
	(void)user;
	(void)n;
	fake.failed++;
}

void
fake_auth_ok(const struct sockaddr_storage *ss, const char *user)
{
	(void)ss;
	(void)user;
	fake.ok++;
}

struct srv_tlsctx *
fake_tls_get(const struct listener *l)
{
	(void)l;
	if (fake.no_tls)
		return NULL;
	fake.tls_refs++;
	return fake_tlsctx;
}

struct tls *
fake_tls_ctx(const struct srv_tlsctx *t)
{
	(void)t;
	return NULL;	/* a memory connection pretends its TLS */
}

void
fake_tls_put(struct srv_tlsctx *t)
{
	if (t != fake_tlsctx)
		failed("tls_put() of a context tls_get() did not give");
	fake.tls_refs--;
}

void
fake_gone(const struct sockaddr_storage *ss, const struct listener *l)
{
	(void)ss;
	(void)l;
	fake.gone++;
}

void
fake_pump(struct io_mem *m)
{
	int	 i;

	for (i = 0; i < 1000; i++) {
		io_mem_run(m);
		if (!fake.pending && fake.dnsbl) {
			fake.dnsbl = 0;
			fake.pending = 1;
			fake.type = IMSG_L_DNSBL;
			fake.reqid = fake.dnsbl_reqid;
		}
		if (!fake.pending || fake.hold || fake.answer == NULL)
			return;
		fake.pending = 0;
		fake.answer();
	}
	failed("the session keeps asking");
}

void
fake_feed(struct io_mem *m, const uint8_t *data, size_t size, size_t chunk,
    void (*check)(struct io_mem *))
{
	size_t	 i, n;
	int	 k;

	for (i = 0; i < size && m->io != NULL; i += n) {
		n = size - i < chunk ? size - i : chunk;
		io_mem_send(m, data + i, n);
		fake_pump(m);
		check(m);
	}
	if (m->io != NULL) {
		io_mem_close(m);
		fake_pump(m);
	}
	for (k = 0; k < 10 && m->io != NULL; k++) {
		io_mem_timeout(m);
		fake_pump(m);
	}
}

void
fake_out_clear(struct io_mem *m)
{
	m->outlen = 0;
	if (m->out != NULL)
		m->out[0] = '\0';
}

const char *
fake_out(const struct io_mem *m)
{
	return m->out != NULL ? m->out : "";
}

const char *
say_n(struct io_mem *m, const char *text, size_t len)
{
	fake_out_clear(m);
	io_mem_send(m, text, len);
	if (fake.answer != NULL)
		fake_pump(m);
	return fake_out(m);
}

const char *
say(struct io_mem *m, const char *text)
{
	return say_n(m, text, strlen(text));
}

int
has(const char *out, const char *what)
{
	if (out != NULL && strstr(out, what) != NULL)
		return 1;
	printf("# expected \"%s\" in:\n# %s\n", what, out ? out : "(null)");
	return 0;
}

void
fixture(const char *name, char *buf, size_t size, size_t *len)
{
	ssize_t	 n;
	int	 fd;

	if ((fd = open(name, O_RDONLY)) == -1 ||
	    (n = read(fd, buf, size - 1)) <= 0)
		fatal("%s", name);
	close(fd);
	buf[n] = '\0';
	*len = n;
}
