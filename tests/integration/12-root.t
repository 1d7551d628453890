#!/usr/bin/env python3
# Privilege separation (root only): each child of the maild parent runs as
# its user (real, effective and saved uid/gid all that user's, no
# supplementary root group, no_new_privs) inside its chroot; the parent
# stays root; a delivered Maildir file belongs to vmail.
import os
import pwd
import stat
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402


def main():
    if not t.is_root():
        t.skip_all("not running as root")
    t.ensure_users()
    maild_pw = pwd.getpwnam("_maild")
    vmail_pw = pwd.getpwnam("vmail")
    m = t.Maild(user="_maild", vmail_user="vmail")
    m.start()
    empty = os.path.realpath("/var/empty")
    expect = {
        "maild-lookup": (maild_pw, empty),
        "maild-smtp": (maild_pw, empty),
        "maild-control": (maild_pw, empty),
        "maild-relay": (maild_pw, empty),
        "maild-filter": (maild_pw, empty),
        "maild-queue": (maild_pw, os.path.realpath(m.spool)),
        "maild-deliver": (vmail_pw, os.path.realpath(m.vmail)),
        "maild-imap": (vmail_pw, os.path.realpath(m.vmail)),
    }
    # Children name themselves right after fork, and drop privileges
    # once their set-up is done (slow under valgrind): give them time.
    t.wait_until(lambda: set(expect) <= set(
        t.proc_comm(k) for k in m.children()), 5)

    def dropped():
        try:
            return all(t.proc_status(k)["Uid"].split()[0] != "0"
                       for k in m.children())
        except (OSError, KeyError):
            return False
    t.wait_until(dropped, 20)
    kids = m.children()
    byname = {}
    for k in kids:
        byname.setdefault(t.proc_comm(k), []).append(k)
    t.diag("children of %d: %s" % (m.pid, {n: p for n, p in byname.items()}))
    ps = t.proc_status(m.pid)
    t.is_(ps["Uid"].split()[:3], ["0", "0", "0"], "parent stays root")
    t.is_(os.readlink("/proc/%d/root" % m.pid), "/", "parent is not chrooted")

    for name, (pw, root) in sorted(expect.items()):
        pids = byname.get(name, [])
        if not t.is_(len(pids), 1, "one %s process" % name):
            t.skip("no %s" % name, 6)
            continue
        pid = pids[0]
        st = t.proc_status(pid)
        uids = st["Uid"].split()
        gids = st["Gid"].split()
        t.is_(uids, [str(pw.pw_uid)] * 4,
              "%s: real/effective/saved/fs uid are %s (%d)" % (
                  name, pw.pw_name, pw.pw_uid))
        t.is_(gids, [str(pw.pw_gid)] * 4,
              "%s: real/effective/saved/fs gid are %d" % (name, pw.pw_gid))
        t.ok(pw.pw_uid != 0 and pw.pw_gid != 0, "%s: user is not root" % name)
        groups = st.get("Groups", "").split()
        t.ok(set(groups) <= {str(pw.pw_gid)},
             "%s: no supplementary groups (%s)" % (name, groups))
        t.is_(os.readlink("/proc/%d/root" % pid), root,
              "%s: chrooted into %s" % (name, root))
        t.is_(st.get("NoNewPrivs"), "1", "%s: no_new_privs set" % name)
    extra = sorted(n for n in byname if n not in expect)
    if extra:
        t.diag("other children: %s" % extra)

    # Directories the daemon prepared for its users.
    sp = os.stat(m.spool)
    t.is_(sp.st_uid, maild_pw.pw_uid, "spool owned by _maild")
    t.is_(stat.S_IMODE(sp.st_mode) & 0o066, 0, "spool not readable or "
          "writable by others (0711: they only reach offline/)")
    for sub in ("incoming", "queue", "corrupt"):
        st = os.stat(os.path.join(m.spool, sub))
        t.is_(stat.S_IMODE(st.st_mode), 0o700, "spool/%s: 0700" % sub)
    vm = os.stat(m.vmail)
    t.is_(vm.st_uid, vmail_pw.pw_uid, "vmail root owned by vmail")
    try:
        so = os.stat(m.socket_path)
        t.ok(stat.S_ISSOCK(so.st_mode), "control socket exists")
        t.is_((so.st_uid, stat.S_IMODE(so.st_mode)), (0, 0o600),
              "control socket is root's, mode 0600")
    except FileNotFoundError:
        t.ok(False, "control socket exists at %s" % m.socket_path)
        t.skip("no socket")

    # A message through the privilege-separated daemon.
    c = m.connect()
    c.ehlo()
    t.ok("STARTTLS" in c.extensions, "STARTTLS offered (key in smtp)")
    r = c.starttls()
    t.is_(r.code, 220, "STARTTLS works in the chrooted smtp process")
    c.ehlo()
    mr, rr, dr, fr = c.send_message("sender@client.test",
                                    ["alice@example.org"],
                                    t.make_message("root.%d@x" % os.getpid()))
    t.is_(fr and fr.code, 250, "message accepted")
    c.quit()
    md = m.maildir("alice")
    t.is_(md.wait(1, 5), 1, "delivered")
    for p in md.files("new"):
        st = os.stat(p)
        t.is_((st.st_uid, st.st_gid), (vmail_pw.pw_uid, vmail_pw.pw_gid),
              "Maildir file owned by vmail")
        t.is_(stat.S_IMODE(st.st_mode) & 0o007, 0,
              "Maildir file not readable by others (%o)"
              % stat.S_IMODE(st.st_mode))
    for d in (md.path, os.path.join(md.path, "new")):
        st = os.stat(d)
        t.is_(st.st_uid, vmail_pw.pw_uid, "%s owned by vmail"
              % os.path.relpath(d, m.dir))
        t.is_(stat.S_IMODE(st.st_mode), 0o700, "%s is mode 0700"
              % os.path.relpath(d, m.dir))

    kids = m.children()
    t.ok(m.stop(), "SIGTERM stops the parent and its children")
    time.sleep(0.2)
    t.ok(not any(t.pid_alive(k) for k in kids), "no child left behind")


t.run(main)
