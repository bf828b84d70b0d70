"""One entry point for every rule, so the web app and the CLI never branch on rule names."""

from __future__ import annotations

from .greedy import greedy
from .max_welfare import max_welfare
from .model import Instance, MoneyFormat, Profile, Result, format_cents

# Rule names in the order the app offers them; equal-shares will be added here.
RULES = ("greedy", "max-welfare")


def allocate(
    instance: Instance,
    profile: Profile,
    rule: str,
    *,
    money: MoneyFormat = format_cents,
    time_limit: float | None = None,
) -> Result:
    """Run `rule` ("greedy" | "max-welfare"); ValueError for an unknown rule.

    `time_limit` (seconds per solver call) only applies to rules that use a solver.
    """
    if rule == "greedy":
        return greedy(instance, profile, money=money)
    if rule == "max-welfare":
        return max_welfare(instance, profile, money=money, time_limit=time_limit)
    raise ValueError(f"unknown rule {rule!r}; expected one of {', '.join(RULES)}")
