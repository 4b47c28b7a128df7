#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs every build and test dependency of CAP Verifier on Debian 12 (bookworm).
# Idempotent: apt-get skips what is already installed, npm installs from the lockfile.
# Run as root (or with sudo available). Set CAPV_SKIP_NPM=1 to skip the npm step.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

packages=(
    # build
    build-essential cmake pkg-config git ca-certificates
    # library dependencies
    libssl-dev libcjson-dev libsqlite3-dev libcurl4-openssl-dev libcivetweb-dev
    libyaml-dev libzip-dev zlib1g-dev librust-blake3-dev
    # sd_notify of the daemon's systemd unit, and systemd-analyze for its checks
    libsystemd-dev systemd
    # the registry's PostgreSQL backend (libpq) and its tests (a throw-away server)
    postgresql libpq-dev
    # unit tests
    check
    # unit.policy compiles a de_DE locale (decimal comma) with localedef
    locales
    # test peers and tools
    b3sum openssl curl jq sqlite3 valgrind python3 python3-jsonschema
    prometheus wrk hey slowhttptest yamllint python3-yaml
    # the web UI's browser test (tests/ui/, puppeteer-core drives this chromium)
    chromium
    # the off-site backup tests' S3 peer (tests/s3: aws s3 cp against s3rver)
    awscli
    clang-14 libclang-rt-14-dev llvm-14 afl++ abigail-tools
    # static checks (ctest label lint), man page checks
    cppcheck clang-format-14 mandoc man-db
    # the API reference from the public headers (cmake/CapvDocs.cmake, ctest lint.doxygen)
    doxygen
    # the shell completions' check (tests/cli/completion.sh)
    zsh
    # the Debian packages (debian/, docs/packaging.md; ctest deb.package): dpkg-buildpackage,
    # dh with dh_installsysusers, lintian
    debhelper dpkg-dev fakeroot lintian
)
# Node.js: use the machine's own if it has one (a newer Node with its npm conflicts with
# Debian's npm package), else Debian's.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    packages+=(nodejs npm)
fi

export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}" >&2
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
else
    echo "install-deps: all Debian packages present" >&2
fi

# npm packages used by the tests (a real OAuth2 identity provider, an S3-compatible server
# for the off-site backups, schema checks),
# pinned by tests/node/package-lock.json and installed into the repository.
if [ "${CAPV_SKIP_NPM:-0}" != "1" ] && [ -f "$here/tests/node/package-lock.json" ]; then
    # puppeteer-core uses the system chromium: nothing is downloaded
    (cd "$here/tests/node" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
# The deployment checks' own npm project (kubernetes-models, yaml): tests/deploy.
if [ "${CAPV_SKIP_NPM:-0}" != "1" ] && [ -f "$here/tests/deploy/package-lock.json" ]; then
    (cd "$here/tests/deploy" && npm ci --no-audit --no-fund --loglevel=error)
fi
