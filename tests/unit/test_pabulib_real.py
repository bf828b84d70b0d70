"""The rules on real elections from Pabulib, read from ../shared/pabulib when it exists.

Those files are not part of the repository (a fresh clone will not have them), so every
test here skips with the reason when the folder is absent.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from optimizer import Election, Instance, allocate, check_plan, read_pabulib, support

PABULIB = Path(__file__).resolve().parents[3] / "shared" / "pabulib"


def election(name: str) -> Election:
    if not PABULIB.is_dir():
        pytest.skip(f"real Pabulib files not available: folder {PABULIB} is absent")
    path = PABULIB / f"{name}.pb"
    if not path.is_file():
        pytest.skip(f"real Pabulib file not available: {path} is absent")
    return read_pabulib(path)


def project_columns(name: str) -> dict[str, dict[str, str]]:
    """The PROJECTS section as given in the file, read without the optimizer's reader."""
    text = (PABULIB / f"{name}.pb").read_text(encoding="utf-8-sig")
    section = text.split("PROJECTS", 1)[1].split("VOTES", 1)[0].strip()
    rows = csv.DictReader(io.StringIO(section, newline=""), delimiter=";")
    return {row["project_id"]: row for row in rows}


def best_support(instance: Instance, scores: dict[str, int]) -> int:
    """Knapsack by dynamic programming over support: cheapest way to reach each total."""
    budget = instance.sources[0].amount
    cheapest = {0: 0}
    for project in instance.projects:
        for total, cost in list(cheapest.items()):
            new_total, new_cost = total + scores[project.id], cost + project.cost
            if new_cost <= budget and new_cost < cheapest.get(new_total, budget + 1):
                cheapest[new_total] = new_cost
    return max(cheapest)


def test_amsterdam_304_greedy() -> None:
    amsterdam = election("Netherlands_Amsterdam_304")
    instance = amsterdam.instance()
    assert (len(amsterdam.projects), len(amsterdam.profile.ballots)) == (29, 624)
    assert amsterdam.budget_cents == 250000 * 100
    columns = project_columns("Netherlands_Amsterdam_304")
    scores = support(instance, amsterdam.profile)
    assert scores == {p: int(row["votes"]) for p, row in columns.items()}
    result = allocate(instance, amsterdam.profile, "greedy")
    if amsterdam.selected is not None:
        assert set(result.selected) == amsterdam.selected
    else:  # this file does not say which projects won
        assert result.cost <= amsterdam.budget_cents
    # Every project left out really did not fit in what was left when its turn came.
    order = sorted(instance.projects, key=lambda p: (-scores[p.id], p.id))
    spent = 0
    for project in order:
        if project.id in result.selected:
            spent += project.cost
        else:
            assert project.cost > amsterdam.budget_cents - spent
    assert check_plan(instance, result.selected, result.plan) == []


@pytest.mark.parametrize(
    "name",
    ["Poland_Katowice_2024", "Poland_Krakow_2020", "Poland_Lodz_2023", "Poland_Wroclaw_2023"],
)
def test_greedy_reproduces_the_city_outcome(name: str) -> None:
    # Katowice and Łódź also apply a minimum score; Kraków 2020 is ordinal (Borda).
    real = election(name)
    assert real.selected is not None
    result = allocate(real.instance(), real.profile, "greedy")
    assert set(result.selected) == real.selected


def test_support_matches_the_score_columns() -> None:
    gdansk = election("Poland_Gdansk_2020_Suchanino")
    columns = project_columns("Poland_Gdansk_2020_Suchanino")
    scores = support(gdansk.instance(), gdansk.profile)
    assert scores == {p: int(row["score"]) for p, row in columns.items()}
    # Kraków scores ordinal votes 3-2-1; our Borda gives 2-1-0, i.e. score - votes.
    krakow = election("Poland_Krakow_2022_Czyzyny")
    columns = project_columns("Poland_Krakow_2022_Czyzyny")
    scores = support(krakow.instance(), krakow.profile)
    assert scores == {p: int(row["score"]) - int(row["votes"]) for p, row in columns.items()}


@pytest.mark.parametrize(
    "name",
    ["Netherlands_Amsterdam_304", "Poland_Gdansk_2020_Suchanino", "Poland_Krakow_2022_Czyzyny"],
)
def test_max_welfare_is_optimal_on_real_files(name: str) -> None:
    real = election(name)
    instance = real.instance()
    greedy_result = allocate(instance, real.profile, "greedy")
    result = allocate(instance, real.profile, "max-welfare")
    assert result.status == "optimal"
    assert result.objective == best_support(instance, support(instance, real.profile))
    assert result.objective >= greedy_result.objective
    assert result.cost <= real.budget_cents
    assert check_plan(instance, result.selected, result.plan) == []
    assert len(result.explanations) == len(instance.projects)
