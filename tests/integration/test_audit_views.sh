#!/usr/bin/env bash
# The virtual .audit directories, through a real mount, as real users of
# the example policy's roles (roles.ini and rules.ini as shipped):
#
#   1. visibility: the auditor sees .audit at the mount root and in every
#      client folder (listed, stat, the eight files); every other role, and a
#      user with none, neither lists nor finds it (ENOENT), and each such
#      attempt is recorded
#   2. content: events.log / events.csv / events.jsonl are exactly what
#      `dossierctl audit query` prints as table / csv / json, up to the
#      records that existed when the file was read; a client's files hold
#      that client's records only; denied.log the denied ones;
#      destructions.csv its header; verify.txt the chain check, and after a
#      record is altered in audit.db it names that record
#   3. reads are recorded: audit-read when opened, close with the bytes
#   4. read-only: write, truncate, create, unlink, mkdir, rename, chmod,
#      setxattr inside .audit and rmdir of it give EROFS, recorded; a user
#      who does not see .audit creating one gets EACCES, recorded
#   5. streams: `tail -f` shows new events while it runs; `tail -n`, grep
#      and reads at random offsets (dd) agree with one whole read; the size
#      stat reports is the length read
# shellcheck disable=SC2016  # python snippets are single-quoted
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

init_test
if [ "$DEV_NATIVE" = 1 ]; then
    skip "audit views (needs the real dossierfs; DEV_NATIVE=1)"
    finish
fi
require_tools useradd userdel groupadd groupdel setpriv fusermount3 tail dd
[ "$CMD_TIMEOUT" = 300 ] && CMD_TIMEOUT=60
EXAMPLE=$TESTS_INT_DIR/../../policy

# ------------------------------------------------------------ users, cleanup

AUD=dsfv_aud     # auditor
MGR=dsfv_mgr     # client-manager, team north; owns alpha and beta
SUP=dsfv_sup     # supervisor, team north
SEC=dsfv_sec     # infosec
LEGAL=dsfv_legal # legal
REC=dsfv_rec     # records office (hours apply; it has no audit anyway)
OUT=dsfv_out     # no role
ROLE_GROUPS=(dossier-managers dossier-supervisors dossier-infosec
    dossier-legal dossier-records dossier-audit dossier-north)
MY_USERS=()
MY_GROUPS=()
BG_PIDS=()

my_cleanup() {
    local p m u g
    for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for m in "${MOUNTS[@]}"; do force_unmount "$m"; done
    for u in "${MY_USERS[@]}"; do
        user_exists "$u" && userdel -f "$u" >/dev/null 2>&1
        group_exists "$u" && groupdel "$u" >/dev/null 2>&1
    done
    for g in "${MY_GROUPS[@]}"; do
        group_exists "$g" && groupdel "$g" >/dev/null 2>&1
    done
    MY_USERS=() MY_GROUPS=() BG_PIDS=()
    return 0
}
# shellcheck disable=SC2317  # called from the EXIT trap
_av_exit() {
    local rc=$?
    my_cleanup
    cleanup
    exit "$rc"
}
trap _av_exit EXIT
end_test() {
    my_cleanup
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
mkuser "$AUD" dossier-audit || ok=0
mkuser "$MGR" dossier-managers dossier-north || ok=0
mkuser "$SUP" dossier-supervisors dossier-north || ok=0
mkuser "$SEC" dossier-infosec || ok=0
mkuser "$LEGAL" dossier-legal || ok=0
mkuser "$REC" dossier-records || ok=0
mkuser "$OUT" || ok=0
if [ "$ok" != 1 ]; then
    fail "create the test users"
    end_test
fi

# ------------------------------------------------------------ helpers

# The syscall helper and the records reader, readable by the test users.
cp "$FSOP" "$WORK/fsop.py" && chmod 0644 "$WORK/fsop.py"
AR=$TESTS_INT_DIR/ar.py
ar() { "$PY" "$AR" "$@"; }
# op USER ARGS...: fsop.py as USER
op() {
    local u=$1
    shift
    as_user "$u" "$PY" "$WORK/fsop.py" "$@" 2>&1
}
# query FILE [ARGS...]: the store's records as JSON lines into FILE
query() {
    local f=$1
    shift
    "$DOSSIERCTL" audit query "$VAULT" --passphrase-file "$PASSFILE" \
        --format json "$@" >"$f" 2>"$f.err"
}
# recorded DESC FILTER...: notes that the records matching FILTER (ar.py)
# must be those of one process; check_recorded checks every note against
# one query.
EXPECT=()
recorded() {
    local d=$1 f
    shift
    f=$(printf '%s\037' "$@")
    EXPECT+=("$d"$'\036'"$f")
}
check_recorded() {
    local e d f n
    local -a filt
    # Refusals are queued without waiting; the next allowed access
    # commits them with its own record.
    op "$MGR" read "$M/alpha/contract.pdf" >/dev/null
    query "$WORK/q.json"
    for e in "${EXPECT[@]}"; do
        d=${e%%$'\036'*}
        f=${e#*$'\036'}
        IFS=$'\037' read -r -a filt <<<"$f"
        # One attempt may be two kernel requests (a cached entry is
        # revalidated, then looked up afresh): records of one process.
        n=$(ar rows "$WORK/q.json" "${filt[@]}" -- pid | sort -u | wc -l)
        check_eq 1 "$n" "$d: recorded (${filt[*]})"

    done
    EXPECT=()
}

POL=$WORK/policy
write_policy "$POL" roles.ini "$(cat "$EXAMPLE/roles.ini")" &&
    write_policy "$POL" rules.ini "$(cat "$EXAMPLE/rules.ini")" &&
    write_policy "$POL" teams.ini "[team north]
members = @dossier-north" &&
    write_policy "$POL" clients.ini "[client alpha]
owner = $MGR
team = north" || { fail "write the policy"; end_test; }
# shellcheck disable=SC2034  # read by mount_vault
POLICY_DIR=$POL
if ! mount_vault; then
    fail "mount"
    end_test
fi
M=$MNT

section "setup: two clients, some files, a denial"
check_eq OK "$(op "$MGR" mkdir "$M/alpha")" "manager registers alpha"
check_eq OK "$(op "$MGR" mkdir "$M/beta")" "manager registers beta"
check_eq "OK wrote=13" "$(op "$MGR" open "$M/alpha/contract.pdf" 'O_WRONLY|O_CREAT' write=sale-contract)" \
    "manager writes alpha/contract.pdf"
check_eq "OK wrote=4" "$(op "$MGR" open "$M/beta/notes.txt" 'O_WRONLY|O_CREAT' write=note)" \
    "manager writes beta/notes.txt"
check_eq "ERR EACCES" "$(op "$SEC" read "$M/alpha/contract.pdf")" "infosec may not read contents"

# ------------------------------------------------------------ 1. visibility

section "1. who sees .audit"
check_eq "OK d 0755 0" "$(op "$AUD" stat "$M/.audit")" "auditor: stat /.audit"
check_eq "OK d 0755 0" "$(op "$AUD" stat "$M/alpha/.audit")" "auditor: stat alpha/.audit"
check_match '(^|\n)\.audit($|\n)' "$(op "$AUD" ls "$M")" "auditor: the root lists .audit"
check_match '(^|\n)\.audit($|\n)' "$(op "$AUD" ls "$M/beta")" "auditor: beta lists .audit"
check_eq "alerts.log
denied.log
destructions.csv
events.csv
events.jsonl
events.log
shares.csv
verify.txt" "$(op "$AUD" ls "$M/alpha/.audit")" "auditor: the eight files"
check_eq "$AUD $AUD" "$(as_user "$AUD" stat -c '%U %G' "$M/.audit/events.log" 2>&1)" \
    "auditor: the files show as the auditor's own (so a change reaches the daemon)"

for u in "$MGR" "$SUP" "$SEC" "$LEGAL" "$REC" "$OUT"; do
    check_no_match '(^|\n)\.audit($|\n)' "$(op "$u" ls "$M")" "${u#dsfv_}: the root does not list .audit"
    check_eq "ERR ENOENT" "$(op "$u" stat "$M/.audit")" "${u#dsfv_}: /.audit does not exist"
    recorded "${u#dsfv_}: looking up /.audit" action=lookup user="$u" client=- path=.audit \
        outcome=denied errno=2
done
for u in "$MGR" "$SUP" "$SEC" "$LEGAL"; do
    check_no_match '(^|\n)\.audit($|\n)' "$(op "$u" ls "$M/alpha")" "${u#dsfv_}: alpha does not list .audit"
    check_eq "ERR ENOENT" "$(op "$u" stat "$M/alpha/.audit/events.log")" \
        "${u#dsfv_}: alpha/.audit/events.log does not exist"
    recorded "${u#dsfv_}: looking up alpha/.audit" action=lookup user="$u" client=alpha \
        path=.audit outcome=denied errno=2
done
check_recorded

# ------------------------------------------------------------ 2. content

section "2. the files hold the records"
# The view is read first, then the store: every line of the view must be
# the line of the same record from the store, and none may be missing
# before the last one the view showed.
same_prefix() {
    local d=$1 view=$2 store=$3 n
    n=$(wc -l <"$view")
    if [ "$n" -gt 0 ] && head -n "$n" "$store" | cmp -s - "$view"; then
        pass "$d ($n lines, as the store has them)"
    else
        fail "$d" "view: $n lines; first difference:" \
            "$(head -n "$n" "$store" | diff - "$view" | head -6)"
    fi
}
for f in log csv jsonl; do
    as_user "$AUD" cat "$M/.audit/events.$f" >"$WORK/v.$f" 2>"$WORK/v.err"
    check_eq 0 "$?" "auditor: cat /.audit/events.$f"
done
for pair in log:table csv:csv jsonl:json; do
    f=${pair%%:*}
    "$DOSSIERCTL" audit query "$VAULT" --passphrase-file "$PASSFILE" \
        --format "${pair#*:}" >"$WORK/s.$f"
    same_prefix "/.audit/events.$f is the whole store" "$WORK/v.$f" "$WORK/s.$f"
done
check_eq "$(head -n 1 "$WORK/s.csv")" "$(head -n 1 "$WORK/v.csv")" "events.csv starts with the header"

as_user "$AUD" cat "$M/alpha/.audit/events.jsonl" >"$WORK/va.jsonl"
query "$WORK/sa.jsonl" --client alpha
same_prefix "alpha/.audit/events.jsonl is alpha's records" "$WORK/va.jsonl" "$WORK/sa.jsonl"
check_eq 0 "$(ar count "$WORK/va.jsonl" client!=alpha)" "alpha's view: no other client's record"
check_match '^[1-9]' "$(ar count "$WORK/va.jsonl" path=contract.pdf action=create)" \
    "alpha's view: the create of contract.pdf"
check_eq 0 "$(ar count "$WORK/va.jsonl" path~notes)" "alpha's view: nothing of beta's notes.txt"

as_user "$AUD" cat "$M/.audit/denied.log" >"$WORK/vd.log"
"$DOSSIERCTL" audit query "$VAULT" --passphrase-file "$PASSFILE" --outcome denied \
    >"$WORK/sd.log"
same_prefix "/.audit/denied.log is the denied records" "$WORK/vd.log" "$WORK/sd.log"
check_eq 0 "$(grep -vc ' outcome=denied' "$WORK/vd.log")" "denied.log: denials only"
check_match 'user=dsfv_sec' "$(grep 'contract.pdf' "$WORK/vd.log")" "denied.log: infosec's refused read"

check_match '^seq,time,id,outcome,reason,user,uid,roles,rule,policy,client,path,bytes,digest,' \
    "$(as_user "$AUD" cat "$M/alpha/.audit/destructions.csv")" \
    "destructions.csv: the header (nothing destroyed yet)"
check_eq 1 "$(as_user "$AUD" cat "$M/alpha/.audit/destructions.csv" | wc -l)" \
    "destructions.csv: nothing else"

vt=$(as_user "$AUD" cat "$M/.audit/verify.txt")
check_match 'result: +OK' "$vt" "verify.txt: the chain checks out"
check_match "signing key: +$(cut -d' ' -f2 "$VAULT/audit.pub")" "$vt" "verify.txt: names audit.pub's key"
check_match 'whole vault' "$(as_user "$AUD" cat "$M/alpha/.audit/verify.txt")" \
    "a client's verify.txt says the chain is the vault's"

# ------------------------------------------------------------ 3. reads recorded

section "3. reads of .audit are recorded"
query "$WORK/q.json"
check_match '^[1-9]' "$(ar count "$WORK/q.json" action=audit-read user="$AUD" client=- \
    path=.audit/events.csv outcome=allowed)" "audit-read of /.audit/events.csv"
check_match '^[1-9]' "$(ar count "$WORK/q.json" action=audit-read user="$AUD" client=alpha \
    path=.audit/events.jsonl outcome=allowed)" "audit-read of alpha/.audit/events.jsonl"
check_eq "$(wc -c <"$WORK/va.jsonl")" \
    "$(ar rows "$WORK/q.json" action=close client=alpha path=.audit/events.jsonl -- bytes | tail -n 1)" \
    "the close record has the bytes read"
check_match '^[1-9]' "$(ar count "$WORK/q.json" action=list user="$AUD" client=alpha path=.audit)" \
    "listing alpha/.audit is recorded"

# ------------------------------------------------------------ 4. read-only

section "4. nothing in .audit can be changed"
A=$M/.audit
refused() {
    local d=$1 out=$2 action=$3 client=$4 path=$5
    check_eq "ERR EROFS" "$out" "auditor: $d"
    recorded "auditor: $d" action="$action" user="$AUD" client="$client" path="$path" \
        outcome=denied errno=30 rule="read-only audit view"
}
refused "write events.log" "$(op "$AUD" open "$A/events.log" O_WRONLY write=x)" open - .audit/events.log
# (the kernel opens, then truncates: the refusal is the truncate's)
refused "truncate events.csv" "$(op "$AUD" open "$A/events.csv" 'O_RDONLY|O_TRUNC')" truncate - .audit/events.csv
refused "create a file" "$(op "$AUD" open "$M/alpha/.audit/new.txt" 'O_WRONLY|O_CREAT')" \
    create alpha .audit/new.txt
refused "unlink events.log" "$(op "$AUD" unlink "$A/events.log")" unlink - .audit/events.log
refused "mkdir" "$(op "$AUD" mkdir "$A/d")" mkdir - .audit/d
refused "rename a file" "$(op "$AUD" rename "$A/denied.log" "$A/x.log")" rename - .audit/denied.log
refused "chmod" "$(op "$AUD" chmod "$A/events.log" 600)" chmod - .audit/events.log
refused "setxattr" "$(op "$AUD" setxattr "$A/events.log" user.x y)" setxattr - .audit/events.log
# .audit itself sits in a folder the auditor may not write: the kernel's
# mode check refuses first, as for any such folder.
check_eq "ERR EACCES" "$(op "$AUD" rmdir "$M/alpha/.audit")" "auditor: rmdir alpha/.audit"
check_eq "ERR EACCES" "$(op "$AUD" rename "$M/beta/.audit" "$M/beta/old")" "auditor: rename beta/.audit"
check_eq "OK d 0755 0" "$(op "$AUD" stat "$M/beta/.audit")" "auditor: beta/.audit is still there"
check_eq "ERR EACCES" "$(op "$MGR" mkdir "$M/alpha/.audit")" "manager: mkdir alpha/.audit"
recorded "manager: mkdir alpha/.audit" action=mkdir user="$MGR" client=alpha path=.audit \
    outcome=denied errno=13
check_eq "ERR EACCES" "$(op "$MGR" rename "$M/alpha/contract.pdf" "$M/alpha/.audit")" \
    "manager: rename a file to alpha/.audit"
check_eq "OK" "$(op "$MGR" stat "$M/alpha/contract.pdf" | cut -c1-2)" "manager: the file is still there"
check_recorded

# ------------------------------------------------------------ 5. streams

section "5. tail -f, tail, grep, random offsets"
TLOG=$WORK/tail.out
as_user "$AUD" tail -n 0 -f "$M/alpha/.audit/events.log" >"$TLOG" 2>&1 9>&- &
TPID=$!
BG_PIDS+=("$TPID")
sleep 1.5
check_eq OK "$(op "$MGR" create "$M/alpha/fresh-1.txt")" "manager creates alpha/fresh-1.txt"
for _ in $(seq 1 50); do
    grep -q 'fresh-1.txt' "$TLOG" && break
    sleep 0.2
done
check_match 'action=create .*path=fresh-1.txt' "$(cat "$TLOG")" "tail -f shows the new create"
check_eq OK "$(op "$MGR" create "$M/alpha/fresh-2.txt")" "manager creates alpha/fresh-2.txt"
for _ in $(seq 1 50); do
    grep -q 'fresh-2.txt' "$TLOG" && break
    sleep 0.2
done
check_match 'path=fresh-2.txt' "$(cat "$TLOG")" "tail -f shows the next one too"
check_no_match 'truncated' "$(cat "$TLOG")" "tail -f never saw the file shrink"
kill "$TPID" 2>/dev/null
wait "$TPID" 2>/dev/null

F=$M/.audit/events.log
as_user "$AUD" cat "$F" >"$WORK/whole.log"
size=$(as_user "$AUD" stat -c %s "$F")
# The file grows between the two calls only by the record of the cat itself.
whole=$(wc -c <"$WORK/whole.log")
if [ "$size" -ge "$whole" ] && [ "$size" -le $((whole + 2000)) ]; then
    pass "stat size ($size) is the length read ($whole) plus at most the reads since"
else
    fail "stat size $size vs $whole bytes read"
fi
check_eq "$(head -c "$whole" <(as_user "$AUD" cat "$F") | tail -n 3)" \
    "$(tail -n 3 "$WORK/whole.log")" "a second read starts with the first"
tail3=$(as_user "$AUD" tail -n 3 "$F")
check_eq 3 "$(printf '%s\n' "$tail3" | wc -l)" "tail -n 3 gives three lines"
check_match 'action=audit-read .*path=.audit/events.log' "$(printf '%s\n' "$tail3" | tail -n 1)" \
    "tail -n: its own read is the newest record"
check_eq "$(grep -c 'action=create' "$WORK/whole.log")" \
    "$(as_user "$AUD" grep -c 'action=create' "$F")" "grep -c on the view"
bad=0
for off in 0 1 77 1000 4095 4096 $((whole / 3)) $((whole / 2 + 13)) $((whole - 50)); do
    [ "$off" -ge "$whole" ] && continue
    got=$(as_user "$AUD" dd if="$F" bs=1 skip="$off" count=40 status=none | od -An -tx1)
    want=$(dd if="$WORK/whole.log" bs=1 skip="$off" count=40 status=none | od -An -tx1)
    [ "$got" = "$want" ] || { bad=1; fail "read at offset $off" "got $got" "want $want"; }
done
[ "$bad" = 0 ] && pass "reads at 9 offsets agree with the whole read"

# verify.txt names an altered record (the store is edited under the daemon:
# the test's last step).
"$PY" - "$VAULT/audit.db" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE events SET user = 'mallory' WHERE seq = 3")
db.commit()
PYEOF
check_match 'result: +BAD at seq 3: record altered' "$(as_user "$AUD" cat "$M/.audit/verify.txt")" \
    "verify.txt: an altered record is named"

force_unmount "$M"
end_test
