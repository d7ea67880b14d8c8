"""`credit demo-data`: realistic synthetic department exports plus ground truth.

    from pipelines.demo import generate_demo
    report = generate_demo(Path("data"), subjects=2000, seed=42)

writes ``<data_dir>/inbox/<department>/<batch>/<file>`` (export-standard.md, "Delivery
layout") and ``<data_dir>/demo_truth/{files,rows,codes,subjects}.parquet``
(docs/architecture.md, "Demo data ground truth"). Deterministic for a seed.
"""

from .generator import DEFAULT_AS_OF, DemoReport, generate_demo
from .inject import CODE_CLASSES, ROW_CLASSES, ErrorRates

__all__ = ["CODE_CLASSES", "DEFAULT_AS_OF", "ROW_CLASSES", "DemoReport", "ErrorRates", "generate_demo"]
