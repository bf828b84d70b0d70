"""A seeded, city-sized funding round with every kind of constraint, for benchmarks.

    .venv/bin/python bench/generate_round.py --seed 1 --summary

What it builds (all money in cents; "units" are whole currency units):

- 2,000 projects, costs uniform in 1,000-100,000 units, in 8 priority areas of unequal
  sizes (area k gets a weight k+1, so the largest areas press against their maximum
  share and the smallest against their minimum);
- support following Zipf's law: the project of (random) rank r is approved by
  round(10,000 / r) voters, at least one; ballot i approves every project with support
  above i (only totals matter to max-welfare);
- money: the residents' pool (about 8% of the total cost of all projects) and 20
  restricted sources, each eligible for a random 10-30% of the projects and each with a
  cap per project: 6 earmarked resident pledges and 14 grants, 8 of which only match
  resident money (50%, 100% or 200%); about 23% of the total cost in all;
- area shares: minimum 4-10% and maximum 15-25% of the money funded for every area;
- 50 dependencies "b only with a" (b among the 400 most supported projects, acyclic),
  50 incompatible pairs (among the 600 most supported, within one area);
- 100 projects needing 10-200 volunteer hours, with 0-250 offered.

The empty selection meets every constraint, so the round is feasible; the benchmark
shows that the constraints bind (the optimum without them differs).
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optimizer import AreaShare, Ballot, Instance, Profile, Project, Source  # noqa: E402

UNIT = 100  # cents per currency unit


def _support(count: int, rng: random.Random, top: int) -> list[int]:
    """Zipf's law over a random ranking: rank r gets round(top / r), at least 1."""
    ranks = list(range(1, count + 1))
    rng.shuffle(ranks)
    return [max(1, round(top / r)) for r in ranks]


def _profile(ids: list[str], scores: list[int]) -> Profile:
    """Ballot i approves every project with support above i: supports come out exact."""
    by_support = sorted(zip(scores, ids, strict=True), reverse=True)
    ballots = []
    for i in range(by_support[0][0] if by_support else 0):
        chosen = tuple(sorted(p for s, p in by_support if s > i))
        ballots.append(Ballot(f"v{i:05d}", chosen))
    return Profile("approval", tuple(ballots))


def _sources(rng: random.Random, ids: list[str], total_cost: int, count: int) -> list[Source]:
    sources = [Source("pool", total_cost * 8 // 100 // UNIT * UNIT, "pool")]
    for n in range(count):
        eligible = frozenset(rng.sample(ids, round(len(ids) * rng.uniform(0.10, 0.30))))
        cap = rng.randrange(20_000, 60_001, 1_000) * UNIT
        source_id = f"s{n + 1:02d}"
        if n < 6:
            amount = round(total_cost * rng.uniform(0.003, 0.008)) // UNIT * UNIT
            source = Source(source_id, amount, "earmark", eligible, cap_per_project=cap)
        else:
            amount = round(total_cost * rng.uniform(0.005, 0.012)) // UNIT * UNIT
            match = rng.choice((50, 100, 200)) if n >= 12 else None
            source = Source(
                source_id, amount, "grant", eligible, cap_per_project=cap, match_percent=match
            )
        sources.append(source)
    return sources


def generate(
    seed: int = 1,
    projects: int = 2_000,
    areas: int = 8,
    sources: int = 20,
    dependencies: int = 50,
    incompatible: int = 50,
    hours: int = 100,
    voters: int = 10_000,
    equal_areas: bool = False,
    shares: bool = True,
) -> tuple[Instance, Profile]:
    """The round for `seed`: the same arguments always give the same round.
    `equal_areas` gives the 8 areas the same size; `shares=False` drops the area shares
    (both for the benchmark's comparisons)."""
    rng = random.Random(seed)
    ids = [f"p{i:04d}" for i in range(1, projects + 1)]
    names = [f"area{k + 1}" for k in range(areas)]
    weights = [1] * areas if equal_areas else [k + 1 for k in range(areas)]
    categories = rng.choices(names, weights=weights, k=projects)
    costs = [rng.randint(1_000, 100_000) * UNIT for _ in ids]
    needing = set(rng.sample(ids, min(hours, projects)))
    items = []
    for pid, cost, category in zip(ids, costs, categories, strict=True):
        if pid in needing:
            needed, offered = rng.randint(10, 200), rng.randint(0, 250)
            items.append(Project(pid, cost, category, needed, offered))
        else:
            items.append(Project(pid, cost, category))
    scores = _support(projects, rng, voters)
    popular = [p for _, p in sorted(zip(scores, ids, strict=True), key=lambda t: (-t[0], t[1]))]
    bounds = tuple(
        AreaShare(name, rng.randrange(400, 1_001, 100), rng.randrange(1_500, 2_501, 100))
        for name in names
    )
    position = {p: i for i, p in enumerate(rng.sample(ids, len(ids)))}  # for acyclicity
    pairs: set[tuple[str, str]] = set()
    while len(pairs) < min(dependencies, projects - 1):
        b, a = rng.choice(popular[:400]), rng.choice(ids)
        if position[a] < position[b]:
            pairs.add((b, a))
    area_of = dict(zip(ids, categories, strict=True))
    groups: set[frozenset[str]] = set()
    while len(groups) < incompatible:
        first, second = rng.sample(popular[:600], 2)
        if area_of[first] == area_of[second]:
            groups.add(frozenset((first, second)))
    instance = Instance(
        tuple(items),
        tuple(_sources(rng, ids, sum(costs), sources)),
        area_shares=bounds if shares else (),
        dependencies=tuple(sorted(pairs)),
        incompatible=tuple(sorted(groups, key=sorted)),
    )
    return instance, _profile(ids, scores)


def summary(instance: Instance, profile: Profile) -> str:
    """A few lines describing a generated round."""
    total = sum(p.cost for p in instance.projects)
    money = instance.total_money
    lines = [
        f"{len(instance.projects):,} projects costing {total // UNIT:,} units in all; "
        f"{len(profile.ballots):,} ballots",
        f"{len(instance.sources)} sources holding {money // UNIT:,} units "
        f"({100 * money / total:.1f}% of the total cost); "
        f"{sum(s.match_percent is not None for s in instance.sources)} matching grants",
        f"{len(instance.area_shares)} areas with shares, {len(instance.dependencies)} "
        f"dependencies, {len(instance.incompatible)} incompatible pairs, "
        f"{sum(p.short_of_hours for p in instance.projects)} projects short of hours",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--projects", type=int, default=2_000)
    parser.add_argument("--summary", action="store_true", help="describe the round")
    args = parser.parse_args(argv)
    instance, profile = generate(args.seed, args.projects)
    print(summary(instance, profile))


if __name__ == "__main__":
    main(sys.argv[1:])
