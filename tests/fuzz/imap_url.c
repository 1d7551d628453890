/*
 * IMAP URLs (imap_url.c) as CATENATE takes them from a client: the
 * input is one URL.
 *
 * Properties: a URL that parses names a message (UID not 0), its
 * strings are NUL-terminated within their bounds, a server form has a
 * host and the others none, an absolute path or a relative form with a
 * mailbox has one and ";UID=" has none, a partial length is 0 unless
 * there is a partial range; a refused one says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "imap_url.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_url	 u;
	const char	*err = NULL;
	char		*url;

	/* No NUL after the bytes: the parser must keep to len. */
	if ((url = malloc(size > 0 ? size : 1)) == NULL)
		fuzz_fail("malloc");
	memcpy(url, data, size);
	if (imap_url_parse(url, size, &u, &err) == -1) {
		FUZZ_ASSERT(err != NULL && *err != '\0');
		free(url);
		return 0;
	}
	FUZZ_ASSERT(u.uid != 0);
	FUZZ_ASSERT(memchr(u.user, '\0', sizeof(u.user)) != NULL);
	FUZZ_ASSERT(memchr(u.host, '\0', sizeof(u.host)) != NULL);
	FUZZ_ASSERT(memchr(u.mailbox, '\0', sizeof(u.mailbox)) != NULL);
	FUZZ_ASSERT(memchr(u.section, '\0', sizeof(u.section)) != NULL);
	FUZZ_ASSERT((u.form == IMAP_URL_SERVER) == (u.host[0] != '\0'));
	FUZZ_ASSERT(u.form == IMAP_URL_SERVER || u.user[0] == '\0');
	FUZZ_ASSERT((u.form == IMAP_URL_UID) == (u.mailbox[0] == '\0'));
	FUZZ_ASSERT(u.port >= 0 && u.port <= 65535);
	FUZZ_ASSERT(u.partial || (u.partial_off == 0 && u.partial_len == 0));
	free(url);
	return 0;
}
