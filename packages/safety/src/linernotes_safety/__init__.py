"""Safety filters for linernotes: grounding, toxicity, personal data, injection, Unicode.

Imported lazily (PEP 562), so loading the plugin to list commands stays fast.
"""

from linernotes.plugins import lazy_exports

_WHERE = {
    "Grounding": "grounding",
    "Injection": "injection",
    "PersonalData": "pii",
    "Toxicity": "toxicity",
    "UnicodeTricks": "unicode",
}
__all__ = sorted(_WHERE)

__getattr__ = lazy_exports(__name__, _WHERE)
