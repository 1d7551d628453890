/*
 * Addresses (address.c): a bare "user@domain" as tables, logins and
 * maild-sendmail give it, an SMTP path "<...>" with its source route,
 * the local part and domain checks, the path component check that keeps
 * a name inside its directory, dns_name_valid() for host names, and the
 * one address of a From header value that DKIM signing trusts.
 * The first byte chooses the flags (ADDR_ALLOW_UTF8, ADDR_ALLOW_NULL).
 *
 * Properties: a parsed address has a valid domain and a local part the
 * checks accept, and its text form parses back to the same address;
 * addr_parse_path() advances past its '>' and no further; a safe path
 * component holds no '/' and is not "." or "..".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "fuzz.h"
#include "maild.h"

static void	 check_parsed(const struct mailaddr *, int);

static void
check_parsed(const struct mailaddr *a, int flags)
{
	struct mailaddr	 b;
	char		 text[ADDR_MAX + 1];

	FUZZ_ASSERT(memchr(a->user, '\0', sizeof(a->user)) != NULL);
	FUZZ_ASSERT(memchr(a->domain, '\0', sizeof(a->domain)) != NULL);
	FUZZ_ASSERT(addr_valid_domain(a->domain, flags));
	FUZZ_ASSERT(addr_valid_localpart(a->user, flags));
	FUZZ_ASSERT(addr_to_text(a, text, sizeof(text)) == 0);
	if (addr_parse(text, &b, flags) != 0)
		fuzz_fail("\"%s\" does not parse again", text);
	FUZZ_ASSERT(strcmp(a->user, b.user) == 0);
	FUZZ_ASSERT(strcmp(a->domain, b.domain) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mailaddr	 a;
	const char	*sp;
	char		*s, name[DNS_NAME_MAX + 1];
	int		 flags;

	if (size < 1)
		return 0;
	flags = data[0] & (ADDR_ALLOW_UTF8 | ADDR_ALLOW_NULL);
	s = fuzz_strndup(data + 1, size - 1);

	if (addr_parse(s, &a, flags & ADDR_ALLOW_UTF8) == 0)
		check_parsed(&a, flags & ADDR_ALLOW_UTF8);

	sp = s;
	if (addr_parse_path(&sp, &a, flags) == 0) {
		FUZZ_ASSERT(sp > s && sp <= s + strlen(s));
		FUZZ_ASSERT(sp[-1] == '>');
		if (addr_is_null(&a))
			FUZZ_ASSERT(flags & ADDR_ALLOW_NULL);
		else
			check_parsed(&a, flags & ADDR_ALLOW_UTF8);
	} else
		FUZZ_ASSERT(sp == s);

	/* From: the address found is one a bare parse accepts too */
	if (addr_from_header(s, &a, flags & ADDR_ALLOW_UTF8) == 0)
		check_parsed(&a, flags & ADDR_ALLOW_UTF8);

	(void)addr_valid_localpart(s, flags);
	(void)addr_valid_domain(s, flags);
	if (path_component_safe(s)) {
		FUZZ_ASSERT(strchr(s, '/') == NULL);
		FUZZ_ASSERT(strcmp(s, ".") != 0 && strcmp(s, "..") != 0);
	}
	if (dns_name_valid(s, name, sizeof(name))) {
		FUZZ_ASSERT(strlen(name) <= DNS_NAME_MAX && name[0] != '\0');
		FUZZ_ASSERT(name[strlen(name) - 1] != '.');
	}
	free(s);
	return 0;
}
