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

#include <event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/session_fake.h"
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
#include "smtp.h"

int	LLVMFuzzerInitialize(int *, char ***);

/* What the queue may answer for the checks: good, and not. */
static const char *const refusals[] = {
	"550 5.7.1 Message rejected by the DMARC policy of bank.test",
	"451 4.7.5 Cannot check the DMARC policy now",
	"550 5.7.23 SPF of x.test does not allow this sender",
	"", "250 2.0.0 ok", "550 x", "550 5.7.1 \r\n221 injected",
};

static struct {
	uint32_t	 rnd;		/* their next choices */
	uint32_t	 next_msgid;
} peer;
static struct session_env	 fuzz_env;
static struct listener		 lis;
static struct sockaddr_storage	 client;

static uint32_t	 pick(uint32_t);
static int	 auth_send(const struct sockaddr_storage *, const char *,
		    const struct ipc_buf *);
static void	 answer(void);
static void	 check_replies(struct io_mem *);

/* The peers' next choice among n, from the input's seed. */
static uint32_t
pick(uint32_t n)
{
	peer.rnd = peer.rnd * 1103515245U + 12345U;
	return (peer.rnd >> 16) % n;
}

/* The login throttle: now and then it refuses to ask. */
static int
auth_send(const struct sockaddr_storage *ss, const char *user,
    const struct ipc_buf *b)
{
	fake.auth_ret = pick(8) == 0 ? AUTH_THROTTLED : 0;
	return fake_auth_send(ss, user, b);
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

	switch (fake.type) {
	case IMSG_L_FCRDNS:
		r = fcrdns[pick(nitems(fcrdns))];
		smtp_session_fcrdns_result(fake.reqid, r,
		    r == FCRDNS_NORDNS ? "" : "client.example.net");
		break;
	case IMSG_Q_CREATE:
		if (pick(6) == 0)
			smtp_session_create_failed(fake.reqid, pick(2));
		else
			smtp_session_created(&fuzz_env, fake.reqid,
			    ++peer.next_msgid, fuzz_memfd("", 0));
		break;
	case IMSG_L_RCPT:
		r = rcpt[pick(nitems(rcpt))];
		smtp_session_rcpt_result(fake.reqid, r, 1 + pick(3),
		    r == EXP_OK ? "" : "no such user");
		break;
	case IMSG_L_SENDER:
		smtp_session_sender_result(fake.reqid, pick(4) != 0);
		break;
	case IMSG_Q_COMMIT:
		/* Refused by the checks of inbound mail, now and then. */
		if (pick(8) == 0)
			smtp_session_refused(fake.reqid, fake.msgid,
			    refusals[pick(nitems(refusals))]);
		else
			smtp_session_committed(fake.reqid, fake.msgid,
			    pick(5) != 0);
		break;
	case IMSG_L_AUTH:
		smtp_session_auth_result(fake.reqid, auth[pick(nitems(auth))],
		    "alice@example.org");
		break;
	default:
		fuzz_fail("request %u has no answer", fake.type);
	}
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
	fake_out_clear(m);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init(0, 0);
	(void)event_init();
	fake_setup(&lis, PROTO_SMTP, 25, &client);
	strlcpy(lis.hostname, "mx.example.org", sizeof(lis.hostname));
	fuzz_env = fake_env;
	fuzz_env.auth_send = auth_send;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int	 opts[] = { L_AUTH, L_CHECK_RDNS,
	    L_CHECK_FCRDNS, L_MASKSRC, L_ANYSENDER, L_FROM_UNSIGNED };
	struct io_mem		 m;
	size_t			 i;

	if (size < 3 || size > 256 * 1024)
		return 0;
	lis.flags = 0;
	for (i = 0; i < nitems(opts); i++)
		if (data[0] & (1U << i))
			lis.flags |= opts[i];
	fake_init(PROC_SMTP);
	fake.no_tls = 1;	/* STARTTLS is not offered (no L_TLS) */
	fake.answer = answer;
	memset(&peer, 0, sizeof(peer));
	peer.rnd = data[1];

	memset(&m, 0, sizeof(m));
	smtp_session_new(io_new_mem(&m, 0), &lis, &client, data[0] & 0x80,
	    &fuzz_env);
	fake_pump(&m);
	check_replies(&m);
	fake_feed(&m, data + 3, size - 3, 1 + data[2], check_replies);
	check_replies(&m);
	FUZZ_ASSERT(m.io == NULL && fake.gone == 1);
	io_mem_free(&m);
	return 0;
}
