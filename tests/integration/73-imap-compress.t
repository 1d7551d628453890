#!/usr/bin/env python3
# IMAP COMPRESS=DEFLATE (RFC 4978, issue 14) over IMAPS: the capability
# after login only, COMPRESS refused before login, BAD for another
# mechanism, NO [COMPRESSIONACTIVE] the second time; a python client
# (zlib, raw DEFLATE) SELECTs, FETCHes messages bigger than the FETCH
# output chunk (delivered over SMTP and APPENDed with big literals, both
# synchronizing and LITERAL+), and IDLEs while a delivery arrives over
# SMTP (the EXISTS must come out of the compressor at once); commands
# pipelined behind COMPRESS in the same packet are answered; bytes that
# are not DEFLATE after COMPRESS end that session and no other; mbsync
# (isync, which uses COMPRESS=DEFLATE when offered) syncs over it.  Then
# the memory of 200 idle sessions in IDLE, compressed and not: PSS of
# the imap process per session (reported; a compressed one may cost at
# most EXTRA_MAX more: the compressor of an idle session is freed).
import os
import random
import re
import subprocess
import sys
import time
import zlib

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

ALICE = "alice@example.org"
VALGRIND = "valgrind" in t.maild_path()
SLOW = 20 if VALGRIND else 1
LIMIT = 5.0 if VALGRIND else 1.0   # IDLE: EXISTS after the delivery
IDLE_N = 200
EXTRA_MAX = 48      # KiB a compressed idle session may cost over a plain one
REST = 5.0          # io.c IO_ZREST_MS: an idle compressor is freed after it


class ZConn(t.IMAPConn):
    """IMAPConn that turns COMPRESS=DEFLATE on: then what it sends is
    compressed (a sync flush per send) and what it reads decompressed.
    wire_in / plain_in count the bytes read on the socket and after
    inflating them."""

    def __init__(self, *a, **kw):
        self.z = False
        self.wire_in = self.plain_in = 0
        super().__init__(*a, **kw)

    def z_on(self, zc=None):
        """Compression from here; what was read past the OK is
        compressed already."""
        self.zc = zc or zlib.compressobj(6, zlib.DEFLATED, -15)
        self.zd = zlib.decompressobj(-15)
        rest, self.buf = self.buf, b""
        self.wire_in += len(rest)
        self.buf = self.zd.decompress(rest)
        self.plain_in += len(self.buf)
        self.z = True

    def compress(self):
        r = self.command("COMPRESS DEFLATE")
        if r.status == "OK":
            self.z_on()
        return r

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        if self.z:
            data = self.zc.compress(data) + self.zc.flush(zlib.Z_SYNC_FLUSH)
        self.send_raw(data)

    def send_raw(self, data):
        t.IMAPConn.send(self, data)

    def _fill(self, deadline):
        if not self.z:
            return super()._fill(deadline)
        keep, self.buf = self.buf, b""
        try:
            super()._fill(deadline)
        finally:
            raw, self.buf = self.buf, keep
        self.wire_in += len(raw)
        plain = self.zd.decompress(raw)
        self.plain_in += len(plain)
        self.buf += plain


def zlogin(m, timeout=10.0):
    c = ZConn(m.addr, m.imap_port, tls=True, timeout=timeout)
    r = c.login(ALICE, t.IMAP_PASSWORDS[ALICE])
    if r.status != "OK":
        c.close()
        raise t.IMAPError("LOGIN refused: %s" % r.text)
    return c


def text_body(rng, size):
    """Mail-like text of about size bytes (compresses, but not to
    nothing); no line starts with a dot."""
    words = ("meeting invoice report quarter budget project delivery "
             "customer schedule review update server network storage "
             "contract payment shipment office market account").split()
    out = []
    n = 0
    while n < size:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(6, 12)))
        line += " %d\r\n" % rng.randint(0, 10 ** 6)
        out.append(line)
        n += len(line)
    return "".join(out).encode()


def message(rng, subject, size):
    head = ("From: Sender <sender@client.test>\r\nTo: %s\r\n"
            "Subject: %s\r\nMessage-ID: <%s@client.test>\r\n"
            "Date: Mon, 5 Jan 2026 10:00:00 +0000\r\n\r\n"
            % (ALICE, subject, subject.replace(" ", "."))).encode()
    return head + text_body(rng, size)


def capabilities(m):
    with m.imap_connect() as c:
        pre = c.capabilities()
        t.ok("COMPRESS=DEFLATE" not in pre,
             "no COMPRESS=DEFLATE before login")
        r = c.command("COMPRESS DEFLATE")
        t.is_(r.status, "BAD", "COMPRESS before login: BAD (%s)" % r.text)
        t.is_(c.command("NOOP").status, "OK",
              "... and the session goes on uncompressed")
        r = c.login(ALICE, t.IMAP_PASSWORDS[ALICE])
        t.like(r.text, r"\[CAPABILITY [^\]]*COMPRESS=DEFLATE",
               "LOGIN's OK lists COMPRESS=DEFLATE")
        t.ok("COMPRESS=DEFLATE" in c.capabilities(),
             "CAPABILITY after login: COMPRESS=DEFLATE")
        r = c.command("COMPRESS LZ4")
        t.is_(r.status, "BAD", "COMPRESS LZ4: BAD")
        r = c.command("COMPRESS")
        t.is_(r.status, "BAD", "COMPRESS without a mechanism: BAD")
        t.is_(c.command("NOOP").status, "OK", "the session goes on")
        c.logout()


def basics(m):
    c = zlogin(m)
    c.send_raw(b"c1 COMPRESS DEFLATE\r\n")
    line = c.readline()
    t.is_(line, b"c1 OK DEFLATE active\r\n",
          "COMPRESS DEFLATE: the tagged OK in plain text")
    t.is_(c.buf, b"", "nothing after it yet")
    c.z_on()
    r = c.command("NOOP")
    t.is_(r.status, "OK", "a compressed NOOP answered compressed")
    r = c.command("COMPRESS DEFLATE")
    t.is_(r.status, "NO", "COMPRESS again: NO")
    t.is_(r.code, "COMPRESSIONACTIVE", "... [COMPRESSIONACTIVE]")
    r = c.select("INBOX")
    t.is_(r.status, "OK", "SELECT over DEFLATE")
    c.logout()


def big(m):
    rng = random.Random(73)
    # Delivered over SMTP: beyond the FETCH output chunk (256 KiB).
    sizes = [700 * 1024, 2500 * 1024]
    sent = []
    for i, size in enumerate(sizes):
        data = message(rng, "big smtp %d" % i, size)
        t.is_(m.deliver(data), 250, "a %d KiB message delivered over SMTP"
              % (len(data) // 1024))
        sent.append(data)
    t.ok(m.maildir("alice").wait(len(sizes), 10 * SLOW) >= len(sizes),
         "both in the Maildir")
    c = zlogin(m, timeout=60 * SLOW)
    t.is_(c.compress().status, "OK", "COMPRESS DEFLATE")
    appended = [message(rng, "big append sync", 3 * 1024 * 1024),
                message(rng, "big append plus", 1024 * 1024)]
    r = c.command_literal("APPEND INBOX", appended[0])
    t.is_(r.status, "OK", "APPEND of a 3 MiB synchronizing literal")
    t.ok(any(x.startswith(b"+") for x in r.conts),
         "... the continuation came compressed")
    r = c.command_literal("APPEND INBOX", appended[1], plus=True)
    t.is_(r.status, "OK", "APPEND of a 1 MiB LITERAL+ literal")
    r = c.select("INBOX")
    t.ok(r.find(rb"^\* 4 EXISTS"), "SELECT: 4 EXISTS")
    w0, p0 = c.wire_in, c.plain_in
    r, f = c.fetch("1:4", "(BODY.PEEK[TEXT] BODY.PEEK[])")
    wire, plain = c.wire_in - w0, c.plain_in - p0
    t.is_(r.status, "OK", "FETCH 1:4 over DEFLATE")
    for i, data in enumerate(sent):
        body = data.split(b"\r\n\r\n", 1)[1]
        t.ok(f.get(i + 1, {}).get("BODY[TEXT]") == body,
             "message %d (SMTP, %d KiB): body intact" % (i + 1,
                                                         len(data) // 1024))
    for i, data in enumerate(appended):
        t.ok(f.get(i + 3, {}).get("BODY[]") == data,
             "message %d (APPEND, %d KiB): every byte" % (
                 i + 3, len(data) // 1024))
    t.diag("FETCH of %d KiB: %d KiB on the wire (%.0f%%)" % (
        plain // 1024, wire // 1024, 100.0 * wire / max(1, plain)))
    t.ok(plain > 14 * 1024 * 1024 and wire < plain / 2,
         "the FETCH was compressed (%d of %d KiB)" % (wire // 1024,
                                                      plain // 1024))
    # The same over a plain session: the same bytes.
    p = m.imap_login(timeout=60 * SLOW)
    p.select("INBOX")
    r2, f2 = p.fetch("1:4", "(BODY.PEEK[TEXT] BODY.PEEK[])")
    t.ok(r2.status == "OK" and f2 == f,
         "a plain session FETCHes the same data")
    p.logout()
    c.logout()


def idle(m):
    c = zlogin(m)
    t.is_(c.compress().status, "OK", "COMPRESS DEFLATE")
    r = c.select("INBOX")
    n = int(re.search(rb"^\* (\d+) EXISTS", r.find(rb"EXISTS")[0]).group(1))
    tag = c.next_tag()
    c.send(tag + " IDLE\r\n")
    t.like(c.response(), rb"^\+", "IDLE over DEFLATE: continuation")
    t.ok(c.no_response_within(0.3), "nothing while the mailbox is quiet")
    rng = random.Random(1)
    code = m.deliver(message(rng, "while idle", 2000))
    t0 = time.monotonic()
    t.is_(code, 250, "a message delivered over SMTP during IDLE")
    line, seen = c.wait_for(rb"^\* %d EXISTS" % (n + 1), 10 * SLOW)
    dt = time.monotonic() - t0
    t.ok(line is not None, "IDLE over DEFLATE: * %d EXISTS" % (n + 1))
    t.ok(line is not None and dt <= LIMIT,
         "... within %g s of the delivery, not stuck in the compressor "
         "(%.3f s)" % (LIMIT, dt))
    c.send("DONE\r\n")
    t.is_(c._collect(tag, 10).status, "OK", "DONE: OK")
    c.logout()


def pipelined(m):
    c = zlogin(m)
    zc = zlib.compressobj(6, zlib.DEFLATED, -15)
    cmds = b"p1 NOOP\r\np2 SELECT INBOX\r\np3 FETCH 1 (UID)\r\n"
    c.send_raw(b"c COMPRESS DEFLATE\r\n" + zc.compress(cmds) +
               zc.flush(zlib.Z_SYNC_FLUSH))
    line = c.readline()
    t.is_(line, b"c OK DEFLATE active\r\n",
          "COMPRESS with commands behind it in the same packet: OK")
    c.z_on(zc)
    r1 = c._collect("p1", 10)
    r2 = c._collect("p2", 10)
    r3 = c._collect("p3", 10)
    t.ok(r1.status == "OK" and r2.status == "OK" and r3.status == "OK" and
         r3.find(rb"^\* 1 FETCH \(UID \d+\)"),
         "the pipelined commands were read compressed, all answered")
    c.logout()


def garbage(m):
    a = zlogin(m)
    t.is_(a.compress().status, "OK", "a bystander session compresses")
    a.select("INBOX")
    b = zlogin(m)
    t.is_(b.compress().status, "OK", "COMPRESS DEFLATE")
    b.send_raw(b"\xff\xff\xff\xff not deflate\r\n")
    try:
        r = b.response(5 * SLOW)
        closed = False
        t.diag("after garbage: %r" % r)
    except (OSError, t.IMAPError):
        closed = True
    t.ok(closed, "bytes that are not DEFLATE: the session is closed")
    b.close()
    t.is_(a.command("NOOP").status, "OK",
          "the other compressed session goes on")
    c = m.imap_login()
    t.is_(c.command("NOOP").status, "OK", "a new session is served")
    c.logout()
    a.logout()
    t.ok(m.running(), "maild still running")


def mbsync(m):
    if not t.have("mbsync"):
        t.skip("mbsync (isync) not installed", 4)
        return
    local = os.path.join(m.dir, "mbsync")
    os.makedirs(local)
    rc = os.path.join(m.dir, "mbsyncrc")
    with open(rc, "w") as f:
        f.write("""\
IMAPAccount maild
Host {addr}
Port {port}
User {user}
Pass {pw}
SSLType IMAPS
CertificateFile {cert}
Timeout 60

IMAPStore remote
Account maild

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel alice
Far :remote:
Near :local:
Patterns INBOX
Create Both
SyncState *
Sync All
""".format(addr=m.addr, port=m.imap_port, user=ALICE,
           pw=t.IMAP_PASSWORDS[ALICE], cert=m.cert_file, local=local))
    os.chmod(rc, 0o600)
    c = m.imap_login()
    r = c.select("INBOX")
    n = int(re.search(rb"^\* (\d+) EXISTS", r.find(rb"EXISTS")[0]).group(1))
    c.logout()
    try:
        r = subprocess.run(["mbsync", "-Dn", "-c", rc, "-a"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=120 * SLOW)
        out, code = r.stdout.decode(errors="replace"), r.returncode
    except subprocess.TimeoutExpired as e:
        out, code = (e.stdout or b"").decode(errors="replace"), "timeout"
    if not t.is_(code, 0, "mbsync exits 0"):
        t.diag(out[-3000:])
    t.like(out, r"COMPRESS DEFLATE", "mbsync sent COMPRESS DEFLATE")
    t.like(out, r"OK DEFLATE active", "... and maild accepted it")
    got = 0
    for sub in ("cur", "new"):
        d = os.path.join(local, "INBOX", sub)
        got += len(os.listdir(d)) if os.path.isdir(d) else 0
    t.is_(got, n, "mbsync fetched all %d messages over DEFLATE" % n)


def pss_kib(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def idle_session(m, z):
    c = zlogin(m, timeout=30)
    if z and c.compress().status != "OK":
        raise t.IMAPError("COMPRESS refused")
    c.select("INBOX")
    c.send(c.next_tag() + " IDLE\r\n")
    if not c.response().startswith(b"+"):
        raise t.IMAPError("IDLE refused")
    return c


def memory(m):
    if VALGRIND or sanitized():
        t.skip("memory figures mean nothing under valgrind or ASan", 3)
        return
    imap = [k for k in t.proc_descendants(m.pid)
            if t.proc_comm(k) == "maild-imap"]
    if not t.is_(len(imap), 1, "the imap process found"):
        return
    pid = imap[0]
    plain, comp = [], []
    try:
        idle_session(m, False).close()
        idle_session(m, True).close()
        time.sleep(0.5)
        base = pss_kib(pid)
        plain = [idle_session(m, False) for _ in range(IDLE_N)]
        time.sleep(REST + 1)
        mid = pss_kib(pid)
        comp = [idle_session(m, True) for _ in range(IDLE_N)]
        # An idle compressed session drops its compressor REST s after
        # its last output.
        time.sleep(REST + 2)
        after = pss_kib(pid)
        per_plain = (mid - base) / IDLE_N
        per_comp = (after - mid) / IDLE_N
        t.diag("imap process PSS: %d KiB; %d plain idle sessions +%d KiB "
               "(%.1f KiB each); %d compressed +%d KiB (%.1f KiB each)" % (
                   base, IDLE_N, mid - base, per_plain, IDLE_N,
                   after - mid, per_comp))
        t.ok(per_plain > 0, "plain idle sessions cost memory: %.1f KiB "
             "each" % per_plain)
        t.ok(per_comp - per_plain <= EXTRA_MAX,
             "a compressed idle session costs at most %d KiB more "
             "(%.1f KiB)" % (EXTRA_MAX, per_comp - per_plain))
    finally:
        for c in plain + comp:
            c.close()


def sanitized():
    try:
        with open(t.maild_path(), "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def main():
    m = t.Maild(imap=True, max_size="8M",
                extra="imap limit max-per-ip 1000 max-per-user 1000\n")
    # mbsync checks the name: a certificate for the listener's address.
    t.make_cert(m.dir, "rsa", cn=m.addr, san="DNS:%s,IP:%s,DNS:mx.test"
                % (m.addr, m.addr))
    m.start()
    m.imap_login().logout()    # the Maildir exists before mail
    t.section(capabilities, m)
    t.section(basics, m)
    t.section(big, m)
    t.section(idle, m)
    t.section(pipelined, m)
    t.section(garbage, m)
    t.section(mbsync, m)
    t.section(memory, m)
    t.ok(m.running(), "maild still running")
    t.ok(m.stop(), "maild stops cleanly")


t.run(main)
