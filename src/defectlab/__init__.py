"""defectlab: few-shot industrial visual inspection.

Detect anomalies from a handful of normal images (patch kNN for structural
defects, a compositional detector for logical ones), label defects with a few
clicks (ADClick), train on those labels and measure with the field's metrics.
"""

__version__ = "0.1.0"
