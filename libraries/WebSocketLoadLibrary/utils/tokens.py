"""Tokens: accepted as Robot `Secret`s (or, with a warning, plain text), revealed only at the
last moment, and never formatted into a message."""
from __future__ import annotations

import os

from robot.api import logger
from robot.api.types import Secret

from ..engine import SecretText
from ..errors import UsageError


def reveal(token: Secret | SecretText | str | None) -> str | None:
    if token is None:
        return None
    if isinstance(token, Secret):
        return str(token.value)
    if isinstance(token, SecretText):
        return token.reveal()
    logger.warn("A token was given as plain text; Robot Framework may show plain text in "
                "logs at TRACE level. Pass it as a Secret (e.g. VAR ${token: Secret} "
                "%{API_TOKEN}) or use token_env=API_TOKEN.")
    return str(token)


def token_from(token, token_env: str | None) -> SecretText | None:
    """The token as the engine wants it; `token_env` names an environment variable."""
    if token is not None and token_env:
        raise UsageError("give either token or token_env, not both")
    if token_env:
        value = os.environ.get(token_env)
        if not value:
            raise UsageError(f"token_env={token_env}: that environment variable is not set "
                             f"or is empty")
        return SecretText(value)
    value = reveal(token)
    return SecretText(value) if value else None
