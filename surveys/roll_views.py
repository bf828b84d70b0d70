"""The member roll: import, access codes, claiming membership, paper ballots."""

from .views import bp  # noqa: F401
