"""The Qt-free core of the desktop app: API client, retry policy, links, history, intake, jobs.

Nothing here imports Qt, so the CLI and the tests use it without a display.
"""
