"""Prometheus metrics (own registry per app): requests by status, latency, cache hits/misses, inference time,
generated answers (requests, new tokens, cancelled streams)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self, cache_errors=lambda: 0, store_bytes=lambda: 0):
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("headgaze_http_requests", "HTTP requests by endpoint, method and status",
                                ["endpoint", "method", "status"], registry=r)
        self.latency = Histogram("headgaze_http_request_seconds", "HTTP request latency",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=r)
        self.cache_hits = Counter("headgaze_cache_hits", "Attention requests answered from cache", ["model"], registry=r)
        self.cache_misses = Counter("headgaze_cache_misses", "Attention requests that ran the model", ["model"], registry=r)
        self.model_runs = Counter("headgaze_model_runs", "Requests answered by running the model (not from the "
                                  "recent-results store or the cache); batched requests count once each",
                                  ["model"], registry=r)
        self.inference = Histogram("headgaze_inference_seconds", "onnxruntime run time per request",
                                   ["model"], buckets=LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("headgaze_batch_size", "Requests sharing one onnxruntime run (per request)",
                                    ["model"], buckets=(1, 2, 3, 4, 6, 8, 12, 16), registry=r)
        self.rejected = Counter("headgaze_queue_rejections", "Requests refused with 503 because the queue was full",
                                registry=r)
        self.in_flight = Gauge("headgaze_attention_in_flight", "Attention requests running or waiting", registry=r)
        self.generate_requests = Counter("headgaze_generate_requests", "POST /v1/generate requests that started "
                                         "an answer (streamed or not)", ["model", "stream"], registry=r)
        self.generated_tokens = Counter("headgaze_generated_tokens", "New tokens generated (replayed cached answers "
                                        "not counted)", ["model"], registry=r)
        self.generate_cancelled = Counter("headgaze_generate_cancelled", "Streamed answers stopped because the "
                                          "client went away", ["model"], registry=r)
        self.ablations = Counter("headgaze_ablations", "POST /v1/ablate answers (cached: replayed)",
                                 ["model", "cached"], registry=r)
        cache_err = Gauge("headgaze_cache_errors", "Cache backend failures since start (bypassed)", registry=r)
        cache_err.set_function(cache_errors)
        store = Gauge("headgaze_store_bytes", "Bytes of attentions held by the recent-results store", registry=r)
        store.set_function(store_bytes)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
