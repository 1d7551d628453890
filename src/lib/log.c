/*
 * Logging to syslog, or to stderr when running in the foreground.
 * fatal() and fatalx() end the process; a child's death ends the daemon.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "log.h"

static int	 foreground = 1;
static int	 verbose;
static const char *procname = "maild";
static char	*capture;		/* warnings also go here, "; "-joined */
static size_t	 capture_len;

static void	 vlog(int, const char *, va_list);

void
log_init(int fg, int v)
{
	foreground = fg;
	verbose = v;
	if (!foreground)
		openlog("maild", LOG_PID | LOG_NDELAY, LOG_MAIL);
	tzset();
}

void
log_procname(const char *name)
{
	procname = name;
}

void
log_setverbose(int v)
{
	verbose = v;
}

void
log_capture(char *buf, size_t len)
{
	capture = buf;
	capture_len = len;
	if (buf != NULL && len > 0)
		buf[0] = '\0';
}

static void
log_captured(int pri, const char *msg)
{
	if (capture == NULL || pri > LOG_WARNING)
		return;
	if (capture[0] != '\0')
		(void)strlcat(capture, "; ", capture_len);
	(void)strlcat(capture, msg, capture_len);
}

static void
vlog(int pri, const char *fmt, va_list ap)
{
	char	 buf[2048];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	log_captured(pri, buf);
	if (foreground)
		fprintf(stderr, "%s: %s\n", procname, buf);
	else
		syslog(pri, "%s: %s", procname, buf);
}

static void
vlog_errno(int pri, int saved, const char *fmt, va_list ap)
{
	char	 buf[2048], full[2048 + 128];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (capture != NULL) {
		(void)snprintf(full, sizeof(full), "%s: %s", buf,
		    strerror(saved));
		log_captured(pri, full);
	}
	if (foreground)
		fprintf(stderr, "%s: %s: %s\n", procname, buf,
		    strerror(saved));
	else
		syslog(pri, "%s: %s: %s", procname, buf, strerror(saved));
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog_errno(LOG_WARNING, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog_errno(LOG_CRIT, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}
