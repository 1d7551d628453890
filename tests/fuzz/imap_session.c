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
#include <netinet/in.h>
#include <arpa/inet.h>

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

#include "config.h"
#include "fuzz.h"
#include "imap.h"
#include "io.h"
#include "ipc.h"
#include "log.h"
#include "maild.h"
#include "proc.h"
#include "server.h"
#include "session_env.h"
#include "uidlist.h"
#include "util.h"

#define USER	"alice@example.org"
#define HOME	"example.org/alice"	/* as lookup gives it, relative */
#define DATA	"tests/data/session/"

/* The process globals a session reads (proc.c's in the daemon). */
struct maild_conf	*conf;
uint64_t		 stats[ST_COUNT];

static struct {
	int		 pending;
	uint64_t	 reqid;
	char		 user[ADDR_MAX + 1];
	uint32_t	 rnd;
	int		 gone;
	int		 tls_refs;
} env;

static int			 fake_tls;
static struct listener		 lis;
static struct sockaddr_storage	 client;
static char			 top[PATH_MAX], home[PATH_MAX];
static int			 cwdfd = -1;
static char			*msgs[2];
static size_t			 msglen[2];

static void	 f_send(enum proc_type, uint32_t, int, const struct ipc_buf *);
static int	 f_auth_send(const struct sockaddr_storage *, const char *,
		    const struct ipc_buf *);
static void	 f_auth_failed(const struct sockaddr_storage *, const char *,
		    int);
static void	 f_auth_ok(const struct sockaddr_storage *, const char *);
static struct srv_tlsctx *f_tls_get(const struct listener *);
static struct tls *f_tls_ctx(const struct srv_tlsctx *);
static void	 f_tls_put(struct srv_tlsctx *);
static void	 f_gone(const struct sockaddr_storage *,
		    const struct listener *);
static int	 rm_cb(const char *, const struct stat *, int, struct FTW *);
static void	 home_reset(void);
static void	 home_remove(void);
static void	 pump(struct io_mem *);
static void	 check_output(struct io_mem *);
static void	 init(void);

static const struct session_env fuzz_env = {
	.send = f_send,
	.auth_send = f_auth_send,
	.auth_failed = f_auth_failed,
	.auth_ok = f_auth_ok,
	.tls_get = f_tls_get,
	.tls_ctx = f_tls_ctx,
	.tls_put = f_tls_put,
	.gone = f_gone,
};

static void
f_send(enum proc_type p, uint32_t type, int fd, const struct ipc_buf *b)
{
	(void)p;
	(void)fd;
	(void)b;
	fuzz_fail("the imap session sent request %u", type);
}

/* IMSG_L_AUTH as proc.c checks it; the answer comes in pump(). */
static int
f_auth_send(const struct sockaddr_storage *ss, const char *user,
    const struct ipc_buf *b)
{
	const struct imsg_info	*mi = &imsg_info[IMSG_L_AUTH];
	struct ipc_msg		 m;
	char			 err[256];

	(void)ss;
	FUZZ_ASSERT((mi->from & P_IMAP) && (mi->to & P_LOOKUP));
	FUZZ_ASSERT(imsg_fields_check(mi->fields, b->kinds, err,
	    sizeof(err)) == 0);
	FUZZ_ASSERT(!env.pending);
	memset(&m, 0, sizeof(m));
	m.type = IMSG_L_AUTH;
	m.data = b->data;
	m.len = b->len;
	m.fd = -1;
	m.from = PROC_IMAP;
	ipc_fields_begin(&m, mi->fields);
	env.reqid = ipc_get_u64(&m);
	strlcpy(env.user, user, sizeof(env.user));
	env.pending = 1;
	return 0;
}

static void
f_auth_failed(const struct sockaddr_storage *ss, const char *user, int n)
{
	(void)ss;
	(void)user;
	(void)n;
}

static void
f_auth_ok(const struct sockaddr_storage *ss, const char *user)
{
	(void)ss;
	(void)user;
}

static struct srv_tlsctx *
f_tls_get(const struct listener *l)
{
	(void)l;
	env.tls_refs++;
	return (struct srv_tlsctx *)&fake_tls;
}

static struct tls *
f_tls_ctx(const struct srv_tlsctx *t)
{
	(void)t;
	return NULL;	/* a memory connection pretends its TLS */
}

static void
f_tls_put(struct srv_tlsctx *t)
{
	FUZZ_ASSERT(t == (struct srv_tlsctx *)&fake_tls);
	env.tls_refs--;
}

static void
f_gone(const struct sockaddr_storage *ss, const struct listener *l)
{
	(void)ss;
	(void)l;
	env.gone++;
}

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

/* Run the session, answering a login check, until it waits for input. */
static void
pump(struct io_mem *m)
{
	static const uint32_t res[] = { AUTH_OK, AUTH_OK, AUTH_FAIL,
	    AUTH_TEMPFAIL };
	int	 i;

	for (i = 0; i < 100; i++) {
		io_mem_run(m);
		if (!env.pending)
			return;
		env.pending = 0;
		env.rnd = env.rnd * 1103515245U + 12345U;
		imap_session_auth_result(env.reqid,
		    res[(env.rnd >> 16) % nitems(res)], env.user, HOME);
	}
	fuzz_fail("the session keeps asking");
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
	m->outlen = 0;
	m->out[0] = '\0';
}

static void
init(void)
{
	static const char	 text[] = "hostname mx.example.org\n";
	struct sockaddr_in	*sin = (struct sockaddr_in *)&client;
	const char		*names[2] = { DATA "first.eml",
	    DATA "second.eml" };
	int			 fd, i;

	for (i = 0; i < 2; i++) {
		if ((fd = open(names[i], O_RDONLY)) == -1 ||
		    (msgs[i] = read_fd(fd, 1 << 20, &msglen[i])) == NULL)
			fuzz_fail("%s: %s (run from the top of the tree)",
			    names[i], strerror(errno));
		close(fd);
	}
	log_init(0, 0);
	(void)event_init();
	if ((conf = config_parse_buf("fuzz", text, strlen(text),
	    CONF_NOFILES)) == NULL)
		fuzz_fail("config");
	lis.proto = PROTO_IMAP;
	lis.port = 993;
	strlcpy(lis.authtable, "passwd", sizeof(lis.authtable));
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.1", &sin->sin_addr);
	(void)snprintf(top, sizeof(top), "%s/example.org", fuzz_tmpdir());
	(void)snprintf(home, sizeof(home), "%s/" HOME, fuzz_tmpdir());
	if ((cwdfd = open(".", O_RDONLY | O_DIRECTORY)) == -1)
		fuzz_fail("open .: %s", strerror(errno));
	atexit(home_remove);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char	 login[] = "l LOGIN " USER " secret\r\n";
	static int		 ready;
	struct io_mem		 m;
	size_t			 i, chunk, n;
	int			 k;

	if (!ready) {
		init();
		ready = 1;
	}
	if (size < 3 || size > 256 * 1024)
		return 0;
	memset(&env, 0, sizeof(env));
	env.rnd = data[1];
	chunk = 1 + data[2];
	lis.flags = (data[0] & 2) ? L_IMAPS : L_TLS;
	home_reset();
	if (chdir(fuzz_tmpdir()) == -1)
		fuzz_fail("chdir: %s", strerror(errno));

	memset(&m, 0, sizeof(m));
	imap_session_new(io_new_mem(&m, 0), &lis, &client, &fuzz_env);
	pump(&m);
	if (data[0] & 1) {
		if (!(lis.flags & L_IMAPS)) {
			io_mem_send(&m, "s STARTTLS\r\n", 12);
			pump(&m);
		}
		io_mem_send(&m, login, sizeof(login) - 1);
		io_mem_run(&m);
		FUZZ_ASSERT(env.pending);
		env.pending = 0;
		imap_session_auth_result(env.reqid, AUTH_OK, USER, HOME);
		pump(&m);
	}
	check_output(&m);
	data += 3;
	size -= 3;
	for (i = 0; i < size && m.io != NULL; i += n) {
		n = size - i < chunk ? size - i : chunk;
		io_mem_send(&m, data + i, n);
		pump(&m);
		check_output(&m);
	}
	if (m.io != NULL) {
		io_mem_close(&m);
		pump(&m);
	}
	for (k = 0; k < 10 && m.io != NULL; k++) {
		io_mem_timeout(&m);
		pump(&m);
	}
	FUZZ_ASSERT(m.io == NULL && env.gone == 1 && env.tls_refs == 0);
	io_mem_free(&m);
	if (fchdir(cwdfd) == -1)
		fuzz_fail("fchdir: %s", strerror(errno));
	return 0;
}
