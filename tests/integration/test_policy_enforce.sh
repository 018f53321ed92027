#!/usr/bin/env bash
# The role policy enforced by the daemon, through a real mount, acting as
# real Unix users: the example policy's roles.ini and rules.ini (records
# office always on), test teams/clients/settings, and a few test-only deny
# rules (zz-dsfp.ini) for the cases the example cannot reach (an owner who
# may read but not write a file, and so on).
#
#   1. the matrix: every role against the mount root, its own, a team and
#      another client, for each operation; errno and effect both checked
#   2. attacks: '..', planted symlinks, hard links and renames across
#      clients, reopening a revoked file through /proc/self/fd, client
#      names that differ by case, Unicode normalization or trailing dots,
#      255- and 256-byte names
#   3. root without a role
#   4. time windows (days, hours) at the daemon's local time, root with an
#      admin role (chown of a client folder moves its ownership), and the
#      /proc/self/fd reopen after a live revocation
# shellcheck disable=SC2016  # python and shell snippets are single-quoted
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

init_test
if [ "$DEV_NATIVE" = 1 ]; then
    skip "policy enforcement (needs the real dossierfs; DEV_NATIVE=1)"
    finish
fi
require_tools useradd userdel groupadd groupdel setpriv fusermount3
# A hung request should cost a minute, not five.
[ "$CMD_TIMEOUT" = 300 ] && CMD_TIMEOUT=60
EXAMPLE=$TESTS_INT_DIR/../../policy

# ------------------------------------------------------------ users, cleanup

MGR=dsfp_mgr     # client-manager; owns Alpha; team north (Beta)
MGR2=dsfp_mgr2   # client-manager; owns Beta (clients.ini) and Gamma
SUP=dsfp_sup     # supervisor, team north
SEC=dsfp_sec     # infosec
LEGAL=dsfp_legal # legal
REC=dsfp_rec     # records office
AUD=dsfp_aud     # auditor
OUT=dsfp_out     # no role at all
REC2=dsfp_rec2   # phase 2: a role whose days exclude today
REC3=dsfp_rec3   # phase 2: a role whose window includes now
ROLE_GROUPS=(dossier-managers dossier-supervisors dossier-infosec
    dossier-legal dossier-records dossier-audit dossier-north dossier-south)
MY_USERS=()
MY_GROUPS=()     # groups this test created (and deletes)
BG_PIDS=()       # background processes this test started

my_cleanup() {
    local p m u g
    for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for m in "${MOUNTS[@]}"; do force_unmount "$m"; done
    for u in "${MY_USERS[@]}"; do
        user_exists "$u" && userdel -f "$u" >/dev/null 2>&1
        group_exists "$u" && groupdel "$u" >/dev/null 2>&1
    done
    for g in "${MY_GROUPS[@]}"; do
        group_exists "$g" && groupdel "$g" >/dev/null 2>&1
    done
    MY_USERS=() MY_GROUPS=() BG_PIDS=()
    return 0
}
# shellcheck disable=SC2317  # called from the EXIT trap
_pe_exit() {
    local rc=$?
    my_cleanup
    cleanup
    exit "$rc"
}
trap _pe_exit EXIT
end_test() {
    my_cleanup
    finish
}

# mkuser NAME [GROUP...]: a user with a private group and a HOME for as_user
mkuser() {
    local u=$1 g
    shift
    if user_exists "$u"; then userdel -f "$u" >/dev/null 2>&1; fi
    if group_exists "$u"; then groupdel "$u" >/dev/null 2>&1; fi
    g=$(IFS=,; echo "$*")
    useradd -M -U -d /nonexistent -s /usr/sbin/nologin ${g:+-G "$g"} "$u" || return 1
    MY_USERS+=("$u")
    mkdir -p "$WORK/home/$u"
    chown "$u:$u" "$WORK/home/$u"
}

for g in "${ROLE_GROUPS[@]}"; do
    if ! group_exists "$g"; then
        groupadd "$g" || { fail "groupadd $g"; end_test; }
        MY_GROUPS+=("$g")
    fi
done
ok=1
mkuser "$MGR" dossier-managers dossier-north || ok=0
mkuser "$MGR2" dossier-managers || ok=0
mkuser "$SUP" dossier-supervisors dossier-north || ok=0
mkuser "$SEC" dossier-infosec || ok=0
mkuser "$LEGAL" dossier-legal || ok=0
mkuser "$REC" dossier-records || ok=0
mkuser "$AUD" dossier-audit || ok=0
mkuser "$OUT" || ok=0
mkuser "$REC2" || ok=0
mkuser "$REC3" || ok=0
if [ "$ok" != 1 ]; then
    fail "create the test users"
    end_test
fi
pass "created ${#MY_USERS[@]} test users; groups created: ${MY_GROUPS[*]:-none} (the others existed)"

# ------------------------------------------------------------ syscall helper

# One system call (or a few) per run, as the calling user, umask 0 so that
# POSIX modes never get in the way of the policy. Prints "OK ..." or
# "ERR ENAME".
PT=$WORK/pt.py
cat >"$PT" <<'PYEOF'
import errno, grp, os, pwd, sys, time

os.umask(0)

def esc(b):
    return repr(bytes(b))[2:-1]

def flags(spec):
    f = 0
    for n in spec.split("|"):
        f |= getattr(os, n)
    return f

def c_stat(p):
    os.stat(p)
    return "OK"

def c_ls(p):
    names = sorted(os.listdir(os.fsencode(p)))
    return "OK " + ("|".join(esc(n) for n in names) or "<empty>")

def c_has(d, name):
    return "OK yes" if os.fsencode(name) in os.listdir(os.fsencode(d)) else "OK no"

def c_read(p):
    with open(p, "rb") as f:
        return "OK " + esc(f.read())

def c_open(p, spec):
    os.close(os.open(p, flags(spec)))
    return "OK"

def c_write(p, data):
    fd = os.open(p, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)
    return "OK"

def c_create(p, data=""):
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)
    return "OK"

def c_mkdir(p):
    os.mkdir(p, 0o777)
    return "OK"

def c_rmdir(p):
    os.rmdir(p)
    return "OK"

def c_unlink(p):
    os.unlink(p)
    return "OK"

def c_rename(a, b):
    os.rename(a, b)
    return "OK"

def c_link(a, b):
    os.link(a, b)
    return "OK"

def c_symlink(target, p):
    os.symlink(target, p)
    return "OK"

def c_readlink(p):
    return "OK " + os.readlink(p)

def c_truncate(p, n):
    os.truncate(p, int(n))
    return "OK"

def c_chmod(p, mode):
    os.chmod(p, int(mode, 8))
    return "OK"

def c_chown(p, user):
    os.chown(p, pwd.getpwnam(user).pw_uid, -1)
    return "OK"

def c_chgrp(p, group):
    os.chown(p, -1, grp.getgrnam(group).gr_gid)
    return "OK"

def c_utime(p):
    os.utime(p, None)
    return "OK"

def c_setxattr(p, name, value):
    os.setxattr(p, name, value.encode())
    return "OK"

def c_getxattr(p, name):
    return "OK " + esc(os.getxattr(p, name))

def c_rmxattr(p, name):
    os.removexattr(p, name)
    return "OK"

def c_mode(p):
    return "OK %04o" % (os.lstat(p).st_mode & 0o7777)

def c_owner(p):
    return "OK " + pwd.getpwuid(os.lstat(p).st_uid).pw_name

def c_group(p):
    return "OK " + grp.getgrgid(os.lstat(p).st_gid).gr_name

def c_size(p):
    return "OK %d" % os.lstat(p).st_size

def c_nlink(p):
    return "OK %d" % os.lstat(p).st_nlink

def c_mtime(p):
    return "OK %d" % os.lstat(p).st_mtime_ns

def c_hold(p, ready, go, out):
    """Open p read-only, reopen it through /proc/self/fd (read-only, then
    write-only), tell the caller, wait for its go, reopen it again; the
    results go to out."""
    res = []
    fd = os.open(p, os.O_RDONLY)

    def reopen(spec):
        try:
            os.close(os.open("/proc/self/fd/%d" % fd, flags(spec)))
            return "OK"
        except OSError as e:
            return "ERR " + errno.errorcode.get(e.errno, str(e.errno))

    res.append("pre-rdonly=" + reopen("O_RDONLY"))
    res.append("pre-wronly=" + reopen("O_WRONLY"))
    open(ready, "w").close()
    end = time.time() + 120
    while not os.path.exists(go) and time.time() < end:
        time.sleep(0.05)
    res.append("post-rdonly=" + reopen("O_RDONLY"))
    res.append("post-rdwr=" + reopen("O_RDWR"))
    os.close(fd)
    with open(out, "w") as f:
        f.write(" ".join(res) + "\n")
    return "OK"

if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["-C"]:
        os.chdir(args[1])
        args = args[2:]
    fn = globals().get("c_" + args[0])
    if fn is None:
        sys.exit("unknown command " + args[0])
    try:
        print(fn(*args[1:]))
    except OSError as e:
        print("ERR " + errno.errorcode.get(e.errno, str(e.errno)))
PYEOF
chmod 0644 "$PT"

# pt USER ARGS...: the helper as USER (root: as root itself)
pt() {
    local u=$1
    shift
    if [ "$u" = root ]; then
        timeout -k 10 "$CMD_TIMEOUT" "$PY" "$PT" "$@"
    else
        as_user "$u" "$PY" "$PT" "$@"
    fi
}
short() { printf '%s' "${1#dsfp_}"; }
# cell USER EXPECTED DESC ARGS...: the helper's output must be EXPECTED
cell() {
    local u=$1 exp=$2 d=$3
    shift 3
    check_eq "$exp" "$(pt "$u" "$@" 2>&1)" "$(short "$u"): $d"
}
# cellm USER REGEX DESC ARGS...: the output must match REGEX
cellm() {
    local u=$1 re=$2 d=$3
    shift 3
    check_match "$re" "$(pt "$u" "$@" 2>&1)" "$(short "$u"): $d"
}

# ------------------------------------------------------------ mounting

VAULTP=$WORK/vault
MNTP=$WORK/mnt
DPID=""
DLOG=""
NMOUNT=0

# pmount POLICYDIR: mounts $VAULTP on $MNTP with that policy; the daemon
# runs with -f in the background, its output in $DLOG.
pmount() {
    local pol=$1 i
    NMOUNT=$((NMOUNT + 1))
    DLOG=$WORK/daemon.$NMOUNT.log
    mkdir -p "$MNTP"
    chmod 0755 "$MNTP"
    case " ${MOUNTS[*]} " in *" $MNTP "*) ;; *) MOUNTS+=("$MNTP") ;; esac
    "$DOSSIERFS" "$VAULTP" "$MNTP" --passphrase-file "$PASSFILE" -f \
        -o "$MOUNT_OPTS,policy=$pol" </dev/null >"$DLOG" 2>&1 9>&- &
    DPID=$!
    BG_PIDS+=("$DPID")
    for i in $(seq 1 600); do
        is_mounted "$MNTP" && return 0
        kill -0 "$DPID" 2>/dev/null || break
        sleep 0.1
    done
    echo "mount with policy $pol failed; daemon output:" >&2
    sed -e 's/^/    /' "$DLOG" >&2
    return 1
}

punmount() {
    unmount_vault "$MNTP" || force_unmount "$MNTP"
    wait "$DPID" 2>/dev/null
    return 0
}

# install_ini DIR NAME: stdin becomes DIR/NAME, root-owned 0644, replaced
# atomically (written under a hidden name, which the policy skips, then
# renamed).
install_ini() {
    local tmp=$1/.$2.tmp
    cat >"$tmp"
    chmod 0644 "$tmp"
    mv -f "$tmp" "$1/$2"
}

# ------------------------------------------------------------ the policy

P=$WORK/policy
mkdir -m 0755 "$P"
cp "$EXAMPLE/rules.ini" "$P/rules.ini"
sed -e 's/^days = mon-fri$/days = mon-sun/' -e 's/^hours = 08:00-18:00$/hours = 00:00-24:00/' \
    "$EXAMPLE/roles.ini" >"$P/roles.ini"
chmod 0644 "$P"/*.ini
rec_block=$(sed -n '/^\[role records-office\]/,/^\[/p' "$P/roles.ini")
check_match 'days = mon-sun' "$rec_block" "records-office days made always-on in the test copy"
check_match 'hours = 00:00-24:00' "$rec_block" "records-office hours made always-on in the test copy"

NFC=$'M\xc3\xbcller'   # "Müller", composed
NFD=$'Mu\xcc\x88ller'  # "Müller", decomposed
NFC_E='M\xc3\xbcller'  # as the helper prints them
NFD_E='Mu\xcc\x88ller'
install_ini "$P" settings.ini <<'INI'
[settings]
node = dsfp-test
INI
install_ini "$P" teams.ini <<'INI'
[team north]
members = @dossier-north

[team south]
members = @dossier-south
INI
install_ini "$P" clients.ini <<INI
[client Beta]
owner = $MGR2
team = north

[client company-templates]
owner = $MGR

[client Reserved-X]
owner = $MGR2

[client Reserved-Z]
owner = $MGR2

[client Case-Client]
owner = $MGR
team = north

[client $NFC]
owner = $MGR
team = north

[client Dots]
owner = $MGR
team = north
INI
install_ini "$P" zz-dsfp.ini <<'INI'
; test-only rules for cases the example policy cannot reach
[rule dsfp-frozen]
roles = client-manager
effect = deny
permissions = write
files = frozen*

[rule dsfp-blind]
roles = client-manager
effect = deny
permissions = read
files = blind*

[rule dsfp-keep]
roles = client-manager
effect = deny
permissions = delete
files = keep*

[rule dsfp-locked]
roles = client-manager
effect = deny
permissions = delete
scope = clients:Locked-*
INI

out=$("$DOSSIERCTL" policy check "$P" 2>&1)
rc=$?
check_eq 0 "$rc" "dossierctl policy check accepts the test policy"
[ "$rc" = 0 ] || printf '%s\n' "$out" | _indent

if ! create_vault "$VAULTP" >/dev/null 2>&1; then
    fail "dossierctl init $VAULTP"
    end_test
fi
if ! pmount "$P"; then
    fail "mount with -o policy=$P"
    end_test
fi
pass "mounted $VAULTP on $MNTP with -o policy=$P"
M=$MNTP
A=$M/Alpha B=$M/Beta G=$M/Gamma T=$M/company-templates

# ------------------------------------------------------------ setup
section "setup by the owners (register, create)"
setup_ok=1
sx() { # sx USER ARGS...: a setup step that must work
    local got
    got=$(pt "$@" 2>&1)
    if [ "$got" != OK ]; then
        setup_ok=0
        fail "setup: $(short "$1") ${*:2}" "got: $got"
    fi
}
sx "$MGR" mkdir "$A"
sx "$MGR" mkdir "$T"
sx "$MGR2" mkdir "$B"
sx "$MGR2" mkdir "$G"
for f in notes.txt:alpha-notes contract-2024.pdf:alpha-contract CONTRACT-UPPER.pdf:upper \
    id-scan-front.jpg:alpha-scan old.txt:old keep.txt:keep t.txt:0123456789 \
    chmod.txt:chmod; do
    sx "$MGR" create "$A/${f%%:*}" "${f#*:}"
done
for d in ID contracts docs emptydir emptydir2; do sx "$MGR" mkdir "$A/$d"; done
sx "$MGR" create "$A/ID/passport.jpg" passport
sx "$MGR" create "$A/contracts/nda.txt" nda
sx "$MGR" create "$A/docs/sale-agreement.txt" sale
sx "$MGR" create "$A/tmp1" frozen-content
sx "$MGR" rename "$A/tmp1" "$A/frozen.txt"
sx "$MGR" create "$A/tmp2" blind-content
sx "$MGR" rename "$A/tmp2" "$A/blind.txt"
sx "$MGR" symlink notes.txt "$A/contract-link.pdf"
sx "$MGR" create "$T/form.txt" blank-form
for f in report.txt:beta-report id-scan-back.png:beta-scan agreement-beta.txt:beta-agreement \
    move-me.txt:moving; do
    sx "$MGR2" create "$B/${f%%:*}" "${f#*:}"
done
for d in ID sub emptyb; do sx "$MGR2" mkdir "$B/$d"; done
sx "$MGR2" create "$B/ID/license.jpg" license
sx "$MGR2" create "$B/sub/id-scan-x.jpg" deep-scan
sx "$MGR2" create "$B/sub/plain.txt" plain
sx "$MGR2" create "$G/secret.txt" gamma-secret
[ "$setup_ok" = 1 ] && pass "owners registered Alpha, Beta, Gamma, company-templates and filled them"
cell "$MGR" "OK $MGR" "the creator owns the client folder (uid)" owner "$A"
cell "$MGR2" "OK 0777" "client folders get the mode asked for" mode "$B"

# ------------------------------------------------------------ the mount root
section "mount root: listing shows only the clients one may list"
ALL4='Alpha|Beta|Gamma|company-templates'
cell "$MGR" 'OK Alpha|Beta|company-templates' "lists own, team and template clients" ls "$M"
cell "$MGR2" 'OK Beta|Gamma|company-templates' "lists own (Beta by clients.ini owner, Gamma by creation) and templates" ls "$M"
cell "$SUP" 'OK Beta|company-templates' "lists the team client and templates only" ls "$M"
cell "$SEC" "OK $ALL4" "scope all: lists every client" ls "$M"
cell "$LEGAL" "OK $ALL4" "scope all with files: still lists every client folder" ls "$M"
cell "$REC" "OK $ALL4" "scope all: lists every client" ls "$M"
cell "$AUD" "OK .audit|$ALL4" "scope all: lists every client, and the root's .audit" ls "$M"
cell "$OUT" 'ERR EACCES' "no role: cannot list the mount root" ls "$M"

# Groups come from the system (getgrouplist), not from the process: with
# its supplementary groups dropped, the manager still has its roles and team.
out=$(timeout -k 10 "$CMD_TIMEOUT" setpriv --reuid="$MGR" --regid="$MGR" --clear-groups -- \
    env HOME="$WORK/home/$MGR" "$PY" "$PT" ls "$M" 2>&1)
check_eq 'OK Alpha|Beta|company-templates' "$out" "mgr: same listing with the process's supplementary groups cleared"

section "mount root: lookup of own, team, other client"
cell "$MGR" OK "own client Alpha" stat "$A"
cell "$MGR" OK "team client Beta" stat "$B"
cell "$MGR" 'ERR ENOENT' "other client Gamma: hidden (ENOENT)" stat "$G"
cell "$MGR2" 'ERR ENOENT' "other client Alpha: hidden (ENOENT)" stat "$A"
cell "$MGR2" OK "own client Gamma" stat "$G"
cell "$SUP" OK "team client Beta" stat "$B"
cell "$SUP" 'ERR ENOENT' "non-team client Alpha: ENOENT, not EACCES" stat "$A"
cell "$SUP" 'ERR ENOENT' "non-team client Gamma: ENOENT" stat "$G"
cell "$SUP" 'ERR ENOENT' "a client that does not exist: the same ENOENT" stat "$M/No-Such-Client"
cell "$OUT" 'ERR ENOENT' "no role: Alpha is hidden (ENOENT)" stat "$A"
cell "$OUT" 'ERR ENOENT' "no role: Beta is hidden (ENOENT)" stat "$B"
# Right after an allowed lookup of the same name by someone else (a kernel
# dentry cached for one user must not serve another).
cell "$MGR" OK "Alpha again (owner)" stat "$A/notes.txt"
cell "$SUP" 'ERR ENOENT' "Alpha right after the owner's lookup: still ENOENT" stat "$A"
cell "$SUP" 'ERR ENOENT' "Alpha/notes.txt right after the owner's lookup: ENOENT" read "$A/notes.txt"
cell "$SEC" OK "infosec: Gamma visible" stat "$G"
cell "$AUD" OK "auditor: Gamma visible" stat "$G"

# ------------------------------------------------------------ readdir
section "readdir inside a client: entries without list are not shown"
ALPHA_ALL='CONTRACT-UPPER.pdf|ID|blind.txt|chmod.txt|contract-2024.pdf|contract-link.pdf|contracts|docs|emptydir|emptydir2|frozen.txt|id-scan-front.jpg|keep.txt|notes.txt|old.txt|t.txt'
BETA_ALL='ID|agreement-beta.txt|emptyb|id-scan-back.png|move-me.txt|report.txt|sub'
cell "$MGR" "OK $ALPHA_ALL" "own client: every entry" ls "$A"
cell "$MGR" "OK $BETA_ALL" "team client: every entry" ls "$B"
cell "$SUP" "OK $BETA_ALL" "supervisor lists the team client (the ID deny is for read only)" ls "$B"
cell "$SUP" 'OK license.jpg' "supervisor lists Beta/ID" ls "$B/ID"
cell "$LEGAL" 'OK contract-2024.pdf|contract-link.pdf|contracts' "legal sees only entries matching its files globs" ls "$A"
cell "$LEGAL" 'OK nda.txt' "legal lists a folder named contracts" ls "$A/contracts"
cell "$LEGAL" 'ERR EACCES' "legal cannot enter docs (no list on it): EACCES" ls "$A/docs"
cell "$LEGAL" 'OK agreement-beta.txt' "legal in Beta: the agreement only" ls "$B"
cell "$LEGAL" 'OK <empty>' "legal in Gamma: folder listable, no entry matches" ls "$G"
cell "$SEC" "OK $ALPHA_ALL" "infosec lists every entry" ls "$A"
cell "$REC" "OK $ALPHA_ALL" "records office lists every entry" ls "$A"
cell "$AUD" "OK .audit|$ALPHA_ALL" "auditor lists every entry, and the client's .audit" ls "$A"
cell "$MGR" 'ERR ENOENT' "other client Gamma: ENOENT" ls "$G"
cell "$OUT" 'ERR ENOENT' "no role: ENOENT" ls "$A"
cell "$SUP" 'OK blank-form' "templates: everyone with a role reads form.txt (rule office-templates)" read "$T/form.txt"
cell "$LEGAL" 'OK form.txt' "templates: legal lists them through the rule" ls "$T"

section "lookup inside a client: EACCES without list"
cell "$LEGAL" 'ERR EACCES' "stat notes.txt (no list on it)" stat "$A/notes.txt"
cell "$LEGAL" OK "stat contract-2024.pdf" stat "$A/contract-2024.pdf"
cell "$LEGAL" 'ERR EACCES' "stat docs/sale-agreement.txt (docs not listable)" stat "$A/docs/sale-agreement.txt"
cell "$SUP" OK "supervisor: stat id-scan-back.png (list yes, read no)" stat "$B/id-scan-back.png"
# Right after the owner looked the same names up: the kernel's dentry cache
# is shared between users and must not let legal past a missing list to
# any content. (Metadata is the documented limit: for up to the 1 s entry
# timeout, stat of a name inside a client folder legal may list can be
# answered from the kernel's cache; see policy/README.md, "Caches".)
cell "$MGR" OK "owner: stat notes.txt" stat "$A/notes.txt"
cell "$LEGAL" 'ERR EACCES' "read notes.txt right after the owner's lookup" read "$A/notes.txt"
cell "$MGR" OK "owner: stat docs/sale-agreement.txt" stat "$A/docs/sale-agreement.txt"
cell "$MGR" "OK sale" "owner: read docs/sale-agreement.txt" read "$A/docs/sale-agreement.txt"
cell "$LEGAL" 'ERR EACCES' "read docs/sale-agreement.txt right after the owner (docs not listable)" read "$A/docs/sale-agreement.txt"
cell "$MGR" OK "owner: stat docs" stat "$A/docs"
cell "$LEGAL" 'ERR EACCES' "list docs right after the owner's lookup" ls "$A/docs"

# ------------------------------------------------------------ read
section "read (open O_RDONLY)"
cell "$MGR" "OK alpha-notes" "own client" read "$A/notes.txt"
cell "$MGR" "OK beta-report" "team client" read "$B/report.txt"
cell "$MGR" 'ERR ENOENT' "other client" read "$G/secret.txt"
cell "$MGR2" "OK gamma-secret" "own client Gamma" read "$G/secret.txt"
cell "$MGR2" 'ERR ENOENT' "other client Alpha" read "$A/notes.txt"
cell "$SUP" "OK beta-report" "team client" read "$B/report.txt"
cell "$SUP" "OK plain" "team client, subfolder" read "$B/sub/plain.txt"
cell "$SUP" 'ERR EACCES' "id-scan* file: denied by supervisors-no-id-scans" read "$B/id-scan-back.png"
cell "$SUP" 'ERR EACCES' "id-scan* at depth: denied" read "$B/sub/id-scan-x.jpg"
cell "$SUP" 'ERR EACCES' "file in folder ID: denied" read "$B/ID/license.jpg"
cell "$LEGAL" "OK alpha-contract" "a contract" read "$A/contract-2024.pdf"
cell "$LEGAL" "OK nda" "a file in folder contracts" read "$A/contracts/nda.txt"
cell "$LEGAL" "OK beta-agreement" "an agreement in another client" read "$B/agreement-beta.txt"
cell "$LEGAL" 'ERR EACCES' "a non-contract file" read "$A/notes.txt"
cell "$LEGAL" 'ERR EACCES' "CONTRACT in capitals does not match *[Cc]ontract*" read "$A/CONTRACT-UPPER.pdf"
cell "$LEGAL" 'ERR EACCES' "an agreement inside an unlistable folder" read "$A/docs/sale-agreement.txt"
cell "$LEGAL" 'ERR EACCES' "non-contract in Beta" read "$B/report.txt"
cell "$LEGAL" 'ERR EACCES' "non-contract in Gamma" read "$G/secret.txt"
cell "$SEC" 'ERR EACCES' "infosec never reads contents" read "$A/notes.txt"
cell "$SEC" 'ERR EACCES' "infosec: templates denied too (deny beats the template allow)" read "$T/form.txt"
cell "$REC" "OK alpha-notes" "records office reads any client" read "$A/notes.txt"
cell "$REC" "OK gamma-secret" "records office reads Gamma" read "$G/secret.txt"
cell "$AUD" 'ERR EACCES' "auditor never reads contents" read "$A/notes.txt"
cell "$AUD" 'ERR EACCES' "auditor: templates denied too" read "$T/form.txt"
cell "$OUT" 'ERR ENOENT' "no role" read "$A/notes.txt"
cell "$OUT" 'ERR ENOENT' "no role: templates" read "$T/form.txt"
cell "$MGR2" "OK blank-form" "templates, through the rule" read "$T/form.txt"
cell "$MGR" OK "frozen.txt: read allowed (only write denied)" open "$A/frozen.txt" O_RDONLY
cell "$MGR" 'ERR EACCES' "blind.txt: O_RDONLY denied (dsfp-blind)" open "$A/blind.txt" O_RDONLY

# ------------------------------------------------------------ write
section "write: O_WRONLY needs write, O_RDWR needs both, O_TRUNC needs write"
cell "$MGR" OK "own client: write" write "$A/t.txt" "alpha-t2"
cell "$MGR" "OK alpha-t2" "  effect: content replaced" read "$A/t.txt"
cell "$MGR" OK "team client: write" write "$B/report.txt" "beta-report2"
cell "$MGR2" "OK beta-report2" "  effect: the owner reads the new content" read "$B/report.txt"
cell "$MGR" OK "blind.txt: O_WRONLY allowed without read" write "$A/blind.txt" "blind2"
cell "$REC" "OK blind2" "  effect: written (read back by the records office)" read "$A/blind.txt"
cell "$MGR" 'ERR EACCES' "blind.txt: O_RDWR needs read too" open "$A/blind.txt" O_RDWR
cell "$MGR" 'ERR EACCES' "frozen.txt: O_WRONLY denied" open "$A/frozen.txt" O_WRONLY
cell "$MGR" 'ERR EACCES' "frozen.txt: O_RDWR denied" open "$A/frozen.txt" O_RDWR
cell "$MGR" 'ERR EACCES' "frozen.txt: O_RDONLY|O_TRUNC denied" open "$A/frozen.txt" 'O_RDONLY|O_TRUNC'
cell "$MGR" "OK frozen-content" "  effect: frozen.txt unchanged" read "$A/frozen.txt"
cell "$REC" 'ERR EACCES' "records office: O_WRONLY" open "$A/notes.txt" O_WRONLY
cell "$REC" 'ERR EACCES' "records office: O_RDWR" open "$A/notes.txt" O_RDWR
cell "$REC" 'ERR EACCES' "records office: O_RDONLY|O_TRUNC" open "$A/notes.txt" 'O_RDONLY|O_TRUNC'
cell "$REC" 'ERR EACCES' "records office: write with O_TRUNC" write "$A/notes.txt" x
cell "$SUP" 'ERR EACCES' "supervisor: write in the team client" write "$B/report.txt" x
cell "$SUP" 'ERR EACCES' "supervisor: write a template" write "$T/form.txt" x
cell "$LEGAL" 'ERR EACCES' "write a contract" write "$A/contract-2024.pdf" x
cell "$SEC" 'ERR EACCES' "infosec: write" write "$A/notes.txt" x
cell "$AUD" 'ERR EACCES' "auditor: write" write "$A/notes.txt" x
cell "$MGR2" 'ERR ENOENT' "other client: write" write "$A/notes.txt" x
cell "$OUT" 'ERR ENOENT' "no role: write" write "$A/notes.txt" x
cell "$MGR" "OK alpha-notes" "  effect: notes.txt unchanged" read "$A/notes.txt"
cell "$MGR" "OK alpha-contract" "  effect: contract unchanged" read "$A/contract-2024.pdf"
cell "$MGR2" "OK beta-report2" "  effect: Beta/report.txt unchanged" read "$B/report.txt"
cell "$MGR" "OK blank-form" "  effect: form.txt unchanged" read "$T/form.txt"

# ------------------------------------------------------------ create, mkdir, symlink
section "create / mkdir / symlink inside a client need create"
cell "$MGR" OK "own client: create" create "$A/new.txt" new
cell "$MGR" "OK new" "  effect: exists with its content" read "$A/new.txt"
cell "$MGR" OK "team client: create" create "$B/from-mgr.txt" hello
cell "$MGR2" "OK hello" "  effect: the owner sees it" read "$B/from-mgr.txt"
cell "$MGR" OK "own client: mkdir" mkdir "$A/newdir"
cell "$MGR" OK "  effect: the folder exists" stat "$A/newdir"
cell "$MGR" OK "own client: symlink" symlink new.txt "$A/sl"
cell "$MGR" "OK new.txt" "  effect: the link exists" readlink "$A/sl"
for u in "$REC" "$SEC" "$AUD" "$LEGAL"; do
    cell "$u" 'ERR EACCES' "create in Alpha" create "$A/by-$u.txt" x
    cell "$u" 'ERR EACCES' "mkdir in Alpha" mkdir "$A/dir-$u"
    cell "$u" 'ERR EACCES' "symlink in Alpha" symlink notes.txt "$A/sl-$u"
done
cell "$LEGAL" 'ERR EACCES' "create a contract-named file" create "$A/contracts/new-contract.txt" x
cell "$SUP" 'ERR EACCES' "supervisor: create in the team client" create "$B/sup.txt" x
cell "$SUP" 'ERR EACCES' "supervisor: mkdir in the team client" mkdir "$B/supdir"
cell "$MGR2" 'ERR ENOENT' "other client: create" create "$A/x.txt" x
cell "$OUT" 'ERR ENOENT' "no role: create" create "$A/x.txt" x
cell "$OUT" 'ERR ENOENT' "no role: mkdir" mkdir "$A/xd"
cell "$MGR" 'OK CONTRACT-UPPER.pdf|ID|blind.txt|chmod.txt|contract-2024.pdf|contract-link.pdf|contracts|docs|emptydir|emptydir2|frozen.txt|id-scan-front.jpg|keep.txt|new.txt|newdir|notes.txt|old.txt|sl|t.txt' "  effect: nothing else appeared in Alpha" ls "$A"
cell "$MGR2" 'ERR ENOENT' "  effect: no sup.txt in Beta" stat "$B/sup.txt"
cell "$MGR2" 'ERR ENOENT' "  effect: no supdir in Beta" stat "$B/supdir"
cell "$MGR" 'ERR ENOENT' "  effect: no new-contract.txt" stat "$A/contracts/new-contract.txt"

# ------------------------------------------------------------ rename
section "rename: rename on both names, delete on a replaced target, never widen"
cell "$MGR" OK "own client: rename a file" rename "$A/new.txt" "$A/new2.txt"
cell "$MGR" "OK new" "  effect: content under the new name" read "$A/new2.txt"
cell "$MGR" 'ERR ENOENT' "  effect: old name gone" stat "$A/new.txt"
cell "$MGR" OK "own client: rename a folder" rename "$A/newdir" "$A/newdir2"
cell "$MGR" OK "between two clients one may rename in (team -> own)" rename "$B/move-me.txt" "$A/moved.txt"
cell "$MGR" "OK moving" "  effect: content intact in Alpha" read "$A/moved.txt"
cell "$MGR2" 'ERR ENOENT' "  effect: gone from Beta" stat "$B/move-me.txt"
cell "$MGR" OK "rename onto an existing file (delete allowed on it)" rename "$A/new2.txt" "$A/t.txt"
cell "$MGR" "OK new" "  effect: target replaced" read "$A/t.txt"
cell "$MGR" OK "setup: a file to rename onto keep.txt" create "$A/r-src.txt" src
cell "$MGR" 'ERR EACCES' "rename onto keep.txt (no delete on the target)" rename "$A/r-src.txt" "$A/keep.txt"
cell "$MGR" "OK keep" "  effect: keep.txt unchanged" read "$A/keep.txt"
cell "$MGR" "OK src" "  effect: the source is still there" read "$A/r-src.txt"
cell "$MGR" 'ERR EACCES' "widening: frozen.txt -> thawed.txt (write under the new name)" rename "$A/frozen.txt" "$A/thawed.txt"
cell "$MGR" 'ERR EACCES' "widening: blind.txt -> seen.txt (read under the new name)" rename "$A/blind.txt" "$A/seen.txt"
cell "$MGR" OK "  effect: frozen.txt still there" stat "$A/frozen.txt"
cell "$MGR" 'ERR ENOENT' "  effect: no thawed.txt" stat "$A/thawed.txt"
cell "$MGR" 'ERR ENOENT' "  effect: no seen.txt" stat "$A/seen.txt"
cell "$MGR" OK "narrowing is fine: r-src.txt -> frozen-2.txt" rename "$A/r-src.txt" "$A/frozen-2.txt"
cell "$MGR2" OK "setup: Gamma/g-move.txt" create "$G/g-move.txt" g-move
cell "$MGR2" 'ERR EACCES' "rename allowed on the old name, not on the new (into the templates)" rename "$G/g-move.txt" "$T/g-move.txt"
cell "$MGR2" "OK g-move" "  effect: still in Gamma" read "$G/g-move.txt"
cell "$MGR" 'ERR ENOENT' "  effect: not in the templates" stat "$T/g-move.txt"
cell "$REC" 'ERR EACCES' "records office: rename" rename "$A/notes.txt" "$A/notes-rec.txt"
cell "$SUP" 'ERR EACCES' "supervisor: rename in the team client" rename "$B/report.txt" "$B/report-sup.txt"
cell "$SEC" 'ERR EACCES' "infosec: rename" rename "$A/notes.txt" "$A/notes-sec.txt"
cell "$AUD" 'ERR EACCES' "auditor: rename" rename "$A/notes.txt" "$A/notes-aud.txt"
cell "$LEGAL" 'ERR EACCES' "rename a contract" rename "$A/contract-2024.pdf" "$A/contract-2025.pdf"
cell "$MGR" "OK alpha-notes" "  effect: notes.txt still there" read "$A/notes.txt"
cell "$MGR" 'ERR ENOENT' "  effect: no notes-rec.txt" stat "$A/notes-rec.txt"
cell "$MGR2" "OK beta-report2" "  effect: Beta/report.txt still there" read "$B/report.txt"
cell "$MGR" OK "  effect: contract-2024.pdf still there" stat "$A/contract-2024.pdf"

# ------------------------------------------------------------ unlink, rmdir
section "unlink / rmdir need delete"
cell "$MGR" OK "own client: unlink" unlink "$A/moved.txt"
cell "$MGR" 'ERR ENOENT' "  effect: gone" stat "$A/moved.txt"
cell "$REC" OK "records office: unlink (delete allowed)" unlink "$A/old.txt"
cell "$MGR" 'ERR ENOENT' "  effect: old.txt gone" stat "$A/old.txt"
cell "$REC" OK "records office: rmdir" rmdir "$A/emptydir2"
cell "$MGR" 'ERR ENOENT' "  effect: emptydir2 gone" stat "$A/emptydir2"
cell "$MGR" OK "own client: rmdir" rmdir "$A/emptydir"
cell "$MGR" 'ERR EACCES' "keep.txt: unlink denied (dsfp-keep)" unlink "$A/keep.txt"
cell "$SUP" 'ERR EACCES' "supervisor: unlink" unlink "$B/report.txt"
cell "$SUP" 'ERR EACCES' "supervisor: rmdir" rmdir "$B/emptyb"
cell "$SEC" 'ERR EACCES' "infosec: unlink" unlink "$A/notes.txt"
cell "$AUD" 'ERR EACCES' "auditor: unlink" unlink "$A/notes.txt"
cell "$LEGAL" 'ERR EACCES' "unlink a contract" unlink "$A/contract-2024.pdf"
cell "$MGR2" 'ERR ENOENT' "other client: unlink" unlink "$A/notes.txt"
cell "$OUT" 'ERR ENOENT' "no role: unlink" unlink "$A/notes.txt"
cell "$MGR" "OK keep" "  effect: keep.txt still there" read "$A/keep.txt"
cell "$MGR2" OK "  effect: Beta/report.txt still there" stat "$B/report.txt"
cell "$MGR2" OK "  effect: Beta/emptyb still there" stat "$B/emptyb"
cell "$MGR" "OK alpha-notes" "  effect: notes.txt still there" read "$A/notes.txt"
cell "$MGR" OK "  effect: contract still there" stat "$A/contract-2024.pdf"

# ------------------------------------------------------------ setattr, xattr
section "truncate / chmod / utimens / setxattr / removexattr need write"
cell "$MGR" OK "own file: truncate" truncate "$A/t.txt" 1
cell "$MGR" "OK 1" "  effect: size 1" size "$A/t.txt"
cell "$MGR" 'ERR EACCES' "frozen.txt: truncate" truncate "$A/frozen.txt" 0
cell "$REC" 'ERR EACCES' "records office: truncate" truncate "$A/notes.txt" 0
cell "$MGR" "OK alpha-notes" "  effect: notes.txt not truncated" read "$A/notes.txt"
cell "$MGR" "OK frozen-content" "  effect: frozen.txt not truncated" read "$A/frozen.txt"
cell "$MGR" OK "own file: chmod" chmod "$A/chmod.txt" 0640
cell "$MGR" "OK 0640" "  effect: mode changed" mode "$A/chmod.txt"
cell "$MGR" 'ERR EACCES' "frozen.txt (owner, no write): chmod" chmod "$A/frozen.txt" 0600
cell "$MGR" "OK 0666" "  effect: frozen.txt mode unchanged" mode "$A/frozen.txt"
cell "$REC" 'ERR EPERM' "records office: chmod of someone else's file (POSIX: EPERM)" chmod "$A/notes.txt" 0600
cell "$MGR" "OK 0666" "  effect: notes.txt mode unchanged" mode "$A/notes.txt"
mt_before=$(pt "$MGR" mtime "$A/frozen.txt")
cell "$MGR" 'ERR EACCES' "frozen.txt: utimens (now)" utime "$A/frozen.txt"
cell "$REC" 'ERR EACCES' "records office: utimens (now)" utime "$A/frozen.txt"
cell "$MGR" "$mt_before" "  effect: mtime unchanged" mtime "$A/frozen.txt"
cell "$MGR" OK "own file: utimens (now)" utime "$A/notes.txt"
cell "$MGR" OK "own file: setxattr user.tag" setxattr "$A/notes.txt" user.tag v1
cell "$MGR" "OK v1" "  effect: the attribute is there" getxattr "$A/notes.txt" user.tag
cell "$REC" 'ERR EACCES' "records office: setxattr" setxattr "$A/notes.txt" user.tag v2
cell "$REC" 'ERR EACCES' "records office: removexattr" rmxattr "$A/notes.txt" user.tag
cell "$SEC" 'ERR EACCES' "infosec: setxattr" setxattr "$A/notes.txt" user.tag v3
cell "$MGR" 'ERR EACCES' "frozen.txt: setxattr" setxattr "$A/frozen.txt" user.tag v1
cell "$MGR" "OK v1" "  effect: user.tag still v1" getxattr "$A/notes.txt" user.tag
cell "$MGR" 'ERR ENODATA' "  effect: frozen.txt has no user.tag" getxattr "$A/frozen.txt" user.tag
cell "$MGR" OK "own file: removexattr user.tag" rmxattr "$A/notes.txt" user.tag
cell "$MGR" 'ERR ENODATA' "  effect: user.tag gone" getxattr "$A/notes.txt" user.tag
if have_tools setfacl getfacl; then
    acl0=$(as_user "$MGR" getfacl -p "$A/chmod.txt" 2>&1)
    check_fail_with 'Operation not permitted' -m "mgr: setfacl on an own file is refused with EPERM" \
        as_user "$MGR" setfacl -m "u:$REC:rwx" "$A/chmod.txt"
    acl1=$(as_user "$MGR" getfacl -p "$A/chmod.txt" 2>&1)
    check_match '^user::rw-$' "$acl1" "  getfacl reads chmod.txt (mode 0640: user::rw-)"
    check_eq "$acl0" "$acl1" "  effect: getfacl shows the same ACL as before the setfacl"

    # getfacl shows the policy: who may do what, by name, per object.
    acl_dir=$(as_user "$MGR" getfacl -p "$A" 2>&1)
    acl_notes=$(as_user "$MGR" getfacl -p "$A/notes.txt" 2>&1)
    acl_contract=$(as_user "$MGR" getfacl -p "$A/contract-2024.pdf" 2>&1)
    check_match "^user:$MGR:rwx" "$acl_dir" "getfacl Alpha: the owner may list, create and delete (user:$MGR:rwx)"
    check_match "^user:$AUD:r-x" "$acl_dir" "getfacl Alpha: the auditor may list it (user:$AUD:r-x)"
    check_match "^user:$SEC:r-x" "$acl_dir" "getfacl Alpha: infosec may list it (user:$SEC:r-x)"
    check_match "^group:dossier-audit:r-x" "$acl_dir" "getfacl Alpha: the auditors' group (group:dossier-audit:r-x)"
    check_no_match "^user:$OUT:" "$acl_dir" "getfacl Alpha: no entry for the user without a role"
    check_match "^user:$MGR:rw-" "$acl_notes" "getfacl notes.txt: the owner reads and writes"
    check_no_match "^user:$LEGAL:" "$acl_notes" "getfacl notes.txt: no entry for legal (not a contract)"
    check_no_match "^user:$AUD:" "$acl_notes" "getfacl notes.txt: no entry for the auditor (no contents)"
    check_match "^user:$LEGAL:r--" "$acl_contract" "getfacl contract-2024.pdf: legal reads it (user:$LEGAL:r--)"
    gbits=$(as_user "$MGR" stat -c %A "$A/contract-2024.pdf" | cut -c5-7)
    check_match "^mask::${gbits:-MISSING}\$" "$acl_contract" \
        "getfacl contract-2024.pdf: the mask is the mode's group bits"
    check_match '^-.........\+' "$(as_user "$MGR" ls -l "$A/notes.txt")" "ls -l marks the file with '+' (an ACL)"
    check_fail_with 'No such file or directory' -m "getfacl on Alpha by the user without a role: ENOENT" \
        as_user "$OUT" getfacl -p "$A"
fi
cell "$MGR" 'ERR EACCES' "chgrp of the client folder itself needs admin" chgrp "$A" dossier-managers
cell "$MGR" "OK $MGR" "  effect: Alpha's group unchanged" group "$A"

# ------------------------------------------------------------ links
section "hard links: create on the new name, read on the old, never widen, never across clients"
cell "$MGR" OK "own client: link" link "$A/notes.txt" "$A/notes-hard.txt"
cell "$MGR" "OK 2" "  effect: nlink 2" nlink "$A/notes.txt"
cell "$MGR" 'ERR EACCES' "link of frozen.txt under a writable name (widening)" link "$A/frozen.txt" "$A/melt.txt"
cell "$MGR" 'ERR EACCES' "link of blind.txt (no read on the old name)" link "$A/blind.txt" "$A/blind-2.txt"
cell "$REC" 'ERR EACCES' "records office: link (no create)" link "$A/notes.txt" "$A/notes-rec.txt"
cell "$MGR" 'ERR ENOENT' "  effect: no melt.txt" stat "$A/melt.txt"
cell "$MGR" 'ERR ENOENT' "  effect: no blind-2.txt" stat "$A/blind-2.txt"
cell "$MGR" "OK 2" "  effect: notes.txt nlink still 2" nlink "$A/notes.txt"
cell "$MGR" "OK 1" "  effect: frozen.txt nlink 1" nlink "$A/frozen.txt"

# ------------------------------------------------------------ register
section "register: mkdir at the mount root"
cell "$MGR" OK "manager registers Delta" mkdir "$M/Delta"
cell "$MGR" "OK $MGR" "  effect: the creator owns it" owner "$M/Delta"
cell "$SEC" OK "  effect: infosec sees Delta" stat "$M/Delta"
cell "$SUP" 'ERR ENOENT' "  effect: not the supervisor's team" stat "$M/Delta"
for u in "$SUP" "$SEC" "$LEGAL" "$REC" "$AUD" "$OUT"; do
    cell "$u" 'ERR EACCES' "register a client (no register)" mkdir "$M/By-$u"
    cell "$SEC" 'ERR ENOENT' "  effect: no By-$(short "$u")" stat "$M/By-$u"
done
cell "$MGR" 'ERR EACCES' "register Reserved-X ([client] owner is someone else)" mkdir "$M/Reserved-X"
cell "$SEC" 'ERR ENOENT' "  effect: no Reserved-X" stat "$M/Reserved-X"
cell "$MGR2" OK "its owner may register Reserved-X" mkdir "$M/Reserved-X"
cell "$MGR" 'ERR EACCES' "plain file at the root" create "$M/file-at-root.txt" x
cell "$MGR" 'ERR EACCES' "symlink at the root" symlink Alpha "$M/link-at-root"
cell "$SEC" 'ERR ENOENT' "  effect: no file at the root" stat "$M/file-at-root.txt"
cell "$SEC" 'ERR ENOENT' "  effect: no symlink at the root" stat "$M/link-at-root"
# Moving a file out to the root would put a plain file there: refused.
# EXDEV refuses it too (mv then copies, and the create gets EACCES).
cellm "$MGR" '^ERR (EACCES|EXDEV)$' "rename a file out of a client to the root (EACCES or EXDEV)" rename "$A/t.txt" "$M/t.txt"
check_fail -m "mgr: mv of a file to the mount root fails" as_user "$MGR" mv "$A/t.txt" "$M/t.txt"
cell "$MGR" OK "  effect: t.txt still in Alpha" stat "$A/t.txt"
cell "$SEC" 'ERR ENOENT' "  effect: no t.txt at the root" stat "$M/t.txt"
cell "$MGR" OK "rename a client folder (rename on old, register on new)" rename "$M/Delta" "$M/Delta2"
cell "$SEC" OK "  effect: Delta2 exists" stat "$M/Delta2"
cell "$SEC" 'ERR ENOENT' "  effect: Delta is gone" stat "$M/Delta"
cell "$MGR" 'ERR EACCES' "rename a client folder onto a reserved name (no register on it)" rename "$M/Delta2" "$M/Reserved-Z"
cell "$SEC" OK "  effect: Delta2 still there" stat "$M/Delta2"
cell "$SEC" 'ERR ENOENT' "  effect: no Reserved-Z" stat "$M/Reserved-Z"
cell "$MGR" OK "rmdir of an own empty client folder (delete on the client)" rmdir "$M/Delta2"
cell "$SEC" 'ERR ENOENT' "  effect: Delta2 gone" stat "$M/Delta2"
cell "$MGR" OK "register Locked-1" mkdir "$M/Locked-1"
cell "$MGR" 'ERR EACCES' "rmdir Locked-1 (delete denied on the client by dsfp-locked)" rmdir "$M/Locked-1"
cell "$SEC" OK "  effect: Locked-1 still there" stat "$M/Locked-1"

# ------------------------------------------------------------ attacks
section "attacks: '..' paths"
cell "$MGR2" 'ERR ENOENT' "Gamma/../Alpha/notes.txt" read "$G/../Alpha/notes.txt"
cell "$MGR2" 'ERR ENOENT' "relative ../Alpha/notes.txt from inside Gamma" -C "$G" read ../Alpha/notes.txt
cell "$MGR2" 'ERR ENOENT' "write through Gamma/../Alpha" write "$G/../Alpha/notes.txt" pwned
cell "$SUP" 'ERR ENOENT' "Beta/../Alpha/notes.txt" read "$B/../Alpha/notes.txt"
cell "$SUP" 'ERR ENOENT' "Beta/ID/../../Gamma/secret.txt" read "$B/ID/../../Gamma/secret.txt"
cell "$LEGAL" 'ERR EACCES' "contracts/../notes.txt: judged by the real path" read "$A/contracts/../notes.txt"
cell "$LEGAL" 'ERR EACCES' "contracts/../docs/sale-agreement.txt" read "$A/contracts/../docs/sale-agreement.txt"
cell "$SUP" 'ERR EACCES' "sub/../ID/license.jpg" read "$B/sub/../ID/license.jpg"
cell "$MGR" "OK alpha-notes" "  effect: notes.txt unchanged" read "$A/notes.txt"

section "attacks: symlinks"
cell "$MGR2" OK "plant Gamma/to-alpha -> ../Alpha/notes.txt" symlink ../Alpha/notes.txt "$G/to-alpha"
cell "$MGR2" OK "plant Gamma/to-alpha-abs -> $A/notes.txt" symlink "$A/notes.txt" "$G/to-alpha-abs"
cell "$MGR2" OK "plant Gamma/alpha-dir -> ../Alpha" symlink ../Alpha "$G/alpha-dir"
cell "$MGR2" 'ERR ENOENT' "follow the relative link" read "$G/to-alpha"
cell "$MGR2" 'ERR ENOENT' "follow the absolute link" read "$G/to-alpha-abs"
cell "$MGR2" 'ERR ENOENT' "write through the link" write "$G/to-alpha" pwned
cell "$MGR2" 'ERR ENOENT' "list through the directory link" ls "$G/alpha-dir"
cell "$MGR2" 'ERR ENOENT' "create through the directory link" create "$G/alpha-dir/planted.txt" x
cell "$MGR2" OK "plant Beta/to-gamma -> ../Gamma/secret.txt in the shared team client" symlink ../Gamma/secret.txt "$B/to-gamma"
cell "$MGR" 'ERR ENOENT' "a team member following it does not reach Gamma" read "$B/to-gamma"
cell "$LEGAL" 'ERR EACCES' "contract-link.pdf -> notes.txt: judged by the target" read "$A/contract-link.pdf"
cell "$MGR" "OK alpha-notes" "  effect: notes.txt unchanged" read "$A/notes.txt"
cell "$MGR" 'ERR ENOENT' "  effect: nothing planted in Alpha" stat "$A/planted.txt"

section "attacks: hard links and renames into one's own client"
cell "$MGR2" 'ERR ENOENT' "link a hidden client's file into Gamma" link "$A/notes.txt" "$G/stolen.txt"
cellm "$MGR" '^ERR (EXDEV|EACCES)$' "link a team client's file into Alpha (EXDEV or EACCES)" link "$B/report.txt" "$A/report-link.txt"
cellm "$MGR2" '^ERR (EXDEV|EACCES)$' "link a template into Gamma (EXDEV or EACCES)" link "$T/form.txt" "$G/form-link.txt"
cell "$MGR2" 'ERR ENOENT' "  effect: no stolen.txt" stat "$G/stolen.txt"
cell "$MGR" 'ERR ENOENT' "  effect: no report-link.txt" stat "$A/report-link.txt"
cell "$MGR2" 'ERR ENOENT' "  effect: no form-link.txt" stat "$G/form-link.txt"
cell "$MGR2" "OK 1" "  effect: Beta/report.txt nlink 1" nlink "$B/report.txt"
cell "$MGR" "OK 1" "  effect: form.txt nlink 1" nlink "$T/form.txt"
cell "$MGR2" 'ERR ENOENT' "rename a hidden client's file into Gamma" rename "$A/notes.txt" "$G/notes.txt"
cell "$MGR2" 'ERR EACCES' "rename a visible (read-only) template into Gamma" rename "$T/form.txt" "$G/form.txt"
cell "$SUP" 'ERR ENOENT' "supervisor: rename a hidden client's file into Beta" rename "$A/notes.txt" "$B/n.txt"
cell "$MGR" "OK alpha-notes" "  effect: notes.txt still in Alpha" read "$A/notes.txt"
cell "$MGR" "OK blank-form" "  effect: form.txt still in the templates" read "$T/form.txt"
cell "$MGR2" 'ERR ENOENT' "  effect: no form.txt in Gamma" stat "$G/form.txt"

section "attacks: client names differing by case, normalization, trailing dots"
for n in Case-Client "$NFC" Dots; do sx "$MGR" mkdir "$M/$n"; sx "$MGR" create "$M/$n/mine.txt" "mgr-$n"; done
for n in case-client CASE-CLIENT "$NFD" Dots. Dots.. Company-Templates company-templates.; do
    cell "$MGR2" OK "register $(printf '%q' "$n") (a different client)" mkdir "$M/$n"
    sx "$MGR2" create "$M/$n/secret.txt" "mgr2-$n"
done
cell "$SUP" "OK Beta|Case-Client|Dots|$NFC_E|company-templates" "supervisor's root listing: the exact team names only" ls "$M"
cell "$SUP" "OK mgr-$NFC_E" "supervisor reads in the NFC client (team north)" read "$M/$NFC/mine.txt"
cell "$SUP" 'ERR ENOENT' "the NFD client is another client" read "$M/$NFD/secret.txt"
cell "$SUP" 'ERR ENOENT' "case-client is not Case-Client" stat "$M/case-client"
cell "$SUP" 'ERR ENOENT' "CASE-CLIENT is not Case-Client" stat "$M/CASE-CLIENT"
cell "$SUP" 'ERR ENOENT' "Dots. is not Dots" stat "$M/Dots."
cell "$SUP" 'ERR ENOENT' "Dots.. is not Dots" stat "$M/Dots.."
cell "$SUP" 'ERR ENOENT' "Company-Templates is not company-templates (rule scope)" stat "$M/Company-Templates"
cell "$SUP" 'ERR ENOENT' "company-templates. is not company-templates" stat "$M/company-templates."
cell "$MGR" 'ERR ENOENT' "manager: mgr2's case-client hidden" read "$M/case-client/secret.txt"
cell "$MGR" 'ERR ENOENT' "manager: mgr2's NFD client hidden" read "$M/$NFD/secret.txt"
cell "$MGR" 'ERR ENOENT' "manager: mgr2's Dots. hidden" read "$M/Dots./secret.txt"
cell "$MGR2" 'ERR ENOENT' "mgr2: Case-Client hidden" read "$M/Case-Client/mine.txt"
cell "$MGR2" 'ERR ENOENT' "mgr2: NFC client hidden" read "$M/$NFC/mine.txt"
cell "$MGR2" 'ERR ENOENT' "mgr2: Dots hidden" read "$M/Dots/mine.txt"
cell "$MGR2" "OK mgr2-$NFD_E" "mgr2 reads its own NFD client" read "$M/$NFD/secret.txt"
cell "$MGR" "OK mgr-Dots" "manager reads Dots" read "$M/Dots/mine.txt"

section "names of 255 bytes work and are checked; 256 bytes: ENAMETOOLONG"
n255() { printf '%s' "$1"; head -c $((255 - ${#1})) /dev/zero | tr '\0' "$2"; }
LC=$(n255 L c)          # a 255-byte client name
LF=$(n255 f x)          # a 255-byte file name
LCON=$(n255 contract- k)
LSCAN=$(n255 id-scan- s)
N256=$(printf '%0256d' 0 | tr 0 z)
check_eq "255 255 255 255 256" "${#LC} ${#LF} ${#LCON} ${#LSCAN} ${#N256}" "test names have the intended lengths"
cell "$MGR" OK "register a 255-byte client" mkdir "$M/$LC"
cell "$MGR" OK "create a 255-byte file in it" create "$M/$LC/$LF" long
cell "$MGR" "OK $MGR" "  the creator owns the 255-byte client" owner "$M/$LC"
cell "$SEC" "OK yes" "infosec lists it at the root" has "$M" "$LC"
cell "$SUP" "OK no" "supervisor's listing does not show it" has "$M" "$LC"
cell "$SUP" 'ERR ENOENT' "supervisor: lookup ENOENT" stat "$M/$LC"
cell "$REC" "OK long" "records office reads the 255-byte file" read "$M/$LC/$LF"
cell "$SEC" 'ERR EACCES' "infosec cannot read it" read "$M/$LC/$LF"
cell "$MGR" OK "255-byte contract file in Alpha" create "$A/$LCON" long-contract
cell "$MGR" OK "255-byte plain file in Alpha" create "$A/$LF" long-plain
cell "$LEGAL" "OK long-contract" "legal reads the 255-byte contract" read "$A/$LCON"
cell "$LEGAL" 'ERR EACCES' "legal cannot read the 255-byte plain file" read "$A/$LF"
cell "$MGR2" OK "255-byte id-scan file in Beta" create "$B/$LSCAN" long-scan
cell "$SUP" 'ERR EACCES' "supervisor cannot read the 255-byte id-scan" read "$B/$LSCAN"
cell "$MGR" 'ERR ENAMETOOLONG' "register a 256-byte client" mkdir "$M/$N256"
cell "$MGR" 'ERR ENAMETOOLONG' "create a 256-byte file" create "$A/$N256" x
cell "$MGR" 'ERR ENAMETOOLONG' "lookup of a 256-byte name" stat "$A/$N256"
cell "$MGR" 'ERR ENAMETOOLONG' "rename to a 256-byte name" rename "$A/$LF" "$A/$N256"
cell "$MGR" "OK long-plain" "  effect: the 255-byte file is untouched" read "$A/$LF"

# ------------------------------------------------------------ root
section "root (uid 0) without a role"
cell root 'ERR EACCES' "cannot list the mount root" ls "$M"
cell root 'ERR ENOENT' "Alpha is hidden" stat "$A"
cell root 'ERR ENOENT' "cannot read" read "$A/notes.txt"
cell root 'ERR ENOENT' "cannot write" write "$A/notes.txt" root-was-here
cell root 'ERR ENOENT' "cannot read templates" read "$T/form.txt"
cell root 'ERR EACCES' "cannot register" mkdir "$M/Root-Client"
cell root 'ERR ENOENT' "cannot chown a client folder" chown "$A" "$MGR2"
cell "$MGR" "OK alpha-notes" "  effect: notes.txt unchanged" read "$A/notes.txt"
cell "$MGR" "OK $MGR" "  effect: Alpha still owned by its creator" owner "$A"
cell "$SEC" 'ERR ENOENT' "  effect: no Root-Client" stat "$M/Root-Client"

punmount

# ------------------------------------------------------------ phase 2
section "time windows, root as admin, revocation of an open file"
H=$((10#$(date +%H)))
DOW=$(date +%u)   # 1 = mon ... 7 = sun
DAYS=(sun mon tue wed thu fri sat sun)
day() { printf '%s' "${DAYS[$(((($1 - 1) % 7 + 7) % 7 + 1))]}"; }
hh() { printf '%02d:00' "$1"; }
# Excluded hours: an hour starting two hours from now (never crosses midnight).
xs=$(((H + 2) % 24))
XHOURS="$(hh "$xs")-$(hh $((xs + 1)))"
# Excluded days: every day but today and tomorrow (the test may cross midnight).
XDAYS=""
for k in 2 3 4 5 6; do XDAYS+="${XDAYS:+, }$(day $((DOW + k)))"; done
# A window around now: an hour before to two hours after, on yesterday,
# today and tomorrow.
IHOURS=""
for k in -1 0 1; do
    s=$(((H + k + 24) % 24))
    IHOURS+="${IHOURS:+, }$(hh "$s")-$(hh $((s + 1)))"
done
IDAYS="$(day $((DOW - 1))), $(day "$DOW"), $(day $((DOW + 1)))"
echo "# now: $(date '+%a %H:%M %Z'); excluded hours $XHOURS; excluded days $XDAYS; window $IDAYS $IHOURS"

P2=$WORK/policy2
mkdir -m 0755 "$P2"
cp "$P"/*.ini "$P2"/
sed -e 's/^days = mon-fri$/days = mon-sun/' -e "s/^hours = 08:00-18:00\$/hours = $XHOURS/" \
    "$EXAMPLE/roles.ini" >"$P2/roles.ini"
chmod 0644 "$P2"/*.ini
check_match "hours = $XHOURS" "$(sed -n '/^\[role records-office\]/,/^\[/p' "$P2/roles.ini")" \
    "records-office window set to $XHOURS, which excludes now"
install_ini "$P2" zz-time.ini <<INI
[role dsfp-days]
members = $REC2
scope = all
allow = list, read, delete
days = $XDAYS

[role dsfp-now]
members = $REC3
scope = all
allow = list, read, delete
days = $IDAYS
hours = $IHOURS

[role dsfp-root-admin]
members = root
scope = all
allow = list, admin
INI
out=$("$DOSSIERCTL" policy check "$P2" 2>&1)
rc=$?
check_eq 0 "$rc" "dossierctl policy check accepts the phase-2 policy"
[ "$rc" = 0 ] || printf '%s\n' "$out" | _indent

if ! pmount "$P2"; then
    fail "remount with the phase-2 policy"
    end_test
fi
ALL_NOW=$(pt "$SEC" ls "$M")
# The rule office-templates names every role but does not inherit their
# days and hours (policy/README.md): company-templates stays visible.
cell "$REC" 'OK company-templates' "records office outside its hours: lists only company-templates (rule without a window)" ls "$M"
cell "$REC" 'OK blank-form' "outside its hours: the template rule still lets it read form.txt" read "$T/form.txt"
cell "$REC" 'ERR ENOENT' "outside its hours: Alpha hidden" stat "$A"
cell "$REC" 'ERR ENOENT' "outside its hours: cannot read" read "$A/notes.txt"
cell "$REC" 'ERR ENOENT' "outside its hours: cannot delete" unlink "$A/keep.txt"
cell "$REC2" 'OK company-templates' "role outside its days: lists only company-templates" ls "$M"
cell "$REC2" 'ERR ENOENT' "outside its days: Alpha hidden" stat "$A"
cell "$REC2" 'ERR ENOENT' "outside its days: cannot read" read "$A/notes.txt"
cell "$REC3" "$ALL_NOW" "role whose window includes now: lists every client" ls "$M"
cell "$REC3" "OK alpha-notes" "inside its window: reads" read "$A/notes.txt"
cell "$MGR" "OK keep" "  effect: keep.txt not deleted" read "$A/keep.txt"

# Root with only list and admin: sees the clients, reads nothing, may chown
# a client folder, which moves its ownership (scope assigned follows).
cell root "$ALL_NOW" "root with list+admin lists every client" ls "$M"
cell root 'ERR EACCES' "root with list+admin: no read" read "$A/notes.txt"
cell root 'ERR EACCES' "root with list+admin: no write" write "$A/notes.txt" root-was-here
got=$(pt root chown "$A" "$MGR2" 2>&1)
check_eq OK "$got" "root: chown of a client folder with admin (and no write): chown Alpha to mgr2"
if [ "$got" = OK ]; then
    cell "$MGR2" "OK $MGR2" "  effect: mgr2 owns Alpha" owner "$A"
    cell "$MGR2" "OK alpha-notes" "  effect: the new owner reaches Alpha" read "$A/notes.txt"
    cell "$MGR" 'ERR ENOENT' "  effect: the old owner no longer does" stat "$A"
else
    cell "$MGR" "OK $MGR" "  effect: the refused chown left Alpha to mgr" owner "$A"
fi

# Revocation while a descriptor is open: the reopen through /proc/self/fd
# must be judged again. The already-open descriptor keeps working (POSIX).
H3=$WORK/home/$REC3
as_user "$REC3" "$PY" "$PT" hold "$A/notes.txt" "$H3/ready" "$H3/go" "$H3/out" >"$WORK/hold.log" 2>&1 &
hold_pid=$!
BG_PIDS+=("$hold_pid")
for _ in $(seq 1 200); do [ -e "$H3/ready" ] && break; sleep 0.05; done
check_ok -m "rec3 holds notes.txt open" test -e "$H3/ready"
install_ini "$P2" zz-revoke.ini <<'INI'
[rule dsfp-revoke]
roles = dsfp-now
effect = deny
permissions = read
scope = clients:Alpha
INI
revoked=0
for _ in $(seq 1 30); do
    [ "$(pt "$REC3" read "$A/notes.txt")" = 'ERR EACCES' ] && { revoked=1; break; }
    sleep 0.1
done
if [ "$revoked" = 0 ]; then
    kill -HUP "$DPID" 2>/dev/null
    for _ in $(seq 1 30); do
        [ "$(pt "$REC3" read "$A/notes.txt")" = 'ERR EACCES' ] && { revoked=2; break; }
        sleep 0.1
    done
fi
case $revoked in
1) pass "revocation in force (live reload)" ;;
2) fail "revocation in force only after SIGHUP, not from the edit within 3 s" ;;
*) fail "revocation not in force 3 s after the edit and 3 s after SIGHUP" "$(tail -n 5 "$DLOG")" ;;
esac
touch "$H3/go"
wait "$hold_pid"
hold=$(cat "$H3/out" 2>/dev/null)
check_match 'pre-rdonly=OK' "$hold" "before the revocation: reopen via /proc/self/fd read-only works ($hold)"
check_match 'pre-wronly=ERR EACCES' "$hold" "before: reopen write-only is refused (no write)"
check_match 'post-rdonly=ERR EACCES' "$hold" "after the revocation: reopen via /proc/self/fd read-only refused"
check_match 'post-rdwr=ERR EACCES' "$hold" "after: reopen read-write refused"

punmount
end_test
