"""Fail when modules of `warden` import each other in a cycle, directly or through others, or when
top-level packages do (`warden.media` -> `warden.banks` -> `warden.media`).

Run by `make lint`. Counts every import grimp sees, the lazy ones inside functions included (only
`if TYPE_CHECKING:` blocks are left out), so a cycle cannot hide in a function body. Prints each
cycle and the imports that close it.
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


def main() -> int:
    graph = grimp.build_graph("warden", exclude_type_checking_imports=True)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    cycles = strongly_connected(edges)
    for component in cycles:
        members = set(component)
        print(f"import cycle between {len(component)} modules:")
        for module in component:
            for target in sorted(edges[module] & members):
                print(f"  {module} -> {target}")
    top = {m: ".".join(m.split(".")[:2]) for m in graph.modules}
    packages: dict[str, set[str]] = {}
    for module, targets in edges.items():
        packages.setdefault(top[module], set()).update(top[t] for t in targets if top[t] != top[module])
    package_cycles = strongly_connected(packages)
    for component in package_cycles:
        members = set(component)
        print(f"import cycle between {len(component)} top-level packages:")
        for module, targets in sorted(edges.items()):
            for target in sorted(targets):
                if top[module] != top[target] and {top[module], top[target]} <= members:
                    print(f"  {module} -> {target}")
    if cycles or package_cycles:
        print(
            f"import cycles: {len(cycles)} between modules, {len(package_cycles)} between packages",
            file=sys.stderr,
        )
        return 1
    print("no import cycles between modules or top-level packages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
