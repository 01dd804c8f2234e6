import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitlab.datasets import data
from digitlab.learn.checkpoint import SHIPPED
from digitlab.cli import build_parser, main
from digitlab.learn.config import TrainConfig
from digitlab.runs.store import Status, Store
from testkit import redraw
from testkit.fixtures import official_test_digits

BAD_TRAIN = [
    (["--lr", "0"], "Learning rate must be greater than 0"),
    (["--lr", "-1"], "Learning rate"),
    (["--batch-size", "0"], "Batch size must be between 1 and 48000"),
    (["--batch-size", "48001"], "Batch size"),
    (["--epochs", "0"], "Epochs must be between 1 and 1000"),
    (["--hidden", "128", "0"], "Hidden layer sizes must be between 1 and 65536"),
    (["--dropout", "1"], "Dropout must be at least 0 and below 1"),
    (["--dropout", "-0.1"], "Dropout"),
    (["--optimizer", "adagrad"], "Unknown optimizer 'adagrad'"),
    (["--norm-layer", "group"], "Unknown normalization layer 'group'"),
    (["--norm", "group"], "Unknown normalization layer 'group'"),  # the old flag still works
    (["--schedule", "warm"], "Unknown lr schedule 'warm'"),
    (["--input-norm", "zscore"], "Unknown input normalization 'zscore'"),
    (["--preset", "nope"], "Unknown preset 'nope'"),
    (["--lr", "abc"], "invalid float value"),
    (["--lr", "nan"], "Learning rate must be a number"),
    (["--device", "tpu"], "Unknown device"),
    (["--name", "x" * 200], "Name must be at most 80 characters"),
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


def test_flags_come_from_the_config_with_their_defaults():
    a = build_parser().parse_args(["train", "--normalize", "symmetric", "--no-shuffle", "--hidden", "30", "5"])
    assert (a.input_norm, a.shuffle, a.hidden, a.lr) == ("symmetric", False, [30, 5], None)
    text = " ".join(build_parser()._subparsers._group_actions[0].choices["train"].format_help().split())
    assert "--norm-layer NORM_LAYER, --norm NORM_LAYER" in text and "--input-norm INPUT_NORM, --normalize" in text
    assert "default: 0.001" in text and "one of none, batch, layer" in text and "between 1 and 48000" in text


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
        (["cancel", "99"], "There is no run 99"),
        (["ship", "nothing", "--checkpoints", str(tmp_path)], "No readable card"),
    ]:
        assert message in one_sentence_error(capsys, main(args))


def test_train_eval_end_to_end(tiny_root, runs, tmp_path, capsys):
    save = tmp_path / "ship" / "m.pt"
    code = main(["--data", str(tiny_root), "train", "--preset", "trial-100-50", "--name", "mine", "--epochs", "2",
                 "--hidden", "32", "--lr", "0.003", "--device", "cpu", "--save", str(save), "--json"])
    out = capsys.readouterr()
    assert code == 0
    summary = json.loads(out.out.strip().splitlines()[-1])
    assert {"run_id", "best_val_acc", "test_acc", "epochs", "train_seconds", "checkpoint"} <= set(summary)
    assert summary["epochs"] == 2 and summary["test_acc"] > 0.5 and summary["checkpoint"] == str(save)
    card = json.loads(save.with_suffix(".json").read_text())
    assert card["seed"] == 0 and card["test_acc"] == summary["test_acc"] and "--preset trial-100-50" in card["command"]
    assert card["config"]["hidden"] == [32] and card["config"]["optimizer"] == "adam" and card["config"]["name"] == "mine"
    assert card["data_md5"] == data.MD5 and card["git_commit"] and card["torch"]
    machine = card["machine"]  # what trained it: the processor, the threads and the precision used
    assert machine["processor"] and machine["threads"] >= 1 and machine["precision"] == "fp32"
    assert "epoch   2" in out.err

    assert main(["--data", str(tiny_root), "eval", str(save), "--json"]) == 0
    ev = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert ev["test_acc"] == pytest.approx(summary["test_acc"])
    assert len(ev["per_class"]) == 11 and 0 <= ev["macro_f1"] <= 1

    assert main(["runs"]) == 0
    assert "completed" in capsys.readouterr().out


def test_predict_reads_known_digits(tmp_path, capsys):
    """Official test digits drawn large on a page, dark on light: the shipped model must name each one."""
    x, y = official_test_digits(8)
    paths = []
    for i, (img, label) in enumerate(zip(x, y)):
        page = 255 - redraw.redraw(img, 160, 40, 60, 4, canvas=280)
        paths.append(tmp_path / f"digit{i}-{label}.png")
        Image.fromarray(page).save(paths[-1])
    Image.fromarray(np.zeros((50, 50), np.uint8)).save(tmp_path / "blank.png")
    model = str(SHIPPED / "mlp-default.pt")
    assert main(["predict", model, *map(str, paths), str(tmp_path / "blank.png"), "--json"]) == 0
    res = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["digit"] for r in res[:-1]] == list(y)
    assert [r["answer"] for r in res[:-1]] == [str(d) for d in y]  # sure, and none taken for a non-digit
    assert all(sum(r["probabilities"]) == pytest.approx(1, abs=1e-4) for r in res[:-1])
    assert res[-1]["digit"] is None

    cross = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(cross).line([(50, 50), (230, 230)], fill=0, width=24)
    ImageDraw.Draw(cross).line([(230, 50), (50, 230)], fill=0, width=24)
    cross.save(tmp_path / "x.png")
    assert main(["predict", model, str(tmp_path / "x.png")]) == 0
    assert "not a digit? (it looks like none of 0-9" in capsys.readouterr().out

    (tmp_path / "notimage.png").write_text("text")
    assert "not an image" in one_sentence_error(capsys, main(["predict", model, str(tmp_path / "notimage.png")]))


def test_cancel_worker_and_runs(tiny_root, runs, capsys):
    store = Store(runs)
    a, b = (store.create(TrainConfig(hidden=[16], epochs=1, device="cpu")) for _ in range(2))
    assert main(["cancel", str(a)]) == 0
    assert f"run {a}: cancelled, cancel requested" in capsys.readouterr().out
    assert main(["--data", str(tiny_root), "worker"]) == 0
    assert store.get(a).status is Status.CANCELLED and store.get(b).status is Status.COMPLETED
    assert main(["runs"]) == 0
    listing = capsys.readouterr().out
    assert "cancelled" in listing and "completed" in listing


def test_data_prepares_and_verifies(tiny_root, capsys):
    assert main(["--data", str(tiny_root), "data"]) == 0
    out = capsys.readouterr().out
    assert out.count("OK") == 4 and "MNIST ready" in out
    raw = data.raw_dir(tiny_root) / "t10k-labels-idx1-ubyte"
    changed = raw.read_bytes()[:-1] + b"\x09"
    raw.write_bytes(changed)  # caught; the offline package can rebuild only the real set, so: one sentence
    assert main(["--data", str(tiny_root), "data"]) == 2
    err = capsys.readouterr().err.strip().splitlines()  # progress lines, then one sentence
    assert err[-1].startswith("error: ") and "t10k-labels-idx1-ubyte" in err[-1] and "Traceback" not in err
    assert raw.read_bytes() == changed and not list(raw.parent.glob("*.tmp"))  # nothing half-written


def test_ship_retrains_from_the_card_and_rewrites_it(tiny_root, runs, tmp_path, capsys):
    folder = tmp_path / "shipped"
    folder.mkdir()
    (folder / "tiny.json").write_text(json.dumps({"command": "python -m digitlab train --hidden 16 --epochs 1 "
                                                  "--device cpu --name tiny --save checkpoints/tiny.pt --json"}))
    assert main(["ship", "tiny", "--checkpoints", str(folder), "--dry-run"]) == 0
    assert capsys.readouterr().out.strip() == (f"digitlab train --hidden 16 --epochs 1 --device cpu --name tiny "
                                                f"--save {folder / 'tiny.pt'}")
    assert not (folder / "tiny.pt").exists()
    assert main(["ship", "tiny", "--checkpoints", str(folder), "--dry-run", "--epochs", "2"]) == 0
    assert "--name tiny --epochs 2 --save" in capsys.readouterr().out  # flags given override the card's
    assert main(["--data", str(tiny_root), "ship", "tiny", "--checkpoints", str(folder)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    card = json.loads((folder / "tiny.json").read_text())
    assert card["command"] == f"digitlab train --hidden 16 --epochs 1 --device cpu --name tiny --save {folder / 'tiny.pt'}"
    assert card["test_acc"] == summary["test_acc"] and card["git_commit"] and card["torch"]
    assert main(["--data", str(tiny_root), "eval", str(folder / "tiny.pt"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["test_acc"] == pytest.approx(card["test_acc"])


@pytest.mark.parametrize("name", ["mlp-default", "cnn-default"])
def test_each_shipped_card_is_reproduced_by_eval(name, capsys):
    if not data.is_prepared(SHIPPED.parent / "data"):
        pytest.skip("the real MNIST is not prepared")
    card = json.loads((SHIPPED / f"{name}.json").read_text())
    assert main(["--data", str(SHIPPED.parent / "data"), "eval", str(SHIPPED / f"{name}.pt"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["test_acc"] == pytest.approx(card["test_acc"], abs=1e-4)


@pytest.mark.parametrize("name", ["mlp-default", "cnn-default"])
def test_each_shipped_cards_command_still_trains_the_cards_model(name):
    """`digitlab ship` retrains from the card's command: its preset must still be the recipe the card records."""
    from digitlab.learn.checkpoint import card_argv, read_card
    from digitlab.cli import build_parser, config_from_args
    from digitlab.learn.config import TrainConfig

    card = read_card(SHIPPED / f"{name}.pt")
    again = config_from_args(build_parser().parse_args(card_argv(card)))
    assert again == TrainConfig.from_dict(card["config"]) and card["train_seconds"] > 0
    if name == "cnn-default":  # cards written since cards recorded the machine
        assert card["machine"]["processor"] and card["machine"]["threads"] >= 1


def test_the_installed_command_runs_with_no_traceback(tmp_path):
    env = {**os.environ, "DIGITLAB_RUNS": str(tmp_path / "runs")}
    digitlab = os.path.join(os.path.dirname(sys.executable), "digitlab")
    p = subprocess.run([digitlab, "train", "--dropout", "1.5"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
    assert not (tmp_path / "runs").exists()
    p = subprocess.run([sys.executable, "-m", "digitlab", "presets"], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0 and "compare-sgd" in p.stdout and "fast" in p.stdout
    p = subprocess.run([digitlab, "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0 and p.stdout.startswith("digitlab 0.")


def test_a_mistyped_data_path_is_never_created(tmp_path, runs, capsys):
    assert "No data folder at" in one_sentence_error(capsys, main(["--data", str(tmp_path / "typo"), "train"]))
    assert not (tmp_path / "typo").exists() and not runs.exists()


def test_restore_a_damaged_store(runs, capsys):
    store = Store(runs)
    rid = store.create(TrainConfig(name="precious"))
    store.backup()
    store.path.write_bytes(b"\x00" * 4096)
    assert "restore the latest automatic backup" in one_sentence_error(capsys, main(["runs"]))
    assert main(["restore"]) == 0 and "restored" in capsys.readouterr().out
    assert main(["runs"]) == 0 and "precious" in capsys.readouterr().out
    assert Store(runs).get(rid).name == "precious"


def test_supervise_refuses_a_second_supervisor(runs, capsys):
    from digitlab.runs.runner import supervisor

    first = supervisor.Supervisor(Store(runs), slots=1)
    assert first.acting()
    assert "A supervisor already keeps the run store" in one_sentence_error(capsys, main(["supervise"]))


def test_eval_scores_a_checkpoint_on_exported_digits(tmp_path, capsys):
    from digitlab.datasets import handwriting
    from digitlab.runs.store import Store
    from testkit import redraw
    from testkit.fixtures import official_test_digits

    x, y = official_test_digits(20)
    store = Store(tmp_path / "runs")
    for img, label in zip(x, y):
        handwriting.save(store, handwriting.image_png(redraw.redraw(img, 170, 50, 50, 2)), int(label))
    export = tmp_path / "mine.zip"
    export.write_bytes(handwriting.export_zip(store.digits()))
    model = str(SHIPPED / "mlp-default.pt")
    assert main(["eval", model, "--digits", str(export), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["per_class"][-1]["support"] == 20 and r["test_acc"] >= 0.9
    assert main(["eval", model, "--digits", str(export)]) == 0
    assert "on 20 digits of mine.zip: acc" in capsys.readouterr().out
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    assert main(["eval", model, "--digits", str(tmp_path / "bad.zip")]) == 2
    assert capsys.readouterr().err.strip() == "error: This is not a zip file: import a zip exported from the My digits page."
