"""Data: read the files a plan names, check them against the plan, pseudonymise identifiers."""
