/*
 * SPF (RFC 7208): check_host() for a client address, HELO name and MAIL
 * FROM, with every mechanism and modifier, macros, the lookup limits and
 * exp= explanations.
 *
 * The evaluator (spf.c, spf_parse.c) does no I/O.  spf_eval() runs the
 * whole check
 * from the start against the DNS answers the check has been given so
 * far, and either finishes or stops at the first answer it lacks ("restart
 * on miss"): it then lists the (name, type) queries it needs, at most
 * SPF_MAX_NEEDS at once (the addresses of all MX or PTR names of a
 * mechanism together); the caller asks them, hands each answer to
 * spf_answer() and calls spf_eval() again.  The limits bound the work:
 * at most SPF_MAX_QUERIES answers, each restart as cheap as a check whose
 * answers are all known.  spf_expire() says no more answers will come:
 * a lacking answer is then a temporary failure (temperror; an
 * explanation is left out).
 *
 * spf_check() (spf_check.c) is that loop over dns_query(), with a time
 * bound: it needs dns_init() and the caller's libevent loop.  Its
 * callback is called once, always later from the loop, never from inside
 * spf_check(); a check cannot be cancelled: pass an arg you can
 * validate, as with dns.h.
 *
 * Where RFC 7208 leaves a choice: a target name that is not a valid DNS
 * name after macro expansion matches nothing and counts as a void lookup
 * (include and redirect: permerror); every DNS query of a mechanism
 * (MX and PTR names' addresses too) and of %{p} that comes back empty
 * counts against the void limit, exp= never; more than 10 MX names is
 * a permerror, PTR names past 10 are ignored; all MX names' addresses
 * are looked up before any is compared (a DNS error on one is a
 * temperror); %{i} of IPv6 is lowercase nibbles (7.4's example);
 * unknown modifiers may not hold %{c}, %{r}, %{t} either (7.1); the
 * domain checked must be a host name of two labels or more (4.3), a
 * final dot allowed.  redirect= counts as a lookup only when it is
 * followed.  Records a resolver answers twice count once (RFC 2181 5).
 */
#ifndef MAILD_SPF_H
#define MAILD_SPF_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <time.h>

#include "dns.h"

enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR
};

#define SPF_MAX_LOOKUPS		10	/* DNS mechanisms and redirects */
#define SPF_MAX_VOID		2	/* lookups answering nothing */
#define SPF_MAX_NAMES		10	/* MX or PTR names of a mechanism */
#define SPF_MAX_QUERIES		128	/* answers of one check */
#define SPF_MAX_NEEDS		16	/* queries asked for at once */
#define SPF_TIMEOUT		20	/* seconds, spf_check() (4.6.4) */
#define SPF_MECH_MAX		128	/* the matching term, cut */
#define SPF_EXP_MAX		512	/* the explanation, cut */
#define SPF_PROBLEM_MAX		256
#define SPF_TEXT_MAX		512	/* HELO, MAIL FROM, receiver */

enum spf_state {
	SPF_DONE,
	SPF_NEED		/* spf_needs() lists the queries */
};

struct spf_params {
	struct sockaddr_storage	 addr;		/* v4-mapped IPv6 is IPv4 */
	const char		*helo;
	const char		*mailfrom;	/* NULL, "": the HELO check */
	const char		*receiver;	/* %{r}; NULL: "unknown" */
	time_t			 now;		/* %{t}; 0: time(NULL) */
	int			 timeout;	/* seconds, 0: SPF_TIMEOUT */
};

/*
 * The result.  domain: the domain checked (MAIL FROM's, or the HELO
 * name's); mechanism: the term that decided, at the top level or in
 * a record it redirected to, cut to SPF_MECH_MAX ("" for the default
 * result, none and errors); explanation: the exp= text on fail, else
 * ""; problem: what went wrong on permerror and temperror, for logs
 * and Authentication-Results comments, else "".  All printable ASCII:
 * a byte of the client's (in a macro's value) that is not is a '?'.
 */
struct spf_outcome {
	enum spf_result		 result;
	char			 domain[DNS_NAME_MAX + 1];
	char			 mechanism[SPF_MECH_MAX];
	char			 explanation[SPF_EXP_MAX];
	char			 problem[SPF_PROBLEM_MAX];
};

struct spf_need {
	char			 name[DNS_NAME_MAX + 1];
	int			 type;		/* DNS_T_* */
};

struct spf;

/* A check with the params copied (texts past SPF_TEXT_MAX cut). */
struct spf	*spf_new(const struct spf_params *);
void		 spf_free(struct spf *);
/* SPF_DONE: spf_outcome() is final; SPF_NEED: see spf_needs(). */
enum spf_state	 spf_eval(struct spf *);
/* The queries the last spf_eval() lacked: their number, *needs. */
size_t		 spf_needs(const struct spf *, const struct spf_need **);
/* The answer to a query (copied); others than those needed are kept. */
void		 spf_answer(struct spf *, const char *, int,
		    const struct dns_rrset *);
/* No more answers: spf_eval() treats the lacking ones as DNS errors. */
void		 spf_expire(struct spf *);
const struct spf_outcome *spf_outcome(const struct spf *);

/*
 * Whether a TXT record is an SPF record and its syntax (for a domain's
 * own record): 1 valid, 0 not an SPF record (no "v=spf1"), -1 not valid,
 * with the reason in problem.
 */
int		 spf_record_check(const char *, size_t, char *, size_t);
/*
 * Macro expansion (RFC 7208 7) with a check's values and d as the
 * current domain: as a domain-spec (exp 0: no c, r, t; the final dot
 * dropped, cut on the left to 253 bytes) or as explanation text (exp
 * 1).  1 expanded into out, 0 syntax error or no room, -1 %{p} lacks
 * DNS answers (spf_needs()).
 */
int		 spf_expand(struct spf *, const char *, const char *, int,
		    char *, size_t);
const char	*spf_strresult(enum spf_result);

typedef void (*spf_cb)(void *, const struct spf_outcome *);
/* The whole check over dns_query() (see above). */
void		 spf_check(const struct spf_params *, spf_cb, void *);

#endif
