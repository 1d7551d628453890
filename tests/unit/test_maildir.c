/*
 * Unit tests for maildir.c: delivery into a fresh tree, the file's
 * name, size and bytes, unique names, refused paths, how failures
 * are classified, and finding the file of a queue envelope again.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "address.h"
#include "maild.h"
#include "maildir.h"
#include "safepath.h"
#include "tap.h"

#define BODY_LEN	(200 * 1024 + 17)	/* crosses 64 KiB chunks */

static char	*body;

static void	 make_body(void);
static int	 maildir_deliver(const char *, int, const struct mailaddr *,
		    const struct mailaddr *, char *, size_t);
static int	 msg_fd(const char *, size_t);
static int	 count_dir(const char *);
static int	 only_entry(const char *, char *, size_t);
static char	*slurp(const char *, size_t *);
static int	 mode_is(const char *, mode_t);
static int	 name_ok(const char *);
static int	 has_ctl(const char *);
static void	 set_addr(struct mailaddr *, const char *, const char *);
static void	 test_deliver(void);
static void	 test_null_sender(void);
static void	 test_unique(void);
static void	 test_refused(void);
static void	 test_errors(void);
static void	 test_nosync(void);
static void	 test_symlinks(void);
static void	 test_find(void);
static int	 touch(const char *);

/*
 * One delivery the way the deliver process makes it: the file into new/,
 * then new/ fsynced (a group of one), the file removed if that fails.
 */
static int
maildir_deliver(const char *path, int fd, const struct mailaddr *sender,
    const struct mailaddr *rcpt, char *err, size_t errlen)
{
	char	 new[PATH_MAX];
	int	 r;

	if ((r = maildir_deliver_nosync(path, fd, sender, rcpt, NULL, 0, NULL,
	    new, sizeof(new), err, errlen)) != 0)
		return r;
	if ((r = maildir_sync(path, err, errlen)) != 0)
		(void)safe_unlink(new);
	return r;
}

static void
make_body(void)
{
	size_t	 i;
	int	 col = 0;

	if ((body = malloc(BODY_LEN)) == NULL)
		fatal("malloc");
	memcpy(body, "Subject: test\r\n\r\n", 17);
	/* CRLF text with 8-bit bytes in it: stored byte for byte. */
	for (i = 17; i < BODY_LEN; i++) {
		if (col == 70 && i + 2 <= BODY_LEN) {
			body[i++] = '\r';
			body[i] = '\n';
			col = 0;
			continue;
		}
		body[i] = (char)(0x20 + (i * 7) % 0xdf);
		col++;
	}
}

/* An unlinked temporary file holding data, read position at its end. */
static int
msg_fd(const char *data, size_t len)
{
	char	 tmpl[] = "/tmp/test_maildir_msg.XXXXXX";
	int	 fd;

	if ((fd = mkstemp(tmpl)) == -1)
		fatal("mkstemp");
	unlink(tmpl);
	if (write(fd, data, len) != (ssize_t)len)
		fatal("write");
	return fd;
}

static int
count_dir(const char *path)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* The name of the single entry of path; -1 if it has 0 or several. */
static int
only_entry(const char *path, char *buf, size_t len)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		n++;
		(void)strlcpy(buf, de->d_name, len);
	}
	closedir(d);
	return n == 1 ? 0 : -1;
}

static char *
slurp(const char *path, size_t *lenp)
{
	struct stat	 sb;
	char		*buf;
	int		 fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return NULL;
	if (fstat(fd, &sb) == -1)
		fatal("fstat");
	if ((buf = malloc(sb.st_size + 1)) == NULL)
		fatal("malloc");
	if (read(fd, buf, sb.st_size) != sb.st_size)
		fatal("read");
	close(fd);
	*lenp = sb.st_size;
	return buf;
}

static int
mode_is(const char *path, mode_t mode)
{
	struct stat	 sb;

	if (stat(path, &sb) == -1)
		return 0;
	return S_ISDIR(sb.st_mode) && (sb.st_mode & 07777) == mode;
}

/* <sec>.M<usec>P<pid>Q<n>R<16 hex>.<host>,S=<size> */
static int
name_ok(const char *name)
{
	const char	*p = name;
	char		 pid[32];
	size_t		 n;

	if ((n = strspn(p, "0123456789")) == 0 || p[n] != '.')
		return 0;
	p += n + 1;
	if (*p++ != 'M' || strspn(p, "0123456789") != 6 || p[6] != 'P')
		return 0;
	p += 7;
	(void)snprintf(pid, sizeof(pid), "%ldQ", (long)getpid());
	if (strncmp(p, pid, strlen(pid)) != 0)
		return 0;
	p += strlen(pid);
	if ((n = strspn(p, "0123456789")) == 0 || p[n] != 'R')
		return 0;
	p += n + 1;
	if (strspn(p, "0123456789abcdef") != 16 || p[16] != '.')
		return 0;
	p += 17;
	if (*p == '\0' || *p == ',' || strchr(p, '/') != NULL ||
	    strchr(p, ':') != NULL)
		return 0;
	return strstr(p, ",S=") != NULL;
}

static int
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static void
set_addr(struct mailaddr *a, const char *user, const char *domain)
{
	memset(a, 0, sizeof(*a));
	(void)strlcpy(a->user, user, sizeof(a->user));
	(void)strlcpy(a->domain, domain, sizeof(a->domain));
}

static void
test_deliver(void)
{
	struct mailaddr	 from, to;
	struct stat	 sb;
	char		 err[512], name[512], path[PATH_MAX], *s, *data;
	const char	*hdr = "Return-Path: <sender@example.org>\r\n"
			    "Delivered-To: rcpt@example.com\r\n";
	size_t		 len;
	long long	 size;
	int		 fd, r;

	set_addr(&from, "sender", "example.org");
	set_addr(&to, "rcpt", "example.com");
	fd = msg_fd(body, BODY_LEN);
	err[0] = '\0';
	r = maildir_deliver("vmail/example.com/rcpt", fd, &from, &to, err,
	    sizeof(err));
	is_int(r, 0, "delivery into a missing nested path");
	if (r != 0)
		printf("# %s\n", err);
	close(fd);

	ok(mode_is("vmail", 0700), "vmail created 0700");
	ok(mode_is("vmail/example.com", 0700), "vmail/example.com 0700");
	ok(mode_is("vmail/example.com/rcpt", 0700), "maildir root 0700");
	ok(mode_is("vmail/example.com/rcpt/cur", 0700), "cur/ 0700");
	ok(mode_is("vmail/example.com/rcpt/new", 0700), "new/ 0700");
	ok(mode_is("vmail/example.com/rcpt/tmp", 0700), "tmp/ 0700");
	is_int(count_dir("vmail/example.com/rcpt/tmp"), 0, "tmp/ is empty");
	is_int(count_dir("vmail/example.com/rcpt/cur"), 0, "cur/ is empty");

	r = only_entry("vmail/example.com/rcpt/new", name, sizeof(name));
	is_int(r, 0, "one file in new/");
	if (r != 0)
		return;
	ok(name_ok(name), "file name has the Maildir form: %s", name);
	(void)snprintf(path, sizeof(path), "vmail/example.com/rcpt/new/%s",
	    name);
	if (stat(path, &sb) == -1)
		fatal("stat");
	ok((sb.st_mode & 0777) == 0600, "file mode 0600");
	s = strstr(name, ",S=");
	size = s != NULL ? strtoll(s + 3, NULL, 10) : -1;
	is_int(size, sb.st_size, ",S= is the real size");
	is_int(size, (long long)(strlen(hdr) + BODY_LEN),
	    "size is headers plus body");
	if ((data = slurp(path, &len)) == NULL)
		fatal("slurp");
	ok(len >= strlen(hdr) && memcmp(data, hdr, strlen(hdr)) == 0,
	    "starts with Return-Path and Delivered-To");
	ok(len == strlen(hdr) + BODY_LEN &&
	    memcmp(data + strlen(hdr), body, BODY_LEN) == 0,
	    "then the exact body bytes");
	free(data);

	/* An existing Maildir is reused; an empty body is fine. */
	fd = msg_fd("", 0);
	r = maildir_deliver("vmail/example.com/rcpt", fd, &from, &to, err,
	    sizeof(err));
	is_int(r, 0, "second delivery, empty body");
	close(fd);
	is_int(count_dir("vmail/example.com/rcpt/new"), 2, "two files");

	/* An absolute path works as well. */
	if (getcwd(path, sizeof(path)) == NULL)
		fatal("getcwd");
	(void)strlcat(path, "/abs/box", sizeof(path));
	fd = msg_fd("x\r\n", 3);
	r = maildir_deliver(path, fd, &from, &to, err, sizeof(err));
	is_int(r, 0, "absolute path");
	close(fd);
	is_int(count_dir("abs/box/new"), 1, "absolute: one file in new/");
}

static void
test_null_sender(void)
{
	struct mailaddr	 from, to;
	char		 err[512], name[512], path[PATH_MAX], *data;
	const char	*hdr = "Return-Path: <>\r\n"
			    "Delivered-To: postmaster@example.com\r\n";
	size_t		 len;
	int		 fd, r;

	set_addr(&from, "", "");
	set_addr(&to, "postmaster", "example.com");
	fd = msg_fd("Subject: bounce\r\n\r\nhi\r\n", 24);
	r = maildir_deliver("nullbox", fd, &from, &to, err, sizeof(err));
	close(fd);
	is_int(r, 0, "null sender delivered");
	if (only_entry("nullbox/new", name, sizeof(name)) == -1) {
		ok(0, "null sender: one file");
		return;
	}
	(void)snprintf(path, sizeof(path), "nullbox/new/%s", name);
	if ((data = slurp(path, &len)) == NULL)
		fatal("slurp");
	ok(len == strlen(hdr) + 24 && memcmp(data, hdr, strlen(hdr)) == 0 &&
	    memcmp(data + strlen(hdr), "Subject: bounce\r\n\r\nhi\r\n", 24) ==
	    0, "Return-Path: <> for the null sender");
	free(data);

	/* A CR or LF in an address must not forge a header. */
	set_addr(&from, "a\r\nX-Evil: 1", "example.org");
	fd = msg_fd("x", 1);
	r = maildir_deliver("nullbox", fd, &from, &to, err, sizeof(err));
	close(fd);
	is_int(r, -2, "CRLF in the sender refused");
	is_int(count_dir("nullbox/new"), 1, "nothing delivered");
	is_int(count_dir("nullbox/tmp"), 0, "nothing left in tmp/");
}

static void
test_unique(void)
{
	struct mailaddr	 from, to;
	char		 err[512];
	int		 fd, i, bad = 0;

	set_addr(&from, "sender", "example.org");
	set_addr(&to, "many", "example.com");
	fd = msg_fd("Subject: x\r\n\r\nbody\r\n", 21);
	for (i = 0; i < 1000; i++)
		if (maildir_deliver("many", fd, &from, &to, err,
		    sizeof(err)) != 0)
			bad++;
	close(fd);
	is_int(bad, 0, "1000 deliveries succeed");
	is_int(count_dir("many/new"), 1000, "1000 distinct files in new/");
	is_int(count_dir("many/tmp"), 0, "tmp/ empty after 1000");
}

static void
test_refused(void)
{
	static const char *const bad[] = {
		"", "../x", "x/..", "..", ".", "./x", "a/./b", "a/../b",
		"a//b", "a/b/", "/", "//a", "/a/../b", "a/b\n", "a/\tb",
		"a/\x7f", "a\rb"
	};
	struct mailaddr	 from, to;
	char		 err[512];
	size_t		 i;
	int		 fd, r;

	set_addr(&from, "sender", "example.org");
	set_addr(&to, "rcpt", "example.com");
	fd = msg_fd("x", 1);
	for (i = 0; i < nitems(bad); i++) {
		err[0] = '\0';
		r = maildir_deliver(bad[i], fd, &from, &to, err, sizeof(err));
		is_int(r, -2, "refused path");
		ok(strstr(err, "refused") != NULL && !has_ctl(err),
		    "reason: %s", has_ctl(err) ? "(control bytes)" : err);
	}
	close(fd);
	ok(access("a", F_OK) == -1 && access("x", F_OK) == -1,
	    "refused paths created nothing");
	/* A dotted name that is not "." or ".." is a normal component. */
	fd = msg_fd("x", 1);
	is_int(maildir_deliver("dots/.x/..y/a.b", fd, &from, &to, err,
	    sizeof(err)), 0, "\".x\" and \"..y\" are plain names");
	close(fd);
}

static void
test_errors(void)
{
	struct mailaddr	 from, to;
	char		 err[512], longpath[PATH_MAX + 64];
	size_t		 i;
	int		 fd, r;

	set_addr(&from, "sender", "example.org");
	set_addr(&to, "rcpt", "example.com");
	fd = msg_fd("Subject: x\r\n\r\nbody\r\n", 21);

	/* A regular file where a directory should be. */
	if ((r = open("plain", O_WRONLY | O_CREAT, 0600)) == -1)
		fatal("open");
	close(r);
	err[0] = '\0';
	r = maildir_deliver("plain/box", fd, &from, &to, err, sizeof(err));
	is_int(r, -2, "path under a regular file: permanent");
	ok(strncmp(err, "plain/box: ", 11) == 0 &&
	    strstr(err, strerror(ENOTDIR)) != NULL, "err: %s", err);
	r = maildir_deliver("plain", fd, &from, &to, err, sizeof(err));
	is_int(r, -2, "maildir is a regular file: permanent");

	/* Too long. */
	for (i = 0; i < sizeof(longpath) - 1; i++)
		longpath[i] = i % 100 == 99 ? '/' : 'a';
	longpath[sizeof(longpath) - 1] = '\0';
	r = maildir_deliver(longpath, fd, &from, &to, err, sizeof(err));
	is_int(r, -2, "path longer than PATH_MAX: permanent");
	for (i = 0; i < 300; i++)
		longpath[i] = 'b';
	longpath[300] = '\0';
	r = maildir_deliver(longpath, fd, &from, &to, err, sizeof(err));
	is_int(r, -2, "component longer than NAME_MAX: permanent");

	/* A symlink loop: a link, never followed; removing it repairs. */
	if (symlink("loop", "loop") == -1)
		fatal("symlink");
	r = maildir_deliver("loop/box", fd, &from, &to, err, sizeof(err));
	is_int(r, -1, "symlink loop: temporary");
	ok(strstr(err, "loop is a symbolic link, not followed") != NULL,
	    "err: %s", err);

	/* An unreadable message: temporary, nothing left behind. */
	r = maildir_deliver("badfd", -1, &from, &to, err, sizeof(err));
	is_int(r, -1, "unreadable message fd: temporary");
	is_int(count_dir("badfd/tmp"), 0, "bad fd: tmp/ cleaned up");
	is_int(count_dir("badfd/new"), 0, "bad fd: nothing in new/");

	/* Null recipient makes no sense here. */
	set_addr(&to, "", "");
	r = maildir_deliver("nullrcpt", fd, &from, &to, err, sizeof(err));
	is_int(r, -2, "null recipient refused");
	set_addr(&to, "rcpt", "example.com");

	/* Read-only directories: a temporary failure (may be fixed). */
	if (geteuid() == 0) {
		for (i = 0; i < 5; i++)
			ok(1, "# SKIP running as root, modes are not "
			    "enforced");
	} else {
		if (mkdir("ro", 0500) == -1)
			fatal("mkdir");
		err[0] = '\0';
		r = maildir_deliver("ro/box", fd, &from, &to, err,
		    sizeof(err));
		is_int(r, -1, "read-only parent: temporary");
		ok(strstr(err, strerror(EACCES)) != NULL, "err: %s", err);

		if (maildir_deliver("rotmp", fd, &from, &to, err,
		    sizeof(err)) != 0 || chmod("rotmp/tmp", 0500) == -1)
			fatal("rotmp");
		r = maildir_deliver("rotmp", fd, &from, &to, err,
		    sizeof(err));
		is_int(r, -1, "read-only tmp/: temporary");
		if (chmod("rotmp/tmp", 0700) == -1 ||
		    chmod("rotmp/new", 0500) == -1)
			fatal("chmod");
		r = maildir_deliver("rotmp", fd, &from, &to, err,
		    sizeof(err));
		is_int(r, -1, "read-only new/: temporary");
		(void)chmod("rotmp/new", 0700);
		ok(count_dir("rotmp/tmp") == 0 && count_dir("rotmp/new") == 1,
		    "failed deliveries left nothing behind");
	}
	close(fd);
}

/*
 * A symbolic link anywhere in the Maildir's path, or as one of its
 * sub-directories, is never followed: the delivery fails temporarily
 * (the queue keeps the message), says which link, and writes nothing
 * where the link points.  Without the link it succeeds.
 */
static void
test_symlinks(void)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	struct mailaddr	 from, to;
	char		 err[512], path[PATH_MAX], want[PATH_MAX];
	size_t		 i;
	int		 fd, r;

	set_addr(&from, "sender", "example.org");
	set_addr(&to, "rcpt", "example.com");
	fd = msg_fd("Subject: x\r\n\r\nbody\r\n", 21);
	if (maildir_deliver("ln/victim", fd, &from, &to, err,
	    sizeof(err)) != 0)
		fatal("victim: %s", err);

	/* The user's directory. */
	if (mkdir("ln/d", 0700) == -1 || symlink("../ln/victim",
	    "ln/d/user") == -1)
		fatal("symlink");
	err[0] = '\0';
	r = maildir_deliver("ln/d/user", fd, &from, &to, err, sizeof(err));
	is_int(r, -1, "user directory a link: temporary");
	ok(strstr(err, "ln/d/user is a symbolic link, not followed") != NULL,
	    "err: %s", err);
	/* A directory above it. */
	if (symlink("d", "ln/dd") == -1)
		fatal("symlink");
	r = maildir_deliver("ln/dd/user", fd, &from, &to, err, sizeof(err));
	is_int(r, -1, "parent directory a link: temporary");
	ok(strstr(err, "ln/dd is a symbolic link") != NULL, "err: %s", err);

	for (i = 0; i < nitems(sub); i++) {
		(void)snprintf(path, sizeof(path), "ln/u%zu", i);
		if (maildir_deliver(path, fd, &from, &to, err,
		    sizeof(err)) != 0)
			fatal("u: %s", err);
		(void)snprintf(path, sizeof(path), "ln/u%zu/%s", i, sub[i]);
		(void)snprintf(want, sizeof(want), "../victim/%s", sub[i]);
		if (rename(path, "ln/saved") == -1 ||
		    symlink(want, path) == -1)
			fatal("symlink %s", path);
		(void)snprintf(path, sizeof(path), "ln/u%zu", i);
		err[0] = '\0';
		r = maildir_deliver(path, fd, &from, &to, err, sizeof(err));
		ok(r == -1, "%s/ a link: temporary (%d)", sub[i], r);
		(void)snprintf(want, sizeof(want), "ln/u%zu/%s is a symbolic "
		    "link, not followed", i, sub[i]);
		ok(strstr(err, want) != NULL, "err: %s", err);
		/* Put the directory back: delivered. */
		(void)snprintf(path, sizeof(path), "ln/u%zu/%s", i, sub[i]);
		if (unlink(path) == -1 || rename("ln/saved", path) == -1)
			fatal("restore %s", path);
		(void)snprintf(path, sizeof(path), "ln/u%zu", i);
		r = maildir_deliver(path, fd, &from, &to, err, sizeof(err));
		ok(r == 0, "%s/ restored: delivered (%s)", sub[i], err);
		(void)snprintf(path, sizeof(path), "ln/u%zu/new", i);
		ok(count_dir(path) == 2, "%s: both files in the user's new/",
		    sub[i]);
	}
	is_int(count_dir("ln/victim/new"), 1, "nothing reached the victim");
	is_int(count_dir("ln/victim/tmp"), 0, "nor its tmp/");
	close(fd);
}

/* The filter leaves header fields out; body, order and folding kept. */
static int
drop_ar(const char *f, size_t len, void *arg)
{
	(*(int *)arg)++;
	return len >= 23 && strncasecmp(f, "Authentication-Results", 22) ==
	    0 && memmem(f, len, "mx.test", 7) != NULL;
}

static void
test_filter(void)
{
	static const char	 msg[] =
	    "Authentication-Results: mx.test; dkim=pass\r\n"
	    "Subject: f\r\n"
	    "authentication-results : other.test;\r\n\tspf=pass\r\n"
	    "AUTHENTICATION-RESULTS: mx.test;\r\n spf=pass\r\n"
	    "To: g@example.org\r\n"
	    "\r\n"
	    "Authentication-Results: mx.test; in the body\r\n";
	static const char	 want[] =
	    "Subject: f\r\n"
	    "authentication-results : other.test;\r\n\tspf=pass\r\n"
	    "To: g@example.org\r\n"
	    "\r\n"
	    "Authentication-Results: mx.test; in the body\r\n";
	struct maildir_filter	 f;
	struct mailaddr		 from, to;
	struct stat		 sb;
	char			 p[PATH_MAX], err[256], *data, *big;
	static const char	 tail[] = "\r\nSubject: big\r\n\r\nbody\r\n";
	size_t			 len, n;
	int			 fd, calls = 0;

	f.drop = drop_ar;
	f.arg = &calls;
	set_addr(&from, "s", "example.net");
	set_addr(&to, "g", "example.org");
	fd = msg_fd(msg, sizeof(msg) - 1);
	ok(maildir_deliver_nosync("filter/g", fd, &from, &to, "X-Pre: 1\r\n",
	    0, &f, p, sizeof(p), err, sizeof(err)) == 0, "filtered delivery");
	close(fd);
	data = slurp(p, &len);
	ok(data != NULL && len > sizeof(want) &&
	    memcmp(data + len - (sizeof(want) - 1), want, sizeof(want) - 1) ==
	    0, "our fields out, others and the body as they were");
	ok(data != NULL && memmem(data, len, "X-Pre: 1\r\nSubject: f", 20) !=
	    NULL, "the prepended lines stay");
	is_int(calls, 5, "the filter saw each of the five fields once");
	ok(stat(p, &sb) == 0 && strstr(p, ",S=") != NULL &&
	    (size_t)strtoull(strstr(p, ",S=") + 3, NULL, 10) == len,
	    "S= is the size written");
	free(data);

	/* A field longer than the filter's window is judged by its start. */
	n = 100000;
	big = malloc(n + 64);
	memcpy(big, "Authentication-Results: mx.test;", 32);
	memset(big + 32, 'x', n - 32);
	memcpy(big + n, tail, sizeof(tail) - 1);
	fd = msg_fd(big, n + sizeof(tail) - 1);
	ok(maildir_deliver_nosync("filter/g", fd, &from, &to, NULL, 0, &f,
	    p, sizeof(p), err, sizeof(err)) == 0, "a 100 KB field");
	close(fd);
	data = slurp(p, &len);
	ok(data != NULL && memmem(data, len, "xxxx", 4) == NULL &&
	    len > sizeof(tail) && memcmp(data + len - (sizeof(tail) - 3),
	    tail + 2, sizeof(tail) - 3) == 0,
	    "... dropped whole, the rest kept");
	free(data);
	memcpy(big, "X-Long-Header-Fields-Here: mx.test;", 32);
	fd = msg_fd(big, n + sizeof(tail) - 1);
	ok(maildir_deliver_nosync("filter/g", fd, &from, &to, NULL, 0, &f,
	    p, sizeof(p), err, sizeof(err)) == 0, "another 100 KB field");
	close(fd);
	data = slurp(p, &len);
	ok(data != NULL && memmem(data, len, big, n + sizeof(tail) - 1) !=
	    NULL, "... kept whole");
	free(data);

	/* No body, no empty line: the last field ends the file. */
	big[0] = '\0';
	(void)strlcpy(big, "Subject: x\r\nAuthentication-Results: mx.test; a",
	    n);
	fd = msg_fd(big, strlen(big));
	ok(maildir_deliver_nosync("filter/g", fd, &from, &to, NULL, 0, &f,
	    p, sizeof(p), err, sizeof(err)) == 0, "no body");
	close(fd);
	data = slurp(p, &len);
	ok(data != NULL && len >= 12 &&
	    memcmp(data + len - 12, "Subject: x\r\n", 12) == 0,
	    "... its last field out too");
	free(data);
	free(big);
}

/* Group commit: files land in new/ at once, one maildir_sync() after. */
static void
test_nosync(void)
{
	struct mailaddr	 from, to;
	struct stat	 sb;
	char		 f1[PATH_MAX], f2[PATH_MAX], err[256];
	int		 fd;

	set_addr(&from, "s", "example.net");
	set_addr(&to, "g", "example.org");
	fd = msg_fd("Subject: g\r\n\r\nx\r\n", 17);
	ok(maildir_deliver_nosync("group/g", fd, &from, &to, NULL, 0, NULL,
	    f1, sizeof(f1), err, sizeof(err)) == 0, "nosync delivery 1");
	ok(maildir_deliver_nosync("group/g", fd, &from, &to,
	    "DKIM-Signature: v=1;\r\n\tb=x\r\n", 0, NULL, f2, sizeof(f2),
	    err, sizeof(err)) == 0, "nosync delivery 2");
	close(fd);
	ok(strncmp(f1, "group/g/new/", 12) == 0 && stat(f1, &sb) == 0,
	    "first file is in new/ (%s)", f1);
	ok(strcmp(f1, f2) != 0 && stat(f2, &sb) == 0, "second file too");
	{
		char	*data;
		size_t	 len;

		if ((data = slurp(f2, &len)) == NULL)
			fatal("slurp");
		ok(len > 60 && strstr(data, "Delivered-To: g@example.org\r\n"
		    "DKIM-Signature: v=1;\r\n\tb=x\r\nSubject: g\r\n") != NULL,
		    "prepended header lines follow Delivered-To");
		free(data);
	}
	is_int(count_dir("group/g/new"), 2, "two files in new/");
	is_int(count_dir("group/g/tmp"), 0, "tmp/ empty");
	is_int(maildir_sync("group/g", err, sizeof(err)), 0,
	    "one sync of new/");
	is_int(maildir_sync("group/none", err, sizeof(err)), -1,
	    "sync of a missing Maildir fails temporarily");
	ok(strstr(err, "group/none") != NULL, "error names the path: %s",
	    err);
	fd = msg_fd("x", 1);
	is_int(maildir_deliver_nosync("group/g", fd, &from, &to, NULL, 0, NULL,
	    f1, 8, err, sizeof(err)), -2, "a too small path buffer is refused");
	close(fd);
	is_int(count_dir("group/g/new"), 2, "and leaves nothing behind");
}

static int
touch(const char *path)
{
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
		return -1;
	close(fd);
	return 0;
}

/* A queue envelope's delivery is found again, wherever IMAP moved it. */
static void
test_find(void)
{
	struct mailaddr	 from, to;
	const uint64_t	 id = 0x1234abcd00c0ffeeULL;
	char		 f[PATH_MAX], found[PATH_MAX], cur[PATH_MAX];
	char		 err[256], want[40];
	const char	*base;
	int		 fd;

	set_addr(&from, "s", "example.net");
	set_addr(&to, "f", "example.org");
	fd = msg_fd("Subject: f\r\n\r\nx\r\n", 17);
	is_int(maildir_find("find/none", id, found, sizeof(found), err,
	    sizeof(err)), 0, "no Maildir: not delivered");
	ok(maildir_deliver_nosync("find/f", fd, &from, &to, NULL, id, NULL, f,
	    sizeof(f), err, sizeof(err)) == 0, "delivery with an envelope id");
	close(fd);
	base = strrchr(f, '/') + 1;
	(void)snprintf(want, sizeof(want), "E%016llx.",
	    (unsigned long long)id);
	ok(strstr(base, want) != NULL && strchr(base, '.') <
	    strstr(base, want), "the id ends the middle part: %s", base);
	ok(strchr(base, ':') == NULL && strchr(base, '/') == NULL &&
	    strstr(base, ",S=") != NULL, "still a plain Maildir name");

	/* A crash between the link and the unlink of the tmp/ name. */
	(void)snprintf(cur, sizeof(cur), "find/f/tmp/%s", base);
	if (link(f, cur) == -1)
		fatal("link");
	is_int(maildir_find("find/f", id, found, sizeof(found), err,
	    sizeof(err)), 1, "found in new/");
	is_str(found, f, "by its path");
	ok(access(cur, F_OK) == -1 && errno == ENOENT,
	    "its second name in tmp/ is removed");
	is_int(maildir_find("find/f", id + 1, found, sizeof(found), err,
	    sizeof(err)), 0, "another envelope's id is not found");
	is_int(maildir_find("find/f", 0, found, sizeof(found), err,
	    sizeof(err)), 0, "id 0 (no envelope) is never found");

	/* Seen by IMAP: moved to cur/ and renamed with flags. */
	(void)snprintf(cur, sizeof(cur), "find/f/cur/%s:2,FS", base);
	if (rename(f, cur) == -1)
		fatal("rename");
	found[0] = '\0';
	is_int(maildir_find("find/f", id, found, sizeof(found), err,
	    sizeof(err)), 1, "found in cur/ with flags");
	is_str(found, cur, "under its new name");

	/* Expunged: gone.  A leftover in tmp/ is removed. */
	if (unlink(cur) == -1)
		fatal("unlink");
	(void)snprintf(f, sizeof(f), "find/f/tmp/1.M1P1Q1R00%s", want);
	(void)strlcat(f, "host", sizeof(f));
	if (touch(f) == -1 || touch("find/f/tmp/other") == -1)
		fatal("touch");
	is_int(maildir_find("find/f", id, found, sizeof(found), err,
	    sizeof(err)), 0, "expunged: not found");
	ok(access(f, F_OK) == -1 && errno == ENOENT,
	    "the interrupted attempt's tmp/ file is removed");
	ok(access("find/f/tmp/other", F_OK) == 0, "other tmp/ files stay");

	/* The id must end the middle part: a host name cannot fake one. */
	(void)snprintf(f, sizeof(f), "find/f/new/1.M1P1Q1R00.host%s,S=5",
	    want);
	if (touch(f) == -1)
		fatal("touch");
	(void)snprintf(f, sizeof(f), "find/f/new/1.M1P1Q1R00%s", want);
	f[strlen(f) - 2] = 'g';		/* not hex */
	(void)strlcat(f, ".host", sizeof(f));
	if (touch(f) == -1)
		fatal("touch");
	is_int(maildir_find("find/f", id, found, sizeof(found), err,
	    sizeof(err)), 0, "look-alike names are not taken for it");
}

int
main(void)
{
	char	 dir[] = "/tmp/test_maildir.XXXXXX";

	log_init(1, 0);
	umask(022);
	make_body();
	if (mkdtemp(dir) == NULL || chdir(dir) == -1)
		fatal("mkdtemp");
	printf("# in %s\n", dir);

	test_deliver();
	test_null_sender();
	test_unique();
	test_refused();
	test_errors();
	test_nosync();
	test_filter();
	test_symlinks();
	test_find();

	(void)chmod("ro", 0700);
	free(body);
	if (tap_failed == 0) {
		char cmd[PATH_MAX + 16];

		(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		(void)system(cmd);
	}
	return done_testing();
}
