import threading

import numpy as np
import pytest
import torch

from defectlab.detect import parallel
from defectlab.detect.patch_knn import PatchKNNDetector
from defectlab.synthetic.surfaces import add_defect, surface


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_map_in_order_keeps_order_runs_workers_at_one_thread_and_restores(two_threads):
    seen = []

    def work(i):
        seen.append((threading.current_thread().name, torch.get_num_threads()))
        return i * i

    ticks = []
    assert parallel.map_in_order(work, list(range(10)), workers=2, done=lambda: ticks.append(1)) == [i * i for i in range(10)]
    assert len(ticks) == 10
    assert {n for _, n in seen} == {1}
    assert all(name.startswith("defectlab-predict") for name, _ in seen)
    assert torch.get_num_threads() == 2


def test_map_in_order_raises_the_workers_error_and_restores_threads(two_threads):
    def work(i):
        if i == 3:
            raise ValueError("image 3 is bad")
        return i

    with pytest.raises(ValueError, match="image 3"):
        parallel.map_in_order(work, list(range(8)), workers=2)
    assert torch.get_num_threads() == 2


def test_workers_for_is_bounded_by_threads_and_images(two_threads):
    assert parallel.workers_for(1) == 1
    assert parallel.workers_for(5) == 2


def test_patch_knn_scores_side_by_side_as_one_thread_does(two_threads):
    rng = np.random.default_rng(3)
    normals = [surface(rng, 96) for _ in range(3)]
    test = [add_defect(surface(rng, 96), "hole", rng)[0] for _ in range(3)] + [surface(rng, 96) for _ in range(2)]
    det = PatchKNNDetector(image_size=96, progress=False).fit(normals)
    assert det._predict_workers(len(test)) == 2
    together = det.predict(test)
    torch.set_num_threads(1)
    alone = [det.predict([image])[0] for image in test]
    for a, b in zip(together, alone):
        assert a.score == b.score
        np.testing.assert_array_equal(a.anomaly_map, b.anomaly_map)


def test_folder_walkers_chunk_only_for_detectors_that_score_side_by_side(two_threads):
    from defectlab.detect import CompositionalDetector

    det = PatchKNNDetector(image_size=96, progress=False).fit([surface(np.random.default_rng(4), 96)] * 2)
    assert parallel.chunk_size(det) == parallel.PREDICT_CHUNK
    assert parallel.chunk_size(CompositionalDetector()) == 1  # one image per call keeps its bar moving
    torch.set_num_threads(1)
    assert parallel.chunk_size(det) == 1
