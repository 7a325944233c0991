"""Export time: turn a model source into a verified `models/<id>/` artifact.

The folder holds `model.onnx` with one `attentions.{i}` output per layer, a `tokenizer.json` with
padding and truncation off, and a `manifest.json`. Only this package imports torch; the service
and dashboard read the artifact with onnxruntime and tokenizers.
"""
