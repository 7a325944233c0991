"""The running service answers detail=full for the q/k artifacts, served without attentions outputs:
the weights it computes from queries and keys equal the graph's own (its attentions restored)."""

from __future__ import annotations

import numpy as np
import pytest
from tokenizers import Tokenizer

from headgaze.service.common.encoding import decode
from tests.conftest import DEFAULT_MODEL_IDS, read_manifest
from tests.service.test_qk_views import graph_attentions
from tests.support.service import ServiceProcess


@pytest.fixture(scope="module")
def server(models_dir, tmp_path_factory):
    srv = ServiceProcess.for_models(models_dir, tmp_path_factory.mktemp("qk") / "service.log")
    try:
        yield srv.start()
    finally:
        srv.stop()


@pytest.mark.parametrize("model_id", DEFAULT_MODEL_IDS)
def test_service_answers_with_the_attentions_of_the_qk_artifact(server, models_dir, model_id):
    manifest = read_manifest(models_dir, model_id)
    assert manifest["qk"] is True and len(manifest["outputs"]) == 3 * manifest["layers"]
    text = "fluffy blue monster"
    response = server.post({"text": text, "model": model_id, "format": "json"})
    assert response.status_code == 200, response.text
    body = response.json()
    got = decode(body["attentions"])
    folder = models_dir / model_id
    ids = Tokenizer.from_file(str(folder / "tokenizer.json")).encode(text).ids
    want = graph_attentions(models_dir, model_id, ids, list(range(manifest["layers"])))
    assert got.shape == want.shape == (manifest["layers"], manifest["heads"], len(ids), len(ids))
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
