/*
 * Password hashes: extracting the hash from a passwd table value,
 * verifying a password against Argon2 (libsodium) or bcrypt (crypt_r(3)
 * from libcrypt on Linux, crypt_checkpass(3) on OpenBSD) hashes, or
 * SHA-crypt ones ($5$, $6$: what Debian's OpenSMTPD smtpctl encrypt
 * makes; libcrypt only), making new Argon2id or bcrypt hashes, and a
 * dummy check for unknown users.
 *
 * Hashes are parsed strictly before any work is done, so that a malformed
 * entry is reported as such (-1) rather than as a wrong password, and so
 * that an absurd cost cannot stall the lookup process.
 */
#include <sys/types.h>

#ifndef __OpenBSD__
#include <crypt.h>
#endif
#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "compat.h"
#include "log.h"
#include "passwd.h"

enum passwd_scheme {
	SCHEME_BAD,
	SCHEME_BCRYPT,
	SCHEME_ARGON2,
	SCHEME_SHACRYPT
};

struct argon2_params {
	unsigned long long	 m;	/* KiB */
	unsigned long long	 t;
	unsigned long long	 p;
};

#define BCRYPT_LEN	60	/* "$2b$NN$" + 22 salt + 31 hash */

static void	 passwd_sodium_init(void);
static const char *strip_dovecot(const char *, enum passwd_scheme *);
static int	 b64_run(const char **, const char *, size_t *);
static int	 parse_num(const char **, const char *, unsigned long long,
		    unsigned long long *);
static int	 argon2_parse(const char *, struct argon2_params *);
static int	 bcrypt_parse(const char *, int *);
static int	 shacrypt_parse(const char *, unsigned long *);
static int	 verify_argon2(const char *, const char *, size_t);
static int	 verify_crypt(const char *, const char *, size_t, int);
static int	 crypt_make(const char *, unsigned long, const char *, char *,
		    size_t);
static int	 dummy_make(void);

static char	 dummy_hash[PASSWD_HASH_MAX];

static void
passwd_sodium_init(void)
{
	if (sodium_init() < 0)
		fatalx("sodium_init");
}

int
passwd_hash_field(const char *value, char *out, size_t outlen)
{
	size_t	 i;

	if (outlen == 0)
		return -1;
	for (i = 0; value[i] != '\0' && value[i] != ':'; i++) {
		/* hashes are printable ASCII without spaces */
		if ((unsigned char)value[i] <= 0x20 ||
		    (unsigned char)value[i] >= 0x7f)
			return -1;
		if (i + 1 >= outlen)
			return -1;
		out[i] = value[i];
	}
	out[i] = '\0';
	return i == 0 ? -1 : 0;
}

/*
 * Strip a Dovecot "{SCHEME}" prefix.  Returns the hash after it (or the
 * whole hash if there is none) and the scheme the prefix demands, or NULL
 * for a scheme we refuse ({PLAIN}, {CRYPT}, {MD5-CRYPT}, ...).
 */
static const char *
strip_dovecot(const char *hash, enum passwd_scheme *want)
{
	*want = SCHEME_BAD;
	if (hash[0] != '{')
		return hash;
	if (strncasecmp(hash, "{BLF-CRYPT}", 11) == 0) {
		*want = SCHEME_BCRYPT;
		return hash + 11;
	}
	if (strncasecmp(hash, "{ARGON2ID}", 10) == 0) {
		*want = SCHEME_ARGON2;
		return hash + 10;
	}
	if (strncasecmp(hash, "{ARGON2I}", 9) == 0) {
		*want = SCHEME_ARGON2;
		return hash + 9;
	}
	if (strncasecmp(hash, "{SHA512-CRYPT}", 14) == 0 ||
	    strncasecmp(hash, "{SHA256-CRYPT}", 14) == 0) {
		*want = SCHEME_SHACRYPT;
		return hash + 14;
	}
	return NULL;
}

/* Skip a run of unpadded base64 ending at stop; its decoded length. */
static int
b64_run(const char **pp, const char *stop, size_t *declen)
{
	const char	*p = *pp;
	size_t		 n;

	while (p < stop && (isalnum((unsigned char)*p) || *p == '+' ||
	    *p == '/'))
		p++;
	if (p != stop)
		return -1;
	n = p - *pp;
	if (n % 4 == 1)
		return -1;
	*declen = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
	*pp = p;
	return 0;
}

/* A decimal number without sign or leading zero, at most max. */
static int
parse_num(const char **pp, const char *name, unsigned long long max,
    unsigned long long *v)
{
	const char	*p = *pp;
	size_t		 len = strlen(name);

	if (strncmp(p, name, len) != 0)
		return -1;
	p += len;
	if (*p < '1' || *p > '9')
		return -1;
	*v = 0;
	while (*p >= '0' && *p <= '9') {
		*v = *v * 10 + (*p - '0');
		if (*v > max)
			return -1;
		p++;
	}
	*pp = p;
	return 0;
}

/*
 * $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash> (or argon2i),
 * base64 unpadded; within libsodium's minima and our maxima.
 */
static int
argon2_parse(const char *h, struct argon2_params *ap)
{
	const char	*p, *dollar;
	size_t		 saltlen, hashlen;

	if (strlen(h) >= crypto_pwhash_STRBYTES)
		return -1;
	if (strncmp(h, crypto_pwhash_argon2id_STRPREFIX,
	    strlen(crypto_pwhash_argon2id_STRPREFIX)) == 0)
		p = h + strlen(crypto_pwhash_argon2id_STRPREFIX);
	else if (strncmp(h, crypto_pwhash_argon2i_STRPREFIX,
	    strlen(crypto_pwhash_argon2i_STRPREFIX)) == 0)
		p = h + strlen(crypto_pwhash_argon2i_STRPREFIX);
	else
		return -1;
	if (strncmp(p, "v=19$", 5) != 0)
		return -1;
	p += 5;
	if (parse_num(&p, "m=", PASSWD_ARGON2_MEM_MAX, &ap->m) == -1 ||
	    parse_num(&p, ",t=", PASSWD_ARGON2_T_MAX, &ap->t) == -1 ||
	    parse_num(&p, ",p=", PASSWD_ARGON2_P_MAX, &ap->p) == -1)
		return -1;
	/* Argon2 needs 8 KiB of memory per lane */
	if (ap->m < 8 * ap->p || *p++ != '$')
		return -1;
	if ((dollar = strchr(p, '$')) == NULL ||
	    b64_run(&p, dollar, &saltlen) == -1 || saltlen < 8)
		return -1;
	p++;
	if (b64_run(&p, p + strlen(p), &hashlen) == -1 || hashlen < 16 ||
	    hashlen > 64)
		return -1;
	return 0;
}

/* $2b$NN$<53 chars of bcrypt base64>, also $2a$ and $2y$. */
static int
bcrypt_parse(const char *h, int *cost)
{
	size_t	 i;

	if (strlen(h) != BCRYPT_LEN || h[0] != '$' || h[1] != '2' ||
	    (h[2] != 'a' && h[2] != 'b' && h[2] != 'y') || h[3] != '$' ||
	    !isdigit((unsigned char)h[4]) || !isdigit((unsigned char)h[5]) ||
	    h[6] != '$')
		return -1;
	*cost = (h[4] - '0') * 10 + (h[5] - '0');
	if (*cost < 4 || *cost > PASSWD_BCRYPT_COST_MAX)
		return -1;
	for (i = 7; i < BCRYPT_LEN; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '.' && h[i] != '/')
			return -1;
	return 0;
}

/*
 * $5$ or $6$, an optional rounds=N$ (at most PASSWD_SHACRYPT_ROUNDS_MAX:
 * every check costs N hashes), a salt of up to 16 characters, $, and 43
 * or 86 characters of crypt base64.
 */
static int
shacrypt_parse(const char *h, unsigned long *roundsp)
{
	const char	*p, *salt;
	unsigned long long rounds = 5000;	/* the default */
	size_t		 n, want;

	if (h[0] != '$' || (h[1] != '5' && h[1] != '6') || h[2] != '$')
		return -1;
	want = h[1] == '5' ? 43 : 86;
	p = h + 3;
	if (strncmp(p, "rounds=", 7) == 0) {
		if (parse_num(&p, "rounds=", PASSWD_SHACRYPT_ROUNDS_MAX,
		    &rounds) == -1 || rounds < 1000 || *p++ != '$')
			return -1;
	}
	salt = p;
	while (*p != '\0' && *p != '$' && (isalnum((unsigned char)*p) ||
	    *p == '.' || *p == '/'))
		p++;
	if (*p != '$' || p == salt || p - salt > 16)
		return -1;
	p++;
	for (n = 0; p[n] != '\0'; n++)
		if (!isalnum((unsigned char)p[n]) && p[n] != '.' && p[n] != '/')
			return -1;
	*roundsp = rounds;
	return n == want ? 0 : -1;
}

static int
verify_argon2(const char *h, const char *password, size_t passlen)
{
	char	 str[crypto_pwhash_STRBYTES];
	int	 r;

	/* libsodium takes a fixed-size array */
	memset(str, 0, sizeof(str));
	if (strlcpy(str, h, sizeof(str)) >= sizeof(str))
		return -1;
	r = crypto_pwhash_str_verify(str, password, passlen) == 0;
	sodium_memzero(str, sizeof(str));
	return r;
}

/* bcrypt (cut: bcrypt reads 72 bytes) or SHA-crypt (whole). */
#ifdef __OpenBSD__
static int
verify_crypt(const char *h, const char *password, size_t passlen, int cut)
{
	char	 pw[PASSWD_MAX + 1];
	int	 r;

	if (!cut) {
		/* crypt_checkpass(3) knows bcrypt only. */
		log_warnx("SHA-crypt password hashes are not supported on "
		    "this system: make a new hash with mailctl encrypt");
		return -1;
	}
	memcpy(pw, password, passlen);
	pw[passlen] = '\0';
	r = crypt_checkpass(pw, h) == 0;
	explicit_bzero(pw, sizeof(pw));
	return r;
}
#else
static int
verify_crypt(const char *h, const char *password, size_t passlen, int cut)
{
	struct crypt_data	*cd;
	char			 pw[PASSWD_MAX + 1];
	const char		*res;
	int			 r = 0;

	/*
	 * libcrypt refuses passphrases of CRYPT_MAX_PASSPHRASE_SIZE bytes
	 * or more; bcrypt reads only the first 72, so cutting there is exact;
	 * SHA-crypt reads them all, so such a password cannot match.
	 */
	if (passlen >= CRYPT_MAX_PASSPHRASE_SIZE) {
		if (!cut)
			return 0;
		passlen = CRYPT_MAX_PASSPHRASE_SIZE - 1;
	}
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		fatal("calloc");
	memcpy(pw, password, passlen);
	pw[passlen] = '\0';
	res = crypt_r(pw, h, cd);
	/* libcrypt fails with NULL or a string starting with '*' */
	if (res != NULL && res[0] != '*' && strlen(res) == strlen(h))
		r = sodium_memcmp(res, h, strlen(h)) == 0;
	sodium_memzero(pw, sizeof(pw));
	sodium_memzero(cd, sizeof(*cd));
	free(cd);
	return r;
}
#endif

int
passwd_verify(const char *hash, const char *password, size_t passlen)
{
	struct argon2_params	 ap;
	enum passwd_scheme	 want;
	const char		*h;
	unsigned long		 rounds;
	int			 cost, badpw;

	passwd_sodium_init();
	if (hash == NULL || strnlen(hash, PASSWD_HASH_MAX) >= PASSWD_HASH_MAX)
		return -1;
	if ((h = strip_dovecot(hash, &want)) == NULL)
		return -1;
	/* A malformed hash is -1 whatever the password: checked first. */
	badpw = password == NULL || passlen == 0 || passlen > PASSWD_MAX ||
	    memchr(password, '\0', passlen) != NULL;
	if ((want == SCHEME_BAD || want == SCHEME_BCRYPT) &&
	    bcrypt_parse(h, &cost) == 0)
		return badpw ? 0 : verify_crypt(h, password, passlen, 1);
	if ((want == SCHEME_BAD || want == SCHEME_SHACRYPT) &&
	    shacrypt_parse(h, &rounds) == 0)
		return badpw ? 0 : verify_crypt(h, password, passlen, 0);
	if ((want == SCHEME_BAD || want == SCHEME_ARGON2) &&
	    argon2_parse(h, &ap) == 0)
		return badpw ? 0 : verify_argon2(h, password, passlen);
	return -1;
}

int
passwd_hash_new(const char *password, size_t passlen, char *out,
    size_t outlen)
{
	char	 str[crypto_pwhash_STRBYTES];
	int	 r = -1;

	passwd_sodium_init();
	if (password == NULL || passlen == 0 || passlen > PASSWD_MAX ||
	    memchr(password, '\0', passlen) != NULL)
		return -1;
	/*
	 * INTERACTIVE (2 passes, 64 MiB), not MODERATE (256 MiB, ~5x
	 * slower): every login runs in the single-threaded lookup process,
	 * which must keep answering DNS and recipient lookups, and a small
	 * VPS cannot give 256 MiB to each attempt.
	 */
	if (crypto_pwhash_str_alg(str, password, passlen,
	    crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE,
	    crypto_pwhash_ALG_ARGON2ID13) == 0 &&
	    strlcpy(out, str, outlen) < outlen)
		r = 0;
	else if (outlen > 0)
		sodium_memzero(out, outlen);
	sodium_memzero(str, sizeof(str));
	return r;
}

/*
 * A new crypt(3) hash of pw: scheme "$2b$" (bcrypt, cost = log2 rounds)
 * or, with libcrypt, "$5$" / "$6$" (SHA-crypt, cost = rounds).  0 or -1.
 */
#ifdef __OpenBSD__
static int
crypt_make(const char *scheme, unsigned long cost, const char *pw, char *out,
    size_t outlen)
{
	char	 pref[32];

	if (strcmp(scheme, "$2b$") != 0)
		return -1;	/* crypt_newhash(3) knows bcrypt only */
	(void)snprintf(pref, sizeof(pref), "bcrypt,%lu", cost);
	return crypt_newhash(pw, pref, out, outlen) == 0 ? 0 : -1;
}
#else
static int
crypt_make(const char *scheme, unsigned long cost, const char *pw, char *out,
    size_t outlen)
{
	struct crypt_data	*cd;
	const char		*res;
	int			 r = -1;

	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		fatal("calloc");
	if (crypt_gensalt_rn(scheme, cost, NULL, 0, cd->setting,
	    sizeof(cd->setting)) != NULL &&
	    (res = crypt_r(pw, cd->setting, cd)) != NULL && res[0] != '*' &&
	    strlcpy(out, res, outlen) < outlen)
		r = 0;
	sodium_memzero(cd, sizeof(*cd));
	free(cd);
	return r;
}
#endif

/*
 * A bcrypt hash ($2b$, cost PASSWD_BCRYPT_COST), for tables shared with
 * OpenSMTPD or Dovecot's BLF-CRYPT.  Passwords past 72 bytes are cut by
 * bcrypt itself; refused here so nobody believes the rest counts.
 */
int
passwd_bcrypt_new(const char *password, size_t passlen, char *out,
    size_t outlen)
{
	char	 pw[PASSWD_BCRYPT_MAX + 1];
	int	 r;

	if (password == NULL || passlen == 0 || passlen > PASSWD_BCRYPT_MAX ||
	    memchr(password, '\0', passlen) != NULL)
		return -1;
	memcpy(pw, password, passlen);
	pw[passlen] = '\0';
	if ((r = crypt_make("$2b$", PASSWD_BCRYPT_COST, pw, out, outlen)) ==
	    -1 && outlen > 0)
		sodium_memzero(out, outlen);
	sodium_memzero(pw, sizeof(pw));
	return r;
}

/*
 * The cost class of a hash: the scheme and its parameters, which set how
 * long a check takes whatever the password.
 */
int
passwd_cost_key(const char *hash, char *key, size_t keylen)
{
	struct argon2_params	 ap;
	enum passwd_scheme	 want;
	const char		*h;
	unsigned long		 rounds;
	int			 cost, n;

	if (hash == NULL || strnlen(hash, PASSWD_HASH_MAX) >= PASSWD_HASH_MAX ||
	    (h = strip_dovecot(hash, &want)) == NULL)
		return -1;
	if ((want == SCHEME_BAD || want == SCHEME_BCRYPT) &&
	    bcrypt_parse(h, &cost) == 0)
		n = snprintf(key, keylen, "bcrypt cost %d", cost);
	else if ((want == SCHEME_BAD || want == SCHEME_SHACRYPT) &&
	    shacrypt_parse(h, &rounds) == 0)
		n = snprintf(key, keylen, "SHA%s-crypt rounds=%lu",
		    h[1] == '5' ? "256" : "512", rounds);
	else if ((want == SCHEME_BAD || want == SCHEME_ARGON2) &&
	    argon2_parse(h, &ap) == 0)
		n = snprintf(key, keylen, "%.*s m=%llu,t=%llu,p=%llu",
		    (int)strcspn(h + 1, "$"), h + 1, ap.m, ap.t, ap.p);
	else
		return -1;
	return n < 0 || (size_t)n >= keylen ? -1 : 0;
}

/* Argon2id INTERACTIVE of a random password: the scheme of new hashes. */
static int
dummy_make(void)
{
	unsigned char	 rnd[16];
	char		 pw[sizeof(rnd) * 2 + 1];
	char		 str[crypto_pwhash_STRBYTES];
	int		 r = -1;

	compat_random(rnd, sizeof(rnd));
	sodium_bin2hex(pw, sizeof(pw), rnd, sizeof(rnd));
	if (crypto_pwhash_str_alg(str, pw, strlen(pw),
	    crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE,
	    crypto_pwhash_ALG_ARGON2ID13) == 0 &&
	    strlcpy(dummy_hash, str, sizeof(dummy_hash)) < sizeof(dummy_hash))
		r = 0;
	sodium_memzero(rnd, sizeof(rnd));
	sodium_memzero(pw, sizeof(pw));
	sodium_memzero(str, sizeof(str));
	return r;
}

void
passwd_dummy_verify(const char *dummy, const char *password, size_t passlen)
{
	if (dummy == NULL || dummy[0] == '\0') {
		passwd_sodium_init();
		if (dummy_hash[0] == '\0' && dummy_make() == -1)
			fatalx("%s: cannot make a dummy password hash",
			    __func__);
		dummy = dummy_hash;
	}
	/* The answer is never used: only the time it takes. */
	(void)passwd_verify(dummy, password, passlen);
}
