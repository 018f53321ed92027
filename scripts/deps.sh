#!/bin/sh
# Installs the Debian packages dossierfs needs to build, test and run its
# demo, only when one is missing. Idempotent; needs root to install.
set -eu

PKGS="build-essential pkg-config libfuse3-dev fuse3 libsodium-dev \
libsqlite3-dev sqlite3 libacl1-dev acl libinih-dev check attr rsync git \
e2fsprogs python3 util-linux passwd chromium-headless-shell"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing (run as root to install)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
