/*
 * Path operations for the mailbox tree that follow no symbolic link:
 * the directory holding the last component is opened with
 * compat_open_beneath() (openat2 RESOLVE_NO_SYMLINKS, or a walk with
 * O_NOFOLLOW | O_DIRECTORY), for search only (COMPAT_O_SEARCH: no read
 * permission needed on Linux), then the *at() call acts on the last
 * component itself.  Holding the directory's fd, the call cannot be
 * turned elsewhere by a link swapped in between two steps.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "safepath.h"

static int	 sp_root(const char *, const char **, int *);
static int	 sp_parent(const char *, int *, const char **);
static void	 sp_close(int);
static int	 sp_is_link(int, const char *);

/* "/" for an absolute path (the rest made relative), else AT_FDCWD. */
static int
sp_root(const char *path, const char **rel, int *root)
{
	*rel = path;
	*root = AT_FDCWD;
	if (*path != '/')
		return 0;
	while (**rel == '/')
		(*rel)++;
	if ((*root = open("/", COMPAT_O_SEARCH | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		return -1;
	return 0;
}

/*
 * The directory holding the last component of path, in *dfd (maybe
 * AT_FDCWD: close it with sp_close()), and that component in *base.
 */
static int
sp_parent(const char *path, int *dfd, const char **base)
{
	char		 dir[PATH_MAX];
	const char	*rel, *slash;
	size_t		 len;
	int		 root, saved;

	*dfd = AT_FDCWD;
	if (sp_root(path, &rel, &root) == -1)
		return -1;
	slash = strrchr(rel, '/');
	*base = slash == NULL ? rel : slash + 1;
	if (**base == '\0' || strcmp(*base, ".") == 0 ||
	    strcmp(*base, "..") == 0) {
		sp_close(root);
		errno = **base == '\0' ? EINVAL : EXDEV;
		return -1;
	}
	if (slash == NULL) {
		*dfd = root;
		return 0;
	}
	len = slash - rel;
	if (len >= sizeof(dir)) {
		sp_close(root);
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, rel, len);
	dir[len] = '\0';
	*dfd = compat_open_beneath(root, dir, COMPAT_O_SEARCH | O_DIRECTORY,
	    0);
	saved = errno;
	sp_close(root);
	errno = saved;
	return *dfd == -1 ? -1 : 0;
}

static void
sp_close(int fd)
{
	int	 saved = errno;

	if (fd >= 0)
		close(fd);
	errno = saved;
}

static int
sp_is_link(int dfd, const char *name)
{
	struct stat	 st;

	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode);
}

int
safe_open(const char *path, int flags, mode_t mode)
{
	const char	*rel;
	int		 root, fd;

	if (sp_root(path, &rel, &root) == -1)
		return -1;
	fd = compat_open_beneath(root, rel, flags, mode);
	sp_close(root);
	return fd;
}

DIR *
safe_opendir(const char *path)
{
	DIR	*d;
	int	 fd;

	if ((fd = safe_open(path, O_RDONLY | O_DIRECTORY, 0)) == -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL)
		sp_close(fd);
	return d;
}

int
safe_lstat(const char *path, struct stat *st)
{
	const char	*base;
	int		 dfd, r;

	if (sp_parent(path, &dfd, &base) == -1)
		return -1;
	r = fstatat(dfd, base, st, AT_SYMLINK_NOFOLLOW);
	sp_close(dfd);
	return r;
}

int
safe_mkdir(const char *path, mode_t mode)
{
	const char	*base;
	int		 dfd, r;

	if (sp_parent(path, &dfd, &base) == -1)
		return -1;
	r = mkdirat(dfd, base, mode);
	sp_close(dfd);
	return r;
}

int
safe_mkdirs(const char *path, mode_t mode)
{
	char		 comp[NAME_MAX + 1];
	const char	*p;
	int		 root, cur, fd, saved;

	if (sp_root(path, &p, &root) == -1)
		return -1;
	cur = root;
	while (*p != '\0') {
		if (compat_path_next(&p, comp) == -1) {
			saved = errno;
			goto fail;
		}
		if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
			saved = EXDEV;
			goto fail;
		}
		if (mkdirat(cur, comp, mode) == -1 && errno != EEXIST) {
			saved = errno;
			goto fail;
		}
		if ((fd = openat(cur, comp, COMPAT_O_SEARCH | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) == -1) {
			saved = errno;
			if (sp_is_link(cur, comp))
				saved = ELOOP;
			goto fail;
		}
		if (cur != root)
			close(cur);
		cur = fd;
	}
	if (cur != root)
		close(cur);
	sp_close(root);
	return 0;
 fail:
	if (cur != root)
		close(cur);
	sp_close(root);
	errno = saved;
	return -1;
}

int
safe_unlink(const char *path)
{
	const char	*base;
	int		 dfd, r;

	if (sp_parent(path, &dfd, &base) == -1)
		return -1;
	r = unlinkat(dfd, base, 0);
	sp_close(dfd);
	return r;
}

int
safe_rmdir(const char *path)
{
	const char	*base;
	int		 dfd, r;

	if (sp_parent(path, &dfd, &base) == -1)
		return -1;
	r = unlinkat(dfd, base, AT_REMOVEDIR);
	sp_close(dfd);
	return r;
}

int
safe_rename(const char *from, const char *to)
{
	const char	*fbase, *tbase;
	size_t		 plen;
	int		 fdfd, tdfd, r;

	if (sp_parent(from, &fdfd, &fbase) == -1)
		return -1;
	/* Flag changes rename within one directory: open it once. */
	plen = fbase - from;
	tbase = to + plen;
	if (strncmp(from, to, plen) == 0 && strchr(tbase, '/') == NULL &&
	    *tbase != '\0' && strcmp(tbase, ".") != 0 &&
	    strcmp(tbase, "..") != 0) {
		r = renameat(fdfd, fbase, fdfd, tbase);
		sp_close(fdfd);
		return r;
	}
	if (sp_parent(to, &tdfd, &tbase) == -1) {
		sp_close(fdfd);
		return -1;
	}
	r = renameat(fdfd, fbase, tdfd, tbase);
	sp_close(fdfd);
	sp_close(tdfd);
	return r;
}

int
safe_link(const char *from, const char *to)
{
	const char	*fbase, *tbase;
	int		 fdfd, tdfd, r;

	if (sp_parent(from, &fdfd, &fbase) == -1)
		return -1;
	if (sp_parent(to, &tdfd, &tbase) == -1) {
		sp_close(fdfd);
		return -1;
	}
	r = linkat(fdfd, fbase, tdfd, tbase, 0);
	sp_close(fdfd);
	sp_close(tdfd);
	return r;
}

int
safe_find_link(const char *path, char *out, size_t outlen)
{
	struct stat	 st;
	char		 comp[NAME_MAX + 1];
	const char	*p;
	size_t		 len;
	int		 root, cur, fd, found = 0;

	if (sp_root(path, &p, &root) == -1)
		return 0;
	cur = root;
	while (*p != '\0') {
		len = strcspn(p, "/");
		if (len > NAME_MAX)
			break;
		memcpy(comp, p, len);
		comp[len] = '\0';
		if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == -1)
			break;
		if (S_ISLNK(st.st_mode)) {
			len = (p + len) - path;
			if (len < outlen) {
				memcpy(out, path, len);
				out[len] = '\0';
				found = 1;
			}
			break;
		}
		if (!S_ISDIR(st.st_mode) || (fd = openat(cur, comp,
		    COMPAT_O_SEARCH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) ==
		    -1)
			break;
		if (cur != root)
			close(cur);
		cur = fd;
		for (p += len; *p == '/'; p++)
			;
	}
	if (cur != root)
		close(cur);
	sp_close(root);
	return found;
}
