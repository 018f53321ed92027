#!/usr/bin/env bash
# Retention periods and legal holds (policy/README.md), through a real
# mount, as real users: the example's roles.ini and rules.ini plus a
# test-only policy (zz-ret.ini) with clients closed long ago, a held
# client, a team under a [hold], a [retention] counted from the last
# change, and a records role without business hours.
#
#   1. a hold refuses every kind of destruction with EPERM, recorded with
#      the hold that decided: unlink, rename over a file, a truncation that
#      cuts data, rmdir; from the client's own `hold` and from a [hold] on
#      its team; the files stay intact
#   2. `dossierctl retention due MNT --as USER` lists exactly the files past
#      retention (from the closing date, and from the last change), the
#      held ones, and counts the kept ones
#   3. `retention run` as a user whose role may not delete (the auditor)
#      fails on each due file (EACCES, recorded) and exits 1; as the
#      records role it deletes them: each destroyed with reason=retention
#      in its record, the held and kept files untouched; a second `due`
#      finds nothing
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

init_test
if [ "$DEV_NATIVE" = 1 ]; then
    skip "retention (needs the real dossierfs; DEV_NATIVE=1)"
    finish
fi
require_tools useradd userdel groupadd groupdel setpriv fusermount3 touch truncate
[ "$CMD_TIMEOUT" = 300 ] && CMD_TIMEOUT=60
EXAMPLE=$TESTS_INT_DIR/../../policy

# ------------------------------------------------------------ users, cleanup

MGR=dsfr_mgr     # client-manager, team north: owns every client here
REC=dsfr_rec     # records-anytime (test role): list, read, delete
AUD=dsfr_aud     # auditor: list and audit, never delete
ROLE_GROUPS=(dossier-managers dossier-audit dossier-north)
MY_USERS=()
MY_GROUPS=()

my_cleanup() {
    local m u g
    for m in "${MOUNTS[@]}"; do force_unmount "$m"; done
    for u in "${MY_USERS[@]}"; do
        user_exists "$u" && userdel -f "$u" >/dev/null 2>&1
        group_exists "$u" && groupdel "$u" >/dev/null 2>&1
    done
    for g in "${MY_GROUPS[@]}"; do
        group_exists "$g" && groupdel "$g" >/dev/null 2>&1
    done
    MY_USERS=() MY_GROUPS=()
    return 0
}
# shellcheck disable=SC2317  # called from the EXIT trap
_rt_exit() {
    local rc=$?
    my_cleanup
    cleanup
    exit "$rc"
}
trap _rt_exit EXIT
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
mkuser "$MGR" dossier-managers dossier-north || ok=0
mkuser "$REC" || ok=0
mkuser "$AUD" dossier-audit || ok=0
if [ "$ok" != 1 ]; then
    fail "create the test users"
    end_test
fi

cp "$FSOP" "$WORK/fsop.py" && chmod 0644 "$WORK/fsop.py"
AR=$TESTS_INT_DIR/ar.py
ar() { "$PY" "$AR" "$@"; }
op() {
    local u=$1
    shift
    as_user "$u" "$PY" "$WORK/fsop.py" "$@" 2>&1
}
query() {
    "$DOSSIERCTL" audit query "$VAULT" --passphrase-file "$PASSFILE" \
        --format json >"$WORK/q.json" 2>"$WORK/q.err"
}
# commit: denials are queued; an allowed access commits them
commit() { op "$MGR" read "$M/freshco/new.txt" >/dev/null; }

POL=$WORK/policy
write_policy "$POL" roles.ini "$(cat "$EXAMPLE/roles.ini")" &&
    write_policy "$POL" rules.ini "$(cat "$EXAMPLE/rules.ini")" &&
    write_policy "$POL" zz-ret.ini "[role records-anytime]
members = $REC
scope = all
allow = list, read, delete

[team north]
members = @dossier-north

[client oldco]
owner = $MGR
closed = 2015-06-30
retention = 5y

[client heldco]
owner = $MGR
closed = 2001-01-01
retention = 1y
hold = litigation 2024-117

[client teamco]
owner = $MGR
team = north
closed = 2001-01-01
retention = 1y

[client freshco]
owner = $MGR

[hold north-inspection]
scope = team:north
reason = tax inspection 2026

[retention scratch]
scope = clients:freshco
period = 7d
from = changed" || { fail "write the policy"; end_test; }
# shellcheck disable=SC2034  # read by mount_vault
POLICY_DIR=$POL
if ! mount_vault; then
    fail "mount"
    end_test
fi
M=$MNT

section "setup: four clients, files of every kind"
# Folders and files open to all by their modes: the policy alone decides
# (the records role deletes in folders the manager owns).
umask 000
for c in oldco heldco teamco freshco; do
    check_eq OK "$(op "$MGR" mkdir "$M/$c")" "manager registers $c"
done
check_eq OK "$(op "$MGR" mkdir "$M/oldco/sub")" "manager: oldco/sub"
for f in oldco/a.txt oldco/sub/b.txt heldco/h.txt heldco/tmp.txt teamco/t.txt \
    freshco/new.txt freshco/old.txt; do
    check_eq "OK wrote=9" "$(op "$MGR" open "$M/$f" 'O_WRONLY|O_CREAT' write=content-$((RANDOM % 9)))" \
        "manager writes $f"
done
check_ok -m "freshco/old.txt last changed 10 days ago" \
    as_user "$MGR" touch -d '10 days ago' "$M/freshco/old.txt"

# ------------------------------------------------------------ 1. holds

section "1. a legal hold refuses every destruction (EPERM), recorded"
H=$M/heldco
check_eq "ERR EPERM" "$(op "$MGR" unlink "$H/h.txt")" "unlink under the client's hold"
check_eq "ERR EPERM" "$(op "$MGR" rename "$H/tmp.txt" "$H/h.txt")" "rename over a file under hold"
check_eq "ERR EPERM" "$(op "$MGR" ftruncate "$H/h.txt" 2)" "a truncation that cuts data under hold"
check_eq "ERR EPERM" "$(op "$MGR" rmdir "$H")" "rmdir of the held client folder"
check_eq "ERR EPERM" "$(op "$MGR" unlink "$M/teamco/t.txt")" "unlink under a [hold] on the team"
check_eq "OK b'content-" "$(op "$MGR" read "$H/h.txt" | cut -c1-13)" "the held file is intact"
check_eq OK "$(op "$MGR" stat "$H/tmp.txt" | cut -c1-2)" "the would-be replacement is still there"
check_eq "OK b'content-" "$(op "$MGR" read "$M/teamco/t.txt" | cut -c1-13)" "the team's file is intact"
commit
query
for a in unlink:h.txt replace:h.txt truncate:h.txt rmdir:; do
    check_eq 1 "$(ar count "$WORK/q.json" "action=${a%%:*}" client=heldco "path=${a#*:}" \
        outcome=denied errno=1 "rule=legal hold (client heldco)" "detail=litigation 2024-117")" \
        "recorded: ${a%%:*} refused by the client's hold"
done
check_eq 1 "$(ar count "$WORK/q.json" action=unlink client=teamco path=t.txt outcome=denied \
    errno=1 "rule=legal hold (hold north-inspection)" "detail=tax inspection 2026")" \
    "recorded: the unlink refused by the team's hold"
check_eq 0 "$(ar count "$WORK/q.json" action=destroy)" "nothing destroyed"

# ------------------------------------------------------------ 2. due

section "2. retention due"
due() {
    "$DOSSIERCTL" retention due "$M" --as "$1" --policy "$POL" 2>&1
}
out=$(due "$REC")
check_eq 0 "$?" "retention due exits 0"
check_eq "due   freshco/old.txt
due   oldco/a.txt
due   oldco/sub/b.txt" "$(printf '%s\n' "$out" | grep '^due' | cut -d: -f1 | sort)" \
    "due: the files past retention (closing date and last change)"
check_eq "held  heldco/h.txt
held  heldco/tmp.txt
held  teamco/t.txt" "$(printf '%s\n' "$out" | grep '^held' | cut -d: -f1 | sort)" \
    "due: the held files"
check_match 'oldco/a.txt: retention \(client oldco\) ended on 2020-06-30' "$out" \
    "due: says which period ended, and when"
check_match 'freshco/old.txt: retention \(retention scratch\) ended' "$out" \
    "due: the [retention] counted from the last change"
check_match '^3 past retention, 3 held, 1 kept$' "$(printf '%s\n' "$out" | tail -n 1)" \
    "due: the counts (freshco/new.txt kept)"
# The KPI report counts the same files, walking the mount as the user.
rep=$("$DOSSIERCTL" report "$VAULT" --passphrase-file "$PASSFILE" --policy "$POL" \
    --since "$(date -d yesterday +%F)" --until "$(date -d tomorrow +%F)" --format csv \
    --mount "$M" --as "$REC" 2>&1)
check_match '^retention,overdue,,3'$'\r''?$' "$rep" "dossierctl report --mount --as: 3 files past retention, as due says"

# ------------------------------------------------------------ 3. run

section "3. retention run"
out=$("$DOSSIERCTL" retention run "$M" --as "$AUD" --policy "$POL" 2>&1)
check_eq 1 "$?" "run as the auditor (no delete) exits 1"
check_eq 3 "$(printf '%s\n' "$out" | grep -c '^FAIL .*Permission denied')" \
    "run as the auditor: each due file refused"
check_eq "OK b'content-" "$(op "$MGR" read "$M/oldco/a.txt" | cut -c1-13)" "oldco/a.txt still there"
out=$("$DOSSIERCTL" retention run "$M" --as "$REC" --policy "$POL" 2>&1)
check_eq 0 "$?" "run as the records role exits 0"
check_match '^3 past retention: 3 deleted' "$(printf '%s\n' "$out" | tail -n 1)" "run: three deleted"
for f in oldco/a.txt oldco/sub/b.txt freshco/old.txt; do
    check_eq "ERR ENOENT" "$(op "$MGR" stat "$M/$f")" "run: $f is gone"
done
for f in heldco/h.txt teamco/t.txt freshco/new.txt; do
    check_eq OK "$(op "$MGR" stat "$M/$f" | cut -c1-2)" "run: $f stays"
done
check_ok -m "the eraser has finished" wait_erased
commit
query
check_eq 3 "$(ar count "$WORK/q.json" action=unlink user="$AUD" outcome=denied errno=13)" \
    "recorded: the auditor's three refused deletions"
for f in oldco:a.txt oldco:sub/b.txt freshco:old.txt; do
    check_eq 1 "$(ar count "$WORK/q.json" action=destroy "client=${f%%:*}" "path=${f#*:}" \
        user="$REC" outcome=allowed "detail~reason.retention;")" \
        "recorded: ${f/:/\/} destroyed, reason retention, by $REC"
done
check_eq 3 "$(ar count "$WORK/q.json" action=destroy)" "nothing else destroyed"
check_match '^0 past retention, 3 held, 1 kept$' "$(due "$REC" | tail -n 1)" \
    "a second due finds nothing"

force_unmount "$M"
end_test
