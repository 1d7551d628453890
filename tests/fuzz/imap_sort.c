/*
 * SORT and THREAD (imap_sort.c, imap_thread.c, unicase.c): the input's
 * first byte chooses the sort criteria (bits 0-3: the first key, bit 4:
 * REVERSE, bit 5: a SUBJECT second key) and whether UIDs are written
 * (bit 6); the rest is messages, header blocks separated by "\n--\n",
 * at most MSG_MAX of them.  Each header's keys are made and parsed, the
 * messages sorted by the criteria and threaded both ways; each Subject:
 * value also goes through base-subject extraction alone.
 *
 * Properties: a blob is at most SORT_BLOB_MAX bytes and parses; its
 * string keys are at most SORT_KEY_MAX bytes; the sort is a
 * permutation; both THREAD answers name every message exactly once,
 * with balanced parentheses; a base subject is no longer than its
 * decoded subject may be.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "fuzz.h"
#include "imap_sort.h"
#include "mime.h"

#define MSG_MAX		64

static void	 check_thread(const char *, size_t, int, int);

/* Each of 1..n (or 1001..1000+n) once, parentheses balanced. */
static void
check_thread(const char *s, size_t n, int uid, int refs)
{
	unsigned char	 seen[MSG_MAX];
	const char	*p;
	char		*e;
	long		 v;
	int		 depth = 0;
	size_t		 count = 0;

	memset(seen, 0, sizeof(seen));
	for (p = s; *p != '\0'; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')') {
			if (--depth < 0)
				fuzz_fail("THREAD %d: ')' too many: %s", refs,
				    s);
		} else if (*p >= '0' && *p <= '9') {
			v = strtol(p, &e, 10);
			p = e - 1;
			v -= uid ? 1000 : 0;
			if (v < 1 || (size_t)v > n || seen[v - 1]++)
				fuzz_fail("THREAD %d: %ld out of place: %s",
				    refs, v, s);
			count++;
		} else if (*p != ' ')
			fuzz_fail("THREAD %d: '%c' in %s", refs, *p, s);
	}
	if (depth != 0 || count != n)
		fuzz_fail("THREAD %d: %zu of %zu messages, depth %d: %s", refs,
		    count, n, depth, s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sort_item	 it[MSG_MAX];
	struct sort_blob	*sb[MSG_MAX];
	struct sort_crit	 crit[2];
	struct mbuf		 out, base;
	const char		*val;
	char			*buf, *m, *next, *blob;
	unsigned char		 seen[MSG_MAX];
	size_t			 n = 0, i, len, vlen;
	int			 mode, reply;

	if (size < 1)
		return 0;
	mode = data[0];
	buf = fuzz_strndup(data + 1, size - 1);
	for (m = buf; m != NULL && n < MSG_MAX; m = next) {
		if ((next = strstr(m, "\n--\n")) != NULL) {
			*next = '\0';
			next += 4;
		}
		len = strlen(m);
		blob = sort_keys_make(m, len, 1000000 + (int64_t)(n % 3), &len);
		FUZZ_ASSERT(len <= SORT_BLOB_MAX);
		if ((sb[n] = sort_blob_new(blob, len)) == NULL)
			fuzz_fail("keys do not parse");
		free(blob);
		FUZZ_ASSERT(strlen(sb[n]->k.subject) <= SORT_KEY_MAX &&
		    strlen(sb[n]->k.from) <= SORT_KEY_MAX &&
		    strlen(sb[n]->k.dto) <= SORT_KEY_MAX &&
		    sb[n]->k.nrefs <= SORT_REFS_NMAX);
		memset(&it[n], 0, sizeof(it[n]));
		it[n].seq = n + 1;
		it[n].uid = 1000 + n + 1;
		it[n].arrival = (int64_t)(n % 4);
		it[n].size = (uint64_t)(len % 7);
		it[n].k = sb[n]->k;
		if (mime_header_find(m, strlen(m), "Subject", &val, &vlen)) {
			memset(&base, 0, sizeof(base));
			sort_base_subject(&base, val, vlen, &reply);
			FUZZ_ASSERT(base.len <= 2 * vlen + 1);
			mbuf_free(&base);
		}
		n++;
	}

	crit[0].key = (enum sort_key)((mode & 0x0f) % (SORT_DISPLAYTO + 1));
	crit[0].reverse = (mode & 0x10) != 0;
	crit[1].key = SORT_SUBJECT;
	crit[1].reverse = 0;
	sort_items(it, n, crit, (mode & 0x20) ? 2 : 1);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < n; i++)
		if (it[i].seq < 1 || it[i].seq > n || seen[it[i].seq - 1]++)
			fuzz_fail("the sort is no permutation");
	/* Back to mailbox order, which THREAD is given. */
	crit[0].key = SORT_ARRIVAL;
	crit[0].reverse = 0;
	for (i = 0; i < n; i++)
		it[i].arrival = 0;
	sort_items(it, n, crit, 1);
	for (i = 0; i < n; i++) {
		FUZZ_ASSERT(it[i].seq == i + 1);
		it[i].arrival = (int64_t)(i % 4);
	}

	memset(&out, 0, sizeof(out));
	mbuf_add(&out, "", 0);
	thread_references(&out, it, n, (mode & 0x40) != 0);
	check_thread(out.data, n, (mode & 0x40) != 0, 1);
	out.len = 0;
	mbuf_add(&out, "", 0);
	thread_orderedsubject(&out, it, n, (mode & 0x40) != 0);
	check_thread(out.data, n, (mode & 0x40) != 0, 0);
	mbuf_free(&out);

	for (i = 0; i < n; i++)
		free(sb[i]);
	free(buf);
	return 0;
}
