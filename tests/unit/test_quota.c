/*
 * Unit tests for quota.c: limits as mail.conf and its table write them
 * (hostile values too), the maildirsize format (Dovecot's and Courier's
 * files read as they are; broken, negative, overflowing, NUL-holding,
 * unfinished and huge files refused so that they are recalculated),
 * the writer, ",S=" in file names, and the transaction on a Maildir in
 * a temporary directory: when the file is trusted and when a scan
 * replaces it (missing, 5120 bytes, other limits, full and stale or
 * full with several lines), appends, symbolic links never followed;
 * the Maildir a delivery into a folder counts in.
 * Fixtures are in tests/data/quota (run from the top directory).
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "log.h"
#include "maild.h"
#include "quota.h"
#include "table.h"
#include "tap.h"
#include "util.h"

#define DATA	"tests/data/quota/"

static char	*read_file(const char *, size_t *);
static void	 put(const char *, const char *, const char *);
static void	 putn(const char *, const char *, const char *, size_t);
static int	 rm_cb(const char *, const struct stat *, int, struct FTW *);
static void	 age(const char *, const char *, time_t);
static void	 test_sizes(void);
static void	 test_values(void);
static void	 test_user_limits(void);
static void	 test_check(void);
static void	 test_roots(void);
static void	 test_parse_files(void);
static void	 test_parse_hostile(void);
static void	 test_format(void);
static void	 test_names(void);
static void	 test_txn(void);
static void	 test_txn_links(void);

static char	 root[64];

static char *
read_file(const char *path, size_t *lenp)
{
	char	*buf;
	int	 fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return NULL;
	buf = read_fd(fd, 1024 * 1024, lenp);
	close(fd);
	return buf;
}

/* dir/name (under root) with text; NULL text: a directory. */
static void
put(const char *dir, const char *name, const char *text)
{
	putn(dir, name, text, text != NULL ? strlen(text) : 0);
}

static void
putn(const char *dir, const char *name, const char *text, size_t len)
{
	char	 p[PATH_MAX];
	int	 fd;

	snprintf(p, sizeof(p), "%s%s%s%s%s", root, dir[0] ? "/" : "", dir,
	    name[0] ? "/" : "", name);
	if (text == NULL) {
		if (mkdir(p, 0700) == -1 && errno != EEXIST)
			fatal("mkdir %s", p);
		return;
	}
	if ((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write_full(fd, text, len) == -1 || close(fd) == -1)
		fatal("write %s", p);
}

static int
rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

/* Set the mtime of root/name to secs ago. */
static void
age(const char *dir, const char *name, time_t secs)
{
	struct timeval	 tv[2];
	char		 p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s%s%s", root, dir, dir[0] ? "/" : "",
	    name);
	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= secs;
	tv[1] = tv[0];
	if (utimes(p, tv) == -1)
		fatal("utimes %s", p);
}

static void
test_sizes(void)
{
	static const struct {
		const char	*s;
		int		 ok;
		uint64_t	 v;
	} sz[] = {
		{ "1", 1, 1 }, { "1K", 1, 1024 }, { "2g", 1, 2ULL << 30 },
		{ "500M", 1, 500ULL << 20 }, { "1024T", 1, 1ULL << 50 },
		{ "none", 1, 0 }, { "NONE", 1, 0 },
		{ "1025T", 0, 0 }, { "0", 0, 0 }, { "-1", 0, 0 },
		{ "1.5G", 0, 0 }, { "", 0, 0 }, { "K", 0, 0 }, { "1KB", 0, 0 },
		{ " 1", 0, 0 }, { "1 ", 0, 0 }, { "+1", 0, 0 },
		{ "99999999999999999999999999", 0, 0 },
		{ "18446744073709551615", 0, 0 },
		{ "1125899906842625", 0, 0 },
	}, cnt[] = {
		{ "1", 1, 1 }, { "100000", 1, 100000 },
		{ "1000000000", 1, 1000000000 }, { "none", 1, 0 },
		{ "1000000001", 0, 0 }, { "0", 0, 0 }, { "-5", 0, 0 },
		{ "5K", 0, 0 }, { "", 0, 0 }, { "1e3", 0, 0 },
		{ "99999999999999999999999", 0, 0 },
	};
	char		 why[160];
	uint64_t	 v;
	size_t		 i;
	int		 r;

	for (i = 0; i < nitems(sz); i++) {
		v = 42;
		why[0] = '\0';
		r = quota_parse_size(sz[i].s, &v, why, sizeof(why));
		ok(sz[i].ok ? r == 0 && v == sz[i].v : r == -1 && v == 42 &&
		    why[0] != '\0', "size \"%s\": %s", sz[i].s, sz[i].ok ?
		    "ok" : why);
	}
	for (i = 0; i < nitems(cnt); i++) {
		v = 42;
		why[0] = '\0';
		r = quota_parse_count(cnt[i].s, &v, why, sizeof(why));
		ok(cnt[i].ok ? r == 0 && v == cnt[i].v : r == -1 && v == 42 &&
		    why[0] != '\0', "count \"%s\": %s", cnt[i].s, cnt[i].ok ?
		    "ok" : why);
	}
}

static void
test_values(void)
{
	struct quota_limits	 l;
	char			 why[160], big[600];

	l.storage = 7;
	l.messages = 9;
	ok(quota_parse_value("storage=2G messages=50000", &l, why,
	    sizeof(why)) == 0 && l.storage == 2ULL << 30 &&
	    l.messages == 50000, "value: both");
	l.storage = 7;
	l.messages = 9;
	ok(quota_parse_value("  messages=5,  ", &l, why, sizeof(why)) == 0 &&
	    l.storage == 7 && l.messages == 5,
	    "value: one, the other kept (commas, blanks)");
	ok(quota_parse_value("Storage=none", &l, why, sizeof(why)) == 0 &&
	    l.storage == 0, "value: none, key in any case");
	l.storage = 7;
	l.messages = 9;
	ok(quota_parse_value("storage=1G storage=2G", &l, why,
	    sizeof(why)) == -1 && l.storage == 7 && strstr(why, "twice"),
	    "value: a key twice: %s", why);
	ok(quota_parse_value("storage=1G messages=-1", &l, why,
	    sizeof(why)) == -1 && l.storage == 7 && l.messages == 9,
	    "value: a bad part leaves the limits alone: %s", why);
	ok(quota_parse_value("size=1G", &l, why, sizeof(why)) == -1,
	    "value: unknown key: %s", why);
	ok(quota_parse_value("storage", &l, why, sizeof(why)) == -1,
	    "value: no '=': %s", why);
	ok(quota_parse_value("storage=", &l, why, sizeof(why)) == -1,
	    "value: empty: %s", why);
	ok(quota_parse_value("", &l, why, sizeof(why)) == -1,
	    "value: nothing: %s", why);
	memset(big, '9', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "storage=", 8);
	ok(quota_parse_value(big, &l, why, sizeof(why)) == -1,
	    "value: a 600-byte token: %s", why);
	ok(quota_table_check("bob@example.org", "messages=5", why,
	    sizeof(why)) == 0 && quota_table_check("@example.org",
	    "storage=1G", why, sizeof(why)) == 0,
	    "table check: user@domain and @domain keys");
	ok(quota_table_check("bob", "messages=5", why, sizeof(why)) == -1,
	    "table check: a key without @: %s", why);
}

static void
test_user_limits(void)
{
	static const struct {
		const char	*file, *err;
	} bad[] = {
		{ "quotas-huge", "quotas-huge:2: storage \"99999T\" out of "
		    "range" },
		{ "quotas-negative", "quotas-negative:1: messages \"-5\"" },
		{ "quotas-garbage", "quotas-garbage:1: \"color=blue\"" },
		{ "quotas-nokey", "quotas-nokey:1: quota key \"nobody\"" },
	};
	struct maild_conf	 c;
	struct table		 t;
	struct quota_limits	 l;
	char			 err[512];
	size_t			 i;
	int			 fd;

	memset(&c, 0, sizeof(c));
	memset(&t, 0, sizeof(t));
	strlcpy(t.name, "quotas", sizeof(t.name));
	t.flags = T_QUOTA;
	t.check = quota_table_check;
	c.quota = 1;
	c.quota_storage = 1ULL << 30;
	c.quota_messages = 100000;
	c.quota_table = &t;
	ok(quota_user_limits(&c, "bob@example.org", &l, err,
	    sizeof(err)) == -1 && l.storage == 1ULL << 30 &&
	    l.messages == 100000 && strstr(err, "not loaded"),
	    "limits: table not loaded: the defaults, said: %s", err);
	for (i = 0; i < nitems(bad); i++) {
		strlcpy(t.path, DATA, sizeof(t.path));
		strlcat(t.path, bad[i].file, sizeof(t.path));
		if ((fd = open(t.path, O_RDONLY)) == -1)
			fatal("%s", t.path);
		ok(table_load_fd(&t, fd, err, sizeof(err)) == -1 &&
		    strstr(err, bad[i].err) != NULL && !t.loaded,
		    "table %s refused: %s", bad[i].file, err);
		close(fd);
	}
	strlcpy(t.path, DATA "quotas-good", sizeof(t.path));
	if ((fd = open(t.path, O_RDONLY)) == -1)
		fatal("%s", t.path);
	ok(table_load_fd(&t, fd, err, sizeof(err)) == 0, "table loads");
	close(fd);
	ok(quota_user_limits(&c, "Bob@Example.ORG", &l, err,
	    sizeof(err)) == 0 && l.storage == 2ULL << 30 &&
	    l.messages == 50000, "limits: the user's line (any case)");
	ok(quota_user_limits(&c, "carol@example.org", &l, err,
	    sizeof(err)) == 0 && l.storage == 0 && l.messages == 100000,
	    "limits: storage none, messages the default");
	ok(quota_user_limits(&c, "dave@example.org", &l, err,
	    sizeof(err)) == 0 && l.storage == 1ULL << 30 &&
	    l.messages == 1000, "limits: the @domain line");
	ok(quota_user_limits(&c, "dave@example.net", &l, err,
	    sizeof(err)) == 0 && l.storage == 1ULL << 30 &&
	    l.messages == 100000, "limits: no line, the defaults");
	ok(quota_user_limits(&c, "@example.org", &l, err,
	    sizeof(err)) == 0 && l.messages == 1000,
	    "limits: an empty local part finds the @domain line");
	table_clear(&t);
}

static void
test_check(void)
{
	struct quota_limits	 l = { 1000, 10 };
	struct quota_usage	 u = { 900, 9 };
	struct quota_limits	 none = { 0, 0 };
	struct quota_usage	 huge = { UINT64_MAX, UINT64_MAX };

	is_int(quota_check(&l, &u, 100, 1), QUOTA_OK, "check: up to the limit");
	is_int(quota_check(&l, &u, 101, 1), QUOTA_STORAGE,
	    "check: a byte over");
	is_int(quota_check(&l, &u, 1, 2), QUOTA_MESSAGES,
	    "check: a message over");
	u.bytes = 2000;
	is_int(quota_check(&l, &u, 0, 0), QUOTA_STORAGE,
	    "check: over already, nothing added");
	is_int(quota_check(&none, &huge, UINT64_MAX, UINT64_MAX), QUOTA_OK,
	    "check: no limits, no overflow");
	is_int(quota_check(&l, &u, UINT64_MAX, 0), QUOTA_STORAGE,
	    "check: a huge size does not wrap");
}

/* Deliveries into folders (Junk) count in the user's Maildir. */
static void
test_roots(void)
{
	static const struct {
		const char	*user, *domain, *path, *root;
	} r[] = {
		{ "Alice", "Example.org", "example.org/alice",
		    "example.org/alice" },
		{ "alice", "example.org", "example.org/alice/.Junk",
		    "example.org/alice" },
		{ "alice", "example.org", "example.org/alice/.DMARC Reports",
		    "example.org/alice" },
		{ "bob", "example.net", "users/bob/.maildir",
		    "users/bob/.maildir" },
		{ "bob", "example.net", "users/bob/.maildir/.Junk",
		    "users/bob/.maildir" },
		/* A location of an older configuration: the folder goes. */
		{ "carol", "example.org", "old/carol/.Junk", "old/carol" },
		{ "carol", "example.org", "old/carol", "old/carol" },
		{ "alice", "example.org", "example.org/alice/.Junk/x",
		    "example.org/alice/.Junk/x" },
	};
	struct maild_conf	*c;
	struct mailaddr		 a;
	char			*buf, out[PATH_MAX], small[8];
	size_t			 len, i;

	if ((buf = read_file(DATA "roots.conf", &len)) == NULL ||
	    (c = config_parse_buf("roots.conf", buf, len,
	    CONF_NOFILES)) == NULL)
		fatal("roots.conf");
	is_str(c->vmail_root, "/var/vmail", "roots: the mailbox root");
	for (i = 0; i < nitems(r); i++) {
		memset(&a, 0, sizeof(a));
		strlcpy(a.user, r[i].user, sizeof(a.user));
		strlcpy(a.domain, r[i].domain, sizeof(a.domain));
		out[0] = '\0';
		ok(quota_maildir_root(c, &a, c->vmail_root, r[i].path, out,
		    sizeof(out)) == 0 && strcmp(out, r[i].root) == 0,
		    "root of %s for %s@%s: %s", r[i].path, r[i].user,
		    r[i].domain, out);
	}
	ok(quota_maildir_root(c, &a, c->vmail_root, r[0].path, small,
	    sizeof(small)) == -1, "root: too small a buffer");
	config_free(c);
	free(buf);
}

static void
test_parse_files(void)
{
	static const struct {
		const char	*file;
		uint64_t	 ls, lc, b, c;
		size_t		 lines;
	} good[] = {
		{ "dovecot-maildirsize", 1048576, 100, 12245, 6, 2 },
		{ "courier-maildirsize", 10000000, 0, 1801, 4, 2 },
		{ "unlimited-maildirsize", 0, 0, 0, 0, 1 },
		{ "messages-only-maildirsize", 0, 5000, 30, 2, 2 },
		{ "unfinished-maildirsize", 1048576, 100, 100, 1, 1 },
	};
	static const char *const bad[] = {
		"header-only-maildirsize", "negative-maildirsize",
		"overflow-maildirsize", "garbage-maildirsize",
		"blank-line-maildirsize", "bad-header-maildirsize",
		"nul-maildirsize",
	};
	struct quota_limits	 h;
	struct quota_usage	 u;
	char			 path[PATH_MAX], *buf;
	size_t			 len, n, i;

	for (i = 0; i < nitems(good); i++) {
		snprintf(path, sizeof(path), DATA "%s", good[i].file);
		if ((buf = read_file(path, &len)) == NULL)
			fatal("%s", path);
		n = 0;
		ok(quota_file_parse(buf, len, &h, &u, &n) == 0 &&
		    h.storage == good[i].ls && h.messages == good[i].lc &&
		    u.bytes == good[i].b && u.count == good[i].c &&
		    n == good[i].lines, "parse %s: %llu %llu in %zu lines",
		    good[i].file, (unsigned long long)u.bytes,
		    (unsigned long long)u.count, n);
		free(buf);
	}
	for (i = 0; i < nitems(bad); i++) {
		snprintf(path, sizeof(path), DATA "%s", bad[i]);
		if ((buf = read_file(path, &len)) == NULL)
			fatal("%s", path);
		ok(quota_file_parse(buf, len, &h, &u, &n) == -1,
		    "parse %s: broken", bad[i]);
		free(buf);
	}
}

static void
test_parse_hostile(void)
{
	static const char *const headers[] = {
		"", "S", "C", "10", "10X", "10S,10S", "10S,", ",10C", "10 S",
		"10S 10C", "-10S", "10s", "99999999999999999999999S",
		"10S,10C,10S", "10S\r",
	};
	static const char *const lines[] = {
		"1", "1 ", " 1", "1 2 3", "a b", "1\t", "- 1", "1 -",
		"--1 1", "1 1x", "9223372036854775808 1", "1 1\r",
		"-9223372036854775808 0",
	};
	struct quota_limits	 h;
	struct quota_usage	 u;
	char			 buf[64 * 1024];
	size_t			 i, n, len;

	for (i = 0; i < nitems(headers); i++) {
		snprintf(buf, sizeof(buf), "%s\n1 1\n", headers[i]);
		ok(quota_file_parse(buf, strlen(buf), &h, &u, &n) == -1,
		    "header \"%s\": broken", headers[i]);
	}
	for (i = 0; i < nitems(lines); i++) {
		snprintf(buf, sizeof(buf), "10S\n%s\n", lines[i]);
		ok(quota_file_parse(buf, strlen(buf), &h, &u, &n) == -1,
		    "line \"%s\": broken", lines[i]);
	}
	ok(quota_file_parse("", 0, &h, &u, &n) == -1, "empty: broken");
	ok(quota_file_parse("10S", 3, &h, &u, &n) == -1,
	    "no newline at all: broken");
	/* A huge single line, then a sum that goes back below zero. */
	memset(buf, '7', sizeof(buf));
	memcpy(buf, "10S\n", 4);
	buf[sizeof(buf) - 1] = '\n';
	ok(quota_file_parse(buf, sizeof(buf), &h, &u, &n) == -1,
	    "a 64K line: broken");
	len = (size_t)snprintf(buf, sizeof(buf), "0S\n%lld 0\n%lld 0\n",
	    (long long)INT64_MAX, (long long)INT64_MAX);
	ok(quota_file_parse(buf, len, &h, &u, &n) == -1,
	    "a sum past INT64_MAX: broken");
	len = (size_t)snprintf(buf, sizeof(buf), "0S\n-5 -1\n10 2\n");
	ok(quota_file_parse(buf, len, &h, &u, &n) == 0 && u.bytes == 5 &&
	    u.count == 1, "a negative line first: the sum counts");
	len = (size_t)snprintf(buf, sizeof(buf), "0S\n  \t 5 \t 1 \t\n");
	ok(quota_file_parse(buf, len, &h, &u, &n) == 0 && u.bytes == 5,
	    "blanks around and between");
}

static void
test_format(void)
{
	static const struct {
		struct quota_limits	 l;
		const char		*head;
	} f[] = {
		{ { 0, 0 }, "0S\n" },
		{ { 1024, 0 }, "1024S\n" },
		{ { 0, 50 }, "50C\n" },
		{ { 1ULL << 50, 1000000000 },
		    "1125899906842624S,1000000000C\n" },
	};
	struct quota_usage	 u = { 12345, 67 }, u2;
	struct quota_limits	 h;
	char			 buf[128], want[128];
	size_t			 i, n;
	int			 len;

	for (i = 0; i < nitems(f); i++) {
		len = quota_file_format(buf, sizeof(buf), &f[i].l, &u);
		snprintf(want, sizeof(want), "%s12345 67\n", f[i].head);
		is_str(len > 0 ? buf : NULL, want, "format");
		ok(quota_file_parse(buf, (size_t)len, &h, &u2, &n) == 0 &&
		    h.storage == f[i].l.storage &&
		    h.messages == f[i].l.messages && u2.bytes == u.bytes &&
		    u2.count == u.count && n == 1, "format: parses back");
	}
	ok(quota_file_format(buf, 10, &f[3].l, &u) == -1,
	    "format: too small a buffer");
}

static void
test_names(void)
{
	static const struct {
		const char	*name;
		int		 ok;
		uint64_t	 v;
	} n[] = {
		{ "1.M2P3.host,S=123", 1, 123 },
		{ "1.M2P3.host,S=123:2,S", 1, 123 },
		{ "1.M2P3.host,S=123,W=130:2,FS", 1, 123 },
		{ "cur/1.M2P3.host,S=0:2,", 1, 0 },
		{ "1.M2P3.host", 0, 0 }, { "1.M2P3.host,S=", 0, 0 },
		{ "1.M2P3.host,S=12x", 0, 0 }, { "1.M2P3.host,S=-1", 0, 0 },
		{ "1.M2P3.host,S=99999999999999999999999", 0, 0 },
	};
	uint64_t	 v;
	size_t		 i;
	int		 r;

	for (i = 0; i < nitems(n); i++) {
		v = 42;
		r = quota_name_size(n[i].name, &v);
		ok(n[i].ok ? r == 0 && v == n[i].v : r == -1,
		    "name %s: %s", n[i].name, n[i].ok ? "size" : "none");
	}
}

/* Open, check scanned and usage, close. */
#define OPEN(lim, sc, b, c, what) do {					\
	struct quota_txn	 _q;					\
	char			 _e[256] = "";				\
	int			 _r;					\
	_r = quota_open(&_q, root, (lim), _e, sizeof(_e));		\
	ok(_r == 0 && _q.scanned == (sc) && _q.use.bytes == (b) &&	\
	    _q.use.count == (c), "%s (scanned %d, %llu %llu) %s", what,	\
	    _q.scanned, (unsigned long long)_q.use.bytes,		\
	    (unsigned long long)_q.use.count, _e);			\
	if (_r == 0)							\
		quota_close(&_q);					\
} while (0)

static void
test_txn(void)
{
	struct quota_limits	 lim = { 1000, 10 }, other = { 2000, 10 };
	struct quota_txn	 q;
	struct stat		 st;
	char			 err[256], p[PATH_MAX], *buf, big[6000];
	size_t			 len;

	strlcpy(root, "/tmp/test_quota.XXXXXX", sizeof(root));
	if (mkdtemp(root) == NULL)
		fatal("mkdtemp");
	if (rmdir(root) == -1)
		fatal("rmdir");
	ok(quota_open(&q, root, &lim, err, sizeof(err)) == 0 &&
	    q.dfd == -1 && q.use.bytes == 0, "no Maildir yet: nothing used");
	ok(quota_add(&q, 100, 1, err, sizeof(err)) == 0 && q.use.bytes ==
	    100, "... an add is counted in memory only");
	quota_close(&q);

	put("", "", NULL);
	put("", "cur", NULL);
	put("", "new", NULL);
	put("", ".Sent", NULL);
	put(".Sent", "cur", NULL);
	put("", ".Empty", NULL);
	put("", ".notadir", "x");
	put("cur", "1.M1P1.h,S=100:2,S", "whatever: the name counts");
	put("new", "2.M1P1.h", "twelve bytes");
	put("new", ".hidden", "not counted");
	put(".Sent/cur", "3.M1P1.h,S=200,W=210:2,", "");
	put("", "maildirsize.tmp", "not a message");
	OPEN(&lim, 1, 312, 3, "missing file: scanned");
	snprintf(p, sizeof(p), "%s/%s", root, QUOTA_FILE);
	buf = read_file(p, &len);
	is_str(buf, "1000S,10C\n312 3\n", "... and written");
	free(buf);

	OPEN(&lim, 0, 312, 3, "reopened: read, not scanned");
	ok(quota_open(&q, root, &lim, err, sizeof(err)) == 0 &&
	    quota_exceeds(&q, 688, 7) == QUOTA_OK &&
	    quota_exceeds(&q, 689, 1) == QUOTA_STORAGE &&
	    quota_exceeds(&q, 1, 8) == QUOTA_MESSAGES,
	    "exceeds: at the limits");
	ok(quota_add(&q, 50, 1, err, sizeof(err)) == 1 &&
	    quota_add(&q, -12, -1, err, sizeof(err)) == 1 &&
	    quota_add(&q, 0, 0, err, sizeof(err)) == 0, "adds");
	quota_close(&q);
	buf = read_file(p, &len);
	is_str(buf, "1000S,10C\n312 3\n50 1\n-12 -1\n",
	    "... appended, nothing for a zero change");
	free(buf);
	OPEN(&lim, 0, 350, 3, "the lines sum up");

	OPEN(&other, 1, 312, 3, "other limits: scanned");
	buf = read_file(p, &len);
	is_str(buf, "2000S,10C\n312 3\n", "... written with the new limits");
	free(buf);

	/* Full, one line, fresh: trusted; stale: scanned. */
	put("", QUOTA_FILE, "1000S,10C\n1000 3\n");
	OPEN(&lim, 0, 1000, 3, "full, one fresh line: trusted");
	age("", QUOTA_FILE, QUOTA_STALE + 60);
	OPEN(&lim, 1, 312, 3, "full and older than 15 minutes: scanned");
	put("", QUOTA_FILE, "1000S,10C\n500 3\n500 1\n");
	OPEN(&lim, 1, 312, 3, "full, two lines: scanned");
	put("", QUOTA_FILE, "1000S,10C\n400 3\n");
	age("", QUOTA_FILE, QUOTA_STALE + 60);
	OPEN(&lim, 0, 400, 3, "stale but not full: trusted");
	put("", QUOTA_FILE, "1000S,10C\n1 10\n");
	OPEN(&lim, 0, 1, 10, "messages full, fresh: trusted");
	put("", QUOTA_FILE, "1000S,10C\n1 5\n1 5\n");
	OPEN(&lim, 1, 312, 3, "messages full, two lines: scanned");

	/* 5120 bytes and more: scanned. */
	memset(big, 0, sizeof(big));
	strlcpy(big, "1000S,10C\n", sizeof(big));
	while (strlen(big) < QUOTA_FILE_MAX)
		strlcat(big, "0 0\n", sizeof(big));
	put("", QUOTA_FILE, big);
	OPEN(&lim, 1, 312, 3, "5120 bytes: scanned");
	put("", QUOTA_FILE, "1000S,10C\nbroken\n");
	OPEN(&lim, 1, 312, 3, "broken: scanned");
	putn("", QUOTA_FILE, "1000S,10C\n1 1\0\n", 15);
	OPEN(&lim, 1, 312, 3, "NUL byte: scanned");

	/* A change behind our back: seen by the next scan. */
	put("cur", "4.M1P1.h,S=88:2,", "");
	snprintf(p, sizeof(p), "%s/cur/1.M1P1.h,S=100:2,S", root);
	unlink(p);
	OPEN(&lim, 0, 312, 3, "a file added and one removed by hand: "
	    "the file still says so");
	snprintf(p, sizeof(p), "%s/%s", root, QUOTA_FILE);
	unlink(p);
	OPEN(&lim, 1, 300, 3, "... until it is gone: scanned");

	/* The file missing between open and add: not made by the add. */
	ok(quota_open(&q, root, &lim, err, sizeof(err)) == 0, "open");
	unlink(p);
	ok(quota_add(&q, 5, 1, err, sizeof(err)) == 0 &&
	    stat(p, &st) == -1 && errno == ENOENT,
	    "add with the file gone: nothing made (the next open scans)");
	quota_close(&q);
}

static void
test_txn_links(void)
{
	struct quota_limits	 lim = { 1000, 10 };
	struct stat		 st;
	char			 p[PATH_MAX], target[PATH_MAX], *buf;
	size_t			 len;

	/* A maildirsize that is a symbolic link: replaced, not followed. */
	snprintf(target, sizeof(target), "%s/elsewhere", root);
	put("", "elsewhere", "1000S,10C\n1 1\n");
	snprintf(p, sizeof(p), "%s/%s", root, QUOTA_FILE);
	unlink(p);
	if (symlink(target, p) == -1)
		fatal("symlink");
	OPEN(&lim, 1, 300, 3, "maildirsize a symbolic link: scanned");
	ok(lstat(p, &st) == 0 && S_ISREG(st.st_mode),
	    "... replaced by a file");
	buf = read_file(target, &len);
	is_str(buf, "1000S,10C\n1 1\n", "... its target untouched");
	free(buf);

	/* A folder that is a symbolic link: not counted. */
	snprintf(p, sizeof(p), "%s/.Link", root);
	snprintf(target, sizeof(target), "%s/.Sent", root);
	if (symlink(target, p) == -1)
		fatal("symlink");
	snprintf(p, sizeof(p), "%s/%s", root, QUOTA_FILE);
	unlink(p);
	OPEN(&lim, 1, 300, 3, "a folder that is a symbolic link: skipped");
	nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int
main(void)
{
	log_init(1, 0);
	test_sizes();
	test_values();
	test_user_limits();
	test_check();
	test_roots();
	test_parse_files();
	test_parse_hostile();
	test_format();
	test_names();
	test_txn();
	test_txn_links();
	return done_testing();
}
