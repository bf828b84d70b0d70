"""Max-welfare's explanations for projects it did not fund, in plain words."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from .constraints import SelectionRule, broken, closure, names, percent, quote
from .funding import fundable
from .greedy import no_eligible_source
from .matching import matching_note, unmatched
from .model import Explanation, Instance, MoneyFormat, Project

FORCED = "re-solved with the project forced in"


def lowers(
    instance: Instance,
    project: str,
    loss: int,
    total: int,
    binding: tuple[str, tuple[str, ...]] | None = None,
) -> Explanation:
    """Forcing `project` in costs `loss` support; `binding` says what binds then (only
    given on instances with selection constraints: without them it is the money)."""
    text = f"Funding it would lower total support by {loss} ({FORCED})."
    numbers = {"support_lost": loss, "total_support": total}
    related: tuple[str, ...] = ()
    if binding is not None and binding[0]:
        words, related = binding
        text += f" What binds then: {words}."
        numbers["dropped"] = len([p for p in related if p != project])
    return Explanation(project, False, "not_optimal", text, numbers, related)


def _rule_clause(rule: SelectionRule, dropped: list[str], kept: Collection[str]) -> str:
    verb_s = "" if len(dropped) > 1 else "s"
    be = "are" if len(dropped) > 1 else "is"
    if rule.kind == "incompatible":
        others = [p for p in rule.related if p in kept and p not in dropped]
        return f"{names(dropped)} {be} incompatible with {names(others)}"
    if rule.kind == "dependency":
        return f"{names(dropped)} need{verb_s} {names(rule.related)}, which would drop out"
    over = "over its maximum" if rule.kind == "area_max" else "below its minimum"
    return (
        f"{names(dropped)} would take area {quote(rule.subject)} {over} share of "
        f"{percent(rule.bps)}"
    )


def binding(
    instance: Instance,
    scores: Mapping[str, int],
    best: frozenset[str],
    forced: frozenset[str],
    project: str,
) -> tuple[str, tuple[str, ...]]:
    """What binds in the best selection `forced` that contains `project`: why each
    supported project of the chosen selection `best` that it drops cannot come back
    (a selection rule it would break, else the money, since the forced selection is
    optimal), and which prerequisites come in with it. Words and the projects named."""
    dropped = sorted(p for p in best - forced if scores[p] > 0)
    clauses: dict[str, tuple[SelectionRule | None, list[str]]] = {}
    for d in dropped:
        rules = broken(instance, forced | {d})
        for rule in rules or [None]:
            key = "money" if rule is None else rule.name
            clauses.setdefault(key, (rule, []))[1].append(d)
    parts = []
    prerequisites = sorted((closure(instance, project) - {project}) - best)
    if prerequisites:
        parts.append(f"it needs {names(prerequisites)}, which would be funded too")
    for rule, ds in clauses.values():
        if rule is None:
            fit = "fit" if len(ds) > 1 else "fits"
            parts.append(f"{names(ds)} no longer {fit} in the money")
        else:
            parts.append(_rule_clause(rule, ds, forced))
    return "; ".join(parts), tuple(dropped + prerequisites)


def impossible(instance: Instance, project: Project, money: MoneyFormat) -> Explanation:
    """No selection meeting every rule contains `project`: say which rule stops it."""
    needed = closure(instance, project.id)
    others = sorted(needed - {project.id})
    rules = broken(instance, needed)
    if rules:
        clause = "; ".join(_rule_clause(r, [project.id], needed) for r in rules)
        what = f"with what it needs ({names(others)}): {clause}" if others else clause
    elif others and not fundable(instance, needed):
        what = f"it and what it needs ({names(others)}) cannot be paid for together"
    else:
        what = "no selection with it meets every area's share of the money"
    text = f"No selection that meets every rule can contain it: {what}."
    numbers = {"cost": project.cost}
    return Explanation(project.id, False, "infeasible", text, numbers, tuple(others))


def needs_impossible(project: Project, missing: tuple[str, ...]) -> Explanation:
    """`project` depends on projects that can never be selected."""
    text = f"Funded only together with {names(missing)}, which cannot be funded."
    return Explanation(project.id, False, "dependency", text, {"cost": project.cost}, missing)


def not_analysed(project: str, total: int, analysed: int) -> Explanation:
    """Beyond the re-solve budget."""
    text = (
        f"Not funded: the chosen set has the highest total support ({total}). Only the "
        f"{analysed} unfunded projects with the most support are {FORCED}; "
        "this one was not analysed."
    )
    numbers = {"total_support": total, "analysed": analysed}
    return Explanation(project, False, "not_analysed", text, numbers)


def not_solved(project: str, status: str) -> Explanation:
    """The forced re-solve did not finish (a time limit)."""
    text = f"The re-solve with the project forced in stopped early ({status}); not analysed."
    return Explanation(project, False, "not_solved", text, {})


def unfundable(project: Project, got: int, instance: Instance, money: MoneyFormat) -> Explanation:
    """Even alone, the eligible sources cannot pay for it."""
    if not any(s.limit(project) > 0 for s in instance.sources):
        return no_eligible_source(project.id, project.cost, money)
    text = (
        f"Needed {money(project.cost)}; even on its own at most {money(got)} "
        "could be raised from eligible sources."
    )
    numbers = {"cost": project.cost, "raisable": got}
    without = unmatched(instance, (), project, got)
    if without is not None:
        text += " " + matching_note(instance, project, without, money)
        numbers["raisable_without_matching"] = without
    return Explanation(project.id, False, "insufficient_funds", text, numbers)


def tied(
    project: Project, score: int, total: int, top: int, cost_with: int, money: MoneyFormat
) -> Explanation:
    """A best-support selection contains it, but the tie-break chose another."""
    numbers = {"support": score, "total_support": total, "cost": project.cost}
    if 0 <= cost_with < top:
        numbers |= {"chosen_cost": top, "cost_with": cost_with}
        text = (
            f"A set with it can also reach total support {total}, but the chosen set "
            f"spends more ({money(top)} against at most {money(cost_with)}); "
            "ties go to the larger total cost."
        )
        return Explanation(project.id, False, "tie_cost", text, numbers)
    text = (
        f"A set with it ties the chosen set on total support ({total}) and total cost; "
        "such ties go to the set with the smaller project ids."
    )
    return Explanation(project.id, False, "tie_order", text, numbers)
