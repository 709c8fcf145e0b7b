#!/usr/bin/env python3
"""A local stand-in for the AWS edge (CloudFront + the ALB), for infra/smoke.sh.

One HTTPS and one HTTP listener on 127.0.0.1, virtual-hosted by the Host
header like the real thing is by DNS:

  shop.DOMAIN   CloudFront: serves a `generator build` folder as the private
                S3 origin would, through the directory-index function, with
                the custom error responses (S3 answers 403 for a missing key
                when the bucket grants no s3:ListBucket) and the response
                headers of the SecurityHeaders policy. Over HTTP: the
                viewer protocol policy (redirect-to-https: 301).
  api.DOMAIN    The ALB: HTTPS forwarded to the running api, with
  admin.DOMAIN  X-Forwarded-For/-Proto/-Port, and nothing added to the
                answer (the ALB adds no headers). Over HTTP: the HTTP
                listener's redirect (301 to https, same host, path, query).

Everything the template decides is READ FROM edge.yaml at start (the
SecurityHeaders policy, the function's code, the error responses, the default
root object, the viewer protocol policy), so this stand-in cannot drift from
it: a policy setting it does not know, or a changed function, stops it with a
message instead of being ignored.

The certificate is made at start with openssl: a throwaway CA and a server
certificate for the three names (and localhost, 127.0.0.1), in --tls-dir or a
temporary folder. Give curl the CA with --cacert.

For the negative tests: --drop-header NAME leaves NAME out of every answer
(not added on the shop, removed from the api's), --no-redirect serves plain
HTTP instead of redirecting it.

Python 3 standard library only; PyYAML is used when it can be imported (or
from infra/local/.data/venv-moto), else a small parser of the YAML subset the
template uses.
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEFAULT_TEMPLATE = REPO / "infra" / "cloudformation" / "edge.yaml"
MOTO_VENV_PYTHON = HERE / ".data" / "venv-moto" / "bin" / "python"

# The directory-index function this stand-in implements (see rewrite_uri);
# compared, whitespace-normalised, with the template's FunctionCode.
KNOWN_FUNCTION = """
function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.endsWith('/')) {
    request.uri = uri + 'index.html';
  } else if (uri.lastIndexOf('.') < uri.lastIndexOf('/')) {
    request.uri = uri + '/index.html';
  }
  return request;
}
"""

# What the publisher sets as each object's Content-Type (crates/render/src/site.rs).
CONTENT_TYPES = {
    "html": "text/html; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "json": "application/json",
    "xml": "application/xml; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
    "svg": "image/svg+xml",
    "webp": "image/webp",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "avif": "image/avif",
    "gif": "image/gif",
    "ico": "image/x-icon",
    "woff2": "font/woff2",
    "webmanifest": "application/manifest+json",
}

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
}


def log(msg: str) -> None:
    print(f"edge: {msg}", file=sys.stderr, flush=True)


class TemplateError(Exception):
    pass


# --- reading the template --------------------------------------------------------


def load_with_pyyaml(text: str):
    import yaml  # noqa: PLC0415 (optional dependency)

    class Loader(yaml.SafeLoader):
        pass

    def any_tag(loader, suffix, node):  # !Sub, !Ref, !GetAtt, ...: keep the value
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_mapping(node, deep=True)

    Loader.add_multi_constructor("!", any_tag)
    return yaml.load(text, Loader=Loader)  # noqa: S506 (SafeLoader subclass)


def load_with_venv(path: Path):
    """PyYAML from the moto venv, when this interpreter has none."""
    if not MOTO_VENV_PYTHON.exists():
        raise ImportError("no moto venv")
    code = (
        "import json,sys,yaml\n"
        "class L(yaml.SafeLoader): pass\n"
        "def t(l,s,n):\n"
        "  if isinstance(n,yaml.ScalarNode): return l.construct_scalar(n)\n"
        "  if isinstance(n,yaml.SequenceNode): return l.construct_sequence(n,deep=True)\n"
        "  return l.construct_mapping(n,deep=True)\n"
        "L.add_multi_constructor('!',t)\n"
        "json.dump(yaml.load(open(sys.argv[1]),Loader=L),sys.stdout)\n"
    )
    out = subprocess.run(
        [str(MOTO_VENV_PYTHON), "-c", code, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise ImportError(out.stderr.strip() or "the moto venv's python failed")
    return json.loads(out.stdout)


def _scalar(text: str):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    if text.startswith("!"):  # a tag: keep what follows it
        parts = text.split(None, 1)
        return _scalar(parts[1]) if len(parts) > 1 else ""
    low = text.lower()
    if low in ("true", "yes"):
        return True
    if low in ("false", "no"):
        return False
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def _key_value(text: str) -> tuple[str, str, str]:
    """("key", ":", "value") of "key: value" (a key may hold colons, as
    Fn::Sub or AWS:SourceArn do), or (text, "", "") when it is no pair."""
    m = re.match(r"^(\"[^\"]*\"|'[^']*'|[^\s\"'{\[].*?):(?:\s+(.*))?$", text.strip())
    if not m:
        return text, "", ""
    return m.group(1).strip().strip("\"'"), ":", (m.group(2) or "").strip()


def _split_flow(body: str) -> list[str]:
    parts, depth, cur, quote = [], 0, "", None
    for ch in body:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
            cur += ch
        elif ch in "{[":
            depth += 1
            cur += ch
        elif ch in "}]":
            depth -= 1
            cur += ch
        elif ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def _flow(text: str):
    text = text.strip()
    if text.startswith("{") and text.endswith("}"):
        out = {}
        for part in _split_flow(text[1:-1]):
            key, _, value = _key_value(part)
            out[key] = _flow(value)
        return out
    if text.startswith("[") and text.endswith("]"):
        return [_flow(p) for p in _split_flow(text[1:-1])]
    return _scalar(text)


def load_with_mini_parser(text: str):
    """The YAML subset CloudFormation templates here use: block mappings and
    sequences, flow collections of scalars, `|`/`>` block scalars, comments,
    and tags (whose value is kept). Enough for edge.yaml (the infra test
    compares it with PyYAML's reading); not a YAML parser."""
    lines = []
    raw = text.splitlines()
    i = 0
    while i < len(raw):
        line = raw[i]
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped == "---":
            i += 1
            continue
        indent = len(line) - len(line.lstrip(" "))
        content = re.sub(r"\s+#.*$", "", line.strip()) if "#" in line else line.strip()
        # A block scalar: gather the more-indented lines that follow.
        m = re.match(r"^(.*?:)\s*(?:!\S+\s+)?([|>])[-+]?$", content)
        if m:
            block = []
            j = i + 1
            while j < len(raw) and (
                not raw[j].strip() or len(raw[j]) - len(raw[j].lstrip(" ")) > indent
            ):
                block.append(raw[j])
                j += 1
            pad = min(
                (len(b) - len(b.lstrip(" ")) for b in block if b.strip()), default=0
            )
            value = "\n".join(b[pad:] for b in block).rstrip("\n")
            if m.group(2) == ">":  # folded: lines joined by spaces
                value = re.sub(r"(?<!\n)\n(?!\n)", " ", value)
            value += "\n"
            lines.append((indent, m.group(1), value))
            i = j
            continue
        prev = lines[-1][1] if lines else ""
        # where the previous line's key starts ("- Key: v" is a key two deeper)
        prev_key = lines[-1][0] if lines else 0
        if prev.startswith("- "):
            prev_key += len(prev) - len(prev[1:].lstrip())
        if lines and indent > prev_key and lines[-1][2] is None:
            item = prev[1:].strip() if prev.startswith("- ") else prev
            key, sep, value = _key_value(item)
            opens_block = re.fullmatch(r"(!\S+)?", value if sep else item)
            if not opens_block:
                # a plain scalar (or flow collection) continued on this line
                lines[-1] = (lines[-1][0], f"{prev} {content}", None)
                i += 1
                continue
        lines.append((indent, content, None))
        i += 1

    pos = 0

    def parse_block(min_indent: int):
        nonlocal pos
        if pos >= len(lines):
            return None
        indent, content, _ = lines[pos]
        if indent < min_indent:
            return None
        if content.startswith("- ") or content == "-":
            seq = []
            while pos < len(lines) and lines[pos][0] == indent and (
                lines[pos][1].startswith("- ") or lines[pos][1] == "-"
            ):
                item = lines[pos][1][1:].strip()
                block_value = lines[pos][2]
                if not item or re.fullmatch(r"!\S+", item):
                    pos += 1
                    seq.append(parse_block(indent + 1))
                elif _key_value(item)[1]:
                    # "- Key: value" then more keys, deeper than the dash
                    lines[pos] = (indent + 2, item, block_value)
                    seq.append(parse_mapping(indent + 2))
                else:
                    pos += 1
                    seq.append(_flow(item))
            return seq
        return parse_mapping(indent)

    def parse_mapping(indent: int):
        nonlocal pos
        out = {}
        while pos < len(lines) and lines[pos][0] == indent:
            content, block_value = lines[pos][1], lines[pos][2]
            if content.startswith("- "):
                break
            key, sep, value = _key_value(content)
            if not sep:
                raise TemplateError(f"cannot parse line {content!r}")
            pos += 1
            if block_value is not None:
                out[key] = block_value
            elif value and not re.fullmatch(r"!\S+", value):
                out[key] = _flow(value)
            else:
                child = parse_block(indent + 1)
                if child is None and pos < len(lines) and lines[pos][0] == indent:
                    # a sequence at the same indent as its key
                    if lines[pos][1].startswith("- "):
                        child = parse_block(indent)
                out[key] = child
        return out

    return parse_block(0)


def load_template(path: Path, parser: str):
    text = path.read_text(encoding="utf-8")
    if parser in ("auto", "pyyaml"):
        try:
            return load_with_pyyaml(text), "PyYAML"
        except ImportError:
            try:
                return load_with_venv(path), "PyYAML (moto venv)"
            except ImportError as e:
                if parser == "pyyaml":
                    raise TemplateError(f"PyYAML is not available: {e}") from e
    return load_with_mini_parser(text), "the built-in YAML subset parser"


def _bool(v) -> bool:
    return v is True or (isinstance(v, str) and v.lower() == "true")


def policy_headers(config: dict) -> tuple[list[tuple[str, str, bool]], list[str]]:
    """(name, value, override) of every header a ResponseHeadersPolicyConfig
    adds, and the names it removes. Unknown settings are an error."""
    headers: list[tuple[str, str, bool]] = []
    removed: list[str] = []
    known = {
        "Name",
        "Comment",
        "SecurityHeadersConfig",
        "CustomHeadersConfig",
        "RemoveHeadersConfig",
        "ServerTimingHeadersConfig",
    }
    for key in config:
        if key not in known:
            raise TemplateError(
                f"ResponseHeadersPolicyConfig.{key} is not emulated by edge.py; add it there"
            )
    sec = config.get("SecurityHeadersConfig") or {}
    for key, value in sec.items():
        value = value or {}
        override = _bool(value.get("Override", False))
        if key == "StrictTransportSecurity":
            v = f"max-age={int(value['AccessControlMaxAgeSec'])}"
            if _bool(value.get("IncludeSubdomains", False)):
                v += "; includeSubDomains"
            if _bool(value.get("Preload", False)):
                v += "; preload"
            headers.append(("Strict-Transport-Security", v, override))
        elif key == "ContentTypeOptions":
            headers.append(("X-Content-Type-Options", "nosniff", override))
        elif key == "FrameOptions":
            headers.append(("X-Frame-Options", str(value["FrameOption"]), override))
        elif key == "ReferrerPolicy":
            headers.append(("Referrer-Policy", str(value["ReferrerPolicy"]), override))
        elif key == "ContentSecurityPolicy":
            headers.append(
                ("Content-Security-Policy", str(value["ContentSecurityPolicy"]), override)
            )
        elif key == "XSSProtection":
            if _bool(value.get("Protection", False)):
                v = "1"
                if _bool(value.get("ModeBlock", False)):
                    v += "; mode=block"
                if value.get("ReportUri"):
                    v += f"; report={value['ReportUri']}"
            else:
                v = "0"
            headers.append(("X-XSS-Protection", v, override))
        else:
            raise TemplateError(
                f"SecurityHeadersConfig.{key} is not emulated by edge.py; add it there"
            )
    for item in (config.get("CustomHeadersConfig") or {}).get("Items") or []:
        headers.append((str(item["Header"]), str(item["Value"]), _bool(item.get("Override"))))
    for item in (config.get("RemoveHeadersConfig") or {}).get("Items") or []:
        removed.append(str(item["Header"]))
    return headers, removed


def _normalise_js(code: str) -> str:
    return re.sub(r"\s+", "", code)


class Edge:
    """What the template says the edge does."""

    def __init__(self, template: dict):
        resources = template.get("Resources") or {}
        dist = self._one(resources, "AWS::CloudFront::Distribution")
        config = dist["Properties"]["DistributionConfig"]
        behavior = config["DefaultCacheBehavior"]

        self.default_root = config.get("DefaultRootObject") or ""
        self.viewer_protocol = behavior.get("ViewerProtocolPolicy", "allow-all")
        self.methods = [m.upper() for m in behavior.get("AllowedMethods") or ["GET", "HEAD"]]

        policy_ref = behavior.get("ResponseHeadersPolicyId")
        self.policy_name = self._logical_id(policy_ref)
        policy = resources.get(self.policy_name) if self.policy_name else None
        if not policy or policy.get("Type") != "AWS::CloudFront::ResponseHeadersPolicy":
            raise TemplateError(
                f"the default cache behaviour's ResponseHeadersPolicyId ({policy_ref!r}) "
                "is not a ResponseHeadersPolicy of this template"
            )
        self.headers, self.removed = policy_headers(
            policy["Properties"]["ResponseHeadersPolicyConfig"]
        )

        self.directory_index = False
        for assoc in behavior.get("FunctionAssociations") or []:
            name = self._logical_id(assoc.get("FunctionARN"))
            fn = resources.get(name) or {}
            code = (fn.get("Properties") or {}).get("FunctionCode", "")
            if assoc.get("EventType") != "viewer-request" or _normalise_js(
                code
            ) != _normalise_js(KNOWN_FUNCTION):
                raise TemplateError(
                    f"the CloudFront function {name} ({assoc.get('EventType')}) is not the "
                    "directory-index function edge.py implements; update rewrite_uri and "
                    "KNOWN_FUNCTION in infra/local/edge.py"
                )
            self.directory_index = True

        self.errors = {}
        for e in config.get("CustomErrorResponses") or []:
            self.errors[int(e["ErrorCode"])] = (
                int(e.get("ResponseCode", e["ErrorCode"])),
                e.get("ResponsePagePath"),
            )

    @staticmethod
    def _logical_id(ref) -> str | None:
        """The resource a !Ref / !GetAtt (short or long form) names."""
        if isinstance(ref, dict) and len(ref) == 1:
            ref = next(iter(ref.values()))
        if isinstance(ref, list) and ref:
            ref = ref[0]
        return str(ref).split(".")[0] if isinstance(ref, str) else None

    @staticmethod
    def _one(resources: dict, kind: str) -> dict:
        found = [r for r in resources.values() if isinstance(r, dict) and r.get("Type") == kind]
        if len(found) != 1:
            raise TemplateError(f"expected one {kind} in the template, found {len(found)}")
        return found[0]

    def rewrite_uri(self, uri: str) -> str:
        """The DirectoryIndexFunction, in Python."""
        if not self.directory_index:
            return uri
        if uri.endswith("/"):
            return uri + "index.html"
        if uri.rfind(".") < uri.rfind("/"):
            return uri + "/index.html"
        return uri


# --- the certificate ---------------------------------------------------------------


def make_certificates(tls_dir: Path, names: list[str]) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for `names`, kept if present."""
    ca_crt, ca_key = tls_dir / "ca.crt", tls_dir / "ca.key"
    crt, key = tls_dir / "server.crt", tls_dir / "server.key"
    if all(p.exists() for p in (ca_crt, ca_key, crt, key)):
        return ca_crt, crt, key
    tls_dir.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        out = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"openssl {args[0]} failed: {out.stderr.strip()}")

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl(
        "req", "-x509", *ec, "-days", "2",
        "-subj", "/CN=Shopfront edge stand-in test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout", str(ca_key), "-out", str(ca_crt),
    )  # fmt: skip
    csr = tls_dir / "server.csr"
    openssl("req", "-new", *ec, "-subj", f"/CN={names[0]}", "-keyout", str(key), "-out", str(csr))
    san = ",".join([f"DNS:{n}" for n in names] + ["DNS:localhost", "IP:127.0.0.1"])
    ext = tls_dir / "server.ext"
    ext.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        f"subjectAltName={san}\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n",
        encoding="utf-8",
    )
    openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(crt),
    )  # fmt: skip
    for p in (ca_key, key):
        p.chmod(0o600)
    return ca_crt, crt, key


# --- the servers ---------------------------------------------------------------------


class Config:
    def __init__(self, args, edge: Edge):
        self.edge = edge
        self.site = Path(args.site).resolve()
        self.api = urllib.parse.urlsplit(args.api) if args.api else None
        self.shop_host = f"shop.{args.domain}"
        self.api_host = f"api.{args.domain}"
        self.admin_host = f"admin.{args.domain}"
        self.drop = {h.lower() for h in args.drop_header}
        self.no_redirect = args.no_redirect
        self.https_port = 0  # set once bound


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    server_version = "shopfront-edge-stand-in"
    config: Config  # set on the subclass per listener
    https: bool

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        scheme = "https" if self.https else "http"
        log(f"{scheme} {self.headers.get('Host', '-')} {format % args}")

    # Every method goes through one place.
    def do_GET(self):  # noqa: N802
        self.dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET  # noqa: N815

    def dispatch(self):
        cfg = self.config
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
        if host == cfg.shop_host:
            role = "shop"
        elif host in (cfg.api_host, cfg.admin_host):
            role = "alb"
        else:
            self.send(421, [("Content-Type", "text/plain; charset=utf-8")], b"unknown host\n")
            return
        if not self.https and not cfg.no_redirect:
            if role == "shop" and cfg.edge.viewer_protocol == "https-only":
                self.send(403, [("Content-Type", "text/plain; charset=utf-8")], b"HTTPS only\n")
                return
            if role == "alb" or cfg.edge.viewer_protocol == "redirect-to-https":
                # The ALB's redirect names the port (Port: "443"), CloudFront's
                # only a non-default one; CloudFront answers 301 to GET/HEAD and
                # 307 to the rest, the ALB 301 (StatusCode: HTTP_301).
                if role == "alb":
                    port = f":{cfg.https_port}"
                    status = 301
                else:
                    port = "" if cfg.https_port == 443 else f":{cfg.https_port}"
                    status = 301 if self.command in ("GET", "HEAD") else 307
                location = f"https://{host}{port}{self.path}"
                self.send(status, [("Location", location), ("Content-Length", "0")], b"")
                return
        if role == "shop":
            self.shop()
        else:
            self.alb()

    def send(self, status: int, headers: list[tuple[str, str]], body: bytes):
        drop = self.config.drop
        self.log_request(status)
        self.send_response_only(status)
        headers = [(n, v) for n, v in headers if n.lower() not in drop]
        names = {n.lower() for n, _ in headers}
        if "server" not in names:
            headers.insert(0, ("Server", self.server_version))
        if "date" not in names:
            headers.insert(1, ("Date", self.date_time_string()))
        if "content-length" not in names:
            headers.append(("Content-Length", str(len(body))))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    # -- CloudFront in front of the bucket
    def origin(self, key_uri: str) -> tuple[int, list[tuple[str, str]], bytes]:
        """What S3 answers CloudFront for a URI (403 for a missing key: the
        bucket grants no s3:ListBucket)."""
        key = urllib.parse.unquote(key_uri.lstrip("/"))
        root = self.config.site
        path = (root / key).resolve()
        if key and (path == root or root in path.parents) and path.is_file():
            ext = path.name.rsplit(".", 1)[-1].lower() if "." in path.name else ""
            ctype = CONTENT_TYPES.get(ext, "application/octet-stream")
            return 200, [("Content-Type", ctype)], path.read_bytes()
        return (
            403,
            [("Content-Type", "application/xml")],
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>"
            b"<Message>Access Denied</Message></Error>",
        )

    def shop(self):
        edge = self.config.edge
        if self.command not in edge.methods:
            self.send(403, self.policy([("Content-Type", "text/plain")]), b"method not allowed\n")
            return
        uri = urllib.parse.urlsplit(self.path).path or "/"
        if uri == "/" and edge.default_root and not edge.directory_index:
            uri = "/" + edge.default_root
        status, headers, body = self.origin(edge.rewrite_uri(uri))
        if status in edge.errors:
            code, page = edge.errors[status]
            if page:
                _, headers, body = self.origin(page)
            status = code
        headers = [(n, v) for n, v in headers if n.lower() not in {r.lower() for r in edge.removed}]
        self.send(status, self.policy(headers), body)

    def policy(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The response headers policy: added, or replacing the origin's when
        it overrides."""
        out = list(headers)
        for name, value, override in self.config.edge.headers:
            present = any(n.lower() == name.lower() for n, _ in out)
            if present and not override:
                continue
            out = [(n, v) for n, v in out if n.lower() != name.lower()]
            out.append((name, value))
        return out

    # -- the ALB in front of the api
    def alb(self):
        api = self.config.api
        if api is None:
            self.send(503, [("Content-Type", "text/plain")], b"no --api upstream\n")
            return
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding"):
            self.send(411, [("Content-Type", "text/plain")], b"send a Content-Length\n")
            return
        body = self.rfile.read(int(length)) if length else None
        # The request's headers as they came (repeated ones too, and Host),
        # with the X-Forwarded-* the ALB sets.
        headers = [
            (n, v)
            for n, v in self.headers.items()
            if n.lower() not in HOP_BY_HOP and not n.lower().startswith("x-forwarded-")
        ]
        peer = self.client_address[0]
        prior = self.headers.get("X-Forwarded-For")
        headers += [
            ("X-Forwarded-For", f"{prior}, {peer}" if prior else peer),
            ("X-Forwarded-Proto", "https" if self.https else "http"),
            ("X-Forwarded-Port", str(self.server.server_address[1])),
        ]
        conn = http.client.HTTPConnection(api.hostname, api.port or 80, timeout=60)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as e:
            log(f"upstream {api.geturl()}: {e}")
            self.send(502, [("Content-Type", "text/html")], b"<html>502 Bad Gateway</html>\n")
            return
        finally:
            conn.close()
        head = self.command == "HEAD"  # keeps the upstream's Content-Length
        out = [
            (n, v)
            for n, v in resp.getheaders()
            if n.lower() not in HOP_BY_HOP and (head or n.lower() != "content-length")
        ]
        if not head:
            out.append(("Content-Length", str(len(data))))
        self.send(resp.status, out, data)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    tls: ssl.SSLContext | None = None

    def finish_request(self, request, client_address):
        # The TLS handshake happens here, in the request's thread.
        if self.tls is not None:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                log(f"TLS handshake with {client_address[0]} failed: {e}")
                return
        super().finish_request(request, client_address)


def serve(cfg: Config, bind: str, port: int, tls: ssl.SSLContext | None) -> Server:
    handler = type("BoundHandler", (Handler,), {"config": cfg, "https": tls is not None})
    server = Server((bind, port), handler)
    server.tls = tls
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    ).start()
    return server


def main() -> int:
    ap = argparse.ArgumentParser(
        description="A local CloudFront + ALB stand-in (see the module docstring).",
    )
    ap.add_argument("--site", help="the `generator build` folder the shop serves")
    ap.add_argument("--api", help="the running api, e.g. http://127.0.0.1:8080")
    ap.add_argument("--domain", default="localhost",
                    help="serves shop., api. and admin. of it (default localhost)")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--https-port", type=int, default=8443, help="0: any free port")
    ap.add_argument("--http-port", type=int, default=8080, help="0: any free port")
    ap.add_argument("--tls-dir", help="where the CA and certificate go (kept, and reused "
                    "when present); default a temporary folder removed at exit")
    ap.add_argument("--template", default=str(DEFAULT_TEMPLATE), help="edge.yaml")
    ap.add_argument("--yaml-parser", choices=["auto", "pyyaml", "mini"], default="auto")
    ap.add_argument("--drop-header", action="append", default=[], metavar="NAME",
                    help="leave this header out of every answer (repeatable)")
    ap.add_argument("--no-redirect", action="store_true",
                    help="serve plain HTTP as HTTPS instead of redirecting it")
    ap.add_argument("--ready-file", help="written once listening: ca=, https_port=, http_port=")
    ap.add_argument("--print-headers", action="store_true",
                    help="print the shop's response headers the template declares, and exit")
    args = ap.parse_args()  # fmt: skip

    try:
        template, parser = load_template(Path(args.template), args.yaml_parser)
        edge = Edge(template)
    except (TemplateError, KeyError, TypeError, AttributeError, ValueError) as e:
        log(f"cannot read {args.template}: {type(e).__name__}: {e}")
        return 2
    log(f"read {args.template} with {parser}: policy {edge.policy_name}, "
        f"viewer protocol {edge.viewer_protocol}, errors {edge.errors}")  # fmt: skip
    if args.print_headers:
        for name, value, _ in edge.headers:
            print(f"{name}: {value}")
        for name in edge.removed:
            print(f"-{name}")
        return 0
    if not args.site or not Path(args.site, "index.html").is_file():
        log("--site must be a `generator build` folder (with index.html)")
        return 2

    cfg = Config(args, edge)
    own_tls = args.tls_dir is None
    tls_dir = Path(args.tls_dir) if args.tls_dir else Path(tempfile.mkdtemp(prefix="edge-tls-"))
    try:
        names = [cfg.shop_host, cfg.api_host, cfg.admin_host]
        ca, crt, key = make_certificates(tls_dir, names)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(crt, key)

        https = serve(cfg, args.bind, args.https_port, ctx)
        cfg.https_port = https.server_address[1]
        http_ = serve(cfg, args.bind, args.http_port, None)
        http_port = http_.server_address[1]

        dropped = f", dropping {', '.join(sorted(cfg.drop))}" if cfg.drop else ""
        redirect = ", NOT redirecting HTTP" if cfg.no_redirect else ""
        log(f"https://{{shop,api,admin}}.{args.domain}:{cfg.https_port} and "
            f"http://...:{http_port} on {args.bind}; CA {ca}{dropped}{redirect}")  # fmt: skip
        if args.ready_file:
            tmp = Path(args.ready_file + ".tmp")
            tmp.write_text(
                f"ca={ca}\nhttps_port={cfg.https_port}\nhttp_port={http_port}\n", encoding="utf-8"
            )
            tmp.replace(args.ready_file)

        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        log("stopping")
        https.shutdown()
        http_.shutdown()
        return 0
    except (OSError, RuntimeError) as e:
        log(f"cannot start: {e}")
        return 1
    finally:
        if own_tls:
            shutil.rmtree(tls_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
