"""AUPRO: area under the per-region-overlap curve (MVTec AD).

Pixel AUROC lets one large defect outweigh many small ones. PRO instead
gives every defect region the same vote: at a threshold, each connected
component of the ground truth reports the fraction of its pixels that are
flagged, and PRO is the mean of those fractions over all regions of all
images. Plotting PRO against the false positive rate on defect-free pixels
and integrating up to FPR 0.3 (normalised by 0.3) gives AUPRO, as in
Bergmann et al., "The MVTec Anomaly Detection Dataset" (IJCV 2021) and the
official evaluation code.

Choices that follow the official code:
- Regions are 8-connected (a 3x3 structuring element): pixels touching at a
  corner belong to the same defect.
- False positives come from every pixel outside the regions, in good and in
  defective images alike.
- The curve is exact: one point per distinct score (see _sweep.py), not a
  fixed grid of thresholds, so no resolution setting can change the value.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import ndimage

from ..errors import ConfigError
from ._area import normalized_area_up_to
from ._checks import binary_masks, finite_scores, same_shape
from ._checks import fpr_limit as check_fpr_limit
from ._sweep import cumulative_at_thresholds

# Connect the 8 neighbours within an image but never across images, so the
# whole (N, H, W) stack can be labelled in one call.
_REGIONS_WITHIN_EACH_IMAGE = np.zeros((3, 3, 3), dtype=bool)
_REGIONS_WITHIN_EACH_IMAGE[1] = True


class ProCurve(NamedTuple):
    """FPR and PRO per threshold, ascending in FPR.

    A pixel counts as defect when its score is >= the threshold. The first
    point (FPR 0, PRO 0) is the threshold +inf, which flags nothing.
    """

    fpr: np.ndarray
    pro: np.ndarray
    thresholds: np.ndarray


def pro_curve(masks, maps) -> ProCurve:
    """The exact (FPR, PRO) curve of anomaly `maps` against GT `masks`.

    Both are (N, H, W), (H, W) for a single image, or equal-length sequences
    of (H, W) arrays whose sizes may differ from image to image (datasets such
    as Magnetic Tile have no common size).
    """
    if not isinstance(masks, np.ndarray) and isinstance(maps, (list, tuple)):
        is_defect, scores, regions, n_regions = _flatten_images(masks, maps)
    else:
        is_defect = binary_masks("masks", masks)
        scores = finite_scores("maps", maps)
        same_shape("masks", is_defect, "maps", scores)
        if is_defect.ndim == 2:
            is_defect, scores = is_defect[None], scores[None]
        if is_defect.ndim != 3:
            raise ConfigError(f"masks must be (N, H, W) or (H, W), got shape {is_defect.shape}")
        regions, n_regions = ndimage.label(is_defect, structure=_REGIONS_WITHIN_EACH_IMAGE)
    n_normal = is_defect.size - int(np.count_nonzero(is_defect))
    if n_regions == 0:
        raise ConfigError("masks contain no defect pixels; PRO needs at least one defect region")
    if n_normal == 0:
        raise ConfigError("masks contain no defect-free pixels; the false positive rate is undefined")

    # A flagged pixel raises its region's overlap by 1 / region size, so the
    # running sum of these weights over flagged pixels is the summed overlap.
    region_of_defect_pixel = regions[is_defect]
    region_sizes = np.bincount(region_of_defect_pixel)
    overlap_weight = np.zeros(is_defect.size, dtype=np.float64)
    overlap_weight[is_defect.ravel()] = 1.0 / region_sizes[region_of_defect_pixel]
    del regions, region_of_defect_pixel

    thresholds, (false_positives, overlap) = cumulative_at_thresholds(
        scores.ravel(), ~is_defect.ravel(), overlap_weight
    )
    fpr = false_positives / n_normal
    # Rounding in the running sum can overshoot 1 by an ulp.
    pro = np.clip(overlap / n_regions, 0.0, 1.0)
    return ProCurve(
        fpr=np.concatenate(([0.0], fpr)),
        pro=np.concatenate(([0.0], pro)),
        thresholds=np.concatenate(([np.inf], thresholds.astype(np.float64))),
    )


def aupro(masks, maps, fpr_limit: float = 0.3, return_curve: bool = False):
    """Area under the PRO curve up to `fpr_limit`, divided by `fpr_limit`.

    1.0 means every region is fully found before any false positive; a
    random map scores about fpr_limit / 2 (0.15 at the default).

    Returns:
        The AUPRO as a float, or (aupro, ProCurve) if `return_curve`.
    """
    limit = check_fpr_limit(fpr_limit)
    curve = pro_curve(masks, maps)
    area = normalized_area_up_to(curve.fpr, curve.pro, limit)
    return (area, curve) if return_curve else area


def _flatten_images(masks, maps) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Per-image lists -> flat (defect, score, region id) arrays; region ids
    are made unique across images so no region spans two images."""
    if len(masks) != len(maps):
        raise ConfigError(f"masks has {len(masks)} images but maps has {len(maps)}")
    flat_defect, flat_scores, flat_regions, n_regions = [], [], [], 0
    for i, (mask, score_map) in enumerate(zip(masks, maps)):
        mask = binary_masks(f"masks[{i}]", mask)
        score_map = finite_scores(f"maps[{i}]", score_map)
        same_shape(f"masks[{i}]", mask, f"maps[{i}]", score_map)
        labels, n = ndimage.label(mask, structure=_REGIONS_WITHIN_EACH_IMAGE[1])
        labels[labels > 0] += n_regions
        n_regions += n
        flat_defect.append(mask.ravel())
        flat_scores.append(score_map.ravel())
        flat_regions.append(labels.ravel())
    return np.concatenate(flat_defect), np.concatenate(flat_scores), np.concatenate(flat_regions), n_regions
