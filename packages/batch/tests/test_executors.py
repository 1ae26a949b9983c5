"""The executor config group: every option lists exactly its executor's parameters, checked."""

import dataclasses
from pathlib import Path

import pytest
from linernotes.config import compose, config_dir
from linernotes.errors import ConfigError
from linernotes_batch.executors import EXECUTORS, BeamParams, LocalParams, executor_params

OPTIONS = sorted(p.stem for p in (config_dir() / "executor").glob("*.yaml"))


def test_there_is_an_option_per_executor():
    assert OPTIONS == sorted(EXECUTORS) == ["beam", "local"]


@pytest.mark.parametrize("option", OPTIONS)
def test_every_option_lists_exactly_its_executors_parameters(option):
    node = compose([f"executor={option}"]).executor
    fields = [f.name for f in dataclasses.fields(EXECUTORS[node.component])]
    assert sorted(node.params) == sorted(fields), f"executor/{option}.yaml"
    assert isinstance(executor_params(node), EXECUTORS[node.component])


def test_local_is_the_default():
    assert executor_params(compose().executor) == LocalParams(batch_size=32)


def test_overrides_reach_the_parameters():
    node = compose(
        [
            "executor=beam",
            "executor.params.direct_num_workers=2",
            "executor.params.direct_running_mode=multi_processing",
            "+executor.params.options.project=my-project",
        ]
    ).executor
    assert executor_params(node) == BeamParams(
        direct_num_workers=2,
        direct_running_mode="multi_processing",
        options={"project": "my-project"},
    )


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["executor.component=spark"], "unknown executor 'spark'; valid: beam, local"),
        (["executor.params.batch_size=0"], "executor.params.batch_size must be at least 1, got 0"),
        (
            ["executor=beam", "executor.params.direct_running_mode=threads"],
            "unknown executor.params.direct_running_mode 'threads'; valid: in_memory, "
            "multi_processing, multi_threading",
        ),
        (
            ["executor=beam", "executor.params.direct_num_workers=0"],
            "executor.params.direct_num_workers must be at least 1, got 0",
        ),
        (
            ["executor=beam", "executor.params.job_shards=0"],
            "executor.params.job_shards must be at least 1, got 0",
        ),
        (["+executor.params.workers=2"], "unknown parameter 'workers' of executor 'local'; valid:"),
    ],
)
def test_bad_parameters_fail_in_one_line(overrides, message):
    with pytest.raises(ConfigError) as e:
        executor_params(compose(overrides).executor)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_hydra_rejects_a_misspelt_parameter_with_the_valid_ones():
    with pytest.raises(ConfigError, match="valid keys at 'executor.params': batch_size"):
        compose(["executor.params.batchsize=4"])


def test_beam_options_pass_through_and_typos_are_caught():
    from apache_beam.options.pipeline_options import DirectOptions, GoogleCloudOptions
    from linernotes_batch.beam import pipeline_options

    options = pipeline_options(
        BeamParams(direct_num_workers=2, options={"project": "p", "region": "europe-west1"})
    )
    assert options.view_as(GoogleCloudOptions).project == "p"
    assert options.view_as(GoogleCloudOptions).region == "europe-west1"
    assert options.view_as(DirectOptions).direct_num_workers == 2
    with pytest.raises(ConfigError, match="unknown Beam pipeline option 'projct'.*project"):
        pipeline_options(BeamParams(options={"projct": "p"}))
    with pytest.raises(ConfigError, match="set executor.params.runner, not"):
        pipeline_options(BeamParams(options={"runner": "DataflowRunner"}))


def test_the_direct_runner_never_starts_prism():
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    from linernotes_batch.beam import make_runner, pipeline_options

    assert isinstance(make_runner(pipeline_options(BeamParams())), FnApiRunner)
    assert make_runner(pipeline_options(BeamParams(runner="FlinkRunner"))) == "FlinkRunner"


def documented_runner_overrides():
    """(file, overrides) of every `linernotes batch` example in README.md and docs/batch.md
    that sets a runner."""
    import re
    import shlex

    root = Path(__file__).parents[3]
    for name in ("README.md", "docs/batch.md"):
        for block in re.findall(r"```bash\n(.*?)```", (root / name).read_text(), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                if line.startswith("linernotes batch") and "executor.params.runner=" in line:
                    words = shlex.split(line, comments=True)
                    yield name, [w for w in words if "=" in w and not w.startswith("-")]


@pytest.mark.parametrize("name,overrides", list(documented_runner_overrides()))
def test_the_documented_runner_flags_are_valid(name, overrides):
    from linernotes_batch.beam import pipeline_options

    params = executor_params(compose(overrides).executor)
    assert params.runner in ("DataflowRunner", "FlinkRunner", "SparkRunner")
    options = pipeline_options(params).get_all_options()
    for key, value in params.options.items():
        assert options[key] == value


def test_readme_and_docs_show_dataflow_flink_and_spark():
    shown = {
        (name, o.split("=")[1])
        for name, overrides in documented_runner_overrides()
        for o in overrides
        if o.startswith("executor.params.runner=")
    }
    runners = ("DataflowRunner", "FlinkRunner", "SparkRunner")
    assert shown == {(n, r) for n in ("README.md", "docs/batch.md") for r in runners}
