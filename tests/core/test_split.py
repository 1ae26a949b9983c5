from linernotes.split import holdout_split


def test_the_split_is_seeded_and_holds_out_a_fifth(pipeline):
    catalog = pipeline.catalog
    a, b = holdout_split(catalog, seed=0), holdout_split(catalog, seed=0)
    assert a.held_out == b.held_out
    assert holdout_split(catalog, seed=1).held_out != a.held_out
    for split in ("validation", "test"):
        for listener, out in a.truth(split).items():
            full = catalog.history(listener)
            assert len(full) >= 5 and len(out) == -(-len(full) * 2 // 10)
            assert out <= set(full)
            assert not out & set(a.train.history(listener))
    assert not set(a.listeners("validation")) & set(a.listeners("test"))
    share = len(a.listeners("validation")) / (
        len(a.listeners("validation")) + len(a.listeners("test"))
    )
    assert 0.2 < share < 0.3


def test_the_training_catalog_never_sees_a_held_out_play(pipeline):
    catalog = pipeline.catalog
    split = holdout_split(catalog, seed=0)
    held = {
        (lid, i) for s in ("validation", "test") for lid, out in split.truth(s).items() for i in out
    }
    pairs = set(split.train.interactions.select("listener_id", "item_id").iter_rows())
    assert not pairs & held
    assert len(pairs) == catalog.interactions.height - len(held)
    item = next(iter(next(iter(split.truth("test").values()))))
    assert split.train.item(item).listeners == catalog.item(item).listeners - sum(
        item in out for s in ("validation", "test") for out in split.truth(s).values()
    )


def test_requests_carry_the_input_history(pipeline):
    split = holdout_split(pipeline.catalog, seed=0)
    [request] = split.requests("test", listeners=split.listeners("test")[:1], k=7)
    assert request.k == 7
    assert request.listener.history == split.train.history(request.listener.id)


def test_select_checks_that_listeners_belong_to_the_split(pipeline):
    import pytest
    from linernotes import DataError

    split = holdout_split(pipeline.catalog, seed=0)
    some = split.listeners("test")[:2]
    assert split.select("test", list(reversed(some))) == sorted(some)
    assert split.select("validation") == split.listeners("validation")
    with pytest.raises(DataError, match="1 listener\\(s\\) are not in the test split"):
        split.select("test", [split.listeners("validation")[0]])
