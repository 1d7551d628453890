/*
 * Tests for imap_notify.c: NOTIFY arguments run through the real
 * command parser; the RFC 5465 examples, the rules (one selected
 * filter, message events only and paired for the selected mailbox,
 * fetch attributes only there), unsupported and unknown events
 * (BADEVENT), the name limits (NOTIFICATIONOVERFLOW), malformed groups
 * (BAD), and which events a mailbox name gets from each filter.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "imap_notify.h"
#include "imap_parser.h"
#include "tap.h"

static struct imap_parser	*parser;

static int	parse(const char *, struct notify_spec **, const char **);
static void	expect(const char *, int);
static void	test_examples(void);
static void	test_rules(void);
static void	test_events(void);
static void	test_match(void);
static void	test_limits(void);

/* "a NOTIFY <rest>" through the parser, then notify_parse(). */
static int
parse(const char *rest, struct notify_spec **sp, const char **err)
{
	const struct imap_command	*c;
	char				*line;
	size_t				 len = strlen(rest) + 16;
	int				 r;

	*sp = NULL;
	*err = NULL;
	if ((line = malloc(len)) == NULL)
		return -100;
	snprintf(line, len, "a NOTIFY %s", rest);
	if (imap_parser_line(parser, line, strlen(line)) != IMAP_PARSE_DONE) {
		*err = imap_parser_error(parser, NULL);
		imap_parser_reset(parser);
		free(line);
		return -100;
	}
	c = imap_parser_command(parser);
	r = notify_parse(c->args, sp, err);
	free(line);
	return r;
}

static void
expect(const char *rest, int want)
{
	struct notify_spec	*sp;
	const char		*err;
	int			 r;

	/* The command parser's own BAD counts as BAD. */
	if ((r = parse(rest, &sp, &err)) == -100)
		r = NOTIFY_BAD;
	is_int(r, want, rest);
	if (r != want && err != NULL)
		printf("#   error: %s\n", err);
	notify_spec_free(sp);
}

static void
test_examples(void)
{
	struct notify_spec	*sp;
	const char		*err;

	/*
	 * The examples of RFC 5465 section 3: as printed they lack the
	 * event lists' parentheses (errata 2318 and others), as corrected.
	 */
	expect("set status (selected MessageNew (uid "
	    "body.peek[header.fields (from to subject)]) MessageExpunge) "
	    "(subtree Lists MessageNew)", NOTIFY_BAD);
	expect("set (selected MessageNew (uid "
	    "body.peek[header.fields (from to subject)]) MessageExpunge)",
	    NOTIFY_BAD);
	expect("set (selected (MessageNew (uid "
	    "body.peek[header.fields (from to subject)]) MessageExpunge)) "
	    "(subtree Lists (MessageNew)) (mailboxes misc (MessageNew))",
	    NOTIFY_OK);
	expect("SET STATUS (selected (MessageNew MessageExpunge FlagChange))"
	    " (personal (MessageNew MessageExpunge FlagChange MailboxName "
	    "SubscriptionChange))", NOTIFY_OK);
	expect("NONE", NOTIFY_OK);
	is_int(parse("none", &sp, &err), NOTIFY_OK, "none in lower case");
	ok(sp == NULL, "NONE gives no spec");

	is_int(parse("set status (selected (MessageNew (uid flags) "
	    "MessageExpunge)) (inboxes (MessageNew)) (subtree (Lists \"a b\")"
	    " (MailboxName))", &sp, &err), NOTIFY_OK, "a full SET");
	if (sp != NULL) {
		ok(sp->status, "STATUS seen");
		is_int(sp->sel_filter, NF_SELECTED, "selected filter");
		is_int(sp->sel_events, NE_NEW | NE_EXPUNGE, "selected events");
		ok(sp->sel_fetch != NULL &&
		    sp->sel_fetch->type == IMAP_ARG_LIST &&
		    sp->sel_fetch->nlist == 2, "fetch attributes kept");
		is_int(sp->ng, 2, "two other groups");
		if (sp->ng == 2) {
			is_int(sp->g[1].nnames, 2, "subtree: two names");
			is_str(sp->g[1].names[1], "a b", "quoted name");
		}
	}
	notify_spec_free(sp);
	is_int(parse("set (selected-delayed (MessageNew MessageExpunge))",
	    &sp, &err), NOTIFY_OK, "selected-delayed");
	if (sp != NULL)
		is_int(sp->sel_filter, NF_SELECTED_DELAYED,
		    "selected-delayed filter");
	notify_spec_free(sp);
}

static void
test_rules(void)
{
	/* Syntax and the rules of the selected mailbox: BAD. */
	expect("", NOTIFY_BAD);
	expect("set", NOTIFY_BAD);
	expect("set status", NOTIFY_BAD);
	expect("get (selected (MessageNew MessageExpunge))", NOTIFY_BAD);
	expect("none (selected (MessageNew MessageExpunge))", NOTIFY_BAD);
	expect("set selected", NOTIFY_BAD);
	expect("set ()", NOTIFY_BAD);
	expect("set (selected)", NOTIFY_BAD);
	expect("set (bogus (MessageNew MessageExpunge))", NOTIFY_BAD);
	expect("set (\"selected\" (MessageNew MessageExpunge))", NOTIFY_BAD);
	expect("set (selected (MessageNew MessageExpunge) extra)", NOTIFY_BAD);
	expect("set (selected ())", NOTIFY_BAD);
	expect("set (selected (MessageNew))", NOTIFY_BAD);
	expect("set (selected (MessageExpunge))", NOTIFY_BAD);
	expect("set (selected (FlagChange))", NOTIFY_BAD);
	expect("set (selected (MessageNew MessageExpunge MailboxName))",
	    NOTIFY_BAD);
	expect("set (selected (MessageNew MessageExpunge)) "
	    "(selected-delayed (MessageNew MessageExpunge))", NOTIFY_BAD);
	expect("set (selected (MessageNew () MessageExpunge))", NOTIFY_BAD);
	expect("set (personal (MessageNew (uid) MessageExpunge))",
	    NOTIFY_BAD);
	expect("set (subtree (MessageNew))", NOTIFY_BAD);
	expect("set (subtree () (MessageNew))", NOTIFY_BAD);
	expect("set (mailboxes (a (b)) (MessageNew))", NOTIFY_BAD);
	expect("set (mailboxes a* (MessageNew))", NOTIFY_BAD);
	expect("set (mailboxes \"a//b\" (MessageNew))", NOTIFY_BAD);
	expect("set (personal ((MessageNew)))", NOTIFY_BAD);
	expect("set (personal (\"MessageNew\"))", NOTIFY_BAD);
	expect("set (personal NIL)", NOTIFY_BAD);
	/* Other mailboxes: any events (imaptest's notify group). */
	expect("set (mailboxes x (MessageExpunge))", NOTIFY_OK);
	expect("set (mailboxes x (MessageNew))", NOTIFY_OK);
	expect("set (mailboxes x (FlagChange))", NOTIFY_OK);
	expect("set (personal NONE) (selected NONE)", NOTIFY_OK);
}

static void
test_events(void)
{
	char	 buf[256];

	/* Syntax right, event not served: NO [BADEVENT]. */
	expect("set (personal (MessageNew AnnotationChange))",
	    NOTIFY_BADEVENT);
	expect("set (selected (MessageNew MessageExpunge AnnotationChange))",
	    NOTIFY_BADEVENT);
	expect("set (personal (MailboxMetadataChange))", NOTIFY_BADEVENT);
	expect("set (personal (ServerMetadataChange))", NOTIFY_BADEVENT);
	expect("set (personal (NoSuchEvent))", NOTIFY_BADEVENT);
	/* ... but a syntax error anywhere is BAD first. */
	expect("set (personal (NoSuchEvent)) (bogus NONE)", NOTIFY_BAD);
	expect("set (personal (messagenew mailboxname subscriptionchange "
	    "FLAGCHANGE messageexpunge))", NOTIFY_OK);
	notify_event_names(NE_SUPPORTED, buf, sizeof(buf));
	is_str(buf, "MessageNew MessageExpunge FlagChange MailboxName "
	    "SubscriptionChange", "supported events named for BADEVENT");
}

static void
test_match(void)
{
	struct notify_spec	*sp;
	const char		*err;

	is_int(parse("set (selected (MessageNew MessageExpunge)) "
	    "(subtree (Lists inbox) (MessageNew)) "
	    "(mailboxes (misc Lists/a) (MessageExpunge)) "
	    "(subscribed (FlagChange))", &sp, &err), NOTIFY_OK, "match spec");
	if (sp == NULL)
		return;
	is_int(notify_events(sp, "Lists", 0), NE_NEW, "subtree: its root");
	is_int(notify_events(sp, "Lists/x/y", 0), NE_NEW, "subtree: below");
	is_int(notify_events(sp, "Listsx", 0), 0, "subtree: not a prefix");
	is_int(notify_events(sp, "INBOX", 0), NE_NEW, "INBOX canonical");
	is_int(notify_events(sp, "INBOX/sub", 0), NE_NEW, "below INBOX");
	is_int(notify_events(sp, "misc", 0), NE_EXPUNGE, "mailboxes: exact");
	is_int(notify_events(sp, "misc/x", 0), 0, "mailboxes: not below");
	is_int(notify_events(sp, "Lists/a", 0), NE_NEW | NE_EXPUNGE,
	    "two groups: both");
	is_int(notify_events(sp, "other", 1), NE_FLAGS, "subscribed");
	is_int(notify_events(sp, "other", 0), 0, "not subscribed");
	notify_spec_free(sp);
	is_int(parse("set (personal (MessageNew)) (inboxes (MailboxName))",
	    &sp, &err), NOTIFY_OK, "personal");
	if (sp != NULL)
		is_int(notify_events(sp, "a/b/c", 0), NE_NEW | NE_NAME,
		    "personal and inboxes: every mailbox");
	notify_spec_free(sp);
}

static void
test_limits(void)
{
	struct notify_spec	*sp;
	const char		*err;
	char			*buf;
	size_t			 i, len = 0, cap = 100 * 1024;

	if ((buf = malloc(cap)) == NULL)
		return;
	/* 1000 names: taken; the same 1000 again: duplicates, taken. */
	len += snprintf(buf + len, cap - len, "set (mailboxes (");
	for (i = 0; i < NOTIFY_NAMES_MAX; i++)
		len += snprintf(buf + len, cap - len, "%sf%zu", i ? " " : "",
		    i);
	len += snprintf(buf + len, cap - len, ") (MessageNew))");
	is_int(parse(buf, &sp, &err), NOTIFY_OK, "1000 names");
	if (sp != NULL)
		is_int(sp->g[0].nnames, NOTIFY_NAMES_MAX, "... all kept");
	notify_spec_free(sp);
	/* 1001: overflow, the whole list parsed all the same. */
	len -= strlen(") (MessageNew))");
	len += snprintf(buf + len, cap - len, " extra) (MessageNew))");
	is_int(parse(buf, &sp, &err), NOTIFY_OVERFLOW, "1001 names");
	ok(sp == NULL, "... nothing kept");
	/* Duplicates count once. */
	len = snprintf(buf, cap, "set (mailboxes (");
	for (i = 0; i < 2 * NOTIFY_NAMES_MAX; i++)
		len += snprintf(buf + len, cap - len, "%sf%zu", i ? " " : "",
		    i % 10);
	len += snprintf(buf + len, cap - len, ") (MessageNew))");
	is_int(parse(buf, &sp, &err), NOTIFY_OK, "2000 names, 10 distinct");
	if (sp != NULL)
		is_int(sp->g[0].nnames, 10, "... 10 kept");
	notify_spec_free(sp);
	/* Long names: bounded by bytes too. */
	len = snprintf(buf, cap, "set (mailboxes (");
	for (i = 0; i < 70 && len + 1100 < cap; i++) {
		len += snprintf(buf + len, cap - len, "%sn%zu", i ? " " : "",
		    i);
		memset(buf + len, 'x', 1000);
		len += 1000;
		buf[len] = '\0';
	}
	len += snprintf(buf + len, cap - len, ") (MessageNew))");
	is_int(parse(buf, &sp, &err), NOTIFY_OVERFLOW, "70 KB of names");
	if (err != NULL && sp == NULL)
		printf("# %s\n", err);
	free(buf);
}

int
main(void)
{
	struct imap_limits	 lim = { 256 * 1024, 65536, 65536, 65536,
				    10000, 16 };

	parser = imap_parser_new(&lim);
	test_examples();
	test_rules();
	test_events();
	test_match();
	test_limits();
	imap_parser_free(parser);
	return done_testing();
}
