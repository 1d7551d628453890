/*
 * The greylisting state file (greylist.c), as the queue process reads
 * it at start: whatever a crash, a full disk or a hand left in
 * <spool>/greylist.  The input is the file.
 *
 * Properties: every record read formats into a line that reads back as
 * the same record; replayed into a small table, the table never holds
 * more than its limit; what it holds, written out as a file with the
 * secret read, reads back whole: that many records, nothing refused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "greylist.h"

#define TABLE_MAX	64
#define NOW		1700000000

struct out {
	char	*buf;
	size_t	 len;
	size_t	 size;
};

static const struct grey_params gp = { 300, 2 * 86400, 35 * 86400 };
static struct greylist	*g;

static void	 record(const struct grey_rec *, void *);
static void	 put(const struct grey_rec *, void *);
static void	 count(const struct grey_rec *, void *);

static void
record(const struct grey_rec *r, void *arg)
{
	struct grey_rec	 r2;
	char		 line[GREY_LINE_MAX];
	size_t		 n;

	(void)arg;
	n = greylist_rec_format(r, line, sizeof(line));
	FUZZ_ASSERT(n > 1 && line[n - 1] == '\n');
	FUZZ_ASSERT(greylist_rec_parse(line, n - 1, &r2) == 0);
	FUZZ_ASSERT(memcmp(r, &r2, sizeof(r2)) == 0);
	(void)greylist_replay(g, r, NOW, &gp);
	FUZZ_ASSERT(greylist_count(g) <= TABLE_MAX);
}

static void
put(const struct grey_rec *r, void *arg)
{
	struct out	*o = arg;
	size_t		 n;

	if (o->size - o->len < GREY_LINE_MAX) {
		o->size = o->size * 2 + GREY_LINE_MAX;
		if ((o->buf = realloc(o->buf, o->size)) == NULL)
			abort();
	}
	n = greylist_rec_format(r, o->buf + o->len, o->size - o->len);
	FUZZ_ASSERT(n > 0);
	o->len += n;
}

static void
count(const struct grey_rec *r, void *arg)
{
	(void)r;
	(*(size_t *)arg)++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct grey_load	 ld, ld2;
	struct out		 o;
	uint8_t			 secret[GREY_SECRETLEN];
	uint8_t			 secret2[GREY_SECRETLEN];
	size_t			 n = 0;

	g = greylist_new(TABLE_MAX);
	(void)greylist_file_parse((const char *)data, size, secret, record,
	    NULL, &ld);
	FUZZ_ASSERT(ld.header || ld.records == 0);
	if (ld.header) {
		memset(&o, 0, sizeof(o));
		o.size = GREY_LINE_MAX;
		if ((o.buf = malloc(o.size)) == NULL)
			abort();
		o.len = greylist_header_format(secret, o.buf, o.size);
		FUZZ_ASSERT(o.len > 0);
		greylist_walk(g, put, &o);
		FUZZ_ASSERT(greylist_file_parse(o.buf, o.len, secret2, count,
		    &n, &ld2) == 0);
		FUZZ_ASSERT(ld2.records == greylist_count(g));
		FUZZ_ASSERT(n == ld2.records);
		FUZZ_ASSERT(memcmp(secret, secret2, sizeof(secret)) == 0);
		free(o.buf);
	}
	greylist_free(g);
	return 0;
}
