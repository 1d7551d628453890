#!/usr/bin/env python3
# IMAP over `openssl s_client` and a raw socket (issue 3): synchronizing
# literals answered with "+", LITERAL+ {n+}, bad commands answered BAD
# with the session going on, an over-long line, garbage and NUL bytes,
# an unknown command, commands in the wrong state; mailbox names that
# try to leave alice's Maildir (.., ., leading dot, backslash,
# wildcards, absolute, control characters, encoded dots or slashes) are
# refused by every command and nothing appears on disk outside her
# Maildir; bob's mailbox is never reachable from alice's session.
import os
import queue
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

ALICE = "alice@example.org"
PW = t.IMAP_PASSWORDS[ALICE]


class SClient:
    """openssl s_client on the imaps port as a line-oriented peer."""

    def __init__(self, m):
        self.p = subprocess.Popen(
            ["openssl", "s_client", "-connect", "%s:%d" % (m.addr,
                                                           m.imap_port),
             "-servername", "mx.test", "-quiet", "-nocommands"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL)
        self.q = queue.Queue()
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        for line in iter(self.p.stdout.readline, b""):
            self.q.put(line)
        self.q.put(None)

    def send(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def line(self, timeout=10):
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            return None

    def until(self, prefix, timeout=10):
        """Lines up to and including the first starting with prefix
        (bytes); None at the end if it never came."""
        out = []
        end = time.monotonic() + timeout
        while True:
            ln = self.line(max(0.01, end - time.monotonic()))
            out.append(ln)
            if ln is None or ln.startswith(prefix):
                return out

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def last(lines):
    return lines[-1] if lines and lines[-1] is not None else b""


def sclient(m):
    s = SClient(m)
    try:
        g = s.line()
        t.like(g or b"", rb"^\* OK", "s_client: greeting")
        # LOGIN with two synchronizing literals
        s.send(b"a1 LOGIN {%d}\r\n" % len(ALICE))
        t.like(s.line() or b"", rb"^\+", "literal 1: + continuation")
        s.send(ALICE.encode() + b" {%d}\r\n" % len(PW))
        t.like(s.line() or b"", rb"^\+", "literal 2: + continuation")
        s.send(PW.encode() + b"\r\n")
        t.like(last(s.until(b"a1 ")), rb"^a1 OK", "LOGIN with literals: OK")
        # LITERAL+
        s.send(b"a2 CREATE {5+}\r\nlitpl\r\n")
        lines = s.until(b"a2 ")
        t.like(last(lines), rb"^a2 OK", "CREATE with LITERAL+: OK")
        t.ok(not [x for x in lines if x and x.startswith(b"+")],
             "LITERAL+: no continuation")
        t.ok(os.path.isdir(m.mailbox_dir("litpl")), "folder made on disk")
        # a literal inside a list, as APPEND data
        msg = b"Subject: via s_client\r\n\r\nhello\r\n"
        s.send(b"a3 APPEND litpl (\\Seen) {%d}\r\n" % len(msg))
        t.like(s.line() or b"", rb"^\+", "APPEND literal: +")
        s.send(msg + b"\r\n")
        t.like(last(s.until(b"a3 ")), rb"^a3 OK", "APPEND through s_client")
        # errors: the session goes on
        s.send(b"a4 FROBNICATE now\r\n")
        t.like(last(s.until(b"a4 ")), rb"^a4 BAD", "unknown command: BAD")
        s.send(b'a5 SELECT "unterminated\r\n')
        t.like(last(s.until(b"a5 ")), rb"^a5 BAD", "unterminated string: BAD")
        s.send(b"a6 FETCH 1:* (FLAGS\r\n")
        t.like(last(s.until(b"a6 ")), rb"^a6 (BAD|NO)", "unbalanced list")
        s.send(b"a7 LOGIN {abc}\r\n")
        t.like(last(s.until(b"a7 ")), rb"^a7 BAD", "bad literal size: BAD")
        s.send(b"a8 NOOP extra args\r\n")
        t.like(last(s.until(b"a8 ")), rb"^a8 BAD", "NOOP with arguments: BAD")
        s.send(b"\r\n")
        t.like(s.line() or b"", rb"^\* BAD", "empty line: untagged BAD")
        s.send(b"a9 NOOP\r\n")
        t.like(last(s.until(b"a9 ")), rb"^a9 OK", "session still fine")
        # too big for APPENDLIMIT: NO [TOOBIG] before any +
        s.send(b"b1 APPEND INBOX {2000000}\r\n")
        ln = s.line() or b""
        t.like(ln, rb"^b1 NO \[TOOBIG\]", "literal over APPENDLIMIT: NO "
               "[TOOBIG], no +")
        s.send(b"b2 NOOP\r\n")
        t.like(last(s.until(b"b2 ")), rb"^b2 OK", "session still fine")
        s.send(b"b3 LOGOUT\r\n")
        lines = s.until(b"b3 ")
        t.ok(any(x and x.startswith(b"* BYE") for x in lines),
             "LOGOUT: * BYE")
        t.like(last(lines), rb"^b3 OK", "LOGOUT: OK")
    finally:
        s.close()
    t.is_(s.p.returncode, 0, "s_client ends when the server closes")


def garbage(m):
    c = m.imap_login()
    r = c.command(b"g1 NOOP\x00junk"[3:], tag="g1")
    t.is_(r.status, "BAD", "NUL in a command line: BAD")
    c.send(b"\xff\xfe\x00\x01\x02 garbage\r\n")
    r = c.response()
    t.like(r, rb"^(\* BAD|\S+ BAD)", "binary garbage: BAD")
    r = c.command("NOOP")
    t.is_(r.status, "OK", "session fine after garbage")
    r = c.command(b'SELECT "IN\x01BOX"')
    t.ok(r.status in ("BAD", "NO"), "control character in a quoted string")
    c.send(b"t" * 100 + b" NOOP\r\n")
    t.like(c.response(), rb"^(\* BAD|t+ BAD)", "over-long tag: BAD")
    t.is_(c.command("NOOP").status, "OK", "session fine after a long tag")
    c.close()
    # A line far over any sane limit: BAD (tagged or untagged), maybe BYE;
    # maild survives and a new session works.
    c = m.imap_login()
    try:
        c.send(b"L1 NOOP " + b"x" * 200000 + b"\r\n")
        r = c.response(timeout=10)
        t.like(r, rb"^(\* BAD|L1 BAD|\* BYE)", "over-long line: BAD or BYE")
        try:
            r2 = c.command("NOOP", timeout=5)
            t.diag("after the long line: %s" % r2.text)
        except (OSError, t.IMAPError):
            t.diag("after the long line: connection closed")
    except (OSError, t.IMAPError) as e:
        t.ok(False, "over-long line: no answer (%s)" % e)
    c.close()
    c = m.imap_login()
    t.is_(c.command("NOOP").status, "OK", "a new session works")
    # A literal announced with a huge size in a non-APPEND command
    r = c.command("LOGIN {999999999999}")
    t.ok(r.status in ("BAD", "NO"), "absurd literal size refused")
    c.logout()


def wrong_state(m):
    c = m.imap_connect()
    for cmd in ("SELECT INBOX", "EXAMINE INBOX", "FETCH 1 FLAGS",
                "LIST \"\" *", "CREATE x", "STATUS INBOX (MESSAGES)",
                "APPEND INBOX {1+}\r\nx", "IDLE", "EXPUNGE",
                "UID FETCH 1 FLAGS"):
        r = c.command(cmd)
        t.ok(r.status in ("BAD", "NO"), "not authenticated: %s refused (%s)"
             % (cmd.split("\r")[0], r.status))
    c.login(ALICE, PW)
    for cmd in ("FETCH 1 FLAGS", "STORE 1 +FLAGS (\\Seen)", "SEARCH ALL",
                "EXPUNGE", "CLOSE", "UNSELECT", "COPY 1 Sent", "MOVE 1 Sent",
                "UID SEARCH ALL", "CHECK"):
        r = c.command(cmd)
        t.ok(r.status in ("BAD", "NO"), "no mailbox selected: %s refused "
             "(%s)" % (cmd, r.status))
    t.is_(c.command("NOOP").status, "OK", "and the session goes on")
    c.logout()


ESCAPES = ["../x", "a/../../b", "..", ".", "./x", ".hidden", "a/.b",
           "a\\b", "a*b", "a%b", "/abs", "a//b", "/", "../bob",
           "../../example.org/bob", "x/../../../etc", "INBOX/../..",
           "&AC4ALg-", "a&AC8-b", "..\\..", ".INBOX", "a/./b"]


def tree(root):
    out = set()
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            out.add(os.path.relpath(os.path.join(d, n), root))
    return out


def path_escapes(m):
    # bob gets a message, so his Maildir exists
    t.is_(m.deliver(t.make_message("bob.%d@client.test" % os.getpid(),
                                   subject="for bob only"),
                    rcpt="bob@example.org"), 250, "a message for bob")
    bob = m.maildir("bob")
    t.ok(bob.wait(1), "bob's Maildir has it")
    c = m.imap_login()
    c.command("LIST \"\" \"*\"")          # first login work is done
    outside_before = tree(m.dir) - {x for x in tree(m.dir)
                                    if x.startswith("vmail/example.org/alice")}
    bob_before = tree(bob.path)
    alice_dirs_before = sorted(x for x in os.listdir(m.mailbox_dir())
                               if os.path.isdir(os.path.join(
                                   m.mailbox_dir(), x)))
    for name in ESCAPES:
        q = t.imap_quote(name)
        r = c.command("CREATE %s" % q)
        comps = name.split("/")
        if r.status == "OK" and all(comps) and \
                not [x for x in comps if x in (".", "..")] and \
                [x for x in comps if x.startswith(".")]:
            # A leading dot may be allowed when it is stored escaped
            # (mailbox.h: "." in a component is written &AC4-).
            d = os.path.join(m.mailbox_dir(), "." + ".".join(
                x.replace(".", "&AC4-") for x in comps))
            t.ok(os.path.isdir(d), "CREATE %s stored escaped as %s"
                 % (q, os.path.basename(d)))
            c.command("DELETE %s" % q)
            continue
        t.ok(r.status in ("NO", "BAD"), "CREATE %s refused (%s)"
             % (q, r.text))
    r = c.command_literal("CREATE", b"a\x01b", plus=True)
    t.ok(r.status in ("NO", "BAD"), "CREATE with a control char refused")
    r = c.command_literal("CREATE", b"a\x00b", plus=True)
    t.ok(r.status in ("NO", "BAD"), "CREATE with a NUL refused")
    for name in ("../bob", "../../example.org/bob", "..", "/",
                 "&AC4ALg-/bob", "../bob/.Sent", "./../bob"):
        q = t.imap_quote(name)
        for cmd in ("SELECT %s" % q, "EXAMINE %s" % q,
                    "STATUS %s (MESSAGES)" % q, "DELETE %s" % q,
                    "RENAME %s stolen" % q, "RENAME Sent %s" % q,
                    "SUBSCRIBE %s" % q):
            r = c.command(cmd)
            t.ok(r.status in ("NO", "BAD") or cmd.startswith("SUBSCRIBE"),
                 "%s refused (%s)" % (cmd, r.status))
            t.unlike(r.all_text(), r"for bob only|MESSAGES 1\)",
                     "%s: nothing of bob's" % cmd)
        r = c.command_literal("APPEND %s" % q, b"Subject: x\r\n\r\ny\r\n",
                              plus=True)
        t.ok(r.status in ("NO", "BAD"), "APPEND %s refused" % q)
    c.select("INBOX")
    c.command_literal("APPEND INBOX", b"Subject: mine\r\n\r\nz\r\n",
                      plus=True)
    c.select("INBOX")
    for name in ("../bob", "../../x", "/tmp"):
        for cmd in ("COPY", "MOVE"):
            r = c.command("%s 1 %s" % (cmd, t.imap_quote(name)))
            t.ok(r.status in ("NO", "BAD"), "%s to %s refused" % (cmd, name))
    for ref, pat in (('"../"', '"*"'), ('""', '"../*"'), ('"/"', '"*"'),
                     ('"~bob/"', '"*"'), ('""', '"../../*"'),
                     ('"../bob"', '"%"')):
        r = c.command("LIST %s %s" % (ref, pat))
        names = t.list_responses(r.untagged)
        t.ok(not any("bob" in n or ".." in n or n.startswith("/")
                     for n in names),
             "LIST %s %s shows nothing outside (%s)" % (ref, pat,
                                                        sorted(names)))
    c.logout()

    outside_after = tree(m.dir) - {x for x in tree(m.dir)
                                   if x.startswith("vmail/example.org/alice")}
    new_outside = sorted(x for x in outside_after - outside_before
                         if not x.startswith("spool/") and
                         not x.endswith(".log"))
    t.is_(new_outside, [], "nothing new outside alice's Maildir")
    t.is_(tree(bob.path) - bob_before, set(), "bob's Maildir unchanged "
          "(nothing added)")
    t.is_(bob_before - tree(bob.path), set(), "bob's Maildir unchanged "
          "(nothing removed)")
    alice_dirs = sorted(x for x in os.listdir(m.mailbox_dir())
                        if os.path.isdir(os.path.join(m.mailbox_dir(), x)))
    t.is_(alice_dirs, alice_dirs_before, "no new folder in alice's Maildir")
    t.ok(not os.path.exists(os.path.join(m.vmail, "example.org", "x")) and
         not os.path.exists(os.path.join(m.vmail, "b")) and
         not os.path.exists(os.path.join(m.vmail, "x")),
         "no ../x, ../../b made")

    # Log in names that are paths
    for user in ("../example.org/bob", "alice@example.org/../bob",
                 "alice@../example.org", "../../etc/passwd"):
        with m.imap_connect() as c:
            r = c.login(user, PW)
            t.is_(r.status, "NO", "LOGIN as %r refused" % user)
    with m.imap_connect() as c:
        t.is_(c.login("bob@example.org", PW).status, "NO",
              "bob with alice's password: NO")
    # five failures from this address: the next check waits up to 15 s
    b = m.imap_login("bob@example.org", timeout=30)
    r = b.command('LIST "" "*"')
    names = t.list_responses(r.untagged)
    t.ok("litpl" not in names, "bob does not see alice's folders")
    r = b.select("INBOX")
    t.is_(t.untagged_numbers(r.untagged, "EXISTS"), [1],
          "bob sees his own one message")
    b.logout()


def main():
    m = t.Maild(imap=True)
    m.start()
    t.section(sclient, m)
    t.section(garbage, m)
    t.section(wrong_state, m)
    t.section(path_escapes, m)
    t.ok(m.running(), "maild still running")
    t.ok(m.stop(), "maild stops cleanly")


t.run(main)
