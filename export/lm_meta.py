"""What a causal LM's checkpoint says about speaking: its chat template, where a plain text starts
(a BOS token or not) and which ids end an answer. All of it goes into the manifest.

- **Chat template**: the checkpoint's own (tokenizer_config.json, or the GGUF's
  `tokenizer.chat_template`, which transformers copies into the tokenizer), stored verbatim, with
  the special-token strings transformers passes to it (`bos_token`, `eos_token`, ...) as
  `template_vars`, so that the service renders exactly what `apply_chat_template` renders.
- **BOS on plain text**: a GGUF file says it itself (`tokenizer.ggml.add_bos_token`), and
  transformers' GGUF tokenizer ignores it (SmolLM2's says false, transformers adds `<|im_start|>`
  in front of every text). The GGUF's word wins; an HF folder's tokenizer is followed as it is.
  `apply_bos_choice` makes the tokenizer (and so tokenizer.json and every check after it) obey.
- **End of sequence**: the generation config's `eos_token_id` (one id or a list), the GGUF's
  `tokenizer.ggml.eos_token_id` (+ `eot_token_id`) for a GGUF source, else the model config's,
  else the tokenizer's. transformers' GGUF tokenizer reports SmolLM2's `<|im_start|>` (1) as EOS;
  the file and the generation config both say `<|im_end|>` (2).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

GGUF_EOS_KEYS = ("tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id")


@dataclass
class LmMeta:
    chat_template: str | None
    template_vars: dict[str, str]
    add_bos: bool
    add_bos_source: str
    eos_token_ids: list[int]
    eos_source: str
    eos_tokens: dict[str, int] = field(default_factory=dict)  # text → id, for special_tokens

    def as_manifest(self) -> dict:
        return {
            "chat_template": self.chat_template,
            "template_vars": self.template_vars,
            "add_bos": self.add_bos,
            "add_bos_source": self.add_bos_source,
            "eos_token_ids": self.eos_token_ids,
            "eos_source": self.eos_source,
        }


def _ids(value) -> list[int]:
    if value is None:
        return []
    values = value if isinstance(value, list | tuple) else [value]
    return sorted({int(v) for v in values if isinstance(v, int) and not isinstance(v, bool)})


def gguf_fields(path: Path, keys: tuple[str, ...]) -> dict:
    """{key: value} of the GGUF metadata keys the file has."""
    from gguf import GGUFReader

    reader = GGUFReader(path)
    return {k: reader.fields[k].contents() for k in keys if k in reader.fields}


def bos_id(hf_tokenizer) -> int | None:
    return hf_tokenizer.bos_token_id if isinstance(hf_tokenizer.bos_token_id, int) else None


def tokenizer_adds_bos(hf_tokenizer) -> bool:
    """Whether the tokenizer puts its BOS id in front of a plain text."""
    bos = bos_id(hf_tokenizer)
    ids = hf_tokenizer("a")["input_ids"]
    return bos is not None and bool(ids) and ids[0] == bos


def decide_add_bos(hf_tokenizer, gguf_path: Path | None) -> tuple[bool, str]:
    """(add a BOS to plain text?, where that comes from)."""
    if gguf_path is not None:
        flag = gguf_fields(gguf_path, ("tokenizer.ggml.add_bos_token",)).get("tokenizer.ggml.add_bos_token")
        if isinstance(flag, bool):
            return flag, f"GGUF tokenizer.ggml.add_bos_token = {str(flag).lower()}"
    adds = tokenizer_adds_bos(hf_tokenizer)
    return adds, f"the checkpoint's tokenizer {'adds' if adds else 'adds no'} BOS"


def apply_bos_choice(hf_tokenizer, add_bos: bool) -> None:
    """Make `hf_tokenizer` add (or not) its BOS in front of plain text, as decided."""
    if tokenizer_adds_bos(hf_tokenizer) == add_bos:
        return
    if not hasattr(hf_tokenizer, "add_bos_token"):
        raise ValueError(
            f"{type(hf_tokenizer).__name__} cannot switch its BOS token {'on' if add_bos else 'off'}"
        )
    hf_tokenizer.add_bos_token = add_bos  # llama-like fast tokenizers rebuild their post-processor
    if tokenizer_adds_bos(hf_tokenizer) != add_bos:
        raise ValueError(f"{type(hf_tokenizer).__name__} still {'adds no' if add_bos else 'adds a'} BOS")


def decide_eos(folder: Path, hf_tokenizer, gguf_path: Path | None, model_config) -> tuple[list[int], str]:
    """(end-of-sequence ids, where they come from)."""
    ids: list[int] = []
    found: list[str] = []
    gen_file = folder / "generation_config.json"
    if gen_file.is_file():
        gen = _ids(json.loads(gen_file.read_text()).get("eos_token_id"))
        if gen:
            ids += gen
            found.append("generation_config.json eos_token_id")
    if gguf_path is not None:
        fields = gguf_fields(gguf_path, GGUF_EOS_KEYS)
        gg = _ids([fields[k] for k in GGUF_EOS_KEYS if k in fields])
        if gg:
            ids += gg
            found.append("GGUF " + " + ".join(k.rsplit(".", 1)[1] for k in GGUF_EOS_KEYS if k in fields))
    if not ids:
        for where, value in (("config.json eos_token_id", getattr(model_config, "eos_token_id", None)),
                             ("the tokenizer's eos_token", hf_tokenizer.eos_token_id)):  # fmt: skip
            if _ids(value):
                ids, found = _ids(value), [where]
                break
    return sorted(set(ids)), ", ".join(found) or "none: answers stop at max_new_tokens only"


def chat_template_of(hf_tokenizer) -> str | None:
    template = getattr(hf_tokenizer, "chat_template", None)
    if isinstance(template, dict):  # several named templates: the default one
        template = template.get("default")
    return template if isinstance(template, str) and template.strip() else None


def read_lm_meta(folder: Path, hf_tokenizer, gguf_path: Path | None, model_config) -> LmMeta:
    """Decide BOS, EOS and the chat template; the tokenizer is switched to the BOS choice."""
    add_bos, bos_source = decide_add_bos(hf_tokenizer, gguf_path)
    apply_bos_choice(hf_tokenizer, add_bos)
    eos, eos_source = decide_eos(folder, hf_tokenizer, gguf_path, model_config)
    template_vars = {k: v for k, v in hf_tokenizer.special_tokens_map.items() if isinstance(v, str)}
    return LmMeta(
        chat_template=chat_template_of(hf_tokenizer),
        template_vars=template_vars,
        add_bos=add_bos,
        add_bos_source=bos_source,
        eos_token_ids=eos,
        eos_source=eos_source,
        eos_tokens={hf_tokenizer.convert_ids_to_tokens(i): i for i in eos},
    )
