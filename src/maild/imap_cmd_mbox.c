/*
 * IMAP commands on mailboxes: SELECT and EXAMINE (with CONDSTORE and
 * QRESYNC), CLOSE and UNSELECT, CREATE, DELETE, RENAME, SUBSCRIBE and
 * UNSUBSCRIBE (one canonical name a line in maild-subscriptions), LIST
 * and LSUB (LIST-EXTENDED, LIST-STATUS, SPECIAL-USE), STATUS (APPEND
 * is imap_cmd_append.c's).  SELECT, CREATE and STATUS report the
 * MAILBOXID of OBJECTID.  Mailbox names become Maildir++ directories
 * under the user's home through mailbox.c; the mailboxes themselves are
 * imap_mbox.c's.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imap_session.h"
#include "proc.h"
#include "quota.h"
#include "safepath.h"
#include "util.h"

static void	s_qresync(struct imap_session *, const struct imap_arg *);
static int	s_name_out(const char *, char *, size_t);
static int	s_path_busy(const char *, const struct imap_session *);
static void	s_rename_inbox(struct imap_session *, const char *);
static char	*subs_read(struct imap_session *, size_t *);
static int	subs_has(const char *, size_t, const char *);
static int	status_items(const struct imap_arg *, int *);
static int	s_status(struct imap_session *, const char *, const char *,
		    int);
static int	list_option(const char *, int, int *);
static int	list_match(const struct imap_arg *, const char *,
		    const char *);
static void	s_list_dirs(struct imap_session *, struct mailbox_list *);

/* -- mailboxes -- */

/*
 * The client's mailbox argument: its canonical name (may be NULL) and
 * the path of its Maildir.  On error the tagged answer has been sent.
 */
int
imap_mailbox_arg(struct imap_session *s, const struct imap_arg *a, char *name,
    size_t namesz, char *path, size_t pathsz)
{
	const char	*str, *err = "Invalid mailbox name";
	char		 canon[MAILBOX_NAME_MAX + 1], dir[MAILBOX_DIR_MAX + 1];
	int		 r;

	if (a == NULL || imap_arg_mailbox(a, 0, &str) == -1) {
		imap_tagged(s, "BAD", "Invalid mailbox name");
		return -1;
	}
	if (mailbox_name_canon(str, 0, canon, sizeof(canon), &err) == -1 ||
	    mailbox_name_to_dir(str, 0, dir, sizeof(dir), &err) == -1) {
		imap_tagged(s, "NO", "[CANNOT] %s", err);
		return -1;
	}
	if (name != NULL && strlcpy(name, canon, namesz) >= namesz) {
		imap_tagged(s, "NO", "[CANNOT] Mailbox name too long");
		return -1;
	}
	if (strcmp(dir, ".") == 0)
		r = snprintf(path, pathsz, "%s", s->home);
	else
		r = snprintf(path, pathsz, "%s/%s", s->home, dir);
	if (r < 0 || (size_t)r >= pathsz) {
		imap_tagged(s, "NO", "[CANNOT] Mailbox name too long");
		return -1;
	}
	return 0;
}

/*
 * NO for a mailbox mbox_open() refused, by its errno: missing (the
 * text given), a symbolic link in its path (never followed), or else.
 */
void
imap_mbox_refused(struct imap_session *s, const char *missing)
{
	if (errno == ENOENT)
		imap_tagged(s, "NO", "%s", missing);
	else if (errno == ELOOP)
		imap_tagged(s, "NO", "[NOPERM] Mailbox refused: symbolic link "
		    "in its path");
	else
		imap_tagged(s, "NO", "[SERVERBUG] Cannot open mailbox");
}

/* SELECT (QRESYNC (uidvalidity modseq [known-uids])): what changed. */
static void
s_qresync(struct imap_session *s, const struct imap_arg *q)
{
	const struct imap_arg	*a = q->list;
	const struct mbox_msg	*m;
	struct imap_seqset	 known;
	const char		*err;
	unsigned long long	 uv, ms;
	char			*end;
	size_t			 i;
	long			 idx;
	int			 have_known = 0;

	errno = 0;
	uv = strtoull(a->str, &end, 10);
	if (*end != '\0' || errno != 0 || uv != mbox_uidvalidity(s->mb))
		return;		/* the client must resync from scratch */
	ms = strtoull(a->next->str, &end, 10);
	if (*end != '\0' || errno != 0)
		return;
	if (a->next->next != NULL && a->next->next->type == IMAP_ARG_ATOM &&
	    imap_seqset_parse(a->next->next->str, UINT32_MAX, &known,
	    &err) == 0)
		have_known = 1;
	imap_vanished_earlier(s, ms, have_known ? &known : NULL);
	if (have_known)
		imap_seqset_free(&known);
	for (i = 0; i < s->nview; i++) {
		if ((idx = mbox_find(s->mb, s->view[i])) < 0)
			continue;
		m = mbox_msg(s->mb, idx);
		if (m->modseq > ms)
			imap_flags_line(s, i + 1, m, 1);
	}
}

void
imap_cmd_select(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg	*opt = NULL, *q = NULL, *a;
	struct mbox		*mb;
	char			 name[MAILBOX_NAME_MAX + 1], path[PATH_MAX];
	char			 flags[MFLAGS_KW_MAX *
				    (MFLAGS_KW_NAME_MAX + 1) + 64];
	uint32_t		 i, n;
	long			 first;
	int			 examine = strcmp(cmd->name, "EXAMINE") == 0;

	if (cmd->nargs < 1 || cmd->nargs > 2) {
		imap_tagged(s, "BAD", "%s takes a mailbox name", cmd->name);
		return;
	}
	if (cmd->nargs == 2) {
		if ((opt = cmd->args->next)->type != IMAP_ARG_LIST) {
			imap_tagged(s, "BAD", "Bad select parameters");
			return;
		}
		for (a = opt->list; a != NULL; a = a->next) {
			if (a->type == IMAP_ARG_ATOM &&
			    strcasecmp(a->str, "CONDSTORE") == 0)
				continue;
			if (a->type == IMAP_ARG_ATOM &&
			    strcasecmp(a->str, "QRESYNC") == 0 &&
			    a->next != NULL && a->next->type == IMAP_ARG_LIST &&
			    a->next->nlist >= 2 &&
			    a->next->list->type == IMAP_ARG_ATOM &&
			    a->next->list->next->type == IMAP_ARG_ATOM) {
				if (!(s->enabled & EN_QRESYNC)) {
					imap_tagged(s, "BAD", "Enable QRESYNC "
					    "first");
					return;
				}
				q = a = a->next;
				continue;
			}
			imap_tagged(s, "BAD", "Bad select parameters");
			return;
		}
	}
	/* The previous mailbox is closed even if this SELECT fails. */
	if (s->mb != NULL) {
		imap_unselect(s);
		if (s->enabled & EN_QRESYNC)
			imap_printf(s,
			    "* OK [CLOSED] Previous mailbox closed\r\n");
	}
	if (imap_mailbox_arg(s, cmd->args, name, sizeof(name), path,
	    sizeof(path)) == -1)
		return;
	if ((mb = mbox_open(path, 0)) == NULL) {
		imap_mbox_refused(s, "[NONEXISTENT] No such mailbox");
		return;
	}
	if (opt != NULL)
		s->enabled |= EN_CONDSTORE;	/* CONDSTORE enabling SELECT */
	s->mb = mb;
	s->readonly = examine;
	strlcpy(s->mbname, name, sizeof(s->mbname));
	s->state = S_SELECTED;
	imap_notify_select(s);
	n = mbox_count(mb);
	for (i = 0; i < n; i++)
		imap_view_add(s, mbox_msg(mb, i)->uid);
	s->seen_modseq = mbox_highestmodseq(mb);

	imap_flag_list(s, flags, sizeof(flags), 0);
	imap_printf(s, "* FLAGS %s\r\n", flags);
	s->kwseen = imap_keyword_set(mb);
	imap_flag_list(s, flags, sizeof(flags), 1);
	imap_printf(s, "* OK [PERMANENTFLAGS %s] Flags permitted\r\n",
	    examine ? "()" : flags);
	imap_printf(s, "* %u EXISTS\r\n", n);
	imap_recent_select(s);
	if (!(s->enabled & EN_REV2)) {
		if ((first = mbox_first_unseen(mb)) >= 0)
			imap_printf(s, "* OK [UNSEEN %ld] First unseen\r\n",
			    first + 1);
	}
	imap_printf(s, "* OK [UIDVALIDITY %u] UIDs valid\r\n",
	    mbox_uidvalidity(mb));
	imap_printf(s, "* OK [UIDNEXT %u] Predicted next UID\r\n",
	    mbox_uidnext(mb));
	imap_printf(s, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
	    (unsigned long long)mbox_highestmodseq(mb));
	imap_printf(s, "* OK [MAILBOXID (%s)] Ok\r\n", mbox_mailboxid(mb));
	if (s->enabled & EN_REV2) {
		char	 ex[MAILBOX_WIRE_MAX + 1], enc[MAILBOX_WIRE_MAX + 64];

		if (mailbox_name_export(name, 0, ex, sizeof(ex)) == 0 &&
		    imap_encode_string(enc, sizeof(enc), ex, strlen(ex), 0) <
		    sizeof(enc))
			imap_printf(s, "* LIST () \"/\" %s\r\n", enc);
	}
	if (q != NULL)
		s_qresync(s, q);
	imap_tagged(s, "OK", "[%s] %s completed", examine ? "READ-ONLY" :
	    "READ-WRITE", cmd->name);
}

void
imap_cmd_close(struct imap_session *s, const struct imap_command *cmd)
{
	const struct mbox_msg	*m;
	struct quota_txn	 q;
	uint64_t		 size;
	int64_t			 freed = 0, n = 0;
	uint32_t		 i;
	int			 qon;

	if (cmd->nargs != 0) {
		imap_tagged(s, "BAD", "%s takes no arguments", cmd->name);
		return;
	}
	/* CLOSE expunges silently; UNSELECT does not. */
	if (strcmp(cmd->name, "CLOSE") == 0 && !s->readonly) {
		qon = imap_quota_open(s, &q);
		for (i = mbox_count(s->mb); i > 0; i--) {
			m = mbox_msg(s->mb, i - 1);
			if (!(m->sys & MFLAG_DELETED) ||
			    imap_view_seq(s, m->uid) == 0)
				continue;
			if (mbox_quota_size(s->mb, i - 1, &size) == -1)
				size = 0;
			if (mbox_expunge(s->mb, i - 1) == 0) {
				freed += (int64_t)size;
				n++;
			}
		}
		imap_quota_done(s, &q, qon, -freed, -n);
		imap_mbox_changed(s->mb, s);
	}
	imap_unselect(s);
	imap_tagged(s, "OK", "%s completed", cmd->name);
}

/* A mailbox name as the client reads it: quoted or a literal. */
static int
s_name_out(const char *name, char *out, size_t outsz)
{
	char	 ex[MAILBOX_WIRE_MAX + 1];

	if (mailbox_name_export(name, 0, ex, sizeof(ex)) == -1)
		return -1;
	if (imap_encode_string(out, outsz, ex, strlen(ex), 0) >= outsz)
		return -1;
	return 0;
}

/* Is a mailbox directory (or one below it) selected by a session? */
static int
s_path_busy(const char *path, const struct imap_session *except)
{
	struct imap_session	*s;
	size_t			 len = strlen(path);
	const char		*d;

	TAILQ_FOREACH(s, &imap_sessions, all) {
		if (s == except || s->mb == NULL)
			continue;
		d = mbox_dir(s->mb);
		if (strncmp(d, path, len) == 0 &&
		    (d[len] == '\0' || d[len] == '.'))
			return 1;
	}
	return 0;
}

void
imap_cmd_create(struct imap_session *s, const struct imap_command *cmd)
{
	struct mbox	*mb;
	struct imap_arg	 a;
	const char	*str;
	char		 name[MAILBOX_WIRE_MAX + 1], path[PATH_MAX];
	size_t		 len;

	if (cmd->nargs < 1 || cmd->nargs > 2 ||
	    imap_arg_mailbox(cmd->args, 0, &str) == -1) {
		imap_tagged(s, "BAD", "CREATE takes a mailbox name");
		return;
	}
	/* "foo/" announces a parent: Maildir++ needs no directory for it. */
	if (strlcpy(name, str, sizeof(name)) >= sizeof(name)) {
		imap_tagged(s, "NO", "[CANNOT] Mailbox name too long");
		return;
	}
	len = strlen(name);
	if (len > 1 && name[len - 1] == MAILBOX_SEP)
		name[--len] = '\0';
	a = *cmd->args;
	a.type = IMAP_ARG_QUOTED;
	a.str = name;
	a.len = len;
	a.next = NULL;
	if (imap_mailbox_arg(s, &a, NULL, 0, path, sizeof(path)) == -1)
		return;
	if (strcmp(path, s->home) == 0) {
		imap_tagged(s, "NO", "[ALREADYEXISTS] INBOX always exists");
		return;
	}
	if (mbox_create(path) == -1) {
		if (errno == EEXIST)
			imap_tagged(s, "NO", "[ALREADYEXISTS] Mailbox exists");
		else if (errno == ENOSPC || errno == EDQUOT)
			imap_tagged(s, "NO", "[OVERQUOTA] No space left");
		else
			imap_tagged(s, "NO",
			    "[SERVERBUG] Cannot create mailbox");
		return;
	}
	imap_notify_mailbox(s, NULL, path);
	/* Its UID list, made now, names it (RFC 8474 4.1). */
	if ((mb = mbox_open(path, 0)) == NULL) {
		imap_tagged(s, "OK", "Create completed");
		return;
	}
	imap_tagged(s, "OK", "[MAILBOXID (%s)] Create completed",
	    mbox_mailboxid(mb));
	mbox_close(mb);
}

void
imap_cmd_delete(struct imap_session *s, const struct imap_command *cmd)
{
	struct quota_txn q;
	struct mbox	*mb;
	char		 path[PATH_MAX];
	uint64_t	 size;
	int64_t		 freed = 0, n = 0;
	uint32_t	 i;
	int		 qon;

	if (cmd->nargs != 1) {
		imap_tagged(s, "BAD", "DELETE takes a mailbox name");
		return;
	}
	if (imap_mailbox_arg(s, cmd->args, NULL, 0, path, sizeof(path)) == -1)
		return;
	if (strcmp(path, s->home) == 0) {
		imap_tagged(s, "NO", "[CANNOT] INBOX cannot be deleted");
		return;
	}
	if (s->mb != NULL && strcmp(mbox_dir(s->mb), path) == 0)
		imap_unselect(s);
	/* Sessions that have it selected are told at their next command. */
	if ((mb = mbox_open(path, 0)) == NULL) {
		imap_mbox_refused(s, "[NONEXISTENT] No such mailbox");
		return;
	}
	/* Its messages leave the quota: counted as they are now. */
	qon = imap_quota_open(s, &q);
	(void)mbox_sync(mb);
	for (i = 0; qon == 1 && i < mbox_count(mb); i++)
		if (mbox_quota_size(mb, i, &size) == 0) {
			freed += (int64_t)size;
			n++;
		}
	mbox_set_gone(mb);
	mbox_close(mb);
	if (mbox_remove(path) == -1) {
		imap_quota_done(s, &q, qon, 0, 0);
		log_warn("imap %llu: delete %s", (unsigned long long)s->id,
		    path);
		imap_tagged(s, "NO", "[SERVERBUG] Cannot delete mailbox");
		return;
	}
	imap_quota_done(s, &q, qon, -freed, -n);
	imap_notify_mailbox(s, path, NULL);
	imap_tagged(s, "OK", "Delete completed");
}

/* RENAME INBOX: its messages move to a new folder, INBOX stays. */
static void
s_rename_inbox(struct imap_session *s, const char *to)
{
	struct quota_txn q;
	struct mbox	*src, *dst;
	uint64_t	 size;
	int64_t		 added = 0, n = 0;
	uint32_t	 uid;
	int		 saved, qon;

	if (mbox_create(to) == -1) {
		if (errno == EEXIST)
			imap_tagged(s, "NO", "[ALREADYEXISTS] Mailbox exists");
		else
			imap_mbox_refused(s,
			    "[SERVERBUG] Cannot create mailbox");
		return;
	}
	if ((src = mbox_open(s->home, 0)) == NULL ||
	    (dst = mbox_open(to, 0)) == NULL) {
		saved = errno;
		if (src != NULL)
			mbox_close(src);
		errno = saved;
		imap_mbox_refused(s, "[SERVERBUG] Cannot open mailbox");
		return;
	}
	/* Each moves: counted only when the copy stays behind. */
	qon = imap_quota_open(s, &q);
	while (mbox_count(src) > 0) {
		if (mbox_quota_size(src, 0, &size) == -1 ||
		    mbox_copy(src, 0, dst, &uid) == -1)
			break;
		if (mbox_expunge(src, 0) == -1) {
			added += (int64_t)size;
			n++;
			break;
		}
	}
	imap_quota_done(s, &q, qon, added, n);
	(void)mbox_commit(dst);
	(void)mbox_commit(src);
	imap_mbox_changed(src, s);
	mbox_close(dst);
	mbox_close(src);
	if (s->mb != NULL)
		imap_update(s, 1);
	imap_notify_mailbox(s, NULL, to);
	imap_tagged(s, "OK", "Rename completed");
}

void
imap_cmd_rename(struct imap_session *s, const struct imap_command *cmd)
{
	struct stat	 st;
	struct dirent	*de;
	struct mbox	*mb;
	DIR		*d;
	char		 from[PATH_MAX], to[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
	const char	*fdir, *tdir;
	size_t		 flen, hlen = strlen(s->home), i, n = 0;
	char		**names = NULL;
	int		 pass, r, failed = 0;

	if (cmd->nargs != 2) {
		imap_tagged(s, "BAD", "RENAME takes two mailbox names");
		return;
	}
	if (imap_mailbox_arg(s, cmd->args, NULL, 0, from, sizeof(from)) == -1 ||
	    imap_mailbox_arg(s, cmd->args->next, NULL, 0, to, sizeof(to)) == -1)
		return;
	if (strcmp(to, s->home) == 0) {
		imap_tagged(s, "NO", "[ALREADYEXISTS] INBOX exists");
		return;
	}
	if (strcmp(from, s->home) == 0) {
		s_rename_inbox(s, to);
		return;
	}
	if ((r = safe_lstat(from, &st)) == 0 && S_ISLNK(st.st_mode)) {
		errno = ELOOP;
		r = -1;
	}
	if (r == -1 || !S_ISDIR(st.st_mode)) {
		if (r == -1 && errno == ELOOP)
			imap_mbox_refused(s, "");
		else
			imap_tagged(s, "NO", "[NONEXISTENT] No such mailbox");
		return;
	}
	if (s_path_busy(from, NULL)) {
		imap_tagged(s, "NO", "[INUSE] Mailbox is selected");
		return;
	}
	fdir = from + hlen + 1;		/* ".A" */
	tdir = to + hlen + 1;
	flen = strlen(fdir);
	/* A folder may not become its own child. */
	if (strncmp(tdir, fdir, flen) == 0 && tdir[flen] == '.') {
		imap_tagged(s, "NO",
		    "[CANNOT] Cannot move a mailbox into itself");
		return;
	}
	if ((d = safe_opendir(s->home)) == NULL) {
		imap_tagged(s, "NO", "[SERVERBUG] Cannot read mailboxes");
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, fdir, flen) != 0 ||
		    (de->d_name[flen] != '\0' && de->d_name[flen] != '.'))
			continue;
		if ((names = reallocarray(names, n + 1, sizeof(*names))) ==
		    NULL || (names[n] = strdup(de->d_name)) == NULL)
			fatal("strdup");
		n++;
	}
	closedir(d);
	/* Check every target first, then rename: all or (almost) none. */
	for (pass = 0; pass < 2 && !failed; pass++)
		for (i = 0; i < n && !failed; i++) {
			if (snprintf(a, sizeof(a), "%s/%s", s->home,
			    names[i]) >= (int)sizeof(a) ||
			    snprintf(b, sizeof(b), "%s/%s%s", s->home, tdir,
			    names[i] + flen) >= (int)sizeof(b) ||
			    strlen(b) - hlen - 1 > MAILBOX_DIR_MAX) {
				imap_tagged(s, "NO", "[CANNOT] Name too long");
				failed = 1;
			} else if (pass == 0 && (safe_lstat(b, &st) == 0 ||
			    errno != ENOENT)) {
				imap_tagged(s, "NO", "[ALREADYEXISTS] Mailbox "
				    "exists");
				failed = 1;
			} else if (pass == 1) {
				/* Forget what was open under the old name. */
				if ((mb = mbox_open(a, 0)) != NULL) {
					mbox_set_gone(mb);
					mbox_close(mb);
				}
				if (safe_rename(a, b) == -1) {
					log_warn("imap: rename %s", a);
					imap_tagged(s, "NO", "[SERVERBUG] "
					    "Rename failed");
					failed = 1;
				} else
					(void)mbox_renew_uidvalidity(b);
			}
		}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (!failed) {
		imap_notify_mailbox(s, from, to);
		imap_tagged(s, "OK", "Rename completed");
	}
}

/* -- subscriptions: one canonical name a line in maild-subscriptions -- */

#define SUBS_FILE	"maild-subscriptions"
#define DOVECOT_SUBS_FILE "subscriptions"
#define SUBS_MAX	(1024 * 1024)

static char *
subs_read(struct imap_session *s, size_t *lenp)
{
	char	 path[PATH_MAX], *buf, *subs;
	size_t	 len;
	int	 fd;

	*lenp = 0;
	if (snprintf(path, sizeof(path), "%s/%s", s->home, SUBS_FILE) >=
	    (int)sizeof(path))
		return NULL;
	if ((fd = safe_open(path, O_RDONLY, 0)) != -1) {
		buf = read_fd(fd, SUBS_MAX, lenp);
		close(fd);
		return buf;
	}
	/*
	 * None yet: a Maildir Dovecot served has its own list, which is
	 * read (and written as ours at the first change), so clients keep
	 * showing the folders their user subscribed to.
	 */
	if (errno != ENOENT || snprintf(path, sizeof(path), "%s/%s", s->home,
	    DOVECOT_SUBS_FILE) >= (int)sizeof(path) ||
	    (fd = safe_open(path, O_RDONLY, 0)) == -1)
		return NULL;
	buf = read_fd(fd, SUBS_MAX, &len);
	close(fd);
	if (buf == NULL)
		return NULL;
	subs = mailbox_dovecot_subs(buf, len, lenp);
	free(buf);
	return subs;
}

/* 1 if name is a line of the subscriptions text. */
static int
subs_has(const char *buf, size_t len, const char *name)
{
	const char	*p = buf, *e, *end;
	size_t		 n = strlen(name), l;

	if (buf == NULL)
		return 0;
	end = buf + len;

	for (; p != NULL && p < end; p = e + 1) {
		if ((e = memchr(p, '\n', end - p)) == NULL)
			e = end;
		l = e - p;
		if (l == n && memcmp(p, name, n) == 0)
			return 1;
	}
	return 0;
}

int
imap_subs_change(struct imap_session *s, const char *name, int add)
{
	struct mbuf	 out;
	char		 path[PATH_MAX], tmp[PATH_MAX], *buf;
	const char	*p, *e, *end;
	size_t		 len, n = strlen(name);
	int		 fd, r = -1;

	buf = subs_read(s, &len);
	if ((subs_has(buf, len, name) != 0) == add) {
		free(buf);
		return 0;
	}
	memset(&out, 0, sizeof(out));
	mbuf_add(&out, "", 0);
	end = buf != NULL ? buf + len : NULL;
	for (p = buf; p != NULL && p < end; p = e + 1) {
		if ((e = memchr(p, '\n', end - p)) == NULL)
			e = end;
		if (e == p || ((size_t)(e - p) == n && memcmp(p, name, n) == 0))
			continue;
		mbuf_add(&out, p, e - p);
		mbuf_add(&out, "\n", 1);
	}
	if (add)
		mbuf_printf(&out, "%s\n", name);
	free(buf);
	if (snprintf(path, sizeof(path), "%s/%s", s->home, SUBS_FILE) >=
	    (int)sizeof(path) || snprintf(tmp, sizeof(tmp), "%s/tmp/%s.%llu",
	    s->home, SUBS_FILE, (unsigned long long)s->id) >= (int)sizeof(tmp))
		goto done;
	if ((fd = safe_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		goto done;
	if (write_full(fd, out.data, out.len) == -1 || fsync(fd) == -1) {
		close(fd);
		(void)safe_unlink(tmp);
		goto done;
	}
	close(fd);
	if (safe_rename(tmp, path) == -1)
		(void)safe_unlink(tmp);
	else
		r = 0;
done:
	mbuf_free(&out);
	return r;
}

char *
imap_subs_read(struct imap_session *s, size_t *lenp)
{
	return subs_read(s, lenp);
}

int
imap_subs_has(const char *buf, size_t len, const char *name)
{
	return subs_has(buf, len, name);
}

void
imap_cmd_subscribe(struct imap_session *s, const struct imap_command *cmd)
{
	char	 name[MAILBOX_NAME_MAX + 1], path[PATH_MAX];
	int	 add = strcmp(cmd->name, "SUBSCRIBE") == 0;

	if (cmd->nargs != 1) {
		imap_tagged(s, "BAD", "%s takes a mailbox name", cmd->name);
		return;
	}
	if (imap_mailbox_arg(s, cmd->args, name, sizeof(name), path,
	    sizeof(path)) == -1)
		return;
	if (imap_subs_change(s, name, add) == -1) {
		imap_tagged(s, "NO", "[SERVERBUG] Cannot write subscriptions");
		return;
	}
	imap_notify_subscription(s, name, add);
	imap_tagged(s, "OK", "%s completed", cmd->name);
}

/* -- LIST, LSUB, STATUS -- */

#define ST_MESSAGES	0x01
#define ST_UIDNEXT	0x02
#define ST_UIDVALIDITY	0x04
#define ST_UNSEEN	0x08
#define ST_RECENT	0x10
#define ST_HIGHESTMODSEQ 0x20
#define ST_SIZE		0x40
#define ST_DELETED	0x80
#define ST_DELSTORAGE	0x100	/* RFC 9208 4.2: KiB an EXPUNGE frees */
#define ST_MAILBOXID	0x200

static int
status_items(const struct imap_arg *a, int *items)
{
	static const struct {
		const char	*name;
		int		 bit;
	} tab[] = {
		{ "MESSAGES", ST_MESSAGES }, { "UIDNEXT", ST_UIDNEXT },
		{ "UIDVALIDITY", ST_UIDVALIDITY }, { "UNSEEN", ST_UNSEEN },
		{ "RECENT", ST_RECENT }, { "HIGHESTMODSEQ", ST_HIGHESTMODSEQ },
		{ "SIZE", ST_SIZE }, { "DELETED", ST_DELETED },
		{ "DELETED-STORAGE", ST_DELSTORAGE },
		{ "MAILBOXID", ST_MAILBOXID }
	};
	const struct imap_arg	*i;
	size_t			 k;

	*items = 0;
	if (a == NULL || a->type != IMAP_ARG_LIST || a->nlist == 0)
		return -1;
	for (i = a->list; i != NULL; i = i->next) {
		if (i->type != IMAP_ARG_ATOM)
			return -1;
		for (k = 0; k < nitems(tab); k++)
			if (strcasecmp(i->str, tab[k].name) == 0)
				break;
		if (k == nitems(tab))
			return -1;
		*items |= tab[k].bit;
	}
	return 0;
}

/*
 * STATUS RECENT: the messages nobody has had as \Recent, and those the
 * session itself has if the mailbox is its selected one.
 */
static uint32_t
s_status_recent(const struct imap_session *s, const struct mbox *mb)
{
	uint32_t	 i, n = mbox_count(mb), r = mbox_recent_uid(mb);

	for (i = n; i > 0 && mbox_msg(mb, i - 1)->uid >= r; i--)
		;
	return n - i + (mb == s->mb ? imap_recent_count(s) : 0);
}

/* "* STATUS name (...)"; -1 if the mailbox cannot be opened. */
static int
s_status(struct imap_session *s, const char *name, const char *path,
    int items)
{
	struct mbox	*mb;
	struct mbuf	 b;
	char		 enc[MAILBOX_WIRE_MAX + 64];
	uint64_t	 size, total = 0, delsize = 0;
	uint32_t	 i, n, del = 0;

	if (s_name_out(name, enc, sizeof(enc)) == -1) {
		errno = ENOENT;
		return -1;
	}
	if ((mb = mbox_open(path, 0)) == NULL)
		return -1;
	if (mb != s->mb && mbox_sync(mb) == 1)
		imap_mbox_changed(mb, s);
	n = mbox_count(mb);
	memset(&b, 0, sizeof(b));
	mbuf_printf(&b, "* STATUS %s (", enc);
	if (items & ST_MESSAGES)
		mbuf_printf(&b, "MESSAGES %u ", n);
	if (items & ST_RECENT)
		mbuf_printf(&b, "RECENT %u ", s_status_recent(s, mb));
	if (items & ST_UIDNEXT)
		mbuf_printf(&b, "UIDNEXT %u ", mbox_uidnext(mb));
	if (items & ST_UIDVALIDITY)
		mbuf_printf(&b, "UIDVALIDITY %u ", mbox_uidvalidity(mb));
	if (items & ST_UNSEEN)
		mbuf_printf(&b, "UNSEEN %u ", mbox_unseen(mb));
	if (items & ST_HIGHESTMODSEQ)
		mbuf_printf(&b, "HIGHESTMODSEQ %llu ",
		    (unsigned long long)mbox_highestmodseq(mb));
	if (items & (ST_SIZE | ST_DELETED | ST_DELSTORAGE))
		for (i = 0; i < n; i++) {
			if (mbox_msg(mb, i)->sys & MFLAG_DELETED) {
				del++;
				/* What the quota would get back. */
				if ((items & ST_DELSTORAGE) &&
				    mbox_quota_size(mb, i, &size) == 0)
					delsize += size;
			}
			if ((items & ST_SIZE) && mbox_size(mb, i, &size) == 0)
				total += size;
		}
	if (items & ST_SIZE)
		mbuf_printf(&b, "SIZE %llu ", (unsigned long long)total);
	if (items & ST_DELETED)
		mbuf_printf(&b, "DELETED %u ", del);
	if (items & ST_DELSTORAGE)
		mbuf_printf(&b, "DELETED-STORAGE %llu ",
		    (unsigned long long)((delsize + 1023) / 1024));
	if (items & ST_MAILBOXID)
		mbuf_printf(&b, "MAILBOXID (%s) ", mbox_mailboxid(mb));
	if (b.data[b.len - 1] == ' ')
		b.data[--b.len] = '\0';
	mbuf_add(&b, ")\r\n", 3);
	io_write(s->io, b.data, b.len);
	mbuf_free(&b);
	(void)mbox_commit(mb);
	mbox_close(mb);
	return 0;
}

void
imap_cmd_status(struct imap_session *s, const struct imap_command *cmd)
{
	char	 name[MAILBOX_NAME_MAX + 1], path[PATH_MAX];
	int	 items;

	if (cmd->nargs != 2 || status_items(cmd->args->next, &items) == -1) {
		imap_tagged(s, "BAD",
		    "STATUS takes a mailbox and a list of items");
		return;
	}
	if (imap_mailbox_arg(s, cmd->args, name, sizeof(name), path,
	    sizeof(path)) == -1)
		return;
	if (s_status(s, name, path, items) == -1) {
		imap_mbox_refused(s, "[NONEXISTENT] No such mailbox");
		return;
	}
	imap_tagged(s, "OK", "Status completed");
}

#define LS_SUBSCRIBED	0x01	/* selection */
#define LS_SPECIALUSE	0x02
#define LS_RECURSIVE	0x04
#define LR_SUBSCRIBED	0x10	/* return */
#define LR_CHILDREN	0x20
#define LR_SPECIALUSE	0x40
#define LR_STATUS	0x80

/* One LIST selection (sel) or return option: 0, or -1 unknown. */
static int
list_option(const char *name, int sel, int *opts)
{
	static const struct {
		const char	*name;
		int		 sel, bit;
	} tab[] = {
		{ "SUBSCRIBED", 1, LS_SUBSCRIBED },
		{ "SPECIAL-USE", 1, LS_SPECIALUSE },
		{ "RECURSIVEMATCH", 1, LS_RECURSIVE },
		{ "REMOTE", 1, 0 },
		{ "SUBSCRIBED", 0, LR_SUBSCRIBED },
		{ "CHILDREN", 0, LR_CHILDREN },
		{ "SPECIAL-USE", 0, LR_SPECIALUSE },
	};
	size_t	 k;

	for (k = 0; k < nitems(tab); k++)
		if (tab[k].sel == sel && strcasecmp(name, tab[k].name) == 0) {
			*opts |= tab[k].bit;
			return 0;
		}
	return -1;
}

/* Does the canonical name match ref + one of the patterns? */
static int
list_match(const struct imap_arg *pats, const char *ref, const char *name)
{
	const struct imap_arg	*p;
	const char		*pat;
	char			 full[MAILBOX_PATTERN_MAX * 2 + 1];
	char			 canon[MAILBOX_PATTERN_MAX * 2 + 1];

	p = pats->type == IMAP_ARG_LIST ? pats->list : pats;
	for (; p != NULL; p = pats->type == IMAP_ARG_LIST ? p->next : NULL)
		if (imap_arg_mailbox(p, 1, &pat) == 0 &&
		    snprintf(full, sizeof(full), "%s%s", ref, pat) <
		    (int)sizeof(full) &&
		    mailbox_pattern_canon(full, 0, canon, sizeof(canon)) == 0 &&
		    mailbox_match(name, canon))
			return 1;
	return 0;
}

/*
 * A subscribed mailbox below name that the patterns do not match: what
 * RECURSIVEMATCH reports as CHILDINFO (RFC 5258 3.5), and what makes
 * LSUB list an unsubscribed parent as \Noselect (RFC 3501 6.3.9).  A
 * child the answer lists itself needs no word from its parent.
 */
static int
subs_child_unlisted(const char *subs, size_t len, const char *name,
    const struct imap_arg *pats, const char *ref)
{
	const char	*p, *e, *end = subs + len;
	char		 nm[MAILBOX_NAME_MAX + 1];
	size_t		 n = strlen(name), l;

	if (subs == NULL)
		return 0;
	for (p = subs; p < end; p = e + 1) {
		if ((e = memchr(p, '\n', end - p)) == NULL)
			e = end;
		l = e - p;
		if (l <= n + 1 || l >= sizeof(nm) || memcmp(p, name, n) != 0 ||
		    p[n] != MAILBOX_SEP)
			continue;
		memcpy(nm, p, l);
		nm[l] = '\0';
		if (!list_match(pats, ref, nm))
			return 1;
	}
	return 0;
}

static void
s_list_dirs(struct imap_session *s, struct mailbox_list *ml)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	char		**names = NULL, path[PATH_MAX];
	size_t		 n = 0, i;

	mailbox_list_init(ml);
	if ((d = safe_opendir(s->home)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] != '.' ||
			    strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if (snprintf(path, sizeof(path), "%s/%s", s->home,
			    de->d_name) >= (int)sizeof(path) ||
			    safe_lstat(path, &st) == -1 || !S_ISDIR(st.st_mode))
				continue;
			if ((names = reallocarray(names, n + 1,
			    sizeof(*names))) == NULL ||
			    (names[n] = strdup(de->d_name)) == NULL)
				fatal("strdup");
			n++;
		}
		closedir(d);
	}
	mailbox_list_build(ml, (const char *const *)names, n);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

struct lsub_ent {
	const char	*name;		/* into the copy of the subscriptions */
	size_t		 len;
	int		 sub;		/* subscribed, else a parent */
};

static int
lsub_cmp(const void *a, const void *b)
{
	const struct lsub_ent	*x = a, *y = b;
	size_t			 n = x->len < y->len ? x->len : y->len;
	int			 r;

	if ((r = memcmp(x->name, y->name, n)) != 0)
		return r;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return y->sub - x->sub;		/* subscribed first */
}

static int
ml_namecmp(const void *key, const void *b)
{
	const struct mailbox_entry	*y = b;

	return strcmp(key, y->name);
}

static int
ml_exists(const struct mailbox_list *ml, const char *name)
{
	const struct mailbox_entry	*e;

	e = bsearch(name, ml->ent, ml->n, sizeof(*ml->ent), ml_namecmp);
	return e != NULL && !(e->attrs & MBOX_A_NONEXISTENT);
}

/*
 * LSUB (RFC 3501 6.3.9): the subscribed names the patterns match, with
 * \Noselect when no such mailbox exists; and an unsubscribed parent the
 * patterns match of a subscribed name they do not ("foo" for "foo/bar"
 * with "%"), with \Noselect.  Work and memory are linear in the size
 * of the subscriptions file.
 */
static void
s_lsub(struct imap_session *s, const struct imap_arg *pats, const char *ref,
    const char *subs, size_t subslen, const struct mailbox_list *ml)
{
	struct lsub_ent	*ent = NULL;
	const char	*p, *e, *end = subs + subslen;
	char		 nm[MAILBOX_NAME_MAX + 1], enc[MAILBOX_WIRE_MAX + 64];
	size_t		 n = 0, cap = 0, i, l, k;

	for (p = subs; subs != NULL && p < end; p = e + 1) {
		if ((e = memchr(p, '\n', end - p)) == NULL)
			e = end;
		if ((l = e - p) == 0 || l >= sizeof(nm))
			continue;
		memcpy(nm, p, l);
		nm[l] = '\0';
		/* The name itself, and its parents when it is not listed. */
		k = list_match(pats, ref, nm) ? l : 0;
		for (; k <= l; k++) {
			if (k < l && p[k] != MAILBOX_SEP)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				if ((ent = reallocarray(ent, cap,
				    sizeof(*ent))) == NULL)
					fatal("reallocarray");
			}
			ent[n].name = p;
			ent[n].len = k;
			ent[n++].sub = k == l;
		}
	}
	if (n > 0)
		qsort(ent, n, sizeof(*ent), lsub_cmp);
	for (i = 0; i < n; i++) {
		if (i > 0 && ent[i].len == ent[i - 1].len &&
		    memcmp(ent[i].name, ent[i - 1].name, ent[i].len) == 0)
			continue;
		memcpy(nm, ent[i].name, ent[i].len);
		nm[ent[i].len] = '\0';
		if (!list_match(pats, ref, nm) ||
		    s_name_out(nm, enc, sizeof(enc)) == -1)
			continue;
		imap_printf(s, "* LSUB (%s) \"/\" %s\r\n",
		    ent[i].sub && ml_exists(ml, nm) ? "" : "\\Noselect", enc);
	}
	free(ent);
}

void
imap_cmd_list(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg	*a = cmd->args, *pats, *p;
	struct mailbox_list	 ml;
	struct mailbox_entry	*e;
	const char		*ref, *pat, *su;
	char			 enc[MAILBOX_WIRE_MAX + 64], attrs[256];
	char			 path[PATH_MAX], dir[MAILBOX_DIR_MAX + 1];
	char			*subs;
	size_t			 subslen, i;
	int			 lsub = strcmp(cmd->name, "LSUB") == 0;
	int			 opts = 0, items = 0, sub, childsub;
	int			 extended = 0;

	if (!lsub && a != NULL && a->type == IMAP_ARG_LIST) {
		for (p = a->list; p != NULL; p = p->next)
			if (p->type != IMAP_ARG_ATOM ||
			    list_option(p->str, 1, &opts) == -1) {
				imap_tagged(s, "BAD", "Bad LIST selection "
				    "options");
				return;
			}
		extended = 1;
		a = a->next;
	}
	if (a == NULL || a->next == NULL ||
	    imap_arg_mailbox(a, 1, &ref) == -1) {
		imap_tagged(s, "BAD", "%s takes a reference and a pattern",
		    cmd->name);
		return;
	}
	pats = a->next;
	if (pats->type == IMAP_ARG_LIST)
		extended = 1;
	if (lsub && pats->type == IMAP_ARG_LIST) {
		imap_tagged(s, "BAD", "LSUB takes one pattern");
		return;
	}
	if (pats->next != NULL) {
		p = pats->next;
		if (lsub || p->type != IMAP_ARG_ATOM ||
		    strcasecmp(p->str, "RETURN") != 0 || p->next == NULL ||
		    p->next->type != IMAP_ARG_LIST || p->next->next != NULL) {
			imap_tagged(s, "BAD", "Bad LIST arguments");
			return;
		}
		extended = 1;
		for (p = p->next->list; p != NULL; p = p->next) {
			if (p->type == IMAP_ARG_ATOM &&
			    strcasecmp(p->str, "STATUS") == 0 &&
			    p->next != NULL && p->next->type == IMAP_ARG_LIST) {
				if (status_items(p->next, &items) == -1) {
					imap_tagged(s, "BAD",
					    "Bad STATUS items");
					return;
				}
				opts |= LR_STATUS;
				p = p->next;
				continue;
			}
			if (p->type != IMAP_ARG_ATOM ||
			    list_option(p->str, 0, &opts) == -1) {
				imap_tagged(s, "BAD",
				    "Bad LIST return options");
				return;
			}
		}
	}
	if ((opts & LS_RECURSIVE) && !(opts & LS_SUBSCRIBED)) {
		imap_tagged(s, "BAD", "RECURSIVEMATCH needs another selection "
		    "option");
		return;
	}
	if (opts & LS_SUBSCRIBED)
		opts |= LR_SUBSCRIBED;

	/* LIST "" "": the hierarchy separator. */
	if (pats->type != IMAP_ARG_LIST && imap_arg_mailbox(pats, 1,
	    &pat) == 0 && pat[0] == '\0' && !extended) {
		if (!lsub)
			imap_printf(s, "* LIST (\\Noselect) \"/\" \"\"\r\n");
		imap_tagged(s, "OK", "%s completed", cmd->name);
		return;
	}
	s_list_dirs(s, &ml);
	subs = subs_read(s, &subslen);
	if (lsub) {
		s_lsub(s, pats, ref, subs, subslen, &ml);
		goto done;
	}
	for (i = 0; i < ml.n; i++) {
		e = &ml.ent[i];
		if (!list_match(pats, ref, e->name))
			continue;
		sub = subs != NULL && subs_has(subs, subslen, e->name);
		/* RECURSIVEMATCH: parents of subscribed mailboxes too. */
		childsub = (opts & LS_RECURSIVE) &&
		    subs_child_unlisted(subs, subslen, e->name, pats, ref);
		if ((opts & LS_SUBSCRIBED) && !sub && !childsub)
			continue;
		su = mailbox_special_use(e->name);
		if ((opts & LS_SPECIALUSE) && su == NULL)
			continue;
		attrs[0] = '\0';
		if (e->attrs & MBOX_A_NONEXISTENT)
			strlcat(attrs, extended ? "\\NonExistent " :
			    "\\Noselect ", sizeof(attrs));
		if (e->attrs & MBOX_A_HASCHILDREN)
			strlcat(attrs, "\\HasChildren ", sizeof(attrs));
		if (e->attrs & MBOX_A_HASNOCHILDREN)
			strlcat(attrs, "\\HasNoChildren ", sizeof(attrs));
		if (sub && (opts & LR_SUBSCRIBED))
			strlcat(attrs, "\\Subscribed ", sizeof(attrs));
		if (su != NULL) {
			strlcat(attrs, su, sizeof(attrs));
			strlcat(attrs, " ", sizeof(attrs));
		}
		if (attrs[0] != '\0')
			attrs[strlen(attrs) - 1] = '\0';
		if (s_name_out(e->name, enc, sizeof(enc)) == -1)
			continue;
		imap_printf(s, "* LIST (%s) \"/\" %s%s\r\n", attrs,
		    enc, childsub ? " (\"CHILDINFO\" (\"SUBSCRIBED\"))" : "");
		if ((opts & LR_STATUS) && !(e->attrs & MBOX_A_NONEXISTENT) &&
		    mailbox_name_to_dir(e->name, MAILBOX_UTF8, dir,
		    sizeof(dir), NULL) == 0) {
			if (strcmp(dir, ".") == 0)
				strlcpy(path, s->home, sizeof(path));
			else if (snprintf(path, sizeof(path), "%s/%s",
			    s->home, dir) >= (int)sizeof(path))
				continue;
			(void)s_status(s, e->name, path, items);
		}
	}
	/* Subscribed names without a mailbox are listed too. */
	if ((opts & LS_SUBSCRIBED) && subs != NULL) {
		const char	*q = subs, *qe, *end = subs + subslen;
		char		 nm[MAILBOX_NAME_MAX + 1];

		for (; q < end; q = qe + 1) {
			if ((qe = memchr(q, '\n', end - q)) == NULL)
				qe = end;
			if (qe == q || (size_t)(qe - q) >= sizeof(nm))
				continue;
			memcpy(nm, q, qe - q);
			nm[qe - q] = '\0';
			for (i = 0; i < ml.n; i++)
				if (strcmp(ml.ent[i].name, nm) == 0 &&
				    !(ml.ent[i].attrs & MBOX_A_NONEXISTENT))
					break;
			if (i < ml.n)
				continue;
			if (!list_match(pats, ref, nm) ||
			    s_name_out(nm, enc, sizeof(enc)) == -1)
				continue;
			imap_printf(s, "* LIST (\\Subscribed \\NonExistent) "
			    "\"/\" %s\r\n", enc);
		}
	}
done:
	free(subs);
	mailbox_list_free(&ml);
	imap_tagged(s, "OK", "%s completed", cmd->name);
}
