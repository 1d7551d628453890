/*
 * The i;unicode-casemap collation (RFC 5051), which SORT and THREAD
 * (RFC 5256, I18NLEVEL=1 of RFC 5255) compare strings with: each
 * character is replaced by its simple titlecase mapping, then by the
 * full (canonical and compatibility) decomposition of that; the keys so
 * made compare as octets (strcmp).  Tables from scripts/gen-unicase.
 */
#ifndef MAILD_UNICASE_H
#define MAILD_UNICASE_H

#include <stddef.h>
#include <stdint.h>

struct mbuf;

/*
 * Append the key of the UTF-8 text s[0..len) to out, at most max bytes
 * of it (whole characters; a NUL is appended, not counted).  A byte
 * that does not start a valid UTF-8 sequence counts as U+FFFD; NUL
 * bytes are left out.
 * Returns the bytes appended.
 */
size_t	unicase_key(struct mbuf *, const char *, size_t, size_t);
/* What one code point becomes: n code points in out[0..n), n <= 18. */
size_t	unicase_map(uint32_t, uint32_t *, size_t);
/* Decode one UTF-8 character at s (len > 0): bytes used (1 if bad). */
size_t	unicase_utf8_next(const char *, size_t, uint32_t *);

#endif
