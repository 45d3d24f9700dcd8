"""A tiny reverse-mode automatic differentiation engine on scalars (book section ``lec-autograd``).

A ``Value`` holds a number (``data``), the adjoint ``grad`` = dL/d(this value) filled in by
``backward``, and, for a value computed by an operation, its inputs and a function that adds
each input's share ``grad * d(this)/d(input)`` to the input's adjoint. Each operation's local
derivative sits next to its forward rule, as in the table of section ``lec-autograd``.
``backward`` visits the graph once in reverse topological order, so every adjoint is complete
before it is passed on; shared subexpressions receive the sum over their consumers.

The module also has a small language of random expression programs, run unchanged on
``Value`` or on torch tensors, so that the engine can be compared with torch on graphs that
nobody wrote by hand (the tests, and the chapter's check).
"""

import math

import numpy as np
import torch


class Value:
    """A scalar node of a computation graph. Supports +, -, *, /, ** (constant exponent),
    and the methods relu, sigmoid, tanh, exp, log, with the same names as torch tensors."""

    __slots__ = ("data", "grad", "_inputs", "_backward", "op")

    def __init__(self, data, _inputs=(), op=""):
        self.data = float(data)
        self.grad = 0.0
        self._inputs = _inputs
        # adds this node's contribution to its inputs' adjoints
        self._backward = lambda: None
        self.op = op

    def __repr__(self):
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    # ----- operations: forward value and local derivatives -----
    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "add")

        def _backward():  # d(a+b)/da = 1, d(a+b)/db = 1
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "mul")

        def _backward():  # d(ab)/da = b, d(ab)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, c):
        if not isinstance(c, (int, float)):
            raise TypeError("only constant exponents are supported")
        if self.data < 0 and c != int(c):
            raise ValueError("a negative base needs an integer exponent")
        out = Value(self.data**c, (self,), f"pow{c}")

        def _backward():  # d(a^c)/da = c a^(c-1)
            self.grad += c * self.data ** (c - 1) * out.grad

        out._backward = _backward
        return out

    def relu(self):
        out = Value(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward():  # 1 if a > 0 else 0 (0 at a = 0, as in torch)
            self.grad += (1.0 if self.data > 0 else 0.0) * out.grad

        out._backward = _backward
        return out

    def sigmoid(self):
        # both branches avoid overflow of exp for large |a|
        a = self.data
        s = (
            1.0 / (1.0 + math.exp(-a))
            if a >= 0
            else math.exp(a) / (1.0 + math.exp(a))
        )
        out = Value(s, (self,), "sigmoid")

        def _backward():  # s (1 - s)
            self.grad += s * (1.0 - s) * out.grad

        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():  # 1 - tanh^2
            self.grad += (1.0 - t * t) * out.grad

        out._backward = _backward
        return out

    def exp(self):
        e = math.exp(self.data)
        out = Value(e, (self,), "exp")

        def _backward():  # exp(a)
            self.grad += e * out.grad

        out._backward = _backward
        return out

    def log(self):
        out = Value(math.log(self.data), (self,), "log")

        def _backward():  # 1 / a
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    # ----- operations built from the ones above -----
    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-other)

    def __truediv__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return self * other**-1

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return Value(other) - self

    def __rtruediv__(self, other):
        return Value(other) / self

    # ----- reverse mode -----
    def topological_order(self):
        """Every node this value depends on (itself included), each after all its inputs.

        Iterative depth-first search, so deep graphs do not hit Python's recursion limit."""
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, inputs_done = stack.pop()
            if inputs_done:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend(
                    (child, False)
                    for child in node._inputs
                    if id(child) not in seen
                )
        return order

    def backward(self):
        """Fill ``grad`` of every node with d(self)/d(node); returns the
        topological order used.

        Adjoints accumulate (+=), so call it once per graph (or zero the
        grads first)."""
        order = self.topological_order()
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):  # consumers before their inputs
            node._backward()
        return order


# ----- random expression programs, for comparing the engine with torch -----
#
# A program is a list of instructions (op, i, j): the k-th instruction applies ``op`` to the
# earlier nodes i and j (j is ignored by unary ops); nodes 0..n_leaves-1 are the inputs. Ops
# whose domain is restricted get an argument that is always valid (log(a^2 + 1), ...), so any
# program runs on any inputs; the values may still overflow, which callers must check.

UNARY_OPS = {
    "neg": lambda a: -a,
    "square": lambda a: a**2,
    "cube": lambda a: a**3,
    "relu": lambda a: a.relu(),
    "sigmoid": lambda a: a.sigmoid(),
    "tanh": lambda a: a.tanh(),
    "exp": lambda a: a.exp(),
    "log1p_square": lambda a: (a * a + 1.0).log(),
    "sqrt1p_square": lambda a: (a * a + 1.0) ** 0.5,
    "scale": lambda a: a * 0.7 + 0.3,
}
BINARY_OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div_1p_square": lambda a, b: a / (b * b + 1.0),
}
OPS = {**UNARY_OPS, **BINARY_OPS}


def run_program(program, inputs):
    """The output of ``program`` on ``inputs`` (Values or torch tensors): the sum of all the nodes
    it computes, so that every instruction, used later or not, contributes to the gradient.
    The same arithmetic runs on either backend."""
    nodes = list(inputs)
    for op, i, j in program:
        nodes.append(
            UNARY_OPS[op](nodes[i])
            if op in UNARY_OPS
            else BINARY_OPS[op](nodes[i], nodes[j])
        )
    out = nodes[len(inputs)]
    for node in nodes[len(inputs) + 1 :]:
        out = out + node
    return out


def random_program(rng, n_leaves, n_ops):
    """A random program of ``n_ops`` >= 1 instructions on ``n_leaves`` inputs, drawn from a numpy
    Generator. Operands are drawn among all earlier nodes, so nodes are reused (a DAG, not a tree)."""
    names = sorted(OPS)
    program = []
    for k in range(n_ops):
        available = n_leaves + k
        program.append(
            (
                names[rng.integers(len(names))],
                int(rng.integers(available)),
                int(rng.integers(available)),
            )
        )
    return program


def program_gradients(program, x, backend):
    """Output of ``program`` on inputs ``x`` (a sequence of floats) and its gradient with respect
    to them, shape (len(x),), computed by ``backend``: "engine" (this module) or "torch"
    (float64 autograd). Returns None when a value overflows or is not finite."""
    if backend == "engine":
        leaves = [Value(v) for v in x]
        try:
            out = run_program(program, leaves)
            out.backward()
        except OverflowError:
            return None
        value, grad = out.data, [leaf.grad for leaf in leaves]
    elif backend == "torch":
        leaves = [
            torch.tensor(float(v), dtype=torch.float64, requires_grad=True)
            for v in x
        ]
        out = run_program(program, leaves)
        grads = torch.autograd.grad(out, leaves, allow_unused=True)
        value = out.item()
        grad = [0.0 if g is None else g.item() for g in grads]
    else:
        raise ValueError(backend)
    if not all(math.isfinite(v) for v in [value, *grad]):
        return None
    return value, np.array(grad)


def central_differences(f, x, h=1e-6):
    """The gradient of a scalar function ``f`` of a float vector ``x`` by central differences,
    (f(x + h e_i) - f(x - h e_i)) / (2h) for each coordinate i, shape (len(x),).

    The error is O(h^2) from truncation plus O(machine eps |f| / h) from rounding, so h ~ 1e-5
    to 1e-6 gives about 1e-10 relative accuracy in float64 (section ``lec-backprop``)."""
    x = np.asarray(x, dtype=float)
    grad = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        grad.flat[i] = (f(x + e) - f(x - e)) / (2 * h)
    return grad
