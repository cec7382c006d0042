// How each answer is judged, interpreted: the rules come from the server (local_server/clients/requests.py, the
// table the doctor runs too) as paths into the JSON answer and tests; this module reads them test by test exactly
// as local_server/clients/judge.py does (tests/unit/test_client_table.py runs both on the same answers).
const MISSING = Symbol("missing");
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const isNumber = (x) => typeof x === "number" && Number.isFinite(x);
const isNumberList = (v) => Array.isArray(v) && v.length > 0 && v.every(isNumber);

function base64Bytes(v) {
  if (typeof v !== "string") return null;
  try {
    return atob(v);
  } catch {
    return null;
  }
}

function float32s(v) {
  if (Array.isArray(v)) return v.map(float32s);
  const raw = base64Bytes(v);
  if (raw === null || raw.length % 4 !== 0) return MISSING;
  const bytes = Uint8Array.from(raw, (c) => c.charCodeAt(0));
  return Array.from(new Float32Array(bytes.buffer));
}

function walk(value, segments) {
  if (segments.length === 0 || value === MISSING) return value;
  const [head, ...rest] = segments;
  if (head === "*") return Array.isArray(value) ? value.map((item) => walk(item, rest)) : MISSING;
  if (head === "#") return Array.isArray(value) || typeof value === "string" ? value.length
    : isObject(value) ? Object.keys(value).length : MISSING;
  if (head.endsWith("~f32")) return walk(float32s(walk(value, [head.slice(0, -4)])), rest);
  if (isObject(value)) return head in value ? walk(value[head], rest) : MISSING;
  if (Array.isArray(value) && /^\d+$/.test(head)) return Number(head) < value.length ? walk(value[Number(head)], rest) : MISSING;
  return MISSING;
}

export const at = (body, path) => walk(body, path ? path.split(".") : []);

function cosine(a, b) {
  let dot = 0, na = 0, nb = 0;
  a.forEach((x, i) => { dot += x * b[i]; na += x * x; nb += b[i] * b[i]; });
  return na && nb ? dot / Math.sqrt(na * nb) : 0;
}

// A vector agrees with the first reference vector, a list of vectors with the references item by item.
function agrees(v, reference) {
  if (reference.length === 0) return isNumberList(v) || (Array.isArray(v) && v.every(isNumberList));
  const vectors = isNumberList(v) ? [v] : v;
  if (!Array.isArray(vectors) || vectors.length === 0 || vectors.length > reference.length) return false;
  return vectors.every((x, i) => isNumberList(x) && x.length === reference[i].length && cosine(x, reference[i]) > 0.999);
}

const sortedNumbers = (v) => [...v].sort((a, b) => a - b);
const isScores = (v) => Array.isArray(v) && v.every((s) => typeof s === "number");

const TESTS = {
  object: (v) => isObject(v),
  list: (v) => Array.isArray(v),
  length: (v, n) => Array.isArray(v) && v.length === n,
  present: (v) => v !== MISSING,
  text_or_absent: (v) => v === MISSING || typeof v === "string",
  bool: (v) => typeof v === "boolean",
  equals: (v, arg) => v === arg,
  positive_int: (v) => Number.isInteger(v) && v > 0,
  numbers: (v) => isNumberList(v),
  base64_f32: (v) => { const raw = base64Bytes(v); return raw !== null && raw.length > 0 && raw.length % 4 === 0; },
  first_key: (v, arg) => isObject(v) && Object.keys(v)[0] === arg,
  joins: (v, arg) => Array.isArray(v) && v.every((s) => typeof s === "string") && v.join("") === arg,
  sequence: (v) => Array.isArray(v) && v.every((x, i) => x === i),
  permutation: (v) => Array.isArray(v) && v.every(Number.isInteger) && sortedNumbers(v).every((x, i) => x === i),
  unit: (v) => isScores(v) && v.every((s) => s >= 0 && s <= 1),
  descending: (v) => isScores(v) && v.every((s, i) => i === 0 || v[i - 1] >= s),
  same_length: (v) => Array.isArray(v) && v.every(Array.isArray) && new Set(v.map((x) => x.length)).size <= 1,
  distinct: (v) => Array.isArray(v) && new Set(v.map((x) => JSON.stringify(x))).size === v.length,
  agrees: (v, arg, reference) => agrees(v, reference),
};

// Throws with the first broken rule's message.
export function judge(body, rules, reference = []) {
  for (const rule of rules) {
    const value = at(body, rule.path);
    const test = TESTS[rule.test];
    if (rule.each) {
      const items = Array.isArray(value) ? value : [MISSING];
      items.forEach((item, i) => { if (!test(item, rule.arg, reference)) throw new Error(rule.message.replaceAll("{i}", String(i))); });
    } else if (!test(value, rule.arg, reference)) {
      throw new Error(rule.message);
    }
  }
}
