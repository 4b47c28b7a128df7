/* SPDX-License-Identifier: Apache-2.0 */
/* A bounded reader of the small XML documents an S3-compatible object store answers with
 * (ListObjectsV2, InitiateMultipartUpload, CompleteMultipartUpload, Error; docs/registry.md,
 * "Off-site copies"). Not a general XML parser: it reports the character data of leaf
 * elements and the end of every other element, by the path of element names from the root,
 * and refuses what those answers never contain (DOCTYPE, CDATA, entities other than the five
 * predefined ones and character references), so no input makes it expand or recurse. */
#ifndef CAPV_XML_READ_INT_H
#define CAPV_XML_READ_INT_H

#include <stdbool.h>

#include "error_int.h"

/* Deepest element nesting, longest element name and longest leaf text (decoded bytes). */
#define CAPVI_XML_MAX_DEPTH 8
#define CAPVI_XML_MAX_NAME 64
#define CAPVI_XML_MAX_TEXT 4096

/* Called at the end of each element: `path` is the names from the root joined with '/'
 * ("ListBucketResult/Contents/Key", namespace prefixes kept as written). For a leaf (an
 * element without child elements) `text` is its decoded character data, NUL-terminated,
 * `len` bytes (may contain no NUL: a reference to U+0000 is refused); for an element with
 * children `text` is NULL. Anything but CAPV_OK stops the reader, which returns it. */
typedef capv_status (*capvi_xml_fn)(void *user, const char *path, const char *text, size_t len);

/* Reads one XML document from data[0..len): an optional declaration, comments and
 * processing instructions, exactly one root element. Attributes are skipped (S3 answers
 * carry only xmlns). Text beside child elements (indentation) is ignored. CAPV_E_MALFORMED
 * for anything not well-formed (mismatched or unclosed tags, a bad reference, text outside
 * the root, DOCTYPE or CDATA), CAPV_E_LIMIT beyond the bounds above, or what `fn` returns. */
capv_status capvi_xml_read(const uint8_t *data, size_t len, capvi_xml_fn fn, void *user,
                           capv_error *err);

#endif
