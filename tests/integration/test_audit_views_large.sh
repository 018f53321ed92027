#!/usr/bin/env bash
# The .audit views on a big audit store: a million records (AV_LARGE_N,
# default 1000000; 200000 when the binaries are built with AddressSanitizer,
# which is several times slower), written by tests/auditfill over eight
# clients, then read through a real mount by a user of the example policy's
# auditor role:
#
#   1. the size: the first stat of /.audit/events.log counts every record
#      (timed, never asserted on), a second one only what was committed
#      since; the sizes of the other views
#   2. whole reads: events.log (cat) has as many bytes as stat said (up to
#      the records the reads themselves add), ends where stat's size ends,
#      line k is the record seq k (at least N lines), and it is byte for
#      byte what `dossierctl audit query` prints; events.csv and
#      events.jsonl (read through a pipe) likewise in seq order, of the
#      size stat said; denied.log and destructions.csv (streams filtered by
#      outcome and by action) hold the denied and the destroy records of
#      events.log; verify.txt finds the chain of N+ records intact
#   3. tail -n 5, grep -c, reads at random offsets (dd, each a new open; in
#      events.log and in denied.log) and preads jumping back and forth in
#      one open file agree with the whole reads
#   4. a client's view (client-3/.audit/events.jsonl, client-3 being a
#      folder the manager registers): only that client's records, exactly
#      those of events.log (same seqs, time, user, action, path, outcome)
#   5. tail -f on /.audit/events.log shows a new event while it runs
#   6. memory: the daemon's VmRSS and VmHWM after the mount, after the
#      first stat, and after all the reads (about a GB of streams for
#      N=1000000): counting and reading leave the daemon's memory within
#      AV_LARGE_MEM_MB (default 64) MiB of where it was. Under ASan the
#      daemon gets a small allocator quarantine (ASAN_OPTIONS, unless it
#      sets one already) so that RSS shows the memory in use, and its
#      sanitizer reports go to a file that must stay empty.
#
# Times, sizes and memory figures are printed as "info:" lines.
# shellcheck disable=SC2016  # python snippets are single-quoted
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

init_test
if [ "$DEV_NATIVE" = 1 ]; then
    skip "audit views on a large store (needs the real dossierfs; DEV_NATIVE=1)"
    finish
fi
require_tools useradd userdel groupadd groupdel setpriv fusermount3 tail dd \
    grep awk cmp sha256sum stat wc date
[ "$CMD_TIMEOUT" = 300 ] && CMD_TIMEOUT=240
EXAMPLE=$TESTS_INT_DIR/../../policy
AUDITFILL=$TESTS_INT_DIR/../auditfill
if [ ! -x "$AUDITFILL" ]; then
    fail "tests/auditfill not built (make tests/auditfill)"
    finish
fi

info() { printf 'info: %s\n' "$*"; }
is_num() { [[ $1 =~ ^[0-9]+$ ]]; }

# A sanitizer build is several times slower: a smaller store by default.
ASAN=0
if nm -D "$DOSSIERFS" 2>/dev/null | grep -q '__asan_init' ||
    ldd "$DOSSIERFS" 2>/dev/null | grep -q 'libasan'; then
    ASAN=1
fi
if [ -n "${AV_LARGE_N:-}" ]; then
    N=$AV_LARGE_N
elif [ "$ASAN" = 1 ]; then
    N=50000
    info "dossierfs is built with AddressSanitizer: N=50000 records instead of 1000000"
else
    N=1000000
fi
CLIENTS=8
if ! is_num "$N" || [ "$N" -lt 10000 ]; then
    fail "AV_LARGE_N must be a number >= 10000 (got '$N')"
    finish
fi
MEM_BOUND_MB=${AV_LARGE_MEM_MB:-64}
info "N=$N records over $CLIENTS clients; memory bound ${MEM_BOUND_MB} MiB"

# ------------------------------------------------------------ users, cleanup

AUD=dsfl_aud     # auditor (dossier-audit)
MGR=dsfl_mgr     # client-manager (dossier-managers)
ROLE_GROUPS=(dossier-audit dossier-managers)
MY_USERS=()
MY_GROUPS=()
BG_PIDS=()

my_cleanup() {
    local p m u g
    for p in "${BG_PIDS[@]}"; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
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
_avl_exit() {
    local rc=$?
    my_cleanup
    cleanup
    exit "$rc"
}
trap _avl_exit EXIT
end_test() {
    my_cleanup
    finish
}

# mkuser NAME [GROUP...]
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
mkuser "$AUD" dossier-audit || ok=0
mkuser "$MGR" dossier-managers || ok=0
if [ "$ok" != 1 ]; then
    fail "create the test users"
    end_test
fi

# ------------------------------------------------------------ helpers

# seconds since $1 (a `date +%s.%N`), two decimals
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }
now() { date +%s.%N; }
# field FIELD PID: a kB figure of /proc/PID/status
field() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$2/status" 2>/dev/null; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
# mem LABEL: prints the daemon's memory figures, sets RSS_KB and HWM_KB
mem() {
    RSS_KB=$(field VmRSS "$DPID")
    HWM_KB=$(field VmHWM "$DPID")
    info "daemon memory $1: VmRSS $(mib "${RSS_KB:-0}") (RssAnon $(mib "$(field RssAnon "$DPID")"), RssFile $(mib "$(field RssFile "$DPID")")), VmHWM $(mib "${HWM_KB:-0}")"
}
# size_of PATH: stat -c %s as the auditor
size_of() { as_user "$AUD" stat -c %s "$1" 2>&1; }

# The python helpers, readable by the test users.
cat >"$WORK/pread.py" <<'PYEOF'
# pread.py FILE OFF:LEN...: one open file, one pread each, in the given
# order; prints "OFF LEN-READ SHA256" per read.
import hashlib, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
for a in sys.argv[2:]:
    off, n = (int(x) for x in a.split(":"))
    b = b""
    while len(b) < n:
        k = os.pread(fd, n - len(b), off + len(b))
        if not k:
            break
        b += k
    print(off, len(b), hashlib.sha256(b).hexdigest())
os.close(fd)
PYEOF
cat >"$WORK/slices.py" <<'PYEOF'
# slices.py FILE OFF:LEN...: what pread.py prints, from a plain file
import hashlib, sys
with open(sys.argv[1], "rb") as f:
    for a in sys.argv[2:]:
        off, n = (int(x) for x in a.split(":"))
        f.seek(off)
        b = f.read(n)
        print(off, len(b), hashlib.sha256(b).hexdigest())
PYEOF
cat >"$WORK/clientview.py" <<'PYEOF'
# clientview.py WHOLE.LOG CLIENT.JSONL CLIENT
# Checks that the JSON lines of a client's view are exactly the records of
# that client in the whole-vault text view, up to the last record the text
# view holds (the client's view, read later, may have newer ones).
import json, re, sys
whole, view, client = sys.argv[1:4]
tok = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')
want = {}
last = 0
marker = " client=%s " % client
with open(whole, encoding="utf-8", errors="surrogateescape") as f:
    for line in f:
        parts = line.split(" ", 2)
        seq = int(parts[1][4:])
        last = seq
        if marker in line:
            d = {k: (v[1:-1] if v.startswith('"') else v)
                 for k, v in tok.findall(line)}
            want[seq] = (parts[0], d.get("user"), d.get("action"),
                         d.get("path"), d.get("outcome"))
errs = []
got = {}
prev = 0
others = 0
n = 0
with open(view, encoding="utf-8", errors="surrogateescape") as f:
    for ln, line in enumerate(f, 1):
        n += 1
        try:
            r = json.loads(line)
        except ValueError as e:
            errs.append("line %d: not JSON: %s" % (ln, e))
            continue
        if r.get("client") != client:
            others += 1
            if others <= 3:
                errs.append("line %d: client %r: %s" % (ln, r.get("client"), line.strip()[:200]))
        if r["seq"] <= prev:
            errs.append("line %d: seq %d after %d" % (ln, r["seq"], prev))
        prev = r["seq"]
        if r["seq"] <= last:
            got[r["seq"]] = (r["time"], r["user"], r["action"], r["path"],
                             r["outcome"])
missing = sorted(set(want) - set(got))
extra = sorted(set(got) - set(want))
if missing:
    errs.append("%d records of %s in events.log missing from the view, first seqs %s"
                % (len(missing), client, missing[:5]))
if extra:
    errs.append("%d records in the view not %s's in events.log, first seqs %s"
                % (len(extra), client, extra[:5]))
diff = [s for s in sorted(set(want) & set(got)) if want[s] != got[s]]
if diff:
    s = diff[0]
    errs.append("%d records differ from events.log, first seq %d: %s vs %s"
                % (len(diff), s, got[s], want[s]))
if others:
    errs.append("%d lines of other clients" % others)
if errs:
    print("\n".join(errs[:12]))
    sys.exit(1)
print("ok %d lines, %d of them (all of %s's) up to seq %d, the last seq %d"
      % (n, len(got), client, last, prev))
PYEOF
cp "$FSOP" "$WORK/fsop.py"
chmod 0644 "$WORK"/*.py
# op USER ARGS...: fsop.py as USER
op() {
    local u=$1
    shift
    as_user "$u" "$PY" "$WORK/fsop.py" "$@" 2>&1
}

# ------------------------------------------------------------ the store

section "setup: a vault with $N audit records, mounted with the example policy"
POL=$WORK/policy
if ! write_policy "$POL" roles.ini "$(cat "$EXAMPLE/roles.ini")" ||
    ! write_policy "$POL" rules.ini "$(cat "$EXAMPLE/rules.ini")"; then
    fail "write the policy"
    end_test
fi
# shellcheck disable=SC2034  # read by mount_vault
POLICY_DIR=$POL

VAULT_DIR=$WORK/vault
if ! create_vault "$VAULT_DIR" >/dev/null; then
    fail "create the vault"
    end_test
fi
t0=$(now)
out=$(timeout -k 10 900 "$AUDITFILL" "$VAULT_DIR" "$N" --passphrase-file "$PASSFILE" \
    --clients "$CLIENTS" 2>&1)
rc=$?
if [ "$rc" -ne 0 ]; then
    fail "auditfill $N records" "exit status $rc:" "$out"
    end_test
fi
pass "auditfill wrote $N records"
info "$out (wall $(since "$t0") s); audit.db is $(du -m "$VAULT_DIR/audit.db" | cut -f1) MB"

# Under AddressSanitizer freed memory is held back (quarantined, 256 MiB by
# default) before it is reused, which would show as growth here: the
# daemon gets a small quarantine unless ASAN_OPTIONS already sets one.
DAEMON_ASAN=${ASAN_OPTIONS:-}
if [ "$ASAN" = 1 ] && [[ ":$DAEMON_ASAN:" != *:quarantine_size_mb=* ]]; then
    DAEMON_ASAN="${DAEMON_ASAN:+$DAEMON_ASAN:}quarantine_size_mb=4:thread_local_quarantine_size_kb=64"
fi
# The daemon's stderr is gone once it runs in the background: its
# sanitizer reports go to files, checked after the unmount.
SANLOG=$WORK/sanitizer-daemon
mounted=0
if [ "$ASAN" = 1 ]; then
    [[ ":$DAEMON_ASAN:" == *:log_path=* ]] || DAEMON_ASAN="$DAEMON_ASAN:log_path=$SANLOG"
    DAEMON_UBSAN=${UBSAN_OPTIONS:-}
    [[ ":$DAEMON_UBSAN:" == *:log_path=* ]] ||
        DAEMON_UBSAN="${DAEMON_UBSAN:+$DAEMON_UBSAN:}log_path=$SANLOG"
    info "the daemon runs with ASAN_OPTIONS=$DAEMON_ASAN UBSAN_OPTIONS=$DAEMON_UBSAN (a small quarantine, so that RSS shows the memory in use)"
    ASAN_OPTIONS=$DAEMON_ASAN UBSAN_OPTIONS=$DAEMON_UBSAN mount_vault "$VAULT_DIR" && mounted=1
else
    mount_vault "$VAULT_DIR" && mounted=1
fi
if [ "$mounted" != 1 ]; then
    fail "mount"
    end_test
fi
M=$MNT
F=$M/.audit/events.log
DPIDS=$(daemon_pids "$M")
DPID=$(printf '%s\n' "$DPIDS" | head -n 1)
if [ -z "$DPID" ] || [ ! -r "/proc/$DPID/status" ]; then
    fail "find the daemon's pid" "daemon_pids: '$DPIDS'"
    end_test
fi
info "daemon pid $DPID"
mem "after the mount"
RSS_MOUNT=$RSS_KB


# A real client folder (auditfill only writes records): client-3, registered
# by the manager, so that client-3/.audit exists.
check_eq OK "$(op "$MGR" mkdir "$M/client-3")" "manager registers the client folder client-3"

# ------------------------------------------------------------ 1. size

section "1. the size of /.audit/events.log"
t0=$(now)
size0=$(size_of "$F")
el=$(since "$t0")
if is_num "$size0" && [ "$size0" -gt 0 ]; then
    pass "first stat of /.audit/events.log: $size0 bytes"
else
    fail "first stat of /.audit/events.log" "$size0"
    end_test
fi
info "first stat (counts every record): $el s for $size0 bytes"
mem "after the first stat"
RSS0=$RSS_KB HWM0=$HWM_KB
# Counting every record (decoded and formatted three ways) keeps only
# counts and marks.
if is_num "$RSS_MOUNT" && is_num "$HWM0" &&
    [ $((HWM0 - RSS_MOUNT)) -lt $((MEM_BOUND_MB * 1024)) ]; then
    pass "counting $N records: the daemon's peak stayed within $MEM_BOUND_MB MiB of its VmRSS after the mount (+$((HWM0 - RSS_MOUNT)) kB)"
else
    fail "counting $N records: VmHWM $HWM0 kB, VmRSS after the mount $RSS_MOUNT kB (bound $MEM_BOUND_MB MiB)"
fi
t0=$(now)
size1=$(size_of "$F")
info "second stat (only what was committed since): $(since "$t0") s, $size1 bytes"
if is_num "$size1" && [ "$size1" -ge "$size0" ] && [ "$size1" -le $((size0 + 4000)) ]; then
    pass "second stat: the size grows only by the few records since ($size0 -> $size1)"
else
    fail "second stat: $size1 after $size0"
fi
# Every line is well over 200 bytes (time, seq, node, user, exe, ...).
if [ "$size0" -ge $((N * 200)) ]; then
    pass "events.log is at least 200 bytes a record ($size0 bytes for $N records)"
else
    fail "events.log: $size0 bytes for $N records (want >= $((N * 200)))"
fi
declare -A SIZES
for f in events.csv events.jsonl denied.log destructions.csv; do
    SIZES[$f]=$(size_of "$M/.audit/$f")
done
info "sizes: events.log $size1, events.csv ${SIZES[events.csv]}, events.jsonl ${SIZES[events.jsonl]}, denied.log ${SIZES[denied.log]}, destructions.csv ${SIZES[destructions.csv]} bytes"
ok=1
for f in events.csv events.jsonl; do
    is_num "${SIZES[$f]}" && [ "${SIZES[$f]}" -ge "$((N * 100))" ] || ok=0
done
for f in denied.log destructions.csv; do
    is_num "${SIZES[$f]}" && [ "${SIZES[$f]}" -gt 0 ] && [ "${SIZES[$f]}" -lt "$size1" ] || ok=0
done
if [ "$ok" = 1 ]; then
    pass "the other views have plausible sizes (events.csv, .jsonl >= 100 bytes a record; denied.log, destructions.csv not empty, smaller than events.log)"
else
    fail "sizes of the other views" "$(declare -p SIZES)"
fi

# ------------------------------------------------------------ 2. whole read

section "2. whole reads of the views"
WHOLE=$WORK/whole.log
before=$(size_of "$F")
t0=$(now)
as_user "$AUD" cat "$F" >"$WHOLE" 2>"$WORK/cat.err"
rc=$?
el=$(since "$t0")
after=$(size_of "$F")
whole=$(wc -c <"$WHOLE")
STREAMED=$whole
check_eq 0 "$rc" "auditor: cat /.audit/events.log $(head -c 300 "$WORK/cat.err")"
info "cat of events.log: $whole bytes in $el s ($(awk -v b="$whole" -v t="$el" 'BEGIN { if (t > 0) printf "%.0f", b / t / 1048576; else print "?" }') MiB/s)"
if is_num "$before" && is_num "$after" && [ "$before" -le "$whole" ] && [ "$whole" -le "$after" ]; then
    pass "bytes read ($whole) between the sizes stat gave before ($before) and after ($after)"
else
    fail "bytes read ($whole) vs stat before ($before) / after ($after)"
fi
if [ "$((after - whole))" -le 4000 ] && [ "$((whole - before))" -le 4000 ]; then
    pass "the reads added only a few records (before +$((whole - before)), after +$((after - whole)))"
else
    fail "the sizes moved by more than the reads' own records" \
        "before $before, read $whole, after $after"
fi
if [ "$(tail -c 1 "$WHOLE" | od -An -c | tr -d ' ')" = '\n' ] &&
    [ "$(dd if="$WHOLE" bs=1 skip=$((before - 1)) count=1 status=none | od -An -c | tr -d ' ')" = '\n' ]; then
    pass "the read and stat's size both end on a line's end"
else
    fail "a size that is not at a line's end" "last byte: $(tail -c 20 "$WHOLE" | od -An -c)"
fi
# Line k is the record seq k: all of them, in order, none twice.
seqcheck=$(awk -v n="$N" '
    { split($2, a, "=")
      if (a[1] != "seq" || a[2] != NR) { printf "line %d: %s\n", NR, substr($0, 1, 160); bad++; if (bad > 3) exit 1 } }
    END { if (bad) exit 1; if (NR < n) { printf "only %d lines\n", NR; exit 1 }; printf "%d lines, seq 1..%d\n", NR, NR }' "$WHOLE")
rc=$?
if [ "$rc" -eq 0 ]; then
    pass "events.log: line k is the record seq k, >= $N lines ($seqcheck)"
else
    fail "events.log: the lines are not the records seq 1, 2, ..." "$seqcheck"
fi
LINES=$(wc -l <"$WHOLE")
LAST_SEQ=$LINES
check_eq 0 "$(grep -vc ' outcome=\(allowed\|denied\|error\) ' "$WHOLE")" \
    "events.log: every line has an outcome"

# The byte-for-byte comparison with the store and the whole reads of the
# other two formats are done on smaller stores only (the sanitizer run):
# on a million records they cost half a minute and test nothing that the
# reads above and the smaller runs (test_audit_views.sh too) do not.
FULL=0
[ "$N" -le 200000 ] && FULL=1
if [ "$FULL" = 1 ]; then
    t0=$(now)
    "$DOSSIERCTL" audit query "$VAULT" --passphrase-file "$PASSFILE" --format table \
        >"$WORK/store.log" 2>"$WORK/store.err"
    rc=$?
    info "dossierctl audit query (the store, for comparison): $(since "$t0") s"
    if [ "$rc" -eq 0 ] && [ "$(wc -c <"$WORK/store.log")" -ge "$whole" ] &&
        cmp -s -n "$whole" "$WHOLE" "$WORK/store.log"; then
        pass "events.log is, byte for byte, what dossierctl audit query prints for the store"
    else
        fail "events.log differs from dossierctl audit query" "exit $rc: $(head -c 300 "$WORK/store.err")" \
            "$(cmp -n "$whole" "$WHOLE" "$WORK/store.log" 2>&1)"
    fi
    rm -f "$WORK/store.log"

    # The other two formats, read whole through a pipe: as many bytes as stat
    # said, one line a record (the CSV after its header), in seq order.
    for f in events.csv events.jsonl; do
        csv=0
        [ "$f" = events.csv ] && csv=1
        b=$(size_of "$M/.audit/$f")
        t0=$(now)
        res=$(as_user "$AUD" cat "$M/.audit/$f" 2>&1 | LC_ALL=C awk -v csv="$csv" '
            { bytes += length($0) + 1 }
            csv && NR == 1 { if ($0 !~ /^seq,time,/) bad = bad "header: " $0 "; "; next }
            { k = NR - csv
              if (csv) { split($0, a, ","); s = a[1] }
              else { s = ($0 ~ /^\{"seq":[0-9]+,/) ? substr($0, 8, index($0, ",") - 8) : "?" }
              if (s != k && nbad++ < 3) bad = bad "line " NR ": " substr($0, 1, 80) "; " }
            END { printf "%d %d %s", bytes, NR - csv, (bad == "" ? "ok" : bad) }')
        rcs=("${PIPESTATUS[@]}")
        el=$(since "$t0")
        a=$(size_of "$M/.audit/$f")
        read -r fb fl fok <<<"$res"
        is_num "$fb" && STREAMED=$((STREAMED + fb))
        info "read of $f: $fb bytes, $fl records in $el s"
        if [ "${rcs[0]}" -eq 0 ] && [ "$fok" = ok ] && is_num "$fl" && [ "$fl" -ge "$N" ]; then
            pass "$f: line k is the record seq k, $fl records (>= $N)"
        else
            fail "$f: read (exit ${rcs[0]}) not the records in seq order" "$res"
        fi
        if is_num "$b" && is_num "$a" && is_num "$fb" && [ "$b" -le "$fb" ] && [ "$fb" -le "$a" ]; then
            pass "$f: bytes read ($fb) between stat before ($b) and after ($a)"
        else
            fail "$f: bytes read ($fb) vs stat before ($b) / after ($a)"
        fi
    done
fi

# denied.log: the denied lines of events.log; a filtered stream, read whole
# and at offsets (its marks are its own offsets).
DV=$WORK/denied.view
grep -F ' outcome=denied ' "$WHOLE" >"$WORK/denied.want"
dwant=$(wc -c <"$WORK/denied.want")
b=$(size_of "$M/.audit/denied.log")
t0=$(now)
as_user "$AUD" cat "$M/.audit/denied.log" >"$DV" 2>"$WORK/denied.err"
rc=$?
el=$(since "$t0")
a=$(size_of "$M/.audit/denied.log")
dbytes=$(wc -c <"$DV")
STREAMED=$((STREAMED + dbytes))
info "read of denied.log: $dbytes bytes, $(wc -l <"$DV") lines in $el s"
if [ "$rc" -eq 0 ] && [ "$dbytes" -ge "$dwant" ] && cmp -s -n "$dwant" "$WORK/denied.want" "$DV"; then
    pass "denied.log holds the denied lines of events.log ($(wc -l <"$WORK/denied.want") up to the whole read)"
else
    fail "denied.log is not the denied lines of events.log" "exit $rc $(head -c 200 "$WORK/denied.err")" \
        "$(cmp -n "$dwant" "$WORK/denied.want" "$DV" 2>&1)"
fi
if is_num "$b" && is_num "$a" && [ "$b" -le "$dbytes" ] && [ "$dbytes" -le "$a" ]; then
    pass "denied.log: bytes read ($dbytes) between stat before ($b) and after ($a)"
else
    fail "denied.log: bytes read ($dbytes) vs stat before ($b) / after ($a)"
fi
bad=0
doffs=()
for off in 7 $((dbytes / 2)) $(( (RANDOM * 32768 + RANDOM) % (dbytes - 9000) )) $((dbytes - 9000)); do
    doffs+=("$off")
    as_user "$AUD" dd if="$M/.audit/denied.log" bs=65536 iflag=skip_bytes,count_bytes \
        skip="$off" count=8192 status=none >"$WORK/slice.view" 2>"$WORK/dd.err"
    dd if="$DV" bs=65536 iflag=skip_bytes,count_bytes skip="$off" count=8192 status=none \
        >"$WORK/slice.want"
    if ! cmp -s "$WORK/slice.view" "$WORK/slice.want"; then
        bad=$((bad + 1))
        fail "denied.log: dd at offset $off differs from the whole read" \
            "$(cmp "$WORK/slice.view" "$WORK/slice.want" 2>&1)" "$(cat "$WORK/dd.err")"
    fi
done
[ "$bad" = 0 ] && pass "denied.log: dd at offsets ${doffs[*]} agrees with its whole read"

# destructions.csv: a row per destroy record (its seq and time first), after
# the header; a stream filtered by action.
b=$(size_of "$M/.audit/destructions.csv")
t0=$(now)
as_user "$AUD" cat "$M/.audit/destructions.csv" >"$WORK/destr.view" 2>"$WORK/destr.err"
rc=$?
el=$(since "$t0")
a=$(size_of "$M/.audit/destructions.csv")
xb=$(wc -c <"$WORK/destr.view")
STREAMED=$((STREAMED + xb))
info "read of destructions.csv: $xb bytes, $(wc -l <"$WORK/destr.view") lines in $el s"
if [ "$rc" -eq 0 ] && is_num "$b" && is_num "$a" && [ "$b" -le "$xb" ] && [ "$xb" -le "$a" ]; then
    pass "destructions.csv: bytes read ($xb) between stat before ($b) and after ($a)"
else
    fail "destructions.csv: exit $rc, bytes read ($xb) vs stat before ($b) / after ($a)" \
        "$(head -c 300 "$WORK/destr.err")"
fi
check_match '^seq,time,' "$(head -n 1 "$WORK/destr.view")" "destructions.csv: the header first"
grep -F ' action=destroy ' "$WHOLE" | awk '{ split($2, a, "="); print a[2] "," $1 }' >"$WORK/destr.want"
sed 1d "$WORK/destr.view" | cut -d, -f1,2 |
    awk -v l="$LAST_SEQ" -F, '$1 <= l' >"$WORK/destr.got"
nd=$(wc -l <"$WORK/destr.want")
if [ "$nd" -gt 0 ] && cmp -s "$WORK/destr.want" "$WORK/destr.got"; then
    pass "destructions.csv: one row per destroy record of events.log ($nd), same seq and time"
else
    fail "destructions.csv: not the destroy records of events.log ($nd of them)" \
        "$(diff "$WORK/destr.want" "$WORK/destr.got" | head -n 6)"
fi

# verify.txt: the chain check over the whole store, made at open.
t0=$(now)
vt=$(as_user "$AUD" cat "$M/.audit/verify.txt" 2>&1)
info "verify.txt (checks the chain at open): $(since "$t0") s"
check_match 'result: +OK' "$vt" "verify.txt: the chain of $N+ records checks out"
vrec=$(printf '%s\n' "$vt" | awk '$1 == "records:" { print $2 }')
if is_num "$vrec" && [ "$vrec" -ge "$N" ]; then
    pass "verify.txt: $vrec records checked (>= $N)"
else
    fail "verify.txt: records '$vrec' (want >= $N)" "$vt"
fi

# ------------------------------------------------------------ 3. tail, grep, offsets

section "3. tail -n, grep -c, reads at offsets"
t0=$(now)
tail5=$(as_user "$AUD" tail -n 5 "$F" 2>&1)
info "tail -n 5: $(since "$t0") s"
check_eq 5 "$(printf '%s\n' "$tail5" | wc -l)" "tail -n 5 gives five lines"
seqs=$(printf '%s\n' "$tail5" | awk '{ split($2, a, "="); printf "%s ", a[2] }')
last=$(printf '%s\n' "$tail5" | tail -n 1 | awk '{ split($2, a, "="); print a[2] }')
if is_num "$last" && [ "$last" -ge "$N" ] && [ "$last" -ge "$LAST_SEQ" ]; then
    pass "tail -n 5: the last seq ($last) is >= N ($N) and >= the whole read's last ($LAST_SEQ)"
else
    fail "tail -n 5: last seq '$last' (N $N, whole read $LAST_SEQ)" "$tail5"
fi
if printf '%s\n' "$tail5" | awk '{ split($2, a, "="); if (NR > 1 && a[2] != p + 1) exit 1; p = a[2] }'; then
    pass "tail -n 5: consecutive seqs ($seqs)"
else
    fail "tail -n 5: seqs $seqs not consecutive" "$tail5"
fi
# The tail's lines that the whole read had too are the same lines.
common=$(printf '%s\n' "$tail5" | awk -v l="$LAST_SEQ" '{ split($2, a, "="); if (a[2] <= l) print }')
if [ -z "$common" ] || [ "$common" = "$(grep -F -x -- "$common" "$WHOLE")" ]; then
    pass "tail -n 5: its lines that the whole read had are identical"
else
    fail "tail -n 5 differs from the whole read" "$common"
fi

want=$(grep -c 'action=unlink' "$WHOLE")
t0=$(now)
got=$(as_user "$AUD" grep -c 'action=unlink' "$F" 2>&1)
STREAMED=$((STREAMED + whole))
info "grep -c on the view: $(since "$t0") s"
check_eq "$want" "$got" "grep -c 'action=unlink' on the view = in the whole read ($want)"

# dd: a new open for each, reads of 64 KiB from an offset.
offs=(0 1 4095 4096 131071 131072)
for _ in 1 2 3 4 5 6 7 8; do
    offs+=($(( (RANDOM * 32768 + RANDOM) * 16 % (whole - 70000) )))
done
offs+=($((whole / 2)) $((whole - 70000)) $((whole - 4096)) $((whole - 1)))
bad=0
t0=$(now)
for off in "${offs[@]}"; do
    n=65536
    [ $((off + n)) -gt "$whole" ] && n=$((whole - off))
    as_user "$AUD" dd if="$F" bs=65536 iflag=skip_bytes,count_bytes \
        skip="$off" count="$n" status=none >"$WORK/slice.view" 2>"$WORK/dd.err"
    dd if="$WHOLE" of="$WORK/slice.want" bs=65536 iflag=skip_bytes,count_bytes \
        skip="$off" count="$n" status=none
    if ! cmp -s "$WORK/slice.view" "$WORK/slice.want"; then
        bad=$((bad + 1))
        fail "dd at offset $off ($n bytes) differs from the whole read" \
            "$(cmp "$WORK/slice.view" "$WORK/slice.want" 2>&1)" "$(cat "$WORK/dd.err")"
    fi
done
info "${#offs[@]} dd reads: $(since "$t0") s"
[ "$bad" = 0 ] && pass "dd at ${#offs[@]} offsets (${offs[*]}) agrees with the whole read"

# One open file, preads jumping forward and back (each read from a mark,
# or on from where the last one ended).
sl=()
for off in $((whole / 2)) $((whole / 2 + 65536)) $((whole / 2 + 65536 + 100)) 10 \
    $((whole - 80000)) $((whole / 3)) $((whole / 3 - 1)) 0 \
    $(( (RANDOM * 32768 + RANDOM) % (whole - 300000) )) \
    $(( (RANDOM * 32768 + RANDOM) % (whole - 300000) )); do
    n=$(( off % 3 == 0 ? 262144 : 5000 ))
    [ $((off + n)) -gt "$whole" ] && n=$((whole - off))
    sl+=("$off:$n")
done
t0=$(now)
gotp=$(as_user "$AUD" "$PY" "$WORK/pread.py" "$F" "${sl[@]}" 2>&1)
info "${#sl[@]} preads in one open file: $(since "$t0") s"
wantp=$("$PY" "$WORK/slices.py" "$WHOLE" "${sl[@]}")
check_eq "$wantp" "$gotp" "preads back and forth in one open file agree with the whole read (${sl[*]})"

# ------------------------------------------------------------ 4. a client's view

section "4. client-3/.audit/events.jsonl"
CF=$M/client-3/.audit/events.jsonl
t0=$(now)
csize=$(size_of "$CF")
info "first stat of client-3/.audit/events.jsonl (counts the scope): $(since "$t0") s, $csize bytes"
t0=$(now)
as_user "$AUD" cat "$CF" >"$WORK/c3.jsonl" 2>"$WORK/c3.err"
rc=$?
el=$(since "$t0")
cafter=$(size_of "$CF")
cbytes=$(wc -c <"$WORK/c3.jsonl")
STREAMED=$((STREAMED + cbytes))
check_eq 0 "$rc" "auditor: cat client-3/.audit/events.jsonl $(head -c 300 "$WORK/c3.err")"
info "cat of client-3/.audit/events.jsonl: $cbytes bytes, $(wc -l <"$WORK/c3.jsonl") lines in $el s"
if is_num "$csize" && is_num "$cafter" && [ "$csize" -le "$cbytes" ] && [ "$cbytes" -le "$cafter" ]; then
    pass "client-3 view: bytes read ($cbytes) between stat before ($csize) and after ($cafter)"
else
    fail "client-3 view: bytes read ($cbytes) vs stat before ($csize) / after ($cafter)"
fi
t0=$(now)
cv=$("$PY" "$WORK/clientview.py" "$WHOLE" "$WORK/c3.jsonl" client-3 2>&1)
rc=$?
info "checking the client view against the whole read: $(since "$t0") s"
if [ "$rc" -eq 0 ]; then
    pass "client-3 view: client-3's records only, the same as in events.log ($cv)"
else
    fail "client-3 view: not client-3's records of events.log" "$cv"
fi
c3lines=$(wc -l <"$WORK/c3.jsonl")
if [ "$c3lines" -ge $((N / CLIENTS / 2)) ] && [ "$c3lines" -le $((N * 2 / CLIENTS)) ]; then
    pass "client-3 view: about one record in $CLIENTS ($c3lines of $N)"
else
    fail "client-3 view: $c3lines lines for $N records over $CLIENTS clients"
fi

# ------------------------------------------------------------ 5. tail -f

section "5. tail -f /.audit/events.log"
TLOG=$WORK/tail.out
timeout -k 5 120 setpriv --reuid="$AUD" --regid="$AUD" --init-groups -- \
    env HOME="$WORK/home/$AUD" tail -n 0 -f "$F" >"$TLOG" 2>&1 9>&- &
TPID=$!
BG_PIDS+=("$TPID")
sleep 2
check_eq OK "$(op "$MGR" create "$M/client-3/tail-marker.txt")" \
    "manager creates client-3/tail-marker.txt"
for _ in $(seq 1 75); do
    grep -q 'tail-marker.txt' "$TLOG" && break
    sleep 0.2
done
check_match 'action=create .*client=client-3 path=tail-marker.txt' "$(cat "$TLOG")" \
    "tail -f shows the new create"
check_no_match 'truncated' "$(cat "$TLOG")" "tail -f never saw the file shrink"
kill "$TPID" 2>/dev/null
wait "$TPID" 2>/dev/null
BG_PIDS=()
tl=$(grep -c . "$TLOG")
if [ "$tl" -lt 100 ]; then
    pass "tail -f printed only new records ($tl lines)"
else
    fail "tail -f printed $tl lines (tail -n 0 should print only new records)" "$(head -n 3 "$TLOG")"
fi

# ------------------------------------------------------------ 6. memory

section "6. the daemon's memory"
mem "after all the reads"
RSS1=$RSS_KB HWM1=$HWM_KB
bound=$((MEM_BOUND_MB * 1024))
info "streamed through the mount: $(mib $((STREAMED / 1024))) in whole reads (events.log twice, .csv, .jsonl, denied.log, destructions.csv, client-3's events.jsonl; plus tail, dd, pread)"
info "VmRSS $(mib "$RSS0") -> $(mib "$RSS1") ($((RSS1 - RSS0)) kB), VmHWM $(mib "$HWM0") -> $(mib "$HWM1") ($((HWM1 - HWM0)) kB)"
if is_num "$RSS0" && is_num "$RSS1" && [ $((RSS1 - RSS0)) -lt "$bound" ]; then
    pass "VmRSS grew by $((RSS1 - RSS0)) kB during the reads (< $MEM_BOUND_MB MiB; events.log is $(mib $((whole / 1024))))"
else
    fail "VmRSS grew by $((RSS1 - RSS0)) kB during the reads (bound $MEM_BOUND_MB MiB)"
fi
# The peak during the reads: no new peak (VmHWM unchanged), or one within
# the bound of where the reads started.
if is_num "$HWM0" && is_num "$HWM1" &&
    { [ "$HWM1" -eq "$HWM0" ] || [ $((HWM1 - RSS0)) -lt "$bound" ]; }; then
    pass "the peak during the reads stayed within $MEM_BOUND_MB MiB of VmRSS before them (VmHWM $HWM0 -> $HWM1 kB)"
else
    fail "a peak during the reads: VmHWM $HWM1 kB, $((HWM1 - RSS0)) kB above VmRSS before them (bound $MEM_BOUND_MB MiB)"
fi

check_ok -m "clean unmount" unmount_vault "$M"
if [ "$ASAN" = 1 ]; then
    findings=
    if compgen -G "$SANLOG.*" >/dev/null; then
        findings=$(sanitizer_findings "$SANLOG".* 2>"$WORK/sanitizer-note")
        [ -s "$WORK/sanitizer-note" ] && info "$(cat "$WORK/sanitizer-note")"
    fi
    if [ -n "$findings" ]; then
        fail "the daemon's sanitizers reported errors" "$(printf '%s\n' "$findings" | head -n 40)"
    else
        pass "the daemon's sanitizers reported nothing (up to its exit)"
    fi
fi
end_test
