"""`python -m docingest.chunking`: the README's table of the registered strategies."""

import sys

from docingest.chunking.registry import markdown_table

sys.stdout.write(markdown_table() + "\n")
