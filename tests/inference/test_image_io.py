"""`inference.image_io.load_photo`: every kind of photo is handled or refused
with a one-line `PhotoError`."""
import numpy as np
import pytest
from PIL import Image

from inference.image_io import PhotoError, load_photo


def _gradient(w=64, h=48) -> np.ndarray:
    """uint8 RGB (h, w, 3): red grows along x, green along y."""
    x = np.linspace(0, 255, w)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h)[:, None].repeat(w, 1)
    return np.stack([x, y, np.full_like(x, 40)], -1).astype(np.uint8)


def test_rgb_png_round_trip(tmp_path):
    a = _gradient()
    Image.fromarray(a).save(tmp_path / "a.png")
    rgb, mask = load_photo(tmp_path / "a.png")
    assert rgb.dtype == np.float32 and rgb.shape == (48, 64, 3) and mask is None
    np.testing.assert_allclose(rgb, a / 255.0, atol=1e-6)


def test_exif_rotated_jpeg_is_turned_upright(tmp_path):
    a = _gradient(64, 48)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the stored image must be turned 90 degrees clockwise
    Image.fromarray(a).save(tmp_path / "r.jpg", exif=exif, quality=95)
    rgb, _ = load_photo(tmp_path / "r.jpg")
    assert rgb.shape == (64, 48, 3)
    # Clockwise turn: the stored left column (red 0) is now the top row.
    expected = np.rot90(a, k=-1) / 255.0
    assert np.abs(rgb - expected).mean() < 0.02


def test_16_bit_png(tmp_path):
    v = (np.linspace(0, 65535, 64 * 48).reshape(48, 64)).astype(np.uint16)
    Image.fromarray(v).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    rgb, mask = load_photo(tmp_path / "g16.png")
    assert rgb.shape == (48, 64, 3) and mask is None
    np.testing.assert_allclose(rgb[..., 0], v / 65535.0, atol=1e-4)
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])


def test_grayscale_and_palette(tmp_path):
    a = _gradient()
    Image.fromarray(a).convert("L").save(tmp_path / "l.png")
    rgb, _ = load_photo(tmp_path / "l.png")
    assert rgb.shape == (48, 64, 3)
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 1])
    Image.fromarray(a).convert("P", palette=Image.Palette.ADAPTIVE, colors=32).save(tmp_path / "p.png")
    rgb, mask = load_photo(tmp_path / "p.png")
    assert rgb.shape == (48, 64, 3) and mask is None
    assert np.abs(rgb - a / 255.0).mean() < 0.05


def test_rgba_gives_a_mask(tmp_path):
    a = np.zeros((48, 64, 4), np.uint8)
    a[..., :3] = _gradient()
    a[:, 32:, 3] = 255
    Image.fromarray(a, "RGBA").save(tmp_path / "a.png")
    rgb, mask = load_photo(tmp_path / "a.png")
    assert mask is not None and mask.shape == (48, 64)
    assert mask[:, :32].max() == 0.0 and mask[:, 32:].min() == 1.0
    # Opaque RGBA: no mask.
    a[..., 3] = 255
    Image.fromarray(a, "RGBA").save(tmp_path / "b.png")
    assert load_photo(tmp_path / "b.png")[1] is None


def test_huge_image_is_downscaled(tmp_path):
    a = np.tile(_gradient(64, 48), (40, 40, 1))  # 2560 x 1920
    Image.fromarray(a).save(tmp_path / "big.jpg", quality=90)
    rgb, _ = load_photo(tmp_path / "big.jpg", max_side=256)
    assert rgb.shape == (192, 256, 3)
    Image.fromarray(a).save(tmp_path / "big.png")
    rgb, _ = load_photo(tmp_path / "big.png", max_side=100)
    assert max(rgb.shape[:2]) == 100 and rgb.shape[0] == 75


def test_pixel_bomb_is_refused(tmp_path, monkeypatch):
    import inference.image_io as io

    Image.fromarray(_gradient()).save(tmp_path / "a.png")
    monkeypatch.setattr(io, "MAX_PIXELS", 1000)
    with pytest.raises(PhotoError, match="more than"):
        load_photo(tmp_path / "a.png")


@pytest.mark.parametrize(
    "name, data, match",
    [
        ("empty.png", b"", "empty"),
        ("notes.png", b"this is not an image\n" * 20, "not an image"),
        ("zero.png", None, "image"),
    ],
)
def test_bad_files(tmp_path, name, data, match):
    path = tmp_path / name
    if data is None:
        # A PNG whose header claims 0 x 0 pixels (Pillow cannot write one).
        good = tmp_path / "g.png"
        Image.fromarray(_gradient()).save(good)
        raw = bytearray(good.read_bytes())
        raw[16:24] = b"\0" * 8  # IHDR width and height
        path.write_bytes(bytes(raw))
    else:
        path.write_bytes(data)
    with pytest.raises(PhotoError, match=match) as e:
        load_photo(path)
    assert "\n" not in str(e.value)


def test_truncated_files(tmp_path):
    for ext in ("png", "jpg"):
        good = tmp_path / f"g.{ext}"
        Image.fromarray(_gradient()).save(good)
        raw = good.read_bytes()
        bad = tmp_path / f"t.{ext}"
        bad.write_bytes(raw[: len(raw) // 2])
        with pytest.raises(PhotoError) as e:
            load_photo(bad)
        assert "\n" not in str(e.value)


def test_missing_and_folder(tmp_path):
    with pytest.raises(PhotoError, match="no such file"):
        load_photo(tmp_path / "nope.png")
    with pytest.raises(PhotoError, match="folder"):
        load_photo(tmp_path)


def test_all_mutations_give_photo_error_or_an_image(tmp_path):
    """Byte flips and truncations of a small PNG and JPEG: an image or PhotoError."""
    rng = np.random.default_rng(0)
    for ext in ("png", "jpg"):
        good = tmp_path / f"g.{ext}"
        Image.fromarray(_gradient(16, 12)).save(good)
        raw = good.read_bytes()
        for i in range(60):
            b = bytearray(raw)
            if i % 3 == 0:
                b = b[: rng.integers(1, len(b))]
            else:
                for _ in range(rng.integers(1, 6)):
                    b[rng.integers(0, len(b))] = rng.integers(0, 256)
            p = tmp_path / f"m{i}.{ext}"
            p.write_bytes(bytes(b))
            try:
                rgb, mask = load_photo(p)
            except PhotoError as e:
                assert "\n" not in str(e)
            else:
                assert rgb.ndim == 3 and rgb.shape[2] == 3 and np.isfinite(rgb).all()
