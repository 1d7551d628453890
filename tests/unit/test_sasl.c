/*
 * Unit tests for sasl.c: base64 responses and PLAIN splitting.
 */
#include <string.h>

#include "sasl.h"
#include "tap.h"

static void
test_decode(void)
{
	char	 out[SASL_MAX + 1], big[4000];
	size_t	 n;

	ok(sasl_decode("AGFsaWNlAHNlY3JldA==", 20, out, &n) == 0 &&
	    n == 13 && memcmp(out, "\0alice\0secret", 13) == 0,
	    "PLAIN response decoded");
	ok(sasl_decode("=", 1, out, &n) == 0 && n == 0, "= is empty");
	is_int(sasl_decode("", 0, out, &n), -1, "nothing at all");
	is_int(sasl_decode("YWJj ZA==", 9, out, &n), -1, "space inside");
	is_int(sasl_decode("YWJjZA=", 7, out, &n), -1, "bad padding");
	is_int(sasl_decode("YW*j", 4, out, &n), -1, "bad character");
	ok(sasl_decode("YWJj", 4, out, &n) == 0 && n == 3 &&
	    strcmp(out, "abc") == 0, "NUL-terminated");
	memset(big, 'A', sizeof(big));
	is_int(sasl_decode(big, 2732, out, &n), -1, "over SASL_MAX");
	ok(sasl_decode(big, 2728, out, &n) == 0 && n == 2046,
	    "just under SASL_MAX");
}

static void
test_plain(void)
{
	const char	*u, *p;
	size_t		 pl;

	ok(sasl_plain("\0alice\0secret", 13, &u, &p, &pl) == SASL_OK &&
	    strcmp(u, "alice") == 0 && pl == 6 && memcmp(p, "secret", 6) == 0,
	    "no authzid");
	ok(sasl_plain("alice\0alice\0pw", 14, &u, &p, &pl) == SASL_OK &&
	    strcmp(u, "alice") == 0 && pl == 2, "authzid = authcid");
	is_int(sasl_plain("bob\0alice\0pw", 12, &u, &p, &pl), SASL_AUTHZ,
	    "authzid of another user");
	is_int(sasl_plain("alice", 5, &u, &p, &pl), SASL_BAD, "no NUL");
	is_int(sasl_plain("\0alice", 6, &u, &p, &pl), SASL_BAD,
	    "no password part");
	is_int(sasl_plain("\0\0pw", 4, &u, &p, &pl), SASL_BAD, "empty user");
	is_int(sasl_plain("\0a\0p\0q", 7, &u, &p, &pl), SASL_BAD,
	    "NUL in the password");
	ok(sasl_plain("\0a\0", 3, &u, &p, &pl) == SASL_OK && pl == 0,
	    "empty password (the check refuses it later)");
}

int
main(void)
{
	test_decode();
	test_plain();
	return done_testing();
}
