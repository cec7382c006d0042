"""huggingface_hub 1.x's InferenceClient (pulled in by LangChain, LlamaIndex and Haystack) at TEI's root: the
server's base URL and a per-model base URL. The 2.x client (the test venv's) is driven in
tests/server/test_defaults_and_roots.py."""

from __future__ import annotations

import pytest
from drivers._common import TEXTS
from support.client_checks import assert_vectors, scenario


@pytest.mark.parametrize("name", ["feature_extraction_base_url", "feature_extraction_model_url"])
def test_feature_extraction(drive, server, name):
    assert_vectors(server, scenario(drive, "huggingface_hub_client", name)["vectors"], TEXTS)
