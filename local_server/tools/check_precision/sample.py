"""The built-in sample `bge-local check-precision` measures on when no --texts file is given: short texts in
several languages (Chinese most, as bge-m3's users write most), the first ``QUERIES`` of them questions about
the rest. A user's own file is read the same way: the first --queries lines ask, the other lines answer."""

from __future__ import annotations

from pathlib import Path

QUERIES = 6

SAMPLE: tuple[str, ...] = (
    # queries
    "What is the capital of France?",
    "如何降低模型推理的延迟？",
    "Wie funktioniert die Photosynthese?",
    "東京で人気の観光地はどこですか？",
    "¿Cuáles son los beneficios del ejercicio regular?",
    "量子计算机和传统计算机有什么区别？",
    # documents
    "The capital of France is Paris, which is also its largest city.",
    "巴黎是法国的首都，也是最大的城市。",
    "Paris est la capitale de la France et sa plus grande ville.",
    "Horses and cows are both domesticated animals that eat grass.",
    "批处理和量化都可以降低推理延迟，但量化可能影响精度。",
    "使用更小的模型、缓存结果或在 GPU 上运行都能减少推理时间。",
    "Model inference latency drops with batching, caching and reduced precision arithmetic.",
    "Die Photosynthese wandelt Lichtenergie in chemische Energie um; Pflanzen bilden daraus Zucker.",
    "Pflanzen nehmen Kohlendioxid auf und geben Sauerstoff ab.",
    "浅草寺や東京スカイツリーは東京で人気の観光地です。",
    "京都には多くの寺院と神社があります。",
    "El ejercicio regular mejora la salud del corazón y reduce el estrés.",
    "Caminar treinta minutos al día ayuda a controlar el peso.",
    "量子计算机利用量子叠加和纠缠进行计算，传统计算机使用二进制比特。",
    "经典计算机按顺序处理 0 和 1，量子比特可以同时处于多种状态。",
    "长江是中国最长的河流，全长约六千三百公里。",
    "北京是中华人民共和国的首都，有三千多年的建城史。",
    "今天天气晴朗，适合去公园散步。",
    "深度学习模型需要大量的数据和计算资源来训练。",
    "检索增强生成先检索相关文档，再让大模型根据文档回答问题。",
    "서울은 대한민국의 수도이며 가장 큰 도시입니다.",
    "Москва — столица России и крупнейший город страны.",
    "القاهرة هي عاصمة مصر وأكبر مدنها.",
    "दिल्ली भारत की राजधानी है।",
    "Rome is the capital of Italy and was the centre of the Roman Empire.",
    "A vector database stores embeddings and finds the nearest neighbours of a query.",
    "Sparse lexical weights reward documents that share rare words with the query.",
    "向量数据库存储文本的向量表示，并按相似度检索最相近的文档。",
    "The Eiffel Tower was completed in 1889 for the World's Fair in Paris.",
    "猫是一种常见的家养宠物，喜欢睡觉和玩耍。",
)


def read_texts(path: str | Path, max_texts: int, max_chars: int) -> list[str]:
    """Non-blank lines of ``path`` (UTF-8), at most ``max_texts`` of them, each cut at ``max_chars``; a
    ``ValueError`` saying why when the file cannot be used."""
    texts: list[str] = []
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                line = line.strip()
                if line:
                    texts.append(line[:max_chars])
                    if len(texts) >= max_texts:
                        break
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return texts
