"""One entry point for every rule, so the web app and the CLI never branch on rule names."""

from __future__ import annotations

from .equal_shares import COMPLETIONS, DEFAULT_COMPLETION, equal_shares
from .greedy import greedy
from .max_welfare import max_welfare
from .model import Instance, MoneyFormat, Profile, Result, format_cents

# Rule names in the order the app offers them.
RULES = ("greedy", "equal-shares", "max-welfare")


def allocate(
    instance: Instance,
    profile: Profile,
    rule: str,
    *,
    money: MoneyFormat = format_cents,
    time_limit: float | None = None,
    completion: str | None = None,
) -> Result:
    """Run `rule` (one of RULES); ValueError for an unknown rule or completion.

    `time_limit` (seconds per solver call) only applies to rules that use a solver;
    `completion` (one of COMPLETIONS, default "add1") only to "equal-shares".
    """
    if rule == "greedy":
        return greedy(instance, profile, money=money)
    if rule == "equal-shares":
        chosen = DEFAULT_COMPLETION if completion is None else completion
        if chosen not in COMPLETIONS:
            raise ValueError(
                f"unknown completion {chosen!r}; expected one of {', '.join(COMPLETIONS)}"
            )
        return equal_shares(instance, profile, completion=chosen, money=money)
    if rule == "max-welfare":
        return max_welfare(instance, profile, money=money, time_limit=time_limit)
    raise ValueError(f"unknown rule {rule!r}; expected one of {', '.join(RULES)}")
