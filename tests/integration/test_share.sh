#!/usr/bin/env bash
# Approved sharing with a third party, end to end, through a real mount,
# as real users with their own roles:
#
#   alice  manager: list, read, write, create, register, share  (asks)
#   bob    manager too, without admin                  (may not decide)
#   carol  manager and infosec (list, share, admin)    (decides)
#
#   1. the recipient's key pair (share keygen): modes, no overwrite
#   2. alice asks to send two files of a client to the bank; a request for
#      a file she may not read, or a client she may not share, is refused
#   3. refusals, each recorded as denied: export before approval, bob
#      deciding, carol approving her own request; a rejected request
#      cannot be exported
#   4. carol approves; alice exports: the package holds no name in the
#      clear, the bank opens it with its secret key against the vault's
#      audit.pub, the files are byte-equal; a second export is refused;
#      one byte changed in transit and the bank's open fails, writing
#      nothing
#   5. receipts: one signed by another key, or altered, is refused; the
#      bank's is recorded, once
#   6. the audit store holds every step (share-request, -approve, -reject,
#      -export, -file, -receipt, with the refusals as denied), and the
#      vault's request store shows no client or file name
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

init_test
if [ "$DEV_NATIVE" = 1 ]; then
    skip "sharing (needs the real dossierfs; DEV_NATIVE=1)"
    finish
fi
require_tools setpriv fusermount3 sha256sum
setup_users
A=dsft_alice B=dsft_bob C=dsft_carol
POLICY_DIR=$WORK/policy
write_policy "$POLICY_DIR" roles.ini "[role manager]
members = $A, $B, $C
scope = all
allow = list, read, write, create, register, share

[role infosec]
members = $C
scope = all
allow = list, share, admin

[role auditor]
members = root
scope = all
allow = list, audit

[rule no-secret-notes]
roles = manager
effect = deny
permissions = read
files = secret*" || { fail "write the policy"; finish; }
mount_vault || { fail "mount"; finish; }
check_ok -m "alice makes the client folder and its files" as_user_sh "$A" "
    mkdir '$MNT/Dupont Marie' '$MNT/Dupont Marie/scans' &&
    head -c 300000 /dev/urandom >'$MNT/Dupont Marie/contract.pdf' &&
    head -c 70000 /dev/urandom >'$MNT/Dupont Marie/scans/id-card.jpg' &&
    echo hidden >'$MNT/Dupont Marie/secret-notes.txt'"
ctl() { local u=$1; shift; as_user "$u" "$DOSSIERCTL" share "$@"; }
files_in() { (cd "$1" 2>/dev/null && find . -type f -printf '%P %s\n' | sort); }
query() { "$DOSSIERCTL" audit query "$VAULT" --passphrase-file "$PASSFILE" --format csv "$@" 2>&1; }
K=$WORK/bank          # the recipient's machine
mkdir -p "$K"

section "1. the recipient's keys"
out=$("$DOSSIERCTL" share keygen "$K" bank 2>&1)
check_match '^fingerprint: [0-9a-f]{32}$' "$out" "keygen prints the fingerprint"
FPR=$(sed -n 's/^fingerprint: //p' <<<"$out")
check_eq "644 600" "$(stat -c %a "$K/bank.pub") $(stat -c %a "$K/bank.key")" "public 0644, secret 0600"
check_fail_with 'cannot make the key pair' -m "keygen never overwrites a key pair" "$DOSSIERCTL" share keygen "$K" bank
"$DOSSIERCTL" share keygen "$K" other >/dev/null
cp "$K/bank.pub" "$K/other.pub" "$WORK/home/$A/"
cp "$K/bank.pub" "$WORK/home/$C/"
chmod 0644 "$WORK/home/$A"/*.pub "$WORK/home/$C"/*.pub

section "2. requests"
out=$(ctl "$A" request "$MNT" --client "Dupont Marie" --to "$WORK/home/$A/bank.pub" \
    --reason "mortgage file for the bank" contract.pdf scans/id-card.jpg 2>&1)
check_match '^request 1: 2 files of Dupont Marie for recipient '"$FPR" "$out" "alice asks: request 1"
check_fail_with 'may not read one of the files' -m "a file alice may not read cannot be asked for" \
    ctl "$A" request "$MNT" --client "Dupont Marie" --to "$WORK/home/$A/bank.pub" --reason r secret-notes.txt
check_fail_with 'No such file' -m "a file that does not exist cannot be asked for" \
    ctl "$A" request "$MNT" --client "Dupont Marie" --to "$WORK/home/$A/bank.pub" --reason r nothing.pdf
check_fail_with 'not a share public key' -m "a recipient key that is not one is refused" \
    ctl "$A" request "$MNT" --client "Dupont Marie" --to /etc/hostname --reason r contract.pdf
out=$(ctl "$C" request "$MNT" --client "Dupont Marie" --to "$WORK/home/$C/bank.pub" --reason "carol's own" contract.pdf 2>&1)
check_match '^request 2:' "$out" "carol (manager too) asks: request 2"
check_match '^request 3:' "$(ctl "$A" request "$MNT" --client "Dupont Marie" --to "$WORK/home/$A/other.pub" --reason "to be rejected" contract.pdf 2>&1)" "request 3"
check_match '^request 4:' "$(ctl "$A" request "$MNT" --client "Dupont Marie" --to "$WORK/home/$A/other.pub" --reason "for the other key" contract.pdf 2>&1)" "request 4"

section "3. refusals"
check_fail_with 'is requested, not approved' -m "export before approval is refused" \
    ctl "$A" export "$MNT" 1 --out "$WORK/home/$A/early.pkg"
check_eq 1 "$([ ! -e "$WORK/home/$A/early.pkg" ] && echo 1)" "  and leaves no package file"
check_fail_with 'may not approve' -m "bob (no admin) cannot approve" ctl "$B" approve "$MNT" 1
check_fail_with 'cannot approve or reject their own' -m "carol cannot approve her own request" ctl "$C" approve "$MNT" 2
check_fail_with 'no request 99' -m "an unknown request" ctl "$C" approve "$MNT" 99
check_match 'request 3 rejected' "$(ctl "$C" reject "$MNT" 3 --note "no legal basis" 2>&1)" "carol rejects request 3"
check_fail_with 'is rejected, not approved' -m "a rejected request cannot be exported" \
    ctl "$A" export "$MNT" 3 --out "$WORK/home/$A/r3.pkg"
check_fail_with 'is rejected already' -m "nor approved afterwards" ctl "$C" approve "$MNT" 3

section "4. approval, export, transit, opening"
check_match 'request 1 approved' "$(ctl "$C" approve "$MNT" 1 2>&1)" "carol approves request 1"
check_match 'request 4 approved' "$(ctl "$C" approve "$MNT" 4 2>&1)" "and request 4"
# A pipe as the output (which nobody might read) is refused: only a
# regular file, so that no call can hang the daemon.
sock=/run/dossierfs/ctl-$(findmnt -n -o MAJ:MIN --mountpoint "$MNT" | tr -d " ").sock
out=$(as_user "$A" "$PY" -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
r, w = os.pipe()
socket.send_fds(s, [b"op=share-export\nid=1\n"], [w])
print(s.recv(65536).decode())' "$sock" 2>&1)
check_match 'message=the package must go to a regular file' "$out" "export into a pipe: refused"
out=$(ctl "$A" export "$MNT" 1 --out "$WORK/home/$A/p1.pkg" --sender-key "$WORK/home/$A/vault.pub" 2>&1)
check_match 'package [0-9a-f]{32} written' "$out" "alice exports request 1"
check_eq "$(cat "$VAULT/audit.pub")" "$(cat "$WORK/home/$A/vault.pub")" "the signing key given is the vault's audit.pub"
check_eq "600 $A" "$(stat -c '%a %U' "$WORK/home/$A/p1.pkg")" "the package is alice's, mode 0600"
check_eq 0 "$(grep -ac -e Dupont -e contract -e id-card "$WORK/home/$A/p1.pkg")" "no client or file name in the clear"
check_fail_with 'is exported, not approved' -m "a second export is refused" \
    ctl "$A" export "$MNT" 1 --out "$WORK/home/$A/again.pkg"
ctl "$A" export "$MNT" 4 --out "$WORK/home/$A/p4.pkg" >/dev/null 2>&1
cp "$WORK/home/$A/p1.pkg" "$WORK/home/$A/p4.pkg" "$WORK/home/$A/vault.pub" "$K/"
out=$("$DOSSIERCTL" share open "$K/p1.pkg" --key "$K/bank.key" --out "$K/in" --receipt "$K/p1.receipt" --sender "$K/vault.pub" 2>&1)
check_match '2 files checked' "$out" "the bank opens the package, signed by the vault"
check_match 'request 1, client Dupont Marie' "$out" "  it names the request and the client"
check_eq "contract.pdf 300000
scans/id-card.jpg 70000" "$(files_in "$K/in")" "  exactly the two files"
for f in contract.pdf scans/id-card.jpg; do
    check_eq "$(as_user_sh "$A" "sha256sum <'$MNT/Dupont Marie/$f'" 2>&1)" "$(sha256sum <"$K/in/$f")" "  $f byte-equal"
done
cp "$K/p1.pkg" "$K/bad.pkg"
printf '\x55' | dd of="$K/bad.pkg" bs=1 seek=4000 conv=notrunc status=none
check_fail_with 'does not check' -m "one byte changed in transit: the bank's open fails" \
    "$DOSSIERCTL" share open "$K/bad.pkg" --key "$K/bank.key" --out "$K/bad" --receipt "$K/bad.receipt" --sender "$K/vault.pub"
check_eq "" "$(files_in "$K/bad")" "  nothing written"
"$DOSSIERCTL" share open "$K/p4.pkg" --key "$K/other.key" --out "$K/in4" --receipt "$K/p4.receipt" --sender "$K/vault.pub" >/dev/null 2>&1
cp "$K/p1.receipt" "$K/p4.receipt" "$WORK/home/$A/"
sed 's/^received=\(....\)/received=1999/' "$K/p1.receipt" >"$WORK/home/$A/altered.receipt"
chmod 0644 "$WORK/home/$A"/*.receipt

section "5. receipts"
check_fail_with 'receipt refused: not signed by the recipient' -m "a receipt signed by another key is refused" \
    ctl "$A" receipt "$MNT" 1 "$WORK/home/$A/p4.receipt"
check_fail_with 'receipt refused' -m "an altered receipt is refused" \
    ctl "$A" receipt "$MNT" 1 "$WORK/home/$A/altered.receipt"
check_fail_with 'no package was sent' -m "no receipt for a request not exported" \
    ctl "$A" receipt "$MNT" 3 "$WORK/home/$A/p1.receipt"
check_match 'receipt of package [0-9a-f]{32} checked and recorded' \
    "$(ctl "$A" receipt "$MNT" 1 "$WORK/home/$A/p1.receipt" 2>&1)" "the bank's receipt is recorded"
check_fail_with 'recorded already' -m "only once" ctl "$A" receipt "$MNT" 1 "$WORK/home/$A/p1.receipt"
out=$(ctl "$A" list "$MNT" 2>&1)
check_match $'^1\treceived\tDupont Marie\tdsft_alice\t'"$FPR"$'\t2\tdsft_carol\tmortgage file for the bank$' "$out" "share list: request 1 received"
check_match $'^3\trejected\t' "$out" "share list: request 3 rejected"

section "6. the record"
q=$(query --action share-request)
check_eq 4 "$(grep -c ',share-request,.*,allowed,' <<<"$q")" "four requests recorded"
check_match ',dsft_alice,.*,share-request,Dupont Marie,"",mortgage file for the bank,allowed,.*id=1; recipient='"$FPR"'; files=2' "$q" \
    "request 1: client, reason and recipient"
check_match ',share-request,Dupont Marie,"",r,denied,13,rule no-secret-notes,.*not allowed to read a file' "$q" \
    "the request for a file alice may not read: denied, with the rule"
q=$(query --action share-approve)
check_match ',dsft_bob,.*,denied,.*id=1; not allowed to decide' "$q" "bob's try: denied"
check_match ',dsft_carol,.*,denied,.*id=2; self-approval refused' "$q" "carol's self-approval: denied"
check_eq 2 "$(grep -c ',allowed,' <<<"$q")" "two approvals"
check_match ',dsft_carol,.*,allowed,.*id=3;' "$(query --action share-reject)" "the rejection"
q=$(query --action share-export)
check_match ',dsft_alice,.*,denied,.*id=1; not approved' "$q" "the export before approval: denied"
check_match ',dsft_alice,.*,denied,.*id=3; rejected' "$q" "the export of the rejected request: denied"
check_match ',allowed,.*,370000,"?id=1; package=[0-9a-f]{32}; recipient='"$FPR"'; files=2' "$q" "the export: allowed, 370000 bytes"
q=$(query --action share-file)
check_match 'Dupont Marie,contract.pdf,.*,allowed,.*,300000,' "$q" "share-file: contract.pdf"
check_match 'Dupont Marie,scans/id-card.jpg,.*,allowed,.*,70000,' "$q" "share-file: scans/id-card.jpg"
q=$(query --action share-receipt)
check_eq 2 "$(grep -c ',error,.*receipt refused' <<<"$q")" "the two bad receipts: error"
check_eq 1 "$(grep -c ',allowed,' <<<"$q")" "one receipt recorded"
csv=$(cat "$MNT/.audit/shares.csv" 2>&1)
check_match '^seq,time,id,step,outcome,user,uid,roles,client,path,reason,recipient,package,files,bytes,rule,detail' "$csv" \
    ".audit/shares.csv: the header"
check_match '[0-9]+,[^,]+,1,request,allowed,dsft_alice,[0-9]+,manager,Dupont Marie,,mortgage file for the bank,'"$FPR"',,2,,role manager,' "$csv" \
    "  request 1: who, client, reason, recipient, files"
check_match ',2,approve,denied,dsft_carol,.*self-approval refused' "$csv" "  the self-approval, denied"
check_match ',1,export,allowed,dsft_alice,.*,'"$FPR"',[0-9a-f]{32},2,370000,' "$csv" "  the export: package, files, bytes"
check_match ',1,file,allowed,dsft_alice,.*,Dupont Marie,scans/id-card.jpg,mortgage file for the bank,,[0-9a-f]{32},,70000,' "$csv" "  each file sent"
check_match ',1,receipt,allowed,' "$csv" "  the receipt"
check_eq "$(query | grep -c ',share-')" "$(($(wc -l <<<"$csv") - 1))" "  one row per share-* record of the store"
check_eq "" "$(cat "$MNT/Dupont Marie/.audit/alerts.log" 2>&1)" ".audit/alerts.log: empty (no alert rules)"
check_eq 0 "$(grep -rac -e Dupont -e contract -e mortgage "$VAULT/shares" | awk -F: '{ s += $NF } END { print s + 0 }')" \
    "the vault's request store holds no client, file name or reason in the clear"
check_ok -m "the audit chain verifies" "$DOSSIERCTL" audit verify "$VAULT"
unmount_vault
finish
