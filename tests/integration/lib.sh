# shellcheck shell=bash
# Harness for the dossierfs integration tests.  Sourced by every test_*.sh.
#
# Environment:
#   DOSSIERFS, DOSSIERCTL  binaries (default: ../../src/ relative to this dir)
#   DEV_NATIVE=1           do not mount anything: "mounting" uses a plain
#                          directory (TARGET_DIR if set), for developing the
#                          tests themselves
#   TARGET_DIR             with DEV_NATIVE=1, the directory used as the mount
#   DOSSIERFS_MOUNT_OPTS   -o options for dossierfs
#                          (default allow_other,default_permissions)
#   POLICY_DIR             the role policy directory mount_vault passes with
#                          -o policy= (default: open_policy, every test user
#                          and root get everything on every client)
#   CMD_TIMEOUT            seconds before a single checked command is killed
#                          (default 300)
#   VERBOSE=1              print the output of passing checks too
#
# Must run as root (creates users, mounts, chowns).

set -u
umask 022

TESTS_INT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DOSSIERFS=${DOSSIERFS:-$TESTS_INT_DIR/../../src/dossierfs}
DOSSIERCTL=${DOSSIERCTL:-$TESTS_INT_DIR/../../src/dossierctl}
DEV_NATIVE=${DEV_NATIVE:-0}
TARGET_DIR=${TARGET_DIR:-}
MOUNT_OPTS=${DOSSIERFS_MOUNT_OPTS:-allow_other,default_permissions}
CMD_TIMEOUT=${CMD_TIMEOUT:-300}
VERBOSE=${VERBOSE:-0}
TEST_NAME=$(basename "$0")

PASSED=0
FAILED=0
SKIPPED=0
FAILED_NAMES=()
MOUNTS=()        # mountpoints this test mounted
# set by mount_vault, used by the tests:
# shellcheck disable=SC2034
VAULT="" MNT="" BACKING=""
WORK=""          # per-test temp dir under /var/tmp
USERS_CREATED=0
CLEANED=0

# A python3 every test user can execute (a per-user install in root's home
# directory, such as a pyenv shim, is not).
PY=""
for _p in /usr/bin/python3 /usr/local/bin/python3 "$(command -v python3 2>/dev/null)"; do
    if [ -n "$_p" ] && [ -x "$_p" ]; then PY=$_p; break; fi
done
unset _p
FSOP="$TESTS_INT_DIR/fsop.py"

TEST_USERS=(dsft_alice dsft_bob dsft_carol)
TEST_GROUP=dsft_staff

POLICY_DIR=${POLICY_DIR:-}

# ---------------------------------------------------------------- reporting

_indent() { sed -e "s/^/      | /" | head -n "${INDENT_MAX:-40}"; }

pass() {
    PASSED=$((PASSED + 1))
    printf 'PASS: %s\n' "$1"
}

# fail MSG [DETAIL...]
fail() {
    local msg=$1
    shift
    FAILED=$((FAILED + 1))
    FAILED_NAMES+=("$msg")
    printf 'FAIL: %s\n' "$msg"
    local d
    for d in "$@"; do
        [ -n "$d" ] && printf '%s\n' "$d" | _indent
    done
    return 0
}

skip() {
    SKIPPED=$((SKIPPED + 1))
    printf 'SKIP: %s\n' "$1"
}

section() { printf '\n=== %s\n' "$*"; }

# Run a command with a timeout when it is an external program (functions and
# builtins run directly; as_user applies its own timeout).
run_cmd() {
    if [ "$(type -t "$1")" = file ]; then
        timeout -k 10 "$CMD_TIMEOUT" "$@"
    else
        "$@"
    fi
}

# check_ok [-m MSG] CMD...   passes when CMD exits 0
check_ok() {
    local msg=""
    if [ "${1:-}" = -m ]; then msg=$2; shift 2; fi
    [ -n "$msg" ] || msg="$*"
    local out rc
    out=$(run_cmd "$@" 2>&1)
    rc=$?
    if [ "$rc" -eq 0 ]; then
        pass "$msg"
        [ "$VERBOSE" = 1 ] && [ -n "$out" ] && printf '%s\n' "$out" | _indent
    else
        fail "$msg" "command: $*" "exit status $rc, output:" "$out"
    fi
    return "$rc"
}

# check_fail [-m MSG] CMD...   passes when CMD exits non-zero
check_fail() {
    local msg=""
    if [ "${1:-}" = -m ]; then msg=$2; shift 2; fi
    [ -n "$msg" ] || msg="expect failure: $*"
    local out rc
    out=$(run_cmd "$@" 2>&1)
    rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ]; then
        pass "$msg"
    elif [ "$rc" -ne 0 ]; then
        fail "$msg" "command: $*" "timed out (exit $rc), output:" "$out"
        return 0
    else
        fail "$msg" "command: $*" "exited 0 but failure was expected, output:" "$out"
        return 1
    fi
    return 0
}

# check_fail_with PATTERN [-m MSG] CMD...
# passes when CMD exits non-zero and its output (stdout+stderr) matches the
# extended regex PATTERN
check_fail_with() {
    local pat=$1
    shift
    local msg=""
    if [ "${1:-}" = -m ]; then msg=$2; shift 2; fi
    [ -n "$msg" ] || msg="expect failure /$pat/: $*"
    local out rc
    out=$(run_cmd "$@" 2>&1)
    rc=$?
    if [ "$rc" -ne 0 ] && printf '%s' "$out" | grep -Eq -- "$pat"; then
        pass "$msg"
    else
        fail "$msg" "command: $*" "exit status $rc (want non-zero and output matching /$pat/), output:" "$out"
    fi
    return 0
}

# check_eq EXPECTED ACTUAL MSG
check_eq() {
    if [ "$1" == "$2" ]; then
        pass "$3"
    else
        fail "$3" "expected:" "$1" "actual:" "$2"
    fi
}

# check_match REGEX ACTUAL MSG
check_match() {
    if printf '%s' "$2" | grep -Eq -- "$1"; then
        pass "$3"
    else
        fail "$3" "expected to match /$1/, actual:" "$2"
    fi
}

# check_no_match REGEX ACTUAL MSG
check_no_match() {
    if printf '%s' "$2" | grep -Eq -- "$1"; then
        fail "$3" "expected not to match /$1/, actual:" "$2"
    else
        pass "$3"
    fi
}

# check_same_file A B MSG   (byte comparison with cmp)
check_same_file() {
    local out
    if out=$(cmp -- "$1" "$2" 2>&1); then
        pass "$3"
    else
        fail "$3" "cmp $1 $2:" "$out"
    fi
}

# Print the summary and exit (non-zero if anything failed).
finish() {
    cleanup
    echo
    if [ "$FAILED" -gt 0 ]; then
        echo "Failed checks in $TEST_NAME:"
        local n
        for n in "${FAILED_NAMES[@]}"; do echo "  - $n"; done
    fi
    echo "$TEST_NAME: $SKIPPED skipped"
    echo "$PASSED passed, $FAILED failed"
    trap - EXIT
    [ "$FAILED" -eq 0 ]
    exit $?
}

# have_tools TOOL...: true if all are installed, else prints SKIP and fails
have_tools() {
    local t missing=""
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || missing+=" $t"
    done
    if [ -n "$missing" ]; then
        skip "checks needing$missing: not installed"
        return 1
    fi
    return 0
}

# require_tools TOOL...: abort the script (one failure) if any is missing
require_tools() {
    local t missing=""
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || missing+=" $t"
    done
    if [ -n "$missing" ]; then
        fail "required tools missing:$missing"
        finish
    fi
}

# ---------------------------------------------------------------- users

user_exists() { getent passwd "$1" >/dev/null 2>&1; }
group_exists() { getent group "$1" >/dev/null 2>&1; }

remove_users() {
    local u
    for u in "${TEST_USERS[@]}"; do
        if user_exists "$u"; then
            userdel "$u" >/dev/null 2>&1 || userdel -f "$u" >/dev/null 2>&1
        fi
        group_exists "$u" && groupdel "$u" >/dev/null 2>&1
    done
    group_exists "$TEST_GROUP" && groupdel "$TEST_GROUP" >/dev/null 2>&1
    return 0
}

# Create dsft_alice and dsft_bob (members of dsft_staff) and dsft_carol (not a
# member), each with a private group of the same name.
setup_users() {
    remove_users
    USERS_CREATED=1
    groupadd "$TEST_GROUP" || { echo "groupadd $TEST_GROUP failed" >&2; exit 1; }
    local u groups
    for u in "${TEST_USERS[@]}"; do
        groups=()
        [ "$u" != dsft_carol ] && groups=(-G "$TEST_GROUP")
        useradd -M -U -d /nonexistent -s /usr/sbin/nologin "${groups[@]}" "$u" ||
            { echo "useradd $u failed" >&2; exit 1; }
        mkdir -p "$WORK/home/$u"
        chown "$u:$u" "$WORK/home/$u"
    done
}

uid_of() { id -u "$1"; }
gid_of() { getent group "$1" | cut -d: -f3; }

# as_user USER CMD...   run CMD as USER with its primary and supplementary
# groups, a private HOME, and the caller's umask and working directory.
as_user() {
    local u=$1
    shift
    timeout -k 10 "$CMD_TIMEOUT" \
        setpriv --reuid="$u" --regid="$u" --init-groups -- \
        env HOME="$WORK/home/$u" USER="$u" LOGNAME="$u" "$@"
}

# as_user_sh USER 'shell snippet'  (runs with sh -c, in the current dir)
as_user_sh() {
    local u=$1
    shift
    as_user "$u" sh -c "$1"
}

# fsop [ARGS...]: the python syscall helper (prints OK / ERR ENAME)
fsop() { "$PY" "$FSOP" "$@"; }

# ---------------------------------------------------------------- mounts

is_mounted() {
    local p
    p=$(realpath -m -- "$1")
    awk -v p="$p" '$2 == p { found = 1 } END { exit !found }' /proc/self/mounts
}

# PIDs of processes whose command line mentions the mountpoint (the daemon
# this test started; the mountpoint path is unique to this test run).
daemon_pids() {
    local mnt=$1 d
    for d in /proc/[0-9]*; do
        [ -r "$d/cmdline" ] || continue
        if tr '\0' '\n' <"$d/cmdline" 2>/dev/null | grep -Fxq -- "$mnt"; then
            echo "${d#/proc/}"
        fi
    done
}

force_unmount() {
    local mnt=$1 i pid
    is_mounted "$mnt" || return 0
    fusermount3 -u "$mnt" >/dev/null 2>&1 || fusermount3 -uz "$mnt" >/dev/null 2>&1
    for i in 1 2 3 4 5 6 7 8 9 10; do
        is_mounted "$mnt" || break
        sleep 0.3
        [ "$i" = 5 ] && umount -l "$mnt" >/dev/null 2>&1
    done
    if is_mounted "$mnt"; then
        umount -l "$mnt" >/dev/null 2>&1
    fi
    # the daemon should exit on unmount; give it a moment, then end it
    for pid in $(daemon_pids "$mnt"); do
        for i in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.3
        done
        kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
    done
    return 0
}

# create_vault VAULT [PASSFILE]
create_vault() {
    local vault=$1 pf=${2:-$PASSFILE}
    "$DOSSIERCTL" init "$vault" --passphrase-file "$pf"
}

# mount_vault [VAULT [MNT [EXTRA ARGS...]]]
# Creates VAULT (with $PASSFILE) if it does not exist, mounts it on MNT and
# sets the globals VAULT, MNT and BACKING (the directory holding the stored
# data: the vault, or in DEV_NATIVE mode the plain directory itself).
# write_policy DIR FILE TEXT: writes one policy file, root-owned, 0644, in a
# root-owned 0755 DIR (created if missing), as the daemon requires. The file
# is replaced in one rename, as an editor would.
write_policy() {
    local dir=$1 file=$2 text=$3
    mkdir -p "$dir" && chown root:root "$dir" && chmod 0755 "$dir" || return 1
    printf '%s\n' "$text" >"$dir/.$file.tmp" &&
        chmod 0644 "$dir/.$file.tmp" &&
        mv -f "$dir/.$file.tmp" "$dir/$file"
}

# open_policy: a policy under WORK that lets root and the test users do
# everything on every client, for the tests of the filesystem itself.
# Prints its directory.
open_policy() {
    local dir=$WORK/policy-open
    if [ ! -f "$dir/open.ini" ]; then
        write_policy "$dir" open.ini "[role everything]
description = Tests of the filesystem itself: no restriction.
members = root, $(IFS=,; printf "%s" "${TEST_USERS[*]}")
scope = all
allow = list, read, write, create, rename, delete, register, share, admin" >&2 || return 1
    fi
    printf '%s\n' "$dir"
}

mount_vault() {
    local vault=${1:-$WORK/vault} mnt=${2:-$WORK/mnt}
    if [ $# -gt 2 ]; then shift 2; else set --; fi
    if [ "$DEV_NATIVE" = 1 ]; then
        if [ -n "$TARGET_DIR" ] && [ "$mnt" = "$WORK/mnt" ]; then
            TARGET_CLEAN=dsft-$$
            mnt=$TARGET_DIR/$TARGET_CLEAN
        fi
        mkdir -p "$mnt"
        chmod 0755 "$mnt"
        # shellcheck disable=SC2034
        VAULT=$mnt MNT=$mnt BACKING=$mnt
        return 0
    fi
    if [ ! -x "$DOSSIERFS" ] || [ ! -x "$DOSSIERCTL" ]; then
        echo "dossierfs/dossierctl not found ($DOSSIERFS, $DOSSIERCTL);" \
            "build them or set DEV_NATIVE=1" >&2
        return 1
    fi
    if ! command -v fusermount3 >/dev/null 2>&1; then
        echo "fusermount3 not found (install fuse3)" >&2
        return 1
    fi
    if [ ! -e "$vault" ]; then
        create_vault "$vault" || { echo "dossierctl init $vault failed" >&2; return 1; }
    fi
    mkdir -p "$mnt"
    chmod 0755 "$mnt"
    MOUNTS+=("$mnt")
    local out rc policy=$POLICY_DIR
    if [ -z "$policy" ]; then
        policy=$(open_policy) || { echo "cannot write the test policy" >&2; return 1; }
    fi
    out=$(timeout -k 10 120 "$DOSSIERFS" "$vault" "$mnt" \
        --passphrase-file "$PASSFILE" -o "$MOUNT_OPTS" -o "policy=$policy" \
        "$@" 2>&1 9>&-)
    rc=$?
    if [ "$rc" -ne 0 ] || ! is_mounted "$mnt"; then
        echo "mount of $vault on $mnt failed (exit $rc): $out" >&2
        return 1
    fi
    # shellcheck disable=SC2034
    VAULT=$vault MNT=$mnt BACKING=$vault
    return 0
}

# unmount_vault [MNT]: clean unmount; returns non-zero if it did not work
unmount_vault() {
    local mnt=${1:-$MNT} i
    [ "$DEV_NATIVE" = 1 ] && return 0
    fusermount3 -u "$mnt" || return 1
    for i in $(seq 1 50); do
        is_mounted "$mnt" || break
        sleep 0.1
    done
    if is_mounted "$mnt"; then
        echo "still mounted after fusermount3 -u: $mnt" >&2
        return 1
    fi
    # wait for the daemon to go away, so the vault can be remounted
    local pid
    for pid in $(daemon_pids "$mnt"); do
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    done
    return 0
}

# wait_erased [VAULT]: waits (up to 120 s: a sanitizer build is slow) until
# the vault's erase queue is empty; returns non-zero if it is not by then.
wait_erased() {
    local vault=${1:-$VAULT} i
    for i in $(seq 1 600); do
        [ -z "$(ls -A "$vault/erase" 2>/dev/null)" ] && return 0
        sleep 0.2
    done
    return 1
}

# sanitizer_findings FILE...: prints what sanitizer reports in FILEs say
# about our code; prints nothing if there is nothing. One thing is left
# out, with a note on stderr: a leak whose allocating frame (#1) is inside
# libfuse3 itself. libfuse 3.14 keeps a FUSE_INTERRUPT whose request was
# already answered on a list that fuse_session_destroy never frees (128
# bytes, struct fuse_req); the kernel sends one when a reader is killed
# during a read, so it is a libfuse leak, not ours. Every other report (any
# leak allocated by our code, any ASan or UBSan error) is printed.
sanitizer_findings() {
    awk '
        function flush() {
            if (blk == "") return
            if (leak && lib) libfuse++
            else if (leak || err) out = out blk "\n"
            blk = ""; leak = 0; lib = 0; err = 0
        }
        /^$/ { flush(); next }
        /^(Direct|Indirect) leak of/ { flush(); leak = 1 }
        leak && /^ *#1 / && /libfuse3\.so/ { lib = 1 }
        /ERROR: AddressSanitizer|runtime error:|WARNING: ThreadSanitizer/ { err = 1 }
        { blk = blk $0 "\n" }
        END {
            flush()
            if (libfuse) printf "note: %d leak(s) allocated inside libfuse3 left out (its unfreed FUSE_INTERRUPT list)\n", libfuse > "/dev/stderr"
            printf "%s", out
        }' "$@"
}

# scan_vault PLAINDIR [VAULTDIR]: no name of 8+ bytes and no content sample
# of any file under PLAINDIR (a plaintext tree: the mount itself or the
# native reference) may appear anywhere in the vault's backing files.
scan_vault() {
    local plain=$1 vault=${2:-$VAULT} pats counts hits
    # Let the eraser finish: files it is removing would race the scan.
    wait_erased "$vault"
    pats=$(mktemp "$WORK/patterns.XXXXXX")
    counts=$("$PY" "$TESTS_INT_DIR/scan.py" "$plain" "$pats")
    # shellcheck disable=SC2086
    set -- $counts
    if [ "${1:-0}" -eq 0 ] || [ "${2:-0}" -eq 0 ]; then
        fail "vault scan: no markers collected from $plain" "$counts"
        return 0
    fi
    # A file the eraser removes during the scan is not a finding (what it
    # holds is ciphertext being overwritten): only that error is dropped.
    hits=$(LC_ALL=C grep -rFal -f "$pats" "$vault" 2>&1 |
        grep -v '^grep: .*/erase/[0-9a-f]*\.[a-z]*: No such file or directory$')
    if [ -z "$hits" ]; then
        pass "vault scan: none of $1 names and $2 content samples found in the vault"
    else
        fail "vault scan: plaintext found in the vault" "$hits" \
            "$(LC_ALL=C grep -rFaoh -f "$pats" "$vault" 2>&1 | sort | uniq -c | head -5)"
    fi
}

# require_real REASON: returns 1 (and prints SKIP) in DEV_NATIVE mode
require_real() {
    if [ "$DEV_NATIVE" = 1 ]; then
        skip "$1 (needs the real dossierfs; DEV_NATIVE=1)"
        return 1
    fi
    return 0
}

# ---------------------------------------------------------------- setup

cleanup() {
    [ "$CLEANED" = 1 ] && return 0
    CLEANED=1
    local m
    for m in "${MOUNTS[@]}"; do force_unmount "$m"; done
    [ "$USERS_CREATED" = 1 ] && remove_users
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        if awk -v w="$WORK/" 'index($2, w) == 1 { f = 1 } END { exit !f }' /proc/self/mounts; then
            echo "WARNING: something is still mounted under $WORK; not removing it" >&2
        else
            rm -rf -- "$WORK"
        fi
    fi
    if [ "$DEV_NATIVE" = 1 ] && [ -n "$TARGET_DIR" ] && [ -n "${TARGET_CLEAN:-}" ]; then
        rm -rf -- "${TARGET_DIR:?}/$TARGET_CLEAN"
    fi
    return 0
}

_on_exit() {
    local rc=$?
    cleanup
    exit "$rc"
}

# init_test: common start of every test script
init_test() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "$TEST_NAME: must run as root" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
    if [ -z "$PY" ]; then
        echo "$TEST_NAME: python3 not found" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
    # one test script at a time on this machine: they share the dsft_ users
    exec 9>/var/tmp/dsft-tests.lock
    if ! flock -w 3600 9; then
        echo "$TEST_NAME: another integration test run holds /var/tmp/dsft-tests.lock" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
    trap _on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    WORK=$(mktemp -d /var/tmp/dsft.XXXXXX) || exit 1
    chmod 0755 "$WORK"
    PASSFILE=$WORK/passphrase
    printf 'correct horse battery staple %s\n' "$RANDOM$RANDOM" >"$PASSFILE"
    chmod 0600 "$PASSFILE"
    mkdir -p "$WORK/home"
    chmod 0755 "$WORK/home"
    if [ "$DEV_NATIVE" = 1 ]; then
        echo "# $TEST_NAME: DEV_NATIVE=1 — running against plain directories, not dossierfs"
    else
        echo "# $TEST_NAME: dossierfs=$DOSSIERFS dossierctl=$DOSSIERCTL"
    fi
}
