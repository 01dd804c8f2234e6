"""digitlab: learn how neural networks read handwritten digits (MNIST, PyTorch)."""

__version__ = "0.1.0"


class UserError(Exception):
    """A problem the person can fix: the message is one sentence saying what to do."""
