"""Temporal aggregation of per-frame probabilities into segments and a whole-video summary."""

from __future__ import annotations

import numpy as np
import pytest

from warden.media.segments import aggregate

CATS = ["violence", "sexual"]
THRESHOLDS = [0.5, 0.7]


def test_consecutive_frames_with_the_same_flags_merge() -> None:
    times = [0.0, 1.0, 2.0, 2.5, 3.0, 4.0]
    probs = [
        [0.1, 0.0],
        [0.2, 0.1],
        [0.8, 0.1],  # violence from 2.0 s
        [0.9, 0.8],  # violence + sexual at 2.5 s
        [0.6, 0.2],  # violence only
        [0.1, 0.0],  # nothing from 4.0 s
    ]
    out = aggregate(times, probs, CATS, THRESHOLDS, duration_s=6.0)
    spans = [(s.start_s, s.end_s, s.flagged) for s in out.segments]
    assert spans == [
        (0.0, 2.0, []),
        (2.0, 2.5, ["violence"]),
        (2.5, 3.0, ["violence", "sexual"]),
        (3.0, 4.0, ["violence"]),
        (4.0, 6.0, []),  # the last segment runs to the end of the video
    ]
    assert out.segments[0].categories == {"violence": 0.2, "sexual": 0.1}  # max within the segment
    assert out.segments[0].frame_indices == [0, 1]
    assert [s.start_s for s in out.flagged] == [2.0, 2.5, 3.0]
    violence, sexual = out.categories["violence"], out.categories["sexual"]
    assert violence.max == 0.9 and violence.max_time_s == 2.5
    assert violence.flagged_share == pytest.approx(2.0 / 6.0)
    assert sexual.flagged_share == pytest.approx(0.5 / 6.0)
    assert violence.score == pytest.approx((0.9 + 0.8 + 0.6) / 3)
    assert (out.start_s, out.end_s) == (0.0, 6.0)


def test_one_noisy_frame_does_not_decide_alone() -> None:
    times = np.arange(30.0)
    spike = np.full((30, 2), 0.02)
    spike[17, 0] = 0.99
    lasting = np.full((30, 2), 0.02)
    lasting[10:16, 0] = 0.9
    noisy = aggregate(times, spike, CATS, THRESHOLDS, duration_s=30.0).categories["violence"]
    real = aggregate(times, lasting, CATS, THRESHOLDS, duration_s=30.0).categories["violence"]
    assert noisy.max == 0.99 and noisy.score < 0.5  # the spike stays visible as evidence, not as the score
    assert real.score == pytest.approx(0.9) and real.score > 0.5
    assert noisy.flagged_share == pytest.approx(1 / 30) and real.flagged_share == pytest.approx(6 / 30)


def test_unsorted_frames_thresholds_by_name_and_unscored_frames() -> None:
    times = [2.0, 0.0, 1.0]
    probs = [[0.9, np.nan], [0.1, np.nan], [np.nan, np.nan]]
    out = aggregate(times, probs, CATS, {"violence": 0.5}, duration_s=None)  # no threshold for sexual
    assert [s.start_s for s in out.segments] == [0.0, 2.0]
    assert out.segments[1].frame_indices == [0]  # indices point into the input order
    assert out.end_s == 3.0  # the last frame lasts the median spacing when no duration is given
    assert out.categories["violence"].score == pytest.approx((0.9 + 0.1) / 2)  # only scored frames count
    assert out.categories["sexual"] == out.categories["sexual"].__class__(0.0, None, 0.0, 0.0)
    assert not any("sexual" in s.flagged for s in out.segments)


def test_single_frame_and_empty_input() -> None:
    one = aggregate([0.0], [[0.8, 0.9]], CATS, THRESHOLDS)
    assert len(one.segments) == 1 and one.segments[0].flagged == ["violence", "sexual"]
    assert one.categories["violence"].flagged_share == 1.0 and one.categories["violence"].score == 0.8
    empty = aggregate([], np.zeros((0, 2)), CATS, THRESHOLDS, duration_s=5.0)
    assert empty.segments == [] and empty.categories["violence"].max == 0.0 and empty.end_s == 5.0


def test_shape_errors_are_clear() -> None:
    with pytest.raises(ValueError, match=r"expected \(2, 2\)"):
        aggregate([0.0, 1.0], [[0.1, 0.2, 0.3]] * 2, CATS, THRESHOLDS)
    with pytest.raises(ValueError, match="one per category"):
        aggregate([0.0], [[0.1, 0.2]], CATS, [0.5])
    with pytest.raises(ValueError, match="finite"):
        aggregate([np.nan], [[0.1, 0.2]], CATS, THRESHOLDS)
