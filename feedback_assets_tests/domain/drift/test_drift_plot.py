"""The drift plot fits the UI's metadata popup and shows the embedding test."""

import struct

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from feedback_assets.domain.drift.drift import build_features, detect_drift_frames  # noqa: E402
from feedback_assets.domain.drift.drift_plot import _embedding, plot_drift  # noqa: E402
from feedback_assets_tests.domain.drift.test_drift_factory import (  # noqa: E402
    make_events,
    make_quality,
)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    return width, height


def _drifted_report():
    ref_ev = make_events(400, 1)
    cur_ev = make_events(400, 2, response_scale=1.5, topic_share=0.6)
    ref_q, cur_q = make_quality(ref_ev, 1), make_quality(cur_ev, 2)
    report = detect_drift_frames(
        ref_ev, cur_ev, reference_quality=ref_q, current_quality=cur_q, deployment_id="bot"
    )
    return report, build_features(ref_ev, ref_q), build_features(cur_ev, cur_q)


def test_plot_fits_the_popup_and_has_the_embedding_panel(tmp_path):
    report, ref, cur = _drifted_report()
    embedding = next(r for r in report.results if r.type == "embedding")
    assert embedding.drifted and embedding.details["top_terms"]["current"]

    out = plot_drift(ref, cur, report, tmp_path / "drift.png")
    width, height = _png_size(out.read_bytes())
    # The popup is about 1000 px wide on a 1400 px screen; the old 4-panel row was 1440 px.
    assert width <= 800 and height <= 560
    assert width > height  # landscape: panels stay readable

    fig, ax = plt.subplots()
    _embedding(ax, embedding)
    terms = embedding.details["top_terms"]
    expected = [t["term"] for t in terms["reference"][:5]] + [
        t["term"] for t in reversed(terms["current"][:5])
    ]
    assert [t.get_text() for t in ax.get_yticklabels()] == expected
    assert len(ax.patches) == len(expected)  # one bar per term
    z = [p.get_width() for p in ax.patches]
    assert z == sorted(z) and z[0] < 0 < z[-1]  # reference-leaning below, current on top
    assert "MMD" in ax.get_title() and "DRIFT" in ax.get_title()
    plt.close(fig)


def test_embedding_panel_says_when_the_test_did_not_run():
    fig, ax = plt.subplots()
    _embedding(ax, None)
    assert [t.get_text() for t in ax.texts] == ["embedding test not run"]
    plt.close(fig)
