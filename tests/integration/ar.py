#!/usr/bin/env python3
"""Reads the JSON lines of `dossierctl audit query --format json` (or of a
.audit/events.jsonl view) for the integration tests.

  rows FILE [FILTER...] [-- FIELD...]  one line per record, fields joined
                                       by '|' (null as '-'); default
                                       fields action|client|path|path2|
                                       outcome|errno
  count FILE [FILTER...]               number of records
  max FILE                             highest seq (0 if none)
  seqs FILE                            "ok N" if the seqs are 1..N
FILTER: key=value, key!=value, key~regex (re.search), seq>N, seq<N.
"""
import json, re, sys

def val(v):
    return "-" if v is None else str(v)

def match(r, f):
    if f.startswith("seq>"):
        return r["seq"] > int(f[4:])
    if f.startswith("seq<"):
        return r["seq"] < int(f[4:])
    for op in ("!=", "=", "~"):
        if op in f:
            k, v = f.split(op, 1)
            x = val(r.get(k))
            if op == "=":
                return x == v
            if op == "!=":
                return x != v
            return re.search(v, x) is not None
    sys.exit("bad filter " + f)

def main():
    cmd, path, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    fields = ["action", "client", "path", "path2", "outcome", "errno"]
    if "--" in args:
        i = args.index("--")
        args, fields = args[:i], args[i + 1:]
    recs = []
    with open(path) as f:
        for line in f:
            if line.strip():
                recs.append(json.loads(line))
    sel = [r for r in recs if all(match(r, a) for a in args)]
    if cmd == "rows":
        for r in sel:
            print("|".join(val(r.get(k)) for k in fields))
    elif cmd == "count":
        print(len(sel))
    elif cmd == "max":
        print(max([r["seq"] for r in recs] or [0]))
    elif cmd == "seqs":
        s = [r["seq"] for r in recs]
        want = list(range(1, len(s) + 1))
        if s == want:
            print("ok %d" % len(s))
        else:
            bad = next(i for i in range(len(s)) if s[i] != i + 1)
            print("gap: %d records, the %dth has seq %d" % (len(s), bad + 1, s[bad]))
    else:
        sys.exit("bad command " + cmd)

main()
