"""The probe table in three forms: aligned terminal text, Markdown and a JSON-ready dict."""

from __future__ import annotations

from typing import Any

COLUMNS = ("embedding", "dim", "logreg_acc", "knn_acc", "fit_s", "embed_s", "logreg_fit_s", "knn_fit_s")


def _cell(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    if value is None:
        return "-"
    if key.endswith("_acc"):
        return f"{value:.4f}"
    if key.endswith("_s"):
        return f"{value:.2f}"
    return str(value)


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    return [c for c in COLUMNS if any(c in r for r in rows)]


def terminal_table(rows: list[dict[str, Any]]) -> str:
    """Aligned columns (accuracies as fractions, times in seconds)."""
    cols = _columns(rows)
    cells = [[_cell(r, c) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def markdown_table(rows: list[dict[str, Any]], protocol: dict[str, Any]) -> str:
    """A Markdown table followed by the protocol as a bullet list."""
    cols = _columns(rows)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(_cell(r, c) for c in cols) + " |" for r in rows]
    lines += ["", "Protocol:", ""] + [f"- {k}: {v}" for k, v in protocol.items()]
    return "\n".join(lines) + "\n"


def probe_summary(rows: list[dict[str, Any]], protocol: dict[str, Any], runs: list[str]) -> dict[str, Any]:
    """summary.json of a probe (docs/ARCHITECTURE.md, "Reports"): each embedding's best test
    accuracy, and a finding comparing the first run's codes with the best baseline."""
    from latentscape.landscape.studies.outputs import Summary

    def best(row: dict[str, Any]) -> tuple[float, str]:
        accs = [(float(v), k[: -len("_acc")]) for k, v in row.items() if k.endswith("_acc") and isinstance(v, (int, float))]
        return max(accs) if accs else (float("nan"), "")

    metrics = {f"{r['embedding']} {best(r)[1]} accuracy": best(r)[0] for r in rows if best(r)[1]}
    finding = ""
    if rows and best(rows[0])[1]:
        acc, clf = best(rows[0])
        others = [r for r in rows[len(runs):] if best(r)[1]]
        subset = protocol.get("per_class") or protocol.get("max_train")
        size = protocol.get("train_size")
        on = f" ({size:,} training codes)" if subset and isinstance(size, int) else ""
        text = f"On {protocol.get('dataset', 'the data')}{on}, the codes of {rows[0]['embedding']} reach a test accuracy of {acc:.4g} ({clf})"
        if others:
            top = max(others, key=lambda r: best(r)[0])
            text += f", against {best(top)[0]:.4g} for {top['embedding']} ({best(top)[1]}), the best baseline"
            same = [r for r in others if r is not top and r.get("dim") == rows[0].get("dim")]
            if same:  # the like-for-like baseline: as many dimensions as the codes (PCA, UMAP)
                s = max(same, key=lambda r: best(r)[0])
                text += f", and {best(s)[0]:.4g} for {s['embedding']} ({best(s)[1]}) with as many dimensions"
        finding = text + "."
    names = ", ".join(str(r["embedding"]) for r in rows)
    title = f"Linear and kNN probes on {protocol.get('dataset', '?')}: {names}"
    model = str(rows[0]["embedding"]) if rows else ""
    return Summary("probe", title, finding, model, str(protocol.get("dataset", "")), metrics, report=None,
                   extra={"rows": rows, "protocol": protocol}).to_json()
