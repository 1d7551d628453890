/*
 * Quotas (quota.c): the maildirsize file of a Maildir, which the user's
 * mail client (and any program with access) can write, and the values
 * of a quota table.  The first byte chooses: even, the rest is a
 * maildirsize file, parsed and then opened in a Maildir root (the
 * fuzzer's private temporary directory, no messages in it); odd, the
 * rest is a table value, then a storage and a message limit, then a
 * Maildir file name.
 *
 * Properties: a file that parses formats back to the same limits and
 * usage; opened with its own limits, the usage is the file's when it
 * is trusted, the (empty) Maildir's when it is recalculated, and the
 * file is then one that parses; limits that parse are within bounds.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "quota.h"
#include "util.h"

static void	 tmp_cleanup(void);
static void	 do_file(const uint8_t *, size_t);
static void	 do_values(const uint8_t *, size_t);

static char	 tmpsub[4096];

static void
tmp_cleanup(void)
{
	(void)rmdir(tmpsub);
}

static void
do_file(const uint8_t *data, size_t size)
{
	struct quota_limits	 hdr, lim = { 1000, 10 };
	struct quota_usage	 use, use2;
	struct quota_txn	 q;
	char			 buf[128], err[512], path[4096], *again;
	size_t			 n, n2, len;
	int			 parsed, r, fd;

	parsed = quota_file_parse((const char *)data, size, &hdr, &use,
	    &n) == 0;
	if (parsed) {
		FUZZ_ASSERT(n > 0);
		r = quota_file_format(buf, sizeof(buf), &hdr, &use);
		FUZZ_ASSERT(r > 0);
		FUZZ_ASSERT(quota_file_parse(buf, (size_t)r, &lim, &use2,
		    &n2) == 0);
		FUZZ_ASSERT(lim.storage == hdr.storage &&
		    lim.messages == hdr.messages && use2.bytes == use.bytes &&
		    use2.count == use.count && n2 == 1);
	}
	fuzz_file(QUOTA_FILE, data, size);
	if (!parsed)
		hdr = lim;
	if (quota_open(&q, fuzz_tmpdir(), &hdr, err, sizeof(err)) == -1)
		fuzz_fail("quota_open: %s", err);
	if (q.scanned)
		FUZZ_ASSERT(q.use.bytes == 0 && q.use.count == 0);
	else
		FUZZ_ASSERT(parsed && size < QUOTA_FILE_MAX &&
		    q.use.bytes == use.bytes && q.use.count == use.count);
	if (quota_add(&q, 10, 1, err, sizeof(err)) == -1)
		fuzz_fail("quota_add: %s", err);
	quota_close(&q);
	(void)snprintf(path, sizeof(path), "%s/%s", fuzz_tmpdir(),
	    QUOTA_FILE);
	if ((fd = open(path, O_RDONLY)) == -1)
		fuzz_fail("open %s", path);
	if ((again = read_fd(fd, 1024 * 1024, &len)) == NULL)
		fuzz_fail("read %s", path);
	close(fd);
	/* Rewritten: it parses and says what the open saw, plus the add. */
	if (q.scanned) {
		FUZZ_ASSERT(quota_file_parse(again, len, &lim, &use2,
		    &n2) == 0);
		FUZZ_ASSERT(use2.bytes == 10 && use2.count == 1 && n2 == 2);
	}
	free(again);
}

static void
do_values(const uint8_t *data, size_t size)
{
	struct quota_limits	 lim = { 7, 9 };
	char			*s, *p, *q, why[256];
	uint64_t		 v;

	s = fuzz_strndup(data, size);
	if ((p = strchr(s, '\n')) != NULL)
		*p++ = '\0';
	if (quota_parse_value(s, &lim, why, sizeof(why)) == 0)
		FUZZ_ASSERT(lim.storage <= QUOTA_SIZE_MAX &&
		    lim.messages <= QUOTA_COUNT_MAX);
	else
		FUZZ_ASSERT(lim.storage == 7 && lim.messages == 9 &&
		    why[0] != '\0');
	(void)quota_table_check(s, s, why, sizeof(why));
	if (p == NULL)
		goto done;
	if ((q = strchr(p, '\n')) != NULL)
		*q++ = '\0';
	if (quota_parse_size(p, &v, why, sizeof(why)) == 0)
		FUZZ_ASSERT(v <= QUOTA_SIZE_MAX);
	if (quota_parse_count(p, &v, why, sizeof(why)) == 0)
		FUZZ_ASSERT(v <= QUOTA_COUNT_MAX);
	if (q != NULL)
		(void)quota_name_size(q, &v);
 done:
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (tmpsub[0] == '\0') {
		/* Where a recalculated file is written before its rename. */
		(void)snprintf(tmpsub, sizeof(tmpsub), "%s/tmp",
		    fuzz_tmpdir());
		if (mkdir(tmpsub, 0700) == -1 && errno != EEXIST)
			fuzz_fail("mkdir %s", tmpsub);
		if (atexit(tmp_cleanup) != 0)
			fuzz_fail("atexit");
	}
	if (size < 1)
		return 0;
	if (data[0] & 1)
		do_values(data + 1, size - 1);
	else
		do_file(data + 1, size - 1);
	return 0;
}
