/*
 * Greylisting's state in the queue process, which owns the spool (the
 * smtp process is chrooted where it cannot write): the table of
 * greylist.c, answering smtp's IMSG_Q_GREYLIST, and its file
 * <spool>/greylist, read at start.  Each change is appended to the
 * file as one line, synced within a second; a compaction writes the
 * live entries to a temporary file, fsyncs it and renames it over the
 * file, when it has grown to twice what it holds (or could not be read
 * whole).  A crash can only cut the last line short: it is dropped at
 * the next start, and the file rewritten before anything is appended.
 * Nothing is allocated, read or written while greylisting is off.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "greylist.h"
#include "proc.h"
#include "queue.h"
#include "util.h"

#define GREY_FILE	"greylist"
#define GREY_TMP	"greylist.tmp"
#define GREY_MAX	100000		/* entries: about 10M of memory */
#define GREY_FILE_MAX	(32 * 1024 * 1024)	/* larger: damaged */
#define GREY_SLACK	1024		/* lines before a compaction pays */
#define GREY_PRUNE	60		/* seconds between prunes */
#define GREY_WBUF	65536

struct grey_out {
	int		 fd;
	char		 buf[GREY_WBUF];
	size_t		 len;
	size_t		 lines;
	int		 error;
};

static void	grey_params(struct grey_params *);
static void	grey_load(void);
static char	*grey_read(int, size_t *);
static void	grey_replay(const struct grey_rec *, void *);
static void	grey_put(const struct grey_rec *, void *);
static void	grey_flush(struct grey_out *);
static int	grey_compact(void);
static void	grey_append(const struct grey_rec *, size_t);
static void	grey_timer(int, short, void *);
static void	grey_sync(int, short, void *);
static void	grey_close(void);

static struct greylist	*grey;		/* NULL: greylisting is off */
static uint8_t		 grey_secret[GREY_SECRETLEN];
static int		 grey_fd = -1;	/* the file, appending */
static size_t		 grey_lines;	/* records in it */
static int		 grey_rewrite;	/* it needs a compaction */
static int		 grey_warned;	/* about a failed write */
static struct event	 ev_grey, ev_grey_sync;
static time_t		 grey_now;	/* of the replay */
static size_t		 grey_dropped;	/* ... records it dropped */

static void
grey_params(struct grey_params *gp)
{
	gp->delay = conf->greylist_delay;
	gp->expire = conf->greylist_expire;
	gp->wl_expire = conf->greylist_wl_expire;
}

/* At start and after a reload: load the state, or drop it. */
void
queue_grey_init(void)
{
	struct timeval	 tv = { GREY_PRUNE, 0 };

	if (!conf->greylist) {
		if (grey != NULL) {
			grey_close();
			log_info("greylist: off");
		}
		return;
	}
	if (grey != NULL)
		return;		/* the new durations apply from now */
	grey = greylist_new(GREY_MAX);
	grey_load();
	evtimer_set(&ev_grey, grey_timer, NULL);
	evtimer_set(&ev_grey_sync, grey_sync, NULL);
	evtimer_add(&ev_grey, &tv);
}

static void
grey_close(void)
{
	evtimer_del(&ev_grey);
	if (evtimer_pending(&ev_grey_sync, NULL)) {
		evtimer_del(&ev_grey_sync);
		grey_sync(-1, 0, NULL);
	}
	if (grey_fd != -1)
		close(grey_fd);
	grey_fd = -1;
	greylist_free(grey);
	grey = NULL;
	sodium_memzero(grey_secret, sizeof(grey_secret));
}

size_t
queue_grey_count(void)
{
	return grey != NULL ? greylist_count(grey) : 0;
}

/* The file into memory (util.c's read_fd), a regular file only. */
static char *
grey_read(int fd, size_t *lenp)
{
	struct stat	 sb;
	char		*buf;

	if (fstat(fd, &sb) == -1) {
		log_warn("greylist: fstat %s", GREY_FILE);
		return NULL;
	}
	if (!S_ISREG(sb.st_mode)) {
		log_warnx("greylist: %s is not a regular file", GREY_FILE);
		return NULL;
	}
	if ((buf = read_fd(fd, GREY_FILE_MAX, lenp)) == NULL)
		log_warn("greylist: read %s (at most %d bytes): starting "
		    "afresh", GREY_FILE, GREY_FILE_MAX);
	return buf;
}

static void
grey_replay(const struct grey_rec *r, void *arg)
{
	struct grey_params	*gp = arg;

	if (greylist_replay(grey, r, grey_now, gp) == 0)
		grey_dropped++;
}

/*
 * Read the file back: its secret, then every line in order.  Whatever
 * cannot be read is logged and left out; the file is then rewritten
 * from what was read.  A file with no usable header starts afresh.
 */
static void
grey_load(void)
{
	struct grey_params	 gp;
	struct grey_load	 ld;
	char			*buf = NULL;
	size_t			 len = 0;
	int			 fd;

	grey_params(&gp);
	grey_now = time(NULL);
	grey_dropped = 0;
	grey_lines = 0;
	memset(&ld, 0, sizeof(ld));
	if ((fd = open(GREY_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			log_warn("greylist: %s", GREY_FILE);
	} else {
		buf = grey_read(fd, &len);
		close(fd);
	}
	if (buf != NULL) {
		(void)greylist_file_parse(buf, len, grey_secret, grey_replay,
		    &gp, &ld);
		sodium_memzero(buf, len);
		free(buf);
	}
	if (buf != NULL && !ld.header)
		log_warnx("greylist: %s is not a greylist file (line 1): "
		    "starting afresh", GREY_FILE);
	else if (ld.bad > 0)
		log_warnx("greylist: %s: %zu unreadable line%s (the first: "
		    "line %d) left out", GREY_FILE, ld.bad, ld.bad == 1 ? "" :
		    "s", ld.firstbad);
	if (ld.truncated)
		log_warnx("greylist: %s: its last line is cut short: left out",
		    GREY_FILE);
	if (!ld.header)
		compat_random(grey_secret, sizeof(grey_secret));
	log_info("greylist: on, %zu entr%s from %s (%zu expired)",
	    greylist_count(grey), greylist_count(grey) == 1 ? "y" : "ies",
	    GREY_FILE, grey_dropped);
	grey_lines = ld.records;
	if (!ld.header || ld.bad > 0 || ld.truncated ||
	    grey_lines > 2 * greylist_count(grey) + GREY_SLACK) {
		grey_rewrite = 1;
		(void)grey_compact();
		return;
	}
	if ((grey_fd = open(GREY_FILE, O_WRONLY | O_APPEND | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		log_warn("greylist: %s", GREY_FILE);
		grey_rewrite = 1;
	}
}

static void
grey_flush(struct grey_out *o)
{
	if (o->len > 0 && !o->error &&
	    write_full(o->fd, o->buf, o->len) == -1)
		o->error = errno;
	o->len = 0;
}

static void
grey_put(const struct grey_rec *r, void *arg)
{
	struct grey_out	*o = arg;
	size_t		 n;

	if (sizeof(o->buf) - o->len < GREY_LINE_MAX)
		grey_flush(o);
	if ((n = greylist_rec_format(r, o->buf + o->len,
	    sizeof(o->buf) - o->len)) == 0)
		fatalx("greylist: a record does not fit a line");
	o->len += n;
	o->lines++;
}

/*
 * The live entries into a new file, which replaces the old one only
 * once it is on disk: a crash leaves one or the other, whole.
 */
static int
grey_compact(void)
{
	struct grey_out	*o;
	int		 dfd, rv = -1;

	if ((o = calloc(1, sizeof(*o))) == NULL)
		fatal("calloc");
	if ((o->fd = open(GREY_TMP, O_WRONLY | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		log_warn("greylist: %s", GREY_TMP);
		goto done;
	}
	if ((o->len = greylist_header_format(grey_secret, o->buf,
	    sizeof(o->buf))) == 0)
		fatalx("greylist: header");
	greylist_walk(grey, grey_put, o);
	grey_flush(o);
	sodium_memzero(o->buf, sizeof(o->buf));
	if (o->error != 0 || fsync(o->fd) == -1) {
		if (o->error != 0)
			errno = o->error;
		log_warn("greylist: write %s", GREY_TMP);
		goto fail;
	}
	if (close(o->fd) == -1) {
		o->fd = -1;
		log_warn("greylist: close %s", GREY_TMP);
		goto fail;
	}
	o->fd = -1;
	if (rename(GREY_TMP, GREY_FILE) == -1) {
		log_warn("greylist: rename %s to %s", GREY_TMP, GREY_FILE);
		goto fail;
	}
	if ((dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		if (fsync(dfd) == -1)
			log_warn("greylist: fsync of the spool directory");
		close(dfd);
	}
	if (grey_fd != -1)
		close(grey_fd);
	if ((grey_fd = open(GREY_FILE, O_WRONLY | O_APPEND | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		log_warn("greylist: %s", GREY_FILE);
		goto done;
	}
	grey_lines = o->lines;
	grey_rewrite = 0;
	grey_warned = 0;
	log_debug("greylist: %s rewritten, %zu entries", GREY_FILE,
	    o->lines);
	rv = 0;
	goto done;
 fail:
	if (o->fd != -1)
		close(o->fd);
	(void)unlink(GREY_TMP);
 done:
	free(o);
	return rv;
}

/*
 * Records of a decision, appended; synced within a second.  A write
 * that fails may have left part of a line: nothing more is appended
 * until a compaction has rewritten the file.
 */
static void
grey_append(const struct grey_rec *recs, size_t n)
{
	struct timeval	 tv = { 1, 0 };
	char		 buf[2 * GREY_LINE_MAX];
	size_t		 i, len = 0, k;

	if (grey_fd == -1 || grey_rewrite) {
		grey_rewrite = 1;
		return;		/* the timer tries a compaction */
	}
	for (i = 0; i < n && i < 2; i++) {
		if ((k = greylist_rec_format(&recs[i], buf + len,
		    sizeof(buf) - len)) == 0)
			fatalx("greylist: a record does not fit a line");
		len += k;
	}
	if (write_full(grey_fd, buf, len) == -1) {
		if (!grey_warned++)
			log_warn("greylist: write %s", GREY_FILE);
		close(grey_fd);
		grey_fd = -1;
		grey_rewrite = 1;
		return;
	}
	grey_lines += i;
	if (grey_lines > 2 * greylist_count(grey) + GREY_SLACK)
		(void)grey_compact();
	else if (!evtimer_pending(&ev_grey_sync, NULL))
		evtimer_add(&ev_grey_sync, &tv);
}

static void
grey_sync(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	if (grey_fd != -1 && fsync(grey_fd) == -1 && !grey_warned++)
		log_warn("greylist: fsync %s", GREY_FILE);
}

/* Every minute: forget what expired, rewrite the file if it pays. */
static void
grey_timer(int fd, short ev, void *arg)
{
	struct timeval		 tv = { GREY_PRUNE, 0 };
	struct grey_params	 gp;
	size_t			 n;

	(void)fd;
	(void)ev;
	(void)arg;
	grey_params(&gp);
	if ((n = greylist_prune(grey, time(NULL), &gp)) > 0)
		log_debug("greylist: %zu expired", n);
	if (grey_rewrite || grey_lines > 2 * greylist_count(grey) +
	    GREY_SLACK)
		(void)grey_compact();
	evtimer_add(&ev_grey, &tv);
}

/* IMSG_Q_GREYLIST: smtp asks about a recipient; the verdict goes back. */
void
queue_grey_check(struct ipc_msg *m)
{
	struct sockaddr_storage	 ss;
	struct mailaddr		 sender, rcpt;
	struct grey_params	 gp;
	struct grey_rec		 recs[2];
	struct ipc_buf		 b;
	uint8_t			 tkey[GREY_KEYLEN], pkey[GREY_KEYLEN];
	uint64_t		 reqid;
	size_t			 n = 0;
	time_t			 secs = 0;
	uint32_t		 v = GREY_OFF;

	reqid = ipc_get_u64(m);
	ipc_get_sockaddr(m, &ss);
	ipc_get_addr(m, &sender);
	ipc_get_addr(m, &rcpt);
	ipc_end(m);
	if (grey != NULL &&
	    greylist_triplet_key(grey_secret, &ss, &sender, &rcpt,
	    tkey) == 0 &&
	    greylist_pair_key(grey_secret, &ss, &sender, pkey) == 0) {
		grey_params(&gp);
		v = greylist_check(grey, tkey, pkey, time(NULL), &gp, recs,
		    &n, &secs);
		if (n > 0)
			grey_append(recs, n);
	}
	ipc_buf_init(&b);
	ipc_add_u64(&b, reqid);
	ipc_add_u32(&b, v);
	ipc_add_u32(&b, secs < 0 ? 0 : secs > UINT32_MAX ? UINT32_MAX :
	    (uint32_t)secs);
	proc_send_buf(PROC_SMTP, IMSG_Q_GREYLIST_RES, -1, &b);
}
