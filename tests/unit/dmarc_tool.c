/*
 * dmarc_tool: drives psl.c, dmarc.c and authres.c from a script on
 * standard input, for tests/integration/63-dmarc.t, which compares what
 * it prints with python3-authheaders, publicsuffix2 and python3-authres.
 *
 * One command a line, fields separated by TABs, each field unescaped
 * (\\ \t \r \n \xHH); every answer is one line, escaped the same way:
 *	psl PATH			load the list ("ok" or the error)
 *	org DOMAIN			"1 org", "0 domain" or "-1"
 *	case				forget the previous case
 *	header RAW			the header block (CRLF line ends)
 *	spf RESULT DOMAIN		pass, fail, temperror, none
 *	dkim RESULT DOMAIN		one signature, any number of them
 *	txt NAME RECORD			one TXT record of NAME
 *	dns NAME ok|none|tempfail	status of NAME (TXT or existence)
 *	rnd N				the random number for pct=
 *	eval				"result=.. policy=.. tag=.. disp=..
 *					 aligned=.. from=.. sampled=.. why=.."
 *	ar ID UTF8			start an Authentication-Results field
 *	ar-spf RESULT MAILFROM HELO COMMENT
 *	ar-dkim RESULT D S B COMMENT	(rendered together by the next
 *					 ar-dmarc, ar-arc or ar-end)
 *	ar-dmarc RESULT FROM POLICY COMMENT
 *	ar-arc RESULT COMMENT
 *	ar-end				the field
 *	arid FIELD			"rv id"
 * An empty field stands for NULL where the API takes one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authres.h"
#include "compat.h"
#include "dmarc.h"
#include "psl.h"

#define FIELDS_MAX	8
#define ITEMS_MAX	64

struct item {
	char	*name;
	char	*value;
	int	 status;
};

static struct psl	*psl;
static char		*header;
static struct item	 txts[ITEMS_MAX], dnss[ITEMS_MAX];
static size_t		 ntxt, ndns;
static char		*dkimdom[ITEMS_MAX];
static int		 dkimres[ITEMS_MAX], spfres;
static char		*spfdom;
static size_t		 ndkim;
static unsigned int	 rnd;
static struct authres	 ar;
static struct authres_dkim ars[ITEMS_MAX];
static size_t		 nars;

static size_t	 unescape(char *);
static void	 put(const char *);
static int	 auth_result(const char *);
static void	 clear_case(void);
static void	 evaluate(void);
static void	 eval_one(const char *, struct dmarc_result *);
static char	*opt(char *);
static char	*xstrdup(const char *);
static void	 flush_dkim(void);

/* The ar-dkim lines so far, as one authres_dkim() call. */
static void
flush_dkim(void)
{
	size_t	 i;

	if (nars > 0)
		(void)authres_dkim(&ar, ars, nars);
	for (i = 0; i < nars; i++) {
		free((char *)(uintptr_t)ars[i].result);
		free((char *)(uintptr_t)ars[i].d);
		free((char *)(uintptr_t)ars[i].s);
		free((char *)(uintptr_t)ars[i].b);
		free((char *)(uintptr_t)ars[i].comment);
	}
	nars = 0;
}

static char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		abort();
	return p;
}

/* Undo the escapes in place; the new length (NUL bytes may appear). */
static size_t
unescape(char *s)
{
	char	*w = s, *r = s;
	char	 hex[3];

	while (*r != '\0') {
		if (*r != '\\' || r[1] == '\0') {
			*w++ = *r++;
			continue;
		}
		r++;
		switch (*r) {
		case 't':
			*w++ = '\t';
			break;
		case 'r':
			*w++ = '\r';
			break;
		case 'n':
			*w++ = '\n';
			break;
		case 'x':
			if (r[1] == '\0' || r[2] == '\0')
				abort();
			hex[0] = r[1];
			hex[1] = r[2];
			hex[2] = '\0';
			*w++ = (char)strtol(hex, NULL, 16);
			r += 2;
			break;
		default:
			*w++ = *r;
		}
		r++;
	}
	*w = '\0';
	return w - s;
}

/* One answer line, escaped. */
static void
put(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;

	for (; *p != '\0'; p++) {
		if (*p == '\\')
			fputs("\\\\", stdout);
		else if (*p == '\t')
			fputs("\\t", stdout);
		else if (*p == '\r')
			fputs("\\r", stdout);
		else if (*p == '\n')
			fputs("\\n", stdout);
		else if (*p < ' ' || *p == 0x7f)
			printf("\\x%02x", *p);
		else
			putchar(*p);
	}
	putchar('\n');
	fflush(stdout);
}

static int
auth_result(const char *s)
{
	if (strcmp(s, "pass") == 0)
		return DMARC_AUTH_PASS;
	if (strcmp(s, "temperror") == 0)
		return DMARC_AUTH_TEMPERROR;
	if (strcmp(s, "fail") == 0 || strcmp(s, "softfail") == 0 ||
	    strcmp(s, "permerror") == 0)
		return DMARC_AUTH_FAIL;
	return DMARC_AUTH_NONE;
}

static void
clear_case(void)
{
	size_t	 i;

	free(header);
	header = NULL;
	for (i = 0; i < ntxt; i++) {
		free(txts[i].name);
		free(txts[i].value);
	}
	for (i = 0; i < ndns; i++)
		free(dnss[i].name);
	for (i = 0; i < ndkim; i++)
		free(dkimdom[i]);
	free(spfdom);
	spfdom = NULL;
	ntxt = ndns = ndkim = 0;
	spfres = DMARC_AUTH_NONE;
	rnd = 0;
}

/* Discovery and evaluation for one From domain. */
static void
eval_one(const char *from, struct dmarc_result *res)
{
	struct dmarc		 d;
	struct dmarc_txt	 t[ITEMS_MAX];
	struct dmarc_dkim	 dk[ITEMS_MAX];
	struct dmarc_auth	 a;
	const char		*name;
	size_t			 i, n;
	int			 q, status;

	dmarc_init(&d, psl, from);
	while ((q = dmarc_next(&d, &name)) != DMARC_Q_DONE) {
		status = -1;
		for (i = 0; i < ndns; i++)
			if (strcasecmp(dnss[i].name, name) == 0)
				status = dnss[i].status;
		for (i = n = 0; i < ntxt; i++) {
			if (strcasecmp(txts[i].name, name) != 0)
				continue;
			t[n].data = txts[i].value;
			t[n++].len = txts[i].status;	/* its length */
		}
		if (status == -1)
			status = n > 0 ? DMARC_DNS_OK : DMARC_DNS_NONE;
		dmarc_answer(&d, status, t, q == DMARC_Q_TXT ? n : 0);
	}
	memset(&a, 0, sizeof(a));
	a.spf = spfres;
	a.spf_domain = spfdom;
	for (i = 0; i < ndkim; i++) {
		dk[i].domain = dkimdom[i];
		dk[i].result = dkimres[i];
	}
	a.dkim = dk;
	a.ndkim = ndkim;
	dmarc_evaluate(&d, &a, rnd, res);
}

static void
evaluate(void)
{
	struct dmarc_from	 f;
	struct dmarc_result	 res[DMARC_FROM_MAX], *r;
	char			 line[1024];
	const char		*pol;
	size_t			 i, n = 1;

	if (header == NULL)
		header = xstrdup("");
	memset(res, 0, sizeof(res));
	if (dmarc_from(header, strlen(header), &f) == DMARC_FROM_OK ||
	    f.status == DMARC_FROM_MULTI) {
		n = f.ndomains;
		for (i = 0; i < n; i++)
			eval_one(f.domains[i], &res[i]);
		r = &res[dmarc_strictest(res, n)];
	} else {
		r = &res[0];
		r->result = dmarc_from_result(f.status);
		r->policy = DMARC_P_ABSENT;
		r->why = f.why;
	}
	pol = dmarc_policy_name(r->policy);
	(void)snprintf(line, sizeof(line), "result=%s policy=%s tag=%c "
	    "disp=%s aligned=%s from=%s sampled=%d n=%zu why=%s",
	    dmarc_result_name(r->result), pol ? pol : "-",
	    r->policy_tag ? r->policy_tag : '-',
	    dmarc_policy_name(r->disposition),
	    r->aligned == (DMARC_ALIGN_SPF | DMARC_ALIGN_DKIM) ? "spf+dkim" :
	    r->aligned == DMARC_ALIGN_SPF ? "spf" :
	    r->aligned == DMARC_ALIGN_DKIM ? "dkim" : "-",
	    r->from[0] ? r->from : "-", r->sampled_out, n,
	    r->why ? r->why : "-");
	put(line);
}

static char *
opt(char *s)
{
	return s == NULL || *s == '\0' ? NULL : s;
}

int
main(int argc, char **argv)
{
	char		*line = NULL, *f[FIELDS_MAX], *s, err[600], out[512];
	char		 id[AUTHRES_ID_MAX + 1];
	size_t		 cap = 0, nf, len, fl[FIELDS_MAX], i;
	ssize_t		 n;
	int		 rv;

	(void)argc;
	(void)argv;
	while ((n = getline(&line, &cap, stdin)) != -1) {
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		memset(f, 0, sizeof(f));
		for (nf = 0, s = line; nf < FIELDS_MAX && s != NULL; nf++)
			f[nf] = strsep(&s, "\t");
		for (i = 0; i < nf; i++)
			fl[i] = unescape(f[i]);
		if (strcmp(f[0], "psl") == 0 && nf >= 2) {
			psl_free(psl);
			psl = psl_load_file(f[1], 0, err, sizeof(err));
			put(psl ? "ok" : err);
		} else if (strcmp(f[0], "org") == 0 && nf >= 2) {
			rv = psl_org_domain(psl, f[1], out, sizeof(out));
			(void)snprintf(err, sizeof(err), "%d %s", rv,
			    rv == -1 ? "" : out);
			put(err);
		} else if (strcmp(f[0], "case") == 0)
			clear_case();
		else if (strcmp(f[0], "header") == 0 && nf >= 2) {
			free(header);
			header = xstrdup(f[1]);
		} else if (strcmp(f[0], "spf") == 0 && nf >= 3) {
			spfres = auth_result(f[1]);
			free(spfdom);
			spfdom = xstrdup(f[2]);
		} else if (strcmp(f[0], "dkim") == 0 && nf >= 3 &&
		    ndkim < ITEMS_MAX) {
			dkimres[ndkim] = auth_result(f[1]);
			dkimdom[ndkim++] = xstrdup(f[2]);
		} else if (strcmp(f[0], "txt") == 0 && nf >= 3 &&
		    ntxt < ITEMS_MAX) {
			txts[ntxt].name = xstrdup(f[1]);
			if ((txts[ntxt].value = malloc(fl[2] + 1)) == NULL)
				abort();
			memcpy(txts[ntxt].value, f[2], fl[2] + 1);
			txts[ntxt++].status = (int)fl[2];
		} else if (strcmp(f[0], "dns") == 0 && nf >= 3 &&
		    ndns < ITEMS_MAX) {
			dnss[ndns].name = xstrdup(f[1]);
			dnss[ndns++].status = strcmp(f[2], "ok") == 0 ?
			    DMARC_DNS_OK : strcmp(f[2], "none") == 0 ?
			    DMARC_DNS_NONE : DMARC_DNS_TEMPFAIL;
		} else if (strcmp(f[0], "rnd") == 0 && nf >= 2)
			rnd = (unsigned int)strtoul(f[1], NULL, 10);
		else if (strcmp(f[0], "eval") == 0)
			evaluate();
		else if (strcmp(f[0], "ar") == 0 && nf >= 3) {
			authres_init(&ar, f[1], atoi(f[2]) ? AUTHRES_UTF8 : 0);
			nars = 0;
		} else if (strcmp(f[0], "ar-spf") == 0 && nf >= 5)
			(void)authres_spf(&ar, f[1], opt(f[2]), opt(f[3]),
			    opt(f[4]));
		else if (strcmp(f[0], "ar-dkim") == 0 && nf >= 6 &&
		    nars < ITEMS_MAX) {
			ars[nars].result = xstrdup(f[1]);
			ars[nars].d = opt(f[2]) ? xstrdup(f[2]) : NULL;
			ars[nars].s = opt(f[3]) ? xstrdup(f[3]) : NULL;
			ars[nars].b = xstrdup(f[4]);
			ars[nars++].comment = opt(f[5]) ? xstrdup(f[5]) : NULL;
		} else if (strcmp(f[0], "ar-dmarc") == 0 && nf >= 5) {
			flush_dkim();
			(void)authres_dmarc(&ar, f[1], opt(f[2]), opt(f[3]),
			    opt(f[4]));
		} else if (strcmp(f[0], "ar-arc") == 0 && nf >= 3) {
			flush_dkim();
			(void)authres_arc(&ar, f[1], opt(f[2]));
		}
		else if (strcmp(f[0], "ar-end") == 0) {
			flush_dkim();
			s = authres_finish(&ar, &len);
			put(s);
			free(s);
		} else if (strcmp(f[0], "arid") == 0 && nf >= 2) {
			rv = authres_authserv_id(f[1], strlen(f[1]), id,
			    sizeof(id));
			(void)snprintf(err, sizeof(err), "%d %s", rv,
			    rv == -1 ? "" : id);
			put(err);
		} else
			put("error: bad command");
	}
	free(line);
	clear_case();
	psl_free(psl);
	return 0;
}
