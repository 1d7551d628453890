/*
 * The PREVIEW text of a message (mime_decode.c): the input is a
 * message as it lies in a Maildir, parsed into its tree (mime.c); its
 * preview is made, and the text of every leaf part decoded.
 *
 * Properties: the preview is well-formed UTF-8 without control
 * characters, at most MIME_PREVIEW_CHARS characters, without a space at
 * either end, and a well-formed IMAP string once encoded; a part's text
 * is well-formed UTF-8 of the length given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "imap_parser.h"
#include "mime.h"
#include "util.h"

static void	 parts(const struct mime_msg *, const struct mime_part *);

static void
parts(const struct mime_msg *m, const struct mime_part *p)
{
	const struct mime_part	*c;
	char			*t;
	size_t			 len, i, k;

	for (c = p->child; c != NULL; c = c->next)
		parts(m, c);
	if (p->child != NULL)
		return;
	if ((t = mime_part_text(m, p, 4096, &len)) == NULL)
		return;
	FUZZ_ASSERT(strlen(t) <= len);
	for (i = 0; i < len; i += k)
		FUZZ_ASSERT((k = utf8_seq((const unsigned char *)t + i,
		    len - i, NULL)) > 0);
	free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_msg	*m;
	char		*msg, *pv, *enc, one;
	size_t		 len, i, k, chars = 0, n;
	uint32_t	 c;

	msg = fuzz_strndup(data, size);
	m = mime_parse(msg, size);
	pv = mime_preview(m);
	len = strlen(pv);
	for (i = 0; i < len; i += k, chars++) {
		k = utf8_seq((const unsigned char *)pv + i, len - i, &c);
		FUZZ_ASSERT(k > 0 && c >= 0x20 && c != 0x7f &&
		    !(c >= 0x80 && c < 0xa0));
	}
	FUZZ_ASSERT(chars <= MIME_PREVIEW_CHARS);
	FUZZ_ASSERT(len == 0 || (pv[0] != ' ' && pv[len - 1] != ' '));
	n = imap_encode_string(&one, 1, pv, len, 0);
	if ((enc = malloc(n + 1)) == NULL)
		fuzz_fail("malloc");
	(void)imap_encode_string(enc, n + 1, pv, len, 0);
	if (!fuzz_imap_wellformed(enc, n, 0))
		fuzz_fail("preview not well-formed IMAP: %s", enc);
	free(enc);
	parts(m, m->root);
	free(pv);
	mime_free(m);
	free(msg);
	return 0;
}
