/*
 * The SMTP client's parser of server replies and its dot-stuffing of
 * message data, without process state (relay_session.c drives them).
 *
 * Replies come from a stranger: every line is checked (three digits,
 * 2xx to 5xx, then ' ', '-' or nothing), the code may not change inside
 * a multi-line reply, the number and the length of lines are bounded,
 * and only a cleaned, truncated copy of the first line is kept.
 */
#include <string.h>

#include "smtp_reply.h"

void
smtp_reply_init(struct smtp_reply *r)
{
	memset(r, 0, sizeof(*r));
}

int
smtp_reply_line(struct smtp_reply *r, char *line, size_t len,
    const char **textp)
{
	int	 code;
	char	 sep;

	*textp = "";
	if (r->done) {
		r->done = 0;
		r->nlines = 0;
	}
	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	if (len > SMTP_REPLY_LINE_MAX || memchr(line, '\0', len) != NULL)
		return SMTP_REPLY_BAD;
	if (len < 3 || line[0] < '2' || line[0] > '5' ||
	    line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9')
		return SMTP_REPLY_BAD;
	sep = len > 3 ? line[3] : ' ';
	if (sep != ' ' && sep != '-')
		return SMTP_REPLY_BAD;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + line[2] - '0';
	if (r->nlines == 0) {
		r->code = code;
		(void)strlcpy(r->text, line, sizeof(r->text));
		smtp_reply_clean(r->text);
	} else if (code != r->code)
		return SMTP_REPLY_BAD;
	if (++r->nlines > SMTP_REPLY_LINES)
		return SMTP_REPLY_BAD;
	*textp = len > 4 ? line + 4 : "";
	if (sep == '-')
		return SMTP_REPLY_MORE;
	r->done = 1;
	return SMTP_REPLY_DONE;
}

void
smtp_reply_clean(char *p)
{
	for (; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
}

void
smtp_stuff_init(struct smtp_stuff *st)
{
	st->bol = 1;
	st->cr = 0;
}

size_t
smtp_stuff(struct smtp_stuff *st, const char *in, size_t len, char *out)
{
	size_t	 i, o = 0;
	char	 c;

	for (i = 0; i < len; i++) {
		c = in[i];
		if (st->cr) {
			/* CR then anything: the line ended there. */
			out[o++] = '\r';
			out[o++] = '\n';
			st->cr = 0;
			st->bol = 1;
			if (c == '\n')
				continue;
		}
		if (c == '\r') {
			st->cr = 1;
			continue;
		}
		if (c == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			st->bol = 1;
			continue;
		}
		if (st->bol && c == '.')
			out[o++] = '.';
		out[o++] = c;
		st->bol = 0;
	}
	return o;
}

size_t
smtp_stuff_eol(struct smtp_stuff *st, char *out)
{
	if (!st->cr && st->bol)
		return 0;
	out[0] = '\r';
	out[1] = '\n';
	st->cr = 0;
	st->bol = 1;
	return 2;
}

size_t
smtp_stuff_end(struct smtp_stuff *st, char *out)
{
	size_t	 o;

	o = smtp_stuff_eol(st, out);
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}
