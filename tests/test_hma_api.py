"""The HMA-compatible API (warden/serve/hma_api.py) driven as a Hasher-Matcher-Actioner 2.0 client
drives HMA, against a real uvicorn server: signal type and content type names, hashes and their
comparison from python-threatexchange (it has no HMA client class: requests go out with httpx on
HMA's paths), banks created and listed, content banked by signal and by upload, lookups by hash and
by upload in HMA's shapes, and the 4xx an HMA client gets for an unknown type, bank or bad value."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from media_samples import background, encode, text_image, video
from PIL import Image, ImageDraw
from support import REPO, serve_app

from warden.serve import create_app
from warden.settings import BankSettings, Limits, Settings

te = pytest.importorskip("threatexchange", reason="python-threatexchange is a dev dependency (make setup)")
from threatexchange.content_type.photo import PhotoContent  # noqa: E402
from threatexchange.content_type.video import VideoContent  # noqa: E402
from threatexchange.signal_type.md5 import VideoMD5Signal  # noqa: E402
from threatexchange.signal_type.pdq.signal import PdqSignal  # noqa: E402

PDQ = PdqSignal.get_name()
VIDEO_MD5 = VideoMD5Signal.get_name()
PHOTO = PhotoContent.get_name()
VIDEO = VideoContent.get_name()


@dataclass
class HmaServer:
    url: str
    admin: str
    client_key: str
    app: Any

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key or self.admin}"}, timeout=120
        )


@pytest.fixture(scope="module")
def hma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HmaServer]:
    db_dir = tmp_path_factory.mktemp("warden-hma")
    settings = Settings(
        database_url=f"sqlite:///{db_dir / 'warden.db'}",
        banks=BankSettings(refresh_interval_s=0.2),
        limits=Limits(max_request_bytes=8 * 1024 * 1024),
    )
    app = create_app(settings)
    with serve_app(app) as url:
        admin = (db_dir / "bootstrap-admin.key").read_text().strip()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}) as c:
            r = c.post("/v1/admin/api-keys", json={"name": "hma-client", "role": "client"})
            assert r.status_code == 201, r.text
            yield HmaServer(url, admin, r.json()["key"], app)


def _photo(seed: int) -> bytes:
    """A photo-like image with structure (PDQ quality 100), a different one for each seed."""
    rng = random.Random(seed)
    image = Image.new("RGB", (640, 360), "white")
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y, r = rng.randrange(600), rng.randrange(320), rng.randrange(20, 90)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(rng.randrange(256), rng.randrange(256), 99))
    return encode(image, "PNG")


def _flip(pdq: str, bits: int) -> str:
    """The PDQ hash with its lowest `bits` bits flipped: a near-duplicate at distance `bits`."""
    return f"{int(pdq, 16) ^ ((1 << bits) - 1):064x}"


def _message(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    message: str = r.json()["message"]  # HMA's error shape
    return message


def test_signal_and_content_types_carry_threatexchange_names(hma: HmaServer) -> None:
    with hma.client(hma.client_key) as c:
        names = [t["name"] for t in c.get("/c/signal_type").json()]
        assert {PDQ, VIDEO_MD5, "vpdq", "video_tmk_pdqf", "raw_text"} <= set(names)
        assert all(t["enabled_ratio"] == 1.0 for t in c.get("/c/signal_type").json())
        assert c.get("/c/content_type").json() == [
            {"name": PHOTO, "enabled": True},
            {"name": VIDEO, "enabled": True},
        ]
        status = c.get("/m/index/status", params={"signal_type": PDQ}).json()
        assert list(status) == [PDQ] and status[PDQ]["present"] is True


def test_hma_client_session(hma: HmaServer) -> None:
    """Create a bank, bank a photo's PDQ (hashed by python-threatexchange) and another photo by
    upload, then find both by raw_lookup, lookup and upload lookup."""
    photo, other_photo = _photo(1), _photo(2)
    pdq = PdqSignal.hash_from_bytes(photo)
    with hma.client() as c:
        r = c.post("/c/banks", json={"name": "HMA_SESSION", "category": "sexual"})
        assert r.status_code == 201, r.text
        assert r.json() == {"name": "HMA_SESSION", "matching_enabled_ratio": 1.0}
        assert "already exists" in _message(c.post("/c/banks", json={"name": "HMA_SESSION"}), 403)
        assert {"name": "HMA_SESSION", "matching_enabled_ratio": 1.0} in c.get("/c/banks").json()
        assert c.get("/c/bank/HMA_SESSION").json()["name"] == "HMA_SESSION"
        # Warden's side of the same bank: the lower-case name, the category given.
        warden_bank = c.get("/v1/banks/hma_session").json()
        assert warden_bank["category"] == "sexual" and warden_bank["action"] == "remove"

        # By signal: HMA's {signal_type: value} body, answered with the content id and signals.
        r = c.post("/c/bank/HMA_SESSION/signal", json={PDQ: pdq})
        assert r.status_code == 200, r.text
        by_signal = r.json()
        assert by_signal["signals"] == {PDQ: pdq} and isinstance(by_signal["id"], int)
        # The same signal again keeps its entry: the same id comes back.
        assert c.post("/c/bank/HMA_SESSION/signal", json={PDQ: pdq.upper()}).json()["id"] == by_signal["id"]

        # By upload: the file's field name is its content type; every signal type is computed.
        r = c.post("/c/bank/HMA_SESSION/content", files={PHOTO: ("other.png", other_photo, "image/png")})
        assert r.status_code == 200, r.text
        by_upload = r.json()
        assert {PDQ, VIDEO_MD5} <= set(by_upload["signals"])
        assert by_upload["id"] in by_upload["entry_ids"].values()
        assert PdqSignal.validate_signal_str(by_upload["signals"][PDQ]) == by_upload["signals"][PDQ]
        assert by_upload["signals"][VIDEO_MD5] == VideoMD5Signal.hash_from_bytes(other_photo)
        te_pdq = PdqSignal.hash_from_bytes(other_photo)
        assert PdqSignal.compare_hash(te_pdq, by_upload["signals"][PDQ]).match

    with hma.client(hma.client_key) as c:
        # raw_lookup: content ids, or with distances; a near-duplicate hash matches at its distance.
        params = {"signal": pdq, "signal_type": PDQ}
        assert c.get("/m/raw_lookup", params=params).json() == {"matches": [by_signal["id"]]}
        near = {"signal": _flip(pdq, 5), "signal_type": PDQ, "include_distance": "true"}
        assert c.get("/m/raw_lookup", params=near).json() == {
            "matches": [{"bank_content_id": by_signal["id"], "distance": "5"}]
        }
        assert c.get("/m/raw_lookup", params={**params, "banks": "OTHER_BANK"}).json() == {"matches": []}
        far = {"signal": _flip(pdq, 40), "signal_type": PDQ}
        assert c.get("/m/raw_lookup", params=far).json() == {"matches": []}

        # lookup by signal: matches by bank (the outer signal type level elided, as in HMA).
        assert c.get("/m/lookup", params=params).json() == {
            "HMA_SESSION": [{"bank_content_id": by_signal["id"], "distance": "0"}]
        }
        md5 = {"signal": VideoMD5Signal.hash_from_bytes(other_photo), "signal_type": VIDEO_MD5}
        assert c.get("/m/lookup", params=md5).json() == {
            "HMA_SESSION": [{"bank_content_id": by_upload["entry_ids"][VIDEO_MD5], "distance": "0"}]
        }

        # lookup by upload: by signal type, by bank.
        r = c.post("/m/lookup", files={PHOTO: ("photo.png", photo, "image/png")})
        assert r.status_code == 200, r.text
        found = r.json()
        # Warden's PDQ (the reference CLI's pre-shrink) is a few bits from python-threatexchange's.
        [hit] = found[PDQ]["HMA_SESSION"]
        assert hit["bank_content_id"] == by_signal["id"] and 0 <= int(hit["distance"]) <= 31
        assert found[VIDEO_MD5] == {}  # only the hash of this photo was banked
        r = c.post("/m/lookup", files={PHOTO: ("o.png", other_photo, "image/png")}, params={"types": PDQ})
        assert r.json() == {
            PDQ: {"HMA_SESSION": [{"bank_content_id": by_upload["entry_ids"][PDQ], "distance": "0"}]}
        }
        unrelated = encode(text_image("Have a lovely day at the beach", seed=3), "JPEG")
        r = c.post("/m/lookup", files={PHOTO: ("u.jpg", unrelated, "image/jpeg")}, params={"types": PDQ})
        assert r.json() == {PDQ: {}}

        # Hashing: python-threatexchange's own hashes of the file.
        r = c.post("/h/hash", files={PHOTO: ("photo.png", photo, "image/png")})
        hashes = r.json()
        assert PdqSignal.compare_hash(pdq, hashes[PDQ]).match
        assert hashes[VIDEO_MD5] == VideoMD5Signal.hash_from_bytes(photo)

    # Disabling the bank (HMA's enabled_ratio 0) stops its matches; deleting content removes it.
    with hma.client() as c:
        r = c.put("/c/bank/HMA_SESSION", json={"enabled_ratio": 0})
        assert r.json() == {"name": "HMA_SESSION", "matching_enabled_ratio": 0.0}
        assert c.get("/m/raw_lookup", params=params).json() == {"matches": []}
        c.put("/c/bank/HMA_SESSION", json={"enabled": True})
        assert c.get("/m/raw_lookup", params=params).json() == {"matches": [by_signal["id"]]}
        r = c.delete(f"/c/bank/HMA_SESSION/content/{by_signal['id']}")
        assert r.json() == {"deleted": 1}
        assert c.get("/m/raw_lookup", params=params).json() == {"matches": []}
        assert c.delete("/c/bank/HMA_SESSION/content/999999").json() == {"deleted": 0}


def test_video_banked_by_upload_is_found_by_upload(hma: HmaServer) -> None:
    clip = video([background(seed=s) for s in (4, 4, 5, 5, 6, 6)], fps=2)
    with hma.client() as c:
        assert c.post("/c/banks", json={"name": "HMA_VIDEOS", "category": "extremism"}).status_code == 201
        r = c.post(
            "/c/bank/HMA_VIDEOS/content",
            files={VIDEO: ("clip.mp4", clip, "video/mp4")},
            params={"types": VIDEO_MD5, "metadata": '{"content_id": "upload-7"}'},
        )
        assert r.status_code == 200, r.text
        added = r.json()
        assert added["signals"] == {VIDEO_MD5: VideoMD5Signal.hash_from_bytes(clip)}
        entry = c.get("/v1/banks/hma_videos/entries?signal_type=md5").json()["entries"][0]  # Warden name
        assert entry["id"] == added["id"] and entry["source"] == "hma:upload-7"
    with hma.client(hma.client_key) as c:
        r = c.post("/m/lookup", files={VIDEO: ("clip.mp4", clip, "video/mp4")}, params={"types": VIDEO_MD5})
        assert r.json() == {VIDEO_MD5: {"HMA_VIDEOS": [{"bank_content_id": added["id"], "distance": "0"}]}}


def test_errors_are_hma_shaped_4xx(hma: HmaServer) -> None:
    with hma.client(hma.client_key) as c:
        message = _message(c.get("/m/raw_lookup", params={"signal": "ab", "signal_type": "tlsh"}), 400)
        assert "No such SignalType 'tlsh'" in message and PDQ in message
        assert "invalid pdq signal" in _message(
            c.get("/m/raw_lookup", params={"signal": "not-hex", "signal_type": PDQ}), 400
        )
        assert _message(c.get("/m/raw_lookup", params={"signal_type": PDQ}), 400) == "signal is required"
        assert "Either url or both" in _message(c.get("/m/lookup", params={"signal_type": PDQ}), 400)
        assert "'photo' or 'video'" in _message(c.post("/m/lookup", files={"doc": ("a", b"x")}), 400)
        not_image = c.post("/h/hash", files={PHOTO: ("a.png", b"not an image", "image/png")})
        assert "not a decodable image" in _message(not_image, 400)
        assert "fetching is disabled" in _message(
            c.get("/h/hash", params={"url": "http://example.com/a.jpg"}), 400
        )
        # Curation needs an admin key.
        assert "needs one of: admin" in _message(c.post("/c/banks", json={"name": "NOPE"}), 403)
    with httpx.Client(base_url=hma.url) as anonymous:
        assert "missing API key" in _message(anonymous.get("/c/signal_type"), 401)
    with hma.client() as c:
        assert "not found" in _message(c.get("/c/bank/NO_SUCH_BANK"), 404)
        assert "not found" in _message(c.post("/c/bank/NO_SUCH_BANK/signal", json={PDQ: "0" * 64}), 404)
        assert _message(c.post("/c/banks", json={"name": "bad name!"}), 400)
        assert "enabled_ratio must be 0 or 1" in _message(
            c.post("/c/banks", json={"name": "HALF_ON", "enabled_ratio": 0.5}), 400
        )
        assert "is not in policy" in _message(c.post("/c/banks", json={"name": "X", "category": "nope"}), 400)
        assert c.post("/c/banks", json={"name": "HMA_ERRORS"}).status_code == 201
        assert "No such SignalType" in _message(c.post("/c/bank/HMA_ERRORS/signal", json={"tlsh": "ab"}), 400)
        assert "No signals given" in _message(c.post("/c/bank/HMA_ERRORS/signal", json={}), 400)
        assert "Neither `url` nor" in _message(c.post("/c/bank/HMA_ERRORS/content"), 400)
        assert "unexpected keys" in _message(
            c.post(
                "/c/bank/HMA_ERRORS/content",
                files={PHOTO: ("p.png", _photo(3), "image/png")},
                params={"metadata": '{"colour": "red"}'},
            ),
            400,
        )
        assert c.delete("/c/bank/HMA_ERRORS").json() == {"message": "Done"}
        assert c.delete("/c/bank/HMA_ERRORS").json() == {"message": "Done"}  # gone already: fine


def test_bank_created_without_category_gets_the_configured_default(hma: HmaServer) -> None:
    state = hma.app.state.warden
    saved = state.settings  # what WARDEN_BANKS__HMA_DEFAULT_CATEGORY / _ACTION set at startup
    defaults = {"hma_default_category": "spam_scam", "hma_default_action": "review"}
    state.settings = saved.override(banks=defaults)
    try:
        with hma.client() as c:
            assert c.post("/c/banks", json={"name": "PLAIN_HMA_BANK", "enabled": False}).status_code == 201
            bank = c.get("/v1/banks/plain_hma_bank").json()
    finally:
        state.settings = saved
        assert (bank["category"], bank["action"], bank["enabled"]) == ("spam_scam", "review", False)


def test_the_docs_example_runs(hma: HmaServer) -> None:
    """The copy-paste example under "HMA-compatible API" in docs/banks.md, run as written."""
    doc = (REPO / "docs" / "banks.md").read_text(encoding="utf-8")
    section = doc.split("## HMA-compatible API", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    example = example.replace("http://127.0.0.1:8000", hma.url).replace('"wdn_..."', repr(hma.admin))
    namespace: dict[str, object] = {}
    exec(compile(example, "docs/banks.md", "exec"), namespace)  # noqa: S102 - our own documentation
    assert namespace["matches"] and namespace["found"]


def test_image_helpers_are_distinct() -> None:
    """The session's two photos are far apart for PDQ, or the lookups above would prove nothing."""
    a, b = (PdqSignal.hash_from_bytes(_photo(s)) for s in (1, 2))
    assert not PdqSignal.compare_hash(a, b).match
    assert Image.open(io.BytesIO(_photo(1))).size == (640, 360)
