/*
 * What the files of the SPF evaluator share, and nothing else does:
 *
 *	spf.c		the check: spf.h's interface, check_host(), the
 *			mechanisms, DNS answers, limits, macro values
 *	spf_parse.c	the syntax of appendix A: terms, domain-specs,
 *			macro strings and their expansion
 *	spf_check.c	spf_check(), the check over dns_query()
 *
 * Functions here carry the spf_ prefix; they are for these files only.
 */
#ifndef MAILD_SPF_PRIV_H
#define MAILD_SPF_PRIV_H

#include <stddef.h>

#include "spf.h"

/*
 * Internal codes, all negative: the results of enum spf_result (>= 0)
 * returned by a helper are SPF_TEMPERROR or SPF_PERMERROR, which end the
 * check, as SR_NEED ends the run.
 */
#define SR_NEED		(-1)	/* an answer is lacking */
#define SR_OK		(-2)
#define SR_BAD		(-3)	/* malformed name or macro */
#define SR_MATCH	(-4)
#define SR_NOMATCH	(-5)
#define SR_DNSERR	(-6)	/* a DNS error the caller may ignore */

#define SPF_EXPAND_MAX	4096	/* a domain-spec expanded, before the cut */
#define SPF_VALUE_MAX	(2 * SPF_TEXT_MAX + 2)	/* %{s}: local@domain */

enum mech { M_ALL, M_INCLUDE, M_A, M_MX, M_PTR, M_IP4, M_IP6, M_EXISTS };
enum mod { MOD_NONE, MOD_REDIRECT, MOD_EXP, MOD_UNKNOWN };
enum spf_xmode { X_DOMAIN, X_TEXT };

/* A term of a record; text and spec point into the record. */
struct spf_term {
	const char		*text;		/* the whole term */
	size_t			 len;
	enum mod		 mod;		/* MOD_NONE: a mechanism */
	enum mech		 mech;
	enum spf_result		 qual;
	const char		*spec;		/* domain-spec, NULL: none */
	size_t			 speclen;
	int			 cidr4;
	int			 cidr6;
	unsigned char		 net[16];
};

/* Where expansion writes: a bounded buffer, or nothing (a check). */
struct spf_sink {
	char			*buf;
	size_t			 size;
	size_t			 len;
	int			 full;
};

/* spf_parse.c */
int	spf_term_parse(const char *, size_t, struct spf_term *, char *,
	    size_t);
int	spf_next_term(const char *, size_t, size_t *, const char **,
	    size_t *);
int	spf_record_terms(const char *, size_t, const char *,
	    struct spf_term *, struct spf_term *, char *, size_t);
int	spf_spec_valid(const char *, size_t);
int	spf_macro_expand(struct spf *, const char *, const char *, size_t,
	    enum spf_xmode, struct spf_sink *, size_t *, int *);

/* spf.c: the value of a macro letter, %{p} needing DNS answers. */
int	spf_macro_value(struct spf *, int, const char *, char *, size_t);

#endif
