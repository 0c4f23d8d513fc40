"""The data contract: canonical transaction columns, how common exports name them,
and the columns of every table the analysis hands to the report.
"""

from __future__ import annotations

import re

# Canonical transaction fields, with one line each on what they hold.
CANONICAL = {
    "order_id": "order or invoice id; credit notes start with C",
    "customer_id": "customer id; rows without one are guest orders",
    "order_ts": "order date or timestamp",
    "product_id": "product or stock code",
    "product_name": "product description",
    "category": "product category (optional)",
    "quantity": "units on the line; negative for returns",
    "unit_price": "price per unit",
    "revenue": "line amount (default quantity x unit_price)",
    "country": "customer country (optional)",
    "currency": "currency code of the amount (optional; one currency per report)",
    "contact": "customer email or name (optional; written only into the segment lists)",
}

# Known names per field, compared after lower-casing and dropping non-alphanumerics,
# so 'Customer ID', 'customer_id' and 'CustomerID' all match 'customerid'.
ALIASES = {
    "order_id": ["invoiceno", "invoice", "invoiceid", "invoicenumber", "orderid", "ordernumber",
                 "orderno", "order", "transactionid", "receiptid"],
    "customer_id": ["customerid", "customer", "customerno", "customernumber", "clientid", "userid",
                    "memberid", "accountid", "buyerid"],
    "order_ts": ["invoicedate", "orderdate", "orderts", "ordertimestamp", "orderdatetime", "date",
                 "datetime", "timestamp", "purchasedate", "transactiondate", "createdat", "saledate"],
    "product_id": ["stockcode", "productid", "productcode", "sku", "itemid", "itemcode", "articleid"],
    "product_name": ["description", "productname", "itemname", "product", "itemdescription",
                     "productdescription", "title", "name"],
    "category": ["category", "productcategory", "productfamily", "department", "producttype"],
    "quantity": ["quantity", "qty", "units", "unitssold", "itemquantity", "lineitemquantity", "count"],
    "unit_price": ["unitprice", "price", "itemprice", "priceeach", "lineitemprice", "unitcost", "listprice"],
    "revenue": ["revenue", "amount", "lineamount", "linetotal", "total", "sales", "salesamount",
                "value", "netamount", "totalprice"],
    "country": ["country", "billingcountry", "shippingcountry", "customercountry", "countrycode"],
    "currency": ["currency", "currencycode", "curr", "ccy"],
    "contact": ["email", "emailaddress", "customeremail", "contactemail", "contact", "customername",
                "fullname", "billingname"],
}

# Known exports whose column names would be misread by the generic aliases (Shopify's 'Name' is the
# order, not the product). When all signature columns are present, the profile's aliases go first.
PROFILES = [
    {
        "name": "Shopify orders export",
        "signature": {"lineitemquantity", "lineitemprice", "createdat"},
        "fill_order_fields": True,  # order-level columns are blank on an order's later line rows
        "aliases": {"order_id": ["name", "orderid", "id"], "customer_id": ["email", "customerid"],
                    "order_ts": ["createdat", "paidat"], "quantity": ["lineitemquantity"],
                    "unit_price": ["lineitemprice"], "product_name": ["lineitemname"],
                    "product_id": ["lineitemsku"], "country": ["billingcountry", "shippingcountry"],
                    "currency": ["currency"], "contact": ["billingname", "shippingname"]},
    },
]
# Order totals repeated on line rows must not be summed as line revenue.
ORDER_TOTALS = {"total", "ordertotal", "grandtotal", "totalamount", "subtotal", "totalprice"}

REQUIRED = ("customer_id", "order_ts")  # plus revenue, or quantity and unit_price


def normalise(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def detect_profile(columns: list[str]) -> dict | None:
    """The known export these columns come from, if any."""
    names = {normalise(c) for c in columns}
    return next((p for p in PROFILES if p["signature"] <= names), None)


def detect_columns(columns: list[str], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Map canonical field -> input column. Overrides win; each input column is used once.

    A known export's aliases go first; then earlier aliases win over later ones, so 'InvoiceNo'
    beats 'Invoice' and 'UnitPrice' beats 'Price'. An order total is not used as line revenue
    when quantity and unit price are there.
    """
    overrides = dict(overrides or {})
    mapping = {f: c for f, c in overrides.items()}
    used = set(mapping.values())
    by_norm: dict[str, str] = {}
    for col in columns:
        by_norm.setdefault(normalise(col), col)
    profile = detect_profile(columns)
    for aliases_of in ([profile["aliases"]] if profile else []) + [ALIASES]:
        for field, aliases in aliases_of.items():
            if field in mapping:
                continue
            for alias in aliases:
                col = by_norm.get(alias)
                if col is not None and col not in used:
                    mapping[field] = col
                    used.add(col)
                    break
    if ("revenue" not in overrides and "revenue" in mapping and normalise(mapping["revenue"]) in ORDER_TOTALS
            and {"quantity", "unit_price"} <= set(mapping)):
        del mapping["revenue"]
    return {f: mapping[f] for f in CANONICAL if f in mapping}


def other_candidates(columns: list[str], mapping: dict[str, str], overrides: dict[str, str] | None = None) -> list[str]:
    """Warnings for fields detected (not --map'ed) where another unused column would also have
    matched: the choice was made silently, so say which column was used and how to pick another."""
    overrides = overrides or {}
    used = set(mapping.values())
    out = []
    for field, chosen in mapping.items():
        if field in overrides:
            continue
        names = set(ALIASES.get(field, ()))
        others = [c for c in columns if c not in used and normalise(c) in names | {normalise(chosen)}]
        if others:
            listed = ", ".join(f"'{c}'" for c in others[:3])
            out.append(f"{len(others) + 1} columns could be the {field}: '{chosen}' was used, not {listed}; "
                       f"choose with --map {field}=COLUMN")
    return out


# Columns of each table in Analysis.tables, declared once and checked when Analysis is built.
# Units are in the names: *_days, *_orders, revenue/monetary in the data's currency, share_* in 0..1.
TABLES = {
    "ledger": ["reason", "label", "description", "rows", "share_rows", "revenue"],
    "mapping": ["field", "column", "description"],
    "customers": [
        "customer_id", "country", "first_order_date", "last_order_date", "recency_days", "days_since_any_order",
        "frequency_orders", "order_days", "monetary", "revenue_last_365_days", "avg_order_value", "tenure_days",
        "mean_days_between_orders", "items_per_order", "distinct_products", "returns_lines", "returns_value",
        "return_rate", "lines_per_order", "price_index", "low_price_share", "gap_cv", "weekend_share",
        "evening_share", "share_q1", "share_q2", "share_q3", "share_q4", "active_days", "item_price",
        "peak_quarter_share", "r_score", "f_score", "m_score", "rfm_segment", "cluster", "cluster_name", "cluster_outlier",
        "p_alive", "expected_purchases_90", "expected_purchases_365", "clv", "one_time_later_share",
        "at_risk", "own_rhythm", "expected_gap_days", "overdue_days", "value_at_risk",
    ],
    # money (analysis/returns.py): gross - matched returns = net; every return line by outcome
    "money_ledger": ["section", "item", "label", "description", "lines", "value"],
    "returned_everything": ["customer_id", "orders", "first_order_date", "last_order_date", "bought_value",
                            "returned_value"],
    "customer_sample": ["customer_id", "recency_days", "frequency_orders", "monetary",
                        "avg_order_value", "rfm_segment", "cluster_name"],
    "segments": [
        "kind", "segment", "customers", "share_customers", "revenue",
        "share_revenue", "orders", "avg_order_value", "revenue_per_customer",
        "median_recency_days", "median_frequency_orders", "median_monetary", "return_rate",
        "rule", "description", "action",
    ],
    "segment_products": ["kind", "segment", "rank", "product_id", "product_name", "revenue",
                         "quantity", "customers"],
    "segment_countries": ["kind", "segment", "rank", "country", "customers", "revenue"],
    # the customer lists to act on, in order (analysis/studies/lists.py)
    "customer_lists": ["list", "position", "customer_id", "disagreement"],
    # each customer's latest email or name, when the input has a contact column (else no rows)
    "contacts": ["customer_id", "contact"],
    # the segments of the recommended segmentation by the money at stake (analysis/studies/plan.py)
    "actions": ["rank", "kind", "segment", "customers", "share_customers", "going_quiet", "at_stake", "basis",
                "customers_at_risk", "value_at_risk", "action"],
    "segment_features": ["kind", "segment", "feature", "label", "median", "z"],
    "monthly": ["month", "revenue", "orders", "customers", "new_customers"],
    "monthly_by_segment": ["month", "kind", "segment", "revenue", "customers"],
    "score_edges": ["metric", "score", "low", "high", "customers"],
    "rfm_grid": ["r_score", "f_score", "customers", "revenue", "rfm_segment"],
    "rfm_rules": ["segment", "r_scores", "f_scores", "m_scores", "rule", "action"],
    "cluster_selection": ["method", "k", "icl", "smallest_share", "eligible", "silhouette", "stability",
                          "calinski_harabasz", "davies_bouldin", "chosen"],
    "cluster_features": ["feature", "label", "dimension", "transform", "weight"],
    # one rule per cluster (analysis/rules.py): conditions in the data's units
    "cluster_rules": ["cluster", "segment", "rule", "customers", "rule_customers", "coverage", "precision"],
    # next-90-day validation (analysis/validation.py): kind is 'rfm' or 'cluster'
    "validation_segments": ["kind", "segment", "customers", "repeat_rate", "repeat_low", "repeat_high",
                            "spend", "spend_low", "spend_high"],
    "validation_summary": ["kind", "segments", "customers", "r2_repeat", "r2_spend", "separation", "test",
                           "statistic", "p_value", "p_holm", "recommended"],
    "crosstab": ["rfm_segment", "cluster_name", "customers"],
    # statistics (analysis/stats.py): kind is 'rfm' or 'cluster'
    "segment_distributions": ["kind", "segment", "feature", "n", "min", "q1", "median", "q3", "max",
                              "lower_fence", "upper_fence", "mean"],
    "segment_means": ["kind", "segment", "feature", "mean", "ci_low", "ci_high", "n"],
    "pairwise_revenue": ["feature", "a", "b", "n_a", "n_b", "median_a", "median_b", "u_statistic", "p_value",
                         "p_holm", "effect"],
    "pareto": ["top_share", "revenue_share"],
    "lorenz": ["customer_share", "revenue_share"],
    # cohorts (analysis/cohorts.py)
    "cohorts": ["cohort_month", "already_customers", "months_since_first", "customers", "cohort_size", "retention",
                "revenue"],
    "second_order": ["bin", "low_days", "high_days", "customers", "share"],
    "new_vs_returning": ["month", "new_revenue", "returning_revenue", "new_customers", "returning_customers"],
    # products (analysis/affinity.py)
    "segment_affinity": ["kind", "segment", "rank", "product_id", "product_name", "segment_revenue_share",
                         "all_revenue_share", "lift", "customers", "q_value"],
    "category_mix": ["kind", "segment", "category", "revenue", "share"],
    "first_purchase": ["key", "name", "customers", "repeat_customers", "repeat_rate", "eligible_customers",
                       "overall_repeat_rate", "lift", "p_value", "q_value", "by"],
    # changes (analysis/transitions.py)
    "transitions": ["from_segment", "to_segment", "customers", "revenue_after"],
    "movers": ["customer_id", "from_segment", "to_segment", "monetary", "recency_days"],
    "revenue_at_risk": ["kind", "segment", "customers", "customers_at_risk", "value_at_risk",
                        "share_of_value_at_risk", "action"],
    # customer value (analysis/clv.py): feature is 'clv' or 'p_alive'
    "segment_value": ["kind", "segment", "feature", "mean", "ci_low", "ci_high", "n"],
    "value_distribution": ["measure", "bin", "low", "high", "customers", "share"],
    "alive_threshold": ["kind", "segment", "repeat_customers", "typical_repeat_days", "p_alive_now",
                        "days_since_last_now", "below_half_after_days"],
    "holdout": ["frequency_group", "customers", "actual_mean", "predicted_mean", "actual_total",
                "predicted_total"],
    "holdout_comparison": ["predictor", "mae", "predicted_total", "actual_total", "total_error"],
}

SEGMENT_KINDS = ("rfm", "cluster")
