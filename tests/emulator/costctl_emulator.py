#!/usr/bin/env python3
"""costctl's AWS API emulator: moto's server with costctl's patches, latency /
throttling injection and request statistics.  See tests/emulator/README.md.

    python3 tests/emulator/costctl_emulator.py [--host 127.0.0.1] [--port 0]
        [--latency-ms 0] [--throttle-fraction 0.0] [--seed 0] [--msk-create-seconds 0]
        [--nat-seconds 0] [--endpoint-seconds 0]

Prints exactly one line ``COSTCTL_EMULATOR_READY port=NNNNN`` on stdout once the
socket is listening, then serves until SIGTERM / SIGINT or until stdin reaches
EOF (so a harness that dies never leaves an orphan server behind).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import sys
import threading
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

READY_PREFIX = "COSTCTL_EMULATOR_READY"


def _loopback(host: str) -> str | None:
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    return None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port, 0 = pick a free one (default)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="delay before answering each AWS request")
    p.add_argument("--throttle-fraction", type=float, default=0.0, help="fraction of AWS requests answered with a throttling error")
    p.add_argument("--seed", type=int, default=0, help="seed of the deterministic throttling sequence")
    p.add_argument("--msk-create-seconds", type=float, default=0.0, help="seconds an MSK cluster stays CREATING (and DELETING)")
    p.add_argument("--nat-seconds", type=float, default=0.0, help="seconds a NAT gateway stays pending after CreateNatGateway (and deleting after DeleteNatGateway)")
    p.add_argument("--endpoint-seconds", type=float, default=0.0, help="seconds an interface VPC endpoint stays pending after CreateVpcEndpoint (and deleting after DeleteVpcEndpoints)")
    p.add_argument("--ignore-stdin", action="store_true", help="do not exit when stdin reaches EOF (manual use in the background)")
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = p.parse_args(argv)
    host = _loopback(args.host)
    if host is None:
        p.error(f"refusing to bind {args.host!r}: only loopback addresses are allowed")
    args.host = host
    if not 0 <= args.port <= 65535:
        p.error("--port must be between 0 and 65535")
    if args.latency_ms < 0:
        p.error("--latency-ms must be >= 0")
    if not 0.0 <= args.throttle_fraction <= 1.0:
        p.error("--throttle-fraction must be between 0 and 1")
    if args.msk_create_seconds < 0:
        p.error("--msk-create-seconds must be >= 0")
    if args.nat_seconds < 0:
        p.error("--nat-seconds must be >= 0")
    if args.endpoint_seconds < 0:
        p.error("--endpoint-seconds must be >= 0")
    return args


def build_app(args: argparse.Namespace) -> Any:
    import moto_patches
    from emulator_middleware import CostctlMiddleware
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    if os.environ.get("COSTCTL_EMULATOR_NO_PATCHES") == "1":
        # Plain moto behind the middleware: lets one check that the tests of the
        # patches fail without them.  Never set it in the project's test runs.
        sys.stderr.write("costctl emulator: moto patches DISABLED\n")
    else:
        moto_patches.apply(
            msk_create_seconds=args.msk_create_seconds,
            nat_seconds=args.nat_seconds,
            endpoint_seconds=args.endpoint_seconds,
        )
    backend = DomainDispatcherApplication(create_backend_app)
    return CostctlMiddleware(backend, latency_ms=args.latency_ms, throttle_fraction=args.throttle_fraction, seed=args.seed)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Dummy credentials only: the emulator must never be mistaken for AWS.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    logging.getLogger("werkzeug").setLevel(logging.INFO if args.verbose else logging.WARNING)

    from werkzeug.serving import make_server

    app = build_app(args)
    server = make_server(args.host, args.port, app, threaded=True)
    port = server.server_port
    os.environ["MOTO_PORT"] = str(port)

    stop = threading.Event()

    def _on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    if not args.ignore_stdin:

        def _watch_stdin() -> None:
            # os.read on the raw descriptor: a daemon thread blocked in the buffered
            # reader would abort the interpreter at shutdown.
            try:
                fd = sys.stdin.fileno()
                while os.read(fd, 65536):
                    pass
            except (OSError, ValueError, AttributeError):
                pass
            stop.set()

        threading.Thread(target=_watch_stdin, name="stdin-eof", daemon=True).start()

    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="serve", daemon=True)
    serving.start()
    sys.stdout.write(f"{READY_PREFIX} port={port}\n")
    sys.stdout.flush()

    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
