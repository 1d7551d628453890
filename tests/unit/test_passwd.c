/*
 * Unit tests for passwd.c: hash field extraction, bcrypt and Argon2
 * verification (known answers, round trips, Dovecot prefixes), refusal
 * of weak or malformed schemes, hostile passwords, the dummy check.
 */
#include <sys/types.h>

#ifndef __OpenBSD__
#include <crypt.h>
#endif
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "log.h"
#include "passwd.h"
#include "tap.h"

/* Computed once with python3 crypt.crypt(), random salt, cost 4. */
#define PY_PASSWORD	"correct horse"
#define PY_HASH		\
	"$2b$04$xfcoTlrtXQs5iiRtx5.Aye.a/GXYVb2.hDJAmcoyGElx3oFfcTYNi"
/* Openwall crypt_blowfish test vector. */
#define OW_PASSWORD	"U*U"
#define OW_HASH		\
	"$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"

static void	 test_field(void);
static void	 bcrypt_make(const char *, const char *, char *, size_t);
static void	 argon2_make(const char *, size_t, int, char *, size_t);
static int	 verify_str(const char *, const char *);
static void	 test_bcrypt(void);
static void	 test_argon2(void);
static void	 test_dovecot(void);
static void	 test_malformed(void);
static void	 test_unsupported(void);
static void	 test_password_bounds(void);
static void	 test_hash_new(void);
static void	 test_dummy(void);
static void	 test_shacrypt(void);
static void	 test_bcrypt_new(void);

static int
verify_str(const char *hash, const char *pw)
{
	return passwd_verify(hash, pw, strlen(pw));
}

/* bcrypt hash of pw with a fixed setting ("$2b$04$<22 chars>"). */
static void
bcrypt_make(const char *setting, const char *pw, char *out, size_t outlen)
{
#ifdef __OpenBSD__
	(void)setting;
	if (crypt_newhash(pw, "bcrypt,4", out, outlen) != 0)
		abort();
#else
	struct crypt_data	*cd;
	const char		*r;

	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		abort();
	r = crypt_r(pw, setting, cd);
	if (r == NULL || r[0] == '*' || strlcpy(out, r, outlen) >= outlen)
		abort();
	free(cd);
#endif
}

/* Argon2 hash with libsodium's minimum limits, to keep the test fast. */
static void
argon2_make(const char *pw, size_t len, int alg, char *out, size_t outlen)
{
	char			 str[crypto_pwhash_STRBYTES];
	unsigned long long	 ops;

	/* Argon2i needs at least 3 passes */
	ops = alg == crypto_pwhash_ALG_ARGON2I13 ?
	    crypto_pwhash_argon2i_OPSLIMIT_MIN : crypto_pwhash_OPSLIMIT_MIN;
	if (crypto_pwhash_str_alg(str, pw, len, ops,
	    crypto_pwhash_MEMLIMIT_MIN, alg) != 0 ||
	    strlcpy(out, str, outlen) >= outlen)
		abort();
}

static void
test_field(void)
{
	char	 out[PASSWD_HASH_MAX], small[8];
	char	 big[PASSWD_HASH_MAX + 10];

	is_int(passwd_hash_field(PY_HASH, out, sizeof(out)), 0, "field: bare");
	is_str(out, PY_HASH, "field: bare hash");
	is_int(passwd_hash_field(PY_HASH "::::/var/vmail::userdb_quota_rule="
	    "*:storage=1G", out, sizeof(out)), 0, "field: dovecot fields");
	is_str(out, PY_HASH, "field: hash before dovecot fields");
	is_int(passwd_hash_field("{BLF-CRYPT}" PY_HASH ":1000:1000", out,
	    sizeof(out)), 0, "field: dovecot prefix kept");
	is_str(out, "{BLF-CRYPT}" PY_HASH, "field: prefix and hash");
	is_int(passwd_hash_field("", out, sizeof(out)), -1, "field: empty");
	is_int(passwd_hash_field(":1000:1000", out, sizeof(out)), -1,
	    "field: empty before colon");
	is_int(passwd_hash_field("1234567", small, sizeof(small)), 0,
	    "field: exactly fits");
	is_str(small, "1234567", "field: exact copy");
	is_int(passwd_hash_field("12345678", small, sizeof(small)), -1,
	    "field: one byte too long");
	is_int(passwd_hash_field("12345678:x", small, sizeof(small)), -1,
	    "field: too long before colon");
	is_int(passwd_hash_field("abc", small, 0), -1, "field: outlen 0");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	is_int(passwd_hash_field(big, out, sizeof(out)), -1,
	    "field: overlong value");
	is_int(passwd_hash_field("$2b$ 04", out, sizeof(out)), -1,
	    "field: space refused");
	is_int(passwd_hash_field("$2b$\t04", out, sizeof(out)), -1,
	    "field: tab refused");
	is_int(passwd_hash_field("$2b$\xc3\xa9", out, sizeof(out)), -1,
	    "field: non-ASCII refused");
}

static void
test_bcrypt(void)
{
	char	 h[128], h2[128];

	bcrypt_make("$2b$04$abcdefghijklmnopqrstuu", "secret", h, sizeof(h));
	is_int(strlen(h), 60, "bcrypt: generated hash is 60 bytes");
	is_int(verify_str(h, "secret"), 1, "bcrypt $2b$: right password");
	is_int(verify_str(h, "Secret"), 0, "bcrypt $2b$: wrong case");
	is_int(verify_str(h, "secret "), 0, "bcrypt $2b$: extra byte");
	is_int(verify_str(h, "secre"), 0, "bcrypt $2b$: prefix");
	/* the same salt under the other prefixes gives the same hash */
	memcpy(h2, h, sizeof(h2));
	h2[2] = 'a';
	is_int(verify_str(h2, "secret"), 1, "bcrypt $2a$: right password");
	h2[2] = 'y';
	is_int(verify_str(h2, "secret"), 1, "bcrypt $2y$: right password");
	is_int(verify_str(h2, "secreT"), 0, "bcrypt $2y$: wrong password");
	h2[2] = 'x';
	is_int(verify_str(h2, "secret"), -1, "bcrypt $2x$ refused");

	is_int(verify_str(PY_HASH, PY_PASSWORD), 1, "bcrypt: python3 literal");
	is_int(verify_str(PY_HASH, "correct horse battery"), 0,
	    "bcrypt: python3 literal, wrong password");
	is_int(verify_str(OW_HASH, OW_PASSWORD), 1, "bcrypt: openwall vector");
	is_int(verify_str(OW_HASH, "U*U*"), 0,
	    "bcrypt: openwall vector, wrong password");
	/* a changed hash byte no longer matches */
	memcpy(h2, PY_HASH, sizeof(PY_HASH));
	h2[59] = h2[59] == 'i' ? 'j' : 'i';
	is_int(verify_str(h2, PY_PASSWORD), 0, "bcrypt: altered hash");
}

static void
test_argon2(void)
{
	char	 h[128], h2[128];

	argon2_make("secret", 6, crypto_pwhash_ALG_ARGON2ID13, h, sizeof(h));
	ok(strncmp(h, "$argon2id$v=19$", 15) == 0, "argon2id: made %s", h);
	is_int(verify_str(h, "secret"), 1, "argon2id: right password");
	is_int(verify_str(h, "secreT"), 0, "argon2id: wrong password");
	is_int(verify_str(h, "secret\n"), 0, "argon2id: extra byte");

	argon2_make("secret", 6, crypto_pwhash_ALG_ARGON2I13, h2, sizeof(h2));
	ok(strncmp(h2, "$argon2i$v=19$", 14) == 0, "argon2i: made %s", h2);
	is_int(verify_str(h2, "secret"), 1, "argon2i: right password");
	is_int(verify_str(h2, "secrets"), 0, "argon2i: wrong password");
}

static void
test_dovecot(void)
{
	char	 a[128], ai[128], b[128], buf[256];

	argon2_make("pw1", 3, crypto_pwhash_ALG_ARGON2ID13, a, sizeof(a));
	argon2_make("pw1", 3, crypto_pwhash_ALG_ARGON2I13, ai, sizeof(ai));
	bcrypt_make("$2b$04$0123456789abcdefghijkl", "pw1", b, sizeof(b));

	snprintf(buf, sizeof(buf), "{BLF-CRYPT}%s", b);
	is_int(verify_str(buf, "pw1"), 1, "{BLF-CRYPT}: right password");
	is_int(verify_str(buf, "pw2"), 0, "{BLF-CRYPT}: wrong password");
	snprintf(buf, sizeof(buf), "{blf-crypt}%s", b);
	is_int(verify_str(buf, "pw1"), 1, "{blf-crypt}: case-insensitive");
	snprintf(buf, sizeof(buf), "{ARGON2ID}%s", a);
	is_int(verify_str(buf, "pw1"), 1, "{ARGON2ID}: right password");
	is_int(verify_str(buf, "pw2"), 0, "{ARGON2ID}: wrong password");
	snprintf(buf, sizeof(buf), "{ARGON2I}%s", ai);
	is_int(verify_str(buf, "pw1"), 1, "{ARGON2I}: right password");

	/* the prefix must match the hash it announces */
	snprintf(buf, sizeof(buf), "{BLF-CRYPT}%s", a);
	is_int(verify_str(buf, "pw1"), -1, "{BLF-CRYPT} on argon2 refused");
	snprintf(buf, sizeof(buf), "{ARGON2ID}%s", b);
	is_int(verify_str(buf, "pw1"), -1, "{ARGON2ID} on bcrypt refused");
	is_int(verify_str("{BLF-CRYPT}", "pw1"), -1, "{BLF-CRYPT} alone");
	is_int(verify_str("{ARGON2ID}", "pw1"), -1, "{ARGON2ID} alone");
	snprintf(buf, sizeof(buf), "{BLF-CRYPT}{BLF-CRYPT}%s", b);
	is_int(verify_str(buf, "pw1"), -1, "double prefix refused");
	snprintf(buf, sizeof(buf), "{BLF-CRYPT %s", b);
	is_int(verify_str(buf, "pw1"), -1, "unterminated prefix refused");
}

static void
test_malformed(void)
{
	char	 a[128], b[128], buf[256];
	size_t	 i, alen, min_ok;
	int	 bad;

	argon2_make("pw", 2, crypto_pwhash_ALG_ARGON2ID13, a, sizeof(a));
	bcrypt_make("$2b$04$abcdefghijklmnopqrstuu", "pw", b, sizeof(b));

	/* every truncation of a bcrypt hash is malformed */
	bad = 0;
	for (i = 0; i < strlen(b); i++) {
		memcpy(buf, b, i);
		buf[i] = '\0';
		if (verify_str(buf, "pw") != -1)
			bad++;
	}
	is_int(bad, 0, "bcrypt: all truncations -1");
	snprintf(buf, sizeof(buf), "%sx", b);
	is_int(verify_str(buf, "pw"), -1, "bcrypt: one byte too long");
	memcpy(buf, b, sizeof(b));
	buf[20] = '!';
	is_int(verify_str(buf, "pw"), -1, "bcrypt: bad character");
	memcpy(buf, b, sizeof(b));
	buf[4] = '0'; buf[5] = '3';
	is_int(verify_str(buf, "pw"), -1, "bcrypt: cost 03");
	buf[4] = '1'; buf[5] = '9';
	is_int(verify_str(buf, "pw"), -1, "bcrypt: cost 19 over the maximum");
	buf[4] = '3'; buf[5] = '1';
	is_int(verify_str(buf, "pw"), -1, "bcrypt: cost 31 refused");
	buf[4] = 'a'; buf[5] = '4';
	is_int(verify_str(buf, "pw"), -1, "bcrypt: cost not a number");

	/*
	 * Every truncation that leaves less than 16 bytes (22 base64
	 * characters) of hash is malformed; longer ones are just wrong.
	 */
	alen = strlen(a);
	min_ok = strrchr(a, '$') - a + 1 + 22;
	bad = 0;
	for (i = 0; i < alen; i++) {
		int want = i < min_ok || (i - (min_ok - 22)) % 4 == 1 ? -1 : 0;

		memcpy(buf, a, i);
		buf[i] = '\0';
		if (verify_str(buf, "pw") != want) {
			printf("# truncated to %zu: %d\n", i,
			    verify_str(buf, "pw"));
			bad++;
		}
	}
	is_int(bad, 0, "argon2id: truncations -1 (or 0 with a shorter hash)");
	snprintf(buf, sizeof(buf), "%s=", a);
	is_int(verify_str(buf, "pw"), -1, "argon2id: base64 padding");
	snprintf(buf, sizeof(buf), "%s$", a);
	is_int(verify_str(buf, "pw"), -1, "argon2id: trailing $");

	is_int(verify_str("$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "pw"), 0,
	    "argon2id: well formed, wrong hash");
	is_int(verify_str("$argon2id$v=16$m=65536,t=2,p=1$c2FsdHNhbHQ$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "pw"), -1,
	    "argon2id: version 16");
	is_int(verify_str("$argon2id$m=65536,t=2,p=1$c2FsdHNhbHQ$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "pw"), -1,
	    "argon2id: no version");
	is_int(verify_str("$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHQ$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "pw"), -1,
	    "argon2id: 4 GiB of memory refused");
	is_int(verify_str("$argon2id$v=19$m=99999999999999999999999,t=2,p=1$"
	    "c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "pw"),
	    -1, "argon2id: huge m (overflow) refused");
	is_int(verify_str("$argon2id$v=19$m=65536,t=33,p=1$c2FsdHNhbHQ$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "pw"), -1,
	    "argon2id: 33 passes refused");
	is_int(verify_str("$argon2id$v=19$m=65536,t=0,p=1$c2FsdHNhbHQ$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "pw"), -1,
	    "argon2id: t=0");
	is_int(verify_str("$argon2id$v=19$m=4,t=2,p=1$c2FsdHNhbHQ$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "pw"), -1,
	    "argon2id: m below 8 KiB");
	is_int(verify_str("$argon2id$v=19$m=065536,t=2,p=1$c2FsdHNhbHQ$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "pw"), -1,
	    "argon2id: leading zero");
	is_int(verify_str("$argon2id$v=19$m=65536,p=1,t=2$c2FsdHNhbHQ$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "pw"), -1,
	    "argon2id: parameters out of order");
	is_int(verify_str("$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "pw"), -1,
	    "argon2id: salt under 8 bytes");
	is_int(verify_str("$argon2id$v=19$m=65536,t=2,p=1$c2Fs*GFsdHNhbHQ$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "pw"), -1,
	    "argon2id: bad base64 in salt");
	is_int(verify_str("$argon2d$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "pw"), -1,
	    "argon2d refused");
	is_int(verify_str("$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAA", "pw"), -1,
	    "argon2id: hash over 64 bytes");
}

/* Vectors of Drepper's SHA-crypt specification ("Hello world!"). */
#define SHA512_HW	"$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl" \
			"/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
#define SHA256_HW	"$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZ" \
			"aBBGWEc5"
#define SHA512_R10K	"$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZ" \
			"u8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTB" \
			"mSK6H9qs/y3RnOaw5v."

static void
test_shacrypt(void)
{
#ifdef __OpenBSD__
	is_int(verify_str(SHA512_HW, "Hello world!"), -1,
	    "SHA512-crypt: not on OpenBSD");
#else
	is_int(verify_str(SHA512_HW, "Hello world!"), 1,
	    "SHA512-crypt ($6$, smtpctl encrypt on Debian): right password");
	is_int(verify_str(SHA512_HW, "Hello world"), 0,
	    "SHA512-crypt: wrong password");
	is_int(verify_str(SHA256_HW, "Hello world!"), 1,
	    "SHA256-crypt ($5$): right password");
	is_int(verify_str(SHA256_HW, "hello world!"), 0,
	    "SHA256-crypt: wrong password");
	is_int(verify_str(SHA512_R10K, "Hello world!"), 1,
	    "SHA512-crypt rounds=10000");
	is_int(verify_str("{SHA512-CRYPT}" SHA512_HW, "Hello world!"), 1,
	    "Dovecot {SHA512-CRYPT}");
	is_int(verify_str("{sha256-crypt}" SHA256_HW, "Hello world!"), 1,
	    "Dovecot {sha256-crypt}");
	is_int(passwd_verify(SHA512_HW, "Hello world!\0x", 14), 0,
	    "SHA512-crypt: NUL refused");
#endif
	is_int(verify_str("{BLF-CRYPT}" SHA512_HW, "Hello world!"), -1,
	    "{BLF-CRYPT} on SHA-crypt refused");
	is_int(verify_str("{SHA512-CRYPT}" PY_HASH, PY_PASSWORD), -1,
	    "{SHA512-CRYPT} on bcrypt refused");
	is_int(verify_str("$6$rounds=2000000$salt$RGtuF2mE05TB6rUyIulb32WWdQa"
	    "Nk4LHUgzdNP6PnsuK2FA1HE.hfeZI/cdl7pqVICMUhbf61QiS.7lddK/2V0",
	    "Hello world!"), -1, "SHA512-crypt: 2,000,000 rounds refused");
	is_int(verify_str("$6$rounds=999$saltstring$svn8UoSVapNtMuq1ukKS4tPQd"
	    "8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
	    "Hello world!"), -1, "SHA512-crypt: rounds under 1000 refused");
	is_int(verify_str("$6$rounds=01000$saltstring$svn8UoSVapNtMuq1ukKS4tP"
	    "Qd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
	    "Hello world!"), -1, "SHA512-crypt: leading zero refused");
	is_int(verify_str("$6$saltstringsaltstr$svn8UoSVapNtMuq1ukKS4tPQd8iKw"
	    "SMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
	    "Hello world!"), -1, "SHA512-crypt: 17-byte salt refused");
	is_int(verify_str("$6$$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnI"
	    "FNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!"), -1,
	    "SHA512-crypt: empty salt refused");
	is_int(verify_str(SHA512_HW "a", "Hello world!"), -1,
	    "SHA512-crypt: hash one byte too long");
	is_int(verify_str("$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNoo*"
	    "aBBGWEc5", "Hello world!"), -1,
	    "SHA256-crypt: bad character");
	is_int(verify_str("$7$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZ"
	    "aBBGWEc5", "Hello world!"), -1, "$7$ refused");
}

static void
test_bcrypt_new(void)
{
	char	 h[PASSWD_HASH_MAX], pw[PASSWD_BCRYPT_MAX + 2];

	is_int(passwd_bcrypt_new("hunter2", 7, h, sizeof(h)), 0,
	    "bcrypt_new: ok");
	ok(strncmp(h, "$2b$10$", 7) == 0 && strlen(h) == 60,
	    "bcrypt_new: $2b$, cost 10: %s", h);
	is_int(verify_str(h, "hunter2"), 1, "bcrypt_new: round trip");
	is_int(verify_str(h, "hunter3"), 0, "bcrypt_new: wrong password");
	memset(pw, 'x', sizeof(pw) - 1);
	pw[sizeof(pw) - 1] = '\0';
	is_int(passwd_bcrypt_new(pw, PASSWD_BCRYPT_MAX, h, sizeof(h)), 0,
	    "bcrypt_new: 72 bytes");
	is_int(passwd_bcrypt_new(pw, PASSWD_BCRYPT_MAX + 1, h, sizeof(h)), -1,
	    "bcrypt_new: 73 bytes refused (bcrypt would ignore the end)");
	is_int(passwd_bcrypt_new("", 0, h, sizeof(h)), -1,
	    "bcrypt_new: empty refused");
	is_int(passwd_bcrypt_new("a\0b", 3, h, sizeof(h)), -1,
	    "bcrypt_new: NUL refused");
	is_int(passwd_bcrypt_new("hunter2", 7, h, 20), -1,
	    "bcrypt_new: output too small");
}

static void
test_unsupported(void)
{
	char	 big[PASSWD_HASH_MAX + 100];

	is_int(verify_str("$1$abc$iCQ2D3nhptRYi27fDYv2s1", "secret"), -1,
	    "MD5-crypt refused");
	is_int(verify_str("abNANd1rDfiNc", "secret"), -1, "DES refused");
	is_int(verify_str("$6$saltsalt$abc", "secret"), -1,
	    "SHA512-crypt with a short hash refused");
	is_int(verify_str("$y$j9T$salt$hash", "secret"), -1,
	    "yescrypt refused");
	is_int(verify_str("secret", "secret"), -1,
	    "plaintext refused even when equal");
	is_int(verify_str("{PLAIN}secret", "secret"), -1, "{PLAIN} refused");
	is_int(verify_str("{plain}secret", "secret"), -1, "{plain} refused");
	is_int(verify_str("{CLEARTEXT}secret", "secret"), -1,
	    "{CLEARTEXT} refused");
	is_int(verify_str("{CRYPT}abNANd1rDfiNc", "secret"), -1,
	    "{CRYPT} refused");
	is_int(verify_str("{MD5-CRYPT}$1$abc$iCQ2D3nhptRYi27fDYv2s1",
	    "secret"), -1, "{MD5-CRYPT} refused");
	is_int(verify_str("{SHA512-CRYPT}$6$saltsalt$abc", "secret"), -1,
	    "{SHA512-CRYPT} with a short hash refused");
	is_int(verify_str("{BLF-CRYPT}$1$abc$iCQ2D3nhptRYi27fDYv2s1",
	    "secret"), -1, "{BLF-CRYPT} on MD5 refused");
	is_int(verify_str("", "secret"), -1, "empty hash");
	is_int(verify_str("*", "secret"), -1, "locked hash '*'");
	is_int(verify_str("!" PY_HASH, PY_PASSWORD), -1,
	    "locked hash '!' prefix");
	is_int(passwd_verify(NULL, "secret", 6), -1, "NULL hash");
	memset(big, '$', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	is_int(verify_str(big, "secret"), -1, "overlong hash");
}

static void
test_password_bounds(void)
{
	char	 b[128], a[128];
	char	*pw;

	bcrypt_make("$2b$04$abcdefghijklmnopqrstuu", "sec", b, sizeof(b));
	argon2_make("sec", 3, crypto_pwhash_ALG_ARGON2ID13, a, sizeof(a));
	/* crypt(3) would stop at the NUL and accept "sec\0ret" */
	is_int(passwd_verify(b, "sec\0ret", 7), 0, "bcrypt: NUL refused");
	is_int(passwd_verify(b, "sec", 3), 1, "bcrypt: without the NUL");
	is_int(passwd_verify(b, "sec\0", 4), 0, "bcrypt: trailing NUL");
	is_int(passwd_verify(a, "sec\0ret", 7), 0, "argon2id: NUL refused");
	is_int(passwd_verify(b, "", 0), 0, "bcrypt: empty password");
	is_int(passwd_verify(a, "", 0), 0, "argon2id: empty password");
	is_int(passwd_verify(a, NULL, 0), 0, "argon2id: NULL password");
	/* the length, not a NUL, ends the password */
	is_int(passwd_verify(a, "secXXX", 3), 1, "argon2id: length bounds");
	is_int(passwd_verify(b, "secXXX", 3), 1, "bcrypt: length bounds");

	if ((pw = malloc(PASSWD_MAX + 2)) == NULL)
		abort();
	memset(pw, 'p', PASSWD_MAX + 1);
	pw[PASSWD_MAX + 1] = '\0';
	argon2_make(pw, PASSWD_MAX, crypto_pwhash_ALG_ARGON2ID13, a,
	    sizeof(a));
	is_int(passwd_verify(a, pw, PASSWD_MAX), 1,
	    "argon2id: PASSWD_MAX-byte password");
	is_int(passwd_verify(a, pw, PASSWD_MAX + 1), 0,
	    "argon2id: PASSWD_MAX+1 bytes refused");
	/* bcrypt reads 72 bytes: any longer password is the same to it */
	pw[100] = '\0';
	bcrypt_make("$2b$04$abcdefghijklmnopqrstuu", pw, b, sizeof(b));
	pw[100] = 'p';
	is_int(passwd_verify(b, pw, 100), 1, "bcrypt: 100-byte password");
	is_int(passwd_verify(b, pw, PASSWD_MAX), 1,
	    "bcrypt: PASSWD_MAX-byte password, same first 72 bytes");
	is_int(passwd_verify(b, pw, 72), 1, "bcrypt: first 72 bytes match");
	is_int(passwd_verify(b, pw, 71), 0, "bcrypt: 71 bytes do not");
	is_int(passwd_verify(b, pw, PASSWD_MAX + 1), 0,
	    "bcrypt: PASSWD_MAX+1 bytes refused");
	free(pw);
}

static void
test_hash_new(void)
{
	char	 out[PASSWD_HASH_MAX], out2[PASSWD_HASH_MAX], small[32];

	is_int(passwd_hash_new("hunter2", 7, out, sizeof(out)), 0,
	    "hash_new: ok");
	ok(strncmp(out, "$argon2id$v=19$m=65536,t=2,p=1$", 31) == 0,
	    "hash_new: argon2id INTERACTIVE: %s", out);
	is_int(verify_str(out, "hunter2"), 1, "hash_new: round trip");
	is_int(verify_str(out, "hunter3"), 0, "hash_new: wrong password");
	is_int(passwd_hash_field(out, out2, sizeof(out2)), 0,
	    "hash_new: fits a table field");
	is_int(passwd_hash_new("hunter2", 7, small, sizeof(small)), -1,
	    "hash_new: output too small");
	is_str(small, "", "hash_new: output wiped on failure");
	is_int(passwd_hash_new("hun\0ter", 7, out2, sizeof(out2)), -1,
	    "hash_new: NUL refused");
	is_int(passwd_hash_new("", 0, out2, sizeof(out2)), -1,
	    "hash_new: empty refused");
	is_int(passwd_hash_new("x", PASSWD_MAX + 1, out2, sizeof(out2)), -1,
	    "hash_new: overlong refused");
}

static void
test_dummy(void)
{
	char	 a[128], ai[128], key[64];

	is_int(passwd_cost_key(PY_HASH, key, sizeof(key)), 0, "cost: bcrypt");
	is_str(key, "bcrypt cost 4", "cost: bcrypt 4");
	is_int(passwd_cost_key(OW_HASH, key, sizeof(key)), 0, "cost: $2a$");
	is_str(key, "bcrypt cost 5", "cost: $2a$ 5");
	is_int(passwd_cost_key("{BLF-CRYPT}" OW_HASH, key, sizeof(key)), 0,
	    "cost: Dovecot BLF-CRYPT");
	is_str(key, "bcrypt cost 5", "cost: Dovecot prefix ignored");
	is_int(passwd_cost_key(SHA512_HW, key, sizeof(key)), 0, "cost: $6$");
	is_str(key, "SHA512-crypt rounds=5000", "cost: $6$ default rounds");
	is_int(passwd_cost_key(SHA256_HW, key, sizeof(key)), 0, "cost: $5$");
	is_str(key, "SHA256-crypt rounds=5000", "cost: $5$ default rounds");
	is_int(passwd_cost_key(SHA512_R10K, key, sizeof(key)), 0,
	    "cost: $6$rounds=");
	is_str(key, "SHA512-crypt rounds=10000", "cost: $6$ rounds=10000");
	argon2_make("x", 1, crypto_pwhash_ALG_ARGON2ID13, a, sizeof(a));
	argon2_make("x", 1, crypto_pwhash_ALG_ARGON2I13, ai, sizeof(ai));
	is_int(passwd_cost_key(a, key, sizeof(key)), 0, "cost: argon2id");
	ok(strncmp(key, "argon2id m=", 11) == 0 &&
	    strcmp(key + 11 + strspn(key + 11, "0123456789"), ",t=1,p=1") == 0,
	    "cost: argon2id m,t,p");
	is_int(passwd_cost_key(ai, key, sizeof(key)), 0, "cost: argon2i");
	ok(strncmp(key, "argon2i m=", 10) == 0 &&
	    strcmp(key + 10 + strspn(key + 10, "0123456789"), ",t=3,p=1") == 0,
	    "cost: argon2i m,t,p");
	is_int(passwd_cost_key("{PLAIN}nonsense", key, sizeof(key)), -1,
	    "cost: refused scheme");
	is_int(passwd_cost_key("$1$abc$def", key, sizeof(key)), -1,
	    "cost: MD5-crypt refused");
	is_int(passwd_cost_key(PY_HASH, key, 8), -1, "cost: key too small");
	is_int(passwd_cost_key(NULL, key, sizeof(key)), -1, "cost: NULL");

	/* never a match, whatever the password and the dummy */
	passwd_dummy_verify(PY_HASH, PY_PASSWORD, strlen(PY_PASSWORD));
	passwd_dummy_verify(PY_HASH, "sec\0ret", 7);
	passwd_dummy_verify(a, "x", 1);
	passwd_dummy_verify("{PLAIN}nonsense", "nonsense", 8);
	passwd_dummy_verify(NULL, "x", 1);
	passwd_dummy_verify("", NULL, 0);
	ok(1, "dummy: real, bad and default dummies return (nothing to leak)");
}

int
main(void)
{
	log_init(1, 0);
	if (sodium_init() < 0)
		return 1;
	test_field();
	test_bcrypt();
	test_argon2();
	test_dovecot();
	test_malformed();
	test_unsupported();
	test_password_bounds();
	test_hash_new();
	test_dummy();
	test_shacrypt();
	test_bcrypt_new();
	return done_testing();
}
