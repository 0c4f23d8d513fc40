"""Customer value: purchase models (BG/NBD, Pareto/NBD), the spend model (Gamma-Gamma), CLV and its tables."""
