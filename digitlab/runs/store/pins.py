"""What a run watches and keeps as it trains: pinned drawings and their scores, first-layer snapshots."""

import json

import numpy as np

from digitlab import UserError
from digitlab.files import write_atomically

MAX_PINS = 8            # drawings one run watches as it trains
SNAPSHOTS = "first-layer"  # a run's folder of first-layer weights, one file an epoch


def check_pins(pins) -> None:
    """(label or None, 784 bytes) drawings, at most MAX_PINS: one sentence for anything else."""
    if len(pins) > MAX_PINS:
        raise UserError(f"A run can watch at most {MAX_PINS} drawings, got {len(pins)}: unpin some.")
    for label, image in pins:
        if not isinstance(image, bytes) or len(image) != 28 * 28:
            raise UserError("A pinned drawing must be a 28x28 image: pin it again from the Draw page.")
        if label is not None and label not in range(10):
            raise UserError(f"A pinned drawing's label must be a digit from 0 to 9, got {label!r}.")


class Pins:
    @staticmethod
    def _add_pins(db, run_id: int, pins) -> None:
        check_pins(pins)
        for slot, (label, image) in enumerate(pins):
            db.execute("INSERT INTO pins (run_id, slot, label, image) VALUES (?, ?, ?, ?)", (run_id, slot, label, image))

    def add_pin_scores(self, run_id: int, epoch: int, step: int, probs: list[list[float]]) -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO pin_scores (run_id, step, epoch, probs) VALUES (?, ?, ?, ?)",
                       (run_id, step, epoch, json.dumps([[round(p, 5) for p in row] for row in probs])))

    def pins(self, run_id: int) -> list[dict]:
        """The drawings a run watches: slot, label (or None) and image (the 28x28 uint8 array)."""
        with self._db() as db:
            rows = db.execute("SELECT slot, label, image FROM pins WHERE run_id=? ORDER BY slot", (run_id,)).fetchall()
        return [{"slot": r["slot"], "label": r["label"],
                 "image": np.frombuffer(r["image"], np.uint8).reshape(28, 28)} for r in rows]

    def pin_scores(self, run_id: int, after: int = 0) -> list[dict]:
        """The pinned drawings' probabilities as the run trained: step, epoch, probs (K lists of ten)."""
        with self._db() as db:
            rows = db.execute("SELECT step, epoch, probs FROM pin_scores WHERE run_id=? AND step>? ORDER BY step",
                              (run_id, after)).fetchall()
        return [{"step": r["step"], "epoch": r["epoch"], "probs": json.loads(r["probs"])} for r in rows]

    def save_snapshot(self, run_id: int, epoch: int, weights: np.ndarray) -> None:
        """A run's first layer after an epoch (0: before training), one small .npy file an epoch in its folder."""
        path = self.run_dir(run_id) / SNAPSHOTS / f"epoch-{epoch:04d}.npy"
        write_atomically(path, lambda f: np.save(f, weights, allow_pickle=False))

    def snapshots(self, run_id: int) -> dict[int, np.ndarray]:
        """The first layer of a run at every epoch it kept: {epoch: weights}; empty for a run from before them."""
        out = {}
        for path in sorted((self.run_dir(run_id) / SNAPSHOTS).glob("epoch-*.npy")):
            try:
                out[int(path.stem[6:])] = np.load(path, allow_pickle=False)
            except (OSError, ValueError):  # a file cut short by a crash: that epoch is missing, the rest shows
                continue
        return out
