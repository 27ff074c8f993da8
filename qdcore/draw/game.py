"""The Quick, Draw! game: six categories from the model's classes, 20 seconds each, won the moment the model's top guess is right."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

ROUNDS = 6
SECONDS = 20.0

Guesses = list[tuple[str, float]]  # (class, probability), most probable first


@dataclass
class RoundResult:
    """One drawing of a game: what was asked, what was drawn, what the model said and when it knew."""

    index: int
    word: str
    strokes: list  # Google's raw [[x...], [y...], [t...]] per stroke
    guesses: Guesses  # the model's top 5 when the round ended
    recognized: bool
    recognized_ms: float | None  # from the round's start to the first right top guess
    ms: float  # how long the round lasted
    drawing_id: int | None = None  # its row in the store, once saved
    knew_ink: float | None = None  # share of ink after the stroke from which the model was right and stayed right
    knew_time: float | None = None  # the same in drawing time (qdcore.analysis.progressive.moment)

    @property
    def seconds(self) -> float | None:
        """Time to recognition in seconds (None if never recognised)."""
        return None if self.recognized_ms is None else self.recognized_ms / 1000.0


@dataclass
class Game:
    """State machine: ready -> drawing -> (recognised | out of time) -> ready ... -> over after the last round."""

    classes: list[str]
    rounds: int = ROUNDS
    seconds: float = SECONDS
    seed: int | None = None
    words: list[str] = field(default_factory=list)
    results: list[RoundResult] = field(default_factory=list)
    state: str = "ready"  # ready | drawing | over
    started_at: float = 0.0
    recognized_at: float | None = None

    def __post_init__(self) -> None:
        if not self.classes:
            raise ValueError("a game needs a model with at least one class")
        if not self.words:
            rng = random.Random(self.seed)
            pool = list(self.classes)
            rng.shuffle(pool)
            # More rounds than classes: deal the shuffled classes again.
            while len(pool) < self.rounds:
                more = list(self.classes)
                rng.shuffle(more)
                pool += more
            self.words = pool[:self.rounds]

    @property
    def index(self) -> int:
        """The round being played or next to play (0-based)."""
        return len(self.results)

    @property
    def word(self) -> str | None:
        """The category asked for in the current round (None once the game is over)."""
        return self.words[self.index] if self.index < self.rounds else None

    @property
    def over(self) -> bool:
        """All rounds played."""
        return self.state == "over"

    def begin(self, now: float) -> str:
        """Start the next round's clock; returns the category to draw."""
        if self.state != "ready" or self.word is None:
            raise RuntimeError(f"cannot begin a round in state {self.state!r}")
        self.state, self.started_at, self.recognized_at = "drawing", now, None
        return self.word

    def remaining(self, now: float) -> float:
        """Seconds left on the clock of the round being drawn."""
        if self.state != "drawing":
            return 0.0
        return max(0.0, self.seconds - (now - self.started_at))

    def observe(self, guesses: Guesses, now: float) -> bool:
        """The model's latest guesses; True the first time its top guess is the asked category."""
        if self.state != "drawing" or not guesses or self.recognized_at is not None:
            return False
        if guesses[0][0] == self.word:
            self.recognized_at = now
            return True
        return False

    def out_of_time(self, now: float) -> bool:
        """True when the round being drawn has used up its seconds."""
        return self.state == "drawing" and now - self.started_at >= self.seconds

    def end(self, strokes: list, guesses: Guesses, now: float) -> RoundResult:
        """Close the round (recognised, out of time, or given up) and record it."""
        if self.state != "drawing":
            raise RuntimeError(f"cannot end a round in state {self.state!r}")
        rec_ms = None if self.recognized_at is None else (self.recognized_at - self.started_at) * 1000.0
        ms = min(now - self.started_at, self.seconds) * 1000.0
        result = RoundResult(self.index, str(self.word), strokes, list(guesses), rec_ms is not None, rec_ms, ms)
        self.results.append(result)
        self.state = "over" if len(self.results) >= self.rounds else "ready"
        return result

    def message(self, guesses: Guesses) -> str:
        """What the model says, in the original game's words."""
        if self.recognized_at is not None:
            return f"Oh, I know, it's {article(self.word or '')}!"
        if not guesses:
            return "I'm waiting for you to draw…"
        names = [g[0] for g in guesses[:2]]
        return f"I see {article(names[0])}" + (f", or {article(names[1])}…" if len(names) > 1 else "…")


# Categories that are plural nouns take no article ("draw scissors").
PLURALS = {"scissors", "pants", "shorts", "binoculars", "eyeglasses", "headphones", "flip flops", "stairs"}


def article(word: str) -> str:
    """'a cat', 'an apple', 'scissors'."""
    if word.lower() in PLURALS:
        return word
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"
