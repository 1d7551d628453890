/*
 * Test tool for dkim_verify.c and arc.c (test 62): verify a message file
 * with the keys of a key file, print one line per DKIM-Signature and one
 * for the ARC chain; or sign a message with maild's signer (dkim.c).
 *
 *	dkimverify_tool [-v] [-c chunk] [-n now] MESSAGE KEYS
 *	dkimverify_tool -S -d domain -s selector -k key.pem [-n now] MESSAGE
 *
 * KEYS has one line per TXT record, "name<TAB>value", or "name<TAB>NONE"
 * (NXDOMAIN) or "name<TAB>TEMPFAIL"; several lines with one name are
 * several records; a name not in the file has no record.  The message
 * is fed in chunks of -c bytes (default 4096).  Output, verifying:
 *
 *	dkim 0 pass d=example.org s=sel i=@example.org a=rsa-sha256 \
 *	    b=AbCdEfGh12345678 bits=2048 l=- testing=0 reason="ok"
 *	dkim-ignored 3			(signatures past DKIM_VERIFY_SIGS_MAX)
 *	arc pass n=2 oldest-pass=0 d=example.net s=arc reason="2 sets"
 *
 * or "error header over ..." for a header the verifier refuses.  -v
 * adds "query NAME" lines.  Signing prints the DKIM-Signature fields
 * followed by the message.  Exit 0, or 1 on a usage or file error.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "dkim.h"
#include "dkim_verify.h"
#include "log.h"

#define TXT_MAX		64	/* records of one name */

static char	*slurp(const char *, size_t *);
static void	 usage(void);
static int	 answer(struct dkim_verifier *, size_t, const char *,
		    size_t);
static int	 verify(const char *, const char *, size_t, time_t, int);
static int	 sign(const char *, const char *, const char *,
		    const char *, time_t);

static char *
slurp(const char *path, size_t *lenp)
{
	FILE	*fp;
	char	*p = NULL, *np;
	size_t	 len = 0, size = 0, n;

	if ((fp = fopen(path, "rb")) == NULL) {
		perror(path);
		exit(1);
	}
	for (;;) {
		if (size - len < 65536) {
			size = size ? size * 2 : 65536;
			if ((np = realloc(p, size + 1)) == NULL) {
				perror("realloc");
				exit(1);
			}
			p = np;
		}
		if ((n = fread(p + len, 1, size - len, fp)) == 0)
			break;
		len += n;
	}
	if (ferror(fp)) {
		perror(path);
		exit(1);
	}
	fclose(fp);
	p[len] = '\0';
	*lenp = len;
	return p;
}

static void
usage(void)
{
	fprintf(stderr, "usage: dkimverify_tool [-v] [-c chunk] [-n now] "
	    "MESSAGE KEYS\n"
	    "       dkimverify_tool -S -d domain -s selector -k key.pem "
	    "[-n now] MESSAGE\n");
	exit(1);
}

/* Answer query i from the key file's lines for its name. */
static int
answer(struct dkim_verifier *v, size_t i, const char *keys, size_t klen)
{
	const char	*name = dkim_verifier_query(v, i), *line, *eol, *tab;
	char		*txt[TXT_MAX];
	size_t		 ntxt = 0, nlen, k;
	int		 status = DKIM_DNS_OK;

	for (line = keys; line < keys + klen; line = eol + 1) {
		if ((eol = memchr(line, '\n', keys + klen - line)) == NULL)
			eol = keys + klen;
		if ((tab = memchr(line, '\t', eol - line)) == NULL)
			continue;
		nlen = tab - line;
		if (nlen > 0 && line[nlen - 1] == '.')
			nlen--;
		if (nlen != strlen(name) || strncasecmp(line, name, nlen) != 0)
			continue;
		tab++;
		k = eol - tab;
		if (k > 0 && tab[k - 1] == '\r')
			k--;
		if (k == 4 && memcmp(tab, "NONE", 4) == 0)
			status = DKIM_DNS_NONE;
		else if (k == 8 && memcmp(tab, "TEMPFAIL", 8) == 0)
			status = DKIM_DNS_TEMPFAIL;
		else if (ntxt < TXT_MAX) {
			if ((txt[ntxt] = strndup(tab, k)) == NULL) {
				perror("strndup");
				exit(1);
			}
			ntxt++;
		}
		if (eol == keys + klen)
			break;
	}
	dkim_verifier_answer(v, i, status, (const char *const *)txt,
	    status == DKIM_DNS_OK ? ntxt : 0);
	for (k = 0; k < ntxt; k++)
		free(txt[k]);
	return 0;
}

static int
verify(const char *msgpath, const char *keypath, size_t chunk, time_t now,
    int verbose)
{
	struct dkim_verifier		*v;
	const struct dkim_result	*r;
	const struct arc_result		*a;
	char				*msg, *keys, err[128], l[32];
	size_t				 len, klen, pos, n, i;

	msg = slurp(msgpath, &len);
	keys = slurp(keypath, &klen);
	v = dkim_verifier_new(now);
	for (pos = 0; pos < len; pos += n) {
		n = len - pos < chunk ? len - pos : chunk;
		dkim_verifier_update(v, msg + pos, n);
	}
	if (dkim_verifier_end(v, err, sizeof(err)) == -1) {
		printf("error %s\n", err);
		goto done;
	}
	for (i = 0; i < dkim_verifier_nqueries(v); i++) {
		if (verbose)
			printf("query %s\n", dkim_verifier_query(v, i));
		answer(v, i, keys, klen);
	}
	dkim_verifier_finish(v);
	for (i = 0; i < dkim_verifier_nresults(v); i++) {
		r = dkim_verifier_result(v, i);
		if (r->has_l)
			(void)snprintf(l, sizeof(l), "%llu",
			    (unsigned long long)r->l);
		else
			(void)strlcpy(l, "-", sizeof(l));
		printf("dkim %zu %s d=%s s=%s i=%s a=%s b=%s bits=%u l=%s "
		    "testing=%d reason=\"%s\"\n", i,
		    dkim_result_name(r->result), r->d, r->s, r->i, r->a, r->b,
		    r->bits, l, r->testing, r->reason);
	}
	if (dkim_verifier_nsigs(v) > dkim_verifier_nresults(v))
		printf("dkim-ignored %zu\n", dkim_verifier_nsigs(v) -
		    dkim_verifier_nresults(v));
	a = dkim_verifier_arc(v);
	printf("arc %s n=%d oldest-pass=%d d=%s s=%s reason=\"%s\"\n",
	    arc_result_name(a->result), a->n, a->oldest_pass, a->d, a->s,
	    a->reason);
 done:
	dkim_verifier_free(v);
	free(msg);
	free(keys);
	return 0;
}

static int
sign(const char *msgpath, const char *domain, const char *selector,
    const char *keypath, time_t now)
{
	struct dkim_key		*k;
	struct dkim_signer	*s;
	char			*msg, *pem, *sig, err[256];
	size_t			 len, pemlen;

	msg = slurp(msgpath, &len);
	pem = slurp(keypath, &pemlen);
	if ((k = dkim_key_new(domain, selector, pem, pemlen, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "%s: %s\n", keypath, err);
		return 1;
	}
	s = dkim_signer_new(&k, 1, now);
	dkim_signer_update(s, msg, len);
	if ((sig = dkim_signer_final(s, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s: %s\n", msgpath, err);
		return 1;
	}
	fwrite(sig, 1, strlen(sig), stdout);
	fwrite(msg, 1, len, stdout);
	free(sig);
	dkim_signer_free(s);
	dkim_key_free(k);
	free(msg);
	free(pem);
	return 0;
}

int
main(int argc, char *argv[])
{
	const char	*domain = NULL, *selector = NULL, *key = NULL;
	time_t		 now = time(NULL);
	size_t		 chunk = 4096;
	int		 ch, signing = 0, verbose = 0;

	log_init(1, 0);
	while ((ch = getopt(argc, argv, "c:d:k:n:Ss:v")) != -1) {
		switch (ch) {
		case 'c':
			chunk = strtoul(optarg, NULL, 10);
			if (chunk == 0)
				usage();
			break;
		case 'd':
			domain = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'n':
			now = (time_t)strtoll(optarg, NULL, 10);
			break;
		case 'S':
			signing = 1;
			break;
		case 's':
			selector = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (signing) {
		if (argc != 1 || domain == NULL || selector == NULL ||
		    key == NULL)
			usage();
		return sign(argv[0], domain, selector, key, now);
	}
	if (argc != 2)
		usage();
	return verify(argv[0], argv[1], chunk, now, verbose);
}
