"""``python -m modeling.cli`` (and ``accelerate launch -m modeling.cli``) is the ``imagenet3d`` command."""

import sys

from modeling.cli import main

sys.exit(main())
