/*
 * The surroundings of a protocol session driven in memory, shared by
 * the session unit tests (tests/unit/test_smtp_session.c and
 * test_imap_session.c) and fuzz targets (tests/fuzz/smtp_session.c and
 * imap_session.c): the process globals a session reads, a
 * struct session_env whose callbacks play the session's process and the
 * peers it asks (lookup, the queue), and the client's side of its
 * io_mem connection.  Each request is checked as proc.c checks it (a
 * message the session's process may send, to a process that takes it,
 * no descriptor, the fields declared in imsg.h) and read whole as its
 * receiver reads it (lookup.c, queue.c), into struct fake; the test
 * answers it through the session's *_result() functions once the
 * session has gone back to wait, as the peers do.
 */
#ifndef TEST_SESSION_FAKE_H
#define TEST_SESSION_FAKE_H

#include <stddef.h>
#include <stdint.h>

#include "address.h"
#include "config.h"
#include "envelope.h"
#include "imsg.h"
#include "io.h"
#include "session_env.h"

struct fake {
	enum proc_type	 proc;		/* the session's: smtp or imap */
	/* The last request, as its receiver read it. */
	int		 pending;	/* one to answer */
	uint32_t	 type;
	/*
	 * IMSG_L_DNSBL, asked with IMSG_L_FCRDNS at connect: pending once
	 * that is answered (fake_pump()).
	 */
	int		 dnsbl;
	uint64_t	 dnsbl_reqid;
	int		 n[IMSG_COUNT];	/* requests by type */
	int		 sent;		/* send() calls */
	uint64_t	 reqid;
	uint32_t	 msgid;		/* L_RCPT, Q_COMMIT, Q_ROLLBACK */
	uint32_t	 rcptflags;	/* L_RCPT */
	struct mailaddr	 addr;		/* L_RCPT, L_SENDER's sender */
	struct mailaddr	 user;		/* L_SENDER's user */
	struct sockaddr_storage client;	/* Q_GREYLIST (rcpt in addr) */
	struct mailaddr	 sender;	/* Q_GREYLIST */
	uint32_t	 ndest;		/* Q_COMMIT */
	struct envelope	 env;
	char		 signdom[DOMAIN_MAX + 1];
	uint32_t	 authflags;	/* L_AUTH */
	char		 table[64];
	char		 authuser[ADDR_MAX + 1];
	char		 pass[64];	/* as much as fits */
	/* What the session told its process. */
	int		 failed, ok;	/* auth_failed(), auth_ok() */
	int		 tls_refs;	/* contexts held */
	int		 gone;		/* sessions ended */
	/* How the process and the peers behave. */
	int		 auth_ret;	/* auth_send()'s return */
	int		 no_tls;	/* tls_get() finds no context */
	int		 hold;		/* fake_pump() leaves requests */
	/* The peers' answer to the pending request; NULL: the test's. */
	void		 (*answer)(void);
	/*
	 * A failed check: tap.h's ok() in a unit test (a "not ok" line,
	 * the test goes on); NULL: a message and abort(), which libFuzzer
	 * takes for a crash and keeps the input of.
	 */
	void		 (*check)(int, const char *, ...)
			    __attribute__((__format__ (printf, 2, 3)));
};

extern struct fake		 fake;
extern const struct session_env	 fake_env;	/* the callbacks below */
extern struct srv_tlsctx *const	 fake_tlsctx;	/* what tls_get() gives */

/*
 * The one-line configuration the sessions run under (conf), a listener
 * for proto on port checking logins against the table "passwd", a
 * client at 192.0.2.1.
 */
void	 fake_setup(struct listener *, enum listen_proto, int,
	    struct sockaddr_storage *);
/* A fresh fake for a session of this process: nothing asked, held. */
void	 fake_init(enum proc_type);

void	 fake_send(enum proc_type, uint32_t, int, const struct ipc_buf *);
int	 fake_auth_send(const struct sockaddr_storage *, const char *,
	    const struct ipc_buf *);
void	 fake_auth_failed(const struct sockaddr_storage *, const char *,
	    int);
void	 fake_auth_ok(const struct sockaddr_storage *, const char *);
struct srv_tlsctx *fake_tls_get(const struct listener *);
struct tls *fake_tls_ctx(const struct srv_tlsctx *);
void	 fake_tls_put(struct srv_tlsctx *);
void	 fake_gone(const struct sockaddr_storage *, const struct listener *);

/* Run the session, answering its requests, until it waits for us. */
void	 fake_pump(struct io_mem *);
/* Forget what the session wrote; what it wrote since ("" if nothing). */
void	 fake_out_clear(struct io_mem *);
const char *fake_out(const struct io_mem *);

/*
 * A fuzzed client: data in pieces of chunk bytes, each answer checked
 * (and cleared) by check; then the client goes, and timeouts fire until
 * the session has ended.
 */
void	 fake_feed(struct io_mem *, const uint8_t *, size_t, size_t,
	    void (*)(struct io_mem *));

/* The client: send text, get what the session answered to it. */
const char *say(struct io_mem *, const char *);
const char *say_n(struct io_mem *, const char *, size_t);
/* 1 if out contains what, else 0 and a TAP comment showing out. */
int	 has(const char *, const char *);
/* A fixture file into buf (NUL-terminated), its length in *len. */
void	 fixture(const char *, char *, size_t, size_t *);

#endif
