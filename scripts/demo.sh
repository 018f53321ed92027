#!/bin/bash
# A ready example: makes a demo vault, mounts it, lets several staff
# accounts work in it, and shows what reaches the disk (ciphertext only).
# Run as root: sudo scripts/demo.sh. It installs what is missing first.
# DEMO_KEEP=1 leaves the vault mounted at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (sudo scripts/demo.sh)" >&2; exit 1; }
sh scripts/deps.sh
make -s all

work=/var/tmp/dossierfs-demo
users="demo_manager demo_legal demo_records"
cleanup() {
	if [ "${DEMO_KEEP:-0}" != 1 ]; then
		mountpoint -q "$work/mnt" && fusermount3 -u "$work/mnt"
		for u in $users; do userdel -r "$u" 2>/dev/null || true; done
		groupdel demo_staff 2>/dev/null || true
		rm -rf "$work"
	fi
}
trap cleanup EXIT INT TERM
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

mountpoint -q "$work/mnt" 2>/dev/null && fusermount3 -u "$work/mnt"
rm -rf "$work"
mkdir -p "$work/mnt"
chmod 755 "$work" "$work/mnt"
groupadd -f demo_staff
for u in demo_manager demo_legal; do
	id "$u" >/dev/null 2>&1 || useradd -M -N -g demo_staff -s /bin/sh "$u"
done
id demo_records >/dev/null 2>&1 || useradd -M -U -s /bin/sh demo_records
as() { local u=$1; shift; runuser -u "$u" -- "$@"; }

step "create a vault (Argon2id-wrapped master key, passphrase from a file)"
(umask 077; printf 'correct horse battery staple\n' > "$work/passphrase")
umask 022
src/dossierctl init "$work/vault" --passphrase-file "$work/passphrase"
src/dossierctl info "$work/vault"

step "mount it for everyone (allow_other, default_permissions)"
src/dossierfs "$work/vault" "$work/mnt" --passphrase-file "$work/passphrase"
grep " $work/mnt " /proc/mounts

step "a client manager registers a client and saves files"
as demo_manager mkdir -m 2770 "$work/mnt/Client-Dupont"
as demo_manager sh -c "echo 'ID card scan of M. Dupont' > '$work/mnt/Client-Dupont/id-scan.txt'"
as demo_manager sh -c "echo 'Sale agreement, 12 rue des Lilas' > '$work/mnt/Client-Dupont/contract.txt'"
as demo_manager chmod 640 "$work/mnt/Client-Dupont/contract.txt"
ls -l "$work/mnt" "$work/mnt/Client-Dupont"

step "legal (same group) reads the contract; a save through temp-then-rename"
as demo_legal cat "$work/mnt/Client-Dupont/contract.txt"
as demo_manager sh -c "echo 'Sale agreement, signed' > '$work/mnt/Client-Dupont/.contract.tmp' && chmod 640 '$work/mnt/Client-Dupont/.contract.tmp' && mv '$work/mnt/Client-Dupont/.contract.tmp' '$work/mnt/Client-Dupont/contract.txt'"
as demo_legal cat "$work/mnt/Client-Dupont/contract.txt"

step "the records office (not in the client's group) cannot write there (POSIX modes)"
if as demo_records sh -c "echo x > '$work/mnt/Client-Dupont/note.txt'" 2>&1; then
	echo "unexpected: write allowed"; exit 1
fi

step "what is on disk: encrypted names, encrypted content"
find "$work/vault" | sed "s|$work/||"
if grep -rqa -e Dupont -e "ID card" -e contract "$work/vault"; then
	echo "plaintext found in the vault!"; exit 1
fi
echo "no client name, file name or content found in the vault"

step "unmount"
fusermount3 -u "$work/mnt"
echo "done"
