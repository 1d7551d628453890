/*
 * Portability layer: BSD string functions, pledge/unveil (no-ops outside
 * OpenBSD), setproctitle, no_new_privs, peer credentials, opening a
 * path without following symbolic links.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#if defined(__linux__) && defined(SYS_openat2) && \
    __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define HAVE_OPENAT2
#endif

#include "compat.h"

static int	 beneath_walk(int, const char *, int, mode_t);
#ifdef HAVE_OPENAT2
static int	 has_dotdot(const char *);
#endif

int	 compat_no_openat2;

#ifndef __OpenBSD__
size_t
strlcpy(char *dst, const char *src, size_t dsize)
{
	size_t	 len = strlen(src);

	if (dsize != 0) {
		size_t n = len >= dsize ? dsize - 1 : len;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

size_t
strlcat(char *dst, const char *src, size_t dsize)
{
	size_t	 dlen = strnlen(dst, dsize);

	if (dlen == dsize)
		return dlen + strlen(src);
	return dlen + strlcpy(dst + dlen, src, dsize - dlen);
}

int
pledge(const char *promises, const char *execpromises)
{
	(void)promises;
	(void)execpromises;
	return 0;
}

int
unveil(const char *path, const char *perms)
{
	(void)path;
	(void)perms;
	return 0;
}

void
setproctitle(const char *fmt, ...)
{
	(void)fmt;
}
#endif

void
compat_random(void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

void
compat_no_new_privs(void)
{
#ifdef __linux__
	(void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
#endif
}

int
compat_getpeereid(int fd, uid_t *uid, gid_t *gid)
{
#if defined(__OpenBSD__) || defined(__FreeBSD__)
	return getpeereid(fd, uid, gid);
#else
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return -1;
	*uid = cred.uid;
	*gid = cred.gid;
	return 0;
#endif
}

int
compat_path_next(const char **pp, char *comp)
{
	const char	*p = *pp;
	size_t		 len;

	len = strcspn(p, "/");
	if (len > NAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(comp, p, len);
	comp[len] = '\0';
	for (p += len; *p == '/'; p++)
		;
	*pp = p;
	return 0;
}

/*
 * Open path below dfd one component at a time, each directory with
 * O_NOFOLLOW | O_DIRECTORY, the last with O_NOFOLLOW.  A symbolic link
 * makes some systems answer ENOTDIR (Linux, O_DIRECTORY) or EMLINK
 * (FreeBSD) rather than ELOOP: the entry is looked at to say ELOOP.
 */
static int
beneath_walk(int dfd, const char *path, int flags, mode_t mode)
{
	struct stat	 st;
	char		 comp[NAME_MAX + 1];
	const char	*p = path;
	int		 cur = dfd, fd, last, saved;

	if (*p == '/') {
		errno = EXDEV;
		return -1;
	}
	if (*p == '\0') {
		errno = ENOENT;
		return -1;
	}
	for (;;) {
		if (compat_path_next(&p, comp) == -1) {
			saved = errno;
			goto fail;
		}
		last = *p == '\0';
		if (strcmp(comp, "..") == 0) {
			saved = EXDEV;
			goto fail;
		}
		if (!last && strcmp(comp, ".") == 0)
			continue;
		if (last)
			fd = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC,
			    mode);
		else
			fd = openat(cur, comp, COMPAT_O_SEARCH | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
		if (fd == -1) {
			saved = errno;
			if ((saved == ENOTDIR || saved == ELOOP ||
			    saved == EMLINK) && fstatat(cur, comp, &st,
			    AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
				saved = ELOOP;
			goto fail;
		}
		if (cur != dfd)
			close(cur);
		if (last)
			return fd;
		cur = fd;
	}
 fail:
	if (cur != dfd)
		close(cur);
	errno = saved;
	return -1;
}

#ifdef HAVE_OPENAT2
/* openat2 allows a ".." that stays below: the walk refuses every one. */
static int
has_dotdot(const char *path)
{
	const char	*p;

	for (p = path; (p = strstr(p, "..")) != NULL; p += 2)
		if ((p == path || p[-1] == '/') && (p[2] == '/' ||
		    p[2] == '\0'))
			return 1;
	return 0;
}
#endif

int
compat_open_beneath(int dfd, const char *path, int flags, mode_t mode)
{
#ifdef HAVE_OPENAT2
	struct open_how	 how;
	int		 fd, tries;

	if (!compat_no_openat2 && !has_dotdot(path)) {
		memset(&how, 0, sizeof(how));
		how.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC);
#ifdef O_LARGEFILE
		how.flags |= O_LARGEFILE;
#endif
		if (flags & O_CREAT)
			how.mode = mode;
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		    RESOLVE_NO_MAGICLINKS;
		/* EAGAIN: a concurrent rename; the kernel asks to retry. */
		for (tries = 0; tries < 3; tries++) {
			fd = syscall(SYS_openat2, dfd, path, &how,
			    sizeof(how));
			if (fd != -1 || errno != EAGAIN)
				break;
		}
		if (fd != -1)
			return fd;
		/*
		 * O_DIRECTORY on a link: ENOTDIR, not ELOOP.  The walk
		 * tells the two apart (and sees ".." as EXDEV).
		 */
		if (errno == ENOTDIR)
			return beneath_walk(dfd, path, flags, mode);
		if (errno == ENOSYS)
			compat_no_openat2 = 1;	/* kernel before 5.6 */
		else if (errno == EPERM) {
			/* Maybe a seccomp filter that does not know it. */
			if ((fd = beneath_walk(dfd, path, flags, mode)) != -1)
				compat_no_openat2 = 1;
			return fd;
		} else if (errno != EAGAIN)
			return -1;
	}
#endif
	return beneath_walk(dfd, path, flags, mode);
}
