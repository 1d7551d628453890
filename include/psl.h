/*
 * The Public Suffix List (publicsuffix.org; Debian: package publicsuffix,
 * /usr/share/publicsuffix/public_suffix_list.dat) and the organisational
 * domain DMARC needs (RFC 7489 3.2: the public suffix plus one label).
 *
 * The parent reads the file once (psl_load_file); a child that only has
 * the text rebuilds the same table with psl_load_buffer.  Rules are kept
 * in A-label form (U-labels of the list are Punycode-encoded on load) in
 * one string pool and an open-addressing hash table: under 1 MB for the
 * whole list (9,500 rules), a lookup costs a hash probe or two a label.
 * Both the ICANN and the PRIVATE sections are used unless
 * PSL_ICANN_ONLY is given: a PRIVATE entry such as github.io or
 * blogspot.com is a registry whose customers are strangers to each other,
 * so mallory.github.io must not align with alice.github.io
 * (python3-authheaders, through publicsuffix2, uses the whole list too).
 *
 * Domains given to the lookups are lowercased (ASCII), lose one trailing
 * dot, and their U-labels (valid UTF-8, assumed NFC and lowercase as
 * IDNA2008 wants them) become A-labels; A-labels are taken as they are.
 * Nothing here does I/O except psl_load_file.
 */
#ifndef MAILD_PSL_H
#define MAILD_PSL_H

#include <stddef.h>

#define PSL_FILE_MAX		(4 * 1024 * 1024) /* bytes of list text */
#define PSL_RULES_MAX		100000	/* rules in one list */
#define PSL_LINE_MAX		1024	/* bytes of one line */
#define PSL_NAME_MAX		253	/* a domain, A-label form, no dot */
#define PSL_LABELS_MAX		127	/* labels of one domain */

#define PSL_ICANN_ONLY		0x01	/* skip the PRIVATE section */

struct psl;

/*
 * Load the list from a file or from text (name is used in messages).
 * NULL with "name:line: reason" (or the system error) in err for a file
 * that cannot be read, is larger than PSL_FILE_MAX, holds a NUL byte or
 * a bad rule (empty label, label over 63 bytes, '*' not a whole leftmost
 * label, "!" rule of one label, invalid UTF-8, bad character), has more
 * than PSL_RULES_MAX rules or none at all.
 */
struct psl	*psl_load_file(const char *path, int flags, char *err,
		    size_t errlen);
struct psl	*psl_load_buffer(const char *buf, size_t len, const char *name,
		    int flags, char *err, size_t errlen);
void		 psl_free(struct psl *);
size_t		 psl_rules(const struct psl *);	/* rules loaded */

/*
 * The lookup form of a domain in out (at least PSL_NAME_MAX + 1 bytes):
 * lowercase, no trailing dot, A-labels.  0, or -1 for an empty or too
 * long domain or label, an empty label (leading dot, ".."), a byte that
 * is not a letter, digit, '-', '_' or part of valid UTF-8.
 */
int		 psl_normalize(const char *domain, char *out, size_t outlen);

/*
 * The public suffix of domain (publicsuffix.org algorithm: the longest
 * matching rule, an exception rule first, "*" when nothing matches) and
 * the organisational domain (the suffix plus one label), in normalised
 * form into out.  psl_org_domain returns 1 when domain is at or below an
 * organisational domain, 0 when domain is itself a public suffix (out is
 * then domain, normalised: DMARC looks up its record there), -1 for a
 * domain psl_normalize refuses or an out too small.
 */
int		 psl_public_suffix(const struct psl *, const char *domain,
		    char *out, size_t outlen);
int		 psl_org_domain(const struct psl *, const char *domain,
		    char *out, size_t outlen);

#endif
