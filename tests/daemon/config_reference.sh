#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# docs/configuration.md is exactly `capverifyd --print-config-reference`, is a well-formed
# table, documents every required key (listed below), and every documented key, environment
# variable and default is accepted by the daemon.
# Regenerate after changing a key:  capverifyd --print-config-reference > docs/configuration.md
#   config_reference.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR [VECTORS_DIR]
source "$(dirname "$0")/lib.sh"
t_init "$@"

DOC=$SRC/docs/configuration.md
"$DAEMON" --print-config-reference >"$TMP/reference.md"
assert_eq "--print-config-reference exits 0" "$?" 0
if diff -u "$DOC" "$TMP/reference.md" >"$TMP/diff.txt"; then
    pass "docs/configuration.md equals capverifyd --print-config-reference"
else
    fail "docs/configuration.md equals capverifyd --print-config-reference" \
        "regenerate it; the difference:
$(head -n 40 "$TMP/diff.txt")"
fi

# table rows: | `section.key` | type | default | `CAPV_…` | meaning |
grep '^| `' "$DOC" >"$TMP/rows.txt"
assert_le "the reference lists keys" 40 "$(wc -l <"$TMP/rows.txt")"
assert_eq "every row has exactly 5 cells (no stray '|')" \
    "$(awk -F'|' 'NF != 7' "$TMP/rows.txt" | head -n 3)" ""
assert_eq "every environment name is CAPV_<SECTION>_<KEY>" \
    "$(awk -F'|' '{ k = $2; e = $5; gsub(/[ `]/, "", k); gsub(/[ `]/, "", e);
        want = "CAPV_" toupper(k); gsub(/\./, "_", want); if (e != want) print k " " e }' "$TMP/rows.txt")" ""

documented=$(awk -F'|' '{ k = $2; gsub(/[ `]/, "", k); print k }' "$TMP/rows.txt")
missing=""
for key in server.listen server.admin_listen server.threads server.max_body_bytes \
    tls.cert_file tls.key_file tls.client_ca_file auth.enabled auth.issuer auth.audiences \
    auth.jwks_url auth.jwks_cache_ttl_seconds auth.leeway_seconds cache.enabled cache.size \
    cache.ttl_seconds registry.path trust.dir backup.dir backup.interval_seconds \
    backup.retain logging.level shutdown.grace_seconds shutdown.timeout_seconds; do
    grep -qx "$key" <<<"$documented" || missing+=" $key"
done
assert_eq "every required key is documented" "$missing" ""

# every documented key with its documented default, as flags and as environment
sets=()
envs=()
while IFS='|' read -r _ key _ def env _; do
    key=$(tr -d ' `' <<<"$key")
    env=$(tr -d ' `' <<<"$env")
    def=$(sed 's/^ *//; s/ *$//' <<<"$def")
    case $def in
        '(empty)') def="" ;;
        '`'*) def=${def#\`} def=${def%\`} ;;
    esac
    sets+=(--set "$key=$def")
    envs+=("$env=$def")
done <"$TMP/rows.txt"
mkdir -p "$TMP/conf"
"$DAEMON" --config-dir "$TMP/conf" "${sets[@]}" --check-config >"$TMP/cc.out" 2>&1
assert_eq "every key --set to its documented default: --check-config exit 0" "$?" 0
env "${envs[@]}" "$DAEMON" --config-dir "$TMP/conf" --check-config >"$TMP/cc.out" 2>&1
assert_eq "every environment variable at its documented default: exit 0" "$?" 0
# stdout: the effective configuration and the verdict (the warnings a start would log, with
# their times, go to stderr)
"$DAEMON" --config-dir "$TMP/conf" --print-config --check-config >"$TMP/defaults.txt" 2>"$TMP/defaults.err"
"$DAEMON" --config-dir "$TMP/conf" "${sets[@]}" --print-config --check-config >"$TMP/set.txt" 2>"$TMP/set.err"
if diff -u "$TMP/defaults.txt" "$TMP/set.txt" >"$TMP/diff.txt"; then
    pass "the documented defaults are the built-in defaults"
else
    fail "the documented defaults are the built-in defaults" "$(head -n 20 "$TMP/diff.txt")"
fi
t_done
