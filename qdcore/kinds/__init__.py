"""The built-in run kinds, one module each: a RunKind registered with qdcore.runs.kinds (which loads them by name)."""
