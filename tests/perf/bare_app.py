"""The ceiling of this stack: Flask + waitress that only validates and answers 200.

Run by bench_webhook.py as ``python bare_app.py PORT THREADS``.
"""

from __future__ import annotations

import json
import logging
import sys

from flask import Flask, jsonify, request
from waitress import serve

app = Flask("bare")
counter = iter(range(1, 1 << 62))


@app.post("/webhook")
def webhook():
    try:
        body = json.loads(request.get_data())
    except ValueError:
        return jsonify(error="not json"), 400
    if not isinstance(body, dict) or body.get("trigger") != "sms-notification-payload-generated":
        return jsonify(error="bad trigger"), 400
    to = (body.get("data") or {}).get("to") or {}
    if not isinstance(to.get("uid"), str):
        return jsonify(error="uid"), 400
    return jsonify(id=next(counter), status="queued")


if __name__ == "__main__":
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # a line per queued task
    serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=int(sys.argv[2]), _quiet=True)
