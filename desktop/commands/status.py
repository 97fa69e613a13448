"""Exit statuses of the `picdrop` command, and their description for `--help` and the README."""

EXIT_OK = 0
EXIT_FAILED = 1  # some files failed (the links of the others were printed); a delete refused
EXIT_USAGE = 2  # bad arguments: unknown option, missing file, unknown ID (argparse uses 2 too)
EXIT_UNREACHABLE = 3  # no server answered, or none is configured and picdrop is not running
EXIT_CANCELLED = 4  # the user cancelled the capture (Esc, or Cancel in the editor)
EXIT_INTERRUPTED = 130  # Ctrl+C
EXIT_CLOSED_PIPE = 141  # the reader of stdout went away (`| head`): the SIGPIPE status

EXIT_HELP = """\
exit status:
  0    every file uploaded (or the command did what it was asked)
  1    some files failed; the links of the others were printed
  2    bad arguments: unknown option, missing file, unknown ID
  3    server unreachable, or no server configured and picdrop not running
  4    the capture was cancelled
  130  interrupted (Ctrl+C)
  141  the output's reader went away (e.g. `| head`), as for any Unix tool"""


class UsageError(Exception):
    """Bad arguments: the message is printed and the command exits with EXIT_USAGE."""
