"""Cheaper prompt embeddings for `shift drift` / `shift sample` (issue 12): how fast is each design, how close are
its embeddings to the fp32 MiniLM ones at max_length 128, and does it change the drift verdicts?

Inputs are those of `first_hour_speed.py`: annotation = the first 150 distinct PandaLM instructions, production = the
first 646 OASST questions. Verdicts are checked on two comparisons: that one (a drift) and OASST questions 0-322 vs
323-645 (the same source split in two). Designs: fp32 at max_length 128 (the reference), torch dynamic int8
quantization of MiniLM's Linear layers, fp32 at max_length 64. CPU time is the process's user+sys time
(`time.process_time`) around each encoding, with the model loaded and warmed once on 8 texts before.

    OMP_NUM_THREADS=1 python benchmarks/embed_designs.py
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from tether.shift.data import PromptRecord, read_prompts
from tether.shift.drift import detect_drift
from tether.shift.embed import Encoder

DATA = Path(__file__).resolve().parents[1] / "data"


def inputs() -> tuple[list[str], list[str]]:
    """The two sides as `shift drift --annotation/--production` reads them (`read_prompts`)."""
    seen: list[str] = []
    for row in json.loads((DATA / "pandalm" / "testset-v1.json").read_text(encoding="utf-8")):
        if row["instruction"] not in seen:
            seen.append(row["instruction"])
    lines = (DATA / "oasst_prompts" / "oa_questions.jsonl").read_text(encoding="utf-8").splitlines()[:646]
    with tempfile.TemporaryDirectory() as tmp:
        ann, prod = Path(tmp) / "a.jsonl", Path(tmp) / "p.jsonl"
        ann.write_text("".join(json.dumps({"prompt": t}) + "\n" for t in seen[:150]), encoding="utf-8")
        prod.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return [r.text for r in read_prompts(ann)], [r.text for r in read_prompts(prod)]


def timed(enc: Encoder, texts: list[str]) -> tuple[np.ndarray, float, float]:
    enc.encode(texts[:8])
    c0, w0 = time.process_time(), time.perf_counter()
    emb = enc.encode(texts)
    return emb, time.process_time() - c0, time.perf_counter() - w0


def verdicts(a: list[str], p: list[str], ea: np.ndarray, ep: np.ndarray) -> list[tuple]:
    rec = [PromptRecord(t) for t in a], [PromptRecord(t) for t in p]
    half = len(p) // 2
    out = []
    for (ra, rp), (xa, xp) in [(rec, (ea, ep)), ((rec[1][:half], rec[1][half:]), (ep[:half], ep[half:]))]:
        r = detect_drift(ra, rp, embeddings=(xa, xp), seed=0)
        out.append((r.drift, round(r.mmd_pvalue, 4), round(r.c2st_auc, 3), round(r.c2st_pvalue, 4),
                    [c.cluster for c in r.under_covered]))
    return out


def main() -> None:
    import torch

    a, p = inputs()
    texts = a + p
    ref_enc = Encoder()
    ref_enc._load()
    tok = ref_enc._tok
    lengths = [len(ids) for ids in tok(texts, truncation=False)["input_ids"]]
    for m in (64, 128):
        print(f"prompts longer than {m} tokens (truncated at max_length {m}): {sum(n > m for n in lengths)} of "
              f"{len(texts)}; token positions kept {sum(min(n, m) for n in lengths)} of {sum(lengths)}")
    print(f"threads: torch {torch.get_num_threads()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
          f"load {os.getloadavg()[0]:.1f}")
    ref, cpu, wall = timed(ref_enc, texts)
    print(f"fp32 max_length 128: CPU {cpu:.2f} s, wall {wall:.2f} s ({len(texts) / cpu:.0f} texts/CPU s)")
    ref_v = verdicts(a, p, ref[:150], ref[150:])
    print(f"  verdicts (drift, MMD p, AUC, AUC p, under-covered): {ref_v}")

    q_enc = Encoder()
    q_enc._load()
    q_enc._model = torch.ao.quantization.quantize_dynamic(ref_enc._model, {torch.nn.Linear}, dtype=torch.qint8)
    short = Encoder(max_length=64)
    for name, enc in [("int8 dynamic max_length 128", q_enc), ("fp32 max_length 64", short)]:
        emb, cpu, wall = timed(enc, texts)
        cos = (emb * ref).sum(1)
        v = verdicts(a, p, emb[:150], emb[150:])
        print(f"{name}: CPU {cpu:.2f} s, wall {wall:.2f} s ({len(texts) / cpu:.0f} texts/CPU s); cosine to fp32/128 "
              f"min {cos.min():.4f} median {np.median(cos):.4f} mean {cos.mean():.4f}")
        print(f"  verdicts: {v}  same as reference: {v == ref_v}")


if __name__ == "__main__":
    main()
