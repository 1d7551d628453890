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
/*
 * The well-formed UTF-8 sequence at p of at most left bytes (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF): its length
 * (1 for ASCII), its code point in *cp unless cp is NULL; 0 if none.
 */
size_t	utf8_seq(const unsigned char *, size_t, uint32_t *);
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
