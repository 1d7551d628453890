/*
 * The mailctl request table (ctl.h): each request parses to its command
 * and argument; anything else is refused, bad ids with their own reason.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "tap.h"

static int
parses(const char *line, enum ctl_cmd cmd, const char *arg)
{
	struct ctl_req	 r;
	char		 err[128];

	return ctl_parse(line, &r, err, sizeof(err)) == 0 && r.cmd == cmd &&
	    strcmp(r.arg, arg) == 0;
}

static int
refused(const char *line, int how)
{
	struct ctl_req	 r;
	char		 err[128] = "";

	return ctl_parse(line, &r, err, sizeof(err)) == how && err[0] != '\0';
}

int
main(void)
{
	const struct ctl_info	*ci;
	int			 cmd, bad = 0;

	ok(parses("reload", CTL_RELOAD, ""), "reload");
	ok(parses("show config", CTL_SHOW_CONFIG, ""), "show config");
	ok(parses("show queue", CTL_SHOW_QUEUE, ""), "show queue");
	ok(parses("show stats", CTL_SHOW_STATS, ""), "show stats");
	ok(parses("schedule all", CTL_SCHEDULE, "all"), "schedule all");
	ok(parses("schedule 1a2B", CTL_SCHEDULE, "1a2B"), "schedule id");
	ok(parses("remove 0123456789abcdef", CTL_REMOVE, "0123456789abcdef"),
	    "remove a 16-digit envelope id");
	ok(parses("pause smtp", CTL_PAUSE_SMTP, ""), "pause smtp");
	ok(parses("resume relay", CTL_RESUME_RELAY, ""), "resume relay");
	ok(parses("pause imap", CTL_PAUSE_IMAP, ""), "pause imap");
	ok(parses("log verbose", CTL_LOG_VERBOSE, ""), "log verbose");
	ok(parses("log brief", CTL_LOG_BRIEF, ""), "log brief");

	ok(refused("", -1), "empty line");
	ok(refused("reload now", -1), "reload with an argument");
	ok(refused("show", -1), "show alone");
	ok(refused("show queue ", -1), "trailing space");
	ok(refused("schedule", -1), "schedule without an id");
	ok(refused("pause queue", -1), "pause what is not paused");
	ok(refused("SHOW QUEUE", -1), "upper case");
	ok(refused("schedule xyz", -2), "schedule a word");
	ok(refused("remove 0123456789abcdef0", -2), "a 17-digit id");
	ok(refused("remove 12 34", -2), "two ids");
	ok(refused("remove ", -2), "an empty id");

	for (cmd = CTL_NONE + 1; cmd < CTL_COUNT; cmd++) {
		ci = ctl_info(cmd);
		if (ci == NULL || ci->nchain == 0 ||
		    ci->nchain > CTL_CHAIN_MAX ||
		    !(imsg_info[IMSG_CTL_REQ].to & (1U << ci->chain[0])))
			bad++;
	}
	is_int(bad, 0, "every command has a chain of processes that answer");
	ok(ctl_info(CTL_SHOW_STATS)->nchain == 5, "show stats asks five");
	return done_testing();
}
