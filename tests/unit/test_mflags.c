/*
 * Tests for mflags.c: Maildir flag names, renames into cur/, the keyword
 * table file and IMAP flag lists.  Fixtures are in tests/data/mflags (run
 * from the top directory); each is copied to a temporary mailbox as its
 * dovecot-keywords.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "maild.h"
#include "mflags.h"
#include "tap.h"
#include "util.h"

#define DATA	"tests/data/mflags/"

static char	tmpdir[] = "/tmp/test_mflags.XXXXXX";

static void	test_parse(void);
static void	test_build(void);
static void	test_size(void);
static void	test_rename(void);
static void	test_kw_file(void);
static void	test_kw_table(void);
static void	test_render(void);
static int	copy_fixture(const char *);
static int	touch(const char *);
static int	exists(const char *);
static void	rmtree(void);

static int
touch(const char *rel)
{
	char	 path[PATH_MAX];
	int	 fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		return -1;
	close(fd);
	return 0;
}

static int
exists(const char *rel)
{
	char	 path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	return access(path, F_OK) == 0;
}

static int
copy_fixture(const char *name)
{
	char	 src[PATH_MAX], dst[PATH_MAX], buf[16384];
	FILE	*in, *out;
	size_t	 n;

	snprintf(src, sizeof(src), DATA "%s", name);
	snprintf(dst, sizeof(dst), "%s/%s", tmpdir, MFLAGS_KW_FILE);
	if ((in = fopen(src, "r")) == NULL)
		return -1;
	if ((out = fopen(dst, "w")) == NULL) {
		fclose(in);
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), in);
	fwrite(buf, 1, n, out);
	fclose(in);
	fclose(out);
	return 0;
}

static void
rmtree(void)
{
	char	 cmd[PATH_MAX + 16];

	/* tmpdir is ours, made by mkdtemp(). */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
}

static void
test_parse(void)
{
	struct mflags	 f;
	char		 base[MFLAGS_NAME_MAX + 1], big[400];

	is_int(mflags_parse("123.M1P2.host,S=10:2,FRS", base, sizeof(base),
	    &f), 0, "parse: ok");
	is_str(base, "123.M1P2.host,S=10", "parse: base");
	is_int(f.sys, MFLAG_FLAGGED | MFLAG_ANSWERED | MFLAG_SEEN,
	    "parse: system flags");
	is_int(f.kw, 0, "parse: no keywords");
	is_str(f.other, "", "parse: no unknown letters");

	is_int(mflags_parse("1.x:2,DPTace", base, sizeof(base), &f), 0,
	    "parse: keywords");
	is_int(f.sys, MFLAG_DRAFT | MFLAG_PASSED | MFLAG_DELETED,
	    "parse: D P T");
	is_int(f.kw, (1 << 0) | (1 << 2) | (1 << 4), "parse: a c e");

	is_int(mflags_parse("1.x", base, sizeof(base), &f), 0,
	    "parse: no info");
	is_str(base, "1.x", "parse: no info base");
	ok(f.sys == 0 && f.kw == 0 && f.other[0] == '\0',
	    "parse: no info, no flags");

	is_int(mflags_parse("1.x:2,", base, sizeof(base), &f), 0,
	    "parse: empty flags");
	ok(f.sys == 0 && f.kw == 0, "parse: empty flags are none");

	is_int(mflags_parse("1.x:1,foo", base, sizeof(base), &f), 0,
	    "parse: experimental info ':1,' is part of the base");
	is_str(base, "1.x:1,foo", "parse: ':1,' base");

	is_int(mflags_parse("1.x:2,ZS9Z!\xc3", base, sizeof(base), &f), 0,
	    "parse: unknown letters tolerated");
	is_str(f.other, "!9Z\xc3", "parse: unknown letters, once, sorted");
	is_int(f.sys, MFLAG_SEEN, "parse: known among unknown");

	is_int(mflags_parse("a:b:2,S", base, sizeof(base), &f), 0,
	    "parse: colon in base");
	is_str(base, "a:b", "parse: last ':2,' splits");

	/* Hostile names. */
	is_int(mflags_parse("", base, sizeof(base), &f), -1, "parse: empty");
	is_int(mflags_parse(".hidden:2,S", base, sizeof(base), &f), -1,
	    "parse: dot file");
	is_int(mflags_parse("a/b:2,S", base, sizeof(base), &f), -1,
	    "parse: slash");
	is_int(mflags_parse("a\nb:2,S", base, sizeof(base), &f), -1,
	    "parse: control char");
	is_int(mflags_parse("ab:2,S\x7f", base, sizeof(base), &f), -1,
	    "parse: DEL in flags");
	is_int(mflags_parse(":2,S", base, sizeof(base), &f), -1,
	    "parse: empty base");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	is_int(mflags_parse(big, base, sizeof(base), &f), -1,
	    "parse: too long");
	big[MFLAGS_NAME_MAX] = '\0';
	is_int(mflags_parse(big, base, sizeof(base), &f), 0,
	    "parse: longest name");
	is_int(mflags_parse("abcdef:2,S", base, 4, &f), -1,
	    "parse: base buffer too small");
}

static void
test_build(void)
{
	struct mflags	 f, g;
	char		 out[MFLAGS_NAME_MAX + 1], base[MFLAGS_NAME_MAX + 1];
	char		 big[MFLAGS_NAME_MAX + 1];

	memset(&f, 0, sizeof(f));
	f.sys = MFLAG_SEEN | MFLAG_DRAFT | MFLAG_ANSWERED | MFLAG_FLAGGED |
	    MFLAG_DELETED | MFLAG_PASSED | MFLAG_RECENT;
	f.kw = (1 << 25) | 1;
	is_int(mflags_build("1.x", &f, out, sizeof(out)), 0, "build: ok");
	is_str(out, "1.x:2,DFPRSTaz", "build: sorted, \\Recent not stored");

	memset(&f, 0, sizeof(f));
	is_int(mflags_build("1.x", &f, out, sizeof(out)), 0, "build: none");
	is_str(out, "1.x:2,", "build: empty flag list");

	/* Round trip with unknown letters. */
	mflags_parse("1.x,S=5:2,9SaZ!", base, sizeof(base), &f);
	f.sys |= MFLAG_FLAGGED;
	f.kw |= 1 << 1;
	is_int(mflags_build(base, &f, out, sizeof(out)), 0,
	    "build: round trip");
	is_str(out, "1.x,S=5:2,!9FSZab", "build: unknown letters kept, sorted");
	mflags_parse(out, base, sizeof(base), &g);
	ok(g.sys == f.sys && g.kw == f.kw && strcmp(g.other, f.other) == 0,
	    "build: parse(build(x)) == x");
	is_str(base, "1.x,S=5", "build: base kept");

	memset(&f, 0, sizeof(f));
	is_int(mflags_build("1.x", &f, out, 5), -1, "build: buffer too small");
	is_int(mflags_build("", &f, out, sizeof(out)), -1, "build: empty base");
	is_int(mflags_build("a/b", &f, out, sizeof(out)), -1,
	    "build: slash in base");
	is_int(mflags_build("x:2,S", &f, out, sizeof(out)), -1,
	    "build: base with info refused");
	memset(big, 'x', MFLAGS_NAME_MAX - 3);
	big[MFLAGS_NAME_MAX - 3] = '\0';
	is_int(mflags_build(big, &f, out, sizeof(out)), 0,
	    "build: longest name fits");
	f.sys = MFLAG_SEEN;
	is_int(mflags_build(big, &f, out, sizeof(out)), -1,
	    "build: over the name limit");
}

static void
test_size(void)
{
	uint64_t	 sz = 0;

	is_int(mflags_size("1.M2.host,S=1234,W=1260:2,S", &sz), 1,
	    "size: found");
	is_int(sz, 1234, "size: value");
	is_int(mflags_size("1.M2.host,S=77", &sz), 1, "size: at end");
	is_int(sz, 77, "size: value at end");
	is_int(mflags_size("1.M2.host,W=1260,S=9:2,", &sz), 1,
	    "size: after W=");
	is_int(sz, 9, "size: value after W=");
	is_int(mflags_size("1.M2.host", &sz), 0, "size: absent");
	is_int(mflags_size("1.M2.host,S=", &sz), 0, "size: empty");
	is_int(mflags_size("1.M2.host,S=12x", &sz), 0, "size: junk");
	is_int(mflags_size("1.M2.host,S=99999999999999999999999", &sz), 0,
	    "size: overflow");
	is_int(mflags_size("1.M2.host:2,S,S=5", &sz), 0,
	    "size: not in the flags");
}

static void
test_rename(void)
{
	struct mflags	 f;
	char		 nf[MFLAGS_NAME_MAX + 8], path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/new", tmpdir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/cur", tmpdir);
	mkdir(path, 0700);

	/* new/ -> cur/ with flags. */
	touch("new/1.a,S=3");
	memset(&f, 0, sizeof(f));
	f.sys = MFLAG_SEEN;
	is_int(mflags_rename(tmpdir, "new/1.a,S=3", &f, nf, sizeof(nf)), 1,
	    "rename: new -> cur");
	is_str(nf, "cur/1.a,S=3:2,S", "rename: new name");
	ok(!exists("new/1.a,S=3") && exists("cur/1.a,S=3:2,S"),
	    "rename: file moved");

	/* new/ -> cur/ without flags (first sight by the IMAP server). */
	touch("new/2.b");
	memset(&f, 0, sizeof(f));
	is_int(mflags_rename(tmpdir, "new/2.b", &f, nf, sizeof(nf)), 1,
	    "rename: new -> cur, no flags");
	ok(exists("cur/2.b:2,"), "rename: cur/2.b:2,");

	/* cur/ -> cur/, unknown letters from disk kept. */
	touch("cur/3.c:2,Sx9");
	memset(&f, 0, sizeof(f));
	f.sys = MFLAG_ANSWERED | MFLAG_DELETED;
	f.kw = 1 << 1;
	is_int(mflags_rename(tmpdir, "cur/3.c:2,Sx9", &f, nf, sizeof(nf)), 1,
	    "rename: cur -> cur");
	is_str(nf, "cur/3.c:2,9RTb", "rename: unknown kept, S x dropped");
	ok(exists("cur/3.c:2,9RTb") && !exists("cur/3.c:2,Sx9"),
	    "rename: on disk");

	/* Same flags: no change, still found. */
	is_int(mflags_rename(tmpdir, "cur/3.c:2,9RTb", &f, nf, sizeof(nf)), 1,
	    "rename: unchanged");
	is_str(nf, "cur/3.c:2,9RTb", "rename: unchanged name");

	/* ENOENT: another process renamed or expunged it. */
	is_int(mflags_rename(tmpdir, "cur/3.c:2,Sx9", &f, nf, sizeof(nf)), 0,
	    "rename: gone (old name)");
	is_int(mflags_rename(tmpdir, "new/nothere", &f, nf, sizeof(nf)), 0,
	    "rename: gone (new/)");
	is_int(mflags_rename(tmpdir, "cur/nothere:2,RTb9", &f, nf, sizeof(nf)),
	    0, "rename: gone, same name");

	/* Bad arguments. */
	errno = 0;
	is_int(mflags_rename(tmpdir, "tmp/1.a", &f, nf, sizeof(nf)), -1,
	    "rename: tmp/ refused");
	is_int(errno, EINVAL, "rename: EINVAL");
	is_int(mflags_rename(tmpdir, "cur/../x", &f, nf, sizeof(nf)), -1,
	    "rename: .. refused");
	is_int(mflags_rename(tmpdir, "cur/a/b", &f, nf, sizeof(nf)), -1,
	    "rename: slash refused");
	touch("cur/4.d");
	is_int(mflags_rename(tmpdir, "cur/4.d", &f, nf, 8), -1,
	    "rename: newfile too small");
	ok(exists("cur/4.d"), "rename: nothing done on error");
}

static void
test_kw_file(void)
{
	static const char *bad[] = {
		"bad-no-newline", "bad-empty-line", "bad-index-range",
		"bad-leading-zero", "bad-dup-index", "bad-dup-name",
		"bad-backslash", "bad-space", "bad-special", "bad-index-alpha",
		"bad-no-name", "bad-empty-name", "bad-nul", "bad-8bit",
		"bad-crlf", "bad-long-name",
	};
	struct mflags_keywords	 kw, kw2;
	char			 path[PATH_MAX], big[MFLAGS_KW_FILE_MAX + 100];
	size_t			 i;
	int			 fd, j, same;

	is_int(mflags_kw_load(tmpdir, &kw), MFLAGS_KW_NOFILE, "kw: no file");
	is_int(mflags_kw_count(&kw), 0, "kw: no file, empty table");

	copy_fixture("good");
	is_int(mflags_kw_load(tmpdir, &kw), MFLAGS_KW_OK, "kw: good");
	is_str(kw.name[0], "$Label1", "kw: index 0");
	is_str(kw.name[1], "$Forwarded", "kw: index 1");
	ok(kw.name[2] == NULL, "kw: gap at 2");
	is_str(kw.name[3], "Junk", "kw: index 3");
	is_str(kw.name[25], "last-one", "kw: index 25");
	is_int(mflags_kw_count(&kw), 4, "kw: count");

	/* Save and reload: same table, same bytes. */
	snprintf(path, sizeof(path), "%s/%s", tmpdir, MFLAGS_KW_FILE);
	unlink(path);
	is_int(mflags_kw_save(tmpdir, &kw), 0, "kw: save");
	is_int(mflags_kw_load(tmpdir, &kw2), MFLAGS_KW_OK, "kw: reload");
	for (j = 0, same = 1; j < MFLAGS_KW_MAX; j++)
		if ((kw.name[j] == NULL) != (kw2.name[j] == NULL) ||
		    (kw.name[j] != NULL && strcmp(kw.name[j], kw2.name[j])))
			same = 0;
	ok(same, "kw: reload equals saved");
	mflags_kw_free(&kw2);
	snprintf(path, sizeof(path), "%s/%s.tmp.%ld", tmpdir, MFLAGS_KW_FILE,
	    (long)getpid());
	ok(access(path, F_OK) == -1, "kw: no temp file left");
	{
		char	 a[512], b[512];
		FILE	*fp;
		size_t	 na = 0, nb = 0;

		snprintf(path, sizeof(path), "%s/%s", tmpdir, MFLAGS_KW_FILE);
		if ((fp = fopen(path, "r")) != NULL) {
			na = fread(a, 1, sizeof(a), fp);
			fclose(fp);
		}
		if ((fp = fopen(DATA "good", "r")) != NULL) {
			nb = fread(b, 1, sizeof(b), fp);
			fclose(fp);
		}
		ok(na == nb && na > 0 && memcmp(a, b, na) == 0,
		    "kw: saved file equals the fixture");
	}
	mflags_kw_free(&kw);

	copy_fixture("empty");
	is_int(mflags_kw_load(tmpdir, &kw), MFLAGS_KW_OK, "kw: empty file");
	is_int(mflags_kw_count(&kw), 0, "kw: empty file, no keywords");

	copy_fixture("good-max-name");
	is_int(mflags_kw_load(tmpdir, &kw), MFLAGS_KW_OK, "kw: longest name");
	ok(kw.name[0] != NULL && strlen(kw.name[0]) == MFLAGS_KW_NAME_MAX,
	    "kw: longest name loaded");
	mflags_kw_free(&kw);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (copy_fixture(bad[i]) == -1) {
			ok(0, "kw: fixture %s", bad[i]);
			continue;
		}
		is_int(mflags_kw_load(tmpdir, &kw), MFLAGS_KW_CORRUPT, bad[i]);
		ok(mflags_kw_count(&kw) == 0, "%s: table left empty", bad[i]);
	}

	/* Too large: valid lines, but more bytes than allowed. */
	snprintf(path, sizeof(path), "%s/%s", tmpdir, MFLAGS_KW_FILE);
	memset(big, '\n', sizeof(big));
	if ((fd = open(path, O_WRONLY | O_TRUNC)) != -1) {
		(void)write_full(fd, big, sizeof(big));
		close(fd);
	}
	is_int(mflags_kw_load(tmpdir, &kw), MFLAGS_KW_CORRUPT, "kw: too large");

	/* A directory in its place. */
	unlink(path);
	mkdir(path, 0700);
	is_int(mflags_kw_load(tmpdir, &kw), MFLAGS_KW_CORRUPT,
	    "kw: directory refused");
	rmdir(path);

	/* Saving an invalid name is refused, nothing written. */
	memset(&kw, 0, sizeof(kw));
	kw.name[0] = strdup("bad name");
	is_int(mflags_kw_save(tmpdir, &kw), -1, "kw: save invalid refused");
	ok(access(path, F_OK) == -1, "kw: nothing written");
	mflags_kw_free(&kw);
	is_int(mflags_kw_save("/nonexistent/dir", &kw), -1,
	    "kw: save into missing dir fails");
}

static void
test_kw_table(void)
{
	struct mflags_keywords	 kw;
	char			 name[MFLAGS_KW_NAME_MAX + 2];
	int			 i, all;

	ok(mflags_kw_valid("$Label1"), "valid: $Label1");
	ok(mflags_kw_valid("NonJunk"), "valid: NonJunk");
	ok(mflags_kw_valid("a+b.c-d_e[1"), "valid: '[' is an atom char");
	ok(!mflags_kw_valid(""), "valid: empty");
	ok(!mflags_kw_valid("\\Seen"), "valid: backslash");
	ok(!mflags_kw_valid("a b"), "valid: space");
	ok(!mflags_kw_valid("a]"), "valid: ]");
	ok(!mflags_kw_valid("a*"), "valid: *");
	ok(!mflags_kw_valid("a%"), "valid: %%");
	ok(!mflags_kw_valid("a\"b"), "valid: quote");
	ok(!mflags_kw_valid("{3}"), "valid: brace");
	ok(!mflags_kw_valid("(x)"), "valid: parens");
	ok(!mflags_kw_valid("caf\xc3\xa9"), "valid: 8-bit");
	ok(!mflags_kw_valid("a\tb"), "valid: control");
	memset(name, 'k', MFLAGS_KW_NAME_MAX);
	name[MFLAGS_KW_NAME_MAX] = '\0';
	ok(mflags_kw_valid(name), "valid: max length");
	name[MFLAGS_KW_NAME_MAX] = 'k';
	name[MFLAGS_KW_NAME_MAX + 1] = '\0';
	ok(!mflags_kw_valid(name), "valid: too long");

	memset(&kw, 0, sizeof(kw));
	is_int(mflags_kw_assign(&kw, "$Label1"), 0, "assign: first is a");
	is_int(mflags_kw_assign(&kw, "Junk"), 1, "assign: second is b");
	is_int(mflags_kw_assign(&kw, "$label1"), 0,
	    "assign: case-insensitive existing");
	is_int(mflags_kw_lookup(&kw, "JUNK"), 1, "lookup: case-insensitive");
	is_int(mflags_kw_lookup(&kw, "Other"), -1, "lookup: absent");
	is_int(mflags_kw_assign(&kw, "\\Seen"), MFLAGS_KW_INVALID,
	    "assign: invalid");
	is_int(mflags_kw_count(&kw), 2, "assign: invalid not added");

	/* A gap is reused first. */
	free(kw.name[0]);
	kw.name[0] = NULL;
	is_int(mflags_kw_assign(&kw, "New"), 0, "assign: gap reused");

	for (i = 2, all = 1; i < MFLAGS_KW_MAX; i++) {
		snprintf(name, sizeof(name), "kw%d", i);
		if (mflags_kw_assign(&kw, name) != i)
			all = 0;
	}
	ok(all, "assign: up to 26 keywords");
	is_int(mflags_kw_count(&kw), 26, "assign: 26 used");
	is_int(mflags_kw_assign(&kw, "OneTooMany"), MFLAGS_KW_FULL,
	    "assign: 27th refused, no room");
	is_int(mflags_kw_assign(&kw, "KW25"), 25,
	    "assign: existing still found when full");
	is_int(mflags_kw_count(&kw), 26, "assign: still 26");
	mflags_kw_free(&kw);
	ok(kw.name[0] == NULL && kw.name[25] == NULL, "free: table cleared");

	is_int(mflags_imap_flag("\\Seen"), MFLAG_SEEN, "imap flag: \\Seen");
	is_int(mflags_imap_flag("\\answered"), MFLAG_ANSWERED,
	    "imap flag: case-insensitive");
	is_int(mflags_imap_flag("\\Draft"), MFLAG_DRAFT, "imap flag: \\Draft");
	is_int(mflags_imap_flag("\\Recent"), MFLAG_RECENT,
	    "imap flag: \\Recent");
	is_int(mflags_imap_flag("\\Passed"), 0, "imap flag: no \\Passed");
	is_int(mflags_imap_flag("Seen"), 0, "imap flag: no backslash");
}

static void
test_render(void)
{
	struct mflags_keywords	 kw;
	struct mflags		 f;
	char			 out[256];

	memset(&kw, 0, sizeof(kw));
	mflags_kw_assign(&kw, "$Label1");
	mflags_kw_assign(&kw, "Junk");

	memset(&f, 0, sizeof(f));
	is_int(mflags_render(&f, &kw, out, sizeof(out)), 0, "render: none");
	is_str(out, "()", "render: ()");

	f.sys = MFLAG_SEEN | MFLAG_ANSWERED | MFLAG_PASSED;
	f.kw = 1 | (1 << 7);	/* 'h' has no name: not shown */
	is_int(mflags_render(&f, &kw, out, sizeof(out)), 0, "render: ok");
	is_str(out, "(\\Seen \\Answered $Label1)", "render: text");

	f.sys = MFLAG_IMAP_MASK | MFLAG_RECENT;
	f.kw = 3;
	is_int(mflags_render(&f, &kw, out, sizeof(out)), 0, "render: all");
	is_str(out, "(\\Seen \\Answered \\Flagged \\Deleted \\Draft \\Recent "
	    "$Label1 Junk)", "render: all text");

	is_int(mflags_render(&f, NULL, out, sizeof(out)), 0,
	    "render: no table");
	is_str(out, "(\\Seen \\Answered \\Flagged \\Deleted \\Draft \\Recent)",
	    "render: no table, no keywords");

	f.sys = MFLAG_SEEN;
	f.kw = 0;
	is_int(mflags_render(&f, &kw, out, 8), 0, "render: exact fit");
	is_str(out, "(\\Seen)", "render: exact fit text");
	is_int(mflags_render(&f, &kw, out, 7), -1, "render: too small");
	is_str(out, "()", "render: too small gives ()");
	is_int(mflags_render(&f, &kw, out, 2), -1, "render: tiny buffer");
	mflags_kw_free(&kw);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_parse();
	test_build();
	test_size();
	test_rename();
	test_kw_file();
	test_kw_table();
	test_render();
	rmtree();
	return done_testing();
}
