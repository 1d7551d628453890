#!/usr/bin/env python3
# Regressions from a review of the daemon: a reload while TLS handshakes
# are pending, a client that never reads its replies, TLS data left
# inside libtls at the end of DATA, a CRLF split across the 64 KiB line
# chunk, the retry timer, sockets inherited by the wrong processes, and
# the queue's descriptors under many open transactions.
import os
import signal
import socket
import ssl
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

# Under SANITIZE=1, fill freed memory so a use-after-free crashes.
os.environ["ASAN_OPTIONS"] = ("detect_leaks=0:max_free_fill_size=65536:"
                              "free_fill_byte=65")


def tls_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def child(m, comm):
    for p in m.children():
        if t.proc_comm(p) == comm:
            return p
    return None


def reload_during_handshake(m):
    # sessions that said STARTTLS (and got 220) before the reload
    conns = []
    for _ in range(3):
        c = m.connect()
        c.ehlo()
        t.is_(c.cmd("STARTTLS").code, 220, "STARTTLS 220 before reload")
        conns.append(c)
    for _ in range(2):
        os.kill(m.pid, signal.SIGHUP)
        t.ok(t.wait_until(lambda: "certificate reloaded" in m.log_text(), 5),
             "reloaded")
    time.sleep(0.5)
    good = 0
    for c in conns:
        try:
            s = tls_ctx().wrap_socket(c.sock, server_hostname="mx.test")
            s.settimeout(5)
            s.sendall(b"EHLO x.test\r\n")
            if s.recv(1000).startswith(b"250"):
                good += 1
            s.close()
        except (OSError, ssl.SSLError) as e:
            t.diag("handshake after reload: %r" % e)
    t.is_(good, 3, "handshakes (with SNI) begun before a reload complete")
    t.ok(m.running(), "daemon alive after handshakes across a reload")


def reply_flood(m):
    smtp = child(m, "maild-smtp")
    before = int(t.proc_status(smtp)["VmRSS"].split()[0])
    s = socket.create_connection((m.addr, m.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(2)
    chunk = b"EHLO a\r\n" * 8192
    sent, t0 = 0, time.time()
    try:
        while time.time() - t0 < 6 and sent < 200 * 1024 * 1024:
            s.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass
    after = int(t.proc_status(smtp)["VmRSS"].split()[0])
    s.close()
    t.ok(sent < 20 * 1024 * 1024,
         "a client that never reads is not read either (%d bytes taken)"
         % sent)
    t.ok(after - before < 20 * 1024,
         "smtp memory bounded (%d kB -> %d kB)" % (before, after))
    t.ok(m.running(), "daemon alive after the reply flood")


def tls_pipelined_data(m):
    stalls = []
    sizes = [75838, 139190, 147109, 202542] + list(range(60000, 260000,
                                                          15013))
    for size in sizes:
        c = m.connect()
        c.ehlo()
        c.starttls()
        c.ehlo()
        line = b"x" * 76 + b"\r\n"
        body = b"Subject: t\r\n\r\n" + line * (size // 78) + b".\r\n"
        c.send(b"MAIL FROM:<a@client.test>\r\nRCPT TO:<bob@example.org>\r\n"
               b"DATA\r\n" + body)
        try:
            rs = [c.reply(4).code for _ in range(4)]
            if rs != [250, 250, 354, 250]:
                stalls.append((size, rs))
        except (OSError, t.SMTPError) as e:
            stalls.append((size, repr(e)))
        c.close()
    t.is_(stalls, [], "pipelined DATA over TLS always answered (%d sizes)"
          % len(sizes))


def split_crlf(m):
    for extra in (b"", b"more\r\n"):
        c = m.connect()
        c.ehlo()
        c.cmd("MAIL FROM:<a@client.test>")
        c.cmd("RCPT TO:<bob@example.org>")
        c.cmd("DATA")
        # 65536 bytes then CRLF: the CR ends the first 64 KiB chunk
        c.send(b"x" * 65536 + b"\r\n" + extra + b".\r\n")
        try:
            r = c.reply(5).code
        except (OSError, t.SMTPError) as e:
            r = repr(e)
        t.is_(r, 250, "CRLF across the chunk boundary%s: 250"
              % (" then a line" if extra else ", then the end"))
        c.close()


def only_owners_hold_sockets(m):
    def inodes(path, match):
        out = set()
        with open(path) as f:
            next(f)
            for line in f:
                parts = line.split()
                if match(parts):
                    out.add(parts[9] if "tcp" in path else parts[6])
        return out
    port = "%04X" % m.port
    listen = inodes("/proc/net/tcp", lambda p: p[1].endswith(":" + port)
                    and p[3] == "0A")
    ctl = inodes("/proc/net/unix", lambda p: len(p) > 7 and
                 p[7] == m.socket_path)
    holders = {}
    for p in m.children():
        fds = os.listdir("/proc/%d/fd" % p)
        for fd in fds:
            try:
                link = os.readlink("/proc/%d/fd/%s" % (p, fd))
            except OSError:
                continue
            ino = link[8:-1] if link.startswith("socket:[") else None
            if ino in listen:
                holders.setdefault("listener", set()).add(t.proc_comm(p))
            if ino in ctl:
                holders.setdefault("control", set()).add(t.proc_comm(p))
    t.is_(sorted(holders.get("listener", ())), ["maild-smtp"],
          "only smtp holds the SMTP listener")
    t.is_(sorted(holders.get("control", ())), ["maild-control"],
          "only control holds the control socket")


def retry_timer(m):
    dom = os.path.join(m.vmail, "example.org")
    bob = os.path.join(dom, "bob")
    alice = os.path.join(dom, "alice")
    for d in (bob, alice):
        os.makedirs(d, exist_ok=True)
        if t.is_root():             # deliver runs as vmail
            pw = t.pwd.getpwnam("vmail")
            os.chown(d, pw.pw_uid, pw.pw_gid)
    # bob's mail keeps failing until its retry delay has grown to 8 s
    os.chmod(bob, 0)
    with m.connect() as c:
        c.ehlo()
        c.send_message("s@client.test", ["bob@example.org"],
                       t.make_message("bob-retry.%d@x" % os.getpid()))
        c.quit()
    t.ok(t.wait_until(lambda: "retry in 8s" in m.log_text(), 15),
         "bob backed off to 8 s")
    os.chmod(alice, 0)
    with m.connect() as c:
        c.ehlo()
        c.send_message("s@client.test", ["alice@example.org"],
                       t.make_message("alice-retry.%d@x" % os.getpid()))
        c.quit()
    time.sleep(0.5)
    os.chmod(alice, 0o700)
    t0 = time.time()
    got = t.Maildir(alice).wait(1, timeout=10)
    took = time.time() - t0
    t.ok(got and took < 4,
         "alice's 1 s retry is not held behind bob's 8 s (%.1f s)" % took)
    os.chmod(bob, 0o700)


def queue_fds():
    m = t.Maild(name="fds", port=t.test_port(5), nofile=256)
    m.start()
    conns = []
    for i in range(140):
        s = socket.socket()
        s.settimeout(0.5)
        try:
            s.bind(("127.0.%d.%d" % (2 + i // 200, 1 + i % 200), 0))
            s.connect((m.addr, m.port))
            if s.recv(200).startswith(b"220"):
                s.sendall(b"EHLO x\r\nMAIL FROM:<a@client.test>\r\n")
            conns.append(s)
        except OSError:
            s.close()
    time.sleep(1)
    for s in conns:
        s.close()
    time.sleep(1)
    with m.connect() as c:
        c.ehlo()
        _, _, _, fr = c.send_message(
            "s@client.test", ["alice@example.org"],
            t.make_message("fds.%d@x" % os.getpid()))
        c.quit()
    t.is_(fr and fr.code, 250, "after 140 open transactions, mail flows")
    t.unlike(m.log_text(), r"Too many open files",
             "the queue never ran out of descriptors")
    m.stop()


def main():
    # (lines past the 64 KiB chunk: far over the default 998)
    m = t.Maild(max_size="5M", extra="queue retry-max 8s\n"
                "smtp limit max-line-length 1000000\n")
    m.start()
    reload_during_handshake(m)
    reply_flood(m)
    tls_pipelined_data(m)
    split_crlf(m)
    only_owners_hold_sockets(m)
    retry_timer(m)
    m.stop()
    queue_fds()


t.run(main)
