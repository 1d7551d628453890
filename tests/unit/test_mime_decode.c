/*
 * Unit tests for mime_decode.c: the PREVIEW text (RFC 8970, FUZZY) of
 * each fixture in tests/data/preview (NAME.eml, the expected text in
 * NAME.txt, one line), the character limit on every length around it,
 * the bound on what is read of a part, decoded part text, and random
 * mutations of the fixtures that must give valid, bounded UTF-8
 * without control characters (build with SANITIZE=1 for the rest).
 * Run from the top directory.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "mime.h"
#include "tap.h"
#include "util.h"

#define DATA	"tests/data/preview/"
#define ROUNDS	2000

static char	*load(const char *, size_t *);
static int	 valid_preview(const char *);
static void	 test_fixtures(void);
static void	 test_limit(void);
static void	 test_scan_bound(void);
static void	 test_part_text(void);
static void	 test_mutations(void);

static const char *fixtures[] = {
	"plain", "no-ctype", "alternative", "html-latin1-qp",
	"base64-utf8-long", "attachment-only", "mixed-inline", "rfc822-only",
	"bad-utf8", "unknown-charset", "html-unclosed", "empty"
};

static char *
load(const char *name, size_t *len)
{
	char	 path[1024], *buf;
	FILE	*f;
	long	 n;

	snprintf(path, sizeof(path), "%s%s", DATA, name);
	if ((f = fopen(path, "rb")) == NULL) {
		printf("Bail out! cannot open %s\n", path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	if ((buf = malloc(n + 1)) == NULL ||
	    fread(buf, 1, n, f) != (size_t)n)
		exit(1);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Well-formed UTF-8, no control character, at most the limit. */
static int
valid_preview(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n = strlen(s), i = 0, k, chars = 0;
	uint32_t		 c;

	while (i < n) {
		if ((k = utf8_seq(p + i, n - i, &c)) == 0 || c < 0x20 ||
		    c == 0x7f || (c >= 0x80 && c < 0xa0))
			return 0;
		i += k;
		chars++;
	}
	return chars <= MIME_PREVIEW_CHARS && (n == 0 ||
	    (s[0] != ' ' && s[n - 1] != ' '));
}

static void
test_fixtures(void)
{
	struct mime_msg	*m;
	char		 name[256], *eml, *exp, *got;
	size_t		 len, elen, i;

	for (i = 0; i < nitems(fixtures); i++) {
		snprintf(name, sizeof(name), "%s.eml", fixtures[i]);
		eml = load(name, &len);
		snprintf(name, sizeof(name), "%s.txt", fixtures[i]);
		exp = load(name, &elen);
		if (elen > 0 && exp[elen - 1] == '\n')
			exp[--elen] = '\0';
		m = mime_parse(eml, len);
		got = mime_preview(m);
		is_str(got, exp, fixtures[i]);
		ok(valid_preview(got), "%s: valid", fixtures[i]);
		free(got);
		mime_free(m);
		free(exp);
		free(eml);
	}
}

/* Text of n characters: all of it up to the limit, then the limit. */
static void
test_limit(void)
{
	struct mime_msg	*m;
	char		*buf, *got;
	size_t		 n, len, chars, i;
	int		 bad = 0;

	if ((buf = malloc(64 + 4 * 300)) == NULL)
		exit(1);
	for (n = 190; n <= 210 && !bad; n++) {
		len = (size_t)snprintf(buf, 64, "Subject: x\r\n\r\n");
		for (i = 0; i < n; i++) {
			/* a 2-byte and a 3-byte character in turn */
			memcpy(buf + len, i % 2 ? "\xc3\xa9" : "\xe2\x82\xac",
			    i % 2 ? 2 : 3);
			len += i % 2 ? 2 : 3;
		}
		m = mime_parse(buf, len);
		got = mime_preview(m);
		for (i = 0, chars = 0; got[i] != '\0'; i++)
			if (((unsigned char)got[i] & 0xc0) != 0x80)
				chars++;
		if (chars != (n < MIME_PREVIEW_CHARS ? n :
		    MIME_PREVIEW_CHARS) || !valid_preview(got)) {
			ok(0, "%zu characters: got %zu", n, chars);
			bad = 1;
		}
		free(got);
		mime_free(m);
	}
	if (!bad)
		ok(1, "190..210 multi-byte characters: at most %d, none cut",
		    MIME_PREVIEW_CHARS);
	free(buf);
}

/* Only the first MIME_PREVIEW_SCAN bytes of a body are read. */
static void
test_scan_bound(void)
{
	struct mime_msg	*m;
	char		*buf, *got;
	size_t		 len, hdr;

	hdr = strlen("Subject: x\r\n\r\n");
	len = hdr + MIME_PREVIEW_SCAN + 64;
	if ((buf = malloc(len + 1)) == NULL)
		exit(1);
	memcpy(buf, "Subject: x\r\n\r\n", hdr);
	memset(buf + hdr, ' ', len - hdr);
	memcpy(buf + len - 6, "late\r\n", 6);
	m = mime_parse(buf, len);
	got = mime_preview(m);
	is_str(got, "", "text after the scanned bytes: not read");
	free(got);
	mime_free(m);
	memcpy(buf + hdr + MIME_PREVIEW_SCAN - 6, "early", 5);
	m = mime_parse(buf, len);
	got = mime_preview(m);
	is_str(got, "early", "text inside the scanned bytes: read");
	free(got);
	mime_free(m);
	free(buf);
}

static void
test_part_text(void)
{
	static const char msg[] =
	    "Content-Type: text/plain; charset=latin1\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    "Q2Fm6SDgIGxhIGNy6G1l\r\n";
	struct mime_msg	*m;
	char		*t;
	size_t		 len;

	m = mime_parse(msg, sizeof(msg) - 1);
	t = mime_part_text(m, m->root, 1024, &len);
	is_str(t, "Caf\xc3\xa9 \xc3\xa0 la cr\xc3\xa8me",
	    "base64 latin1 part as UTF-8");
	ok(t != NULL && len == strlen(t), "length");
	free(t);
	t = mime_part_text(m, m->root, 4, &len);
	is_str(t, "Caf", "only max bytes of the body are decoded");
	free(t);
	mime_free(m);
}

/* Random damage to the fixtures: always valid, bounded, no crash. */
static void
test_mutations(void)
{
	struct mime_msg	*m;
	char		 name[256], *eml, *buf, *got;
	size_t		 len, i, k, pos;
	uint32_t	 r;
	int		 bad = 0;

	for (i = 0; i < nitems(fixtures); i++) {
		snprintf(name, sizeof(name), "%s.eml", fixtures[i]);
		eml = load(name, &len);
		if ((buf = malloc(len + 1)) == NULL)
			exit(1);
		for (k = 0; k < ROUNDS / nitems(fixtures) && !bad; k++) {
			memcpy(buf, eml, len);
			compat_random(&r, sizeof(r));
			pos = len > 0 ? r % len : 0;
			compat_random(&r, sizeof(r));
			if (len > 0)
				buf[pos] = (char)(r & 0xff);
			if (len > 0 && (r & 0x100))
				buf[(pos * 7) % len] = r & 0x200 ? '<' : '&';
			m = mime_parse(buf, len);
			got = mime_preview(m);
			if (!valid_preview(got)) {
				ok(0, "%s mutated at %zu: invalid preview",
				    fixtures[i], pos);
				bad = 1;
			}
			free(got);
			mime_free(m);
		}
		free(buf);
		free(eml);
	}
	if (!bad)
		ok(1, "%d mutated messages: valid previews", ROUNDS);
}

int
main(void)
{
	test_fixtures();
	test_limit();
	test_scan_bound();
	test_part_text();
	test_mutations();
	return done_testing();
}
