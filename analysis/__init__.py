"""Analysis layer: turns a transactions file into one frozen `Analysis` result.

Computes only; never imports plotly or jinja2.
"""

__version__ = "0.1.0"
TOOL_NAME = "segment-report"
