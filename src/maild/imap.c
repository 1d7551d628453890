/*
 * The imap process: it runs as the vmail user chrooted to the mailbox
 * root, owns the IMAP listeners and their TLS contexts, routes login
 * answers from the lookup process to sessions and new-mail notices from
 * the deliver process to the mailboxes.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include "config.h"
#include "imap.h"
#include "io.h"
#include "proc.h"
#include "server.h"
#include "session_env.h"

static void	imap_accept(int, const struct listener *,
		    const struct sockaddr_storage *);
static void	imap_auth_result(struct ipc_msg *);
static void	imap_newmail(struct ipc_msg *);

void
imap_main(void)
{
	srv_run(PROTO_IMAP, conf->imap_max_per_ip,
	    "* BYE Too many connections from your address\r\n",
	    imap_accept, conf->vmail_root,
	    "stdio rpath wpath cpath fattr flock inet recvfd");
}

static void
imap_accept(int fd, const struct listener *l,
    const struct sockaddr_storage *ss)
{
	imap_session_new(io_new(fd, 0, NULL, NULL), l, ss, &srv_session_env);
}

static void
imap_auth_result(struct ipc_msg *m)
{
	char		 user[ADDR_MAX + 1], dir[PATH_MAX];
	uint64_t	 reqid;
	uint32_t	 res;

	reqid = ipc_get_u64(m);
	res = ipc_get_u32(m);
	ipc_get_str(m, user, sizeof(user));
	ipc_get_str(m, dir, sizeof(dir));
	ipc_end(m);
	imap_session_auth_result(reqid, res, user, dir);
}

static void
imap_newmail(struct ipc_msg *m)
{
	char		 dir[PATH_MAX];

	ipc_get_str(m, dir, sizeof(dir));
	ipc_end(m);
	imap_session_newmail(dir);
}

const struct proc_handler imap_handlers[] = {
	{ IMSG_CONF_RELOAD,	proc_conf_stage },
	{ IMSG_CONF_PKI,	srv_tls_reload },
	{ IMSG_CONF_QUOTA,	proc_conf_quota },
	{ IMSG_CONF_END,	proc_conf_end },
	{ IMSG_CTL_REQ,		srv_ctl },
	{ IMSG_L_AUTH_RES,	imap_auth_result },
	{ IMSG_I_NEW,		imap_newmail },
	{ IMSG_NONE,		NULL }
};
