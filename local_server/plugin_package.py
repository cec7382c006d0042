"""`bge-local package-plugin`: build the Dify plugin package (``dist/bge_local-<version>.difypkg``).

A ``.difypkg`` is a plain zip of the plugin folder. This builds it the way ``dify plugin package`` does — the
files left after ``.difyignore`` (gitignore syntax), relative ``/`` paths, no directory entries, Deflate, no
zip comment — and first makes the checks the Dify plugin daemon makes when it installs a package, so a bad
package fails here rather than in a user's Dify:

* manifest fields and their formats (version, author, name, label, description, icon, created_at, resource,
  plugins, meta, and a model plugin declaring nothing but models);
* every icon the manifest and the provider name is in ``_assets/``;
* the provider and model YAML files parse and name valid model types, form types and source files;
* the uncompressed size stays under the daemon's limit (50 MB by default).

It also refuses to package anything outside the plugin's own files (the server, tests, …): such a file means
``.difyignore`` needs a line. Standard library only; it uses PyYAML when installed and otherwise reads the
plugin's YAML with a small reader for the block-style subset these files use.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_MAX_SIZE = 50 * 1024 * 1024  # the daemon's default MAX_PLUGIN_PACKAGE_SIZE (uncompressed)
IGNORE_FILE = ".difyignore"
# Everything in the package must sit under one of these (the plugin's own files).
ALLOWED_ROOTS = (
    "manifest.yaml",
    "main.py",
    "requirements.txt",
    "README.md",
    "PRIVACY.md",
    "LICENSE",
    "provider/",
    "models/text_embedding/",
    "models/rerank/",
    "_assets/",
)
# Zip entry timestamp: fixed, so that the same sources give the same bytes.
ZIP_DATE = (2024, 1, 1, 0, 0, 0)

VERSION_RE = re.compile(r"^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$")
AUTHOR_RE = re.compile(r"^[a-z0-9_-]{1,64}$")
NAME_RE = re.compile(r"^[a-z0-9_-]{1,128}$")
MODEL_TYPES = {"llm", "text-embedding", "rerank", "speech2text", "moderation", "tts", "text2img"}
MODEL_TYPE_KEYS = {"llm", "text_embedding", "rerank", "speech2text", "moderation", "tts"}
CONFIGURATE_METHODS = {"predefined-model", "customizable-model"}
FORM_TYPES = {"text-input", "secret-input", "select", "radio", "switch"}
ARCHES = {"amd64", "arm64"}
OTHER_EXTENSIONS = ("tools", "endpoints", "agent_strategies", "datasources", "triggers")
FORBIDDEN_REQUIREMENTS = re.compile(r"^\s*(torch|flagembedding|transformers|sentence[-_]transformers)\b", re.I | re.M)


class PackageError(Exception):
    """The plugin cannot be packaged; the message says why and what to change."""


# ---------------------------------------------------------------------------------------------------------------
# .difyignore (gitignore syntax)
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IgnoreRule:
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool
    anchored: bool


def _glob_to_regex(glob: str) -> str:
    out = []
    i = 0
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("/**", i) and i + 3 == len(glob):
            out.append("/.*")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = glob.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
                i += 1
            else:
                cls = glob[i + 1 : end]
                if cls.startswith("!"):
                    cls = "^" + cls[1:]
                out.append(f"[{cls}]")
                i = end + 1
        elif c == "\\" and i + 1 < len(glob):
            out.append(re.escape(glob[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def parse_ignore(text: str) -> list[IgnoreRule]:
    rules = []
    for line in text.splitlines():
        line = line.rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        line = line.strip()
        negate = line.startswith("!")
        if negate:
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        anchored = "/" in line
        line = line.lstrip("/")
        if not line:
            continue
        rules.append(IgnoreRule(re.compile(_glob_to_regex(line) + r"\Z"), negate, dir_only, anchored))
    return rules


def is_ignored(rel_path: str, is_dir: bool, rules: list[IgnoreRule]) -> bool:
    """Git's rule: the last matching pattern decides. (A parent folder that is ignored is never walked.)"""
    name = rel_path.rsplit("/", 1)[-1]
    ignored = False
    for rule in rules:
        if rule.dir_only and not is_dir:
            continue
        target = rel_path if rule.anchored else name
        if rule.regex.match(target):
            ignored = not rule.negate
    return ignored


def collect_files(source: Path, rules: list[IgnoreRule]) -> list[str]:
    """Relative ``/`` paths of the files to package, sorted."""
    files = []
    for dirpath, dirnames, filenames in os.walk(source):
        rel_dir = Path(dirpath).relative_to(source).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        kept = []
        for d in sorted(dirnames):
            full = Path(dirpath) / d
            if full.is_symlink() or is_ignored(rel_dir + d, True, rules):
                continue
            kept.append(d)
        dirnames[:] = kept
        for f in sorted(filenames):
            full = Path(dirpath) / f
            rel = rel_dir + f
            if is_ignored(rel, False, rules) or full.is_symlink() or not full.is_file():
                continue
            files.append(rel)
    return sorted(files)


# ---------------------------------------------------------------------------------------------------------------
# YAML: PyYAML when installed, else a reader for the block-style subset the plugin's files use
# ---------------------------------------------------------------------------------------------------------------


class _MiniYAML:
    """Block mappings and sequences, plain and quoted scalars, ``>``/``|`` block scalars, ``{}``/``[]``."""

    def __init__(self, text: str, name: str):
        self.name = name
        self.lines: list[tuple[int, str, int]] = []  # (indent, content, line number)
        self.raw = text.splitlines()
        for no, line in enumerate(self.raw, 1):
            if "\t" in line[: len(line) - len(line.lstrip())]:
                self._fail(no, "tab indentation")
            stripped = line.strip()
            if not stripped or stripped.startswith("#") or stripped == "---":
                continue
            self.lines.append((len(line) - len(line.lstrip(" ")), line.strip(), no))
        self.i = 0

    def _fail(self, no: int, why: str) -> None:
        raise PackageError(f"{self.name}, line {no}: {why} (install PyYAML for full YAML support)")

    def load(self) -> Any:
        if not self.lines:
            return None
        value = self._block(self.lines[0][0])
        if self.i < len(self.lines):
            self._fail(self.lines[self.i][2], "unexpected indentation")
        return value

    def _block(self, indent: int) -> Any:
        if self.lines[self.i][1].startswith("- ") or self.lines[self.i][1] == "-":
            return self._sequence(indent)
        return self._mapping(indent)

    def _sequence(self, indent: int) -> list:
        out = []
        while self.i < len(self.lines):
            ind, content, no = self.lines[self.i]
            if ind < indent:
                break
            if ind > indent or not (content.startswith("- ") or content == "-"):
                self._fail(no, "bad sequence item")
            item = content[1:].strip()
            if not item:
                self.i += 1
                out.append(self._nested(indent, no))
            elif re.match(r"^[^\"'{\[][^:]*:(\s|$)", item):
                # "- key: value" starts a mapping whose keys sit two columns in
                self.lines[self.i] = (ind + 2, item, no)
                out.append(self._mapping(ind + 2))
            else:
                self.i += 1
                out.append(self._scalar(item, no))
        return out

    def _mapping(self, indent: int) -> dict:
        out: dict[str, Any] = {}
        while self.i < len(self.lines):
            ind, content, no = self.lines[self.i]
            if ind < indent:
                break
            if ind > indent:
                self._fail(no, "unexpected indentation")
            m = re.match(r"^(\"[^\"]*\"|'[^']*'|[^:#]+?)\s*:(\s+(.*))?$", content)
            if not m:
                self._fail(no, "expected 'key: value'")
            key = m.group(1).strip("\"'")
            rest = (m.group(3) or "").strip()
            self.i += 1
            if rest.startswith("#"):
                rest = ""
            if not rest:
                out[key] = self._nested(indent, no)
            elif rest[0] in ">|":
                out[key] = self._block_scalar(indent, rest)
            else:
                out[key] = self._scalar(rest, no)
        return out

    def _nested(self, indent: int, no: int) -> Any:
        if self.i < len(self.lines) and self.lines[self.i][0] > indent:
            return self._block(self.lines[self.i][0])
        if self.i < len(self.lines) and self.lines[self.i][0] == indent and self.lines[self.i][1].startswith("- "):
            return self._sequence(indent)
        return None

    def _block_scalar(self, indent: int, header: str) -> str:
        folded = header[0] == ">"
        chomp = header[1:2]
        start_no = self.lines[self.i - 1][2]  # raw line number of the key
        body = []
        no = start_no
        while no < len(self.raw):
            line = self.raw[no]
            if line.strip() and len(line) - len(line.lstrip(" ")) <= indent:
                break
            body.append(line)
            no += 1
        while self.i < len(self.lines) and self.lines[self.i][2] <= no:
            self.i += 1
        while body and not body[-1].strip():
            body.pop()
        if not body:
            return ""
        cut = min(len(b) - len(b.lstrip(" ")) for b in body if b.strip())
        body = [b[cut:] for b in body]
        text = " ".join(b.strip() for b in body) if folded else "\n".join(body)
        return text if chomp == "-" else text + "\n"

    def _scalar(self, text: str, no: int) -> Any:
        if text[0] in "\"'":
            quote = text[0]
            end = text.find(quote, 1)
            while quote == "'" and end != -1 and text[end : end + 2] == "''":
                end = text.find(quote, end + 2)
            if end == -1:
                self._fail(no, "unterminated quoted string")
            tail = text[end + 1 :].strip()
            if tail and not tail.startswith("#"):
                self._fail(no, "text after a quoted string")
            inner = text[1:end]
            if quote == '"':
                return json.loads('"' + inner + '"')
            return inner.replace("''", "'")
        text = re.sub(r"\s+#.*$", "", text).strip()
        if text in ("{}", "[]"):
            return {} if text == "{}" else []
        if text[0] in "{[&*!|>%@`":
            self._fail(no, f"unsupported YAML syntax {text[:20]!r}")
        if text in ("true", "True", "TRUE"):
            return True
        if text in ("false", "False", "FALSE"):
            return False
        if text in ("null", "Null", "NULL", "~"):
            return None
        if re.fullmatch(r"[-+]?\d+", text):
            return int(text)
        if re.fullmatch(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?", text):
            return float(text)
        return text


def load_yaml(text: str, name: str = "<yaml>") -> Any:
    try:
        import yaml  # optional: the base install of bge-local has no dependencies
    except ImportError:
        return _MiniYAML(text, name).load()
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise PackageError(f"{name} is not valid YAML: {e}") from None


# ---------------------------------------------------------------------------------------------------------------
# Checks (what the Dify plugin daemon checks when it installs a package)
# ---------------------------------------------------------------------------------------------------------------


def _i18n(value: Any, where: str, problems: list[str]) -> None:
    if not isinstance(value, dict) or not isinstance(value.get("en_US"), str) or not value["en_US"].strip():
        problems.append(f"{where} needs an en_US text")


def _is_version(text: Any) -> bool:
    return isinstance(text, str) and bool(re.fullmatch(r"\d+(\.\d+){0,3}([-.+]?\w+)*", text))


def check_manifest(manifest: Any, files: set[str]) -> list[str]:
    p: list[str] = []
    if not isinstance(manifest, dict):
        return ["manifest.yaml is not a mapping"]
    version = manifest.get("version")
    if not isinstance(version, str) or not VERSION_RE.match(version):
        p.append(f"manifest version {version!r} must look like 1.2.3 (quote it in YAML)")
    if manifest.get("type") != "plugin":
        p.append("manifest type must be 'plugin'")
    if not isinstance(manifest.get("author"), str) or not AUTHOR_RE.match(manifest["author"]):
        p.append("manifest author must match ^[a-z0-9_-]{1,64}$")
    if not isinstance(manifest.get("name"), str) or not NAME_RE.match(manifest["name"]):
        p.append("manifest name must match ^[a-z0-9_-]{1,128}$")
    _i18n(manifest.get("label"), "manifest label", p)
    _i18n(manifest.get("description"), "manifest description", p)
    for key in ("icon", "icon_dark"):
        icon = manifest.get(key)
        if key == "icon" and not icon:
            p.append("manifest icon is missing")
        if icon and f"_assets/{icon}" not in files:
            p.append(f"manifest {key} {icon!r} is not in _assets/")
    created = manifest.get("created_at")
    if isinstance(created, dt.datetime):
        pass
    elif not isinstance(created, str):
        p.append("manifest created_at must be an RFC 3339 time, e.g. 2026-01-01T00:00:00Z")
    else:
        try:
            dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            p.append(f"manifest created_at {created!r} is not an RFC 3339 time")
    resource = manifest.get("resource")
    memory = resource.get("memory") if isinstance(resource, dict) else None
    if not isinstance(memory, int) or isinstance(memory, bool) or memory <= 0:
        p.append("manifest resource.memory must be a positive number of bytes")
    plugins = manifest.get("plugins")
    if not isinstance(plugins, dict) or not plugins.get("models"):
        p.append("manifest plugins.models must list the provider YAML")
    else:
        for other in OTHER_EXTENSIONS:
            if plugins.get(other):
                p.append(f"a model plugin may not also declare plugins.{other}")
        for path in plugins["models"]:
            if not isinstance(path, str) or len(path) > 128 or path not in files:
                p.append(f"manifest plugins.models entry {path!r} is not a file in the package")
    meta = manifest.get("meta")
    if not isinstance(meta, dict):
        p.append("manifest meta is missing")
    else:
        if not _is_version(str(meta.get("version", ""))):
            p.append("manifest meta.version must be a version, e.g. 0.0.1")
        arch = meta.get("arch")
        if not isinstance(arch, list) or not arch or not set(arch) <= ARCHES:
            p.append("manifest meta.arch must list amd64 and/or arm64")
        runner = meta.get("runner") if isinstance(meta.get("runner"), dict) else {}
        if runner.get("language") != "python":
            p.append("manifest meta.runner.language must be python")
        if not str(runner.get("version") or "").strip():
            p.append("manifest meta.runner.version is missing")
        entry = str(runner.get("entrypoint") or "")
        if not entry or f"{entry.replace('.', '/')}.py" not in files:
            p.append(f"manifest meta.runner.entrypoint {entry!r} has no .py file in the package")
        mdv = meta.get("minimum_dify_version")
        if mdv is not None and not _is_version(str(mdv)):
            p.append(f"manifest meta.minimum_dify_version {mdv!r} is not a version")
    return p


def _check_forms(forms: Any, where: str, p: list[str]) -> None:
    if not isinstance(forms, list) or len(forms) > 32:
        p.append(f"{where} must be a list of at most 32 fields")
        return
    for form in forms:
        if not isinstance(form, dict) or not form.get("variable"):
            p.append(f"{where}: a field has no variable")
            continue
        name = f"{where}.{form['variable']}"
        _i18n(form.get("label"), f"{name} label", p)
        if form.get("type") not in FORM_TYPES:
            p.append(f"{name} type {form.get('type')!r} is not one of {sorted(FORM_TYPES)}")
        default = form.get("default")
        if default is not None and (not isinstance(default, str) or len(default) >= 256):
            p.append(f"{name} default must be a string (quote it in YAML)")
        for opt in form.get("options") or []:
            if not isinstance(opt, dict) or not isinstance(opt.get("value"), str):
                p.append(f"{name} option values must be strings")
            else:
                _i18n(opt.get("label"), f"{name} option {opt['value']!r} label", p)
        if form.get("type") == "select" and default is not None:
            values = [o.get("value") for o in form.get("options") or [] if isinstance(o, dict)]
            if default not in values:
                p.append(f"{name} default {default!r} is not one of its options")


def check_provider(path: str, provider: Any, files: set[str], read: Any) -> list[str]:
    p: list[str] = []
    if not isinstance(provider, dict):
        return [f"{path} is not a mapping"]
    if not provider.get("provider"):
        p.append(f"{path}: provider name is missing")
    _i18n(provider.get("label"), f"{path} label", p)
    for key in ("icon_small", "icon_large", "icon_small_dark", "icon_large_dark"):
        icons = provider.get(key)
        if icons is None:
            continue
        if not isinstance(icons, dict):
            p.append(f"{path} {key} must be a mapping of language to file")
            continue
        for lang, icon in icons.items():
            if f"_assets/{icon}" not in files:
                p.append(f"{path} {key}.{lang} {icon!r} is not in _assets/")
    types = provider.get("supported_model_types")
    if not isinstance(types, list) or not types or not set(types) <= MODEL_TYPES:
        p.append(f"{path} supported_model_types must list model types from {sorted(MODEL_TYPES)}")
    methods = provider.get("configurate_methods")
    if not isinstance(methods, list) or not methods or not set(methods) <= CONFIGURATE_METHODS:
        p.append(f"{path} configurate_methods must list {sorted(CONFIGURATE_METHODS)}")
    help_ = provider.get("help")
    if help_ is not None:
        if not isinstance(help_, dict):
            p.append(f"{path} help must have title and url")
        else:
            _i18n(help_.get("title"), f"{path} help.title", p)
            _i18n(help_.get("url"), f"{path} help.url", p)
    pcs = provider.get("provider_credential_schema")
    if pcs is not None:
        _check_forms((pcs or {}).get("credential_form_schemas"), f"{path} provider_credential_schema", p)
    mcs = provider.get("model_credential_schema")
    if mcs is not None:
        if not isinstance(mcs, dict):
            p.append(f"{path} model_credential_schema must be a mapping")
        else:
            _i18n((mcs.get("model") or {}).get("label"), f"{path} model_credential_schema.model.label", p)
            _check_forms(mcs.get("credential_form_schemas"), f"{path} model_credential_schema", p)
    if "customizable-model" in (methods or []) and not mcs:
        p.append(f"{path} declares customizable-model but has no model_credential_schema")
    models = provider.get("models") or {}
    if not isinstance(models, dict):
        p.append(f"{path} models must map model types to predefined YAML globs")
        models = {}
    for model_type, spec in models.items():
        if model_type not in MODEL_TYPE_KEYS:
            p.append(f"{path} models.{model_type} is not a model type")
            continue
        for pattern in (spec or {}).get("predefined") or []:
            glob = re.compile(_glob_to_regex(pattern) + r"\Z")
            matched = [f for f in sorted(files) if glob.match(f) and not f.endswith("_position.yaml")]
            if not matched:
                p.append(f"{path} models.{model_type}.predefined {pattern!r} matches no file in the package")
            for model_file in matched:
                model = read(model_file)
                if not isinstance(model, dict) or not model.get("model"):
                    p.append(f"{model_file}: model name is missing")
                    continue
                if model.get("model_type") not in MODEL_TYPES:
                    p.append(f"{model_file}: model_type {model.get('model_type')!r} is not a model type")
                elif model["model_type"].replace("-", "_") != model_type:
                    p.append(f"{model_file}: a {model['model_type']} model listed under models.{model_type}")
                if not isinstance(model.get("model_properties", {}), dict):
                    p.append(f"{model_file}: model_properties must be a mapping")
    python = ((provider.get("extra") or {}).get("python")) or {}
    sources = [python.get("provider_source"), *(python.get("model_sources") or [])]
    if not python.get("provider_source"):
        p.append(f"{path} extra.python.provider_source is missing")
    for src in sources:
        if src and src not in files:
            p.append(f"{path} names {src!r}, which is not in the package")
    return p


@dataclass
class PackageInfo:
    name: str
    version: str
    files: list[str]
    size: int


def inspect_source(source: Path, max_size: int = DEFAULT_MAX_SIZE) -> PackageInfo:
    """Pick the files, run every check, and say what would be packaged. Raises PackageError."""
    source = source.resolve()
    manifest_path = source / "manifest.yaml"
    if not manifest_path.is_file():
        raise PackageError(f"{source} has no manifest.yaml: pass --source <the folder with the plugin>")
    ignore = source / IGNORE_FILE
    rules = parse_ignore(ignore.read_text(encoding="utf-8")) if ignore.is_file() else []
    files = collect_files(source, rules)
    file_set = set(files)

    stray = [f for f in files if not any(f == r or (r.endswith("/") and f.startswith(r)) for r in ALLOWED_ROOTS)]
    if stray:
        shown = ", ".join(stray[:10]) + (f" and {len(stray) - 10} more" if len(stray) > 10 else "")
        raise PackageError(
            f"these files are not part of the Dify plugin but would be packaged: {shown}. Add them to {IGNORE_FILE}."
        )

    def read(rel: str) -> Any:
        return load_yaml((source / rel).read_text(encoding="utf-8"), rel)

    manifest = read("manifest.yaml")
    problems = check_manifest(manifest, file_set)
    if not problems:
        for provider_path in manifest["plugins"]["models"]:
            problems += check_provider(provider_path, read(provider_path), file_set, read)
    if "_assets/" not in {f[: len("_assets/")] for f in files}:
        problems.append("the package has no _assets/ folder (the plugin reads it at start-up)")
    if "requirements.txt" not in file_set:
        problems.append("requirements.txt is missing: Dify installs the plugin's dependencies from it")
    else:
        reqs = (source / "requirements.txt").read_text(encoding="utf-8")
        if not re.search(r"^\s*dify[-_]plugin\b", reqs, re.I | re.M):
            problems.append("requirements.txt must list dify_plugin")
        if FORBIDDEN_REQUIREMENTS.search(reqs):
            problems.append("requirements.txt must not pull the server's dependencies (torch, FlagEmbedding …)")
    from local_server import __version__  # the one version source (pyproject reads it too)

    if isinstance(manifest, dict) and manifest.get("version") != __version__:
        problems.append(f"manifest version {manifest.get('version')!r} differs from bge-local's {__version__!r} "
                        "(local_server/__init__.py)")
    if problems:
        raise PackageError("the plugin would not pass Dify's checks:\n  - " + "\n  - ".join(problems))

    size = sum((source / f).stat().st_size for f in files)
    if size > max_size:
        biggest = sorted(files, key=lambda f: (source / f).stat().st_size, reverse=True)[:5]
        raise PackageError(
            f"the package would be {size} bytes uncompressed, over Dify's limit of {max_size}; largest files: "
            + ", ".join(biggest)
        )
    return PackageInfo(manifest["name"], manifest["version"], files, size)


def build_package(source: Path, output_dir: Path, max_size: int = DEFAULT_MAX_SIZE) -> Path:
    """Check the plugin in ``source`` and write ``<output_dir>/<name>-<version>.difypkg``."""
    source = source.resolve()
    info = inspect_source(source, max_size)
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / f"{info.name}-{info.version}.difypkg"
    tmp = target.with_suffix(".difypkg.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for rel in info.files:
            entry = zipfile.ZipInfo(rel, date_time=ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            zf.writestr(entry, (source / rel).read_bytes())
    tmp.replace(target)
    return target


# ---------------------------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------------------------


def default_source() -> Path:
    return Path(__file__).resolve().parent.parent


def run(args: argparse.Namespace) -> int:
    source = Path(args.source) if args.source else default_source()
    try:
        target = build_package(source, Path(args.output_dir), max_size=args.max_size)
    except PackageError as e:
        print(f"package-plugin: error: {e}", file=sys.stderr)
        return 1
    with zipfile.ZipFile(target) as zf:
        count = len(zf.infolist())
    print(f"Built {target} ({count} files, {target.stat().st_size} bytes).")
    print("Install it in Dify: Plugins > Install plugin > Local package file. Self-built packages are unsigned:")
    print("set FORCE_VERIFYING_SIGNATURE=false for Dify's plugin_daemon (see README, 'Use with Dify').")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "package-plugin",
        help="build the Dify plugin package (dist/bge_local-<version>.difypkg)",
        description="Check the Dify plugin like Dify's plugin daemon does and zip it into a .difypkg.",
    )
    parser.add_argument("--output-dir", default="dist", help="where to write the .difypkg (default: dist)")
    parser.add_argument(
        "--source",
        default=None,
        help="the folder holding manifest.yaml (default: the repository root)",
    )
    parser.add_argument(
        "--max-size",
        type=int,
        default=DEFAULT_MAX_SIZE,
        help=f"largest uncompressed size in bytes (default: {DEFAULT_MAX_SIZE}, Dify's default)",
    )
    parser.set_defaults(func=run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bge-local")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
