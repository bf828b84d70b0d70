"""Short codes people can read aloud: receipts for ballots and pledges."""

import secrets

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def receipt_code(length: int = 10) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))
