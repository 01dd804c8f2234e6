"""My digits: drawings people saved with their labels, kept in the run store; their export and import as a zip,
and every model scored on them.

The zip holds an IDX pair (images-idx3-ubyte, labels-idx1-ubyte: the 28x28 images the model saw, MNIST's format, so
that other tools read it), the drawings as PNGs (drawings/00001-7.png) and digits.csv (index, label, drawing, when).
"""

import csv
import io
import time
import zipfile
from typing import Protocol

import numpy as np
from PIL import Image, UnidentifiedImageError

from digitlab import UserError, settings
from digitlab.datasets import idx
from digitlab.drawing import pictures, preprocess
from digitlab.settings import Limits

IMAGES, LABELS, TABLE = "images-idx3-ubyte", "labels-idx1-ubyte", "digits.csv"
MAX_DRAWING = 1_000_000  # bytes of one drawing's PNG in a zip: the pad's are a few KB
MAX_DRAWING_SIDE = 2000  # pixels of a drawing's side in a zip: the pad's are 280
PICTURE_SIDE = 280  # a drawing is kept at most this size (the pad's): what the model reads is kept apart, whole
PICTURE_BYTES = 64_000  # and at most this many bytes (else the 28x28 image stands in for it)


class Keeps(Protocol):
    """Where My digits are kept: the run store (digitlab.runs.store.Store), which datasets/ does not import."""

    def add_digits(self, items: list[tuple[int, bytes, bytes]], owner: str, limit: int,
                   quota: int | None = None) -> list[int]: ...


def quota(limits: Limits, owner: str) -> int | None:
    """The bytes a person of a class may keep (None on a single-user machine: the disk is the user's own)."""
    return int(limits.stored_mb_per_person * 2**20) if owner else None


def bounded(drawing: bytes, seen: bytes) -> bytes:
    """The picture kept of a drawing: at most PICTURE_SIDE a side and PICTURE_BYTES, else the 28x28 image the model
    read (seen). Its size was checked before: the pad's (limits.image_pixels) or a zip's (MAX_DRAWING_SIDE)."""
    try:
        with Image.open(io.BytesIO(drawing)) as im:
            if max(im.size) <= PICTURE_SIDE and len(drawing) <= PICTURE_BYTES:
                return drawing
            im = im.convert("LA" if "A" in im.getbands() else "L")
            im.thumbnail((PICTURE_SIDE, PICTURE_SIDE))
            buf = io.BytesIO()
            im.save(buf, "PNG", optimize=True)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        buf = io.BytesIO()
    small = buf.getvalue()
    return small if 0 < len(small) <= PICTURE_BYTES else image_png(np.frombuffer(seen, np.uint8).reshape(28, 28))


def label_of(value) -> int:
    """A label as an int from 0 to 9, or one sentence."""
    if isinstance(value, str) and len(value.strip()) == 1 and value.strip().isdigit():
        return int(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 <= value <= 9:
        return int(value)
    raise UserError(f"{value!r} is not a digit label: give a whole number from 0 to 9.")


def as_bytes(seen) -> bytes:
    """A (28, 28) image in [0, 1] (what preprocess.to_mnist gives) as the 784 bytes kept for it."""
    return pictures.to_bytes(seen).tobytes()


def save(store: Keeps, drawing: bytes, label, owner: str = "", limits: Limits | None = None) -> int:
    """Keep a drawing (the PNG the pad sent) with its label; returns its id. What the model sees of it is computed
    here, the way the Draw page computes it, so that it is stored as it was read."""
    limits = limits or settings.current().limits
    label = label_of(label)
    file = io.BytesIO(drawing)
    file.name = "The drawing"
    seen = preprocess.to_mnist(preprocess.read_image(file, limits))
    if seen is None:
        raise UserError("Nothing is drawn: draw a digit, then save it.")
    seen = as_bytes(seen)
    return store.add_digits([(label, bounded(drawing, seen), seen)], owner, limits.digits_per_person,
                            quota(limits, owner))[0]


def arrays(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Saved digits as MNIST-like arrays: uint8 images (N, 28, 28) and int64 labels (N,)."""
    x = np.frombuffer(b"".join(r["seen"] for r in rows), np.uint8).reshape(-1, 28, 28)
    return x, np.array([r["label"] for r in rows], np.int64)


def image_png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(pixels, np.uint8)).save(buf, "PNG")
    return buf.getvalue()


# --- the zip ------------------------------------------------------------------------------------------------

def export_zip(rows: list[dict]) -> bytes:
    """Saved digits as a zip that import_zip, and any MNIST reader for the IDX pair, can read."""
    x, y = arrays(rows)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(IMAGES, idx.encode(x))
        z.writestr(LABELS, idx.encode(y))
        table = io.StringIO()
        out = csv.writer(table, lineterminator="\n")
        out.writerow(["index", "label", "drawing", "created"])
        for k, r in enumerate(rows):
            name = f"drawings/{k + 1:05d}-{r['label']}.png"
            z.writestr(name, r["drawing"])
            out.writerow([k, r["label"], name, time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(r["created"]))])
        z.writestr(TABLE, table.getvalue())
    return buf.getvalue()


def _read(z: zipfile.ZipFile, name: str, cap: int, what: str) -> bytes:
    """One member, refused when it says or turns out to be larger than cap: a header can lie about its size."""
    if z.getinfo(name).file_size > cap:
        raise UserError(f"{what} in the zip is larger than {cap:,} bytes: export the digits again from digitlab.")
    with z.open(name) as f:
        data = f.read(cap + 1)
    if len(data) > cap:
        raise UserError(f"{what} in the zip unpacks to more than {cap:,} bytes: export the digits again from digitlab.")
    return data


def _parse_idx(raw: bytes, ndim: int, what: str) -> tuple[tuple[int, ...], bytes]:
    try:
        a = idx.decode(raw, ndim)
    except idx.Malformed as e:
        fix = "the file is truncated or damaged" if e.truncated else "export the digits again from digitlab"
        raise UserError(f"{what} {e}: {fix}.") from None
    return a.shape, a.tobytes()


def read_zip(blob: bytes, limits: Limits | None = None) -> list[tuple[int, bytes, bytes]]:
    """A My digits zip as (label, drawing PNG, 784 bytes seen) items, every size checked before it is read: the
    zip's bytes, the number of members, each member's size (declared and real), the IDX headers, the drawings'
    sizes in pixels. Anything wrong is one sentence, and nothing of the zip is kept."""
    limits = limits or settings.current().limits
    most = limits.digits_per_person
    limits.check_bytes("digits_zip_mb", "The zip", len(blob))
    try:
        z = zipfile.ZipFile(io.BytesIO(blob))
    except (zipfile.BadZipFile, ValueError):
        raise UserError("This is not a zip file: import a zip exported from the My digits page.") from None
    with z:
        names = set(z.namelist())
        if len(names) > 2 * most + 10:
            raise UserError(f"The zip holds {len(names):,} files, more than a My digits export of {most:,} digits "
                            "can: import a zip exported from the My digits page.")
        if not {IMAGES, LABELS} <= names:
            raise UserError(f"The zip has no {IMAGES} and {LABELS}: import a zip exported from the My digits page.")
        try:
            (n, h, w), images = _parse_idx(_read(z, IMAGES, 16 + 784 * most, IMAGES), 3, IMAGES)
            (m,), labels = _parse_idx(_read(z, LABELS, 8 + most, LABELS), 1, LABELS)
            if (h, w) != (28, 28):
                raise UserError(f"{IMAGES} holds {h}x{w} images: My digits are 28x28, as MNIST's.")
            if n != m:
                raise UserError(f"{IMAGES} holds {_many(n, 'image')} but {LABELS} {_many(m, 'label')}: the zip is "
                                "damaged.")
            if max(labels, default=0) > 9:
                raise UserError(f"{LABELS} holds a label of {max(labels)}: labels are digits from 0 to 9.")
            drawings = _drawings(z, names, n)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError):
            raise UserError("The zip is damaged: export the digits again from digitlab.") from None
    return [(labels[k], drawings[k] or image_png(np.frombuffer(images, np.uint8, 784, 784 * k).reshape(28, 28)),
             images[784 * k : 784 * (k + 1)]) for k in range(n)]


def _many(n: int, what: str) -> str:
    return f"{n:,} {what}{'s' * (n != 1)}"


def _drawings(z: zipfile.ZipFile, names: set[str], n: int) -> list[bytes | None]:
    """The PNG drawings digits.csv names, by index (None where it names none: the 28x28 image stands in)."""
    found: list[bytes | None] = [None] * n
    if TABLE not in names:
        return found
    text = _read(z, TABLE, 200 * (n + 1), TABLE).decode("utf-8", errors="replace")
    for row in csv.DictReader(io.StringIO(text)):
        try:
            k, name = int(row.get("index") or -1), row.get("drawing") or ""
        except ValueError:
            continue
        if 0 <= k < n and name in names:
            png = _read(z, name, MAX_DRAWING, name)
            try:
                with Image.open(io.BytesIO(png)) as im:  # the header only: no pixel is decoded here
                    ok = im.format == "PNG" and max(im.size) <= MAX_DRAWING_SIDE
            except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
                ok = False
            if not ok:
                raise UserError(f"{name} in the zip is not a PNG drawing of at most {MAX_DRAWING_SIDE} pixels a side: "
                                "export the digits again from digitlab.")
            found[k] = png
    return found


def import_zip(store: Keeps, blob: bytes, owner: str = "", limits: Limits | None = None) -> int:
    """Add a zip's digits to owner's, all or none; returns how many."""
    limits = limits or settings.current().limits
    items = read_zip(blob, limits)
    if not items:
        raise UserError("The zip holds no digits: export some from the My digits page first.")
    items = [(label, bounded(drawing, seen), seen) for label, drawing, seen in items]
    return len(store.add_digits(items, owner, limits.digits_per_person, quota(limits, owner)))
