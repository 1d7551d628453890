/*
 * DMARC aggregate reports (dmarc_report.c): what anybody can mail to
 * the rua address.  The first byte of the input says what the rest is:
 * (low two bits) 0 a whole message (MIME, base64, gzip or zip, XML),
 * 1 the XML alone, 2 a compressed report (gzip, zip or XML) and 3 a
 * header block for dmarc_report_is().
 *
 * Properties: a report that parses has what RFC 7489 appendix C
 * requires, in the forms the header promises (a normalized policy
 * domain, p and dispositions from their sets, canonical IP addresses,
 * auth results as lowercase words, begin not after end, at most
 * DMARC_REPORT_ROWS_MAX rows); a failure leaves the report empty with
 * a reason; decompression stays under DMARC_REPORT_XML_MAX; the header
 * test is 0 or 1.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dmarc_report.h"
#include "fuzz.h"
#include "psl.h"

static void	 check(const struct dmarc_report *);
static int	 one_of(const char *, const char *const *);

static int
one_of(const char *s, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcmp(s, *set) == 0)
			return 1;
	return 0;
}

static void
check(const struct dmarc_report *r)
{
	static const char *const pol[] = { "none", "quarantine", "reject",
	    NULL };
	char			 norm[PSL_NAME_MAX + 1], ip[INET6_ADDRSTRLEN];
	struct in6_addr		 a;
	size_t			 i, j, k;

	FUZZ_ASSERT(r->org_name != NULL && r->org_name[0] != '\0');
	FUZZ_ASSERT(r->report_id != NULL && r->report_id[0] != '\0');
	FUZZ_ASSERT(r->email != NULL);
	FUZZ_ASSERT(r->begin >= 0 && r->begin <= r->end);
	FUZZ_ASSERT(psl_normalize(r->domain, norm, sizeof(norm)) == 0 &&
	    strcmp(norm, r->domain) == 0);
	FUZZ_ASSERT(one_of(r->p, pol));
	FUZZ_ASSERT(r->nrows <= DMARC_REPORT_ROWS_MAX);
	for (i = 0; i < r->nrows; i++) {
		const struct dmarc_report_row	*w = &r->rows[i];
		int				 af;

		af = strchr(w->source_ip, ':') != NULL ? AF_INET6 : AF_INET;
		FUZZ_ASSERT(inet_pton(af, w->source_ip, &a) == 1);
		FUZZ_ASSERT(inet_ntop(af, &a, ip, sizeof(ip)) != NULL &&
		    strcmp(ip, w->source_ip) == 0);
		FUZZ_ASSERT(one_of(w->disposition, pol));
		FUZZ_ASSERT((w->dkim_pass == 0 || w->dkim_pass == 1) &&
		    (w->spf_pass == 0 || w->spf_pass == 1));
		FUZZ_ASSERT(w->header_from != NULL);
		FUZZ_ASSERT(w->nauth <= DMARC_REPORT_AUTH_MAX);
		for (j = 0; j < w->nauth; j++) {
			FUZZ_ASSERT(w->auth[j].domain != NULL);
			FUZZ_ASSERT(w->auth[j].result[0] != '\0');
			for (k = 0; w->auth[j].result[k] != '\0'; k++)
				FUZZ_ASSERT(w->auth[j].result[k] >= 'a' &&
				    w->auth[j].result[k] <= 'z');
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmarc_report	 r;
	char			*in, *out, err[256];
	size_t			 olen;
	int			 rv;

	if (size < 1)
		return 0;
	in = fuzz_strndup(data + 1, size - 1);
	err[0] = '\0';
	switch (data[0] & 3) {
	case 0:
		rv = dmarc_report_parse(in, size - 1, &r, err, sizeof(err));
		break;
	case 1:
		rv = dmarc_report_xml(in, size - 1, &r, err, sizeof(err));
		break;
	case 2:
		memset(&r, 0, sizeof(r));
		rv = dmarc_report_inflate((const unsigned char *)in, size - 1,
		    &out, &olen, err, sizeof(err));
		if (rv == 0) {
			FUZZ_ASSERT(olen <= DMARC_REPORT_XML_MAX &&
			    out[olen] == '\0');
			rv = dmarc_report_xml(out, olen, &r, err, sizeof(err));
			free(out);
		} else
			FUZZ_ASSERT(out == NULL);
		break;
	default:
		rv = dmarc_report_is(in, size - 1);
		FUZZ_ASSERT(rv == 0 || rv == 1);
		free(in);
		return 0;
	}
	if (rv == 0)
		check(&r);
	else
		FUZZ_ASSERT(rv == -1 && err[0] != '\0' && r.rows == NULL &&
		    r.org_name == NULL && r.nrows == 0);
	dmarc_report_free(&r);
	free(in);
	return 0;
}
