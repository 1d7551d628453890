/*
 * mail.conf: the parser's public interface (config.h).  A configuration
 * is parsed from memory (the children get the parent's text) or from a
 * file, one logical line at a time: lexer in config_lex.c, grammar in
 * config_parse.c and config_listen.c, global settings in the table of
 * config_settings.c, checks of the whole in config_check.c, canonical
 * form in config_dump.c.  Errors are reported as "file:line: message"
 * at the first line of their statement; a file with any error is
 * refused as a whole.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config_priv.h"
#include "log.h"
#include "util.h"

static void	 parser_free(struct parser *);

static void
parser_free(struct parser *p)
{
	struct pkiline	*pl;

	cf_macros_free(p);
	while ((pl = TAILQ_FIRST(&p->pkilines)) != NULL) {
		TAILQ_REMOVE(&p->pkilines, pl, entry);
		free(pl);
	}
	/* The line buffers may have held secrets from the file. */
	explicit_bzero(p, sizeof(*p));
	free(p);
}

/* -- public interface -- */

struct maild_conf *
config_parse_buf(const char *name, const char *buf, size_t len, int flags)
{
	struct parser		*p;
	struct maild_conf	*c;
	size_t			 off = 0;
	int			 lineno = 1, r;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (c = calloc(1, sizeof(*c))) == NULL)
		fatal("calloc");
	TAILQ_INIT(&p->macros);
	TAILQ_INIT(&p->pkilines);
	TAILQ_INIT(&c->pkis);
	TAILQ_INIT(&c->dkims);
	TAILQ_INIT(&c->dkim_local);
	TAILQ_INIT(&c->tables);
	TAILQ_INIT(&c->listeners);
	TAILQ_INIT(&c->actions);
	TAILQ_INIT(&c->rules);
	TAILQ_INIT(&c->dnsbls);
	p->name = name;
	p->flags = flags;
	p->conf = c;
	cf_settings_init(c);
	/* Not a setting: tests change it (maild.c). */
	c->relay_port = DEFAULT_RELAY_PORT;
	c->test_remote_plen = -1;

	if (strlcpy(c->path, name, sizeof(c->path)) >= sizeof(c->path)) {
		log_warnx("%.64s...: file name too long", name);
		goto fail;
	}
	if (len > CONF_FILE_MAX) {
		log_warnx("%s: file too large (more than %d bytes)", name,
		    CONF_FILE_MAX);
		goto fail;
	}
	while ((r = cf_next_line(p, buf, len, &off, &lineno)) != 0) {
		if (r == 1 && cf_tokenize(p) == 0 && p->ntok > 0)
			cf_statement(p);
		if (p->errors >= CONF_ERRORS_MAX)
			break;
	}
	if (p->errors >= CONF_ERRORS_MAX) {
		log_warnx("%s: too many errors, giving up", name);
		goto fail;
	}
	cf_finish(p);
	if (p->errors > 0)
		goto fail;
	parser_free(p);
	return c;
 fail:
	parser_free(p);
	config_free(c);
	return NULL;
}

struct maild_conf *
config_parse_file(const char *path, int flags, char **bufp, size_t *lenp)
{
	struct maild_conf	*c = NULL;
	struct stat		 st;
	char			*buf = NULL;
	size_t			 len = 0;
	int			 fd;

	if (bufp != NULL)
		*bufp = NULL;
	if (lenp != NULL)
		*lenp = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		log_warn("%s", path);
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("%s", path);
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s: not a regular file", path);
		goto done;
	}
	/* Whoever can write it can relay mail and read everyone's. */
	if (st.st_mode & S_IWOTH) {
		log_warnx("%s: writable by others (chmod o-w)", path);
		goto done;
	}
	if (st.st_size > CONF_FILE_MAX) {
		log_warnx("%s: file too large (more than %d bytes)", path,
		    CONF_FILE_MAX);
		goto done;
	}
	if ((buf = read_fd(fd, CONF_FILE_MAX, &len)) == NULL) {
		if (errno == EFBIG)
			log_warnx("%s: file too large (more than %d bytes)",
			    path, CONF_FILE_MAX);
		else
			log_warn("%s", path);
		goto done;
	}
	if ((c = config_parse_buf(path, buf, len, flags)) != NULL &&
	    bufp != NULL) {
		*bufp = buf;
		buf = NULL;
		if (lenp != NULL)
			*lenp = len;
	}
 done:
	free(buf);
	close(fd);
	return c;
}

/* Listener fds are the caller's: they are not closed here. */
void
config_free(struct maild_conf *c)
{
	struct dkimlocal *dl;
	struct dnsbl_zone *z;
	struct dkimconf	*d;
	struct pki	*pki;
	struct table	*t;
	struct listener	*l;
	struct action	*a;
	struct rule	*r;

	if (c == NULL)
		return;
	config_purge_keys(c);
	free(c->ca);
	while ((pki = TAILQ_FIRST(&c->pkis)) != NULL) {
		TAILQ_REMOVE(&c->pkis, pki, entry);
		free(pki->cert);
		free(pki);
	}
	while ((dl = TAILQ_FIRST(&c->dkim_local)) != NULL) {
		TAILQ_REMOVE(&c->dkim_local, dl, entry);
		free(dl);
	}
	while ((d = TAILQ_FIRST(&c->dkims)) != NULL) {
		TAILQ_REMOVE(&c->dkims, d, entry);
		free(d);
	}
	while ((t = TAILQ_FIRST(&c->tables)) != NULL) {
		TAILQ_REMOVE(&c->tables, t, entry);
		table_clear(t);
		free(t);
	}
	while ((l = TAILQ_FIRST(&c->listeners)) != NULL) {
		TAILQ_REMOVE(&c->listeners, l, entry);
		free(l);
	}
	while ((a = TAILQ_FIRST(&c->actions)) != NULL) {
		TAILQ_REMOVE(&c->actions, a, entry);
		free(a);
	}
	while ((r = TAILQ_FIRST(&c->rules)) != NULL) {
		TAILQ_REMOVE(&c->rules, r, entry);
		free(r);
	}
	while ((z = TAILQ_FIRST(&c->dnsbls)) != NULL) {
		TAILQ_REMOVE(&c->dnsbls, z, entry);
		free(z);
	}
	free(c);
}

struct table *
config_table(const struct maild_conf *c, const char *name)
{
	struct table	*t;

	TAILQ_FOREACH(t, &c->tables, entry)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

struct pki *
config_pki(const struct maild_conf *c, const char *name)
{
	struct pki	*pki;

	TAILQ_FOREACH(pki, &c->pkis, entry)
		if (strcmp(pki->name, name) == 0)
			return pki;
	return NULL;
}

void
config_purge_keys(struct maild_conf *c)
{
	struct dkimconf	*d;
	struct pki	*pki;

	TAILQ_FOREACH(pki, &c->pkis, entry) {
		if (pki->key == NULL)
			continue;
		explicit_bzero(pki->key, pki->key_len);
		free(pki->key);
		pki->key = NULL;
		pki->key_len = 0;
	}
	TAILQ_FOREACH(d, &c->dkims, entry) {
		if (d->key == NULL)
			continue;
		explicit_bzero(d->key, d->key_len);
		free(d->key);
		d->key = NULL;
		d->key_len = 0;
	}
}

/*
 * libtls's "secure" and "default" are OpenSSL's DEFAULT under libretls
 * (static RSA and CBC included): here they mean maild's default, as on
 * LibreSSL, where they name the same kind of set.
 */
const char *
config_ciphers(const char *s)
{
	if (*s == '\0' || strcasecmp(s, "secure") == 0 ||
	    strcasecmp(s, "default") == 0)
		return MAILD_CIPHERS_DEFAULT;
	return s;
}

/*
 * Every keyword of the grammar and every setting with its description,
 * one a line ("KIND<tab>WORDS[<tab>DESCRIPTION]"): "maild -K", which
 * the manual page test (tests/integration/44-manpages.t) reads.
 */
void
config_keywords(FILE *fp)
{
	cf_grammar_keywords(fp);
	cf_settings_keywords(fp);
}
