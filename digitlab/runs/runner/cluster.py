"""Training on a Ray cluster. With an address set ([cluster] address, or $DIGITLAB_RAY_ADDRESS), the supervisor hands
queued runs to the cluster as Ray tasks instead of starting local workers. A task gets all it trains on through Ray
(no shared filesystem): the config, MNIST, the weights it starts from, extra digits, pinned drawings; it sends every
event back through a Ray queue, and the supervisor writes them to the store on this machine with the very code a
local worker uses (execution.execute). A cancel or a prune goes the other way, through a small actor the task polls."""

import os
import threading
import time

from digitlab import UserError, settings
from digitlab.runs.runner import execution

ENV = "DIGITLAB_RAY_ADDRESS"
POLL = 0.5  # seconds between a task's looks at its stop flag


def address() -> str:
    """The cluster to train on: $DIGITLAB_RAY_ADDRESS, else [cluster] address in the settings; "" for none."""
    return os.environ.get(ENV) or settings.current().cluster.address


def connect(where: str):
    """Ray, joined to the cluster at `where` as a driver (once a process)."""
    try:
        import ray
    except ImportError:
        raise UserError("Training on a Ray cluster needs the ray package: run scripts/setup, or unset the cluster "
                        "address.") from None
    if not ray.is_initialized():
        try:
            ray.init(address=where, logging_level="ERROR", log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise UserError(f"Could not reach the Ray cluster at {where} ({e}): start it with `ray start --head`, "
                            "or fix [cluster] address.") from None
    return ray


_REMOTE = {}


def _remote(ray):
    """The stop flag and the task, defined once Ray is imported."""
    if _REMOTE:
        return _REMOTE["flag"], _REMOTE["task"]

    @ray.remote(num_cpus=0)
    class Flag:
        def __init__(self):
            self.up = False

        def set(self):
            self.up = True

        def get(self) -> bool:
            return self.up

    @ray.remote(max_retries=0)
    def train_task(config: dict, mnist, inputs: dict, events, flag):
        import ray as here

        from digitlab.learn.config import TrainConfig
        from digitlab.learn.train import train

        node = here.get_runtime_context().get_node_id()[:8]
        last, stop = 0.0, False

        def should_stop() -> bool:
            nonlocal last, stop
            if time.monotonic() - last > POLL:
                last, stop = time.monotonic(), here.get(flag.get.remote())
            return stop

        def callback(event: str, info: dict) -> None:
            if event == "start":  # where it trains, for the run's record
                info = {**info, "device": f"{info['device']} on ray node {node}"}
            events.put((event, info))

        return train(TrainConfig.from_dict(config), mnist, callback, should_stop, **inputs)

    _REMOTE.update(flag=Flag, task=train_task)
    return Flag, train_task


class Ray:
    """The supervisor's executor with a cluster: runs the queue on it: up to [cluster] slots runs at once, a thread each on this side."""

    def __init__(self, store, data_root=None):
        self.store, self.data_root = store, data_root
        self.threads: dict[int, threading.Thread] = {}
        self._mnist = {}  # MNIST in the cluster's object store, put there once per validation split

    @property
    def slots(self) -> int:
        """Runs handed to the cluster at once."""
        return settings.current().cluster.slots

    def busy(self) -> int:
        self.threads = {i: t for i, t in self.threads.items() if t.is_alive()}
        return len(self.threads)

    def tick(self) -> None:
        """Claim queued runs into the free slots and start each on the cluster."""
        connect(address())  # an unreachable cluster is one sentence in the supervisor's log, and nothing is claimed
        while self.busy() < self.slots:
            run_id = self.store.claim_next(os.getpid())
            if run_id is None:
                return
            thread = threading.Thread(target=self._run, args=(run_id,), name=f"digitlab-ray {run_id}", daemon=True)
            self.threads[run_id] = thread
            thread.start()

    def _run(self, run_id: int) -> None:
        try:
            execution.execute(self.store, run_id, self.data_root, trainer=self.train)
        except Exception:  # noqa: BLE001 - execute has recorded it on the run
            pass

    def train(self, config, mnist, callback, should_stop, **inputs):
        """train's signature, trained by a Ray task: its events come back to callback here, in order."""
        ray = connect(address())
        from ray.util.queue import Empty, Queue

        Flag, train_task = _remote(ray)
        held = len(mnist.val_x)
        if held not in self._mnist:
            self._mnist[held] = ray.put(mnist)
        events, flag = Queue(), Flag.remote()
        gpu = config.device == "cuda"
        task = train_task.options(num_cpus=0 if gpu else settings.current().cluster.cpus, num_gpus=1 if gpu else 0) \
            .remote(config.to_dict(), self._mnist[held], inputs, events, flag)
        stopping = False
        while True:
            try:
                callback(*events.get(timeout=POLL))
                continue
            except Empty:
                pass
            if not stopping and should_stop():  # a cancel, or the sweep's pruning, decided on this side
                flag.set.remote()
                stopping = True
            if ray.wait([task], timeout=0)[0] and events.empty():
                break
        try:
            return ray.get(task)
        finally:
            ray.kill(events.actor)
            ray.kill(flag)
