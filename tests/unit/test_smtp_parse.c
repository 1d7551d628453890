/*
 * Unit tests for smtp_parse.c: verbs, MAIL FROM with its parameters,
 * RCPT TO and the HELO argument.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "maild.h"
#include "smtp_parse.h"
#include "tap.h"

static void	test_verb(void);
static void	test_mail(void);
static void	test_rcpt(void);
static void	test_helo(void);
static int	mail(const char *, int);
static int	rcpt(const char *, int);

static struct mailaddr		a;
static struct mail_params	mp;
static char			err[256];

static int
mail(const char *arg, int flags)
{
	err[0] = '\0';
	memset(&a, 0x55, sizeof(a));
	a.user[0] = a.domain[0] = '\0';
	return smtp_parse_mail(arg, &a, &mp, flags, err, sizeof(err));
}

static int
rcpt(const char *arg, int flags)
{
	err[0] = '\0';
	memset(&a, 0, sizeof(a));
	return smtp_parse_rcpt(arg, &a, flags, err, sizeof(err));
}

static void
test_verb(void)
{
	static const struct {
		const char	*line;
		enum smtp_verb	 verb;
		const char	*arg;
	} t[] = {
		{ "HELO x", CMD_HELO, "x" },
		{ "ehlo mail.example.org", CMD_EHLO, "mail.example.org" },
		{ "StartTLS", CMD_STARTTLS, "" },
		{ "AUTH PLAIN AGFiAGM=", CMD_AUTH, "PLAIN AGFiAGM=" },
		{ "MAIL FROM:<a@b>", CMD_MAIL, "FROM:<a@b>" },
		{ "rcpt   TO:<a@b>", CMD_RCPT, "TO:<a@b>" },
		{ "DATA", CMD_DATA, "" },
		{ "RSET", CMD_RSET, "" },
		{ "NOOP hello", CMD_NOOP, "hello" },
		{ "QUIT", CMD_QUIT, "" },
		{ "HELP", CMD_HELP, "" },
		{ "VRFY root", CMD_VRFY, "root" },
		{ "EXPN list", CMD_EXPN, "list" },
		{ "BDAT 100 LAST", CMD_BDAT, "100 LAST" },
		{ "DATA ", CMD_DATA, "" },
		{ "MAILX FROM:<a@b>", CMD_UNKNOWN, NULL },
		{ "MAI", CMD_UNKNOWN, NULL },
		{ "", CMD_UNKNOWN, NULL },
		{ " MAIL FROM:<a@b>", CMD_UNKNOWN, NULL },
		{ "MAIL\tFROM:<a@b>", CMD_UNKNOWN, NULL },
		{ "GET / HTTP/1.0", CMD_UNKNOWN, NULL },
	};
	const char	*arg;
	size_t		 i;

	for (i = 0; i < nitems(t); i++) {
		arg = NULL;
		is_int(smtp_parse_verb(t[i].line, &arg), t[i].verb,
		    t[i].line);
		if (t[i].arg != NULL)
			is_str(arg, t[i].arg, "argument");
	}
	ok(smtp_parse_verb("QUIT", NULL) == CMD_QUIT, "NULL argp");
}

static void
test_mail(void)
{
	char	 buf[128];

	ok(mail("FROM:<user@Example.org>", 0) == 0, "MAIL FROM");
	is_str(a.user, "user", "sender user");
	is_str(a.domain, "example.org", "sender domain");
	is_int(mp.size, 0, "no SIZE");
	is_int(mp.body, BODY_7BIT, "7BIT by default");
	is_int(mp.smtputf8, 0, "no SMTPUTF8");

	ok(mail("from:<a@b.example>", 0) == 0, "from: lowercase");
	ok(mail("FROM: <a@b.example>", 0) == 0, "space before <");
	ok(mail("FROM:   <a@b.example>  ", 0) == 0, "spaces around");
	ok(mail("FROM:<>", 0) == 0, "null sender");
	ok(addr_is_null(&a), "null sender stored");
	ok(mail("FROM:<> SIZE=10", 0) == 0, "null sender, SIZE");
	ok(mail("FROM:<@relay.example:a@b.example>", 0) == 0,
	    "source route");
	is_str(a.user, "a", "source route ignored");

	ok(mail("FROM:<a@b.example> SIZE=12345 BODY=8BITMIME", 0) == 0,
	    "SIZE and BODY");
	is_int(mp.size, 12345, "SIZE value");
	is_int(mp.body, BODY_8BITMIME, "BODY=8BITMIME");
	ok(mail("FROM:<a@b.example> body=7bit size=0", 0) == 0,
	    "lowercase params");
	is_int(mp.body, BODY_7BIT, "BODY=7bit");
	ok(mail("FROM:<a@b.example>   SIZE=1    BODY=8bitmime ", 0) == 0,
	    "several spaces between params");
	is_int(mp.size, 1, "SIZE=1");
	snprintf(buf, sizeof(buf), "FROM:<a@b.example> SIZE=%zu", SIZE_MAX);
	ok(mail(buf, 0) == 0, "SIZE=SIZE_MAX");
	ok(mp.size == SIZE_MAX, "SIZE_MAX value");

	ok(mail("FROM:<a@b.example> SIZE=99999999999999999999999", 0) == -1,
	    "SIZE overflow");
	is_str(err, "501 5.5.4 Invalid SIZE parameter", "SIZE overflow reply");
	ok(mail("FROM:<a@b.example> SIZE=18446744073709551616", 0) == -1,
	    "SIZE = 2^64");
	ok(mail("FROM:<a@b.example> SIZE=12k", 0) == -1, "SIZE garbage");
	ok(mail("FROM:<a@b.example> SIZE=-1", 0) == -1, "SIZE negative");
	ok(mail("FROM:<a@b.example> SIZE=", 0) == -1, "SIZE empty");
	ok(mail("FROM:<a@b.example> SIZE", 0) == -1, "SIZE no value");
	ok(mail("FROM:<a@b.example> BODY=BINARYMIME", 0) == -1,
	    "BODY=BINARYMIME refused");
	is_str(err, "501 5.5.4 Invalid BODY parameter", "BODY reply");
	ok(mail("FROM:<a@b.example> BODY", 0) == -1, "BODY without value");
	ok(mail("FROM:<a@b.example> SIZE=1 SIZE=2", 0) == -1,
	    "duplicate SIZE");
	is_str(err, "501 5.5.4 Duplicate parameter: SIZE", "duplicate reply");
	ok(mail("FROM:<a@b.example> SMTPUTF8 smtputf8", 0) == -1,
	    "duplicate SMTPUTF8");
	ok(mail("FROM:<a@b.example> SMTPUTF8=yes", 0) == -1,
	    "SMTPUTF8 with a value");
	ok(mail("FROM:<a@b.example> RET=HDRS", 0) == -1, "RET unsupported");
	is_str(err, "555 5.5.4 Unsupported option: RET", "unsupported reply");
	ok(mail("FROM:<a@b.example> X-FOO", 0) == -1, "unknown keyword");
	is_str(err, "555 5.5.4 Unsupported option: X-FOO", "name echoed");
	ok(mail("FROM:<a@b.example> =x", 0) == -1, "empty keyword");
	is_str(err, "501 5.5.4 Syntax error in parameters", "syntax reply");
	ok(mail("FROM:<a@b.example> SI\x01ZE=1", 0) == -1,
	    "control character in keyword");
	ok(strchr(err, '\x01') == NULL, "control char not echoed");

	ok(mail("FROM:<a@b.example> AUTH=<>", 0) == 0, "AUTH=<>");
	ok(mail("FROM:<a@b.example> AUTH=user+2Bx@example.org", 0) == 0,
	    "AUTH= xtext");
	ok(mail("FROM:<a@b.example> AUTH=user+2bx", 0) == -1,
	    "AUTH= lowercase hex refused");
	ok(mail("FROM:<a@b.example> AUTH=user+2", 0) == -1,
	    "AUTH= short escape refused");
	ok(mail("FROM:<a@b.example> AUTH=user+", 0) == -1,
	    "AUTH= bare + refused");
	ok(mail("FROM:<a@b.example> AUTH=a=b", 0) == -1, "AUTH= with =");
	ok(mail("FROM:<a@b.example> AUTH=", 0) == -1, "AUTH= empty");
	is_str(err, "501 5.5.4 Invalid AUTH parameter", "AUTH reply");

	/* SMTPUTF8 */
	ok(mail("FROM:<j\xc3\xb6rg@example.org>", 0) == -1,
	    "UTF-8 sender without SMTPUTF8");
	is_str(err, "553 5.6.7 Non-ASCII address requires SMTPUTF8",
	    "SMTPUTF8 needed reply");
	ok(mail("FROM:<j\xc3\xb6rg@example.org> SMTPUTF8", 0) == 0,
	    "UTF-8 sender with SMTPUTF8");
	is_str(a.user, "j\xc3\xb6rg", "UTF-8 user");
	is_int(mp.smtputf8, 1, "smtputf8 set");
	ok(mail("FROM:<j\xc3\xb6rg@example.org>", ADDR_ALLOW_UTF8) == 0,
	    "UTF-8 allowed by caller flags");
	ok(mail("FROM:<j\xc3\x28rg@example.org> SMTPUTF8", 0) == -1,
	    "broken UTF-8 even with SMTPUTF8");
	is_str(err, "553 5.1.7 Invalid sender address", "bad sender reply");

	/* Syntax */
	ok(mail("TO:<a@b.example>", 0) == -1, "TO: in MAIL");
	is_str(err, "501 5.5.4 Syntax: MAIL FROM:<address>", "syntax reply");
	ok(mail("FROM", 0) == -1, "FROM without colon");
	ok(mail("", 0) == -1, "empty");
	ok(mail("FROM:a@b.example", 0) == -1, "no brackets");
	is_str(err, "501 5.5.4 Syntax: MAIL FROM:<address>", "reply");
	ok(mail("FROM:<a@b.example", 0) == -1, "no closing >");
	ok(mail("FROM:<a@b.example>SIZE=1", 0) == -1, "no space before param");
	ok(mail("FROM:<a b@example.org>", 0) == -1, "space in address");
	is_str(err, "553 5.1.7 Invalid sender address", "invalid sender");
	ok(mail("FROM:<a@b..example>", 0) == -1, "bad domain");
	ok(mail("FROM:<a@>", 0) == -1, "empty domain");
	ok(mail("FROM:<a>", 0) == -1, "no domain");
	ok(mail("FROM:<\"a>b\"@example.org> SIZE=5", 0) == 0,
	    "quoted > in sender");
	is_str(a.user, "\"a>b\"", "quoted user");
	is_int(mp.size, 5, "param after quoted >");

	/* A short err buffer is never overrun. */
	memset(buf, 'X', sizeof(buf));
	ok(smtp_parse_mail("FROM:<a@b.example> X-LONG-NAME", &a, &mp, 0,
	    buf, 10) == -1, "short err buffer");
	is_int(strlen(buf), 9, "reply truncated");
	is_int(buf[10], 'X', "no overrun");
}

static void
test_rcpt(void)
{
	ok(rcpt("TO:<user@Example.org>", 0) == 0, "RCPT TO");
	is_str(a.user, "user", "rcpt user");
	is_str(a.domain, "example.org", "rcpt domain");
	ok(rcpt("to: <user@example.org> ", 0) == 0, "lowercase, spaces");
	ok(rcpt("TO:<>", 0) == -1, "null rcpt");
	is_str(err, "553 5.1.3 Invalid recipient address", "null rcpt reply");
	ok(rcpt("TO:<>", ADDR_ALLOW_NULL) == -1, "null rcpt even with flag");
	ok(rcpt("TO:<postmaster>", 0) == 0, "bare postmaster");
	is_str(a.user, "postmaster", "postmaster user");
	is_str(a.domain, "", "postmaster without domain");
	ok(rcpt("TO:<PostMaster>", 0) == 0, "bare Postmaster");
	is_str(a.user, "postmaster", "postmaster canonical");
	ok(rcpt("TO:<root>", 0) == -1, "other bare user refused");
	ok(rcpt("TO:<postmaster@Example.org>", 0) == 0, "postmaster@domain");
	is_str(a.domain, "example.org", "postmaster domain");
	ok(rcpt("TO:<a@b.example> NOTIFY=NEVER", 0) == -1, "DSN refused");
	is_str(err, "555 5.5.4 Unsupported option: NOTIFY", "param reply");
	ok(rcpt("TO:<a@b.example> SIZE=1", 0) == -1, "SIZE in RCPT");
	ok(rcpt("FROM:<a@b.example>", 0) == -1, "FROM: in RCPT");
	is_str(err, "501 5.5.4 Syntax: RCPT TO:<address>", "rcpt syntax");
	ok(rcpt("TO:a@b.example", 0) == -1, "no brackets");
	ok(rcpt("TO:<a@b.example>x", 0) == -1, "junk after >");
	ok(rcpt("TO:<a@@b.example>", 0) == -1, "double @");
	is_str(err, "553 5.1.3 Invalid recipient address", "bad rcpt reply");
	ok(rcpt("TO:<j\xc3\xb6rg@example.org>", 0) == -1, "UTF-8 w/o flag");
	is_str(err, "553 5.6.7 Non-ASCII address requires SMTPUTF8",
	    "rcpt SMTPUTF8 reply");
	ok(rcpt("TO:<j\xc3\xb6rg@b\xc3\xbc" "cher.de>",
	    ADDR_ALLOW_UTF8) == 0, "UTF-8 rcpt with flag");
	is_str(a.domain, "b\xc3\xbc" "cher.de", "U-label domain");
	ok(rcpt("TO:<@hop.example:a@b.example>", 0) == 0, "source route");
	is_str(a.user, "a", "source route user");
}

static void
test_helo(void)
{
	char	 buf[HOST_NAME_MAX + 1], small[8];
	char	 longname[300];

	ok(smtp_parse_helo("mail.example.org", buf, sizeof(buf)) == 0,
	    "HELO domain");
	is_str(buf, "mail.example.org", "copied");
	ok(smtp_parse_helo("Mail.Example.ORG  ", buf, sizeof(buf)) == 0,
	    "trailing spaces");
	is_str(buf, "Mail.Example.ORG", "case kept, spaces trimmed");
	ok(smtp_parse_helo("localhost", buf, sizeof(buf)) == 0, "one label");
	ok(smtp_parse_helo("[192.0.2.1]", buf, sizeof(buf)) == 0, "literal");
	ok(smtp_parse_helo("[IPv6:::1]", buf, sizeof(buf)) == 0,
	    "IPv6 literal");
	ok(smtp_parse_helo("b\xc3\xbc" "cher.de", buf, sizeof(buf)) == 0,
	    "U-label");
	ok(smtp_parse_helo("", buf, sizeof(buf)) == -1, "empty");
	ok(smtp_parse_helo("   ", buf, sizeof(buf)) == -1, "only spaces");
	ok(smtp_parse_helo("a b", buf, sizeof(buf)) == -1, "two words");
	ok(smtp_parse_helo("foo_bar", buf, sizeof(buf)) == -1, "underscore");
	ok(smtp_parse_helo("192.0.2.1]", buf, sizeof(buf)) == -1, "junk");
	ok(smtp_parse_helo("[192.0.2.999]", buf, sizeof(buf)) == -1,
	    "bad literal");
	ok(smtp_parse_helo("a\xc3", buf, sizeof(buf)) == -1, "bad UTF-8");
	ok(smtp_parse_helo("mail.example.org", small, sizeof(small)) == -1,
	    "does not fit");
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ok(smtp_parse_helo(longname, buf, sizeof(buf)) == -1, "too long");
}

int
main(void)
{
	test_verb();
	test_mail();
	test_rcpt();
	test_helo();
	return done_testing();
}
