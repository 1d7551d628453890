/*
 * IMAP sessions driven in memory, one command family at a time: the
 * test is the client (an io_mem connection, no socket) and the lookup
 * process (it answers the login checks the session asks for through
 * its session_env); the mailboxes are real Maildirs (imap_mbox.c) in a
 * temporary mail root, as the imap process has them.  Covered: the
 * commands before login and bad input there, STARTTLS and implicit TLS,
 * LOGIN and AUTHENTICATE refused, throttled and accepted, the mailbox
 * commands (SELECT EXAMINE CREATE DELETE RENAME SUBSCRIBE LIST LSUB
 * STATUS APPEND), the message commands (FETCH STORE SEARCH COPY MOVE
 * EXPUNGE and their UID forms), IDLE with updates from another session
 * and from a delivery, timeouts, disconnects and too many errors.
 * Fixtures: tests/data/session (run from the top directory).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "imap.h"
#include "io.h"
#include "log.h"
#include "maild.h"
#include "proc.h"
#include "server.h"
#include "session_fake.h"
#include "tap.h"

#define DATA	"tests/data/session/"
#define HOME	"example.org/alice"
#define USER	"alice@example.org"

static struct session_env test_env;	/* fake_env, tls_put checked */
static struct listener	 lis;
static struct sockaddr_storage client;
static char		 first_eml[256], second_eml[256];
static size_t		 first_len, second_len;

static void	 tls_put_checked(struct srv_tlsctx *);
static void	 connect_to(struct io_mem *, int);
static const char *lookup_answer(struct io_mem *, uint32_t, const char *);
static void	 login(struct io_mem *);
static void	 logout(struct io_mem *);
static void	 append(struct io_mem *, const char *, const char *,
		    const char *, size_t);
static int	 exists(const char *);
static int	 rm_cb(const char *, const struct stat *, int, struct FTW *);
static void	 test_preauth(void);
static void	 test_tls(void);
static void	 test_login(void);
static void	 test_authenticate(void);
static void	 test_mailboxes(void);
static void	 test_append(void);
static void	 test_messages(void);
static void	 test_copy_move_expunge(void);
static void	 test_idle(void);
static void	 test_condstore(void);
static void	 test_big_fetch(void);
static void	 test_bad_input(void);
static void	 test_quota(void);

static void
tls_put_checked(struct srv_tlsctx *t)
{
	ok(t == fake_tlsctx, "TLS context given back");
	fake_tls_put(t);
}

/* A new session on the listener with these flags; its greeting. */
static void
connect_to(struct io_mem *m, int flags)
{
	memset(m, 0, sizeof(*m));
	lis.flags = flags;
	imap_session_new(io_new_mem(m, 0), &lis, &client, &test_env);
	io_mem_run(m);
}

/* The lookup process answers the pending login check. */
static const char *
lookup_answer(struct io_mem *m, uint32_t res, const char *home)
{
	fake_out_clear(m);
	fake.pending = 0;
	imap_session_auth_result(fake.reqid, res, fake.authuser, home);
	io_mem_run(m);
	return fake_out(m);
}

/* STARTTLS and LOGIN as alice. */
static void
login(struct io_mem *m)
{
	connect_to(m, L_TLS);
	(void)say(m, "t STARTTLS\r\n");
	(void)say(m, "l LOGIN " USER " secret\r\n");
	if (!has(lookup_answer(m, AUTH_OK, HOME), "l OK "))
		ok(0, "login");
}

static void
logout(struct io_mem *m)
{
	int	 gone = fake.gone;

	ok(has(say(m, "z LOGOUT\r\n"), "z OK Logout completed\r\n") &&
	    m->io == NULL && fake.gone == gone + 1, "LOGOUT ends the session");
	io_mem_free(m);
}

/* APPEND with a synchronizing literal: the continuation, then OK. */
static void
append(struct io_mem *m, const char *mbox, const char *flags,
    const char *msg, size_t len)
{
	char	 cmd[256];

	snprintf(cmd, sizeof(cmd), "ap APPEND %s %s{%zu}\r\n", mbox, flags,
	    len);
	ok(has(say(m, cmd), "+ Ready for"), "APPEND %s: continuation", mbox);
	say_n(m, msg, len);
	ok(has(say(m, "\r\n"), "ap OK [APPENDUID "), "APPEND %s: OK", mbox);
}

static int
exists(const char *path)
{
	struct stat	 st;

	return lstat(path, &st) == 0;
}

static void
test_preauth(void)
{
	struct io_mem	 m;
	const char	*r;

	connect_to(&m, L_TLS);
	ok(strncmp(m.out, "* OK [CAPABILITY IMAP4rev1 ", 27) == 0 &&
	    has(m.out, " STARTTLS LOGINDISABLED] maild ready\r\n"),
	    "greeting with the capabilities before TLS");
	r = say(&m, "a1 CAPABILITY\r\n");
	ok(has(r, "* CAPABILITY IMAP4rev1 IMAP4rev2 ") &&
	    has(r, "a1 OK Capability completed\r\n"), "CAPABILITY");
	ok(has(say(&m, "a2 CAPABILITY x\r\n"), "a2 BAD CAPABILITY takes no "
	    "arguments"), "CAPABILITY with an argument: BAD");
	ok(strcmp(say(&m, "a3 NOOP\r\n"), "a3 OK NOOP completed\r\n") == 0,
	    "NOOP");
	ok(has(say(&m, "a4 ID NIL\r\n"), "* ID (\"name\" \"maild\""), "ID");
	ok(has(say(&m, "a5 FROB\r\n"), "a5 BAD Unknown command"),
	    "unknown command: BAD");
	ok(has(say(&m, "a6 SELECT INBOX\r\n"), "a6 BAD Log in first"),
	    "SELECT before login: BAD");
	ok(has(say(&m, "a{7 NOOP\r\n"), " BAD "), "bad tag: BAD");
	ok(has(say(&m, "\r\n"), "BAD"), "empty line: BAD");
	ok(has(say(&m, "a8 UID NOOP\r\n"), "a8 BAD Unknown UID command"),
	    "UID with a command that has no UID form: BAD");
	ok(has(say(&m, "a9 LOGIN " USER " secret\r\n"),
	    "a9 NO [PRIVACYREQUIRED] Use STARTTLS first"),
	    "LOGIN in plaintext refused");
	ok(fake.n[IMSG_L_AUTH] == 0, "no password went to lookup in plaintext");
	ok(has(say(&m, "b1 AUTHENTICATE PLAIN\r\n"), "b1 NO "
	    "[PRIVACYREQUIRED]"), "AUTHENTICATE in plaintext refused");
	ok(has(say(&m, "b2 ENABLE CONDSTORE\r\n"), "b2 BAD Log in first"),
	    "ENABLE before login: BAD");
	/* Two commands in one write: both answered, in order. */
	r = say(&m, "c1 NOOP\r\nc2 NOOP\r\n");
	ok(strcmp(r, "c1 OK NOOP completed\r\nc2 OK NOOP completed\r\n") == 0,
	    "pipelined commands");
	/* A command in pieces is answered once it is whole. */
	ok(strcmp(say(&m, "c3 NO"), "") == 0 &&
	    strcmp(say(&m, "OP\r\n"), "c3 OK NOOP completed\r\n") == 0,
	    "command split across reads");
	r = say(&m, "z LOGOUT\r\n");
	ok(strcmp(r, "* BYE Logging out\r\nz OK Logout completed\r\n") == 0,
	    "LOGOUT: BYE, OK");
	ok(m.io == NULL && fake.gone == 1, "LOGOUT closes the connection");
	io_mem_free(&m);
}

static void
test_tls(void)
{
	struct io_mem	 m;
	const char	*r;

	connect_to(&m, L_TLS);
	r = say(&m, "t1 STARTTLS\r\n");
	ok(has(r, "t1 OK Begin TLS negotiation now\r\n") && fake.tls_refs == 1,
	    "STARTTLS: OK, context held");
	r = say(&m, "t2 CAPABILITY\r\n");
	ok(has(r, " AUTH=PLAIN") && strstr(r, "STARTTLS") == NULL,
	    "after TLS: AUTH=PLAIN, no STARTTLS");
	ok(has(say(&m, "t3 STARTTLS\r\n"), "t3 BAD TLS is already active"),
	    "STARTTLS twice: BAD");
	logout(&m);
	ok(fake.tls_refs == 0, "context given back at the end");

	/* Plaintext sent behind STARTTLS is dropped (CVE-2011-0411). */
	connect_to(&m, L_TLS);
	r = say(&m, "t1 STARTTLS\r\nt2 NOOP\r\n");
	ok(strcmp(r, "t1 OK Begin TLS negotiation now\r\n") == 0,
	    "command pipelined after STARTTLS is not run");
	logout(&m);

	connect_to(&m, 0);
	ok(has(say(&m, "t1 STARTTLS\r\n"), "t1 BAD TLS is already active or "
	    "not offered"), "STARTTLS where not offered: BAD");
	logout(&m);

	fake.no_tls = 1;
	connect_to(&m, L_TLS);
	ok(has(say(&m, "t1 STARTTLS\r\n"), "t1 NO [UNAVAILABLE]"),
	    "STARTTLS without a context: NO");
	logout(&m);
	fake.no_tls = 0;

	/* Implicit TLS: the greeting comes after the handshake. */
	memset(&m, 0, sizeof(m));
	lis.flags = L_IMAPS;
	imap_session_new(io_new_mem(&m, 0), &lis, &client, &test_env);
	ok(m.out == NULL, "imaps: nothing before the handshake");
	io_mem_run(&m);
	ok(m.out != NULL && has(m.out, "* OK [CAPABILITY ") &&
	    has(m.out, "AUTH=PLAIN"), "imaps: greeting after the handshake");
	logout(&m);
}

static void
test_login(void)
{
	struct io_mem	 m;
	const char	*r;
	int		 asked;

	connect_to(&m, L_TLS);
	(void)say(&m, "t STARTTLS\r\n");
	asked = fake.n[IMSG_L_AUTH];
	ok(strcmp(say(&m, "l1 LOGIN " USER " wrong\r\n"), "") == 0 &&
	    fake.n[IMSG_L_AUTH] == asked + 1,
	    "LOGIN: no answer before lookup's");
	ok(strcmp(fake.pass, "wrong") == 0 && strcmp(fake.table, "passwd") ==
	    0 && (fake.authflags & AUTHF_MAILDIR), "request: password, table, "
	    "Maildir wanted");
	ok(strcmp(say(&m, "l2 NOOP\r\n"), "") == 0,
	    "commands wait while the password is checked");
	r = lookup_answer(&m, AUTH_FAIL, "");
	ok(strcmp(r, "l1 NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
	    "l2 OK NOOP completed\r\n") == 0 && fake.failed == 1,
	    "LOGIN refused, then the command that waited");
	(void)say(&m, "l3 LOGIN " USER " secret\r\n");
	ok(has(lookup_answer(&m, AUTH_TEMPFAIL, ""), "l3 NO [UNAVAILABLE] "
	    "Temporary failure"), "lookup temporary failure: NO");
	fake.auth_ret = AUTH_THROTTLED;
	ok(has(say(&m, "l4 LOGIN " USER " secret\r\n"), "l4 NO [UNAVAILABLE] "
	    "Too many login attempts"), "throttled: NO at once");
	fake.auth_ret = 0;
	/* An answer for a session that is not waiting changes nothing. */
	ok(strcmp(lookup_answer(&m, AUTH_OK, HOME), "") == 0,
	    "stray lookup answer ignored");
	ok(has(say(&m, "l5 LOGIN \"" USER "\" {6+}\r\nsecret\r\n"), "") &&
	    strcmp(fake.pass, "secret") == 0, "LOGIN with a literal password");
	r = lookup_answer(&m, AUTH_OK, HOME);
	ok(has(r, "l5 OK [CAPABILITY IMAP4rev1 ") && has(r, " UIDPLUS MOVE ") &&
	    has(r, "] Logged in\r\n") && fake.ok == 1, "LOGIN accepted");
	ok(exists(HOME "/cur") && exists(HOME "/new") && exists(HOME "/tmp"),
	    "the user's Maildir is made at the first login");
	ok(exists(HOME "/.Sent/cur") && exists(HOME "/.Trash/cur"),
	    "and the special-use folders");
	ok(has(say(&m, "l6 LOGIN " USER " secret\r\n"), "l6 BAD "),
	    "LOGIN when logged in: BAD");
	ok(has(say(&m, "l7 NAMESPACE\r\n"), "* NAMESPACE ((\"\" \"/\")) NIL "
	    "NIL\r\nl7 OK"), "NAMESPACE");
	ok(has(say(&m, "l8 ENABLE CONDSTORE X-UNKNOWN\r\n"), "* ENABLED "
	    "CONDSTORE\r\nl8 OK"), "ENABLE: known ones listed");
	ok(has(say(&m, "l9 ENABLE\r\n"), "l9 BAD"), "ENABLE nothing: BAD");
	logout(&m);

	/* A Maildir refused: a symbolic link on its path. */
	connect_to(&m, L_TLS);
	(void)say(&m, "t STARTTLS\r\n");
	(void)say(&m, "l1 LOGIN mallory@example.org x\r\n");
	if (symlink("/tmp", "example.org/mallory") == -1)
		fatal("symlink");
	ok(has(lookup_answer(&m, AUTH_OK, "example.org/mallory"), "l1 NO "
	    "[UNAVAILABLE] Mailbox refused: symbolic link"),
	    "LOGIN to a Maildir behind a symbolic link: NO");
	logout(&m);
}

static void
test_authenticate(void)
{
	struct io_mem	 m;

	connect_to(&m, L_TLS);
	(void)say(&m, "t STARTTLS\r\n");
	ok(has(say(&m, "a1 AUTHENTICATE CRAM-MD5\r\n"), "a1 NO Unsupported"),
	    "unknown mechanism: NO");
	ok(strcmp(say(&m, "a2 AUTHENTICATE PLAIN\r\n"), "+ \r\n") == 0,
	    "AUTHENTICATE PLAIN: continuation");
	ok(has(say(&m, "*\r\n"), "a2 BAD Authentication cancelled"),
	    "cancelled with *");
	(void)say(&m, "a3 AUTHENTICATE PLAIN\r\n");
	ok(has(say(&m, "!!!\r\n"), "a3 BAD Invalid base64"), "bad base64: BAD");
	(void)say(&m, "a4 AUTHENTICATE PLAIN\r\n");
	(void)say(&m, "AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==\r\n");
	ok(strcmp(fake.authuser, USER) == 0 && strcmp(fake.pass, "secret") == 0,
	    "continuation line decoded");
	ok(has(lookup_answer(&m, AUTH_FAIL, ""), "a4 NO "
	    "[AUTHENTICATIONFAILED]"), "refused");
	(void)say(&m, "a5 AUTHENTICATE PLAIN "
	    "AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==\r\n");
	ok(has(lookup_answer(&m, AUTH_OK, HOME), "a5 OK [CAPABILITY "),
	    "AUTHENTICATE PLAIN with an initial response: OK");
	logout(&m);
}

static void
test_mailboxes(void)
{
	struct io_mem	 m;
	const char	*r;

	login(&m);
	ok(has(say(&m, "m1 CREATE Work\r\n"), "m1 OK [MAILBOXID (F"),
	    "CREATE (RFC 8474: with its MAILBOXID)");
	ok(exists(HOME "/.Work/cur"), "CREATE makes the Maildir++ folder");
	ok(has(say(&m, "m2 CREATE Work\r\n"), "m2 NO [ALREADYEXISTS]"),
	    "CREATE again: NO");
	ok(has(say(&m, "m3 CREATE INBOX\r\n"), "m3 NO [ALREADYEXISTS]"),
	    "CREATE INBOX: NO");
	ok(has(say(&m, "m4 CREATE Work/Old/\r\n"), "m4 OK"),
	    "CREATE of a child with a trailing separator");
	ok(has(say(&m, "m5 CREATE \"../x\"\r\n"), "m5 NO [CANNOT]"),
	    "CREATE of a name leaving the home: NO");
	ok(has(say(&m, "m6 CREATE\r\n"), "m6 BAD"), "CREATE without a name");
	r = say(&m, "l1 LIST \"\" \"*\"\r\n");
	ok(has(r, "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n") &&
	    has(r, "* LIST (\\HasChildren) \"/\" \"Work\"\r\n") &&
	    has(r, "\"/\" \"Work/Old\"\r\n") &&
	    has(r, "(\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\n") &&
	    has(r, "l1 OK LIST completed"), "LIST *");
	ok(strcmp(say(&m, "l2 LIST \"\" \"\"\r\n"), "* LIST (\\Noselect) "
	    "\"/\" \"\"\r\nl2 OK LIST completed\r\n") == 0,
	    "LIST \"\" \"\": the separator");
	r = say(&m, "l3 LIST \"\" \"%\"\r\n");
	ok(has(r, "\"Work\"\r\n") && strstr(r, "Work/Old") == NULL,
	    "LIST %%: one level");
	ok(has(say(&m, "l4 LIST (SPECIAL-USE) \"\" \"*\"\r\n"), "\\Trash"),
	    "LIST (SPECIAL-USE)");
	ok(has(say(&m, "l5 LIST \"\" \"*\" RETURN (STATUS (MESSAGES))\r\n"),
	    "* STATUS \"Work\" (MESSAGES 0)"), "LIST-STATUS");
	ok(has(say(&m, "l6 LIST (BOGUS) \"\" \"*\"\r\n"), "l6 BAD"),
	    "LIST with an unknown option: BAD");
	ok(has(say(&m, "l7 LIST\r\n"), "l7 BAD"), "LIST without arguments");
	ok(has(say(&m, "s1 SUBSCRIBE Work\r\n"), "s1 OK"), "SUBSCRIBE");
	r = say(&m, "s2 LSUB \"\" \"*\"\r\n");
	ok(has(r, "* LSUB () \"/\" \"Work\"\r\n") &&
	    has(r, "* LSUB () \"/\" \"Sent\"\r\n"),
	    "LSUB: Work and the special-use folders");
	ok(has(say(&m, "s3 LIST (SUBSCRIBED) \"\" \"W*\"\r\n"),
	    "\\Subscribed) \"/\" \"Work\""), "LIST (SUBSCRIBED)");
	ok(has(say(&m, "s4 UNSUBSCRIBE Work\r\n"), "s4 OK"), "UNSUBSCRIBE");
	ok(strstr(say(&m, "s5 LSUB \"\" \"W*\"\r\n"), "Work") == NULL,
	    "LSUB without Work");
	ok(has(say(&m, "st1 STATUS Work (MESSAGES UIDNEXT UNSEEN)\r\n"),
	    "* STATUS \"Work\" (MESSAGES 0 UIDNEXT 1 UNSEEN 0)\r\nst1 OK"),
	    "STATUS");
	ok(has(say(&m, "st2 STATUS Nope (MESSAGES)\r\n"), "st2 NO "
	    "[NONEXISTENT]"), "STATUS of no mailbox: NO");
	ok(has(say(&m, "st3 STATUS Work (BOGUS)\r\n"), "st3 BAD"),
	    "STATUS with a bad item: BAD");
	ok(has(say(&m, "r1 RENAME Work Play\r\n"), "r1 OK Rename completed"),
	    "RENAME");
	ok(exists(HOME "/.Play/cur") && exists(HOME "/.Play.Old/cur") &&
	    !exists(HOME "/.Work"), "RENAME moves the children too");
	ok(has(say(&m, "r2 RENAME Nope Other\r\n"), "r2 NO [NONEXISTENT]"),
	    "RENAME of no mailbox: NO");
	ok(has(say(&m, "r3 RENAME Play Play/In\r\n"), "r3 NO [CANNOT]"),
	    "RENAME into itself: NO");
	ok(has(say(&m, "r4 RENAME Play Sent\r\n"), "r4 NO [ALREADYEXISTS]"),
	    "RENAME onto an existing mailbox: NO");
	ok(has(say(&m, "d1 DELETE Play/Old\r\n"), "d1 OK Delete completed") &&
	    !exists(HOME "/.Play.Old"), "DELETE");
	ok(has(say(&m, "d2 DELETE INBOX\r\n"), "d2 NO [CANNOT]"),
	    "DELETE INBOX: NO");
	ok(has(say(&m, "d3 DELETE Nope\r\n"), "d3 NO [NONEXISTENT]"),
	    "DELETE of no mailbox: NO");
	ok(has(say(&m, "x1 SELECT Nope\r\n"), "x1 NO [NONEXISTENT]"),
	    "SELECT of no mailbox: NO");
	r = say(&m, "x2 EXAMINE Play\r\n");
	ok(has(r, "* 0 EXISTS\r\n") && has(r, "* OK [UIDVALIDITY ") &&
	    has(r, "* OK [PERMANENTFLAGS ()]") &&
	    has(r, "x2 OK [READ-ONLY] EXAMINE completed"), "EXAMINE");
	ok(has(say(&m, "x3 CLOSE\r\n"), "x3 OK CLOSE completed"), "CLOSE");
	ok(has(say(&m, "x4 CLOSE\r\n"), "x4 BAD No mailbox selected"),
	    "CLOSE when none is selected: BAD");
	ok(has(say(&m, "x5 SELECT Play (BOGUS)\r\n"), "x5 BAD"),
	    "SELECT with a bad parameter: BAD");
	ok(has(say(&m, "x6 DELETE Play\r\n"), "x6 OK"), "DELETE Play");
	logout(&m);
}

static void
test_append(void)
{
	struct io_mem	 m;
	const char	*r;
	char		 cmd[128];

	login(&m);
	append(&m, "INBOX", "(\\Seen) ", first_eml, first_len);
	/* LITERAL+: no continuation. */
	snprintf(cmd, sizeof(cmd), "ap2 APPEND INBOX (\\Flagged $Work) "
	    "\"07-Dec-2026 10:00:00 +0100\" {%zu+}\r\n", second_len);
	ok(strcmp(say(&m, cmd), "") == 0, "APPEND LITERAL+: no continuation");
	(void)say_n(&m, second_eml, second_len);
	ok(has(say(&m, "\r\n"), "ap2 OK [APPENDUID "), "APPEND LITERAL+: OK");
	append(&m, "INBOX", "", first_eml, first_len);
	ok(has(say(&m, "ap3 APPEND Nope {3+}\r\nabc\r\n"),
	    "ap3 NO [TRYCREATE]"), "APPEND to no mailbox: NO [TRYCREATE]");
	ok(has(say(&m, "ap4 APPEND INBOX (\\Bogus) {3+}\r\nabc\r\n"),
	    "ap4 BAD Invalid flags"), "APPEND with a bad flag: BAD");
	ok(has(say(&m, "ap5 APPEND INBOX \"31-Foo-2026 10:00:00 +0100\" "
	    "{3+}\r\nabc\r\n"), "ap5 BAD Invalid date-time"),
	    "APPEND with a bad date: BAD");
	ok(has(say(&m, "ap6 APPEND INBOX {0+}\r\n\r\n"), "ap6 NO Empty"),
	    "APPEND of nothing: NO");
	ok(has(say(&m, "ap7 APPEND INBOX\r\n"), "ap7 BAD"),
	    "APPEND without a message: BAD");
	snprintf(cmd, sizeof(cmd), "ap8 APPEND INBOX {%zu}\r\n",
	    conf->max_msg_size + 1);
	ok(has(say(&m, cmd), "ap8 NO [TOOBIG]"),
	    "APPEND over the limit: NO [TOOBIG], no continuation");
	r = say(&m, "s1 STATUS INBOX (MESSAGES UNSEEN UIDNEXT)\r\n");
	ok(has(r, "* STATUS \"INBOX\" (MESSAGES 3 UIDNEXT 4 UNSEEN 2)"),
	    "STATUS counts the appended messages");
	logout(&m);
}

static void
test_messages(void)
{
	struct io_mem	 m;
	const char	*r;

	login(&m);
	r = say(&m, "s SELECT INBOX\r\n");
	ok(has(r, "* 3 EXISTS\r\n") && has(r, "* OK [UNSEEN 2]") &&
	    has(r, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft "
	    "$Work)") && has(r, "* OK [UIDNEXT 4]") &&
	    has(r, "s OK [READ-WRITE] SELECT completed"), "SELECT INBOX");
	/* The first session to select the new messages has them \Recent. */
	ok(has(r, "* 3 RECENT\r\n"), "SELECT: 3 RECENT");
	ok(strcmp(say(&m, "f1 FETCH 1 (FLAGS)\r\n"), "* 1 FETCH (FLAGS "
	    "(\\Seen \\Recent))\r\nf1 OK Fetch completed\r\n") == 0,
	    "FETCH FLAGS");
	r = say(&m, "f2 FETCH 1:* (UID RFC822.SIZE)\r\n");
	ok(has(r, "* 1 FETCH (UID 1 RFC822.SIZE 84)\r\n") &&
	    has(r, "* 2 FETCH (UID 2 RFC822.SIZE 92)\r\n") &&
	    has(r, "* 3 FETCH (UID 3 RFC822.SIZE 84)\r\n"),
	    "FETCH 1:* UID RFC822.SIZE");
	r = say(&m, "f3 FETCH 2 BODY.PEEK[HEADER.FIELDS (SUBJECT)]\r\n");
	ok(has(r, "* 2 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {19}\r\n"
	    "Subject: second\r\n\r\n)"), "FETCH a header field");
	r = say(&m, "f4 FETCH 3 BODY[TEXT]\r\n");
	ok(has(r, "BODY[TEXT] {14}\r\nHello Alice.\r\n") &&
	    has(r, "FLAGS (\\Seen \\Recent)"), "FETCH BODY[TEXT] sets \\Seen");
	ok(has(say(&m, "f5 UID FETCH 2 (FLAGS)\r\n"), "* 2 FETCH (UID 2 FLAGS "
	    "(\\Flagged \\Recent $Work))"), "UID FETCH");
	ok(has(say(&m, "f6 UID FETCH 9:10 (FLAGS)\r\n"), "f6 OK"),
	    "UID FETCH of no message: OK, nothing");
	ok(has(say(&m, "f7 FETCH 9 (FLAGS)\r\n"), "f7 BAD Invalid message "
	    "sequence number"), "FETCH beyond EXISTS: BAD");
	ok(has(say(&m, "f8 FETCH 1 (BOGUS)\r\n"), "f8 BAD"),
	    "FETCH of an unknown item: BAD");
	ok(has(say(&m, "f9 FETCH x (FLAGS)\r\n"), "f9 BAD"),
	    "FETCH with a bad set: BAD");
	ok(has(say(&m, "f10 FETCH 1 ENVELOPE\r\n"), "ENVELOPE (NIL \"first\" "),
	    "FETCH ENVELOPE");
	ok(has(say(&m, "f11 FETCH 1 BODYSTRUCTURE\r\n"), "BODYSTRUCTURE "
	    "(\"text\" \"plain\""), "FETCH BODYSTRUCTURE");
	ok(has(say(&m, "st0 STORE\r\n"), "st0 BAD STORE takes") && m.io !=
	    NULL, "STORE without arguments: BAD (it took the imap process "
	    "down: found by the imap_session fuzz target)");
	ok(strcmp(say(&m, "st1 STORE 1 +FLAGS (\\Answered)\r\n"), "* 1 FETCH "
	    "(FLAGS (\\Seen \\Answered \\Recent))\r\nst1 OK Store completed"
	    "\r\n") == 0, "STORE +FLAGS");
	ok(strcmp(say(&m, "st2 STORE 1 -FLAGS.SILENT (\\Answered)\r\n"),
	    "st2 OK Store completed\r\n") == 0, "STORE -FLAGS.SILENT");
	ok(has(say(&m, "st3 UID STORE 2 FLAGS (\\Seen foo)\r\n"), "* 2 FETCH "
	    "(FLAGS (\\Seen \\Recent foo) UID 2)"),
	    "UID STORE FLAGS with a keyword");
	ok(has(say(&m, "st4 STORE 1 +FLAGS (\\Recent)\r\n"), "st4 OK"),
	    "STORE \\Recent: ignored");
	ok(has(say(&m, "st5 STORE 1 +FLAGS (\\Bogus)\r\n"), "st5 BAD"),
	    "STORE of an unknown system flag: BAD");
	ok(has(say(&m, "st6 STORE 1 TAGS (x)\r\n"), "st6 BAD Unknown STORE "
	    "item"), "STORE of an unknown item: BAD");
	ok(has(say(&m, "st7 STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\\Draft)\r\n"),
	    "st7 OK [MODIFIED 1]"), "STORE UNCHANGEDSINCE: MODIFIED");
	ok(strcmp(say(&m, "se1 SEARCH UNSEEN\r\n"), "* SEARCH\r\nse1 OK "
	    "Search completed\r\n") == 0, "SEARCH UNSEEN: none");
	ok(has(say(&m, "se2 SEARCH SUBJECT second\r\n"), "* SEARCH 2\r\n"),
	    "SEARCH SUBJECT");
	ok(has(say(&m, "se3 UID SEARCH KEYWORD foo\r\n"), "* SEARCH 2\r\n"),
	    "UID SEARCH KEYWORD");
	ok(has(say(&m, "se4 SEARCH BODY alice\r\n"), "* SEARCH 1 3\r\n"),
	    "SEARCH BODY");
	ok(has(say(&m, "se5 SEARCH RETURN (MIN MAX COUNT) ALL\r\n"),
	    "* ESEARCH (TAG \"se5\") MIN 1 MAX 3 COUNT 3\r\n"), "ESEARCH");
	ok(has(say(&m, "se6 SEARCH BOGUS\r\n"), "se6 BAD"),
	    "SEARCH with an unknown key: BAD");
	ok(has(say(&m, "se7 SEARCH CHARSET KOI8-R ALL\r\n"), "se7 NO "
	    "[BADCHARSET"), "SEARCH with an unknown charset: NO");
	ok(has(say(&m, "n1 CHECK\r\n"), "n1 OK CHECK completed"), "CHECK");
	ok(has(say(&m, "u1 UNSELECT\r\n"), "u1 OK UNSELECT completed"),
	    "UNSELECT");
	ok(has(say(&m, "u2 FETCH 1 FLAGS\r\n"), "u2 BAD No mailbox selected"),
	    "FETCH after UNSELECT: BAD");
	/* Read-only: no flag may change. */
	(void)say(&m, "e EXAMINE INBOX\r\n");
	ok(has(say(&m, "e1 STORE 1 +FLAGS (\\Deleted)\r\n"), "e1 NO "
	    "[READ-ONLY]"), "STORE in EXAMINE: NO");
	ok(has(say(&m, "e2 EXPUNGE\r\n"), "e2 NO [READ-ONLY]"),
	    "EXPUNGE in EXAMINE: NO");
	ok(has(say(&m, "e3 UID MOVE 1 Trash\r\n"), "e3 NO [READ-ONLY]"),
	    "MOVE in EXAMINE: NO");
	logout(&m);
}

static void
test_copy_move_expunge(void)
{
	struct io_mem	 m;
	const char	*r;

	login(&m);
	(void)say(&m, "s SELECT INBOX\r\n");
	ok(has(say(&m, "c1 COPY 1 Keep\r\n"), "c1 NO [TRYCREATE]"),
	    "COPY to no mailbox: NO [TRYCREATE]");
	(void)say(&m, "c2 CREATE Keep\r\n");
	ok(has(say(&m, "c3 COPY 1:2 Keep\r\n"), "c3 OK [COPYUID "),
	    "COPY: COPYUID");
	ok(has(say(&m, "c4 COPY 1 Keep Extra\r\n"), "c4 BAD"),
	    "COPY with too many arguments: BAD");
	r = say(&m, "mv1 UID MOVE 3 Keep\r\n");
	ok(has(r, "* OK [COPYUID ") && has(r, "* 3 EXPUNGE\r\n") &&
	    has(r, "mv1 OK Move completed"), "UID MOVE: COPYUID, EXPUNGE");
	ok(has(say(&m, "st STATUS Keep (MESSAGES)\r\n"), "(MESSAGES 3)"),
	    "the copies and the moved message are in Keep");
	(void)say(&m, "d1 STORE 1 +FLAGS.SILENT (\\Deleted)\r\n");
	(void)say(&m, "d2 STORE 2 +FLAGS.SILENT (\\Deleted)\r\n");
	/* UID EXPUNGE: only the UIDs given. */
	r = say(&m, "x1 UID EXPUNGE 2\r\n");
	ok(strcmp(r, "* 2 EXPUNGE\r\nx1 OK Expunge completed\r\n") == 0,
	    "UID EXPUNGE of one deleted message");
	ok(has(say(&m, "x2 EXPUNGE 1\r\n"), "x2 BAD"),
	    "EXPUNGE with an argument: BAD");
	r = say(&m, "x3 EXPUNGE\r\n");
	ok(strcmp(r, "* 1 EXPUNGE\r\nx3 OK Expunge completed\r\n") == 0,
	    "EXPUNGE of the rest");
	ok(has(say(&m, "sel SELECT Keep\r\n"), "* 3 EXISTS"),
	    "Keep holds three");
	/* CLOSE expunges \Deleted silently. */
	(void)say(&m, "d3 STORE 1 +FLAGS.SILENT (\\Deleted)\r\n");
	ok(strcmp(say(&m, "cl CLOSE\r\n"), "cl OK CLOSE completed\r\n") == 0,
	    "CLOSE: no EXPUNGE response");
	ok(has(say(&m, "st2 STATUS Keep (MESSAGES)\r\n"), "(MESSAGES 2)"),
	    "CLOSE expunged");
	logout(&m);
}

static void
test_idle(void)
{
	struct io_mem	 a, b;
	const char	*r;
	char		 path[PATH_MAX];
	int		 fd;

	login(&a);
	login(&b);
	(void)say(&a, "s SELECT INBOX\r\n");
	ok(has(say(&a, "i1 IDLE\r\n"), "+ idling\r\n"), "IDLE: continuation");
	append(&b, "INBOX", "", first_eml, first_len);
	io_mem_run(&a);
	ok(a.out != NULL && strcmp(a.out, "+ idling\r\n* 1 EXISTS\r\n"
	    "* 1 RECENT\r\n") == 0,
	    "IDLE hears of another session's APPEND at once");
	ok(strcmp(say(&a, "DONE\r\n"), "i1 OK Idle completed\r\n") == 0,
	    "DONE ends IDLE");
	(void)say(&a, "i2 IDLE\r\n");
	/* A delivery: a file in new/, and deliver's notice. */
	snprintf(path, sizeof(path), HOME "/new/1.M1P1.test");
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1 ||
	    write(fd, second_eml, second_len) != (ssize_t)second_len)
		fatal("%s", path);
	close(fd);
	a.outlen = 0;
	imap_session_newmail("example.org/nobody");
	ok(a.outlen == 0, "new mail elsewhere: nothing");
	imap_session_newmail(HOME);
	io_mem_run(&a);
	ok(a.out != NULL && strcmp(a.out, "* 2 EXISTS\r\n* 2 RECENT\r\n") ==
	    0, "IDLE hears of a delivery");
	ok(has(say(&a, "done\r\n"), "i2 OK Idle completed"),
	    "done in lower case");
	(void)say(&a, "i3 IDLE\r\n");
	ok(has(say(&a, "NOOP\r\n"), "i3 BAD Expected DONE"),
	    "anything but DONE: BAD");
	(void)say(&b, "s SELECT INBOX\r\n");
	(void)say(&b, "st STORE 1 +FLAGS.SILENT (\\Seen)\r\n");
	(void)say(&b, "x STORE 2 +FLAGS.SILENT (\\Deleted)\r\n");
	(void)say(&a, "i4 IDLE\r\n");
	r = say(&b, "e EXPUNGE\r\n");
	ok(has(r, "* 2 EXPUNGE"), "the other session expunges");
	io_mem_run(&a);
	ok(a.out != NULL && has(a.out, "* 1 FETCH (FLAGS (\\Seen \\Recent))"
	    "\r\n") && has(a.out, "* 2 EXPUNGE\r\n"),
	    "IDLE hears of flags and expunges");
	(void)say(&a, "DONE\r\n");
	/* Without IDLE, an expunge waits for a command that may tell it. */
	(void)say(&b, "x2 STORE 1 +FLAGS.SILENT (\\Deleted)\r\n");
	(void)say(&b, "e2 EXPUNGE\r\n");
	io_mem_run(&a);
	ok(a.outlen == 0 || strstr(a.out, "EXPUNGE") == NULL,
	    "not in IDLE: nothing told at once");
	r = say(&a, "f FETCH 1 (FLAGS)\r\n");
	ok(strcmp(r, "f OK Fetch completed\r\n") == 0, "FETCH of a message "
	    "gone meanwhile: no data, no EXPUNGE");
	ok(strcmp(say(&a, "n NOOP\r\n"), "* 1 EXPUNGE\r\nn OK NOOP "
	    "completed\r\n") == 0, "NOOP tells the EXPUNGE");
	logout(&b);
	logout(&a);
}

/* CONDSTORE and QRESYNC: MODSEQs, CHANGEDSINCE, VANISHED. */
static void
test_condstore(void)
{
	struct io_mem		 m;
	const char		*r, *p;
	char			 cmd[128];
	unsigned int		 uv = 0;
	unsigned long long	 hms = 0;

	login(&m);
	(void)say(&m, "c CREATE Q\r\n");
	append(&m, "Q", "", first_eml, first_len);
	append(&m, "Q", "", second_eml, second_len);
	append(&m, "Q", "", first_eml, first_len);
	r = say(&m, "s SELECT Q (CONDSTORE)\r\n");
	ok((p = strstr(r, "[UIDVALIDITY ")) != NULL &&
	    sscanf(p, "[UIDVALIDITY %u]", &uv) == 1 &&
	    (p = strstr(r, "[HIGHESTMODSEQ ")) != NULL &&
	    sscanf(p, "[HIGHESTMODSEQ %llu]", &hms) == 1 && hms > 0,
	    "SELECT (CONDSTORE): UIDVALIDITY, HIGHESTMODSEQ");
	snprintf(cmd, sizeof(cmd), " MODSEQ (%llu))\r\n", hms + 1);
	ok(has(say(&m, "st1 STORE 1 +FLAGS (\\Seen)\r\n"), cmd),
	    "STORE under CONDSTORE: the new MODSEQ");
	snprintf(cmd, sizeof(cmd), "f1 FETCH 1:* (FLAGS) (CHANGEDSINCE %llu)"
	    "\r\n", hms);
	r = say(&m, cmd);
	ok(has(r, "* 1 FETCH (MODSEQ (") &&
	    has(r, " FLAGS (\\Seen \\Recent))\r\n") &&
	    strstr(r, "* 2 FETCH") == NULL, "FETCH CHANGEDSINCE: the changed "
	    "one only");
	ok(has(say(&m, "se SEARCH MODSEQ 1\r\n"), "* SEARCH 1 2 3 (MODSEQ "),
	    "SEARCH MODSEQ");
	(void)say(&m, "st2 STORE 3 +FLAGS.SILENT (\\Deleted)\r\n");
	(void)say(&m, "x EXPUNGE\r\n");
	(void)say(&m, "u UNSELECT\r\n");
	ok(has(say(&m, "e ENABLE QRESYNC\r\n"), "* ENABLED QRESYNC\r\n"),
	    "ENABLE QRESYNC");
	snprintf(cmd, sizeof(cmd), "q SELECT Q (QRESYNC (%u %llu))\r\n", uv,
	    hms);
	r = say(&m, cmd);
	ok(has(r, "* VANISHED (EARLIER) 3\r\n") &&
	    has(r, "* 1 FETCH (FLAGS (\\Seen) UID 1 MODSEQ (") &&
	    strstr(r, "* 2 FETCH") == NULL && has(r, "q OK [READ-WRITE]"),
	    "SELECT (QRESYNC): what vanished, what changed");
	snprintf(cmd, sizeof(cmd), "q2 SELECT Q (QRESYNC (%u %llu))\r\n",
	    uv + 1, hms);
	r = say(&m, cmd);
	ok(has(r, "* OK [CLOSED]") && strstr(r, "VANISHED") == NULL,
	    "QRESYNC with another UIDVALIDITY: no VANISHED");
	snprintf(cmd, sizeof(cmd),
	    "f2 UID FETCH 1:* (FLAGS) (CHANGEDSINCE %llu VANISHED)\r\n", hms);
	ok(has(say(&m, cmd), "* VANISHED (EARLIER) 3\r\n"),
	    "UID FETCH (CHANGEDSINCE VANISHED)");
	(void)say(&m, "st3 STORE 2 +FLAGS.SILENT (\\Deleted)\r\n");
	ok(strcmp(say(&m, "x2 EXPUNGE\r\n"), "* VANISHED 2\r\nx2 OK Expunge "
	    "completed\r\n") == 0, "EXPUNGE under QRESYNC: VANISHED");
	ok(has(say(&m, "c2 UID COPY 1 Q\r\n"), "c2 OK [COPYUID "),
	    "UID COPY into the selected mailbox");
	logout(&m);
}

/* FETCH output bigger than one pass: the rest as the client reads. */
static void
test_big_fetch(void)
{
	struct io_mem	 m;
	const char	*r, *p;
	char		*big, lit[64];
	size_t		 i, len = 300 * 1024;

	if ((big = malloc(len)) == NULL)
		fatal("malloc");
	memcpy(big, "Subject: big\r\n\r\n", 16);
	for (i = 16; i + 78 <= len; i += 78) {
		memset(big + i, 'x', 76);
		memcpy(big + i + 76, "\r\n", 2);
	}
	len = i;
	login(&m);
	(void)say(&m, "c CREATE Big\r\n");
	append(&m, "Big", "", big, len);
	append(&m, "Big", "", big, len);
	(void)say(&m, "s SELECT Big\r\n");
	r = say(&m, "f FETCH 1:2 BODY.PEEK[]\r\n");
	snprintf(lit, sizeof(lit), "BODY[] {%zu}\r\n", len);
	ok((p = strstr(r, "* 1 FETCH (")) != NULL && strstr(p, lit) != NULL &&
	    (p = strstr(p + len, "* 2 FETCH (")) != NULL &&
	    strstr(p, lit) != NULL && (p = strstr(p + len, "f OK Fetch "
	    "completed\r\n")) != NULL && p[22] == '\0',
	    "FETCH over several passes: both messages, then OK");
	ok(m.outlen > 2 * len, "all of it");
	free(big);
	logout(&m);
}

static void
test_bad_input(void)
{
	struct io_mem	 m;
	char		*big;
	int		 i, gone;

	/* Lines over the limits before login: the parser's, the io's. */
	connect_to(&m, L_TLS);
	if ((big = malloc(70000)) == NULL)
		fatal("malloc");
	memset(big, 'a', 70000);
	memcpy(big, "b1 LOGIN ", 9);
	say_n(&m, big, 20000);
	ok(has(say(&m, "\r\nb2 NOOP\r\n"), "b1 BAD ") &&
	    has(m.out, "b2 OK NOOP completed\r\n"),
	    "a line over the limit before login: BAD, then the next command");
	say_n(&m, big, 70000);
	ok(has(m.out, "* BAD Command line too long"),
	    "a line over the buffer: BAD at once");
	ok(strcmp(say(&m, "\r\nb2 NOOP\r\n"), "b2 OK NOOP completed\r\n") == 0,
	    "the rest of the long line is skipped, the next command runs");
	free(big);
	ok(has(say(&m, "b3 LOGIN {100000}\r\n"), "b3 BAD"),
	    "a big literal before login: BAD");
	/* Errors in a row: BYE. */
	(void)say(&m, "n NOOP\r\n");
	for (i = 0; i < 20; i++)
		(void)say(&m, "e FROB\r\n");
	ok(has(say(&m, "e FROB\r\n"), "* BYE Too many errors") &&
	    m.io == NULL, "too many errors: BYE, closed");
	io_mem_free(&m);

	/* Idle for too long. */
	connect_to(&m, L_TLS);
	m.outlen = 0;
	io_mem_timeout(&m);
	ok(has(m.out, "* BYE Autologout") && m.io == NULL,
	    "timeout: BYE, closed");
	io_mem_free(&m);

	/* The client goes away in the middle of a literal. */
	login(&m);
	gone = fake.gone;
	(void)say(&m, "a APPEND INBOX {100}\r\nabc");
	io_mem_close(&m);
	ok(m.io == NULL && fake.gone == gone + 1,
	    "disconnect in a literal: session ended");
	io_mem_free(&m);

	/* A NUL in a user name. */
	connect_to(&m, L_TLS);
	(void)say(&m, "t STARTTLS\r\n");
	ok(has(say_n(&m, "n LOGIN {3+}\r\na\0b x\r\n", 21), "n BAD NUL"),
	    "NUL in a user name: BAD");
	logout(&m);

	/* A mailbox deleted under a session that has it selected. */
	login(&m);
	(void)say(&m, "c CREATE Gone\r\n");
	(void)say(&m, "s SELECT Gone\r\n");
	{
		struct io_mem	 o;

		login(&o);
		ok(has(say(&o, "d DELETE Gone\r\n"), "d OK"),
		    "another session deletes the selected mailbox");
		logout(&o);
	}
	ok(has(say(&m, "n NOOP\r\n"), "* BYE Selected mailbox was deleted") &&
	    m.io == NULL, "the session that had it selected: BYE");
	io_mem_free(&m);
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
count_files(const char *path)
{
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/*
 * MULTIAPPEND, CATENATE and REPLACE in memory: UID sets, an early
 * TRYCREATE, the literals of a refused command skipped, not run, and
 * nothing left in tmp/.
 */
static void
test_multiappend(void)
{
	static const char	 m1[] = "m1 APPEND Multi {3+}\r\nab\n "
	    "(\\Seen) {4+}\r\ncde\n ~{3+}\r\nf\0\n\r\n";
	struct io_mem		 m;
	const char		*r;

	login(&m);
	ok(has(say(&m, "c CAPABILITY\r\n"), " MULTIAPPEND CATENATE BINARY "
	    "REPLACE "), "CAPABILITY has MULTIAPPEND CATENATE BINARY REPLACE");
	ok(has(say(&m, "c CREATE Multi\r\n"), "c OK"), "CREATE Multi");
	ok(has(say_n(&m, m1, sizeof(m1) - 1), " 1:3] Append"),
	    "MULTIAPPEND of three, one a literal8: OK [APPENDUID v 1:3]");
	r = say(&m, "s STATUS Multi (MESSAGES UIDNEXT)\r\n");
	ok(has(r, "(MESSAGES 3 UIDNEXT 4)"), "... all three there");
	ok(has(say(&m, "m2 APPEND Multi {3}\r\n"), "+ Ready"),
	    "sync literal: continuation");
	ok(has(say(&m, "abc {5}\r\n"), "+ Ready"), "... and for the second");
	ok(has(say(&m, "de\nf\n\r\n"), " 4:5] Append"),
	    "... APPENDUID v 4:5");
	ok(has(say(&m, "m3 APPEND Nope {10}\r\n"), "m3 NO [TRYCREATE]"),
	    "no such mailbox: NO [TRYCREATE] instead of a continuation");
	ok(has(say(&m, "m4 APPEND Nope {10+}\r\n0123456789 {9+}\r\n"
	    "z LOGOUT\n\r\nn NOOP\r\n"), "m4 NO [TRYCREATE]") &&
	    m.io != NULL, "... with LITERAL+: its literals skipped, not run");
	ok(has(say(&m, "m5 APPEND Multi {2+}\r\nab {0+}\r\n\r\n"),
	    "m5 NO Empty"), "a zero-length literal cancels the command");
	ok(has(say(&m, "m6 APPEND Multi CATENATE (URL \"/Multi/;UID=2\" "
	    "TEXT {3+}\r\nxyz URL \"/Multi/;UID=1/;PARTIAL=0.1\")\r\n"),
	    " 6] Append"), "CATENATE: OK");
	ok(has(say(&m, "m8 APPEND Multi CATENATE (URL \"/Multi;UIDVALIDITY=1/"
	    ";UID=1\")\r\n"), "m8 NO [BADURL /Multi;UIDVALIDITY=1/;UID=1] "),
	    "another UIDVALIDITY: BADURL");
	ok(has(say(&m, "m7 APPEND Multi CATENATE (URL \"/Multi/;UID=99\")"
	    "\r\n"), "m7 NO [BADURL /Multi/;UID=99]"), "a missing UID: BADURL");
	r = say(&m, "s STATUS Multi (MESSAGES UIDNEXT)\r\n");
	ok(has(r, "(MESSAGES 6 UIDNEXT 7)"), "... six in all");
	ok(has(say(&m, "e SELECT Multi\r\n"), "e OK"), "SELECT Multi");
	ok(has(say(&m, "f FETCH 6 BODY.PEEK[]\r\n"), "BODY[] {9}\r\n"
	    "cde\r\nxyza"), "the catenated message");
	r = say(&m, "r1 REPLACE 1 Multi {3+}\r\nnew\r\n");
	ok(has(r, " 7] Replacement") && has(r, "* 7 EXISTS\r\n"
	    "* 7 RECENT\r\n* 1 EXPUNGE\r\nr1 OK Replace completed"),
	    "REPLACE: APPENDUID, EXISTS, EXPUNGE");
	ok(has(say(&m, "r2 UID REPLACE 1 Multi {3+}\r\nnew\r\n"),
	    "r2 NO No such message"), "UID REPLACE of an expunged UID: NO");
	ok(has(say(&m, "r3 REPLACE 9 Multi {3+}\r\nnew\r\n"), "r3 BAD"),
	    "REPLACE past the last message: BAD");
	is_int(count_files(HOME "/tmp"), 0, "nothing left in INBOX's tmp/");
	is_int(count_files(HOME "/.Multi/tmp"), 0, "nor in Multi's");
	ok(has(say(&m, "d CLOSE\r\n"), "d OK"), "CLOSE");
	ok(has(say(&m, "x DELETE Multi\r\n"), "x OK"), "DELETE Multi");
	logout(&m);
}

/* QUOTA (RFC 9208): advertised with a quota statement only. */
static void
test_quota(void)
{
	struct io_mem	 m;
	const char	*r;

	login(&m);
	r = say(&m, "q1 CAPABILITY\r\n");
	ok(has(r, "q1 OK") && strstr(r, "QUOTA") == NULL,
	    "no quota statement: no QUOTA capability");
	ok(has(say(&m, "q2 GETQUOTAROOT INBOX\r\n"), "* QUOTAROOT \"INBOX\"\r\n"
	    "q2 OK"), "... GETQUOTAROOT INBOX: no root");
	ok(has(say(&m, "q3 GETQUOTA \"User quota\"\r\n"), "q3 NO "
	    "[NONEXISTENT]"), "... GETQUOTA: NO");
	conf->quota = 1;
	conf->quota_messages = 1000;
	ok(has(say(&m, "q4 CAPABILITY\r\n"), " QUOTA QUOTA=RES-STORAGE "
	    "QUOTA=RES-MESSAGE "), "quotas: QUOTA, QUOTA=RES-STORAGE, "
	    "QUOTA=RES-MESSAGE");
	r = say(&m, "q5 GETQUOTAROOT INBOX\r\n");
	ok(has(r, "* QUOTAROOT \"INBOX\" \"User quota\"\r\n* QUOTA \"User "
	    "quota\" (MESSAGE ") && has(r, " 1000)\r\nq5 OK"),
	    "GETQUOTAROOT INBOX: the root, only the limited resource");
	ok(has(say(&m, "q6 SETQUOTA \"User quota\" (MESSAGE 5)\r\n"),
	    "q6 NO [NOPERM]"), "SETQUOTA: NO [NOPERM]");
	ok(has(say(&m, "q7 SETQUOTA \"User quota\" (MESSAGE)\r\n"),
	    "q7 BAD"), "SETQUOTA with a resource and no limit: BAD");
	conf->quota_messages = 1;
	ok(has(say(&m, "q8 APPEND INBOX {3+}\r\nabc\r\n"),
	    "q8 NO [OVERQUOTA]"), "APPEND over the message limit: NO "
	    "[OVERQUOTA]");
	ok(has(say(&m, "q9 STATUS INBOX (DELETED DELETED-STORAGE)\r\n"),
	    "* STATUS \"INBOX\" (DELETED "), "STATUS DELETED-STORAGE");
	conf->quota = 0;
	conf->quota_messages = 0;
	logout(&m);
}

int
main(void)
{
	struct event_base	*base;
	char			 root[] = "/tmp/test_imap_session.XXXXXX";
	char			 top[PATH_MAX];

	log_init(1, 0);
	base = event_init();
	fixture(DATA "first.eml", first_eml, sizeof(first_eml), &first_len);
	fixture(DATA "second.eml", second_eml, sizeof(second_eml),
	    &second_len);
	fake_setup(&lis, PROTO_IMAP, 143, &client);
	if (getcwd(top, sizeof(top)) == NULL || mkdtemp(root) == NULL ||
	    chdir(root) == -1 || mkdir("example.org", 0700) == -1)
		fatal("%s", root);
	fake_init(PROC_IMAP);
	fake.check = ok;
	test_env = fake_env;
	test_env.tls_put = tls_put_checked;

	test_preauth();
	test_tls();
	test_login();
	test_authenticate();
	test_mailboxes();
	test_append();
	test_messages();
	test_copy_move_expunge();
	test_idle();
	test_condstore();
	test_big_fetch();
	test_bad_input();
	test_multiappend();
	test_quota();
	ok(fake.sent == 0, "no other IPC asked for");
	ok(fake.tls_refs == 0, "every TLS context given back");

	if (chdir(top) == -1)
		fatal("chdir");
	(void)nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	config_free(conf);
	event_base_free(base);
	return done_testing();
}
