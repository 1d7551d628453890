/*
 * The tests' oracle for an IMAP tag, written from RFC 3501's grammar
 * rather than from the parser: tag = 1*<any ASTRING-CHAR except "+">,
 * so any CHAR but CTL, SP, "(", ")", "{", "%", "*", '"', "\" and "+";
 * "]" is allowed.  maxlen bounds it as the parser does (IMAP_TAG_MAX).
 */
#ifndef TEST_IMAP_TAG_H
#define TEST_IMAP_TAG_H

#include <string.h>

static inline int
rfc3501_tag(const char *s, size_t maxlen)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= 0x20 ||
		    (unsigned char)s[i] >= 0x7f ||
		    strchr("(){%*\"\\+", s[i]) != NULL)
			return 0;
	return i > 0 && i <= maxlen;
}

#endif
