/*
 * The smtp process: it owns the SMTP listeners and the TLS server
 * contexts (server.c accepts within the fd and per-address limits) and
 * routes the replies of the lookup and queue processes to sessions.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <string.h>

#include "config.h"
#include "io.h"
#include "proc.h"
#include "server.h"
#include "session_env.h"
#include "smtp.h"

static void	smtp_accept(int, const struct listener *,
		    const struct sockaddr_storage *);
static void	smtp_created(struct ipc_msg *);
static void	smtp_create_failed(struct ipc_msg *);
static void	smtp_committed(struct ipc_msg *);
static void	smtp_auth_result(struct ipc_msg *);
static void	smtp_fcrdns_result(struct ipc_msg *);
static void	smtp_dnsbl_result(struct ipc_msg *);
static void	smtp_sender_result(struct ipc_msg *);
static void	smtp_rcpt_result(struct ipc_msg *);
static void	smtp_grey_result(struct ipc_msg *);

void
smtp_main(void)
{
	/* The queue holds one fd per message being received, too. */
	srv_run(PROTO_SMTP, conf->max_per_ip,
	    "421 4.7.0 Too many connections from your address\r\n",
	    smtp_accept, MAILD_EMPTY, "stdio inet recvfd");
}

/* A session; is the client on one of our own addresses? */
static void
smtp_accept(int fd, const struct listener *l,
    const struct sockaddr_storage *ss)
{
	struct sockaddr_storage	 self;
	socklen_t		 len = sizeof(self);
	int			 local;

	memset(&self, 0, sizeof(self));
	local = ((l->flags & (L_CHECK_RDNS | L_CHECK_FCRDNS)) ||
	    ((l->flags & L_DNSBL) && conf->ndnsbl > 0)) &&
	    getsockname(fd, (struct sockaddr *)&self, &len) == 0 &&
	    srv_addr_equal(&self, ss);
	smtp_session_new(io_new(fd, 0, NULL, NULL), l, ss, local,
	    &srv_session_env);
}

static void
smtp_created(struct ipc_msg *m)
{
	uint64_t	 reqid;
	uint32_t	 msgid;

	reqid = ipc_get_u64(m);
	msgid = ipc_get_u32(m);
	ipc_end(m);
	smtp_session_created(&srv_session_env, reqid, msgid, ipc_get_fd(m));
}

static void
smtp_create_failed(struct ipc_msg *m)
{
	uint64_t	 reqid;
	uint32_t	 reason;

	reqid = ipc_get_u64(m);
	reason = ipc_get_u32(m);
	ipc_end(m);
	smtp_session_create_failed(reqid, reason);
}

/* IMSG_Q_COMMIT_OK and IMSG_Q_COMMIT_FAIL */
static void
smtp_committed(struct ipc_msg *m)
{
	uint64_t	 reqid;
	uint32_t	 msgid;

	reqid = ipc_get_u64(m);
	msgid = ipc_get_u32(m);
	ipc_end(m);
	smtp_session_committed(reqid, msgid, m->type == IMSG_Q_COMMIT_OK);
}

static void
smtp_refused(struct ipc_msg *m)
{
	const char	*reply;
	uint64_t	 reqid;
	uint32_t	 msgid;

	reqid = ipc_get_u64(m);
	msgid = ipc_get_u32(m);
	reply = ipc_get_strp(m);
	ipc_end(m);
	smtp_session_refused(reqid, msgid, reply);
}

static void
smtp_auth_result(struct ipc_msg *m)
{
	const char	*user;
	uint64_t	 reqid;
	uint32_t	 res;

	reqid = ipc_get_u64(m);
	res = ipc_get_u32(m);
	user = ipc_get_strp(m);
	(void)ipc_get_strp(m);		/* no Maildir asked for */
	ipc_end(m);
	smtp_session_auth_result(reqid, res, user);
}

static void
smtp_fcrdns_result(struct ipc_msg *m)
{
	const char	*name;
	uint64_t	 reqid;
	uint32_t	 res;

	reqid = ipc_get_u64(m);
	res = ipc_get_u32(m);
	name = ipc_get_strp(m);
	ipc_end(m);
	smtp_session_fcrdns_result(reqid, res, name);
}

static void
smtp_dnsbl_result(struct ipc_msg *m)
{
	const char	*reply, *why;
	uint64_t	 reqid;
	uint32_t	 refuse, errors;

	reqid = ipc_get_u64(m);
	refuse = ipc_get_u32(m);
	errors = ipc_get_u32(m);
	reply = ipc_get_strp(m);
	why = ipc_get_strp(m);
	ipc_end(m);
	smtp_session_dnsbl_result(reqid, refuse != 0, errors, reply, why);
}

static void
smtp_sender_result(struct ipc_msg *m)
{
	uint64_t	 reqid;
	uint32_t	 allowed;

	reqid = ipc_get_u64(m);
	allowed = ipc_get_u32(m);
	ipc_end(m);
	smtp_session_sender_result(reqid, allowed != 0);
}

static void
smtp_rcpt_result(struct ipc_msg *m)
{
	const char	*reason;
	uint64_t	 reqid;
	uint32_t	 res, ndest;

	reqid = ipc_get_u64(m);
	res = ipc_get_u32(m);
	ndest = ipc_get_u32(m);
	reason = ipc_get_strp(m);
	ipc_end(m);
	smtp_session_rcpt_result(reqid, res, ndest, reason);
}

static void
smtp_grey_result(struct ipc_msg *m)
{
	uint64_t	 reqid;
	uint32_t	 verdict, secs;

	reqid = ipc_get_u64(m);
	verdict = ipc_get_u32(m);
	secs = ipc_get_u32(m);
	ipc_end(m);
	smtp_session_grey_result(reqid, verdict, secs);
}

const struct proc_handler smtp_handlers[] = {
	{ IMSG_CONF_RELOAD,	proc_conf_stage },
	{ IMSG_CONF_PKI,	srv_tls_reload },
	/* Sessions keep their own listener copies: safe to swap. */
	{ IMSG_CONF_END,	proc_conf_end },
	{ IMSG_CTL_REQ,		srv_ctl },
	{ IMSG_Q_CREATE_OK,	smtp_created },
	{ IMSG_Q_CREATE_FAIL,	smtp_create_failed },
	{ IMSG_Q_COMMIT_OK,	smtp_committed },
	{ IMSG_Q_COMMIT_FAIL,	smtp_committed },
	{ IMSG_Q_COMMIT_REFUSED, smtp_refused },
	{ IMSG_L_AUTH_RES,	smtp_auth_result },
	{ IMSG_L_FCRDNS_RES,	smtp_fcrdns_result },
	{ IMSG_L_DNSBL_RES,	smtp_dnsbl_result },
	{ IMSG_L_SENDER_RES,	smtp_sender_result },
	{ IMSG_L_RCPT_RES,	smtp_rcpt_result },
	{ IMSG_Q_GREYLIST_RES,	smtp_grey_result },
	{ IMSG_NONE,		NULL }
};
