"""A tiny qwen2 GGUF file written with the `gguf` package, as llama.cpp's converter would lay it out.

The weights are the tiny qwen2 of tiny_models.py (sharp attention), stored as float32 tensors under
llama.cpp's tensor names, with the byte-level BPE tokenizer in `tokenizer.ggml.*`.
"""

from __future__ import annotations

import json
from pathlib import Path

from .tiny_models import HEADS, build_model

GGUF_NAME = "Tiny Qwen2 Test"


def write_tiny_gguf(path: Path, *, causal_key: bool | None = None) -> Path:
    """Write the tiny qwen2 as a GGUF file; causal_key writes `qwen2.attention.causal` when given."""
    import gguf
    import numpy as np

    model, tokenizer = build_model("qwen2")
    config = model.config
    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.add_name(GGUF_NAME)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_freq_base(config.rope_theta)
    if causal_key is not None:
        writer.add_causal_attention(causal_key)

    backend = json.loads(tokenizer.backend_tokenizer.to_str())
    tokens = [token for token, _ in sorted(backend["model"]["vocab"].items(), key=lambda item: item[1])]
    tokens += [f"<unused{i}>" for i in range(config.vocab_size - len(tokens))]  # the embedding's rows
    specials = {t["content"] for t in backend["added_tokens"]}
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types([3 if token in specials else 1 for token in tokens])  # 3 = control, 1 = normal
    writer.add_token_merges([" ".join(m) if isinstance(m, list) else m for m in backend["model"]["merges"]])
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_pad_token_id(tokenizer.pad_token_id)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN2, config.num_hidden_layers)
    for hf_name, tensor in model.state_dict().items():
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        writer.add_tensor(name, tensor.numpy().astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
