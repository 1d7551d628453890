/*
 * Helpers shared by the libFuzzer targets in tests/fuzz: copies of the
 * input that ASan can bound, in-memory files for APIs that read an fd,
 * one private temporary directory for those that read a directory, the
 * line splitting the sessions do, and the IMAP session's way of feeding
 * lines and literals to the command parser.  Nothing here writes
 * outside the temporary directory, which is removed at exit.
 */
#ifndef MAILD_FUZZ_H
#define MAILD_FUZZ_H

#include <stddef.h>
#include <stdint.h>

struct imap_command;
struct imap_limits;
struct imap_parser;

/* Every target defines it; the helpers call it once, first. */
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A malloc'd copy of data with a NUL after it (and nothing more). */
char	*fuzz_strndup(const uint8_t *, size_t);

/*
 * An fd reading len bytes of data from offset 0: a memfd on Linux, an
 * unlinked file in the temporary directory elsewhere.  Fatal on error.
 */
int	 fuzz_memfd(const void *, size_t);

/*
 * The private temporary directory, made on first use (0700) under
 * $TMPDIR, else /dev/shm if writable, else /tmp.
 */
const char *fuzz_tmpdir(void);
/*
 * Write <tmpdir>/name with data (replacing it); with data NULL remove
 * it.  Fatal on error.  The names are remembered for the cleanup.
 */
void	 fuzz_file(const char *, const void *, size_t);

/*
 * The next line of [*pp, end): *linep and *lenp without its LF, *pp
 * past it.  0 at the end of the data.
 */
int	 fuzz_line(const uint8_t **, const uint8_t *, const uint8_t **,
	    size_t *);

/* imap_session.c's IMAP_LINE_MAX: the longest line io_getline() gives. */
#define FUZZ_IMAP_LINE_MAX	(64 * 1024)

/*
 * Feed data to the parser as imap_session.c does: lines of at most
 * line_max bytes (a longer one is refused and skipped), literal bytes
 * when the parser wants them, refused non-synchronizing literals
 * skipped.  cb gets every complete command.  With once, stop after the
 * first complete command; returns the bytes used.
 */
size_t	 fuzz_imap_feed(struct imap_parser *, size_t, const uint8_t *,
	    size_t, void (*)(const struct imap_command *, void *), void *,
	    int);

/*
 * 1 if s[0..len) is well-formed IMAP server data (RFC 3501 9): values
 * separated by single spaces, each NIL, an atom or number, a quoted
 * string (7-bit unless FUZZ_IMAP_UTF8), a literal {n} without NUL, or a
 * list; address lists may have no space between ")(".  With
 * FUZZ_IMAP_FLAGS an atom may start with '\'; with FUZZ_IMAP_SECTIONS
 * an atom may carry "[section]<n>" and literal8 ~{n} is allowed.
 * Checked independently of the command parser.
 */
#define FUZZ_IMAP_UTF8		0x01
#define FUZZ_IMAP_FLAGS		0x02
#define FUZZ_IMAP_SECTIONS	0x04
int	 fuzz_imap_wellformed(const char *, size_t, int);

/* A failed property: print it and abort (libFuzzer saves the input). */
void	 fuzz_fail(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2), __noreturn__));

#define FUZZ_ASSERT(e) do {						\
	if (!(e))							\
		fuzz_fail("%s:%d: %s", __FILE__, __LINE__, #e);		\
} while (0)

#endif
