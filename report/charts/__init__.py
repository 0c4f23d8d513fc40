"""Charts: pure functions `figure = f(table, ...)` over the Analysis tables, one module per page
(style.py: the shared look). Every segment is drawn in its own colour; strings from the data are
escaped before they reach Plotly; every number comes from the analysis."""
