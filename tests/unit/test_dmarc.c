/*
 * Unit tests for dmarc.c: the record's tag list, the From domain of a
 * header block, policy discovery against a small table of DNS answers,
 * alignment, p/sp/np, pct and t=, and hostile input.  The Public Suffix
 * List is tests/data/psl/list.dat.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "dmarc.h"
#include "psl.h"
#include "tap.h"

/* A DNS answer the test resolver gives: TXT records or existence. */
struct answer {
	const char	*name;
	int		 status;
	const char	*txt[3];
};

static struct psl	*psl;

static void	 test_record(void);
static void	 test_from(void);
static int	 from1(const char *, char *);
static void	 test_discovery(void);
static void	 run(const struct answer *, size_t, const char *,
		    const struct dmarc_auth *, unsigned int, char *, size_t,
		    struct dmarc_result *);
static void	 test_hostile(void);

static void
test_record(void)
{
	struct dmarc_record	 r;
	const char		*t;

	t = "v=DMARC1; p=reject";
	ok(dmarc_record_parse(t, strlen(t), &r) == 1 &&
	    r.p == DMARC_P_REJECT && r.sp == DMARC_P_ABSENT &&
	    r.np == DMARC_P_ABSENT && r.adkim == 'r' && r.aspf == 'r' &&
	    r.pct == 100 && r.ri == 86400 && strcmp(r.fo, "0") == 0 &&
	    !r.testing && r.defaulted == 0, "minimal record, defaults");
	t = "v=DMARC1;p=quarantine;sp=none;np=REJECT;adkim=s;aspf=S;pct=50;"
	    "rua=mailto:a@example.com,mailto:b@example.com!10m;"
	    "ruf=mailto:c@example.com;fo=1:d;ri=3600;t=y;";
	ok(dmarc_record_parse(t, strlen(t), &r) == 1 &&
	    r.p == DMARC_P_QUARANTINE && r.sp == DMARC_P_NONE &&
	    r.np == DMARC_P_REJECT && r.adkim == 's' && r.aspf == 's' &&
	    r.pct == 50 && r.ri == 3600 && strcmp(r.fo, "1:d") == 0 &&
	    r.testing && r.rua_valid && r.defaulted == 0 &&
	    strcmp(r.ruf, "mailto:c@example.com") == 0, "every tag");
	t = " v = DMARC1 ;\tp = none ; ";
	ok(dmarc_record_parse(t, strlen(t), &r) == 1 && r.p == DMARC_P_NONE,
	    "white space around tags");
	t = "v=dmarc1; p=none";
	ok(dmarc_record_parse(t, strlen(t), &r) == 0, "DMARC1 is case-exact");
	t = "p=none; v=DMARC1";
	ok(dmarc_record_parse(t, strlen(t), &r) == 0, "v= not first");
	t = "v=DMARC1 p=none";
	ok(dmarc_record_parse(t, strlen(t), &r) == 0, "no ';' after v=");
	t = "v=spf1 -all";
	ok(dmarc_record_parse(t, strlen(t), &r) == 0, "SPF record");
	ok(dmarc_record_parse("", 0, &r) == 0, "empty");
	t = "v=DMARC1";
	ok(dmarc_record_parse(t, strlen(t), &r) == 1 &&
	    r.p == DMARC_P_ABSENT, "no p=");
	t = "v=DMARC1; p=bogus; rua=mailto:x@example.com";
	ok(dmarc_record_parse(t, strlen(t), &r) == 1 &&
	    r.p == DMARC_P_INVALID && r.rua_valid, "bad p= with rua=");
	t = "v=DMARC1; p=reject; rua=notauri, :x, mailto:";
	ok(dmarc_record_parse(t, strlen(t), &r) == 1 && !r.rua_valid,
	    "rua= without a valid URI");
	t = "v=DMARC1; p=reject; pct=101; adkim=x; aspf=; ri=-1; fo=2; t=q";
	ok(dmarc_record_parse(t, strlen(t), &r) == 1 && r.pct == 100 &&
	    r.adkim == 'r' && r.aspf == 'r' && r.ri == 86400 &&
	    strcmp(r.fo, "0") == 0 && !r.testing && r.defaulted == 6,
	    "bad values keep their defaults (%d)", r.defaulted);
	t = "v=DMARC1; p=reject; pct=0100";
	ok(dmarc_record_parse(t, strlen(t), &r) == 1 && r.pct == 100 &&
	    r.defaulted == 1, "pct= of four digits");
	t = "v=DMARC1; p=reject; p=none; foo=bar; junk; sp=none";
	ok(dmarc_record_parse(t, strlen(t), &r) == 1 &&
	    r.p == DMARC_P_REJECT && r.sp == DMARC_P_NONE &&
	    r.defaulted == 1, "repeated tag keeps the first, unknown ignored");
	t = "v=DMARC1; p=REJECT; sp=Quarantine";
	ok(dmarc_record_parse(t, strlen(t), &r) == 1 &&
	    r.p == DMARC_P_REJECT && r.sp == DMARC_P_QUARANTINE,
	    "policy values ignore case");
	t = "v=DMARC1; p=reject\0; p=none";
	ok(dmarc_record_parse(t, 27, &r) == 1 && r.p == DMARC_P_INVALID,
	    "NUL inside a value");
}

/* The one From domain of hdr, status returned. */
static int
from1(const char *hdr, char *dom)
{
	struct dmarc_from	 f;
	int			 st;

	st = dmarc_from(hdr, strlen(hdr), &f);
	(void)strlcpy(dom, f.ndomains > 0 ? f.domains[0] : "", 256);
	return st;
}

static void
test_from(void)
{
	static const struct {
		const char	*hdr;
		int		 status;
		const char	*domain;
	} t[] = {
		{ "From: a@Example.COM\r\n\r\n", DMARC_FROM_OK,
		  "example.com" },
		{ "Subject: x\r\nFROM : \"Doe, John\" (c) <j@x.example>\r\n"
		  "To: y@z\r\n\r\nFrom: b@body.example\r\n",
		  DMARC_FROM_OK, "x.example" },
		{ "From: John\r\n <j@folded.example>\r\n", DMARC_FROM_OK,
		  "folded.example" },
		{ "From: a@x.example, \"B\" <b@X.example>\r\n", DMARC_FROM_OK,
		  "x.example" },
		{ "From: a@x.example, b@y.example\r\n", DMARC_FROM_MULTI,
		  "x.example" },
		{ "From: j@b\xc3\xbc" "cher.example\r\n", DMARC_FROM_OK,
		  "xn--bcher-kva.example" },
		{ "Subject: x\r\n\r\nFrom: a@x.example\r\n",
		  DMARC_FROM_ABSENT, "" },
		{ "X-From: a@x.example\r\nFrom-X: a@y.example\r\n",
		  DMARC_FROM_ABSENT, "" },
		{ "From: a@x.example\r\nfrom: a@x.example\r\n",
		  DMARC_FROM_DUPLICATE, "" },
		{ "junk line\r\nFrom: a@after.example\r\n", DMARC_FROM_OK,
		  "after.example" },
		{ "From: group: a@x.example;\r\n", DMARC_FROM_SYNTAX, "" },
		{ "From: a@[192.0.2.1]\r\n", DMARC_FROM_NODOMAIN, "" },
		{ "From: alice\r\n", DMARC_FROM_NODOMAIN, "" },
		{ "From: \r\n", DMARC_FROM_NODOMAIN, "" },
		{ "From: \"a <b@c.example>\r\n", DMARC_FROM_SYNTAX, "" },
		{ "From: (a <b@c.example>\r\n", DMARC_FROM_SYNTAX, "" },
		{ "From: a@@x.example\r\n", DMARC_FROM_SYNTAX, "" },
		{ "From: <a@x..example>\r\n", DMARC_FROM_SYNTAX, "" },
		{ "From: a@x.example\n", DMARC_FROM_OK, "x.example" },
		{ "From: a@x.example", DMARC_FROM_OK, "x.example" },
		{ "From:a@x.example,,b@x.example\r\n", DMARC_FROM_OK,
		  "x.example" },
	};
	char	 dom[256], *big;
	size_t	 i;
	int	 st;

	for (i = 0; i < nitems(t); i++) {
		st = from1(t[i].hdr, dom);
		ok(st == t[i].status && strcmp(dom, t[i].domain) == 0,
		    "From %zu: status %d domain %s", i, st, dom);
	}
	ok(dmarc_from_result(DMARC_FROM_ABSENT) == DMARC_NONE &&
	    dmarc_from_result(DMARC_FROM_DUPLICATE) == DMARC_PERMERROR,
	    "results for unusable From fields");
	/* A value longer than the unfold buffer. */
	if ((big = malloc(20000)) == NULL)
		abort();
	memcpy(big, "From: ", 6);
	memset(big + 6, 'a', 19000);
	memcpy(big + 19006, "@x.example\r\n", 13);
	ok(from1(big, dom) == DMARC_FROM_SYNTAX, "huge From value");
	free(big);
}

/*
 * Discovery against answers[] (a name not listed is DMARC_DNS_NONE),
 * the names asked for joined by spaces into asked.
 */
static void
run(const struct answer *answers, size_t n, const char *from,
    const struct dmarc_auth *auth, unsigned int rnd, char *asked,
    size_t askedlen, struct dmarc_result *res)
{
	struct dmarc		 d;
	struct dmarc_txt	 txt[3];
	const char		*name;
	size_t			 i, k, steps = 0;
	int			 q, status;

	asked[0] = '\0';
	dmarc_init(&d, psl, from);
	while ((q = dmarc_next(&d, &name)) != DMARC_Q_DONE && steps++ < 10) {
		if (asked[0] != '\0')
			(void)strlcat(asked, " ", askedlen);
		(void)strlcat(asked, q == DMARC_Q_EXISTS ? "?" : "", askedlen);
		(void)strlcat(asked, name, askedlen);
		status = DMARC_DNS_NONE;
		k = 0;
		for (i = 0; i < n; i++) {
			if (strcmp(answers[i].name, name) != 0)
				continue;
			status = answers[i].status;
			for (; k < 3 && answers[i].txt[k] != NULL; k++) {
				txt[k].data = answers[i].txt[k];
				txt[k].len = strlen(answers[i].txt[k]);
			}
		}
		dmarc_answer(&d, status, txt, k);
	}
	dmarc_evaluate(&d, auth, rnd, res);
}

static void
test_discovery(void)
{
	static const struct answer	 dns[] = {
		{ "_dmarc.example.com", DMARC_DNS_OK,
		  { "v=spf1 -all", "v=DMARC1; p=reject; sp=quarantine; "
		    "np=none" } },
		{ "_dmarc.strict.example.com", DMARC_DNS_OK,
		  { "v=DMARC1; p=reject; adkim=s; aspf=s" } },
		{ "_dmarc.example.co.uk", DMARC_DNS_OK,
		  { "v=DMARC1; p=quarantine" } },
		{ "_dmarc.two.example", DMARC_DNS_OK,
		  { "v=DMARC1; p=reject", "v=DMARC1; p=none" } },
		{ "_dmarc.sub.three.example", DMARC_DNS_OK,
		  { "v=DMARC1; p=reject", "v=DMARC1; p=none" } },
		{ "_dmarc.three.example", DMARC_DNS_OK,
		  { "v=DMARC1; p=reject" } },
		{ "_dmarc.down.example", DMARC_DNS_TEMPFAIL, { NULL } },
		{ "_dmarc.badp.example", DMARC_DNS_OK,
		  { "v=DMARC1; p=block" } },
		{ "_dmarc.badp-rua.example", DMARC_DNS_OK,
		  { "v=DMARC1; p=block; rua=mailto:r@badp-rua.example" } },
		{ "_dmarc.pct.example", DMARC_DNS_OK,
		  { "v=DMARC1; p=reject; pct=50" } },
		{ "_dmarc.test.example", DMARC_DNS_OK,
		  { "v=DMARC1; p=quarantine; t=y" } },
		{ "_dmarc.np.example", DMARC_DNS_OK,
		  { "v=DMARC1; p=none; np=reject" } },
		{ "real.np.example", DMARC_DNS_OK, { NULL } },
		{ "a.b.example.com", DMARC_DNS_OK, { NULL } },
		{ "slow.np.example", DMARC_DNS_TEMPFAIL, { NULL } },
	};
	struct dmarc_dkim	 dk[3];
	struct dmarc_auth	 a;
	struct dmarc_result	 r, rs[3];
	char			 asked[1024];

	memset(&a, 0, sizeof(a));
	dk[0].domain = "example.com";
	dk[0].result = DMARC_AUTH_FAIL;
	dk[1].domain = "Mail.Example.COM.";
	dk[1].result = DMARC_AUTH_PASS;
	a.dkim = dk;
	a.ndkim = 2;
	run(dns, nitems(dns), "example.com", &a, 0, asked, sizeof(asked), &r);
	ok(r.result == DMARC_PASS && r.aligned == DMARC_ALIGN_DKIM &&
	    r.dkim_index == 1 && r.policy == DMARC_P_REJECT &&
	    r.policy_tag == 'p' && r.disposition == DMARC_P_NONE &&
	    strcmp(asked, "_dmarc.example.com") == 0,
	    "relaxed DKIM pass at the record's domain (%s)", asked);

	a.ndkim = 1;
	a.spf = DMARC_AUTH_PASS;
	a.spf_domain = "bounce.example.com";
	run(dns, nitems(dns), "a.b.example.com", &a, 0, asked, sizeof(asked),
	    &r);
	ok(r.result == DMARC_PASS && r.aligned == DMARC_ALIGN_SPF &&
	    r.policy == DMARC_P_QUARANTINE && r.policy_tag == 's' &&
	    strcmp(r.record_domain, "example.com") == 0 &&
	    strcmp(asked, "_dmarc.a.b.example.com _dmarc.example.com "
	    "?a.b.example.com") == 0,
	    "subdomain: sp= from the organisational domain (%s)", asked);

	a.spf = DMARC_AUTH_FAIL;
	run(dns, nitems(dns), "a.b.example.com", &a, 0, asked, sizeof(asked),
	    &r);
	ok(r.result == DMARC_FAIL && r.aligned == 0 &&
	    r.disposition == DMARC_P_QUARANTINE,
	    "SPF fail does not align; sp=quarantine applies");

	a.spf = DMARC_AUTH_PASS;
	a.ndkim = 0;
	run(dns, nitems(dns), "strict.example.com", &a, 0, asked,
	    sizeof(asked), &r);
	ok(r.result == DMARC_FAIL && r.disposition == DMARC_P_REJECT &&
	    r.aspf == 's', "aspf=s: bounce.example.com does not align");
	a.spf_domain = "STRICT.example.com.";
	run(dns, nitems(dns), "strict.example.com", &a, 0, asked,
	    sizeof(asked), &r);
	ok(r.result == DMARC_PASS, "aspf=s: the same domain aligns");

	a.spf_domain = "example.co.uk";
	run(dns, nitems(dns), "a.b.example.co.uk", &a, 0, asked,
	    sizeof(asked), &r);
	ok(r.result == DMARC_PASS && r.policy == DMARC_P_QUARANTINE &&
	    strcmp(asked, "_dmarc.a.b.example.co.uk _dmarc.example.co.uk") ==
	    0, "PSL: a.b.example.co.uk (%s)", asked);
	a.spf_domain = "other.co.uk";
	run(dns, nitems(dns), "a.b.example.co.uk", &a, 0, asked,
	    sizeof(asked), &r);
	ok(r.result == DMARC_FAIL, "PSL: other.co.uk does not align");
	a.spf_domain = "co.uk";
	run(dns, nitems(dns), "a.b.example.co.uk", &a, 0, asked,
	    sizeof(asked), &r);
	ok(r.result == DMARC_FAIL, "PSL: co.uk does not align");

	run(dns, nitems(dns), "two.example", &a, 0, asked, sizeof(asked), &r);
	ok(r.result == DMARC_NONE && r.policy == DMARC_P_ABSENT &&
	    strstr(r.why, "more than one") != NULL, "two records: none");
	run(dns, nitems(dns), "sub.three.example", &a, 0, asked,
	    sizeof(asked), &r);
	ok(r.result == DMARC_NONE &&
	    strcmp(asked, "_dmarc.sub.three.example") == 0,
	    "two records at the From domain: the org is not asked");
	run(dns, nitems(dns), "nothing.example", &a, 0, asked, sizeof(asked),
	    &r);
	ok(r.result == DMARC_NONE && strcmp(asked, "_dmarc.nothing.example")
	    == 0, "From domain is the org: one question");
	run(dns, nitems(dns), "x.down.example", &a, 0, asked, sizeof(asked),
	    &r);
	ok(r.result == DMARC_TEMPERROR, "DNS failure: temperror");
	run(dns, nitems(dns), "badp.example", &a, 0, asked, sizeof(asked),
	    &r);
	ok(r.result == DMARC_PERMERROR, "bad p= without rua=: permerror");
	a.spf = DMARC_AUTH_NONE;
	run(dns, nitems(dns), "badp-rua.example", &a, 0, asked,
	    sizeof(asked), &r);
	ok(r.result == DMARC_FAIL && r.policy == DMARC_P_NONE &&
	    r.disposition == DMARC_P_NONE, "bad p= with rua=: p=none");

	run(dns, nitems(dns), "pct.example", &a, 49, asked, sizeof(asked),
	    &r);
	ok(r.result == DMARC_FAIL && r.disposition == DMARC_P_REJECT &&
	    !r.sampled_out, "pct=50, random 49: reject");
	run(dns, nitems(dns), "pct.example", &a, 150, asked, sizeof(asked),
	    &r);
	ok(r.result == DMARC_FAIL && r.disposition == DMARC_P_QUARANTINE &&
	    r.sampled_out, "pct=50, random 50: quarantine");
	run(dns, nitems(dns), "test.example", &a, 0, asked, sizeof(asked),
	    &r);
	ok(r.result == DMARC_FAIL && r.policy == DMARC_P_QUARANTINE &&
	    r.disposition == DMARC_P_NONE, "t=y: quarantine lowered");

	run(dns, nitems(dns), "nx.np.example", &a, 0, asked, sizeof(asked),
	    &r);
	ok(r.policy == DMARC_P_REJECT && r.policy_tag == 'n' &&
	    strcmp(asked, "_dmarc.nx.np.example _dmarc.np.example "
	    "?nx.np.example") == 0, "np= for a domain that does not exist "
	    "(%s)", asked);
	run(dns, nitems(dns), "real.np.example", &a, 0, asked, sizeof(asked),
	    &r);
	ok(r.policy == DMARC_P_NONE && r.policy_tag == 'p',
	    "np= not for a domain that exists");
	run(dns, nitems(dns), "slow.np.example", &a, 0, asked, sizeof(asked),
	    &r);
	ok(r.result == DMARC_TEMPERROR, "existence unknown: temperror");
	run(dns, nitems(dns), "nx.example.com", &a, 0, asked, sizeof(asked),
	    &r);
	ok(strcmp(asked, "_dmarc.nx.example.com _dmarc.example.com "
	    "?nx.example.com") == 0 && r.policy == DMARC_P_NONE &&
	    r.policy_tag == 'n', "np=none beats sp=quarantine");

	run(dns, nitems(dns), "a..example", &a, 0, asked, sizeof(asked), &r);
	ok(r.result == DMARC_PERMERROR && asked[0] == '\0',
	    "bad From domain: permerror, no question");

	dk[0].result = DMARC_AUTH_TEMPERROR;
	a.ndkim = 1;
	run(dns, nitems(dns), "example.com", &a, 0, asked, sizeof(asked), &r);
	ok(r.result == DMARC_FAIL && r.auth_temperror,
	    "DKIM temperror is reported beside fail");

	memset(rs, 0, sizeof(rs));
	rs[0].result = DMARC_PASS;
	rs[1].result = DMARC_FAIL;
	rs[1].disposition = DMARC_P_QUARANTINE;
	rs[2].result = DMARC_FAIL;
	rs[2].disposition = DMARC_P_REJECT;
	ok(dmarc_strictest(rs, 3) == 2, "strictest failing policy");
	rs[2].result = DMARC_TEMPERROR;
	ok(dmarc_strictest(rs, 3) == 1, "fail before temperror");
	rs[1].result = DMARC_NONE;
	ok(dmarc_strictest(rs, 3) == 2 && dmarc_strictest(rs, 2) == 0,
	    "temperror, then pass before none");
	ok(strcmp(dmarc_result_name(DMARC_TEMPERROR), "temperror") == 0 &&
	    strcmp(dmarc_policy_name(DMARC_P_QUARANTINE), "quarantine") == 0 &&
	    dmarc_policy_name(DMARC_P_ABSENT) == NULL, "names");
}

/* Random bytes through every parser: no crash, ASan clean. */
static void
test_hostile(void)
{
	static const char	 alphabet[] =
	    "vV=DMARC1;p \t\r\n:,\"()<>@.\\\0\x80" "\xc3\xbc" "From";
	struct dmarc_record	 r;
	struct dmarc_from	 f;
	char			 buf[300];
	size_t			 i, j, len;

	srandom(12);
	for (i = 0; i < 20000; i++) {
		len = random() % sizeof(buf);
		for (j = 0; j < len; j++)
			buf[j] = alphabet[random() % (sizeof(alphabet) - 1)];
		if (i % 2 == 0 && len > 9)
			memcpy(buf, i % 4 ? "v=DMARC1;" : "From: a@", 9);
		(void)dmarc_record_parse(buf, len, &r);
		(void)dmarc_from(buf, len, &f);
	}
	ok(1, "20000 random inputs");
}

int
main(void)
{
	char		 err[256];
	const char	*dir;
	char		 path[1024];

	if ((dir = getenv("MAILD_PSL_TESTDIR")) == NULL)
		dir = "tests/data/psl";
	(void)snprintf(path, sizeof(path), "%s/list.dat", dir);
	if ((psl = psl_load_file(path, 0, err, sizeof(err))) == NULL) {
		ok(0, "%s", err);
		return done_testing();
	}
	test_record();
	test_from();
	test_discovery();
	test_hostile();
	psl_free(psl);
	return done_testing();
}
