/*
 * Portability layer: BSD string functions, pledge/unveil (no-ops outside
 * OpenBSD), setproctitle, no_new_privs, peer credentials.
 */
#include <sys/types.h>
#include <sys/socket.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "compat.h"

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
