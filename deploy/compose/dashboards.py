"""Copy the built dashboards for this deployment's Grafana, with the API address its users reach.

The sensor dashboard links to the citydata API through its `api` variable, built with the local
run's address; Grafana expands no environment in dashboard files, so docker-compose.yml's
`dashboards` service writes a copy with CITYDATA_PUBLIC_API_URL into the folder Grafana's
provisioning reads: `dashboards.py SOURCE_DIR TARGET_DIR URL`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

VARIABLE = "api"


def with_api_url(dashboard: dict[str, Any], url: str) -> dict[str, Any]:
    """`dashboard` with its `api` text variable (if any) set to `url`, default and current."""
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("name") == VARIABLE and variable.get("type") == "textbox":
            variable["query"] = url
            variable["current"] = {"selected": True, "text": url, "value": url}
    return dashboard


def copy_dashboards(source: Path, target: Path, url: str) -> list[str]:
    """Write every `source/*.json` to `target` with the API address; remove stale files."""
    target.mkdir(parents=True, exist_ok=True)
    names = sorted(p.name for p in source.glob("*.json"))
    if not names:
        raise FileNotFoundError(f"no dashboards in {source}")
    for name in names:
        board = with_api_url(json.loads((source / name).read_text(encoding="utf-8")), url)
        text = json.dumps(board, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        (target / name).write_text(text, encoding="utf-8")
    for stale in target.glob("*.json"):
        if stale.name not in names:
            stale.unlink()
    return names


def main(argv: list[str]) -> int:
    if len(argv) != 3 or not argv[2].startswith(("http://", "https://")):
        print("usage: dashboards.py SOURCE_DIR TARGET_DIR http(s)://API-ADDRESS", file=sys.stderr)
        return 2
    names = copy_dashboards(Path(argv[0]), Path(argv[1]), argv[2].rstrip("/"))
    print(f"dashboards: {len(names)} for Grafana, the API at {argv[2]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
