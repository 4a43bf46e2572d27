"""``python -m defectlab.cli``: the same as the ``defectlab`` command."""

import sys

from . import main

sys.exit(main())
