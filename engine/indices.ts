/**
 * @file Symbolic indices: a position along an axis that generated code computes, a literal or an
 * expression of loop variables (`i`, `i * 3 + 1`, `i / 4`). The ops' view lowerings map positions
 * with these, so a loop over a node's values reads its operands through transposes, reshapes and
 * broadcasts as it would read them at a literal position; what folds (a literal, `x / c * c + x %
 * c`) folds, so a literal position gives the literal the straight-line code always had.
 */

/** A position: a literal, or an expression over loop variables (non-negative integers). */
export type Index = number | Sym;

export type Sym = { kind: 'var'; name: string } | { kind: 'add'; a: Index; b: Index } | { kind: 'mul' | 'div' | 'mod'; a: Sym; k: number };

/** The language an index is written in: WGSL (u32 arithmetic) or JavaScript (numbers). */
export type IndexDialect = 'wgsl' | 'js';

export const loopVar = (name: string): Sym => ({ kind: 'var', name });

export const isLiteral = (x: Index): x is number => typeof x === 'number';

export function add(a: Index, b: Index): Index {
  if (isLiteral(a) && isLiteral(b)) return a + b;
  // A literal goes last, where literals fold: (i + 3) + 2 is i + 5.
  if (isLiteral(a)) return add(b, a);
  if (b === 0) return a;
  if (isLiteral(b) && a.kind === 'add' && isLiteral(a.b)) return add(a.a, a.b + b);
  if (!isLiteral(b) && b.kind === 'add' && isLiteral(b.b)) return add(add(a, b.a), b.b);
  // (x / c) * c + x % c is x: a row-major position split into (row, column) and joined again.
  if (!isLiteral(a) && !isLiteral(b) && a.kind === 'mul' && b.kind === 'mod' && a.a.kind === 'div' && a.a.k === a.k && b.k === a.k && same(a.a.a, b.a)) return b.a;
  return { kind: 'add', a, b };
}

export function mul(a: Index, k: number): Index {
  if (isLiteral(a)) return a * k;
  if (k === 0) return 0;
  return k === 1 ? a : { kind: 'mul', a, k };
}

export function div(a: Index, k: number): Index {
  if (isLiteral(a)) return Math.floor(a / k);
  return k === 1 ? a : { kind: 'div', a, k };
}

export function mod(a: Index, k: number): Index {
  if (isLiteral(a)) return a % k;
  return k === 1 ? 0 : { kind: 'mod', a, k };
}

function same(a: Index, b: Index): boolean {
  if (isLiteral(a) || isLiteral(b)) return a === b;
  if (a.kind !== b.kind) return false;
  if (a.kind === 'var') return a.name === (b as typeof a).name;
  if (a.kind === 'add') return same(a.a, (b as typeof a).a) && same(a.b, (b as typeof a).b);
  return a.k === (b as typeof a).k && same(a.a, (b as typeof a).a);
}

/** The index as an expression of the dialect (a u32 in WGSL, where a literal is abstract and adapts). */
export function render(x: Index, dialect: IndexDialect): string {
  if (isLiteral(x)) return String(x);
  const paren = (y: Index) => (isLiteral(y) || y.kind === 'var' ? render(y, dialect) : `(${render(y, dialect)})`);
  switch (x.kind) {
    case 'var':
      return x.name;
    case 'add':
      return `${render(x.a, dialect)} + ${render(x.b, dialect)}`;
    case 'mul':
      return `${paren(x.a)} * ${x.k}`;
    case 'div':
      return dialect === 'wgsl' ? `${paren(x.a)} / ${x.k}` : `Math.floor(${paren(x.a)} / ${x.k})`;
    case 'mod':
      return `${paren(x.a)} % ${x.k}`;
  }
}
