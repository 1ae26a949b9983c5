"""Clean-up of model output: whitespace, and drafts cut off by their token budget."""

from __future__ import annotations

import re

# a sentence ends at . ! or ?, maybe followed by citations and closing quotes or brackets
_SENTENCE_END = re.compile(r"[.!?](?:\s*\[\d+\])*[\"'’”)]*(?=\s|$)")


def finish(text: str, truncated: bool) -> str:
    """The draft's text, stripped; if it ran past its budget, cut at its last sentence end.

    A draft with no complete sentence is cut after its last whole word, never mid-word.
    """
    text = " ".join(text.split())
    if not truncated:
        return text
    ends = list(_SENTENCE_END.finditer(text))
    if ends:
        return text[: ends[-1].end()]
    words = text.split(" ")
    return " ".join(words[:-1])
