#!/usr/bin/env bash
# Vault life cycle: passphrase from a terminal (no echo), key-file vaults,
# passwd keeping data readable, the XChaCha20-Poly1305 cipher, SIGINT
# unmount, and files and folders moved between client folders.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

init_test
if [ "$DEV_NATIVE" = 1 ]; then
    skip "vault life cycle (needs the real dossierfs; DEV_NATIVE=1)"
    finish
fi

# ---------------------------------------------------------------- terminal
section "passphrase typed on a terminal"
# A pseudo-terminal answers the two prompts; what the terminal shows must
# not contain the passphrase (echo off).
tty_out=$("$PY" - "$DOSSIERCTL" "$WORK/vault-tty" <<'PYEOF'
import os, pty, sys, time
ctl, vault = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(ctl, [ctl, "init", vault, "--kdf-cost", "interactive"])
seen = b""
def wait_for(word):
    global seen
    end = time.time() + 30
    while word not in seen and time.time() < end:
        try:
            seen += os.read(fd, 1024)
        except OSError:
            break
wait_for(b"Passphrase: ")
os.write(fd, b"typed secret words\n")
wait_for(b"again: ")
os.write(fd, b"typed secret words\n")
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
_, status = os.waitpid(pid, 0)
print("exit=%d" % os.waitstatus_to_exitcode(status))
print("echoed=%s" % (b"typed secret" in seen))
PYEOF
)
check_match "exit=0" "$tty_out" "init with a passphrase typed on a terminal"
check_match "echoed=False" "$tty_out" "the typed passphrase is not echoed"
printf 'typed secret words\n' >"$WORK/typed"
if check_ok -m "the typed passphrase unlocks the vault" mount_vault "$WORK/vault-tty" "$WORK/mnt-tty" --passphrase-file "$WORK/typed"; then
    check_ok -m "unmount" unmount_vault "$WORK/mnt-tty"
fi

# ---------------------------------------------------------------- key file
section "key-file vault"
check_ok -m "init with a new key file" "$DOSSIERCTL" init "$WORK/vault-kf" --key-file "$WORK/kf"
check_eq "600" "$(stat -c %a "$WORK/kf")" "key file is mode 0600"
check_fail -m "init refuses to overwrite an existing key file" "$DOSSIERCTL" init "$WORK/vault-kf2" --key-file "$WORK/kf"
check_fail -m "argv holds no passphrase option for key files" grep -q passphrase "$WORK/kf"
mkdir -p "$WORK/mnt-kf"
chmod 755 "$WORK/mnt-kf"
MOUNTS+=("$WORK/mnt-kf")
if check_ok -m "mount with the key file" "$DOSSIERFS" -o "policy=$(open_policy)" "$WORK/vault-kf" "$WORK/mnt-kf" --key-file "$WORK/kf"; then
    check_ok -m "client folder on the key-file vault" mkdir "$WORK/mnt-kf/Client-KF"
    echo "key file data" >"$WORK/mnt-kf/Client-KF/f"
    check_eq "key file data" "$(cat "$WORK/mnt-kf/Client-KF/f")" "read back on a key-file vault"
    check_ok -m "unmount" unmount_vault "$WORK/mnt-kf"
fi

# ---------------------------------------------------------------- passwd
section "passwd keeps the data"
check_ok -m "mount" mount_vault "$WORK/vault-pw" "$WORK/mnt-pw"
mkdir "$WORK/mnt-pw/Client-Passwd"
head -c 100000 /dev/urandom >"$WORK/pw-data"
cp "$WORK/pw-data" "$WORK/mnt-pw/Client-Passwd/data"
check_ok -m "unmount" unmount_vault "$WORK/mnt-pw"
before=$(find "$WORK/vault-pw/data" -type f -exec md5sum {} + | sort)
printf 'a brand new passphrase\n' >"$WORK/newpass"
check_ok -m "passwd" "$DOSSIERCTL" passwd "$WORK/vault-pw" --passphrase-file "$PASSFILE" --new-passphrase-file "$WORK/newpass" --kdf-cost interactive
check_eq "$before" "$(find "$WORK/vault-pw/data" -type f -exec md5sum {} + | sort)" "passwd rewrote no data file"
check_fail -m "old passphrase no longer mounts" "$DOSSIERFS" -o "policy=$(open_policy)" "$WORK/vault-pw" "$WORK/mnt-pw" --passphrase-file "$PASSFILE"
if check_ok -m "new passphrase mounts" mount_vault "$WORK/vault-pw" "$WORK/mnt-pw" --passphrase-file "$WORK/newpass"; then
    check_same_file "$WORK/pw-data" "$WORK/mnt-pw/Client-Passwd/data" "data intact after passwd"
    check_ok -m "unmount" unmount_vault "$WORK/mnt-pw"
fi

# ---------------------------------------------------------------- cipher
section "XChaCha20-Poly1305 vault"
check_ok -m "init with --cipher xchacha20poly1305" "$DOSSIERCTL" init "$WORK/vault-xc" --passphrase-file "$PASSFILE" --cipher xchacha20poly1305 --kdf-cost interactive
check_match "cipher: xchacha20poly1305" "$("$DOSSIERCTL" info "$WORK/vault-xc")" "the vault records its cipher"
if check_ok -m "mount" mount_vault "$WORK/vault-xc" "$WORK/mnt-xc"; then
    mkdir "$WORK/mnt-xc/Client-XC"
    head -c 300000 /dev/urandom >"$WORK/xc-data"
    cp "$WORK/xc-data" "$WORK/mnt-xc/Client-XC/blob"
    printf 'patch' | dd of="$WORK/mnt-xc/Client-XC/blob" bs=1 seek=5000 conv=notrunc 2>/dev/null
    printf 'patch' | dd of="$WORK/xc-data" bs=1 seek=5000 conv=notrunc 2>/dev/null
    check_same_file "$WORK/xc-data" "$WORK/mnt-xc/Client-XC/blob" "random-offset write on an XChaCha20 vault"
    scan_vault "$WORK/mnt-xc" "$WORK/vault-xc"
    check_ok -m "unmount" unmount_vault "$WORK/mnt-xc"
fi
check_fail_with "cipher" -m "unknown cipher refused" "$DOSSIERCTL" init "$WORK/vault-bad" --passphrase-file "$PASSFILE" --cipher rot13

# ---------------------------------------------------------------- SIGINT
section "SIGINT unmounts"
mkdir -p "$WORK/mnt-int"
chmod 755 "$WORK/mnt-int"
MOUNTS+=("$WORK/mnt-int")
"$DOSSIERFS" -o "policy=$(open_policy)" "$WORK/vault-xc" "$WORK/mnt-int" --passphrase-file "$PASSFILE" -f 9>&- &
dpid=$!
for _ in $(seq 50); do is_mounted "$WORK/mnt-int" && break; sleep 0.1; done
check_ok -m "foreground mount is up" is_mounted "$WORK/mnt-int"
kill -INT "$dpid"
wait "$dpid"
check_eq "0" "$?" "daemon exits 0 on SIGINT"
check_fail -m "nothing mounted after SIGINT" is_mounted "$WORK/mnt-int"

# ---------------------------------------------------------------- kill -9
section "daemon killed with SIGKILL"
K=$WORK/mnt-kill
check_ok -m "mount" mount_vault "$WORK/vault-kill" "$K"
mkdir "$K/Client-K"
head -c 2000000 /dev/urandom >"$WORK/kill-data"
cp "$WORK/kill-data" "$K/Client-K/saved.bin"
check_ok -m "fsync the saved file" sync "$K/Client-K/saved.bin"
( while :; do head -c 65536 /dev/urandom; done >"$K/Client-K/busy.bin" ) 2>/dev/null &
writer=$!
sleep 0.5
for pid in $(daemon_pids "$K"); do kill -KILL "$pid"; done
sleep 0.5
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
check_match "Transport endpoint is not connected" "$(ls "$K" 2>&1)" "the dead mount answers ENOTCONN"
check_fail_with "dead mount.*fusermount3 -u" -m "mounting over the dead mount is refused with a hint" \
    "$DOSSIERFS" -o "policy=$(open_policy)" "$WORK/vault-kill" "$K" --passphrase-file "$PASSFILE"
check_ok -m "fusermount3 -u clears the dead mount" fusermount3 -u "$K"
if check_ok -m "remount after the kill" mount_vault "$WORK/vault-kill" "$K"; then
    check_same_file "$WORK/kill-data" "$K/Client-K/saved.bin" "the fsynced file is intact"
    check_ok -m "the vault still lists" ls "$K/Client-K"
    check_ok -m "unmount" unmount_vault "$K"
fi

# ---------------------------------------------------------------- clients
section "moves between client folders"
check_ok -m "mount" mount_vault "$WORK/vault-mv" "$WORK/mnt-mv"
M=$WORK/mnt-mv
mkdir "$M/Client-A" "$M/Client-B" "$M/Client-A/sub"
head -c 50000 /dev/urandom >"$WORK/mv-data"
cp "$WORK/mv-data" "$M/Client-A/contract.pdf"
echo "inner" >"$M/Client-A/sub/inner.txt"
check_eq "OK" "$(fsop rename "$M/Client-A/contract.pdf" "$M/Client-B/contract.pdf" 2>&1)" "rename(2) of a file into another client folder"
check_same_file "$WORK/mv-data" "$M/Client-B/contract.pdf" "moved file reads back the same"
check_eq "ERR EXDEV" "$(fsop rename "$M/Client-A/sub" "$M/Client-B/sub" 2>&1)" "rename(2) of a folder between clients is EXDEV"
echo "stays" >"$M/Client-A/stay.txt"
echo "target" >"$M/Client-B/stay.txt"
check_eq "ERR EEXIST" "$(fsop renameat2 "$M/Client-A/stay.txt" "$M/Client-B/stay.txt" noreplace 2>&1)" "RENAME_NOREPLACE onto an existing file in another client"
check_eq "stays" "$(cat "$M/Client-A/stay.txt")" "the refused file still reads in its own client"
check_eq "target" "$(cat "$M/Client-B/stay.txt")" "the existing target is untouched"
check_eq "ERR EXDEV" "$(fsop renameat2 "$M/Client-A/stay.txt" "$M/Client-B/stay.txt" exchange 2>&1)" "RENAME_EXCHANGE between clients is EXDEV"
check_ok -m "mv of a folder between clients (copies)" mv "$M/Client-A/sub" "$M/Client-B/sub"
check_eq "inner" "$(cat "$M/Client-B/sub/inner.txt")" "folder content after mv"
check_fail -m "source folder is gone after mv" test -e "$M/Client-A/sub"
check_eq "ERR EXDEV" "$(fsop rename "$M/Client-A" "$M/Client-B/A" 2>&1)" "a client folder cannot move into another"
check_ok -m "unmount" unmount_vault "$M"
if check_ok -m "remount" mount_vault "$WORK/vault-mv" "$M"; then
    check_same_file "$WORK/mv-data" "$M/Client-B/contract.pdf" "moved file readable after remount (key rewrapped durably)"
    check_ok -m "unmount" unmount_vault "$M"
fi

finish
