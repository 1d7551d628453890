/*
 * A small strict JSON parser (RFC 8259) for answers from other programs
 * (rspamd): hostile input, so everything is bounded and checked.
 *
 * json_parse() reads one JSON text into a tree of struct json_value
 * whose nodes and strings live in memory owned by struct json; nothing
 * of the input is referenced afterwards.  It refuses, with the byte
 * offset and a reason: input over JSON_SIZE_MAX bytes, more than
 * JSON_NODES_MAX values, nesting deeper than JSON_DEPTH_MAX, a byte
 * order mark, bytes that are not UTF-8 (overlong forms, surrogates,
 * past U+10FFFF), control characters in strings, bad escapes, lone or
 * reversed UTF-16 surrogates in \u escapes, \u0000 (strings are C
 * strings: they never contain NUL), numbers that are not in the JSON
 * grammar (leading zeros, "+1", ".5", "1.", hex, NaN, Infinity),
 * numbers that overflow a double, and anything after the one value but
 * whitespace.  Numbers are doubles (a tiny number may read as 0).
 * Duplicate member names are not refused: json_member() finds the
 * first.
 */
#ifndef MAILD_JSON_H
#define MAILD_JSON_H

#include <stddef.h>

#define JSON_SIZE_MAX	(4 * 1024 * 1024)	/* bytes of input */
#define JSON_NODES_MAX	(256 * 1024)		/* values in one text */
#define JSON_DEPTH_MAX	32			/* nested arrays/objects */
#define JSON_NUMBER_MAX	64			/* characters of a number */

enum json_type {
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT
};

struct json_value {
	enum json_type		 type;
	double			 num;	/* JSON_NUMBER */
	const char		*str;	/* JSON_STRING: UTF-8, NUL-terminated */
	size_t			 len;	/* string bytes, or elements/members */
	const char		*name;	/* a member of an object: its name */
	size_t			 namelen;
	struct json_value	*first;	/* array, object: first element */
	struct json_value	*next;	/* the next element of the parent */
};

struct json_block;

/* A parsed text; zeroed or freed, it holds no memory. */
struct json {
	struct json_value	*root;
	struct json_block	*blocks;	/* the nodes */
	char			*strings;	/* every string, unescaped */
};

/*
 * Parse len bytes of buf (NUL not needed).  0 with doc->root set, or -1
 * with "offset N: reason" in err and nothing allocated.  Out of memory
 * is an error too (this runs in daemons that must keep going).
 */
int	 json_parse(struct json *doc, const char *buf, size_t len, char *err,
	    size_t errlen);
void	 json_free(struct json *doc);

/*
 * The first member of object obj named name; NULL if there is none or obj
 * is NULL or not an object.
 */
const struct json_value *json_member(const struct json_value *obj,
	    const char *name);
/* The string of v, or NULL when v is NULL or not a string. */
const char *json_string(const struct json_value *v);

#endif
