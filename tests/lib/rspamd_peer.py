"""
A real rspamd (Debian's package, 3.4) for maild's integration tests,
with a private redis-server for its Bayes statistics, both started and
stopped by the test: never the system's service, never the machine's
resolver, no TCP port for redis.

    import rspamd_peer
    with rspamd_peer.Rspamd(nameserver=dns) as r:   # dns: t.Dnsmasq
        r.url              # "http://127.0.0.1:PORT", the normal worker
        r.controller_url   # "http://127.0.0.1:PORT2", the controller
        r.password         # the controller's password
        r.check(data, {"IP": ...})   # POST /checkv2: the parsed answer
        r.learned()        # (spam, ham) learns rspamd accepted
        r.scans(mid)       # what rspamd logged for each message it scanned
        r.stop(); r.start()  # an outage, then the same ports and data

`python3 tests/lib/rspamd_peer.py` runs selftest(): every behaviour of
rspamd that tests/integration/69-rspamd.t relies on, checked directly
against it (the test runs it too, first).

Everything is in one directory, /tmp/rspamd-<test>-XXXX (removed at the
end unless something failed or MAILD_TEST_KEEP is set):
    local/       LOCAL_CONFDIR: local.d/ overrides and rspamd.local.lua
    db/ run/     DBDIR and RUNDIR
    log/         rspamd.log, rspamd.stderr and redis.log (dump_log())
    redis/       redis.sock, and redis' working directory (no dump)
Compiled hyperscan databases go to hs_cache_dir(), kept between runs:
rspamd compiles the public suffix list at start, 15 to 25 s on this
kind of machine the first time, under 1 s with the cache.

The rspamd it runs is the stock /etc/rspamd/rspamd.conf with its path
variables pointed into that directory (--var=LOCAL_CONFDIR=... DBDIR
RUNDIR LOGDIR), workers bound to 127.0.0.1 only, the proxy and fuzzy
workers off, and every module that would reach the network (DNS
blocklists, fuzzy hashes, SPF/DKIM/DMARC/ARC lookups, remote maps,
updates) or keep state that changes answers (greylist, ratelimit,
replies, reputation, neural) disabled: answers are deterministic and
fast.  Its resolver is the nameserver given (a maildtest.Dnsmasq or
"addr:port"; by default 127.0.0.1:9, where nobody answers); checked
with strace: the only sockets it opens are to that address, the redis
socket and its own.

Local rules (rspamd.local.lua), by a keyword in the Subject:
    maild-add-header  MAILD_TEST_ADD     7.0  -> "add header"
    maild-rewrite     MAILD_TEST_REWRITE 9.0  -> "rewrite subject"
    maild-soft        MAILD_TEST_SOFT    0.1  + force_actions "soft reject"
                                                with SOFT_MESSAGE
    maild-grey        MAILD_TEST_GREY    0.1  + force_actions "greylist"
                                                with GREY_MESSAGE
    maild-reject-msg  MAILD_TEST_REJECT  0.1  + force_actions "reject"
                                                with REJECT_MESSAGE
and GTUBE (the string below in the body) gives "reject" by itself.
Action thresholds (local.d/actions.conf): reject 15, rewrite_subject 8,
add_header 6, greylist off (the greylist module is off too, so
"greylist" only ever comes from force_actions, as rspamd's answer with
nothing converting it).

What rspamd 3.4 answers on /checkv2, as checked by selftest():
    action           "no action", "greylist", "add header",
                     "rewrite subject", "soft reject" or "reject"
    score            the sum of the symbols' "score" (not metric_score:
                     a group's max_score can cut a symbol's score to 0)
    required_score   15.0, the reject threshold, whatever the action
    symbols          {NAME: {"name", "score", "metric_score",
                     "description", "options"?}}
    subject          only with "rewrite subject": "*** SPAM *** " +
                     the Subject (rspamd's default, with the spaces)
    messages         {} or {"smtp_message": text}: a force_actions
                     message, or "Gtube pattern" for GTUBE
    milter           with milter_headers use = ["x-spamd-bar",
                     "remove-spam-flag"]:
                       {"add_headers": {"X-Spamd-Bar": {"value": BAR,
                        "order": -1}},
                        "remove_headers": {"X-Spamd-Bar": 0, "X-Spam": 0}}
                     BAR is "+" per point ("+++++++" for 7.0), "/" for
                     a score under 1 (and over -1), "-" per point under
                     0; 0 in remove_headers means every instance.
                     Also for loopback and authenticated clients
                     (skip_local and skip_authenticated off: rspamd
                     counts every loopback address as local).  For
                     GTUBE (a reject decided before the milter rules
                     run) "milter" is absent.  A forged "X-Spam: yes"
                     in a message scores SPAM_FLAG (5.0): no action.
    message-id       the Message-ID without <>
The request headers maild sends (IP, Helo, From, Rcpt, Queue-Id, User)
and its Received header can add symbols: From/Rcpt FROM_EQ_ENVFROM and
TO_MATCH_ENVRCPT_ALL (0.0), a Received without TLS RCVD_NO_TLS_LAST
(0.1).  once_received is off: it would look up the client's PTR itself
(IP without Hostname) and add RDNS_NONE (1.0), or RDNS_DNSFAIL.  So a
score is compared with check(data, the same headers), or with scans(),
and the action thresholds leave room for a point of such symbols.

Learning, on the controller: POST /learnspam or /learnham with the
message.  From 127.0.0.1 (secure_ip) no password is needed and a wrong
one is ignored; from anywhere else (another 127.0.0.x source address
too) it takes the Password header: 401 {"error": "Unauthorized"}
without it.  Answers: 200 {"success": true}; 208 {"error": "<mid> has
been already learned as spam, ignore it"} for the same message learned
again into the same class (rspamd's learn cache, by digest); the other
class relearns it (200).  /learnspam on the normal worker: 500
"invalid command".  What counts learns:
    learned()      (spam, ham) from rspamd's log: one line per learn it
                   accepted, at once, never decremented, kept across a
                   restart (learned_ids(): the Message-IDs, in order)
    refused()      learns refused as already learned (duplicates)
    stat()["learned"]   the controller's total of accepted learns, at
                   once, kept across a restart (stats.ucl)
    bayes_learns() (spam, ham) in redis (learns_spam, learns_ham): net of
                   relearns -- learning a spam as ham moves one from
                   spam to ham
    stat()["statfiles"][i]["revision"]  the same as bayes_learns() but
                   refreshed by the controller only every 30-60 s: of no
                   use to a test
min_learns is huge, so the classifier never votes (no BAYES_SPAM or
BAYES_HAM symbol, no learn refused as "already in class"): scores stay
the same however much a test learns.  min_tokens 1: short test
messages are learned.
"""

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import maildtest as t  # noqa: E402

RSPAMD = "/usr/bin/rspamd"
REDIS = "/usr/bin/redis-server"
STOCK_CONF = "/etc/rspamd/rspamd.conf"

SOFT_MESSAGE = "maild test soft reject, try again later"
GREY_MESSAGE = "maild test greylisted, try again later"
REJECT_MESSAGE = "maild test rejects this"
GTUBE_MESSAGE = "Gtube pattern"
REWRITE_PREFIX = "*** SPAM *** "

GTUBE = ("XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*"
         "C.34X")

# What Subject keyword gives what (see the module's documentation).
RULES = {
    "maild-add-header": ("MAILD_TEST_ADD", 7.0, "add header", None),
    "maild-rewrite": ("MAILD_TEST_REWRITE", 9.0, "rewrite subject", None),
    "maild-soft": ("MAILD_TEST_SOFT", 0.1, "soft reject", SOFT_MESSAGE),
    "maild-grey": ("MAILD_TEST_GREY", 0.1, "greylist", GREY_MESSAGE),
    "maild-reject-msg": ("MAILD_TEST_REJECT", 0.1, "reject",
                         REJECT_MESSAGE),
}
REQUIRED_SCORE = 15.0

MILTER_HEADERS = ["x-spamd-bar", "remove-spam-flag"]

# rspamd's log line for each scanned message (logging log_format),
# parsed by Rspamd.scans().
LOG_FORMAT = ("maild-scan: mid=<$mid> qid=<$qid> ip=<$ip> user=<$user> "
              "from=<$smtp_from> rcpts=<$smtp_rcpts> action=<$action> "
              "score=<$scores> forced=<$forced_action> len=<$len> "
              "time=<$time_real> symbols=<$symbols_scores>")
SCAN_RE = re.compile(
    r"maild-scan: mid=<(?P<mid>.*?)> qid=<(?P<qid>.*?)> ip=<(?P<ip>.*?)> "
    r"user=<(?P<user>.*?)> from=<(?P<from>.*?)> rcpts=<(?P<rcpts>.*?)> "
    r"action=<(?P<action>[a-z ]+)> score=<(?P<score>-?[0-9.]+)/"
    r"(?P<required>-?[0-9.]+)> forced=<(?P<forced>.*?)> "
    r"len=<(?P<len>\d+)> time=<(?P<time>[^>]*)> "
    r"symbols=<(?P<symbols>.*)>$")
LEARN_RE = re.compile(r"rspamd_controller_learn_fin_task: <[^>]*> learned "
                      r"message as (spam|ham): (.*)$")
REFUSED_RE = re.compile(r"rspamd_task_process: skip learning: <(.*?)> has "
                        r"been already learned as (spam|ham)")

# Modules that would go to the network (DNS, HTTP, UDP) or fetch remote
# maps, or keep state that changes answers: local.d/<name>.conf
# "enabled = false;" each (rspamd logs "... is disabled in the
# configuration" for each at start).
DISABLED_MODULES = [
    "antivirus", "arc", "asn", "aws_s3", "bimi", "clickhouse", "clustering",
    "dcc", "dkim", "dkim_signing", "dmarc", "elastic", "emails",
    "external_relay", "external_services", "fuzzy_check", "greylist",
    "hfilter", "http_headers", "maillist", "metadata_exporter",
    "metric_exporter", "mid", "mime_types", "multimap", "mx_check",
    "neural", "once_received", "p0f", "phishing", "ratelimit", "rbl",
    "replies", "reputation", "rspamd_update", "spamassassin", "spamtrap",
    "spf", "surbl", "url_redirector", "whitelist",
]


def available():
    """None when rspamd and redis-server can run here, else why not."""
    for p in (RSPAMD, REDIS, STOCK_CONF):
        if not os.path.exists(p):
            return "%s is missing (scripts/install-deps: rspamd, " \
                "redis-server)" % p
    return None


def hs_cache_dir():
    """A directory kept between test runs for rspamd's compiled
    hyperscan databases: $MAILD_TEST_RSPAMD_CACHE, else
    /var/tmp/maild-test-rspamd-<uid>.  None (no cache: every start
    compiles) unless it is a directory of our own nobody else can write
    (rspamd loads what it finds there)."""
    d = os.environ.get("MAILD_TEST_RSPAMD_CACHE") or \
        "/var/tmp/maild-test-rspamd-%d" % os.geteuid()
    try:
        os.makedirs(d, mode=0o700, exist_ok=True)
        st = os.lstat(d)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or \
            st.st_mode & 0o022:
        return None
    return d


def _pdeathsig():
    """In the child: SIGTERM when the test process dies, so that a test
    killed (prove's timeout, SIGKILL) leaves no daemon behind."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def port_free(addr, port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((addr, port))
        except OSError:
            return False
    return True


def http(method, url, body=None, headers=None, timeout=10.0):
    """One request: (status, headers dict, body bytes); status 0 and the
    error as body when there is no HTTP answer."""
    req = urllib.request.Request(url, data=body, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()
    except (OSError, ValueError) as e:
        return 0, {}, str(e).encode()


def parse_symbols(text):
    """"A(1.00),B(0.00)" (log_format $symbols_scores) -> {name: score}."""
    out = {}
    for m in re.finditer(r"([A-Z0-9_]+)\((-?[0-9.]+)\)", text):
        out[m.group(1)] = float(m.group(2))
    return out


class RspamdError(Exception):
    pass


class _Daemon:
    """One process started by the harness, stopped by its PID."""

    def __init__(self, name, cmd, log):
        self.name = name
        self.cmd = cmd
        self.log = log
        self.proc = None

    def start(self):
        with open(self.log, "ab") as fh:
            fh.write(("--- start %s: %s\n" % (
                time.strftime("%H:%M:%S"), " ".join(self.cmd))).encode())
            fh.flush()
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                         stdout=fh, stderr=fh,
                                         preexec_fn=_pdeathsig)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM, SIGKILL after timeout; its children (rspamd's
        workers) must be gone too."""
        if self.proc is None:
            return
        pid = self.proc.pid
        if self.proc.poll() is None:
            kids = t.proc_descendants(pid)
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            if not t.wait_until(lambda: not any(t.pid_alive(k)
                                                for k in kids), timeout):
                for k in kids:
                    try:
                        os.kill(k, signal.SIGKILL)
                    except OSError:
                        pass
        self.proc = None


class Rspamd:
    """rspamd and its redis-server (see the module's documentation).
      port, controller_port   on 127.0.0.1; default the test's
                              test_port(6) and test_port(7)
      nameserver   rspamd's only DNS server: a maildtest.Dnsmasq,
                   "addr:port", or None: 127.0.0.1:9 (nobody there)
      password     the controller's password
      secure_ip    addresses the controller trusts without a password
                   (default 127.0.0.1); None: everyone needs it
      workers      normal worker processes
      extra_local  {file name: text}: more files for local.d/
    """

    instances = []
    _hooked = False

    def __init__(self, port=None, controller_port=None, nameserver=None,
                 password="maild-rspamd-pw", secure_ip="127.0.0.1",
                 workers=1, extra_local=None):
        why = available()
        if why:
            raise RspamdError(why)
        self.addr = "127.0.0.1"
        self.port = port or t.test_port(6)
        self.controller_port = controller_port or t.test_port(7)
        if nameserver is None:
            nameserver = "127.0.0.1:9"
        elif not isinstance(nameserver, str):
            nameserver = "%s:%d" % (nameserver.addr, nameserver.port)
        self.nameserver = nameserver
        self.password = password
        self.secure_ip = secure_ip
        self.workers = workers
        self.extra_local = dict(extra_local or {})
        base = os.path.splitext(os.path.basename(sys.argv[0]))[0]
        self.dir = tempfile.mkdtemp(prefix="rspamd-%s-" % base, dir="/tmp")
        self.logdir = os.path.join(self.dir, "log")
        self.redis_dir = os.path.join(self.dir, "redis")
        self.redis_socket = os.path.join(self.redis_dir, "redis.sock")
        self.log = os.path.join(self.logdir, "rspamd.log")
        self.redis_log = os.path.join(self.logdir, "redis.log")
        self.stderr_log = os.path.join(self.logdir, "rspamd.stderr")
        self.hs_cache = hs_cache_dir() or os.path.join(self.dir, "db")
        for d in ("local/local.d", "db", "run", "log", "redis"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        self.redis = _Daemon("redis-server", [REDIS, os.path.join(
            self.dir, "redis.conf")], self.redis_log)
        cmd = [RSPAMD, "-f", "-c", STOCK_CONF]
        if os.geteuid() == 0:
            # Its workers would drop to _rspamd, who cannot read here.
            cmd += ["-u", "root", "-g", "root"]
        cmd += ["--var=%s=%s" % (k, os.path.join(self.dir, v))
                for k, v in (("LOCAL_CONFDIR", "local"), ("DBDIR", "db"),
                             ("RUNDIR", "run"), ("LOGDIR", "log"))]
        self.rspamd = _Daemon("rspamd", cmd, self.stderr_log)
        self.write_config()
        Rspamd.instances.append(self)
        Rspamd._install_hooks()

    @property
    def url(self):
        return "http://%s:%d" % (self.addr, self.port)

    @property
    def controller_url(self):
        return "http://%s:%d" % (self.addr, self.controller_port)

    # -- configuration

    def _write(self, rel, text):
        with open(os.path.join(self.dir, rel), "w") as f:
            f.write(text)

    def write_config(self):
        self._write("redis.conf", "\n".join([
            "port 0",
            "unixsocket %s" % self.redis_socket,
            "unixsocketperm 700",
            "dir %s" % self.redis_dir,
            'save ""',
            "appendonly no",
            "daemonize no",
            "logfile %s" % self.redis_log,
            "databases 1",
            ""]))
        ld = "local/local.d/"
        self._write(ld + "worker-normal.inc",
                    'bind_socket = "%s:%d";\ncount = %d;\n'
                    % (self.addr, self.port, self.workers))
        self._write(ld + "worker-controller.inc", "\n".join([
            'bind_socket = "%s:%d";' % (self.addr, self.controller_port),
            "count = 1;",
            'password = "%s";' % self.password,
            'enable_password = "%s";' % self.password,
            # This replaces the stock 127.0.0.1 and ::1; 192.0.2.1 is
            # TEST-NET-1, no client of ours.
            'secure_ip = "%s";' % (self.secure_ip or "192.0.2.1"),
            ""]))
        # count = -1 disables a worker (as the stock fuzzy one is).
        for w in ("worker-proxy.inc", "worker-fuzzy.inc"):
            self._write(ld + w, 'count = -1;\nbind_socket = "%s:0";\n'
                        % self.addr)
        self._write(ld + "options.inc", "\n".join([
            "dns {",
            '  nameserver = ["%s"];' % self.nameserver,
            "  timeout = 0.5s;",
            "  retransmits = 1;",
            "}",
            'tempdir = "%s";' % os.path.join(self.dir, "run"),
            'hs_cache_dir = "%s";' % self.hs_cache,
            # Nothing is local: the test's clients are "the Internet".
            "local_addrs = [];",
            ""]))
        self._write(ld + "logging.inc", "\n".join([
            'type = "file";',
            'filename = "%s";' % self.log,
            'level = "info";',
            'log_format = "%s";' % LOG_FORMAT,
            ""]))
        self._write(ld + "redis.conf", 'servers = "%s";\n'
                    % self.redis_socket)
        self._write(ld + "classifier-bayes.conf", "\n".join([
            'backend = "redis";',
            'servers = "%s";' % self.redis_socket,
            "min_learns = 1000000000;",
            "min_tokens = 1;",
            ""]))
        self._write(ld + "actions.conf", "\n".join([
            "reject = %s;" % REQUIRED_SCORE,
            "rewrite_subject = 8;",
            "add_header = 6;",
            "greylist = null;",
            ""]))
        # The test's clients are on loopback, which rspamd always counts
        # as local (ip:is_local(), whatever local_addrs says): by default
        # milter_headers adds nothing for local or authenticated mail.
        self._write(ld + "milter_headers.conf", "\n".join([
            "use = [%s];" % ", ".join('"%s"' % h for h in MILTER_HEADERS),
            "skip_local = false;",
            "skip_authenticated = false;",
            ""]))
        forced = []
        for word, (sym, _, action, message) in sorted(RULES.items()):
            if message:
                forced.append('  %s {\n    action = "%s";\n    expression '
                              '= "%s";\n    message = "%s";\n  }\n'
                              % (sym.replace("_TEST", ""), action, sym,
                                 message))
        self._write(ld + "force_actions.conf",
                    "rules {\n%s}\n" % "".join(forced))
        for mod in DISABLED_MODULES:
            self._write(ld + "%s.conf" % mod, "enabled = false;\n")
        lua = ["-- maild's integration tests: symbols by a keyword in the",
               "-- Subject (tests/lib/rspamd_peer.py writes this).",
               "local function subject_rule(name, word, score)",
               "  rspamd_config:register_symbol{",
               "    name = name, score = score, group = 'maild_test',",
               "    description = 'maild test: Subject has ' .. word,",
               "    callback = function(task)",
               "      local s = task:get_header('Subject')",
               "      return s ~= nil and s:find(word, 1, true) ~= nil",
               "    end,",
               "  }",
               "end"]
        for word, (sym, score, _, _) in sorted(RULES.items()):
            lua.append("subject_rule('%s', '%s', %.1f)" % (sym, word, score))
        self._write("local/rspamd.local.lua", "\n".join(lua) + "\n")
        for name, text in self.extra_local.items():
            self._write(ld + name, text)

    # -- start / stop

    def start(self, timeout=120.0):
        """Start redis-server (unless it runs) and rspamd; wait until
        both workers answer /ping.  Raises RspamdError."""
        end = time.monotonic() + timeout
        if not self.redis.running():
            self.redis.start()
            if not t.wait_until(self._redis_ready, 10):
                self.cleanup()
                raise RspamdError("redis-server did not answer on %s:\n%s"
                                  % (self.redis_socket,
                                     self.tail(self.redis_log)))
        if self.rspamd.running():
            raise RspamdError("rspamd already running")
        for p in (self.port, self.controller_port):
            if not port_free(self.addr, p):
                raise RspamdError("%s:%d: Address already in use"
                                  % (self.addr, p))
        self.rspamd.start()

        def ready():
            if not self.rspamd.running():
                raise RspamdError("rspamd exited with status %s:\n%s\n%s" % (
                    self.rspamd.proc.returncode, self.tail(self.stderr_log),
                    self.tail(self.log)))
            # /ping: no scan, no learn, nothing counted.
            return all(http("GET", u + "/ping", timeout=2)[2].startswith(
                b"pong") for u in (self.url, self.controller_url))
        if not t.wait_until(ready, max(1.0, end - time.monotonic()), 0.1):
            self.stop()
            raise RspamdError("rspamd did not answer on %s and %s within "
                              "%.0fs:\n%s" % (self.url, self.controller_url,
                                              timeout, self.tail(self.log)))
        return self

    def _redis_ready(self):
        if not self.redis.running():
            raise RspamdError("redis-server exited:\n%s"
                              % self.tail(self.redis_log))
        try:
            return self.redis_command("PING") == "PONG"
        except OSError:
            return False

    def stop(self):
        """Stop rspamd, not redis: start() again finds what was learned.
        cleanup() stops both."""
        self.rspamd.stop()

    def running(self):
        return self.rspamd.running()

    def cleanup(self):
        self.rspamd.stop()
        self.redis.stop()
        if not os.environ.get("MAILD_TEST_KEEP") and t.failures() == 0:
            shutil.rmtree(self.dir, ignore_errors=True)

    @classmethod
    def stop_all(cls):
        for r in list(cls.instances):
            try:
                r.cleanup()
            except Exception as e:   # noqa: BLE001 - best effort on exit
                sys.stderr.write("rspamd_peer: stopping: %r\n" % (e,))
        cls.instances = []

    @classmethod
    def _install_hooks(cls):
        """atexit (also after t.skip_all()); t.done() leaves with
        os._exit(), so a test stops its Rspamd itself (with, or
        cleanup()); a killed test leaves nothing running (PDEATHSIG)."""
        if cls._hooked:
            return
        cls._hooked = True
        import atexit
        atexit.register(cls.stop_all)

    def __enter__(self):
        if not self.running():
            self.start()
        return self

    def __exit__(self, *a):
        if a[0] is not None or t.failures():
            self.dump_log()
        self.cleanup()
        if self in Rspamd.instances:
            Rspamd.instances.remove(self)

    # -- talking to it

    def check(self, data, headers=None, timeout=10.0):
        """POST data to /checkv2 with these request headers (IP, Helo,
        From, Rcpt, Queue-Id, User, ...); the parsed answer.  Raises
        RspamdError when there is none."""
        st, _, body = http("POST", self.url + "/checkv2", data,
                           headers or {}, timeout)
        if st != 200:
            raise RspamdError("/checkv2: HTTP %d: %r" % (st, body[:300]))
        return json.loads(body.decode())

    def learn(self, kind, data, password=True, timeout=10.0):
        """POST data to /learnspam or /learnham (kind "spam", "ham");
        (status, parsed JSON or the raw body)."""
        h = {"Password": self.password} if password else {}
        st, _, body = http("POST", "%s/learn%s" % (self.controller_url,
                                                   kind), data, h, timeout)
        try:
            return st, json.loads(body.decode())
        except ValueError:
            return st, body

    def stat(self, timeout=10.0):
        """The controller's /stat, parsed."""
        st, _, body = http("GET", self.controller_url + "/stat",
                           headers={"Password": self.password},
                           timeout=timeout)
        if st != 200:
            raise RspamdError("/stat: HTTP %d: %r" % (st, body[:300]))
        return json.loads(body.decode())

    def learned_ids(self):
        """[(kind, message-id)] of every learn rspamd accepted, in
        order, from its log (see the module's documentation)."""
        out = []
        for line in self.log_text().splitlines():
            m = LEARN_RE.search(line)
            if m:
                out.append((m.group(1), m.group(2).strip()))
        return out

    def learned(self):
        """(spam, ham): learns rspamd accepted so far; each adds one."""
        ids = self.learned_ids()
        return (sum(1 for k, _ in ids if k == "spam"),
                sum(1 for k, _ in ids if k == "ham"))

    def refused(self):
        """[(kind, message-id)] of learns refused as already learned."""
        out = []
        for line in self.log_text().splitlines():
            m = REFUSED_RE.search(line)
            if m:
                out.append((m.group(2), m.group(1)))
        return out

    def bayes_learns(self):
        """(learns_spam, learns_ham) from redis: net of relearns."""
        v = self.redis_command("HMGET", "RS", "learns_spam", "learns_ham")
        return tuple(int(x or 0) for x in v)

    def scans(self, mid=None):
        """What rspamd logged for each message it scanned, in order:
        dicts with mid (no <>), qid, ip, user, from, rcpts, action,
        score and required (floats), forced, len (int) and symbols
        ({name: score}); only those with Message-ID mid if given.
        rspamd writes "undef" for what it was not told."""
        out = []
        for line in self.log_text().splitlines():
            m = SCAN_RE.search(line)
            if not m:
                continue
            d = m.groupdict()
            if mid is not None and d["mid"] != mid.strip("<>"):
                continue
            d["score"] = float(d["score"])
            d["required"] = float(d["required"])
            d["len"] = int(d["len"])
            d["symbols"] = parse_symbols(d["symbols"])
            out.append(d)
        return out

    def redis_command(self, *args, timeout=5.0):
        """One command to the private redis (RESP over its socket): a
        str, int, None or list of those."""
        req = b"*%d\r\n" % len(args) + b"".join(
            b"$%d\r\n%s\r\n" % (len(a), a) for a in
            (x.encode() if isinstance(x, str) else x for x in args))
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(self.redis_socket)
            s.sendall(req)
            f = s.makefile("rb")
            return self._resp(f)

    def _resp(self, f):
        line = f.readline()
        if not line.endswith(b"\r\n"):
            raise OSError("redis: short answer %r" % line)
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RspamdError("redis: %s" % rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = f.read(n + 2)
            return data[:-2].decode("utf-8", "replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._resp(f) for _ in range(n)]
        raise OSError("redis: bad answer %r" % line)

    # -- logs

    @staticmethod
    def tail(path, limit=60):
        try:
            with open(path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return "(no %s)" % path
        return "\n".join(lines[-limit:])

    def log_text(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def dump_log(self, limit=60):
        """The tails of rspamd's and redis' logs as TAP diagnostics."""
        for path in (self.log, self.stderr_log, self.redis_log):
            t.diag("---- %s (last %d lines) ----" % (path, limit))
            t.diag(self.tail(path, limit))


# ---------------------------------------------------------------- fakes

class FakeHTTP(threading.Thread):
    """A broken rspamd on addr:port for failure tests, in a thread that
    ends by itself after lifetime seconds (or at stop()):
      "silent"   accepts, reads, never answers; closes after lifetime
      "garbage"  answers each request with GARBAGE (bytes that look
                 like HTTP but carry no JSON) and closes
    accepted counts connections, requests keeps each request line."""

    GARBAGE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{oops"

    def __init__(self, port, mode, addr="127.0.0.1", lifetime=60.0,
                 reply=None):
        super().__init__(daemon=True)
        if mode not in ("silent", "garbage"):
            raise ValueError("mode %r" % mode)
        self.mode = mode
        self.reply = reply if reply is not None else self.GARBAGE
        self.addr, self.port = addr, port
        self.url = "http://%s:%d" % (addr, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, port))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.end = time.monotonic() + lifetime
        self.accepted = 0
        self.requests = []
        self.held = []
        self.stopping = False

    def run(self):
        try:
            while not self.stopping and time.monotonic() < self.end:
                self._drain()
                try:
                    c, _ = self.sock.accept()
                except socket.timeout:
                    continue
                except OSError:
                    break
                self.accepted += 1
                if self.mode == "silent":
                    c.setblocking(False)
                    self.held.append(c)
                    continue
                try:
                    self._answer(c)
                except OSError:
                    pass
                finally:
                    c.close()
        finally:
            for c in self.held:
                c.close()
            self.held = []
            self.sock.close()

    def _drain(self):
        """Read (and drop) what held connections send; forget closed
        ones.  Bounded: at most 1 MB per connection per round."""
        keep = []
        for c in self.held:
            alive = True
            try:
                for _ in range(16):
                    d = c.recv(65536)
                    if not d:
                        alive = False
                        break
            except BlockingIOError:
                pass
            except OSError:
                alive = False
            if alive:
                keep.append(c)
            else:
                c.close()
        self.held = keep

    def _answer(self, c):
        """Read the request head and body (bounded), then reply."""
        c.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            d = c.recv(65536)
            if not d:
                return
            data += d
        head, _, body = data.partition(b"\r\n\r\n")
        m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        want = min(int(m.group(1)), 50 << 20) if m else 0
        while len(body) < want:
            d = c.recv(65536)
            if not d:
                break
            body += d
        self.requests.append(head.split(b"\r\n", 1)[0])
        c.sendall(self.reply)

    def stop(self):
        self.stopping = True
        if self.is_alive():
            self.join(5)
        else:
            self.sock.close()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *a):
        self.stop()


# ---------------------------------------------------------------- selftest

def message(mid, subject, body=None, extra="", frm="Sender <sender@client"
            ".test>", to="Bob <bob@example.org>"):
    """A test message (CRLF, a Date of now, so that DATE_IN_PAST and
    DATE_IN_FUTURE never fire) as bytes; body long enough to learn."""
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    if body is None:
        body = ("This is message %s, with a few words to learn from: "
                "quarterly report, garden party, bicycle repair.\r\n" % mid)
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s>\r\n"
            "Date: %s\r\n%s\r\n%s" % (frm, to, subject, mid, date, extra,
                                      body)).encode()


def selftest(r):
    """TAP checks of what the integration tests rely on, against the
    running Rspamd r (see the module's documentation).  Leaves two
    learns (one spam, one ham) and the scans in r's log."""
    pid = os.getpid()
    tag = "selftest-%d-%d" % (pid, int(time.time() * 1000) % 100000)

    ham = r.check(message("ham.%s@client.test" % tag, "hello there"))
    t.is_(ham["action"], "no action", "rspamd: a plain message: no action")
    t.ok(ham["score"] < 6, "... score under add_header (%s)"
         % ham["score"])
    t.is_(ham["required_score"], REQUIRED_SCORE, "... required_score 15")
    t.is_(round(sum(s["score"] for s in ham["symbols"].values()), 2),
          round(ham["score"], 2), "... score = sum of the symbols' score")
    t.is_(ham.get("milter"), {"add_headers": {"X-Spamd-Bar": {
        "value": "/", "order": -1}}, "remove_headers": {
        "X-Spamd-Bar": 0, "X-Spam": 0}}, "... milter headers: X-Spamd-Bar "
        "added, X-Spam and X-Spamd-Bar removed")
    t.ok("subject" not in ham, "... no subject")
    t.is_(ham.get("messages"), {}, "... no messages")

    g = r.check(message("gtube.%s@client.test" % tag, "gtube",
                        body="Test %s\r\n" % GTUBE))
    t.is_((g["action"], g.get("messages")), ("reject", {
        "smtp_message": GTUBE_MESSAGE}), "rspamd: GTUBE: reject, "
        "smtp_message %r" % GTUBE_MESSAGE)
    t.ok("milter" not in g, "... no milter headers")

    for word, (sym, score, action, msg) in sorted(RULES.items()):
        a = r.check(message("%s.%s@client.test" % (word, tag),
                            "test %s now" % word))
        t.is_(a["action"], action, "rspamd: Subject %s: %s" % (word,
                                                               action))
        t.is_(a["symbols"].get(sym, {}).get("score"), score,
              "... %s(%.2f)" % (sym, score))
        t.is_(a.get("messages"), {"smtp_message": msg} if msg else {},
              "... smtp_message %r" % (msg,))
        if action == "rewrite subject":
            t.is_(a.get("subject"), REWRITE_PREFIX + "test %s now" % word,
                  "... subject %r + the Subject" % REWRITE_PREFIX)
        if action in ("add header", "rewrite subject"):
            t.is_(a.get("milter", {}).get("add_headers", {}).get(
                "X-Spamd-Bar", {}).get("value"), "+" * int(score),
                "... X-Spamd-Bar %s" % ("+" * int(score)))

    f = r.check(message("forged.%s@client.test" % tag, "forged flag",
                        extra="X-Spam: yes\r\n"))
    t.is_((f["action"], f["symbols"].get("SPAM_FLAG", {}).get("score")),
          ("no action", 5.0), "rspamd: a forged X-Spam: yes: SPAM_FLAG "
          "5.0, no action")
    t.is_(f.get("milter", {}).get("remove_headers", {}).get("X-Spam"), 0,
          "... milter remove_headers X-Spam (all of them)")

    env = {"IP": "192.0.2.7", "Helo": "client.test",
           "From": "sender@client.test", "Rcpt": "bob@example.org",
           "Queue-Id": "Q%s" % pid}
    data = message("env.%s@client.test" % tag, "with envelope")
    e = r.check(data, env)
    logged = r.scans("env.%s@client.test" % tag)
    t.is_(len(logged), 1, "rspamd: scans() finds the scan in rspamd's log")
    if logged:
        x = logged[0]
        t.is_((x["qid"], x["ip"], x["from"], x["rcpts"], x["action"]),
              ("Q%s" % pid, "192.0.2.7", "sender@client.test",
               "bob@example.org", e["action"]),
              "... with the queue id, IP, envelope and action")
        t.is_((x["score"], x["symbols"]), (round(e["score"], 2), {
            k: round(v["score"], 2) for k, v in e["symbols"].items()}),
              "... score and symbols as /checkv2 said")
    t.is_(r.check(data, env)["score"], e["score"],
          "rspamd: the same bytes and headers, the same score")
    lo = r.check(data, dict(env, IP="127.0.0.5", User="bob@example.org"))
    t.is_(lo.get("milter", {}).get("add_headers", {}).get(
        "X-Spamd-Bar"), {"value": "/", "order": -1}, "rspamd: milter "
        "headers for a loopback client that logged in too")

    s0, h0 = r.learned()
    st0 = r.stat()["learned"]
    b0 = r.bayes_learns()
    mid = "learn.%s@client.test" % tag
    data = message(mid, "learn me")
    t.is_(r.learn("spam", data), (200, {"success": True}),
          "rspamd: /learnspam: 200 success")
    t.is_(r.learned(), (s0 + 1, h0), "... learned(): spam + 1")
    t.is_(r.stat()["learned"], st0 + 1, "... /stat learned + 1")
    t.is_(r.bayes_learns(), (b0[0] + 1, b0[1]), "... redis learns_spam + 1")
    st, body = r.learn("spam", data)
    t.is_((st, body), (208, {"error": "<%s> has been already learned as "
                             "spam, ignore it" % mid}),
          "... the same again: 208, already learned")
    t.is_(r.learned(), (s0 + 1, h0), "... learned() unchanged")
    t.ok(("spam", mid) in r.refused(), "... refused() has it")
    t.is_(r.learn("ham", data), (200, {"success": True}),
          "rspamd: /learnham of it: 200 success (relearned)")
    t.is_(r.learned(), (s0 + 1, h0 + 1), "... learned(): ham + 1")
    t.is_(r.stat()["learned"], st0 + 2, "... /stat learned + 1")
    t.is_(r.bayes_learns(), (b0[0], b0[1] + 1),
          "... redis: moved from spam to ham")
    t.is_(r.learned_ids()[-2:], [("spam", mid), ("ham", mid)],
          "... learned_ids() names them")

    other = "127.0.0.2"
    for pw, want in ((None, 401), ("wrong", 401), (r.password, 200)):
        got = _status_from(other, r.controller_port, "/stat", pw)
        t.is_(got, want, "rspamd: /stat from %s, password %s: %d"
              % (other, "none" if pw is None else repr(pw), want))
    want = 200 if r.secure_ip == "127.0.0.1" else 401
    t.is_(_status_from("127.0.0.1", r.controller_port, "/stat", None),
          want, "rspamd: /stat from 127.0.0.1 without password: %d (secure_ip"
          " %s)" % (want, r.secure_ip))
    st, _, _ = http("POST", r.url + "/learnspam", data)
    t.is_(st, 500, "rspamd: the normal worker does not learn (500)")


def _status_from(src, port, path, password):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5,
                                   source_address=(src, 0))
    try:
        c.request("GET", path, headers={"Password": password}
                  if password else {})
        resp = c.getresponse()
        resp.read()
        return resp.status
    finally:
        c.close()


def _main():
    why = available()
    if why:
        t.skip_all(why)
    r = Rspamd()
    try:
        t0 = time.monotonic()
        r.start()
        t.diag("rspamd started in %.1f s" % (time.monotonic() - t0))
        selftest(r)
        r.stop()
        t.ok(not r.running(), "stop(): rspamd is stopped")
        st, _, _ = http("GET", r.url + "/ping", timeout=2)
        t.is_(st, 0, "... nothing answers on its port")
        before = r.learned()
        t0 = time.monotonic()
        r.start()
        t.ok(time.monotonic() - t0 < 10, "start() again: within 10 s "
             "(%.1f s)" % (time.monotonic() - t0))
        t.is_(r.learned(), before, "... learned() the same")
        t.ok(r.stat()["learned"] >= 2, "... /stat learned kept")
        with FakeHTTP(t.test_port(8), "garbage", lifetime=10) as g:
            st, _, body = http("POST", g.url + "/checkv2", b"x", timeout=5)
            t.is_((st, body), (200, b"{oops"), "FakeHTTP garbage answers "
                  "{oops")
        with FakeHTTP(t.test_port(8), "silent", lifetime=10) as s:
            t0 = time.monotonic()
            st, _, _ = http("POST", s.url + "/checkv2", b"x", timeout=1)
            t.ok(st == 0 and time.monotonic() - t0 >= 0.9,
                 "FakeHTTP silent never answers")
    finally:
        if t.failures():
            r.dump_log()
        r.cleanup()


if __name__ == "__main__":
    t.run(_main)
