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
 * literals are split anywhere).  Once the session has accepted COMPRESS
 * DEFLATE, the client (this target) decompresses what it gets and
 * compresses the pieces it sends after the one that carried the
 * command, so the rest of the input is IMAP through DEFLATE; with byte
 * 0's bit 2 it sends them as they are instead (the decompressor fuzzed).
 *
 * Properties: no request but the login check leaves the session; every
 * line the client gets ends in CRLF (literals aside, which the check
 * skips by their announced size) and starts with "* ", "+ " or a tag;
 * after COMPRESS, what the session sends is one valid DEFLATE stream
 * whose every write is flushed (it inflates whole at each check); once
 * the client has gone, the session has ended (mailbox closed, every
 * buffer and timer freed).
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
#include <zlib.h>

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

/* The client's side of COMPRESS=DEFLATE. */
static struct {
	int		 on;
	int		 raw;		/* input not compressed by us */
	z_stream	 c, d;
	char		*buf;		/* scratch, both ways */
	size_t		 size;
} zp;

static int	 rm_cb(const char *, const struct stat *, int, struct FTW *);
static void	 home_reset(void);
static void	 home_remove(void);
static void	 answer(void);
static void	 check_output(struct io_mem *);
static void	 check_lines(const char *, size_t);
static void	 zp_grow(size_t);
static void	 zp_end(void);
static void	 feed(struct io_mem *, const uint8_t *, size_t, size_t);

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

/* The scratch buffer at least n bytes, what it holds kept. */
static void
zp_grow(size_t n)
{
	char	*p;

	if (zp.size < n) {
		if ((p = realloc(zp.buf, n)) == NULL)
			fuzz_fail("realloc");
		zp.buf = p;
		zp.size = n;
	}
}

static void
zp_end(void)
{
	if (zp.on) {
		(void)deflateEnd(&zp.c);
		(void)inflateEnd(&zp.d);
	}
	zp.on = 0;
}

/*
 * What the session wrote, as the client reads it: the plain part, and
 * after the OK to COMPRESS the rest inflated.
 */
static void
check_output(struct io_mem *m)
{
	static const char	 ok[] = " OK DEFLATE active\r\n";
	const char		*p, *z = NULL;
	size_t			 have = 0;
	int			 r;

	if (m->out == NULL)
		return;
	if (!zp.on && (p = memmem(m->out, m->outlen, ok, sizeof(ok) - 1)) !=
	    NULL) {
		z = p + sizeof(ok) - 1;
		check_lines(m->out, z - m->out);
		if (deflateInit2(&zp.c, 6, Z_DEFLATED, -15, 8,
		    Z_DEFAULT_STRATEGY) != Z_OK || inflateInit2(&zp.d, -15) !=
		    Z_OK)
			fuzz_fail("zlib init");
		zp.on = 1;
	} else if (zp.on)
		z = m->out;
	if (z == NULL) {
		check_lines(m->out, m->outlen);
		fake_out_clear(m);
		return;
	}
	zp.d.next_in = (Bytef *)(uintptr_t)z;
	zp.d.avail_in = m->out + m->outlen - z;
	do {
		zp_grow(2 * have + 65536);
		zp.d.next_out = (Bytef *)zp.buf + have;
		zp.d.avail_out = zp.size - have;
		r = inflate(&zp.d, Z_SYNC_FLUSH);
		FUZZ_ASSERT(r == Z_OK || (r == Z_BUF_ERROR &&
		    zp.d.avail_in == 0));
		have = zp.size - zp.d.avail_out;
	} while (zp.d.avail_in > 0 || zp.d.avail_out == 0);
	check_lines(zp.buf, have);
	fake_out_clear(m);
}

/*
 * Every line: "* ", "+ " or a tag and a space, then text to CRLF; a
 * literal {n} at a line's end is skipped whole.
 */
static void
check_lines(const char *out, size_t len)
{
	const char	*p, *end, *eol, *brace;
	unsigned long	 n;
	char		*q;
	int		 cont = 0;

	if (getenv("FUZZ_SHOW") != NULL)	/* to look at */
		fwrite(out, 1, len, stderr);
	p = out;
	end = out + len;
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
}

/* fake_feed(), compressing the pieces once COMPRESS is on. */
static void
feed(struct io_mem *m, const uint8_t *data, size_t size, size_t chunk)
{
	size_t	 i, n;
	int	 k;

	for (i = 0; i < size && m->io != NULL; i += n) {
		n = size - i < chunk ? size - i : chunk;
		if (!zp.on || zp.raw)
			io_mem_send(m, data + i, n);
		else {
			zp_grow(deflateBound(&zp.c, n) + 16);
			zp.c.next_in = (Bytef *)(uintptr_t)(data + i);
			zp.c.avail_in = n;
			zp.c.next_out = (Bytef *)zp.buf;
			zp.c.avail_out = zp.size;
			if (deflate(&zp.c, Z_SYNC_FLUSH) != Z_OK ||
			    zp.c.avail_in != 0)
				fuzz_fail("deflate");
			io_mem_send(m, zp.buf, zp.size - zp.c.avail_out);
		}
		fake_pump(m);
		check_output(m);
	}
	if (m->io != NULL) {
		io_mem_close(m);
		fake_pump(m);
	}
	for (k = 0; k < 10 && m->io != NULL; k++) {
		io_mem_timeout(m);
		fake_pump(m);
	}
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
	zp.raw = (data[0] & 4) != 0;
	check_output(&m);
	feed(&m, data + 3, size - 3, 1 + data[2]);
	FUZZ_ASSERT(m.io == NULL && fake.gone == 1 && fake.tls_refs == 0 &&
	    fake.sent == 0);
	zp_end();
	io_mem_free(&m);
	if (fchdir(cwdfd) == -1)
		fuzz_fail("fchdir: %s", strerror(errno));
	return 0;
}
