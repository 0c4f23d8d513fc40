"""Reading: open a file or table on the engine, parse values, clean with the row ledger, match returns."""
