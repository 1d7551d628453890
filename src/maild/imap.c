/*
 * The imap process: it runs as the vmail user chrooted to the mailbox
 * root, owns the IMAP listeners and their TLS contexts, routes login
 * answers from the lookup process to sessions and new-mail notices from
 * the deliver process to the mailboxes.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include "imap.h"
#include "proc.h"
#include "server.h"

void
imap_main(void)
{
	srv_run(PROTO_IMAP, conf->imap_max_per_ip,
	    "* BYE Too many connections from your address\r\n",
	    imap_session_new, conf->vmail_root,
	    "stdio rpath wpath cpath fattr flock inet recvfd");
}

void
imap_dispatch(struct ipc *ipc, struct ipc_msg *m)
{
	char		 user[ADDR_MAX + 1], dir[PATH_MAX];
	uint64_t	 reqid;
	uint32_t	 res;

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
		(void)proc_conf_commit(m);
		break;
	case IMSG_L_AUTH_RES:
		reqid = ipc_get_u64(m);
		res = ipc_get_u32(m);
		ipc_get_str(m, user, sizeof(user));
		ipc_get_str(m, dir, sizeof(dir));
		ipc_end(m);
		imap_session_auth_result(reqid, res, user, dir);
		break;
	case IMSG_I_NEW:
		ipc_get_str(m, dir, sizeof(dir));
		ipc_end(m);
		imap_session_newmail(dir);
		break;
	default:
		fatalx("imap: unexpected message %u from %s", m->type,
		    m->peer);
	}
}
