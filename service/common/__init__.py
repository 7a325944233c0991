"""What every part of the service shares, and the client with it: errors, result types, the wire
format of arrays (float16 base64), float16 conversions, server-sent event frames, file hashing and
the command-line layer. May import numpy, orjson and click (onnxruntime only lazily, in half.py's
float16 cast); never the other parts of the service."""
