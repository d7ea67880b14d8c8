"""Published draws: versions, and the independent re-draw catching tampering."""

from __future__ import annotations

import json

import duckdb
from deliver_fixture import FAKE_PERIOD, OTHER_SEED, fake_marts, fake_subjects

from pipelines.deliver import publish
from pipelines.deliver.redraw import redraw


def test_publish_then_republish_is_the_same_version(con):
    first = publish.publish_draw(con, "scjg")
    assert (first.version, first.status, first.period) == (1, "new", FAKE_PERIOD) and first.rows > 0
    again = publish.publish_draw(con, "scjg")
    assert (again.version, again.status) == (1, "unchanged")
    assert con.execute("select count(*) from deliver.published_draws").fetchall()[0][0] == 1
    res = redraw(con, "scjg", FAKE_PERIOD)
    assert res.matches, res.summary()
    assert res.published_rows == res.redrawn_rows == first.rows
    assert res.seed_published is True and res.inputs_intact and res.sizes_consistent


def test_redraw_detects_a_swapped_subject(con):
    publish.publish_draw(con, "scjg")
    drawn = con.execute("select subject_id from deliver.published_draw_rows order by grade, draw_rank"
                        ).fetchall()[0][0]
    outsider = con.execute("""select subject_id from marts.sampling_candidates
        where is_eligible and subject_id not in (select subject_id from deliver.published_draw_rows)
        order by subject_id limit 1""").fetchall()[0][0]
    con.execute("update deliver.published_draw_rows set subject_id = ? where subject_id = ?", [outsider, drawn])
    res = redraw(con, "scjg", FAKE_PERIOD)
    assert not res.matches
    kinds = {(d.subject_id, d.kind) for d in res.differences}
    assert kinds == {(drawn, "missing"), (outsider, "unexpected")}
    assert "DOES NOT MATCH" in res.summary() and drawn in res.summary()


def test_redraw_detects_a_changed_inspector_and_a_deleted_row(con):
    publish.publish_draw(con, "scjg")
    rows = con.execute("select subject_id, inspector_1_badge_no from deliver.published_draw_rows "
                       "order by grade, draw_rank").fetchall()
    con.execute("update deliver.published_draw_rows set inspector_1_badge_no = 'SC-999' where subject_id = ?",
                [rows[0][0]])
    con.execute("delete from deliver.published_draw_rows where subject_id = ?", [rows[1][0]])
    res = redraw(con, "scjg", FAKE_PERIOD)
    diffs = {d.subject_id: d for d in res.differences}
    assert diffs[rows[0][0]].kind == "changed" and "SC-999" in str(diffs[rows[0][0]])
    assert diffs[rows[1][0]].kind == "missing"


def test_redraw_detects_edited_inputs(con):
    publish.publish_draw(con, "scjg")
    inputs = json.loads(con.execute("select inputs from deliver.published_draws").fetchall()[0][0])
    inputs["strata"][0]["sample_size"] += 1
    con.execute("update deliver.published_draws set inputs = ?", [json.dumps(inputs, ensure_ascii=False)])
    res = redraw(con, "scjg", FAKE_PERIOD)
    assert not res.inputs_intact and not res.sizes_consistent and not res.matches


def test_changed_inputs_give_a_new_recorded_version(fake_warehouse):
    con = duckdb.connect(str(fake_warehouse))
    v1 = publish.publish_draw(con, "scjg")
    v1_rows = publish.published_rows(con, "scjg", FAKE_PERIOD, 1)
    con.close()
    subjects = fake_subjects()
    for s in subjects:               # a regrading: every B becomes C
        if s["grade"] == "B":
            s["grade"] = "C"
    fake_marts(fake_warehouse, subjects)
    con = duckdb.connect(str(fake_warehouse))
    v2 = publish.publish_draw(con, "scjg")
    assert (v2.version, v2.status) == (2, "changed") and v2.inputs_fingerprint != v1.inputs_fingerprint
    rec = con.execute("select supersedes_version, change_reason from deliver.published_draws where version = 2"
                      ).fetchall()[0]
    assert rec[0] == 1 and "candidates" in rec[1] and "strata" in rec[1]
    assert publish.published_rows(con, "scjg", FAKE_PERIOD, 1) == v1_rows, "v1 is never overwritten"
    assert redraw(con, "scjg", FAKE_PERIOD, version=1).matches
    assert redraw(con, "scjg", FAKE_PERIOD).matches and redraw(con, "scjg", FAKE_PERIOD).version == 2
    con.close()


def test_another_seed_gives_another_list_and_is_flagged(fake_warehouse, tmp_path):
    con = duckdb.connect(str(fake_warehouse))
    official = {r["subject_id"] for r in publish.current_draw_rows(con, "scjg")}
    con.close()
    other = fake_marts(tmp_path / "other.duckdb", seed=OTHER_SEED)
    con = duckdb.connect(str(other))
    assert {r["subject_id"] for r in publish.current_draw_rows(con, "scjg")} != official
    publish.publish_draw(con, "scjg")
    res = redraw(con, "scjg", FAKE_PERIOD)
    assert res.seed_published is False and not res.matches and not res.differences
    con.close()


def test_nothing_published(con):
    res = redraw(con, "scjg", "2031-Q1")
    assert not res.found and not res.matches and "no published draw" in res.summary()


def test_redraw_cli_exit_codes(fake_warehouse, capsys):
    from pipelines.deliver.redraw import redraw_cli

    con = duckdb.connect(str(fake_warehouse))
    publish.publish_draw(con, "scjg")
    con.close()
    assert redraw_cli("scjg", FAKE_PERIOD, warehouse=fake_warehouse) == 0
    assert "MATCHES" in capsys.readouterr().out
    assert redraw_cli("scjg", "2031-Q1", warehouse=fake_warehouse) == 2
    con = duckdb.connect(str(fake_warehouse))
    con.execute("update deliver.published_draw_rows set draw_key = 'x' where draw_rank = 1")
    con.close()
    assert redraw_cli("scjg", FAKE_PERIOD, warehouse=fake_warehouse) == 1


def test_a_draw_published_with_an_earlier_recipe_says_so():
    from pipelines.deliver import recipe
    from pipelines.deliver.redraw import RedrawResult

    old = RedrawResult("scjg", "2026-Q4", 1, "5e3d", recipe_recorded="sha256(seed|period|department_code|subject_id)")
    assert "published with another recipe" in old.summary()
    assert "published with another recipe" not in RedrawResult(
        "scjg", "2026-Q4", 1, "5e3d", recipe_recorded=recipe.RECIPE).summary()
