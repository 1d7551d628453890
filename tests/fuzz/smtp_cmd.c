/*
 * SMTP command lines (smtp_parse.c), fed as smtp_session.c feeds them:
 * the input is what a client sends, split at LF, a final CR removed,
 * lines over SMTP_LINE_MAX and lines holding a NUL refused before the
 * parser sees them.  MAIL gets ADDR_ALLOW_NULL, RCPT gets
 * ADDR_ALLOW_UTF8 after MAIL ... SMTPUTF8, as in the session.
 *
 * Properties: an error reply is one line starting with a 5xx code; an
 * accepted path turns into text that parses back into the same
 * address; a HELO name that is accepted holds no space or control.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "maild.h"

static void	 check_reply(const char *);
static void	 check_addr(const struct mailaddr *, int);

static void
check_reply(const char *err)
{
	const unsigned char	*p = (const unsigned char *)err;

	FUZZ_ASSERT(p[0] == '5' && p[1] >= '0' && p[1] <= '5' &&
	    p[2] >= '0' && p[2] <= '9' && p[3] == ' ');
	for (; *p != '\0'; p++)
		FUZZ_ASSERT(*p >= 0x20 && *p != 0x7f);
}

/* An address the session accepted survives its text form unchanged. */
static void
check_addr(const struct mailaddr *a, int flags)
{
	struct mailaddr	 b;
	char		 text[ADDR_MAX + 1];

	FUZZ_ASSERT(memchr(a->user, '\0', sizeof(a->user)) != NULL);
	FUZZ_ASSERT(memchr(a->domain, '\0', sizeof(a->domain)) != NULL);
	if (addr_is_null(a))
		return;
	if (a->domain[0] == '\0') {
		/* Only <postmaster> comes without a domain. */
		FUZZ_ASSERT(strcmp(a->user, "postmaster") == 0);
		return;
	}
	FUZZ_ASSERT(addr_to_text(a, text, sizeof(text)) == 0);
	if (addr_parse(text, &b, flags) != 0)
		fuzz_fail("\"%s\" does not parse again", text);
	FUZZ_ASSERT(strcmp(a->user, b.user) == 0);
	FUZZ_ASSERT(strcmp(a->domain, b.domain) == 0);
	FUZZ_ASSERT(addr_valid_domain(a->domain, flags));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t		*p = data, *end = data + size, *l;
	struct mail_params	 mp;
	struct mailaddr		 a;
	enum smtp_verb		 verb;
	const char		*arg, *h;
	char			*line, err[256], helo[HOST_NAME_MAX + 1];
	size_t			 len;
	int			 smtputf8 = 0;

	while (fuzz_line(&p, end, &l, &len)) {
		if (len > SMTP_LINE_MAX || memchr(l, '\0', len) != NULL)
			continue;
		if (len > 0 && l[len - 1] == '\r')
			len--;
		line = fuzz_strndup(l, len);
		verb = smtp_parse_verb(line, &arg);
		FUZZ_ASSERT(arg >= line && arg <= line + len);
		switch (verb) {
		case CMD_HELO:
		case CMD_EHLO:
			if (smtp_parse_helo(arg, helo, sizeof(helo)) == 0) {
				for (h = helo; *h != '\0'; h++)
					FUZZ_ASSERT(*h != ' ' &&
					    (unsigned char)*h >= 0x20 &&
					    *h != 0x7f);
				FUZZ_ASSERT(h > helo);
			}
			break;
		case CMD_MAIL:
			if (smtp_parse_mail(arg, &a, &mp, ADDR_ALLOW_NULL, err,
			    sizeof(err)) == -1) {
				check_reply(err);
				break;
			}
			smtputf8 = mp.smtputf8;
			FUZZ_ASSERT(mp.body == BODY_7BIT ||
			    mp.body == BODY_8BITMIME);
			check_addr(&a, smtputf8 ? ADDR_ALLOW_UTF8 : 0);
			break;
		case CMD_RCPT:
			if (smtp_parse_rcpt(arg, &a, smtputf8 ?
			    ADDR_ALLOW_UTF8 : 0, err, sizeof(err)) == -1) {
				check_reply(err);
				break;
			}
			FUZZ_ASSERT(!addr_is_null(&a));
			check_addr(&a, smtputf8 ? ADDR_ALLOW_UTF8 : 0);
			break;
		case CMD_RSET:
			smtputf8 = 0;
			break;
		default:
			break;
		}
		free(line);
	}
	return 0;
}
