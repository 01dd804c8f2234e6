"""Runs outside the page: executing, cancelling, the one worker per store, the supervisor and dead workers."""

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import torch

from digitlab import UserError, files, settings
from digitlab.datasets import data
from digitlab.learn import checkpoint
from digitlab.runs import admission
from digitlab.learn.config import TrainConfig
from digitlab.runs.runner import execution, supervisor, workers
from digitlab.settings import Workers
from digitlab.runs.store import Status, Store
from testkit.fixtures import wait_for
from testkit.supervise import supervising


def test_cancelling_a_running_run_keeps_its_best_checkpoint(tmp_path, tiny_root):
    s = Store(tmp_path / "runs")
    rid = s.create(TrainConfig(hidden=[32], epochs=200, batch_size=16, device="cpu"), pid=os.getpid())
    worker = threading.Thread(target=execution.execute, args=(s, rid, tiny_root))
    worker.start()
    wait_for(lambda: len(s.epochs(rid)) >= 2, what="two epochs")
    s.request_cancel(rid)
    worker.join(30)
    assert not worker.is_alive()
    run = s.get(rid)
    epochs = s.epochs(rid)
    assert run.status is Status.CANCELLED and 2 <= len(epochs) < 200
    best = max(epochs, key=lambda e: e["val_acc"])
    assert run.best_epoch == best["epoch"] and run.best_val_acc == best["val_acc"]
    ck = checkpoint.load(run.checkpoint)
    assert ck.metrics["epoch"] == best["epoch"] and ck.metrics["test_acc"] == run.test_acc
    assert sorted(p.name for p in s.run_dir(rid).iterdir()) == ["best.pt", "first-layer"]  # no temp file
    kept = sorted(p.name for p in (s.run_dir(rid) / "first-layer").iterdir())
    assert kept == [f"epoch-{e:04d}.npy" for e in range(len(kept))] and len(kept) >= len(epochs)  # 0: before training


def test_a_run_trains_on_what_its_validation_split_leaves(tmp_path, tiny_root):
    s = Store(tmp_path / "runs")
    seen = {}

    def trainer(config, mnist, *args, **kwargs):
        seen[config.val_size] = (len(mnist.train_x), len(mnist.val_x))
        return execution.train(config, mnist, *args, **kwargs)

    for val_size in (12_000, 30_000):
        execution.execute(s, s.create(TrainConfig(hidden=[8], epochs=1, device="cpu", val_size=val_size)), tiny_root,
                     trainer=trainer)
    assert seen == {12_000: (400, 100), 30_000: (250, 250)}


def test_a_run_learns_from_a_teacher_run_and_a_teacher_that_is_not_there_is_refused(tmp_path, tiny_root):
    s = Store(tmp_path / "runs")
    first = s.create(TrainConfig(hidden=[8], epochs=1, device="cpu"))
    execution.execute(s, first, tiny_root)
    taught = []

    def trainer(config, mnist, *args, teacher=None, **kwargs):
        taught.append(teacher)
        return execution.train(config, mnist, *args, teacher=teacher, **kwargs)

    student = TrainConfig(hidden=[16], epochs=1, device="cpu", teacher=f"run:{first}")  # of another shape
    assert execution.execute(s, s.create(student), tiny_root, trainer=trainer).status is Status.COMPLETED
    (config, state), = taught
    assert config.hidden == [8] and torch.equal(state["net.0.weight"], checkpoint.load(s.get(first).checkpoint)
                                                .model.state_dict()["net.0.weight"])
    queued = len(s.runs())
    for name, message in (("nope", "There is no shipped model 'nope' to learn from: choose one of"),
                          ("run:999", "There is no run 999")):
        with pytest.raises(UserError, match=message):
            admission.launch(s, TrainConfig(hidden=[8], epochs=1, device="cpu", teacher=name), tiny_root)
    assert len(s.runs()) == queued  # nothing queued


def test_worker_drains_the_queue_in_order_and_honours_cancel(tmp_path, tiny_root):
    s = Store(tmp_path / "runs")
    ids = [s.create(TrainConfig(hidden=[16], epochs=1, device="cpu", seed=i)) for i in range(3)]
    s.request_cancel(ids[1])
    assert workers.work(s, tiny_root) == 2
    runs = {r.id: r for r in s.runs()}
    assert [runs[i].status for i in ids] == [Status.COMPLETED, Status.CANCELLED, Status.COMPLETED]
    assert runs[ids[0]].finished <= runs[ids[2]].started
    assert (s.run_dir(ids[0]) / "best.pt").exists() and not s.run_dir(ids[1]).exists()
    assert len(s.epochs(ids[2])) == 1 and runs[ids[2]].best_val_acc > 0


def test_an_unexpected_error_fails_the_run_with_its_first_line(tmp_path, tiny_root):
    s = Store(tmp_path / "runs")
    rid = s.create(TrainConfig(hidden=[8], epochs=1, device="cpu"), pid=os.getpid())

    def broken(*args, **kwargs):
        raise RuntimeError("enforce fail at inline_container.cc:672\n(a C++ trace nobody should read)")

    with pytest.raises(RuntimeError):
        execution.execute(s, rid, tiny_root, trainer=broken)
    assert s.get(rid).status is Status.FAILED
    assert s.get(rid).error == "Training stopped with RuntimeError: enforce fail at inline_container.cc:672."


def test_one_worker_per_slot(tmp_path, tiny_root):
    s = Store(tmp_path / "runs")
    rid = s.create(TrainConfig(hidden=[16], epochs=1, device="cpu"))
    held = workers.worker_lock(s, 0)
    assert held is not None and workers.worker_alive(s, 0) and workers.worker_lock(s, 0) is None
    assert workers.worker_alive(s)  # slot 0 unless named
    assert not workers.worker_alive(s, 1)  # another slot is free
    assert workers.work(s, tiny_root, 0) == 0  # a second worker in a held slot leaves the queue to the holder
    assert s.get(rid).status is Status.QUEUED
    held.close()
    assert not workers.worker_alive(s, 0) and workers.work(s, tiny_root, 0) == 1
    assert s.get(rid).status is Status.COMPLETED


def test_the_supervisor_fills_each_free_slot_while_runs_wait(tmp_path, monkeypatch):
    s = Store(tmp_path / "runs")
    started = []
    monkeypatch.setattr(workers, "start_worker", lambda store, root, slot: started.append(slot) or FakeWorker())
    sup = supervisor.Supervisor(s, slots=3, retry_after=0)
    sup.tick()
    assert started == []  # nothing waits: nothing started
    for _ in range(2):
        s.create(TrainConfig())
    sup.tick()
    assert started == [0, 1]  # two runs wait: two of the three slots
    held = workers.worker_lock(s, 0)  # slot 0's worker is busy; one more run arrives
    s.create(TrainConfig())
    started.clear()
    sup.tick()
    assert started == [1, 2]
    held.close()
    assert workers.slot_count(__import__("digitlab").settings.Workers(cpu_slots=4)) in (4, 1 * workers.devices.accelerators())


class FakeWorker:
    def poll(self):
        return None


def test_one_supervisor_acts_per_store(tmp_path):
    s = Store(tmp_path / "runs")
    first, second = supervisor.Supervisor(s, slots=1), supervisor.Supervisor(s, slots=1)
    assert first.acting() and not second.acting()
    first._lock.close()
    first._lock = None
    assert second.acting()


def test_the_supervisor_backs_the_store_up(tmp_path):
    s = Store(tmp_path / "runs")
    s.create(TrainConfig(name="x"), pid=os.getpid())  # running here: no worker is started for it
    supervisor.Supervisor(s, slots=1).tick()
    assert s.latest_backup() is not None and Store.restore(s.root, force=True).backup == s.latest_backup()
    assert Store(s.root).runs()[0].name == "x"


def test_launch_limits_the_runs_of_one_person(tmp_path, tiny_root, monkeypatch):
    monkeypatch.setenv("DIGITLAB_SETTINGS", str(tmp_path / "s.toml"))
    (tmp_path / "s.toml").write_text("[limits]\nqueued_per_person = 2\n")
    s = Store(tmp_path / "runs")
    for _ in range(2):
        admission.launch(s, TrainConfig(hidden=[16], device="cpu"), tiny_root, owner="ada")
    with pytest.raises(UserError, match=r"You have 2 runs waiting or running, the limit of 2 \(limits.queued_per_"):
        admission.launch(s, TrainConfig(hidden=[16], device="cpu"), tiny_root, owner="ada")
    admission.launch(s, TrainConfig(hidden=[16], device="cpu"), tiny_root, owner="bob")
    assert len(s.runs()) == 3
    with pytest.raises(UserError, match=r"You have 1 runs waiting or running, and these 2 would pass the limit of 2"):
        admission.queue(s, [TrainConfig(hidden=[16], device="cpu")] * 2, tiny_root, owner="bob")
    with pytest.raises(UserError, match="Hidden layer sizes"):  # one bad config: none of the group is queued
        admission.queue(s, [TrainConfig(hidden=[16], device="cpu"), TrainConfig(hidden=[0], device="cpu")],
                          tiny_root, owner="cy")
    assert len(s.runs()) == 3


def test_launch_queues_only_what_can_run(tmp_path, tiny_root):
    s = Store(tmp_path / "runs")
    rid = admission.launch(s, TrainConfig(hidden=[16], epochs=1, device="cpu"), tiny_root)
    assert s.get(rid).status is Status.QUEUED
    with pytest.raises(UserError, match="Epochs must be between 1 and 1000"):
        admission.launch(s, TrainConfig(epochs=0), tiny_root)
    with pytest.raises(UserError, match="MNIST is not prepared yet"):
        admission.launch(s, TrainConfig(), tmp_path / "nowhere")
    assert [r.id for r in s.runs()] == [rid]


def test_a_failing_run_records_one_sentence(tmp_path):
    s = Store(tmp_path / "runs")
    rid = s.create(TrainConfig(epochs=1), pid=os.getpid())
    with pytest.raises(UserError):
        execution.execute(s, rid, tmp_path / "no-data")
    run = s.get(rid)
    assert run.status is Status.FAILED and "digitlab data" in run.error and "\n" not in run.error


def test_supervisor_starts_a_worker_for_queued_runs_and_reaps_it(tmp_path, monkeypatch):
    """A real worker process: the queued run has no data to train on, so it fails fast, and the worker exits."""
    s = Store(tmp_path / "runs")
    rid = s.create(TrainConfig(hidden=[16], epochs=1, device="cpu"))
    sup = supervisor.Supervisor(s, tmp_path / "no-data", retry_after=0)
    sup.tick()
    assert len(sup.workers) == 1
    wait_for(lambda: s.get(rid).status is Status.FAILED, what="the worker to take the run")
    assert "not prepared" in s.get(rid).error
    worker = sup.workers[0]
    wait_for(lambda: worker.poll() is not None, what="the worker to exit")
    sup.tick()
    assert sup.workers == [] and worker.returncode == 0  # reaped: no zombie left behind
    sup.tick()
    assert sup.workers == []  # nothing queued, no worker started


def test_supervisor_thread_wakes_on_request(tmp_path):
    s = Store(tmp_path / "runs")
    sup = supervisor.Supervisor(s, every=3600)
    ticks = []
    sup.tick = lambda: ticks.append(time.monotonic())
    sup.start()
    wait_for(lambda: len(ticks) == 1, 5, "the first tick")
    sup.wake()
    wait_for(lambda: len(ticks) == 2, 5, "the woken tick")


def test_a_killed_worker_is_marked_failed_by_the_supervisor(tmp_path, tiny_root):
    """A real worker process killed with SIGKILL after its first epoch: the store must not say 'running' forever, and
    the epoch's checkpoint is kept. No training: its trainer reports one epoch and its best weights through the real
    execution path, then waits to be killed."""
    s = Store(tmp_path / "runs")
    code = textwrap.dedent(f"""
        import os, time
        from digitlab.datasets import data
        from digitlab.learn.config import TrainConfig
        from digitlab.learn.models import build
        from digitlab.runs.runner import execution
        from digitlab.runs.store import Store
        data.MD5 = {data.MD5!r}  # the tiny set's checksums, as the test's fixture made them
        s = Store({str(s.root)!r})
        config = TrainConfig(hidden=[8], epochs=5, device="cpu")
        rid = s.create(config, pid=os.getpid())

        def one_epoch_then_wait(config, mnist, callback, should_stop, **kw):
            m = dict(epoch=1, train_loss=2.0, train_acc=0.3, val_loss=1.9, val_acc=0.35, test_loss=1.9,
                     test_acc=0.34, seconds=0.1, lr=1e-3)
            callback("best", {{"epoch": 1, "metrics": m, "state": build(config).state_dict()}})
            callback("epoch", m)
            time.sleep(600)

        execution.execute(s, rid, {str(tiny_root)!r}, trainer=one_epoch_then_wait)
    """)
    p = subprocess.Popen([sys.executable, "-c", code])
    sup = supervisor.Supervisor(s)
    try:
        wait_for(lambda: s.runs() and s.epochs(s.runs()[0].id), what="a first finished epoch")
        sup.tick()
        assert s.runs()[0].status is Status.RUNNING  # alive: never reaped
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    sup.tick()
    run = s.runs()[0]
    assert run.status is Status.FAILED and run.error == ("The worker process stopped unexpectedly: the best checkpoint "
                                                         "of its finished epochs is kept; launch the run again to "
                                                         "finish it.")
    assert s.epochs(run.id)  # it got as far as a finished epoch: that epoch's checkpoint is kept
    assert checkpoint.load(run.checkpoint).metrics["epoch"] == run.best_epoch == 1


def test_a_diverged_run_fails_with_its_step_and_offers_no_model(tmp_path, tiny_root):
    s = Store(tmp_path / "runs")
    rid = s.create(TrainConfig(hidden=[512, 512, 512], optimizer="sgd", lr=10.0, epochs=3, batch_size=32,
                               device="cpu"), pid=os.getpid())
    with pytest.raises(UserError):
        execution.execute(s, rid, tiny_root)
    run = s.get(rid)
    assert run.status is Status.FAILED and run.error.startswith("Training diverged at epoch 1, step ")
    assert run.error.endswith("lower the learning rate.") and run.checkpoint is None
    kept = sorted(str(p.relative_to(s.run_dir(rid))) for p in s.run_dir(rid).rglob("*"))
    assert kept == ["first-layer", "first-layer/epoch-0000.npy"]  # no model: only the weights it started from


def test_a_full_disk_puts_the_run_back_in_the_queue_with_a_sentence_and_no_partial_file(tmp_path, tiny_root,
                                                                                          monkeypatch):
    import errno

    def full(obj, f):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", full)
    s = Store(tmp_path / "runs")
    rid = s.create(TrainConfig(hidden=[16], epochs=1, device="cpu"), pid=os.getpid())
    with pytest.raises(files.DiskFull):
        execution.execute(s, rid, tiny_root)
    run = s.get(rid)
    assert run.status is Status.QUEUED and run.pid is None and run.checkpoint is None  # it waits for space
    assert re.fullmatch(r"The disk holding .*/1 is full \(.* free\), so best\.pt could not be written: free at least .* "
                        r"MB there \(old runs, old backups or other files\), then try again\.", run.error)
    kept = sorted(str(p.relative_to(s.run_dir(rid))) for p in s.run_dir(rid).rglob("*"))
    assert kept == ["first-layer", "first-layer/epoch-0000.npy"]  # no partial file, no temp file
    assert s.epochs(rid) == []  # consistent: an epoch is recorded only once its checkpoint is written


def save_digits(store, n, owner="ada"):
    from digitlab.datasets import handwriting
    from testkit import redraw
    from testkit.fixtures import official_test_digits

    x, y = official_test_digits(n)
    return [handwriting.save(store, handwriting.image_png(redraw.redraw(img, 170, 50, 50, 2)), int(label), owner)
            for img, label in zip(x, y)]


def test_a_run_that_trains_on_my_digits_never_trains_on_the_held_out_part(tmp_path, tiny_root, monkeypatch):
    s = Store(tmp_path / "runs")
    base = TrainConfig(hidden=[16], epochs=1, device="cpu", name="base")
    first = admission.launch(s, base, tiny_root, owner="ada")
    workers.work(s, tiny_root)
    ids = save_digits(s, 20)
    seen = {}
    real_train = execution.train

    def spy(config, mnist, callback=None, should_stop=None, init_state=None, extra=None, **more):
        seen["extra"], seen["init"] = extra, init_state
        return real_train(config, mnist, callback, should_stop, init_state=init_state, extra=extra, **more)

    monkeypatch.setattr(execution, "train", spy)
    tuned = TrainConfig(hidden=[16], epochs=1, device="cpu", start_from=f"run:{first}", my_digits=0.5, lr=1e-4)
    rid = admission.launch(s, tuned, tiny_root, owner="ada")
    workers.work(s, tiny_root)
    assert s.get(rid).status is Status.COMPLETED
    result = execution.my_digits_result(s, rid)
    trained, held = result["trained"], result["held_out"]
    assert len(trained) == 10 and len(held) == 10 and sorted(trained + held) == ids
    rows = {r["id"]: r for r in s.digits("ada")}
    from digitlab.datasets import handwriting

    x, y = handwriting.arrays([rows[i] for i in trained])
    assert seen["extra"][0].numpy().tobytes() == x.tobytes()  # exactly the trained part, none of the held-out one
    start = checkpoint.load(s.get(first).checkpoint)
    assert all((seen["init"][k] == v).all() for k, v in start.model.state_dict().items())
    for when in ("before", "after"):
        assert 0 <= result[when]["held_out_acc"] <= 1 and 0 <= result[when]["test_acc"] <= 1
    assert result["before"]["test_acc"] == pytest.approx(s.get(first).test_acc)


def test_a_run_that_starts_from_a_model_of_another_shape_or_too_few_digits_is_refused(tmp_path, tiny_root):
    s = Store(tmp_path / "runs")
    with pytest.raises(UserError, match=r"Hidden layer sizes must be \[1024, 512\] to start from mlp-default, got "
                                        r"\[16\]"):
        admission.launch(s, TrainConfig(hidden=[16], device="cpu", start_from="mlp-default"), tiny_root)
    with pytest.raises(UserError, match="There is no shipped model 'nope' to start from"):
        admission.launch(s, TrainConfig(hidden=[16], device="cpu", start_from="nope"), tiny_root)
    with pytest.raises(UserError, match="There is no run 7"):
        admission.launch(s, TrainConfig(hidden=[16], device="cpu", start_from="run:7"), tiny_root)
    with pytest.raises(UserError, match="Start from must name a shipped model"):
        admission.launch(s, TrainConfig(hidden=[16], device="cpu", start_from="../../etc/passwd"), tiny_root)
    save_digits(s, 3, owner="ada")
    with pytest.raises(UserError, match="needs at least 10 saved digits, and you have 3"):
        admission.launch(s, TrainConfig(hidden=[16], device="cpu", my_digits=0.5), tiny_root, owner="ada")
    assert s.runs() == []


def test_runs_trained_at_once_give_the_numbers_each_gives_alone(tmp_path, tiny_root, monkeypatch):
    """Two slots: each worker gets the same threads whether the other is busy or not, so a run's numbers do not
    depend on what trains beside it."""
    settings_file = tmp_path / "settings.toml"
    settings_file.write_text("[workers]\ncpu_slots = 2\n")
    monkeypatch.setenv(settings.ENV, str(settings_file))
    assert workers.slot_count() == (2 if not workers.devices.accelerators() else workers.slot_count())
    assert workers.worker_threads() == max(1, (os.cpu_count() or 1) // workers.slot_count())

    def trained(store, configs):
        ids = [store.create(c) for c in configs]
        with supervising(store, tiny_root, every=0.1):
            wait_for(lambda: all(store.get(i).status is Status.COMPLETED for i in ids), seconds=120, what="runs")
        return [store.get(i) for i in ids]

    config = TrainConfig(hidden=[32], epochs=2, batch_size=16, device="cpu", seed=3)
    (alone,) = trained(Store(tmp_path / "alone"), [config])
    together = trained(Store(tmp_path / "together"), [config, TrainConfig(hidden=[64], epochs=3, device="cpu")])
    assert together[0].pid != together[1].pid  # trained at once, by two workers
    assert together[0].best_val_acc == alone.best_val_acc and together[0].test_acc == alone.test_acc
    a, b = (checkpoint.load(r.checkpoint).model.state_dict() for r in (alone, together[0]))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_no_cpu_slots_means_half_the_cores():
    from digitlab.settings import Workers

    if not workers.devices.accelerators():
        assert workers.slot_count(Workers()) == max(1, (os.cpu_count() or 1) // 2)
        assert workers.slot_count(Workers(cpu_slots=3)) == 3


@pytest.mark.parametrize("cores, gpus, workers_, slots, threads", [
    (8, 0, Workers(), 4, 2), (2, 0, Workers(), 1, 2), (1, 0, Workers(), 1, 1), (16, 0, Workers(cpu_slots=3), 3, 5),
    (8, 2, Workers(), 8, 1), (8, 1, Workers(gpu_slots=2), 2, 4), (None, 0, Workers(), 1, 1),
    (2, 0, Workers(cpu_slots=4), 4, 1)])  # more slots than cores: a thread each, never none
def test_slots_and_threads_per_machine(cores, gpus, workers_, slots, threads, monkeypatch):
    monkeypatch.setattr(workers.os, "cpu_count", lambda: cores)
    monkeypatch.setattr(workers.devices, "accelerators", lambda: gpus)
    assert workers.slot_count(workers_) == slots
    assert workers.worker_threads(slots) == threads


def test_workers_are_spread_over_the_gpus(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(workers.subprocess, "Popen", lambda cmd, **kw: seen.append(kw["env"].get("CUDA_VISIBLE_DEVICES")))
    store = Store(tmp_path / "runs")
    for gpus in (2, 3):
        monkeypatch.setattr(workers.devices, "accelerators", lambda: gpus)
        for slot in range(4):
            workers.start_worker(store, None, slot)
    monkeypatch.setattr(workers.devices, "accelerators", lambda: 1)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    workers.start_worker(store, None, 0)  # one GPU: every worker sees it as it is
    assert seen == ["0", "1", "0", "1", "0", "1", "2", "0", None]


def test_a_runs_steps_are_numbered_from_one_without_a_gap(tmp_path, tiny_root):
    s = Store(tmp_path / "runs")
    rid = s.create(TrainConfig(hidden=[8], epochs=2, batch_size=16, device="cpu"), pid=os.getpid())
    execution.execute(s, rid, tiny_root)
    steps = s.steps(rid)
    per_epoch = s.get(rid).steps_per_epoch
    assert [r["step"] for r in steps] == list(range(1, 2 * per_epoch + 1))
    assert [r["epoch"] for r in steps] == [1] * per_epoch + [2] * per_epoch


@pytest.mark.parametrize("epochs, status", [(2, Status.CANCELLED), (1, Status.COMPLETED)])
def test_a_trial_is_pruned_before_its_last_epoch_never_at_it(epochs, status, tmp_path, tiny_root, monkeypatch):
    monkeypatch.setattr(execution.sweep, "pruner_for", lambda store, run: lambda epoch, val_acc: True)  # always trails
    s = Store(tmp_path / "runs")
    rid = s.create(TrainConfig(hidden=[8], epochs=epochs, batch_size=16, device="cpu"), pid=os.getpid())
    run = execution.execute(s, rid, tiny_root)
    assert run.status is status and len(s.epochs(rid)) == 1
    assert (run.error or "").startswith(execution.sweep.PRUNED) is (status is Status.CANCELLED)


def test_a_sweep_driven_here_tells_each_trial_once_as_it_ends(tmp_path, tiny_root):
    from digitlab.runs import sweep
    from digitlab.runs.runner import sweep_here

    s = Store(tmp_path / "runs")
    plan = sweep.Plan("here", TrainConfig(hidden=[8], epochs=1, batch_size=32, device="cpu").to_dict(),
                      [sweep.Param("seed", values=[0, 1, 2])], trials=3, sampler="grid", prune=False)
    sweep_id = sweep.start(s, plan)
    told = []
    sweep_here.run(s, sweep_id, tiny_root, lambda run: told.append((run.trial, run.status)))
    assert sorted(told) == [(0, Status.COMPLETED), (1, Status.COMPLETED), (2, Status.COMPLETED)]  # each once, ended
    assert s.get_sweep(sweep_id).status == "done"


def test_a_tick_that_fails_does_not_end_the_supervisor(tmp_path, capsys):
    s = Store(tmp_path / "runs")
    sup = supervisor.Supervisor(s, slots=1, every=0.01)
    ticks = []

    def tick():
        ticks.append(1)
        if len(ticks) == 1:
            raise RuntimeError("database is locked")  # a passing error
        if len(ticks) == 3:
            sup._stop.set()

    sup.tick = tick
    sup.run()
    assert len(ticks) == 3 and "digitlab supervisor: RuntimeError: database is locked" in capsys.readouterr().err


def test_no_worker_starts_while_the_disk_is_full(tmp_path, monkeypatch):
    s = Store(tmp_path / "runs")
    s.create(TrainConfig(hidden=[8], epochs=1, device="cpu"))  # waiting

    class Counting:
        ticks = 0

        def tick(self):
            Counting.ticks += 1

    sup = supervisor.Supervisor(s, executor=Counting())
    sup.last_backup = time.monotonic()  # no backup this tick
    monkeypatch.setattr(files, "disk_full", lambda folder: True)
    sup.tick()
    assert Counting.ticks == 0  # a run would stop at its first write: the queue waits
    monkeypatch.setattr(files, "disk_full", lambda folder: False)
    sup.tick()
    assert Counting.ticks == 1
