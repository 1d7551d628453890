/*
 * mailctl dns: the DNS records that the mail domains of mail.conf need
 * (A/AAAA of the mail host, MX, SPF, DKIM, DMARC, and the PTR to ask
 * the hosting provider for), printed ready to paste into a zone file.
 * "mailctl dns check" (mailctl_dnscheck.c) asks DNS for the same
 * records and says record by record whether they are there and right.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "dkim.h"
#include "dns.h"
#include "mailctl.h"
#include "mailctl_dns.h"
#include "table.h"
#include "util.h"

static int	 parse_args(int, char **, struct mdns_ctx *, const char **);
static int	 ip_parse(const char *, struct mdns_ip *);
static int	 ip_from_sa(const struct sockaddr_storage *, struct mdns_ip *);
static int	 ip_public(const struct mdns_ip *);
static int	 dom_add(struct mdns_ctx *, const char *, int);
static int	 doms_collect(struct mdns_ctx *, const char *);
static int	 doms_receive(const struct mdns_ctx *);
static int	 table_has(struct table *, const char *);
static void	 want_collect(struct mdns_ctx *);
static void	 put_txt(const char *, const char *, size_t);
static int	 gen(struct mdns_ctx *);
static void	 gen_host(struct mdns_ctx *);
static int	 gen_domain(struct mdns_ctx *, const struct mdns_dom *);
static void	 gen_ptr(struct mdns_ctx *);

/*
 * mailctl dns [-a address] [domain]
 * mailctl dns check [-a address] [domain]
 */
int
mailctl_dns(int argc, char **argv)
{
	struct mdns_ctx	 c;
	const char	*only;
	int		 checking = 0, r;

	memset(&c, 0, sizeof(c));
	if (argc >= 2 && strcmp(argv[1], "check") == 0) {
		checking = 1;
		argc--;
		argv++;
	}
	if ((r = parse_args(argc, argv, &c, &only)) != MAILCTL_OK)
		return r;
	c.conf = mailctl_conf();
	if (!dns_name_valid(c.conf->hostname, c.host, sizeof(c.host))) {
		fprintf(stderr, "mailctl: hostname %s: not a DNS name\n",
		    c.conf->hostname);
		return MAILCTL_FAIL;
	}
	if (doms_collect(&c, only) == -1) {
		free(c.doms);
		return MAILCTL_FAIL;
	}
	if (c.nwant == 0)
		want_collect(&c);
	c.mx = doms_receive(&c);
	r = checking ? mdns_check(&c) : gen(&c);
	free(c.doms);
	return r;
}

static int
parse_args(int argc, char **argv, struct mdns_ctx *c, const char **only)
{
	struct mdns_ip	 ip;
	int		 ch;

	getopt_reset();
	while ((ch = getopt(argc, argv, "a:")) != -1) {
		switch (ch) {
		case 'a':
			if (ip_parse(optarg, &ip) == -1) {
				fprintf(stderr, "mailctl: -a %s: not an IPv4 "
				    "or IPv6 address\n", optarg);
				return MAILCTL_USAGE;
			}
			if (c->nwant >= MAX_ADDRS) {
				fprintf(stderr, "mailctl: -a: at most %d "
				    "addresses\n", MAX_ADDRS);
				return MAILCTL_USAGE;
			}
			mdns_ip_add(c->want, &c->nwant, &ip);
			break;
		default:
			mailctl_usage();
		}
	}
	if (argc - optind > 1)
		mailctl_usage();
	*only = argc - optind == 1 ? argv[optind] : NULL;
	return MAILCTL_OK;
}

/* -- addresses and names -- */

static int
ip_parse(const char *s, struct mdns_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (inet_pton(AF_INET, s, ip->a) == 1)
		ip->af = AF_INET;
	else if (inet_pton(AF_INET6, s, ip->a) == 1)
		ip->af = AF_INET6;
	else
		return -1;
	/* Canonical text: "2001:DB8::0:1" and "2001:db8::1" are one. */
	if (inet_ntop(ip->af, ip->a, ip->text, sizeof(ip->text)) == NULL)
		return -1;
	return 0;
}

static int
ip_from_sa(const struct sockaddr_storage *ss, struct mdns_ip *ip)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6	*sin6 = (const struct sockaddr_in6 *)ss;

	memset(ip, 0, sizeof(*ip));
	if (ss->ss_family == AF_INET) {
		ip->af = AF_INET;
		memcpy(ip->a, &sin->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		ip->af = AF_INET;
		memcpy(ip->a, &sin6->sin6_addr.s6_addr[12], 4);
	} else if (ss->ss_family == AF_INET6) {
		ip->af = AF_INET6;
		memcpy(ip->a, &sin6->sin6_addr, 16);
	} else
		return -1;
	if (inet_ntop(ip->af, ip->a, ip->text, sizeof(ip->text)) == NULL)
		return -1;
	return 0;
}

/* Not the wildcard, loopback or link-local: others may reach it. */
static int
ip_public(const struct mdns_ip *ip)
{
	static const unsigned char	 zero[16];
	struct in6_addr			 a6;

	if (ip->af == AF_INET)
		return ip->a[0] != 0 && ip->a[0] != 127 &&
		    !(ip->a[0] == 169 && ip->a[1] == 254);
	memcpy(&a6, ip->a, sizeof(a6));
	return memcmp(ip->a, zero, 16) != 0 && !IN6_IS_ADDR_LOOPBACK(&a6) &&
	    !IN6_IS_ADDR_LINKLOCAL(&a6);
}

void
mdns_ip_add(struct mdns_ip *list, size_t *n, const struct mdns_ip *ip)
{
	if (*n < MAX_ADDRS && !mdns_ip_in(list, *n, ip))
		list[(*n)++] = *ip;
}

int
mdns_ip_in(const struct mdns_ip *list, size_t n, const struct mdns_ip *ip)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (list[i].af == ip->af &&
		    memcmp(list[i].a, ip->a, ip->af == AF_INET ? 4 : 16) == 0)
			return 1;
	return 0;
}

/* 4.3.2.1.in-addr.arpa, or the nibbles of ip6.arpa; without final dot. */
int
mdns_rev_name(const struct mdns_ip *ip, char *buf, size_t len)
{
	size_t	 off = 0;
	int	 i, r;

	if (ip->af == AF_INET)
		r = snprintf(buf, len, "%u.%u.%u.%u.in-addr.arpa", ip->a[3],
		    ip->a[2], ip->a[1], ip->a[0]);
	else {
		for (i = 15; i >= 0; i--) {
			r = snprintf(buf + off, len - off, "%x.%x.",
			    ip->a[i] & 0xf, ip->a[i] >> 4);
			if (r < 0 || (size_t)r >= len - off)
				return -1;
			off += r;
		}
		r = snprintf(buf + off, len - off, "ip6.arpa");
		len -= off;
	}
	return r < 0 || (size_t)r >= len ? -1 : 0;
}

/* -- what to print or check -- */

static int
dom_add(struct mdns_ctx *c, const char *name, int receives)
{
	struct mdns_dom	*d;
	size_t		 i;

	for (i = 0; i < c->ndoms; i++)
		if (strcmp(c->doms[i].name, name) == 0) {
			c->doms[i].receives |= receives;
			return 0;
		}
	if ((d = reallocarray(c->doms, c->ndoms + 1, sizeof(*d))) == NULL) {
		fprintf(stderr, "mailctl: %s\n", strerror(errno));
		return -1;
	}
	c->doms = d;
	d = &c->doms[c->ndoms++];
	memset(d, 0, sizeof(*d));
	(void)strlcpy(d->name, name, sizeof(d->name));	/* dns_name_valid() */
	d->receives = receives;
	return 0;
}

/*
 * The domains of the "match ... for domain" rules, then those of the
 * dkim lines (DKIM records only); or the one asked for, which must be
 * one of them, match a "*.domain" rule or be in a domain table.
 */
static int
doms_collect(struct mdns_ctx *c, const char *only)
{
	struct rule	*r;
	struct dkimconf	*d;
	char		 name[DNS_NAME_MAX + 1];
	size_t		 dl, rl;
	int		 recv = 0, known = 0;

	if (only != NULL) {
		if (!dns_name_valid(only, name, sizeof(name))) {
			fprintf(stderr, "mailctl: %s: not a domain name\n",
			    only);
			return -1;
		}
		TAILQ_FOREACH(r, &c->conf->rules, entry) {
			if (r->for_ == FOR_DOMAIN &&
			    strncmp(r->domain, "*.", 2) == 0) {
				dl = strlen(name);
				rl = strlen(r->domain) - 1;
				recv |= dl > rl &&
				    strcmp(name + dl - rl, r->domain + 1) == 0;
			} else if (r->for_ == FOR_DOMAIN)
				recv |= strcmp(name, r->domain) == 0;
			else if (r->for_ == FOR_DOMAIN_TABLE && !recv)
				recv |= table_has(r->domains, name) == 1;
		}
		TAILQ_FOREACH(d, &c->conf->dkims, entry)
			known |= strcmp(d->domain, name) == 0;
		if (!recv && !known) {
			fprintf(stderr, "mailctl: %s: no match rule or dkim "
			    "line of %s is for this domain\n", name,
			    c->conf->path);
			return -1;
		}
		return dom_add(c, name, recv);
	}
	TAILQ_FOREACH(r, &c->conf->rules, entry) {
		if (r->for_ == FOR_DOMAIN_TABLE && r->domains != NULL)
			printf("; match ... for domain <%s>: give each of its "
			    "domains as argument\n", r->domains->name);
		if (r->for_ != FOR_DOMAIN)
			continue;
		if (strncmp(r->domain, "*.", 2) == 0)
			printf("; match ... for domain \"%s\": give each of "
			    "its domains as argument\n", r->domain);
		else if (dns_name_valid(r->domain, name, sizeof(name)) &&
		    dom_add(c, name, 1) == -1)
			return -1;
	}
	TAILQ_FOREACH(d, &c->conf->dkims, entry)
		if (dns_name_valid(d->domain, name, sizeof(name)) &&
		    dom_add(c, name, 0) == -1)
			return -1;
	if (c->ndoms == 0) {
		fprintf(stderr, "mailctl: %s: no \"match ... for domain\" "
		    "rule and no dkim line\n", c->conf->path);
		return -1;
	}
	return 0;
}

/* Does some domain to print or check receive mail (MX to the host)? */
static int
doms_receive(const struct mdns_ctx *c)
{
	size_t	 i;

	for (i = 0; i < c->ndoms; i++)
		if (c->doms[i].receives)
			return 1;
	return 0;
}

/* Is name a key of the domain table?  1, 0, -1 unreadable (said). */
static int
table_has(struct table *t, const char *name)
{
	char	 err[512];
	int	 fd, r;

	if (t == NULL)
		return 0;
	if (!t->loaded) {
		if ((fd = open(t->path, O_RDONLY | O_CLOEXEC)) == -1) {
			fprintf(stderr, "mailctl: %s: %s\n", t->path,
			    strerror(errno));
			return -1;
		}
		r = table_load_fd(t, fd, err, sizeof(err));
		close(fd);
		if (r == -1) {
			fprintf(stderr, "mailctl: %s\n", err);
			return -1;
		}
	}
	return table_lookup(t, name, NULL) == 1;
}

/* The addresses maild listens on that others can reach. */
static void
want_collect(struct mdns_ctx *c)
{
	struct listener	*l;
	struct mdns_ip	 ip;

	TAILQ_FOREACH(l, &c->conf->listeners, entry)
		if (l->proto == PROTO_SMTP && ip_from_sa(&l->ss, &ip) == 0 &&
		    ip_public(&ip))
			mdns_ip_add(c->want, &c->nwant, &ip);
}

/*
 * The TXT record of a dkim line's key, made by dkim.c from the private
 * key as maild loads it.  mailctl runs as root and may read it; the
 * PEM text is wiped at once.  NULL with a reason in err.
 */
char *
mdns_dkim_txt(const struct dkimconf *d, char *err, size_t errlen)
{
	struct dkim_key	*k;
	struct stat	 st;
	char		*pem, *txt, why[256];
	size_t		 len;
	int		 fd;

	if ((fd = open(d->key_file, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", d->key_file, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", d->key_file);
		close(fd);
		return NULL;
	}
	pem = read_fd(fd, DKIM_PEM_MAX, &len);
	close(fd);
	if (pem == NULL) {
		snprintf(err, errlen, "%s: %s", d->key_file, errno == EFBIG ?
		    "too big for a key" : strerror(errno));
		return NULL;
	}
	k = dkim_key_new(d->domain, d->selector, pem, len, why, sizeof(why));
	explicit_bzero(pem, len);
	free(pem);
	if (k == NULL) {
		snprintf(err, errlen, "%s: %s", d->key_file, why);
		return NULL;
	}
	txt = dkim_key_txt(k);
	dkim_key_free(k);
	return txt;
}

/* -- mailctl dns: the records -- */

/*
 * A TXT record in strings of at most 255 bytes (RFC 1035 3.3.14), in
 * parentheses when there are several; '"', '\\' and odd bytes escaped.
 */
static void
put_txt(const char *name, const char *s, size_t len)
{
	size_t		 i = 0, j, n;
	unsigned char	 ch;

	printf("%s. IN TXT %s", name, len > 255 ? "( " : "");
	do {
		n = len - i < 255 ? len - i : 255;
		printf("%s\"", i > 0 ? " " : "");
		for (j = i; j < i + n; j++) {
			ch = s[j];
			if (ch == '"' || ch == '\\')
				printf("\\%c", ch);
			else if (ch < 0x20 || ch > 0x7e)
				printf("\\%03u", ch);
			else
				putchar(ch);
		}
		putchar('"');
		i += n;
	} while (i < len);
	printf("%s\n", len > 255 ? " )" : "");
}

static int
gen(struct mdns_ctx *c)
{
	size_t	 i;
	int	 r = MAILCTL_OK;

	if (c->mx)
		gen_host(c);
	for (i = 0; i < c->ndoms; i++)
		if (gen_domain(c, &c->doms[i]) == -1)
			r = MAILCTL_FAIL;
	if (c->mx)
		gen_ptr(c);
	return r;
}

static void
gen_host(struct mdns_ctx *c)
{
	size_t	 i;

	printf("; The mail host %s: the address(es) its MX records point "
	    "to.\n", c->host);
	for (i = 0; i < c->nwant; i++)
		printf("%s. IN %s %s\n", c->host, c->want[i].af == AF_INET ?
		    "A" : "AAAA", c->want[i].text);
	if (c->nwant == 0) {
		printf("; maild listens on no public address: fill in those "
		    "of this server\n; (or give them with mailctl dns -a "
		    "address):\n");
		printf("; %s. IN A <IPv4 address>\n", c->host);
		printf("; %s. IN AAAA <IPv6 address>\n", c->host);
	}
}

static int
gen_domain(struct mdns_ctx *c, const struct mdns_dom *d)
{
	struct dkimconf	*k;
	char		 txt[512], err[PATH_MAX + 512], *key;
	int		 r = 0;

	if (c->mx || d != &c->doms[0])
		printf("\n");
	if (d->receives) {
		printf("; %s: mail for it goes to %s.\n", d->name, c->host);
		printf("%s. IN MX 10 %s.\n", d->name, c->host);
		printf("; %s: SPF, only its MX hosts send its mail.\n",
		    d->name);
		put_txt(d->name, "v=spf1 mx -all", strlen("v=spf1 mx -all"));
	} else
		printf("; %s: maild signs its mail but receives none for it "
		    "(no match rule).\n", d->name);
	TAILQ_FOREACH(k, &c->conf->dkims, entry) {
		if (strcmp(k->domain, d->name) != 0)
			continue;
		printf("; %s: DKIM public key of selector %s (%s).\n",
		    d->name, k->selector, k->key_file);
		if ((key = mdns_dkim_txt(k, err, sizeof(err))) == NULL) {
			fprintf(stderr, "mailctl: %s\n", err);
			printf("; cannot read the key: see the error\n");
			r = -1;
			continue;
		}
		if (snprintf(txt, sizeof(txt), "%s._domainkey.%s",
		    k->selector, d->name) <= DNS_NAME_MAX)
			put_txt(txt, key, strlen(key));
		else {
			fprintf(stderr, "mailctl: %s._domainkey.%s: too long "
			    "for DNS\n", k->selector, d->name);
			r = -1;
		}
		free(key);
	}
	if (!d->receives)
		return r;
	printf("; %s: DMARC, receivers put its mail that fails SPF and DKIM "
	    "in spam;\n; their reports go to postmaster.  When the reports "
	    "have shown for some\n; weeks that all of the domain's mail "
	    "passes, make it p=reject.\n", d->name);
	if (snprintf(txt, sizeof(txt), "v=DMARC1; p=quarantine; "
	    "rua=mailto:postmaster@%s", d->name) >= (int)sizeof(txt) ||
	    snprintf(err, sizeof(err), "_dmarc.%s", d->name) > DNS_NAME_MAX) {
		fprintf(stderr, "mailctl: _dmarc.%s: too long for DNS\n",
		    d->name);
		return -1;
	}
	put_txt(err, txt, strlen(txt));
	return r;
}

static void
gen_ptr(struct mdns_ctx *c)
{
	char	 rev[DNS_NAME_MAX + 1];
	size_t	 i;

	printf("\n; Reverse DNS: ask the hosting provider of each address "
	    "for this PTR record\n; (it lives in their zone, not yours).\n");
	for (i = 0; i < c->nwant; i++)
		if (mdns_rev_name(&c->want[i], rev, sizeof(rev)) == 0)
			printf("; %s. IN PTR %s.\n", rev, c->host);
	if (c->nwant == 0)
		printf("; <reverse name of each address> IN PTR %s.\n",
		    c->host);
}
