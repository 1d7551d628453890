/*
 * DMARC aggregate reports (RFC 7489 section 7.2 and appendix C): telling
 * one from its header, finding the report in a whole message (MIME,
 * base64), decompressing it (gzip, or the first .xml member of a zip
 * archive, deflated or stored) and reading the few elements of its XML
 * that a summary needs.
 *
 * Everything here is pure: the caller gives the bytes, nothing is read
 * or written but memory.  Reports come from anybody on the Internet, so
 * every step is bounded: DMARC_REPORT_MSG_MAX bytes of message,
 * DMARC_REPORT_XML_MAX bytes of XML after decompression and never more
 * than DMARC_REPORT_RATIO times the compressed size (past the first
 * MiB: a zip or gzip bomb stops there), DMARC_REPORT_ROWS_MAX records.
 * Anything malformed is an error with a reason, never a crash, and no
 * partial result: mailctl dmarc runs this in an unprivileged process
 * all the same.
 *
 * The XML parser is strict and small: well-formed XML in UTF-8 (or
 * US-ASCII), elements matched by their local name (a namespace prefix
 * or xmlns is allowed and ignored), comments, processing instructions
 * and CDATA sections allowed; a DOCTYPE (a DTD, thus entity expansion)
 * is refused, and the only references are the five predefined entities
 * and numeric character references.  Unknown elements are skipped
 * (checked for well-formedness only), so that the extensions of
 * DMARCbis and of reporters do not break a report.
 */
#ifndef MAILD_DMARC_REPORT_H
#define MAILD_DMARC_REPORT_H

#include <stddef.h>
#include <stdint.h>

/*
 * The IMAP folder maild files reports in, instead of the inbox; on disk
 * (mailbox_name_to_dir) the Maildir++ directory ".DMARC Reports".
 */
#define DMARC_REPORT_FOLDER	"DMARC Reports"

#define DMARC_REPORT_HDR_MAX	(256 * 1024)	/* header read by _is() */
#define DMARC_REPORT_MSG_MAX	(16 * 1024 * 1024)	/* a message */
#define DMARC_REPORT_XML_MAX	(20 * 1024 * 1024)	/* decompressed */
#define DMARC_REPORT_RATIO	200	/* output / input, past 1 MiB */
#define DMARC_REPORT_ROWS_MAX	100000	/* records in one report */
#define DMARC_REPORT_AUTH_MAX	16	/* auth_results of one record */
#define DMARC_REPORT_DEPTH_MAX	32	/* nesting of XML elements */
#define DMARC_REPORT_TEXT_MAX	1024	/* bytes of one element's text */

/* One <dkim> or <spf> of a record's <auth_results>. */
struct dmarc_report_auth {
	int		 spf;		/* 1 spf, 0 dkim */
	char		*domain;	/* as reported, "" if absent */
	char		 result[16];	/* lowercase: pass, fail, none... */
};

/* One <record>. */
struct dmarc_report_row {
	char		 source_ip[46];	/* canonical (inet_ntop) form */
	uint64_t	 count;
	/* policy_evaluated: "none", "quarantine", "reject" ("pass" of */
	/* DMARCbis is read as "none": nothing was done to the mail) */
	char		 disposition[12];
	int		 dkim_pass;	/* DKIM aligned and passed: 1, or 0 */
	int		 spf_pass;	/* SPF aligned and passed: 1, or 0 */
	char		*header_from;	/* as reported (may be odd) */
	struct dmarc_report_auth *auth;
	size_t		 nauth;
};

struct dmarc_report {
	char		*org_name;	/* report_metadata */
	char		*email;		/* "" if absent */
	char		*report_id;
	int64_t		 begin, end;	/* date_range, seconds since 1970 */
	char		 domain[254];	/* policy_published, lowercase */
	char		 p[12];		/* none, quarantine, reject */
	struct dmarc_report_row *rows;
	size_t		 nrows;
};

/*
 * Does the header block hdr[0..hdrlen) (at most DMARC_REPORT_HDR_MAX
 * bytes of it are read) belong to an aggregate report?  1 if
 *   - its Subject starts with "Report Domain:" (RFC 7489 7.2.1.1; any
 *     case: Google writes "Report domain:") and its Content-Type is
 *     multipart (any subtype) or one of the compressed types below; or
 *   - its Content-Type is application/zip, application/gzip,
 *     application/x-gzip, application/x-zip or application/x-zip-
 *     compressed (the message is the report alone, as Google sends it)
 *     and its Subject contains "report" (any case);
 * 0 otherwise (a reply "Re: Report Domain: ..." or a person's mail
 * with a zip attachment stays in the inbox).  No allocation is kept,
 * no I/O.
 */
int	dmarc_report_is(const char *hdr, size_t hdrlen);

/*
 * Read a report from a whole message msg[0..len) into r (zeroed by the
 * call): the first MIME leaf (depth first) whose type is a compressed
 * one above, application/octet-stream, application/xml or text/xml,
 * base64 or not encoded, holding gzip, zip or XML (told by its bytes).
 * 0, or -1 with a reason in err (r is then empty).  Free r with
 * dmarc_report_free() after either.
 */
int	dmarc_report_parse(const char *msg, size_t len, struct dmarc_report *r,
	    char *err, size_t errlen);
/* The XML alone (steps of the above, for tests and other callers). */
int	dmarc_report_xml(const char *xml, size_t len, struct dmarc_report *r,
	    char *err, size_t errlen);
/*
 * Decompress gzip (RFC 1952, first member) or zip (the first member
 * named *.xml, or the only member; stored or deflated; its CRC-32
 * checked) into *out (malloc'd, NUL-terminated, *outlen without it), or
 * copy what is neither.  0, or -1 with a reason in err.
 */
int	dmarc_report_inflate(const unsigned char *in, size_t inlen,
	    char **out, size_t *outlen, char *err, size_t errlen);
void	dmarc_report_free(struct dmarc_report *r);

#endif
