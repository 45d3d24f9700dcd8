"""First-order update rules, each written once (book sections ``lec-momentum``,
``lec-adaptive`` and ``lec-adam``).

Every optimizer keeps its own state and maps the current parameters ``w`` and gradient ``g``
(numpy arrays of the same shape) to the next parameters: ``w_next = opt.step(w, g)``. Squares,
square roots and divisions act elementwise. Hyper-parameter names and defaults follow
``torch.optim``, and so does each rule where torch has a convention of its own (documented per
class), so that the book can check every rule step by step against torch.
"""

import numpy as np
import torch


class GradientDescent:
    """w_{t+1} = w_t - lr g_t."""

    def __init__(self, lr):
        self.lr = lr

    def step(self, w, g):
        return w - self.lr * g


class Momentum:
    """Momentum (heavy ball):
        v_t = mu v_{t-1} + (1 - dampening) g_t,  w_{t+1} = w_t - lr v_t,
        v_0 = 0.

    dampening = 0 is the classical heavy ball; dampening = mu makes v_t an
    exponential moving average of the gradients. torch.optim.SGD starts its
    buffer at v_1 = g_1 without dampening; ``torch_first_step=True`` does the
    same (it only matters when dampening != 0).
    """

    def __init__(self, lr, mu, dampening=0.0, torch_first_step=False):
        self.lr, self.mu, self.dampening = lr, mu, dampening
        self.torch_first_step = torch_first_step
        self.v = None

    def step(self, w, g):
        if self.v is None and self.torch_first_step:
            self.v = np.array(g, dtype=float)
        else:
            v_prev = (
                np.zeros_like(g, dtype=float) if self.v is None else self.v
            )
            self.v = self.mu * v_prev + (1 - self.dampening) * g
        return w - self.lr * self.v


class AdaGrad:
    """AdaGrad: s_t = s_{t-1} + g_t^2,  w_{t+1} = w_t - lr g_t / (sqrt(s_t) + eps),  s_0 = 0.

    One accumulator per coordinate; eps is added after the square root (torch's convention)."""

    def __init__(self, lr, eps=1e-10):
        self.lr, self.eps = lr, eps
        self.s = None

    def step(self, w, g):
        self.s = (0.0 if self.s is None else self.s) + g * g
        return w - self.lr * g / (np.sqrt(self.s) + self.eps)


class RMSProp:
    """RMSProp:
        s_t = alpha s_{t-1} + (1 - alpha) g_t^2,
        w_{t+1} = w_t - lr g_t / (sqrt(s_t) + eps).

    torch's convention puts eps outside the square root;
    ``eps_inside_sqrt=True`` uses sqrt(s_t + eps) instead, a different rule.
    ``centered=True`` also averages the gradients,
    m_t = alpha m_{t-1} + (1 - alpha) g_t, and divides by
    sqrt(s_t - m_t^2) + eps: an estimate of each coordinate's standard
    deviation over time (torch's ``centered``)."""

    def __init__(
        self, lr, alpha=0.99, eps=1e-8, centered=False, eps_inside_sqrt=False
    ):
        self.lr, self.alpha, self.eps = lr, alpha, eps
        self.centered, self.eps_inside_sqrt = centered, eps_inside_sqrt
        self.s = self.m = 0.0

    def step(self, w, g):
        a = self.alpha
        self.s = a * self.s + (1 - a) * g * g
        second = self.s
        if self.centered:
            self.m = a * self.m + (1 - a) * g
            second = self.s - self.m * self.m
        denom = (
            np.sqrt(second + self.eps)
            if self.eps_inside_sqrt
            else np.sqrt(second) + self.eps
        )
        return w - self.lr * g / denom


class Adam:
    """Adam with bias correction:
        m_t = beta1 m_{t-1} + (1 - beta1) g_t,
        s_t = beta2 s_{t-1} + (1 - beta2) g_t^2,
        m_hat = m_t / (1 - beta1^t),    s_hat = s_t / (1 - beta2^t),
        w_{t+1} = w_t - lr m_hat / (sqrt(s_hat) + eps),    m_0 = s_0 = 0.
    The corrected m_hat, s_hat are used only in the update; the recursions
    run on m_t, s_t."""

    def __init__(self, lr, betas=(0.9, 0.999), eps=1e-8):
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.m = self.s = 0.0
        self.t = 0

    def step(self, w, g):
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        self.m = b1 * self.m + (1 - b1) * g
        self.s = b2 * self.s + (1 - b2) * g * g
        m_hat = self.m / (1 - b1**self.t)
        s_hat = self.s / (1 - b2**self.t)
        return w - self.lr * m_hat / (np.sqrt(s_hat) + self.eps)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter):
        w_{t+1} = w_t - lr m_hat / (sqrt(s_hat) + eps) - lr weight_decay w_t.
    The decay uses w_t and bypasses the moment estimates, so every weight shrinks at the same
    relative rate ``lr * weight_decay`` per step, whatever its gradients (torch.optim.AdamW)."""

    def __init__(self, lr, weight_decay, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(lr, betas, eps)
        self.weight_decay = weight_decay

    def step(self, w, g):
        return super().step(w, g) - self.lr * self.weight_decay * w


def trajectory(optimizer, grad, w0, steps):
    """Iterates w_0, ..., w_steps of ``optimizer`` on the gradient function ``grad`` (numpy in and
    out), shape (steps + 1, *w0.shape)."""
    ws = [np.array(w0, dtype=float)]
    for _ in range(steps):
        ws.append(optimizer.step(ws[-1], grad(ws[-1])))
    return np.array(ws)


def torch_trajectory(make_optimizer, grad, w0, steps):
    """The same iterates produced by a torch.optim optimizer, in float64.

    ``make_optimizer(params)`` builds it (e.g. ``lambda p: torch.optim.Adam(p, lr=0.1)``); the
    gradient is set from the same numpy function ``grad``, so only the update rules differ."""
    p = torch.tensor(
        np.array(w0, dtype=float), dtype=torch.float64, requires_grad=True
    )
    opt = make_optimizer([p])
    ws = [p.detach().numpy().copy()]
    for _ in range(steps):
        p.grad = torch.from_numpy(
            np.asarray(grad(p.detach().numpy().copy()), dtype=float)
        )
        opt.step()
        ws.append(p.detach().numpy().copy())
    return np.array(ws)
