/*
 * Password hashes (passwd.c): the value of a passwd table entry, as the
 * lookup process takes its hash field apart and checks a login against
 * it, and as mailctl checks a hash it is given.  Only the parsing is
 * fuzzed: the password is always one passwd_verify() refuses before any
 * hashing (empty, or holding a NUL), so a well-formed bcrypt, SHA-crypt
 * or Argon2 hash costs nothing here; the real verification is in
 * tests/unit/test_passwd.c.
 *
 * Properties: a hash field holds only printable ASCII without spaces
 * and no ':'; a malformed hash is -1 whatever the password, a
 * well-formed one is 0 for such passwords, never 1.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "passwd.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*value, hash[PASSWD_HASH_MAX];
	size_t	 i;
	int	 a, b, c;

	value = fuzz_strndup(data, size);
	/* What lookup.c does with a table value before verifying. */
	if (passwd_hash_field(value, hash, sizeof(hash)) == 0) {
		FUZZ_ASSERT(hash[0] != '\0' && strlen(hash) < sizeof(hash));
		for (i = 0; hash[i] != '\0'; i++)
			FUZZ_ASSERT((unsigned char)hash[i] > 0x20 &&
			    (unsigned char)hash[i] < 0x7f && hash[i] != ':');
		a = passwd_verify(hash, "", 0);
		b = passwd_verify(hash, "pass\0word", 9);
		c = passwd_verify(hash, NULL, 0);
		FUZZ_ASSERT(a == b && b == c && (a == 0 || a == -1));
	}
	/* mailctl and the raw value, as a hash. */
	a = passwd_verify(value, NULL, 0);
	FUZZ_ASSERT(a == 0 || a == -1);
	free(value);
	return 0;
}
