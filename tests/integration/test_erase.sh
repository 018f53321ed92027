#!/usr/bin/env bash
# Secure erasure (include/erase.h), through a real mount, as real users of
# the example policy's roles (roles.ini and rules.ini as shipped) plus two
# test-only roles (zz-erase.ini: delete without write, write without
# delete):
#
#   1. unlink: returns at once (even while the file is held open), the name
#      is gone; the destroy record (user, rule, client, path, bytes, id,
#      reason=unlink, the BLAKE2b-256 of the content, method-type=purge, a
#      verification that matched) and the unlink record; the eraser waits
#      for the last close; a supervisor's unlink is refused and recorded
#   2. rename over a file (tmp + rename, sed -i): the old version destroyed
#      (reason=replace, its digest), the new one reads back; without write
#      on the target the rename is refused, recorded, nothing destroyed
#   3. truncation that cuts data (truncate -s, open O_TRUNC): destroyed at
#      once (reason=truncate, bytes and digest of the cut-off part,
#      method-type=clear), the kept part intact; without delete: EACCES
#   4. rmdir of a client folder destroys its key (reason=client-folder);
#      a non-empty one is refused and keeps it
#   5. no .Trash / .Trash-UID folders at the mount root (recorded)
#   6. raw scan of a loop-mounted ext4 image: no 32-byte sample of the
#      ciphertext of any destroyed file (header included) nor of a job file
#      is left anywhere on the disk; those of a kept file are (control)
#   7. kill -9 with jobs queued (three held open as ID.job, one waiting
#      for its retry as ID.sum): the queue survives, every job completes
#      after the remount, exactly one done record each
#   8. injected faults (tests/dossierfs-faults, verify and write): a failed
#      attempt recorded first, the retry ~10 s later done, once; erase
#      status shows both
#   8b. a state file a crash leaves behind (an ID.sum of a job already
#      done and recorded, after the restart that finished the job) is
#      cleaned up at the next start, not run again as a failing job
#   9. .audit/destructions.csv: one row per destruction
# shellcheck disable=SC2016  # python snippets are single-quoted
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

init_test
if [ "$DEV_NATIVE" = 1 ]; then
    skip "secure erasure (needs the real dossierfs; DEV_NATIVE=1)"
    finish
fi
require_tools useradd userdel groupadd groupdel setpriv fusermount3 mkfs.ext4 truncate sed cmp
[ "$CMD_TIMEOUT" = 300 ] && CMD_TIMEOUT=60
EXAMPLE=$TESTS_INT_DIR/../../policy
FAULTS=$TESTS_INT_DIR/../dossierfs-faults
T_START=$(date +%s)

# ------------------------------------------------------------ users, cleanup

MGR=dsfe_mgr     # client-manager (team north): owns every client here
SUP=dsfe_sup     # supervisor, team north: list and read only
AUD=dsfe_aud     # auditor
DEL=dsfe_del     # test-deleter: delete and rename, no write
EDT=dsfe_edit    # test-editor: write, no delete
ROLE_GROUPS=(dossier-managers dossier-supervisors dossier-audit dossier-north)
MY_USERS=()
MY_GROUPS=()
BG_PIDS=()
HOLDERS=()       # ready files of the holding processes (their pid inside)

IMG=$WORK/disk.img
DISK=$WORK/disk

my_cleanup() {
    local p m u g r
    for r in "${HOLDERS[@]}"; do
        p=$(head -n 1 "$r" 2>/dev/null)
        if [ -n "$p" ] && [ -r "/proc/$p/cmdline" ] &&
            tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF "$EH hold"; then
            kill "$p" 2>/dev/null
        fi
    done
    for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for m in "${MOUNTS[@]}"; do force_unmount "$m"; done
    if mountpoint -q "$DISK" 2>/dev/null; then
        umount "$DISK" 2>/dev/null || umount -l "$DISK"
    fi
    for u in "${MY_USERS[@]}"; do
        user_exists "$u" && userdel -f "$u" >/dev/null 2>&1
        group_exists "$u" && groupdel "$u" >/dev/null 2>&1
    done
    for g in "${MY_GROUPS[@]}"; do
        group_exists "$g" && groupdel "$g" >/dev/null 2>&1
    done
    MY_USERS=() MY_GROUPS=() BG_PIDS=() HOLDERS=()
    return 0
}
# shellcheck disable=SC2317  # called from the EXIT trap
_er_exit() {
    local rc=$?
    my_cleanup
    cleanup
    exit "$rc"
}
trap _er_exit EXIT
end_test() {
    my_cleanup
    echo "# $TEST_NAME: $(($(date +%s) - T_START)) s"
    finish
}

# mkuser NAME [GROUP...]
mkuser() {
    local u=$1 g
    shift
    if user_exists "$u"; then userdel -f "$u" >/dev/null 2>&1; fi
    if group_exists "$u"; then groupdel "$u" >/dev/null 2>&1; fi
    g=$(IFS=,; echo "$*")
    useradd -M -U -d /nonexistent -s /usr/sbin/nologin ${g:+-G "$g"} "$u" || return 1
    MY_USERS+=("$u")
    mkdir -p "$WORK/home/$u"
    chown "$u:$u" "$WORK/home/$u"
}

for g in "${ROLE_GROUPS[@]}"; do
    if ! group_exists "$g"; then
        groupadd "$g" || { fail "groupadd $g"; end_test; }
        MY_GROUPS+=("$g")
    fi
done
ok=1
mkuser "$MGR" dossier-managers dossier-north || ok=0
mkuser "$SUP" dossier-supervisors dossier-north || ok=0
mkuser "$AUD" dossier-audit || ok=0
mkuser "$DEL" || ok=0
mkuser "$EDT" || ok=0
if [ "$ok" != 1 ]; then
    fail "create the test users"
    end_test
fi

# ------------------------------------------------------------ helpers

cp "$FSOP" "$WORK/fsop.py" && chmod 0644 "$WORK/fsop.py"
AR=$TESTS_INT_DIR/ar.py
ar() { "$PY" "$AR" "$@"; }
# op USER ARGS...: fsop.py as USER
op() {
    local u=$1
    shift
    as_user "$u" "$PY" "$WORK/fsop.py" "$@" 2>&1
}

# The erasure helper, run by root and by the test users.
EH=$WORK/eh.py
cat >"$EH" <<'PYEOF'
import csv, hashlib, json, mmap, os, stat, sys, time

def b2(data):
    return hashlib.blake2b(data, digest_size=32).hexdigest()

def detail(r):
    out = {}
    for kv in (r.get("detail") or "").split("; "):
        k, _, v = kv.partition("=")
        out.setdefault(k, v)
    return out

cmd, a = sys.argv[1], sys.argv[2:]
if cmd == "b2":                 # FILE [START [END]]: blake2b-256 hex
    d = open(a[0], "rb").read()
    s = int(a[1]) if len(a) > 1 else 0
    e = int(a[2]) if len(a) > 2 else len(d)
    print(b2(d[s:e]))
elif cmd == "b2sparse":         # FILE: blake2b-256 hex; holes not read
    h, z = hashlib.blake2b(digest_size=32), bytes(1 << 20)
    with open(a[0], "rb") as f:
        fd, pos, end = f.fileno(), 0, os.fstat(f.fileno()).st_size
        while pos < end:
            try:
                d = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                d = end
            while pos < d:
                n = min(len(z), d - pos)
                h.update(z[:n])
                pos += n
            if pos < end:
                hole = os.lseek(fd, pos, os.SEEK_HOLE)
                h.update(os.pread(fd, hole - pos, pos))
                pos = hole
    print(h.hexdigest())
elif cmd == "list":             # DATADIR: backing files, "relpath size"
    for dp, dn, fn in os.walk(a[0]):
        for n in fn:
            if n in (".dirid", ".key") or n.startswith(".N"):
                continue
            p = os.path.join(dp, n)
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                print(os.path.relpath(p, a[0]), st.st_size)
elif cmd == "sample":           # FILE LABEL [N]: "LABEL OFF HEX", 32 bytes
    d = open(a[0], "rb").read()
    n = int(a[2]) if len(a) > 2 else 8
    offs = {0, 32, 64}          # the header: file ID, wrapped file key
    if len(d) >= 96 + 32:
        for k in range(n):
            offs.add(96 + (len(d) - 96 - 32) * k // max(n - 1, 1))
    for o in sorted(offs):
        if o + 32 <= len(d):
            print(a[1], o, d[o:o + 32].hex())
elif cmd == "sample-all":       # FILE LABEL: every 32 bytes (small files)
    d = open(a[0], "rb").read()
    for o in range(0, len(d) - 31, 32):
        print(a[1], o, d[o:o + 32].hex())
elif cmd == "scan":             # IMAGE SAMPLES: "LABEL FOUND TOTAL"
    with open(a[0], "rb") as f:
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        res = {}
        for line in open(a[1]):
            label, off, hx = line.split()
            c = res.setdefault(label, [0, 0])
            c[1] += 1
            if m.find(bytes.fromhex(hx)) >= 0:
                c[0] += 1
        for label in sorted(res):
            print(label, res[label][0], res[label][1])
elif cmd == "hold":             # READY GO OUT FILE...: hold files open
    fds = [os.open(p, os.O_RDONLY) for p in a[3:]]
    with open(a[0], "w") as f:
        f.write("%d\n" % os.getpid())
    t = time.time()
    while not os.path.exists(a[1]) and time.time() - t < 50:
        time.sleep(0.05)
    out = []
    for fd in fds:
        try:
            chunks, off = [], 0
            while True:
                b = os.pread(fd, 1 << 20, off)
                if not b:
                    break
                chunks.append(b)
                off += len(b)
            out.append(b2(b"".join(chunks)))
        except OSError as e:
            out.append("ERR %d" % e.errno)
        try:
            os.close(fd)
        except OSError:
            pass
    with open(a[2], "w") as f:
        f.write("\n".join(out) + "\n")
elif cmd == "dkey":             # JSON KEY FILTER...: detail KEY of matches
    import re
    for line in open(a[0]):
        if not line.strip():
            continue
        r = json.loads(line)
        ok = True
        for f in a[2:]:
            op = "~" if "~" in f and ("=" not in f or f.index("~") < f.index("=")) else "="
            k, _, v = f.partition(op)
            x = "-" if r.get(k) is None else str(r.get(k))
            if (op == "=" and x != v) or (op == "~" and not re.search(v, x)):
                ok = False
        if ok:
            print(detail(r).get(a[1], "-"))
elif cmd == "ids":              # JSON: destroy records "id outcome"
    for line in open(a[0]):
        if line.strip():
            r = json.loads(line)
            if r.get("action") == "destroy":
                o = {"allowed": "done", "error": "failed"}.get(r["outcome"], r["outcome"])
                print(detail(r).get("id", "?"), o)
elif cmd == "csv":              # CSVFILE FIELD...: rows, fields by '|'
    with open(a[0], newline="") as f:
        for row in csv.DictReader(f):
            print("|".join(row.get(k) or "" for k in a[1:]))
else:
    sys.exit("bad command " + cmd)
PYEOF
chmod 0644 "$EH"
eh() { "$PY" "$EH" "$@"; }

# query OUT [ARGS...]: the records of vault $QV (default $VAULT) as JSON
query() {
    local f=$1
    shift
    "$DOSSIERCTL" audit query "${QV:-$VAULT}" --passphrase-file "$PASSFILE" \
        --format json "$@" >"$f" 2>"$f.err"
}
# wait_queue VAULT [SECONDS]: until VAULT/erase is empty; 1 on timeout
wait_queue() {
    local v=$1 t=${2:-30} i
    for ((i = 0; i < t * 10; i++)); do
        [ -z "$(ls -A "$v/erase" 2>/dev/null)" ] && return 0
        sleep 0.1
    done
    return 1
}
# wait_rec SECONDS FILTER...: polls the store of $QV into $WORK/q.json
# until a record matches
wait_rec() {
    local t=$1 i
    shift
    for ((i = 0; i < t * 4; i++)); do
        query "$WORK/q.json"
        [ "$(ar count "$WORK/q.json" "$@")" -ge 1 ] && return 0
        sleep 0.25
    done
    return 1
}
# dkey KEY FILTER...: detail KEY of the last matching record of q.json
dkey() { eh dkey "$WORK/q.json" "$@" | tail -n 1; }
# flush: refusals are committed by the next allowed access
flush() { op "$MGR" read "$M/alpha/s1.txt" >/dev/null; sleep 0.3; }
# same USER LOCAL MOUNTFILE MSG: byte-equal, read through the mount as USER
same() { check_ok -m "$4" as_user "$1" cmp -- "$2" "$3"; }
# rand FILE BYTES
rand() { head -c "$2" /dev/urandom >"$1"; chmod 0644 "$1"; }
# put USER LOCAL MOUNTFILE: copy in and sync (the write-back cache)
put() { as_user "$1" sh -c 'cp -- "$1" "$2" && sync -- "$2"' sh "$2" "$3"; }
# hold_start USER READY GO OUT FILE...: a process holding FILEs open
hold_start() {
    local u=$1 ready=$2 i
    rm -f "$2" "$3" "$4"
    as_user "$u" "$PY" "$EH" hold "${@:2}" 9>&- &
    HOLD_PID=$!
    BG_PIDS+=("$HOLD_PID")
    HOLDERS+=("$ready")
    for ((i = 0; i < 100; i++)); do
        [ -s "$ready" ] && return 0
        sleep 0.05
    done
    return 1
}
# qn VAULT SUFFIX: how many queue files VAULT/erase/*SUFFIX there are
qn() { find "$1/erase" -mindepth 1 -maxdepth 1 -name "*$2" | wc -l; }
# status VAULT [ARGS]: dossierctl erase status
status() { "$DOSSIERCTL" erase status "$1" --passphrase-file "$PASSFILE" "${@:2}" 2>&1; }

# check_destroy DESC FILE-FILTER EXPECT...: the last destroy record of the
# filter in q.json; EXPECT are field=value (record fields) or
# d:key=value / d:key~regex (detail keys)
check_destroy() {
    local d=$1 flt=$2 e k v got
    shift 2
    local -a f
    read -r -a f <<<"$flt"
    for e in "$@"; do
        case $e in
        d:*~*)
            k=${e#d:}; v=${k#*~}; k=${k%%~*}
            check_match "$v" "$(dkey "$k" action=destroy "${f[@]}")" "$d: $k ~ /$v/" ;;
        d:*)
            k=${e#d:}; v=${k#*=}; k=${k%%=*}
            check_eq "$v" "$(dkey "$k" action=destroy "${f[@]}")" "$d: $k=$v" ;;
        *)
            k=${e%%=*}; v=${e#*=}
            got=$(ar rows "$WORK/q.json" action=destroy "${f[@]}" -- "$k" | tail -n 1)
            check_eq "$v" "$got" "$d: $k=$v" ;;
        esac
    done
}

POL=$WORK/policy
if ! {
write_policy "$POL" roles.ini "$(cat "$EXAMPLE/roles.ini")" &&
    write_policy "$POL" rules.ini "$(cat "$EXAMPLE/rules.ini")" &&
    write_policy "$POL" teams.ini "[team north]
members = @dossier-north" &&
    write_policy "$POL" clients.ini "[client alpha]
owner = $MGR
team = north" &&
    write_policy "$POL" zz-erase.ini "[role test-deleter]
description = Test only: may delete and rename, never write.
members = $DEL
scope = clients:alpha
allow = list, read, create, rename, delete

[role test-editor]
description = Test only: may write, never delete.
members = $EDT
scope = clients:alpha
allow = list, read, write, create, rename"
}; then
    fail "write the policy"
    end_test
fi
# shellcheck disable=SC2034  # read by mount_vault
POLICY_DIR=$POL

if [ ! -x "$FAULTS" ]; then
    fail "tests/dossierfs-faults built (make tests/dossierfs-faults)"
    end_test
fi

# ------------------------------------------------------------ the disk

# The main vault lives on a small ext4 image, scanned raw in part 6.
mkdir -p "$DISK"
truncate -s 64M "$IMG"
mkfs.ext4 -q -F "$IMG" >/dev/null 2>&1
if ! mount -o loop "$IMG" "$DISK"; then
    fail "loop-mount a small ext4 image"
    end_test
fi
V=$DISK/vault
if ! "$DOSSIERCTL" init "$V" --passphrase-file "$PASSFILE" --kdf-cost interactive >/dev/null 2>&1 ||
    ! mount_vault "$V" "$WORK/mnt"; then
    fail "init and mount a vault on the image"
    end_test
fi
M=$MNT
QV=$V
A=$M/alpha

section "setup"
check_eq OK "$(op "$MGR" mkdir "$A")" "manager registers alpha"
check_eq OK "$(op "$MGR" chmod "$A" 777)" \
    "manager opens alpha's mode to all (the policy alone decides)"
check_eq "" "$(ls -A "$V/erase")" "the queue VAULT/erase exists and is empty"
check_eq "700" "$(stat -c %a "$V/erase")" "VAULT/erase is mode 0700"

# ------------------------------------------------------------ 1. unlink

section "1. unlink destroys"
rand "$WORK/u1" 50000
put "$MGR" "$WORK/u1" "$A/u1.bin"
same "$MGR" "$WORK/u1" "$A/u1.bin" "manager wrote u1.bin (50000 bytes)"
check_eq OK "$(op "$MGR" unlink "$A/u1.bin")" "manager: unlink u1.bin"
check_eq "ERR ENOENT" "$(op "$MGR" stat "$A/u1.bin")" "u1.bin is gone at once"
check_no_match '^u1\.bin$' "$(op "$MGR" ls "$A")" "alpha no longer lists u1.bin"
wait_queue "$V" 30
check_eq "" "$(ls -A "$V/erase")" "the queue empties"
query "$WORK/q.json"
check_eq 1 "$(ar count "$WORK/q.json" action=destroy path=u1.bin)" "one destroy record for u1.bin"
check_destroy "u1.bin destroyed" "path=u1.bin" \
    outcome=allowed user="$MGR" uid="$(uid_of "$MGR")" "rule=role client-manager" \
    client=alpha bytes=50000 \
    'd:id~^[0-9a-f]{32}$' d:reason=unlink \
    "d:digest=blake2b-256:$(eh b2 "$WORK/u1")" d:method-type=purge \
    'd:verification~^read back [0-9]+ bytes \(O_DIRECT\) and compared: match$' \
    'd:tool~^dossierfs [0-9]' 'd:error=-'
# An empty file holds no data, but a header with its key: queued like
# any other, the header overwritten and read back.
check_eq OK "$(op "$MGR" create "$A/empty.txt")" "manager creates an empty file"
check_eq OK "$(op "$MGR" unlink "$A/empty.txt")" "manager: unlink the empty file"
wait_queue "$V" 30
check_eq "" "$(ls -A "$V/erase")" "the queue empties"
query "$WORK/q.json"
check_destroy "empty.txt destroyed" "path=empty.txt" outcome=allowed bytes=0 \
    d:reason=unlink "d:digest=blake2b-256:$(printf '' | eh b2 /dev/stdin)" \
    d:method-type=purge \
    'd:verification~^read back [1-9][0-9]* bytes \(O_DIRECT\) and compared: match$'
n=$(dkey verification action=destroy path=u1.bin | sed -n 's/^read back \([0-9]*\) bytes.*/\1/p')
check_eq 1 "$([ "${n:-0}" -gt 50000 ] && echo 1)" "u1.bin: the bytes read back ($n) cover the whole ciphertext"
rq=$(dkey requested action=destroy path=u1.bin)
st=$(dkey started action=destroy path=u1.bin)
en=$(dkey ended action=destroy path=u1.bin)
check_match '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{6}Z$' "$rq" "u1.bin: requested is a UTC time to the µs"
check_eq 1 "$([[ ! "$st" < "$rq" && ! "$en" < "$st" ]] && echo 1)" \
    "u1.bin: requested <= started <= ended ($rq, $st, $en)"
check_eq 1 "$(ar count "$WORK/q.json" action=unlink path=u1.bin user="$MGR" outcome=allowed client=alpha)" \
    "the unlink itself is recorded, allowed"
check_eq 1 "$([ "$(ar rows "$WORK/q.json" action=unlink path=u1.bin -- seq)" -lt \
    "$(ar rows "$WORK/q.json" action=destroy path=u1.bin -- seq)" ] && echo 1)" \
    "the unlink record comes before the destroy record"

# A file held open: unlink returns at once; the eraser waits for the close.
rand "$WORK/u2" 120000
put "$MGR" "$WORK/u2" "$A/u2.bin"
if hold_start "$MGR" "$WORK/home/$MGR/ready1" "$WORK/go1" "$WORK/home/$MGR/out1" "$A/u2.bin"; then
    pass "a process of the manager holds u2.bin open"
else
    fail "a process of the manager holds u2.bin open"
fi
t0=$(date +%s%N)
check_eq OK "$(op "$MGR" unlink "$A/u2.bin")" "manager: unlink u2.bin while it is open"
ms=$((($(date +%s%N) - t0) / 1000000))
check_eq 1 "$([ "$ms" -lt 5000 ] && echo 1)" "  it returned at once ($ms ms), the file still open"
check_eq "ERR ENOENT" "$(op "$MGR" stat "$A/u2.bin")" "u2.bin is gone from the mount"
check_eq "1 1" "$(qn "$V" .job) $(qn "$V" .data)" \
    "the queue holds its job: one ID.job, one ID.data"
sleep 1.5
check_eq "1 1" "$(qn "$V" .job) $(qn "$V" .data)" \
    "1.5 s later it still waits (the file is open)"
query "$WORK/q.json"
check_eq 0 "$(ar count "$WORK/q.json" action=destroy path=u2.bin)" "no destroy record while it is open"
check_match "queued +.*$MGR +alpha/u2\.bin" "$(status "$V")" "erase status lists the queued job"
touch "$WORK/go1"
wait "$HOLD_PID"
check_eq "$(eh b2 "$WORK/u2")" "$(head -n 1 "$WORK/home/$MGR/out1" 2>&1)" \
    "the open descriptor still read the whole content after the unlink"
wait_queue "$V" 30
check_eq "" "$(ls -A "$V/erase")" "after the close the queue empties"
query "$WORK/q.json"
check_destroy "u2.bin destroyed after the close" "path=u2.bin" outcome=allowed bytes=120000 \
    d:reason=unlink "d:digest=blake2b-256:$(eh b2 "$WORK/u2")" \
    'd:verification~compared: match$'

# A supervisor may read, not delete.
check_eq "OK wrote=11" "$(op "$MGR" open "$A/s1.txt" 'O_WRONLY|O_CREAT' 666 write=supervised-)" \
    "manager writes s1.txt"
check_eq "ERR EACCES" "$(op "$SUP" unlink "$A/s1.txt")" "supervisor: unlink s1.txt is refused"
check_eq "OK b'supervised-'" "$(op "$SUP" read "$A/s1.txt")" "s1.txt is intact and the supervisor reads it"
flush
query "$WORK/q.json"
check_eq 1 "$(ar count "$WORK/q.json" action=unlink path=s1.txt user="$SUP" outcome=denied errno=13)" \
    "the refused unlink is recorded, denied"
check_eq 0 "$(ar count "$WORK/q.json" action=destroy path=s1.txt)" "nothing destroyed for s1.txt"

# ------------------------------------------------------------ 2. rename over

section "2. rename over a file destroys the old version"
rand "$WORK/r-old" 20000
rand "$WORK/r-new" 15000
put "$MGR" "$WORK/r-old" "$A/report.bin"
put "$MGR" "$WORK/r-new" "$A/report.bin.tmp"
check_eq OK "$(op "$MGR" rename "$A/report.bin.tmp" "$A/report.bin")" \
    "manager: rename report.bin.tmp over report.bin"
same "$MGR" "$WORK/r-new" "$A/report.bin" "report.bin reads back the new content"
check_eq "ERR ENOENT" "$(op "$MGR" stat "$A/report.bin.tmp")" "the temporary name is gone"
wait_queue "$V" 30
query "$WORK/q.json"
check_eq 1 "$(ar count "$WORK/q.json" action=destroy path=report.bin)" "one destroy record for report.bin"
check_destroy "old report.bin destroyed" "path=report.bin" outcome=allowed user="$MGR" \
    "rule=role client-manager" client=alpha bytes=20000 d:reason=replace \
    "d:digest=blake2b-256:$(eh b2 "$WORK/r-old")" d:method-type=purge \
    'd:verification~^read back [0-9]+ bytes \(O_DIRECT\) and compared: match$'
check_eq 1 "$(ar count "$WORK/q.json" action=rename path=report.bin.tmp path2=report.bin outcome=allowed)" \
    "the rename is recorded, allowed"

printf 'alpha line\nsecond line\n' >"$WORK/sed-old"
put "$MGR" "$WORK/sed-old" "$A/letter.txt"
check_ok -m "manager: sed -i (an editor's save: temporary file, rename)" \
    as_user "$MGR" sed -i 's/alpha/omega/' "$A/letter.txt"
check_eq "omega line
second line" "$(as_user "$MGR" cat "$A/letter.txt")" "letter.txt has the edit"
wait_queue "$V" 30
query "$WORK/q.json"
check_destroy "sed -i: the old letter.txt" "path=letter.txt" outcome=allowed bytes=23 \
    d:reason=replace "d:digest=blake2b-256:$(eh b2 "$WORK/sed-old")"

# delete without write: the replaced file cannot be destroyed
rand "$WORK/k-old" 9000
put "$MGR" "$WORK/k-old" "$A/keep.bin"
check_eq "OK wrote=6" "$(op "$MGR" open "$A/keep.bin.tmp" 'O_WRONLY|O_CREAT' 666 write=newver)" \
    "manager writes keep.bin.tmp"
check_eq OK "$(op "$DEL" rename "$A/keep.bin.tmp" "$A/keep2.tmp")" \
    "deleter (delete, rename, no write): a plain rename works"
check_eq "ERR EACCES" "$(op "$DEL" rename "$A/keep2.tmp" "$A/keep.bin")" \
    "deleter: rename over keep.bin is refused (write on the target is needed)"
same "$MGR" "$WORK/k-old" "$A/keep.bin" "keep.bin is intact"
check_eq "OK b'newver'" "$(op "$MGR" read "$A/keep2.tmp")" "keep2.tmp is still there"
check_eq "" "$(ls -A "$V/erase")" "nothing was queued"
flush
query "$WORK/q.json"
check_eq 1 "$(ar count "$WORK/q.json" action=replace user="$DEL" path=keep.bin outcome=denied errno=13)" \
    "the refusal is recorded (action replace, denied)"
check_eq 0 "$(ar count "$WORK/q.json" action=destroy path=keep.bin)" "nothing destroyed for keep.bin"

# ------------------------------------------------------------ 3. truncation

section "3. truncation that cuts data destroys the cut-off part"
rand "$WORK/t1" 100000
put "$MGR" "$WORK/t1" "$A/t1.bin"
check_ok -m "manager: truncate -s 30000 t1.bin" as_user "$MGR" truncate -s 30000 "$A/t1.bin"
head -c 30000 "$WORK/t1" >"$WORK/t1-kept"
same "$MGR" "$WORK/t1-kept" "$A/t1.bin" "the kept 30000 bytes read back intact"
check_eq "" "$(ls -A "$V/erase")" "a cut is erased at once, not queued"
query "$WORK/q.json"
check_eq 1 "$(ar count "$WORK/q.json" action=destroy path=t1.bin)" "one destroy record for t1.bin"
check_destroy "t1.bin cut" "path=t1.bin" outcome=allowed user="$MGR" "rule=role client-manager" \
    client=alpha bytes=70000 d:reason=truncate \
    "d:digest=blake2b-256:$(eh b2 "$WORK/t1" 30000)" d:method-type=clear \
    'd:verification~^read back [0-9]+ bytes \(O_DIRECT\) and compared: match$'
same "$MGR" "$WORK/t1-kept" "$A/t1.bin" "t1.bin still intact afterwards (fresh read)"

rand "$WORK/t2" 40000
put "$MGR" "$WORK/t2" "$A/t2.bin"
check_eq "OK wrote=5" "$(op "$MGR" open "$A/t2.bin" 'O_WRONLY|O_TRUNC' write=fresh)" \
    "manager: open t2.bin O_TRUNC and write"
check_eq "OK b'fresh'" "$(op "$MGR" read "$A/t2.bin")" "t2.bin holds the new content only"
query "$WORK/q.json"
check_destroy "t2.bin O_TRUNC" "path=t2.bin" outcome=allowed bytes=40000 d:reason=truncate \
    "d:digest=blake2b-256:$(eh b2 "$WORK/t2")" d:method-type=clear
check_eq 1 "$(ar count "$WORK/q.json" action=destroy path=t2.bin)" "one destroy record for t2.bin"

rand "$WORK/t3" 20000
put "$MGR" "$WORK/t3" "$A/t3.bin"
check_eq OK "$(op "$MGR" chmod "$A/t3.bin" 666)" "manager: chmod 666 t3.bin"
check_eq "ERR EACCES" "$(op "$EDT" ftruncate "$A/t3.bin" 100)" \
    "editor (write, no delete): ftruncate t3.bin to 100 is refused"
check_fail_with "Permission denied" -m "editor: truncate -s 10 is refused" \
    as_user "$EDT" truncate -s 10 "$A/t3.bin"
check_eq "ERR EACCES" "$(op "$EDT" open "$A/t3.bin" 'O_WRONLY|O_TRUNC')" \
    "editor: open O_TRUNC of t3.bin is refused"
same "$MGR" "$WORK/t3" "$A/t3.bin" "t3.bin is unchanged"
check_eq "OK size=25000" "$(op "$EDT" ftruncate "$A/t3.bin" 25000)" \
    "editor: growing t3.bin (nothing cut) works"
flush
query "$WORK/q.json"
check_eq 3 "$(ar count "$WORK/q.json" action=truncate path=t3.bin user="$EDT" outcome=denied errno=13)" \
    "the three refused cuts are recorded, denied"
check_eq 0 "$(ar count "$WORK/q.json" action=destroy path=t3.bin)" "nothing destroyed for t3.bin"

# ------------------------------------------------------------ 4. rmdir client

section "4. rmdir of a client folder destroys its key"
dirs0=$(find "$V/data" -mindepth 1 -maxdepth 1 -type d | wc -l)
check_eq OK "$(op "$MGR" mkdir "$M/gamma")" "manager registers gamma"
check_eq "OK wrote=4" "$(op "$MGR" open "$M/gamma/g.txt" 'O_WRONLY|O_CREAT' write=gggg)" \
    "manager writes gamma/g.txt"
check_eq "ERR ENOTEMPTY" "$(op "$MGR" rmdir "$M/gamma")" "rmdir of the non-empty gamma: ENOTEMPTY"
check_eq "OK b'gggg'" "$(op "$MGR" read "$M/gamma/g.txt")" "  its file still reads (the key was kept)"
query "$WORK/q.json"
check_eq 0 "$(ar count "$WORK/q.json" action=destroy client=gamma)" "  nothing destroyed"
check_eq OK "$(op "$MGR" unlink "$M/gamma/g.txt")" "manager: unlink gamma/g.txt"
check_eq OK "$(op "$MGR" rmdir "$M/gamma")" "manager: rmdir gamma"
check_eq "ERR ENOENT" "$(op "$MGR" stat "$M/gamma")" "gamma is gone"
check_eq "$dirs0" "$(find "$V/data" -mindepth 1 -maxdepth 1 -type d | wc -l)" \
    "its backing folder is gone"
wait_queue "$V" 30
query "$WORK/q.json"
check_eq 1 "$(ar count "$WORK/q.json" action=destroy client=gamma 'detail~reason.client-folder;')" \
    "one client-folder destroy record for gamma"
check_destroy "gamma's key" "client=gamma detail~reason.client-folder;" outcome=allowed user="$MGR" \
    d:reason=client-folder d:method-type=purge \
    'd:verification~^read back [0-9]+ bytes .* and compared: match$'
check_eq 1 "$(eh dkey "$WORK/q.json" reason action=destroy client=gamma | grep -c '^unlink$')" \
    "and g.txt's own destroy record"

# ------------------------------------------------------------ 5. trash

section "5. no trash folders at the mount root"
MUID=$(uid_of "$MGR")
check_eq "ERR EACCES" "$(op "$MGR" mkdir "$M/.Trash")" "manager: mkdir .Trash is refused"
check_eq "ERR EACCES" "$(op "$MGR" mkdir "$M/.Trash-$MUID")" "manager: mkdir .Trash-$MUID is refused"
check_eq "ERR ENOENT" "$(op "$MGR" stat "$M/.Trash-$MUID")" ".Trash-$MUID does not exist"
flush
query "$WORK/q.json"
for t in .Trash ".Trash-$MUID"; do
    check_eq 1 "$(ar count "$WORK/q.json" action=mkdir client="$t" user="$MGR" outcome=denied \
        errno=13 "rule=no trash folders: deleting is destroying")" \
        "the refused mkdir $t is recorded, with the rule"
done

# ------------------------------------------------------------ 6. raw scan

section "6. nothing of a destroyed file is left on the disk"
check_eq OK "$(op "$MGR" mkdir "$M/delta")" "manager registers delta"
D=$M/delta
SAMPLES=$WORK/samples
: >"$SAMPLES"
declare -A BSIZE
# mkfile NAME BYTES: writes it, finds its backing file, samples it
mkfile() {
    local name=$1 bytes=$2 new
    rand "$WORK/s-$name" "$bytes"
    eh list "$V/data" | sort >"$WORK/before"
    put "$MGR" "$WORK/s-$name" "$D/$name"
    eh list "$V/data" | sort >"$WORK/after"
    new=$(comm -13 "$WORK/before" "$WORK/after")
    if [ "$(printf '%s\n' "$new" | grep -c .)" != 1 ]; then
        fail "$name: one new backing file" "$new"
        return
    fi
    BSIZE[$name]=${new##* }
    eh sample "$V/data/${new% *}" "$name" 8 >>"$SAMPLES"
}
for f in d1.bin:8192 d2.bin:200000 d3.bin:2097152 d4.bin:700001 h1.bin:300000 \
    r1.bin:100000 control.bin:300000; do
    mkfile "${f%%:*}" "${f#*:}"
done
check_eq 77 "$(wc -l <"$SAMPLES")" "11 samples of the ciphertext of each of 7 files (header included)"
check_eq 1 "$([ "${BSIZE[d3.bin]:-0}" -gt 2097152 ] && echo 1)" \
    "the backing files were found (d3.bin: ${BSIZE[d3.bin]:-?} bytes)"

# h1.bin held open and deleted: copy and sample its job file meanwhile
if hold_start "$MGR" "$WORK/home/$MGR/ready2" "$WORK/go2" "$WORK/home/$MGR/out2" "$D/h1.bin"; then
    pass "h1.bin is held open"
else
    fail "h1.bin is held open"
fi
check_eq OK "$(op "$MGR" unlink "$D/h1.bin")" "manager: unlink h1.bin while it is open"
check_eq 1 "$(qn "$V" .job)" "its job file is queued"
for j in "$V"/erase/*.job; do
    cp "$j" "$WORK/jobcopy"
    eh sample-all "$WORK/jobcopy" job >>"$SAMPLES"
done
check_match '^[1-9]' "$(grep -c '^job ' "$SAMPLES")" "samples of the job file taken ($(grep -c '^job ' "$SAMPLES"))"
touch "$WORK/go2"
wait "$HOLD_PID"

rand "$WORK/s-r1new" 50000
put "$MGR" "$WORK/s-r1new" "$D/r1.tmp"
check_eq OK "$(op "$MGR" rename "$D/r1.tmp" "$D/r1.bin")" "manager: r1.bin replaced by rename"
check_ok -m "manager: rm d1.bin d2.bin d3.bin d4.bin" \
    as_user "$MGR" rm -f "$D/d1.bin" "$D/d2.bin" "$D/d3.bin" "$D/d4.bin"
if wait_queue "$V" 60; then pass "the queue empties"; else fail "the queue empties" "$(ls -l "$V/erase")"; fi
query "$WORK/q.json"
for f in d1.bin d2.bin d3.bin d4.bin h1.bin r1.bin; do
    r=$([ "$f" = r1.bin ] && echo replace || echo unlink)
    check_eq 1 "$(ar count "$WORK/q.json" action=destroy client=delta path=$f outcome=allowed)" \
        "$f: one done destroy record"
    check_destroy "$f" "client=delta path=$f" bytes="$(stat -c %s "$WORK/s-$f")" d:reason="$r" \
        "d:digest=blake2b-256:$(eh b2 "$WORK/s-$f")" \
        "d:verification=read back ${BSIZE[$f]:-?} bytes (O_DIRECT) and compared: match"
done
same "$MGR" "$WORK/s-control.bin" "$D/control.bin" "control.bin (kept) reads back"
same "$MGR" "$WORK/s-r1new" "$D/r1.bin" "r1.bin's new version reads back"

# ------------------------------------------------------------ 9. destructions.csv

section "9. .audit/destructions.csv (main vault)"
as_user "$AUD" cat "$M/.audit/destructions.csv" >"$WORK/dest.csv" 2>"$WORK/dest.err"
check_eq 0 "$?" "auditor: cat /.audit/destructions.csv"
check_match '^seq,time,id,outcome,reason' "$(head -n 1 "$WORK/dest.csv")" "the header"
query "$WORK/q.json"
eh ids "$WORK/q.json" | sort >"$WORK/ids.store"
eh csv "$WORK/dest.csv" id outcome | tr '|' ' ' | sort >"$WORK/ids.csv"
check_eq "$(wc -l <"$WORK/ids.store")" "$(grep -c . "$WORK/ids.csv")" \
    "one row per destroy record ($(wc -l <"$WORK/ids.store"))"
check_eq "$(cat "$WORK/ids.store")" "$(cat "$WORK/ids.csv")" "the same ids and outcomes as the store"
check_eq 0 "$(grep -vc ' done$' "$WORK/ids.csv")" "every row is done"
check_eq "unlink|alpha|u1.bin|50000|blake2b-256:$(eh b2 "$WORK/u1")|purge" \
    "$(eh csv "$WORK/dest.csv" reason client path bytes digest method_type | grep '|u1.bin|')" \
    "u1.bin's row: reason, client, path, bytes, digest, method"
as_user "$AUD" cat "$A/.audit/destructions.csv" >"$WORK/dest-a.csv"
check_eq "$(ar count "$WORK/q.json" action=destroy client=alpha)" \
    "$(eh csv "$WORK/dest-a.csv" client | grep -c '^alpha$')" "alpha's destructions.csv: alpha's rows"
check_eq 0 "$(eh csv "$WORK/dest-a.csv" client | grep -vc '^alpha$')" "  and no other client's"

# ------------------------------------------------------------ 6b. the scan

section "6. the raw scan"
check_ok -m "unmount" unmount_vault "$M"
check_ok -m "audit verify (main vault)" "$DOSSIERCTL" audit verify "$V"
sync
check_ok -m "unmount the ext4 image" umount "$DISK"
t0=$(date +%s)
eh scan "$IMG" "$SAMPLES" >"$WORK/scan.out"
echo "# scan of the 64 MiB image: $(($(date +%s) - t0)) s"
while read -r label found total; do
    if [ "$label" = control.bin ]; then
        check_eq "$total" "$found" "control (kept) control.bin: $found of $total samples found on the disk"
    else
        check_eq 0 "$found" "destroyed $label: none of its $total samples on the disk"
    fi
done <"$WORK/scan.out"
check_eq 8 "$(wc -l <"$WORK/scan.out")" "every sampled file scanned (6 destroyed, the job file, the control)"

# ------------------------------------------------------------ 7. crash

section "7. kill -9 with jobs queued"
# Three deleted files held open wait as ID.job; a fourth, whose first
# overwrite fails (injected), waits for its retry as ID.sum.
VC=$WORK/vcrash
"$DOSSIERCTL" init "$VC" --passphrase-file "$PASSFILE" --kdf-cost interactive >/dev/null 2>&1
if ! DOSSIERFS=$FAULTS DOSSIER_FAULT=write mount_vault "$VC" "$WORK/mc"; then
    fail "mount the crash vault"
    end_test
fi
MC=$MNT
QV=$VC
check_eq OK "$(op "$MGR" mkdir "$MC/echo")" "manager registers echo"
for i in 1 2 3; do
    rand "$WORK/c$i" $((30000 + i))
    put "$MGR" "$WORK/c$i" "$MC/echo/c$i.bin"
done
rand "$WORK/c4" 3000000
put "$MGR" "$WORK/c4" "$MC/echo/c4.bin"
check_eq OK "$(op "$MGR" unlink "$MC/echo/c4.bin")" "manager: unlink c4.bin"
if wait_rec 8 action=destroy path=c4.bin outcome=error; then
    pass "c4.bin: its first attempt failed (injected); it waits for the retry"
else
    fail "c4.bin: its first attempt failed (injected)" "$(status "$VC")"
fi
if hold_start "$MGR" "$WORK/home/$MGR/ready3" "$WORK/go3" "$WORK/home/$MGR/out3" \
    "$MC/echo/c1.bin" "$MC/echo/c2.bin" "$MC/echo/c3.bin"; then
    pass "c1..c3.bin held open"
else
    fail "c1..c3.bin held open"
fi
check_ok -m "manager: rm c1..c3.bin (held open)" \
    as_user "$MGR" rm -f "$MC/echo/c1.bin" "$MC/echo/c2.bin" "$MC/echo/c3.bin"
pids=$(daemon_pids "$MC")
check_match '^[0-9]+$' "$pids" "the daemon's pid"
# shellcheck disable=SC2086
kill -9 $pids
touch "$WORK/go3"     # its reads now fail (ENOTCONN): it exits
wait "$HOLD_PID"
force_unmount "$MC"
check_eq 1 "$(is_mounted "$MC" || echo 1)" "the dead mount is gone"
check_eq "3 1 4 0" "$(qn "$VC" .job) $(qn "$VC" .sum) $(qn "$VC" .data) $(qn "$VC" .done)" \
    "VAULT/erase still holds the four jobs (3 ID.job, 1 ID.sum, 4 ID.data)"
st=$(status "$VC")
for i in 1 2 3; do
    check_match "queued +.*$MGR +echo/c$i\.bin" "$st" "erase status: c$i.bin queued"
done
check_match "digest taken, overwriting +.*$MGR +echo/c4\.bin" "$st" "erase status: c4.bin digest taken"
if ! mount_vault "$VC" "$WORK/mc"; then
    fail "remount the crash vault"
    end_test
fi
if wait_queue "$VC" 40; then pass "after the remount every job completes (queue empty)"; else
    fail "after the remount every job completes" "$(ls -l "$VC/erase")"; fi
query "$WORK/q.json"
for i in 1 2 3 4; do
    check_eq 1 "$(ar count "$WORK/q.json" action=destroy path=c$i.bin outcome=allowed)" \
        "c$i.bin: exactly one done destroy record"
    check_destroy "c$i.bin" "path=c$i.bin" user="$MGR" d:reason=unlink \
        "d:digest=blake2b-256:$(eh b2 "$WORK/c$i")" 'd:verification~compared: match$'
done
check_eq 4 "$(eh ids "$WORK/q.json" | grep ' done$' | cut -d' ' -f1 | sort -u | wc -l)" "four distinct ids"
check_eq "c4.bin" "$(ar rows "$WORK/q.json" action=destroy outcome!=allowed -- path)" \
    "the only failed attempt is c4.bin's, from before the crash"
check_eq "$(dkey id action=destroy path=c4.bin outcome=error)" "$(dkey id action=destroy path=c4.bin outcome=allowed)" \
    "  same job id as its done record (resumed from ID.sum)"
check_match 'pending 0, done 4, failed attempts 1, still failing 0' "$(status "$VC")" \
    "erase status: pending 0, done 4, nothing still failing"
check_ok -m "unmount" unmount_vault "$MC"
check_ok -m "audit verify (crash vault)" "$DOSSIERCTL" audit verify "$VC"

section "7b. an unmount during a long erasure leaves the job queued"
# A sparse file of 1 GiB: its digest hashes 1 GiB of zeros (seconds); the
# unmount comes first. The daemon must exit at once and leave the job for
# the next mount, which destroys the file with the right digest.
dd if=/dev/urandom of="$WORK/big" bs=4096 count=1 status=none
dd if=/dev/urandom of="$WORK/big" bs=4096 count=1 seek=262144 conv=notrunc status=none
chmod 0644 "$WORK/big"
if ! mount_vault "$VC" "$WORK/mc"; then
    fail "remount the crash vault"
    end_test
fi
check_ok -m "manager writes big.bin: 4 KiB, a 1 GiB hole, 4 KiB" \
    as_user "$MGR" sh -c 'dd if="$1" of="$2" bs=4096 count=1 conv=notrunc status=none &&
        dd if="$1" of="$2" bs=4096 count=1 skip=262144 seek=262144 conv=notrunc status=none &&
        sync -- "$2"' sh "$WORK/big" "$MC/echo/big.bin"
check_eq "OK f 0644 1073745920" "$(op "$MGR" stat "$MC/echo/big.bin")" \
    "big.bin is 1 GiB + 4 KiB"
pids=$(daemon_pids "$MC")
check_eq OK "$(op "$MGR" unlink "$MC/echo/big.bin")" "manager: unlink big.bin"
t0=$SECONDS
check_ok -m "unmount at once" unmount_vault "$MC"
gone=
for i in $(seq 1 300); do
    # shellcheck disable=SC2086
    kill -0 $pids 2>/dev/null || { gone=1; break; }
    sleep 0.1
done
check_eq 1 "$gone" "the daemon exits without finishing the erasure ($((SECONDS - t0)) s)"
check_eq 1 "$(qn "$VC" .data)" "VAULT/erase keeps big.bin's data file"
check_match "big\.bin" "$(status "$VC")" "erase status lists big.bin as pending"
if ! mount_vault "$VC" "$WORK/mc"; then
    fail "remount the crash vault"
    end_test
fi
if wait_queue "$VC" 120; then pass "the next mount destroys big.bin (queue empty)"; else
    fail "the next mount destroys big.bin" "$(ls -l "$VC/erase")" "$(status "$VC")"; fi
query "$WORK/q.json"
check_eq 1 "$(ar count "$WORK/q.json" action=destroy path=big.bin outcome=allowed)" \
    "big.bin: one done destroy record"
check_destroy "big.bin" "path=big.bin" user="$MGR" d:reason=unlink bytes=1073745920 \
    "d:digest=blake2b-256:$(eh b2sparse "$WORK/big")" \
    'd:verification~compared: match$'
n=$(dkey verification action=destroy path=big.bin | sed -n 's/^read back \([0-9]*\) bytes.*/\1/p')
check_eq 1 "$([ "${n:-0}" -ge 8192 ] && [ "${n:-0}" -lt 1048576 ] && echo 1)" \
    "big.bin: only its data was overwritten and read back ($n bytes), not the hole"
check_ok -m "unmount" unmount_vault "$MC"
check_ok -m "audit verify (crash vault, after big.bin)" "$DOSSIERCTL" audit verify "$VC"
rm -f "$WORK/big"

section "7c. a queued file whose job file never reached the disk"
# A power loss after the move into the queue reached the disk and before
# the job file did: ID.data with an empty ID.job, and one with none. The
# next mount destroys both as orphans, with a record each.
o1=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
o2=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
rand "$VC/erase/$o1.data" 20000
: >"$VC/erase/$o1.job"
rand "$VC/erase/$o2.data" 7000
if ! mount_vault "$VC" "$WORK/mc"; then
    fail "remount the crash vault"
    end_test
fi
if wait_queue "$VC" 60; then pass "the orphans are destroyed (queue empty)"; else
    fail "the orphans are destroyed" "$(ls -l "$VC/erase")" "$(status "$VC")"; fi
query "$WORK/q.json"
for o in "$o1:20000" "$o2:7000"; do
    check_destroy "orphan ${o%%:*}" "detail~${o%%:*}" outcome=allowed \
        "user=unknown (job file lost)" d:reason=orphan \
        "d:digest=unavailable: the job file was lost before it reached the disk" \
        "d:verification=read back ${o##*:} bytes (O_DIRECT) and compared: match"
done
check_ok -m "unmount" unmount_vault "$MC"

# ------------------------------------------------------------ 8. faults

section "8. injected faults: a failed attempt, then the retry"
declare -A FM
for kind in verify write; do
    "$DOSSIERCTL" init "$WORK/vf-$kind" --passphrase-file "$PASSFILE" --kdf-cost interactive >/dev/null 2>&1
    if DOSSIERFS=$FAULTS DOSSIER_FAULT=$kind DOSSIER_FAULT_RETRY_MS=5000 mount_vault "$WORK/vf-$kind" "$WORK/mf-$kind"; then
        pass "mount with DOSSIER_FAULT=$kind"
    else
        fail "mount with DOSSIER_FAULT=$kind"
        end_test
    fi
    FM[$kind]=$MNT
    check_eq OK "$(op "$MGR" mkdir "$MNT/fox")" "$kind: manager registers fox"
    rand "$WORK/f-$kind" 10000
    put "$MGR" "$WORK/f-$kind" "$MNT/fox/f.bin"
done
for kind in verify write; do
    check_eq OK "$(op "$MGR" unlink "${FM[$kind]}/fox/f.bin")" "$kind: manager unlinks f.bin"
done
T_FAULT=$(date +%s%N)
for kind in verify write; do
    QV=$WORK/vf-$kind
    if wait_rec 8 action=destroy path=f.bin outcome=error; then
        pass "$kind: a failed attempt is recorded"
    else
        fail "$kind: a failed attempt is recorded" "$(cat "$WORK/q.json")"
    fi
    check_eq 0 "$(ar count "$WORK/q.json" action=destroy outcome=allowed)" \
        "$kind: no done record before it"
    check_destroy "$kind: the failed attempt" "path=f.bin outcome=error" errno=5 user="$MGR" \
        bytes=10000 'd:error~.' 'd:verification=not done' d:reason=unlink \
        "d:digest=blake2b-256:$(eh b2 "$WORK/f-$kind")"
    check_eq 0 "$(eh dkey "$WORK/q.json" verification action=destroy | grep -c 'match')" \
        "$kind: no verification says match"
    s=$(status "$QV")
    check_match "1 failed attempt, the last at seq" "$s" "$kind: erase status shows the failed attempt under the job"
    check_match 'pending 1, done 0, failed attempts 1, still failing 1' "$s" "$kind: erase status totals"
    check_match "(^|$'\n')destruction,[0-9a-f]{32},failed," "$(status "$QV" --format csv)" \
        "$kind: erase status --format csv: a failed destruction row"
    check_eq "1 1 0 0" "$(qn "$QV" .sum) $(qn "$QV" .data) $(qn "$QV" .job) $(qn "$QV" .done)" \
        "$kind: the job waits for its retry as ID.sum (digest kept) and ID.data"
    check_match 'digest taken, overwriting' "$s" "$kind: erase status: digest taken"
    # kept for part 8b: the state file a crash can leave behind
    mkdir -p "$WORK/stale-$kind"
    cp -p "$QV"/erase/*.sum "$WORK/stale-$kind/"
done
echo "# failed attempts checked $((($(date +%s%N) - T_FAULT) / 1000000)) ms after the unlinks"
for kind in verify write; do
    QV=$WORK/vf-$kind
    if wait_queue "$QV" 40; then pass "$kind: the retry empties the queue"; else
        fail "$kind: the retry empties the queue" "$(status "$QV")"; fi
done
echo "# retries done $((($(date +%s%N) - T_FAULT) / 1000000)) ms after the unlinks"
for kind in verify write; do
    QV=$WORK/vf-$kind
    query "$WORK/q.json"
    check_eq 1 "$(ar count "$WORK/q.json" action=destroy outcome=allowed)" "$kind: exactly one done record"
    check_eq 1 "$(ar count "$WORK/q.json" action=destroy outcome=error)" "$kind: exactly one failed attempt"
    ids=$(eh ids "$WORK/q.json")
    check_eq "failed done" "$(printf '%s\n' "$ids" | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//')" \
        "$kind: the failure first, then done"
    check_eq 1 "$(printf '%s\n' "$ids" | cut -d' ' -f1 | sort -u | wc -l)" "$kind: both of the same job id"
    check_destroy "$kind: the retry" "path=f.bin outcome=allowed" bytes=10000 \
        "d:digest=blake2b-256:$(eh b2 "$WORK/f-$kind")" 'd:error=-' \
        'd:verification~compared: match$'
    s=$(status "$QV")
    check_match 'pending 0, done 1, failed attempts 1, still failing 0' "$s" "$kind: erase status: done"
    c=$(status "$QV" --format csv)
    check_eq "failed done" "$(printf '%s\n' "$c" | grep '^destruction,' | cut -d, -f3 | tr '\n' ' ' | sed 's/ $//')" \
        "$kind: erase status csv: failed, then done"
    as_user "$AUD" cat "${FM[$kind]}/.audit/destructions.csv" >"$WORK/dest-f.csv"
    check_eq "failed done" "$(eh csv "$WORK/dest-f.csv" outcome | tr '\n' ' ' | sed 's/ $//')" \
        "$kind: destructions.csv has the failed and the done row"
    check_ok -m "$kind: unmount" unmount_vault "${FM[$kind]}"
    check_ok -m "$kind: audit verify" "$DOSSIERCTL" audit verify "$QV"
done

# ------------------------------------------------------------ 8b. leftover

section "8b. a state file a crash left behind"
# A crash after ID.done is written and before ID.sum is destroyed leaves
# both; eraser_open() resumes from ID.done, finishes and records the job,
# and ID.sum stays. That is the state here: the ID.sum of a job whose
# done record is in the store, without its ID.data. The next start must
# clean it up, not run it again (nor record failures of it).
QV=$WORK/vf-write
cp -p "$WORK"/stale-write/*.sum "$QV/erase/"
check_eq 1 "$(qn "$QV" .sum)" "a leftover ID.sum of the done job is put back into the queue"
if mount_vault "$QV" "$WORK/mf-write"; then
    pass "mount (plain daemon)"
    if wait_queue "$QV" 6; then pass "the leftover is cleaned up"; else
        fail "the leftover is cleaned up" "$(ls -l "$QV/erase")" "$(status "$QV")"; fi
    check_eq OK "$(op "$MGR" stat "$MNT/fox" | cut -c1-2)" "the mount works"
    query "$WORK/q.json"
    check_eq "1 1" "$(ar count "$WORK/q.json" action=destroy outcome=error) $(ar count "$WORK/q.json" action=destroy outcome=allowed)" \
        "no new destroy record: still one failed attempt and one done"
    check_match 'still failing 0' "$(status "$QV")" "erase status: nothing still failing"
    check_ok -m "unmount" unmount_vault "$MNT"
fi

end_test
