"""Tiny random-weight models of every family headgaze is tested with, built offline in seconds.

Each model has 2 layers, hidden size 64 and 4 heads, a byte-level BPE tokenizer trained here on a
few sentences, and weights scaled so that attention is sharp (rows peak on a few tokens) instead of
the near-uniform rows that random weights give: parity on uniform rows would prove little.
"""

from __future__ import annotations

from pathlib import Path

VOCAB = 384
HIDDEN, LAYERS, HEADS, FFN = 64, 2, 4, 128
SHARPEN = 16.0  # query/key weights ×16: attention logits ×256, rows peak instead of being uniform
CORPUS = (
    "The quick brown fox jumps over the lazy dog, again and again.",
    "Wait... what?! (Yes); no -- maybe: 'ok'. Call 555-0199 at 10:45, pay $3.50 or 12%.",
    "Ça coûte déjà trop, naïve façade à Zürich. I love pizza and cats!",
    "fluffy blue monster attention heads look at earlier tokens in the sentence",
)
SPECIALS = {"pad_token": "<pad>", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
            "mask_token": "<mask>"}
DECODER = dict(num_hidden_layers=LAYERS, hidden_size=HIDDEN, num_attention_heads=HEADS,
               intermediate_size=FFN, max_position_embeddings=256, num_key_value_heads=2)
GEMMA = dict(DECODER, head_dim=HIDDEN // HEADS)
ENCODER = dict(num_hidden_layers=LAYERS, hidden_size=HIDDEN, num_attention_heads=HEADS,
               intermediate_size=FFN, max_position_embeddings=256)
GPT2_LIKE = dict(n_layer=LAYERS, n_embd=HIDDEN, n_head=HEADS, n_inner=FFN, n_positions=256)

# family → (model_type, config overrides, AutoModel class name, causal)
FAMILIES: dict[str, tuple[str, dict, str, bool]] = {
    "llama": ("llama", DECODER, "AutoModelForCausalLM", True),
    "llama-no-head": ("llama", DECODER, "AutoModel", True),  # a decoder-based embedding model
    "mistral": ("mistral", dict(DECODER, sliding_window=8), "AutoModelForCausalLM", True),
    "mistral-full": ("mistral", dict(DECODER, sliding_window=None), "AutoModelForCausalLM", True),  # lean graph
    "qwen2": ("qwen2", DECODER, "AutoModelForCausalLM", True),
    "qwen3": ("qwen3", dict(DECODER, head_dim=16), "AutoModelForCausalLM", True),
    "gemma": ("gemma", GEMMA, "AutoModelForCausalLM", True),
    "gemma2": ("gemma2", dict(GEMMA, sliding_window=4, query_pre_attn_scalar=16), "AutoModelForCausalLM", True),
    "gemma3_text": ("gemma3_text", dict(GEMMA, sliding_window=4, query_pre_attn_scalar=16),
                    "AutoModelForCausalLM", True),
    "phi3": ("phi3", DECODER, "AutoModelForCausalLM", True),
    "phi": ("phi", DECODER, "AutoModelForCausalLM", True),
    "gpt2": ("gpt2", GPT2_LIKE, "AutoModelForCausalLM", True),
    "gpt2-no-head": ("gpt2", GPT2_LIKE, "AutoModel", True),
    "gpt_neox": ("gpt_neox", ENCODER, "AutoModelForCausalLM", True),
    "gptj": ("gptj", dict(GPT2_LIKE, rotary_dim=8), "AutoModelForCausalLM", True),
    "opt": ("opt", dict(ENCODER, ffn_dim=FFN), "AutoModelForCausalLM", True),
    "falcon": ("falcon", ENCODER, "AutoModelForCausalLM", True),
    "stablelm": ("stablelm", DECODER, "AutoModelForCausalLM", True),
    "olmo2": ("olmo2", DECODER, "AutoModelForCausalLM", True),
    "granite": ("granite", dict(DECODER, embedding_multiplier=4.0, residual_multiplier=0.5, attention_multiplier=0.25),
                "AutoModelForCausalLM", True),
    "smollm3": ("smollm3", dict(DECODER, no_rope_layer_interval=2), "AutoModelForCausalLM", True),  # layer 1: no rope
    "starcoder2": ("starcoder2", DECODER, "AutoModelForCausalLM", True),
    "bert": ("bert", ENCODER, "AutoModel", False),
    "roberta": ("roberta", ENCODER, "AutoModel", False),
    "distilbert": ("distilbert", dict(n_layers=LAYERS, dim=HIDDEN, n_heads=HEADS, hidden_dim=FFN,
                                      max_position_embeddings=256), "AutoModel", False),
    "electra": ("electra", dict(ENCODER, embedding_size=32), "AutoModel", False),
    "albert": ("albert", dict(ENCODER, embedding_size=32), "AutoModel", False),
    "deberta-v2": ("deberta-v2", ENCODER, "AutoModel", False),
    "modernbert": ("modernbert", ENCODER, "AutoModel", False),
    "xlm-roberta": ("xlm-roberta", ENCODER, "AutoModel", False),
    "mpnet": ("mpnet", ENCODER, "AutoModel", False),
}
QUERY_KEY = ("q_proj", "k_proj", "query", "key", "c_attn", "query_key_value", "qkv_proj", "Wqkv", "q", "k",
             "q_lin", "k_lin", "query_proj", "key_proj")


QK_NORMS = ("q_norm", "k_norm")
QK_NORM_SCALE = 4.0  # normalised q, k: ×4 is already sharp (×16 would give one-hot rows)


def build_tokenizer(causal: bool):
    """A byte-level BPE fast tokenizer (every byte encodes) with BERT-like or llama-like specials."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB - 16, special_tokens=list(SPECIALS.values()),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    backend.train_from_iterator(CORPUS, trainer)
    bos, eos = backend.token_to_id("<s>"), backend.token_to_id("</s>")
    backend.post_processor = (
        processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", bos)]) if causal else
        processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", bos), ("</s>", eos)])
    )
    return PreTrainedTokenizerFast(tokenizer_object=backend, **SPECIALS)


def build_model(family: str):
    """(model, tokenizer) for a family, seeded, with sharpened query/key weights."""
    import torch
    import transformers

    model_type, overrides, auto_class, causal = FAMILIES[family]
    tokenizer = build_tokenizer(causal)
    ids = {f"{k}_id": tokenizer.convert_tokens_to_ids(v) for k, v in SPECIALS.items() if k != "mask_token"}
    config = transformers.AutoConfig.for_model(
        model_type, vocab_size=VOCAB, tie_word_embeddings=False, **{k: ids[k] for k in
                                                                    ("pad_token_id", "bos_token_id", "eos_token_id")},
        **overrides,
    )
    torch.manual_seed(0)
    model = getattr(transformers, auto_class).from_config(config, attn_implementation="eager").eval()
    with torch.no_grad():
        for name, module in model.named_modules():
            attr = name.rsplit(".", 1)[-1]
            if attr in QUERY_KEY and isinstance(getattr(module, "weight", None), torch.Tensor):
                module.weight.mul_(SHARPEN)
            elif attr in QK_NORMS:  # qwen3/olmo2/gemma3 normalise q and k: scale the norm instead
                gemma_style = type(module).__name__.startswith("Gemma")  # scales by (1 + weight)
                module.weight.fill_(QK_NORM_SCALE - 1 if gemma_style else QK_NORM_SCALE)
    return model, tokenizer


def save_model(family: str, folder: Path, *, safetensors: bool = True) -> Path:
    """Write the family's tiny model as a Hugging Face folder (config, weights, tokenizer)."""
    model, tokenizer = build_model(family)
    model.save_pretrained(folder, safe_serialization=safetensors)
    tokenizer.save_pretrained(folder)
    return folder


def save_sentencepiece_model(folder: Path) -> Path:
    """The tiny llama with only a sentencepiece `tokenizer.model` (a slow LlamaTokenizer), no tokenizer.json."""
    import sentencepiece as spm
    from transformers import LlamaTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS * 4), model_prefix=str(folder / "sp"), vocab_size=340, model_type="bpe",
        byte_fallback=True, character_coverage=1.0, minloglevel=2,
    )
    tokenizer = LlamaTokenizer(vocab_file=str(folder / "sp.model"), legacy=False)
    for leftover in folder.glob("sp.*"):
        leftover.unlink()
    model, _ = build_model("llama")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def save_previous_token_model(folder: Path) -> Path:
    """A one-layer, one-head Llama built by hand so that its head copies the previous token, for tests
    with a known effect of knocking it out (ablation):

    - q and k are constant (weights 0, biases only) in the first rotary pair, k = R(1 rad)·q: after the
      rotary embedding q_t·k_s = |q|² cos(s - t + 1), largest at s = t - 1, so every token but the
      first attends (all but) only to the one before it;
    - v is the token's normalised embedding and W_O = 6·I: the head adds 6× the previous token's
      embedding to the residual; the MLP is zero;
    - the LM head is the embedding matrix (random unit rows, nearly orthogonal in 64 dimensions), so
      the model predicts whichever token dominates the residual: with the head, the previous token;
      without it, the token itself.
    """
    import torch
    import transformers

    tokenizer = build_tokenizer(True)
    config = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=FFN, num_hidden_layers=1,
                                      num_attention_heads=1, num_key_value_heads=1, head_dim=HIDDEN,
                                      max_position_embeddings=256, attention_bias=True, tie_word_embeddings=False,
                                      rope_theta=10000.0, pad_token_id=tokenizer.pad_token_id,
                                      bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config).eval()
    emb = torch.nn.functional.normalize(torch.randn(VOCAB, HIDDEN), dim=-1) * HIDDEN ** 0.5
    attn, half = model.model.layers[0].self_attn, HIDDEN // 2
    with torch.no_grad():
        model.model.embed_tokens.weight.copy_(emb)
        model.lm_head.weight.copy_(emb)
        for proj in (attn.q_proj, attn.k_proj):
            proj.weight.zero_()
        q = torch.zeros(HIDDEN)
        q[0] = 12.0  # |q|² · scale = 144 / 8 = 18 per unit of cos: rows peak on one token
        k = torch.zeros(HIDDEN)  # R(1) q in the (0, half) rotate-half pair
        k[0], k[half] = q[0] * torch.cos(torch.tensor(1.0)), q[0] * torch.sin(torch.tensor(1.0))
        attn.q_proj.bias.copy_(q)
        attn.k_proj.bias.copy_(k)
        attn.v_proj.weight.copy_(torch.eye(HIDDEN))
        attn.v_proj.bias.zero_()
        attn.o_proj.weight.copy_(6.0 * torch.eye(HIDDEN))
        for proj in (model.model.layers[0].mlp.down_proj,):
            proj.weight.zero_()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
