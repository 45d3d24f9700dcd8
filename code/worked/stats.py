"""Mean and standard error over seeds, the one summary every experimental
chapter reports (scaling laws, attention, generalization, CLIP, pretrained
encoders)."""

import numpy as np


def mean_se(values, axis=-1):
    """Mean and standard error of `values` along `axis` (default: the last,
    the seeds): the sample standard deviation (n - 1 in the denominator)
    divided by sqrt(n). Scalars for a 1-D input, arrays otherwise."""
    v = np.asarray(values, dtype=float)
    n = v.shape[axis]
    return v.mean(axis), v.std(axis, ddof=1) / np.sqrt(n)
