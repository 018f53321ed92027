#!/bin/bash
# Differential test: tests/fsx runs the same seeded random operations on a
# dossierfs mount and on a native directory and compares after every step.
# FSX_OPS (default 100000) and FSX_SEED may be set. Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
ops=${FSX_OPS:-100000}
seed=${FSX_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
work=$(mktemp -d /var/tmp/dossierfs-fsx.XXXXXX)
cleanup() {
	local pid i
	pid=$(pgrep -f -x "src/dossierfs $work/vault $work/mnt .*")
	mountpoint -q "$work/mnt" && fusermount3 -u "$work/mnt"
	# The daemon finishes (its eraser) after the unmount: wait for it.
	for i in $(seq 1 100); do
		[ -n "$pid" ] && kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

mkdir "$work/mnt" "$work/ref" "$work/policy"
printf 'fsx passphrase\n' > "$work/pass"
chmod 600 "$work/pass"
printf '[role fsx]\nmembers = root\nscope = all\nallow = all\n' \
	> "$work/policy/fsx.ini"
src/dossierctl init "$work/vault" --passphrase-file "$work/pass" \
	--kdf-cost interactive >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
src/dossierfs "$work/vault" "$work/mnt" --passphrase-file "$work/pass" \
	-o "policy=$work/policy" ||
	{ echo "0 passed, 1 failed"; exit 1; }
mkdir "$work/mnt/client" "$work/ref/client"
ok=0
bad=0
for n in 4 1; do
	if tests/fsx -q -s "$seed" -n "$ops" -N "$n" \
		-d "$work/mnt/client" -r "$work/ref/client"; then
		ok=$((ok + 1))
	else
		echo "FAIL: fsx seed $seed files $n ($ops ops): replay with" \
			"FSX_SEED=$seed FSX_OPS=$ops bash tests/fsx.sh"
		bad=$((bad + 1))
	fi
	ops=$((ops / 10))
done
echo "$ok passed, $bad failed"
[ "$bad" -eq 0 ]
