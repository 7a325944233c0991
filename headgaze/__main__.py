"""`python -m headgaze …`: the same as the `headgaze` command (headgaze/cli.py)."""

import sys

from headgaze.cli import main

sys.exit(main())
