#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `capverify verify` over many inputs (docs/formats.md, "capverify verify --json"): --json is
# JSON Lines, one object per package, and every line of every run validates against
# docs/schemas/capverify.verify.v1.schema.json; a directory of packages verifies each (in
# name order, --recursive descends), '-' reads standard input (zip or JSON package),
# --summary and -q, and --report writes the same lines. The same bytes verify alike from a
# file, standard input, a pipe or a FIFO.
#   verify_json.sh CAPVERIFY SOURCE_DIR FIXTURES_DIR VECTORS_DIR
set -uo pipefail
cli=$1 src=$2 fixtures=$3 vectors=$4
fails=0
ok() { echo "ok   - $1"; }
bad() { echo "FAIL - $1${2:+: $2}"; fails=$((fails + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
S=$fixtures/sample
trust=(--trust "$S/trust" --policy-store "$S/policies" --tsa-ca "$S/tsa/ca.pem")
# a directory of packages: two zips, a package directory, a non-package, a nested level
mkdir -p "$tmp/pkgs/nested/deeper" "$tmp/pkgs/notes"
cp "$S/sample.zip" "$tmp/pkgs/a.zip"
cp -r "$S/sample" "$tmp/pkgs/b-dir"
cp "$vectors/peer/packages/webui-legacy.zip" "$tmp/pkgs/c.capz"
echo "not a package" >"$tmp/pkgs/readme.txt"
cp "$S/sample.zip" "$tmp/pkgs/nested/deeper/d.zip"
printf 'PK\3\4garbage' >"$tmp/pkgs/nested/e.zip"

run() { # run NAME ARGS...: stdout to $tmp/NAME.out, exit code to $tmp/NAME.rc
    local name=$1
    shift
    "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    echo $? >"$tmp/$name.rc"
}
run dir "$cli" verify --json "${trust[@]}" "$tmp/pkgs"
run rec "$cli" verify --json --recursive "${trust[@]}" "$tmp/pkgs"
run stdin "$cli" verify --json "${trust[@]}" - <"$S/sample.zip"
python3 - "$S/sample" "$tmp/sample.json" <<'PY'
import base64, json, os, sys
src, dst = sys.argv[1], sys.argv[2]
members = {}
for root, _, files in os.walk(src):
    for f in files:
        p = os.path.join(root, f)
        members[os.path.relpath(p, src)] = base64.b64encode(open(p, "rb").read()).decode()
json.dump({"package": members}, open(dst, "w"))
PY
run stdinjson "$cli" verify --json "${trust[@]}" - <"$tmp/sample.json"
run notpkg "$cli" verify --json "$tmp/pkgs/readme.txt" "$S/sample.zip"
run report "$cli" verify --report "$tmp/report.jsonl" "${trust[@]}" "$tmp/pkgs"

packages() { python3 -c 'import json,sys; print(" ".join(json.loads(l)["package"].rsplit("/",1)[-1] + ":" + json.loads(l)["result"] for l in open(sys.argv[1])))' "$1"; }
[ "$(packages "$tmp/dir.out")" = "a.zip:warn b-dir:warn c.capz:fail" ] &&
    ok "a directory of packages: its zips, .capz files and package directories, in name order" ||
    bad "directory expansion" "$(packages "$tmp/dir.out")"
[ "$(packages "$tmp/rec.out")" = "a.zip:warn b-dir:warn c.capz:fail d.zip:warn e.zip:error" ] &&
    ok "--recursive descends into the other subdirectories" || bad "--recursive" "$(packages "$tmp/rec.out")"
[ "$(cat "$tmp/rec.rc")" = 4 ] && ok "the worst exit code wins (4: a file that is not a package)" ||
    bad "exit code of --recursive" "$(cat "$tmp/rec.rc")"
[ "$(packages "$tmp/stdin.out")" = "-:warn" ] && ok "'-' verifies a zip from standard input" ||
    bad "stdin zip" "$(packages "$tmp/stdin.out")"
[ "$(packages "$tmp/stdinjson.out")" = "-:warn" ] && ok "'-' verifies a JSON package from standard input" ||
    bad "stdin JSON package" "$(packages "$tmp/stdinjson.out") $(cat "$tmp/stdinjson.err")"
cmp -s "$tmp/report.jsonl" "$tmp/dir.out" &&
    ok "--report writes the same JSON Lines (up to verified_at and duration)" ||
    python3 - "$tmp/report.jsonl" "$tmp/dir.out" <<'PY' && ok "--report writes the same JSON Lines (up to verified_at and duration)" || bad "--report content"
import json, sys
def strip(path):
    out = []
    for line in open(path):
        o = json.loads(line)
        o.get("report", {}).pop("verified_at", None)
        o.get("report", {}).pop("duration_ms", None)
        out.append(o)
    return out
sys.exit(0 if strip(sys.argv[1]) == strip(sys.argv[2]) else 1)
PY
python3 - "$src/docs/schemas/capverify.verify.v1.schema.json" "$tmp"/{dir,rec,stdin,stdinjson,notpkg}.out "$tmp/report.jsonl" <<'PY' && ok "every --json line of every run validates against the schema" || bad "schema validation"
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
n = bad = 0
for path in sys.argv[2:]:
    for no, line in enumerate(open(path), 1):
        n += 1
        errors = list(v.iter_errors(json.loads(line)))
        for e in errors:
            print("%s:%d: %s" % (path, no, e.message), file=sys.stderr)
        bad += bool(errors)
print("%d lines checked" % n, file=sys.stderr)
sys.exit(1 if bad or n < 10 else 0)
PY
[ "$(python3 -c 'import json,sys; o=json.loads(open(sys.argv[1]).readline()); print(o["result"], o["error"]["class"])' "$tmp/notpkg.out")" = "error malformed" ] &&
    ok "a file that is not a package: result error, with the status and its class" || bad "error line" "$(head -1 "$tmp/notpkg.out")"
# a broken schema must be caught by the same validation (the check can fail)
python3 - "$src/docs/schemas/capverify.verify.v1.schema.json" <<'PY' && ok "the schema refuses a line without its report or error" || bad "schema strictness"
import json, sys, jsonschema
v = jsonschema.Draft202012Validator(json.load(open(sys.argv[1])))
bad = [{"schema": "capverify.verify.v1", "package": "x", "result": "ok"},
       {"schema": "capverify.verify.v2", "package": "x", "result": "error", "error": {"status": "io", "class": "unavailable", "message": ""}},
       {"schema": "capverify.verify.v1", "package": "x", "result": "ok", "error": {"status": "io", "class": "unavailable", "message": ""}}]
sys.exit(0 if all(list(v.iter_errors(b)) for b in bad) else 1)
PY

out=$("$cli" verify --summary "${trust[@]}" "$tmp/pkgs")
rc=$?
[ "$rc" = 2 ] && [ "$(tail -n 1 <<<"$out")" = "3 package(s): 0 ok, 2 warn, 1 fail, 0 error" ] &&
    [ "$(wc -l <<<"$out")" = 4 ] && ok "--summary: a line per package and the totals" || bad "--summary" "$rc: $out"
out=$("$cli" verify -q "${trust[@]}" "$S/sample.zip" 2>&1)
rc=$?
[ "$rc" = 1 ] && [ -z "$out" ] && ok "-q prints nothing, the exit code answers (1 warn)" || bad "-q" "$rc: $out"
"$cli" verify --json --summary "$S/sample.zip" >/dev/null 2>&1
[ $? = 3 ] && ok "--json and --summary exclude each other (usage error)" || bad "--json --summary"
"$cli" verify - - <"$S/sample.zip" >/dev/null 2>&1
[ $? = 3 ] && ok "'-' given twice is a usage error" || bad "'-' twice"
# On a terminal the progress line (stderr) is erased before each package's results (stdout):
# rendered, every report's first line starts with the package, none with the progress.
python3 - "$cli" "$S/sample.zip" >"$tmp/tty.txt" 2>&1 <<'PY'
import os, pty, re, sys
pid, fd = pty.fork()
if pid == 0:
    os.environ["NO_COLOR"] = "1"
    os.execv(sys.argv[1], [sys.argv[1], "verify", sys.argv[2], sys.argv[2]])
raw = b""
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    raw += chunk
os.waitpid(pid, 0)
lines, col = [""], 0 # a terminal: CR, LF, erase to the end of the line, overwrite
for tok in re.findall(rb"\x1b\[K|\r|\n|[^\r\n\x1b]+|\x1b", raw):
    if tok == b"\r":
        col = 0
    elif tok == b"\n":
        lines.append("")
        col = 0
    elif tok == b"\x1b[K":
        lines[-1] = lines[-1][:col]
    else:
        t = tok.decode(errors="replace")
        lines[-1] = lines[-1][:col] + t + lines[-1][col + len(t):]
        col += len(t)
print("\n".join(lines))
PY
if grep -q '^\[[0-9]/2\]' "$tmp/tty.txt"; then
    bad "the progress line is erased before the results" "$(head -n 3 "$tmp/tty.txt")"
elif [ "$(grep -c "^$S/sample.zip" "$tmp/tty.txt")" = 2 ]; then
    ok "the progress line is erased before the results"
else
    bad "the progress line is erased before the results" "$(head -n 3 "$tmp/tty.txt")"
fi
out=$("$cli" verify --json - </ 2>/dev/null)
rc=$?
[ "$rc" = 5 ] && jq -e '.result == "error" and .error.status == "io_error" and
    .error.message == "standard input could not be read"' <<<"$out" >/dev/null &&
    ok "standard input that cannot be read: an error line saying so (exit 5)" ||
    bad "unreadable standard input" "$rc: $out"

# The same bytes get the same report from standard input, a pipe or a file: the same limits
# (the CLI's, docs/formats.md) and the same zip detection. `same_report NAME A B`: the --json
# lines of runs A and B (files $tmp/A.out, $tmp/A.rc) agree but for the package's name, the
# time and the duration, and so do their exit codes.
same_report() {
    if [ "$(cat "$tmp/$2.rc")" = "$(cat "$tmp/$3.rc")" ] && python3 - "$tmp/$2.out" "$tmp/$3.out" <<'PY'; then
import json, sys
def strip(path):
    out = []
    for line in open(path):
        o = json.loads(line)
        o.pop("package")
        o.get("report", {}).pop("verified_at", None)
        o.get("report", {}).pop("duration_ms", None)
        out.append(o)
    return out
a, b = strip(sys.argv[1]), strip(sys.argv[2])
sys.exit(0 if a and a == b else 1)
PY
        ok "$1"
    else
        bad "$1" "exit $(cat "$tmp/$2.rc") vs $(cat "$tmp/$3.rc"): $(head -c 300 "$tmp/$2.out") vs $(head -c 300 "$tmp/$3.out")"
    fi
}
# a _meta.json of 80,001 JSON values: parsing it needs more than the daemon's 16 MiB
# verification budget and much less than the CLI's 256 MiB
python3 - "$tmp/budget.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_STORED) as z:
    z.writestr("_meta.json", "[" + ",".join(["0"] * 80000) + "]")
PY
run budget_file "$cli" verify --json "$tmp/budget.zip"
run budget_stdin "$cli" verify --json - <"$tmp/budget.zip"
same_report "standard input is verified under the same limits as a file" budget_file budget_stdin
# an empty zip (its end record alone, PK\5\6) is a zip from standard input too
printf 'PK\5\6\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0' >"$tmp/empty.zip"
run empty_file "$cli" verify --json "$tmp/empty.zip"
run empty_stdin "$cli" verify --json - <"$tmp/empty.zip"
same_report "an empty zip from standard input is the empty zip file's verdict" empty_file empty_stdin
# a path that is no regular file or directory (a pipe, a device) is read like standard input
run sample_file "$cli" verify --json "${trust[@]}" "$S/sample.zip"
run sample_pipe "$cli" verify --json "${trust[@]}" <(cat "$S/sample.zip")
same_report "a pipe (<(cat sample.zip)) verifies like the file" sample_file sample_pipe
mkfifo "$tmp/fifo"
timeout 20 sh -c 'cat "$1" >"$2"' sh "$S/sample.zip" "$tmp/fifo" &
run sample_fifo "$cli" verify --json "${trust[@]}" "$tmp/fifo"
wait
same_report "a FIFO verifies like the file" sample_file sample_fifo
run null_stdin "$cli" verify --json - </dev/null
run null_dev "$cli" verify --json /dev/null
same_report "/dev/null is empty input, as empty standard input" null_stdin null_dev
# --report FILE writes into a FIFO (or a device) as it is, where a temporary file and a
# rename would replace it
rm -f "$tmp/fifo"
mkfifo "$tmp/fifo"
timeout 20 cat "$tmp/fifo" >"$tmp/fifo.out" &
reader=$!
timeout 20 "$cli" verify --json --report "$tmp/fifo" "${trust[@]}" "$S/sample.zip" >"$tmp/fifo.json" 2>"$tmp/fifo.err"
rc=$?
wait "$reader"
[ "$rc" = 1 ] && [ -p "$tmp/fifo" ] && [ -s "$tmp/fifo.out" ] && cmp -s "$tmp/fifo.json" "$tmp/fifo.out" &&
    ok "--report FIFO writes the report into the FIFO" ||
    bad "--report FIFO" "exit $rc, $(cat "$tmp/fifo.err")$([ -p "$tmp/fifo" ] || echo ', the FIFO was replaced')"
# --report /dev/stdout with standard output redirected to a file: the report follows what
# went there before, in the file the shell opened (not a new file renamed over its name)
"$cli" verify --json --report /dev/stdout "${trust[@]}" "$S/sample.zip" >"$tmp/both.out" 2>"$tmp/both.err"
rc=$?
[ "$rc" = 1 ] && [ "$(wc -l <"$tmp/both.out")" = 2 ] &&
    [ "$(head -n 1 "$tmp/both.out")" = "$(tail -n 1 "$tmp/both.out")" ] &&
    ok "--report /dev/stdout into a redirected file: the verdict, then the report" ||
    bad "--report /dev/stdout" "exit $rc, $(wc -l <"$tmp/both.out") lines, $(cat "$tmp/both.err")"
[ "$fails" = 0 ] || exit 1
