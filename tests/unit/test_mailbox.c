/*
 * Tests for mailbox.c: modified UTF-7, name <-> Maildir++ directory
 * mapping and what it refuses, LIST hierarchy and pattern matching,
 * the SPECIAL-USE table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compat.h"
#include "log.h"
#include "mailbox.h"
#include "tap.h"

static void	 test_mutf7(void);
static void	 test_refused_encodings(void);
static void	 test_mapping(void);
static void	 test_escapes(void);
static void	 test_list(void);
static void	 test_match(void);
static void	 test_special(void);

static void	 match_is(const char *, const char *, int);

static const char *desc(const char *);

static char	 buf[MAILBOX_WIRE_MAX + 1];
static char	 buf2[MAILBOX_WIRE_MAX + 1];

static const char *
to_dir(const char *name, int flags)
{
	if (mailbox_name_to_dir(name, flags, buf, sizeof(buf), NULL) == -1)
		return "(refused)";
	return buf;
}

static const char *
from_dir(const char *dir)
{
	if (mailbox_dir_to_name(dir, buf2, sizeof(buf2)) == -1)
		return "(refused)";
	return buf2;
}

/* A test name without raw control or 8-bit bytes in the TAP output. */
static const char *
desc(const char *s)
{
	static char	 d[128];
	size_t		 o = 0;

	for (; *s != '\0' && o + 5 < sizeof(d); s++) {
		if (*s >= 0x20 && *s < 0x7f)
			d[o++] = *s;
		else
			o += snprintf(d + o, sizeof(d) - o, "\\x%02x",
			    (unsigned char)*s);
	}
	d[o] = '\0';
	return d;
}

static void
test_mutf7(void)
{
	static const struct {
		const char	*wire, *utf8;
	} rt[] = {
		{ "Sent", "Sent" },
		{ "Entw&APw-rfe", "Entw\xc3\xbc" "rfe" },
		{ "&ZeVnLIqe-", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
		{ "Tom &- Jerry", "Tom & Jerry" },
		{ "&AOQA9gD8-", "\xc3\xa4\xc3\xb6\xc3\xbc" },
		{ "a&AOQ-b&APY-c", "a\xc3\xa4" "b\xc3\xb6" "c" },
		/* U+1F600, a surrogate pair */
		{ "&2D3eAA-", "\xf0\x9f\x98\x80" },
		{ "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
		  "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
		  "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
	};
	size_t	 i;
	char	 name[64];

	for (i = 0; i < nitems(rt); i++) {
		ok(mailbox_mutf7_decode(rt[i].wire, buf, sizeof(buf)) == 0,
		    "decode %s", rt[i].wire);
		is_str(buf, rt[i].utf8, "decoded value");
		ok(mailbox_mutf7_encode(rt[i].utf8, buf, sizeof(buf)) == 0,
		    "encode back %s", rt[i].wire);
		is_str(buf, rt[i].wire, "encoded value");
	}
	ok(mailbox_mutf7_decode("Entw&APw-rfe", name, 5) == -1,
	    "decode into a short buffer fails");
	ok(mailbox_mutf7_encode("\xc3\xbc\xc3\xbc\xc3\xbc", name, 6) == -1,
	    "encode into a short buffer fails");
	ok(mailbox_utf8_valid("\xe6\x97\xa5", 3), "valid UTF-8");
	ok(!mailbox_utf8_valid("\xc0\xaf", 2), "overlong UTF-8 refused");
	ok(!mailbox_utf8_valid("\xed\xa0\x80", 3), "surrogate refused");
	ok(!mailbox_utf8_valid("\xf4\x90\x80\x80", 4), "> U+10FFFF refused");
	ok(!mailbox_utf8_valid("\xe6\x97", 2), "truncated refused");
}

static void
test_refused_encodings(void)
{
	static const char *bad[] = {
		"&",			/* unterminated */
		"a&",
		"&AOQ",			/* no "-" */
		"&AOQ-&AOQ-",		/* adjacent runs: not canonical */
		"&AGE-",		/* "a" encoded: unnecessary */
		"&ACY-",		/* "&" encoded */
		"&AC8-",		/* "/" encoded */
		"&AOQ=-",		/* standard base64 padding */
		"&AO/k-",		/* "/" of standard base64 */
		"&AOR-",		/* non-zero padding bits */
		"&AOQA-",		/* 6 leftover bits */
		"&2D0-",		/* lone high surrogate */
		"&3gA-",		/* lone low surrogate */
		"&2D3YPQ-",		/* high surrogate twice */
		"Entw\xc3\xbcrfe",	/* raw 8-bit without UTF8=ACCEPT */
		"a\tb",			/* control character */
		"a\x7f",		/* DEL */
		"&AAA-",		/* U+0000 */
		"x&AAA-y",		/* U+0000 inside */
		"&AAk-",		/* U+0009 */
		"&AIU-",		/* U+0085, C1 control */
		"&Jjo",			/* runs to end */
		"&!-",			/* not base64 */
	};
	size_t	 i;

	for (i = 0; i < nitems(bad); i++)
		is_str(to_dir(bad[i], 0), "(refused)", desc(bad[i]));
	ok(mailbox_mutf7_decode("&AGE-", buf, sizeof(buf)) == -1,
	    "mutf7 decode refuses unnecessary encoding");
	ok(mailbox_mutf7_decode("&-", buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "&") == 0, "&- is &");
	/* with UTF8=ACCEPT: UTF-8 is checked, "&" is literal */
	is_str(to_dir("Entw\xc3\xbcrfe", MAILBOX_UTF8), ".Entw&APw-rfe",
	    "UTF-8 name with UTF8=ACCEPT");
	is_str(to_dir("Entw\xc3rfe", MAILBOX_UTF8), "(refused)",
	    "invalid UTF-8 refused with UTF8=ACCEPT");
	is_str(to_dir("\xc0\xaf" "etc", MAILBOX_UTF8), "(refused)",
	    "overlong \"/\" refused with UTF8=ACCEPT");
	is_str(to_dir("A&B", MAILBOX_UTF8), ".A&-B",
	    "\"&\" is literal with UTF8=ACCEPT");
}

static void
test_mapping(void)
{
	const char	*err;

	is_str(to_dir("INBOX", 0), ".", "INBOX is the root");
	is_str(to_dir("inbox", 0), ".", "inbox is the root");
	is_str(to_dir("InBoX", 0), ".", "InBoX is the root");
	is_str(to_dir("INBOX/child", 0), ".INBOX.child", "INBOX/child");
	is_str(to_dir("inbox/child", 0), ".INBOX.child", "inbox/child");
	is_str(to_dir("Inboxes", 0), ".Inboxes", "Inboxes is not INBOX");
	is_str(to_dir("Work/inbox", 0), ".Work.inbox",
	    "inbox below the top is an ordinary name");
	is_str(to_dir("Sent", 0), ".Sent", "Sent");
	is_str(to_dir("Work/Projects", 0), ".Work.Projects", "hierarchy");
	is_str(to_dir("Entw&APw-rfe", 0), ".Entw&APw-rfe", "accented");
	is_str(to_dir("&ZeVnLIqe-/x", 0), ".&ZeVnLIqe-.x", "CJK");
	is_str(to_dir("v1.2", 0), ".v1&AC4-2", "dot escaped");
	is_str(to_dir("J.R. Smith", 0), ".J&AC4-R&AC4- Smith",
	    "two dots escaped");
	is_str(to_dir(".hidden", 0), ".&AC4-hidden",
	    "leading dot escaped, never a hidden directory");
	is_str(to_dir("a&AOQ-.b", 0), ".a&AOQALg-b",
	    "dot joins the base64 run");

	is_str(from_dir("."), "INBOX", "root is INBOX");
	is_str(from_dir(".Sent"), "Sent", ".Sent");
	is_str(from_dir(".Work.Projects"), "Work/Projects", "hierarchy back");
	is_str(from_dir(".INBOX.child"), "INBOX/child", "INBOX child back");
	is_str(from_dir(".Entw&APw-rfe"), "Entw\xc3\xbcrfe", "accented back");
	is_str(from_dir(".&ZeVnLIqe-"), "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
	    "CJK back");
	is_str(from_dir(".v1&AC4-2"), "v1.2", "escaped dot back");
	is_str(from_dir(".INBOX"), "(refused)", ".INBOX would shadow root");
	is_str(from_dir(".inbox.x"), "(refused)", "non-canonical INBOX dir");
	is_str(from_dir(".Inbox"), "(refused)", ".Inbox would shadow root");
	is_str(from_dir("..x"), "(refused)", "empty component dir");
	is_str(from_dir(".x."), "(refused)", "trailing dot dir");
	is_str(from_dir(".."), "(refused)", "..");
	is_str(from_dir("cur"), "(refused)", "cur is not a folder");
	is_str(from_dir(".&AGE-"), "(refused)", "unnecessary encoding on disk");
	is_str(from_dir(".a\\b"), "(refused)", "backslash on disk");
	is_str(from_dir(".a*"), "(refused)", "wildcard on disk");
	is_str(from_dir(".&APw"), "(refused)", "unterminated on disk");
	is_str(from_dir(".\xc3\xbc"), "(refused)", "raw 8-bit on disk");

	ok(mailbox_name_canon("inbox/Sub", 0, buf, sizeof(buf), &err) == 0,
	    "canon inbox/Sub");
	is_str(buf, "INBOX/Sub", "INBOX upper-cased");
	ok(mailbox_name_export("Entw\xc3\xbcrfe", 0, buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "Entw&APw-rfe") == 0, "export for a 7-bit client");
	ok(mailbox_name_export("Entw\xc3\xbcrfe", MAILBOX_UTF8, buf,
	    sizeof(buf)) == 0 && strcmp(buf, "Entw\xc3\xbcrfe") == 0,
	    "export for a UTF8=ACCEPT client");
}

static void
test_escapes(void)
{
	static const char *bad[] = {
		"../x", "a/../b", "..", ".", "a/.", "a/./b", "a//b", "/abs",
		"trailing/", "/", "", "a\\b", "..\\x", "a\rb", "a\nb",
		"a\x01", "a*", "a%b", "\x1b[31m", "a/\xc2\x85",
		/* mUTF-7 only */
		"x/&AAA-", "&AC4-&AC4-", "&AC4AL-", "Work/&AC4ALg-",
	};
#define NUTF8	20
	char	 lng[2048];
	size_t	 i;
	char	 dname[64];
	const char *err = NULL;

	/* the first NUTF8 are refused in UTF-8 too; the rest are mUTF-7 */
	for (i = 0; i < nitems(bad); i++) {
		(void)snprintf(dname, sizeof(dname), "escape attempt %zu: %s",
		    i, desc(bad[i]));
		is_str(to_dir(bad[i], 0), "(refused)", dname);
		if (i < NUTF8)
			is_str(to_dir(bad[i], MAILBOX_UTF8), "(refused)",
			    "same with UTF8=ACCEPT");
	}
	ok(mailbox_name_to_dir("..", 0, buf, sizeof(buf), &err) == -1 &&
	    err != NULL && *err != '\0', "a reason is given: %s",
	    err ? err : "");

	/* NUL inside a counted string cannot pass: the name stops there */
	is_str(to_dir("a\0/../../etc", 0), ".a", "NUL ends the name");

	memset(lng, 'a', 255);
	lng[255] = '\0';
	ok(strcmp(to_dir(lng, 0), "(refused)") != 0,
	    "255-byte component accepted");
	ok(strlen(to_dir(lng, 0)) == 256, "256-byte dir name");
	memset(lng, 'a', 256);
	lng[256] = '\0';
	is_str(to_dir(lng, 0), "(refused)", "256-byte component refused");
	/* 100 "." escape to 5 bytes each: 500 bytes on disk */
	memset(lng, '.', 100);
	lng[100] = '\0';
	is_str(to_dir(lng, 0), "(refused)", "component too long once escaped");
	for (i = 0; i < 200; i++)
		memcpy(lng + i * 5, "abcd/", 5);
	lng[999] = '\0';
	ok(strcmp(to_dir(lng, 0), "(refused)") != 0,
	    "deep name of 999 bytes accepted");
	for (i = 0; i < 300; i++)
		memcpy(lng + i * 5, "abcd/", 5);
	lng[1499] = '\0';
	is_str(to_dir(lng, 0), "(refused)", "1499-byte name refused");
	memset(lng, 'x', sizeof(lng) - 1);
	lng[sizeof(lng) - 1] = '\0';
	is_str(to_dir(lng, 0), "(refused)", "2047-byte name refused");
	is_str(from_dir(lng), "(refused)", "2047-byte dir refused");
	ok(mailbox_name_to_dir("Sent", 0, buf, 4, NULL) == -1,
	    "short output buffer refused");
}

static void
test_list(void)
{
	static const char *dents[] = {
		".", "..", "cur", "new", "tmp", ".Sent", ".Drafts",
		".Work.Projects", ".Work.Projects.2024", ".INBOX.sub",
		".Entw&APw-rfe", ".bad.", "..hidden", ".INBOX", ".Sent",
		"dovecot-uidlist", ".a*b",
	};
	static const struct {
		const char	*name;
		int		 attrs;
	} want[] = {
		{ "Drafts", MBOX_A_HASNOCHILDREN },
		{ "Entw\xc3\xbcrfe", MBOX_A_HASNOCHILDREN },
		{ "INBOX", MBOX_A_HASCHILDREN },
		{ "INBOX/sub", MBOX_A_HASNOCHILDREN },
		{ "Sent", MBOX_A_HASNOCHILDREN },
		{ "Work", MBOX_A_NONEXISTENT | MBOX_A_HASCHILDREN },
		{ "Work/Projects", MBOX_A_HASCHILDREN },
		{ "Work/Projects/2024", MBOX_A_HASNOCHILDREN },
	};
	struct mailbox_list	 l;
	size_t			 i;

	mailbox_list_init(&l);
	mailbox_list_build(&l, dents, nitems(dents));
	is_int(l.n, nitems(want), "list size");
	for (i = 0; i < l.n && i < nitems(want); i++) {
		is_str(l.ent[i].name, want[i].name, want[i].name);
		is_int(l.ent[i].attrs, want[i].attrs, "attributes");
	}
	mailbox_list_free(&l);

	mailbox_list_init(&l);
	mailbox_list_build(&l, NULL, 0);
	ok(l.n == 1 && strcmp(l.ent[0].name, "INBOX") == 0 &&
	    l.ent[0].attrs == MBOX_A_HASNOCHILDREN, "empty Maildir: INBOX");
	mailbox_list_free(&l);

	/* deep implied parents */
	{
		const char *d[] = { ".a.b.c.d" };

		mailbox_list_init(&l);
		mailbox_list_build(&l, d, 1);
		ok(l.n == 5 && strcmp(l.ent[1].name, "a") == 0 &&
		    l.ent[1].attrs == (MBOX_A_NONEXISTENT |
		    MBOX_A_HASCHILDREN) &&
		    strcmp(l.ent[3].name, "a/b/c") == 0 &&
		    strcmp(l.ent[4].name, "a/b/c/d") == 0 &&
		    l.ent[4].attrs == MBOX_A_HASNOCHILDREN,
		    "a/b/c/d implies a, a/b, a/b/c");
		mailbox_list_free(&l);
	}
}

static void
match_is(const char *name, const char *pat, int want)
{
	ok(mailbox_match(name, pat) == want, "\"%s\" %s \"%s\"", pat,
	    want ? "matches" : "does not match", name);
}

static void
test_match(void)
{
	char		 name[MAILBOX_NAME_MAX + 1], pat[64];
	clock_t		 t0;
	double		 secs;
	int		 r;

	match_is("INBOX", "*", 1);
	match_is("Work/Projects", "*", 1);
	match_is("Work/Projects", "%", 0);
	match_is("Work", "%", 1);
	match_is("Work/Projects", "Work/%", 1);
	match_is("Work/Projects/2024", "Work/%", 0);
	match_is("Work/Projects/2024", "Work/*", 1);
	match_is("Work/Projects", "W%/P%s", 1);
	match_is("Work/Projects", "W%s", 0);
	match_is("Work", "Work", 1);
	match_is("Work", "work", 0);
	match_is("INBOX", "inbox", 1);
	match_is("INBOX", "InBox", 1);
	match_is("INBOX", "in%", 1);
	match_is("INBOX/sub", "inbox/%", 1);
	match_is("INBOX/sub", "inbox/SUB", 0);
	match_is("INBOXES", "inboxes", 0);
	match_is("", "", 1);
	match_is("a", "", 0);
	match_is("a", "%%**%", 1);
	match_is("abc", "a*c", 1);
	match_is("abd", "a*c", 0);

	ok(mailbox_pattern_canon("Entw&APw-*", 0, pat, sizeof(pat)) == 0 &&
	    mailbox_match("Entw\xc3\xbcrfe", pat), "mUTF-7 pattern");
	ok(mailbox_pattern_canon("&Jjo", 0, pat, sizeof(pat)) == -1,
	    "bad mUTF-7 pattern refused");

	memset(name, 'a', MAILBOX_NAME_MAX);
	name[MAILBOX_NAME_MAX] = '\0';
	t0 = clock();
	r = mailbox_match(name, "*%*%*%*%*%*%*%*x");
	r += mailbox_match(name, "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*ax");
	secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	ok(r == 0, "pathological patterns do not match");
	ok(secs < 0.5, "pathological patterns are fast (%.4fs)", secs);
	name[MAILBOX_NAME_MAX - 1] = 'x';
	ok(mailbox_match(name, "*%*%*%*%*%*%*%*x"), "and match when they do");
}

static void
test_special(void)
{
	size_t	 i;
	int	 okall = 1;

	is_int(mailbox_nspecials, 5, "five special-use folders");
	is_str(mailbox_special_use("Sent"), "\\Sent", "Sent");
	is_str(mailbox_special_use("Drafts"), "\\Drafts", "Drafts");
	is_str(mailbox_special_use("Trash"), "\\Trash", "Trash");
	is_str(mailbox_special_use("Junk"), "\\Junk", "Junk");
	is_str(mailbox_special_use("Archive"), "\\Archive", "Archive");
	ok(mailbox_special_use("INBOX") == NULL, "INBOX has none");
	ok(mailbox_special_use("sent") == NULL, "names are exact");
	/* the table's names must be creatable */
	for (i = 0; i < mailbox_nspecials; i++) {
		if (mailbox_name_to_dir(mailbox_specials[i].name, 0, buf,
		    sizeof(buf), NULL) == -1 || buf[0] != '.')
			okall = 0;
	}
	ok(okall, "every special-use name maps to a folder");
	is_str(to_dir("Trash", 0), ".Trash", "Trash directory");
}

static void
subs_is(const char *in, const char *want, const char *name)
{
	char	*out;
	size_t	 len;

	out = mailbox_dovecot_subs(in, strlen(in), &len);
	ok(strcmp(out != NULL ? out : "", want) == 0 &&
	    len == strlen(want), "dovecot subscriptions: %s", name);
	free(out);
}

static void
test_dovecot_subs(void)
{
	subs_is("V\t2\n\nLists\tfoo\nArchive\nCaf&AOk-\nINBOX\n",
	    "Lists/foo\nArchive\nCaf\xc3\xa9\nINBOX\n", "version 2, as "
	    "Dovecot 2.3 writes it");
	subs_is("Lists.foo\nSent\n", "Lists/foo\nSent\n",
	    "version 1: \".\" between components");
	subs_is("V\t2\n\ninbox\nv1.2\n", "INBOX\nv1.2\n",
	    "inbox in capitals; a dot inside a version 2 name");
	subs_is("V\t2\n\na/b\n..\n\tx\nx\t\nCaf&AOk\n*\nok\n", "ok\n",
	    "slashes, empty components, bad UTF-7, wildcards skipped");
	subs_is("V\t2\n\nA\r\nB", "B\n", "CR refused, last line without "
	    "a newline");
	subs_is("", "", "empty file");
	subs_is("V\t2\n\n", "", "header only");
}

int
main(void)
{
	log_init(1, 0);
	test_dovecot_subs();
	test_mutf7();
	test_refused_encodings();
	test_mapping();
	test_escapes();
	test_list();
	test_match();
	test_special();
	return done_testing();
}
