"""Delivery: 双随机 draws (publication with versions, independent re-draw) and the
department extracts (一公开). Library code: knows nothing of Dagster (see
``pipelines/defs/deliver.py``)."""
