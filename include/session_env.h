/*
 * The seam between a protocol session (smtp_session.c, the imap_*.c
 * session files) and its surroundings.  The client's connection is a
 * struct io: on a socket in the daemon, in memory (io_new_mem()) in the
 * unit tests.  Everything else a session asks of its process and of
 * other processes goes through a struct session_env; answers come back
 * through the session's *_result() functions.  The smtp and imap
 * processes fill it with server.c's and proc.c's functions; the session
 * unit tests with their own, which answer as lookup and queue would.
 */
#ifndef MAILD_SESSION_ENV_H
#define MAILD_SESSION_ENV_H

#include <sys/socket.h>

#include <stdint.h>
#include <tls.h>

#include "config.h"
#include "ipc.h"
#include "maild.h"
#include "proc.h"

struct srv_tlsctx;

struct session_env {
	/* A request to another process: proc_send_buf(). */
	void		 (*send)(enum proc_type, uint32_t, int,
			    const struct ipc_buf *);
	/* Login checks through the throttle: srv_auth_send() and co. */
	int		 (*auth_send)(const struct sockaddr_storage *,
			    const char *, const struct ipc_buf *);
	void		 (*auth_failed)(const struct sockaddr_storage *,
			    const char *, int);
	void		 (*auth_ok)(const struct sockaddr_storage *,
			    const char *);
	/* The TLS server context of a listener: srv_tls_get() and co. */
	struct srv_tlsctx *(*tls_get)(const struct listener *);
	struct tls	*(*tls_ctx)(const struct srv_tlsctx *);
	void		 (*tls_put)(struct srv_tlsctx *);
	/* The session ended: srv_session_gone(). */
	void		 (*gone)(const struct sockaddr_storage *,
			    const struct listener *);
};

#endif
