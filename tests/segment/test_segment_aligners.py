"""Aligners give parts class ids shared across images, with an explicit rule for what matches nothing."""

import numpy as np
import pytest

from defectlab.segment import Segmentation, View, create_aligner
from defectlab.segment.aligners.base import paint, segment_stats


def scene(parts, size=64):
    """An image and its segmentation from (colour, (y0, y1, x0, x1)) boxes on grey."""
    image = np.full((size, size, 3), 120, np.uint8)
    labels = np.zeros((size, size), np.int32)
    for i, (colour, (y0, y1, x0, x1)) in enumerate(parts, start=1):
        image[y0:y1, x0:x1] = colour
        labels[y0:y1, x0:x1] = i
    return View(image, Segmentation(labels))


RED, GREEN, BLUE, PINK = (220, 30, 30), (30, 200, 40), (30, 40, 220), (250, 120, 200)
REFERENCE = [(RED, (5, 20, 5, 20)), (GREEN, (5, 20, 40, 60)), (BLUE, (40, 60, 20, 40))]


def area_of(classes, cls):
    return int((classes.labels == cls).sum())


@pytest.mark.parametrize("name", ["hungarian", "nearest"])
def test_reference_maps_onto_itself(name):
    ref = scene(REFERENCE)
    aligner = create_aligner(name).fit(ref)
    classes = aligner.align(ref)
    assert classes.n_classes == 3 and classes.unknown == 4
    np.testing.assert_array_equal(classes.labels, ref.segmentation.labels)


def test_moved_parts_keep_their_class_and_a_missing_one_leaves_its_class_empty():
    aligner = create_aligner("hungarian").fit(scene(REFERENCE))
    # green removed; red and blue swapped places (segment order differs too)
    test = scene([(BLUE, (5, 20, 5, 20)), (RED, (40, 58, 22, 40))])
    classes = aligner.align(test)
    assert classes.labels[10, 10] == 3  # blue keeps class 3 wherever it lies
    assert classes.labels[50, 30] == 1
    assert area_of(classes, 2) == 0  # the missing part's class is empty


def test_recoloured_part_in_place_keeps_its_class():
    aligner = create_aligner("hungarian").fit(scene(REFERENCE))
    classes = aligner.align(scene([(RED, (5, 20, 5, 20)), (PINK, (5, 20, 40, 60)), (BLUE, (40, 60, 20, 40))]))
    assert classes.labels[10, 50] == 2  # same place, size and shape: the colour descriptor's job now


def test_novel_part_is_unknown_and_a_second_copy_joins_its_kind():
    aligner = create_aligner("hungarian").fit(scene(REFERENCE))
    extra_red = (RED, (45, 60, 45, 60))
    novel = (PINK, (28, 36, 2, 8))  # unlike anything, nowhere a part was
    classes = aligner.align(scene(REFERENCE + [extra_red, novel]))
    assert classes.labels[50, 50] == 1  # another red part: class 1 doubles
    assert classes.labels[30, 4] == classes.unknown


def test_fragments_join_the_part_they_touch():
    ref = scene(REFERENCE)
    aligner = create_aligner("hungarian").fit(ref)
    labels = ref.segmentation.labels.copy()
    labels[20:22, 5:20] = 4  # a sliver under the red part, dark like a shadow
    image = ref.image.copy()
    image[20:22, 5:20] = 20
    classes = aligner.align(View(image, Segmentation(labels)))
    assert classes.labels[21, 10] == 1


def test_two_touching_look_alikes_are_split_back_into_two_classes():
    two = [(RED, (5, 20, 5, 20)), (RED, (5, 20, 40, 55)), (BLUE, (40, 60, 20, 40))]
    aligner = create_aligner("hungarian").fit(scene(two))
    merged = scene([(RED, (5, 20, 12, 40)), (BLUE, (40, 60, 20, 40))])  # one wide red blob
    merged.image[5:20, 12:40] = RED
    classes = aligner.align(merged)
    assert area_of(classes, 1) > 0 and area_of(classes, 2) > 0


def test_segment_stats_and_paint():
    stats = segment_stats(scene(REFERENCE))
    assert stats.area[0] == pytest.approx(15 * 15 / 64**2)
    np.testing.assert_allclose(stats.centroid[0], [12.5 / 64, 12.5 / 64])
    assert stats.elongation[0] == pytest.approx(1.0, abs=0.01) and stats.elongation[1] > 1.2
    painted = paint(Segmentation(np.array([[0, 1], [2, 2]])), {1: 5}, n_classes=6)
    assert painted.labels.tolist() == [[0, 5], [7, 7]]  # unassigned -> unknown (7)


def test_align_before_fit_and_unknown_name():
    from defectlab.errors import ConfigError, NotFittedError

    with pytest.raises(NotFittedError):
        create_aligner("nearest").align(scene(REFERENCE))
    with pytest.raises(ConfigError, match="unknown aligner 'deaot'"):
        create_aligner("deaot")


def featured(view, grid=8):
    """The view with cell features that are each cell's mean colour: a stand-in backbone that sees colour."""
    h, w = view.image.shape[:2]
    cells = view.image.reshape(grid, h // grid, grid, w // grid, 3).mean((1, 3)).astype(np.float32)
    return View(view.image, view.segmentation, cells / 255.0 - 0.45)


def test_codebook_classes_are_kinds_shared_across_images_without_matching():
    shots = [featured(scene(REFERENCE)), featured(scene([(RED, (8, 24, 8, 24)), (GREEN, (8, 24, 40, 56)),
                                                          (BLUE, (40, 56, 16, 32))]))]
    aligner = create_aligner("codebook", n_kinds=3).fit(shots[0], shots)
    # a second red part and a moved blue one: red and blue keep their kinds, green's is empty
    test = featured(scene([(RED, (8, 24, 8, 24)), (RED, (40, 56, 40, 56)), (BLUE, (40, 56, 8, 24))]))
    classes = aligner.align(test)
    red, blue = aligner.align(shots[0]).labels[10, 10], aligner.align(shots[0]).labels[50, 30]
    assert classes.n_classes == 3 and len({red, blue}) == 2
    assert classes.labels[12, 12] == classes.labels[48, 48] == red and classes.labels[48, 16] == blue
    assert (classes.labels[test.segmentation.labels == 0] == 0).all()  # background takes no class
    green = ({1, 2, 3} - {red, blue}).pop()
    assert area_of(classes, green) == 0
    assert classes.assignment == {1: red, 2: red, 3: blue}
    assert classes.noun == "part kind"  # explanations say "part kind 2", not "class 2"


def test_codebook_marks_a_surface_no_shot_showed_as_unknown():
    shots = [featured(scene(REFERENCE))]
    aligner = create_aligner("codebook", n_kinds=3).fit(shots[0], shots)
    novel = featured(scene(REFERENCE + [((250, 250, 0), (40, 56, 48, 64))]))
    assert aligner.align(novel).labels[48, 56] == aligner.align(novel).unknown


def test_codebook_without_foreground_treats_the_whole_image_as_parts():
    texture = featured(View(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8),
                            Segmentation(np.zeros((64, 64), np.int32))))
    aligner = create_aligner("codebook", n_kinds=2).fit(texture)
    assert aligner.whole_image_ and (aligner.align(texture).labels > 0).all()


def test_codebook_needs_features_and_a_fit():
    from defectlab.errors import ConfigError, NotFittedError

    with pytest.raises(ConfigError, match="needs backbone features"):
        create_aligner("codebook").fit(scene(REFERENCE))
    with pytest.raises(NotFittedError):
        create_aligner("codebook").align(featured(scene(REFERENCE)))
    with pytest.raises(ConfigError, match="n_kinds"):
        create_aligner("codebook", n_kinds=0)
