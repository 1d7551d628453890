/*
 * Interface between the smtp process (smtp.c: listeners, TLS contexts,
 * IPC) and its session state machine (smtp_session.c).
 */
#ifndef MAILD_SMTP_H
#define MAILD_SMTP_H

#include <sys/socket.h>

#include <stdint.h>
#include <tls.h>

#include "maild.h"

struct smtp_session;
struct smtp_tlsctx;

/* smtp.c: TLS contexts are held by the sessions that use them. */
struct smtp_tlsctx *smtp_tls_get(const struct listener *);
void		 smtp_tls_put(struct smtp_tlsctx *);
struct tls	*smtp_tls_ctx(const struct smtp_tlsctx *);
void		 smtp_session_gone(const struct sockaddr_storage *);

/* smtp_session.c */
void	smtp_session_new(int, struct listener *,
	    const struct sockaddr_storage *);
void	smtp_session_created(uint64_t, uint32_t, int);
void	smtp_session_create_failed(uint64_t, uint32_t);
void	smtp_session_rcpt_result(uint64_t, int, uint32_t, const char *);
void	smtp_session_committed(uint64_t, uint32_t, int);
size_t	smtp_session_count(void);

#endif
