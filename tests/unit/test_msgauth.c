/*
 * msgauth.c: the verdicts of mail.conf's policy over SPF, DKIM and DMARC
 * results, with messages signed by maild's own signer (dkim.c) and DNS
 * answers given by hand; the Authentication-Results it writes; hostile
 * input (no From, many From domains, a header without end) never
 * passes.  The modules under it have their own tests and differential
 * ones (62-dkim-verify, 63-dmarc, 61-spf); this one checks how they are
 * put together.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "dkim.h"
#include "msgauth.h"
#include "psl.h"
#include "spf.h"
#include "tap.h"

#define PSL_FILE	"/usr/share/publicsuffix/public_suffix_list.dat"

static const char edpem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIBehsTOOJF5hzpegSBhSaZaS8dCe32rGEvIS2KTmrpTs\n"
    "-----END PRIVATE KEY-----\n";

static struct dkim_key	*key;
static char		*keytxt;
static struct psl	*psl;

/* The DNS of the test: name -> one TXT record, or NULL: none. */
struct rec {
	const char	*name;
	const char	*txt;
	int		 tempfail;
};

static int
own(const char *domain, void *arg)
{
	(void)arg;
	return strcmp(domain, "example.org") == 0;
}

/* Sign msg (CRLF) for sender.test with the Ed25519 key: malloc'd. */
static char *
sign(const char *msg)
{
	struct dkim_signer	*sg;
	struct dkim_key		*keys[1] = { key };
	char			 err[128], *sig, *out;

	sg = dkim_signer_new(keys, 1, time(NULL));
	dkim_signer_update(sg, msg, strlen(msg));
	if ((sig = dkim_signer_final(sg, err, sizeof(err))) == NULL) {
		printf("# sign: %s\n", err);
		exit(1);
	}
	dkim_signer_free(sg);
	if (asprintf(&out, "%s%s", sig, msg) == -1)
		exit(1);
	free(sig);
	return out;
}

struct run {
	int			 spf;		/* SPF_* */
	const char		*spf_domain;
	int			 spf_action;
	int			 enforce;
	const struct rec	*dns;
	const char		*msg;
	const char		*mailfrom;
};

static struct msgauth_verdict
check(const struct run *r)
{
	struct msgauth_params	 p;
	struct msgauth_verdict	 v;
	struct spf_outcome	 o;
	struct msgauth		*ma;
	const struct rec	*d;
	const char		*name, *txt[1];
	int			 qtype, rounds = 0;

	memset(&p, 0, sizeof(p));
	p.authserv_id = "mx.example.org";
	p.helo = "client.sender.test";
	p.mailfrom = r->mailfrom != NULL ? r->mailfrom : "a@sender.test";
	p.psl = psl;
	p.own_domain = own;
	p.spf_fail_action = r->spf_action;
	p.dmarc_enforce = r->enforce;
	p.dmarc_own = 1;
	p.now = time(NULL);
	ma = msgauth_new(&p);
	/* In small pieces, as a spool file is read. */
	for (size_t i = 0, n = strlen(r->msg); i < n; i += 7)
		msgauth_update(ma, r->msg + i, n - i < 7 ? n - i : 7);
	msgauth_end(ma);
	memset(&o, 0, sizeof(o));
	o.result = r->spf;
	(void)strlcpy(o.domain, r->spf_domain != NULL ? r->spf_domain :
	    "sender.test", sizeof(o.domain));
	msgauth_spf(ma, &o);
	while ((name = msgauth_next(ma, &qtype)) != NULL && rounds++ < 50) {
		for (d = r->dns; d != NULL && d->name != NULL; d++)
			if (strcmp(d->name, name) == 0)
				break;
		if (qtype == MA_Q_TXT && d != NULL && d->name != NULL &&
		    d->tempfail)
			msgauth_answer(ma, name, qtype, MSGAUTH_DNS_TEMPFAIL,
			    NULL, 0);
		else if (qtype == MA_Q_TXT && d != NULL && d->name != NULL) {
			txt[0] = d->txt;
			msgauth_answer(ma, name, qtype, MSGAUTH_DNS_OK, txt,
			    1);
		} else
			msgauth_answer(ma, name, qtype, qtype == MA_Q_EXISTS ?
			    MSGAUTH_DNS_OK : MSGAUTH_DNS_NONE, NULL, 0);
	}
	ok(msgauth_ready(ma), "ready once every question is answered");
	if (msgauth_verdict(ma, &v) != 0)
		exit(1);
	printf("# %s\n", v.log);
	msgauth_free(ma);
	return v;
}

#define MSG(from, subj)							\
	"From: " from "\r\nTo: bob@example.org\r\nSubject: " subj "\r\n" \
	"Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n\r\nHello.\r\n"

static const char *
act(int a)
{
	static const char *const names[] = { "accept", "junk", "reject",
	    "tempfail" };

	return names[a];
}

int
main(void)
{
	struct rec		 dns[8];
	struct run		 r;
	struct msgauth_verdict	 v;
	char			 err[256], *signed_msg, *tampered, *p;

	if ((key = dkim_key_new("sender.test", "ed", edpem, strlen(edpem),
	    err, sizeof(err))) == NULL) {
		printf("Bail out! key: %s\n", err);
		return 1;
	}
	keytxt = dkim_key_txt(key);
	if ((psl = psl_load_file(PSL_FILE, 0, err, sizeof(err))) == NULL)
		printf("# no Public Suffix List (%s): last two labels\n", err);

	memset(dns, 0, sizeof(dns));
	dns[0].name = "ed._domainkey.sender.test";
	dns[0].txt = keytxt;
	dns[1].name = "_dmarc.sender.test";
	dns[1].txt = "v=DMARC1; p=reject";

	/* Signed and SPF pass: accepted, every result in the header. */
	signed_msg = sign(MSG("Sender <a@sender.test>", "one"));
	memset(&r, 0, sizeof(r));
	r.spf = SPF_PASS;
	r.enforce = 1;
	r.spf_action = AUTH_ACT_JUNK;
	r.dns = dns;
	r.msg = signed_msg;
	v = check(&r);
	is_str(act(v.action), "accept", "signed, SPF pass: accepted");
	ok(v.authres != NULL && strncmp(v.authres,
	    "Authentication-Results: mx.example.org;", 39) == 0,
	    "the header names our host");
	ok(v.authres != NULL && strstr(v.authres, "spf=pass") != NULL &&
	    strstr(v.authres, "smtp.mailfrom=a@sender.test") != NULL,
	    "spf=pass smtp.mailfrom=");
	ok(v.authres != NULL && strstr(v.authres, "dkim=pass") != NULL &&
	    strstr(v.authres, "header.d=sender.test") != NULL &&
	    strstr(v.authres, "header.s=ed") != NULL &&
	    strstr(v.authres, "header.b=") != NULL,
	    "dkim=pass header.d header.s header.b");
	ok(v.authres != NULL && strstr(v.authres, "dmarc=pass") != NULL &&
	    strstr(v.authres, "header.from=sender.test") != NULL,
	    "dmarc=pass header.from=");
	ok(v.authres != NULL && strstr(v.authres, "arc=none") != NULL,
	    "arc=none");
	ok(v.spf_pass && v.dkim_pass && v.dmarc_pass && !v.dmarc_fail,
	    "the counters' flags");
	free(v.authres);

	/* DKIM alone aligns: SPF fail does not matter. */
	r.spf = SPF_FAIL;
	v = check(&r);
	is_str(act(v.action), "accept", "signed, SPF fail: DMARC passes "
	    "on DKIM");
	free(v.authres);

	/* A changed body: DKIM fails, SPF fails, p=reject: refused. */
	tampered = strdup(signed_msg);
	p = strstr(tampered, "Hello.");
	p[0] = 'J';
	r.msg = tampered;
	v = check(&r);
	is_str(act(v.action), "reject", "tampered, SPF fail, p=reject: "
	    "refused");
	ok(strncmp(v.reply, "550 5.7.1 ", 10) == 0, "... 550 5.7.1 (%s)",
	    v.reply);
	ok(v.authres != NULL && strstr(v.authres, "dkim=fail") != NULL &&
	    strstr(v.authres, "dmarc=fail") != NULL, "dkim=fail dmarc=fail");
	free(v.authres);

	/* The same with "dmarc enforce no": only recorded. */
	r.enforce = 0;
	v = check(&r);
	is_str(act(v.action), "accept", "dmarc enforce no: accepted");
	free(v.authres);
	r.enforce = 1;

	/* SPF pass aligns though DKIM fails. */
	r.spf = SPF_PASS;
	v = check(&r);
	is_str(act(v.action), "accept", "tampered, SPF pass: DMARC passes "
	    "on SPF");
	free(v.authres);

	/* p=quarantine: Junk. */
	dns[1].txt = "v=DMARC1; p=quarantine";
	r.spf = SPF_FAIL;
	v = check(&r);
	is_str(act(v.action), "junk", "p=quarantine failure: Junk");
	free(v.authres);

	/* pct=0: the policy is not applied (sampled out: none). */
	dns[1].txt = "v=DMARC1; p=reject; pct=0";
	v = check(&r);
	ok(v.action != MA_REJECT, "pct=0: not refused (%s)", act(v.action));
	free(v.authres);

	/* The DMARC record cannot be looked up: 451. */
	dns[1].tempfail = 1;
	v = check(&r);
	is_str(act(v.action), "tempfail", "DMARC lookup fails: deferred");
	ok(strncmp(v.reply, "451 4.7.", 8) == 0, "... 451 4.7.x (%s)",
	    v.reply);
	free(v.authres);
	dns[1].tempfail = 0;

	/* The key cannot be looked up and SPF fails: not final either. */
	dns[1].txt = "v=DMARC1; p=reject";
	dns[0].tempfail = 1;
	v = check(&r);
	is_str(act(v.action), "tempfail", "key lookup fails, p=reject: "
	    "deferred, not refused");
	free(v.authres);
	dns[0].tempfail = 0;

	/* No DMARC record: SPF fail takes spf fail-action. */
	dns[1].name = "_dmarc.nothing.invalid";
	v = check(&r);
	is_str(act(v.action), "junk", "tampered, no DMARC, SPF fail: Junk");
	free(v.authres);
	r.msg = signed_msg;
	v = check(&r);
	is_str(act(v.action), "accept", "signed, no DMARC, SPF fail: the "
	    "From domain's good signature outweighs it (forwarded mail)");
	free(v.authres);
	r.msg = MSG("x@sender.test", "no sig");
	v = check(&r);
	is_str(act(v.action), "junk", "no DMARC, SPF fail: Junk (default)");
	free(v.authres);
	r.spf_action = AUTH_ACT_REJECT;
	v = check(&r);
	is_str(act(v.action), "reject", "spf fail-action reject: refused");
	ok(strncmp(v.reply, "550 5.7.23 ", 11) == 0, "... 550 5.7.23 (%s)",
	    v.reply);
	free(v.authres);
	r.spf_action = AUTH_ACT_MARK;
	v = check(&r);
	is_str(act(v.action), "accept", "spf fail-action mark: accepted");
	free(v.authres);
	r.spf_action = AUTH_ACT_JUNK;

	/* Our own domain, no record, not authenticated: refused. */
	r.msg = MSG("Alice <alice@example.org>", "own");
	r.spf = SPF_NONE;
	v = check(&r);
	is_str(act(v.action), "reject", "From our domain, unauthenticated: "
	    "refused");
	free(v.authres);
	/* ... unless SPF passes for it. */
	r.spf = SPF_PASS;
	r.spf_domain = "example.org";
	r.mailfrom = "alice@example.org";
	v = check(&r);
	is_str(act(v.action), "accept", "From our domain, SPF pass aligned: "
	    "accepted");
	free(v.authres);
	r.spf_domain = NULL;
	r.mailfrom = NULL;

	/* Hostile: no From, two From fields, a header that never ends. */
	r.spf = SPF_PASS;
	r.msg = "Subject: none\r\n\r\nx\r\n";
	v = check(&r);
	is_str(act(v.action), "accept", "no From, SPF pass: accepted");
	ok(v.authres != NULL && strstr(v.authres, "dmarc=") != NULL,
	    "no From: dmarc reported");
	free(v.authres);
	r.msg = "From: a@example.org\r\nFrom: b@sender.test\r\n\r\nx\r\n";
	v = check(&r);
	ok(v.authres != NULL && strstr(v.authres, "dmarc=permerror") != NULL,
	    "two From fields: dmarc=permerror");
	/*
	 * A good signature of one's own domain and a From of another's on
	 * top, which readers show: refused, as RFC 7489 6.6.1 allows.
	 */
	is_str(act(v.action), "reject", "two From fields: refused");
	ok(strncmp(v.reply, "550 5.7.1 ", 10) == 0, "... 550 5.7.1 (%s)",
	    v.reply);
	free(v.authres);
	r.enforce = 0;
	v = check(&r);
	is_str(act(v.action), "accept", "... not with dmarc enforce no");
	free(v.authres);
	r.enforce = 1;
	r.msg = "From: Alice <alice@example.org>, b@sender.test\r\n\r\nx\r\n";
	r.spf = SPF_NONE;
	v = check(&r);
	is_str(act(v.action), "reject", "From our domain among others: "
	    "refused");
	free(v.authres);

	free(signed_msg);
	free(tampered);
	free(keytxt);
	dkim_key_free(key);
	psl_free(psl);
	return done_testing();
}
