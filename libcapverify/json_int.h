/* SPDX-License-Identifier: Apache-2.0 */
/* Strict JSON for the library's modules: reading (json_read_int.h, json.c) and writing
 * (json_write_int.h, json_write.c). This header declares nothing itself; json.c includes
 * only json_read_int.h, so the reader does not depend on the writer. */
#ifndef CAPV_JSON_INT_H
#define CAPV_JSON_INT_H

#include "json_read_int.h"
#include "json_write_int.h"

#endif
