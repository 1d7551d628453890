/*
 * The open mailboxes of the imap process: one shared, reference-counted
 * object per Maildir folder however many sessions selected it.  It is
 * the truth the sessions diff their views against: messages sorted by
 * UID with their MODSEQ and flags, the keyword table, the history of
 * expunges (for QRESYNC).  This file opens and shares the object, answers
 * what sessions ask of it, stores flags (STORE) and commits it to disk:
 * the UID list in uidlist.c's format (maild-uidlist), the keywords in
 * Dovecot's (dovecot-keywords).  The scan that keeps it in line with
 * the directories is imap_mbox_sync.c.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "imap_mbox.h"
#include "imap_mbox_priv.h"
#include "log.h"
#include "maild.h"
#include "mflags.h"
#include "safepath.h"
#include "uidlist.h"

TAILQ_HEAD(mboxlist, mbox);

static void	 mbox_free(struct mbox *);
static int	 commit(struct mbox *, int);
static int	 list_save(struct mbox *, int);

static struct mboxlist	 mboxes = TAILQ_HEAD_INITIALIZER(mboxes);

struct mbox *
mbox_open(const char *dir, int create)
{
	static const char *const sub[] = { "cur", "new", "tmp" };
	struct uidlist	*ul;
	struct mbox	*m;
	struct stat	 st;
	char		 path[PATH_MAX], *file;
	size_t		 i, len;
	int		 r, saved;

	if (!mbox_dir_valid(dir)) {
		errno = EINVAL;
		return NULL;
	}
	TAILQ_FOREACH(m, &mboxes, entry) {
		/* A removed mailbox is never shared with a new one. */
		if (!m->gone && strcmp(m->dir, dir) == 0) {
			m->refs++;
			return m;
		}
	}
	if (create && mbox_make_maildir(dir, 0) == -1) {
		if (!mbox_log_link(dir, "cannot create"))
			log_warn("%s: cannot create", dir);
		return NULL;
	}
	/*
	 * A symbolic link as the folder, a directory above it or one of
	 * cur/ new/ tmp/ (tmp/ may be missing, never a link): ELOOP, and
	 * nothing is read or written through it.
	 */
	for (i = 0; i < nitems(sub); i++) {
		if (mbox_mkpath(path, sizeof(path), dir, sub[i]) == -1)
			return NULL;
		if (safe_lstat(path, &st) == -1) {
			if (errno == ENOENT && i == 2)
				continue;
			(void)mbox_log_link(dir, "cannot open");
			return NULL;
		}
		if (S_ISLNK(st.st_mode)) {
			errno = ELOOP;
			(void)mbox_log_link(dir, "cannot open");
			return NULL;
		}
		if (!S_ISDIR(st.st_mode)) {
			errno = ENOENT;
			return NULL;
		}
	}
	mbox_stale_purge(dir);
	if (uidlist_open(dir, &ul) == -1)
		return NULL;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		fatal("calloc");
	(void)strlcpy(m->dir, dir, sizeof(m->dir));
	m->refs = 1;
	m->uidvalidity = ul->uidvalidity;
	m->uidnext = ul->uidnext;
	m->hms = ul->highestmodseq;
	/* An old list: what it holds was seen; a new one: nothing was. */
	m->recent = ul->firstrecent != 0 ? ul->firstrecent : ul->uidnext;
	(void)strlcpy(m->mailboxid, ul->mailboxid, sizeof(m->mailboxid));
	m->list_dirty = ul->dirty;
	/* Where each file is comes from the first scan. */
	for (i = 0; i < ul->n; i++) {
		len = strlen(ul->ent[i].name);
		if ((file = malloc(len + 5)) == NULL)
			fatal("malloc");
		memcpy(file, "cur/", 4);
		memcpy(file + 4, ul->ent[i].name, len + 1);
		(void)mbox_msg_add(m, ul->ent[i].uid, ul->ent[i].modseq, 0, 0,
		    file, len);
	}
	uidlist_free(ul);

	r = mflags_kw_load(dir, &m->kw);
	if (r == MFLAGS_KW_ERROR) {
		log_warn("%s/%s", dir, MFLAGS_KW_FILE);
		goto fail;
	}
	if (r == MFLAGS_KW_CORRUPT)
		log_warnx("%s: keyword names lost", dir);
	m->vfloor = m->hms;
	mbox_cache_load(m);
	if (mbox_scan(m, 1, 1) == -1 || commit(m, 0) == -1)
		goto fail;
	TAILQ_INSERT_TAIL(&mboxes, m, entry);
	return m;
 fail:
	saved = errno;
	mbox_free(m);
	errno = saved != 0 ? saved : EIO;
	return NULL;
}

static void
mbox_free(struct mbox *m)
{
	uint32_t	 i;

	mbox_lru_purge(m, 1, 0);
	for (i = 0; i < m->n; i++) {
		free(m->priv[i].file);
		free(m->priv[i].cache);
		free(m->priv[i].preview);
		free(m->priv[i].hdr);
		free(m->priv[i].sortkeys);
	}
	free(m->msgs);
	free(m->priv);
	free(m->vuid);
	free(m->vmodseq);
	mflags_kw_free(&m->kw);
	free(m);
}

void
mbox_close(struct mbox *m)
{
	if (m == NULL || --m->refs > 0)
		return;
	(void)commit(m, 1);
	TAILQ_REMOVE(&mboxes, m, entry);
	mbox_free(m);
}

const char *
mbox_dir(const struct mbox *m)
{
	return m->dir;
}

int
mbox_gone(const struct mbox *m)
{
	return m->gone;
}

void
mbox_set_gone(struct mbox *m)
{
	m->gone = 1;
}

int
mbox_mkpath(char *buf, size_t len, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, len, "%s/%s", dir, name) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
mbox_commit(struct mbox *m)
{
	return commit(m, 0);
}

static int
commit(struct mbox *m, int force)
{
	time_t	 now;
	int	 ret = 0;

	/* A removed mailbox: writing would recreate files in a new one. */
	if (m->gone)
		return 0;
	if (mbox_kw_flush(m) == -1)
		ret = -1;
	/*
	 * New UIDs must survive a power loss before any client sees them;
	 * a flag change is in the file name already, so its MODSEQ is
	 * written without the fsync (per command, on a 10,000-message
	 * mailbox, that fsync would cost more than the STORE).
	 */
	if (m->list_dirty || m->mod_dirty) {
		if (list_save(m, m->list_dirty) == -1)
			ret = -1;
		else {
			m->list_dirty = m->mod_dirty = 0;
			/* Its header names HIGHESTMODSEQ: keep them equal. */
			m->cache_dirty = 1;
		}
	}
	if (m->cur_dirty) {
		if (mbox_dir_fsync(m, "cur") == -1)
			ret = -1;
		else
			m->cur_dirty = 0;
	}
	now = time(NULL);
	/* Never a cache that speaks of UIDs the list on disk lacks. */
	if (m->cache_dirty && !m->list_dirty && (force ||
	    m->cache_written == 0 ||
	    now - m->cache_written >= MBOX_CACHE_DELAY)) {
		/* The cache is rebuildable: failing it fails nothing. */
		(void)mbox_cache_save(m);
		m->cache_written = now;
	}
	return ret;
}

int
mbox_dir_fsync(const struct mbox *m, const char *sub)
{
	char	 path[PATH_MAX];
	int	 fd, r, saved;

	if (mbox_mkpath(path, sizeof(path), m->dir, sub) == -1)
		return -1;
	if ((fd = safe_open(path, O_RDONLY | O_DIRECTORY, 0)) == -1) {
		log_warn("%s", path);
		return -1;
	}
	if ((r = fsync(fd)) == -1)
		log_warn("fsync %s", path);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

/*
 * uidlist.c owns the file format; the list itself lives here, so a
 * struct uidlist is lent the entries just for uidlist_save().
 */
static int
list_save(struct mbox *m, int sync)
{
	struct uidlist		*ul;
	struct uidlist_entry	*ent = NULL;
	char			*names = NULL, *p;
	size_t			 total = 0;
	uint32_t		 i;
	int			 r, saved;

	if ((ul = uidlist_new(m->dir, m->uidvalidity)) == NULL) {
		errno = ENAMETOOLONG;
		return -1;
	}
	ul->uidnext = m->uidnext;
	ul->highestmodseq = m->hms;
	ul->firstrecent = m->recent;
	(void)strlcpy(ul->mailboxid, m->mailboxid, sizeof(ul->mailboxid));
	if (m->n > 0) {
		for (i = 0; i < m->n; i++)
			total += m->priv[i].baselen + 1;
		if ((ent = calloc(m->n, sizeof(*ent))) == NULL ||
		    (names = malloc(total)) == NULL)
			fatal("calloc");
		for (i = 0, p = names; i < m->n; i++) {
			memcpy(p, m->priv[i].file + 4, m->priv[i].baselen);
			p[m->priv[i].baselen] = '\0';
			ent[i].uid = m->msgs[i].uid;
			ent[i].modseq = m->msgs[i].modseq;
			ent[i].name = p;
			p += m->priv[i].baselen + 1;
		}
	}
	ul->ent = ent;
	ul->n = ul->cap = m->n;
	r = sync ? uidlist_save(ul) : uidlist_save_nosync(ul);
	saved = errno;
	ul->ent = NULL;
	ul->n = ul->cap = 0;
	uidlist_free(ul);
	free(ent);
	free(names);
	errno = saved;
	return r;
}

/* A file never carries a keyword letter whose name is not on disk. */
int
mbox_kw_flush(struct mbox *m)
{
	if (!m->kw_dirty)
		return 0;
	if (mflags_kw_save(m->dir, &m->kw) == -1)
		return -1;
	m->kw_dirty = 0;
	return 0;
}

uint32_t
mbox_count(const struct mbox *m)
{
	return m->n;
}

uint32_t
mbox_uidvalidity(const struct mbox *m)
{
	return m->uidvalidity;
}

uint32_t
mbox_uidnext(const struct mbox *m)
{
	return m->uidnext;
}

uint32_t
mbox_recent_uid(const struct mbox *m)
{
	return m->recent;
}

void
mbox_recent_claim(struct mbox *m, uint32_t upto)
{
	if (upto <= m->recent || upto > m->uidnext)
		return;
	m->recent = upto;
	m->mod_dirty = 1;
}

uint64_t
mbox_highestmodseq(const struct mbox *m)
{
	return m->hms;
}

const char *
mbox_mailboxid(const struct mbox *m)
{
	return m->mailboxid;
}

uint32_t
mbox_unseen(const struct mbox *m)
{
	uint32_t	 i, n = 0;

	for (i = 0; i < m->n; i++)
		if (!(m->msgs[i].sys & MFLAG_SEEN))
			n++;
	return n;
}

long
mbox_first_unseen(const struct mbox *m)
{
	uint32_t	 i;

	for (i = 0; i < m->n; i++)
		if (!(m->msgs[i].sys & MFLAG_SEEN))
			return i;
	return -1;
}

const struct mbox_msg *
mbox_msg(const struct mbox *m, uint32_t idx)
{
	if (idx >= m->n)
		return NULL;
	return &m->msgs[idx];
}

long
mbox_find(const struct mbox *m, uint32_t uid)
{
	uint32_t	 lo = 0, hi = m->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (m->msgs[mid].uid == uid)
			return mid;
		if (m->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int
mbox_vanished_since(const struct mbox *m, uint64_t modseq, uint32_t **uids,
    size_t *n)
{
	uint32_t	*v = NULL, t;
	size_t		 i, j, k = 0;

	*uids = NULL;
	*n = 0;
	if (modseq < m->vfloor)
		return -1;
	for (i = 0; i < m->nv; i++)
		if (m->vmodseq[i] > modseq)
			k++;
	if (k == 0)
		return 0;
	if ((v = calloc(k, sizeof(*v))) == NULL)
		fatal("calloc");
	for (i = 0, k = 0; i < m->nv; i++)
		if (m->vmodseq[i] > modseq)
			v[k++] = m->vuid[i];
	/* Mostly ascending already (UIDs expunged in order). */
	for (i = 1; i < k; i++) {
		t = v[i];
		for (j = i; j > 0 && v[j - 1] > t; j--)
			v[j] = v[j - 1];
		v[j] = t;
	}
	*uids = v;
	*n = k;
	return 0;
}

const char *
mbox_keyword(const struct mbox *m, int i)
{
	if (i < 0 || i >= MFLAGS_KW_MAX)
		return NULL;
	return m->kw.name[i];
}

const struct mflags_keywords *
mbox_keywords(const struct mbox *m)
{
	return &m->kw;
}

int
mbox_keyword_count(const struct mbox *m)
{
	return mflags_kw_count(&m->kw);
}

int
mbox_keyword_assign(struct mbox *m, const char *name)
{
	int	 known, r;

	known = mflags_kw_lookup(&m->kw, name) != -1;
	r = mflags_kw_assign(&m->kw, name);
	if (r >= 0 && !known)
		m->kw_dirty = 1;
	return r;
}

int
mbox_store(struct mbox *m, uint32_t idx, uint32_t sys, uint32_t kw)
{
	struct mbox_msg	*msg;
	struct mflags	 f;
	char		 nf[MFLAGS_NAME_MAX + 5];
	int		 r, tries;

	if (idx >= m->n) {
		errno = EINVAL;
		return -1;
	}
	msg = &m->msgs[idx];
	/* The client owns the IMAP flags; the others (P) are kept. */
	sys = (sys & MFLAG_IMAP_MASK) | (msg->sys & ~MFLAG_IMAP_MASK);
	sys &= ~MFLAG_RECENT;
	kw &= (1U << MFLAGS_KW_MAX) - 1;
	if (sys == msg->sys && kw == msg->kw)
		return 1;
	if (mbox_kw_flush(m) == -1)
		return -1;
	memset(&f, 0, sizeof(f));
	f.sys = sys;
	f.kw = kw;
	for (tries = 0; ; tries++) {
		r = mflags_rename(m->dir, m->priv[idx].file, &f, nf,
		    sizeof(nf));
		if (r != 0)
			break;
		if (tries > 0 || mbox_relocate(m, idx) != 1)
			return 0;
	}
	if (r == -1)
		return -1;
	mbox_msg_set_file(m, idx, "cur", nf + 4, m->priv[idx].baselen);
	msg->sys = sys;
	msg->kw = kw;
	msg->modseq = ++m->hms;
	m->mod_dirty = 1;
	return 1;
}
