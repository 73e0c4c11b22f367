"""Run the operator CLI as ``python -m trove_core.tools.cli``."""

import sys

from trove_core.tools.cli import main

sys.exit(main())
