/* libcapverify: verification of CAP proof packages.
 * The single public umbrella header; include this, not the module headers. */
#ifndef CAPVERIFY_H
#define CAPVERIFY_H

#include "capverify/common.h"
#include "capverify/version.h"
#include "capverify/status.h"
#include "capverify/hash.h"
#include "capverify/encoding.h"
#include "capverify/json.h"
#include "capverify/commitment.h"
#include "capverify/package.h"
#include "capverify/keys.h"
#include "capverify/verify.h"
#include "capverify/policy.h"
#include "capverify/cache.h"
#include "capverify/registry.h"
#include "capverify/jwt.h"
#include "capverify/log.h"

#endif
