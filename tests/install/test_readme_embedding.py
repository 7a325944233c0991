"""The README's embedding snippet works from a folder outside the repository, beside a host app that
has its own `service` and `dashboard` modules (the names headgaze's folders have in the repository).

Both code blocks are taken from README.md itself (the Python app and the command serving it), run
with this interpreter's environment in a temporary folder holding the host's own service.py and
dashboard/ package, and the page is fetched over HTTP. `import headgaze` there works because
`make setup` installs the project (editable), under that one name only.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import requests

from tests.support.env import REPO, clean_env
from tests.support.net import free_port
from tests.support.wait import wait_until


def readme_blocks() -> tuple[str, str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("**Embedded in an internal tool**", 1)[1].split("\n## ", 1)[0]
    python = re.search(r"```python\n(.*?)```", section, re.S)
    shell = re.search(r"```sh\n(.*?)```", section, re.S)
    assert python and shell, "README's embedding section lost its ```python or ```sh block"
    return python.group(1), shell.group(1).strip()


def test_readme_embedding_snippet_serves_the_page_from_another_folder(tmp_path):
    app_code, command = readme_blocks()
    # the host's own modules named like headgaze's folders: both must import, each what it is
    (tmp_path / "service.py").write_text("OWNER = 'host'\n")
    (tmp_path / "dashboard").mkdir()
    (tmp_path / "dashboard" / "__init__.py").write_text("OWNER = 'host'\n")
    (tmp_path / "app.py").write_text(app_code + "\nimport dashboard, service  # the host's own\n"
                                     "assert service.OWNER == dashboard.OWNER == 'host'\n"
                                     "import headgaze.service.client\n")
    port = free_port()
    venv_bin = Path(sys.executable).parent
    assert command.startswith("/path/to/headgaze/.venv/bin/") and "127.0.0.1:8080" in command, command
    argv = command.replace("/path/to/headgaze/.venv/bin/", f"{venv_bin}/").replace("8080", str(port)).split()
    env = clean_env()
    env.pop("PYTHONPATH", None)
    assert not str(tmp_path).startswith(str(REPO))
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"`{command}` exited with {proc.returncode}:\n{proc.stdout.read()}")
        try:
            return requests.get(base + "/", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_until(answers, f"the README app answers on {base}", timeout=60, every=0.2)
        assert 'href="/attention/"' in requests.get(base + "/", timeout=10).text
        page = requests.get(base + "/attention/", timeout=30)
        assert page.status_code == 200 and "_dash-config" in page.text
        layout = requests.get(base + "/attention/_dash-layout", timeout=30)
        assert layout.status_code == 200 and layout.headers["Content-Type"].startswith("application/json")
        script = re.search(r'src="(/attention/[^"]+\.js[^"]*)"', page.text)
        assert script and requests.get(base + script.group(1), timeout=30).status_code == 200
    finally:
        proc.terminate()
        proc.wait(20)
