"""`activity` (credit demo-data --activity, the benchmark's volume knob) scales the routine
records only: licences, inspections and commitments."""

from __future__ import annotations

from pipelines.bench.pipeline import activity_for
from pipelines.demo import generate_demo

ROUTINE = {"admin_license", "inspection", "credit_commitment"}


def test_activity_scales_routine_records_only(tmp_path):
    one = generate_demo(tmp_path / "a", subjects=600, seed=5).rows_by_category
    three = generate_demo(tmp_path / "b", subjects=600, seed=5, activity=3.0).rows_by_category
    for cat in ROUTINE:
        assert 2.6 < three[cat] / one[cat] < 3.4, cat
    for cat in ("registration", "tax_credit_rating"):
        assert abs(three[cat] - one[cat]) <= 0.1 * one[cat], cat
    assert sum(three.values()) > 1.5 * sum(one.values())


def test_activity_for_a_record_target():
    assert activity_for(1_000_000, None) == 1.0
    assert activity_for(1_000_000, 3_000_000) == 1.0  # never below the plain demo
    assert activity_for(1_000_000, 10_000_000) == 8.0
