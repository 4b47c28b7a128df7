# SPDX-License-Identifier: Apache-2.0
"""The daemon's answers against docs/api/openapi.json (tests/daemon/lib.sh, `documented`).

    openapi_check.py OPENAPI INDEX
    openapi_check.py --document OPENAPI

INDEX has one answer a line, tab-separated: NAME, METHOD, URL, STATUS, HEADERS_FILE,
BODY_FILE (as curl wrote them), PORT (api or admin). For each answer: its path is one of the document's (a
literal path before a templated one), the method one of the path's, the status one of the
operation's responses; its Content-Type is one the response documents; a JSON body is valid
against the response's schema (JSON Schema 2020-12, the dialect of OpenAPI 3.1, with the
document's own $refs); a documented header that is present has a value its schema takes, one
marked required is present. A request the document has no operation for gets the router's
answers of components.responses: a 404 (NotFound; 400, Malformed, for a malformed target)
for a path it does not have, a 405 (MethodNotAllowed) whose Allow header names the path's
documented methods for a method the path does not have; the admin port has the probes only
(any other path is a 404 there). Every answer carries X-Content-Type-Options and
X-Request-Id (the document's info, "Responses"). Prints one line per answer, "PASS<TAB>NAME" or
"FAIL<TAB>NAME<TAB>WHY", for lib.sh to count.

--document checks the document alone, in place of a validator of OpenAPI documents (Debian
12 packages none for 3.1): every schema in it is a valid JSON Schema 2020-12 (the
metaschema), and every example (a media type's example and examples, a schema's examples)
is valid against its schema.

Only what Debian 12 has: python3-jsonschema 4.10 (Draft202012Validator, RefResolver; not
the `referencing` package of later versions).
"""
import json
import re
import sys
import urllib.parse
import warnings

import jsonschema

# RefResolver is what Debian 12's jsonschema 4.10 has; later versions warn that it is
# deprecated (in favour of `referencing`) but still have it
warnings.filterwarnings("ignore", category=DeprecationWarning, module=__name__)
warnings.filterwarnings("ignore", message=".*RefResolver.*", category=DeprecationWarning)

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# info.description, "Listeners": the admin port serves these paths only
ADMIN_PATHS = ("/healthz", "/readyz", "/metrics")
# info.description, "Responses": on every response
EVERY_RESPONSE = ("X-Content-Type-Options", "X-Request-Id")


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def deref(doc, obj):
    """Follows a {"$ref": "#/..."} (a response, header or parameter object) to its target."""
    seen = 0
    while isinstance(obj, dict) and "$ref" in obj:
        ref = obj["$ref"]
        if not ref.startswith("#/") or seen > 16:
            raise ValueError("unsupported $ref %r" % ref)
        obj = doc
        for part in ref[2:].split("/"):
            obj = obj[part.replace("~1", "/").replace("~0", "~")]
        seen += 1
    return obj


def find_paths(doc, path):
    """The path items a request path matches: the literal one first, then each template
    whose {params} match one segment each (OpenAPI 3.1 §4.8.8)."""
    paths = doc.get("paths", {})
    found = [(path, paths[path])] if path in paths else []
    segs = path.split("/")
    for tpl, item in paths.items():
        tsegs = tpl.split("/")
        if len(tsegs) != len(segs) or "{" not in tpl:
            continue
        if all(t == s or (re.fullmatch(r"\{[^}/]+\}", t) and s != "")
               for t, s in zip(tsegs, segs)):
            found.append((tpl, item))
    return found


def operation(item, method):
    op = item.get(method.lower())
    if op is None and method.upper() == "HEAD":
        op = item.get("get")  # a HEAD is answered as the GET, without the body
    return op


def media_type(value):
    return value.split(";", 1)[0].strip().lower()


def parse_headers(path):
    """The headers of the last response in a curl -D file (after any 100 Continue)."""
    with open(path, encoding="latin-1") as f:
        blocks = [b for b in re.split(r"\r?\n\r?\n", f.read()) if b.strip()]
    headers = {}
    for line in (blocks[-1].splitlines()[1:] if blocks else []):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


def describe(e):
    """One schema error in a line: where, and what; for a oneOf/anyOf that nothing matched,
    the closest branch's error (its message says more than the whole instance does)."""
    where = "/".join(str(p) for p in e.absolute_path) or "(root)"
    if e.context:
        best = jsonschema.exceptions.best_match(e.context)
        return "at %s: no %s branch matches; closest: %s" % (where, e.validator, describe(best))
    return "at %s: %s" % (where, e.message[:300])


def check(doc, validator_for, method, url, status, headers_file, body_file, port):
    """The reasons an answer is not the documented one (empty: it is)."""
    path = urllib.parse.urlsplit(url).path
    found = find_paths(doc, path)
    if port == "admin" and path not in ADMIN_PATHS:
        found = []
    # "compile" in GET /policy/compile is a policy id: the first path that has the method
    tpl, op = next(((t, operation(i, method)) for t, i in found if operation(i, method)),
                   (None, None))
    why = []
    if op is None:
        # No operation: the router's own answers, documented once in components.responses.
        # A path the document does not have is a 404 (400 when the target is malformed); a
        # method a path does not have is a 405 whose Allow names the path's methods.
        if not found:
            common = {"404": "NotFound", "400": "Malformed"}
            if status not in common:
                return ["%s %s: a path the document does not have answered %s, not 404"
                        % (method, path, status)]
        else:
            tpl = found[0][0]
            methods = {m.upper() for _, item in found for m in item if m in METHODS}
            if "GET" in methods:
                methods.add("HEAD")
            if status != "405":
                return ["%s %s is not documented, yet answered %s, not 405" % (method, tpl, status)]
            allow = {m.strip() for m in parse_headers(headers_file).get("allow", "").split(",")}
            if allow != methods:
                why.append("Allow %s, the document has %s" % (", ".join(sorted(allow)),
                                                                ", ".join(sorted(methods))))
            common = {"405": "MethodNotAllowed"}
        resp = {"$ref": "#/components/responses/" + common[status]}
    else:
        responses = op.get("responses", {})
        resp = (responses.get(status) or responses.get(status[0] + "XX")
                or responses.get("default"))
        if resp is None:
            return ["%s %s documents no %s answer (documented: %s)"
                    % (method, tpl, status, ", ".join(sorted(responses)))]
    resp = deref(doc, resp)
    headers = parse_headers(headers_file)
    for name in EVERY_RESPONSE:
        if name.lower() not in headers:
            why.append("header %s missing" % name)
    for name, hdef in resp.get("headers", {}).items():
        hdef = deref(doc, hdef)
        value = headers.get(name.lower())
        if value is None:
            if hdef.get("required"):
                why.append("header %s missing" % name)
            continue
        schema = hdef.get("schema", {})
        instance = value
        if schema.get("type") == "integer" and re.fullmatch(r"-?[0-9]+", value):
            instance = int(value)
        for e in validator_for(schema).iter_errors(instance):
            why.append("header %s: %s" % (name, e.message))
    content = resp.get("content")
    with open(body_file, "rb") as f:
        body = f.read()
    if not content:
        if body and method.upper() != "HEAD":
            why.append("a body (%d bytes) where none is documented" % len(body))
        return why
    ctype = headers.get("content-type", "")
    media = None
    for key in content:
        if key.lower().replace(" ", "") == ctype.lower().replace(" ", ""):
            media = content[key]
            break
    if media is None:
        for key in content:
            if media_type(key) == media_type(ctype):
                media = content[key]
                break
    if media is None:
        why.append("Content-Type %r is not documented (%s)" % (ctype, ", ".join(content)))
        return why
    schema = media.get("schema")
    if schema is None or method.upper() == "HEAD" or not media_type(ctype).endswith("json"):
        return why
    try:
        instance = json.loads(body)
    except ValueError as e:
        why.append("body is not JSON: %s" % e)
        return why
    errors = sorted(validator_for(schema).iter_errors(instance),
                    key=lambda e: list(e.absolute_path))
    for e in errors[:5]:
        why.append("body " + describe(e))
    if len(errors) > 5:
        why.append("… %d more schema errors" % (len(errors) - 5))
    return why


def schemas_and_examples(obj, where):
    """(where, schema, examples) for each schema object of the document: components.schemas
    and every "schema" of a parameter, header or media type, with the examples that go with
    it (the media type's example and examples[*].value, the schema's own examples)."""
    if isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from schemas_and_examples(v, "%s/%d" % (where, i))
        return
    if not isinstance(obj, dict):
        return
    for key, value in obj.items():
        at = "%s/%s" % (where, key)
        if key == "schemas" and where == "#/components":
            for name, schema in value.items():
                yield at + "/" + name, schema, []
                yield from schemas_and_examples(schema, at + "/" + name)
        elif key == "schema" and isinstance(value, dict):
            examples = []
            if "example" in obj:
                examples.append((where + "/example", obj["example"]))
            for name, ex in obj.get("examples", {}).items():
                if isinstance(ex, dict) and "value" in ex:
                    examples.append(("%s/examples/%s" % (where, name), ex["value"]))
            if "/content/" in where and not media_type(where.split("/content/", 1)[1]).endswith("json"):
                examples = []  # a text/plain example is the body itself, not a JSON value
            yield at, value, examples
            yield from schemas_and_examples(value, at)
        elif key == "examples" and isinstance(value, list) and "type" in obj:
            yield where, obj, [("%s/examples/%d" % (where, i), v) for i, v in enumerate(value)]
        else:
            yield from schemas_and_examples(value, at)


def check_document(doc, validator_for):
    found = list(schemas_and_examples(doc, "#"))
    failures = 0
    for where, schema, _ in found:
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as e:
            failures += 1
            print("FAIL\tschema %s is JSON Schema 2020-12\t%s" % (where, e.message[:300]))
    if failures:  # an example is checked against valid schemas only (through its $refs too)
        return
    examples = 0
    for where, schema, exs in found:
        for ex_where, ex in exs:
            examples += 1
            errors = list(validator_for(schema).iter_errors(ex))
            for e in errors[:3]:
                print("FAIL\texample %s\t%s" % (ex_where, describe(e)))
            failures += bool(errors)
    if not failures:
        print("PASS\t%d schemas valid JSON Schema 2020-12, %d examples valid against them"
              % (len(found), examples))


def main():
    document = sys.argv[1:2] == ["--document"]
    if len(sys.argv) != 3:
        sys.exit("usage: openapi_check.py OPENAPI INDEX | --document OPENAPI")
    doc = load(sys.argv[2] if document else sys.argv[1])
    if not str(doc.get("openapi", "")).startswith("3.1"):
        # 3.0 schemas (nullable, exclusiveMinimum as a flag) are not JSON Schema 2020-12
        sys.exit("openapi_check.py: reads OpenAPI 3.1 documents, not %r" % doc.get("openapi"))
    cls = jsonschema.Draft202012Validator
    # every $ref in a schema is "#/components/…": resolved in the whole document
    resolver = jsonschema.RefResolver.from_schema(doc, id_of=lambda _: "")
    checker = cls.FORMAT_CHECKER

    def validator_for(schema):
        return cls(schema, resolver=resolver, format_checker=checker)

    if document:
        check_document(doc, validator_for)
        return
    with open(sys.argv[2], encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            name, method, url, status, headers_file, body_file, port = \
                line.rstrip("\n").split("\t")
            try:
                why = check(doc, validator_for, method, url, status, headers_file, body_file,
                            port)
            except (OSError, ValueError, KeyError, jsonschema.exceptions.RefResolutionError,
                    jsonschema.exceptions.UnknownType) as e:
                why = ["cannot check: %s" % e]
            if why:
                print("FAIL\t%s\t%s" % (name, "; ".join(why)))
            else:
                print("PASS\t%s" % name)


if __name__ == "__main__":
    main()
