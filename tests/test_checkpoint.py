import json
import pickle
import zipfile

import numpy as np
import pytest
import torch

from digitlab import UserError
from digitlab.learn import checkpoint
from digitlab.learn.checkpoint import SHIPPED
from digitlab.learn.config import TrainConfig
from digitlab.learn.models import build
from digitlab.settings import Limits
from digitlab.runs.store import Run, Status
from testkit.fixtures import official_test_digits


@pytest.mark.parametrize("config", [
    TrainConfig(hidden=[32, 16], norm_layer="layer", dropout=0.2, input_norm="symmetric"),
    TrainConfig(model="cnn", channels=[4, 8], hidden=[16], norm_layer="batch", input_norm="none"),
], ids=["mlp", "cnn"])
def test_round_trip(tmp_path, config):
    torch.manual_seed(0)
    m = build(config)
    if config.model == "cnn":  # running statistics that differ from the defaults must survive the trip
        m.train()
        m(torch.rand(8, 784))
    path = checkpoint.save(tmp_path / "sub" / "m.pt", m.state_dict(), config, {"test_acc": 0.5})
    assert [p.name for p in path.parent.iterdir()] == ["m.pt"]  # no temp file left
    ck = checkpoint.load(path)
    assert ck.config == config and ck.metrics == {"test_acc": 0.5} and not ck.model.training
    assert ck.num_params == m.num_params() == sum(p.numel() for p in m.parameters())
    x = torch.rand(3, 784)
    m.eval()
    mean, std = {"symmetric": (0.5, 0.5), "none": (0.0, 1.0)}[config.input_norm]
    expected = m((x - mean) / std).softmax(-1).detach().numpy()
    np.testing.assert_allclose(ck.predict_proba(x.reshape(3, 28, 28).numpy()), expected, rtol=1e-5, atol=1e-7)
    as_bytes = (x * 255).round().to(torch.uint8).reshape(3, 28, 28)  # uint8 images take the same path
    np.testing.assert_allclose(ck.predict_proba(as_bytes), ck.predict_proba(as_bytes.numpy() / 255.0), atol=1e-6)


def test_the_shipped_checkpoints_load_and_read_digits():
    x, y = official_test_digits(100)
    for name in ("mlp-default", "cnn-default"):
        ck = checkpoint.load(SHIPPED / f"{name}.pt")
        assert ck.config.input_norm == "mnist"  # saved under the old key 'normalize'
        p = ck.predict_proba(x)
        assert p.shape == (100, 10) and np.allclose(p.sum(1), 1, atol=1e-5)
        assert (p.argmax(1) == y).mean() >= 0.98


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
    from PIL import Image

    Image.new("L", (8, 8)).save(tmp_path / "picture.png")  # not code: just not a checkpoint
    with pytest.raises(UserError, match="picture.png is corrupt or not a PyTorch file"):
        checkpoint.load(tmp_path / "picture.png")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    with pytest.raises(UserError, match="not a digitlab checkpoint"):
        checkpoint.load(tmp_path / "foreign.pt")
    state = build(TrainConfig(hidden=[9])).state_dict()
    checkpoint.save(tmp_path / "mismatch.pt", state, TrainConfig(hidden=[8]), {})
    with pytest.raises(UserError, match="does not match"):
        checkpoint.load(tmp_path / "mismatch.pt")
    torch.save({"format": "digitlab-checkpoint", "config": {"lr": "fast"}, "state_dict": {}}, tmp_path / "bad.pt")
    with pytest.raises(UserError, match="does not match"):
        checkpoint.load(tmp_path / "bad.pt")


def test_cards_record_how_a_checkpoint_was_made(tmp_path):
    run = Run(1, "a b", TrainConfig(seed=3).to_dict(), Status.COMPLETED, test_acc=0.9, best_val_acc=0.91, best_epoch=2,
              train_seconds=1.234, num_params=10, device="cpu", finished=0.0)
    path = checkpoint.write_card(tmp_path / "m.pt", run, ["train", "--seed", "3", "--name", "a b"])
    card = json.loads(path.read_text())
    assert path.name == "m.json" and card["command"] == "digitlab train --seed 3 --name 'a b'"
    assert card["seed"] == 3 and card["torch"] == torch.__version__ and card["train_seconds"] == 1.23
    assert card["git_commit"] == checkpoint.git_commit() and len(card["git_commit"].split("-")[0]) == 40
    assert checkpoint.card_argv(checkpoint.read_card(tmp_path / "m.pt")) == ["train", "--seed", "3", "--name", "a b"]
    assert checkpoint.card_argv({"command": "python -m digitlab train --epochs 2"}) == ["train", "--epochs", "2"]
    with pytest.raises(UserError, match="No readable card"):
        checkpoint.read_card(tmp_path / "other.pt")
    (tmp_path / "x.json").write_text('{"command": "rm -rf /"}')
    with pytest.raises(UserError, match="not a `digitlab train` command"):
        checkpoint.card_argv(checkpoint.read_card(tmp_path / "x.pt"))


def test_git_commit_outside_a_checkout(monkeypatch, tmp_path):
    monkeypatch.setattr(checkpoint, "PROJECT", tmp_path)
    assert checkpoint.git_commit() is None


def test_oversized_files_and_zip_bombs_are_refused_before_unpacking(tmp_path):
    state = build(TrainConfig(hidden=[4])).state_dict()
    path = checkpoint.save(tmp_path / "ok.pt", state, TrainConfig(hidden=[4]), {})
    assert checkpoint.load(path, Limits(checkpoint_mb=1)).num_params == 3190
    with pytest.raises(UserError, match=r"over the limit of 0.001 MB \(limits.checkpoint_mb in the settings\)"):
        checkpoint.load(path, Limits(checkpoint_mb=0.001))
    with zipfile.ZipFile(tmp_path / "bomb.pt", "w", zipfile.ZIP_DEFLATED) as z:  # 64 MB of zeros in ~64 KB
        z.writestr("archive/data.pkl", b"\0" * (64 * 2**20))
    assert (tmp_path / "bomb.pt").stat().st_size < 2**20
    with pytest.raises(UserError, match="bomb.pt unpacks to 64.0 MB, over the limit of 1 MB"):
        checkpoint.load(tmp_path / "bomb.pt", Limits(checkpoint_mb=1))


def test_a_stored_config_is_priced_before_its_model_is_built(tmp_path, monkeypatch):
    big = TrainConfig(hidden=[60_000, 1_000])  # 107M parameters: never built
    torch.save({"format": "digitlab-checkpoint", "config": big.to_dict(), "state_dict": {}}, tmp_path / "big.pt")
    monkeypatch.setattr(checkpoint, "build", lambda config: pytest.fail("built a model over the limit"))
    with pytest.raises(UserError, match=r"107,111,010 parameters, over the limit of 10,000,000 \(limits.max_params"):
        checkpoint.load(tmp_path / "big.pt", Limits())
    huge = dict(big.to_dict(), hidden=[2_000_000, 2_000_000])
    torch.save({"format": "digitlab-checkpoint", "config": huge, "state_dict": {}}, tmp_path / "huge.pt")
    with pytest.raises(UserError, match="does not match any model digitlab can build"):
        checkpoint.load(tmp_path / "huge.pt")


def test_the_parameter_limit_holds_at_its_exact_value(tmp_path):
    config = TrainConfig(hidden=[2], device="cpu")  # 784*2 + 2 + 2*10 + 10 = 1,600 parameters
    path = checkpoint.save(tmp_path / "m.pt", build(config).state_dict(), config, {})
    assert checkpoint.load(path, Limits(max_params=1_600)).num_params == 1_600
    with pytest.raises(UserError, match=r"1,600 parameters, over the limit of 1,599 \(limits.max_params"):
        checkpoint.load(path, Limits(max_params=1_599))


def test_a_file_over_the_size_limit_is_refused_by_its_size(tmp_path):
    junk = tmp_path / "big.pt"
    junk.write_bytes(b"\0" * (3 * 2**19))  # 1.5 MB, not a zip: only its size can refuse it before torch reads it
    with pytest.raises(UserError, match=r"big.pt has 1.5 MB, over the limit of 1 MB \(limits.checkpoint_mb"):
        checkpoint.load(junk, Limits(checkpoint_mb=1))


def test_git_commit_says_when_the_checkout_has_changed(monkeypatch, tmp_path):
    import subprocess

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "f").write_text("a")
    git("add", "f")
    git("-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-qm", "one")
    monkeypatch.setattr(checkpoint, "PROJECT", tmp_path)
    head = checkpoint.git_commit()
    assert len(head) == 40 and not head.endswith("-dirty")
    (tmp_path / "f").write_text("b")
    assert checkpoint.git_commit() == head + "-dirty"


@pytest.mark.parametrize("card, says", [({}, "has no command to retrain from"), ({"command": 7}, "has no command"),
                                        ([1, 2], "has no command"), ({"command": "digitlab eval x"}, "not a `digitlab train`")])
def test_a_card_without_a_train_command_is_one_sentence(card, says, tmp_path):
    (tmp_path / "m.json").write_text(json.dumps(card))
    with pytest.raises(UserError, match=says):
        checkpoint.card_argv(checkpoint.read_card(tmp_path / "m.pt"))


def test_a_damaged_file_is_called_damaged_not_hostile(tmp_path):
    path = tmp_path / "best.pt"
    path.write_bytes(b"cut short" * 100)  # 'c' is a pickle's GLOBAL: torch's refusal names a global
    with pytest.raises(UserError, match=r"best\.pt is corrupt or not a PyTorch file: use a checkpoint written by"):
        checkpoint.load(path)
