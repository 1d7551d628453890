/*
 * The message table of imsg.h, its layout hash, and the field lists
 * both ends of a message are checked against (ipc.c).  No process
 * state: the unit tests check every declared list.
 */
#include <stdio.h>
#include <string.h>

#include "compat.h"
#include "imsg.h"
#include "log.h"

const struct imsg_info imsg_info[IMSG_COUNT] = {
#define IMSG_INFO(name, from, to, fd, fields)				\
	[IMSG_##name] = { #name, from, to, fd, fields },
	IMSG_LIST(IMSG_INFO)
#undef IMSG_INFO
};

/* IMSG_LIST as written, for imsg_layout(). */
#define IMSG_TEXT(name, from, to, fd, fields)				\
	#name " " #from " " #to " " #fd " " fields "\n"
static const char imsg_text[] = IMSG_LIST(IMSG_TEXT);
#undef IMSG_TEXT

static int		 fields_word(const char *, const char **);
static int		 word_parse(const char *, const char **);
static void		 follows(const int *, const int *, const int *, int,
			    int, char *, size_t);
static const char	*fields_skip_group(const char *);

uint32_t
imsg_layout(void)
{
	const unsigned char	*p;
	uint32_t		 h = 2166136261U;	/* FNV-1a */

	for (p = (const unsigned char *)imsg_text; *p != '\0'; p++) {
		h ^= *p;
		h *= 16777619U;
	}
	return h;
}

int
imsg_channel(enum proc_type a, enum proc_type b)
{
	uint32_t	 pa = 1U << a, pb = 1U << b;
	size_t		 i;

	if (a == b)
		return 0;
	for (i = 1; i < IMSG_COUNT; i++)
		if (((imsg_info[i].from & pa) && (imsg_info[i].to & pb)) ||
		    ((imsg_info[i].from & pb) && (imsg_info[i].to & pa)))
			return 1;
	return 0;
}

/*
 * A list is read word by word; a group "{ ... }" is entered when the
 * field at hand is the kind of its first word and left (or repeated)
 * at its "}" the same way.
 */

/* The kind of the word at p, and where the next one starts. */
static int
fields_word(const char *p, const char **next)
{
	int	 k;

	if ((k = word_parse(p, next)) == -1)
		fatalx("ipc: bad field list at \"%s\"", p);
	return k;
}

/* The kind of the word at p ('\0' at the end), or -1 if none. */
static int
word_parse(const char *p, const char **next)
{
	static const struct {
		const char	*word;
		int		 kind;
	} words[] = {
		{ "u32", IPC_K_U32 }, { "u64", IPC_K_U64 },
		{ "str", IPC_K_STR }, { "raw", IPC_K_RAW },
		{ "addr", IPC_K_ADDR }, { "sockaddr", IPC_K_SOCKADDR },
		{ "dest", IPC_K_DEST }, { "envelope", IPC_K_ENVELOPE },
		{ "{", '{' }, { "}", '}' }
	};
	size_t	 i, len;

	while (*p == ' ')
		p++;
	*next = p;
	if (*p == '\0')
		return '\0';
	for (i = 0; i < nitems(words); i++) {
		len = strlen(words[i].word);
		if (strncmp(p, words[i].word, len) != 0)
			continue;
		p += len;
		if (*p == ':' && words[i].kind != '{' && words[i].kind != '}')
			while (*p != ' ' && *p != '\0')
				p++;
		if (*p != ' ' && *p != '\0')
			return -1;
		*next = p;
		return words[i].kind;
	}
	return -1;
}

/*
 * What may come after word i of a list of n (kinds in w, the closing
 * brace of each group in close[], the enclosing group in up[]): a
 * string of kinds; "" at the end of the list.
 */
static void
follows(const int *w, const int *close, const int *up, int n, int i,
    char *out, size_t outsz)
{
	char	 k[2] = "";

	if (i >= n)
		return;
	if (w[i] == '}') {
		/* the group again, or what follows it */
		k[0] = (char)w[up[i] + 1];
		(void)strlcat(out, k, outsz);
		follows(w, close, up, n, i + 1, out, outsz);
	} else if (w[i] == '{') {
		k[0] = (char)w[i + 1];
		(void)strlcat(out, k, outsz);
		follows(w, close, up, n, close[i] + 1, out, outsz);
	} else {
		k[0] = (char)w[i];
		(void)strlcat(out, k, outsz);
	}
}

int
imsg_fields_valid(const char *list, char *err, size_t errlen)
{
	int		 w[64], close[64], up[64], stack[8];
	int		 n = 0, depth = 0, i, k;
	const char	*p = list;
	char		 after[64];

	while ((k = word_parse(p, &p)) != '\0') {
		if (k == -1 || n == (int)nitems(w)) {
			(void)snprintf(err, errlen, "bad word at \"%s\"", p);
			return -1;
		}
		w[n] = k;
		up[n] = depth > 0 ? stack[depth - 1] : -1;
		if (k == '{') {
			if (depth == (int)nitems(stack)) {
				(void)snprintf(err, errlen, "groups too deep");
				return -1;
			}
			stack[depth++] = n;
		} else if (k == '}') {
			if (depth == 0) {
				(void)snprintf(err, errlen, "unopened group");
				return -1;
			}
			up[n] = stack[--depth];
			close[up[n]] = n;
		}
		n++;
	}
	if (depth != 0) {
		(void)snprintf(err, errlen, "unclosed group");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (w[i] != '{')
			continue;
		if (w[i + 1] == '{' || w[i + 1] == '}') {
			(void)snprintf(err, errlen, "a group must start with "
			    "a field");
			return -1;
		}
		after[0] = '\0';
		follows(w, close, up, n, close[i] + 1, after, sizeof(after));
		if (strchr(after, w[i + 1]) != NULL) {
			(void)snprintf(err, errlen, "the field after a group "
			    "is of the kind that starts it");
			return -1;
		}
	}
	return 0;
}

/* Past the "}" that closes the group whose first word is at p. */
static const char *
fields_skip_group(const char *p)
{
	int	 depth = 1, k;

	while (depth > 0) {
		if ((k = fields_word(p, &p)) == '\0')
			fatalx("ipc: unclosed group in a field list");
		if (k == '{')
			depth++;
		else if (k == '}')
			depth--;
	}
	return p;
}

int
imsg_fields_step(struct ipc_fields *f, int k)
{
	const char	*next, *dummy;
	int		 w;

	for (;;) {
		w = fields_word(f->p, &next);
		switch (w) {
		case '\0':
			return -1;
		case '{':
			if (fields_word(next, &dummy) == k) {
				if (f->depth == (int)nitems(f->group))
					fatalx("ipc: field groups too deep");
				f->group[f->depth++] = next;
				f->p = next;
			} else
				f->p = fields_skip_group(next);
			break;
		case '}':
			if (f->depth == 0)
				fatalx("ipc: unbalanced field list");
			if (fields_word(f->group[f->depth - 1], &dummy) == k)
				f->p = f->group[f->depth - 1];
			else {
				f->depth--;
				f->p = next;
			}
			break;
		default:
			if (w != k)
				return -1;
			f->p = next;
			return 0;
		}
	}
}

int
imsg_fields_done(struct ipc_fields *f)
{
	const char	*next;
	int		 w;

	for (;;) {
		w = fields_word(f->p, &next);
		if (w == '\0')
			return f->depth == 0 ? 0 : -1;
		if (w == '{')
			f->p = fields_skip_group(next);
		else if (w == '}') {
			f->depth--;
			f->p = next;
		} else
			return -1;
	}
}

const char *
imsg_kind_name(int k)
{
	switch (k) {
	case IPC_K_U32:
		return "u32";
	case IPC_K_U64:
		return "u64";
	case IPC_K_STR:
		return "str";
	case IPC_K_ADDR:
		return "addr";
	case IPC_K_SOCKADDR:
		return "sockaddr";
	case IPC_K_DEST:
		return "dest";
	case IPC_K_ENVELOPE:
		return "envelope";
	default:
		return "raw";
	}
}

int
imsg_fields_check(const char *list, const char *kinds, char *err,
    size_t errlen)
{
	struct ipc_fields	 f;
	size_t			 i;

	memset(&f, 0, sizeof(f));
	f.list = f.p = list;
	for (i = 0; kinds[i] != '\0'; i++)
		if (imsg_fields_step(&f, kinds[i]) == -1) {
			(void)snprintf(err, errlen, "field %zu is %s, not what "
			    "\"%s\" has there", i + 1, imsg_kind_name(kinds[i]),
			    list);
			return -1;
		}
	if (imsg_fields_done(&f) == -1) {
		(void)snprintf(err, errlen, "%zu fields, \"%s\" has more",
		    i, list);
		return -1;
	}
	return 0;
}
