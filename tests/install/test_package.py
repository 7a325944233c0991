"""headgaze as a package: the wheel's only top-level name is `headgaze`, `import headgaze` loads nothing
heavy, the `headgaze` command and its subcommands answer, `make gpu-check` without a GPU says so and
exits 0, the CUDA provider's options are explicit, and every relative link of README and docs/ resolves."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from headgaze.service.runtime.providers import CPU, CUDA, GpuOptions, cuda_provider_options, provider_list
from tests.support.env import REPO, clean_env

HEADGAZE = str(Path(sys.executable).parent / "headgaze")


def run(*argv: str, timeout: int = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), cwd=kw.pop("cwd", REPO), env=clean_env(), capture_output=True, text=True,
                          timeout=timeout, **kw)


@pytest.mark.slow
def test_the_wheel_has_one_top_level_package(tmp_path):
    done = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
               str(REPO), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("headgaze-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"headgaze", "headgaze-0.1.0.dist-info"}
    for part in ("service/runtime/engine.py", "service/client/__init__.py", "dashboard/app.py", "export/pipeline.py",
                 "dashboard/views/model_view.js", "dashboard/assets/headgaze.css", "cli.py"):
        assert f"headgaze/{part}" in names, part
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "headgaze = headgaze.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_import_headgaze_is_light(tmp_path):
    code = ("import sys, headgaze; heavy = [m for m in ('onnxruntime', 'torch', 'dash', 'transformers', 'plotly') "
            "if m in sys.modules]; print(heavy, headgaze.__version__)")
    done = run(sys.executable, "-c", code, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == "[] 0.1.0", done.stdout + done.stderr
    client = run(sys.executable, "-c", "import sys, headgaze.service.client; print('onnxruntime' in sys.modules)",
                 cwd=tmp_path)
    assert client.stdout.strip() == "False", client.stderr  # the client works without onnxruntime


@pytest.mark.parametrize("sub", ["export", "serve", "service", "dashboard", "models"])
def test_every_subcommand_has_help(sub):
    done = run(HEADGAZE, sub, "--help")
    assert done.returncode == 0 and "usage" in done.stdout.lower(), done.stdout + done.stderr


def test_the_command_lists_its_subcommands_and_refuses_others():
    done = run(HEADGAZE, "--help")
    assert done.returncode == 0 and all(s in done.stdout for s in ("export", "serve", "service", "dashboard", "models"))
    assert run(sys.executable, "-m", "headgaze", "--version").stdout.strip() == "headgaze 0.1.0"
    bad = run(HEADGAZE, "nope")
    assert bad.returncode == 2 and "unknown subcommand 'nope'" in bad.stderr


def test_models_lists_what_is_exported(models_dir, tmp_path):
    done = run(HEADGAZE, "models", "--models-dir", str(models_dir))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for manifest in sorted(models_dir.glob("*/manifest.json")):
        m = json.loads(manifest.read_text())
        (line,) = [ln for ln in lines if ln.startswith(m["id"] + " ")]
        assert f"{m['layers']} layers × {m['heads']:>2} heads" in line and "parity" in line
    assert "predictions+generate" in next(ln for ln in lines if ln.startswith("smollm2-135m"))
    empty = run(HEADGAZE, "models", "--models-dir", str(tmp_path))
    assert empty.returncode == 2 and "no exported models" in empty.stderr


def test_gpu_check_without_a_gpu_says_so_and_exits_0(models_dir):
    done = run(sys.executable, "-m", "tests.gpu_check", "--models-dir", str(models_dir))
    assert done.returncode == 0 and done.stdout.startswith("gpu-check: no GPU here"), done.stdout + done.stderr


def test_the_cuda_provider_options_are_explicit():
    assert cuda_provider_options(GpuOptions()) == {"device_id": "0", "use_tf32": "0"}
    fast = cuda_provider_options(GpuOptions(device_id=1, fast=True, mem_mb=512))
    assert fast == {"device_id": "1", "use_tf32": "1", "gpu_mem_limit": str(512 << 20)}
    assert provider_list([CUDA, CPU], GpuOptions(2)) == [(CUDA, {"device_id": "2", "use_tf32": "0"}), CPU]
    assert provider_list([CPU], GpuOptions(2)) == [CPU]


def test_the_service_takes_the_gpu_flags_and_their_environment():
    from headgaze.service.web.config import parse_args

    args = parse_args(["--gpu", "1", "--gpu-fast", "--gpu-mem-mb", "2048"])
    assert (args.gpu, args.gpu_fast, args.gpu_mem_mb) == (1, True, 2048)
    assert (parse_args([]).gpu, parse_args([]).gpu_fast, parse_args([]).gpu_mem_mb) == (0, False, None)


LINK = re.compile(r"\[[^\]]*\]\(([^)]+)\)")


def test_every_relative_link_in_readme_and_docs_resolves():
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "models" / "README.md"]
    broken = []
    for page in pages:
        for target in LINK.findall(page.read_text()):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            path = (page.parent / target.split("#")[0]).resolve()
            if not path.exists():
                broken.append(f"{page.relative_to(REPO)} → {target}")
    assert not broken, broken
    assert len((REPO / "README.md").read_text().splitlines()) <= 250
