"""Exact funding feasibility without a solver, as a max-flow problem.

Money flows from each source (capacity: its amount) to the projects it may pay for
(capacity: what it may put into that project) and on to the projects' full costs. A set
of projects can be funded exactly when the maximum flow covers every cost. Flows with
integer capacities have integer optima, so this answers the integer-cents question too.
Used to skip the solver for infeasible sets and to say how much a project could still
raise. A grant's matching ratio (`Source.match_percent`) is not a flow constraint: here it
is ignored, which makes the flow a relaxation for such instances (see `matching.py`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from .model import Instance, Project

# cents per source id, for each project id
Plan = dict[str, dict[str, int]]
# given a plan: (source id, project id) edges to lower, and the most each may then carry
Repair = Callable[[Plan], dict[tuple[str, str], int]]


class _Network:
    """Residual graph for Edmonds-Karp (shortest augmenting paths), with an undo log.

    Every change to a residual capacity is logged, so a tentative augmentation is undone
    by replaying the log back to a mark instead of copying the whole graph first: the
    graph has an edge per (source, eligible project), the changes of one question touch
    a few paths. Paths are searched backwards from the sink, which only the funded
    projects (and the one asked about) reach, so the projects nobody funds are never
    visited.
    """

    def __init__(self, size: int) -> None:
        self.residual: list[dict[int, int]] = [{} for _ in range(size)]
        # feeding[v]: the nodes u with residual[u][v] > 0, which the backward search needs
        # (the pool's node has an edge to every project, but feeds only those it funds)
        self.feeding: list[set[int]] = [set() for _ in range(size)]
        self._log: list[tuple[int, int, int | None]] = []

    def _set(self, u: int, v: int, value: int) -> None:
        edges = self.residual[u]
        self._log.append((u, v, edges.get(v)))
        edges[v] = value
        if value > 0:
            self.feeding[v].add(u)
        else:
            self.feeding[v].discard(u)

    def add(self, u: int, v: int, capacity: int, flow: int = 0) -> None:
        """An edge of `capacity` already carrying `flow`."""
        self._set(u, v, self.residual[u].get(v, 0) + capacity - flow)
        self._set(v, u, self.residual[v].get(u, 0) + flow)

    def keep(self) -> None:
        """Make every change so far permanent (no mark taken before this is valid)."""
        self._log.clear()

    def mark(self) -> int:
        """A point `undo` can return the graph to."""
        return len(self._log)

    def undo(self, mark: int) -> None:
        """Restore every capacity (and edge) to what it was at `mark`."""
        log, residual = self._log, self.residual
        while len(log) > mark:
            u, v, old = log.pop()
            if old is None:
                del residual[u][v]
            else:
                residual[u][v] = old
            if old is not None and old > 0:
                self.feeding[v].add(u)
            else:
                self.feeding[v].discard(u)

    def augment(self, source: int, sink: int) -> int:
        """Push as much extra flow as possible from source to sink; return the amount."""
        residual = self.residual
        total = 0
        while True:
            towards = {sink: sink}  # node -> next node on its shortest path to the sink
            queue = deque([sink])
            while queue and source not in towards:
                v = queue.popleft()
                for u in self.feeding[v]:
                    if u not in towards:
                        towards[u] = v
                        queue.append(u)
            if source not in towards:
                return total
            bottleneck = None
            u = source
            while u != sink:
                capacity = residual[u][towards[u]]
                bottleneck = capacity if bottleneck is None else min(bottleneck, capacity)
                u = towards[u]
            assert bottleneck is not None
            u = source
            while u != sink:
                v = towards[u]
                self._set(u, v, residual[u][v] - bottleneck)
                self._set(v, u, residual[v][u] + bottleneck)
                u = v
            total += bottleneck


class FundingFlow:
    """The max-flow view of an instance, funding a growing set of projects."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self._index = {p.id: i for i, p in enumerate(instance.projects)}
        n_sources = len(instance.sources)
        self._first_project = 1 + n_sources
        self._sink = self._first_project + len(instance.projects)
        self._net = _Network(self._sink + 1)
        for i, source in enumerate(instance.sources):
            if source.amount:
                self._net.add(0, 1 + i, source.amount)
            for j, project in enumerate(instance.projects):
                limit = source.limit(project)
                if limit:
                    self._net.add(1 + i, self._first_project + j, limit)
        self._net.keep()
        self.funded: set[str] = set()
        self.raised = 0

    def _node(self, project: Project) -> int:
        return self._first_project + self._index[project.id]

    def try_add(self, project_id: str) -> int:
        """Route money to `project_id`; keep it if fully funded.

        Returns the most that could be raised for it without unfunding anything already
        added (its cost when it was added).
        """
        project = self.instance.projects[self._index[project_id]]
        if project_id in self.funded:
            return project.cost
        if project.cost == 0:
            self.funded.add(project_id)
            return 0
        mark = self._net.mark()
        self._net.add(self._node(project), self._sink, project.cost)
        got = self._net.augment(0, self._sink)
        if got == project.cost:
            self.funded.add(project_id)
            self.raised += got
        else:
            self._net.undo(mark)
        return got

    def fits(self, project_id: str) -> bool:
        """Whether `project_id` could be added too (nothing changes)."""
        return feasible(self.instance, [*self.funded, project_id])

    def raisable_plan(
        self, project_id: str, repair: Repair | None = None, rounds: int = 3
    ) -> tuple[int, Plan]:
        """(the most `project_id` could raise beside the funded set; one integer plan, cents
        per source for every funded project and for it). Nothing changes.

        Without `repair` the plan funds them all and gives `project_id` that most. With it,
        given a plan, `repair` names (source, project) edges and the most each may carry
        (say, what a matching ratio allows); those edges are lowered and the flow re-routed,
        up to `rounds` times. The plan still keeps the flow's rules, but may then leave a
        project short: the caller checks what it got.
        """
        project = self.instance.projects[self._index[project_id]]
        if project_id in self.funded or project.cost == 0:
            raise ValueError(f"{project_id} is funded or free: nothing to raise")
        mark = self._net.mark()
        self._net.add(self._node(project), self._sink, project.cost)
        most = self._net.augment(0, self._sink)
        plan = self._plan(project_id)
        for _ in range(rounds if repair is not None else 0):
            lower = repair(plan)
            if not lower:
                break
            for (source_id, pid), cents in lower.items():
                self._lower(source_id, pid, cents)
            self._net.augment(0, self._sink)
            plan = self._plan(project_id)
        self._net.undo(mark)
        return most, plan

    def _plan(self, project_id: str) -> Plan:
        residual = self._net.residual
        plan: Plan = {}
        for pid in (*self.funded, project_id):
            back = residual[self._first_project + self._index[pid]]
            plan[pid] = {
                source.id: back[1 + i]
                for i, source in enumerate(self.instance.sources)
                if back.get(1 + i, 0) > 0  # the reverse edge holds the flow
            }
        return plan

    def _lower(self, source_id: str, project_id: str, cents: int) -> None:
        """Let the edge carry at most `cents`; flow taken off it goes back to the source
        and off the project's edge to the sink."""
        s = 1 + next(i for i, source in enumerate(self.instance.sources) if source.id == source_id)
        q = self._first_project + self._index[project_id]
        net, residual = self._net, self._net.residual
        flow = residual[q][s]
        if flow <= cents:
            net._set(s, q, min(residual[s][q], cents - flow))
            return
        excess = flow - cents
        net._set(s, q, 0)
        net._set(q, s, cents)
        net._set(0, s, residual[0][s] + excess)
        net._set(s, 0, residual[s][0] - excess)
        net._set(q, self._sink, residual[q][self._sink] + excess)
        net._set(self._sink, q, residual[self._sink][q] - excess)

    def state(self) -> tuple[int, frozenset[str], int]:
        """What `restore` needs to undo later additions."""
        return self._net.mark(), frozenset(self.funded), self.raised

    def restore(self, state: tuple[int, frozenset[str], int]) -> None:
        mark, funded, raised = state
        self._net.undo(mark)
        self.funded, self.raised = set(funded), raised

    def add_all(self, project_ids: Iterable[str]) -> bool:
        """Add several projects; False (and nothing added) when they cannot all be funded."""
        saved = self.state()
        for project_id in project_ids:
            cost = self.instance.projects[self._index[project_id]].cost
            if self.try_add(project_id) < cost:
                self.restore(saved)
                return False
        return True


def feasible(instance: Instance, selected: Iterable[str]) -> bool:
    """Whether every project in `selected` can be funded in full at the same time.

    One max-flow over the whole set: a greedy start (each project takes from its payers,
    least flexible money first, what they still hold) and then shortest augmenting paths
    for what is missing. The start only changes how much is left to augment, never the
    answer; on a 740-project set it took the time from 4.7 s to well under one.
    """
    wanted = set(selected)
    projects = [p for p in instance.projects if p.id in wanted and p.cost > 0]
    order = sorted(range(len(instance.sources)), key=lambda i: instance.sources[i].tier)
    first, sink = 1 + len(instance.sources), 1 + len(instance.sources) + len(projects)
    net = _Network(sink + 1)
    left = [s.amount for s in instance.sources]
    missing = 0
    for j, project in enumerate(projects):
        node, need = first + j, project.cost
        for i in order:
            limit = instance.sources[i].limit(project)
            if limit:
                take = min(need, limit, left[i])
                net.add(1 + i, node, limit, take)
                left[i] -= take
                need -= take
        net.add(node, sink, project.cost, project.cost - need)
        missing += need
    for i, source in enumerate(instance.sources):
        if source.amount:
            net.add(0, 1 + i, source.amount, source.amount - left[i])
    return net.augment(0, sink) == missing


def raisable(instance: Instance, selected: Iterable[str], project_id: str) -> int:
    """Most cents `project_id` could get while `selected` (fundable) stays fully funded."""
    flow = FundingFlow(instance)
    if not flow.add_all(sorted(set(selected) - {project_id})):
        raise ValueError("the selected projects cannot be funded together")
    return flow.try_add(project_id)
