#!/bin/bash
# A ready example: makes a demo vault, installs the example role policy,
# mounts it, lets staff in several roles work in it, changes the policy
# live, sends a file to a third party after approval, trips an alert,
# prints the KPI report, and shows what reaches the disk (ciphertext
# only).
# Run as root: sudo scripts/demo.sh. It installs what is missing first.
# DEMO_KEEP=1 leaves the vault mounted (and the demo users) at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (sudo scripts/demo.sh)" >&2; exit 1; }
sh scripts/deps.sh
make -s all

work=/var/tmp/dossierfs-demo
mnt=$work/mnt
pol=$work/policy
# user:groups (the example policy gives roles to these groups)
people="demo_manager:dossier-managers,dossier-north
demo_supervisor:dossier-supervisors,dossier-north
demo_legal:dossier-legal
demo_records:dossier-records
demo_auditor:dossier-audit
demo_infosec:dossier-infosec
demo_visitor:"
groups="dossier-managers dossier-supervisors dossier-infosec dossier-legal
dossier-records dossier-audit dossier-north dossier-south"
made_groups=""
cleanup() {
	if [ "${DEMO_KEEP:-0}" != 1 ]; then
		mountpoint -q "$mnt" && fusermount3 -u "$mnt"
		for p in $people; do userdel "${p%%:*}" 2>/dev/null || true; done
		for g in $made_groups; do groupdel "$g" 2>/dev/null || true; done
		rm -rf "$work"
	fi
}
trap cleanup EXIT INT TERM
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
as() { local u=$1; shift; printf '%s$ %s\n' "$u" "$*"; runuser -u "$u" -- "$@" || true; }

mountpoint -q "$mnt" 2>/dev/null && fusermount3 -u "$mnt"
rm -rf "$work"
mkdir -p "$mnt"
chmod 755 "$work" "$mnt"
for g in $groups; do
	getent group "$g" >/dev/null || { groupadd "$g"; made_groups="$made_groups $g"; }
done
for p in $people; do
	u=${p%%:*} g=${p#*:}
	id "$u" >/dev/null 2>&1 || useradd -M -s /bin/sh ${g:+-G "$g"} "$u"
done

step "install the example role policy (root-owned, read-only for others)"
install -d -m 0755 "$pol"
install -m 0644 policy/*.ini "$pol"
# The demo's client belongs to team north, so the supervisor oversees it.
printf '\n[client Client-Dupont]\nteam = north\n' >> "$pol/clients.ini"
# Business hours of the records office do not matter for the demo.
sed -i -e 's/^days = mon-fri/days = mon-sun/' -e 's/^hours = 08:00-18:00/hours = 00:00-24:00/' "$pol/roles.ini"
# Nor do office hours for the after-hours alert, or every step would fire it.
sed -i -e 's/^days = mon-fri/days = mon-sun/' -e 's/^hours = 07:00-20:00/hours = 00:00-24:00/' "$pol/alerts.ini"
src/dossierctl policy check "$pol" 2>&1 | grep -v "no user 'alice'\|no user 'bob'\|no user 'carol'\|no user 'dave'" || true

step "create a vault (Argon2id-wrapped master key, passphrase from a file)"
(umask 077; printf 'correct horse battery staple\n' > "$work/passphrase")
umask 022
src/dossierctl init "$work/vault" --passphrase-file "$work/passphrase"
src/dossierctl info "$work/vault"

step "mount it for everyone, with the policy"
src/dossierfs "$work/vault" "$mnt" --passphrase-file "$work/passphrase" -o "policy=$pol"
grep " $mnt " /proc/mounts
src/dossierctl policy status "$mnt"

step "a client manager registers a client and saves files"
as demo_manager mkdir "$mnt/Client-Dupont"
as demo_manager sh -c "echo 'ID card scan of M. Dupont' > '$mnt/Client-Dupont/id-scan.txt'"
as demo_manager sh -c "echo 'Sale agreement, 12 rue des Lilas' > '$mnt/Client-Dupont/sale-contract.txt'"
as demo_manager sh -c "echo 'Called M. Dupont about the visit' > '$mnt/Client-Dupont/notes.txt'"
as demo_manager ls -l "$mnt" "$mnt/Client-Dupont"

step "the supervisor of team north reads the file, but never the ID scan"
as demo_supervisor cat "$mnt/Client-Dupont/sale-contract.txt"
as demo_supervisor cat "$mnt/Client-Dupont/id-scan.txt"
src/dossierctl policy explain --policy "$pol" demo_supervisor Client-Dupont/id-scan.txt read || true

step "legal sees and reads contracts only"
as demo_legal ls "$mnt/Client-Dupont"
as demo_legal cat "$mnt/Client-Dupont/sale-contract.txt"
as demo_legal cat "$mnt/Client-Dupont/notes.txt"

step "the auditor sees the folders, never the contents"
as demo_auditor ls "$mnt/Client-Dupont"
as demo_auditor cat "$mnt/Client-Dupont/notes.txt"

step "someone with no role sees nothing: not even the client's name"
as demo_visitor ls "$mnt"
as demo_visitor ls "$mnt/Client-Dupont"

step "getfacl shows who the policy lets in; setfacl is refused"
as demo_manager getfacl -p "$mnt/Client-Dupont/sale-contract.txt"
as demo_manager setfacl -m u:demo_visitor:r "$mnt/Client-Dupont/notes.txt"

step "live policy change: legal loses contracts of Client-Dupont (no remount)"
cat > "$pol/.demo.tmp" <<'EOF'
[rule demo-legal-hold-off]
description = Demo: legal stops reading this client.
roles = legal
effect = deny
permissions = read
scope = clients:Client-Dupont
EOF
chmod 0644 "$pol/.demo.tmp"; mv "$pol/.demo.tmp" "$pol/zz-demo.ini"
sleep 1
as demo_legal cat "$mnt/Client-Dupont/sale-contract.txt"

step "a broken edit is rejected as a whole; the last good policy stays"
printf '[rule broken\n' > "$pol/.demo.tmp"; chmod 0644 "$pol/.demo.tmp"; mv "$pol/.demo.tmp" "$pol/zz-broken.ini"
sleep 1
src/dossierctl policy status "$mnt" || true
as demo_legal cat "$mnt/Client-Dupont/sale-contract.txt"
rm -f "$pol/zz-broken.ini" "$pol/zz-demo.ini"
sleep 1
as demo_legal cat "$mnt/Client-Dupont/sale-contract.txt"

step "deleting is destroying: the manager removes a draft; it is overwritten, verified, recorded"
as demo_manager sh -c "echo 'draft offer' > '$mnt/Client-Dupont/draft-offer.txt'"
as demo_manager rm "$mnt/Client-Dupont/draft-offer.txt"
sleep 1
as demo_auditor cat "$mnt/Client-Dupont/.audit/destructions.csv"

step "a legal hold (live policy edit): nothing of Client-Dupont can be destroyed"
printf '[hold demo-litigation]\nscope = clients:Client-Dupont\nreason = demo: litigation 2026-042\n' > "$pol/.demo.tmp"
chmod 0644 "$pol/.demo.tmp"; mv "$pol/.demo.tmp" "$pol/zz-hold.ini"
sleep 1
as demo_manager rm "$mnt/Client-Dupont/notes.txt"
rm -f "$pol/zz-hold.ini"
sleep 1

step "the auditor reads the trail in .audit, with plain tools"
as demo_auditor ls -l "$mnt/.audit"
as demo_auditor tail -n 5 "$mnt/Client-Dupont/.audit/events.log"
step "denied attempts only, and the vault's records as CSV for a spreadsheet"
as demo_auditor cat "$mnt/.audit/denied.log"
as demo_auditor head -n 3 "$mnt/.audit/events.csv"
step "the chain check, as of now"
as demo_auditor cat "$mnt/.audit/verify.txt"
step "nobody else sees .audit, and the auditor cannot change it"
as demo_manager ls -a "$mnt/Client-Dupont"
as demo_manager cat "$mnt/Client-Dupont/.audit/events.log"
as demo_auditor rm "$mnt/.audit/events.log"
step "approved sharing: the manager asks to send the contract to the notary"
install -d -m 0755 "$work/notary"
src/dossierctl share keygen "$work/notary" notary
as demo_manager src/dossierctl share request "$mnt" --client Client-Dupont \
	--to "$work/notary/notary.pub" --reason "deed of sale, notary office" sale-contract.txt
step "no package before approval; the requester cannot approve; information security approves"
as demo_manager src/dossierctl share export "$mnt" 1 --out /tmp/dossierfs-demo-early.pkg
as demo_manager src/dossierctl share approve "$mnt" 1
as demo_infosec src/dossierctl share approve "$mnt" 1
install -d -m 0777 "$work/outbox"
as demo_manager src/dossierctl share export "$mnt" 1 --out "$work/outbox/dupont.pkg" \
	--sender-key "$work/outbox/company.pub"
step "the notary opens the package (checked against the company's key) and signs a receipt"
src/dossierctl share open "$work/outbox/dupont.pkg" --key "$work/notary/notary.key" \
	--out "$work/notary/in" --receipt "$work/notary/receipt.txt" --sender "$work/outbox/company.pub"
cat "$work/notary/in/sale-contract.txt"
chmod 0644 "$work/notary/receipt.txt"
as demo_manager src/dossierctl share receipt "$mnt" 1 "$work/notary/receipt.txt"
as demo_auditor cat "$mnt/Client-Dupont/.audit/shares.csv"

step "an alert: the supervisor keeps trying to open the ID scan (more than 10 refusals in 5 minutes)"
for _ in $(seq 11); do runuser -u demo_supervisor -- cat "$mnt/Client-Dupont/id-scan.txt" 2>/dev/null || true; done
as demo_supervisor ls "$mnt/Client-Dupont"
as demo_auditor cat "$mnt/.audit/alerts.log"
step "information security lists the locked-out users and lets the supervisor back in"
as demo_infosec src/dossierctl lockouts "$mnt"
as demo_infosec src/dossierctl unlock "$mnt" demo_supervisor
as demo_supervisor ls "$mnt/Client-Dupont"

step "the KPI report of today (text; an HTML page with charts is written too)"
src/dossierctl report "$work/vault" --passphrase-file "$work/passphrase" --policy "$pol" \
	--since "$(date +%F)" --until "$(date -d tomorrow +%F)" --format text
src/dossierctl report "$work/vault" --passphrase-file "$work/passphrase" --policy "$pol" \
	--since "$(date +%F)" --until "$(date -d tomorrow +%F)" --format html --out "$work/report.html"
echo "HTML report: $work/report.html (kept with DEMO_KEEP=1)"

step "the same trail from the admin tool (needs the vault passphrase)"
src/dossierctl audit query "$work/vault" --passphrase-file "$work/passphrase" \
	--client Client-Dupont --user demo_manager --format table

step "the erasure queue and the destructions (admin tool)"
src/dossierctl erase status "$work/vault" --passphrase-file "$work/passphrase"

step "unmount"
fusermount3 -u "$mnt"

step "the audit chain verifies without the passphrase (audit.pub only)"
src/dossierctl audit verify "$work/vault"

step "what is on disk: encrypted names, encrypted content, sealed audit names"
find "$work/vault" -path "$work/vault/erase-spare/*" -prune -o -print | sed "s|$work/||"
echo "(and $(find "$work/vault/erase-spare" -type f | wc -l) spare job files in vault/erase-spare, empty or overwritten)"
if grep -rqa -e Dupont -e "ID card" -e contract "$work/vault"; then
	echo "plaintext found in the vault!"; exit 1
fi
echo "no client name, file name or content found in the vault or its audit store"
echo "done"
