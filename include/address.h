/*
 * Addresses (address.c): SMTP paths, From header addresses, path
 * components.
 */
#ifndef MAILD_ADDRESS_H
#define MAILD_ADDRESS_H

#include <stddef.h>

#include "maild.h"

struct mailaddr {
	char	user[LOCALPART_MAX + 1];
	char	domain[DOMAIN_MAX + 1];
};

#define ADDR_ALLOW_UTF8		0x01	/* SMTPUTF8: non-ASCII allowed */
#define ADDR_ALLOW_NULL		0x02	/* "<>" accepted (MAIL FROM) */

/*
 * Parse an SMTP path "<user@domain>" (source route ignored) at *sp;
 * on success store it (null path: both fields empty), advance *sp past
 * the closing '>' and return 0; -1 on a syntax error.
 */
int	addr_parse_path(const char **, struct mailaddr *, int);
/* Parse a bare "user@domain"; 0 or -1. */
int	addr_parse(const char *, struct mailaddr *, int);
/* The one address of a From header value ("Name <a@b>"); 0 or -1. */
int	addr_from_header(const char *, struct mailaddr *, int);
int	addr_valid_localpart(const char *, int);
int	addr_valid_domain(const char *, int);
/* "user@domain", or "" for the null address; -1 if it does not fit. */
int	addr_to_text(const struct mailaddr *, char *, size_t);
int	addr_is_null(const struct mailaddr *);
struct sockaddr_storage;
/* 127.0.0.0/8 or ::1: a client (or listener) on this machine. */
int	addr_sa_loopback(const struct sockaddr_storage *);
/* 1 if ss is in the network net/plen (same family; v4 or v6). */
int	addr_sa_in_net(const struct sockaddr_storage *,
	    const struct sockaddr_storage *, int);
void	str_lower(char *);
/*
 * 1 if s may be used as one path component: not empty, not "." or "..",
 * no '/', no NUL, no control characters, no leading '.'.
 */
int	path_component_safe(const char *);

#endif
