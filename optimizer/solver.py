"""Thin wrapper around PuLP so the rest of the optimizer never sees solver details.

Uses only PuLP's non-deprecated API (variables created through the problem). Two solvers,
each where it does best:
- CBC (the binary shipped by cbcbox) for the linear relaxations whose duals
  `welfare_model` reads (their sign convention is CBC's), and for the preferred funding
  plan, whose large weights it settles in a second where HiGHS takes several;
- HiGHS (highspy, in-process) for max-welfare's mixed-integer programs (on the
  benchmark's rounds it proves the same optima several times faster than CBC,
  docs/benchmarks.md) and for "can this set be funded at all": CBC called plans of
  tight rounds infeasible that HiGHS finds and the exact check accepts, so a CBC
  "infeasible" is always asked again of HiGHS. HiGHS' `mip_rel_gap` and `mip_abs_gap`
  are 0 and the objective is integral, so "optimal" means proven to the unit.
Solver output goes nowhere: stdout belongs to the CLI's JSON.
"""

from __future__ import annotations

import math
import os
import sys

import cbcbox
import highspy
import pulp


def _quiet_banner() -> None:
    """HiGHS prints its banner on stdout (from C) the first time a solver object is made
    in a process, whatever its options; stdout belongs to the CLI's JSON. So make the
    first one here, at import (before any thread), with file descriptor 1 on /dev/null."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


_quiet_banner()

# Result.status values, best first. Anything but "optimal" means "not proven".
OPTIMAL = "optimal"
FEASIBLE = "feasible"  # a solution, but optimality not proven (e.g. time limit)
INFEASIBLE = "infeasible"
UNBOUNDED = "unbounded"
NOT_SOLVED = "not_solved"
_RANK = {OPTIMAL: 0, FEASIBLE: 1, NOT_SOLVED: 2, UNBOUNDED: 3, INFEASIBLE: 4}


class SolverError(RuntimeError):
    """The solver failed in a way that says nothing about the instance."""


def new_problem(name: str, maximize: bool) -> pulp.LpProblem:
    """An empty problem; variables must be added with prob.add_variable(...)."""
    return pulp.LpProblem(name, pulp.LpMaximize if maximize else pulp.LpMinimize)


def make_solver(
    time_limit: float | None = None, increment: int | None = None, mip: bool = True
) -> pulp.COIN_CMD:
    """CBC with a zero gap so 'optimal' really means proven optimal; silent.

    `increment`: every objective value is a multiple of it (integer coefficients on
    integer variables, divided by their gcd), so CBC may prune any node that cannot
    beat the incumbent by a whole increment. Without it CBC with gap 0 can spend minutes
    closing a gap of 0.4 that integrality already closes. CBC demands a new solution be
    better by at least the increment it is given (and then some tolerance), so it gets
    0.999 of it: a solution exactly one increment better is still found. `mip=False`
    solves the linear relaxation (for its duals).
    """
    options = [] if increment is None else [f"increment {increment * 0.999!r}"]
    return pulp.COIN_CMD(
        path=cbcbox.cbc_bin_path(),
        mip=mip,
        msg=False,
        gapRel=0,
        gapAbs=0,
        timeLimit=time_limit,
        options=options,
    )


def status_of(status: int, sol_status: int) -> str:
    """Map PuLP's (status, sol_status) pair to one honest word.

    PuLP reports a CBC run stopped by a limit with an incumbent as status Optimal but
    sol_status IntegerFeasible, so both must be looked at.
    """
    if status == pulp.LpStatusOptimal:
        if sol_status == pulp.LpSolutionOptimal:
            return OPTIMAL
        if sol_status == pulp.LpSolutionIntegerFeasible:
            return FEASIBLE
        return NOT_SOLVED
    if status == pulp.LpStatusInfeasible:
        return INFEASIBLE
    if status == pulp.LpStatusUnbounded:
        return UNBOUNDED
    return NOT_SOLVED


def make_mip_solver(time_limit: float | None = None) -> pulp.HiGHS:
    """HiGHS with zero gaps (proven optima only), silent, deterministic (HiGHS' MIP
    search does not depend on thread timing)."""
    return pulp.HiGHS(msg=False, gapRel=0, gapAbs=0, timeLimit=time_limit)


def solve(
    prob: pulp.LpProblem,
    time_limit: float | None = None,
    increment: int | None = None,
    mip: bool = True,
) -> str:
    """Solve in place with CBC and return one of OPTIMAL, FEASIBLE, INFEASIBLE, UNBOUNDED,
    NOT_SOLVED."""
    return _run(prob, make_solver(time_limit, increment, mip))


def solve_mip(prob: pulp.LpProblem, time_limit: float | None = None) -> str:
    """Solve a mixed-integer program in place with HiGHS; the same statuses as `solve`."""
    return _run(prob, make_mip_solver(time_limit))


def solve_relaxation(prob: pulp.LpProblem) -> str:
    """Solve the linear relaxation (integrality dropped) in place with HiGHS."""
    return _run(prob, pulp.HiGHS(msg=False, mip=False))


def _run(prob: pulp.LpProblem, engine: pulp.LpSolver) -> str:
    try:
        prob.solve(engine)
    except pulp.PulpSolverError as exc:  # the solver crashed or wrote no solution
        raise SolverError(str(exc)) from exc
    return status_of(prob.status, prob.sol_status)


def worst(*statuses: str) -> str:
    """The least reassuring of several statuses (used to summarise a sequence of solves)."""
    return max(statuses, key=lambda s: _RANK.get(s, len(_RANK)), default=OPTIMAL)


def int_value(var: pulp.LpVariable | pulp.LpAffineExpression) -> int:
    """Integer value of a solved variable or expression; refuses non-integral values."""
    value = pulp.value(var)
    if value is None:
        return 0  # a variable the solver never saw (no constraint, no objective term)
    rounded = round(value)
    if not math.isclose(value, rounded, rel_tol=0, abs_tol=0.01):
        raise SolverError(f"solver returned a non-integral value {value!r}")
    return int(rounded)
