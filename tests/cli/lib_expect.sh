# SPDX-License-Identifier: Apache-2.0
# Shared by the CLI tests (sourced after $dir, their temporary directory, is set): fail, and
# expect EXIT_CODE COMMAND... which runs a command, keeps its output in $out / $err, counts it
# in $n and fails the test when its exit code is not the expected one.
n=0
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
expect() {
    local want=$1
    shift
    out=$("$@" 2>"$dir/stderr")
    local rc=$?
    err=$(cat "$dir/stderr")
    n=$((n + 1))
    [ "$rc" -eq "$want" ] || fail "$* → exit $rc, want $want
stdout: $out
stderr: $err"
}
