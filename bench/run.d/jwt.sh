#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# JWT validation per core (docs/auth.md#benchmark) beside OpenSSL's raw verify rate for the
# same primitive, measured in the same run: RS256/PS256 vs rsa2048, ES256 vs ecdsap256, EdDSA
# vs ed25519. Targets: cold >= 0.9 x raw for RS256/PS256 and >= 0.8 x raw for the others, warm
# (token cache) >= 20 x raw. Prints figures; never fails on time.
#   bench/run.d/jwt.sh BUILD_DIR [SECONDS]
set -euo pipefail
build=$1
secs=${2:-2}
echo "== JWT validation (one core; cold = signature checked, warm = token cache) =="
speed=$(openssl speed -seconds 1 rsa2048 ecdsap256 ed25519 2>/dev/null)
raw_rsa=$(awk '/^rsa 2048 bits/ {print $NF}' <<<"$speed")
raw_ec=$(awk '/\(nistp256\)/ {print $NF}' <<<"$speed")
raw_ed=$(awk '/\(Ed25519\)/ {print $NF}' <<<"$speed")
ours=$("$build/bench/bench_jwt" "$secs")
printf '%-6s %12s %12s %14s %10s %10s\n' alg cold/s warm/s "openssl vfy/s" cold/raw warm/raw
for alg in RS256 PS256 ES256 EdDSA; do
    case $alg in
    RS256 | PS256) raw=$raw_rsa ;;
    ES256) raw=$raw_ec ;;
    EdDSA) raw=$raw_ed ;;
    esac
    cold=$(awk -v a="$alg" '$1 == "jwt_cold" && $2 == a {print $3}' <<<"$ours")
    warm=$(awk -v a="$alg" '$1 == "jwt_warm" && $2 == a {print $3}' <<<"$ours")
    awk -v a="$alg" -v c="$cold" -v w="$warm" -v r="$raw" 'BEGIN {
        printf "%-6s %12.0f %12.0f %14.0f %10.2f %10.1f\n", a, c, w, r, (r > 0 ? c / r : 0), (r > 0 ? w / r : 0) }'
done
for alg in RS256 PS256; do
    cold=$(awk -v a="$alg" '$1 == "jwt_cold" && $2 == a {print $3}' <<<"$ours")
    awk -v a="$alg" -v c="$cold" -v r="$raw_rsa" 'BEGIN {
        if (r > 0) printf "ratio %s cold / openssl rsa2048 verify: %.2f (target >= 0.9)\n", a, c / r }'
done
# Each algorithm also against OpenSSL alone verifying its signatures, measured side by side
# with the cold rate in bench_jwt (docs/auth.md, "Benchmark"): openssl speed runs at another
# moment, and verifies PKCS#1 v1.5 only (PSS costs OpenSSL itself more).
for alg in RS256 PS256 ES256 EdDSA; do
    cold=$(awk -v a="$alg" '$1 == "jwt_cold" && $2 == a {print $3}' <<<"$ours")
    own=$(awk -v a="$alg" '$1 == "raw_verify" && $2 == a {print $3}' <<<"$ours")
    awk -v a="$alg" -v c="$cold" -v o="$own" 'BEGIN {
        if (o > 0) printf "%s: OpenSSL alone, side by side: %.0f verifies/s; cold / that: %.2f\n", a, o, c / o }'
done
echo "(targets: cold/raw >= 0.9 for RS256/PS256, >= 0.8 otherwise; warm/raw >= 20)"
