"""Tests of worked.stats."""

import numpy as np
from worked.stats import mean_se


def test_mean_se_of_known_numbers():
    # 1, 2, 3, 4: mean 5/2, sample variance 5/3, so SE = sqrt(5/3 / 4)
    mean, se = mean_se([1, 2, 3, 4])
    assert mean == 2.5
    assert np.isclose(se, np.sqrt(5 / 12))


def test_mean_se_along_the_last_axis_by_default():
    x = np.array([[1.0, 2.0, 3.0, 4.0], [10.0, 10.0, 10.0, 10.0]])
    mean, se = mean_se(x)
    assert np.allclose(mean, [2.5, 10.0])
    assert np.allclose(se, [np.sqrt(5 / 12), 0.0])
    mean0, se0 = mean_se(x, axis=0)
    assert np.allclose(mean0, [5.5, 6.0, 6.5, 7.0])
    assert np.allclose(se0, np.abs(x[0] - x[1]) / 2)


def test_mean_se_covers_the_spread_of_means_of_random_samples():
    # over many samples of 5 standard normals, the SE estimates the
    # standard deviation of the mean, 1/sqrt(5): its square is unbiased
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(20000, 5))
    means, ses = mean_se(samples)
    assert abs(means.std() - 1 / np.sqrt(5)) < 0.01
    assert abs(np.mean(ses**2) - 1 / 5) < 0.005
