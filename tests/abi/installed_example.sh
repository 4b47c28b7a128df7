#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the build into a temporary prefix and builds every examples/*.c against the
# installed library twice, from outside the source tree: through pkg-config, and through the
# CMake package (find_package(capverify), target capverify::capverify; also
# capverify::capverify_static when the build has the static library). Then runs each with
# real inputs: the signed sample package and its trust store, a token signed here with an
# Ed25519 key of a JWKS file, and an entry registered here with the CLI. With the static
# library, also through pkg-config as docs/building.md shows (no libcapverify.so in ldd).
# First, the installed programs' RPATH names directories of the installed tree only.
#   installed_example.sh BUILD_DIR EXAMPLES_DIR SANITIZE FIXTURES_DIR CAPVERIFY_CLI
set -euo pipefail
build=$1 examples=$2 sanitize=${3:-} fixtures=$4 cli=$5
extra=()
[ -n "$sanitize" ] && extra=(-fsanitize="$sanitize")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# ---- the installed programs' RPATH ---------------------------------------------------------
# Only entries of the installed tree (no build-tree entry such as $ORIGIN/tlscompat, no empty
# entry, which the loader reads as the current directory); capverifyd's is a DT_RPATH (not
# RUNPATH) that leads to the compat libssl.so (docs/tls.md).
check_rpath() { # check_rpath ELF [needs-libssl]
    local elf=$1 dyn entries entry dir ok_ssl=0
    dyn=$(readelf -dW "$elf")
    entries=$(sed -nE 's/.*\((RPATH|RUNPATH)\).*\[(.*)\]$/\2/p' <<<"$dyn")
    [ -n "$entries" ] || { fail "$elf: no RPATH/RUNPATH"; return; }
    while IFS= read -r entry; do
        if [ -z "$entry" ]; then
            fail "$elf: an empty RPATH entry (the current directory): '$entries'"
            continue
        fi
        dir=${entry//\$\{ORIGIN\}/$(dirname "$elf")}
        dir=${dir//\$ORIGIN/$(dirname "$elf")}
        if [ ! -d "$dir" ]; then
            fail "$elf: RPATH entry $entry is no directory of the installed tree"
        elif [[ $(realpath "$dir") != "$(realpath "$prefix")"/* ]]; then
            fail "$elf: RPATH entry $entry leads outside the installed tree ($(realpath "$dir"))"
        fi
        if [ -e "$dir/libssl.so" ]; then ok_ssl=1; fi
    done < <(tr ':' '\n' <<<"$entries:" | sed '$d')
    if [ "${2:-}" = needs-libssl ]; then
        grep -q '(RPATH)' <<<"$dyn" || fail "$elf: its RPATH is not a DT_RPATH"
        [ "$ok_ssl" = 1 ] || fail "$elf: no RPATH entry holds the compat libssl.so"
    fi
}
before_rpath=$fails
if [ -f "$prefix/sbin/capverifyd" ]; then check_rpath "$prefix/sbin/capverifyd" needs-libssl; fi
if [ -f "$prefix/bin/capverify" ]; then check_rpath "$prefix/bin/capverify"; fi
if [ "$fails" = "$before_rpath" ]; then
    echo "installed programs: RPATH entries of the installed tree only"
fi

# ---- inputs --------------------------------------------------------------------------------
sample=$fixtures/sample
mkdir -p "$work/empty-trust"
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
openssl genpkey -algorithm ed25519 -out "$work/idp.key" 2>/dev/null
printf '{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","use":"sig","alg":"EdDSA","x":"%s"}]}' \
    "$(openssl pkey -in "$work/idp.key" -pubout -outform DER | tail -c 32 | b64url)" >"$work/jwks.json"
now=$(date +%s)
h=$(printf '{"alg":"EdDSA","kid":"k1","typ":"JWT"}' | b64url)
p=$(printf '{"iss":"https://idp.example","aud":"cap","sub":"alice","exp":%d,"scope":"verify:run"}' \
    $((now + 600)) | b64url)
printf '%s.%s' "$h" "$p" >"$work/tbs"
printf '%s.%s.%s\n' "$h" "$p" "$(openssl pkeyutl -sign -inkey "$work/idp.key" -rawin -in "$work/tbs" | b64url)" \
    >"$work/token"
"$cli" keys gen --out "$work/registrar" >/dev/null
"$cli" registry init --db "$work/registry.sqlite" >/dev/null
id=$("$cli" registry add --db "$work/registry.sqlite" --package "$sample/sample.zip" \
    --sign-key "$work/registrar.key" --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["entry"]["id"])')

# run_examples DIR HOW: runs each example built into DIR and checks its answer
run_examples() {
    local dir=$1 how=$2 out rc before=$fails
    out=$("$dir/hash_file" "$examples/README.md") || fail "$how hash_file: exit $?"
    [[ $out == 0x* ]] || fail "$how hash_file printed '$out'"
    rc=0
    out=$("$dir/verify_package" "$sample/sample.zip" "$sample/trust" "$sample/policies" \
        "$sample/tsa/ca.pem") || rc=$?
    # the sample's proof is a mock: a warn verdict (docs/formats.md), never fail
    [ "$rc" = 1 ] && grep -q "sample.zip: warn" <<<"$out" && grep -q "pass  manifest.signature" <<<"$out" ||
        fail "$how verify_package: exit $rc: $out"
    rc=0
    "$dir/verify_package" "$sample/sample.zip" "$work/empty-trust" >"$work/out" 2>&1 || rc=$?
    [ "$rc" = 2 ] || fail "$how verify_package with an empty trust store: exit $rc, want 2 (fail)"
    rc=0
    out=$("$dir/validate_token" "$work/jwks.json" https://idp.example cap <"$work/token") || rc=$?
    [ "$rc" = 0 ] && [ "$out" = "valid: sub=alice alg=EdDSA kid=k1 scopes=verify:run" ] ||
        fail "$how validate_token: exit $rc: $out"
    rc=0
    out=$("$dir/validate_token" "$work/jwks.json" https://other.example cap <"$work/token") || rc=$?
    [ "$rc" = 2 ] && [[ $out == "rejected: bad_issuer"* ]] ||
        fail "$how validate_token, wrong issuer: exit $rc: $out"
    rc=0
    out=$("$dir/registry_lookup" "$work/registry.sqlite" "$id") || rc=$?
    [ "$rc" = 0 ] && grep -q "\"id\":\"$id\"" <<<"$out" && grep -q "^signature: valid" <<<"$out" ||
        fail "$how registry_lookup: exit $rc: $out"
    rc=0
    "$dir/registry_lookup" "$work/registry.sqlite" no-such-entry >/dev/null 2>&1 || rc=$?
    [ "$rc" = 5 ] || fail "$how registry_lookup of a missing id: exit $rc, want 5"
    [ "$fails" = "$before" ] &&
        echo "$how: $(ls "$examples"/*.c | wc -l) examples built and answered as expected"
}

# ---- pkg-config ----------------------------------------------------------------------------
pcdir=$(dirname "$(find "$prefix" -name libcapverify.pc | head -1)")
export PKG_CONFIG_PATH=$pcdir
cflags=$(pkg-config --cflags libcapverify)
libs=$(pkg-config --libs libcapverify)
libdir=$(pkg-config --variable=libdir libcapverify)
mkdir -p "$work/pc"
for src in "$examples"/*.c; do
    # shellcheck disable=SC2086
    cc -std=c99 -Wall -Wextra -Werror "${extra[@]}" $cflags "$src" -o "$work/pc/$(basename "$src" .c)" \
        $libs -Wl,-rpath,"$libdir"
done
run_examples "$work/pc" pkg-config
# The static library through pkg-config, as docs/building.md shows it: libcapverify.so and .a
# share the libdir, so -lcapverify would take the .so; the archive is named, its dependencies
# (Requires.private, Libs.private) are linked shared.
if [ -f "$libdir/libcapverify.a" ]; then
    mkdir -p "$work/pc-static"
    # shellcheck disable=SC2046
    deps=$(pkg-config --libs $(pkg-config --print-requires-private libcapverify))
    for src in "$examples"/*.c; do
        # shellcheck disable=SC2086
        cc -std=c99 -Wall -Wextra -Werror "${extra[@]}" $cflags "$src" \
            -o "$work/pc-static/$(basename "$src" .c)" "$libdir/libcapverify.a" $deps -lm -lpthread
    done
    if grep -q libcapverify <<<"$(ldd "$work/pc-static/hash_file")"; then
        fail "pkg-config, static library: hash_file links libcapverify.so: $(ldd "$work/pc-static/hash_file" | grep libcapverify)"
    fi
    run_examples "$work/pc-static" "pkg-config, static library"
fi

# ---- the CMake package -----------------------------------------------------------------------
mkdir -p "$work/proj"
static=OFF
[ -n "$(find "$prefix" -name libcapverify.a)" ] && static=ON
cat >"$work/proj/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.16)
project(capverify_examples C)
find_package(capverify 0.2 REQUIRED)
file(GLOB sources "$examples/*.c")
foreach(src \${sources})
    get_filename_component(name \${src} NAME_WE)
    add_executable(\${name} \${src})
    target_compile_options(\${name} PRIVATE -Wall -Wextra -Werror ${extra[*]})
    target_link_options(\${name} PRIVATE ${extra[*]})
    target_link_libraries(\${name} PRIVATE capverify::capverify)
    if($static)
        add_executable(\${name}_static \${src})
        target_compile_options(\${name}_static PRIVATE ${extra[*]})
        target_link_options(\${name}_static PRIVATE ${extra[*]})
        target_link_libraries(\${name}_static PRIVATE capverify::capverify_static)
    endif()
endforeach()
CMAKE
cmake -S "$work/proj" -B "$work/proj/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_STANDARD=99 \
    >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; exit 1; }
cmake --build "$work/proj/build" >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; exit 1; }
run_examples "$work/proj/build" "find_package(capverify)"
if [ "$static" = ON ]; then
    mkdir -p "$work/static"
    for src in "$examples"/*.c; do
        n=$(basename "$src" .c)
        cp "$work/proj/build/${n}_static" "$work/static/$n"
    done
    check_static() { ! grep -q libcapverify <<<"$(ldd "$work/static/hash_file")"; }
    check_static || fail "find_package(capverify), static library: hash_file links libcapverify.so"
    run_examples "$work/static" "find_package(capverify), static library"
fi
# a version the package does not claim to be compatible with is refused
cat >"$work/proj/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(too_new C)
find_package(capverify 0.3 REQUIRED)
CMAKE
if cmake -S "$work/proj" -B "$work/proj/build2" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null 2>&1; then
    fail "find_package(capverify 0.3) accepted a 0.2 package"
fi
[ "$fails" = 0 ] || exit 1
echo "all examples pass against the installed library"
