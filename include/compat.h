/*
 * Portability layer: what OpenBSD has and Linux (glibc 2.36) lacks.
 * On OpenBSD every function here comes from libc and this header only
 * includes what is needed.
 */
#ifndef MAILD_COMPAT_H
#define MAILD_COMPAT_H

#include <sys/types.h>
#include <sys/queue.h>
#include <fcntl.h>
#include <stddef.h>

#ifndef __OpenBSD__
size_t	strlcpy(char *, const char *, size_t);
size_t	strlcat(char *, const char *, size_t);
int	pledge(const char *, const char *);
int	unveil(const char *, const char *);
void	setproctitle(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
#endif

/* Fill buf with random bytes (libsodium). */
void	compat_random(void *, size_t);
/* Forbid gaining privileges through exec (Linux), nothing elsewhere. */
void	compat_no_new_privs(void);
/* Uid of the peer of a connected AF_UNIX socket. */
int	compat_getpeereid(int, uid_t *, gid_t *);
/*
 * openat(2) of a relative path below dfd (AT_FDCWD: the current
 * directory) that follows no symbolic link, in any component, the
 * last one included: ELOOP when it meets one, EXDEV for an absolute
 * path or a ".." component.  O_NOFOLLOW and O_CLOEXEC are added to
 * flags.  openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS on
 * Linux, a walk of the components with O_NOFOLLOW | O_DIRECTORY
 * elsewhere (and where the kernel or a seccomp filter lacks openat2).
 */
int	compat_open_beneath(int, const char *, int, mode_t);
/*
 * The next component of a relative path at *pp into comp (NAME_MAX + 1
 * bytes), *pp moved past it and its slashes; -1 ENAMETOOLONG.
 */
int	compat_path_next(const char **, char *);
/* Set (by unit tests) to use the portable walk even where openat2 works. */
extern int	compat_no_openat2;
/*
 * Open flag for a directory that is only the base of *at() calls: where
 * the system has one, it needs no read permission, only search.
 */
#if defined(O_PATH)
#define COMPAT_O_SEARCH		O_PATH
#elif defined(O_SEARCH)
#define COMPAT_O_SEARCH		O_SEARCH
#else
#define COMPAT_O_SEARCH		O_RDONLY
#endif

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

/*
 * Red-black trees: in base on OpenBSD, libbsd's header-only copy on
 * Linux (libbsd-dev; nothing to link).  Use RB_PROTOTYPE and
 * RB_GENERATE, not their _STATIC forms: libbsd's expand to __unused,
 * which glibc leaves undefined (Linux headers have members so named).
 */
#ifdef __OpenBSD__
#include <sys/tree.h>
#else
#include <bsd/sys/tree.h>
#endif

#ifndef nitems
#define nitems(_a)	(sizeof((_a)) / sizeof((_a)[0]))
#endif

/* Parse another argument vector with getopt(3) (sub-commands). */
#ifdef __OpenBSD__
#define getopt_reset()	do { optreset = 1; optind = 1; } while (0)
#else
#define getopt_reset()	do { optind = 1; } while (0)
#endif

#endif
