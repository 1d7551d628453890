/*
 * spf_tool: SPF checks through spf_check() and dns_query() against one
 * resolver, for tests/integration/61-spf.t (not a unit test: prove does
 * not run it).
 *
 *	spf_tool [-r receiver] [-t now] [-T timeout] [-j jobs] address port
 *
 * reads lines "ip helo mailfrom" (mailfrom "<>" for none; \s, \\ and
 * \xHH in any field) and prints, in the same order, one line each:
 * result, explanation, mechanism, problem and the milliseconds the check
 * took, separated by tabs.  Up to jobs checks (default 32) run at once
 * on one libevent loop; it exits when the last late DNS answer is in.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "dns.h"
#include "log.h"
#include "spf.h"

#define FIELD_MAX	2048

struct job {
	char			 ip[FIELD_MAX];
	char			 helo[FIELD_MAX];
	char			 from[FIELD_MAX];
	struct timespec		 start;
	long			 ms;
	int			 done;
	int			 bad;
	struct spf_outcome	 out;
};

static struct job	*jobs;
static size_t		 njobs, next, running, finished, maxjobs = 32;
static const char	*receiver;
static time_t		 now;
static int		 timeout;

static void	usage(void);
static size_t	unescape(const char *, size_t, char *, size_t);
static int	fields(const char *, struct job *);
static void	start(void);
static void	done_cb(void *, const struct spf_outcome *);
static void	print(const struct job *);
static long long number(const char *, long long, long long);

static void
usage(void)
{
	fprintf(stderr, "usage: spf_tool [-r receiver] [-t now] "
	    "[-T timeout] [-j jobs] address port\n");
	exit(2);
}

/* A decimal number in [min, max], or exit. */
static long long
number(const char *s, long long min, long long max)
{
	char		*end;
	long long	 v;

	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < min || v > max)
		errx(2, "%s: not a number from %lld to %lld", s, min, max);
	return v;
}

static size_t
unescape(const char *s, size_t len, char *out, size_t outsz)
{
	size_t		 i, n = 0;
	unsigned int	 c;

	for (i = 0; i < len && n + 1 < outsz; i++) {
		if (s[i] == '\\' && i + 1 < len && s[i + 1] == 's') {
			out[n++] = ' ';
			i++;
		} else if (s[i] == '\\' && i + 1 < len && s[i + 1] == '\\') {
			out[n++] = '\\';
			i++;
		} else if (s[i] == '\\' && i + 3 < len && s[i + 1] == 'x' &&
		    sscanf(s + i + 2, "%2x", &c) == 1) {
			out[n++] = (char)c;
			i += 3;
		} else
			out[n++] = s[i];
	}
	out[n] = '\0';
	return n;
}

/* "ip helo mailfrom" into j; 0 if not three fields. */
static int
fields(const char *line, struct job *j)
{
	char		*dst[3] = { j->ip, j->helo, j->from };
	const char	*p = line, *s;
	int		 i;

	for (i = 0; i < 3; i++) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return 0;
		for (s = p; *p != ' ' && *p != '\t' && *p != '\0'; p++)
			;
		unescape(s, p - s, dst[i], FIELD_MAX);
	}
	return 1;
}

/* Start checks until maxjobs run. */
static void
start(void)
{
	struct spf_params		 p;
	struct sockaddr_in		*sin;
	struct sockaddr_in6		*sin6;
	struct job			*j;

	while (running < maxjobs && next < njobs) {
		j = &jobs[next++];
		if (j->bad)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &j->start);
		memset(&p, 0, sizeof(p));
		sin = (struct sockaddr_in *)&p.addr;
		sin6 = (struct sockaddr_in6 *)&p.addr;
		if (inet_pton(AF_INET, j->ip, &sin->sin_addr) == 1)
			sin->sin_family = AF_INET;
		else if (inet_pton(AF_INET6, j->ip, &sin6->sin6_addr) == 1)
			sin6->sin6_family = AF_INET6;
		p.helo = j->helo;
		p.mailfrom = strcmp(j->from, "<>") == 0 ? "" : j->from;
		p.receiver = receiver;
		p.now = now;
		p.timeout = timeout;
		running++;
		spf_check(&p, done_cb, j);
	}
}

static void
done_cb(void *arg, const struct spf_outcome *o)
{
	struct job	*j = arg;
	struct timespec	 t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	j->ms = (t.tv_sec - j->start.tv_sec) * 1000 +
	    (t.tv_nsec - j->start.tv_nsec) / 1000000;
	j->out = *o;
	j->done++;
	running--;
	finished++;
	start();
}

static void
print(const struct job *j)
{
	if (j->bad) {
		printf("badline\t\t\t\t0\n");
		return;
	}
	printf("%s\t%s\t%s\t%s\t%ld\n", spf_strresult(j->out.result),
	    j->out.explanation, j->out.mechanism, j->out.problem, j->ms);
}

int
main(int argc, char *argv[])
{
	char		*line = NULL;
	size_t		 size = 0, i;
	ssize_t		 n;
	int		 ch, port;

	while ((ch = getopt(argc, argv, "j:r:t:T:")) != -1) {
		switch (ch) {
		case 'j':
			maxjobs = number(optarg, 1, 1000);
			break;
		case 'r':
			receiver = optarg;
			break;
		case 't':
			now = number(optarg, 1, 1LL << 40);
			break;
		case 'T':
			timeout = number(optarg, 1, 600);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2)
		usage();
	port = number(argv[1], 1, 65535);

	log_init(1, getenv("SPF_TOOL_VERBOSE") != NULL);
	event_init();
	if (dns_init(argv[0], port) == -1)
		errx(1, "dns_init %s %d", argv[0], port);

	while ((n = getline(&line, &size, stdin)) != -1) {
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if ((jobs = reallocarray(jobs, njobs + 1, sizeof(*jobs))) ==
		    NULL)
			err(1, "reallocarray");
		memset(&jobs[njobs], 0, sizeof(jobs[0]));
		if (!fields(line, &jobs[njobs])) {
			jobs[njobs].bad = 1;
			jobs[njobs].done = 1;
			finished++;
		}
		njobs++;
	}
	free(line);

	start();
	while (finished < njobs)
		event_loop(EVLOOP_ONCE);
	for (i = 0; i < njobs; i++) {
		if (!jobs[i].bad && jobs[i].done != 1)
			errx(1, "line %zu: %d callbacks", i + 1, jobs[i].done);
		print(&jobs[i]);
	}
	/*
	 * Queries of checks that hit their deadline may still be out, and
	 * their runs wait for them: the loop ends when nothing is left.
	 */
	fflush(stdout);
	event_dispatch();
	dns_shutdown();
	free(jobs);
	return 0;
}
