"""The `headgaze` command (also `python -m headgaze`):

    headgaze export [MODEL ...]   turn models into models/<id>/ (python -m headgaze.export)
    headgaze serve                service + dashboard together, supervised (make serve)
    headgaze service              the attention service alone (python -m headgaze.service)
    headgaze dashboard            the dashboard alone (python -m headgaze.dashboard)
    headgaze models               what is exported: each model's geometry, what it can do, its parity

Every subcommand takes the flags and HEADGAZE_* environment variables of the command it runs
(`headgaze SUBCOMMAND --help`); this module only dispatches, importing nothing heavy before.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from importlib import import_module
from pathlib import Path

COMMANDS = {
    "export": ("headgaze.export.__main__", "turn models into models/<id>/ (ONNX with every attention, verified)"),
    "serve": ("headgaze.dashboard.stack", "start the service and the dashboard together (what `make serve` runs)"),
    "service": ("headgaze.service.__main__", "start the attention service alone"),
    "dashboard": ("headgaze.dashboard.__main__", "start the dashboard alone"),
    "models": ("headgaze.cli", "list the exported models: geometry, what each can do, parity"),
}


def models_table(models_dir: Path) -> list[str]:
    """One line per exported model under `models_dir`: id, geometry, capabilities and export parity."""
    rows = []
    for manifest in sorted(models_dir.glob("*/manifest.json")):
        m = json.loads(manifest.read_text())
        parity = m.get("parity") or {}
        can = [what for what, key in (("q/k", "qk"), ("predictions+generate", "lm_head"), ("knock-out", "head_mask"))
               if m.get(key) is True]
        kind = "causal" if m.get("causal") else "bidirectional"
        rows.append(f"{m.get('id', manifest.parent.name):<16} {m.get('layers', '?'):>3} layers × {m.get('heads', '?'):>2} heads "
                    f"({m.get('kv_heads', m.get('heads', '?'))} kv), {kind}, graph {(m.get('graph') or {}).get('kind', '?')}; "
                    f"max {m.get('max_tokens', '?')} tokens; {', '.join(can) or 'attentions only'}; "
                    f"parity |onnx - torch| ≤ {parity.get('max_abs_diff', float('nan')):.1e}")
    return rows


def list_models(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="headgaze models", description=COMMANDS["models"][1])
    parser.add_argument("--models-dir", type=Path, default=Path(os.environ.get("HEADGAZE_MODELS_DIR", "models")),
                        help="folder of exported models <id>/ (env HEADGAZE_MODELS_DIR; default: models)")
    args = parser.parse_args(argv)
    rows = models_table(args.models_dir)
    if not rows:
        print(f"headgaze models: error: no exported models in {args.models_dir} (run `headgaze export`)",
              file=sys.stderr)
        return 2
    print("\n".join(rows))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        width = max(len(name) for name in COMMANDS)
        print("usage: headgaze SUBCOMMAND [ARGS ...]\n\nLook inside the attention heads of a language model.\n\n"
              "subcommands:\n" + "\n".join(f"  {name:<{width}}  {what}" for name, (_, what) in COMMANDS.items())
              + "\n\n`headgaze SUBCOMMAND --help` lists a subcommand's flags and environment variables.")
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from headgaze import __version__

        print(f"headgaze {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"headgaze: error: unknown subcommand {name!r}; choose one of {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    if name == "models":
        return list_models(rest)
    module = import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
