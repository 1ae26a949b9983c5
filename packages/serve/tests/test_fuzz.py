"""API fuzzing with Schemathesis against the real server, from its own /openapi.json:
no 5xx, every status and body as the schema says, and every 4xx with a one-line detail."""

from __future__ import annotations

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

EXAMPLES = 30
"""Cases per operation (valid and invalid ones mixed)."""


def problem_detail(ctx, response, case):
    """Every 4xx answer has a one-line ``detail``."""
    if 400 <= response.status_code < 500:
        detail = response.json().get("detail")
        assert isinstance(detail, str) and detail.strip(), f"no detail: {response.text[:300]}"


def test_the_api_holds_up(tiny_pipeline, run_server, tmp_path):
    """Every operation of the schema: valid and invalid cases, with Schemathesis's checks
    (not positive_data_acceptance: a body can be valid by the schema and still name no
    catalog listener or artist, a 404 or 422)."""
    from linernotes_serve import SQLiteStoryStore, create_app

    store = SQLiteStoryStore(tmp_path / "stories.sqlite")
    app = create_app(tiny_pipeline, store=store, feedback_dir=tmp_path / "feedback")
    with run_server(app) as url:
        schema = schemathesis.openapi.from_url(url + "/openapi.json")
        recommend = schema["/v1/recommend"]["POST"]
        for body in (
            {"listener": "1", "context": {"mood": "calm"}},
            {"history": ["Rock Artist A"]},
        ):
            for _ in range(2):  # made, then (for the listener) from the store
                recommend.validate_response(httpx.post(url + "/v1/recommend", json=body))
        # one hypothesis run per operation (schemathesis.pytest.from_fixture, the lazy
        # parametrize, does not run under pytest 9)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 5
        for operation in operations:
            cases = st.one_of(
                operation.as_strategy(GenerationMode.POSITIVE),
                operation.as_strategy(GenerationMode.NEGATIVE),
            )

            @given(case=cases)
            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
            def fuzz(case):
                case.call_and_validate(
                    additional_checks=[problem_detail], excluded_checks=[positive_data_acceptance]
                )

            fuzz()
