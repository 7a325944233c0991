"""Reading `models/<id>/manifest.json`: the fields the service needs, tolerant of extras, and the public summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import orjson

from ..common.errors import ConfigError
from ..common.hashing import sha256_files

# Fields copied verbatim into GET /v1/models when the manifest has them.
SUMMARY_FIELDS = (
    "id", "display_name", "architecture", "model_type", "causal", "layers", "heads", "kv_heads",
    "special_tokens", "weights", "parity", "heads_profile", "source", "exporter", "exported_at",
)
NO_QK_REASON = "exported before queries, keys and value norms were captured; re-run `make export`"


@dataclass(frozen=True)
class Manifest:
    """The parts of a model's manifest the engine relies on, plus the raw dict for the summary."""

    id: str
    path: Path
    onnx_file: Path
    onnx_files: tuple[Path, ...]  # model.onnx and any external-data files, as the manifest lists them
    tokenizer_file: Path
    onnx_sha256: str
    onnx_bytes: int | None
    sha256_from_manifest: bool
    causal: bool
    layers: int
    heads: int
    max_tokens: int
    special_tokens: dict[str, int]
    raw: dict = field(repr=False)
    kv_heads: int = 0  # 0: same as heads
    qk: bool = False  # the graph has queries.{i}, keys.{i}, value_norms.{i}
    qk_reason: str | None = None  # why not, when qk is false
    qk_scales: tuple[float, ...] = ()  # the attention scale of each layer (when qk)

    def scale(self, layer: int) -> float:
        """The factor q·kᵀ is multiplied by before the softmax in `layer`."""
        return self.qk_scales[layer] if len(self.qk_scales) > 1 else self.qk_scales[0]

    def kv_head(self, head: int) -> int:
        """The key/value head query head `head` reads under grouped-query attention."""
        return head // (self.heads // (self.kv_heads or self.heads))

    def summary(self) -> dict:
        out = {k: self.raw[k] for k in SUMMARY_FIELDS if k in self.raw}
        out["id"] = self.id
        out.setdefault("display_name", self.id)
        out["causal"] = self.causal
        out["layers"] = self.layers
        out["heads"] = self.heads
        out["max_tokens"] = self.max_tokens
        out["qk"] = self.qk
        out["qk_reason"] = self.qk_reason
        onnx = self.raw.get("onnx") if isinstance(self.raw.get("onnx"), dict) else {}
        out["onnx"] = {"sha256": self.onnx_sha256, "bytes": onnx.get("bytes"), "opset": onnx.get("opset")}
        return out


def _int(raw: dict, key: str, where: Path) -> int:
    value = raw.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{where}: manifest field {key!r} must be a positive integer, got {value!r}")
    return value


def load_manifest(model_dir: Path) -> Manifest:
    """Parse and check one model folder; raises ConfigError naming the file and field on any problem."""
    mpath = model_dir / "manifest.json"
    try:
        raw = orjson.loads(mpath.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"{mpath}: missing (run `make export`)") from None
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{mpath}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{mpath}: expected a JSON object")
    onnx = raw.get("onnx") if isinstance(raw.get("onnx"), dict) else {}
    onnx_file = model_dir / str(onnx.get("file") or "model.onnx")
    tok_file = model_dir / "tokenizer.json"
    listed = onnx.get("files") if isinstance(onnx.get("files"), list) else [onnx_file.name]
    onnx_files = tuple(model_dir / str(name) for name in listed)
    for f in (onnx_file, *onnx_files, tok_file):
        if not f.is_file():
            raise ConfigError(f"{model_dir}: {f.name} is missing (run `make export`)")
    sha = onnx.get("sha256")
    from_manifest = isinstance(sha, str) and len(sha) == 64
    if not from_manifest:
        sha = sha256_files(*onnx_files)
    size = onnx.get("bytes") if isinstance(onnx.get("bytes"), int) else None
    special = raw.get("special_tokens") if isinstance(raw.get("special_tokens"), dict) else {}
    heads = _int(raw, "heads", mpath)
    kv_heads = raw.get("kv_heads") if isinstance(raw.get("kv_heads"), int) and raw.get("kv_heads") > 0 else heads
    if heads % kv_heads:
        raise ConfigError(f"{mpath}: heads ({heads}) is not a multiple of kv_heads ({kv_heads})")
    qk = raw.get("qk") is True
    scales = raw.get("qk_scales")
    scales = tuple(float(v) for v in (scales if isinstance(scales, list) else [scales])
                   if isinstance(v, int | float) and not isinstance(v, bool)) if qk else ()
    if qk and len(scales) not in (1, _int(raw, "layers", mpath)):
        raise ConfigError(f"{mpath}: qk_scales must be one number or one per layer, got {raw.get('qk_scales')!r}")
    reason = None if qk else str(raw.get("qk_reason") or NO_QK_REASON)
    return Manifest(
        id=str(raw.get("id") or model_dir.name),
        path=model_dir,
        onnx_file=onnx_file,
        onnx_files=onnx_files,
        tokenizer_file=tok_file,
        onnx_sha256=sha,
        onnx_bytes=size,
        sha256_from_manifest=from_manifest,
        causal=bool(raw.get("causal", False)),
        layers=_int(raw, "layers", mpath),
        heads=heads,
        max_tokens=_int(raw, "max_tokens", mpath),
        special_tokens={str(k): int(v) for k, v in special.items() if isinstance(v, int)},
        raw=raw,
        kv_heads=kv_heads,
        qk=qk,
        qk_reason=reason,
        qk_scales=scales,
    )


def verify_onnx(m: Manifest) -> None:
    """The onnx files are the ones the export verified: total size and sha256 match the manifest.

    Both cover every file the manifest lists (model.onnx plus external data), as the export recorded
    them; ConfigError when they differ."""
    if not m.sha256_from_manifest:
        return
    actual_size = sum(f.stat().st_size for f in m.onnx_files)
    if m.onnx_bytes is not None and actual_size != m.onnx_bytes:
        raise ConfigError(f"{m.onnx_file}: {actual_size} bytes, the manifest says {m.onnx_bytes}; the file is "
                          "truncated or was changed after export (re-run `make export`)")
    actual = sha256_files(*m.onnx_files)
    if actual != m.onnx_sha256:
        raise ConfigError(f"{m.onnx_file}: sha256 {actual[:16]}... does not match the manifest's "
                          f"{m.onnx_sha256[:16]}...; the file is damaged or was changed after export "
                          "(re-run `make export`)")


def discover(models_dir: Path) -> list[Manifest]:
    """Every `<models_dir>/<id>/manifest.json`, sorted by id; ConfigError when there are none."""
    if not models_dir.is_dir():
        raise ConfigError(f"models directory {models_dir} does not exist (run `make export`)")
    found = [load_manifest(d) for d in sorted(models_dir.iterdir()) if (d / "manifest.json").is_file()]
    if not found:
        raise ConfigError(f"no models in {models_dir}: expected <id>/manifest.json (run `make export`)")
    ids = [m.id for m in found]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"duplicate model ids in {models_dir}: {ids}")
    return found
