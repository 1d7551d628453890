/*
 * IMAP FETCH (RFC 3501 6.4.5 and 7.4.2, RFC 9051, BINARY RFC 3516,
 * the CHANGEDSINCE and VANISHED modifiers of RFC 7162, EMAILID and
 * THREADID of OBJECTID RFC 8474, SAVEDATE RFC 8514, PREVIEW RFC 8970
 * with its LAZY modifier): the data items
 * of one command are compiled once into a list, then the untagged
 * FETCH response of each message is rendered from what the caller
 * gives in struct fetch_msg.  Section data always goes out as a
 * literal; BINARY data holding NULs as a literal8.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "compat.h"
#include "imap.h"
#include "imap_parser.h"
#include "log.h"
#include "mime.h"

#define FETCH_MAX_ITEMS		64	/* data items of one command */
#define FETCH_MAX_FIELDS	64	/* names in one HEADER.FIELDS list */
#define FETCH_MAX_FIELDLEN	128	/* bytes of one field name */
#define FETCH_MAX_PART		128	/* bytes of "1.2.3" */

enum item_type {
	FI_UID,
	FI_FLAGS,
	FI_INTERNALDATE,
	FI_SIZE,
	FI_ENVELOPE,
	FI_BODY,
	FI_BODYSTRUCTURE,
	FI_MODSEQ,
	FI_SECTION,		/* BODY[...], BODY.PEEK[...], RFC822* */
	FI_BINARY,		/* BINARY[...], BINARY.PEEK[...] */
	FI_BINARY_SIZE,
	FI_EMAILID,
	FI_THREADID,
	FI_SAVEDATE,
	FI_PREVIEW
};

enum sec_type {
	SEC_ALL,		/* [] */
	SEC_PART,		/* [1.2]: body of the part */
	SEC_HEADER,
	SEC_TEXT,
	SEC_MIME,
	SEC_FIELDS,
	SEC_FIELDS_NOT
};

struct fetch_item {
	enum item_type	 type;
	enum sec_type	 sec;
	char		 part[FETCH_MAX_PART];	/* "" or "1.2" */
	char		**fields;		/* upper-cased */
	size_t		 nfields;
	int		 partial;
	uint32_t	 off, len;
	char		*name;		/* its response name */
};

struct fetch_spec {
	/* Room for the implicit UID and MODSEQ. */
	struct fetch_item	 items[FETCH_MAX_ITEMS + 2];
	size_t			 nitems;
	int			 needs;
	uint64_t		 changedsince;
};

/* What rendering one message shares between its items. */
struct render {
	const char		*buf;
	size_t			 len;
	const struct mime_msg	*mime;
	struct mime_msg		*own;		/* parsed here */
};

static const struct simple_item {
	const char	*name;
	enum item_type	 type;
	enum sec_type	 sec;		/* FI_SECTION only */
	int		 needs;
} simple_items[] = {
	{ "UID", FI_UID, SEC_ALL, 0 },
	{ "FLAGS", FI_FLAGS, SEC_ALL, FETCH_NEED_FLAGS },
	{ "INTERNALDATE", FI_INTERNALDATE, SEC_ALL, FETCH_NEED_DATE },
	{ "RFC822.SIZE", FI_SIZE, SEC_ALL, FETCH_NEED_SIZE },
	{ "ENVELOPE", FI_ENVELOPE, SEC_ALL, FETCH_NEED_ENVELOPE },
	{ "BODY", FI_BODY, SEC_ALL, FETCH_NEED_BODY },
	{ "BODYSTRUCTURE", FI_BODYSTRUCTURE, SEC_ALL,
	    FETCH_NEED_BODYSTRUCTURE },
	{ "MODSEQ", FI_MODSEQ, SEC_ALL, FETCH_NEED_MODSEQ },
	{ "RFC822", FI_SECTION, SEC_ALL,
	    FETCH_NEED_CONTENT | FETCH_SETS_SEEN },
	{ "RFC822.HEADER", FI_SECTION, SEC_HEADER, FETCH_NEED_CONTENT },
	{ "RFC822.TEXT", FI_SECTION, SEC_TEXT,
	    FETCH_NEED_CONTENT | FETCH_SETS_SEEN },
	{ "EMAILID", FI_EMAILID, SEC_ALL, FETCH_NEED_EMAILID },
	{ "THREADID", FI_THREADID, SEC_ALL, 0 },
	{ "SAVEDATE", FI_SAVEDATE, SEC_ALL, FETCH_NEED_SAVEDATE },
	{ "PREVIEW", FI_PREVIEW, SEC_ALL, FETCH_NEED_PREVIEW }
};

static const struct section_item {
	const char	*name;
	const char	*prefix;	/* in the response */
	enum item_type	 type;
	int		 needs;
} section_items[] = {
	{ "BODY", "BODY", FI_SECTION, FETCH_NEED_CONTENT | FETCH_SETS_SEEN },
	{ "BODY.PEEK", "BODY", FI_SECTION, FETCH_NEED_CONTENT },
	{ "BINARY", "BINARY", FI_BINARY,
	    FETCH_NEED_CONTENT | FETCH_SETS_SEEN },
	{ "BINARY.PEEK", "BINARY", FI_BINARY, FETCH_NEED_CONTENT },
	{ "BINARY.SIZE", "BINARY.SIZE", FI_BINARY_SIZE, FETCH_NEED_CONTENT }
};

static const char *const macro_all[] = {
	"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", NULL
};
static const char *const macro_fast[] = {
	"FLAGS", "INTERNALDATE", "RFC822.SIZE", NULL
};
static const char *const macro_full[] = {
	"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY", NULL
};

static const char *const months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

static int	 plain_atom(const struct imap_arg *);
static const char *const *macro(const struct imap_arg *);
static int	 atom_char(unsigned char);
static void	 item_clear(struct fetch_item *);
static int	 item_add(struct fetch_spec *, struct fetch_item *,
		    const char **);
static int	 item_insert(struct fetch_spec *, size_t, enum item_type);
static int	 has_item(const struct fetch_spec *, enum item_type);
static int	 compile_simple(struct fetch_spec *, const char *,
		    const char **);
static int	 compile_item(struct fetch_spec *, const struct imap_arg *,
		    const char **);
static int	 parse_section(struct fetch_item *, const char *, size_t, int,
		    const char **);
static int	 parse_fields(struct fetch_item *, const char *, size_t,
		    const char **);
static void	 item_name(struct fetch_item *, const char *);
static int	 compile_modifiers(struct fetch_spec *,
		    const struct imap_arg *, int, const char **);
static int	 is_preview(const struct imap_arg *);
static int	 preview_mods(struct fetch_spec *, const struct imap_arg *,
		    const char **);
static int	 parse_modseq(const struct imap_arg *, uint64_t *);
static const struct mime_msg *render_mime(struct render *);
static void	 put_date(struct mbuf *, time_t);
static void	 put_data(struct mbuf *, const char *, size_t, int);
static void	 clip(const struct fetch_item *, const char **, size_t *);
static void	 section_data(const struct fetch_item *, struct render *,
		    struct mbuf *, const char **, size_t *);
static int	 binary_data(const struct fetch_item *, struct render *,
		    char **, const char **, size_t *);
static void	 put_string(struct mbuf *, const char *, int);
static int	 render_item(struct mbuf *, const struct fetch_item *,
		    const struct fetch_msg *, struct render *, int);

/* An atom without [section] or <partial>. */
static int
plain_atom(const struct imap_arg *a)
{
	return a->type == IMAP_ARG_ATOM &&
	    !(a->flags & (IMAP_ARGF_SECTION | IMAP_ARGF_PARTIAL));
}

static const char *const *
macro(const struct imap_arg *a)
{
	if (!plain_atom(a))
		return NULL;
	if (strcasecmp(a->str, "ALL") == 0)
		return macro_all;
	if (strcasecmp(a->str, "FAST") == 0)
		return macro_fast;
	if (strcasecmp(a->str, "FULL") == 0)
		return macro_full;
	return NULL;
}

/* ATOM-CHAR of RFC 3501: what a field name may hold unquoted. */
static int
atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return 0;
	return strchr("(){%*\"\\]", c) == NULL;
}

static void
item_clear(struct fetch_item *it)
{
	size_t	 i;

	for (i = 0; i < it->nfields; i++)
		free(it->fields[i]);
	free(it->fields);
	free(it->name);
	memset(it, 0, sizeof(*it));
}

/*
 * Append it to the list, or drop it when the same item is already
 * there (BODY[] and BODY.PEEK[] give the same response).  The list
 * owns the item afterwards either way.
 */
static int
item_add(struct fetch_spec *fs, struct fetch_item *it, const char **errstr)
{
	const struct fetch_item	*o;
	size_t			 i;

	for (i = 0; i < fs->nitems; i++) {
		o = &fs->items[i];
		if (o->type != it->type)
			continue;
		if (o->name == NULL || strcmp(o->name, it->name) == 0) {
			item_clear(it);
			return 0;
		}
	}
	if (fs->nitems >= FETCH_MAX_ITEMS) {
		item_clear(it);
		*errstr = "Too many FETCH items";
		return -1;
	}
	fs->items[fs->nitems++] = *it;
	memset(it, 0, sizeof(*it));
	return 0;
}

/* Put an implicit item at position pos (room is reserved for two). */
static int
item_insert(struct fetch_spec *fs, size_t pos, enum item_type type)
{
	if (fs->nitems >= nitems(fs->items) || pos > fs->nitems)
		return -1;
	memmove(&fs->items[pos + 1], &fs->items[pos],
	    (fs->nitems - pos) * sizeof(fs->items[0]));
	memset(&fs->items[pos], 0, sizeof(fs->items[0]));
	fs->items[pos].type = type;
	fs->nitems++;
	return 0;
}

static int
has_item(const struct fetch_spec *fs, enum item_type type)
{
	size_t	 i;

	for (i = 0; i < fs->nitems; i++)
		if (fs->items[i].type == type)
			return 1;
	return 0;
}

static int
compile_simple(struct fetch_spec *fs, const char *name, const char **errstr)
{
	const struct simple_item	*si = NULL;
	struct fetch_item		 it;
	size_t				 i;

	for (i = 0; i < nitems(simple_items); i++)
		if (strcasecmp(name, simple_items[i].name) == 0) {
			si = &simple_items[i];
			break;
		}
	if (si == NULL) {
		*errstr = "Unknown FETCH item";
		return -1;
	}
	memset(&it, 0, sizeof(it));
	it.type = si->type;
	it.sec = si->sec;
	if (it.type == FI_SECTION)
		item_name(&it, si->name);
	fs->needs |= si->needs;
	return item_add(fs, &it, errstr);
}

static int
compile_item(struct fetch_spec *fs, const struct imap_arg *a,
    const char **errstr)
{
	const struct section_item	*si = NULL;
	struct fetch_item		 it;
	size_t				 i;

	if (a->type != IMAP_ARG_ATOM) {
		*errstr = "Invalid FETCH item";
		return -1;
	}
	if (!(a->flags & IMAP_ARGF_SECTION))
		return compile_simple(fs, a->str, errstr);
	for (i = 0; i < nitems(section_items); i++)
		if (strlen(section_items[i].name) == a->namelen &&
		    strncasecmp(a->str, section_items[i].name,
		    a->namelen) == 0) {
			si = &section_items[i];
			break;
		}
	if (si == NULL) {
		*errstr = "Unknown FETCH item";
		return -1;
	}
	memset(&it, 0, sizeof(it));
	it.type = si->type;
	if (parse_section(&it, a->section, a->seclen, it.type != FI_SECTION,
	    errstr) == -1) {
		item_clear(&it);
		return -1;
	}
	if (a->flags & IMAP_ARGF_PARTIAL) {
		if (it.type == FI_BINARY_SIZE) {
			item_clear(&it);
			*errstr = "BINARY.SIZE takes no partial range";
			return -1;
		}
		it.partial = 1;
		it.off = a->partial_off;
		it.len = a->partial_len;
	}
	item_name(&it, si->prefix);
	fs->needs |= si->needs;
	return item_add(fs, &it, errstr);
}

/*
 * section-spec of RFC 3501: [part] ["." text] where text is HEADER,
 * TEXT, MIME (only after a part) or HEADER.FIELDS[.NOT] (list).
 * BINARY sections are only a part number or empty.
 */
static int
parse_section(struct fetch_item *it, const char *s, size_t n, int binary,
    const char **errstr)
{
	size_t	 i = 0, plen = 0, d, start;

	*errstr = "Invalid section";
	while (i < n && s[i] >= '0' && s[i] <= '9') {
		if (s[i] == '0')
			return -1;
		for (start = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
		d = i - start;
		if (d > 9 || plen + d + 2 > sizeof(it->part)) {
			*errstr = "Section part number too long";
			return -1;
		}
		if (plen > 0)
			it->part[plen++] = '.';
		memcpy(it->part + plen, s + start, d);
		plen += d;
		it->part[plen] = '\0';
		if (i == n) {
			it->sec = SEC_PART;
			return 0;
		}
		if (s[i++] != '.' || i == n)
			return -1;
	}
	s += i;
	n -= i;
	if (binary) {
		if (n != 0) {
			*errstr = "BINARY takes only a part number";
			return -1;
		}
		it->sec = SEC_ALL;
		return 0;
	}
	if (n == 0 && plen == 0)
		it->sec = SEC_ALL;
	else if (n == 6 && strncasecmp(s, "HEADER", 6) == 0)
		it->sec = SEC_HEADER;
	else if (n == 4 && strncasecmp(s, "TEXT", 4) == 0)
		it->sec = SEC_TEXT;
	else if (n == 4 && strncasecmp(s, "MIME", 4) == 0 && plen > 0)
		it->sec = SEC_MIME;
	else if (n > 18 && strncasecmp(s, "HEADER.FIELDS.NOT ", 18) == 0) {
		it->sec = SEC_FIELDS_NOT;
		return parse_fields(it, s + 18, n - 18, errstr);
	} else if (n > 14 && strncasecmp(s, "HEADER.FIELDS ", 14) == 0) {
		it->sec = SEC_FIELDS;
		return parse_fields(it, s + 14, n - 14, errstr);
	} else
		return -1;
	return 0;
}

/* header-list: "(" astring *(SP astring) ")", no literals in a section. */
static int
parse_fields(struct fetch_item *it, const char *s, size_t n,
    const char **errstr)
{
	char	 name[FETCH_MAX_FIELDLEN + 1], *dup;
	size_t	 i, k, end;

	*errstr = "Invalid header field list";
	if (n < 2 || s[0] != '(' || s[n - 1] != ')')
		return -1;
	end = n - 1;
	for (i = 1;;) {
		k = 0;
		if (i < end && s[i] == '"') {
			for (i++; i < end && s[i] != '"'; i++) {
				if (s[i] == '\\' && ++i == end)
					return -1;
				if (k >= FETCH_MAX_FIELDLEN)
					goto toolong;
				name[k++] = s[i];
			}
			if (i++ == end)
				return -1;
		} else {
			for (; i < end && s[i] != ' '; i++) {
				if (!atom_char((unsigned char)s[i]))
					return -1;
				if (k >= FETCH_MAX_FIELDLEN)
					goto toolong;
				name[k++] = s[i];
			}
		}
		if (k == 0)
			return -1;
		name[k] = '\0';
		if (it->nfields >= FETCH_MAX_FIELDS) {
			*errstr = "Too many header field names";
			return -1;
		}
		if (it->fields == NULL && (it->fields = calloc(FETCH_MAX_FIELDS,
		    sizeof(*it->fields))) == NULL)
			fatal("calloc");
		if ((dup = strdup(name)) == NULL)
			fatal("strdup");
		for (k = 0; dup[k] != '\0'; k++)
			if (dup[k] >= 'a' && dup[k] <= 'z')
				dup[k] -= 'a' - 'A';
		it->fields[it->nfields++] = dup;
		if (i == end)
			return 0;
		if (s[i++] != ' ' || i == end)
			return -1;
	}
 toolong:
	*errstr = "Header field name too long";
	return -1;
}

/*
 * The name the response uses: "RFC822.TEXT" for the simple ones, else
 * prefix + "[" canonical section "]" + "<origin>".
 */
static void
item_name(struct fetch_item *it, const char *prefix)
{
	static const char *const texts[] = {
		[SEC_HEADER] = "HEADER", [SEC_TEXT] = "TEXT",
		[SEC_MIME] = "MIME", [SEC_FIELDS] = "HEADER.FIELDS",
		[SEC_FIELDS_NOT] = "HEADER.FIELDS.NOT"
	};
	struct mbuf	 b;
	size_t		 i, k;
	const char	*f;

	memset(&b, 0, sizeof(b));
	mbuf_printf(&b, "%s", prefix);
	if (it->type == FI_SECTION && strncmp(prefix, "RFC822", 6) == 0) {
		it->name = b.data;
		return;
	}
	mbuf_printf(&b, "[%s", it->part);
	if (it->sec != SEC_ALL && it->sec != SEC_PART)
		mbuf_printf(&b, "%s%s", it->part[0] != '\0' ? "." : "",
		    texts[it->sec]);
	if (it->sec == SEC_FIELDS || it->sec == SEC_FIELDS_NOT) {
		mbuf_add(&b, " (", 2);
		for (i = 0; i < it->nfields; i++) {
			f = it->fields[i];
			if (i > 0)
				mbuf_add(&b, " ", 1);
			for (k = 0; f[k] != '\0' &&
			    atom_char((unsigned char)f[k]); k++)
				;
			if (f[k] == '\0') {
				mbuf_add(&b, f, k);
				continue;
			}
			mbuf_add(&b, "\"", 1);
			for (k = 0; f[k] != '\0'; k++) {
				if (f[k] == '"' || f[k] == '\\')
					mbuf_add(&b, "\\", 1);
				mbuf_add(&b, f + k, 1);
			}
			mbuf_add(&b, "\"", 1);
		}
		mbuf_add(&b, ")", 1);
	}
	mbuf_add(&b, "]", 1);
	if (it->partial)
		mbuf_printf(&b, "<%u>", it->off);
	it->name = b.data;
}

/* mod-sequence-value: 1*DIGIT, at most 2^63 - 1 (RFC 7162). */
static int
parse_modseq(const struct imap_arg *a, uint64_t *v)
{
	const char	*s;
	uint64_t	 n = 0;

	if (a == NULL || !plain_atom(a) || a->str[0] == '\0')
		return -1;
	for (s = a->str; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (n > (INT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*v = n;
	return 0;
}

/*
 * "(CHANGEDSINCE n)", "(CHANGEDSINCE n VANISHED)" in any order.
 * RFC 7162 3.2.6: VANISHED only in UID FETCH and only together with
 * CHANGEDSINCE, else BAD (whether QRESYNC is enabled is the caller's
 * check).
 */
static int
compile_modifiers(struct fetch_spec *fs, const struct imap_arg *a, int uid,
    const char **errstr)
{
	const struct imap_arg	*m;
	int			 cs = 0, van = 0;

	if (a->type != IMAP_ARG_LIST || a->list == NULL) {
		*errstr = "Invalid FETCH modifiers";
		return -1;
	}
	for (m = a->list; m != NULL; m = m->next) {
		if (!plain_atom(m)) {
			*errstr = "Invalid FETCH modifier";
			return -1;
		}
		if (strcasecmp(m->str, "CHANGEDSINCE") == 0) {
			m = m->next;
			if (cs || parse_modseq(m, &fs->changedsince) == -1) {
				*errstr = "Invalid CHANGEDSINCE modifier";
				return -1;
			}
			cs = 1;
		} else if (strcasecmp(m->str, "VANISHED") == 0) {
			if (van) {
				*errstr = "Duplicate VANISHED modifier";
				return -1;
			}
			van = 1;
		} else {
			*errstr = "Unknown FETCH modifier";
			return -1;
		}
	}
	if (van && !uid) {
		*errstr = "VANISHED is only allowed in UID FETCH";
		return -1;
	}
	if (van && !cs) {
		*errstr = "VANISHED needs CHANGEDSINCE";
		return -1;
	}
	fs->needs |= FETCH_CHANGEDSINCE | FETCH_NEED_MODSEQ;
	if (van)
		fs->needs |= FETCH_VANISHED;
	return 0;
}

static int
is_preview(const struct imap_arg *a)
{
	return plain_atom(a) && strcasecmp(a->str, "PREVIEW") == 0;
}

/* RFC 8970 3.1: "(" preview-mod *(SP preview-mod) ")", LAZY only. */
static int
preview_mods(struct fetch_spec *fs, const struct imap_arg *a,
    const char **errstr)
{
	const struct imap_arg	*m;

	if (a->list == NULL) {
		*errstr = "Empty PREVIEW modifier list";
		return -1;
	}
	for (m = a->list; m != NULL; m = m->next) {
		if (!plain_atom(m) || strcasecmp(m->str, "LAZY") != 0) {
			*errstr = "Unknown PREVIEW modifier";
			return -1;
		}
		fs->needs |= FETCH_PREVIEW_LAZY;
	}
	return 0;
}

int
fetch_compile(const struct imap_arg *args, int uid, struct fetch_spec **specp,
    const char **errstr)
{
	struct fetch_spec	*fs;
	const struct imap_arg	*a, *mods;
	const char *const	*mac;
	size_t			 i;

	*specp = NULL;
	if ((fs = calloc(1, sizeof(*fs))) == NULL)
		fatal("calloc");
	if (args == NULL) {
		*errstr = "Missing FETCH items";
		goto bad;
	}
	mods = args->next;
	if ((mac = macro(args)) != NULL) {
		for (i = 0; mac[i] != NULL; i++)
			if (compile_simple(fs, mac[i], errstr) == -1)
				goto bad;
	} else if (args->type == IMAP_ARG_LIST) {
		if (args->list == NULL) {
			*errstr = "Empty FETCH item list";
			goto bad;
		}
		for (a = args->list; a != NULL; a = a->next) {
			if (macro(a) != NULL) {
				*errstr = "FETCH macros are not allowed in a "
				    "list";
				goto bad;
			}
			if (compile_item(fs, a, errstr) == -1)
				goto bad;
			if (is_preview(a) && a->next != NULL &&
			    a->next->type == IMAP_ARG_LIST) {
				a = a->next;
				if (preview_mods(fs, a, errstr) == -1)
					goto bad;
			}
		}
	} else {
		if (compile_item(fs, args, errstr) == -1)
			goto bad;
		/* "PREVIEW (LAZY)" alone, not FETCH modifiers. */
		if (is_preview(args) && mods != NULL &&
		    mods->type == IMAP_ARG_LIST && mods->list != NULL &&
		    plain_atom(mods->list) &&
		    strcasecmp(mods->list->str, "LAZY") == 0) {
			if (preview_mods(fs, mods, errstr) == -1)
				goto bad;
			mods = mods->next;
		}
	}
	if (mods != NULL) {
		if (mods->next != NULL) {
			*errstr = "Too many FETCH arguments";
			goto bad;
		}
		if (compile_modifiers(fs, mods, uid, errstr) == -1)
			goto bad;
	}
	/* UID FETCH always reports UID; CHANGEDSINCE always MODSEQ. */
	if (uid && !has_item(fs, FI_UID) && item_insert(fs, 0, FI_UID) == -1)
		goto internal;
	if ((fs->needs & FETCH_CHANGEDSINCE) && !has_item(fs, FI_MODSEQ) &&
	    item_insert(fs, uid ? 1 : 0, FI_MODSEQ) == -1)
		goto internal;
	*specp = fs;
	return 0;
 internal:
	*errstr = "Too many FETCH items";
 bad:
	fetch_free(fs);
	return -1;
}

void
fetch_free(struct fetch_spec *fs)
{
	size_t	 i;

	if (fs == NULL)
		return;
	for (i = 0; i < fs->nitems; i++)
		item_clear(&fs->items[i]);
	free(fs);
}

int
fetch_needs(const struct fetch_spec *fs)
{
	return fs->needs;
}

uint64_t
fetch_changedsince(const struct fetch_spec *fs)
{
	return fs->changedsince;
}

static const struct mime_msg *
render_mime(struct render *r)
{
	if (r->mime == NULL)
		r->mime = r->own = mime_parse(r->buf, r->len);
	return r->mime;
}

/* date-time: "dd-Mon-yyyy hh:mm:ss +zzzz", day space-padded. */
static void
put_date(struct mbuf *o, time_t t)
{
	struct tm	 tm;
	long		 off;
	int		 sign = '+';

	if (localtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 0 ||
	    tm.tm_year + 1900 > 9999 || tm.tm_mon < 0 || tm.tm_mon > 11) {
		mbuf_printf(o, "\"01-Jan-1970 00:00:00 +0000\"");
		return;
	}
	off = tm.tm_gmtoff;
	if (off < 0) {
		sign = '-';
		off = -off;
	}
	mbuf_printf(o, "\"%2d-%s-%04d %02d:%02d:%02d %c%02ld%02ld\"",
	    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, sign, (off / 3600) % 100, (off / 60) % 60);
}

/*
 * A literal, or "" when empty.  BINARY data with NULs is a literal8;
 * elsewhere a NUL cannot be sent at all and becomes 0x80, as Dovecot
 * does.
 */
static void
put_data(struct mbuf *o, const char *p, size_t n, int binary)
{
	size_t	 start, i;

	if (n == 0) {
		mbuf_add(o, "\"\"", 2);
		return;
	}
	if (memchr(p, '\0', n) == NULL) {
		mbuf_printf(o, "{%zu}\r\n", n);
		mbuf_add(o, p, n);
		return;
	}
	mbuf_printf(o, "%s{%zu}\r\n", binary ? "~" : "", n);
	start = o->len;
	mbuf_add(o, p, n);
	if (!binary)
		for (i = start; i < start + n; i++)
			if (o->data[i] == '\0')
				o->data[i] = (char)0x80;
}

/* <off.len>: an origin past the end gives the empty string. */
static void
clip(const struct fetch_item *it, const char **p, size_t *n)
{
	if (!it->partial)
		return;
	if (it->off >= *n) {
		*n = 0;
		return;
	}
	*p += it->off;
	*n -= it->off;
	if (*n > it->len)
		*n = it->len;
}

/* The bytes of a BODY[...] section; nonexistent parts are empty. */
static void
section_data(const struct fetch_item *it, struct render *r,
    struct mbuf *tmp, const char **p, size_t *n)
{
	const struct mime_msg	*m;
	char			 spec[FETCH_MAX_PART + 16];
	const char		*text;
	size_t			 off, len;
	int			 w;

	*p = "";
	*n = 0;
	switch (it->sec) {
	case SEC_ALL:
		*p = r->buf;
		*n = r->len;
		return;
	case SEC_PART:
		text = "";
		break;
	case SEC_TEXT:
		text = "TEXT";
		break;
	case SEC_MIME:
		text = "MIME";
		break;
	default:
		text = "HEADER";
		break;
	}
	w = snprintf(spec, sizeof(spec), "%s%s%s", it->part,
	    it->part[0] != '\0' && text[0] != '\0' ? "." : "", text);
	if (w < 0 || (size_t)w >= sizeof(spec))
		return;
	m = render_mime(r);
	if (mime_section(m, spec, &off, &len) == -1 || off > m->len ||
	    len > m->len - off)
		return;
	if (it->sec == SEC_FIELDS || it->sec == SEC_FIELDS_NOT) {
		mime_header_fields(tmp, m->buf + off, len,
		    (const char *const *)it->fields, it->nfields,
		    it->sec == SEC_FIELDS_NOT);
		*p = tmp->data;
		*n = tmp->len;
		return;
	}
	*p = m->buf + off;
	*n = len;
}

/*
 * BINARY[part] content, decoded into *dec (malloc'd) if needed.
 * Containers (multipart, message/rfc822) are not decoded: their
 * encoding can only be an identity one.  -1: unknown encoding.
 */
static int
binary_data(const struct fetch_item *it, struct render *r, char **dec,
    const char **p, size_t *n)
{
	const struct mime_msg	*m;
	const struct mime_part	*pt;
	const char		*e, *rest;

	*p = "";
	*n = 0;
	if (it->sec == SEC_ALL) {
		*p = r->buf;
		*n = r->len;
		return 0;
	}
	m = render_mime(r);
	if ((pt = mime_part_find(m, it->part, &rest)) == NULL ||
	    *rest != '\0' || pt->body_off > m->len ||
	    pt->body_len > m->len - pt->body_off)
		return 0;
	*p = m->buf + pt->body_off;
	*n = pt->body_len;
	e = pt->encoding;
	if ((pt->flags & (MIME_F_MULTIPART | MIME_F_MESSAGE)) || e == NULL ||
	    strcasecmp(e, "7bit") == 0 || strcasecmp(e, "8bit") == 0 ||
	    strcasecmp(e, "binary") == 0)
		return 0;
	if (strcasecmp(e, "base64") == 0) {
		if ((*dec = malloc(*n + 1)) == NULL)
			fatal("malloc");
		*n = mime_b64_decode(*p, *n, *dec);
	} else if (strcasecmp(e, "quoted-printable") == 0) {
		if ((*dec = malloc(*n + 1)) == NULL)
			fatal("malloc");
		*n = mime_qp_decode(*p, *n, *dec);
	} else {
		log_debug("fetch: unknown Content-Transfer-Encoding");
		return -1;
	}
	*p = *dec;
	return 0;
}

/* A string (NULL: NIL), quoted or a literal (8-bit without UTF-8). */
static void
put_string(struct mbuf *o, const char *s, int utf8)
{
	size_t	 n, len;
	char	*buf, c;

	if (s == NULL) {
		mbuf_add(o, "NIL", 3);
		return;
	}
	len = strlen(s);
	n = imap_encode_string(&c, 1, s, len, utf8 ? IMAP_ENC_UTF8 : 0);
	if ((buf = malloc(n + 1)) == NULL)
		fatal("malloc");
	(void)imap_encode_string(buf, n + 1, s, len,
	    utf8 ? IMAP_ENC_UTF8 : 0);
	mbuf_add(o, buf, n);
	free(buf);
}

static int
render_item(struct mbuf *o, const struct fetch_item *it,
    const struct fetch_msg *msg, struct render *r, int utf8)
{
	const struct mime_msg	*m;
	struct mbuf		 tmp;
	const char		*p;
	char			*dec = NULL;
	size_t			 n;

	switch (it->type) {
	case FI_UID:
		mbuf_printf(o, "UID %u", msg->uid);
		break;
	case FI_FLAGS:
		mbuf_printf(o, "FLAGS %s", msg->flags != NULL ? msg->flags :
		    "()");
		break;
	case FI_INTERNALDATE:
		mbuf_add(o, "INTERNALDATE ", 13);
		put_date(o, msg->internaldate);
		break;
	case FI_SIZE:
		mbuf_printf(o, "RFC822.SIZE %llu",
		    (unsigned long long)msg->size);
		break;
	case FI_MODSEQ:
		mbuf_printf(o, "MODSEQ (%llu)",
		    (unsigned long long)msg->modseq);
		break;
	case FI_ENVELOPE:
		mbuf_add(o, "ENVELOPE ", 9);
		if (msg->envelope != NULL)
			mbuf_printf(o, "%s", msg->envelope);
		else {
			m = render_mime(r);
			mime_envelope(o, m->buf + m->root->hdr_off,
			    m->root->hdr_len);
		}
		break;
	case FI_BODY:
	case FI_BODYSTRUCTURE:
		if (it->type == FI_BODY)
			mbuf_add(o, "BODY ", 5);
		else
			mbuf_add(o, "BODYSTRUCTURE ", 14);
		p = it->type == FI_BODY ? msg->body : msg->bodystructure;
		if (p != NULL)
			mbuf_printf(o, "%s", p);
		else
			mime_bodystructure(o, render_mime(r),
			    it->type == FI_BODYSTRUCTURE);
		break;
	case FI_SECTION:
		memset(&tmp, 0, sizeof(tmp));
		section_data(it, r, &tmp, &p, &n);
		clip(it, &p, &n);
		mbuf_printf(o, "%s ", it->name);
		put_data(o, p, n, 0);
		mbuf_free(&tmp);
		break;
	case FI_EMAILID:
		if (msg->emailid != NULL)
			mbuf_printf(o, "EMAILID (%s)", msg->emailid);
		else
			mbuf_add(o, "EMAILID NIL", 11);
		break;
	case FI_THREADID:
		mbuf_add(o, "THREADID NIL", 12);	/* no threads kept */
		break;
	case FI_SAVEDATE:
		mbuf_add(o, "SAVEDATE ", 9);
		if (msg->savedate != 0)
			put_date(o, msg->savedate);
		else
			mbuf_add(o, "NIL", 3);
		break;
	case FI_PREVIEW:
		mbuf_add(o, "PREVIEW ", 8);
		put_string(o, msg->preview, utf8);
		break;
	case FI_BINARY:
	case FI_BINARY_SIZE:
		if (binary_data(it, r, &dec, &p, &n) == -1)
			return -1;
		if (it->type == FI_BINARY_SIZE)
			mbuf_printf(o, "%s %zu", it->name, n);
		else {
			clip(it, &p, &n);
			mbuf_printf(o, "%s ", it->name);
			put_data(o, p, n, 1);
		}
		free(dec);
		break;
	}
	return 0;
}

int
fetch_section(struct mbuf *out, const char *data, size_t len,
    const struct mime_msg *mime, const char *section, int partial,
    uint32_t off, uint32_t plen)
{
	struct fetch_item	 it;
	struct render		 r;
	struct mbuf		 tmp;
	const char		*err, *p;
	char			 spec[FETCH_MAX_PART + 16];
	size_t			 n, o, l;
	int			 ret = -1;

	memset(&it, 0, sizeof(it));
	memset(&r, 0, sizeof(r));
	memset(&tmp, 0, sizeof(tmp));
	it.type = FI_SECTION;
	if (parse_section(&it, section, strlen(section), 0, &err) == -1)
		goto done;
	r.buf = data;
	r.len = len;
	r.mime = mime;
	/* A part that does not exist is an error here, not "". */
	if (it.sec != SEC_ALL) {
		(void)snprintf(spec, sizeof(spec), "%s%s%s", it.part,
		    it.part[0] != '\0' && it.sec != SEC_PART ? "." : "",
		    it.sec == SEC_PART ? "" : it.sec == SEC_TEXT ? "TEXT" :
		    it.sec == SEC_MIME ? "MIME" : "HEADER");
		if (mime_section(render_mime(&r), spec, &o, &l) == -1)
			goto done;
	}
	it.partial = partial;
	it.off = off;
	it.len = plen != 0 ? plen : UINT32_MAX;
	section_data(&it, &r, &tmp, &p, &n);
	clip(&it, &p, &n);
	mbuf_add(out, p, n);
	ret = 0;
 done:
	mbuf_free(&tmp);
	item_clear(&it);
	if (r.own != NULL)
		mime_free(r.own);
	return ret;
}

int
fetch_render(struct mbuf *out, const struct fetch_spec *fs,
    const struct fetch_msg *msg, int flags)
{
	struct render	 r;
	size_t		 mark = out->len, i;
	int		 ret = 0;

	memset(&r, 0, sizeof(r));
	if (msg->mime != NULL) {
		r.mime = msg->mime;
		r.buf = msg->mime->buf;
		r.len = msg->mime->len;
	} else if (msg->data != NULL) {
		r.buf = msg->data;
		r.len = msg->len;
	} else
		r.buf = "";

	mbuf_printf(out, "* %u FETCH (", msg->seq);
	for (i = 0; i < fs->nitems; i++) {
		if (i > 0)
			mbuf_add(out, " ", 1);
		if (render_item(out, &fs->items[i], msg, &r,
		    (flags & FETCH_R_UTF8) != 0) == -1) {
			out->len = mark;
			out->data[mark] = '\0';
			ret = -1;
			goto done;
		}
	}
	/* RFC 3501 6.4.5: the \Seen that was just set must be reported. */
	if ((flags & FETCH_R_FLAGS) && !has_item(fs, FI_FLAGS))
		mbuf_printf(out, "%sFLAGS %s", fs->nitems > 0 ? " " : "",
		    msg->flags != NULL ? msg->flags : "()");
	mbuf_add(out, ")\r\n", 3);
 done:
	if (r.own != NULL)
		mime_free(r.own);
	return ret;
}
