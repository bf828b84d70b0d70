"""Checks on "only with" links and incompatible groups, on plain project ids (no
database): chains of dependencies, cycles, and projects that could never be funded."""

from __future__ import annotations


def requires(pairs: list[tuple[int, int]]) -> dict[int, set[int]]:
    """Each dependent project's prerequisites, from (b, a) pairs "b only with a"."""
    needs: dict[int, set[int]] = {}
    for b, a in pairs:
        needs.setdefault(b, set()).add(a)
    return needs


def path(needs: dict[int, set[int]], start: int, goal: int) -> list[int] | None:
    """A chain start -> ... -> goal along "only with" links, or None."""
    trail: dict[int, int | None] = {start: None}
    todo = [start]
    while todo:
        here = todo.pop()
        if here == goal:
            chain = [here]
            while trail[chain[-1]] is not None:
                chain.append(trail[chain[-1]])  # type: ignore[arg-type]
            return chain[::-1]
        for nxt in sorted(needs.get(here, ())):
            if nxt not in trail:
                trail[nxt] = here
                todo.append(nxt)
    return None


def closure(needs: dict[int, set[int]], project_id: int) -> set[int]:
    """The project and everything it needs, directly or through other projects."""
    found, todo = {project_id}, [project_id]
    while todo:
        for a in needs.get(todo.pop(), ()):
            if a not in found:
                found.add(a)
                todo.append(a)
    return found


def never_fundable(
    pairs: list[tuple[int, int]], groups: list[set[int]], titles: dict[int, str]
) -> str | None:
    """A project that needs (directly or not) two projects of one incompatible group, or
    one it is incompatible with, could never be funded: say which."""
    needs = requires(pairs)
    for project_id in sorted(needs):
        needed = closure(needs, project_id)
        for group in groups:
            clash = needed & group
            if len(clash) < 2:
                continue
            others = sorted(clash - {project_id}, key=lambda p: titles[p])
            name = f"“{titles[project_id]}”"
            if project_id in clash:
                return (
                    f"{name} needs {names(others, titles)}, which is incompatible with it: "
                    f"{name} could never be funded."
                )
            return (
                f"{name} needs {names(others, titles)}, which are incompatible with each "
                f"other: {name} could never be funded."
            )
    return None


def names(ids: list[int], titles: dict[int, str]) -> str:
    """“A”, “B” and “C” by title."""
    quoted = [f"“{titles[i]}”" for i in ids]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
