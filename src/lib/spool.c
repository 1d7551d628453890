/*
 * The queue's durable store.  A message is received into
 * incoming/<msgid>/message; committing it writes one envelope file per
 * destination beside it, fsyncs everything and renames the directory
 * into queue/, which is the moment it becomes durable (and the moment
 * the client may be told 250).  At start-up incoming/ is purged and
 * queue/ is walked to reschedule every envelope; what cannot be parsed
 * goes to corrupt/.  All paths are relative to the current directory.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope.h"
#include "maild.h"
#include "spool.h"
#include "util.h"

#define SPOOL_INCOMING	"incoming"
#define SPOOL_QUEUE	"queue"
#define SPOOL_CORRUPT	"corrupt"
#define SPOOL_MESSAGE	"message"
#define SPOOL_ENV_MAX	16384	/* largest envelope file we read */
#define SPOOL_RM_DEPTH	4	/* incoming/<msgid>/file is depth 2 */
#define SPOOL_TRIES	100	/* msgid picks before giving up */
#define CORRUPT_NAME	64	/* longest name kept in corrupt/ */

static int	 spool_mkdir(const char *);
static int	 fsync_dir(const char *);
static int	 rm_tree_at(int, const char *, int);
static int	 purge_dir(const char *);
static int	 ishex(const char *, size_t);
static int	 dir_names(int, char ***, size_t *);
static void	 free_names(char **, size_t);
static void	 safe_name(const char *, char *, size_t);
static void	 corrupt_move(int, const char *, const char *, const char *,
		    const char *);
static int	 env_write(const char *, const struct envelope *, int);
static void	 env_unlink(const char *, uint32_t, const struct envelope *,
		    size_t);
static int	 commit_prepare(uint32_t, int, const struct envelope *,
		    size_t);
static void	 commit_unqueue(uint32_t, const struct envelope *, size_t);
static int	 commit(size_t, const uint32_t *, const int *,
		    struct envelope *const *, const size_t *, int *, int);
static int	 env_read(int, const char *, struct envelope *, char *,
		    size_t);
static void	 walk_msg(const char *, void (*)(struct envelope *, void *),
		    void *);

/* mkdir 0700 unless it exists as a directory. */
static int
spool_mkdir(const char *path)
{
	struct stat	 sb;

	if (mkdir(path, 0700) == 0)
		return 0;
	if (errno != EEXIST) {
		log_warn("mkdir %s", path);
		return -1;
	}
	if (lstat(path, &sb) == -1) {
		log_warn("stat %s", path);
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		log_warnx("%s: not a directory", path);
		return -1;
	}
	return 0;
}

static int
fsync_dir(const char *path)
{
	int	 fd, r;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn("open %s", path);
		return -1;
	}
	if ((r = fsync(fd)) == -1)
		log_warn("fsync %s", path);
	close(fd);
	return r;
}

/*
 * Remove name (relative to dfd) and, if it is a directory, what it
 * holds; symbolic links are removed, never followed.  The depth bound
 * keeps a hostile tree from exhausting descriptors or the stack.
 */
static int
rm_tree_at(int dfd, const char *name, int depth)
{
	struct stat	 sb;
	char		**names;
	size_t		 i, n;
	int		 fd, r = 0;

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(sb.st_mode))
		return unlinkat(dfd, name, 0) == -1 && errno != ENOENT ?
		    -1 : 0;
	if (depth <= 0) {
		errno = ELOOP;
		return -1;
	}
	if ((fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return -1;
	if (dir_names(fd, &names, &n) == -1) {
		close(fd);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (rm_tree_at(fd, names[i], depth - 1) == -1)
			r = -1;
	free_names(names, n);
	close(fd);
	if (r == 0 && unlinkat(dfd, name, AT_REMOVEDIR) == -1 &&
	    errno != ENOENT)
		r = -1;
	return r;
}

/* Remove everything inside the directory path, keep the directory. */
static int
purge_dir(const char *path)
{
	char	**names;
	size_t	  i, n;
	int	  fd, r = 0;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn("open %s", path);
		return -1;
	}
	if (dir_names(fd, &names, &n) == -1) {
		log_warn("read %s", path);
		close(fd);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (rm_tree_at(fd, names[i], SPOOL_RM_DEPTH) == -1) {
			log_warn("remove %s/%s", path, names[i]);
			r = -1;
		}
	}
	free_names(names, n);
	close(fd);
	return r;
}

/* 1 if s is exactly len lowercase hex digits (the names we create). */
static int
ishex(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[len] == '\0';
}

/*
 * The names in directory dfd (without "." and ".."), read in full
 * before the caller renames or removes any of them: changing a
 * directory while reading it may skip entries.
 */
static int
dir_names(int dfd, char ***namesp, size_t *np)
{
	DIR		 *dir;
	struct dirent	 *de;
	char		**names = NULL, **tmp;
	size_t		  n = 0, cap = 0;
	int		  fd;

	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(dir)) == NULL)
			break;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((tmp = reallocarray(names, cap,
			    sizeof(*names))) == NULL)
				fatal("reallocarray");
			names = tmp;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			fatal("strdup");
		n++;
	}
	if (errno != 0) {
		free_names(names, n);
		closedir(dir);
		return -1;
	}
	closedir(dir);
	*namesp = names;
	*np = n;
	return 0;
}

static void
free_names(char **names, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* A bounded, printable version of a hostile name, for logs and corrupt/. */
static void
safe_name(const char *name, char *buf, size_t len)
{
	size_t	 i;

	for (i = 0; name[i] != '\0' && i + 1 < len && i < CORRUPT_NAME; i++) {
		if ((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') ||
		    name[i] == '-' || name[i] == '_' ||
		    (name[i] == '.' && i > 0))
			buf[i] = name[i];
		else
			buf[i] = '_';
	}
	buf[i] = '\0';
}

/*
 * Move name (relative to dfd, shown as where/name) to corrupt/<base>,
 * or base.N when that is taken, so an operator can look at it; never
 * replace what is already there.
 */
static void
corrupt_move(int dfd, const char *where, const char *name, const char *base,
    const char *why)
{
	struct stat	 sb;
	char		 safe[CORRUPT_NAME + 1], target[PATH_MAX];
	int		 i, r;

	safe_name(base, safe, sizeof(safe));
	for (i = 0; i < 100; i++) {
		if (i == 0)
			r = snprintf(target, sizeof(target), "%s/%s",
			    SPOOL_CORRUPT, safe);
		else
			r = snprintf(target, sizeof(target), "%s/%s.%d",
			    SPOOL_CORRUPT, safe, i);
		if (r < 0 || (size_t)r >= sizeof(target))
			break;
		if (lstat(target, &sb) == -1 && errno == ENOENT) {
			if (renameat(dfd, name, AT_FDCWD, target) == -1)
				break;
			safe_name(name, safe, sizeof(safe));
			log_warnx("%s/%s: %s, moved to %s", where, safe, why,
			    target);
			return;
		}
	}
	safe_name(name, safe, sizeof(safe));
	log_warn("%s/%s: %s, cannot move it to %s/", where, safe, why,
	    SPOOL_CORRUPT);
}

int
spool_init(void)
{
	if (spool_mkdir(SPOOL_INCOMING) == -1 ||
	    spool_mkdir(SPOOL_QUEUE) == -1 ||
	    spool_mkdir(SPOOL_CORRUPT) == -1)
		return -1;
	/* Nothing in incoming/ was ever acknowledged. */
	return purge_dir(SPOOL_INCOMING);
}

int
spool_msg_create(uint32_t *msgidp)
{
	struct stat	 sb;
	char		 dir[PATH_MAX], path[PATH_MAX];
	uint32_t	 msgid;
	int		 fd, i;

	for (i = 0; i < SPOOL_TRIES; i++) {
		compat_random(&msgid, sizeof(msgid));
		if (msgid == 0)
			continue;
		(void)snprintf(path, sizeof(path), "%s/%08x", SPOOL_QUEUE,
		    msgid);
		if (lstat(path, &sb) == 0)
			continue;
		if (errno != ENOENT) {
			log_warn("stat %s", path);
			return -1;
		}
		(void)snprintf(dir, sizeof(dir), "%s/%08x", SPOOL_INCOMING,
		    msgid);
		if (mkdir(dir, 0700) == -1) {
			if (errno == EEXIST)
				continue;
			log_warn("mkdir %s", dir);
			return -1;
		}
		(void)snprintf(path, sizeof(path), "%s/%08x/%s",
		    SPOOL_INCOMING, msgid, SPOOL_MESSAGE);
		if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600)) == -1) {
			log_warn("open %s", path);
			(void)rmdir(dir);
			return -1;
		}
		*msgidp = msgid;
		return fd;
	}
	log_warnx("no free message id after %d tries", SPOOL_TRIES);
	return -1;
}

void
spool_msg_abort(uint32_t msgid)
{
	char	 name[16];
	int	 dfd;

	(void)snprintf(name, sizeof(name), "%08x", msgid);
	if ((dfd = open(SPOOL_INCOMING, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		log_warn("open %s", SPOOL_INCOMING);
		return;
	}
	if (rm_tree_at(dfd, name, SPOOL_RM_DEPTH) == -1)
		log_warn("remove %s/%s", SPOOL_INCOMING, name);
	close(dfd);
}

/* An O_RDONLY fd of the body of a message being received. */
int
spool_msg_read(uint32_t msgid)
{
	char	 path[PATH_MAX];

	(void)snprintf(path, sizeof(path), "%s/%08x/%s", SPOOL_INCOMING,
	    msgid, SPOOL_MESSAGE);
	return open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}

/* A new, empty body beside it, for spool_msg_replace(). */
int
spool_msg_edit(uint32_t msgid)
{
	char	 path[PATH_MAX];

	(void)snprintf(path, sizeof(path), "%s/%08x/%s.edit",
	    SPOOL_INCOMING, msgid, SPOOL_MESSAGE);
	return open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
}

/*
 * The edited body becomes the message (ok), or is thrown away.  The
 * commit fsyncs the new body and the directory it moves.
 */
int
spool_msg_replace(uint32_t msgid, int ok)
{
	char	 from[PATH_MAX], to[PATH_MAX];

	(void)snprintf(to, sizeof(to), "%s/%08x/%s", SPOOL_INCOMING, msgid,
	    SPOOL_MESSAGE);
	(void)snprintf(from, sizeof(from), "%s/%08x/%s.edit", SPOOL_INCOMING,
	    msgid, SPOOL_MESSAGE);
	if (!ok) {
		(void)unlink(from);
		return 0;
	}
	if (rename(from, to) == -1) {
		log_warn("rename %s", from);
		(void)unlink(from);
		return -1;
	}
	return 0;
}

/*
 * Write one envelope file and fsync it.  excl: the name must be new
 * (commit); otherwise a leftover is truncated (a .tmp of an update).
 */
static int
env_write(const char *path, const struct envelope *evp, int excl)
{
	char	 buf[SPOOL_ENV_MAX];
	int	 fd, len, flags;

	if ((len = envelope_dump(evp, buf, sizeof(buf))) < 0 ||
	    (size_t)len > sizeof(buf)) {
		log_warnx("%s: envelope does not fit in %d bytes", path,
		    SPOOL_ENV_MAX);
		return -1;
	}
	flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
	    (excl ? O_EXCL : O_TRUNC);
	if ((fd = open(path, flags, 0600)) == -1) {
		log_warn("open %s", path);
		return -1;
	}
	if (write_full(fd, buf, len) == -1) {
		log_warn("write %s", path);
		goto fail;
	}
	if (fsync(fd) == -1) {
		log_warn("fsync %s", path);
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		log_warn("close %s", path);
		goto fail;
	}
	return 0;
 fail:
	if (fd != -1)
		close(fd);
	(void)unlink(path);
	return -1;
}

/* Remove the first n envelope files of msgid under dir (undo). */
static void
env_unlink(const char *dir, uint32_t msgid, const struct envelope *evps,
    size_t n)
{
	char	 path[PATH_MAX];
	size_t	 k;

	for (k = 0; k < n; k++) {
		(void)snprintf(path, sizeof(path), "%s/%08x/%016llx", dir,
		    msgid, (unsigned long long)evps[k].id);
		if (unlink(path) == -1 && errno != ENOENT)
			log_warn("unlink %s", path);
	}
}

/*
 * First half of a commit, in incoming/<msgid>: the body, every
 * envelope and the directory itself reach the disk.  On failure what
 * was written is removed again and the message stays in incoming/.
 */
static int
commit_prepare(uint32_t msgid, int fd, const struct envelope *evps,
    size_t nevp)
{
	char	 path[PATH_MAX];
	size_t	 k = 0;

	if (nevp == 0) {
		log_warnx("message %08x: no envelopes to commit", msgid);
		return -1;
	}
	if (fsync(fd) == -1) {
		log_warn("message %08x: fsync", msgid);
		return -1;
	}
	for (k = 0; k < nevp; k++) {
		if (evpid_msgid(evps[k].id) != msgid) {
			log_warnx("message %08x: envelope %016llx belongs to "
			    "another message", msgid,
			    (unsigned long long)evps[k].id);
			goto fail;
		}
		(void)snprintf(path, sizeof(path), "%s/%08x/%016llx",
		    SPOOL_INCOMING, msgid, (unsigned long long)evps[k].id);
		if (env_write(path, &evps[k], 1) == -1)
			goto fail;
	}
	(void)snprintf(path, sizeof(path), "%s/%08x", SPOOL_INCOMING, msgid);
	if (fsync_dir(path) == -1)
		goto fail;
	return 0;
 fail:
	env_unlink(SPOOL_INCOMING, msgid, evps, k);
	return -1;
}

/*
 * Take back a message already renamed into queue/: its envelopes go
 * first, so that even if it cannot be moved back (or a crash undoes
 * the move) the start-up walk finds no envelope and removes it.
 */
static void
commit_unqueue(uint32_t msgid, const struct envelope *evps, size_t nevp)
{
	char	 from[PATH_MAX], to[PATH_MAX];

	env_unlink(SPOOL_QUEUE, msgid, evps, nevp);
	(void)snprintf(from, sizeof(from), "%s/%08x", SPOOL_QUEUE, msgid);
	(void)snprintf(to, sizeof(to), "%s/%08x", SPOOL_INCOMING, msgid);
	if (rename(from, to) == -1) {
		log_warn("rename %s to %s", from, to);
		if (rm_tree_at(AT_FDCWD, from, SPOOL_RM_DEPTH) == -1)
			log_warn("remove %s", from);
	}
}

/*
 * status[i]: -1 failed, 0 prepared in incoming/, 1 renamed into
 * queue/ (reported as 0).  all: one failure fails the whole batch.
 */
static int
commit(size_t n, const uint32_t *msgids, const int *fds,
    struct envelope *const *evps, const size_t *nevp, int *status, int all)
{
	char	 from[PATH_MAX], to[PATH_MAX];
	size_t	 i, failed = 0, renamed = 0;

	for (i = 0; i < n; i++) {
		status[i] = commit_prepare(msgids[i], fds[i], evps[i],
		    nevp[i]);
		if (status[i] == -1)
			failed++;
	}
	if (all && failed > 0)
		goto undo;
	for (i = 0; i < n; i++) {
		if (status[i] == -1)
			continue;
		(void)snprintf(from, sizeof(from), "%s/%08x", SPOOL_INCOMING,
		    msgids[i]);
		(void)snprintf(to, sizeof(to), "%s/%08x", SPOOL_QUEUE,
		    msgids[i]);
		if (rename(from, to) == -1) {
			log_warn("rename %s to %s", from, to);
			env_unlink(SPOOL_INCOMING, msgids[i], evps[i],
			    nevp[i]);
			status[i] = -1;
			failed++;
			if (all)
				goto undo;
			continue;
		}
		status[i] = 1;
		renamed++;
	}
	/*
	 * One fsync of queue/ makes every rename of the batch durable
	 * (group commit); incoming/ loses the entries in the same step.
	 */
	if (renamed > 0 && (fsync_dir(SPOOL_QUEUE) == -1 ||
	    fsync_dir(SPOOL_INCOMING) == -1))
		goto undo;
	for (i = 0; i < n; i++)
		if (status[i] == 1)
			status[i] = 0;
	return failed > 0 ? -1 : 0;
 undo:
	for (i = 0; i < n; i++) {
		if (status[i] == 1)
			commit_unqueue(msgids[i], evps[i], nevp[i]);
		else if (status[i] == 0)
			env_unlink(SPOOL_INCOMING, msgids[i], evps[i],
			    nevp[i]);
		status[i] = -1;
	}
	return -1;
}

/*
 * All or nothing: 0 when every message is durable in queue/; -1 when
 * none is, every message then being back in incoming/ with its body
 * and without envelopes, for the caller to spool_msg_abort().
 */
int
spool_commit(size_t n, const uint32_t *msgids, const int *fds,
    struct envelope *const *evps, const size_t *nevp)
{
	int	*status;
	int	 r;

	if (n == 0)
		return 0;
	if ((status = calloc(n, sizeof(*status))) == NULL)
		fatal("calloc");
	r = commit(n, msgids, fds, evps, nevp, status, 1);
	free(status);
	return r;
}

/*
 * Per message: a group commit serves several SMTP sessions, and one
 * session's failure (its body's fsync) must not fail the others.
 * status[i] is 0 when message i is durable in queue/, -1 when it is
 * back in incoming/ as after spool_commit() failed.  Returns 0 when
 * every message succeeded, -1 otherwise.
 */
int
spool_commit_status(size_t n, const uint32_t *msgids, const int *fds,
    struct envelope *const *evps, const size_t *nevp, int *status)
{
	return commit(n, msgids, fds, evps, nevp, status, 0);
}

/*
 * Replace an envelope atomically.  The directory is not fsynced: after
 * a crash the previous version comes back, which costs a retry count,
 * never a message.
 */
int
spool_env_update(const struct envelope *evp)
{
	struct stat	 sb;
	char		 path[PATH_MAX], tmp[PATH_MAX];

	(void)snprintf(path, sizeof(path), "%s/%08x/%016llx", SPOOL_QUEUE,
	    evpid_msgid(evp->id), (unsigned long long)evp->id);
	(void)snprintf(tmp, sizeof(tmp), "%s/%08x/%016llx.tmp", SPOOL_QUEUE,
	    evpid_msgid(evp->id), (unsigned long long)evp->id);
	/* Never bring back an envelope that was removed. */
	if (lstat(path, &sb) == -1) {
		log_warn("update %s", path);
		return -1;
	}
	if (env_write(tmp, evp, 0) == -1)
		return -1;
	if (rename(tmp, path) == -1) {
		log_warn("rename %s", tmp);
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

/*
 * Remove a delivered (or bounced) envelope, and the message with the
 * last one.  Not fsynced: if a crash brings the envelope back, the
 * message is delivered twice, never lost.
 */
int
spool_env_remove(uint64_t evpid)
{
	char		 dir[PATH_MAX], path[PATH_MAX];
	char		**names;
	size_t		  i, n, left = 0;
	int		  dfd;

	(void)snprintf(dir, sizeof(dir), "%s/%08x", SPOOL_QUEUE,
	    evpid_msgid(evpid));
	(void)snprintf(path, sizeof(path), "%s/%08x/%016llx", SPOOL_QUEUE,
	    evpid_msgid(evpid), (unsigned long long)evpid);
	if (unlink(path) == -1) {
		log_warn("unlink %s", path);
		return -1;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		log_warn("open %s", dir);
		return 0;
	}
	if (dir_names(dfd, &names, &n) == -1) {
		log_warn("read %s", dir);
		close(dfd);
		return 0;
	}
	for (i = 0; i < n; i++)
		if (ishex(names[i], 16))
			left++;
	if (left == 0) {
		for (i = 0; i < n; i++) {
			if (strcmp(names[i], SPOOL_MESSAGE) != 0 &&
			    (strlen(names[i]) <= 4 || strcmp(names[i] +
			    strlen(names[i]) - 4, ".tmp") != 0))
				continue;
			if (unlinkat(dfd, names[i], 0) == -1)
				log_warn("unlink %s/%s", dir, names[i]);
		}
		/* A stray file keeps the directory; the walk moves it. */
		if (rmdir(dir) == -1)
			log_warn("rmdir %s", dir);
	}
	free_names(names, n);
	close(dfd);
	return 0;
}

int
spool_msg_open(uint32_t msgid)
{
	char	 path[PATH_MAX];
	int	 fd;

	(void)snprintf(path, sizeof(path), "%s/%08x/%s", SPOOL_QUEUE, msgid,
	    SPOOL_MESSAGE);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		log_warn("open %s", path);
	return fd;
}

/*
 * Read and parse one envelope file: 0, -1 when it is bad (reason in
 * err), -2 when it could not be read for a reason that may pass (it
 * stays where it is).
 */
static int
env_read(int dfd, const char *name, struct envelope *evp, char *err,
    size_t errlen)
{
	struct stat	 sb;
	char		 buf[SPOOL_ENV_MAX + 2];
	size_t		 len = 0;
	ssize_t		 r;
	int		 fd;

	if ((fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) == -1) {
		(void)snprintf(err, errlen, "open: %s", strerror(errno));
		return errno == ELOOP ? -1 : -2;
	}
	if (fstat(fd, &sb) == -1) {
		(void)snprintf(err, errlen, "fstat: %s", strerror(errno));
		close(fd);
		return -2;
	}
	if (!S_ISREG(sb.st_mode)) {
		(void)snprintf(err, errlen, "not a regular file");
		close(fd);
		return -1;
	}
	while (len < SPOOL_ENV_MAX + 1) {
		if ((r = read(fd, buf + len, SPOOL_ENV_MAX + 1 - len)) == -1) {
			if (errno == EINTR)
				continue;
			(void)snprintf(err, errlen, "read: %s",
			    strerror(errno));
			close(fd);
			return -2;
		}
		if (r == 0)
			break;
		len += r;
	}
	close(fd);
	if (len > SPOOL_ENV_MAX) {
		(void)snprintf(err, errlen, "larger than %d bytes",
		    SPOOL_ENV_MAX);
		return -1;
	}
	buf[len] = '\0';
	memset(evp, 0, sizeof(*evp));
	if (envelope_load(evp, buf, len, err, errlen) == -1)
		return -1;
	return 0;
}

/* One queue/<name> directory; name is 8 hex digits. */
static void
walk_msg(const char *name, void (*cb)(struct envelope *, void *), void *arg)
{
	struct envelope	 evp;
	struct stat	 sb;
	char		 where[PATH_MAX], err[ERRMSG_MAX], base[32];
	char		**names;
	size_t		  i, n, len, good = 0, bad = 0, kept = 0;
	uint64_t	  id;
	uint32_t	  msgid;
	int		  dfd, hasmsg = 0, r;

	msgid = (uint32_t)strtoul(name, NULL, 16);
	(void)snprintf(where, sizeof(where), "%s/%s", SPOOL_QUEUE, name);
	if ((dfd = open(where, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		log_warn("open %s", where);
		return;
	}
	(void)snprintf(base, sizeof(base), "%s.%s", name, SPOOL_MESSAGE);
	if (fstatat(dfd, SPOOL_MESSAGE, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISREG(sb.st_mode))
			hasmsg = 1;
		else
			corrupt_move(dfd, where, SPOOL_MESSAGE, base,
			    "message is not a regular file");
	}
	if (dir_names(dfd, &names, &n) == -1) {
		log_warn("read %s", where);
		close(dfd);
		return;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(names[i], SPOOL_MESSAGE) == 0)
			continue;
		len = strlen(names[i]);
		if (len > 4 && strcmp(names[i] + len - 4, ".tmp") == 0) {
			/* An update interrupted by a crash. */
			if (unlinkat(dfd, names[i], 0) == -1)
				corrupt_move(dfd, where, names[i], names[i],
				    "cannot remove temporary file");
			continue;
		}
		if (!ishex(names[i], 16)) {
			corrupt_move(dfd, where, names[i], names[i],
			    "not an envelope");
			bad++;
			continue;
		}
		id = strtoull(names[i], NULL, 16);
		if ((r = env_read(dfd, names[i], &evp, err,
		    sizeof(err))) == -2) {
			log_warnx("%s/%s: %s, left in place", where, names[i],
			    err);
			kept++;
			continue;
		}
		if (r == 0 && evp.id != id) {
			(void)snprintf(err, sizeof(err), "envelope id %016llx "
			    "does not match the file name",
			    (unsigned long long)evp.id);
			r = -1;
		}
		if (r == 0 && evpid_msgid(id) != msgid) {
			(void)snprintf(err, sizeof(err), "envelope of "
			    "another message");
			r = -1;
		}
		if (r == 0 && !hasmsg) {
			(void)snprintf(err, sizeof(err), "no message file");
			r = -1;
		}
		if (r == -1) {
			corrupt_move(dfd, where, names[i], names[i], err);
			bad++;
			continue;
		}
		good++;
		cb(&evp, arg);
	}
	free_names(names, n);
	if (good == 0 && kept == 0) {
		/*
		 * Normally a crash after the last delivery.  If only bad
		 * envelopes were here, keep the body beside them.
		 */
		if (hasmsg && bad > 0)
			corrupt_move(dfd, where, SPOOL_MESSAGE, base,
			    "message without valid envelopes");
		else if (hasmsg && unlinkat(dfd, SPOOL_MESSAGE, 0) == -1)
			log_warn("unlink %s/%s", where, SPOOL_MESSAGE);
		if (rmdir(where) == -1)
			log_warn("rmdir %s", where);
		else
			log_debug("%s: no envelopes left, removed", where);
	}
	close(dfd);
}

/*
 * Start-up: hand every committed envelope to cb (the pointer is valid
 * during the call only), clean up after crashes, move what is bad to
 * corrupt/.  0, or -1 when queue/ cannot be read.
 */
int
spool_walk(void (*cb)(struct envelope *, void *), void *arg)
{
	struct stat	 sb;
	char		**names;
	size_t		  i, n;
	int		  dfd;

	if ((dfd = open(SPOOL_QUEUE, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		log_warn("open %s", SPOOL_QUEUE);
		return -1;
	}
	if (dir_names(dfd, &names, &n) == -1) {
		log_warn("read %s", SPOOL_QUEUE);
		close(dfd);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (!ishex(names[i], 8)) {
			corrupt_move(dfd, SPOOL_QUEUE, names[i], names[i],
			    "not a message directory");
			continue;
		}
		if (fstatat(dfd, names[i], &sb, AT_SYMLINK_NOFOLLOW) == -1) {
			log_warn("stat %s/%s", SPOOL_QUEUE, names[i]);
			continue;
		}
		if (!S_ISDIR(sb.st_mode)) {
			corrupt_move(dfd, SPOOL_QUEUE, names[i], names[i],
			    "not a directory");
			continue;
		}
		walk_msg(names[i], cb, arg);
	}
	free_names(names, n);
	close(dfd);
	return 0;
}
