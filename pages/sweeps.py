"""Hyperparameter sweeps: queue one (a small TOML), watch its trials, and read what mattered (Optuna's charts)."""

import pandas as pd
import streamlit as st

from app import ui
from digitlab import UserError, addresses, markdown
from digitlab.course import plots
from digitlab.runs import sweep
from digitlab.runs.store import SweepStatus
from digitlab.classroom.access import Action, Resource

ui.routed()
store = ui.store()
st.title("Sweeps")
st.caption("A sweep tries many settings for you: Optuna picks each trial (a grid, at random, or TPE, which learns "
           "from the trials so far), every trial is an ordinary run, and trials that trail the others after an "
           "epoch are stopped early (pruned).")

fresh = st.session_state.get("sweep_text") not in (None, sweep.EXAMPLE)  # handed over by the Train page
with st.expander("New sweep", expanded=fresh or not store.sweeps(owner=ui.owner_filter())):
    st.session_state.setdefault("sweep_text", sweep.EXAMPLE)  # or the Train form's, from its "Sweep from this form"
    text = st.text_area("The sweep, in TOML", height=400, key="sweep_text",
                        max_chars=sweep.MAX_BYTES,
                        help="name, preset, trials, sampler (grid, random, tpe), prune, parallel; [fixed] settings "
                             "of every trial; [search.NAME] with values = [...] or low, high (and log = true).")
    if st.button("Queue the sweep", type="primary", key="queue_sweep"):
        try:
            sweep_id = sweep.start(store, sweep.parse(text), owner=ui.viewer().name)
            st.session_state.sweep = sweep_id
            ui.supervisor().wake()
            st.toast(f"Sweep {sweep_id} queued.", icon=":material/rocket_launch:")
        except UserError as e:
            ui.show_error(e)

sweeps = {row.id: row for row in store.sweeps(owner=ui.owner_filter())}
ui.not_yours(addresses.ids_in(st.query_params.get("sweep", "")), sweeps, "sweep")
if not sweeps:
    st.info("No sweep yet: queue the example above, or run `digitlab sweep` with a file or --param flags.")
    st.stop()
linked = addresses.ids_in(st.query_params.get("sweep", ""))
first = next((i for i in [*linked, st.session_state.get("sweep")] if i in sweeps), next(iter(sweeps)))
chosen = st.selectbox("Sweep", list(sweeps), index=list(sweeps).index(first), key="sweep_pick",
                      format_func=lambda i: f"{i}: {sweeps[i].name} ({sweeps[i].status})")
ui.set_address(sweep=str(chosen))


def show(sweep_id: int) -> None:
    try:
        plan, rows, study = sweep.results(store, sweep_id)
    except UserError as e:
        ui.show_error(e)
        return
    row = store.get_sweep(sweep_id)
    told = sum(r["state"] in ("complete", "pruned", "fail") for r in rows)
    st.progress(told / plan.trials, text=f"{told} of {plan.trials} trials finished · {row.status} · "
                                         f"{plan.sampler}{', pruning' if plan.prune else ''} · "
                                         + "; ".join(sweep.describe(p) for p in plan.params))
    done = [r for r in rows if r["val acc"] is not None]
    if done:
        best = done[0]
        values = ", ".join(f"{p.name} {best[p.name]:.3g}" if isinstance(best[p.name], float) else
                           f"{p.name} {best[p.name]}" for p in plan.params)
        st.success(f"Best so far: trial {best['trial']} (run {best['run']}), validation {best['val acc']:.2%}, test "
                   f"{best['test acc']:.2%}, with {markdown.as_text(values)}.", icon=":material/emoji_events:")
        top = [r["run"] for r in done[:5] if r["run"] is not None]
        st.page_link("pages/runs.py", label=f"Compare the top {len(top)} on Runs", icon=":material/monitoring:",
                     query_params={"compare": ",".join(map(str, top)), "run": str(top[0])})
    a, b = st.columns([5, 1])
    if row.status is SweepStatus.RUNNING and ui.may(Action.MANAGE, Resource.SWEEP, row.owner):
        b.button("Cancel sweep", key=f"cancel_sweep{sweep_id}", on_click=sweep.cancel, args=(store, sweep_id))
    if not rows:
        st.caption("Its first trials are about to join the queue: they show here as the workers take them.")
        return
    table = pd.DataFrame(rows)
    for column in ("val acc", "test acc"):
        table[column] = table[column] * 100
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.2f%%") for c in ("val acc", "test acc")})
    charts = plots.sweep_charts(study, [p.name for p in plan.params])
    for left, right in zip(charts[::2], charts[1::2] + [None]):
        c1, c2 = st.columns(2)
        c1.plotly_chart(left, width="stretch")
        if right is not None:
            c2.plotly_chart(right, width="stretch")
    if not charts:
        st.caption("The charts appear once two trials have finished.")


st.fragment(show, run_every=3.0 if sweeps[chosen].status is SweepStatus.RUNNING else None)(chosen)  # live while it runs
