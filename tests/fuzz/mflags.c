/*
 * Maildir flags (mflags.c): file names as readdir() returns them from a
 * Maildir the user (and other programs) write into, and the
 * dovecot-keywords file of a mailbox.  The input's first line is a file
 * name, the second a keyword a client STOREs, the rest the keywords
 * file (written into the fuzzer's private temporary directory).
 *
 * Properties: a parsed name builds back into a name that parses to the
 * same base and flags; the ",S=" size hint never reads past the name; a
 * keywords file that loads holds valid, distinct names found by lookup;
 * FLAGS rendered from it are well-formed IMAP.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "mflags.h"

static void	 name(const char *);
static void	 keywords(const uint8_t *, size_t, const char *);

static void
name(const char *fname)
{
	struct mflags	 f, g;
	char		 base[MFLAGS_NAME_MAX + 1], base2[MFLAGS_NAME_MAX + 1];
	char		 built[MFLAGS_NAME_MAX + 1];
	uint64_t	 size;

	(void)mflags_size(fname, &size);
	if (mflags_parse(fname, base, sizeof(base), &f) == -1)
		return;
	FUZZ_ASSERT(strlen(base) <= strlen(fname));
	if (mflags_build(base, &f, built, sizeof(built)) == -1)
		return;
	if (mflags_parse(built, base2, sizeof(base2), &g) == -1)
		fuzz_fail("built name \"%s\" does not parse", built);
	FUZZ_ASSERT(strcmp(base, base2) == 0);
	FUZZ_ASSERT(f.sys == g.sys && f.kw == g.kw);
	/* Build drops what a name cannot hold; nothing else. */
	FUZZ_ASSERT(strlen(g.other) <= strlen(f.other));
}

static void
keywords(const uint8_t *data, size_t size, const char *store)
{
	struct mflags_keywords	 kw;
	struct mflags		 f;
	char			 out[8192];
	int			 i, j, r;

	fuzz_file(MFLAGS_KW_FILE, data, size);
	r = mflags_kw_load(fuzz_tmpdir(), &kw);
	if (r != MFLAGS_KW_OK) {
		FUZZ_ASSERT(r == MFLAGS_KW_CORRUPT);
		for (i = 0; i < MFLAGS_KW_MAX; i++)
			FUZZ_ASSERT(kw.name[i] == NULL);
		return;
	}
	for (i = 0; i < MFLAGS_KW_MAX; i++) {
		if (kw.name[i] == NULL)
			continue;
		FUZZ_ASSERT(mflags_kw_valid(kw.name[i]));
		FUZZ_ASSERT(mflags_kw_lookup(&kw, kw.name[i]) == i);
		for (j = 0; j < i; j++)
			FUZZ_ASSERT(kw.name[j] == NULL ||
			    strcasecmp(kw.name[i], kw.name[j]) != 0);
	}
	r = mflags_kw_assign(&kw, store);
	if (r >= 0)
		FUZZ_ASSERT(mflags_kw_lookup(&kw, store) == r);
	else
		FUZZ_ASSERT(r == MFLAGS_KW_INVALID || r == MFLAGS_KW_FULL);
	memset(&f, 0, sizeof(f));
	f.sys = MFLAG_SEEN | MFLAG_DRAFT | MFLAG_RECENT;
	f.kw = 0x3ffffff;
	if (mflags_render(&f, &kw, out, sizeof(out)) == 0 &&
	    !fuzz_imap_wellformed(out, strlen(out),
	    FUZZ_IMAP_FLAGS))
		fuzz_fail("FLAGS %s is not well-formed IMAP", out);
	(void)mflags_kw_count(&kw);
	mflags_kw_free(&kw);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*p = data, *end = data + size, *l;
	char		*fname, *store;
	size_t		 len;

	if (!fuzz_line(&p, end, &l, &len))
		return 0;
	fname = fuzz_strndup(l, len);
	name(fname);
	if (fuzz_line(&p, end, &l, &len)) {
		store = fuzz_strndup(l, len);
		(void)mflags_imap_flag(store);
		keywords(p, end - p, store);
		free(store);
	}
	free(fname);
	return 0;
}
