"""The import-cycle check `make lint` runs: it finds cycles, and the code base has none."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_import_cycles.py"


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("check_import_cycles", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cycles_are_found_however_long() -> None:
    scc = _script().strongly_connected
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e2"}, "e2": {"e"}}
    assert sorted(scc(graph)) == [["a", "b", "c"], ["e", "e2"]]
    assert scc({"x": {"y"}, "y": set()}) == []
    long_chain = {f"m{i}": {f"m{i + 1}"} for i in range(5000)} | {"m5000": {"m0"}}
    assert len(scc(long_chain)[0]) == 5001  # no recursion limit


def test_the_code_base_has_no_import_cycles(capsys) -> None:  # type: ignore[no-untyped-def]
    assert _script().main() == 0, capsys.readouterr().out
