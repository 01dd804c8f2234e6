"""Plotly figure builders: data in, figure out (no Streamlit, so they are tested without a browser)."""

import html

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from digitlab.drawing import pictures
from digitlab.learn.metrics import moving_average

SPLIT_DASH = {"train": "dot", "val": "dash", "test": "solid"}
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]


def as_text(name: str) -> str:
    """A name a person typed, shown as text in a figure: Plotly renders some HTML in labels (links included)."""
    return html.escape(str(name), quote=False)


def _layout(fig: go.Figure, title: str, x: str, y: str, height: int = 400) -> go.Figure:
    """A fixed plot area whatever the number of runs: the legend goes below it and the figure grows to hold it."""
    names = {t.legendgroup or t.name for t in fig.data if t.showlegend is not False}
    rows = -(-len(names) // 3)  # about three names a row on a half-width chart
    fig.update_layout(title=dict(text=title, font=dict(size=14)), xaxis_title=x, yaxis_title=y,
                      height=height + 22 * max(0, rows - 1), margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(orientation="h", yanchor="top", y=-0.18, x=0, groupclick="togglegroup"),
                      hovermode="x unified")
    return fig


def run_color(run_id: int) -> str:
    """One colour per run, the same on every chart and page."""
    return PALETTE[(int(run_id) - 1) % len(PALETTE)]


def _colors(runs, colors) -> list[str]:
    return list(colors) if colors is not None else [PALETTE[i % len(PALETTE)] for i in range(len(runs))]


DASH_NOTE = {"train": "dotted", "val": "dashed", "test": "solid"}
X_AXES = {"epoch": "epoch", "step": "step", "seconds": "seconds of training"}


def _epoch_x(epochs: list[dict], x: str, steps_per_epoch: int | None) -> list:
    if x == "seconds":
        return list(np.cumsum([e["seconds"] for e in epochs]))
    if x == "step":  # the step at the end of each epoch, where the per-step chart has it
        return [e["epoch"] * (steps_per_epoch or 0) for e in epochs]
    return [e["epoch"] for e in epochs]


def epoch_curves(runs: list[tuple[str, list[dict]]], metric: str, splits=("train", "val", "test"), *,
                 colors: list[str] | None = None, x: str = "epoch", log_y: bool = False,
                 steps_per_epoch: list[int | None] | None = None) -> go.Figure:
    """Per-epoch loss or accuracy of several runs overlaid: one colour a run, one dash a split, one legend entry a
    run (clicking it shows or hides all its splits); x is the epoch, the step (given each run's steps_per_epoch: runs
    with other batch sizes take other numbers of steps an epoch) or the seconds of training so far."""
    fig = go.Figure()
    per_epoch = steps_per_epoch or [None] * len(runs)
    for (name, epochs), color, spe in zip(runs, _colors(runs, colors), per_epoch):
        xs = _epoch_x(epochs, x, spe)
        for k, s in enumerate(splits):
            fig.add_trace(go.Scatter(x=xs, y=[e[f"{s}_{metric}"] for e in epochs], mode="lines+markers",
                                     name=as_text(name), legendgroup=as_text(name), showlegend=k == 0,
                                     hovertemplate=f"{as_text(name)} · {s}: %{{y:{'.2%' if metric == 'acc' else '.4f'}}}"
                                                   "<extra></extra>",
                                     marker=dict(size=4), line=dict(color=color, dash=SPLIT_DASH[s])))
            if epochs:  # its last epoch marked: runs that share their first epochs (10, 3 and 1 of them) all show
                fig.add_trace(go.Scatter(x=xs[-1:], y=[epochs[-1][f"{s}_{metric}"]], mode="markers",
                                         legendgroup=as_text(name), showlegend=False, hoverinfo="skip",
                                         marker=dict(size=11, color=color, symbol="diamond-open",
                                                     line=dict(width=2, color=color))))
    label = "accuracy" if metric == "acc" else "loss"
    if x == "epoch":
        longest = max((len(e) for _, e in runs), default=1)
        fig.update_xaxes(tick0=1, dtick=max(1, -(-longest // 10)))  # whole epochs only
    if metric == "acc":
        fig.update_yaxes(tickformat=".1%")
    if log_y:
        fig.update_yaxes(type="log", tickformat=None if metric == "loss" else ".1%")
    lines = " · ".join(f"{DASH_NOTE[s]} {s}" for s in splits)
    return _layout(fig, f"{label.capitalize()} per epoch ({lines})", X_AXES[x], label)


MAX_POINTS = 2000  # per trace: more is not visible on a chart, and costs every viewer bandwidth and time


def thin(x, y, max_points: int = MAX_POINTS):
    """At most max_points of (x, y): every k-th point, the last always kept."""
    x, y = np.asarray(x), np.asarray(y)
    if len(x) <= max_points:
        return x, y
    keep = np.unique(np.r_[np.arange(0, len(x), -(-len(x) // max_points)), len(x) - 1])
    return x[keep], y[keep]


def step_losses(runs: list[tuple[str, list[dict]]], window: int = 50, max_points: int = MAX_POINTS, *,
                colors: list[str] | None = None, raw: bool = False, log_y: bool = False) -> go.Figure:
    """Training loss per step: each run's moving average (bold, drawn over every raw trace, so that no run's raw
    steps hide another's average) and its raw steps (faint; hidden until clicked unless raw). At most max_points a
    trace."""
    fig = go.Figure()
    averages = []
    for (name, steps), color in zip(runs, _colors(runs, colors)):
        x = [s["step"] for s in steps]
        loss = [s["loss"] for s in steps]
        (x_raw, y), (x_avg, avg) = thin(x, loss, max_points), thin(x, moving_average(loss, window), max_points)
        label = as_text(name)
        fig.add_trace(go.Scattergl(x=x_raw, y=y, mode="lines", name=f"{label} · raw steps", legendgroup=label,
                                   line=dict(color=color, width=1), opacity=0.25, showlegend=False,
                                   visible=True if raw else "legendonly"))
        averages.append(go.Scattergl(x=x_avg, y=avg, mode="lines", name=label, legendgroup=label,
                                     line=dict(color=color, width=2.5)))
    fig.add_traces(averages)
    if log_y:
        fig.update_yaxes(type="log")
    return _layout(fig, f"Training loss per step (moving average over {window})", "step", "loss")


def confusion(cm, highlight: tuple[int, int] | None = None) -> go.Figure:
    """Heatmap of a (10, 10) confusion matrix: rows true digits, columns predictions."""
    cm = np.asarray(cm)
    z = np.log10(cm + 1)  # log colour so that the off-diagonal mistakes stay visible
    fig = go.Figure(go.Heatmap(z=z, x=[str(k) for k in range(10)], y=[str(k) for k in range(10)], text=cm,
                               texttemplate="%{text}", colorscale="Blues", showscale=False, hoverinfo="skip"))
    # A clear marker on every cell: a click on it selects that cell (Streamlit's selections do not see heatmaps).
    t, p = np.divmod(np.arange(100), 10)
    fig.add_trace(go.Scatter(x=[str(k) for k in p], y=[str(k) for k in t], mode="markers", customdata=cm.ravel(),
                             marker=dict(size=28, symbol="square", opacity=0.01, color="#000"), showlegend=False,
                             hovertemplate="true %{y}, predicted %{x}: %{customdata} · click to see them<extra></extra>"))
    if highlight is not None:
        t, p = highlight
        fig.add_shape(type="rect", x0=p - 0.5, x1=p + 0.5, y0=t - 0.5, y1=t + 0.5, line=dict(color="#d62728", width=3))
    fig.update_yaxes(autorange="reversed", type="category", title="true digit")
    fig.update_xaxes(type="category", title="predicted digit", side="top")
    fig.update_layout(height=460, margin=dict(l=10, r=10, t=40, b=10), clickmode="event+select", dragmode=False)
    return fig


def class_counts(counts: dict[str, np.ndarray]) -> go.Figure:
    """Grouped bars: how many images of each digit every split holds."""
    fig = go.Figure([go.Bar(x=[str(k) for k in range(10)], y=np.asarray(n), name=split) for split, n in counts.items()])
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category")  # every digit labelled, not every other one
    return _layout(fig, "Images per digit", "digit", "count").update_layout(hovermode="closest")


def pixel_histograms(values: dict[str, np.ndarray]) -> go.Figure:
    """One histogram of pixel values per normalization, side by side (log counts)."""
    fig = make_subplots(rows=1, cols=len(values), subplot_titles=list(values), shared_yaxes=True)
    for i, (k, v) in enumerate(values.items(), start=1):
        fig.add_trace(go.Histogram(x=np.asarray(v), name=k, nbinsx=40, marker_color=PALETTE[i - 1]), row=1, col=i)
    fig.update_yaxes(type="log", dtick=1, tickformat="~s")  # one tick a decade: 1, 10, 100, 1k, 10k
    fig.update_yaxes(title_text="pixels (log)", col=1)
    fig.update_layout(title="Pixel values after each normalization", height=320, showlegend=False,
                      margin=dict(l=10, r=10, t=60, b=10))
    return fig


def enlarge(img28, scale: int = 6) -> np.ndarray:
    """A (28, 28) image in [0, 1] or uint8 as an enlarged uint8 image with crisp pixels."""
    a = np.asarray(img28, dtype=float)
    if a.max() > 1:
        a = a / 255
    return pictures.enlarge(pictures.to_bytes(a), scale)


DIGIT_COLORS = PALETTE  # one colour a digit on the pinned drawings' charts


def pinned_curves(scores: list[dict], slot: int, label: int | None, steps_per_epoch: int | None = None,
                  height: int = 200) -> go.Figure:
    """How a pinned drawing's ten probabilities moved as a run trained: one line a digit against the step, the
    drawing's label (when known) drawn thick."""
    fig = go.Figure()
    steps = [s["step"] for s in scores]
    for digit in range(10):
        thick = digit == label
        fig.add_trace(go.Scatter(x=steps, y=[s["probs"][slot][digit] for s in scores], name=str(digit),
                                 mode="lines", line=dict(color=DIGIT_COLORS[digit], width=3.5 if thick else 1.4),
                                 opacity=1 if label is None or thick else 0.75))
    if steps_per_epoch:
        for e in range(1, int(max(steps, default=0) // steps_per_epoch) + 1):
            fig.add_vline(x=e * steps_per_epoch, line=dict(color="#bbb", width=1, dash="dot"))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), hovermode="x unified", showlegend=False,
                      yaxis=dict(range=[0, 1.02], tickformat=".0%"), xaxis_title="step")
    return fig


def lr_range(lrs: list[float], losses: list[float], smoothed: list[float], suggestion: float) -> go.Figure:
    """The learning-rate range test: loss against learning rate (log), the smoothed loss, and the suggestion."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=lrs, y=losses, mode="lines", name="loss each step", line=dict(color="#bbb", width=1)))
    fig.add_trace(go.Scatter(x=lrs, y=smoothed, mode="lines", name="smoothed", line=dict(color=PALETTE[0], width=2.5)))
    fig.add_vline(x=suggestion, line=dict(color=PALETTE[3], dash="dash"),
                  annotation_text=f"suggested {suggestion:.2g}", annotation_position="top left")
    top = min(max(losses), 3 * min(smoothed) + 1) if losses else 1
    fig.update_xaxes(type="log", title_text="learning rate")
    fig.update_yaxes(title_text="training loss", range=[0, top * 1.05])
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=30, b=10), hovermode="x unified",
                      legend=dict(orientation="h", y=-0.25, x=0))
    return fig


def sweep_charts(study, params: list[str]) -> list[go.Figure]:
    """Optuna's own charts of a sweep: the best value over trials, parallel coordinates, each setting's importance and
    accuracy against each setting; those that need more finished trials than there are yet are left out."""
    from optuna import visualization as vis
    from optuna.trial import TrialState

    finished = [t for t in study.trials if t.state == TrialState.COMPLETE]
    if len(finished) < 2:
        return []
    makers = [("Best validation accuracy over the trials", lambda: vis.plot_optimization_history(study)),
              ("Every trial's settings and accuracy", lambda: vis.plot_parallel_coordinate(study, params=params)),
              ("How much each setting mattered", lambda: vis.plot_param_importances(study)),
              ("Accuracy against each setting", lambda: vis.plot_slice(study, params=params))]
    figures = []
    for title, make in makers:
        try:
            fig = make()
        except (ValueError, RuntimeError, ZeroDivisionError):  # too few distinct trials for this chart yet
            continue
        fig.update_layout(title=dict(text=title, font=dict(size=14)), height=380, margin=dict(l=10, r=10, t=40, b=10))
        figures.append(fig)
    return figures


def target_reached(runs: list[tuple[str, list[dict]]], split: str, target: float,
                   course: dict[str, int] | None = None, colors: list[str] | None = None) -> go.Figure:
    """Accuracy per epoch on one split with the target's line: which run crosses it first. course: a run's label ->
    the epoch at which the course's run reached the target (its own, on its test set), drawn as an open circle."""
    fig = epoch_curves(runs, "acc", (split,), colors=colors)
    fig.add_hline(y=target, line=dict(color="#888", width=1, dash="dot"), annotation_text=f"{target:.0%}",
                  annotation_position="bottom right")
    for (name, _), color in zip(runs, _colors(runs, colors)):
        if course and name in course:
            fig.add_trace(go.Scatter(x=[course[name]], y=[target], mode="markers", name=f"the course: {as_text(name)}",
                                     legendgroup=as_text(name), showlegend=False,
                                     hovertemplate=f"the course's {as_text(name)}: {target:.0%} test accuracy at "
                                                   f"epoch {course[name]}<extra></extra>",
                                     marker=dict(size=12, color="rgba(0,0,0,0)", line=dict(width=2, color=color))))
    lows = [e[f"{split}_acc"] for _, epochs in runs for e in epochs]
    if lows:  # zoomed to where the story is: the target and the climb to it, not everything from 0
        fig.update_yaxes(range=[max(0.0, min(min(lows), target) - 0.01), min(1.0, max(max(lows), target) + 0.005)])
    return fig


def lowest_point(runs: list[tuple[str, list[dict]]], colors: list[str] | None = None) -> go.Figure:
    """Validation loss per epoch with each run's lowest epoch marked: where it stopped falling, and turned up."""
    fig = epoch_curves(runs, "loss", ("val",), colors=colors)
    for (name, epochs), color in zip(runs, _colors(runs, colors)):
        if epochs:
            low = min(epochs, key=lambda e: e["val_loss"])
            fig.add_trace(go.Scatter(x=[low["epoch"]], y=[low["val_loss"]], mode="markers+text", text=["lowest"],
                                     textposition="top center", showlegend=False, legendgroup=as_text(name),
                                     hovertemplate=f"{as_text(name)}: lowest at epoch {low['epoch']}<extra></extra>",
                                     marker=dict(size=14, symbol="star", color=color)))
    return fig


def deciding(check: str, runs: list[tuple[str, list[dict]]], *, split: str = "val", target: float = 0.97,
             course: dict[str, int] | None = None, colors: list[str] | None = None) -> go.Figure | None:
    """The chart that answers a lesson's question of this check, from the learner's runs; None where a table or a
    count answers it instead."""
    if check == "first_to_target":
        return target_reached(runs, split, target, course, colors)
    if check == "turn_up":
        return lowest_point(runs, colors)
    if check == "largest_gap":
        return epoch_curves(runs, "acc", ("train", "val"), colors=colors)
    return None  # the kept checkpoints' accuracy (the summary table), a count, the learner's own digits
