#!/usr/bin/env python3
# rspamd as maild's content filter (issue 13), end to end against a real
# rspamd 3.4 with a private redis (tests/lib/rspamd_peer.py: local rules
# give each action by a Subject keyword, GTUBE rejects).  Clients on the
# Internet (loopback addresses maild counts as remote) send over swaks
# and raw SMTP; the verdict comes before the reply to DATA: reject is
# 550 5.7.1 with rspamd's text and nothing is delivered, soft reject and
# greylist 451 4.7.1, add header and rewrite subject go to Junk with
# X-Spam: Yes (and rspamd's subject), ham to INBOX; every scanned
# message carries X-Spam-Status and X-Spam-Symbols with rspamd's score
# and symbols, and rspamd's milter header changes (X-Spamd-Bar added, a
# forged X-Spam removed).  IMAP MOVE/COPY into Junk learns spam, out of
# Junk (not to Trash) ham: exactly once each, queued durably while
# rspamd is down (across a restart of maild too), never holding up the
# IMAP reply.  rspamd down, silent or answering garbage: the message is
# delivered unscanned (on-failure accept) within the timeout, or 451
# (on-failure defer).  Too big, authenticated, local, or on a "filter
# no" listener: not scanned, unless "rspamd authenticated yes" for a
# logged-in client.  mailctl show stats and the log count it.
#
# Skipped until maild has the filter (maild -K lists "rspamd url").
# About 12 s; the first run on a machine also compiles rspamd's
# hyperscan cache (15-25 s more, see rspamd_peer.hs_cache_dir()).
import os
import re
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402
import rspamd_peer as rp  # noqa: E402

MAILCTL = os.path.join(t.REPO, "mailctl")
N = t.test_index()
NET = "127.0.%d.0/24" % N          # remote clients (MAILD_TEST_REMOTE_NET)
CLIENT = "127.0.%d.5" % N
LOCAL = "127.0.0.1"                # a local client: never scanned
HELO = "client.test"
SENDER = "sender@client.test"
RCPT = "bob@example.org"
BOB_PW = t.IMAP_PASSWORDS[RCPT]
TIMEOUT = 3                        # rspamd timeout 3s
MAX_SIZE = 20 * 1024               # rspamd max-size 20K
# Ports: maild test_port(0); its submission (auth) listener 3, its
# "filter no" listener 4; the other mailds, one at a time, 5 (and 1 for
# a submission listener); rspamd's normal worker 6 and controller 7; the
# broken rspamds 8; nobody 9.
AUX_SUB_PORT = t.test_port(1)
SUB_PORT = t.test_port(3)
NOFILTER_PORT = t.test_port(4)
AUX_PORT = t.test_port(5)
FAKE_PORT = t.test_port(8)
DEAD_URL = "http://127.0.0.1:%d" % t.test_port(9)
TAG = "%d" % os.getpid()
DIRECT = "direct-check"            # Queue-Id of the test's own scans
STATUS_RE = re.compile(r"^(Yes|No), score=(-?\d+\.\d\d) "
                       r"required=(-?\d+\.\d\d)$")


def mid(name):
    return "%s.%s@client.test" % (name, TAG)


def has_filter():
    """Whether this maild knows the rspamd settings (maild -K)."""
    try:
        out = subprocess.run([t.maild_path(), "-K"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=30,
                             universal_newlines=True).stdout
    except OSError:
        return False
    return any(line.split("\t")[:2] == ["setting", "rspamd url"]
               for line in out.splitlines())


def rspamd_conf(url, controller=None, extra=()):
    lines = ['rspamd url "%s"' % url, "rspamd timeout %ds" % TIMEOUT]
    if controller:
        lines.append('rspamd controller "%s"' % controller)
    return "\n".join(lines + list(extra))


# -- SMTP

def send(port, data, src=CLIENT, rcpt=RCPT, sender=SENDER, addr=None):
    """One message from address src: (the final reply, or the first
    that failed; seconds the DATA phase took)."""
    import socket
    s = socket.create_connection((addr or t.test_addr(), port), timeout=30,
                                 source_address=(src, 0))
    c = t.SMTPConn.__new__(t.SMTPConn)
    c.addr, c.port, c.timeout = addr or t.test_addr(), port, 30.0
    c.sock, c.buf, c.tls, c.closed = s, b"", False, False
    try:
        c.greeting = c.reply()
        c.ehlo(HELO)
        mr = c.cmd("MAIL FROM:<%s>" % sender)
        rr = c.cmd("RCPT TO:<%s>" % rcpt)
        if mr.code != 250 or rr.code != 250:
            return (mr if mr.code != 250 else rr), 0.0
        dr = c.cmd("DATA")
        if dr.code != 354:
            return dr, 0.0
        t0 = time.monotonic()
        c.send(t.dot_stuff(data) + b".\r\n")
        fr = c.reply(30)
        return fr, time.monotonic() - t0
    finally:
        c.quit()


def swaks(port, data, *args, src=CLIENT, rcpt=RCPT, sender=SENDER):
    """swaks from src with data (bytes) as the whole message.  Its
    output marks a refusal "<** " ("<~* " over TLS)."""
    fd, path = tempfile.mkstemp(prefix="rspamd-t-", suffix=".eml")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return subprocess.run(
            ["swaks", "--server", "%s:%d" % (t.test_addr(), port),
             "--local-interface", src, "--to", rcpt, "--from", sender,
             "--helo", HELO, "--timeout", "30", "--data", "@" + path]
            + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            universal_newlines=True, timeout=60, stdin=subprocess.DEVNULL)
    finally:
        os.unlink(path)


def reply_is(r, code, enhanced, text, name):
    """r (a Reply) has code, the enhanced code and text first."""
    got = "%s %s" % (r.code, r.lines[0]) if r else None
    want = "%d %s %s" % (code, enhanced, text)
    t.is_(got, want, name)


# -- mailboxes

def folders(m, user="bob"):
    """{folder name: [message bytes]} of every Maildir folder of user
    ("INBOX", "Junk", ...)."""
    root = m.mailbox_dir(None, user=user)
    out = {}
    for folder, _ in t.all_maildirs(root).items():
        name = "INBOX" if folder == "." else folder.lstrip(".")
        out[name] = t.Maildir(os.path.join(root, folder)).messages()
    return out


def where(m, msgid, user="bob"):
    """[(folder, message bytes)] of every copy of Message-ID msgid."""
    needle = ("<%s>" % msgid).encode()
    return [(f, x) for f, msgs in sorted(folders(m, user).items())
            for x in msgs if needle in x.split(b"\r\n\r\n", 1)[0]]


def wait_where(m, msgid, timeout=15):
    t.wait_until(lambda: where(m, msgid), timeout)
    return where(m, msgid)


def headers(data, name):
    """Every header field called name (unfolded values), in order."""
    head = data.split(b"\r\n\r\n", 1)[0]
    head = re.sub(rb"\r\n[ \t]+", b" ", head)
    out = []
    for line in head.split(b"\r\n"):
        k, sep, v = line.partition(b":")
        if sep and k.strip().lower() == name.lower().encode():
            out.append(v.strip().decode("utf-8", "replace"))
    return out


def spam_status(data):
    """(verdict, score, required) of the one X-Spam-Status, or None."""
    hs = headers(data, "X-Spam-Status")
    if len(hs) != 1:
        return None
    m = STATUS_RE.match(hs[0])
    return (m.group(1), m.group(2), m.group(3)) if m else ("bad", hs[0])


def spam_symbols(data):
    """{name: score} from X-Spam-Symbols, or None without one."""
    hs = headers(data, "X-Spam-Symbols")
    if len(hs) != 1:
        return None
    return {k: round(float(v), 2) for k, v in
            re.findall(r"([A-Za-z0-9_]+)\((-?[0-9.]+)\)", hs[0])}


def unscanned(data):
    """No trace of a scan: no X-Spam-Status/-Symbols, X-Spam, X-Spamd-Bar."""
    return not any(headers(data, h) for h in (
        "X-Spam-Status", "X-Spam-Symbols", "X-Spam", "X-Spamd-Bar"))


def maild_received(data):
    """The first Received field (maild's own) as it is, folded, CRLF."""
    head = data.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    m = re.search(rb"(?im)^Received:.*\r\n(?:[ \t].*\r\n)*", head)
    return m.group(0) if m else b""


def maild_scans(r, msgid=None):
    """rspamd's scans of this test's messages (by Message-ID) that
    maild asked for: not the test's own (Queue-Id DIRECT)."""
    return [x for x in r.scans(msgid) if x["qid"] != DIRECT and
            x["mid"].endswith(".%s@client.test" % TAG)]


def direct(r, data, env):
    """/checkv2 of data with maild's request headers, by the test."""
    return r.check(data, dict(env, **{"Queue-Id": DIRECT}))


# -- IMAP

def imap(m, user=RCPT):
    c = m.imap_connect()
    r = c.login(user, t.IMAP_PASSWORDS[user])
    if r.status != "OK":
        raise t.IMAPError("LOGIN %s: %s" % (user, r.text))
    return c


def uid_of(c, msgid):
    """UID of Message-ID msgid in the selected mailbox, or None."""
    r = c.command('UID SEARCH HEADER Message-ID "<%s>"' % msgid)
    for u in r.untagged:
        if u.upper().startswith(b"* SEARCH"):
            nums = u.split()[2:]
            if len(nums) == 1:
                return int(nums[0])
    return None


def seq_of(c, msgid):
    r = c.command('SEARCH HEADER Message-ID "<%s>"' % msgid)
    for u in r.untagged:
        if u.upper().startswith(b"* SEARCH"):
            nums = u.split()[2:]
            if len(nums) == 1:
                return int(nums[0])
    return None


def transfer(c, how, box, msgid, dest):
    """SELECT box, then how ("MOVE", "UID MOVE", "COPY", "UID COPY") the
    message msgid to dest; (result, seconds the command took)."""
    c.select(box)
    n = uid_of(c, msgid) if how.startswith("UID") else seq_of(c, msgid)
    if n is None:
        raise t.IMAPError("%s: no %s in %s" % (how, msgid, box))
    t0 = time.monotonic()
    r = c.command('%s %d "%s"' % (how, n, dest))
    return r, time.monotonic() - t0


# -- mailctl

def stats(m):
    out = subprocess.run([MAILCTL, "-s", m.socket_path, "show", "stats"],
                         stdout=subprocess.PIPE, universal_newlines=True,
                         timeout=30).stdout
    d = {}
    for line in out.splitlines():
        k, _, v = line.partition("=")
        d[k] = int(v) if v.isdigit() else v
    return d


RSPAMD_STATS = ("rspamd.scanned", "rspamd.rejected", "rspamd.softrejected",
                "rspamd.junked", "rspamd.learned", "rspamd.errors")


def rstats(m):
    s = stats(m)
    return {k: s.get(k) for k in RSPAMD_STATS}


def delta(after, before):
    return {k: (after[k] - before[k]) if isinstance(after[k], int) and
            isinstance(before[k], int) else None for k in after}


# ---------------------------------------------------------------- parts

class State:
    """What the parts expect of maild's counters and rspamd's log."""

    def __init__(self):
        self.scanned = []          # Message-IDs maild had scanned
        self.counts = {k: 0 for k in RSPAMD_STATS}
        self.learned = []          # (kind, Message-ID) maild should learn
        self.refused = []          # Message-IDs refused (never delivered)


def part_actions(m, r, st):
    """Each action end to end."""
    # GTUBE over swaks: 550 5.7.1 with rspamd's text, nothing delivered.
    data = rp.message(mid("gtube"), "gtube test",
                      body="Hello.\r\n%s\r\n" % rp.GTUBE)
    out = swaks(m.port, data).stdout
    t.like(out, r"<[*~]\* +550 5\.7\.1 %s" % re.escape(rp.GTUBE_MESSAGE),
           "GTUBE over swaks: 550 5.7.1 %s" % rp.GTUBE_MESSAGE)
    t.is_(where(m, mid("gtube")), [], "... nothing delivered")
    st.refused.append(mid("gtube"))
    t.is_([x["action"] for x in maild_scans(r, mid("gtube"))], ["reject"],
          "... rspamd scanned it once")
    st.scanned.append(mid("gtube"))
    st.counts["rspamd.rejected"] += 1

    cases = [("maild-reject-msg", 550, "5.7.1", rp.REJECT_MESSAGE,
              "rspamd.rejected"),
             ("maild-soft", 451, "4.7.1", rp.SOFT_MESSAGE,
              "rspamd.softrejected"),
             ("maild-grey", 451, "4.7.1", rp.GREY_MESSAGE,
              "rspamd.softrejected")]
    for word, code, enh, text, counter in cases:
        name = word.replace("maild-", "")
        fr, _ = send(m.port, rp.message(mid(name), "test %s" % word))
        reply_is(fr, code, enh, text, "%s (%s): %d %s %s" % (
            word, rp.RULES[word][2], code, enh, text))
        st.scanned.append(mid(name))
        st.counts[counter] += 1
        t.is_(where(m, mid(name)), [], "... nothing delivered")
        st.refused.append(mid(name))

    # add header, over swaks: Junk, X-Spam: Yes (a forged "X-Spam: no"
    # goes, rspamd's remove_headers), the score, X-Spamd-Bar.
    data = rp.message(mid("add"), "offer maild-add-header today",
                      extra="X-Spam: no\r\n")
    res = swaks(m.port, data)
    t.is_(res.returncode, 0, "add header over swaks: accepted")
    st.scanned.append(mid("add"))
    st.counts["rspamd.junked"] += 1
    got = wait_where(m, mid("add"))
    t.is_([f for f, _ in got], ["Junk"], "... delivered to Junk only")
    msg = got[0][1] if got else b""
    t.is_(headers(msg, "X-Spam"), ["Yes"], "... one X-Spam: Yes")
    scan = (maild_scans(r, mid("add")) or [{}])[-1]
    t.is_(spam_status(msg), ("Yes", "%.2f" % scan.get("score", -1),
                             "%.2f" % rp.REQUIRED_SCORE),
          "... X-Spam-Status: Yes with rspamd's score and required")
    sy = spam_symbols(msg)
    t.is_((sy or {}).get("MAILD_TEST_ADD"), 7.0, "... X-Spam-Symbols has "
          "MAILD_TEST_ADD(7)")
    t.is_(sy, {k: round(v, 2) for k, v in scan["symbols"].items()}
          if scan else "(no scan)", "... and exactly rspamd's symbols and "
          "scores")
    t.is_(headers(msg, "X-Spamd-Bar"), ["+" * int(scan.get("score", 0))],
          "... X-Spamd-Bar from rspamd's milter add_headers")
    t.is_(headers(msg, "Subject"), ["offer maild-add-header today"],
          "... Subject unchanged")

    # rewrite subject: Junk, rspamd's subject.
    data = rp.message(mid("rewrite"), "offer maild-rewrite now")
    fr, _ = send(m.port, data)
    t.is_(fr.code if fr else None, 250, "rewrite subject: 250")
    st.scanned.append(mid("rewrite"))
    st.counts["rspamd.junked"] += 1
    got = wait_where(m, mid("rewrite"))
    t.is_([f for f, _ in got], ["Junk"], "... delivered to Junk only")
    msg = got[0][1] if got else b""
    t.is_(headers(msg, "Subject"), [rp.REWRITE_PREFIX +
                                    "offer maild-rewrite now"],
          "... Subject rewritten as rspamd says (%r + Subject)"
          % rp.REWRITE_PREFIX)
    t.is_(headers(msg, "X-Spam"), ["Yes"], "... X-Spam: Yes")
    t.like((spam_status(msg) or ("",))[0], r"^Yes$", "... X-Spam-Status: "
           "Yes")

    # Junk over IMAP: \Junk, and both messages there.
    c = imap(m)
    lr = c.command('LIST "" "*" RETURN (SPECIAL-USE)')
    lst = t.list_responses(lr.untagged)
    t.ok("\\JUNK" in lst.get("Junk", ([],))[0], "IMAP LIST: Junk is "
         "\\Junk (%r)" % (lst.get("Junk"),))
    c.select("Junk")
    t.ok(uid_of(c, mid("add")) and uid_of(c, mid("rewrite")),
         "IMAP: both are in Junk")
    c.select("INBOX")
    t.is_((uid_of(c, mid("add")), uid_of(c, mid("rewrite"))), (None, None),
          "IMAP: ... and not in INBOX")
    c.logout()


def part_ham(m, r, st):
    """Ham: INBOX, X-Spam-Status: No with rspamd's score; a forged
    X-Spam (and X-Spamd-Bar) removed."""
    env = {"IP": CLIENT, "Helo": HELO, "From": SENDER, "Rcpt": RCPT}
    data = rp.message(mid("ham"), "lunch on friday")
    fr, _ = send(m.port, data)
    t.is_(fr.code if fr else None, 250, "ham: 250")
    st.scanned.append(mid("ham"))
    got = wait_where(m, mid("ham"))
    t.is_([f for f, _ in got], ["INBOX"], "... delivered to INBOX")
    msg = got[0][1] if got else b""
    scan = (maild_scans(r, mid("ham")) or [{}])[-1]
    t.is_(scan.get("ip"), CLIENT, "... rspamd was told the client's IP")
    t.is_(scan.get("from"), SENDER, "... and the envelope sender")
    t.is_(scan.get("rcpts"), RCPT, "... and the recipient")
    t.ok(re.match(r"^[0-9A-Za-z]+$", scan.get("qid", "")) and
         scan.get("qid") != "undef", "... and a Queue-Id (%r)"
         % scan.get("qid"))
    stat_ = spam_status(msg)
    t.is_(stat_, ("No", "%.2f" % scan.get("score", -1), "%.2f"
                  % rp.REQUIRED_SCORE),
          "... X-Spam-Status: No, score as rspamd said, required 15.00")
    # The same bytes to /checkv2: the message as sent, or with maild's
    # Received (if maild scans it with its trace field).
    scores = [direct(r, data, env)["score"],
              direct(r, maild_received(msg) + data, env)["score"]]
    t.ok(stat_ and any("%.2f" % x == stat_[1] for x in scores),
         "... the score /checkv2 gives the same bytes (%r; as sent, with "
         "maild's Received: %r)" % (stat_, scores))
    sy = spam_symbols(msg)
    t.is_(sy, {k: round(v, 2) for k, v in scan["symbols"].items()}
          if scan else "(no scan)", "... X-Spam-Symbols: rspamd's symbols "
          "and scores")
    t.is_(headers(msg, "X-Spam"), [], "... no X-Spam")
    t.is_(headers(msg, "X-Spamd-Bar"), ["/"], "... X-Spamd-Bar: /")

    # A forged X-Spam: yes and X-Spamd-Bar in ham: removed (rspamd's
    # remove-spam-flag), SPAM_FLAG scored, still ham.
    data = rp.message(mid("forged"), "minutes of the meeting",
                      extra="X-Spam: yes\r\nX-Spamd-Bar: ----\r\n")
    fr, _ = send(m.port, data)
    t.is_(fr.code if fr else None, 250, "ham with a forged X-Spam: yes: "
          "250")
    st.scanned.append(mid("forged"))
    got = wait_where(m, mid("forged"))
    t.is_([f for f, _ in got], ["INBOX"], "... delivered to INBOX")
    msg = got[0][1] if got else b""
    t.is_(headers(msg, "X-Spam"), [], "... the forged X-Spam is removed")
    t.is_(headers(msg, "X-Spamd-Bar"), ["+++++"], "... one X-Spamd-Bar, "
          "rspamd's")
    t.is_((spam_status(msg) or ("",))[0], "No", "... X-Spam-Status: No")
    t.is_((spam_symbols(msg) or {}).get("SPAM_FLAG"), 5.0,
          "... X-Spam-Symbols has SPAM_FLAG(5)")


def wait_learned(r, want, timeout=20):
    t.wait_until(lambda: r.learned() == want, timeout, 0.1)
    return r.learned()


def part_learning(m, r, st):
    """UID MOVE into Junk and back (imaplib): one spam, one ham learned;
    COPY into Junk: spam; MOVE out of Junk: ham; out of Junk to Trash
    and between other folders: nothing."""
    for name in ("h1", "h2", "h3"):
        fr, _ = send(m.port, rp.message(mid(name), "notes %s" % name))
        t.is_(fr.code if fr else None, 250, "%s delivered" % name)
        st.scanned.append(mid(name))
    for name in ("h1", "h2", "h3"):
        wait_where(m, mid(name))
    s0, h0 = r.learned()
    l0 = r.stat()["learned"]

    M = m.imaplib(user=RCPT)
    try:
        M.select("INBOX")
        typ, d = M.uid("SEARCH", None, "HEADER", "Message-ID",
                       '"<%s>"' % mid("h1"))
        uid = d[0].split()[0] if typ == "OK" and d and d[0] else b"0"
        t0 = time.monotonic()
        typ, d = M.uid("MOVE", uid, "Junk")
        t.is_(typ, "OK", "imaplib: UID MOVE h1 into Junk")
        t.ok(time.monotonic() - t0 < 2, "... answered at once")
        st.learned.append(("spam", mid("h1")))
        t.is_(wait_learned(r, (s0 + 1, h0)), (s0 + 1, h0),
              "... rspamd learned one spam")
        t.is_(r.stat()["learned"], l0 + 1, "... /stat learned + 1")
        t.is_(r.learned_ids()[-1:], [("spam", mid("h1"))],
              "... h1, as spam")
        M.select("Junk")
        typ, d = M.uid("SEARCH", None, "HEADER", "Message-ID",
                       '"<%s>"' % mid("h1"))
        uid = d[0].split()[0] if typ == "OK" and d and d[0] else b"0"
        typ, d = M.uid("MOVE", uid, "INBOX")
        t.is_(typ, "OK", "imaplib: UID MOVE h1 back to INBOX")
        st.learned.append(("ham", mid("h1")))
        t.is_(wait_learned(r, (s0 + 1, h0 + 1)), (s0 + 1, h0 + 1),
              "... rspamd learned one ham")
        t.is_(r.stat()["learned"], l0 + 2, "... /stat learned + 1")
        t.is_(r.learned_ids()[-1:], [("ham", mid("h1"))], "... h1, as ham")
        M.logout()
    except Exception:
        M.shutdown()
        raise

    c = imap(m)
    for box in ("Work", "Trash"):
        c.command('CREATE "%s"' % box)
    # Not learned: Junk -> Trash, INBOX -> Work.
    r1, _ = transfer(c, "MOVE", "Junk", mid("add"), "Trash")
    t.is_(r1.status, "OK", "MOVE the add-header spam from Junk to Trash")
    r1, _ = transfer(c, "UID MOVE", "INBOX", mid("h2"), "Work")
    t.is_(r1.status, "OK", "UID MOVE h2 from INBOX to Work")
    # Learned: COPY into Junk (spam); Junk -> Work (ham).
    r1, _ = transfer(c, "COPY", "INBOX", mid("h3"), "Junk")
    t.is_(r1.status, "OK", "COPY h3 into Junk")
    st.learned.append(("spam", mid("h3")))
    r1, _ = transfer(c, "UID MOVE", "Junk", mid("rewrite"), "Work")
    t.is_(r1.status, "OK", "UID MOVE the rewritten spam from Junk to Work")
    st.learned.append(("ham", mid("rewrite")))
    c.logout()
    got = wait_learned(r, (s0 + 2, h0 + 2))
    t.is_(got, (s0 + 2, h0 + 2), "... one spam and one ham more")
    t.is_(sorted(r.learned_ids()[-2:]), sorted([
        ("spam", mid("h3")), ("ham", mid("rewrite"))]),
        "... h3 as spam, the rewritten one as ham; nothing for the moves "
        "to Trash and between other folders")


def part_not_scanned(m, r, st):
    """Too big, authenticated, local, a "filter no" listener: GTUBE
    goes through unscanned."""
    big = rp.message(mid("big"), "big one", body="%s\r\n%s" % (
        rp.GTUBE, ("x" * 76 + "\r\n") * (MAX_SIZE // 78 + 10)))
    fr, _ = send(m.port, big)
    t.is_(fr.code if fr else None, 250, "a message over rspamd max-size "
          "(GTUBE inside): 250")

    res = swaks(SUB_PORT, rp.message(mid("auth"), "submitted",
                                     body="%s\r\n" % rp.GTUBE,
                                     frm="Bob <bob@example.org>"),
                "--tls", "--auth", "PLAIN", "--auth-user", RCPT,
                "--auth-password", BOB_PW, sender=RCPT)
    t.is_(res.returncode, 0, "authenticated submission (GTUBE inside): "
          "accepted")
    if res.returncode:
        t.diag(res.stdout[-2000:])

    fr, _ = send(NOFILTER_PORT, rp.message(
        mid("nofilter"), "on a filter no listener",
        body="%s\r\n" % rp.GTUBE))
    t.is_(fr.code if fr else None, 250, "GTUBE on a \"filter no\" "
          "listener: 250")

    fr, _ = send(m.port, rp.message(mid("local"), "from a local client",
                                    body="%s\r\n" % rp.GTUBE), src=LOCAL)
    t.is_(fr.code if fr else None, 250, "GTUBE from a local client: 250")

    for name in ("big", "auth", "nofilter", "local"):
        got = wait_where(m, mid(name))
        t.is_([f for f, _ in got], ["INBOX"], "... %s: in INBOX" % name)
        t.ok(got and unscanned(got[0][1]), "... %s: no X-Spam headers"
             % name)
        t.is_(r.scans(mid(name)), [], "... %s: rspamd never saw it" % name)


def part_stats(m, r, st):
    """mailctl show stats and the log against what was sent."""
    mine = maild_scans(r)
    t.is_(sorted(x["mid"] for x in mine), sorted(st.scanned),
          "rspamd scanned exactly the messages it should (%d)"
          % len(st.scanned))
    want = dict(st.counts)
    want["rspamd.scanned"] = len(st.scanned)
    want["rspamd.learned"] = len(st.learned)
    want["rspamd.errors"] = 0
    t.is_(rstats(m), want, "mailctl show stats: the rspamd counters")
    # One log line per scanned message with the action and score.
    log = m.log_text()
    bad = []
    for x in mine:
        pat = re.compile(r"(?i)rspamd.*%s.*%s|%s.*%s.*rspamd" % (
            re.escape(x["action"]), re.escape("%.2f" % x["score"]),
            re.escape(x["action"]), re.escape("%.2f" % x["score"])))
        # Queue-Id: maild's message id, or its first 8 (the short id).
        lines = [ln for ln in log.splitlines() if x["qid"][:8] in ln and
                 pat.search(ln)]
        if len(lines) != 1:
            bad.append((x["mid"], x["qid"], x["action"], x["score"],
                        lines))
    t.is_(bad if mine else "(no scans)", [], "maild's log: one line per "
          "scanned message, with its queue id, the action and score")


def part_outage(m, r, st):
    """rspamd stopped: mail delivered unscanned at once, errors counted;
    5 moves into Junk queued, kept across a restart of maild, learned
    exactly once each when rspamd is back."""
    names = ["b%d" % i for i in range(1, 6)]
    for name in names:
        fr, _ = send(m.port, rp.message(mid(name), "burst %s" % name))
        t.is_(fr.code if fr else None, 250, "%s delivered" % name)
    for name in names:
        wait_where(m, mid(name))
    s0, h0 = r.learned()
    refused0 = len(r.refused())

    r.stop()
    before = rstats(m)
    fr, took = send(m.port, rp.message(mid("down"), "while rspamd is down"))
    t.is_(fr.code if fr else None, 250, "rspamd down: accepted (on-failure "
          "accept is the default)")
    t.ok(took < TIMEOUT, "... at once (%.2f s)" % took)
    got = wait_where(m, mid("down"))
    t.is_([f for f, _ in got], ["INBOX"], "... delivered to INBOX")
    t.ok(got and unscanned(got[0][1]), "... unscanned: no X-Spam headers")
    d = delta(rstats(m), before)
    t.is_((d["rspamd.errors"], d["rspamd.scanned"]), (1, 0),
          "... rspamd.errors + 1, rspamd.scanned + 0")

    c = imap(m)
    hows = ["MOVE", "UID MOVE", "COPY", "UID COPY", "MOVE"]
    slow = []
    for how, name in zip(hows, names):
        res, took = transfer(c, how, "INBOX", mid(name), "Junk")
        t.is_(res.status, "OK", "rspamd down: %s %s into Junk" % (how, name))
        if took >= 1:
            slow.append((how, name, took))
    t.is_(slow, [], "... each answered within 1 s")
    c.logout()
    # Queued durably: maild restarts before rspamd is back.
    m.stop()
    m.start()
    r.start()
    t0 = time.monotonic()
    got = wait_learned(r, (s0 + 5, h0), 30)
    t.is_(got, (s0 + 5, h0), "rspamd back (maild restarted meanwhile): "
          "exactly 5 spam learned (%.1f s)" % (time.monotonic() - t0))
    t.is_(sorted(r.learned_ids()[-5:]), sorted(("spam", mid(n))
                                               for n in names),
          "... the 5 moved, each once")
    t.is_(len(r.refused()), refused0, "... no learn sent twice")
    for name in names:
        st.learned.append(("spam", mid(name)))


def part_end(m, r, st):
    """Nothing learned twice, nothing refused delivered after all."""
    before = (r.learned(), len(r.refused()))
    rc = subprocess.run([MAILCTL, "-s", m.socket_path, "schedule", "all"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                        timeout=30).returncode
    t.is_(rc, 0, "mailctl schedule all")
    # Waiting for something not to happen: a fixed, short wait.
    time.sleep(1)
    t.is_((r.learned(), len(r.refused())), before,
          "... rspamd learns nothing again")
    t.is_(sorted(x for x in r.learned_ids() if x[1].endswith(
        ".%s@client.test" % TAG)), sorted(st.learned),
        "rspamd learned exactly what was moved, once each (%d)"
        % len(st.learned))
    t.is_([x for x in st.refused if where(m, x)], [],
          "none of the refused messages was delivered")


def aux_maild(name, url, controller=None, extra=(), imap=False):
    """Another maild (one at a time) on AUX_PORT; bob can log in."""
    m = t.Maild(port=AUX_PORT, name=name, remote_net=NET, imap=imap,
                passwd=t.imap_passwd(),
                extra=rspamd_conf(url, controller, extra))
    m.start()
    return m


def part_broken(dns):
    """A silent rspamd, one answering garbage, on-failure defer."""
    # Silent: the fallback comes after the timeout; a learn that hangs
    # does not hold up the IMAP reply.
    with rp.FakeHTTP(FAKE_PORT, "silent", lifetime=40) as fake:
        m = aux_maild("maild-silent", fake.url, fake.url,
                      [dns.conf()], imap=True)
        try:
            fr, took = send(AUX_PORT, rp.message(mid("silent"),
                                                 "to a silent rspamd"))
            t.is_(fr.code if fr else None, 250, "silent rspamd: accepted")
            t.ok(TIMEOUT - 0.5 <= took <= TIMEOUT + 3, "... after the %d s "
                 "timeout (%.2f s)" % (TIMEOUT, took))
            t.ok(fake.accepted >= 1, "... maild did connect")
            got = wait_where(m, mid("silent"))
            t.is_([f for f, _ in got], ["INBOX"], "... delivered to INBOX")
            t.ok(got and unscanned(got[0][1]), "... unscanned")
            t.is_(rstats(m)["rspamd.errors"], 1, "... rspamd.errors 1")
            n = fake.accepted
            c = imap(m)
            res, took = transfer(c, "MOVE", "INBOX", mid("silent"), "Junk")
            t.is_(res.status, "OK", "MOVE into Junk, the controller silent")
            t.ok(took < 1, "... answered at once (%.2f s)" % took)
            c.logout()
            t.ok(t.wait_until(lambda: fake.accepted > n, 10),
                 "... and the learn was tried")
        finally:
            m.stop()

    with rp.FakeHTTP(FAKE_PORT, "garbage", lifetime=40) as fake:
        m = aux_maild("maild-garbage", fake.url, extra=[dns.conf()])
        try:
            fr, took = send(AUX_PORT, rp.message(mid("garbage"),
                                                 "to a confused rspamd"))
            t.is_(fr.code if fr else None, 250, "rspamd answering garbage: "
                  "accepted")
            t.ok(took < TIMEOUT, "... at once (%.2f s)" % took)
            t.ok(any(x.startswith(b"POST /checkv2 ") for x in
                     fake.requests), "... after a POST /checkv2 (%r)"
                 % fake.requests)
            got = wait_where(m, mid("garbage"))
            t.is_([f for f, _ in got], ["INBOX"], "... delivered to INBOX")
            t.ok(got and unscanned(got[0][1]), "... unscanned")
            t.is_(rstats(m)["rspamd.errors"], 1, "... rspamd.errors 1")
        finally:
            m.stop()

    m = aux_maild("maild-defer", DEAD_URL,
                  extra=[dns.conf(), "rspamd on-failure defer"])
    try:
        fr, took = send(AUX_PORT, rp.message(mid("defer"), "deferred"))
        t.is_((fr.code, fr.enhanced) if fr else None, (451, "4.7.1"),
              "rspamd down, on-failure defer: 451 4.7.1 (%s)" % fr)
        t.ok(took < TIMEOUT, "... at once (%.2f s)" % took)
        t.is_(rstats(m)["rspamd.errors"], 1, "... rspamd.errors 1")
        t.is_(where(m, mid("defer")), [], "... nothing delivered")
    finally:
        m.stop()


def part_authenticated(dns, r):
    """rspamd authenticated yes: a logged-in client's mail is scanned,
    with the user name."""
    m = aux_maild("maild-authyes", r.url, extra=[
        dns.conf(), "rspamd authenticated yes",
        "listen on %s port %d tls-require pki mail auth <passwd>"
        % (t.test_addr(), AUX_SUB_PORT)])
    try:
        res = swaks(AUX_SUB_PORT, rp.message(
            mid("authyes"), "submitted", body="%s\r\n" % rp.GTUBE,
            frm="Bob <bob@example.org>"), "--tls", "--auth", "PLAIN",
            "--auth-user", RCPT, "--auth-password", BOB_PW, sender=RCPT)
        t.like(res.stdout, r"<[*~]\* +550 5\.7\.1 %s" % re.escape(
            rp.GTUBE_MESSAGE), "rspamd authenticated yes: GTUBE from a "
            "logged-in client: 550 5.7.1")
        scan = maild_scans(r, mid("authyes"))
        t.is_([(x["action"], x["user"]) for x in scan], [("reject", RCPT)],
              "... scanned once, rspamd told the user")
    finally:
        m.stop()


def main():
    if not has_filter():
        t.skip_all("maild has no rspamd filter yet (maild -K lists no "
                   "\"rspamd url\")")
    why = rp.available()
    if why:
        t.skip_all(why)
    if not t.have("swaks"):
        t.skip_all("swaks is not installed (scripts/install-deps)")
    t0 = time.monotonic()
    dns = t.Dnsmasq([]).start()
    # The controller trusts nobody without the password: learning works
    # only if maild sends "rspamd password".
    r = rp.Rspamd(nameserver=dns, secure_ip=None)
    m = t.Maild(imap=True, remote_net=NET, extra="\n".join([
        dns.conf(),
        rspamd_conf(r.url, r.controller_url, [
            'rspamd password "%s"' % r.password,
            "rspamd max-size %dK" % (MAX_SIZE // 1024)]),
        "listen on %s port %d tls-require pki mail auth <passwd>"
        % (t.test_addr(), SUB_PORT),
        "listen on %s port %d filter no" % (t.test_addr(), NOFILTER_PORT),
    ]))
    st = State()
    try:
        r.start()
        t.diag("rspamd up in %.1f s" % (time.monotonic() - t0))
        t.section(rp.selftest, r)
        m.start()
        for part in (part_actions, part_ham, part_learning,
                     part_not_scanned, part_stats, part_outage):
            t.section(part, m, r, st)
        t.section(part_broken, dns)
        t.section(part_authenticated, dns, r)
        t.section(part_end, m, r, st)
        t.ok(m.running(), "maild is still running")
        t.diag("%.1f s" % (time.monotonic() - t0))
    finally:
        if t.failures():
            t.diag("rspamd scans: %s" % "\n".join(
                "%s %s %s %.2f" % (x["mid"], x["ip"], x["action"],
                                   x["score"]) for x in r.scans()))
            t.diag("rspamd learns: %r" % (r.learned_ids(),))
        r.__exit__(None, None, None)


if __name__ == "__main__":
    t.run(main)
