/*
 * mailctl check [-i ip] [-h helo] [-m mailfrom] file: the checks maild
 * makes of an inbound message (SPF, DKIM, DMARC, ARC), with the same
 * code (msgauth.c, spf.c) and the resolver and policy of mail.conf;
 * prints the Authentication-Results header maild would write and what
 * it would do with the message, so that a user can see why a message
 * failed.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "config.h"
#include "dns.h"
#include "expand.h"
#include "log.h"
#include "mailctl.h"
#include "msgauth.h"
#include "psl.h"
#include "spf.h"
#include "util.h"

#define CHECK_MSG_MAX	(64 * 1024 * 1024)

struct check {
	struct msgauth	*ma;
	int		 pending;	/* answers to come */
	int		 spf_wait;
};

static void	check_ask(struct check *);
static void	check_answer(void *, const char *, int, enum msgauth_dns,
		    const char *const *, size_t);
static void	check_spf(void *, const struct spf_outcome *);
static int	check_own(const char *, void *);

int
mailctl_check(int argc, char **argv)
{
	static const char *const acts[] = { "accept", "deliver to Junk",
	    "refuse", "defer" };
	struct maild_conf	*conf = mailctl_conf();
	struct msgauth_params	 p;
	struct msgauth_verdict	 v;
	struct spf_params	 sp;
	struct check		 c;
	struct psl		*psl;
	const char		*ip = NULL, *helo = "", *from = "";
	char			 err[256], *buf;
	size_t			 len;
	int			 ch, fd;

	optind = 1;
	while ((ch = getopt(argc, argv, "h:i:m:")) != -1) {
		switch (ch) {
		case 'h':
			helo = optarg;
			break;
		case 'i':
			ip = optarg;
			break;
		case 'm':
			from = optarg;
			break;
		default:
			mailctl_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		mailctl_usage();
	memset(&sp, 0, sizeof(sp));
	if (ip != NULL) {
		if (inet_pton(AF_INET, ip,
		    &((struct sockaddr_in *)&sp.addr)->sin_addr) == 1)
			sp.addr.ss_family = AF_INET;
		else if (inet_pton(AF_INET6, ip,
		    &((struct sockaddr_in6 *)&sp.addr)->sin6_addr) == 1)
			sp.addr.ss_family = AF_INET6;
		else {
			fprintf(stderr, "mailctl: %s is not an IP address\n",
			    ip);
			return MAILCTL_USAGE;
		}
	}
	if (strcmp(argv[0], "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(argv[0], O_RDONLY)) == -1) {
		fprintf(stderr, "mailctl: %s: %s\n", argv[0], strerror(errno));
		return MAILCTL_FAIL;
	}
	buf = read_fd(fd, CHECK_MSG_MAX, &len);
	if (fd != STDIN_FILENO)
		close(fd);
	if (buf == NULL) {
		fprintf(stderr, "mailctl: %s: cannot read it (or over %d "
		    "MB)\n", argv[0], CHECK_MSG_MAX / 1024 / 1024);
		return MAILCTL_FAIL;
	}
	if ((psl = psl_load_file(conf->psl_file, 0, err, sizeof(err))) ==
	    NULL)
		fprintf(stderr, "mailctl: %s; DMARC takes the last two labels "
		    "of a domain as its organisational domain\n", err);

	event_init();
	if (dns_init(conf->resolver[0] != '\0' ? conf->resolver : NULL,
	    conf->resolver_port) == -1) {
		fprintf(stderr, "mailctl: cannot set up the resolver\n");
		return MAILCTL_FAIL;
	}
	memset(&p, 0, sizeof(p));
	p.authserv_id = conf->hostname;
	p.helo = helo;
	p.mailfrom = from;
	p.psl = psl;
	p.own_domain = check_own;
	p.own_arg = conf;
	p.spf_fail_action = conf->spf_fail_action;
	p.dmarc_enforce = conf->dmarc_enforce;
	p.dmarc_own = conf->dmarc_own;
	p.now = time(NULL);
	p.pct_roll = 0;		/* as if pct= always chose this message */
	memset(&c, 0, sizeof(c));
	if ((c.ma = msgauth_new(&p)) == NULL)
		fatal("msgauth_new");
	msgauth_update(c.ma, buf, len);
	msgauth_end(c.ma);
	free(buf);
	if (ip == NULL) {
		struct spf_outcome	 o;

		memset(&o, 0, sizeof(o));
		o.result = SPF_NONE;
		(void)strlcpy(o.problem, "no client address given (-i)",
		    sizeof(o.problem));
		msgauth_spf(c.ma, &o);
	} else {
		sp.helo = helo;
		sp.mailfrom = from;
		sp.receiver = conf->hostname;
		c.spf_wait = 1;
		spf_check(&sp, check_spf, &c);
	}
	check_ask(&c);
	while (c.pending > 0 || c.spf_wait)
		if (event_loop(EVLOOP_ONCE) == -1)
			fatal("event_loop");
	if (!msgauth_ready(c.ma) || msgauth_verdict(c.ma, &v) == -1) {
		fprintf(stderr, "mailctl: the checks did not finish\n");
		return MAILCTL_FAIL;
	}
	printf("%s", v.authres);
	printf("Verdict: %s%s%s\n", acts[v.action], v.reply[0] ? ": " : "",
	    v.reply);
	free(v.authres);
	msgauth_free(c.ma);
	psl_free(psl);
	dns_shutdown();
	return MAILCTL_OK;
}

static void
check_ask(struct check *c)
{
	const char	*name;
	int		 qtype;

	while ((name = msgauth_next(c->ma, &qtype)) != NULL) {
		c->pending++;
		msgauth_dns_ask(name, qtype, check_answer, c);
	}
}

static void
check_answer(void *arg, const char *name, int qtype, enum msgauth_dns st,
    const char *const *txt, size_t n)
{
	struct check	*c = arg;

	c->pending--;
	msgauth_answer(c->ma, name, qtype, st, txt, n);
	check_ask(c);
}

static void
check_spf(void *arg, const struct spf_outcome *o)
{
	struct check	*c = arg;

	c->spf_wait = 0;
	msgauth_spf(c->ma, o);
}

static int
check_own(const char *domain, void *arg)
{
	return rule_own_domain(arg, domain);
}
