/*
 * DKIM signing in the queue process: when a message is committed, it is
 * signed with every key of the domain smtp found its sender may sign for
 * (the From domain of a logged-in user's own address, or a "dkim local"
 * domain for mail from this machine).  The signature travels in the
 * envelopes and is written in front of the message by deliver and
 * relay, so the spool file itself is never rewritten.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "dkim.h"
#include "proc.h"
#include "queue.h"

#define SIGN_CHUNK	65536

struct qkey {
	char		 domain[DOMAIN_MAX + 1];
	struct dkim_key	*key;
};

static struct qkey	*qkeys;
static size_t		 nqkeys;

static int	dom_related(const char *, const char *);

/* Keys from the configuration; called before they are purged. */
void
queue_dkim_init(struct maild_conf *c)
{
	struct dkimconf	*d;
	struct qkey	*k;
	char		 err[256];
	size_t		 i;

	for (i = 0; i < nqkeys; i++)
		dkim_key_free(qkeys[i].key);
	free(qkeys);
	qkeys = NULL;
	nqkeys = 0;
	TAILQ_FOREACH(d, &c->dkims, entry) {
		if (d->key == NULL)
			continue;
		if ((k = reallocarray(qkeys, nqkeys + 1, sizeof(*k))) == NULL)
			fatal("reallocarray");
		qkeys = k;
		k = &qkeys[nqkeys];
		if ((k->key = dkim_key_new(d->domain, d->selector, d->key,
		    d->key_len, err, sizeof(err))) == NULL) {
			log_warnx("dkim %s selector %s: %s; not signing with "
			    "it", d->domain, d->selector, err);
			continue;
		}
		strlcpy(k->domain, d->domain, sizeof(k->domain));
		nqkeys++;
	}
}

/*
 * Is one domain a subdomain of the other (mail.example.org and
 * example.org)?  Then a signature of one is aligned with a From of the
 * other under DMARC's relaxed mode.  The parent needs two labels, so
 * that a key never stands for a whole top-level domain.
 */
static int
dom_related(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b);

	if (la < lb) {
		const char	*t = a;

		a = b;
		b = t;
		la = lb;
		lb = strlen(b);
	}
	return la > lb + 1 && a[la - lb - 1] == '.' &&
	    strcmp(a + la - lb, b) == 0 && strchr(b, '.') != NULL;
}

/*
 * Sign the message on fd with the keys of domain, the From domain smtp
 * found the sender may sign for ("": none); out gets the header lines,
 * or "".  Without keys of its own, the keys of one related domain sign
 * (the seed's filter-dkimsign signed as mail.example.jp for example.jp).
 * The queue holds the keys and never parses the message to choose.
 */
void
queue_dkim_sign(int fd, const char *domain, uint32_t msgid, char *out,
    size_t outsz)
{
	struct dkim_key		*use[8];
	struct dkim_signer	*sg;
	char			 dom[DOMAIN_MAX + 1], err[256], *buf, *sig;
	size_t			 n = 0, i;
	off_t			 off = 0;
	ssize_t			 r;

	out[0] = '\0';
	if (nqkeys == 0 || domain[0] == '\0' ||
	    strlcpy(dom, domain, sizeof(dom)) >= sizeof(dom))
		return;
	str_lower(dom);
	for (i = 0; i < nqkeys && n < nitems(use); i++)
		if (strcmp(qkeys[i].domain, dom) == 0)
			use[n++] = qkeys[i].key;
	for (i = 0; n == 0 && i < nqkeys; i++)
		if (dom_related(qkeys[i].domain, dom))
			(void)strlcpy(dom, qkeys[i].domain, sizeof(dom));
	for (i = 0; n == 0 && i < nqkeys && n < nitems(use); i++)
		if (strcmp(qkeys[i].domain, dom) == 0)
			use[n++] = qkeys[i].key;
	if (n == 0)
		return;
	if ((buf = malloc(SIGN_CHUNK)) == NULL)
		fatal("malloc");
	sg = dkim_signer_new(use, n, time(NULL));
	while ((r = pread(fd, buf, SIGN_CHUNK, off)) > 0) {
		dkim_signer_update(sg, buf, r);
		off += r;
	}
	free(buf);
	if (r == -1) {
		log_warn("queue: message %08x: read for DKIM", msgid);
		dkim_signer_free(sg);
		return;
	}
	if ((sig = dkim_signer_final(sg, err, sizeof(err))) == NULL)
		log_warnx("queue: message %08x: not signed: %s", msgid, err);
	else if (strlcpy(out, sig, outsz) >= outsz) {
		log_warnx("queue: message %08x: DKIM signatures too long",
		    msgid);
		out[0] = '\0';
	} else
		log_debug("queue: message %08x signed for %s with %zu key%s",
		    msgid, dom, n, n == 1 ? "" : "s");
	free(sig);
	dkim_signer_free(sg);
}
