"""``python -m abysz_lab``: the command line."""

import sys

from abysz_lab.cli import main

sys.exit(main())
