"""Story generators for linernotes: a local language model, a served one, and templates.

Imported lazily (PEP 562), so loading the plugin to list commands stays fast.
"""

import importlib

_WHERE = {
    "Example": "prompts",
    "GenerationError": "openai_http",
    "load_examples": "prompts",
    "OpenAIGenerator": "openai_http",
    "Prompter": "prompts",
    "TemplateGenerator": "template",
    "TransformersGenerator": "transformers_generator",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
