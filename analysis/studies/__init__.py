"""One module (or package) per report section, each computed from the kept lines and the customers table."""
