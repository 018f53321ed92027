#!/usr/bin/env python3
"""Small syscall helper for the integration tests.

Every subcommand prints one result line: "OK ..." on success or
"ERR <ERRNO-NAME>" when a system call fails (exit status 0 in both cases,
so the shell side compares the printed line).  A usage error exits 2.
"""
import ctypes
import errno
import fcntl
import mmap
import os
import stat
import sys
import time


def err(e):
    return "ERR " + errno.errorcode.get(e.errno, str(e.errno))


def parse_flags(spec):
    flags = 0
    for name in spec.split("|"):
        name = name.strip()
        if not name:
            continue
        if not hasattr(os, name):
            sys.exit("unknown flag " + name)
        flags |= getattr(os, name)
    return flags


def cmd_open(args):
    """open PATH FLAGS [MODE-octal] [write=TEXT] [read]"""
    path, flags = args[0], parse_flags(args[1])
    mode = 0o666
    rest = args[2:]
    if rest and rest[0].isdigit():
        mode = int(rest[0], 8)
        rest = rest[1:]
    try:
        fd = os.open(path, flags, mode)
    except OSError as e:
        print(err(e))
        return
    out = ["OK"]
    try:
        for r in rest:
            if r.startswith("write="):
                data = r[len("write="):].encode()
                n = os.write(fd, data)
                out.append("wrote=%d" % n)
            elif r == "read":
                chunks = []
                while True:
                    b = os.read(fd, 65536)
                    if not b:
                        break
                    chunks.append(b)
                out.append("read=%r" % b"".join(chunks))
            else:
                sys.exit("bad open action " + r)
    except OSError as e:
        out.append(err(e))
    finally:
        os.close(fd)
    print(" ".join(out))


def cmd_ftruncate(args):
    """ftruncate PATH LEN"""
    try:
        fd = os.open(args[0], os.O_WRONLY)
        try:
            os.ftruncate(fd, int(args[1]))
        finally:
            os.close(fd)
        print("OK size=%d" % os.stat(args[0]).st_size)
    except OSError as e:
        print(err(e))


def cmd_renameat2(args):
    """renameat2 OLD NEW noreplace|exchange|none"""
    flag = {"none": 0, "noreplace": 1, "exchange": 2}[args[2]]
    libc = ctypes.CDLL(None, use_errno=True)
    AT_FDCWD = -100
    try:
        func = libc.renameat2
        res = func(AT_FDCWD, os.fsencode(args[0]), AT_FDCWD,
                   os.fsencode(args[1]), ctypes.c_uint(flag))
    except AttributeError:
        # glibc without the wrapper: raw syscall 316 (x86_64) / 276 (arm64)
        nr = {"x86_64": 316, "aarch64": 276}.get(os.uname().machine)
        if nr is None:
            sys.exit("no renameat2 on this platform")
        res = libc.syscall(ctypes.c_long(nr), AT_FDCWD,
                           os.fsencode(args[0]), AT_FDCWD,
                           os.fsencode(args[1]), ctypes.c_uint(flag))
    if res != 0:
        e = ctypes.get_errno()
        print("ERR " + errno.errorcode.get(e, str(e)))
    else:
        print("OK")


def cmd_sync(args):
    """sync PATH fsync|fdatasync TEXT: append TEXT, then sync"""
    try:
        fd = os.open(args[0], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, args[2].encode())
            if args[1] == "fsync":
                os.fsync(fd)
            else:
                os.fdatasync(fd)
        finally:
            os.close(fd)
        print("OK")
    except OSError as e:
        print(err(e))


def cmd_direct(args):
    """direct PATH: O_DIRECT write + read of aligned buffers"""
    size = 3 * 4096
    pattern = bytes((i * 7 + 3) & 0xFF for i in range(size))
    try:
        fd = os.open(args[0], os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_DIRECT,
                     0o644)
    except OSError as e:
        print("open " + err(e))
        return
    try:
        wbuf = mmap.mmap(-1, size)  # page aligned anonymous memory
        wbuf.write(pattern)
        n = os.pwritev(fd, [wbuf], 0)
        if n != size:
            print("ERR short-write %d" % n)
            return
        rbuf = mmap.mmap(-1, size)
        n = os.preadv(fd, [rbuf], 0)
        if n != size:
            print("ERR short-read %d" % n)
            return
        if rbuf[:] != pattern:
            print("ERR direct-read-mismatch")
            return
    except OSError as e:
        print(err(e))
        return
    finally:
        os.close(fd)
    with open(args[0], "rb") as f:
        if f.read() != pattern:
            print("ERR buffered-read-mismatch")
            return
    print("OK")


def cmd_mmap(args):
    """mmap PATH SIZE: shared writable map, write, msync, read back"""
    path, size = args[0], int(args[1])
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.ftruncate(fd, size)
            m = mmap.mmap(fd, size, mmap.MAP_SHARED,
                          mmap.PROT_READ | mmap.PROT_WRITE)
            data = bytes((i * 13 + 1) & 0xFF for i in range(size))
            m[:] = data
            m.flush()  # msync(MS_SYNC)
            m.close()
            # read back through read(2) on a fresh descriptor
            fd2 = os.open(path, os.O_RDONLY)
            try:
                got = b""
                while True:
                    b = os.read(fd2, 65536)
                    if not b:
                        break
                    got += b
            finally:
                os.close(fd2)
        finally:
            os.close(fd)
    except OSError as e:
        print(err(e))
        return
    print("OK" if got == data else "ERR mmap-mismatch len=%d" % len(got))


def _hold(args, kind):
    """hold-flock|hold-lockf PATH READYFILE SECONDS"""
    path, ready, secs = args[0], args[1], float(args[2])
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    if kind == "flock":
        fcntl.flock(fd, fcntl.LOCK_EX)
    else:
        fcntl.lockf(fd, fcntl.LOCK_EX)
    with open(ready, "w") as f:
        f.write("locked\n")
    time.sleep(secs)
    os.close(fd)


def cmd_try(args, kind):
    """try-flock|try-lockf PATH: non-blocking exclusive lock attempt"""
    try:
        fd = os.open(args[0], os.O_RDWR)
    except OSError as e:
        print(err(e))
        return
    try:
        if kind == "flock":
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        print("OK")
    except OSError as e:
        # EAGAIN and EACCES are both "already locked" for fcntl locks
        if e.errno in (errno.EAGAIN, errno.EACCES):
            print("LOCKED")
        else:
            print(err(e))
    finally:
        os.close(fd)


def cmd_pwrite(args):
    """pwrite PATH OFFSET HEXDATA (file created if missing, not truncated)"""
    try:
        fd = os.open(args[0], os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            n = os.pwrite(fd, bytes.fromhex(args[2]), int(args[1]))
        finally:
            os.close(fd)
        print("OK wrote=%d" % n)
    except OSError as e:
        print(err(e))


def cmd_pread(args):
    """pread PATH OFFSET LEN -> OK <hex>"""
    try:
        fd = os.open(args[0], os.O_RDONLY)
        try:
            want = int(args[2])
            off = int(args[1])
            got = b""
            while len(got) < want:
                b = os.pread(fd, want - len(got), off + len(got))
                if not b:
                    break
                got += b
        finally:
            os.close(fd)
        print("OK " + got.hex())
    except OSError as e:
        print(err(e))


def cmd_zeros(args):
    """zeros PATH OFFSET LEN: OK if LEN bytes at OFFSET are all zero"""
    try:
        fd = os.open(args[0], os.O_RDONLY)
        try:
            off, want = int(args[1]), int(args[2])
            done = 0
            while done < want:
                b = os.pread(fd, min(1 << 20, want - done), off + done)
                if not b:
                    print("ERR short-read at %d" % (off + done))
                    return
                if b.count(0) != len(b):
                    print("ERR nonzero-in-hole near %d" % (off + done))
                    return
                done += len(b)
        finally:
            os.close(fd)
        print("OK")
    except OSError as e:
        print(err(e))


def cmd_utime(args):
    """utime PATH now|SECONDS: utimensat with NULL times or explicit ones"""
    try:
        if args[1] == "now":
            os.utime(args[0], None)
        else:
            t = float(args[1])
            os.utime(args[0], (t, t))
        print("OK")
    except OSError as e:
        print(err(e))


def cmd_mkdir(args):
    """mkdir PATH [MODE]"""
    try:
        os.mkdir(args[0], int(args[1], 8) if len(args) > 1 else 0o777)
        print("OK")
    except OSError as e:
        print(err(e))


def cmd_rmdir(args):
    try:
        os.rmdir(args[0])
        print("OK")
    except OSError as e:
        print(err(e))


def cmd_unlink(args):
    try:
        os.unlink(args[0])
        print("OK")
    except OSError as e:
        print(err(e))


def cmd_rename(args):
    try:
        os.rename(args[0], args[1])
        print("OK")
    except OSError as e:
        print(err(e))


def cmd_link(args):
    try:
        os.link(args[0], args[1])
        print("OK")
    except OSError as e:
        print(err(e))


def cmd_chown(args):
    """chown PATH UID GID"""
    try:
        os.chown(args[0], int(args[1]), int(args[2]))
        print("OK")
    except OSError as e:
        print(err(e))


def cmd_create(args):
    """create PATH: creat() with mode 0666 (umask applies)"""
    try:
        fd = os.open(args[0], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        os.close(fd)
        print("OK")
    except OSError as e:
        print(err(e))


def cmd_stat(args):
    """stat PATH -> OK <type> <mode-octal> <size>"""
    try:
        st = os.lstat(args[0])
        kind = "d" if stat.S_ISDIR(st.st_mode) else "f"
        print("OK %s %04o %d" % (kind, st.st_mode & 0o7777, st.st_size))
    except OSError as e:
        print(err(e))


def cmd_chmod(args):
    """chmod PATH MODE-octal"""
    try:
        os.chmod(args[0], int(args[1], 8))
        print("OK")
    except OSError as e:
        print(err(e))


def cmd_setxattr(args):
    """setxattr PATH NAME VALUE"""
    try:
        os.setxattr(args[0], args[1], args[2].encode())
        print("OK")
    except OSError as e:
        print(err(e))


def cmd_symlink(args):
    """symlink TARGET PATH"""
    try:
        os.symlink(args[0], args[1])
        print("OK")
    except OSError as e:
        print(err(e))


def cmd_read(args):
    """read PATH -> OK <bytes repr> or ERR"""
    try:
        with open(args[0], "rb") as f:
            print("OK %r" % f.read())
    except OSError as e:
        print(err(e))


def cmd_unlinked_io(args):
    """unlinked PATH: write, unlink while open, keep using the descriptor"""
    try:
        fd = os.open(args[0], os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, b"before-unlink")
            os.unlink(args[0])
            os.write(fd, b"+after")
            got = os.pread(fd, 100, 0)
        finally:
            os.close(fd)
        print("OK %r exists=%s" % (got, os.path.lexists(args[0])))
    except OSError as e:
        print(err(e))


def cmd_ls(args):
    """ls DIR: sorted entry names, one per line, with python escapes
    (\\n, \\xNN, \\\\) for anything but printable ASCII"""
    try:
        names = sorted(os.listdir(os.fsencode(args[0])))
    except OSError as e:
        print(err(e))
        return
    for n in names:
        print(repr(n)[2:-1])


def cmd_tree(args):
    """tree DIR [mtime]: recursive sorted listing of names and stat fields.

    Per entry: name, type, mode, owner, group, nlink, size (not for
    directories: their size is file-system specific), symlink target.
    """
    import grp
    import pwd
    import stat as st

    def uname(uid):
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return str(uid)

    def gname(gid):
        try:
            return grp.getgrgid(gid).gr_name
        except KeyError:
            return str(gid)

    top = os.fsencode(args[0])
    with_mtime = len(args) > 1 and args[1] == "mtime"
    out = []
    for dirpath, dirnames, filenames in os.walk(top):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, top)
            try:
                s = os.lstat(p)
            except OSError as e:
                out.append("%r %s" % (rel, err(e)))
                continue
            if st.S_ISDIR(s.st_mode):
                kind, size = "d", "-"
            elif st.S_ISLNK(s.st_mode):
                kind, size = "l", str(s.st_size)
            elif st.S_ISREG(s.st_mode):
                kind, size = "f", str(s.st_size)
            else:
                kind, size = "?", str(s.st_size)
            line = "%r %s %04o %s:%s nlink=%d size=%s" % (
                rel, kind, st.S_IMODE(s.st_mode), uname(s.st_uid),
                gname(s.st_gid), s.st_nlink, size)
            if kind == "l":
                line += " -> %r" % os.readlink(p)
            if with_mtime:
                line += " mtime=%d" % s.st_mtime_ns
            out.append(line)
    for line in sorted(out):
        print(line)


COMMANDS = {
    "ls": cmd_ls,
    "utime": cmd_utime,
    "tree": cmd_tree,
    "open": cmd_open,
    "ftruncate": cmd_ftruncate,
    "renameat2": cmd_renameat2,
    "sync": cmd_sync,
    "direct": cmd_direct,
    "mmap": cmd_mmap,
    "hold-flock": lambda a: _hold(a, "flock"),
    "hold-lockf": lambda a: _hold(a, "lockf"),
    "try-flock": lambda a: cmd_try(a, "flock"),
    "try-lockf": lambda a: cmd_try(a, "lockf"),
    "pwrite": cmd_pwrite,
    "pread": cmd_pread,
    "zeros": cmd_zeros,
    "mkdir": cmd_mkdir,
    "rmdir": cmd_rmdir,
    "unlink": cmd_unlink,
    "rename": cmd_rename,
    "link": cmd_link,
    "chown": cmd_chown,
    "create": cmd_create,
    "read": cmd_read,
    "stat": cmd_stat,
    "chmod": cmd_chmod,
    "setxattr": cmd_setxattr,
    "symlink": cmd_symlink,
    "unlinked": cmd_unlinked_io,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.stderr.write("usage: fsop.py {%s} ...\n" % ",".join(sorted(COMMANDS)))
        sys.exit(2)
    COMMANDS[sys.argv[1]](sys.argv[2:])
