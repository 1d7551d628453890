/*
 * Unit tests for uidlist.c, the file format: save and reload, Dovecot
 * import, corrupt lists, base names, a 100,000-entry list, the
 * UIDVALIDITY counter (never a value twice, across a restart too) and
 * the MAILBOXID (kept by rewrites, made for lists that had none).
 * How a mailbox's list follows its files (new mail, flag changes,
 * expunges, MODSEQs) is the open mailbox's job: test_imap_mbox_sync.c.
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
#include "tap.h"
#include "uidlist.h"
#include "util.h"

#define DATA	"tests/data/uidlist/"
#define BIG	100000

static void	 mkmaildir(char *, size_t);
static void	 copy_fixture(const char *, const char *, const char *);
static int	 rm_cb(const char *, const struct stat *, int, struct FTW *);
static void	 rm_tree(const char *);
static double	 now(void);
static int	 same_list(const struct uidlist *, const struct uidlist *);
static uint32_t	 uid_of(const struct uidlist *, const char *);
static void	 test_save(void);
static void	 test_dovecot(void);
static void	 test_corrupt(void);
static void	 test_hostile(void);
static void	 write_big(const char *, int);
static void	 test_big(void);
static void	 test_uidvalidity(void);
static void	 test_mailboxid(void);
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
	size_t	 i;

	for (i = 0; i < ul->n; i++)
		if (strcmp(ul->ent[i].name, name) == 0)
			return ul->ent[i].uid;
	return 0;
}

/* A list saved and read again is the same list, byte for byte too. */
static void
test_save(void)
{
	struct uidlist	*ul, *ul2;
	char		 dir[64], p[PATH_MAX], a[512], b[512];

	mkmaildir(dir, sizeof(dir));
	copy_fixture(DATA "good", dir, UIDLIST_FILE);
	is_int(uidlist_load(dir, &ul), UIDLIST_OK, "load");
	ok(!ul->dirty, "clean after load");
	snprintf(p, sizeof(p), "%s/%s", dir, UIDLIST_FILE);
	ok(read_all(p, a, sizeof(a)), "read the fixture");
	if (unlink(p) == -1)
		fatal("unlink");
	ul->dirty = 1;
	is_int(uidlist_save(ul), 0, "save");
	ok(!ul->dirty, "clean after save");
	ok(read_all(p, b, sizeof(b)) && strcmp(a, b) == 0,
	    "written as it was read");
	is_int(uidlist_load(dir, &ul2), UIDLIST_OK, "reload");
	ok(ul2 != NULL && same_list(ul, ul2), "reloaded list is equal");
	uidlist_free(ul2);
	is_int(uidlist_open(dir, &ul2), 1, "open finds the saved list");
	ok(ul2 != NULL && same_list(ul, ul2), "opened list is equal");
	uidlist_free(ul2);
	is_int(uidlist_save_nosync(ul), 0, "save without fsync");
	is_int(uidlist_load(dir, &ul2), UIDLIST_OK, "reload");
	ok(ul2 != NULL && same_list(ul, ul2), "the same list");
	uidlist_free(ul2);

	/* A directory that went away: the save fails, nothing is lost. */
	rm_tree(dir);
	is_int(uidlist_save(ul), -1, "save into a vanished mailbox fails");
	is_int(ul->n, 3, "list unchanged by a failed save");
	uidlist_free(ul);
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

/*
 * RFC 8474: a MAILBOXID is made with a new list, kept by every rewrite
 * (RENAME rewrites the list with a new UIDVALIDITY), and made for a
 * list of version 1; Dovecot's mailbox GUID is taken over.
 */
static void
test_mailboxid(void)
{
	struct uidlist	*ul, *ul2;
	char		 dir[64], id[UIDLIST_ID_MAX + 8], p[PATH_MAX];
	char		 text[512];

	mkmaildir(dir, sizeof(dir));
	is_int(uidlist_open(dir, &ul), 0, "new list");
	ok(ul != NULL && ul->mailboxid[0] == 'F' &&
	    strlen(ul->mailboxid) == 25 &&
	    uidlist_objectid_valid(ul->mailboxid, strlen(ul->mailboxid)),
	    "new list: MAILBOXID F + 24 hex (%s)", ul ? ul->mailboxid : "");
	strlcpy(id, ul->mailboxid, sizeof(id));
	is_int(uidlist_save(ul), 0, "save");
	uidlist_free(ul);
	is_int(uidlist_open(dir, &ul), 1, "reopen");
	is_str(ul->mailboxid, id, "MAILBOXID read back");
	ok(!ul->dirty, "a version 2 list is clean");
	ul->uidvalidity = uidlist_new_uidvalidity();
	is_int(uidlist_save(ul), 0, "new UIDVALIDITY saved (RENAME)");
	uidlist_free(ul);
	is_int(uidlist_load(dir, &ul), UIDLIST_OK, "load");
	is_str(ul->mailboxid, id, "MAILBOXID kept by the rewrite");
	uidlist_free(ul);
	rm_tree(dir);

	/* Made again: another MAILBOXID. */
	mkmaildir(dir, sizeof(dir));
	is_int(uidlist_open(dir, &ul), 0, "made again");
	ok(strcmp(ul->mailboxid, id) != 0, "another MAILBOXID");
	uidlist_free(ul);

	/* Version 1: read, given a MAILBOXID, written as version 2. */
	copy_fixture(DATA "good-v1", dir, UIDLIST_FILE);
	is_int(uidlist_load(dir, &ul), UIDLIST_OK, "version 1 loads");
	ok(ul->dirty && ul->mailboxid[0] == 'F' && ul->n == 3,
	    "version 1: new MAILBOXID, dirty");
	is_int(uidlist_save(ul), 0, "saved");
	snprintf(p, sizeof(p), "%s/%s", dir, UIDLIST_FILE);
	snprintf(id, sizeof(id), " I%s\n", ul->mailboxid);
	ok(read_all(p, text, sizeof(text)) &&
	    strncmp(text, "maild-uidlist 2 ", 16) == 0 &&
	    strstr(text, id) != NULL, "written as version 2");
	is_int(uidlist_load(dir, &ul2), UIDLIST_OK, "reload");
	ok(ul2 != NULL && same_list(ul, ul2) &&
	    strcmp(ul->mailboxid, ul2->mailboxid) == 0, "same list and id");
	uidlist_free(ul2);
	uidlist_free(ul);
	rm_tree(dir);

	/* Dovecot's mailbox GUID becomes the MAILBOXID. */
	mkmaildir(dir, sizeof(dir));
	copy_fixture(DATA "dovecot-uidlist", dir, UIDLIST_DOVECOT);
	is_int(uidlist_open(dir, &ul), 1, "dovecot list");
	is_str(ul->mailboxid, "5a3f0c2e1b9d4c7a8e6f01234abcd987",
	    "Dovecot's GUID kept");
	uidlist_free(ul);
	snprintf(p, sizeof(p), "%s/%s", dir, UIDLIST_DOVECOT);
	put_file(p, "3 V1700000123 N9 Gx/y\n1 :a\n");
	is_int(uidlist_import_dovecot(dir, &ul), UIDLIST_OK, "bad GUID");
	ok(ul->mailboxid[0] == 'F', "bad GUID: a MAILBOXID of our own");
	uidlist_free(ul);
	rm_tree(dir);

	ok(!uidlist_objectid_valid("", 0) &&
	    !uidlist_objectid_valid("a b", 3) &&
	    !uidlist_objectid_valid("a.b", 3) &&
	    uidlist_objectid_valid("Az09_-", 6), "objectid syntax");
	memset(text, 'a', UIDLIST_ID_MAX + 1);
	ok(uidlist_objectid_valid(text, UIDLIST_ID_MAX) &&
	    !uidlist_objectid_valid(text, UIDLIST_ID_MAX + 1),
	    "objectid length bound");
}

static void
test_dovecot(void)
{
	struct uidlist	*ul, *ul2;
	char		 dir[64], p[PATH_MAX];

	mkmaildir(dir, sizeof(dir));
	copy_fixture(DATA "dovecot-uidlist", dir, UIDLIST_DOVECOT);

	is_int(uidlist_import_dovecot(dir, &ul), UIDLIST_OK, "import");
	ok(ul != NULL && ul->n == 4 && ul->uidnext == 12 &&
	    ul->uidvalidity == 1700000123, "4 uids, N12, V1700000123");
	ok(ul != NULL && ul->dirty, "an import is not on disk yet");
	uidlist_free(ul);

	is_int(uidlist_open(dir, &ul), 1, "open takes dovecot-uidlist");
	is_int(ul->uidvalidity, 1700000123, "uidvalidity kept");
	is_int(uid_of(ul, "1700000001.M1P100.mx,S=2180,W=2215"), 2,
	    "uid 2 (extension fields skipped)");
	is_int(uid_of(ul, "1700000002.M2P101.mx,S=1012,W=1040"), 5,
	    "uid 5 (fields without G)");
	is_int(uid_of(ul, "1700000003.M3P102.mx,S=500,W=512"), 7,
	    "uid 7 (no fields)");
	is_int(uid_of(ul, "1700000004.M4P103.mx"), 9, "uid 9");
	ok(ul->ent[0].modseq == 1 && ul->ent[3].modseq == 1 &&
	    ul->highestmodseq == 1, "MODSEQs start at 1");
	is_int(uidlist_save(ul), 0, "save imported list");
	snprintf(p, sizeof(p), "%s/%s", dir, UIDLIST_FILE);
	ok(access(p, F_OK) == 0, "maild-uidlist written");

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
	/* Two UIDs for one base name (flags differ): not imported. */
	snprintf(p, sizeof(p), "%s/%s", dir, UIDLIST_DOVECOT);
	put_file(p, "3 V1700000123 N9\n1 :a:2,S\n2 :a:2,F\n");
	is_int(uidlist_import_dovecot(dir, &ul), UIDLIST_CORRUPT,
	    "a base name twice: corrupt");
	put_file(p, "3 V1700000123 N9\n1 :a:2,S\n2 :b\n");
	is_int(uidlist_import_dovecot(dir, &ul), UIDLIST_OK,
	    "two names: imported");
	is_int(ul != NULL ? uid_of(ul, "a") : 0, 1, "base name of a:2,S");
	uidlist_free(ul);
	rm_tree(dir);
}

static void
test_corrupt(void)
{
	static const char *bad[] = {
		"bad-version", "bad-magic", "truncated-line",
		"count-mismatch", "uid-order", "uid-ge-next", "dup-name",
		"modseq-high", "modseq-high-digit", "dot-name",
		"flags-in-name", "ctl-name",
		"zero-uidvalidity", "big-uidvalidity", "leading-zero",
		"empty-line", "nul-byte", "header-junk", "empty",
		"recent-high", "recent-zero", "recent-junk",
		"no-mailboxid", "bad-mailboxid", "empty-mailboxid",
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
	ok(ul != NULL && ul->firstrecent == 0, "no R: first recent unknown");
	uidlist_free(ul);
	copy_fixture(DATA "good-recent", dir, UIDLIST_FILE);
	is_int(uidlist_load(dir, &ul), UIDLIST_OK, "R5 loads");
	ok(ul != NULL && ul->firstrecent == 5, "R5: first recent UID 5");
	if (ul != NULL) {
		is_int(uidlist_save(ul), 0, "R5: saved");
		uidlist_free(ul);
	}
	is_int(uidlist_load(dir, &ul), UIDLIST_OK, "R5 reloads");
	ok(ul != NULL && ul->firstrecent == 5 && ul->n == 3,
	    "R5 survives a save");
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
	char	 name[UIDLIST_NAME_MAX + 2], buf[UIDLIST_NAME_MAX + 1], b[8];

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
	ok(uidlist_basename(".hidden", b, sizeof(b)) == -1 &&
	    uidlist_basename("a\001b", b, sizeof(b)) == -1 &&
	    uidlist_basename("a\nb", b, sizeof(b)) == -1 &&
	    uidlist_basename("a\177b", b, sizeof(b)) == -1 &&
	    uidlist_basename("a/b", b, sizeof(b)) == -1,
	    "basename: dot file, control bytes, DEL, slash refused");
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';		/* one over the limit */
	is_int(uidlist_basename(name, buf, sizeof(buf)), -1,
	    "basename: longer than UIDLIST_NAME_MAX");
	name[UIDLIST_NAME_MAX] = '\0';
	is_int(uidlist_basename(name, buf, sizeof(buf)), 0,
	    "basename: UIDLIST_NAME_MAX bytes");
	is_int(uidlist_basename("1.utf8-\xc3\xa9:2,S", buf, sizeof(buf)), 0,
	    "basename: 8-bit bytes kept");
}

/* BIG entries, UIDs 1, 3, 5...; dup: the last one has the first name. */
static void
write_big(const char *path, int dup)
{
	FILE	*f;
	int	 i;

	if ((f = fopen(path, "w")) == NULL)
		fatal("%s", path);
	fprintf(f, "maild-uidlist 1 V1700000000 N%d M%d C%d\n", 2 * BIG + 1,
	    BIG + 1, BIG);
	for (i = 0; i < BIG; i++)
		fprintf(f, "%d %d %010d.M%dP1.host,S=1000\n", 2 * i + 1, i + 1,
		    1600000000 + (dup && i == BIG - 1 ? 0 : i),
		    dup && i == BIG - 1 ? 0 : i);
	if (fclose(f) == EOF)
		fatal("%s", path);
}

/* A 100,000-entry list: loaded, saved and loaded again, and how fast. */
static void
test_big(void)
{
	struct uidlist	*ul, *ul2;
	char		 dir[64], p[PATH_MAX], name[64];
	double		 t0;
	int		 i, bad = 0;

	mkmaildir(dir, sizeof(dir));
	snprintf(p, sizeof(p), "%s/%s", dir, UIDLIST_FILE);
	write_big(p, 0);
	t0 = now();
	is_int(uidlist_load(dir, &ul), UIDLIST_OK, "big: load");
	printf("# load of %d entries: %.3f s\n", BIG, now() - t0);
	is_int(ul != NULL ? ul->n : 0, BIG, "big: all entries");
	for (i = 0; ul != NULL && i < BIG; i += 997) {
		snprintf(name, sizeof(name), "%010d.M%dP1.host,S=1000",
		    1600000000 + i, i);
		if (ul->ent[i].uid != (uint32_t)(2 * i + 1) ||
		    strcmp(ul->ent[i].name, name) != 0)
			bad++;
	}
	is_int(bad, 0, "big: entries in UID order");
	if (ul == NULL)
		return;
	t0 = now();
	is_int(uidlist_save(ul), 0, "big: save");
	printf("# save: %.3f s\n", now() - t0);
	is_int(uidlist_load(dir, &ul2), UIDLIST_OK, "big: load again");
	ok(ul2 != NULL && same_list(ul, ul2), "big: reloaded equal");
	uidlist_free(ul2);
	uidlist_free(ul);

	/* The last entry names the first file again: all of it is bad. */
	write_big(p, 1);
	is_int(uidlist_load(dir, &ul), UIDLIST_CORRUPT,
	    "big: a name far apart twice: corrupt");
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
	test_save();
	test_dovecot();
	test_corrupt();
	test_hostile();
	test_big();
	test_mailboxid();
	rm_tree(state_dir);
	return done_testing();
}
