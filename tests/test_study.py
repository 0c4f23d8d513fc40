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


def test_a_result_read_for_the_last_time_is_released_and_not_read_again():
    import gc
    import weakref

    class Rows(list):  # a result that can be watched for being freed
        pass

    done, futures = Future(), {}
    rows = Rows(range(3))
    watch = weakref.ref(rows)
    done.set_result(rows)
    futures["demo.rows"] = done
    queried = Queried(futures)
    assert queried["demo.rows"] == [0, 1, 2]   # an ordinary read keeps it for later readers
    assert queried.last("demo.rows") == [0, 1, 2]
    del rows, done
    gc.collect()
    assert watch() is None                      # nothing holds it any more: the future is gone
    with pytest.raises(KeyError, match="released by its last reader"):
        queried["demo.rows"]
