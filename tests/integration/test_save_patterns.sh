#!/usr/bin/env bash
# How real programs save files: temp-then-rename (GIO), LibreOffice lock
# files, vim swap files, cp -a, rsync, tar, git, SQLite.
# shellcheck disable=SC2016  # sh -c snippets are single-quoted on purpose
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

init_test
require_tools setfattr getfattr tar cmp diff
setup_users

if ! mount_vault; then
    fail "mount a fresh vault"
    finish
fi
# what an administrator does for a shared mount; test_ops checks the default
chmod 0755 "$MNT" 2>/dev/null

D=$MNT/save
mkdir -p "$D"
chmod 1777 "$D"
export LC_ALL=C TZ=UTC

# leftovers DIR PATTERN...: names in DIR matching any glob PATTERN
leftovers() {
    local dir=$1 f p out=""
    shift
    for f in "$dir"/* "$dir"/.[!.]* "$dir"/..?*; do
        [ -e "$f" ] || [ -L "$f" ] || continue
        for p in "$@"; do
            # shellcheck disable=SC2254  # pattern match is intended
            case ${f##*/} in $p) out+="${f##*/} " ;; esac
        done
    done
    printf '%s' "$out"
}

# ------------------------------------------------------------------ GIO
section "write temp then rename (gedit / GIO)"
gio_save() {  # gio_save DIR NAME CONTENT  (runs as the calling user)
    local dir=$1 name=$2 content=$3 tmp
    tmp=$(mktemp "$dir/.goutputstream-XXXXXX") || return 1
    printf '%s' "$content" >"$tmp" || return 1
    sync "$tmp" || return 1                       # fsync, as GIO does
    if [ -e "$dir/$name" ]; then
        chmod --reference="$dir/$name" "$tmp" || return 1
    fi
    mv -f "$tmp" "$dir/$name"
}
export -f gio_save
printf 'version 1\n' >"$D/doc.txt"
chmod 0640 "$D/doc.txt"
ino1=$(stat -c %i "$D/doc.txt")
check_ok -m "GIO-style save over an existing file" gio_save "$D" doc.txt $'version 2\nmore\n'
check_eq $'version 2\nmore' "$(cat "$D/doc.txt")" "GIO save: new content visible"
check_eq "640" "$(stat -c %a "$D/doc.txt")" "GIO save: mode carried over"
check_eq "" "$(leftovers "$D" '.goutputstream-*')" "GIO save: no .goutputstream-* left over"
ino2=$(stat -c %i "$D/doc.txt")
if [ "$ino1" != "$ino2" ]; then pass "GIO save: file was replaced (new inode)"; else fail "GIO save: inode did not change ($ino1), rename did not replace"; fi
for i in 1 2 3 4 5 6 7 8 9 10; do gio_save "$D" doc.txt "round $i" || break; done
check_eq "round 10" "$(cat "$D/doc.txt")" "GIO save: ten saves in a row"
check_eq "" "$(leftovers "$D" '.goutputstream-*')" "GIO save: still no leftovers after ten saves"

mkdir "$D/alice"
chown dsft_alice:dsft_alice "$D/alice"
check_ok -m "GIO save as dsft_alice in her directory" as_user dsft_alice bash -c 'umask 077; gio_save "$1" notes.txt "alice v1" && gio_save "$1" notes.txt "alice v2"' sh "$D/alice"
check_eq "dsft_alice:dsft_alice 600 alice v2" "$(stat -c '%U:%G %a' "$D/alice/notes.txt") $(cat "$D/alice/notes.txt")" \
    "GIO save as alice: owned by alice, mode from umask, content"
check_eq "" "$(leftovers "$D/alice" '.goutputstream-*')" "GIO save as alice: no leftovers"

# GIO with backup: the old version is kept as NAME~
cp "$D/doc.txt" "$D/doc.txt~"
check_ok -m "GIO save with backup" gio_save "$D" doc.txt "with backup"
check_eq "round 10|with backup" "$(cat "$D/doc.txt~")|$(cat "$D/doc.txt")" "GIO backup file and new file both correct"

# ------------------------------------------------------------------ LibreOffice
section "LibreOffice-style save"
LO=$D/lo
mkdir "$LO"
head -c 30000 /dev/urandom >"$WORK/report-v1.odt"
head -c 45000 /dev/urandom >"$WORK/report-v2.odt"
cp "$WORK/report-v1.odt" "$LO/report.odt"
lock="$LO/.~lock.report.odt#"
check_ok -m "create LibreOffice lock file .~lock.report.odt#" \
    sh -c 'printf ",dsft tester,host,%s,file:///tmp/;" "$(date +%d.%m.%Y\ %H:%M)" > "$1"' sh "$lock"
check_ok -m "lock file is listed" sh -c 'ls -A "$1" | grep -Fx ".~lock.report.odt#"' sh "$LO"
check_match '^,dsft tester,host,' "$(cat "$lock" 2>&1)" "lock file content reads back"
# LibreOffice writes the new document to a temp file in the same directory
# (lu<random>.tmp), then renames it over the original
lotmp="$LO/lu${RANDOM}x.tmp"
check_ok -m "write temp document" cp "$WORK/report-v2.odt" "$lotmp"
check_ok -m "rename temp over the document" mv -f "$lotmp" "$LO/report.odt"
check_ok -m "remove lock file" rm "$lock"
check_same_file "$WORK/report-v2.odt" "$LO/report.odt" "LibreOffice save: document has the new content"
check_eq "report.odt" "$(ls -A "$LO")" "LibreOffice save: only the document is left (no lock, no temp)"

# ------------------------------------------------------------------ vim
section "vim swap files"
VD=$D/vim
mkdir "$VD"
chmod 1777 "$VD"
printf 'line one\n' >"$VD/file.txt"
check_ok -m "create .file.txt.swp" sh -c 'head -c 4096 /dev/urandom > "$1/.file.txt.swp"' sh "$VD"
check_ok -m "rewrite swap file in place" dd if=/dev/zero of="$VD/.file.txt.swp" bs=1024 seek=1 count=2 conv=notrunc status=none
check_eq 4096 "$(stat -c %s "$VD/.file.txt.swp")" "swap file size after in-place rewrite"
check_ok -m "unlink swap file" rm "$VD/.file.txt.swp"
check_eq "file.txt" "$(ls -A "$VD")" "swap file gone"
if command -v vim >/dev/null 2>&1; then
    printf 'alpha old\nbeta old\n' >"$VD/edit.txt"
    chmod 0644 "$VD/edit.txt"
    # -es: silent ex mode; swap file and backup-on-write stay enabled
    check_ok -m "vim -es edit and save on the mount" \
        sh -c 'cd "$1" && HOME="$2" vim -es -N -u NONE -i NONE -c "set swapfile writebackup" -c "%s/old/new/" -c "wq" edit.txt' sh "$VD" "$WORK"
    check_eq $'alpha new\nbeta new' "$(cat "$VD/edit.txt")" "vim: file has the edited content"
    check_eq "edit.txt file.txt" "$(fsop ls "$VD" | tr '\n' ' ' | sed 's/ $//')" "vim: no swap/backup/4913 files left"
    check_eq "644" "$(stat -c %a "$VD/edit.txt")" "vim: mode kept"
    chown dsft_alice "$VD/edit.txt"
    check_ok -m "vim -es as dsft_alice (owner)" \
        as_user dsft_alice sh -c 'cd "$1" && vim -es -N -u NONE -i NONE -c "set swapfile" -c "$2" -c "wq" edit.txt' sh "$VD" 'call append(line("$"), "gamma")'
    check_eq $'alpha new\nbeta new\ngamma' "$(cat "$VD/edit.txt")" "vim as alice: content saved"
    check_eq "dsft_alice" "$(stat -c %U "$VD/edit.txt")" "vim as alice: still owned by alice"
else
    skip "vim -es editing (vim is not installed)"
fi

# ------------------------------------------------------------------ source tree
# A tree with modes, owners, times, symlinks, hard links, odd names, xattrs.
SRC=$WORK/srctree
mkdir -p "$SRC/sub/deeper" "$SRC/private" "$SRC/empty dir"
printf 'hello\n' >"$SRC/hello.txt"
head -c 300000 /dev/urandom >"$SRC/sub/random.bin"
head -c 70000 /dev/urandom >"$SRC/sub/deeper/more.bin"
: >"$SRC/empty"
printf '#!/bin/sh\necho run\n' >"$SRC/run.sh"
printf 'secret\n' >"$SRC/private/key"
printf 'x\n' >"$SRC/sub/with space & ümlaut.txt"
ln -s hello.txt "$SRC/rel-link"
ln -s ../hello.txt "$SRC/sub/up-link"
ln -s /etc/hostname "$SRC/abs-link"
ln -s does-not-exist "$SRC/dangling"
ln "$SRC/hello.txt" "$SRC/sub/hardlink"
chmod 0755 "$SRC/run.sh"
chmod 0444 "$SRC/sub/random.bin"
chmod 0600 "$SRC/private/key"
chmod 0700 "$SRC/private"
chmod 2750 "$SRC/sub/deeper"
chown -R dsft_alice:dsft_staff "$SRC/sub"
chown dsft_bob:dsft_bob "$SRC/private/key"
setfattr -n user.origin -v tree "$SRC/hello.txt"
find "$SRC" -depth -exec touch -h -d '2020-03-04 05:06:07.891' {} +
touch -d '2019-01-01 00:00:00' "$SRC/sub/random.bin"

# same_tree A B LABEL [mtime]: listings (incl. mtimes if asked) and contents
same_tree() {
    local a b d
    a=$(fsop tree "$1" ${4:+mtime} 2>&1)
    b=$(fsop tree "$2" ${4:+mtime} 2>&1)
    if [ "$a" == "$b" ]; then
        pass "$3: names/types/modes/owners/nlink/sizes/targets${4:+/mtimes} identical"
    else
        d=$(diff -u <(printf '%s\n' "$a") <(printf '%s\n' "$b") | tail -n +3)
        fail "$3: tree listing differs (- expected, + mount)" "$d"
    fi
    check_ok -m "$3: diff -r --no-dereference" diff -r --no-dereference "$1" "$2"
}

section "cp -a into the mount"
check_ok -m "cp -a tree into the mount" cp -a "$SRC" "$D/cpa"
same_tree "$SRC" "$D/cpa" "cp -a" mtime
check_eq "tree" "$(getfattr --absolute-names --only-values -n user.origin "$D/cpa/hello.txt" 2>&1)" "cp -a: user xattr preserved"
check_eq "$(stat -c %i "$D/cpa/hello.txt")" "$(stat -c %i "$D/cpa/sub/hardlink")" "cp -a: hard link preserved (same inode)"
check_ok -m "cp -a back out of the mount" cp -a "$D/cpa" "$WORK/cpa-back"
same_tree "$SRC" "$WORK/cpa-back" "cp -a round trip" mtime

section "rsync -a into the mount and back"
if have_tools rsync; then
    check_ok -m "rsync -aHX into the mount" rsync -aHX "$SRC/" "$D/rs/"
    same_tree "$SRC" "$D/rs" "rsync into mount" mtime
    out=$(rsync -aHXi --dry-run "$SRC/" "$D/rs/" 2>&1)
    check_eq "" "$out" "rsync: second run sees nothing to transfer (sizes, times, modes all match)"
    printf 'changed content\n' >>"$SRC/hello.txt"
    touch -d '2021-01-01 00:00:00' "$SRC/hello.txt"
    head -c 1000 /dev/urandom | dd of="$SRC/sub/deeper/more.bin" bs=1 seek=30000 conv=notrunc status=none
    check_ok -m "rsync -aHX delta update (temp file + rename)" rsync -aHX "$SRC/" "$D/rs/"
    same_tree "$SRC" "$D/rs" "rsync update" mtime
    check_eq "" "$(find "$D/rs" -name '.*.??????' 2>&1)" "rsync: no temp files left"
    check_ok -m "rsync --inplace update" sh -c 'printf more >> "$1/sub/deeper/more.bin" && rsync -aHX --inplace "$1/" "$2/"' sh "$SRC" "$D/rs"
    same_tree "$SRC" "$D/rs" "rsync --inplace" mtime
    check_ok -m "rsync -aHX back out of the mount" rsync -aHX "$D/rs/" "$WORK/rs-back/"
    same_tree "$SRC" "$WORK/rs-back" "rsync round trip" mtime
    check_ok -m "rsync --delete removes files on the mount" sh -c 'rm "$1/empty" && rsync -aHX --delete "$1/" "$2/" && [ ! -e "$2/empty" ]' sh "$SRC" "$D/rs"
fi

section "tar x into the mount"
check_ok -m "create tarball" tar -C "$SRC" -cf "$WORK/t.tar" .
mkdir -p "$WORK/tar-native" "$D/tar"
check_ok -m "tar x natively" tar -C "$WORK/tar-native" -xf "$WORK/t.tar"
check_ok -m "tar x into the mount" tar -C "$D/tar" -xf "$WORK/t.tar"
same_tree "$WORK/tar-native" "$D/tar" "tar x" mtime
check_ok -m "tar c of the mount matches" sh -c 'tar --hard-dereference -C "$1" -cf - . | tar -tvf - | tr -s " " | sort > "$3/list-mnt" && tar --hard-dereference -C "$2" -cf - . | tar -tvf - | tr -s " " | sort > "$3/list-nat" && diff "$3/list-nat" "$3/list-mnt"' sh "$D/tar" "$WORK/tar-native" "$WORK"
mkdir "$D/tar-alice" "$WORK/tar-alice"
chown dsft_alice "$D/tar-alice" "$WORK/tar-alice"
check_ok -m "tar x as dsft_alice (unprivileged) natively" as_user dsft_alice tar -C "$WORK/tar-alice" -xf "$WORK/t.tar"
check_ok -m "tar x as dsft_alice into the mount" as_user dsft_alice tar -C "$D/tar-alice" -xf "$WORK/t.tar"
same_tree "$WORK/tar-alice" "$D/tar-alice" "tar x as alice" mtime

section "git clone into the mount"
if have_tools git; then
    export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=tester GIT_AUTHOR_EMAIL=t@example.invalid \
        GIT_COMMITTER_NAME=tester GIT_COMMITTER_EMAIL=t@example.invalid HOME=$WORK
    REPO=$WORK/repo
    (
        set -e
        git init -q -b main "$REPO"
        cd "$REPO"
        printf 'one\n' >a.txt
        git add a.txt
        git commit -q -m first
        mkdir lib
        head -c 50000 /dev/urandom >lib/blob.bin
        printf '#!/bin/sh\necho hi\n' >lib/tool.sh
        chmod +x lib/tool.sh
        ln -s a.txt link
        git add -A
        git commit -q -m second
        git mv a.txt b.txt
        printf 'two\n' >>b.txt
        git commit -q -am third
        git tag v1
    ) >"$WORK/git-setup.log" 2>&1 || fail "creating the source git repository" "$(cat "$WORK/git-setup.log")"
    check_ok -m "git clone (local) into the mount" git clone -q "$REPO" "$D/clone"
    check_ok -m "git fsck --full in the clone" git -C "$D/clone" fsck --full --strict
    check_eq "3" "$(git -C "$D/clone" log --oneline 2>&1 | wc -l)" "git log shows 3 commits"
    check_eq "" "$(git -C "$D/clone" status --porcelain 2>&1)" "git status clean right after clone"
    check_eq "$(git -C "$REPO" rev-parse HEAD)" "$(git -C "$D/clone" rev-parse HEAD 2>&1)" "same HEAD as the source"
    check_eq "755 a.txt" "$(stat -c %a "$D/clone/lib/tool.sh") $(readlink "$D/clone/link")" "exec bit and symlink checked out"
    check_ok -m "commit inside the mount" sh -c 'cd "$1" && printf "x\n" > new.txt && git add new.txt && git commit -q -m fourth' sh "$D/clone"
    check_ok -m "git gc (repack, prune) inside the mount" git -C "$D/clone" gc -q --prune=now
    check_ok -m "git fsck after gc" git -C "$D/clone" fsck --full --strict
    check_eq "4" "$(git -C "$D/clone" log --oneline 2>&1 | wc -l)" "git log after gc shows 4 commits"
    check_ok -m "git clone --no-local (pack protocol) into the mount" git clone -q --no-local "$REPO" "$D/clone2"
    check_ok -m "git fsck in the --no-local clone" git -C "$D/clone2" fsck --full --strict
    check_ok -m "git clone from the mount back out" git clone -q "$D/clone" "$WORK/clone-back"
    check_eq "4" "$(git -C "$WORK/clone-back" log --oneline 2>&1 | wc -l)" "clone from the mount has 4 commits"
fi

section "SQLite on the mount"
if ! command -v sqlite3 >/dev/null 2>&1; then
    skip "SQLite tests (sqlite3 is not installed)"
else
    DB=$D/test.db
    SQL_FILL="create table t(id integer primary key, v text);
begin;
with recursive c(x) as (select 1 union all select x+1 from c where x < 5000)
insert into t select x, hex(randomblob(40)) from c;
commit;
select count(*), sum(id) from t;"
    check_eq "5000|12502500" "$(sqlite3 "$DB" "$SQL_FILL" 2>&1)" "sqlite: 5000 rows inserted in one transaction"
    check_eq "ok" "$(sqlite3 "$DB" 'pragma integrity_check;' 2>&1)" "sqlite: integrity_check (rollback journal)"
    check_eq "2500|5000" "$(sqlite3 "$DB" 'update t set v = upper(v) where id % 2 = 0; delete from t where id > 7500; select count(*) from t where id % 2 = 0; select max(id) from t;' 2>&1 | paste -sd'|')" \
        "sqlite: update/delete"
    check_eq "" "$(leftovers "$D" 'test.db-journal' 'test.db-wal')" "sqlite: no journal left after commit"
    # a second process sees the write lock (fcntl locks on the mount)
    rm -f "$WORK/dbready"
    "$PY" -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("begin exclusive")
c.execute("insert into t(v) values (?)", ("locked",))
open(sys.argv[2], "w").close()
time.sleep(3)
c.execute("commit")
' "$DB" "$WORK/dbready" &
holder=$!
for _ in $(seq 1 100); do [ -e "$WORK/dbready" ] && break; sleep 0.05; done
check_fail_with "database is locked" -m "sqlite: second writer gets 'database is locked' while a transaction holds the lock" \
    sqlite3 -cmd '.timeout 0' "$DB" "insert into t(v) values ('other');"
wait "$holder"
check_eq "1" "$(sqlite3 "$DB" "select count(*) from t where v = 'locked';" 2>&1)" "sqlite: lock holder's commit is there"

    WDB=$D/wal.db
    mode=$(sqlite3 "$WDB" 'pragma journal_mode=wal;' 2>&1)
    if [ "$mode" != wal ]; then
        skip "sqlite WAL mode: journal_mode=wal returned '$mode' on this mount"
    else
        pass "sqlite: journal_mode=wal accepted"
        check_eq "5000|12502500" "$(sqlite3 "$WDB" "$SQL_FILL" 2>&1)" "sqlite WAL: 5000 rows in a transaction"
        check_eq "ok" "$(sqlite3 "$WDB" 'pragma integrity_check;' 2>&1)" "sqlite WAL: integrity_check"
        check_ok -m "sqlite WAL: concurrent reader during a write" "$PY" -c '
import sqlite3, sys
w = sqlite3.connect(sys.argv[1], isolation_level=None)
r = sqlite3.connect(sys.argv[1], isolation_level=None)
w.execute("begin")
w.execute("insert into t(v) select v from t where id <= 1000")
n_during = r.execute("select count(*) from t").fetchone()[0]
w.execute("commit")
n_after = r.execute("select count(*) from t").fetchone()[0]
assert (n_during, n_after) == (5000, 6000), (n_during, n_after)
' "$WDB"
        check_eq "0|0|0" "$(sqlite3 "$WDB" 'pragma wal_checkpoint(truncate);' 2>&1)" "sqlite WAL: checkpoint(truncate)"
        check_eq "ok|6000" "$(sqlite3 "$WDB" 'pragma integrity_check; select count(*) from t;' 2>&1 | paste -sd'|')" "sqlite WAL: integrity after checkpoint"
    fi
fi

section "everything still there after remount"
if [ "$DEV_NATIVE" = 1 ]; then
    skip "remount check (needs the real dossierfs; DEV_NATIVE=1)"
else
    before=$(fsop tree "$D" mtime 2>&1)
    if check_ok -m "unmount" unmount_vault "$MNT" && check_ok -m "remount" mount_vault "$VAULT" "$MNT"; then
        check_eq "$before" "$(fsop tree "$D" mtime 2>&1)" "tree with mtimes identical after remount"
        if command -v git >/dev/null 2>&1; then
            check_ok -m "git fsck after remount" git -C "$D/clone" fsck --full --strict
        fi
        if command -v sqlite3 >/dev/null 2>&1; then
            check_eq "ok" "$(sqlite3 "$D/test.db" 'pragma integrity_check;' 2>&1)" "sqlite integrity after remount"
        fi
    fi
    scan_vault "$D"
    check_ok -m "final unmount" unmount_vault "$MNT"
fi

finish
