/*
 * The message table (imsg.h) and its field lists: every list is well
 * formed, and a sequence of fields follows a list exactly when it should
 * (groups taken zero, one or many times, nested).  The typed payload
 * codecs (ipc_payload.c): what is encoded decodes the same, and a
 * decoder ends the process on a malformed field (an unterminated or
 * over-long string, an unknown address family or a length not its
 * family's, an unknown destination type or envelope flag, a field cut
 * short or of another kind than the list says).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "compat.h"
#include "envelope.h"
#include "expand.h"
#include "imsg.h"
#include "ipc.h"
#include "log.h"
#include "tap.h"

static int	 follows(const char *, const char *);
static void	 test_table(void);
static void	 test_simple(void);
static void	 test_groups(void);
static void	 test_valid(void);
static void	 test_step(void);
static struct ipc_msg msg_of(const struct ipc_buf *, const char *);
static int	 refused(void (*)(struct ipc_msg *), struct ipc_msg *,
		    const char *);
static void	 rd_addr(struct ipc_msg *);
static void	 rd_sockaddr(struct ipc_msg *);
static void	 rd_dest(struct ipc_msg *);
static void	 rd_envelope(struct ipc_msg *);
static void	 rd_str(struct ipc_msg *);
static void	 wr_unterminated(struct ipc_msg *);
static void	 test_roundtrip(void);
static void	 test_refused(void);

static int
follows(const char *list, const char *kinds)
{
	char	 err[256];

	return imsg_fields_check(list, kinds, err, sizeof(err)) == 0;
}

static void
test_table(void)
{
	char		 err[128];
	uint32_t	 t;
	int		 bad = 0;

	for (t = IMSG_NONE + 1; t < IMSG_COUNT; t++) {
		if (imsg_info[t].name == NULL || imsg_info[t].from == 0 ||
		    imsg_info[t].to == 0 ||
		    imsg_fields_valid(imsg_info[t].fields, err,
		    sizeof(err)) == -1) {
			printf("# IMSG %u: %s\n", t,
			    imsg_info[t].name != NULL ? err : "missing");
			bad++;
		}
		/* no process has a channel to itself */
		if ((imsg_info[t].from & imsg_info[t].to) != 0 &&
		    imsg_info[t].from == imsg_info[t].to) {
			printf("# IMSG_%s goes to its own senders\n",
			    imsg_info[t].name);
			bad++;
		}
	}
	is_int(bad, 0, "every message has senders, receivers, a valid list");
	ok(strcmp(imsg_info[IMSG_L_RCPT].name, "L_RCPT") == 0 &&
	    (imsg_info[IMSG_L_RCPT].from & P_SMTP) &&
	    (imsg_info[IMSG_L_RCPT].from & P_QUEUE) &&
	    imsg_info[IMSG_L_RCPT].to == P_LOOKUP,
	    "IMSG_L_RCPT: smtp and queue to lookup");
	ok(imsg_info[IMSG_Q_CREATE_OK].fd == IMSG_FD &&
	    imsg_info[IMSG_Q_CREATE].fd == IMSG_NOFD, "descriptors");
	ok(imsg_layout() == imsg_layout() && imsg_layout() != 0,
	    "layout hash");
}

static void
test_simple(void)
{
	ok(follows("", ""), "empty list, no fields");
	ok(!follows("", "u"), "empty list, one field");
	ok(follows("u64:reqid u32:msgid str:why", "Uus"), "in order");
	ok(!follows("u64:reqid u32:msgid str:why", "Uu"), "one missing");
	ok(!follows("u64:reqid u32:msgid str:why", "Uuss"), "one too many");
	ok(!follows("u64:reqid u32:msgid str:why", "Usu"), "out of order");
	ok(!follows("u64 u32", "uU"), "u32 is not u64");
	ok(follows("raw:a raw:b", "rr"), "raw fields");
	ok(!follows("raw", "s"), "a string is not raw");
}

static void
test_groups(void)
{
	const char	*mx = imsg_info[IMSG_L_MX_RES].fields;

	ok(follows(mx, "Uuu"), "MX answer: no host");
	ok(follows(mx, "Uuu" "suu"), "MX answer: a host, no address");
	ok(follows(mx, "Uuu" "suun"), "MX answer: a host, one address");
	ok(follows(mx, "Uuu" "suunnn" "suun" "suu"), "MX answer: three hosts");
	ok(!follows(mx, "Uuu" "su"), "MX answer: a host cut short");
	ok(!follows(mx, "Uuu" "suuns"), "MX answer: a host's name alone");
	ok(!follows(mx, "Uuu" "n"), "MX answer: an address without host");
	ok(follows("u32 { str } u64", "uU"), "group zero times");
	ok(follows("u32 { str } u64", "usssU"), "group three times");
	ok(!follows("u32 { str } u64", "ussu"), "then the wrong kind");
	ok(follows("{ u32 str }", "usus"), "group at the start");
	ok(!follows("{ u32 str }", "usu"), "a group taken in part");
}

static void
test_valid(void)
{
	char	 err[128];

	ok(imsg_fields_valid("u32 u64:x str:y raw:z", err, sizeof(err)) == 0,
	    "plain list");
	ok(imsg_fields_valid("u32 { str { raw } }", err, sizeof(err)) == 0,
	    "nested groups");
	ok(imsg_fields_valid("u33", err, sizeof(err)) == -1, "unknown word");
	ok(imsg_fields_valid("u32x", err, sizeof(err)) == -1,
	    "word with a tail");
	ok(imsg_fields_valid("u32 { str", err, sizeof(err)) == -1,
	    "unclosed group");
	ok(imsg_fields_valid("u32 }", err, sizeof(err)) == -1,
	    "unopened group");
	ok(imsg_fields_valid("{ }", err, sizeof(err)) == -1, "empty group");
	ok(imsg_fields_valid("{ { u32 } }", err, sizeof(err)) == -1,
	    "group starting with a group");
	ok(imsg_fields_valid("{ str } str", err, sizeof(err)) == -1,
	    "ambiguous: the field after the group starts it");
	ok(imsg_fields_valid("{ u32 { str } } u32", err, sizeof(err)) == -1,
	    "ambiguous through an enclosing group");
	ok(imsg_fields_valid("{ u32 { raw } } u64", err, sizeof(err)) == 0,
	    "unambiguous nesting");
}

static void
test_step(void)
{
	struct ipc_fields	 f;

	memset(&f, 0, sizeof(f));
	f.list = f.p = "u64 u32";
	ok(imsg_fields_step(&f, IPC_K_U64) == 0, "step: first field");
	ok(imsg_fields_done(&f) == -1, "step: not done after one");
	ok(imsg_fields_step(&f, IPC_K_U32) == 0, "step: second field");
	ok(imsg_fields_done(&f) == 0, "step: done");
	ok(imsg_fields_step(&f, IPC_K_U32) == -1, "step: nothing more");
	ok(strcmp(imsg_kind_name(IPC_K_STR), "str") == 0, "kind names");
}

/* What a receiver gets of b, its fields checked against list. */
static struct ipc_msg
msg_of(const struct ipc_buf *b, const char *list)
{
	struct ipc_msg	 m;

	memset(&m, 0, sizeof(m));
	m.type = IMSG_Q_DEST;
	m.data = b->data;
	m.len = b->len;
	m.fd = -1;
	m.peer = "test";
	if (list != NULL)
		ipc_fields_begin(&m, list);
	return m;
}

/*
 * Does reading m with rd end the process (exit 1) saying why?  In a
 * child, whose log (stderr) comes back through a pipe.
 */
static int
refused(void (*rd)(struct ipc_msg *), struct ipc_msg *m, const char *why)
{
	char	 out[1024];
	size_t	 n = 0;
	ssize_t	 r;
	pid_t	 pid;
	int	 p[2], st;

	if (pipe(p) == -1 || (pid = fork()) == -1)
		fatal("pipe, fork");
	if (pid == 0) {
		close(p[0]);
		if (dup2(p[1], STDERR_FILENO) == -1)
			_exit(2);
		rd(m);
		ipc_end(m);
		_exit(0);
	}
	close(p[1]);
	while (n < sizeof(out) - 1 &&
	    (r = read(p[0], out + n, sizeof(out) - 1 - n)) > 0)
		n += r;
	out[n] = '\0';
	close(p[0]);
	if (waitpid(pid, &st, 0) == -1)
		fatal("waitpid");
	if (WIFEXITED(st) && WEXITSTATUS(st) == 1 && strstr(out, why) != NULL)
		return 1;
	printf("# expected exit 1 with \"%s\", got status %d: %s", why, st,
	    out[0] ? out : "(no message)\n");
	return 0;
}

static void
rd_addr(struct ipc_msg *m)
{
	struct mailaddr	 a;

	ipc_get_addr(m, &a);
}

static void
rd_sockaddr(struct ipc_msg *m)
{
	struct sockaddr_storage	 ss;

	ipc_get_sockaddr(m, &ss);
}

static void
rd_dest(struct ipc_msg *m)
{
	struct dest	 d;

	ipc_get_dest(m, &d);
}

static void
rd_envelope(struct ipc_msg *m)
{
	struct envelope	*e;

	if ((e = malloc(sizeof(*e))) == NULL)
		fatal("malloc");
	ipc_get_envelope(m, e);
	free(e);
}

static void
rd_str(struct ipc_msg *m)
{
	(void)ipc_get_strp(m);
}

/* A sender with a struct whose string fills its field, unterminated. */
static void
wr_unterminated(struct ipc_msg *m)
{
	struct ipc_buf	 b;
	struct mailaddr	 a;

	(void)m;
	memset(&a, 'x', sizeof(a));
	ipc_buf_init(&b);
	ipc_add_addr(&b, &a);
}

static void
test_roundtrip(void)
{
	struct ipc_buf		 b;
	struct ipc_msg		 m;
	struct mailaddr		 a, a2, null, null2, lp, lp2;
	struct sockaddr_storage	 s4, s6, r4, r6;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&s4;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&s6;
	struct dest		 d, d2;
	struct envelope		*e, *e2;
	const char		*list = "addr:a addr:null addr:long "
				    "sockaddr:v4 sockaddr:v6 dest:d envelope:e "
				    "str:end";

	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e2 = calloc(1, sizeof(*e2))) == NULL)
		fatal("calloc");
	memset(&a, 0, sizeof(a));
	memset(&null, 0, sizeof(null));
	memset(&lp, 0, sizeof(lp));
	(void)strlcpy(a.user, "Alice.Smith", sizeof(a.user));
	(void)strlcpy(a.domain, "example.org", sizeof(a.domain));
	memset(lp.user, 'l', sizeof(lp.user) - 1);
	memset(lp.domain, 'd', sizeof(lp.domain) - 1);
	memset(&s4, 0, sizeof(s4));
	memset(&s6, 0, sizeof(s6));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(25);
	(void)inet_pton(AF_INET, "192.0.2.1", &sin->sin_addr);
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(587);
	(void)inet_pton(AF_INET6, "2001:db8::1", &sin6->sin6_addr);
	memset(&d, 0, sizeof(d));
	d.type = DEST_MAILDIR;
	d.addr = a;
	(void)strlcpy(d.path, "/var/vmail/example.org/alice", sizeof(d.path));
	e->flags = EF_8BITMIME | EF_AUTH;
	(void)strlcpy(e->helo, "client.example.net", sizeof(e->helo));
	(void)strlcpy(e->src, "IPv6:2001:db8::2", sizeof(e->src));
	e->sender = a;
	e->created = 12345;		/* not the sender's to say */
	(void)strlcpy(e->dkim, "DKIM-Signature: x", sizeof(e->dkim));

	ipc_buf_init(&b);
	ipc_add_addr(&b, &a);
	ipc_add_addr(&b, &null);
	ipc_add_addr(&b, &lp);
	ipc_add_sockaddr(&b, &s4);
	ipc_add_sockaddr(&b, &s6);
	ipc_add_dest(&b, &d);
	ipc_add_envelope(&b, e);
	ipc_add_str(&b, "end");
	is_str(b.kinds, "aaanndes", "typed fields recorded by kind");
	ok(follows(list, b.kinds), "and they follow their list");

	m = msg_of(&b, list);
	memset(&a2, 'x', sizeof(a2));
	memset(&null2, 'x', sizeof(null2));
	memset(&r4, 'x', sizeof(r4));
	memset(e2, 'x', sizeof(*e2));
	ipc_get_addr(&m, &a2);
	ipc_get_addr(&m, &null2);
	ipc_get_addr(&m, &lp2);
	ipc_get_sockaddr(&m, &r4);
	ipc_get_sockaddr(&m, &r6);
	ipc_get_dest(&m, &d2);
	ipc_get_envelope(&m, e2);
	is_str(ipc_get_strp(&m), "end", "the field after them");
	ipc_end(&m);
	ok(strcmp(a2.user, "Alice.Smith") == 0 &&
	    strcmp(a2.domain, "example.org") == 0, "addr: round trip");
	ok(null2.user[0] == '\0' && null2.domain[0] == '\0',
	    "addr: the null address");
	ok(strcmp(lp2.user, lp.user) == 0 && strcmp(lp2.domain, lp.domain) ==
	    0, "addr: the longest local part and domain");
	ok(memcmp(&r4, &s4, sizeof(s4)) == 0, "sockaddr: IPv4, port kept, "
	    "the rest zero");
	ok(memcmp(&r6, &s6, sizeof(s6)) == 0, "sockaddr: IPv6");
	ok(d2.type == DEST_MAILDIR && strcmp(d2.addr.user, "Alice.Smith") ==
	    0 && strcmp(d2.addr.domain, "example.org") == 0 &&
	    strcmp(d2.path, d.path) == 0, "dest: round trip");
	ok(e2->flags == (EF_8BITMIME | EF_AUTH) &&
	    strcmp(e2->helo, "client.example.net") == 0 &&
	    strcmp(e2->src, "IPv6:2001:db8::2") == 0 &&
	    strcmp(e2->sender.user, "Alice.Smith") == 0 &&
	    strcmp(e2->sender.domain, "example.org") == 0,
	    "envelope: flags, helo, src, sender");
	ok(e2->created == 0 && e2->dkim[0] == '\0' && e2->id == 0 &&
	    e2->rcpt.user[0] == '\0', "envelope: nothing else travels");

	/* A relay destination: the path names the relay action. */
	d.type = DEST_RELAY;
	(void)strlcpy(d.path, "outbound", sizeof(d.path));
	ipc_buf_init(&b);
	ipc_add_dest(&b, &d);
	m = msg_of(&b, "dest");
	ipc_get_dest(&m, &d2);
	ipc_end(&m);
	ok(d2.type == DEST_RELAY && strcmp(d2.path, "outbound") == 0,
	    "dest: relay");
	free(e);
	free(e2);
}

static void
test_refused(void)
{
	struct ipc_buf		 b;
	struct ipc_msg		 m;
	struct mailaddr		 a;
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	struct dest		 d;
	struct envelope		*e;
	sa_family_t		 fam;
	uint32_t		 v;
	char			 big[LOCALPART_MAX + 2], *h;
	size_t			 off;

	memset(&a, 0, sizeof(a));
	(void)strlcpy(a.user, "alice", sizeof(a.user));
	(void)strlcpy(a.domain, "example.org", sizeof(a.domain));

	/* addr: "alice" with its NUL overwritten */
	ipc_buf_init(&b);
	ipc_add_addr(&b, &a);
	b.data[sizeof(uint32_t) + strlen("alice")] = 'x';
	m = msg_of(&b, "addr");
	ok(refused(rd_addr, &m, "bad string"), "addr: unterminated string");
	/* a NUL inside */
	ipc_buf_init(&b);
	ipc_add_addr(&b, &a);
	b.data[sizeof(uint32_t) + 2] = '\0';
	m = msg_of(&b, "addr");
	ok(refused(rd_addr, &m, "bad string"), "addr: NUL inside a string");
	/* a local part longer than a struct mailaddr holds */
	memset(big, 'l', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ipc_buf_init(&b);
	ipc_add_str(&b, big);
	ipc_add_str(&b, "example.org");
	m = msg_of(&b, NULL);
	ok(refused(rd_addr, &m, "local part too long"),
	    "addr: local part too long");
	/* cut short: the domain's string missing its last bytes */
	ipc_buf_init(&b);
	ipc_add_addr(&b, &a);
	b.len -= 3;
	m = msg_of(&b, "addr");
	ok(refused(rd_addr, &m, "short message"), "addr: cut short");
	/* read as what it is not */
	ipc_buf_init(&b);
	ipc_add_addr(&b, &a);
	m = msg_of(&b, "addr");
	ok(refused(rd_str, &m, "read as str where its fields are \"addr\""),
	    "addr: not a str");
	ok(refused(wr_unterminated, &m, "ipc_add: unterminated string"),
	    "addr: a sender's unterminated field is its own bug, fatal");

	/* sockaddr: an IPv4 address made AF_UNIX */
	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	ipc_buf_init(&b);
	ipc_add_sockaddr(&b, &ss);
	fam = AF_UNIX;
	memcpy(b.data + sizeof(uint32_t) +
	    offsetof(struct sockaddr_in, sin_family), &fam, sizeof(fam));
	m = msg_of(&b, "sockaddr");
	ok(refused(rd_sockaddr, &m, "bad socket address"),
	    "sockaddr: unknown family");
	/* an IPv6 address that says it is IPv4: the length is not its own */
	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	ipc_buf_init(&b);
	ipc_add_sockaddr(&b, &ss);
	fam = AF_INET;
	memcpy(b.data + sizeof(uint32_t) +
	    offsetof(struct sockaddr_in6, sin6_family), &fam, sizeof(fam));
	m = msg_of(&b, "sockaddr");
	ok(refused(rd_sockaddr, &m, "bad socket address"),
	    "sockaddr: length not its family's");
	/* longer than any socket address */
	ipc_buf_init(&b);
	v = sizeof(struct sockaddr_storage) + 1;
	ipc_add(&b, &v, sizeof(v));
	m = msg_of(&b, NULL);
	ok(refused(rd_sockaddr, &m, "socket address of"),
	    "sockaddr: over-long");

	/* dest: an unknown type */
	memset(&d, 0, sizeof(d));
	d.type = DEST_MAILDIR;
	d.addr = a;
	ipc_buf_init(&b);
	ipc_add_dest(&b, &d);
	v = 7;
	memcpy(b.data, &v, sizeof(v));
	m = msg_of(&b, "dest");
	ok(refused(rd_dest, &m, "destination of type 7"), "dest: unknown type");
	/* a path with its NUL gone: the last byte of the payload */
	ipc_buf_init(&b);
	(void)strlcpy(d.path, "/var/vmail/a", sizeof(d.path));
	ipc_add_dest(&b, &d);
	b.data[b.len - 1] = 'x';
	m = msg_of(&b, "dest");
	ok(refused(rd_dest, &m, "bad string"), "dest: unterminated path");

	/* envelope: a flag nobody defined */
	if ((e = calloc(1, sizeof(*e))) == NULL)
		fatal("calloc");
	e->sender = a;
	ipc_buf_init(&b);
	ipc_add_envelope(&b, e);
	v = 0x100;
	memcpy(b.data, &v, sizeof(v));
	m = msg_of(&b, "envelope");
	ok(refused(rd_envelope, &m, "envelope flags 0x100"),
	    "envelope: unknown flag");
	/* a HELO name longer than an envelope holds */
	ipc_buf_init(&b);
	v = 0;
	ipc_add(&b, &v, sizeof(v));
	off = sizeof(e->helo) + 10;
	if ((h = malloc(off + 1)) == NULL)
		fatal("malloc");
	memset(h, 'h', off);
	h[off] = '\0';
	ipc_add_str(&b, h);
	free(h);
	ipc_add_str(&b, "192.0.2.1");
	ipc_add_addr(&b, &a);
	m = msg_of(&b, NULL);
	ok(refused(rd_envelope, &m, "HELO name too long"),
	    "envelope: over-long HELO name");
	free(e);

	/* a typed field with bytes left over after it */
	ipc_buf_init(&b);
	ipc_add_addr(&b, &a);
	ipc_add_u32(&b, 0);
	m = msg_of(&b, NULL);
	ok(refused(rd_addr, &m, "trailing bytes"), "bytes left over");
}

/*
 * The socketpairs maild makes: one between processes that exchange a
 * message, none between those that never do.
 */
static void
test_channels(void)
{
	enum proc_type	 p;
	int		 all = 1;

	for (p = 1; p < PROC_COUNT; p++)
		all &= imsg_channel(PROC_PARENT, p) &&
		    imsg_channel(p, PROC_PARENT);
	ok(all, "the parent has a channel with every child");
	ok(imsg_channel(PROC_QUEUE, PROC_FILTER) &&
	    imsg_channel(PROC_FILTER, PROC_QUEUE), "queue and filter");
	ok(imsg_channel(PROC_IMAP, PROC_QUEUE), "imap to the queue (learn)");
	ok(imsg_channel(PROC_SMTP, PROC_LOOKUP), "smtp and lookup");
	ok(!imsg_channel(PROC_FILTER, PROC_SMTP) &&
	    !imsg_channel(PROC_FILTER, PROC_LOOKUP) &&
	    !imsg_channel(PROC_FILTER, PROC_IMAP) &&
	    !imsg_channel(PROC_FILTER, PROC_DELIVER),
	    "the filter reaches nobody but the queue and the parent");
	ok(!imsg_channel(PROC_DELIVER, PROC_RELAY) &&
	    !imsg_channel(PROC_SMTP, PROC_DELIVER), "deliver with neither "
	    "relay nor smtp");
	ok(!imsg_channel(PROC_QUEUE, PROC_QUEUE), "none with itself");
}

int
main(void)
{
	test_channels();
	test_table();
	test_simple();
	test_groups();
	test_valid();
	test_step();
	test_roundtrip();
	test_refused();
	return done_testing();
}
