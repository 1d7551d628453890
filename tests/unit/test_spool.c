/*
 * Unit tests for spool.c, in a fresh directory: start-up purge, commit
 * of single messages and batches (and their failures), the start-up
 * walk with its crash and corruption cases, envelope update and
 * removal, aborts and message ids.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope.h"
#include "expand.h"
#include "maild.h"
#include "spool.h"
#include "tap.h"

#define MAXSEEN		64

static struct envelope	 seen[MAXSEEN];
static size_t		 nseen;
static int		 overflow;

static void	 collect(struct envelope *, void *);
static int	 walk(void);
static const struct envelope *found(uint64_t);
static int	 same(const struct envelope *, const struct envelope *);
static void	 make_env(struct envelope *, uint32_t, uint32_t);
static int	 new_msg(uint32_t *, const char *);
static int	 exists(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2)));
static int	 count_dir(const char *);
static int	 count_dir2(uint32_t);
static char	*dirname_of(char *);
static void	 put_file(const char *, const char *, size_t);
static void	 put_env(const char *, const struct envelope *);
static void	 test_init(void);
static void	 test_commit(void);
static void	 test_commit_fail(void);
static void	 test_update_remove(void);
static void	 test_corrupt(void);
static void	 test_abort_ids(void);
static int	 cmp_u32(const void *, const void *);

static void
collect(struct envelope *evp, void *arg)
{
	(*(int *)arg)++;
	if (nseen == MAXSEEN) {
		overflow = 1;
		return;
	}
	seen[nseen++] = *evp;
}

/* Walk the spool; the number of envelopes seen, -1 on error. */
static int
walk(void)
{
	int	 calls = 0;

	nseen = 0;
	overflow = 0;
	if (spool_walk(collect, &calls) == -1)
		return -1;
	return overflow ? -1 : calls;
}

static const struct envelope *
found(uint64_t id)
{
	size_t	 i, n = 0, at = 0;

	for (i = 0; i < nseen; i++)
		if (seen[i].id == id) {
			n++;
			at = i;
		}
	return n == 1 ? &seen[at] : NULL;
}

static int
same(const struct envelope *a, const struct envelope *b)
{
	return a->id == b->id && a->created == b->created &&
	    a->lasttry == b->lasttry && a->retries == b->retries &&
	    a->flags == b->flags && strcmp(a->helo, b->helo) == 0 &&
	    strcmp(a->src, b->src) == 0 &&
	    strcmp(a->sender.user, b->sender.user) == 0 &&
	    strcmp(a->sender.domain, b->sender.domain) == 0 &&
	    strcmp(a->rcpt.user, b->rcpt.user) == 0 &&
	    strcmp(a->rcpt.domain, b->rcpt.domain) == 0 &&
	    a->dest.type == b->dest.type &&
	    strcmp(a->dest.addr.user, b->dest.addr.user) == 0 &&
	    strcmp(a->dest.addr.domain, b->dest.addr.domain) == 0 &&
	    strcmp(a->dest.path, b->dest.path) == 0 &&
	    strcmp(a->errmsg, b->errmsg) == 0;
}

static void
make_env(struct envelope *e, uint32_t msgid, uint32_t n)
{
	memset(e, 0, sizeof(*e));
	e->id = (uint64_t)msgid << 32 | (0x1000 + n);
	e->created = 1700000000 + n;
	e->lasttry = 0;
	e->retries = 0;
	e->flags = n % 2 ? EF_8BITMIME : EF_SMTPUTF8 | EF_AUTH;
	(void)snprintf(e->helo, sizeof(e->helo), "client%u.example.net", n);
	(void)strlcpy(e->src, "192.0.2.7", sizeof(e->src));
	(void)strlcpy(e->sender.user, "sender", sizeof(e->sender.user));
	(void)strlcpy(e->sender.domain, "example.net",
	    sizeof(e->sender.domain));
	(void)snprintf(e->rcpt.user, sizeof(e->rcpt.user), "rcpt%u", n);
	(void)strlcpy(e->rcpt.domain, "example.com", sizeof(e->rcpt.domain));
	e->dest.type = DEST_MAILDIR;
	e->dest.addr = e->rcpt;
	(void)snprintf(e->dest.path, sizeof(e->dest.path),
	    "/var/vmail/example.com/rcpt%u", n);
}

/* A new message holding body; returns its fd. */
static int
new_msg(uint32_t *msgid, const char *body)
{
	int	 fd;

	if ((fd = spool_msg_create(msgid)) == -1)
		fatal("spool_msg_create");
	if (write(fd, body, strlen(body)) != (ssize_t)strlen(body))
		fatal("write");
	return fd;
}

static int
exists(const char *fmt, ...)
{
	struct stat	 sb;
	va_list		 ap;
	char		 path[PATH_MAX];

	va_start(ap, fmt);
	(void)vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	return lstat(path, &sb) == 0;
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

/* Cut path at its last '/' (in place). */
static char *
dirname_of(char *path)
{
	char	*p;

	if ((p = strrchr(path, '/')) != NULL)
		*p = '\0';
	return path;
}

/* Entries in incoming/<msgid>. */
static int
count_dir2(uint32_t msgid)
{
	char	 path[64];

	(void)snprintf(path, sizeof(path), "incoming/%08x", msgid);
	return count_dir(path);
}

static void
put_file(const char *path, const char *data, size_t len)
{
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		fatal("open %s", path);
	if (write(fd, data, len) != (ssize_t)len)
		fatal("write %s", path);
	close(fd);
}

static void
put_env(const char *path, const struct envelope *e)
{
	char	 buf[8192];
	int	 len;

	if ((len = envelope_dump(e, buf, sizeof(buf))) < 0)
		fatalx("envelope_dump");
	put_file(path, buf, len);
}

static void
test_init(void)
{
	struct stat	 sb;

	/* Left by a crash: never acknowledged, so purged. */
	if (mkdir("incoming", 0700) == -1 ||
	    mkdir("incoming/0000abcd", 0700) == -1 ||
	    mkdir("incoming/0000abcd/sub", 0700) == -1)
		fatal("mkdir");
	put_file("incoming/0000abcd/message", "half a message", 14);
	put_file("incoming/0000abcd/sub/x", "x", 1);
	put_file("incoming/stray", "x", 1);
	put_file("../keep", "keep", 4);
	if (symlink("../keep", "incoming/link") == -1 ||
	    symlink("..", "incoming/dirlink") == -1)
		fatal("symlink");

	is_int(spool_init(), 0, "spool_init");
	ok(stat("queue", &sb) == 0 && S_ISDIR(sb.st_mode) &&
	    (sb.st_mode & 0777) == 0700, "queue/ created 0700");
	ok(stat("corrupt", &sb) == 0 && S_ISDIR(sb.st_mode) &&
	    (sb.st_mode & 0777) == 0700, "corrupt/ created 0700");
	ok(stat("incoming", &sb) == 0 && S_ISDIR(sb.st_mode),
	    "incoming/ kept");
	is_int(count_dir("incoming"), 0, "incoming/ purged");
	ok(exists("../keep"), "symlink target outside not touched");
	is_int(spool_init(), 0, "spool_init again");
	is_int(walk(), 0, "empty queue: walk sees nothing");
}

static uint32_t	 ids1[1], ids3[3];
static struct envelope envs1[2], envs3a[1], envs3b[3], envs3c[5];

static void
test_commit(void)
{
	struct envelope	*ev3[3];
	const struct envelope *e;
	struct stat	 sb;
	size_t		 nev1, nev3[3], i, k;
	char		 buf[64], path[PATH_MAX];
	int		 fd1, fds[3], fd, ok_all, n;
	struct envelope	*ev1;

	fd1 = new_msg(&ids1[0], "Subject: one\r\n\r\nbody one\r\n");
	ok(ids1[0] != 0, "msgid is not 0");
	ok(exists("incoming/%08x/message", ids1[0]), "incoming file exists");
	(void)snprintf(path, sizeof(path), "incoming/%08x/message", ids1[0]);
	ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600,
	    "message file mode 0600");
	make_env(&envs1[0], ids1[0], 0);
	make_env(&envs1[1], ids1[0], 1);
	ev1 = envs1;
	nev1 = 2;
	is_int(spool_commit(1, ids1, &fd1, &ev1, &nev1), 0, "commit 1");
	close(fd1);
	ok(exists("queue/%08x/message", ids1[0]), "message in queue/");
	ok(exists("queue/%08x/%016llx", ids1[0],
	    (unsigned long long)envs1[0].id) &&
	    exists("queue/%08x/%016llx", ids1[0],
	    (unsigned long long)envs1[1].id), "both envelopes in queue/");
	is_int(count_dir("incoming"), 0, "nothing left in incoming/");

	for (i = 0; i < 3; i++) {
		(void)snprintf(buf, sizeof(buf), "Subject: %zu\r\n\r\n%zu\r\n",
		    i, i);
		fds[i] = new_msg(&ids3[i], buf);
	}
	for (k = 0; k < 1; k++)
		make_env(&envs3a[k], ids3[0], k);
	for (k = 0; k < 3; k++)
		make_env(&envs3b[k], ids3[1], 10 + k);
	for (k = 0; k < 5; k++)
		make_env(&envs3c[k], ids3[2], 20 + k);
	ev3[0] = envs3a;
	ev3[1] = envs3b;
	ev3[2] = envs3c;
	nev3[0] = 1;
	nev3[1] = 3;
	nev3[2] = 5;
	is_int(spool_commit(3, ids3, fds, ev3, nev3), 0, "commit 3");
	for (i = 0; i < 3; i++)
		close(fds[i]);
	ok_all = 1;
	for (i = 0; i < 3; i++) {
		if (!exists("queue/%08x/message", ids3[i]))
			ok_all = 0;
		for (k = 0; k < nev3[i]; k++)
			if (!exists("queue/%08x/%016llx", ids3[i],
			    (unsigned long long)ev3[i][k].id))
				ok_all = 0;
		if (count_dir("queue") < 0)
			ok_all = 0;
	}
	ok(ok_all, "3 messages and 9 envelopes in queue/");
	is_int(count_dir("queue"), 4, "4 message directories");
	is_int(count_dir("incoming"), 0, "incoming/ empty again");

	/* The committed body reads back. */
	fd = spool_msg_open(ids3[1]);
	ok(fd >= 0, "spool_msg_open");
	n = fd >= 0 ? (int)read(fd, buf, sizeof(buf)) : -1;
	ok(n == 17 && memcmp(buf, "Subject: 1\r\n\r\n1\r\n", 17) == 0,
	    "body reads back");
	if (fd >= 0)
		close(fd);
	is_int(spool_msg_open(0x12345678), -1, "open of unknown msgid");

	is_int(walk(), 11, "walk sees 11 envelopes");
	ok_all = 1;
	for (k = 0; k < 2; k++)
		if ((e = found(envs1[k].id)) == NULL || !same(e, &envs1[k]))
			ok_all = 0;
	for (i = 0; i < 3; i++)
		for (k = 0; k < nev3[i]; k++)
			if ((e = found(ev3[i][k].id)) == NULL ||
			    !same(e, &ev3[i][k]))
				ok_all = 0;
	ok(ok_all, "walk gives back every envelope, equal field by field");
	is_int(spool_commit(0, NULL, NULL, NULL, NULL), 0, "empty commit");
}

static void
test_commit_fail(void)
{
	struct envelope	 good[2], badev[2], *ev[2];
	uint32_t	 ids[2];
	size_t		 nev[2];
	char		 path[64];
	int		 fds[2], st[2] = { 7, 7 }, i, badfd = -1;

	fds[0] = new_msg(&ids[0], "good\r\n");
	fds[1] = new_msg(&ids[1], "bad\r\n");
	make_env(&good[0], ids[0], 40);
	make_env(&good[1], ids[0], 41);
	make_env(&badev[0], ids[1], 42);
	make_env(&badev[1], ids[0], 43);	/* another message's id */
	ev[0] = good;
	ev[1] = badev;
	nev[0] = nev[1] = 2;

	/* All or nothing. */
	is_int(spool_commit(2, ids, fds, ev, nev), -1,
	    "commit with a bad envelope fails");
	ok(!exists("queue/%08x", ids[0]) && !exists("queue/%08x", ids[1]),
	    "all or nothing: neither message in queue/");
	is_int(count_dir("incoming"), 2, "both back in incoming/");
	for (i = 0; i < 2; i++)
		is_int(count_dir2(ids[i]), 1, "only the message file left");

	/* Per message. */
	is_int(spool_commit_status(2, ids, fds, ev, nev, st), -1,
	    "commit_status with one bad message");
	is_int(st[0], 0, "good message committed");
	is_int(st[1], -1, "bad message failed");
	ok(exists("queue/%08x/%016llx", ids[0],
	    (unsigned long long)good[1].id), "good message in queue/");
	ok(!exists("queue/%08x", ids[1]), "bad message not in queue/");
	is_int(count_dir2(ids[1]), 1, "bad message: envelopes undone");
	spool_msg_abort(ids[1]);
	is_int(count_dir("incoming"), 0, "aborted");
	close(fds[1]);

	/* A body whose fsync fails: bad descriptor. */
	fds[1] = new_msg(&ids[1], "x\r\n");
	make_env(&badev[0], ids[1], 44);
	ev[0] = badev;
	nev[0] = 1;
	is_int(spool_commit_status(1, &ids[1], &badfd, ev, nev, st), -1,
	    "body fsync failure fails");
	is_int(st[0], -1, "status -1");
	ok(!exists("incoming/%08x/%016llx", ids[1],
	    (unsigned long long)badev[0].id), "no envelope written");

	/* Duplicate envelope ids: O_EXCL refuses the second. */
	make_env(&badev[1], ids[1], 44);
	ev[0] = badev;
	nev[0] = 2;
	is_int(spool_commit(1, &ids[1], &fds[1], ev, nev), -1,
	    "duplicate envelope id fails");
	is_int(count_dir2(ids[1]), 1, "and is undone");
	nev[0] = 0;
	is_int(spool_commit(1, &ids[1], &fds[1], ev, nev), -1,
	    "message without envelopes fails");
	spool_msg_abort(ids[1]);
	close(fds[1]);
	close(fds[0]);
	is_int(count_dir("incoming"), 0, "incoming/ empty");

	/*
	 * A rename that fails after another message of the batch was
	 * renamed: that one is taken back out of queue/ too.
	 */
	fds[0] = new_msg(&ids[0], "first\r\n");
	fds[1] = new_msg(&ids[1], "second\r\n");
	make_env(&badev[0], ids[0], 45);
	make_env(&badev[1], ids[1], 46);
	ev[0] = &badev[0];
	ev[1] = &badev[1];
	nev[0] = nev[1] = 1;
	(void)snprintf(path, sizeof(path), "queue/%08x", ids[1]);
	if (mkdir(path, 0700) == -1)
		fatal("mkdir");
	(void)snprintf(path, sizeof(path), "queue/%08x/x", ids[1]);
	put_file(path, "x", 1);
	is_int(spool_commit(2, ids, fds, ev, nev), -1,
	    "commit with a failing rename fails");
	ok(!exists("queue/%08x", ids[0]), "first message taken back");
	is_int(count_dir2(ids[0]), 1, "first message: body only");
	is_int(count_dir2(ids[1]), 1, "second message: body only");
	is_int(spool_commit_status(2, ids, fds, ev, nev, st), -1,
	    "commit_status with a failing rename");
	ok(st[0] == 0 && st[1] == -1, "first committed, second not");
	ok(exists("queue/%08x/%016llx", ids[0],
	    (unsigned long long)badev[0].id), "first is in queue/");
	is_int(count_dir2(ids[1]), 1, "second message: body only");
	spool_msg_abort(ids[1]);
	if (unlink(path) == -1 || rmdir(dirname_of(path)) == -1)
		fatal("cleanup");
	is_int(spool_env_remove(badev[0].id), 0, "remove first");
	close(fds[0]);
	close(fds[1]);

	/* Leave the queue as test_commit left it. */
	is_int(spool_env_remove(good[0].id), 0, "remove good 0");
	is_int(spool_env_remove(good[1].id), 0, "remove good 1");
	ok(!exists("queue/%08x", ids[0]), "good message gone");
}

static void
test_update_remove(void)
{
	struct envelope	 e;
	const struct envelope *f;
	char		 path[64];
	size_t		 k;
	int		 still = 1;

	e = envs1[0];
	e.retries = 3;
	e.lasttry = 1700000500;
	(void)strlcpy(e.errmsg, "421 4.3.0 try again later",
	    sizeof(e.errmsg));
	is_int(spool_env_update(&e), 0, "update");
	(void)snprintf(path, sizeof(path), "queue/%08x", ids1[0]);
	is_int(count_dir(path), 3, "no .tmp left after update");
	is_int(walk(), 11, "walk after update");
	f = found(e.id);
	ok(f != NULL && f->retries == 3 && same(f, &e),
	    "walk shows the new retries and error");
	envs1[0] = e;

	e.id = (uint64_t)ids1[0] << 32 | 0x9999;
	is_int(spool_env_update(&e), -1, "update of a missing envelope");
	ok(!exists("queue/%08x/%016llx", ids1[0],
	    (unsigned long long)e.id) && !exists("queue/%08x/%016llx.tmp",
	    ids1[0], (unsigned long long)e.id), "and it is not created");

	for (k = 0; k < 5; k++) {
		is_int(spool_env_remove(envs3c[k].id), 0, "remove");
		if (k < 4 && !exists("queue/%08x/message", ids3[2]))
			still = 0;
	}
	ok(still, "message kept while envelopes are left");
	ok(!exists("queue/%08x", ids3[2]), "directory gone after the last");
	is_int(spool_env_remove(envs3c[0].id), -1, "remove again fails");

	/* A leftover .tmp does not keep the directory alive. */
	(void)snprintf(path, sizeof(path), "queue/%08x/%016llx.tmp", ids3[0],
	    (unsigned long long)envs3a[0].id);
	put_file(path, "x", 1);
	is_int(spool_env_remove(envs3a[0].id), 0, "remove the only envelope");
	ok(!exists("queue/%08x", ids3[0]), "directory and .tmp gone");
	is_int(walk(), 5, "walk after removals");
}

static void
test_corrupt(void)
{
	struct envelope	 x;
	const struct envelope *f;
	char		 path[PATH_MAX], big[9000];
	size_t		 k;
	int		 ok_all, ncorrupt;

	/* a: garbage */
	(void)snprintf(path, sizeof(path), "queue/%08x/%08x00007777",
	    ids1[0], ids1[0]);
	put_file(path, "garbage\n", 8);
	/* b: content id differs from the file name */
	make_env(&x, ids1[0], 50);
	(void)snprintf(path, sizeof(path), "queue/%08x/%08x00008888",
	    ids1[0], ids1[0]);
	put_env(path, &x);
	/* c: envelope of another message */
	make_env(&x, ids3[1], 51);
	(void)snprintf(path, sizeof(path), "queue/%08x/%016llx", ids1[0],
	    (unsigned long long)x.id);
	put_env(path, &x);
	/* d: stray .tmp */
	(void)snprintf(path, sizeof(path), "queue/%08x/%016llx.tmp",
	    ids3[1], (unsigned long long)envs3b[0].id);
	put_file(path, "half", 4);
	/* e: stray file, and a hostile name */
	(void)snprintf(path, sizeof(path), "queue/%08x/junk", ids3[1]);
	put_file(path, "junk", 4);
	(void)snprintf(path, sizeof(path), "queue/%08x/bad\nname", ids3[1]);
	put_file(path, "x", 1);
	/* f: crash after the last delivery; an empty directory */
	if (mkdir("queue/0badf00d", 0700) == -1 ||
	    mkdir("queue/0badf00e", 0700) == -1)
		fatal("mkdir");
	put_file("queue/0badf00d/message", "x", 1);
	/* g: envelope without a message */
	if (mkdir("queue/0badf00f", 0700) == -1)
		fatal("mkdir");
	make_env(&x, 0x0badf00f, 52);
	(void)snprintf(path, sizeof(path), "queue/0badf00f/%016llx",
	    (unsigned long long)x.id);
	put_env(path, &x);
	/* h: strays at the top */
	put_file("queue/notamsg", "x", 1);
	if (mkdir("queue/ABCDEF01", 0700) == -1 ||
	    symlink("../../keep", "queue/0badbad0") == -1)
		fatal("mkdir");
	/* i: too large; j: a FIFO; m: a directory */
	memset(big, 'a', sizeof(big));
	(void)snprintf(path, sizeof(path), "queue/%08x/%08x00009999",
	    ids1[0], ids1[0]);
	put_file(path, big, sizeof(big));
	(void)snprintf(path, sizeof(path), "queue/%08x/%08x0000aaaa",
	    ids1[0], ids1[0]);
	if (mkfifo(path, 0600) == -1)
		fatal("mkfifo");
	(void)snprintf(path, sizeof(path), "queue/%08x/%08x0000bbbb",
	    ids1[0], ids1[0]);
	if (mkdir(path, 0700) == -1)
		fatal("mkdir");
	/* l: only bad envelopes: the body is kept in corrupt/ */
	if (mkdir("queue/0badf011", 0700) == -1)
		fatal("mkdir");
	put_file("queue/0badf011/message", "body", 4);
	put_file("queue/0badf011/0badf01100000001", "version: 9\n", 11);

	is_int(walk(), 5, "walk with damage: only the 5 good envelopes");
	ok_all = 1;
	for (k = 0; k < 2; k++)
		if ((f = found(envs1[k].id)) == NULL || !same(f, &envs1[k]))
			ok_all = 0;
	for (k = 0; k < 3; k++)
		if ((f = found(envs3b[k].id)) == NULL || !same(f, &envs3b[k]))
			ok_all = 0;
	ok(ok_all, "the good envelopes are intact");

	ok(exists("corrupt/%08x00007777", ids1[0]) &&
	    !exists("queue/%08x/%08x00007777", ids1[0], ids1[0]),
	    "garbage moved to corrupt/");
	ok(exists("corrupt/%08x00008888", ids1[0]),
	    "id not matching the name moved to corrupt/");
	ok(exists("corrupt/%016llx", (unsigned long long)x.id),
	    "envelope without message moved to corrupt/");
	ok(!exists("queue/0badf00f"), "its directory removed");
	make_env(&x, ids3[1], 51);
	ok(exists("corrupt/%016llx", (unsigned long long)x.id) &&
	    !exists("queue/%08x/%016llx", ids1[0], (unsigned long long)x.id),
	    "envelope in the wrong directory moved to corrupt/");
	ok(!exists("queue/%08x/%016llx.tmp", ids3[1],
	    (unsigned long long)envs3b[0].id) &&
	    !exists("corrupt/%016llx.tmp", (unsigned long long)envs3b[0].id),
	    "stray .tmp removed");
	ok(exists("corrupt/junk") && !exists("queue/%08x/junk", ids3[1]),
	    "stray file moved to corrupt/");
	ok(exists("corrupt/bad_name"), "hostile name moved, made printable");
	ok(!exists("queue/0badf00d") && !exists("queue/0badf00e"),
	    "message directories without envelopes removed");
	ok(exists("corrupt/notamsg") && exists("corrupt/ABCDEF01") &&
	    exists("corrupt/0badbad0") && !exists("queue/notamsg"),
	    "strays at the top of queue/ moved to corrupt/");
	ok(exists("../keep"), "symlink target not touched");
	ok(exists("corrupt/%08x00009999", ids1[0]), "oversized moved");
	ok(exists("corrupt/%08x0000aaaa", ids1[0]), "FIFO moved");
	ok(exists("corrupt/%08x0000bbbb", ids1[0]), "directory moved");
	ok(exists("corrupt/0badf01100000001") &&
	    exists("corrupt/0badf011.message") && !exists("queue/0badf011"),
	    "body of a message with only bad envelopes kept in corrupt/");
	is_int(count_dir("queue"), 2, "two message directories left");

	ncorrupt = count_dir("corrupt");
	is_int(walk(), 5, "second walk: the same 5");
	is_int(count_dir("corrupt"), ncorrupt, "second walk moves nothing");

	/* The same bad name again does not overwrite the first. */
	(void)snprintf(path, sizeof(path), "queue/%08x/junk", ids3[1]);
	put_file(path, "junk2", 5);
	is_int(walk(), 5, "walk with a second junk");
	ok(exists("corrupt/junk") && exists("corrupt/junk.1"),
	    "corrupt/junk kept, the new one is junk.1");
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t	 x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void
test_abort_ids(void)
{
	static uint32_t	 ids[1000];
	uint32_t	 msgid;
	size_t		 i;
	int		 fd, dup = 0, zero = 0, bad = 0;

	fd = new_msg(&msgid, "aborted\r\n");
	ok(exists("incoming/%08x/message", msgid), "incoming message");
	spool_msg_abort(msgid);
	close(fd);
	ok(!exists("incoming/%08x", msgid), "abort removes it");
	spool_msg_abort(msgid);
	ok(1, "abort of a missing message does not crash");

	for (i = 0; i < nitems(ids); i++) {
		if ((fd = spool_msg_create(&ids[i])) == -1) {
			bad++;
			continue;
		}
		close(fd);
	}
	is_int(bad, 0, "1000 creates");
	is_int(count_dir("incoming"), 1000, "1000 incoming directories");
	qsort(ids, nitems(ids), sizeof(ids[0]), cmp_u32);
	for (i = 0; i < nitems(ids); i++) {
		if (ids[i] == 0)
			zero++;
		if (i > 0 && ids[i] == ids[i - 1])
			dup++;
	}
	is_int(zero, 0, "no msgid is 0");
	is_int(dup, 0, "msgids unique");
	for (i = 0; i < nitems(ids); i++)
		spool_msg_abort(ids[i]);
	is_int(count_dir("incoming"), 0, "all aborted");
	/* And spool_init purges whatever is there. */
	fd = new_msg(&msgid, "x");
	close(fd);
	is_int(spool_init(), 0, "spool_init again");
	is_int(count_dir("incoming"), 0, "incoming purged at start");
	is_int(walk(), 5, "queue untouched by the purge");
}

int
main(void)
{
	char	 dir[] = "/tmp/test_spool.XXXXXX", cmd[64];

	log_init(1, 0);
	umask(022);
	if (mkdtemp(dir) == NULL || chdir(dir) == -1 ||
	    mkdir("spool", 0700) == -1 || chdir("spool") == -1)
		fatal("mkdtemp");
	printf("# in %s/spool\n", dir);

	test_init();
	test_commit();
	test_commit_fail();
	test_update_remove();
	test_corrupt();
	test_abort_ids();

	if (tap_failed == 0 && chdir("/") == 0) {
		(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		(void)system(cmd);
	}
	return done_testing();
}
