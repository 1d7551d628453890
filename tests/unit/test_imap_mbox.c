/*
 * Unit tests for imap_mbox*.c, each in a Maildir made in a temporary
 * mail root (the process chdirs there, as the imap process does):
 * first sync, flags from names, STORE renames and MODSEQs, expunges
 * and VANISHED history, APPEND, COPY between mailboxes, commit and
 * reopen with the cache, sort keys kept in it, a corrupt cache, a
 * Dovecot Maildir, reading
 * with LF -> CRLF and the LRU, files that vanish or turn into symbolic
 * links, create/remove and hostile names, symbolic links as the
 * mailbox, a directory above it or its cur/ new/ tmp/, state files
 * half-written by a crash.  Fixtures: tests/data/mbox (run from the
 * top directory).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imap_mbox.h"
#include "imap_sort.h"
#include "log.h"
#include "maild.h"
#include "mflags.h"
#include "mime.h"
#include "tap.h"
#include "util.h"

#define DATA	"tests/data/mbox/"

static char	 top[PATH_MAX];		/* the repository (fixtures) */
static char	 root[PATH_MAX];	/* the temporary mail root */

static void	 put(const char *, const char *);
static void	 put_fixture(const char *, const char *);
static char	*get(const char *, size_t *);
static int	 exists(const char *);
static int	 count_dir(const char *);
static int	 find_file(const char *, const char *, char *, size_t);
static int	 find_suffix(const char *, const char *, char *, size_t);
static int	 rm_cb(const char *, const struct stat *, int, struct FTW *);
static void	 test_sync(void);
static void	 test_store(void);
static void	 test_expunge(void);
static void	 test_append(void);
static void	 test_stage(void);
static void	 test_copy(void);
static void	 test_reopen(void);
static void	 test_sortkeys(void);
static void	 test_dovecot(void);
static void	 test_read(void);
static void	 test_hostile(void);
static void	 test_create_remove(void);
static void	 test_big(void);
static void	 test_header(void);
static void	 test_links(void);
static void	 test_stale(void);

static void
put(const char *path, const char *s)
{
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		fatal("%s", path);
	if (write_full(fd, s, strlen(s)) == -1)
		fatal("write %s", path);
	close(fd);
}

static void
put_fixture(const char *name, const char *path)
{
	char	 src[PATH_MAX], *buf;
	size_t	 len;
	int	 fd;

	if ((size_t)snprintf(src, sizeof(src), "%s/%s%s", top, DATA, name) >=
	    sizeof(src))
		fatalx("fixture path too long");
	if ((fd = open(src, O_RDONLY)) == -1)
		fatal("%s", src);
	if ((buf = read_fd(fd, 1024 * 1024, &len)) == NULL)
		fatal("read %s", src);
	close(fd);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		fatal("%s", path);
	if (write_full(fd, buf, len) == -1)
		fatal("write %s", path);
	close(fd);
	free(buf);
}

static char *
get(const char *path, size_t *len)
{
	char	*buf;
	int	 fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return NULL;
	buf = read_fd(fd, 64 * 1024 * 1024, len);
	close(fd);
	return buf;
}

static int
exists(const char *path)
{
	struct stat	 st;

	return lstat(path, &st) == 0;
}

static int
count_dir(const char *path)
{
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The name in dir that starts with prefix, into out: 1 or 0. */
static int
find_file(const char *dir, const char *prefix, char *out, size_t len)
{
	struct dirent	*de;
	DIR		*d;
	int		 found = 0;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' &&
		    strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
			snprintf(out, len, "%s/%s", dir, de->d_name);
			found = 1;
			break;
		}
	closedir(d);
	return found;
}

/* The name in dir that ends in suffix, into out: 1 or 0. */
static int
find_suffix(const char *dir, const char *suffix, char *out, size_t len)
{
	struct dirent	*de;
	DIR		*d;
	size_t		 l, sl = strlen(suffix);
	int		 found = 0;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		l = strlen(de->d_name);
		if (l > sl && strcmp(de->d_name + l - sl, suffix) == 0) {
			snprintf(out, len, "%s/%s", dir, de->d_name);
			found = 1;
			break;
		}
	}
	closedir(d);
	return found;
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
test_sync(void)
{
	struct mbox		*m, *m2;
	const struct mbox_msg	*msg;
	uint64_t		 hms;

	m = mbox_open("u1", 0);
	ok(m == NULL && errno == ENOENT, "open of a missing mailbox: ENOENT");
	m = mbox_open("u1", 1);
	ok(m != NULL, "open with create");
	if (m == NULL)
		return;
	ok(exists("u1/cur") && exists("u1/new") && exists("u1/tmp"),
	    "cur/ new/ tmp/ made");
	ok(!exists("u1/maildirfolder"), "the root is not a folder");
	ok(exists("u1/maild-uidlist"), "the UID list is saved on open");
	is_int(mbox_count(m), 0, "empty");
	is_int(mbox_uidnext(m), 1, "UIDNEXT 1");
	ok(mbox_uidvalidity(m) != 0, "UIDVALIDITY set");
	is_int(mbox_first_unseen(m), -1, "no unseen");
	is_int(mbox_sync(m), 0, "nothing to sync");

	/* Delivered by hand, out of name order. */
	put("u1/new/1700000002.B.host", "Subject: b\r\n\r\nb\r\n");
	put("u1/cur/1700000003.C.host:2,FS", "Subject: c\r\n\r\nc\r\n");
	put("u1/new/1700000001.A.host", "Subject: a\r\n\r\na\r\n");
	hms = mbox_highestmodseq(m);
	is_int(mbox_sync(m), 1, "sync sees new files");
	is_int(mbox_count(m), 3, "three messages");
	is_int(mbox_msg(m, 0)->uid, 1, "UIDs in name order (1)");
	is_int(mbox_msg(m, 1)->uid, 2, "UIDs in name order (2)");
	is_int(mbox_msg(m, 2)->uid, 3, "UIDs in name order (3)");
	is_int(mbox_uidnext(m), 4, "UIDNEXT 4");
	msg = mbox_msg(m, 2);
	is_int(msg->sys, MFLAG_FLAGGED | MFLAG_SEEN, "flags from the name");
	is_int(mbox_msg(m, 0)->sys, 0, "no flags");
	ok(mbox_msg(m, 0)->modseq > hms && mbox_msg(m, 1)->modseq >
	    mbox_msg(m, 0)->modseq && mbox_msg(m, 2)->modseq >
	    mbox_msg(m, 1)->modseq, "new messages get new MODSEQs");
	is_int(mbox_highestmodseq(m), mbox_msg(m, 2)->modseq,
	    "HIGHESTMODSEQ is the last one");
	is_int(count_dir("u1/new"), 0, "new/ emptied");
	ok(exists("u1/cur/1700000001.A.host:2,") &&
	    exists("u1/cur/1700000002.B.host:2,"), "moved to cur/ with :2,");
	is_int(mbox_unseen(m), 2, "two unseen");
	is_int(mbox_first_unseen(m), 0, "first unseen");
	is_int(mbox_find(m, 2), 1, "find UID 2");
	is_int(mbox_find(m, 99), -1, "find a missing UID");
	ok(mbox_msg(m, 3) == NULL, "no index 3");
	is_int(mbox_sync(m), 0, "second sync: no change");
	is_int(mbox_count(m), 3, "still three");

	m2 = mbox_open("u1", 0);
	ok(m2 == m, "a second open shares the object");
	mbox_close(m2);
	is_int(mbox_count(m), 3, "still usable after one close");
	is_str(mbox_dir(m), "u1", "mbox_dir");
	ok(mbox_commit(m) == 0, "commit");
	mbox_close(m);

	m = mbox_open("u1", 0);
	ok(m != NULL && mbox_count(m) == 3 && mbox_msg(m, 2)->uid == 3 &&
	    mbox_msg(m, 2)->sys == (MFLAG_FLAGGED | MFLAG_SEEN),
	    "reopen: same UIDs and flags");
	mbox_close(m);
}

static void
test_store(void)
{
	struct mbox	*m;
	struct stat	 st1, st2;
	char		 path[PATH_MAX];
	uint64_t	 hms, ms;
	int		 kw;

	if ((m = mbox_open("u1", 0)) == NULL) {
		ok(0, "open u1");
		return;
	}
	hms = mbox_highestmodseq(m);
	if (stat("u1/maild-uidlist", &st1) == -1)
		fatal("stat");
	is_int(mbox_store(m, 0, MFLAG_SEEN | MFLAG_ANSWERED, 0), 1, "store");
	ok(exists("u1/cur/1700000001.A.host:2,RS"), "renamed to :2,RS");
	ok(!exists("u1/cur/1700000001.A.host:2,"), "old name gone");
	is_int(mbox_msg(m, 0)->modseq, hms + 1, "MODSEQ is HIGHESTMODSEQ + 1");
	is_int(mbox_highestmodseq(m), hms + 1, "HIGHESTMODSEQ bumped");
	is_int(mbox_msg(m, 0)->sys, MFLAG_SEEN | MFLAG_ANSWERED,
	    "flags in the list");
	if (stat("u1/maild-uidlist", &st2) == -1)
		fatal("stat");
	ok(st1.st_ino == st2.st_ino, "store does not rewrite the UID list");
	is_int(mbox_store(m, 0, MFLAG_SEEN | MFLAG_ANSWERED, 0), 1,
	    "same flags");
	is_int(mbox_msg(m, 0)->modseq, hms + 1, "same flags: same MODSEQ");
	is_int(mbox_store(m, 0, MFLAG_SEEN | MFLAG_ANSWERED | MFLAG_RECENT,
	    0), 1, "\\Recent is never stored");
	is_int(mbox_msg(m, 0)->modseq, hms + 1, "still the same MODSEQ");

	kw = mbox_keyword_assign(m, "$Label1");
	is_int(kw, 0, "first keyword is letter a");
	is_int(mbox_keyword_assign(m, "$label1"), 0, "case-insensitive");
	is_int(mbox_keyword_assign(m, "bad keyword"), MFLAGS_KW_INVALID,
	    "invalid keyword");
	is_int(mbox_keyword_count(m), 1, "one keyword");
	is_str(mbox_keyword(m, 0), "$Label1", "its name");
	ok(mbox_keyword(m, 1) == NULL && mbox_keyword(m, 26) == NULL &&
	    mbox_keyword(m, -1) == NULL, "unused and out of range");
	is_int(mbox_store(m, 1, MFLAG_FLAGGED, 1U << kw), 1, "store keyword");
	ok(exists("u1/cur/1700000002.B.host:2,Fa"), "renamed to :2,Fa");
	ok(exists("u1/dovecot-keywords"), "keyword saved before the rename");

	ok(mbox_commit(m) == 0, "commit");
	if (stat("u1/maild-uidlist", &st2) == -1)
		fatal("stat");
	ok(st1.st_ino != st2.st_ino, "commit rewrote the UID list");

	/* Another program changes flags: a new MODSEQ at the next sync. */
	ms = mbox_msg(m, 2)->modseq;
	if (rename("u1/cur/1700000003.C.host:2,FS",
	    "u1/cur/1700000003.C.host:2,FST") == -1)
		fatal("rename");
	is_int(mbox_sync(m), 1, "sync sees a flag change");
	is_int(mbox_msg(m, 2)->sys, MFLAG_FLAGGED | MFLAG_SEEN |
	    MFLAG_DELETED, "new flags");
	ok(mbox_msg(m, 2)->modseq > ms, "and a new MODSEQ");

	/* Renamed behind our back: the store finds the file. */
	if (rename("u1/cur/1700000003.C.host:2,FST",
	    "u1/cur/1700000003.C.host:2,FSTZ") == -1)
		fatal("rename");
	is_int(mbox_store(m, 2, MFLAG_SEEN, 0), 1, "store after a rename");
	ok(exists("u1/cur/1700000003.C.host:2,SZ"),
	    "unknown letters are kept");

	/* Gone: 0, the caller syncs. */
	snprintf(path, sizeof(path), "u1/cur/1700000003.C.host:2,SZ");
	if (unlink(path) == -1)
		fatal("unlink");
	is_int(mbox_store(m, 2, MFLAG_DRAFT, 0), 0, "store of a gone file");
	is_int(mbox_store(m, 7, MFLAG_DRAFT, 0), -1, "bad index");
	is_int(mbox_sync(m), 1, "sync");
	is_int(mbox_count(m), 2, "the gone one is expunged");
	mbox_close(m);
}

static void
test_expunge(void)
{
	struct mbox	*m;
	uint32_t	*uids;
	size_t		 n;
	uint64_t	 hms;
	uint32_t	 uid;

	if ((m = mbox_open("u1", 0)) == NULL) {
		ok(0, "open u1");
		return;
	}
	hms = mbox_highestmodseq(m);
	ok(mbox_vanished_since(m, hms, &uids, &n) == 0 && n == 0 &&
	    uids == NULL, "nothing vanished since HIGHESTMODSEQ");
	ok(mbox_vanished_since(m, 0, &uids, &n) == -1,
	    "history does not reach back to 0");
	uid = mbox_msg(m, 0)->uid;
	is_int(mbox_expunge(m, 0), 0, "expunge");
	ok(!exists("u1/cur/1700000001.A.host:2,RS"), "file unlinked");
	is_int(mbox_count(m), 1, "one left");
	ok(mbox_highestmodseq(m) > hms, "HIGHESTMODSEQ bumped");
	ok(mbox_vanished_since(m, hms, &uids, &n) == 0 && n == 1 &&
	    uids[0] == uid, "vanished since the old HIGHESTMODSEQ");
	free(uids);
	ok(mbox_vanished_since(m, mbox_highestmodseq(m), &uids, &n) == 0 &&
	    n == 0, "nothing after the new one");
	is_int(mbox_expunge(m, 5), -1, "bad index");
	is_int(mbox_sync(m), 0, "sync after expunge: nothing new");

	/* A file removed by another program counts too. */
	put("u1/new/1700000004.D.host", "Subject: d\r\n\r\nd\r\n");
	put("u1/new/1700000005.E.host", "Subject: e\r\n\r\ne\r\n");
	is_int(mbox_sync(m), 1, "two more");
	if (unlink("u1/cur/1700000002.B.host:2,Fa") == -1)
		fatal("unlink");
	is_int(mbox_sync(m), 1, "sync sees the removal");
	ok(mbox_vanished_since(m, hms, &uids, &n) == 0 && n == 2 &&
	    uids[0] == uid && uids[1] == 2, "both in the history, ascending");
	free(uids);
	ok(mbox_commit(m) == 0, "commit");
	mbox_close(m);

	/* The history is in the cache file: it survives a reopen. */
	m = mbox_open("u1", 0);
	ok(m != NULL && mbox_vanished_since(m, hms, &uids, &n) == 0 &&
	    n == 2 && uids[0] == uid, "history kept across reopen");
	free(uids);
	mbox_close(m);
}

static void
test_append(void)
{
	const char *const	 kws[] = { "Work", "bad kw", "$Forwarded" };
	const struct mime_msg	*mime;
	struct mbox		*m;
	const char		*data;
	struct stat		 st;
	char			 path[PATH_MAX], want[64], kwn[16];
	const char		*msg = "Subject: hi\nFrom: a@example.org\n\n"
				    "body\r\nline\n";
	const char		*crlf = "Subject: hi\r\nFrom: a@example.org"
				    "\r\n\r\nbody\r\nline\r\n";
	char			*buf;
	size_t			 len;
	uint64_t		 size, hms;
	uint32_t		 uid, next;
	time_t			 date;
	int			 i, idx;

	if ((m = mbox_open("u1", 0)) == NULL) {
		ok(0, "open u1");
		return;
	}
	next = mbox_uidnext(m);
	hms = mbox_highestmodseq(m);
	ok(mbox_append(m, msg, strlen(msg), MFLAG_SEEN | MFLAG_RECENT, kws,
	    nitems(kws), 1500000000, &uid) == 0, "append");
	is_int(uid, next, "UID is the old UIDNEXT");
	is_int(mbox_uidnext(m), next + 1, "UIDNEXT moves");
	idx = mbox_find(m, uid);
	ok(idx == (int)mbox_count(m) - 1, "appended last");
	is_int(mbox_msg(m, idx)->modseq, hms + 1, "new MODSEQ");
	is_int(mbox_msg(m, idx)->sys, MFLAG_SEEN, "flags");
	is_str(mbox_keyword(m, 1), "Work", "unknown keyword assigned");
	is_str(mbox_keyword(m, 2), "$Forwarded", "second one too");
	is_int(mbox_keyword_count(m), 3, "bad keyword ignored");
	is_int(mbox_msg(m, idx)->kw, (1U << 1) | (1U << 2), "keyword bits");
	snprintf(want, sizeof(want), ",S=%zu,W=%zu:2,Sbc", strlen(crlf),
	    strlen(crlf));
	ok(mbox_read(m, idx, &data, &len, &mime) == 0, "read it back");
	is_int(len, strlen(crlf), "stored with CRLF");
	ok(len == strlen(crlf) && memcmp(data, crlf, len) == 0, "same bytes");
	ok(mbox_size(m, idx, &size) == 0 && size == strlen(crlf), "size");
	ok(mbox_date(m, idx, &date) == 0 && date == 1500000000,
	    "internal date");
	is_int(count_dir("u1/tmp"), 0, "tmp/ is empty");
	ok(find_suffix("u1/cur", want, path, sizeof(path)),
	    "file name has ,S= ,W= and :2,Sbc");
	ok(stat(path, &st) == 0 && st.st_mtime == 1500000000, "mtime set");
	buf = get(path, &len);
	ok(buf != NULL && len == strlen(crlf) && memcmp(buf, crlf, len) == 0,
	    "content on disk is CRLF");
	free(buf);

	ok(mbox_append(m, "x\r\n", 3, 0, NULL, 0, 0, &uid) == 0,
	    "append without date");
	ok(mbox_date(m, mbox_find(m, uid), &date) == 0 &&
	    date >= time(NULL) - 5 && date <= time(NULL) + 1,
	    "date is now");
	ok(mbox_sync(m) == 0, "sync does not count appends twice");

	/* A full keyword table: the new one is ignored, the rest works. */
	for (i = mbox_keyword_count(m); i < MFLAGS_KW_MAX; i++) {
		snprintf(kwn, sizeof(kwn), "k%d", i);
		if (mbox_keyword_assign(m, kwn) < 0)
			fatal("assign");
	}
	is_int(mbox_keyword_assign(m, "one-more"), MFLAGS_KW_FULL, "full");
	ok(mbox_append(m, "y\r\n", 3, 0, (const char *const[]){ "one-more",
	    "Work" }, 2, 0, &uid) == 0, "append with a table full");
	is_int(mbox_msg(m, mbox_find(m, uid))->kw, 1U << 1,
	    "only the known keyword");
	ok(mbox_commit(m) == 0, "commit");
	mbox_close(m);
}

/* Several messages all or none: staged in tmp/, then linked. */
static void
test_stage(void)
{
	struct mbox_staged	 sm[3];
	const struct mime_msg	*mime;
	struct mbox		*m;
	const char		*data;
	char			 path[PATH_MAX];
	size_t			 len, i;
	uint32_t		 first, next, n, cur;

	if ((m = mbox_open("st", 1)) == NULL) {
		ok(0, "open st");
		return;
	}
	next = mbox_uidnext(m);
	n = mbox_count(m);
	for (i = 0; i < 3; i++)
		ok(mbox_stage(m, i == 1 ? "two\n" : "m\r\n", i == 1 ? 4 : 3,
		    i == 2 ? MFLAG_FLAGGED : 0, (const char *const[]){ "St" },
		    i == 2, 0, &sm[i]) == 0, "stage message %zu", i + 1);
	is_int(count_dir("st/tmp"), 3, "three files in tmp/");
	is_int(count_dir("st/cur"), 0, "none in cur/");
	is_int(mbox_count(m), n, "the mailbox does not see them");
	ok(mbox_sync(m) == 0, "nor does a sync");
	ok(mbox_stage_commit(m, sm, 3, &first) == 0, "commit the three");
	is_int(first, next, "the first UID is the old UIDNEXT");
	is_int(mbox_uidnext(m), next + 3, "UIDs consecutive");
	is_int(mbox_count(m), n + 3, "all three there");
	is_int(count_dir("st/tmp"), 0, "tmp/ empty");
	is_int(count_dir("st/cur"), 3, "cur/ holds them");
	ok(mbox_read(m, mbox_find(m, next + 1), &data, &len, &mime) == 0 &&
	    len == 5 && memcmp(data, "two\r\n", 5) == 0,
	    "the second, with CRLF");
	ok(mbox_msg(m, mbox_find(m, next + 2))->sys == MFLAG_FLAGGED &&
	    mbox_msg(m, mbox_find(m, next + 2))->kw != 0,
	    "the third with its flags and keyword");
	for (i = 0; i < 3; i++)
		ok(sm[i].base == NULL && sm[i].rel == NULL,
		    "staged %zu freed", i + 1);

	next = mbox_uidnext(m);
	for (i = 0; i < 2; i++)
		(void)mbox_stage(m, "x\r\n", 3, 0, NULL, 0, 0, &sm[i]);
	mbox_stage_abort(m, sm, 2);
	is_int(count_dir("st/tmp"), 0, "abort: tmp/ empty again");
	is_int(mbox_uidnext(m), next, "abort: UIDNEXT unchanged");

	/* A link that fails: the ones linked before it are removed. */
	for (i = 0; i < 3; i++)
		(void)mbox_stage(m, "y\r\n", 3, 0, NULL, 0, 0, &sm[i]);
	cur = count_dir("st/cur");
	snprintf(path, sizeof(path), "st/tmp/%s", sm[1].base);
	if (unlink(path) == -1)
		fatal("unlink");
	n = mbox_count(m);
	ok(mbox_stage_commit(m, sm, 3, &first) == -1,
	    "commit with the second gone: -1");
	is_int(mbox_count(m), n, "... none added");
	is_int(count_dir("st/cur"), cur, "... the first unlinked from cur/");
	is_int(count_dir("st/tmp"), 0, "... the third removed from tmp/");
	is_int(mbox_uidnext(m), next, "... UIDNEXT unchanged");

	/* A mailbox deleted meanwhile: nothing is added. */
	(void)mbox_stage(m, "z\r\n", 3, 0, NULL, 0, 0, &sm[0]);
	mbox_set_gone(m);
	ok(mbox_stage_commit(m, sm, 1, &first) == -1 && errno == ENOENT,
	    "commit into a gone mailbox: -1 ENOENT");
	is_int(count_dir("st/tmp"), 0, "... its file removed");
	ok(mbox_stage(m, "z\r\n", 3, 0, NULL, 0, 0, &sm[0]) == -1,
	    "no staging there either");
	mbox_close(m);
}

static void
test_copy(void)
{
	const struct mime_msg	*mime;
	struct mbox		*src, *dst;
	struct stat		 st;
	const char		*d1, *d2;
	size_t			 l1, l2;
	char			 path[PATH_MAX];
	uint32_t		 uid;
	int			 kw, i;

	ok(mbox_create("u2") == 0, "create u2");
	ok(mbox_create("u2/.Archive") == 0, "create u2/.Archive");
	src = mbox_open("u2", 0);
	dst = mbox_open("u2/.Archive", 0);
	if (src == NULL || dst == NULL) {
		ok(0, "open");
		return;
	}
	/* Make src's keyword letters differ from dst's. */
	(void)mbox_keyword_assign(src, "Other");
	kw = mbox_keyword_assign(src, "Work");
	is_int(kw, 1, "Work is b in src");
	ok(mbox_append(src, "Subject: c\r\n\r\nc\r\n", 17, MFLAG_FLAGGED,
	    (const char *const[]){ "Work" }, 1, 1400000000, &uid) == 0,
	    "append to src");
	ok(mbox_copy(src, 0, dst, &uid) == 0, "copy");
	is_int(uid, 1, "dst UID 1");
	is_int(mbox_count(dst), 1, "dst has it");
	is_str(mbox_keyword(dst, 0), "Work", "keyword added to dst as a");
	is_int(mbox_msg(dst, 0)->kw, 1U, "keyword bit remapped");
	is_int(mbox_msg(dst, 0)->sys, MFLAG_FLAGGED, "flags kept");
	ok(find_file("u2/.Archive/cur", "", path, sizeof(path)) &&
	    stat(path, &st) == 0 && st.st_nlink == 2, "a hard link");
	l1 = strlen(path);
	ok(l1 > 5 && strcmp(path + l1 - 5, ":2,Fa") == 0, "name has :2,Fa");
	ok(st.st_mtime == 1400000000, "same internal date");
	ok(mbox_read(src, 0, &d1, &l1, &mime) == 0, "read src");
	ok(mbox_read(dst, 0, &d2, &l2, &mime) == 0, "read dst");
	ok(l1 == l2 && memcmp(d1, d2, l1) == 0, "same content");
	ok(mbox_copy(src, 0, src, &uid) == 0 && mbox_count(src) == 2 &&
	    mbox_msg(src, 1)->kw == (1U << 1), "copy into the same mailbox");
	ok(mbox_commit(dst) == 0 && mbox_commit(src) == 0, "commit both");
	for (i = 0; i < 2; i++)
		mbox_close(i == 0 ? src : dst);
	dst = mbox_open("u2/.Archive", 0);
	ok(dst != NULL && mbox_count(dst) == 1 && mbox_msg(dst, 0)->kw == 1 &&
	    mbox_keyword(dst, 0) != NULL &&
	    strcmp(mbox_keyword(dst, 0), "Work") == 0,
	    "dst after reopen: keyword by name");
	mbox_close(dst);
}

static void
test_reopen(void)
{
	struct mbox	*m;
	const char	*env, *body, *bs;
	char		 path[PATH_MAX], *saved_env = NULL, *buf;
	uint32_t	 uv, uids[8];
	uint64_t	 ms[8], size;
	size_t		 n, i, len;
	int		 fd;

	if ((m = mbox_open("u3", 1)) == NULL) {
		ok(0, "open u3");
		return;
	}
	put("u3/new/1700000001.A.host", "From: Ann <ann@example.org>\r\n"
	    "Subject: cached subject\r\n\r\nbody\r\n");
	put("u3/new/1700000002.B.host", "Subject: two\r\nContent-Type: "
	    "text/plain; charset=utf-8\r\n\r\nbody two\r\n");
	mbox_sync(m);
	(void)mbox_keyword_assign(m, "Keep");
	mbox_store(m, 1, MFLAG_SEEN, 1);
	env = mbox_envelope(m, 0);
	ok(env != NULL && strstr(env, "\"cached subject\"") != NULL,
	    "envelope");
	body = mbox_bodystructure(m, 1, 0);
	bs = mbox_bodystructure(m, 1, 1);
	ok(body != NULL && strncmp(body, "(\"text\" \"plain\"", 15) == 0,
	    "BODY");
	ok(bs != NULL && strlen(bs) > strlen(body) &&
	    strncmp(bs, body, strlen(body) - 1) == 0,
	    "BODYSTRUCTURE extends BODY");
	ok(mbox_size(m, 0, &size) == 0 && size == 62, "size");
	if ((saved_env = strdup(env)) == NULL)
		fatal("strdup");
	uv = mbox_uidvalidity(m);
	n = mbox_count(m);
	for (i = 0; i < n; i++) {
		uids[i] = mbox_msg(m, i)->uid;
		ms[i] = mbox_msg(m, i)->modseq;
	}
	ok(mbox_commit(m) == 0, "commit");
	mbox_close(m);
	ok(exists("u3/maild-cache"), "cache file written");

	/* Messages never change: the cache may prove itself by lying. */
	put("u3/cur/1700000001.A.host:2,", "Subject: other\r\n\r\nx\r\n");
	m = mbox_open("u3", 0);
	ok(m != NULL, "reopen");
	if (m == NULL)
		goto done;
	is_int(mbox_uidvalidity(m), uv, "same UIDVALIDITY");
	ok(mbox_count(m) == n && mbox_msg(m, 0)->uid == uids[0] &&
	    mbox_msg(m, 1)->uid == uids[1] && mbox_msg(m, 0)->modseq ==
	    ms[0] && mbox_msg(m, 1)->modseq == ms[1],
	    "same UIDs and MODSEQs");
	ok(mbox_keyword(m, 0) != NULL && strcmp(mbox_keyword(m, 0),
	    "Keep") == 0 && mbox_msg(m, 1)->kw == 1, "same keywords");
	is_str(mbox_envelope(m, 0), saved_env, "envelope from the cache");
	ok(mbox_size(m, 0, &size) == 0 && size == 62, "size from the cache");
	mbox_close(m);

	/* A corrupt cache is ignored wholesale. */
	buf = get("u3/maild-cache", &len);
	ok(buf != NULL && len > 40, "cache readable");
	if (buf != NULL) {
		/* Cut short, as by a full disk. */
		if ((fd = open("u3/maild-cache", O_WRONLY | O_TRUNC)) == -1 ||
		    write_full(fd, buf, len - 5) == -1)
			fatal("write");
		close(fd);
		free(buf);
	}
	m = mbox_open("u3", 0);
	ok(m != NULL && mbox_count(m) == n, "open with a corrupt cache");
	if (m == NULL)
		goto done;
	env = mbox_envelope(m, 0);
	ok(env != NULL && strstr(env, "\"other\"") != NULL,
	    "envelope rendered again");
	ok(mbox_size(m, 0, &size) == 0 && size == 21, "size counted again");
	mbox_close(m);

	/* A cache of another UIDVALIDITY is ignored too. */
	buf = get("u3/maild-cache", &len);
	snprintf(path, sizeof(path), "maild-cache 2 V%u ", uv);
	ok(buf != NULL && strncmp(buf, path, strlen(path)) == 0,
	    "cache header");
	put("u3/cur/1700000001.A.host:2,", "Subject: third\r\n\r\nx\r\n");
	if (buf != NULL) {
		snprintf(path, sizeof(path), "maild-cache 2 V%u ", uv + 1);
		memcpy(buf, path, strlen(path));	/* may grow by 1 */
		if ((fd = open("u3/maild-cache", O_WRONLY | O_TRUNC)) == -1 ||
		    write_full(fd, buf, len) == -1)
			fatal("write");
		close(fd);
		free(buf);
	}
	m = mbox_open("u3", 0);
	env = m != NULL ? mbox_envelope(m, 0) : NULL;
	ok(env != NULL && strstr(env, "\"third\"") != NULL,
	    "cache of another UIDVALIDITY ignored");
	mbox_close(m);

	/*
	 * A cache entry for a UID the list on disk never reached (a crash
	 * between the two writes) must not stick to the next new file.
	 */
	if ((m = mbox_open("u7", 1)) == NULL)
		fatal("open u7");
	uv = mbox_uidvalidity(m);
	size = mbox_highestmodseq(m);
	mbox_close(m);
	if ((fd = open("u7/maild-cache", O_WRONLY | O_CREAT | O_TRUNC,
	    0600)) == -1)
		fatal("open");
	dprintf(fd, "maild-cache 1 V%u M%llu F%llu X0 C1\nE1 3 999 5 8\n",
	    uv, (unsigned long long)size, (unsigned long long)size);
	if (write_full(fd, "(fake)\0\0\n", 9) == -1)
		fatal("write");
	close(fd);
	put("u7/new/1.x", "Subject: real\r\n\r\n");
	m = mbox_open("u7", 0);
	ok(m != NULL && mbox_count(m) == 1 && mbox_msg(m, 0)->uid == 1,
	    "u7: new file is UID 1");
	env = m != NULL ? mbox_envelope(m, 0) : NULL;
	ok(env != NULL && strstr(env, "\"real\"") != NULL &&
	    mbox_size(m, 0, &size) == 0 && size == 17,
	    "cache entry beyond UIDNEXT ignored");
	mbox_close(m);
 done:
	free(saved_env);
}

/*
 * Sort keys: made from the header, kept in maild-cache, believed on the
 * next opening (a message never changes: the cache proves itself by
 * lying), made again from the file when the entry is of another
 * version.
 */
static void
test_sortkeys(void)
{
	struct mbox		*m;
	const struct sort_keys	*k;
	char			*buf, *p;
	size_t			 clen = 0;
	int			 fd;

	if ((m = mbox_open("u10", 1)) == NULL) {
		ok(0, "open u10");
		return;
	}
	put("u10/new/1700000001.A.host", "From: Ann <ann@example.org>\r\n"
	    "Subject: Re: sorted subject\r\nMessage-ID: <s1@x>\r\n"
	    "\r\nbody\r\n");
	mbox_sync(m);
	k = mbox_sortkeys(m, 0);
	ok(k != NULL && strcmp(k->subject, "SORTED SUBJECT") == 0 &&
	    strcmp(k->from, "ANN") == 0 && strcmp(k->msgid, "s1@x") == 0 &&
	    (k->flags & SORT_F_REPLY), "sort keys made from the header");
	ok(mbox_sortkeys(m, 0) == k, "made once, then kept");
	ok(mbox_sortkeys(m, 1) == NULL, "no message 2");
	ok(mbox_commit(m) == 0, "commit");
	mbox_close(m);
	buf = get("u10/maild-cache", &clen);
	ok(buf != NULL && strstr(buf, " K1\n") != NULL &&
	    memmem(buf, clen, "\nK1 ", 4) != NULL,
	    "K entry in the cache file");
	put("u10/cur/1700000001.A.host:2,", "Subject: other\r\n\r\nx\r\n");
	m = mbox_open("u10", 0);
	k = m != NULL ? mbox_sortkeys(m, 0) : NULL;
	ok(k != NULL && strcmp(k->subject, "SORTED SUBJECT") == 0,
	    "sort keys from the cache, the file not read");
	mbox_close(m);
	/* An entry of another version: skipped, the rest of the file kept. */
	if (buf != NULL && (p = memmem(buf, clen, "\nK1 ", 4)) != NULL &&
	    (p = memmem(p, clen - (size_t)(p - buf), "S1 ", 3)) != NULL) {
		p[1] = '9';
		if ((fd = open("u10/maild-cache", O_WRONLY | O_TRUNC)) == -1 ||
		    write_full(fd, buf, clen) == -1)
			fatal("u10/maild-cache");
		close(fd);
	}
	m = mbox_open("u10", 0);
	k = m != NULL ? mbox_sortkeys(m, 0) : NULL;
	ok(k != NULL && strcmp(k->subject, "OTHER") == 0 &&
	    !(k->flags & SORT_F_REPLY),
	    "keys of another version made again from the file");
	mbox_close(m);
	free(buf);
}

static void
test_dovecot(void)
{
	const struct mime_msg	*mime;
	struct mbox		*m;
	const char		*data;
	char			*raw;
	size_t			 len, rawlen, i, bare;
	uint64_t		 size;
	uint32_t		*uids;
	size_t			 n;

	if (mkdir("dc", 0700) == -1 || mkdir("dc/cur", 0700) == -1 ||
	    mkdir("dc/new", 0700) == -1 || mkdir("dc/tmp", 0700) == -1)
		fatal("mkdir");
	put_fixture("dovecot-uidlist", "dc/dovecot-uidlist");
	put_fixture("dovecot-keywords", "dc/dovecot-keywords");
	put_fixture("dovecot-1.eml",
	    "dc/cur/1700000001.M1P100.mx,S=208,W=217:2,S");
	put_fixture("dovecot-2.eml",
	    "dc/cur/1700000002.M2P101.mx,S=220,W=235:2,Sb");
	put_fixture("dovecot-3.eml", "dc/new/1700000003.M3P102.mx,S=63");
	put_fixture("crlf.eml", "dc/new/1700000010.maild.host");

	m = mbox_open("dc", 0);
	ok(m != NULL, "open a Dovecot Maildir");
	if (m == NULL)
		return;
	is_int(mbox_uidvalidity(m), 1700000123, "Dovecot's UIDVALIDITY");
	is_int(mbox_count(m), 4, "three known files and a new one");
	ok(mbox_msg(m, 0)->uid == 2 && mbox_msg(m, 1)->uid == 5 &&
	    mbox_msg(m, 2)->uid == 7, "Dovecot's UIDs");
	is_int(mbox_msg(m, 3)->uid, 12, "the new file gets Dovecot's NEXTUID");
	is_int(mbox_uidnext(m), 13, "UIDNEXT");
	is_int(mbox_msg(m, 1)->sys, MFLAG_SEEN, "flags");
	is_int(mbox_msg(m, 1)->kw, 1U << 1, "keyword letter b");
	is_str(mbox_keyword(m, 1), "Work", "Dovecot's keyword names");
	ok(mbox_vanished_since(m, mbox_highestmodseq(m) - 1, &uids, &n) ==
	    0 && n == 0, "nothing vanished since");
	free(uids);
	ok(exists("dc/maild-uidlist"), "our own list written");
	ok(exists("dc/cur/1700000003.M3P102.mx,S=63:2,"),
	    "new/ file moved to cur/");

	ok(mbox_size(m, 0, &size) == 0 && size == 217, "size from ,W=");
	ok(mbox_size(m, 1, &size) == 0 && size == 235, "size from ,W= (2)");
	ok(mbox_size(m, 2, &size) == 0 && size == 67,
	    "size counted (bare LF = 2 bytes)");
	ok(mbox_size(m, 3, &size) == 0 && size == 91, "CRLF file size");

	ok(mbox_read(m, 0, &data, &len, &mime) == 0, "read an LF file");
	raw = get("dc/cur/1700000001.M1P100.mx,S=208,W=217:2,S", &rawlen);
	is_int(len, 217, "read length is the CRLF size");
	for (i = 0, bare = 0; i < len; i++)
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			bare++;
	is_int(bare, 0, "no bare LF left");
	ok(memmem(data, len, "CR\rstays.\r\n", 11) != NULL,
	    "a lone CR stays");
	ok(mime != NULL && mime->len == len && mime->root != NULL,
	    "MIME tree of the converted data");
	ok(raw != NULL && rawlen == 208, "the file itself is untouched");
	free(raw);
	ok(mbox_read(m, 1, &data, &len, &mime) == 0 && mime->nparts >= 3,
	    "multipart parsed");
	data = mbox_bodystructure(m, 1, 1);
	ok(data != NULL && strstr(data, "\"mixed\"") != NULL &&
	    strstr(data, "\"html\"") != NULL, "BODYSTRUCTURE of the LF file");
	mbox_close(m);
}

static void
test_read(void)
{
	const struct mime_msg	*mime;
	struct mbox		*m;
	const char		*data, *first;
	char			 name[64], path[PATH_MAX];
	size_t			 len;
	time_t			 date;
	uint64_t		 size;
	uint32_t		 uid, uid2;
	int			 i;

	if ((m = mbox_open("u4", 1)) == NULL) {
		ok(0, "open u4");
		return;
	}
	for (i = 0; i < 7; i++) {
		snprintf(path, sizeof(path), "u4/new/17000000%02d.R.host", i);
		snprintf(name, sizeof(name), "Subject: m%d\r\n\r\nbody\r\n", i);
		put(path, name);
	}
	is_int(mbox_sync(m), 1, "seven messages");
	ok(mbox_read(m, 0, &first, &len, &mime) == 0, "read 0");
	ok(mbox_read(m, 0, &data, &len, &mime) == 0 && data == first,
	    "read 0 again: from the LRU");
	if (unlink("u4/cur/1700000000.R.host:2,") == -1)
		fatal("unlink");
	ok(mbox_read(m, 0, &data, &len, &mime) == 0 && data == first,
	    "unlinked but still in the LRU");
	for (i = 1; i <= 4; i++)
		if (mbox_read(m, i, &data, &len, &mime) == -1)
			fatal("read %d", i);
	ok(mbox_read(m, 0, &data, &len, &mime) == -1 && errno == ENOENT,
	    "evicted after four others: gone, ENOENT");
	ok(mbox_read(m, 4, &data, &len, &mime) == 0 &&
	    strncmp(data, "Subject: m4", 11) == 0, "message 4 cached");
	ok(mbox_read(m, 99, &data, &len, &mime) == -1, "bad index");
	is_int(mbox_sync(m), 1, "sync after the vanished file");
	is_int(mbox_count(m), 6, "six left");

	/* Renamed by another program between sync and read. */
	if (rename("u4/cur/1700000005.R.host:2,",
	    "u4/cur/1700000005.R.host:2,S") == -1)
		fatal("rename");
	ok(mbox_read(m, 4, &data, &len, &mime) == 0 &&
	    strncmp(data, "Subject: m5", 11) == 0, "read finds a renamed file");
	is_int(mbox_msg(m, 4)->sys, MFLAG_SEEN, "and its new flags");

	/* A message file (never read) replaced by a symbolic link. */
	put("secret", "Subject: secret\r\n\r\nroot's\r\n");
	uid = mbox_msg(m, 5)->uid;
	if (unlink("u4/cur/1700000006.R.host:2,") == -1 ||
	    symlink("../../secret", "u4/cur/1700000006.R.host:2,") == -1)
		fatal("symlink");
	ok(mbox_read(m, 5, &data, &len, &mime) == -1 && errno == EPERM,
	    "read through a symlink refused");
	ok(mbox_size(m, 5, &size) == -1, "size through a symlink refused");
	ok(mbox_date(m, 5, &date) == -1, "date through a symlink refused");
	ok(mbox_envelope(m, 5) == NULL, "envelope through a symlink refused");
	ok(mbox_copy(m, 5, m, &uid2) == -1, "copy of a symlink refused");
	ok(mbox_find(m, uid) == 5, "still listed");
	is_int(mbox_sync(m), 1, "sync drops the symlink");
	ok(mbox_find(m, uid) == -1, "not a message any more");
	ok(exists("secret"), "the target is untouched");
	if (symlink("../../secret", "u4/new/1700000100.evil") == -1 ||
	    mkfifo("u4/cur/1700000101.fifo:2,", 0600) == -1 ||
	    mkdir("u4/cur/1700000102.dir:2,", 0700) == -1)
		fatal("symlink");
	is_int(mbox_sync(m), 0, "symlink, fifo, directory: not messages");
	is_int(mbox_count(m), 5, "still five");
	mbox_close(m);
}

/* Header blocks for SEARCH: read from the file start, LF made CRLF. */
static void
test_header(void)
{
	struct mbox	*m;
	const char	*data, *first;
	char		 big[70000];
	size_t		 len;

	if ((m = mbox_open("u9", 1)) == NULL) {
		ok(0, "open u9");
		return;
	}
	put("u9/new/1700000001.R.host", "Subject: lf\nFrom: a@b\n\nbody\n");
	put("u9/new/1700000002.R.host", "Subject: crlf\r\n\r\nbody\r\n");
	put("u9/new/1700000003.R.host", "Subject: no body\r\n");
	memset(big, 'x', sizeof(big));
	memcpy(big, "X-Long: ", 8);
	memcpy(big + sizeof(big) - 9, "\n\nbody\n", 8);
	big[sizeof(big) - 1] = '\0';
	put("u9/new/1700000004.R.host", big);
	is_int(mbox_sync(m), 1, "four messages");
	ok(mbox_header(m, 0, &data, &len) == 0 &&
	    len == strlen("Subject: lf\r\nFrom: a@b\r\n\r\n") &&
	    memcmp(data, "Subject: lf\r\nFrom: a@b\r\n\r\n", len) == 0,
	    "LF header as CRLF, blank line included, no body");
	first = data;
	ok(mbox_header(m, 0, &data, &len) == 0 && data == first,
	    "second time from the cache");
	ok(mbox_header(m, 1, &data, &len) == 0 && len == 17 &&
	    memcmp(data, "Subject: crlf\r\n\r\n", 17) == 0, "CRLF header");
	ok(mbox_header(m, 2, &data, &len) == 0 && len == 18 &&
	    memcmp(data, "Subject: no body\r\n", 18) == 0,
	    "no blank line: the whole message");
	ok(mbox_header(m, 3, &data, &len) == 0 && len == sizeof(big) - 6 + 1 &&
	    memcmp(data + len - 4, "\r\n\r\n", 4) == 0,
	    "a 70 KB header read in several pieces");
	ok(mbox_header(m, 9, &data, &len) == -1, "bad index");
	mbox_close(m);
}

static void
test_hostile(void)
{
	struct mbox	*m, *m2;
	uint32_t	 uv;

	ok(mbox_open("", 1) == NULL && errno == EINVAL, "empty dir refused");
	ok(mbox_open("/etc", 1) == NULL && errno == EINVAL,
	    "absolute dir refused");
	ok(mbox_open("u1/../u2", 1) == NULL && errno == EINVAL,
	    "dir with .. refused");
	ok(mbox_open("..", 1) == NULL && errno == EINVAL, ".. refused");
	ok(mbox_open("u1/./x", 1) == NULL && errno == EINVAL &&
	    mbox_open(".", 1) == NULL && mbox_open("u1/", 1) == NULL &&
	    mbox_open("u1//x", 1) == NULL && mbox_open("u\n1", 1) == NULL,
	    ". component, trailing or doubled /, control byte refused");
	ok(mbox_create("a/../../b") == -1 && errno == EINVAL,
	    "create with .. refused");
	ok(mbox_remove("/tmp") == -1 && errno == EINVAL,
	    "remove of an absolute path refused");

	if ((m = mbox_open("u5", 1)) == NULL) {
		ok(0, "open u5");
		return;
	}
	uv = mbox_uidvalidity(m);
	put("u5/cur/.hidden", "x");
	put("u5/cur/bad\001name", "x");
	/* Its base "x:2,y" would read back from the list as "x". */
	put("u5/cur/x:2,y:2,S", "x");
	put("u5/new/good.host", "Subject: g\r\n\r\n");
	is_int(mbox_sync(m), 1, "sync");
	is_int(mbox_count(m), 1, "only the good name");
	ok(mbox_commit(m) == 0, "commit");
	mbox_set_gone(m);
	ok(mbox_gone(m), "gone");
	m2 = mbox_open("u5", 0);
	ok(m2 != NULL && m2 != m, "a gone mailbox is not shared");
	ok(m2 != NULL && mbox_uidvalidity(m2) == uv && mbox_count(m2) == 1,
	    "the list stayed valid");
	mbox_close(m2);
	mbox_close(m);

	/* A corrupt UID list: a new UIDVALIDITY, never wrong UIDs. */
	put("u5/maild-uidlist", "maild-uidlist 1 V5 N2 M1 C7\n");
	sleep(1);
	m = mbox_open("u5", 0);
	ok(m != NULL && mbox_uidvalidity(m) != uv && mbox_count(m) == 1,
	    "corrupt list: new UIDVALIDITY");
	mbox_close(m);
}

static void
test_create_remove(void)
{
	struct mbox	*m;
	uint32_t	 uid;

	ok(mbox_create("u6") == 0, "create u6");
	ok(!exists("u6/maildirfolder"), "root: no maildirfolder");
	ok(mbox_create("u6/.Sent") == 0, "create u6/.Sent");
	ok(exists("u6/.Sent/maildirfolder") && exists("u6/.Sent/cur") &&
	    exists("u6/.Sent/new") && exists("u6/.Sent/tmp"), "folder made");
	ok(mbox_create("u6/.Sent") == -1 && errno == EEXIST, "EEXIST");
	ok(mbox_create("nope/.X") == -1 && errno == ENOENT,
	    "missing parent: ENOENT");
	if ((m = mbox_open("u6/.Sent", 0)) == NULL)
		fatal("open");
	ok(mbox_append(m, "a\r\n", 3, 0, NULL, 0, 0, &uid) == 0, "append");
	ok(mbox_commit(m) == 0, "commit");
	mbox_close(m);
	put("u6/.Sent/dovecot-uidlist", "3 V1 N1\n");
	put("u6/.Sent/dovecot.index.log", "x");
	put("u6/.Sent/tmp/leftover", "x");
	ok(mbox_remove("u6/.Sent") == 0, "remove");
	ok(!exists("u6/.Sent"), "gone");
	ok(exists("u6/cur"), "parent untouched");

	ok(mbox_create("u6/.Trash") == 0, "create u6/.Trash");
	put("u6/.Trash/cur/1.a:2,S", "x");
	put("u6/.Trash/notes.txt", "mine");
	ok(mbox_remove("u6/.Trash") == -1 && errno == ENOTEMPTY,
	    "unknown file: ENOTEMPTY");
	ok(exists("u6/.Trash/cur/1.a:2,S"), "nothing deleted");
	unlink("u6/.Trash/notes.txt");
	if (mkdir("u6/.Trash/cur/sub", 0700) == -1)
		fatal("mkdir");
	ok(mbox_remove("u6/.Trash") == -1 && errno == ENOTEMPTY,
	    "directory in cur/: ENOTEMPTY");
	rmdir("u6/.Trash/cur/sub");
	ok(mbox_remove("u6") == -1, "the root with folders: refused");
	ok(mbox_remove("u6/.Trash") == 0, "remove now");
	ok(mbox_remove("u6/.Trash") == -1 && errno == ENOENT, "ENOENT");
}

static void
test_big(void)
{
	struct timespec	 t0, t1, ts[2];
	struct mbox	*m;
	char		 path[PATH_MAX];
	uint32_t	*uids;
	size_t		 n;
	uint64_t	 hms;
	int		 i, fd;

	if ((m = mbox_open("big", 1)) == NULL) {
		ok(0, "open big");
		return;
	}
	hms = mbox_highestmodseq(m);
	for (i = 0; i < 10050; i++) {
		snprintf(path, sizeof(path), "big/cur/17%08d.B.host:2,S", i);
		if ((fd = open(path, O_WRONLY | O_CREAT, 0600)) == -1)
			fatal("%s", path);
		close(fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	is_int(mbox_sync(m), 1, "sync 10,050 files");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# first sync of 10,050 files: %.1f ms\n",
	    (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	is_int(mbox_count(m), 10050, "all listed");
	is_int(mbox_unseen(m), 0, "all seen");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	is_int(mbox_sync(m), 0, "sync again: nothing");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# sync of 10,050 unchanged files: %.1f ms\n",
	    (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);

	/* Old directory stamps are trusted: an unchanged mtime, no scan. */
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - 100;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (utimensat(AT_FDCWD, "big/cur", ts, 0) == -1 ||
	    utimensat(AT_FDCWD, "big/new", ts, 0) == -1)
		fatal("utimensat");
	is_int(mbox_sync(m), 0, "sync with old stamps");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (rename("big/cur/1700000000.B.host:2,S",
	    "big/cur/1700000000.B.host:2,") == -1 ||
	    utimensat(AT_FDCWD, "big/cur", ts, 0) == -1)
		fatal("rename");
	is_int(mbox_sync(m), 0, "same stamps: no scan (the change is unseen)");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# sync with trusted stamps: %.3f ms\n",
	    (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	is_int(mbox_msg(m, 0)->sys, MFLAG_SEEN, "still the old flags");
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - 50;
	if (utimensat(AT_FDCWD, "big/cur", ts, 0) == -1)
		fatal("utimensat");
	is_int(mbox_sync(m), 1, "a new stamp: scanned, change seen");
	is_int(mbox_msg(m, 0)->sys, 0, "new flags");

	for (i = 0; i < 10050; i++) {
		snprintf(path, sizeof(path), "big/cur/17%08d.B.host:2,S", i);
		unlink(path);
	}
	unlink("big/cur/1700000000.B.host:2,");
	is_int(mbox_sync(m), 1, "all removed");
	is_int(mbox_count(m), 0, "empty");
	ok(mbox_vanished_since(m, hms, &uids, &n) == -1,
	    "history overflowed: -1");
	ok(mbox_vanished_since(m, mbox_highestmodseq(m) - 10, &uids, &n) ==
	    0 && n == 10 && uids[9] == 10050, "recent history kept");
	free(uids);
	mbox_close(m);
}

/*
 * A symbolic link as the mailbox, the user's directory above it or one
 * of cur/ new/ tmp/: never opened through (ELOOP), nothing created or
 * written where it points.  Message files that are links: not messages.
 */
static void
test_links(void)
{
	static const char *const sub[] = { "cur", "new", "tmp" };
	struct mbox	*m;
	uint32_t	 uid;
	char		 path[PATH_MAX], target[PATH_MAX];
	size_t		 i;

	if ((m = mbox_open("v1", 1)) == NULL) {
		ok(0, "open v1");
		return;
	}
	put("v1/cur/1700000001.A.host:2,S", "Subject: secret\r\n\r\nx\r\n");
	mbox_close(m);

	if (symlink("v1", "l1") == -1 || mkdir("l2", 0700) == -1 ||
	    symlink("../v1", "l2/.F") == -1)
		fatal("symlink");
	errno = 0;
	ok(mbox_open("l1", 0) == NULL && errno == ELOOP,
	    "mailbox a link: ELOOP");
	errno = 0;
	ok(mbox_open("l1", 1) == NULL && errno == ELOOP,
	    "mailbox a link, create: ELOOP");
	errno = 0;
	ok(mbox_open("l1/.G", 1) == NULL && errno == ELOOP &&
	    access("v1/.G", F_OK) == -1, "below a link: ELOOP, nothing made");
	errno = 0;
	ok(mbox_create("l1/.G") == -1 && errno == ELOOP &&
	    access("v1/.G", F_OK) == -1, "create below a link: ELOOP");
	errno = 0;
	ok(mbox_open("l2/.F", 0) == NULL && errno == ELOOP,
	    "folder a link: ELOOP");
	ok(mbox_remove("l2/.F") == -1 && access("v1/cur", F_OK) == 0,
	    "remove of a folder link: refused");

	for (i = 0; i < nitems(sub); i++) {
		(void)snprintf(path, sizeof(path), "w%zu", i);
		if ((m = mbox_open(path, 1)) == NULL)
			fatal("open %s", path);
		mbox_close(m);
		(void)snprintf(path, sizeof(path), "w%zu/%s", i, sub[i]);
		(void)snprintf(target, sizeof(target), "../v1/%s", sub[i]);
		if (rmdir(path) == -1 || symlink(target, path) == -1)
			fatal("symlink %s", path);
		(void)snprintf(path, sizeof(path), "w%zu", i);
		errno = 0;
		ok(mbox_open(path, 0) == NULL && errno == ELOOP,
		    "%s/ a link: ELOOP", sub[i]);
	}

	/* Message files that are links are skipped, never read. */
	if ((m = mbox_open("v2", 1)) == NULL) {
		ok(0, "open v2");
		return;
	}
	if (symlink("../../v1/cur/1700000001.A.host:2,S",
	    "v2/cur/1700000002.B.host:2,S") == -1 ||
	    symlink("../../v1/cur/1700000001.A.host:2,S",
	    "v2/new/1700000003.C.host") == -1)
		fatal("symlink");
	(void)mbox_sync(m);
	is_int(mbox_count(m), 0, "links in cur/ and new/: no messages");
	ok(mbox_append(m, "Subject: a\r\n\r\na\r\n", 16, 0, NULL, 0, 0,
	    &uid) == 0 && mbox_count(m) == 1, "append beside them");
	mbox_close(m);
	ok(access("v1/new", F_OK) == 0 && count_dir("v1/new") == 0 &&
	    count_dir("v1/tmp") == 0 && count_dir("v1/cur") == 1,
	    "v1 untouched");
}

/* What a crash leaves while writing state files goes at the next open. */
static void
test_stale(void)
{
	struct mbox	*m;

	if ((m = mbox_open("u9", 1)) == NULL) {
		ok(0, "open u9");
		return;
	}
	mbox_close(m);
	put("u9/maild-uidlist.tmp.4242", "maild-uidlist 1 V1 N1 M1 C0\n");
	put("u9/maild-cache.tmp.7", "half");
	put("u9/dovecot-keywords.tmp.99", "0 $Junk\n");
	put("u9/maild-uidlist.tmp.x1", "not ours");
	put("u9/dovecot-uidlist.tmp.5", "Dovecot's");
	put("u9/maild-uidlist.tmp.", "no pid");
	if ((m = mbox_open("u9", 0)) == NULL) {
		ok(0, "reopen u9");
		return;
	}
	ok(!exists("u9/maild-uidlist.tmp.4242") &&
	    !exists("u9/maild-cache.tmp.7") &&
	    !exists("u9/dovecot-keywords.tmp.99"),
	    "half-written state files of another pid removed at open");
	ok(exists("u9/maild-uidlist.tmp.x1") &&
	    exists("u9/dovecot-uidlist.tmp.5") &&
	    exists("u9/maild-uidlist.tmp."), "other names kept");
	ok(exists("u9/maild-uidlist"), "the list itself stays");
	mbox_close(m);
}

int
main(void)
{
	log_init(1, 0);
	if (getcwd(top, sizeof(top)) == NULL)
		fatal("getcwd");
	if (strlcpy(root, "/tmp/test_imap_mbox.XXXXXX", sizeof(root)) >=
	    sizeof(root) || mkdtemp(root) == NULL)
		fatal("mkdtemp");
	if (chdir(root) == -1)
		fatal("chdir");

	test_sync();
	test_store();
	test_expunge();
	test_append();
	test_stage();
	test_copy();
	test_reopen();
	test_sortkeys();
	test_dovecot();
	test_read();
	test_header();
	test_hostile();
	test_create_remove();
	test_big();
	test_links();
	test_stale();

	if (chdir(top) == -1)
		fatal("chdir");
	nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return done_testing();
}
