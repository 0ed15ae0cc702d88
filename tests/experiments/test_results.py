"""flexconv bench results: studies run through train(cfg), the page quotes their commands and
generates its verdicts from the numbers; studies without data are skipped with the reason."""

from __future__ import annotations

import functools
import json
import math
import statistics
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from flexconv.experiments.results import study as study_module
from flexconv.experiments.results.command import main
from flexconv.experiments.results.report import (
    Section,
    SeedTest,
    Stat,
    against_reference,
    better,
    merge_entries,
    verdict,
)
from flexconv.experiments.results.runner import FAST_TRAIN, Context, Row, Runs, folder_name
from flexconv.experiments.results.studies import STUDIES
from flexconv.experiments.results.study import (
    Bars,
    Beats,
    Below,
    Change,
    Given,
    Reference,
    Study,
    Table,
    entries,
    tables_body,
)


def test_stat_and_verdicts_follow_the_numbers() -> None:
    a, b = Stat.of([0.90, 0.92]), Stat.of([0.80])
    assert a.fmt() == "91.00 ± 1.41" and b.fmt() == "80.00"
    assert Stat.of([None]) is None
    outcome, evidence = better(a, b, "A", "B")  # one seed of B: no spread to test against
    assert outcome == "inconclusive" and "A 91.00 ± 1.41 vs B 80.00, one seed: no spread to test against" == evidence
    outcome, evidence = better(a, Stat.of([0.80, 0.81]), "A", "B")
    assert outcome == "holds" and evidence.endswith("p = 0.027")  # scipy.stats.ttest_ind(equal_var=False)
    assert "does not hold" in verdict("B beats A.", *better(Stat.of([0.80, 0.81]), a, "B", "A"))
    outcome, evidence = better(Stat.of([0.5, 0.7]), Stat.of([0.55, 0.56]), "x", "y")
    assert outcome == "inconclusive"  # 0.60 > 0.555 on the mean, but well inside the spread of x
    outcome, evidence = better(
        Stat.of([0.0032, 0.0030]), Stat.of([0.1739, 0.1801]), "wide", "narrow", higher=False, scale=1.0, digits=4
    )
    assert outcome == "holds" and "wide 0.0031 ± 0.0001 vs narrow 0.1770 ± 0.0044" in evidence  # lower loss wins
    assert "below" in against_reference("net", Stat.of([0.5]), "ref", 0.9)


@pytest.mark.parametrize(
    "a, b",
    [([0.91, 0.93, 0.92], [0.90, 0.89, 0.93]), ([0.5, 0.7, 0.6], [0.1, 0.2]), ([80.0, 80.5, 79.0], [70.0, 70.1, 69.5])],
)
def test_the_seed_test_is_welchs_t_test_on_the_seeds(a: list[float], b: list[float]) -> None:
    from scipy import stats

    test = SeedTest.of(statistics.fmean(a) - statistics.fmean(b), Stat.of(a), Stat.of(b))
    assert test.p == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-9)
    one_sample = SeedTest.of(0.95 - statistics.fmean(a), Stat.of(a))
    assert one_sample.p == pytest.approx(stats.ttest_1samp(a, 0.95).pvalue, rel=1e-9)
    assert test.outcome == ("inconclusive" if test.p >= 0.05 else "holds")


def test_a_study_written_as_data_lays_out_tables_notes_figure_and_claims(tmp_path: Path) -> None:
    study = Study(
        "toy",
        "Toy",
        rows=(
            Row("small", "small net", "main_job"),
            Row("wide", "wide net", "main_job", ("model.hidden_channels=64",)),
        ),
        tables=(Table(("wide", "small")),),
        notes=("A note.",),
        figure=Bars("toy.png", "toy accuracy", "accuracy (%)"),
        claims=(
            Beats("wide beats small.", "wide", "small", "wide", "small"),
            Reference("small", "small", "a paper", 0.5),
        ),
    )
    runs = Runs(
        results={
            "small": [{"test_acc": 0.6, "params": 1200, "wall_time_s": 3.0}],
            "wide": [{"test_acc": 0.8, "params": 5000, "wall_time_s": 5.0}],
        },
        commands={"small": "cmd small", "wide": "cmd wide"},
    )
    ctx = Context(fast=False, seeds=[0], out=tmp_path, runs=tmp_path / "runs")
    ctx.figures.mkdir()
    lines, raw = tables_body(study, runs, ctx)
    assert lines == [
        "| model | test accuracy (%) | seeds | parameters | wall time (s) | command |",
        "|---|---|---|---|---|---|",
        "| wide net | 80.00 | 1 | 5,000 | 5 | `cmd wide` |",
        "| small net | 60.00 | 1 | 1,200 | 3 | `cmd small` |",
        "",
        "A note.",
        "",
        "![toy accuracy](figures/toy.png)",
        "",
        "- **Claim:** wide beats small. **Here:** inconclusive (wide 80.00 vs small 60.00, one seed: no spread to test "
        "against).",
        "- small reaches 60.00 %, 10.0 points above a paper (50.0 %).",
    ]
    assert raw is runs.results and (ctx.figures / "toy.png").stat().st_size > 0
    assert entries(study, runs) == [
        {
            "study": "toy",
            "row": "wide",
            "name": "wide net",
            "metric": "test_acc",
            "mean": 0.8,
            "std": 0.0,
            "seeds": 1,
            "params": 5000,
            "command": "cmd wide",
        },
        {
            "study": "toy",
            "row": "small",
            "name": "small net",
            "metric": "test_acc",
            "mean": 0.6,
            "std": 0.0,
            "seeds": 1,
            "params": 1200,
            "command": "cmd small",
            "baseline": {"name": "a paper", "value": 0.5},
        },
    ]


def test_rows_without_a_finished_seed_say_so_and_their_claims_are_not_judged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = Study(
        "toy",
        "Toy",
        rows=(Row("a", "net a", "main_job"), Row("b", "net b", "main_job")),
        figure=Bars("toy.png", "toy accuracy", "accuracy (%)"),
        claims=(Beats("a beats b.", "a", "b", "a", "b"), Reference("a", "a", "a paper", 0.5)),
    )
    runs = Runs(
        results={"a": [{"test_acc": 0.6, "params": 10, "wall_time_s": 3.0}], "b": []},
        commands={"a": "cmd a", "b": "cmd b"},
    )
    ctx = Context(fast=False, seeds=[0, 1], out=tmp_path, runs=tmp_path / "runs")
    ctx.figures.mkdir()
    drawn: list[list[str]] = []
    monkeypatch.setattr(study_module, "bar_figure", lambda names, series, path, ylabel: drawn.append(names))
    lines, _ = tables_body(study, runs, ctx)
    assert drawn == [["net a"]]  # no empty slot for b
    assert "| net b | no finished run at this budget yet | 0 | – | – | `cmd b` |" in lines
    assert "- **Claim:** a beats b. **Here:** not tested yet (b: no finished run at this budget yet)." in lines
    assert entries(study, runs)[1]["mean"] is None and entries(study, runs)[1]["seeds"] == 0
    runs.results["a"] = []
    assert "not tested yet" in Below("a is small.", "a", "test_acc", 0.1, "acc").lines(runs)[0]


def test_a_bound_missed_within_a_short_budget_is_not_judged_and_one_met_holds() -> None:
    claim = Below("a solves it.", "a", "test/loss", 0.1, "loss", short_budget="after 2 of 50 epochs")
    runs = Runs(results={"a": [{"test/loss": 0.5}, {"test/loss": 0.6}]})
    assert claim.lines(runs) == [
        "- **Claim:** a solves it. **Here:** not tested yet (loss 0.5500 ± 0.0707 after 2 of 50 epochs: too short a "
        "budget to judge)."
    ]
    runs.results["a"] = [{"test/loss": 0.05}, {"test/loss": 0.04}, {"test/loss": 0.06}]
    assert claim.lines(runs) == [
        "- **Claim:** a solves it. **Here:** holds (loss 0.0500 ± 0.0100 against 0.1000, p = 0.013)."
    ]
    full_budget = Below("a solves it.", "a", "test/loss", 0.01, "loss")
    assert "**Here:** does not hold (loss 0.0500 ± 0.0100 against 0.0100, p = 0.020)" in full_budget.lines(runs)[0]
    runs.results["a"] = [{"test/loss": 0.05}]
    assert "**Here:** inconclusive (loss 0.0500 against 0.0100, one seed" in full_budget.lines(runs)[0]


def test_the_synthetic_studys_short_budgets_are_fractions_of_the_presets_epochs() -> None:
    from flexconv.experiments.results import synthetic
    from flexconv.train.config import compose_config

    for experiment, epochs in (
        ("copy_memory", synthetic.COPY_EPOCHS),
        ("copy_memory", synthetic.LONG_COPY_EPOCHS),
        ("adding_problem", synthetic.ADDING_EPOCHS),
        ("adding_problem", synthetic.LONG_ADDING_EPOCHS),
    ):
        assert compose_config([f"experiment={experiment}"]).trainer.max_epochs == synthetic.SYNTHETIC_PRESET_EPOCHS
        assert epochs < synthetic.SYNTHETIC_PRESET_EPOCHS


def test_a_claim_is_judged_only_under_its_precondition_and_a_change_is_stated_per_row() -> None:
    claim = Given(
        Beats("a drops less.", "a", "b", "a", "b", metric="drop", higher=False),
        "a",
        "ratio",
        1.0,
        "a's ratio is {value}, over 1",
    )
    runs = Runs(
        results={
            "a": [{"drop": 0.1, "ratio": 3.0, "before": 0.2, "after": 0.8}],
            "b": [{"drop": 0.5, "ratio": 9.0, "before": 0.5, "after": 0.9}],
            "c": [],
        }
    )
    assert claim.lines(runs) == [
        "- **Claim:** a drops less. **Here:** not tested yet (a's ratio is 3.00, over 1; "
        "measured: a 10.00 vs b 50.00, one seed: no spread to test against)."
    ]
    b = runs.results.pop("b")
    runs.results["b"] = []
    assert claim.lines(runs) == ["- **Claim:** a drops less. **Here:** not tested yet (a's ratio is 3.00, over 1)."]
    runs.results["b"] = b
    seeds = Runs(
        results={"a": [{"drop": 0.1, "ratio": 0.9}, {"drop": 0.12, "ratio": 0.9}], "b": [{"drop": 0.5}, {"drop": 0.52}]}
    )
    assert "**Here:** holds (a 11.00 ± 1.41 vs b 51.00 ± 1.41, p = 0.001)" in claim.lines(seeds)[0]
    change = Change("After the fix:", "before", "after", (("a", "net a"), ("c", "net c"), ("b", "net b")))
    assert change.lines(runs) == ["- After the fix: net a 20.00 → 80.00; net b 50.00 → 90.00."]


def test_bars_of_several_metrics_draw_one_labelled_bar_per_metric_and_row(tmp_path: Path) -> None:
    from matplotlib.axes import Axes

    drawn: list[tuple[list[float], list[float], str]] = []
    original = Axes.bar

    def recording_bar(self: Axes, x, height, *args, **kwargs):  # type: ignore[no-untyped-def]
        drawn.append((list(x), list(height), kwargs.get("label")))
        return original(self, x, height, *args, **kwargs)

    runs = Runs(results={"a": [{"before": 0.2, "after": 0.8}, {"before": 0.4, "after": 0.6}], "b": []})
    rows = [Row("a", "net a", "main_job"), Row("b", "net b", "main_job")]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Axes, "bar", recording_bar)
        Bars("f.png", "two metrics", "acc", (("before", "at first"), ("after", "at last"))).draw(
            rows, runs, tmp_path / "f.png"
        )
    assert [label for *_, label in drawn] == ["at first", "at last"]
    (x_before, before, _), (x_after, after, _) = drawn
    assert before == pytest.approx([30.0, 0.0]) and after == pytest.approx([70.0, 0.0])  # b has no run: no bar
    assert x_before[0] < 0 < x_after[0] < 1 and (tmp_path / "f.png").stat().st_size > 0  # side by side around row a


def test_json_entries_of_rerun_studies_replace_theirs_only() -> None:
    old = [
        {"study": "a", "row": "x"},
        {"study": "b", "row": "y"},
        {"study": "b", "row": "w"},
        {"study": "c", "row": "z"},
        {"study": "e", "row": "v"},
    ]
    new = [
        Section("d", "D", entries=[{"study": "d", "row": "u"}]),
        Section("b", "B", entries=[{"study": "b", "row": "y2"}]),
        Section("c", "c", skipped="no data"),
    ]
    assert merge_entries(old, new) == [  # in the file's order, new studies last
        {"study": "a", "row": "x"},
        {"study": "b", "row": "y2"},
        {"study": "e", "row": "v"},
        {"study": "d", "row": "u"},
    ]


def test_studies_name_their_rows_by_unique_keys() -> None:
    for study in STUDIES.values():
        keys = [row.key for row in study.rows]
        assert len(set(keys)) == len(keys), study.key
        assert all(key in keys for table in study.tables for key in table.rows), study.key


def test_unknown_study_is_refused() -> None:
    with pytest.raises(SystemExit, match="unknown studies"):
        main(["results", "--studies", "imagenet"])


def refusing_to_fit() -> Callable[..., dict]:
    """A stand-in for ``fit_kernel.run`` (its signature, whose defaults say which reports are reused) that fails."""
    from flexconv.experiments import fit_kernel as fk

    @functools.wraps(fk.run)
    def no_fitting(*_args, **_kwargs):
        raise AssertionError("kernels fitted again")

    return no_fitting


def test_fast_page_with_kernel_fitting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = [
        "results",
        "--fast",
        "--studies",
        "fit_kernel",
        "--out",
        str(tmp_path / "docs"),
        "--runs",
        str(tmp_path / "runs"),
    ]
    main(args)
    page = (tmp_path / "docs" / "results.md").read_text()

    monkeypatch.setattr("flexconv.experiments.fit_kernel.run", refusing_to_fit())
    main(args)  # the saved report of the same settings is reused
    table = lambda text: [line for line in text.split("\n") if line.startswith("| ")]  # noqa: E731
    assert table((tmp_path / "docs" / "results.md").read_text()) == table(page) != []
    assert "Fast mode" in page and "flexconv fit-kernel --iterations 60" in page
    assert page.count("| gabor |") == 4 and "**Claim:** MAGNet fits the `gabor` target best." in page
    for figure in ("fit_kernel.png", "fit_kernel_kernels.png"):
        assert (tmp_path / "docs" / "figures" / figure).stat().st_size > 0
        assert f"(figures/{figure})" in page


def test_a_full_kernel_fitting_is_recorded_and_redrawn_from_its_record_on_another_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flexconv.experiments import fit_kernel as fk

    real_run = fk.run

    @functools.wraps(real_run)
    def short_run(targets, nets, **settings):  # the original protocol's settings, but 2 iterations
        report = real_run(targets[:1], nets[:2], **{**settings, "iterations": 2})
        report["settings"]["iterations"] = settings["iterations"]
        return report

    docs = tmp_path / "docs"
    args = ["results", "--studies", "fit_kernel", "--out", str(docs)]
    monkeypatch.setattr("flexconv.experiments.fit_kernel.run", short_run)
    main([*args, "--runs", str(tmp_path / "runs")])
    page = (docs / "results.md").read_text()
    (record,) = (docs / "records" / "fit_kernel").iterdir()
    assert f"--iterations {fk.ORIGINAL_ITERATIONS}" in page and page.count("| gabor |") == 2

    monkeypatch.setattr("flexconv.experiments.fit_kernel.run", refusing_to_fit())
    main([*args, "--runs", str(tmp_path / "fresh_runs"), "--finished-only"])  # no run folder: the record
    table = lambda text: [line for line in text.split("\n") if line.startswith("| ")]  # noqa: E731
    assert table((docs / "results.md").read_text()) == table(page) != []

    report = torch.load(record, weights_only=True)
    report["settings"]["hidden"] += 1  # fitted with another default: not this protocol's record
    torch.save(report, record)
    main([*args, "--runs", str(tmp_path / "fresh_runs"), "--finished-only"])
    assert "kernel fitting has not run with these settings" in (docs / "results.md").read_text()


def test_fast_mnist1d_study_runs_through_train(tmp_path: Path) -> None:
    docs, runs = tmp_path / "docs", tmp_path / "runs"
    main(["results", "--fast", "--studies", "mnist1d", "--out", str(docs), "--runs", str(runs)])
    page = (docs / "results.md").read_text()
    fast = " ".join(FAST_TRAIN)
    for preset, row in (
        ("mnist1d_flextcn", "FlexTCN"),
        ("mnist1d_cktcn", "CKTCN (SIREN)"),
        ("mnist1d_conv3", "TCN, k=3"),
    ):
        assert f"| {row} |" in page and f"`flexconv train experiment={preset} {fast}" in page
        assert (runs / "mnist1d" / folder_name(row) / "seed0" / "summary.json").is_file()
    assert "CNN 94 %" in page and page.count("**Claim:**") == 3
    assert (docs / "figures" / "mnist1d.png").is_file()
    assert not (docs / "records").exists()  # --fast numbers are noise: never recorded
    table = json.loads((docs / "results.json").read_text())  # one entry per row, beside the page
    assert [(e["study"], e["row"], e["metric"], e["seeds"]) for e in table] == [
        ("mnist1d", key, "test_acc", 1) for key in ("flextcn", "cktcn", "conv3", "conv3_wide")
    ]
    assert table[0]["command"] == f"flexconv train experiment=mnist1d_flextcn {fast} seed=S"
    assert (
        0 <= table[0]["mean"] <= 1
        and table[0]["params"] > 0
        and table[0]["baseline"] == {"name": "the published CNN", "value": 0.94}
    )


def test_a_tasks_baseline_named_by_a_below_claim_goes_into_results_json() -> None:
    """The synthetic tasks' trivial solutions (memoryless loss, predicting the mean) travel with their rows'
    entries, as published references do with test accuracies."""
    from flexconv.data.synthetic import copy_memory_memoryless_loss

    study = STUDIES["synthetic"]
    runs = Runs(
        results={row.key: [{"test/loss": 0.01, "test_acc": 0.99}] for row in study.rows},
        commands={row.key: f"cmd {row.key}" for row in study.rows},
    )
    table = {(item["row"], item["metric"]): item for item in entries(study, runs)}
    assert table[("copy_long", "test/loss")]["baseline"]["value"] == pytest.approx(copy_memory_memoryless_loss(520))
    assert table[("copy", "test/loss")]["baseline"]["value"] == pytest.approx(copy_memory_memoryless_loss(1020))
    assert table[("adding_long", "test/loss")]["baseline"] == {
        "name": "always predicting the mean sum 1.0",
        "value": pytest.approx(1 / 6),
    }
    assert "baseline" not in table[("copy_long", "test_acc")]  # the baseline is the loss's


def test_study_without_its_data_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flexconv.data import images

    monkeypatch.setattr(images, "FASHION_SYSTEM_DIR", tmp_path / "no-system-copy")
    docs = tmp_path / "docs"
    main(
        [
            "results",
            "--fast",
            "--studies",
            "fashion_mnist",
            "--data-root",
            str(tmp_path / "empty"),
            "--out",
            str(docs),
            "--runs",
            str(tmp_path / "runs"),
        ]
    )
    page = (docs / "results.md").read_text()
    assert "— skipped" in page and "Skipped:" in page


def test_kernel_sizes_are_read_from_the_released_checkpoint_on_a_clone_without_the_run_folder(tmp_path: Path) -> None:
    """A fresh clone has the FlexNet's record but not its run folder: the section reads the released checkpoint
    that run became (the same layers as the committed page), and says so; a run that no release came from is
    skipped with the reason."""
    from flexconv.experiments.results.runner import DataUnavailable
    from flexconv.experiments.results.studies import kernel_sizes_body

    ctx = Context(fast=False, seeds=[0], out=tmp_path, runs=tmp_path / "runs")
    ctx.figures.mkdir()
    command = "flexconv train experiment=fashion_mnist_flexnet num_threads=1 seed=S"
    runs = Runs(
        results={"flexnet": [{"test_acc": 0.9373}]},
        run_dirs={"flexnet": [tmp_path / "elsewhere"]},
        commands={"flexnet": command},
    )
    lines, raw = kernel_sizes_body(STUDIES["kernel_sizes"], runs, ctx)
    assert lines[0] == (
        "From the released checkpoint `flexnet_fashion_mnist`, the best checkpoint of "
        "`flexconv train experiment=fashion_mnist_flexnet num_threads=1 seed=0`."
    )
    assert raw["sizes"] == [(5, 7), (7, 5), (11, 13), (17, 15), (27, 17), (19, 19), (29, 19)]  # docs/results.md
    assert "| blocks.2.conv2 | 29 x 19 | 29 x 29 | 0.516, 0.313 |" in lines
    assert lines[-1].startswith("- **Claim:** FlexConv learns a different kernel size per layer. **Here:** holds")
    assert all((ctx.figures / name).stat().st_size > 0 for name in ("kernel_sizes.png", "kernels_fashion_mnist.png"))
    other = Runs(
        results=runs.results, run_dirs=runs.run_dirs, commands={"flexnet": command.replace(" num_threads=1", "")}
    )
    with pytest.raises(DataUnavailable, match="no released checkpoint was trained by"):
        kernel_sizes_body(STUDIES["kernel_sizes"], other, ctx)


@pytest.mark.slow
def test_whole_fast_page(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    main(["results", "--fast", "--out", str(docs), "--runs", str(tmp_path / "runs")])
    page = (docs / "results.md").read_text()
    assert page.count("\n## ") == len(STUDIES) + 1  # every study, and the claims at a glance before them
    assert page.split("\n## ")[1].startswith("Claims at a glance\n")


def test_rerun_reuses_finished_rows_and_quotes_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs, runs = tmp_path / "docs", tmp_path / "runs"
    args = [
        "results",
        "--fast",
        "--studies",
        "mnist1d",
        "--out",
        str(docs),
        "--runs",
        str(runs),
        "--override",
        "mnist1d:trainer.max_steps=2",
    ]
    main(args)
    assert "trainer.max_steps=2" in (docs / "results.md").read_text()

    def no_training(*_args, **_kwargs):
        raise AssertionError("a finished row was trained again")

    monkeypatch.setattr("flexconv.train.commands.train", no_training)
    main(args)  # every row is reused from its row_config.yaml / row_result.json
    with pytest.raises(AssertionError, match="trained again"):  # another config is not reused
        main([*args, "--override", "mnist1d:trainer.max_steps=3"])


def test_rows_option_trains_only_the_named_rows(tmp_path: Path) -> None:
    docs, runs = tmp_path / "docs", tmp_path / "runs"
    main(["results", "--fast", "--studies", "mnist1d", "--rows", "conv3", "--out", str(docs), "--runs", str(runs)])
    assert (runs / "mnist1d" / folder_name("TCN, k=3") / "seed0" / "summary.json").is_file()
    assert not (runs / "mnist1d" / "FlexTCN").exists()
    assert "| FlexTCN | no finished run at this budget yet |" in (docs / "results.md").read_text()
    with pytest.raises(SystemExit, match=r"unknown rows \['flexnet'\] in studies mnist1d; known: cktcn, conv3"):
        main(["results", "--fast", "--studies", "mnist1d", "--rows", "flexnet", "--out", str(docs)])


def test_row_stopped_mid_training_resumes_from_its_last_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flexconv.experiments.results import runner
    from flexconv.train import commands

    ctx = Context(
        fast=True,
        seeds=[0],
        out=tmp_path / "docs",
        runs=tmp_path / "runs",
        extra=("trainer.max_epochs=2", "trainer.limit_val_batches=1"),
    )
    row = Row("flextcn", "FlexTCN", "mnist1d_flextcn")
    first = runner.run_rows([row], ctx, "toy").results["flextcn"][0]
    assert first["device"] == "cpu"  # what trained it, shown beside its wall time
    run_dir = tmp_path / "runs" / "toy" / "FlexTCN" / "seed0"
    (run_dir / runner.ROW_RESULT).unlink()  # as if stopped after its last checkpoint, before it was recorded
    seen = []
    real_train = commands.train

    def recording_train(cfg, *args, **kwargs):
        seen.append(cfg.resume)
        return real_train(cfg, *args, **kwargs)

    monkeypatch.setattr(commands, "train", recording_train)
    again = runner.run_rows([row], ctx, "toy").results["flextcn"][0]
    assert seen == [str(run_dir)]
    assert again["test_acc"] == first["test_acc"]  # nothing trained twice: the restored weights are tested
    assert "resume: null" in (run_dir / runner.ROW_CONFIG).read_text()
    assert (
        runner.run_rows([row], ctx, "toy").results["flextcn"][0]["test_acc"] == first["test_acc"]
    )  # reused as finished
    assert seen == [str(run_dir)]

    seen.clear()  # a folder holding another config's run is trained from scratch
    (run_dir / runner.ROW_RESULT).unlink()
    other = Context(fast=True, seeds=[0], out=ctx.out, runs=ctx.runs, extra=(*ctx.extra, "model.dropout=0.2"))
    runner.run_rows([row], other, "toy")
    assert seen == [None]

    # Stopped before its first checkpoint, a run of a new config leaves no checkpoint of the earlier
    # config beside its own config.yaml (a later invocation would "resume" the wrong weights).
    seen.clear()
    (run_dir / runner.ROW_RESULT).unlink()

    def stopped_at_start(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("lightning.Trainer.fit", stopped_at_start)
    third = Context(fast=True, seeds=[0], out=ctx.out, runs=ctx.runs, extra=(*ctx.extra, "model.dropout=0.3"))
    with pytest.raises(KeyboardInterrupt):
        runner.run_rows([row], third, "toy")
    assert "dropout: 0.3" in (run_dir / "config.yaml").read_text()
    assert not list((run_dir / "checkpoints").glob("*.ckpt"))
    monkeypatch.undo()
    monkeypatch.setattr(commands, "train", recording_train)
    runner.run_rows([row], third, "toy")
    assert seen == [None, None]  # the stopped run, then a run from scratch: not a resume


def test_row_trained_by_another_process_is_left_out(tmp_path: Path) -> None:
    """Two study invocations can share the work: a row/seed whose folder another live process holds is
    skipped (and reused by a later invocation once it finished), not an error that ends the study."""
    import os
    import socket

    from flexconv.experiments.results import runner

    ctx = Context(
        fast=True, seeds=[0, 1], out=tmp_path / "docs", runs=tmp_path / "runs", extra=("trainer.max_steps=2",)
    )
    row = Row("flextcn", "FlexTCN", "mnist1d_flextcn")
    busy = tmp_path / "runs" / "toy" / "FlexTCN" / "seed0"
    busy.mkdir(parents=True)
    (busy / ".lock").write_text(f"{os.getppid()} {socket.gethostname()}\n")  # a live process: pytest's parent
    runs = runner.run_rows([row], ctx, "toy")
    assert len(runs.results["flextcn"]) == 1 and runs.run_dirs["flextcn"] == [
        tmp_path / "runs" / "toy" / "FlexTCN" / "seed1"
    ]


def test_a_finished_row_is_recorded_beside_the_page_and_reused_on_a_fresh_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run folders stay on the machine that trained them; the committed record of a row/seed (config and
    result) lets a later invocation elsewhere reuse it, and only for exactly the same config."""
    import shutil

    from flexconv.experiments.results import runner

    tiny = ("trainer.max_steps=2", "data.limit_train=64", "data.limit_test=64", "trainer.limit_val_batches=1")
    ctx = Context(fast=False, seeds=[0], out=tmp_path / "docs", runs=tmp_path / "runs", extra=tiny)
    row = Row("flextcn", "FlexTCN", "mnist1d_flextcn")
    first = runner.run_rows([row], ctx, "toy").results["flextcn"][0]
    record = json.loads((tmp_path / "docs" / "records" / "toy" / "FlexTCN" / "seed0.json").read_text())
    assert record["result"]["test_acc"] == first["test_acc"] and record["config"]["seed"] == 0
    assert torch.__version__.startswith(record["environment"]["torch"])  # the versions that computed the number
    assert {"python", "lightning", "numpy", "mnist1d"} <= set(record["environment"])
    sizes = first["kernel_sizes"]  # recorded with the result: a study shows them without the checkpoint
    assert len(sizes["learned"]) == len(sizes["initial"]) == 8 and sizes["grid"] == [79]  # 2 x 40 steps - 1
    record_path = tmp_path / "docs" / "records" / "toy" / "FlexTCN" / "seed0.json"
    elsewhere_trained = {
        **record,
        "environment": {"torch": "2.11.0", "python": "3.12.3"},
    }  # run folder brought from a GPU
    record_path.write_text(json.dumps(elsewhere_trained))
    runner.run_rows([row], ctx, "toy")  # reused from its run folder: the record keeps the versions that computed it
    assert json.loads(record_path.read_text())["environment"] == elsewhere_trained["environment"]
    shutil.rmtree(tmp_path / "runs")  # a fresh machine: no run folders

    def no_training(*_args, **_kwargs):
        raise AssertionError("a recorded row was trained again")

    monkeypatch.setattr("flexconv.train.commands.train", no_training)
    elsewhere = Context(fast=False, seeds=[0], out=ctx.out, runs=tmp_path / "other_runs", extra=tiny)
    again = runner.run_rows([row], elsewhere, "toy")
    assert again.results["flextcn"][0]["test_acc"] == first["test_acc"]
    with pytest.raises(AssertionError, match="trained again"):  # a record of another config is not reused
        runner.run_rows(
            [row], Context(fast=False, seeds=[0], out=ctx.out, runs=ctx.runs, extra=(*tiny, "model.dropout=0.2")), "toy"
        )


def test_a_recorded_config_without_a_later_added_key_is_the_same_config() -> None:
    from flexconv.train.run_dir import same_config

    wanted = {"model": {"conv": {"mask": {"init_width": 0.075, "crop_margin": 0}}}, "resume": None}
    recorded = {"model": {"conv": {"mask": {"init_width": 0.075}}}, "resume": None}
    assert same_config(recorded, wanted) and same_config({**recorded, "resume": "runs/x"}, wanted)
    assert not same_config(
        recorded, {"model": {"conv": {"mask": {"init_width": 0.075, "crop_margin": 1}}}, "resume": None}
    )
    assert recorded == {"model": {"conv": {"mask": {"init_width": 0.075}}}, "resume": None}  # not modified
    assert same_config({"model": {"conv": {"mask": None}}}, {"model": {"conv": {"mask": None}}})  # plain convolutions


def test_a_crossres_result_from_before_the_diagnostics_gets_them_without_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flexconv.data.fake import make_fake_tree
    from flexconv.experiments.results import runner
    from flexconv.experiments.results.studies import CROSSRES
    from flexconv.train import crossres

    root = make_fake_tree("fashion_mnist", tmp_path / "data")
    tiny = (
        f"data.root={root}",
        "data.batch_size=8",
        "data.limit_train=32",
        "data.limit_test=16",
        "trainer.max_epochs=1",
        "trainer.limit_val_batches=1",
        "crossres.finetune_epochs=1",
        "model.hidden_channels=8",
        "model.num_blocks=1",
        "model.conv.kernel_net.hidden_channels=8",
    )
    ctx = Context(fast=False, seeds=[0], out=tmp_path / "docs", runs=tmp_path / "runs", extra=tiny)
    row = CROSSRES.row("flexnet")
    first = runner.run_rows([row], ctx, "crossres", "crossres").results["flexnet"][0]
    run_dir = tmp_path / "runs" / "crossres" / "FlexNet" / "seed0"
    record = tmp_path / "docs" / "records" / "crossres" / "FlexNet" / "seed0.json"
    saved = json.loads(record.read_text())  # a record written before the diagnostics existed ...
    for name in crossres.DIAGNOSTICS:
        saved["result"].pop(name)
    record.write_text(json.dumps(saved))
    (run_dir / "row_result.json").unlink()  # ... reused while the source stage's checkpoint is still here

    def no_training(*_args, **_kwargs):
        raise AssertionError("a finished protocol was trained again")

    monkeypatch.setattr(crossres, "train", no_training)
    again = runner.run_rows([row], ctx, "crossres", "crossres").results["flexnet"][0]
    for name in crossres.DIAGNOSTICS:
        assert again[name] == first[name], name
        assert json.loads(record.read_text())["result"][name] == first[name]  # recorded for the next machine
        assert json.loads((run_dir / "row_result.json").read_text())[name] == first[name]


def test_a_study_can_test_its_checkpoints_with_batch_norm_reestimated_also_after_they_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a few steps the running statistics trail the weights: the re-estimated test loss is another number,
    measured from the checkpoint (recorded, and added without training to a result from before it existed)."""
    from flexconv.experiments.results import runner

    tiny = (
        "data.length=20",
        "data.batch_size=16",
        "data.limit_train=64",
        "data.limit_test=64",
        "trainer.max_steps=2",
        "trainer.limit_val_batches=1",
    )
    ctx = Context(fast=False, seeds=[0], out=tmp_path / "docs", runs=tmp_path / "runs", extra=tiny)
    row = Row("adding", "adding problem", "adding_problem")
    key = f"{runner.BATCH_NORM_REESTIMATED}test/loss"
    first = runner.run_rows([row], ctx, "toy", batch_norm_reestimated=True).results["adding"][0]
    assert math.isfinite(first[key]) and first[key] != pytest.approx(first["test/loss"], rel=1e-3)
    assert runner.run_rows([row], ctx, "toy").results["adding"][0][key] == first[key]  # saved with the result
    record = tmp_path / "docs" / "records" / "toy" / "adding_problem" / "seed0.json"
    saved = json.loads(record.read_text())
    assert saved["result"].pop(key) == first[key]
    record.write_text(json.dumps(saved))  # a result from before the measurement existed ...
    row_result = tmp_path / "runs" / "toy" / "adding_problem" / "seed0" / "row_result.json"
    row_result.write_text(json.dumps({k: v for k, v in json.loads(row_result.read_text()).items() if k != key}))

    def no_training(*_args, **_kwargs):
        raise AssertionError("a finished row was trained again")

    monkeypatch.setattr("flexconv.train.commands.train", no_training)
    again = runner.run_rows([row], ctx, "toy", batch_norm_reestimated=True).results["adding"][0]
    assert again[key] == pytest.approx(first[key], rel=1e-6)
    assert json.loads(record.read_text())["result"][key] == again[key]  # recorded for the next machine


def test_wall_times_are_averaged_per_device_and_a_gpu_is_named() -> None:
    from flexconv.experiments.results.report import fmt_time

    results = [
        {"wall_time_s": 100.0},
        {"wall_time_s": 300.0, "device": "cpu"},
        {"wall_time_s": 20.0, "device": "NVIDIA H200"},
        {"wall_time_s": 30.0, "device": "NVIDIA H200"},
        {"test_acc": 0.5},
    ]
    assert fmt_time(results) == "200; 25 on NVIDIA H200"
    assert fmt_time([{"wall_time_s": 7.0, "device": "NVIDIA H200"}]) == "7 on NVIDIA H200"
    assert fmt_time([{"test_acc": 0.5}]) == "–"
    resumed = {"wall_time_s": None, "device": "unknown then cpu"}  # resumed from a checkpoint that kept no time
    assert fmt_time([{"wall_time_s": 10.0}, resumed, resumed]) == "10; 2 unknown"
