"""The noisy quadratic model (NQM) of Zhang et al. (2019), CSC413 A3 Q2.1.

Loss L(w) = sum_i a_i w_i^2 / 2 over independent coordinates (curvatures a_i > 0). One
gradient query returns a_i w_i + eps_i with eps_i ~ N(0, sigma2_i); a minibatch averages B
independent queries, so its noise has variance sigma2_i / B. SGD with step
``eta`` (a number, or one per coordinate for a preconditioned optimizer) makes each coordinate a
linear recursion, so the expected squared weights follow exactly

    m_{t+1} = (1 - eta a)^2 m_t + eta^2 sigma2 / B,

and the expected loss is sum_i a_i m_{t,i} / 2.
"""

import numpy as np


def expected_sq(eta, a, sigma2, B, w0sq, steps):
    """E[w_t^2] for t = 0..steps, shape (steps + 1, d), by the exact moment recursion."""
    contraction, noise = (1 - eta * a) ** 2, eta**2 * sigma2 / B
    m = [np.broadcast_to(np.asarray(w0sq, dtype=float), np.shape(a)).copy()]
    for _ in range(steps):
        m.append(contraction * m[-1] + noise)
    return np.array(m)


def steps_to_target(eta, a, sigma2, B, w0sq, target, max_steps=10**7):
    """The first step at which the expected loss is at most ``target``, or ``inf`` if the
    iteration diverges or its stationary loss is above the target.

    The recursion has the closed form m_t = c^t (m_0 - f) + f, c = (1 - eta a)^2, f its fixed
    point; when every coordinate starts above its floor the loss decreases with t, and the first
    step is found by bisection."""
    contraction, noise = (1 - eta * a) ** 2, eta**2 * sigma2 / B
    if np.any(contraction >= 1):
        return np.inf
    floor = noise / (1 - contraction)  # stationary E[w^2]
    if np.sum(a * floor) / 2 >= target:
        return np.inf
    m0 = np.broadcast_to(np.asarray(w0sq, dtype=float), np.shape(a))
    if np.any(m0 < floor):  # not monotone: step through it
        m = m0.copy()
        for t in range(max_steps + 1):
            if np.sum(a * m) / 2 <= target:
                return t
            m = contraction * m + noise
        return np.inf

    def loss(t):
        return np.sum(a * (contraction**t * (m0 - floor) + floor)) / 2

    if loss(0) <= target:
        return 0
    hi = 1
    while loss(hi) > target:
        hi *= 2
        if hi > max_steps:
            return np.inf
    lo = hi // 2  # loss(lo) > target >= loss(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if loss(mid) > target else (lo, mid)
    return hi


def best_steps(a, sigma2, B, w0sq, target, etas):
    """The fewest steps over a grid of learning rates, and the best learning rate."""
    steps = [steps_to_target(eta, a, sigma2, B, w0sq, target) for eta in etas]
    i = int(np.argmin(steps))
    return steps[i], etas[i]


def simulate(eta, a, sigma2, B, w0, steps, runs, rng):
    """Monte Carlo SGD on the NQM: the squared weights of ``runs`` independent runs at every
    step, shape (steps + 1, runs, d). Each step queries B per-example gradients
    a w + eps_j, eps_j ~ N(0, sigma2) independent, and averages them (the minibatch
    gradient), so the variance sigma2 / B of the recursion is a consequence, not an input."""
    w = np.broadcast_to(np.asarray(w0, dtype=float), (runs, np.size(a))).copy()
    out = [w**2]
    for _ in range(steps):
        eps = rng.normal(size=(B, *w.shape)) * np.sqrt(sigma2)  # (B, runs, d)
        per_example = a * w + eps
        w = w - eta * per_example.mean(axis=0)
        out.append(w**2)
    return np.array(out)
