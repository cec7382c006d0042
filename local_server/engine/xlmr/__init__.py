"""Our own XLM-RoBERTa forward pass (bge-m3 and bge-reranker-v2-m3's encoder), with no transformers model class.

config.py     the config.json fields the forward needs
weights.py    checkpoint reading (safetensors or pytorch_model.bin), fused QKV, the heads' files
packing.py    a batch as one packed token stream (cu_seqlens, XLM-R position ids), host side
attention.py  per-sequence attention backends over the packed stream, chosen and probed per device
encoder.py    the encoder layers on (tokens, hidden)
heads.py      bge-m3's dense / sparse / ColBERT heads, the reranker's classifier, sparse aggregation
"""
