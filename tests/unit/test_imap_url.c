/*
 * Unit tests for imap_url.c: the URL forms CATENATE takes (RFC 5092's
 * absolute URL, network path, absolute path, the relative forms),
 * percent-decoding, keywords in any case, and URLs that name no
 * message part or are broken.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "imap_url.h"
#include "tap.h"

static int	parse(const char *, struct imap_url *);

static int
parse(const char *s, struct imap_url *u)
{
	const char	*err = NULL;
	int		 r;

	r = imap_url_parse(s, strlen(s), u, &err);
	if (r == -1 && err == NULL)
		return -2;
	return r;
}

int
main(void)
{
	static const char *const bad[] = {
		"", "imap://", "imap://host", "imap://host/",
		"imap://host/INBOX", "imap://@host/INBOX/;UID=1",
		"imap://host:0/INBOX/;UID=1", "imap://host:70000/INBOX/;UID=1",
		"imap://host:x/INBOX/;UID=1", "imap://[::1/INBOX/;UID=1",
		"imap://[]/INBOX/;UID=1", "/INBOX", "/INBOX/;UID=",
		"/INBOX/;UID=0", "/INBOX/;UID=4294967296", "/INBOX/;UID=1x",
		"/;UID=1", "/INBOX;UIDVALIDITY=0/;UID=1",
		"/INBOX;UIDVALIDITY=x/;UID=1", "/INBOX;UIDVALIDITY=1;UID=1",
		"/INBOX/;UID=1/;SECTION=", "/INBOX/;UID=1/;PARTIAL=",
		"/INBOX/;UID=1/;PARTIAL=1.0", "/INBOX/;UID=1/;PARTIAL=x",
		"/INBOX/;UID=1/;PARTIAL=1.", "/INBOX/;UID=1;SECTION=1",
		"/INBOX/;UID=1/;URLAUTH=anonymous:internal:00",
		"/INBOX/;UID=1/;EXPIRE=2026-01-01T00:00:00Z;URLAUTH=x",
		"/INBOX?SUBJECT%20x", "/INBOX/;UID=1#frag", "/INBOX;TYPE=LIST",
		"http://host/INBOX/;UID=1", "mailto:a@b", "/IN%zzBOX/;UID=1",
		"/IN%00BOX/;UID=1", "/IN BOX/;UID=1",
		"/IN\tBOX/;UID=1", "/IN\177BOX/;UID=1", "/IN\xc3\xa9/;UID=1",
		"/INBOX/;UID=1/;SECTION=%", "/INBOX/;UID=1/x",
		"//host", ";UIDVALIDITY=1/;UID=1",
	};
	struct imap_url	 u;
	char		 big[IMAP_URL_MAX + 16];
	size_t		 i;

	is_int(parse("imap://alice%40example.org;AUTH=*@mx.test:993/"
	    "Drafts;UIDVALIDITY=385759045/;UID=20/;SECTION=1.MIME/;"
	    "PARTIAL=0.100", &u), 0, "absolute URL with everything");
	ok(u.form == IMAP_URL_SERVER, "... form SERVER");
	is_str(u.user, "alice@example.org", "... user decoded, ;AUTH= dropped");
	is_str(u.host, "mx.test", "... host");
	is_int(u.port, 993, "... port");
	is_str(u.mailbox, "Drafts", "... mailbox");
	is_int(u.uidvalidity, 385759045, "... UIDVALIDITY");
	is_int(u.uid, 20, "... UID");
	is_str(u.section, "1.MIME", "... section");
	ok(u.partial && u.partial_off == 0 && u.partial_len == 100,
	    "... partial 0.100");

	is_int(parse("IMAP://[::1]/a/b%2Fc/;uid=7", &u), 0,
	    "IPv6 host, keywords in any case, a mailbox with a hierarchy");
	is_str(u.host, "::1", "... host without brackets");
	is_str(u.mailbox, "a/b/c", "... mailbox a/b/c");
	ok(u.uid == 7 && u.uidvalidity == 0 && u.port == 0 &&
	    u.user[0] == '\0' && !u.partial, "... nothing else");

	is_int(parse("//mx.test/INBOX/;UID=3", &u), 0, "network path");
	ok(u.form == IMAP_URL_SERVER && strcmp(u.mailbox, "INBOX") == 0,
	    "... is a server form");
	is_int(parse("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER."
	    "FIELDS%20(To%20From)/;partial=5", &u), 0, "absolute path");
	ok(u.form == IMAP_URL_PATH, "... form PATH");
	is_str(u.section, "HEADER.FIELDS (To From)", "... section decoded");
	ok(u.partial && u.partial_off == 5 && u.partial_len == 0,
	    "... partial 5: to the end");
	is_int(parse("/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(A/B)", &u), 0,
	    "a section holding \"/\"");
	is_str(u.section, "HEADER.FIELDS (A/B)", "... kept whole");
	is_int(parse("Sent%20Items/;UID=9", &u), 0, "relative with mailbox");
	ok(u.form == IMAP_URL_RELATIVE && strcmp(u.mailbox, "Sent Items") == 0,
	    "... form RELATIVE, mailbox decoded");
	is_int(parse(";UID=12/;SECTION=TEXT", &u), 0, "relative ;UID=");
	ok(u.form == IMAP_URL_UID && u.mailbox[0] == '\0' && u.uid == 12,
	    "... form UID, no mailbox");
	is_int(parse("/%E2%82%AC/;UID=1", &u), 0, "UTF-8 mailbox");
	is_str(u.mailbox, "\xe2\x82\xac", "... decoded");
	is_int(parse("/INBOX/;UID=4294967295", &u), 0, "the largest UID");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(parse(bad[i], &u), -1, bad[i]);

	memset(big, 'a', sizeof(big));
	memcpy(big, "/", 1);
	memcpy(big + IMAP_URL_MAX - 8, "/;UID=1", 8);
	is_int(parse(big, &u), -1, "mailbox over the limit");
	ok(imap_url_parse(big, IMAP_URL_MAX + 1, &u, &(const char *){ NULL })
	    == -1, "URL over IMAP_URL_MAX");
	return done_testing();
}
