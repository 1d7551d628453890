/*
 * Interface between the smtp process (smtp.c: listeners, TLS contexts,
 * IPC) and its session state machine (smtp_session.c).
 */
#ifndef MAILD_SMTP_H
#define MAILD_SMTP_H

#include <sys/socket.h>

#include <stdint.h>
#include <tls.h>

#include "config.h"
#include "io.h"
#include "maild.h"
#include "session_env.h"

struct smtp_session;

/*
 * smtp_session.c: a session on the connection io (its callback is set
 * here) from a client at that address; self: the client's address is
 * one of ours (no rDNS check).
 */
void	smtp_session_new(struct io *, const struct listener *,
	    const struct sockaddr_storage *, int,
	    const struct session_env *);
void	smtp_session_created(const struct session_env *, uint64_t, uint32_t,
	    int);
void	smtp_session_create_failed(uint64_t, uint32_t);
void	smtp_session_rcpt_result(uint64_t, int, uint32_t, const char *);
/* The queue's greylisting verdict (GREY_*) on the recipient looked up. */
void	smtp_session_grey_result(uint64_t, uint32_t, uint32_t);
void	smtp_session_committed(uint64_t, uint32_t, int);
/* The queue dropped the message: the checks refused it with reply. */
void	smtp_session_refused(uint64_t, uint32_t, const char *);
void	smtp_session_auth_result(uint64_t, uint32_t, const char *);
void	smtp_session_sender_result(uint64_t, int);
void	smtp_session_fcrdns_result(uint64_t, int, const char *);
/* The DNS lists: refuse with "554 5.7.1 reply"; errors to count. */
void	smtp_session_dnsbl_result(uint64_t, int, uint32_t, const char *,
	    const char *);

#endif
