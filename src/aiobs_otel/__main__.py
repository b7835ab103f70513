"""``python -m aiobs_otel`` is the ``aiobs-otel`` command."""

import sys

from .cli.main import main

sys.exit(main())
