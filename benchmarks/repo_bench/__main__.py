"""``python -m benchmarks.repo_bench``: the ``build`` and ``score`` commands (see ``cli``)."""

import sys

from benchmarks.repo_bench.cli import main

sys.exit(main())
