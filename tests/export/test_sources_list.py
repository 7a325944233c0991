"""The export fingerprint's file list comes from export's imports, and the Makefile uses the same list."""

from __future__ import annotations

import subprocess

from headgaze.export.manifest import CODE_FILES
from headgaze.export.sources_list import REPO, import_closure


def test_closure_holds_export_and_the_service_modules_it_imports():
    files = {p.relative_to(REPO).as_posix() for p in import_closure()}
    assert {p.relative_to(REPO).as_posix() for p in (REPO / "export").glob("*.py")} <= files
    # imported at module level (pipeline, verify, profile) and inside functions alike
    assert {"service/__init__.py", "service/runtime/batching.py", "service/common/hashing.py", "service/analysis/head_profile.py"} <= files
    assert not any(f.startswith(("dashboard/", "tests/")) for f in files)
    assert list(CODE_FILES) == import_closure()


def test_closure_follows_relative_function_level_and_transitive_imports(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "lib" / "deep").mkdir(parents=True)
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "main.py").write_text("from . import helper\n\ndef run():\n    import lib.tools\n")
    (tmp_path / "app" / "helper.py").write_text("import os\nfrom lib.deep import thing\n")
    (tmp_path / "lib" / "__init__.py").write_text("")
    (tmp_path / "lib" / "tools.py").write_text("from .deep.thing import x\n")
    (tmp_path / "lib" / "deep" / "__init__.py").write_text("")
    (tmp_path / "lib" / "deep" / "thing.py").write_text("x = 1\n")
    (tmp_path / "lib" / "unused.py").write_text("")
    found = {p.relative_to(tmp_path).as_posix() for p in import_closure("app", tmp_path)}
    assert found == {
        "app/__init__.py", "app/main.py", "app/helper.py", "lib/__init__.py", "lib/tools.py",
        "lib/deep/__init__.py", "lib/deep/thing.py",
    }


def test_makefile_export_prerequisites_are_the_closure(repo_root):
    out = subprocess.run(
        ["make", "-s", "--no-print-directory", "--eval", "print-export-src: ; @echo $(EXPORT_SRC)", "print-export-src"],
        cwd=repo_root, capture_output=True, text=True, timeout=60, check=True,
    ).stdout.split()
    assert out == [p.relative_to(REPO).as_posix() for p in import_closure()]
