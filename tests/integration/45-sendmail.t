#!/usr/bin/env python3
# maild-sendmail, the sendmail(8) of cron and scripts, against a running
# maild: what it adds (From, Date, Message-ID) and keeps, LF input stored
# with CRLF, -t with To/Cc/Bcc (Bcc gone, its recipient served), -f and
# -F, comma lists, a bare name at the host name, the single dot with and
# without -i, refusals (exit 67 and the reply), usage errors (64), an
# oversize message (65), a user without privileges (nobody@mx.test).
# With maild stopped: one 0600 file of the caller in <spool>/offline in
# the documented format, exit 0; without that directory, exit 75.
import base64
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

SENDMAIL = os.path.join(t.REPO, "maild-sendmail")
VIRTUALS = t.DEFAULT_VIRTUALS + """\
carol@example.org vmail
postmaster@mx.test alice@example.org
"""
DATE_RE = (r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|"
           r"Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$")
NOBODY = ["setpriv", "--reuid", "nobody", "--regid", "nogroup",
          "--clear-groups"]


def sendmail(m, args, data=b"", nobody=False, conf=None):
    cmd = [SENDMAIL, "-C", conf or m.conf] + list(args)
    if nobody:
        cmd = NOBODY + cmd
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
    if isinstance(data, str):
        data = data.encode()
    r = subprocess.run(cmd, input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=90, env=env)
    return r.returncode, r.stdout.decode(errors="replace"), \
        r.stderr.decode(errors="replace")


def find(m, user, subject, n=1, timeout=10):
    """The messages of user@example.org with this Subject, once n are
    there (or after timeout)."""
    md = m.maildir(user)

    def got():
        out = [x for x in md.messages()
               if t.header_value(x, "Subject") == subject]
        return out if len(out) >= n else None
    return t.wait_until(got, timeout) or \
        [x for x in md.messages() if t.header_value(x, "Subject") == subject]


def prefix(msg, name):
    return [v for k, v in t.parse_message(msg)[0] if k == name]


def header_count(msg, name):
    head = msg.split(b"\r\n\r\n", 1)[0]
    return len(re.findall(rb"(?im)^" + name.encode() + rb":", head))


def body(msg):
    return msg.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in msg else None


def me():
    return pwd.getpwuid(os.getuid()).pw_name


def test_basic(m):
    rc, out, err = sendmail(m, ["alice@example.org"],
                            "Subject: basic\nTo: alice@example.org\n\n"
                            "hello\nworld\n")
    t.ok(rc == 0 and err == "" and out == "",
         "a message for alice: exit 0, silent")
    msgs = find(m, "alice", "basic")
    if not t.is_(len(msgs), 1, "delivered to alice@example.org's Maildir"):
        t.diag("stderr: %s" % err)
        return
    msg = msgs[0]
    sender = "%s@mx.test" % me()
    t.like(prefix(msg, "return-path")[0], rb"<%s>" % re.escape(
        sender.encode()), "envelope sender: the login name at the "
        "hostname (%s)" % sender)
    t.is_(t.header_value(msg, "From"), sender, "From: added, the same")
    t.like(t.header_value(msg, "Date") or "", DATE_RE,
           "Date: added, RFC 5322 form")
    t.like(t.header_value(msg, "Message-ID") or "", r"^<[^<>@\s]+@mx\.test>$",
           "Message-ID: added, <...@mx.test>")
    t.is_(t.header_value(msg, "To"), "alice@example.org", "To: kept")
    t.is_(t.bare_lf(msg), [], "LF input is stored with CRLF")
    t.ok(body(msg) == b"hello\r\nworld\r\n", "the body, CRLF")

    rc, _, err = sendmail(m, ["alice@example.org"],
                          "From: Someone <someone@example.com>\n"
                          "Date: Thu, 1 Jan 2026 00:00:00 +0000\n"
                          "Message-ID: <fixed.1@example.com>\n"
                          "Subject: kept\n\nbody\n")
    msgs = find(m, "alice", "kept")
    if t.ok(rc == 0 and len(msgs) == 1, "a message with its own headers"):
        msg = msgs[0]
        t.is_(t.header_value(msg, "From"), "Someone <someone@example.com>",
              "its From: is kept")
        t.is_(t.header_value(msg, "Date"),
              "Thu, 1 Jan 2026 00:00:00 +0000", "its Date: is kept")
        t.is_(t.header_value(msg, "Message-ID"), "<fixed.1@example.com>",
              "its Message-ID: is kept")
        t.ok(all(header_count(msg, h) == 1 for h in
                 ("From", "Date", "Message-ID")),
             "none of them added a second time")

    # No header at all: all of it is body, after the added header.
    rc, _, _ = sendmail(m, ["bob@example.org"], "just text\nmore: text\n")
    msgs = [x for x in t.wait_until(
        lambda: m.maildir("bob").messages() or None, 10) or []
        if b"just text" in x]
    t.ok(rc == 0 and len(msgs) == 1 and
         body(msgs[0]) == b"just text\r\nmore: text\r\n" and
         t.header_value(msgs[0], "Date") is not None,
         "input without a header: the text is the body")


def test_t(m):
    rc, _, err = sendmail(m, ["-t"],
                          "To: \"Alice, A.\" <alice@example.org>,\n"
                          "\tbob@example.org (Bob B)\n"
                          "Cc: undisclosed-recipients:;\n"
                          "Bcc: friends: carol@example.org;\n"
                          "Subject: dash-t\n\nfor three\n")
    t.ok(rc == 0 and err == "", "-t: exit 0 (%s)" % err.strip())
    got = {}
    for u in ("alice", "bob", "carol"):
        got[u] = find(m, u, "dash-t")
        t.is_(len(got[u]), 1, "-t: %s (from %s) got it" % (
            u, "Bcc: in a group" if u == "carol" else
            "a folded To: with a display name and a comment"))
    for u in ("alice", "carol"):
        if got[u]:
            t.is_(header_count(got[u][0], "Bcc"), 0,
                  "-t: no Bcc: in %s's copy" % u)
    if got["carol"]:
        t.like(prefix(got["carol"][0], "delivered-to")[0],
               rb"carol@example\.org", "-t: carol's copy was for carol")
    if got["alice"]:
        t.like(t.header_value(got["alice"][0], "To") or "",
               r"Alice, A\..*bob@example\.org", "-t: To: kept as it was")

    # -t and arguments: both.
    rc, _, _ = sendmail(m, ["-t", "carol@example.org"],
                        "To: bob@example.org\nSubject: t-and-args\n\nx\n")
    t.ok(rc == 0 and len(find(m, "bob", "t-and-args")) == 1 and
         len(find(m, "carol", "t-and-args")) == 1,
         "-t with an argument: the header's and the argument's recipients")
    # Without -t, Bcc: is removed all the same, To: does not count.
    rc, _, _ = sendmail(m, ["bob@example.org"],
                        "To: carol@example.org\nBcc: alice@example.org\n"
                        "Subject: no-t\n\nx\n")
    b = find(m, "bob", "no-t")
    t.ok(rc == 0 and len(b) == 1 and header_count(b[0], "Bcc") == 0,
         "without -t: only the arguments, and Bcc: removed")
    t.is_(find(m, "carol", "no-t", timeout=1), [],
          "without -t: To: is not a recipient")
    rc, _, err = sendmail(m, ["-t"], "To: not an address\nSubject: x\n\nx\n")
    t.ok(rc == 65 and "not an address" in err,
         "-t with a To: that is no address: exit 65 (%s)" % err.strip())
    rc, _, err = sendmail(m, ["-t"], "Subject: nobody\n\nx\n")
    t.ok(rc == 64 and "no recipients" in err,
         "-t without any recipient: exit 64, \"no recipients\"")


def test_sender(m):
    rc, _, _ = sendmail(m, ["-f", "sender@example.net", "-F", "Jane Q. Doe",
                            "alice@example.org"], "Subject: dash-f\n\nx\n")
    msgs = find(m, "alice", "dash-f")
    if t.ok(rc == 0 and len(msgs) == 1, "-f sender -F name"):
        t.like(prefix(msgs[0], "return-path")[0], rb"<sender@example\.net>",
               "-f: the envelope sender")
        t.is_(t.header_value(msgs[0], "From"),
              '"Jane Q. Doe" <sender@example.net>',
              "-F: the full name in From:, quoted for its dot")
    rc, _, _ = sendmail(m, ["-Fmaild test", "-fdaemon", "alice@example.org"],
                        "Subject: dash-f2\n\nx\n")
    msgs = find(m, "alice", "dash-f2")
    if t.ok(rc == 0 and len(msgs) == 1, "-fdaemon -F'maild test' (values "
            "in the same argument)"):
        t.like(prefix(msgs[0], "return-path")[0], rb"<daemon@mx\.test>",
               "-f without @: at the hostname")
        t.is_(t.header_value(msgs[0], "From"), "maild test <daemon@mx.test>",
              "-F: a plain name as it is")
    name = "J\u00f6rg \u00dcml\u00e4ut"
    rc, _, _ = sendmail(m, ["-F", name, "alice@example.org"],
                        "Subject: dash-F-utf8\n\nx\n")
    msgs = find(m, "alice", "dash-F-utf8")
    if t.ok(rc == 0 and len(msgs) == 1, "-F with a UTF-8 name"):
        v = t.header_value(msgs[0], "From") or ""
        words = re.findall(r"=\?UTF-8\?B\?([A-Za-z0-9+/=]+)\?=", v)
        dec = b"".join(base64.b64decode(w) for w in words).decode(
            errors="replace")
        t.ok(dec == name and v.endswith("<%s@mx.test>" % me()) and
             not t.bare_lf(msgs[0]),
             "-F: a UTF-8 name as RFC 2047 encoded words (%s)" % v)
    rc, _, _ = sendmail(m, ["-f", "<>", "alice@example.org"],
                        "Subject: null-sender\n\nx\n")
    msgs = find(m, "alice", "null-sender")
    if t.ok(rc == 0 and len(msgs) == 1, "-f '<>'"):
        t.like(prefix(msgs[0], "return-path")[0], rb"<>",
               "-f '<>': the null sender")
        t.is_(t.header_value(msgs[0], "From"), "%s@mx.test" % me(),
              "... and From: the user")
    rc, _, err = sendmail(m, ["-f", "a b@c", "alice@example.org"])
    t.ok(rc == 64 and "sender" in err, "-f with a bad address: exit 64")


def test_recipients(m):
    rc, _, _ = sendmail(m, ["alice@example.org,bob@example.org",
                            "Carol C <carol@example.org>"],
                        "Subject: comma\n\nx\n")
    t.is_(rc, 0, "a comma list and a 'Name <addr>' argument")
    for u in ("alice", "bob", "carol"):
        t.is_(len(find(m, u, "comma")), 1, "... %s got it" % u)
    rc, _, err = sendmail(m, ["postmaster"], "Subject: bare\n\nx\n")
    msgs = find(m, "alice", "bare")
    added = b"".join(v for _, v in t.parse_message(msgs[0])[0]) \
        if msgs else b""
    t.ok(rc == 0 and len(msgs) == 1 and b"postmaster@mx.test" in added,
         "a bare name is at the hostname: postmaster@mx.test reached alice"
         " (%s)" % err.strip())
    # A line longer than maild takes (998, RFC 5322 2.1.1), as cron's
    # output may have: broken with CRLF and a space, nothing lost.
    long_line = "".join("%07d," % i for i in range(400))     # 3200 bytes
    rc, _, err = sendmail(m, ["alice@example.org"],
                          "Subject: long\n\n" + long_line + "\nend\n")
    msgs = find(m, "alice", "long")
    body = msgs[0].split(b"\r\n\r\n", 1)[1] if msgs else b""
    t.ok(rc == 0 and len(msgs) == 1, "a 3200-byte line: sent (%s)"
         % err.strip())
    t.ok(body and max(len(x) for x in body.split(b"\r\n")) <= 998,
         "... as lines of at most 998 characters")
    t.is_(body.replace(b"\r\n ", b""), long_line.encode() + b"\r\nend\r\n",
          "... which unfold to the original")
    rc, _, err = sendmail(m, ["nosuch@example.org"], "Subject: unknown\n\nx\n")
    t.is_(rc, 67, "an unknown recipient: exit 67 (EX_NOUSER)")
    t.like(err, r"(?m)^maild-sendmail: nosuch@example\.org: 550 5\.1\.1",
           "... and the server's reply on stderr")
    rc, _, err = sendmail(m, ["nosuch@example.org", "bob@example.org"],
                          "Subject: half\n\nx\n")
    t.ok(rc == 67 and "nosuch@example.org: 550" in err and
         len(find(m, "bob", "half")) == 1,
         "one unknown, one known recipient: exit 67, the other got it")
    rc, _, err = sendmail(m, ["a b c"])
    t.ok(rc == 64 and "not an address" in err,
         "a recipient argument that is no address: exit 64 (%s)"
         % err.strip())


def test_dots(m):
    rc, _, _ = sendmail(m, ["alice@example.org"],
                        "Subject: dot-end\n\nline1\n.\nline3\n")
    msgs = find(m, "alice", "dot-end")
    t.ok(rc == 0 and len(msgs) == 1 and body(msgs[0]) == b"line1\r\n",
         "without -i a line with a single dot ends the message")
    for opt in ("-i", "-oi"):
        subj = "dot-keep%s" % opt
        rc, _, _ = sendmail(m, [opt, "alice@example.org"],
                            "Subject: %s\n\nline1\n.\n.hidden\n..two\nend\n"
                            % subj)
        msgs = find(m, "alice", subj)
        t.ok(rc == 0 and len(msgs) == 1 and body(msgs[0]) ==
             b"line1\r\n.\r\n.hidden\r\n..two\r\nend\r\n",
             "%s: dots are data, delivered as they were" % opt)
    rc, _, _ = sendmail(m, ["alice@example.org"],
                        "Subject: dot-crlf\r\n\r\na\r\n.\r\nb\r\n")
    msgs = find(m, "alice", "dot-crlf")
    t.ok(rc == 0 and len(msgs) == 1 and body(msgs[0]) == b"a\r\n",
         "CRLF input: '.' CRLF ends it too")


def test_errors(m):
    rc, _, err = sendmail(m, ["-x", "alice@example.org"])
    t.ok(rc == 64 and "usage:" in err, "an unknown option: exit 64, usage")
    rc, _, err = sendmail(m, ["-bp"])
    t.ok(rc == 64 and "maild-sendmail: use mailctl show queue" in err,
         "-bp: exit 64, use mailctl show queue")
    rc, _, err = sendmail(m, ["-q"])
    t.ok(rc == 64 and "use mailctl show queue" in err, "-q: exit 64")
    rc, _, err = sendmail(m, ["-bs"])
    t.ok(rc == 64 and "not supported" in err, "-bs: exit 64, not supported")
    rc, _, err = sendmail(m, [])
    t.ok(rc == 64 and "no recipients" in err, "no recipient: exit 64")
    rc, _, err = sendmail(m, ["-f"])
    t.ok(rc == 64 and "needs a value" in err, "-f without its value: 64")
    rc, _, err = sendmail(m, ["-oem", "-odb", "-B", "8BITMIME", "-N",
                              "never", "-R", "hdrs", "-V", "env1", "-v",
                              "-Ffoo", "--", "alice@example.org"],
                          "Subject: ignored-opts\n\nx\n")
    t.ok(rc == 0 and len(find(m, "alice", "ignored-opts")) == 1,
         "-o -B -N -R -V -v and -- are accepted")
    big = b"Subject: big\n\n" + (b"x" * 99 + b"\n") * 11000
    rc, _, err = sendmail(m, ["alice@example.org"], big)
    t.ok(rc == 65 and "too large" in err,
         "a message over max-message-size: exit 65 (%s)" % err.strip())
    t.is_(find(m, "alice", "big", timeout=1), [], "... and nothing sent")


def test_nobody(m):
    if not t.is_root():
        t.skip("not root: cannot run as nobody", 3)
        return
    rc, _, err = sendmail(m, ["alice@example.org"],
                          "Subject: from-nobody\n\nx\n", nobody=True)
    msgs = find(m, "alice", "from-nobody")
    if t.ok(rc == 0 and len(msgs) == 1,
            "as nobody: exit 0, delivered (%s)" % err.strip()):
        t.like(prefix(msgs[0], "return-path")[0], rb"<nobody@mx\.test>",
               "as nobody: the envelope sender is nobody@mx.test")
        t.is_(t.header_value(msgs[0], "From"), "nobody@mx.test",
              "as nobody: From: nobody@mx.test")
    else:
        t.skip("not delivered", 2)


def offline_files(d):
    return sorted(f for f in os.listdir(d)) if os.path.isdir(d) else []


def test_offline(m):
    t.ok(m.stop(), "maild stopped")
    off = os.path.join(m.spool, "offline")
    t.ok(os.path.isdir(off), "maild made <spool>/offline at its start")
    rc, out, err = sendmail(m, ["alice@example.org", "bob"],
                            "Subject: offline\n\nkept\n")
    t.ok(rc == 0 and out == "" and err == "",
         "maild not running: exit 0, silent (%s)" % err.strip())
    files = offline_files(off)
    t.is_(len(files), 1, "one file in <spool>/offline")
    if files:
        path = os.path.join(off, files[0])
        st = os.lstat(path)
        t.ok(stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
             and st.st_uid == os.getuid(),
             "a regular file, mode 0600, owned by the caller")
        t.like(files[0], r"^\d+\.\d+\.[0-9a-f]{16}$",
               "named <time>.<pid>.<random hex>")
        with open(path, "rb") as f:
            data = f.read()
        head = ("maild-offline 1\nfrom %s@mx.test\nto alice@example.org\n"
                "to bob@mx.test\n\n" % me()).encode()
        t.ok(data.startswith(head), "the documented header: version, "
             "from, one to line per recipient, blank line")
        msg = data[len(head):]
        t.ok(t.header_value(msg, "Subject") == "offline" and
             t.header_value(msg, "Message-ID") is not None and
             t.header_value(msg, "Date") is not None and
             msg.endswith(b"\r\n\r\nkept\r\n") and not t.bare_lf(msg),
             "then the completed message, CRLF, not dot-stuffed")
        os.unlink(path)
    rc, _, err = sendmail(m, ["-v", "alice@example.org"],
                          "Subject: offline-v\n\nx\n")
    t.ok(rc == 0 and "kept in %s" % off in err,
         "-v says where it was kept (%s)" % err.strip())
    for f in offline_files(off):
        os.unlink(os.path.join(off, f))
    if t.is_root():
        rc, _, err = sendmail(m, ["alice@example.org"],
                              "Subject: offline-nobody\n\nx\n", nobody=True)
        files = offline_files(off)
        ok = rc == 0 and len(files) == 1
        if t.ok(ok, "as nobody: exit 0, one file (%s)" % err.strip()):
            st = os.lstat(os.path.join(off, files[0]))
            t.ok(st.st_uid == pwd.getpwnam("nobody").pw_uid and
                 stat.S_IMODE(st.st_mode) == 0o600,
                 "... owned by nobody, mode 0600")
            with open(os.path.join(off, files[0]), "rb") as f:
                t.ok(f.read().startswith(b"maild-offline 1\nfrom "
                                         b"nobody@mx.test\n"),
                     "... from nobody@mx.test")
        else:
            t.skip("no file", 2)
    else:
        t.skip("not root", 3)
    shutil.rmtree(off)
    rc, _, err = sendmail(m, ["alice@example.org"],
                          "Subject: lost\n\nx\n")
    t.ok(rc == 75 and "offline" in err and "cannot" in err,
         "no offline directory either: exit 75 and why (%s)" % err.strip())


def main():
    t.ok(os.access(SENDMAIL, os.X_OK), "maild-sendmail is built")
    m = t.Maild(virtuals=VIRTUALS,
                domains=("example.org", "example.net", "mx.test"))
    m.start()
    for part in (test_basic, test_t, test_sender, test_recipients,
                 test_dots, test_errors, test_nobody):
        t.section(part, m)
    t.ok(m.running(), "maild still running")
    t.section(test_offline, m)


t.run(main)
