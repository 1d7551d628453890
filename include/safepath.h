/*
 * File system calls on paths inside the mailbox tree that never follow
 * a symbolic link, in any component: a link planted anywhere below the
 * mail root (a user's directory, a folder, tmp/ new/ cur/, a message
 * file) makes them fail with ELOOP instead of reading or writing where
 * it points, in another user's mailbox or outside the tree.
 *
 * Paths are relative to the current directory (the deliver and imap
 * processes run in the mail root), or absolute (unit tests); "." and
 * ".." components are refused (EXDEV, as openat2 says), and so is an
 * empty or trailing last component (EINVAL).  The last component is
 * acted on with the *at() call that does not follow it: unlinkat,
 * renameat, linkat without AT_SYMLINK_FOLLOW, fstatat with
 * AT_SYMLINK_NOFOLLOW, open with O_NOFOLLOW.  Return values and errno
 * are those of the plain calls.
 */
#ifndef MAILD_SAFEPATH_H
#define MAILD_SAFEPATH_H

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <stddef.h>

int	 safe_open(const char *, int, mode_t);
DIR	*safe_opendir(const char *);
/* lstat(2): a symbolic link last is described, not followed. */
int	 safe_lstat(const char *, struct stat *);
int	 safe_mkdir(const char *, mode_t);
/* mkdir -p: every missing component, each checked to be a directory. */
int	 safe_mkdirs(const char *, mode_t);
int	 safe_unlink(const char *);
int	 safe_rmdir(const char *);
int	 safe_rename(const char *, const char *);
/* link(2) of the entry itself (a symbolic link is never resolved). */
int	 safe_link(const char *, const char *);
/*
 * For log lines after an ELOOP: the leading part of path that is a
 * symbolic link ("a/b" of "a/b/c"), 1; 0 if none (any more).
 */
int	 safe_find_link(const char *, char *, size_t);

#endif
