/*
 * Unit tests for safepath.c and compat_open_beneath(): every call works
 * on plain directories and files, and refuses (ELOOP) to go through a
 * symbolic link placed as any component, the last one included, while
 * the link's target stays untouched.  Run twice: with openat2(2) where
 * the kernel has it, then with the portable walk.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maild.h"
#include "safepath.h"
#include "tap.h"

static void	 put(const char *, const char *);
static int	 exists(const char *);
static void	 run(const char *);

static void
put(const char *path, const char *data)
{
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		fatal("put %s", path);
	close(fd);
}

static int
exists(const char *path)
{
	struct stat	 st;

	return lstat(path, &st) == 0;
}

static void
run(const char *how)
{
	struct stat	 st;
	DIR		*d;
	char		 buf[PATH_MAX], top[PATH_MAX];
	int		 fd, r;

	(void)snprintf(top, sizeof(top), "%s", how);
	if (mkdir(top, 0700) == -1 || chdir(top) == -1)
		fatal("mkdir %s", top);

	/* A tree: real/box/{cur,new}, and links into it. */
	ok(safe_mkdirs("real/box/cur", 0700) == 0, "%s: mkdirs", how);
	ok(safe_mkdirs("real/box/cur", 0700) == 0, "%s: mkdirs again", how);
	ok(safe_mkdir("real/box/new", 0700) == 0, "%s: mkdir", how);
	put("real/box/cur/msg", "secret");
	if (symlink("real", "lnk") == -1 ||
	    symlink("../real/box", "home") == -1 ||
	    mkdir("home2", 0700) == -1 ||
	    symlink("../real/box/cur", "home2/cur") == -1 ||
	    symlink("../real/box/new", "home2/new") == -1 ||
	    symlink("../real/box/cur/msg", "real/box/new/lmsg") == -1)
		fatal("symlink");

	/* Plain paths work. */
	fd = safe_open("real/box/cur/msg", O_RDONLY, 0);
	ok(fd != -1, "%s: open a file", how);
	if (fd != -1)
		close(fd);
	fd = safe_open("real/box/new/f", O_WRONLY | O_CREAT | O_EXCL, 0600);
	ok(fd != -1, "%s: create a file", how);
	if (fd != -1)
		close(fd);
	ok(safe_lstat("real/box/new/f", &st) == 0 && S_ISREG(st.st_mode),
	    "%s: lstat", how);
	ok(safe_link("real/box/new/f", "real/box/cur/f") == 0 &&
	    exists("real/box/cur/f"), "%s: link", how);
	ok(safe_rename("real/box/cur/f", "real/box/cur/g") == 0 &&
	    exists("real/box/cur/g") && !exists("real/box/cur/f"),
	    "%s: rename in one directory", how);
	ok(safe_rename("real/box/cur/g", "real/box/new/g") == 0 &&
	    exists("real/box/new/g"), "%s: rename across directories", how);
	ok(safe_unlink("real/box/new/g") == 0 && !exists("real/box/new/g"),
	    "%s: unlink", how);
	ok((d = safe_opendir("real/box")) != NULL, "%s: opendir", how);
	if (d != NULL)
		closedir(d);
	ok(safe_mkdir("real/x", 0700) == 0 && safe_rmdir("real/x") == 0 &&
	    !exists("real/x"), "%s: mkdir, rmdir", how);
	if (getcwd(buf, sizeof(buf)) == NULL ||
	    strlcat(buf, "/real/box/cur/msg", sizeof(buf)) >= sizeof(buf))
		fatal("getcwd");
	fd = safe_open(buf, O_RDONLY, 0);
	ok(fd != -1, "%s: an absolute path", how);
	if (fd != -1)
		close(fd);

	/* A link as a directory component: ELOOP from every call. */
	errno = 0;
	ok(safe_open("lnk/box/cur/msg", O_RDONLY, 0) == -1 && errno == ELOOP,
	    "%s: open through a link: ELOOP", how);
	errno = 0;
	ok(safe_open("home/cur/msg", O_RDONLY, 0) == -1 && errno == ELOOP,
	    "%s: open through the user's dir a link: ELOOP", how);
	errno = 0;
	ok(safe_open("home2/new/x", O_WRONLY | O_CREAT | O_EXCL, 0600) ==
	    -1 && errno == ELOOP && !exists("real/box/new/x"),
	    "%s: create through new/ a link: ELOOP, nothing made", how);
	errno = 0;
	ok(safe_opendir("home2/cur") == NULL && errno == ELOOP,
	    "%s: opendir of a link: ELOOP", how);
	errno = 0;
	ok(safe_lstat("home2/cur/msg", &st) == -1 && errno == ELOOP,
	    "%s: lstat below a link: ELOOP", how);
	ok(safe_lstat("home2/cur", &st) == 0 && S_ISLNK(st.st_mode),
	    "%s: lstat of the link itself", how);
	errno = 0;
	ok(safe_mkdir("home/.F", 0700) == -1 && errno == ELOOP &&
	    !exists("real/box/.F"), "%s: mkdir below a link: ELOOP", how);
	errno = 0;
	ok(safe_mkdirs("home/.F/cur", 0700) == -1 && errno == ELOOP &&
	    !exists("real/box/.F"), "%s: mkdirs through a link: ELOOP", how);
	errno = 0;
	ok(safe_mkdirs("home", 0700) == -1 && errno == ELOOP,
	    "%s: mkdirs of a link: ELOOP", how);
	errno = 0;
	ok(safe_unlink("home2/cur/msg") == -1 && errno == ELOOP &&
	    exists("real/box/cur/msg"), "%s: unlink below a link: ELOOP", how);
	errno = 0;
	ok(safe_rename("real/box/cur/msg", "home2/new/msg") == -1 &&
	    errno == ELOOP && exists("real/box/cur/msg"),
	    "%s: rename into a link: ELOOP", how);
	errno = 0;
	ok(safe_link("home2/cur/msg", "real/box/new/stolen") == -1 &&
	    errno == ELOOP && !exists("real/box/new/stolen"),
	    "%s: link from below a link: ELOOP", how);

	/* A link last: never opened, only acted on as itself. */
	errno = 0;
	ok(safe_open("real/box/new/lmsg", O_RDONLY, 0) == -1 &&
	    errno == ELOOP, "%s: open of a file link: ELOOP", how);
	errno = 0;
	ok(safe_open("real/box/new/lmsg", O_WRONLY | O_CREAT | O_TRUNC,
	    0600) == -1 && errno == ELOOP, "%s: O_CREAT on a link: ELOOP",
	    how);
	ok(safe_link("real/box/new/lmsg", "real/box/new/lmsg2") == 0 &&
	    lstat("real/box/new/lmsg2", &st) == 0 && S_ISLNK(st.st_mode),
	    "%s: link of a link links the link", how);
	ok(safe_rename("real/box/new/lmsg2", "real/box/new/lmsg3") == 0 &&
	    lstat("real/box/new/lmsg3", &st) == 0 && S_ISLNK(st.st_mode),
	    "%s: rename of a link renames the link", how);
	ok(safe_unlink("real/box/new/lmsg3") == 0 &&
	    exists("real/box/cur/msg"), "%s: unlink removes the link", how);

	/* Which part is the link, for log lines. */
	r = safe_find_link("home2/cur/msg", buf, sizeof(buf));
	ok(r == 1 && strcmp(buf, "home2/cur") == 0, "%s: find_link %s", how,
	    r == 1 ? buf : "none");
	r = safe_find_link("lnk/box", buf, sizeof(buf));
	ok(r == 1 && strcmp(buf, "lnk") == 0, "%s: find_link first", how);
	ok(safe_find_link("real/box/cur/msg", buf, sizeof(buf)) == 0,
	    "%s: find_link: none", how);

	/* "..", "." and empty names. */
	errno = 0;
	ok(safe_open("real/../real/box/cur/msg", O_RDONLY, 0) == -1 &&
	    errno == EXDEV, "%s: ..: EXDEV", how);
	errno = 0;
	ok(compat_open_beneath(AT_FDCWD, "/etc/passwd", O_RDONLY, 0) == -1 &&
	    errno == EXDEV, "%s: absolute beneath: EXDEV", how);
	errno = 0;
	ok(safe_unlink("real/box/") == -1 && errno == EINVAL,
	    "%s: empty last name: EINVAL", how);
	errno = 0;
	ok(safe_mkdirs("real/../x", 0700) == -1 && errno == EXDEV &&
	    !exists("x"), "%s: mkdirs with ..: EXDEV", how);

	if (chdir("..") == -1)
		fatal("chdir");
}

int
main(void)
{
	char	 dir[] = "/tmp/test_safepath.XXXXXX";
	char	 cmd[PATH_MAX + 16];

	log_init(1, 0);
	if (mkdtemp(dir) == NULL || chdir(dir) == -1)
		fatal("mkdtemp");
	printf("# in %s\n", dir);
	run("native");
	compat_no_openat2 = 1;
	run("walk");
	if (tap_failed == 0) {
		(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		(void)system(cmd);
	}
	return done_testing();
}
