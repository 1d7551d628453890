/*
 * The message table (imsg.h) and its field lists: every list is well
 * formed, and a sequence of fields follows a list exactly when it should
 * (groups taken zero, one or many times, nested).
 */
#include <stdio.h>
#include <string.h>

#include "compat.h"
#include "imsg.h"
#include "tap.h"

static int	 follows(const char *, const char *);
static void	 test_table(void);
static void	 test_simple(void);
static void	 test_groups(void);
static void	 test_valid(void);
static void	 test_step(void);

static int
follows(const char *list, const char *kinds)
{
	char	 err[256];

	return imsg_fields_check(list, kinds, err, sizeof(err)) == 0;
}

static void
test_table(void)
{
	char		 err[128];
	uint32_t	 t;
	int		 bad = 0;

	for (t = IMSG_NONE + 1; t < IMSG_COUNT; t++) {
		if (imsg_info[t].name == NULL || imsg_info[t].from == 0 ||
		    imsg_info[t].to == 0 ||
		    imsg_fields_valid(imsg_info[t].fields, err,
		    sizeof(err)) == -1) {
			printf("# IMSG %u: %s\n", t,
			    imsg_info[t].name != NULL ? err : "missing");
			bad++;
		}
		/* no process has a channel to itself */
		if ((imsg_info[t].from & imsg_info[t].to) != 0 &&
		    imsg_info[t].from == imsg_info[t].to) {
			printf("# IMSG_%s goes to its own senders\n",
			    imsg_info[t].name);
			bad++;
		}
	}
	is_int(bad, 0, "every message has senders, receivers, a valid list");
	ok(strcmp(imsg_info[IMSG_L_RCPT].name, "L_RCPT") == 0 &&
	    (imsg_info[IMSG_L_RCPT].from & P_SMTP) &&
	    (imsg_info[IMSG_L_RCPT].from & P_QUEUE) &&
	    imsg_info[IMSG_L_RCPT].to == P_LOOKUP,
	    "IMSG_L_RCPT: smtp and queue to lookup");
	ok(imsg_info[IMSG_Q_CREATE_OK].fd == IMSG_FD &&
	    imsg_info[IMSG_Q_CREATE].fd == IMSG_NOFD, "descriptors");
	ok(imsg_layout() == imsg_layout() && imsg_layout() != 0,
	    "layout hash");
}

static void
test_simple(void)
{
	ok(follows("", ""), "empty list, no fields");
	ok(!follows("", "u"), "empty list, one field");
	ok(follows("u64:reqid u32:msgid str:why", "Uus"), "in order");
	ok(!follows("u64:reqid u32:msgid str:why", "Uu"), "one missing");
	ok(!follows("u64:reqid u32:msgid str:why", "Uuss"), "one too many");
	ok(!follows("u64:reqid u32:msgid str:why", "Usu"), "out of order");
	ok(!follows("u64 u32", "uU"), "u32 is not u64");
	ok(follows("raw:a raw:b", "rr"), "raw fields");
	ok(!follows("raw", "s"), "a string is not raw");
}

static void
test_groups(void)
{
	const char	*mx = imsg_info[IMSG_L_MX_RES].fields;

	ok(follows(mx, "Uuu"), "MX answer: no host");
	ok(follows(mx, "Uuu" "suu"), "MX answer: a host, no address");
	ok(follows(mx, "Uuu" "suur"), "MX answer: a host, one address");
	ok(follows(mx, "Uuu" "suurrr" "suur" "suu"), "MX answer: three hosts");
	ok(!follows(mx, "Uuu" "su"), "MX answer: a host cut short");
	ok(!follows(mx, "Uuu" "suurs"), "MX answer: a host's name alone");
	ok(!follows(mx, "Uuu" "r"), "MX answer: an address without host");
	ok(follows("u32 { str } u64", "uU"), "group zero times");
	ok(follows("u32 { str } u64", "usssU"), "group three times");
	ok(!follows("u32 { str } u64", "ussu"), "then the wrong kind");
	ok(follows("{ u32 str }", "usus"), "group at the start");
	ok(!follows("{ u32 str }", "usu"), "a group taken in part");
}

static void
test_valid(void)
{
	char	 err[128];

	ok(imsg_fields_valid("u32 u64:x str:y raw:z", err, sizeof(err)) == 0,
	    "plain list");
	ok(imsg_fields_valid("u32 { str { raw } }", err, sizeof(err)) == 0,
	    "nested groups");
	ok(imsg_fields_valid("u33", err, sizeof(err)) == -1, "unknown word");
	ok(imsg_fields_valid("u32x", err, sizeof(err)) == -1,
	    "word with a tail");
	ok(imsg_fields_valid("u32 { str", err, sizeof(err)) == -1,
	    "unclosed group");
	ok(imsg_fields_valid("u32 }", err, sizeof(err)) == -1,
	    "unopened group");
	ok(imsg_fields_valid("{ }", err, sizeof(err)) == -1, "empty group");
	ok(imsg_fields_valid("{ { u32 } }", err, sizeof(err)) == -1,
	    "group starting with a group");
	ok(imsg_fields_valid("{ str } str", err, sizeof(err)) == -1,
	    "ambiguous: the field after the group starts it");
	ok(imsg_fields_valid("{ u32 { str } } u32", err, sizeof(err)) == -1,
	    "ambiguous through an enclosing group");
	ok(imsg_fields_valid("{ u32 { raw } } u64", err, sizeof(err)) == 0,
	    "unambiguous nesting");
}

static void
test_step(void)
{
	struct ipc_fields	 f;

	memset(&f, 0, sizeof(f));
	f.list = f.p = "u64 u32";
	ok(imsg_fields_step(&f, IPC_K_U64) == 0, "step: first field");
	ok(imsg_fields_done(&f) == -1, "step: not done after one");
	ok(imsg_fields_step(&f, IPC_K_U32) == 0, "step: second field");
	ok(imsg_fields_done(&f) == 0, "step: done");
	ok(imsg_fields_step(&f, IPC_K_U32) == -1, "step: nothing more");
	ok(strcmp(imsg_kind_name(IPC_K_STR), "str") == 0, "kind names");
}

int
main(void)
{
	test_table();
	test_simple();
	test_groups();
	test_valid();
	test_step();
	return done_testing();
}
