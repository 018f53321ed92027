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
usage: bench.sh [-r RUNS] [-w WORKDIR] [-t TARGETS] [-s SIZE_MIB] [-k] [-h]

  -r RUNS      runs per workload and target; medians are reported (default 5)
  -w WORKDIR   empty or new directory holding every target's backing store
               (default: a fresh directory under /var/tmp)
  -t TARGETS   comma-separated subset of
               native,bindfs,gocryptfs,securefs,dossierfs (default: all)
  -s SIZE_MIB  size of the sequential write/read file in MiB (default 512)
  -k           keep WORKDIR (backing stores, logs); otherwise only
               results.csv and results.md are left in it
  -h           show this help

Environment:
  DOSSIERFS, DOSSIERCTL  the dossierfs binaries (default: ../src/ next to
                         this script); dossierfs is skipped if missing
  DOSSIERFS_OPTS         extra arguments for the dossierfs daemon
  DOSSIERCTL_INIT_OPTS   extra arguments for 'dossierctl init'
  DOSSIERFS_SUBDIR       run the workloads in this directory inside the
                         dossierfs mount (created if missing)
  BENCH_FIO_RUNTIME      seconds per fio job (default 10)
  BENCH_PHASE_TIMEOUT    seconds before one timed phase is killed (default 600)

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

ALL_TARGETS=(native bindfs gocryptfs securefs dossierfs)
RUNS=5
WORKDIR=""
TARGET_LIST=$(
	IFS=,
	printf '%s' "${ALL_TARGETS[*]}"
)
SIZE_MIB=512
KEEP=0
while getopts ':r:w:t:s:kh' opt; do
	case $opt in
	r) RUNS=$OPTARG ;;
	w) WORKDIR=$OPTARG ;;
	t) TARGET_LIST=$OPTARG ;;
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

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
DOSSIERFS=${DOSSIERFS:-$SCRIPT_DIR/../src/dossierfs}
DOSSIERCTL=${DOSSIERCTL:-$SCRIPT_DIR/../src/dossierctl}
FIO_RUNTIME=${BENCH_FIO_RUNTIME:-10}
PHASE_TIMEOUT=${BENCH_PHASE_TIMEOUT:-600}
[[ $FIO_RUNTIME =~ ^[1-9][0-9]*$ ]] || die "BENCH_FIO_RUNTIME must be a positive integer"
[[ $PHASE_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "BENCH_PHASE_TIMEOUT must be a positive integer"
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

# ---------------------------------------------------------------------------
# State for the cleanup trap.
MOUNTS=()        # mount points this script mounted, in order
CHILD=""         # process group of the timed command running now
DATA=""          # WORKDIR/data: backing stores, mount points, logs
CSV=""           # WORKDIR/results.csv
WORKDIR_MADE=0   # 1 if this script created WORKDIR
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
	MOUNTS+=("$mp")
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

setup_dossierfs() {
	local d=$DATA/dossierfs rc=0
	local -a init_opts=() fs_opts=()
	read -r -a init_opts <<<"${DOSSIERCTL_INIT_OPTS:-}"
	read -r -a fs_opts <<<"${DOSSIERFS_OPTS:-}"
	mkdir -p "$d/mnt"
	run_limited 120 "$DOSSIERCTL" init "$d/vault" --passphrase-file "$PASSFILE" \
		"${init_opts[@]}" >>"$DATA/logs/dossierfs.log" 2>&1 || rc=$?
	if [[ $rc -ne 0 ]]; then
		# Perhaps init wants an existing empty directory rather than a new one.
		mkdir -m 700 "$d/vault"
		rc=0
		run_limited 120 "$DOSSIERCTL" init "$d/vault" --passphrase-file "$PASSFILE" \
			"${init_opts[@]}" >>"$DATA/logs/dossierfs.log" 2>&1 || rc=$?
	fi
	if [[ $rc -ne 0 ]]; then
		log "dossierfs: '$DOSSIERCTL init' failed (exit $rc)"
		return 1
	fi
	mount_cmd dossierfs "$d/mnt" "$DOSSIERFS" "$d/vault" "$d/mnt" \
		--passphrase-file "$PASSFILE" "${fs_opts[@]}"
}

# probe DIR: a small write, read back and delete, so a target that mounts but
# refuses work is reported now rather than as a column of failures.
probe() {
	# shellcheck disable=SC2016 # expanded by the inner shell
	run_limited 60 bash -c 'printf probe >"$1/.bench-probe" &&
		[[ $(<"$1/.bench-probe") == probe ]] && rm -f "$1/.bench-probe"' _ "$1"
}

setup_target() {
	local t=$1 d
	if [[ $t == dossierfs ]] && ! [[ -x $DOSSIERFS && -x $DOSSIERCTL ]]; then
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
	if [[ $t == dossierfs && -n ${DOSSIERFS_SUBDIR:-} ]]; then
		d=$d/$DOSSIERFS_SUBDIR
		mkdir -p "$d" || {
			SKIPPED[$t]="cannot create DOSSIERFS_SUBDIR $d"
			return 1
		}
	fi
	if ! probe "$d"; then
		SKIPPED[$t]="mounted, but a test write/read/delete in $d failed (a policy refusing uid 0? see DOSSIERFS_SUBDIR/DOSSIERFS_OPTS)"
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

# Leftovers of a failed phase, removed so the next workload starts clean.
scrub() {
	rm -rf "$1/seq.dat" "$1/tree" "$1/fio.dat" "$1/small" 2>/dev/null || true
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
	dossierfs) git -C "$SCRIPT_DIR/.." log -1 --format='dossierfs %h %cs' 2>/dev/null ||
		echo "dossierfs (no commit)" ;;
	esac
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

# Space: every target holds the seq file at once, plus trees and the tarball.
TARBALL=$DATA/include.tar
tar -C /usr -cf "$TARBALL" include
TAR_ENTRIES=$(tar -tf "$TARBALL" | wc -l)
tar_mib=$(($(file_size "$TARBALL") / 1048576 + 1))
need_mib=$((${#TARGETS[@]} * (SIZE_MIB + FIO_MIB + 2 * tar_mib) + tar_mib))
free_mib=$(($(df -Pk "$WORKDIR" | awk 'NR == 2 { print $4 }') / 1024))
[[ $free_mib -ge $need_mib ]] || die "need about $need_mib MiB free in $WORKDIR, have $free_mib"

PASSFILE=$DATA/passphrase
PASS=$(head -c 18 /dev/urandom | base64)
(
	umask 077
	printf '%s\n' "$PASS" >"$PASSFILE"
)

ACTIVE=()
for t in "${TARGETS[@]}"; do
	if setup_target "$t"; then
		ACTIVE+=("$t")
	else
		log "$t: SKIPPED: ${SKIPPED[$t]}"
	fi
done
[[ ${#ACTIVE[@]} -gt 0 ]] || die "no target could be set up"

printf 'run,workload,target,value,unit\n' >"$CSV"
declare -A VAL=()  # "run|workload|target" -> value or NA
declare -A DEAD=() # targets whose mount disappeared
FAILURES=0
n=${#ACTIVE[@]}
for ((r = 1; r <= RUNS; r++)); do
	# Rotate the target order each run so no target always goes first.
	order=()
	for ((i = 0; i < n; i++)); do
		order+=("${ACTIVE[(i + r - 1) % n]}")
	done
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
		done
	done
done

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

fmt_ratio() {
	awk -v v="$1" 'BEGIN { if (v == "NA") print "n/a"; else printf "%.2f\n", v }'
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

report() {
	local w wid label unit better t r row v cpu mem
	local -a vals
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	echo "# dossierfs benchmark"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "- kernel: $(uname -sr)"
	echo "- CPU: ${cpu:-unknown}, $(nproc) cores; RAM $mem"
	echo "- RUNS: $RUNS (median reported); SIZE: $SIZE_MIB MiB"
	echo "- workdir: $WORKDIR"
	echo "- untar tree: /usr/include, $TAR_ENTRIES entries, ${tar_mib} MiB; fio: ${FIO_MIB} MiB file, ${FIO_RUNTIME} s per job"
	for t in "${ACTIVE[@]}"; do
		echo "- $t: $(version_of "$t")"
	done
	for t in "${TARGETS[@]}"; do
		[[ -n ${SKIPPED[$t]:-} ]] && echo "- **$t skipped**: ${SKIPPED[$t]}"
	done
	echo
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
	echo "target before the next, target order rotated each run. fio uses direct=0,"
	echo "so its default invalidate=1 sends native random reads to the disk while FUSE"
	echo "targets read from the backing page cache: compare FUSE targets with each"
	echo "other on the randread row, not with native. 'fail' = no successful run."
	echo
	echo "Raw per-run numbers: $CSV"
	echo "Wall time: $(awk -v a="$START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s; failed phases: $FAILURES"
}

report | tee "$REPORT"
[[ $FAILURES -eq 0 ]] || exit 2
