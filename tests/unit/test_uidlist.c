/*
 * Unit tests for uidlist.c: first sync of a Maildir, save and reload,
 * UID stability across adds, expunges and new/ -> cur/ moves, Dovecot
 * import, corrupt lists, hostile file names, a 100,000-message sync and
 * the UIDVALIDITY counter (never a value twice, across a restart too).
 * Fixtures are in tests/data/uidlist (run from the top directory).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "maild.h"
#include "uidlist.h"
#include "tap.h"

#define DATA	"tests/data/uidlist/"
#define BIG	100000

static void	 mkmaildir(char *, size_t);
static void	 touch(const char *, const char *, const char *);
static void	 rm(const char *, const char *, const char *);
static void	 mv(const char *, const char *, const char *, const char *);
static void	 copy_fixture(const char *, const char *, const char *);
static int	 rm_cb(const char *, const struct stat *, int, struct FTW *);
static void	 rm_tree(const char *);
static double	 now(void);
static int	 same_list(const struct uidlist *, const struct uidlist *);
static uint32_t	 uid_of(const struct uidlist *, const char *);
static void	 test_first_sync(void);
static void	 test_changes(void);
static void	 test_dovecot(void);
static void	 test_corrupt(void);
static void	 test_hostile(void);
static void	 test_big(void);
static void	 test_uidvalidity(void);
static void	 put_file(const char *, const char *);
static int	 read_all(const char *, char *, size_t);

static char	 state_dir[64];
static char	 state[PATH_MAX];

static void
mkmaildir(char *dir, size_t len)
{
	char	 p[PATH_MAX];

	if (strlcpy(dir, "/tmp/test_uidlist.XXXXXX", len) >= len ||
	    mkdtemp(dir) == NULL)
		fatal("mkdtemp");
	snprintf(p, sizeof(p), "%s/new", dir);
	if (mkdir(p, 0700) == -1)
		fatal("mkdir");
	snprintf(p, sizeof(p), "%s/cur", dir);
	if (mkdir(p, 0700) == -1)
		fatal("mkdir");
	snprintf(p, sizeof(p), "%s/tmp", dir);
	if (mkdir(p, 0700) == -1)
		fatal("mkdir");
}

static void
touch(const char *dir, const char *sub, const char *name)
{
	char	 p[PATH_MAX];
	int	 fd;

	snprintf(p, sizeof(p), "%s/%s/%s", dir, sub, name);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		fatal("%s", p);
	close(fd);
}

static void
rm(const char *dir, const char *sub, const char *name)
{
	char	 p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s/%s", dir, sub, name);
	if (unlink(p) == -1)
		fatal("%s", p);
}

static void
mv(const char *dir, const char *from, const char *tosub, const char *to)
{
	char	 a[PATH_MAX], b[PATH_MAX];

	snprintf(a, sizeof(a), "%s/%s", dir, from);
	snprintf(b, sizeof(b), "%s/%s/%s", dir, tosub, to);
	if (rename(a, b) == -1)
		fatal("rename %s", a);
}

static void
copy_fixture(const char *fixture, const char *dir, const char *name)
{
	char	 buf[8192], p[PATH_MAX];
	ssize_t	 n;
	int	 in, out;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	(void)unlink(p);
	if ((in = open(fixture, O_RDONLY)) == -1)
		fatal("%s", fixture);
	if ((out = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		fatal("%s", p);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write_full(out, buf, n) == -1)
			fatal("write");
	close(in);
	close(out);
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
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

static int
same_list(const struct uidlist *a, const struct uidlist *b)
{
	size_t	 i;

	if (a->uidvalidity != b->uidvalidity || a->uidnext != b->uidnext ||
	    a->highestmodseq != b->highestmodseq || a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (a->ent[i].uid != b->ent[i].uid ||
		    a->ent[i].modseq != b->ent[i].modseq ||
		    strcmp(a->ent[i].name, b->ent[i].name) != 0)
			return 0;
	return 1;
}

static uint32_t
uid_of(const struct uidlist *ul, const char *name)
{
	struct uidlist_entry	*e;

	return (e = uidlist_by_name(ul, name)) == NULL ? 0 : e->uid;
}

static void
test_first_sync(void)
{
	struct uidlist		*ul, *ul2;
	struct uidlist_changes	 ch;
	struct uidlist_entry	*e;
	char			 dir[64];
	uint32_t		 seq = 0;

	mkmaildir(dir, sizeof(dir));
	touch(dir, "new", "1700000003.M3P3.host");
	touch(dir, "new", "1700000001.M1P1.host,S=120");
	touch(dir, "cur", "1700000002.M2P2.host:2,S");
	touch(dir, "cur", "1700000004.M4P4.host");	/* no info part */
	touch(dir, "tmp", "1700000000.M0P0.host");	/* never counted */

	is_int(uidlist_open(dir, &ul), 0, "no list: a new one");
	ok(ul != NULL && ul->uidvalidity > 0 && ul->uidnext == 1,
	    "new list: uidvalidity set, uidnext 1");
	is_int(uidlist_sync(ul, &ch), 0, "first sync");
	is_int(ch.added, 4, "4 added");
	is_int(ch.nexpunged, 0, "none expunged");
	uidlist_changes_free(&ch);
	is_int(uid_of(ul, "1700000001.M1P1.host,S=120"), 1, "name order: 1");
	is_int(uid_of(ul, "1700000002.M2P2.host"), 2, "name order: 2");
	is_int(uid_of(ul, "1700000003.M3P3.host"), 3, "name order: 3");
	is_int(uid_of(ul, "1700000004.M4P4.host"), 4, "name order: 4");
	is_int(uid_of(ul, "1700000000.M0P0.host"), 0, "tmp/ ignored");
	is_int(uid_of(ul, "1700000002.M2P2.host:2,S"), 0,
	    "lookup is by base name");
	is_int(ul->uidnext, 5, "uidnext 5");
	e = uidlist_by_uid(ul, 2, &seq);
	ok(e != NULL && seq == 2, "by uid 2: seq 2");
	is_str(e ? e->file : NULL, "cur/1700000002.M2P2.host:2,S",
	    "file records the current name");
	e = uidlist_by_seq(ul, 3);
	is_int(e ? e->uid : 0, 3, "by seq 3");
	ok(uidlist_by_seq(ul, 0) == NULL && uidlist_by_seq(ul, 5) == NULL,
	    "seq 0 and seq past the end: none");
	ok(uidlist_by_uid(ul, 0, NULL) == NULL &&
	    uidlist_by_uid(ul, 99, NULL) == NULL, "unknown uids: none");
	ok(ul->dirty, "dirty after first sync");

	is_int(uidlist_save(ul), 0, "save");
	ok(!ul->dirty, "clean after save");
	is_int(uidlist_load(dir, &ul2), UIDLIST_OK, "reload");
	ok(ul2 != NULL && same_list(ul, ul2), "reloaded list is equal");
	is_int(uidlist_sync(ul2, &ch), 0, "sync reloaded list");
	ok(ch.added == 0 && ch.nexpunged == 0 && !ul2->dirty,
	    "nothing changed");
	uidlist_changes_free(&ch);
	uidlist_free(ul2);
	is_int(uidlist_open(dir, &ul2), 1, "open finds the saved list");
	ok(ul2 != NULL && same_list(ul, ul2), "opened list is equal");
	uidlist_free(ul2);

	/* A missing cur/ is an error and changes nothing. */
	rm_tree(dir);
	is_int(uidlist_sync(ul, &ch), -1, "sync of a vanished mailbox fails");
	is_int(ul->n, 4, "list unchanged by a failed sync");
	uidlist_changes_free(&ch);
	uidlist_free(ul);
}

static void
test_changes(void)
{
	struct uidlist		*ul, *ul2;
	struct uidlist_changes	 ch;
	struct uidlist_entry	*e;
	char			 dir[64];
	uint64_t		 hms, m;

	mkmaildir(dir, sizeof(dir));
	touch(dir, "new", "1700000001.a");
	touch(dir, "new", "1700000002.b");
	touch(dir, "cur", "1700000003.c:2,");
	touch(dir, "cur", "1700000004.d:2,F");
	is_int(uidlist_open(dir, &ul), 0, "changes: new list");
	is_int(uidlist_sync(ul, NULL), 0, "changes: first sync");
	hms = ul->highestmodseq;

	touch(dir, "new", "1700000005.e");
	touch(dir, "new", "1700000006.f");
	rm(dir, "cur", "1700000003.c:2,");
	mv(dir, "new/1700000001.a", "cur", "1700000001.a:2,RS");
	mv(dir, "cur/1700000004.d:2,F", "cur", "1700000004.d:2,FS");
	is_int(uidlist_sync(ul, &ch), 0, "sync after changes");
	is_int(ch.added, 2, "2 added");
	ok(ch.nexpunged == 1 && ch.expunged[0] == 3, "uid 3 expunged");
	uidlist_changes_free(&ch);
	is_int(uid_of(ul, "1700000001.a"), 1, "moved to cur/: uid kept");
	is_int(uid_of(ul, "1700000004.d"), 4, "flags changed: uid kept");
	is_int(uid_of(ul, "1700000005.e"), 5, "new file: uid 5");
	is_int(uid_of(ul, "1700000006.f"), 6, "new file: uid 6");
	is_int(uid_of(ul, "1700000003.c"), 0, "expunged name gone");
	is_int(ul->uidnext, 7, "uidnext 7");
	is_int(ul->n, 5, "5 messages");
	e = uidlist_by_uid(ul, 1, NULL);
	is_str(e ? e->file : NULL, "cur/1700000001.a:2,RS", "new location");
	e = uidlist_by_seq(ul, 3);
	is_int(e ? e->uid : 0, 4, "seq 3 is uid 4 after the expunge");
	ok(ul->highestmodseq > hms, "highestmodseq grew");

	m = uidlist_bump_modseq(ul, 4);
	ok(m == ul->highestmodseq && uidlist_by_uid(ul, 4, NULL)->modseq == m,
	    "bump: uid 4 gets the new highestmodseq");
	is_int(uidlist_bump_modseq(ul, 3), 0, "bump of an expunged uid: 0");
	is_int(uidlist_save(ul), 0, "save after changes");
	is_int(uidlist_load(dir, &ul2), UIDLIST_OK, "reload after changes");
	ok(ul2 != NULL && same_list(ul, ul2), "reloaded equal (modseqs too)");
	uidlist_free(ul2);

	/* UIDs are never reused, even when the mailbox empties. */
	rm(dir, "cur", "1700000001.a:2,RS");
	rm(dir, "new", "1700000002.b");
	rm(dir, "cur", "1700000004.d:2,FS");
	rm(dir, "new", "1700000005.e");
	rm(dir, "new", "1700000006.f");
	is_int(uidlist_sync(ul, &ch), 0, "sync of an emptied mailbox");
	is_int(ch.nexpunged, 5, "5 expunged");
	ok(ch.nexpunged == 5 && ch.expunged[0] == 1 && ch.expunged[4] == 6,
	    "expunged uids ascending");
	uidlist_changes_free(&ch);
	touch(dir, "new", "1700000001.a");	/* same name as old uid 1 */
	is_int(uidlist_sync(ul, &ch), 0, "sync after a new delivery");
	is_int(uid_of(ul, "1700000001.a"), 7, "reappearing name: new uid 7");
	uidlist_changes_free(&ch);

	/* Same name in new/ and cur/ (a rename during the scan): once. */
	touch(dir, "new", "1700000009.z");
	touch(dir, "cur", "1700000009.z:2,S");
	is_int(uidlist_sync(ul, &ch), 0, "sync with a name in both dirs");
	is_int(ch.added, 1, "counted once");
	e = uidlist_by_name(ul, "1700000009.z");
	is_str(e ? e->file : NULL, "cur/1700000009.z:2,S", "cur/ wins");
	uidlist_changes_free(&ch);
	uidlist_free(ul);
	rm_tree(dir);
}

static void
put_file(const char *path, const char *text)
{
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		fatal("%s", path);
	close(fd);
}

/* The whole (small) file as a string: 1, or 0. */
static int
read_all(const char *path, char *buf, size_t len)
{
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return 0;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return 0;
	buf[n] = '\0';
	return 1;
}

/*
 * Each new list gets a value above every one handed out before, also
 * many in one second and after a restart (the counter on disk), and
 * above any value read from a list; Dovecot's value is kept as it is.
 */
static void
test_uidvalidity(void)
{
	struct uidlist	*ul;
	char		 dir[64], text[128], path[PATH_MAX];
	uint32_t	 prev = 0, uv, first, high;
	time_t		 now = time(NULL);
	int		 i, up = 1;

	for (i = 0; i < 50; i++) {
		uv = uidlist_new_uidvalidity();
		if (uv <= prev)
			up = 0;
		prev = uv;
	}
	ok(up, "50 values in a row: strictly increasing");
	ok(prev >= (uint32_t)now + 49, "ahead of the clock when needed (%u)",
	    prev);
	snprintf(text, sizeof(text), "maild-uidvalidity 1 V%u\n", prev);
	if (!read_all(state, path, sizeof(path)))
		path[0] = '\0';
	ok(strcmp(path, text) == 0, "recorded: %.*s",
	    (int)strcspn(path, "\n"), path);

	/* A restart: nothing in memory, the file remembers. */
	uidlist_set_state(state);
	ok(uidlist_new_uidvalidity() == prev + 1, "after a restart: last + 1");
	prev++;

	/* A new list takes the next one. */
	mkmaildir(dir, sizeof(dir));
	is_int(uidlist_open(dir, &ul), 0, "open without a list: new list");
	ok(ul != NULL && ul->uidvalidity == prev + 1, "new list: next value");
	first = ul->uidvalidity;
	ok(uidlist_save(ul) == 0, "saved");
	uidlist_free(ul);
	/* Deleted and made again at once: another value. */
	rm_tree(dir);
	mkmaildir(dir, sizeof(dir));
	is_int(uidlist_open(dir, &ul), 0, "made again: new list");
	ok(ul != NULL && ul->uidvalidity > first, "made again: new value");
	uidlist_free(ul);

	/* A value read from a list raises the counter, in memory. */
	high = (uint32_t)now + 100000;
	snprintf(path, sizeof(path), "%s/%s", dir, UIDLIST_FILE);
	snprintf(text, sizeof(text), "maild-uidlist 1 V%u N1 M1 C0\n", high);
	put_file(path, text);
	is_int(uidlist_open(dir, &ul), 1, "open a list from the future");
	uidlist_free(ul);
	ok(uidlist_new_uidvalidity() == high + 1, "next value above it");
	rm_tree(dir);

	/* Dovecot's UIDVALIDITY is imported as it is, even a low one. */
	mkmaildir(dir, sizeof(dir));
	copy_fixture(DATA "dovecot-uidlist", dir, UIDLIST_DOVECOT);
	is_int(uidlist_open(dir, &ul), 1, "dovecot list");
	is_int(ul != NULL ? ul->uidvalidity : 0, 1700000123,
	    "dovecot's UIDVALIDITY kept");
	uidlist_free(ul);
	rm_tree(dir);

	/* A corrupt counter: ignored, the clock and memory still rule. */
	put_file(state, "garbage\n");
	uv = uidlist_new_uidvalidity();
	ok(uv == high + 2, "corrupt file: memory still counts (%u)", uv);
	uidlist_set_state(state);
	put_file(state, "maild-uidvalidity 1 V12x\n");
	uv = uidlist_new_uidvalidity();
	ok(uv >= (uint32_t)now, "corrupt file after a restart: the clock");
}

static void
test_dovecot(void)
{
	struct uidlist		*ul, *ul2;
	struct uidlist_changes	 ch;
	char			 dir[64];

	mkmaildir(dir, sizeof(dir));
	copy_fixture(DATA "dovecot-uidlist", dir, UIDLIST_DOVECOT);
	touch(dir, "cur", "1700000001.M1P100.mx,S=2180,W=2215:2,S");
	touch(dir, "new", "1700000002.M2P101.mx,S=1012,W=1040");
	touch(dir, "cur", "1700000004.M4P103.mx:2,RS");
	touch(dir, "new", "1700000010.M9P1.mx,S=99");

	is_int(uidlist_import_dovecot(dir, &ul), UIDLIST_OK, "import");
	ok(ul != NULL && ul->n == 4 && ul->uidnext == 12 &&
	    ul->uidvalidity == 1700000123, "4 uids, N12, V1700000123");
	uidlist_free(ul);

	is_int(uidlist_open(dir, &ul), 1, "open takes dovecot-uidlist");
	is_int(ul->uidvalidity, 1700000123, "uidvalidity kept");
	is_int(uidlist_sync(ul, &ch), 0, "sync imported list");
	is_int(uid_of(ul, "1700000001.M1P100.mx,S=2180,W=2215"), 2,
	    "uid 2 kept (extension fields skipped)");
	is_int(uid_of(ul, "1700000002.M2P101.mx,S=1012,W=1040"), 5,
	    "uid 5 kept");
	is_int(uid_of(ul, "1700000004.M4P103.mx"), 9, "uid 9 kept");
	ok(ch.nexpunged == 1 && ch.expunged[0] == 7,
	    "file missing from disk: uid 7 dropped");
	is_int(ch.added, 1, "file not in the list: added");
	is_int(uid_of(ul, "1700000010.M9P1.mx,S=99"), 12,
	    "new file gets dovecot's NEXTUID");
	is_int(ul->uidnext, 13, "uidnext 13");
	uidlist_changes_free(&ch);
	is_int(uidlist_save(ul), 0, "save imported list");

	/* From now on maild's own list wins over Dovecot's. */
	copy_fixture(DATA "bad-magic", dir, UIDLIST_DOVECOT);
	is_int(uidlist_open(dir, &ul2), 1, "reopen reads maild-uidlist");
	ok(ul2 != NULL && same_list(ul, ul2), "reopened list equal");
	uidlist_free(ul2);
	uidlist_free(ul);

	/* A broken dovecot-uidlist is not imported: new list. */
	rm_tree(dir);
	mkmaildir(dir, sizeof(dir));
	copy_fixture(DATA "bad-magic", dir, UIDLIST_DOVECOT);
	is_int(uidlist_import_dovecot(dir, &ul), UIDLIST_CORRUPT,
	    "bad dovecot header: corrupt");
	ok(ul == NULL, "no list returned");
	is_int(uidlist_open(dir, &ul), 0, "open: new list instead");
	uidlist_free(ul);
	rm_tree(dir);
}

static void
test_corrupt(void)
{
	static const char *bad[] = {
		"bad-version", "bad-magic", "truncated-line",
		"count-mismatch", "uid-order", "uid-ge-next", "dup-name",
		"modseq-high", "modseq-high-digit", "dot-name", "flags-in-name", "ctl-name",
		"zero-uidvalidity", "big-uidvalidity", "leading-zero",
		"empty-line", "nul-byte", "header-junk", "empty",
	};
	struct uidlist	*ul;
	char		 dir[64], p[PATH_MAX], fix[PATH_MAX];
	size_t		 i;

	mkmaildir(dir, sizeof(dir));
	copy_fixture(DATA "good", dir, UIDLIST_FILE);
	is_int(uidlist_load(dir, &ul), UIDLIST_OK, "good fixture loads");
	ok(ul != NULL && ul->n == 3 && ul->uidvalidity == 1700000500 &&
	    ul->uidnext == 6 && ul->highestmodseq == 9 &&
	    uid_of(ul, "1700000002.M2P2.host,S=120") == 3,
	    "good fixture values");
	uidlist_free(ul);

	for (i = 0; i < nitems(bad); i++) {
		snprintf(fix, sizeof(fix), DATA "%s", bad[i]);
		copy_fixture(fix, dir, UIDLIST_FILE);
		ul = (struct uidlist *)1;
		is_int(uidlist_load(dir, &ul), UIDLIST_CORRUPT, bad[i]);
		ok(ul == NULL, "%s: no list", bad[i]);
	}
	/* Corrupt list: open makes a new one with a new UIDVALIDITY. */
	copy_fixture(DATA "uid-order", dir, UIDLIST_FILE);
	is_int(uidlist_open(dir, &ul), 0, "open of a corrupt list: new list");
	ok(ul != NULL && ul->uidvalidity != 1700000500 && ul->n == 0,
	    "new uidvalidity, empty");
	uidlist_free(ul);

	/* A symlink or a directory in place of the list. */
	snprintf(p, sizeof(p), "%s/%s", dir, UIDLIST_FILE);
	unlink(p);
	if (symlink("/etc/passwd", p) == -1)
		fatal("symlink");
	is_int(uidlist_load(dir, &ul), UIDLIST_CORRUPT, "symlink: corrupt");
	unlink(p);
	if (mkdir(p, 0700) == -1)
		fatal("mkdir");
	is_int(uidlist_load(dir, &ul), UIDLIST_CORRUPT, "directory: corrupt");
	rmdir(p);
	is_int(uidlist_load(dir, &ul), UIDLIST_NOFILE, "no file: NOFILE");
	is_int(uidlist_load("/nonexistent/dir", &ul), UIDLIST_NOFILE,
	    "no directory: NOFILE");
	rm_tree(dir);
}

static void
test_hostile(void)
{
	struct uidlist		*ul;
	struct uidlist_changes	 ch;
	char			 dir[64], p[PATH_MAX], name[256], b[8];

	is_int(uidlist_basename("a:2,FS", b, sizeof(b)), 0, "basename");
	is_str(b, "a", "basename strips :2,");
	is_int(uidlist_basename("a,S=1:2,", b, sizeof(b)), 0, "basename S=");
	is_str(b, "a,S=1", "basename keeps ,S=");
	is_int(uidlist_basename("abcdefghij", b, sizeof(b)), -1,
	    "basename: buffer too small");
	is_int(uidlist_basename("", b, sizeof(b)), -1, "basename: empty");
	is_int(uidlist_basename(":2,S", b, sizeof(b)), -1,
	    "basename: empty base");
	/* A base holding ":2," would not read back from the list file. */
	is_int(uidlist_basename("x:2,y:2,S", b, sizeof(b)), -1,
	    "basename: a second :2, is refused");
	is_int(uidlist_basename("x:2,y", b, sizeof(b)), 0,
	    "basename: one :2, with letters");

	mkmaildir(dir, sizeof(dir));
	touch(dir, "new", "1700000001.good");
	touch(dir, "new", ".hidden");
	touch(dir, "cur", ".1700000002.dot:2,S");
	touch(dir, "new", "1700000003.ctl\001x");
	touch(dir, "new", "1700000004.nl\nx");
	touch(dir, "cur", "1700000005.del\177x:2,");
	touch(dir, "cur", ":2,S");
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	name[UIDLIST_NAME_MAX + 1] = '\0';	/* one over the limit */
	touch(dir, "new", name);
	snprintf(p, sizeof(p), "%s/cur/1700000006.subdir", dir);
	if (mkdir(p, 0700) == -1)
		fatal("mkdir");
	touch(dir, "cur", "1700000007.utf8-\xc3\xa9:2,S");

	is_int(uidlist_open(dir, &ul), 0, "hostile: new list");
	is_int(uidlist_sync(ul, &ch), 0, "hostile: sync");
	is_int(ch.added, 2, "only the two sane names added");
	is_int(uid_of(ul, "1700000001.good"), 1, "good name: uid 1");
	is_int(uid_of(ul, "1700000007.utf8-\xc3\xa9"), 2, "8-bit name: uid 2");
	uidlist_changes_free(&ch);
	is_int(uidlist_save(ul), 0, "hostile: save");
	uidlist_free(ul);
	is_int(uidlist_load(dir, &ul), UIDLIST_OK, "hostile: reload");
	is_int(ul ? ul->n : 0, 2, "hostile: 2 entries");
	uidlist_free(ul);
	rm_tree(dir);
}

static void
test_big(void)
{
	struct uidlist		*ul, *ul2;
	struct uidlist_changes	 ch;
	char			 dir[64], name[64];
	double			 t0, t;
	int			 i, bad = 0;

	mkmaildir(dir, sizeof(dir));
	/* Reverse creation order: UIDs must still follow name order. */
	for (i = BIG - 1; i >= 0; i--) {
		snprintf(name, sizeof(name), "%010d.M%dP1.host,S=1000%s",
		    1600000000 + i, i, i % 2 ? ":2,S" : "");
		touch(dir, i % 2 ? "cur" : "new", name);
	}
	is_int(uidlist_open(dir, &ul), 0, "big: new list");
	t0 = now();
	is_int(uidlist_sync(ul, &ch), 0, "big: first sync");
	t = now() - t0;
	printf("# first sync of %d messages: %.3f s\n", BIG, t);
	is_int(ch.added, BIG, "big: all added");
	uidlist_changes_free(&ch);
	for (i = 0; i < BIG; i += 997) {
		snprintf(name, sizeof(name), "%010d.M%dP1.host,S=1000",
		    1600000000 + i, i);
		if (uid_of(ul, name) != (uint32_t)i + 1)
			bad++;
	}
	is_int(bad, 0, "big: uids in name order");

	t0 = now();
	is_int(uidlist_save(ul), 0, "big: save");
	printf("# save: %.3f s\n", now() - t0);
	t0 = now();
	is_int(uidlist_load(dir, &ul2), UIDLIST_OK, "big: load");
	printf("# load: %.3f s\n", now() - t0);
	ok(ul2 != NULL && same_list(ul, ul2), "big: reloaded equal");
	uidlist_free(ul);

	t0 = now();
	is_int(uidlist_sync(ul2, &ch), 0, "big: unchanged sync");
	t = now() - t0;
	printf("# unchanged sync of %d messages: %.3f s\n", BIG, t);
	ok(ch.added == 0 && ch.nexpunged == 0, "big: nothing changed");
	ok(t < 2.0, "big: unchanged sync under 2 s");
	uidlist_changes_free(&ch);

	t0 = now();
	is_int(uidlist_sync(ul2, &ch), 0, "big: second unchanged sync");
	printf("# second unchanged sync: %.3f s\n", now() - t0);
	uidlist_changes_free(&ch);
	uidlist_free(ul2);
	rm_tree(dir);
}

int
main(void)
{
	log_init(1, 0);
	if (strlcpy(state_dir, "/tmp/test_uidlist.state.XXXXXX",
	    sizeof(state_dir)) >= sizeof(state_dir) ||
	    mkdtemp(state_dir) == NULL)
		fatal("mkdtemp");
	snprintf(state, sizeof(state), "%s/%s", state_dir, UIDLIST_STATE);
	uidlist_set_state(state);
	test_uidvalidity();
	test_first_sync();
	test_changes();
	test_dovecot();
	test_corrupt();
	test_hostile();
	test_big();
	rm_tree(state_dir);
	return done_testing();
}
