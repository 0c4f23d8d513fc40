"""Page builders: one module per page, each turning the Analysis into its template's context
(figures from report.charts, tables as rows with column specs). Nothing here computes a number."""
