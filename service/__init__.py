"""headgaze attention service: loads exported models, runs onnxruntime, serves attentions over HTTP.

Never imports torch: a CPU deployment installs requirements/serve.txt only.
"""

__version__ = "0.1.0"
