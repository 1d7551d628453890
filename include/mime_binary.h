/*
 * Binary content APPENDed with literal8 (RFC 3516 4.4): the server may
 * change the encoding of binary data so that it is no longer binary.
 * maild stores every leaf part whose Content-Transfer-Encoding is
 * "binary", or whose body holds a NUL, as base64 instead (its
 * Content-Transfer-Encoding field replaced), as Dovecot does: the
 * stored message is then a plain one that BODY[] can send, and FETCH
 * BINARY decodes the part back to the very bytes that were sent.
 */
#ifndef MAILD_MIME_BINARY_H
#define MAILD_MIME_BINARY_H

#include <stddef.h>

struct mbuf;

/*
 * The message msg[0..len) with its binary parts encoded: 1 and the new
 * message in out, 0 when it has nothing to encode (out untouched), or
 * -1 when a NUL would remain outside a part's body (in a header, a
 * preamble), which cannot be stored.
 */
int	mime_binary_encode(struct mbuf *, const char *, size_t);

#endif
