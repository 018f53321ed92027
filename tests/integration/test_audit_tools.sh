#!/usr/bin/env bash
# dossierctl audit verify|query on a vault that has no audit store yet:
# one clear line and a non-zero exit, never a store created by a tool
# that only reads; bad usage exits 2. The records themselves, the chain,
# the checkpoints and every kind of tampering are covered by
# tests/check_audit.c; the daemon's records come with its own test.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

init_test
if [ "$DEV_NATIVE" = 1 ]; then
    skip "audit tools (need the real dossierctl; DEV_NATIVE=1)"
    finish
fi

V=$WORK/vault
check_ok -m "init a vault" create_vault "$V"

section "a vault without an audit store"
out=$("$DOSSIERCTL" audit verify "$V" 2>&1)
check_eq "1" "$?" "verify: exit 1"
check_match "has no audit store \(audit.db\)" "$out" "verify says there is no audit store"
check_eq "1" "$(printf '%s\n' "$out" | wc -l)" "verify: one line"
out=$("$DOSSIERCTL" audit query "$V" --passphrase-file "$PASSFILE" 2>&1 </dev/null)
check_eq "1" "$?" "query: exit 1"
check_match "has no audit store" "$out" "query says there is no audit store"
check_no_match "[Pp]assphrase" "$out" "query does not ask for a key first"
check_fail -m "verify and query created no audit.db" test -e "$V/audit.db"
check_fail -m "... and no audit.pub" test -e "$V/audit.pub"

section "a store without its signing key"
: >"$V/audit.db"
out=$("$DOSSIERCTL" audit verify "$V" 2>&1)
check_eq "1" "$?" "verify without audit.pub: exit 1"
check_match "audit.pub is missing" "$out" "verify names the missing audit.pub"
rm -f "$V/audit.db"

section "not a vault"
mkdir -p "$WORK/empty"
check_fail_with "not a dossierfs vault" -m "verify of a plain directory" \
    "$DOSSIERCTL" audit verify "$WORK/empty"
check_fail_with "not a dossierfs vault" -m "verify of a missing path" \
    "$DOSSIERCTL" audit verify "$WORK/nowhere"

section "usage"
usage_exit() {
    "$DOSSIERCTL" "$@" >/dev/null 2>&1
    echo $?
}
check_eq "2" "$(usage_exit audit)" "audit without a subcommand: exit 2"
check_eq "2" "$(usage_exit audit check "$V")" "unknown subcommand: exit 2"
check_eq "2" "$(usage_exit audit verify)" "verify without a vault: exit 2"
check_eq "2" "$(usage_exit audit verify "$V" --client x)" "verify takes no filter: exit 2"
check_eq "2" "$(usage_exit audit query "$V" --outcome maybe)" "bad --outcome: exit 2"
check_eq "2" "$(usage_exit audit query "$V" --format xml)" "bad --format: exit 2"
check_eq "2" "$(usage_exit audit query "$V" --since yesterday)" "bad --since: exit 2"
check_eq "2" "$(usage_exit audit query "$V" --until)" "--until without a value: exit 2"
out=$("$DOSSIERCTL" audit 2>&1)
check_match "dossierctl audit query VAULT" "$out" "usage lists query"
check_match "\[--client NAME\]" "$out" "usage lists the filters"
out=$("$DOSSIERCTL" 2>&1)
check_match "dossierctl audit verify\|query VAULT" "$out" "dossierctl usage lists audit"

finish
