/*
 * Unit tests for mime_binary.c: the binary parts of a literal8 message
 * become base64 (and decode back to the same bytes), everything else
 * stays byte for byte, and a NUL that no part's body holds is refused.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "mime_binary.h"
#include "tap.h"

static size_t	b64dec(const char *, size_t, unsigned char *);

static size_t
b64dec(const char *s, size_t n, unsigned char *out)
{
	static const char	 a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char		*p;
	uint32_t		 acc = 0;
	size_t			 i, o = 0;
	int			 bits = 0;

	for (i = 0; i < n && s[i] != '='; i++) {
		if ((p = strchr(a, s[i])) == NULL || s[i] == '\0')
			continue;
		acc = (acc << 6 | (uint32_t)(p - a)) & 0xffff;
		if ((bits += 6) >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return o;
}

int
main(void)
{
	static const char	 raw[] = "\0\x01\xff data\n\r\0 bare LF\n";
	static const char	 single_h[] = "From: a@b\r\n"
	    "Content-Transfer-Encoding:\r\n binary\r\nX-After: 1\r\n\r\n";
	static const char	 multi_a[] = "Subject: m\r\n"
	    "Content-Type: multipart/mixed; boundary=bb\r\n\r\npreamble\r\n"
	    "--bb\r\nContent-Type: text/plain\r\n\r\ntext\r\n--bb\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "content-transfer-encoding : BINARY\r\n\r\n";
	static const char	 multi_b[] = "\r\n--bb\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\nnul\0here\r\n"
	    "--bb--\r\nepilogue\r\n";
	struct mbuf		 in, out;
	struct mime_msg		*m;
	const struct mime_part	*p;
	unsigned char		 dec[256];
	const char		*b;
	size_t			 n;

	memset(&in, 0, sizeof(in));
	memset(&out, 0, sizeof(out));
	mbuf_add(&in, single_h, sizeof(single_h) - 1);
	mbuf_add(&in, raw, sizeof(raw) - 1);
	is_int(mime_binary_encode(&out, in.data, in.len), 1,
	    "single part, Content-Transfer-Encoding binary: encoded");
	ok(out.len > 0 && strncmp(out.data, "From: a@b\r\nX-After: 1\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n", 59) == 0,
	    "... its folded field replaced, the others kept");
	ok(memchr(out.data, '\0', out.len) == NULL, "... no NUL left");
	b = out.len >= 59 ? out.data + 59 : "";
	n = b64dec(b, out.len - (b - out.data), dec);
	ok(n == sizeof(raw) - 1 && memcmp(dec, raw, n) == 0,
	    "... the body decodes to the very bytes");
	mbuf_free(&out);
	mbuf_free(&in);

	mbuf_add(&in, multi_a, sizeof(multi_a) - 1);
	mbuf_add(&in, raw, sizeof(raw) - 1);
	mbuf_add(&in, multi_b, sizeof(multi_b) - 1);
	is_int(mime_binary_encode(&out, in.data, in.len), 1,
	    "multipart: encoded");
	ok(out.len > 0 && strncmp(out.data, multi_a, 114) == 0,
	    "... header, preamble and the text part unchanged");
	m = mime_parse(out.data, out.len);
	ok(m->root->child != NULL && m->root->child->next != NULL &&
	    m->root->child->next->next != NULL &&
	    m->root->child->next->next->next == NULL, "... still three parts");
	p = m->root->child != NULL ? m->root->child->next : NULL;
	ok(p != NULL && p->encoding != NULL &&
	    strcmp(p->encoding, "base64") == 0, "... the binary one base64");
	n = p != NULL ? b64dec(out.data + p->body_off, p->body_len, dec) : 0;
	ok(n == sizeof(raw) - 1 && memcmp(dec, raw, n) == 0,
	    "... decoding to the bytes sent");
	p = p != NULL ? p->next : NULL;
	ok(p != NULL && p->encoding != NULL &&
	    strcmp(p->encoding, "base64") == 0,
	    "... an 8bit part holding a NUL too");
	n = p != NULL ? b64dec(out.data + p->body_off, p->body_len, dec) : 0;
	ok(n == 8 && memcmp(dec, "nul\0here", 8) == 0, "... decoding to it");
	ok(out.len > 20 && memcmp(out.data + out.len - 20,
	    "\r\n--bb--\r\nepilogue\r\n", 20) == 0, "... the end unchanged");
	mime_free(m);
	mbuf_free(&out);

	is_int(mime_binary_encode(&out, multi_a, 114), 0,
	    "nothing binary: 0");
	ok(out.data == NULL, "... out untouched");
	is_int(mime_binary_encode(&out, "Subject: x\r\n"
	    "Content-Transfer-Encoding: binary\r\n\r\n", 49), 0,
	    "an empty binary body: nothing to encode");
	is_int(mime_binary_encode(&out, "Subject: x\r\nContent-Type: "
	    "multipart/mixed; boundary=x\r\n\r\np\0re\r\n--x\r\n\r\nab\r\n"
	    "--x--\r\n", 81), -1, "a NUL in a preamble: -1");
	is_int(mime_binary_encode(&out, "Sub\0ject\r\n\r\nab", 14), 1,
	    "a NUL on a line that ends the header: part of the body");
	mbuf_free(&out);
	mbuf_free(&in);
	return done_testing();
}
