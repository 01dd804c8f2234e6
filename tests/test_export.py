"""A run as plain PyTorch: every preset's script, and one per setting changed alone, trains on the fixture set in a
subprocess and writes a checkpoint `digitlab eval` reads; on the CPU it ends where digitlab's own loop does; the
notebook validates and runs; what plain code cannot carry is said or refused."""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from nbclient import NotebookClient

from digitlab import UserError
from digitlab.course import export
from digitlab.datasets import data
from digitlab.learn import train
from digitlab.cli import main
from digitlab.learn.config import TrainConfig, validate
from digitlab.learn.presets import PRESETS, preset
from testkit.fixtures import digests, prepared_dataset

ALONE = {  # each setting changed alone, from a small MLP
    "sgd": dict(optimizer="sgd"), "momentum": dict(optimizer="momentum", nesterov=True), "adamw": dict(optimizer="adamw"),
    "rmsprop": dict(optimizer="rmsprop"), "step": dict(schedule="step", step_size=1), "cosine": dict(schedule="cosine"),
    "onecycle": dict(schedule="onecycle"), "batchnorm": dict(norm_layer="batch"), "layernorm": dict(norm_layer="layer"),
    "dropout": dict(dropout=0.3), "symmetric": dict(input_norm="symmetric"), "none": dict(input_norm="none"),
    "decay": dict(weight_decay=1e-3), "smoothing": dict(label_smoothing=0.1), "rotate": dict(rotate=10.0),
    "shear": dict(shear=10.0), "scale": dict(scale=0.1), "translate": dict(translate=2.0), "elastic": dict(elastic=2.0),
    "thickness": dict(thickness=0.5), "ema": dict(ema=0.9), "bf16": dict(precision="bf16"), "no shuffle": dict(shuffle=False),
    "val_size": dict(val_size=6000), "seed": dict(seed=7), "deep": dict(hidden=[64, 32, 16]),
    "cnn": dict(model="cnn", channels=[4, 8], hidden=[16], kernel=3, convs=2),
}
SMALL = dict(hidden=[32], epochs=1, batch_size=32, device="cpu")


def configs() -> dict[str, TrainConfig]:
    """Every preset and every setting alone; a run asking for bf16 twice, as on a processor that computes bf16 in
    hardware (AVX-512 BF16 or AMX) and on one that does not (it trains in fp32), whichever this machine is."""
    made = {f"preset {name}": preset(name, epochs=1, device="cpu") for name in PRESETS}
    made.update({f"alone {k}": validate(TrainConfig(**{**SMALL, **v})) for k, v in ALONE.items()})
    return {f"{name}{side}": config for name, config in made.items()
            for side in ((" [bf16 hardware]", " [no bf16 hardware]") if config.precision == "bf16" else ("",))}


def bf16_hardware(name: str) -> bool | None:
    """Which processor a config's name asks to stand in for: True, False, or None (this one, as it is)."""
    return True if name.endswith(" [bf16 hardware]") else False if name.endswith(" [no bf16 hardware]") else None


@pytest.fixture(scope="module")
def fixture_data(tmp_path_factory):
    return prepared_dataset(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory, fixture_data):
    """Every config's script, run one after another in one subprocess on the fixture set: {name: checkpoint}."""
    folder = tmp_path_factory.mktemp("exported")
    runs = {}
    for k, (name, config) in enumerate(configs().items()):
        path = folder / f"run{k}.py"
        path.write_text(export.script(config, name))
        runs[name] = (str(path), str(folder / f"run{k}.pt"), bf16_hardware(name))
    # bf16: the processor this run stands for, as torch answers it in the script's process (autocast in bf16 runs
    # on any x86 CPU, emulated where it is not native, so either side of the path runs here)
    driver = (f"import runpy, sys, json, torch\n"
              f"torch.set_num_threads({torch.get_num_threads()})  # as this process: the same kernels, the same sums\n"
              f"for script, out, bf16 in json.loads({json.dumps(json.dumps(list(runs.values())))}):\n"
              "    if bf16 is not None:\n"
              "        torch.cpu._is_avx512_bf16_supported = torch.cpu._is_amx_tile_supported = lambda: bf16\n"
              f"    sys.argv = [script, '--data', {str(fixture_data)!r}, '--out', out, '--epochs', '1']\n"
              "    runpy.run_path(script, run_name='__main__')\n")
    done = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return {name: out for name, (_, out, _) in runs.items()}


@pytest.mark.parametrize("name", list(configs()))
def test_every_export_trains_and_digitlab_eval_reads_its_checkpoint(name, exported, fixture_data, capsys, monkeypatch):
    monkeypatch.setattr(data, "MD5", digests(fixture_data))
    capsys.readouterr()
    assert main(["--data", str(fixture_data), "eval", exported[name], "--json"]) == 0
    scored = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    saved = torch.load(exported[name], weights_only=True)["metrics"]
    assert scored["test_acc"] == pytest.approx(saved["test_acc"], abs=1e-6)  # the script's own test = digitlab's


def test_every_export_is_plain_python_importing_only_torch_torchvision_numpy_and_the_standard_library():
    allowed = {"torch", "torchvision", "numpy"} | set(sys.stdlib_module_names)
    for name, config in configs().items():
        tree = ast.parse(export.script(config, name))
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert imported <= allowed, (name, imported - allowed)


@pytest.mark.parametrize("name", list(configs()))
def test_on_the_cpu_the_script_ends_exactly_where_digitlab_does(name, exported, fixture_data, monkeypatch):
    bf16 = bf16_hardware(name)
    if bf16 is not None:
        for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
            monkeypatch.setattr(torch.cpu, probe, lambda: bf16)
    config = configs()[name]
    res = train.train(config, data.load(fixture_data, check_md5=False, val_size=config.val_size))
    if bf16 is not None:
        assert res.precision == ("bf16" if bf16 else "fp32")  # the side of the path this case stands for
    ck = torch.load(exported[name], weights_only=True)
    assert ck["metrics"]["epoch"] == res.best_epoch
    assert ck["metrics"]["val_acc"] == res.best_val_acc and ck["metrics"]["val_loss"] == res.epochs[0]["val_loss"]
    # the script adds each step's loss in Python floats, digitlab in a float32 tensor: equal to float rounding
    assert ck["metrics"]["train_loss"] == pytest.approx(res.epochs[0]["train_loss"], rel=1e-6)
    assert ck["state_dict"].keys() == res.best_state.keys()
    for k, v in res.best_state.items():
        assert ck["state_dict"][k].dtype == v.dtype and torch.equal(ck["state_dict"][k], v), (name, k)


def test_the_notebook_validates_and_runs(tmp_path, fixture_data, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")  # as importing streamlit sets it: the kernel inherits it, and still draws
    config = preset("compare-momentum", epochs=1, device="cpu", dropout=0.2, rotate=5.0)
    nb = export.notebook(config, "compare-momentum", data_dir=str(fixture_data), checkpoint=str(tmp_path / "nb.pt"))
    nbformat.validate(nb)
    assert [c.cell_type for c in nb.cells[:2]] == ["markdown", "code"] and len(nb.cells) >= 12
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    shown = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "best epoch 1" in shown and "saved" in shown
    pictures = [o for o in nb.cells[-1].outputs if "image/png" in o.get("data", {})]
    assert len(pictures) == 2  # the curves, and the confusion matrix
    tested = torch.load(tmp_path / "nb.pt", weights_only=True)["metrics"]["test_acc"]
    assert f"test accuracy {tested:.2%}" in shown  # the matrix counts what the checkpoint scored
    assert torch.load(tmp_path / "nb.pt", weights_only=True)["metrics"]["epoch"] == 1


def test_what_plain_code_cannot_carry_is_said_or_refused():
    config = preset("best-mlp", epochs=1, fonts=0.1, my_digits=0.5, teacher="cnn-default")
    code = export.script(config, "t")
    for what in ("Font digits (10% of each epoch", "My digits (50%", "The teacher (cnn-default, 50% of the loss)"):
        assert what in code
    assert "fonts" not in ast.literal_eval(code.split("config = ", 1)[1].split("  # digitlab's settings")[0])
    with pytest.raises(UserError, match=r"^This run starts from the weights of mlp-default, which a plain script "):
        export.script(preset("fast", start_from="mlp-default"), "t")


def test_a_hostile_name_stays_text(tmp_path):
    name = '"""; import os; os.system("x") #\\ <img src=x onerror=alert(1)> [a](http://x)\n# heading'
    code = export.script(preset("fast"), name)
    ast.parse(code)  # still one docstring, no code of the name's
    assert "os.system" not in "".join(ast.get_source_segment(code, n) or "" for n in ast.parse(code).body[1:])
    first = export.notebook(preset("fast"), name).cells[0].source
    assert "\\<img" in first and "<img" not in first.replace("\\<", "")  # escaped: Markdown shows it as text
    assert "](http" not in first and "\n# heading" not in first


def test_the_cli_writes_both_or_says_why_not(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--preset", "compare-adam", "--script", "a.py", "--notebook", "a.ipynb"]) == 0
    assert "wrote a.py" in capsys.readouterr().out
    nbformat.validate(nbformat.read(tmp_path / "a.ipynb", as_version=4))
    compile((tmp_path / "a.py").read_text(), "a.py", "exec")
    for argv, said in ((["export", "--preset", "fast"], "Say where it goes"),
                       (["export", "--script", "b.py"], "Name one run"),
                       (["export", "--preset", "fast", "--script", "b.txt"], "should end in .py"),
                       (["export", "99", "--script", "b.py"], "There is no run 99")):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and said in err[0]
    assert not (tmp_path / "b.py").exists() and not (tmp_path / "b.txt").exists()


def test_a_stored_run_exports_with_its_settings(tmp_path, capsys, monkeypatch):
    from digitlab.runs.store import Store

    monkeypatch.setenv("DIGITLAB_RUNS", str(tmp_path / "runs"))
    store = Store(tmp_path / "runs")
    run_id = store.create(preset("compare-sgd", epochs=3))
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(run_id), "--script", "r.py"]) == 0
    code = (tmp_path / "r.py").read_text()
    assert f"(digitlab run {run_id})" in code and re.search(r"^EPOCHS +=  3$|^EPOCHS += 3  #", code, re.M)
    assert re.search(r"^OPTIMIZER += 'sgd'", code, re.M) and "torch.optim.SGD(" in code
    assert f"default='run{run_id}.pt'" in code


class Upload:
    """What st.file_uploader hands the page."""

    def __init__(self, name, blob):
        self.name, self.size, self._blob = name, len(blob), blob

    def getvalue(self):
        return self._blob


def test_the_script_s_checkpoint_uploads_to_the_draw_page_and_junk_is_refused_and_not_kept(exported, runs, monkeypatch):
    from app import ui
    from digitlab import settings

    path = ui.uploaded_model(Upload("mine.pt", open(exported["preset compare-adam"], "rb").read()))
    assert ui.model(path).config.hidden == [128, 64] and ui.model(path).predict_proba(np.zeros((1, 28, 28))).shape == (1, 10)
    with pytest.raises(UserError, match=r"^junk\.pt is corrupt or not a PyTorch file"):
        ui.uploaded_model(Upload("junk.pt", b"PK\x03\x04 not really"))
    monkeypatch.setattr(settings, "current", lambda: settings.Settings(limits=settings.Limits(checkpoint_mb=0.001)))
    with pytest.raises(UserError, match=r"^big\.pt has 0\.0 MB, over the limit of 0\.001 MB"):
        ui.uploaded_model(Upload("big.pt", b"\0" * 5000))
    assert [p.name for p in (runs / "uploads").iterdir()] == [Path(path).name]  # only the good one is kept


def test_the_steps_are_numbered_in_order_and_the_settings_say_what_they_are():
    for config, steps in ((preset("best-cnn", epochs=1), ["1. The data", "2. Loaders", "3. The model",
                                                           "4. Loss, optimizer and one training step",
                                                           "5. Augmentation", "6. Training", "7. The test"]),
                          (preset("compare-sgd", epochs=1), ["1. The data", "2. Loaders", "3. The model",
                                                              "4. Loss, optimizer and one training step",
                                                              "5. Training", "6. The test"])):
        headings = [md.split("\n")[0].removeprefix("## ") for md, _ in export.sections(config)[1:]]
        assert [h[: len(s)] for h, s in zip(headings, steps)] == steps and len(headings) == len(steps)
    assert "the peak of the one-cycle schedule" in export.script(preset("fast"), "t")
    assert "one-cycle" not in export.script(validate(TrainConfig(schedule="cosine", epochs=1)), "t").split("LR ")[1][:80]


def test_the_script_run_from_a_download_folder_finds_mnist_or_says_what_to_pass(tmp_path, fixture_data):
    script = tmp_path / "downloads" / "run.py"
    script.parent.mkdir()
    script.write_text(export.script(preset("fast", epochs=1, device="cpu"), "fast"))
    offline = {k: v for k, v in os.environ.items() if k != "DIGITLAB_DATA"}
    offline |= {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "HTTP_PROXY":
                "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}  # no download can succeed
    lost = subprocess.run([sys.executable, str(script)], cwd=script.parent, env=offline, capture_output=True,
                          text=True, timeout=300)
    assert lost.returncode == 1 and "Traceback" not in lost.stderr
    assert re.search(r"^MNIST is neither in .*downloads/data nor in \$DIGITLAB_DATA, and torchvision could not "
                     r"download it \(\w+\): pass --data FOLDER, a folder holding MNIST/raw/\*-ubyte \(digitlab's data "
                     r"folder holds one\)\.$", lost.stderr.strip().splitlines()[-1])
    found = subprocess.run([sys.executable, str(script)], cwd=script.parent,
                           env={**offline, "DIGITLAB_DATA": str(fixture_data)}, capture_output=True, text=True,
                           timeout=300)
    assert found.returncode == 0, found.stderr[-2000:]
    assert (script.parent / "run.pt").exists()
