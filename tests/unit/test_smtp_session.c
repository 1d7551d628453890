/*
 * SMTP sessions driven in memory: the test is the client (an io_mem
 * connection, no socket) and plays the lookup and queue processes,
 * reading each IPC request the session makes through its session_env
 * as they would and answering it after the session has gone back to
 * wait, as they do.  The spool file the queue would open is a file in a
 * temporary directory, read back to see what the session wrote.
 * Covered: the greeting, EHLO/HELO, MAIL/RCPT/DATA with accepted and
 * refused answers, RSET NOOP QUIT VRFY EXPN HELP BDAT, commands out of
 * sequence and bad syntax, pipelining, over-long lines, NUL, bare CR
 * and LF in data (no SMTP smuggling), sizes, STARTTLS and implicit TLS,
 * AUTH PLAIN and LOGIN, the sender check, the rDNS check, timeouts,
 * disconnects and too many errors, answers of the wrong kind or for no
 * pending request, greylisting's question at RCPT.
 * Fixtures: tests/data/session (run from the top directory).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "dns.h"
#include "envelope.h"
#include "expand.h"
#include "greylist.h"
#include "io.h"
#include "log.h"
#include "maild.h"
#include "proc.h"
#include "server.h"
#include "session_fake.h"
#include "smtp.h"
#include "tap.h"

#define DATA	"tests/data/session/"

/* How lookup and the queue answer (fake.answer). */
static struct {
	int		 rcpt;		/* EXP_* */
	int		 create_fail;	/* -1: created, else Q_FAIL_* */
	int		 commit_ok;
	const char	*refuse;	/* the checks refuse it so, or NULL */
	int		 sender_ok;
	int		 fcrdns;	/* FCRDNS_* */
	int		 dnsbl;		/* the DNS lists refuse */
	uint32_t	 auth;		/* AUTH_* */
	uint32_t	 next_msgid;
	uint32_t	 grey;		/* GREY_* */
} peer;

static struct session_env test_env;	/* fake_env, and the checks below */
static struct listener	 lis;
static struct sockaddr_storage client;
static char		 spool[PATH_MAX];	/* the last spool file */
static char		 first_eml[256];
static size_t		 first_len;

static void	 send_checked(enum proc_type, uint32_t, int,
		    const struct ipc_buf *);
static int	 auth_checked(const struct sockaddr_storage *, const char *,
		    const struct ipc_buf *);
static void	 answer(void);
static void	 connect_to(struct io_mem *, int, int);
static void	 quit(struct io_mem *);
static char	*spooled(void);
static void	 defaults(void);
static void	 test_greeting(void);
static void	 test_sequence(void);
static void	 test_transaction(void);
static void	 test_refusals(void);
static void	 test_pipelining(void);
static void	 test_data_checks(void);
static void	 test_long_lines(void);
static void	 test_tls_auth(void);
static void	 test_rdns(void);
static void	 test_dnsbl(void);
static void	 test_greylist(void);
static void	 test_gone_waiting(void);
static void	 test_wrong_answer(void);
static void	 test_ends(void);

/* A request, read by the fake as lookup or the queue reads it. */
static void
send_checked(enum proc_type p, uint32_t type, int fd, const struct ipc_buf *b)
{
	fake_send(p, type, fd, b);
	if (type == IMSG_L_FCRDNS)
		ok(p == PROC_LOOKUP, "FCRDNS to lookup");
	else if (type == IMSG_Q_CREATE)
		ok(p == PROC_QUEUE, "CREATE to the queue");
}

static int
auth_checked(const struct sockaddr_storage *ss, const char *user,
    const struct ipc_buf *b)
{
	int	 r;

	r = fake_auth_send(ss, user, b);
	if (fake.authflags != 0)
		ok(0, "SMTP asks for no Maildir");
	return r;
}

/* The answer of lookup or the queue to the pending request. */
static void
answer(void)
{
	int	 fd;

	switch (fake.type) {
	case IMSG_L_FCRDNS:
		smtp_session_fcrdns_result(fake.reqid, peer.fcrdns,
		    peer.fcrdns == FCRDNS_NORDNS ? "" : "client.example.net");
		break;
	case IMSG_L_DNSBL:
		smtp_session_dnsbl_result(fake.reqid, peer.dnsbl, 1,
		    peer.dnsbl ? "Listed at bl.test, see\r\nhttp://bl.test/" :
		    "", peer.dnsbl ? "score 1: bl.test=127.0.0.2 (+1)" : "");
		break;
	case IMSG_Q_CREATE:
		if (peer.create_fail != -1) {
			smtp_session_create_failed(fake.reqid,
			    peer.create_fail);
			break;
		}
		snprintf(spool, sizeof(spool), "spool.%u", ++peer.next_msgid);
		if ((fd = open(spool, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1)
			fatal("%s", spool);
		smtp_session_created(&test_env, fake.reqid, peer.next_msgid,
		    fd);
		break;
	case IMSG_L_RCPT:
		smtp_session_rcpt_result(fake.reqid, peer.rcpt, 1,
		    peer.rcpt == EXP_TEMPFAIL ? "DNS timeout" : "");
		break;
	case IMSG_L_SENDER:
		smtp_session_sender_result(fake.reqid, peer.sender_ok);
		break;
	case IMSG_Q_COMMIT:
		if (peer.refuse != NULL)
			smtp_session_refused(fake.reqid, fake.msgid,
			    peer.refuse);
		else
			smtp_session_committed(fake.reqid, fake.msgid,
			    peer.commit_ok);
		break;
	case IMSG_L_AUTH:
		smtp_session_auth_result(fake.reqid, peer.auth,
		    fake.authuser);
		break;
	case IMSG_Q_GREYLIST:
		smtp_session_grey_result(fake.reqid, peer.grey,
		    peer.grey == GREY_DEFER ? 120 : 300);
		break;
	}
}

static void
defaults(void)
{
	peer.rcpt = EXP_OK;
	peer.create_fail = -1;
	peer.commit_ok = 1;
	peer.sender_ok = 1;
	peer.fcrdns = FCRDNS_PASS;
	peer.auth = AUTH_OK;
	fake.auth_ret = 0;
}

/* A new session on a listener with these flags; its greeting. */
static void
connect_to(struct io_mem *m, int flags, int self)
{
	memset(m, 0, sizeof(*m));
	lis.flags = flags;
	smtp_session_new(io_new_mem(m, 0), &lis, &client, self, &test_env);
	fake_pump(m);
}

/* QUIT: 221, the half-close, then our close ends the session. */
static void
quit(struct io_mem *m)
{
	int	 gone = fake.gone;

	ok(strcmp(say(m, "QUIT\r\n"), "221 2.0.0 Bye\r\n") == 0, "QUIT: 221");
	if (m->io != NULL) {
		ok(m->shut, "QUIT: the server half-closes");
		io_mem_close(m);
	}
	ok(m->io == NULL && fake.gone == gone + 1, "QUIT: session ended");
	io_mem_free(m);
}

/* What the session wrote into the last spool file. */
static char *
spooled(void)
{
	static char	 buf[8192];
	ssize_t		 n;
	int		 fd;

	if ((fd = open(spool, O_RDONLY)) == -1 ||
	    (n = read(fd, buf, sizeof(buf) - 1)) < 0)
		fatal("%s", spool);
	close(fd);
	buf[n] = '\0';
	return buf;
}

static void
test_greeting(void)
{
	struct io_mem	 m;
	const char	*r;

	connect_to(&m, 0, 0);
	ok(m.out != NULL && strcmp(m.out, "220 mx.example.org ESMTP maild\r\n")
	    == 0, "greeting");
	r = say(&m, "EHLO client.example.net\r\n");
	ok(strcmp(r, "250-mx.example.org Hello client.example.net "
	    "[192.0.2.1]\r\n250-PIPELINING\r\n250-SIZE 36700160\r\n"
	    "250-8BITMIME\r\n250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n"
	    "250 HELP\r\n") == 0, "EHLO: the extensions, no STARTTLS, no AUTH");
	ok(has(say(&m, "HELO client.example.net\r\n"), "250 mx.example.org "
	    "Hello client.example.net [192.0.2.1]\r\n"), "HELO");
	ok(has(say(&m, "EHLO\r\n"), "501 5.5.4 Syntax: EHLO hostname"),
	    "EHLO without a name: 501");
	ok(has(say(&m, "HELO a b\r\n"), "501 5.5.4"),
	    "HELO with two names: 501");
	ok(strcmp(say(&m, "NOOP\r\n"), "250 2.0.0 Ok\r\n") == 0, "NOOP");
	ok(strcmp(say(&m, "RSET\r\n"), "250 2.0.0 Ok\r\n") == 0, "RSET");
	ok(has(say(&m, "HELP\r\n"), "214 2.0.0 Commands:"), "HELP");
	ok(has(say(&m, "VRFY alice\r\n"), "252 2.5.2 Cannot VRFY"),
	    "VRFY: 252");
	ok(has(say(&m, "EXPN staff\r\n"), "502 5.5.1 EXPN not supported"),
	    "EXPN: 502");
	ok(has(say(&m, "BDAT 10 LAST\r\n"), "502 5.5.1 CHUNKING not "
	    "supported"), "BDAT: 502, CHUNKING is not offered");
	ok(has(say(&m, "ehlo lower.example\r\n"), "250 HELP"),
	    "verbs in lower case");
	quit(&m);
}

static void
test_sequence(void)
{
	struct io_mem	 m;

	connect_to(&m, 0, 0);
	ok(has(say(&m, "MAIL FROM:<bob@example.net>\r\n"), "503 5.5.1 Say EHLO "
	    "first"), "MAIL before EHLO: 503");
	(void)say(&m, "EHLO client.example.net\r\n");
	ok(has(say(&m, "RCPT TO:<alice@example.org>\r\n"), "503 5.5.1 Need "
	    "MAIL command first"), "RCPT before MAIL: 503");
	ok(has(say(&m, "DATA\r\n"), "503 5.5.1 Need RCPT command first"),
	    "DATA before RCPT: 503");
	ok(has(say(&m, "FROB\r\n"), "500 5.5.2 Command unrecognized"),
	    "unknown command: 500");
	ok(has(say(&m, "MAIL TO:<bob@example.net>\r\n"), "501 "),
	    "MAIL with bad syntax: 501");
	ok(has(say(&m, "MAIL FROM:<bob@@example.net>\r\n"), "553 ") ||
	    has(m.out, "501 "), "MAIL with a bad address: refused");
	ok(has(say(&m, "MAIL FROM:<bob@example.net>\r\n"), "250 2.1.0 Ok") &&
	    fake.n[IMSG_Q_CREATE] > 0, "MAIL: the queue made a spool file");
	ok(has(say(&m, "MAIL FROM:<bob@example.net>\r\n"), "503 5.5.1 Nested "
	    "MAIL command"), "MAIL twice: 503");
	ok(has(say(&m, "RCPT TO:alice\r\n"), "501 ") ||
	    has(m.out, "553 "), "RCPT with bad syntax: refused");
	ok(has(say(&m, "DATA\r\n"), "503 5.5.1 Need RCPT command first"),
	    "DATA without a recipient: 503");
	ok(has(say(&m, "RSET\r\n"), "250 2.0.0 Ok") &&
	    fake.msgid == peer.next_msgid && fake.n[IMSG_Q_ROLLBACK] == 1,
	    "RSET rolls the spool file back");
	ok(has(say(&m, "STARTTLS\r\n"), "502 5.5.1 STARTTLS not available"),
	    "STARTTLS where not offered: 502");
	ok(has(say_n(&m, "NO\0OP\r\n", 7), "500 5.5.2 Invalid characters"),
	    "NUL in a command: 500");
	quit(&m);
}

static void
test_transaction(void)
{
	struct io_mem	 m;
	const char	*r, *s;
	char		 line[64];

	connect_to(&m, 0, 0);
	(void)say(&m, "EHLO client.example.net\r\n");
	ok(strcmp(say(&m, "MAIL FROM:<bob@example.net> SIZE=84 "
	    "BODY=8BITMIME\r\n"), "250 2.1.0 Ok\r\n") == 0, "MAIL FROM");
	ok(strcmp(say(&m, "RCPT TO:<alice@example.org>\r\n"),
	    "250 2.1.5 Ok\r\n") == 0, "RCPT TO");
	ok(strcmp(fake.addr.user, "alice") == 0 &&
	    strcmp(fake.addr.domain, "example.org") == 0 &&
	    fake.msgid == peer.next_msgid && fake.rcptflags == 0,
	    "lookup got the recipient, the message, no flags");
	peer.rcpt = EXP_NOTFOUND;
	ok(has(say(&m, "RCPT TO:<nobody@example.org>\r\n"), "550 5.1.1 "
	    "<nobody@example.org>: Recipient address rejected: User unknown"),
	    "unknown recipient: 550");
	peer.rcpt = EXP_RELAY_DENIED;
	ok(has(say(&m, "RCPT TO:<x@example.com>\r\n"), "550 5.7.1 "
	    "<x@example.com>: Relay access denied"), "relaying: 550");
	peer.rcpt = EXP_TEMPFAIL;
	ok(has(say(&m, "RCPT TO:<y@example.org>\r\n"), "451 4.3.0 "
	    "<y@example.org>: DNS timeout, try again later"),
	    "lookup failure: 451");
	peer.rcpt = EXP_OK;
	(void)say(&m, "RCPT TO:<carol@example.org>\r\n");
	ok(strcmp(say(&m, "DATA\r\n"), "354 End data with "
	    "<CR><LF>.<CR><LF>\r\n") == 0, "DATA: 354");
	ok(strcmp(say_n(&m, first_eml, first_len), "") == 0,
	    "no answer within the data");
	ok(strcmp(say(&m, "..dot\r\n.\r\n"), "250 2.0.0 Ok: queued as "
	    "00000002\r\n") == 0, "end of data: queued once the queue says so");
	ok(fake.ndest == 2 && strcmp(fake.env.sender.user, "bob") == 0 &&
	    (fake.env.flags & EF_8BITMIME) && strcmp(fake.env.helo,
	    "client.example.net") == 0 && strcmp(fake.env.src, "192.0.2.1") ==
	    0 && fake.signdom[0] == '\0', "the envelope sent to the queue");
	s = spooled();
	snprintf(line, sizeof(line), " id %08x\r\n", peer.next_msgid);
	ok(strncmp(s, "Received: from client.example.net (192.0.2.1])", 20) ==
	    0 && has(s, "by mx.example.org (maild) with ESMTP") &&
	    has(s, line), "Received header first");
	r = strstr(s, "\r\n\t; ");
	ok(r != NULL && (r = strstr(r + 2, "\r\n")) != NULL &&
	    strncmp(r + 2, first_eml, first_len) == 0 &&
	    strcmp(r + 2 + first_len, ".dot\r\n") == 0,
	    "then the message, dot unstuffed, without the final dot");
	/* The next transaction on the same session. */
	(void)say(&m, "MAIL FROM:<>\r\n");
	(void)say(&m, "RCPT TO:<alice@example.org>\r\n");
	(void)say(&m, "DATA\r\n");
	peer.commit_ok = 0;
	ok(has(say(&m, "Subject: x\r\n\r\nbody\r\n.\r\n"), "451 4.3.0 "
	    "Temporary failure"), "commit failed: 451");
	peer.commit_ok = 1;
	/* The checks of inbound mail refuse it: their reply, then on. */
	peer.refuse = "550 5.7.1 Message rejected by the DMARC policy of "
	    "bank.test";
	(void)say(&m, "MAIL FROM:<ceo@bank.test>\r\n");
	(void)say(&m, "RCPT TO:<alice@example.org>\r\n");
	(void)say(&m, "DATA\r\n");
	ok(has(say(&m, "From: ceo@bank.test\r\n\r\nx\r\n.\r\n"),
	    "550 5.7.1 Message rejected by the DMARC policy of bank.test\r\n"),
	    "refused by the checks: their 550");
	peer.refuse = "451 4.7.5 Cannot check the DMARC policy now";
	(void)say(&m, "MAIL FROM:<ceo@bank.test>\r\n");
	(void)say(&m, "RCPT TO:<alice@example.org>\r\n");
	(void)say(&m, "DATA\r\n");
	ok(has(say(&m, "x\r\n.\r\n"), "451 4.7.5 Cannot check"),
	    "deferred by the checks: their 451");
	/* A reply that is no SMTP reply (a bug elsewhere): a plain 451. */
	peer.refuse = "250 2.0.0 fine\r\nbogus";
	(void)say(&m, "MAIL FROM:<ceo@bank.test>\r\n");
	(void)say(&m, "RCPT TO:<alice@example.org>\r\n");
	(void)say(&m, "DATA\r\n");
	ok(has(say(&m, "x\r\n.\r\n"), "451 4.3.0 Temporary failure"),
	    "a malformed refusal becomes 451 4.3.0");
	peer.refuse = NULL;
	ok(has(say(&m, "MAIL FROM:<bob@example.net>\r\n"), "250 "),
	    "the session goes on after a refusal");
	(void)say(&m, "RSET\r\n");
	peer.create_fail = Q_FAIL_NOSPACE;
	ok(has(say(&m, "MAIL FROM:<bob@example.net>\r\n"), "452 4.3.1 "
	    "Insufficient system storage"), "spool full: 452");
	peer.create_fail = Q_FAIL_TEMP;
	ok(has(say(&m, "MAIL FROM:<bob@example.net>\r\n"), "451 4.3.0 "),
	    "spool failure: 451");
	peer.create_fail = -1;
	ok(has(say(&m, "MAIL FROM:<bob@example.net> SIZE=999999999\r\n"),
	    "552 5.3.4 Message too big"), "SIZE over the limit: 552");
	quit(&m);
}

static void
test_refusals(void)
{
	struct io_mem	 m;
	int		 i;

	/* Errors in a row: 421 and the end. */
	connect_to(&m, 0, 0);
	for (i = 0; i < 19; i++)
		(void)say(&m, "FROB\r\n");
	ok(has(say(&m, "FROB\r\n"), "500 5.5.2 Command unrecognized\r\n"
	    "421 4.7.0 mx.example.org Too many errors, closing\r\n"),
	    "too many errors: 421");
	ok(strcmp(say(&m, "NOOP\r\n"), "") == 0, "nothing read after 421");
	io_mem_close(&m);
	ok(m.io == NULL, "closed");
	io_mem_free(&m);

	/* Timeouts: 421, then the session waits for the client to go. */
	connect_to(&m, 0, 0);
	m.outlen = 0;
	io_mem_timeout(&m);
	ok(has(m.out, "421 4.4.2 mx.example.org Timeout exceeded, closing"),
	    "timeout: 421");
	io_mem_close(&m);
	ok(m.io == NULL, "closed");
	io_mem_free(&m);

	/* A client that goes away in DATA: the message is rolled back. */
	connect_to(&m, 0, 0);
	(void)say(&m, "EHLO c.example\r\nMAIL FROM:<b@example.net>\r\n"
	    "RCPT TO:<alice@example.org>\r\nDATA\r\nSubject: x\r\n");
	i = fake.n[IMSG_Q_ROLLBACK];
	io_mem_close(&m);
	ok(m.io == NULL && fake.n[IMSG_Q_ROLLBACK] == i + 1 &&
	    fake.msgid == peer.next_msgid, "disconnect in DATA: rollback");
	io_mem_free(&m);
}

static void
test_pipelining(void)
{
	struct io_mem	 m;
	const char	*r;

	connect_to(&m, 0, 0);
	r = say(&m, "EHLO client.example.net\r\nMAIL FROM:<bob@example.net>\r\n"
	    "RCPT TO:<alice@example.org>\r\nRCPT TO:<carol@example.org>\r\n"
	    "DATA\r\n");
	ok(has(r, "250 HELP\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
	    "354 End data"), "pipelined commands answered in order");
	r = say(&m, "Subject: p\r\n\r\nx\r\n.\r\n"
	    "MAIL FROM:<bob@example.net>\r\nRCPT TO:<alice@example.org>\r\n"
	    "QUIT\r\n");
	ok(has(r, "250 2.0.0 Ok: queued as ") && has(r, "\r\n250 2.1.0 Ok\r\n"
	    "250 2.1.5 Ok\r\n221 2.0.0 Bye\r\n"), "data, then more commands "
	    "in the same write");
	io_mem_close(&m);
	ok(m.io == NULL, "closed after QUIT");
	io_mem_free(&m);
}

static void
test_data_checks(void)
{
	struct io_mem	 m;
	const char	*r;
	const char	 nul[] = "Subject: n\r\n\r\na\0b\r\n.\r\n";

	connect_to(&m, 0, 0);
	(void)say(&m, "EHLO client.example.net\r\n");
	(void)say(&m, "MAIL FROM:<bob@example.net>\r\n"
	    "RCPT TO:<alice@example.org>\r\nDATA\r\n");
	ok(has(say_n(&m, nul, sizeof(nul) - 1), "550 5.6.0 "
	    "NUL byte in message refused"), "NUL in data: 550");
	ok(has(say(&m, "RCPT TO:<alice@example.org>\r\n"), "503 5.5.1 Need "
	    "MAIL"), "the transaction is over after a refused message");
	(void)say(&m, "MAIL FROM:<bob@example.net>\r\n"
	    "RCPT TO:<alice@example.org>\r\nDATA\r\n");
	ok(has(say(&m, "Subject: cr\r\n\r\na\rb\r\n.\r\n"), "550 5.6.0 Bare CR "
	    "in message refused"), "bare CR in data: 550");
	/*
	 * Smuggling: LF.LF and CRLF.LF do not end the data; LF is made CRLF,
	 * a line's leading dot is taken as the quoting one.
	 */
	(void)say(&m, "MAIL FROM:<bob@example.net>\r\n"
	    "RCPT TO:<alice@example.org>\r\nDATA\r\n");
	r = say(&m, "Subject: lf\r\n\r\none\n.\nMAIL FROM:<evil@example.net>\n"
	    "two\r\n.\nthree\r\n");
	ok(strcmp(r, "") == 0, "LF.LF and CRLF.LF do not end DATA");
	ok(has(say(&m, ".\r\n"), "250 2.0.0 Ok: queued as"), "CRLF.CRLF does");
	ok(has(spooled(), "\r\n\r\none\r\n\r\nMAIL FROM:<evil@example.net>\r\n"
	    "two\r\n\r\nthree\r\n") && strstr(spooled(), "three\r\n.") == NULL,
	    "bare LFs stored as CRLF, the smuggled lines as message text");
	/* Sizes. */
	conf->max_msg_size = 100;
	(void)say(&m, "MAIL FROM:<bob@example.net>\r\n"
	    "RCPT TO:<alice@example.org>\r\nDATA\r\n");
	(void)say_n(&m, first_eml, first_len);
	ok(has(say(&m, "more than a hundred bytes now\r\n.\r\n"), "552 5.3.4 "
	    "Message too big"), "message over the size limit: 552");
	conf->max_msg_size = 36700160;
	quit(&m);
}

static void
test_long_lines(void)
{
	struct io_mem	 m;
	char		*big;
	size_t		 n = SMTP_LINE_MAX + 100;

	if ((big = malloc(DATA_LINE_MAX)) == NULL)
		fatal("malloc");
	memset(big, 'x', DATA_LINE_MAX);
	connect_to(&m, 0, 0);
	memcpy(big, "HELO ", 5);
	ok(strcmp(say_n(&m, big, n), "500 5.5.2 Line too long\r\n") == 0,
	    "command line over the limit: 500 at once");
	ok(strcmp(say_n(&m, big, n), "") == 0, "once only");
	ok(strcmp(say(&m, "\r\nNOOP\r\n"), "250 2.0.0 Ok\r\n") == 0,
	    "the rest is skipped, the next command runs");
	(void)say(&m, "EHLO client.example.net\r\n"
	    "MAIL FROM:<bob@example.net>\r\nRCPT TO:<alice@example.org>\r\n"
	    "DATA\r\nSubject: long\r\n\r\n");
	(void)say_n(&m, big, 2000);
	ok(has(say(&m, "\r\n.\r\n"), "500 5.5.2 Line longer than 998 bytes "
	    "in message refused"), "a data line over 998: refused");
	free(big);
	quit(&m);
}

static void
test_tls_auth(void)
{
	struct io_mem	 m;
	const char	*r;

	connect_to(&m, L_TLS | L_AUTH | L_TLS_REQUIRE, 0);
	r = say(&m, "EHLO client.example.net\r\n");
	ok(has(r, "250-STARTTLS\r\n") && strstr(r, "AUTH") == NULL,
	    "submission before TLS: STARTTLS, no AUTH");
	ok(has(say(&m, "AUTH PLAIN\r\n"), "538 5.7.11 Encryption required"),
	    "AUTH before TLS: 538");
	ok(has(say(&m, "MAIL FROM:<alice@example.org>\r\n"), "530 5.7.0 Must "
	    "issue a STARTTLS command first"), "MAIL before TLS: 530");
	ok(has(say(&m, "STARTTLS x\r\n"), "501 5.5.4 Syntax: STARTTLS"),
	    "STARTTLS with an argument: 501");
	r = say(&m, "STARTTLS\r\nEHLO smuggled.example\r\n");
	ok(strcmp(r, "220 2.0.0 Ready to start TLS\r\n") == 0,
	    "STARTTLS: 220, the command behind it dropped");
	ok(fake.tls_refs == 1, "TLS context held");
	r = say(&m, "EHLO client.example.net\r\n");
	ok(has(r, "250-AUTH PLAIN LOGIN\r\n") && strstr(r, "STARTTLS") == NULL,
	    "after TLS: AUTH, no STARTTLS");
	ok(has(say(&m, "MAIL FROM:<alice@example.org>\r\n"), "530 5.7.0 "
	    "Authentication required"), "MAIL before AUTH: 530");
	ok(has(say(&m, "AUTH CRAM-MD5\r\n"), "504 5.5.4"),
	    "unknown mechanism: 504");
	peer.auth = AUTH_FAIL;
	ok(has(say(&m, "AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==\r\n"),
	    "535 5.7.8 Authentication credentials invalid") &&
	    strcmp(fake.authuser, "alice@example.org") == 0 &&
	    strcmp(fake.pass, "secret") == 0 && fake.failed == 1,
	    "AUTH PLAIN refused: 535");
	ok(has(say(&m, "AUTH PLAIN\r\n"), "334 \r\n") &&
	    has(say(&m, "*\r\n"), "501 5.0.0 Authentication cancelled"),
	    "AUTH cancelled");
	ok(has(say(&m, "AUTH PLAIN !!\r\n"), "501 5.5.2 Cannot decode"),
	    "bad base64: 501");
	fake.auth_ret = AUTH_THROTTLED;
	ok(has(say(&m, "AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==\r\n"),
	    "454 4.7.0 Too many login attempts"), "throttled: 454");
	fake.auth_ret = 0;
	peer.auth = AUTH_TEMPFAIL;
	ok(has(say(&m, "AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==\r\n"),
	    "454 4.7.0 Temporary authentication failure"),
	    "lookup failure: 454");
	peer.auth = AUTH_OK;
	ok(strcmp(say(&m, "AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n") == 0 &&
	    strcmp(say(&m, "YWxpY2VAZXhhbXBsZS5vcmc=\r\n"),
	    "334 UGFzc3dvcmQ6\r\n") == 0, "AUTH LOGIN: user name, password");
	ok(strcmp(say(&m, "c2VjcmV0\r\n"), "235 2.7.0 Authentication "
	    "successful\r\n") == 0 && fake.ok == 1, "AUTH LOGIN: 235");
	ok(has(say(&m, "AUTH PLAIN\r\n"), "503 5.5.1 Already authenticated"),
	    "AUTH twice: 503");
	peer.sender_ok = 0;
	ok(has(say(&m, "MAIL FROM:<bob@example.net>\r\n"), "553 5.7.1 "
	    "<bob@example.net>: Sender address not owned by user "
	    "alice@example.org") && strcmp(fake.user.user, "alice") == 0,
	    "a sender not the user's: 553");
	peer.sender_ok = 1;
	ok(has(say(&m, "MAIL FROM:<alice@example.org>\r\n"), "250 2.1.0 Ok"),
	    "the user's own address: 250");
	(void)say(&m, "RCPT TO:<x@example.com>\r\n");
	ok(fake.rcptflags == EXP_AUTH, "lookup knows the client logged in");
	(void)say(&m, "DATA\r\n");
	ok(has(say(&m, "From: Alice <alice@example.org>\r\n\r\nhi\r\n.\r\n"),
	    "250 2.0.0 Ok: queued as ") && (fake.env.flags & EF_AUTH) &&
	    strcmp(fake.signdom, "example.org") == 0,
	    "the user's message, signed for the From domain");
	ok(has(spooled(), "with ESMTPSA id "), "Received says ESMTPSA");
	quit(&m);
	ok(fake.tls_refs == 0, "TLS context given back");

	/* Implicit TLS: the greeting after the handshake. */
	memset(&m, 0, sizeof(m));
	lis.flags = L_SMTPS;
	smtp_session_new(io_new_mem(&m, 0), &lis, &client, 0, &test_env);
	ok(m.out == NULL, "smtps: nothing before the handshake");
	fake_pump(&m);
	ok(m.out != NULL && strcmp(m.out, "220 mx.example.org ESMTP maild\r\n")
	    == 0, "smtps: greeting after the handshake");
	(void)say(&m, "QUIT\r\n");
	ok(m.io == NULL, "QUIT on TLS: closed at once");
	io_mem_free(&m);
}

static void
test_rdns(void)
{
	struct io_mem	 m;

	peer.fcrdns = FCRDNS_NORDNS;
	connect_to(&m, L_CHECK_RDNS, 0);
	ok(fake.n[IMSG_L_FCRDNS] == 1 && has(m.out, "550 5.7.25 No reverse "
	    "DNS name for 192.0.2.1\r\n"), "no PTR: 550 instead of 220");
	io_mem_close(&m);
	ok(m.io == NULL, "closed");
	io_mem_free(&m);

	peer.fcrdns = FCRDNS_TEMPFAIL;
	connect_to(&m, L_CHECK_FCRDNS, 0);
	ok(has(m.out, "451 4.7.25 Temporary DNS failure"),
	    "DNS failure: 451");
	io_mem_close(&m);
	io_mem_free(&m);

	peer.fcrdns = FCRDNS_PASS;
	connect_to(&m, L_CHECK_FCRDNS, 0);
	ok(has(m.out, "220 mx.example.org"), "FCrDNS passed: 220");
	(void)say(&m, "EHLO c.example\r\nMAIL FROM:<b@example.net>\r\n"
	    "RCPT TO:<alice@example.org>\r\nDATA\r\nSubject: r\r\n\r\nx\r\n"
	    ".\r\n");
	ok(has(spooled(), "Received: from c.example (client.example.net "
	    "[192.0.2.1])"), "the checked name in Received");
	quit(&m);

	/* A client on our own address: no check. */
	connect_to(&m, L_CHECK_FCRDNS, 1);
	ok(fake.n[IMSG_L_FCRDNS] == 3 && has(m.out, "220 "),
	    "this machine: no rDNS check");
	quit(&m);
}

/*
 * The DNS lists (a configuration with a zone): a listed client gets
 * 554 5.7.1 instead of 220, then 503 for anything but QUIT; one not
 * listed is greeted; a local client is not checked; unusable answers
 * are counted.
 */
static void
test_dnsbl(void)
{
	static const char	 text[] = "hostname mx.example.org\n"
				    "dnsbl bl.test\n";
	struct maild_conf	*saved = conf;
	struct io_mem		 m;
	uint64_t		 errors = stats[ST_SMTP_DNSBL_ERRORS];
	int			 asked = fake.n[IMSG_L_DNSBL];

	if ((conf = config_parse_buf("dnsbl", text, strlen(text),
	    CONF_NOFILES)) == NULL)
		fatalx("config");
	peer.dnsbl = 1;
	connect_to(&m, L_DNSBL, 0);
	ok(fake.n[IMSG_L_DNSBL] == asked + 1 && has(m.out, "554 5.7.1 "
	    "Listed at bl.test, see??http://bl.test/\r\n") &&
	    strstr(m.out, "220") == NULL, "listed: 554 5.7.1 instead of 220, "
	    "the text one line");
	ok(stats[ST_SMTP_DNSBL_ERRORS] == errors + 1, "errors counted");
	ok(has(say(&m, "EHLO c.example\r\n"), "503 5.5.1 "),
	    "listed: EHLO gets 503");
	ok(has(say(&m, "MAIL FROM:<a@b.example>\r\n"), "503 5.5.1 "),
	    "listed: MAIL gets 503");
	ok(has(say(&m, "FOO\r\n"), "503 5.5.1 "), "listed: FOO gets 503");
	quit(&m);

	/* Both checks at once: the DNSBL reply wins over rDNS. */
	peer.fcrdns = FCRDNS_NORDNS;
	connect_to(&m, L_DNSBL | L_CHECK_RDNS, 0);
	ok(has(m.out, "554 5.7.1 ") && strstr(m.out, "550") == NULL,
	    "rDNS and DNSBL refuse: the DNSBL reply");
	io_mem_close(&m);
	io_mem_free(&m);
	peer.fcrdns = FCRDNS_PASS;

	peer.dnsbl = 0;
	connect_to(&m, L_DNSBL | L_CHECK_RDNS, 0);
	ok(has(m.out, "220 mx.example.org"), "not listed, rDNS passes: 220");
	quit(&m);
	connect_to(&m, 0, 0);
	ok(fake.n[IMSG_L_DNSBL] == asked + 3 && has(m.out, "220 "),
	    "a listener with dnsbl no: not asked");
	quit(&m);
	connect_to(&m, L_DNSBL, 1);
	ok(fake.n[IMSG_L_DNSBL] == asked + 3 && has(m.out, "220 "),
	    "this machine: not asked");
	quit(&m);
	config_free(conf);
	conf = saved;
}

/*
 * Greylisting on: a recipient lookup accepted waits for the queue's
 * verdict, asked with the client, the sender and the recipient;
 * deferred, 451 4.7.1 and no recipient; passed or whitelisted, 250.
 * Not asked for a recipient refused, for a client that logged in or is
 * this machine, nor with greylisting off.
 */
static void
test_greylist(void)
{
	struct sockaddr_storage	 saved = client;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&client;
	struct io_mem		 m;
	const char		*r;
	int			 asked;

	conf->greylist = 1;
	peer.grey = GREY_DEFER;
	connect_to(&m, 0, 0);
	(void)say(&m, "EHLO c.example\r\nMAIL FROM:<Bob@Example.NET>\r\n");
	asked = fake.n[IMSG_Q_GREYLIST];
	r = say(&m, "RCPT TO:<alice@example.org>\r\n");
	ok(fake.n[IMSG_Q_GREYLIST] == asked + 1 && has(r, "451 4.7.1 "
	    "Greylisted, please try again later (in 120 seconds)\r\n"),
	    "greylisted: 451 4.7.1");
	ok(fake.client.ss_family == AF_INET &&
	    memcmp(&((struct sockaddr_in *)&fake.client)->sin_addr,
	    &sin->sin_addr, sizeof(sin->sin_addr)) == 0 &&
	    strcmp(fake.sender.user, "Bob") == 0 &&
	    strcmp(fake.sender.domain, "example.net") == 0 &&
	    strcmp(fake.addr.user, "alice") == 0, "... asked with the "
	    "client, the sender and the recipient");
	ok(stats[ST_SMTP_GREYLISTED] == 1, "... counted");
	ok(has(say(&m, "DATA\r\n"), "503 5.5.1 Need RCPT"),
	    "... and not a recipient");
	peer.grey = GREY_PASS;
	ok(has(say(&m, "RCPT TO:<alice@example.org>\r\n"), "250 2.1.5 Ok") &&
	    stats[ST_SMTP_GREY_PASSED] == 1, "passed: 250, counted");
	peer.grey = GREY_WHITELISTED;
	ok(has(say(&m, "RCPT TO:<carol@example.org>\r\n"), "250 2.1.5 Ok") &&
	    stats[ST_SMTP_GREY_WHITE] == 1, "whitelisted: 250, counted");
	peer.rcpt = EXP_NOTFOUND;
	asked = fake.n[IMSG_Q_GREYLIST];
	ok(has(say(&m, "RCPT TO:<nobody@example.org>\r\n"), "550 5.1.1") &&
	    fake.n[IMSG_Q_GREYLIST] == asked, "a recipient refused: "
	    "greylisting not asked");
	peer.rcpt = EXP_OK;
	ok(has(say(&m, "DATA\r\nSubject: g\r\n\r\nx\r\n.\r\n"),
	    "250 2.0.0 Ok: queued as ") && fake.ndest == 2,
	    "the two recipients that passed make the message");
	quit(&m);

	/* Logged in, this machine, greylisting off: nobody asks. */
	asked = fake.n[IMSG_Q_GREYLIST];
	peer.grey = GREY_DEFER;
	connect_to(&m, L_TLS | L_AUTH, 0);
	(void)say(&m, "EHLO c.example\r\nSTARTTLS\r\n");
	(void)say(&m, "EHLO c.example\r\n");
	(void)say(&m, "AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==\r\n");
	(void)say(&m, "MAIL FROM:<alice@example.org>\r\n");
	ok(has(say(&m, "RCPT TO:<bob@example.org>\r\n"), "250 2.1.5 Ok") &&
	    fake.n[IMSG_Q_GREYLIST] == asked, "logged in: not greylisted");
	quit(&m);
	inet_pton(AF_INET, "127.0.0.1", &sin->sin_addr);
	connect_to(&m, 0, 0);
	(void)say(&m, "EHLO c.example\r\nMAIL FROM:<x@example.net>\r\n");
	ok(has(say(&m, "RCPT TO:<bob@example.org>\r\n"), "250 2.1.5 Ok") &&
	    fake.n[IMSG_Q_GREYLIST] == asked, "loopback: not greylisted");
	quit(&m);
	client = saved;
	connect_to(&m, L_CHECK_RDNS, 1);
	(void)say(&m, "EHLO c.example\r\nMAIL FROM:<x@example.net>\r\n");
	ok(has(say(&m, "RCPT TO:<bob@example.org>\r\n"), "250 2.1.5 Ok") &&
	    fake.n[IMSG_Q_GREYLIST] == asked, "our own address: not "
	    "greylisted");
	quit(&m);
	conf->greylist = 0;
	connect_to(&m, 0, 0);
	(void)say(&m, "EHLO c.example\r\nMAIL FROM:<x@example.net>\r\n");
	ok(has(say(&m, "RCPT TO:<bob@example.org>\r\n"), "250 2.1.5 Ok") &&
	    fake.n[IMSG_Q_GREYLIST] == asked, "greylisting off: not asked");
	quit(&m);
}

/*
 * A spool file for a session that is not there (an id nobody asked
 * with, or one already gone) is rolled back, and nothing else happens.
 */
static void
test_gone_waiting(void)
{
	int	 fd, rollbacks = fake.n[IMSG_Q_ROLLBACK];

	if ((fd = open("spool.stray", O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1)
		fatal("spool.stray");
	smtp_session_created(&test_env, 0xdeadbeefULL, 4242, fd);
	ok(fake.n[IMSG_Q_ROLLBACK] == rollbacks + 1 && fake.msgid == 4242,
	    "a file for no session is rolled back");
	ok(fcntl(fd, F_GETFD) == -1, "its descriptor is closed");
	(void)unlink("spool.stray");
}

/*
 * A session records what it waits for: an answer of another kind, or
 * one when it waits for nothing, is dropped; the session goes on as if
 * it never came.
 */
static void
test_wrong_answer(void)
{
	struct io_mem	 m;
	uint64_t	 id;
	int		 fd, rollbacks, creates;

	connect_to(&m, 0, 0);
	(void)say(&m, "EHLO client.example.net\r\n");
	fake.hold = 1;
	ok(strcmp(say(&m, "MAIL FROM:<bob@example.net>\r\n"), "") == 0 &&
	    fake.pending && fake.type == IMSG_Q_CREATE,
	    "MAIL: the session waits for the queue");
	id = fake.reqid;
	creates = fake.n[IMSG_Q_CREATE];
	m.outlen = 0;
	smtp_session_rcpt_result(id, EXP_OK, 1, "");
	smtp_session_sender_result(id, 1);
	smtp_session_auth_result(id, AUTH_OK, "mallory@example.org");
	smtp_session_fcrdns_result(id, FCRDNS_NORDNS, "");
	smtp_session_committed(id, 0, 1);
	io_mem_run(&m);
	ok(m.outlen == 0 && fake.n[IMSG_Q_CREATE] == creates,
	    "answers of other kinds while it waits for CREATE: dropped");
	fake.hold = 0;
	fake_pump(&m);
	ok(has(m.out, "250 2.1.0 Ok"), "then the queue's answer: 250");
	m.outlen = 0;
	smtp_session_rcpt_result(id, EXP_OK, 1, "");
	smtp_session_create_failed(id, Q_FAIL_TEMP);
	io_mem_run(&m);
	ok(m.outlen == 0, "answers when it waits for nothing: dropped");
	rollbacks = fake.n[IMSG_Q_ROLLBACK];
	if ((fd = open("spool.dup", O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1)
		fatal("spool.dup");
	smtp_session_created(&test_env, id, 4343, fd);
	(void)unlink("spool.dup");
	ok(fake.n[IMSG_Q_ROLLBACK] == rollbacks + 1 && fake.msgid == 4343 &&
	    fcntl(fd, F_GETFD) == -1, "a second spool file: rolled back");
	ok(has(say(&m, "DATA\r\n"), "503 5.5.1 Need RCPT command first"),
	    "no recipient came of the stray answer");
	ok(has(say(&m, "RCPT TO:<alice@example.org>\r\n"), "250 2.1.5 Ok") &&
	    fake.msgid == peer.next_msgid, "the session's own message goes on");
	ok(strstr(say(&m, "AUTH PLAIN\r\n"), "Already authenticated") ==
	    NULL, "and it did not log in");
	(void)say(&m, "*\r\n");
	quit(&m);
}

static void
test_ends(void)
{
	ok(fake.tls_refs == 0, "every TLS context given back");
	ok(!fake.pending, "no request left unanswered");
}

int
main(void)
{
	struct event_base	*base;
	char			 dir[] = "/tmp/test_smtp_session.XXXXXX";
	char			 top[PATH_MAX];
	int			 fd;

	log_init(1, 0);
	base = event_init();
	fixture(DATA "first.eml", first_eml, sizeof(first_eml), &first_len);
	fake_setup(&lis, PROTO_SMTP, 25, &client);
	if (getcwd(top, sizeof(top)) == NULL || mkdtemp(dir) == NULL ||
	    chdir(dir) == -1)
		fatal("%s", dir);
	fake_init(PROC_SMTP);
	fake.check = ok;
	fake.answer = answer;
	test_env = fake_env;
	test_env.send = send_checked;
	test_env.auth_send = auth_checked;
	defaults();

	test_greeting();
	test_sequence();
	test_transaction();
	test_refusals();
	test_pipelining();
	test_data_checks();
	test_long_lines();
	test_tls_auth();
	test_rdns();
	test_dnsbl();
	test_greylist();
	test_gone_waiting();
	test_wrong_answer();
	test_ends();

	if (chdir(top) == -1)
		fatal("chdir");
	for (fd = 1; fd <= (int)peer.next_msgid; fd++) {
		snprintf(top, sizeof(top), "%s/spool.%d", dir, fd);
		(void)unlink(top);
	}
	(void)rmdir(dir);
	config_free(conf);
	event_base_free(base);
	return done_testing();
}
