"""qdtui: the Textual app of qd."""
