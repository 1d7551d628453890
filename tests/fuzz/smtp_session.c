/*
 * Whole SMTP sessions (smtp_session.c, smtp_data.c), in memory as the
 * session unit tests run them: the input is what a client sends, and
 * lookup and the queue answer every request the session makes.
 *
 * Input: byte 0 picks the listener's options (AUTH, rDNS and FCrDNS
 * checks, masked source, any sender, From checks), byte 1 seeds how the
 * peers answer (recipient found, unknown, relaying denied, temporary
 * failure; spool file or not; commit or not; login right or wrong),
 * byte 2 the size of the pieces the rest arrives in (1 to 256 bytes, so
 * lines and the end of DATA are split anywhere).
 *
 * Properties: every request is one the smtp process may send, to a
 * process that takes it, with the fields declared for it in imsg.h,
 * which its receiver's decoders read whole (ipc_payload.c); no
 * request is made while one is unanswered; every reply line the client
 * gets is a 3-digit code, a space or a dash, and ends in CRLF; once the
 * client has gone and the peers have answered, the session has ended
 * (and with it every timer, buffer and file descriptor it held).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "dns.h"
#include "envelope.h"
#include "expand.h"
#include "fuzz.h"
#include "io.h"
#include "ipc.h"
#include "log.h"
#include "maild.h"
#include "proc.h"
#include "server.h"
#include "session_env.h"
#include "smtp.h"

/* The process globals a session reads (proc.c's in the daemon). */
struct maild_conf	*conf;
uint64_t		 stats[ST_COUNT];

static struct {
	int		 pending;
	uint32_t	 type;
	uint64_t	 reqid;
	uint32_t	 msgid;
	uint32_t	 next_msgid;
	uint32_t	 rnd;
	int		 gone;
} peer;

static struct listener		 lis;
static struct sockaddr_storage	 client;

static void	 f_send(enum proc_type, uint32_t, int, const struct ipc_buf *);
static int	 f_auth_send(const struct sockaddr_storage *, const char *,
		    const struct ipc_buf *);
static void	 f_auth_failed(const struct sockaddr_storage *, const char *,
		    int);
static void	 f_auth_ok(const struct sockaddr_storage *, const char *);
static struct srv_tlsctx *f_tls_get(const struct listener *);
static struct tls *f_tls_ctx(const struct srv_tlsctx *);
static void	 f_tls_put(struct srv_tlsctx *);
static void	 f_gone(const struct sockaddr_storage *,
		    const struct listener *);
static uint32_t	 pick(uint32_t);
static void	 request(uint32_t, const struct ipc_buf *);
static void	 request_rest(struct ipc_msg *);
static void	 answer(void);
static void	 pump(struct io_mem *);
static void	 check_replies(struct io_mem *);
static void	 init(void);

static const struct session_env fuzz_env = {
	.send = f_send,
	.auth_send = f_auth_send,
	.auth_failed = f_auth_failed,
	.auth_ok = f_auth_ok,
	.tls_get = f_tls_get,
	.tls_ctx = f_tls_ctx,
	.tls_put = f_tls_put,
	.gone = f_gone,
};

/* The peers' next choice among n, from the input's seed. */
static uint32_t
pick(uint32_t n)
{
	peer.rnd = peer.rnd * 1103515245U + 12345U;
	return (peer.rnd >> 16) % n;
}

/* A request as proc.c checks it, then its reqid (and msgid). */
static void
request(uint32_t type, const struct ipc_buf *b)
{
	const struct imsg_info	*mi;
	struct ipc_msg		 m;
	char			 err[256];

	FUZZ_ASSERT(type > IMSG_NONE && type < IMSG_COUNT);
	mi = &imsg_info[type];
	FUZZ_ASSERT(mi->from & P_SMTP);
	FUZZ_ASSERT(imsg_fields_check(mi->fields, b->kinds, err,
	    sizeof(err)) == 0);
	FUZZ_ASSERT(!peer.pending);
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.data = b->data;
	m.len = b->len;
	m.fd = -1;
	m.peer = "smtp";
	m.from = PROC_SMTP;
	ipc_fields_begin(&m, mi->fields);
	peer.reqid = ipc_get_u64(&m);
	if (type == IMSG_Q_COMMIT)
		peer.msgid = ipc_get_u32(&m);
	request_rest(&m);
	peer.pending = 1;
	peer.type = type;
}

/* The rest of a request, read as lookup or the queue reads it. */
static void
request_rest(struct ipc_msg *m)
{
	struct sockaddr_storage	 ss;
	struct mailaddr		 a;
	struct envelope		*e;
	uint32_t		 n;

	switch (m->type) {
	case IMSG_L_FCRDNS:
		ipc_get_sockaddr(m, &ss);
		break;
	case IMSG_L_RCPT:
		(void)ipc_get_u32(m);
		(void)ipc_get_u32(m);
		ipc_get_addr(m, &a);
		break;
	case IMSG_L_SENDER:
		ipc_get_addr(m, &a);
		ipc_get_addr(m, &a);
		break;
	case IMSG_Q_COMMIT:
		if ((e = malloc(sizeof(*e))) == NULL)
			fuzz_fail("malloc");
		(void)ipc_get_u32(m);
		ipc_get_envelope(m, e);
		(void)ipc_get_strp(m);
		free(e);
		break;
	case IMSG_L_AUTH:
		(void)ipc_get_u32(m);
		(void)ipc_get_strp(m);
		(void)ipc_get_strp(m);
		n = ipc_get_u32(m);
		(void)ipc_get_raw(m, n);
		break;
	}
	ipc_end(m);
}

static void
f_send(enum proc_type p, uint32_t type, int fd, const struct ipc_buf *b)
{
	FUZZ_ASSERT(fd == -1);
	FUZZ_ASSERT(type < IMSG_COUNT && (imsg_info[type].to & (1U << p)));
	if (type == IMSG_Q_ROLLBACK) {
		FUZZ_ASSERT(imsg_info[type].from & P_SMTP);
		return;		/* no answer */
	}
	request(type, b);
}

static int
f_auth_send(const struct sockaddr_storage *ss, const char *user,
    const struct ipc_buf *b)
{
	(void)ss;
	(void)user;
	if (pick(8) == 0)
		return AUTH_THROTTLED;
	request(IMSG_L_AUTH, b);
	return 0;
}

static void
f_auth_failed(const struct sockaddr_storage *ss, const char *user, int n)
{
	(void)ss;
	(void)user;
	(void)n;
}

static void
f_auth_ok(const struct sockaddr_storage *ss, const char *user)
{
	(void)ss;
	(void)user;
}

/* No TLS in memory: STARTTLS is not offered (no L_TLS listener). */
static struct srv_tlsctx *
f_tls_get(const struct listener *l)
{
	(void)l;
	return NULL;
}

static struct tls *
f_tls_ctx(const struct srv_tlsctx *t)
{
	(void)t;
	return NULL;
}

static void
f_tls_put(struct srv_tlsctx *t)
{
	(void)t;
}

static void
f_gone(const struct sockaddr_storage *ss, const struct listener *l)
{
	(void)ss;
	(void)l;
	peer.gone++;
}

/* Lookup's or the queue's answer to the pending request. */
static void
answer(void)
{
	static const int rcpt[] = { EXP_OK, EXP_OK, EXP_OK, EXP_NOTFOUND,
	    EXP_RELAY_DENIED, EXP_TEMPFAIL, EXP_FAIL };
	static const int fcrdns[] = { FCRDNS_PASS, FCRDNS_NORDNS,
	    FCRDNS_MISMATCH, FCRDNS_TEMPFAIL };
	static const uint32_t auth[] = { AUTH_OK, AUTH_FAIL, AUTH_TEMPFAIL };
	int	 r;

	peer.pending = 0;
	switch (peer.type) {
	case IMSG_L_FCRDNS:
		r = fcrdns[pick(nitems(fcrdns))];
		smtp_session_fcrdns_result(peer.reqid, r,
		    r == FCRDNS_NORDNS ? "" : "client.example.net");
		break;
	case IMSG_Q_CREATE:
		if (pick(6) == 0)
			smtp_session_create_failed(peer.reqid, pick(2));
		else
			smtp_session_created(&fuzz_env, peer.reqid,
			    ++peer.next_msgid, fuzz_memfd("", 0));
		break;
	case IMSG_L_RCPT:
		r = rcpt[pick(nitems(rcpt))];
		smtp_session_rcpt_result(peer.reqid, r, 1 + pick(3),
		    r == EXP_OK ? "" : "no such user");
		break;
	case IMSG_L_SENDER:
		smtp_session_sender_result(peer.reqid, pick(4) != 0);
		break;
	case IMSG_Q_COMMIT:
		smtp_session_committed(peer.reqid, peer.msgid, pick(5) != 0);
		break;
	case IMSG_L_AUTH:
		smtp_session_auth_result(peer.reqid, auth[pick(nitems(auth))],
		    "alice@example.org");
		break;
	default:
		fuzz_fail("request %u has no answer", peer.type);
	}
}

/* Run the session, answering its requests, until it waits for input. */
static void
pump(struct io_mem *m)
{
	int	 i;

	for (i = 0; i < 1000; i++) {
		io_mem_run(m);
		if (!peer.pending)
			return;
		answer();
	}
	fuzz_fail("the session keeps asking");
}

/* Every reply line: "ddd" then SP or '-', text, CRLF. */
static void
check_replies(struct io_mem *m)
{
	const char	*p = m->out, *eol;

	if (p == NULL)
		return;
	while ((eol = strstr(p, "\r\n")) != NULL) {
		FUZZ_ASSERT(eol - p >= 3);
		FUZZ_ASSERT(p[0] >= '2' && p[0] <= '5' && p[1] >= '0' &&
		    p[1] <= '5' && p[2] >= '0' && p[2] <= '9');
		FUZZ_ASSERT(eol - p == 3 || p[3] == ' ' || p[3] == '-');
		p = eol + 2;
	}
	FUZZ_ASSERT(*p == '\0');
	m->outlen = 0;
	m->out[0] = '\0';
}

static void
init(void)
{
	static const char	 text[] = "hostname mx.example.org\n";
	struct sockaddr_in	*sin = (struct sockaddr_in *)&client;

	log_init(0, 0);
	(void)event_init();
	if ((conf = config_parse_buf("fuzz", text, strlen(text),
	    CONF_NOFILES)) == NULL)
		fuzz_fail("config");
	lis.proto = PROTO_SMTP;
	lis.port = 25;
	strlcpy(lis.authtable, "passwd", sizeof(lis.authtable));
	strlcpy(lis.hostname, "mx.example.org", sizeof(lis.hostname));
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.1", &sin->sin_addr);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int	 opts[] = { L_AUTH, L_CHECK_RDNS,
	    L_CHECK_FCRDNS, L_MASKSRC, L_ANYSENDER, L_FROM_UNSIGNED };
	static int		 ready;
	struct io_mem		 m;
	size_t			 i, chunk, n;
	int			 k;

	if (!ready) {
		init();
		ready = 1;
	}
	if (size < 3 || size > 256 * 1024)
		return 0;
	lis.flags = 0;
	for (i = 0; i < nitems(opts); i++)
		if (data[0] & (1U << i))
			lis.flags |= opts[i];
	memset(&peer, 0, sizeof(peer));
	peer.rnd = data[1];
	chunk = 1 + data[2];
	data += 3;
	size -= 3;

	memset(&m, 0, sizeof(m));
	smtp_session_new(io_new_mem(&m, 0), &lis, &client, data[-3] & 0x80,
	    &fuzz_env);
	pump(&m);
	check_replies(&m);
	for (i = 0; i < size && m.io != NULL; i += n) {
		n = size - i < chunk ? size - i : chunk;
		io_mem_send(&m, data + i, n);
		pump(&m);
		check_replies(&m);
	}
	/* The client goes; timeouts fire until the session has ended. */
	if (m.io != NULL) {
		io_mem_close(&m);
		pump(&m);
	}
	for (k = 0; k < 10 && m.io != NULL; k++) {
		io_mem_timeout(&m);
		pump(&m);
	}
	check_replies(&m);
	FUZZ_ASSERT(m.io == NULL && peer.gone == 1);
	io_mem_free(&m);
	return 0;
}
