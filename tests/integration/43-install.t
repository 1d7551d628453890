#!/usr/bin/env python3
# make install: the files, their modes and the service file for the
# system, with GNU make and BSD make (bmake), as root and not; an
# existing /etc/mail.conf is kept.  Then, as root, a real install inside
# private mount and network namespaces (a copy of /etc, an empty /var):
# scripts/install-users creates _maild and vmail with nologin shells and
# the spool and mailbox directories, a second run changes nothing, the
# installed sample mail.conf parses once its certificate, keys and
# tables exist, and maild started the way the installed systemd unit
# starts it (its command lines, under its capability bounding set)
# serves submission and IMAP, refuses a reload of a broken
# configuration, reloads a good one, and leaves the directories as
# install-users made them.
import json
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

PREFIX = "/usr/local"
USERS = ("_maild", "vmail")


def make_env():
    """The environment without what an outer make passes down (GNU make's
    jobserver flags would confuse bmake)."""
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEFILES",
              "MAKEOVERRIDES", "GNUMAKEFLAGS"):
        env.pop(k, None)
    return env


def run(cmd, timeout=120, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, timeout=timeout,
                       universal_newlines=True, **kw)
    return r.returncode, r.stdout


def make_install(destdir, make="make", prefix=PREFIX, extra=(), **kw):
    return run([make, "-C", t.REPO, "install", "DESTDIR=" + destdir,
                "PREFIX=" + prefix] + list(extra), env=make_env(), **kw)


def tree(root):
    """relative path -> (kind, mode, owner name) of everything under
    root."""
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            try:
                owner = pwd.getpwuid(st.st_uid).pw_name
            except KeyError:
                owner = str(st.st_uid)
            kind = "d" if stat.S_ISDIR(st.st_mode) else "f"
            out[os.path.relpath(p, root)] = (kind, stat.S_IMODE(st.st_mode),
                                             owner)
    return out


def expected_tree(prefix, me, service, users_exist):
    """What make install DESTDIR=... puts there, run by `me`."""
    p = prefix.lstrip("/")
    spool_owner = "_maild" if me == "root" and users_exist else me
    vmail_owner = "vmail" if me == "root" and users_exist else me
    exp = {}

    def parents(path):
        parts = path.split("/")
        for i in range(1, len(parts)):
            exp.setdefault("/".join(parts[:i]), ("d", 0o755, me))
    files = {
        p + "/sbin/maild": 0o555,
        p + "/sbin/mailctl": 0o555,
        p + "/sbin/maild-import-opensmtpd": 0o555,
        p + "/sbin/maild-sendmail": 0o555,
        p + "/man/man8/maild.8": 0o444,
        p + "/man/man8/mailctl.8": 0o444,
        p + "/man/man8/maild-import-opensmtpd.8": 0o444,
        p + "/man/man8/maild-sendmail.8": 0o444,
        p + "/man/man5/mail.conf.5": 0o444,
        p + "/share/examples/maild/mail.conf": 0o444,
        "etc/mail.conf": 0o644,
    }
    if service == "systemd":
        files["etc/systemd/system/maild.service"] = 0o644
    else:
        files["etc/rc.d/maild"] = 0o555
    for f, mode in files.items():
        parents(f)
        exp[f] = ("f", mode, me)
    for d, mode, owner in (("var/empty", 0o755, me),
                           ("var/spool/maild", 0o711, spool_owner),
                           ("var/spool/maild/offline", 0o1777, me),
                           ("var/vmail", 0o700, vmail_owner),
                           ("etc/mail", 0o755, me),
                           ("etc/mail/dkim", 0o700, me)):
        parents(d)
        exp[d] = ("d", mode, owner)
    return exp


def show_tree_diff(got, exp):
    for k in sorted(set(got) | set(exp)):
        if got.get(k) != exp.get(k):
            t.diag("  %s: got %r, expected %r" % (k, got.get(k), exp.get(k)))


def read(path):
    with open(path) as f:
        return f.read()


def users_exist():
    try:
        for u in USERS:
            pwd.getpwnam(u)
        return True
    except KeyError:
        return False


def check_destdir_install(work):
    """make install DESTDIR=... PREFIX=/usr/local, GNU make; then again
    over an edited mail.conf."""
    me = pwd.getpwuid(os.geteuid()).pw_name
    d = os.path.join(work, "gnu")
    rc, out = make_install(d)
    t.is_(rc, 0, "make install DESTDIR=... exits 0") or t.diag(out)
    got = tree(d)
    exp = expected_tree(PREFIX, me, "systemd", users_exist())
    t.ok(got == exp, "the installed tree: every file and directory, with "
         "its mode and owner") or show_tree_diff(got, exp)
    t.like(out, r"not creating the users _maild and vmail",
           "with DESTDIR, install-users says it creates no user")
    conf = os.path.join(d, "etc/mail.conf")
    sample = os.path.join(d, PREFIX.lstrip("/"),
                          "share/examples/maild/mail.conf")
    t.ok(os.path.exists(conf) and read(conf) == read(
        os.path.join(t.REPO, "etc/mail.conf")),
        "/etc/mail.conf is the sample when there was none")
    t.ok(os.path.exists(sample) and read(sample) == read(conf),
         "the sample is also in share/examples/maild")
    unit = os.path.join(d, "etc/systemd/system/maild.service")
    t.ok(os.path.exists(unit) and read(unit) == read(
        os.path.join(t.REPO, "etc/maild.service")),
        "the systemd unit as it is in etc/ for PREFIX=/usr/local")

    with open(conf, "a") as f:
        f.write("# the admin's own line\n")
    mine = read(conf)
    rc, out = make_install(d)
    t.is_(rc, 0, "make install a second time exits 0")
    t.is_(read(conf), mine, "an existing /etc/mail.conf is not overwritten")
    t.like(out, r"kept .*/etc/mail\.conf; the sample is .*"
           r"share/examples/maild/mail\.conf",
           "make install says it kept mail.conf and where the sample is")
    t.ok(tree(d) == exp, "the second install leaves the same tree")
    return d, exp


def check_bmake(work, gnu_dir):
    bmake = shutil.which("bmake")
    if not bmake:
        t.skip("bmake not installed", 2)
        return
    d = os.path.join(work, "bsd")
    rc, out = make_install(d, make=bmake)
    t.is_(rc, 0, "bmake install DESTDIR=... exits 0") or t.diag(out)
    same = tree(d) == tree(gnu_dir)
    for f in ("usr/local/sbin/maild", "etc/systemd/system/maild.service",
              "usr/local/man/man8/maild.8"):
        with open(os.path.join(d, f), "rb") as a, \
                open(os.path.join(gnu_dir, f), "rb") as b:
            same = same and a.read() == b.read()
    t.ok(same, "bmake installs the same tree as GNU make")


def check_openbsd_branch(work):
    """The OpenBSD half of the install target (OS=OpenBSD on the command
    line overrides uname): the rc.d script, with PREFIX in it."""
    d = os.path.join(work, "obsd")
    rc, out = make_install(d, prefix="/opt/mail", extra=["OS=OpenBSD"])
    t.is_(rc, 0, "make install OS=OpenBSD exits 0") or t.diag(out)
    me = pwd.getpwuid(os.geteuid()).pw_name
    got = tree(d)
    exp = expected_tree("/opt/mail", me, "rc.d", users_exist())
    t.ok(got == exp, "OpenBSD: /etc/rc.d/maild 0555 and no systemd "
         "unit") or show_tree_diff(got, exp)
    rcd = os.path.join(d, "etc/rc.d/maild")
    text = read(rcd) if os.path.exists(rcd) else ""
    t.like(text, r'(?m)^daemon="/opt/mail/sbin/maild"$',
           "the rc.d script's daemon has the PREFIX")
    t.like(text, r'(?m)^\s*\$\{daemon\} -n \$\{daemon_flags\} && '
           r'pkill -HUP -T "\$\{daemon_rtable\}" -xf "\$\{pexp\}"$',
           "rc_reload checks the configuration before SIGHUP")
    t.unlike(text, r"(?m)^pexp=", "the default pexp (the parent's "
             "unchanged arguments)")
    for script in (os.path.join(t.REPO, "etc/rc.d/maild"), rcd):
        rc, out = run(["sh", "-n", script])
        t.is_(rc, 0, "sh -n %s" % os.path.relpath(script, work
                                                   if script == rcd
                                                   else t.REPO))


def check_unprivileged(work):
    """A package build as an ordinary user: no chown, the modes still."""
    if not t.is_root():
        t.skip("not root: cannot run as another user", 3)
        return
    nobody = pwd.getpwnam("nobody")
    top = os.path.join(work, "nobody")
    os.mkdir(top)
    os.chown(top, nobody.pw_uid, nobody.pw_gid)
    d = os.path.join(top, "pkg")

    def drop():
        os.setgroups([])
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)
    rc, out = make_install(d, prefix="/usr", preexec_fn=drop)
    t.is_(rc, 0, "make install DESTDIR=... PREFIX=/usr as nobody "
          "exits 0") or t.diag(out)
    got = tree(d)
    exp = expected_tree("/usr", "nobody", "systemd", users_exist())
    t.ok(got == exp, "as nobody: the same modes, every file owned by "
         "nobody") or show_tree_diff(got, exp)
    unit = os.path.join(d, "etc/systemd/system/maild.service")
    text = read(unit) if os.path.exists(unit) else ""
    t.ok(re.search(r"(?m)^ExecStart=/usr/sbin/maild -d", text) and
         "/usr/local" not in text, "the unit's commands use PREFIX=/usr")


def check_refusals(work):
    """install-users: not root without DESTDIR; a file where a directory
    belongs."""
    script = os.path.join(t.REPO, "scripts/install-users")
    env = make_env()
    env.pop("DESTDIR", None)
    if t.is_root():
        nobody = pwd.getpwnam("nobody")

        def drop():
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
        rc, out = run(["sh", script], env=env, preexec_fn=drop, cwd="/")
        t.ok(rc == 1 and "run as root" in out,
             "install-users without DESTDIR as nobody: exit 1, "
             "\"run as root\"") or t.diag(out)
    else:
        rc, out = run(["sh", script], env=env)
        t.ok(rc == 1 and "run as root" in out,
             "install-users without DESTDIR, not root: exit 1")
    d = os.path.join(work, "bad")
    os.makedirs(os.path.join(d, "var"))
    with open(os.path.join(d, "var", "vmail"), "w") as f:
        f.write("not a directory\n")
    env["DESTDIR"] = d
    rc, out = run(["sh", script], env=env)
    t.ok(rc == 1 and "var/vmail exists and is not a directory" in out,
         "a file where /var/vmail belongs: exit 1 with the path") or \
        t.diag(out)


def check_unit_syntax():
    sa = shutil.which("systemd-analyze")
    if not sa:
        t.skip("no systemd-analyze", 1)
        return
    rc, out = run([sa, "verify", "--man=no",
                   os.path.join(t.REPO, "etc/maild.service")])
    # Only the absent /usr/local/sbin/maild may be reported here; the
    # unit installed in the namespace is verified with its binary.
    bad = [x for x in out.splitlines()
           if x.strip() and "is not executable" not in x]
    t.ok(not bad, "systemd-analyze verify etc/maild.service: nothing but "
         "the binary not installed here") or t.diag(out)
    rc, out = run([sa, "security", "--offline=true",
                   os.path.join(t.REPO, "etc/maild.service")])
    m = re.search(r"Overall exposure level for maild\.service: ([\d.]+)",
                  out)
    if m:
        t.diag("systemd-analyze security: exposure %s" % m.group(1))


# ------------------------------------------------ the namespace part

def unit_settings(text):
    """key -> list of values of the [Service] section."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, _, v = line.partition("=")
        out.setdefault(k, []).append(v)
    return out


def unit_command(line, env, mainpid=None):
    line = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], line)
    if mainpid is not None:
        line = line.replace("$MAINPID", str(mainpid))
    return line.split()


def wait_port(port, timeout):
    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False
    return t.wait_until(up, timeout, 0.1)


def inside(work):
    """Runs as root in private mount and network namespaces: /etc and
    /var are copies under work.  Prints one JSON object of facts."""
    R = {"errors": []}
    prefix = os.path.join(work, "usr/local")
    proc = None
    log = os.path.join(work, "maild.log")

    def facts(paths):
        out = {}
        for p in paths:
            try:
                st = os.stat(p)
                out[p] = [pwd.getpwuid(st.st_uid).pw_name, st.st_gid,
                          stat.S_IMODE(st.st_mode)]
            except (OSError, KeyError) as e:
                out[p] = str(e)
        return out
    dirs = ["/var/empty", "/var/spool/maild", "/var/spool/maild/offline",
            "/var/vmail", "/etc/mail", "/etc/mail/dkim"]
    try:
        subprocess.run(["mount", "--bind", os.path.join(work, "etc"),
                        "/etc"], check=True)
        subprocess.run(["mount", "--bind", os.path.join(work, "var"),
                        "/var"], check=True)
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)

        rc, out = make_install("", prefix=prefix)
        R["install"] = [rc, out]
        R["users"] = {}
        for u in USERS:
            try:
                pw = pwd.getpwnam(u)
                R["users"][u] = [pw.pw_uid, pw.pw_gid, pw.pw_dir,
                                 pw.pw_shell]
            except KeyError:
                R["users"][u] = None
        R["dirs"] = facts(dirs)
        before = [read("/etc/" + f) for f in ("passwd", "group")]
        rc, out = run(["sh", os.path.join(t.REPO, "scripts/install-users")],
                      env=make_env())
        R["again"] = [rc, out,
                      before == [read("/etc/" + f) for f in ("passwd",
                                                              "group")]]
        R["dirs_again"] = facts(dirs)

        # What the sample mail.conf names: certificate, DKIM keys, tables.
        tmp = tempfile.mkdtemp(dir=work)
        cert, key = t.make_cert(tmp, cn="mail.example.org")
        os.makedirs("/etc/ssl/private", exist_ok=True)
        shutil.copy(cert, "/etc/ssl/mail.example.org.fullchain.pem")
        shutil.copy(key, "/etc/ssl/private/mail.example.org.key")
        os.chmod("/etc/ssl/private/mail.example.org.key", 0o600)
        mailctl = os.path.join(prefix, "sbin/mailctl")
        maild = os.path.join(prefix, "sbin/maild")
        R["keygen"] = [
            run([mailctl, "dkim", "keygen", "-s", "rsa", "-o",
                 "/etc/mail/dkim/rsa.key", "example.org"]),
            run([mailctl, "dkim", "keygen", "-t", "ed25519", "-s", "ed",
                 "-o", "/etc/mail/dkim/ed.key", "example.org"])]
        pw = t.IMAP_PASSWORDS["alice@example.org"]
        rc, h = run([mailctl, "encrypt", pw])
        with open("/etc/mail/passwd", "w") as f:
            f.write("alice@example.org %s\n" % h.strip())
        os.chmod("/etc/mail/passwd", 0o600)
        with open("/etc/mail/virtuals", "w") as f:
            f.write("postmaster@example.org alice@example.org\n"
                    "alice@example.org vmail\n")
        R["check"] = run([maild, "-n"])

        unit_path = "/etc/systemd/system/maild.service"
        unit = unit_settings(read(unit_path))
        sa = shutil.which("systemd-analyze")
        R["verify"] = run([sa, "verify", "--man=no", unit_path]) if sa \
            else None
        env = dict(v.split("=", 1) for v in unit["Environment"])
        caps = " ".join(unit["CapabilityBoundingSet"]).split()
        bset = "-all," + ",".join("+" + c[4:].lower() for c in caps)
        R["bounding"] = bset
        R["pre"] = run(unit_command(unit["ExecStartPre"][0], env))
        cmd = unit_command(unit["ExecStart"][0], env)
        if unit.get("NoNewPrivileges") == ["yes"]:
            cmd = ["--no-new-privs", "--"] + cmd
        cmd = ["setpriv", "--bounding-set", bset, "--inh-caps", "-all"] + cmd
        R["start"] = cmd
        denv = dict(os.environ)
        # LeakSanitizer (make SANITIZE=1) cannot read /proc in a chroot.
        denv.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        with open(log, "ab") as lf:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                    stdout=lf, stderr=lf, env=denv)
        R["listening"] = all(wait_port(p, 15) for p in (25, 587, 465, 993))
        R["nochange"] = True
        if R["listening"]:
            c = t.SMTPConn("127.0.0.1", 25)
            R["greeting25"] = str(c.greeting)
            c.close()
            c = t.SMTPConn("127.0.0.1", 587)
            c.ehlo()
            c.starttls(server_hostname="mail.example.org")
            c.ehlo()
            R["auth"] = str(c.cmd("AUTH PLAIN " + t.sasl_plain(
                "alice@example.org", pw)))
            msg = ("From: alice@example.org\r\nTo: alice@example.org\r\n"
                   "Subject: installed\r\nMessage-ID: <inst@example.org>"
                   "\r\n\r\nfrom the installed maild\r\n")
            res = c.send_message("alice@example.org",
                                 ["postmaster@example.org"], msg)
            R["sent"] = str(res[3])
            c.quit()
            md = t.Maildir("/var/vmail/example.org/alice")
            md.wait(1, 15)
            got = md.messages()
            R["delivered"] = len(got)
            R["dkim"] = bool(got) and got[0].count(b"DKIM-Signature:") == 2
            i = t.IMAPConn("127.0.0.1", 993)
            R["imap_login"] = i.login("alice@example.org", pw).status
            r = i.select()
            R["imap_exists"] = [x.decode(errors="replace")
                                for x in r.untagged if b"EXISTS" in x]
            i.logout()

            # ExecReload with a broken configuration: the check fails and
            # the daemon is never signalled.
            good = read("/etc/mail.conf")
            with open("/etc/mail.conf", "a") as f:
                f.write("listen on nowhere-at-all port\n")
            reload = [unit_command(x, env, proc.pid)
                      for x in unit["ExecReload"]]
            rc, out = run(reload[0])
            R["bad_reload"] = [rc, out]
            with open("/etc/mail.conf", "w") as f:
                f.write(good)
            for c in reload:
                rc, out = run(c)
                if rc != 0:
                    break
            R["reload"] = [rc, out, t.wait_until(
                lambda: "configuration reloaded" in read(log), 10)]
            R["queue"] = run([mailctl, "show", "queue"])
        proc.send_signal(signal.SIGTERM)
        try:
            R["exit"] = proc.wait(15)
        except subprocess.TimeoutExpired:
            R["exit"] = "timeout"
        R["dirs_after"] = facts(dirs + ["/var/spool/maild/queue",
                                        "/var/spool/maild/incoming",
                                        "/var/spool/maild/corrupt"])
    except Exception as e:   # noqa: BLE001 - reported by the outer test
        import traceback
        R["errors"].append("%s: %s\n%s" % (type(e).__name__, e,
                                            traceback.format_exc()))
    finally:
        if proc is not None and proc.poll() is None:
            for p in [proc.pid] + t.proc_descendants(proc.pid):
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            proc.wait()
        try:
            R["log"] = read(log)
        except OSError:
            R["log"] = ""
    sys.stdout.write(json.dumps(R) + "\n")


def prepare_root(work):
    """work/etc: a copy of /etc without the maild users and files;
    work/var: empty."""
    etc = os.path.join(work, "etc")
    subprocess.run(["cp", "-a", "/etc", etc], check=True)
    for f in ("passwd", "group", "shadow", "gshadow"):
        p = os.path.join(etc, f)
        if not os.path.exists(p):
            continue
        with open(p) as fh:
            lines = [x for x in fh if x.split(":", 1)[0] not in USERS]
        with open(p, "w") as fh:
            fh.writelines(lines)
    for p in ("mail.conf", "mail", "systemd/system/maild.service"):
        p = os.path.join(etc, p)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        elif os.path.lexists(p):
            os.unlink(p)
    # Nothing in the namespace may ask the machine's resolver.
    resolv = os.path.join(etc, "resolv.conf")
    if os.path.lexists(resolv):
        os.unlink(resolv)
    with open(resolv, "w") as f:
        f.write("nameserver 127.0.0.1\n")
    for d in ("var/run", "var/log", "var/tmp"):
        os.makedirs(os.path.join(work, d))
    os.chmod(os.path.join(work, "var/tmp"), 0o1777)


def check_namespace(work):
    if not t.is_root():
        t.skip("not root: no real install", 1)
        return
    if not shutil.which("unshare") or not shutil.which("setpriv") or \
            run(["unshare", "--mount", "--net", "true"])[0] != 0:
        t.skip("no unshare/setpriv or no namespaces here", 1)
        return
    root = os.path.join(work, "root")
    os.mkdir(root)
    os.chmod(root, 0o755)
    prepare_root(root)
    rc, out = run(["unshare", "--mount", "--net", "--propagation",
                   "private", "--kill-child", "--",
                   sys.executable, os.path.abspath(__file__), "--inside",
                   root], timeout=240)
    try:
        R = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        t.ok(False, "the namespace part printed its facts")
        t.diag(out[-4000:])
        return
    ok = t.is_(R["errors"], [], "the namespace part ran to its end")

    rc, out = R.get("install", [None, ""])
    t.is_(rc, 0, "make install (no DESTDIR) as root exits 0") or t.diag(out)
    users = R.get("users", {})
    shells = ("/usr/sbin/nologin", "/sbin/nologin")
    for u, home in (("_maild", "/var/empty"), ("vmail", "/var/vmail")):
        e = users.get(u)
        t.ok(e is not None and e[2] == home and e[3] in shells and
             0 < e[0] < 1000,
             "install-users created %s: system uid, home %s, nologin"
             % (u, home)) or t.diag("%s: %r" % (u, e))
        t.like(out, r"created user %s" % u, "it says it created %s" % u)
    uid = {u: (users[u] or [None, None])[:2] for u in users}

    def dir_ok(facts, name):
        exp = {"/var/empty": ["root", 0, 0o755],
               "/var/spool/maild": ["_maild", uid["_maild"][1], 0o711],
               "/var/spool/maild/offline": ["root", 0, 0o1777],
               "/var/vmail": ["vmail", uid["vmail"][1], 0o700],
               "/etc/mail": ["root", 0, 0o755],
               "/etc/mail/dkim": ["root", 0, 0o700]}
        good = all(facts.get(k) == v for k, v in exp.items())
        t.ok(good, name) or t.diag(json.dumps(facts, indent=1))
    dir_ok(R.get("dirs", {}), "directories: /var/spool/maild _maild 0711 "
           "with offline/ root 1777, "
           "/var/vmail vmail 0700, /var/empty, /etc/mail 0755, "
           "/etc/mail/dkim 0700")
    rc, out, same = R.get("again", [None, "", False])
    t.ok(rc == 0 and same, "install-users a second time: exit 0, passwd "
         "and group unchanged") or t.diag(out)
    t.like(out, r"user _maild exists", "the second run says the users "
           "exist")
    dir_ok(R.get("dirs_again", {}), "the second run leaves the directories "
           "as they were")
    t.ok(all(k[0] == 0 for k in R.get("keygen", [])),
         "mailctl dkim keygen writes into the installed /etc/mail/dkim") \
        or t.diag(R.get("keygen"))
    rc, out = R.get("check", [None, ""])
    t.ok(rc == 0 and "configuration OK" in out,
         "maild -n: the installed sample mail.conf parses") or t.diag(out)
    if R.get("verify") is None:
        t.skip("no systemd-analyze", 1)
    else:
        rc, out = R["verify"]
        t.ok(rc == 0 and not out.strip(), "systemd-analyze verify of the "
             "installed unit is clean") or t.diag(out)
    t.is_(R.get("pre", [None])[0], 0, "the unit's ExecStartPre passes")
    t.diag("started as: %s" % " ".join(R.get("start", [])))
    t.ok(R.get("listening"), "maild started as the unit starts it listens "
         "on 25, 587, 465 and 993")
    t.like(R.get("greeting25", ""), r"^\d{3}[ -]", "port 25 answers")
    t.like(R.get("auth", ""), r"^235", "AUTH on submission with the "
           "mailctl encrypt hash")
    t.like(R.get("sent", ""), r"^250", "a message from alice is accepted")
    t.is_(R.get("delivered"), 1, "and delivered to "
          "/var/vmail/example.org/alice")
    t.ok(R.get("dkim"), "signed with both installed DKIM keys")
    t.is_(R.get("imap_login"), "OK", "IMAP login on 993")
    t.is_(R.get("imap_exists"), ["* 1 EXISTS"], "INBOX holds the message")
    rc, out = R.get("bad_reload", [None, ""])
    t.ok(rc == 1 and re.search(r"mail\.conf:\d+:", out),
         "ExecReload: a broken mail.conf fails the check, with file:line")
    rc, out, seen = R.get("reload", [None, "", False])
    t.ok(rc == 0 and seen, "ExecReload of the good file: checked, then "
         "SIGHUP, configuration reloaded") or t.diag(out)
    t.is_(R.get("queue", [None])[0], 0, "mailctl show queue on the default "
          "socket /var/run/maild.sock")
    t.is_(R.get("exit"), 0, "SIGTERM: maild exits 0")
    after = R.get("dirs_after", {})
    dir_ok(after, "after a run, maild left owners and modes as "
           "install-users made them")
    q = ["_maild", uid["_maild"][1], 0o700]
    t.ok(all(after.get("/var/spool/maild/" + s) == q
             for s in ("queue", "incoming", "corrupt")),
         "the queue made incoming/, queue/, corrupt/ as _maild, 0700")
    bad = [x for x in R.get("log", "").splitlines()
           if t.SANITIZER_RE.search(x)]
    t.ok(not bad, "no sanitizer report in the maild log") or \
        t.diag("\n".join(bad[:20]))
    if not ok or t.failures():
        t.diag("maild log:\n" + R.get("log", ""))


def main():
    work = tempfile.mkdtemp(prefix="maild-43-install-", dir="/tmp")
    os.chmod(work, 0o755)
    try:
        gnu, _ = check_destdir_install(work)
        t.section(check_bmake, work, gnu)
        t.section(check_openbsd_branch, work)
        t.section(check_unprivileged, work)
        t.section(check_refusals, work)
        t.section(check_unit_syntax)
        t.section(check_namespace, work)
    finally:
        if t.failures() == 0 and not os.environ.get("MAILD_TEST_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
        else:
            t.diag("kept %s" % work)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--inside":
        inside(sys.argv[2])
        sys.exit(0)
    t.run(main)
