"""Widgets: they show state and emit intent; they never do network or disk I/O themselves."""
