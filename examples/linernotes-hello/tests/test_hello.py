import pytest
from linernotes import Draft
from linernotes.testing import SafetyFilterContract
from linernotes_hello import MaxWords


class TestMaxWordsContract(SafetyFilterContract):
    @pytest.fixture
    def component(self):
        return MaxWords(limit=50)


def test_blocks_only_long_drafts():
    f = MaxWords(limit=3)
    verdicts = f.check(
        [Draft("one two three", "t"), Draft("one two three four", "t")], [None, None]
    )
    assert [v.action for v in verdicts] == ["pass", "block"]
    assert verdicts[1].reasons == ["4 words, over the limit of 3"]
