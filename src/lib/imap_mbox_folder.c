/*
 * Folder operations of the imap process on Maildir++ directories that
 * are not open: CREATE (cur/ new/ tmp/, "maildirfolder"), DELETE (only
 * what maild and Dovecot keep in a folder, never anything else), the
 * new UIDVALIDITY a folder gets after RENAME, the check of the paths
 * sessions pass in, and the removal of state files a crash left behind.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "imap_mbox.h"
#include "imap_mbox_priv.h"
#include "log.h"
#include "maild.h"
#include "metadata.h"
#include "mflags.h"
#include "safepath.h"
#include "uidlist.h"

static int	 is_folder(const char *);
static int	 state_file(const char *);
static int	 remove_check(int);
static int	 remove_sub(int, const char *);

/*
 * mailbox.c made the name, but a path that could leave the mail root
 * or the user's tree is refused here too.
 */
int
mbox_dir_valid(const char *dir)
{
	const unsigned char	*p;
	size_t			 len;

	len = strnlen(dir, MBOX_DIR_MAX + 1);
	if (len == 0 || len > MBOX_DIR_MAX || dir[0] == '/' ||
	    strstr(dir, "..") != NULL || dir[len - 1] == '/' ||
	    strstr(dir, "//") != NULL)
		return 0;
	for (p = (const unsigned char *)dir; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return 0;
		/* No "." component either. */
		if (*p == '.' && (p == (const unsigned char *)dir ||
		    p[-1] == '/') && (p[1] == '/' || p[1] == '\0'))
			return 0;
	}
	return 1;
}

/*
 * After a failure with ELOOP: a log line that names the symbolic link
 * (the client only hears that the mailbox was refused).  1 if it was
 * ELOOP; errno is kept.
 */
int
mbox_log_link(const char *dir, const char *what)
{
	static const char *const sub[] = { "", "/cur", "/new", "/tmp" };
	char		 path[PATH_MAX], link[PATH_MAX];
	size_t		 i;
	int		 saved = errno;

	if (saved != ELOOP)
		return 0;
	for (i = 0; i < nitems(sub); i++)
		if ((size_t)snprintf(path, sizeof(path), "%s%s", dir,
		    sub[i]) < sizeof(path) &&
		    safe_find_link(path, link, sizeof(link)))
			break;
	if (i < nitems(sub))
		log_warnx("%s: %s: %s is a symbolic link, not followed", dir,
		    what, link);
	else
		log_warnx("%s: %s: symbolic link in the path, not followed",
		    dir, what);
	errno = saved;
	return 1;
}

/* A Maildir++ folder is a ".<name>" directory; the user's root is not. */
static int
is_folder(const char *dir)
{
	const char	*last;

	last = strrchr(dir, '/');
	last = last == NULL ? dir : last + 1;
	return last[0] == '.' && last[1] != '\0';
}

int
mbox_make_maildir(const char *dir, int excl)
{
	static const char *const sub[] = { "cur", "new", "tmp" };
	char		 path[PATH_MAX];
	size_t		 i;
	int		 fd;

	if (safe_mkdir(dir, 0700) == -1 && (excl || errno != EEXIST))
		return -1;
	for (i = 0; i < nitems(sub); i++) {
		if (mbox_mkpath(path, sizeof(path), dir, sub[i]) == -1)
			return -1;
		if (safe_mkdir(path, 0700) == -1 && errno != EEXIST)
			return -1;
	}
	if (is_folder(dir)) {
		if (mbox_mkpath(path, sizeof(path), dir, "maildirfolder") == -1)
			return -1;
		if ((fd = safe_open(path, O_WRONLY | O_CREAT, 0600)) == -1)
			return -1;
		close(fd);
	}
	return 0;
}

int
mbox_create(const char *dir)
{
	if (!mbox_dir_valid(dir)) {
		errno = EINVAL;
		return -1;
	}
	if (mbox_make_maildir(dir, 1) == -1) {
		if (errno != EEXIST && !mbox_log_link(dir, "cannot create"))
			log_warn("%s: cannot create", dir);
		return -1;
	}
	return 0;
}

int
mbox_renew_uidvalidity(const char *dir)
{
	struct uidlist	*ul;
	struct stat	 st;
	char		 path[PATH_MAX];
	int		 r;

	if (!mbox_dir_valid(dir)) {
		errno = EINVAL;
		return -1;
	}
	/* RENAME moves whatever bears the name: only Maildirs have lists. */
	if (mbox_mkpath(path, sizeof(path), dir, "cur") == -1 ||
	    safe_lstat(path, &st) == -1 || !S_ISDIR(st.st_mode))
		return 0;
	/* A list made now (none yet, or corrupt) has a new value already. */
	if ((r = uidlist_open(dir, &ul)) == -1)
		return -1;
	if (r == 1)
		ul->uidvalidity = uidlist_new_uidvalidity();
	r = uidlist_save(ul);
	if (r == -1)
		log_warn("%s: cannot renew UIDVALIDITY", dir);
	uidlist_free(ul);
	/* Its renderings are keyed by the old value: useless now. */
	if (mbox_mkpath(path, sizeof(path), dir, MBOX_CACHE_FILE) == 0)
		(void)safe_unlink(path);
	return r;
}

/* Files of maild and Dovecot that a mailbox directory may hold. */
static int
state_file(const char *name)
{
	return strcmp(name, "maildirfolder") == 0 ||
	    strncmp(name, "maild-", 6) == 0 ||
	    strncmp(name, "dovecot", 7) == 0;
}

/*
 * The state files are written as <name>.tmp.<pid> and renamed within one
 * call, by this process only: one there when the mailbox is opened was
 * left by a crash (under another pid, so no later write replaces it).
 */
void
mbox_stale_purge(const char *dir)
{
	static const char *const names[] = { UIDLIST_FILE, MBOX_CACHE_FILE,
	    MFLAGS_KW_FILE, METADATA_FILE, METADATA_SERVER_FILE };
	struct dirent	*de;
	DIR		*d;
	char		 path[PATH_MAX];
	const char	*p;
	size_t		 i, len;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		for (i = 0; i < nitems(names); i++) {
			len = strlen(names[i]);
			p = de->d_name + len;
			if (strncmp(de->d_name, names[i], len) == 0 &&
			    strncmp(p, ".tmp.", 5) == 0 && p[5] != '\0' &&
			    strspn(p + 5, "0123456789") == strlen(p + 5))
				break;
		}
		if (i < nitems(names) &&
		    mbox_mkpath(path, sizeof(path), dir, de->d_name) == 0 &&
		    unlink(path) == 0)
			log_info("%s: removed %s, left by a crash", dir,
			    de->d_name);
	}
	closedir(d);
}

/* Nothing but files in cur/ new/ tmp/, nothing unknown beside them. */
static int
remove_check(int dfd)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d, *sd;
	int		 fd, bad = 0, issub;

	if ((fd = dup(dfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	rewinddir(d);
	while (!bad && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			bad = 1;
			break;
		}
		issub = strcmp(de->d_name, "cur") == 0 ||
		    strcmp(de->d_name, "new") == 0 ||
		    strcmp(de->d_name, "tmp") == 0;
		if (!issub) {
			if (!state_file(de->d_name) || S_ISDIR(st.st_mode))
				bad = 1;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			bad = 1;
			continue;
		}
		if ((fd = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) == -1 ||
		    (sd = fdopendir(fd)) == NULL) {
			if (fd != -1)
				close(fd);
			bad = 1;
			continue;
		}
		while ((de = readdir(sd)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if (fstatat(dirfd(sd), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == -1 || S_ISDIR(st.st_mode)) {
				bad = 1;
				break;
			}
		}
		closedir(sd);
	}
	closedir(d);
	if (bad) {
		errno = ENOTEMPTY;
		return -1;
	}
	return 0;
}

/* Unlink every entry of dfd/sub (never following links), then sub. */
static int
remove_sub(int dfd, const char *sub)
{
	struct dirent	*de;
	DIR		*d;
	int		 fd;

	if ((fd = openat(dfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == -1 &&
		    errno != ENOENT) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return unlinkat(dfd, sub, AT_REMOVEDIR);
}

/*
 * Delete a folder: its messages, maild's and Dovecot's state files and
 * the directories.  Anything else (a subdirectory, a file some other
 * program keeps there) makes it refuse with ENOTEMPTY before anything
 * is deleted: a wrong path must never become rm -rf of a user's tree,
 * and the user's root (which holds the other folders) can never go.
 */
int
mbox_remove(const char *dir)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	struct dirent	*de;
	DIR		*d;
	size_t		 i;
	int		 dfd, fd, saved;

	if (!mbox_dir_valid(dir)) {
		errno = EINVAL;
		return -1;
	}
	if ((dfd = safe_open(dir, O_RDONLY | O_DIRECTORY, 0)) == -1)
		return -1;
	if (remove_check(dfd) == -1)
		goto fail;
	for (i = 0; i < nitems(sub); i++)
		if (remove_sub(dfd, sub[i]) == -1)
			goto fail;
	if ((fd = dup(dfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		goto fail;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (!state_file(de->d_name))
			continue;
		if (unlinkat(dfd, de->d_name, 0) == -1 && errno != ENOENT) {
			saved = errno;
			closedir(d);
			errno = saved;
			goto fail;
		}
	}
	closedir(d);
	close(dfd);
	if (safe_rmdir(dir) == -1) {
		log_warn("rmdir %s", dir);
		return -1;
	}
	return 0;
 fail:
	saved = errno;
	log_warn("%s: cannot remove", dir);
	close(dfd);
	errno = saved;
	return -1;
}
