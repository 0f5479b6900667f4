"""After the demo, the Dagster UI tells the loop's story (issue 11, "The UI tells the story").

The demo launches through the instance as the daemon does, so plain `dagster dev` shows: its runs
on the Overview timeline, materialized partitions green from the first day of data, the sensor
tick that requested retraining (and the skip reasons of the others), check results tagged with
their partition, and numeric metadata plotted over partitions. Checked in a real browser.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import dagster as dg
from playwright.sync_api import Page, expect

from feedback_assets.store import FeedbackStore
from feedback_assets_tests.ui.conftest import DAYS, DEPLOYMENTS, Demo

TIMEOUT_MS = 30_000
CHUNK = '[class*="RunTimeline_runChunk__"]'
# Counts a chunk of the timeline stands for: its badge, or 1 for a single run.
CHUNK_RUNS = """chunks => chunks.map(c => {
    const badge = c.querySelector('[class*="RunTimeline_batchCount"]');
    return badge ? parseInt(badge.textContent, 10) : 1;
})"""
# Pixels of a chart's data line (the UI's accent blue-violet; axes and grid are grey): a drawn
# series has hundreds, an empty chart none.
LINE_PIXELS = """c => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4)
        if (d[i + 3] > 128 && d[i + 2] - d[i] > 80 && d[i + 2] - d[i + 1] > 80) n++;
    return n;
}"""


def _runs(instance: dg.DagsterInstance, job: str) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(job_name=job)))


def test_demo_launches_through_the_instance(demo: Demo, instance: dg.DagsterInstance) -> None:
    loop = _runs(instance, "feedback_loop_job")
    assert len(loop) == DAYS * DEPLOYMENTS
    assert {r.status for r in loop} == {dg.DagsterRunStatus.SUCCESS}
    # Created from the code location, under the name `dagster dev` gives it.
    origins = {r.remote_job_origin.location_name for r in loop if r.remote_job_origin}
    assert origins == {"feedback_assets"} and all(r.job_code_origin for r in loop)
    (backfill,) = instance.get_backfills()
    assert backfill.status.value == "COMPLETED_SUCCESS"
    assert {r.tags["dagster/backfill"] for r in loop} == {backfill.backfill_id}

    retraining = _runs(instance, "retraining_job")
    assert retraining
    assert all(r.remote_job_origin and "dagster/sensor_name" in r.tags for r in retraining)
    # A run succeeds exactly when the gate promoted its candidate; a rejected one stops red at
    # the blocking check, and the summary says which and why.
    store = FeedbackStore(f"sqlite:///{demo.data / 'feedback.db'}")
    versions = store.read_table("model_versions").dropna(subset=["retraining_run_id"])
    status_of = dict(zip(versions["retraining_run_id"], versions["status"], strict=True))
    for run in retraining:
        expected = "promoted" if run.status == dg.DagsterRunStatus.SUCCESS else "rejected"
        assert status_of.get(run.run_id) == expected, (run.run_id, run.status, status_of)
        version = versions.loc[versions["retraining_run_id"] == run.run_id, "model_version_id"]
        assert re.search(rf"model {re.escape(version.iloc[0])} +{expected}", demo.stdout)

    # The summary names the tick behind each retraining run; the console has no event lines.
    for run in retraining:
        sensor = run.tags["dagster/sensor_name"]
        assert re.search(
            rf"retraining {run.run_id[:8]} .*\n\s+requested by {sensor} tick \d+", demo.stdout
        )
    assert "=== feedback-loop demo ===" in demo.stdout and "[support-bot]" in demo.stdout
    assert not re.search(r" - (DEBUG|INFO) - ", demo.stderr), demo.stderr[:2000]
    assert "Saving the dataset" not in demo.stderr


def _open(page: Page, port: int, path: str) -> None:
    page.goto(f"http://127.0.0.1:{port}{path}")
    page.wait_for_load_state("networkidle")


def _dismiss_community_modal(page: Page) -> None:
    """The UI may greet a first visit with "Join the Dagster community": skip it whenever it shows."""
    modal = page.get_by_role("dialog").filter(has_text=re.compile("community", re.IGNORECASE))
    page.add_locator_handler(modal, lambda m: m.get_by_role("button", name="Skip").click())


def _shot(page: Page, demo: Demo, name: str) -> Path:
    expect(page.get_by_role("dialog").filter(has_text="community")).to_have_count(0)
    out = demo.tmp / "screens" / f"{name}.png"
    out.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(out))
    return out


def test_ui_tells_the_story(
    demo: Demo, instance: dg.DagsterInstance, dev_port: int, browser
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    _dismiss_community_modal(page)
    loop = _runs(instance, "feedback_loop_job")
    retraining = _runs(instance, "retraining_job")
    _timeline(page, dev_port, demo, len(loop), len(retraining))
    _partitions_are_green(page, dev_port, demo, len(loop))
    _sensor_tick(page, dev_port, demo, retraining)
    _check_with_partition(page, dev_port, demo, {r.tags["dagster/partition"] for r in loop})
    _metadata_plot(page, dev_port, demo, "quality_scores", "quality_mean")
    _metadata_plot(page, dev_port, demo, "drift_reports", "drift_score")
    _gate(page, dev_port, demo)
    page.close()


def _upcoming_ticks(job: str, hours: float = 2.0) -> int:
    """Ticks of the daily schedules targeting `job` in the next `hours` (UTC)."""
    from datetime import UTC, datetime, timedelta

    from feedback_assets.definitions import defs

    now = datetime.now(UTC)
    count = 0
    d = defs()
    # Resolved: a schedule built from an asset job knows its job only once the code location
    # resolved it (the job takes its partitions from its assets).
    for schedule in (d.resolve_schedule_def(s.name) for s in d.schedules or []):
        if schedule.job_name != job:
            continue
        minute, hour, *_ = str(schedule.cron_schedule).split()
        if not (minute.isdigit() and hour.isdigit()):
            continue
        tick = now.replace(hour=int(hour), minute=int(minute), second=0, microsecond=0)
        tick += timedelta(days=1) if tick <= now else timedelta()
        count += tick - now <= timedelta(hours=hours)
    return count


def _timeline(page: Page, port: int, demo: Demo, loop_runs: int, retraining_runs: int) -> None:
    _open(page, port, "/overview/timeline")
    for job, expected in (("feedback_loop_job", loop_runs), ("retraining_job", retraining_runs)):
        row = page.locator('[class*="RunTimeline_timelineRowContainer"]').filter(
            has=page.locator(f'a[href$="/jobs/{job}"]')
        )
        expect(row.locator(CHUNK).first).to_be_visible()
        # The timeline also draws a schedule's upcoming tick (e.g. scheduled_retraining at 03:00
        # UTC, seen from 02:xx) as a chunk of its job's row.
        allowed = {expected, expected + _upcoming_ticks(job)}
        assert sum(row.locator(CHUNK).evaluate_all(CHUNK_RUNS)) in allowed, job
    _shot(page, demo, "1_timeline")


def _partitions_are_green(page: Page, port: int, demo: Demo, loop_runs: int) -> None:
    # Partitions start on the first day of data: every partition is materialized, none missing.
    _open(page, port, "/assets/quality_scores?view=partitions")
    expect(page.get_by_text(f"Materialized ({loop_runs})")).to_be_visible()
    expect(page.get_by_text("Missing (0)")).to_be_visible()
    _shot(page, demo, "2_partitions")


def _sensor_tick(page: Page, port: int, demo: Demo, retraining: list[dg.DagsterRun]) -> None:
    by_sensor = Counter(r.tags["dagster/sensor_name"] for r in retraining)
    sensor, count = by_sensor.most_common(1)[0]
    _open(page, port, f"/locations/feedback_assets/sensors/{sensor}")
    label = f"{count} run{'s' if count != 1 else ''} requested"
    page.get_by_role("button", name=label).first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Requested runs")).to_be_visible()
    for run in retraining:
        if run.tags["dagster/sensor_name"] == sensor:
            expect(dialog.get_by_text(run.run_id[:8], exact=True)).to_be_visible()
    _shot(page, demo, "3_sensor_tick_requested")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)
    # The oldest tick on the page is the demo's first, before any partition was materialized.
    page.get_by_role("button", name="0 runs requested").last.click()
    expect(page.get_by_role("dialog").get_by_text(re.compile("^Skip reason: "))).to_be_visible()
    _shot(page, demo, "4_sensor_tick_skipped")


def _check_with_partition(page: Page, port: int, demo: Demo, partitions: set[str]) -> None:
    _open(page, port, "/assets/quality_scores?view=checks")
    expect(page.get_by_text("Latest execution")).to_be_visible()
    text = page.inner_text("body")
    found = re.search(r"\nPartition\s*\n\s*(\S+)", text)
    assert found and found.group(1) in partitions, text[-1500:]
    _shot(page, demo, "5_check_partition")


def _metadata_plot(page: Page, port: int, demo: Demo, asset: str, key: str) -> None:
    _open(page, port, f"/assets/{asset}")
    page.get_by_role("button", name="Plots").click()
    canvas = page.locator(f"xpath=//span[normalize-space()='{key}']/../..//canvas")
    expect(canvas).to_be_visible()
    page.wait_for_timeout(1500)  # the chart animates in
    assert canvas.evaluate(LINE_PIXELS) > 200, f"{asset}.{key}: the plot has no data line"
    canvas.scroll_into_view_if_needed()
    _shot(page, demo, f"6_plot_{asset}_{key}")


def _gate(page: Page, port: int, demo: Demo) -> None:
    """The evaluation gate's blocking check, with its verdict, per deployment."""
    _open(page, port, "/assets/candidate_evaluations?view=checks")
    expect(page.get_by_text("candidate_not_worse").first).to_be_visible()
    expect(page.get_by_text("Latest execution")).to_be_visible()
    text = page.inner_text("body")
    assert re.search(r"\nPartition\s*\n\s*(code-assistant|json-extractor|support-bot)", text), text[
        -1500:
    ]
    _shot(page, demo, "7_gate_check")
