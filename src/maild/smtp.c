/*
 * The smtp process: it owns the SMTP listeners and the TLS server
 * contexts (server.c accepts within the fd and per-address limits) and
 * routes the replies of the lookup and queue processes to sessions.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include "proc.h"
#include "server.h"
#include "smtp.h"

void
smtp_main(void)
{
	/* The queue holds one fd per message being received, too. */
	srv_run(PROTO_SMTP, conf->max_per_ip,
	    "421 4.7.0 Too many connections from your address\r\n",
	    smtp_session_new, MAILD_EMPTY, "stdio inet recvfd");
}

void
smtp_dispatch(struct ipc *ipc, struct ipc_msg *m)
{
	uint64_t	 reqid;
	uint32_t	 msgid, res, n;
	const char	*s;

	(void)ipc;
	switch (m->type) {
	case IMSG_CONF_RELOAD:
		proc_conf_stage(m);
		break;
	case IMSG_CONF_PKI:
		srv_tls_reload(m);
		break;
	case IMSG_CTL_LOG:
		proc_ctl_log(m);
		break;
	case IMSG_CTL_REQ:
		srv_ctl(m);
		break;
	case IMSG_CONF_END:
		/* Sessions keep their own listener copies: safe to swap. */
		(void)proc_conf_commit(m);
		break;
	case IMSG_Q_CREATE_OK:
		reqid = ipc_get_u64(m);
		msgid = ipc_get_u32(m);
		ipc_end(m);
		smtp_session_created(reqid, msgid, ipc_get_fd(m));
		break;
	case IMSG_Q_CREATE_FAIL:
		reqid = ipc_get_u64(m);
		res = ipc_get_u32(m);
		ipc_end(m);
		smtp_session_create_failed(reqid, res);
		break;
	case IMSG_Q_COMMIT_OK:
	case IMSG_Q_COMMIT_FAIL:
		reqid = ipc_get_u64(m);
		msgid = ipc_get_u32(m);
		ipc_end(m);
		smtp_session_committed(reqid, msgid,
		    m->type == IMSG_Q_COMMIT_OK);
		break;
	case IMSG_L_AUTH_RES:
		reqid = ipc_get_u64(m);
		res = ipc_get_u32(m);
		s = ipc_get_strp(m);
		(void)ipc_get_strp(m);		/* no Maildir asked for */
		ipc_end(m);
		smtp_session_auth_result(reqid, res, s);
		break;
	case IMSG_L_FCRDNS_RES:
		reqid = ipc_get_u64(m);
		res = ipc_get_u32(m);
		s = ipc_get_strp(m);
		ipc_end(m);
		smtp_session_fcrdns_result(reqid, res, s);
		break;
	case IMSG_L_SENDER_RES:
		reqid = ipc_get_u64(m);
		res = ipc_get_u32(m);
		ipc_end(m);
		smtp_session_sender_result(reqid, res != 0);
		break;
	case IMSG_L_RCPT_RES:
		reqid = ipc_get_u64(m);
		res = ipc_get_u32(m);
		n = ipc_get_u32(m);
		s = ipc_get_strp(m);
		ipc_end(m);
		smtp_session_rcpt_result(reqid, res, n, s);
		break;
	default:
		fatalx("smtp: unexpected message %u from %s", m->type,
		    m->peer);
	}
}
