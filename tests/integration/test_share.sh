#!/usr/bin/env bash
# dossierctl share keygen and share open: the recipient's side of
# approved sharing, run as an unprivileged user created by the test. The
# packages come from tests/sharepack (the sender's side is not in
# dossierctl yet); each is opened, checked file by file against what went
# in, and refused whole when altered, cut, for another recipient or from
# another sender.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

init_test
if [ "$DEV_NATIVE" = 1 ]; then
    skip "share tools (need the real dossierctl; DEV_NATIVE=1)"
    finish
fi
SHAREPACK=$TESTS_INT_DIR/../sharepack
if [ ! -x "$SHAREPACK" ]; then
    fail "tests/sharepack is built (make tests/sharepack)"
    finish
fi
setup_users
U=dsft_alice
R=$WORK/home/$U
ctl() { as_user "$U" "$DOSSIERCTL" share "$@"; }
# files_in DIR: "name size" of every regular file under DIR, sorted
files_in() { (cd "$1" && find . -type f -printf '%P %s\n' | sort); }

section "keygen"
out=$(ctl keygen "$R" bank 2>&1)
check_match '^fingerprint: [0-9a-f]{32}$' "$out" "keygen prints the fingerprint"
check_eq "644 $U" "$(stat -c '%a %U' "$R/bank.pub")" "bank.pub: mode 0644, the user's"
check_eq "600 $U" "$(stat -c '%a %U' "$R/bank.key")" "bank.key: mode 0600, the user's"
check_match '^dossierfs-share-pub-v1 [0-9a-f]{64} [0-9a-f]{64}$' "$(cat "$R/bank.pub")" "bank.pub holds the public line"
before=$(sha256sum <"$R/bank.key")
check_fail_with 'cannot make the key pair' -m "keygen refuses to overwrite a key pair" ctl keygen "$R" bank
check_eq "$before" "$(sha256sum <"$R/bank.key")" "bank.key unchanged"
ctl keygen "$R" other >/dev/null 2>&1

section "a package opened, checked and received"
S=$WORK/src
mkdir -p "$S"
head -c 200000 /dev/urandom >"$S/contract.pdf"
head -c 70000 /dev/urandom >"$S/id.jpg"
: >"$S/empty.txt"
check_ok -m "sharepack: a package of three files for bank.pub" \
    "$SHAREPACK" "$WORK/p1.pkg" "$R/bank.pub" "$WORK/sender.pub" \
    contract.pdf="$S/contract.pdf" scans/id.jpg="$S/id.jpg" empty.txt="$S/empty.txt"
chmod 0644 "$WORK/p1.pkg" "$WORK/sender.pub"
check_eq 0 "$(grep -ac -e client-a -e contract.pdf "$WORK/p1.pkg")" "the package holds no client or file name in the clear"
out=$(ctl open "$WORK/p1.pkg" --key "$R/bank.key" --out "$R/in" --receipt "$R/p1.receipt" --sender "$WORK/sender.pub" 2>&1)
rc=$?
check_eq 0 "$rc" "share open: exit 0"
check_match '3 files checked' "$out" "share open: three files checked"
check_match 'checked against the given audit.pub' "$out" "share open: the sender's key was checked"
check_eq "contract.pdf 200000
empty.txt 0
scans/id.jpg 70000" "$(files_in "$R/in")" "the three files, and nothing else, are under the output directory"
check_ok -m "contract.pdf byte-equal" cmp "$S/contract.pdf" "$R/in/contract.pdf"
check_ok -m "scans/id.jpg byte-equal" cmp "$S/id.jpg" "$R/in/scans/id.jpg"
check_eq "$U" "$(stat -c %U "$R/in/contract.pdf")" "the files belong to the recipient"
check_match '^dossierfs-share-receipt-v1$' "$(head -n 1 "$R/p1.receipt")" "the receipt's first line"
check_match "^package=$(sed -n 's/^package \([0-9a-f]*\) .*/\1/p' <<<"$out")$" "$(sed -n 2p "$R/p1.receipt")" \
    "the receipt names the package"
check_match '^sig=[0-9a-f]{128}$' "$(tail -n 1 "$R/p1.receipt")" "the receipt is signed"

section "refusals: nothing is written"
cp "$WORK/p1.pkg" "$WORK/bad.pkg"
printf '\x55' | dd of="$WORK/bad.pkg" bs=1 seek=500 conv=notrunc status=none
chmod 0644 "$WORK/bad.pkg"
check_fail_with 'does not check' -m "a package with one byte changed is refused" \
    ctl open "$WORK/bad.pkg" --key "$R/bank.key" --out "$R/bad" --receipt "$R/bad.receipt" --sender "$WORK/sender.pub"
check_eq "" "$(files_in "$R/bad")" "  no file written"
check_eq 1 "$([ ! -e "$R/bad.receipt" ] && echo 1)" "  no receipt left"
head -c 100000 "$WORK/p1.pkg" >"$WORK/cut.pkg"
chmod 0644 "$WORK/cut.pkg"
check_fail_with 'does not check' -m "a cut package is refused" \
    ctl open "$WORK/cut.pkg" --key "$R/bank.key" --out "$R/cut" --receipt "$R/cut.receipt"
check_eq "" "$(files_in "$R/cut")" "  no file written"
check_fail_with 'another recipient' -m "another recipient's key is refused" \
    ctl open "$WORK/p1.pkg" --key "$R/other.key" --out "$R/other" --receipt "$R/other.receipt"
check_eq "" "$(files_in "$R/other")" "  no file written"
"$SHAREPACK" "$WORK/p2.pkg" "$R/bank.pub" "$WORK/sender2.pub" a.txt="$S/id.jpg" >/dev/null
chmod 0644 "$WORK/p2.pkg" "$WORK/sender2.pub"
check_fail_with 'not signed by the expected sender' -m "a package signed by another sender is refused" \
    ctl open "$WORK/p2.pkg" --key "$R/bank.key" --out "$R/p2" --receipt "$R/p2.receipt" --sender "$WORK/sender.pub"
check_eq "" "$(files_in "$R/p2")" "  no file written"
check_fail_with 'cannot create .*p1.receipt' -m "an existing receipt is not replaced" \
    ctl open "$WORK/p2.pkg" --key "$R/bank.key" --out "$R/p2" --receipt "$R/p1.receipt"
check_eq "" "$(files_in "$R/p2")" "  no file written"
check_fail_with 'not a share secret key' -m "a public key given as the secret key is refused" \
    ctl open "$WORK/p2.pkg" --key "$R/bank.pub" --out "$R/p2" --receipt "$R/p2.receipt"
out=$(ctl open "$WORK/p2.pkg" --key "$R/bank.key" --out "$R/p2" --receipt "$R/p2.receipt" 2>&1)
check_match 'NOT checked' "$out" "without --sender the package opens and says the sender was not checked"
check_ok -m "  its file byte-equal" cmp "$S/id.jpg" "$R/p2/a.txt"
check_fail_with 'usage' -m "share open without --receipt: usage" ctl open "$WORK/p1.pkg" --key "$R/bank.key" --out "$R/x"

finish
