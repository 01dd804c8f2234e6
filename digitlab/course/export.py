"""A run as plain PyTorch: one Python file (or a notebook of the same code) that a beginner can read, using only
torch, torchvision and numpy, in the course's order (data, loaders, the model, loss and optimizer, the training loop
with validation and the best checkpoint, the test), that trains the run's model the way digitlab did.

The same split (the same fixed permutation), normalization, architecture (layer for layer, so that its checkpoint
loads in digitlab), optimizer, schedule, label smoothing, augmentation (digitlab's own function, its settings written
in), weight averaging, seed and epochs. On the CPU it draws its random numbers in digitlab's order, so it ends where
the run did. What plain code cannot carry is left out with a comment saying what that changes (font digits, My
digits, a teacher), or the export is refused (a run that starts from another model's weights).
"""

import inspect
import pprint
import re
import textwrap
from pathlib import Path

from torch import nn

from digitlab import UserError, markdown
from digitlab.datasets import data
from digitlab.learn import augment, devices, train
from digitlab.learn.config import MNIST_TRAIN, TrainConfig, spec
from digitlab.learn.models import build
from digitlab.runs.store import Run


def _layer(m: nn.Module) -> str:
    """One of digitlab's layers as the constructor a person would write."""
    if isinstance(m, nn.Linear):
        return f"nn.Linear({m.in_features}, {m.out_features})"
    if isinstance(m, nn.Conv2d):
        bias = "" if m.bias is not None else ", bias=False"
        return f"nn.Conv2d({m.in_channels}, {m.out_channels}, {m.kernel_size[0]}, padding={m.padding[0]}{bias})"
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return f"nn.{type(m).__name__}({m.num_features})"
    if isinstance(m, nn.LayerNorm):
        return f"nn.LayerNorm({m.normalized_shape[0]})"
    if isinstance(m, nn.Dropout):
        return f"nn.Dropout({m.p:g})"
    if isinstance(m, nn.MaxPool2d):
        return f"nn.MaxPool2d({m.kernel_size})"
    if isinstance(m, (nn.ReLU, nn.Flatten)):
        return f"nn.{type(m).__name__}()"
    raise TypeError(f"no plain form for {type(m).__name__}")  # a new layer type in models.py: add it here


def _sequential(name: str, seq: nn.Sequential) -> str:
    return f"        self.{name} = nn.Sequential(\n" + "".join(f"            {_layer(m)},\n" for m in seq) + "        )\n"


def model_code(config: TrainConfig) -> str:
    """The class Net: digitlab's model for config, layer for layer (the same state_dict names)."""
    model = build(config)
    forward = textwrap.indent(textwrap.dedent(inspect.getsource(type(model).forward)), "    ")
    if config.model == "cnn":
        body = _sequential("features", model.features) + _sequential("head", model.head)
        what = (f"{len(config.channels)} conv block(s) of {config.convs} {config.kernel}x{config.kernel} convolution(s) "
                f"({', '.join(map(str, config.channels))} channels), each ending in a 2x2 max-pool, then a head of "
                f"{', '.join(map(str, config.hidden))}")
    else:
        body = _sequential("net", model.net)
        what = " -> ".join(map(str, [784, *config.hidden, 10]))
    doc = textwrap.fill(f"{what}: {model.num_params():,} parameters.", 96, subsequent_indent="    ")
    return (f"class Net(nn.Module):\n    \"\"\"{doc}\"\"\"\n\n"
            f"    def __init__(self):\n        super().__init__()\n{body}\n"
            f"{forward}")


def _source(fn) -> str:
    """A digitlab function's own source, as digitlab runs it, with config.name read from the settings at the top
    (NAME): the script is made of the code that trains, so the two cannot drift apart."""
    src = textwrap.dedent(inspect.getsource(getattr(fn, "__wrapped__", fn)))
    src = src.replace("config: TrainConfig, ", "")
    return re.sub(r"\bconfig\.(\w+)", lambda m: m.group(1).upper(), src)


def _read_settings(*fns) -> list[str]:
    """The settings (config.name) that these functions' sources read, in order."""
    names = []
    for fn in fns:
        for name in re.findall(r"\bconfig\.(\w+)", inspect.getsource(getattr(fn, "__wrapped__", fn))):
            names += [] if name in names else [name]
    return names


AUGMENT = (augment._lattice, augment._dilate, augment.augment)  # digitlab's augmentation, as the script holds it


def augment_code() -> str:
    """digitlab's augmentation, as it is: its helpers and the function, reading the settings at the top."""
    parts = [f"COARSE = {augment.COARSE}  # the elastic field is random on a COARSE x COARSE lattice, interpolated to 28 x 28"]
    parts += [_source(f) for f in AUGMENT]
    return "\n\n".join(parts)


def _used(config: TrainConfig) -> tuple:
    """digitlab's functions whose source the script carries, for this config."""
    fns = [train.make_optimizer] + ([train.make_schedule] if config.schedule != "none" else [])
    return tuple(fns) + (AUGMENT if augment.enabled(config) else ())


def left_out(config: TrainConfig) -> list[str]:
    """What this run used that plain code does not carry, each as a sentence saying what leaving it out changes."""
    out = []
    if config.fonts:
        out.append(f"Font digits ({config.fonts:.0%} of each epoch drawn from typefaces and strokes) need digitlab's "
                   "renderer and Debian's fonts: this script trains on MNIST alone, which scores about the same on "
                   "MNIST's test set but lower on drawings in other writing styles.")
    if config.my_digits:
        out.append(f"My digits ({config.my_digits:.0%} of your saved drawings) live in digitlab's store: this script "
                   "trains on MNIST alone, so it does not learn your handwriting.")
    if config.teacher:
        out.append(f"The teacher ({config.teacher}, {config.distill:.0%} of the loss) is a digitlab model: this "
                   "script learns from the labels alone, usually a few tenths of a point lower.")
    return out


def refused(config: TrainConfig) -> str | None:
    """Why a run cannot be exported at all, or None."""
    if config.start_from:
        return (f"This run starts from the weights of {config.start_from}, which a plain script cannot carry: "
                "export the run it started from, or train one from random weights.")
    return None


def _settings(config: TrainConfig) -> str:
    """The settings the script reads, each a constant with what it means."""
    c, mean_std = config, data.NORMALIZE[config.input_norm]
    rows = [("SEED", c.seed, "the same seed, the same numbers on the CPU"),
            ("EPOCHS", c.epochs, "passes over the training images"),
            ("BATCH_SIZE", c.batch_size, "images per step"),
            ("LR", c.lr, "the learning rate" + (" (the peak of the one-cycle schedule)" if c.schedule == "onecycle" else "")),
            ("WEIGHT_DECAY", c.weight_decay, "L2 penalty" + (" (decoupled: AdamW)" if c.optimizer == "adamw" else "")),
            ("LABEL_SMOOTHING", c.label_smoothing, "share of each target spread over the other classes"),
            ("VAL_SIZE", c.val_size, f"of MNIST's {MNIST_TRAIN:,} training images held out to pick the best epoch"),
            ("MEAN, STD", mean_std, f"pixels in [0, 1] become (pixel - MEAN) / STD: digitlab's {c.input_norm!r}"),
            ("SHUFFLE", c.shuffle, "a new order of the training images every epoch")]
    if c.ema:
        rows.append(("EMA", c.ema, "the kept model is an average of the weights over about the last "
                                   f"{round(1 / (1 - c.ema)):,} steps"))
    named = {r[0] for r in rows}
    rows += [(name.upper(), getattr(c, name), spec(name).help.rstrip(".").lower()) for name in
             _read_settings(*_used(c)) if name.upper() not in named]
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{k:<{width}} = {v!r}" + (f"  # {why}" if why else "") for k, v, why in rows)


def sections(config: TrainConfig, data_dir: str = "data", checkpoint: str = "run.pt",
             script: bool = True) -> list[tuple[str, str]]:
    """The export as (Markdown, code) steps: the script joins them, the notebook makes a cell of each."""
    why = refused(config)
    if why:
        raise UserError(why)
    c = config
    distort, bf16 = augment.enabled(c), c.precision == "bf16"
    schedule = c.schedule != "none"
    missing = left_out(c)
    steps = []
    intro = (f"The run as plain PyTorch: the same data split, normalization, model, optimizer"
             f"{', schedule' if schedule else ''}{', augmentation' if distort else ''}, seed and epochs as in "
             f"digitlab. It writes the best-validation checkpoint to `{checkpoint}`, which `digitlab eval` reads and "
             "the Draw page can use.")
    if missing:
        intro += "\n\nLeft out, since plain code cannot carry it:\n" + "".join(f"\n- {m}" for m in missing)
    imports = (["import argparse"] if script else []) + (["import functools"] if distort else []) + [
        "import math", "import os", "import time", "", "import torch"] + (["import torch.nn.functional as F"] if distort else []) + [
        "from torch import nn", "from torchvision import datasets"]
    if c.ema:
        imports.append("from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn")
    head = "\n".join(imports) + "\n\n" + _settings(c) + "\n"
    if script:
        head += ("\n# where the data is and where the checkpoint goes, from the command line\n"
                 "args = argparse.ArgumentParser(description=__doc__.splitlines()[0])\n"
                 f"args.add_argument('--data', default={data_dir!r}, help='a folder holding MNIST/raw/*-ubyte')\n"
                 f"args.add_argument('--out', default={checkpoint!r}, help='where the best checkpoint goes')\n"
                 "args.add_argument('--epochs', type=int, default=EPOCHS)\n"
                 "args = args.parse_args()\n"
                 "DATA_DIR, CHECKPOINT, EPOCHS = args.data, args.out, args.epochs\n")
    else:
        head += f"\nDATA_DIR = {data_dir!r}  # a folder holding MNIST/raw/*-ubyte\nCHECKPOINT = {checkpoint!r}\n"
    steps.append((intro, head))

    steps.append(("## 1. The data\n\nMNIST's 60,000 training images, of which VAL_SIZE are held out to choose the "
                  "best epoch (always the same ones: a permutation with its own fixed seed), and the 10,000 test "
                  "images, used once at the end and never to choose. Pixels become numbers around 0 once, here.",
                  f"""torch.set_flush_denormal(True)  # tiny numbers as 0: x86 CPUs are slow on them (digitlab does this)
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def mnist(folder):
    # MNIST's training and test sets (torchvision reads the IDX files): from folder (MNIST/raw inside), else from
    # $DIGITLAB_DATA (where digitlab keeps it), else downloaded by torchvision into folder; else one sentence
    for where in dict.fromkeys([folder, os.environ.get("DIGITLAB_DATA", "")]):
        if where and os.path.isdir(os.path.join(where, "MNIST", "raw")):
            try:
                return datasets.MNIST(where, train=True), datasets.MNIST(where, train=False)
            except RuntimeError:  # there, but not whole: try the next place
                pass
    try:
        return datasets.MNIST(folder, train=True, download=True), datasets.MNIST(folder, train=False, download=True)
    except Exception as e:  # noqa: BLE001 - no internet, a proxy, a full disk: one sentence, not a traceback
        raise SystemExit(f"MNIST is neither in {{os.path.abspath(folder)}} nor in $DIGITLAB_DATA, and torchvision "
                         f"could not download it ({{type(e).__name__}}): pass --data FOLDER, a folder holding "
                         "MNIST/raw/*-ubyte (digitlab's data folder holds one).") from None


train_set, test_set = mnist(DATA_DIR)


{_source(data.pixels)}

held = max(1, len(train_set.data) * VAL_SIZE // {MNIST_TRAIN})  # a smaller set keeps the ratio
order = torch.randperm(len(train_set.data), generator=torch.Generator().manual_seed({data.SPLIT_SEED}))
train_idx, val_idx = order[held:], order[:held]
x_train, y_train = pixels(train_set.data[train_idx].to(device), MEAN, STD), train_set.targets[train_idx].to(device)
x_val, y_val = pixels(train_set.data[val_idx].to(device), MEAN, STD), train_set.targets[val_idx].to(device)
x_test, y_test = pixels(test_set.data.to(device), MEAN, STD), test_set.targets.to(device)
print(f"{{len(x_train):,}} training, {{len(x_val):,}} validation, {{len(x_test):,}} test images")
"""))

    steps.append(("## 2. Loaders\n\nBatches of BATCH_SIZE images" + (", in a new order every epoch" if c.shuffle else
                  "") + ". The images already sit in one tensor, so a batch is a slice of it: a DataLoader over a "
                  "TensorDataset gives the same batches, image by image, several times slower.",
                  "torch.manual_seed(SEED)  # the model's first weights, dropout and augmentation draw from this\n"
                  "order_generator = torch.Generator().manual_seed(SEED)  # and the batch order from this: digitlab's\n"
                  "\n\n" + _source(data.Batches) + "\n\n"
                  "batches = Batches(x_train, y_train, BATCH_SIZE, shuffle=SHUFFLE, generator=order_generator)\n"
                  "steps_per_epoch = len(batches)\n"))

    steps.append(("## 3. The model", model_code(c) + "\n\nmodel = Net().to(device)\n"
                  + ("model = model.to(memory_format=torch.channels_last)  # faster convolutions on the CPU\n"
                     if c.model == "cnn" else "")
                  + "print(model)\nprint(f\"{sum(p.numel() for p in model.parameters()):,} parameters\")\n"))

    loss_opt = (f"loss_fn = nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING)\n\n\n{_source(train.make_optimizer)}"
                "\n\noptimizer = make_optimizer(model.parameters(), device)\n")
    if schedule:
        loss_opt += (f"\n\n{_source(train.make_schedule)}\n\n"
                     "scheduler, per_step = make_schedule(optimizer, steps_per_epoch)  # stepped after each batch, "
                     "or each epoch\n")
    if c.ema:
        loss_opt += f"\n\n{_source(train.averaging)}\n\naveraged, scored = averaging(model, EMA)\n"
    else:
        loss_opt += "scored = model  # what is scored and kept\n"
    if bf16:
        loss_opt += ("\n\n# digitlab trains in bfloat16 where the hardware computes it, in fp32 elsewhere\n"
                     f"{_source(devices.bf16_native)}\n\nBF16 = bf16_native(device)\n")
    loss_opt += f"\n\n{_source(train.step)}"
    steps.append(("## 4. Loss, optimizer and one training step", loss_opt))

    if distort:
        steps.append(("## 5. Augmentation\n\nEach batch is distorted a little (rotation, shear, zoom, shift, "
                      "elastic warp, bolder or thinner strokes, as set at the top) on the fly: digitlab's own "
                      "function.", augment_code() + f"\n\n{_source(data.blank)}\n\n"
                      "BLANK = blank(MEAN, STD)  # a black pixel, normalized as the images are\n"))

    batch = "        x = augment(x, BLANK)\n" if distort else ""
    loop = (_source(train.loss_and_accuracy) + f"""

best_acc, best_state, best_epoch, history = -1.0, None, 0, []
for epoch in range(1, EPOCHS + 1):
    start, total, seen = time.perf_counter(), 0.0, 0
    model.train()
    for x, y in batches:
{batch}        logits, loss = step(model, optimizer, loss_fn, x, y{", BF16" if bf16 else ""})
""" + ("        averaged.update_parameters(model)\n" if c.ema else "")
            + ("        if per_step:\n            scheduler.step()\n" if schedule else "")
            + "        total, seen = total + loss.item() * len(x), seen + len(x)\n"
            + ("    if not per_step:\n        scheduler.step()\n" if schedule else "")
            + """    val_loss, val_acc = loss_and_accuracy(scored, x_val, y_val)
    history.append(dict(epoch=epoch, train_loss=total / seen, val_loss=val_loss, val_acc=val_acc))
    if val_acc > best_acc:  # the best epoch so far on validation: keep its weights
        best_acc, best_epoch = val_acc, epoch
        best_state = {k: v.detach().cpu().clone().contiguous() for k, v in scored.state_dict().items()}
    print(f"epoch {epoch:3d}  train loss {total / seen:.4f}  val loss {val_loss:.4f}  val acc {val_acc:.2%}"
          f"  ({time.perf_counter() - start:.1f} s)")
""")
    note = (" digitlab also stops a run early whose loss blows up or stays at chance, and says so; this loop "
            "simply runs on.")
    steps.append((f"## {6 if distort else 5}. Training, with validation after every epoch\n\nAfter each epoch "
                  "the model is scored on the validation images; the weights of the best epoch are kept." + note,
                  loop))

    config_dict = {k: v for k, v in c.to_dict().items() if k not in ("fonts", "my_digits", "teacher", "distill",
                                                                       "start_from", "device")}
    steps.append((f"## {7 if distort else 6}. The test, once, and the checkpoint\n\nThe best epoch's weights on the "
                  "10,000 test images, never seen before. The checkpoint is in digitlab's format: `digitlab eval "
                  f"{checkpoint}` reads it, and the Draw page can use it.",
                  f"""scored.load_state_dict(best_state)
test_loss, test_acc = loss_and_accuracy(scored, x_test, y_test)
print(f"best epoch {{best_epoch}}: validation {{best_acc:.2%}}, test {{test_acc:.2%}}")
config = {pprint.pformat(config_dict, width=100, sort_dicts=False)}  # digitlab's settings of this run
config["epochs"] = EPOCHS
metrics = dict(history[best_epoch - 1], test_loss=test_loss, test_acc=test_acc)
torch.save({{"format": "digitlab-checkpoint", "version": 1, "config": config, "metrics": metrics,
            "state_dict": best_state}}, CHECKPOINT)
print(f"saved {{CHECKPOINT}}")
"""))
    if not script:  # a notebook shows what it trained: the curves, and where the test set's mistakes are
        steps.append((PICTURES_MD, PICTURES))
    return steps


PICTURES_MD = ("## The curves and the confusion matrix\n\nLoss per epoch (training and validation) and validation "
               "accuracy with the course's 97% line; then, on the test set, which digit was read as which: the "
               "diagonal holds the right answers. Needs matplotlib (`pip install matplotlib`).")
PICTURES = """%matplotlib inline
import matplotlib.pyplot as plt

epochs = [h["epoch"] for h in history]
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
left.plot(epochs, [h["train_loss"] for h in history], "o--", label="training")
left.plot(epochs, [h["val_loss"] for h in history], "o-", label="validation")
left.set(xlabel="epoch", ylabel="loss", title="Loss per epoch")
left.legend()
right.plot(epochs, [h["val_acc"] for h in history], "o-", label="validation")
right.axhline(0.97, color="grey", linestyle=":", label="97%")
right.set(xlabel="epoch", ylabel="accuracy", title="Validation accuracy per epoch")
right.legend()
for axis in (left, right):
    axis.xaxis.get_major_locator().set_params(integer=True)  # whole epochs
plt.show()

with torch.no_grad():
    predicted = torch.cat([scored(x_test[i : i + 8192]).argmax(1) for i in range(0, len(x_test), 8192)]).cpu()
confusion = torch.zeros(10, 10, dtype=torch.long)
confusion.index_put_((y_test.cpu(), predicted), torch.ones(len(predicted), dtype=torch.long), accumulate=True)
fig, ax = plt.subplots(figsize=(5.5, 5))
ax.imshow(confusion, cmap="Blues")
for true in range(10):
    for guess in range(10):
        ax.text(guess, true, int(confusion[true, guess]), ha="center", va="center", fontsize=7,
                color="white" if confusion[true, guess] > confusion.max() / 2 else "black")
ax.set(xlabel="predicted", ylabel="true", xticks=range(10), yticks=range(10), title="Test set: true against predicted")
plt.show()
print(f"test accuracy {confusion.diagonal().sum().item() / len(predicted):.2%}")
"""


def _comment(md: str) -> str:
    """Markdown as a block of # comments, wrapped to 100 columns, a heading without its #s."""
    out = []
    for para in md.split("\n\n"):
        lines = para.splitlines()
        if lines and lines[0].startswith("#"):
            out.append(lines[0].lstrip("# "))
            lines = lines[1:]
        for line in lines:
            out += textwrap.wrap(line, 98, subsequent_indent="  " if line.startswith("- ") else "") or [""]
        out.append("")
    return "".join(f"# {line}".rstrip() + "\n" for line in out[:-1])


def _docstring(title: str, md: str) -> str:
    paras = [" ".join(title.split())] + md.split("\n\n")
    paras.append("Run: python THIS_FILE.py [--data DIR] [--epochs N] [--out FILE.pt]")
    wrapped = ["\n".join(textwrap.fill(line, 100, subsequent_indent="  " if line.startswith("- ") else "")
                         for line in p.splitlines()) for p in paras]
    return '"""' + "\n\n".join(wrapped).replace('"""', "'''").replace("\\", "/") + '\n"""\n\n'


def script(config: TrainConfig, title: str, **kw) -> str:
    """The run as one Python file."""
    steps = sections(config, script=True, **kw)
    text = _docstring(title, steps[0][0]) + steps[0][1]
    for md, code in steps[1:]:
        text += f"\n\n# {'-' * 98}\n{_comment(md)}\n{code}"
    return text


def notebook(config: TrainConfig, title: str, **kw):
    """The run as a Jupyter notebook (nbformat): a Markdown cell and a code cell per step."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    for k, (md, code) in enumerate(sections(config, script=False, **kw)):
        md = f"# {markdown.as_text(' '.join(title.split()))}\n\n{md}" if k == 0 else md  # a name is text, never markup
        nb.cells += [nbformat.v4.new_markdown_cell(md), nbformat.v4.new_code_cell(code.rstrip("\n"))]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def of_run(run: Run) -> dict:
    """The keyword arguments of script() and notebook() for a stored run."""
    return dict(config=TrainConfig.from_dict(run.config), title=f"{run.name} (digitlab run {run.id})",
                checkpoint=f"run{run.id}.pt")


def text(path, config: TrainConfig, title: str, **kw) -> str:
    """The export that path's suffix names: a script (.py) or a notebook (.ipynb), as text."""
    suffix = Path(path).suffix
    if suffix == ".py":
        return script(config, title, **kw)
    if suffix == ".ipynb":
        import nbformat

        return nbformat.writes(notebook(config, title, **kw))
    raise UserError(f"{path} should end in .py (a script) or .ipynb (a notebook).")
