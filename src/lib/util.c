/*
 * Small helpers shared by the spool, Maildir delivery and the process
 * plumbing, and the checks of the directories above the files the
 * parent trusts (tables, private keys).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "maild.h"
#include "util.h"

#define PATH_LINKS_MAX	32	/* symbolic links followed, as the kernel */

static int	dir_trusted(const char *, const char *, const struct stat *,
		    char *, size_t);
static const char *owners(char *, size_t);
static int	open_trusted(const char *, const char *, int, char *, size_t);

/* Write all of buf, retrying short writes and EINTR; 0 or -1. */
int64_t
mono_ms(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
write_full(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/*
 * Read a whole fd, at most max bytes, into a NUL-terminated buffer the
 * caller frees; *lenp gets the length.  NULL with errno set on error,
 * EFBIG when there is more than max.
 */
char *
read_fd(int fd, size_t max, size_t *lenp)
{
	char	*buf = NULL, *p;
	size_t	 len = 0, size = 0;
	ssize_t	 n;

	for (;;) {
		if (len + 1 >= size) {
			/* Room for max bytes, one more to see it is too big. */
			if (size >= max + 2) {
				free(buf);
				errno = EFBIG;
				return NULL;
			}
			size = size ? size * 2 : 8192;
			if (size > max + 2)
				size = max + 2;
			if ((p = realloc(buf, size)) == NULL)
				fatal("realloc");
			buf = p;
		}
		n = read(fd, buf + len, size - 1 - len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/*
 * The part of path below root (both absolute), as seen by a process
 * chrooted to root; NULL if path is not strictly inside root.
 */
const char *
path_inside(const char *root, const char *path)
{
	size_t	 len = strlen(root);

	if (strcmp(root, "/") == 0)
		return path[0] == '/' && path[1] != '\0' ? path + 1 : NULL;
	if (strncmp(path, root, len) != 0 || path[len] != '/' ||
	    path[len + 1] == '\0')
		return NULL;
	return path + len + 1;
}

/* "root", or "root or uid N" when maild runs as another user. */
static const char *
owners(char *buf, size_t len)
{
	if (geteuid() == 0)
		return "root";
	(void)snprintf(buf, len, "root or uid %lu",
	    (unsigned long)geteuid());
	return buf;
}

/*
 * Whoever may change a directory on the way to a file may put another
 * file (or link) in its place: the directory must be owned by root or
 * the running user, and not writable by group or others, unless it is
 * sticky (/tmp), where only an entry's owner may rename or remove it.
 */
static int
dir_trusted(const char *path, const char *dir, const struct stat *st,
    char *err, size_t errlen)
{
	char	 who[64];

	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		snprintf(err, errlen, "%s: directory %s is owned by uid %lu, "
		    "must be owned by %s", path, dir,
		    (unsigned long)st->st_uid, owners(who, sizeof(who)));
		return -1;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX)) {
		snprintf(err, errlen, "%s: directory %s is writable by group "
		    "or others; run chmod go-w %s", path, dir, dir);
		return -1;
	}
	return 0;
}

/*
 * Check every directory that leads to path (absolute), from / down,
 * following symbolic links as the kernel does so that each directory
 * actually passed through is checked, including the ones holding the
 * links.  The last component is the caller's (opened O_NOFOLLOW).
 * 0, or -1 with "path: why" in err.
 */
int
path_check_dirs(const char *path, char *err, size_t errlen)
{
	char		 cur[PATH_MAX], rest[PATH_MAX], next[PATH_MAX];
	char		 target[PATH_MAX], *p, *comp, *last;
	struct stat	 st;
	ssize_t		 n;
	int		 links = 0;

	if (path[0] != '/') {
		snprintf(err, errlen, "%s: not an absolute path", path);
		return -1;
	}
	/* rest: the directories still to walk, as a relative path. */
	if (strlcpy(rest, path + 1, sizeof(rest)) >= sizeof(rest))
		goto toolong;
	if ((last = strrchr(rest, '/')) != NULL)
		*last = '\0';
	else
		rest[0] = '\0';
	(void)strlcpy(cur, "/", sizeof(cur));
	if (stat("/", &st) == -1) {
		snprintf(err, errlen, "%s: /: %s", path, strerror(errno));
		return -1;
	}
	if (dir_trusted(path, "/", &st, err, errlen) == -1)
		return -1;
	p = rest;
	while (*p != '\0') {
		comp = p;
		if ((p = strchr(comp, '/')) != NULL)
			*p++ = '\0';
		else
			p = comp + strlen(comp);
		if (*comp == '\0' || strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			/* The parent of a checked directory was checked. */
			if ((last = strrchr(cur, '/')) != NULL)
				last[last == cur ? 1 : 0] = '\0';
			continue;
		}
		if (snprintf(next, sizeof(next), "%s%s%s", cur,
		    strcmp(cur, "/") == 0 ? "" : "/", comp) >=
		    (int)sizeof(next))
			goto toolong;
		if (lstat(next, &st) == -1) {
			snprintf(err, errlen, "%s: %s: %s", path, next,
			    strerror(errno));
			return -1;
		}
		if (S_ISLNK(st.st_mode)) {
			/* Its directory, cur, is checked: follow it. */
			if (++links > PATH_LINKS_MAX) {
				snprintf(err, errlen, "%s: %s", path,
				    strerror(ELOOP));
				return -1;
			}
			if ((n = readlink(next, target,
			    sizeof(target) - 1)) == -1) {
				snprintf(err, errlen, "%s: %s: %s", path,
				    next, strerror(errno));
				return -1;
			}
			target[n] = '\0';
			if (snprintf(next, sizeof(next), "%s/%s", target,
			    p) >= (int)sizeof(next))
				goto toolong;
			(void)strlcpy(rest, next, sizeof(rest));
			p = rest;
			if (target[0] == '/')
				(void)strlcpy(cur, "/", sizeof(cur));
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "%s: %s: %s", path, next,
			    strerror(ENOTDIR));
			return -1;
		}
		if (dir_trusted(path, next, &st, err, errlen) == -1)
			return -1;
		(void)strlcpy(cur, next, sizeof(cur));
	}
	return 0;
 toolong:
	snprintf(err, errlen, "%.100s...: %s", path, strerror(ENAMETOOLONG));
	return -1;
}

/*
 * Open a file the parent trusts (a table, a private key) for reading:
 * the directories above it checked by path_check_dirs(), a regular file.
 * A symbolic link is followed when its target passes the same checks
 * (certbot's live/ keys are links into archive/): only who may change a
 * directory on the way can swap a file, and those were all checked.
 * Owner and mode are the caller's to check.  fd, or -1 with "path: why"
 * in err.
 */
int
path_open_trusted(const char *path, char *err, size_t errlen)
{
	return open_trusted(path, path, 0, err, errlen);
}

static int
open_trusted(const char *name, const char *path, int links, char *err,
    size_t errlen)
{
	char		 target[PATH_MAX], next[PATH_MAX], *slash;
	struct stat	 st;
	ssize_t		 n;
	int		 fd, saved;

	if (path_check_dirs(path, err, errlen) == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) == -1) {
		saved = errno;
		if (lstat(path, &st) == -1 || !S_ISLNK(st.st_mode)) {
			snprintf(err, errlen, "%s: %s", name, strerror(saved));
			return -1;
		}
		if (++links > PATH_LINKS_MAX) {
			snprintf(err, errlen, "%s: %s", name, strerror(ELOOP));
			return -1;
		}
		if ((n = readlink(path, target, sizeof(target) - 1)) == -1) {
			snprintf(err, errlen, "%s: %s", name, strerror(errno));
			return -1;
		}
		target[n] = '\0';
		/* relative to the link's directory, already checked */
		(void)strlcpy(next, path, sizeof(next));
		if ((slash = strrchr(next, '/')) != NULL)
			slash[1] = '\0';
		if (target[0] == '/')
			next[0] = '\0';
		if (strlcat(next, target, sizeof(next)) >= sizeof(next)) {
			snprintf(err, errlen, "%s: %s", name,
			    strerror(ENAMETOOLONG));
			return -1;
		}
		if ((fd = open_trusted(name, next, links, err,
		    errlen)) == -1 && strstr(err, "symbolic link") == NULL) {
			char	 why[512];

			(void)strlcpy(why, err, sizeof(why));
			snprintf(err, errlen, "%s (a symbolic link to %s): %s",
			    name, target, why);
		}
		return fd;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: fstat: %s", name,
		    strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", name);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Length of the UTF-8 sequence at p (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) with its code point in *cp; 0 if
 * it is not one.
 */
size_t
utf8_seq(const unsigned char *p, size_t left, uint32_t *cp)
{
	unsigned char	 lo = 0x80, hi = 0xbf;
	size_t		 n, i;
	uint32_t	 c;

	if (left == 0)
		return 0;
	if (p[0] < 0x80) {
		if (cp != NULL)
			*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		c = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		c = p[0] & 0x0f;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		c = p[0] & 0x07;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (left < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 1; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (cp != NULL)
		*cp = c;
	return n;
}
