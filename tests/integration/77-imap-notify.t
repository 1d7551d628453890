#!/usr/bin/env python3
# IMAP NOTIFY (RFC 5465), STATUS=SIZE (RFC 8438) for IMAP4rev1 sessions
# and UNAUTHENTICATE (RFC 8437), against a real maild (issue 14).
# - the capabilities, after login only;
# - the RFC 5465 examples (as corrected by its errata): SET STATUS sends
#   STATUS for the watched mailboxes before the OK, new mail in the
#   selected mailbox comes with the MessageNew fetch attributes, in
#   the "Lists" subtree as STATUS, without the client asking;
# - a delivery over SMTP into a folder that is not selected (a match
#   rule delivers lists.test mail into alice's "Lists") is told within
#   1 s, while idle and while not;
# - another session's APPEND, flag change and expunge, in the selected
#   mailbox (pushed at once; expunges held under SELECTED-DELAYED) and
#   in others (STATUS; a group asking for MessageNew only hears nothing
#   of flag changes); MailboxName and SubscriptionChange as LIST;
# - IDLE under NOTIFY is only a wait: what it hears is what NOTIFY asked;
# - NOTIFY NONE ends it all;
# - UNAUTHENTICATE: back to the greeting's state (capabilities, limits,
#   ENABLE and NOTIFY gone), a failed login then waits as any other, and
#   bob logged in on the same connection sees bob's mail only;
# - bad input: unknown filters and events, BADEVENT, thousands of
#   names, fetch attributes where none are allowed, NOTIFY in the middle
#   of IDLE, before login; a client that does not read its notifications
#   gets NOTIFICATIONOVERFLOW; the session stays usable throughout.
import os
import re
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

LIMIT = 5.0 if "valgrind" in t.maild_path() else 1.0
ALICE = "alice@example.org"
BOB = "bob@example.org"
CAPS = ["NOTIFY", "STATUS=SIZE", "UNAUTHENTICATE"]


def msg(subject, body="x\r\n", size=0):
    text = "From: a@client.test\r\nTo: alice@example.org\r\n" \
           "Subject: %s\r\n\r\n%s" % (subject, body)
    if size:
        text += "y" * 76 + "\r\n"
        text += ("z" * 78 + "\r\n") * (size // 80)
    return text.encode()


def append(c, box, subject, size=0):
    r = c.command_literal("APPEND %s" % box, msg(subject, size=size),
                          plus=True)
    if r.status != "OK":
        t.diag("APPEND %s: %s" % (box, r.text))
    return r


def idle(c):
    tag = c.next_tag()
    c.send(tag + " IDLE\r\n")
    return tag, c.response()


def done(c, tag):
    c.send("DONE\r\n")
    return c._collect(tag, 10)


def status_of(lines, box):
    """{ITEM: int} of the last "* STATUS box (...)" among lines."""
    out = None
    for r in lines:
        m = re.match(rb'\* STATUS "?%s"? \(([^)]*)\)' % re.escape(
            box.encode()), r)
        if m:
            v = m.group(1).split()
            out = {v[i].decode().upper(): int(v[i + 1])
                   for i in range(0, len(v) - 1, 2)}
    return out


def caps(m):
    with m.imap_connect() as c:
        pre = c.capabilities()
        for cap in ["NOTIFY", "UNAUTHENTICATE"]:
            t.ok(cap not in pre, "%s not advertised before login" % cap)
    c = m.imap_login()
    post = c.capabilities()
    for cap in CAPS:
        t.ok(cap in post, "%s advertised after login" % cap)
    c.logout()


def rfc_examples(m):
    a = m.imap_login()
    b = m.imap_login()
    for box in ["Lists", "Lists/a", "misc"]:
        b.command("CREATE %s" % box)
    append(b, "Lists", "before")
    append(b, "INBOX", "inbox before")
    a.select("INBOX")
    # RFC 5465 3.1 (event lists in parentheses, as its errata say)
    r = a.command("NOTIFY SET STATUS (selected (MessageNew (uid "
                  "body.peek[header.fields (from to subject)]) "
                  "MessageExpunge)) (subtree Lists (MessageNew))")
    t.is_(r.status, "OK", "3.1: NOTIFY SET STATUS ... OK")
    st = status_of(r.untagged, "Lists")
    t.ok(st is not None and st.get("MESSAGES") == 1 and "UIDNEXT" in st
         and "UIDVALIDITY" in st,
         "3.1: STATUS Lists (MESSAGES UIDNEXT UIDVALIDITY) before the OK")
    t.ok(status_of(r.untagged, "Lists/a") is not None,
         "3.1: and for Lists/a, in the subtree")
    t.ok(status_of(r.untagged, "misc") is None and
         status_of(r.untagged, "INBOX") is None,
         "3.1: none for misc, none for the selected INBOX")
    # New mail in the selected mailbox: EXISTS and the fetch attributes.
    append(b, "INBOX", "pushed")
    line, seen = a.wait_for(rb"^\* \d+ FETCH", 3)
    t.ok(line is not None and re.search(rb"UID \d+", line) and
         b"Subject: pushed" in line,
         "3.1: new message pushed with UID and the header fields")
    t.ok(any(re.match(rb"^\* 2 EXISTS", x) for x in seen),
         "3.1: after * 2 EXISTS")
    r = a.command("FETCH 2 (FLAGS)")
    f = t.fetch_responses(r.untagged)
    t.ok(2 in f and "\\Seen" not in f[2].get("FLAGS", []),
         "the notification did not set \\Seen")
    # New mail in the subtree: STATUS, no command needed.
    append(b, "Lists/a", "in subtree")
    line, _ = a.wait_for(rb"^\* STATUS \"?Lists/a\"? ", 3)
    t.ok(line is not None and b"MESSAGES 1" in line,
         "3.1: STATUS Lists/a pushed (%r)" % line)
    # Outside the subtree: nothing.
    append(b, "misc", "not watched")
    t.ok(a.no_response_within(0.5), "3.1: nothing for misc")
    # Erratum 2318: STATUS first, then NOTIFY without STATUS.
    r = a.command("STATUS misc (UIDVALIDITY UIDNEXT MESSAGES)")
    t.ok(status_of(r.untagged, "misc") is not None, "3.1: d STATUS misc")
    r = a.command("NOTIFY SET (selected (MessageNew (uid "
                  "body.peek[header.fields (from to subject)]) "
                  "MessageExpunge)) (subtree Lists (MessageNew)) "
                  "(mailboxes misc (MessageNew))")
    t.is_(r.status, "OK", "3.1: e NOTIFY SET ... OK")
    t.ok(not r.find(rb"^\* STATUS"), "without STATUS: no STATUS replies")
    append(b, "misc", "watched now")
    line, _ = a.wait_for(rb"^\* STATUS \"?misc\"? ", 3)
    t.ok(line is not None, "misc now watched: STATUS pushed")
    # 3.2: NOTIFY NONE
    r = a.command("NOTIFY NONE")
    t.is_(r.status, "OK", "NOTIFY NONE: OK")
    append(b, "Lists", "after none")
    append(b, "INBOX", "after none")
    t.ok(a.no_response_within(0.5), "after NOTIFY NONE: nothing pushed")
    r = a.command("NOOP")
    t.ok(r.find(rb"^\* \d+ EXISTS"), "... NOOP still reports EXISTS")
    a.logout()
    b.logout()


def delivery(m):
    a = m.imap_login()
    a.select("INBOX")
    r = a.command("NOTIFY SET (selected (MessageNew MessageExpunge)) "
                  "(personal (MessageNew MessageExpunge))")
    t.is_(r.status, "OK", "NOTIFY SET personal")
    for n, idling in [(1, False), (2, True)]:
        if idling:
            tag, cont = idle(a)
            t.like(cont, rb"^\+", "IDLE: continuation")
        rc = t.swaks(m, "list@lists.test", "--header",
                     "Subject: list %d" % n).returncode
        t0 = time.monotonic()
        t.is_(rc, 0, "swaks to list@lists.test")
        line, _ = a.wait_for(rb'^\* STATUS "?Lists"? ', 5)
        dt = time.monotonic() - t0
        t.ok(line is not None and dt <= LIMIT,
             "delivery to Lists told %s within %g s (%.3f s)" % (
                 "in IDLE" if idling else "without a command", LIMIT, dt))
        t.diag("STATUS %.3f s after swaks: %r" % (dt, line))
        if idling:
            t.is_(done(a, tag).status, "OK", "DONE: OK")
    t.is_(len(os.listdir(os.path.join(m.vmail, "example.org", "alice",
                                      ".Lists", "new"))) +
          len(os.listdir(os.path.join(m.vmail, "example.org", "alice",
                                      ".Lists", "cur"))) >= 2, True,
          "the mail is in alice's Lists folder")
    a.logout()


def other_session(m):
    a = m.imap_login()
    b = m.imap_login()
    r = a.command("ENABLE CONDSTORE")
    a.select("INBOX")
    n = len(a.fetch("1:*", "(UID)")[1])
    r = a.command("NOTIFY SET (selected (MessageNew MessageExpunge "
                  "FlagChange)) (personal (MessageNew MessageExpunge "
                  "FlagChange MailboxName SubscriptionChange))")
    t.is_(r.status, "OK", "NOTIFY SET with FlagChange")
    # the selected mailbox, another session's changes, no command here
    b.select("INBOX")
    b.command("STORE 1 +FLAGS.SILENT (\\Flagged)")
    line, _ = a.wait_for(rb"^\* 1 FETCH \(.*\\Flagged", 3)
    t.ok(line is not None, "selected: flag change pushed")
    t.ok(line is not None and b"MODSEQ" in line, "... with MODSEQ")
    b.command("STORE 1 +FLAGS.SILENT (\\Deleted)")
    b.command("EXPUNGE")
    line, _ = a.wait_for(rb"^\* 1 EXPUNGE", 3)
    t.ok(line is not None, "selected: expunge pushed at once")
    n -= 1
    # other mailboxes: STATUS
    b.select("Lists")
    b.command("STORE 1 +FLAGS.SILENT (\\Seen)")
    line, _ = a.wait_for(rb'^\* STATUS "?Lists"? ', 3)
    t.ok(line is not None and b"HIGHESTMODSEQ" in line and
         b"UNSEEN" in line, "Lists: flag change as STATUS with "
         "HIGHESTMODSEQ and UNSEEN (%r)" % line)
    before = status_of([line or b""], "Lists") or {}
    b.command("STORE 1 +FLAGS.SILENT (\\Deleted)")
    a.wait_for(rb'^\* STATUS "?Lists"? ', 3)
    b.command("EXPUNGE")
    line, _ = a.wait_for(rb'^\* STATUS "?Lists"? ', 3)
    after = status_of([line or b""], "Lists") or {}
    t.ok(line is not None and after.get("MESSAGES") ==
         before.get("MESSAGES", 0) - 1, "Lists: expunge as STATUS, "
         "MESSAGES one less (%s -> %s)" % (before, after))
    b.command("UNSELECT")
    # mailbox events
    b.command("CREATE Lists/new")
    line, _ = a.wait_for(rb"^\* LIST ", 3)
    t.like(line or b"", rb'^\* LIST \(\) "/" "?Lists/new"?$',
           "MailboxName: CREATE as LIST")
    b.command("RENAME Lists/new Lists/renamed")
    line, _ = a.wait_for(rb"^\* LIST ", 3)
    t.like(line or b"", rb'^\* LIST \(\) "/" "?Lists/renamed"? '
           rb'\("OLDNAME" \("?Lists/new"?\)\)$', "MailboxName: RENAME "
           "with OLDNAME")
    b.command("SUBSCRIBE Lists/renamed")
    line, _ = a.wait_for(rb"^\* LIST ", 3)
    t.like(line or b"", rb'^\* LIST \(\\Subscribed\) "/" "?Lists/renamed',
           "SubscriptionChange: SUBSCRIBE as LIST (\\Subscribed)")
    b.command("UNSUBSCRIBE Lists/renamed")
    line, _ = a.wait_for(rb"^\* LIST ", 3)
    t.like(line or b"", rb'^\* LIST \(\) "/" "?Lists/renamed',
           "SubscriptionChange: UNSUBSCRIBE as LIST ()")
    b.command("DELETE Lists/renamed")
    line, _ = a.wait_for(rb"^\* LIST ", 3)
    t.like(line or b"", rb'^\* LIST \(\\NonExistent\) "/" '
           rb'"?Lists/renamed"?$', "MailboxName: DELETE as \\NonExistent")
    # MessageNew only: flag changes are not told, new mail is
    r = a.command("NOTIFY SET (mailboxes Lists (MessageNew))")
    t.is_(r.status, "OK", "NOTIFY SET (mailboxes Lists (MessageNew))")
    b.select("Lists")
    b.command("STORE 1:* -FLAGS.SILENT (\\Seen)")
    line, seen = a.wait_for(rb"^\* STATUS", 0.5)
    t.ok(line is None, "MessageNew only: no STATUS for flags (%r)" % seen)
    append(b, "Lists", "new one")
    line, _ = a.wait_for(rb'^\* STATUS "?Lists"? ', 3)
    t.ok(line is not None, "MessageNew only: STATUS for new mail")
    # SELECTED-DELAYED: expunges wait for a command that may tell them
    r = a.command("NOTIFY SET (selected-delayed (MessageNew "
                  "MessageExpunge))")
    t.is_(r.status, "OK", "NOTIFY SET selected-delayed")
    b.select("INBOX")
    b.command("STORE 1 +FLAGS.SILENT (\\Deleted)")
    b.command("EXPUNGE")
    append(b, "INBOX", "delayed")
    line, seen = a.wait_for(rb"^\* \d+ EXISTS", 3)
    t.ok(line is not None and not any(b"EXPUNGE" in x for x in seen),
         "selected-delayed: EXISTS pushed, the expunge not (%r)" % seen)
    r = a.command("FETCH 1 (UID)")
    t.ok(not r.find(rb"EXPUNGE"), "... nor in a FETCH")
    r = a.command("NOOP")
    t.ok(r.find(rb"^\* 1 EXPUNGE"), "... but at NOOP")
    a.logout()
    b.logout()


def idle_wait(m):
    a = m.imap_login()
    b = m.imap_login()
    a.select("INBOX")
    r = a.command("NOTIFY SET (personal (MessageNew MessageExpunge))")
    t.is_(r.status, "OK", "NOTIFY SET without the selected mailbox")
    tag, cont = idle(a)
    append(b, "INBOX", "inbox while idle")
    t.ok(a.no_response_within(0.5), "IDLE under NOTIFY: nothing for the "
         "selected mailbox NOTIFY did not ask for")
    append(b, "Lists", "lists while idle")
    line, _ = a.wait_for(rb'^\* STATUS "?Lists"? ', 3)
    t.ok(line is not None, "IDLE under NOTIFY: STATUS Lists")
    r = done(a, tag)
    t.is_(r.status, "OK", "DONE: OK")
    t.ok(r.find(rb"^\* \d+ EXISTS"), "the INBOX news come with DONE")
    a.logout()
    b.logout()


def drop_file(m, folder, n):
    """A message written into new/ as another delivery agent would."""
    d = os.path.join(m.vmail, "example.org", "alice", folder)
    name = "%d.M%dP%d.outside" % (int(time.time()), n, os.getpid())
    with open(os.path.join(d, "tmp", name), "wb") as f:
        f.write(msg("outside %d" % n))
    os.rename(os.path.join(d, "tmp", name), os.path.join(d, "new", name))
    return os.path.join(d, "new", name)


def outside(m):
    """Other programs' changes: seen without a command (inotify)."""
    a = m.imap_login()
    a.select("INBOX")
    r = a.command("NOTIFY SET (selected (MessageNew MessageExpunge)) "
                  "(personal (MessageNew MessageExpunge))")
    t.is_(r.status, "OK", "NOTIFY SET personal")
    drop_file(m, ".Lists", 1)
    t0 = time.monotonic()
    line, _ = a.wait_for(rb'^\* STATUS "?Lists"? ', 5)
    dt = time.monotonic() - t0
    t.ok(line is not None and dt <= LIMIT, "a file dropped into Lists/new "
         "by another program: STATUS within %g s (%.3f s)" % (LIMIT, dt))
    tag, cont = idle(a)
    path = drop_file(m, ".Lists", 2)
    line, _ = a.wait_for(rb'^\* STATUS "?Lists"? ', 5)
    t.ok(line is not None, "... and in IDLE")
    t.is_(done(a, tag).status, "OK", "DONE: OK")
    # the selected mailbox: EXISTS pushed for a file dropped into it
    drop_file(m, "", 3)
    line, _ = a.wait_for(rb"^\* \d+ EXISTS", 5)
    t.ok(line is not None, "a file dropped into INBOX/new: EXISTS pushed")
    # a file removed behind maild's back: an expunge
    r = a.command("STATUS Lists (MESSAGES)")
    before = (status_of(r.untagged, "Lists") or {}).get("MESSAGES", 0)
    base = os.path.basename(path)
    ld = os.path.join(m.vmail, "example.org", "alice", ".Lists")
    for sub in ("new", "cur"):
        for f in os.listdir(os.path.join(ld, sub)):
            if f.startswith(base):
                os.unlink(os.path.join(ld, sub, f))
    line, _ = a.wait_for(rb'^\* STATUS "?Lists"? ', 5)
    after = status_of([line or b""], "Lists") or {}
    t.ok(line is not None and after.get("MESSAGES") == before - 1,
         "a file removed by another program: STATUS, one message less "
         "(%s -> %s)" % (before, after.get("MESSAGES")))
    # maild's own changes are not told twice (watch and session both)
    b = m.imap_login()
    # a folder deleted and made again is watched again
    b.command("DELETE Lists/a")
    b.command("CREATE Lists/a")
    a.wait_for(rb"^\* LIST .*Lists/a", 0.5)
    drop_file(m, ".Lists.a", 4)
    line, _ = a.wait_for(rb'^\* STATUS "?Lists/a"? ', 5)
    t.ok(line is not None, "a folder deleted and created again: still "
         "watched (%r)" % line)
    append(b, "Lists", "own change")
    line, seen = a.wait_for(rb'^\* STATUS "?Lists"? ', 3)
    more, _ = a.wait_for(rb'^\* STATUS', 0.5)
    t.ok(line is not None and more is None,
         "maild's own APPEND: one STATUS, not a second from the watch")
    b.logout()
    a.logout()


def many_folders(m):
    """A user with 1,000 folders: NOTIFY covers them all, cheaply."""
    c = m.imap_login(BOB)
    n = 1000
    tags = []
    for i in range(n):
        tag = c.next_tag()
        tags.append(tag)
        c.send("%s CREATE f/%04d\r\n" % (tag, i))
    bad = [r.status for r in (c._collect(tg, 30) for tg in tags)
           if r.status != "OK"]
    t.is_(bad, [], "%d folders created" % n)
    t0 = time.monotonic()
    r = c.command("NOTIFY SET (personal (MessageNew MessageExpunge))",
                  timeout=60)
    dt = time.monotonic() - t0
    t.is_(r.status, "OK", "NOTIFY SET personal over %d folders" % n)
    t.diag("NOTIFY SET over %d folders: %.3f s" % (n, dt))
    t0 = time.monotonic()
    r = c.command("NOTIFY SET STATUS (personal (MessageNew "
                  "MessageExpunge))", timeout=60)
    dt = time.monotonic() - t0
    t.ok(len(r.find(rb"^\* STATUS")) >= n + 1,
         "SET STATUS: one STATUS per folder and INBOX (%d)" %
         len(r.find(rb"^\* STATUS")))
    t.diag("NOTIFY SET STATUS over %d new folders: %.3f s" % (n, dt))
    t0 = time.monotonic()
    r = c.command("NOTIFY SET STATUS (personal (MessageNew "
                  "MessageExpunge))", timeout=60)
    t.diag("... again, their state files written: %.3f s" % (
        time.monotonic() - t0))
    d = m.mailbox_dir(user="bob")
    name = "%d.M1P%d.outside" % (int(time.time()), os.getpid())
    fd = os.path.join(d, ".f.0777")
    with open(os.path.join(fd, "tmp", name), "wb") as f:
        f.write(msg("outside"))
    os.rename(os.path.join(fd, "tmp", name), os.path.join(fd, "new", name))
    line, _ = c.wait_for(rb'^\* STATUS "?f/0777"? ', 5)
    t.ok(line is not None, "a file dropped into folder 777 of %d: told"
         % n)
    watches = inotify_watches(m)
    t.diag("inotify watches of maild: %s" % watches)
    t.ok(watches is not None and n <= watches <= 2 * (n + 1 + 5) + 8,
         "two watches per folder at most (%s)" % watches)
    c.logout()


def inotify_watches(m):
    """inotify watches held by m's processes (None: no inotify)."""
    total = None
    for pid in m.children():
        try:
            for fd in os.listdir("/proc/%d/fd" % pid):
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) != \
                        "anon_inode:inotify":
                    continue
                with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                    total = (total or 0) + sum(
                        1 for x in f if x.startswith("inotify wd"))
        except OSError:
            continue
    return total


def unauthenticate(m):
    t.swaks(m, BOB, "--header", "Subject: for bob")
    c = m.imap_login()
    c.command("ENABLE QRESYNC")
    c.select("INBOX")
    c.command("NOTIFY SET (personal (MessageNew MessageExpunge))")
    r = c.command("UNAUTHENTICATE")
    t.is_(r.status, "OK", "UNAUTHENTICATE: OK")
    cp = c.capabilities()
    t.ok("NOTIFY" not in cp and "UNAUTHENTICATE" not in cp and
         "AUTH=PLAIN" in cp, "capabilities of the greeting again")
    t.is_(c.command("SELECT INBOX").status, "BAD",
          "SELECT refused: not logged in")
    t.is_(c.command("NOTIFY NONE").status, "BAD", "NOTIFY refused")
    r = c.command("ID (\"x\" \"%s\")" % ("y" * 42000))
    t.is_(r.status, "BAD", "42000-byte line refused: the pre-login limit")
    b2 = m.imap_login()
    append(b2, "Lists", "alice's, after unauthenticate")
    t.ok(c.no_response_within(0.5), "alice's NOTIFY ended with it")
    b2.logout()
    r = c.login(BOB, "wrong password")
    t.is_(r.status, "NO", "a wrong password: NO")
    t0 = time.monotonic()
    r = c.login(BOB, t.IMAP_PASSWORDS[BOB])
    dt = time.monotonic() - t0
    t.is_(r.status, "OK", "LOGIN as bob on the same connection")
    t.ok(dt >= 0.5, "the login after a failure waited (%.2f s)" % dt)
    r = c.select("INBOX", extra=" (QRESYNC (1 1))")
    t.is_(r.status, "BAD", "QRESYNC no longer enabled")
    r = c.select("INBOX")
    t.is_(t.untagged_numbers(r.untagged, "EXISTS"), [1],
          "bob's INBOX: his one message")
    r, f = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    t.ok(all(b"for bob" in list(d.values())[0] for d in f.values()),
         "only bob's mail")
    r = c.command("LIST \"\" \"*\"")
    t.ok(not r.find(rb"Lists"), "none of alice's folders")
    c.logout()


def status_size(m):
    c = m.imap_login()
    r = c.command("STATUS INBOX (SIZE MESSAGES)")
    st = status_of(r.untagged, "INBOX")
    sel = c.select("INBOX")
    f = c.fetch("1:*", "(RFC822.SIZE)")[1]
    total = sum(int(d["RFC822.SIZE"]) for d in f.values())
    t.ok(st is not None and st.get("SIZE") == total and total > 0,
         "STATUS=SIZE in an IMAP4rev1 session: %s, sum of RFC822.SIZE %d"
         % (st, total))
    t.ok(not sel.find(rb"ENABLED"), "without ENABLE IMAP4rev2")
    c.logout()


def bad_input(m):
    c = m.imap_login()
    c.select("INBOX")
    cases = [
        ("NOTIFY", "BAD", None),
        ("NOTIFY GET", "BAD", None),
        ("NOTIFY SET", "BAD", None),
        ("NOTIFY SET (bogus (MessageNew))", "BAD", None),
        ("NOTIFY SET (selected (MessageNew))", "BAD", None),
        ("NOTIFY SET (selected (MessageNew MessageExpunge MailboxName))",
         "BAD", None),
        ("NOTIFY SET (personal (MessageNew (UID) MessageExpunge))", "BAD",
         None),
        ("NOTIFY SET (selected (MessageNew (NOSUCHATT) MessageExpunge))",
         "BAD", None),
        ("NOTIFY SET (selected (MessageNew MessageExpunge)) "
         "(selected (MessageNew MessageExpunge))", "BAD", None),
        ("NOTIFY SET (personal (NoSuchEvent))", "NO", "BADEVENT"),
        ("NOTIFY SET (personal (MessageNew MessageExpunge "
         "AnnotationChange))", "NO", "BADEVENT"),
        ("NOTIFY SET (mailboxes \"a%\" (MessageNew))", "BAD", None),
    ]
    for cmd, want, code in cases:
        r = c.command(cmd)
        t.ok(r.status == want and (code is None or (r.code or "")
                                   .startswith(code)),
             "%s: %s%s (%s)" % (cmd, want, " [%s]" % code if code else "",
                                r.text))
    r = c.command("NOTIFY SET (personal (AnnotationChange))")
    t.like(r.raw, rb"\[BADEVENT \(MessageNew MessageExpunge FlagChange "
           rb"MailboxName SubscriptionChange\)\]",
           "BADEVENT lists the events served")
    names = " ".join("f%d" % i for i in range(1000))
    r = c.command("NOTIFY SET (mailboxes (%s) (MessageNew))" % names)
    t.is_(r.status, "OK", "1000 mailbox names: OK")
    names = " ".join("f%d" % i for i in range(5000))
    r = c.command("NOTIFY SET (mailboxes (%s) (MessageNew))" % names)
    t.ok(r.status == "NO" and r.code == "NOTIFICATIONOVERFLOW",
         "5000 mailbox names: NO [NOTIFICATIONOVERFLOW] (%s)" % r.text)
    # NOTIFY in the middle of IDLE: IDLE wants DONE
    tag, cont = idle(c)
    c.send("a900 NOTIFY SET (personal (MessageNew))\r\n")
    r = c._collect(tag, 5)
    t.is_(r.status, "BAD", "NOTIFY during IDLE: BAD, IDLE ends")
    t.is_(c.command("NOOP").status, "OK", "the session goes on")
    with m.imap_connect() as d:
        t.is_(d.command("NOTIFY NONE").status, "BAD",
              "NOTIFY before login: BAD")
    c.logout()


def overflow(m):
    """A client that does not read: NOTIFICATIONOVERFLOW, then quiet."""
    a = m.imap_login()
    b = m.imap_login()
    a.select("INBOX")
    r = a.command("NOTIFY SET (selected (MessageNew (BODY.PEEK[]) "
                  "MessageExpunge)) (personal (MessageNew))")
    t.is_(r.status, "OK", "NOTIFY with whole bodies")
    # a does not read: bodies pile up in the socket, then in maild.
    n = 0
    for n in range(1, 41):
        if append(b, "INBOX", "big %d" % n, size=1000000).status != "OK":
            break
    t.diag("%d messages of 1 MB appended" % n)
    line, seen = a.wait_for(rb"NOTIFICATIONOVERFLOW", 60)
    t.ok(line is not None, "the reader gets * OK [NOTIFICATIONOVERFLOW]")
    append(b, "Lists", "after overflow")
    t.ok(a.no_response_within(0.5), "NOTIFY is off after the overflow")
    t.is_(a.command("NOOP", timeout=30).status, "OK",
          "the session goes on")
    a.logout()
    b.logout()
    t.ok(m.running(), "maild still running")


def main():
    if not t.have("swaks"):
        t.skip_all("swaks not installed")
    m = t.Maild(imap=True, max_size="2M",
                virtuals=t.DEFAULT_VIRTUALS + "list@lists.test vmail\n")
    m.extra = ('action "lists" maildir "%s/example.org/alice/.Lists" '
               'virtual <virtuals>\n'
               'match from any for domain "lists.test" action "lists"\n'
               % m.vmail)
    m.write_files()
    m.start()
    m.wait_imap()
    m.imap_login().logout()
    m.imap_login(BOB).logout()
    t.section(caps, m)
    t.section(rfc_examples, m)
    t.section(delivery, m)
    t.section(other_session, m)
    t.section(idle_wait, m)
    t.section(outside, m)
    t.section(status_size, m)
    t.section(unauthenticate, m)
    t.section(many_folders, m)
    t.section(bad_input, m)
    t.section(overflow, m)
    t.ok(m.running(), "maild still running")
    t.ok(m.stop(), "maild stops cleanly")


t.run(main)
