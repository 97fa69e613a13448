"""Developer tools (screenshots); not part of the running app."""
