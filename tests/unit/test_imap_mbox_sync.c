/*
 * Unit tests for the one mailbox model the imap process runs
 * (imap_mbox_sync.c through the mbox_*() interface): new mail in name
 * order, flag changes made by another program renaming a file, expunges
 * by another program, the MODSEQ each of them gets, UIDs never reused,
 * a name in both new/ and cur/, hostile file names, the UID list
 * rewritten after each change and read back, a corrupt UID list (every
 * bad line of tests/data/uidlist: a new UIDVALIDITY, never wrong UIDs),
 * Dovecot's list imported, and the time of a 100,000-message sync.
 * Each test works in a Maildir under a temporary mail root (the process
 * chdirs there, as the imap process does).
 */
#include <sys/types.h>
#include <sys/stat.h>

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
#include "log.h"
#include "maild.h"
#include "mflags.h"
#include "tap.h"
#include "uidlist.h"

#define DATA	"tests/data/uidlist/"
#define BIG	100000

static char	 top[PATH_MAX];		/* the repository (fixtures) */
static char	 root[PATH_MAX];	/* the temporary mail root */

static void	 touch(const char *, const char *, const char *);
static void	 mv(const char *, const char *, const char *);
static void	 rm(const char *, const char *);
static void	 fixture(const char *, const char *);
static int	 exists(const char *);
static int	 rm_cb(const char *, const struct stat *, int, struct FTW *);
static void	 rm_tree(const char *);
static double	 now(void);
static int	 list_matches(const struct mbox *, const char *);
static long	 uid_modseq(const struct mbox *, uint32_t, uint64_t *);
static void	 test_new_mail(void);
static void	 test_changes(void);
static void	 test_first_open(void);
static void	 test_hostile(void);
static void	 test_corrupt(void);
static void	 test_dovecot(void);
static void	 test_big(void);

static void
touch(const char *dir, const char *sub, const char *name)
{
	char	 p[PATH_MAX];
	int	 fd;

	snprintf(p, sizeof(p), "%s/%s/%s", dir, sub, name);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		fatal("%s", p);
	if (write_full(fd, "Subject: x\r\n\r\nx\r\n", 17) == -1)
		fatal("write %s", p);
	close(fd);
}

/* Another program renames a file (both paths relative to dir). */
static void
mv(const char *dir, const char *from, const char *to)
{
	char	 a[PATH_MAX], b[PATH_MAX];

	snprintf(a, sizeof(a), "%s/%s", dir, from);
	snprintf(b, sizeof(b), "%s/%s", dir, to);
	if (rename(a, b) == -1)
		fatal("rename %s", a);
}

static void
rm(const char *dir, const char *file)
{
	char	 p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	if (unlink(p) == -1)
		fatal("%s", p);
}

/* tests/data/uidlist/<name> as dir/<as>. */
static void
fixture(const char *name, const char *path)
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
	(void)unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		fatal("%s", path);
	if (write_full(fd, buf, len) == -1)
		fatal("write %s", path);
	close(fd);
	free(buf);
}

static int
exists(const char *path)
{
	struct stat	 st;

	return lstat(path, &st) == 0;
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
rm_tree(const char *dir)
{
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * The UID list on disk says what the open mailbox says: UIDVALIDITY,
 * UIDNEXT, HIGHESTMODSEQ, and each message's UID and MODSEQ in order.
 */
static int
list_matches(const struct mbox *m, const char *dir)
{
	struct uidlist	*ul;
	uint32_t	 i;
	int		 same;

	if (uidlist_load(dir, &ul) != UIDLIST_OK)
		return 0;
	same = ul->uidvalidity == mbox_uidvalidity(m) &&
	    ul->uidnext == mbox_uidnext(m) &&
	    ul->highestmodseq == mbox_highestmodseq(m) &&
	    ul->n == mbox_count(m);
	for (i = 0; same && i < ul->n; i++)
		same = ul->ent[i].uid == mbox_msg(m, i)->uid &&
		    ul->ent[i].modseq == mbox_msg(m, i)->modseq;
	uidlist_free(ul);
	return same;
}

/* Index of uid (or -1), its MODSEQ in *ms. */
static long
uid_modseq(const struct mbox *m, uint32_t uid, uint64_t *ms)
{
	long	 idx;

	*ms = 0;
	if ((idx = mbox_find(m, uid)) != -1)
		*ms = mbox_msg(m, idx)->modseq;
	return idx;
}

/* First open of a Maildir, then a delivery. */
static void
test_new_mail(void)
{
	struct mbox	*m;
	uint64_t	 hms, ms;

	if (mbox_create("s1") == -1)
		fatal("create s1");
	touch("s1", "new", "1700000003.M3P3.host");
	touch("s1", "new", "1700000001.M1P1.host,S=120");
	touch("s1", "cur", "1700000002.M2P2.host:2,S");
	touch("s1", "cur", "1700000004.M4P4.host");	/* no info part */
	touch("s1", "tmp", "1700000000.M0P0.host");	/* never counted */
	if ((m = mbox_open("s1", 0)) == NULL) {
		ok(0, "open s1");
		return;
	}
	is_int(mbox_count(m), 4, "first open: 4 messages, tmp/ ignored");
	ok(mbox_msg(m, 0)->uid == 1 && mbox_msg(m, 1)->uid == 2 &&
	    mbox_msg(m, 2)->uid == 3 && mbox_msg(m, 3)->uid == 4,
	    "UIDs 1-4");
	is_int(mbox_uidnext(m), 5, "UIDNEXT 5");
	is_int(mbox_msg(m, 1)->sys, MFLAG_SEEN, "name order: uid 2 is M2 (S)");
	ok(exists("s1/cur/1700000001.M1P1.host,S=120:2,") &&
	    exists("s1/cur/1700000003.M3P3.host:2,"),
	    "new/ files moved to cur/, base names kept");
	ok(exists("s1/cur/1700000004.M4P4.host"),
	    "a cur/ file without flags is left as it is");
	ok(list_matches(m, "s1"), "the UID list is written at open");

	hms = mbox_highestmodseq(m);
	touch("s1", "new", "1700000005.M5P5.host");
	is_int(mbox_sync(m), 1, "new mail: changed");
	is_int(mbox_count(m), 5, "5 messages");
	ok(uid_modseq(m, 5, &ms) == 4 && ms == hms + 1,
	    "new mail: UID 5, MODSEQ HIGHESTMODSEQ + 1");
	is_int(mbox_highestmodseq(m), hms + 1, "HIGHESTMODSEQ follows");
	is_int(mbox_sync(m), 0, "sync again: nothing");
	ok(!list_matches(m, "s1"), "the list on disk waits for the commit");
	is_int(mbox_commit(m), 0, "commit");
	ok(list_matches(m, "s1"), "the list on disk is rewritten");

	/* The mailbox removed behind our back: an error, nothing lost. */
	rm_tree("s1");
	is_int(mbox_sync(m), -1, "sync of a vanished mailbox fails");
	is_int(mbox_count(m), 5, "messages unchanged by a failed sync");
	mbox_set_gone(m);
	mbox_close(m);
}

/*
 * Another program sets flags, expunges and delivers between two syncs;
 * each change gets its own MODSEQ, in a fixed order: flag changes (by
 * name), expunges, then new messages (by name).
 */
static void
test_changes(void)
{
	struct mbox	*m;
	uint32_t	*uids;
	size_t		 n;
	uint64_t	 hms, ms1, ms4, ms5, ms6;

	if (mbox_create("s2") == -1)
		fatal("create s2");
	touch("s2", "new", "1700000001.a");
	touch("s2", "new", "1700000002.b");
	touch("s2", "cur", "1700000003.c:2,");
	touch("s2", "cur", "1700000004.d:2,F");
	if ((m = mbox_open("s2", 0)) == NULL) {
		ok(0, "open s2");
		return;
	}
	hms = mbox_highestmodseq(m);

	touch("s2", "new", "1700000006.f");
	touch("s2", "new", "1700000005.e");
	rm("s2", "cur/1700000003.c:2,");
	mv("s2", "cur/1700000001.a:2,", "cur/1700000001.a:2,RS");
	mv("s2", "cur/1700000004.d:2,F", "cur/1700000004.d:2,FS");
	is_int(mbox_sync(m), 1, "sync after changes");
	is_int(mbox_count(m), 5, "5 messages");
	is_int(mbox_uidnext(m), 7, "UIDNEXT 7");
	is_int(mbox_find(m, 3), -1, "uid 3 expunged");
	is_int(mbox_msg(m, 2)->uid, 4, "index 2 is uid 4 after the expunge");
	is_int(mbox_msg(m, 0)->sys, MFLAG_ANSWERED | MFLAG_SEEN,
	    "renamed by another client: uid 1 has its new flags");
	is_int(mbox_msg(m, 2)->sys, MFLAG_FLAGGED | MFLAG_SEEN,
	    "uid 4 has its new flags");
	(void)uid_modseq(m, 1, &ms1);
	(void)uid_modseq(m, 4, &ms4);
	(void)uid_modseq(m, 5, &ms5);
	(void)uid_modseq(m, 6, &ms6);
	ok(ms1 == hms + 1 && ms4 == hms + 2, "flag changes: MODSEQs + 1, + 2");
	ok(mbox_vanished_since(m, hms + 2, &uids, &n) == 0 && n == 1 &&
	    uids[0] == 3, "the expunge: MODSEQ + 3");
	free(uids);
	ok(mbox_vanished_since(m, hms + 3, &uids, &n) == 0 && n == 0,
	    "nothing vanished after it");
	ok(ms5 == hms + 4 && ms6 == hms + 5,
	    "new mail: + 4, + 5, in name order (not delivery order)");
	is_int(mbox_highestmodseq(m), hms + 5, "HIGHESTMODSEQ + 5");
	ok(mbox_msg(m, 1)->modseq <= hms, "untouched uid 2 keeps its MODSEQ");
	is_int(mbox_commit(m), 0, "commit");
	ok(list_matches(m, "s2"), "the list on disk has the new MODSEQs");

	/* A flag change alone is saved too (without the fsync). */
	mv("s2", "cur/1700000002.b:2,", "cur/1700000002.b:2,T");
	is_int(mbox_sync(m), 1, "sync: a \\Deleted set elsewhere");
	is_int(mbox_msg(m, 1)->modseq, hms + 6, "its MODSEQ: + 6");
	is_int(mbox_commit(m), 0, "commit");
	ok(list_matches(m, "s2"), "the list on disk follows");
	mbox_close(m);

	if ((m = mbox_open("s2", 0)) == NULL) {
		ok(0, "reopen s2");
		return;
	}
	ok(mbox_count(m) == 5 && mbox_highestmodseq(m) == hms + 6 &&
	    mbox_msg(m, 0)->modseq == hms + 1 &&
	    mbox_msg(m, 0)->sys == (MFLAG_ANSWERED | MFLAG_SEEN),
	    "reopen: same UIDs, MODSEQs and flags");

	/* UIDs are never reused, even when the mailbox empties. */
	rm("s2", "cur/1700000001.a:2,RS");
	rm("s2", "cur/1700000002.b:2,T");
	rm("s2", "cur/1700000004.d:2,FS");
	rm("s2", "cur/1700000005.e:2,");
	rm("s2", "cur/1700000006.f:2,");
	hms = mbox_highestmodseq(m);
	is_int(mbox_sync(m), 1, "sync of an emptied mailbox");
	is_int(mbox_count(m), 0, "empty");
	ok(mbox_vanished_since(m, hms, &uids, &n) == 0 && n == 5 &&
	    uids[0] == 1 && uids[4] == 6, "5 expunged, ascending");
	free(uids);
	is_int(mbox_highestmodseq(m), hms + 5, "one MODSEQ per expunge");
	touch("s2", "new", "1700000001.a");	/* the name of old uid 1 */
	is_int(mbox_sync(m), 1, "a new delivery");
	is_int(mbox_msg(m, 0)->uid, 7, "a name seen before: new uid 7");

	/* Same name in new/ and cur/ (a rename during the scan): once. */
	touch("s2", "new", "1700000009.z");
	touch("s2", "cur", "1700000009.z:2,S");
	is_int(mbox_sync(m), 1, "sync with a name in both dirs");
	is_int(mbox_count(m), 2, "counted once");
	is_int(mbox_msg(m, 1)->sys, MFLAG_SEEN, "cur/ wins (its flags)");
	is_int(mbox_sync(m), 0, "and stays one message");
	is_int(mbox_commit(m), 0, "commit");
	ok(list_matches(m, "s2"), "the list on disk follows");
	mbox_close(m);
}

/*
 * Flags changed while no session had the mailbox open are taken as the
 * names say at the next open, with no new MODSEQ: the UID list keeps no
 * flags to compare them with.
 */
static void
test_first_open(void)
{
	struct mbox	*m;
	uint64_t	 ms, hms;

	if (mbox_create("s3") == -1)
		fatal("create s3");
	touch("s3", "cur", "1700000001.a:2,");
	if ((m = mbox_open("s3", 0)) == NULL) {
		ok(0, "open s3");
		return;
	}
	ms = mbox_msg(m, 0)->modseq;
	hms = mbox_highestmodseq(m);
	mbox_close(m);
	mv("s3", "cur/1700000001.a:2,", "cur/1700000001.a:2,F");
	if ((m = mbox_open("s3", 0)) == NULL) {
		ok(0, "reopen s3");
		return;
	}
	ok(mbox_msg(m, 0)->sys == MFLAG_FLAGGED &&
	    mbox_msg(m, 0)->modseq == ms && mbox_highestmodseq(m) == hms,
	    "flags changed while closed: read, MODSEQ unchanged");
	mbox_close(m);
}

static void
test_hostile(void)
{
	struct mbox	*m;
	struct uidlist	*ul;
	char		 name[256];

	if (mbox_create("s4") == -1)
		fatal("create s4");
	touch("s4", "new", "1700000001.good");
	touch("s4", "new", ".hidden");
	touch("s4", "cur", ".1700000002.dot:2,S");
	touch("s4", "new", "1700000003.ctl\001x");
	touch("s4", "new", "1700000004.nl\nx");
	touch("s4", "cur", "1700000005.del\177x:2,");
	touch("s4", "cur", ":2,S");
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	name[UIDLIST_NAME_MAX + 1] = '\0';	/* one over the limit */
	touch("s4", "new", name);
	if (mkdir("s4/cur/1700000006.subdir", 0700) == -1 ||
	    symlink("1700000001.good", "s4/new/1700000008.link") == -1)
		fatal("mkdir");
	touch("s4", "cur", "1700000007.utf8-\xc3\xa9:2,S");

	if ((m = mbox_open("s4", 0)) == NULL) {
		ok(0, "open s4");
		return;
	}
	is_int(mbox_count(m), 2, "only the two sane names");
	ok(mbox_msg(m, 0)->uid == 1 && mbox_msg(m, 1)->uid == 2 &&
	    mbox_msg(m, 1)->sys == MFLAG_SEEN, "the 8-bit name is uid 2");
	mbox_close(m);
	is_int(uidlist_load("s4", &ul), UIDLIST_OK, "the list reads back");
	ok(ul != NULL && ul->n == 2 &&
	    strcmp(ul->ent[0].name, "1700000001.good") == 0 &&
	    strcmp(ul->ent[1].name, "1700000007.utf8-\xc3\xa9") == 0,
	    "with their base names");
	uidlist_free(ul);
}

/*
 * Bad lines in maild-uidlist: the whole list is distrusted, the mailbox
 * gets a new UIDVALIDITY and fresh UIDs, and a good list is written.
 */
static void
test_corrupt(void)
{
	static const char *bad[] = {
		"bad-version", "bad-magic", "truncated-line",
		"count-mismatch", "uid-order", "uid-ge-next", "dup-name",
		"modseq-high", "modseq-high-digit", "dot-name",
		"flags-in-name", "ctl-name", "zero-uidvalidity",
		"big-uidvalidity", "leading-zero", "empty-line", "nul-byte",
		"header-junk", "empty",
	};
	struct mbox	*m;
	uint64_t	 ms;
	size_t		 i;
	int		 good;

	if (mbox_create("s5") == -1)
		fatal("create s5");
	touch("s5", "cur", "1700000001.M1P1.host:2,S");
	touch("s5", "cur", "1700000002.M2P2.host,S=120:2,");
	touch("s5", "cur", "1700000003.M3P3.host:2,F");
	fixture("good", "s5/maild-uidlist");
	if ((m = mbox_open("s5", 0)) == NULL) {
		ok(0, "open s5");
		return;
	}
	ok(mbox_uidvalidity(m) == 1700000500 && mbox_uidnext(m) == 6 &&
	    mbox_highestmodseq(m) == 9, "good list: its V, N and M");
	ok(uid_modseq(m, 1, &ms) == 0 && ms == 3 &&
	    uid_modseq(m, 3, &ms) == 1 && ms == 9 &&
	    uid_modseq(m, 5, &ms) == 2 && ms == 4,
	    "good list: its UIDs and MODSEQs");
	mbox_close(m);

	for (i = 0; i < nitems(bad); i++) {
		fixture(bad[i], "s5/maild-uidlist");
		if ((m = mbox_open("s5", 0)) == NULL) {
			ok(0, "%s: open", bad[i]);
			continue;
		}
		good = mbox_uidvalidity(m) != 1700000500 &&
		    mbox_count(m) == 3 && mbox_msg(m, 0)->uid == 1 &&
		    mbox_msg(m, 2)->uid == 3 && mbox_uidnext(m) == 4 &&
		    mbox_msg(m, 2)->sys == MFLAG_FLAGGED;
		ok(good, "%s: new UIDVALIDITY, UIDs 1-3 in name order",
		    bad[i]);
		ok(list_matches(m, "s5"), "%s: a good list written", bad[i]);
		mbox_set_gone(m);	/* the next round opens it again */
		mbox_close(m);
	}
}

/* dovecot-uidlist: its UIDs kept, a missing file expunged, NEXTUID. */
static void
test_dovecot(void)
{
	struct mbox	*m;
	uint32_t	*uids;
	size_t		 n;

	if (mbox_create("s6") == -1)
		fatal("create s6");
	fixture("dovecot-uidlist", "s6/dovecot-uidlist");
	touch("s6", "cur", "1700000001.M1P100.mx,S=2180,W=2215:2,S");
	touch("s6", "new", "1700000002.M2P101.mx,S=1012,W=1040");
	touch("s6", "cur", "1700000004.M4P103.mx:2,RS");
	touch("s6", "new", "1700000010.M9P1.mx,S=99");
	if ((m = mbox_open("s6", 0)) == NULL) {
		ok(0, "open s6");
		return;
	}
	is_int(mbox_uidvalidity(m), 1700000123, "Dovecot's UIDVALIDITY kept");
	ok(mbox_count(m) == 4 && mbox_msg(m, 0)->uid == 2 &&
	    mbox_msg(m, 1)->uid == 5 && mbox_msg(m, 2)->uid == 9,
	    "uids 2, 5, 9 kept (extension fields skipped)");
	ok(mbox_vanished_since(m, 1, &uids, &n) == 0 && n == 1 &&
	    uids[0] == 7, "file missing from disk: uid 7 expunged");
	free(uids);
	is_int(mbox_msg(m, 3)->uid, 12, "new file gets Dovecot's NEXTUID");
	is_int(mbox_uidnext(m), 13, "UIDNEXT 13");
	ok(list_matches(m, "s6"), "maild-uidlist written");
	mbox_close(m);
}

static void
test_big(void)
{
	struct mbox	*m;
	char		 name[64];
	double		 t0, t;
	int		 i, bad = 0;

	if (mbox_create("s7") == -1)
		fatal("create s7");
	/* Reverse creation order: UIDs must still follow name order. */
	for (i = BIG - 1; i >= 0; i--) {
		snprintf(name, sizeof(name), "%010d.M%dP1.host,S=1000%s",
		    1600000000 + i, i, i % 10 ? ":2,S" : "");
		touch("s7", i % 10 ? "cur" : "new", name);
	}
	t0 = now();
	m = mbox_open("s7", 0);
	printf("# first open of %d messages: %.3f s\n", BIG, now() - t0);
	if (m == NULL) {
		ok(0, "open s7");
		return;
	}
	is_int(mbox_count(m), BIG, "big: all listed");
	for (i = 0; i < BIG; i += 997)
		if (mbox_msg(m, i)->uid != (uint32_t)i + 1)
			bad++;
	is_int(bad, 0, "big: UIDs in name order");
	t0 = now();
	is_int(mbox_sync(m), 0, "big: unchanged sync");
	t = now() - t0;
	printf("# unchanged sync of %d messages: %.3f s\n", BIG, t);
	ok(t < 2.0, "big: unchanged sync under 2 s");
	touch("s7", "new", "1700000000.last");
	t0 = now();
	is_int(mbox_sync(m), 1, "big: one new message");
	printf("# sync with one new message: %.3f s\n", now() - t0);
	is_int(mbox_msg(m, BIG)->uid, BIG + 1, "big: it is the last UID");
	t0 = now();
	is_int(mbox_commit(m), 0, "big: commit");
	printf("# commit (list of %d): %.3f s\n", BIG + 1, now() - t0);
	ok(list_matches(m, "s7"), "big: the list on disk matches");
	mbox_close(m);
}

int
main(void)
{
	log_init(1, 0);
	if (getcwd(top, sizeof(top)) == NULL)
		fatal("getcwd");
	if (strlcpy(root, "/tmp/test_imap_mbox_sync.XXXXXX", sizeof(root)) >=
	    sizeof(root) || mkdtemp(root) == NULL)
		fatal("mkdtemp");
	if (chdir(root) == -1)
		fatal("chdir");

	test_new_mail();
	test_changes();
	test_first_open();
	test_hostile();
	test_corrupt();
	test_dovecot();
	test_big();

	if (chdir(top) == -1)
		fatal("chdir");
	rm_tree(root);
	return done_testing();
}
