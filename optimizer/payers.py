"""Which money paid for each funded project, added to its explanation by every rule."""

from __future__ import annotations

from collections.abc import Iterable

from .model import Allocation, Explanation, Instance, MoneyFormat


def with_payers(
    instance: Instance,
    explanations: Iterable[Explanation],
    plan: Iterable[Allocation],
    money: MoneyFormat,
) -> list[Explanation]:
    """Each funded project's explanation with the sources that pay for it, largest first
    (ties: name), in words and as numbers "from:<source id>" (cents)."""
    paid: dict[str, list[Allocation]] = {}
    for line in plan:
        if line.cents > 0:
            paid.setdefault(line.project, []).append(line)
    names = {s.id: s.name for s in instance.sources}
    out = []
    for e in explanations:
        lines = paid.get(e.project, [])
        if not e.funded or not lines:
            out.append(e)
            continue
        by_name: dict[str, int] = {}  # sources sharing a label are said once, summed
        for a in lines:
            by_name[names[a.source]] = by_name.get(names[a.source], 0) + a.cents
        ordered = sorted(by_name.items(), key=lambda item: (-item[1], item[0]))
        parts = [f"{name} ({money(cents)})" for name, cents in ordered]
        words = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        numbers = dict(e.numbers) | {f"from:{a.source}": a.cents for a in lines}
        out.append(
            Explanation(e.project, True, e.code, f"{e.text} Paid from {words}.", numbers, e.related)
        )
    return out
