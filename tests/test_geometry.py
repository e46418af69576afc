"""The pose convention against independent computations (spec §2.1 and §4)."""

import numpy as np
import pytest

from modeling import geometry


def _rz(p):
    return np.array([[np.cos(p), -np.sin(p), 0], [np.sin(p), np.cos(p), 0], [0, 0, 1]])


def _rx(p):
    return np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])


def test_rotation_matrix_matches_the_official_composition_and_broadcasts():
    rng = np.random.default_rng(0)
    a, e, t = rng.uniform(-7, 7, (3, 4, 5))
    r = geometry.rotation_matrix(a, e, t)
    assert r.shape == (4, 5, 3, 3)
    for idx in np.ndindex(4, 5):
        expected = _rz(t[idx]) @ _rx(e[idx] - np.pi / 2) @ _rz(-a[idx])
        np.testing.assert_allclose(r[idx], expected, atol=1e-12)
    np.testing.assert_allclose(r @ np.swapaxes(r, -1, -2), np.broadcast_to(np.eye(3), r.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-12)
    assert geometry.rotation_matrix(0.1, np.zeros(7), 0.2).shape == (7, 3, 3)
    assert geometry.rotation_matrix(0.1, 0.2, 0.3).shape == (3, 3)


def test_projection_equals_rotation_plus_translation_pinhole():
    rng = np.random.default_rng(1)
    points = rng.uniform(-0.5, 0.5, (50, 3))
    for _ in range(20):
        a, e, t = rng.uniform(0, 2 * np.pi), rng.uniform(-0.6, 0.9), rng.uniform(-0.4, 0.4)
        d, px, py, f = rng.uniform(3, 12), rng.uniform(0, 500), rng.uniform(0, 400), rng.uniform(500, 3000)
        uv, depth = geometry.project_points(points, a, e, t, d, px, py, f)
        # Independent form: X_cam = R(a, e, θ) X + (0, 0, -d), camera looks along -Z, image y flipped.
        cam = points @ geometry.rotation_matrix(a, e, t).T + np.array([0, 0, -d])
        np.testing.assert_allclose(depth, -cam[:, 2], atol=1e-9)
        np.testing.assert_allclose(uv[:, 0], px + f * cam[:, 0] / -cam[:, 2], atol=1e-7)
        np.testing.assert_allclose(uv[:, 1], py - f * cam[:, 1] / -cam[:, 2], atol=1e-7)
        origin_uv, origin_depth = geometry.project_points(np.zeros((1, 3)), a, e, t, d, px, py, f)
        np.testing.assert_allclose(origin_uv[0], [px, py], atol=1e-9)
        np.testing.assert_allclose(origin_depth, [d], atol=1e-9)


def test_azimuth_zero_looks_at_the_front_with_z_up():
    # Camera at -y looking at +y: +x is image right, +z is image up, +y is farther away.
    uv, depth = geometry.project_points(np.eye(3) * 0.5, 0.0, 0.0, 0.0, 5.0, 100.0, 100.0)
    np.testing.assert_allclose(geometry.camera_center(0.0, 0.0, 5.0), [0, -5, 0], atol=1e-12)
    assert uv[0, 0] > 100 and abs(uv[0, 1] - 100) < 1e-9
    assert depth[1] > 5.0
    assert uv[2, 1] < 100 and abs(uv[2, 0] - 100) < 1e-9


def test_wrap_angle():
    np.testing.assert_allclose(geometry.wrap_angle([-np.pi / 2, 7.0, 2 * np.pi, 0.0]),
                               [1.5 * np.pi, 7.0 - 2 * np.pi, 0.0, 0.0])
    tiny = geometry.wrap_angle(-1e-20)
    assert 0.0 <= tiny < 2 * np.pi
    assert np.isnan(geometry.wrap_angle(np.nan))


def test_bins_are_periodic_with_centre_decoding():
    assert geometry.NUM_BINS == 40
    width = 2 * np.pi / 40
    np.testing.assert_array_equal(geometry.angle_to_bin([0.0, width - 1e-9, width, 2 * np.pi - 1e-9, 2 * np.pi,
                                                         -1e-9, -width / 2, 4 * np.pi + 0.5 * width]),
                                  [0, 0, 1, 39, 0, 39, 39, 0])
    np.testing.assert_allclose(geometry.bin_to_angle(np.arange(40)), (np.arange(40) + 0.5) * width)
    rng = np.random.default_rng(2)
    v = rng.uniform(-20, 20, 1000)
    decoded = geometry.bin_to_angle(geometry.angle_to_bin(v))
    gap = np.abs(np.angle(np.exp(1j * (decoded - v))))
    assert gap.max() <= width / 2 + 1e-9
    assert geometry.angle_to_bin(v, num_bins=12).max() == 11


@pytest.mark.parametrize("seed", range(5))
def test_flip_pose_renders_the_mirror_image(seed):
    rng = np.random.default_rng(seed)
    points = rng.uniform(-0.5, 0.5, (30, 3))
    a, e, t = rng.uniform(0, 2 * np.pi), rng.uniform(-0.5, 0.8), rng.uniform(-0.3, 0.3)
    width = 400
    uv, _ = geometry.project_points(points, a, e, t, 6.0, 150.0, 120.0)
    fa, fe, ft = geometry.flip_pose(a, e, t)
    assert 0 <= fa < 2 * np.pi and 0 <= ft < 2 * np.pi and np.isclose(fe, geometry.wrap_angle(e))
    # Mirroring the image equals mirroring the object (x -> -x) seen with the flipped pose.
    mirrored = points * np.array([-1.0, 1.0, 1.0])
    uv_flip, _ = geometry.project_points(mirrored, fa, fe, ft, 6.0, geometry.flip_point_x(150.0, width), 120.0)
    np.testing.assert_allclose(uv_flip[:, 0], width - uv[:, 0], atol=1e-7)
    np.testing.assert_allclose(uv_flip[:, 1], uv[:, 1], atol=1e-7)


def _soft_bin_targets_reference(index, num_bins, sigma):
    """The numpy formula the losses used before the targets moved to torch (float64, then float32)."""
    index = np.asarray(index, dtype=np.int64)
    if sigma <= 0:
        return np.eye(num_bins, dtype=np.float32)[index % num_bins]
    offset = np.abs(np.arange(num_bins) - index[..., None]) % num_bins
    distance = np.minimum(offset, num_bins - offset)
    weights = np.exp(-0.5 * (distance / sigma) ** 2)
    return (weights / weights.sum(axis=-1, keepdims=True)).astype(np.float32)


def test_soft_bin_targets_are_periodic_gaussians_summing_to_one():
    import torch

    targets = geometry.soft_bin_targets(torch.tensor([0, 39, 17]), 40, sigma=1.0).numpy()
    assert targets.shape == (3, 40) and targets.dtype == np.float32 and np.allclose(targets.sum(-1), 1.0)
    assert targets[0].argmax() == 0 and targets[0][1] == pytest.approx(targets[0][39])  # bins 39 and 1 neighbour 0
    assert targets[1][0] == pytest.approx(targets[1][38]) and targets[2][16] == pytest.approx(targets[2][18])
    assert targets[0][1] / targets[0][0] == pytest.approx(np.exp(-0.5))
    one_hot = geometry.soft_bin_targets(torch.tensor([5]), 40, sigma=0.0)
    assert one_hot.dtype == torch.float32
    np.testing.assert_array_equal(one_hot.numpy(), np.eye(40, dtype=np.float32)[[5]])


@pytest.mark.parametrize("sigma", [0.0, 0.5, 1.0, 2.5, 7.0])
@pytest.mark.parametrize("num_bins", [40, 12])
def test_soft_bin_targets_in_torch_equal_the_numpy_formula(sigma, num_bins):
    import torch

    # Both ends of the circle (wrap-around), the middle, out-of-range and negative indices, and a (2, 4) batch.
    index = np.array([[0, 1, num_bins - 1, num_bins // 2], [num_bins - 2, num_bins, -1, 3 * num_bins + 2]])
    got = geometry.soft_bin_targets(torch.from_numpy(index), num_bins, sigma)
    assert got.shape == (2, 4, num_bins) and got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), _soft_bin_targets_reference(index, num_bins, sigma), rtol=0, atol=1e-6)


def test_decode_bins_gives_argmax_centres_and_periodic_neighbour_mass():
    probabilities = np.zeros((2, 3, 40), dtype=np.float32)
    probabilities[0, 0, [39, 0, 1, 20]] = [0.2, 0.5, 0.1, 0.2]  # argmax 0: its neighbours are bins 39 and 1
    probabilities[0, 1, [38, 39, 0]] = [0.25, 0.5, 0.25]        # argmax 39: bins 38 and 0
    probabilities[0, 2, [5, 25]] = [0.5, 0.5]                   # a tie: the first bin wins, half the mass near it
    probabilities[1] = 1 / 40
    angles, confidence = geometry.decode_bins(probabilities)
    np.testing.assert_allclose(angles[0], geometry.bin_to_angle(np.array([0, 39, 5])))
    np.testing.assert_allclose(confidence[0], [0.8, 1.0, 0.5], rtol=1e-6)
    np.testing.assert_allclose(angles[1], geometry.bin_to_angle(0))
    np.testing.assert_allclose(confidence[1], 3 / 40, rtol=1e-6)
    assert angles.shape == confidence.shape == (2, 3) and confidence.dtype == np.float32
    np.testing.assert_allclose(geometry.decode_bins(probabilities, half_width=0)[1][0], [0.5, 0.5, 0.5])
