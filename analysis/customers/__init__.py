"""One row per customer: features, RFM segments, behaviour clusters and their rules, profiles."""
