"""Fail when any two modules of `warden` import each other, directly or through others.

Run by `make lint`. Counts every import grimp sees, the lazy ones inside functions included (only
`if TYPE_CHECKING:` blocks are left out), so a cycle cannot hide in a function body. Prints each
cycle's modules and the imports that close it. With `--packages` it also lists the cycles between
top-level packages (layering debt, reported but not failed; see docs/architecture.md).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import grimp


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (the module graph is deep enough to overflow recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work: list[tuple[str, Iterable[str]]] = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def main(argv: list[str]) -> int:
    graph = grimp.build_graph("warden", exclude_type_checking_imports=True)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    cycles = strongly_connected(edges)
    for component in cycles:
        members = set(component)
        print(f"import cycle between {len(component)} modules:")
        for module in component:
            for target in sorted(edges[module] & members):
                print(f"  {module} -> {target}")
    if "--packages" in argv:
        top = {m: ".".join(m.split(".")[:2]) for m in graph.modules}
        packages: dict[str, set[str]] = {}
        for module, targets in edges.items():
            packages.setdefault(top[module], set()).update(top[t] for t in targets if top[t] != top[module])
        for component in strongly_connected(packages):
            print(f"(layering debt) packages in a cycle: {', '.join(component)}")
    if cycles:
        print(f"{len(cycles)} import cycle(s) between modules", file=sys.stderr)
        return 1
    print("no import cycles between modules")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
