"""digitlab: learn how neural networks read handwritten digits (MNIST, PyTorch)."""


class UserError(Exception):
    """A problem the person can fix: the message is one sentence saying what to do."""
