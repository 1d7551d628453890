#!/usr/bin/env python3
# OBJECTID (RFC 8474), SAVEDATE (RFC 8514) and PREVIEW (RFC 8970)
# against a real maild, following the RFCs' examples:
#   - MAILBOXID: in CREATE's tagged OK, SELECT's untagged OK, STATUS and
#     LIST ... RETURN (STATUS (MAILBOXID)); kept by RENAME, new after
#     DELETE + CREATE; RENAME INBOX leaves INBOX its id;
#   - EMAILID (THREADID NIL): kept by MOVE and COPY (a copy keeps its
#     source's id), SEARCH EMAILID / THREADID, another message another
#     id, a delivered message has one;
#   - SAVEDATE: when the message was put in the mailbox (APPEND with an
#     old INTERNALDATE, COPY), SEARCH SAVEDBEFORE/SAVEDON/SAVEDSINCE/
#     SAVEDATESUPPORTED, a file without a time in its name: NIL, and
#     SAVED* then compare the internal date (RFC 8514 4.3);
#   - PREVIEW: text/plain, text/html (tags, entities, charset, QP),
#     multipart/alternative, no text part (""), 8-bit text as a
#     literal, 200 characters at most, LAZY (NIL until known);
#   - all of it the same after a restart of maild, EMAILIDs also after
#     the UID list of a folder is lost;
#   - bad input (unknown FETCH items, bad PREVIEW modifiers, bad
#     objectids, bad STATUS items) gets a tagged BAD and the session
#     goes on.
import calendar
import os
import re
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

REQUIRED_CAPS = ["OBJECTID", "SAVEDATE", "PREVIEW"]
OBJECTID_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
          "Oct", "Nov", "Dec"]

PLAIN = (b"From: a@example.org\r\nTo: alice@example.org\r\n"
         b"Subject: plain\r\nMessage-ID: <plain@example.org>\r\n\r\n"
         b"Hello Alice,\r\n\r\n   this is   the first  line.\r\n"
         b"Regards\r\n")
HTML = (b"From: a@example.org\r\nSubject: html\r\n"
        b"Content-Type: text/html; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"<html><head><title>no</title><style>p{}</style></head><body>"
        b"<p>Caf=E9 &amp; <b>cr=E8me</b></p><p>next&nbsp;para</p>"
        b"</body></html>\r\n")
ALT = (b"From: a@example.org\r\nSubject: alt\r\nMIME-Version: 1.0\r\n"
       b"Content-Type: multipart/alternative; boundary=zz\r\n\r\n"
       b"--zz\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
       b"plain part wins\r\n--zz\r\nContent-Type: text/html\r\n\r\n"
       b"<p>html part</p>\r\n--zz--\r\n")
NOTEXT = (b"From: a@example.org\r\nSubject: pdf\r\n"
          b"Content-Type: application/pdf\r\n\r\n%PDF-1.4\r\n")
LONG = (b"From: a@example.org\r\nSubject: long\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n" +
        ("\u00e9t\u00e9 " * 100).encode() + b"\r\n")


def msg(n):
    return t.make_message("oid-%s@client.test" % n, subject=str(n),
                          body="message %s\r\n" % n)


def must(r, what):
    if r.status != "OK":
        raise AssertionError("%s: %s" % (what, r.text))
    return r


def code_id(r, word="MAILBOXID"):
    m = re.search(word.encode() + rb" \(([^)]*)\)", r.raw)
    return m.group(1).decode() if m else None


def untagged_id(r, word="MAILBOXID"):
    for u in r.untagged:
        m = re.search(word.encode() + rb" \(([^)]*)\)", u)
        if m:
            return m.group(1).decode()
    return None


def status_id(c, box):
    r = must(c.command("STATUS %s (MAILBOXID)" % t.imap_quote(box)),
             "STATUS %s" % box)
    return untagged_id(r)


def append(c, box, data, date=None):
    r = c.command_literal("APPEND %s%s" % (
        t.imap_quote(box), ' "%s"' % date if date else ""), data)
    must(r, "APPEND %s" % box)
    m = re.search(rb"APPENDUID (\d+) (\d+)", r.raw)
    return int(m.group(2))


def fetch1(c, uid, items):
    r, f = c.fetch(str(uid), items, uid=True)
    must(r, "UID FETCH %s %s" % (uid, items))
    if len(f) != 1:
        raise AssertionError("FETCH %s: %r" % (items, r.untagged))
    return list(f.values())[0]


def emailid(c, uid):
    v = fetch1(c, uid, "(EMAILID)")["EMAILID"]
    return v[0] if isinstance(v, list) and len(v) == 1 else v


def parse_date(s):
    """IMAP date-time to seconds since the epoch."""
    if isinstance(s, bytes):
        s = s.decode()
    m = re.match(r"^ ?(\d+)-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) "
                 r"([+-])(\d\d)(\d\d)$", s)
    if not m:
        raise AssertionError("bad date-time %r" % s)
    d, mon, y, hh, mm, ss, sign, zh, zm = m.groups()
    tt = calendar.timegm((int(y), MONTHS.index(mon) + 1, int(d), int(hh),
                          int(mm), int(ss)))
    off = (int(zh) * 3600 + int(zm) * 60) * (1 if sign == "+" else -1)
    return tt - off


def imap_day(tt):
    """RFC 3501 date of tt in the server's zone (the same machine)."""
    lt = time.localtime(tt)
    return "%d-%s-%04d" % (lt.tm_mday, MONTHS[lt.tm_mon - 1], lt.tm_year)


def search(c, crit, uid=True):
    r = must(c.command("%sSEARCH %s" % ("UID " if uid else "", crit)),
             "SEARCH %s" % crit)
    for u in r.untagged:
        if u.startswith(b"* SEARCH"):
            return [int(x) for x in u.split()[2:]]
    return []


def still_usable(c, what):
    t.is_(c.command("NOOP").status, "OK", "%s: the session goes on" % what)


def caps(m, state):
    c = m.imap_login()
    have = c.capabilities()
    for cap in REQUIRED_CAPS:
        t.ok(cap in have, "CAPABILITY has %s" % cap)
    c.logout()


def mailboxes(m, state):
    c = m.imap_login()
    # RFC 8474 4.1: CREATE answers with the new mailbox's MAILBOXID.
    foo = code_id(must(c.command("CREATE foo"), "CREATE foo"))
    bar = code_id(must(c.command("CREATE bar"), "CREATE bar"))
    t.ok(foo and OBJECTID_RE.match(foo), "CREATE foo: [MAILBOXID (%s)]"
         % foo)
    t.ok(bar and OBJECTID_RE.match(bar) and bar != foo,
         "CREATE bar: another MAILBOXID (%s)" % bar)
    t.is_(c.command("CREATE foo").status, "NO", "CREATE foo again: NO")
    must(c.command("RENAME foo renamed"), "RENAME foo renamed")
    t.is_(status_id(c, "renamed"), foo, "RENAME keeps the MAILBOXID")
    t.is_(status_id(c, "bar"), bar, "STATUS bar (MAILBOXID)")
    r = must(c.select("renamed"), "SELECT renamed")
    t.is_(untagged_id(r), foo, "SELECT: * OK [MAILBOXID (...)]")
    r = must(c.command('LIST "" "*" RETURN (STATUS (MAILBOXID))'),
             "LIST RETURN (STATUS (MAILBOXID))")
    ids = {}
    for u in r.untagged:
        mm = re.match(rb'\* STATUS "?([^" ]+)"? \(MAILBOXID \(([^)]*)\)\)',
                      u)
        if mm:
            ids[mm.group(1).decode()] = mm.group(2).decode()
    t.is_((ids.get("renamed"), ids.get("bar")), (foo, bar),
          "LIST ... RETURN (STATUS (MAILBOXID))")
    t.ok(len(set(ids.values())) == len(ids) and "INBOX" in ids,
         "every mailbox has its own MAILBOXID (%d)" % len(ids))
    must(c.command("UNSELECT"), "UNSELECT")
    must(c.command("DELETE bar"), "DELETE bar")
    again = code_id(must(c.command("CREATE bar"), "CREATE bar again"))
    t.ok(again and again != bar,
         "DELETE + CREATE: a new MAILBOXID (%s)" % again)
    inbox = status_id(c, "INBOX")
    append(c, "INBOX", msg("to-move"))
    must(c.command("RENAME INBOX moved"), "RENAME INBOX moved")
    t.is_(status_id(c, "INBOX"), inbox, "RENAME INBOX: INBOX keeps its id")
    moved = status_id(c, "moved")
    t.ok(moved not in (None, inbox),
         "RENAME INBOX: the new mailbox has its own id")
    state["mailboxids"] = {"INBOX": inbox, "renamed": foo, "bar": again,
                           "moved": moved}
    for bad in ["STATUS INBOX (MAILBOXID FOO)", "STATUS INBOX MAILBOXID",
                "STATUS INBOX ()"]:
        t.is_(c.command(bad).status, "BAD", "%s: BAD" % bad)
    still_usable(c, "bad STATUS items")
    c.logout()


def messages(m, state):
    c = m.imap_login()
    must(c.command("CREATE Dest"), "CREATE Dest")
    must(c.select("INBOX"), "SELECT INBOX")
    u1 = append(c, "INBOX", msg(1))
    u2 = append(c, "INBOX", msg(2))
    f = fetch1(c, u1, "(EMAILID THREADID)")
    e1 = f["EMAILID"][0] if isinstance(f["EMAILID"], list) else None
    t.ok(e1 and OBJECTID_RE.match(e1), "FETCH EMAILID (%s)" % e1)
    t.ok("THREADID" in f and f["THREADID"] is None,
         "THREADID NIL (no threads kept)")
    e2 = emailid(c, u2)
    t.ok(e2 and e2 != e1, "another message, another EMAILID")
    t.is_(search(c, "EMAILID %s" % e1), [u1], "UID SEARCH EMAILID")
    t.is_(search(c, "EMAILID M000000000000000000000000"), [],
          "SEARCH EMAILID of no message")
    t.is_(search(c, "THREADID T1"), [], "SEARCH THREADID: nothing")
    t.is_(search(c, "NOT EMAILID %s" % e1), [u2], "NOT EMAILID")
    # MOVE and COPY keep the EMAILID (RFC 8474 5.1).
    r = must(c.command("UID MOVE %d Dest" % u1), "MOVE to Dest")
    must(c.select("Dest"), "SELECT Dest")
    du = search(c, "ALL")
    t.is_(len(du), 1, "moved message in Dest")
    t.is_(emailid(c, du[0]), e1, "MOVE keeps the EMAILID")
    r = must(c.command("UID COPY %d INBOX" % du[0]), "COPY back to INBOX")
    cu = int(re.search(rb"COPYUID \d+ \S+ (\d+)", r.raw).group(1))
    must(c.select("INBOX"), "SELECT INBOX")
    t.is_(emailid(c, cu), e1, "COPY keeps the EMAILID")
    t.is_(search(c, "EMAILID %s" % e1), [cu],
          "SEARCH EMAILID finds the copy")
    # A delivered message has one too.
    t.is_(m.deliver(t.make_message("oid-smtp@client.test",
                                   subject="smtp")), 250, "delivery")
    md = t.Maildir(m.mailbox_dir())
    t.ok(t.wait_until(lambda: len(md.files("new")) + len(md.files("cur"))
                      >= 3, 10), "delivered")
    r = must(c.command("NOOP"), "NOOP")
    all_uids = search(c, "ALL")
    ids = [emailid(c, u) for u in all_uids]
    t.ok(all(i and OBJECTID_RE.match(i) for i in ids),
         "every message has an EMAILID (%d)" % len(ids))
    t.is_(len(set(ids)), len(ids), "all different in INBOX")
    state["emailids"] = {("INBOX", u): i for u, i in zip(all_uids, ids)}
    state["emailids"][("Dest", du[0])] = e1
    state["e1"] = e1
    for bad in ["SEARCH EMAILID", "SEARCH EMAILID a.b",
                'SEARCH EMAILID "a b"', "SEARCH THREADID (x)",
                "SEARCH EMAILID " + "a" * 256]:
        t.is_(c.command(bad).status, "BAD", "%s: BAD" % bad[:40])
    still_usable(c, "bad objectids")
    c.logout()


def savedate(m, state):
    c = m.imap_login()
    must(c.command("CREATE Saved"), "CREATE Saved")
    must(c.select("Saved"), "SELECT Saved")
    before = int(time.time())
    # RFC 8474's example INTERNALDATE: the save date is still now.
    u = append(c, "Saved", msg("sd"), date="20-Mar-2018 03:07:37 +1100")
    after = int(time.time())
    f = fetch1(c, u, "(SAVEDATE INTERNALDATE)")
    sd = parse_date(f["SAVEDATE"])
    t.ok(before <= sd <= after, "SAVEDATE is when it was saved (%s)"
         % f["SAVEDATE"])
    t.is_(parse_date(f["INTERNALDATE"]),
          calendar.timegm((2018, 3, 19, 16, 7, 37)),
          "INTERNALDATE is the one given")
    today = imap_day(sd)
    t.is_(search(c, "SAVEDON %s" % today), [u], "SEARCH SAVEDON today")
    t.is_(search(c, "SAVEDSINCE %s" % today), [u], "SAVEDSINCE today")
    t.is_(search(c, "SAVEDBEFORE %s" % today), [], "SAVEDBEFORE today")
    t.is_(search(c, "SAVEDBEFORE 1-Jan-2019"), [],
          "SAVEDBEFORE 1-Jan-2019: not by the internal date")
    t.is_(search(c, "BEFORE 1-Jan-2019"), [u], "... BEFORE 1-Jan-2019 is")
    t.is_(search(c, "SAVEDATESUPPORTED"), [u], "SAVEDATESUPPORTED")
    # A copy is saved when it is copied.
    r = must(c.command("UID COPY %d Saved" % u), "COPY into Saved")
    cu = int(re.search(rb"COPYUID \d+ \S+ (\d+)", r.raw).group(1))
    csd = parse_date(fetch1(c, cu, "(SAVEDATE)")["SAVEDATE"])
    t.ok(sd <= csd <= int(time.time()), "COPY: its own save date")
    # Another program's file without a time in its name: NIL, and the
    # SAVED* keys compare its internal date instead.
    d = m.mailbox_dir("Saved")
    path = os.path.join(d, "cur", "foreign-name.host:2,S")
    with open(path, "wb") as fh:
        fh.write(b"Subject: foreign\r\n\r\nforeign\r\n")
    old = calendar.timegm((2017, 6, 1, 12, 0, 0))
    os.utime(path, (old, old))
    r = must(c.command("NOOP"), "NOOP sees the new file")
    fu = max(search(c, "ALL"))
    t.is_(fetch1(c, fu, "(SAVEDATE)")["SAVEDATE"], None,
          "no time in the file name: SAVEDATE NIL")
    t.is_(search(c, "SAVEDATESUPPORTED"), [u, cu],
          "SAVEDATESUPPORTED: not that one")
    t.is_(search(c, "SAVEDBEFORE 1-Jan-2018"), [fu],
          "SAVED* of it compare its internal date (RFC 8514 4.3)")
    state["savedates"] = {u: f["SAVEDATE"], cu: None}
    state["savedates"][cu] = fetch1(c, cu, "(SAVEDATE)")["SAVEDATE"]
    for bad in ["SEARCH SAVEDBEFORE", "SEARCH SAVEDON 32-Jan-2020",
                "SEARCH SAVEDSINCE yesterday", "FETCH 1 (SAVEDATE",
                "FETCH 1 (SAVEDATES)"]:
        t.is_(c.command(bad).status, "BAD", "%s: BAD" % bad)
    still_usable(c, "bad SAVEDATE input")
    c.logout()


def preview(m, state):
    c = m.imap_login()
    must(c.command("CREATE Prev"), "CREATE Prev")
    uids = {}
    for name, data in (("plain", PLAIN), ("html", HTML), ("alt", ALT),
                       ("notext", NOTEXT), ("long", LONG)):
        uids[name] = append(c, "Prev", data)
    must(c.select("Prev"), "SELECT Prev")
    # RFC 8970 3.2: LAZY gives NIL for what is not known yet.
    f = fetch1(c, uids["plain"], "(PREVIEW (LAZY))")
    t.ok("PREVIEW" in f and f["PREVIEW"] is None,
         "PREVIEW (LAZY) not generated yet: NIL")
    f = fetch1(c, uids["plain"], "(PREVIEW)")
    t.is_(f.get("PREVIEW"), b"Hello Alice, this is the first line. "
          b"Regards", "text/plain: white space collapsed")
    f = fetch1(c, uids["plain"], "(PREVIEW (LAZY))")
    t.is_(f.get("PREVIEW"), b"Hello Alice, this is the first line. "
          b"Regards", "PREVIEW (LAZY) once generated")
    r = must(c.command("UID FETCH %d PREVIEW (LAZY)" % uids["plain"]),
             "FETCH n PREVIEW (LAZY) without a list")
    t.ok(any(b"Regards" in u for u in r.untagged), "... answered")
    f = fetch1(c, uids["html"], "(PREVIEW)")
    t.is_(f.get("PREVIEW"), "Caf\u00e9 & cr\u00e8me next para".encode(),
          "text/html, latin1, QP: tags and head gone, entities decoded")
    r = c.command("UID FETCH %d (PREVIEW)" % uids["html"])
    t.ok(any(re.search(rb"PREVIEW \{\d+\}\r\n", u) for u in r.untagged),
         "8-bit preview sent as a literal")
    t.is_(fetch1(c, uids["alt"], "(PREVIEW)").get("PREVIEW"),
          b"plain part wins", "multipart/alternative: the text/plain part")
    t.is_(fetch1(c, uids["notext"], "(PREVIEW)").get("PREVIEW"), b"",
          "no text part: empty string")
    p = fetch1(c, uids["long"], "(PREVIEW)").get("PREVIEW") or b""
    t.ok(len(p.decode()) <= 200 and p.decode().startswith("\u00e9t\u00e9")
         and not p.endswith(b" "), "at most 200 characters (%d), none cut"
         % len(p.decode()))
    # LAZY with the content fetched anyway: generated.
    f = fetch1(c, uids["alt"], "(BODY.PEEK[] PREVIEW (LAZY))")
    t.is_(f.get("PREVIEW"), b"plain part wins",
          "LAZY together with BODY[]: generated")
    state["previews"] = {u: fetch1(c, u, "(PREVIEW)").get("PREVIEW")
                         for u in uids.values()}
    for bad in ["FETCH 1 (PREVIEW (FUZZY))", "FETCH 1 (PREVIEW ())",
                "FETCH 1 (PREVIEW (LAZY LAZIER))",
                "FETCH 1 PREVIEW (LAZY) (FOO)", "FETCH 1 (PREVIEWS)",
                "FETCH 1 (EMAILIDS)", "FETCH 1 THREADID (x)"]:
        t.is_(c.command(bad).status, "BAD", "%s: BAD" % bad)
    still_usable(c, "bad FETCH items")
    c.logout()


def restart(m, state):
    t.ok(m.stop(), "maild stops")
    # Dest's UID list lost too (a crash before it was written, or
    # damage): its message keeps the EMAILID it had.
    for f in ("maild-uidlist", "maild-cache"):
        try:
            os.unlink(os.path.join(m.mailbox_dir("Dest"), f))
        except FileNotFoundError:
            pass
    m.start()
    c = m.imap_login()
    for box, want in state["mailboxids"].items():
        t.is_(status_id(c, box), want, "after a restart: MAILBOXID of %s"
              % box)
    by_box = {}
    for (box, uid), e in state["emailids"].items():
        by_box.setdefault(box, []).append(e)
    for box, want in sorted(by_box.items()):
        must(c.select(box), "SELECT %s" % box)
        got = [emailid(c, u) for u in search(c, "ALL")]
        t.is_(sorted(got), sorted(want), "after a restart: EMAILIDs of %s%s"
              % (box, " (UID list lost)" if box == "Dest" else ""))
    must(c.select("Saved"), "SELECT Saved")
    for u, want in state["savedates"].items():
        t.is_(fetch1(c, u, "(SAVEDATE)")["SAVEDATE"], want,
              "after a restart: SAVEDATE of %d" % u)
    must(c.select("Prev"), "SELECT Prev")
    for u, want in state["previews"].items():
        t.is_(fetch1(c, u, "(PREVIEW)").get("PREVIEW"), want,
              "after a restart: PREVIEW of %d" % u)
    c.logout()


def main():
    m = t.Maild(imap=True)
    m.start()
    state = {}
    t.section(caps, m, state)
    t.section(mailboxes, m, state)
    t.section(messages, m, state)
    t.section(savedate, m, state)
    t.section(preview, m, state)
    if all(k in state for k in ("mailboxids", "emailids", "savedates",
                                "previews")):
        t.section(restart, m, state)
    else:
        t.ok(False, "restart: an earlier part failed")
    t.ok(m.running(), "maild still running")
    log = m.log_text()
    t.ok(not t.SANITIZER_RE.search(log), "no sanitizer report in the log")
    t.ok(m.stop(), "maild stops cleanly")


t.run(main)
