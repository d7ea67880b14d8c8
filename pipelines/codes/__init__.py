"""Code governance (重错码治理): validators, polars expressions, pseudonymisation and
resolution of subject references against the register."""
