/*
 * Changes other programs make in the Maildirs that NOTIFY sessions
 * watch (a delivery agent of another server, a client working on the
 * files, a script), seen without polling: one inotify descriptor for
 * the imap process, a watch on new/ and cur/ of each folder some
 * session's NOTIFY covers, shared by reference count.  An event marks
 * its folder; a short timer later each marked folder whose new/ or cur/
 * changed since maild itself last touched it (imap_watch_stamp(), from
 * every change maild makes) gets the same look as a delivery notice,
 * imap_session_newmail().  Cost: two inotify watches per folder
 * (kernel memory, about 1 KB each), nothing while nothing changes,
 * two stat(2) per folder and event burst.
 *
 * Without inotify (OpenBSD: kqueue needs an open descriptor per
 * directory, too many for a user with 1,000 folders), or when the
 * kernel's watch limit is reached, a folder is not watched: deliveries
 * and maild's own sessions are still told at once, other programs'
 * changes at the session's next command.
 */
#include <sys/types.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/inotify.h>
#endif

#include <errno.h>
#include <event.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "imap_session.h"
#include "proc.h"
#include "safepath.h"

#ifdef __linux__

#define WATCH_DELAY_MS	100	/* events of one burst, one look */

struct wnode {
	RB_ENTRY(wnode)		 node;
	int			 wd;
	struct imap_watch	*w;
};

struct imap_watch {
	RB_ENTRY(imap_watch)	 node;
	TAILQ_ENTRY(imap_watch)	 dirtyq;
	char			*dir;
	int			 refs;
	int			 dirty;
	struct wnode		 wn[2];		/* new/, cur/ */
	struct timespec		 mt[2];		/* as maild left them */
};

RB_HEAD(watches, imap_watch);
RB_HEAD(wnodes, wnode);
TAILQ_HEAD(dirtyq, imap_watch);

static int	w_cmp(const struct imap_watch *, const struct imap_watch *);
static int	wn_cmp(const struct wnode *, const struct wnode *);
static void	w_stamps(const char *, struct timespec *);
static void	w_read(int, short, void *);
static void	w_run(int, short, void *);
static void	w_mark(struct imap_watch *);
static void	w_arm(struct imap_watch *);

RB_PROTOTYPE(watches, imap_watch, node, w_cmp)
RB_PROTOTYPE(wnodes, wnode, node, wn_cmp)

static struct watches	 watches = RB_INITIALIZER(&watches);
static struct wnodes	 wnodes = RB_INITIALIZER(&wnodes);
static struct dirtyq	 dirty = TAILQ_HEAD_INITIALIZER(dirty);
static int		 ifd = -1;	/* inotify, once opened */
static int		 ifailed;	/* no inotify: said once */
static int		 wlimit;	/* watch limit met: said once */
static struct event	 ev_read, ev_run;

static int
w_cmp(const struct imap_watch *a, const struct imap_watch *b)
{
	return strcmp(a->dir, b->dir);
}

static int
wn_cmp(const struct wnode *a, const struct wnode *b)
{
	return a->wd < b->wd ? -1 : a->wd > b->wd;
}

RB_GENERATE(watches, imap_watch, node, w_cmp)
RB_GENERATE(wnodes, wnode, node, wn_cmp)

/* The mtimes of dir/new and dir/cur (zero when missing). */
static void
w_stamps(const char *dir, struct timespec *mt)
{
	static const char *const sub[2] = { "new", "cur" };
	struct stat	 st;
	char		 path[PATH_MAX];
	int		 i;

	for (i = 0; i < 2; i++) {
		memset(&mt[i], 0, sizeof(mt[i]));
		if (snprintf(path, sizeof(path), "%s/%s", dir, sub[i]) <
		    (int)sizeof(path) && safe_lstat(path, &st) == 0)
			mt[i] = st.st_mtim;
	}
}

/* Watches on new/ and cur/ that are missing (a folder made again). */
static void
w_arm(struct imap_watch *w)
{
	static const char *const sub[2] = { "new", "cur" };
	char		 path[PATH_MAX];
	int		 i, wd;

	for (i = 0; i < 2; i++) {
		if (w->wn[i].wd != -1 || snprintf(path, sizeof(path), "%s/%s",
		    w->dir, sub[i]) >= (int)sizeof(path))
			continue;
		wd = inotify_add_watch(ifd, path, IN_CREATE | IN_DELETE |
		    IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR | IN_DONT_FOLLOW);
		if (wd == -1) {
			if (errno == ENOSPC && !wlimit) {
				log_warnx("imap: inotify watch limit reached "
				    "(fs.inotify.max_user_watches): some "
				    "folders are not watched");
				wlimit = 1;
			}
			continue;
		}
		w->wn[i].wd = wd;
		/* The same directory under another name: watched there. */
		if (RB_INSERT(wnodes, &wnodes, &w->wn[i]) != NULL)
			w->wn[i].wd = -1;
	}
	w_stamps(w->dir, w->mt);
}

/* Watch Maildir dir (one more reference); NULL when it cannot be. */
struct imap_watch *
imap_watch_add(const char *dir)
{
	struct imap_watch	 key, *w;

	key.dir = (char *)(uintptr_t)dir;
	if ((w = RB_FIND(watches, &watches, &key)) != NULL) {
		w->refs++;
		if (w->wn[0].wd == -1 || w->wn[1].wd == -1)
			w_arm(w);
		return w;
	}
	if (ifd == -1) {
		if (ifailed)
			return NULL;
		if ((ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
			log_warn("imap: inotify: changes by other programs "
			    "are seen at the next command");
			ifailed = 1;
			return NULL;
		}
		event_set(&ev_read, ifd, EV_READ | EV_PERSIST, w_read, NULL);
		event_add(&ev_read, NULL);
		evtimer_set(&ev_run, w_run, NULL);
	}
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->dir = strdup(dir)) == NULL)
		fatal("imap_watch_add");
	w->refs = 1;
	w->wn[0].w = w->wn[1].w = w;
	w->wn[0].wd = w->wn[1].wd = -1;
	w_arm(w);
	RB_INSERT(watches, &watches, w);
	return w;
}

void
imap_watch_del(struct imap_watch *w)
{
	int	 i;

	if (w == NULL || --w->refs > 0)
		return;
	for (i = 0; i < 2; i++)
		if (w->wn[i].wd != -1) {
			RB_REMOVE(wnodes, &wnodes, &w->wn[i]);
			(void)inotify_rm_watch(ifd, w->wn[i].wd);
		}
	if (w->dirty)
		TAILQ_REMOVE(&dirty, w, dirtyq);
	RB_REMOVE(watches, &watches, w);
	free(w->dir);
	free(w);
}

/* maild changed Maildir dir itself: its own events are not news. */
void
imap_watch_stamp(const char *dir)
{
	struct imap_watch	 key, *w;

	key.dir = (char *)(uintptr_t)dir;
	if ((w = RB_FIND(watches, &watches, &key)) != NULL)
		w_stamps(dir, w->mt);
}

static void
w_mark(struct imap_watch *w)
{
	struct timeval	 tv = { 0, WATCH_DELAY_MS * 1000 };

	if (w->dirty)
		return;
	w->dirty = 1;
	TAILQ_INSERT_TAIL(&dirty, w, dirtyq);
	if (!evtimer_pending(&ev_run, NULL))
		evtimer_add(&ev_run, &tv);
}

static void
w_read(int fd, short ev, void *arg)
{
	union {
		struct inotify_event	 ie;	/* aligns what read(2) puts */
		char			 b[8192];
	}			 u;
	char			*buf = u.b;
	const struct inotify_event *ie;
	struct imap_watch	*w;
	struct wnode		 key, *n;
	ssize_t			 len;
	char			*p;

	(void)ev;
	(void)arg;
	for (;;) {
		if ((len = read(fd, buf, sizeof(u.b))) == -1) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("imap: inotify read");
			return;
		}
		if (len == 0)
			return;
		for (p = buf; p < buf + len; p += sizeof(*ie) + ie->len) {
			ie = (const struct inotify_event *)(void *)p;
			if (ie->mask & IN_Q_OVERFLOW) {
				/* Events were lost: look at everything. */
				RB_FOREACH(w, watches, &watches)
					w_mark(w);
				continue;
			}
			key.wd = ie->wd;
			if ((n = RB_FIND(wnodes, &wnodes, &key)) == NULL)
				continue;
			if (ie->mask & IN_IGNORED) {
				/* The directory went away (DELETE, rm -r). */
				RB_REMOVE(wnodes, &wnodes, n);
				n->wd = -1;
				continue;
			}
			w_mark(n->w);
		}
	}
}

static void
w_run(int fd, short ev, void *arg)
{
	struct imap_watch	*w;
	struct timespec		 mt[2];

	(void)fd;
	(void)ev;
	(void)arg;
	while ((w = TAILQ_FIRST(&dirty)) != NULL) {
		TAILQ_REMOVE(&dirty, w, dirtyq);
		w->dirty = 0;
		w_stamps(w->dir, mt);
		if (memcmp(mt, w->mt, sizeof(mt)) == 0)
			continue;	/* maild's own change */
		memcpy(w->mt, mt, sizeof(mt));
		w->refs++;		/* a session may drop it meanwhile */
		imap_session_newmail(w->dir);
		imap_watch_del(w);
	}
}

#else	/* no inotify */

struct imap_watch *
imap_watch_add(const char *dir)
{
	(void)dir;
	return NULL;
}

void
imap_watch_del(struct imap_watch *w)
{
	(void)w;
}

void
imap_watch_stamp(const char *dir)
{
	(void)dir;
}

#endif
