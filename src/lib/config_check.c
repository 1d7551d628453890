/*
 * mail.conf, the checks: those that turn a dangerous listener (AUTH
 * before TLS, a pki without TLS) into an error, those that need the
 * whole file (a pki named before it is defined, queue retries against
 * each other, tables of relay credentials used elsewhere), what is
 * derived (the system's host name, the mailbox root), and the reading
 * of certificates and keys, by the parent only.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_priv.h"
#include "log.h"
#include "util.h"

#define PKI_FILE_MAX		(1024 * 1024)
#define VMAIL_ROOT_DEFAULT	"/var/vmail"

static void	 check_retries(struct parser *);
static void	 check_greylist(struct parser *);
static void	 system_hostname(struct parser *);
static int	 relay_table_check(struct parser *);
static void	 derive_vmail_root(struct maild_conf *);
static int	 read_pki_file(struct parser *, int, const char *,
		    const char *, int, char **, size_t *);

/* The rules that keep a listener from leaking passwords or mail. */
int
cf_listen_check(struct parser *p, struct listen_opts *o)
{
	unsigned int	 s = o->seen;
	int		 errors = p->errors;
	const char	*tls;

	if ((s & O_SMTPS) && (s & (O_TLS | O_TLS_REQUIRE)))
		cf_perr(p, "smtps cannot be combined with tls or tls-require: "
		    "smtps is TLS from the first byte");
	if ((s & O_IMAPS) && (s & (O_SMTPS | O_IMAP | O_TLS | O_TLS_REQUIRE)))
		cf_perr(p, "imaps cannot be combined with smtps, imap, tls or "
		    "tls-require");
	if ((s & O_IMAP) && (s & O_SMTPS))
		cf_perr(p, "imap cannot be combined with smtps");
	if ((s & O_IMAP) && !(s & (O_TLS | O_TLS_REQUIRE)))
		cf_perr(p, "imap requires tls or tls-require: no login before "
		    "TLS");
	if ((s & O_ANYTLS) && !(s & O_PKI)) {
		tls = (s & O_TLS_REQUIRE) ? "tls-require" : (s & O_TLS) ?
		    "tls" : (s & O_SMTPS) ? "smtps" : "imaps";
		cf_perr(p, "%s requires a certificate: add pki NAME", tls);
	}
	if ((s & O_PKI) && !(s & O_ANYTLS))
		cf_perr(p, "pki \"%s\" is not used without tls, tls-require, "
		    "smtps or imaps", o->l.pki);
	if ((s & O_CIPHERS) && !(s & O_ANYTLS))
		cf_perr(p, "ciphers is not used without tls, tls-require, "
		    "smtps or imaps");
	if ((s & O_AUTH) && !(s & O_ANYTLS))
		cf_perr(p, "auth requires tls, tls-require or smtps: no AUTH "
		    "before TLS");
	if ((s & (O_IMAPS | O_IMAP)) && !(s & O_AUTH))
		cf_perr(p, "%s requires auth <table>",
		    (s & O_IMAPS) ? "imaps" : "imap");
	if ((s & (O_IMAPS | O_IMAP)) && (s & (O_MASKSRC | O_CHECK |
	    O_ANYSENDER | O_MSGAUTH | O_FILTER)))
		cf_perr(p, "mask-src, check, any-sender, message-auth and "
		    "filter only apply to SMTP listeners");
	if ((s & (O_IMAPS | O_IMAP)) && (s & O_DNSBL))
		cf_perr(p, "dnsbl only applies to SMTP listeners");
	if ((s & O_ANYSENDER) && !(s & O_AUTH))
		cf_perr(p, "any-sender requires auth <table>");
	if ((s & O_FROMMISMATCH) && (!(s & O_AUTH) || (s & O_ANYSENDER) ||
	    (s & (O_IMAPS | O_IMAP))))
		cf_perr(p, "from-mismatch applies to SMTP listeners with auth "
		    "<table> and without any-sender");
	return p->errors == errors ? 0 : -1;
}

void
cf_finish(struct parser *p)
{
	struct maild_conf	*c = p->conf;
	struct dkimconf		*d;
	struct pkiline		*pl;
	struct listener		*l;
	int			 lastline = 0;

	TAILQ_FOREACH(pl, &p->pkilines, entry) {
		if (pl->pki->cert_file[0] == '\0')
			cf_perr_line(p, pl->line, "pki \"%s\" has no cert",
			    pl->pki->name);
		if (pl->pki->key_file[0] == '\0')
			cf_perr_line(p, pl->line, "pki \"%s\" has no key",
			    pl->pki->name);
	}
	TAILQ_FOREACH(l, &c->listeners, entry) {
		/* One message per statement, not per address. */
		if (l->pki[0] != '\0' && config_pki(c, l->pki) == NULL &&
		    l->line != lastline) {
			cf_perr_line(p, l->line, "unknown pki \"%s\"", l->pki);
			lastline = l->line;
		}
	}
	check_retries(p);
	check_greylist(p);
	if (cf_setting_line(p, "hostname") == 0)
		system_hostname(p);
	TAILQ_FOREACH(l, &c->listeners, entry)
		if (l->hostname[0] == '\0')
			(void)strlcpy(l->hostname, c->hostname,
			    sizeof(l->hostname));
	derive_vmail_root(c);
	(void)relay_table_check(p);
	cf_quota_finish(p);

	if (p->errors > 0 || (p->flags & CONF_NOFILES))
		return;
	if (c->ca_file[0] != '\0')
		(void)read_pki_file(p, cf_setting_line(p, "ca"), "ca",
		    c->ca_file, 0,
		    &c->ca, &c->ca_len);
	TAILQ_FOREACH(pl, &p->pkilines, entry) {
		if (read_pki_file(p, pl->line, "cert", pl->pki->cert_file, 0,
		    &pl->pki->cert, &pl->pki->cert_len) == -1)
			continue;
		(void)read_pki_file(p, pl->line, "key", pl->pki->key_file, 1,
		    &pl->pki->key, &pl->pki->key_len);
	}
	TAILQ_FOREACH(d, &c->dkims, entry)
		(void)read_pki_file(p, d->line, "dkim key", d->key_file, 1,
		    &d->key, &d->key_len);
}

/*
 * The first retries are not longer than the longest (each error at the
 * line of the setting given); a short retry-max caps the default remote
 * retry.
 */
static void
check_retries(struct parser *p)
{
	struct maild_conf	*c = p->conf;
	int			 retry, max, remote;

	retry = cf_setting_line(p, "queue retry");
	max = cf_setting_line(p, "queue retry-max");
	remote = cf_setting_line(p, "queue retry-remote");
	if (retry && c->retry_local > c->retry_max)
		cf_perr_line(p, retry, "queue retry (%lld) is longer than "
		    "queue retry-max (%lld)", (long long)c->retry_local,
		    (long long)c->retry_max);
	else if (max && c->retry_local > c->retry_max)
		cf_perr_line(p, max, "queue retry-max (%lld) is shorter than "
		    "queue retry (%lld)", (long long)c->retry_max,
		    (long long)c->retry_local);
	if (remote && c->retry_remote > c->retry_max)
		cf_perr_line(p, remote, "queue retry-remote (%lld) is longer "
		    "than queue retry-max (%lld)", (long long)c->retry_remote,
		    (long long)c->retry_max);
	else if (max && !remote && c->retry_remote > c->retry_max)
		c->retry_remote = c->retry_max;
}

/*
 * A deferred triplet must live past its delay, or a client retrying at
 * long intervals could never pass.
 */
static void
check_greylist(struct parser *p)
{
	struct maild_conf	*c = p->conf;
	int			 delay, expire;

	delay = cf_setting_line(p, "greylist delay");
	expire = cf_setting_line(p, "greylist expire");
	if (c->greylist_delay < c->greylist_expire)
		return;
	if (delay >= expire)
		cf_perr_line(p, delay, "greylist delay (%lld) is not shorter "
		    "than greylist expire (%lld)",
		    (long long)c->greylist_delay,
		    (long long)c->greylist_expire);
	else
		cf_perr_line(p, expire, "greylist expire (%lld) is not longer "
		    "than greylist delay (%lld)",
		    (long long)c->greylist_expire,
		    (long long)c->greylist_delay);
}

/* Without "hostname", the system's name, if it is a valid one. */
static void
system_hostname(struct parser *p)
{
	char	 host[HOST_NAME_MAX + 1];

	memset(host, 0, sizeof(host));
	if (gethostname(host, sizeof(host) - 1) == -1 ||
	    !cf_valid_hostname(host)) {
		log_warnx("%s: cannot use the system host name, set hostname",
		    p->name);
		p->errors++;
	} else
		(void)strlcpy(p->conf->hostname, host,
		    sizeof(p->conf->hostname));
}

/*
 * A table of relay credentials goes to the relay process only: it may
 * not serve as anything else (and the lookup process never sees it).
 */
static int
relay_table_check(struct parser *p)
{
	struct maild_conf	*c = p->conf;
	struct listener		*l;
	struct action		*a;
	struct rule		*r;
	struct table		*t;
	int			 rv = 0, lastline = 0;

#define RELAY_TABLE_USED(tp, line, what) do {				\
	if ((tp) != NULL && ((tp)->flags & T_RELAY)) {			\
		cf_perr_line(p, (line), "table <%s> holds relay "	\
		    "credentials and cannot be used as %s", (tp)->name,	\
		    (what));						\
		rv = -1;						\
	}								\
} while (0)
	TAILQ_FOREACH(l, &c->listeners, entry)
		/* One message per statement, not per address. */
		if ((l->flags & L_AUTH) && l->line != lastline) {
			lastline = l->line;
			t = config_table(c, l->authtable);
			RELAY_TABLE_USED(t, l->line, "a passwd table");
		}
	TAILQ_FOREACH(a, &c->actions, entry) {
		RELAY_TABLE_USED(a->virtual, a->line, "virtual");
		RELAY_TABLE_USED(a->alias, a->line, "alias");
		RELAY_TABLE_USED(a->userbase, a->line, "userbase");
	}
	TAILQ_FOREACH(r, &c->rules, entry)
		RELAY_TABLE_USED(r->domains, r->line, "a domain table");
#undef RELAY_TABLE_USED
	return rv;
}

/*
 * The deepest directory holding every maildir: the common directory
 * prefix of the static parts of the patterns ("/var/vmail" for
 * "/var/vmail/%{dest.domain}/%{dest.user}").  The deliver process is
 * confined there.
 */
static void
derive_vmail_root(struct maild_conf *c)
{
	struct action	*a;
	char		 root[PATH_MAX], dir[PATH_MAX], *s;
	size_t		 i, cut;
	int		 first = 1;

	root[0] = '\0';
	TAILQ_FOREACH(a, &c->actions, entry) {
		if (a->type != A_MAILDIR)
			continue;
		(void)strlcpy(dir, a->pattern, sizeof(dir));
		if ((s = strchr(dir, '%')) != NULL)
			*s = '\0';
		if ((s = strrchr(dir, '/')) != NULL)
			*s = '\0';	/* "" stands for "/" */
		if (first) {
			(void)strlcpy(root, dir, sizeof(root));
			first = 0;
			continue;
		}
		for (i = 0; root[i] != '\0' && root[i] == dir[i]; i++)
			;
		if ((root[i] == '\0' && (dir[i] == '/' || dir[i] == '\0')) ||
		    (dir[i] == '\0' && root[i] == '/'))
			cut = i;
		else {
			for (cut = i; cut > 0 && root[cut] != '/'; cut--)
				;
		}
		root[cut] = '\0';
	}
	if (first)
		(void)strlcpy(c->vmail_root, VMAIL_ROOT_DEFAULT,
		    sizeof(c->vmail_root));
	else if (root[0] == '\0')
		(void)strlcpy(c->vmail_root, "/", sizeof(c->vmail_root));
	else
		(void)strlcpy(c->vmail_root, root, sizeof(c->vmail_root));
}

/*
 * Read a certificate or key (at most PKI_FILE_MAX bytes) into a
 * NUL-terminated buffer.  A private key (TLS or DKIM) is read as a
 * table is: not through a symbolic link, below directories only root
 * (or the running user) can change, owned by root (or that user), not
 * writable by group or others: whoever can swap it can impersonate the
 * server or sign as its domains.  Nor may others read it.
 */
static int
read_pki_file(struct parser *p, int line, const char *what,
    const char *path, int iskey, char **bufp, size_t *lenp)
{
	struct stat	 st;
	char		*buf = NULL, err[PATH_MAX + 256];
	size_t		 len = 0, size = 0;
	ssize_t		 n;
	int		 fd;

	if (iskey) {
		if ((fd = path_open_trusted(path, err, sizeof(err))) == -1) {
			cf_perr_line(p, line, "%s file %s", what, err);
			return -1;
		}
	} else if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) ==
	    -1) {
		cf_perr_line(p, line, "%s file %s: %s", what, path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		cf_perr_line(p, line, "%s file %s: %s", what, path,
		    strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		cf_perr_line(p, line, "%s file %s is not a regular file", what,
		    path);
		goto fail;
	}
	if (iskey && st.st_uid != 0 && st.st_uid != geteuid()) {
		cf_perr_line(p, line, "%s file %s is owned by uid %lu, must be "
		    "owned by root", what, path, (unsigned long)st.st_uid);
		goto fail;
	}
	if (iskey && (st.st_mode & 022)) {
		cf_perr_line(p, line, "%s file %s is writable by group or "
		    "others (chmod 600)", what, path);
		goto fail;
	}
	if (iskey && (st.st_mode & 007)) {
		cf_perr_line(p, line, "key file %s is readable by others "
		    "(chmod 600)", path);
		goto fail;
	}
	if (st.st_size <= 0 || st.st_size > PKI_FILE_MAX) {
		cf_perr_line(p, line, "%s file %s is %s", what, path,
		    st.st_size <= 0 ? "empty" : "too large (over 1M)");
		goto fail;
	}
	size = (size_t)st.st_size;
	if ((buf = malloc(size + 1)) == NULL)
		fatal("malloc");
	while (len < size) {
		if ((n = read(fd, buf + len, size - len)) == -1) {
			if (errno == EINTR)
				continue;
			cf_perr_line(p, line, "%s file %s: %s", what, path,
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == 0) {
		cf_perr_line(p, line, "%s file %s is empty", what, path);
		goto fail;
	}
	buf[len] = '\0';
	close(fd);
	*bufp = buf;
	*lenp = len;
	return 0;
 fail:
	if (buf != NULL) {
		explicit_bzero(buf, size + 1);
		free(buf);
	}
	close(fd);
	return -1;
}
