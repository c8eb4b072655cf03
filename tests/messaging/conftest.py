"""The messaging tests share the voice tests' recording carrier, signed webhooks and portfolio."""

from tests.voice.conftest import carrier, hooks, seed  # noqa: F401  (fixtures)
