/*
 * COMPRESS=DEFLATE (RFC 4978) driven in memory: an IMAP session on an
 * io_mem connection, the test its client with a zlib compressor and
 * decompressor of its own (raw DEFLATE, as RFC 4978 has it).  Covered:
 * the capability after login only, the command's answers (BAD before
 * login and for another mechanism, NO [COMPRESSIONACTIVE] the second
 * time), the tagged OK itself in plain text, commands pipelined behind
 * COMPRESS, an APPEND literal and a FETCH bigger than the buffers, IDLE
 * updates flushed out of the compressor at once, a decompression bomb
 * bounded by the line limit, invalid compressed input and a client that
 * ends its stream.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <event.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "config.h"
#include "imap.h"
#include "io.h"
#include "log.h"
#include "maild.h"
#include "proc.h"
#include "server.h"
#include "session_fake.h"
#include "tap.h"

#define HOME	"example.org/alice"
#define USER	"alice@example.org"

/* The client: its connection, and both directions of its DEFLATE. */
struct zclient {
	struct io_mem	 m;
	z_stream	 c;		/* what we send */
	z_stream	 d;		/* what the session sends */
	int		 on;
	char		*plain;		/* decompressed answer */
	size_t		 plen, psize;
};

static struct listener	 lis;
static struct sockaddr_storage client;

static void	 zc_login(struct zclient *);
static void	 zc_on(struct zclient *);
static void	 zc_free(struct zclient *);
static size_t	 zc_deflate(struct zclient *, const void *, size_t, int,
		    char **);
static const char *zc_inflate(struct zclient *, const char *, size_t);
static const char *zsay_n(struct zclient *, const void *, size_t);
static const char *zsay(struct zclient *, const char *);
static char	*big_message(size_t, size_t *);
static int	 rm_cb(const char *, const struct stat *, int, struct FTW *);
static void	 test_command(void);
static void	 test_pipelined(void);
static void	 test_big(void);
static void	 test_idle(void);
static void	 test_bomb(void);
static void	 test_bad_stream(void);

/* A session on a STARTTLS listener, logged in as alice. */
static void
zc_login(struct zclient *zc)
{
	memset(zc, 0, sizeof(*zc));
	lis.flags = L_TLS;
	imap_session_new(io_new_mem(&zc->m, 0), &lis, &client, &fake_env);
	io_mem_run(&zc->m);
	(void)say(&zc->m, "t STARTTLS\r\n");
	(void)say(&zc->m, "l LOGIN " USER " secret\r\n");
	fake_out_clear(&zc->m);
	fake.pending = 0;
	imap_session_auth_result(fake.reqid, AUTH_OK, fake.authuser, HOME);
	io_mem_run(&zc->m);
	if (!has(fake_out(&zc->m), "l OK "))
		ok(0, "login");
}

/* Our side of the compression, once the session has said OK. */
static void
zc_on(struct zclient *zc)
{
	if (deflateInit2(&zc->c, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK || inflateInit2(&zc->d, -15) != Z_OK)
		fatalx("zlib init");
	zc->on = 1;
}

static void
zc_free(struct zclient *zc)
{
	if (zc->on) {
		(void)deflateEnd(&zc->c);
		(void)inflateEnd(&zc->d);
	}
	free(zc->plain);
	io_mem_free(&zc->m);
}

/* data compressed (flush: Z_SYNC_FLUSH, Z_FINISH) into *out (malloc). */
static size_t
zc_deflate(struct zclient *zc, const void *data, size_t len, int flush,
    char **out)
{
	size_t	 size = len + len / 100 + 64;

	if ((*out = malloc(size)) == NULL)
		fatal("malloc");
	zc->c.next_in = (Bytef *)(uintptr_t)data;
	zc->c.avail_in = len;
	zc->c.next_out = (Bytef *)*out;
	zc->c.avail_out = size;
	if (deflate(&zc->c, flush) == Z_STREAM_ERROR ||
	    zc->c.avail_in != 0 || zc->c.avail_out == 0)
		fatalx("deflate");
	return size - zc->c.avail_out;
}

/* The session's compressed output, decompressed; "" on a bad stream. */
static const char *
zc_inflate(struct zclient *zc, const char *wire, size_t len)
{
	int	 r;

	zc->plen = 0;
	zc->d.next_in = (Bytef *)(uintptr_t)wire;
	zc->d.avail_in = len;
	do {
		if (zc->psize - zc->plen < 65536) {
			zc->psize = zc->psize ? 2 * zc->psize : 65536;
			if ((zc->plain = realloc(zc->plain, zc->psize)) ==
			    NULL)
				fatal("realloc");
		}
		zc->d.next_out = (Bytef *)zc->plain + zc->plen;
		zc->d.avail_out = zc->psize - zc->plen - 1;
		r = inflate(&zc->d, Z_SYNC_FLUSH);
		zc->plen = zc->psize - 1 - zc->d.avail_out;
		if (r != Z_OK && r != Z_BUF_ERROR) {
			zc->plen = 0;
			break;
		}
	} while (zc->d.avail_in > 0 || zc->d.avail_out == 0);
	if (zc->plain == NULL)
		return "";
	zc->plain[zc->plen] = '\0';
	return zc->plain;
}

/* Send data compressed, return the answer decompressed. */
static const char *
zsay_n(struct zclient *zc, const void *data, size_t len)
{
	char	*wire;
	size_t	 n;

	n = zc_deflate(zc, data, len, Z_SYNC_FLUSH, &wire);
	fake_out_clear(&zc->m);
	io_mem_send(&zc->m, wire, n);
	free(wire);
	return zc_inflate(zc, zc->m.out, zc->m.outlen);
}

static const char *
zsay(struct zclient *zc, const char *text)
{
	return zsay_n(zc, text, strlen(text));
}

/* A message of about len bytes, lines that compress well but not all. */
static char *
big_message(size_t len, size_t *outlen)
{
	static const char	 abc[] = "abcdefghijklmnopqrstuvwxyz0123456789"
				    "ABCD";
	char			*p;
	size_t			 i;

	if ((p = malloc(len + 100)) == NULL)
		fatal("malloc");
	i = snprintf(p, len, "Subject: big\r\n\r\n");
	while (i + 80 <= len)
		i += snprintf(p + i, 81, "line %08zu of a big message, "
		    "%.40s\r\n", i, &abc[i % 37]);
	*outlen = i;
	return p;
}

static void
test_command(void)
{
	struct zclient	 zc;
	char		 wire[64];
	size_t		 n;

	memset(&zc, 0, sizeof(zc));
	lis.flags = L_TLS;
	imap_session_new(io_new_mem(&zc.m, 0), &lis, &client, &fake_env);
	io_mem_run(&zc.m);
	ok(strstr(fake_out(&zc.m), "COMPRESS") == NULL,
	    "greeting: no COMPRESS before login");
	(void)say(&zc.m, "t STARTTLS\r\n");
	ok(has(say(&zc.m, "c COMPRESS DEFLATE\r\n"), "c BAD Log in first"),
	    "COMPRESS before login: BAD");
	ok(has(say(&zc.m, "n NOOP\r\n"), "n OK NOOP completed"),
	    "... and the session goes on in plain text");
	io_mem_free(&zc.m);

	zc_login(&zc);
	ok(has(say(&zc.m, "k CAPABILITY\r\n"), " COMPRESS=DEFLATE"),
	    "CAPABILITY after login: COMPRESS=DEFLATE");
	ok(has(say(&zc.m, "c COMPRESS\r\n"), "c BAD "),
	    "COMPRESS without a mechanism: BAD");
	ok(has(say(&zc.m, "c COMPRESS GZIP\r\n"), "c BAD Unknown "),
	    "COMPRESS GZIP: BAD");
	ok(has(say(&zc.m, "c COMPRESS DEFLATE X\r\n"), "c BAD "),
	    "COMPRESS with two arguments: BAD");
	ok(strcmp(say(&zc.m, "c COMPRESS deflate\r\n"),
	    "c OK DEFLATE active\r\n") == 0,
	    "COMPRESS DEFLATE: the tagged OK in plain text, nothing after");
	zc_on(&zc);
	ok(strcmp(zsay(&zc, "n NOOP\r\n"), "n OK NOOP completed\r\n") == 0,
	    "a compressed NOOP, a compressed answer");
	ok(strcmp(zsay(&zc, "c COMPRESS DEFLATE\r\n"), "c NO "
	    "[COMPRESSIONACTIVE] DEFLATE active already\r\n") == 0,
	    "COMPRESS again: NO [COMPRESSIONACTIVE]");
	/* A command in pieces: half a line, then the rest. */
	ok(strcmp(zsay(&zc, "s SELECT IN"), "") == 0 &&
	    has(zsay(&zc, "BOX\r\n"), "s OK [READ-WRITE]"),
	    "a command line over two compressed pieces");
	ok(has(zsay(&zc, "z LOGOUT\r\n"), "z OK Logout completed") &&
	    zc.m.io == NULL, "LOGOUT over DEFLATE ends the session");
	zc_free(&zc);

	/* A plain command behind COMPRESS is not DEFLATE: the end. */
	zc_login(&zc);
	n = snprintf(wire, sizeof(wire), "c COMPRESS DEFLATE\r\nn NOOP\r\n");
	fake_out_clear(&zc.m);
	io_mem_send(&zc.m, wire, n);
	ok(strcmp(fake_out(&zc.m), "c OK DEFLATE active\r\n") == 0 &&
	    zc.m.io == NULL, "plain text after COMPRESS: OK, then closed");
	zc_free(&zc);
}

/* Commands sent behind COMPRESS in the same write. */
static void
test_pipelined(void)
{
	struct zclient	 zc;
	const char	*cmds = "p1 NOOP\r\np2 SELECT INBOX\r\np3 NOOP\r\n";
	const char	*lf;
	char		*wire, *buf;
	size_t		 n, head;

	zc_login(&zc);
	zc_on(&zc);
	n = zc_deflate(&zc, cmds, strlen(cmds), Z_SYNC_FLUSH, &wire);
	head = strlen("c COMPRESS DEFLATE\r\n");
	if ((buf = malloc(head + n)) == NULL)
		fatal("malloc");
	memcpy(buf, "c COMPRESS DEFLATE\r\n", head);
	memcpy(buf + head, wire, n);
	fake_out_clear(&zc.m);
	io_mem_send(&zc.m, buf, head + n);
	free(wire);
	free(buf);
	lf = zc.m.out != NULL ? strstr(zc.m.out, "\r\n") : NULL;
	ok(lf != NULL && strncmp(zc.m.out, "c OK DEFLATE active\r\n",
	    lf + 2 - zc.m.out) == 0, "pipelined: the OK in plain text");
	if (lf == NULL)
		lf = "\r\n";
	zc_inflate(&zc, lf + 2, zc.m.out != NULL ? zc.m.outlen -
	    (lf + 2 - zc.m.out) : 0);
	ok(zc.plen > 0 && strncmp(zc.plain, "p1 OK NOOP completed\r\n", 22) ==
	    0 && has(zc.plain, "p2 OK [READ-WRITE]") &&
	    has(zc.plain, "p3 OK NOOP completed\r\n"),
	    "the commands behind it read as compressed, all answered");
	(void)zsay(&zc, "z LOGOUT\r\n");
	zc_free(&zc);
}

/* An APPEND literal and a FETCH answer many times the buffers. */
static void
test_big(void)
{
	struct zclient	 zc;
	const char	*r, *p;
	char		*msg, head[128], lit[64];
	size_t		 len, n;

	msg = big_message(1024 * 1024, &len);
	zc_login(&zc);
	(void)say(&zc.m, "c COMPRESS DEFLATE\r\n");
	zc_on(&zc);
	(void)zsay(&zc, "c CREATE Big\r\n");
	n = snprintf(head, sizeof(head), "a APPEND Big {%zu+}\r\n", len);
	ok(strcmp(zsay_n(&zc, head, n), "") == 0 &&
	    strcmp(zsay_n(&zc, msg, len), "") == 0, "LITERAL+: no answer yet");
	ok(has(zsay(&zc, "\r\n"), "a OK [APPENDUID "),
	    "APPEND of a 1 MiB literal, compressed");
	n = snprintf(head, sizeof(head), "b APPEND Big {%zu}\r\n", len);
	ok(has(zsay_n(&zc, head, n), "+ Ready for"),
	    "synchronizing literal: the continuation, compressed");
	(void)zsay_n(&zc, msg, len);
	ok(has(zsay(&zc, "\r\n"), "b OK [APPENDUID "), "... then OK");
	(void)zsay(&zc, "s SELECT Big\r\n");
	r = zsay(&zc, "f FETCH 1:2 BODY.PEEK[]\r\n");
	snprintf(lit, sizeof(lit), "BODY[] {%zu}\r\n", len);
	ok((p = strstr(r, "* 1 FETCH (")) != NULL &&
	    (p = strstr(p, lit)) != NULL &&
	    memcmp(p + strlen(lit), msg, len) == 0 &&
	    (p = strstr(p + len, "* 2 FETCH (")) != NULL &&
	    (p = strstr(p, lit)) != NULL &&
	    memcmp(p + strlen(lit), msg, len) == 0 &&
	    strstr(p + len, "f OK Fetch completed\r\n") != NULL,
	    "FETCH of 2 MiB over DEFLATE: every byte, then OK");
	ok(zc.m.outlen < len / 2, "... in fewer bytes on the wire (%zu)",
	    zc.m.outlen);
	(void)zsay(&zc, "z LOGOUT\r\n");
	zc_free(&zc);
	free(msg);
}

/* Updates during IDLE come out of the compressor at once. */
static void
test_idle(void)
{
	struct zclient	 zc, b;

	zc_login(&zc);
	(void)say(&zc.m, "c COMPRESS DEFLATE\r\n");
	zc_on(&zc);
	(void)zsay(&zc, "s SELECT INBOX\r\n");
	ok(strcmp(zsay(&zc, "i IDLE\r\n"), "+ idling\r\n") == 0,
	    "IDLE over DEFLATE: continuation");
	zc_login(&b);
	fake_out_clear(&zc.m);
	(void)say(&b.m, "a APPEND INBOX {10+}\r\nSubject: x\r\n");
	io_mem_run(&zc.m);
	ok(strstr(zc_inflate(&zc, zc.m.out, zc.m.outlen), "* 1 EXISTS\r\n")
	    != NULL, "another session's APPEND: EXISTS flushed at once");
	ok(has(zsay(&zc, "DONE\r\n"), "i OK Idle completed"), "DONE");
	(void)say(&b.m, "z LOGOUT\r\n");
	zc_free(&b);
	(void)zsay(&zc, "z LOGOUT\r\n");
	zc_free(&zc);
}

/*
 * 16 MiB of one line in about 16 KiB: the session sees it in pieces of
 * its line buffer, refuses it, skips the rest, and goes on.
 */
static void
test_bomb(void)
{
	struct zclient	 zc;
	char		*bomb;
	size_t		 len = 16 * 1024 * 1024;
	const char	*r;

	if ((bomb = malloc(len)) == NULL)
		fatal("malloc");
	memset(bomb, 'a', len);
	memcpy(bomb, "x1 NOOP ", 8);
	zc_login(&zc);
	(void)say(&zc.m, "c COMPRESS DEFLATE\r\n");
	zc_on(&zc);
	r = zsay_n(&zc, bomb, len);
	ok(has(r, "* BAD Command line too long") && zc.m.io != NULL,
	    "a 16 MiB line compressed: BAD, the session stays");
	ok(strcmp(zsay(&zc, "\r\nn NOOP\r\n"), "n OK NOOP completed\r\n") ==
	    0, "the rest of it skipped, the next command answered");
	free(bomb);
	(void)zsay(&zc, "z LOGOUT\r\n");
	zc_free(&zc);
}

static void
test_bad_stream(void)
{
	struct zclient	 zc;
	char		*wire;
	size_t		 n;
	int		 gone;

	/* Not DEFLATE (a reserved block type). */
	zc_login(&zc);
	(void)say(&zc.m, "c COMPRESS DEFLATE\r\n");
	gone = fake.gone;
	io_mem_send(&zc.m, "\xff\xff\xff\xff garbage\r\n", 13);
	ok(zc.m.io == NULL && fake.gone == gone + 1,
	    "invalid compressed input: the session ends");
	zc_free(&zc);

	/*
	 * The client ends its stream: as if it had closed (and, as then,
	 * what it sent last is not answered).
	 */
	zc_login(&zc);
	(void)say(&zc.m, "c COMPRESS DEFLATE\r\n");
	zc_on(&zc);
	gone = fake.gone;
	n = zc_deflate(&zc, "n NOOP\r\n", 8, Z_FINISH, &wire);
	fake_out_clear(&zc.m);
	io_mem_send(&zc.m, wire, n);
	free(wire);
	ok(zc.m.io == NULL && fake.gone == gone + 1,
	    "a finished stream: the session ends");
	zc_free(&zc);
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
main(void)
{
	struct event_base	*base;
	char			 root[] = "/tmp/test_imap_compress.XXXXXX";
	char			 top[PATH_MAX];

	log_init(1, 0);
	base = event_init();
	fake_setup(&lis, PROTO_IMAP, 143, &client);
	if (getcwd(top, sizeof(top)) == NULL || mkdtemp(root) == NULL ||
	    chdir(root) == -1 || mkdir("example.org", 0700) == -1)
		fatal("%s", root);
	fake_init(PROC_IMAP);
	fake.check = ok;

	test_command();
	test_pipelined();
	test_big();
	test_idle();
	test_bomb();
	test_bad_stream();
	ok(fake.sent == 0, "no other IPC asked for");

	if (chdir(top) == -1)
		fatal("chdir");
	(void)nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	config_free(conf);
	event_base_free(base);
	return done_testing();
}
