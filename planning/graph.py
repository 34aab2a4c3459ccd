"""Small graph helpers over string keys, shared by goal validation and decomposition."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def find_cycle(successors: Mapping[str, Iterable[str]]) -> list[str] | None:
    """Return one cycle as ``[a, b, ..., a]``, or None when the graph is acyclic.

    Iterative DFS so that deep chains (thousands of tasks) do not hit the
    recursion limit.
    """
    white, grey, black = 0, 1, 2
    colour = {node: white for node in successors}
    parent: dict[str, str] = {}
    for root in successors:
        if colour[root] != white:
            continue
        stack = [(root, iter(successors.get(root, ())))]
        colour[root] = grey
        while stack:
            node, children = stack[-1]
            advanced = False
            for child in children:
                state = colour.get(child, white)
                if state == grey:
                    cycle = [child, node]
                    while cycle[-1] != child:
                        cycle.append(parent[cycle[-1]])
                    cycle.reverse()
                    return cycle
                if state == white:
                    colour[child] = grey
                    parent[child] = node
                    stack.append((child, iter(successors.get(child, ()))))
                    advanced = True
                    break
            if not advanced:
                colour[node] = black
                stack.pop()
    return None


def topological_order(successors: Mapping[str, Iterable[str]]) -> list[str]:
    """Kahn's algorithm; raises ValueError naming a cycle if there is one."""
    indegree = {node: 0 for node in successors}
    for children in successors.values():
        for child in children:
            indegree[child] = indegree.get(child, 0) + 1
    ready = [node for node, degree in indegree.items() if degree == 0]
    order: list[str] = []
    while ready:
        node = ready.pop()
        order.append(node)
        for child in successors.get(node, ()):
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if len(order) != len(indegree):
        cycle = find_cycle(successors)
        raise ValueError("dependency cycle: " + " -> ".join(cycle or []))
    return order
