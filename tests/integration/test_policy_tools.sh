#!/usr/bin/env bash
# dossierctl policy explain and policy review against a test policy and
# the users and groups this test creates.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

init_test
if [ "$DEV_NATIVE" = 1 ]; then
    skip "policy tools (need the real dossierctl; DEV_NATIVE=1)"
    finish
fi
setup_users

P=$WORK/policy
mkdir -m 0755 "$P"
cat >"$P/roles.ini" <<'INI'
[role manager]
members = dsft_alice
scope = assigned
allow = list, read, write, create, rename, delete, register

[role staff-reader]
members = @dsft_staff
scope = clients:Client-Shared
allow = list, read

[rule no-id-scans]
roles = staff-reader
effect = deny
permissions = read
files = id-scan*
INI
cat >"$P/clients.ini" <<'INI'
[client Client-A]
owner = dsft_alice
INI
chmod 0644 "$P"/*.ini

explain() { "$DOSSIERCTL" policy explain --policy "$P" --at "2026-11-30 10:00" "$@"; }

section "policy explain"
out=$(explain dsft_alice Client-A/contract.pdf read 2>&1)
check_eq "0" "$?" "owner reads in her client: exit 0"
check_match "ALLOWED by role manager" "$out" "allowed, and by which role"
out=$(explain dsft_bob Client-A/contract.pdf read 2>&1)
check_eq "1" "$?" "another user: exit 1"
check_match "DENIED by default deny" "$out" "denied by default"
out=$(explain dsft_bob Client-Shared/notes.txt read 2>&1)
check_match "ALLOWED by role staff-reader" "$out" "a group member reads the shared client"
out=$(explain dsft_bob Client-Shared/id-scan-1.png read 2>&1)
check_match "DENIED by rule no-id-scans" "$out" "the deny rule beats the allow"
check_match "role staff-reader +allows" "$out" "explain lists the allow that lost"
out=$(explain dsft_carol Client-Shared/notes.txt read 2>&1)
check_match "DENIED by default deny" "$out" "not in the group: denied"
out=$(explain dsft_bob Client-Shared/notes.txt write 2>&1)
check_match "DENIED" "$out" "write not granted to readers"
check_fail -m "unknown action refused" explain dsft_bob Client-A/x fly
check_fail -m "unknown user refused" explain no_such_user_dsft Client-A/x read

section "policy explain at the mount root (admin: unlocking a user)"
P2=$WORK/policy-admin
mkdir -m 0755 "$P2"
cat >"$P2/roles.ini" <<'INI'
[role security]
members = dsft_alice, dsft_bob, dsft_carol
scope = all
allow = list, admin
[role helpdesk]
members = dsft_bob
scope = clients:Client-A
allow = list
deny = admin
[role team]
members = dsft_carol
scope = clients:Client-A
allow = list, admin
INI
chmod 0644 "$P2/roles.ini"
explain2() { "$DOSSIERCTL" policy explain --policy "$P2" --at "2026-11-30 10:00" "$@"; }
out=$(explain2 dsft_alice / admin 2>&1)
check_eq "0" "$?" "admin over every client at the mount root: exit 0"
check_match "^dsft_alice admin / \(the mount root\)" "$out" "  the mount root is named"
check_match "ALLOWED by role security" "$out" "  allowed, and by which role"
out=$(explain2 dsft_bob / admin 2>&1)
check_eq "1" "$?" "a deny of admin on one client: exit 1"
check_match "role security +allows" "$out" "  the allow is listed"
check_match "DENIED by role helpdesk" "$out" "  the deny beats it"
out=$(explain2 dsft_carol / admin 2>&1)
check_match "ALLOWED by role security" "$out" "an admin role over one client does not spoil another over all"
check_match "role team +does not apply: does not allow admin over every client" "$out" "  and is shown not to apply at the root"
out=$(explain2 dsft_alice / read 2>&1)
check_match "only list, audit and admin are meaningful at the mount root" "$out" "read at the mount root does not apply"
check_match "DENIED by default deny" "$out" "  and is denied"

section "policy explain on a mounted path (owner from the mount)"
if mount_vault "$WORK/vault" "$WORK/mnt"; then
    as_user dsft_alice mkdir "$MNT/Client-Own"
    as_user dsft_alice sh -c "echo x > '$MNT/Client-Own/f.txt'"
    as_user dsft_alice mkdir -m 0755 "$MNT/Client-Shared"
    out=$(explain dsft_alice "$MNT/Client-Own/f.txt" read 2>&1)
    check_match "ALLOWED by role manager" "$out" "the folder's creator is its owner"
    out=$(explain dsft_bob "$MNT/Client-Own/f.txt" read 2>&1)
    check_match "DENIED" "$out" "someone else is not"
    out=$(explain dsft_alice "$MNT" admin 2>&1)
    check_match "^dsft_alice admin / \(the mount root\)" "$out" "the mount point itself is the mount root"
    check_match "DENIED by default deny" "$out" "  where a role over assigned clients grants no admin"

    section "policy review"
    out=$("$DOSSIERCTL" policy review --policy "$P" --mount "$MNT" --at "2026-11-30 10:00" 2>&1)
    check_match "dsft_alice	manager,staff-reader	Client-A	list,read,write,create,rename,delete,register" "$out" "alice (both roles) reaches Client-A"
    check_match "dsft_alice	manager,staff-reader	Client-Own	list,read,write" "$out" "alice reaches the folder she created"
    check_match "dsft_bob	staff-reader	Client-Shared	list,read" "$out" "bob reaches the shared client"
    # shellcheck disable=SC2016
    check_fail -m "carol has no role: not listed" sh -c 'printf "%s\n" "$1" | grep -q "^dsft_carol"' sh "$out"
    # shellcheck disable=SC2016
    check_fail -m "bob does not reach Client-Own" sh -c 'printf "%s\n" "$1" | grep -q "^dsft_bob.*Client-Own"' sh "$out"
    unmount_vault "$MNT"
fi

finish
