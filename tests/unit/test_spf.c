/*
 * Tests of the SPF evaluator (spf.c) without DNS: the zone and the
 * checks of tests/data/spf/cases (record selection, every mechanism and
 * modifier, macros, limits, RFC 7208 section by section), answered from
 * memory the way spf_check() answers from DNS; then spf_expand() and
 * spf_record_check() from the same file, and what the file cannot say:
 * the restart protocol (queries asked at once, answers kept, the same
 * outcome however answers come), spf_expire(), the outcome's fields,
 * bounds on hostile input.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "dns.h"
#include "log.h"
#include "spf.h"
#include "tap.h"

#define CASES		"tests/data/spf/cases"
#define MAXREC		2048
#define MAXFIELD	1024
#define NOW		1700000000
#define RECEIVER	"rcpt.example.net"

struct rec {
	char		 name[DNS_NAME_MAX + 1];
	int		 type;		/* DNS_T_*; 0: a temporary failure */
	int		 pref;
	unsigned char	 addr[16];
	char		*text;
	size_t		 len;
};

struct run {
	size_t		 queries;
	size_t		 rounds;
	size_t		 maxbatch;
};

static struct rec	 zone[MAXREC];
static size_t		 nzone;

static size_t	unescape(const char *, size_t, char *, size_t);
static const char *vis(char *);
static int	field(const char **, char *, size_t *);
static int	type_of(const char *);
static void	zone_add(const char *, const char *);
static struct dns_rrset *answer(const char *, int);
static int	addr_of(const char *, struct sockaddr_storage *);
static struct spf *check(const char *, const char *, const char *,
		    struct run *, int);
static void	line_check(const char *, int, size_t *);
static void	line_expand(const char *, int);
static void	line_record(const char *, int);
static void	test_file(void);
static void	test_protocol(void);
static void	test_expire(void);
static void	test_outcome(void);
static void	test_hostile(void);

/* \\, \s and \xHH of the cases file; the length of what is in out. */
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

/* s with its control characters as '?', for a test's name. */
static const char *
vis(char *s)
{
	char	*p;

	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20)
			*p = '?';
	return s;
}

/* The next space-separated field of *s, unescaped; 0 at the end. */
static int
field(const char **s, char *out, size_t *len)
{
	const char	*p = *s, *start;

	while (*p == ' ')
		p++;
	if (*p == '\0')
		return 0;
	start = p;
	while (*p != ' ' && *p != '\0')
		p++;
	*len = unescape(start, p - start, out, MAXFIELD);
	*s = p;
	return 1;
}

static int
type_of(const char *s)
{
	if (strcasecmp(s, "a") == 0)
		return DNS_T_A;
	if (strcasecmp(s, "aaaa") == 0)
		return DNS_T_AAAA;
	if (strcasecmp(s, "mx") == 0)
		return DNS_T_MX;
	if (strcasecmp(s, "ptr") == 0)
		return DNS_T_PTR;
	if (strcasecmp(s, "txt") == 0)
		return DNS_T_TXT;
	return -1;
}

static void
zone_add(const char *kind, const char *rest)
{
	struct rec	*r;
	char		 f[MAXFIELD], name[MAXFIELD];
	size_t		 len, i;
	int		 t;

	if (nzone >= MAXREC || !field(&rest, name, &len))
		goto bad;
	r = &zone[nzone];
	memset(r, 0, sizeof(*r));
	if (!dns_qname_valid(name, r->name, sizeof(r->name)))
		goto bad;
	if (strcmp(kind, "tempfail") == 0) {
		if (!field(&rest, f, &len) || (t = type_of(f)) == -1)
			goto bad;
		r->type = 0;
		r->pref = t;
		nzone++;
		return;
	}
	r->type = type_of(kind);
	switch (r->type) {
	case DNS_T_TXT:
		/* The rest of the line after one space. */
		if (*rest == ' ')
			rest++;
		if ((r->text = malloc(strlen(rest) + 1)) == NULL)
			abort();
		r->len = unescape(rest, strlen(rest), r->text,
		    strlen(rest) + 1);
		break;
	case DNS_T_A:
	case DNS_T_AAAA:
		if (!field(&rest, f, &len) || inet_pton(r->type == DNS_T_A ?
		    AF_INET : AF_INET6, f, r->addr) != 1)
			goto bad;
		break;
	case DNS_T_MX:
		if (!field(&rest, f, &len))
			goto bad;
		r->pref = atoi(f);
		/* FALLTHROUGH */
	case DNS_T_PTR:
		if (!field(&rest, f, &len))
			goto bad;
		if (strcmp(f, ".") == 0)
			f[0] = '\0';
		for (i = 0; f[i] != '\0'; i++)
			if (f[i] >= 'A' && f[i] <= 'Z')
				f[i] += 'a' - 'A';
		if ((r->text = strdup(f)) == NULL)
			abort();
		r->len = strlen(f);
		break;
	default:
		goto bad;
	}
	nzone++;
	return;
 bad:
	ok(0, "zone line: %s %s", kind, rest);
}

/* The answer the zone gives, as dns_query() would. */
static struct dns_rrset *
answer(const char *qname, int type)
{
	struct dns_rrset	*rs;
	struct dns_rr		 rr[DNS_RR_MAX];
	char			 key[DNS_NAME_MAX + 1];
	size_t			 i, n = 0, dropped = 0;

	if (!dns_qname_valid(qname, key, sizeof(key)))
		return dns_rrset_make(type, DNS_NXDOMAIN, 300, NULL, 0);
	memset(rr, 0, sizeof(rr));
	for (i = 0; i < nzone; i++) {
		if (strcmp(zone[i].name, key) != 0)
			continue;
		if (zone[i].type == 0 && zone[i].pref == type)
			return dns_rrset_make(type, DNS_TEMPFAIL, 0, NULL, 0);
		if (zone[i].type != type)
			continue;
		if (n == DNS_RR_MAX) {
			dropped++;
			continue;
		}
		rr[n].pref = zone[i].pref;
		memcpy(rr[n].addr, zone[i].addr, 16);
		rr[n].text = zone[i].text;
		rr[n].len = zone[i].len;
		n++;
	}
	rs = dns_rrset_make(type, n > 0 ? DNS_OK : DNS_NXDOMAIN, 300, rr, n);
	rs->dropped = dropped;
	return rs;
}

static int
addr_of(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return 1;
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		return 1;
	}
	return 0;
}

/*
 * A whole check answered from the zone; the check (for spf_outcome()),
 * or NULL if it did not end.  reverse: answer each batch backwards.
 */
static struct spf *
check(const char *ip, const char *helo, const char *from, struct run *run,
    int reverse)
{
	struct spf_params	 p;
	const struct spf_need	*needs;
	struct dns_rrset	*rs;
	struct spf		*spf;
	size_t			 i, k, n;

	memset(&p, 0, sizeof(p));
	memset(run, 0, sizeof(*run));
	if (!addr_of(ip, &p.addr))
		return NULL;
	p.helo = helo;
	p.mailfrom = strcmp(from, "<>") == 0 ? "" : from;
	p.receiver = RECEIVER;
	p.now = NOW;
	spf = spf_new(&p);
	while (spf_eval(spf) == SPF_NEED) {
		n = spf_needs(spf, &needs);
		if (n == 0 || ++run->rounds > 200) {
			spf_free(spf);
			return NULL;
		}
		if (n > run->maxbatch)
			run->maxbatch = n;
		for (i = 0; i < n; i++) {
			k = reverse ? n - 1 - i : i;
			rs = answer(needs[k].name, needs[k].type);
			spf_answer(spf, needs[k].name, needs[k].type, rs);
			free(rs);
			run->queries++;
		}
	}
	return spf;
}

static void
line_check(const char *rest, int lineno, size_t *lastq)
{
	const struct spf_outcome	*o;
	struct spf			*spf;
	struct run			 run;
	char				 ip[MAXFIELD], helo[MAXFIELD];
	char				 from[MAXFIELD], res[MAXFIELD];
	char				 exp[MAXFIELD];
	size_t				 len;
	int				 good;

	if (!field(&rest, ip, &len) || !field(&rest, helo, &len) ||
	    !field(&rest, from, &len) || !field(&rest, res, &len)) {
		ok(0, "line %d: check IP HELO MAILFROM RESULT", lineno);
		return;
	}
	while (*rest == ' ')
		rest++;
	unescape(rest, strlen(rest), exp, sizeof(exp));
	if ((spf = check(ip, helo, from, &run, lineno % 2)) == NULL) {
		ok(0, "line %d: %s from %s: the check ends", lineno, from, ip);
		return;
	}
	*lastq = run.queries;
	o = spf_outcome(spf);
	good = strcmp(spf_strresult(o->result), res) == 0;
	if (exp[0] != '\0')
		good = good && strcmp(o->explanation,
		    strcmp(exp, "(none)") == 0 ? "" : exp) == 0;
	ok(good, "line %d: %s from %s (HELO %s): %s%s%s", lineno, vis(from),
	    ip, vis(helo), res, exp[0] != '\0' ? ", " : "", exp);
	if (!good)
		printf("#   got: %s \"%s\" (%s)\n", spf_strresult(o->result),
		    o->explanation, o->problem);
	spf_free(spf);
}

static void
line_expand(const char *rest, int lineno)
{
	const struct spf_need	*needs;
	struct spf_params	 p;
	struct dns_rrset	*rs;
	struct spf		*spf;
	char			 buf[MAXFIELD], out[SPF_EXP_MAX];
	char			*f[7], *s;
	size_t			 k, n;
	int			 i, r, rounds = 0;

	unescape(rest, strlen(rest), buf, sizeof(buf));
	s = buf;
	while (*s == ' ')
		s++;
	for (i = 0; i < 7; i++)
		if ((f[i] = strsep(&s, "|")) == NULL) {
			ok(0, "line %d: expand needs 7 fields", lineno);
			return;
		}
	memset(&p, 0, sizeof(p));
	if (!addr_of(f[0], &p.addr)) {
		ok(0, "line %d: address %s", lineno, f[0]);
		return;
	}
	p.mailfrom = strcmp(f[1], "<>") == 0 ? "" : f[1];
	p.helo = f[2];
	p.receiver = RECEIVER;
	p.now = NOW;
	spf = spf_new(&p);
	/* %{p} asks for DNS answers: from the zone. */
	while ((r = spf_expand(spf, f[3], f[5], strcmp(f[4], "text") == 0,
	    out, sizeof(out))) == -1 && rounds++ < 30) {
		n = spf_needs(spf, &needs);
		for (k = 0; k < n; k++) {
			rs = answer(needs[k].name, needs[k].type);
			spf_answer(spf, needs[k].name, needs[k].type, rs);
			free(rs);
		}
	}
	if (strcmp(f[6], "(error)") == 0) {
		ok(r == 0, "line %d: %s: a syntax error", lineno, f[5]);
		if (r != 0)
			printf("#   got: \"%s\"\n", out);
	} else {
		ok(r == 1 && strcmp(out, f[6]) == 0, "line %d: %s -> %s",
		    lineno, f[5], f[6]);
		if (r != 1 || strcmp(out, f[6]) != 0)
			printf("#   got %d: \"%s\"\n", r, r == 1 ? out : "");
	}
	spf_free(spf);
}

static void
line_record(const char *rest, int lineno)
{
	char	 what[MAXFIELD], text[MAXFIELD], why[SPF_PROBLEM_MAX];
	size_t	 len;
	int	 r, want;

	if (!field(&rest, what, &len)) {
		ok(0, "line %d: record VALID|INVALID|NOTSPF TEXT", lineno);
		return;
	}
	if (*rest == ' ')
		rest++;
	len = unescape(rest, strlen(rest), text, sizeof(text));
	want = strcmp(what, "VALID") == 0 ? 1 :
	    strcmp(what, "NOTSPF") == 0 ? 0 : -1;
	r = spf_record_check(text, len, why, sizeof(why));
	ok(r == want && (r != -1 || why[0] != '\0'),
	    "line %d: record \"%s\": %s", lineno, text, what);
	if (r != want)
		printf("#   got %d (%s)\n", r, why);
}

static void
test_file(void)
{
	FILE	*f;
	char	*line = NULL, kind[MAXFIELD];
	size_t	 size = 0, len, lastq = 0;
	ssize_t	 n;
	int	 lineno = 0;
	const char	*rest;

	if ((f = fopen(CASES, "r")) == NULL) {
		ok(0, "%s readable (run from the top directory)", CASES);
		return;
	}
	while ((n = getline(&line, &size, f)) != -1) {
		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		rest = line;
		if (!field(&rest, kind, &len))
			continue;
		if (strcmp(kind, "check") == 0)
			line_check(rest, lineno, &lastq);
		else if (strcmp(kind, "queries") == 0) {
			ok(lastq <= (size_t)atoi(rest), "line %d: at most %d "
			    "queries (%zu)", lineno, atoi(rest), lastq);
		} else if (strcmp(kind, "expand") == 0)
			line_expand(rest, lineno);
		else if (strcmp(kind, "record") == 0)
			line_record(rest, lineno);
		else
			zone_add(kind, rest);
	}
	free(line);
	fclose(f);
}

/* The restart protocol itself. */
static void
test_protocol(void)
{
	const struct spf_need	*needs;
	struct spf_params	 p;
	struct dns_rrset	*rs;
	struct spf		*spf, *spf2;
	struct run		 run, run2;
	size_t			 n;

	/* The MX names' addresses are asked together: 3 rounds. */
	spf = check("1.2.3.14", "mail.example.com", "foo@m14.example.com",
	    &run, 0);
	ok(spf != NULL && spf_outcome(spf)->result == SPF_PASS &&
	    run.rounds == 3 && run.maxbatch == 2,
	    "mx: TXT, MX, then both hosts at once (%zu rounds)", run.rounds);
	spf_free(spf);

	/* Answers in another order: the same outcome. */
	spf = check("1.2.3.4", "mail.example.com", "foo@l8.example.com", &run,
	    0);
	spf2 = check("1.2.3.4", "mail.example.com", "foo@l8.example.com",
	    &run2, 1);
	ok(spf != NULL && spf2 != NULL && spf_outcome(spf)->result ==
	    spf_outcome(spf2)->result && run.queries == run2.queries,
	    "answers in reverse order: the same outcome, the same queries");
	spf_free(spf);
	spf_free(spf2);

	/* Answers given before they are asked for are kept and used. */
	memset(&p, 0, sizeof(p));
	addr_of("1.2.3.4", &p.addr);
	p.helo = "mail.example.com";
	p.mailfrom = "foo@t2.example.com";
	spf = spf_new(&p);
	rs = answer("t2.example.com", DNS_T_TXT);
	spf_answer(spf, "T2.Example.Com.", DNS_T_TXT, rs);
	spf_answer(spf, "t2.example.com", DNS_T_TXT, rs);
	free(rs);
	ok(spf_eval(spf) == SPF_DONE && spf_outcome(spf)->result == SPF_PASS,
	    "an answer given ahead is used (case and final dot aside)");
	ok(spf_eval(spf) == SPF_DONE, "spf_eval() after the end: done");
	spf_free(spf);

	/* A first eval asks only for the record. */
	spf = spf_new(&p);
	ok(spf_eval(spf) == SPF_NEED && (n = spf_needs(spf, &needs)) == 1 &&
	    strcmp(needs[0].name, "t2.example.com") == 0 &&
	    needs[0].type == DNS_T_TXT, "first need: TXT of the domain");
	spf_free(spf);
}

static void
test_expire(void)
{
	struct spf_params	 p;
	struct dns_rrset	*rs;
	struct spf		*spf;

	memset(&p, 0, sizeof(p));
	addr_of("1.2.3.4", &p.addr);
	p.helo = "mail.example.com";
	p.mailfrom = "foo@m14.example.com";
	spf = spf_new(&p);
	ok(spf_eval(spf) == SPF_NEED, "expire: first a need");
	spf_expire(spf);
	ok(spf_eval(spf) == SPF_DONE &&
	    spf_outcome(spf)->result == SPF_TEMPERROR &&
	    spf_outcome(spf)->problem[0] != '\0',
	    "expired: a lacking answer is a temperror, with a problem");
	spf_free(spf);

	/* A fail waiting for its explanation is a fail without one. */
	p.mailfrom = "foo@f7.example.com";
	spf = spf_new(&p);
	while (spf_eval(spf) == SPF_NEED) {
		const struct spf_need	*needs;
		size_t			 i, n;

		n = spf_needs(spf, &needs);
		if (strcmp(needs[0].name, "exp3.example.com") == 0) {
			spf_expire(spf);
			continue;
		}
		for (i = 0; i < n; i++) {
			rs = answer(needs[i].name, needs[i].type);
			spf_answer(spf, needs[i].name, needs[i].type, rs);
			free(rs);
		}
	}
	ok(spf_outcome(spf)->result == SPF_FAIL &&
	    spf_outcome(spf)->explanation[0] == '\0',
	    "expired on exp=: fail, no explanation");
	spf_free(spf);
}

static void
test_outcome(void)
{
	const struct spf_outcome	*o;
	struct spf_params		 p;
	struct spf			*spf;
	struct run			 run;

	spf = check("1.2.3.5", "mail.example.com", "foo@i10.example.com",
	    &run, 0);
	o = spf_outcome(spf);
	is_str(o->mechanism, "-include:ip5.example.com",
	    "outcome: the mechanism that decided");
	is_str(o->domain, "i10.example.com", "outcome: the domain");
	is_str(o->problem, "", "outcome: no problem on fail");
	spf_free(spf);

	spf = check("1.2.3.4", "mail.example.com", "foo@f3.example.com",
	    &run, 0);
	is_str(spf_outcome(spf)->mechanism, "-all",
	    "outcome: the mechanism of the record redirected to");
	spf_free(spf);

	spf = check("1.2.3.5", "mail.example.com", "foo@t7.example.com",
	    &run, 0);
	is_str(spf_outcome(spf)->mechanism, "", "outcome: default: no term");
	spf_free(spf);

	spf = check("1.2.3.4", "mail.example.com", "foo@l2.example.com",
	    &run, 0);
	o = spf_outcome(spf);
	ok(o->result == SPF_PERMERROR && strstr(o->problem, "lookups") !=
	    NULL, "outcome: the problem of a permerror (%s)", o->problem);
	is_str(o->mechanism, "", "outcome: no mechanism on errors");
	spf_free(spf);

	spf = check("1.2.3.4", "HELO.example.COM.", "<>", &run, 0);
	is_str(spf_outcome(spf)->domain, "HELO.example.COM",
	    "outcome: the HELO name checked, without the final dot");
	spf_free(spf);

	memset(&p, 0, sizeof(p));
	p.addr.ss_family = AF_UNIX;
	p.helo = "mail.example.com";
	spf = spf_new(&p);
	ok(spf_eval(spf) == SPF_DONE &&
	    spf_outcome(spf)->result == SPF_PERMERROR,
	    "not an IP address: permerror");
	spf_free(spf);

	is_str(spf_strresult(SPF_SOFTFAIL), "softfail", "strresult");
}

/* Records and inputs nobody should send. */
static void
test_hostile(void)
{
	struct spf_params	 p;
	struct dns_rr		 rr;
	struct dns_rrset	*rs;
	struct spf		*spf;
	struct run		 run;
	char			*big, from[2048];
	size_t			 i, len;

	/* 60 KB of ip4 terms, the last one matching. */
	len = 7 + 6000 * 16;
	if ((big = malloc(len + 32)) == NULL)
		abort();
	memcpy(big, "v=spf1 ", 7);
	for (i = 0; i < 6000; i++)
		memcpy(big + 7 + i * 16, "ip4:10.0.0.0/24 ", 16);
	memcpy(big + len, "ip4:1.2.3.4 -all", 17);
	memset(&p, 0, sizeof(p));
	addr_of("1.2.3.4", &p.addr);
	p.helo = "mail.example.com";
	p.mailfrom = "foo@big.example.com";
	spf = spf_new(&p);
	memset(&rr, 0, sizeof(rr));
	rr.text = big;
	rr.len = len + 16;
	rs = dns_rrset_make(DNS_T_TXT, DNS_OK, 300, &rr, 1);
	spf_answer(spf, "big.example.com", DNS_T_TXT, rs);
	ok(spf_eval(spf) == SPF_DONE &&
	    spf_outcome(spf)->result == SPF_PASS, "a 96 KB record: pass");
	spf_free(spf);
	/* A syntax error at its end. */
	free(rs);
	memcpy(big + len, "ip4:1.2.3.4 -alx", 16);
	rs = dns_rrset_make(DNS_T_TXT, DNS_OK, 300, &rr, 1);
	spf = spf_new(&p);
	spf_answer(spf, "big.example.com", DNS_T_TXT, rs);
	ok(spf_eval(spf) == SPF_DONE &&
	    spf_outcome(spf)->result == SPF_PERMERROR,
	    "a 96 KB record with an error at the end: permerror");
	spf_free(spf);
	free(rs);
	free(big);

	/* A MAIL FROM over every bound: cut, never overrun. */
	memset(from, 'a', sizeof(from) - 1);
	from[sizeof(from) - 1] = '\0';
	from[1000] = '@';
	spf = check("1.2.3.4", from, from, &run, 0);
	ok(spf != NULL && spf_outcome(spf)->result == SPF_NONE,
	    "a 2 KB MAIL FROM and HELO: none");
	spf_free(spf);
}

int
main(void)
{
	size_t	 i;

	log_init(1, 0);
	test_file();
	test_protocol();
	test_expire();
	test_outcome();
	test_hostile();
	for (i = 0; i < nzone; i++)
		free(zone[i].text);
	return done_testing();
}
