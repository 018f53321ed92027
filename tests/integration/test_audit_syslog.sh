#!/usr/bin/env bash
# Every audit record also goes to syslog, one structured line each; a
# failed unlock reaches the store at the next mount.
#
# Needs /dev/log free: the test listens there itself (a machine running a
# syslog daemon has it taken; the test then skips rather than read the
# system's logs).
. "$(dirname "$0")/lib.sh"

init_test
if [ "$DEV_NATIVE" = 1 ]; then
    skip "audit to syslog (needs the real dossierfs; DEV_NATIVE=1)"
    finish
fi
# A socket nobody listens on (left by a killed run) is not a syslog daemon.
if [ -S /dev/log ] && ! "$PY" -c 'import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).connect("/dev/log")' 2>/dev/null; then
    rm -f /dev/log
fi
if [ -e /dev/log ]; then
    skip "audit to syslog: /dev/log belongs to a syslog daemon here"
    finish
fi

LOG=$WORK/syslog.txt
# 9>&-: the listener must not hold the harness's test lock.
"$PY" - "$LOG" 9>&- <<'PYEOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
os.chmod("/dev/log", 0o666)
with open(sys.argv[1], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536) + b"\n")
PYEOF
LISTENER=$!
syslog_cleanup() {
    kill "$LISTENER" 2>/dev/null
    wait "$LISTENER" 2>/dev/null
    rm -f /dev/log
}
trap 'syslog_cleanup; _on_exit' EXIT
for _ in $(seq 1 50); do [ -S /dev/log ] && break; sleep 0.1; done
check_ok -m "a listener on /dev/log" test -S /dev/log

# (mount_vault sets MNT and VAULT, so it does not run in check_ok's subshell)
if mount_vault; then pass "mount"; else fail "mount"; syslog_cleanup; finish; fi
mkdir "$MNT/Syslog-Client"
echo hello >"$MNT/Syslog-Client/greeting.txt"
cat "$MNT/Syslog-Client/greeting.txt" >/dev/null
check_ok -m "unmount" unmount_vault "$MNT"
sleep 0.5

lines=$(grep -a 'audit: ' "$LOG")
check_match 'dossierfs\[[0-9]+\]: audit: .* seq=1 .*action=mount' "$lines" "the mount is in syslog, with its sequence number"
check_match 'seq=[0-9]+ .*user=root .*action=create client=Syslog-Client path=greeting.txt outcome=allowed' "$lines" \
    "the create is in syslog: user, action, client, path, outcome"
check_match 'action=open client=Syslog-Client path=greeting.txt outcome=allowed rule="role everything"' "$lines" \
    "the open is in syslog with the rule that allowed it"
check_match 'action=unmount' "$lines" "the unmount is in syslog"
# LOG_AUTHPRIV | LOG_INFO = 10 * 8 + 6 = 86
check_match '^<86>' "$(grep -a 'audit: ' "$LOG" | head -n 1)" "sent as authpriv.info"
n_store=$("$DOSSIERCTL" audit query "$VAULT" --passphrase-file "$PASSFILE" --format json | wc -l)
n_log=$(grep -ac 'audit: ' "$LOG")
check_eq "$n_store" "$n_log" "one syslog line per stored record ($n_store)"

section "a failed unlock is recorded by the next mount"
printf 'not the passphrase\n' >"$WORK/wrong"
check_fail -m "a mount with a wrong passphrase fails" "$DOSSIERFS" "$VAULT" "$MNT" \
    -o "policy=$(open_policy)" --passphrase-file "$WORK/wrong"
if mount_vault "$VAULT" "$MNT"; then pass "mount again"; else fail "mount again"; fi
check_ok -m "unmount" unmount_vault "$MNT"
q=$("$DOSSIERCTL" audit query "$VAULT" --passphrase-file "$PASSFILE" --action unlock-failed --format json)
check_eq 1 "$(printf '%s\n' "$q" | grep -c .)" "exactly one unlock-failed record"
check_match '"errno": *13' "$q" "  with errno EACCES"
check_match '"outcome": *"error"' "$q" "  as an error"
check_fail -m "the pending note is gone once recorded" test -e "$VAULT/audit.pending"
check_ok -m "the chain verifies" "$DOSSIERCTL" audit verify "$VAULT"
syslog_cleanup
finish
