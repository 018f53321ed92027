#!/usr/bin/env bash
# Alert rules ([alert NAME], policy/README.md) through a real mount, as
# real users, one user and one role per rule so that counts do not mix:
#
#   1. reads: the 5th file read in the window does not fire, the 6th does;
#      an off-hours rule whose hours are "all" never fires
#   2. clients: a 3rd client folder in the window fires, a 2nd does not
#   3. off-hours: one access outside the rule's hours fires
#   4. denials with response lockout, notify: the 4th refusal fires; the
#      notify command gets the alert as JSON; the user is then refused
#      everything, also after a remount; `dossierctl lockouts` lists them;
#      `dossierctl unlock` by a non-admin, or by an admin whose other
#      role denies admin, is refused and recorded, by an admin it works
#      and is recorded, and the user works again
#   5. mass-change: the 5th deletion or rename fires and notifies; the
#      notify command failing (exit 1) and hanging (killed after
#      notify_timeout) are recorded as failed notifications
#   6. sensitive: a 2nd read of an identity scan fires; other files do not
#      count
# Every alert is checked in .audit/alerts.log and in the audit store.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

init_test
if [ "$DEV_NATIVE" = 1 ]; then
    skip "alerts (need the real dossierfs; DEV_NATIVE=1)"
    finish
fi
require_tools useradd userdel groupadd groupdel setpriv fusermount3 pgrep
[ "$CMD_TIMEOUT" = 300 ] && CMD_TIMEOUT=60

R=dsfa_r C=dsfa_c O=dsfa_o D=dsfa_d M=dsfa_m S=dsfa_s ADM=dsfa_adm A2=dsfa_a2
MY_USERS=()
my_cleanup() {
    local m u
    for m in "${MOUNTS[@]}"; do force_unmount "$m"; done
    pkill -f "$WORK/notify-hang" 2>/dev/null
    for u in "${MY_USERS[@]}"; do
        user_exists "$u" && userdel -f "$u" >/dev/null 2>&1
        group_exists "$u" && groupdel "$u" >/dev/null 2>&1
    done
    MY_USERS=()
    return 0
}
# shellcheck disable=SC2317  # called from the EXIT trap
_al_exit() {
    local rc=$?
    my_cleanup
    cleanup
    exit "$rc"
}
trap _al_exit EXIT
for u in $R $C $O $D $M $S $ADM $A2; do
    user_exists "$u" && userdel -f "$u" >/dev/null 2>&1
    group_exists "$u" && groupdel "$u" >/dev/null 2>&1
    useradd -M -U -d /nonexistent -s /usr/sbin/nologin "$u" || { fail "useradd $u"; finish; }
    MY_USERS+=("$u")
    mkdir -p "$WORK/home/$u" && chown "$u:$u" "$WORK/home/$u"
done

# The notify commands: one that keeps what it is given, one that fails,
# one that never ends.
cat >"$WORK/notify-keep" <<EOF
#!/bin/sh
cat >>"$WORK/notified.jsonl"
EOF
printf '#!/bin/sh\nexit 1\n' >"$WORK/notify-fail"
printf '#!/bin/sh\nexec sleep 300\n' >"$WORK/notify-hang"
chmod 0755 "$WORK"/notify-*

H=$(date +%H)
if [ "$((10#$H))" -lt 12 ]; then NIGHT="20:00-23:00"; else NIGHT="03:00-05:00"; fi
POLICY_DIR=$WORK/policy
roles() {
    local rw="list, read, write, create, rename, delete, register"
    cat <<EOF
[role setup]
members = root
scope = all
allow = $rw, audit
[role readers]
members = $R
scope = all
allow = $rw
[role hoppers]
members = $C
scope = all
allow = $rw
[role nightowls]
members = $O
scope = all
allow = $rw
[role probers]
members = $D
scope = clients:c1
allow = list
[role cleaners]
members = $M
scope = all
allow = $rw
[role scanners]
members = $S
scope = all
allow = $rw
[role admins]
members = $ADM, $A2
scope = all
allow = list, admin
[role deputies]
members = $A2
scope = clients:c1
allow = list
deny = admin
EOF
}
alerts() {
    cat <<EOF
[settings]
notify = $WORK/$1
notify_timeout = 2s

[alert bulk-reads]
kind = reads
roles = readers
threshold = 5
window = 1m
response = record

[alert daytime]
kind = off-hours
roles = readers
days = all
hours = all
response = record

[alert many-clients]
kind = clients
roles = hoppers
threshold = 2
window = 1m
response = record

[alert night]
kind = off-hours
roles = nightowls
days = all
hours = $NIGHT
response = record

[alert probing]
kind = denials
roles = probers
threshold = 3
window = 1m
response = lockout, notify

[alert mass-delete]
kind = mass-change
roles = cleaners
threshold = 4
window = 1m
response = notify

[alert id-scans]
kind = sensitive
roles = scanners
files = id-scan*
threshold = 1
window = 1m
response = record
EOF
}
write_policy "$POLICY_DIR" roles.ini "$(roles)" &&
    write_policy "$POLICY_DIR" alerts.ini "$(alerts notify-keep)" || { fail "write the policy"; finish; }
mount_vault || { fail "mount"; finish; }
for c in c1 c2 c3 c4 c5; do
    mkdir "$MNT/$c"
    for i in 1 2 3 4 5 6 7 8; do echo "file $i of $c" >"$MNT/$c/f$i.txt"; done
done
for i in $(seq 1 15); do echo "$i" >"$MNT/c5/old$i.txt"; done
echo scan >"$MNT/c1/id-scan-front.jpg"
chmod a+rwX "$MNT"/c? "$MNT"/c?/*
# settle: an allowed access of root's commits the records still queued
settle() { ls "$MNT/c1" >/dev/null; }
alerts_log() { settle; cat "$MNT/.audit/alerts.log" 2>&1; }
count_alert() { alerts_log | grep -c "action=alert .*rule=\"alert $1\"" ; }
rd() { as_user "$1" cat "$2" >/dev/null 2>&1; }

section "1. reads"
for i in 1 2 3 4 5; do rd $R "$MNT/c2/f$i.txt"; done
check_eq 0 "$(count_alert bulk-reads)" "5 reads in the window: no alert (threshold 5)"
rd $R "$MNT/c2/f6.txt"
check_eq 1 "$(count_alert bulk-reads)" "the 6th read fires bulk-reads"
log=$(alerts_log)
check_match "user=$R .*action=alert client=c2 outcome=allowed .*rule=\"alert bulk-reads\" .*detail=\"kind=reads; class=exfiltration; count=6; threshold=5; window=60s; response=record\"" \
    "$log" "  recorded with the user, the client and the figures"
check_eq 0 "$(count_alert daytime)" "an off-hours rule with hours = all never fires"

section "2. clients"
as_user $C ls "$MNT/c1" "$MNT/c2" >/dev/null
check_eq 0 "$(count_alert many-clients)" "2 client folders: no alert"
as_user $C ls "$MNT/c3" >/dev/null
check_eq 1 "$(count_alert many-clients)" "a 3rd client folder fires many-clients"
check_match "user=$C .*rule=\"alert many-clients\" .*kind=clients; class=exfiltration; count=3" "$(alerts_log)" "  kind clients, count 3"

section "3. off-hours"
as_user $O ls "$MNT/c1" >/dev/null
check_eq 1 "$(count_alert night)" "an access outside $NIGHT fires night"
check_match "user=$O .*kind=off-hours; class=abnormal; count=1; threshold=0" "$(alerts_log)" "  kind off-hours, class abnormal"

section "4. denials, lockout, notify, unlock"
for i in 1 2 3; do rd $D "$MNT/c1/f$i.txt"; done
check_eq 0 "$(count_alert probing)" "3 refusals: no alert"
check_ok -m "the prober may still list c1" as_user $D ls "$MNT/c1"
rd $D "$MNT/c1/f4.txt"
check_eq 1 "$(count_alert probing)" "the 4th refusal fires probing"
log=$(alerts_log)
check_match "user=$D .*action=lockout .*rule=\"alert probing\" .*detail=\"user=$D\"" "$log" "  the lockout is recorded"
check_match "^$D	probing	[0-9]+$" "$(cat "$VAULT/lockouts")" "  and kept in the vault's lockout list"
for _ in $(seq 50); do [ -s "$WORK/notified.jsonl" ] && break; sleep 0.1; done
j=$(cat "$WORK/notified.jsonl" 2>&1)
check_match '^\{"rule":"probing","kind":"denials","class":"abuse","user":"'$D'","uid":[0-9]+,"client":"c1","count":4,"threshold":3,"window_s":60,"response":"notify,lockout","time":"[0-9T:.-]+Z","node":"[^"]+"\}$' \
    "$j" "  the notify command got the alert as one JSON line"
for _ in $(seq 30); do alerts_log | grep -q 'action=alert-notify .*rule="alert probing"' && break; sleep 0.1; done
check_match "action=alert-notify .*outcome=allowed .*rule=\"alert probing\" .*detail=\"status=exit 0\"" "$(alerts_log)" "  its success is recorded"
check_fail -m "the locked-out user may not even list c1" as_user $D ls "$MNT/c1"
settle
check_match "\"user\":\"$D\".*\"outcome\":\"denied\".*\"rule\":\"locked out by an alert \(dossierctl unlock\)\"" \
    "$("$DOSSIERCTL" audit query "$VAULT" --passphrase-file "$PASSFILE" --user $D --format json | tail -n 1)" \
    "  refused as locked out, and recorded so"
unmount_vault && mount_vault "$VAULT" "$MNT" >/dev/null || fail "remount"
check_fail -m "still locked out after a remount" as_user $D ls "$MNT/c1"
check_match "^$D	probing	" "$(as_user $ADM "$DOSSIERCTL" lockouts "$MNT" 2>&1)" "dossierctl lockouts (admin) lists the user"
# One user holding calls open without sending anything cannot lock the
# admin out of the control socket: past 4 calls at once, theirs are
# turned away (more than the 16 served at once are held here).
sock=/run/dossierfs/ctl-$(findmnt -n -o MAJ:MIN --mountpoint "$MNT" | tr -d " ").sock
as_user $R "$PY" -c '
import socket, sys, time
held, turned = [], 0
for _ in range(20):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(2)
    try:
        s.connect(sys.argv[1])
        held.append(s)
    except OSError:
        pass
end = time.time() + 5
while time.time() < end and turned < len(held) - 4:
    for s in held:
        s.settimeout(0.05)
        try:
            if b"too many calls of yours" in s.recv(65536):
                turned += 1
        except OSError:
            pass
print("turned away", turned, flush=True)
time.sleep(6)' "$sock" >"$WORK/held.out" 2>&1 &
held=$!
for _ in $(seq 100); do [ -s "$WORK/held.out" ] && break; sleep 0.1; done
check_eq "turned away 16" "$(cat "$WORK/held.out")" "a user holding 20 control calls has 16 of them turned away"
check_match "^$D	probing	" "$(as_user $ADM timeout 5 "$DOSSIERCTL" lockouts "$MNT" 2>&1)" "  meanwhile the admin's call is served"
wait "$held"
check_fail_with 'only an admin' -m "unlock by a non-admin is refused" as_user $R "$DOSSIERCTL" unlock "$MNT" $D
check_fail_with 'only an admin' -m "unlock by an admin whose other role denies admin is refused" \
    as_user $A2 "$DOSSIERCTL" unlock "$MNT" $D
check_match 'dsfa_d unlocked' "$(as_user $ADM "$DOSSIERCTL" unlock "$MNT" $D 2>&1)" "unlock by an admin"
check_ok -m "the user may list c1 again" as_user $D ls "$MNT/c1"
check_fail_with 'not locked out' -m "unlocking again: not locked out" as_user $ADM "$DOSSIERCTL" unlock "$MNT" $D
log=$(alerts_log)
check_match "user=$R .*action=unlock outcome=denied .*detail=\"user=$D; not an admin\"" "$log" "the refused unlock is recorded"
check_match "user=$A2 .*action=unlock outcome=denied .*rule=\"role deputies\" .*detail=\"user=$D; not an admin\"" "$log" \
    "  and the one refused by a deny, with the role that denied"
check_match "user=$ADM .*action=unlock outcome=allowed .*rule=\"role admins\" .*detail=\"user=$D\"" "$log" "the unlock is recorded"
check_eq "" "$(cat "$VAULT/lockouts")" "the lockout list is empty"

section "5. mass-change and failing notifications"
: >"$WORK/notified.jsonl"
for i in 1 2 3; do as_user $M rm "$MNT/c5/old$i.txt"; done
as_user $M mv "$MNT/c5/f1.txt" "$MNT/c5/g1.txt"
check_eq 0 "$(count_alert mass-delete)" "3 deletions and 1 rename: no alert"
as_user $M rm "$MNT/c5/old4.txt"
check_eq 1 "$(count_alert mass-delete)" "the 5th change fires mass-delete"
check_match "user=$M .*kind=mass-change; class=ransomware; count=5; threshold=4; window=60s; response=notify" "$(alerts_log)" "  kind mass-change, class ransomware"
for _ in $(seq 50); do [ -s "$WORK/notified.jsonl" ] && break; sleep 0.1; done
check_match '"rule":"mass-delete"' "$(cat "$WORK/notified.jsonl")" "  notified"
# A new policy starts the counts again.
# (the daemon reloads within a second of a change in the directory)
reload_with() {
    write_policy "$POLICY_DIR" alerts.ini "$(alerts "$1")"
    sleep 2.5
}
reload_with notify-fail
for i in 5 6 7 8 9; do as_user $M rm "$MNT/c5/old$i.txt"; done
for _ in $(seq 50); do alerts_log | grep -q 'action=alert-notify .*outcome=error' && break; sleep 0.1; done
check_match "user=$M .*action=alert-notify .*outcome=error .*rule=\"alert mass-delete\" .*detail=\"status=exit 1\"" "$(alerts_log)" \
    "a notify command that exits 1: recorded as failed"
reload_with notify-hang
t0=$(date +%s)
for i in 10 11 12 13 14; do as_user $M rm "$MNT/c5/old$i.txt"; done
for _ in $(seq 100); do alerts_log | grep -q 'status="timed out\|status=timed' && break; sleep 0.1; done
check_match "action=alert-notify .*outcome=error .*rule=\"alert mass-delete\" .*timed out after 2 s" "$(alerts_log)" \
    "a notify command that hangs: killed after notify_timeout, recorded as failed"
check_eq 1 "$(( $(date +%s) - t0 < 15 ))" "  within seconds"
check_eq "" "$(pgrep -f "$WORK/notify-hang")" "  and no process of it is left"

section "6. sensitive"
rd $S "$MNT/c1/f1.txt"
rd $S "$MNT/c1/f2.txt"
rd $S "$MNT/c1/id-scan-front.jpg"
check_eq 0 "$(count_alert id-scans)" "one identity scan and two other files: no alert"
rd $S "$MNT/c1/id-scan-front.jpg"
check_eq 1 "$(count_alert id-scans)" "a 2nd identity scan fires id-scans"
check_match "user=$S .*client=c1 .*kind=sensitive; class=exfiltration; count=2; threshold=1" "$(alerts_log)" "  kind sensitive"

section "the store"
q=$("$DOSSIERCTL" audit query "$VAULT" --passphrase-file "$PASSFILE" --action alert --format csv 2>&1)
check_eq 8 "$(($(wc -l <<<"$q") - 1))" "8 alert records in the store: one per rule fired, mass-delete three times"
check_ok -m "the audit chain verifies" "$DOSSIERCTL" audit verify "$VAULT"
unmount_vault
my_cleanup
finish
