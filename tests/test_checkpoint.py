import pickle

import numpy as np
import pytest
import torch

from digitlab import UserError, checkpoint
from digitlab.config import TrainConfig
from digitlab.models import build


def test_round_trip(tmp_path):
    c = TrainConfig(hidden=[32, 16], norm="layer", dropout=0.2, normalize="symmetric")
    torch.manual_seed(0)
    m = build(c)
    path = checkpoint.save(tmp_path / "sub" / "m.pt", m.state_dict(), c, {"test_acc": 0.5})
    assert [p.name for p in path.parent.iterdir()] == ["m.pt"]  # no temp file left
    ck = checkpoint.load(path)
    assert ck.config == c and ck.metrics == {"test_acc": 0.5} and not ck.model.training
    x = torch.rand(3, 784)
    m.eval()
    np.testing.assert_allclose(ck.predict_proba(x.reshape(3, 28, 28).numpy()),
                               m((x - 0.5) / 0.5).softmax(-1).detach().numpy(), rtol=1e-5)


class Evil:
    def __reduce__(self):
        import os

        return (os.system, (f"touch {Evil.marker}",))


def test_malicious_pickle_is_refused(tmp_path):
    Evil.marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format": "digitlab-checkpoint", "state_dict": Evil()}, path)
    with pytest.raises(UserError, match="not allowed"):
        checkpoint.load(path)
    assert not Evil.marker.exists()
    with open(tmp_path / "evil.pkl", "wb") as f:
        pickle.dump(Evil(), f)
    with pytest.raises(UserError):
        checkpoint.load(tmp_path / "evil.pkl")
    assert not Evil.marker.exists()


def test_missing_corrupt_and_foreign_files(tmp_path):
    with pytest.raises(UserError, match="No checkpoint"):
        checkpoint.load(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"\x00\x01not a checkpoint")
    with pytest.raises(UserError, match="corrupt"):
        checkpoint.load(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    with pytest.raises(UserError, match="not a digitlab checkpoint"):
        checkpoint.load(tmp_path / "foreign.pt")
    c = TrainConfig(hidden=[8])
    state = build(TrainConfig(hidden=[9])).state_dict()
    checkpoint.save(tmp_path / "mismatch.pt", state, c, {})
    with pytest.raises(UserError, match="does not match"):
        checkpoint.load(tmp_path / "mismatch.pt")
