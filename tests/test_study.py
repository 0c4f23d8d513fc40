"""The study interface: declared tables are checked, engine results are awaited when read."""

from concurrent.futures import Future

import pandas as pd
import pytest

from analysis.studies.study import Queried, Study, StudyResult


def _study(columns):
    return Study("demo", lambda inputs, queried: StudyResult({}), tables={"demo_table": columns})


def test_a_study_result_must_hold_its_declared_tables_with_their_columns():
    good = StudyResult({"demo_table": pd.DataFrame(columns=["a", "b"])})
    assert _study(["a", "b"]).checked(good) is good
    with pytest.raises(ValueError, match=r"table 'demo_table' has columns \['a', 'b'\], declared \['a', 'c'\]"):
        _study(["a", "c"]).checked(good)
    with pytest.raises(ValueError, match="has columns None"):
        _study(["a"]).checked(StudyResult({}))


def test_queried_results_are_read_by_study_and_name_and_awaited_only_when_read():
    done, pending = Future(), Future()
    done.set_result(42)
    queried = Queried({"demo.answer": done, "demo.later": pending})
    assert queried["demo.answer"] == 42 and sorted(queried) == ["demo.answer", "demo.later"]
    assert not pending.done()        # nothing waited for what was not read
