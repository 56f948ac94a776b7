"""``python -m benchmarks.engine``: time and score the engine's decoding settings (see ``run``)."""

import sys

from benchmarks.engine.run import main

sys.exit(main())
