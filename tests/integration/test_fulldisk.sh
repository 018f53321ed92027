#!/usr/bin/env bash
# A full disk under the vault: writes fail with ENOSPC, nothing already
# stored is lost or unreadable, and everything works again once space is
# freed. The vault lives on a small loop-mounted ext4 image.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

init_test
if [ "$DEV_NATIVE" = 1 ]; then
    skip "full disk (needs the real dossierfs; DEV_NATIVE=1)"
    finish
fi
if ! command -v mkfs.ext4 >/dev/null 2>&1; then
    fail "mkfs.ext4 available (e2fsprogs)"
    finish
fi

IMG=$WORK/disk.img
DISK=$WORK/disk
mkdir -p "$DISK"
truncate -s 48M "$IMG"
mkfs.ext4 -q -F "$IMG"
if ! mount -o loop "$IMG" "$DISK"; then
    fail "loop-mount a small ext4 image"
    finish
fi
# The loop mount goes after the dossierfs mount on it, before the
# harness removes the work directory.
disk_cleanup() {
    force_unmount "$WORK/mnt"
    if mountpoint -q "$DISK"; then
        umount "$DISK" 2>/dev/null || umount -l "$DISK"
    fi
}
trap 'disk_cleanup; _on_exit' EXIT

check_ok -m "init a vault on the small disk" "$DOSSIERCTL" init "$DISK/vault" --passphrase-file "$PASSFILE" --kdf-cost interactive
M=$WORK/mnt
check_ok -m "mount it" mount_vault "$DISK/vault" "$M"
if ! is_mounted "$M"; then
    disk_cleanup
    finish
fi
mkdir "$M/Client-Full"
head -c 3000000 /dev/urandom >"$WORK/keep"
cp "$WORK/keep" "$M/Client-Full/keep.bin"
printf 'small note\n' >"$M/Client-Full/note.txt"
sync

section "filling the disk"
out=$(dd if=/dev/urandom of="$M/Client-Full/fill.bin" bs=1M count=200 conv=fsync 2>&1)
rc=$?
check_eq "1" "$([ "$rc" -ne 0 ] && echo 1 || echo 0)" "writing past the free space fails"
check_match "No space left on device" "$out" "the failure is ENOSPC"
check_same_file "$WORK/keep" "$M/Client-Full/keep.bin" "the earlier file is intact"
check_eq "small note" "$(cat "$M/Client-Full/note.txt")" "the small file is intact"
check_ok -m "the file that hit the full disk reads without EIO" cat "$M/Client-Full/fill.bin"
out=$(printf 'x%.0s' $(seq 1 5000) 2>&1 >"$M/Client-Full/more.txt"; sync "$M/Client-Full/more.txt" 2>&1)
check_same_file "$WORK/keep" "$M/Client-Full/keep.bin" "still intact after more failed writes"

section "space freed"
check_ok -m "delete the big file" rm -f "$M/Client-Full/fill.bin" "$M/Client-Full/more.txt"
# A deleted file is destroyed (overwritten, verified) in the background;
# its space comes back when that is done.
check_ok -m "the eraser has finished (its queue is empty)" wait_erased "$DISK/vault"
head -c 1000000 /dev/urandom >"$WORK/after"
check_ok -m "a new file can be written" cp "$WORK/after" "$M/Client-Full/after.bin"
check_ok -m "and synced" sync "$M/Client-Full/after.bin"
check_same_file "$WORK/after" "$M/Client-Full/after.bin" "the new file reads back"

section "after remount"
check_ok -m "unmount" unmount_vault "$M"
check_ok -m "remount" mount_vault "$DISK/vault" "$M"
check_same_file "$WORK/keep" "$M/Client-Full/keep.bin" "earlier file intact after remount"
check_same_file "$WORK/after" "$M/Client-Full/after.bin" "new file intact after remount"
check_eq "after.bin keep.bin note.txt" "$(find "$M/Client-Full" -mindepth 1 -printf '%f\n' | sort | tr '\n' ' ' | sed 's/ $//')" "listing is exactly the surviving files"
check_ok -m "unmount" unmount_vault "$M"

section "the audit store kept recording on the full disk"
q=$("$DOSSIERCTL" audit query "$DISK/vault" --passphrase-file "$PASSFILE" --action unlink --format json 2>&1)
check_match '"path": *"fill.bin"' "$q" "the deletion that freed the disk is recorded"
check_match '"outcome": *"allowed"' "$q" "  as allowed"
check_ok -m "the audit chain verifies" "$DOSSIERCTL" audit verify "$DISK/vault"
disk_cleanup
finish
