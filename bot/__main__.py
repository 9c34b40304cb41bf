"""`python -m bot` is `dozor`."""

import sys

from bot.cli import main

sys.exit(main())
