"""Pooling's answers to kernel events (the kernel sends signals and imports nothing here)."""

from __future__ import annotations

from commonpot.signals import project_changed

from .pledges import ask_reconfirmation


@project_changed.connect
def _reconfirm_after_material_change(project, *, changes, material, actor, **_) -> None:
    if material:
        ask_reconfirmation(
            project,
            {name: pair for name, pair in changes.items() if name in ("cost_cents", "description")},
            actor=actor,
        )
