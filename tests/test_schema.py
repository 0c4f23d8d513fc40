"""Column detection for the common exports, and --map overrides."""

from analysis.schema import detect_columns

UCI = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]
UCI_II = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]
SNAKE = ["order_id", "customer_id", "order_date", "product_id", "quantity", "unit_price", "revenue", "country"]


def test_uci_online_retail_names_are_detected():
    assert detect_columns(UCI) == {
        "order_id": "InvoiceNo", "customer_id": "CustomerID", "order_ts": "InvoiceDate",
        "product_id": "StockCode", "product_name": "Description", "quantity": "Quantity",
        "unit_price": "UnitPrice", "country": "Country"}


def test_online_retail_ii_names_are_detected():
    m = detect_columns(UCI_II)
    assert (m["order_id"], m["customer_id"], m["unit_price"]) == ("Invoice", "Customer ID", "Price")


def test_snake_case_names_are_detected_including_revenue():
    m = detect_columns(SNAKE)
    assert m["order_ts"] == "order_date" and m["revenue"] == "revenue" and m["unit_price"] == "unit_price"


def test_overrides_win_and_a_column_is_used_once():
    m = detect_columns(["Kunde", "Datum", "Betrag", "customer"], {"customer_id": "Kunde", "order_ts": "Datum",
                                                                 "revenue": "Betrag"})
    assert m == {"customer_id": "Kunde", "order_ts": "Datum", "revenue": "Betrag"}
