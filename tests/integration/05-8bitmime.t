#!/usr/bin/env python3
# 8BITMIME: a body of raw 8-bit bytes (and dot-stuffed lines, a long
# line, an empty last line) is stored byte for byte after the headers
# maild prepends.  SMTPUTF8: a UTF-8 sender and recipient are accepted.
import os
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402


def main():
    m = t.Maild().start()
    msgid = "8bit.%d@client.test" % os.getpid()
    high = bytes(b for b in range(0x80, 0x100))
    body = (b"caf\xc3\xa9 na\xc3\xafve \xe2\x82\xac 100\r\n"
            b"latin-1: \xe9\xe8\xe0\xff\r\n"
            b"all high bytes: " + high + b"\r\n"
            b".a line that starts with a dot\r\n"
            b"..two dots\r\n"
            b".\xff dot then high byte\r\n"
            b"tabs\tand  spaces \r\n"
            + b"x" * 998 + b"\r\n"          # the longest line (RFC 5322)
            b"\x7f\x01\x1b control bytes\r\n"
            b"\r\n"
            b"last line\r\n")
    original = t.make_message(msgid, subject="8bit caf\u00e9",
        extra=b"MIME-Version: 1.0\r\n"
              b"Content-Type: text/plain; charset=utf-8\r\n"
              b"Content-Transfer-Encoding: 8bit\r\n",
        body=body)

    c = m.connect()
    c.ehlo()
    t.ok("8BITMIME" in c.extensions, "8BITMIME offered")
    r = c.cmd("MAIL FROM:<sender@client.test> BODY=8BITMIME")
    t.is_(r.code, 250, "MAIL BODY=8BITMIME 250")
    r = c.cmd("RCPT TO:<alice@example.org>")
    t.is_(r.code, 250, "RCPT 250")
    r = c.cmd("DATA")
    t.is_(r.code, 354, "DATA 354")
    c.send(t.dot_stuff(original) + b".\r\n")
    r = c.reply(30)
    t.is_(r.code, 250, "8-bit message accepted")
    c.quit()

    md = m.maildir("alice")
    t.is_(md.wait(1, 5), 1, "delivered")
    msgs = md.messages()
    if msgs:
        prefix, rest = t.parse_message(msgs[0])
        t.is_([n for n, _ in prefix], ["return-path", "delivered-to",
                                       "received"],
              "prefix: Return-Path, Delivered-To, Received")
        t.ok(rest == original, "message stored byte for byte after the "
             "prefix headers")
        if rest != original:
            for i in range(min(len(rest), len(original))):
                if rest[i] != original[i]:
                    t.diag("first difference at byte %d: got %r expected %r"
                           % (i, rest[i:i + 40], original[i:i + 40]))
                    break
            t.diag("lengths: got %d expected %d" % (len(rest), len(original)))
        p = md.files("new")[0]
        mm = t.MAILDIR_NAME_RE.search(os.path.basename(p))
        t.ok(mm and int(mm.group(1)) == len(msgs[0]),
             ",S= in the name is the file size")

    # BODY=7BIT and an unknown BODY value
    c = m.connect()
    c.ehlo()
    r = c.cmd("MAIL FROM:<sender@client.test> BODY=7BIT")
    t.is_(r.code, 250, "MAIL BODY=7BIT 250")
    c.cmd("RSET")
    r = c.cmd("MAIL FROM:<sender@client.test> BODY=9BIT")
    t.ok(r.code in (501, 555) and r.enhanced,
         "MAIL BODY=9BIT refused with 501/555 and an enhanced code (%s)" % r)

    # SMTPUTF8: a UTF-8 sender with the SMTPUTF8 parameter
    c.cmd("RSET")
    t.ok("SMTPUTF8" in c.extensions, "SMTPUTF8 offered")
    sender = "j\u00f6rg@b\u00fccher.test"
    r = c.cmd(("MAIL FROM:<%s> SMTPUTF8 BODY=8BITMIME" % sender)
              .encode("utf-8"))
    t.is_(r.code, 250, "MAIL with a UTF-8 sender and SMTPUTF8: 250")
    r = c.cmd("RCPT TO:<alice@example.org>")
    t.is_(r.code, 250, "RCPT 250")
    r = c.cmd("DATA")
    msgid2 = "utf8.%d@client.test" % os.getpid()
    if r.code == 354:
        c.send(t.dot_stuff(("From: <%s>\r\nSubject: \u00fcml\u00e4ut\r\n"
                            "Message-ID: <%s>\r\n\r\nhi\r\n" %
                            (sender, msgid2)).encode("utf-8")) + b".\r\n")
        r = c.reply(30)
        t.is_(r.code, 250, "SMTPUTF8 message accepted")
    else:
        t.ok(False, "DATA 354 for the SMTPUTF8 message (%s)" % r)
    c.cmd("RSET")
    r = c.cmd(("MAIL FROM:<%s>" % sender).encode("utf-8"))
    t.ok(r.code >= 500 and r.enhanced,
         "UTF-8 sender without SMTPUTF8 refused (%s)" % r)
    c.quit()
    t.wait_until(lambda: md.count() >= 2, 5)
    utf = [x for x in md.messages() if msgid2.encode() in x]
    t.is_(len(utf), 1, "SMTPUTF8 message delivered")
    if utf:
        t.ok(utf[0].startswith(("Return-Path: <%s>\r\n" % sender)
                               .encode("utf-8")),
             "Return-Path keeps the UTF-8 sender")
    t.ok(m.stop(), "stops cleanly")


t.run(main)
