/*
 * Small helpers shared by the spool, Maildir delivery and the process
 * plumbing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maild.h"

/* Write all of buf, retrying short writes and EINTR; 0 or -1. */
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
