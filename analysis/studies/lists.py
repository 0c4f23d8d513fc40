"""The customer lists to act on, in the order they are shown and downloaded: the customers at
risk (highest value at risk first), every customer by lifetime value, and the repeat customers
whose RFM segment and purchase model disagree (empty when the model is not reliable, as its
probabilities alive are withheld)."""

from __future__ import annotations

import pandas as pd

from analysis.customers import rfm
from analysis.studies.changes import at_risk_order
from analysis.studies.value.clv import alive_disagreements, value_order

COLUMNS = ["list", "position", "customer_id", "disagreement"]


def customer_lists(customers: pd.DataFrame, rules=rfm.SEGMENT_RULES) -> pd.DataFrame:
    """COLUMNS: one row per customer and list ("at_risk", "top_value", "disagreements"), position 0
    first; disagreement says which way the RFM segment (of the segment map `rules`) and the model
    disagree (empty on the other lists)."""
    disagreeing = alive_disagreements(customers, rfm.lapsing_segments(rules))
    parts = [(name, ids, pd.Series([""] * len(ids), dtype="string"))
             for name, ids in (("at_risk", at_risk_order(customers)), ("top_value", value_order(customers)))]
    parts.append(("disagreements", disagreeing["customer_id"].reset_index(drop=True),
                  disagreeing["disagreement"].astype("string").reset_index(drop=True)))
    frames = [pd.DataFrame({"list": name, "position": range(len(ids)), "customer_id": ids.to_numpy(dtype=object),
                            "disagreement": labels.to_numpy(dtype=object)}) for name, ids, labels in parts]
    out = pd.concat(frames, ignore_index=True)
    return out.astype({"list": "string", "position": "int64", "customer_id": "string", "disagreement": "string"})
