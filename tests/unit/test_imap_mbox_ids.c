/*
 * Unit tests for what OBJECTID, SAVEDATE and PREVIEW ask of the open
 * mailboxes (imap_mbox_ids.c, and the MAILBOXID and PREVIEW parts of
 * imap_mbox.c and imap_mbox_cache.c), in Maildirs made in a temporary
 * mail root: EMAILID and save date from file names (hostile names
 * too), EMAILID kept by COPY and MOVE, by a reopen (a restart) and by
 * the loss of the UID list, MAILBOXID kept by a reopen and a RENAME's
 * new UIDVALIDITY and new for a mailbox made again, and PREVIEW
 * computed once, LAZY, cached across a reopen, carried by COPY, and a
 * damaged cached preview ignored.
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
#include "tap.h"
#include "uidlist.h"
#include "util.h"

static char	 top[PATH_MAX];
static char	 root[PATH_MAX];

static const char html_msg[] =
    "From: a@example.org\r\nSubject: preview\r\n"
    "Content-Type: text/html; charset=utf-8\r\n\r\n"
    "<html><head><style>x{}</style></head><body><p>Hello&nbsp;"
    "<b>there</b></p><p>caf\xc3\xa9</p></body></html>\r\n";

static int	 rm_cb(const char *, const struct stat *, int, struct FTW *);
static void	 test_names(void);
static void	 test_copy(void);
static void	 test_mailboxid(void);
static void	 test_preview(void);

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
	static const char *const bad_e[] = {
		"1.a.host,E=", "1.a.host,E=a.b", "1.a.host,E=a/b",
		"1.a.host,E=\xc3\xa9", "1.a.host,E=a b"
	};
	char	 a[MBOX_EMAILID_MAX + 1], b[MBOX_EMAILID_MAX + 1];
	char	 big[200];
	time_t	 now = 1800000000;
	size_t	 i;

	ok(mbox_name_emailid("1700000001.M1P1.host", 20, a, sizeof(a)) ==
	    0 && a[0] == 'M' && strlen(a) == 1 + 2 * MBOX_EMAILID_BYTES &&
	    uidlist_objectid_valid(a, strlen(a)), "derived EMAILID: %s", a);
	ok(mbox_name_emailid("1700000001.M1P1.host", 20, b, sizeof(b)) ==
	    0 && strcmp(a, b) == 0, "the same name, the same EMAILID");
	ok(mbox_name_emailid("1700000001.M1P2.host", 20, b, sizeof(b)) ==
	    0 && strcmp(a, b) != 0, "another name, another EMAILID");
	ok(mbox_name_emailid("1700000001.M1P1.host,S=10,E=Mabc_-9,W=12",
	    39, b, sizeof(b)) == 0 && strcmp(b, "Mabc_-9") == 0,
	    "E= field taken");
	for (i = 0; i < nitems(bad_e); i++) {
		ok(mbox_name_emailid(bad_e[i], strlen(bad_e[i]), b,
		    sizeof(b)) == 0 && b[0] == 'M' &&
		    strlen(b) == 1 + 2 * MBOX_EMAILID_BYTES,
		    "bad E= field: derived instead (%zu)", i);
	}
	memset(big, 'x', sizeof(big));
	memcpy(big, "1.a.h,E=", 8);
	ok(mbox_name_emailid(big, 8 + MBOX_EMAILID_MAX, b, sizeof(b)) == 0 &&
	    strlen(b) == MBOX_EMAILID_MAX, "E= of %d bytes taken",
	    MBOX_EMAILID_MAX);
	ok(mbox_name_emailid(big, 9 + MBOX_EMAILID_MAX, b, sizeof(b)) == 0 &&
	    b[0] == 'M' && strlen(b) == 1 + 2 * MBOX_EMAILID_BYTES,
	    "E= of %d bytes: derived", MBOX_EMAILID_MAX + 1);

	is_int(mbox_name_savedate("1700000001.M1.host", 18, now), 1700000001,
	    "save date from the name");
	is_int(mbox_name_savedate("1700000001", 10, now), 0, "no dot: none");
	is_int(mbox_name_savedate("abc.def", 7, now), 0, "no digits: none");
	is_int(mbox_name_savedate("0170000000.x", 12, now), 0,
	    "leading zero: none");
	is_int(mbox_name_savedate("99999999.x", 10, now), 0,
	    "before 1973: none");
	is_int(mbox_name_savedate("1800086401.x", 12, now), 0,
	    "more than a day ahead: none");
	is_int(mbox_name_savedate("1800086400.x", 12, now), 1800086400,
	    "a day ahead: kept");
	is_int(mbox_name_savedate("1234567890123.x", 15, now), 0,
	    "too many digits: none");
}

/* COPY and MOVE keep the EMAILID; so do a reopen and a lost list. */
static void
test_copy(void)
{
	struct mbox	*a, *b, *c;
	char		 ea[MBOX_EMAILID_MAX + 1], eb[MBOX_EMAILID_MAX + 1];
	char		 ec[MBOX_EMAILID_MAX + 1], e2[MBOX_EMAILID_MAX + 1];
	uint32_t	 uid, uid2;
	time_t		 before, sd;
	long		 idx;

	if ((a = mbox_open("ca", 1)) == NULL || (b = mbox_open("cb", 1)) ==
	    NULL || (c = mbox_open("cc", 1)) == NULL)
		fatal("open");
	before = time(NULL);
	ok(mbox_append(a, "Subject: one\r\n\r\nbody\r\n", 22, 0, NULL, 0,
	    1000000000, &uid) == 0, "append");
	sd = mbox_savedate(a, 0);
	ok(sd >= before && sd <= time(NULL),
	    "APPEND: save date is now, not the INTERNALDATE given");
	ok(mbox_emailid(a, 0, ea, sizeof(ea)) == 0, "EMAILID %s", ea);
	ok(mbox_copy(a, 0, b, &uid2) == 0 && mbox_commit(b) == 0, "copy");
	ok(mbox_emailid(b, 0, eb, sizeof(eb)) == 0 && strcmp(ea, eb) == 0,
	    "COPY keeps the EMAILID");
	sd = mbox_savedate(b, 0);
	ok(sd >= before && sd <= time(NULL), "COPY: save date is now");
	/* MOVE is COPY and EXPUNGE. */
	ok(mbox_copy(b, 0, c, &uid2) == 0 && mbox_expunge(b, 0) == 0 &&
	    mbox_commit(b) == 0 && mbox_commit(c) == 0, "move b -> c");
	ok(mbox_emailid(c, 0, ec, sizeof(ec)) == 0 && strcmp(ea, ec) == 0,
	    "MOVE (of a copy) keeps the EMAILID");
	ok(mbox_append(a, "Subject: two\r\n\r\nbody\r\n", 22, 0, NULL, 0, 0,
	    &uid2) == 0 && mbox_emailid(a, 1, e2, sizeof(e2)) == 0 &&
	    strcmp(e2, ea) != 0, "another message, another EMAILID");
	mbox_close(a);
	mbox_close(b);
	mbox_close(c);

	/* A restart: the same ids. */
	if ((c = mbox_open("cc", 0)) == NULL)
		fatal("open cc");
	ok(mbox_emailid(c, 0, ec, sizeof(ec)) == 0 && strcmp(ea, ec) == 0,
	    "reopened: same EMAILID");
	mbox_close(c);
	/* The UID list lost (or never written: a crash): still the same. */
	if (unlink("cc/" UIDLIST_FILE) == -1)
		fatal("unlink");
	if ((c = mbox_open("cc", 0)) == NULL)
		fatal("open cc");
	ok(mbox_count(c) == 1 && mbox_emailid(c, 0, ec, sizeof(ec)) == 0 &&
	    strcmp(ea, ec) == 0, "list made anew: same EMAILID");
	mbox_close(c);
	if ((a = mbox_open("ca", 0)) == NULL)
		fatal("open ca");
	idx = mbox_find(a, uid);
	ok(idx >= 0 && mbox_emailid(a, idx, e2, sizeof(e2)) == 0 &&
	    strcmp(e2, ea) == 0, "the original too");
	mbox_close(a);
}

static void
test_mailboxid(void)
{
	struct mbox	*m;
	char		 id[UIDLIST_ID_MAX + 1];

	if ((m = mbox_open("ma", 1)) == NULL)
		fatal("open ma");
	strlcpy(id, mbox_mailboxid(m), sizeof(id));
	ok(id[0] == 'F' && uidlist_objectid_valid(id, strlen(id)),
	    "MAILBOXID %s", id);
	mbox_close(m);
	if ((m = mbox_open("ma", 0)) == NULL)
		fatal("open ma");
	is_str(mbox_mailboxid(m), id, "reopened: same MAILBOXID");
	mbox_close(m);
	if (rename("ma", "mb") == -1)
		fatal("rename");
	ok(mbox_renew_uidvalidity("mb") == 0, "RENAME: new UIDVALIDITY");
	if ((m = mbox_open("mb", 0)) == NULL)
		fatal("open mb");
	is_str(mbox_mailboxid(m), id, "RENAME keeps the MAILBOXID");
	mbox_close(m);
	ok(mbox_remove("mb") == 0 && mbox_create("mb") == 0,
	    "DELETE and CREATE");
	if ((m = mbox_open("mb", 0)) == NULL)
		fatal("open mb");
	ok(strcmp(mbox_mailboxid(m), id) != 0 && mbox_mailboxid(m)[0] == 'F',
	    "made again: another MAILBOXID");
	mbox_close(m);
}

static void
test_preview(void)
{
	struct mbox	*m, *d;
	const char	*p;
	char		*buf, *q;
	size_t		 len;
	uint32_t	 uid;
	int		 fd;

	if ((m = mbox_open("pa", 1)) == NULL || (d = mbox_open("pb", 1)) ==
	    NULL)
		fatal("open");
	ok(mbox_append(m, html_msg, strlen(html_msg), 0, NULL, 0, 0,
	    &uid) == 0, "append");
	p = NULL;
	is_int(mbox_preview(m, 0, 1, &p), 0, "LAZY, not known: 0 (NIL)");
	is_int(mbox_preview(m, 0, 0, &p), 1, "computed");
	is_str(p, "Hello there caf\xc3\xa9", "the FUZZY text");
	p = NULL;
	is_int(mbox_preview(m, 0, 1, &p), 1, "LAZY, now known");
	ok(mbox_copy(m, 0, d, &uid) == 0, "copy");
	p = NULL;
	ok(mbox_preview(d, 0, 1, &p) == 1 && p != NULL &&
	    strcmp(p, "Hello there caf\xc3\xa9") == 0,
	    "COPY carries the preview");
	mbox_close(d);
	mbox_close(m);	/* the last reference: the cache is written */

	if ((m = mbox_open("pa", 0)) == NULL)
		fatal("open pa");
	p = NULL;
	ok(mbox_preview(m, 0, 1, &p) == 1 && p != NULL &&
	    strcmp(p, "Hello there caf\xc3\xa9") == 0,
	    "reopened: LAZY finds it in maild-cache");
	mbox_close(m);

	/* A control character in a cached preview: the cache is damaged. */
	if ((fd = open("pa/maild-cache", O_RDONLY)) == -1 ||
	    (buf = read_fd(fd, 1024 * 1024, &len)) == NULL)
		fatal("read cache");
	close(fd);
	ok((q = strstr(buf, "Hello there")) != NULL, "preview in the cache");
	if (q != NULL)
		q[5] = '\t';
	if ((fd = open("pa/maild-cache", O_WRONLY | O_TRUNC)) == -1 ||
	    write_full(fd, buf, len) == -1)
		fatal("write cache");
	close(fd);
	free(buf);
	if ((m = mbox_open("pa", 0)) == NULL)
		fatal("open pa");
	p = NULL;
	is_int(mbox_preview(m, 0, 1, &p), 0,
	    "damaged cache ignored: LAZY gives NIL");
	ok(mbox_preview(m, 0, 0, &p) == 1 && p != NULL &&
	    strcmp(p, "Hello there caf\xc3\xa9") == 0, "computed again");
	mbox_close(m);
}

int
main(void)
{
	log_init(1, 0);
	if (getcwd(top, sizeof(top)) == NULL)
		fatal("getcwd");
	if (strlcpy(root, "/tmp/test_imap_mbox_ids.XXXXXX", sizeof(root)) >=
	    sizeof(root) || mkdtemp(root) == NULL)
		fatal("mkdtemp");
	if (chdir(root) == -1)
		fatal("chdir");
	uidlist_set_state("maild-uidvalidity");

	test_names();
	test_copy();
	test_mailboxid();
	test_preview();

	if (chdir(top) == -1)
		fatal("chdir");
	nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return done_testing();
}
