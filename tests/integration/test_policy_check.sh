#!/usr/bin/env bash
# dossierctl policy check: the example policy is accepted; a broken or
# unsafe policy is refused as a whole, with file:line and the reason.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

init_test
if [ "$DEV_NATIVE" = 1 ]; then
    skip "policy check (needs the real dossierctl; DEV_NATIVE=1)"
    finish
fi
EXAMPLE=$TESTS_INT_DIR/../../policy

# fresh_policy DIR: a root-owned copy of the example policy
fresh_policy() {
    rm -rf "$1"
    mkdir -m 0755 "$1"
    cp "$EXAMPLE"/*.ini "$1"/
    chown -R root:root "$1"
    chmod 0644 "$1"/*.ini
}

section "the example policy"
P=$WORK/policy
fresh_policy "$P"
out=$("$DOSSIERCTL" policy check "$P" 2>&1)
check_eq "0" "$?" "example policy is accepted (exit 0)"
check_match "ok: version [0-9a-f]{16}, 6 roles" "$out" "check names the version and the six roles"
# shellcheck disable=SC2016
check_fail -m "no error lines for the example" sh -c 'printf "%s\n" "$1" | grep -q ": error:"' sh "$out"

section "broken policies are rejected with file:line"
fresh_policy "$P"
printf '[role broken]\nmembers = root\nscope = all\nallow = read, fly\n' >"$P/zz-broken.ini"
chmod 0644 "$P/zz-broken.ini"
out=$("$DOSSIERCTL" policy check "$P" 2>&1)
check_eq "1" "$?" "unknown permission: exit 1"
check_match "zz-broken.ini:4: error: unknown permission 'fly'" "$out" "unknown permission reported at file:line"
check_match "rejected" "$out" "the whole policy is rejected"

fresh_policy "$P"
printf '[rule orphan]\nroles = no-such-role\neffect = deny\npermissions = read\n' >"$P/zz-orphan.ini"
chmod 0644 "$P/zz-orphan.ini"
out=$("$DOSSIERCTL" policy check "$P" 2>&1)
check_eq "1" "$?" "rule naming an undefined role: exit 1"
check_match "zz-orphan.ini:2: error: .*no-such-role" "$out" "undefined role reported at file:line"

fresh_policy "$P"
printf '[role x\nmembers = root\n' >"$P/zz-syntax.ini"
chmod 0644 "$P/zz-syntax.ini"
out=$("$DOSSIERCTL" policy check "$P" 2>&1)
check_eq "1" "$?" "syntax error: exit 1"
check_match "zz-syntax.ini:1: error" "$out" "syntax error reported at file:line"

section "unsafe policy files are refused"
fresh_policy "$P"
chmod 0664 "$P/roles.ini"
out=$("$DOSSIERCTL" policy check "$P" 2>&1)
check_eq "1" "$?" "group-writable file: exit 1"
check_match "roles.ini.*writable" "$out" "group-writable file named"

fresh_policy "$P"
setfacl -m u:nobody:rw "$P/roles.ini"
out=$("$DOSSIERCTL" policy check "$P" 2>&1)
check_eq "1" "$?" "file writable through an ACL entry: exit 1"
check_match "roles.ini.*writable" "$out" "file writable through an ACL entry named"

fresh_policy "$P"
chown nobody "$P/teams.ini"
out=$("$DOSSIERCTL" policy check "$P" 2>&1)
check_eq "1" "$?" "file not owned by root: exit 1"
check_match "teams.ini" "$out" "foreign-owned file named"

fresh_policy "$P"
chmod 0777 "$P"
out=$("$DOSSIERCTL" policy check "$P" 2>&1)
check_eq "1" "$?" "world-writable policy directory: exit 1"

finish
