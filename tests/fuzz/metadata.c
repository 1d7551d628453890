/*
 * IMAP METADATA files (metadata.c): a mailbox's maild-metadata as it
 * lies in a directory the user owns (the file is input, written into
 * the fuzzer's private temporary directory), then entry names and
 * values a client sends: the input after the first NUL byte is lines
 * "name SP value" set one after another ("-" as the value removes).
 *
 * Properties: a file that loads holds valid, lower-case, sorted,
 * distinct names and values within the limits; entries set keep the
 * store within its limits and sorted; saved and loaded again it is the
 * same store, byte for byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "metadata.h"

static void	 check(const struct metadata *);
static void	 same(const struct metadata *, const struct metadata *);

static void
check(const struct metadata *md)
{
	char		 name[METADATA_NAME_MAX + 1];
	const char	*why;
	size_t		 i, len;

	FUZZ_ASSERT(md->n <= METADATA_ENTRIES_MAX);
	for (i = 0; i < md->n; i++) {
		len = strlen(md->ent[i].name);
		FUZZ_ASSERT(metadata_name(md->ent[i].name, len, name,
		    &why) == 0 && strcmp(name, md->ent[i].name) == 0);
		FUZZ_ASSERT(!metadata_is_root(name));
		FUZZ_ASSERT(md->ent[i].len <= METADATA_VALUE_MAX);
		FUZZ_ASSERT(md->ent[i].value[md->ent[i].len] == '\0');
		if (i > 0)
			FUZZ_ASSERT(strcmp(md->ent[i - 1].name, name) < 0);
	}
}

static void
same(const struct metadata *a, const struct metadata *b)
{
	size_t	 i;

	FUZZ_ASSERT(a->n == b->n);
	for (i = 0; i < a->n; i++) {
		FUZZ_ASSERT(strcmp(a->ent[i].name, b->ent[i].name) == 0);
		FUZZ_ASSERT(a->ent[i].len == b->ent[i].len &&
		    memcmp(a->ent[i].value, b->ent[i].value, a->ent[i].len) ==
		    0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct metadata	 md, again;
	const uint8_t	*nul, *p, *end, *line, *sp;
	const char	*dir = fuzz_tmpdir(), *why;
	char		 name[METADATA_NAME_MAX + 1];
	size_t		 flen, len;
	int		 r;

	nul = memchr(data, '\0', size);
	flen = nul != NULL ? (size_t)(nul - data) : size;
	fuzz_file(METADATA_FILE, data, flen);
	if (metadata_load(dir, METADATA_FILE, &md) == -1)
		fuzz_fail("metadata_load");
	check(&md);
	p = nul != NULL ? nul + 1 : data + size;
	end = data + size;
	while (fuzz_line(&p, end, &line, &len)) {
		if ((sp = memchr(line, ' ', len)) == NULL)
			continue;
		if (metadata_name((const char *)line, sp - line, name,
		    &why) == -1 || metadata_is_root(name))
			continue;
		sp++;
		if (line + len - sp == 1 && *sp == '-')
			r = metadata_set(&md, name, NULL, 0);
		else
			r = metadata_set(&md, name, (const char *)sp,
			    line + len - sp);
		FUZZ_ASSERT(r == 0 || r == METADATA_TOOBIG ||
		    r == METADATA_TOOMANY);
		check(&md);
	}
	if (metadata_save(dir, METADATA_FILE, &md) == -1)
		fuzz_fail("metadata_save");
	if (metadata_load(dir, METADATA_FILE, &again) == -1)
		fuzz_fail("metadata_load again");
	check(&again);
	same(&md, &again);
	metadata_free(&again);
	metadata_free(&md);
	return 0;
}
