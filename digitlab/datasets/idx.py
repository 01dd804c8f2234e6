"""MNIST's file format, IDX, both ways: magic 0x0000 08 ndim, big-endian uint32 dimensions, then the bytes."""

import struct

import numpy as np


class Malformed(ValueError):
    """Bytes that are not a uint8 IDX file of the shape asked for; the message says what is wrong, and truncated
    whether the header is sound but the body holds another number of bytes (a file cut short or padded)."""

    def __init__(self, message: str, truncated: bool = False):
        super().__init__(message)
        self.truncated = truncated


def encode(array: np.ndarray) -> bytes:
    """A uint8 array as IDX bytes."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    return struct.pack(">HBB", 0, 0x08, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()


def decode(raw: bytes, ndim: int | None = None) -> np.ndarray:
    """IDX bytes as a uint8 array of the shape their header gives (of ndim dimensions, when given)."""
    if len(raw) < 4:
        raise Malformed("is too short to be an IDX file")
    zero, dtype, dims = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08 or dims < 1 or (ndim is not None and dims != ndim):
        want = f" of {ndim} dimension{'s' * (ndim > 1)}" if ndim else ""
        raise Malformed(f"is not a uint8 IDX file{want}")
    if len(raw) < 4 + 4 * dims:
        raise Malformed("is too short to be an IDX file")
    shape = struct.unpack(f">{dims}I", raw[4 : 4 + 4 * dims])
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape, dtype=np.int64)):
        raise Malformed(f"holds {body.size:,} bytes where its header announces {int(np.prod(shape, dtype=np.int64)):,}",
                        truncated=True)
    return body.reshape(shape)
