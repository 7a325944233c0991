"""`headgaze export [MODEL ...]`: export models into models/<id>/ (the CLI behind `make export`).

MODEL is a known id (smollm2-135m, minilm-l6), a local Hugging Face model folder, or a hub id
(needs a network). With no MODEL, the default models are exported. Exit codes: 0 ok, 1 export
error, 2 unknown model / bad arguments, 3 verification failed, 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from .errors import ExportError
from .lean_choice import AUTO, GRAPH_KINDS
from .sources import DEFAULT_MODELS, KNOWN_MODELS, resolve
from .verify import DEFAULT_ATOL


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="headgaze export", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "models",
        nargs="*",
        metavar="MODEL",
        help=f"known id ({', '.join(KNOWN_MODELS)}), local HF folder or hub id; default: all known ids",
    )
    parser.add_argument(
        "--models-dir", type=Path, default=Path("models"), help="where models/<id>/ go (default: models)"
    )
    parser.add_argument(
        "--id", dest="model_id", help="folder name for a local folder or hub id (default: derived from it)"
    )
    parser.add_argument("--force", action="store_true", help="re-export even when the artifact is current")
    parser.add_argument(
        "--atol",
        type=float,
        default=DEFAULT_ATOL,
        help=f"max |onnx - torch| attention difference allowed (default {DEFAULT_ATOL:g})",
    )
    parser.add_argument(
        "--graph",
        choices=GRAPH_KINDS,
        default=AUTO,
        help="lean: the decoder rebuilt with fused ONNX ops (Llama-like families); generic: optimum's "
        "graph; auto (default): lean where it applies, else generic",
    )
    args = parser.parse_args(argv)
    if args.model_id and len(args.models) != 1:
        parser.error("--id needs exactly one MODEL")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore")  # tracer warnings from torch.onnx drown the progress lines
    import onnxruntime
    from transformers.utils import logging as hf_logging

    from .pipeline import export_model  # imports torch: after argument errors have been reported

    # onnxruntime 1.31 warns on every run of a lean graph that the attention output's inferred shape
    # {-1, H, -1, 0} differs from the real one (a shape-inference bug of its Attention op): errors only
    onnxruntime.set_default_logger_severity(3)

    hf_logging.set_verbosity_error()

    try:
        for arg in args.models or DEFAULT_MODELS:
            export_model(
                resolve(arg, args.model_id),
                args.models_dir,
                force=args.force,
                atol=args.atol,
                graph=args.graph,
            )
    except ExportError as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("export interrupted; no partial model was left behind", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
