"""`python -m training.corpus SRC... --out DIR`: the corpus command without the `diffill-train` wrapper."""

import sys

from training.corpus.cli import main

sys.exit(main())
