"""Each workspace member builds alone, and the core wheel carries the config tree."""

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
MEMBERS = [
    "linernotes",
    "linernotes-retrievers",
    "linernotes-rankers",
    "linernotes-generators",
    "linernotes-safety",
    "linernotes-hello",
    "linernotes-tuning",
    "linernotes-batch",
    "linernotes-serve",
]


@pytest.mark.slow
@pytest.mark.parametrize("dist", MEMBERS)
def test_each_package_builds_alone(dist, tmp_path):
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv is needed to build the workspace packages"
    subprocess.run(
        [uv, "build", "--package", dist, "-o", str(tmp_path), "-q"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    module = dist.replace("-", "_")
    assert any(n.startswith(f"{module}/") for n in names)
    if dist == "linernotes":
        for group in (
            "config.yaml",
            "dataset/",
            "retrievers/",
            "ranker/",
            "generator/",
            "safety/",
            "experiment/",
        ):
            assert any(n.startswith(f"linernotes/conf/{group}") for n in names), group
    assert list(tmp_path.glob("*.tar.gz"))
