/*
 * Envelope files (envelope.c): what the queue reads back from
 * <spool>/queue/<msgid>/<evpid> at start-up (spool_walk) and after each
 * attempt.  A spool survives crashes and other hands, so its files are
 * input like any other.
 *
 * Properties: "the writer refuses to produce anything the reader would
 * not take back": an envelope that loads dumps, the dump loads to the
 * same envelope, and dumping that gives the same text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "maild.h"

static void	 same(const struct envelope *, const struct envelope *);

static void
same(const struct envelope *a, const struct envelope *b)
{
	FUZZ_ASSERT(a->id == b->id && a->created == b->created &&
	    a->lasttry == b->lasttry && a->retries == b->retries &&
	    a->flags == b->flags);
	FUZZ_ASSERT(strcmp(a->helo, b->helo) == 0);
	FUZZ_ASSERT(strcmp(a->src, b->src) == 0);
	FUZZ_ASSERT(strcmp(a->sender.user, b->sender.user) == 0 &&
	    strcmp(a->sender.domain, b->sender.domain) == 0);
	FUZZ_ASSERT(strcmp(a->rcpt.user, b->rcpt.user) == 0 &&
	    strcmp(a->rcpt.domain, b->rcpt.domain) == 0);
	FUZZ_ASSERT(a->dest.type == b->dest.type);
	FUZZ_ASSERT(strcmp(a->dest.addr.user, b->dest.addr.user) == 0 &&
	    strcmp(a->dest.addr.domain, b->dest.addr.domain) == 0);
	FUZZ_ASSERT(strcmp(a->dest.path, b->dest.path) == 0);
	FUZZ_ASSERT(strcmp(a->errmsg, b->errmsg) == 0);
	FUZZ_ASSERT(strcmp(a->dkim, b->dkim) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envelope	*a, *b;
	char		*buf, err[256], d1[16384], d2[16384];
	int		 n1, n2;

	if ((a = malloc(sizeof(*a))) == NULL ||
	    (b = malloc(sizeof(*b))) == NULL)
		fuzz_fail("malloc");
	buf = fuzz_strndup(data, size);
	err[0] = '\0';
	if (envelope_load(a, buf, size, err, sizeof(err)) == -1) {
		FUZZ_ASSERT(err[0] != '\0');
		goto done;
	}
	if ((n1 = envelope_dump(a, d1, sizeof(d1))) < 0)
		fuzz_fail("a loaded envelope does not dump");
	if (envelope_load(b, d1, n1, err, sizeof(err)) == -1)
		fuzz_fail("a dumped envelope does not load: %s", err);
	same(a, b);
	if ((n2 = envelope_dump(b, d2, sizeof(d2))) != n1 ||
	    memcmp(d1, d2, n1) != 0)
		fuzz_fail("dump, load, dump changed the text");
 done:
	free(buf);
	free(a);
	free(b);
	return 0;
}
