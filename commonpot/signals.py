"""Signals let feature packages react to kernel events without the kernel importing them."""

from blinker import Namespace

_signals = Namespace()

# sender: the Community just created (pooling gives it a signing authority).
community_created = _signals.signal("community-created")

# sender: the Project just edited; kwargs changes={field: (before, after)}, material (bool:
# cost or description changed), actor. Pooling asks the project's pledgers to reconfirm.
project_changed = _signals.signal("project-changed")

# sender: a Community whose board brings its own certificate authority at set-up; kwargs
# p12 (bytes of a PKCS#12 file), password, actor. Pooling makes it the community's
# authority (and raises ValidationFailed for a file it cannot use).
authority_brought = _signals.signal("authority-brought")
