"""``python -m airflow_provider_octopods.emulator``: serve a local Octopods API until stopped.

Prints one JSON line when it is ready (base URL, keys, the message ids it created), so a
script can read where it is and what to ask for; then serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

from airflow_provider_octopods.emulator import serve
from airflow_provider_octopods.emulator.model import SenderModel, builtin_models
from airflow_provider_octopods.emulator.state import EmulatorState, lifecycle


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_octopods.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port (default 8765)")
    parser.add_argument("--api-key", help="the valid key (default: a random one, printed)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every status request")
    parser.add_argument("--rate-limit", type=float, help="requests per second per key (default: none)")
    parser.add_argument(
        "--messages",
        type=int,
        default=0,
        help="messages to create, delivered after --deliver-after (with --model: sent evenly over "
        "the last 24 hours, timed by the model)",
    )
    parser.add_argument("--deliver-after", type=float, default=5.0)
    parser.add_argument(
        "--model",
        type=_model,
        help="a sender model: a JSON file or a built-in name "
        f"({', '.join(builtin_models())}); times --messages and /_emulator/send",
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def _model(source: str) -> SenderModel:
    try:
        return SenderModel.load(source)
    except ValueError as error:  # argparse prints it as a usage error, without a traceback
        raise argparse.ArgumentTypeError(str(error)) from None


def _first_messages(state: EmulatorState, args: argparse.Namespace) -> list[int]:
    if not args.messages:
        return []
    if args.model is None:
        return state.add_messages(lifecycle(deliver_after=args.deliver_after), args.messages)
    return state.add_campaign(args.messages, spread_hours=24, evenly=True)


async def _main(args: argparse.Namespace) -> None:
    state = EmulatorState(api_key=args.api_key, seed=args.seed, model=args.model)
    state.latency = args.latency_ms / 1000
    state.set_rate_limit(args.rate_limit)
    ids = _first_messages(state, args)
    runner, port = await serve(state, args.host, args.port)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    ready = {
        "base_url": f"http://{args.host}:{port}",
        "api_key": state.api_key,
        "revoked_key": state.revoked_key,
        "first_message_id": ids[0] if ids else None,
        "messages": len(ids),
        "model": args.model.name if args.model else None,
    }
    print(json.dumps(ready), flush=True)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(_main(_parse(argv)))


if __name__ == "__main__":
    main()
