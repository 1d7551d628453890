/*
 * DKIM signing in the queue process: when a message from a logged-in
 * user or from this machine is committed, it is signed with every key
 * of the domain in its From header.  The signature travels in the
 * envelopes and is written in front of the message by deliver and
 * relay, so the spool file itself is never rewritten.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dkim.h"
#include "mime.h"
#include "proc.h"
#include "queue.h"

#define SIGN_HEADER_MAX	(256 * 1024)	/* header read to find From */
#define SIGN_CHUNK	65536

struct qkey {
	char		 domain[DOMAIN_MAX + 1];
	struct dkim_key	*key;
};

static struct qkey	*qkeys;
static size_t		 nqkeys;

static int	from_domain(int, char *, size_t);
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
			log_warnx("dkim %s selector %s: %s; not signing with it",
			    d->domain, d->selector, err);
			continue;
		}
		strlcpy(k->domain, d->domain, sizeof(k->domain));
		nqkeys++;
	}
}

/*
 * The domain of the first address of the From header of the message
 * open on fd: "a@b", "Name <a@b>", "\"x@y\" <a@b>".  0 or -1.
 */
static int
from_domain(int fd, char *out, size_t outsz)
{
	char		*buf, *v, *p, *e, *at;
	size_t		 len = 0, i;
	ssize_t		 n;
	int		 r = -1;

	if ((buf = malloc(SIGN_HEADER_MAX + 1)) == NULL)
		fatal("malloc");
	while (len < SIGN_HEADER_MAX) {
		if ((n = pread(fd, buf + len, SIGN_HEADER_MAX - len,
		    len)) <= 0)
			break;
		len += n;
		if (memmem(buf, len, "\r\n\r\n", 4) != NULL)
			break;
	}
	buf[len] = '\0';
	if ((v = mime_header_get(buf, len, "From")) == NULL)
		goto done;
	/* The address in angle brackets if there is one, else the value. */
	if ((p = strrchr(v, '<')) != NULL && (e = strchr(p, '>')) != NULL) {
		*e = '\0';
		p++;
	} else
		p = v;
	if ((e = strchr(p, ',')) != NULL)
		*e = '\0';		/* a list: the first address */
	if ((at = strrchr(p, '@')) == NULL)
		goto done;
	at++;
	for (i = 0; at[i] != '\0' && at[i] != ' ' && at[i] != '>' &&
	    at[i] != '\t' && at[i] != ')'; i++)
		;
	at[i] = '\0';
	if (i == 0 || strlcpy(out, at, outsz) >= outsz)
		goto done;
	str_lower(out);
	r = 0;
 done:
	free(v);
	free(buf);
	return r;
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
 * Sign the message on fd when flags say it comes from a user of ours
 * and its From domain has keys; out gets the header lines, or "".
 * Without keys of its own, the keys of one related domain sign (the
 * seed's filter-dkimsign signed as mail.example.jp for example.jp).
 */
void
queue_dkim_sign(int fd, int flags, uint32_t msgid, char *out, size_t outsz)
{
	struct dkim_key		*use[8];
	struct dkim_signer	*sg;
	char			 dom[DOMAIN_MAX + 1], err[256], *buf, *sig;
	size_t			 n = 0, i;
	off_t			 off = 0;
	ssize_t			 r;

	out[0] = '\0';
	if (nqkeys == 0 || !(flags & (EF_AUTH | EF_LOCAL)) ||
	    from_domain(fd, dom, sizeof(dom)) == -1)
		return;
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
