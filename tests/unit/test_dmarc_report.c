/*
 * Unit tests for dmarc_report.c: the XML of real reporters' shapes
 * (tests/data/dmarc: Google's, Microsoft's with entities and CDATA,
 * DMARCbis with a namespace prefix), every malformed file there (each
 * names the error it must give in its first comment), limits made on
 * the fly (nesting, long text, bad UTF-8, control characters), gzip and
 * zip archives built here with zlib (stored, deflated, data descriptor,
 * several members, bad CRC, cut short, bombs), whole messages as the
 * reporters send them, the header test, and mutated inputs that must
 * fail cleanly or parse (run it under make SANITIZE=1).
 */
#include <sys/types.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "compat.h"
#include "dmarc_report.h"
#include "mailbox.h"
#include "mime.h"
#include "tap.h"
#include "util.h"

#define DATADIR	"tests/data/dmarc"

struct member {
	const char	*name;
	const char	*data;
	size_t		 len;
};

static char	*slurp(const char *, size_t *);
static void	 deflate_raw(const char *, size_t, int, struct mbuf *);
static void	 gzip_make(const char *, size_t, struct mbuf *);
static void	 zip_make(const struct member *, size_t, int, int,
		    struct mbuf *);
static void	 put16(struct mbuf *, unsigned int);
static void	 put32(struct mbuf *, uint32_t);
static void	 base64(const void *, size_t, struct mbuf *);
static void	 test_google(void);
static void	 test_microsoft(void);
static void	 test_dmarcbis(void);
static void	 test_bad_files(void);
static void	 test_limits(void);
static void	 test_gzip_zip(void);
static void	 test_bombs(void);
static void	 test_messages(void);
static void	 test_is(void);
static void	 test_mutations(void);
static int	 xml_fails(const char *, size_t, const char *, const char *);

static char *
slurp(const char *name, size_t *len)
{
	char	 path[512], *s;
	int	 fd;

	(void)snprintf(path, sizeof(path), "%s/%s", DATADIR, name);
	if ((fd = open(path, O_RDONLY)) == -1) {
		printf("Bail out! %s: cannot open\n", path);
		exit(1);
	}
	s = read_fd(fd, 1 << 20, len);
	close(fd);
	if (s == NULL) {
		printf("Bail out! %s: cannot read\n", path);
		exit(1);
	}
	return s;
}

static void
put16(struct mbuf *b, unsigned int v)
{
	unsigned char	 c[2] = { v & 0xff, (v >> 8) & 0xff };

	mbuf_add(b, c, 2);
}

static void
put32(struct mbuf *b, uint32_t v)
{
	unsigned char	 c[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff,
	    v >> 24 };

	mbuf_add(b, c, 4);
}

/* wbits: -15 raw deflate (zip), 31 gzip. */
static void
deflate_raw(const char *in, size_t len, int wbits, struct mbuf *out)
{
	z_stream	 z;
	unsigned char	 buf[65536];
	int		 r;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 9, Z_DEFLATED, wbits, 9,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		exit(1);
	z.next_in = (unsigned char *)(uintptr_t)in;
	z.avail_in = len;
	do {
		z.next_out = buf;
		z.avail_out = sizeof(buf);
		r = deflate(&z, Z_FINISH);
		mbuf_add(out, buf, sizeof(buf) - z.avail_out);
	} while (r == Z_OK);
	deflateEnd(&z);
}

static void
gzip_make(const char *in, size_t len, struct mbuf *out)
{
	deflate_raw(in, len, 31, out);
}

/*
 * A zip archive: method 0 stored or 8 deflated; dd: sizes and CRC in a
 * data descriptor after the data, zeros in the local header (as a
 * writer that cannot seek does).
 */
static void
zip_make(const struct member *m, size_t n, int method, int dd,
    struct mbuf *out)
{
	struct mbuf	 cd, data;
	uint32_t	 off[16], crc[16], cs[16];
	size_t		 i, cdoff;

	memset(&cd, 0, sizeof(cd));
	for (i = 0; i < n; i++) {
		memset(&data, 0, sizeof(data));
		if (method == 8)
			deflate_raw(m[i].data, m[i].len, -15, &data);
		else
			mbuf_add(&data, m[i].data, m[i].len);
		off[i] = out->len;
		crc[i] = crc32(0L, (const Bytef *)m[i].data, m[i].len);
		cs[i] = data.len;
		put32(out, 0x04034b50);
		put16(out, 20);
		put16(out, dd ? 8 : 0);
		put16(out, method);
		put16(out, 0);
		put16(out, 0x5821);
		put32(out, dd ? 0 : crc[i]);
		put32(out, dd ? 0 : cs[i]);
		put32(out, dd ? 0 : m[i].len);
		put16(out, strlen(m[i].name));
		put16(out, 0);
		mbuf_add(out, m[i].name, strlen(m[i].name));
		mbuf_add(out, data.data, data.len);
		if (dd) {
			put32(out, 0x08074b50);
			put32(out, crc[i]);
			put32(out, cs[i]);
			put32(out, m[i].len);
		}
		mbuf_free(&data);
	}
	cdoff = out->len;
	for (i = 0; i < n; i++) {
		put32(&cd, 0x02014b50);
		put16(&cd, 20);
		put16(&cd, 20);
		put16(&cd, dd ? 8 : 0);
		put16(&cd, method);
		put16(&cd, 0);
		put16(&cd, 0x5821);
		put32(&cd, crc[i]);
		put32(&cd, cs[i]);
		put32(&cd, m[i].len);
		put16(&cd, strlen(m[i].name));
		put16(&cd, 0);
		put16(&cd, 0);
		put16(&cd, 0);
		put16(&cd, 0);
		put32(&cd, 0);
		put32(&cd, off[i]);
		mbuf_add(&cd, m[i].name, strlen(m[i].name));
	}
	mbuf_add(out, cd.data, cd.len);
	put32(out, 0x06054b50);
	put16(out, 0);
	put16(out, 0);
	put16(out, n);
	put16(out, n);
	put32(out, cd.len);
	put32(out, cdoff);
	put16(out, 0);
	mbuf_free(&cd);
}

static void
base64(const void *in, size_t len, struct mbuf *out)
{
	static const char	 b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char	*p = in;
	char			 q[4];
	uint32_t		 v;
	size_t			 i, col = 0;

	for (i = 0; i < len; i += 3) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		q[0] = b64[v >> 18];
		q[1] = b64[(v >> 12) & 63];
		q[2] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		q[3] = i + 2 < len ? b64[v & 63] : '=';
		mbuf_add(out, q, 4);
		if ((col += 4) == 76) {
			mbuf_add(out, "\r\n", 2);
			col = 0;
		}
	}
	mbuf_add(out, "\r\n", 2);
}

static void
test_google(void)
{
	struct dmarc_report	 r;
	char			 err[256], *s;
	size_t			 len;

	s = slurp("google.xml", &len);
	ok(dmarc_report_xml(s, len, &r, err, sizeof(err)) == 0,
	    "google.xml parses");
	is_str(r.org_name, "google.com", "google: org_name");
	is_str(r.email, "noreply-dmarc-support@google.com", "google: email");
	is_str(r.report_id, "11536431815838426183", "google: report_id");
	is_int(r.begin, 1714521600, "google: begin");
	is_int(r.end, 1714607999, "google: end");
	is_str(r.domain, "example.org", "google: policy domain lowercased");
	is_str(r.p, "quarantine", "google: p");
	is_int(r.nrows, 2, "google: two records");
	if (r.nrows == 2) {
		is_str(r.rows[0].source_ip, "192.0.2.25", "row 1: source_ip");
		is_int(r.rows[0].count, 17, "row 1: count");
		is_str(r.rows[0].disposition, "none", "row 1: disposition");
		ok(r.rows[0].dkim_pass && r.rows[0].spf_pass,
		    "row 1: dkim and spf pass");
		is_str(r.rows[0].header_from, "example.org", "row 1: from");
		is_int(r.rows[0].nauth, 3, "row 1: three auth results");
		if (r.rows[0].nauth == 3) {
			ok(!r.rows[0].auth[0].spf && !r.rows[0].auth[1].spf &&
			    r.rows[0].auth[2].spf, "row 1: dkim, dkim, spf");
			is_str(r.rows[0].auth[1].result, "pass",
			    "row 1: dkim result");
			is_str(r.rows[0].auth[2].domain, "example.org",
			    "row 1: spf domain");
		}
		is_str(r.rows[1].source_ip, "2001:db8::7",
		    "row 2: IPv6 in canonical form");
		is_int(r.rows[1].count, 3, "row 2: count");
		is_str(r.rows[1].disposition, "quarantine",
		    "row 2: disposition");
		ok(!r.rows[1].dkim_pass && !r.rows[1].spf_pass,
		    "row 2: dkim and spf fail");
		ok(r.rows[1].nauth == 1 && r.rows[1].auth[0].spf &&
		    strcmp(r.rows[1].auth[0].result, "softfail") == 0 &&
		    strcmp(r.rows[1].auth[0].domain, "spoofer.test") == 0,
		    "row 2: spf softfail for spoofer.test");
	}
	dmarc_report_free(&r);
	ok(r.rows == NULL && r.org_name == NULL, "free empties the report");
	free(s);
}

static void
test_microsoft(void)
{
	struct dmarc_report	 r;
	char			 err[256], *s;
	size_t			 len;

	s = slurp("microsoft.xml", &len);
	ok(dmarc_report_xml(s, len, &r, err, sizeof(err)) == 0,
	    "microsoft.xml parses (attributes, unknown elements, comment)");
	is_str(r.org_name, "Enterprise Outlook & Co \xe2\x80\x94 \xe2\x82\xac",
	    "microsoft: predefined and numeric references decoded");
	is_str(r.report_id, "a1b2c3d4<e5>", "microsoft: CDATA taken as is");
	is_str(r.p, "quarantine", "microsoft: p lowercased");
	ok(r.nrows == 1 && !r.rows[0].dkim_pass && r.rows[0].spf_pass,
	    "microsoft: dkim fail, spf pass");
	ok(r.nrows == 1 && r.rows[0].nauth == 2 &&
	    strcmp(r.rows[0].auth[0].result, "pass") == 0 &&
	    strcmp(r.rows[0].auth[0].domain, "mailer.test") == 0,
	    "microsoft: auth result lowercased, selector skipped");
	ok(r.nrows == 1 && strcmp(r.rows[0].header_from, "example.org") == 0,
	    "microsoft: header_from among envelope_to/from");
	dmarc_report_free(&r);
	free(s);
}

static void
test_dmarcbis(void)
{
	struct dmarc_report	 r;
	char			 err[256], *s;
	size_t			 len;

	s = slurp("dmarcbis.xml", &len);
	ok(dmarc_report_xml(s, len, &r, err, sizeof(err)) == 0,
	    "dmarcbis.xml parses (namespace prefix)");
	is_str(r.domain, "sub.example.org", "dmarcbis: domain");
	is_str(r.email, "", "dmarcbis: email absent is \"\"");
	ok(r.nrows == 1 && strcmp(r.rows[0].disposition, "none") == 0,
	    "dmarcbis: disposition pass read as none");
	dmarc_report_free(&r);
	free(s);
}

/* 1 if the XML fails with want in its reason. */
static int
xml_fails(const char *s, size_t len, const char *want, const char *name)
{
	struct dmarc_report	 r;
	char			 err[256];
	int			 rv;

	err[0] = '\0';
	rv = dmarc_report_xml(s, len, &r, err, sizeof(err));
	ok(rv == -1 && strstr(err, want) != NULL && r.rows == NULL &&
	    r.org_name == NULL, "%s: %s", name, want);
	if (rv != -1 || strstr(err, want) == NULL)
		printf("#   got %d: %s\n", rv, err);
	dmarc_report_free(&r);
	return rv == -1;
}

static void
test_bad_files(void)
{
	DIR		*d;
	struct dirent	*e;
	char		*s, want[128], *p, *q;
	size_t		 len;
	int		 n = 0;

	if ((d = opendir(DATADIR)) == NULL) {
		ok(0, "open %s", DATADIR);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "bad-", 4) != 0)
			continue;
		s = slurp(e->d_name, &len);
		if ((p = strstr(s, "<!-- expect: ")) == NULL ||
		    (q = strstr(p, " -->")) == NULL ||
		    (size_t)(q - p - 13) >= sizeof(want)) {
			ok(0, "%s names its error", e->d_name);
			free(s);
			continue;
		}
		memcpy(want, p + 13, q - p - 13);
		want[q - p - 13] = '\0';
		xml_fails(s, len, want, e->d_name);
		free(s);
		n++;
	}
	closedir(d);
	ok(n >= 20, "%d malformed files", n);
}

static void
test_limits(void)
{
	struct dmarc_report	 r;
	struct mbuf		 b;
	char			*s, *p, err[256];
	size_t			 len, i;

	s = slurp("good-minimal.xml", &len);
	/* Nesting past the limit inside an unknown element. */
	memset(&b, 0, sizeof(b));
	p = strstr(s, "<report_metadata>");
	mbuf_add(&b, s, p - s);
	for (i = 0; i < DMARC_REPORT_DEPTH_MAX + 5; i++)
		mbuf_add(&b, "<x>", 3);
	for (i = 0; i < DMARC_REPORT_DEPTH_MAX + 5; i++)
		mbuf_add(&b, "</x>", 4);
	mbuf_add(&b, p, len - (p - s));
	xml_fails(b.data, b.len, "nested over", "deep nesting");
	mbuf_free(&b);

	/* Text over the limit in a leaf, and a long name. */
	memset(&b, 0, sizeof(b));
	p = strstr(s, "x.test</org_name>");
	mbuf_add(&b, s, p - s);
	for (i = 0; i < DMARC_REPORT_TEXT_MAX + 1; i++)
		mbuf_add(&b, "a", 1);
	mbuf_add(&b, p, len - (p - s));
	xml_fails(b.data, b.len, "over 1024 bytes", "long org_name");
	mbuf_free(&b);
	memset(&b, 0, sizeof(b));
	mbuf_add(&b, "<feedback><", 11);
	for (i = 0; i < 100; i++)
		mbuf_add(&b, "n", 1);
	mbuf_add(&b, "/></feedback>", 13);
	xml_fails(b.data, b.len, "name too long", "long element name");
	mbuf_free(&b);

	/* Bytes XML does not allow. */
	memset(&b, 0, sizeof(b));
	mbuf_add(&b, s, len);
	p = strstr(b.data, "x.test</org_name>");
	p[1] = '\0';
	xml_fails(b.data, b.len, "control character 0x00", "NUL byte");
	p[1] = '\x1b';
	xml_fails(b.data, b.len, "control character 0x1b", "escape byte");
	p[1] = '\xc0';
	xml_fails(b.data, b.len, "not valid UTF-8", "bad UTF-8");
	p[1] = '.';
	ok(dmarc_report_xml(b.data, b.len, &r, NULL, 0) == 0,
	    "restored, it parses (err may be NULL)");
	dmarc_report_free(&r);
	mbuf_free(&b);

	/* A BOM is allowed. */
	memset(&b, 0, sizeof(b));
	mbuf_add(&b, "\xef\xbb\xbf", 3);
	mbuf_add(&b, s, len);
	ok(dmarc_report_xml(b.data, b.len, &r, err, sizeof(err)) == 0,
	    "a byte order mark is allowed");
	dmarc_report_free(&r);
	mbuf_free(&b);
	free(s);
}

static void
test_gzip_zip(void)
{
	struct mbuf	 z;
	struct member	 m[3];
	char		*s, *out, err[256];
	size_t		 len, olen;
	int		 dd, meth;

	s = slurp("google.xml", &len);
	memset(&z, 0, sizeof(z));
	gzip_make(s, len, &z);
	ok(dmarc_report_inflate((unsigned char *)z.data, z.len, &out, &olen,
	    err, sizeof(err)) == 0 && olen == len &&
	    memcmp(out, s, len) == 0, "gzip: decompressed exactly");
	free(out);
	ok(dmarc_report_inflate((unsigned char *)z.data, z.len - 20, &out,
	    &olen, err, sizeof(err)) == -1 &&
	    strstr(err, "cut short") != NULL && out == NULL,
	    "gzip cut short: %s", err);
	z.data[z.len / 2] ^= 0x55;
	z.data[z.len / 2 + 1] ^= 0xaa;
	ok(dmarc_report_inflate((unsigned char *)z.data, z.len, &out, &olen,
	    err, sizeof(err)) == -1, "gzip corrupted: %s", err);
	mbuf_free(&z);

	m[0].name = "readme.txt";
	m[0].data = "not this one";
	m[0].len = strlen(m[0].data);
	m[1].name = "google.com!example.org!1714521600!1714607999.XML";
	m[1].data = s;
	m[1].len = len;
	m[2].name = "other.xml";
	m[2].data = "<x/>";
	m[2].len = 4;
	for (meth = 0; meth <= 8; meth += 8) {
		for (dd = 0; dd <= 1; dd++) {
			memset(&z, 0, sizeof(z));
			zip_make(m + 1, 1, meth, dd, &z);
			ok(dmarc_report_inflate((unsigned char *)z.data, z.len,
			    &out, &olen, err, sizeof(err)) == 0 &&
			    olen == len && memcmp(out, s, len) == 0,
			    "zip, method %d%s: the member", meth,
			    dd ? ", data descriptor" : "");
			free(out);
			mbuf_free(&z);
		}
	}
	memset(&z, 0, sizeof(z));
	zip_make(m, 3, 8, 0, &z);
	ok(dmarc_report_inflate((unsigned char *)z.data, z.len, &out, &olen,
	    err, sizeof(err)) == 0 && olen == len && memcmp(out, s, len) == 0,
	    "zip of three: the first .xml member");
	free(out);
	mbuf_free(&z);
	memset(&z, 0, sizeof(z));
	zip_make(m, 1, 8, 0, &z);
	ok(dmarc_report_inflate((unsigned char *)z.data, z.len, &out, &olen,
	    err, sizeof(err)) == 0 && olen == m[0].len,
	    "zip of one member not named .xml: that member");
	free(out);
	mbuf_free(&z);
	memset(&z, 0, sizeof(z));
	zip_make(m, 1, 0, 0, &z);
	z.data[30 + strlen(m[0].name)] ^= 1;
	ok(dmarc_report_inflate((unsigned char *)z.data, z.len, &out, &olen,
	    err, sizeof(err)) == -1 && strstr(err, "CRC") != NULL &&
	    out == NULL, "zip: a bad CRC: %s (nothing to free)", err);
	mbuf_free(&z);
	memset(&z, 0, sizeof(z));
	zip_make(m + 1, 1, 8, 0, &z);
	ok(dmarc_report_inflate((unsigned char *)z.data, z.len - 30, &out,
	    &olen, err, sizeof(err)) == -1 && strstr(err, "malformed") != NULL,
	    "zip cut short: %s", err);
	z.data[z.len - 22 + 16] ^= 0x40;	/* central directory offset */
	ok(dmarc_report_inflate((unsigned char *)z.data, z.len, &out, &olen,
	    err, sizeof(err)) == -1, "zip with a bad offset: %s", err);
	mbuf_free(&z);
	memset(&z, 0, sizeof(z));
	zip_make(m, 2, 12, 0, &z);
	ok(dmarc_report_inflate((unsigned char *)z.data, z.len, &out, &olen,
	    err, sizeof(err)) == -1 && strstr(err, "method") != NULL,
	    "zip with an unknown method: %s", err);
	mbuf_free(&z);
	ok(dmarc_report_inflate((const unsigned char *)"PK\5\6", 4, &out,
	    &olen, err, sizeof(err)) == -1, "empty zip: %s", err);
	ok(dmarc_report_inflate((const unsigned char *)s, len, &out, &olen,
	    err, sizeof(err)) == 0 && olen == len, "plain XML is copied");
	free(out);
	free(s);
}

static void
test_bombs(void)
{
	struct mbuf	 z;
	struct member	 m;
	char		*big, *out, err[256];
	size_t		 olen, n = 30 * 1024 * 1024;

	if ((big = calloc(1, n)) == NULL)
		exit(1);
	memset(big, ' ', n);
	memset(&z, 0, sizeof(z));
	gzip_make(big, n, &z);
	ok(dmarc_report_inflate((unsigned char *)z.data, z.len, &out, &olen,
	    err, sizeof(err)) == -1 && strstr(err, "refused") != NULL &&
	    out == NULL, "gzip bomb (%zu bytes to 30 MiB): %s", z.len, err);
	mbuf_free(&z);
	/* Under the 20 MiB limit, but past the ratio. */
	memset(&z, 0, sizeof(z));
	gzip_make(big, 4 * 1024 * 1024, &z);
	ok(dmarc_report_inflate((unsigned char *)z.data, z.len, &out, &olen,
	    err, sizeof(err)) == -1 && strstr(err, "refused") != NULL,
	    "gzip of ratio %zu: %s", 4 * 1024 * 1024 / z.len, err);
	mbuf_free(&z);
	m.name = "bomb.xml";
	m.data = big;
	m.len = n;
	memset(&z, 0, sizeof(z));
	zip_make(&m, 1, 8, 0, &z);
	ok(dmarc_report_inflate((unsigned char *)z.data, z.len, &out, &olen,
	    err, sizeof(err)) == -1 && strstr(err, "refused") != NULL,
	    "zip bomb, size told: %s", err);
	mbuf_free(&z);
	/* The central directory lies about the size: inflate stops. */
	memset(&z, 0, sizeof(z));
	zip_make(&m, 1, 8, 0, &z);
	{
		size_t		 cd = z.len - 22 - 46 - strlen(m.name);
		unsigned char	*u = (unsigned char *)z.data + cd + 24;

		u[0] = 100;
		u[1] = u[2] = u[3] = 0;
	}
	ok(dmarc_report_inflate((unsigned char *)z.data, z.len, &out, &olen,
	    err, sizeof(err)) == -1 && strstr(err, "refused") != NULL,
	    "zip bomb, size hidden: %s", err);
	mbuf_free(&z);
	ok(dmarc_report_inflate((unsigned char *)big, n, &out, &olen, err,
	    sizeof(err)) == -1, "30 MiB of plain text: %s", err);
	ok(dmarc_report_xml(big, n, &(struct dmarc_report){ 0 }, err,
	    sizeof(err)) == -1 && strstr(err, "MiB") != NULL,
	    "30 MiB of XML: %s", err);
	free(big);
}

static void
test_messages(void)
{
	struct dmarc_report	 r;
	struct mbuf		 z, msg, b;
	struct member		 m;
	char			*s, err[256];
	size_t			 len;

	s = slurp("google.xml", &len);
	/* Google: the message is the zip. */
	memset(&z, 0, sizeof(z));
	m.name = "google.com!example.org!1714521600!1714607999.xml";
	m.data = s;
	m.len = len;
	zip_make(&m, 1, 8, 0, &z);
	memset(&msg, 0, sizeof(msg));
	mbuf_printf(&msg, "From: noreply-dmarc-support@google.com\r\n"
	    "Subject: Report domain: example.org Submitter: google.com "
	    "Report-ID: 11536431815838426183\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: application/zip; \r\n\tname=\"%s.zip\"\r\n"
	    "Content-Disposition: attachment; filename=\"%s.zip\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n", m.name, m.name);
	base64(z.data, z.len, &msg);
	ok(dmarc_report_parse(msg.data, msg.len, &r, err, sizeof(err)) == 0 &&
	    r.nrows == 2 && strcmp(r.org_name, "google.com") == 0,
	    "single-part application/zip message");
	dmarc_report_free(&r);
	ok(dmarc_report_is(msg.data, strstr(msg.data, "\r\n\r\n") + 4 -
	    msg.data) == 1, "its header is a report's");
	mbuf_free(&msg);
	mbuf_free(&z);

	/* Microsoft: multipart/mixed, text then the .xml.gz. */
	memset(&z, 0, sizeof(z));
	gzip_make(s, len, &z);
	memset(&msg, 0, sizeof(msg));
	mbuf_printf(&msg, "From: dmarcreport@microsoft.com\r\n"
	    "Subject: Report Domain: example.org Submitter: "
	    "protection.outlook.com Report-ID: <x@y>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
	    "--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
	    "This is a DMARC aggregate report.\r\n"
	    "--b1\r\nContent-Type: application/gzip\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "Content-Disposition: attachment; filename=\"r.xml.gz\"\r\n\r\n");
	base64(z.data, z.len, &msg);
	mbuf_printf(&msg, "--b1--\r\n");
	ok(dmarc_report_parse(msg.data, msg.len, &r, err, sizeof(err)) == 0 &&
	    r.nrows == 2 && r.rows[0].count == 17,
	    "multipart message with application/gzip");
	dmarc_report_free(&r);
	ok(dmarc_report_is(msg.data, strstr(msg.data, "\r\n\r\n") + 4 -
	    msg.data) == 1, "its header is a report's");
	/* The same base64 broken. */
	memset(&b, 0, sizeof(b));
	mbuf_add(&b, msg.data, msg.len);
	*strstr(strstr(b.data, "gz\"\r\n\r\n") + 7, "\r\n") = '!';
	ok(dmarc_report_parse(b.data, b.len, &r, err, sizeof(err)) == -1 &&
	    strstr(err, "base64") != NULL, "bad base64: %s", err);
	mbuf_free(&b);
	mbuf_free(&msg);

	/* Plain XML as a text/xml part, 8bit. */
	memset(&msg, 0, sizeof(msg));
	mbuf_printf(&msg, "Subject: Report Domain: example.org\r\n"
	    "Content-Type: text/xml\r\n\r\n");
	mbuf_add(&msg, s, len);
	ok(dmarc_report_parse(msg.data, msg.len, &r, err, sizeof(err)) == 0 &&
	    r.nrows == 2, "text/xml part");
	dmarc_report_free(&r);
	mbuf_free(&msg);

	memset(&msg, 0, sizeof(msg));
	mbuf_printf(&msg, "Subject: hello\r\n\r\njust text\r\n");
	ok(dmarc_report_parse(msg.data, msg.len, &r, err, sizeof(err)) == -1 &&
	    strstr(err, "no zip") != NULL, "no report in it: %s", err);
	mbuf_free(&msg);
	memset(&msg, 0, sizeof(msg));
	mbuf_printf(&msg, "Content-Type: application/gzip\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n=1F=8B\r\n");
	ok(dmarc_report_parse(msg.data, msg.len, &r, err, sizeof(err)) == -1 &&
	    strstr(err, "transfer encoding") != NULL, "quoted-printable: %s",
	    err);
	mbuf_free(&msg);
	memset(&msg, 0, sizeof(msg));
	mbuf_printf(&msg, "Content-Type: application/gzip\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\nH4sI\r\n");
	ok(dmarc_report_parse(msg.data, msg.len, &r, err, sizeof(err)) == -1,
	    "a gzip header alone: %s", err);
	mbuf_free(&msg);
	mbuf_free(&z);
	free(s);
}

static void
test_is(void)
{
	static const struct {
		const char	*hdr;
		int		 is;
		const char	*name;
	} t[] = {
		{ "Subject: Report Domain: example.org Submitter: x "
		    "Report-ID: 1\r\nContent-Type: multipart/mixed; "
		    "boundary=x\r\n\r\n", 1, "RFC 7489 subject, multipart" },
		{ "Subject: report domain: example.org\r\n"
		    "Content-Type: application/gzip\r\n\r\n", 1,
		    "subject in lower case, gzip" },
		{ "Content-Type: application/zip\r\nSubject:\r\n Report "
		    "Domain: example.org\r\n\r\n", 1, "folded subject, zip" },
		{ "Subject: Report Domain: example.org\r\n\r\n", 0,
		    "RFC 7489 subject, text/plain" },
		{ "Subject: Re: Report Domain: example.org\r\n"
		    "Content-Type: multipart/mixed; boundary=x\r\n\r\n", 0,
		    "a reply" },
		{ "Subject: holiday photos\r\n"
		    "Content-Type: multipart/mixed; boundary=x\r\n\r\n", 0,
		    "a person's attachment" },
		{ "Subject: DMARC Aggregate Report for example.org\r\n"
		    "Content-Type: application/x-zip-compressed\r\n\r\n", 1,
		    "a bare zip with \"report\" in the subject" },
		{ "Subject: the files\r\n"
		    "Content-Type: application/zip\r\n\r\n", 0,
		    "a bare zip without" },
		{ "Subject: Report Domain: x\r\n"
		    "Content-Type: application/pdf\r\n\r\n", 0,
		    "a pdf" },
		{ "Content-Type: application/gzip\r\n\r\n", 0,
		    "no subject" },
		{ "", 0, "empty header" },
	};
	struct mbuf	 b;
	size_t		 i;

	for (i = 0; i < nitems(t); i++)
		is_int(dmarc_report_is(t[i].hdr, strlen(t[i].hdr)), t[i].is,
		    t[i].name);
	{
		char	 dir[MAILBOX_DIR_MAX + 1];

		ok(mailbox_name_to_dir(DMARC_REPORT_FOLDER, MAILBOX_UTF8, dir,
		    sizeof(dir), NULL) == 0 &&
		    strcmp(dir, ".DMARC Reports") == 0,
		    "the reports folder is \".DMARC Reports\" on disk");
	}
	/* A header past the limit: the Subject beyond it is not seen. */
	memset(&b, 0, sizeof(b));
	mbuf_printf(&b, "Content-Type: application/zip\r\n");
	while (b.len < DMARC_REPORT_HDR_MAX)
		mbuf_printf(&b, "X-Pad: %0100d\r\n", 0);
	mbuf_printf(&b, "Subject: Report Domain: x\r\n\r\n");
	is_int(dmarc_report_is(b.data, b.len), 0,
	    "only DMARC_REPORT_HDR_MAX bytes are read");
	mbuf_free(&b);
}

/*
 * Flipped bytes and cuts of a good gzip, zip and XML: an error or a
 * report, never a crash (ASan and UBSan say so under SANITIZE=1).
 */
static void
test_mutations(void)
{
	struct dmarc_report	 r;
	struct member		 m;
	struct mbuf		 in[3];
	char			*s, *out, *c, err[256];
	size_t			 len, olen, i, k, pos;
	uint32_t		 seed = 12345;
	int			 n = 0, good = 0;

	s = slurp("microsoft.xml", &len);
	memset(in, 0, sizeof(in));
	gzip_make(s, len, &in[0]);
	m.name = "r.xml";
	m.data = s;
	m.len = len;
	zip_make(&m, 1, 8, 0, &in[1]);
	mbuf_add(&in[2], s, len);
	for (k = 0; k < 3; k++) {
		for (i = 0; i < 3000; i++) {
			if ((c = malloc(in[k].len)) == NULL)
				exit(1);
			memcpy(c, in[k].data, in[k].len);
			seed = seed * 1103515245 + 12345;
			pos = (seed >> 8) % in[k].len;
			c[pos] ^= 1 + (seed >> 24) % 255;
			olen = i % 3 == 0 ? pos + 1 : in[k].len;
			if (dmarc_report_inflate((unsigned char *)c, olen, &out,
			    &olen, err, sizeof(err)) == 0) {
				if (dmarc_report_xml(out, olen, &r, err,
				    sizeof(err)) == 0)
					good++;
				dmarc_report_free(&r);
				free(out);
			}
			free(c);
			n++;
		}
		mbuf_free(&in[k]);
	}
	ok(n == 9000, "%d mutated inputs, %d still reports, no crash", n,
	    good);
	free(s);
}

int
main(void)
{
	test_google();
	test_microsoft();
	test_dmarcbis();
	test_bad_files();
	test_limits();
	test_gzip_zip();
	test_bombs();
	test_messages();
	test_is();
	test_mutations();
	return done_testing();
}
