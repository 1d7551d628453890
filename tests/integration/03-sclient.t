#!/usr/bin/env python3
# openssl s_client -starttls smtp, with an RSA and an ECDSA certificate:
# after TLS, EHLO no longer offers STARTTLS; a message sent through the
# TLS session is delivered with the TLS version in its Received header.
# Also the same from python's ssl: STARTTLS twice is refused, and
# STARTTLS with pipelined data after it is not honoured (CVE-2011-0411).
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


class SClient:
    """openssl s_client as a line-oriented peer."""

    def __init__(self, m):
        self.p = subprocess.Popen(
            ["openssl", "s_client", "-starttls", "smtp", "-connect",
             "%s:%d" % (m.addr, m.port), "-servername", "mx.test",
             "-name", "client.test", "-quiet", "-nocommands"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        self.q = queue.Queue()
        self.err = []
        threading.Thread(target=self._reader, args=(self.p.stdout, self.q),
                         daemon=True).start()
        threading.Thread(target=self._reader_err, daemon=True).start()

    def _reader(self, f, q):
        for line in iter(f.readline, b""):
            q.put(line)
        q.put(None)

    def _reader_err(self):
        for line in iter(self.p.stderr.readline, b""):
            self.err.append(line)

    def send(self, line):
        self.p.stdin.write(line + b"\r\n")
        self.p.stdin.flush()

    def reply(self, timeout=10):
        """Lines of one reply (up to 'NNN ' line), or None on timeout/EOF."""
        lines = []
        end = time.monotonic() + timeout
        while True:
            try:
                line = self.q.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                return None
            if line is None:
                return lines or None
            lines.append(line.rstrip(b"\r\n").decode(errors="replace"))
            if len(line) >= 4 and line[3:4] == b" ":
                return lines

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


def conversation(m, kind):
    s = SClient(m)
    try:
        s.send(b"EHLO client.test")
        r = s.reply()
        if not t.ok(r and r[-1].startswith("250 "),
                    "%s: EHLO inside TLS answered 250" % kind):
            t.diag("s_client stderr: %r" % b"".join(s.err))
            return
        t.ok(not any("STARTTLS" in x for x in r),
             "%s: no STARTTLS offered inside TLS" % kind)
        t.ok(any("PIPELINING" in x for x in r),
             "%s: PIPELINING still offered inside TLS" % kind)
        msgid = "sclient-%s.%d@client.test" % (kind, os.getpid())
        s.send(b"MAIL FROM:<sender@client.test>")
        r = s.reply()
        t.ok(r and r[-1].startswith("250 2."), "%s: MAIL 250" % kind)
        s.send(b"RCPT TO:<alice@example.org>")
        r = s.reply()
        t.ok(r and r[-1].startswith("250 2."), "%s: RCPT 250" % kind)
        s.send(b"DATA")
        r = s.reply()
        t.ok(r and r[-1].startswith("354"), "%s: DATA 354" % kind)
        for line in t.make_message(msgid, subject="via s_client " + kind) \
                .split(b"\r\n")[:-1]:
            s.send(line)
        s.send(b".")
        r = s.reply(30)
        t.ok(r and r[-1].startswith("250 2."),
             "%s: message accepted (%r)" % (kind, r))
        s.send(b"QUIT")
        r = s.reply()
        t.ok(r and r[-1].startswith("221"), "%s: QUIT 221" % kind)
    finally:
        s.close()
    md = m.maildir("alice")
    t.wait_until(lambda: "<%s>" % msgid in md.message_ids(), 5)
    msgs = [x for x in md.messages()
            if t.header_value(x, "Message-ID") == "<%s>" % msgid]
    t.is_(len(msgs), 1, "%s: delivered once" % kind)
    if msgs:
        rcv = [v for n, v in t.parse_message(msgs[0])[0] if n == "received"]
        t.like(rcv[0] if rcv else b"", rb"TLS ?v?1\.[23]",
               "%s: Received mentions the TLS version" % kind)


def python_tls(m):
    c = m.connect()
    r = c.ehlo()
    t.ok("STARTTLS" in c.extensions, "EHLO offers STARTTLS before TLS")
    r = c.starttls()
    t.is_(r.code, 220, "STARTTLS 220")
    t.ok(c.tls, "TLS handshake with python ssl (%s)" %
         (c.sock.version() if c.tls else "-"))
    c.ehlo()
    t.ok("STARTTLS" not in c.extensions, "no STARTTLS after TLS")
    r = c.cmd("STARTTLS")
    t.ok(r.code >= 400 and r.enhanced,
         "STARTTLS inside TLS refused with an enhanced code (%s)" % r)
    c.quit()

    # Command injection: bytes pipelined after STARTTLS must be dropped,
    # not read as the first commands of the TLS session.
    c = m.connect()
    c.ehlo()
    c.send(b"STARTTLS\r\nRSET\r\n")
    r = c.reply()
    t.is_(r.code, 220, "STARTTLS with pipelined RSET: 220")
    t.ok(c.no_reply_within(0.5), "no reply to the plaintext RSET before TLS")
    ctx = t.ssl.SSLContext(t.ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = t.ssl.CERT_NONE
    try:
        c.sock = ctx.wrap_socket(c.sock, server_hostname="mx.test")
        c.tls = True
        r = c.cmd("NOOP")
        t.is_(r.code, 250, "first reply inside TLS is to NOOP, not to the "
              "injected RSET (%s)" % r)
        t.ok(c.no_reply_within(0.5), "no extra reply inside TLS")
    except (OSError, t.SMTPError) as e:
        # Dropping the connection is also a safe answer.
        t.ok(True, "server closed the session after injected data (%s)" % e)
        t.ok(True, "no extra reply inside TLS")
    c.close()


def main():
    if not t.have("openssl"):
        t.skip_all("openssl not installed")
    for kind in ("rsa", "ecdsa"):
        m = t.Maild(cert=kind).start()
        conversation(m, kind)
        if kind == "rsa":
            python_tls(m)
        t.ok(m.stop(), "%s instance stops cleanly" % kind)


t.run(main)
