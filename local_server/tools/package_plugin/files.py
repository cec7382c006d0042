"""Which files go into the .difypkg: the plugin folder less what ``.difyignore`` (gitignore syntax) leaves out.

Matching is pathspec's ``GitIgnoreSpec`` (git's own rules: anchoring, ``**``, dir-only patterns, negation, last
match wins). Two packaging rules that no schema encodes are checked here too: nothing outside the plugin's own
files may be packaged (a server module or a test in the package means ``.difyignore`` needs a line), and the
uncompressed size stays under the daemon's limit.
"""

from __future__ import annotations

import os
from pathlib import Path

from pathspec import GitIgnoreSpec

from local_server.tools.package_plugin import DEFAULT_MAX_SIZE
from local_server.tools.package_plugin.errors import PackageError

__all__ = ["DEFAULT_MAX_SIZE", "collect_files", "ignore_spec", "refuse_oversize", "refuse_strays"]

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


def ignore_spec(source: Path) -> GitIgnoreSpec:
    ignore = source / IGNORE_FILE
    lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.is_file() else []
    return GitIgnoreSpec.from_lines(lines)


def collect_files(source: Path, spec: GitIgnoreSpec) -> list[str]:
    """Relative ``/`` paths of the files to package, sorted. Ignored folders are not walked (as in git, a file
    under an ignored folder cannot be brought back); symbolic links are left out."""
    found = []
    for dirpath, dirnames, filenames in os.walk(source):
        rel_dir = Path(dirpath).relative_to(source).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(
            d for d in dirnames
            if not (Path(dirpath, d).is_symlink() or spec.match_file(f"{prefix}{d}/"))
        )
        for name in filenames:
            path = Path(dirpath, name)
            if path.is_symlink() or not path.is_file() or spec.match_file(prefix + name):
                continue
            found.append(prefix + name)
    return sorted(found)


def refuse_strays(files: list[str]) -> None:
    stray = [f for f in files if not any(f == r or (r.endswith("/") and f.startswith(r)) for r in ALLOWED_ROOTS)]
    if stray:
        shown = ", ".join(stray[:10]) + (f" and {len(stray) - 10} more" if len(stray) > 10 else "")
        raise PackageError(
            f"these files are not part of the Dify plugin but would be packaged: {shown}. Add them to {IGNORE_FILE}."
        )


def refuse_oversize(source: Path, files: list[str], max_size: int) -> int:
    sizes = {f: (source / f).stat().st_size for f in files}
    total = sum(sizes.values())
    if total > max_size:
        biggest = sorted(files, key=sizes.__getitem__, reverse=True)[:5]
        raise PackageError(
            f"the package would be {total} bytes uncompressed, over Dify's limit of {max_size}; largest files: "
            + ", ".join(biggest)
        )
    return total
