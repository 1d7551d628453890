/*
 * The lookup process: it holds the tables (passwd, virtuals, aliases)
 * and answers the questions that need them.  For each RCPT it expands
 * the recipient and submits the destinations straight to the queue, so
 * the network-facing smtp process never chooses where mail goes.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

static void	lookup_table(struct maild_conf *, struct ipc_msg *);
static void	lookup_rcpt(struct ipc_msg *);

static int			 ready;

void
lookup_main(void)
{
	config_purge_keys(conf);
	proc_drop(MAILD_EMPTY);
	proc_setup_peers();
	if (pledge("stdio recvfd", NULL) == -1)
		fatal("pledge");
	event_dispatch();
}

static void
lookup_table(struct maild_conf *c, struct ipc_msg *m)
{
	struct table	*t;
	char		 name[NAME_MAX_CONF], err[512];
	int		 fd;

	ipc_get_str(m, name, sizeof(name));
	ipc_end(m);
	fd = ipc_get_fd(m);
	if ((t = config_table(c, name)) == NULL)
		fatalx("lookup: parent sent unknown table %s", name);
	if (table_load_fd(t, fd, err, sizeof(err)) == -1)
		log_warnx("%s", err);	/* stays unloaded: 4xx */
	else
		log_debug("table %s: %zu entries", t->name, t->count);
	close(fd);
}

static void
lookup_rcpt(struct ipc_msg *m)
{
	struct dest	*dests;
	struct mailaddr	 rcpt;
	struct ipc_buf	 b;
	enum exp_result	 r;
	char		 err[ERRMSG_MAX] = "";
	uint64_t	 reqid;
	uint32_t	 msgid, flags;
	size_t		 n = 0, i;

	reqid = ipc_get_u64(m);
	msgid = ipc_get_u32(m);
	flags = ipc_get_u32(m);
	ipc_get(m, &rcpt, sizeof(rcpt));
	ipc_end(m);
	rcpt.user[sizeof(rcpt.user) - 1] = '\0';
	rcpt.domain[sizeof(rcpt.domain) - 1] = '\0';
	if (rcpt.domain[0] == '\0')		/* RCPT TO:<postmaster> */
		strlcpy(rcpt.domain, conf->hostname, sizeof(rcpt.domain));

	if ((dests = calloc(MAX_EXPAND_DEST, sizeof(*dests))) == NULL)
		fatal("calloc");
	if (!ready)
		r = EXP_TEMPFAIL;
	else
		r = expand_rcpt(conf, &rcpt, flags, dests, MAX_EXPAND_DEST,
		    &n, err, sizeof(err));
	if (r != EXP_OK)
		n = 0;
	/* Never accept what nothing can deliver: the sender retries. */
	for (i = 0; i < n; i++)
		if (dests[i].type == DEST_RELAY && !procs[PROC_RELAY].enabled) {
			r = EXP_TEMPFAIL;
			strlcpy(err, "no outbound relay in this version",
			    sizeof(err));
			n = 0;
		}
	for (i = 0; i < n; i++) {
		ipc_buf_init(&b);
		ipc_add_u32(&b, msgid);
		ipc_add(&b, &rcpt, sizeof(rcpt));
		ipc_add(&b, &dests[i], sizeof(dests[i]));
		proc_send_buf(PROC_QUEUE, IMSG_Q_DEST, -1, &b);
	}
	free(dests);
	ipc_buf_init(&b);
	ipc_add_u64(&b, reqid);
	ipc_add_u32(&b, r);
	ipc_add_u32(&b, n);
	ipc_add_str(&b, err);
	proc_send_buf(PROC_SMTP, IMSG_L_RCPT_RES, -1, &b);
}

void
lookup_dispatch(struct ipc *ipc, struct ipc_msg *m)
{
	(void)ipc;
	switch (m->type) {
	case IMSG_CONF_RELOAD:
		proc_conf_stage(m);
		break;
	case IMSG_CONF_TABLE:
		if (!ready)
			lookup_table(conf, m);
		else if (proc_conf_staged() != NULL)
			lookup_table(proc_conf_staged(), m);
		else {
			/* a failed reload: drop the table */
			char name[NAME_MAX_CONF];
			ipc_get_str(m, name, sizeof(name));
			ipc_end(m);
			close(ipc_get_fd(m));
		}
		break;
	case IMSG_CONF_PKI:
		fatalx("lookup: unexpected pki");
	case IMSG_CONF_END:
		if (proc_conf_commit(m))
			log_info("configuration reloaded");
		ready = 1;
		break;
	case IMSG_L_RCPT:
		lookup_rcpt(m);
		break;
	default:
		fatalx("lookup: unexpected message %u from %s", m->type,
		    m->peer);
	}
}
