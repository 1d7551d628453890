# maild - POSIX make (GNU make and OpenBSD make).
#   make            build maild, mailctl and maild-sendmail
#   make check      format-check, then build and run every test under prove
#   make format-check  check the C layout against STYLE.md's KNF
#   make format FILES="a.c b.h"  clang-format the files named (new code)
#   make install    PREFIX=/usr/local DESTDIR=
#   make demo       run maild unprivileged on 127.0.0.1 high ports
#   make SANITIZE=1 ASan + UBSan build
#   make CC=clang
#   make fuzz       libFuzzer targets in tests/fuzz/bin (clang)
#   make fuzz-smoke run each of them briefly from its corpus

PREFIX ?=	/usr/local
DESTDIR ?=
BINDIR =	$(PREFIX)/sbin
MANDIR =	$(PREFIX)/man
EXAMPLEDIR =	$(PREFIX)/share/examples/maild
SYSTEMDDIR ?=	/etc/systemd/system
SANITIZE ?=	0

PKGS =		libevent libtls libsodium libcares libcrypto
PKG_CFLAGS !=	pkg-config --cflags $(PKGS)
PKG_LIBS !=	pkg-config --libs $(PKGS)
OS !=		uname -s
CRYPT_Linux =	-lcrypt
CRYPT_LIB =	$(CRYPT_$(OS))
SAN_CFLAGS_1 =	-fsanitize=address,undefined -fno-omit-frame-pointer \
		-fno-sanitize-recover=undefined
SAN_CFLAGS =	$(SAN_CFLAGS_$(SANITIZE))

CFLAGS ?=	-O2 -g
WARN =		-Wall -Wextra -Werror -Wstrict-prototypes \
		-Wmissing-prototypes -Wshadow -Wpointer-arith -Wcast-qual \
		-Wsign-compare
ALL_CFLAGS =	$(CFLAGS) $(WARN) $(SAN_CFLAGS) -Iinclude $(PKG_CFLAGS) \
		-D_GNU_SOURCE
ALL_LDFLAGS =	$(LDFLAGS) $(SAN_CFLAGS)
LIBS =		$(PKG_LIBS) $(CRYPT_LIB) -lz

# The object lists follow the folders:
#   src/lib       modules the three programs share: parsers, storage,
#                 hashes, DKIM; no process state.  dns.c is the one with
#                 an event-loop timer (c-ares over libevent), used by the
#                 lookup process and by "mailctl dns check", and
#                 spf_check.c, which drives SPF checks over it.
#   src/maild     the daemon: one file per process role, the sessions
#   src/mailctl   the control and administration tool
#   src/sendmail  maild-sendmail, the sendmail(8) interface
# The unit tests and the fuzz targets link LIB_OBJS (and SESSION_OBJS).
LIB_OBJS =	src/lib/compat.o src/lib/log.o src/lib/address.o \
		src/lib/smtp_parse.o src/lib/table.o src/lib/config.o \
		src/lib/config_lex.o src/lib/config_settings.o \
		src/lib/config_parse.o src/lib/config_listen.o \
		src/lib/config_check.o src/lib/config_dump.o \
		src/lib/config_dnsbl.o src/lib/config_quota.o src/lib/quota.o \
		src/lib/expand.o src/lib/envelope.o src/lib/spool.o \
		src/lib/maildir.o src/lib/util.o src/lib/imap_parser.o \
		src/lib/mime.o src/lib/mailbox.o src/lib/uidlist.o \
		src/lib/mflags.o src/lib/passwd.o src/lib/search.o \
		src/lib/imap_fetch.o src/lib/imap_mbox.o \
		src/lib/imap_mbox_sync.o src/lib/imap_mbox_cache.o \
		src/lib/imap_mbox_write.o src/lib/imap_mbox_folder.o \
		src/lib/imap_mbox_ids.o src/lib/mime_decode.o \
		src/lib/metadata.o \
		src/lib/sasl.o src/lib/dsn.o src/lib/dns.o \
		src/lib/dkim_canon.o src/lib/dkim.o src/lib/dkim_verify.o \
		src/lib/arc.o \
		src/lib/smtp_reply.o src/lib/enqueue.o src/lib/safepath.o \
		src/lib/imsg.o src/lib/ipc_payload.o src/lib/ctl.o \
		src/lib/reqwait.o src/lib/psl.o src/lib/dmarc.o \
		src/lib/authres.o src/lib/spf.o src/lib/spf_parse.o \
		src/lib/spf_check.o src/lib/msgauth.o src/lib/msgauth_dns.o \
		src/lib/dns_cache.o src/lib/dmarc_report.o src/lib/dnsbl.o \
		src/lib/json.o src/lib/rspamd.o src/lib/http_url.o \
		src/lib/greylist.o src/lib/imap_context.o src/lib/imap_notify.o \
		src/lib/imap_url.o src/lib/mime_binary.o src/lib/unicase.o \
		src/lib/imap_sort.o src/lib/imap_thread.o
# The protocol sessions and what they need of the daemon's modules: the
# connection (io.c).  They reach the rest of their process through a
# struct session_env, so the session unit tests link them without a
# process around them.
SESSION_OBJS =	src/maild/io.o src/maild/smtp_session.o \
		src/maild/smtp_data.o src/maild/imap_session.o \
		src/maild/imap_cmd_mbox.o src/maild/imap_cmd_msg.o \
		src/maild/imap_idle.o src/maild/imap_cmd_context.o \
		src/maild/imap_cmd_notify.o src/maild/imap_watch.o \
		src/maild/imap_cmd_append.o src/maild/imap_cmd_sort.o \
		src/maild/imap_cmd_quota.o src/maild/imap_cmd_meta.o
MAILD_OBJS =	src/maild/maild.o src/maild/proc.o src/maild/ipc.o \
		src/maild/lookup.o src/maild/lookup_auth.o \
		src/maild/lookup_dnsbl.o src/maild/lookup_quota.o \
		src/maild/server_auth.o src/maild/server.o src/maild/smtp.o \
		src/maild/queue.o src/maild/queue_dkim.o src/maild/queue_auth.o \
		src/maild/queue_filter.o \
		src/maild/queue_grey.o \
		src/maild/deliver.o \
		src/maild/control.o src/maild/imap.o src/maild/relay.o \
		src/maild/relay_session.o src/maild/offline.o src/maild/filter.o \
		$(SESSION_OBJS) \
		$(LIB_OBJS)
SENDMAIL_OBJS =	src/sendmail/sendmail.o $(LIB_OBJS)
MAILCTL_OBJS =	src/mailctl/mailctl.o src/mailctl/mailctl_table.o \
		src/mailctl/mailctl_dns.o src/mailctl/mailctl_dnscheck.o \
		src/mailctl/mailctl_check.o src/mailctl/mailctl_dmarc.o \
		$(LIB_OBJS)
LIB_TESTS =	tests/unit/test_address tests/unit/test_smtp_parse \
		tests/unit/test_table tests/unit/test_config \
		tests/unit/test_expand tests/unit/test_envelope \
		tests/unit/test_spool tests/unit/test_maildir \
		tests/unit/test_imap_parser tests/unit/test_mime \
		tests/unit/test_mime_decode tests/unit/test_metadata \
		tests/unit/test_imap_mbox_ids \
		tests/unit/test_mailbox tests/unit/test_uidlist \
		tests/unit/test_mflags tests/unit/test_passwd \
		tests/unit/test_search tests/unit/test_util \
		tests/unit/test_imap_fetch tests/unit/test_imap_mbox \
		tests/unit/test_imap_mbox_sync \
		tests/unit/test_sasl tests/unit/test_dsn tests/unit/test_dkim \
		tests/unit/test_dkim_verify \
		tests/unit/test_dns tests/unit/test_smtp_reply \
		tests/unit/test_enqueue tests/unit/test_safepath \
		tests/unit/test_imsg tests/unit/test_ctl \
		tests/unit/test_tree tests/unit/test_reqwait \
		tests/unit/test_msgauth \
		tests/unit/test_psl tests/unit/test_dmarc \
		tests/unit/test_authres tests/unit/test_spf \
		tests/unit/test_dmarc_report tests/unit/test_dnsbl \
		tests/unit/test_json tests/unit/test_rspamd \
		tests/unit/test_http_url tests/unit/test_greylist \
		tests/unit/test_imap_context tests/unit/test_imap_notify \
		tests/unit/test_imap_url tests/unit/test_mime_binary \
		tests/unit/test_imap_sort tests/unit/test_quota
SESSION_TESTS =	tests/unit/test_imap_session tests/unit/test_smtp_session \
		tests/unit/test_imap_compress
# What the session tests (and the session fuzz targets) play around a
# session: its process, lookup and the queue, the client.
SESSION_FAKE =	tests/unit/session_fake.o
UNIT_TESTS =	$(LIB_TESTS) $(SESSION_TESTS)
# Programs the integration tests run, built with the unit tests (not
# TAP: prove does not run them).
TEST_TOOLS =	tests/unit/dkimverify_tool tests/unit/dmarc_tool \
		tests/unit/spf_tool
# Every header: any of them changed rebuilds everything.
HEADERS !=	ls include/*.h

all: maild mailctl maild-sendmail

maild: $(MAILD_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $(MAILD_OBJS) $(LIBS)

mailctl: $(MAILCTL_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $(MAILCTL_OBJS) $(LIBS)

maild-sendmail: $(SENDMAIL_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $(SENDMAIL_OBJS) $(LIBS)

.SUFFIXES: .c .o
.c.o:
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(MAILD_OBJS) $(MAILCTL_OBJS) $(SENDMAIL_OBJS): $(HEADERS)

tests/unit/test_address: tests/unit/test_address.c
tests/unit/test_smtp_parse: tests/unit/test_smtp_parse.c
tests/unit/test_table: tests/unit/test_table.c
tests/unit/test_config: tests/unit/test_config.c
tests/unit/test_expand: tests/unit/test_expand.c
tests/unit/test_envelope: tests/unit/test_envelope.c
tests/unit/test_spool: tests/unit/test_spool.c
tests/unit/test_maildir: tests/unit/test_maildir.c
tests/unit/test_imap_parser: tests/unit/test_imap_parser.c
tests/unit/test_mime: tests/unit/test_mime.c
tests/unit/test_mime_decode: tests/unit/test_mime_decode.c
tests/unit/test_metadata: tests/unit/test_metadata.c
tests/unit/test_imap_mbox_ids: tests/unit/test_imap_mbox_ids.c
tests/unit/test_mailbox: tests/unit/test_mailbox.c
tests/unit/test_uidlist: tests/unit/test_uidlist.c
tests/unit/test_mflags: tests/unit/test_mflags.c
tests/unit/test_passwd: tests/unit/test_passwd.c
tests/unit/test_search: tests/unit/test_search.c
tests/unit/test_util: tests/unit/test_util.c
tests/unit/test_imap_fetch: tests/unit/test_imap_fetch.c
tests/unit/test_imap_mbox: tests/unit/test_imap_mbox.c
tests/unit/test_imap_mbox_sync: tests/unit/test_imap_mbox_sync.c
tests/unit/test_sasl: tests/unit/test_sasl.c
tests/unit/test_dsn: tests/unit/test_dsn.c
tests/unit/test_dkim: tests/unit/test_dkim.c
tests/unit/test_dkim_verify: tests/unit/test_dkim_verify.c
tests/unit/test_dns: tests/unit/test_dns.c
tests/unit/test_smtp_reply: tests/unit/test_smtp_reply.c
tests/unit/test_enqueue: tests/unit/test_enqueue.c
tests/unit/test_safepath: tests/unit/test_safepath.c
tests/unit/test_imsg: tests/unit/test_imsg.c
tests/unit/test_ctl: tests/unit/test_ctl.c
tests/unit/test_tree: tests/unit/test_tree.c
tests/unit/test_reqwait: tests/unit/test_reqwait.c
tests/unit/test_psl: tests/unit/test_psl.c
tests/unit/test_dmarc: tests/unit/test_dmarc.c
tests/unit/test_authres: tests/unit/test_authres.c
tests/unit/test_spf: tests/unit/test_spf.c
tests/unit/test_dmarc_report: tests/unit/test_dmarc_report.c
tests/unit/test_dnsbl: tests/unit/test_dnsbl.c
tests/unit/test_json: tests/unit/test_json.c
tests/unit/test_rspamd: tests/unit/test_rspamd.c
tests/unit/test_http_url: tests/unit/test_http_url.c
tests/unit/test_greylist: tests/unit/test_greylist.c
tests/unit/test_imap_context: tests/unit/test_imap_context.c
tests/unit/test_imap_notify: tests/unit/test_imap_notify.c
tests/unit/test_imap_url: tests/unit/test_imap_url.c
tests/unit/test_mime_binary: tests/unit/test_mime_binary.c
tests/unit/test_imap_sort: tests/unit/test_imap_sort.c
tests/unit/test_quota: tests/unit/test_quota.c
tests/unit/test_imap_session: tests/unit/test_imap_session.c
tests/unit/test_smtp_session: tests/unit/test_smtp_session.c
tests/unit/test_imap_compress: tests/unit/test_imap_compress.c
tests/unit/dkimverify_tool: tests/unit/dkimverify_tool.c
tests/unit/spf_tool: tests/unit/spf_tool.c
$(LIB_TESTS) $(TEST_TOOLS): $(LIB_OBJS) tests/unit/tap.h $(HEADERS)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -Itests/unit -o $@ $@.c \
	    $(LIB_OBJS) $(LIBS)
# Sessions driven in memory: the session objects without maild.c.
$(SESSION_FAKE): tests/unit/session_fake.h $(HEADERS)
$(SESSION_TESTS): $(SESSION_FAKE) $(SESSION_OBJS) $(LIB_OBJS) \
    tests/unit/tap.h tests/unit/session_fake.h $(HEADERS)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -Itests/unit -o $@ $@.c \
	    $(SESSION_FAKE) $(SESSION_OBJS) $(LIB_OBJS) $(LIBS)

unit: $(UNIT_TESTS) $(TEST_TOOLS)

# libFuzzer targets (tests/fuzz/README): the library modules compiled
# again by FUZZ_CC with ASan + UBSan into tests/fuzz/obj, never mixed
# with the objects above.  check runs fuzz-smoke when FUZZ_CC can link
# a libFuzzer program, and says so when it cannot.
FUZZ_CC =	clang
FUZZ_ENV =	CC="$(FUZZ_CC)" WARN="$(WARN)" PKG_CFLAGS="$(PKG_CFLAGS)" \
		LIBS="$(LIBS)"

fuzz:
	$(FUZZ_ENV) sh tests/fuzz/build $(LIB_OBJS) $(SESSION_OBJS)

fuzz-smoke: fuzz
	sh tests/fuzz/smoke

# The layout of the C sources: format-check checks STYLE.md's KNF
# (scripts/format-check -r lists its rules; sh and awk, no clang-format)
# and prints file:line: rule: what.  format runs clang-format
# (.clang-format, an approximation of KNF) over the files named in
# FILES, for new code; never over the whole tree.
format:
	sh scripts/format $(FILES)

format-check:
	sh scripts/format-check

# Chrooted children cannot read /proc, which LeakSanitizer needs: leaks
# are checked in the unit tests, not in the daemons.  The layout is
# checked first: it takes seconds, the suite minutes.  prove -f prints
# the lines of failed checks, whose names carry what was seen: a CI log
# then tells why, not only which.
check: format-check all unit
	prove -e '' -f $(UNIT_TESTS)
	@if $(FUZZ_ENV) sh tests/fuzz/build -c; then \
		$(MAKE) fuzz-smoke; \
	else \
		echo "fuzz-smoke: skipped, $(FUZZ_CC) cannot link" \
		    "-fsanitize=fuzzer (Debian: libclang-rt-dev)"; \
	fi
	ASAN_OPTIONS=$${ASAN_OPTIONS:-detect_leaks=0} \
	    prove -e '' -f tests/integration/*.t

# The integration suite with every maild process under valgrind memcheck.
# Valgrind 3.19 (Debian 12) does not know openat2 (syscall 437): it
# answers ENOSYS, maild walks paths itself (compat_open_beneath), and the
# warning valgrind prints about it once per process is not a finding.
VG_NOISE =	-e '^--[0-9]+-- WARNING: unhandled [a-z0-9_]+-linux syscall: 437$$' \
		-e '^--[0-9]+-- You may be able to write your own handler' \
		-e '^--[0-9]+-- Read the file README_MISSING_SYSCALL_OR_IOCTL' \
		-e '^--[0-9]+-- Nevertheless we consider this a bug' \
		-e '^--[0-9]+-- it at http://valgrind.org/support/bug_reports'
valgrind: all
	rm -rf /tmp/maild-valgrind
	ASAN_OPTIONS=detect_leaks=0 MAILD=scripts/valgrind-maild \
	    prove -e '' tests/integration/*.t
	@if [ -n "$$(cat /tmp/maild-valgrind/vg.* 2>/dev/null | \
	    grep -Ev $(VG_NOISE))" ]; then \
		cat /tmp/maild-valgrind/vg.*; exit 1; fi

demo: all
	sh scripts/demo

# The service file for the system (systemd unit or rc.d script) with
# PREFIX in its paths; /etc/mail.conf only when there is none, the sample
# always in EXAMPLEDIR; then the users and directories (install-users).
install: all
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(EXAMPLEDIR) $(DESTDIR)/etc
	install -m 0555 maild $(DESTDIR)$(BINDIR)/maild
	install -m 0555 mailctl $(DESTDIR)$(BINDIR)/mailctl
	install -m 0555 maild-sendmail $(DESTDIR)$(BINDIR)/maild-sendmail
	install -m 0555 scripts/maild-import-opensmtpd \
	    $(DESTDIR)$(BINDIR)/maild-import-opensmtpd
	install -m 0444 man/maild.8 man/mailctl.8 \
	    man/maild-import-opensmtpd.8 man/maild-sendmail.8 \
	    $(DESTDIR)$(MANDIR)/man8/
	install -m 0444 man/mail.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0444 etc/mail.conf $(DESTDIR)$(EXAMPLEDIR)/mail.conf
	@if [ -e $(DESTDIR)/etc/mail.conf ]; then \
		echo "kept $(DESTDIR)/etc/mail.conf; the sample is" \
		    "$(DESTDIR)$(EXAMPLEDIR)/mail.conf"; \
	else \
		echo "install -m 0644 etc/mail.conf $(DESTDIR)/etc/mail.conf"; \
		install -m 0644 etc/mail.conf $(DESTDIR)/etc/mail.conf; \
	fi
	@case "$(OS)" in \
	Linux) \
		mkdir -p $(DESTDIR)$(SYSTEMDDIR) && \
		sed 's|/usr/local/|$(PREFIX)/|g' etc/maild.service \
		    >$(DESTDIR)$(SYSTEMDDIR)/maild.service && \
		chmod 0644 $(DESTDIR)$(SYSTEMDDIR)/maild.service && \
		echo "installed $(DESTDIR)$(SYSTEMDDIR)/maild.service:" \
		    "systemctl daemon-reload; systemctl enable --now maild";; \
	OpenBSD) \
		mkdir -p $(DESTDIR)/etc/rc.d && \
		sed 's|/usr/local/|$(PREFIX)/|g' etc/rc.d/maild \
		    >$(DESTDIR)/etc/rc.d/maild && \
		chmod 0555 $(DESTDIR)/etc/rc.d/maild && \
		echo "installed $(DESTDIR)/etc/rc.d/maild:" \
		    "rcctl enable maild; rcctl start maild";; \
	*) \
		echo "no service file for $(OS): start maild at boot yourself";; \
	esac
	DESTDIR="$(DESTDIR)" sh scripts/install-users

lint:
	mandoc -Tlint -Wwarning man/maild.8 man/mail.conf.5 man/mailctl.8 \
	    man/maild-import-opensmtpd.8 man/maild-sendmail.8

clean:
	rm -f maild mailctl maild-sendmail src/*/*.o $(SESSION_FAKE) \
	    $(UNIT_TESTS) $(TEST_TOOLS)
	rm -rf tests/fuzz/obj tests/fuzz/bin tests/fuzz/out

.PHONY: all check unit fuzz fuzz-smoke valgrind demo install lint clean \
	format format-check
