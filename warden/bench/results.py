"""Where benchmark figures are written (its own module so every area can read it)."""

from pathlib import Path

RESULTS_DIR = Path("bench/results")
