"""Pabulib download of a round's ballots (organizers) — filled in by the Pabulib work."""

from .views import bp  # noqa: F401
