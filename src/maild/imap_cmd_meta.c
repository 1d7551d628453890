/*
 * IMAP METADATA and METADATA-SERVER (RFC 5464): GETMETADATA (with the
 * MAXSIZE and DEPTH options) and SETMETADATA, on the entries of a
 * mailbox (mailbox name) or of the server (""), stored by metadata.c.
 *
 * What is kept where:
 * - a mailbox's /private and /shared entries, in its directory: maild
 *   has no shared mailboxes, so both trees belong to the one user who
 *   owns the mailbox, and both are kept (nobody else can see them);
 * - the user's /private server entries, in the user's root directory;
 * - the /shared server entries are the server's, the same for every
 *   user and read-only: /shared/admin is mail.conf's "imap
 *   metadata-admin"; setting one is refused with NO [NOPERM].
 * Private entries are always supported ([METADATA NOPRIVATE] is never
 * sent).  No unsolicited METADATA responses are sent.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_session.h"
#include "metadata.h"
#include "safepath.h"

#define GETMD_ENTRIES_MAX	100	/* entries one GETMETADATA asks for */
#define DEPTH_INFINITY		2

/* Where the entries of a GETMETADATA or SETMETADATA live. */
struct mdplace {
	int		 server;		/* mailbox "" */
	char		 name[MAILBOX_NAME_MAX + 1];	/* canonical */
	char		 dir[PATH_MAX];		/* holding the file */
	const char	*file;
};

/* One GETMETADATA's answer: what is sent, the entries sent already. */
struct mdout {
	struct mbuf	 b;
	int		 started;
	uint32_t	 maxsize;
	size_t		 longest;		/* omitted for MAXSIZE */
	uint8_t		*sent[2];		/* per set, per entry */
};

static int	 md_place(struct imap_session *, const struct imap_arg *,
		    struct mdplace *);
static int	 md_entry_arg(struct imap_session *, const struct imap_arg *,
		    char *);
static int	 md_options(struct imap_session *, const struct imap_arg *,
		    uint32_t *, int *);
static void	 md_server_shared(struct metadata *);
static void	 md_put_value(struct mbuf *, const char *, size_t);
static void	 md_put(struct mdout *, const struct mdplace *, const char *,
		    const char *, size_t);
static void	 md_send(struct mdout *, const struct mdplace *, int,
		    const struct metadata *, size_t);

/*
 * The mailbox argument: "" is the server, else an existing mailbox.
 * On error the tagged answer has been sent: -1.
 */
static int
md_place(struct imap_session *s, const struct imap_arg *a,
    struct mdplace *pl)
{
	struct stat	 st;
	const char	*str;
	char		 cur[PATH_MAX];
	size_t		 len;

	memset(pl, 0, sizeof(*pl));
	if (a == NULL || a->type == IMAP_ARG_LIST ||
	    imap_arg_astring(a, &str, &len) == -1) {
		imap_tagged(s, "BAD", "Invalid mailbox name");
		return -1;
	}
	if (len == 0) {
		pl->server = 1;
		(void)strlcpy(pl->dir, s->home, sizeof(pl->dir));
		pl->file = METADATA_SERVER_FILE;
		return 0;
	}
	if (imap_mailbox_arg(s, a, pl->name, sizeof(pl->name), pl->dir,
	    sizeof(pl->dir)) == -1)
		return -1;
	pl->file = METADATA_FILE;
	/* A Maildir, reached without a symbolic link (else ELOOP). */
	if ((size_t)snprintf(cur, sizeof(cur), "%s/cur", pl->dir) >=
	    sizeof(cur))
		errno = ENOENT;
	else if (safe_lstat(cur, &st) == 0)
		errno = S_ISDIR(st.st_mode) ? 0 : ENOENT;
	if (errno != 0) {
		imap_mbox_refused(s, "[NONEXISTENT] No such mailbox");
		return -1;
	}
	return 0;
}

/* An entry name argument into out (checked, lower case): 0 or -1. */
static int
md_entry_arg(struct imap_session *s, const struct imap_arg *a, char *out)
{
	const char	*str, *why = NULL;
	size_t		 len;

	if (a->type == IMAP_ARG_LIST || a->type == IMAP_ARG_NIL ||
	    imap_arg_astring(a, &str, &len) == -1) {
		imap_tagged(s, "BAD", "Entry name is not a string");
		return -1;
	}
	if (memchr(str, '\0', len) != NULL ||
	    metadata_name(str, len, out, &why) == -1) {
		imap_tagged(s, "BAD", "%s", why != NULL ? why :
		    "Invalid entry name");
		return -1;
	}
	return 0;
}

/* "(MAXSIZE n DEPTH 0|1|infinity)", RFC 5464 4.2: 0, or -1 (BAD sent). */
static int
md_options(struct imap_session *s, const struct imap_arg *a,
    uint32_t *maxsize, int *depth)
{
	const struct imap_arg	*o, *v;
	unsigned long long	 n;
	char			*end;

	if (a->list == NULL) {
		imap_tagged(s, "BAD", "Empty GETMETADATA options");
		return -1;
	}
	for (o = a->list; o != NULL; o = v->next) {
		if (o->type != IMAP_ARG_ATOM || (v = o->next) == NULL ||
		    v->type != IMAP_ARG_ATOM) {
			imap_tagged(s, "BAD", "Bad GETMETADATA options");
			return -1;
		}
		if (strcasecmp(o->str, "MAXSIZE") == 0) {
			errno = 0;
			n = strtoull(v->str, &end, 10);
			if (v->str[0] < '0' || v->str[0] > '9' ||
			    *end != '\0' || errno != 0 || n > UINT32_MAX) {
				imap_tagged(s, "BAD", "Bad MAXSIZE value");
				return -1;
			}
			*maxsize = (uint32_t)n;
		} else if (strcasecmp(o->str, "DEPTH") == 0) {
			if (strcmp(v->str, "0") == 0)
				*depth = 0;
			else if (strcmp(v->str, "1") == 0)
				*depth = 1;
			else if (strcasecmp(v->str, "infinity") == 0)
				*depth = DEPTH_INFINITY;
			else {
				imap_tagged(s, "BAD", "Bad DEPTH value");
				return -1;
			}
		} else {
			imap_tagged(s, "BAD", "Unknown GETMETADATA option");
			return -1;
		}
	}
	return 0;
}

/* The server's own /shared entries, the same for every user. */
static void
md_server_shared(struct metadata *md)
{
	memset(md, 0, sizeof(*md));
	if (conf->imap_metadata_admin[0] != '\0')
		(void)metadata_set(md, "/shared/admin",
		    conf->imap_metadata_admin,
		    strlen(conf->imap_metadata_admin));
}

/*
 * A value: NIL, a quoted string or literal, a literal8 if it holds a
 * NUL (RFC 5464 5: value = nstring / literal8).
 */
static void
md_put_value(struct mbuf *b, const char *v, size_t len)
{
	char	*buf, c;
	size_t	 n;

	if (v == NULL) {
		mbuf_add(b, "NIL", 3);
		return;
	}
	if (memchr(v, '\0', len) != NULL) {
		mbuf_printf(b, "~{%zu}\r\n", len);
		mbuf_add(b, v, len);
		return;
	}
	n = imap_encode_string(&c, 1, v, len, 0);
	if ((buf = malloc(n + 1)) == NULL)
		fatal("malloc");
	(void)imap_encode_string(buf, n + 1, v, len, 0);
	mbuf_add(b, buf, n);
	free(buf);
}

/* One "entry value" pair of the METADATA response. */
static void
md_put(struct mdout *o, const struct mdplace *pl, const char *name,
    const char *value, size_t len)
{
	char	 ex[MAILBOX_WIRE_MAX + 1], enc[MAILBOX_WIRE_MAX + 64];
	char	 ename[METADATA_NAME_MAX * 2 + 64];

	if (!o->started) {
		enc[0] = '\0';
		if (pl->server)
			(void)strlcpy(enc, "\"\"", sizeof(enc));
		else if (mailbox_name_export(pl->name, 0, ex,
		    sizeof(ex)) == -1 || imap_encode_string(enc, sizeof(enc),
		    ex, strlen(ex), 0) >= sizeof(enc))
			(void)strlcpy(enc, "\"\"", sizeof(enc));
		mbuf_printf(&o->b, "* METADATA %s (", enc);
		o->started = 1;
	} else
		mbuf_add(&o->b, " ", 1);
	/* An atom when it can be one, as the RFC's examples show them. */
	if (strpbrk(name, " (){%*\"\\]") == NULL)
		mbuf_printf(&o->b, "%s ", name);
	else {
		(void)imap_encode_string(ename, sizeof(ename), name,
		    strlen(name), 0);
		mbuf_printf(&o->b, "%s ", ename);
	}
	md_put_value(&o->b, value, len);
}

/* Entry k of set md, unless sent already or over MAXSIZE. */
static void
md_send(struct mdout *o, const struct mdplace *pl, int set,
    const struct metadata *md, size_t k)
{
	const struct metadata_entry	*e = &md->ent[k];

	if (o->sent[set][k])
		return;
	o->sent[set][k] = 1;
	if (e->len > o->maxsize) {
		if (e->len > o->longest)
			o->longest = e->len;
		return;
	}
	md_put(o, pl, e->name, e->value, e->len);
}

void
imap_cmd_getmetadata(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg		*a = cmd->args, *ents, *e;
	const struct metadata_entry	*me;
	struct metadata			 md[2];
	struct mdplace			 pl;
	struct mdout			 o;
	char				(*names)[METADATA_NAME_MAX + 1];
	size_t				 n = 0, i, j, pos;
	int				 depth = 0, set, found;

	memset(&o, 0, sizeof(o));
	o.maxsize = UINT32_MAX;
	if (a != NULL && a->type == IMAP_ARG_LIST) {
		if (md_options(s, a, &o.maxsize, &depth) == -1)
			return;
		a = a->next;
	}
	if (a == NULL || a->next == NULL || a->next->next != NULL) {
		imap_tagged(s, "BAD",
		    "GETMETADATA takes a mailbox and entry names");
		return;
	}
	ents = a->next;
	if (ents->type == IMAP_ARG_LIST &&
	    (ents->nlist == 0 || ents->nlist > GETMD_ENTRIES_MAX)) {
		imap_tagged(s, "BAD", ents->nlist == 0 ? "No entry names" :
		    "Too many entry names");
		return;
	}
	if ((names = calloc(GETMD_ENTRIES_MAX, sizeof(*names))) == NULL)
		fatal("calloc");
	e = ents->type == IMAP_ARG_LIST ? ents->list : ents;
	for (; e != NULL; e = ents->type == IMAP_ARG_LIST ? e->next : NULL)
		if (md_entry_arg(s, e, names[n++]) == -1)
			goto done;
	if (md_place(s, a, &pl) == -1)
		goto done;
	if (metadata_load(pl.dir, pl.file, &md[0]) == -1) {
		log_warn("imap %llu: %s/%s", (unsigned long long)s->id,
		    pl.dir, pl.file);
		imap_tagged(s, "NO", "[SERVERBUG] Cannot read metadata");
		goto done;
	}
	if (pl.server)
		md_server_shared(&md[1]);
	else
		memset(&md[1], 0, sizeof(md[1]));
	for (set = 0; set < 2; set++)
		if ((o.sent[set] = calloc(md[set].n + 1, 1)) == NULL)
			fatal("calloc");
	for (i = 0; i < n; i++) {
		for (j = 0; j < i && strcmp(names[j], names[i]) != 0; j++)
			;
		if (j < i)
			continue;	/* asked twice */
		found = 0;
		for (set = 0; set < 2; set++)
			if ((me = metadata_get(&md[set], names[i])) != NULL) {
				md_send(&o, &pl, set, &md[set],
				    me - md[set].ent);
				found = 1;
			}
		/* RFC 5464 4.2: an entry asked for without DEPTH is NIL. */
		if (!found && depth == 0)
			md_put(&o, &pl, names[i], NULL, 0);
		for (set = 0; depth > 0 && set < 2; set++)
			for (pos = 0; (me = metadata_next_below(&md[set],
			    names[i], depth, &pos)) != NULL; )
				md_send(&o, &pl, set, &md[set],
				    me - md[set].ent);
	}
	if (o.started) {
		mbuf_add(&o.b, ")\r\n", 3);
		io_write(s->io, o.b.data, o.b.len);
	}
	if (o.longest > 0)
		imap_tagged(s, "OK", "[METADATA LONGENTRIES %zu] Getmetadata "
		    "completed", o.longest);
	else
		imap_tagged(s, "OK", "Getmetadata completed");
	mbuf_free(&o.b);
	free(o.sent[0]);
	free(o.sent[1]);
	metadata_free(&md[0]);
	metadata_free(&md[1]);
 done:
	free(names);
}

void
imap_cmd_setmetadata(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg	*a = cmd->args, *e, *v;
	struct metadata		 md;
	struct mdplace		 pl;
	char			(*names)[METADATA_NAME_MAX + 1];
	size_t			 n = 0, i;
	int			 r = 0;

	if (cmd->nargs != 2 || a->next->type != IMAP_ARG_LIST ||
	    a->next->nlist == 0 || a->next->nlist % 2 != 0) {
		imap_tagged(s, "BAD",
		    "SETMETADATA takes a mailbox and entry-value pairs");
		return;
	}
	/* More than removing every entry and setting as many: bounded. */
	if (a->next->nlist / 2 > 2 * METADATA_ENTRIES_MAX) {
		imap_tagged(s, "NO", "[METADATA TOOMANY] Too many entries");
		return;
	}
	if ((names = calloc(a->next->nlist / 2, sizeof(*names))) == NULL)
		fatal("calloc");
	for (e = a->next->list; e != NULL; e = v->next) {
		v = e->next;
		if (md_entry_arg(s, e, names[n]) == -1)
			goto done;
		if (metadata_is_root(names[n])) {
			imap_tagged(s, "BAD", "%s itself has no value",
			    names[n]);
			goto done;
		}
		if (v->type != IMAP_ARG_QUOTED && v->type != IMAP_ARG_LITERAL &&
		    v->type != IMAP_ARG_NIL) {
			imap_tagged(s, "BAD", "Entry value must be a string "
			    "or NIL");
			goto done;
		}
		n++;
	}
	if (md_place(s, a, &pl) == -1)
		goto done;
	for (i = 0; pl.server && i < n; i++)
		if (metadata_is_shared(names[i])) {
			imap_tagged(s, "NO", "[NOPERM] Shared server entries "
			    "are read-only");
			goto done;
		}
	if (metadata_load(pl.dir, pl.file, &md) == -1) {
		log_warn("imap %llu: %s/%s", (unsigned long long)s->id,
		    pl.dir, pl.file);
		imap_tagged(s, "NO", "[SERVERBUG] Cannot read metadata");
		goto done;
	}
	/* All or nothing: the file is written once, after every check. */
	for (e = a->next->list, i = 0; e != NULL && r == 0; e = v->next) {
		v = e->next;
		r = metadata_set(&md, names[i++], v->type == IMAP_ARG_NIL ?
		    NULL : v->str, v->len);
	}
	if (r == METADATA_TOOBIG)
		imap_tagged(s, "NO", "[METADATA MAXSIZE %d] Value too large",
		    METADATA_VALUE_MAX);
	else if (r == METADATA_TOOMANY)
		imap_tagged(s, "NO", "[METADATA TOOMANY] Too many entries");
	else if (metadata_save(pl.dir, pl.file, &md) == -1) {
		if (errno == ENOSPC || errno == EDQUOT)
			imap_tagged(s, "NO", "[OVERQUOTA] No space left");
		else {
			log_warn("imap %llu: %s/%s", (unsigned long long)s->id,
			    pl.dir, pl.file);
			imap_tagged(s, "NO", "[SERVERBUG] Cannot write "
			    "metadata");
		}
	} else
		imap_tagged(s, "OK", "Setmetadata completed");
	metadata_free(&md);
 done:
	free(names);
}
