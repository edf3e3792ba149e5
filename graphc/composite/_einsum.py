"""einsum: contractions lowered to permute, sum, expand and batched matmul."""
from __future__ import annotations

import string

from ..ir.errors import InvalidArgument, ShapeError
from ..tensor import Tensor, _t


def _parse(equation: str, xs: list[Tensor]) -> tuple[list[str], str]:
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(xs):
        raise InvalidArgument(f"einsum(): {equation!r} names {len(terms)} operands, got "
                              f"{len(xs)} (more operands were provided than specified in the "
                              f"equation, or fewer)")
    ell = ""
    if "." in eq:
        terms, rhs, ell = _ellipsis(terms, rhs, xs, equation)
    if not arrow:  # implicit output: the broadcast dims, then the letters used once, sorted
        letters = "".join(c for t in terms for c in t if c not in ell)
        rhs = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return terms, rhs


def _ellipsis(terms: list[str], rhs: str, xs: list[Tensor], equation: str):
    """Spell each ``...`` with spare letters, right-aligned as broadcasting aligns dims."""
    used = set("".join(terms) + rhs)
    spare = [c for c in string.ascii_letters if c not in used]
    dims = []
    for t, x in zip(terms, xs):
        named = t.replace("...", "", 1)
        if "." in named:
            raise InvalidArgument(f"einsum(): invalid ellipsis in {equation!r}")
        dims.append(x.ndim - len(named) if "..." in t else 0)
        if dims[-1] < 0:
            raise ShapeError(f"einsum(): the subscript {t!r} has more letters than the "
                             f"operand has dims ({x.ndim})")
    ell = "".join(spare[:max(dims)])
    terms = [t.replace("...", ell[len(ell) - d:]) for t, d in zip(terms, dims)]
    return terms, rhs.replace("...", ell), ell


def _diagonal_free(term: str, x: Tensor, equation: str) -> None:
    if len(set(term)) != len(term):
        raise InvalidArgument(f"einsum(): repeated subscripts within one operand "
                                 f"(diagonals) are not supported: {equation!r}")
    if len(term) != x.ndim:
        raise ShapeError(f"einsum(): the subscript {term!r} has {len(term)} letters for an "
                         f"operand with {x.ndim} dims")


def _sum_out(term: str, x: Tensor, keep: set[str]) -> tuple[str, Tensor]:
    drop = [i for i, c in enumerate(term) if c not in keep]
    if drop:
        x = x.sum(tuple(drop))
        term = "".join(c for c in term if c in keep)
    return term, x


def _contract(ta: str, a: Tensor, tb: str, b: Tensor, out_letters: set[str]):
    sizes = {}
    for t, x in ((ta, a), (tb, b)):
        for c, s in zip(t, x.shape):
            if sizes.get(c, 1) not in (1, s) and s != 1:
                raise ShapeError(f"einsum(): subscript {c!r} has sizes {sizes[c]} and {s}")
            sizes[c] = max(sizes.get(c, 1), s)
    batch = [c for c in ta if c in tb and c in out_letters]
    contract = [c for c in ta if c in tb and c not in out_letters]
    left = [c for c in ta if c not in tb]
    right = [c for c in tb if c not in ta]
    a = a.permute([ta.index(c) for c in batch + left + contract])
    b = b.permute([tb.index(c) for c in batch + contract + right])
    a = a.expand([sizes[c] for c in batch] + list(a.shape[len(batch):]))
    b = b.expand([sizes[c] for c in batch] + list(b.shape[len(batch):]))

    def prod(cs):
        n = 1
        for c in cs:
            n *= sizes[c]
        return n
    bs = [sizes[c] for c in batch]
    a = a.reshape(bs + [prod(left), prod(contract)])
    b = b.reshape(bs + [prod(contract), prod(right)])
    r = (a @ b).reshape(bs + [sizes[c] for c in left + right])
    return "".join(batch + left + right), r


def einsum(equation: str, *operands) -> Tensor:
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    xs = [_t(x) for x in operands]
    terms, rhs = _parse(equation, xs)
    for t, x in zip(terms, xs):
        _diagonal_free(t, x, equation)
    term, acc = terms[0], xs[0]
    rest = list(zip(terms[1:], xs[1:]))
    term, acc = _sum_out(term, acc, set(rhs).union(*[set(t) for t, _ in rest]))
    for i, (tb, b) in enumerate(rest):
        later = set(rhs).union(*[set(t) for t, _ in rest[i + 1:]])
        tb, b = _sum_out(tb, b, later | set(term))
        term, acc = _contract(term, acc, tb, b, later)
    term, acc = _sum_out(term, acc, set(rhs))
    if sorted(term) != sorted(rhs):
        raise InvalidArgument(f"einsum(): output subscripts {rhs!r} do not match {equation!r}")
    return acc.permute([term.index(c) for c in rhs]) if rhs else acc
