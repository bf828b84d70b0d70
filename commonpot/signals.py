"""Signals let feature packages react to kernel events without the kernel importing them."""

from blinker import Namespace

_signals = Namespace()

# sender: the Community just created (pooling gives it a signing authority).
community_created = _signals.signal("community-created")
