#!/usr/bin/env python3
# IMAP messages (issue 3): APPEND (flags, date, synchronizing literal,
# LITERAL+, APPENDUID, TRYCREATE, TOOBIG over APPENDLIMIT with the
# session still usable), SELECT and EXAMINE responses, FETCH of every
# item family (FLAGS, INTERNALDATE, RFC822.SIZE, ENVELOPE, BODYSTRUCTURE
# of a multipart, BODY[HEADER.FIELDS], BODY.PEEK[n], partial BODY[]<>,
# RFC822.*, BINARY of a base64 part, macros), \Seen set by BODY[] and
# not by BODY.PEEK, SEARCH keys (flags, headers, BODY/TEXT, dates,
# sizes, OR/NOT/lists, UID and sequence sets, CHARSET UTF-8) and
# ESEARCH RETURN (MIN MAX COUNT ALL), with imaplib and a raw client.
import base64
import imaplib
import os
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

ATTACH = bytes(range(256)) * 3          # binary attachment content

MSG_PLAIN = (
    b"From: Alice Example <alice@example.org>\r\n"
    b"To: Bob <bob@example.org>, carol@example.net\r\n"
    b"Cc: \"Dave D.\" <dave@example.com>\r\n"
    b"Subject: Plain one\r\n"
    b"Date: Mon, 2 Feb 2026 09:30:00 +0100\r\n"
    b"Message-ID: <plain.1@example.org>\r\n"
    b"X-Tracker: zebra-42\r\n"
    b"\r\n"
    b"The quick brown fox jumps over the lazy dog.\r\n"
    b"Unique body word: xylophone.\r\n")

MSG_MULTI = (
    b"From: sender@client.test\r\n"
    b"To: alice@example.org\r\n"
    b"Subject: Multipart report\r\n"
    b"Date: Tue, 3 Feb 2026 10:00:00 +0000\r\n"
    b"Message-ID: <multi.1@client.test>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"b1-outer\"\r\n"
    b"\r\n"
    b"This is the preamble.\r\n"
    b"--b1-outer\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"\r\n"
    b"Text part of the report.\r\n"
    b"--b1-outer\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"<p>HTML part =C3=A9t=C3=A9</p>\r\n"
    b"--b1-outer\r\n"
    b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
    b"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n" +
    b"\r\n".join(base64.encodebytes(ATTACH).rstrip(b"\n").split(b"\n")) +
    b"\r\n--b1-outer--\r\n"
    b"Epilogue.\r\n")

MSG_UTF8 = (
    b"From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.net>\r\n"
    b"To: alice@example.org\r\n"
    b"Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\r\n"
    b"Date: Wed, 4 Feb 2026 11:00:00 +0000\r\n"
    b"Message-ID: <utf8.1@example.net>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Viele Gr\xc3\xbc\xc3\x9fe, stra\xc3\x9fe.\r\n")

MSG_BIG = (
    b"From: big@client.test\r\n"
    b"To: alice@example.org\r\n"
    b"Subject: Big one\r\n"
    b"Date: Thu, 5 Feb 2026 12:00:00 +0000\r\n"
    b"Message-ID: <big.1@client.test>\r\n"
    b"\r\n" + (b"0123456789" * 7 + b"\r\n") * 300)

MSG_OLD = (
    b"From: old@client.test\r\n"
    b"To: alice@example.org\r\n"
    b"Subject: Old news\r\n"
    b"Date: Fri, 3 Jan 2020 08:00:00 +0000\r\n"
    b"Message-ID: <old.1@client.test>\r\n"
    b"\r\n"
    b"From the archive.\r\n")

DATES = {
    "plain": "02-Feb-2026 09:30:00 +0100",
    "multi": "03-Feb-2026 10:00:00 +0000",
    "utf8": "04-Feb-2026 11:00:00 +0000",
    "big": "05-Feb-2026 12:00:00 +0000",
    "old": "03-Jan-2020 08:00:00 +0000",
}


def parse_idate(s):
    """INTERNALDATE string -> UTC timestamp."""
    if isinstance(s, bytes):
        s = s.decode()
    tt = imaplib.Internaldate2tuple(('INTERNALDATE "%s"' % s).encode())
    return time.mktime(tt) if tt else None


def appends(m, c):
    """Fill INBOX: returns {name: uid}."""
    uids = {}
    # 1. synchronizing literal, flags and date
    r = c.command_literal('APPEND INBOX (\\Seen $Work) "%s"'
                          % DATES["plain"], MSG_PLAIN)
    t.is_(r.status, "OK", "APPEND with a synchronizing literal: OK")
    t.ok(r.conts and r.conts[0].startswith(b"+"),
         "the server asked for the literal with +")
    code = (r.code or "").split()
    t.ok(len(code) == 3 and code[0] == "APPENDUID",
         "APPEND: [APPENDUID uidvalidity uid] (%s)" % r.code)
    uidvalidity = int(code[1]) if len(code) == 3 else None
    uids["plain"] = int(code[2]) if len(code) == 3 else None
    # 2. LITERAL+: no continuation
    r = c.command_literal('APPEND INBOX "%s"' % DATES["multi"], MSG_MULTI,
                          plus=True)
    t.is_(r.status, "OK", "APPEND with LITERAL+: OK")
    t.is_(r.conts, [], "LITERAL+: no continuation request")
    code = (r.code or "").split()
    uids["multi"] = int(code[2]) if len(code) == 3 else None
    t.is_(code[1:2], [str(uidvalidity)], "same UIDVALIDITY in APPENDUID")
    t.ok(uids["multi"] and uids["plain"] and uids["multi"] > uids["plain"],
         "UIDs ascend")
    for name, msg in (("utf8", MSG_UTF8), ("big", MSG_BIG),
                      ("old", MSG_OLD)):
        r = c.command_literal('APPEND INBOX () "%s"' % DATES[name], msg,
                              plus=True)
        code = (r.code or "").split()
        uids[name] = int(code[2]) if len(code) == 3 else None
        t.is_(r.status, "OK", "APPEND %s" % name)

    r = c.command_literal("APPEND No/Such/Box", b"Subject: x\r\n\r\ny\r\n",
                          plus=True)
    t.is_((r.status, r.code), ("NO", "TRYCREATE"),
          "APPEND to a missing mailbox: NO [TRYCREATE]")
    r = c.command_literal('APPEND INBOX (\\Bogus)', b"Subject: x\r\n\r\ny\r\n",
                          plus=True)
    t.ok(r.status in ("NO", "BAD"), "APPEND with an unknown system flag "
         "refused")
    r = c.command_literal('APPEND INBOX "2026-02-01 10:00:00"',
                          b"Subject: x\r\n\r\ny\r\n", plus=True)
    t.is_(r.status, "BAD", "APPEND with an invalid date: BAD")

    # APPENDLIMIT: a synchronizing literal over the limit is refused
    # before the data is sent; the session stays usable.
    # (in Junk, so that INBOX's contents do not depend on it)
    r = c.command_literal("APPEND Junk", b"x" * (1048576 + 1))
    t.is_(r.status, "NO", "APPEND over APPENDLIMIT: NO")
    t.is_(r.code, "TOOBIG", "... [TOOBIG]")
    t.is_(r.conts, [], "... without asking for the literal")
    r = c.command("NOOP")
    t.is_(r.status, "OK", "the session is still usable after TOOBIG")
    # A message of exactly the limit is accepted.
    exact = b"Subject: exact\r\n\r\n"
    exact += b"y" * (1048576 - len(exact))
    r = c.command_literal("APPEND Junk", exact)
    t.is_(r.status, "OK", "APPEND of exactly APPENDLIMIT bytes: OK")
    code = (r.code or "").split()
    c.select("Junk")
    r, f = c.fetch(code[2] if len(code) == 3 else "1", "(RFC822.SIZE)",
                   uid=True)
    vals = list(f.values())
    t.is_(vals[0].get("RFC822.SIZE") if vals else None, "1048576",
          "the APPENDLIMIT-sized message has its full size")
    r = c.command("UNSELECT")
    return uidvalidity, uids


def imaplib_append(m):
    M = m.imaplib()
    msg = (b"From: lib@client.test\r\nSubject: via imaplib\r\n"
           b"Date: Thu, 1 Jan 2026 12:00:00 +0000\r\n"
           b"Message-ID: <lib.1@client.test>\r\n\r\nimaplib body\r\n")
    typ, dat = M.append("INBOX", r"(\Flagged \Draft)",
                        imaplib.Time2Internaldate(1767268800), msg)
    t.is_(typ, "OK", "imaplib APPEND with flags and date: OK")
    code = dat[0].split(b"]")[0].split() if dat and dat[0] else []
    uid = int(code[2]) if len(code) == 3 else 0
    M.select("INBOX", readonly=True)
    typ, dat = M.search(None, "HEADER", "Message-ID", "<lib.1@client.test>")
    n = dat[0].split()[-1] if typ == "OK" and dat[0] else b"*"
    typ, dat = M.fetch(n, "(FLAGS INTERNALDATE)")
    raw = dat[0] if dat else b""
    t.like(raw, rb"\\Flagged", "imaplib APPEND: \\Flagged kept")
    t.like(raw, rb"\\Draft", "imaplib APPEND: \\Draft kept")
    t.is_(parse_idate(raw.split(b'INTERNALDATE "')[1].split(b'"')[0])
          if b'INTERNALDATE "' in raw else None, 1767268800.0,
          "imaplib APPEND: INTERNALDATE kept")
    M.logout()
    return uid


def select_examine(c, uidvalidity, uids):
    r = c.select("INBOX")
    t.is_(r.status, "OK", "SELECT INBOX: OK")
    t.like(r.raw, rb"^\S+ OK \[READ-WRITE\]", "SELECT: [READ-WRITE]")
    exists = t.untagged_numbers(r.untagged, "EXISTS")
    t.is_(exists, [6], "SELECT: * 6 EXISTS")
    t.ok(t.untagged_numbers(r.untagged, "RECENT") != [],
         "SELECT: * n RECENT")
    t.ok(r.find(rb"^\* OK \[UIDVALIDITY %d\]" % uidvalidity),
         "SELECT: UIDVALIDITY as in APPENDUID")
    t.ok(r.find(rb"^\* OK \[UIDNEXT %d\]" % (max(uids.values()) + 1)),
         "SELECT: UIDNEXT = last APPENDUID + 1")
    fl = r.find(rb"^\* FLAGS \(")
    t.ok(fl and all(x in fl[0] for x in (b"\\Seen", b"\\Answered",
                                           b"\\Flagged", b"\\Deleted",
                                           b"\\Draft", b"$Work")),
         "SELECT: FLAGS has the system flags and the keyword $Work")
    pf = r.find(rb"^\* OK \[PERMANENTFLAGS \(")
    t.ok(pf and b"\\*" in pf[0] and b"\\Seen" in pf[0],
         "SELECT: PERMANENTFLAGS with \\* (new keywords allowed)")
    t.ok(r.find(rb"^\* OK \[UNSEEN 2\]"),
         "SELECT: [UNSEEN 2] (first unseen message)")
    r = c.select("INBOX", extra=" (CONDSTORE)")
    t.is_(r.status, "OK", "SELECT INBOX (CONDSTORE): OK")
    t.ok(r.find(rb"^\* OK \[HIGHESTMODSEQ \d+\]"),
         "SELECT (CONDSTORE): HIGHESTMODSEQ")
    r = c.select("INBOX", examine=True)
    t.like(r.raw, rb"^\S+ OK \[READ-ONLY\]", "EXAMINE: [READ-ONLY]")
    t.is_(t.untagged_numbers(r.untagged, "EXISTS"), [6], "EXAMINE: EXISTS")
    t.ok(r.find(rb"^\* OK \[HIGHESTMODSEQ \d+\]"),
         "EXAMINE after CONDSTORE was enabled: HIGHESTMODSEQ")
    r = c.command("STORE 1 +FLAGS (\\Flagged)")
    t.ok(r.status == "NO" or not r.find(rb"Flagged"),
         "STORE in an EXAMINEd mailbox: refused or without effect")
    r = c.command("EXPUNGE")
    t.ok(r.status == "NO" or not r.find(rb"EXPUNGE"),
         "EXPUNGE in an EXAMINEd mailbox: refused or without effect")
    r, f = c.fetch("1", "(FLAGS)")
    t.ok("\\Flagged" not in f.get(1, {}).get("FLAGS", ["\\Flagged"]),
         "no flag changed through EXAMINE")
    r = c.select("No/Such")
    t.is_(r.status, "NO", "SELECT of a missing mailbox: NO")
    r = c.command("NOOP")
    t.ok(r.status == "OK", "after a failed SELECT: no mailbox selected, "
         "session fine")
    r = c.command("FETCH 1 FLAGS")
    t.ok(r.status in ("NO", "BAD"), "failed SELECT deselects (FETCH "
         "refused)")


def fetches(c, uids):
    c.select("INBOX")
    seq = {name: None for name in uids}
    r, f = c.fetch("1:*", "(UID)")
    for n, d in f.items():
        for name, u in uids.items():
            if d.get("UID") == str(u):
                seq[name] = n
    t.is_(sorted(n for n in seq.values() if n), list(range(1, 7)),
          "FETCH 1:* (UID): the six appended messages, by their UIDs")

    p = seq["plain"]
    r, f = c.fetch(p, "(FLAGS INTERNALDATE RFC822.SIZE UID)")
    d = f.get(p, {})
    t.is_(sorted(d.get("FLAGS", [])), ["$Work", "\\Seen"],
          "FLAGS as appended")
    t.is_(parse_idate(d.get("INTERNALDATE")),
          parse_idate(DATES["plain"]), "INTERNALDATE as appended")
    t.is_(d.get("RFC822.SIZE"), str(len(MSG_PLAIN)), "RFC822.SIZE")
    t.is_(d.get("UID"), str(uids["plain"]), "UID")

    r, f = c.fetch(p, "(ENVELOPE)")
    env = f.get(p, {}).get("ENVELOPE")
    ok = isinstance(env, list) and len(env) == 10
    t.ok(ok, "ENVELOPE has 10 fields")
    if ok:
        t.is_(env[0], b"Mon, 2 Feb 2026 09:30:00 +0100", "ENVELOPE date")
        t.is_(env[1], b"Plain one", "ENVELOPE subject")
        t.is_(env[2], [[b"Alice Example", None, b"alice", b"example.org"]],
              "ENVELOPE from")
        t.is_(env[3], env[2], "ENVELOPE sender defaults to from")
        t.is_(env[4], env[2], "ENVELOPE reply-to defaults to from")
        t.is_(env[5], [[b"Bob", None, b"bob", b"example.org"],
                       [None, None, b"carol", b"example.net"]],
              "ENVELOPE to (two addresses)")
        t.is_(env[6], [[b"Dave D.", None, b"dave", b"example.com"]],
              "ENVELOPE cc (quoted display name)")
        t.is_(env[7], None, "ENVELOPE bcc NIL")
        t.is_(env[8], None, "ENVELOPE in-reply-to NIL")
        t.is_(env[9], b"<plain.1@example.org>", "ENVELOPE message-id")

    r, f = c.fetch(p, "(BODY.PEEK[HEADER.FIELDS (SUBJECT X-TRACKER)])")
    t.is_(f.get(p, {}).get("BODY[HEADER.FIELDS (SUBJECT X-TRACKER)]"),
          b"Subject: Plain one\r\nX-Tracker: zebra-42\r\n\r\n",
          "BODY[HEADER.FIELDS (SUBJECT X-TRACKER)]")
    r, f = c.fetch(p, "(BODY.PEEK[HEADER.FIELDS.NOT (FROM TO CC DATE "
                      "MESSAGE-ID X-TRACKER)])")
    vals = list(f.get(p, {}).values())
    t.is_(vals[0] if vals else None, b"Subject: Plain one\r\n\r\n",
          "BODY[HEADER.FIELDS.NOT (...)]")
    hdr, _, text = MSG_PLAIN.partition(b"\r\n\r\n")
    r, f = c.fetch(p, "(RFC822.HEADER RFC822.TEXT)")
    t.is_(f.get(p, {}).get("RFC822.HEADER"), hdr + b"\r\n\r\n",
          "RFC822.HEADER")
    t.is_(f.get(p, {}).get("RFC822.TEXT"), text, "RFC822.TEXT")
    r, f = c.fetch(p, "(BODY.PEEK[TEXT] BODY.PEEK[HEADER])")
    t.is_(f.get(p, {}).get("BODY[TEXT]"), text, "BODY[TEXT]")
    t.is_(f.get(p, {}).get("BODY[HEADER]"), hdr + b"\r\n\r\n",
          "BODY[HEADER]")
    r, f = c.fetch(p, "(RFC822)")
    t.is_(f.get(p, {}).get("RFC822"), MSG_PLAIN, "RFC822 is the message")

    # Multipart: BODYSTRUCTURE, parts, partial, \Seen side effect
    mm = seq["multi"]
    r, f = c.fetch(mm, "(BODYSTRUCTURE)")
    bs = f.get(mm, {}).get("BODYSTRUCTURE")
    ok = isinstance(bs, list) and len(bs) >= 4
    t.ok(ok, "BODYSTRUCTURE of a multipart is a list")
    if ok:
        parts = []
        for x in bs:
            if not isinstance(x, list):
                break
            parts.append(x)
        t.is_(len(parts), 3, "BODYSTRUCTURE: three parts")
        sub = [x for x in bs if isinstance(x, bytes)]
        t.is_(sub[0].upper() if sub else None, b"MIXED",
              "BODYSTRUCTURE: subtype MIXED")
        if len(parts) == 3:
            t.is_([(x[0].upper(), x[1].upper()) for x in parts],
                  [(b"TEXT", b"PLAIN"), (b"TEXT", b"HTML"),
                   (b"APPLICATION", b"OCTET-STREAM")], "part types")
            t.is_([x[5].upper() for x in parts],
                  [b"7BIT", b"QUOTED-PRINTABLE", b"BASE64"],
                  "part encodings")
            # The CRLF before a boundary belongs to the boundary.
            t.is_(parts[0][6], str(len(b"Text part of the report.")),
                  "text part size")
            t.ok(parts[0][7] in ("0", "1"), "text part lines")
            ext = bs[4] if len(bs) > 4 and isinstance(bs[4], list) else []
            params = {ext[i].upper(): ext[i + 1]
                      for i in range(0, len(ext) - 1, 2)}
            t.is_(params.get(b"BOUNDARY"), b"b1-outer",
                  "BODYSTRUCTURE extension: the boundary parameter")
            disp = parts[2][8] if len(parts[2]) > 8 else None
            t.ok(isinstance(disp, list) and disp[0].upper() == b"ATTACHMENT",
                 "attachment part: disposition ATTACHMENT")
    r, f = c.fetch(mm, "(BODY)")
    t.ok(isinstance(f.get(mm, {}).get("BODY"), list),
         "BODY (non-extensible BODYSTRUCTURE)")
    r, f = c.fetch(mm, "(BODY.PEEK[1] BODY.PEEK[2] BODY.PEEK[1.MIME])")
    d = f.get(mm, {})
    t.is_(d.get("BODY[1]"), b"Text part of the report.",
          "BODY.PEEK[1]: the text part")
    t.is_(d.get("BODY[2]"), b"<p>HTML part =C3=A9t=C3=A9</p>",
          "BODY.PEEK[2]: the html part, still encoded")
    t.is_(d.get("BODY[1.MIME]"),
          b"Content-Type: text/plain; charset=us-ascii\r\n\r\n",
          "BODY[1.MIME]")
    r, f = c.fetch(mm, "(BINARY.PEEK[3] BINARY.SIZE[3])")
    t.is_(f.get(mm, {}).get("BINARY[3]"), ATTACH,
          "BINARY[3]: the base64 attachment decoded")
    t.is_(f.get(mm, {}).get("BINARY.SIZE[3]"), str(len(ATTACH)),
          "BINARY.SIZE[3]")
    r, f = c.fetch(mm, "(BINARY.PEEK[1])")
    t.is_(f.get(mm, {}).get("BINARY[1]"), b"Text part of the report.",
          "BINARY[1] of a 7bit part")
    r, f = c.fetch(mm, "(FLAGS)")
    t.ok("\\Seen" not in f.get(mm, {}).get("FLAGS", []),
         "BODY.PEEK / BINARY.PEEK did not set \\Seen")
    r, f = c.fetch(mm, "(BODY[]<0.10>)")
    d = f.get(mm, {})
    t.is_(d.get("BODY[]<0>"), MSG_MULTI[:10], "BODY[]<0.10>: 10 bytes")
    r, f = c.fetch(mm, "(BODY.PEEK[]<20.15>)")
    t.is_(f.get(mm, {}).get("BODY[]<20>"), MSG_MULTI[20:35],
          "BODY.PEEK[]<20.15>")
    r, f = c.fetch(mm, "(BODY.PEEK[]<%d.100>)" % (len(MSG_MULTI) - 5))
    t.is_(f.get(mm, {}).get("BODY[]<%d>" % (len(MSG_MULTI) - 5)),
          MSG_MULTI[-5:], "partial past the end: the rest")
    r, f = c.fetch(mm, "(FLAGS)")
    t.ok("\\Seen" in f.get(mm, {}).get("FLAGS", []),
         "BODY[] (not PEEK) set \\Seen")

    # Macros and several messages
    r, f = c.fetch("1:*", "FAST")
    t.ok(len(f) == 6 and all({"FLAGS", "INTERNALDATE", "RFC822.SIZE"}
                             <= set(d) for d in f.values()),
         "FETCH 1:* FAST: FLAGS INTERNALDATE RFC822.SIZE for all")
    r, f = c.fetch(p, "ALL")
    t.ok({"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"} <=
         set(f.get(p, {})), "FETCH ALL")
    r, f = c.fetch(p, "FULL")
    t.ok({"ENVELOPE", "BODY"} <= set(f.get(p, {})), "FETCH FULL")
    r, f = c.fetch("%d" % uids["big"], "(RFC822.SIZE)", uid=True)
    vals = list(f.values())
    t.ok(vals and vals[0].get("UID") == str(uids["big"]),
         "UID FETCH returns the UID item unasked")
    t.is_(vals[0].get("RFC822.SIZE") if vals else None,
          str(len(MSG_BIG)), "UID FETCH RFC822.SIZE")
    r, f = c.fetch("999", "(UID)", uid=True)
    t.is_((r.status, f), ("OK", {}), "UID FETCH of a missing UID: OK, "
          "nothing")
    r = c.command("FETCH 99 (UID)")
    t.ok(r.status in ("BAD", "NO"), "FETCH of a missing sequence "
         "number refused")
    r = c.command("FETCH 1 (NOSUCHITEM)")
    t.is_(r.status, "BAD", "FETCH of an unknown item: BAD")
    r = c.command("FETCH 1 (BODY[4.1.2.TEXT])")
    t.ok(r.status in ("OK", "NO"), "FETCH of a missing part answers")
    return seq


def search(c, seq, uids):
    c.select("INBOX")

    def s(crit, name=None):
        r = c.command("SEARCH " + crit)
        out = []
        for u in r.find(rb"^\* SEARCH"):
            out += [int(x) for x in u.split()[2:]]
        if r.status != "OK":
            t.diag("SEARCH %s: %s" % (crit, r.text))
        return sorted(out)

    def want(*names):
        return sorted(seq[n] for n in names)

    allmsgs = list(range(1, 7))
    t.is_(s("ALL"), allmsgs, "SEARCH ALL")
    t.is_(s("SEEN"), want("plain", "multi"), "SEARCH SEEN")
    t.is_(s("UNSEEN"), sorted(set(allmsgs) - set(want("plain", "multi"))),
          "SEARCH UNSEEN")
    t.is_(s("KEYWORD $Work"), want("plain"), "SEARCH KEYWORD $Work")
    t.is_(s("UNKEYWORD $Work SEEN"), want("multi"),
          "SEARCH UNKEYWORD + SEEN (AND)")
    t.is_(s("FLAGGED"), [6], "SEARCH FLAGGED (the imaplib APPEND)")
    t.is_(s("DRAFT"), [6], "SEARCH DRAFT")
    t.is_(s('FROM "alice example"'), want("plain"),
          "SEARCH FROM (display name, case-insensitive)")
    t.is_(s("TO bob@example.org"), want("plain"), "SEARCH TO")
    t.is_(s("CC dave"), want("plain"), "SEARCH CC")
    t.is_(s('SUBJECT "plain ONE"'), want("plain"), "SEARCH SUBJECT")
    t.is_(s("HEADER X-Tracker zebra"), want("plain"), "SEARCH HEADER")
    t.is_(s('HEADER Message-ID "<multi.1@client.test>"'), want("multi"),
          "SEARCH HEADER Message-ID")
    t.is_(s("HEADER X-Tracker \"\""), want("plain"),
          "SEARCH HEADER with an empty string: field present")
    t.is_(s("BODY xylophone"), want("plain"), "SEARCH BODY")
    t.is_(s("BODY zebra-42"), [], "SEARCH BODY does not look at headers")
    t.is_(s("TEXT zebra-42"), want("plain"), "SEARCH TEXT includes headers")
    t.is_(s("TEXT XYLOPHONE"), want("plain"), "SEARCH TEXT case-insensitive")
    t.is_(s("SINCE 1-Jan-2025"), sorted(set(allmsgs) - {seq["old"]}),
          "SEARCH SINCE (internal date)")
    t.is_(s("BEFORE 1-Jan-2025"), want("old"), "SEARCH BEFORE")
    t.is_(s("ON 3-Feb-2026"), want("multi"), "SEARCH ON")
    t.is_(s("SENTBEFORE 1-Jan-2021"), want("old"), "SEARCH SENTBEFORE")
    t.is_(s("SENTSINCE 4-Feb-2026 SENTBEFORE 5-Feb-2026"), want("utf8"),
          "SEARCH SENTSINCE + SENTBEFORE")
    t.is_(s("LARGER 20000 SMALLER 100000"), want("big"),
          "SEARCH LARGER / SMALLER")
    t.is_(s("OR SUBJECT plain SUBJECT big"), want("plain", "big"),
          "SEARCH OR")
    t.is_(s("NOT SEEN NOT FLAGGED SMALLER 100000"), want("utf8", "big",
                                                         "old"),
          "SEARCH NOT")
    t.is_(s("(OR FROM old FROM big) (LARGER 1000)"), want("big"),
          "SEARCH with a parenthesized list")
    t.is_(s("2:4"), [2, 3, 4], "SEARCH sequence set")
    t.is_(s("5:*"), [5, 6], "SEARCH n:*")
    t.is_(s("UID %d:%d" % (uids["multi"], uids["big"])),
          want("multi", "utf8", "big"), "SEARCH UID range")
    t.is_(s("UID 9999:*"), [6], "SEARCH UID 9999:* is the last message")

    # CHARSET UTF-8 with literals; encoded words decoded
    r = c.command_literal("SEARCH CHARSET UTF-8 BODY", "Grüße".encode())
    got = [int(x) for u in r.find(rb"^\* SEARCH") for x in u.split()[2:]]
    t.is_(got, want("utf8"), "SEARCH CHARSET UTF-8 BODY (8bit body)")
    r = c.command_literal("SEARCH CHARSET UTF-8 SUBJECT", "köln".encode(),
                          plus=True)
    got = [int(x) for u in r.find(rb"^\* SEARCH") for x in u.split()[2:]]
    t.is_(got, want("utf8"), "SEARCH SUBJECT matches a decoded "
          "encoded-word, case-insensitively")
    r = c.command_literal("SEARCH CHARSET UTF-8 FROM", "Müller".encode(),
                          plus=True)
    got = [int(x) for u in r.find(rb"^\* SEARCH") for x in u.split()[2:]]
    t.is_(got, want("utf8"), "SEARCH FROM matches a decoded display name")
    r = c.command("SEARCH CHARSET X-NO-SUCH-CHARSET BODY x")
    t.is_(r.status, "NO", "SEARCH with an unknown charset: NO")
    t.like(r.code or "", r"^BADCHARSET", "... [BADCHARSET]")
    r = c.command("SEARCH FROBNICATE")
    t.is_(r.status, "BAD", "SEARCH with an unknown key: BAD")

    r = c.command("UID SEARCH SUBJECT big")
    got = [int(x) for u in r.find(rb"^\* SEARCH") for x in u.split()[2:]]
    t.is_(got, [uids["big"]], "UID SEARCH answers UIDs")

    # ESEARCH (RFC 4731)
    r = c.command("SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN")
    es = r.find(rb"^\* ESEARCH")
    t.ok(len(es) == 1 and not r.find(rb"^\* SEARCH"),
         "SEARCH RETURN: one ESEARCH, no SEARCH")
    tagm = r.raw.split()[0]
    e = t.imap_parse(es[0][9:]) if es else []
    t.ok(e and isinstance(e[0], list) and len(e[0]) == 2 and
         str(e[0][0]).upper() == "TAG" and e[0][1] == tagm,
         "ESEARCH carries (TAG \"<the command's tag>\")")
    kv = {e[i].upper(): e[i + 1] for i in range(1, len(e) - 1, 2)
          if isinstance(e[i], str)}
    unseen = sorted(set(allmsgs) - set(want("plain", "multi")))
    t.is_(kv.get("MIN"), str(min(unseen)), "ESEARCH MIN")
    t.is_(kv.get("MAX"), str(max(unseen)), "ESEARCH MAX")
    t.is_(kv.get("COUNT"), str(len(unseen)), "ESEARCH COUNT")
    t.is_(t.uid_set(kv.get("ALL", "0")), unseen, "ESEARCH ALL (a set)")
    r = c.command("UID SEARCH RETURN (COUNT) ALL")
    es = r.find(rb"^\* ESEARCH")
    t.like(es[0] if es else b"", rb"^\* ESEARCH \(TAG \"[^\"]+\"\) UID "
           rb"COUNT 6$", "UID SEARCH RETURN (COUNT): UID marker, COUNT 6")
    r = c.command("SEARCH RETURN () SUBJECT big")
    es = r.find(rb"^\* ESEARCH")
    t.like(es[0] if es else b"", rb" ALL %d$" % seq["big"],
           "RETURN (): means ALL")
    r = c.command("SEARCH RETURN (MIN MAX) SUBJECT no-such-subject")
    es = r.find(rb"^\* ESEARCH")
    t.like(es[0] if es else b"", rb"^\* ESEARCH \(TAG \"[^\"]+\"\)$",
           "empty result: no MIN/MAX")


def rev2(m):
    # ENABLE IMAP4rev2 (RFC 9051): no RECENT or UNSEEN on SELECT, a LIST
    # line for the mailbox, and SEARCH answered with ESEARCH.
    c = m.imap_login()
    r = c.command("ENABLE IMAP4rev2")
    t.ok(r.find(rb"^\* ENABLED IMAP4rev2"), "ENABLE IMAP4rev2")
    r = c.command("SELECT INBOX")
    t.is_(r.status, "OK", "rev2 SELECT: OK")
    t.is_(r.find(rb"RECENT") + r.find(rb"\[UNSEEN "), [],
          "rev2 SELECT: no RECENT, no UNSEEN code")
    t.ok(r.find(rb'^\* LIST \(.*\) "/" "?INBOX"?$'),
         "rev2 SELECT: LIST line of the mailbox")
    r = c.command("SEARCH ALL")
    t.is_(r.find(rb"^\* SEARCH"), [], "rev2 SEARCH: no * SEARCH")
    t.ok(r.find(rb'^\* ESEARCH \(TAG "[^"]+"\) ALL 1:\d+$'),
         "rev2 SEARCH: * ESEARCH ... ALL set")
    c.logout()


def recent(m):
    # \Recent (RFC 3501 2.3.2) for IMAP4rev1 sessions: a new message is
    # recent in exactly one session, the first to SELECT (not EXAMINE)
    # its mailbox; the mark survives a restart of maild until taken.
    a = m.imap_login()
    t.is_(a.command('CREATE "Rec"').status, "OK", "recent: CREATE Rec")
    for i in range(2):
        t.is_(a.command_literal("APPEND Rec", b"Subject: r%d\r\n\r\nx\r\n"
                                % i).status, "OK", "recent: APPEND %d" % i)
    r = a.select("Rec", examine=True)
    t.is_(t.untagged_numbers(r.untagged, "RECENT"), [2],
          "EXAMINE: * 2 RECENT (not taken)")
    r = a.command("SEARCH RECENT")
    t.ok(r.find(rb"^\* SEARCH 1 2$"), "EXAMINE: SEARCH RECENT 1 2")
    a.command("CLOSE")
    r = a.command('STATUS "Rec" (RECENT MESSAGES)')
    t.is_(t.status_response(r.untagged).get("RECENT"), 2,
          "STATUS RECENT 2 after EXAMINE")
    m.stop()
    m.start()
    a = m.imap_login()
    b = m.imap_login()
    r = a.select("Rec")
    t.is_(t.untagged_numbers(r.untagged, "RECENT"), [2],
          "SELECT after a restart: * 2 RECENT (the mark was kept)")
    r, f = a.fetch("1:*", "(FLAGS)")
    t.ok(all("\\Recent" in f.get(i, {}).get("FLAGS", []) for i in (1, 2)),
         "FETCH FLAGS: \\Recent in the session that took them")
    r = b.select("Rec")
    t.is_(t.untagged_numbers(r.untagged, "RECENT"), [0],
          "a second session: * 0 RECENT")
    r = b.command("SEARCH NEW")
    t.ok(r.find(rb"^\* SEARCH$"), "second session: SEARCH NEW finds none")
    r = b.command("SEARCH OLD")
    t.ok(r.find(rb"^\* SEARCH 1 2$"), "second session: SEARCH OLD 1 2")
    # A message arriving while both have Rec selected: one of them.
    c = m.imap_login()
    t.is_(c.command_literal("APPEND Rec", b"Subject: r3\r\n\r\nx\r\n")
          .status, "OK", "recent: APPEND while selected")
    ra = a.command("NOOP")
    rb_ = b.command("NOOP")
    got = (t.untagged_numbers(ra.untagged, "RECENT") +
           t.untagged_numbers(rb_.untagged, "RECENT"))
    t.is_(sorted(got), [0, 3], "new message: recent in exactly one session "
          "(%s)" % got)
    r = c.command('STATUS "Rec" (RECENT)')
    t.is_(t.status_response(r.untagged).get("RECENT"), 0,
          "STATUS RECENT 0 once taken")
    d = m.imap_login()
    d.command("ENABLE IMAP4rev2")
    r = d.select("Rec")
    t.is_(r.find(rb"RECENT"), [], "IMAP4rev2: no RECENT")
    for x in (a, b, c, d):
        x.logout()


def main():
    m = t.Maild(imap=True)
    m.start()
    c = m.imap_login()
    uidvalidity, uids = appends(m, c)
    uids["lib"] = imaplib_append(m)
    t.section(select_examine, c, uidvalidity or 0, uids)
    seq = fetches(c, uids)
    t.section(search, c, seq, uids)
    t.section(rev2, m)
    t.is_(c.logout().status if c else None, "OK", "LOGOUT")
    t.section(recent, m)
    t.ok(m.running(), "maild still running")
    t.ok(m.stop(), "maild stops cleanly")


t.run(main)
