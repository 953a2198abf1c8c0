"""3DGS PLY codec: exact round trips, every PLY encoding, hostile headers."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import plyfile
import pytest

from editor.formats import Cancelled, FormatError, read_splats, write_splats
from editor.formats import ply
from editor.formats.registry import detect_codec
from editor.model.splat_cloud import SplatCloud
from tests.formats.synth import random_cloud



def _columns(cloud: SplatCloud) -> dict[str, np.ndarray]:
    """The cloud as PLY columns (name -> (N,) array), INRIA meaning."""
    cols = {"x": cloud.positions[:, 0], "y": cloud.positions[:, 1], "z": cloud.positions[:, 2]}
    for c in range(3):
        cols[f"f_dc_{c}"] = cloud.sh[:, 0, c]
    k1 = cloud.sh.shape[1] - 1
    for c in range(3):
        for j in range(k1):
            cols[f"f_rest_{c * k1 + j}"] = cloud.sh[:, 1 + j, c]
    cols["opacity"] = cloud.opacity_logits
    for i in range(3):
        cols[f"scale_{i}"] = cloud.log_scales[:, i]
    for i in range(4):
        cols[f"rot_{i}"] = cloud.rotations[:, i]
    cols.update(cloud.extras)
    return cols


def _plyfile_write(path, columns: dict[str, np.ndarray], *, text=False, byte_order="<", dtypes=None,
                   before=(), after=()):
    """Write a PLY with plyfile (an independent writer) from named columns."""
    dtypes = dtypes or {}
    n = len(next(iter(columns.values())))
    arr = np.empty(n, [(name, dtypes.get(name, col.dtype.str)) for name, col in columns.items()])
    for name, col in columns.items():
        arr[name] = col
    vertex = plyfile.PlyElement.describe(arr, "vertex")
    plyfile.PlyData([*before, vertex, *after], text=text, byte_order=byte_order).write(str(path))


def _camera_elements():
    cam = np.zeros(2, [("image_id", "i4"), ("fx", "f8"), ("qw", "f4")])
    cam["fx"] = (500.0, 600.0)
    lists = np.empty(3, [("vertex_indices", object), ("flag", "u1")])
    lists["vertex_indices"] = [np.array([0, 1, 2], np.int32), np.array([], np.int32), np.array([5], np.int32)]
    lists["flag"] = (1, 2, 3)
    return (plyfile.PlyElement.describe(cam, "camera"),
            plyfile.PlyElement.describe(lists, "face", val_types={"vertex_indices": "i4"}, len_types={"vertex_indices": "u1"}))


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_round_trip_is_exact_with_extras(tmp_path, degree):
    cloud = random_cloud(700, degree, seed=degree, extras=True)
    path = tmp_path / "scene.ply"
    assert write_splats(cloud, path).name == "ply"
    loaded = read_splats(path)
    assert loaded.format == "ply" and loaded.version == "binary_little_endian 1.0"
    assert loaded.cloud.sh_degree == degree
    assert loaded.cloud.equals(cloud)
    assert {k: v.dtype for k, v in loaded.cloud.extras.items()} == {k: v.dtype for k, v in cloud.extras.items()}


def test_written_header_is_inria_order_and_plyfile_agrees(tmp_path):
    cloud = random_cloud(50, 3, seed=1, extras=True)
    path = tmp_path / "a.ply"
    write_splats(cloud, path)
    head = path.read_bytes()[:4096].split(b"end_header\n")[0].decode().splitlines()
    assert head[:2] == ["ply", "format binary_little_endian 1.0"]
    assert "element vertex 50" in head
    props = [line.split()[2] for line in head if line.startswith("property")]
    expected = (["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"] + [f"f_rest_{i}" for i in range(45)]
                + ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3", "object_id", "flags"])
    assert props == expected
    assert "property float x" in head and "property int object_id" in head and "property uchar flags" in head
    v = plyfile.PlyData.read(str(path))["vertex"].data
    for name, col in _columns(cloud).items():
        np.testing.assert_array_equal(v[name], col, err_msg=name)


@pytest.mark.parametrize("text,byte_order", [(True, "="), (False, ">"), (False, "<")])
def test_reads_ascii_big_and_little_endian(tmp_path, text, byte_order):
    cloud = random_cloud(40, 2, seed=5, extras=True)
    path = tmp_path / "x.ply"
    _plyfile_write(path, _columns(cloud), text=text, byte_order=byte_order)
    loaded = read_splats(path)
    assert loaded.version.split()[0] == {"=": "ascii", ">": "binary_big_endian", "<": "binary_little_endian"}[byte_order]
    assert loaded.cloud.equals(cloud)
    assert ply.read_ply_plyfile(path).equals(cloud)


def test_shuffled_properties_and_mixed_types(tmp_path):
    cloud = random_cloud(60, 1, seed=7)
    cols = _columns(cloud)
    names = list(cols)
    np.random.default_rng(0).shuffle(names)
    cols = {n: cols[n] for n in names}
    cols["label"] = np.arange(60, dtype=np.uint16)
    dtypes = {"x": "f8", "y": "f8", "z": "f8", "opacity": "f8"}
    path = tmp_path / "shuffled.ply"
    _plyfile_write(path, cols, dtypes=dtypes)
    got = read_splats(path).cloud
    cloud.extras = {"label": np.arange(60, dtype=np.uint16)}
    assert got.equals(cloud)
    assert got.extras["label"].dtype == np.uint16
    assert ply.read_ply_plyfile(path).equals(got)


def test_integer_typed_core_properties_are_accepted(tmp_path):
    cloud = random_cloud(10, 0, seed=2)
    cols = _columns(cloud)
    cols["x"] = np.arange(10, dtype=np.uint8)
    path = tmp_path / "u8.ply"
    _plyfile_write(path, cols)
    got = read_splats(path).cloud
    np.testing.assert_array_equal(got.positions[:, 0], np.arange(10, dtype=np.float32))


@pytest.mark.parametrize("text", [False, True])
def test_elements_before_and_after_vertex_are_skipped(tmp_path, text):
    cloud = random_cloud(30, 1, seed=3, extras=True)
    cam, face = _camera_elements()
    path = tmp_path / "extra.ply"
    _plyfile_write(path, _columns(cloud), text=text, before=(cam, face), after=(cam.__class__.describe(cam.data, "extrinsics"),))
    loaded = read_splats(path)
    assert loaded.cloud.equals(cloud)
    assert loaded.details["elements"] == ["camera 2", "face 3", "vertex 30", "extrinsics 2"]


def test_trailing_bytes_and_unread_elements_after_vertex_are_fine(tmp_path):
    cloud = random_cloud(20, 0, seed=4)
    path = tmp_path / "t.ply"
    write_splats(cloud, path)
    path.write_bytes(path.read_bytes() + b"\x00garbage after the vertex data")
    assert read_splats(path).cloud.equals(cloud)


def test_quaternions_are_normalised(tmp_path):
    cloud = random_cloud(5, 0, seed=1)
    cols = _columns(cloud)
    rot = np.array([[2, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1], [0.5, 0, 0, 0], [np.nan, 0, 0, 0]], np.float32)
    for i in range(4):
        cols[f"rot_{i}"] = rot[:, i]
    path = tmp_path / "q.ply"
    _plyfile_write(path, cols)
    got = read_splats(path).cloud.rotations
    np.testing.assert_allclose(got, [[1, 0, 0, 0], [1, 0, 0, 0], [0.5, 0.5, 0.5, 0.5], [1, 0, 0, 0], [1, 0, 0, 0]],
                               atol=1e-7)


def test_donut_sample_fast_path_matches_plyfile(samples_dir):
    donut = samples_dir / "donut.ply"
    loaded = read_splats(donut)
    cloud = loaded.cloud
    assert len(cloud) == 45624 and cloud.sh_degree == 0 and not cloud.extras
    assert loaded.details["properties"][:3] == ["x", "y", "z"]
    lo, hi = cloud.bounds()
    assert np.all(lo > -1) and np.all(hi < 1) and np.all(hi - lo > 0.05)
    np.testing.assert_allclose(np.linalg.norm(cloud.rotations, axis=1), 1, atol=1e-6)
    assert ply.read_ply_plyfile(donut).equals(cloud)


def test_fast_path_matches_plyfile_sh3_with_threads(tmp_path, monkeypatch):
    cloud = random_cloud(5000, 3, seed=11, extras=True)
    cloud.rotations *= 3.0  # stored unnormalised, as trainers do
    path = tmp_path / "big.ply"
    write_splats(cloud, path)
    reference = ply.read_ply_plyfile(path)
    monkeypatch.setattr(ply, "TASK_ROWS", 700)  # force the multi-threaded path on a small file
    monkeypatch.setattr(ply, "BLOCK_ROWS", 128)
    fast = read_splats(path).cloud
    assert fast.equals(reference)
    np.testing.assert_allclose(fast.rotations * 3.0, cloud.rotations, atol=1e-5)


def test_progress_and_cancel(tmp_path, monkeypatch):
    cloud = random_cloud(3000, 1, seed=1)
    path = tmp_path / "p.ply"
    seen = []
    write_splats(cloud, path, progress=seen.append)
    assert seen and seen[-1] == 1.0
    monkeypatch.setattr(ply, "TASK_ROWS", 500)
    monkeypatch.setattr(ply, "BLOCK_ROWS", 100)
    seen = []
    read_splats(path, progress=seen.append)
    assert seen[-1] == 1.0 and seen == sorted(seen)

    def cancel(fraction):
        if fraction > 0.3:
            raise Cancelled()

    with pytest.raises(Cancelled):
        read_splats(path, progress=cancel)


def test_vertex_with_list_property_uses_plyfile_fallback(tmp_path):
    cloud = random_cloud(6, 0, seed=9)
    cols = _columns(cloud)
    n = len(cloud)
    arr = np.empty(n, [(k, "f4") for k in cols] + [("neighbours", object)])
    for k, v in cols.items():
        arr[k] = v
    arr["neighbours"] = [np.arange(i, dtype=np.int32) for i in range(n)]
    path = tmp_path / "lists.ply"
    plyfile.PlyData([plyfile.PlyElement.describe(arr, "vertex", val_types={"neighbours": "i4"})]).write(str(path))
    assert read_splats(path).cloud.equals(cloud)


# ------------------------------------------------------------ hostile files
def _header_file(tmp_path, header: str, body: bytes = b"") -> Path:
    path = tmp_path / "h.ply"
    path.write_bytes(header.encode("latin-1") + body)
    return path


def _splat_header(n=1, extra_props="", fmt="binary_little_endian 1.0", drop=()):
    props = [p for p in ply._REQUIRED if p not in drop]
    lines = ["ply", f"format {fmt}", f"element vertex {n}"] + [f"property float {p}" for p in props]
    return "\n".join(lines) + extra_props + "\nend_header\n"


def _error(path) -> str:
    with pytest.raises(FormatError) as info:
        read_splats(path)
    return str(info.value)


def test_truncated_vertex_data(tmp_path):
    cloud = random_cloud(100, 1, seed=1)
    path = tmp_path / "t.ply"
    write_splats(cloud, path)
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    msg = _error(path)
    assert "truncated" in msg and "100 splats" in msg


def test_count_times_stride_mismatch(tmp_path):
    path = _header_file(tmp_path, _splat_header(n=5), b"\0" * (14 * 4 * 4))
    assert "truncated" in _error(path)
    path = _header_file(tmp_path, _splat_header(n=4), b"\0" * (14 * 4 * 4))
    assert len(read_splats(path).cloud) == 4


def test_missing_properties_are_named(tmp_path):
    assert "missing property scale_1" in _error(_header_file(tmp_path, _splat_header(drop=("scale_1",)), b"\0" * 52))
    msg = _error(_header_file(tmp_path, _splat_header(drop=("rot_3", "opacity")), b"\0" * 48))
    assert "opacity" in msg and "rot_3" in msg


def test_point_cloud_is_not_a_splat_file(tmp_path):
    header = "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\n" \
             "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n"
    assert "point cloud" in _error(_header_file(tmp_path, header, b"0 0 0 255 0 0\n"))


@pytest.mark.parametrize("header,fragment", [
    ("plx\nformat binary_little_endian 1.0\nend_header\n", "not a PLY file"),
    ("ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty float x\n", "end_header"),
    ("ply\nformat binary_middle_endian 1.0\nend_header\n", "unknown format"),
    ("ply\nelement vertex 1\nend_header\n", "before the 'format'"),
    ("ply\nformat ascii 1.0\nelement vertex 1\nproperty half x\nend_header\n", "unknown property type"),
    ("ply\nformat ascii 1.0\nelement vertex -1\nend_header\n", "element NAME COUNT"),
    ("ply\nformat ascii 1.0\nelement vertex 10000000000\nend_header\n", "more than"),
    ("ply\nformat ascii 1.0\nproperty float x\nend_header\n", "before any 'element'"),
    ("ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float x\nend_header\n", "twice"),
    ("ply\nformat ascii 1.0\nelement vertex 1\nbogus line\nend_header\n", "unexpected"),
    ("ply\nformat ascii 1.0\nelement face 1\nproperty list float int idx\nend_header\n", "integer type"),
    ("ply\nformat ascii 1.0\nelement camera 1\nproperty float fx\nend_header\n1\n", "no vertex element"),
    ("ply\nformat ascii 1.0\ncomment caf\xe9\nend_header\n", "non-ASCII"),
])
def test_bad_headers(tmp_path, header, fragment):
    assert fragment in _error(_header_file(tmp_path, header))


def test_header_longer_than_limit(tmp_path):
    header = "ply\nformat binary_little_endian 1.0\n" + "comment " + "x" * (70 * 1024) + "\nend_header\n"
    assert "64 KiB" in _error(_header_file(tmp_path, header))


def test_crlf_header_is_accepted(tmp_path):
    cloud = random_cloud(3, 0, seed=0)
    path = tmp_path / "crlf.ply"
    write_splats(cloud, path)
    head, body = path.read_bytes().split(b"end_header\n", 1)
    path.write_bytes(head.replace(b"\n", b"\r\n") + b"end_header\r\n" + body)
    assert read_splats(path).cloud.equals(cloud)


def test_bad_f_rest_count(tmp_path):
    extra = "".join(f"\nproperty float f_rest_{i}" for i in range(4))
    assert "f_rest" in _error(_header_file(tmp_path, _splat_header(extra_props=extra), b"\0" * 72))


def test_ascii_guards(tmp_path):
    header = _splat_header(n=2, fmt="ascii 1.0")
    row = " ".join(["1"] * 14)
    assert "ASCII" in _error(_header_file(tmp_path, header, (row + "\n" + row + " 5\n").encode()))
    assert "ASCII" in _error(_header_file(tmp_path, header, (row + "\nabc " + row[2:] + "\n").encode()))
    assert "truncated" in _error(_header_file(tmp_path, _splat_header(n=9, fmt="ascii 1.0"), (row + "\n").encode()))
    path = _header_file(tmp_path, header, (row + "\n" + row + "\n").encode())
    assert len(read_splats(path).cloud) == 2
    ints = _splat_header(n=1, fmt="ascii 1.0", extra_props="\nproperty uchar flag")
    assert "out of range" in _error(_header_file(tmp_path, ints, (row + " 300\n").encode()))


def test_binary_list_element_before_vertex_truncated(tmp_path):
    header = "ply\nformat binary_little_endian 1.0\nelement face 2\nproperty list uchar int idx\n" \
             + _splat_header(n=0).split("\n", 2)[2]
    path = _header_file(tmp_path, header, bytes([200]) + b"\0" * 8)
    assert "truncated" in _error(path)


def test_empty_vertex_element(tmp_path):
    path = _header_file(tmp_path, _splat_header(n=0))
    cloud = read_splats(path).cloud
    assert len(cloud) == 0
    out = tmp_path / "empty.ply"
    write_splats(cloud, out)
    assert len(read_splats(out).cloud) == 0


def test_write_rejects_bad_extras(tmp_path):
    cloud = random_cloud(3, 0, seed=0)
    cloud.extras = {"bad name": np.zeros(3, np.float32)}
    with pytest.raises(FormatError, match="not a valid PLY property name"):
        write_splats(cloud, tmp_path / "x.ply")
    cloud.extras = {"f_rest_0": np.zeros(3, np.float32)}
    with pytest.raises(FormatError, match="clashes"):
        write_splats(cloud, tmp_path / "x.ply")
    assert not list(tmp_path.iterdir())  # no partial output left behind


def test_write_converts_unusual_extra_dtypes(tmp_path):
    cloud = random_cloud(3, 0, seed=0)
    cloud.extras = {"sel": np.array([True, False, True]), "big": np.array([1, 2, 3], np.int64),
                    "huge": np.array([0, 2**40, 1], np.int64), "half": np.array([0.5, 1, 2], np.float16)}
    path = tmp_path / "x.ply"
    write_splats(cloud, path)
    got = read_splats(path).cloud.extras
    assert got["sel"].dtype == np.uint8 and got["big"].dtype == np.int32
    assert got["huge"].dtype == np.float64 and got["huge"][1] == 2**40 and got["half"].dtype == np.float32


def test_sniff():
    assert ply.sniff(b"ply\nformat binary_little_endian 1.0\n", Path("a.bin"))
    assert ply.sniff(b"ply\r\nformat ascii 1.0\r\n", Path("a.bin"))
    assert not ply.sniff(b"ply\nformat binary_little_endian 1.0\nelement chunk 1\n"
                         b"property float min_x\nelement vertex 1\nproperty uint packed_position\n", Path("a.ply"))
    assert not ply.sniff(b"NGSP", Path("a.ply"))


def test_compressed_ply_named_ply_is_read_as_compressed(tmp_path, samples_dir):
    src = samples_dir / "guitar.compressed.ply"
    path = tmp_path / "guitar.ply"
    path.write_bytes(src.read_bytes())
    assert detect_codec(path).name == "compressed-ply"
    assert ply.read(path).format == "compressed-ply"  # even when the ply codec is called directly


def test_odd_numbers_in_header(tmp_path):
    assert "more than" in _error(_header_file(tmp_path, _splat_header(n=1).replace("vertex 1", "vertex " + "9" * 5000)))
    # a non-canonical f_rest name is an extra attribute, not an SH coefficient
    path = _header_file(tmp_path, _splat_header(n=1, extra_props="\nproperty float f_rest_00"), b"\0" * 60)
    assert list(read_splats(path).cloud.extras) == ["f_rest_00"]
