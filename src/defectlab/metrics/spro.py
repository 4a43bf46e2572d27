"""AUsPRO: saturated per-region overlap (MVTec LOCO AD).

Logical defects have no well-defined extent: if a connector is missing,
the annotation covers every place it could have been, and a detector that
flags the right spot should not have to paint the whole area. sPRO (Bergmann
et al., "Beyond Dents and Scratches", IJCV 2022) therefore caps each region's
credit: a region with saturation threshold s scores

    sPRO = min(flagged pixels in the region / s, 1)

so flagging s pixels of it is as good as flagging all of it. The curve plots
the mean sPRO over all regions against the false positive rate and is
integrated up to a low FPR (0.05 in the paper) and normalised.

What follows the official evaluation code (mvtec_loco_ad_evaluation):
- Regions are the annotated defects themselves, one mask each, not the
  connected components of a union: a defect may be split into pieces, and
  masks of one image may overlap.
- A region's saturation in pixels is capped at its area (an absolute
  threshold larger than the defect means "all of it").
- False positives are counted on every pixel that lies in no defect of its
  image: all pixels of good images, and the background of defective ones.
  (The LOCO code groups good images with one defect subset, e.g. structural,
  per evaluation; pass the same images here to get its numbers.)
Where we differ: the curve is exact, one point per distinct score (see
_sweep.py), where the official code refines a threshold grid until points
lie within 0.001 of each other; the two agree to about that resolution.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import ConfigError
from ._area import normalized_area_up_to
from ._checks import binary_masks, finite_scores
from ._checks import fpr_limit as check_fpr_limit
from ._sweep import cumulative_at_thresholds


class SproCurve(NamedTuple):
    """FPR and mean sPRO per threshold, ascending in FPR.

    A pixel counts as defect when its score is >= the threshold; the first
    point (FPR 0, sPRO 0) is the threshold +inf, which flags nothing.
    """

    fpr: np.ndarray
    spro: np.ndarray
    thresholds: np.ndarray


def spro_curve(gt_masks_per_image, maps, saturation_thresholds) -> SproCurve:
    """The exact (FPR, mean sPRO) curve.

    Args:
        gt_masks_per_image: one entry per image: a sequence (or (K, H, W)
            array) of K defect masks, each its own region; empty or None for
            a good image.
        maps: anomaly maps, (N, H, W) or a sequence of N (H, W) arrays.
        saturation_thresholds: one entry per image: K saturation thresholds
            in pixels, aligned with that image's masks (empty or None for a
            good image). Use `saturation_pixels` to turn a defects_config
            entry into pixels.
    """
    maps = _as_map_list(maps)
    regions_per_image = _as_region_lists(gt_masks_per_image, saturation_thresholds, maps)

    normal_scores = []
    region_scores, region_weights = [], []
    for score_map, regions in zip(maps, regions_per_image):
        in_any_defect = np.zeros(score_map.shape, dtype=bool)
        for mask, saturation in regions:
            in_any_defect |= mask
            # A pixel's credit depends on its rank within its own region.
            scores = np.sort(score_map[mask])[::-1]
            region_scores.append(scores)
            region_weights.append(_saturated_credit(scores.size, saturation))
        normal_scores.append(score_map[~in_any_defect])

    n_regions = len(region_scores)
    normal_scores = np.concatenate(normal_scores)
    if n_regions == 0:
        raise ConfigError("gt_masks_per_image holds no defect masks; sPRO needs at least one region")
    if normal_scores.size == 0:
        raise ConfigError("every pixel lies in a defect; the false positive rate is undefined")

    # One sweep over normal pixels and region pixels together. A pixel in two
    # overlapping regions appears once per region, crediting each.
    n_normal = normal_scores.size
    all_scores = np.concatenate([normal_scores, *region_scores])
    is_normal = np.zeros(all_scores.size, dtype=bool)
    is_normal[:n_normal] = True
    credit = np.concatenate([np.zeros(n_normal), *region_weights])

    thresholds, (false_positives, summed_spro) = cumulative_at_thresholds(all_scores, is_normal, credit)
    # Rounding in the running sum can overshoot 1 by an ulp.
    spro = np.clip(summed_spro / n_regions, 0.0, 1.0)
    return SproCurve(
        fpr=np.concatenate(([0.0], false_positives / n_normal)),
        spro=np.concatenate(([0.0], spro)),
        thresholds=np.concatenate(([np.inf], thresholds)),
    )


def spro(gt_masks_per_image, maps, saturation_thresholds, fpr_limit=0.05, return_curve: bool = False):
    """AUsPRO: area under the sPRO curve up to `fpr_limit`, normalised by it.

    Args:
        gt_masks_per_image, maps, saturation_thresholds: see `spro_curve`.
        fpr_limit: one limit, or a sequence of them (the LOCO code reports
            0.01, 0.05, 0.1, 0.3 and 1.0); each must lie in (0, 1].
        return_curve: also return the SproCurve.

    Returns:
        A float for one limit, or {limit: AUsPRO} for a sequence; paired with
        the curve as (result, curve) if `return_curve`.
    """
    several = np.ndim(fpr_limit) > 0
    limits = [check_fpr_limit(limit) for limit in np.atleast_1d(fpr_limit)]
    curve = spro_curve(gt_masks_per_image, maps, saturation_thresholds)
    areas = {limit: normalized_area_up_to(curve.fpr, curve.spro, limit) for limit in limits}
    result = areas if several else areas[limits[0]]
    return (result, curve) if return_curve else result


def saturation_pixels(region_mask, saturation_threshold: float, relative: bool) -> int:
    """A region's saturation threshold in pixels, as the LOCO code derives it.

    Relative thresholds are a share of the region's area, truncated to whole
    pixels; absolute ones are capped at the area. The official code would
    divide by zero for a region so small that truncation leaves 0 pixels;
    we use 1 pixel there, i.e. any hit saturates it.
    """
    area = int(np.count_nonzero(binary_masks("region_mask", region_mask)))
    if area == 0:
        raise ConfigError("region_mask is empty; a defect region needs at least one pixel")
    if saturation_threshold <= 0:
        raise ConfigError(f"saturation_threshold must be positive, got {saturation_threshold!r}")
    if relative:
        return max(1, int(saturation_threshold * area))
    return int(min(saturation_threshold, area))


def load_defects_config(path) -> dict[int, tuple[float, bool]]:
    """Parse MVTec LOCO's defects_config.json.

    The file is a list of entries with `defect_name`, `pixel_value` (the
    value that defect's pixels carry in the ground-truth PNGs),
    `saturation_threshold` and `relative_saturation`.

    Returns:
        {pixel_value: (saturation_threshold, relative_saturation)}
    """
    try:
        entries = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"path {path}: not a valid UTF-8 JSON file ({error})") from None
    if not isinstance(entries, list):
        raise ConfigError(f"path {path}: expected a JSON list of defect entries")
    config: dict[int, tuple[float, bool]] = {}
    for entry in entries:
        try:
            name = entry["defect_name"]
            pixel_value = entry["pixel_value"]
            threshold = entry["saturation_threshold"]
            relative = entry["relative_saturation"]
        except (KeyError, TypeError) as error:
            raise ConfigError(f"path {path}: entry {entry!r} lacks a required key ({error})") from None
        if isinstance(pixel_value, bool) or not isinstance(pixel_value, int) or not 1 <= pixel_value <= 255:
            raise ConfigError(f"path {path}: {name}: pixel_value must be an integer in 1..255")
        if not isinstance(relative, bool):
            raise ConfigError(f"path {path}: {name}: relative_saturation must be true or false")
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise ConfigError(f"path {path}: {name}: saturation_threshold must be a number")
        # Same bounds the official DefectConfig asserts.
        if relative and not 0 < threshold <= 1:
            raise ConfigError(f"path {path}: {name}: a relative saturation_threshold must be in (0, 1]")
        if not relative and not threshold > 0:
            raise ConfigError(f"path {path}: {name}: saturation_threshold must be positive")
        if pixel_value in config:
            raise ConfigError(f"path {path}: pixel_value {pixel_value} is used by two defects")
        config[pixel_value] = (threshold, relative)
    return config


def _saturated_credit(area: int, saturation: float) -> np.ndarray:
    """Credit of each region pixel, in descending score order.

    min(k / s, 1) for the top k pixels is a running sum in which pixel k adds
    clip(s - (k - 1), 0, 1) / s: 1/s each until the s-th, nothing after
    (a fractional s credits its last pixel partially).
    """
    return np.clip(saturation - np.arange(area), 0.0, 1.0) / saturation


def _as_map_list(maps) -> list[np.ndarray]:
    if isinstance(maps, np.ndarray) and maps.ndim == 2:
        raise ConfigError("maps must be (N, H, W) or a sequence of (H, W) maps, got one (H, W) map")
    out = []
    for i, score_map in enumerate(maps):
        score_map = finite_scores(f"maps[{i}]", score_map)
        if score_map.ndim != 2:
            raise ConfigError(f"maps[{i}] must be (H, W), got shape {score_map.shape}")
        out.append(score_map)
    return out


def _as_region_lists(gt_masks_per_image, saturation_thresholds, maps) -> list[list[tuple[np.ndarray, float]]]:
    """Pair every mask with its saturation (capped at the area), per image."""
    gt_masks_per_image = list(gt_masks_per_image)
    saturation_thresholds = list(saturation_thresholds)
    if len(gt_masks_per_image) != len(maps):
        raise ConfigError(f"gt_masks_per_image has {len(gt_masks_per_image)} entries but maps has {len(maps)}")
    if len(saturation_thresholds) != len(maps):
        raise ConfigError(f"saturation_thresholds has {len(saturation_thresholds)} entries but maps has {len(maps)}")

    regions_per_image = []
    for i, (masks, thresholds, score_map) in enumerate(zip(gt_masks_per_image, saturation_thresholds, maps)):
        if isinstance(masks, np.ndarray) and masks.ndim == 2:
            raise ConfigError(
                f"gt_masks_per_image[{i}] is one (H, W) array; pass a list of masks or a (K, H, W) stack"
            )
        masks = [] if masks is None else list(masks)
        thresholds = [] if thresholds is None else np.atleast_1d(np.asarray(thresholds, dtype=np.float64)).tolist()
        if len(thresholds) != len(masks):
            raise ConfigError(
                f"saturation_thresholds[{i}] has {len(thresholds)} values but gt_masks_per_image[{i}] has {len(masks)} masks"
            )
        regions = []
        for k, (mask, threshold) in enumerate(zip(masks, thresholds)):
            name = f"gt_masks_per_image[{i}][{k}]"
            mask = binary_masks(name, mask)
            if mask.shape != score_map.shape:
                raise ConfigError(f"{name} has shape {mask.shape} but maps[{i}] has shape {score_map.shape}")
            area = int(np.count_nonzero(mask))
            if area == 0:
                raise ConfigError(f"{name} is empty; a defect region needs at least one pixel")
            if not np.isfinite(threshold) or threshold <= 0:
                raise ConfigError(f"saturation_thresholds[{i}][{k}] must be a positive number of pixels, got {threshold}")
            regions.append((mask, min(threshold, area)))
        regions_per_image.append(regions)
    return regions_per_image
