"""Exact TreeSHAP for a LightGBM booster, cheap enough for every single-record request.

LightGBM's ``pred_contrib`` runs the recursive path-dependent TreeSHAP of Lundberg et
al. (2020), about 1.9 ms for one record of the service's 300-tree model: more than half
of what a ``/score`` request costs. This module gives the same values (the same
path-dependent definition, the same covers, the same split decisions) leaf by leaf,
without recursion, in about a third of the time.

For a leaf with value v, unique path features P (p of them), cover fractions r_j (the
product of child/parent training counts along the path's splits on feature j), and the
record's pattern z_j (1 when the record follows every split on feature j on the path,
else 0), the leaf's term of the path-dependent value function is the product game
``v prod_{j in S} z_j prod_{j not in S} r_j``. Its Shapley values are (Owen's
multilinear extension)::

    phi_i += v (z_i - r_i) integral_0^1 prod_{j in P, j != i} (t z_j + (1 - t) r_j) dt

The integrand is a polynomial of degree p - 1, so (p + 1) // 2 Gauss-Legendre points
give the integral exactly. With Z the features the record follows, each point's product
is ``(1 - t)^(p - |Z|) prod_{j not in Z} r_j prod_{j in Z} (t + (1 - t) r_j)``; the
features outside Z all get ``-v sum_m w_m G_m / (1 - t_m)``, and each i in Z leaves
out its own factor through prefix and suffix products (no division). A record costs
O(L p^2) arithmetic per tree on a few megabytes of flat arrays that stay in the
processor's cache: a per-leaf table over subsets (FastTreeSHAP v2) is faster on paper
but tens of megabytes, and misses the cache.

:func:`build` returns ``None`` for a booster this module does not model (linear trees,
more than one class, a tree that tests more than 63 features);
:class:`~stratify.serving.scoring.Scorer` then keeps LightGBM's own ``pred_contrib``,
and it checks this module against ``pred_contrib`` on probe records before using it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

#: the most distinct features a tree may test (a record's path through it is a 64-bit mask)
MAX_TREE_FEATURES = 63
_ZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold (a float literal)
_HUGE = 1e300  # LightGBM's largest threshold (Common::AvoidInf)
_MISSING = {"None": 0, "Zero": 1, "NaN": 2}


def _compiled(fn: Any) -> Any:
    """Compile with numba, cached on disk where numba finds a writable place for it.

    Beside the module, else the user's cache directory; on a read-only installation
    with neither, each process compiles once instead (about a second).
    """
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(nogil=True)(fn)


@dataclass(frozen=True)
class TreeShap:
    """The flattened trees of one booster (see the module doc)."""

    n_features: int
    # internal nodes, each before its children; a child is a node (>= 0) or leaf (~index)
    node_feature: np.ndarray
    node_threshold: np.ndarray
    node_categorical: np.ndarray
    node_missing: np.ndarray
    node_default_left: np.ndarray
    node_bit: np.ndarray  # the bit of the node's feature among its tree's features
    node_left: np.ndarray
    node_right: np.ndarray
    cat_start: np.ndarray
    cat_stop: np.ndarray
    cat_values: np.ndarray
    # leaves: the features on their paths (slots: feature, its tree bit, cover fraction)
    slot_start: np.ndarray
    slot_feature: np.ndarray
    slot_bit: np.ndarray
    slot_fraction: np.ndarray
    leaf_value: np.ndarray
    points: np.ndarray  # Gauss-Legendre points on [0, 1] for a path of p features ...
    weights: np.ndarray  # ... and their weights: points[p, :(p + 1) // 2]
    powers: np.ndarray  # powers[p, m, k] = (1 - points[p, m]) ** k

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Return the records' SHAP values (log-odds), one column per booster feature."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        out = np.zeros((X.shape[0], self.n_features), dtype=np.float64)
        _contributions(
            X, out, self.node_feature, self.node_threshold, self.node_categorical,
            self.node_missing, self.node_default_left, self.node_bit, self.node_left,
            self.node_right, self.cat_start, self.cat_stop, self.cat_values, self.slot_start,
            self.slot_feature, self.slot_bit, self.slot_fraction, self.leaf_value,
            self.points, self.weights, self.powers,
        )  # fmt: skip
        return out


def build(dump: dict[str, Any]) -> TreeShap | None:
    """Flatten ``booster.dump_model()``; None when this module cannot serve the booster."""
    if dump.get("num_class", 1) != 1 or dump.get("num_tree_per_iteration", 1) != 1:
        return None
    b = _Builder()
    for tree in dump["tree_info"]:
        if not b.add(tree["tree_structure"]):
            return None
    return b.finish(int(dump["max_feature_idx"]) + 1)


_Path = list[tuple[int, float]]  # (feature, fraction) of each split above a node


class _Builder:
    """Walks the dumped trees into flat arrays (numbers, not objects, for the kernel)."""

    def __init__(self) -> None:
        self.nodes: list[list[Any]] = []
        self.cats: list[int] = []
        self.slots: list[tuple[int, int, float]] = []
        self.slot_start = [0]
        self.leaf_value: list[float] = []
        self.widest = 0

    def add(self, root: dict[str, Any]) -> bool:
        """Add one tree; False if it tests too many features or has linear leaves."""
        if "split_index" not in root:  # a single leaf moves every record alike
            return True
        bits: dict[int, int] = {}  # the tree's features, each a bit of a 64-bit mask
        # (node, its parent's index, 1 left / 2 right child of it, the path to it)
        stack: list[tuple[dict[str, Any], int, int, _Path]] = [(root, -1, 0, [])]
        while stack:
            node, parent, side, path = stack.pop()
            if "split_index" not in node:
                if "leaf_coeff" in node:  # a linear tree's leaf
                    return False
                self._leaf(node, path, bits)
                code = ~(len(self.leaf_value) - 1)
            else:
                code = self._node(node, bits.setdefault(int(node["split_feature"]), len(bits)))
                count = float(node["internal_count"])
                for child, child_side in ((node["left_child"], 1), (node["right_child"], 2)):
                    split = (int(node["split_feature"]), _count(child) / count)
                    stack.append((child, code, child_side, [*path, split]))
            if parent >= 0:
                self.nodes[parent][5 + side] = code
        return len(bits) <= MAX_TREE_FEATURES

    def _node(self, node: dict[str, Any], bit: int) -> int:
        categorical = node["decision_type"] == "=="
        start = len(self.cats)
        if categorical:
            self.cats.extend(int(v) for v in str(node["threshold"]).split("||"))
            threshold = math.nan
        else:
            threshold = float(node["threshold"])
        self.nodes.append([int(node["split_feature"]), threshold, categorical,
                           _MISSING[node["missing_type"]], bool(node["default_left"]), bit,
                           0, 0, start, len(self.cats)])  # fmt: skip
        return len(self.nodes) - 1

    def _leaf(self, leaf: dict[str, Any], path: _Path, bits: dict[int, int]) -> None:
        fractions: dict[int, float] = {}
        for feature, fraction in path:
            fractions[feature] = fractions.get(feature, 1.0) * fraction
        self.widest = max(self.widest, len(fractions))
        self.slots.extend((f, bits[f], r) for f, r in fractions.items())
        self.slot_start.append(len(self.slots))
        self.leaf_value.append(float(leaf["leaf_value"]))

    def finish(self, n_features: int) -> TreeShap:
        nodes = list(zip(*self.nodes, strict=True)) if self.nodes else [()] * 10
        slots = list(zip(*self.slots, strict=True)) if self.slots else [()] * 3
        i64, f64 = np.int64, np.float64
        points, weights = _quadrature(self.widest)
        powers = (1.0 - points[:, :, None]) ** np.arange(self.widest + 1)
        return TreeShap(
            n_features=n_features,
            node_feature=np.asarray(nodes[0], dtype=i64),
            node_threshold=np.asarray(nodes[1], dtype=f64),
            node_categorical=np.asarray(nodes[2], dtype=np.bool_),
            node_missing=np.asarray(nodes[3], dtype=i64),
            node_default_left=np.asarray(nodes[4], dtype=np.bool_),
            node_bit=np.asarray(nodes[5], dtype=i64),
            node_left=np.asarray(nodes[6], dtype=i64),
            node_right=np.asarray(nodes[7], dtype=i64),
            cat_start=np.asarray(nodes[8], dtype=i64),
            cat_stop=np.asarray(nodes[9], dtype=i64),
            cat_values=np.asarray(self.cats, dtype=i64),
            slot_start=np.asarray(self.slot_start, dtype=i64),
            slot_feature=np.asarray(slots[0], dtype=i64),
            slot_bit=np.asarray(slots[1], dtype=i64),
            slot_fraction=np.asarray(slots[2], dtype=f64),
            leaf_value=np.asarray(self.leaf_value, dtype=f64),
            points=points,
            weights=weights,
            powers=powers,
        )


def _count(node: dict[str, Any]) -> float:
    return float(node["internal_count"] if "split_index" in node else node["leaf_count"])


def _quadrature(widest: int) -> tuple[np.ndarray, np.ndarray]:
    """Return Gauss-Legendre points and weights on [0, 1], (p + 1) // 2 of them for each p.

    That many points integrate a polynomial of degree p - 1 exactly: the integrand of a
    leaf's Shapley values is one.
    """
    points = np.zeros((widest + 1, (widest + 1) // 2 + 1))
    weights = np.zeros_like(points)
    for p in range(1, widest + 1):
        x, w = np.polynomial.legendre.leggauss((p + 1) // 2)
        points[p, : x.size], weights[p, : x.size] = (x + 1) / 2, w / 2
    return points, weights


@_compiled
def _left(  # noqa: PLR0913, PLR0917 - one compiled call per split, on plain numbers
    x: float, threshold: float, categorical: bool, missing: int, default_left: bool,
    cats: np.ndarray, start: int, stop: int,
) -> bool:  # fmt: skip
    """Whether a value goes left (LightGBM's tree.h: NumericalDecision, CategoricalDecision)."""
    if categorical:
        if math.isnan(x) or x < 0:  # NaN goes right whatever the missing type
            return False
        value = int(x)
        for k in range(start, stop):  # noqa: SIM110 - no generators in compiled code
            if cats[k] == value:
                return True
        return False
    if (math.isnan(x) and missing != 2) or -_ZERO <= x <= _ZERO:
        x = 0.0  # LightGBM reads |x| <= kZeroThreshold as 0 (a sparse row's absent value)
    x = min(max(x, -_HUGE), _HUGE)  # as LightGBM reads values beyond +-1e300
    if (missing == 1 and x == 0.0) or (missing == 2 and math.isnan(x)):
        return default_left
    return x <= threshold


@_compiled
def _contributions(  # noqa: C901, PLR0912, PLR0913, PLR0915, PLR0917 - one compiled loop
    X, out, node_feature, node_threshold, node_categorical, node_missing, node_default_left,
    node_bit, node_left, node_right, cat_start, cat_stop, cat_values, slot_start,
    slot_feature, slot_bit, slot_fraction, leaf_value, points, weights, powers,
):  # fmt: skip
    """Add each record's contributions to ``out`` (the kernel of :meth:`TreeShap.contributions`).

    Flat arrays and one loop nest, because that is what compiles to fast code: splitting
    it into functions taking tuples of arrays made it three times slower.
    """
    n_nodes = node_feature.shape[0]
    # per record: the tree features whose splits it did not follow on the way down
    node_missed = np.zeros(n_nodes, dtype=np.int64)  # a root's stays 0
    leaf_missed = np.empty(leaf_value.shape[0], dtype=np.int64)
    widest = points.shape[0]
    q, factor, prefix, rz = np.empty(widest), np.empty(widest), np.empty(widest), np.empty(widest)
    fz = np.empty(widest, dtype=np.int64)
    for row in range(X.shape[0]):
        x = X[row]
        for k in range(n_nodes):  # parents come before their children
            goes_left = _left(x[node_feature[k]], node_threshold[k], node_categorical[k],
                              node_missing[k], node_default_left[k],
                              cat_values, cat_start[k], cat_stop[k])  # fmt: skip
            bit = np.int64(1) << node_bit[k]
            for child, followed in ((node_left[k], goes_left), (node_right[k], not goes_left)):
                mask = node_missed[k] | (bit * np.int64(not followed))
                if child >= 0:
                    node_missed[child] = mask
                else:
                    leaf_missed[~child] = mask
        phi = out[row]
        for leaf in range(leaf_value.shape[0]):
            first, p = slot_start[leaf], slot_start[leaf + 1] - slot_start[leaf]
            missed = leaf_missed[leaf]
            outside, z = leaf_value[leaf], 0
            for s in range(p):  # branch-free (which way a record went is unpredictable)
                r = slot_fraction[first + s]
                inside = 1 - ((missed >> slot_bit[first + s]) & 1)
                rz[z] = r
                fz[z] = slot_feature[first + s]
                z += inside
                outside *= r + (1.0 - r) * inside
            # Gauss-Legendre: (p + 1) // 2 points integrate the degree p - 1 exactly;
            # prefix and suffix products let each q[a] leave out its own factor
            out_of_z = 0.0
            for a in range(z):
                q[a] = 0.0
            for m in range((p + 1) // 2):
                t = points[p, m]
                u = 1.0 - t
                before = outside * weights[p, m] * powers[p, m, p - z]
                for a in range(z):
                    factor[a] = t + u * rz[a]
                    prefix[a] = before
                    before *= factor[a]
                out_of_z += before / u
                after = 1.0
                for a in range(z - 1, -1, -1):
                    q[a] += prefix[a] * after
                    after *= factor[a]
            if z < p:
                for s in range(p):
                    if (missed >> slot_bit[first + s]) & 1:
                        phi[slot_feature[first + s]] -= out_of_z
            for a in range(z):
                phi[fz[a]] += (1.0 - rz[a]) * q[a]


def probe_rows(shap: TreeShap, n: int, seed: int = 0) -> np.ndarray:
    """Return ``n`` made-up records that take both ways at many of the booster's splits.

    Each feature's value is drawn from the values its splits turn on: each threshold,
    the next float above it, each category a split lists, a category none lists, 0, a
    negative number, NaN and both infinities. The scorer checks this module against
    LightGBM on them.
    """
    rng = np.random.default_rng(seed)
    candidates: list[list[float]] = [
        [0.0, 1e-36, -1.0, math.nan, math.inf, -math.inf] for _ in range(shap.n_features)
    ]
    for k, feature in enumerate(shap.node_feature):
        if shap.node_categorical[k]:
            cats = shap.cat_values[shap.cat_start[k] : shap.cat_stop[k]]
            candidates[feature].extend([*map(float, cats), float(cats.max() + 1)])
        else:
            t = float(shap.node_threshold[k])
            candidates[feature].extend([t, float(np.nextafter(t, math.inf))])
    X = np.empty((n, shap.n_features))
    for j, values in enumerate(candidates):
        X[:, j] = rng.choice(np.asarray(values), size=n)
    return X
