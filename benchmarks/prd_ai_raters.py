"""PRD Vicuna80 LLM reviewers through the audit: position-bias figures, 0.4-rule verdicts and rater kinds as JSON.

Run it on two checkouts (e.g. before and after the reviewers were imported as AI raters) and diff the files:

    PYTHONPATH=src python benchmarks/prd_ai_raters.py /tmp/prd_after.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tether.audit import AuditConfig, run_audit
from tether.io.formats import get_format

DATA = Path(__file__).resolve().parents[1] / "data" / "prd"


def main(out: Path) -> None:
    start = time.process_time()
    comparisons = [item[1] for item in get_format("prd").reader(DATA)]
    llm = [c for c in comparisons if not c.rater.startswith("prd-human")]
    d = run_audit(llm, AuditConfig(n_bootstrap=0)).to_dict()
    position = {k: v for k, v in d["position"].items() if k != "by_interface"}  # the mark itself is an interface
    result = {"position": position,
              "task_types": {t: [v["status"], v["alpha"]] for t, v in d["task_types"].items()},
              "kinds": {n: r.get("kind") for n, r in d["raters"].items()}}
    out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(llm)} LLM-reviewer judgments; CPU {time.process_time() - start:.1f} s")
    for name, p in sorted(d["position"]["by_rater"].items()):
        print(f"{name:11s} first-shown {p['rate']:.3f} (p {p['p_value']:.2g}) swap consistency "
              f"{p['swap_consistency']:.3f} of {p['n_swapped']} pairs, BT position {p['bt_position']['overall']:+.3f}"
              f", kind {d['raters'][name].get('kind')}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
