/*
 * Small helpers (util.c): clocks, whole reads and writes, trusted paths.
 */
#ifndef MAILD_UTIL_H
#define MAILD_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: for deadlines the wall clock moves. */
int64_t	mono_ms(void);
int	write_full(int, const void *, size_t);
char	*read_fd(int, size_t, size_t *);
const char *path_inside(const char *, const char *);
/*
 * The directories above an absolute path (symbolic links followed, and
 * the directories holding them checked too) are owned by root or the
 * running user and not writable by group or others unless sticky.
 * 0, or -1 with "path: why" in err.
 */
int	path_check_dirs(const char *, char *, size_t);
/*
 * Open a table or key file: path_check_dirs(), no symbolic link as the
 * file itself, a regular file.  fd, or -1 with "path: why" in err.
 */
int	path_open_trusted(const char *, char *, size_t);

#endif
