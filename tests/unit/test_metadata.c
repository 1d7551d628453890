/*
 * Unit tests for metadata.c: entry names as RFC 5464 3.2 has them, the
 * limits (value size, entries), DEPTH 1 and infinity below an entry,
 * save and reload (values with NULs and line ends too), the file gone
 * when the last entry goes, and hostile or damaged files (fixtures in
 * tests/data/metadata, run from the top directory): each read as
 * empty, never half.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "log.h"
#include "metadata.h"
#include "tap.h"
#include "util.h"

#define DATA	"tests/data/metadata/"

static char	 dir[64];

static void	 copy_fixture(const char *);
static int	 rm_cb(const char *, const struct stat *, int, struct FTW *);
static void	 test_names(void);
static void	 test_set(void);
static void	 test_below(void);
static void	 test_files(void);
static void	 test_hostile(void);

static void
copy_fixture(const char *name)
{
	char	 src[PATH_MAX], dst[PATH_MAX], *buf;
	size_t	 len;
	int	 fd;

	snprintf(src, sizeof(src), DATA "%s", name);
	snprintf(dst, sizeof(dst), "%s/%s", dir, METADATA_FILE);
	if ((fd = open(src, O_RDONLY)) == -1)
		fatal("%s", src);
	if ((buf = read_fd(fd, 1024 * 1024, &len)) == NULL)
		fatal("read %s", src);
	close(fd);
	if ((fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write_full(fd, buf, len) == -1)
		fatal("%s", dst);
	close(fd);
	free(buf);
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
test_names(void)
{
	static const struct {
		const char	*in;
		const char	*out;	/* NULL: refused */
	} t[] = {
		{ "/private/comment", "/private/comment" },
		{ "/shared/comment", "/shared/comment" },
		{ "/Private/Comment", "/private/comment" },
		{ "/SHARED/Vendor/X-Y_z.1", "/shared/vendor/x-y_z.1" },
		{ "/private", "/private" },
		{ "/shared", "/shared" },
		{ "/private/with space", "/private/with space" },
		{ "", NULL },
		{ "private/comment", NULL },
		{ "/", NULL },
		{ "/privatex/a", NULL },
		{ "/other/comment", NULL },
		{ "/private/", NULL },
		{ "/private//a", NULL },
		{ "/private/a*", NULL },
		{ "/private/a%b", NULL },
		{ "/private/a\tb", NULL },
		{ "/private/a\x7f", NULL },
		{ "/private/\xc3\xa9", NULL },
	};
	char		 out[METADATA_NAME_MAX + 1], big[METADATA_NAME_MAX + 8];
	const char	*why;
	size_t		 i;
	int		 r;

	for (i = 0; i < nitems(t); i++) {
		r = metadata_name(t[i].in, strlen(t[i].in), out, &why);
		if (t[i].out == NULL)
			ok(r == -1 && why != NULL, "refused: \"%s\" (%s)",
			    t[i].in, why ? why : "");
		else
			ok(r == 0 && strcmp(out, t[i].out) == 0,
			    "accepted: \"%s\"", t[i].in);
	}
	memset(big, 'a', sizeof(big));
	memcpy(big, "/private/", 9);
	ok(metadata_name(big, METADATA_NAME_MAX, out, &why) == 0,
	    "%d bytes: accepted", METADATA_NAME_MAX);
	ok(metadata_name(big, METADATA_NAME_MAX + 1, out, &why) == -1,
	    "%d bytes: refused", METADATA_NAME_MAX + 1);
	ok(metadata_is_root("/private") && metadata_is_root("/shared") &&
	    !metadata_is_root("/private/a"), "roots");
	ok(metadata_is_shared("/shared/a") && metadata_is_shared("/shared") &&
	    !metadata_is_shared("/sharedx") &&
	    !metadata_is_shared("/private/shared"), "shared tree");
}

static void
test_set(void)
{
	struct metadata			 md;
	const struct metadata_entry	*e;
	char				 name[64], *big;
	size_t				 i;

	memset(&md, 0, sizeof(md));
	is_int(metadata_set(&md, "/private/b", "2", 1), 0, "set b");
	is_int(metadata_set(&md, "/private/a", "1", 1), 0, "set a");
	is_int(metadata_set(&md, "/private/c", "", 0), 0, "set c empty");
	ok(md.n == 3 && strcmp(md.ent[0].name, "/private/a") == 0 &&
	    strcmp(md.ent[2].name, "/private/c") == 0, "sorted");
	is_int(metadata_set(&md, "/private/b", "22", 2), 0, "replace b");
	e = metadata_get(&md, "/private/b");
	ok(e != NULL && e->len == 2 && memcmp(e->value, "22", 2) == 0,
	    "b replaced");
	e = metadata_get(&md, "/private/c");
	ok(e != NULL && e->len == 0, "empty value kept (not NIL)");
	is_int(metadata_set(&md, "/private/b", NULL, 0), 0, "remove b");
	ok(metadata_get(&md, "/private/b") == NULL && md.n == 2, "b gone");
	is_int(metadata_set(&md, "/private/zz", NULL, 0), 0,
	    "removing what is not there");

	if ((big = malloc(METADATA_VALUE_MAX + 1)) == NULL)
		fatal("malloc");
	memset(big, 'v', METADATA_VALUE_MAX + 1);
	is_int(metadata_set(&md, "/private/big", big, METADATA_VALUE_MAX), 0,
	    "value of the largest size");
	is_int(metadata_set(&md, "/private/big", big,
	    METADATA_VALUE_MAX + 1), METADATA_TOOBIG, "one byte more: TOOBIG");
	e = metadata_get(&md, "/private/big");
	ok(e != NULL && e->len == METADATA_VALUE_MAX,
	    "TOOBIG leaves the old value");
	free(big);

	for (i = md.n; i < METADATA_ENTRIES_MAX; i++) {
		snprintf(name, sizeof(name), "/private/n%03zu", i);
		if (metadata_set(&md, name, "x", 1) != 0)
			break;
	}
	is_int(md.n, METADATA_ENTRIES_MAX, "up to the entry limit");
	is_int(metadata_set(&md, "/private/one-more", "x", 1),
	    METADATA_TOOMANY, "one more: TOOMANY");
	is_int(metadata_set(&md, "/private/a", "again", 5), 0,
	    "a full store still changes an entry");
	is_int(metadata_set(&md, "/private/a", NULL, 0), 0,
	    "and removes one");
	is_int(metadata_set(&md, "/private/one-more", "x", 1), 0,
	    "then has room for one");
	metadata_free(&md);
	ok(md.n == 0 && md.ent == NULL, "freed");
}

static void
test_below(void)
{
	static const char *const names[] = {
		"/private/a", "/private/a-b", "/private/a/b", "/private/a/b/c",
		"/private/a/d", "/private/a0", "/private/ab", "/shared/a/b"
	};
	const struct metadata_entry	*e;
	struct metadata			 md;
	char				 got[512];
	size_t				 i, pos;

	memset(&md, 0, sizeof(md));
	for (i = 0; i < nitems(names); i++)
		(void)metadata_set(&md, names[i], "v", 1);
	got[0] = '\0';
	for (pos = 0; (e = metadata_next_below(&md, "/private/a", 1,
	    &pos)) != NULL; ) {
		strlcat(got, e->name, sizeof(got));
		strlcat(got, " ", sizeof(got));
	}
	is_str(got, "/private/a/b /private/a/d ", "DEPTH 1: children");
	got[0] = '\0';
	for (pos = 0; (e = metadata_next_below(&md, "/private/a", 2,
	    &pos)) != NULL; ) {
		strlcat(got, e->name, sizeof(got));
		strlcat(got, " ", sizeof(got));
	}
	is_str(got, "/private/a/b /private/a/b/c /private/a/d ",
	    "DEPTH infinity: all below");
	got[0] = '\0';
	for (pos = 0; (e = metadata_next_below(&md, "/private", 1,
	    &pos)) != NULL; ) {
		strlcat(got, e->name, sizeof(got));
		strlcat(got, " ", sizeof(got));
	}
	is_str(got, "/private/a /private/a-b /private/a0 /private/ab ",
	    "DEPTH 1 of /private");
	pos = 0;
	ok(metadata_next_below(&md, "/private/zzz", 2, &pos) == NULL,
	    "nothing below a missing entry");
	metadata_free(&md);
}

static void
test_files(void)
{
	const struct metadata_entry	*e;
	struct metadata			 md, md2;
	struct stat			 st;
	char				 path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, METADATA_FILE);
	is_int(metadata_load(dir, METADATA_FILE, &md), 0, "no file: empty");
	ok(md.n == 0, "no entries");
	(void)metadata_set(&md, "/private/comment", "My comment", 10);
	(void)metadata_set(&md, "/shared/bin", "a\0b\nc\r\n", 7);
	(void)metadata_set(&md, "/private/empty", "", 0);
	is_int(metadata_save(dir, METADATA_FILE, &md), 0, "save");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "written, mode 0600");
	is_int(metadata_load(dir, METADATA_FILE, &md2), 0, "reload");
	e = metadata_get(&md2, "/shared/bin");
	ok(md2.n == 3 && e != NULL && e->len == 7 &&
	    memcmp(e->value, "a\0b\nc\r\n", 7) == 0,
	    "NUL and line ends survive");
	e = metadata_get(&md2, "/private/empty");
	ok(e != NULL && e->len == 0, "empty value survives");
	metadata_free(&md2);

	while (md.n > 0)
		(void)metadata_set(&md, md.ent[0].name, NULL, 0);
	is_int(metadata_save(dir, METADATA_FILE, &md), 0, "save empty");
	ok(stat(path, &st) == -1, "no entries: no file");
	is_int(metadata_save(dir, METADATA_FILE, &md), 0, "save empty again");
	metadata_free(&md);

	copy_fixture("good");
	is_int(metadata_load(dir, METADATA_FILE, &md), 0, "good fixture");
	e = metadata_get(&md, "/shared/x/y");
	ok(md.n == 3 && e != NULL && e->len == 5 &&
	    memcmp(e->value, "a\nb\0c", 5) == 0, "good fixture values");
	metadata_free(&md);

	/* A directory that is not there: an error, not "empty". */
	ok(metadata_save("/nonexistent-dir-of-test", METADATA_FILE, &md) ==
	    -1, "save into a missing directory: -1");
}

static void
test_hostile(void)
{
	static const char *bad[] = {
		"bad-magic", "count-high", "count-low", "count-over",
		"unsorted", "dup", "upper", "bad-name", "wildcard", "root",
		"slashslash", "ctl-name", "short-value", "no-newline",
		"value-big", "leading-zero", "trailing", "empty", "long-name"
	};
	struct metadata	 md;
	char		 path[PATH_MAX];
	size_t		 i;

	for (i = 0; i < nitems(bad); i++) {
		copy_fixture(bad[i]);
		md.n = 99;
		ok(metadata_load(dir, METADATA_FILE, &md) == 0 && md.n == 0 &&
		    md.ent == NULL, "%s: read as empty", bad[i]);
	}
	/* A directory or a symbolic link as the file: never read. */
	snprintf(path, sizeof(path), "%s/%s", dir, METADATA_FILE);
	unlink(path);
	if (symlink("/etc/passwd", path) == -1)
		fatal("symlink");
	ok(metadata_load(dir, METADATA_FILE, &md) == -1,
	    "a symbolic link: an error");
	unlink(path);
	if (mkdir(path, 0700) == -1)
		fatal("mkdir");
	ok(metadata_load(dir, METADATA_FILE, &md) == 0 && md.n == 0,
	    "a directory: empty");
	rmdir(path);
}

int
main(void)
{
	log_init(1, 0);
	if (strlcpy(dir, "/tmp/test_metadata.XXXXXX", sizeof(dir)) >=
	    sizeof(dir) || mkdtemp(dir) == NULL)
		fatal("mkdtemp");
	test_names();
	test_set();
	test_below();
	test_files();
	test_hostile();
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return done_testing();
}
