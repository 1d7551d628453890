/*
 * Offline files (enqueue.c): what maild-sendmail leaves in
 * <spool>/offline, a sticky directory every local user may write into,
 * and the parent reads back (offline.c) to submit as the file's owner.
 * The first two bytes give the message size limit, the rest is the
 * file, read from an fd as offline.c reads it.
 *
 * Properties: a file that is accepted has a sender that is empty or a
 * valid address in canonical form, 1 to ENQ_RCPT_MAX valid recipients,
 * and a message within the limit whose every LF follows a CR.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "enqueue.h"
#include "fuzz.h"

static void	 canonical(const char *);

static void
canonical(const char *s)
{
	struct mailaddr	 a;
	char		 buf[ADDR_MAX + 1];

	if (addr_parse(s, &a, ADDR_ALLOW_UTF8) == -1)
		fuzz_fail("\"%s\" is not an address", s);
	FUZZ_ASSERT(addr_to_text(&a, buf, sizeof(buf)) == 0);
	FUZZ_ASSERT(strcmp(buf, s) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct enq_msg	 msg;
	char		 err[256];
	size_t		 maxsize, i;
	int		 fd;

	if (size < 2)
		return 0;
	maxsize = data[0] * 256U + data[1];
	fd = fuzz_memfd(data + 2, size - 2);
	err[0] = '\0';
	if (enqueue_offline_read(fd, maxsize, &msg, err, sizeof(err)) == -1) {
		FUZZ_ASSERT(err[0] != '\0');
		FUZZ_ASSERT(msg.rcpts == NULL && msg.data == NULL);
		close(fd);
		return 0;
	}
	if (msg.sender[0] != '\0')
		canonical(msg.sender);
	FUZZ_ASSERT(msg.nrcpt >= 1 && msg.nrcpt <= ENQ_RCPT_MAX);
	for (i = 0; i < msg.nrcpt; i++)
		canonical(msg.rcpts[i]);
	FUZZ_ASSERT(msg.data != NULL && msg.len <= maxsize &&
	    msg.data[msg.len] == '\0');
	for (i = 0; i < msg.len; i++)
		if (msg.data[i] == '\n')
			FUZZ_ASSERT(i > 0 && msg.data[i - 1] == '\r');
	enqueue_msg_free(&msg);
	close(fd);
	return 0;
}
