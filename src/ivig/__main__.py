"""``python -m ivig``: the ``ivig`` command (:func:`ivig.cli.main`), with its exit code."""

import sys

from ivig.cli import main

if __name__ == "__main__":
    sys.exit(main())
