"""The repository's source files that an export runs: `export/` and every repo module it imports.

Found statically (the `import` statements of each file, including imports inside functions), so
listing them needs neither torch nor the venv: `headgaze export.sources_list` prints one path per
line, relative to the repository, for the Makefile's export prerequisites; the manifest's
fingerprint hashes the same files. A change to any of them re-exports the models.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROOT_PACKAGE = "headgaze.export"


@cache
def package_dirs(root: Path = REPO) -> dict[str, Path]:
    """The build's package-dir mapping (pyproject.toml): dotted package → its folder, e.g.
    headgaze.service → service/. The one place that says where each import name lives."""
    project = root / "pyproject.toml"
    if not project.is_file():  # a plain tree: every package is the folder of its dotted name
        return {}
    with project.open("rb") as f:
        mapping = tomllib.load(f)["tool"]["setuptools"].get("package-dir", {})
    return {name: root / folder for name, folder in mapping.items()}


def _module_file(name: str, root: Path) -> Path | None:
    """The file of module `name` (dotted) inside the repo, or None when it is not part of it."""
    dirs = package_dirs(root)
    best = max((p for p in dirs if name == p or name.startswith(p + ".")), key=len, default=None)
    if best is None:
        if dirs or not name:  # a mapped repository: what it does not map is not part of it
            return None
        base = root.joinpath(*name.split("."))
    else:
        base = dirs[best].joinpath(*name[len(best) :].lstrip(".").split(".")) if name != best else dirs[best]
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _package_of(path: Path, root: Path) -> str:
    """Dotted name of the package that holds `path` (the package itself for an __init__.py)."""
    dirs = package_dirs(root)
    if not dirs:
        return ".".join(path.parent.relative_to(root).parts)
    for name, folder in sorted(dirs.items(), key=lambda kv: -len(kv[1].parts)):
        if path.parent == folder or folder in path.parent.parents:
            return ".".join([name, *path.parent.relative_to(folder).parts])
    raise ValueError(f"{path} is in no package of pyproject.toml's package-dir")


def _imported_names(path: Path, root: Path) -> set[str]:
    """Dotted names a file imports: `import a.b`, `from a import b` (a.b may be a module), relative ones."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = _package_of(path, root).split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, node.module] if node.module else parts)
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _with_parents(name: str) -> list[str]:
    """a.b.c → a, a.b, a.b.c: importing a submodule runs every parent package's __init__.py."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def import_closure(package: str = ROOT_PACKAGE, root: Path = REPO) -> list[Path]:
    """Every file of `package` plus the repo modules they import, transitively; sorted, absolute."""
    start = _module_file(package, root)
    if start is None:
        raise FileNotFoundError(f"no package {package!r} under {root}")
    todo = [*start.parent.glob("*.py")]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imported_names(path, root):
            for module in _with_parents(name):
                found = _module_file(module, root)
                if found is not None and found not in seen:
                    todo.append(found)
    return sorted(seen)


def main() -> int:
    for path in import_closure():
        print(path.relative_to(REPO).as_posix())
    return 0


if __name__ == "__main__":
    sys.exit(main())
