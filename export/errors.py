"""Errors that end an export with a one-line message and a chosen exit code."""


class ExportError(Exception):
    """A failure the user can act on; `headgaze export` prints it without a traceback."""

    exit_code = 1


class UnknownModel(ExportError):
    """The argument is neither a known id, nor a folder, nor something that looks like a hub id."""

    exit_code = 2


class VerificationFailed(ExportError):
    """The exported ONNX graph does not reproduce PyTorch eager's attentions."""

    exit_code = 3
