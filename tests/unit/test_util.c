/*
 * Unit tests for util.c: write_full() and the bounded read_fd(), at
 * and around its limit.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maild.h"
#include "tap.h"

/* An unlinked temporary file holding len bytes of 'a', at offset 0. */
static int
file_of(size_t len)
{
	char	 path[] = "/tmp/test_util.XXXXXX";
	char	*buf;
	int	 fd;

	if ((fd = mkstemp(path)) == -1)
		fatal("mkstemp");
	unlink(path);
	if ((buf = malloc(len + 1)) == NULL)
		fatal("malloc");
	memset(buf, 'a', len);
	if (write_full(fd, buf, len) == -1)
		fatal("write_full");
	free(buf);
	if (lseek(fd, 0, SEEK_SET) == -1)
		fatal("lseek");
	return fd;
}

static void
check(size_t size, size_t max, int want_ok)
{
	char	*buf;
	size_t	 len = 0;
	int	 fd = file_of(size);

	errno = 0;
	buf = read_fd(fd, max, &len);
	if (want_ok)
		ok(buf != NULL && len == size && buf[len] == '\0' &&
		    (size == 0 || buf[size - 1] == 'a'),
		    "%zu bytes with max %zu: read whole", size, max);
	else
		ok(buf == NULL && errno == EFBIG,
		    "%zu bytes with max %zu: EFBIG", size, max);
	free(buf);
	close(fd);
}

int
main(void)
{
	log_init(1, 0);
	check(0, 10, 1);
	check(10, 10, 1);
	check(11, 10, 0);
	check(8190, 8190, 1);
	check(8191, 8190, 0);
	check(8192, 100000, 1);
	check(100000, 100000, 1);
	check(100001, 100000, 0);
	ok(read_fd(-1, 10, &(size_t){0}) == NULL && errno == EBADF,
	    "a bad descriptor fails with its errno");
	return done_testing();
}
