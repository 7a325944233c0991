"""The running service still answers with the new artifacts (extra graph outputs are ignored):
it asks onnxruntime for `attentions.{i}` by name and returns exactly those."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from tokenizers import Tokenizer

from headgaze.service.common.encoding import decode
from headgaze.service.runtime.batching import pad_batch
from tests.conftest import DEFAULT_MODEL_IDS, read_manifest
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
    assert manifest["qk"] is True and len(manifest["outputs"]) == 4 * manifest["layers"]
    text = "fluffy blue monster"
    response = server.post({"text": text, "model": model_id, "format": "json"})
    assert response.status_code == 200, response.text
    body = response.json()
    got = decode(body["attentions"])
    folder = models_dir / model_id
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    ids = Tokenizer.from_file(str(folder / "tokenizer.json")).encode(text).ids
    names = [f"attentions.{i}" for i in range(manifest["layers"])]
    want = np.stack([a[0] for a in session.run(names, pad_batch([ids], [i.name for i in session.get_inputs()]))])
    assert got.shape == want.shape == (manifest["layers"], manifest["heads"], len(ids), len(ids))
    np.testing.assert_allclose(got, want, atol=1e-6)
