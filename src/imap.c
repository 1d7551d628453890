/*
 * The imap process: it runs as the vmail user chrooted to the mailbox
 * root, owns the IMAP listeners and their TLS contexts, routes login
 * answers from the lookup process to sessions and new-mail notices from
 * the deliver process to the mailboxes, and slows down password
 * guessing per client address.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imap.h"
#include "proc.h"
#include "server.h"

/* Failed logins per address, forgotten after AUTHFAIL_FORGET seconds. */
#define AUTHFAIL_SLOTS	4096
#define AUTHFAIL_FORGET	600
#define AUTHFAIL_MAXDELAY 15

struct authfail {
	struct sockaddr_storage	 ss;
	time_t			 last;
	int			 count;
};

static void	imap_newconn(int, const struct listener *,
		    const struct sockaddr_storage *);
static struct authfail *authfail_find(const struct sockaddr_storage *, int);

static struct authfail	 authfail[AUTHFAIL_SLOTS];

void
imap_main(void)
{
	srv_tls_setup();
	/* A session holds its socket; message files are opened briefly. */
	srv_listen(PROTO_IMAP, conf->imap_max_per_ip, 2,
	    "* BYE Too many connections from your address\r\n", imap_newconn);
	proc_drop(conf->vmail_root);
	proc_setup_peers();
	if (pledge("stdio rpath wpath cpath fattr flock inet recvfd",
	    NULL) == -1)
		fatal("pledge");
	srv_start();
	event_dispatch();
}

static void
imap_newconn(int fd, const struct listener *l,
    const struct sockaddr_storage *ss)
{
	imap_session_new(fd, l, ss);
}

/*
 * The slot of an address.  The table is small and fixed: when it is
 * full the stalest slot is reused, so a flood of addresses costs memory
 * never and at worst forgets an old offender.
 */
static struct authfail *
authfail_find(const struct sockaddr_storage *ss, int create)
{
	struct authfail	*a, *victim = NULL;
	time_t		 now = time(NULL);
	size_t		 i;

	for (i = 0; i < AUTHFAIL_SLOTS; i++) {
		a = &authfail[i];
		if (a->count > 0 && now - a->last > AUTHFAIL_FORGET)
			a->count = 0;
		if (a->count > 0 && srv_addr_equal(&a->ss, ss))
			return a;
		/* An empty slot, else the stalest one. */
		if (a->count == 0) {
			if (victim == NULL || victim->count > 0)
				victim = a;
		} else if (victim == NULL ||
		    (victim->count > 0 && a->last < victim->last))
			victim = a;
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	victim->ss = *ss;
	return victim;
}

/* Seconds to wait before answering a failed login from ss. */
int
imap_auth_failed(const struct sockaddr_storage *ss)
{
	struct authfail	*a = authfail_find(ss, 1);
	int		 d;

	a->count++;
	a->last = time(NULL);
	if (a->count <= 1)
		return 0;
	d = a->count - 2 < 4 ? 1 << (a->count - 2) : AUTHFAIL_MAXDELAY;
	return d > AUTHFAIL_MAXDELAY ? AUTHFAIL_MAXDELAY : d;
}

void
imap_auth_ok(const struct sockaddr_storage *ss)
{
	struct authfail	*a;

	if ((a = authfail_find(ss, 0)) != NULL)
		a->count = 0;
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
