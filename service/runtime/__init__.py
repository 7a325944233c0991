"""The runtime: exported models loaded into onnxruntime and run — the engine, the loaded model, batching,
the recent-results store and the shared cache, predictions, generation, knock-out and writes. May
import service.common and service.analysis, onnxruntime, tokenizers, numpy; never the HTTP face."""
