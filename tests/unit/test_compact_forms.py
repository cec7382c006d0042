"""The compact ColBERT forms and the sparse token map (engine/compact.py, dialects/vector_forms.py): round trips
within each form's precision, the base64 byte layouts, and MaxSim on each form against full precision."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from support.agreement import kendall_tau_b, measure, spearman, stand_in_colbert, table

from local_server.dialects.vector_forms import colbert_fields, sparse_form
from local_server.engine.compact import (
    COLBERT_FORMATS,
    decode_colbert,
    encode_colbert,
    maxsim,
    maxsim_compact,
    token_weights,
)
from local_server.engine.types import EmbeddingVectors

FP16_UNIT = 2.0 ** -11  # half precision's unit roundoff: round-to-nearest errs by at most this, relatively


def _rows(n: int = 7, dim: int = 1024, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_float_is_exact_and_fp16_errs_by_at_most_half_precision():
    x = _rows()
    np.testing.assert_array_equal(decode_colbert(encode_colbert(x, "float")), x)
    half = encode_colbert(x, "fp16")
    assert half.data.dtype == np.float16 and half.data.shape == x.shape
    assert np.all(np.abs(decode_colbert(half) - x) <= np.abs(x) * FP16_UNIT + 2.0 ** -25)  # + subnormal spacing


def test_int8_rows_scale_to_127_and_err_by_at_most_half_a_step():
    x = _rows()
    q = encode_colbert(x, "int8")
    assert q.data.dtype == np.int8 and q.scales is not None and q.scales.shape == (len(x),)
    assert np.all(np.abs(q.data).max(axis=1) == 127), "each row's largest component is ±127"
    np.testing.assert_allclose(q.scales, np.abs(x).max(axis=1) / 127, rtol=1e-6)
    assert np.all(np.abs(decode_colbert(q) - x) <= q.scales[:, None] / 2 * (1 + 1e-5))


def test_binary_keeps_the_signs_in_d_over_8_bytes_a_row():
    x = _rows()
    b = encode_colbert(x, "binary")
    assert b.data.dtype == np.uint8 and b.data.shape == (7, 128), "128 bytes per 1024-d row"
    back = decode_colbert(b)
    np.testing.assert_array_equal(back > 0, x > 0)
    np.testing.assert_allclose(np.linalg.norm(back, axis=1), 1.0, rtol=1e-6)


def test_a_zero_row_and_no_rows_survive_every_form():
    x = np.zeros((1, 16), np.float32)
    for form in COLBERT_FORMATS:
        assert np.all(decode_colbert(encode_colbert(x, form)) <= 0)
        empty = encode_colbert(np.zeros((0, 16), np.float32), form)
        assert decode_colbert(empty).shape == (0, 16)
        assert maxsim_compact(empty, encode_colbert(_rows(2, 16), form)) == 0.0


def test_an_unknown_form_is_refused():
    with pytest.raises(ValueError, match="float, fp16, int8, binary"):
        encode_colbert(_rows(), "int4")


# ---- the bytes on the wire ---------------------------------------------------------------------------------------
def _bytes(fields: dict) -> bytes:
    return base64.b64decode(fields["embedding"])


def test_binary_bytes_put_dimension_0_in_the_most_significant_bit():
    row = -np.ones((1, 16), np.float32)
    row[0, 0] = row[0, 15] = row[0, 9] = 0.5  # bits 0, 9 and 15 set
    fields = colbert_fields(row, "binary", "base64")
    assert _bytes(fields) == bytes([0b1000_0000, 0b0100_0001]) and fields["shape"] == [1, 2]
    assert colbert_fields(row, "binary", None)["embedding"].tolist() == [[-128, 65]], "JSON: the bytes as int8"


def test_int8_bytes_and_their_little_endian_scales():
    row = np.array([[1.0, -0.5, 0.0, 0.25]], np.float32)
    fields = colbert_fields(row, "int8", "base64")
    assert np.frombuffer(_bytes(fields), np.int8).tolist() == [127, -64, 0, 32]
    assert base64.b64decode(fields["scales"]) == np.array([1 / 127], "<f4").tobytes() and fields["shape"] == [1, 4]
    plain = colbert_fields(row, "int8", None)
    assert plain["embedding"].tolist() == [[127, -64, 0, 32]]
    assert plain["scales"].tolist() == pytest.approx([1 / 127])


@pytest.mark.parametrize(("form", "dtype", "width"), [("float", "<f4", 1024), ("fp16", "<f2", 1024),
                                                      ("int8", "i1", 1024), ("binary", "u1", 128)])
def test_base64_is_row_major_little_endian_in_the_shape_given(form, dtype, width):
    x = _rows(3)
    fields = colbert_fields(x, form, "base64")
    assert fields["shape"] == [3, width]
    got = np.frombuffer(_bytes(fields), dtype).reshape(fields["shape"])
    np.testing.assert_array_equal(got, encode_colbert(x, form).data)
    assert ("scales" in fields) == (form == "int8")


# ---- MaxSim per form -----------------------------------------------------------------------------------------
def test_int8_scaled_integer_dot_equals_the_dequantized_dot():
    q, d = encode_colbert(_rows(5, seed=1), "int8"), encode_colbert(_rows(9, seed=2), "int8")
    assert maxsim_compact(q, d) == pytest.approx(maxsim(decode_colbert(q), decode_colbert(d)), abs=1e-6)


def test_binary_hamming_maxsim_is_1_on_itself_and_estimates_the_cosine():
    x = _rows(4)
    b = encode_colbert(x, "binary")
    assert maxsim_compact(b, b) == 1.0
    assert maxsim_compact(encode_colbert(x[:1], "binary"), encode_colbert(-x[:1], "binary")) == -1.0
    a, noise = _rows(1, seed=3), _rows(1, seed=4)
    c = (0.5 * a + np.sqrt(0.75) * (noise - (noise @ a.T) * a) / np.linalg.norm(noise - (noise @ a.T) * a))
    assert float((a @ c.T)[0, 0]) == pytest.approx(0.5, abs=1e-5)
    # SimHash: the angle is π·(share of bits that differ); at 1024 bits the estimate errs by ~0.05 here
    assert maxsim_compact(encode_colbert(a, "binary"), encode_colbert(c.astype(np.float32), "binary")) == \
        pytest.approx(0.5, abs=0.1)


def test_both_sides_need_one_form():
    with pytest.raises(ValueError, match="one form"):
        maxsim_compact(encode_colbert(_rows(), "int8"), encode_colbert(_rows(), "fp16"))


def test_rank_statistics():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    assert spearman(a, a) == pytest.approx(1.0) and kendall_tau_b(a, -a) == pytest.approx(-1.0)
    assert kendall_tau_b(a, np.array([1.0, 1.0, 3.0, 4.0])) == pytest.approx(5 / np.sqrt(30))


@pytest.fixture(scope="module")
def stand_in_agreement(tiny_models):
    queries, docs = stand_in_colbert(str(tiny_models / "bge-m3"))
    rows = measure(queries, docs)
    print("\n" + table(rows))  # the numbers docs/formats.md quotes (pytest -s)
    return {(r.form, r.side): r for r in rows}, queries[0].shape[1]


@pytest.mark.parametrize("side", ["asymmetric", "symmetric"])
def test_fp16_maxsim_stays_within_half_precision(stand_in_agreement, side):
    rows, _ = stand_in_agreement
    r = rows["fp16", side]
    # unit rows: |q·d - q·d'| <= Σ|q_i d_i|·u <= u per product (2u when both sides are rounded); mean and max keep it
    assert r.max_abs_error <= (FP16_UNIT if side == "asymmetric" else 2 * FP16_UNIT)
    assert r.spearman >= 0.999 and r.kendall >= 0.99 and r.top1 == 1.0


@pytest.mark.parametrize("side", ["asymmetric", "symmetric"])
def test_int8_maxsim_keeps_the_ranking(stand_in_agreement, side):
    rows, dim = stand_in_agreement
    r = rows["int8", side]
    # worst case: each component off by half a step (max|x|/254 <= 1/254), so a dot product by at most
    # √d/254 (Cauchy-Schwarz), twice that with both sides rounded; measured: about 1e-3
    assert r.max_abs_error <= np.sqrt(dim) / 254 * (1 if side == "asymmetric" else 2)
    assert r.max_abs_error <= 5e-3, "an order of magnitude under the worst case, as rounding errors cancel"
    assert r.spearman >= 0.99 and r.kendall >= 0.97 and r.top1 >= 0.9


@pytest.mark.parametrize("side", ["asymmetric", "symmetric"])
def test_binary_maxsim_keeps_the_coarse_ranking(stand_in_agreement, side):
    rows, _ = stand_in_agreement
    r = rows["binary", side]
    # The tiny stand-in's rows are 32 bits and all lean one way (84% of the bits are the same in every row), so
    # binary keeps only the coarse order: measured Spearman ~0.72, Kendall ~0.54. A random order scores 0 and a
    # wrong bit order or sign about 0 or below; these floors catch those and leave room for other platforms' BLAS.
    assert r.spearman >= 0.6 and r.kendall >= 0.4


# ---- sparse forms --------------------------------------------------------------------------------------------
def test_token_map_keeps_the_larger_weight_of_two_ids_with_one_text_and_keys_the_bare_marker():
    assert token_weights(["is", "", "Paris", "is"], [0.2, 0.1, 0.3, 0.25]) == {"is": 0.25, "▁": 0.1, "Paris": 0.3}
    assert token_weights(["is", "is"], [0.3, 0.2]) == {"is": 0.3}


def test_sparse_forms_of_one_text():
    vec = EmbeddingVectors(sparse={35: 0.2, 7: 0.5, 12: 0.1})
    assert sparse_form(vec, None, "indices") == {"indices": [35, 7, 12], "values": [0.2, 0.5, 0.1]}
    assert sparse_form(vec, None, "id_map") == {"35": 0.2, "7": 0.5, "12": 0.1}
    assert sparse_form(vec, ["a", "▁a", "b"], "token_map") == {"a": 0.2, "▁a": 0.5, "b": 0.1}
    assert sparse_form(vec, ["a", "a", ""], "token_map") == {"a": 0.5, "▁": 0.1}
