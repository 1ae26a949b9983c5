import concurrent.futures
import shutil
import warnings

import numpy as np
import pytest
from linernotes_rankers import trees
from linernotes_rankers.trees import compiled, lightgbm, predictor

needs_compiler = pytest.mark.skipif(
    not any(shutil.which(c) for c in trees.COMPILERS), reason="no C compiler (gcc or clang)"
)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LINERNOTES_CACHE_DIR", str(tmp_path))
    return tmp_path / trees.FOLDER


def model_text(seed: int, trees_: int = 20) -> str:
    """A small ranking model on random data with 6 features, as LightGBM's text."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, 6))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.5, size=400) > 0.8).astype(float)
    lgb = lightgbm()
    data = lgb.Dataset(x, y, group=[20] * 20)
    params = {"objective": "lambdarank", "num_leaves": 7, "verbose": -1, "seed": seed}
    return lgb.train(params, data, trees_).model_to_string()


@pytest.fixture(scope="module")
def model():
    return model_text(0)


def features(n: int = 300) -> np.ndarray:
    x = np.random.default_rng(9).normal(size=(n, 6))
    x[::7, 2] = np.nan  # missing values take LightGBM's default branch
    return x


@needs_compiler
def test_the_compiled_trees_predict_lightgbms_scores(model, cache, capsys):
    x = features()
    expected = lightgbm().Booster(model_str=model).predict(x)
    assert np.array_equal(predictor(model)(x), expected)
    assert len(list(cache.glob("*.so"))) == 1
    assert capsys.readouterr().out == ""  # stdout stays clean for --json


@needs_compiler
def test_a_library_is_compiled_once_per_model(model, cache, monkeypatch):
    first = compiled(model)
    import tl2cgen

    def refuse(*args, **kwargs):
        raise AssertionError("compiled again")

    monkeypatch.setattr(tl2cgen, "export_lib", refuse)
    assert compiled(model) == first
    with pytest.warns(UserWarning, match="compiling the trees failed"):
        assert compiled(model_text(1)) is None  # another model needs its own library


@needs_compiler
def test_threads_predicting_at_once_get_their_own_scores(model, cache):
    predict = predictor(model)
    inputs = [features(300 + 50 * i) for i in range(4)]
    expected = [lightgbm().Booster(model_str=model).predict(x) for x in inputs]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda x: [predict(x) for _ in range(20)], inputs))
    for scores, want in zip(got, expected, strict=True):
        assert all(np.array_equal(s, want) for s in scores)


def test_without_a_compiler_lightgbm_predicts(model, cache, monkeypatch):
    monkeypatch.setattr(trees.shutil, "which", lambda name: None)
    with pytest.warns(UserWarning, match="no C compiler"):
        predict = predictor(model)
    x = features()
    assert np.array_equal(predict(x), lightgbm().Booster(model_str=model).predict(x))
    assert not cache.exists()


@needs_compiler
def test_an_empty_batch_has_no_scores(model, cache):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert predictor(model)(np.zeros((0, 6))).shape == (0,)


@needs_compiler
def test_values_on_a_threshold_take_lightgbms_branch(model, cache):
    """The compiled trees compare quantized values: a value equal to a split's threshold,
    or just either side of it, must still go where LightGBM sends it."""
    booster = lightgbm().Booster(model_str=model)
    splits = []

    def walk(node):
        if "split_feature" in node:
            splits.append((node["split_feature"], node["threshold"]))
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    rows = []
    for feature, threshold in splits:
        for value in (threshold, np.nextafter(threshold, -np.inf), np.nextafter(threshold, np.inf)):
            row = features(1)[0]
            row[feature] = value
            rows.append(row)
    x = np.array(rows)
    assert len(x) >= 60
    assert np.array_equal(predictor(model)(x), booster.predict(x))
