#!/usr/bin/env python3
# SORT, ESORT and THREAD (issue 14): RFC 5256's examples rebuilt as
# mailboxes (SORT (SUBJECT REVERSE DATE) giving "5 3 4 1 2", THREAD
# REFERENCES giving "(2)(3 6 (4 23)(44 7 96))", the empty answers),
# ORDEREDSUBJECT, base subjects, DISPLAYFROM/DISPLAYTO (RFC 5957),
# i;unicode-casemap order, SORT RETURN (RFC 5267 3), the UID forms,
# MODSEQ in SORT, bad input (tagged BAD or NO [BADCHARSET], the session
# usable after each), python's imaplib sort() and thread(), and the
# cache: a second SORT of a mailbox reads no message file, nor does
# one after a restart (the imap process's read calls counted in
# /proc).  Then imaptest's sort, esort and thread groups, when imaptest
# is installed.  MAILD_TEST_IMAP_PEER=dovecot runs the protocol parts
# against Dovecot.
import email.utils
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

CAPS = ("SORT", "SORT=DISPLAY", "THREAD=ORDEREDSUBJECT",
        "THREAD=REFERENCES", "ESORT")
IMAPTEST = "/opt/imaptest/bin/imaptest"
IMAPTEST_DIR = "/opt/imaptest/share/imaptest/tests"
GROUPS = ("sort-addresses", "sort-arrival", "sort-date",
          "sort-display-from", "sort-display-to", "sort-size",
          "sort-subject", "esort", "thread", "thread2", "thread3",
          "thread4", "thread5", "thread6", "thread7", "thread8",
          "thread-orderedsubject", "thread-orderedsubject2")
BIG = 400       # messages of the cache check
PEER = bool(os.environ.get("MAILD_TEST_IMAP_PEER"))


def msg(subject=None, frm=None, to=None, cc=None, date=None, msgid=None,
        refs=None, extra=(), body="body\r\n"):
    h = []
    for name, v in (("From", frm), ("To", to), ("Cc", cc),
                    ("Subject", subject), ("Date", date),
                    ("Message-ID", msgid), ("References", refs)):
        if v is not None:
            h.append("%s: %s" % (name, v))
    h += list(extra)
    return ("\r\n".join(h) + "\r\n\r\n" + body).encode()


def idate(day, hour=12):
    return "%02d-Jan-2024 %02d:00:00 +0000" % (day, hour)


def append(c, box, data, date=None):
    r = c.command_literal("APPEND %s%s" % (
        box, ' "%s"' % date if date else ""), data, plus=True)
    if r.status != "OK":
        raise t.IMAPError("APPEND: %s" % r.text)
    return r


def one(r, prefix):
    """The untagged response starting with prefix (bytes), as text."""
    for u in r.untagged:
        if u.startswith(prefix):
            return u.decode("utf-8", errors="replace")
    return None


def sort_line(c, cmd):
    r = c.command(cmd)
    return r, one(r, b"* SORT")


def fill_rfc(c):
    """RFC 5256 4's SORT example: (SUBJECT REVERSE DATE) gives 5 3 4 1 2."""
    c.command("CREATE Rfc")
    dates = {1: "Thu, 4 Jan 2024 10:00:00 +0000",
             2: "Mon, 1 Jan 2024 10:00:00 +0000",
             3: "Fri, 5 Jan 2024 10:00:00 +0000",
             4: "Tue, 2 Jan 2024 10:00:00 +0000",
             5: "Wed, 3 Jan 2024 10:00:00 +0000"}
    subjects = {1: "Re: c", 2: "c", 3: "[list] b", 4: "b", 5: "Fwd: a"}
    for i in range(1, 6):
        append(c, "Rfc", msg(subjects[i], "u%d@example.org" % i,
                             date=dates[i], msgid="<rfc%d@x>" % i),
               idate(i))


def rfc_sort(m):
    c = m.imap_login()
    caps = c.capabilities()
    for cap in CAPS:
        t.ok(cap in caps, "CAPABILITY has %s" % cap)
    r, line = sort_line(c, "SORT (DATE) UTF-8 ALL")
    t.is_(r.status, "BAD", "SORT before SELECT: BAD")
    fill_rfc(c)
    r = c.select("Rfc")
    uids = uid_map(c)
    r, line = sort_line(c, "SORT (SUBJECT REVERSE DATE) UTF-8 ALL")
    t.is_(line, "* SORT 5 3 4 1 2", "RFC 5256: SORT (SUBJECT REVERSE "
          "DATE) UTF-8 ALL")
    t.is_(r.status, "OK", "... OK")
    r, line = sort_line(c, 'SORT (SUBJECT) US-ASCII TEXT "not in mailbox"')
    t.is_(line, "* SORT", "RFC 5256: nothing matches: * SORT")
    r, line = sort_line(c, "SORT (SUBJECT) UTF-8 SINCE 3-Jan-2024")
    t.is_(line, "* SORT 5 3 4", "SORT (SUBJECT) UTF-8 SINCE: the "
          "search criteria choose")
    r, line = sort_line(c, "SORT (DATE) UTF-8 ALL")
    t.is_(line, "* SORT 2 4 5 1 3", "SORT (DATE): the Date: fields")
    r, line = sort_line(c, "SORT (REVERSE ARRIVAL) UTF-8 ALL")
    t.is_(line, "* SORT 5 4 3 2 1", "SORT (REVERSE ARRIVAL)")
    r, line = sort_line(c, "SORT (FROM) UTF-8 1:3,5")
    t.is_(line, "* SORT 1 2 3 5", "SORT (FROM) of a sequence set")
    r, line = sort_line(c, "UID SORT (SUBJECT REVERSE DATE) UTF-8 ALL")
    t.is_(line, "* SORT %s" % " ".join(str(uids[s]) for s in
                                       (5, 3, 4, 1, 2)),
          "UID SORT answers UIDs")
    r, line = sort_line(c, "UID SORT (SUBJECT) UTF-8 UID %d:%d"
                        % (uids[2], uids[4]))
    t.is_(line, "* SORT %d %d %d" % (uids[3], uids[4], uids[2]),
          "UID SORT of a UID set")
    r = c.command('THREAD ORDEREDSUBJECT US-ASCII TEXT "gewp"')
    t.is_(one(r, b"* THREAD"), "* THREAD", "RFC 5256: THREAD with "
          "nothing matching: * THREAD")
    r = c.command("THREAD ORDEREDSUBJECT UTF-8 ALL")
    t.is_(one(r, b"* THREAD"), "* THREAD (2 1)(4 3)(5)",
          "THREAD ORDEREDSUBJECT: by base subject, threads by first date")
    r = c.command("UID THREAD ORDEREDSUBJECT UTF-8 ALL")
    t.is_(one(r, b"* THREAD"), "* THREAD (%d %d)(%d %d)(%d)" % (
        uids[2], uids[1], uids[4], uids[3], uids[5]),
        "UID THREAD ORDEREDSUBJECT")
    r = c.command("THREAD REFERENCES UTF-8 ALL")
    t.is_(one(r, b"* THREAD"), "* THREAD (2 1)((4)(3))(5)",
          "THREAD REFERENCES, subjects merged: a reply under its "
          "original, two originals under a dummy")

    # ESORT (RFC 5267 3): MIN and MAX in sort order, ALL a sequence set
    # in sort order.
    r = c.command("SORT RETURN (MIN MAX COUNT ALL) (SUBJECT REVERSE DATE) "
                  "UTF-8 ALL", tag="E1")
    es = one(r, b"* ESEARCH")
    t.ok(es is not None and es.startswith('* ESEARCH (TAG "E1")'),
         "SORT RETURN: an ESEARCH answer with the tag")
    t.ok(es is not None and re.search(r" MIN 5( |$)", es) and
         re.search(r" MAX 2( |$)", es) and re.search(r" COUNT 5( |$)", es)
         and re.search(r" ALL 5,3:4,1:2( |$)", es),
         "SORT RETURN (MIN MAX COUNT ALL): first, last, count, the order "
         "(%s)" % es)
    t.ok(one(r, b"* SORT") is None, "... and no * SORT")
    r = c.command("SORT RETURN () (REVERSE DATE) UTF-8 ALL", tag="E2")
    t.is_(one(r, b"* ESEARCH"), '* ESEARCH (TAG "E2") ALL 3,1,5,4,2',
          "SORT RETURN (): ALL, descending runs written out")
    r = c.command("SORT RETURN (ALL) (REVERSE SUBJECT) UTF-8 ALL", tag="E5")
    t.is_(one(r, b"* ESEARCH"), '* ESEARCH (TAG "E5") ALL 1:5',
          "ascending runs shortened (REVERSE SUBJECT: c c b b a; ties in "
          "mailbox order)")
    r = c.command("UID SORT RETURN (ALL COUNT) (DATE) UTF-8 ALL", tag="E3")
    es = one(r, b"* ESEARCH") or ""
    want = seqset([uids[s] for s in (2, 4, 5, 1, 3)])
    t.ok(es.startswith('* ESEARCH (TAG "E3") UID') and " COUNT 5" in es and
         " ALL %s" % want in es, "UID SORT RETURN: UIDs in sort order, "
         "%s (%s)" % (want, es))
    r = c.command('SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 TEXT "nothing"',
                  tag="E4")
    t.is_(one(r, b"* ESEARCH"), '* ESEARCH (TAG "E4") COUNT 0',
          "SORT RETURN with nothing matching: COUNT 0 alone")
    # CONDSTORE: a MODSEQ criterion adds the highest MODSEQ (RFC 7162).
    r, line = sort_line(c, "SORT (DATE) UTF-8 MODSEQ 1")
    t.like(line or "", r"^\* SORT 2 4 5 1 3 \(MODSEQ \d+\)$",
           "SORT with MODSEQ: (MODSEQ n) at the end")
    c.logout()


def seqset(nums):
    """A sequence set keeping the order: only ascending runs shorten."""
    out = []
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if i == j else "%d:%d" % (nums[i], nums[j]))
        i = j + 1
    return ",".join(out)


def uid_map(c):
    r, f = c.fetch("1:*", "(UID)")
    return {s: int(v["UID"]) for s, v in f.items()}


def rfc_thread(m):
    """RFC 5256 4: (2)(3 6 (4 23)(44 7 96)), in a 98-message mailbox."""
    c = m.imap_login()
    c.command("CREATE Thread")
    refs = {3: [], 6: [3], 4: [3, 6], 23: [3, 6, 4], 44: [3, 6],
            7: [3, 6, 44], 96: [3, 6, 44, 7]}
    for i in range(1, 99):
        extra = []
        r = None
        subj = "other %d" % i
        if i == 2 or i in refs:
            extra.append("X-T: yes")
            subj = "Re: topic" if refs.get(i) else "topic"
            if i == 2:
                subj = "elsewhere"
            if refs.get(i):
                r = " ".join("<t%d@x>" % k for k in refs[i])
        if i in (97, 98):
            extra.append("X-D: yes")
            r = "<missing@x>"
            subj = "lost"
        append(c, "Thread", msg(subj, "p%d@x" % i, msgid="<t%d@x>" % i,
                                refs=r, extra=extra),
               "%02d-Jan-2024 %02d:%02d:00 +0000" % (1 + i // 24, i % 24,
                                                     i % 60))
    c.select("Thread")
    uids = uid_map(c)
    r = c.command("THREAD REFERENCES UTF-8 HEADER X-T yes")
    t.is_(one(r, b"* THREAD"), "* THREAD (2)(3 6 (4 23)(44 7 96))",
          "RFC 5256: THREAD REFERENCES (2)(3 6 (4 23)(44 7 96))")
    r = c.command("UID THREAD REFERENCES UTF-8 HEADER X-T yes")
    want = "* THREAD (%d)(%d %d (%d %d)(%d %d %d))" % tuple(
        uids[s] for s in (2, 3, 6, 4, 23, 44, 7, 96))
    t.is_(one(r, b"* THREAD"), want, "UID THREAD REFERENCES")
    r = c.command("THREAD REFERENCES UTF-8 HEADER X-D yes")
    t.is_(one(r, b"* THREAD"), "* THREAD ((97)(98))",
          "RFC 5256: a missing parent is a dummy: ((97)(98))")
    r = c.command("THREAD ORDEREDSUBJECT UTF-8 HEADER X-T yes")
    t.is_(one(r, b"* THREAD"),
          "* THREAD (2)(3 (4)(6)(7)(23)(44)(96))",
          "THREAD ORDEREDSUBJECT of the same messages")
    r = c.command("THREAD REFERENCES UTF-8 ALL")
    th = one(r, b"* THREAD") or ""
    t.ok(th.startswith("* THREAD (1)(2)(3 6 (4 23)(44 7 96))") and
         th.endswith("((97)(98))") and len(re.findall(r"\d+", th)) == 98,
         "THREAD REFERENCES of all 98 messages")
    c.logout()


def display(m):
    """RFC 5957: DISPLAYFROM and DISPLAYTO; i;unicode-casemap order."""
    c = m.imap_login()
    c.command("CREATE Display")
    rows = [("Zoe <a@x>", "b@c.d", "zebra"),
            ("b@x", "a: xx@xx.org, yy@yy.org;", "\u00e9clair"),
            ("=?utf-8?q?=C3=89mile?= <z@x>", "d", "eagle"),
            ("Adam <zz@x>", "=?iso-8859-1?q?foo_aar?= <e@f.g>", "Eclipse"),
            ('"Bob, Jr." <y@x>', "empty:;", "=?utf-8?q?Eclat?=")]
    for i, (frm, to, subj) in enumerate(rows):
        append(c, "Display", ("From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\n"
                              "x\r\n" % (frm, to, subj)).encode(),
               idate(i + 1))
    c.select("Display")
    r, line = sort_line(c, "SORT (FROM) UTF-8 ALL")
    t.is_(line, "* SORT 1 2 5 3 4", "SORT (FROM): the local parts")
    r, line = sort_line(c, "SORT (DISPLAYFROM) UTF-8 ALL")
    t.is_(line, "* SORT 4 2 5 3 1", "SORT (DISPLAYFROM): names, decoded, "
          "else the address (Adam, b@x, Bob, Émile, Zoe)")
    r, line = sort_line(c, "SORT (REVERSE DISPLAYFROM) UTF-8 ALL")
    t.is_(line, "* SORT 1 3 5 2 4", "SORT (REVERSE DISPLAYFROM)")
    r, line = sort_line(c, "SORT (DISPLAYTO) UTF-8 ALL")
    t.is_(line, "* SORT 2 1 3 5 4", "SORT (DISPLAYTO): a group by its "
          "name (a, b@c.d, d@MISSING_DOMAIN, empty, foo aar)")
    r, line = sort_line(c, "SORT (SUBJECT) UTF-8 ALL")
    t.is_(line, "* SORT 3 5 4 2 1", "SORT (SUBJECT) with i;unicode-casemap: "
          "é with the e's (eagle, Eclat, Eclipse, éclair, zebra), not after "
          "z as in i;ascii-casemap")
    c.logout()


SUBJECTS = ["a", "C", "b", "_", "[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)",
            "b (a)", "Re: [FWD: c]", "[xyz]", None, "=?iso-8859-1?q?_?=",
            "Re: =?utf-8?q?b?=", "=?iso-8859-1?q?RE:_C?=",
            "=?us-ascii?b?UmU6IGM=?=", "Ad: Re: Ad: Re: Ad: x",
            "re: [fwd: [fwd: re: [fwd: babylon]]]"]
# Their base subjects, as i;unicode-casemap keys.
BASES = ["A", "C", "B", "_", "B", "B (A)", "C", "[XYZ]", "", "", "B", "C",
         "C", "AD: RE: AD: RE: AD: X", "BABYLON"]


def base_subjects(m):
    """imaptest's sort-subject mailbox: RFC 5256 2.1 base subjects."""
    c = m.imap_login()
    c.command("CREATE Subjects")
    sizes = []
    for i, s in enumerate(SUBJECTS):
        data = msg(s, body="%d\r\n" % (i + 1) + "x" * (i % 4) + "\r\n")
        sizes.append(len(data))
        append(c, "Subjects", data, idate(1))
    c.select("Subjects")
    r, line = sort_line(c, "SORT (SUBJECT) US-ASCII ALL")
    t.is_(line, "* SORT 9 10 1 14 3 5 11 6 15 2 7 12 13 8 4",
          "base subjects: leaders, blobs, trailers, [fwd: ], RFC 2047")
    order = sorted(range(15), key=lambda i: (BASES[i], -sizes[i], i))
    r, line = sort_line(c, "SORT (SUBJECT REVERSE SIZE) US-ASCII ALL")
    t.is_(line, "* SORT " + " ".join(str(i + 1) for i in order),
          "base subjects, ties by REVERSE SIZE")
    c.logout()


def bad_input(m):
    c = m.imap_login()
    c.select("Rfc")
    cases = [
        ("SORT (BOGUS) UTF-8 ALL", "BAD", "unknown sort key"),
        ("SORT () UTF-8 ALL", "BAD", "empty sort list"),
        ("SORT DATE UTF-8 ALL", "BAD", "no list"),
        ("SORT (DATE)", "BAD", "missing charset"),
        ("SORT (DATE) UTF-8", "BAD", "missing search criteria"),
        ("SORT (DATE) UTF-8 BOGUS", "BAD", "bad search criteria"),
        ("SORT (DATE) UTF-8 (ALL", "BAD", "unbalanced list"),
        ("SORT (DATE REVERSE) UTF-8 ALL", "BAD", "REVERSE at the end"),
        ("SORT (REVERSE REVERSE DATE) UTF-8 ALL", "BAD", "REVERSE twice"),
        ("SORT ((DATE)) UTF-8 ALL", "BAD", "nested criteria"),
        ("SORT (%s) UTF-8 ALL" % " ".join(["DATE"] * 200), "BAD",
         "200 criteria"),
        ("SORT (DATE) KOI8-R ALL", "NO", "unknown charset"),
        ("SORT (DATE) UTF-8 CHARSET KOI8-R ALL", "NO",
         "unknown charset in the search"),
        ("SORT RETURN (PARTIAL 0:2) (DATE) UTF-8 ALL", "BAD",
         "RETURN PARTIAL from 0"),
        ("SORT RETURN MIN (DATE) UTF-8 ALL", "BAD", "RETURN without a list"),
        ("SORT RETURN", "BAD", "RETURN alone"),
        ("THREAD BOGUS UTF-8 ALL", "BAD", "unknown thread algorithm"),
        ("THREAD (REFERENCES) UTF-8 ALL", "BAD", "algorithm as a list"),
        ("THREAD REFERENCES", "BAD", "THREAD without charset"),
        ("THREAD REFERENCES UTF-8", "BAD", "THREAD without criteria"),
        ("THREAD REFERENCES ISO-2022-JP ALL", "NO",
         "THREAD with an unknown charset"),
        ("UID SORT (REVERSE) UTF-8 ALL", "BAD", "UID SORT, REVERSE alone"),
        ("UID THREAD", "BAD", "UID THREAD alone"),
    ]
    for cmd, status, what in cases:
        r = c.command(cmd)
        ok = r.status == status
        if status == "NO":
            ok = ok and r.code == "BADCHARSET (UTF-8 US-ASCII)"
        t.ok(ok, "%s: %s%s (%s)" % (what, status, " [BADCHARSET]" if
                                   status == "NO" else "", r.text[:70]))
        n = c.command("NOOP")
        t.is_(n.status, "OK", "... the session goes on")
    # A literal too large for a SORT argument.
    r = c.command_literal("SORT (DATE) UTF-8 SUBJECT", b"x" * 70000)
    t.ok(r.status in ("BAD", "NO"), "oversized literal refused (%s)"
         % r.text[:60])
    t.is_(c.command("NOOP").status, "OK", "... the session goes on")
    r, line = sort_line(c, "SORT (SUBJECT REVERSE DATE) UTF-8 ALL")
    t.is_(line, "* SORT 5 3 4 1 2", "and still sorts")
    c.logout()


def imaplib_client(m):
    """A real client: python3 imaplib's sort() and thread()."""
    M = m.imaplib()
    M.select("Rfc")
    typ, data = M.sort("(SUBJECT REVERSE DATE)", "UTF-8", "ALL")
    t.ok(typ == "OK" and data == [b"5 3 4 1 2"],
         "imaplib sort(): %r" % data)
    typ, data = M.thread("ORDEREDSUBJECT", "UTF-8", "ALL")
    t.ok(typ == "OK" and data == [b"(2 1)(4 3)(5)"],
         "imaplib thread(): %r" % data)
    typ, data = M.uid("SORT", "(REVERSE DATE)", "UTF-8", "ALL")
    typ2, fetched = M.fetch("3,1,5,4,2", "(UID)")
    t.ok(typ == "OK" and typ2 == "OK" and data[0] and
         len(data[0].split()) == 5, "imaplib uid('SORT'): %r" % data)
    seq_uid = {}
    for f in fetched:
        mm = re.match(rb"(\d+) \(UID (\d+)\)", f)
        if mm:
            seq_uid[int(mm.group(1))] = mm.group(2)
    t.is_(data[0], b" ".join(seq_uid[s] for s in (3, 1, 5, 4, 2)),
          "imaplib uid('SORT'): UIDs in REVERSE DATE order")
    M.select("Thread")
    typ, data = M.thread("REFERENCES", "UTF-8", "HEADER", "X-T", "yes")
    t.ok(typ == "OK" and data == [b"(2)(3 6 (4 23)(44 7 96))"],
         "imaplib thread('REFERENCES'): %r" % data)
    typ, data = M.uid("THREAD", "REFERENCES", "UTF-8", "HEADER", "X-D",
                      "yes")
    t.ok(typ == "OK" and re.fullmatch(rb"\(\(\d+\)\(\d+\)\)",
                                      data[0] or b""),
         "imaplib uid('THREAD'): %r" % data)
    M.logout()


def imap_pid(m):
    for k in m.children():
        if t.proc_comm(k) == "maild-imap":
            return k
    return None


def read_calls(pid):
    """read(2) calls so far of a process (/proc/<pid>/io syscr)."""
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            if line.startswith("syscr:"):
                return int(line.split()[1])
    return None


def cache(m):
    """A SORT reads each message once; then neither a second one nor one
    after a restart reads message files."""
    c = m.imap_login()
    c.command("CREATE Big")
    c.logout()
    d = m.mailbox_dir("Big")
    st = os.stat(d)
    rng = __import__("random").Random(71)
    names = ["Ann Lee", "bob", "Carl Zed", "dora", "Eve Ray", "fred"]
    exp = []
    now = int(time.time())
    for i in range(BIG):
        when = now - 86400 * 30 + rng.randrange(86400 * 30)
        frm = rng.choice(names)
        local = frm.split()[0].lower() + str(rng.randrange(100))
        data = msg("subject %d" % rng.randrange(50),
                   "%s <%s@example.org>" % (frm, local),
                   date=email.utils.formatdate(when),
                   msgid="<big%d@x>" % i,
                   body="x" * rng.randrange(100) + "\r\n")
        p = os.path.join(d, "new", "%d.big%d.host" % (now, i))
        with open(p, "wb") as f:
            f.write(data)
        os.chown(p, st.st_uid, st.st_gid)
        exp.append((i, when, local.upper(), len(data)))
    c = m.imap_login()
    r = c.select("Big")
    t.ok(one(r, b"* %d EXISTS" % BIG) is not None, "%d messages" % BIG)
    r, f = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    seq = {}
    for s, v in f.items():
        mm = re.search(rb"<big(\d+)@x>", v.get("BODY[HEADER.FIELDS "
                                              "(MESSAGE-ID)]", b"") or b"")
        if mm:
            seq[int(mm.group(1))] = s
    t.is_(len(seq), BIG, "every message by its Message-ID")
    bydate = sorted(exp, key=lambda e: (e[1], seq.get(e[0], 0)))
    byfrom = sorted(exp, key=lambda e: (e[2], seq.get(e[0], 0)))
    bysize = sorted(exp, key=lambda e: (-e[3], seq.get(e[0], 0)))
    pid = None if PEER else imap_pid(m)
    measure = pid is not None and read_calls(pid) is not None

    def timed(cmd):
        r0 = read_calls(pid) if measure else 0
        t0 = time.monotonic()
        r, line = sort_line(c, cmd)
        dt = time.monotonic() - t0
        r1 = read_calls(pid) if measure else 0
        return line, r1 - r0, dt

    line, reads1, dt1 = timed("SORT (DATE) UTF-8 ALL")
    t.is_(line, "* SORT " + " ".join(str(seq[e[0]]) for e in bydate),
          "SORT (DATE) of %d messages, as Python orders their Date:" % BIG)
    line, reads2, dt2 = timed("SORT (FROM) UTF-8 ALL")
    t.is_(line, "* SORT " + " ".join(str(seq[e[0]]) for e in byfrom),
          "SORT (FROM) of %d messages" % BIG)
    line, reads3, dt3 = timed("SORT (REVERSE SIZE) UTF-8 ALL")
    t.is_(line, "* SORT " + " ".join(str(seq[e[0]]) for e in bysize),
          "SORT (REVERSE SIZE)")
    r0 = read_calls(pid) if measure else 0
    r = c.command("THREAD REFERENCES UTF-8 ALL")
    reads4 = (read_calls(pid) if measure else 0) - r0
    th = one(r, b"* THREAD") or ""
    t.is_(len(re.findall(r"\d+", th)), BIG, "THREAD REFERENCES: every "
          "message once")
    c.logout()
    if not measure:
        t.skip("no maild-imap process to measure" if PEER else
               "/proc/<pid>/io unreadable", 4)
        return
    t.diag("read calls: first SORT %d (%.3f s), second %d (%.3f s), "
           "third %d (%.3f s), THREAD %d" % (reads1, dt1, reads2, dt2,
                                             reads3, dt3, reads4))
    # (FETCH just read a few whole messages: those need no read.)
    t.ok(reads1 >= BIG - 10, "the first SORT reads the headers (%d read "
         "calls)" % reads1)
    t.ok(reads2 < 40 and reads4 < 40, "a second SORT and a THREAD read no "
         "message file (%d, %d read calls)" % (reads2, reads4))
    t.ok(m.stop(), "maild stops (the cache is written)")
    m.start()
    pid = imap_pid(m)
    c = m.imap_login()
    c.select("Big")
    r0 = read_calls(pid)
    t0 = time.monotonic()
    r, line = sort_line(c, "SORT (FROM) UTF-8 ALL")
    dt = time.monotonic() - t0
    reads = read_calls(pid) - r0
    t.diag("after the restart: SORT (FROM) %d read calls, %.3f s"
           % (reads, dt))
    t.is_(line, "* SORT " + " ".join(str(seq[e[0]]) for e in byfrom),
          "SORT (FROM) after a restart")
    t.ok(reads < 40, "after a restart the keys come from maild-cache "
         "(%d read calls)" % reads)
    c.logout()


def imaptest(m):
    if not os.access(IMAPTEST, os.X_OK):
        t.skip("no imaptest (scripts/install-deps)", len(GROUPS))
        return
    for g in GROUPS:
        d = tempfile.mkdtemp(prefix="maild-71-imaptest-")
        try:
            shutil.copy(os.path.join(IMAPTEST_DIR, g), d)
            for mb in (g + ".mbox", "default.mbox"):
                if os.path.exists(os.path.join(IMAPTEST_DIR, mb)):
                    shutil.copy(os.path.join(IMAPTEST_DIR, mb), d)
            r = subprocess.run(
                [IMAPTEST, "host=%s" % m.addr, "port=%d" % m.imap_port,
                 "user=alice@example.org", "pass=alice-imap-pw",
                 "test=%s" % d, "ssl=any-cert"], capture_output=True,
                text=True, timeout=300)
        finally:
            shutil.rmtree(d, ignore_errors=True)
        out = r.stdout + r.stderr
        res = re.search(r"(\d+) test groups: (\d+) failed, (\d+) skipped",
                        out)
        ext = re.search(r"extensions: (\d+)/(\d+) individual commands "
                        r"failed", out)
        good = (res and res.group(1) == "1" and res.group(2) == "0" and
                res.group(3) == "0" and ext and ext.group(1) == "0" and
                int(ext.group(2)) > 0)
        if not t.ok(good, "imaptest %s: %s" % (
                g, ext.group(0) if ext else "no result")):
            t.diag(out[-2000:])


def main():
    if PEER:
        t.diag("against the IMAP peer (%s)"
               % os.environ["MAILD_TEST_IMAP_PEER"])
    m = t.Maild(imap=True)
    m.start()
    t.section(rfc_sort, m)
    t.section(rfc_thread, m)
    t.section(display, m)
    t.section(base_subjects, m)
    t.section(bad_input, m)
    t.section(imaplib_client, m)
    t.section(cache, m)
    t.section(imaptest, m)
    m.stop()
    t.unlike(m.log_text(), t.SANITIZER_RE, "no sanitizer report")


t.run(main)
