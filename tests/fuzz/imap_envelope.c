/*
 * The header side of FETCH and SEARCH (mime.c, search.c): the input's
 * first line is a list of field names as a client gives them in
 * BODY[HEADER.FIELDS (...)], the rest a header block as it lies in a
 * message.  It goes through the ENVELOPE builder, the field lookup and
 * unfolding, HEADER.FIELDS and HEADER.FIELDS.NOT, and the RFC 2047
 * decoding SEARCH applies to header values.
 *
 * Properties: ENVELOPE is well-formed IMAP; an unfolded value has no
 * CR or LF and at most MIME_MAX_VALUE bytes; a value found lies inside
 * the header; HEADER.FIELDS and HEADER.FIELDS.NOT output ends in CRLF.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "fuzz.h"
#include "mime.h"
#include "search.h"

#define NAMES_MAX	16

static void	 check_value(const char *);

static void
check_value(const char *v)
{
	FUZZ_ASSERT(strlen(v) <= MIME_MAX_VALUE);
	FUZZ_ASSERT(strchr(v, '\r') == NULL && strchr(v, '\n') == NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const fields[] = { "Date", "Subject", "From",
	    "Sender", "Reply-To", "To", "Cc", "Bcc", "In-Reply-To",
	    "Message-ID", "Content-Type", "Received" };
	const uint8_t	*p = data, *end = data + size, *l;
	const char	*names[NAMES_MAX], *val;
	struct mbuf	 o, in, out;
	char		*first, *hdr, *v, *d, *w, *last;
	size_t		 len, hlen, nnames = 0, vlen, i;

	if (!fuzz_line(&p, end, &l, &len))
		return 0;
	first = fuzz_strndup(l, len);
	for (w = strtok_r(first, " ", &last); w != NULL && nnames < NAMES_MAX;
	    w = strtok_r(NULL, " ", &last))
		names[nnames++] = w;
	hlen = end - p;
	if ((hdr = malloc(hlen > 0 ? hlen : 1)) == NULL)
		fuzz_fail("malloc");
	memcpy(hdr, p, hlen);

	memset(&o, 0, sizeof(o));
	mime_envelope(&o, hdr, hlen);
	if (!fuzz_imap_wellformed(o.data, o.len, 0))
		fuzz_fail("ENVELOPE is not well-formed IMAP: %.*s",
		    (int)(o.len > 500 ? 500 : o.len), o.data);
	mbuf_free(&o);

	for (i = 0; i < nitems(fields); i++) {
		if (mime_header_find(hdr, hlen, fields[i], &val, &vlen)) {
			FUZZ_ASSERT(val >= hdr && vlen <= hlen &&
			    val + vlen <= hdr + hlen);
			v = mime_unfold(val, vlen);
			check_value(v);
			if ((d = search_decode_words(val, vlen)) != NULL)
				free(d);
			free(v);
		}
		if ((v = mime_header_get(hdr, hlen, fields[i])) != NULL) {
			check_value(v);
			free(v);
		}
	}

	memset(&in, 0, sizeof(in));
	memset(&out, 0, sizeof(out));
	mime_header_fields(&in, hdr, hlen, names, nnames, 0);
	mime_header_fields(&out, hdr, hlen, names, nnames, 1);
	FUZZ_ASSERT(in.len >= 2 &&
	    memcmp(in.data + in.len - 2, "\r\n", 2) == 0);
	FUZZ_ASSERT(out.len >= 2 &&
	    memcmp(out.data + out.len - 2, "\r\n", 2) == 0);
	mbuf_free(&in);
	mbuf_free(&out);

	free(hdr);
	free(first);
	return 0;
}
