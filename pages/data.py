"""The data set: prepare it, look at it, see what each normalization does."""

import numpy as np
import pandas as pd
import streamlit as st

from app import ui
from digitlab import UserError
from digitlab.course import plots
from digitlab.datasets import data
from digitlab.learn import augment
from digitlab.classroom.access import Action, Resource
from digitlab.learn.config import AUGMENT, NAMES, TrainConfig, spec

ui.routed()
st.title("Data")
if not data.is_prepared():
    st.write(f"MNIST is not prepared in `{data.data_root()}` yet. Preparing rebuilds the official files from the "
             "offline package (or downloads them when online) and checks their MD5s.")
    if not ui.may(Action.TEACH, Resource.CLASS):
        st.info("Ask your teacher to prepare MNIST.")
    elif st.button("Prepare MNIST", type="primary"):
        with st.status("Preparing MNIST…", expanded=True) as status:
            try:
                data.prepare(report=st.write)
                status.update(label="MNIST is ready.", state="complete")
                st.rerun()
            except UserError as e:
                status.update(label="Preparation failed.", state="error")
                ui.show_error(e)
    st.stop()

mnist = ui.dataset()
ok = data.verify()
st.caption(f"`{data.raw_dir()}` · " + " · ".join(f"{n} {':material/check_circle:' if good else ':material/error:'}" for n, good in ok.items())
           + " (official MD5)")

splits = {"train": (mnist.train_x, mnist.train_y), "validation": (mnist.val_x, mnist.val_y),
          "test": (mnist.test_x, mnist.test_y)}
st.subheader("Random training images")
seed = st.session_state.setdefault("grid_seed", 0)
if st.button("Re-sample", icon=":material/casino:"):
    st.session_state.grid_seed = seed = seed + 1
pick = np.random.default_rng(seed).choice(len(mnist.train_x), 32, replace=False)
st.image([plots.enlarge(mnist.train_x[i].numpy(), 3) for i in pick],
         caption=[f"label {int(mnist.train_y[i])}" for i in pick], width=84)

st.subheader("Augmentations")
st.caption("What each setting in the Train form's Augmentation section does to a training image: the original, then "
           "seven random draws at the strength set on the left (the first image of each row is the original). Training draws new ones for every image in every "
           "epoch, so the network never sees the same digit twice.")
original = mnist.train_x[pick[0]].float() / 255
FORMATS = {"rotate": "%.0f°", "shear": "%.0f°", "scale": "±%.2f", "translate": "%.1f px", "elastic": "%.1f px",
           "thickness": "share %.1f"}
strength = {}
for name in [n for n in NAMES if spec(n).group == AUGMENT] + ["together"]:
    left, right = st.columns([1, 3], vertical_alignment="center")
    if name == "together":
        left.markdown("**All of them together**, at the strengths above")
        config = TrainConfig(**strength)
    else:
        s = spec(name)
        strength[name] = left.slider(s.label, float(s.low), float(s.high), augment.SHOWN[name], step=s.step,
                                     help=s.help, key=f"aug_{name}", format=FORMATS[name])
        config = TrainConfig(**{name: strength[name]})
    copies = augment.examples(original[None], config, seed=seed)[0]
    right.image([plots.enlarge(img.numpy(), 2) for img in (original, *copies)], width=56)

a, b = st.columns(2)
with a:
    counts = {name: np.bincount(y.numpy(), minlength=10) for name, (_, y) in splits.items()}
    st.plotly_chart(plots.class_counts(counts), width="stretch")
with b:
    stats = data.split_stats({name: x for name, (x, _) in splits.items()})
    st.markdown("**Pixel statistics** (in [0, 1])")
    st.dataframe(pd.DataFrame(stats), hide_index=True, width="stretch",
                 column_config={"ink pixels (>0)": st.column_config.NumberColumn(format="percent")})
    st.caption("The `mnist` normalization uses the training set's mean 0.1307 and std 0.3081.")

st.subheader("Normalizations")
sample = mnist.train_x[pick[:200]]
values = {how: data.normalize(sample, how).flatten().numpy() for how in data.NORMALIZE}
st.plotly_chart(plots.pixel_histograms(values), width="stretch")
st.caption("The histograms: the pixels of the 32 images above, in each normalization.")
c1, c2 = st.columns([3, 2])
with c1:
    st.dataframe(pd.DataFrame(ui.training_set_stats()), hide_index=True, width="stretch")
with c2:
    st.caption("The table: every pixel of the 48,000 training images. none keeps [0, 1]; mnist centres the data "
               "(mean 0, std 1 over the training set); symmetric maps [0, 1] to [-1, 1]. Most pixels are background, "
               "hence the spike at the low end.")
