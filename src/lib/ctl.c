/*
 * The mailctl requests of ctl.h: one table, and the parser mailctl and
 * the control process share.
 */
#include <stdio.h>
#include <string.h>

#include "compat.h"
#include "ctl.h"

static const struct ctl_info ctls[] = {
	{ CTL_RELOAD, "reload", 0, { PROC_PARENT }, 1 },
	{ CTL_SHOW_CONFIG, "show config", 0, { PROC_PARENT }, 1 },
	{ CTL_SHOW_QUEUE, "show queue", 0, { PROC_QUEUE }, 1 },
	{ CTL_SHOW_STATS, "show stats", 0, { PROC_PARENT, PROC_SMTP,
	    PROC_IMAP, PROC_QUEUE, PROC_RELAY }, 5 },
	{ CTL_SCHEDULE, "schedule", 1, { PROC_QUEUE }, 1 },
	{ CTL_REMOVE, "remove", 1, { PROC_QUEUE }, 1 },
	{ CTL_PAUSE_SMTP, "pause smtp", 0, { PROC_SMTP }, 1 },
	{ CTL_RESUME_SMTP, "resume smtp", 0, { PROC_SMTP }, 1 },
	{ CTL_PAUSE_RELAY, "pause relay", 0, { PROC_QUEUE }, 1 },
	{ CTL_RESUME_RELAY, "resume relay", 0, { PROC_QUEUE }, 1 },
	{ CTL_PAUSE_IMAP, "pause imap", 0, { PROC_IMAP }, 1 },
	{ CTL_RESUME_IMAP, "resume imap", 0, { PROC_IMAP }, 1 },
	{ CTL_LOG_VERBOSE, "log verbose", 0, { PROC_PARENT }, 1 },
	{ CTL_LOG_BRIEF, "log brief", 0, { PROC_PARENT }, 1 },
};

const struct ctl_info *
ctl_info(enum ctl_cmd cmd)
{
	size_t	 i;

	for (i = 0; i < nitems(ctls); i++)
		if (ctls[i].cmd == cmd)
			return &ctls[i];
	return NULL;
}

int
ctl_parse(const char *line, struct ctl_req *r, char *err, size_t errlen)
{
	const char	*arg;
	size_t		 i, len, n;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < nitems(ctls); i++) {
		len = strlen(ctls[i].words);
		if (strncmp(line, ctls[i].words, len) != 0)
			continue;
		arg = line + len;
		if (!ctls[i].arg) {
			if (*arg != '\0')
				continue;
		} else {
			if (*arg != ' ')
				continue;
			arg++;
			n = strspn(arg, "0123456789abcdefABCDEF");
			if (strcmp(arg, "all") != 0 &&
			    (n == 0 || arg[n] != '\0' || n > 16)) {
				(void)snprintf(err, errlen, "%.40s: not a "
				    "message or envelope id (hex, as in show "
				    "queue)", arg);
				return -2;
			}
			(void)strlcpy(r->arg, arg, sizeof(r->arg));
		}
		r->cmd = ctls[i].cmd;
		return 0;
	}
	(void)snprintf(err, errlen, "unknown request");
	return -1;
}
