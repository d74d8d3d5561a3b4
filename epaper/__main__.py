"""python -m epaper: the `epaper` command."""
import sys

from epaper.cli import main

sys.exit(main())
