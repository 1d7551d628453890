/*
 * Small helpers shared by the spool, Maildir delivery and the process
 * plumbing.
 */
#include <errno.h>
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
