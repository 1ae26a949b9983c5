"""Story generators for linernotes: a planned local model, a served one, and templates.

Imported lazily (PEP 562), so loading the plugin to list commands stays fast.
"""

from linernotes.plugins import lazy_exports

_WHERE = {
    "Example": "prompts",
    "GenerationError": "openai_http",
    "load_examples": "prompts",
    "OpenAIGenerator": "openai_http",
    "PlannedGenerator": "planned",
    "Prompter": "prompts",
    "TemplateGenerator": "template",
    "TransformersGenerator": "transformers_generator",
}
__all__ = sorted(_WHERE)

__getattr__ = lazy_exports(__name__, _WHERE)
