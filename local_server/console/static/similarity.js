// bge-m3's three similarities, computed here from the vectors the server returned (as FlagEmbedding's
// BGEM3FlagModel computes them): dense cosine, sparse lexical match, ColBERT late interaction, and their
// weighted sum (compute_score's "colbert+sparse+dense").

export function dot(a, b) {
  let sum = 0;
  for (let k = 0; k < a.length; k++) sum += a[k] * b[k];
  return sum;
}

export function cosine(a, b) {
  const norms = Math.sqrt(dot(a, a)) * Math.sqrt(dot(b, b));
  return norms > 0 ? dot(a, b) / norms : 0;
}

// Sum over the tokens both texts hold of the product of their weights (compute_lexical_matching_score).
export function lexicalMatch(a, b) {
  const weights = new Map(a.indices.map((id, k) => [id, a.values[k]]));
  let sum = 0;
  b.indices.forEach((id, k) => {
    if (weights.has(id)) sum += weights.get(id) * b.values[k];
  });
  return sum;
}

// For each query token its best match among the passage's tokens, averaged over the query (colbert_score).
export function colbertScore(query, passage) {
  if (query.length === 0 || passage.length === 0) return 0;
  let sum = 0;
  for (const q of query) {
    let best = -Infinity;
    for (const p of passage) best = Math.max(best, dot(q, p));
    sum += best;
  }
  return sum / query.length;
}

export function combined(dense, sparse, colbert, weights) {
  const total = weights.dense + weights.sparse + weights.colbert;
  if (total <= 0) return 0;
  return (weights.dense * dense + weights.sparse * sparse + weights.colbert * colbert) / total;
}

export function matrix(items, score) {
  return items.map((a) => items.map((b) => score(a, b)));
}

// A text's sparse weights by token, heaviest first (ties: lower token id first), at most `limit`.
export function topTokens(sparse, limit) {
  return sparse.indices
    .map((id, k) => ({ id, token: sparse.tokens ? sparse.tokens[k] : String(id), weight: sparse.values[k] }))
    .sort((x, y) => y.weight - x.weight || x.id - y.id)
    .slice(0, limit);
}
