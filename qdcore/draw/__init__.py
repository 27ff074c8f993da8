"""Drawing in qd: strokes recorded as Google keeps them, live guesses, the 20-second game, drawings as data."""
