"""The official metric against independent computations (spec §4, §5)."""

import numpy as np
import pytest
from scipy.linalg import logm
from scipy.spatial.transform import Rotation

from dataset_card import KNOWN_CATEGORIES, META_CLASS_OF, NOVEL_CATEGORIES
from modeling.evaluation import metrics
from modeling.geometry import rotation_matrix


def official_pose_error(pred, gt):
    """The official per-pair formula: ||logm(R_pred^T R_gt)||_F / sqrt(2), real part, NaN/inf -> pi."""
    if not (np.all(np.isfinite(pred)) and np.all(np.isfinite(gt))):
        return np.pi
    r_pred, r_gt = rotation_matrix(*pred), rotation_matrix(*gt)
    return np.linalg.norm(np.real(logm(r_pred.T @ r_gt)), "fro") / np.sqrt(2)


def pose_from_matrix(r):
    """(azimuth, elevation, theta) with R = Rz(theta) Rx(e - pi/2) Rz(-a): intrinsic ZXZ Euler angles."""
    theta, beta, gamma = Rotation.from_matrix(r).as_euler("ZXZ")
    return np.array([-gamma, beta + np.pi / 2, theta])


def pair_at_angle(rng, angle):
    gt = np.array([rng.uniform(0, 2 * np.pi), rng.uniform(-0.5, 1.0), rng.uniform(-0.5, 0.5)])
    axis = rng.normal(size=3)
    delta = Rotation.from_rotvec(axis / np.linalg.norm(axis) * angle).as_matrix()
    return pose_from_matrix(rotation_matrix(*gt) @ delta), gt


def test_random_pairs_match_official_logm():
    rng = np.random.default_rng(0)
    pred = rng.uniform(-4, 8, (500, 3))
    gt = rng.uniform(-4, 8, (500, 3))
    ours = metrics.pose_error(pred, gt)
    official = np.array([official_pose_error(p, g) for p, g in zip(pred, gt)])
    np.testing.assert_allclose(ours, official, atol=1e-6, rtol=0)
    assert ours.min() >= 0 and ours.max() <= np.pi


@pytest.mark.parametrize("angle", [0.0, 1e-9, 1e-7, 1e-5, 1e-3, np.pi / 18, np.pi / 6, np.pi / 2,
                                   np.pi - 1e-2, np.pi - 1e-4, np.pi - 1e-6, np.pi])
def test_edge_angles_match_official_logm_and_the_constructed_angle(angle):
    rng = np.random.default_rng(int(angle * 1e6) % 1000)
    for _ in range(20):
        pred, gt = pair_at_angle(rng, angle)
        ours = float(metrics.pose_error(pred, gt))
        assert ours == pytest.approx(angle, abs=1e-6)
        official = official_pose_error(pred, gt)
        # At exactly pi the matrix log is not unique and the real part of scipy's is off by pi there;
        # everywhere else (down to pi - 1e-6 and up from 0) the official formula must agree.
        if angle < np.pi:
            assert ours == pytest.approx(official, abs=1e-6)


def test_identical_and_periodic_poses_have_zero_error():
    pose = np.array([0.3, 0.2, 0.1])
    assert metrics.pose_error(pose, pose) == pytest.approx(0.0, abs=1e-12)
    assert metrics.pose_error(pose + 2 * np.pi, pose) == pytest.approx(0.0, abs=1e-7)


def test_non_finite_inputs_give_pi_without_warnings():
    gt = np.zeros((4, 3))
    pred = np.array([[np.nan, 0, 0], [0, np.inf, 0], [0, 0, -np.inf], [0, 0, 0]])
    with np.errstate(all="raise"):
        err = metrics.pose_error(pred, gt)
    np.testing.assert_allclose(err, [np.pi, np.pi, np.pi, 0.0])
    assert metrics.pose_error(np.zeros(3), np.array([np.nan, 0, 0])) == np.pi
    with pytest.raises(ValueError, match="shape"):
        metrics.pose_error(np.zeros((2, 2)), np.zeros((2, 2)))


def test_broadcasting():
    assert metrics.pose_error(np.zeros((5, 1, 3)), np.zeros((1, 4, 3))).shape == (5, 4)


def test_summary_uses_strict_thresholds_and_degrees():
    errors = np.array([np.pi / 6, np.pi / 6 - 1e-9, np.pi / 18, 0.0, np.pi])
    s = metrics.summarize(errors)
    assert s["acc_pi6"] == pytest.approx(60.0)  # pi/6 itself is not below pi/6
    assert s["acc_pi18"] == pytest.approx(20.0)
    assert s["median_error_deg"] == pytest.approx(30.0)
    assert s["mean_error_deg"] == pytest.approx(np.degrees(errors.mean()))
    assert s["count"] == 5
    assert metrics.summarize([]) == {"acc_pi6": None, "acc_pi18": None, "median_error_deg": None,
                                     "mean_error_deg": None, "count": 0}


def test_aware_error_adds_pi_for_a_wrong_class():
    np.testing.assert_allclose(metrics.aware_error([0.1, 0.1], [True, False]), [0.1, 0.1 + np.pi])
    result = metrics.score_errors([0.1, 0.1], ["car", "car"], "joint", class_correct=[True, False])
    assert result["overall"]["acc_pi6"] == pytest.approx(50.0)
    assert result["overall"]["median_error_deg"] == pytest.approx(np.degrees(0.1 + np.pi / 2))
    with pytest.raises(ValueError, match="class_correct"):
        metrics.score_errors([0.1], ["car"], "joint")


def test_meta_class_averages_are_object_weighted():
    cats = ["car"] * 3 + ["bus"] + ["chair"]
    errors = np.array([0.0, 0.0, 1.0, 1.0, 0.0])
    result = metrics.score_errors(errors, cats)
    assert result["overall"]["acc_pi6"] == pytest.approx(60.0)
    assert result["meta_classes"]["Transportation"]["acc_pi6"] == pytest.approx(50.0)
    assert result["meta_classes"]["Transportation"]["count"] == 4
    assert result["meta_classes"]["Furniture"]["acc_pi6"] == pytest.approx(100.0)
    assert result["meta_classes"]["Music"]["count"] == 0 and result["meta_classes"]["Music"]["acc_pi6"] is None


def test_open_vocab_blocks_keep_each_error_with_its_own_category():
    known = [c for c in KNOWN_CATEGORIES if META_CLASS_OF[c] == "Transportation"][:2]
    novel = [c for c in NOVEL_CATEGORIES if META_CLASS_OF[c] == "Furniture"][:3]
    cats = known + novel
    errors = np.array([0.0, 0.0, 1.0, 1.0, 0.0])
    result = metrics.score_errors(errors, cats, "open_vocab")
    assert result["known"]["acc_pi6"] == pytest.approx(100.0) and result["known"]["count"] == 2
    assert result["novel"]["acc_pi6"] == pytest.approx(100 / 3) and result["novel"]["count"] == 3
    # The official bug attributed novel errors to the known categories' meta-classes.
    assert result["novel"]["meta_classes"]["Furniture"]["count"] == 3
    assert result["novel"]["meta_classes"]["Transportation"]["count"] == 0
    assert result["known"]["meta_classes"]["Transportation"]["count"] == 2


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown task"):
        metrics.score_errors([0.0], ["car"], "detection")
    with pytest.raises(ValueError, match="unknown categories"):
        metrics.score_errors([0.0], ["spaceship"])
    with pytest.raises(ValueError, match="1 errors but 2"):
        metrics.score_errors([0.0], ["car", "bus"])
