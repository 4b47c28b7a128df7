#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""What Doxygen 1.9.4 does not report itself, checked on its XML output (docs/building.md,
"API reference"): every enumerator of the public headers has a doc comment, and every header
has a @file comment (without it Doxygen documents nothing of the file and reports none of its
undocumented symbols). Messages are in Doxygen's own warning format.
  doxygen_check.py XML_DIR HEADER...
Exit status 1 when something is undocumented, 2 on usage errors."""
import os
import re
import sys
import xml.etree.ElementTree as ET


def has_text(elem):
    return elem is not None and "".join(elem.itertext()).strip() != ""


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    xml_dir, headers = argv[0], argv[1:]
    problems = []
    for h in headers:
        with open(h, encoding="utf-8") as f:
            text = f.read()
        if not re.search(r"/\*\*\s*[@\\]file\b", text):
            problems.append(f"{h}:1: error: no /** @file */ comment: nothing in this header "
                            "is documented or checked")
    index = os.path.join(xml_dir, "index.xml")
    if not os.path.exists(index):
        print(f"doxygen_check: {index} is missing (GENERATE_XML = YES?)", file=sys.stderr)
        return 2
    seen = set()
    for comp in ET.parse(index).getroot().iter("compound"):
        path = os.path.join(xml_dir, comp.get("refid") + ".xml")
        for enum in ET.parse(path).getroot().iter("memberdef"):
            if enum.get("kind") != "enum" or enum.get("id") in seen:
                continue
            seen.add(enum.get("id"))
            loc = enum.find("location")
            where = f"{loc.get('file')}:{loc.get('line')}" if loc is not None else "?"
            for value in enum.findall("enumvalue"):
                if not (has_text(value.find("briefdescription")) or
                        has_text(value.find("detaileddescription"))):
                    problems.append(f"{where}: error: Enumerator {value.findtext('name')} of "
                                    f"enum {enum.findtext('name')} is not documented.")
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
