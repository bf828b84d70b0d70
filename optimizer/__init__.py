"""Choosing which projects to fund and with which money.

Pure domain code: frozen dataclasses in, dataclasses out, money in integer cents. No web
framework, no database; the app and the CLI call `allocate` and read the `Result`.
"""

from .canonical import canonical_input, fingerprint, read_input
from .constraints import check_selection
from .equal_shares import COMPLETIONS, equal_shares
from .funding import (
    LinearRule,
    cap_constraints,
    check_plan,
    full_cost_constraints,
    fund,
    match_constraints,
    source_amount_constraints,
)
from .greedy import greedy
from .matching import feasible, raisable
from .max_welfare import max_welfare
from .model import (
    BPS,
    Allocation,
    AreaShare,
    Ballot,
    Explanation,
    Instance,
    MoneyFormat,
    Profile,
    Project,
    Result,
    Source,
    format_cents,
    support,
)
from .pabulib import Election, PabulibError, read_pabulib
from .rules import RULES, allocate
from .solver import SolverError

__all__ = [
    "BPS",
    "COMPLETIONS",
    "RULES",
    "Allocation",
    "AreaShare",
    "Ballot",
    "Election",
    "Explanation",
    "Instance",
    "LinearRule",
    "MoneyFormat",
    "PabulibError",
    "Profile",
    "Project",
    "Result",
    "SolverError",
    "Source",
    "allocate",
    "cap_constraints",
    "check_plan",
    "canonical_input",
    "check_selection",
    "equal_shares",
    "feasible",
    "fingerprint",
    "format_cents",
    "full_cost_constraints",
    "fund",
    "greedy",
    "match_constraints",
    "max_welfare",
    "raisable",
    "read_input",
    "read_pabulib",
    "source_amount_constraints",
    "support",
]
