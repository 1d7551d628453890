/*
 * UID lists (uidlist.c): maild's own maild-uidlist and the
 * dovecot-uidlist imported on first open, read from a Maildir the user
 * owns (the files are input).  The first byte chooses which; the rest
 * is the file, written into the fuzzer's private temporary directory.
 *
 * Properties: a list that loads is sorted by UID below UIDNEXT with
 * MODSEQs up to HIGHESTMODSEQ, its names are valid base names (as a
 * scan of the Maildir would make them) and unique, its MAILBOXID a
 * valid objectid; saved and loaded again it is the same list.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "uidlist.h"

static int	 name_cmp(const void *, const void *);
static void	 check(const struct uidlist *);
static void	 same(const struct uidlist *, const struct uidlist *);

static int
name_cmp(const void *a, const void *b)
{
	const char *const	*x = a, *const *y = b;

	return strcmp(*x, *y);
}

static void
check(const struct uidlist *ul)
{
	struct uidlist_entry	*e;
	const char		**names;
	char			 base[UIDLIST_NAME_MAX + 1];
	size_t			 i;

	FUZZ_ASSERT(ul->uidvalidity != 0 && ul->uidnext != 0);
	FUZZ_ASSERT(uidlist_objectid_valid(ul->mailboxid,
	    strlen(ul->mailboxid)));
	if ((names = calloc(ul->n + 1, sizeof(*names))) == NULL)
		fuzz_fail("calloc");
	for (i = 0; i < ul->n; i++) {
		e = &ul->ent[i];
		FUZZ_ASSERT(e->uid > 0 && e->uid < ul->uidnext);
		FUZZ_ASSERT(e->modseq > 0 && e->modseq <= ul->highestmodseq);
		if (i > 0)
			FUZZ_ASSERT(ul->ent[i - 1].uid < e->uid);
		FUZZ_ASSERT(uidlist_basename(e->name, base, sizeof(base)) ==
		    0 && strcmp(base, e->name) == 0);
		names[i] = e->name;
	}
	qsort(names, ul->n, sizeof(*names), name_cmp);
	for (i = 1; i < ul->n; i++)
		FUZZ_ASSERT(strcmp(names[i - 1], names[i]) != 0);
	free(names);
}

static void
same(const struct uidlist *a, const struct uidlist *b)
{
	size_t	 i;

	FUZZ_ASSERT(a->uidvalidity == b->uidvalidity &&
	    a->uidnext == b->uidnext && a->n == b->n &&
	    a->highestmodseq == b->highestmodseq);
	FUZZ_ASSERT(strcmp(a->mailboxid, b->mailboxid) == 0);
	for (i = 0; i < a->n; i++) {
		FUZZ_ASSERT(a->ent[i].uid == b->ent[i].uid);
		FUZZ_ASSERT(a->ent[i].modseq == b->ent[i].modseq);
		FUZZ_ASSERT(strcmp(a->ent[i].name, b->ent[i].name) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uidlist	*ul, *again;
	const char	*dir = fuzz_tmpdir();
	int		 dovecot, r;

	if (size < 1)
		return 0;
	dovecot = data[0] & 1;
	fuzz_file(UIDLIST_FILE, NULL, 0);
	fuzz_file(UIDLIST_DOVECOT, NULL, 0);
	fuzz_file(dovecot ? UIDLIST_DOVECOT : UIDLIST_FILE, data + 1,
	    size - 1);
	if (dovecot)
		r = uidlist_import_dovecot(dir, &ul);
	else
		r = uidlist_load(dir, &ul);
	if (r != UIDLIST_OK) {
		FUZZ_ASSERT(r == UIDLIST_CORRUPT && ul == NULL);
		return 0;
	}
	check(ul);
	if (uidlist_save_nosync(ul) == -1)
		fuzz_fail("uidlist_save_nosync");
	if ((r = uidlist_load(dir, &again)) != UIDLIST_OK)
		fuzz_fail("a saved list does not load again (%d)", r);
	check(again);
	same(ul, again);
	uidlist_free(again);
	uidlist_free(ul);
	return 0;
}
