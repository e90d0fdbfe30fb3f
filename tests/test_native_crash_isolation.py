"""A native crash (here a real SIGSEGV through ctypes) fails the one test that crashed and the rest
of the run still reports: the suite's pytest configuration runs tests in an xdist worker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import REPO

CRASHING_MODULE = '''
import ctypes

def test_before():
    assert True

def test_segfaults():
    ctypes.string_at(0)  # reads address 0: SIGSEGV inside C code, as a llama.cpp crash would be

def test_after():
    assert True
'''


def test_a_segfault_fails_one_test_and_the_run_goes_on(tmp_path: Path) -> None:
    module = tmp_path / "test_crashing.py"
    module.write_text(CRASHING_MODULE)
    # The repository's own pytest configuration (pyproject.toml addopts), not flags of this test.
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(REPO / "pyproject.toml"), "--rootdir", str(tmp_path),
         "-p", "no:cacheprovider", "-q", str(module)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode == 1, out  # tests failed, not an interpreter crash (-11) or usage error
    assert "1 failed, 2 passed" in out, out
    assert "crashed while running 'test_crashing.py::test_segfaults'" in out, out
