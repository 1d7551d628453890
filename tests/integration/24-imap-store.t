#!/usr/bin/env python3
# IMAP changes to messages (issue 3): STORE +FLAGS/-FLAGS/FLAGS and
# .SILENT, keywords (and their Maildir file-name letters), COPY and MOVE
# with COPYUID (TRYCREATE for a missing target), CHECK, UNSELECT (keeps
# \Deleted messages), CLOSE (expunges silently), EXPUNGE (sequence
# numbers in the right order), UID EXPUNGE (only the given UIDs),
# CONDSTORE (MODSEQ, CHANGEDSINCE, UNCHANGEDSINCE/MODIFIED, SEARCH
# MODSEQ, STATUS HIGHESTMODSEQ) and QRESYNC (SELECT ... (QRESYNC ...)
# gives VANISHED (EARLIER) and the changed flags; EXPUNGE answers
# VANISHED once enabled).
import os
import re
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402


def msg(i):
    return (("From: s%d@client.test\r\nTo: alice@example.org\r\n"
             "Subject: store test %d\r\nMessage-ID: <store.%d@client.test>\r\n"
             "Date: Mon, 2 Feb 2026 09:30:00 +0000\r\n\r\nbody %d\r\n")
            % (i, i, i, i)).encode()


def fill(c, box, n, start=1):
    uids = []
    for i in range(start, start + n):
        r = c.command_literal("APPEND %s" % box, msg(i), plus=True)
        code = (r.code or "").split()
        uids.append(int(code[2]) if len(code) == 3 else None)
    return uids


def uids_of(c):
    r, f = c.fetch("1:*", "(UID)")
    return [int(f[n]["UID"]) for n in sorted(f)] if r.status == "OK" else []


def flags_of(c, seq):
    r, f = c.fetch(str(seq), "(FLAGS)")
    return norecent(f.get(seq, {}).get("FLAGS", []))


def norecent(flags):
    """Sorted flags without \\Recent (which depends on the session)."""
    return sorted(x for x in flags if x.upper() != "\\RECENT")


def file_of(m, box, msgid):
    """Path of the Maildir file holding Message-ID msgid in box."""
    md = t.Maildir(m.mailbox_dir(box))
    for p in md.files("cur") + md.files("new"):
        with open(p, "rb") as f:
            if ("<%s>" % msgid).encode() in f.read(4096):
                return p
    return None


def apply_expunges(before, untagged):
    """The UID list after the server's * n EXPUNGE responses, in order."""
    after = list(before)
    for n in t.untagged_numbers(untagged, "EXPUNGE"):
        if 1 <= n <= len(after):
            del after[n - 1]
        else:
            after = None
            break
    return after


def store(m, c):
    fill(c, "INBOX", 6)
    c.select("INBOX")
    r = c.command("STORE 1 +FLAGS (\\Flagged)")
    f = t.fetch_responses(r.untagged)
    t.is_(r.status, "OK", "STORE +FLAGS: OK")
    t.is_(norecent(f.get(1, {}).get("FLAGS", [])), ["\\Flagged"],
          "STORE +FLAGS answers * 1 FETCH (FLAGS (\\Flagged))")
    p = file_of(m, "INBOX", "store.1@client.test")
    t.like(os.path.basename(p or ""), r":2,[A-Za-z]*F",
           "the Maildir file name carries F")
    r = c.command("STORE 1 +FLAGS.SILENT (\\Seen)")
    t.ok(not t.fetch_responses(r.untagged), "+FLAGS.SILENT: no FETCH")
    t.is_(flags_of(c, 1), ["\\Flagged", "\\Seen"], "both flags set")
    c.command("STORE 1 -FLAGS (\\Flagged)")
    t.is_(flags_of(c, 1), ["\\Seen"], "-FLAGS removed \\Flagged")
    p = file_of(m, "INBOX", "store.1@client.test")
    t.like(os.path.basename(p or ""), r":2,S$", "file name now :2,S")
    r = c.command("STORE 2 FLAGS (\\Answered $Label1 Project-X)")
    t.is_(norecent(t.fetch_responses(r.untagged).get(2, {}).get("FLAGS",
                                                                 [])),
          ["$Label1", "Project-X", "\\Answered"],
          "STORE FLAGS replaces, with two new keywords")
    r = c.command("STORE 2 FLAGS.SILENT ($Label1)")
    t.is_(flags_of(c, 2), ["$Label1"], "FLAGS.SILENT replaced silently")
    p = file_of(m, "INBOX", "store.2@client.test")
    t.like(os.path.basename(p or ""), r":2,[a-z]+$",
           "a keyword is a lower-case letter in the file name")
    kwf = os.path.join(m.mailbox_dir("INBOX"), "dovecot-keywords")
    kws = open(kwf).read() if os.path.exists(kwf) else ""
    t.like(kws, r"(?m)^\d+ \$Label1$", "dovecot-keywords names $Label1")
    r = c.select("INBOX")
    fl = r.find(rb"^\* FLAGS ")
    t.ok(fl and b"$Label1" in fl[0] and b"Project-X" in fl[0],
         "SELECT: FLAGS lists the new keywords")
    r = c.command("STORE 3 +FLAGS (\\Bogus)")
    t.ok(r.status in ("BAD", "NO"), "STORE of an unknown system flag "
         "refused")
    r = c.command("STORE 3 +FLAGS (bad]keyword)")
    t.ok(r.status == "BAD", "STORE of an invalid keyword: BAD")
    r = c.command("STORE 3:4 +FLAGS (\\Draft)")
    t.is_(sorted(t.fetch_responses(r.untagged)), [3, 4],
          "STORE on a range answers for each message")
    r = c.command("UID STORE %s +FLAGS (\\Answered)"
                  % uids_of(c)[4])
    f = t.fetch_responses(r.untagged)
    t.ok(5 in f and f[5].get("UID") == str(uids_of(c)[4]),
         "UID STORE answers with the UID")


def copy_move(m, c):
    c.select("INBOX")
    before = uids_of(c)
    r = c.command("COPY 1:2 Archive")
    t.is_(r.status, "OK", "COPY 1:2 Archive: OK")
    code = (r.code or "").split()
    t.ok(len(code) == 4 and code[0] == "COPYUID", "COPY: [COPYUID ...] "
         "(%s)" % r.code)
    if len(code) == 4:
        t.is_(t.uid_set(code[2]), before[:2], "COPYUID source UIDs")
        t.is_(len(t.uid_set(code[3])), 2, "COPYUID: two destination UIDs")
    r = c.command('STATUS Archive (MESSAGES UIDVALIDITY)')
    st = t.status_response(r.untagged) or {}
    t.is_(st.get("MESSAGES"), 2, "Archive has 2 messages")
    t.is_(str(st.get("UIDVALIDITY")), code[1] if len(code) == 4 else None,
          "COPYUID's UIDVALIDITY is Archive's")
    t.is_(uids_of(c), before, "COPY left INBOX alone")
    r = c.command("COPY 1 No/Such")
    t.is_((r.status, r.code), ("NO", "TRYCREATE"),
          "COPY to a missing mailbox: NO [TRYCREATE]")

    r = c.command("UID MOVE %d Trash" % before[2])
    t.is_(r.status, "OK", "UID MOVE: OK")
    cu = r.find(rb"^\* OK \[COPYUID ")
    t.ok(cu, "MOVE: untagged OK [COPYUID ...] before the tagged reply")
    t.is_(t.untagged_numbers(r.untagged, "EXPUNGE"), [3],
          "MOVE: * 3 EXPUNGE")
    t.is_(uids_of(c), before[:2] + before[3:], "moved message left INBOX")
    t.ok(file_of(m, "INBOX", "store.3@client.test") is None and
         file_of(m, "Trash", "store.3@client.test") is not None,
         "on disk: the file moved from INBOX to .Trash")
    c.select("Archive")
    r, f = c.fetch("1:*", "(FLAGS)")
    t.is_(norecent(f.get(1, {}).get("FLAGS", [])), ["\\Seen"],
          "COPY kept the flags of message 1")
    t.ok("$Label1" in f.get(2, {}).get("FLAGS", []),
         "COPY kept a keyword")
    c.select("INBOX")
    r = c.command("MOVE 1 Archive")
    t.is_(r.status, "OK", "MOVE by sequence number: OK")
    t.is_(t.untagged_numbers(r.untagged, "EXPUNGE"), [1],
          "MOVE 1: * 1 EXPUNGE")
    t.is_(c.command("CHECK").status, "OK", "CHECK: OK")


def expunges(m, c):
    c.select("INBOX")
    fill(c, "INBOX", 4, start=10)
    r = c.select("INBOX")
    before = uids_of(c)
    n = len(before)
    # UNSELECT keeps \Deleted messages
    c.command("STORE 1,3 +FLAGS.SILENT (\\Deleted)")
    r = c.command("UNSELECT")
    t.is_(r.status, "OK", "UNSELECT: OK")
    t.is_(r.find(rb"EXPUNGE"), [], "UNSELECT: no EXPUNGE")
    r = c.select("INBOX")
    t.is_(t.untagged_numbers(r.untagged, "EXISTS"), [n],
          "after UNSELECT nothing was expunged")
    r = c.command("FETCH 1:* (UID)")
    t.is_(c.command("FETCH 1 FLAGS").status, "OK", "selected again")
    # EXPUNGE: the numbers must give the right result when applied in order
    c.command("STORE 2,4,5 +FLAGS.SILENT (\\Deleted)")
    c.command("STORE 1,3 -FLAGS.SILENT (\\Deleted)")
    r = c.command("EXPUNGE")
    t.is_(r.status, "OK", "EXPUNGE: OK")
    t.is_(len(t.untagged_numbers(r.untagged, "EXPUNGE")), 3,
          "EXPUNGE: three * n EXPUNGE")
    want = [u for i, u in enumerate(before) if i + 1 not in (2, 4, 5)]
    t.is_(apply_expunges(before, r.untagged), want,
          "the EXPUNGE numbers, applied in order, remove exactly 2, 4, 5")
    t.is_(uids_of(c), want, "FETCH agrees")
    # UID EXPUNGE only touches the given UIDs
    c.command("STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    r = c.command("UID EXPUNGE %d" % want[1])
    t.is_(t.untagged_numbers(r.untagged, "EXPUNGE"), [2],
          "UID EXPUNGE: only message 2")
    now = uids_of(c)
    t.is_(now, [want[0]] + want[2:], "UID EXPUNGE left the other "
          "\\Deleted message")
    t.ok("\\Deleted" in flags_of(c, 1), "... which is still \\Deleted")
    # CLOSE expunges silently
    r = c.command("CLOSE")
    t.is_(r.status, "OK", "CLOSE: OK")
    t.is_(r.find(rb"EXPUNGE"), [], "CLOSE: no untagged EXPUNGE")
    r = c.command("FETCH 1 (FLAGS)")
    t.ok(r.status in ("BAD", "NO"), "after CLOSE no mailbox is selected")
    r = c.command("STATUS INBOX (MESSAGES)")
    t.is_((t.status_response(r.untagged) or {}).get("MESSAGES"),
          len(now) - 1, "CLOSE expunged the \\Deleted message")
    md = t.Maildir(m.mailbox_dir("INBOX"))
    t.is_(md.count(), len(now) - 1, "on disk: the file is gone too")
    # CLOSE after EXAMINE expunges nothing
    c.select("INBOX")
    c.command("STORE 1 +FLAGS.SILENT (\\Deleted)")
    c.select("INBOX", examine=True)
    c.command("CLOSE")
    r = c.command("STATUS INBOX (MESSAGES)")
    t.is_((t.status_response(r.untagged) or {}).get("MESSAGES"),
          len(now) - 1, "CLOSE of an EXAMINEd mailbox expunges nothing")
    c.select("INBOX")
    c.command("STORE 1 -FLAGS.SILENT (\\Deleted)")


def condstore(m, c):
    r = c.command("ENABLE CONDSTORE")
    t.ok(r.find(rb"^\* ENABLED CONDSTORE"), "ENABLE CONDSTORE")
    r = c.select("INBOX")
    hm = re.search(rb"HIGHESTMODSEQ (\d+)", r.all_text().encode())
    h0 = int(hm.group(1)) if hm else 0
    t.ok(h0 > 0, "SELECT: HIGHESTMODSEQ %d" % h0)
    r, f = c.fetch("1:*", "(MODSEQ)")
    ms = [int(d["MODSEQ"][0]) for d in f.values() if "MODSEQ" in d]
    t.ok(ms and max(ms) <= h0, "FETCH MODSEQ: every value <= HIGHESTMODSEQ")
    r = c.command("STORE 1 +FLAGS (\\Flagged)")
    f = t.fetch_responses(r.untagged).get(1, {})
    m1 = int(f["MODSEQ"][0]) if "MODSEQ" in f else 0
    t.ok(m1 > h0, "STORE answer carries a new MODSEQ (%d > %d)" % (m1, h0))
    r, f = c.fetch("1:*", "(FLAGS) (CHANGEDSINCE %d)" % h0)
    t.is_(sorted(f), [1], "FETCH (CHANGEDSINCE): only the changed message")
    r = c.command("STORE 1 (UNCHANGEDSINCE %d) +FLAGS (\\Answered)" % h0)
    t.is_(r.status, "OK", "STORE UNCHANGEDSINCE older: tagged OK")
    t.like(r.code or "", r"^MODIFIED 1$", "... [MODIFIED 1]")
    t.ok("\\Answered" not in flags_of(c, 1), "... and nothing stored")
    r = c.command("STORE 1,2 (UNCHANGEDSINCE %d) +FLAGS (\\Answered)" % m1)
    t.is_(r.code, None, "STORE UNCHANGEDSINCE current: no MODIFIED")
    t.ok("\\Answered" in flags_of(c, 1) and "\\Answered" in flags_of(c, 2),
         "... and stored")
    r = c.command("SEARCH MODSEQ %d" % (m1 + 1))
    s = r.find(rb"^\* SEARCH")
    t.like(s[0] if s else b"", rb"^\* SEARCH 1 2 \(MODSEQ \d+\)$",
           "SEARCH MODSEQ: the changed messages and (MODSEQ n)")
    r = c.command("STATUS Archive (HIGHESTMODSEQ)")
    t.ok((t.status_response(r.untagged) or {}).get("HIGHESTMODSEQ", 0) > 0,
         "STATUS HIGHESTMODSEQ")


def qresync(m):
    # State a client remembers ...
    a = m.imap_login()
    a.command("ENABLE QRESYNC")
    r = a.select("INBOX")
    text = r.all_text().encode()
    uv = int(re.search(rb"UIDVALIDITY (\d+)", text).group(1))
    hms = int(re.search(rb"HIGHESTMODSEQ (\d+)", text).group(1))
    uids = uids_of(a)
    a.logout()
    # ... then another client expunges one message and flags another.
    b = m.imap_login()
    b.select("INBOX")
    b.command("UID STORE %d +FLAGS.SILENT (\\Deleted)" % uids[0])
    b.command("UID EXPUNGE %d" % uids[0])
    b.command("UID STORE %d +FLAGS.SILENT (\\Seen $Done)" % uids[1])
    b.logout()
    # Resynchronisation.
    c = m.imap_login()
    r = c.command("ENABLE QRESYNC")
    t.ok(r.find(rb"^\* ENABLED .*QRESYNC"), "ENABLE QRESYNC")
    r = c.select("INBOX", extra=" (QRESYNC (%d %d))" % (uv, hms))
    t.is_(r.status, "OK", "SELECT (QRESYNC ...): OK")
    van = r.find(rb"^\* VANISHED \(EARLIER\) ")
    if not t.is_(t.uid_set(van[0].split()[-1].decode()) if van else None,
                 [uids[0]], "VANISHED (EARLIER) <the expunged UID>"):
        t.diag("C: SELECT INBOX (QRESYNC (%d %d))" % (uv, hms))
        t.diag("S: " + r.all_text())
    f = t.fetch_responses(r.untagged)
    ch = [d for d in f.values() if d.get("UID") == str(uids[1])]
    t.ok(ch and "$Done" in ch[0].get("FLAGS", []) and "MODSEQ" in ch[0],
         "the flag change comes as FETCH (UID FLAGS MODSEQ)")
    t.ok(len(f) == 1, "only the changed message is sent")
    r = c.select("INBOX", extra=" (QRESYNC (%d %d))" % (uv + 1, hms))
    t.ok(r.status == "OK" and not r.find(rb"VANISHED"),
         "wrong UIDVALIDITY: a plain SELECT, no VANISHED")
    r, f = c.fetch("1:*", "(FLAGS) (CHANGEDSINCE %d VANISHED)" % hms,
                   uid=True)
    van = r.find(rb"^\* VANISHED \(EARLIER\) ")
    if not t.ok(van and uids[0] in t.uid_set(van[0].split()[-1].decode()),
                "UID FETCH (CHANGEDSINCE VANISHED): VANISHED (EARLIER)"):
        t.diag("C: UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % hms)
        t.diag("S: " + r.all_text())
    c.command("STORE 1 +FLAGS.SILENT (\\Deleted)")
    r = c.command("EXPUNGE")
    t.ok(r.find(rb"^\* VANISHED \d+") and not r.find(rb"^\* \d+ EXPUNGE"),
         "with QRESYNC on, EXPUNGE answers VANISHED, not EXPUNGE")
    c.logout()


def main():
    m = t.Maild(imap=True)
    m.start()
    c = m.imap_login()
    t.section(store, m, c)
    t.section(copy_move, m, c)
    t.section(expunges, m, c)
    t.section(condstore, m, c)
    c.logout()
    t.section(qresync, m)
    t.ok(m.running(), "maild still running")
    t.ok(m.stop(), "maild stops cleanly")


t.run(main)
