"""How a leased key is presented to the provider."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Auth:
    """Auth says in which header, after which prefix, the key is sent.

    Use a preset, or Auth("api-key", "") for another scheme (Azure OpenAI).
    """

    header: str
    prefix: str = ""


OPENAI_AUTH = Auth("authorization", "Bearer ")
"""Authorization: Bearer <key>, for OpenAI and compatible relays (the default)."""
ANTHROPIC_AUTH = Auth("x-api-key")
"""x-api-key: <key>."""
GEMINI_AUTH = Auth("x-goog-api-key")
"""x-goog-api-key: <key>."""
