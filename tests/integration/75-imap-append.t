#!/usr/bin/env python3
# The APPEND family (issue 14): MULTIAPPEND (RFC 3502, all or none,
# APPENDUID with a UID set), CATENATE (RFC 4469, IMAP URLs of RFC 5092,
# BADURL and TOOBIG, with MULTIAPPEND), APPEND of literal8 (BINARY, RFC
# 3516, binary parts stored as base64; BINARY.SIZE and UNKNOWN-CTE),
# REPLACE and UID REPLACE (RFC 8508: APPENDUID, EXISTS, then EXPUNGE or
# VANISHED), non-synchronizing literals (RFC 7888: LITERAL+ and not
# LITERAL- as well; a too large one read and refused, or BYE), each
# with its RFC's examples; a MULTIAPPEND whose third message fails
# leaves the mailbox unchanged over IMAP and on disk; bad input (sizes,
# URLs of other users or servers, missing messages, NUL outside
# literal8, hundreds of messages in one command, a client gone in the
# middle) gets a tagged NO or BAD and the session goes on.
import base64
import imaplib
import os
import re
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

LIMIT = 1048576                     # APPENDLIMIT of max_size "1M"
CAPS = ("MULTIAPPEND", "CATENATE", "BINARY", "REPLACE", "LITERAL+")

# RFC 3502's example messages.
MEETING = (
    b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
    b"From: Fred Foobar <foobar@Blurdybloop.example.COM>\r\n"
    b"Subject: afternoon meeting\r\n"
    b"To: mooch@owatagu.example.net\r\n"
    b"Message-Id: <B27397-0100000@Blurdybloop.example.COM>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
    b"\r\n"
    b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n")
REPLY = (
    b"Date: Mon, 7 Feb 1994 22:43:04 -0800 (PST)\r\n"
    b"From: Joe Mooch <mooch@OWaTaGu.example.net>\r\n"
    b"Subject: Re: afternoon meeting\r\n"
    b"To: foobar@blurdybloop.example.com\r\n"
    b"Message-Id: <a0434793874930@OWaTaGu.example.net>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
    b"\r\n"
    b"3:30 is fine with me.\r\n")

# RFC 4469's draft: multipart/mixed, text/plain and a zip.
BND = b"------------030308070208000400050907"
ZIP = bytes(range(256)) * 4
DRAFT_HDR = (
    b"Return-Path: <bar@example.org>\r\n"
    b"Message-ID: <419399E1.6000505@example.org>\r\n"
    b"Date: Thu, 12 Nov 2004 16:57:05 +0000\r\n"
    b"From: Bob Ar <bar@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"To: foo@example.net\r\n"
    b"Subject: About our holiday trip\r\n"
    b"Content-Type: multipart/mixed;\r\n"
    b"              boundary=\"" + BND + b"\"\r\n"
    b"\r\n")
PART1_MIME = (b"Content-Type: text/plain; charset=us-ascii; format=flowed\r\n"
              b"Content-Transfer-Encoding: 7bit\r\n\r\n")
PART1 = b"Our travel agent has sent the schedule.\r\n\r\nCheers,\r\nBob"
PART2_MIME = (b"Content-Type: application/x-zip-compressed; "
              b"name=\"trip.zip\"\r\n"
              b"Content-Transfer-Encoding: base64\r\n\r\n")
PART2 = b"\r\n".join(base64.encodebytes(ZIP).rstrip(b"\n").split(b"\n"))
DRAFT = (DRAFT_HDR + b"--" + BND + b"\r\n" + PART1_MIME + PART1 + b"\r\n--" +
         BND + b"\r\n" + PART2_MIME + PART2 + b"\r\n--" + BND + b"--\r\n")


def simple(subject, body=b"body\r\n"):
    return (b"From: t@client.test\r\nSubject: " + subject.encode() +
            b"\r\n\r\n" + body)


def multi(c, first, segments, tail=b"", plus=False, conts_needed=None):
    """One command with several literals: "<tag> first{n0}" literal0,
    then for each next segment its text and literal.  segments: list
    of (text before the literal, literal bytes, literal8).  Returns the
    IMAPResult; with synchronizing literals it stops at a tagged reply
    that comes instead of "+"."""
    tag = c.next_tag()
    conts, untagged = [], []
    text = tag.encode() + b" " + first
    for i, (pre, lit, lit8) in enumerate(segments):
        if i > 0:
            text = pre
        head = text + (b"~" if lit8 else b"") + (b"{%d%s}\r\n" % (
            len(lit), b"+" if plus else b""))
        if plus:
            c.send(head + lit)
            continue
        c.send(head)
        while True:
            r = c.response()
            if r.startswith(b"+"):
                conts.append(r)
                break
            if r.startswith(tag.encode() + b" "):
                return t.IMAPResult(tag.encode(), r, untagged, conts)
            untagged.append(r)
        c.send(lit)
    c.send(tail + b"\r\n")
    return c._collect(tag, None, untagged, conts)


def seg(lit, pre=b" ", lit8=False):
    return (pre, lit, lit8)


def uids_of(code):
    """APPENDUID's UID set as a list of ints."""
    out = []
    for part in code.split()[2].split(","):
        a, _, b = part.partition(":")
        out.extend(range(int(a), int(b or a) + 1))
    return out


def idate(s):
    """An INTERNALDATE as seconds since the epoch."""
    tt = imaplib.Internaldate2tuple(b'INTERNALDATE "' + s + b'"')
    return time.mktime(tt) if tt else None


def status(c, box):
    r = c.command("STATUS %s (MESSAGES UIDNEXT)" % box)
    m = re.search(rb"MESSAGES (\d+) UIDNEXT (\d+)", r.all_text().encode())
    return (int(m.group(1)), int(m.group(2))) if m else None


def disk(m, box=None):
    """The file names in the folder's cur/, new/ and tmp/."""
    d = m.mailbox_dir(box)
    return {sub: sorted(os.listdir(os.path.join(d, sub)))
            for sub in ("cur", "new", "tmp")}


def body_of(c, box, uid, item="BODY.PEEK[]"):
    c.command("EXAMINE %s" % box)
    r, f = c.fetch(str(uid), "(%s)" % item, uid=True)
    vals = list(f.values())
    key = item.replace(".PEEK", "")
    return vals[0].get(key) if vals else None


def sanitized():
    """maild built with make SANITIZE=1."""
    with open(t.maild_path(), "rb") as f:
        return b"__asan_init" in f.read()


def usable(c, what):
    r = c.command("NOOP")
    t.is_(r.status, "OK", "the session is usable after %s" % what)


# -- RFC 3502 --

def rfc3502(m, c):
    before = status(c, "saved-messages")
    r = multi(c, b"APPEND saved-messages (\\Seen) ",
              [seg(MEETING), seg(REPLY, b" (\\Seen) \" 7-Feb-1994 22:43:04 "
                                        b"-0800\" ")])
    t.is_(r.status, "OK", "RFC 3502 A003: APPEND of two messages: OK")
    t.is_(len(r.conts), 2, "... a continuation for each literal")
    code = r.code or ""
    t.like(code, r"^APPENDUID \d+ \d+:\d+$",
           "... APPENDUID with the UID set of both (%s)" % code)
    uids = uids_of(code) if code.startswith("APPENDUID") else []
    t.is_(len(uids), 2, "... two UIDs, consecutive")
    after = status(c, "saved-messages")
    t.is_(after[0] - before[0], 2, "... both are in the mailbox")
    if len(uids) == 2:
        t.is_(body_of(c, "saved-messages", uids[0]), MEETING,
              "... the first as sent")
        t.is_(body_of(c, "saved-messages", uids[1]), REPLY,
              "... the second as sent")
        r, f = c.fetch("%d:%d" % tuple(uids), "(FLAGS INTERNALDATE)",
                       uid=True)
        v = [f[k] for k in sorted(f)]
        t.ok(len(v) == 2 and all("\\Seen" in x.get("FLAGS", []) for x in v),
             "... each with its flags")
        t.is_(idate(v[1].get("INTERNALDATE")) if len(v) == 2 else None,
              idate(b" 7-Feb-1994 22:43:04 -0800"),
              "... the second with its date")
        c.command("UNSELECT")

    # A004: no such mailbox: NO [TRYCREATE] before the literal is sent.
    r = multi(c, b"APPEND bogusname (\\Flagged) ",
              [seg(b"x" * 1023)])
    t.is_((r.status, r.code), ("NO", "TRYCREATE"),
          "RFC 3502 A004: APPEND bogusname: NO [TRYCREATE]")
    t.is_(r.conts, [], "... without asking for the literal")
    usable(c, "an early TRYCREATE")
    # Of a non-synchronizing literal the bytes are read and dropped.
    r = multi(c, b"APPEND bogusname ", [seg(b"y" * 500),
                                         seg(b"z1 LOGOUT\r\n")],
              plus=True)
    t.is_((r.status, r.code), ("NO", "TRYCREATE"),
          "APPEND bogusname with LITERAL+: NO [TRYCREATE]")
    usable(c, "TRYCREATE of LITERAL+ messages (their bytes skipped)")

    # A005 style: the client cancels with a zero-length literal.
    before = status(c, "saved-messages")
    r = multi(c, b"APPEND saved-messages (\\Flagged) ",
              [seg(simple("one")), seg(b"")])
    t.is_(r.status, "NO", "a zero-length message literal cancels: NO")
    t.is_(status(c, "saved-messages"), before,
          "... and nothing of the command was added")

    # MULTIAPPEND with LITERAL+ and literal8 mixed.
    r = multi(c, b"APPEND saved-messages ",
              [seg(simple("p1")), seg(simple("p2"), b" () "),
               seg(simple("p3"), b" ", True)], plus=True)
    t.is_(r.status, "OK", "MULTIAPPEND with LITERAL+: OK")
    t.is_(len(uids_of(r.code)) if r.status == "OK" else 0, 3,
          "... APPENDUID names three")


# -- atomicity --

def atomic(m, c):
    c.command("CREATE Atomic")
    multi(c, b"APPEND Atomic ", [seg(simple("old"))])
    before = status(c, "Atomic")
    files = disk(m, "Atomic")
    big = b"x" * (LIMIT + 1)

    r = multi(c, b"APPEND Atomic ", [seg(simple("a1")), seg(simple("a2")),
                                      seg(big)])
    t.is_((r.status, r.code), ("NO", "TOOBIG"),
          "MULTIAPPEND whose third message is over APPENDLIMIT: "
          "NO [TOOBIG]")
    t.is_(len(r.conts), 2, "... refused at its announcement, before it "
          "was sent")
    t.is_(status(c, "Atomic"), before, "... the mailbox is unchanged "
          "(MESSAGES, UIDNEXT)")
    t.is_(disk(m, "Atomic"), files, "... and so are cur/, new/ and tmp/")
    usable(c, "an atomic refusal")

    r = multi(c, b"APPEND Atomic ", [seg(simple("b1")), seg(simple("b2")),
                                      seg(big), seg(b"z2 LOGOUT\r\n")],
              plus=True)
    t.is_((r.status, r.code), ("NO", "TOOBIG"),
          "the same with LITERAL+: NO [TOOBIG]")
    t.is_(status(c, "Atomic"), before, "... the mailbox is unchanged")
    t.is_(disk(m, "Atomic"), files, "... on disk too")
    usable(c, "skipping the refused and the following literals")

    # Failing when the messages are built: two staged, the third a bad URL.
    r = multi(c, b"APPEND Atomic ", [seg(simple("c1")), seg(simple("c2"))],
              tail=b" CATENATE (URL \"/INBOX/;UID=999999\")")
    t.like(r.code or "", r"^BADURL ", "MULTIAPPEND whose third message has "
           "a bad URL: NO [BADURL]")
    t.is_(status(c, "Atomic"), before, "... the mailbox is unchanged")
    t.is_(disk(m, "Atomic"), files, "... the two staged are gone from tmp/")

    # A client gone in the middle of a MULTIAPPEND leaves nothing.
    d = m.imap_login()
    tag = b"g1"
    d.send(tag + b" APPEND Atomic {%d+}\r\n" % len(simple("d1")) +
           simple("d1") + b" {%d+}\r\n" % len(simple("d2")) + simple("d2") +
           b" {100000}\r\n")
    r = d.response()
    t.ok(r.startswith(b"+"), "a third literal announced, then the client "
         "goes")
    d.send(b"y" * 5000)
    d.close()
    t.ok(t.wait_until(lambda: disk(m, None)["tmp"] == [], 5),
         "nothing left in tmp/ (the spool was unlinked)")
    t.is_(status(c, "Atomic"), before, "... nothing added")
    t.is_(disk(m, "Atomic"), files, "... nothing on disk")


# -- RFC 4469 --

def rfc4469(m, c):
    r = c.command_literal("APPEND Drafts (\\Seen \\Draft $MDNSent)", DRAFT)
    t.is_(r.status, "OK", "the draft of RFC 4469's examples is stored")
    v, uid = r.code.split()[1:3]
    r = c.command_literal("APPEND Drafts (\\Seen \\Draft)", simple("thirty"))
    uid30 = r.code.split()[2]
    pre = '/Drafts;UIDVALIDITY=%s/;UID=%s' % (v, uid)
    sep = b"\r\n--" + BND + b"\r\n"

    # Example 1: replace the attachment.
    r = multi(c, ('APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE '
                  '(URL "%s/;section=HEADER" TEXT ' % pre).encode(),
              [seg(sep[2:]), seg(sep, (' URL "%s/;section=1.MIME" URL '
                                       '"%s/;section=1" TEXT ' % (pre, pre)
                                       ).encode()),
               seg(b"\r\n--" + BND + b"--\r\n",
                   (' URL "/Drafts;UIDVALIDITY=%s/;UID=%s" TEXT '
                    % (v, uid30)).encode())], tail=b")")
    t.is_(r.status, "OK", "RFC 4469 example 1: OK")
    t.like(r.code or "", r"^APPENDUID %s \d+$" % v, "... APPENDUID")
    want = (DRAFT_HDR + b"--" + BND + b"\r\n" + PART1_MIME + PART1 +
            b"\r\n--" + BND + b"\r\n" + simple("thirty") + b"\r\n--" + BND +
            b"--\r\n")
    got = body_of(c, "Drafts", r.code.split()[2]) if r.code else None
    t.is_(got, want, "... the message catenated from the parts")

    # Example 2: new text and header, the attachment by URL.
    newtext = (DRAFT_HDR.replace(b"About our holiday trip", b"Our trip") +
               b"--" + BND + b"\r\n" + PART1_MIME + b"Updated.\r\n--" + BND +
               b"\r\n")
    r = multi(c, b"APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE (TEXT ",
              [seg(newtext), seg(b"\r\n--" + BND + b"--\r\n",
                                 (' URL "%s/;Section=2.MIME" URL '
                                  '"%s/;Section=2" TEXT ' % (pre, pre))
                                 .encode())], tail=b")")
    t.like(r.code or "", r"^APPENDUID %s \d+$" % v,
           "RFC 4469 example 2: OK [APPENDUID]")
    want = newtext + PART2_MIME + PART2 + b"\r\n--" + BND + b"--\r\n"
    t.is_(body_of(c, "Drafts", r.code.split()[2]) if r.code else None,
          want, "... the attachment taken from the old draft")
    c.command("UNSELECT")
    r = c.command("UID STORE %s +FLAGS.SILENT (\\Deleted)" % uid)
    t.is_(r.status, "BAD", "(STORE needs a selected mailbox)")

    # Example 4: a URL to a message that does not exist: BADURL.
    before = status(c, "Drafts")
    bad = "/Drafts;UIDVALIDITY=%s/;UID=113330/;section=1.5.9" % v
    r = multi(c, b"APPEND Drafts (\\Seen $MDNSent) CATENATE (TEXT ",
              [seg(newtext), seg(b"\r\n--" + BND + b"--\r\n",
                                 (' URL "%s" TEXT ' % bad).encode())],
              tail=b")")
    t.is_((r.status, r.code), ("NO", "BADURL " + bad),
          "RFC 4469 example 4: NO [BADURL <the URL>]")
    t.is_(status(c, "Drafts"), before, "... nothing added")

    # The URL forms of RFC 5092.
    r = c.command('APPEND Drafts CATENATE (URL "imap://alice%%40example.org@'
                  '%s:%d/Drafts;UIDVALIDITY=%s/;UID=%s/;SECTION=1")'
                  % (m.addr, m.imap_port, v, uid))
    t.is_(r.status, "OK", "absolute URL with user, address and port: OK")
    t.is_(body_of(c, "Drafts", r.code.split()[2]) if r.status == "OK"
          else None, PART1, "... its part")
    r = c.command('APPEND Drafts CATENATE (URL "imap://mx.test/Drafts/;'
                  'UID=%s/;SECTION=HEADER.FIELDS%%20(Subject%%20To)" '
                  'TEXT {6+}\r\nbody\r\n)' % uid)
    t.is_(r.status, "OK", "absolute URL with the server's name, "
          "HEADER.FIELDS percent-encoded: OK")
    t.is_(body_of(c, "Drafts", r.code.split()[2]) if r.status == "OK"
          else None, b"To: foo@example.net\r\nSubject: About our holiday "
          b"trip\r\n\r\nbody\r\n", "... the fields it names")
    r = c.command('APPEND Drafts CATENATE (URL "/Drafts/;UID=%s/;'
                  'PARTIAL=6.8")' % uid)
    t.is_(body_of(c, "Drafts", r.code.split()[2]) if r.status == "OK"
          else None, DRAFT[6:14], ";PARTIAL=6.8: those bytes")
    c.command("SELECT Drafts")
    r = c.command('APPEND Drafts CATENATE (URL ";UID=%s/;SECTION=TEXT" '
                  'URL "Drafts/;UID=%s/;SECTION=1")' % (uid30, uid30))
    t.is_(r.status, "OK", "relative URLs (;UID= of the selected mailbox, "
          "mailbox/;UID=): OK")
    t.is_(body_of(c, "Drafts", r.code.split()[2]) if r.status == "OK"
          else None, b"body\r\nbody\r\n", "... both parts")
    c.command("UNSELECT")

    # CATENATE and MULTIAPPEND together.
    r = multi(c, b"APPEND Drafts CATENATE (TEXT ",
              [seg(simple("cm1", b"")), seg(b"tail\r\n", (
                  ' URL "/Drafts/;UID=%s/;SECTION=TEXT") (\\Flagged) '
                  'CATENATE (URL "/Drafts/;UID=%s" TEXT ' % (uid30, uid30)
                  ).encode())], tail=b")", plus=True)
    t.is_(r.status, "OK", "CATENATE twice in one MULTIAPPEND: OK")
    u = uids_of(r.code) if r.status == "OK" else []
    t.is_(len(u), 2, "... two UIDs")
    if len(u) == 2:
        t.is_(body_of(c, "Drafts", u[0]), simple("cm1", b"") + b"body\r\n",
              "... the first message")
        t.is_(body_of(c, "Drafts", u[1]), simple("thirty") + b"tail\r\n",
              "... the second message")
        c.command("UNSELECT")

    # Bad URLs: each a NO [BADURL], nothing added, the session goes on.
    before = status(c, "Drafts")
    for url, why in (
            ("imap://bob%%40example.org@mx.test/Drafts/;UID=%s" % uid,
             "another user"),
            ("imap://mail.example.net/Drafts/;UID=%s" % uid,
             "another server"),
            ("imap://mx.test:4444/Drafts/;UID=%s" % uid, "another port"),
            ("/Drafts;UIDVALIDITY=%d/;UID=%s" % (int(v) + 1, uid),
             "another UIDVALIDITY"),
            ("/Drafts/;UID=%d" % (int(uid30) + 1000), "a missing message"),
            ("/NoSuchBox/;UID=1", "a missing mailbox"),
            ("/Drafts/;UID=%s/;SECTION=7" % uid, "a missing part"),
            ("/Drafts/;UID=%s/;SECTION=BOGUS" % uid, "an invalid section"),
            ("/Drafts/;UID=%s/;URLAUTH=anonymous:internal:" % uid +
             "91354a473744909de610943775f92038", "URLAUTH"),
            ("/Drafts?SUBJECT%20x", "a message list"),
            ("/Drafts/;UID=0", "UID 0"),
            ("/Drafts/;UID=%s/;PARTIAL=x" % uid, "a bad partial range"),
            ("http://mx.test/Drafts/;UID=%s" % uid, "another scheme"),
            ("/Dr%%zzafts/;UID=%s" % uid, "a bad escape"),
            (";UID=%s" % uid, "a relative UID without a selected mailbox"),
            ("/Drafts", "no UID")):
        r = c.command('APPEND Drafts CATENATE (TEXT {4+}\r\nabc\n URL "%s")'
                      % url)
        t.is_((r.status, (r.code or "").split(" ")[0]), ("NO", "BADURL"),
              "URL of %s: NO [BADURL]" % why)
    r = c.command('APPEND Drafts CATENATE (URL "/Drafts/;UID=]x")')
    t.is_(r.status, "NO", "a URL with \"]\": NO, without the URL in a code "
          "(%s)" % r.text)
    t.is_(status(c, "Drafts"), before, "no bad URL added anything")
    for args, why in (("CATENATE ()", "an empty CATENATE"),
                      ("CATENATE (TEXT)", "TEXT without a literal"),
                      ("CATENATE (URL)", "URL without a URL"),
                      ("CATENATE (FOO \"x\")", "an unknown part"),
                      ("CATENATE", "CATENATE without a list"),
                      ("CATENATE (TEXT \"abc\")", "TEXT of a quoted string")):
        r = c.command("APPEND Drafts " + args)
        t.is_(r.status, "BAD", "%s: BAD" % why)
    usable(c, "bad CATENATE arguments")

    # TOOBIG: the catenated total over APPENDLIMIT.
    half = b"Subject: half\r\n\r\n" + b"h" * (LIMIT // 2)
    r = c.command_literal("APPEND Drafts", half)
    hu = r.code.split()[2]
    r = c.command('APPEND Drafts CATENATE (URL "/Drafts/;UID=%s" URL '
                  '"/Drafts/;UID=%s")' % (hu, hu))
    t.is_((r.status, r.code), ("NO", "TOOBIG"), "two URLs of half "
          "APPENDLIMIT each: NO [TOOBIG]")
    r = multi(c, b'APPEND Drafts CATENATE (URL "/Drafts/;UID=' +
              hu.encode() + b'" TEXT ', [seg(b"t" * (LIMIT // 2))],
              tail=b")")
    t.is_((r.status, r.code), ("NO", "TOOBIG"), "a URL and a TEXT over "
          "APPENDLIMIT together: NO [TOOBIG]")
    r = c.command('APPEND Drafts CATENATE (URL "/Drafts/;UID=%s" URL '
                  '"/Drafts/;UID=%s/;PARTIAL=0.100")' % (hu, hu))
    t.is_(r.status, "OK", "... one URL and 100 bytes of another: OK")
    usable(c, "TOOBIG")


# -- RFC 3516 --

def rfc3516(m, c):
    raw = b"\x00\x01\xff binary\n\r\x00 bare LF\n"
    msg = (b"From: user@domain.org\r\nMime-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=bb\r\n\r\n"
           b"--bb\r\nContent-Type: text/plain\r\n\r\nplain text\r\n"
           b"--bb\r\nContent-Type: application/octet-stream\r\n"
           b"Content-Transfer-Encoding: binary\r\n\r\n" + raw +
           b"\r\n--bb--\r\n")
    r = multi(c, b"APPEND INBOX ", [seg(msg, lit8=True)])
    t.is_(r.status, "OK", "APPEND of a literal8 with binary data: OK")
    uid = r.code.split()[2] if r.status == "OK" else "1"
    c.command("SELECT INBOX")
    r, f = c.fetch(uid, "(BINARY.SIZE[2] BINARY.PEEK[2] BODY.PEEK[2] "
                   "BODY.PEEK[2.MIME] BINARY.PEEK[1])", uid=True)
    v = list(f.values())[0] if f else {}
    t.is_(v.get("BINARY.SIZE[2]"), str(len(raw)),
          "BINARY.SIZE[2]: the size of the bytes sent")
    t.is_(v.get("BINARY[2]"), raw, "BINARY[2]: the very bytes sent")
    t.ok(r.find(rb"BINARY\[2\] ~\{%d\}" % len(raw)),
         "... as a literal8 (it holds NULs)")
    t.is_(base64.b64decode(v.get("BODY[2]") or b""), raw,
          "BODY[2]: stored as base64, not binary")
    t.like(v.get("BODY[2.MIME]") or b"",
           rb"(?i)Content-Transfer-Encoding: base64\r\n",
           "... its Content-Transfer-Encoding says so")
    t.is_(v.get("BINARY[1]"), b"plain text", "the text part as it was")
    t.ok(not r.find(rb"~\{\d+\}\r\nplain"),
         "... a string, not a literal8, without NULs (RFC 3516 4.3)")

    r, f = c.fetch(uid, "(BINARY.PEEK[2]<3.5>)", uid=True)
    v = list(f.values())[0] if f else {}
    t.is_(v.get("BINARY[2]<3>"), raw[3:8], "BINARY[2]<3.5>: partial")

    # UNKNOWN-CTE: a part BINARY cannot decode.
    odd = (b"Subject: odd\r\nMIME-Version: 1.0\r\n"
           b"Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 f\r\n")
    r = c.command_literal("APPEND INBOX", odd)
    ou = r.code.split()[2]
    for item in ("BINARY.PEEK[1]", "BINARY.SIZE[1]"):
        r = c.command("UID FETCH %s (%s)" % (ou, item))
        t.is_((r.status, r.code), ("NO", "UNKNOWN-CTE"),
              "%s of an x-uuencode part: NO [UNKNOWN-CTE]" % item)
    usable(c, "UNKNOWN-CTE")

    # NUL: only in a literal8, and there only in a part's body.
    before = status(c, "INBOX")
    r = c.command_literal("APPEND INBOX", b"Subject: n\r\n\r\na\x00b\r\n",
                          plus=True)
    t.is_(r.status, "BAD", "a NUL in a literal that is not a literal8: BAD")
    r = multi(c, b"APPEND INBOX ", [seg(simple("ok")),
                                     seg(b"Subject: n\r\n\r\na\x00b\r\n")],
              plus=True)
    t.is_(r.status, "BAD", "... also as the second message of a "
          "MULTIAPPEND")
    r = multi(c, b"APPEND INBOX ", [seg(
        b"Subject: n\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n"
        b"pre\x00amble\r\n--x\r\n\r\nab\r\n--x--\r\n", lit8=True)])
    t.is_((r.status, r.code), ("NO", "UNKNOWN-CTE"),
          "a literal8 with a NUL outside a body part: NO [UNKNOWN-CTE]")
    r = multi(c, b"APPEND INBOX ", [seg(b"Subject: b\r\n\r\na\x00b\r\n",
                                        lit8=True)])
    t.is_(r.status, "OK", "a literal8 single part with a NUL: OK")
    bu = r.code.split()[2] if r.status == "OK" else "1"
    r, f = c.fetch(bu, "(BINARY.PEEK[1] BODY.PEEK[TEXT])", uid=True)
    v = list(f.values())[0] if f else {}
    t.is_(v.get("BINARY[1]"), b"a\x00b\r\n", "... BINARY[1] gives it back")
    t.is_(base64.b64decode(v.get("BODY[TEXT]") or b""), b"a\x00b\r\n",
          "... stored as base64")
    t.is_(status(c, "INBOX")[0], before[0] + 1, "only that one was added")
    c.command("UNSELECT")
    usable(c, "NUL in literals")


# -- RFC 8508 --

def rfc8508(m, c):
    c.command("CREATE Notes")
    for i in range(4):
        c.command_literal("APPEND Notes", simple("note %d" % i))
    new = simple("note 4, edited")
    r = c.select("Notes")
    t.ok(r.find(rb"^\* 4 EXISTS"), "four notes")
    old = [int(x) for x in re.findall(
        rb"\* SEARCH ([\d ]+)", b"\n".join(c.command("UID SEARCH ALL")
                                           .untagged))[0].split()]
    r = c.command_literal("REPLACE 4 Notes (\\Seen \\Draft)", new)
    t.is_(r.status, "OK", "RFC 8508: REPLACE 4 Notes: OK")
    # (RECENT, for this IMAP4rev1 session, goes with EXISTS.)
    u = [x for x in r.untagged if not x.startswith(b"+") and
         not re.match(rb"\* \d+ RECENT$", x)]
    t.like(u[0] if u else b"", rb"^\* OK \[APPENDUID \d+ \d+\]",
           "... first an untagged OK [APPENDUID]")
    t.is_(u[1:3], [b"* 5 EXISTS", b"* 4 EXPUNGE"],
          "... then EXISTS of the new one and EXPUNGE of the old one")
    nu = int(u[0].split()[4].rstrip(b"]")) if u else 0
    r = c.command("UID SEARCH ALL")
    t.like(r.all_text(), r"SEARCH %d %d %d %d" % (old[0], old[1], old[2],
                                                  nu),
           "... the replaced message is gone, the new one there")
    r, f = c.fetch(str(nu), "(FLAGS BODY.PEEK[])", uid=True)
    v = list(f.values())[0] if f else {}
    t.is_(v.get("BODY[]"), new, "... with the new text")
    t.ok("\\Draft" in v.get("FLAGS", []), "... and its flags")

    # UID REPLACE into another mailbox, QRESYNC: VANISHED.
    c.command("ENABLE QRESYNC")
    before = status(c, "Trash")
    r = c.command_literal("UID REPLACE %d Trash" % old[0], new, plus=True)
    t.is_(r.status, "OK", "UID REPLACE into another mailbox: OK")
    t.like(r.untagged[0] if r.untagged else b"",
           rb"^\* OK \[APPENDUID \d+ \d+\]", "... APPENDUID")
    t.is_(r.untagged[1:], [b"* VANISHED %d" % old[0]],
          "... then VANISHED (QRESYNC), no EXISTS here")
    t.is_(status(c, "Trash")[0], before[0] + 1, "... the message is in "
          "Trash")
    r = c.command_literal("REPLACE * Notes", simple("last"), plus=True)
    t.is_(r.status, "OK", "REPLACE * (the last message): OK")

    # Refusals: nothing appended, nothing expunged.
    before = status(c, "Notes")
    r = c.command_literal("REPLACE 99 Notes", new, plus=True)
    t.is_(r.status, "BAD", "REPLACE of a sequence number past the end: BAD")
    r = c.command_literal("UID REPLACE 999999 Notes", new, plus=True)
    t.is_(r.status, "NO", "UID REPLACE of a UID not there: NO")
    r = c.command_literal("REPLACE 1 NoSuchBox", new)
    t.is_((r.status, r.code, r.conts), ("NO", "TRYCREATE", []),
          "REPLACE into no mailbox: NO [TRYCREATE] before the literal")
    r = c.command_literal("REPLACE 1 Notes", b"x" * (LIMIT + 1))
    t.is_((r.status, r.code), ("NO", "TOOBIG"), "REPLACE over APPENDLIMIT: "
          "NO [TOOBIG]")
    r = multi(c, b"REPLACE 1 Notes ", [seg(new), seg(new)], plus=True)
    t.is_(r.status, "BAD", "REPLACE of two messages: BAD")
    r = c.command("REPLACE 1 Notes CATENATE (URL \"/Notes/;UID=1\")")
    t.is_((r.status, (r.code or "").split(" ")[0]), ("NO", "BADURL"),
          "REPLACE with a bad CATENATE URL: NO [BADURL]")
    t.is_(status(c, "Notes"), before, "none of them changed the mailbox")
    c.select("Notes", examine=True)
    r = c.command_literal("REPLACE 1 Notes", new, plus=True)
    t.is_((r.status, r.code), ("NO", "READ-ONLY"),
          "REPLACE in an EXAMINEd mailbox: NO [READ-ONLY]")
    c.command("UNSELECT")
    r = c.command_literal("REPLACE 1 Notes", new, plus=True)
    t.is_(r.status, "BAD", "REPLACE without a selected mailbox: BAD")
    t.is_(status(c, "Notes"), before, "... the mailbox is unchanged")
    usable(c, "REPLACE refusals")


# -- RFC 7888 --

def rfc7888(m, c):
    caps = c.capabilities()
    t.ok("LITERAL+" in caps and "LITERAL-" not in caps,
         "LITERAL+ advertised, LITERAL- not with it (RFC 7888 5)")
    d = m.imap_connect()
    d.send(b"A001 LOGIN {17+}\r\nalice@example.org {13+}\r\n"
           b"alice-imap-pw\r\n")
    r = d._collect("A001", None)
    t.is_(r.status, "OK", "RFC 7888 3's example: LOGIN with two "
          "non-synchronizing literals")
    before = status(d, "INBOX")
    # A non-synchronizing literal over the limit is read and refused.
    d.send(b"A002 APPEND INBOX {%d+}\r\n" % (LIMIT + 1) +
           b"a" * (LIMIT + 1) + b" {12+}\r\nz3 LOGOUT\r\n\r\n")
    r = d._collect("A002", None)
    t.is_((r.status, r.code), ("NO", "TOOBIG"),
          "APPEND with a non-synchronizing literal over APPENDLIMIT: "
          "NO [TOOBIG]")
    t.is_(status(d, "INBOX"), before, "... nothing added")
    usable(d, "a refused non-synchronizing literal (it and the next "
           "one were skipped, not run)")
    d.send(b"A003 SEARCH TEXT {70000+}\r\n" + b"s" * 70000 + b"\r\n")
    r = d._collect("A003", None)
    t.is_((r.status, r.code), ("BAD", "TOOBIG"),
          "a non-synchronizing literal over the limit outside APPEND: "
          "BAD [TOOBIG]")
    usable(d, "it")
    d.send(b"A004 APPEND INBOX {%d+}\r\n" % (50 * LIMIT))
    r = d._collect("A004", None)
    t.is_((r.status, r.code), ("NO", "TOOBIG"), "one far over it: NO "
          "[TOOBIG]")
    t.ok(r.find(rb"^\* BYE \[TOOBIG\]"), "... and BYE [TOOBIG]: it is "
         "not read (RFC 7888 4)")
    d.close()


# -- bounds --

def bounds(m, c):
    c.command("CREATE Many")
    imap = [p for p in m.children() if t.proc_comm(p) == "maild-imap"]
    hwm0 = int(t.proc_status(imap[0])["VmHWM"].split()[0]) if imap else 0
    n, size = 400, 16 * 1024
    msgs = [simple("m%03d" % i, (b"%03d" % i) * (size // 3) + b"\r\n")
            for i in range(n)]
    r = multi(c, b"APPEND Many ", [seg(x, b" (\\Seen) ") for x in msgs],
              plus=True)
    t.is_(r.status, "OK", "MULTIAPPEND of %d messages, %d KiB in all "
          "(over APPENDLIMIT together): OK" % (n, n * size // 1024))
    u = uids_of(r.code) if r.status == "OK" else []
    t.is_(len(u), n, "... APPENDUID names %d UIDs" % n)
    t.is_(status(c, "Many")[0], n, "... all are there")
    hwm1 = int(t.proc_status(imap[0])["VmHWM"].split()[0]) if imap else 0
    t.diag("imap process VmHWM %d -> %d KiB" % (hwm0, hwm1))
    if sanitized():
        t.skip("AddressSanitizer's quarantine keeps freed memory")
    else:
        t.ok(hwm1 - hwm0 < n * size // 1024 // 2,
             "... the imap process did not hold them in memory (VmHWM "
             "+%d KiB)" % (hwm1 - hwm0))
    if u:
        t.is_(body_of(c, "Many", u[-1]), msgs[-1], "... the last as sent")
        c.command("UNSELECT")
    r = c.command("APPEND Many (\\Bogus) {1+}\r\nx")
    t.is_(r.status, "BAD", "an unknown system flag: BAD")
    r = c.command('APPEND Many "31-Foo-2026 10:00:00 +0100" {1+}\r\nx')
    t.is_(r.status, "BAD", "an invalid date: BAD")
    r = c.command("APPEND Many () \"01-Jan-2026 10:00:00 +0000\"")
    t.is_(r.status, "BAD", "no message after flags and date: BAD")
    r = c.command("APPEND Many {1+}\r\nx (\\Seen)")
    t.is_(r.status, "BAD", "flags without a message after them: BAD")
    t.is_(disk(m)["tmp"], [], "nothing left in INBOX's tmp/")
    t.is_(disk(m, "Many")["tmp"], [], "nor in the folder's")
    usable(c, "bad APPEND arguments")


def main():
    m = t.Maild(imap=True)
    m.start()
    c = m.imap_login()
    caps = c.capabilities()
    for cap in CAPS:
        t.ok(cap in caps, "CAPABILITY has %s" % cap)
    c.command("CREATE saved-messages")
    t.section(bounds, m, c)         # first: the imap process is fresh
    t.section(rfc3502, m, c)
    t.section(atomic, m, c)
    t.section(rfc4469, m, c)
    t.section(rfc3516, m, c)
    t.section(rfc8508, m, c)
    t.section(rfc7888, m, c)
    c.logout()
    t.ok(m.running(), "maild still running")
    t.ok(m.stop(), "maild stops cleanly")


t.run(main)
