"""Head analysis: what a head does, from its weights — per-head scores and tags, the model's head
profile, the weighting by value norms, q·k scores and the max-pooled thumbnails. numpy only; used by
the runtime, the export (the head profile) and the dashboard. May import service.common."""
