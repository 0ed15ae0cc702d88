"""flexconv bench results as a pipeline: sweep (reuse, resume), collect (every committed record, one schema),
judge (verdicts and their t-tests), render (the committed page and results.json, byte for byte)."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import re
import shutil
import socket
from pathlib import Path

import pytest
from scipy import stats

from flexconv.cli.results import main
from flexconv.experiments.results import sweep
from flexconv.experiments.results.claims import Beats, Below, Best, Distinct, Paired
from flexconv.experiments.results.judge import (
    DOES_NOT_HOLD,
    HOLDS,
    INCONCLUSIVE,
    NOT_TESTED,
    ONE_SAMPLE,
    PAIRED,
    WELCH,
    Stat,
)
from flexconv.experiments.results.render import page, results_json
from flexconv.experiments.results.study import STUDIES, run_study
from flexconv.experiments.results.sweep import Context, Row, Runs
from flexconv.experiments.results.table import RUN_RECORD, SCHEMA_VERSION, collect, read_record

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
COMMITTED_INVOCATION = "flexconv bench results --seeds 3 --override num_threads=1 --finished-only"


# -- collect --------------------------------------------------------------------------------------
def test_collect_reads_every_committed_record_under_one_schema(tmp_path: Path) -> None:
    files = sorted((DOCS / "records").rglob("*.json"))
    table = collect(DOCS, tmp_path / "no_runs")
    assert len(table) == len(files) > 100
    assert {record.schema_version for record in table} == {SCHEMA_VERSION}
    assert {record.study for record in table} <= set(STUDIES)
    assert all(record.result and record.config["seed"] == record.seed for record in table)
    assert all("device" in record.result for record in table)  # the wall time's device is never guessed


def test_a_record_of_another_schema_is_refused_naming_the_file(tmp_path: Path) -> None:
    old = tmp_path / "records" / "s" / "row" / "seed0.json"
    old.parent.mkdir(parents=True)
    old.write_text(json.dumps({"config": {"seed": 0}, "result": {"test_acc": 0.5}}))  # written before versions
    with pytest.raises(ValueError, match=r"seed0\.json: a results record of schema version None; this version reads 1"):
        collect(tmp_path, tmp_path / "runs")


# -- judge ----------------------------------------------------------------------------------------
def runs_of(**rows: list[float]) -> Runs:
    """A tiny in-memory table: each row's test accuracies over seeds."""
    return Runs(results={key: [{"test_acc": value} for value in values] for key, values in rows.items()})


CLEAR = ([0.90, 0.91, 0.92], [0.50, 0.56, 0.44])  # unequal spreads: Welch differs from Student
NOISY = ([0.80, 0.90, 0.85], [0.78, 0.84, 0.80])  # 4 points apart, p about 0.3
CLAIM = Beats("a beats b.", "a", "b", "A", "B")


def test_a_clear_difference_holds_with_scipys_welch_t_and_p() -> None:
    verdict = CLAIM.judge(runs_of(a=CLEAR[0], b=CLEAR[1]))
    expected = stats.ttest_ind(*CLEAR, equal_var=False)
    assert verdict.verdict == HOLDS and verdict.test == WELCH and verdict.n == (3, 3)
    assert verdict.t == pytest.approx(expected.statistic, rel=1e-12) and verdict.t > 0
    assert verdict.p == pytest.approx(expected.pvalue, rel=1e-12) and verdict.p < 0.05
    assert verdict.difference == pytest.approx(0.41)
    assert verdict.evidence == f"A 91.00 ± 1.00 vs B 50.00 ± 6.00, p = {expected.pvalue:.3f}"


def test_a_reversed_difference_does_not_hold() -> None:
    verdict = CLAIM.judge(runs_of(a=CLEAR[1], b=CLEAR[0]))
    assert verdict.verdict == DOES_NOT_HOLD and verdict.t is not None and verdict.t < 0
    lower_is_better = Beats("a loses less.", "a", "b", "A", "B", higher=False)
    assert lower_is_better.judge(runs_of(a=CLEAR[1], b=CLEAR[0])).verdict == HOLDS


def test_a_difference_within_the_noise_is_inconclusive_and_one_seed_has_no_spread() -> None:
    verdict = CLAIM.judge(runs_of(a=NOISY[0], b=NOISY[1]))
    assert verdict.verdict == INCONCLUSIVE
    assert (
        verdict.p == pytest.approx(stats.ttest_ind(*NOISY, equal_var=False).pvalue, rel=1e-12)
        and 0.05 < verdict.p < 0.5
    )
    single = CLAIM.judge(runs_of(a=[0.9], b=[0.5]))
    assert single.verdict == INCONCLUSIVE and single.p is None and "one seed" in single.evidence


def test_missing_rows_are_not_tested_yet() -> None:
    verdict = CLAIM.judge(runs_of(a=[0.9, 0.8], b=[]))
    assert verdict.verdict == NOT_TESTED and verdict.test is None
    assert verdict.evidence == "B: no finished run at this budget yet"
    assert Below("c.", "b", "test_acc", "loss", ("trivial", 1.0)).judge(runs_of(a=[], b=[])).verdict == NOT_TESTED


def test_the_best_row_is_decided_by_the_means_leaving_out_rows_without_a_number() -> None:
    runs = Runs(results={"a": [{"psnr": 50.0}], "b": [{"psnr": 57.94}], "c": [{"psnr": math.nan}], "d": []})
    among = (("c", "C"), ("a", "A"), ("b", "B"), ("d", "D"))  # NaN first: max() would keep it
    verdict = Best("A fits best.", "a", among, "psnr", unit=" dB").judge(runs)
    assert (verdict.verdict, verdict.evidence, verdict.test) == (DOES_NOT_HOLD, "best B 57.9 dB, A 50.0 dB", None)
    assert Best("B fits best.", "b", among, "psnr").judge(runs).verdict == HOLDS
    assert Best("A errs least.", "a", among, "psnr", higher=False).judge(runs).verdict == HOLDS
    assert Best("D fits best.", "d", among, "psnr").judge(runs).verdict == NOT_TESTED


def test_a_claim_given_a_precondition_is_tested_only_while_it_holds() -> None:
    runs = Runs(
        results={
            k: [{"test_acc": v, "freq": f} for v in vs] for k, vs, f in (("a", CLEAR[0], 1.0), ("b", CLEAR[1], 3.0))
        }
    )
    plain = Beats("c.", "a", "b", "A", "B").judge(runs)
    assert Beats("c.", "a", "b", "A", "B", given=("a", "freq", 1.1, "at {value}")).judge(runs) == plain
    unmet = Beats("c.", "a", "b", "A", "B", given=("b", "freq", 1.1, "at {value}")).judge(runs)
    assert (unmet.verdict, unmet.test) == (NOT_TESTED, None)
    assert unmet.evidence == f"at 3.00 ± 0.00; measured: {plain.evidence}"


def test_a_bound_is_tested_with_scipys_one_sample_t_test() -> None:
    losses = [0.010, 0.012, 0.011]
    verdict = Below("it solves the task.", "a", "test_acc", "loss", ("trivial", 0.2)).judge(runs_of(a=losses))
    expected = stats.ttest_1samp(losses, 0.02)
    assert verdict.verdict == HOLDS and verdict.test == ONE_SAMPLE and verdict.n == (3,)
    assert verdict.p == pytest.approx(expected.pvalue, rel=1e-12)
    assert verdict.t == pytest.approx(-expected.statistic, rel=1e-12)  # the bound minus the mean: the claim's way
    above = Below("c.", "a", "test_acc", "loss", ("trivial", 0.2), short_budget="after 1 epoch").judge(
        runs_of(a=[0.5, 0.6])
    )
    assert above.verdict == NOT_TESTED and "too short a budget" in above.evidence


def test_a_margin_is_welchs_test_of_the_shifted_sample() -> None:
    full, dropped = [0.95, 0.96, 0.94], [0.93, 0.94, 0.92]  # 2 points lost
    verdict = Beats("small loss.", "b", "a", "B", "A", margin=0.05).judge(runs_of(a=full, b=dropped))
    expected = stats.ttest_ind([v + 0.05 for v in dropped], full, equal_var=False)
    assert verdict.verdict == HOLDS and verdict.evidence.startswith("B 93.00 ± 1.00 vs A 95.00 ± 1.00, 5 points of")
    assert verdict.p == pytest.approx(expected.pvalue, rel=1e-9)
    tight = runs_of(a=[0.950, 0.951, 0.949], b=[0.930, 0.931, 0.929])  # 2 points lost, far more than 1
    assert Beats("c.", "b", "a", "B", "A", margin=0.01).judge(tight).verdict == DOES_NOT_HOLD
    losses = runs_of(a=[0.10, 0.11, 0.12], b=[0.12, 0.13, 0.14])  # lower is better: b 2 points worse than a
    assert Beats("c.", "b", "a", "B", "A", higher=False, margin=0.05).judge(losses).verdict == HOLDS


def test_a_paired_claim_is_the_paired_t_test_of_the_sets_means() -> None:
    flex, rocket = [[0.95, 0.96], [0.80, 0.82], [0.91, 0.93]], [[0.96, 0.96], [0.83, 0.83], [0.92, 0.94]]
    runs = runs_of(**{f"f{i}": v for i, v in enumerate(flex)}, **{f"r{i}": v for i, v in enumerate(rocket)})
    keys = [tuple(f"{side}{i}" for i in range(3)) for side in "fr"]
    means = [[sum(v) / 2 for v in side] for side in (flex, rocket)]
    within = Paired("within 5 points.", keys[0], keys[1], "F", "R", margin=-0.05).judge(runs)
    expected = stats.ttest_rel([m + 0.05 for m in means[0]], means[1])
    assert within.verdict == HOLDS and within.test == PAIRED and within.n == (3,)
    assert within.p == pytest.approx(expected.pvalue, rel=1e-9) and within.t == pytest.approx(expected.statistic)
    assert Paired("beats.", keys[0], keys[1], "F", "R").judge(runs).verdict == INCONCLUSIVE
    published = Paired("beats published.", keys[0], (0.5, 0.5, 0.5), "F", "paper").judge(runs)
    assert published.verdict == HOLDS and "averages over 3 sets: F 89.50, paper 50.00" in published.evidence
    unfinished = runs_of(f0=[0.9], r0=[0.8], missing=[])
    assert Paired("c.", ("f0", "missing"), ("r0", "r0"), "F", "R").judge(unfinished).verdict == NOT_TESTED


def test_kernel_sizes_differ_between_layers_or_between_rows() -> None:
    def sized(*learned: list[list[int]]) -> list[dict[str, object]]:
        return [{"kernel_sizes": {"learned": sizes}} for sizes in learned]

    runs = Runs(results={"a": sized([[3], [5]]), "b": sized([[3], [5]]), "c": sized([[7], [7]]), "d": []})
    assert Distinct("layers.", ("a",)).judge(runs).verdict == HOLDS
    assert Distinct("layers.", ("c",)).judge(runs).verdict == DOES_NOT_HOLD
    assert Distinct("rows.", ("a", "c")).judge(runs).verdict == HOLDS
    same = Distinct("rows.", ("a", "b", "c")).judge(runs)
    assert (same.verdict, same.evidence) == (DOES_NOT_HOLD, "2 distinct per-layer size lists over 3 sets")
    assert Distinct("rows.", ("d",)).judge(runs).verdict == NOT_TESTED


def test_stat_formats_mean_and_std_over_seeds() -> None:
    assert Stat.of([0.5, None, 0.7]).fmt() == "60.00 ± 14.14"  # type: ignore[union-attr]
    assert Stat.of([None]) is None
    seeds = Stat.of([0.5, 0.7])
    assert seeds is not None and seeds.fmt(1, 3, "g") == "0.6 ± 0.141"
    assert Stat(6.520980e-06, 0.0, 1).fmt(1, 3, "g") == "6.52e-06"


# -- render ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_committed_page_and_json_are_rendered_from_the_committed_records(tmp_path: Path) -> None:
    """The committed docs/results.md and docs/results.json, byte for byte, from docs/records alone (no run
    folders, nothing trained): the page cannot drift from its records."""
    out = tmp_path / "docs"
    shutil.copytree(DOCS / "records", out / "records")
    ctx = Context(
        fast=False,
        seeds=[0, 1, 2],
        out=out,
        runs=Path("runs/results"),  # relative, as in the committed header; nothing there in this folder
        extra=("num_threads=1",),
        invocation=COMMITTED_INVOCATION,
        finished_only=True,
    )
    (out / "figures").mkdir(parents=True)
    sections = [run_study(study, ctx) for study in STUDIES.values()]
    rendered = page(sections, invocation=ctx.invocation, fast=False, seeds=ctx.seeds, runs=ctx.runs, finished_only=True)
    assert rendered == (DOCS / "results.md").read_text()
    assert results_json(sections) == (DOCS / "results.json").read_text()


def test_results_json_carries_every_claim_of_the_page_with_its_test() -> None:
    table = json.loads((DOCS / "results.json").read_text())
    sentences = re.findall(r"^- \*\*Claim:\*\* .+$", (DOCS / "results.md").read_text(), flags=re.M)
    claims = table["claims"]
    assert len(claims) == len(sentences) > 20
    for claim in claims:
        assert f"- **Claim:** {claim['claim']} **Here:** {claim['verdict']} ({claim['evidence']})." in sentences
        if claim["verdict"] in (HOLDS, DOES_NOT_HOLD) and claim["test"] is not None:
            assert claim["p"] < 0.05 and f"p = {claim['p']:.3f}" in claim["evidence"]


# -- sweep ----------------------------------------------------------------------------------------
TINY = ("trainer.max_steps=2", "data.limit_train=64", "data.limit_test=64", "trainer.limit_val_batches=1")
ROW = Row("flextcn", "FlexTCN", "mnist1d_flextcn")


def test_a_finished_row_is_recorded_reused_and_recorded_again_only_for_another_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = Context(fast=False, seeds=[0], out=tmp_path / "docs", runs=tmp_path / "runs", extra=TINY)
    root_handlers = list(logging.getLogger().handlers)
    first = sweep.run_rows([ROW], ctx, "toy").results["flextcn"][0]
    assert logging.getLogger().handlers == root_handlers  # Hydra's logging set-up stays off
    assert sorted(p.name for p in tmp_path.rglob("*") if p.name in (".hydra", "multirun", "outputs")) == []
    committed = read_record(tmp_path / "docs" / "records" / "toy" / "FlexTCN" / "seed0.json")
    in_run = read_record(tmp_path / "runs" / "toy" / "FlexTCN" / "seed0" / RUN_RECORD)
    assert committed == in_run and committed.result["test_acc"] == first["test_acc"]
    assert len(first["kernel_sizes"]["learned"]) == 8 and first["kernel_sizes"]["grid"] == [79]

    def no_training(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a finished row was trained again")

    monkeypatch.setattr("flexconv.train.commands.train", no_training)
    assert sweep.run_rows([ROW], ctx, "toy").results["flextcn"] == [first]  # from its run folder
    shutil.rmtree(tmp_path / "runs")  # a fresh machine: only the committed record
    assert sweep.run_rows([ROW], ctx, "toy").results["flextcn"] == [first]
    other = Context(fast=False, seeds=[0], out=ctx.out, runs=ctx.runs, extra=(*TINY, "model.dropout=0.2"))
    with pytest.raises(AssertionError, match="trained again"):
        sweep.run_rows([ROW], other, "toy")
    finished_only = Context(fast=False, seeds=[0, 1], out=ctx.out, runs=ctx.runs, extra=TINY, finished_only=True)
    assert sweep.run_rows([ROW], finished_only, "toy").results["flextcn"] == [first]  # seed 1 left out


def test_a_row_stopped_mid_training_resumes_from_its_last_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A config written by this version equals itself without any fill: the interrupted run is resumed."""
    from flexconv.train import commands

    ctx = Context(
        fast=True, seeds=[0], out=tmp_path / "docs", runs=tmp_path / "runs", extra=(*TINY, "trainer.max_steps=4")
    )
    first = sweep.run_rows([ROW], ctx, "toy").results["flextcn"][0]
    run_dir = tmp_path / "runs" / "toy" / "FlexTCN" / "seed0"
    (run_dir / RUN_RECORD).unlink()  # as if stopped after its last checkpoint, before it was recorded
    seen: list[object] = []
    real_train = commands.train

    def recording_train(cfg, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(cfg.resume)
        return real_train(cfg, *args, **kwargs)

    monkeypatch.setattr(commands, "train", recording_train)
    again = sweep.run_rows([ROW], ctx, "toy").results["flextcn"][0]
    assert seen == [str(run_dir)] and again["test_acc"] == first["test_acc"]
    assert read_record(run_dir / RUN_RECORD).config["resume"] is None
    (run_dir / RUN_RECORD).unlink()  # a folder holding another config's run is trained from scratch
    other = Context(fast=True, seeds=[0], out=ctx.out, runs=ctx.runs, extra=(*ctx.extra, "model.dropout=0.2"))
    sweep.run_rows([ROW], other, "toy")
    assert seen == [str(run_dir), None]


def test_a_rows_unfinished_seeds_run_as_one_hydra_multirun_of_its_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = Context(fast=True, seeds=[0, 1, 2], out=tmp_path / "docs", runs=tmp_path / "runs", extra=TINY)
    sweep.run_rows([ROW], dataclasses.replace(ctx, seeds=[1]), "toy")  # seed 1 finished earlier
    launched: list[list[str]] = []
    real_launch = sweep.launch

    def recording_launch(overrides: list[str], job: object, jobs: int) -> None:
        launched.append(overrides)
        real_launch(overrides, job, jobs)  # type: ignore[arg-type]  # the sweep's job

    monkeypatch.setattr(sweep, "launch", recording_launch)
    runs = sweep.run_rows([ROW], ctx, "toy")
    row_dir = tmp_path / "runs" / "toy" / "FlexTCN"
    ((*command, seeds, run_dir),) = launched
    assert (seeds, run_dir) == ("seed=0,2", f"run_dir='{row_dir}/seed${{seed}}'")
    assert command == [*sweep.command(ROW, ctx, "toy"), *sweep.QUIET]
    in_folders = [read_record(row_dir / f"seed{seed}" / RUN_RECORD) for seed in (0, 1, 2)]
    assert [record.config["seed"] for record in in_folders] == [0, 1, 2]
    assert [record.result for record in in_folders] == runs.results["flextcn"]


def test_crossres_rows_run_through_the_multirun_and_a_row_folder_another_process_holds_is_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from flexconv.data.fake import make_fake_tree
    from flexconv.train.run_dir import LOCK_NAME

    data = f"data.root={make_fake_tree('fashion_mnist', tmp_path / 'data')}"
    tiny = (data, "data.batch_size=8", "data.limit_train=32", "data.limit_test=16", "trainer.max_epochs=1")
    model = ("model.conv.horizon=15", "model.hidden_channels=8", "model.num_blocks=1")
    extra = (*tiny, *model, "model.conv.kernel_net.hidden_channels=8", "crossres.finetune_epochs=1")
    ctx = Context(fast=False, seeds=[0, 1], out=tmp_path / "docs", runs=tmp_path / "runs", extra=extra)
    held = tmp_path / "runs" / "toy" / "FlexNet" / "seed1"
    held.mkdir(parents=True)
    (held / LOCK_NAME).write_text(f"{os.getpid()} {socket.gethostname()}\n")  # a live holder
    runs = sweep.run_rows([Row("flexnet", "FlexNet", "fashion_crossres_14_28")], ctx, "toy", program="crossres")
    (result,) = runs.results["flexnet"]
    assert result["params"] > 0 and 0 <= result["finetuned_acc"] <= 1
    assert read_record(held.parent / "seed0" / RUN_RECORD).result == result and not (held / RUN_RECORD).exists()
    assert [p.name for p in (tmp_path / "docs" / "records" / "toy" / "FlexNet").iterdir()] == ["seed0.json"]
    assert f"{held}: left out" in caplog.text and not (held / "source").exists()


def test_jobs_train_the_row_seeds_in_worker_processes_and_keep_seed_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_training_here(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("trained in this process, not in a worker")

    monkeypatch.setattr("flexconv.train.commands.train", no_training_here)  # a worker process has the real one
    ctx = Context(fast=False, seeds=[0, 1], out=tmp_path / "docs", runs=tmp_path / "runs", extra=TINY, jobs=2)
    runs = sweep.run_rows([ROW], ctx, "toy")
    committed = [read_record(tmp_path / "docs" / "records" / "toy" / "FlexTCN" / f"seed{s}.json") for s in (0, 1)]
    assert [record.result for record in committed] == runs.results["flextcn"]
    assert [record.config["seed"] for record in committed] == [0, 1]


def test_the_command_refuses_unknown_studies_and_rows(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="unknown studies"):
        main(["results", "--studies", "nope", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match=r"unknown rows \['flexnet'\] in studies mnist1d"):
        main(["results", "--studies", "mnist1d", "--rows", "flexnet", "--out", str(tmp_path)])


# -- docs/extending.md: a new study's files ---------------------------------------------------------
def test_the_adding_a_study_section_names_the_files_every_study_needs() -> None:
    """The section's Touches line names a study's YAML file and the page order; every study is such a file, every
    file of the folder is on the page, and the registry is nothing but that order."""
    from flexconv.experiments.results import study

    text = (REPO / "docs" / "extending.md").read_text()
    section = text[text.index("\n## Adding a study") :]
    named = re.findall(r"`([^`]+)`", section.rstrip("\n").splitlines()[-1])
    assert named == ["flexconv/experiments/results/studies/<name>.yaml", "flexconv/experiments/results/study.py"]
    folder = REPO / "flexconv" / "experiments" / "results" / "studies"
    assert study.STUDY_FILES == folder and sorted(p.stem for p in folder.glob("*.yaml")) == sorted(STUDIES)
    assert list(STUDIES) == list(study.PAGE_ORDER)
    assert "yaml" in (REPO / "pyproject.toml").read_text().split("[tool.setuptools.package-data]")[1].split("\n")[1]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("title: t\nclaims:\n- {kind: nope, claim: c}\n", "unknown kind 'nope'"),
        ("title: t\nrows:\n- {key: a, name: A, experimnet: mnist1d_flextcn}\n", "Row has no field 'experimnet'"),
        ("title: t\nfigures:\n- {kind: bars, file: f.png}\n", "missing 2 required positional arguments"),
    ],
)
def test_a_study_file_that_is_not_a_study_is_refused_naming_the_file_and_the_problem(
    tmp_path: Path, text: str, problem: str
) -> None:
    from flexconv.experiments.results.study import load_study

    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(ValueError, match=f"bad.yaml: not a study: .*{re.escape(problem)}"):
        load_study(tmp_path / "bad.yaml")
