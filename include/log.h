/*
 * Logging: syslog, or stderr in the foreground (-d, -n, tests).
 */
#ifndef MAILD_LOG_H
#define MAILD_LOG_H

#include <stdarg.h>
#include <stddef.h>

void	log_init(int, int);		/* foreground, verbose */
void	log_procname(const char *);
void	log_setverbose(int);
/*
 * Also collect warnings in buf ("; " between them) until called with
 * NULL: the reasons a reload failed, for mailctl.
 */
void	log_capture(char *, size_t);
void	log_warn(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	log_warnx(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	log_info(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	log_debug(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2), __noreturn__));
void	fatalx(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2), __noreturn__));

#endif
