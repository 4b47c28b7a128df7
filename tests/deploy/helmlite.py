# SPDX-License-Identifier: Apache-2.0
"""helmlite: enough of Helm to render deploy/helm/cap-verifier without a helm binary.

There is no helm on our machines, so the deploy tests (chart_render.py, chart_monitoring.py)
render the chart with this interpreter of Go's text/template language plus the Sprig / Helm
functions the chart uses. It is strict: an action, function, field access or type it does
not know is a TemplateError, so a template that outgrows it fails the tests instead of going
unchecked.

Language: {{ }} actions with whitespace trimming ({{- and -}}), comments, pipelines with
parenthesised sub-pipelines and field chains on them ((urlParse .).host), literals (strings,
raw strings, numbers, true / false / nil), variables ($x := / $x = with Go's scoping, $ the
root), if / else if / else, with / else, range (lists, maps in key order, $i, $e :=),
define / template / include, end.

Values as Helm loads them: numbers from values files are float64 (so {{ 16777216 }} prints
1.6777216e+07, as helm would; the chart casts with int where it matters), --set integers
int64. Missing map keys are nil (missingkey=zero; printed as ""), a field of nil is an
error ("nil pointer evaluating interface {}.x"). eq / lt / ... refuse to compare an int
with a float, has compares with Go's DeepEqual (443 is not 443.0), as in Go.

Functions: include and the Sprig / Helm functions default, required, fail, toYaml, fromYaml,
nindent, indent, quote, squote, printf, print, trim, trimPrefix, trimSuffix, trunc,
contains, hasPrefix, hasSuffix, lower, upper, replace, sha256sum, int, int64, add, sub,
len, not, and, or (short-circuit), eq, ne, lt, le, gt, ge, dict, list, append, has,
hasKey, index, set, unset, omit, dig, kindIs, ternary, regexMatch, regexFind,
urlParse, empty, toString, and .Files.Get.
"""
import copy
import hashlib
import json
import math
import os
import re
import urllib.parse

import yaml


class TemplateError(Exception):
    pass


# ---- Go values --------------------------------------------------------------------------

def kind(v):
    """Go's reflect kind name of a value (as Sprig's kindIs spells it)."""
    if v is None:
        return "invalid"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "slice"
    if isinstance(v, dict):
        return "map"
    raise TemplateError("value of unknown type %r" % type(v))


def truthy(v):
    """Go template truth: false, 0, nil, empty string / slice / map are false."""
    if v is None or v is False:
        return False
    if isinstance(v, (int, float, str, list, dict)):
        return bool(v)
    return True


def go_float(x):
    """fmt's %v of a float64 (strconv 'g', shortest): exponent form from 1e+06 on."""
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if math.isnan(x):
        return "NaN"
    if x == 0:
        return "0"
    r = "%r" % x  # shortest round trip
    m = re.fullmatch(r"(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?", r)
    sign, ip, fp, e = m.group(1), m.group(2), m.group(3) or "", int(m.group(4) or 0)
    digits = (ip + fp).lstrip("0")
    lead_zeros = len(ip + fp) - len((ip + fp).lstrip("0"))
    dp = len(ip) + e - lead_zeros  # decimal point position relative to first nonzero digit
    digits = digits.rstrip("0") or "0"
    exp = dp - 1
    if exp < -4 or exp >= 6:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return "%s%se%s%02d" % (sign, mant, "-" if exp < 0 else "+", abs(exp))
    if dp <= 0:
        return sign + "0." + "0" * (-dp) + digits
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits))
    return sign + digits[:dp] + "." + digits[dp:]


def to_text(v, where="output"):
    """fmt's %v for what an action prints (Helm replaces <no value> by "")."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, str):
        return v
    raise TemplateError("%s: printing a %s (%r) gives Go's map[...] / [...] syntax, not YAML; "
                        "use toYaml" % (where, kind(v), v))


def plain(v):
    """A value as sigs.k8s.io/yaml marshals it: float64 with an integral value as an int."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return int(v)
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def floats(v):
    """Values as Helm reads a values file (JSON numbers: float64)."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, dict):
        return {k: floats(x) for k, x in v.items()}
    if isinstance(v, list):
        return [floats(x) for x in v]
    raise TemplateError("values: unsupported YAML value %r" % (v,))


def deep_equal(a, b):
    """reflect.DeepEqual: types must match (int 443 != float64 443)."""
    if kind(a) != kind(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(deep_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b))
    return a == b


def _comparable(a, b, op):
    ka, kb = kind(a), kind(b)
    if ka != kb or ka not in ("int", "float64", "string", "bool"):
        raise TemplateError("%s: incompatible types for comparison (%s %r, %s %r)"
                            % (op, ka, a, kb, b))
    if op not in ("eq", "ne") and ka == "bool":
        raise TemplateError("%s: invalid type for comparison (bool)" % op)


def to_int(v):
    """Sprig's int (cast.ToInt, errors give 0)."""
    if v is None:
        return 0
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float)):
        return int(v)
    if isinstance(v, str):
        s = v.strip()
        s = re.sub(r"\.0*$", "", s)
        try:
            return int(s, 0)
        except ValueError:
            return 0
    return 0


class _Emitter(yaml.emitter.Emitter):
    def choose_scalar_style(self):
        style = super().choose_scalar_style()
        if style == "'":
            return '"'
        return style


class GoYamlDumper(_Emitter, yaml.serializer.Serializer, yaml.representer.SafeRepresenter,
                   yaml.resolver.Resolver):
    def __init__(self, stream, default_style=None, default_flow_style=False, canonical=None,
                 indent=None, width=None, allow_unicode=None, line_break=None, encoding=None,
                 explicit_start=None, explicit_end=None, version=None, tags=None,
                 sort_keys=True):
        _Emitter.__init__(self, stream, canonical=canonical, indent=indent, width=width,
                          allow_unicode=allow_unicode, line_break=line_break)
        yaml.serializer.Serializer.__init__(self, encoding=encoding,
                                            explicit_start=explicit_start,
                                            explicit_end=explicit_end, version=version,
                                            tags=tags)
        yaml.representer.SafeRepresenter.__init__(self, default_style=default_style,
                                                  default_flow_style=default_flow_style,
                                                  sort_keys=sort_keys)
        yaml.resolver.Resolver.__init__(self)


def to_yaml(v):
    """Helm's toYaml: sorted keys, block style, no trailing newline ("" -> "{}" for nil is
    'null')."""
    text = yaml.dump(plain(v), Dumper=GoYamlDumper, default_flow_style=False, sort_keys=True,
                     allow_unicode=True)
    if text.endswith("\n...\n"):
        text = text[:-4]
    return text.rstrip("\n") if text.endswith("\n") else text


def from_yaml(s):
    try:
        v = yaml.safe_load(s)
    except yaml.YAMLError as e:
        raise TemplateError("fromYaml: %s" % e)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise TemplateError("fromYaml: not a mapping: %r" % (v,))
    return floats(v)


def go_printf(fmt, args):
    out, ai, i = [], 0, 0
    while i < len(fmt):
        ch = fmt[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        i += 1
        if i >= len(fmt):
            raise TemplateError("printf %r: trailing %%" % fmt)
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if ai >= len(args):
            raise TemplateError("printf %r: missing argument for %%%s" % (fmt, verb))
        a = args[ai]
        ai += 1
        if verb == "s":
            if not isinstance(a, str):
                raise TemplateError("printf %r: %%s of a %s (%r): Go prints %%!s(...)"
                                    % (fmt, kind(a), a))
            out.append(a)
        elif verb == "d":
            if isinstance(a, bool) or not isinstance(a, int):
                raise TemplateError("printf %r: %%d of a %s (%r): Go prints %%!d(...); "
                                    "cast with int" % (fmt, kind(a), a))
            out.append(str(a))
        elif verb == "v":
            out.append(to_text(a, "printf %v"))
        elif verb == "q":
            if not isinstance(a, str):
                raise TemplateError("printf %%q of a %s" % kind(a))
            out.append(json.dumps(a, ensure_ascii=False))
        else:
            raise TemplateError("printf %r: verb %%%s not supported here" % (fmt, verb))
    if ai != len(args):
        raise TemplateError("printf %r: %d extra argument(s)" % (fmt, len(args) - ai))
    return "".join(out)


# ---- lexing and parsing -----------------------------------------------------------------

ACTION = re.compile(r"\{\{(- )?(.*?)( -)?\}\}", re.S)


def split_actions(text, name):
    """[("text", s) | ("action", body, line)] with the trim markers applied."""
    out, pos, trim_next = [], 0, False
    for m in ACTION.finditer(text):
        chunk = text[pos:m.start()]
        if trim_next:
            chunk = chunk.lstrip(" \t\r\n")
        if m.group(1):
            chunk = chunk.rstrip(" \t\r\n")
        out.append(("text", chunk))
        body = m.group(2).strip()
        line = text.count("\n", 0, m.start()) + 1
        if body.startswith("/*"):
            if not body.endswith("*/"):
                raise TemplateError("%s:%d: unclosed comment" % (name, line))
        else:
            out.append(("action", body, line))
        trim_next = bool(m.group(3))
        pos = m.end()
    rest = text[pos:]
    if "{{" in rest:
        raise TemplateError("%s: unclosed action" % name)
    out.append(("text", rest.lstrip(" \t\r\n") if trim_next else rest))
    return out


TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<num>-?(?:0[xX][0-9a-fA-F]+|[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?))
  | (?P<decl>:=)
  | (?P<assign>=)
  | (?P<comma>,)
  | (?P<pipe>\|)
  | (?P<lp>\()
  | (?P<rp>\))
  | (?P<var>\$[A-Za-z0-9_]*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
  | (?P<dot>\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
""", re.X)


def lex(body, where):
    toks, pos = [], 0
    while pos < len(body):
        m = TOKEN.match(body, pos)
        if not m:
            raise TemplateError("%s: cannot read %r" % (where, body[pos:pos + 20]))
        pos = m.end()
        k = m.lastgroup
        if k == "ws":
            continue
        toks.append((k, m.group(0), m.end()))
    return toks


class Parser:
    """Pipelines: [decl] command ("|" command)*; command: operand+; operand: term field*."""

    def __init__(self, body, where):
        self.toks = lex(body, where)
        self.i = 0
        self.where = where

    def peek(self, k=0):
        return self.toks[self.i + k] if self.i + k < len(self.toks) else (None, None, None)

    def take(self, kind_):
        t = self.peek()
        if t[0] != kind_:
            raise TemplateError("%s: expected %s, found %r" % (self.where, kind_, t[1]))
        self.i += 1
        return t

    def done(self):
        return self.i >= len(self.toks)

    def pipeline(self, allow_decl=True):
        decl = None
        if allow_decl and self.peek()[0] == "var":
            names, j = [self.peek()[1]], 1
            if self.peek(1)[0] == "comma" and self.peek(2)[0] == "var":
                names.append(self.peek(2)[1])
                j = 3
            if self.peek(j)[0] in ("decl", "assign"):
                decl = (self.peek(j)[0], names)
                self.i += j + 1
        cmds = [self.command()]
        while self.peek()[0] == "pipe":
            self.i += 1
            cmds.append(self.command())
        return ("pipeline", decl, cmds)

    def command(self):
        ops = []
        while not self.done() and self.peek()[0] not in ("pipe", "rp"):
            ops.append(self.operand())
        if not ops:
            raise TemplateError("%s: empty command" % self.where)
        return ops

    def operand(self):
        k, v, _ = self.peek()
        self.i += 1
        if k == "str":
            node = ("lit", json.loads(v))
        elif k == "raw":
            node = ("lit", v[1:-1])
        elif k == "num":
            node = ("lit", int(v, 0) if re.fullmatch(r"-?(0[xX][0-9a-fA-F]+|[0-9]+)", v)
                    else float(v))
        elif k == "var":
            node = ("var", v)
        elif k == "field":
            node = ("field", ("dot",), v[1:].split("."))
        elif k == "dot":
            node = ("dot",)
        elif k == "ident":
            if v in ("true", "false"):
                node = ("lit", v == "true")
            elif v == "nil":
                node = ("lit", None)
            else:
                node = ("ident", v)
        elif k == "lp":
            node = ("paren", self.pipeline(allow_decl=False))
            self.take("rp")
        else:
            raise TemplateError("%s: unexpected %r" % (self.where, v))
        # field chains: $x.a.b, (pipeline).a
        t = self.peek()
        if t[0] == "field" and node[0] in ("var", "paren") and \
                self.toks[self.i - 1][2] == self.body_pos(t):
            self.i += 1
            node = ("field", node, t[1][1:].split("."))
        return node

    def body_pos(self, t):
        return t[2] - len(t[1])


def parse_pipeline(body, where):
    p = Parser(body, where)
    pipe = p.pipeline()
    if not p.done():
        raise TemplateError("%s: unexpected %r" % (where, p.peek()[1]))
    return pipe


def parse_tree(items, i, name, stops, defines):
    """Nodes up to an action whose keyword is in stops: (nodes, index, keyword, body)."""
    nodes = []
    while i < len(items):
        it = items[i]
        if it[0] == "text":
            if it[1]:
                nodes.append(("text", it[1]))
            i += 1
            continue
        body, line = it[1], it[2]
        where = "%s:%d" % (name, line)
        word = re.match(r"[A-Za-z_]*", body).group(0)
        if word in stops:
            return nodes, i, word, body, where
        if word in ("if", "with", "range"):
            node, i = parse_block(items, i, name, word, body[len(word):], where, defines)
            nodes.append(node)
        elif word == "define":
            m = re.fullmatch(r'define\s+"([^"]+)"', body)
            if not m:
                raise TemplateError("%s: bad define %r" % (where, body))
            inner, j, w, _, _ = parse_tree(items, i + 1, name, ("end",), defines)
            if w != "end":
                raise TemplateError("%s: define %s without end" % (where, m.group(1)))
            defines[m.group(1)] = inner
            i = j + 1
        elif word == "template":
            m = re.fullmatch(r'template\s+"([^"]+)"(.*)', body, re.S)
            if not m:
                raise TemplateError("%s: bad template %r" % (where, body))
            arg = parse_pipeline(m.group(2), where) if m.group(2).strip() else None
            nodes.append(("template", m.group(1), arg, where))
            i += 1
        elif word in ("break", "continue") and body == word:
            nodes.append((word, where))
            i += 1
        elif word in ("end", "else", "block"):
            raise TemplateError("%s: unexpected or unsupported {{ %s }}" % (where, body))
        else:
            nodes.append(("action", parse_pipeline(body, where), where))
            i += 1
    if None not in stops:
        raise TemplateError("%s: missing {{ end }}" % name)
    return nodes, i, None, None, None


def parse_block(items, i, name, word, rest, where, defines):
    pipe = parse_pipeline(rest, where)
    then, j, w, body, wh = parse_tree(items, i + 1, name, ("end", "else"), defines)
    other = []
    if w is None:
        raise TemplateError("%s: {{ %s }} without end" % (where, word))
    if w == "else":
        m = re.fullmatch(r"else\s+(if|with)\b(.*)", body, re.S)
        if m:
            if m.group(1) != word and not (word == "if" and m.group(1) == "if"):
                raise TemplateError("%s: {{ else %s }} in a {{ %s }}" % (wh, m.group(1), word))
            # "else if X" = else {{ if X }} ... sharing the closing end
            node, j = parse_block(items, j, name, m.group(1), m.group(2), wh, defines)
            return (word, pipe, then, [node], where), j
        if body != "else":
            raise TemplateError("%s: bad else %r" % (wh, body))
        other, j, w, _, _ = parse_tree(items, j + 1, name, ("end",), defines)
        if w != "end":
            raise TemplateError("%s: {{ %s }} without end" % (where, word))
    return (word, pipe, then, other, where), j + 1


# ---- execution --------------------------------------------------------------------------

class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class Scope:
    def __init__(self, parent=None):
        self.vars, self.parent = {}, parent

    def get(self, name, where):
        s = self
        while s:
            if name in s.vars:
                return s.vars[name]
            s = s.parent
        raise TemplateError("%s: undefined variable %s" % (where, name))

    def assign(self, name, value, where):
        s = self
        while s:
            if name in s.vars:
                s.vars[name] = value
                return
            s = s.parent
        raise TemplateError("%s: assignment to undeclared variable %s" % (where, name))


LAZY = ("and", "or")


class Engine:
    """Renders the templates of one chart directory for one set of values."""

    def __init__(self, chart_dir, values, release_name="cap-verifier",
                 namespace="cap-verifier", is_install=True):
        self.chart_dir = chart_dir
        with open(os.path.join(chart_dir, "Chart.yaml")) as f:
            chart = yaml.safe_load(f)
        self.root = {
            "Values": values,
            "Release": {"Name": release_name, "Namespace": namespace, "Service": "Helm",
                        "IsInstall": is_install, "IsUpgrade": not is_install,
                        "Revision": 1},
            "Chart": {"Name": chart["name"], "Version": chart["version"],
                      "AppVersion": chart.get("appVersion", ""),
                      "Description": chart.get("description", "")},
            "Capabilities": {"KubeVersion": {"Version": "v1.30.0", "Major": "1",
                                             "Minor": "30"}},
        }
        self.defines = {}
        self.trees = {}
        tdir = os.path.join(chart_dir, "templates")
        for fn in sorted(os.listdir(tdir)):
            path = os.path.join(tdir, fn)
            with open(path) as f:
                text = f.read()
            rel = "templates/" + fn
            nodes, _, _, _, _ = parse_tree(split_actions(text, rel), 0, rel, (None,),
                                           self.defines)
            self.trees[rel] = nodes

    # -- public
    def templates(self):
        return sorted(self.trees)

    def render(self, rel):
        """The text of one template (templates/x.yaml), rendered with the chart's root."""
        return self.exec_nodes(self.trees[rel], self.root, Scope_root(self.root))

    def render_all(self, notes=False):
        """{template: text} of every template helm would output (partials "_*" excluded;
        NOTES.txt only with notes=True)."""
        out = {}
        for rel in self.templates():
            base = os.path.basename(rel)
            if base.startswith("_"):
                continue
            if base == "NOTES.txt" and not notes:
                continue
            out[rel] = self.render(rel)
        return out

    def render_text(self, text, dot=None, name="<text>"):
        nodes, _, _, _, _ = parse_tree(split_actions(text, name), 0, name, (None,),
                                       self.defines)
        dot = self.root if dot is None else dot
        return self.exec_nodes(nodes, dot, Scope_root(dot))

    def include(self, name, dot):
        if name not in self.defines:
            raise TemplateError("include: no template %r" % name)
        return self.exec_nodes(self.defines[name], dot, Scope_root(dot))

    # -- execution
    def exec_nodes(self, nodes, dot, scope):
        out = []
        for n in nodes:
            t = n[0]
            if t == "text":
                out.append(n[1])
            elif t == "action":
                pipe, where = n[1], n[2]
                v = self.pipeline(pipe, dot, scope, where)
                if pipe[1] is None:
                    out.append(to_text(v, where))
            elif t in ("if", "with"):
                _, pipe, then, other, where = n
                inner = Scope(scope)
                v = self.pipeline(pipe, dot, inner, where)
                if truthy(v):
                    out.append(self.exec_nodes(then, v if t == "with" else dot, inner))
                else:
                    out.append(self.exec_nodes(other, dot, Scope(scope)))
            elif t == "range":
                out.append(self.exec_range(n, dot, scope))
            elif t == "template":
                _, name, arg, where = n
                d = self.pipeline(arg, dot, scope, where) if arg else None
                out.append(self.include(name, d))
            elif t == "break":
                raise _Break()
            elif t == "continue":
                raise _Continue()
            else:
                raise TemplateError("internal: node %r" % (t,))
        return "".join(out)

    def exec_range(self, n, dot, scope):
        _, pipe, body, other, where = n
        decl = pipe[1]
        coll = self.pipeline(("pipeline", None, pipe[2]), dot, scope, where)
        if decl and decl[0] != "decl":
            raise TemplateError("%s: range needs :=" % where)
        if isinstance(coll, dict):
            items = [(k, coll[k]) for k in sorted(coll)]
        elif isinstance(coll, list):
            items = list(enumerate(coll))
        elif coll is None:
            items = []
        elif isinstance(coll, int) and not isinstance(coll, bool):
            items = [(i, i) for i in range(coll)]
        else:
            raise TemplateError("%s: range can't iterate over %s %r" % (where, kind(coll), coll))
        if not items:
            return self.exec_nodes(other, dot, Scope(scope))
        out = []
        for k, v in items:
            inner = Scope(scope)
            if decl:
                names = decl[1]
                if len(names) == 1:
                    inner.vars[names[0]] = v
                else:
                    inner.vars[names[0]], inner.vars[names[1]] = k, v
            try:
                out.append(self.exec_nodes(body, v, inner))
            except _Break:
                break
            except _Continue:
                continue
        return "".join(out)

    def pipeline(self, pipe, dot, scope, where):
        _, decl, cmds = pipe
        value, have = None, False
        for cmd in cmds:
            value = self.command(cmd, dot, scope, where, value if have else _NOARG)
            have = True
        if decl:
            op, names = decl
            if len(names) != 1:
                raise TemplateError("%s: two variables outside range" % where)
            if op == "decl":
                scope.vars[names[0]] = value
            else:
                scope.assign(names[0], value, where)
        return value

    def command(self, ops, dot, scope, where, piped):
        head = ops[0]
        if head[0] == "ident":
            name = head[1]
            if name in LAZY:
                thunks = [(lambda o=o: self.arg(o, dot, scope, where)) for o in ops[1:]]
                if piped is not _NOARG:
                    thunks.append(lambda: piped)
                return self.lazy(name, thunks, where)
            args = [self.arg(o, dot, scope, where) for o in ops[1:]]
            if piped is not _NOARG:
                args.append(piped)
            return self.call(name, args, dot, where)
        if head[0] == "field" and head[2][:1] == ["Files"] and head[1] == ("dot",):
            args = [self.arg(o, dot, scope, where) for o in ops[1:]]
            if piped is not _NOARG:
                args.append(piped)
            return self.files(head[2], args, dot, where)
        if len(ops) > 1 or piped is not _NOARG:
            raise TemplateError("%s: %r is not a function, it takes no arguments"
                                % (where, head))
        return self.arg(head, dot, scope, where)

    def arg(self, node, dot, scope, where):
        t = node[0]
        if t == "lit":
            return node[1]
        if t == "dot":
            return dot
        if t == "var":
            if node[1] == "$":
                return scope.get("$", where)
            return scope.get(node[1], where)
        if t == "paren":
            return self.pipeline(node[1], dot, Scope(scope), where)
        if t == "ident":
            if node[1] in LAZY:
                return self.lazy(node[1], [], where)
            return self.call(node[1], [], dot, where)
        if t == "field":
            base = self.arg(node[1], dot, scope, where)
            if node[1] == ("dot",) and node[2][:1] == ["Files"]:
                raise TemplateError("%s: .Files.%s needs its arguments"
                                    % (where, ".".join(node[2][1:])))
            return field(base, node[2], where)
        raise TemplateError("%s: internal: operand %r" % (where, node))

    def files(self, path, args, dot, where):
        if path != ["Files", "Get"] or len(args) != 1:
            raise TemplateError("%s: only .Files.Get PATH is supported" % where)
        full = os.path.join(self.chart_dir, args[0])
        try:
            with open(full) as f:
                return f.read()
        except OSError:
            return ""  # Helm: "" for a file that is not there

    def lazy(self, name, thunks, where):
        if not thunks:
            raise TemplateError("%s: %s needs arguments" % (where, name))
        v = None
        for th in thunks:
            v = th()
            if name == "and" and not truthy(v):
                return v
            if name == "or" and truthy(v):
                return v
        return v

    def call(self, name, a, dot, where):
        f = FUNCS.get(name)
        if name == "include":
            need(a, 2, name, where)
            if not isinstance(a[0], str):
                raise TemplateError("%s: include needs a template name" % where)
            return self.include(a[0], a[1])
        if f is None:
            raise TemplateError("%s: function %r not supported by helmlite" % (where, name))
        try:
            return f(*a)
        except TemplateError as e:
            raise TemplateError("%s: %s" % (where, e))
        except TypeError as e:
            raise TemplateError("%s: %s: wrong arguments %r (%s)" % (where, name, a, e))


class _NoArg:
    pass


_NOARG = _NoArg()


def Scope_root(dot):
    s = Scope()
    s.vars["$"] = dot
    return s


def need(a, n, name, where):
    if len(a) != n:
        raise TemplateError("%s: %s takes %d arguments, got %d" % (where, name, n, len(a)))


def field(base, names, where):
    cur = base
    for i, k in enumerate(names):
        if cur is None:
            raise TemplateError("%s: nil pointer evaluating interface {}.%s (.%s)"
                                % (where, k, ".".join(names[:i + 1])))
        if not isinstance(cur, dict):
            raise TemplateError("%s: can't evaluate field %s in type %s" % (where, k, kind(cur)))
        cur = cur.get(k)
    return cur


# ---- functions ----------------------------------------------------------------------------

def _default(d, *given):
    if not given:
        return d
    if len(given) != 1:
        raise TemplateError("default takes 2 arguments")
    return given[0] if truthy(given[0]) else d


def _required(msg, v):
    if v is None or (isinstance(v, str) and v == ""):
        raise TemplateError("required: %s" % msg)
    return v


def _fail(msg):
    raise TemplateError("fail: %s" % msg)


def _indent(n, s):
    if not isinstance(s, str):
        raise TemplateError("indent of a %s" % kind(s))
    pad = " " * to_int(n)
    return pad + s.replace("\n", "\n" + pad)


def _quote(*xs):
    return " ".join(json.dumps(to_text(x, "quote"), ensure_ascii=False)
                    for x in xs if x is not None)


def _squote(*xs):
    return " ".join("'%s'" % to_text(x, "squote") for x in xs if x is not None)


def _str(fn):
    def g(*xs):
        for x in xs:
            if not isinstance(x, str):
                raise TemplateError("string argument expected, got %s %r" % (kind(x), x))
        return fn(*xs)
    return g


def _cmp(op):
    def g(a, b, *more):
        if op == "eq":
            if more:
                for x in [b] + list(more):
                    _comparable(a, x, op)
                return any(a == x for x in [b] + list(more))
            _comparable(a, b, op)
            return a == b
        if more:
            raise TemplateError("%s takes 2 arguments" % op)
        _comparable(a, b, op)
        return {"ne": a != b, "lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[op]
    return g


def _dict(*kv):
    if len(kv) % 2:
        raise TemplateError("dict needs key value pairs")
    out = {}
    for k, v in zip(kv[::2], kv[1::2]):
        out[to_text(k, "dict key")] = v
    return out


def _index(coll, *keys):
    cur = coll
    for k in keys:
        if isinstance(cur, dict):
            if not isinstance(k, str):
                raise TemplateError("index of a map with %s" % kind(k))
            cur = cur.get(k)
        elif isinstance(cur, list):
            if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k < len(cur):
                raise TemplateError("index out of range: %r" % (k,))
            cur = cur[k]
        elif cur is None:
            raise TemplateError("index of untyped nil")
        else:
            raise TemplateError("can't index item of type %s" % kind(cur))
    return cur


def _set(d, k, v):
    if not isinstance(d, dict):
        raise TemplateError("set on a %s" % kind(d))
    d[k] = v
    return d


def _unset(d, k):
    if not isinstance(d, dict):
        raise TemplateError("unset on a %s" % kind(d))
    d.pop(k, None)
    return d


def _has_key(d, k):
    if not isinstance(d, dict):
        raise TemplateError("hasKey on a %s" % kind(d))
    return k in d


def _omit(d, *keys):
    if not isinstance(d, dict):
        raise TemplateError("omit on a %s" % kind(d))
    return {k: v for k, v in d.items() if k not in keys}


def _dig(*a):
    if len(a) < 3:
        raise TemplateError("dig needs keys, a default and a map")
    keys, dflt, d = a[:-2], a[-2], a[-1]
    cur = d
    for i, k in enumerate(keys):
        if not isinstance(cur, dict):
            raise TemplateError("dig: %s is a %s, not a map" % (".".join(keys[:i]) or "the argument",
                                                             kind(cur)))
        if k not in cur:
            return dflt
        cur = cur[k]
    return cur


def _list_of(x, name):
    if x is None:
        return []
    if not isinstance(x, list):
        raise TemplateError("%s of a %s" % (name, kind(x)))
    return x


def _len(x):
    if x is None:
        return 0
    if isinstance(x, (str, list, dict)):
        return len(x)
    raise TemplateError("len of %s" % kind(x))


def _trunc(n, s):
    n = to_int(n)
    if not isinstance(s, str):
        raise TemplateError("trunc of a %s" % kind(s))
    return s[:n] if n >= 0 else s[n:] if -n < len(s) else s


def _url_parse(s):
    u = urllib.parse.urlsplit(s)
    return {"scheme": u.scheme, "host": u.netloc.rsplit("@", 1)[-1], "hostname": u.hostname or "",
            "path": u.path, "query": u.query, "opaque": "", "fragment": u.fragment,
            "userinfo": u.netloc.rsplit("@", 1)[0] if "@" in u.netloc else ""}


def _ternary(a, b, cond):
    if not isinstance(cond, bool):
        raise TemplateError("ternary: the condition is a %s" % kind(cond))
    return a if cond else b


def _add(*xs):
    return sum(to_int(x) for x in xs)


FUNCS = {
    "default": _default,
    "required": _required,
    "fail": _fail,
    "toYaml": to_yaml,
    "fromYaml": from_yaml,
    "nindent": lambda n, s: "\n" + _indent(n, s),
    "indent": _indent,
    "quote": _quote,
    "squote": _squote,
    "printf": lambda fmt, *a: go_printf(fmt, list(a)),
    "print": lambda *a: "".join(to_text(x, "print") for x in a),
    "toString": lambda x: to_text(x, "toString"),
    "trim": _str(lambda s: s.strip(" \t\r\n\v\f")),
    "trimPrefix": _str(lambda p, s: s[len(p):] if s.startswith(p) else s),
    "trimSuffix": _str(lambda p, s: s[:-len(p)] if p and s.endswith(p) else s),
    "trunc": _trunc,
    "contains": _str(lambda sub, s: sub in s),
    "hasPrefix": _str(lambda p, s: s.startswith(p)),
    "hasSuffix": _str(lambda p, s: s.endswith(p)),
    "lower": _str(lambda s: s.lower()),
    "upper": _str(lambda s: s.upper()),
    "replace": _str(lambda old, new, s: s.replace(old, new)),
    "sha256sum": _str(lambda s: hashlib.sha256(s.encode()).hexdigest()),
    "int": to_int,
    "int64": to_int,
    "add": _add,
    "sub": lambda a, b: to_int(a) - to_int(b),
    "len": _len,
    "not": lambda x: not truthy(x),
    "empty": lambda x: not truthy(x),
    "eq": _cmp("eq"), "ne": _cmp("ne"), "lt": _cmp("lt"), "le": _cmp("le"),
    "gt": _cmp("gt"), "ge": _cmp("ge"),
    "dict": _dict,
    "list": lambda *xs: list(xs),
    "append": lambda l, x: _list_of(l, "append") + [x],
    "has": lambda needle, l: any(deep_equal(needle, x) for x in _list_of(l, "has")),
    "hasKey": _has_key,
    "index": _index,
    "set": _set,
    "unset": _unset,
    "omit": _omit,
    "dig": _dig,
    "kindIs": lambda k, v: kind(v) == k,
    "ternary": _ternary,
    "regexMatch": _str(lambda rx, s: re.search(rx, s) is not None),
    "regexFind": _str(lambda rx, s: (re.search(rx, s).group(0) if re.search(rx, s) else "")),
    "urlParse": _str(_url_parse),
}


# ---- values and output ----------------------------------------------------------------------

def merge(base, over):
    """Helm's coalescing of values over values: maps merge, null deletes a key."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def set_value(values, assignment):
    """helm --set KEY=VALUE (dotted keys; integers int64, true/false, null, else a string)."""
    key, sep, text = assignment.partition("=")
    if not sep or not key:
        raise TemplateError("--set %s: expected key=value" % assignment)
    if re.fullmatch(r"-?[0-9]+", text):
        v = int(text)
    elif text in ("true", "false"):
        v = text == "true"
    elif text == "null":
        v = None
    else:
        v = text
    over = cur = {}
    parts = key.split(".")
    for p in parts[:-1]:
        cur[p] = {}
        cur = cur[p]
    cur[parts[-1]] = v
    return merge(values, over)


def load_values(chart_dir, files=(), sets=(), overrides=None):
    """The chart's values.yaml, then each values file, then the --set assignments, then
    `overrides` (a mapping merged last), as helm coalesces them."""
    with open(os.path.join(chart_dir, "values.yaml")) as f:
        values = floats(yaml.safe_load(f) or {})
    for path in files:
        with open(path) as f:
            values = merge(values, floats(yaml.safe_load(f) or {}))
    for s in sets:
        values = set_value(values, s)
    if overrides:
        values = merge(values, overrides)
    return values


def documents(rendered):
    """[(template, object)] of the rendered templates' YAML documents (empty ones dropped)."""
    out = []
    for rel, text in sorted(rendered.items()):
        if rel.endswith(".txt"):
            continue
        try:
            docs = list(yaml.safe_load_all(text))
        except yaml.YAMLError as e:
            raise TemplateError("%s: rendered text is not YAML: %s" % (rel, e))
        for d in docs:
            if d is not None:
                out.append((rel, d))
    return out
