"""
Harness for maild's integration tests: TAP output, starting and stopping a
real maild on its own 127.0.0.x address and port with a generated
configuration, certificates and tables, reading the Maildirs it writes, and
talking raw SMTP to it.

Python 3 standard library only; external programs: openssl (certificates),
and whatever a test itself runs (swaks, openssl s_client).

A test is an executable script that does

    import maildtest as t
    def main():
        with t.Maild() as m:
            ...
            t.ok(cond, "name")
    t.run(main)

run() catches any exception as a failed test, prints every daemon log as
TAP diagnostics when something failed, stops every daemon it started and
exits with the number of failed tests (capped), so prove sees a failure.
"""

import atexit
import os
import pwd
import re
import resource
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))

# ---------------------------------------------------------------- TAP

_state = {"n": 0, "failed": 0, "planned": None, "done": False}


def _emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def diag(msg):
    """Print msg as TAP diagnostics ('# ' before each line)."""
    for line in str(msg).splitlines() or [""]:
        _emit("# " + line)


def ok(cond, name=""):
    """One test: passes when cond is true.  Returns bool(cond)."""
    _state["n"] += 1
    name = name.replace("#", "\\#")
    if cond:
        _emit("ok %d - %s" % (_state["n"], name))
    else:
        _state["failed"] += 1
        _emit("not ok %d - %s" % (_state["n"], name))
        here = os.path.abspath(__file__)
        frames = [f for f in traceback.extract_stack()
                  if os.path.abspath(f.filename) != here]
        diag("  Failed test '%s'" % name)
        if frames:
            diag("  at %s line %d." % (os.path.basename(frames[-1].filename),
                                       frames[-1].lineno))
    return bool(cond)


def is_(got, expected, name=""):
    """Passes when got == expected; shows both otherwise."""
    r = ok(got == expected, name)
    if not r:
        diag("         got: %r" % (got,))
        diag("    expected: %r" % (expected,))
    return r


def isnt(got, unexpected, name=""):
    r = ok(got != unexpected, name)
    if not r:
        diag("         got: %r" % (got,))
        diag("    expected: anything else")
    return r


def like(got, pattern, name=""):
    """Passes when re.search(pattern, got) matches (str or bytes)."""
    if got is None:
        r = ok(False, name)
    else:
        r = ok(re.search(pattern, got) is not None, name)
    if not r:
        diag("                  %r" % (got,))
        diag("    doesn't match '%s'" % (pattern,))
    return r


def unlike(got, pattern, name=""):
    r = ok(got is not None and re.search(pattern, got) is None, name)
    if not r:
        diag("                  %r" % (got,))
        diag("          matches '%s'" % (pattern,))
    return r


def skip(reason, count=1):
    """Record count skipped tests."""
    for _ in range(count):
        _state["n"] += 1
        _emit("ok %d # skip %s" % (_state["n"], reason))


def skip_all(reason):
    """Skip the whole test file; exits."""
    _emit("1..0 # SKIP %s" % reason)
    _state["done"] = True
    sys.exit(0)


def bail_out(reason):
    _emit("Bail out! %s" % reason)
    _state["failed"] += 1


def failures():
    return _state["failed"]


def done():
    """Print the plan, the logs on failure, stop daemons, exit."""
    if _state["done"]:
        return
    _state["done"] = True
    for m in list(Maild.instances):
        m.stop()
        bad = [x for x in m.log_text().splitlines()
               if SANITIZER_RE.search(x)]
        if not ok(not bad, "no sanitizer report in the %s log" % m.name):
            diag("\n".join(bad[:20]))
    if _state["failed"]:
        for m in list(Maild.instances):
            m.dump_log()
    Maild.stop_all()
    Dnsmasq.stop_all()
    if _state["n"] == 0:
        ok(False, "test ran no assertion")
    _emit("1..%d" % _state["n"])
    if _state["failed"]:
        diag("Looks like you failed %d test%s of %d." % (
            _state["failed"], "" if _state["failed"] == 1 else "s",
            _state["n"]))
    sys.stdout.flush()
    os._exit(min(_state["failed"], 254))


def run(main):
    """Run main(); an exception is a failed test.  Never returns."""
    try:
        main()
    except SystemExit:
        raise
    except BaseException as e:   # noqa: B902 - report everything
        ok(False, "test script raised %s: %s" % (type(e).__name__, e))
        diag(traceback.format_exc())
    done()


def section(fn, *args, **kw):
    """Run one part of a test: an exception there is one failed test
    and the script goes on with the next part.  Returns fn's result, or
    None after an exception."""
    try:
        return fn(*args, **kw)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:   # noqa: B902 - report everything
        ok(False, "%s raised %s: %s" % (fn.__name__, type(e).__name__, e))
        diag(traceback.format_exc())
        return None


# ---------------------------------------------------------------- helpers

# What ASan/UBSan print when they find something (make SANITIZE=1).
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Memory|Thread)Sanitizer|"
                          r"runtime error: |SUMMARY: UndefinedBehavior")

def test_index():
    """NN of tests/integration/NN-name.t, for addresses and ports."""
    base = os.path.basename(sys.argv[0])
    m = re.match(r"(\d+)", base)
    if m:
        return int(m.group(1)) % 200
    # Not a numbered test: derive something stable from the name.
    return 100 + sum(base.encode()) % 90


def test_addr():
    return "127.0.0.%d" % (10 + test_index())


def test_port(k=0):
    return 10025 + test_index() * 10 + k


def maild_path():
    p = os.environ.get("MAILD", os.path.join(REPO, "maild"))
    return os.path.abspath(p)


def is_root():
    return os.geteuid() == 0


def ensure_users():
    """As root: create _maild and vmail (and /var/empty) when missing."""
    os.makedirs("/var/empty", exist_ok=True)
    for u in ("_maild", "vmail"):
        try:
            pwd.getpwnam(u)
        except KeyError:
            subprocess.run(["useradd", "-r", "-M", "-d", "/var/empty",
                            "-s", "/usr/sbin/nologin", u], check=True,
                           stdout=subprocess.DEVNULL)


def wait_until(pred, timeout, interval=0.05):
    """Call pred until it returns a true value or timeout; return it."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(interval)


def make_cert(directory, kind="rsa", cn="mx.test", name=None, san=None):
    """Self-signed cert and key in directory; key mode 0600.

    kind: "rsa" (2048) or "ecdsa" (P-256).  san: the subjectAltName
    value (default "DNS:<cn>").  Returns (cert, key) paths.
    """
    name = name or kind
    cert = os.path.join(directory, "%s-cert.pem" % name)
    key = os.path.join(directory, "%s-key.pem" % name)
    if kind == "rsa":
        newkey = ["-newkey", "rsa:2048"]
    elif kind == "ecdsa":
        newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    else:
        raise ValueError("cert kind %r" % kind)
    old = os.umask(0o077)
    try:
        r = subprocess.run(["openssl", "req", "-x509", "-nodes", "-days", "30"]
                           + newkey + ["-keyout", key, "-out", cert,
                                       "-subj", "/CN=%s" % cn,
                                       "-addext", "subjectAltName=%s" % (
                                           san or "DNS:%s" % cn)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
    finally:
        os.umask(old)
    if r.returncode != 0:
        raise RuntimeError("openssl req failed: %s" % r.stdout.decode(
            errors="replace"))
    os.chmod(key, 0o600)
    os.chmod(cert, 0o644)
    return cert, key


def proc_children(pid):
    """PIDs whose parent is pid (from /proc; pgrep -P as a fallback)."""
    kids = []
    try:
        names = os.listdir("/proc")
    except OSError:
        names = []
    if names:
        for d in names:
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
            except OSError:
                continue
            # comm may contain spaces and parens: split after the last ')'.
            fields = st[st.rfind(")") + 2:].split()
            if len(fields) > 1 and int(fields[1]) == pid:
                kids.append(int(d))
        return sorted(kids)
    r = subprocess.run(["pgrep", "-P", str(pid)], stdout=subprocess.PIPE)
    return sorted(int(x) for x in r.stdout.split())


def proc_descendants(pid):
    out = []
    todo = [pid]
    while todo:
        p = todo.pop()
        for c in proc_children(p):
            if c not in out:
                out.append(c)
                todo.append(c)
    return out


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def proc_status(pid):
    """/proc/PID/status as a dict of str -> str."""
    d = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            d[k] = v.strip()
    return d


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still answers kill(0).
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        return st[st.rfind(")") + 2:].split()[0] != "Z"
    except OSError:
        return True


# ---------------------------------------------------------------- Maildir

MAILDIR_NAME_RE = re.compile(r",S=(\d+)(:2,.*)?$")


def parse_message(data):
    """Split a delivered file into (prefix headers, rest).

    prefix is a list of (name, raw field bytes) for the leading
    Return-Path, Delivered-To and Received fields maild adds (folded lines
    included); rest is everything after them.
    """
    prefix = []
    pos = 0
    while pos < len(data):
        m = re.match(rb"(Return-Path|Delivered-To|Received):", data[pos:],
                     re.I)
        if not m:
            break
        end = pos
        # One field: its first line plus continuation lines (WSP first).
        while True:
            nl = data.find(b"\n", end)
            if nl < 0:
                end = len(data)
                break
            end = nl + 1
            if end >= len(data) or data[end:end + 1] not in (b" ", b"\t"):
                break
        prefix.append((m.group(1).decode().lower(), data[pos:end]))
        pos = end
    return prefix, data[pos:]


def header_value(data, name):
    """First header field `name` of a message (unfolded), or None."""
    head = data.split(b"\r\n\r\n", 1)[0]
    head = re.sub(rb"\r?\n[ \t]+", b" ", head)
    for line in head.split(b"\r\n"):
        k, sep, v = line.partition(b":")
        if sep and k.strip().lower() == name.lower().encode():
            return v.strip().decode("utf-8", errors="replace")
    return None


class Maildir:
    """A Maildir on disk (it may not exist yet)."""

    def __init__(self, path):
        self.path = path

    def files(self, sub="new"):
        d = os.path.join(self.path, sub)
        try:
            return sorted(os.path.join(d, f) for f in os.listdir(d)
                          if not f.startswith("."))
        except FileNotFoundError:
            return []

    def count(self):
        return len(self.files("new")) + len(self.files("cur"))

    def messages(self):
        """Contents (bytes) of every message in new/ and cur/."""
        out = []
        for p in self.files("new") + self.files("cur"):
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def wait(self, n, timeout=10.0):
        """Wait until at least n messages are there; return the count."""
        wait_until(lambda: self.count() >= n, timeout)
        return self.count()

    def message_ids(self):
        return [header_value(m, "Message-ID") for m in self.messages()]


def all_maildirs(root):
    """Every directory under root that has a new/ subdirectory -> count."""
    out = {}
    if not os.path.isdir(root):
        return out
    for d, subdirs, _ in os.walk(root):
        if "new" in subdirs:
            md = Maildir(d)
            out[os.path.relpath(d, root)] = md.count()
    return out


# ---------------------------------------------------------------- SMTP

class SMTPError(Exception):
    pass


class Reply:
    """One SMTP reply: code (int), lines (text after the code), raw."""

    def __init__(self, code, lines, raw):
        self.code = code
        self.lines = lines
        self.raw = raw

    @property
    def text(self):
        return "\n".join(self.lines)

    @property
    def enhanced(self):
        """Enhanced status code of the first line ("2.1.0") or None."""
        m = re.match(r"([245]\.\d{1,3}\.\d{1,3})(\s|$)",
                     self.lines[0] if self.lines else "")
        return m.group(1) if m else None

    def __str__(self):
        return self.raw.decode("utf-8", errors="replace").rstrip()

    def __repr__(self):
        return "Reply(%r)" % str(self)


class LineConn:
    """Buffered reading of lines and bytes from self.sock (TLS or not),
    with deadlines; SMTPConn and IMAPConn are built on it.  closed_error
    is what a closed connection raises."""

    closed_error = OSError

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def _fill(self, deadline):
        if self.tls and self.sock.pending():
            chunk = self.sock.recv(65536)
        else:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out waiting for the server "
                                     "(buffer %r)" % self.buf[:200])
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
        if not chunk:
            self.closed = True
            raise self.closed_error("connection closed by server "
                                    "(buffer %r)" % self.buf[:200])
        self.buf += chunk

    def readline(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buf:
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def quiet_for(self, seconds):
        """True when no data at all arrives within seconds (and no EOF).
        With TLS the socket can be readable with records that carry no
        data (TLS 1.3 session tickets): only application data counts."""
        if self.buf:
            return False
        end = time.monotonic() + seconds
        while True:
            if self.tls and self.sock.pending():
                return False
            left = end - time.monotonic()
            if left <= 0:
                return True
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return True
            self.sock.setblocking(False)
            try:
                chunk = self.sock.recv(65536)
            except ssl.SSLWantReadError:
                continue
            except OSError:
                return False
            finally:
                self.sock.setblocking(True)
            if not chunk:
                self.closed = True
                return False
            self.buf += chunk
            return False

    def read_exact(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            self._fill(deadline)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data


class SMTPConn(LineConn):
    """A raw SMTP client over one socket: send bytes, read replies."""

    closed_error = SMTPError

    def __init__(self, addr, port, timeout=10.0, greet=True):
        self.addr, self.port = addr, port
        self.timeout = timeout
        self.sock = socket.create_connection((addr, port), timeout=timeout)
        self.buf = b""
        self.tls = False
        self.closed = False
        self.greeting = self.reply() if greet else None

    def reply(self, timeout=None):
        """Read one (possibly multi-line) reply."""
        deadline = time.monotonic() + (timeout or self.timeout)
        raw = b""
        lines = []
        code = None
        while True:
            line = self.readline(max(0.001, deadline - time.monotonic()))
            raw += line
            s = line.rstrip(b"\r\n").decode("utf-8", errors="replace")
            m = re.match(r"(\d{3})([ -]?)(.*)$", s)
            if not m:
                raise SMTPError("malformed reply line %r" % line)
            if code is None:
                code = int(m.group(1))
            elif int(m.group(1)) != code:
                raise SMTPError("reply code changed inside reply: %r" % raw)
            lines.append(m.group(3))
            if m.group(2) != "-":
                return Reply(code, lines, raw)

    def no_reply_within(self, seconds):
        """True when nothing at all arrives within seconds (and no EOF)."""
        return self.quiet_for(seconds)

    def cmd(self, line, timeout=None):
        """Send line + CRLF and read its reply."""
        self.send(line.encode() + b"\r\n" if isinstance(line, str)
                  else line + b"\r\n")
        return self.reply(timeout)

    def ehlo(self, name="client.test"):
        r = self.cmd("EHLO " + name)
        self.extensions = [l.split(" ", 1)[0].upper() for l in r.lines[1:]]
        self.ehlo_lines = r.lines[1:]
        return r

    def starttls(self, server_hostname="mx.test"):
        r = self.cmd("STARTTLS")
        if r.code != 220:
            return r
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if self.buf:
            raise SMTPError("data after STARTTLS reply: %r" % self.buf)
        self.sock.settimeout(self.timeout)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)
        self.tls = True
        return r

    def send_message(self, sender, rcpts, data):
        """MAIL, RCPTs, DATA, dot-stuffed data, '.'; returns the replies.

        data is bytes or str with CRLF line ends (not dot-stuffed).
        Returns (mail reply, [rcpt replies], data reply or None, final
        reply or None).
        """
        if isinstance(data, str):
            data = data.encode()
        mr = self.cmd("MAIL FROM:<%s>" % sender)
        rr = [self.cmd("RCPT TO:<%s>" % r) for r in rcpts]
        if mr.code != 250 or not any(r.code == 250 for r in rr):
            return mr, rr, None, None
        dr = self.cmd("DATA")
        if dr.code != 354:
            return mr, rr, dr, None
        self.send(dot_stuff(data) + b".\r\n")
        return mr, rr, dr, self.reply(30)

    def quit(self):
        try:
            r = self.cmd("QUIT")
        except (OSError, SMTPError):
            r = None
        self.close()
        return r

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def dot_stuff(data):
    """Dot-stuff CRLF data and make sure it ends with CRLF."""
    if data and not data.endswith(b"\r\n"):
        data += b"\r\n"
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\r\n.", b"\r\n..")


def make_message(msgid, subject="test", body="hello\r\n", sender=
                 "sender@client.test", to="alice@example.org", extra=b""):
    """A small RFC 5322 message with CRLF line ends, as bytes."""
    if isinstance(body, str):
        body = body.encode()
    head = ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s>\r\n"
            "Date: Thu, 1 Jan 2026 00:00:00 +0000\r\n"
            % (sender, to, subject, msgid)).encode()
    return head + extra + b"\r\n" + body


# ---------------------------------------------------------------- maild

DEFAULT_VIRTUALS = """\
# test virtuals
alice@example.org vmail
bob@example.org vmail
info@example.org alice@example.org, bob@example.org
@example.net alice@example.org
"""

# "demo"; the hash format does not matter until AUTH is tested.
DEFAULT_PASSWD = ("alice@example.org $2b$08$0SrQ/Al1T1uDXS3SfYJV9OKAP5CiO"
                  "ufBAQV7nThKXfN3m5fVyV4.G\n")


class Dnsmasq:
    """A private DNS server for one test (never the machine's resolver):
    dnsmasq on 127.0.0.1, a port of the test's own range, answering only
    from the records given as dnsmasq options (anything else under the
    test zones is NXDOMAIN, nothing is forwarded), e.g.
        Dnsmasq(["--host-record=mx.test,127.0.0.5",
                 "--mx-host=remote.test,mx.remote.test,10",
                 "--ptr-record=3.0.0.127.in-addr.arpa,nomatch.test",
                 "--txt-record=s._domainkey.test,v=DKIM1; ..."])
    Stopped by PID at exit, also when the test fails."""

    instances = []

    def __init__(self, records, port=None, addr="127.0.0.1"):
        self.addr = addr
        self.port = port or 30053 + test_index() * 10 + len(
            Dnsmasq.instances)
        self.records = list(records)
        self.proc = None
        self.log = tempfile.NamedTemporaryFile(
            prefix="dnsmasq-", suffix=".log", dir="/tmp", delete=False).name
        Dnsmasq.instances.append(self)
        if len(Dnsmasq.instances) == 1:
            atexit.register(Dnsmasq.stop_all)

    @staticmethod
    def binary():
        for p in ("/usr/sbin/dnsmasq", "/usr/local/sbin/dnsmasq"):
            if os.access(p, os.X_OK):
                return p
        return shutil.which("dnsmasq")

    def start(self, timeout=5.0):
        exe = Dnsmasq.binary()
        if exe is None:
            raise MaildError("dnsmasq is not installed "
                             "(scripts/install-deps)")
        cmd = [exe, "--keep-in-foreground", "--no-resolv", "--no-hosts",
               "--no-poll", "--conf-file=/dev/null", "--bind-interfaces",
               "--listen-address=%s" % self.addr, "--port=%d" % self.port,
               "--log-facility=%s" % self.log, "--log-queries",
               "--user=%s" % pwd.getpwuid(os.getuid()).pw_name,
               "--pid-file="] + ["--local=/%s/" % z for z in (
                   "test", "example", "invalid", "org", "net", "com",
                   "in-addr.arpa", "ip6.arpa")] + self.records
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)

        def ready():
            if self.proc.poll() is not None:
                raise MaildError("dnsmasq exited: %s" %
                                 self.proc.stderr.read().decode())
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as so:
                # A query for "." with no records: any answer will do.
                so.settimeout(0.2)
                so.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00"
                          b"\x00\x00\x00\x00\x02\x00\x01",
                          (self.addr, self.port))
                try:
                    return so.recv(512)[:2] == b"\x12\x34"
                except OSError:
                    return False
        if not wait_until(ready, timeout):
            self.stop()
            raise MaildError("dnsmasq did not answer on %s:%d"
                             % (self.addr, self.port))
        # Another server answering on the port would fool ready().
        time.sleep(0.1)
        if self.proc.poll() is not None:
            raise MaildError("dnsmasq exited: %s" %
                             self.proc.stderr.read().decode())
        return self

    def conf(self):
        """The mail.conf line pointing maild at this server."""
        return "resolver %s port %d" % (self.addr, self.port)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    @classmethod
    def stop_all(cls):
        for d in cls.instances:
            d.stop()


class FakeServer(threading.Thread):
    """Base of the scripted SMTP servers some tests talk to (a server
    that greylists, breaks TLS, offers only AUTH LOGIN: what a second
    maild cannot be made to do).  It accepts one connection at a time
    on addr:port and hands it to self.session(sock); conns keeps each
    connection's command lines, messages each message's raw DATA."""

    def __init__(self, addr, port):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, port))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.conns = []
        self.messages = []
        self.stopping = False

    def run(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            try:
                self.session(c)
            except (OSError, ValueError):
                pass
            finally:
                c.close()

    def session(self, c):
        raise NotImplementedError

    def read_data(self, c, f):
        """After 354: the lines up to ".", kept in messages; then 250.
        False if the client went away first."""
        data = b""
        while True:
            d = f.readline()
            if not d:
                return False
            if d == b".\r\n":
                break
            data += d
        self.messages.append(data)
        c.sendall(b"250 2.0.0 queued\r\n")
        return True

    def stop(self):
        self.stopping = True
        self.sock.close()


class MaildError(Exception):
    pass


class Maild:
    """One maild instance with its own directory, config and listener.

    Parameters (all optional):
      addr, port       listener (default from the test file number)
      cert             "rsa" or "ecdsa"
      tls              offer STARTTLS on the listener
      max_size         "smtp max-message-size" value ("1M")
      max_rcpt         "smtp limit max-rcpt" value
      virtuals, passwd table contents (str)
      domains          domains with a match rule
      extra            lines appended to mail.conf
      relay_port       port of MX hosts for the relay, through
                       MAILD_TEST_RELAY_PORT (maild(8) ENVIRONMENT)
      remote_net       loopback clients in this network ("127.0.64.0/24")
                       are remote, their mail checked: MAILD_TEST_REMOTE_NET
      user, vmail_user add `user`/`vmail user` lines (root test)
      run_as           when root: run maild as this user (no privsep)
      nofile           RLIMIT_NOFILE for maild (fd exhaustion tests)
      tmpdir           reuse a directory (restart on the same spool)
      imap             an imaps listener on imap_port (auth <passwd>);
                       the passwd table then defaults to imap_passwd()
      imap_starttls    an imap tls-require listener on imap_port2
      own_group        start maild in a process group of its own, so that
                       kill9_group() can SIGKILL all of it at one instant
    """

    instances = []
    _hooks = False

    def __init__(self, addr=None, port=None, cert="rsa", tls=True,
                 max_size="1M", max_rcpt=100, virtuals=DEFAULT_VIRTUALS,
                 passwd=DEFAULT_PASSWD, domains=("example.org",
                                                  "example.net"),
                 extra="", user=None, vmail_user=None, run_as=None,
                 tmpdir=None, name="maild", nofile=None, imap=False,
                 imap_starttls=False, imap_port=None, imap_port2=None,
                 own_group=False, relay_port=None, remote_net=None):
        self.own_group = own_group
        self.relay_port = relay_port
        self.remote_net = remote_net
        self.addr = addr or test_addr()
        self.port = port or test_port(len(Maild.instances))
        self.cert_kind = cert
        self.tls = tls
        self.max_size = max_size
        self.max_rcpt = max_rcpt
        self.virtuals = virtuals
        self.passwd = passwd
        self.domains = domains
        self.extra = extra
        self.user = user
        self.vmail_user = vmail_user
        self.run_as = run_as
        self.nofile = nofile
        self.name = name
        # IMAP listeners: ports from their own range (imap_test_port), two
        # per instance, so they never meet test_port(k) of any test.
        j = len(Maild.instances)
        self.imap = imap
        self.imap_starttls = imap_starttls
        self.imap_port = imap_port or imap_test_port(2 * j)
        self.imap_port2 = imap_port2 or imap_test_port(2 * j + 1)
        if (imap or imap_starttls) and passwd == DEFAULT_PASSWD:
            self.passwd = imap_passwd()
        self.proc = None
        self.pid = None
        self.log_fh = None
        self.owns_dir = tmpdir is None
        if tmpdir is None:
            base = os.path.splitext(os.path.basename(sys.argv[0]))[0]
            tmpdir = tempfile.mkdtemp(prefix="maild-%s-" % base, dir="/tmp")
            os.chmod(tmpdir, 0o755)
        self.dir = tmpdir
        self.spool = os.path.join(self.dir, "spool")
        self.vmail = os.path.join(self.dir, "vmail")
        self.socket_path = os.path.join(self.dir, "maild.sock")
        self.conf = os.path.join(self.dir, "mail.conf")
        self.log = os.path.join(self.dir, "%s.log" % name)
        self.log_offset = 0
        Maild.instances.append(self)
        Maild._install_hooks()
        self.write_files()

    # -- setup

    def write_files(self):
        d = self.dir
        if not os.path.exists(os.path.join(d, "%s-key.pem" % self.cert_kind)):
            make_cert(d, self.cert_kind)
        self.cert_file = os.path.join(d, "%s-cert.pem" % self.cert_kind)
        self.key_file = os.path.join(d, "%s-key.pem" % self.cert_kind)
        self.virtuals_file = os.path.join(d, "virtuals")
        self.passwd_file = os.path.join(d, "passwd")
        self._write(self.virtuals_file, self.virtuals, 0o644)
        self._write(self.passwd_file, self.passwd, 0o600)
        self._write(self.conf, self.config_text(), 0o644)
        if self.run_as:
            pw = pwd.getpwnam(self.run_as)
            for root, dirs, files in os.walk(d):
                for n in [root] + [os.path.join(root, x) for x in
                                   dirs + files]:
                    os.chown(n, pw.pw_uid, pw.pw_gid)

    @staticmethod
    def _write(path, text, mode):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(path, mode)

    def config_text(self):
        lines = ['# generated by tests/lib/maildtest.py',
                 'hostname "mx.test"',
                 'spool "%s"' % self.spool,
                 'socket "%s"' % self.socket_path]
        if self.user:
            lines.append('user "%s"' % self.user)
        if self.vmail_user:
            lines.append('vmail user "%s"' % self.vmail_user)
        lines += [
            'pki mail cert "%s" key "%s"' % (self.cert_file, self.key_file),
            'table virtuals file:%s' % self.virtuals_file,
            'table passwd file:%s' % self.passwd_file,
            'smtp max-message-size %s' % self.max_size,
            'smtp limit max-rcpt %d' % self.max_rcpt,
            'queue retry 1s',
            'listen on %s port %d%s' % (self.addr, self.port,
                                        " tls pki mail" if self.tls else ""),
        ]
        peer = os.environ.get("MAILD_TEST_IMAP_PEER")  # dovecot_peer.py
        if self.imap and not peer:
            lines.append('listen on %s port %d imaps pki mail auth <passwd>'
                         % (self.addr, self.imap_port))
        if self.imap_starttls and not peer:
            lines.append('listen on %s port %d imap tls-require pki mail '
                         'auth <passwd>' % (self.addr, self.imap_port2))
        lines += [
            'action "domain" maildir "%s/%%{dest.domain:lowercase}/'
            '%%{dest.user:lowercase}" virtual <virtuals>' % self.vmail,
        ]
        for dom in self.domains:
            lines.append('match from any for domain "%s" action "domain"'
                         % dom)
        if self.extra:
            lines.append(self.extra.rstrip("\n"))
        return "\n".join(lines) + "\n"

    # -- start / stop

    def command(self):
        cmd = [maild_path(), "-d"]
        if os.environ.get("MAILD_TEST_VERBOSE"):
            cmd.append("-v")
        return cmd + ["-f", self.conf]

    def start(self, timeout=10.0):
        """Start maild and wait until its port accepts; raises MaildError."""
        if self.proc is not None and self.proc.poll() is None:
            raise MaildError("already running")
        exe = maild_path()
        if not os.access(exe, os.X_OK):
            raise MaildError("no maild binary at %s (set MAILD=...)" % exe)
        if is_root() and not self.run_as:
            ensure_users()
        self.log_fh = open(self.log, "ab")
        self.log_offset = self.log_fh.tell()
        self.log_fh.write(("--- start %s: %s\n" % (
            time.strftime("%H:%M:%S"), " ".join(self.command()))).encode())
        self.log_fh.flush()
        kw = {}
        if self.run_as and is_root():
            pw = pwd.getpwnam(self.run_as)
            kw = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        if self.nofile:
            n = self.nofile

            def limit():
                resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
            kw["preexec_fn"] = limit
        if self.own_group:
            kw["start_new_session"] = True
        env = dict(os.environ)
        if is_root() and not self.run_as and "ASAN_OPTIONS" not in env:
            # LeakSanitizer cannot read /proc from inside a chroot.
            env["ASAN_OPTIONS"] = "detect_leaks=0"
        if self.relay_port is not None:
            env["MAILD_TEST_RELAY_PORT"] = str(self.relay_port)
        if self.remote_net is not None:
            env["MAILD_TEST_REMOTE_NET"] = self.remote_net
        self.proc = subprocess.Popen(self.command(), cwd=REPO, env=env,
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.log_fh, stderr=self.log_fh,
                                     **kw)
        self.pid = self.proc.pid
        end = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise MaildError("maild exited with status %s before "
                                 "listening:\n%s" % (self.proc.returncode,
                                                     self.log_text()))
            try:
                s = socket.create_connection((self.addr, self.port),
                                             timeout=1)
            except OSError:
                if time.monotonic() > end:
                    raise MaildError("maild did not listen on %s:%d within "
                                     "%.0fs:\n%s" % (self.addr, self.port,
                                                     timeout,
                                                     self.log_text()))
                time.sleep(0.05)
                continue
            # Be polite: read the greeting and quit.
            try:
                s.settimeout(2)
                s.recv(512)
                s.sendall(b"QUIT\r\n")
                s.recv(512)
            except OSError:
                pass
            s.close()
            if self.imap or self.imap_starttls:
                if os.environ.get("MAILD_TEST_IMAP_PEER") == "dovecot":
                    self._start_imap_peer()
                self.wait_imap(max(1.0, end - time.monotonic()))
            return self

    def _start_imap_peer(self):
        """Dovecot on the IMAP ports instead of maild (reference runs of
        the IMAP tests; see tests/lib/dovecot_peer.py)."""
        import dovecot_peer
        if getattr(self, "imap_peer", None) is None:
            self.imap_peer = dovecot_peer.Dovecot(self)
        self.imap_peer.start()

    def wait_imap(self, timeout=10.0):
        """Wait until every IMAP listener greets; raises MaildError."""
        ports = []
        if self.imap:
            ports.append((self.imap_port, True))
        if self.imap_starttls:
            ports.append((self.imap_port2, False))
        end = time.monotonic() + timeout
        for port, tls in ports:
            while True:
                if self.proc.poll() is not None:
                    raise MaildError("maild exited with status %s:\n%s" % (
                        self.proc.returncode, self.log_text()))
                try:
                    c = IMAPConn(self.addr, port, tls=tls, timeout=2)
                    g = c.greeting
                    try:
                        c.command("LOGOUT")
                    except (OSError, IMAPError):
                        pass
                    c.close()
                    if g.startswith(b"* OK"):
                        break
                except (OSError, IMAPError, ssl.SSLError):
                    pass
                if time.monotonic() > end:
                    raise MaildError("no IMAP greeting on %s:%d within "
                                     "%.0fs:\n%s" % (self.addr, port,
                                                     timeout,
                                                     self.log_text()))
                time.sleep(0.1)

    def children(self):
        return proc_children(self.pid) if self.pid else []

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=5.0):
        """SIGTERM the parent, wait, SIGKILL after timeout.

        Returns True when the parent and every child it had exited
        within timeout after SIGTERM.
        """
        if getattr(self, "imap_peer", None) is not None:
            self.imap_peer.stop()
        if self.proc is None:
            return True
        clean = True
        if self.proc.poll() is None:
            kids = proc_descendants(self.pid)
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                clean = False
                self.proc.kill()
                self.proc.wait()
            # Children must follow the parent.
            if not wait_until(lambda: not any(pid_alive(k) for k in kids),
                              timeout if clean else 1):
                clean = False
                for k in kids:
                    try:
                        os.kill(k, signal.SIGKILL)
                    except OSError:
                        pass
        self.exit_status = self.proc.returncode
        self.proc = None
        if self.log_fh:
            self.log_fh.close()
            self.log_fh = None
        return clean

    def kill9(self):
        """SIGKILL the parent and all its descendants at once."""
        pids = [self.pid] + proc_descendants(self.pid)
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        return self._reaped(pids)

    def _reaped(self, pids):
        """After a SIGKILL: wait for pids to be gone; forget the run."""
        self.proc.wait()
        wait_until(lambda: not any(pid_alive(p) for p in pids), 5)
        self.proc = None
        if self.log_fh:
            self.log_fh.close()
            self.log_fh = None
        return pids

    def kill9_group(self):
        """SIGKILL maild's whole process group with one kill(2), as a
        power cut of the daemon would (needs own_group).  Returns the
        PIDs that were in it."""
        if not self.own_group:
            raise MaildError("kill9_group needs Maild(own_group=True)")
        pids = [self.pid] + proc_descendants(self.pid)
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return self._reaped(pids)

    def cleanup(self):
        self.stop()
        if self.owns_dir and not os.environ.get("MAILD_TEST_KEEP") \
                and failures() == 0:
            shutil.rmtree(self.dir, ignore_errors=True)

    @classmethod
    def stop_all(cls):
        for m in list(cls.instances):
            try:
                m.cleanup()
            except Exception as e:   # noqa: BLE001 - best effort on exit
                sys.stderr.write("maildtest: stopping %s (pid %s): %r\n"
                                 % (m.name, m.pid, e))
        cls.instances = []

    @classmethod
    def _install_hooks(cls):
        if cls._hooks:
            return
        cls._hooks = True
        atexit.register(cls.stop_all)

        def handler(signum, frame):
            cls.stop_all()
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP,
                  signal.SIGQUIT):
            signal.signal(s, handler)

    def __enter__(self):
        if not self.running():
            self.start()
        return self

    def __exit__(self, *a):
        self.stop()

    # -- logs

    def log_text(self, since_start=False):
        try:
            with open(self.log, "rb") as f:
                if since_start:
                    f.seek(self.log_offset)
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def dump_log(self, limit=300):
        lines = self.log_text().splitlines()
        diag("---- %s log %s (%d lines%s) ----" % (
            self.name, self.log, len(lines),
            ", last %d" % limit if len(lines) > limit else ""))
        for line in lines[-limit:]:
            diag(line)

    # -- conversations and mailboxes

    def connect(self, timeout=10.0, greet=True):
        return SMTPConn(self.addr, self.port, timeout, greet)

    def maildir(self, user, domain="example.org"):
        return Maildir(os.path.join(self.vmail, domain, user))

    def imap_connect(self, starttls_port=False, timeout=10.0):
        """An IMAPConn to the imaps listener (or, plain, the 143 one)."""
        if starttls_port:
            return IMAPConn(self.addr, self.imap_port2, tls=False,
                            timeout=timeout)
        return IMAPConn(self.addr, self.imap_port, tls=True, timeout=timeout)

    def imap_login(self, user="alice@example.org", password=None,
                   timeout=10.0):
        """An IMAPConn logged in as user; raises IMAPError if refused."""
        c = self.imap_connect(timeout=timeout)
        r = c.login(user, password or IMAP_PASSWORDS[user])
        if r.status != "OK":
            c.close()
            raise IMAPError("LOGIN %s refused: %s" % (user, r.text))
        return c

    def imaplib(self, user="alice@example.org", password=None, login=True,
                timeout=10.0):
        """imaplib.IMAP4_SSL on the imaps listener, logged in unless
        login is false."""
        import imaplib
        M = imaplib.IMAP4_SSL(self.addr, self.imap_port,
                              ssl_context=insecure_ssl_context(),
                              timeout=timeout)
        if login:
            M.login(user, password or IMAP_PASSWORDS[user])
        return M

    def mailbox_dir(self, folder=None, user="alice", domain="example.org"):
        """Maildir++ directory of an IMAP folder ("a/b" -> .a.b)."""
        root = os.path.join(self.vmail, domain, user)
        if folder is None or folder.upper() == "INBOX":
            return root
        return os.path.join(root, "." + folder.replace("/", "."))

    def deliver(self, data, rcpt="alice@example.org",
                sender="sender@client.test"):
        """Send one message over SMTP to port 25 style listener; returns
        the final reply code (250 expected)."""
        with self.connect() as c:
            c.ehlo()
            _, _, _, fr = c.send_message(sender, [rcpt], data)
            c.quit()
        return fr.code if fr else None

    def maildirs(self):
        return all_maildirs(self.vmail)

    def queue_entries(self):
        """Names left in the spool's queue/, incoming/ and corrupt/."""
        out = {}
        for sub in ("queue", "incoming", "corrupt"):
            try:
                out[sub] = sorted(os.listdir(os.path.join(self.spool, sub)))
            except FileNotFoundError:
                out[sub] = []
        return out


def swaks(m, to, *args, timeout=30, **kw):
    """Run swaks against m; returns CompletedProcess (text)."""
    cmd = ["swaks", "--server", "%s:%d" % (m.addr, m.port), "--to", to,
           "--from", kw.get("sender", "sender@client.test"),
           "--helo", "client.test", "--timeout", "15"] + list(args)
    return subprocess.run(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout,
                          universal_newlines=True, stdin=subprocess.DEVNULL)


def have(program):
    return shutil.which(program) is not None


def bare_lf(data):
    """Offsets of LF bytes not preceded by CR."""
    return [i for i in range(len(data)) if data[i:i + 1] == b"\n"
            and (i == 0 or data[i - 1:i] != b"\r")]


def bare_cr(data):
    return [i for i in range(len(data)) if data[i:i + 1] == b"\r"
            and data[i + 1:i + 2] != b"\n"]



# ---------------------------------------------------------------- IMAP

def imap_test_port(k=0):
    """Port k of this test's IMAP range: above every test_port()."""
    return 20143 + test_index() * 10 + k


IMAP_PASSWORDS = {
    "alice@example.org": "alice-imap-pw",
    "bob@example.org": "bob-imap-pw",
}

_hash_cache = {}


def hash_password(password, cost=6):
    """A bcrypt ($2b$) hash of password, as the passwd table wants it."""
    key = (password, cost)
    if key not in _hash_cache:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
            salt = crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << cost)
            h = crypt.crypt(password, salt)
        if not h or not h.startswith("$2b$"):
            raise RuntimeError("crypt() made no bcrypt hash: %r" % (h,))
        _hash_cache[key] = h
    return _hash_cache[key]


def imap_passwd(users=None):
    """passwd table text: `user@domain <bcrypt hash>` for each user
    (default IMAP_PASSWORDS)."""
    users = users or IMAP_PASSWORDS
    return "".join("%s %s\n" % (u, hash_password(p))
                   for u, p in sorted(users.items()))


def insecure_ssl_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def sasl_plain(user, password, authzid=""):
    """Base64 of the SASL PLAIN message (RFC 4616)."""
    import base64
    return base64.b64encode(("%s\0%s\0%s" % (authzid, user, password))
                            .encode()).decode()


class IMAPError(Exception):
    pass


class IMAPResult:
    """A tagged command's outcome: status ("OK", "NO", "BAD"), the tagged
    line (text, bytes raw), untagged responses (bytes, literals inline,
    no final CRLF) and continuation requests seen."""

    def __init__(self, tag, line, untagged, conts):
        self.tag = tag
        self.raw = line
        self.untagged = untagged
        self.conts = conts
        rest = line[len(tag) + 1:] if tag else line
        parts = rest.split(b" ", 1)
        self.status = parts[0].decode(errors="replace").upper()
        self.text = line.decode("utf-8", errors="replace")

    @property
    def code(self):
        """The response code of the tagged line ("TOOBIG", "COPYUID 1 2 3")
        or None."""
        m = re.match(rb"\S+ \S+ \[([^\]]*)\]", self.raw)
        return m.group(1).decode(errors="replace") if m else None

    def find(self, pattern):
        """Untagged responses matching the (bytes) regex pattern."""
        if isinstance(pattern, str):
            pattern = pattern.encode()
        return [u for u in self.untagged if re.search(pattern, u)]

    def all_text(self):
        return b"\n".join(self.untagged + [self.raw]).decode(
            "utf-8", errors="replace")

    def __repr__(self):
        return "IMAPResult(%r, untagged=%r)" % (self.raw, self.untagged)


class IMAPConn(LineConn):
    """A raw IMAP client over one socket (implicit TLS or not): tagged
    commands, literals both ways, untagged responses kept in order."""

    closed_error = IMAPError

    def __init__(self, addr, port, tls=True, timeout=10.0, greet=True):
        self.addr, self.port = addr, port
        self.timeout = timeout
        self.sock = socket.create_connection((addr, port), timeout=timeout)
        self.tls = False
        if tls:
            self.sock = insecure_ssl_context().wrap_socket(
                self.sock, server_hostname="mx.test")
            self.tls = True
        self.buf = b""
        self.closed = False
        self.tagn = 0
        self.greeting = self.response() if greet else None

    def response(self, timeout=None):
        """One whole response: a line plus any literals it carries
        (inline, "{n}\r\n" kept), without the final CRLF."""
        deadline = time.monotonic() + (timeout or self.timeout)
        out = b""
        while True:
            line = self.readline(max(0.001, deadline - time.monotonic()))
            out += line
            m = re.search(rb"\{(\d+)\}\r\n$", line)
            if not m:
                return out.rstrip(b"\r\n")
            out += self.read_exact(int(m.group(1)),
                                   max(0.001, deadline - time.monotonic()))

    def next_tag(self):
        self.tagn += 1
        return "a%03d" % self.tagn

    def _collect(self, tag, timeout, untagged=None, conts=None):
        untagged = [] if untagged is None else untagged
        conts = [] if conts is None else conts
        t = tag.encode() + b" "
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            r = self.response(max(0.001, deadline - time.monotonic()))
            if r.startswith(t):
                return IMAPResult(tag.encode(), r, untagged, conts)
            if r.startswith(b"+"):
                conts.append(r)
                continue
            untagged.append(r)
            if r.startswith(b"* BYE"):
                # The server is closing: the tagged reply may follow, or not.
                try:
                    rr = self.response(2)
                except (OSError, IMAPError):
                    return IMAPResult(b"", r, untagged, conts)
                if rr.startswith(t):
                    return IMAPResult(tag.encode(), rr, untagged, conts)
                untagged.append(rr)

    def command(self, line, timeout=None, tag=None):
        """Send "<tag> line" and read up to its tagged reply."""
        tag = tag or self.next_tag()
        if isinstance(line, str):
            line = line.encode()
        self.send(tag.encode() + b" " + line + b"\r\n")
        return self._collect(tag, timeout)

    def command_literal(self, before, literal, after=b"", plus=False,
                        timeout=None, tag=None):
        """"<tag> before {n}" CRLF literal after CRLF.  Synchronizing
        (plus false): waits for "+" first, returns the tagged reply at
        once if the server answers with one instead (the literal is then
        not sent)."""
        tag = tag or self.next_tag()
        if isinstance(before, str):
            before = before.encode()
        if isinstance(after, str):
            after = after.encode()
        head = tag.encode() + b" " + before + (b" {%d%s}\r\n" % (
            len(literal), b"+" if plus else b""))
        if plus:
            self.send(head + literal + after + b"\r\n")
            return self._collect(tag, timeout)
        self.send(head)
        untagged = []
        deadline = time.monotonic() + (timeout or self.timeout)
        t = tag.encode() + b" "
        while True:
            r = self.response(max(0.001, deadline - time.monotonic()))
            if r.startswith(b"+"):
                break
            if r.startswith(t):
                return IMAPResult(tag.encode(), r, untagged, [])
            untagged.append(r)
        self.send(literal + after + b"\r\n")
        return self._collect(tag, timeout, untagged, [r])

    def wait_for(self, pattern, timeout):
        """Read responses until one matches pattern (bytes regex); returns
        (match or None, [responses read])."""
        if isinstance(pattern, str):
            pattern = pattern.encode()
        seen = []
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None, seen
            try:
                r = self.response(left)
            except socket.timeout:
                return None, seen
            seen.append(r)
            if re.search(pattern, r):
                return r, seen

    def no_response_within(self, seconds):
        """True when no data at all arrives within seconds (and no EOF)."""
        return self.quiet_for(seconds)

    # -- commands

    def starttls(self):
        r = self.command("STARTTLS")
        if r.status != "OK":
            return r
        if self.buf:
            raise IMAPError("data after STARTTLS reply: %r" % self.buf)
        self.sock = insecure_ssl_context().wrap_socket(
            self.sock, server_hostname="mx.test")
        self.tls = True
        return r

    def login(self, user, password):
        return self.command("LOGIN %s %s" % (imap_quote(user),
                                             imap_quote(password)))

    def capabilities(self):
        """The CAPABILITY list (upper case) from a CAPABILITY command."""
        r = self.command("CAPABILITY")
        for u in r.untagged:
            if u.upper().startswith(b"* CAPABILITY "):
                return u[13:].decode().upper().split()
        return []

    def select(self, mailbox="INBOX", examine=False, extra=""):
        return self.command("%s %s%s" % ("EXAMINE" if examine else "SELECT",
                                         imap_quote(mailbox), extra))

    def fetch(self, seqset, items, uid=False):
        """FETCH: (result, {number: {ITEM: value}}), number the sequence
        number of each FETCH response."""
        r = self.command("%sFETCH %s %s" % ("UID " if uid else "", seqset,
                                            items))
        return r, fetch_responses(r.untagged)

    def logout(self):
        try:
            r = self.command("LOGOUT", timeout=5)
        except (OSError, IMAPError):
            r = None
        self.close()
        return r

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def imap_quote(s):
    """s as an IMAP quoted string."""
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


# -- parsing responses

_ATOM_END = b" ()\r\n"


def imap_parse(data):
    """Parse IMAP response data into Python values: lists for
    parenthesized lists, bytes for quoted strings and literals, None for
    NIL, str for atoms and numbers (atoms keep any [section]<partial>)."""
    pos = 0
    n = len(data)
    stack = [[]]
    while pos < n:
        c = data[pos:pos + 1]
        if c == b" " or c == b"\r" or c == b"\n":
            pos += 1
        elif c == b"(":
            stack.append([])
            pos += 1
        elif c == b")":
            if len(stack) < 2:
                raise ValueError("unbalanced ) at %d in %r" % (pos, data))
            lst = stack.pop()
            stack[-1].append(lst)
            pos += 1
        elif c == b'"':
            out = bytearray()
            pos += 1
            while pos < n and data[pos:pos + 1] != b'"':
                if data[pos:pos + 1] == b"\\":
                    pos += 1
                out += data[pos:pos + 1]
                pos += 1
            if pos >= n:
                raise ValueError("unterminated string in %r" % data)
            pos += 1
            stack[-1].append(bytes(out))
        elif c == b"{" or (c == b"~" and data[pos + 1:pos + 2] == b"{"):
            if c == b"~":
                pos += 1
            m = re.match(rb"\{(\d+)\+?\}\r\n", data[pos:])
            if not m:
                raise ValueError("bad literal at %d in %r" % (pos, data))
            pos += m.end()
            size = int(m.group(1))
            stack[-1].append(data[pos:pos + size])
            pos += size
        else:
            start = pos
            depth = 0
            while pos < n:
                ch = data[pos:pos + 1]
                if ch == b"[":
                    depth += 1
                elif ch == b"]":
                    depth -= 1
                elif depth == 0 and ch in (b" ", b"(", b")", b"\r",
                                           b"\n"):
                    break
                pos += 1
            atom = data[start:pos].decode("utf-8", errors="replace")
            stack[-1].append(None if atom.upper() == "NIL" else atom)
    if len(stack) != 1:
        raise ValueError("unbalanced ( in %r" % data)
    return stack[0]


def fetch_responses(untagged):
    """{seq: {ITEM: value}} from "* n FETCH (...)" responses (several for
    one message are merged)."""
    out = {}
    for u in untagged:
        m = re.match(rb"\* (\d+) FETCH ", u, re.I)
        if not m:
            continue
        v = imap_parse(u[m.end():])
        if not v or not isinstance(v[0], list):
            continue
        items = v[0]
        d = out.setdefault(int(m.group(1)), {})
        for i in range(0, len(items) - 1, 2):
            key = items[i].upper() if isinstance(items[i], str) else items[i]
            d[key] = items[i + 1]
    return out


def untagged_numbers(untagged, word):
    """Numbers n of "* n WORD" responses (EXISTS, EXPUNGE, RECENT)."""
    out = []
    for u in untagged:
        m = re.match(rb"\* (\d+) " + word.encode() + rb"\b", u, re.I)
        if m:
            out.append(int(m.group(1)))
    return out


def list_responses(untagged, kind="LIST"):
    """{name: (attributes upper case, delimiter, extra)} from LIST/LSUB
    responses; extra is any extended data (CHILDINFO ...)."""
    out = {}
    pre = ("* %s " % kind).encode()
    for u in untagged:
        if not u.upper().startswith(pre):
            continue
        v = imap_parse(u[len(pre):])
        if len(v) < 3:
            continue
        attrs = [a.upper() for a in v[0]] if isinstance(v[0], list) else []
        name = v[2]
        if isinstance(name, bytes):
            name = name.decode("utf-8", errors="replace")
        delim = v[1].decode() if isinstance(v[1], bytes) else v[1]
        out[name] = (attrs, delim, v[3:])
    return out


def status_response(untagged, mailbox=None):
    """{ITEM: int} of the first (or mailbox's) "* STATUS" response."""
    for u in untagged:
        if not u.upper().startswith(b"* STATUS "):
            continue
        v = imap_parse(u[9:])
        if len(v) < 2:
            continue
        name = v[0].decode() if isinstance(v[0], bytes) else v[0]
        if mailbox is not None and name != mailbox:
            continue
        items = v[1]
        return {items[i].upper(): int(items[i + 1])
                for i in range(0, len(items) - 1, 2)}
    return None


def uid_set(s):
    """Expand an IMAP UID/sequence set string ("1:3,7") into a list."""
    out = []
    for part in s.split(","):
        if ":" in part:
            a, b = part.split(":")
            a, b = int(a), int(b)
            out.extend(range(min(a, b), max(a, b) + 1))
        else:
            out.append(int(part))
    return out


def chown_vmail(path, upto=None):
    """As root: give path (recursively) to the vmail user, as the imap
    process runs as vmail; fixtures copied in by a test need it.  The
    parents of path up to and including upto (e.g. m.vmail) too."""
    if not is_root():
        return
    ensure_users()
    pw = pwd.getpwnam("vmail")
    for root, dirs, files in os.walk(path):
        for n in [root] + [os.path.join(root, x) for x in dirs + files]:
            os.lchown(n, pw.pw_uid, pw.pw_gid)
    if upto:
        upto = os.path.abspath(upto)
        d = os.path.dirname(os.path.abspath(path))
        while d.startswith(upto):
            os.lchown(d, pw.pw_uid, pw.pw_gid)
            if d == upto:
                break
            d = os.path.dirname(d)
