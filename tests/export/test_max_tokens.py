"""manifest max_tokens is the longest text the model really takes (the export's long-text check and
the service's limit rely on it): RoBERTa-like positions start after the padding id."""

from __future__ import annotations

import pytest
from transformers import AutoConfig

from headgaze.export.onnx_graph import max_tokens


@pytest.mark.parametrize(
    ("model_type", "overrides", "expected"),
    [
        ("xlm-roberta", {"max_position_embeddings": 514, "pad_token_id": 1}, 512),
        ("roberta", {"max_position_embeddings": 256, "pad_token_id": 0}, 255),
        ("mpnet", {"max_position_embeddings": 514, "pad_token_id": 1}, 512),
        ("bert", {"max_position_embeddings": 512, "pad_token_id": 0}, 512),
        ("llama", {"max_position_embeddings": 8192, "pad_token_id": 2}, 8192),
    ],
)
def test_max_tokens_leaves_out_the_padding_offset(model_type, overrides, expected):
    assert max_tokens(AutoConfig.for_model(model_type, **overrides), model_type) == expected
