"""Replays a sample payload (schemas/connectors/) against a gateway, signed or authenticated
as the CRM would send it:

    python -m services.gateway.connectors.replay hubspot FILE URL CLIENT_SECRET
    python -m services.gateway.connectors.replay salesforce FILE URL CONNECTOR_SECRET

URL is the connector endpoint, e.g. http://127.0.0.1:8000/v1/connectors/hubspot/acme.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import httpx

from services.gateway.connectors.hubspot_mapping import sign


def hubspot_headers(
    secret: str, url: str, body: bytes, now_ms: int | None = None
) -> dict[str, str]:
    timestamp = str(int(time.time() * 1000) if now_ms is None else now_ms)
    return {
        "content-type": "application/json",
        "x-hubspot-request-timestamp": timestamp,
        "x-hubspot-signature-v3": sign(secret, "POST", url, body, timestamp),
    }


def salesforce_headers(secret: str) -> dict[str, str]:
    return {"content-type": "application/json", "authorization": f"Bearer {secret}"}


def replay(connector: str, body: bytes, url: str, secret: str) -> httpx.Response:
    headers = (
        hubspot_headers(secret, url, body) if connector == "hubspot" else salesforce_headers(secret)
    )
    return httpx.post(url, content=body, headers=headers, timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("connector", choices=["hubspot", "salesforce"])
    parser.add_argument("file", type=Path)
    parser.add_argument("url")
    parser.add_argument("secret")
    args = parser.parse_args(argv)
    response = replay(args.connector, args.file.read_bytes(), args.url, args.secret)
    print(response.status_code, response.text)
    return 0 if response.status_code == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
