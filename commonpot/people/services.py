"""Inviting residents and appointing organizers and board members."""

from __future__ import annotations

from ..audit import record
from ..auth.services import find_user, send_password_link
from ..errors import ValidationFailed
from ..extensions import db
from ..models import Community, Role, User
from ..rounds.services import grant_role


def invite(community: Community, *, name: str, email: str, role: Role, actor: User | None) -> User:
    """Give an existing account the role, or create one and mail a link to choose a password."""
    email = email.strip().lower()
    user = find_user(email)
    if user is not None and role in user.roles_in(community.id):
        raise ValidationFailed([("email", f"{user.name} is already {role.value} here.")])
    created = user is None
    if created:
        if not name.strip():
            raise ValidationFailed([("name", "Give the new person's name.")])
        user = User(email=email, name=name.strip())
        db.session.add(user)
        db.session.flush()
        record(
            "user.invited",
            f"user:{user.id}",
            community_id=community.id,
            actor_id=actor.id if actor else None,
        )
    grant_role(user, community, role, actor=actor)
    if Role.RESIDENT not in user.roles_in(community.id):
        grant_role(
            user, community, Role.RESIDENT, actor=actor
        )  # organizers and board are members too
    if created:
        send_password_link(user, invitation=f"{community.name} as {role.value}")
    return user


def revoke(community: Community, user: User, role: Role, *, actor: User) -> None:
    if user.id == actor.id and role == Role.ORGANIZER:
        raise ValidationFailed([(None, "You cannot remove your own organizer role.")])
    for membership in list(user.memberships):
        if membership.community_id == community.id and membership.role == role:
            db.session.delete(membership)
    db.session.flush()
    record(
        "role.revoked",
        f"user:{user.id}",
        community_id=community.id,
        actor_id=actor.id,
        role=role.value,
    )
