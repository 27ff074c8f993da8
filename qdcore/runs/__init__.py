"""Kinds of runs and running them: the registry (kinds), declared options, the runner and the launcher."""
