import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from digitlab.cli import main

BAD_TRAIN = [
    (["--lr", "0"], "learning rate must be greater than 0"),
    (["--lr", "-1"], "learning rate"),
    (["--batch-size", "0"], "batch size must be between 1 and 48000"),
    (["--batch-size", "48001"], "batch size"),
    (["--epochs", "0"], "at least 1 epoch"),
    (["--hidden", "128", "0"], "at least 1"),
    (["--dropout", "1"], "Dropout must be in [0, 1)"),
    (["--dropout", "-0.1"], "Dropout"),
    (["--optimizer", "adagrad"], "Unknown optimizer 'adagrad'"),
    (["--norm", "group"], "Unknown norm 'group'"),
    (["--schedule", "warm"], "Unknown schedule 'warm'"),
    (["--normalize", "zscore"], "Unknown normalization"),
    (["--preset", "nope"], "Unknown preset 'nope'"),
    (["--lr", "abc"], "invalid float value"),
    (["--device", "tpu"], "Unknown device"),
]


def one_sentence_error(capsys, code):
    out = capsys.readouterr()
    assert code == 2
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in out.err
    return lines[0]


@pytest.mark.parametrize("args,message", BAD_TRAIN)
def test_bad_train_input(args, message, runs, tmp_path, capsys):
    code = main(["train", *args, "--save", str(tmp_path / "m.pt")])
    assert message in one_sentence_error(capsys, code)
    assert not runs.exists() and not (tmp_path / "m.pt").exists()  # no run, no file


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
def test_unavailable_device_leaves_no_run(runs, capsys):
    assert "not available on this machine" in one_sentence_error(capsys, main(["train", "--device", "cuda"]))
    assert not runs.exists()


def test_bad_files(tmp_path, runs, capsys):
    (tmp_path / "junk.pt").write_bytes(b"junk")
    for args, message in [
        (["eval", str(tmp_path / "missing.pt")], "No checkpoint"),
        (["eval", str(tmp_path / "junk.pt")], "corrupt"),
        (["predict", str(tmp_path / "junk.pt"), "x.png"], "corrupt"),
    ]:
        assert message in one_sentence_error(capsys, main(args))


def test_train_eval_predict_end_to_end(tiny_root, runs, unverified, tmp_path, capsys):
    save = tmp_path / "ship" / "m.pt"
    code = main(["--data", str(tiny_root), "train", "--preset", "trial-100-50", "--name", "mine", "--epochs", "2", "--hidden", "32",
                 "--lr", "0.003", "--device", "cpu", "--save", str(save), "--json"])
    out = capsys.readouterr()
    assert code == 0
    summary = json.loads(out.out.strip().splitlines()[-1])
    assert {"run_id", "best_val_acc", "test_acc", "epochs", "train_seconds", "checkpoint"} <= set(summary)
    assert summary["epochs"] == 2 and summary["test_acc"] > 0.5 and summary["checkpoint"] == str(save)
    card = json.loads(save.with_suffix(".json").read_text())
    assert card["seed"] == 0 and card["test_acc"] == summary["test_acc"] and "--preset trial-100-50" in card["command"]
    assert card["config"]["hidden"] == [32] and card["config"]["optimizer"] == "adam" and card["config"]["name"] == "mine"
    assert "epoch   2" in out.err

    assert main(["--data", str(tiny_root), "eval", str(save), "--json"]) == 0
    ev = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert ev["test_acc"] == pytest.approx(summary["test_acc"])
    assert len(ev["per_class"]) == 11 and 0 <= ev["macro_f1"] <= 1

    from tests.conftest import synthetic_digits

    x, y = synthetic_digits(1, 5)
    big = np.array(Image.fromarray(x[0]).resize((200, 200)))
    Image.fromarray(big).save(tmp_path / "digit.png")
    Image.fromarray(np.zeros((50, 50), np.uint8)).save(tmp_path / "blank.png")
    assert main(["predict", str(save), str(tmp_path / "digit.png"), str(tmp_path / "blank.png"), "--json"]) == 0
    res = [json.loads(l) for l in capsys.readouterr().out.strip().splitlines()]
    assert res[0]["digit"] in range(10) and sum(res[0]["probabilities"]) == pytest.approx(1, abs=1e-4)
    assert res[1]["digit"] is None

    (tmp_path / "notimage.png").write_text("text")
    msg = one_sentence_error(capsys, main(["predict", str(save), str(tmp_path / "notimage.png")]))
    assert "not an image" in msg

    assert main(["runs"]) == 0
    assert "completed" in capsys.readouterr().out


def test_real_cli_process_has_no_traceback(tmp_path):
    env = {**os.environ, "DIGITLAB_RUNS": str(tmp_path / "runs")}
    p = subprocess.run([sys.executable, "-m", "digitlab", "train", "--dropout", "1.5"], capture_output=True,
                       text=True, env=env)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
    assert not (tmp_path / "runs").exists()
    p = subprocess.run([sys.executable, "-m", "digitlab", "presets"], capture_output=True, text=True)
    assert p.returncode == 0 and "compare-sgd" in p.stdout and "fast" in p.stdout
