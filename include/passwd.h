/*
 * Password hashes of the passwd table (user@domain:hash[:dovecot fields]).
 *
 * Verified: Argon2id/Argon2i ($argon2id$v=19$m=..,t=..,p=..$salt$hash,
 * libsodium), bcrypt ($2b$, $2a$, $2y$: OpenSMTPD's smtpctl encrypt on
 * OpenBSD) and SHA-crypt ($6$, $5$: smtpctl encrypt on Debian; where
 * libcrypt has it), optionally behind Dovecot's {ARGON2ID}, {ARGON2I},
 * {BLF-CRYPT}, {SHA512-CRYPT} or {SHA256-CRYPT}.  Everything else (DES,
 * MD5, {PLAIN}, plaintext) is refused: maild never compares plaintext
 * passwords.  New hashes are Argon2id (or bcrypt when asked).
 *
 * The lookup process is single-threaded, so every cost is bounded: a
 * hostile or mistaken table entry must not stall it for minutes.
 */
#ifndef MAILD_PASSWD_H
#define MAILD_PASSWD_H

#include <stddef.h>

#define PASSWD_MAX		1024	/* bytes of a password */
#define PASSWD_HASH_MAX		256	/* bytes of a hash field, with NUL */
#define PASSWD_BCRYPT_MAX	72	/* bytes bcrypt reads of a password */
#define PASSWD_BCRYPT_COST	10	/* new bcrypt hashes: 2^10 rounds */
#define PASSWD_BCRYPT_COST_MAX	18	/* 2^18 rounds: seconds, not hours */
#define PASSWD_SHACRYPT_ROUNDS_MAX 1000000	/* glibc default: 5000 */
#define PASSWD_ARGON2_MEM_MAX	(1024 * 1024)	/* KiB (1 GiB) */
#define PASSWD_ARGON2_T_MAX	32	/* passes */
#define PASSWD_ARGON2_P_MAX	16	/* lanes */

/*
 * Copy the hash of a passwd table value (everything before the first
 * ':') to out.  0 on success; -1 if empty, too long for out, or holding
 * bytes that no hash contains (controls, spaces, non-ASCII).
 */
int	passwd_hash_field(const char *, char *, size_t);

/*
 * Check password (passlen bytes, not NUL-terminated) against hash.
 * 1 match; 0 no match (also: empty password, NUL byte in it, longer than
 * PASSWD_MAX); -1 unsupported or malformed hash (log it; the user fails).
 */
int	passwd_verify(const char *, const char *, size_t);

/*
 * Make a new Argon2id hash (libsodium INTERACTIVE limits) of password in
 * out (at least PASSWD_HASH_MAX bytes is plenty).  0 or -1.
 */
int	passwd_hash_new(const char *, size_t, char *, size_t);
/*
 * Make a new bcrypt hash ($2b$, cost PASSWD_BCRYPT_COST) of password in
 * out, for tables shared with OpenSMTPD or Dovecot.  -1 also for
 * passwords longer than PASSWD_BCRYPT_MAX, of which bcrypt would ignore
 * the end.
 */
int	passwd_bcrypt_new(const char *, size_t, char *, size_t);

/*
 * The cost class of a hash ("bcrypt cost 10", "argon2id m=65536,t=2,p=1"):
 * hashes of one class take as long to check, whatever the password.  0,
 * or -1 for a hash passwd_verify() refuses.
 */
int	passwd_cost_key(const char *, char *, size_t);

/*
 * A check that always fails, for unknown users: it costs what checking
 * against dummy costs, a hash of the table's own (a real user's: the
 * answer is never used), so a failure takes as long whether the user
 * exists or not.  NULL or "": an Argon2id INTERACTIVE hash of a random
 * password, the scheme of new hashes.
 */
void	passwd_dummy_verify(const char *, const char *, size_t);

#endif
