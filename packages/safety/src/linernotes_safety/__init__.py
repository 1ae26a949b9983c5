"""Safety filters for linernotes: grounding, toxicity, personal data, injection, Unicode."""

from .grounding import Grounding
from .injection import Injection
from .pii import PersonalData
from .toxicity import Toxicity
from .unicode import UnicodeTricks

__all__ = ["Grounding", "Injection", "PersonalData", "Toxicity", "UnicodeTricks"]
