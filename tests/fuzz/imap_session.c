/*
 * Whole IMAP sessions (imap_session.c, imap_cmd_*.c, imap_idle.c) over
 * a real Maildir, in memory as the session unit tests run them: the
 * input is what a client sends.  Each input starts from the same home,
 * an INBOX with two messages (tests/data/session/), made afresh in the
 * private temporary directory, which is the cwd while the session runs
 * (as the vmail root is the imap process's) and only then: libFuzzer
 * reads and writes its corpus from its own.
 *
 * Input: byte 0's low bit logs in first (LOGIN, answered AUTH_OK, so
 * most inputs fuzz the authenticated states); bit 1 makes the listener
 * implicit TLS instead of STARTTLS; byte 1 seeds how lookup answers a
 * login the input makes (right, wrong, temporary failure); byte 2 is the
 * size of the pieces the rest arrives in (1 to 256 bytes, so lines and
 * literals are split anywhere).
 *
 * Properties: no request but the login check leaves the session; every
 * line the client gets ends in CRLF (literals aside, which the check
 * skips by their announced size) and starts with "* ", "+ " or a tag;
 * once the client has gone, the session has ended (mailbox closed,
 * every buffer and timer freed).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/session_fake.h"
#include "config.h"
#include "fuzz.h"
#include "imap.h"
#include "io.h"
#include "ipc.h"
#include "log.h"
#include "maild.h"
#include "proc.h"
#include "server.h"
#include "uidlist.h"
#include "util.h"

#define USER	"alice@example.org"
#define HOME	"example.org/alice"	/* as lookup gives it, relative */
#define DATA	"tests/data/session/"

int	LLVMFuzzerInitialize(int *, char ***);

static uint32_t			 rnd;	/* lookup's next choice */
static struct listener		 lis;
static struct sockaddr_storage	 client;
static char			 top[PATH_MAX], home[PATH_MAX];
static int			 cwdfd = -1;
static char			*msgs[2];
static size_t			 msglen[2];

static int	 rm_cb(const char *, const struct stat *, int, struct FTW *);
static void	 home_reset(void);
static void	 home_remove(void);
static void	 answer(void);
static void	 check_output(struct io_mem *);

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	(void)remove(path);
	return 0;
}

static void
home_remove(void)
{
	char	 path[PATH_MAX];

	(void)nftw(top, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	/* The UIDVALIDITY counter the sessions keep in the vmail root. */
	(void)snprintf(path, sizeof(path), "%s/%s", fuzz_tmpdir(),
	    UIDLIST_STATE);
	(void)unlink(path);
}

/* The same INBOX for every input: two messages, one seen, one new. */
static void
home_reset(void)
{
	static const char *const subs[] = { "", "/cur", "/new", "/tmp" };
	static const char *const files[] = { "/cur/1700000000.M1P1.fuzz:2,S",
	    "/new/1700000001.M2P1.fuzz" };
	char	 path[PATH_MAX];
	size_t	 i;
	int	 fd;

	home_remove();
	if (mkdir(top, 0700) == -1)
		fuzz_fail("mkdir %s: %s", top, strerror(errno));
	for (i = 0; i < nitems(subs); i++) {
		(void)snprintf(path, sizeof(path), "%s%s", home, subs[i]);
		if (mkdir(path, 0700) == -1)
			fuzz_fail("mkdir %s: %s", path, strerror(errno));
	}
	for (i = 0; i < nitems(files); i++) {
		(void)snprintf(path, sizeof(path), "%s%s", home, files[i]);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC,
		    0600)) == -1 || write_full(fd, msgs[i], msglen[i]) == -1)
			fuzz_fail("%s: %s", path, strerror(errno));
		close(fd);
	}
}

/* Lookup's answer to a login check the input makes. */
static void
answer(void)
{
	static const uint32_t res[] = { AUTH_OK, AUTH_OK, AUTH_FAIL,
	    AUTH_TEMPFAIL };

	rnd = rnd * 1103515245U + 12345U;
	imap_session_auth_result(fake.reqid, res[(rnd >> 16) % nitems(res)],
	    fake.authuser, HOME);
}

/*
 * Every line: "* ", "+ " or a tag and a space, then text to CRLF; a
 * literal {n} at a line's end is skipped whole.
 */
static void
check_output(struct io_mem *m)
{
	const char	*p, *end, *eol, *brace;
	unsigned long	 n;
	char		*q;
	int		 cont = 0;

	if (m->out == NULL)
		return;
	if (getenv("FUZZ_SHOW") != NULL)	/* to look at */
		fwrite(m->out, 1, m->outlen, stderr);
	p = m->out;
	end = m->out + m->outlen;
	while (p < end) {
		FUZZ_ASSERT((eol = memmem(p, end - p, "\r\n", 2)) != NULL);
		if (!cont) {
			FUZZ_ASSERT(eol > p && p[0] != ' ');
			FUZZ_ASSERT(memchr(p, ' ', eol - p) != NULL ||
			    (p[0] == '+' && eol == p + 1));
		}
		cont = 0;
		/* A literal at the end of the line; the line goes on after. */
		if (eol > p && eol[-1] == '}' &&
		    (brace = memrchr(p, '{', eol - p)) != NULL &&
		    brace + 1 < eol - 1) {
			n = strtoul(brace + 1, &q, 10);
			if (q == eol - 1) {
				FUZZ_ASSERT(n <= (size_t)(end - eol - 2));
				p = eol + 2 + n;
				cont = 1;
				continue;
			}
		}
		p = eol + 2;
	}
	fake_out_clear(m);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*names[2] = { DATA "first.eml", DATA "second.eml" };
	int		 fd, i;

	(void)argc;
	(void)argv;
	for (i = 0; i < 2; i++) {
		if ((fd = open(names[i], O_RDONLY)) == -1 ||
		    (msgs[i] = read_fd(fd, 1 << 20, &msglen[i])) == NULL)
			fuzz_fail("%s: %s (run from the top of the tree)",
			    names[i], strerror(errno));
		close(fd);
	}
	log_init(0, 0);
	(void)event_init();
	fake_setup(&lis, PROTO_IMAP, 993, &client);
	(void)snprintf(top, sizeof(top), "%s/example.org", fuzz_tmpdir());
	(void)snprintf(home, sizeof(home), "%s/" HOME, fuzz_tmpdir());
	if ((cwdfd = open(".", O_RDONLY | O_DIRECTORY)) == -1)
		fuzz_fail("open .: %s", strerror(errno));
	atexit(home_remove);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char	 login[] = "l LOGIN " USER " secret\r\n";
	struct io_mem		 m;

	if (size < 3 || size > 256 * 1024)
		return 0;
	fake_init(PROC_IMAP);
	fake.answer = answer;
	rnd = data[1];
	lis.flags = (data[0] & 2) ? L_IMAPS : L_TLS;
	home_reset();
	if (chdir(fuzz_tmpdir()) == -1)
		fuzz_fail("chdir: %s", strerror(errno));

	memset(&m, 0, sizeof(m));
	imap_session_new(io_new_mem(&m, 0), &lis, &client, &fake_env);
	fake_pump(&m);
	if (data[0] & 1) {
		if (!(lis.flags & L_IMAPS)) {
			io_mem_send(&m, "s STARTTLS\r\n", 12);
			fake_pump(&m);
		}
		io_mem_send(&m, login, sizeof(login) - 1);
		io_mem_run(&m);
		FUZZ_ASSERT(fake.pending);
		fake.pending = 0;
		imap_session_auth_result(fake.reqid, AUTH_OK, USER, HOME);
		fake_pump(&m);
	}
	check_output(&m);
	fake_feed(&m, data + 3, size - 3, 1 + data[2], check_output);
	FUZZ_ASSERT(m.io == NULL && fake.gone == 1 && fake.tls_refs == 0 &&
	    fake.sent == 0);
	io_mem_free(&m);
	if (fchdir(cwdfd) == -1)
		fuzz_fail("fchdir: %s", strerror(errno));
	return 0;
}
