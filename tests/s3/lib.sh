# SPDX-License-Identifier: Apache-2.0
# Helpers of the off-site backup tests (tests/s3/*.sh), sourced after tests/daemon/lib.sh
# (its t_init, assertions, t_track and daemon_start). Every server is started here on
# 127.0.0.1, tracked by its PID (t_track) and killed by it at the end.
#
#   s3_start NAME [--port N] [--tls]   s3rver (tests/node/s3rver.mjs) storing in $TMP/NAME,
#                                      bucket capv-test; sets S3_PID, S3_PORT, S3_ENDPOINT,
#                                      S3_STORE (reuse NAME and --port N to restart it on the
#                                      same objects after a kill)
#   proxy_start NAME UPSTREAM [fault_proxy.py options]
#                                      the fault proxy in front of UPSTREAM; P_PID, P_ENDPOINT,
#                                      P_LOG (its request log)
#   aws_s3 ENDPOINT ARGS...            the AWS CLI (Debian's awscli) against ENDPOINT
#
# Credentials: s3rver's own (S3RVER / S3RVER), exported as AWS_ACCESS_KEY_ID /
# AWS_SECRET_ACCESS_KEY by s3_init.

S3_BUCKET=capv-test

# s3_missing: prints the tools the off-site tests need and this machine lacks (nothing when
# all are there).
s3_missing() {
    local missing=""
    command -v node >/dev/null || missing="node"
    [ -d "$SRC/tests/node/node_modules/s3rver" ] || missing="$missing $SRC/tests/node/node_modules/s3rver (npm ci)"
    [ -x /usr/bin/aws ] || missing="$missing /usr/bin/aws (Debian awscli)"
    command -v openssl >/dev/null || missing="$missing openssl"
    echo "${missing# }"
}

# s3_env: the environment of s3rver and the AWS CLI (the tools are there: s3_missing).
s3_env() {
    NODE_DIR=$SRC/tests/node
    export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1
    unset AWS_SESSION_TOKEN AWS_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
    export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
}

# s3_init: the tools, else exit 77 (ctest: skipped) outside CI and a failure under CI=true;
# for a test that is all about the store. A test with one part that needs it (tests/pg/
# replicas.sh) asks s3_missing and skips that part alone (skip_missing), then calls s3_env.
s3_init() {
    local missing
    missing=$(s3_missing)
    if [ -n "$missing" ]; then
        T_DONE=1 # not "ended early": the rule of tests/tools/missing.sh says what this is
        source "$SRC/tests/tools/missing.sh"
        capv_missing "$missing"
    fi
    s3_env
}

# s3_tls_material DIR: a throw-away CA and a certificate for 127.0.0.1 in DIR.
s3_tls_material() {
    local d=$1
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=capv-test-ca" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null &&
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -subj "/CN=127.0.0.1" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null &&
        printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$d/ext.cnf" &&
        openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
            -CAcreateserial -days 2 -extfile "$d/ext.cnf" -out "$d/server.pem" 2>/dev/null
}

s3_start() {
    local name=$1 port=0 tls=0 i
    shift
    while [ $# -gt 0 ]; do
        case $1 in
        --port) port=$2; shift ;;
        --tls) tls=1 ;;
        esac
        shift
    done
    S3_STORE=$TMP/$name
    mkdir -p "$S3_STORE/objects" "$S3_STORE/state"
    rm -f "$S3_STORE/state/port"
    local args=("$S3_STORE/objects" "$S3_STORE/state" "$S3_BUCKET" --port "$port")
    local scheme=http
    if [ "$tls" = 1 ]; then
        [ -f "$S3_STORE/tls/server.pem" ] || s3_tls_material "$S3_STORE/tls" ||
            { fail "$name: TLS material"; return 1; }
        args+=(--tls "$S3_STORE/tls/server.pem" "$S3_STORE/tls/server.key")
        scheme=https
    fi
    node "$NODE_DIR/s3rver.mjs" "${args[@]}" >>"$S3_STORE/s3rver.log" 2>&1 &
    S3_PID=$!
    t_track "$S3_PID"
    for i in $(seq 1 100); do
        [ -s "$S3_STORE/state/port" ] && break
        kill -0 "$S3_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ ! -s "$S3_STORE/state/port" ]; then
        fail "$name: s3rver did not start" "$(tail -n 5 "$S3_STORE/s3rver.log")"
        return 1
    fi
    S3_PORT=$(cat "$S3_STORE/state/port")
    S3_ENDPOINT=$scheme://127.0.0.1:$S3_PORT
}

proxy_start() {
    local name=$1 upstream=$2 i
    shift 2
    local dir=$TMP/$name
    mkdir -p "$dir"
    rm -f "$dir/proxy_port" "$dir/proxy.log"
    touch "$dir/proxy.log"
    python3 "$SRC/tests/s3/fault_proxy.py" --upstream "$upstream" --state "$dir" "$@" \
        >>"$dir/proxy.stderr" 2>&1 &
    P_PID=$!
    t_track "$P_PID"
    for i in $(seq 1 100); do
        [ -s "$dir/proxy_port" ] && break
        kill -0 "$P_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ ! -s "$dir/proxy_port" ]; then
        fail "$name: the fault proxy did not start" "$(tail -n 5 "$dir/proxy.stderr")"
        return 1
    fi
    P_ENDPOINT=http://127.0.0.1:$(cat "$dir/proxy_port")
    P_LOG=$dir/proxy.log
}

# stop_pid PID: SIGTERM, then waits (a process of this shell).
stop_pid() {
    kill -TERM "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    return 0
}

aws_s3() {
    local endpoint=$1
    shift
    /usr/bin/aws --endpoint-url "$endpoint" --no-verify-ssl "$@" 2>>"$TMP/aws.stderr"
}
