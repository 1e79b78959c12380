#!/usr/bin/env python3
"""Start pinman's loopback fake Anthropic API for a demo.

    python scripts/fakeapi.py --mode strict --port 8765
    python scripts/fakeapi.py --mode deny --deny output_config,thinking --wording litellm
    # in another shell:
    ANTHROPIC_BASE_URL=http://127.0.0.1:8765 ANTHROPIC_API_KEY=demo claude -p "say OK"

Each request is printed on one line (path, top-level body keys, betas). While it runs, type a
mode name and Enter to switch (e.g. `529`, `ok`); Ctrl-C or SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pinman.fingerprint.fakeapi import CLAUDE_CODE_1_0_100_BETAS, CLAUDE_CODE_1_0_100_KEYS, CLAUDE_CODE_2_1_331_BETAS, CLAUDE_CODE_2_1_331_KEYS, MODES, WORDINGS, FakeAPI, RecordedRequest

PRESETS = {
    "1.0.100": (CLAUDE_CODE_1_0_100_KEYS, CLAUDE_CODE_1_0_100_BETAS),
    "2.1.331": (CLAUDE_CODE_2_1_331_KEYS, CLAUDE_CODE_2_1_331_BETAS),
}


def _csv(text: str | None) -> set[str] | None:
    return None if text is None else {x.strip() for x in text.split(",") if x.strip()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mode", default="ok", choices=MODES)
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="1.0.100",
        help="strict mode accepts what this Claude Code version sends (default: 1.0.100)",
    )
    ap.add_argument("--allow-keys", help="comma-separated top-level body keys (overrides --preset)")
    ap.add_argument("--allow-betas", help="comma-separated betas (overrides --preset)")
    ap.add_argument("--reject-beta", help="answer 400 to requests that carry this beta")
    ap.add_argument("--deny", help="mode deny: comma-separated top-level body keys to refuse (e.g. output_config)")
    ap.add_argument("--wording", default="plain", choices=sorted(WORDINGS),
                    help="how strict/deny word a refused key (a gateway's own words)")
    args = ap.parse_args(argv)

    keys, betas = PRESETS[args.preset]
    api = FakeAPI(
        args.mode,
        allow_keys=_csv(args.allow_keys) if args.allow_keys is not None else keys,
        allow_betas=_csv(args.allow_betas) if args.allow_betas is not None else betas,
        reject_beta=args.reject_beta,
        deny_keys=_csv(args.deny) or (),
        wording=args.wording,
        port=args.port,
    )
    with api:
        print(f"fake Anthropic API on {api.url} (mode {api.mode}); type a mode + Enter to switch")
        print(f"  export ANTHROPIC_BASE_URL={api.url} ANTHROPIC_API_KEY=demo", flush=True)
        threading.Thread(target=_read_modes, args=(api,), daemon=True).start()
        signal.signal(signal.SIGTERM, _interrupt)
        shown = 0
        try:
            while True:
                while shown < len(api.requests):
                    print(_line(api.requests[shown]), flush=True)
                    shown += 1
                time.sleep(0.1)
        except KeyboardInterrupt:
            pass
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _read_modes(api: FakeAPI) -> None:
    # stdin may be closed (started in the background): then the mode just stays as it is.
    for line in sys.stdin:
        mode = line.strip()
        if mode in MODES:
            api.mode = mode
            print(f"mode -> {mode}", flush=True)
        elif mode:
            print(f"unknown mode {mode!r}; one of: {' '.join(MODES)}", flush=True)


def _line(r: RecordedRequest) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(r.time))
    keys = ",".join(r.keys) or "-"
    betas = ",".join(r.betas) or "-"
    return f"{stamp} {r.method} {r.path} keys={keys} betas={betas} ua={r.user_agent!r}"


if __name__ == "__main__":
    raise SystemExit(main())
