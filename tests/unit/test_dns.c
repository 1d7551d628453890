/*
 * Tests of the DNS module against a real dnsmasq started here on
 * 127.0.0.1 (and ::1 when usable) with the records of
 * tests/data/dns/zone.conf: MX preferences, dropped targets, implicit
 * and null MX, hostile names, bounds, NXDOMAIN, FCrDNS over IPv4 and
 * IPv6, TXT, callbacks never synchronous and exactly once, and
 * temporary failures from a refusing and from a silent server; then
 * dns_query(), also against a server of ours here that answers with
 * crafted messages (CNAME chains, compression, SOA of negative answers,
 * TTLs, malformed records and messages).  The machine's resolver is
 * never used.  Skipped without dnsmasq.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <event.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "compat.h"
#include "dns.h"
#include "dns_cache.h"
#include "log.h"
#include "tap.h"

#define DNSMASQ		"/usr/sbin/dnsmasq"
#define ZONE		"tests/data/dns/zone.conf"

struct mx_res {
	int		 calls;
	enum dns_status	 st;
	size_t		 n;
	struct dns_host	 h[DNS_MAX_HOSTS];
};

struct fc_res {
	int		 calls;
	enum dns_fcrdns	 st;
	char		 name[256];
};

struct txt_res {
	int		 calls;
	enum dns_status	 st;
	size_t		 n;
	char		 txt[DNS_MAX_TXT][DNS_TXT_MAX + 1];
};

struct rr_res {
	int			 calls;
	struct dns_rrset	*rs;
};

struct chain {
	struct mx_res	 first;
	struct mx_res	 second;
	struct mx_res	*dropped;
};

static void	mx_cb(void *, enum dns_status, const struct dns_host *, size_t);
static void	fc_cb(void *, enum dns_fcrdns, const char *);
static void	txt_cb(void *, enum dns_status, const char *const *, size_t);
static void	chain_cb(void *, enum dns_status, const struct dns_host *,
		    size_t);
static void	shutdown_cb(void *, enum dns_status, const struct dns_host *,
		    size_t);
static void	rr_cb(void *, const struct dns_rrset *);
static void	guard(int, short, void *);
static int	run(int, int);
static int	probe(int);
static int	udp_socket(int, int *);
static int	start_dnsmasq(int);
static void	stop_dnsmasq(void);
static void	on_signal(int);
static void	ss4(struct sockaddr_storage *, const char *);
static void	ss6(struct sockaddr_storage *, const char *);
static int	has_addr(const struct dns_host *, const char *);
static double	now(void);
static void	test_input(void);
static void	test_mx(void);
static void	test_host(void);
static void	test_fcrdns(void);
static void	test_txt(void);
static void	test_reentry(int);
static void	test_v6_server(int);
static void	test_refused(void);
static void	test_silent(void);
static void	test_query(void);
static void	test_query_crafted(void);
static void	test_cache(void);
static pid_t	fake_server(int);
static size_t	rrhdr(unsigned char *, size_t, int, int, unsigned long, int);
static size_t	put16(unsigned char *, size_t, unsigned long);
static size_t	put32(unsigned char *, size_t, unsigned long);
static size_t	fake_answer(const unsigned char *, size_t, unsigned char *);
static int	rr_has_text(const struct dns_rrset *, const char *);

static pid_t	 dnsmasq_pid = -1;
static int	 fired, expired, v6ok;

static void
mx_cb(void *arg, enum dns_status st, const struct dns_host *h, size_t n)
{
	struct mx_res	*r = arg;

	r->calls++;
	r->st = st;
	r->n = n;
	if (n <= DNS_MAX_HOSTS && h != NULL)
		memcpy(r->h, h, n * sizeof(*h));
	fired++;
}

static void
fc_cb(void *arg, enum dns_fcrdns st, const char *name)
{
	struct fc_res	*r = arg;

	r->calls++;
	r->st = st;
	snprintf(r->name, sizeof(r->name), "%s", name ? name : "(null)");
	fired++;
}

static void
txt_cb(void *arg, enum dns_status st, const char *const *txt, size_t n)
{
	struct txt_res	*r = arg;
	size_t		 i;

	r->calls++;
	r->st = st;
	r->n = n;
	for (i = 0; i < n && i < DNS_MAX_TXT; i++)
		snprintf(r->txt[i], sizeof(r->txt[i]), "%s", txt[i]);
	fired++;
}

static void
rr_cb(void *arg, const struct dns_rrset *rs)
{
	struct rr_res	*r = arg;

	r->calls++;
	free(r->rs);
	r->rs = dns_rrset_dup(rs);
	fired++;
}

/* A callback starting another lookup. */
static void
chain_cb(void *arg, enum dns_status st, const struct dns_host *h, size_t n)
{
	struct chain	*c = arg;

	mx_cb(&c->first, st, h, n);
	dns_mx("drop.test", mx_cb, &c->second);
}

/* A callback shutting the resolver down under a running lookup. */
static void
shutdown_cb(void *arg, enum dns_status st, const struct dns_host *h, size_t n)
{
	struct chain	*c = arg;

	mx_cb(&c->first, st, h, n);
	dns_shutdown();
}

static void
guard(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	expired = 1;
}

/* Run the loop until want callbacks have fired in all, or secs pass. */
static int
run(int want, int secs)
{
	struct event	 ev;
	struct timeval	 tv = { secs, 0 };

	expired = 0;
	evtimer_set(&ev, guard, NULL);
	evtimer_add(&ev, &tv);
	while (fired < want && !expired)
		event_loop(EVLOOP_ONCE);
	evtimer_del(&ev);
	return fired >= want;
}

/* 1 when something answers a DNS query on 127.0.0.1:port. */
static int
probe(int port)
{
	static const unsigned char q[] = {
		0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x04, 't', 'e', 's', 't', 0x00,
		0x00, 0x01, 0x00, 0x01
	};
	struct sockaddr_in	 sin;
	struct pollfd		 pfd;
	unsigned char		 buf[512];
	int			 s, ok = 0;

	if ((s = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(s, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    send(s, q, sizeof(q), 0) == (ssize_t)sizeof(q)) {
		pfd.fd = s;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 200) == 1 &&
		    recv(s, buf, sizeof(buf), 0) >= 12)
			ok = 1;
	}
	close(s);
	return ok;
}

/* A UDP socket bound to a free loopback port: fd, port in *port. */
static int
udp_socket(int family, int *port)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 s;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET)
		ss4(&ss, "127.0.0.1");
	else
		ss6(&ss, "::1");
	len = family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);
	if ((s = socket(family, SOCK_DGRAM, 0)) == -1)
		return -1;
	if (bind(s, (struct sockaddr *)&ss, len) == -1 ||
	    getsockname(s, (struct sockaddr *)&ss, &len) == -1) {
		close(s);
		return -1;
	}
	*port = ntohs(family == AF_INET ?
	    ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
	return s;
}

/* Start dnsmasq on a free high port; its port, or -1. */
static int
start_dnsmasq(int with_v6)
{
	char	 portarg[32], listen[64];
	int	 tries, i, port, status;
	pid_t	 pid;

	for (tries = 0; tries < 8; tries++) {
		port = 15353 + (getpid() + tries * 131) % 1000;
		if (probe(port))
			continue;	/* someone else's */
		snprintf(portarg, sizeof(portarg), "--port=%d", port);
		snprintf(listen, sizeof(listen), "--listen-address=%s",
		    with_v6 ? "127.0.0.1,::1" : "127.0.0.1");
		fflush(stdout);
		if ((pid = fork()) == -1)
			return -1;
		if (pid == 0) {
#ifdef __linux__
			/* Dies with us, even when we crash. */
			prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
			execl(DNSMASQ, "dnsmasq", "--no-resolv", "--no-hosts",
			    "--keep-in-foreground", "--conf-file=" ZONE,
			    portarg, listen, "--bind-interfaces",
			    "--pid-file=", "--user=", (char *)NULL);
			_exit(127);
		}
		dnsmasq_pid = pid;
		for (i = 0; i < 150; i++) {
			if (waitpid(pid, &status, WNOHANG) == pid) {
				dnsmasq_pid = -1;
				break;
			}
			if (probe(port))
				return port;
			usleep(20000);
		}
		stop_dnsmasq();
	}
	return -1;
}

static void
stop_dnsmasq(void)
{
	if (dnsmasq_pid > 0) {
		kill(dnsmasq_pid, SIGTERM);
		waitpid(dnsmasq_pid, NULL, 0);
		dnsmasq_pid = -1;
	}
}

static void
on_signal(int sig)
{
	if (dnsmasq_pid > 0)
		kill(dnsmasq_pid, SIGTERM);
	_exit(128 + sig);
}

static void
ss4(struct sockaddr_storage *ss, const char *a)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	if (inet_pton(AF_INET, a, &sin->sin_addr) != 1)
		abort();
}

static void
ss6(struct sockaddr_storage *ss, const char *a)
{
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	sin6->sin6_family = AF_INET6;
	if (inet_pton(AF_INET6, a, &sin6->sin6_addr) != 1)
		abort();
}

/* The position of address text a among h's addresses, or -1. */
static int
has_addr(const struct dns_host *h, const char *a)
{
	char	 buf[INET6_ADDRSTRLEN];
	size_t	 i;

	for (i = 0; i < h->naddr && i < DNS_MAX_ADDRS; i++) {
		if (h->addr[i].ss_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)
			    &h->addr[i])->sin_addr, buf, sizeof(buf));
		else if (h->addr[i].ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)
			    &h->addr[i])->sin6_addr, buf, sizeof(buf));
		else
			continue;
		if (strcmp(buf, a) == 0)
			return i;
	}
	return -1;
}

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
test_input(void)
{
	static struct mx_res	 before;
	static struct fc_res	 fcbefore;
	static struct rr_res	 rrbefore;
	struct sockaddr_storage	 ss;

	/* Not initialised: a temporary failure, still later. */
	fired = 0;
	dns_mx("two.test", mx_cb, &before);
	ss4(&ss, "127.0.0.1");
	dns_fcrdns(&ss, fc_cb, &fcbefore);
	dns_query("two.test", DNS_T_TXT, rr_cb, &rrbefore);
	is_int(before.calls + fcbefore.calls + rrbefore.calls, 0,
	    "uninitialised: no callback from inside the call");
	ok(run(3, 5), "uninitialised: callbacks fired");
	is_int(before.st, DNS_TEMPFAIL, "uninitialised: MX TEMPFAIL");
	is_int(fcbefore.st, FCRDNS_TEMPFAIL, "uninitialised: FCrDNS TEMPFAIL");
	ok(rrbefore.rs != NULL && rrbefore.rs->status == DNS_TEMPFAIL &&
	    rrbefore.rs->type == DNS_T_TXT && rrbefore.rs->n == 0,
	    "uninitialised: query TEMPFAIL");

	is_int(dns_init("not-an-address", 53), -1, "init: name refused");
	is_int(dns_init("127.0.0.1:53", 0), -1, "init: address:port refused");
	is_int(dns_init("127.0.0.1", 70000), -1, "init: port 70000 refused");
	is_int(dns_init("127.0.0.1", -1), -1, "init: port -1 refused");
	/* The system configuration: read, never queried here. */
	is_int(dns_init(NULL, 0), 0, "init: system configuration");
	dns_shutdown();
	dns_shutdown();		/* twice is harmless */
}

static void
test_mx(void)
{
	static struct mx_res	 two, drop, dead, impl, nullmx, nx, hostile,
				 many, wide, upper, bad[7];
	static const char	*badnames[] = {
		"bad domain", "", "a..b", ".", "x\n.test", "\xc3\xa9.test",
		NULL
	};
	char			 longlabel[80], longname[300];
	size_t			 i;
	int			 sorted;

	memset(longlabel, 'a', 64);
	strlcpy(longlabel + 64, ".test", sizeof(longlabel) - 64);
	for (i = 0; i + 2 < 254; i += 2)
		memcpy(longname + i, "a.", 2);
	strlcpy(longname + i, "test", sizeof(longname) - i);	/* 258 */

	fired = 0;
	dns_mx("two.test", mx_cb, &two);
	dns_mx("drop.test", mx_cb, &drop);
	dns_mx("dead.test", mx_cb, &dead);
	dns_mx("implicit.test", mx_cb, &impl);
	dns_mx("nullmx.test", mx_cb, &nullmx);
	dns_mx("nope.test", mx_cb, &nx);
	dns_mx("hostile.test", mx_cb, &hostile);
	dns_mx("many.test", mx_cb, &many);
	dns_mx("wide.test", mx_cb, &wide);
	dns_mx("TWO.Test.", mx_cb, &upper);
	for (i = 0; i < 6; i++)
		dns_mx(badnames[i], mx_cb, &bad[i]);
	dns_mx(longlabel, mx_cb, &bad[6]);
	is_int(fired, 0, "MX: no callback from inside dns_mx()");
	ok(run(17, 15), "MX: all 17 callbacks fired");

	is_int(two.st, DNS_OK, "two.test: OK");
	is_int(two.n, 2, "two.test: two hosts");
	is_str(two.h[0].name, "mx1.two.test", "two.test: pref 10 first");
	is_int(two.h[0].pref, 10, "two.test: first pref 10");
	is_int(two.h[0].naddr, 2, "two.test: mx1 has A and AAAA");
	is_int(has_addr(&two.h[0], "fd00::11"), 0, "two.test: AAAA first");
	is_int(has_addr(&two.h[0], "127.0.0.11"), 1, "two.test: then A");
	ok(two.h[0].addr[0].ss_family == AF_INET6 &&
	    ((struct sockaddr_in6 *)&two.h[0].addr[0])->sin6_port == 0,
	    "two.test: AF_INET6, port 0");
	is_str(two.h[1].name, "mx2.two.test", "two.test: pref 20 second");
	is_int(two.h[1].pref, 20, "two.test: second pref 20");
	is_int(two.h[1].naddr, 1, "two.test: mx2 has one address");
	is_int(has_addr(&two.h[1], "127.0.0.12"), 0, "two.test: mx2 address");

	is_int(drop.st, DNS_OK, "drop.test: OK");
	is_int(drop.n, 1, "drop.test: target without address dropped");
	is_str(drop.h[0].name, "mx.drop.test", "drop.test: the one left");

	is_int(dead.st, DNS_NXDOMAIN, "dead.test: no target resolves");
	is_int(dead.n, 0, "dead.test: no hosts");

	is_int(impl.st, DNS_OK, "implicit.test: implicit MX");
	is_int(impl.n, 1, "implicit.test: one host");
	is_str(impl.h[0].name, "implicit.test", "implicit.test: itself");
	is_int(impl.h[0].pref, 0, "implicit.test: pref 0");
	is_int(impl.h[0].naddr, 2, "implicit.test: A and AAAA");
	ok(has_addr(&impl.h[0], "127.0.0.14") >= 0 &&
	    has_addr(&impl.h[0], "fd00::14") >= 0, "implicit.test: addresses");

	is_int(nullmx.st, DNS_NULLMX, "nullmx.test: null MX");
	is_int(nullmx.n, 0, "nullmx.test: no hosts");

	is_int(nx.st, DNS_NXDOMAIN, "nope.test: NXDOMAIN");
	is_int(nx.n, 0, "nope.test: no hosts");

	is_int(hostile.st, DNS_OK, "hostile.test: OK");
	is_int(hostile.n, 1, "hostile.test: bad target names refused");
	is_str(hostile.h[0].name, "mx.ok.test", "hostile.test: good one kept");

	is_int(many.st, DNS_OK, "many.test: OK");
	is_int(many.n, DNS_MAX_HOSTS, "many.test: at most 16 hosts");
	sorted = 1;
	for (i = 0; i < many.n && i < DNS_MAX_HOSTS; i++)
		if (many.h[i].pref != (int)i + 1)
			sorted = 0;
	ok(sorted, "many.test: the 16 best, sorted");
	is_str(many.h[15].name, "m16.many.test", "many.test: last kept");

	is_int(wide.st, DNS_OK, "wide.test: OK");
	is_int(wide.n, 1, "wide.test: one host");
	is_int(wide.h[0].naddr, DNS_MAX_ADDRS, "wide.test: 16 addresses kept");

	is_int(upper.st, DNS_OK, "TWO.Test.: case and final dot");
	is_str(upper.h[0].name, "mx1.two.test", "TWO.Test.: names lowercase");

	for (i = 0; i < 7; i++)
		is_int(bad[i].st, DNS_NXDOMAIN, "invalid domain names refused");

	/* Exactly once, even after more turns of the loop. */
	run(1000, 1);
	ok(two.calls == 1 && drop.calls == 1 && dead.calls == 1 &&
	    impl.calls == 1 && nullmx.calls == 1 && nx.calls == 1 &&
	    hostile.calls == 1 && many.calls == 1 && wide.calls == 1 &&
	    upper.calls == 1 && bad[0].calls == 1 && bad[6].calls == 1,
	    "MX: each callback exactly once");

	/* Over-long names, and NULL. */
	{
		static struct mx_res	 lng, nul;

		fired = 0;
		dns_mx(longname, mx_cb, &lng);
		dns_mx(NULL, mx_cb, &nul);
		ok(run(2, 5), "MX: long name and NULL answered");
		is_int(lng.st, DNS_NXDOMAIN, "MX: 258-char name refused");
		is_int(nul.st, DNS_NXDOMAIN, "MX: NULL name refused");
	}
}

/* dns_host(): the addresses of a smarthost, never its MX records. */
static void
test_host(void)
{
	static struct mx_res	 mx1, two, nx, bad;

	fired = 0;
	dns_host("mx1.two.test", mx_cb, &mx1);
	dns_host("two.test", mx_cb, &two);
	dns_host("nope.test", mx_cb, &nx);
	dns_host("bad name", mx_cb, &bad);
	is_int(fired, 0, "host: no callback from inside dns_host()");
	ok(run(4, 10), "host: all 4 callbacks fired");
	is_int(mx1.st, DNS_OK, "host mx1.two.test: OK");
	is_int(mx1.n, 1, "host mx1.two.test: one host");
	is_str(mx1.h[0].name, "mx1.two.test", "host: its own name");
	is_int(mx1.h[0].naddr, 2, "host: AAAA and A");
	is_int(has_addr(&mx1.h[0], "127.0.0.11"), 1, "host: AAAA, then A");
	is_int(two.st, DNS_NXDOMAIN, "host two.test: its MX is not used");
	is_int(nx.st, DNS_NXDOMAIN, "host nope.test: NXDOMAIN");
	is_int(bad.st, DNS_NXDOMAIN, "host: invalid name refused");
}

static void
test_fcrdns(void)
{
	static struct fc_res	 pass, mismatch, nordns, second, badname,
				 ghost, v6, mapped, v6none, unix_;
	struct sockaddr_storage	 ss;
	struct sockaddr_un	*sun;

	fired = 0;
	ss4(&ss, "127.0.0.1");
	dns_fcrdns(&ss, fc_cb, &pass);
	ss4(&ss, "127.0.0.2");
	dns_fcrdns(&ss, fc_cb, &mismatch);
	ss4(&ss, "127.0.0.3");
	dns_fcrdns(&ss, fc_cb, &nordns);
	ss4(&ss, "127.0.0.4");
	dns_fcrdns(&ss, fc_cb, &second);
	ss4(&ss, "127.0.0.5");
	dns_fcrdns(&ss, fc_cb, &badname);
	ss4(&ss, "127.0.0.6");
	dns_fcrdns(&ss, fc_cb, &ghost);
	ss6(&ss, "::1");
	dns_fcrdns(&ss, fc_cb, &v6);
	ss6(&ss, "::ffff:127.0.0.1");
	dns_fcrdns(&ss, fc_cb, &mapped);
	ss6(&ss, "fd00::99");
	dns_fcrdns(&ss, fc_cb, &v6none);
	memset(&ss, 0, sizeof(ss));
	sun = (struct sockaddr_un *)&ss;
	sun->sun_family = AF_UNIX;
	dns_fcrdns(&ss, fc_cb, &unix_);
	is_int(fired, 0, "FCrDNS: no callback from inside dns_fcrdns()");
	ok(run(10, 15), "FCrDNS: all 10 callbacks fired");

	is_int(pass.st, FCRDNS_PASS, "127.0.0.1: pass");
	is_str(pass.name, "mx.test", "127.0.0.1: name");
	is_int(mismatch.st, FCRDNS_MISMATCH, "127.0.0.2: mismatch");
	is_str(mismatch.name, "liar.test", "127.0.0.2: the PTR name");
	is_int(nordns.st, FCRDNS_NORDNS, "127.0.0.3: no rDNS");
	is_str(nordns.name, "", "127.0.0.3: no name");
	is_int(second.st, FCRDNS_PASS, "127.0.0.4: one of two names passes");
	is_str(second.name, "right.test", "127.0.0.4: the confirmed name");
	is_int(badname.st, FCRDNS_NORDNS,
	    "127.0.0.5: PTR with a space refused");
	is_str(badname.name, "", "127.0.0.5: no name");
	is_int(ghost.st, FCRDNS_MISMATCH, "127.0.0.6: PTR name without A");
	is_str(ghost.name, "ghost.test", "127.0.0.6: the PTR name");
	is_int(v6.st, FCRDNS_PASS, "::1: pass");
	is_str(v6.name, "v6.test", "::1: name");
	is_int(mapped.st, FCRDNS_PASS, "::ffff:127.0.0.1: checked as IPv4");
	is_str(mapped.name, "mx.test", "::ffff:127.0.0.1: name");
	is_int(v6none.st, FCRDNS_NORDNS, "fd00::99: no rDNS");
	is_int(unix_.st, FCRDNS_NORDNS, "AF_UNIX: not looked up");
	is_str(unix_.name, "", "AF_UNIX: no name");

	run(1000, 1);
	ok(pass.calls == 1 && mismatch.calls == 1 && nordns.calls == 1 &&
	    second.calls == 1 && badname.calls == 1 && ghost.calls == 1 &&
	    v6.calls == 1 && mapped.calls == 1 && v6none.calls == 1 &&
	    unix_.calls == 1, "FCrDNS: each callback exactly once");
}

static void
test_txt(void)
{
	static struct txt_res	 dkim, multi, records, nul, nx, bad;

	fired = 0;
	dns_txt("sel._domainkey.two.test", txt_cb, &dkim);
	dns_txt("multi.test", txt_cb, &multi);
	dns_txt("records.test", txt_cb, &records);
	dns_txt("nul.test", txt_cb, &nul);
	dns_txt("nope.test", txt_cb, &nx);
	dns_txt("bad name.test", txt_cb, &bad);
	is_int(fired, 0, "TXT: no callback from inside dns_txt()");
	ok(run(6, 15), "TXT: all 6 callbacks fired");

	is_int(dkim.st, DNS_OK, "TXT DKIM key: OK");
	is_int(dkim.n, 1, "TXT DKIM key: one record");
	is_str(dkim.txt[0], "v=DKIM1; k=ed25519; "
	    "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
	    "TXT DKIM key: text");
	is_int(multi.n, 1, "TXT of two strings: one record");
	is_str(multi.txt[0], "part one part two",
	    "TXT of two strings: concatenated");
	is_int(records.n, 2, "TXT: two records");
	ok((strcmp(records.txt[0], "first") == 0 &&
	    strcmp(records.txt[1], "second") == 0) ||
	    (strcmp(records.txt[0], "second") == 0 &&
	    strcmp(records.txt[1], "first") == 0), "TXT: both records");
	is_int(nul.st, DNS_NXDOMAIN, "TXT with a NUL byte left out");
	is_int(nul.n, 0, "TXT with a NUL byte: no records");
	is_int(nx.st, DNS_NXDOMAIN, "TXT: NXDOMAIN");
	is_int(bad.st, DNS_NXDOMAIN, "TXT: invalid name refused");
}

static void
test_reentry(int port)
{
	static struct chain	 c, s;
	static struct mx_res	 dropped;

	/* A callback that starts another lookup. */
	fired = 0;
	dns_mx("two.test", chain_cb, &c);
	ok(run(2, 10), "callback starting a lookup: both answered");
	is_int(c.first.st, DNS_OK, "chained: first OK");
	is_int(c.second.st, DNS_OK, "chained: second OK");
	is_str(c.second.h[0].name, "mx.drop.test", "chained: second result");

	/*
	 * A callback that shuts the resolver down while another lookup
	 * waits for its answer: that one is dropped without a callback.
	 */
	fired = 0;
	dns_mx("bad name", shutdown_cb, &s);
	dns_mx("two.test", mx_cb, &dropped);
	run(2, 1);
	is_int(s.first.calls, 1, "shutdown in a callback: that one answered");
	is_int(dropped.calls, 0, "shutdown in a callback: others dropped");
	is_int(dns_init("127.0.0.1", port), 0, "init again after shutdown");
}

static void
test_v6_server(int port)
{
	static struct mx_res	 r;

	if (!v6ok) {
		ok(1, "# SKIP ::1 not usable");
		return;
	}
	dns_shutdown();
	is_int(dns_init("::1", port), 0, "init: resolver on ::1");
	fired = 0;
	dns_mx("two.test", mx_cb, &r);
	ok(run(1, 10), "::1 resolver: answered");
	is_int(r.st, DNS_OK, "::1 resolver: two.test OK");
	is_int(r.n, 2, "::1 resolver: two hosts");
}

static void
test_refused(void)
{
	static struct mx_res	 mx;
	static struct fc_res	 fc;
	static struct txt_res	 txt;
	static struct rr_res	 rr;
	struct sockaddr_storage	 ss;
	double			 t0;
	int			 s, port;

	/* A port where nothing listens: ICMP port unreachable. */
	if ((s = udp_socket(AF_INET, &port)) == -1) {
		ok(0, "refused: no free port");
		return;
	}
	close(s);
	dns_shutdown();
	is_int(dns_init("127.0.0.1", port), 0, "init: refusing server");
	fired = 0;
	t0 = now();
	dns_mx("two.test", mx_cb, &mx);
	ss4(&ss, "127.0.0.1");
	dns_fcrdns(&ss, fc_cb, &fc);
	dns_txt("multi.test", txt_cb, &txt);
	dns_query("multi.test", DNS_T_TXT, rr_cb, &rr);
	ok(run(4, DNS_LOOKUP_TIMEOUT + 2), "refused: answered");
	ok(now() - t0 <= DNS_LOOKUP_TIMEOUT + 1, "refused: within the timeout");
	is_int(mx.st, DNS_TEMPFAIL, "refused: MX TEMPFAIL, never NXDOMAIN");
	is_int(fc.st, FCRDNS_TEMPFAIL, "refused: FCrDNS TEMPFAIL");
	is_int(txt.st, DNS_TEMPFAIL, "refused: TXT TEMPFAIL");
	ok(rr.rs != NULL && rr.rs->status == DNS_TEMPFAIL && rr.rs->ttl == 0,
	    "refused: query TEMPFAIL, TTL 0");
}

static void
test_silent(void)
{
	static struct mx_res	 mx;
	static struct fc_res	 fc;
	static struct rr_res	 rr;
	struct sockaddr_storage	 ss;
	double			 t0, t;
	int			 s, port;

	/* A server that reads nothing and answers nothing. */
	if ((s = udp_socket(AF_INET, &port)) == -1) {
		ok(0, "silent: no free port");
		return;
	}
	dns_shutdown();
	is_int(dns_init("127.0.0.1", port), 0, "init: silent server");
	fired = 0;
	t0 = now();
	dns_mx("two.test", mx_cb, &mx);
	ss6(&ss, "::1");
	dns_fcrdns(&ss, fc_cb, &fc);
	dns_query("two.test", DNS_T_MX, rr_cb, &rr);
	ok(run(3, DNS_LOOKUP_TIMEOUT + 3), "silent: answered");
	t = now() - t0;
	ok(t >= DNS_QUERY_TIMEOUT_MS / 1000.0 - 0.1,
	    "silent: after at least one query timeout (%.1f s)", t);
	ok(t <= DNS_LOOKUP_TIMEOUT + 1, "silent: within the lookup timeout");
	is_int(mx.st, DNS_TEMPFAIL, "silent: MX TEMPFAIL");
	is_int(fc.st, FCRDNS_TEMPFAIL, "silent: FCrDNS TEMPFAIL");
	ok(rr.rs != NULL && rr.rs->status == DNS_TEMPFAIL,
	    "silent: query TEMPFAIL");
	close(s);
}

static void
test_name_valid(void)
{
	char	 out[DNS_NAME_MAX + 1], big[300];

	ok(dns_name_valid("Mail.Example.ORG.", out, sizeof(out)) &&
	    strcmp(out, "mail.example.org") == 0,
	    "name: lowercased, final dot dropped");
	ok(dns_name_valid("_dmarc.x-y.example", out, sizeof(out)),
	    "name: '_' and '-'");
	ok(!dns_name_valid("", out, sizeof(out)), "name: empty");
	ok(!dns_name_valid(".", out, sizeof(out)), "name: the root");
	ok(!dns_name_valid("a..b", out, sizeof(out)), "name: empty label");
	ok(!dns_name_valid("a..", out, sizeof(out)),
	    "name: empty last label");
	ok(!dns_name_valid(".a", out, sizeof(out)), "name: empty first label");
	ok(!dns_name_valid("a b.org", out, sizeof(out)), "name: space");
	ok(!dns_name_valid("a\\065.org", out, sizeof(out)),
	    "name: c-ares escape");
	ok(!dns_name_valid("caf\xc3\xa9.org", out, sizeof(out)),
	    "name: not ASCII");
	memset(big, 'a', 64);
	strlcpy(big + 64, ".org", sizeof(big) - 64);
	ok(!dns_name_valid(big, out, sizeof(out)), "name: 64-byte label");
	strlcpy(big + 63, ".org", sizeof(big) - 63);
	ok(dns_name_valid(big, out, sizeof(out)), "name: 63-byte label");
	ok(!dns_name_valid("example.org", out, 5), "name: output too small");
}

/* 1 if one of the records of rs has text t. */
static int
rr_has_text(const struct dns_rrset *rs, const char *t)
{
	size_t	 i;

	for (i = 0; rs != NULL && i < rs->n; i++)
		if (rs->rr[i].text != NULL && strcmp(rs->rr[i].text, t) == 0)
			return 1;
	return 0;
}

/* dns_cache.c: answers and "none" kept, callbacks still from the loop. */
static void
test_cache(void)
{
	static struct rr_res	 a1, a2, nx1, nx2, a3, z1, z2;
	unsigned long long	 h0, m0, h, m;

	dns_cache_flush();
	dns_cache_stats(&h0, &m0);
	fired = 0;
	dns_cquery("ttl.test", DNS_T_A, rr_cb, &a1);	/* TTL 3600 */
	dns_cquery("nope.test", DNS_T_A, rr_cb, &nx1);
	ok(run(2, 15), "cache: two first answers");
	dns_cache_stats(&h, &m);
	ok(h == h0 && m == m0 + 2, "cache: both asked of DNS");
	fired = 0;
	dns_cquery("TTL.test.", DNS_T_A, rr_cb, &a2);
	dns_cquery("nope.test", DNS_T_A, rr_cb, &nx2);
	is_int(fired, 0, "cache: no callback from inside dns_cquery()");
	ok(run(2, 15), "cache: two kept answers");
	dns_cache_stats(&h, &m);
	ok(h == h0 + 2 && m == m0 + 2, "cache: both kept (name case and "
	    "final dot do not matter)");
	ok(a2.rs != NULL && a1.rs != NULL && a2.rs->status == DNS_OK &&
	    a2.rs->n == a1.rs->n && memcmp(a2.rs->rr[0].addr,
	    a1.rs->rr[0].addr, 4) == 0 && a2.rs->ttl <= a1.rs->ttl &&
	    a2.rs->ttl > 3500, "cache: the same answer, TTL counting down");
	ok(nx2.rs != NULL && nx2.rs->status == DNS_NXDOMAIN,
	    "cache: \"none\" kept too");
	/* TTL 0 (dnsmasq's own records): never kept. */
	fired = 0;
	dns_cquery("mx1.two.test", DNS_T_A, rr_cb, &z1);
	ok(run(1, 15), "cache: a TTL 0 answer");
	fired = 0;
	dns_cquery("mx1.two.test", DNS_T_A, rr_cb, &z2);
	ok(run(1, 15), "cache: ... asked again");
	dns_cache_stats(&h, &m);
	ok(h == h0 + 2 && m == m0 + 4 && z2.rs != NULL &&
	    z2.rs->status == DNS_OK, "cache: TTL 0 is not kept");
	dns_cache_flush();
	fired = 0;
	dns_cquery("ttl.test", DNS_T_A, rr_cb, &a3);
	ok(run(1, 15), "cache: after a flush");
	dns_cache_stats(&h, &m);
	ok(h == h0 + 2 && m == m0 + 5, "cache: asked again after the flush");
	free(a1.rs);
	free(a2.rs);
	free(a3.rs);
	free(nx1.rs);
	free(nx2.rs);
	free(z1.rs);
	free(z2.rs);
	dns_cache_flush();
}

static void
test_query(void)
{
	static struct rr_res	 a, aaaa, mx, nullmx, ptr, ptrsp, txt, nul,
				 recs, nx, nodata, space, alias, ttl, bad,
				 lng, wide;
	struct dns_rrset	*copy;
	char			 out[DNS_NAME_MAX + 1];
	unsigned char		 want[16];

	fired = 0;
	dns_query("mx1.two.test", DNS_T_A, rr_cb, &a);
	dns_query("MX1.Two.Test.", DNS_T_AAAA, rr_cb, &aaaa);
	dns_query("two.test", DNS_T_MX, rr_cb, &mx);
	dns_query("nullmx.test", DNS_T_MX, rr_cb, &nullmx);
	dns_query("4.0.0.127.in-addr.arpa", DNS_T_PTR, rr_cb, &ptr);
	dns_query("5.0.0.127.in-addr.arpa", DNS_T_PTR, rr_cb, &ptrsp);
	dns_query("multi.test", DNS_T_TXT, rr_cb, &txt);
	dns_query("nul.test", DNS_T_TXT, rr_cb, &nul);
	dns_query("records.test", DNS_T_TXT, rr_cb, &recs);
	dns_query("nope.test", DNS_T_A, rr_cb, &nx);
	dns_query("multi.test", DNS_T_A, rr_cb, &nodata);
	dns_query("sp ace.test", DNS_T_A, rr_cb, &space);
	dns_query("alias.two.test", DNS_T_A, rr_cb, &alias);
	dns_query("ttl.test", DNS_T_A, rr_cb, &ttl);
	dns_query("a\\065.test", DNS_T_A, rr_cb, &bad);
	dns_query("a..test", DNS_T_A, rr_cb, &lng);
	dns_query("wide.test", DNS_T_A, rr_cb, &wide);
	is_int(fired, 0, "query: no callback from inside dns_query()");
	ok(run(17, 15), "query: all 17 callbacks fired");

	inet_pton(AF_INET, "127.0.0.11", want);
	ok(a.rs->status == DNS_OK && a.rs->type == DNS_T_A && a.rs->n == 1 &&
	    memcmp(a.rs->rr[0].addr, want, 4) == 0 && a.rs->rr[0].text == NULL,
	    "query A: the address");
	inet_pton(AF_INET6, "fd00::11", want);
	ok(aaaa.rs->status == DNS_OK && aaaa.rs->n == 1 &&
	    memcmp(aaaa.rs->rr[0].addr, want, 16) == 0,
	    "query AAAA: case and final dot of the name ignored");
	ok(mx.rs->status == DNS_OK && mx.rs->n == 2 &&
	    rr_has_text(mx.rs, "mx1.two.test") &&
	    rr_has_text(mx.rs, "mx2.two.test"), "query MX: both exchanges");
	ok(mx.rs->rr[0].pref + mx.rs->rr[1].pref == 30 &&
	    mx.rs->rr[0].len == strlen(mx.rs->rr[0].text),
	    "query MX: preferences, lengths");
	ok(nullmx.rs->status == DNS_OK && nullmx.rs->n == 1 &&
	    strcmp(nullmx.rs->rr[0].text, "") == 0 &&
	    nullmx.rs->rr[0].pref == 0, "query MX: null MX is the root, \"\"");
	ok(ptr.rs->n == 2 && rr_has_text(ptr.rs, "right.test") &&
	    rr_has_text(ptr.rs, "wrong.test"), "query PTR: both names");
	ok(ptrsp.rs->n == 1 && rr_has_text(ptrsp.rs, "bad name.test"),
	    "query PTR: a name with a space is kept (dns_fcrdns() refuses)");
	ok(txt.rs->n == 1 && rr_has_text(txt.rs, "part one part two") &&
	    txt.rs->rr[0].len == 17, "query TXT: strings concatenated");
	ok(nul.rs->status == DNS_OK && nul.rs->n == 1 &&
	    nul.rs->rr[0].len == 3 &&
	    memcmp(nul.rs->rr[0].text, "a\0b", 4) == 0,
	    "query TXT: a NUL byte kept, len says it");
	ok(recs.rs->n == 2 && rr_has_text(recs.rs, "first") &&
	    rr_has_text(recs.rs, "second"), "query TXT: two records");
	ok(nx.rs->status == DNS_NXDOMAIN && nx.rs->n == 0 &&
	    nx.rs->ttl == DNS_NEGATIVE_TTL,
	    "query: NXDOMAIN without SOA, the default TTL");
	ok(nodata.rs->status == DNS_NXDOMAIN && nodata.rs->n == 0,
	    "query: no record of the type is none too");
	ok(space.rs->status == DNS_OK && space.rs->n == 1,
	    "query: a name with a space is asked");
	inet_pton(AF_INET, "127.0.0.11", want);
	ok(alias.rs->status == DNS_OK && alias.rs->n == 1 &&
	    memcmp(alias.rs->rr[0].addr, want, 4) == 0,
	    "query: CNAME followed");
	is_int(ttl.rs->ttl, 3600, "query: TTL of the record");
	ok(bad.rs->status == DNS_NXDOMAIN, "query: backslash refused");
	ok(lng.rs->status == DNS_NXDOMAIN, "query: empty label refused");
	ok(wide.rs->n == 20 && wide.rs->dropped == 0, "query: 20 addresses");

	copy = dns_rrset_dup(mx.rs);
	free(mx.rs);
	mx.rs = NULL;
	ok(copy->n == 2 && copy->rr[0].text > (const char *)copy &&
	    copy->rr[0].text < (const char *)copy + copy->size &&
	    (strcmp(copy->rr[0].text, "mx1.two.test") == 0 ||
	    strcmp(copy->rr[0].text, "mx2.two.test") == 0),
	    "dns_rrset_dup: a copy whose text is its own");
	free(copy);

	ok(dns_qname_valid("A b:c/D.Test.", out, sizeof(out)) &&
	    strcmp(out, "a b:c/d.test") == 0,
	    "qname: spaces and punctuation, lowercased, final dot dropped");
	ok(!dns_qname_valid("a\tb.test", out, sizeof(out)),
	    "qname: control character");
	ok(!dns_qname_valid("caf\xc3\xa9.test", out, sizeof(out)),
	    "qname: not ASCII");
	ok(!dns_qname_valid(".", out, sizeof(out)), "qname: root");

	run(1000, 1);
	ok(a.calls == 1 && txt.calls == 1 && bad.calls == 1 &&
	    wide.calls == 1, "query: each callback exactly once");
	free(a.rs);
	free(aaaa.rs);
	free(nullmx.rs);
	free(ptr.rs);
	free(ptrsp.rs);
	free(txt.rs);
	free(nul.rs);
	free(recs.rs);
	free(nx.rs);
	free(nodata.rs);
	free(space.rs);
	free(alias.rs);
	free(ttl.rs);
	free(bad.rs);
	free(lng.rs);
	free(wide.rs);
}

/*
 * Crafted answers: a child process answers on a UDP socket, by the
 * first label of the name asked.
 */
static size_t
put16(unsigned char *b, size_t n, unsigned long v)
{
	b[n] = (unsigned char)(v >> 8);
	b[n + 1] = (unsigned char)v;
	return n + 2;
}

static size_t
put32(unsigned char *b, size_t n, unsigned long v)
{
	return put16(b, put16(b, n, v >> 16), v & 0xffff);
}

/* A record header: owner as a pointer to off, type, TTL, rdlength. */
static size_t
rrhdr(unsigned char *b, size_t n, int off, int type, unsigned long ttl,
    int rdlen)
{
	n = put16(b, n, 0xc000 | off);
	n = put16(b, n, type);
	n = put16(b, n, 1);
	n = put32(b, n, ttl);
	n = put16(b, n, rdlen);
	return n;
}

static size_t
fake_answer(const unsigned char *q, size_t qlen, unsigned char *b)
{
	size_t		 n, qend, first;
	int		 an = 0, ns = 0, rcode = 0, c2, c3;
	unsigned char	 label[64];

	/* The question: one name, uncompressed, then type and class. */
	for (qend = 12; qend < qlen && q[qend] != 0; qend += 1 + q[qend])
		;
	qend += 5;
	if (qlen < 13 || qend > qlen || q[12] > 63)
		return 0;
	memcpy(label, q + 13, q[12]);
	label[q[12]] = '\0';
	first = 12;
	memcpy(b, q, qend);
	n = qend;
	if (strcmp((char *)label, "neg") == 0) {
		/* NXDOMAIN, the SOA of "test" (at 12 + 4) in authority. */
		rcode = 3;
		n = rrhdr(b, n, first + 4, 6, 500, 2 + 7 + 20);
		n = put16(b, n, 0xc000 | (first + 4));	/* mname: test */
		memcpy(b + n, "\004host", 5);		/* rname: host.test */
		n += 5;
		n = put16(b, n, 0xc000 | (first + 4));
		n = put32(b, n, 2024);			/* serial */
		n = put32(b, n, 3600);
		n = put32(b, n, 600);
		n = put32(b, n, 86400);
		n = put32(b, n, 120);			/* minimum */
		ns = 1;
	} else if (strcmp((char *)label, "chain") == 0) {
		/* chain CNAME c2.chain, c2 CNAME c3, c3 A x 2: pointers. */
		n = rrhdr(b, n, first, 5, 60, 5);
		c2 = n;
		memcpy(b + n, "\002c2", 3);
		n += 3;
		n = put16(b, n, 0xc000 | first);
		n = rrhdr(b, n, c2, 5, 50, 5);
		c3 = n;
		memcpy(b + n, "\002c3", 3);
		n += 3;
		n = put16(b, n, 0xc000 | first);
		n = rrhdr(b, n, c3, 1, 300, 4);
		n = put32(b, n, 0xc0000201);
		n = rrhdr(b, n, c3, 1, 200, 4);
		n = put32(b, n, 0xc0000202);
		/* An A record of another owner: not ours. */
		n = rrhdr(b, n, c2, 1, 10, 4);
		n = put32(b, n, 0xc0000203);
		an = 5;
	} else if (strcmp((char *)label, "loop") == 0) {
		/* An owner name pointing at itself. */
		n = put16(b, n, 0xc000 | n);
		n = put16(b, n, 1);
		n = put16(b, n, 1);
		n = put32(b, n, 60);
		n = put16(b, n, 4);
		n = put32(b, n, 0xc0000201);
		an = 1;
	} else if (strcmp((char *)label, "forward") == 0) {
		/* An owner name pointing forwards, into its own record. */
		n = put16(b, n, 0xc000 | (n + 2));
		n = put16(b, n, 1);
		n = put16(b, n, 1);
		n = put32(b, n, 60);
		n = put16(b, n, 4);
		n = put32(b, n, 0xc0000201);
		an = 1;
	} else if (strcmp((char *)label, "short") == 0) {
		/* Two answers announced, one and a half sent. */
		n = rrhdr(b, n, first, 1, 60, 4);
		n = put32(b, n, 0xc0000201);
		n = rrhdr(b, n, first, 1, 60, 4);
		n -= 2;
		an = 2;
	} else if (strcmp((char *)label, "ttl") == 0) {
		n = rrhdr(b, n, first, 1, 0x80000001UL, 4);
		n = put32(b, n, 0xc0000201);
		n = rrhdr(b, n, first, 1, 100000, 4);
		n = put32(b, n, 0xc0000202);
		an = 2;
	} else if (strcmp((char *)label, "bigttl") == 0) {
		n = rrhdr(b, n, first, 1, 100000, 4);
		n = put32(b, n, 0xc0000202);
		an = 1;
	} else if (strcmp((char *)label, "badrr") == 0) {
		/* An A record of 5 bytes, then a good one. */
		n = rrhdr(b, n, first, 1, 60, 5);
		n = put32(b, n, 0xc0000201);
		b[n++] = 0;
		n = rrhdr(b, n, first, 1, 60, 4);
		n = put32(b, n, 0xc0000202);
		/* And the same again: an RRset is a set. */
		n = rrhdr(b, n, first, 1, 60, 4);
		n = put32(b, n, 0xc0000202);
		an = 3;
	} else if (strcmp((char *)label, "txt") == 0) {
		/* "v=spf1 " "a", then strings overrunning their rdata. */
		n = rrhdr(b, n, first, 16, 60, 10);
		memcpy(b + n, "\007v=spf1 \001a", 10);
		n += 10;
		n = rrhdr(b, n, first, 16, 60, 3);
		memcpy(b + n, "\005ab", 3);
		n += 3;
		n = rrhdr(b, n, first, 16, 60, 0);
		n = rrhdr(b, n, first, 16, 60, 10);
		memcpy(b + n, "\007v=spf1 \001a", 10);
		n += 10;
		an = 4;
	} else if (strcmp((char *)label, "mx") == 0) {
		/* "0 .", a label holding a dot, a control character. */
		n = rrhdr(b, n, first, 15, 60, 3);
		n = put16(b, n, 0);
		b[n++] = 0;
		n = rrhdr(b, n, first, 15, 60, 2 + 5);
		n = put16(b, n, 10);
		memcpy(b + n, "\003a.b\000", 5);
		n += 5;
		n = rrhdr(b, n, first, 15, 60, 2 + 4);
		n = put16(b, n, 20);
		memcpy(b + n, "\002a\001\000", 4);
		n += 4;
		an = 3;
	} else
		rcode = 3;
	b[2] = 0x84 | (q[2] & 0x01);	/* QR, AA, RD as asked */
	b[3] = 0x80 | rcode;
	b[6] = 0;
	b[7] = an;
	b[8] = 0;
	b[9] = ns;
	b[10] = 0;
	b[11] = 0;
	return n;
}

/* The child answering on s; its pid, or -1. */
static pid_t
fake_server(int s)
{
	struct sockaddr_storage	 from;
	socklen_t		 flen;
	unsigned char		 q[512], a[1024];
	ssize_t			 r;
	size_t			 n;
	pid_t			 pid;

	fflush(stdout);
	if ((pid = fork()) != 0)
		return pid;
#ifdef __linux__
	prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
	for (;;) {
		flen = sizeof(from);
		r = recvfrom(s, q, sizeof(q), 0, (struct sockaddr *)&from,
		    &flen);
		if (r < 0)
			_exit(0);
		if ((n = fake_answer(q, r, a)) > 0)
			sendto(s, a, n, 0, (struct sockaddr *)&from, flen);
	}
}

static void
test_query_crafted(void)
{
	static struct rr_res	 neg, chain, loop, fwd, shrt, ttl, big, badrr,
				 txt, mx;
	unsigned char		 want[4] = { 192, 0, 2, 1 };
	pid_t			 pid;
	int			 s, port;

	if ((s = udp_socket(AF_INET, &port)) == -1) {
		ok(0, "crafted: no free port");
		return;
	}
	if ((pid = fake_server(s)) == -1) {
		ok(0, "crafted: fork");
		close(s);
		return;
	}
	close(s);
	dns_shutdown();
	is_int(dns_init("127.0.0.1", port), 0, "init: crafting server");
	fired = 0;
	dns_query("neg.test", DNS_T_TXT, rr_cb, &neg);
	dns_query("chain.test", DNS_T_A, rr_cb, &chain);
	dns_query("loop.test", DNS_T_A, rr_cb, &loop);
	dns_query("forward.test", DNS_T_A, rr_cb, &fwd);
	dns_query("short.test", DNS_T_A, rr_cb, &shrt);
	dns_query("ttl.test", DNS_T_A, rr_cb, &ttl);
	dns_query("bigttl.test", DNS_T_A, rr_cb, &big);
	dns_query("badrr.test", DNS_T_A, rr_cb, &badrr);
	dns_query("txt.test", DNS_T_TXT, rr_cb, &txt);
	dns_query("mx.test", DNS_T_MX, rr_cb, &mx);
	ok(run(10, DNS_LOOKUP_TIMEOUT + 2), "crafted: all answered");

	ok(neg.rs->status == DNS_NXDOMAIN && neg.rs->ttl == 120,
	    "crafted: NXDOMAIN, TTL the SOA's minimum (got %u)", neg.rs->ttl);
	ok(chain.rs->status == DNS_OK && chain.rs->n == 2 &&
	    memcmp(chain.rs->rr[0].addr, want, 4) == 0,
	    "crafted: two CNAMEs followed, the other owner's A left out");
	is_int(chain.rs->ttl, 50, "crafted: TTL the smallest on the chain");
	ok(loop.rs->status == DNS_TEMPFAIL, "crafted: pointer loop refused");
	ok(fwd.rs->status == DNS_TEMPFAIL,
	    "crafted: forward pointer refused");
	ok(shrt.rs->status == DNS_TEMPFAIL, "crafted: truncated message");
	is_int(ttl.rs->ttl, 0, "crafted: TTL with the top bit set is 0");
	is_int(big.rs->ttl, DNS_TTL_MAX, "crafted: TTL cut to a day");
	ok(badrr.rs->status == DNS_OK && badrr.rs->n == 1 &&
	    badrr.rs->dropped == 1 && badrr.rs->rr[0].addr[3] == 2,
	    "crafted: a 5-byte A left out, the good one kept once");
	ok(txt.rs->n == 2 && txt.rs->dropped == 1 &&
	    rr_has_text(txt.rs, "v=spf1 a") && rr_has_text(txt.rs, ""),
	    "crafted: TXT overrunning its rdata left out, empty one kept, "
	    "a duplicate once");
	ok(mx.rs->n == 1 && mx.rs->dropped == 2 &&
	    strcmp(mx.rs->rr[0].text, "") == 0,
	    "crafted: MX with a dot or a control character in a label "
	    "left out");
	free(neg.rs);
	free(chain.rs);
	free(loop.rs);
	free(fwd.rs);
	free(shrt.rs);
	free(ttl.rs);
	free(big.rs);
	free(badrr.rs);
	free(txt.rs);
	free(mx.rs);
	dns_shutdown();
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

int
main(void)
{
	int	 port, s, p6;

	test_name_valid();
	if (access(DNSMASQ, X_OK) == -1) {
		printf("1..0 # SKIP %s not installed\n", DNSMASQ);
		return 0;
	}
	if (access(ZONE, R_OK) == -1) {
		ok(0, "%s readable (run from the top directory)", ZONE);
		return done_testing();
	}
	log_init(1, getenv("TEST_VERBOSE") != NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	atexit(stop_dnsmasq);
	event_init();

	if ((s = udp_socket(AF_INET6, &p6)) != -1) {
		v6ok = 1;
		close(s);
	}
	if ((port = start_dnsmasq(v6ok)) == -1 && v6ok) {
		v6ok = 0;
		port = start_dnsmasq(0);
	}
	if (port == -1) {
		ok(0, "dnsmasq started with %s", ZONE);
		return done_testing();
	}

	test_input();
	if (dns_init("127.0.0.1", port) == -1) {
		ok(0, "init: test server");
		return done_testing();
	}
	ok(dns_init("127.0.0.1", port) == -1, "init: twice refused");
	test_mx();
	test_host();
	test_fcrdns();
	test_txt();
	test_query();
	test_cache();
	test_reentry(port);
	test_v6_server(port);
	test_refused();
	test_silent();
	test_query_crafted();
	dns_shutdown();
	stop_dnsmasq();
	return done_testing();
}
