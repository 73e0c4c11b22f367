"""Run the operator CLI as ``python -m trove_core.cli``."""

import sys

from trove_core.cli import main

sys.exit(main())
