/*
 * Unit tests for table.c: the line format, comments, lowercased keys,
 * errors with file and line, keeping old contents on error, file size
 * and mode checks, table_foreach's walk (every entry once, in key
 * order) and many keys found and missed.  Fixtures are in
 * tests/data/table (run from the top of the source tree, as "make
 * check" does).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maild.h"
#include "table.h"
#include "tap.h"

#define DATA	"tests/data/table/"

static void	test_file(void);
static void	test_buf(void);
static void	test_errors(void);
static void	test_fd(void);
static void	test_mode(void);
static void	test_foreach(void);
static void	test_many(void);
static void	walk(const char *, const char *, void *);
static int	load(struct table *, const char *);
static int	tmpfile_mode(mode_t);
static int	has(const struct table *, const char *, const char *);

static char	err[512];

static int
load(struct table *t, const char *s)
{
	err[0] = '\0';
	return table_load_buf(t, s, strlen(s), err, sizeof(err));
}

/* 1 when key is found with exactly this value. */
static int
has(const struct table *t, const char *key, const char *want)
{
	const char	*v = NULL;

	if (table_lookup(t, key, &v) != 1)
		return 0;
	return strcmp(v, want) == 0;
}

static void
test_file(void)
{
	struct table	 t;
	const char	*v;
	int		 fd;

	memset(&t, 0, sizeof(t));
	strlcpy(t.name, "virtuals", sizeof(t.name));
	strlcpy(t.path, DATA "virtual", sizeof(t.path));
	ok(table_lookup(&t, "user@example.org", &v) == -1,
	    "lookup before load: -1");
	if ((fd = open(t.path, O_RDONLY)) == -1) {
		ok(0, "open %s", t.path);
		return;
	}
	ok(table_load_fd(&t, fd, err, sizeof(err)) == 0, "load fixture");
	close(fd);
	is_str(err, "", "no error");
	ok(t.loaded, "loaded");
	is_int(t.count, 8, "8 entries");
	ok(has(&t, "user@example.org", "vmail"), "tab separator");
	ok(has(&t, "alias@example.org",
	    "user@example.org, other@example.org"), "colon separator, list");
	ok(has(&t, "ALIAS@EXAMPLE.ORG",
	    "user@example.org, other@example.org"), "lookup lowercased");
	ok(has(&t, "list@example.org", "user@example.org"), "key:value");
	ok(has(&t, "@example.org", "catchall@example.org"), "catch-all key");
	ok(has(&t, "hash@example.org", "$2b$10$abc#def"),
	    "'#' in value kept, trailing blanks trimmed");
	ok(has(&t, "domain.example", ""), "empty value (list table)");
	ok(has(&t, "key", "value with spaces inside"), "inner spaces kept");
	ok(has(&t, "tab@example.org", "value after tabs and colon"),
	    "mixed separators skipped");
	ok(table_lookup(&t, "#", &v) == 0, "comment is not a key");
	ok(table_lookup(&t, "nobody@example.org", &v) == 0, "not found: 0");
	ok(table_lookup(&t, "", &v) == 0, "empty key not found");
	ok(table_lookup(&t, "user@example.org", NULL) == 1, "NULL valuep");
	table_clear(&t);
	ok(!t.loaded, "cleared");
	ok(table_lookup(&t, "user@example.org", &v) == -1,
	    "lookup after clear: -1");

	memset(&t, 0, sizeof(t));
	strlcpy(t.path, DATA "duplicate", sizeof(t.path));
	if ((fd = open(t.path, O_RDONLY)) == -1) {
		ok(0, "open %s", t.path);
		return;
	}
	ok(table_load_fd(&t, fd, err, sizeof(err)) == -1, "duplicate file");
	close(fd);
	is_str(err, DATA "duplicate:4: duplicate key \"one\"",
	    "duplicate error names file, line and key");
	ok(!t.loaded, "not loaded");

	memset(&t, 0, sizeof(t));
	t.flags = T_SECRET;
	strlcpy(t.path, DATA "passwd", sizeof(t.path));
	if ((fd = open(t.path, O_RDONLY)) == -1) {
		ok(0, "open %s", t.path);
		return;
	}
	ok(table_load_fd(&t, fd, err, sizeof(err)) == 0, "secret table");
	close(fd);
	ok(has(&t, "user@example.org", "$2b$10$0123456789012345678901"
	    "uvwxyzABCDEFGHIJKLMNOPQRSTUVWX"), "hash kept whole, case kept");
	table_clear(&t);
}

static void
test_buf(void)
{
	struct table	 t;
	char		*big, *line, l[32];
	size_t		 i;

	memset(&t, 0, sizeof(t));
	strlcpy(t.name, "mem", sizeof(t.name));
	ok(load(&t, "") == 0, "empty table");
	ok(t.loaded, "empty table is loaded");
	is_int(t.count, 0, "no entries");
	ok(table_lookup(&t, "x", NULL) == 0, "empty table: not found");

	ok(load(&t, "a 1\r\nb 2\r\n") == 0, "CRLF lines");
	ok(has(&t, "a", "1") && has(&t, "b", "2"), "CR stripped");
	ok(load(&t, "last line") == 0, "no final newline");
	ok(has(&t, "last", "line"), "last line read");
	ok(table_lookup(&t, "a", NULL) == 0, "old contents replaced");
	ok(load(&t, "\n\n  \t \n# x\n\t#y z\nk v\n") == 0,
	    "blanks and comments");
	is_int(t.count, 1, "one entry");
	ok(load(&t, "k v # not a comment\n") == 0, "late #");
	ok(has(&t, "k", "v # not a comment"), "late # belongs to value");
	ok(load(&t, "  indented value\n") == 0, "indented key");
	ok(has(&t, "indented", "value"), "leading blanks skipped");
	ok(load(&t, "k::: v:w\n") == 0, "colons after key skipped");
	ok(has(&t, "k", "v:w"), "colon inside value kept");
	ok(load(&t, "J\xc3\x96RG@Example.ORG x\n") == 0, "UTF-8 key");
	ok(has(&t, "j\xc3\x96rg@example.org", "x"), "only ASCII lowercased");

	/* Many keys: the tree must find every one. */
	if ((big = malloc(20 * 5000 + 1)) == NULL ||
	    (line = malloc(65 * 1024 + 10)) == NULL)
		abort();
	big[0] = '\0';
	for (i = 0; i < 5000; i++) {
		snprintf(l, sizeof(l), "key%zu val%zu\n", i, i);
		strlcat(big, l, 20 * 5000 + 1);
	}
	ok(load(&t, big) == 0, "5000 keys");
	is_int(t.count, 5000, "5000 entries");
	ok(has(&t, "key0", "val0") && has(&t, "key4999", "val4999") &&
	    has(&t, "KEY2500", "val2500"), "all found");
	free(big);

	/* Longest key and longest line accepted. */
	memset(line, 'k', ADDR_MAX);
	line[ADDR_MAX] = '\0';
	ok(load(&t, line) == 0, "key of ADDR_MAX");
	ok(table_lookup(&t, line, NULL) == 1, "longest key found");
	memset(line, 'k', ADDR_MAX + 1);
	line[ADDR_MAX + 1] = '\0';
	ok(table_lookup(&t, line, NULL) == 0, "longer lookup key: 0");
	line[0] = 'k';
	line[1] = ' ';
	memset(line + 2, 'v', 64 * 1024 - 2);
	line[64 * 1024] = '\0';
	ok(load(&t, line) == 0, "line of 64 KiB");
	line[64 * 1024] = 'v';
	line[64 * 1024 + 1] = '\0';
	ok(load(&t, line) == -1, "line of 64 KiB + 1");
	is_str(err, "mem:1: line too long", "too long error, name for path");
	free(line);
	table_clear(&t);
}

static void
test_errors(void)
{
	struct table	 t;
	char		 key[ADDR_MAX + 10];

	memset(&t, 0, sizeof(t));
	strlcpy(t.path, "/etc/mail/virtuals", sizeof(t.path));
	ok(load(&t, "keep me\n") == 0, "initial contents");

	ok(load(&t, "a 1\nb 2\nA 3\n") == -1, "duplicate (case)");
	is_str(err, "/etc/mail/virtuals:3: duplicate key \"a\"",
	    "duplicate message");
	ok(has(&t, "keep", "me"), "old contents kept after error");
	ok(table_lookup(&t, "b", NULL) == 0, "nothing of the bad load");

	ok(load(&t, "ok 1\n: value\n") == -1, "empty key");
	is_str(err, "/etc/mail/virtuals:2: empty key", "empty key message");
	ok(load(&t, "a b\x01" "c\n") == -1, "control character");
	is_str(err, "/etc/mail/virtuals:1: control character",
	    "control message");
	ok(load(&t, "a b\rc\n") == -1, "CR inside a line");
	ok(load(&t, "a b\x7f\n") == -1, "DEL");
	ok(table_load_buf(&t, "a b\0c\n", 6, err, sizeof(err)) == -1,
	    "NUL byte");
	memset(key, 'k', ADDR_MAX + 1);
	key[ADDR_MAX + 1] = '\0';
	ok(load(&t, key) == -1, "key too long");
	is_str(err, "/etc/mail/virtuals:1: key too long", "key message");
	ok(has(&t, "keep", "me"), "old contents still there");
	table_clear(&t);
}

static int
tmpfile_mode(mode_t mode)
{
	char	 path[] = "/tmp/test_table.XXXXXX";
	int	 fd;

	if ((fd = mkstemp(path)) == -1)
		return -1;
	unlink(path);
	if (fchmod(fd, mode) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
test_fd(void)
{
	struct table	 t;
	char		 path[] = "/tmp/test_table.XXXXXX";
	int		 fd, p[2];

	memset(&t, 0, sizeof(t));
	strlcpy(t.path, "big", sizeof(t.path));
	if ((fd = mkstemp(path)) == -1) {
		ok(0, "mkstemp");
		return;
	}
	unlink(path);
	/* Sparse: 64 MiB + 1 of zeros is read, then refused for size. */
	ok(ftruncate(fd, 64 * 1024 * 1024 + 1) == 0, "ftruncate");
	ok(table_load_fd(&t, fd, err, sizeof(err)) == -1, "file too large");
	is_str(err, "big: file too large", "size message");
	ok(!t.loaded, "not loaded");
	close(fd);

	if (pipe(p) == -1) {
		ok(0, "pipe");
		return;
	}
	ok(write(p[1], "a b\nc d\n", 8) == 8, "write pipe");
	close(p[1]);
	ok(table_load_fd(&t, p[0], err, sizeof(err)) == 0, "load from pipe");
	ok(has(&t, "c", "d"), "pipe contents");
	close(p[0]);
	ok(table_load_fd(&t, -1, err, sizeof(err)) == -1, "bad fd");
	ok(has(&t, "a", "b"), "kept after read error");
	table_clear(&t);
}

static void
test_mode(void)
{
	struct table	 t;
	int		 fd, p[2];

	memset(&t, 0, sizeof(t));
	strlcpy(t.path, "/etc/mail/passwd", sizeof(t.path));

	fd = tmpfile_mode(0644);
	ok(table_check_mode(&t, fd, err, sizeof(err)) == 0, "0644 table ok");
	close(fd);
	fd = tmpfile_mode(0664);
	ok(table_check_mode(&t, fd, err, sizeof(err)) == -1,
	    "group-writable refused");
	ok(strstr(err, "chmod go-w /etc/mail/passwd") != NULL,
	    "message says what to chmod");
	close(fd);
	fd = tmpfile_mode(0646);
	ok(table_check_mode(&t, fd, err, sizeof(err)) == -1,
	    "world-writable refused");
	close(fd);

	t.flags = T_SECRET;
	fd = tmpfile_mode(0644);
	ok(table_check_mode(&t, fd, err, sizeof(err)) == -1,
	    "world-readable secret refused");
	ok(strstr(err, "chmod o-r /etc/mail/passwd") != NULL,
	    "secret message says what to chmod");
	close(fd);
	fd = tmpfile_mode(0640);
	ok(table_check_mode(&t, fd, err, sizeof(err)) == 0, "0640 secret ok");
	close(fd);
	fd = tmpfile_mode(0600);
	ok(table_check_mode(&t, fd, err, sizeof(err)) == 0, "0600 secret ok");
	if (geteuid() == 0) {
		ok(fchown(fd, 4242, -1) == 0, "chown");
		ok(table_check_mode(&t, fd, err, sizeof(err)) == -1,
		    "foreign owner refused");
	} else
		ok(1, "# skip foreign owner test: not root");
	close(fd);

	if (pipe(p) == 0) {
		ok(table_check_mode(&t, p[0], err, sizeof(err)) == -1,
		    "pipe refused");
		is_str(err, "/etc/mail/passwd: not a regular file",
		    "not regular message");
		close(p[0]);
		close(p[1]);
	}
	ok(table_check_mode(&t, -1, err, sizeof(err)) == -1, "bad fd");
}

/* What table_foreach saw: "key=value;" for each entry. */
struct seen {
	char	 s[256];
	size_t	 n;
};

static void
walk(const char *key, const char *value, void *arg)
{
	struct seen	*w = arg;

	(void)strlcat(w->s, key, sizeof(w->s));
	(void)strlcat(w->s, "=", sizeof(w->s));
	(void)strlcat(w->s, value, sizeof(w->s));
	(void)strlcat(w->s, ";", sizeof(w->s));
	w->n++;
}

static void
test_foreach(void)
{
	struct table	 t;
	struct seen	 w;

	memset(&t, 0, sizeof(t));
	strlcpy(t.name, "walk", sizeof(t.name));
	memset(&w, 0, sizeof(w));
	table_foreach(&t, walk, &w);
	is_int(w.n, 0, "foreach before load: nothing");

	ok(load(&t, "Zed z\nalpha a\n@dom catch\nmid\nBeta b\n") == 0,
	    "load for foreach");
	memset(&w, 0, sizeof(w));
	table_foreach(&t, walk, &w);
	is_int(w.n, 5, "foreach: every entry once");
	is_str(w.s, "@dom=catch;alpha=a;beta=b;mid=;zed=z;",
	    "foreach: lowercased keys in order, values as loaded");

	ok(load(&t, "x 1\nx 2\n") == -1, "bad load");
	memset(&w, 0, sizeof(w));
	table_foreach(&t, walk, &w);
	is_str(w.s, "@dom=catch;alpha=a;beta=b;mid=;zed=z;",
	    "foreach after a bad load: the old contents");

	table_clear(&t);
	memset(&w, 0, sizeof(w));
	table_foreach(&t, walk, &w);
	is_int(w.n, 0, "foreach after clear: nothing");
}

/*
 * 100,000 keys loaded in a scrambled order: each is found with its own
 * value, a key between two of them is not, and a reload with half of
 * them drops the others.
 */
static void
test_many(void)
{
	struct table	 t;
	char		*buf, k[32], v[32];
	const char	*got;
	size_t		 i, j, n = 100000, len = 0, cap = n * 32;
	int		 found = 0, missed = 0, wrong = 0;

	memset(&t, 0, sizeof(t));
	strlcpy(t.name, "many", sizeof(t.name));
	if ((buf = malloc(cap)) == NULL)
		abort();
	for (i = 0; i < n; i++) {
		j = (i * 7919) % n;	/* 7919 is prime: a permutation */
		len += snprintf(buf + len, cap - len, "U%zu@Example.org v%zu\n",
		    j, j);
	}
	ok(table_load_buf(&t, buf, len, err, sizeof(err)) == 0,
	    "100000 keys loaded");
	is_int(t.count, n, "100000 entries");
	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "u%zu@example.ORG", i);
		snprintf(v, sizeof(v), "v%zu", i);
		if (table_lookup(&t, k, &got) != 1)
			missed++;
		else if (strcmp(got, v) != 0)
			wrong++;
		snprintf(k, sizeof(k), "u%zu@example.or", i);
		found += table_lookup(&t, k, NULL) != 0;
	}
	is_int(missed, 0, "every key found");
	is_int(wrong, 0, "every key with its own value");
	is_int(found, 0, "no prefix of a key found");

	len = 0;
	for (i = 0; i < n; i += 2)
		len += snprintf(buf + len, cap - len, "u%zu@example.org x\n",
		    i);
	ok(table_load_buf(&t, buf, len, err, sizeof(err)) == 0,
	    "reload with the even half");
	is_int(t.count, n / 2, "50000 entries");
	ok(has(&t, "u0@example.org", "x") && has(&t, "u99998@example.org",
	    "x"), "even keys, new value");
	ok(table_lookup(&t, "u1@example.org", NULL) == 0 &&
	    table_lookup(&t, "u99999@example.org", NULL) == 0,
	    "odd keys gone");
	free(buf);
	table_clear(&t);
}

int
main(void)
{
	test_file();
	test_buf();
	test_errors();
	test_fd();
	test_mode();
	test_foreach();
	test_many();
	return done_testing();
}
