"""huggingface_hub's InferenceClient (the 1.x line the other libraries here pull in), pointed at a TEI server."""

from __future__ import annotations

from _common import TEXTS, floats, run


def feature_extraction_base_url(url: str) -> dict:
    from huggingface_hub import InferenceClient

    return {"vectors": floats(InferenceClient(base_url=url).feature_extraction(TEXTS))}


def feature_extraction_model_url(url: str) -> dict:
    from huggingface_hub import InferenceClient

    return {"vectors": floats(InferenceClient(model=url + "/models/bge-m3").feature_extraction(TEXTS))}


if __name__ == "__main__":
    run({"feature_extraction_base_url": feature_extraction_base_url,
         "feature_extraction_model_url": feature_extraction_model_url})
