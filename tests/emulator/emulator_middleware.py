"""WSGI middleware in front of moto: latency / throttling injection, request
statistics and the /_costctl/* control endpoints.

An "AWS request" is a request signed with SigV4: the service is the signing
name in the Authorization header's credential scope
(Credential=AKID/DATE/REGION/SERVICE/aws4_request).  Everything else (moto's
own /moto-api/, the control endpoints) passes through untouched and uncounted.
"""

from __future__ import annotations

import io
import json
import random
import re
import threading
import time
import uuid
from collections import Counter
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, quote

import botocore.session

CONTROL_PREFIX = "/_costctl/"
_SCOPE_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")

# SigV4 signing name -> botocore service name (for REST protocols and metadata).
_SIGNING_TO_BOTOCORE = {
    "elasticloadbalancing": "elbv2",
    "monitoring": "cloudwatch",
    "application-autoscaling": "application-autoscaling",
}

# Services whose JSON throttling error code differs from "ThrottlingException".
_JSON_THROTTLE_TYPE = {
    "dynamodb": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
}

StartResponse = Callable[..., Any]

# Smithy RPC v2 CBOR (https://smithy.io/2.0/additional-specs/protocols/smithy-rpc-v2.html):
# POST /service/{ServiceName}/operation/{OperationName}, header smithy-protocol: rpc-v2-cbor.
_CBOR_PATH = re.compile(r"^/service/([^/]+)/operation/([^/]+)$")


class _CborBridge:
    """Translates Smithy RPC v2 CBOR requests (what the AWS SDK for Rust sends to CloudWatch
    since CloudWatch added the protocol) into the awsJson1.0 requests moto understands, and
    moto's JSON answers back into CBOR.  moto 5.2.1 has no CBOR support at all."""

    def __init__(self) -> None:
        from botocore import parsers, serialize

        self._session = botocore.session.get_session()
        self._models: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._cbor_in = parsers.RpcV2CBORParser()
        self._json_out = parsers.JSONParser()
        self._json_in = serialize.JSONSerializer()
        self._cbor_out = serialize.RpcV2CBORSerializer()

    def _operation(self, service: str, name: str) -> Any:
        with self._lock:
            if service not in self._models:
                self._models[service] = self._session.get_service_model(_SIGNING_TO_BOTOCORE.get(service, service))
            return self._models[service].operation_model(name)

    def __call__(self, app: Callable[..., Iterable[bytes]], environ: dict[str, Any], service: str, op_name: str, start_response: StartResponse) -> Iterable[bytes]:
        op = self._operation(service, op_name)
        body = _buffer_body(environ)
        params = self._cbor_in.parse_data_item(self._cbor_in.get_peekable_stream_from_bytes(body)) if body else {}
        request = self._json_in.serialize_to_request(params or {}, op)
        data = request["body"] if isinstance(request["body"], bytes) else str(request["body"]).encode()
        environ = dict(environ)
        environ.update({
            "PATH_INFO": "/", "RAW_URI": "/", "REQUEST_URI": "/", "QUERY_STRING": "",
            "CONTENT_TYPE": request["headers"]["Content-Type"], "CONTENT_LENGTH": str(len(data)),
            "HTTP_X_AMZ_TARGET": request["headers"]["X-Amz-Target"], "HTTP_X_AMZN_QUERY_MODE": "true",
            "wsgi.input": io.BytesIO(data),
        })
        environ.pop("costctl.body", None)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda _chunk: None

        answer = b"".join(app(environ, capture))
        status = captured["status"]
        code = int(status.split(" ", 1)[0])
        headers = {k.lower(): v for k, v in captured["headers"]}
        out_headers = [("smithy-protocol", "rpc-v2-cbor"), ("x-amzn-RequestId", headers.get("x-amzn-requestid", str(uuid.uuid4())))]
        if code >= 300:
            try:
                err = json.loads(answer or b"{}")
            except ValueError:
                err = {"__type": "InternalFailure", "message": answer.decode("utf-8", "replace")[:500]}
            err_type = str(err.get("__type", "InternalFailure")).rsplit("#", 1)[-1]
            payload = cbor_error(err_type, str(err.get("message") or err.get("Message") or ""))
            query_error = headers.get("x-amzn-query-error") or f"{err_type};{'Sender' if code < 500 else 'Receiver'}"
            out_headers += [("Content-Type", "application/cbor"), ("x-amzn-query-error", query_error)]
        elif op.output_shape is None:
            payload = b""
        else:
            parsed = self._json_out.parse({"status_code": code, "headers": headers, "body": answer}, op.output_shape)
            parsed.pop("ResponseMetadata", None)
            buf = bytearray()
            self._cbor_out._serialize_data_item(buf, parsed, op.output_shape)
            payload = bytes(buf)
            out_headers.append(("Content-Type", "application/cbor"))
        start_response(status, out_headers + [("Content-Length", str(len(payload)))])
        return [payload]


def cbor_error(err_type: str, message: str) -> bytes:
    """A CBOR map {"__type": err_type, "message": message} (RPC v2 CBOR error body)."""

    def text(value: str) -> bytes:
        raw = value.encode()
        n = len(raw)
        head = bytes([0x60 | n]) if n < 24 else bytes([0x78, n]) if n < 256 else bytes([0x79]) + n.to_bytes(2, "big")
        return head + raw

    return b"\xa2" + text("__type") + text(err_type) + text("message") + text(message)


class _RestMatcher:
    """method + path -> operation name for REST protocols, from botocore's model."""

    def __init__(self) -> None:
        self._session = botocore.session.get_session()
        self._cache: dict[str, list[tuple[int, int, str, re.Pattern[str], str]]] = {}
        self._lock = threading.Lock()

    def _routes(self, service: str) -> list[tuple[int, int, str, re.Pattern[str], str]]:
        with self._lock:
            if service in self._cache:
                return self._cache[service]
            routes = []
            try:
                model = self._session.get_service_model(_SIGNING_TO_BOTOCORE.get(service, service))
            except Exception:  # noqa: BLE001 - unknown service
                model = None
            if model is not None and model.protocol in ("rest-json", "rest-xml"):
                for name in model.operation_names:
                    http = model.operation_model(name).http
                    uri = http["requestUri"].split("?", 1)[0].rstrip("/") or "/"
                    literal = len(re.sub(r"\{[^}]+\}", "", uri))
                    pattern = re.sub(
                        r"\\\{([^}]+?)(\\\+)?\\\}",
                        lambda m: "(.+)" if m.group(2) else "([^/]+)",
                        re.escape(uri),
                    )
                    routes.append((-literal, uri.count("{"), http["method"], re.compile("^" + pattern + "/?$"), name))
                routes.sort(key=lambda r: (r[0], r[1]))
            self._cache[service] = routes
            return routes

    def match(self, service: str, method: str, raw_path: str) -> str | None:
        for _, _, m, rx, name in self._routes(service):
            if m == method and rx.match(raw_path):
                return name
        return None


class CostctlMiddleware:
    def __init__(self, app: Callable[..., Iterable[bytes]], latency_ms: float = 0.0, throttle_fraction: float = 0.0, seed: int = 0):
        self.app = app
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._throttled: Counter[str] = Counter()
        # CPU seconds moto spent answering (thread CPU time, so requests waiting on the GIL are
        # not counted twice): how much of a measured wall time is the emulator's own work.
        self._cpu_s = 0.0
        self._rest = _RestMatcher()
        self._cbor = _CborBridge()
        self.configure(latency_ms=latency_ms, throttle_fraction=throttle_fraction, seed=seed)

    # ------------------------------------------------------------------ config
    def configure(self, latency_ms: Any = None, throttle_fraction: Any = None, seed: Any = None) -> dict[str, Any]:
        with self._lock:
            if latency_ms is not None:
                latency_ms = float(latency_ms)
                if latency_ms < 0:
                    raise ValueError("latency_ms must be >= 0")
                self.latency_ms = latency_ms
            if throttle_fraction is not None:
                throttle_fraction = float(throttle_fraction)
                if not 0.0 <= throttle_fraction <= 1.0:
                    raise ValueError("throttle_fraction must be between 0 and 1")
                self.throttle_fraction = throttle_fraction
            if seed is not None:
                self.seed = int(seed)
            # Every (re)configuration restarts the deterministic sequence.
            self._rng = random.Random(self.seed)
            return self.config()

    def config(self) -> dict[str, Any]:
        return {"latency_ms": self.latency_ms, "throttle_fraction": self.throttle_fraction, "seed": self.seed}

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(sorted(self._requests.items())),
                "throttled": dict(sorted(self._throttled.items())),
                "cpu_ms": round(self._cpu_s * 1000.0, 1),
            }

    def reset_stats(self) -> None:
        with self._lock:
            self._requests.clear()
            self._throttled.clear()
            self._cpu_s = 0.0

    # ------------------------------------------------------------------- WSGI
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self._control(environ, start_response)

        scope = _SCOPE_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if not scope:
            return self.app(environ, start_response)
        region, service = scope.group(1), scope.group(2)
        action = self._action(environ, service) or "Unknown"
        key = f"{service}:{action}"

        with self._lock:
            latency = self.latency_ms
            throttle = self.throttle_fraction > 0 and self._rng.random() < self.throttle_fraction
            self._requests[key] += 1
            if throttle:
                self._throttled[key] += 1
        if latency:
            time.sleep(latency / 1000.0)
        cbor_op = self._cbor_operation(environ)
        if throttle:
            return self._throttle_response(environ, service, start_response, cbor=cbor_op is not None)
        started = time.thread_time()
        try:
            if cbor_op is not None:
                return list(self._cbor(self.app, environ, service, cbor_op, start_response))
            if service == "kafka":
                # moto builds its responses eagerly; materialise to count all of its work.
                return list(self.app(environ, _json_content_type(start_response)))
            return list(self.app(environ, start_response))
        finally:
            spent = time.thread_time() - started
            with self._lock:
                self._cpu_s += spent

    # ----------------------------------------------------------------- action
    @staticmethod
    def _cbor_operation(environ: dict[str, Any]) -> str | None:
        if environ.get("HTTP_SMITHY_PROTOCOL", "").lower() != "rpc-v2-cbor":
            return None
        m = _CBOR_PATH.match(environ.get("PATH_INFO", ""))
        return m.group(2) if m else None

    def _action(self, environ: dict[str, Any], service: str) -> str | None:
        cbor_op = self._cbor_operation(environ)
        if cbor_op:
            return cbor_op
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            return target.rsplit(".", 1)[-1]
        qs = parse_qs(environ.get("QUERY_STRING", ""))
        if "Action" in qs:
            return qs["Action"][0]
        method = environ.get("REQUEST_METHOD", "GET")
        ctype = environ.get("CONTENT_TYPE", "")
        if method == "POST" and ctype.startswith("application/x-www-form-urlencoded"):
            body = _buffer_body(environ)
            form = parse_qs(body.decode("utf-8", "replace"))
            if "Action" in form:
                return form["Action"][0]
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(environ.get("PATH_INFO", ""))
        raw_path = raw.split("?", 1)[0]
        if raw_path.startswith("http://") or raw_path.startswith("https://"):
            raw_path = "/" + raw_path.split("/", 3)[-1]
        return self._rest.match(service, method, raw_path)

    # --------------------------------------------------------------- throttle
    def _throttle_response(self, environ: dict[str, Any], service: str, start_response: StartResponse, cbor: bool = False) -> Iterable[bytes]:
        rid = str(uuid.uuid4())
        if cbor:
            # Smithy RPC v2 CBOR, awsQuery-compatible (CloudWatch): the SDK takes the error
            # code from x-amzn-query-error ("Throttling", as the query protocol says it).
            data = cbor_error("ThrottlingException", "Rate exceeded")
            headers = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"), ("x-amzn-query-error", "Throttling;Sender"), ("x-amzn-RequestId", rid)]
            start_response("400 Bad Request", headers + [("Content-Length", str(len(data)))])
            return [data]
        if environ.get("HTTP_X_AMZ_TARGET"):
            # awsJson1_0 / awsJson1_1 (ECS, DynamoDB, SSM, App Auto Scaling, ACM ...)
            body = json.dumps({"__type": _JSON_THROTTLE_TYPE.get(service, "ThrottlingException"), "message": "Rate exceeded"})
            ctype = "application/x-amz-json-1.0" if service in ("dynamodb", "monitoring") else "application/x-amz-json-1.1"
            status, headers = "400 Bad Request", [("Content-Type", ctype), ("x-amzn-RequestId", rid)]
        elif service == "kafka":
            # restJson1: MSK models throttling as TooManyRequestsException, HTTP 429.
            body = json.dumps({"message": "Too Many Requests"})
            status = "429 Too Many Requests"
            headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", "TooManyRequestsException"), ("x-amzn-RequestId", rid)]
        elif service == "ec2":
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code>'
                f"<Message>Request limit exceeded.</Message></Error></Errors><RequestID>{rid}</RequestID></Response>"
            )
            status, headers = "503 Service Unavailable", [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)]
        else:
            ns = ' xmlns="https://route53.amazonaws.com/doc/2013-04-01/"' if service == "route53" else ""
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse{ns}><Error><Type>Sender</Type>'
                f"<Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>"
            )
            status, headers = "400 Bad Request", [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)]
        data = body.encode()
        start_response(status, headers + [("Content-Length", str(len(data)))])
        return [data]

    # ---------------------------------------------------------------- control
    def _control(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        name = path[len(CONTROL_PREFIX):].strip("/")
        try:
            if name == "stats" and method == "GET":
                return _json(start_response, "200 OK", self.stats())
            if name == "reset-stats" and method == "POST":
                self.reset_stats()
                return _json(start_response, "200 OK", self.stats())
            if name == "config" and method == "GET":
                return _json(start_response, "200 OK", self.config())
            if name == "config" and method == "POST":
                raw = _buffer_body(environ) or b"{}"
                doc = json.loads(raw)
                if not isinstance(doc, dict):
                    raise ValueError("config must be a JSON object")
                unknown = set(doc) - {"latency_ms", "throttle_fraction", "seed"}
                if unknown:
                    raise ValueError(f"unknown config keys: {sorted(unknown)}")
                return _json(start_response, "200 OK", self.configure(**doc))
        except (ValueError, TypeError) as exc:
            return _json(start_response, "400 Bad Request", {"error": str(exc)})
        return _json(start_response, "404 Not Found", {"error": f"no control endpoint {method} {path}"})


def _buffer_body(environ: dict[str, Any]) -> bytes:
    """Read the request body once and put it back for the wrapped app."""
    if "costctl.body" in environ:
        return environ["costctl.body"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["costctl.body"] = body
    return body


def _json(start_response: StartResponse, status: str, doc: Any) -> Iterable[bytes]:
    data = json.dumps(doc).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def _json_content_type(start_response: StartResponse) -> StartResponse:
    """moto labels Kafka (REST-JSON) bodies text/html; real MSK sends application/json."""

    def wrapped(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
        fixed = [(k, "application/json") if k.lower() == "content-type" and v.startswith("text/html") else (k, v) for k, v in headers]
        return start_response(status, fixed, *exc)

    return wrapped
