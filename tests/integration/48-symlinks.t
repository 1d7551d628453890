#!/usr/bin/env python3
# Symbolic links in the mailbox tree are never followed (review issue 10,
# finding 8: with other/new a link to ../demo/new, other's mail landed in
# demo's INBOX).  bob's Maildir gets a link, pointing into alice's, at
# each level in turn: his user directory, new/, tmp/, cur/.  Mail for bob
# must then stay queued (a temporary failure whose log line names the
# link), reach no other Maildir, and bob's IMAP login must be refused
# with a clear text, moving nothing through the link; once the link is
# gone, "mailctl schedule all" delivers the queued message to bob.  Then
# IMAP alone: a folder that is a link to alice's INBOX, a folder whose
# cur/ is a link, and message files in bob's cur/ and new/ that are
# links to alice's message: SELECT, EXAMINE, STATUS, APPEND, COPY,
# DELETE and RENAME of such folders answer NO, LIST does not show them,
# FETCH and SEARCH never return alice's bytes, and alice's Maildir is
# left exactly as it was.
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

ALICE = "alice@example.org"
BOB = "bob@example.org"
SECRET = b"alice-secret-body-7f3a"
MAILCTL = os.path.join(t.REPO, "mailctl")
REFUSED = re.compile(r"^NO \[(NOPERM|UNAVAILABLE)\] .*symbolic link", re.I)


def snapshot(path):
    """{relative path: bytes} of every file under path (links as such)."""
    out = {}
    for d, dirs, files in os.walk(path):
        for f in files + [x for x in dirs if os.path.islink(
                os.path.join(d, x))]:
            p = os.path.join(d, f)
            rel = os.path.relpath(p, path)
            if os.path.islink(p):
                out[rel] = b"-> " + os.readlink(p).encode()
            else:
                with open(p, "rb") as fh:
                    out[rel] = fh.read()
    return out


def tagged_text(r):
    """The tagged reply without its tag."""
    return r.text.split(" ", 1)[1] if " " in r.text else r.text


def deliver(m, msgid):
    data = t.make_message(msgid, subject=msgid, to=BOB,
                          body="for bob only, %s\r\n" % msgid)
    t.is_(m.deliver(data, rcpt=BOB), 250, "%s: SMTP accepts it" % msgid)


def where_is(m, msgid):
    """Relative paths of the files under vmail holding msgid."""
    found = []
    for d, _, files in os.walk(m.vmail):
        for f in files:
            p = os.path.join(d, f)
            if os.path.islink(p):
                continue
            try:
                with open(p, "rb") as fh:
                    if msgid.encode() in fh.read():
                        found.append(os.path.relpath(p, m.vmail))
            except OSError:
                pass
    return found


def ctl(m, *args):
    return subprocess.run([MAILCTL, "-s", m.socket_path] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=30)


def link_case(m, level, alice_before):
    """bob's <level> becomes a link into alice's Maildir."""
    bob = m.maildir("bob").path
    alice = m.maildir("alice").path
    msgid = "sym-%s@client.test" % level
    if level == "user":
        real, link, target = bob + ".real", bob, "alice"
    else:
        real = os.path.join(bob, level + ".real")
        link = os.path.join(bob, level)
        target = os.path.join("..", "alice", level)
    os.rename(link, real)
    os.symlink(target, link)
    os.lchown(link, *vmail_ids())
    planted = None
    if level == "cur":
        # A message bob had before: an IMAP login would move it from
        # new/ to cur/, that is into alice's cur/, through the link.
        planted = os.path.join(bob, "new", "1700000000.M1P1.planted")
        with open(planted, "wb") as fh:
            fh.write(t.make_message("planted@client.test", to=BOB))
        t.chown_vmail(planted)
    try:
        deliver(m, msgid)
        shown = "example.org/bob" + ("" if level == "user" else
                                     "/" + level)
        pat = re.compile(r"delivery of \w+ to \S*/bob failed: .*%s is a "
                         r"symbolic link, not followed" % re.escape(shown))
        line = t.wait_until(lambda: pat.search(m.log_text()), 10)
        t.ok(line, "%s: delivery fails, the log names the link %s"
             % (level, shown))
        t.is_(where_is(m, msgid), [], "%s: the message is in no Maildir"
              % level)
        t.ok(m.queue_entries()["queue"], "%s: it waits in the queue" % level)
        with m.imap_connect() as c:
            r = c.login(BOB, t.IMAP_PASSWORDS[BOB])
            t.like(tagged_text(r), REFUSED,
                   "%s: bob's IMAP login refused (%s)" % (level, r.text))
            c.logout()
        t.is_(snapshot(alice), alice_before,
              "%s: alice's Maildir untouched" % level)
        if planted:
            t.ok(os.path.exists(planted), "cur: bob's new/ file not moved")
    finally:
        os.unlink(link)
        os.rename(real, link)
    r = ctl(m, "schedule", "all")
    t.is_(r.returncode, 0, "%s: mailctl schedule all" % level)
    # Written to tmp/ first, then linked into new/: wait for the end.
    t.wait_until(lambda: [g for g in where_is(m, msgid)
                          if g.startswith("example.org/bob/new/")] ==
                 where_is(m, msgid) != [], 10)
    got = where_is(m, msgid)
    t.ok(len(got) == 1 and got[0].startswith("example.org/bob/new/"),
         "%s: link removed: delivered to bob (%s)" % (level, got))
    if planted and os.path.exists(planted):
        os.unlink(planted)


_ids = []


def vmail_ids():
    if not _ids:
        if t.is_root():
            import pwd
            pw = pwd.getpwnam("vmail")
            _ids.extend([pw.pw_uid, pw.pw_gid])
        else:
            _ids.extend([os.getuid(), os.getgid()])
    return _ids


def expect_refused(r, what):
    t.like(tagged_text(r), REFUSED, "%s refused (%s)" % (what, r.text))


def imap_cases(m, alice_before):
    bob = m.maildir("bob").path
    alice = m.maildir("alice").path
    alice_file = sorted(os.listdir(os.path.join(alice, "cur")))[0]
    links = {
        # A folder that is alice's INBOX.
        os.path.join(bob, ".Evil"): os.path.join("..", "alice"),
        # A folder whose cur/ is alice's.
        os.path.join(bob, ".Lure", "cur"): os.path.join(
            "..", "..", "alice", "cur"),
        # Message files that are alice's message.
        os.path.join(bob, "cur", "1700000001.M1P1.evil:2,S"): os.path.join(
            "..", "..", "alice", "cur", alice_file),
        os.path.join(bob, "new", "1700000002.M1P1.evil"): os.path.join(
            "..", "..", "alice", "cur", alice_file),
    }
    os.makedirs(os.path.join(bob, ".Lure", "new"))
    os.makedirs(os.path.join(bob, ".Lure", "tmp"))
    t.chown_vmail(os.path.join(bob, ".Lure"))
    for link, target in links.items():
        os.symlink(target, link)
        os.lchown(link, *vmail_ids())

    c = m.imap_login(BOB)
    try:
        r = c.command('LIST "" "*"')
        names = [u for u in r.untagged if b"Evil" in u or b"Lure" in u]
        t.ok(b"Evil" not in b"".join(names),
             "LIST does not show the folder link (%s)" % names)
        for mbox in ("Evil", "Lure"):
            expect_refused(c.select(mbox), "SELECT %s" % mbox)
            expect_refused(c.select(mbox, examine=True), "EXAMINE %s" % mbox)
            expect_refused(c.command("STATUS %s (MESSAGES UIDVALIDITY)"
                                     % mbox), "STATUS %s" % mbox)
            r = c.command_literal("APPEND %s ()" % mbox,
                                  t.make_message("append-%s@x" % mbox))
            expect_refused(r, "APPEND %s" % mbox)
        r = c.select("INBOX")
        t.is_(r.status, "OK", "SELECT INBOX")
        n = [int(x) for u in r.untagged
             for x in re.findall(rb"^\* (\d+) EXISTS", u)]
        t.ok(n and n[0] >= 4, "INBOX: bob's own messages (%s)" % n)
        r = c.command("FETCH 1:* (BODY.PEEK[])")
        t.is_(r.status, "OK", "FETCH 1:* BODY[]")
        t.ok(SECRET not in r.all_text().encode(),
             "FETCH never returns alice's message")
        r = c.command("SEARCH BODY %s" % SECRET.decode())
        t.ok(r.status == "OK" and r.find(rb"^\* SEARCH$"),
             "SEARCH finds nothing of alice's (%s)" % r.untagged)
        expect_refused(c.command("COPY 1 Evil"), "COPY into Evil")
        expect_refused(c.command("MOVE 1 Lure"), "MOVE into Lure")
        expect_refused(c.command("DELETE Evil"), "DELETE Evil")
        expect_refused(c.command("RENAME Evil Evil2"), "RENAME Evil")
        c.logout()
    finally:
        c.close()
    t.is_(snapshot(alice), alice_before, "alice's Maildir untouched")
    t.ok(os.path.isdir(alice), "alice's INBOX still there")
    log = m.log_text(since_start=True)
    t.like(log, r"example\.org/bob/\.Evil: cannot open: example\.org/bob/"
           r"\.Evil is a symbolic link, not followed",
           "the log names the folder link")
    t.like(log, r"example\.org/bob/\.Lure: cannot open: example\.org/bob/"
           r"\.Lure/cur is a symbolic link, not followed",
           "the log names the cur/ link")


def main():
    m = t.Maild(imap=True)
    m.start()
    data = t.make_message("alice-secret@client.test", to=ALICE,
                          body=SECRET.decode() + "\r\n")
    t.is_(m.deliver(data, rcpt=ALICE), 250, "alice gets a message")
    t.is_(m.maildir("alice").wait(1), 1, "delivered to alice")
    # Both log in once: Maildirs and folders made, alice's mail in cur/.
    for user in (ALICE, BOB):
        c = m.imap_login(user)
        c.select("INBOX")
        c.logout()
    alice_before = snapshot(m.maildir("alice").path)
    t.ok(any(k.startswith("cur/") for k in alice_before),
         "alice's message is in her cur/")
    for level in ("user", "new", "tmp", "cur"):
        t.section(link_case, m, level, alice_before)
    t.section(imap_cases, m, alice_before)
    m.stop()
    t.unlike(m.log_text(), t.SANITIZER_RE, "no sanitizer report")


t.run(main)
