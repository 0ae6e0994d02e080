"""The offline provider's answer is visibly a deterministic stand-in, and describes a table instead of
echoing it (what the demo's summary showed)."""

from __future__ import annotations

from hopflow.tasks.llm import OfflineProvider, offline_answer

TABLE = "| region | revenue |\n|:-------|--------:|\n| north | 1200.5 |\n| south | 80 |\n| west | 7 |"


def test_a_markdown_table_is_summarised_by_size_columns_and_first_row() -> None:
    answer = offline_answer(TABLE, "Summarise the table in three sentences.")
    first = answer.splitlines()[0]
    assert first == (
        "Summary: a table of 3 rows and 2 columns (region, revenue); first row: region north, revenue 1200.5."
    )
    assert "| north |" not in answer  # not an echo of the table


def test_the_answer_says_it_is_an_offline_stand_in_and_stays_deterministic() -> None:
    answer = OfflineProvider().complete(TABLE).text
    assert answer == OfflineProvider().complete(TABLE).text
    note = answer.splitlines()[-1]
    assert note.startswith("Note: offline stand-in answer ") and "no model was asked" in note
    assert "HOPFLOW_LLM_PROVIDER" in note
    assert offline_answer(TABLE + "\n| east | 1 |") != answer


def test_text_that_only_looks_like_a_table_in_part_is_treated_as_text() -> None:
    answer = offline_answer("Orders below.\n| a | b |\n| 1 | 2 |")
    assert answer.splitlines()[0] == "Summary: Orders below."
