/* SPDX-License-Identifier: Apache-2.0 */
/** @file
 * libcapverify: verification of CAP proof packages.
 * The single public umbrella header; include this, not the module headers. It brings every
 * stable declaration (the ABI promise of docs/abi.md); the headers under capverify/unstable/
 * serve the project's own front-ends, are outside that promise and are included explicitly. */
#ifndef CAPVERIFY_H
#define CAPVERIFY_H

#include "capverify/common.h"
#include "capverify/version.h"
#include "capverify/status.h"
#include "capverify/time.h"
#include "capverify/hash.h"
#include "capverify/encoding.h"
#include "capverify/json.h"
#include "capverify/commitment.h"
#include "capverify/package.h"
#include "capverify/keys.h"
#include "capverify/verify.h"
#include "capverify/audit.h"
#include "capverify/policy.h"
#include "capverify/cache.h"
#include "capverify/registry.h"
#include "capverify/backup_remote.h"
#include "capverify/jwt.h"

#endif
