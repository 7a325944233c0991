"""One export, start to finish: load → export → verify → write, in a temporary folder.

The temporary folder (`models/.<id>.partial-*`) becomes `models/<id>/` only after verification
passed, by a rename; an interrupted or failed export never leaves a folder with a manifest.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from pathlib import Path

import onnx
from tokenizers import Tokenizer

from headgaze.service.common.hashing import sha256_files

from .batch_verify import LONGEST_TEXT_TOKENS, long_ids, verify_batching, verify_long_text
from .causality import decide_causal
from .errors import VerificationFailed
from .graph_export import export_graph
from .lean_choice import AUTO, LEAN
from .lean_lm import FEEDS
from .lm_meta import read_lm_meta
from .lm_verify import verify_generation, verify_predictions
from .manifest import MANIFEST, build_manifest, fingerprint, read_manifest, write_manifest
from .mask_verify import MaskUnverifiable, verify_head_mask
from .onnx_graph import TEXT_GENERATION, inspect_architecture
from .profile import write_profile
from .progress import StageClock
from .qk_export import manifest_fields, progress_line
from .qk_verify import verify_qk
from .serve_graph import SERVED, strip_attentions
from .serve_verify import verify_served
from .sources import ModelSource
from .tokenizer_file import load_hf_tokenizer, special_tokens, write_tokenizer
from .verify import DEFAULT_ATOL, verify_export
from .weights import weight_breakdown

CAUSAL_PROBE_TEXT = "The quick brown fox jumps over the lazy dog"


def is_current(folder: Path, fp: str) -> bool:
    manifest = read_manifest(folder)
    return bool(manifest) and manifest.get("fingerprint") == fp and (folder / "model.onnx").is_file()


def export_model(
    source: ModelSource,
    models_dir: Path,
    *,
    force: bool = False,
    atol: float = DEFAULT_ATOL,
    graph: str = AUTO,
) -> Path:
    """Export `source` into models_dir/<id>; returns that folder. Skips when already current.

    `graph`: auto (the lean graph where it applies, else the generic one), lean or generic."""
    final = models_dir / source.id
    fp = fingerprint({**source.info, "graph": graph})
    clock = StageClock(source.id)
    if not force and is_current(final, fp):
        clock.say(f"up to date ({final}/{MANIFEST}, fingerprint {fp}); use --force to re-export")
        return final
    models_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(models_dir, source.id)
    work = Path(tempfile.mkdtemp(prefix=f".{source.id}.partial-", dir=models_dir))
    try:
        out = work / "artifact"
        out.mkdir()
        _run_stages(source, work, out, clock, atol, fp, graph)
        _replace(out, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    clock.say(f"exported to {final} in {clock.total:.1f}s")
    return final


def _run_stages(
    source: ModelSource, work: Path, out: Path, clock: StageClock, atol: float, fp: str, graph: str
) -> None:
    with clock.stage("load", f"materialise {source.info.get('file') or source.folder}"):
        folder = source.materialise(work / "source")
        arch = inspect_architecture(folder)
        hf_tokenizer = load_hf_tokenizer(folder)
        gguf = source.folder / source.gguf_file if source.gguf_file else None
        lm_meta = read_lm_meta(folder, hf_tokenizer, gguf, _config(folder))
    clock.say(f"{arch.name} ({arch.model_type}): {arch.layers} layers x {arch.heads} heads, task {arch.task}")
    clock.say(
        f"plain text starts {'with BOS' if lm_meta.add_bos else 'with its first token (no BOS)'} "
        f"({lm_meta.add_bos_source})"
    )

    with clock.stage("export", f"ONNX graph with attentions.{{i}} outputs (--graph {graph})"):
        exported = export_graph(folder, work / "onnx", arch, graph)
        onnx_path, qk, choice = exported.onnx_path, exported.qk, exported.choice
        clock.say(f"graph: {choice.kind} ({choice.reason})")
        for produced in sorted(onnx_path.parent.glob("*.onnx*")):  # model.onnx (+ external data), LM graphs
            shutil.move(produced, out / produced.name)
        exported.moved_to(out)
        write_tokenizer(hf_tokenizer, out / "tokenizer.json")

    with clock.stage("verify", f"onnxruntime vs PyTorch eager, atol {atol:g}"):
        reference = source.load_reference(with_lm_head=arch.task == TEXT_GENERATION)
        causal, causal_evidence = decide_causal(reference, hf_tokenizer(CAUSAL_PROBE_TEXT)["input_ids"])
        arch = dataclasses.replace(arch, causal=causal)
        clock.say(
            f"attention is {'causal' if causal else 'bidirectional'} (probe run: max weight above the "
            f"diagonal {causal_evidence['max_above_diagonal']:.3g})"
        )
        parity = verify_export(
            out / "model.onnx",
            out / "tokenizer.json",
            reference,
            hf_tokenizer,
            arch.causal,
            arch.layers,
            arch.heads,
            atol=atol,
        )
        if qk.enabled:
            parity["qk"] = verify_qk(
                out / "model.onnx", reference, Tokenizer.from_file(str(out / "tokenizer.json")),
                arch.layers, qk.scales, arch.causal, [p["text"] for p in parity["probes"]],
            )  # fmt: skip
        parity["batch"] = verify_batching(out / "model.onnx", Tokenizer.from_file(str(out / "tokenizer.json")),
                                          [p["text"] for p in parity["probes"]], arch.layers)  # fmt: skip
        parity["long_text"] = verify_long_text(
            out / "model.onnx",
            reference,
            Tokenizer.from_file(str(out / "tokenizer.json")),
            arch.layers,
            arch.max_tokens,
            arch.causal,
            atol,
        )
        if exported.lm_head:
            tokenizer = Tokenizer.from_file(str(out / "tokenizer.json"))
            parity["predictions"] = verify_predictions(out / "model.onnx", exported.lm_paths["predictions"],
                                                       tokenizer, reference, [p["text"] for p in parity["probes"]],
                                                       atol)  # fmt: skip
            parity["generation"] = verify_generation(exported.lm_paths["decoder"], tokenizer, reference,
                                                     exported.geometry)  # fmt: skip
        if exported.head_mask:
            try:
                parity["head_mask"] = verify_head_mask(
                    exported.lm_paths.get("decoder") or exported.hidden_path,
                    Tokenizer.from_file(str(out / "tokenizer.json")), reference, arch.layers, arch.heads,
                    predictions=exported.lm_paths.get("predictions"), geometry=exported.geometry,
                )  # fmt: skip
            except MaskUnverifiable as exc:  # unproven: not shipped
                exported.drop_mask(str(exc))
            except VerificationFailed as exc:
                if choice.kind == LEAN:  # our own graph: a real fault, the export fails
                    raise
                # a generic family's own head_mask (GPT-NeoX's gives NaN under a mask): not a knock-out
                exported.drop_mask(f"the family's own head_mask is not a knock-out ({exc})")
        weights = weight_breakdown(reference)
        del reference
    clock.say(
        f"parity: max |onnx - torch| = {parity['max_abs_diff']:.2e} over {len(parity['probes'])} probes"
    )
    clock.say(progress_line(parity["qk"]) if qk.enabled else f"qk: attentions only ({qk.reason})")
    if exported.lm_head:
        pred, gen = parity["predictions"], parity["generation"]
        clock.say(
            f"predictions: top-{pred['top_k']} log-probs within {pred['max_abs_diff_top']:.2e} of PyTorch at "
            f"{pred['positions']} positions; generation: greedy ids equal transformers' generate for "
            f"{gen['new_tokens']} new tokens on {len(gen['probes'])} probes"
            + (f" (up to {len(gen['ties'])} exact ties)" if gen["ties"] else "")
        )
    else:
        clock.say(f"lm head: none ({exported.lm_reason})")
    if exported.head_mask:
        hm = parity["head_mask"]
        clock.say(f"head mask ({hm['graph']}): {len(hm['masks'])} knock-outs on {hm['probes']} probes, "
                  f"{hm['compared']} within {hm['max_abs_diff']:.2e} of PyTorch float64 (PyTorch float32: "
                  f"{hm['torch_float32_error']:.2e}); all ones bit-identical to no mask")  # fmt: skip
    else:
        clock.say(f"head mask: none ({exported.head_mask_reason})")
    clock.say(
        f"batch: {parity['batch']['texts']} texts right-padded to {parity['batch']['width']} tokens = "
        f"each alone within {parity['batch']['max_abs_diff']:.2e}; {parity['long_text']['tokens']}-token text: "
        f"max |onnx - torch| = {parity['long_text']['max_abs_diff']:.2e}"
    )

    special = {**special_tokens(hf_tokenizer), **(lm_meta.eos_tokens if exported.lm_head else {})}
    with clock.stage("profile", "head pattern profile (probe texts + repeated random tokens)"):
        profile = write_profile(out, arch.causal, set(special.values()))
    clock.say("head tags: " + ", ".join(f"{tag} {n}" for tag, n in profile["tag_counts"].items()))
    if profile["first_token"]:
        ft = profile["first_token"]
        clock.say(
            f"first token on {ft['text']!r}: {ft['first_token_heads']} of {ft['heads']} heads are first-token "
            f"heads, in {ft['below_median']} of them it passes on less than the median token"
        )

    if qk.enabled:
        with clock.stage(
            "serve", "model.onnx without T×T outputs (weights from q/k), checked against the full graph"
        ):
            tokenizer = Tokenizer.from_file(str(out / "tokenizer.json"))
            texts = [tokenizer.encode(p["text"]).ids for p in parity["probes"]]
            texts.append(long_ids(tokenizer, min(LONGEST_TEXT_TOKENS, arch.max_tokens)))
            strip_attentions(out / "model.onnx", out / SERVED)
            parity["served"] = verify_served(out / "model.onnx", out / SERVED, texts, arch.layers, qk.scales,
                                             arch.causal)  # fmt: skip
            os.replace(out / SERVED, out / "model.onnx")
        sv = parity["served"]
        clock.say(
            f"served graph: no attentions outputs; weights from q/k within {sv['max_weights_diff']:.2e}, "
            f"thumbnails {sv['max_thumbnails_diff']:.2e}, head statistics {sv['max_rows_diff']:.2e}, tags equal "
            f"on {len(sv['tokens'])} texts (up to {max(sv['tokens'])} tokens)"
        )

    with clock.stage("write", "hash model.onnx, write manifest.json"):
        graph = onnx.load(str(out / "model.onnx"), load_external_data=False)
        onnx_files = sorted(out.glob("model.onnx*"))
        onnx_info = {
            "file": "model.onnx",
            "files": [p.name for p in onnx_files],
            "sha256": sha256_files(*onnx_files),
            "bytes": sum(p.stat().st_size for p in onnx_files),
            "opset": max(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")),
        }
        inputs = [i.name for i in graph.graph.input]
        # the views' outputs; model.onnx's feeds of predictions.onnx (and of its writes: each layer's
        # context) are listed under `predictions`
        outputs = [
            o.name for o in graph.graph.output if o.name not in FEEDS and not o.name.startswith("contexts.")
        ]
    manifest = build_manifest(
        source=source,
        arch=arch,
        inputs=inputs,
        special=special,
        weights=weights,
        parity=parity,
        causal_evidence=causal_evidence,
        profile=profile,
        onnx_info=onnx_info,
        seconds=dict(clock.seconds),
        fp=fp,
    )
    manifest.update(manifest_fields(qk, outputs))
    # where the views' weights come from: the graph's attentions.{i}, or the service's kernel over q/k
    manifest["attention_source"] = "queries_keys" if qk.enabled else "attentions"
    manifest["graph"] = choice.as_manifest()
    manifest.update(exported.lm_manifest())
    manifest.update(exported.ablation_manifest())
    if exported.hidden_path is not None:
        manifest["ablation"]["sha256"] = sha256_files(exported.hidden_path)
    manifest["add_bos"], manifest["add_bos_source"] = lm_meta.add_bos, lm_meta.add_bos_source
    if exported.lm_head:
        manifest.update(lm_meta.as_manifest())
        for kind in ("predictions", "generation"):
            manifest[kind]["sha256"] = sha256_files(out / manifest[kind]["file"])
    write_manifest(out, manifest)


def _config(folder: Path):
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(folder)


def _replace(new: Path, final: Path) -> None:
    """Swap the verified folder into place; the old one (if any) is removed only after the swap."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
    new.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _remove_stale_partials(models_dir: Path, model_id: str) -> None:
    for stale in models_dir.glob(f".{model_id}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)
