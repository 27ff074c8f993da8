"""The store's schema as an ordered list of migrations; `PRAGMA user_version` = how many ran."""

from __future__ import annotations

# Each migration is a list of single statements (executescript would commit mid-migration).
# Never edit a released migration: append a new one.
MIGRATIONS: list[list[str]] = [
    # v1: runs, metrics, quiz sessions and answers.
    [
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: runs/<id>/ folders are named by it
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            status TEXT NOT NULL,
            config TEXT NOT NULL DEFAULT '{}',
            fingerprint TEXT NOT NULL DEFAULT '',
            device TEXT NOT NULL DEFAULT '',
            started REAL NOT NULL,
            ended REAL,
            summary TEXT NOT NULL DEFAULT '{}',
            pid INTEGER,
            host TEXT,
            heartbeat REAL,
            parent INTEGER REFERENCES runs(id) ON DELETE SET NULL
        )""",
        "CREATE INDEX runs_status ON runs(status)",
        "CREATE INDEX runs_kind ON runs(kind, id)",
        """CREATE TABLE metrics (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            step INTEGER NOT NULL,
            epoch INTEGER NOT NULL,
            split TEXT NOT NULL,
            name TEXT NOT NULL,
            value REAL,  -- NULL stands for NaN (SQLite cannot store NaN)
            t REAL NOT NULL
        )""",
        "CREATE INDEX metrics_run ON metrics(run_id, id)",
        # history() reads epoch rows only; step rows can be 100x more numerous.
        "CREATE INDEX metrics_epochs ON metrics(run_id, id) WHERE split != 'step'",
        """CREATE TABLE quiz_sessions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            participant TEXT NOT NULL,
            config TEXT NOT NULL DEFAULT '{}',
            run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
            started REAL NOT NULL,
            ended REAL
        )""",
        "CREATE INDEX quiz_sessions_participant ON quiz_sessions(participant)",
        """CREATE TABLE quiz_answers (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session INTEGER NOT NULL REFERENCES quiz_sessions(id) ON DELETE CASCADE,
            participant TEXT NOT NULL,
            item INTEGER,
            drawing TEXT NOT NULL,
            truth TEXT NOT NULL,
            answer TEXT,
            choices TEXT NOT NULL DEFAULT '[]',
            ms REAL NOT NULL DEFAULT 0,
            skipped INTEGER NOT NULL DEFAULT 0,
            t REAL NOT NULL
        )""",
        "CREATE INDEX quiz_answers_session ON quiz_answers(session, id)",
        "CREATE INDEX quiz_answers_participant ON quiz_answers(participant)",
        "CREATE INDEX quiz_answers_drawing ON quiz_answers(drawing)",
    ],
    # v2: array artifacts (sample grids, ...) kept as files under runs/<id>/, polled by readers.
    [
        """CREATE TABLE artifacts (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            step INTEGER NOT NULL,
            epoch INTEGER NOT NULL,
            name TEXT NOT NULL,
            path TEXT NOT NULL,  -- relative to runs/<id>/
            t REAL NOT NULL
        )""",
        "CREATE INDEX artifacts_run ON artifacts(run_id, id)",
    ],
    # v3: drawings people made on the draw screen (strokes as Google's raw ndjson, the model's guesses).
    [
        """CREATE TABLE drawings (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            participant TEXT NOT NULL,
            word TEXT NOT NULL,  -- the category asked for
            run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,  -- the model that guessed
            game TEXT,  -- drawings of one game share it
            round INTEGER,
            strokes TEXT NOT NULL,  -- [[[x...], [y...], [t ms...]], ...]
            guesses TEXT NOT NULL DEFAULT '[]',  -- the model's top 5 at the end: [[class, prob], ...]
            recognized INTEGER NOT NULL DEFAULT 0,
            recognized_ms REAL,  -- from the start to the model's first right top guess
            ms REAL NOT NULL DEFAULT 0,  -- time spent drawing
            t REAL NOT NULL
        )""",
        "CREATE INDEX drawings_word ON drawings(word)",
        "CREATE INDEX drawings_run ON drawings(run_id, id)",
    ],
    # v4: the trials of a study (a parent run); workers claim them one at a time.
    [
        """CREATE TABLE study_trials (
            study INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            params TEXT NOT NULL DEFAULT '{}',  -- the trial's axis values (its row in the study's table)
            config TEXT NOT NULL DEFAULT '{}',  -- the full run config
            status TEXT NOT NULL DEFAULT 'queued',  -- queued | running | done | failed
            run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
            pid INTEGER,
            host TEXT,
            error TEXT,
            started REAL,
            ended REAL,
            PRIMARY KEY (study, idx)
        )""",
        "CREATE INDEX study_trials_status ON study_trials(study, status, idx)",
    ],
    # v5: when the model knew a drawing: the share of its ink (and of its time) after the stroke from which the
    # top guess was right and stayed right (qdcore.analysis.progressive); NULL: never, or not replayed.
    [
        "ALTER TABLE drawings ADD COLUMN knew_ink REAL",
        "ALTER TABLE drawings ADD COLUMN knew_time REAL",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)
