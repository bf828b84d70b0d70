"""max-welfare's money rows (`welfare_cuts.py`) and the one-shot max-flow, against the
brute force of `test_optimizer_matching_props.py` (every split of every cost in cents).

A money row must never cut off a set that can be funded (else max-welfare would miss the
optimum) and must cut off the set it was made from (else the search would only advance
by no-goods).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given

from optimizer import Instance, Profile, Project, Source, max_welfare, welfare_model
from optimizer.flow import FundingFlow, feasible
from optimizer.funding import y_key
from optimizer.welfare_cuts import MoneyCuts

from .test_optimizer_matching_props import SETTINGS, elections, most, subsets


def _ids(projects: tuple[Project, ...]) -> frozenset[str]:
    return frozenset(p.id for p in projects)


def _holds(rule, chosen: frozenset[str]) -> bool:  # noqa: ANN001 - a LinearRule
    return rule.holds({y_key(p): 1 for p in chosen})


def test_the_row_cuts_off_a_set_only_the_pool_could_pay() -> None:
    # The grant pays only the mural; the bench and the lights (15) share the pool of 14.
    instance = Instance(
        (Project("mural", 10), Project("bench", 10), Project("lights", 5)),
        (Source("pool", 14, "pool"), Source("g", 20, "grant", projects=frozenset({"mural"}))),
    )
    cuts = MoneyCuts(instance, instance.projects)
    everything = frozenset({"mural", "bench", "lights"})
    assert _holds(cuts.first(), everything)  # 25 of 34: the total is not the problem
    row = cuts.separate(everything)
    assert row is not None and not _holds(row, everything)
    assert not _holds(row, frozenset({"bench", "lights"}))
    for fine in ({"mural", "bench"}, {"mural", "lights"}, {"bench"}, {"lights"}, set()):
        assert _holds(row, frozenset(fine))
    assert cuts.separate(frozenset({"mural", "bench"})) is None  # it can be funded


@SETTINGS
@given(elections())
def test_money_rows_keep_every_fundable_set_and_cut_off_their_own(
    election: tuple[Instance, Profile],
) -> None:
    instance, _ = election
    paying = tuple(p for p in instance.projects if p.cost > 0)
    cuts = MoneyCuts(instance, paying)
    fundable = [_ids(s) for s in subsets(instance.projects) if most(instance, s) >= 0]
    rows = [cuts.first()]
    for chosen in subsets(instance.projects):
        if most(instance, chosen) < 0:
            row = cuts.separate(_ids(chosen))
            if row is not None:
                assert not _holds(row, _ids(chosen))
                rows.append(row)
    for row in rows:
        for ok in fundable:
            assert _holds(row, ok), (row, ok)


def _without_matching(instance: Instance) -> Instance:
    sources = tuple(replace(s, match_percent=None) for s in instance.sources)
    return replace(instance, sources=sources)


@SETTINGS
@given(elections())
def test_one_shot_max_flow_agrees_with_brute_force_and_the_incremental_flow(
    election: tuple[Instance, Profile],
) -> None:
    instance = _without_matching(election[0])
    for chosen in subsets(instance.projects):
        ids = sorted(_ids(chosen))
        expected = most(instance, chosen) >= 0
        assert feasible(instance, ids) == expected
        assert FundingFlow(instance).add_all(ids) == expected


@SETTINGS
@given(elections())
def test_max_welfare_is_deterministic_with_money_rows(election: tuple[Instance, Profile]) -> None:
    instance, profile = election
    first, second = max_welfare(instance, profile), max_welfare(instance, profile)
    assert (first.selected, first.plan, first.status) == (
        second.selected,
        second.plan,
        second.status,
    )


def test_a_source_that_cannot_pay_anything_gets_no_price() -> None:
    instance = Instance(
        (Project("a", 4), Project("b", 4)),
        (Source("pool", 5, "pool"), Source("park", 9, "grant", categories=frozenset({"park"}))),
    )
    cuts = MoneyCuts(instance, instance.projects)
    row = cuts.separate(frozenset({"a", "b"}))
    assert row is not None and not _holds(row, frozenset({"a", "b"}))
    assert _holds(row, frozenset({"a"})) and _holds(row, frozenset({"b"}))


@SETTINGS
@given(elections())
def test_the_money_columns_give_the_same_answer_as_the_rows_alone(
    election: tuple[Instance, Profile],
) -> None:
    # The model takes the money's columns after a few money rows (welfare_model.CUTS);
    # both ways must reach the same proven answer, which the brute-force tests check.
    instance, profile = election
    answers = []
    for cuts in (0, 10**6):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(welfare_model, "CUTS", cuts)
            result = max_welfare(instance, profile)
        answers.append((result.selected, result.cost, result.objective, result.status))
    assert answers[0] == answers[1]
    assert answers[0][3] == "optimal"
