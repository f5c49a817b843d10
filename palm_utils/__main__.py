"""``python -m palm_utils COMMAND``: see :mod:`palm_utils.cli`."""
import sys

from .cli import main

sys.exit(main())
