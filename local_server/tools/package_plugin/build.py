"""Build the .difypkg: pick the files, zip them the way ``dify plugin package`` does, check the result as Dify
will unpack it, then write it.

The zip is deterministic — the same sources give the same bytes: sorted relative ``/`` paths, no directory
entries, Deflate, a fixed timestamp and mode, no comment (an unsigned package; the daemon reads a signature from
the comment).
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from local_server.tools.package_plugin import files, validate
from local_server.tools.package_plugin.errors import PackageError

ZIP_DATE = (2024, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    files: list[str]
    data: bytes  # the .difypkg's bytes
    sdk: str | None  # dify_plugin version whose models read the plugin; None when no plugin Python was found

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}.difypkg"


def zip_bytes(source: Path, names: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for rel in names:
            entry = zipfile.ZipInfo(rel, date_time=ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            zf.writestr(entry, (source / rel).read_bytes())
    return buffer.getvalue()


def prepare(source: Path, max_size: int = files.DEFAULT_MAX_SIZE, plugin_python: str | Path | None = None) -> Package:
    """Everything but writing the file. Raises PackageError."""
    source = source.resolve()
    if not (source / "manifest.yaml").is_file():
        raise PackageError(f"{source} has no manifest.yaml: pass --source <the folder with the plugin>")
    names = files.collect_files(source, files.ignore_spec(source))
    files.refuse_strays(names)
    files.refuse_oversize(source, names, max_size)
    data = zip_bytes(source, names)
    with tempfile.TemporaryDirectory(prefix="bge-local-plugin-") as tmp:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            zf.extractall(tmp)
        verdict = validate.check(Path(tmp), validate.find_plugin_python(source, plugin_python))
    return Package(verdict.name, verdict.version, names, data, verdict.sdk)


def write(package: Package, output_dir: Path) -> Path:
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / package.filename
    tmp = target.with_suffix(".difypkg.tmp")
    tmp.write_bytes(package.data)
    tmp.replace(target)
    return target


def build_package(source: Path, output_dir: Path, max_size: int = files.DEFAULT_MAX_SIZE,
                  plugin_python: str | Path | None = None) -> Path:
    """Check the plugin in ``source`` and write ``<output_dir>/<name>-<version>.difypkg``."""
    return write(prepare(source, max_size, plugin_python), output_dir)
