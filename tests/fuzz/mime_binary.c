/*
 * Binary parts re-encoded as base64 (mime_binary.c), as APPEND does
 * with a literal8 message: the input is the message.
 *
 * Properties: a message encoded (1) has no NUL left and is not refused
 * when encoded again; one with nothing to encode (0) holds no NUL and
 * out is untouched; a refused one (-1) leaves out untouched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mime.h"
#include "mime_binary.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mbuf	 out, again;
	char		*msg;
	int		 r;

	if ((msg = malloc(size > 0 ? size : 1)) == NULL)
		fuzz_fail("malloc");
	memcpy(msg, data, size);
	memset(&out, 0, sizeof(out));
	r = mime_binary_encode(&out, msg, size);
	FUZZ_ASSERT(r >= -1 && r <= 1);
	if (r == 0)
		FUZZ_ASSERT(out.data == NULL &&
		    memchr(msg, '\0', size) == NULL);
	if (r == -1)
		FUZZ_ASSERT(out.data == NULL);
	if (r == 1) {
		FUZZ_ASSERT(out.len > 0 &&
		    memchr(out.data, '\0', out.len) == NULL);
		memset(&again, 0, sizeof(again));
		r = mime_binary_encode(&again, out.data, out.len);
		FUZZ_ASSERT(r != -1);
		mbuf_free(&again);
	}
	mbuf_free(&out);
	free(msg);
	return 0;
}
