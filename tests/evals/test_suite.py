"""Suites and datasets: valid files load; every problem is a SuiteInvalid naming where."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eval_helpers import FIXTURES, quiz_suite, write_suite

from workbench.errors import SuiteInvalid
from workbench.evals import Suite, load_dataset


def test_fixture_suite_loads_with_paths_relative_to_it() -> None:
    suite = Suite.from_yaml(FIXTURES / "improve.yaml")
    assert suite.name == "improve"
    assert suite.dataset == (FIXTURES / "datasets/quiz.jsonl").resolve()
    assert set(suite.versions) == {"v1", "v2"}
    assert [s.key for s in suite.scorers] == ["numeric", "includes"]
    assert suite.gate is not None
    assert suite.gate.metrics["numeric"].margin == 0.05
    specs = suite.agent_specs()
    assert specs["v2"].model == "scripted/quiz_right"
    assert len(suite.samples()) == 30


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("colour: blue\n", "colour"),
        ("epochs: 0\n", "epochs"),
        ("reducer: median\n", "reducer"),
        ("concurrency: -1\n", "concurrency"),
        ("judge: {model: scripted/j, rubric: r, stage: sometimes}\n", "judge.stage"),
    ],
)
def test_bad_field_names_file_and_field(tmp_path: Path, extra: str, field: str) -> None:
    path = quiz_suite(tmp_path, "bad", extra=extra)
    with pytest.raises(SuiteInvalid) as info:
        Suite.from_yaml(path)
    assert str(path) in info.value.message
    assert field in info.value.message


def test_gate_must_name_known_versions_and_metrics(tmp_path: Path) -> None:
    body = """name: g
dataset: FIX/datasets/quiz_small.jsonl
versions: {v1: FIX/agents/quiz_right.yaml}
scorers: [{name: numeric}]
gate: {baseline: v1, candidate: v9, metrics: {numeric: {margin: 0.1}}}
"""
    with pytest.raises(SuiteInvalid, match="version 'v9' is not in versions"):
        Suite.from_yaml(write_suite(tmp_path, "g", body))
    body = body.replace("v9", "v1").replace("{numeric: {margin", "{accuracy: {margin")
    with pytest.raises(SuiteInvalid, match="'accuracy' is not a metric"):
        Suite.from_yaml(write_suite(tmp_path, "g", body))


def test_unknown_scorer_and_bad_scorer_args(tmp_path: Path) -> None:
    path = quiz_suite(tmp_path, "s", gate=False)
    text = path.read_text().replace("{name: numeric}", "{name: numerc}")
    path.write_text(text)
    with pytest.raises(SuiteInvalid, match=r"scorers\.0: unknown scorer 'numerc'"):
        Suite.from_yaml(path)
    path.write_text(text.replace("{name: numerc}", "{name: numeric, args: {tolerence: 1}}"))
    with pytest.raises(SuiteInvalid, match=r"scorers\.0: scorer 'numeric': bad args"):
        Suite.from_yaml(path)


def test_missing_and_non_yaml_files(tmp_path: Path) -> None:
    with pytest.raises(SuiteInvalid, match="suite not found"):
        Suite.from_yaml(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(SuiteInvalid, match="not valid YAML"):
        Suite.from_yaml(bad)


def _dataset(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_dataset_lines_parse_with_ids_targets_and_metadata(tmp_path: Path) -> None:
    path = _dataset(
        tmp_path,
        [
            json.dumps({"id": 1, "input": "a", "target": 2}),
            "",
            "// a comment",
            json.dumps({"id": "b", "input": "b", "metadata": {"expected_tools": ["sql"]}}),
        ],
    )
    samples = load_dataset(path)
    assert [s.id for s in samples] == ["1", "b"]
    assert samples[0].target == 2
    assert samples[1].target is None
    assert samples[1].metadata == {"expected_tools": ["sql"]}


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            ['{"id": "a", "input": "x"}', '{"id": "a", "input": "y"}'],
            "line 2: duplicate id 'a' (first on line 1)",
        ),
        (['{"id": "a", "input": "x"}', "{not json"], "line 2: not valid JSON"),
        (['{"id": "a", "input": "x"}', "[1, 2]"], "line 2: must be a JSON object"),
        (['{"id": "a"}'], "line 1: input: Field required"),
        (['{"id": "a", "input": "x", "extra": 1}'], "line 1: extra: Extra inputs"),
    ],
)
def test_bad_dataset_lines_name_the_line(tmp_path: Path, lines: list[str], message: str) -> None:
    path = _dataset(tmp_path, lines)
    with pytest.raises(SuiteInvalid) as info:
        load_dataset(path)
    assert str(path) in info.value.message
    assert message in info.value.message


def test_empty_or_missing_dataset(tmp_path: Path) -> None:
    with pytest.raises(SuiteInvalid, match="has no samples"):
        load_dataset(_dataset(tmp_path, [""]))
    with pytest.raises(SuiteInvalid, match="dataset not found"):
        load_dataset(tmp_path / "missing.jsonl")
