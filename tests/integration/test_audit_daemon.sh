#!/usr/bin/env bash
# The audit records the daemon writes, through a real mount, read back with
# `dossierctl audit query --format json` and `dossierctl audit verify`.
#
#   1. A scripted session by two users, dsfa_alice (role editor: everything)
#      and dsfa_bob (role viewer: list and read one client, and a deny rule
#      on reading *.txt): mkdir of two client folders, create + write, read
#      (cached and O_DIRECT), rename, a move between the two clients, mkdir,
#      unlink, a denied read and a denied lookup of a client folder bob may
#      not list. Each step runs as one process whose pid is known, and its
#      records are exactly the expected ones: action, user, uid, roles,
#      client, path, path2, outcome, errno, rule, policy version (that of
#      `dossierctl policy status`), exe, node, and at close the bytes.
#   2. No client or file name is in audit.db / audit.db-wal / -shm (grep -a
#      of the raw files, while mounted and after unmount); the user name is.
#   3. After a clean unmount verify says ok with 0 unsigned records; a copy
#      of the vault with one record changed (python3's sqlite3) fails verify
#      with exit 1, naming that seq.
#   4. SIGKILL: a user creates files in a loop and logs each success; the
#      daemon is killed with -9 mid-way and the dead mount unmounted; every
#      file the loop saw created has its create record, and the store still
#      verifies.
#   5. Fail closed: while another process holds an exclusive lock on
#      audit.db, an open of an existing file fails with EIO within the busy
#      timeout (1 s) + slack and leaves no record; once the lock is released
#      the same open works again, and the seqs have no gap.
#   6. A live policy edit gives a policy-loaded record with the new version
#      (and later accesses carry it); a broken edit a policy-rejected record.
#   7. mount and unmount records.
# shellcheck disable=SC2016  # sh -c and python snippets are single-quoted
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

init_test
if [ "$DEV_NATIVE" = 1 ]; then
    skip "audit daemon (needs the real dossierfs; DEV_NATIVE=1)"
    finish
fi
require_tools useradd userdel groupadd groupdel setpriv fusermount3 realpath
[ "$CMD_TIMEOUT" = 300 ] && CMD_TIMEOUT=60

# ------------------------------------------------------------ users, cleanup

ALICE=dsfa_alice    # role editor: everything everywhere
BOB=dsfa_bob        # role viewer: list/read one client, never *.txt
MY_USERS=()
BG_PIDS=()

my_cleanup() {
    local p m u
    [ -n "${RELEASE:-}" ] && touch "$RELEASE" 2>/dev/null
    # unmount first: the daemon then ends by itself
    for m in "${MOUNTS[@]}"; do force_unmount "$m"; done
    for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for u in "${MY_USERS[@]}"; do
        user_exists "$u" && userdel -f "$u" >/dev/null 2>&1
        group_exists "$u" && groupdel "$u" >/dev/null 2>&1
    done
    MY_USERS=() BG_PIDS=()
    return 0
}
# shellcheck disable=SC2317  # called from the EXIT trap
_ad_exit() {
    local rc=$?
    my_cleanup
    cleanup
    exit "$rc"
}
trap _ad_exit EXIT
end_test() {
    my_cleanup
    finish
}

mkuser() {
    local u=$1
    if user_exists "$u"; then userdel -f "$u" >/dev/null 2>&1; fi
    if group_exists "$u"; then groupdel "$u" >/dev/null 2>&1; fi
    useradd -M -U -d /nonexistent -s /usr/sbin/nologin "$u" || return 1
    MY_USERS+=("$u")
    mkdir -p "$WORK/home/$u"
    chown "$u:$u" "$WORK/home/$u"
}
if ! mkuser "$ALICE" || ! mkuser "$BOB"; then
    fail "create the test users"
    end_test
fi
UID_A=$(uid_of "$ALICE")
UID_B=$(uid_of "$BOB")

# ------------------------------------------------------------ helpers

# ar: the records reader (tests/integration/ar.py; usage there).
AR=$TESTS_INT_DIR/ar.py
ar() { "$PY" "$AR" "$@"; }

# op.py, run as a test user:
#   open PATH             open for reading and read it all:
#                         "OK <seconds> <bytes>" or "ERR <ERRNO> <seconds>"
#   loop DIR LOG N        create DIR/k-00000 ... one by one until one fails;
#                         logs "OK NAME" once the create returned, and
#                         "ERR NAME ERRNO" for the one that failed
OP=$WORK/op.py
cat >"$OP" <<'PYEOF'
import errno, os, sys, time

def en(e):
    return errno.errorcode.get(e.errno, str(e.errno))

def c_open(p):
    t = time.monotonic()
    try:
        with open(p, "rb") as f:
            n = len(f.read())
    except OSError as e:
        return "ERR %s %.3f" % (en(e), time.monotonic() - t)
    return "OK %.3f %d" % (time.monotonic() - t, n)

def c_loop(d, log, n):
    with open(log, "a", buffering=1) as out:
        for i in range(int(n)):
            name = "k-%05d" % i
            try:
                fd = os.open(os.path.join(d, name),
                             os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except OSError as e:
                out.write("ERR %s %s\n" % (name, en(e)))
                return "stopped at %s: %s" % (name, en(e))
            out.write("OK %s\n" % name)
            try:
                os.close(fd)
            except OSError:
                pass
    return "done"

print(globals()["c_" + sys.argv[1]](*sys.argv[2:]))
PYEOF
chmod 0644 "$OP"

# lock.py DB READY RELEASE: BEGIN EXCLUSIVE on DB, touch READY, hold the
# lock until RELEASE exists (at most 60 s), roll back.
LOCKPY=$WORK/lock.py
cat >"$LOCKPY" <<'PYEOF'
import os, sqlite3, sys, time
db, ready, release = sys.argv[1:4]
c = sqlite3.connect(db, timeout=10, isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
with open(ready, "w") as f:
    f.write("locked\n")
end = time.time() + 60
while not os.path.exists(release) and time.time() < end:
    time.sleep(0.05)
c.execute("ROLLBACK")
c.close()
PYEOF
chmod 0644 "$LOCKPY"

VAULTA=$WORK/vault
MNTA=$WORK/mnt
DPID=""
DLOG=$WORK/daemon.log
J=$WORK/audit.json

# dmount: the daemon with -f in the background, output in $DLOG
dmount() {
    local i
    mkdir -p "$MNTA"
    chmod 0755 "$MNTA"
    MOUNTS+=("$MNTA")
    "$DOSSIERFS" "$VAULTA" "$MNTA" --passphrase-file "$PASSFILE" -f \
        -o "$MOUNT_OPTS,policy=$P" </dev/null >>"$DLOG" 2>&1 9>&- &
    DPID=$!
    BG_PIDS+=("$DPID")
    for i in $(seq 1 600); do
        is_mounted "$MNTA" && return 0
        kill -0 "$DPID" 2>/dev/null || break
        sleep 0.1
    done
    echo "mount failed; daemon output:" >&2
    sed -e 's/^/    /' "$DLOG" >&2
    return 1
}

# aq: the whole store as JSON lines into $J; the exit status of the query
aq() {
    "$DOSSIERCTL" audit query "$VAULTA" --passphrase-file "$PASSFILE" \
        --format json >"$J" 2>"$WORK/aq.err" </dev/null
}

# wait_count MIN FILTER...: polls the store (up to 8 s: the checkpoint
# thread commits queued records every 5 s) until MIN records match
wait_count() {
    local min=$1 i
    shift
    for i in $(seq 1 40); do
        aq
        [ "$(ar count "$J" "$@")" -ge "$min" ] && return 0
        sleep 0.2
    done
    return 1
}

# run_step NAME USER CMD...: runs CMD as USER; STEP_PID is the pid it ran
# as (sh writes its own pid and execs CMD), STEP_OUT its output, STEP_RC
# its exit status.
declare -A PID_OF
run_step() {
    local name=$1 u=$2 pf
    shift 2
    pf=$WORK/home/$u/pid.$name
    STEP_OUT=$(as_user "$u" sh -c 'echo $$ >"$0"; exec "$@"' "$pf" "$@" 2>&1)
    STEP_RC=$?
    STEP_PID=$(cat "$pf" 2>/dev/null)
    PID_OF[$name]=$STEP_PID
}

exe_of() { realpath -e "$(command -v "$1")"; }
pstatus_version() {
    "$DOSSIERCTL" policy status "$VAULTA" 2>&1 | sed -n -E 's/^version in force: *([0-9a-f]+).*/\1/p'
}
version_of() { "$DOSSIERCTL" policy check "$1" 2>&1 | sed -n -E 's/.*version ([0-9a-f]{16}).*/\1/p' | head -n 1; }

LOGMARK=0
mark_log() { LOGMARK=$(stat -c %s "$DLOG" 2>/dev/null || echo 0); }
new_log() { tail -c +$((LOGMARK + 1)) "$DLOG" 2>/dev/null; }

# ------------------------------------------------------------ policy, mount

CA=Zebracorp-Holdings      # client folder A (bob may list and read it)
CB=Quillfeather-Trust      # client folder B (bob may not list it)
P=$WORK/policy
ROLES="; audit daemon test
[role editor]
members = $ALICE
scope = all
allow = all

[role viewer]
members = $BOB
scope = clients:$CA
allow = list, read"
RULES="[rule viewers-never-read]
roles = viewer
effect = deny
permissions = read
files = *.txt"
write_policy "$P" roles.ini "$ROLES"
write_policy "$P" rules.ini "$RULES"
write_policy "$P" settings.ini "[settings]
node = dsfa-node"
V1=$(version_of "$P")
check_match '^[0-9a-f]{16}$' "$V1" "the test policy passes dossierctl policy check (version $V1)"

if ! create_vault "$VAULTA" >/dev/null 2>&1 || ! dmount; then
    fail "mount with -o policy=$P"
    end_test
fi
pass "mounted (daemon pid $DPID, -f, output in $DLOG)"
REALMNT=$(realpath "$MNTA")
# The mount point appears before the daemon has finished starting (audit
# store, lockout list, then the policy watch writes the status file).
for _ in $(seq 50); do
    PV=$(pstatus_version)
    [ -n "$PV" ] && break
    sleep 0.1
done
check_eq "$V1" "$PV" "policy status names the version in force"

A=$MNTA/$CA
B=$MNTA/$CB
F1=annual-report-2031.txt
F2=final-report-2031.txt
F3=moved-contract.pdf
SUB=subfolder-memos
DATA=$WORK/data.bin
head -c 3750 /dev/urandom | base64 -w 76 >"$DATA"   # 5000 + 66 newlines
chmod 0644 "$DATA"
NDATA=$(stat -c %s "$DATA")

# ------------------------------------------------------------ 1. session
section "1. a scripted session by $ALICE (allowed) and $BOB (denied)"

# expect STEP USER EXPECTED-ROWS EXE RULE: the records of STEP's process
# whose action is one of EXPECTED-ROWS' actions are exactly EXPECTED-ROWS
# (action|client|path|path2|outcome|errno, in seq order); the process left
# no record of another action; and each of those records but close names
# USER, its uid and roles, the deciding RULE, the policy version in force
# ($PV), the program EXE and the node.
expect() {
    local step=$1 user=$2 want=$3 exe=$4 rule=$5 pid=${PID_OF[$1]} acts got extra uid roles
    acts=$(printf '%s\n' "$want" | cut -d'|' -f1 | sort -u | paste -sd'|')
    got=$(ar rows "$J" "pid=$pid" "action~^($acts)\$")
    check_eq "$want" "$got" "$step: exactly the expected $(printf '%s' "$acts" | tr '|' '/') record(s)"
    extra=$(ar rows "$J" "pid=$pid" -- seq action client path path2 outcome errno rule |
        grep -Ev "^[0-9]+\|($acts)\|" || true)
    check_eq "" "$extra" "$step: no other record from its process (pid $pid)"
    if [ "$user" = "$ALICE" ]; then uid=$UID_A roles=editor; else uid=$UID_B roles=viewer; fi
    got=$(ar rows "$J" "pid=$pid" "action~^($acts)\$" "action!=close" -- user uid roles rule policy exe node | sort -u)
    check_eq "$user|$uid|$roles|$rule|$PV|$exe|dsfa-node" "$got" \
        "$step: user, uid, roles, rule '$rule', policy $PV, exe $exe, node"
}

# close_bytes STEP BYTES READ WRITTEN: the close record of STEP's process
close_bytes() {
    local step=$1 pid=${PID_OF[$1]}
    check_eq "$2|read $3, written $4|$ALICE|$UID_A" \
        "$(ar rows "$J" "pid=$pid" action=close -- bytes detail user uid)" \
        "$step: close records bytes=$2 (read $3, written $4)"
}

S0=0
aq && S0=$(ar max "$J")

run_step mkdir-A "$ALICE" mkdir "$A"
run_step mkdir-B "$ALICE" mkdir "$B"
run_step create "$ALICE" tee "$A/$F1" <"$DATA"
check_eq 0 "$STEP_RC" "$ALICE creates and writes $CA/$F1 with tee"
run_step read "$ALICE" cat "$A/$F1"
check_eq "$(cat "$DATA")" "$STEP_OUT" "$ALICE reads it back with cat"
run_step read-direct "$ALICE" dd if="$A/$F1" of=/dev/null bs=1M iflag=direct status=none
check_eq 0 "$STEP_RC" "$ALICE reads it with dd iflag=direct"
run_step rename "$ALICE" mv "$A/$F1" "$A/$F2"
check_eq 0 "$STEP_RC" "$ALICE renames it to $F2"
run_step deny-read "$BOB" cat "$A/$F2"
check_match "Permission denied" "$STEP_OUT" "$BOB may not read $CA/$F2 (cat: $STEP_OUT)"
# B's name is in the kernel's cache from alice's mkdir for up to 1 s; after
# that bob's path walk asks the daemon.
sleep 1.3
run_step deny-lookup "$BOB" stat "$B"
check_match "No such file or directory" "$STEP_OUT" "$BOB does not see $CB (stat: $STEP_OUT)"
run_step mkdir-sub "$ALICE" mkdir "$A/$SUB"
run_step unlink "$ALICE" rm "$A/$F2"
check_eq 0 "$STEP_RC" "$ALICE removes $F2"
run_step create2 "$ALICE" tee "$A/$F3" <"$DATA"
run_step move "$ALICE" mv "$A/$F3" "$B/$F3"
check_eq 0 "$STEP_RC" "$ALICE moves $F3 from $CA to $CB"
# release (and so the close record) may reach the daemon after the last
# command has returned; the close record is committed with the next batch.
wait_count 4 "seq>$S0" action=close "user=$ALICE"
# The removed file is destroyed in the background: its record follows.
wait_count 1 "seq>$S0" action=destroy "user=$ALICE"
aq
check_eq "0" "$?" "audit query --format json works while mounted ($(head -c 200 "$WORK/aq.err"))"

expect mkdir-A "$ALICE" "mkdir|$CA||-|allowed|0" "$(exe_of mkdir)" "role editor"
expect mkdir-B "$ALICE" "mkdir|$CB||-|allowed|0" "$(exe_of mkdir)" "role editor"
expect create "$ALICE" "create|$CA|$F1|-|allowed|0
close|$CA|$F1|-|allowed|0" "$(exe_of tee)" "role editor"
close_bytes create "$NDATA" 0 "$NDATA"
expect read "$ALICE" "open|$CA|$F1|-|allowed|0
close|$CA|$F1|-|allowed|0" "$(exe_of cat)" "role editor"
# The kernel serves a file still in its page cache without asking the
# daemon, so a cached read records only the bytes the daemon served (0 to
# the size; README, audit). dd iflag=direct below bypasses the cache.
got=$(ar rows "$J" "pid=${PID_OF[read]}" action=close -- bytes detail user)
check_match "^([0-9]+)\|read \1, written 0\|$ALICE\$" "$got" \
    "read: the close record says what the daemon served ($got)"
n=${got%%|*}
check_eq 1 "$([ "${n:-x}" -ge 0 ] 2>/dev/null && [ "$n" -le "$NDATA" ] && echo 1 || echo 0)" \
    "read: bytes served ($n) between 0 and the size ($NDATA)"
expect read-direct "$ALICE" "open|$CA|$F1|-|allowed|0
close|$CA|$F1|-|allowed|0" "$(exe_of dd)" "role editor"
close_bytes read-direct "$NDATA" "$NDATA" 0
expect rename "$ALICE" "rename|$CA|$F1|$F2|allowed|0" "$(exe_of mv)" "role editor"
expect deny-read "$BOB" "open|$CA|$F2|-|denied|13" "$(exe_of cat)" "rule viewers-never-read"
# One stat(1) may make the kernel ask twice (revalidate, then look up).
got=$(ar rows "$J" "pid=${PID_OF[deny-lookup]}" | sort -u)
n=$(ar count "$J" "pid=${PID_OF[deny-lookup]}")
check_eq "lookup|$CB||-|denied|13" "$got" "deny-lookup: the stat's records are denied lookups of $CB, errno 13 ($n of them)"
got=$(ar rows "$J" "pid=${PID_OF[deny-lookup]}" -- user uid roles rule policy exe | sort -u)
check_eq "$BOB|$UID_B|viewer|default deny|$PV|$(exe_of stat)" "$got" \
    "deny-lookup: user, uid, roles, rule 'default deny', policy, exe"
expect mkdir-sub "$ALICE" "mkdir|$CA|$SUB|-|allowed|0" "$(exe_of mkdir)" "role editor"
expect unlink "$ALICE" "unlink|$CA|$F2|-|allowed|0
destroy|$CA|$F2|-|allowed|0" "$(exe_of rm)" "role editor"
expect move "$ALICE" "rename|$CA|$F3|-|allowed|0
rename|$CB|$F3|-|allowed|0" "$(exe_of mv)" "role editor"
check_eq "moved to another client|moved from another client" \
    "$(ar rows "$J" "pid=${PID_OF[move]}" action=rename -- detail | paste -sd'|')" \
    "move: the two ends say which end they are"
check_eq "" "$(ar rows "$J" "seq>$S0" "user=$BOB" outcome!=denied)" \
    "$BOB's denied open and lookup left no allowed or error record (no close)"

# ------------------------------------------------------------ 2. names
section "2. no client or file name in the store's files"

names=("$CA" "$CB" "$F1" "$F2" "$F3" "$SUB")
# scan_names WHEN: grep -a every audit.db* file for the names
scan_names() {
    local when=$1 files=() f n hits=""
    for f in "$VAULTA"/audit.db*; do [ -f "$f" ] && files+=("$f"); done
    check_match "audit\.db( |$)" "$(basename -a "${files[@]}" | paste -sd' ')" "$when: the store's files: $(basename -a "${files[@]}" | paste -sd' ')"
    for n in "${names[@]}"; do
        if LC_ALL=C grep -aqF -- "$n" "${files[@]}"; then hits+="$n "; fi
    done
    check_eq "" "$hits" "$when: none of ${#names[@]} client and file names in $(basename -a "${files[@]}" | paste -sd,)"
    if LC_ALL=C grep -aqF -- "$ALICE" "${files[@]}" && LC_ALL=C grep -aqF -- "$BOB" "${files[@]}"; then
        pass "$when: the user names are there (in the clear, as intended)"
    else
        fail "$when: the user names $ALICE and $BOB should be found in the raw files (control)"
    fi
}
if [ -s "$VAULTA/audit.db-wal" ]; then
    pass "while mounted, audit.db-wal exists and holds data"
else
    fail "while mounted, audit.db-wal should exist and hold data" "$(ls -l "$VAULTA")"
fi
scan_names "while mounted"

# ------------------------------------------------------------ 6. policy
section "6. policy events"
aq
S1=$(ar max "$J")
write_policy "$P" rules.ini "$RULES

[rule viewers-never-delete]
roles = viewer
effect = deny
permissions = delete"
V2=$(version_of "$P")
check_match '^[0-9a-f]{16}$' "$V2" "edited policy passes policy check (version $V2)"
if [ "$V2" = "$V1" ]; then fail "the edit should change the policy version"; fi
if wait_count 1 "seq>$S1" action=policy-loaded; then
    pass "a live policy edit gives a policy-loaded record"
else
    fail "a live policy edit gives a policy-loaded record (none within 8 s)" "$(tail -n 5 "$DLOG")"
fi
check_eq "allowed|version $V2|dossierfs|$DPID|-" \
    "$(ar rows "$J" "seq>$S1" action=policy-loaded -- outcome detail user pid client)" \
    "exactly one policy-loaded record, naming the new version $V2"
sleep 0.5
PV=$(pstatus_version)
check_eq "$V2" "$PV" "policy status names the new version"

aq
S2=$(ar max "$J")
mark_log
write_policy "$P" roles.ini "$ROLES
[role broken"
if wait_count 1 "seq>$S2" action=policy-rejected; then
    pass "a broken policy edit gives a policy-rejected record"
else
    fail "a broken policy edit gives a policy-rejected record (none within 8 s)" "$(new_log)"
fi
got=$(ar rows "$J" "seq>$S2" action=policy-rejected -- outcome user detail | head -n 1)
check_match "^error\|dossierfs\|rejected: .*roles\.ini:[0-9]+" "$got" "policy-rejected: outcome error, names roles.ini:LINE ($got)"
check_eq 0 "$(ar count "$J" "seq>$S2" action=policy-loaded)" "no policy-loaded record for the broken edit"
write_policy "$P" roles.ini "$ROLES"
sleep 1.2
check_eq "$V2" "$(pstatus_version)" "the broken edit fixed: version $V2 still in force"

# ------------------------------------------------------------ 5. fail closed
section "5. fail closed while the store is locked"
G=$A/$SUB/guarded-memo.bin
run_step guarded "$ALICE" tee "$G" <"$DATA"
check_eq 0 "$STEP_RC" "$ALICE creates $SUB/guarded-memo.bin"
names+=(guarded-memo)
res=$(as_user "$ALICE" "$PY" "$OP" open "$G")
check_match "^OK [0-9.]+ $NDATA\$" "$res" "before the lock: $ALICE opens it ($res)"
aq
n_open=$(ar count "$J" action=open "path=$SUB/guarded-memo.bin")
READY=$WORK/lock.ready
RELEASE=$WORK/lock.release
rm -f "$READY" "$RELEASE"
"$PY" "$LOCKPY" "$VAULTA/audit.db" "$READY" "$RELEASE" >"$WORK/lock.out" 2>&1 &
LOCK_PID=$!
BG_PIDS+=("$LOCK_PID")
for _ in $(seq 1 100); do [ -e "$READY" ] && break; sleep 0.1; done
if [ -e "$READY" ]; then
    pass "another process holds BEGIN EXCLUSIVE on audit.db"
    mark_log
    res=$(as_user "$ALICE" "$PY" "$OP" open "$G")
    check_match "^ERR EIO " "$res" "locked store: the open fails with EIO ($res)"
    t=$(printf '%s' "$res" | awk '{ print $3 }')
    if awk -v t="${t:-99}" 'BEGIN { exit !(t <= 3.0) }'; then
        pass "locked store: refused after ${t}s (busy timeout 1 s + slack)"
    else
        fail "locked store: refused only after ${t:-?}s (want <= 3 s)"
    fi
    if is_mounted "$MNTA" && kill -0 "$DPID" 2>/dev/null; then
        pass "locked store: the daemon is still up"
    else
        fail "locked store: the daemon died" "$(tail -n 10 "$DLOG")"
    fi
    check_match "audit: cannot write .*audit\.db" "$(new_log)" "the daemon logged that the store cannot be written"
    touch "$RELEASE"
    wait "$LOCK_PID"
    check_eq 0 "$?" "the lock holder released the lock"
    res=$(as_user "$ALICE" "$PY" "$OP" open "$G")
    check_match "^OK [0-9.]+ $NDATA\$" "$res" "lock released: the same open works again ($res)"
    check_match "audit: .*works again" "$(new_log)" "the daemon logged that the store works again"
    aq
    check_eq $((n_open + 1)) "$(ar count "$J" action=open "path=$SUB/guarded-memo.bin")" \
        "the refused open left no open record; the one after the lock has one"
    check_eq "allowed|$V2|$(exe_of "$PY")" \
        "$(ar rows "$J" action=open "path=$SUB/guarded-memo.bin" -- outcome policy exe | tail -n 1)" \
        "the open after the lock carries the new policy version $V2"
    check_match '^ok ' "$(ar seqs "$J")" "seqs have no gap after the lock ($(ar seqs "$J"))"
else
    fail "could not lock audit.db" "$(cat "$WORK/lock.out")"
    touch "$RELEASE"
fi

# ------------------------------------------------------------ 3, 7. unmount
section "3, 7. clean unmount: final checkpoint, mount and unmount records"
scan_names "still mounted, after the policy and lock sections"
check_ok -m "unmount" unmount_vault "$MNTA"
wait "$DPID" 2>/dev/null
check_eq 0 "$?" "the daemon exited with status 0"
out=$("$DOSSIERCTL" audit verify "$VAULTA" 2>&1)
rc=$?
check_eq 0 "$rc" "verify after unmount: exit 0 ($(printf '%s' "$out" | head -n 1))"
aq
N=$(ar max "$J")
check_match "^ok: $N records, [0-9]+ checkpoints, last checkpoint at seq $N, 0 records after it" \
    "$out" "verify: ok, last checkpoint at the last seq $N, 0 unsigned records"
check_match '^ok ' "$(ar seqs "$J")" "seqs 1..$N without a gap"
check_eq "1|mount|dossierfs|0|$DPID|$REALMNT" \
    "$(ar rows "$J" action=mount -- seq action user uid pid detail)" \
    "one mount record, the first, by the daemon, naming the mountpoint"
check_eq "$N|unmount|dossierfs|$DPID|$REALMNT" \
    "$(ar rows "$J" action=unmount -- seq action user pid detail)" \
    "one unmount record, the last"
scan_names "after unmount"

section "3. a changed record fails verify"
T=$WORK/vault-tampered
cp -a "$VAULTA" "$T"
K=$(ar rows "$J" "pid=${PID_OF[deny-read]}" action=open -- seq | head -n 1)
res=$("$PY" - "$T/audit.db" "${K:-0}" "$ALICE" <<'PYEOF'
import sqlite3, sys
db, seq, user = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = sqlite3.connect(db, isolation_level=None)
n = c.execute("UPDATE events SET user = ? WHERE seq = ?", (user, seq)).rowcount
c.close()
print("changed %d" % n)
PYEOF
)
check_eq "changed 1" "$res" "python3 sqlite3: bob's denied open (seq $K) rewritten as alice's"
out=$("$DOSSIERCTL" audit verify "$T" 2>&1)
rc=$?
check_eq 1 "$rc" "verify of the changed copy: exit 1"
check_match "^bad: seq $K:" "$out" "verify names seq $K ($(printf '%s' "$out" | head -n 1))"
check_ok -m "the original still verifies" "$DOSSIERCTL" audit verify "$VAULTA"

# ------------------------------------------------------------ 4. SIGKILL
section "4. SIGKILL mid-way through a loop of creates"
if ! dmount; then
    fail "remount"
    end_test
fi
pass "remounted (daemon pid $DPID)"
run_step mkdir-crash "$ALICE" mkdir "$A/crash-dir"
check_eq 0 "$STEP_RC" "$ALICE makes $CA/crash-dir"
LOOP_LOG=$WORK/home/$ALICE/loop.log
as_user "$ALICE" "$PY" "$OP" loop "$A/crash-dir" "$LOOP_LOG" 100000 >"$WORK/loop.out" 2>&1 &
LOOP_PID=$!
BG_PIDS+=("$LOOP_PID")
for _ in $(seq 1 300); do
    n=$(grep -c '^OK' "$LOOP_LOG" 2>/dev/null)
    [ "${n:-0}" -ge 300 ] && break
    sleep 0.1
done
kill -9 "$DPID"
wait "$DPID" 2>/dev/null
echo "# daemon killed after $(grep -c '^OK' "$LOOP_LOG") logged creates"
for _ in $(seq 1 100); do kill -0 "$LOOP_PID" 2>/dev/null || break; sleep 0.1; done
wait "$LOOP_PID" 2>/dev/null
check_match "^stopped at k-[0-9]+: (ENOTCONN|ECONNABORTED|EIO)" "$(cat "$WORK/loop.out")" \
    "the loop was cut off by the kill ($(cat "$WORK/loop.out"))"
check_ok -m "fusermount3 -u the dead mount" fusermount3 -u "$MNTA"
if is_mounted "$MNTA"; then fail "the dead mount is gone"; else pass "the dead mount is gone"; fi
grep '^OK ' "$LOOP_LOG" | awk '{ print "crash-dir/" $2 }' | sort >"$WORK/logged"
nlog=$(wc -l <"$WORK/logged")
if [ "$nlog" -ge 100 ]; then pass "the loop logged $nlog creates"; else fail "the loop logged only $nlog creates"; fi
aq
check_eq 0 "$?" "query the vault directly after the kill: exit 0 ($(head -c 200 "$WORK/aq.err"))"
ar rows "$J" action=create "user=$ALICE" "client=$CA" "path~^crash-dir/" outcome=allowed -- path | sort >"$WORK/recorded"
missing=$(comm -23 "$WORK/logged" "$WORK/recorded")
check_eq "" "$missing" "every create the loop saw succeed has its record ($(wc -l <"$WORK/recorded") recorded, $nlog logged)"
check_eq 2 "$(ar count "$J" action=mount)" "two mount records"
check_eq 1 "$(ar count "$J" action=unmount)" "still one unmount record (the killed daemon wrote none)"
check_match '^ok ' "$(ar seqs "$J")" "seqs without a gap after the kill"
out=$("$DOSSIERCTL" audit verify "$VAULTA" 2>&1)
check_eq 0 "$?" "verify after the kill: exit 0 ($(printf '%s' "$out" | head -n 1))"

end_test
