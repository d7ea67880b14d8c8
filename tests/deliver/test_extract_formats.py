"""Extract file formats at scale: the XLSX sheet limit."""


def test_xlsx_continues_on_further_sheets_past_the_row_limit(tmp_path, monkeypatch):
    """A list longer than one Excel sheet (1,048,575 rows) is not cut: it continues on
    sheets _2, _3 …, every row once (limit patched small here)."""
    import polars as pl

    from pipelines.deliver import extracts

    monkeypatch.setattr(extracts, "XLSX_MAX_ROWS", 3)
    df = pl.DataFrame({"统一社会信用代码": [f"9113{i:014d}" for i in range(7)], "综合评价得分": list(range(7))})
    path = tmp_path / "grades.xlsx"
    extracts.write_xlsx(df, path, "信用等级")
    sheets = pl.read_excel(path, sheet_id=0, engine="calamine", read_options={"dtypes": "string"})
    assert list(sheets) == ["信用等级_1", "信用等级_2", "信用等级_3"]
    back = pl.concat(sheets.values())
    assert back["统一社会信用代码"].to_list() == df["统一社会信用代码"].to_list()
