#!/usr/bin/env python3
# What a message may hold (issue 10, finding 9): a NUL byte anywhere is
# refused (550 5.6.0; RFC 5322 2.3), a line over 998 characters is
# refused (500 5.5.2; RFC 5322 2.1.1) unless "smtp limit max-line-length"
# allows more, the session goes on after either, and nothing of a refused
# message is kept.  A catch-all delivering to the recipient's own Maildir
# no longer makes a Maildir for every made-up name.
import os
import subprocess
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

VIRTUALS = t.DEFAULT_VIRTUALS + ("@example.com vmail\n"
                                 "named@example.com vmail\n")


def send_raw(c, body, rcpt="alice@example.org"):
    """One transaction with body sent as is (CRLF . CRLF added)."""
    c.cmd("MAIL FROM:<s@client.test>")
    c.cmd("RCPT TO:<%s>" % rcpt)
    r = c.cmd("DATA")
    if r.code != 354:
        return r
    c.send(body + b"\r\n.\r\n")
    return c.reply(30)


def head(tag):
    return b"Subject: %s\r\nMessage-ID: <%s@t>\r\n\r\n" % (tag, tag)


def main():
    m = t.Maild(virtuals=VIRTUALS, max_size="5M",
                domains=("example.org", "example.net", "example.com"))
    m.start()
    md = m.maildir("alice")
    with m.connect() as c:
        c.ehlo()
        r = send_raw(c, head(b"nul-body") + b"a\0b")
        t.is_((r.code, r.enhanced), (550, "5.6.0"), "NUL in the body: 550 "
              "5.6.0 (%s)" % r.text)
        r = send_raw(c, b"Subject: nul\0head\r\n\r\nx")
        t.is_(r.code, 550, "NUL in the header: 550")
        r = send_raw(c, head(b"long3m") + b"y" * (3 << 20))
        t.is_((r.code, r.enhanced), (500, "5.5.2"), "a 3 MB line: 500 "
              "5.5.2 (%s)" % r.text)
        r = send_raw(c, head(b"l999") + b"z" * 999)
        t.is_(r.code, 500, "a line of 999 characters: 500")
        r = send_raw(c, head(b"l998") + b"z" * 998)
        t.is_(r.code, 250, "a line of 998 characters: 250")
        r = send_raw(c, head(b"dot998") + b".." + b"d" * 997)
        t.is_(r.code, 250, "998 characters starting with a (stuffed) "
              "dot: 250")
        r = send_raw(c, head(b"after") + b"fine")
        t.is_(r.code, 250, "the session goes on")
    t.ok(md.wait(3, 5) == 3, "three messages delivered")
    subjects = sorted(t.header_value(x, "Subject") for x in md.messages())
    t.is_(subjects, ["after", "dot998", "l998"], "... the accepted ones")
    t.ok(all(b"\0" not in x for x in md.messages()), "no NUL stored")
    t.ok(t.wait_until(lambda: m.queue_entries() == {
        "queue": [], "incoming": [], "corrupt": []}, 5),
        "nothing of the refused messages left in the spool (%s)"
        % m.queue_entries())

    # catch-all to the recipient's own Maildir
    with m.connect() as c:
        c.ehlo()
        c.cmd("MAIL FROM:<s@client.test>")
        for rcpt in ('"a b"@example.com', "-rf@example.com",
                     "%2e%2e@example.com", "nobody@example.com"):
            r = c.cmd("RCPT TO:<%s>" % rcpt)
            t.is_(r.code, 550, "catch-all vmail: %s refused (%s)"
                  % (rcpt, r.text))
        c.cmd("RSET")
        r = send_raw(c, head(b"named") + b"x", rcpt="named@example.com")
        t.is_(r.code, 250, "a user the table names: 250")
    t.ok(m.maildir("named", "example.com").wait(1, 5) == 1,
         "... delivered to their Maildir")
    t.is_(sorted(os.listdir(os.path.join(m.vmail, "example.com"))),
          ["named"], "no Maildir made for the refused names")
    t.like(m.log_text(), r"catch-all @example\.com delivers to the "
           r"recipient's own Maildir: refused -rf", "the refusal is logged")

    # the limit is a setting, never below RFC 5322's 998
    m.stop()
    conf = open(m.conf).read()
    for line, ok in (("smtp limit max-line-length 997", False),
                     ("smtp limit max-line-length 10000", True)):
        with open(m.conf, "w") as f:
            f.write(conf + line + "\n")
        r = subprocess.run([t.maild_path(), "-n", "-f", m.conf],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
        t.is_(r.returncode == 0, ok, "maild -n: %s %s" % (
            line, "accepted" if ok else "refused: " + r.stdout.strip()))
    m.start()
    with m.connect() as c:
        c.ehlo()
        r = send_raw(c, head(b"l5000") + b"w" * 5000)
        t.is_(r.code, 250, "max-line-length 10000: a 5000-character line "
              "is taken")
        r = send_raw(c, head(b"l10001") + b"w" * 10001)
        t.is_(r.code, 500, "... one of 10001 is not")
    m.stop()


t.run(main)
