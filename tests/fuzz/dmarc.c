/*
 * DMARC, the Public Suffix List and Authentication-Results (dmarc.c,
 * psl.c, authres.c).  The whole input is a DMARC TXT record, a header
 * block (From domains, then policy discovery with the input as the
 * answer at every step), a PSL file and a domain for the PSL of
 * tests/data/psl/list.dat, and an Authentication-Results field to read
 * and to remove; its lines are also the values of a rendered field: the
 * authserv-id, then smtp.mailfrom, comment, header.d, header.b,
 * header.from, and so on in turn.
 *
 * Properties: an organisational domain is a suffix of the normalised
 * domain and its own organisational domain; a rendered field is at most
 * AUTHRES_MAX bytes, ends with CRLF, has no other CR or LF than its
 * folds (CRLF TAB) and no control byte but TAB, and its authserv-id
 * reads back; removing by that id removes it; removal never grows a
 * header.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authres.h"
#include "dmarc.h"
#include "fuzz.h"
#include "psl.h"

#define LIST	"tests/data/psl/list.dat"

static struct psl	*list;

static void	 org_domain(const char *);
static void	 discovery(const char *, size_t);
static void	 render(const uint8_t *, size_t);

static void
org_domain(const char *s)
{
	char	 norm[PSL_NAME_MAX + 1], org[PSL_NAME_MAX + 1];
	char	 again[PSL_NAME_MAX + 1];
	size_t	 nl, ol;
	int	 rv;

	rv = psl_org_domain(list, s, org, sizeof(org));
	if (rv == -1)
		return;
	FUZZ_ASSERT(psl_normalize(s, norm, sizeof(norm)) == 0);
	nl = strlen(norm);
	ol = strlen(org);
	FUZZ_ASSERT(ol <= nl && strcmp(norm + nl - ol, org) == 0);
	FUZZ_ASSERT(ol == nl || norm[nl - ol - 1] == '.');
	FUZZ_ASSERT(psl_org_domain(list, org, again, sizeof(again)) == rv &&
	    strcmp(again, org) == 0);
}

static void
discovery(const char *s, size_t len)
{
	struct dmarc_from	 f;
	struct dmarc		 d;
	struct dmarc_txt	 t;
	struct dmarc_dkim	 dk;
	struct dmarc_auth	 a;
	struct dmarc_result	 r;
	const char		*name;
	size_t			 i, steps;

	(void)dmarc_from(s, len, &f);
	FUZZ_ASSERT(f.ndomains <= DMARC_FROM_MAX);
	t.data = s;
	t.len = len;
	for (i = 0; i < f.ndomains; i++) {
		dmarc_init(&d, list, f.domains[i]);
		steps = 0;
		while (dmarc_next(&d, &name) != DMARC_Q_DONE) {
			FUZZ_ASSERT(steps++ < 3);
			dmarc_answer(&d, DMARC_DNS_OK, &t, 1);
		}
		memset(&a, 0, sizeof(a));
		a.spf = DMARC_AUTH_PASS;
		a.spf_domain = s;
		dk.domain = f.domains[i];
		dk.result = DMARC_AUTH_PASS;
		a.dkim = &dk;
		a.ndkim = 1;
		dmarc_evaluate(&d, &a, (unsigned int)len, &r);
		FUZZ_ASSERT(r.result == DMARC_PASS || r.result == DMARC_NONE ||
		    r.result == DMARC_PERMERROR);
	}
}

static void
render(const uint8_t *data, size_t size)
{
	const uint8_t		*p = data, *end = data + size, *l;
	struct authres		 ar;
	struct authres_dkim	 sig[3];
	char			*v[12], *field, id[AUTHRES_ID_MAX + 1];
	size_t			 n = 0, len, i, removed;
	int			 rv;

	memset(v, 0, sizeof(v));
	while (n < 12 && fuzz_line(&p, end, &l, &len))
		v[n++] = fuzz_strndup(l, len);
	if (n == 0)
		return;
	authres_init(&ar, v[0], size % 2 ? AUTHRES_UTF8 : 0);
	(void)authres_spf(&ar, "pass", v[1], v[2], v[3]);
	memset(sig, 0, sizeof(sig));
	for (i = 0; i < 3; i++) {
		sig[i].result = "pass";
		sig[i].d = v[4];
		sig[i].s = v[5];
		sig[i].b = v[6 + i % 2];
		sig[i].comment = v[8];
	}
	(void)authres_dkim(&ar, sig, 3);
	(void)authres_dmarc(&ar, "fail", v[9], v[10], v[11]);
	field = authres_finish(&ar, &len);
	FUZZ_ASSERT(len == strlen(field) && len <= AUTHRES_MAX);
	FUZZ_ASSERT(len >= 2 && memcmp(field + len - 2, "\r\n", 2) == 0);
	for (i = 0; i + 2 < len; i++) {
		if (field[i] == '\r')
			FUZZ_ASSERT(field[i + 1] == '\n' &&
			    field[i + 2] == '\t');
		else if (field[i] == '\n')
			FUZZ_ASSERT(i > 0 && field[i - 1] == '\r');
		else
			FUZZ_ASSERT((unsigned char)field[i] >= ' ' ||
			    field[i] == '\t');
	}
	id[0] = '\0';
	rv = authres_authserv_id(field, len, id, sizeof(id));
	FUZZ_ASSERT(rv == 1 || strlen(v[0]) > 100);
	if (rv >= 0) {
		len = authres_remove(field, len, id, 0, &removed);
		FUZZ_ASSERT(removed == 1 && len == 0);
	}
	free(field);
	for (i = 0; i < n; i++)
		free(v[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmarc_record	 rec;
	struct psl		*psl;
	char			*s, *copy, id[AUTHRES_ID_MAX + 1], err[256];
	size_t			 len, removed;

	if (list == NULL &&
	    (list = psl_load_file(LIST, 0, err, sizeof(err))) == NULL)
		fuzz_fail("%s", err);
	s = fuzz_strndup(data, size);
	(void)dmarc_record_parse(s, size, &rec);
	FUZZ_ASSERT(rec.pct >= 0 && rec.pct <= 100);
	discovery(s, size);
	if ((psl = psl_load_buffer(s, size, "fuzz", 0, err,
	    sizeof(err))) != NULL) {
		FUZZ_ASSERT(psl_rules(psl) > 0);
		psl_free(psl);
	}
	org_domain(s);
	(void)authres_authserv_id(s, size, id, sizeof(id));
	if ((copy = malloc(size + 1)) == NULL)
		fuzz_fail("malloc");
	memcpy(copy, data, size);
	len = authres_remove(copy, size, "mx.example.org",
	    AUTHRES_RM_MALFORMED, &removed);
	FUZZ_ASSERT(len <= size);
	free(copy);
	render(data, size);
	free(s);
	return 0;
}
