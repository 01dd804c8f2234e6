"""Running stored runs: `execution` trains one (the one code path of a run), `workers` drain the queue in local
processes, `cluster` hands it to a Ray cluster, and the `supervisor` keeps it moving with one of those executors.
How a run gets into the queue at all is `digitlab.runs.admission`'s."""
