#!/usr/bin/env bash
# dossierctl report: the KPI report of a scripted audit store, without a
# mount. tests/auditscript appends 49 events of known content (accesses,
# denials, alerts, lockouts, shares, destructions, a client name that is
# HTML, CSV and shell trouble) to a new vault's store; the report is run
# in text, CSV and HTML, and every figure of every format is checked
# against the script (section, key, subkey, value: the CSV layout; the
# text and the HTML are parsed into the same rows). Then: a range that
# ends before the events (all zero), one that starts after them (zero,
# but the grants still used: the 90 days before --until are read), the
# files past retention counted as a test user in a plain directory tree
# standing in for the mount (a folder only root may list is not
# counted), --out (mode 0600, never overwritten), a tampered store
# (reported, with BAD said first), bad usage, and the HTML page rendered
# by headless Chromium: the three charts with their bars in the DOM, no
# script, and a screenshot that is not blank. Chromium missing is a
# skip, or a failure under CI=true.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

init_test
if [ "$DEV_NATIVE" = 1 ]; then
    skip "report (needs the real dossierctl; DEV_NATIVE=1)"
    finish
fi
AUDITSCRIPT=${AUDITSCRIPT:-$TESTS_INT_DIR/../auditscript}
if [ ! -x "$DOSSIERCTL" ] || [ ! -x "$AUDITSCRIPT" ]; then
    fail "build src/dossierctl and tests/auditscript first (make src/dossierctl tests/auditscript)"
    finish
fi
export TZ=UTC

setup_users
V=$WORK/vault
POL=$WORK/policy
# The cheapest key derivation: the report unlocks the vault once a run.
check_ok -m "init a vault" "$DOSSIERCTL" init "$V" --passphrase-file "$PASSFILE" \
    --kdf-cost interactive
write_policy "$POL" roles.ini "[role manager]
members = dsft_alice, @dsft_staff
scope = all
allow = list, read, write, create, share

[role legal]
members = dsft_bob, dsft_carol, dsft_nobody
scope = all
allow = list, read

[role records]
members = @dsft_carol
scope = all
allow = list, read, delete"
write_policy "$POL" clients.ini "[client acme]
closed = 2001-01-01
retention = 1y

[client secret]
closed = 2001-01-01
retention = 1y"
version=$("$DOSSIERCTL" policy check "$POL" 2>/dev/null | sed -n 's/.*version \([0-9a-f]*\),.*/\1/p')
check_match '^[0-9a-f]{16}$' "$version" "the test policy loads"

# ------------------------------------------------------------ the script

SCRIPT=$WORK/events.tsv
: >"$SCRIPT"
E() { local IFS=$'\t'; printf '%s\n' "$*" >>"$SCRIPT"; }
A=dsft_alice B=dsft_bob C=dsft_carol
ua=$(uid_of $A) ub=$(uid_of $B) uc=$(uid_of $C)
EVIL='Smith, "J" & <b>Sons</b> <script>x</script>'
exfil='class=exfiltration; count=120; threshold=100; window=60s; response=notify'

# accesses: 19
E $A "$ua" manager open acme contract.pdf allowed "role manager" - -
E $A "$ua" manager create acme notes.txt allowed "role manager" - -
E $A "$ua" manager list acme "" allowed "role manager" - -
E $B "$ub" manager,legal open beta scan.jpg allowed "role legal" - -
E $B "$ub" manager,legal open acme deed.pdf allowed "role manager" - -
E $C "$uc" legal,records list - - allowed "role legal" - -
E $B "$ub" manager,legal open "$EVIL" a.txt allowed "role legal" - -
for i in 01 02 03 04 05 06 07 08 09 10 11; do
    E $A "$ua" manager open "client-$i" f.txt allowed "role manager" - -
done
E $C "$uc" legal,records open acme minutes.docx allowed "rule records-extra" - -
# allowed, not accesses
E $A "$ua" manager close acme contract.pdf allowed "role manager" - 4096
E dossierfs 0 - mount - - allowed - /srv/vault -
# denied: 5
E $C "$uc" legal,records open beta id-scan.jpg denied "default deny" - -
E $C "$uc" legal,records open beta id-scan.jpg denied "default deny" - -
E $C "$uc" legal,records unlink acme contract.pdf denied "role records" - -
E $B "$ub" manager,legal open acme id.pdf denied "rule supervisors-no-id-scans" - -
E dsft_mallory 4242 - lookup acme - denied "default deny" - -
# alerts: 6, and what follows them
E $A "$ua" manager alert acme - allowed "alert bulk-reads" "kind=reads; $exfil" -
E $A "$ua" manager alert - - allowed "alert many-clients" "kind=clients; class=exfiltration; count=12; threshold=10; window=300s; response=lockout" -
E $C "$uc" legal,records alert - - allowed "alert denials" "kind=denials; class=abuse; count=5; threshold=5; window=60s; response=notify" -
E $B "$ub" manager,legal alert acme - allowed "alert night" "kind=off-hours; class=abnormal; count=1; threshold=1; window=0s; response=notify" -
E $A "$ua" manager alert acme - allowed "alert bulk-reads" "kind=reads; $exfil" -
E $B "$ub" manager,legal alert acme - allowed "alert mass-delete" "kind=mass-change; class=ransomware; count=50; threshold=40; window=60s; response=lockout" -
E $A "$ua" manager lockout - - allowed "alert many-clients" "user=$A" -
E root 0 - unlock - - allowed - "user=$A" -
E $C "$uc" legal,records unlock - - denied "default deny" "user=$C" -
E $A "$ua" - alert-notify - - allowed "alert bulk-reads" "exit 0" -
E $A "$ua" - alert-notify - - error "alert many-clients" "exit 1" -
# sharing: 9
E $A "$ua" manager share-request acme contract.pdf allowed "role manager" "id=1; to=notary" -
E $A "$ua" manager share-approve acme contract.pdf denied "default deny" "id=1; self-approval" -
E $B "$ub" manager,legal share-approve acme contract.pdf allowed "role manager" "id=1; approved" -
E $A "$ua" manager share-export acme contract.pdf allowed "role manager" "id=1; package" -
E $A "$ua" manager share-receipt acme contract.pdf allowed "role manager" "id=1; receipt" -
E $C "$uc" legal,records share-export beta scan.jpg denied "default deny" "id=2; not approved" -
E $C "$uc" legal,records share-request beta scan.jpg denied "default deny" "id=3; no permission" -
E $B "$ub" manager,legal share-reject acme deed.pdf allowed "role manager" "id=4; rejected" -
E $A "$ua" manager share-request acme deed.pdf allowed "role manager" "id=4; to=bank" -
# destructions: 2 done, 1 failed
E $B "$ub" manager,legal destroy acme old.pdf allowed "role manager" retention 1000
E $B "$ub" manager,legal destroy acme old2.pdf allowed "role manager" retention 2000
E $B "$ub" manager,legal destroy acme old3.pdf error "role manager" "write failed" 500
NEV=$(wc -l <"$SCRIPT")
check_eq 49 "$NEV" "the script has 49 events"

T0=$(date +%s)
check_ok -m "auditscript appends the events" \
    "$AUDITSCRIPT" "$V" "$SCRIPT" --passphrase-file "$PASSFILE"
check_ok -m "the chain verifies" "$DOSSIERCTL" audit verify "$V"
at() { date -d "@$1" '+%F %T'; }
SINCE=$(at $((T0 - 3600)))
UNTIL=$(at $((T0 + 3600)))

# ------------------------------------------------------------ expectations

# One row per figure, as section TAB key TAB subkey TAB value.
EXPECT=$WORK/expect.tsv
X() { local IFS=$'\t'; printf '%s\n' "$*" >>"$EXPECT"; }
: >"$EXPECT"
X report vault "" "$V"
X report since "" "$(date -d "@$((T0 - 3600))" '+%F %T %z')"
X report until "" "$(date -d "@$((T0 + 3600))" '+%F %T %z')"
X report policy "" "$version"
X report chain "" OK
X report records "" 49
X report damaged "" 0
X report bucket "" hour
X leak total "" 6
X leak exfiltration-alerts "" 3
X leak refused-shares "" 3
X leak-source "alert bulk-reads" $A 2
X leak-source "alert many-clients" $A 1
X leak-source share-approve $A 1
X leak-source share-export $C 1
X leak-source share-request $C 1
X abuse total "" 5
X abuse-user $C "" 3
X abuse-user $B "" 1
X abuse-user dsft_mallory "" 1
X abuse-role legal "" 4
X abuse-role records "" 3
X abuse-role manager "" 1
X abuse-role "(no role)" "" 1
X abnormal total "" 6
X abnormal lockouts "" 1
X abnormal unlocks "" 1
X abnormal notify-failed "" 1
X abnormal-rule "alert bulk-reads" reads 2
X abnormal-rule "alert many-clients" clients 1
X abnormal-rule "alert denials" denials 1
X abnormal-rule "alert night" off-hours 1
X abnormal-rule "alert mass-delete" mass-change 1
X abnormal-class exfiltration "" 3
X abnormal-class abuse "" 1
X abnormal-class abnormal "" 1
X abnormal-class ransomware "" 1
X activity total "" 19
X activity-client acme "" 5
X activity-client beta "" 1
X activity-client "$EVIL" "" 1
for i in 01 02 03 04 05 06 07 08 09 10 11; do X activity-client "client-$i" "" 1; done
X activity-role manager "" 17
X activity-role legal "" 5
X activity-role records "" 2
X activity-time "$(date -d "@$((T0 - 3600))" '+%F %H:%M')" "" 0
X activity-time "$(date -d "@$T0" '+%F %H:%M')" "" 19
X destruction "done" count 2
X destruction "done" bytes 3000
X destruction failed count 1
X destruction failed bytes 500
X retention overdue "" "not computed (give --mount and --as)"
X grants checked "" 6
X grants unused "" 2
X grant-unused legal dsft_nobody 0
X grant-unused records $C 0
for a in share-request:2:1:0 share-approve:1:1:0 share-reject:1:0:0 \
    share-export:1:1:0 share-receipt:1:0:0; do
    IFS=: read -r act al re er <<<"$a"
    X share "$act" allowed "$al"
    X share "$act" refused "$re"
    X share "$act" error "$er"
done

# The checker: parses a report in any format into rows and compares
# them with the expectations; decodes the DOM and the screenshot.
CHECK=$WORK/check.py
cat >"$CHECK" <<'PYEOF'
import csv, html.parser, io, re, struct, sys, zlib

def rows_csv(text):
    r = list(csv.reader(io.StringIO(text, newline="")))
    assert r[0] == ["section", "key", "subkey", "value"], r[0]
    for row in r[1:]:
        assert len(row) == 4, row
    return [tuple(x) for x in r[1:]]

TEXT_HEAD = {"vault:": "vault", "since:": "since", "until:": "until",
             "generated:": "generated", "policy:": "policy",
             "audit chain:": "chain", "detail:": "chain-detail",
             "records:": "records", "damaged:": "damaged",
             "buckets:": "bucket", "retention by:": "retention-by"}
SECTIONS = {1: "leak", 2: "abuse", 3: "abnormal", 4: "activity",
            5: "destruction", 6: "retention", 7: "grants", 8: "share"}
FIGURES = {
    "leak": {"total": ("total", ""), "exfiltration alerts":
             ("exfiltration-alerts", ""), "refused share attempts":
             ("refused-shares", "")},
    "abuse": {"total": ("total", "")},
    "abnormal": {"total": ("total", ""), "users locked out":
                 ("lockouts", ""), "unlocked by an admin": ("unlocks", ""),
                 "notifications failed": ("notify-failed", "")},
    "activity": {"total": ("total", "")},
    "destruction": {"done": ("done", "count"), "done, bytes":
                    ("done", "bytes"), "failed": ("failed", "count"),
                    "failed, bytes": ("failed", "bytes")},
    "retention": {"files past retention": ("overdue", "")},
    "grants": {"grants checked": ("checked", ""), "not used":
               ("unused", "")},
}
TABLES = {("leak", "SOURCE"): "leak-source", ("abuse", "USER"): "abuse-user",
          ("abuse", "ROLE"): "abuse-role",
          ("abnormal", "RULE"): "abnormal-rule",
          ("abnormal", "CLASS"): "abnormal-class",
          ("activity", "CLIENT"): "activity-client",
          ("activity", "ROLE"): "activity-role",
          ("activity", "HOUR"): "activity-time",
          ("activity", "DAY"): "activity-time",
          ("grants", "ROLE"): "grant-unused", ("share", "ACTION"): "share"}

def rows_text(text):
    out, sec, state, head = [], None, "head", None
    for line in text.split("\n"):
        if sec is None:
            m = re.match(r"^\s+(\S[^:]*:)\s+(.*)$", line)
            if m and m.group(1).strip() in TEXT_HEAD:
                out.append(("report", TEXT_HEAD[m.group(1).strip()], "",
                            m.group(2)))
        m = re.match(r"^(\d)\. ", line)
        if m:
            sec, state = SECTIONS[int(m.group(1))], "figures"
            continue
        if sec is None:
            continue
        if line == "":
            state = "table-head" if state != "head" else state
            continue
        body = line[5:]
        if state == "figures":
            label, value = re.split(r"\s{2,}", body.strip(), maxsplit=1)
            key, sub = FIGURES[sec][label]
            out.append((sec, key, sub, value))
        elif state == "table-head":
            head = re.split(r"\s{2,}", body.strip())
            tid = TABLES[(sec, head[0])]
            nval = sum(1 for h in head if h in ("EVENTS", "DENIED", "ALERTS",
                       "ACCESSES", "USES", "ALLOWED", "REFUSED", "ERROR"))
            state = "rows"
        elif state == "rows":
            if body == "(none)":
                continue
            cells = re.split(r"\s{2,}", body.strip())
            assert len(cells) == len(head), (head, cells)
            text_cells, vals = cells[:len(head) - nval], cells[len(head) - nval:]
            if nval == 1:
                sub = text_cells[1] if len(text_cells) > 1 else ""
                out.append((tid, text_cells[0], sub, vals[0]))
            else:
                for h, v in zip(head[1:], vals):
                    out.append((tid, text_cells[0], h.lower(), v))
    return out

class HTMLRows(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.table, self.kind, self.heads = [], None, None, []
        self.cells, self.cell, self.tr = [], None, None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.table, self.kind, self.heads = a.get("id"), a.get("class"), []
        elif tag == "tr" and self.table:
            self.tr, self.cells = a, []
        elif tag in ("td", "th") and self.table:
            self.cell = ""
            self.cell_cls = a.get("class")
    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data
    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.cells.append((tag, self.cell, self.cell_cls))
            self.cell = None
        elif tag == "tr" and self.tr is not None:
            self.row()
            self.tr = None
        elif tag == "table":
            self.table = None
    def row(self):
        tr, cells = self.tr, self.cells
        if "data-key" in tr:
            self.rows.append((self.table, tr["data-key"],
                              tr.get("data-subkey", ""), cells[-1][1]))
        elif all(t == "th" for t, _, _ in cells):
            self.heads = [(c, cls) for _, c, cls in cells]
        elif tr.get("class") == "none":
            pass
        else:
            nval = sum(1 for _, cls in self.heads if cls == "n")
            texts = [c for _, c, _ in cells[:len(cells) - nval]]
            vals = [c for _, c, _ in cells[len(cells) - nval:]]
            if nval == 1:
                self.rows.append((self.table, texts[0],
                                  texts[1] if len(texts) > 1 else "", vals[0]))
            else:
                for (h, _), v in zip(self.heads[1:], vals):
                    self.rows.append((self.table, texts[0], h, v))

def rows_html(text):
    p = HTMLRows()
    p.feed(text)
    return p.rows

def compare(fmt, path, expect_path):
    text = open(path, encoding="utf-8", newline="").read()
    got = {"csv": rows_csv, "text": rows_text, "html": rows_html}[fmt](text)
    want = [tuple(l.rstrip("\n").split("\t"))
            for l in open(expect_path, encoding="utf-8")]
    bad = 0
    if len(set(got)) != len(got):
        print("duplicate rows:", [r for r in set(got) if got.count(r) > 1])
        bad = 1
    got_by = {}
    for r in got:
        got_by.setdefault((r[0], r[1], r[2]), []).append(r[3])
    for r in want:
        if got_by.get((r[0], r[1], r[2])) != [r[3]]:
            print("want", r, "got", got_by.get((r[0], r[1], r[2])))
            bad = 1
    sections = {r[0] for r in want} - {"report"}
    wanted = set(want)
    for r in got:
        if r[0] in sections and r not in wanted:
            print("extra", r)
            bad = 1
    print("%d rows checked" % len(want))
    return bad

class Dom(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.svg, self.bars, self.scripts, self.text = None, {}, 0, ""
        self.bad_attrs = 0
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k, v in attrs:
            if k in ("src", "href") or (v and re.search(r"(https?|ftp):", v)):
                self.bad_attrs += 1
        if tag == "script":
            self.scripts += 1
        if tag == "svg":
            self.svg = a.get("id")
            self.bars[self.svg] = 0
        if tag == "rect" and self.svg and "bar" in a.get("class", "").split():
            self.bars[self.svg] += 1
    def handle_endtag(self, tag):
        if tag == "svg":
            self.svg = None
    def handle_data(self, data):
        self.text += data

def dom(path, evil):
    d = Dom()
    d.feed(open(path, encoding="utf-8").read())
    print("activity=%d denials=%d clients=%d scripts=%d attrs=%d evil=%d" % (
        d.bars.get("chart-activity", -1), d.bars.get("chart-denials", -1),
        d.bars.get("chart-clients", -1), d.scripts, d.bad_attrs,
        d.text.count(evil)))

def png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, inter = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and inter == 0, (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride = zlib.decompress(idat), w * bpp
    prev, i = bytearray(stride), 0
    counts = {"nonwhite": 0, "blue": 0, "red": 0, "green": 0}
    colours = {(59, 111, 182): "blue", (192, 57, 43): "red",
               (46, 139, 87): "green"}
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pr) & 255
        for x in range(0, stride, bpp):
            px = tuple(line[x:x + 3])
            if px != (255, 255, 255):
                counts["nonwhite"] += 1
            if px in colours:
                counts[colours[px]] += 1
        prev = line
    print("%dx%d nonwhite=%d blue=%d red=%d green=%d" % (
        w, h, counts["nonwhite"], counts["blue"], counts["red"],
        counts["green"]))

if __name__ == "__main__":
    if sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3], sys.argv[4]))
    elif sys.argv[1] == "dom":
        dom(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "png":
        png(sys.argv[2])
PYEOF

# report FORMAT OUT [ARGS...]: runs the report into OUT; prints its
# exit status and keeps its stderr in OUT.err
report() {
    local fmt=$1 out=$2
    shift 2
    rm -f "$out"
    timeout -k 10 "$CMD_TIMEOUT" "$DOSSIERCTL" report "$V" --format "$fmt" \
        --policy "$POL" --passphrase-file "$PASSFILE" --out "$out" "$@" \
        2>"$out.err" </dev/null
    echo $?
}

# ------------------------------------------------------------ every figure

section "every figure in text, CSV and HTML"
for fmt in text csv html; do
    R=$WORK/report.$fmt
    check_eq 0 "$(report "$fmt" "$R" --since "$SINCE" --until "$UNTIL")" \
        "report --format $fmt: exit 0"
    check_eq "-rw-------" "$(stat -c %A "$R" 2>&1)" "the $fmt report is mode 0600"
    if out=$("$PY" "$CHECK" compare "$fmt" "$R" "$EXPECT" 2>&1); then
        pass "every figure of the $fmt report is the script's ($(printf '%s' "$out" | tail -n 1))"
    else
        fail "every figure of the $fmt report is the script's" "$out"
    fi
done
check_eq "" "$(cat "$WORK/report.csv.err")" "nothing on stderr"
check_match $'\r$' "$(head -n 1 "$WORK/report.csv")" "CSV lines end in CRLF"
check_eq 0 "$(grep -c $'[^\r]$' "$WORK/report.csv")" "every CSV line ends in CRLF"
out=$("$DOSSIERCTL" report "$V" --since "$SINCE" --until "$UNTIL" \
    --policy "$POL" --passphrase-file "$PASSFILE" 2>&1 </dev/null)
check_eq "$(grep -v '^  generated:' "$WORK/report.text")" \
    "$(printf '%s\n' "$out" | grep -v '^  generated:')" \
    "without --out the report goes to stdout (the same, but for the time)"

section "the HTML page is self-contained"
H=$WORK/report.html
check_eq 0 "$(grep -c 'http://' "$H")" "no http:// in the page"
check_eq 0 "$(grep -c 'https://' "$H")" "no https:// in the page"
check_eq 0 "$(grep -ci 'src=' "$H")" "no src= in the page"
check_eq 0 "$(grep -ci -e 'href=' -e 'url(' -e '@import' "$H")" "no href, url() or @import"
check_eq 0 "$(grep -ci '<script' "$H")" "no script element (the client name is escaped)"
check_match 'Smith, &quot;J&quot; &amp; &lt;b&gt;Sons&lt;/b&gt; &lt;script&gt;x&lt;/script&gt;' \
    "$(cat "$H")" "the client name is HTML-escaped"

# ------------------------------------------------------------ ranges

section "the range selects the records"
R=$WORK/past.csv
check_eq 0 "$(report csv "$R" --since "$(at $((T0 - 3 * 3600)))" \
    --until "$(at $((T0 - 2 * 3600)))")" "a range that ends before the events: exit 0"
csv=$(tr -d '\r' <"$R")
for row in "report,records,,0" "leak,total,,0" "abuse,total,,0" \
    "abnormal,total,,0" "activity,total,,0" "destruction,done,count,0" \
    "destruction,failed,count,0" "share,share-request,allowed,0" \
    "share,share-export,refused,0" "grants,unused,,6"; do
    check_match "^$row\$" "$csv" "ended before: $row"
done
check_no_match '^(leak-source|abuse-user|abuse-role|abnormal-rule|activity-client|activity-role),' \
    "$csv" "ended before: no rows of users, roles, rules or clients"
R=$WORK/later.csv
check_eq 0 "$(report csv "$R" --since "$(at $((T0 + 1800)))" \
    --until "$(at $((T0 + 5400)))")" "a range that starts after the events: exit 0"
csv=$(tr -d '\r' <"$R")
check_match '^activity,total,,0$' "$csv" "starts after: no accesses"
check_match '^report,records,,0$' "$csv" "starts after: no records"
check_match '^grants,unused,,2$' "$csv" \
    "starts after: the grants still used (the 90 days before --until are read)"
R=$WORK/days.csv
check_eq 0 "$(report csv "$R" --since "$(date -d "@$T0" '+%F')" \
    --until "$(date -d "@$((T0 + 5 * 86400))" '+%F')")" "five days: exit 0"
csv=$(tr -d '\r' <"$R")
check_match '^report,bucket,,day$' "$csv" "five days: day buckets"
check_eq 5 "$(printf '%s\n' "$csv" | grep -c '^activity-time,')" "five days: five buckets"
check_match "^activity-time,$(date -d "@$T0" '+%F'),,19\$" "$csv" \
    "five days: the events on their day"

# ------------------------------------------------------------ retention

section "files past retention, counted as a user"
M=$WORK/tree
mkdir -p "$M/acme/sub" "$M/beta" "$M/secret" "$M/.audit"
for f in acme/old.pdf acme/sub/older.pdf beta/new.pdf secret/x.pdf .audit/y; do
    printf 'x\n' >"$M/$f"
done
touch -d 2001-06-01 "$M/acme/old.pdf" "$M/acme/sub/older.pdf" "$M/secret/x.pdf"
chmod -R a+rX "$M"
chmod 0700 "$M/secret"
R=$WORK/retention.csv
check_eq 0 "$(report csv "$R" --since "$SINCE" --until "$UNTIL" \
    --mount "$M" --as dsft_alice)" "report with --mount and --as: exit 0"
csv=$(tr -d '\r' <"$R")
check_match '^retention,overdue,,2$' "$csv" \
    "two files past retention (the folder only root may list is not counted)"
check_match "^report,retention-by,,$M as dsft_alice\$" "$csv" "the report says who counted"
check_match '^activity,total,,19$' "$csv" "the store was read as root first"
out=$("$DOSSIERCTL" retention due "$M" --as dsft_alice --policy "$POL" 2>&1)
check_match '^2 past retention' "$(printf '%s\n' "$out" | tail -n 1)" "retention due as the same user agrees"
R=$WORK/retention.txt
check_eq 0 "$(report text "$R" --since "$SINCE" --until "$UNTIL" \
    --mount "$M" --as dsft_carol)" "as another user: exit 0"
check_match 'files past retention +2$' "$(cat "$R")" "the text report says 2"

# ------------------------------------------------------------ --out

section "--out"
R=$WORK/exists.txt
printf 'keep\n' >"$R"
out=$("$DOSSIERCTL" report "$V" --since "$SINCE" --until "$UNTIL" --policy "$POL" \
    --passphrase-file "$PASSFILE" --out "$R" 2>&1 </dev/null)
check_eq 1 "$?" "an existing --out file: exit 1"
check_match 'cannot create .*exists' "$out" "... and says so"
check_eq keep "$(cat "$R")" "... and leaves it as it was"
ln -s "$WORK/elsewhere" "$WORK/link.txt"
check_fail -m "--out does not follow a symbolic link" "$DOSSIERCTL" report "$V" \
    --since "$SINCE" --until "$UNTIL" --policy "$POL" --passphrase-file "$PASSFILE" \
    --out "$WORK/link.txt"
check_fail -m "... nor create its target" test -e "$WORK/elsewhere"
R=$WORK/umask.txt
(umask 000; "$DOSSIERCTL" report "$V" --since "$SINCE" --until "$UNTIL" --policy "$POL" \
    --passphrase-file "$PASSFILE" --out "$R" >/dev/null 2>&1 </dev/null)
check_eq "-rw-------" "$(stat -c %A "$R" 2>&1)" "mode 0600 whatever the umask"

# ------------------------------------------------------------ a tampered store

section "a tampered store is reported, BAD said first"
VB=$WORK/vault-bad
cp -a "$V" "$VB"
check_ok -m "tamper with record 5" sqlite3 "$VB/audit.db" \
    "UPDATE events SET detail = 'tampered' WHERE seq = 5"
check_fail -m "audit verify finds it" "$DOSSIERCTL" audit verify "$VB"
for fmt in text csv html; do
    R=$WORK/bad.$fmt
    rm -f "$R"
    "$DOSSIERCTL" report "$VB" --format "$fmt" --policy "$POL" \
        --passphrase-file "$PASSFILE" --out "$R" --since "$SINCE" --until "$UNTIL" \
        2>"$R.err" </dev/null
    check_eq 0 "$?" "report on a tampered store ($fmt): exit 0"
    check_match 'audit chain of .* is BAD: seq 5' "$(cat "$R.err")" "... BAD on stderr ($fmt)"
done
check_eq "dossierfs KPI report||" "$(head -n 2 "$WORK/bad.text" | tr '\n' '|')" \
    "text: the title, then a blank line"
check_match '^\*\*\* AUDIT CHAIN BAD: seq 5' "$(sed -n 3p "$WORK/bad.text")" \
    "text: BAD right under the title"
check_match $'report,chain,,BAD\r' "$(cat "$WORK/bad.csv")" "csv: chain BAD"
check_match 'id="chain-bad"><strong>AUDIT CHAIN BAD:</strong> seq 5' \
    "$(cat "$WORK/bad.html")" "html: the alarm"
check_match $'activity,total,,19\r' "$(cat "$WORK/bad.csv")" "the figures are still there"

# ------------------------------------------------------------ usage

section "usage and errors"
usage_exit() {
    "$DOSSIERCTL" report "$@" >/dev/null 2>&1 </dev/null
    echo $?
}
check_eq 2 "$(usage_exit)" "no vault: exit 2"
check_eq 2 "$(usage_exit "$V" --until "$UNTIL")" "no --since: exit 2"
check_eq 2 "$(usage_exit "$V" --since "$SINCE")" "no --until: exit 2"
check_eq 2 "$(usage_exit "$V" --since "$UNTIL" --until "$SINCE")" "--since after --until: exit 2"
check_eq 2 "$(usage_exit "$V" --since yesterday --until "$UNTIL")" "a bad time: exit 2"
check_eq 2 "$(usage_exit "$V" --since "$SINCE" --until "$UNTIL" --format pdf)" "bad --format: exit 2"
check_eq 2 "$(usage_exit "$V" --since "$SINCE" --until "$UNTIL" --mount "$M")" "--mount without --as: exit 2"
check_eq 2 "$(usage_exit "$V" --since "$SINCE" --until "$UNTIL" --as dsft_alice)" "--as without --mount: exit 2"
check_eq 2 "$(usage_exit "$V" --since "$SINCE" --until "$UNTIL" --mount "$M" --as dsft_nobody)" \
    "--as a user the system does not know: exit 2"
check_eq 2 "$(usage_exit "$V" --since 1990-01-01 --until 2020-01-01 --policy "$POL" \
    --passphrase-file "$PASSFILE")" "a range of 30 years: exit 2"
check_eq 1 "$(usage_exit "$V" --since "$SINCE" --until "$UNTIL" --policy "$WORK/nopolicy" \
    --passphrase-file "$PASSFILE")" "a policy that does not load: exit 1"
mkdir -p "$WORK/novault"
check_eq 1 "$(usage_exit "$WORK/novault" --since "$SINCE" --until "$UNTIL" --policy "$POL" \
    --passphrase-file "$PASSFILE")" "not a vault: exit 1"
out=$("$DOSSIERCTL" 2>&1)
check_match 'dossierctl report VAULT --since T --until T' "$out" "dossierctl usage lists report"

# ------------------------------------------------------------ Chromium

section "the HTML page in headless Chromium"
CHROME=$(command -v chromium-headless-shell 2>/dev/null)
if [ -z "$CHROME" ] && [ -x /usr/lib/chromium/chromium-headless-shell ]; then
    CHROME=/usr/lib/chromium/chromium-headless-shell
fi
if [ -z "$CHROME" ]; then
    if [ "${CI:-}" = true ]; then
        fail "chromium-headless-shell is not installed (scripts/deps.sh installs it)"
    else
        skip "HTML rendering: chromium-headless-shell not installed (scripts/deps.sh)"
    fi
else
    chrome() {
        timeout -k 10 120 "$CHROME" --headless --no-sandbox --disable-gpu \
            --user-data-dir="$WORK/chrome" --no-first-run "$@" 2>>"$WORK/chrome.err"
    }
    chrome --dump-dom "file://$H" >"$WORK/dom.html"
    check_match '</svg>' "$(cat "$WORK/dom.html")" "Chromium rendered the page"
    out=$("$PY" "$CHECK" dom "$WORK/dom.html" "$EVIL" 2>&1)
    check_match 'activity=2 ' "$out" "the activity chart has 2 bars (hour buckets)"
    check_match 'denials=4 ' "$out" "the denials chart has 4 bars (legal, records, manager, no role)"
    check_match 'clients=10 ' "$out" "the client chart has the top 10"
    check_match 'scripts=0 ' "$out" "no script element in the DOM"
    check_match 'attrs=0 ' "$out" "no src, href or URL in any attribute of the DOM"
    check_match 'evil=[1-9]' "$out" "the hostile client name is shown as text"
    chrome --screenshot="$WORK/shot.png" --window-size=1280,1600 --hide-scrollbars \
        "file://$H" >/dev/null
    out=$("$PY" "$CHECK" png "$WORK/shot.png" 2>&1)
    check_match '^1280x1600 ' "$out" "a 1280x1600 screenshot"
    read -r nonwhite blue red green < <(printf '%s\n' "$out" |
        sed -n 's/.*nonwhite=\([0-9]*\) blue=\([0-9]*\) red=\([0-9]*\) green=\([0-9]*\).*/\1 \2 \3 \4/p')
    if [ "${nonwhite:-0}" -gt 20000 ]; then
        pass "the screenshot is not blank ($out)"
    else
        fail "the screenshot is not blank" "$out"
    fi
    if [ "${blue:-0}" -gt 500 ] && [ "${red:-0}" -gt 500 ] && [ "${green:-0}" -gt 500 ]; then
        pass "the bars of all three charts are painted"
    else
        fail "the bars of all three charts are painted" "$out"
    fi
fi

finish
