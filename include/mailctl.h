/*
 * mailctl: the commands, one file per group, and what they share.
 *
 * Exit codes, for scripts: 0 done; 1 the command failed (the reason is
 * on standard error); 2 usage error; 3 maild is not running (no control
 * socket to talk to).
 */
#ifndef MAILD_MAILCTL_H
#define MAILD_MAILCTL_H

#include "config.h"
#include "maild.h"

#define MAILCTL_OK	0
#define MAILCTL_FAIL	1
#define MAILCTL_USAGE	2
#define MAILCTL_DOWN	3

extern const char	*mailctl_conf_path;	/* -f, or MAILD_CONF */

/* Print the usage and exit MAILCTL_USAGE. */
void	mailctl_usage(void) __attribute__((__noreturn__));
/*
 * The configuration (tables are not loaded, no key or certificate is
 * read), parsed once; errors are printed as file:line: message and
 * mailctl exits MAILCTL_FAIL.
 */
struct maild_conf *mailctl_conf(void);
/*
 * Send one request line to maild and print its answer to standard
 * output; returns the exit code (MAILCTL_OK, _FAIL or _DOWN).  quiet:
 * the answer is not printed (errors still are, on standard error).
 */
int	mailctl_request(const char *, int);
/*
 * A password after prompt, from the terminal without echo, or one line
 * of standard input when it is not a terminal.  0, or -1 (none, longer
 * than the buffer).
 */
int	mailctl_read_password(const char *, char *, size_t);

int	mailctl_dns(int, char **);	/* mailctl_dns.c */
int	mailctl_user(int, char **);	/* mailctl_table.c */
int	mailctl_alias(int, char **);	/* mailctl_table.c */
int	mailctl_check(int, char **);	/* mailctl_check.c */
int	mailctl_dmarc(int, char **);	/* mailctl_dmarc.c */

#endif
