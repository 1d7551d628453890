/*
 * The requests maild carries out for mailctl, declared once: their
 * words, their argument, and the processes that act on them, in order.
 * mailctl checks a command with ctl_parse() before it sends it; the
 * control process parses the line again (it may come from anyone who
 * can open the socket) and hands each process of the chain a typed
 * request (IMSG_CTL_REQ: id, cmd, arg).
 */
#ifndef MAILD_CTL_H
#define MAILD_CTL_H

#include <stddef.h>

#include "imsg.h"

enum ctl_cmd {
	CTL_NONE,
	CTL_RELOAD,
	CTL_SHOW_CONFIG,
	CTL_SHOW_QUEUE,
	CTL_SHOW_STATS,
	CTL_SCHEDULE,		/* arg: an id or "all" */
	CTL_REMOVE,		/* arg: an id or "all" */
	CTL_PAUSE_SMTP,
	CTL_RESUME_SMTP,
	CTL_PAUSE_RELAY,
	CTL_RESUME_RELAY,
	CTL_PAUSE_IMAP,
	CTL_RESUME_IMAP,
	CTL_LOG_VERBOSE,
	CTL_LOG_BRIEF,
	CTL_COUNT
};

#define CTL_ARG_MAX	32	/* a 16-digit hex id, or "all" */
#define CTL_CHAIN_MAX	5

struct ctl_info {
	enum ctl_cmd	 cmd;
	const char	*words;		/* "pause smtp" */
	int		 arg;		/* takes an id or "all" */
	enum proc_type	 chain[CTL_CHAIN_MAX];	/* who answers, in turn */
	size_t		 nchain;
};

struct ctl_req {
	enum ctl_cmd	 cmd;
	char		 arg[CTL_ARG_MAX];
};

/*
 * Parse a request line ("schedule 1a2b", "show queue"): 0; -1 if it is
 * no request, -2 if its argument is bad; the reason in err.
 */
int			 ctl_parse(const char *, struct ctl_req *, char *,
			    size_t);
const struct ctl_info	*ctl_info(enum ctl_cmd);

#endif
