"""What one hostile file costs the server: seconds and extra peak memory to read an image or a checkpoint.

Run: .venv/bin/python benchmarks/image_cost.py
Each case runs in a fresh process (peak memory is that process's, over what importing digitlab costs). Cases: a
1200x900 photo of ink on unevenly lit paper, a 3000x4000 phone photo (JPEG), a 1000x1000 thin-line PNG, a 4000x4000 PNG (at the pixel limit), a 16-bit PNG,
a PNG whose header claims 20000x20000, a 400 MB zip bomb and a 107M-parameter config in checkpoint files.
Prints figures; asserts nothing.
"""

import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from digitlab.learn.config import TrainConfig
from testkit.fixtures import png_header_claiming
from testkit.redraw import photo

CASE = """
import json, sys, time
from pathlib import Path
from digitlab import UserError
from digitlab.drawing import preprocess
from digitlab.learn import checkpoint

def status(key):
    return next(int(l.split()[1]) for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(key))

Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts again from here
base = status("VmRSS:")
t0 = time.perf_counter()
try:
    if sys.argv[1].endswith(".pt"):
        checkpoint.load(sys.argv[1]); answer = "loaded"
    else:
        x = preprocess.to_mnist(preprocess.read_image(sys.argv[1])); answer = "nothing" if x is None else "28x28"
except UserError as e:
    answer = "refused: " + str(e).replace(sys.argv[1], "FILE").split(": ")[0][:90]
print(json.dumps(dict(seconds=time.perf_counter() - t0, mb=(status("VmHWM:") - base) / 1024, answer=answer)))
"""


def files(folder: Path) -> dict[str, Path]:
    out = {}
    im = Image.new("L", (1000, 1000), 255)
    ImageDraw.Draw(im).line([(250, 200), (750, 200), (450, 850)], fill=0, width=2)
    im.save(out.setdefault("thin-line PNG 1000x1000", folder / "thin.png"))
    pen = Image.new("L", (280, 280), 0)
    ImageDraw.Draw(pen).line([(70, 56), (210, 56), (126, 238)], fill=255, width=6)  # a 7 in a pen's width
    shot = photo(np.asarray(pen), shadow=0.5)
    Image.fromarray(shot).save(out.setdefault("photo JPEG 1200x900, a shadow", folder / "shadow.jpg"), quality=85)
    big = im.resize((3000, 4000), Image.Resampling.BILINEAR).convert("RGB")
    big.save(out.setdefault("photo JPEG 3000x4000", folder / "photo.jpg"), quality=85)
    im.resize((4000, 4000)).save(out.setdefault("PNG 4000x4000 (the pixel limit)", folder / "limit.png"))
    Image.fromarray(np.asarray(im, np.uint16) * 257).save(out.setdefault("16-bit PNG 1000x1000", folder / "deep.png"))
    (folder / "claim.png").write_bytes(png_header_claiming(20_000, 20_000))
    out["PNG claiming 20000x20000"] = folder / "claim.png"
    with zipfile.ZipFile(folder / "bomb.pt", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", b"\0" * (400 * 2**20))
    out["zip bomb .pt (400 MB unpacked)"] = folder / "bomb.pt"
    torch.save({"format": "digitlab-checkpoint", "config": TrainConfig(hidden=[60_000, 1_000]).to_dict(),
                "state_dict": {}}, folder / "huge.pt")
    out["checkpoint asking for 107M parameters"] = folder / "huge.pt"
    return out


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for label, path in files(Path(tmp)).items():
            r = subprocess.run([sys.executable, "-c", CASE, str(path)], capture_output=True, text=True,
                               cwd=Path(__file__).resolve().parent.parent)
            res = json.loads(r.stdout.strip().splitlines()[-1])
            print(f"{label:<40} {res['seconds'] * 1000:7.0f} ms  {res['mb']:6.0f} MB  {res['answer']}")


if __name__ == "__main__":
    main()
