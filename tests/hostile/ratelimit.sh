#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Rate limiting (docs/hardening.md#rate-limits, docs/configuration.md server.rate_limit_*): a
# token bucket of rate 5/s and burst 5. 20 requests within one second leave between 10 and 15
# answered 429, each with Retry-After and the JSON error code "rate_limited". With auth on,
# every subject (token sub) has its own bucket; unauthenticated and failed requests are
# limited per client address (127.0.0.1 and 127.0.0.2 apart), and a subject's bucket is not
# its address's. GET /openapi.json, which needs no token, counts on its address as well.
# X-Forwarded-For is ignored unless server.trusted_proxies holds the peer; then the client is
# the right-most address in it that is not a trusted proxy.
# cap_verifier_rate_limited_total{kind="subject"|"address"} counts the 429s.
#   ratelimit.sh CAPVERIFYD CAPVERIFY FIXTURES_DIR SOURCE_DIR [VECTORS_DIR]
source "$(dirname "$0")/lib_hostile.sh"
h_init "$@"
h_auth_setup
RL=(--set server.rate_limit_per_second=5 --set server.rate_limit_burst=5)
ALICE=$(token alice)
BOB=$(token bob)
CAROL=$(token carol)

# burst NAME COUNT [burst.py options...]: COUNT requests to GET /registry/entries (or
# $BURST_PATH); sets N429
# (429 answers), NOTHER (the other statuses, "code:count ..."), and checks every 429's
# Retry-After and error code.
burst() {
    local name=$1 count=$2 out=$TMP/burst.$1
    shift 2
    "$PY" "$HDIR/burst.py" "$D_URL${BURST_PATH:-/registry/entries}" "$count" "$@" >"$out"
    N429=$(awk '$2 == 429' "$out" | wc -l | tr -d ' ')
    NOTHER=$(awk '$1 != "elapsed" && $2 != 429 { n[$2]++ } END { for (c in n) printf "%s:%d ", c, n[c] }' "$out")
    local secs
    secs=$(awk '$1 == "elapsed" { print $2 }' "$out")
    figure "$name: ${count} requests in ${secs}s -> 429: $N429, others: ${NOTHER:-none}"
    if [ "$N429" -gt 0 ]; then
        assert_eq "$name: every 429 has a Retry-After of whole seconds" \
            "$(awk '$2 == 429 && $3 !~ /^[0-9]+$/' "$out" | wc -l | tr -d ' ')" 0
        assert_eq "$name: every 429 has error code rate_limited" \
            "$(awk '$2 == 429 && $4 != "rate_limited"' "$out" | wc -l | tr -d ' ')" 0
    fi
    LAST_SECS=$secs
}

# in_range NAME N: 10 ≤ N ≤ 15 (20 requests within 1 s at rate 5/s, burst 5)
in_range() {
    if [ "$2" -ge 10 ] && [ "$2" -le 15 ]; then
        pass "$1: $2 of 20 answered 429 (10..15)"
    else
        fail "$1: 10..15 of 20 answered 429" "got $2"
    fi
}

# ---- daemon 1: auth on, no trusted proxies -----------------------------------------------------
daemon_start_checked limited "${SAMPLE_ARGS[@]}" "${AUTH_ARGS[@]}" "${RL[@]}" \
    --set auth.metrics_requires_scope=true || h_done
scrape "$TMP/m0"

burst subject-alice 20 --header "Authorization: Bearer $ALICE"
in_range "subject alice" "$N429"
measured_le "… the 20 requests were sent within 1 s" "$LAST_SECS" 1.0
assert_match "subject alice: the others are 200" "$NOTHER" '^(200:[0-9]+ )?$'
subject429=$N429
burst subject-bob 5 --header "Authorization: Bearer $BOB"
assert_eq "subject bob right after alice: own bucket, no 429 in 5 requests" "$N429" 0

burst anon-127.0.0.1 20
in_range "no token from 127.0.0.1 (address bucket)" "$N429"
assert_match "no token: the others are 401" "$NOTHER" '^(401:[0-9]+ )?$'
address429=$N429
burst anon-127.0.0.2 5 --source 127.0.0.2
assert_eq "no token from 127.0.0.2 right after: own bucket, no 429 in 5 requests" "$N429" 0
sleep 1.2 # 127.0.0.2's bucket fills up again
burst bad-token-127.0.0.2 20 --source 127.0.0.2 --header 'Authorization: Bearer not.a.jwt'
in_range "failed (invalid token) requests from 127.0.0.2 count on its address" "$N429"
address429=$((address429 + N429))
burst subject-carol-127.0.0.1 5 --header "Authorization: Bearer $CAROL"
assert_eq "a valid subject from the exhausted address 127.0.0.1: its own bucket, no 429" \
    "$N429" 0

sleep 1.5 # the address buckets fill up again
burst xff-ignored 20 --xff '203.0.113.{i}'
in_range "X-Forwarded-For from an untrusted peer is ignored (one bucket: the peer)" "$N429"
address429=$((address429 + N429))

# the routes that never ask for a token count on the address too
BURST_PATH=/openapi.json burst openapi-127.0.0.3 20 --source 127.0.0.3
in_range "GET /openapi.json (no token needed) from 127.0.0.3 counts on its address" "$N429"
assert_match "GET /openapi.json: the others are 200" "$NOTHER" '^(200:[0-9]+ )?$'
address429=$((address429 + N429))

# /metrics on the API port with a token (auth.metrics_requires_scope): a probe, never limited
BURST_PATH=/metrics burst metrics-dave 20 --header "Authorization: Bearer $(token dave metrics:read)"
assert_eq "GET /metrics with a token, 20 within a second: no 429" "$N429 $NOTHER" "0 200:20 "

scrape "$TMP/m1"
assert_eq "rate_limited_total{kind=\"subject\"} counts the subjects' 429s" \
    "$(metric "$TMP/m1" 'cap_verifier_rate_limited_total{kind="subject"}')" "$subject429"
assert_eq "rate_limited_total{kind=\"address\"} counts the addresses' 429s" \
    "$(metric "$TMP/m1" 'cap_verifier_rate_limited_total{kind="address"}')" "$address429"
daemon_stop limited

# ---- daemon 1b: auth on, no usable key set ------------------------------------------------------
# every token answers 503 auth_unavailable (the daemon cannot tell whether it is good): those
# requests count on their address as failed ones do
daemon_start_checked keyless "${SAMPLE_ARGS[@]}" "${AUTH_ARGS[@]}" "${RL[@]}" \
    --set "auth.jwks_url=file://$TMP/no-such-jwks.json" || h_done
burst keyless-127.0.0.4 20 --source 127.0.0.4 --header "Authorization: Bearer $ALICE"
in_range "tokens while no key set is usable (503) count on the address 127.0.0.4" "$N429"
assert_match "… the others are 503" "$NOTHER" '^(503:[0-9]+ )?$'
daemon_stop keyless

# ---- daemon 2: auth off, 127.0.0.1 is a trusted proxy -----------------------------------------
daemon_start_checked proxied "${SAMPLE_ARGS[@]}" "${RL[@]}" \
    --set server.trusted_proxies=127.0.0.1/32 || h_done
# One client, 203.0.113.7, behind the proxy: the left-most entries vary (client-controlled),
# the right-most untrusted one is always 203.0.113.7; a trailing 127.0.0.1 is a trusted hop.
# Reading any other entry would spread the requests over many buckets.
burst xff-trusted 20 --xff '198.51.100.{i}, 203.0.113.7, 127.0.0.1'
in_range "trusted proxy: the right-most untrusted X-Forwarded-For address is the client" "$N429"
proxied429=$N429
burst xff-other-client 5 --xff '203.0.113.7, 203.0.113.8'
assert_eq "… another right-most address (203.0.113.8) is another client: no 429" "$N429" 0
burst xff-no-header 5
assert_eq "… the proxy's own requests (no X-Forwarded-For) are its own client: no 429" "$N429" 0
burst xff-untrusted-peer 20 --source 127.0.0.2 --xff '203.0.113.{i}'
in_range "X-Forwarded-For from 127.0.0.2 (not a trusted proxy) is ignored" "$N429"
proxied429=$((proxied429 + N429))
# Entries left of the proxy's are the client's to write: 2.8 KB of them (once cut off at
# 2 KiB, and the client became the proxy) change nothing; a port after the address, which
# some proxies append, is not part of the client's identity.
sleep 1.2 # the proxy's own bucket fills up again
burst xff-long 20 --xff "$(printf '198.51.100.1, %.0s' $(seq 200))203.0.113.9"
in_range "a 2.8 KB X-Forwarded-For: the right-most address is still the client" "$N429"
proxied429=$((proxied429 + N429))
burst xff-long-proxy 5
assert_eq "… and the proxy's own bucket is untouched: no 429" "$N429" 0
burst xff-port 20 --xff '203.0.113.10:{i}'
in_range "X-Forwarded-For addresses with varying ports: one client" "$N429"
proxied429=$((proxied429 + N429))
burst xff-ipv6 20 --xff '[2001:DB8:0:0::77]:{i}'
in_range "an IPv6 client, bracketed, not canonical, varying ports: one client" "$N429"
proxied429=$((proxied429 + N429))
# An IPv6 host may take any address of its /64 (RFC 6177), a new one for each request: one
# client. Another /64 is another client. IPv4-mapped addresses all lie in one /64: each is
# its IPv4 address.
burst xff-ipv6-64 20 --xff '2001:db8:0:5::{i}'
in_range "IPv6 addresses of one /64, another for each request: one client" "$N429"
proxied429=$((proxied429 + N429))
burst xff-ipv6-other-64 5 --xff '2001:db8:0:6::5'
assert_eq "… an address of the next /64 is another client: no 429" "$N429" 0
burst xff-v4-mapped 20 --xff '::ffff:192.0.2.{i}'
assert_eq "IPv4-mapped addresses of 20 IPv4 clients: 20 clients, no 429" "$N429" 0
burst xff-nat64 20 --xff '64:ff9b::198.51.100.{i}'
assert_eq "NAT64 addresses (64:ff9b::/96) of 20 IPv4 clients: 20 clients, no 429" "$N429" 0
burst xff-teredo 20 --xff '2001:0:4136:e378:8000:63bf:3fff:fd{i}'
assert_eq "Teredo addresses (2001::/32) of one server's 20 clients: 20 clients, no 429" \
    "$N429" 0
# Brackets hold an IPv6 address only: "[203.0.113.7]" is no address, and ends the walk at
# the last trusted hop, the proxy (whose bucket has filled up again meanwhile)
sleep 1.2
burst xff-bracketed-v4 20 --xff '[203.0.113.{i}]'
in_range "a bracketed IPv4 entry is no address: the client is the proxy" "$N429"
proxied429=$((proxied429 + N429))
scrape "$TMP/m2"
assert_eq "rate_limited_total{kind=\"address\"} on the proxied daemon" \
    "$(metric "$TMP/m2" 'cap_verifier_rate_limited_total{kind="address"}')" "$proxied429"
daemon_stop proxied
h_done
