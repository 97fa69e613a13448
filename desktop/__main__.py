"""`python -m desktop`: the picdrop window."""

import sys

from desktop.cli import main

sys.exit(main())
