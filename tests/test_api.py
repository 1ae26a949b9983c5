"""The Python API as the README shows it."""

import json

import linernotes


def test_compose_build_and_serve_one_and_many(pipeline):
    cfg = linernotes.compose(["k=3", "generator=template"])
    assert cfg.k == 3
    pipe = linernotes.Pipeline.from_config(cfg, progress=False)
    one = pipe.recommend(listener="2")
    assert len(one.picks) == 3 and one.story is not None
    many = pipe.run(
        [
            linernotes.Request(linernotes.Listener("3")),
            pipe.request(history=["Daft Punk", "Justice"], activity="running"),
        ]
    )
    assert [len(r.picks) for r in many] == [3, 3]
    assert json.dumps(linernotes.to_dict(many[1]))


def test_an_inline_history_for_an_unknown_listener(pipeline):
    daft = pipeline.catalog.match_names(["Daft Punk"])["Daft Punk"]
    request = linernotes.Request(linernotes.Listener("not-in-catalog", {daft: 120.0}), k=5)
    [result] = pipeline.run([request])
    assert result.request.listener.id == "not-in-catalog"
    assert len(result.picks) == 5 and daft not in {p.item.id for p in result.picks}
