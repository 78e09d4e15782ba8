"""Entry point for ``python -m musictag_core``."""

import sys

from .cli import main

sys.exit(main())
