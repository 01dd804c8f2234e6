"""The run store's tables, and what an older digitlab's store gets added: the schema and its migrations, in one place."""

EPOCH_COLS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc", "seconds", "lr")
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    config TEXT NOT NULL,              -- TrainConfig as JSON
    status TEXT NOT NULL,
    created REAL NOT NULL, started REAL, finished REAL,
    error TEXT, device TEXT, pid INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    epoch INTEGER NOT NULL DEFAULT 0, step INTEGER NOT NULL DEFAULT 0, steps_per_epoch INTEGER,
    best_epoch INTEGER, best_val_acc REAL, test_acc REAL, train_seconds REAL, num_params INTEGER,
    checkpoint TEXT,
    owner TEXT NOT NULL DEFAULT '',    -- who launched it ('' on a single-user machine)
    delete_requested INTEGER NOT NULL DEFAULT 0,  -- deleted while running: removed once its worker lets go
    batch INTEGER,                     -- runs queued together (a comparison): the id of the first; NULL alone
    sweep INTEGER, trial INTEGER,      -- a sweep's trial: the sweep's id and Optuna's trial number
    health TEXT,                       -- JSON {flag, reason, hint} of a run that diverged or did not learn; NULL: fine
    resumed INTEGER NOT NULL DEFAULT 0 -- times it went on from its last epoch after its worker stopped
);
CREATE TABLE IF NOT EXISTS epochs (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL, train_loss REAL, train_acc REAL, val_loss REAL, val_acc REAL,
    test_loss REAL, test_acc REAL, seconds REAL, lr REAL,
    PRIMARY KEY (run_id, epoch)
);
CREATE TABLE IF NOT EXISTS options (key TEXT PRIMARY KEY, value TEXT NOT NULL);  -- switches a teacher sets
CREATE TABLE IF NOT EXISTS digits (                    -- My digits: drawings people saved with their labels
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL DEFAULT '',
    label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    created REAL NOT NULL,
    drawing BLOB NOT NULL,             -- the PNG the pad sent (an imported 28x28 when the zip had no drawing)
    seen BLOB NOT NULL                 -- the 28x28 uint8 image the model saw, row by row
);
CREATE TABLE IF NOT EXISTS pins (                      -- drawings a run scores as it trains ("watch it learn")
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    slot INTEGER NOT NULL, label INTEGER, image BLOB NOT NULL,  -- image: the 28x28 uint8 the model reads
    PRIMARY KEY (run_id, slot)
);
CREATE TABLE IF NOT EXISTS pin_scores (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL, epoch INTEGER NOT NULL, probs TEXT NOT NULL,  -- JSON: each pin's ten probabilities
    PRIMARY KEY (run_id, step)
);
CREATE TABLE IF NOT EXISTS sweeps (                    -- hyperparameter searches; their trials are runs
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL, spec TEXT NOT NULL,                -- sweep.Plan as JSON
    owner TEXT NOT NULL DEFAULT '', created REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'running'                 -- running, done or cancelled
);
CREATE TABLE IF NOT EXISTS lesson_answers (            -- Lessons: each person's last answer to each question
    owner TEXT NOT NULL, lesson TEXT NOT NULL, question TEXT NOT NULL,
    answer TEXT NOT NULL, correct INTEGER NOT NULL, tries INTEGER NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (owner, lesson, question)
);
CREATE TABLE IF NOT EXISTS sign_ins (                  -- class mode: sign-in attempts, counted before the check
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL, client TEXT NOT NULL, at REAL NOT NULL,
    ok INTEGER NOT NULL DEFAULT 0                      -- 0: failed (or still being checked), 1: signed in
);
CREATE INDEX IF NOT EXISTS sign_ins_by_name ON sign_ins (name, at);
CREATE INDEX IF NOT EXISTS sign_ins_by_client ON sign_ins (client, at);
CREATE TABLE IF NOT EXISTS steps (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL, epoch INTEGER NOT NULL, loss REAL,
    PRIMARY KEY (run_id, step)
);
"""
ADDED_COLUMNS = {"owner": "TEXT NOT NULL DEFAULT ''", "delete_requested": "INTEGER NOT NULL DEFAULT 0",
                 "batch": "INTEGER", "sweep": "INTEGER", "trial": "INTEGER", "health": "TEXT",
                 "resumed": "INTEGER NOT NULL DEFAULT 0"}


def migrate(db) -> None:
    """Bring a store of any earlier digitlab up to this schema: the tables it lacks, then the columns."""
    db.executescript(SCHEMA)
    have = {row["name"] for row in db.execute("PRAGMA table_info(runs)")}
    for column, kind in ADDED_COLUMNS.items():
        if column not in have:
            db.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")
