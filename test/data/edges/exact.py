# The exact least-squares answer of the doubles in each CSV given (y first, then the columns, with
# a constant term), in rational arithmetic: Python's float() reads a decimal to the nearest double,
# as JavaScript's Number() does, and Fraction holds that double exactly; the normal equations are
# then solved with no rounding, and each answer printed as its nearest double. The references in
# test/edges.test.ts (EXACT) come from `python3 test/data/edges/exact.py test/data/edges/*.csv`.
import csv, sys
from fractions import Fraction as F
from math import isqrt

def solve(G, h):
    p = len(G)
    m = [row[:] + [v] for row, v in zip(G, h)]
    for c in range(p):
        pivot = next(r for r in range(c, p) if m[r][c] != 0)
        m[c], m[pivot] = m[pivot], m[c]
        for r in range(p):
            if r != c and m[r][c] != 0:
                f = m[r][c] / m[c][c]
                m[r] = [a - f * b for a, b in zip(m[r], m[c])]
    return [m[i][p] / m[i][i] for i in range(p)]

def sqrt(q, bits=200):
    # sqrt(n / d) = sqrt(n d 4^bits) / (d 2^bits), to far below a double's last bit.
    return F(isqrt(q.numerator * q.denominator * 4 ** bits), q.denominator * 2 ** bits)

for path in sys.argv[1:]:
    rows = [[F(float(v)) for v in r] for r in list(csv.reader(open(path)))[1:]]
    y = [r[0] for r in rows]
    A = [[F(1)] + r[1:] for r in rows]
    n, p = len(A), len(A[0])
    G = [[sum(A[i][a] * A[i][b] for i in range(n)) for b in range(p)] for a in range(p)]
    coef = solve(G, [sum(A[i][a] * y[i] for i in range(n)) for a in range(p)])
    rss = sum((y[i] - sum(A[i][j] * coef[j] for j in range(p))) ** 2 for i in range(n))
    s2 = rss / (n - p)
    gram = [solve(G, [F(int(i == j)) for i in range(p)])[j] for j in range(p)]
    se = [float(sqrt(s2 * g)) if s2 > 0 else 0.0 for g in gram]
    print(path, {'coef': [float(c) for c in coef], 'se': se, 'sigma': float(sqrt(s2)) if s2 > 0 else 0.0})
