/*
 * Key/value tables (table.c): files of "key value" lines in an RB tree.
 */
#ifndef MAILD_TABLE_H
#define MAILD_TABLE_H

#include <sys/queue.h>

#include <stddef.h>

#include "maild.h"
#include "passwd.h"

struct tentry;
RB_HEAD(table_tree, tentry);

struct table {
	TAILQ_ENTRY(table)	 entry;
	char			 name[NAME_MAX_CONF];
	char			 path[PATH_MAX];
	int			 flags;
#define T_SECRET	0x01	/* holds password hashes: refuse mode & 004 */
#define T_RELAY		0x02	/* relay credentials: to the relay only */
#define T_QUOTA		0x04	/* quota limits: also to deliver and imap */
	int			 loaded;
	/*
	 * The check of each line's value, or NULL: 0, or -1 with why (the
	 * load fails with "path:line: why").
	 */
	int			(*check)(const char *, const char *, char *,
				    size_t);
	/* contents: RB tree of key -> value, owned by table.c */
	struct table_tree	 entries;
	size_t			 count;
	/*
	 * Auth tables in the lookup process: the hash an unknown user's
	 * password is checked against (lookup.c), wiped with the contents.
	 */
	char			 dummy[PASSWD_HASH_MAX];
};
TAILQ_HEAD(tablelist, table);

/*
 * Replace t's contents with the lines of the file open on fd:
 * "key value", "key: value", "key:value"; '#' comments; keys lowercased.
 * Errors as "path:line: message" in err; 0 or -1 (contents unchanged).
 */
int	table_load_fd(struct table *, int, char *, size_t);
int	table_load_buf(struct table *, const char *, size_t, char *, size_t);
/* 1 found (*value set), 0 not found, -1 table not loaded. */
int	table_lookup(const struct table *, const char *, const char **);
void	table_clear(struct table *);
/* Call fn(key, value, arg) for every entry, in no particular order. */
void	table_foreach(const struct table *,
	    void (*)(const char *, const char *, void *), void *);
/* Check an open table file's owner and mode; 0 or -1 with err. */
int	table_check_mode(const struct table *, int, char *, size_t);
/*
 * Open t's file for reading: path_open_trusted(), then
 * table_check_mode().  fd, or -1 with "path: why" in err.
 */
int	table_open(const struct table *, char *, size_t);

#endif
