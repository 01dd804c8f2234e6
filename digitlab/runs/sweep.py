"""Hyperparameter sweeps: Optuna asks for the next trial, each trial is an ordinary run in the store, and the run's
validation accuracy is told back; a run whose accuracy trails the earlier trials' after an epoch is pruned.

A sweep is a small TOML file (or the same as --param flags):

    name = "optimizers and learning rates"
    preset = "compare-adam"       # optional: the recipe every trial starts from
    trials = 16                   # at most MAX_TRIALS
    sampler = "tpe"               # grid, random or tpe
    prune = true                  # stop trials that trail after an epoch (Optuna's median rule)
    parallel = 2                  # trials queued at once (the workers' slots share them)
    [fixed]                       # settings of every trial
    epochs = 5
    [search.lr]                   # a range: low, high and, for rates, log = true
    low = 1e-4
    high = 0.1
    log = true
    [search.optimizer]            # or values to choose from (a grid needs values everywhere)
    values = ["sgd", "momentum", "adam"]

The Optuna study lives in a journal file in the runs folder (runs/sweeps/ID.journal), so the app, the supervisor,
the workers and the CLI all read and write the same one.
"""

import json
import math
from dataclasses import asdict, dataclass, field

from digitlab import UserError, settings
from digitlab.learn.config import NAMES, TrainConfig, kind, parse_sizes, spec, validate
from digitlab.learn.presets import PRESETS, preset
from digitlab.runs.store import Run, SweepStatus

MAX_TRIALS = 64
MAX_PARALLEL = 8
MAX_VALUES = 32            # choices of one searched setting
MAX_BYTES = 16_384         # of a sweep file
SAMPLERS = ("grid", "random", "tpe")
NOT_SEARCHED = ("name", "device", "start_from")  # a trial's name is its number; device and start are fixed
PRUNED = "Pruned by the sweep"  # how a pruned trial's run ends its error line
WARMUP_EPOCHS = 1          # no trial is pruned before this many epochs
STARTUP_TRIALS = 4         # nor before this many trials have finished


@dataclass
class Param:
    name: str
    values: list = field(default_factory=list)  # choices, or empty for a range
    low: float | None = None
    high: float | None = None
    log: bool = False


@dataclass
class Plan:
    """A checked sweep: what every trial starts from, what is searched and how (config.Spec is one setting's)."""

    name: str
    base: dict                       # the settings every trial starts from (preset and fixed), validated
    params: list[Param]
    trials: int = 16
    sampler: str = "tpe"
    prune: bool = True
    parallel: int = 1
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Plan":
        return cls(**{**d, "params": [Param(**p) for p in d["params"]]})


def _value(name: str, v):
    """One value of a searched setting, checked as the setting itself is (lists as '512,128' text or a list)."""
    if kind(name) is list and isinstance(v, str):
        v = parse_sizes(v, name)
    extra = {"optimizer": "momentum"} if name == "nesterov" else {}  # Nesterov alone is refused
    return getattr(validate(TrainConfig(**{name: v, **extra})), name)


def _param(name: str, body) -> Param:
    if name not in NAMES or name in NOT_SEARCHED:
        searchable = ", ".join(n for n in NAMES if n not in NOT_SEARCHED)
        raise UserError(f"A sweep cannot search {name!r}: search any of {searchable}.")
    if not isinstance(body, dict) or not ({"values"} <= set(body) or {"low", "high"} <= set(body)):
        raise UserError(f"search.{name} needs values = [...] or low and high: see `digitlab sweep --help`.")
    unknown = set(body) - {"values", "low", "high", "log"}
    if unknown:
        raise UserError(f"search.{name} has an unknown key {sorted(unknown)[0]!r}: use values, or low, high and log.")
    if "values" in body:
        values = body["values"]
        if not isinstance(values, list) or not 1 <= len(values) <= MAX_VALUES:
            raise UserError(f"search.{name}.values must be a list of 1 to {MAX_VALUES} values.")
        values = [_value(name, v) for v in values]
        if kind(name) is list:
            values = [",".join(map(str, v)) for v in values]  # Optuna's choices are plain values
        return Param(name, values=list(dict.fromkeys(values)))
    if kind(name) not in (int, float):
        raise UserError(f"search.{name} is not a number: give its values = [...] instead of a range.")
    low, high = _value(name, body["low"]), _value(name, body["high"])
    log = body.get("log", False)
    if not isinstance(log, bool) or not low < high or (log and low <= 0):
        raise UserError(f"search.{name} needs low < high (and low > 0 with log = true), got {low:g} and {high:g}.")
    return Param(name, low=low, high=high, log=log)


def parse(text: str, trials_limit: int = MAX_TRIALS) -> Plan:
    """A sweep file's text as a checked Plan; one sentence for anything wrong, before anything is queued."""
    return from_parts(read(text), trials_limit)


def read(text: str | bytes) -> dict:
    """A sweep file's text (or bytes) as its tables, within MAX_BYTES; one sentence when it is not TOML."""
    if len(text if isinstance(text, bytes) else text.encode()) > MAX_BYTES:
        raise UserError(f"A sweep file may hold at most {MAX_BYTES // 1024} KB: this one is larger.")
    try:
        return settings.toml(text.decode() if isinstance(text, bytes) else text)
    except ValueError as e:  # not TOML, nested too deep, or not UTF-8
        raise UserError(f"The sweep is not valid TOML ({e}): fix that line.") from None


def from_parts(d: dict, trials_limit: int = MAX_TRIALS) -> Plan:
    known = {"name", "preset", "trials", "sampler", "prune", "parallel", "seed", "fixed", "search"}
    unknown = sorted(set(d) - known)
    if unknown:
        raise UserError(f"A sweep has no setting {unknown[0]!r}: use {', '.join(sorted(known))}.")
    name = d.get("name", "sweep")
    if not isinstance(name, str) or len(name) > 80:
        raise UserError("A sweep's name must be text of at most 80 characters.")
    chosen = d.get("preset")
    if chosen is not None and chosen not in PRESETS:
        raise UserError(f"Unknown preset {chosen!r}: choose one of {', '.join(PRESETS)}.")
    fixed = d.get("fixed", {})
    if not isinstance(fixed, dict):
        raise UserError("[fixed] must be a table of settings, such as epochs = 5.")
    unknown = sorted(set(fixed) - set(NAMES))
    if unknown:
        raise UserError(f"[fixed] has an unknown setting {unknown[0]!r}: use one of {', '.join(NAMES)}.")
    fixed = {k: parse_sizes(v, k) if kind(k) is list and isinstance(v, str) else v for k, v in fixed.items()}
    base = validate(preset(chosen, **fixed) if chosen else TrainConfig(**fixed)).to_dict()
    search = d.get("search", {})
    if not isinstance(search, dict) or not search:
        raise UserError("A sweep needs at least one setting to search, such as [search.lr] low = 1e-4, high = 0.1.")
    params = [_param(n, body) for n, body in search.items()]
    sampler = d.get("sampler", "tpe")
    if sampler not in SAMPLERS:
        raise UserError(f"Unknown sampler {sampler!r}: choose one of {', '.join(SAMPLERS)}.")
    if sampler == "grid" and any(not p.values for p in params):
        raise UserError("A grid needs values = [...] for every searched setting, not low and high.")
    trials = _count(d.get("trials", 16), "trials", 1, min(MAX_TRIALS, trials_limit))
    if sampler == "grid":
        trials = min(trials, math.prod(len(p.values) for p in params))
    prune = d.get("prune", True)
    if not isinstance(prune, bool):
        raise UserError("prune must be true or false.")
    return Plan(name, base, params, trials, sampler, prune, _count(d.get("parallel", 1), "parallel", 1, MAX_PARALLEL),
                _count(d.get("seed", 0), "seed", 0, 2**32 - 1))


def _count(v, what: str, low: int, high: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
        raise UserError(f"{what} must be a whole number from {low} to {high}, got {v!r}.")
    return v


def parse_flag(text: str) -> tuple[str, dict]:
    """--param NAME=a,b,c (values) or NAME=LOW:HIGH[:log] (a range) as a search entry."""
    name, sep, rest = text.partition("=")
    if not sep or not name or not rest:
        raise UserError(f"--param takes NAME=a,b,c or NAME=LOW:HIGH[:log], got {text!r}.")
    if ":" in rest:
        parts = rest.split(":")
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "log"):
            raise UserError(f"--param {name} takes LOW:HIGH or LOW:HIGH:log, got {rest!r}.")
        try:
            low, high = (float(p) for p in parts[:2])
        except ValueError:
            raise UserError(f"--param {name}'s LOW and HIGH must be numbers, got {rest!r}.") from None
        k = kind(name) if name in NAMES else float
        return name, {"low": k(low) if k is int else low, "high": k(high) if k is int else high,
                      "log": len(parts) == 3}
    values = rest.split(",") if kind(name) is not list else rest.split("/")  # hidden=512,128/256,64
    return name, {"values": [_flag_value(name, v) for v in values]}


def _flag_value(name: str, text: str):
    k = kind(name) if name in NAMES else str
    if k is bool:
        return text == "true"
    if k in (int, float):
        try:
            return k(text) if k is float else int(float(text))
        except ValueError:
            raise UserError(f"--param {name} takes numbers, got {text!r}.") from None
    return text


# --- the study ------------------------------------------------------------------------------------------------------

def _optuna():
    import optuna  # here: the app and the workers load it only when a sweep runs

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def sampler(plan: Plan, asked: int):
    """The sweep's sampler, seeded by the sweep's seed and the trials asked so far: a study is loaded afresh for
    every trial (by whichever process drives it), and the same seed each time would suggest the same trial."""
    optuna = _optuna()
    seed = plan.seed + asked
    if plan.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if plan.sampler == "grid":
        return optuna.samplers.GridSampler({p.name: p.values for p in plan.params}, seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(8, max(1, plan.trials // 2)))


def study(path, plan: Plan):
    """The sweep's Optuna study, kept in a journal file (created on the first call)."""
    optuna = _optuna()
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    pruner = (optuna.pruners.MedianPruner(n_startup_trials=STARTUP_TRIALS, n_warmup_steps=WARMUP_EPOCHS)
              if plan.prune else optuna.pruners.NopPruner())
    storage = JournalStorage(JournalFileBackend(str(path)))
    return optuna.create_study(storage=storage, study_name="sweep", direction="maximize", load_if_exists=True,
                               sampler=sampler(plan, 0), pruner=pruner)


def suggest(trial, plan: Plan) -> TrainConfig:
    """The config of a trial: the base with each searched setting as Optuna suggests it."""
    values = dict(plan.base)
    for p in plan.params:
        if p.values:
            v = trial.suggest_categorical(p.name, p.values)
            values[p.name] = parse_sizes(v, p.name) if kind(p.name) is list else v
        elif kind(p.name) is int:
            values[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)
        else:
            values[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log)
    values["name"] = f"{plan.name[:60]} #{trial.number}"
    if values.get("nesterov") and values.get("optimizer") != "momentum":
        values["nesterov"] = False  # only the momentum optimizer has it
    return TrainConfig.from_dict(values)


def should_prune(study_, trial_number: int, epoch: int, val_acc: float) -> bool:
    """Report a trial's validation accuracy after an epoch; whether it trails the others enough to stop it."""
    optuna = _optuna()
    frozen = study_.trials[trial_number]
    trial = optuna.trial.Trial(study_, frozen._trial_id)  # the trial of that number, to report to
    trial.report(val_acc, epoch)
    return trial.should_prune()


def searched(plan: Plan) -> list[str]:
    return [p.name for p in plan.params]


def describe(p: Param) -> str:
    if p.values:
        return f"{spec(p.name).label}: {', '.join(map(str, p.values))}"
    return f"{spec(p.name).label}: {p.low:g} to {p.high:g}{' (log)' if p.log else ''}"


EXAMPLE = """name = "optimizers and learning rates"
preset = "compare-adam"   # 784-128-64-10, batch 64
trials = 12
sampler = "tpe"           # grid, random or tpe
prune = true              # stop trials that trail the others after an epoch
parallel = 1              # trials queued at once

[fixed]
epochs = 5

[search.lr]
low = 1e-4
high = 0.3
log = true

[search.optimizer]
values = ["sgd", "momentum", "adam"]
"""


# --- driving a sweep from the store ----------------------------------------------------------------------------------

def journal(store, sweep_id: int):
    return store.root / "sweeps" / f"{sweep_id}.journal"


def start(store, plan: Plan, owner: str = "", data_root=None) -> int:
    """Record a sweep and create its study; its trials are queued by `advance` (the supervisor, or the CLI)."""
    limit = settings.current().limits.queued_per_person
    if plan.parallel > limit:
        raise UserError(f"parallel = {plan.parallel} is over the {limit} runs one person may queue "
                        "(limits.queued_per_person in the settings): lower parallel.")
    running = len(store.sweeps(owner=owner, status=SweepStatus.RUNNING))
    if running >= limit:
        raise UserError(f"You have {running} sweeps running, the most one person may (limits.queued_per_person in the "
                        "settings): wait for one to end, or cancel one on the Sweeps page.")
    admit_corners(store, plan, owner, data_root)
    sweep_id = store.create_sweep(plan.name, plan.to_dict(), owner)
    journal(store, sweep_id).parent.mkdir(exist_ok=True)
    study(journal(store, sweep_id), plan)
    return sweep_id


def corners(plan: Plan) -> list[TrainConfig]:
    """Every searched setting at each end of its range (or at each value) on the base."""
    out = []
    for p in plan.params:
        for v in p.values or [p.low, p.high]:
            values = {**plan.base, p.name: parse_sizes(v, p.name) if kind(p.name) is list else v}
            if values.get("nesterov") and values.get("optimizer") != "momentum":
                values["nesterov"] = False
            out.append(TrainConfig.from_dict(values))
    return out


def admit_corners(store, plan: Plan, owner: str = "", data_root=None) -> None:
    """The corners admitted as any run is (admission.admit): a trial that no limit allows is refused before the sweep
    starts, not found halfway through it."""
    from digitlab.runs import admission

    for config in corners(plan):
        admission.admit(store, [config], owner, data_root=data_root, queued=False)


def _outcome(optuna, run: Run):
    """(state, value) to tell Optuna of a finished trial's run."""
    State = optuna.trial.TrialState
    if run.status == "completed" and run.best_val_acc is not None:
        return State.COMPLETE, run.best_val_acc
    if (run.error or "").startswith(PRUNED):
        return State.PRUNED, None
    return State.FAIL, None


def _tell(optuna, the_study, trial, value=None, state=None) -> None:
    """study.tell, with a sampler whose after_trial does nothing: the grid sampler's stops the study once the grid is
    used up, which Optuna refuses outside its own optimize loop (a grid whose last trial is refused would raise)."""
    sampler_, the_study.sampler = the_study.sampler, optuna.samplers.RandomSampler()
    try:
        the_study.tell(trial, value, state=state)
    finally:
        the_study.sampler = sampler_


def advance(store, sweep_id: int, data_root=None) -> list[int]:
    """Tell the study how finished trials did, queue new trials up to the sweep's parallel (and the owner's limit),
    and mark the sweep done once every trial is told; returns the ids of the runs queued."""
    from digitlab import files, settings
    from digitlab.runs import admission
    from digitlab.runs.store import Status

    with files.lock(journal(store, sweep_id).with_suffix(".lock")):  # one driver at a time: the supervisor, a CLI
        row = store.get_sweep(sweep_id)
        if row.status is not SweepStatus.RUNNING:
            return []
        plan, optuna = Plan.from_dict(row.plan), _optuna()
        the_study = study(journal(store, sweep_id), plan)
        trials = the_study.trials
        runs = store.sweep_runs(sweep_id)
        for run in runs:
            if not run.status.active and trials[run.trial].state == optuna.trial.TrialState.RUNNING:
                state, value = _outcome(optuna, run)
                _tell(optuna, the_study, run.trial, value, state=state)
        active = sum(r.status.active for r in runs)
        limits = settings.current().limits
        mine = len(store.runs(Status.QUEUED, Status.RUNNING, owner=row.owner))
        room = min(plan.parallel - active, limits.queued_per_person - mine)
        asked = sum(t.state != optuna.trial.TrialState.WAITING for t in trials)  # enqueued ones are asked first
        new = []
        while len(new) < room and asked < plan.trials:
            the_study.sampler = sampler(plan, asked)
            trial = the_study.ask()
            asked += 1
            try:
                config = suggest(trial, plan)
                admission.admit(store, [config], row.owner, data_root=data_root, limits=limits, queued=False)
            except UserError:
                _tell(optuna, the_study, trial, state=optuna.trial.TrialState.FAIL)
                continue
            new.append((config, trial.number))
        ids = admission.queue(store, [c for c, _ in new], data_root, owner=row.owner, sweep=sweep_id,
                              trials=[n for _, n in new], limits=limits) if new else []
        if asked >= plan.trials and active == 0 and not new:
            store.set_sweep_status(sweep_id, SweepStatus.DONE)
        return ids


def advance_all(store, data_root=None) -> list[int]:
    """advance every running sweep (the supervisor's tick); one that fails is logged and skipped, so that it never
    stalls the rest of the queue."""
    import sys

    queued = []
    for row in store.sweeps(status=SweepStatus.RUNNING):
        try:
            queued += advance(store, row.id, data_root)
        except Exception as e:  # noqa: BLE001 - a damaged journal, say: the other sweeps and runs go on
            print(f"digitlab supervisor: sweep {row.id}: {type(e).__name__}: {e}", file=sys.stderr)
    return queued


def cancel(store, sweep_id: int) -> None:
    """Stop a sweep: no more trials, and its queued and running trials are cancelled."""
    store.set_sweep_status(sweep_id, SweepStatus.CANCELLED)
    for run in store.sweep_runs(sweep_id):
        if run.status.active:
            store.request_cancel(run.id)


def pruner_for(store, run: Run):
    """For a sweep's trial: a function (epoch, val_acc) -> whether to stop it now; None for any other run."""
    if run.sweep is None or run.trial is None:
        return None
    row = store.get_sweep(run.sweep)
    plan = Plan.from_dict(row.plan)
    if not plan.prune:
        return None
    path = journal(store, run.sweep)
    return lambda epoch, val_acc: should_prune(study(path, plan), run.trial, epoch, val_acc)


def results(store, sweep_id: int) -> tuple[Plan, list[dict], object]:
    """A sweep's plan, one row a trial (its run, state, value and parameters) best first, and its study."""
    row = store.get_sweep(sweep_id)
    plan = Plan.from_dict(row.plan)
    the_study = study(journal(store, sweep_id), plan)
    by_trial = {r.trial: r for r in store.sweep_runs(sweep_id)}
    rows = []
    for t in the_study.trials:
        run = by_trial.get(t.number)
        rows.append({"trial": t.number, "run": run.id if run else None, "state": t.state.name.lower(),
                     "val acc": t.value, "test acc": run.test_acc if run else None,
                     "epochs": len(t.intermediate_values) or (run.best_epoch if run else None),
                     **{p.name: t.params.get(p.name) for p in plan.params}})
    rows.sort(key=lambda r: (r["val acc"] is None, -(r["val acc"] or 0), r["trial"]))
    return plan, rows, the_study


def template(config: TrainConfig, trials: int = 12) -> str:
    """A sweep file that starts from config (every setting off its default, fixed) and searches the learning rate a
    decade either side of config's, and the optimizer: what the Train page hands the Sweeps page."""
    def toml(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return '"' + ", ".join(map(str, v)) + '"'
        return repr(v) if isinstance(v, (int, float)) else json.dumps(str(v))  # a TOML basic string

    fixed = {k: v for k, v in config.to_dict().items()
             if k not in ("name", "lr", "optimizer", "nesterov") and v != getattr(TrainConfig(), k)}
    lines = [f'name = {toml((config.display_name() + " sweep")[:80])}', f"trials = {trials}", 'sampler = "tpe"',
             "prune = true", "parallel = 1", "", "[fixed]", *(f"{k} = {toml(v)}" for k, v in fixed.items()), "",
             "[search.lr]", f"low = {max(config.lr / 10, 1e-7):.3g}", f"high = {min(config.lr * 10, 10):.3g}",
             "log = true", "", "[search.optimizer]", 'values = ["sgd", "momentum", "adam"]', ""]
    return "\n".join(lines)
