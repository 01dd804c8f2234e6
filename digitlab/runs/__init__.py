"""Runs as records and work: admission to the queue, what a run takes, sweeps, live views and tables, the store, the
runner."""
