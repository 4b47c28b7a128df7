#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Debian packages (debian/, docs/packaging.md) end to end: a copy of the source tree
# (what git knows: tracked files and new files that are not ignored) is built with
# `dpkg-buildpackage -us -uc -b`, lintian must report no errors and no warnings (but
# unknown-field Static-Built-Using, see below), the packages' contents and control fields are
# checked (Static-Built-Using, the installed programs' RPATH), the four .debs are installed
# with apt-get, and the quickstart's checks run against the installed programs:
#   - /usr/bin/capverify verifies a freshly signed sample package (ok, exit 0) and refuses a
#     tampered copy (fail, exit 2), as scripts/quickstart.sh does;
#   - /usr/sbin/capverifyd --check-config accepts the packaged /etc/cap-verifier, which binds
#     127.0.0.1 only; the daemon runs with it as the packaged system user (on free loopback
#     ports, data in a temporary directory), serves /healthz and /openapi.json and verifies
#     the sample over HTTP; it also serves HTTPS (tls.cert_file), through the compat
#     libssl.so its RPATH leads to;
#   - examples/*.c build against libcapverify-dev with pkg-config and with
#     find_package(capverify), and run.
# Then the packages are purged, with whatever apt-get installed for them and the system user
# they created, so the machine is left as found.
#   deb_package.sh [SOURCE_DIR]
# Needs root, dpkg-buildpackage, lintian and the build dependencies (scripts/install-deps.sh);
# without root or the tools it skips (exit 77), unless CI=true, where it fails. Takes about
# two minutes on two cores (CAPV_DEB_JOBS, default 2, is the build's parallelism).
set -uo pipefail
export PATH="/usr/bin:/usr/sbin:/bin:/sbin:$PATH" # Debian's python3, not a pyenv shim
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive

root=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
pkgs=(libcapverify1 libcapverify-dev capverify capverifyd)
fails=0
ok() { echo "ok   - $1"; }
bad() { echo "FAIL - $1${2:+: $2}"; fails=$((fails + 1)); }
# skip WHY: exit 77, or 1 under CI=true (tests/tools/missing.sh): CI runs as root with every
# tool installed, so there each of these is a fault of the machine, not of the change
source "$root/tests/tools/missing.sh"
skip() { capv_must_run "$1"; }
# die MESSAGE: a step the rest depends on failed
die() {
    bad "$1" "${2:-}"
    echo "FAIL: $fails check(s) failed"
    exit 1
}

# serves_healthz PID: whether the daemon PID serves /healthz on $admin within 10 s (false as
# soon as it has exited)
serves_healthz() {
    local _
    for _ in $(seq 100); do
        curl -fs "http://127.0.0.1:$admin/healthz" >/dev/null 2>&1 && return 0
        kill -0 "$1" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

[ "$(id -u)" -eq 0 ] || skip "needs root (installs and purges the packages)"
for tool in dpkg-buildpackage lintian apt-get dpkg-checkbuilddeps curl python3 cc pkg-config \
    cmake setpriv openssl readelf; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed (scripts/install-deps.sh)"
done
for p in "${pkgs[@]}"; do
    if grep -q 'installed' <<<"$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)"; then
        skip "$p is already installed here; purging it afterwards would not leave the machine as found"
    fi
done
user_existed=0
getent passwd capverifyd >/dev/null && user_existed=1
group_existed=0
getent group capverifyd >/dev/null && group_existed=1

tmp=$(mktemp -d /tmp/capv-deb.XXXXXX)
chmod 0755 "$tmp" # the daemon runs as capverifyd and reads the sample's trust store here
pid=
installed=0
before=$tmp/packages.before
dpkg-query -W -f='${db:Status-Abbrev} ${binary:Package}\n' | awk '$1 ~ /^.i/ { print $2 }' |
    sort >"$before"

# Stops the daemon started last ($pid) with SIGTERM: it must exit 0.
stops_on_sigterm() {
    kill -TERM "$pid" 2>/dev/null
    wait "$pid"
    local rc=$?
    pid=
    [ "$rc" -eq 0 ] && ok "$1 stops on SIGTERM (exit 0)" || bad "$1 stops on SIGTERM" "exit $rc"
}

cleanup() {
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    fi
    if [ "$installed" = 1 ]; then
        # Ours, then whatever apt-get pulled in for them (not installed before the test).
        dpkg --purge "${pkgs[@]}" >"$tmp/purge.log" 2>&1 || cat "$tmp/purge.log"
        mapfile -t extra < <(dpkg-query -W -f='${db:Status-Abbrev} ${binary:Package}\n' |
            awk '$1 ~ /^.i/ { print $2 }' | sort | comm -13 "$before" -)
        if [ "${#extra[@]}" -gt 0 ]; then
            echo "purging what the packages pulled in: ${extra[*]}"
            dpkg --purge "${extra[@]}" >>"$tmp/purge.log" 2>&1 || cat "$tmp/purge.log"
        fi
        # The system user stays on purge (Debian practice, docs/packaging.md); the test
        # created it, so it removes it.
        if [ "$user_existed" = 0 ] && getent passwd capverifyd >/dev/null; then
            userdel capverifyd 2>/dev/null
        fi
        if [ "$group_existed" = 0 ] && getent group capverifyd >/dev/null; then
            groupdel capverifyd 2>/dev/null
        fi
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- build -----------------------------------------------------------------------------------
src=$tmp/capverify
mkdir "$src"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Tracked files (as in the working tree) and new files that are not ignored; a tracked
    # file deleted in the working tree is left out.
    git -C "$root" ls-files -z --cached --others --exclude-standard |
        (cd "$root" && while IFS= read -r -d '' f; do
            if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
        done) | tar -C "$root" --null -T - -cf - | tar -C "$src" -xf -
else
    tar -C "$root" --exclude=.git --exclude='./build*' --exclude=node_modules -cf - . |
        tar -C "$src" -xf -
fi
[ -f "$src/debian/control" ] || die "source copied" "no debian/control in $src"

if ! missing=$(cd "$src" && dpkg-checkbuilddeps 2>&1); then
    skip "build dependencies missing (scripts/install-deps.sh): $missing"
fi

start=$(date +%s)
if (cd "$src" && DEB_BUILD_OPTIONS="parallel=${CAPV_DEB_JOBS:-2}" \
    dpkg-buildpackage -us -uc -b >"$tmp/build.log" 2>&1); then
    ok "dpkg-buildpackage -us -uc -b ($(($(date +%s) - start)) s)"
else
    tail -n 60 "$tmp/build.log"
    die "dpkg-buildpackage -us -uc -b" "see the log above"
fi
version=$(cd "$src" && dpkg-parsechangelog -S Version)
arch=$(dpkg --print-architecture)
changes=$tmp/capverify_${version}_${arch}.changes
debs=()
for p in "${pkgs[@]}"; do
    deb=$tmp/${p}_${version}_${arch}.deb
    [ -f "$deb" ] || die "package $p built" "no $deb"
    debs+=("$deb")
done
ok "built ${pkgs[*]} $version"

# ---- lintian ---------------------------------------------------------------------------------
# No errors and no warnings, but for the field bookworm's lintian (2.116) does not know yet:
# Static-Built-Using (Debian Policy 4.6.2), which dh_gencontrol copies into the -dbgsym
# package too (docs/packaging.md).
lintian --fail-on error --display-level '>=warning' "$changes" >"$tmp/lintian.log" 2>&1
lrc=$?
grep -v '^running with root privileges' "$tmp/lintian.log"
known_warnings='^W: libcapverify1(-dbgsym)?: unknown-field Static-Built-Using$'
warnings=$(grep '^W: ' "$tmp/lintian.log" | grep -Ev "$known_warnings")
if [ "$lrc" -eq 0 ] && ! grep -q '^E: ' "$tmp/lintian.log" && [ -z "$warnings" ]; then
    ok "lintian: no errors, no warnings ($(grep -Ec "$known_warnings" "$tmp/lintian.log") known: unknown-field Static-Built-Using)"
else
    bad "lintian: no errors, no warnings" "exit $lrc${warnings:+; $warnings}"
fi

# ---- package contents ------------------------------------------------------------------------
contents() { dpkg-deb -c "$tmp/${1}_${version}_${arch}.deb" | awk '{ print $6 }' | sed 's|^\./|/|'; }
has() { # has PACKAGE PATH-REGEX
    if grep -Eqx "$2" <<<"$(contents "$1")"; then ok "$1 ships $2"; else bad "$1 ships $2"; fi
}
has libcapverify1 '/usr/lib/[^/]+/libcapverify\.so\.1'
has libcapverify-dev '/usr/lib/[^/]+/pkgconfig/libcapverify\.pc'
has libcapverify-dev '/usr/lib/[^/]+/cmake/capverify/capverifyConfig\.cmake'
has libcapverify-dev '/usr/include/capverify\.h'
has capverify '/usr/bin/capverify'
has capverify '/usr/share/bash-completion/completions/capverify'
has capverifyd '/usr/sbin/capverifyd'
has capverifyd '/lib/systemd/system/capverifyd\.service'
has capverifyd '/usr/lib/sysusers\.d/capverifyd\.conf'
if grep -qx /etc/cap-verifier/cap-verifier.yaml <<<"$(dpkg-deb -I "$tmp/capverifyd_${version}_${arch}.deb" conffiles)"; then
    ok "capverifyd: /etc/cap-verifier/cap-verifier.yaml is a conffile"
else
    bad "capverifyd: /etc/cap-verifier/cap-verifier.yaml is a conffile"
fi
soname=$(dpkg-deb -I "$tmp/libcapverify1_${version}_${arch}.deb" shlibs 2>/dev/null)
[ "$soname" = "libcapverify 1 libcapverify1 (>= $version)" ] && ok "shlibs: $soname" ||
    bad "libcapverify1 shlibs" "$soname"
dpkg-deb -I "$tmp/libcapverify1_${version}_${arch}.deb" symbols >/dev/null 2>&1 &&
    ok "libcapverify1 has a symbols file" || bad "libcapverify1 has a symbols file"
# BLAKE3 compiled in: Static-Built-Using (Policy 4.6.2), not Built-Using (licence cases only)
sbu=$(dpkg-deb -f "$tmp/libcapverify1_${version}_${arch}.deb" Static-Built-Using)
bu=$(dpkg-deb -f "$tmp/libcapverify1_${version}_${arch}.deb" Built-Using)
[[ $sbu == "rust-blake3 (= "*")" ]] && [ -z "$bu" ] &&
    ok "libcapverify1: Static-Built-Using: $sbu, no Built-Using" ||
    bad "libcapverify1: Static-Built-Using names rust-blake3, no Built-Using" "'$sbu' / '$bu'"

# ---- install ---------------------------------------------------------------------------------
installed=1
if apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 "${debs[@]}" \
    >"$tmp/install.log" 2>&1; then
    ok "apt-get install the four packages"
else
    tail -n 30 "$tmp/install.log"
    die "apt-get install the four packages"
fi
getent passwd capverifyd >/dev/null && ok "system user capverifyd exists" ||
    bad "system user capverifyd exists"
cli=/usr/bin/capverify
daemon=/usr/sbin/capverifyd
[ "$(command -v capverify)" = "$cli" ] && ok "capverify is $cli" || bad "capverify on PATH"
out=$("$cli" version 2>&1) && grep -q "$version" <<<"$out" && ok "capverify version: $version" ||
    bad "capverify version" "$out"
grep -qx "ExecStart=$daemon --config-dir /etc/cap-verifier" /lib/systemd/system/capverifyd.service &&
    ok "the unit starts $daemon" || bad "the unit's ExecStart"
# The installed programs' RPATH: the installed tree's entries only (no build-tree
# $ORIGIN/tlscompat or $ORIGIN/../libcapverify); the daemon's leads to the compat libssl.so.
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
rpath_of() { readelf -dW "$1" | sed -nE 's/.*\((RPATH|RUNPATH)\).*\[(.*)\]$/\1 \2/p'; }
want="RPATH \$ORIGIN/../lib/$triplet/capverify/tlscompat:\$ORIGIN/../lib/$triplet"
got=$(rpath_of "$daemon")
[ "$got" = "$want" ] && ok "$daemon: $got" || bad "$daemon: $want" "got '$got'"
want="RUNPATH \$ORIGIN/../lib/$triplet"
got=$(rpath_of "$cli")
[ "$got" = "$want" ] && ok "$cli: $got" || bad "$cli: $want" "got '$got'"
[ -e "/usr/lib/$triplet/capverify/tlscompat/libssl.so" ] &&
    ok "the compat libssl.so is in /usr/lib/$triplet/capverify/tlscompat" ||
    bad "the compat libssl.so in /usr/lib/$triplet/capverify/tlscompat"

# ---- the quickstart's CLI checks ---------------------------------------------------------------
sample=$tmp/sample
if "$root/examples/packages/make-sample.sh" "$cli" "$sample" >"$tmp/sample.log" 2>&1; then
    ok "examples/packages/make-sample.sh with the installed capverify"
else
    cat "$tmp/sample.log"
    die "sample package made"
fi
vopts=(--trust "$sample/trust" --policy-store "$sample/policies" --tsa-ca "$sample/tsa/ca.pem"
    --mock-policy accept)
"$cli" verify "${vopts[@]}" "$sample/sample.zip" >"$tmp/verify.out" 2>&1
rc=$?
[ "$rc" -eq 0 ] && ok "capverify verify sample.zip: ok (exit 0)" ||
    bad "capverify verify sample.zip" "exit $rc: $(cat "$tmp/verify.out")"
cp -r "$sample/sample" "$sample/tampered"
sed -i 's/Sample Supplier/Sample Supp1ier/' "$sample/tampered/manifest.json"
"$cli" verify "${vopts[@]}" "$sample/tampered" >/dev/null 2>&1
rc=$?
[ "$rc" -eq 2 ] && ok "capverify verify of a tampered copy: fail (exit 2)" ||
    bad "capverify verify of a tampered copy" "exit $rc, expected 2"
peer=$root/../shared/vectors/peer/packages/desktop/cap-bundle-2025-12-14.zip
if [ -f "$peer" ]; then
    "$cli" verify "$peer" >/dev/null 2>&1
    rc=$?
    [ "$rc" -eq 2 ] && ok "capverify verify of the existing implementation's edited bundle: exit 2" ||
        bad "capverify verify $peer" "exit $rc, expected 2"
fi

# ---- the daemon --------------------------------------------------------------------------------
out=$("$daemon" --check-config --config-dir /etc/cap-verifier 2>&1) &&
    ok "capverifyd --check-config --config-dir /etc/cap-verifier" ||
    bad "capverifyd --check-config --config-dir /etc/cap-verifier" "$out"
printed=$("$daemon" --print-config --config-dir /etc/cap-verifier 2>&1)
for key in listen admin_listen; do
    if grep -Eq "^  $key: \"?127\.0\.0\.1:[0-9]+\"?" <<<"$printed"; then
        ok "packaged configuration: server.$key on 127.0.0.1"
    else
        bad "packaged configuration: server.$key on 127.0.0.1" "$(grep -E "^  $key:" <<<"$printed")"
    fi
done
read -r api admin < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
data=$tmp/data
install -d -o capverifyd -g capverifyd -m 0750 "$data"
setpriv --reuid=capverifyd --regid=capverifyd --clear-groups --inh-caps=-all \
    "$daemon" --config-dir /etc/cap-verifier \
    --set server.listen="127.0.0.1:$api" --set server.admin_listen="127.0.0.1:$admin" \
    --set registry.path="$data/registry.sqlite" --set backup.dir="$data/backups" \
    --set trust.dir="$sample/trust" --set trust.policy_dir="$sample/policies" \
    --set trust.tsa_ca_file="$sample/tsa/ca.pem" --set verify.mock_policy=accept \
    >"$tmp/capverifyd.log" 2>&1 &
pid=$!
up=0
serves_healthz "$pid" && up=1
if [ "$up" = 1 ]; then
    ok "capverifyd (as user capverifyd) serves /healthz on 127.0.0.1:$admin"
    body=$(curl -fs "http://127.0.0.1:$api/openapi.json")
    if python3 -c 'import json, sys; d = json.loads(sys.argv[1]); assert "openapi" in d and "/verify" in d["paths"]' "$body" 2>/dev/null; then
        ok "GET /openapi.json: the installed /usr/share/capverify/openapi.json"
    else
        bad "GET /openapi.json" "${body:0:200}"
    fi
    result=$(curl -s -H 'Content-Type: application/zip' --data-binary "@$sample/sample.zip" \
        "http://127.0.0.1:$api/verify" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["result"])' 2>&1)
    [ "$result" = ok ] && ok "POST /verify sample.zip: ok" || bad "POST /verify sample.zip" "$result"
    stops_on_sigterm capverifyd
else
    cat "$tmp/capverifyd.log"
    bad "capverifyd serves /healthz" "not up within 10 s"
fi

# HTTPS with the installed daemon: CivetWeb loads the compat libssl.so through the daemon's
# RPATH (docs/tls.md); without it the first HTTPS request crashes the daemon.
tls=$tmp/tls
mkdir -p "$tls"
if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$tls/key.pem" -out "$tls/cert.pem" >"$tmp/openssl.log" 2>&1; then
    chgrp capverifyd "$tls/key.pem" && chmod 0640 "$tls/key.pem"
    read -r api admin < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
    setpriv --reuid=capverifyd --regid=capverifyd --clear-groups --inh-caps=-all \
        "$daemon" --config-dir /etc/cap-verifier \
        --set server.listen="127.0.0.1:$api" --set server.admin_listen="127.0.0.1:$admin" \
        --set registry.path="$data/registry.sqlite" --set backup.dir="$data/backups" \
        --set trust.dir="$sample/trust" \
        --set tls.cert_file="$tls/cert.pem" --set tls.key_file="$tls/key.pem" \
        >"$tmp/capverifyd-tls.log" 2>&1 &
    pid=$!
    up=0
    serves_healthz "$pid" && up=1
    body=
    [ "$up" = 1 ] && body=$(curl -fs --cacert "$tls/cert.pem" "https://127.0.0.1:$api/openapi.json")
    if python3 -c 'import json, sys; assert "openapi" in json.loads(sys.argv[1])' "$body" 2>/dev/null; then
        ok "capverifyd with tls.cert_file: GET https://127.0.0.1:$api/openapi.json"
    else
        cat "$tmp/capverifyd-tls.log"
        bad "capverifyd over HTTPS" "${body:0:200}"
    fi
    stops_on_sigterm "capverifyd (HTTPS)"
else
    cat "$tmp/openssl.log"
    bad "a test certificate made with openssl"
fi

# ---- examples against libcapverify-dev ---------------------------------------------------------
ex=$tmp/examples
mkdir -p "$ex"
# shellcheck disable=SC2046 # pkg-config's words
if cc -o "$ex/hash_file" "$root/examples/hash_file.c" $(pkg-config --cflags --libs libcapverify) \
    2>"$tmp/cc.log" &&
    cc -o "$ex/verify_package" "$root/examples/verify_package.c" \
        $(pkg-config --cflags --libs libcapverify) 2>>"$tmp/cc.log"; then
    ok "examples/hash_file.c and verify_package.c build with pkg-config libcapverify"
    # the digest, the first field of each: a non-empty one, and the same (an empty want
    # would match anything)
    want=$("$cli" hash --alg sha3-256 "$sample/sample.zip" | cut -d' ' -f1)
    got=$("$ex/hash_file" "$sample/sample.zip" 2>&1)
    rc=$?
    [[ $want =~ ^0x[0-9a-f]{64}$ ]] && [ "$rc" -eq 0 ] && [ "${got%% *}" = "$want" ] &&
        ok "hash_file: the SHA3-256 capverify hash gives" ||
        bad "hash_file" "exit $rc, got '$got', expected '$want' (capverify hash)"
    "$ex/verify_package" "$sample/tampered" "$sample/trust" "$sample/policies" \
        "$sample/tsa/ca.pem" >/dev/null 2>&1
    rc=$?
    [ "$rc" -eq 2 ] && ok "verify_package: the tampered copy fails (exit 2)" ||
        bad "verify_package on the tampered copy" "exit $rc, expected 2"
else
    cat "$tmp/cc.log"
    bad "examples build with pkg-config libcapverify"
fi
cat >"$ex/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.25)
project(capv_deb_example C)
find_package(capverify ${version%.*} REQUIRED)
add_executable(hash_file $root/examples/hash_file.c)
target_link_libraries(hash_file PRIVATE capverify::capverify)
EOF
if cmake -S "$ex" -B "$ex/build" >"$tmp/cmake.log" 2>&1 &&
    cmake --build "$ex/build" >>"$tmp/cmake.log" 2>&1 &&
    "$ex/build/hash_file" "$sample/sample.zip" >/dev/null 2>&1; then
    ok "examples/hash_file.c builds with find_package(capverify) and runs"
else
    cat "$tmp/cmake.log"
    bad "examples/hash_file.c with find_package(capverify)"
fi

# ---- purge -------------------------------------------------------------------------------------
cleanup_check() {
    local left=() p status
    for p in "${pkgs[@]}"; do
        status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)
        if [ -n "$status" ] && [ "${status:1:1}" != n ]; then left+=("$p"); fi
    done
    [ "${#left[@]}" -eq 0 ] && ok "dpkg --purge leaves none of the packages" || bad "purged" "${left[*]}"
    [ ! -e /etc/cap-verifier ] && ok "purge removes /etc/cap-verifier" ||
        bad "purge removes /etc/cap-verifier" "$(ls -la /etc/cap-verifier 2>&1)"
}
dpkg --purge "${pkgs[@]}" >"$tmp/purge.log" 2>&1 || { cat "$tmp/purge.log"; bad "dpkg --purge"; }
cleanup_check

if [ "$fails" -gt 0 ]; then
    echo "FAIL: $fails check(s) failed"
    exit 1
fi
echo "all checks passed"
