/*
 * The offline directory, in the parent: mail that maild-sendmail could
 * not hand to a running maild waits there, each file owned by the user
 * who sent it (see enqueue.h).  The parent looks at start, after each
 * reload and every OFFLINE_SCAN seconds; each file is submitted over
 * SMTP, as maild-sendmail would have, by a child that runs as the
 * file's owner: a user can only send what they could have sent
 * themselves, and the file is read with their rights, not root's.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "enqueue.h"
#include "log.h"
#include "offline.h"
#include "proc.h"

#define OFFLINE_SCAN	60	/* seconds between looks */
#define OFFLINE_KIDS	4	/* files being submitted at once */
#define OFFLINE_SLACK	(64 * 1024)	/* headers maild-sendmail added */

struct offline_kid {
	pid_t	 pid;
	dev_t	 dev;
	ino_t	 ino;
};

static void	offline_timer(int, short, void *);
static void	offline_submit(int, const char *, const struct stat *)
		    __attribute__((__noreturn__));

static struct offline_kid	 kids[OFFLINE_KIDS];
static struct event		 ev_scan;
static char			 dir[PATH_MAX];
static int			 foreground, verbose;

/*
 * The directory: anyone may add a file, only its owner (or root) may
 * remove it (sticky, like /tmp); without privileges, only the user
 * running maild uses it.
 */
void
offline_init(int fg, int v)
{
	struct timeval	 tv = { 1, 0 };
	struct stat	 sb;
	mode_t		 mode = privileged ? 01777 : 0700;

	foreground = fg;
	verbose = v;
	if (snprintf(dir, sizeof(dir), "%s/%s", conf->spool, ENQ_OFFLINE) >=
	    (int)sizeof(dir))
		fatalx("%s/%s: path too long", conf->spool, ENQ_OFFLINE);
	if (mkdir(dir, mode) == -1 && errno != EEXIST)
		fatal("mkdir %s", dir);
	if (lstat(dir, &sb) == -1)
		fatal("%s", dir);
	if (!S_ISDIR(sb.st_mode))
		fatalx("%s is not a directory", dir);
	if (sb.st_uid != geteuid() && chown(dir, geteuid(), getegid()) == -1)
		fatal("chown %s", dir);
	if ((sb.st_mode & 07777) != mode && chmod(dir, mode) == -1)
		fatal("chmod %s", dir);
	evtimer_set(&ev_scan, offline_timer, NULL);
	evtimer_add(&ev_scan, &tv);
}

static void
offline_timer(int fd, short ev, void *arg)
{
	struct timeval	 tv = { OFFLINE_SCAN, 0 };

	(void)fd;
	(void)ev;
	(void)arg;
	offline_scan();
	evtimer_add(&ev_scan, &tv);
}

/* A look at the directory: a child for each file, a few at a time. */
void
offline_scan(void)
{
	struct dirent	*de;
	struct stat	 sb;
	DIR		*d;
	size_t		 i, free_slot;
	pid_t		 pid;
	int		 dfd;

	if (dir[0] == '\0' || (dfd = open(dir, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		return;
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		/* ".name": maild-sendmail is still writing it. */
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (!S_ISREG(sb.st_mode) || sb.st_nlink != 1) {
			log_warnx("offline: %s: not a plain file, left alone",
			    de->d_name);
			continue;
		}
		for (i = 0, free_slot = OFFLINE_KIDS; i < OFFLINE_KIDS; i++) {
			if (kids[i].pid != 0 && kids[i].dev == sb.st_dev &&
			    kids[i].ino == sb.st_ino)
				break;
			if (kids[i].pid == 0 && free_slot == OFFLINE_KIDS)
				free_slot = i;
		}
		if (i < OFFLINE_KIDS)
			continue;	/* being submitted */
		if (free_slot == OFFLINE_KIDS)
			break;		/* the next look takes the rest */
		if ((pid = fork()) == -1) {
			log_warn("offline: fork");
			break;
		}
		if (pid == 0)
			offline_submit(dfd, de->d_name, &sb);
		kids[free_slot].pid = pid;
		kids[free_slot].dev = sb.st_dev;
		kids[free_slot].ino = sb.st_ino;
	}
	closedir(d);
}

int
offline_reaped(pid_t pid, int status)
{
	size_t	 i;

	for (i = 0; i < OFFLINE_KIDS; i++)
		if (kids[i].pid == pid) {
			kids[i].pid = 0;
			if (WIFSIGNALED(status))
				log_warnx("offline: submitting child died on "
				    "signal %d", WTERMSIG(status));
			return 1;
		}
	return 0;
}

void
offline_stop(void)
{
	size_t	 i;

	for (i = 0; i < OFFLINE_KIDS; i++)
		if (kids[i].pid != 0)
			(void)kill(kids[i].pid, SIGTERM);
}

/*
 * In the child: become the file's owner, check the file is still the
 * one seen, and submit it.  Removed once maild took it or refused it
 * for good (the refusal is logged: there is no one else to tell);
 * kept when maild cannot take it now.
 */
static void
offline_submit(int dfd, const char *name, const struct stat *seen)
{
	struct enq_msg	 msg;
	struct passwd	*pw;
	struct stat	 sb;
	char		 err[1024], who[64];
	uid_t		 uid = seen->st_uid;
	gid_t		 gid = seen->st_gid;
	int		 fd, r;

	/* Nothing of the parent's: sockets, channels, the event loop. */
	signal(SIGCHLD, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	closelog();
	if (dup2(dfd, 3) == -1)
		_exit(1);
	closefrom(4);
	dfd = 3;
	log_init(foreground, verbose);
	log_procname("offline");
	if ((pw = getpwuid(uid)) != NULL)
		gid = pw->pw_gid;
	(void)snprintf(who, sizeof(who), "%s (uid %u)", pw != NULL ?
	    pw->pw_name : "?", (unsigned)uid);
	if (privileged && (setgroups(1, &gid) == -1 ||
	    setresgid(gid, gid, gid) == -1 || setresuid(uid, uid, uid) == -1)) {
		log_warn("offline: %s: cannot become %s", name, who);
		_exit(1);
	}
	if (!privileged && uid != getuid()) {
		log_warnx("offline: %s: owned by %s, not by the user "
		    "running maild: left alone", name, who);
		_exit(1);
	}
	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1 || fstat(fd, &sb) == -1 ||
	    sb.st_dev != seen->st_dev || sb.st_ino != seen->st_ino ||
	    sb.st_uid != uid || !S_ISREG(sb.st_mode) || sb.st_nlink != 1)
		_exit(1);	/* changed under us: the next look */
	if (enqueue_offline_read(fd, conf->max_msg_size + OFFLINE_SLACK,
	    &msg, err, sizeof(err)) == -1) {
		log_warnx("offline: %s from %s: %s: removed", name, who, err);
		(void)unlinkat(dfd, name, 0);
		_exit(2);
	}
	close(fd);
	r = enqueue_smtp(conf, &msg, err, sizeof(err));
	switch (r) {
	case ENQ_OK:
		log_info("offline: %s from %s: submitted", name, who);
		break;
	case ENQ_PERMFAIL:
		log_warnx("offline: %s from %s <%s>: refused, removed: %s",
		    name, who, msg.sender, err);
		break;
	default:
		log_debug("offline: %s from %s: later: %s", name, who, err);
		_exit(1);
	}
	if (unlinkat(dfd, name, 0) == -1)
		log_warn("offline: %s: remove", name);
	_exit(0);
}
