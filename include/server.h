/*
 * What the network-facing processes (smtp, imap) share: TLS server
 * contexts built from the pki keys and replaced on reload, and the
 * accept loop of their listeners with the session and per-address
 * limits.  Each process serves one protocol, so the state is global.
 */
#ifndef MAILD_SERVER_H
#define MAILD_SERVER_H

#include <sys/socket.h>

#include <tls.h>

#include "config.h"
#include "ipc.h"
#include "maild.h"

struct srv_tlsctx;

/*
 * Contexts for every pki of conf, and for each "ciphers" of a listener
 * using it (keys in memory); then purge keys.
 */
void		 srv_tls_setup(void);
/*
 * The context of a listener's pki and ciphers, held until
 * srv_tls_put(); NULL if none.
 */
struct srv_tlsctx *srv_tls_get(const struct listener *);
void		 srv_tls_put(struct srv_tlsctx *);
struct tls	*srv_tls_ctx(const struct srv_tlsctx *);
/* IMSG_CONF_PKI: a reloaded certificate. */
void		 srv_tls_reload(struct ipc_msg *);

/*
 * Accept on the listeners of proto: newconn gets each connection that
 * is within the limits (max_per_ip, 0 none; sessions, from the fd
 * limit: fds_per_session descriptors each).  busy is sent as plaintext
 * to a refused client on a listener without implicit TLS.
 * srv_listen() is called before dropping privileges, srv_start() after.
 */
void		 srv_listen(enum listen_proto, int, size_t, const char *,
		    void (*)(int, const struct listener *,
		    const struct sockaddr_storage *));
void		 srv_start(void);
/* All of a process's main(): the above, chroot, pledge, the loop. */
void		 srv_run(enum listen_proto, int, const char *,
		    void (*)(int, const struct listener *,
		    const struct sockaddr_storage *), const char *,
		    const char *);
/* A session ended: its address count drops, accept may resume. */
extern const struct session_env srv_session_env;
void		 srv_session_gone(const struct sockaddr_storage *,
		    const struct listener *);
int		 srv_addr_equal(const struct sockaddr_storage *,
		    const struct sockaddr_storage *);
/*
 * Login throttling (server_auth.c): srv_auth_send() hands lookup the
 * IMSG_L_AUTH request b of a login as user from ss, now or when the
 * failures of the network and of the account allow, and returns what it
 * counted as a failure already (AUTH_COUNTED_*), which the answer
 * passes to srv_auth_failed(); or srv_auth_ok().  AUTH_THROTTLED: not
 * sent, the wait would be too long; the client is to try again later.
 */
#define AUTH_COUNTED_NET	0x01
#define AUTH_COUNTED_USER	0x02
#define AUTH_THROTTLED		0x04
int		 srv_auth_send(const struct sockaddr_storage *, const char *,
		    const struct ipc_buf *);
void		 srv_auth_failed(const struct sockaddr_storage *, const char *,
		    int);
void		 srv_auth_ok(const struct sockaddr_storage *, const char *);
/* IMSG_CTL_REQ: pause, resume, show stats. */
void		 srv_ctl(struct ipc_msg *);

#endif
