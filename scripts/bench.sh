#!/usr/bin/env bash
# bench.sh: compare dossierfs with a plain directory and with FUSE peers
# (bindfs, gocryptfs, securefs) on the same disk, and print markdown tables.
#
# Usage: scripts/bench.sh [-r RUNS] [-w WORKDIR] [-t TARGETS] [-s SIZE_MIB] [-k]
# Run as root: it mounts FUSE filesystems and drops the page cache before
# every timed phase. See usage() below for the details and the environment.
set -euo pipefail
export LC_ALL=C

usage() {
	cat <<'EOF'
usage: bench.sh [-r RUNS] [-w WORKDIR] [-t TARGETS] [-p PHASES] [-s SIZE_MIB]
                [-k] [-h]

  -r RUNS      runs per workload and target, and repetitions of the policy
               case; medians are reported (default 5)
  -w WORKDIR   empty or new directory holding every target's backing store
               (default: a fresh directory under /var/tmp)
  -t TARGETS   comma-separated subset of
               native,bindfs,gocryptfs,securefs,dossierfs,dossierfs-alerts
               (default: all; dossierfs-alerts is dossierfs with one alert
               rule of each kind watching the benchmark user, for the
               cost of weighing them: compare it with dossierfs)
  -p PHASES    comma-separated subset of these phases (default: all); they
               run in this order whatever the order given:
                 seqwrite,seqread     dd write, then read back
                 untar,lsr,rmrf       untar /usr/include, ls -lR, rm -rf
                 randwrite,randread   fio 4K random write, then read
                 create,stat,rmsmall  create, stat, rm 10,000 files
                 policy               dossierfs only: the policy case below
               A phase brings along the ones it needs (seqread: seqwrite;
               untar: rmrf; ...). '-t dossierfs -p policy' runs the policy
               case alone.
  -s SIZE_MIB  size of the sequential write/read file in MiB (default 512)
  -k           keep WORKDIR (backing stores, logs, policies); otherwise only
               results.csv and results.md are left in it
  -h           show this help

dossierfs mounts need '-o policy=DIR'. The workloads' mount gets a
generated one (WORKDIR/data/policy-dossierfs: a role granting the user running
the benchmark every permission on every client), and the workloads run in
the client folder DOSSIERFS_SUBDIR, since the mount root holds only client
folders.

The policy case mounts a vault of its own under two policies, alternately
(example, large, example, ..., large, example: RUNS large mounts between
RUNS + 1 example ones), and times open+close (O_RDONLY) of existing files
in one client folder, one measurement per mount:
  example  the repository's policy/*.ini plus a role that makes the
           benchmark user a client manager (scope assigned; it creates the
           test client folder, so it owns it)
  large    generated, deterministic: 1,000 users, 40 groups, 100 teams,
           10,000 [client]s, 50 roles (scopes all, assigned, team,
           team:NAME, clients:GLOBS; files, days, hours), 12 rules; the
           benchmark user is in 4 roles and reaches the test client through
           a team-scoped role (its name is in the client's team)
It reports opens/s under each (median) and large/example: the median over
the large mounts of large / the mean of the two example mounts around it,
so that a steady drift of the machine favours neither. The bar is
large/example >= 1/1.2 = 0.833. It also reports the daemon's CPU time
per open (user + system, all threads, from /proc/PID/stat): a second view
of the same cost, not blind to other load on the machine either.

Environment:
  DOSSIERFS, DOSSIERCTL  the dossierfs binaries (default: ../src/ next to
                         this script); dossierfs is skipped if missing
  DOSSIERFS_OPTS         extra arguments for the dossierfs daemon of the
                         workloads; a policy=DIR in its -o list replaces
                         the generated policy
  DOSSIERCTL_INIT_OPTS   extra arguments for 'dossierctl init'
  DOSSIERFS_SUBDIR       the workloads' directory inside the dossierfs
                         mount: a client folder or a path inside one
                         (created if missing; default: bench)
  BENCH_POLICY_FILES     files in the policy case's client folder (200)
  BENCH_POLICY_OPENS     timed open+close pairs per measurement (20000)
  BENCH_FIO_RUNTIME      seconds per fio job (default 10)
  BENCH_PHASE_TIMEOUT    seconds before one timed phase is killed (default 600)
  BENCH_SEED             seed of the per-run target order (default 1; the
                         order is logged)

The report goes to stdout (and WORKDIR/results.md), progress to stderr, the
raw per-run numbers to WORKDIR/results.csv.
EOF
}

die() {
	printf 'bench.sh: %s\n' "$*" >&2
	exit 1
}

log() {
	printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2
}

ALL_TARGETS=(native bindfs gocryptfs securefs dossierfs dossierfs-alerts)
RUNS=5
WORKDIR=""
TARGET_LIST=$(
	IFS=,
	printf '%s' "${ALL_TARGETS[*]}"
)
SIZE_MIB=512
KEEP=0
PHASE_LIST=all
while getopts ':r:w:t:p:s:kh' opt; do
	case $opt in
	r) RUNS=$OPTARG ;;
	w) WORKDIR=$OPTARG ;;
	t) TARGET_LIST=$OPTARG ;;
	p) PHASE_LIST=$OPTARG ;;
	s) SIZE_MIB=$OPTARG ;;
	k) KEEP=1 ;;
	h)
		usage
		exit 0
		;;
	:) die "option -$OPTARG needs an argument (see -h)" ;;
	*) die "unknown option -$OPTARG (see -h)" ;;
	esac
done
shift $((OPTIND - 1))
[[ $# -eq 0 ]] || die "unexpected argument '$1' (see -h)"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$RUNS'"
[[ $SIZE_MIB =~ ^[1-9][0-9]*$ ]] || die "SIZE_MIB must be a positive integer, not '$SIZE_MIB'"
[[ $EUID -eq 0 ]] || die "must run as root (mounts, drop_caches)"
BENCH_USER=$(id -un) # the user name the dossierfs policies must grant

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
DOSSIERFS=${DOSSIERFS:-$SCRIPT_DIR/../src/dossierfs}
DOSSIERCTL=${DOSSIERCTL:-$SCRIPT_DIR/../src/dossierctl}
FIO_RUNTIME=${BENCH_FIO_RUNTIME:-10}
PHASE_TIMEOUT=${BENCH_PHASE_TIMEOUT:-600}
[[ $FIO_RUNTIME =~ ^[1-9][0-9]*$ ]] || die "BENCH_FIO_RUNTIME must be a positive integer"
[[ $PHASE_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "BENCH_PHASE_TIMEOUT must be a positive integer"
POL_FILES=${BENCH_POLICY_FILES:-200}
POL_OPENS=${BENCH_POLICY_OPENS:-20000}
[[ $POL_FILES =~ ^[1-9][0-9]*$ && $POL_FILES -le 100000 ]] ||
	die "BENCH_POLICY_FILES must be an integer from 1 to 100000"
[[ $POL_OPENS =~ ^[1-9][0-9]*$ ]] || die "BENCH_POLICY_OPENS must be a positive integer"
DOSSIERFS_SUBDIR=${DOSSIERFS_SUBDIR:-bench}
BENCH_SEED=${BENCH_SEED:-1}
[[ $BENCH_SEED =~ ^[0-9]{1,6}$ ]] || die "BENCH_SEED must be a number"
case /$DOSSIERFS_SUBDIR/ in
*/./* | */../* | *//*) die "DOSSIERFS_SUBDIR must be a relative path without . or .., not '$DOSSIERFS_SUBDIR'" ;;
esac
NFILES=10000
FIO_MIB=64

TARGETS=()
IFS=, read -r -a requested <<<"$TARGET_LIST"
for t in "${requested[@]}"; do
	case " ${ALL_TARGETS[*]} " in
	*" $t "*) ;;
	*) die "unknown target '$t' (known: ${ALL_TARGETS[*]})" ;;
	esac
	case " ${TARGETS[*]} " in
	*" $t "*) die "target '$t' given twice" ;;
	esac
	TARGETS+=("$t")
done
[[ ${#TARGETS[@]} -gt 0 ]] || die "no targets given"

# Workloads in the order they run: id|label|unit|better (higher or lower).
WORKLOADS=(
	"seqwrite|seq write $SIZE_MIB MiB, dd bs=1M conv=fsync|MB/s|higher"
	"seqread|seq read, caches dropped|MB/s|higher"
	"untar|untar /usr/include|s|lower"
	"lsr|ls -lR|s|lower"
	"rmrf|rm -rf|s|lower"
	"randwrite|fio randwrite 4K psync|IOPS|higher"
	"randread|fio randread 4K psync|IOPS|higher"
	"create|create $NFILES empty files|s|lower"
	"stat|stat $NFILES files, cold|s|lower"
	"rmsmall|rm $NFILES files|s|lower"
)

# Phases: the workloads above, then "policy". NEEDS lists what a phase
# brings along: the phase that makes its input and the one that removes
# what it leaves (a second run's untar fails on the first run's tree).
declare -A NEEDS=(
	[seqwrite]=seqread [seqread]=seqwrite
	[untar]=rmrf [lsr]="untar rmrf" [rmrf]=untar
	[randwrite]=randread [randread]=randwrite
	[create]=rmsmall [stat]="create rmsmall" [rmsmall]=create
)
declare -A WANT=()
want() {
	local p
	[[ -z ${WANT[$1]:-} ]] || return 0
	WANT[$1]=1
	for p in ${NEEDS[$1]:-}; do want "$p"; done
}
IFS=, read -r -a requested <<<"$PHASE_LIST"
for ph in "${requested[@]}"; do
	case $ph in
	all)
		for w in "${WORKLOADS[@]}"; do want "${w%%|*}"; done
		want policy
		;;
	policy) want policy ;;
	*)
		[[ -n ${NEEDS[$ph]+set} ]] || die "unknown phase '$ph' (see -h)"
		want "$ph"
		;;
	esac
done
selected=()
for w in "${WORKLOADS[@]}"; do
	[[ -z ${WANT[${w%%|*}]:-} ]] || selected+=("$w")
done
WORKLOADS=("${selected[@]}")
POLICY_CASE=0
if [[ -n ${WANT[policy]:-} ]]; then
	if [[ " ${TARGETS[*]} " == *" dossierfs "* ]]; then
		POLICY_CASE=1
	elif [[ $PHASE_LIST != all ]]; then
		die "the policy phase measures dossierfs: add it to -t"
	fi
fi
[[ ${#WORKLOADS[@]} -gt 0 || $POLICY_CASE -eq 1 ]] || die "no phase to run"

# ---------------------------------------------------------------------------
# State for the cleanup trap.
MOUNTS=()        # mount points this script mounted, in order
CHILD=""         # process group of the timed command running now
DATA=""          # WORKDIR/data: backing stores, mount points, logs
CSV=""           # WORKDIR/results.csv
WORKDIR_MADE=0   # 1 if this script created WORKDIR
DAEMONS=()       # pids of the policy case's dossierfs daemons (run with -f)
CLEANED=0

# is_mounted PATH: true if PATH is a mount point in /proc/mounts (works for a
# FUSE mount whose daemon died, where mountpoint(1) fails with ENOTCONN).
is_mounted() {
	awk -v p="$1" '{ m = $2; gsub(/\\040/, " ", m); if (m == p) f = 1 }
		END { exit !f }' /proc/mounts
}

# mounted_under DIR: print the mount points at or below DIR.
mounted_under() {
	awk -v p="$1" '{ m = $2; gsub(/\\040/, " ", m)
		if (m == p || index(m, p "/") == 1) print m }' /proc/mounts
}

unmount_one() {
	local mp=$1 i
	is_mounted "$mp" || return 0
	fusermount3 -u "$mp" 2>/dev/null || fusermount -u "$mp" 2>/dev/null ||
		umount "$mp" 2>/dev/null || true
	for ((i = 0; i < 20; i++)); do
		is_mounted "$mp" || return 0
		sleep 0.25
	done
	log "cannot unmount $mp cleanly; detaching it with umount -l"
	umount -l "$mp" || log "umount -l $mp failed"
}

# remember_mount MP: have the trap unmount MP (once, however often mounted).
remember_mount() {
	case " ${MOUNTS[*]} " in
	*" $1 "*) ;;
	*) MOUNTS+=("$1") ;;
	esac
}

# stop_daemon PID: wait up to 10 s for a daemon of ours to exit after its
# unmount, then end it (by its pid) and reap it.
stop_daemon() {
	local pid=$1 i
	for ((i = 0; i < 40; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.25
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "dossierfs daemon $pid still runs after its unmount; sending TERM"
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 40; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.25
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# stop_child: end the timed command (its whole process group) if it runs.
stop_child() {
	local i
	[[ -n $CHILD ]] || return 0
	kill -TERM -- "-$CHILD" 2>/dev/null || true
	for ((i = 0; i < 40; i++)); do
		kill -0 -- "-$CHILD" 2>/dev/null || break
		sleep 0.25
	done
	kill -KILL -- "-$CHILD" 2>/dev/null || true
	wait "$CHILD" 2>/dev/null || true
	CHILD=""
}

cleanup() {
	local i left
	[[ $CLEANED -eq 0 ]] || return 0
	CLEANED=1
	set +e
	trap '' INT TERM
	stop_child
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		unmount_one "${MOUNTS[i]}"
	done
	for i in "${DAEMONS[@]}"; do
		stop_daemon "$i"
	done
	[[ -n $DATA && -d $DATA ]] || return 0
	left=$(mounted_under "$DATA")
	if [[ -n $left ]]; then
		log "still mounted, so $WORKDIR is left in place: $left"
		return 0
	fi
	[[ $KEEP -eq 1 ]] && {
		log "kept $WORKDIR (-k)"
		return 0
	}
	rm -rf --one-file-system "$DATA"
	if [[ -n $CSV && -f $CSV && $(wc -l <"$CSV") -gt 1 ]]; then
		log "raw results kept in $CSV"
	else
		rm -f "$CSV" "$WORKDIR/results.md"
		[[ $WORKDIR_MADE -eq 1 ]] && rmdir "$WORKDIR" 2>/dev/null
	fi
	return 0
}

on_signal() {
	log "caught SIG$1, cleaning up"
	cleanup
	trap - EXIT
	exit "$2"
}

trap cleanup EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM

# ---------------------------------------------------------------------------
# Helpers.

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# run_limited SECONDS CMD...: run CMD with stdin from /dev/null under
# timeout(1), which gives it a process group of its own; waiting in the
# background lets a TERM trap run at once instead of after the command.
run_limited() {
	local limit=$1 rc=0
	shift
	timeout -k 10 "$limit" "$@" </dev/null &
	CHILD=$!
	wait "$CHILD" || rc=$?
	CHILD=""
	[[ $rc -ne 124 && $rc -ne 137 ]] || log "timed out after ${limit}s: $*"
	return "$rc"
}

# timed CMD...: run CMD, set ELAPSED to its wall-clock seconds.
ELAPSED=0
timed() {
	local t0 t1 rc=0
	t0=$EPOCHREALTIME
	run_limited "$PHASE_TIMEOUT" "$@" || rc=$?
	t1=$EPOCHREALTIME
	ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
	return "$rc"
}

mb_per_s() { # MiB seconds -> MB/s (10^6 bytes, as dd reports)
	awk -v m="$1" -v s="$2" 'BEGIN { printf "%.3f", m * 1048576 / 1e6 / s }'
}

file_size() {
	stat -c %s -- "$1" 2>/dev/null || echo -1
}

# ---------------------------------------------------------------------------
# Targets. setup_<target> NAME mounts it (or makes the directory); mnt_of
# gives the mount point, dir_of the directory the workloads use.

declare -A DIR_OF=()
declare -A SKIPPED=()

mnt_of() { printf '%s/%s/mnt' "$DATA" "$1"; }

wait_mounted() {
	local mp=$1 i
	for ((i = 0; i < 40; i++)); do
		mountpoint -q "$mp" && return 0
		sleep 0.25
	done
	return 1
}

# mount_cmd TARGET MP CMD...: run a mounting command, remember MP for the
# trap, and check that MP really is a mount point afterwards.
mount_cmd() {
	local t=$1 mp=$2 rc=0
	shift 2
	remember_mount "$mp"
	run_limited 120 "$@" >>"$DATA/logs/$t.log" 2>&1 || rc=$?
	if [[ $rc -ne 0 ]]; then
		log "$t: mount command failed (exit $rc): $*"
		return 1
	fi
	wait_mounted "$mp" || {
		log "$t: $mp is not a mount point after mounting"
		return 1
	}
}

setup_native() {
	mkdir -p "$(mnt_of native)"
}

setup_bindfs() {
	local d=$DATA/bindfs
	mkdir -p "$d/backing" "$d/mnt"
	mount_cmd bindfs "$d/mnt" bindfs -o big_writes "$d/backing" "$d/mnt"
}

setup_gocryptfs() {
	local d=$DATA/gocryptfs
	mkdir -p "$d/backing" "$d/mnt"
	run_limited 120 gocryptfs -init -scryptn 10 -passfile "$PASSFILE" \
		"$d/backing" >>"$DATA/logs/gocryptfs.log" 2>&1 || {
		log "gocryptfs: -init failed"
		return 1
	}
	mount_cmd gocryptfs "$d/mnt" gocryptfs -passfile "$PASSFILE" -q -nosyslog \
		"$d/backing" "$d/mnt"
}

setup_securefs() {
	local d=$DATA/securefs
	mkdir -p "$d/backing" "$d/mnt"
	# The password goes on argv: acceptable for a throwaway benchmark only.
	run_limited 120 securefs create --format 4 --pass "$PASS" "$d/backing" \
		>>"$DATA/logs/securefs.log" 2>&1 || {
		log "securefs: create failed"
		return 1
	}
	mount_cmd securefs "$d/mnt" securefs mount -b --log "$DATA/logs/securefs.daemon.log" \
		--pass "$PASS" "$d/backing" "$d/mnt"
}

# init_vault VAULT LOGNAME: a new dossierfs vault, unlocked by PASSFILE.
init_vault() {
	local v=$1 logf=$DATA/logs/$2.log rc=0
	local -a init_opts=()
	read -r -a init_opts <<<"${DOSSIERCTL_INIT_OPTS:-}"
	run_limited 120 "$DOSSIERCTL" init "$v" --passphrase-file "$PASSFILE" \
		"${init_opts[@]}" >>"$logf" 2>&1 || rc=$?
	if [[ $rc -ne 0 ]]; then
		# Perhaps init wants an existing empty directory rather than a new one.
		mkdir -m 700 "$v"
		rc=0
		run_limited 120 "$DOSSIERCTL" init "$v" --passphrase-file "$PASSFILE" \
			"${init_opts[@]}" >>"$logf" 2>&1 || rc=$?
	fi
	if [[ $rc -ne 0 ]]; then
		log "$2: '$DOSSIERCTL init $v' failed (exit $rc)"
		return 1
	fi
}

# secure_policy DIR: the owner and modes the daemon insists on (root, not
# writable by group or others, no ACL entries).
secure_policy() {
	chown -R 0:0 "$1" && chmod 0755 "$1" && chmod 0644 "$1"/*.ini || return 1
	if command -v setfacl >/dev/null; then
		setfacl -b "$1" "$1"/*.ini 2>/dev/null || true
	fi
}

# check_policy DIR LOGNAME: 'dossierctl policy check' accepts DIR. Its
# warnings (members that are no user or group here) go to the log only.
check_policy() {
	local logf=$DATA/logs/$2.log rc=0
	secure_policy "$1" || {
		log "cannot set the owner and modes of $1"
		return 1
	}
	printf '== dossierctl policy check %s\n' "$1" >>"$logf"
	run_limited 300 "$DOSSIERCTL" policy check "$1" >>"$logf" 2>&1 || rc=$?
	if [[ $rc -ne 0 ]]; then
		log "dossierctl policy check rejects $1 (exit $rc):"
		grep -v ': warning: ' "$logf" | tail -n 20 >&2
		return 1
	fi
}

# write_bench_policy DIR: the workloads' policy, the benchmark user may do
# anything on any client.
write_bench_policy() {
	mkdir -m 0755 "$1" || return 1
	cat >"$1/bench.ini" <<EOF || return 1
# bench.sh: the policy of the workloads' mount.

[settings]
node = bench

[role bench]
description = The user running bench.sh: every permission on every client.
members = $BENCH_USER
scope = all
allow = all
EOF
}

# policy_args DIR ARGS...: FS_ARGS becomes ARGS with policy=DIR added to
# each of their -o lists (daemons before the policy kept only the last -o),
# or ARGS and -o policy=DIR; a policy= already in ARGS wins.
FS_ARGS=()
policy_args() {
	local dir=$1 i found=0
	shift
	FS_ARGS=("$@")
	for ((i = 0; i + 1 < ${#FS_ARGS[@]}; i++)); do
		[[ ${FS_ARGS[i]} == -o ]] || continue
		i=$((i + 1))
		found=1
		[[ ,${FS_ARGS[i]}, == *,policy=* ]] || FS_ARGS[i]+=",policy=$dir"
	done
	[[ $found -eq 1 ]] || FS_ARGS+=(-o "policy=$dir")
}

# mount_dossierfs TARGET WRITER: a vault of TARGET's, mounted under the
# policy WRITER writes in DATA/policy-TARGET.
mount_dossierfs() {
	local t=$1 d=$DATA/$1 pol=$DATA/policy-$1
	local -a fs_opts=()
	read -r -a fs_opts <<<"${DOSSIERFS_OPTS:-}"
	mkdir -p "$d/mnt"
	if ! { "$2" "$pol" && check_policy "$pol" "$t"; }; then
		log "$t: cannot write a valid policy in $pol"
		return 1
	fi
	init_vault "$d/vault" "$t" || return 1
	policy_args "$pol" "${fs_opts[@]}"
	mount_cmd "$t" "$d/mnt" "$DOSSIERFS" "$d/vault" "$d/mnt" \
		--passphrase-file "$PASSFILE" "${FS_ARGS[@]}"
}

setup_dossierfs() { mount_dossierfs dossierfs write_bench_policy; }

# The policy of the workloads plus one alert rule of each kind, with the
# example's thresholds, watching the benchmark user; they only record.
write_alert_policy() {
	write_bench_policy "$1" || return 1
	cat >"$1/alerts.ini" <<EOF || return 1
# bench.sh: alert rules weighed on every access of the workloads.
[alert bulk-reads]
kind = reads
threshold = 200
window = 10m
response = record
[alert many-clients]
kind = clients
threshold = 20
window = 1h
response = record
[alert after-hours]
kind = off-hours
days = mon-fri
hours = 07:00-20:00
response = record
[alert refusals]
kind = denials
threshold = 10
window = 5m
response = record
[alert mass-change]
kind = mass-change
threshold = 50
window = 1m
response = record
[alert id-scans]
kind = sensitive
files = id-scan*, ID
threshold = 20
window = 1h
response = record
EOF
}

setup_dossierfs-alerts() { mount_dossierfs dossierfs-alerts write_alert_policy; }

# probe DIR: a small write, read back and delete, so a target that mounts but
# refuses work is reported now rather than as a column of failures.
probe() {
	# shellcheck disable=SC2016 # expanded by the inner shell
	run_limited 60 bash -c 'printf probe >"$1/.bench-probe" &&
		[[ $(<"$1/.bench-probe") == probe ]] && rm -f "$1/.bench-probe"' _ "$1"
}

setup_target() {
	local t=$1 d
	if [[ $t == dossierfs* ]] && ! [[ -x $DOSSIERFS && -x $DOSSIERCTL ]]; then
		SKIPPED[$t]="binaries not found: $DOSSIERFS, $DOSSIERCTL (run make in the work tree, or set DOSSIERFS/DOSSIERCTL)"
		return 1
	fi
	log "$t: setting up"
	if ! "setup_$t"; then
		SKIPPED[$t]="setup failed; see the messages above"
		[[ -f $DATA/logs/$t.log ]] && tail -n 20 "$DATA/logs/$t.log" >&2
		return 1
	fi
	d=$(mnt_of "$t")
	if [[ $t == dossierfs* ]]; then
		d=$d/$DOSSIERFS_SUBDIR
		mkdir -p "$d" || {
			SKIPPED[$t]="cannot create DOSSIERFS_SUBDIR $d"
			return 1
		}
	fi
	if ! probe "$d"; then
		SKIPPED[$t]="mounted, but a test write/read/delete in $d failed (the policy refuses? see DOSSIERFS_SUBDIR/DOSSIERFS_OPTS and $DATA/logs)"
		return 1
	fi
	DIR_OF[$t]=$d
}

# alive TARGET: the target's mount is still there (checked before each use).
alive() {
	[[ $1 == native ]] && return 0
	mountpoint -q "$(mnt_of "$1")"
}

# ---------------------------------------------------------------------------
# Phases. phase_<workload> DIR: prepare untimed, drop caches, time the work;
# set VALUE on success, return non-zero on failure.

VALUE=""

phase_seqwrite() {
	drop_caches || return 1
	timed dd if=/dev/zero of="$1/seq.dat" bs=1M count="$SIZE_MIB" conv=fsync status=none ||
		return 1
	VALUE=$(mb_per_s "$SIZE_MIB" "$ELAPSED")
}

phase_seqread() {
	local rc=0
	[[ $(file_size "$1/seq.dat") -eq $((SIZE_MIB * 1048576)) ]] || {
		log "seq.dat is missing or has the wrong size"
		return 1
	}
	drop_caches || return 1
	timed dd if="$1/seq.dat" of=/dev/null bs=1M status=none || rc=1
	rm -f "$1/seq.dat" || rc=1
	[[ $rc -eq 0 ]] || return 1
	VALUE=$(mb_per_s "$SIZE_MIB" "$ELAPSED")
}

phase_untar() {
	local n
	mkdir "$1/tree" || return 1
	drop_caches || return 1
	timed tar -C "$1/tree" -xf "$TARBALL" || return 1
	VALUE=$ELAPSED
	n=$(find "$1/tree" | wc -l) # untimed check that every entry arrived
	[[ $n -eq $((TAR_ENTRIES + 1)) ]] || {
		log "untar left $((n - 1)) entries, the tarball has $TAR_ENTRIES"
		return 1
	}
}

phase_lsr() {
	[[ -d $1/tree ]] || return 1
	drop_caches || return 1
	timed ls -lR "$1/tree" >/dev/null || return 1
	VALUE=$ELAPSED
}

phase_rmrf() {
	[[ -d $1/tree ]] || return 1
	drop_caches || return 1
	timed rm -rf "$1/tree" || return 1
	[[ ! -e $1/tree ]] || return 1
	VALUE=$ELAPSED
}

# fio_job DIR RW FIELD: one fio job; FIELD is the IOPS field of terse v3
# output (8 for reads, 49 for writes).
fio_job() {
	local out=$DATA/fio.out
	drop_caches || return 1
	timed fio --name=bench --directory="$1" --filename=fio.dat --rw="$2" \
		--bs=4k --ioengine=psync --size="${FIO_MIB}m" --runtime="$FIO_RUNTIME" \
		--time_based --direct=0 --fallocate=none \
		--output-format=terse --terse-version=3 --output="$out" || {
		[[ -f $out ]] && cat "$out" >&2
		return 1
	}
	VALUE=$(awk -F';' -v f="$3" 'NR == 1 { print $f }' "$out")
	if ! [[ $VALUE =~ ^[0-9.]+$ ]] || ! awk -v v="$VALUE" 'BEGIN { exit !(v > 0) }'; then
		log "cannot read IOPS from fio output: $(head -c 300 "$out")"
		return 1
	fi
}

phase_randwrite() {
	fio_job "$1" randwrite 49
}

phase_randread() {
	local rc=0
	[[ $(file_size "$1/fio.dat") -eq $((FIO_MIB * 1048576)) ]] || {
		log "fio.dat is missing or has the wrong size"
		return 1
	}
	fio_job "$1" randread 8 || rc=1
	rm -f "$1/fio.dat" || rc=1
	return "$rc"
}

phase_create() {
	mkdir "$1/small" || return 1
	drop_caches || return 1
	# shellcheck disable=SC2016 # expanded by the inner shell
	timed bash -c 'for ((i = 0; i < $2; i++)); do : >"$1/f$i" || exit 1; done' \
		_ "$1/small" "$NFILES" || return 1
	VALUE=$ELAPSED
}

phase_stat() {
	local list=$DATA/names i
	# Names come from a list, not a readdir, so nothing is looked up early.
	for ((i = 0; i < NFILES; i++)); do
		printf '%s/small/f%d\0' "$1" "$i"
	done >"$list"
	drop_caches || return 1
	timed xargs -0 -a "$list" stat -c %s >/dev/null || return 1
	VALUE=$ELAPSED
}

phase_rmsmall() {
	[[ -d $1/small ]] || return 1
	drop_caches || return 1
	timed rm -rf "$1/small" || return 1
	[[ ! -e $1/small ]] || return 1
	VALUE=$ELAPSED
}

# settle TARGET: dossierfs destroys deleted files in the background (the
# eraser overwrites and reads back what rm removed). Untimed, before the
# next phase: wait until its queue is empty, so that no phase pays for
# the erasure of another. Sets SETTLED to the seconds it took.
SETTLED=0
settle() {
	local q=$DATA/$1/vault/erase t0 i
	SETTLED=0
	[[ $1 == dossierfs* && -d $q && -n $(ls -A "$q" 2>/dev/null) ]] || return 0
	t0=$(date +%s.%N)
	for ((i = 0; i < 6000; i++)); do
		[[ -z $(ls -A "$q" 2>/dev/null) ]] && break
		sleep 0.1
	done
	SETTLED=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
	[[ -z $(ls -A "$q" 2>/dev/null) ]] || log "dossierfs: the erase queue did not empty in 600 s"
}

# Leftovers of a failed phase, removed so the next workload starts clean.
scrub() {
	rm -rf "$1/seq.dat" "$1/tree" "$1/fio.dat" "$1/small" 2>/dev/null || true
}

# ---------------------------------------------------------------------------
# The policy case: open+close of existing files in one client folder of a
# vault of its own, remounted under the example-sized policy and under a
# large generated one, alternately. Everything lives in $PC.

PC=""                    # WORKDIR/data/policy-case
POL_CLIENT=client-04242  # the test client: team t042 of the large policy
POL_NAMES=(example large)
declare -A POL_DIR=()    # policy name -> its directory
declare -A POL_BY=()     # policy name -> what decides the timed opens
declare -A POL_SHAPE=()  # policy name -> "roles/rules/clients/teams" counts
POL_PID=""               # the daemon mounted now
POL_FAILED=""            # why the policy case could not run, if it could not
PYTHON=""

# The timed loop: every file opened once untimed (lookups, dentries), then
# N open(O_RDONLY)+close pairs over the files in turn, by full path as an
# application would. Prints opens/s and the daemon's CPU time (user +
# system, all threads) per open in microseconds: the rate suffers from
# whatever else runs on the machine, the CPU time much less.
POL_LOOP='
import os, sys, time
d, nfiles, nopens, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
tick = os.sysconf("SC_CLK_TCK")
def cpu():
    with open("/proc/%s/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / tick
paths = [os.path.join(d, "f%05d" % i) for i in range(nfiles)]
for p in paths:
    os.close(os.open(p, os.O_RDONLY))
c0, t0 = cpu(), time.perf_counter()
for i in range(nopens):
    os.close(os.open(paths[i % nfiles], os.O_RDONLY))
t, c = time.perf_counter() - t0, cpu() - c0
print("%.1f %.2f" % (nopens / t, c * 1e6 / nopens))
'

# write_example_policy DIR: the repository's policy/ (6 roles, 4 rules, 4
# clients, 2 teams) and a role making the benchmark user a client manager;
# it creates the test client folder, so it owns it and scope assigned
# reaches it.
write_example_policy() {
	local src=$SCRIPT_DIR/../policy
	compgen -G "$src/*.ini" >/dev/null || {
		log "no example policy in $src"
		return 1
	}
	mkdir -m 0755 "$1" && cp -- "$src"/*.ini "$1/" || return 1
	cat >"$1/zz-bench.ini" <<EOF
# bench.sh: the benchmark user is a client manager of the clients it creates.

[role bench-manager]
members = $BENCH_USER
scope = assigned
allow = list, read, write, create, rename, delete, register
EOF
}

# write_large_policy DIR: a deterministic policy of a large office (awk, no
# randomness): users u0000-u0999, groups g00-g39, teams t000-t099 (ten
# users and a group each), clients client-00000 to client-09999 (owner,
# team, members), 50 roles of ~27 users and one or two groups each, 12
# rules. The benchmark user is a member of team t042, the team of
# $POL_CLIENT, and of four roles: supervisor-14 (scope team: it reaches
# the client through the team and allows list, read), legal-35 (files:
# contracts only), records-40 (weekday office hours) and portfolio-28
# (clients:GLOBS that miss the client). No role or rule lets it write there.
write_large_policy() {
	mkdir -m 0755 "$1" || return 1
	awk -v dir="$1" -v me="$BENCH_USER" -v ci="${POL_CLIENT#client-}" '
	function u(i) { return sprintf("u%04d", i) }
	function g(i) { return sprintf("@g%02d", i) }
	function t(i) { return sprintf("t%03d", i) }
	# key = a[1], ..., a[n], wrapped well inside the 198-byte line limit.
	function list(f, key, n, a,   i, line) {
		line = key " = " a[1]
		for (i = 2; i <= n; i++) {
			if (length(line) + length(a[i]) > 100) {
				print line "," > f
				line = "    " a[i]
			} else {
				line = line ", " a[i]
			}
		}
		print line > f
	}
	# The names of roles lo..hi as a comma-separated list in a[].
	function roles(lo, hi, a,   k, n) {
		n = 0
		for (k = lo; k <= hi; k++) a[++n] = rn[k]
		return n
	}
	function rule(name, desc, n, a, effect, perms, extra) {
		print "\n[rule " name "]" > rf
		print "description = " desc > rf
		list(rf, "roles", n, a)
		print "effect = " effect > rf
		print "permissions = " perms > rf
		if (extra != "") print extra > rf
	}
	BEGIN {
		ci += 0
		tf = dir "/teams.ini"; cf = dir "/clients.ini"
		rf = dir "/roles.ini"; sf = dir "/settings.ini"
		print "# Generated by bench.sh: a large office.\n\n[settings]\nnode = bench-large" > sf

		print "# Generated by bench.sh: 100 teams." > tf
		for (k = 0; k < 100; k++) {
			n = 0
			for (i = k; i < 1000; i += 100) m[++n] = u(i)
			m[++n] = g(k % 40)
			if (k == ci % 100) m[++n] = me
			print "\n[team " t(k) "]" > tf
			if (k % 10 == 0) print "description = District " k / 10 " sales." > tf
			list(tf, "members", n, m)
		}

		print "# Generated by bench.sh: 10,000 clients." > cf
		for (i = 0; i < 10000; i++) {
			print "\n[client " sprintf("client-%05d", i) "]" > cf
			print "owner = " u((i * 7 + 3) % 1000) > cf
			print "team = " t(i % 100) > cf
			n = 0
			m[++n] = u((i * 13 + 5) % 1000)
			if (i % 3 == 0) m[++n] = u((i * 31 + 17) % 1000)
			if (i % 4 == 0) m[++n] = g(i % 40)
			list(cf, "members", n, m)
			if (i % 10 == 0) {
				printf "closed = 20%02d-%02d-28\n", 15 + i % 9, 1 + i % 12 > cf
				print "retention = 10y" > cf
			}
			if (i % 97 == 0) printf "hold = litigation 2024-%03d\n", i % 1000 > cf
		}

		# Roles: kinds by number, members by user number.
		for (k = 0; k < 50; k++) {
			if (k < 10) rn[k] = sprintf("client-manager-%02d", k)
			else if (k < 20) rn[k] = sprintf("supervisor-%02d", k)
			else if (k < 25) rn[k] = sprintf("team-lead-%02d", k)
			else if (k < 33) rn[k] = sprintf("portfolio-%02d", k)
			else if (k < 38) rn[k] = sprintf("legal-%02d", k)
			else if (k < 43) rn[k] = sprintf("records-%02d", k)
			else if (k < 46) rn[k] = sprintf("infosec-%02d", k)
			else if (k < 48) rn[k] = sprintf("auditor-%02d", k)
			else rn[k] = sprintf("night-desk-%02d", k)
			nm[k] = 0
		}
		for (i = 0; i < 1000; i++) {
			k = i % 50; mem[k, ++nm[k]] = u(i)
			if (i % 3 == 0) {
				k = (int(i / 3) * 7 + 11) % 50
				mem[k, ++nm[k]] = u(i)
			}
		}
		for (k = 0; k < 50; k++) {
			mem[k, ++nm[k]] = g(k % 40)
			if (k % 5 == 0) mem[k, ++nm[k]] = g((k + 17) % 40)
		}
		split("14 28 35 40", mine, " ")
		for (j in mine) { k = mine[j] + 0; mem[k, ++nm[k]] = me }

		print "# Generated by bench.sh: 50 roles." > rf
		for (k = 0; k < 50; k++) {
			print "\n[role " rn[k] "]" > rf
			n = 0
			for (i = 1; i <= nm[k]; i++) m[++n] = mem[k, i]
			list(rf, "members", n, m)
			if (k < 10) {
				print "scope = assigned" > rf
				print "allow = list, read, write, create, rename, delete, register" > rf
			} else if (k < 20) {
				print "scope = team" > rf
				print "allow = list, read" > rf
			} else if (k < 25) {
				print "scope = team:" t((k * 17) % 100) > rf
				print "allow = list, read, write, create, rename" > rf
			} else if (k < 33) {
				j = k - 25
				printf "scope = clients:client-0%d[0-4]* client-1%d[5-9]* client-077*\n", j, j > rf
				print "allow = list, read, share" > rf
			} else if (k < 38) {
				print "scope = all" > rf
				print "allow = list, read" > rf
				print "files = *[Cc]ontract*, *[Aa]greement*" > rf
			} else if (k < 43) {
				print "scope = all" > rf
				print "allow = list, read, delete" > rf
				print "days = mon-fri" > rf
				print "hours = 08:00-12:30, 13:30-18:00" > rf
			} else if (k < 46) {
				print "scope = all" > rf
				print "allow = list, share, admin" > rf
			} else if (k < 48) {
				print "scope = all" > rf
				print "allow = list, audit" > rf
			} else {
				print "scope = assigned" > rf
				print "allow = list, read, write" > rf
				print "days = " (k == 48 ? "sat-sun" : "fri-mon") > rf
				print "hours = 00:00-08:00, 18:00-24:00" > rf
			}
		}

		rf = dir "/rules.ini"
		print "# Generated by bench.sh: 12 rules." > rf
		n = roles(10, 19, a)
		rule("supervisors-no-id-scans", "Supervisors never see identity documents.",
			n, a, "deny", "read", "files = id-scan*, ID, passport*")
		rule("supervisors-no-medical", "Nor medical records.",
			n, a, "deny", "read", "files = medical*, */health/*")
		n = roles(43, 45, a)
		rule("infosec-no-contents", "Information security never touches contents.",
			n, a, "deny", "read, write, create, rename, delete", "")
		n = roles(46, 47, a)
		rule("auditors-read-only-audit", "Auditors see the audit trail only.",
			n, a, "deny", "read, write, create, rename, delete, register, share, admin", "")
		a[1] = "*"
		rule("office-templates", "Everyone reads the blank forms.",
			1, a, "allow", "list, read", "scope = clients:company-templates")
		rule("no-night-sharing", "Nothing is sent out at night.",
			1, a, "deny", "share", "hours = 00:00-06:00")
		n = roles(0, 9, a)
		rule("weekend-freeze", "No deletes or renames at weekends.",
			n, a, "deny", "delete, rename", "days = sat-sun")
		n = roles(20, 24, a)
		rule("team-leads-no-payroll", "Team leads do not read payroll.",
			n, a, "deny", "read", "files = payroll*, */salaries/*")
		n = roles(38, 42, a)
		rule("records-hold-no-delete", "Clients 09xxx are under a litigation hold.",
			n, a, "deny", "delete", "scope = clients:client-09[0-9]*")
		rule("records-evening", "The records office reads until 20:00 on weekdays.",
			n, a, "allow", "list, read", "days = mon-fri\nhours = 18:00-20:00")
		n = roles(25, 32, a)
		rule("portfolio-contracts", "Portfolio managers read contracts of 05xxx clients.",
			n, a, "allow", "read", "files = *[Cc]ontract*\nscope = clients:client-05*")
		n = roles(33, 37, a)
		rule("legal-no-drafts-weekend", "Drafts are not read at weekends.",
			n, a, "deny", "read", "files = *draft*\ndays = sat-sun")
	}'
}

# pol_mount NAME: mount the case's vault under policy NAME. The daemon runs
# in the foreground (-f) as our child, so its pid is known: it is waited
# for after each unmount, and the next mount of the vault never meets it.
pol_mount() {
	local mp=$PC/mnt i
	printf '== mount, policy %s\n' "$1" >>"$DATA/logs/policy.log"
	remember_mount "$mp"
	"$DOSSIERFS" "$PC/vault" "$mp" -f --passphrase-file "$PASSFILE" \
		-o "policy=${POL_DIR[$1]}" </dev/null >>"$DATA/logs/policy.log" 2>&1 &
	POL_PID=$!
	DAEMONS+=("$POL_PID")
	for ((i = 0; i < 240; i++)); do
		mountpoint -q "$mp" && return 0
		kill -0 "$POL_PID" 2>/dev/null || break
		sleep 0.25
	done
	log "policy: cannot mount the vault under the $1 policy; $DATA/logs/policy.log says:"
	tail -n 5 "$DATA/logs/policy.log" >&2
	pol_unmount
	return 1
}

pol_unmount() {
	local pid
	unmount_one "$PC/mnt"
	[[ -n $POL_PID ]] || return 0
	stop_daemon "$POL_PID"
	for pid in "${!DAEMONS[@]}"; do
		[[ ${DAEMONS[pid]} != "$POL_PID" ]] || unset 'DAEMONS[pid]'
	done
	POL_PID=""
}

# pol_prepare: the vault, both policies (checked), and under the example
# policy the test client folder with POL_FILES small files.
pol_prepare() {
	local c i
	PC=$DATA/policy-case
	POL_DIR[example]=$PC/policy-example
	POL_DIR[large]=$PC/policy-large
	mkdir -p "$PC/mnt" || return 1
	write_example_policy "${POL_DIR[example]}" && check_policy "${POL_DIR[example]}" policy &&
		write_large_policy "${POL_DIR[large]}" && check_policy "${POL_DIR[large]}" policy || return 1
	for i in example large; do
		POL_SHAPE[$i]=$(cat "${POL_DIR[$i]}"/*.ini | awk '
			/^\[role /   { r++ } /^\[rule /   { u++ }
			/^\[client / { c++ } /^\[team /   { t++ }
			END { printf "%d roles, %d rules, %d clients, %d teams", r, u, c, t }')
	done
	init_vault "$PC/vault" policy || return 1
	pol_mount example || return 1
	c=$PC/mnt/$POL_CLIENT
	# shellcheck disable=SC2016 # expanded by the inner shell
	if ! run_limited 300 bash -c 'mkdir "$1" || exit 1
		for ((i = 0; i < $2; i++)); do
			printf "file %05d of the benchmark client\n" "$i" >"$(printf "%s/f%05d" "$1" "$i")" || exit 1
		done' _ "$c" "$POL_FILES"; then
		log "policy: cannot create $POL_FILES files in $c under the example policy"
		pol_unmount
		return 1
	fi
	pol_unmount
}

# pol_measure NAME: one mount under policy NAME; sets VALUE to the
# open+close rate and CPU to the daemon's CPU microseconds per open.
CPU=""
pol_measure() {
	local name=$1 c=$PC/mnt/$POL_CLIENT out=$DATA/policy.out by rc=0
	pol_mount "$name" || return 1
	# The policy must be in force: the large one gives no write here.
	if [[ $name == large ]] && (: >>"$c/f00000") 2>/dev/null; then
		log "policy: the large policy lets $BENCH_USER write $c/f00000: is it enforced?"
		rc=1
	fi
	if [[ $rc -eq 0 && -z ${POL_BY[$name]:-} ]]; then
		by=$("$DOSSIERCTL" policy explain --policy "${POL_DIR[$name]}" \
			"$BENCH_USER" "$c/f00000" read 2>/dev/null | tail -n 1) || true
		POL_BY[$name]=${by:-unknown}
		printf '== explain, policy %s: %s\n' "$name" "$by" >>"$DATA/logs/policy.log"
	fi
	if [[ $rc -eq 0 ]]; then
		run_limited "$PHASE_TIMEOUT" "$PYTHON" -c "$POL_LOOP" "$c" "$POL_FILES" \
			"$POL_OPENS" "$POL_PID" >"$out" || rc=1
	fi
	pol_unmount
	[[ $rc -eq 0 ]] || return 1
	read -r VALUE CPU <"$out" || true
	[[ $VALUE =~ ^[0-9]+(\.[0-9]+)?$ && $CPU =~ ^[0-9]+(\.[0-9]+)?$ ]] || {
		log "policy: the open loop printed '$(head -c 200 "$out")'"
		return 1
	}
}

# pol_run R NAME: measurement R under policy NAME, into VAL and the CSV.
pol_run() {
	local of=$RUNS
	[[ $2 != example ]] || of=$((RUNS + 1))
	VALUE=NA
	if pol_measure "$2"; then
		log "policy $2, $1/$of: $VALUE opens/s, daemon CPU $CPU us/open"
	else
		log "policy $2, $1/$of: FAILED"
		VALUE=NA
		CPU=NA
		FAILURES=$((FAILURES + 1))
	fi
	VAL["$1|policy-$2|dossierfs"]=$VALUE
	VAL["$1|policy-$2-cpu|dossierfs"]=$CPU
	printf '%d,policy-%s,dossierfs,%s,opens/s\n' "$1" "$2" "$VALUE" >>"$CSV"
	printf '%d,policy-%s-cpu,dossierfs,%s,daemon-us/open\n' "$1" "$2" "$CPU" >>"$CSV"
}

# pol_ratio R SUFFIX: large R / the mean of example R and R + 1 (one that
# failed left out), for the values policy-NAME-SUFFIX; NA if none.
pol_ratio() {
	awk -v l="${VAL["$1|policy-large$2|dossierfs"]}" \
		-v a="${VAL["$1|policy-example$2|dossierfs"]}" \
		-v b="${VAL["$(($1 + 1))|policy-example$2|dossierfs"]}" 'BEGIN {
			n = (a != "NA") + (b != "NA")
			if (l == "NA" || n == 0 || a + b == 0) { print "NA"; exit }
			printf "%.6f\n", l / (((a != "NA") ? a : 0) + ((b != "NA") ? b : 0)) * n
		}'
}

# run_policy_case: example, large, example, large, ..., example: RUNS
# large measurements, each between two example ones, and RUNS + 1 example
# ones. The ratio of repetition R is large R over the mean of example R
# and example R + 1 (the one that failed left out), so that a steady drift
# of the machine does not favour the policy measured first.
run_policy_case() {
	local r ratio
	PYTHON=$(command -v python3) || true
	[[ ! -x /usr/bin/python3 ]] || PYTHON=/usr/bin/python3
	if [[ -z $PYTHON ]]; then
		POL_FAILED="python3 not found (it runs the open+close loop)"
		FAILURES=$((FAILURES + 1))
		return 0
	fi
	log "policy: generating and checking the policies, preparing the vault"
	if ! pol_prepare; then
		POL_FAILED="setup failed; see the messages above and $DATA/logs/policy.log"
		FAILURES=$((FAILURES + 1))
		return 0
	fi
	pol_run 1 example
	for ((r = 1; r <= RUNS; r++)); do
		pol_run "$r" large
		pol_run "$((r + 1))" example
		ratio=$(pol_ratio "$r" "")
		VAL["$r|policy-ratio|dossierfs"]=$ratio
		printf '%d,policy-ratio,dossierfs,%s,large/example\n' "$r" "$ratio" >>"$CSV"
		ratio=$(pol_ratio "$r" -cpu)
		VAL["$r|policy-ratio-cpu|dossierfs"]=$ratio
		printf '%d,policy-ratio-cpu,dossierfs,%s,large/example\n' "$r" "$ratio" >>"$CSV"
	done
}

# ---------------------------------------------------------------------------
# Tools: install a missing peer only if command -v fails.

ensure_tools() {
	local -a missing=()
	local t
	command -v fio >/dev/null || missing+=(fio)
	for t in "${TARGETS[@]}"; do
		case $t in
		bindfs | gocryptfs | securefs) command -v "$t" >/dev/null || missing+=("$t") ;;
		esac
	done
	[[ ${#missing[@]} -eq 0 ]] && return 0
	command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
	log "installing ${missing[*]} with apt-get"
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
}

version_of() {
	case $1 in
	native) printf 'plain directory on %s (%s)' \
		"$(findmnt -n -o FSTYPE -T "$DATA" 2>/dev/null || stat -f -c %T "$DATA")" \
		"$(df -P "$DATA" | awk 'NR == 2 { print $1 }')" ;;
	bindfs) bindfs --version 2>&1 | head -n 1 ;;
	gocryptfs) gocryptfs -version 2>&1 | head -n 1 | cut -d';' -f1 ;;
	securefs) # Debian's build reports no version of its own
		dpkg-query -W -f 'securefs ${Version}' securefs 2>/dev/null ||
			securefs version 2>&1 | head -n 1 ;;
	dossierfs) printf '%s' "$DOSSIERFS_VERSION" ;;
	dossierfs-alerts) printf '%s, 6 alert rules' "$DOSSIERFS_VERSION" ;;
	esac
}

# The dossierfs commit, and whether the work tree differs from it.
DOSSIERFS_VERSION=""
dossierfs_version() {
	local top=$SCRIPT_DIR/.. v
	v=$(git -C "$top" log -1 --format='dossierfs %h %cs' 2>/dev/null) || v="dossierfs (no commit)"
	[[ -z $(git -C "$top" status --porcelain -- src include Makefile 2>/dev/null) ]] ||
		v+=" + uncommitted changes"
	printf '%s' "$v"
}

# snapshot_binaries: run copies of the dossierfs binaries, so that a
# rebuild in src/ during the benchmark changes nothing in it.
snapshot_binaries() {
	local rc=0
	DOSSIERFS_VERSION=$(dossierfs_version)
	[[ " ${TARGETS[*]} " == *" dossierfs"* && -x $DOSSIERFS && -x $DOSSIERCTL ]] || return 0
	if ! { mkdir -p "$DATA/bin" && cp -- "$DOSSIERFS" "$DATA/bin/dossierfs" &&
		cp -- "$DOSSIERCTL" "$DATA/bin/dossierctl"; }; then
		die "cannot copy the dossierfs binaries to $DATA/bin"
	fi
	"$DATA/bin/dossierctl" >/dev/null 2>&1 || rc=$?
	if [[ $rc -eq 126 ]]; then
		log "cannot run binaries in $DATA (noexec?); using $DOSSIERFS as it is"
		return 0
	fi
	DOSSIERFS_VERSION+=", binaries copied at start"
	DOSSIERFS=$DATA/bin/dossierfs
	DOSSIERCTL=$DATA/bin/dossierctl
}

# ---------------------------------------------------------------------------
# Main.

START=$EPOCHREALTIME
ensure_tools
for c in timeout mountpoint fio tar dd awk stat xargs; do
	command -v "$c" >/dev/null || die "required command '$c' not found"
done

case $WORKDIR in
*:* | *[[:space:]]*) die "WORKDIR must not contain ':' or white space (fio, /proc/mounts)" ;;
esac
drop_caches || die "cannot drop caches via /proc/sys/vm/drop_caches"
if [[ -z $WORKDIR ]]; then
	WORKDIR=$(mktemp -d /var/tmp/dossierfs-bench.XXXXXX)
	WORKDIR_MADE=1
else
	[[ $WORKDIR == /* ]] || WORKDIR=$PWD/$WORKDIR
	if [[ -e $WORKDIR ]]; then
		[[ -d $WORKDIR && -z $(ls -A "$WORKDIR") ]] ||
			die "WORKDIR $WORKDIR exists and is not an empty directory"
	else
		mkdir -p "$WORKDIR"
		WORKDIR_MADE=1
	fi
fi
DATA=$WORKDIR/data
CSV=$WORKDIR/results.csv
REPORT=$WORKDIR/results.md
mkdir -p "$DATA/logs"
[[ $(stat -f -c %T "$WORKDIR") != tmpfs ]] || log "warning: $WORKDIR is on tmpfs, not a disk"

# Space: every target holds the seq file at once, plus trees and the tarball;
# the policy case needs a few MiB.
TARBALL=$DATA/include.tar
TAR_ENTRIES=0
tar_mib=0
if [[ -n ${WANT[untar]:-} ]]; then
	tar -C /usr -cf "$TARBALL" include
	TAR_ENTRIES=$(tar -tf "$TARBALL" | wc -l)
	tar_mib=$(($(file_size "$TARBALL") / 1048576 + 1))
fi
need_mib=64
[[ ${#WORKLOADS[@]} -eq 0 ]] ||
	need_mib=$((${#TARGETS[@]} * (SIZE_MIB + FIO_MIB + 2 * tar_mib) + tar_mib + need_mib))
free_mib=$(($(df -Pk "$WORKDIR" | awk 'NR == 2 { print $4 }') / 1024))
[[ $free_mib -ge $need_mib ]] || die "need about $need_mib MiB free in $WORKDIR, have $free_mib"

snapshot_binaries

PASSFILE=$DATA/passphrase
PASS=$(head -c 18 /dev/urandom | base64)
(
	umask 077
	printf '%s\n' "$PASS" >"$PASSFILE"
)

# The workloads' targets (none if only the policy case runs).
ACTIVE=()
if [[ ${#WORKLOADS[@]} -gt 0 ]]; then
	for t in "${TARGETS[@]}"; do
		if setup_target "$t"; then
			ACTIVE+=("$t")
		else
			log "$t: SKIPPED: ${SKIPPED[$t]}"
		fi
	done
	[[ ${#ACTIVE[@]} -gt 0 ]] || die "no target could be set up"
fi

printf 'run,workload,target,value,unit\n' >"$CSV"
declare -A VAL=()  # "run|workload|target" -> value or NA
declare -A DEAD=() # targets whose mount disappeared
declare -A DRAIN=() # workload -> dossierfs erase-queue drain times (s)
FAILURES=0
n=${#ACTIVE[@]}
for ((r = 1; r <= RUNS; r++)); do
	# A new target order each run (a shuffle seeded by BENCH_SEED and the
	# run): no target always goes first, and none always follows the same
	# one (right after a 512 MiB writer, this VM's page cache is slow to
	# fault in, which a fixed rotation pinned on one target).
	order=("${ACTIVE[@]}")
	RANDOM=$((BENCH_SEED * 1000 + r))
	for ((i = n - 1; i > 0; i--)); do
		j=$((RANDOM % (i + 1)))
		tmp=${order[i]}
		order[i]=${order[j]}
		order[j]=$tmp
	done
	log "run $r/$RUNS: target order ${order[*]}"
	for w in "${WORKLOADS[@]}"; do
		IFS='|' read -r wid label unit _ <<<"$w"
		for t in "${order[@]}"; do
			d=${DIR_OF[$t]}
			VALUE=NA
			if ! alive "$t"; then
				[[ -n ${DEAD[$t]:-} ]] || log "$t: $(mnt_of "$t") is NOT MOUNTED any more; its remaining phases fail"
				DEAD[$t]=1
				FAILURES=$((FAILURES + 1))
			elif "phase_$wid" "$d"; then
				log "run $r/$RUNS $label, $t: $VALUE $unit"
			else
				log "run $r/$RUNS $label, $t: FAILED"
				VALUE=NA
				FAILURES=$((FAILURES + 1))
				scrub "$d"
			fi
			VAL["$r|$wid|$t"]=$VALUE
			printf '%d,%s,%s,%s,%s\n' "$r" "$wid" "$t" "$VALUE" "$unit" >>"$CSV"
			settle "$t"
			if [[ $SETTLED != 0 && $SETTLED != 0.00 ]]; then
				log "run $r/$RUNS $label, $t: its erase queue emptied $SETTLED s after"
				DRAIN["$wid"]+=" $SETTLED"
			fi
		done
	done
done

if [[ $POLICY_CASE -eq 1 ]]; then
	if [[ -x $DOSSIERFS && -x $DOSSIERCTL ]]; then
		run_policy_case
	else
		POL_FAILED="binaries not found: $DOSSIERFS, $DOSSIERCTL"
		FAILURES=$((FAILURES + 1))
	fi
fi

# ---------------------------------------------------------------------------
# Report.

median() { # values as arguments; NA ignored; prints NA if none
	printf '%s\n' "$@" | awk '$1 != "NA" { a[++n] = $1 }
		END {
			if (!n) { print "NA"; exit }
			for (i = 2; i <= n; i++)	# insertion sort, n is small
				for (j = i; j > 1 && a[j - 1] > a[j]; j--) { x = a[j]; a[j] = a[j - 1]; a[j - 1] = x }
			print (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}'
}

fmt() { # unit value
	awk -v u="$1" -v v="$2" 'BEGIN {
		if (v == "NA") print "fail"
		else if (u == "IOPS") printf "%.1fk\n", v / 1000
		else if (u == "MB/s") printf "%.0f\n", v
		else printf "%.2f\n", v
	}'
}

ratio() { # a b -> a/b, or NA
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "NA" || b == "NA" || b == 0) print "NA"; else printf "%.6f\n", a / b }'
}

fmt3() { awk -v v="$1" 'BEGIN { if (v == "NA") print "n/a"; else printf "%.3f\n", v }'; }

fmt_ratio() {
	awk -v v="$1" 'BEGIN { if (v == "NA") print "n/a"; else printf "%.2f\n", v }'
}

fmt_rate() { # opens/s
	awk -v v="$1" 'BEGIN { if (v == "NA") print "fail"; else printf "%.0f\n", v }'
}

fmt_ratio3() {
	awk -v v="$1" 'BEGIN { if (v == "NA") print "n/a"; else printf "%.3f\n", v }'
}

fmt_cpu() { # microseconds
	awk -v v="$1" 'BEGIN { if (v == "NA") print "fail"; else printf "%.1f\n", v }'
}

# best_peer RUN WORKLOAD BETTER: the best gocryptfs/securefs value of one run.
best_peer() {
	local p v best=NA
	for p in gocryptfs securefs; do
		v=${VAL["$1|$2|$p"]:-NA}
		[[ $v == NA ]] && continue
		if [[ $best == NA ]] ||
			awk -v v="$v" -v b="$best" -v d="$3" \
				'BEGIN { exit !(d == "higher" ? v > b : v < b) }'; then
			best=$v
		fi
	done
	printf '%s' "$best"
}

report_workloads() {
	local w wid label unit better t r row
	local -a vals
	echo "## Medians"
	echo
	row="| workload | unit |"
	for t in "${ACTIVE[@]}"; do row+=" $t |"; done
	echo "$row"
	row="|---|---|"
	for t in "${ACTIVE[@]}"; do row+="---:|"; done
	echo "$row"
	for w in "${WORKLOADS[@]}"; do
		IFS='|' read -r wid label unit better <<<"$w"
		row="| $label | $unit |"
		for t in "${ACTIVE[@]}"; do
			vals=()
			for ((r = 1; r <= RUNS; r++)); do vals+=("${VAL["$r|$wid|$t"]:-NA}"); done
			row+=" $(fmt "$unit" "$(median "${vals[@]}")") |"
		done
		echo "$row"
	done
	echo
	echo "## Ratios"
	echo
	echo "Each cell is the median over runs of the ratio within one run."
	echo "To native: target / native. For MB/s and IOPS rows higher is better"
	echo "(> 1 beats native); for seconds rows lower is better (< 1 beats native)."
	echo "Last column: dossierfs / best of gocryptfs and securefs in the same run:"
	echo "throughput rows dossierfs / higher peer (> 1 = dossierfs better), time rows"
	echo "dossierfs time / lower peer time (< 1 = dossierfs better)."
	echo
	row="| workload | better |"
	for t in "${ACTIVE[@]}"; do [[ $t == native ]] || row+=" $t / native |"; done
	row+=" dossierfs vs best of gocryptfs/securefs |"
	echo "$row"
	row="|---|---|"
	for t in "${ACTIVE[@]}"; do [[ $t == native ]] || row+="---:|"; done
	row+="---:|"
	echo "$row"
	for w in "${WORKLOADS[@]}"; do
		IFS='|' read -r wid label unit better <<<"$w"
		row="| $label | $better |"
		for t in "${ACTIVE[@]}"; do
			[[ $t == native ]] && continue
			vals=()
			for ((r = 1; r <= RUNS; r++)); do
				vals+=("$(ratio "${VAL["$r|$wid|$t"]:-NA}" "${VAL["$r|$wid|native"]:-NA}")")
			done
			row+=" $(fmt_ratio "$(median "${vals[@]}")") |"
		done
		vals=()
		for ((r = 1; r <= RUNS; r++)); do
			vals+=("$(ratio "${VAL["$r|$wid|dossierfs"]:-NA}" "$(best_peer "$r" "$wid" "$better")")")
		done
		row+=" $(fmt_ratio "$(median "${vals[@]}")") |"
		echo "$row"
	done
	echo
	echo "Notes: caches dropped before every timed phase; workloads run on every"
	echo "target before the next, target order shuffled each run. fio uses direct=0,"
	echo "so its default invalidate=1 sends native random reads to the disk while FUSE"
	echo "targets read from the backing page cache: compare FUSE targets with each"
	echo "other on the randread row, not with native. 'fail' = no successful run."
	echo
	report_drain
	report_alerts
}

# report_drain: after which workloads dossierfs's eraser had work left when
# the timed command returned, and how long it took to finish (median).
report_drain() {
	local w wid label
	local -a vals
	for w in "${WORKLOADS[@]}"; do
		IFS='|' read -r wid label _ <<<"$w"
		[[ -n ${DRAIN[$wid]:-} ]] || continue
		read -r -a vals <<<"${DRAIN[$wid]}"
		echo "- dossierfs erase queue after \"$label\": empty $(median "${vals[@]}") s after the command returned (median of ${#vals[@]}; untimed, before the next phase)"
	done
	echo
}

# report_alerts: with the dossierfs-alerts target, the alert engine alone
# (tests/alertfeed, if built) on the same rules, per event, next to the
# dossierfs-alerts / dossierfs ratio of each workload.
report_alerts() {
	local feed=$SCRIPT_DIR/../tests/alertfeed w wid label better r
	local -a vals
	[[ " ${TARGETS[*]} " == *" dossierfs-alerts "* && " ${TARGETS[*]} " == *" dossierfs "* ]] || return 0
	echo "## Alert rules (dossierfs-alerts / dossierfs, same run)"
	echo
	echo "Time rows: > 1 is slower with the rules; MB/s and IOPS rows: > 1 is faster."
	echo
	echo "| workload | ratio, median of the per-run ratios | per run |"
	echo "|---|---:|---|"
	for w in "${WORKLOADS[@]}"; do
		IFS='|' read -r wid label _ better <<<"$w"
		vals=()
		for ((r = 1; r <= RUNS; r++)); do
			vals+=("$(ratio "${VAL["$r|$wid|dossierfs-alerts"]:-NA}" "${VAL["$r|$wid|dossierfs"]:-NA}")")
		done
		[[ " ${vals[*]} " == *[0-9]* ]] || continue
		echo "| $label | $(fmt3 "$(median "${vals[@]}")") | $(for v in "${vals[@]}"; do printf '%s ' "$(fmt3 "$v")"; done)|"
	done
	echo
	if [[ -x $feed && -d $DATA/policy-dossierfs-alerts ]]; then
		echo "- the alert engine alone on the same six rules: $("$feed" "$DATA/policy-dossierfs-alerts" "$BENCH_USER" 1000000 2>&1)"
		echo
	fi
}

# report_policy: the policy case's medians, per-repetition figures and ratio.
report_policy() {
	local name r n v row med
	local -a vals cpus
	echo "## Policy decision cost (dossierfs)"
	echo
	if [[ -n $POL_FAILED ]]; then
		echo "**Not measured**: $POL_FAILED"
		echo
		return 0
	fi
	echo "open(O_RDONLY)+close of $POL_FILES existing files in client folder"
	echo "$POL_CLIENT as $BENCH_USER, by full path, $POL_OPENS pairs per measurement"
	echo "after one untimed pass; one mount per measurement, same vault, policies"
	echo "alternated: example, large, example, ..., example ($RUNS large, $((RUNS + 1))"
	echo "example). Daemon CPU: user + system time of all its threads per open."
	echo
	echo "| policy | shape | opens/s (median) | per mount | daemon CPU us/open (median) | per mount | decided by |"
	echo "|---|---|---:|---|---:|---|---|"
	for name in "${POL_NAMES[@]}"; do
		vals=()
		cpus=()
		n=$RUNS
		[[ $name != example ]] || n=$((RUNS + 1))
		for ((r = 1; r <= n; r++)); do
			vals+=("${VAL["$r|policy-$name|dossierfs"]:-NA}")
			cpus+=("${VAL["$r|policy-$name-cpu|dossierfs"]:-NA}")
		done
		row="| $name | ${POL_SHAPE[$name]:-?} | $(fmt_rate "$(median "${vals[@]}")") |"
		for v in "${vals[@]}"; do row+=" $(fmt_rate "$v")"; done
		row+=" | $(fmt_cpu "$(median "${cpus[@]}")") |"
		for v in "${cpus[@]}"; do row+=" $(fmt_cpu "$v")"; done
		echo "$row | ${POL_BY[$name]:-?} |"
	done
	echo
	echo "Ratio of repetition R: large R / the mean of example R and R + 1."
	echo
	for n in "" -cpu; do
		vals=()
		for ((r = 1; r <= RUNS; r++)); do vals+=("${VAL["$r|policy-ratio$n|dossierfs"]:-NA}"); done
		med=$(median "${vals[@]}")
		if [[ -z $n ]]; then
			row="- opens/s, large / example: **$(fmt_ratio3 "$med")**"
		else
			row="- daemon CPU per open, large / example: **$(fmt_ratio3 "$med")**"
		fi
		row+=" (median of $RUNS; per repetition:"
		for v in "${vals[@]}"; do row+=" $(fmt_ratio3 "$v")"; done
		row+=")"
		[[ -n $n ]] || row+=$(awk -v v="$med" 'BEGIN {
			printf "; bar: >= 1/1.2 = 0.833 (within 1.2x): "
			print (v == "NA" ? "n/a" : v * 1.2 >= 1 ? "**met**" : "**NOT met**") }')
		echo "$row"
	done
	echo
}

report() {
	local t cpu mem
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	echo "# dossierfs benchmark"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "- kernel: $(uname -sr)"
	echo "- CPU: ${cpu:-unknown}, $(nproc) cores; RAM $mem"
	echo "- RUNS: $RUNS (median reported); SIZE: $SIZE_MIB MiB; phases: $PHASE_LIST"
	echo "- workdir: $WORKDIR"
	[[ ${#WORKLOADS[@]} -eq 0 ]] ||
		echo "- untar tree: /usr/include, $TAR_ENTRIES entries, ${tar_mib} MiB; fio: ${FIO_MIB} MiB file, ${FIO_RUNTIME} s per job"
	for t in "${ACTIVE[@]}"; do
		echo "- $t: $(version_of "$t")"
	done
	for t in "${TARGETS[@]}"; do
		[[ -n ${SKIPPED[$t]:-} ]] && echo "- **$t skipped**: ${SKIPPED[$t]}"
	done
	[[ $POLICY_CASE -eq 0 || ${#ACTIVE[@]} -gt 0 ]] || echo "- dossierfs: $(version_of dossierfs)"
	echo
	[[ ${#WORKLOADS[@]} -eq 0 ]] || report_workloads
	[[ $POLICY_CASE -eq 0 ]] || report_policy
	echo "Raw per-run numbers: $CSV"
	echo "Wall time: $(awk -v a="$START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s; failed phases: $FAILURES"
}

report | tee "$REPORT"
[[ $FAILURES -eq 0 ]] || exit 2
