/*
 * Unit tests for util.c: write_full() and the bounded read_fd(), at
 * and around its limit; path_check_dirs() and path_open_trusted() on a
 * tree of directories and links (as root or not: the tree is the
 * running user's, below /tmp).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maild.h"
#include "tap.h"
#include "util.h"

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

static char	 top[] = "/tmp/test_util_dirs.XXXXXX";

/* Create top/rel as a directory of mode, a link to target or a file. */
static void
make(const char *rel, int kind, mode_t mode, const char *target)
{
	char	 path[PATH_MAX];
	int	 fd;

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	if (kind == 'd' && (mkdir(path, 0700) == -1 || chmod(path, mode) == -1))
		fatal("mkdir %s", path);
	if (kind == 'l' && symlink(target, path) == -1)
		fatal("symlink %s", path);
	if (kind == 'f') {
		if ((fd = open(path, O_WRONLY | O_CREAT, mode)) == -1)
			fatal("open %s", path);
		close(fd);
	}
	if (kind == 'p' && mkfifo(path, mode) == -1)
		fatal("mkfifo %s", path);
}

/* path_check_dirs(top/rel): 0, or -1 with want in the message. */
static void
dirs(const char *rel, const char *want)
{
	char	 path[PATH_MAX], err[PATH_MAX + 256];
	int	 r;

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	err[0] = '\0';
	r = path_check_dirs(path, err, sizeof(err));
	if (want == NULL)
		ok(r == 0, "%s: directories trusted (%s)", rel, err);
	else
		ok(r == -1 && strstr(err, want) != NULL &&
		    strncmp(err, path, strlen(path)) == 0,
		    "%s: refused, %s (%s)", rel, want, err);
}

static void
opens(const char *rel, const char *want)
{
	char	 path[PATH_MAX], err[PATH_MAX + 256];
	int	 fd;

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	err[0] = '\0';
	fd = path_open_trusted(path, err, sizeof(err));
	if (want == NULL)
		ok(fd != -1, "%s: opened (%s)", rel, err);
	else
		ok(fd == -1 && strstr(err, want) != NULL, "%s: not opened, %s "
		    "(%s)", rel, want, err);
	if (fd != -1)
		close(fd);
}

static void
trees(void)
{
	char	 cmd[PATH_MAX + 16];

	if (mkdtemp(top) == NULL || chmod(top, 0755) == -1)
		fatal("mkdtemp");
	make("good", 'd', 0755, NULL);
	make("good/f", 'f', 0600, NULL);
	make("good/fifo", 'p', 0600, NULL);
	make("ww", 'd', 0777, NULL);
	make("ww/f", 'f', 0600, NULL);
	make("ww/sub", 'd', 0755, NULL);
	make("ww/sub/f", 'f', 0600, NULL);
	make("sticky", 'd', 01777, NULL);
	make("sticky/f", 'f', 0600, NULL);
	make("gw", 'd', 0770, NULL);
	make("gw/f", 'f', 0600, NULL);
	make("to-good", 'l', 0, "good");
	make("to-good-abs", 'l', 0, top);
	make("dotdot", 'l', 0, "good/../good");
	make("via-ww", 'l', 0, "ww/../good");
	make("to-ww-sub", 'l', 0, "ww/sub");
	make("chain", 'l', 0, "to-good");
	make("loop", 'l', 0, "loop");
	make("dangling", 'l', 0, "nowhere");
	make("good/link-f", 'l', 0, "f");
	snprintf(cmd, sizeof(cmd), "%s/good/f", top);
	make("good/link-abs", 'l', 0, cmd);
	make("good/link-ww", 'l', 0, "../ww/sub/f");
	make("good/link-chain", 'l', 0, "link-f");
	make("good/link-loop", 'l', 0, "link-loop");
	make("ww/link-f", 'l', 0, "../good/f");

	dirs("good/f", NULL);
	dirs("sticky/f", NULL);
	dirs("to-good/f", NULL);
	dirs("to-good-abs/good/f", NULL);
	dirs("dotdot/f", NULL);
	dirs("chain/f", NULL);
	dirs("good/./../good/f", NULL);
	dirs("ww/f", "writable by group or others");
	dirs("ww/sub/f", "writable by group or others");
	dirs("gw/f", "writable by group or others");
	dirs("to-ww-sub/f", "writable by group or others");
	dirs("via-ww/f", "writable by group or others");
	dirs("loop/f", strerror(ELOOP));
	dirs("dangling/f", strerror(ENOENT));
	dirs("good/f/g", strerror(ENOTDIR));
	ok(path_check_dirs("good/f", cmd, sizeof(cmd)) == -1 &&
	    strstr(cmd, "not an absolute path") != NULL,
	    "a relative path is refused");

	opens("good/f", NULL);
	opens("to-good/f", NULL);
	/* links are followed to targets that pass the same checks */
	opens("good/link-f", NULL);
	opens("good/link-chain", NULL);
	opens("good/link-abs", NULL);
	opens("good/link-ww", "a symbolic link to ../ww/sub/f");
	opens("good/link-loop", strerror(ELOOP));
	opens("ww/link-f", "writable by group or others");
	opens("good/fifo", "not a regular file");
	opens("good", "not a regular file");
	opens("good/none", strerror(ENOENT));
	opens("ww/sub/f", "writable by group or others");

	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	if (system(cmd) != 0)
		fatalx("cannot remove %s", top);
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
	trees();
	return done_testing();
}
