#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The web UI in a real browser against real daemons (docs/ui.md, "Tests"): Debian's chromium,
# headless, driven by npm puppeteer-core (tests/node, pinned by its lockfile; it never
# downloads a browser) through tests/ui/ui.test.mjs.
#
#   ui_test.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR [VECTORS_DIR]
#   environment: CAPV_UI_OUT (screenshots and the browser's logs; default: a temp dir),
#                CAPV_NODE_DIR (default SOURCE_DIR/tests/node), CAPV_CHROMIUM (/usr/bin/chromium)
#
# It starts, on 127.0.0.1 with ephemeral ports, each stopped by its own pid at the end:
#   - daemon "open": no authentication, the sample fixture's trust (verify, policy, hostile
#     input, an audit log beside the sample (VECTORS_DIR/peer/audit), the plain forms without
#     JavaScript, keyboard, axe-core);
#   - the identity provider tests/node/idp.mjs (npm oidc-provider over HTTPS with a CA made
#     here), with the UI's public client;
#   - daemon "auth": auth.enabled against that provider, ui.client_id capv-ui, a registry
#     seeded with 30 entries signed by a key of its trust store, reports over 1024 bytes
#     recorded as summaries (sign-in, the registry and its pager's focus, scopes, a stored
#     summary, sign-out, expiry, what the page forgets on sign-out);
#   - daemon "tokens": ui.token_origin other than the provider's token endpoint;
#   - daemon "limited": like "auth" with one request a second per address (a refused
#     /ui/config.json).
# The open daemon's registry holds 12 entries; ui.test.mjs reaches it through a proxy of its
# own too, which breaks or delays chosen answers.
# Without node, the npm packages or chromium: skipped, or failed under CI=true
# (tests/tools/missing.sh).
source "$(dirname "$0")/../daemon/lib.sh"
# read before t_init, which clears every CAPV_* variable (the daemons must not see them)
NODE_DIR=${CAPV_NODE_DIR:-}
CHROMIUM=${CAPV_CHROMIUM:-/usr/bin/chromium}
OUT=${CAPV_UI_OUT:-}
t_init "$@"
NODE_DIR=${NODE_DIR:-$SRC/tests/node}
OUT=${OUT:-$TMP/out}
mkdir -p "$OUT"
OUT=$(readlink -f "$OUT")
missing=""
command -v node >/dev/null || missing="node"
[ -d "$NODE_DIR/node_modules/puppeteer-core" ] && [ -d "$NODE_DIR/node_modules/axe-core" ] &&
    [ -d "$NODE_DIR/node_modules/oidc-provider" ] ||
    missing="$missing npm packages in $NODE_DIR (scripts/install-deps.sh runs npm ci)"
[ -x "$CHROMIUM" ] || missing="$missing $CHROMIUM (Debian package chromium)"
if [ -n "$missing" ]; then
    T_DONE=1
    source "$SRC/tests/tools/missing.sh"
    capv_missing "$missing"
fi

# ---- packages: ok, fail, hostile ---------------------------------------------------------
PKG=$TMP/packages
mkdir -p "$PKG"
cp "$SAMPLE/sample.zip" "$PKG/signed-ok.zip"
tampered_zip "$SAMPLE/sample.zip" "$PKG/tampered-fail.zip"
# 10,000 members (the package limit): the sample's 4 and 9,996 whose names are markup and
# script; a UI that rendered names as HTML would run them
python3 - "$SAMPLE/sample.zip" "$PKG/<img src=x onerror=window.__pwned=7>.capz" <<'PY'
import sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
names = ['<img src=x onerror="window.__pwned=1">', '<script>window.__pwned=2</script>',
         '"><svg onload="window.__pwned=3">', "javascript:window.__pwned=4",
         "{{constructor.constructor('window.__pwned=5')()}}", '<iframe srcdoc="<script>parent.__pwned=6</script>">']
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
    for info in zin.infolist():
        zout.writestr(info.filename, zin.read(info))
    for i in range(10000 - len(zin.infolist())):
        zout.writestr("%s-%04d" % (names[i % len(names)], i), b"x")
PY

# the peer's audit log, whose tip the sample's manifest names (docs/formats.md, "Audit logs")
[ -f "$VECTORS/peer/audit/agent.audit.jsonl" ] ||
    fail "the peer audit log" "no $VECTORS/peer/audit/agent.audit.jsonl (VECTORS_DIR)"

# ---- daemon "open" ----------------------------------------------------------------------
# its registry holds 12 unsigned entries: two pages of 10 for the pager's failure test
OPEN_REG=$TMP/open-registry.sqlite
"$CLI" registry init --db "$OPEN_REG" >/dev/null || fail "open registry init"
for i in $(seq 1 12); do
    mh=$(printf 'open-manifest-%02d' "$i" | sha256sum | cut -c1-64)
    ph=$(printf 'open-proof-%02d' "$i" | sha256sum | cut -c1-64)
    "$CLI" registry add --db "$OPEN_REG" --manifest-hash "0x$mh" --proof-hash "0x$ph" >/dev/null ||
        fail "seed open registry entry $i"
done
daemon_start open "${SAMPLE_ARGS[@]}" --set "registry.path=$OPEN_REG" || t_done
OPEN_URL=$D_URL
OPEN_PID=$D_PID

# ---- the identity provider ----------------------------------------------------------------
IDP=$TMP/idp
mkdir -p "$IDP"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -keyout "$IDP/ca.key" -out "$IDP/ca.pem" -subj "/CN=capverify UI test CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$IDP/server.key" -out "$IDP/server.csr" -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    >"$IDP/ext.cnf"
openssl x509 -req -in "$IDP/server.csr" -CA "$IDP/ca.pem" -CAkey "$IDP/ca.key" \
    -CAcreateserial -days 1 -extfile "$IDP/ext.cnf" -out "$IDP/server.pem" 2>/dev/null
# the browser trusts exactly this certificate's key (--ignore-certificate-errors-spki-list)
IDP_SPKI=$(openssl x509 -in "$IDP/server.pem" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64)
(cd "$NODE_DIR" && exec node idp.mjs "$IDP/server.pem" "$IDP/server.key" "$IDP") \
    2>"$IDP/idp.log" &
IDP_PID=$!
t_track "$IDP_PID"
# up to 120 s: oidc-provider loads slowly on a busy machine, and makes RSA keys at start
for _ in $(seq 1200); do
    [ -s "$IDP/port" ] && break
    kill -0 "$IDP_PID" 2>/dev/null || break
    sleep 0.1
done
if [ ! -s "$IDP/port" ]; then
    fail "identity provider starts" "$(tail -n 20 "$IDP/idp.log")"
    t_done
fi
ISSUER=https://127.0.0.1:$(cat "$IDP/port")
pass "identity provider at $ISSUER"

# ---- daemon "auth" with a seeded registry ---------------------------------------------------
AUTH_DIR=$TMP/auth
mkdir -p "$AUTH_DIR/trust"
cp "$SAMPLE"/trust/* "$AUTH_DIR/trust/"
openssl genpkey -algorithm ed25519 -out "$AUTH_DIR/registry.key" 2>/dev/null
openssl pkey -in "$AUTH_DIR/registry.key" -pubout -outform DER | tail -c 32 \
    >"$AUTH_DIR/trust/registry-signer.pub"
"$CLI" registry init --db "$AUTH_DIR/registry.sqlite" >/dev/null || fail "registry init"
for i in $(seq 1 30); do
    mh=$(printf 'manifest-%02d' "$i" | sha256sum | cut -c1-64)
    ph=$(printf 'proof-%02d' "$i" | sha256sum | cut -c1-64)
    "$CLI" registry add --db "$AUTH_DIR/registry.sqlite" --manifest-hash "0x$mh" \
        --proof-hash "0x$ph" --sign-key "$AUTH_DIR/registry.key" >/dev/null ||
        fail "seed registry entry $i"
done
daemon_start auth "${SAMPLE_ARGS[@]}" --set "trust.dir=$AUTH_DIR/trust" \
    --set "registry.path=$AUTH_DIR/registry.sqlite" \
    --set auth.enabled=true --set "auth.issuer=$ISSUER" --set auth.audiences=capv-api \
    --set "auth.jwks_url=$ISSUER/jwks" --set "auth.ca_file=$IDP/ca.pem" \
    --set auth.leeway_seconds=0 --set ui.client_id=capv-ui \
    --set registry.max_report_bytes=1024 || t_done
AUTH_URL=$D_URL
AUTH_PID=$D_PID
# daemon "tokens": the same provider, but ui.token_origin names an origin other than its
# token endpoint's, which the UI must refuse before it leaves for the provider
daemon_start tokens "${SAMPLE_ARGS[@]}" --set auth.enabled=true --set "auth.issuer=$ISSUER" \
    --set auth.audiences=capv-api --set "auth.jwks_url=$ISSUER/jwks" \
    --set "auth.ca_file=$IDP/ca.pem" --set ui.client_id=capv-ui \
    --set ui.token_origin=https://tokens.invalid || t_done
TOKENS_URL=$D_URL
TOKENS_PID=$D_PID
# daemon "limited": authentication on and one request a second per address, so that
# /ui/config.json can be refused (429) while the browser loads the page
daemon_start limited "${SAMPLE_ARGS[@]}" --set auth.enabled=true --set "auth.issuer=$ISSUER" \
    --set auth.audiences=capv-api --set "auth.jwks_url=$ISSUER/jwks" \
    --set "auth.ca_file=$IDP/ca.pem" --set ui.client_id=capv-ui \
    --set server.rate_limit_per_second=1 || t_done
LIMITED_URL=$D_URL
LIMITED_PID=$D_PID
# daemon "small": bodies of at most 1 KiB, which the UI learns from /ui/config.json
daemon_start small "${SAMPLE_ARGS[@]}" --set server.max_body_bytes=1024 || t_done
SMALL_URL=$D_URL
SMALL_PID=$D_PID
curl -sf --cacert "$IDP/ca.pem" -X POST -d "{\"redirect_uri\":\"$AUTH_URL/ui/\"}" \
    "$ISSUER/admin/ui" >/dev/null || fail "the provider takes the UI client"

# ---- the browser ------------------------------------------------------------------------
echo "browser test: screenshots and logs in $OUT"
export PUPPETEER_SKIP_DOWNLOAD=1
UI_OPEN_URL=$OPEN_URL UI_AUTH_URL=$AUTH_URL UI_TOKENS_URL=$TOKENS_URL UI_LIMITED_URL=$LIMITED_URL UI_SMALL_URL=$SMALL_URL UI_ISSUER=$ISSUER UI_CA=$IDP/ca.pem \
    UI_SPKI=$IDP_SPKI UI_CHROMIUM=$CHROMIUM UI_OUT=$OUT UI_PACKAGES=$PKG \
    UI_AUDIT_LOG=$VECTORS/peer/audit/agent.audit.jsonl \
    UI_AXE=$NODE_DIR/node_modules/axe-core/axe.min.js \
    node "$SRC/tests/ui/ui.test.mjs" >"$TMP/browser.out" 2>&1
rc=$?
cat "$TMP/browser.out"
PASSED=$((PASSED + $(grep -c '^ok   - ' "$TMP/browser.out")))
FAILED=$((FAILED + $(grep -c '^FAIL - ' "$TMP/browser.out")))
[ "$rc" = 0 ] || fail "ui.test.mjs exits 0" "exit status $rc"

D_PID=$AUTH_PID
daemon_stop "auth daemon"
D_PID=$TOKENS_PID
daemon_stop "tokens daemon"
D_PID=$LIMITED_PID
daemon_stop "limited daemon"
D_PID=$SMALL_PID
daemon_stop "small daemon"
D_PID=$OPEN_PID
daemon_stop "open daemon"
kill -TERM "$IDP_PID" 2>/dev/null
t_done
