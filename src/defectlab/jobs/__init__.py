"""Batch jobs at scale: score millions of images on Ray, streaming and resumable.

``inputs`` lists what to score (folder, glob, list file) lazily; ``output``
keeps a job's scores as committed parquet parts and rebuilds its csv;
``ray_scoring`` runs the pipeline. Ray is an optional dependency
(``pip install "defectlab[scale]"``): only ``ray_scoring`` imports it.
"""
