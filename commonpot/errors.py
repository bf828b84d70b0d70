"""Domain errors raised by services; views turn them into messages next to the fields."""

from __future__ import annotations


class DomainError(Exception):
    """A request that the rules of the domain refuse (shown to the user, never a 500)."""


class ValidationFailed(DomainError):
    """Field-level problems: a list of (field name or None, message)."""

    def __init__(self, errors: list[tuple[str | None, str]]):
        self.errors = errors
        super().__init__("; ".join(msg for _, msg in errors))

    def apply_to(self, form) -> None:
        """Copy the messages next to the form's fields (form-wide ones go to form.form_errors)."""
        for field, message in self.errors:
            target = getattr(form, field, None) if field else None
            if target is not None:
                target.errors = [*target.errors, message]
            else:
                form.form_errors.append(message)


class IllegalTransition(DomainError):
    """A round, document or pledge asked to move to a state its current one does not allow."""


class Forbidden(DomainError):
    """The person is signed in but their role in this community does not allow this."""
