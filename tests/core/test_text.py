from linernotes.text import NameMatcher, normalize, numbers, sentences


def test_normalize_folds_case_accents_and_zero_width():
    assert normalize("Sigur Rós") == normalize("SIGUR ROS") == "sigur ros"
    assert normalize("Bjo\u200brk") == "bjork"


def test_numbers_with_thousands_separators_and_decimals():
    assert [n for n, _, _ in numbers("1,234 plays, 3.5 stars, 2008, [7]")] == [1234, 3.5, 2008, 7]
    assert numbers("Blink-182")[0][0] == 182


def test_sentences_keep_leading_citations_with_previous_sentence():
    parts = [s for s, _ in sentences("A is good. [1] B is fine [2]. C.")]
    assert parts == ["A is good. [1]", "B is fine [2].", "C."]


def test_sentences_do_not_split_inside_kept_spans():
    text = "Play B.B. King now. Then more."
    assert len(sentences(text)) == 3
    assert [s for s, _ in sentences(text, keep=[(5, 14)])] == ["Play B.B. King now.", "Then more."]


def test_name_matcher_is_case_and_accent_insensitive():
    m = NameMatcher(["Sigur Rós", "Massive Attack"])
    assert [x.name for x in m.find("sigur ros and MASSIVE ATTACK")] == [
        "Sigur Rós",
        "Massive Attack",
    ]


def test_one_word_names_need_capitals_and_function_words_not_at_sentence_start():
    m = NameMatcher(["Love", "And", "And One", "3", "The 88"])
    assert m.find("I love it and one more, 3 times, with the 88 others.") == []
    assert [x.name for x in m.find("Play Love. And then And.")] == ["Love", "And"]


def test_longest_overlapping_name_wins():
    m = NameMatcher(["Play Dead", "Dead or Alive"])
    assert [x.name for x in m.find("Fans also play Dead or Alive.")] == ["Dead or Alive"]
