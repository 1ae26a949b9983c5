"""Safety filters for linernotes: grounding, toxicity, personal data, injection, Unicode.

Imported lazily (PEP 562), so loading the plugin to list commands stays fast.
"""

import importlib

_WHERE = {
    "Grounding": "grounding",
    "Injection": "injection",
    "PersonalData": "pii",
    "Toxicity": "toxicity",
    "UnicodeTricks": "unicode",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
